//! What the admin pages' record forms carry and how each becomes a record: the reference
//! records the pages add and edit ([`Kind`]), and the school, post and checkpoint forms, each a
//! [`RecordForm`] served by the generic handlers of [`super::admin_pages`].

use rounds_domain::model::{Checkpoint, Post, ReferenceData, Schedule, School};
use serde::Deserialize;
use uuid::Uuid;

use super::admin_views::{checkpoint_fields, post_fields, school_fields};
use super::params::form_id;
use super::{ConsoleError, ConsoleResult};
use crate::admin;
use crate::storage::Storage;

/// The reference records the admin pages add and edit.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A school.
    School,
    /// A post of a school.
    Post,
    /// A checkpoint of a post.
    Checkpoint,
}

impl Kind {
    /// The record's name in words ("school").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::School => "school",
            Kind::Post => "post",
            Kind::Checkpoint => "checkpoint",
        }
    }

    /// The section of the admin page, and the path segment of the record's page.
    pub fn section(self) -> &'static str {
        match self {
            Kind::School => "schools",
            Kind::Post => "posts",
            Kind::Checkpoint => "checkpoints",
        }
    }

    /// Whether record `id` of this kind is in `r`.
    pub fn exists(self, r: &ReferenceData, id: Uuid) -> bool {
        match self {
            Kind::School => r.schools.iter().any(|s| s.id == id),
            Kind::Post => r.posts.iter().any(|p| p.id == id),
            Kind::Checkpoint => r.checkpoints.iter().any(|c| c.id == id),
        }
    }

    /// The edit page's heading and prefilled fields for record `id`, if it exists.
    pub fn edit_form(self, r: &ReferenceData, id: Uuid) -> Option<(String, String)> {
        match self {
            Kind::School => {
                let s = r.schools.iter().find(|s| s.id == id)?;
                Some((s.name.clone(), school_fields(Some(s))))
            }
            Kind::Post => {
                let p = r.posts.iter().find(|p| p.id == id)?;
                Some((p.name.clone(), post_fields(r, Some(p))))
            }
            Kind::Checkpoint => {
                let c = r.checkpoints.iter().find(|c| c.id == id)?;
                Some((c.name.clone(), checkpoint_fields(r, Some(c))))
            }
        }
    }
}

/// A form that adds or changes one kind of reference record (a school, a post, a
/// checkpoint): the generic [`add`], [`record_page`] and [`edit`] handlers serve all three.
pub trait RecordForm: serde::de::DeserializeOwned + Send + 'static {
    /// Which kind of record.
    const KIND: Kind;
    /// Turns the form into record `id` (400 on a bad value) and stores it through
    /// [`crate::admin`], whose validation is the admin API's, as `actor`'s change.
    fn put(self, st: &dyn Storage, actor: admin::Actor, id: Uuid) -> ConsoleResult<()>;
}

/// School form. Every field defaults to empty, so a missing one is refused by the checks
/// (a missing name is a 400) rather than by the form decoder.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SchoolForm {
    name: String,
}

impl RecordForm for SchoolForm {
    const KIND: Kind = Kind::School;
    fn put(self, st: &dyn Storage, actor: admin::Actor, id: Uuid) -> ConsoleResult<()> {
        let school = School {
            id,
            name: self.name.trim().to_string(),
        };
        Ok(admin::put_school(st, actor, &school)?)
    }
}

/// Post form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PostForm {
    school_id: String,
    name: String,
    orders: String,
}

impl RecordForm for PostForm {
    const KIND: Kind = Kind::Post;
    fn put(self, st: &dyn Storage, actor: admin::Actor, id: Uuid) -> ConsoleResult<()> {
        let post = Post {
            id,
            school_id: form_id(&self.school_id, "school")?,
            name: self.name.trim().to_string(),
            orders: self.orders.replace("\r\n", "\n"),
        };
        Ok(admin::put_post(st, actor, &post)?)
    }
}

/// Checkpoint form (numbers as text, so a wrong one is a 400 page that names the field).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CheckpointForm {
    post_id: String,
    name: String,
    tag_code: String,
    position: String,
    first_due_minutes: String,
    interval_minutes: String,
    grace_minutes: String,
}

impl RecordForm for CheckpointForm {
    const KIND: Kind = Kind::Checkpoint;
    fn put(self, st: &dyn Storage, actor: admin::Actor, id: Uuid) -> ConsoleResult<()> {
        let checkpoint = Checkpoint {
            id,
            post_id: form_id(&self.post_id, "post")?,
            name: self.name.trim().to_string(),
            tag_code: self.tag_code.trim().to_string(),
            position: number(&self.position, "position")?,
            schedule: Schedule {
                first_due_minutes: number(&self.first_due_minutes, "first due")?,
                interval_minutes: number(&self.interval_minutes, "every")?,
                grace_minutes: number(&self.grace_minutes, "grace")?,
            },
        };
        Ok(admin::put_checkpoint(st, actor, &checkpoint)?)
    }
}

fn number(s: &str, field: &str) -> ConsoleResult<u32> {
    s.trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("{field}: a whole number of 0 or more")))
}

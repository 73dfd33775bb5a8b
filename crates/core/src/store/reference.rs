//! Reference data on the device: schools, posts, checkpoints, people. Sent down by the server
//! and replaced as a whole; the app only reads it.

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{Store, parse_uuid};
use crate::error::{Error, Result};
use crate::model::{Checkpoint, Person, Post, ReferenceData, Role, Schedule, School};

impl Store {
    /// Replaces all reference data in one transaction (after validating it).
    pub fn replace_reference_data(&mut self, data: &ReferenceData) -> Result<()> {
        data.validate()?;
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM ref_schools; DELETE FROM ref_posts; DELETE FROM ref_checkpoints;
             DELETE FROM ref_people; DELETE FROM ref_person_schools;",
        )?;
        for s in &data.schools {
            tx.execute(
                "INSERT INTO ref_schools (id, name) VALUES (?1, ?2)",
                params![s.id.to_string(), s.name],
            )?;
        }
        for p in &data.posts {
            tx.execute(
                "INSERT INTO ref_posts (id, school_id, name, orders) VALUES (?1, ?2, ?3, ?4)",
                params![p.id.to_string(), p.school_id.to_string(), p.name, p.orders],
            )?;
        }
        for c in &data.checkpoints {
            tx.execute(
                "INSERT INTO ref_checkpoints (id, post_id, name, tag_code, position,
                    first_due_minutes, interval_minutes, grace_minutes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    c.id.to_string(),
                    c.post_id.to_string(),
                    c.name,
                    c.tag_code,
                    c.position,
                    c.schedule.first_due_minutes,
                    c.schedule.interval_minutes,
                    c.schedule.grace_minutes
                ],
            )?;
        }
        for p in &data.people {
            tx.execute(
                "INSERT INTO ref_people (id, name, role) VALUES (?1, ?2, ?3)",
                params![p.id.to_string(), p.name, p.role.code()],
            )?;
            for s in &p.schools {
                tx.execute(
                    "INSERT OR IGNORE INTO ref_person_schools (person_id, school_id) VALUES (?1, ?2)",
                    params![p.id.to_string(), s.to_string()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// All reference data held on the device.
    pub fn reference_data(&self) -> Result<ReferenceData> {
        let schools = self
            .conn
            .prepare("SELECT id, name FROM ref_schools ORDER BY name")?
            .query_map([], |r| {
                Ok(School {
                    id: parse_uuid(&r.get::<_, String>(0)?)?,
                    name: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let posts = self
            .conn
            .prepare("SELECT id, school_id, name, orders FROM ref_posts ORDER BY name")?
            .query_map([], |r| {
                Ok(Post {
                    id: parse_uuid(&r.get::<_, String>(0)?)?,
                    school_id: parse_uuid(&r.get::<_, String>(1)?)?,
                    name: r.get(2)?,
                    orders: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut checkpoints = Vec::new();
        for p in &posts {
            checkpoints.extend(checkpoints_of(&self.conn, p.id)?);
        }
        let mut people = self
            .conn
            .prepare("SELECT id, name, role FROM ref_people ORDER BY name")?
            .query_map([], |r| {
                Ok((
                    parse_uuid(&r.get::<_, String>(0)?)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|(id, name, role)| {
                Ok(Person {
                    id,
                    name,
                    role: Role::parse(&role, "role")?,
                    schools: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        for p in &mut people {
            p.schools = schools_of(&self.conn, p.id)?;
        }
        Ok(ReferenceData {
            schools,
            posts,
            checkpoints,
            people,
        })
    }

    /// A post.
    pub fn post(&self, id: Uuid) -> Result<Post> {
        post(&self.conn, id)?.ok_or_else(|| Error::not_found("post", id))
    }

    /// A post's checkpoints in round order.
    pub fn checkpoints(&self, post_id: Uuid) -> Result<Vec<Checkpoint>> {
        checkpoints_of(&self.conn, post_id)
    }

    /// The checkpoint of a post with this tag code (what a scan reads, or what was typed):
    /// matched whatever its case and separators ([`crate::model::tag_key`]). Should two tags
    /// of the post read alike once cleaned (`A-1` and `A1`), the exact spelling decides, and
    /// without it the code names neither.
    pub fn checkpoint_by_tag(&self, post_id: Uuid, tag_code: &str) -> Result<Checkpoint> {
        let mut hits: Vec<Checkpoint> = checkpoints_of(&self.conn, post_id)?
            .into_iter()
            .filter(|c| c.matches_tag(tag_code))
            .collect();
        if hits.len() > 1 {
            hits.retain(|c| c.tag_code == tag_code.trim());
        }
        match hits.len() {
            1 => Ok(hits.remove(0)),
            _ => Err(Error::not_found("checkpoint with tag", tag_code)),
        }
    }
}

pub(super) fn post(conn: &Connection, id: Uuid) -> Result<Option<Post>> {
    Ok(conn
        .prepare_cached("SELECT school_id, name, orders FROM ref_posts WHERE id = ?1")?
        .query_row(params![id.to_string()], |r| {
            Ok(Post {
                id,
                school_id: parse_uuid(&r.get::<_, String>(0)?)?,
                name: r.get(1)?,
                orders: r.get(2)?,
            })
        })
        .optional()?)
}

pub(super) fn checkpoints_of(conn: &Connection, post_id: Uuid) -> Result<Vec<Checkpoint>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes
             FROM ref_checkpoints WHERE post_id = ?1 ORDER BY position, name",
        )?
        .query_map(params![post_id.to_string()], |r| {
            Ok(Checkpoint {
                id: parse_uuid(&r.get::<_, String>(0)?)?,
                post_id,
                name: r.get(1)?,
                tag_code: r.get(2)?,
                position: r.get(3)?,
                schedule: Schedule {
                    first_due_minutes: r.get(4)?,
                    interval_minutes: r.get(5)?,
                    grace_minutes: r.get(6)?,
                },
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A person's schools in the order the district lists them (the order they were stored in):
/// the first is the one the app starts a form with.
fn schools_of(conn: &Connection, person: Uuid) -> Result<Vec<Uuid>> {
    Ok(conn
        .prepare_cached(
            "SELECT school_id FROM ref_person_schools WHERE person_id = ?1 ORDER BY rowid",
        )?
        .query_map(params![person.to_string()], |r| {
            parse_uuid(&r.get::<_, String>(0)?)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A person's role and schools, if the device knows them.
pub(super) fn person_role(conn: &Connection, person: Uuid) -> Result<Option<(Role, Vec<Uuid>)>> {
    let role: Option<String> = conn
        .prepare_cached("SELECT role FROM ref_people WHERE id = ?1")?
        .query_row(params![person.to_string()], |r| r.get(0))
        .optional()?;
    match role {
        Some(r) => Ok(Some((Role::parse(&r, "role")?, schools_of(conn, person)?))),
        None => Ok(None),
    }
}

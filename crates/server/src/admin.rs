//! District administration: reference data, people, enrollment codes, devices. The functions
//! here work on any [`Storage`] and know nothing of HTTP: the admin API ([`crate::api::admin`]),
//! the console's admin pages and the `rounds-server admin` command line all call them.
//!
//! A write the storage refuses is answered by its cause: a constraint (an unknown school, a
//! taken username or tag) is a 400 that says which; a backend failure stays a 500.
//!
//! Every change is recorded in the audit trail (`admin_change`, after the write, naming the
//! fields set but never a password or code), with the [`Actor`] who made it.

use chrono::{DateTime, Duration, Utc};
use rounds_domain::entropy::Entropy;
use rounds_domain::limits::{NAME_CHARS, POST_ORDERS_CHARS, TAG_CODE_CHARS};
use rounds_domain::model::{Checkpoint, Post, Role, School};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{self, HashMemory};
use crate::error::{ApiError, ApiResult};
use crate::storage::{DeviceRecord, PersonRecord, Storage, StorageError};

/// A person as an admin creates or edits them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonInput {
    /// Id (made by the caller).
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Schools.
    pub schools: Vec<Uuid>,
    /// New password (required for a new person; omitted keeps the old one).
    pub password: Option<String>,
    /// Whether they may sign in (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// What revoking a device asks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Wipe {
    /// Nothing: it is refused from now on, and keeps what it holds.
    #[default]
    No,
    /// Push what waits on it, then erase itself (at its next contact).
    AfterPush,
    /// Erase itself at its next contact, without pushing: what it has not synced is lost.
    Now,
}

/// A person as listed (no credential).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonView {
    /// Id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Schools.
    pub schools: Vec<Uuid>,
    /// Active.
    pub active: bool,
}

/// A device as listed (no credential).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceView {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new enrollment code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrollmentCode {
    /// The code to type on the device (shown once).
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Who made an admin change (`by`: `None` for the server's command line) and when, for its
/// audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The admin.
    pub by: Option<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Records `actor`'s change (`change` of the `what` `id`, setting `fields`).
fn audited(
    st: &dyn Storage,
    actor: Actor,
    what: &str,
    change: &str,
    id: Option<Uuid>,
    fields: &[&str],
) -> ApiResult<()> {
    st.append_audit(&[crate::audit::NewEntry::admin_change(
        actor.at, actor.by, what, change, id, fields,
    )])?;
    Ok(())
}

fn text(field: &str, v: &str, max: usize) -> ApiResult<()> {
    rounds_domain::model::text(field, v, 1, max).map_err(ApiError::from)
}

/// A write the storage refused, by cause: a constraint is the caller's mistake, said as
/// `what`; anything else (a failing disk, a poisoned lock) is the server's.
fn refused(what: &'static str) -> impl FnOnce(StorageError) -> ApiError {
    move |e| match e {
        StorageError::Conflict(_) => ApiError::BadRequest(what.into()),
        e => e.into(),
    }
}

/// Adds or replaces a school.
pub fn put_school(st: &dyn Storage, actor: Actor, s: &School) -> ApiResult<()> {
    text("school.name", &s.name, NAME_CHARS)?;
    st.put_school(s)?;
    audited(st, actor, "school", "saved", Some(s.id), &["name"])
}

/// Adds or replaces a post.
pub fn put_post(st: &dyn Storage, actor: Actor, p: &Post) -> ApiResult<()> {
    text("post.name", &p.name, NAME_CHARS)?;
    rounds_domain::model::text("post.orders", &p.orders, 0, POST_ORDERS_CHARS)?;
    st.put_post(p)
        .map_err(refused("post.school_id: no such school"))?;
    audited(
        st,
        actor,
        "post",
        "saved",
        Some(p.id),
        &["school_id", "name", "orders"],
    )
}

/// Adds or replaces a checkpoint.
pub fn put_checkpoint(st: &dyn Storage, actor: Actor, c: &Checkpoint) -> ApiResult<()> {
    text("checkpoint.name", &c.name, NAME_CHARS)?;
    text("checkpoint.tag_code", &c.tag_code, TAG_CODE_CHARS)?;
    c.schedule.validate("checkpoint.schedule")?;
    st.put_checkpoint(c).map_err(refused(
        "checkpoint: unknown post, or tag code already used on this post",
    ))?;
    audited(
        st,
        actor,
        "checkpoint",
        "saved",
        Some(c.id),
        &["post_id", "name", "tag_code", "position", "schedule"],
    )
}

/// Adds or replaces a person (a new password is hashed in fresh memory: the command line and
/// the seed). A new password or `active: false` ends the person's sessions.
pub fn put_person(
    st: &dyn Storage,
    actor: Actor,
    p: &PersonInput,
    entropy: &mut dyn Entropy,
) -> ApiResult<()> {
    put_person_in(st, actor, p, entropy, &mut HashMemory::default())
}

/// [`put_person`], hashing a new password in `memory` (the server's handlers pass a hash
/// slot's, see [`crate::signin`]).
pub fn put_person_in(
    st: &dyn Storage,
    actor: Actor,
    p: &PersonInput,
    entropy: &mut dyn Entropy,
    memory: &mut HashMemory,
) -> ApiResult<()> {
    text("person.username", &p.username, 64)?;
    text("person.name", &p.name, NAME_CHARS)?;
    let existing = st.person(p.id)?;
    let change = if existing.is_some() {
        "edited"
    } else {
        "added"
    };
    let password_hash = match (&p.password, existing) {
        (Some(pw), _) if pw.chars().count() < 8 => {
            return Err(ApiError::BadRequest(
                "person.password: at least 8 characters".into(),
            ));
        }
        (Some(pw), _) if pw.len() > crate::MAX_CREDENTIAL_BYTES => {
            return Err(ApiError::BadRequest(format!(
                "person.password: at most {} bytes",
                crate::MAX_CREDENTIAL_BYTES
            )));
        }
        (Some(pw), _) => auth::hash_password_in(pw, entropy, memory),
        (None, Some(old)) => old.password_hash,
        (None, None) => {
            return Err(ApiError::BadRequest(
                "person.password: required for a new person".into(),
            ));
        }
    };
    st.put_person(&PersonRecord {
        id: p.id,
        username: p.username.trim().to_string(),
        name: p.name.clone(),
        role: p.role,
        schools: p.schools.clone(),
        password_hash,
        active: p.active,
    })
    .map_err(refused(
        "person: the username is taken or a school does not exist",
    ))?;
    let mut fields = vec!["username", "name", "role", "schools", "active"];
    if p.password.is_some() {
        fields.push("password");
    }
    audited(st, actor, "person", change, Some(p.id), &fields)
}

/// Issues a one-time enrollment code valid for `hours`.
pub fn issue_code(
    st: &dyn Storage,
    admin: Uuid,
    now: DateTime<Utc>,
    hours: i64,
    entropy: &mut dyn Entropy,
) -> ApiResult<EnrollmentCode> {
    if !(1..=24 * 14).contains(&hours) {
        return Err(ApiError::BadRequest(
            "valid_hours: between 1 and 336".into(),
        ));
    }
    let code = auth::new_enrollment_code(entropy);
    let expires_at = now + Duration::hours(hours);
    st.add_enrollment_code(
        &auth::token_hash(&auth::normalize_code(&code)),
        admin,
        now,
        expires_at,
    )?;
    audited(
        st,
        Actor {
            by: Some(admin),
            at: now,
        },
        "enrollment_code",
        "issued",
        None,
        &["expires_at"],
    )?;
    Ok(EnrollmentCode { code, expires_at })
}

/// Revokes a device: its next request is refused, whatever it carries. `by`: the admin who
/// did (`None` from the command line), for the audit trail.
pub fn revoke(st: &dyn Storage, id: Uuid, by: Option<Uuid>, now: DateTime<Utc>) -> ApiResult<()> {
    revoke_with(st, id, by, now, Wipe::No)
}

/// [`revoke`], asking the device to erase itself as `wipe` says (docs/audit.md, "Remote
/// wipe").
pub fn revoke_with(
    st: &dyn Storage,
    id: Uuid,
    by: Option<Uuid>,
    now: DateTime<Utc>,
    wipe: Wipe,
) -> ApiResult<()> {
    let after_push = match wipe {
        Wipe::No => return revoke_only(st, id, by, now),
        Wipe::AfterPush => true,
        Wipe::Now => false,
    };
    if st.request_wipe(id, after_push, now)? {
        st.append_audit(&[crate::audit::NewEntry::wipe_requested(
            now, by, id, after_push,
        )])?;
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "device {id} not found, or already wiped"
        )))
    }
}

fn revoke_only(st: &dyn Storage, id: Uuid, by: Option<Uuid>, now: DateTime<Utc>) -> ApiResult<()> {
    if st.revoke_device(id, now)? {
        st.append_audit(&[crate::audit::NewEntry::device_revoked(now, by, id)])?;
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("device {id} not found")))
    }
}

/// A person as listed: everything but the credential.
pub fn person_view(p: PersonRecord) -> PersonView {
    PersonView {
        id: p.id,
        username: p.username,
        name: p.name,
        role: p.role,
        schools: p.schools,
        active: p.active,
    }
}

/// A device as listed: everything but the credential.
pub fn device_view(d: DeviceRecord) -> DeviceView {
    DeviceView {
        id: d.id,
        name: d.name,
        enrolled_at: d.enrolled_at,
        revoked_at: d.revoked_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_is_the_callers_mistake_only_when_a_constraint_refused_it() {
        let what = "post.school_id: no such school";
        match refused(what)(StorageError::Conflict(
            "FOREIGN KEY constraint failed".into(),
        )) {
            ApiError::BadRequest(m) => assert_eq!(m, what),
            e => panic!("a constraint is a 400 naming the field: {e:?}"),
        }
        match refused(what)(StorageError::backend("writer poisoned")) {
            ApiError::Internal(m) => assert!(m.contains("writer poisoned"), "{m}"),
            e => panic!("a backend failure (a poisoned lock) is a 500: {e:?}"),
        }
    }
}

//! District administration: reference data, people, enrollment codes, devices. The functions
//! here work on any [`Storage`] and are shared by the HTTP admin API and the
//! `rounds-server admin` command line.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use rounds_core::entropy::{Entropy, OsEntropy};
use rounds_core::limits::{NAME_CHARS, POST_ORDERS_CHARS, TAG_CODE_CHARS};
use rounds_core::model::{Checkpoint, Post, ReferenceData, Role, School};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, AdminSession, HashMemory};
use crate::error::{ApiError, ApiResult};
use crate::storage::{DeviceRecord, PersonRecord, Storage};

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

fn text(field: &str, v: &str, max: usize) -> ApiResult<()> {
    rounds_core::model::text(field, v, 1, max).map_err(ApiError::from)
}

/// Adds or replaces a school.
pub fn put_school(st: &dyn Storage, s: &School) -> ApiResult<()> {
    text("school.name", &s.name, NAME_CHARS)?;
    Ok(st.put_school(s)?)
}

/// Adds or replaces a post.
pub fn put_post(st: &dyn Storage, p: &Post) -> ApiResult<()> {
    text("post.name", &p.name, NAME_CHARS)?;
    rounds_core::model::text("post.orders", &p.orders, 0, POST_ORDERS_CHARS)?;
    st.put_post(p)
        .map_err(|_| ApiError::BadRequest("post.school_id: no such school".into()))
}

/// Adds or replaces a checkpoint.
pub fn put_checkpoint(st: &dyn Storage, c: &Checkpoint) -> ApiResult<()> {
    text("checkpoint.name", &c.name, NAME_CHARS)?;
    text("checkpoint.tag_code", &c.tag_code, TAG_CODE_CHARS)?;
    c.schedule.validate("checkpoint.schedule")?;
    st.put_checkpoint(c).map_err(|_| {
        ApiError::BadRequest(
            "checkpoint: unknown post, or tag code already used on this post".into(),
        )
    })
}

/// Adds or replaces a person (a new password is hashed in fresh memory: the command line and
/// the seed). A new password or `active: false` ends the person's sessions.
pub fn put_person(st: &dyn Storage, p: &PersonInput, entropy: &mut dyn Entropy) -> ApiResult<()> {
    put_person_in(st, p, entropy, &mut HashMemory::default())
}

/// [`put_person`], hashing a new password in `memory` (the server's handlers pass a hash
/// slot's, see [`crate::signin`]).
pub fn put_person_in(
    st: &dyn Storage,
    p: &PersonInput,
    entropy: &mut dyn Entropy,
    memory: &mut HashMemory,
) -> ApiResult<()> {
    text("person.username", &p.username, 64)?;
    text("person.name", &p.name, NAME_CHARS)?;
    let existing = st.person(p.id)?;
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
    .map_err(|_| {
        ApiError::BadRequest("person: the username is taken or a school does not exist".into())
    })
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
    Ok(EnrollmentCode { code, expires_at })
}

/// Revokes a device: its next request is refused, whatever it carries.
pub fn revoke(st: &dyn Storage, id: Uuid, now: DateTime<Utc>) -> ApiResult<()> {
    if st.revoke_device(id, now)? {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("device {id} not found")))
    }
}

fn person_view(p: PersonRecord) -> PersonView {
    PersonView {
        id: p.id,
        username: p.username,
        name: p.name,
        role: p.role,
        schools: p.schools,
        active: p.active,
    }
}

fn device_view(d: DeviceRecord) -> DeviceView {
    DeviceView {
        id: d.id,
        name: d.name,
        enrolled_at: d.enrolled_at,
        revoked_at: d.revoked_at,
    }
}

fn json<T>(j: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    j.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await?
}

/// `GET /v1/admin/reference`: everything.
pub async fn get_reference(
    State(s): State<AppState>,
    a: AdminSession,
) -> ApiResult<Json<ReferenceData>> {
    let st = s.storage.clone();
    blocking(move || Ok(Json(st.reference_for(&auth::viewer(&a.person))?))).await
}

/// `PUT /v1/admin/schools`.
pub async fn http_put_school(
    State(s): State<AppState>,
    _a: AdminSession,
    j: Result<Json<School>, JsonRejection>,
) -> ApiResult<Json<School>> {
    let v = json(j)?;
    let st = s.storage.clone();
    blocking(move || put_school(st.as_ref(), &v).map(|_| Json(v))).await
}

/// `PUT /v1/admin/posts`.
pub async fn http_put_post(
    State(s): State<AppState>,
    _a: AdminSession,
    j: Result<Json<Post>, JsonRejection>,
) -> ApiResult<Json<Post>> {
    let v = json(j)?;
    let st = s.storage.clone();
    blocking(move || put_post(st.as_ref(), &v).map(|_| Json(v))).await
}

/// `PUT /v1/admin/checkpoints`.
pub async fn http_put_checkpoint(
    State(s): State<AppState>,
    _a: AdminSession,
    j: Result<Json<Checkpoint>, JsonRejection>,
) -> ApiResult<Json<Checkpoint>> {
    let v = json(j)?;
    let st = s.storage.clone();
    blocking(move || put_checkpoint(st.as_ref(), &v).map(|_| Json(v))).await
}

/// `GET /v1/admin/people`.
pub async fn http_people(
    State(s): State<AppState>,
    _a: AdminSession,
) -> ApiResult<Json<Vec<PersonView>>> {
    let st = s.storage.clone();
    blocking(move || Ok(Json(st.people()?.into_iter().map(person_view).collect()))).await
}

/// `PUT /v1/admin/people`.
pub async fn http_put_person(
    State(s): State<AppState>,
    _a: AdminSession,
    j: Result<Json<PersonInput>, JsonRejection>,
) -> ApiResult<Json<PersonView>> {
    let v = json(j)?;
    let st = s.storage.clone();
    // Hashing a new password takes a hash slot like a sign-in does.
    let mut slot = match v.password {
        Some(_) => Some(s.sign_in.hash_slot(&st, None).await?),
        None => None,
    };
    blocking(move || {
        let mut fresh = HashMemory::default();
        let memory = slot.as_mut().map_or(&mut fresh, |held| held.memory());
        put_person_in(st.as_ref(), &v, &mut OsEntropy, memory)?;
        drop(slot);
        let p = st
            .person(v.id)?
            .ok_or_else(|| ApiError::Internal("person vanished".into()))?;
        Ok(Json(person_view(p)))
    })
    .await
}

/// Body of `POST /v1/admin/enrollment-codes`.
#[derive(Debug, Deserialize)]
pub struct CodeRequest {
    /// Hours the code stays valid (default 24).
    pub valid_hours: Option<i64>,
}

/// `POST /v1/admin/enrollment-codes`.
pub async fn http_issue_code(
    State(s): State<AppState>,
    a: AdminSession,
    j: Result<Json<CodeRequest>, JsonRejection>,
) -> ApiResult<Json<EnrollmentCode>> {
    let v = json(j)?;
    let st = s.storage.clone();
    let now = s.now();
    blocking(move || {
        Ok(Json(issue_code(
            st.as_ref(),
            a.person.id,
            now,
            v.valid_hours.unwrap_or(24),
            &mut OsEntropy,
        )?))
    })
    .await
}

/// `GET /v1/admin/devices`.
pub async fn http_devices(
    State(s): State<AppState>,
    _a: AdminSession,
) -> ApiResult<Json<Vec<DeviceView>>> {
    let st = s.storage.clone();
    blocking(move || Ok(Json(st.devices()?.into_iter().map(device_view).collect()))).await
}

/// `POST /v1/admin/devices/{id}/revoke`.
pub async fn http_revoke(
    State(s): State<AppState>,
    _a: AdminSession,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<serde_json::Value>> {
    let st = s.storage.clone();
    let now = s.now();
    blocking(move || {
        revoke(st.as_ref(), id, now)?;
        Ok(Json(serde_json::json!({ "revoked": id })))
    })
    .await
}

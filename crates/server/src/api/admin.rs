//! The admin API's handlers (`/v1/admin/...`, administrators only, as their
//! [`AdminSession`] argument says): each reads its input and calls the shared operation of
//! [`crate::admin`] off the async threads.

use axum::extract::State;
use rounds_domain::entropy::OsEntropy;
use rounds_domain::model::{Checkpoint, Post, ReferenceData, School};
use serde::Deserialize;
use uuid::Uuid;

use crate::admin;
use crate::auth::{self, AdminSession, HashMemory};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::state::AppState;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await?
}

/// `GET /v1/admin/reference`: everything.
pub async fn reference(
    State(s): State<AppState>,
    a: AdminSession,
) -> ApiResult<Json<ReferenceData>> {
    let st = s.storage.clone();
    blocking(move || Ok(Json(st.reference_for(&auth::viewer(&a.person))?))).await
}

/// `PUT /v1/admin/schools`.
pub async fn put_school(
    State(s): State<AppState>,
    a: AdminSession,
    Json(v): Json<School>,
) -> ApiResult<Json<School>> {
    let st = s.storage.clone();
    let actor = a.actor(s.now());
    blocking(move || admin::put_school(st.as_ref(), actor, &v).map(|_| Json(v))).await
}

/// `PUT /v1/admin/posts`.
pub async fn put_post(
    State(s): State<AppState>,
    a: AdminSession,
    Json(v): Json<Post>,
) -> ApiResult<Json<Post>> {
    let st = s.storage.clone();
    let actor = a.actor(s.now());
    blocking(move || admin::put_post(st.as_ref(), actor, &v).map(|_| Json(v))).await
}

/// `PUT /v1/admin/checkpoints`.
pub async fn put_checkpoint(
    State(s): State<AppState>,
    a: AdminSession,
    Json(v): Json<Checkpoint>,
) -> ApiResult<Json<Checkpoint>> {
    let st = s.storage.clone();
    let actor = a.actor(s.now());
    blocking(move || admin::put_checkpoint(st.as_ref(), actor, &v).map(|_| Json(v))).await
}

/// `GET /v1/admin/people`.
pub async fn people(
    State(s): State<AppState>,
    _a: AdminSession,
) -> ApiResult<Json<Vec<admin::PersonView>>> {
    let st = s.storage.clone();
    blocking(move || {
        Ok(Json(
            st.people()?.into_iter().map(admin::person_view).collect(),
        ))
    })
    .await
}

/// `PUT /v1/admin/people`.
pub async fn put_person(
    State(s): State<AppState>,
    a: AdminSession,
    Json(v): Json<admin::PersonInput>,
) -> ApiResult<Json<admin::PersonView>> {
    let st = s.storage.clone();
    let actor = a.actor(s.now());
    // Hashing a new password takes a hash slot like a sign-in does.
    let mut slot = match v.password {
        Some(_) => Some(s.sign_in.hash_slot(&st, None).await?),
        None => None,
    };
    blocking(move || {
        let mut fresh = HashMemory::default();
        let memory = slot.as_mut().map_or(&mut fresh, |held| held.memory());
        admin::put_person_in(st.as_ref(), actor, &v, &mut OsEntropy, memory)?;
        drop(slot);
        let p = st
            .person(v.id)?
            .ok_or_else(|| ApiError::Internal("person vanished".into()))?;
        Ok(Json(admin::person_view(p)))
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
pub async fn issue_code(
    State(s): State<AppState>,
    a: AdminSession,
    Json(v): Json<CodeRequest>,
) -> ApiResult<Json<admin::EnrollmentCode>> {
    let st = s.storage.clone();
    let now = s.now();
    blocking(move || {
        Ok(Json(admin::issue_code(
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
pub async fn devices(
    State(s): State<AppState>,
    _a: AdminSession,
) -> ApiResult<Json<Vec<admin::DeviceView>>> {
    let st = s.storage.clone();
    blocking(move || {
        Ok(Json(
            st.devices()?.into_iter().map(admin::device_view).collect(),
        ))
    })
    .await
}

/// Body of `POST /v1/admin/devices/{id}/revoke` (optional: no body is no wipe).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// `no`, `after_push` or `now`.
    #[serde(default)]
    pub wipe: admin::Wipe,
}

/// `POST /v1/admin/devices/{id}/revoke`.
pub async fn revoke(
    State(s): State<AppState>,
    a: AdminSession,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let req: RevokeRequest = if body.is_empty() {
        RevokeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("body: {e}")))?
    };
    let st = s.storage.clone();
    let now = s.now();
    blocking(move || {
        admin::revoke_with(st.as_ref(), id, Some(a.person.id), now, req.wipe)?;
        Ok(Json(serde_json::json!({ "revoked": id, "wipe": req.wipe })))
    })
    .await
}

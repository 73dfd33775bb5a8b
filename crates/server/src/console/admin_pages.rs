//! Admin pages: the district's schools, posts, checkpoints with their schedules (added on the
//! admin page, each changed on its own page), people with their roles and schools, enrollment
//! codes, and devices with revoking. Administrators only (every handler takes an
//! [`AdminUser`]; every change comes in a [`CsrfForm`]); every change goes through the same
//! functions as the HTTP admin API and the command line ([`crate::admin`]), so validation is
//! the same everywhere.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::entropy::OsEntropy;
use rounds_domain::model::Role;
use serde::Deserialize;
use uuid::Uuid;

use super::admin_forms::{Kind, RecordForm};
use super::admin_views::{AdminView, render_admin, render_person_page, render_record_page};
use super::html;
use super::params::{Path, form_id, path_id};
use super::session::{AdminUser, CsrfForm};
use super::{ConsoleError, ConsoleResult, ConsoleUser, blocking, html_response};
use crate::AppState;
use crate::admin::{self, PersonInput};
use crate::storage::Storage;

/// `GET /console/admin`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
) -> ConsoleResult<Response> {
    let when = state.when();
    let storage = state.storage.clone();
    blocking(move || {
        let view = AdminView::load(storage.as_ref(), &user, None)?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render_admin(&view, &user.csrf, when),
            ),
        ))
    })
    .await
}

fn done(anchor: &str) -> Response {
    Redirect::to(&format!("/console/admin#{anchor}")).into_response()
}

/// `POST /console/admin/{schools,posts,checkpoints}`: a new record from the form.
pub async fn add<F: RecordForm>(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    CsrfForm(f): CsrfForm<F>,
) -> ConsoleResult<Response> {
    save(&state, &user, F::KIND, None, move |st, actor, id| {
        f.put(st, actor, id)
    })
    .await
}

/// `POST /console/admin/{schools,posts,checkpoints}/{id}`: record `id` replaced by the form
/// (404 if there is none).
pub async fn edit<F: RecordForm>(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<F>,
) -> ConsoleResult<Response> {
    let id = path_id(&id, F::KIND.noun())?;
    save(&state, &user, F::KIND, Some(id), move |st, actor, id| {
        f.put(st, actor, id)
    })
    .await
}

/// `GET /console/admin/{schools,posts,checkpoints}/{id}`: the record's form, prefilled.
pub async fn record_page<F: RecordForm>(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let kind = F::KIND;
    let id = path_id(&id, kind.noun())?;
    let st = state.storage.clone();
    blocking(move || {
        let r = st.reference_for(&user.viewer())?;
        let (name, fields) = kind
            .edit_form(&r, id)
            .ok_or_else(|| ConsoleError::NotFound(format!("no such {}", kind.noun())))?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                &format!("Edit {}", kind.noun()),
                Some(&user.chrome()),
                &render_record_page(kind, id, &name, &fields, &user.csrf),
            ),
        ))
    })
    .await
}

/// Stores a school, post or checkpoint: a new record when `id` is `None`, else the existing
/// record `id` replaced (404 if there is none).
async fn save(
    state: &AppState,
    user: &ConsoleUser,
    kind: Kind,
    id: Option<Uuid>,
    put: impl FnOnce(&dyn Storage, admin::Actor, Uuid) -> ConsoleResult<()> + Send + 'static,
) -> ConsoleResult<Response> {
    let st = state.storage.clone();
    let viewer = user.viewer();
    let actor = user.actor(state.now());
    let id = blocking(move || {
        let id = match id {
            None => crate::new_id(),
            Some(id) => {
                let r = st.reference_for(&viewer)?;
                if !kind.exists(&r, id) {
                    return Err(ConsoleError::NotFound(format!("no such {}", kind.noun())));
                }
                id
            }
        };
        put(st.as_ref(), actor, id)?;
        Ok(id)
    })
    .await?;
    tracing::info!(kind = kind.noun(), %id, "saved in the console");
    Ok(done(kind.section()))
}

/// Add-person form.
#[derive(Debug, Deserialize)]
pub struct PersonForm {
    username: String,
    name: String,
    role: String,
    #[serde(default)]
    school_id: String,
    password: String,
}

/// `POST /console/admin/people`.
pub async fn add_person(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    CsrfForm(f): CsrfForm<PersonForm>,
) -> ConsoleResult<Response> {
    let actor = user.actor(state.now());
    let role = Role::parse(&f.role, "role")?;
    let schools = match f.school_id.trim() {
        "" => vec![],
        s => vec![form_id(s, "school")?],
    };
    let st = state.storage.clone();
    let mut slot = state.sign_in.hash_slot(&st, None).await?;
    blocking(move || {
        Ok(admin::put_person_in(
            st.as_ref(),
            actor,
            &PersonInput {
                id: crate::new_id(),
                username: f.username,
                name: f.name,
                role,
                schools,
                password: Some(f.password),
                active: true,
            },
            &mut OsEntropy,
            slot.memory(),
        )?)
    })
    .await?;
    Ok(done("people"))
}

/// Enrollment-code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    hours: Option<i64>,
}

/// `POST /console/admin/codes`: issues a code and shows it once.
pub async fn issue_code(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    CsrfForm(f): CsrfForm<CodeForm>,
) -> ConsoleResult<Response> {
    let hours = f.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ConsoleError::BadRequest("hours: between 1 and 168".into()));
    }
    let st = state.storage.clone();
    let now = state.now();
    let when = state.when();
    blocking(move || {
        let code = admin::issue_code(st.as_ref(), user.person.id, now, hours, &mut OsEntropy)?;
        let view = AdminView::load(st.as_ref(), &user, Some(code))?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render_admin(&view, &user.csrf, when),
            ),
        ))
    })
    .await
}

/// The revoke form: whether the device is also to erase itself.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    /// `no` (the default), `after_push` or `now`.
    #[serde(default)]
    wipe: Option<String>,
}

/// `POST /console/admin/devices/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<RevokeForm>,
) -> ConsoleResult<Response> {
    let id = path_id(&id, "device")?;
    let wipe = match f.wipe.as_deref().map(str::trim) {
        None | Some("") | Some("no") => admin::Wipe::No,
        Some("after_push") => admin::Wipe::AfterPush,
        Some("now") => admin::Wipe::Now,
        Some(other) => {
            return Err(ConsoleError::BadRequest(format!(
                "wipe: {other:?} is not no, after_push or now"
            )));
        }
    };
    let st = state.storage.clone();
    let now = state.now();
    let by = Some(admin.person.id);
    blocking(move || Ok(admin::revoke_with(st.as_ref(), id, by, now, wipe)?)).await?;
    tracing::info!(device = %id, "device revoked in the console");
    Ok(done("devices"))
}

/// `GET /console/admin/people/{id}`: a person's role, schools and whether they may sign in.
pub async fn person_page(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    let id = path_id(&id, "person")?;
    let st = state.storage.clone();
    blocking(move || {
        let p = st
            .person(id)?
            .ok_or_else(|| ConsoleError::NotFound("no such person".into()))?;
        let reference = st.reference_for(&user.viewer())?;
        let body = render_person_page(&p, &reference.schools, &user.csrf);
        Ok(html_response(
            StatusCode::OK,
            html::page("Person", Some(&user.chrome()), &body),
        ))
    })
    .await
}

/// `POST /console/admin/people/{id}`: changes a person's role, schools and `active` (the
/// password and names stay). Administrators cannot take away their own role or access.
pub async fn edit_person(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<Vec<(String, String)>>,
) -> ConsoleResult<Response> {
    let id = path_id(&id, "person")?;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let role = Role::parse(get("role").unwrap_or(""), "role")?;
    let active = get("active").is_some();
    let schools = fields
        .iter()
        .filter(|(k, _)| k == "school")
        .map(|(_, v)| form_id(v, "school"))
        .collect::<ConsoleResult<Vec<Uuid>>>()?;
    if id == user.person.id && (role != Role::Admin || !active) {
        return Err(ConsoleError::BadRequest(
            "you cannot take away your own administrator role or access".into(),
        ));
    }
    let st = state.storage.clone();
    let actor = user.actor(state.now());
    blocking(move || {
        let p = st
            .person(id)?
            .ok_or_else(|| ConsoleError::NotFound("no such person".into()))?;
        Ok(admin::put_person(
            st.as_ref(),
            actor,
            &PersonInput {
                id,
                username: p.username,
                name: p.name,
                role,
                schools,
                password: None,
                active,
            },
            &mut OsEntropy,
        )?)
    })
    .await?;
    tracing::info!(person = %id, %role, active, "person changed in the console");
    Ok(done("people"))
}

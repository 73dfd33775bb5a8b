//! Admin pages: the district's schools, posts, checkpoints with their schedules, people with
//! their roles and schools, enrollment codes, and devices with revoking. Administrators only
//! (every handler checks [`ConsoleUser::require_admin`]); every change goes through the same
//! functions as the HTTP admin API and the command line ([`crate::admin`]), so validation is
//! the same everywhere.

use std::collections::HashMap;
use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rounds_core::entropy::OsEntropy;
use rounds_core::model::{Checkpoint, Post, Role, Schedule, School};
use serde::Deserialize;
use uuid::Uuid;

use super::html::{self, csrf_field, esc};
use super::{ConsoleError, ConsoleResult, ConsoleUser, blocking, html_response, ymd_hm};
use crate::AppState;
use crate::admin::{self, PersonInput};

/// `GET /console/admin`.
pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult<Response> {
    user.require_admin()?;
    let storage = state.storage.clone();
    blocking(move || {
        let reference = storage.reference_for(&user.viewer())?;
        let people = storage.people()?;
        let devices = storage.devices()?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render(&user.csrf, &reference, &people, &devices, None),
            ),
        ))
    })
    .await
}

fn render(
    csrf: &str,
    r: &rounds_core::model::ReferenceData,
    people: &[crate::storage::PersonRecord],
    devices: &[crate::storage::DeviceRecord],
    code: Option<&admin::EnrollmentCode>,
) -> String {
    let school_names: HashMap<Uuid, &str> =
        r.schools.iter().map(|s| (s.id, s.name.as_str())).collect();
    let post_names: HashMap<Uuid, &str> = r.posts.iter().map(|p| (p.id, p.name.as_str())).collect();
    let school_opts: Vec<(String, String)> = r
        .schools
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect();
    let school_select = html::options(
        school_opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
        "",
    );
    let post_opts: Vec<(String, String)> = r
        .posts
        .iter()
        .map(|p| {
            (
                p.id.to_string(),
                format!(
                    "{} — {}",
                    school_names.get(&p.school_id).copied().unwrap_or("?"),
                    p.name
                ),
            )
        })
        .collect();
    let csrf = csrf_field(csrf);
    let mut b = String::from("<h2>District administration</h2>");
    if let Some(c) = code {
        let _ = write!(
            b,
            r#"<p class="code" role="status">New enrollment code: <strong id="enrollment-code">{}</strong> — valid until {}. Type it on the device; it is shown only once.</p>"#,
            esc(&c.code),
            ymd_hm(c.expires_at)
        );
    }
    b.push_str(r##"<nav class="sections"><a href="#schools">Schools</a> <a href="#posts">Posts</a> <a href="#checkpoints">Checkpoints</a> <a href="#people">People</a> <a href="#devices">Devices</a></nav>"##);
    // Schools
    b.push_str(r#"<section id="schools"><h3>Schools</h3><table><thead><tr><th>Name</th><th>Id</th></tr></thead><tbody>"#);
    for s in &r.schools {
        let _ = write!(
            b,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            esc(&s.name),
            s.id
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/schools" class="inline-form">{csrf}<label>Name <input name="name" required maxlength="200"></label><button>Add school</button></form></section>"#
    );
    // Posts
    b.push_str(r#"<section id="posts"><h3>Posts</h3><table><thead><tr><th>School</th><th>Post</th><th>Orders</th></tr></thead><tbody>"#);
    for p in &r.posts {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(school_names.get(&p.school_id).copied().unwrap_or("?")),
            esc(&p.name),
            esc(&p.orders)
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/posts" class="inline-form">{csrf}<label>School <select name="school_id">{school_select}</select></label><label>Name <input name="name" required maxlength="200"></label><label>Orders <input name="orders" maxlength="20000"></label><button>Add post</button></form></section>"#
    );
    // Checkpoints
    b.push_str(r#"<section id="checkpoints"><h3>Checkpoints and schedules</h3><table><thead><tr><th>Post</th><th>#</th><th>Checkpoint</th><th>Tag</th><th>First due</th><th>Every</th><th>Grace</th></tr></thead><tbody>"#);
    for c in &r.checkpoints {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{} min</td><td>{} min</td><td>{} min</td></tr>",
            esc(post_names.get(&c.post_id).copied().unwrap_or("?")),
            c.position,
            esc(&c.name),
            esc(&c.tag_code),
            c.schedule.first_due_minutes,
            c.schedule.interval_minutes,
            c.schedule.grace_minutes
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/checkpoints" class="inline-form">{csrf}<label>Post <select name="post_id">{}</select></label><label>Name <input name="name" required></label><label>Tag code <input name="tag_code" required></label><label>Position <input name="position" type="number" min="1" value="1" required></label><label>First due (min) <input name="first_due_minutes" type="number" min="0" value="30" required></label><label>Every (min) <input name="interval_minutes" type="number" min="1" value="60" required></label><label>Grace (min) <input name="grace_minutes" type="number" min="0" value="10" required></label><button>Add checkpoint</button></form></section>"#,
        html::options(post_opts.iter().map(|(a, b)| (a.as_str(), b.as_str())), "")
    );
    // People
    b.push_str(r#"<section id="people"><h3>People and roles</h3><table><thead><tr><th>Username</th><th>Name</th><th>Role</th><th>Schools</th><th>Active</th><th></th></tr></thead><tbody>"#);
    for p in people {
        let schools: Vec<&str> = p
            .schools
            .iter()
            .map(|s| school_names.get(s).copied().unwrap_or("?"))
            .collect();
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/console/admin/people/{}">Change</a></td></tr>"#,
            esc(&p.username),
            esc(&p.name),
            p.role,
            esc(&schools.join(", ")),
            if p.active { "yes" } else { "no" },
            p.id
        );
    }
    let role_opts: Vec<(&str, &str)> = Role::ALL.iter().map(|r| (r.code(), r.code())).collect();
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/people" class="inline-form">{csrf}<label>Username <input name="username" required maxlength="64"></label><label>Name <input name="name" required maxlength="200"></label><label>Role <select name="role">{}</select></label><label>School <select name="school_id"><option value="">(none)</option>{school_select}</select></label><label>Password <input name="password" type="password" minlength="8" required autocomplete="new-password"></label><button>Add person</button></form></section>"#,
        html::options(role_opts.iter().copied(), "guard")
    );
    // Devices
    let _ = write!(
        b,
        r#"<section id="devices"><h3>Devices</h3><form method="post" action="/console/admin/codes" class="inline-form">{csrf}<label>Code valid for (hours) <input name="hours" type="number" min="1" max="168" value="24"></label><button>Issue enrollment code</button></form><table><thead><tr><th>Device</th><th>Id</th><th>Enrolled</th><th>Revoked</th><th></th></tr></thead><tbody>"#
    );
    for d in devices {
        let action = if d.revoked_at.is_none() {
            format!(
                r#"<form method="post" action="/console/admin/devices/{}/revoke" class="inline">{csrf}<button class="danger">Revoke</button></form>"#,
                d.id
            )
        } else {
            String::new()
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{action}</td></tr>",
            esc(&d.name),
            d.id,
            ymd_hm(d.enrolled_at),
            d.revoked_at.map(ymd_hm).unwrap_or_default()
        );
    }
    b.push_str("</tbody></table></section>");
    b
}

fn done(anchor: &str) -> Response {
    Redirect::to(&format!("/console/admin#{anchor}")).into_response()
}

fn parse_id(s: &str, field: &str) -> ConsoleResult<Uuid> {
    s.trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("{field}: choose one")))
}

/// Add-school form.
#[derive(Debug, Deserialize)]
pub struct SchoolForm {
    csrf: String,
    name: String,
}

/// `POST /console/admin/schools`.
pub async fn add_school(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Form(f): Form<SchoolForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let st = state.storage.clone();
    blocking(move || {
        Ok(admin::put_school(
            st.as_ref(),
            &School {
                id: crate::new_id(),
                name: f.name.trim().to_string(),
            },
        )?)
    })
    .await?;
    Ok(done("schools"))
}

/// Add-post form.
#[derive(Debug, Deserialize)]
pub struct PostForm {
    csrf: String,
    school_id: String,
    name: String,
    #[serde(default)]
    orders: String,
}

/// `POST /console/admin/posts`.
pub async fn add_post(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Form(f): Form<PostForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let school_id = parse_id(&f.school_id, "school")?;
    let st = state.storage.clone();
    blocking(move || {
        Ok(admin::put_post(
            st.as_ref(),
            &Post {
                id: crate::new_id(),
                school_id,
                name: f.name.trim().to_string(),
                orders: f.orders,
            },
        )?)
    })
    .await?;
    Ok(done("posts"))
}

/// Add-checkpoint form.
#[derive(Debug, Deserialize)]
pub struct CheckpointForm {
    csrf: String,
    post_id: String,
    name: String,
    tag_code: String,
    position: u32,
    first_due_minutes: u32,
    interval_minutes: u32,
    grace_minutes: u32,
}

/// `POST /console/admin/checkpoints`.
pub async fn add_checkpoint(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Form(f): Form<CheckpointForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let post_id = parse_id(&f.post_id, "post")?;
    let st = state.storage.clone();
    blocking(move || {
        Ok(admin::put_checkpoint(
            st.as_ref(),
            &Checkpoint {
                id: crate::new_id(),
                post_id,
                name: f.name.trim().to_string(),
                tag_code: f.tag_code.trim().to_string(),
                position: f.position,
                schedule: Schedule {
                    first_due_minutes: f.first_due_minutes,
                    interval_minutes: f.interval_minutes,
                    grace_minutes: f.grace_minutes,
                },
            },
        )?)
    })
    .await?;
    Ok(done("checkpoints"))
}

/// Add-person form.
#[derive(Debug, Deserialize)]
pub struct PersonForm {
    csrf: String,
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
    user: ConsoleUser,
    headers: HeaderMap,
    Form(f): Form<PersonForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let role = Role::parse(&f.role, "role")?;
    let schools = match f.school_id.trim() {
        "" => vec![],
        s => vec![parse_id(s, "school")?],
    };
    let st = state.storage.clone();
    blocking(move || {
        Ok(admin::put_person(
            st.as_ref(),
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
        )?)
    })
    .await?;
    Ok(done("people"))
}

/// Enrollment-code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    csrf: String,
    hours: Option<i64>,
}

/// `POST /console/admin/codes`: issues a code and shows it once.
pub async fn issue_code(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let hours = f.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ConsoleError::BadRequest("hours: between 1 and 168".into()));
    }
    let st = state.storage.clone();
    let now = state.now();
    blocking(move || {
        let code = admin::issue_code(st.as_ref(), user.person.id, now, hours, &mut OsEntropy)?;
        let reference = st.reference_for(&user.viewer())?;
        let people = st.people()?;
        let devices = st.devices()?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render(&user.csrf, &reference, &people, &devices, Some(&code)),
            ),
        ))
    })
    .await
}

/// A form with only the token.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    csrf: String,
}

/// `POST /console/admin/devices/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<RevokeForm>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    user.check_form(&headers, &f.csrf)?;
    let id = parse_id(&id, "device")?;
    let st = state.storage.clone();
    let now = state.now();
    blocking(move || Ok(admin::revoke(st.as_ref(), id, now)?)).await?;
    tracing::info!(device = %id, "device revoked in the console");
    Ok(done("devices"))
}

/// `GET /console/admin/people/{id}`: a person's role, schools and whether they may sign in.
pub async fn person_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    let id = parse_id(&id, "person")?;
    let st = state.storage.clone();
    blocking(move || {
        let p = st
            .person(id)?
            .ok_or_else(|| ConsoleError::NotFound("no such person".into()))?;
        let reference = st.reference_for(&user.viewer())?;
        let mut school_opts = String::new();
        for s in &reference.schools {
            let sel = if p.schools.contains(&s.id) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                school_opts,
                r#"<option value="{}"{sel}>{}</option>"#,
                s.id,
                esc(&s.name)
            );
        }
        let role_opts: Vec<(&str, &str)> =
            Role::ALL.iter().map(|r| (r.code(), r.code())).collect();
        let body = format!(
            r#"<h2>{} <small>({})</small></h2><form method="post" action="/console/admin/people/{}" class="review">{}
<label>Role <select name="role">{}</select></label>
<label>Schools (hold Ctrl or Cmd to choose several) <select name="school" multiple size="{}">{school_opts}</select></label>
<label class="check"><span><input type="checkbox" name="active" value="yes"{}> may sign in</span></label>
<button type="submit">Save</button></form><p><a href="/console/admin#people">Back to the people</a></p>"#,
            esc(&p.name),
            esc(&p.username),
            p.id,
            csrf_field(&user.csrf),
            html::options(role_opts.iter().copied(), p.role.code()),
            reference.schools.len().clamp(2, 12),
            if p.active { " checked" } else { "" },
        );
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
    user: ConsoleUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ConsoleResult<Response> {
    user.require_admin()?;
    let fields = html::form_pairs(&body);
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    user.check_form(&headers, get("csrf").unwrap_or(""))?;
    let id = parse_id(&id, "person")?;
    let role = Role::parse(get("role").unwrap_or(""), "role")?;
    let active = get("active").is_some();
    let schools = fields
        .iter()
        .filter(|(k, _)| k == "school")
        .map(|(_, v)| parse_id(v, "school"))
        .collect::<ConsoleResult<Vec<Uuid>>>()?;
    if id == user.person.id && (role != Role::Admin || !active) {
        return Err(ConsoleError::BadRequest(
            "you cannot take away your own administrator role or access".into(),
        ));
    }
    let st = state.storage.clone();
    blocking(move || {
        let p = st
            .person(id)?
            .ok_or_else(|| ConsoleError::NotFound("no such person".into()))?;
        Ok(admin::put_person(
            st.as_ref(),
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

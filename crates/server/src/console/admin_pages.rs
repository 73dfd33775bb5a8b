//! Admin pages: the district's schools, posts, checkpoints with their schedules (added on the
//! admin page, each changed on its own page), people with their roles and schools, enrollment
//! codes, and devices with revoking. Administrators only (every handler takes an
//! [`AdminUser`]; every change comes in a [`CsrfForm`]); every change goes through the same
//! functions as the HTTP admin API and the command line ([`crate::admin`]), so validation is
//! the same everywhere.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_core::entropy::OsEntropy;
use rounds_core::model::{Checkpoint, Post, ReferenceData, Role, Schedule, School};
use serde::Deserialize;
use uuid::Uuid;

use super::html::{self, csrf_field, esc};
use super::params::{Path, form_id, path_id};
use super::session::{AdminUser, CsrfForm, TokenForm};
use super::{ConsoleError, ConsoleResult, ConsoleUser, When, blocking, html_response};
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
        let reference = storage.reference_for(&user.viewer())?;
        let people = storage.people()?;
        let devices = storage.devices()?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render(&user.csrf, &reference, &people, &devices, None, when),
            ),
        ))
    })
    .await
}

fn render(
    csrf: &str,
    r: &ReferenceData,
    people: &[crate::storage::PersonRecord],
    devices: &[crate::storage::DeviceRecord],
    code: Option<&admin::EnrollmentCode>,
    when: When,
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
    let csrf = csrf_field(csrf);
    let mut b = String::from("<h2>District administration</h2>");
    if let Some(c) = code {
        let _ = write!(
            b,
            r#"<p class="code" role="status">New enrollment code: <strong id="enrollment-code">{}</strong> — valid until {}. Type it on the device; it is shown only once.</p>"#,
            esc(&c.code),
            when.date_time(c.expires_at)
        );
    }
    b.push_str(r##"<nav class="sections"><a href="#schools">Schools</a> <a href="#posts">Posts</a> <a href="#checkpoints">Checkpoints</a> <a href="#people">People</a> <a href="#devices">Devices</a></nav>"##);
    // Schools
    b.push_str(r#"<section id="schools"><h3>Schools</h3><table><thead><tr><th>Name</th><th>Id</th><th></th></tr></thead><tbody>"#);
    for s in &r.schools {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td><code>{}</code></td><td><a href="/console/admin/schools/{}">Edit</a></td></tr>"#,
            esc(&s.name),
            s.id,
            s.id
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/schools" class="inline-form">{csrf}{}<button>Add school</button></form></section>"#,
        school_fields(None)
    );
    // Posts
    b.push_str(r#"<section id="posts"><h3>Posts</h3><table><thead><tr><th>School</th><th>Post</th><th>Orders</th><th></th></tr></thead><tbody>"#);
    for p in &r.posts {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td><a href="/console/admin/posts/{}">Edit</a></td></tr>"#,
            esc(school_names.get(&p.school_id).copied().unwrap_or("?")),
            esc(&p.name),
            esc(&p.orders),
            p.id
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/posts" class="inline-form">{csrf}{}<button>Add post</button></form></section>"#,
        post_fields(r, None)
    );
    // Checkpoints
    b.push_str(r#"<section id="checkpoints"><h3>Checkpoints and schedules</h3><table><thead><tr><th>Post</th><th>#</th><th>Checkpoint</th><th>Tag</th><th>First due</th><th>Every</th><th>Grace</th><th></th></tr></thead><tbody>"#);
    for c in &r.checkpoints {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{} min</td><td>{} min</td><td>{} min</td><td><a href="/console/admin/checkpoints/{}">Edit</a></td></tr>"#,
            esc(post_names.get(&c.post_id).copied().unwrap_or("?")),
            c.position,
            esc(&c.name),
            esc(&c.tag_code),
            c.schedule.first_due_minutes,
            c.schedule.interval_minutes,
            c.schedule.grace_minutes,
            c.id
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><form method="post" action="/console/admin/checkpoints" class="inline-form">{csrf}{}<button>Add checkpoint</button></form></section>"#,
        checkpoint_fields(r, None)
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
            p.role.label(),
            esc(&schools.join(", ")),
            if p.active { "yes" } else { "no" },
            p.id
        );
    }
    let role_opts: Vec<(&str, &str)> = Role::ALL.iter().map(|r| (r.code(), r.label())).collect();
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
            when.date_time(d.enrolled_at),
            d.revoked_at.map(|t| when.date_time(t)).unwrap_or_default()
        );
    }
    b.push_str("</tbody></table></section>");
    b
}
/// The school form's fields, prefilled from `s` (empty for a new school).
fn school_fields(s: Option<&School>) -> String {
    format!(
        r#"<label>Name <input name="name" required maxlength="200" value="{}"></label>"#,
        esc(s.map_or("", |s| s.name.as_str()))
    )
}

/// The post form's fields, prefilled from `p` (the first school and no orders for a new post).
/// The orders are a text area so their line breaks survive an edit.
fn post_fields(r: &ReferenceData, p: Option<&Post>) -> String {
    let selected = p.map(|p| p.school_id.to_string()).unwrap_or_default();
    let schools: Vec<(String, &str)> = r
        .schools
        .iter()
        .map(|s| (s.id.to_string(), s.name.as_str()))
        .collect();
    // The newline after `<textarea>` is dropped by the browser, so orders starting with one
    // keep it.
    format!(
        r#"<label>School <select name="school_id">{}</select></label><label>Name <input name="name" required maxlength="200" value="{}"></label><label>Orders <textarea name="orders" maxlength="20000" rows="3">
{}</textarea></label>"#,
        html::options(schools.iter().map(|(a, b)| (a.as_str(), *b)), &selected),
        esc(p.map_or("", |p| p.name.as_str())),
        esc(p.map_or("", |p| p.orders.as_str())),
    )
}

/// The checkpoint form's fields, prefilled from `c` (position 1, due 30 minutes after the
/// start, hourly, 10 minutes' grace for a new checkpoint).
fn checkpoint_fields(r: &ReferenceData, c: Option<&Checkpoint>) -> String {
    let school_names: HashMap<Uuid, &str> =
        r.schools.iter().map(|s| (s.id, s.name.as_str())).collect();
    let posts: Vec<(String, String)> = r
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
    let selected = c.map(|c| c.post_id.to_string()).unwrap_or_default();
    let schedule = c.map_or(
        Schedule {
            first_due_minutes: 30,
            interval_minutes: 60,
            grace_minutes: 10,
        },
        |c| c.schedule,
    );
    format!(
        r#"<label>Post <select name="post_id">{}</select></label><label>Name <input name="name" required maxlength="200" value="{}"></label><label>Tag code <input name="tag_code" required maxlength="128" value="{}"></label><label>Position <input name="position" type="number" min="1" value="{}" required></label><label>First due (min) <input name="first_due_minutes" type="number" min="0" value="{}" required></label><label>Every (min) <input name="interval_minutes" type="number" min="1" value="{}" required></label><label>Grace (min) <input name="grace_minutes" type="number" min="0" value="{}" required></label>"#,
        html::options(
            posts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            &selected
        ),
        esc(c.map_or("", |c| c.name.as_str())),
        esc(c.map_or("", |c| c.tag_code.as_str())),
        c.map_or(1, |c| c.position),
        schedule.first_due_minutes,
        schedule.interval_minutes,
        schedule.grace_minutes,
    )
}

fn done(anchor: &str) -> Response {
    Redirect::to(&format!("/console/admin#{anchor}")).into_response()
}

fn number(s: &str, field: &str) -> ConsoleResult<u32> {
    s.trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("{field}: a whole number of 0 or more")))
}

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
    fn noun(self) -> &'static str {
        match self {
            Kind::School => "school",
            Kind::Post => "post",
            Kind::Checkpoint => "checkpoint",
        }
    }

    /// The section of the admin page, and the path segment of the record's page.
    fn section(self) -> &'static str {
        match self {
            Kind::School => "schools",
            Kind::Post => "posts",
            Kind::Checkpoint => "checkpoints",
        }
    }

    fn exists(self, r: &ReferenceData, id: Uuid) -> bool {
        match self {
            Kind::School => r.schools.iter().any(|s| s.id == id),
            Kind::Post => r.posts.iter().any(|p| p.id == id),
            Kind::Checkpoint => r.checkpoints.iter().any(|c| c.id == id),
        }
    }

    /// The edit page's heading and prefilled fields for record `id`, if it exists.
    fn edit_form(self, r: &ReferenceData, id: Uuid) -> Option<(String, String)> {
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
    /// [`crate::admin`], whose validation is the admin API's.
    fn put(self, st: &dyn Storage, id: Uuid) -> ConsoleResult<()>;
}

/// `POST /console/admin/{schools,posts,checkpoints}`: a new record from the form.
pub async fn add<F: RecordForm>(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    CsrfForm(f): CsrfForm<F>,
) -> ConsoleResult<Response> {
    save(&state, &user, F::KIND, None, move |st, id| f.put(st, id)).await
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
    save(&state, &user, F::KIND, Some(id), move |st, id| {
        f.put(st, id)
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

/// The edit page of record `id` of `kind`, named `name`, with its prefilled `fields`.
fn render_record_page(kind: Kind, id: Uuid, name: &str, fields: &str, csrf: &str) -> String {
    let section = kind.section();
    format!(
        r#"<h2>{} <small>({})</small></h2><form method="post" action="/console/admin/{section}/{id}" class="review">{}{fields}<button type="submit">Save</button></form><p><a href="/console/admin#{section}">Back to the {section}</a></p>"#,
        esc(name),
        kind.noun(),
        csrf_field(csrf),
    )
}

/// Stores a school, post or checkpoint: a new record when `id` is `None`, else the existing
/// record `id` replaced (404 if there is none).
async fn save(
    state: &AppState,
    user: &ConsoleUser,
    kind: Kind,
    id: Option<Uuid>,
    put: impl FnOnce(&dyn Storage, Uuid) -> ConsoleResult<()> + Send + 'static,
) -> ConsoleResult<Response> {
    let st = state.storage.clone();
    let viewer = user.viewer();
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
        put(st.as_ref(), id)?;
        Ok(id)
    })
    .await?;
    tracing::info!(kind = kind.noun(), %id, "saved in the console");
    Ok(done(kind.section()))
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
    fn put(self, st: &dyn Storage, id: Uuid) -> ConsoleResult<()> {
        let school = School {
            id,
            name: self.name.trim().to_string(),
        };
        Ok(admin::put_school(st, &school)?)
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
    fn put(self, st: &dyn Storage, id: Uuid) -> ConsoleResult<()> {
        let post = Post {
            id,
            school_id: form_id(&self.school_id, "school")?,
            name: self.name.trim().to_string(),
            orders: self.orders.replace("\r\n", "\n"),
        };
        Ok(admin::put_post(st, &post)?)
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
    fn put(self, st: &dyn Storage, id: Uuid) -> ConsoleResult<()> {
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
        Ok(admin::put_checkpoint(st, &checkpoint)?)
    }
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
    AdminUser(_): AdminUser,
    CsrfForm(f): CsrfForm<PersonForm>,
) -> ConsoleResult<Response> {
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
        let reference = st.reference_for(&user.viewer())?;
        let people = st.people()?;
        let devices = st.devices()?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Administration",
                Some(&user.chrome()),
                &render(&user.csrf, &reference, &people, &devices, Some(&code), when),
            ),
        ))
    })
    .await
}

/// `POST /console/admin/devices/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    AdminUser(_): AdminUser,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<TokenForm>,
) -> ConsoleResult<Response> {
    let id = path_id(&id, "device")?;
    let st = state.storage.clone();
    let now = state.now();
    blocking(move || Ok(admin::revoke(st.as_ref(), id, now)?)).await?;
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
            Role::ALL.iter().map(|r| (r.code(), r.label())).collect();
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

//! The admin pages' views: what a handler of [`super::admin_pages`] loads ([`AdminView`]) and
//! the pure functions that write each page or form as HTML from it, so the pages can be tested
//! without HTTP. Every interpolated value goes through [`html::esc`].

use std::collections::HashMap;
use std::fmt::Write;

use rounds_domain::model::{Checkpoint, Post, ReferenceData, Role, Schedule, School};
use uuid::Uuid;

use super::admin_forms::Kind;
use super::html::{self, csrf_field, esc};
use super::{ConsoleResult, ConsoleUser, When};
use crate::admin::EnrollmentCode;
use crate::storage::{DeviceRecord, PersonRecord, Storage};

/// What the admin page shows.
#[derive(Debug, Clone)]
pub struct AdminView {
    /// The district's reference data.
    pub reference: ReferenceData,
    /// Everyone.
    pub people: Vec<PersonRecord>,
    /// Every device.
    pub devices: Vec<DeviceRecord>,
    /// The enrollment code just issued, shown once.
    pub code: Option<EnrollmentCode>,
}

impl AdminView {
    /// The admin page's records as `user` may see them, with `code` if one was just issued.
    pub fn load(
        storage: &dyn Storage,
        user: &ConsoleUser,
        code: Option<EnrollmentCode>,
    ) -> ConsoleResult<AdminView> {
        Ok(AdminView {
            reference: storage.reference_for(&user.viewer())?,
            people: storage.people()?,
            devices: storage.devices()?,
            code,
        })
    }
}

/// The admin page of `v`: the district's schools, posts, checkpoints, people, devices, and the
/// enrollment code just issued (shown once).
pub fn render_admin(v: &AdminView, csrf: &str, when: When) -> String {
    let (r, people, devices, code) = (&v.reference, &v.people, &v.devices, v.code.as_ref());
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
    let mut b = String::from(
        r#"<h2>District administration</h2><p><a href="/console/admin/audit">Audit trail</a>: search and download who signed in, what was pushed, delivered, shown, exported and changed. <a href="/console/admin/disclosures">Disclosures of contact notes</a>: who received each note.</p>"#,
    );
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
                r#"<form method="post" action="/console/admin/devices/{}/revoke" class="inline">{csrf}<label>Wipe <select name="wipe"><option value="no" selected>No wipe: it keeps what it holds</option><option value="after_push">After its waiting records arrive</option><option value="now">Now: what it has not synced is lost (lost or stolen)</option></select></label> <button class="danger">Revoke</button></form>"#,
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
pub fn school_fields(s: Option<&School>) -> String {
    format!(
        r#"<label>Name <input name="name" required maxlength="200" value="{}"></label>"#,
        esc(s.map_or("", |s| s.name.as_str()))
    )
}

/// The post form's fields, prefilled from `p` (the first school and no orders for a new post).
/// The orders are a text area so their line breaks survive an edit.
pub fn post_fields(r: &ReferenceData, p: Option<&Post>) -> String {
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
pub fn checkpoint_fields(r: &ReferenceData, c: Option<&Checkpoint>) -> String {
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

/// The edit page of record `id` of `kind`, named `name`, with its prefilled `fields`.
pub fn render_record_page(kind: Kind, id: Uuid, name: &str, fields: &str, csrf: &str) -> String {
    let section = kind.section();
    format!(
        r#"<h2>{} <small>({})</small></h2><form method="post" action="/console/admin/{section}/{id}" class="review">{}{fields}<button type="submit">Save</button></form><p><a href="/console/admin#{section}">Back to the {section}</a></p>"#,
        esc(name),
        kind.noun(),
        csrf_field(csrf),
    )
}

/// A person's page: their role, schools (of `schools`) and whether they may sign in, as a form.
pub fn render_person_page(p: &PersonRecord, schools: &[School], csrf: &str) -> String {
    let mut school_opts = String::new();
    for s in schools {
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
    let role_opts: Vec<(&str, &str)> = Role::ALL.iter().map(|r| (r.code(), r.label())).collect();
    format!(
        r#"<h2>{} <small>({})</small></h2><form method="post" action="/console/admin/people/{}" class="review">{}
<label>Role <select name="role">{}</select></label>
<label>Schools (hold Ctrl or Cmd to choose several) <select name="school" multiple size="{}">{school_opts}</select></label>
<label class="check"><span><input type="checkbox" name="active" value="yes"{}> may sign in</span></label>
<button type="submit">Save</button></form><p><a href="/console/admin#people">Back to the people</a></p>"#,
        esc(&p.name),
        esc(&p.username),
        p.id,
        csrf_field(csrf),
        html::options(role_opts.iter().copied(), p.role.code()),
        schools.len().clamp(2, 12),
        if p.active { " checked" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn district() -> AdminView {
        let school = School {
            id: id(1),
            name: "<b>Lincoln</b> High".into(),
        };
        AdminView {
            reference: ReferenceData {
                schools: vec![
                    school.clone(),
                    School {
                        id: id(2),
                        name: "Adams".into(),
                    },
                ],
                posts: vec![Post {
                    id: id(10),
                    school_id: id(1),
                    name: "Main gate".into(),
                    orders: String::new(),
                }],
                ..Default::default()
            },
            people: vec![PersonRecord {
                id: id(20),
                username: "gia.guard".into(),
                name: "Gia Guard".into(),
                role: Role::Guard,
                schools: vec![id(1)],
                password_hash: "never shown".into(),
                active: true,
            }],
            devices: vec![],
            code: None,
        }
    }

    fn when() -> When {
        When {
            tz: chrono_tz::Tz::UTC,
            locale: super::super::Locale::EnUs,
        }
    }

    #[test]
    fn the_admin_page_escapes_names_and_shows_an_issued_code_once() {
        let mut v = district();
        let page = render_admin(&v, "tok", when());
        assert!(
            page.contains("&lt;b&gt;Lincoln&lt;/b&gt; High"),
            "names are escaped"
        );
        assert!(!page.contains("<b>Lincoln</b>"));
        assert!(page.contains("Gia Guard") && page.contains("Main gate"));
        assert!(!page.contains("never shown"), "no credential on the page");
        assert!(!page.contains("ABCD-2345"));
        v.code = Some(EnrollmentCode {
            code: "ABCD-2345".into(),
            expires_at: chrono::DateTime::UNIX_EPOCH,
        });
        let page = render_admin(&v, "tok", when());
        assert_eq!(page.matches("ABCD-2345").count(), 1, "the code, once");
    }

    #[test]
    fn a_persons_page_starts_from_their_role_schools_and_access() {
        let v = district();
        let page = render_person_page(&v.people[0], &v.reference.schools, "tok");
        assert!(page.contains(&format!(r#"<option value="{}" selected>"#, id(1))));
        assert!(page.contains(&format!(r#"<option value="{}">Adams"#, id(2))));
        assert!(page.contains(r#"value="guard" selected"#), "{page}");
        assert!(page.contains(r#"value="yes" checked"#), "may sign in");
        assert!(
            page.contains(r#"value="tok""#),
            "the form carries the token"
        );
    }

    #[test]
    fn a_records_page_posts_to_its_own_address_with_the_token() {
        let v = district();
        let fields = post_fields(&v.reference, Some(&v.reference.posts[0]));
        let page = render_record_page(Kind::Post, id(10), "Main gate", &fields, "tok");
        assert!(page.contains(&format!(r#"action="/console/admin/posts/{}""#, id(10))));
        assert!(page.contains(r#"value="tok""#));
        assert!(page.contains(r#"value="Main gate""#), "prefilled");
        assert!(page.contains(&format!(r#"<option value="{}" selected>"#, id(1))));
    }
}

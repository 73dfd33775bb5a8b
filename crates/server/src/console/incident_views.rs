//! The incident and note pages' views: what the handlers of [`super::incidents`] load
//! ([`IncidentListView`], [`IncidentView`], [`NotesView`]) and the pure functions that write
//! each page as HTML from it, so the pages can be tested without HTTP. Every interpolated
//! value goes through [`html::esc`]; coded values are written with their labels.

use std::collections::HashMap;
use std::fmt::Write;

use rounds_domain::document::{Header, IncidentBody, NoteBody};
use rounds_domain::model::{IncidentStatus, IncidentType, ReferenceData};
use uuid::Uuid;

use super::When;
use super::html::{self, csrf_field, esc};
use super::incidents::{HistoryEntry, LIST_LIMIT, action_label};
use super::locale::count;
use super::photos::thumbnails;
use crate::storage::console::IncidentRow;

/// The incident list: the filter as chosen and the rows it found.
#[derive(Debug, Clone)]
pub struct IncidentListView {
    /// One school, or all the viewer's.
    pub school: Option<Uuid>,
    /// One type, or any.
    pub incident_type: Option<IncidentType>,
    /// One status, or any.
    pub status: Option<IncidentStatus>,
    /// The first day, as typed (`YYYY-MM-DD`, or empty).
    pub from: String,
    /// The last day, as typed.
    pub to: String,
    /// The viewer's reference data (schools and people, for names).
    pub reference: ReferenceData,
    /// The incidents found, at most [`LIST_LIMIT`].
    pub rows: Vec<IncidentRow>,
}

/// One incident with its history, for its page.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// Its id.
    pub id: Uuid,
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: IncidentBody,
    /// Every change, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Names of people and schools by id.
    pub names: HashMap<Uuid, String>,
    /// Names of devices by id (a console's as "console (name)").
    pub devices: HashMap<Uuid, String>,
    /// Whether the viewer may review it now (the review form is shown).
    pub may_review: bool,
}

/// The contact notes shared with the viewer.
#[derive(Debug, Clone)]
pub struct NotesView {
    /// Each note the viewer may read.
    pub notes: Vec<(Header, NoteBody)>,
    /// Names of people by id.
    pub names: HashMap<Uuid, String>,
}

/// The incident list page: the filter form and the table.
pub fn render_incident_list(v: &IncidentListView, when: When) -> String {
    let reference = &v.reference;
    let (school, incident_type, status, rows) = (v.school, v.incident_type, v.status, &v.rows);
    let names: HashMap<Uuid, &str> = reference
        .schools
        .iter()
        .map(|s| (s.id, s.name.as_str()))
        .chain(reference.people.iter().map(|p| (p.id, p.name.as_str())))
        .collect();
    let mut b = String::new();
    let mut school_opts = vec![(String::new(), "All my schools".to_string())];
    school_opts.extend(
        reference
            .schools
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
    );
    let mut type_opts = vec![("", "Any type")];
    type_opts.extend(IncidentType::ALL.iter().map(|t| (t.code(), t.label())));
    let mut status_opts = vec![("", "Any status")];
    status_opts.extend(IncidentStatus::ALL.iter().map(|s| (s.code(), s.label())));
    let _ = write!(
        b,
        r#"<h2>Incidents</h2><form method="get" action="/console/incidents" class="filters">
<label>School <select name="school">{}</select></label>
<label>Type <select name="type">{}</select></label>
<label>Status <select name="status">{}</select></label>
<label>From <input type="date" name="from" value="{}"></label>
<label>To <input type="date" name="to" value="{}"></label>
<button type="submit">Filter</button></form>"#,
        html::options(
            school_opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            &school.map(|s| s.to_string()).unwrap_or_default()
        ),
        html::options(
            type_opts.iter().copied(),
            incident_type.map(|t| t.code()).unwrap_or("")
        ),
        html::options(
            status_opts.iter().copied(),
            status.map(|s| s.code()).unwrap_or("")
        ),
        esc(&v.from),
        esc(&v.to),
    );
    let _ = write!(
        b,
        r#"<p class="summary">{}{}.</p><table class="incidents"><thead><tr><th>Occurred</th><th>School</th><th>Type</th><th>Reporting category</th><th>Location</th><th>Status</th><th>Reported by</th></tr></thead><tbody>"#,
        count(rows.len() as u64, "incident", "incidents"),
        if rows.len() >= LIST_LIMIT {
            " (the first ones; narrow the filter)"
        } else {
            ""
        }
    );
    for r in rows {
        let (ty, status) = (r.incident_type, r.status);
        let _ = write!(
            b,
            r#"<tr class="status-{}"><td>{}</td><td>{}</td><td><a href="/console/incidents/{}">{}</a></td><td>{}</td><td>{}</td><td><span class="badge {}">{}</span></td><td>{}</td></tr>"#,
            status.code(),
            when.date_time(r.occurred_at),
            esc(names.get(&r.header.school_id).copied().unwrap_or("?")),
            r.header.id,
            esc(ty.label()),
            esc(ty.reporting_category()),
            esc(&r.location),
            status.code(),
            esc(status.label()),
            esc(names.get(&r.header.author_id).copied().unwrap_or("?")),
        );
    }
    b.push_str("</tbody></table>");
    b
}

/// An incident's page, with the review form (carrying `csrf`) when the viewer may review it,
/// and the form that downloads its verifiable export.
pub fn render_incident(v: &IncidentView, csrf: &str, when: When) -> String {
    let (id, h, body, names, devices) = (v.id, &v.header, &v.body, &v.names, &v.devices);
    let name = |id: &Uuid| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h2>Incident: {}</h2><p><span class="badge {}">{}</span> {}</p><dl class="record">
<dt>School</dt><dd>{}</dd><dt>Reporting category</dt><dd>{}</dd><dt>Location</dt><dd>{}</dd>
<dt>Occurred</dt><dd>{}</dd><dt>Reported</dt><dd>{} by {}</dd><dt>Submitted</dt><dd>{}</dd>
<dt>Review comment</dt><dd>{}</dd><dt>Photos</dt><dd>{}</dd></dl>"#,
        esc(body.incident_type.label()),
        body.status,
        body.status.label(),
        esc(&format!("Record {id}")),
        esc(&name(&h.school_id)),
        esc(body.incident_type.reporting_category()),
        esc(&body.location),
        when.date_time(body.occurred_at),
        when.date_time(body.reported_at),
        esc(&name(&h.author_id)),
        body.submitted_at
            .map(|t| when.date_time(t))
            .unwrap_or_else(|| "—".into()),
        esc(body.review_comment.as_deref().unwrap_or("—")),
        body.photos.len(),
    );
    b.push_str("<h3>People involved</h3>");
    if body.people.is_empty() {
        b.push_str("<p class=\"none\">None recorded.</p>");
    } else {
        b.push_str("<table><thead><tr><th>Name</th><th>Category</th><th>Involvement</th><th>Juvenile</th><th>Reference</th></tr></thead><tbody>");
        for p in &body.people {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.name),
                p.category.label(),
                p.involvement.label(),
                if p.juvenile { "yes" } else { "no" },
                esc(p.reference.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>");
    }
    let _ = write!(
        b,
        r#"<h3>Narrative</h3><p class="text">{}</p><h3>Actions taken</h3><p class="text">{}</p>"#,
        esc(&body.narrative),
        esc(&body.actions)
    );
    if !body.photos.is_empty() {
        let _ = write!(
            b,
            r#"<h3>Photos</h3><p class="photos">{}</p>"#,
            thumbnails(id, &body.photos)
        );
    }
    if !body.supplements.is_empty() {
        b.push_str("<h3>Supplements</h3><ul>");
        for s in &body.supplements {
            let _ = write!(
                b,
                "<li>{} — {}: {}</li>",
                when.date_time(s.at),
                esc(&name(&s.author_id)),
                esc(&s.text)
            );
        }
        b.push_str("</ul>");
    }
    if v.may_review {
        let _ = write!(
            b,
            r#"<h3>Review</h3><form method="post" action="/console/incidents/{id}/review" class="review">{}
<label>Comment (required to return) <textarea name="comment" rows="3" maxlength="5000"></textarea></label>
<button name="decision" value="approve" type="submit">Approve</button>
<button name="decision" value="return" type="submit" class="secondary">Return with comment</button></form>"#,
            csrf_field(csrf)
        );
    }
    let _ = write!(
        b,
        r#"<h3>Verifiable export</h3><form method="post" action="/console/incidents/{id}/export" class="export">{}
<p class="hint">One file holding the report as PDF and JSON, every change with its signature, the photos and the audit trail about it. Anyone can check it with <code>rounds-server verify</code>, without the server. The download is recorded in the audit trail.</p>
<button type="submit" class="secondary">Download verifiable export</button></form>"#,
        csrf_field(csrf)
    );
    b.push_str(r#"<h3>History</h3><table class="history"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Effect</th><th>Device</th><th>Change</th></tr></thead><tbody>"#);
    for e in &v.history {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            when.date_time(e.at),
            esc(&e.by.map(|p| name(&p)).unwrap_or_else(|| "?".into())),
            esc(action_label(&e.action)),
            esc(&e.effect),
            esc(&e
                .device
                .map(|d| devices.get(&d).cloned().unwrap_or_else(|| d.to_string()))
                .unwrap_or_else(|| "?".into())),
            esc(&e.hash)
        );
    }
    b.push_str("</tbody></table>");
    b
}

/// The notes page.
pub fn render_notes(v: &NotesView, when: When) -> String {
    let mut b = String::from(
        r#"<h2>Contact notes shared with you</h2><p class="hint">Student-contact notes are restricted: you see only those their author shared with you.</p><table class="notes"><thead><tr><th>Contact</th><th>Student</th><th>Type</th><th>Reason</th><th>Outcome</th><th>Referral</th><th>Follow-up</th><th>Author</th></tr></thead><tbody>"#,
    );
    for (h, note) in &v.notes {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            when.date_time(note.contacted_at),
            esc(&note.student_name),
            esc(&note.student_ref),
            note.contact_type.label(),
            esc(&note.reason),
            esc(&note.outcome),
            note.referral.label(),
            note.follow_up_on.map(|d| when.date(d)).unwrap_or_default(),
            esc(v.names.get(&h.author_id).map(String::as_str).unwrap_or("?")),
        );
    }
    b.push_str("</tbody></table>");
    if v.notes.is_empty() {
        b.push_str(r#"<p class="none">No notes are shared with you.</p>"#);
    }
    b
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use rounds_domain::model::{Classification, ContactType, DocKind, Referral, School};

    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 15, 5, 0)
            .single()
            .unwrap_or_default()
    }

    fn header(kind: DocKind) -> Header {
        Header {
            id: id(100),
            kind,
            school_id: id(1),
            author_id: id(20),
            device_id: id(30),
            created_at: at(),
            classification: Classification::RestrictedLawEnforcement,
        }
    }

    fn when() -> When {
        When {
            tz: chrono_tz::Tz::UTC,
            locale: super::super::Locale::EnUs,
        }
    }

    fn incident() -> IncidentView {
        IncidentView {
            id: id(100),
            header: header(DocKind::Incident),
            body: IncidentBody {
                incident_type: IncidentType::FightAssault,
                location: "<Gym>".into(),
                occurred_at: at(),
                reported_at: at(),
                status: IncidentStatus::Submitted,
                submitted_at: Some(at()),
                review_comment: None,
                people: vec![],
                narrative: "Two students & a <script>.".into(),
                actions: String::new(),
                supplements: vec![],
                photos: vec![],
            },
            history: vec![],
            names: HashMap::from([
                (id(1), "Lincoln High".to_string()),
                (id(20), "Olga SRO".to_string()),
            ]),
            devices: HashMap::new(),
            may_review: false,
        }
    }

    #[test]
    fn the_incident_list_writes_labels_escaped_and_the_count_in_words() {
        let v = IncidentListView {
            school: None,
            incident_type: None,
            status: None,
            from: "2026-12-01".into(),
            to: String::new(),
            reference: ReferenceData {
                schools: vec![School {
                    id: id(1),
                    name: "Lincoln High".into(),
                }],
                ..Default::default()
            },
            rows: vec![IncidentRow {
                header: header(DocKind::Incident),
                incident_type: IncidentType::FightAssault,
                status: IncidentStatus::Submitted,
                location: "<Gym>".into(),
                occurred_at: at(),
                submitted_at: None,
            }],
        };
        let page = render_incident_list(&v, when());
        assert!(page.contains("1 incident."), "{page}");
        assert!(page.contains(IncidentType::FightAssault.label()));
        assert!(!page.contains(">fight_assault<"), "no raw code shown");
        assert!(page.contains("&lt;Gym&gt;") && !page.contains("<Gym>"));
        assert!(
            page.contains(r#"value="2026-12-01""#),
            "the filter as chosen"
        );
        assert!(page.contains("12/01/2026"), "dates in the locale: {page}");
    }

    #[test]
    fn an_incident_page_offers_the_review_form_only_when_the_viewer_may_review() {
        let mut v = incident();
        let page = render_incident(&v, "tok", when());
        assert!(page.contains("Lincoln High") && page.contains("Olga SRO"));
        assert!(page.contains("Two students &amp; a &lt;script&gt;."));
        assert!(!page.contains("/review"), "no review form");
        assert!(
            page.contains(
                r#"action="/console/incidents/00000000-0000-0000-0000-000000000064/export""#
            ) && page.contains(r#"value="tok""#),
            "every viewer may download the export, with the session's token"
        );
        v.may_review = true;
        let page = render_incident(&v, "tok", when());
        assert!(page.contains(
            r#"action="/console/incidents/00000000-0000-0000-0000-000000000064/review""#
        ));
        assert!(page.contains(r#"value="tok""#));
    }

    #[test]
    fn the_notes_page_says_when_nothing_is_shared() {
        let empty = NotesView {
            notes: vec![],
            names: HashMap::new(),
        };
        assert!(render_notes(&empty, when()).contains("No notes are shared with you."));
        let note = NoteBody {
            student_ref: "S-1".into(),
            student_name: "Ana <Lopez>".into(),
            contact_type: ContactType::Mentoring,
            reason: "Check-in".into(),
            outcome: String::new(),
            referral: Referral::Counselor,
            follow_up_on: None,
            shared_with: vec![],
            contacted_at: at(),
        };
        let v = NotesView {
            notes: vec![(header(DocKind::ContactNote), note)],
            names: HashMap::from([(id(20), "Olga SRO".to_string())]),
        };
        let page = render_notes(&v, when());
        assert!(!page.contains("No notes are shared"));
        assert!(page.contains("Ana &lt;Lopez&gt; (S-1)") && page.contains("Olga SRO"));
        assert!(page.contains(Referral::Counselor.label()));
    }
}

//! Incidents in the console: a list by school, type, status and date; a detail page with the
//! record and the full history of its changes (who, what, when, from which device, read from
//! each stored automerge change: its actor is the device, its message `{"action","by"}` and
//! its time are what `rounds_core::document::change` wrote); and the supervisor's review.
//!
//! A review is a real automerge change to the incident, made as the supervisor with the same
//! core function a supervisor's phone uses ([`document::set_incident_status`]), by the
//! supervisor's console device ([`console_device`]: an id derived from the person, so each
//! supervisor's console is one stable automerge actor), and stored through
//! [`crate::sync::process_push`] exactly like a pushed change: the same write rules, the same
//! change feed, so the officer's device gets it at its next sync.
//!
//! Also here: the contact notes shared with the signed-in supervisor (`/console/notes`).

use std::collections::HashMap;
use std::fmt::Write;

use automerge::{ActorId, Automerge, Change};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeZone, Utc};
use rounds_core::document::{self, Header, IncidentBody};
use rounds_core::model::{DocKind, IncidentStatus, IncidentType, ReviewDecision, Role};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::html::{self, csrf_field, esc, url_param};
use super::locale::count;
use super::params::{Query, RecordId, opt_id, visible_schools};
use super::photos::thumbnails;
use super::session::CsrfForm;
use super::{
    ConsoleError, ConsoleResult, ConsoleUser, blocking, day_bounds, html_response, parse_day,
};
use crate::AppState;
use crate::access;
use crate::auth::DeviceSession;
use crate::storage::console::IncidentFilter;
use crate::storage::{PersonRecord, Storage};

/// Most incidents on one list page.
pub const LIST_LIMIT: usize = 500;

/// The device id of a person's console: the first 16 bytes of
/// `SHA-256("rounds-console-device:" + person id)`, as a version-8 UUID. Stable across
/// restarts and servers, distinct per person, never an enrolled device's id (those are v7).
pub fn console_device(person: Uuid) -> Uuid {
    let d = Sha256::digest(format!("rounds-console-device:{person}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// Loads a stored document into automerge.
pub fn load(storage: &dyn Storage, id: Uuid) -> ConsoleResult<(Automerge, Vec<Change>)> {
    let doc = storage
        .document(id)?
        .ok_or_else(|| ConsoleError::NotFound("no such record".into()))?;
    doc.to_automerge_and_changes()
        .map_err(ConsoleError::Internal)
}

/// The header of a record `person` may read, or 404 (unknown and invisible look the same).
pub fn readable(
    storage: &dyn Storage,
    person: &PersonRecord,
    id: Uuid,
    kind: DocKind,
) -> ConsoleResult<(Header, Vec<Uuid>)> {
    let not_found = || ConsoleError::NotFound("no such record, or not one of yours".into());
    let (h, readers) = storage.header(id)?.ok_or_else(not_found)?;
    if h.kind != kind || !access::may_read(&crate::auth::viewer(person), &h, &readers) {
        return Err(not_found());
    }
    Ok((h, readers))
}

/// Approves or returns a submitted incident as `person` (a supervisor of its school), by
/// their console device, through the sync push path.
pub fn review_incident(
    storage: &dyn Storage,
    person: &PersonRecord,
    id: Uuid,
    decision: ReviewDecision,
    comment: &str,
    now: DateTime<Utc>,
) -> ConsoleResult<()> {
    rounds_core::model::text(
        "review.comment",
        comment,
        0,
        rounds_core::limits::REVIEW_COMMENT_CHARS,
    )?;
    if decision == ReviewDecision::Return && comment.trim().is_empty() {
        return Err(ConsoleError::BadRequest(
            "to return an incident, say what needs to change".into(),
        ));
    }
    let (header, _) = readable(storage, person, id, DocKind::Incident)?;
    if person.role != Role::Supervisor || !access::may_write(&crate::auth::viewer(person), &header)
    {
        return Err(ConsoleError::Forbidden(
            "only a supervisor of this school reviews incidents".into(),
        ));
    }
    let device = console_device(person.id);
    let (am, _) = load(storage, id)?;
    let mut am = am.with_actor(document::actor_for(device));
    let body = document::read_incident(&am)?;
    if !matches!(
        body.status,
        IncidentStatus::Submitted | IncidentStatus::Amended
    ) {
        return Err(ConsoleError::Conflict(format!(
            "this incident is {}, not submitted",
            body.status
        )));
    }
    let status = match decision {
        ReviewDecision::Approve => IncidentStatus::Approved,
        ReviewDecision::Return => IncidentStatus::Returned,
    };
    document::change(&mut am, now, person.id, "review_incident", |tx| {
        document::set_incident_status(tx, status, now, Some(comment))
    })?;
    let change = am
        .get_last_local_change()
        .ok_or_else(|| ConsoleError::Internal("the review made no change".into()))?;
    let session = DeviceSession {
        person: person.clone(),
        device_id: device,
    };
    let resp = crate::sync::process_push(storage, &session, vec![(header, vec![change])])?;
    if let Some(r) = resp.rejected.first() {
        return Err(ConsoleError::Conflict(format!(
            "the review was not stored: {}",
            r.message
        )));
    }
    tracing::info!(incident = %id, person = %person.id, ?decision, "incident reviewed in the console");
    Ok(())
}

/// One entry of a record's history.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// When (the change's time, from the device's clock).
    pub at: DateTime<Utc>,
    /// What (the action name the app wrote).
    pub action: String,
    /// Who (person id from the change message).
    pub by: Option<Uuid>,
    /// From which device (the change's actor).
    pub device: Option<Uuid>,
    /// What it changed, as read from the record after it.
    pub effect: String,
    /// The change's hash (short).
    pub hash: String,
}

/// The history of an incident, oldest first, with what each change did to it.
pub fn history(changes: &[Change]) -> Vec<HistoryEntry> {
    let mut am = Automerge::new();
    let mut before: Option<IncidentBody> = None;
    let mut out = Vec::with_capacity(changes.len());
    for c in changes {
        let msg: serde_json::Value = c
            .message()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let _ = am.apply_changes([c.clone()]);
        let after = document::read_incident(&am).ok();
        let effect = match (&before, &after) {
            (_, None) => String::new(),
            (None, Some(a)) => format!(
                "created: {} at {}, {}",
                a.incident_type.label(),
                a.location,
                a.status.label().to_lowercase()
            ),
            (Some(b), Some(a)) => effect(b, a),
        };
        before = after;
        let actor: &ActorId = c.actor_id();
        out.push(HistoryEntry {
            at: Utc
                .timestamp_opt(c.timestamp(), 0)
                .single()
                .unwrap_or_default(),
            action: msg["action"].as_str().unwrap_or("(unknown)").to_string(),
            by: msg["by"].as_str().and_then(|s| s.parse().ok()),
            device: Uuid::from_slice(actor.to_bytes()).ok(),
            effect,
            hash: hex::encode(&c.hash().0[..6]),
        });
    }
    out
}

/// What a change's action code (the `action` of its message, see `document::change`) means,
/// as the history shows it.
pub fn action_label(action: &str) -> &'static str {
    match action {
        "create_incident" => "Incident created",
        "edit_incident" => "Incident edited",
        "submit_incident" => "Submitted for review",
        "review_incident" => "Reviewed",
        "add_supplement" => "Supplement added",
        "start_shift" => "Shift started",
        "record_check" => "Check recorded",
        "end_shift" => "Shift ended",
        "write_note" => "Note written",
        "edit_note" => "Note edited",
        _ => "Changed",
    }
}

fn effect(b: &IncidentBody, a: &IncidentBody) -> String {
    let mut parts = Vec::new();
    if a.status != b.status {
        parts.push(format!(
            "status {} → {}",
            b.status.label().to_lowercase(),
            a.status.label().to_lowercase()
        ));
    }
    if a.review_comment != b.review_comment
        && let Some(c) = a.review_comment.as_deref().filter(|c| !c.is_empty())
    {
        parts.push(format!("review comment “{c}”"));
    }
    if a.incident_type != b.incident_type {
        parts.push(format!("type → {}", a.incident_type.label()));
    }
    if a.location != b.location {
        parts.push(format!("location → {}", a.location));
    }
    if a.occurred_at != b.occurred_at {
        parts.push("time of the incident changed".into());
    }
    if a.narrative != b.narrative {
        parts.push(format!(
            "narrative edited ({} → {} characters)",
            b.narrative.chars().count(),
            a.narrative.chars().count()
        ));
    }
    if a.actions != b.actions {
        parts.push("actions taken edited".into());
    }
    if a.people.len() != b.people.len() {
        parts.push(format!(
            "{} involved",
            count(a.people.len() as u64, "person", "people")
        ));
    }
    if a.supplements.len() > b.supplements.len() {
        parts.push("supplement added".into());
    }
    if a.photos.len() > b.photos.len() {
        parts.push(format!(
            "{} added",
            count((a.photos.len() - b.photos.len()) as u64, "photo", "photos")
        ));
    }
    if parts.is_empty() {
        "no visible change".into()
    } else {
        parts.join("; ")
    }
}

/// Query of the incident list.
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    /// School id.
    pub school: Option<String>,
    /// Type code.
    #[serde(rename = "type")]
    pub incident_type: Option<String>,
    /// Status code.
    pub status: Option<String>,
    /// From date (occurred), inclusive.
    pub from: Option<String>,
    /// To date (occurred), inclusive.
    pub to: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `GET /console/incidents`.
pub async fn list(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<ListQuery>,
) -> ConsoleResult<Response> {
    let now = state.now();
    let when = state.when();
    let school = opt_id(q.school.as_deref(), "school")?;
    let incident_type = nonempty(&q.incident_type)
        .map(|t| IncidentType::parse(t, "type"))
        .transpose()?;
    let status = nonempty(&q.status)
        .map(|t| IncidentStatus::parse(t, "status"))
        .transpose()?;
    let from = nonempty(&q.from)
        .map(|d| parse_day(Some(d), now, when.tz).map(|d| day_bounds(d, when.tz).0))
        .transpose()?;
    let to = nonempty(&q.to)
        .map(|d| parse_day(Some(d), now, when.tz).map(|d| day_bounds(d, when.tz).1))
        .transpose()?;
    let storage = state.storage.clone();
    blocking(move || {
        let v = user.viewer();
        let reference = storage.reference_for(&v)?;
        let schools = visible_schools(&reference, school)?;
        let rows = user.db.incidents(&IncidentFilter {
            schools: Some(schools.iter().map(|s| s.id).collect()),
            incident_type: incident_type.map(|t| t.code().to_string()),
            status: status.map(|s| s.code().to_string()),
            from,
            to,
            limit: LIST_LIMIT,
        })?;
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
            esc(nonempty(&q.from).unwrap_or("")),
            esc(nonempty(&q.to).unwrap_or("")),
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
        for r in &rows {
            let ty = IncidentType::parse(&r.incident_type, "type").unwrap_or(IncidentType::Other);
            let status = IncidentStatus::parse(&r.status, "status")
                .map(IncidentStatus::label)
                .unwrap_or("Unknown status");
            let _ = write!(
                b,
                r#"<tr class="status-{}"><td>{}</td><td>{}</td><td><a href="/console/incidents/{}">{}</a></td><td>{}</td><td>{}</td><td><span class="badge {}">{}</span></td><td>{}</td></tr>"#,
                esc(&r.status),
                when.date_time(r.occurred_at),
                esc(names.get(&r.header.school_id).copied().unwrap_or("?")),
                r.header.id,
                esc(ty.label()),
                esc(ty.reporting_category()),
                esc(&r.location),
                esc(&r.status),
                esc(status),
                esc(names.get(&r.header.author_id).copied().unwrap_or("?")),
            );
        }
        b.push_str("</tbody></table>");
        Ok(html_response(
            StatusCode::OK,
            html::page("Incidents", Some(&user.chrome()), &b),
        ))
    })
    .await
}

/// `GET /console/incidents/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    RecordId(id): RecordId,
) -> ConsoleResult<Response> {
    let when = state.when();
    let storage = state.storage.clone();
    blocking(move || {
        let (h, _) = readable(storage.as_ref(), &user.person, id, DocKind::Incident)?;
        let (am, changes) = load(storage.as_ref(), id)?;
        let body = document::read_incident(&am)?;
        let entries = history(&changes);
        let v = user.viewer();
        let reference = storage.reference_for(&v)?;
        let mut names: HashMap<Uuid, String> = storage
            .people()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        for s in &reference.schools {
            names.insert(s.id, s.name.clone());
        }
        let mut devices: HashMap<Uuid, String> = storage
            .devices()?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        for e in &entries {
            if let Some(by) = e.by
                && e.device == Some(console_device(by))
            {
                let who = names.get(&by).cloned().unwrap_or_default();
                devices.insert(console_device(by), format!("console ({who})"));
            }
        }
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
            body.submitted_at.map(|t| when.date_time(t)).unwrap_or_else(|| "—".into()),
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
        if user.person.role == Role::Supervisor
            && access::may_write(&v, &h)
            && h.author_id != user.person.id
            && matches!(
                body.status,
                IncidentStatus::Submitted | IncidentStatus::Amended
            )
        {
            let _ = write!(
                b,
                r#"<h3>Review</h3><form method="post" action="/console/incidents/{id}/review" class="review">{}
<label>Comment (required to return) <textarea name="comment" rows="3" maxlength="5000"></textarea></label>
<button name="decision" value="approve" type="submit">Approve</button>
<button name="decision" value="return" type="submit" class="secondary">Return with comment</button></form>"#,
                csrf_field(&user.csrf)
            );
        }
        b.push_str(r#"<h3>History</h3><table class="history"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Effect</th><th>Device</th><th>Change</th></tr></thead><tbody>"#);
        for e in &entries {
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
        Ok(html_response(
            StatusCode::OK,
            html::page("Incident", Some(&user.chrome()), &b),
        ))
    })
    .await
}

/// The review form (its token is checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
pub struct ReviewForm {
    /// `approve` or `return`.
    pub decision: String,
    /// Comment.
    #[serde(default)]
    pub comment: String,
}

/// `POST /console/incidents/{id}/review`.
pub async fn review(
    State(state): State<AppState>,
    user: ConsoleUser,
    RecordId(id): RecordId,
    CsrfForm(f): CsrfForm<ReviewForm>,
) -> ConsoleResult<Response> {
    let decision = match f.decision.as_str() {
        "approve" => ReviewDecision::Approve,
        "return" => ReviewDecision::Return,
        _ => {
            return Err(ConsoleError::BadRequest(
                "decision: approve or return".into(),
            ));
        }
    };
    let now = state.now();
    let storage = state.storage.clone();
    blocking(move || {
        review_incident(
            storage.as_ref(),
            &user.person,
            id,
            decision,
            f.comment.trim(),
            now,
        )
    })
    .await?;
    Ok(Redirect::to(&format!(
        "/console/incidents/{}",
        url_param(&id.to_string())
    ))
    .into_response())
}

/// `GET /console/notes`: the contact notes the signed-in person may read (for a supervisor:
/// those shared with them; for an administrator: none, as the design's table says).
pub async fn notes(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult<Response> {
    let when = state.when();
    let storage = state.storage.clone();
    blocking(move || {
        let v = user.viewer();
        let names: HashMap<Uuid, String> = storage
            .people()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let mut b = String::from(
            r#"<h2>Contact notes shared with you</h2><p class="hint">Student-contact notes are restricted: you see only those their author shared with you.</p><table class="notes"><thead><tr><th>Contact</th><th>Student</th><th>Type</th><th>Reason</th><th>Outcome</th><th>Referral</th><th>Follow-up</th><th>Author</th></tr></thead><tbody>"#,
        );
        let mut n = 0;
        for h in user.db.notes_of(user.person.id)? {
            let Some((h, readers)) = storage.header(h.id)? else {
                continue;
            };
            if !access::may_read(&v, &h, &readers) {
                continue;
            }
            let (am, _) = load(storage.as_ref(), h.id)?;
            let note = document::read_note(&am)?;
            n += 1;
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
                esc(names.get(&h.author_id).map(String::as_str).unwrap_or("?")),
            );
        }
        b.push_str("</tbody></table>");
        if n == 0 {
            b.push_str(r#"<p class="none">No notes are shared with you.</p>"#);
        }
        Ok(html_response(
            StatusCode::OK,
            html::page("Shared notes", Some(&user.chrome()), &b),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_devices_are_stable_per_person_and_not_v7() {
        let a = console_device(Uuid::from_u128(1));
        assert_eq!(a, console_device(Uuid::from_u128(1)), "deterministic");
        assert_ne!(a, console_device(Uuid::from_u128(2)), "one per person");
        assert_eq!(
            a.get_version_num(),
            8,
            "never collides with enrolled (v7) devices"
        );
    }

    #[test]
    fn every_action_the_apps_record_reads_as_words() {
        for a in [
            "create_incident",
            "edit_incident",
            "submit_incident",
            "review_incident",
            "add_supplement",
            "start_shift",
            "record_check",
            "end_shift",
            "write_note",
            "edit_note",
        ] {
            let l = action_label(a);
            assert_ne!(l, "Changed", "{a} has its own words");
            assert!(!l.contains('_'), "{a}: {l}");
        }
        assert_eq!(action_label("review_incident"), "Reviewed");
        assert_eq!(
            action_label("something_new"),
            "Changed",
            "never the raw code"
        );
    }

    #[test]
    fn photos_are_served_with_their_image_type_only() {
        let image_type = |b: &[u8]| rounds_core::model::ImageType::of(b).map(|t| t.mime());
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(
            image_type(b"<svg onload=alert(1)>"),
            None,
            "never as markup"
        );
    }
}

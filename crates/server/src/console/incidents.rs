//! Incidents in the console: a list by school, type, status and date; a detail page with the
//! record and the full history of its changes (who, what, when, from which device, read from
//! each stored automerge change: its actor is the device, its message `{"action","by"}` and
//! its time are what `rounds_domain::document::change` wrote); and the supervisor's review.
//!
//! A review is a real automerge change to the incident, made as the supervisor with the same
//! core function a supervisor's phone uses ([`document::set_incident_status`]), by the
//! supervisor's console device ([`console_device`]: an id derived from the person, so each
//! supervisor's console is one stable automerge actor), and stored through
//! [`crate::sync::process_push`] exactly like a pushed change: the same write rules, the same
//! change feed, so the officer's device gets it at its next sync.
//!
//! Also here: the contact notes shared with the signed-in supervisor (`/console/notes`), and
//! an incident's verifiable export bundle ([`export`], docs/evidence.md).

use std::collections::HashMap;

use automerge::{ActorId, Automerge, Change};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeZone, Utc};
use rounds_domain::document::{self, Header, IncidentBody};
use rounds_domain::model::{DocKind, IncidentStatus, IncidentType, ReviewDecision, Role};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::html::{self, url_param};
use super::incident_views::{
    IncidentListView, IncidentView, NotesView, render_incident, render_incident_list, render_notes,
};
use super::locale::count;
use super::params::{Query, RecordId, opt_id, visible_schools};
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
///
/// The review's change is signed with the server's console key `key` for `person` (the
/// session proved who they are; the key proves the server stored it for them).
pub fn review_incident(
    storage: &dyn Storage,
    key: &rounds_domain::signing::SigningSecret,
    person: &PersonRecord,
    id: Uuid,
    decision: ReviewDecision,
    comment: &str,
    now: DateTime<Utc>,
) -> ConsoleResult<()> {
    rounds_domain::model::text(
        "review.comment",
        comment,
        0,
        rounds_domain::limits::REVIEW_COMMENT_CHARS,
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
    let hash = change.hash().0;
    let push = crate::sync::ParsedPush {
        signatures: std::collections::HashMap::from([(
            id,
            vec![crate::sync::PushedSignature {
                change: hash,
                person: person.id,
                key: key.public(),
                signature: key.sign_change(id, person.id, &hash).to_vec(),
            }],
        )]),
        docs: vec![(header, vec![change])],
    };
    let console_key = crate::storage::SigningKeyRecord {
        public_key: key.public(),
        person_id: person.id,
        device_id: device,
        registered_at: now,
        revoked_at: None,
    };
    let resp = crate::sync::process_push(storage, &session, push, &[console_key], now)?;
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
        let rows = storage.incidents(&IncidentFilter {
            schools: Some(schools.iter().map(|s| s.id).collect()),
            incident_type,
            status,
            from,
            to,
            limit: LIST_LIMIT,
        })?;
        let view = IncidentListView {
            school,
            incident_type,
            status,
            from: nonempty(&q.from).unwrap_or("").to_string(),
            to: nonempty(&q.to).unwrap_or("").to_string(),
            reference,
            rows,
        };
        let b = render_incident_list(&view, when);
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
    let now = state.now();
    let storage = state.storage.clone();
    blocking(move || {
        let (h, _) = readable(storage.as_ref(), &user.person, id, DocKind::Incident)?;
        storage.append_audit(&[crate::audit::NewEntry::console_view(
            now,
            user.person.id,
            "incident",
            &[id],
        )])?;
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
        let may_review = user.person.role == Role::Supervisor
            && access::may_write(&v, &h)
            && h.author_id != user.person.id
            && matches!(
                body.status,
                IncidentStatus::Submitted | IncidentStatus::Amended
            );
        let view = IncidentView {
            id,
            header: h,
            body,
            history: entries,
            names,
            devices,
            may_review,
        };
        let b = render_incident(&view, &user.csrf, when);
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
    let key = state.console_key();
    blocking(move || {
        review_incident(
            storage.as_ref(),
            &key,
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

/// An empty form (only its token, checked by [`CsrfForm`]).
#[derive(Debug, Deserialize)]
pub struct EmptyForm {}

/// `POST /console/incidents/{id}/export`: the incident's verifiable export bundle
/// ([`crate::evidence::export_incident`]), signed with the district's console key, for
/// whoever the console shows the incident to. A POST (with the session's token), because
/// it writes to the audit trail: the export's entry, naming the bundle's manifest, is stored
/// before the file is sent.
pub async fn export(
    State(state): State<AppState>,
    user: ConsoleUser,
    RecordId(id): RecordId,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> ConsoleResult<Response> {
    let now = state.now();
    let storage = state.storage.clone();
    let key = state.console_key();
    let fonts = state
        .fonts()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let (bytes, name) = blocking(move || {
        let (h, _) = readable(storage.as_ref(), &user.person, id, DocKind::Incident)?;
        let made = crate::evidence::export_incident(
            storage.as_ref(),
            id,
            &key,
            &fonts,
            Some(user.person.id),
            now,
        )
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
        storage.append_audit(&[crate::audit::NewEntry::exported(
            now,
            Some(user.person.id),
            id,
            &made.manifest_sha256,
            "console",
        )])?;
        let name = format!(
            "incident-{}-{}.rounds.tar",
            h.created_at.format("%Y-%m-%d"),
            &id.simple().to_string()[..8]
        );
        Ok((made.bytes, name))
    })
    .await?;
    super::report_pages::download(bytes, "application/x-tar", &name)
}

/// `GET /console/notes`: the contact notes the signed-in person may read (for a supervisor:
/// those shared with them; for an administrator: none, as the design's table says).
pub async fn notes(State(state): State<AppState>, user: ConsoleUser) -> ConsoleResult<Response> {
    let when = state.when();
    let now = state.now();
    let storage = state.storage.clone();
    blocking(move || {
        let v = user.viewer();
        let names: HashMap<Uuid, String> = storage
            .people()?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let mut notes = Vec::new();
        for h in storage.notes_of(user.person.id)? {
            let Some((h, readers)) = storage.header(h.id)? else {
                continue;
            };
            if !access::may_read(&v, &h, &readers) {
                continue;
            }
            let (am, _) = load(storage.as_ref(), h.id)?;
            notes.push((h, document::read_note(&am)?));
        }
        if !notes.is_empty() {
            let shown: Vec<Uuid> = notes.iter().map(|(h, _)| h.id).collect();
            storage.append_audit(&[crate::audit::NewEntry::console_view(
                now,
                user.person.id,
                "notes",
                &shown,
            )])?;
        }
        let b = render_notes(&NotesView { notes, names }, when);
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
        let image_type = |b: &[u8]| rounds_domain::model::ImageType::of(b).map(|t| t.mime());
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

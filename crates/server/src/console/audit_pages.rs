//! The audit trail on the console, for administrators: a search by kind, person, record and
//! dates, newest first, a page at a time, and the same search downloaded as JSON lines (each
//! entry with its position, its hash and the hash before it, so the download can be checked
//! against the chain). Every search and download is itself an entry of the trail
//! (`audit_viewed`, with the search and how many entries were shown).
//!
//! The whole chain is checked by `rounds-server audit verify` (docs/audit.md); the page says so.
//!
//! Also here: the disclosure log of contact notes ([`disclosures`]), read from the same trail.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::html::{self, esc, options, url_param};
use super::params::{Query, opt_id};
use super::session::AdminUser;
use super::{ConsoleError, ConsoleResult, When, blocking, day_bounds, html_response};
use crate::AppState;
use crate::audit::{AuditKind, AuditQuery, Entry, NewEntry};

/// Entries on one page.
pub const PAGE_ENTRIES: usize = 100;
/// Most entries in one download (a longer trail is downloaded in parts, with `before`).
pub const DOWNLOAD_ENTRIES: usize = 50_000;

/// The search's query string: every field may be empty.
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    /// An [`AuditKind`] code.
    pub kind: Option<String>,
    /// A person's id.
    pub person: Option<String>,
    /// A record's id.
    pub doc: Option<String>,
    /// The first day (`YYYY-MM-DD`, the district's zone).
    pub from: Option<String>,
    /// The last day, included.
    pub to: Option<String>,
    /// Entries before this position (the next page).
    pub before: Option<u64>,
}

fn blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl AuditParams {
    /// The search these parameters ask for (400 on a value that is not one).
    pub fn query(&self, when: When, now: DateTime<Utc>) -> ConsoleResult<AuditQuery> {
        let kind = match blank(&self.kind) {
            None => None,
            Some(k) => Some(
                AuditKind::parse(k)
                    .ok_or_else(|| ConsoleError::BadRequest(format!("kind: {k:?} is not one")))?,
            ),
        };
        let day = |s: &Option<String>| -> ConsoleResult<Option<chrono::NaiveDate>> {
            match blank(s) {
                None => Ok(None),
                Some(d) => super::parse_day(Some(d), now, when.tz).map(Some),
            }
        };
        let from = day(&self.from)?.map(|d| day_bounds(d, when.tz).0);
        let to = day(&self.to)?.map(|d| day_bounds(d, when.tz).1);
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ConsoleError::BadRequest(
                "from: the first day comes after the last".into(),
            ));
        }
        Ok(AuditQuery {
            kind,
            person: opt_id(self.person.as_deref(), "person")?,
            doc: opt_id(self.doc.as_deref(), "record")?,
            from,
            to,
            before: self.before,
        })
    }

    /// The query string of this search, without `before`.
    fn link(&self) -> String {
        let v = |s: &Option<String>| url_param(blank(s).unwrap_or(""));
        format!(
            "kind={}&amp;person={}&amp;doc={}&amp;from={}&amp;to={}",
            v(&self.kind),
            v(&self.person),
            v(&self.doc),
            v(&self.from),
            v(&self.to)
        )
    }
}

/// What the page shows.
pub struct AuditView {
    /// The search as asked.
    pub params: AuditParams,
    /// The entries found, newest first.
    pub entries: Vec<Entry>,
    /// Names of people and devices.
    pub names: HashMap<Uuid, String>,
    /// The people to choose from (id, name).
    pub people: Vec<(String, String)>,
}

/// `GET /console/admin/audit`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Query(params): Query<AuditParams>,
) -> ConsoleResult<Response> {
    let when = state.when();
    let now = state.now();
    let query = params.query(when, now)?;
    let storage = state.storage.clone();
    blocking(move || {
        let entries = storage.search_audit(&query, PAGE_ENTRIES)?;
        storage.append_audit(&[NewEntry::audit_viewed(
            now,
            user.person.id,
            &query,
            "page",
            entries.len(),
        )])?;
        let mut names = HashMap::new();
        let mut people = Vec::new();
        for p in storage.people()? {
            people.push((p.id.to_string(), format!("{} ({})", p.name, p.username)));
            names.insert(p.id, p.name);
        }
        for d in storage.devices()? {
            names.insert(d.id, d.name);
        }
        let view = AuditView {
            params,
            entries,
            names,
            people,
        };
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Audit trail",
                Some(&user.chrome()),
                &render_audit(&view, when),
            ),
        ))
    })
    .await
}

/// `GET /console/admin/audit.jsonl`: the search's entries (up to [`DOWNLOAD_ENTRIES`]),
/// newest first, one JSON object per line: `seq`, `prev`, `hash` (hex) and `body` (the text
/// hashed, as stored).
pub async fn download(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Query(params): Query<AuditParams>,
) -> ConsoleResult<Response> {
    let now = state.now();
    let query = params.query(state.when(), now)?;
    let storage = state.storage.clone();
    let body = blocking(move || {
        let entries = storage.search_audit(&query, DOWNLOAD_ENTRIES)?;
        storage.append_audit(&[NewEntry::audit_viewed(
            now,
            user.person.id,
            &query,
            "jsonl",
            entries.len(),
        )])?;
        let mut out = String::new();
        for e in &entries {
            out.push_str(
                &serde_json::json!({
                    "seq": e.seq,
                    "prev": hex::encode(e.prev),
                    "hash": hex::encode(e.hash),
                    "body": e.body,
                })
                .to_string(),
            );
            out.push('\n');
        }
        Ok(out.into_bytes())
    })
    .await?;
    super::report_pages::download(
        body,
        "application/x-ndjson",
        &format!("rounds-audit-{}.jsonl", now.format("%Y-%m-%d")),
    )
}

/// The disclosure log's query string.
#[derive(Debug, Default, Deserialize)]
pub struct DisclosureParams {
    /// Only this note (its id).
    pub note: Option<String>,
}

/// `GET /console/admin/disclosures`: the disclosure log of contact notes (34 CFR 99.32): every
/// delivery of a note to the phone of someone other than its author, every console page that
/// showed one, every export, newest first: when, which note, whose, to whom, how. Never the
/// note's content. Recorded as a search of the trail (`audit_viewed`, `format: disclosures`).
pub async fn disclosures(
    State(state): State<AppState>,
    AdminUser(user): AdminUser,
    Query(params): Query<DisclosureParams>,
) -> ConsoleResult<Response> {
    let when = state.when();
    let now = state.now();
    let note = opt_id(params.note.as_deref(), "note")?;
    let storage = state.storage.clone();
    blocking(move || {
        let found = storage.note_disclosures(note, DOWNLOAD_ENTRIES)?;
        storage.append_audit(&[NewEntry::audit_viewed(
            now,
            user.person.id,
            &AuditQuery {
                doc: note,
                ..AuditQuery::default()
            },
            "disclosures",
            found.len(),
        )])?;
        let mut names = HashMap::new();
        for p in storage.people()? {
            names.insert(p.id, p.name);
        }
        for d in storage.devices()? {
            names.insert(d.id, d.name);
        }
        Ok(html_response(
            StatusCode::OK,
            html::page(
                "Disclosures of contact notes",
                Some(&user.chrome()),
                &render_disclosures(&found, &names, note, when),
            ),
        ))
    })
    .await
}

/// How a disclosure happened, in words.
fn disclosed_how(e: &Entry) -> String {
    let detail = serde_json::from_str::<serde_json::Value>(&e.body)
        .ok()
        .map(|b| b["detail"].clone())
        .unwrap_or_default();
    match e.kind {
        AuditKind::Delivered => format!(
            "delivered to their phone ({})",
            detail["via"].as_str().unwrap_or("sync")
        ),
        AuditKind::ConsoleView => "shown on the console".into(),
        AuditKind::Exported => "exported".into(),
        k => kind_label(k).into(),
    }
}

/// The disclosure log's HTML body.
pub fn render_disclosures(
    found: &[crate::audit::Disclosure],
    names: &HashMap<Uuid, String>,
    note: Option<Uuid>,
    when: When,
) -> String {
    let name = |id: Option<Uuid>| {
        id.map(|i| names.get(&i).cloned().unwrap_or_else(|| i.to_string()))
            .unwrap_or_else(|| "–".into())
    };
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h2>Disclosures of contact notes</h2>
<p class="hint">Each time a student-contact note reached someone other than its author: delivered to their phone, shown on the console or exported (34 CFR 99.32). The notes' contents are not shown here. Opening this log is recorded in the audit trail.</p>
<form method="get" action="/console/admin/disclosures" class="filters"><label>Note id <input name="note" value="{}" size="36"></label><button type="submit">Show</button></form>"#,
        note.map(|n| n.to_string()).unwrap_or_default()
    );
    if found.is_empty() {
        b.push_str(r#"<p class="none">No disclosures recorded.</p>"#);
        return b;
    }
    b.push_str(r#"<table class="audit"><thead><tr><th>#</th><th>When</th><th>Note</th><th>Author</th><th>Disclosed to</th><th>How</th><th>Device</th></tr></thead><tbody>"#);
    for d in found {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.entry.seq,
            when.date_time(d.entry.at),
            d.note,
            esc(&name(Some(d.author))),
            esc(&name(d.entry.person)),
            esc(&disclosed_how(&d.entry)),
            esc(&name(d.entry.device)),
        );
    }
    b.push_str("</tbody></table>");
    b
}

/// A kind as the page names it.
pub fn kind_label(k: AuditKind) -> &'static str {
    match k {
        AuditKind::SignIn => "Sign-in",
        AuditKind::SignInFailed => "Failed sign-in",
        AuditKind::Enrolled => "Device enrolled",
        AuditKind::EnrollFailed => "Enrollment refused",
        AuditKind::DeviceRevoked => "Device revoked",
        AuditKind::Push => "Changes received",
        AuditKind::Delivered => "Records delivered to a device",
        AuditKind::ConsoleView => "Records shown on the console",
        AuditKind::Exported => "Verifiable export",
        AuditKind::AdminChange => "Admin change",
        AuditKind::AuditViewed => "Audit trail searched",
        AuditKind::DeviceEvent => "Device event",
    }
}

/// The page's HTML body, from its view alone.
pub fn render_audit(v: &AuditView, when: When) -> String {
    let p = &v.params;
    let val = |s: &Option<String>| esc(blank(s).unwrap_or(""));
    let mut kinds = vec![(String::new(), "All kinds".to_string())];
    kinds.extend(
        AuditKind::ALL
            .iter()
            .map(|k| (k.code().to_string(), kind_label(*k).to_string())),
    );
    let mut people = vec![(String::new(), "Everyone".to_string())];
    people.extend(v.people.iter().cloned());
    let pick = |items: &[(String, String)], chosen: &Option<String>| {
        options(
            items.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            blank(chosen).unwrap_or(""),
        )
    };
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h2>Audit trail</h2>
<p class="hint">Every sign-in, enrollment, push, delivery of an incident or contact note, console view, export and admin change, hash-chained: <code>rounds-server audit verify</code> checks the whole chain. This search is recorded in the trail too.</p>
<form method="get" action="/console/admin/audit" class="filters">
<label>Kind <select name="kind">{}</select></label>
<label>Person <select name="person">{}</select></label>
<label>Record id <input name="doc" value="{}" size="36"></label>
<label>From <input type="date" name="from" value="{}"></label>
<label>To <input type="date" name="to" value="{}"></label>
<button type="submit">Search</button></form>
<p><a href="/console/admin/audit.jsonl?{}">Download these entries (JSON lines, with their hashes)</a></p>"#,
        pick(&kinds, &p.kind),
        pick(&people, &p.person),
        val(&p.doc),
        val(&p.from),
        val(&p.to),
        p.link()
    );
    if v.entries.is_empty() {
        b.push_str(r#"<p class="none">No entries match.</p>"#);
        return b;
    }
    b.push_str(r#"<table class="audit"><thead><tr><th>#</th><th>When</th><th>What</th><th>Who</th><th>Device</th><th>Details</th><th>Hash</th></tr></thead><tbody>"#);
    let name = |id: Option<Uuid>| {
        id.map(|i| v.names.get(&i).cloned().unwrap_or_else(|| i.to_string()))
            .unwrap_or_else(|| "–".into())
    };
    for e in &v.entries {
        let detail = serde_json::from_str::<serde_json::Value>(&e.body)
            .ok()
            .and_then(|b| b.get("detail").cloned())
            .map(|d| d.to_string())
            .unwrap_or_default();
        let detail: String = if detail.chars().count() > 400 {
            detail.chars().take(400).chain("…".chars()).collect()
        } else {
            detail
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            e.seq,
            when.date_time(e.at),
            esc(kind_label(e.kind)),
            esc(&name(e.person)),
            esc(&name(e.device)),
            esc(&detail),
            &hex::encode(e.hash)[..16]
        );
    }
    b.push_str("</tbody></table>");
    if v.entries.len() == PAGE_ENTRIES
        && let Some(last) = v.entries.last()
    {
        let _ = write!(
            b,
            r#"<p><a href="/console/admin/audit?{}&amp;before={}">Older entries</a></p>"#,
            p.link(),
            last.seq
        );
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn when() -> When {
        When {
            tz: chrono_tz::America::Chicago,
            locale: super::super::Locale::EnUs,
        }
    }

    #[test]
    fn a_search_is_read_from_its_fields_and_bad_values_are_refused() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 18, 0, 0).unwrap();
        let params = AuditParams {
            kind: Some("exported".into()),
            person: Some(" ".into()),
            doc: Some("00000000-0000-0000-0000-000000000064".into()),
            from: Some("2026-11-30".into()),
            to: Some("2026-11-30".into()),
            before: Some(9),
        };
        let q = params.query(when(), now).expect("a search");
        assert_eq!(q.kind, Some(AuditKind::Exported));
        assert_eq!(q.person, None, "blank is any");
        assert_eq!(q.doc, Some(Uuid::from_u128(100)));
        assert_eq!(
            q.from,
            Some(Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()),
            "the day starts at midnight in the district's zone"
        );
        assert_eq!(
            q.to,
            Some(Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap()),
            "the last day is included"
        );
        assert_eq!(q.before, Some(9));
        for bad in [
            AuditParams {
                kind: Some("nothing".into()),
                ..AuditParams::default()
            },
            AuditParams {
                doc: Some("x".into()),
                ..AuditParams::default()
            },
            AuditParams {
                from: Some("2026-12-02".into()),
                to: Some("2026-12-01".into()),
                ..AuditParams::default()
            },
        ] {
            assert!(matches!(
                bad.query(when(), now),
                Err(ConsoleError::BadRequest(_))
            ));
        }
    }

    #[test]
    fn the_page_shows_each_entry_with_names_and_escapes_details() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 15, 0, 0).unwrap();
        let person = Uuid::from_u128(7);
        let body = serde_json::json!({
            "seq": 3, "at": at, "kind": "admin_change", "person": person, "device": null,
            "detail": { "what": "school", "name": "<b>x</b>" }
        })
        .to_string();
        let view = AuditView {
            params: AuditParams {
                kind: Some("admin_change".into()),
                ..AuditParams::default()
            },
            entries: vec![Entry {
                seq: 3,
                at,
                kind: AuditKind::AdminChange,
                person: Some(person),
                device: None,
                body,
                prev: [0; 32],
                hash: [0xab; 32],
            }],
            names: HashMap::from([(person, "Ada Admin".to_string())]),
            people: vec![(person.to_string(), "Ada Admin (ada)".into())],
        };
        let page = render_audit(&view, when());
        assert!(page.contains("Admin change") && page.contains("Ada Admin"));
        assert!(page.contains("&lt;b&gt;x&lt;/b&gt;") && !page.contains("<b>x</b>"));
        assert!(page.contains("abababab"), "the entry's hash");
        assert!(page.contains(r#"<option value="admin_change" selected"#));
        assert!(page.contains("/console/admin/audit.jsonl?kind=admin_change"));
        assert!(!page.contains("Older entries"), "one page holds them all");
        let empty = AuditView {
            entries: vec![],
            ..view
        };
        assert!(render_audit(&empty, when()).contains("No entries match."));
    }
}

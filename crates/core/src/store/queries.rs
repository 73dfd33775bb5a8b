//! What the app asks the store: the current shift and its round, incidents by status and
//! date, notes by student and follow-up date, full-text search. All read the projections (and
//! the reference data), never whole documents, except the detail views. Every one shows only
//! what the unlocked person may read ([`super::visible`]): on a shared phone, another person's
//! records are "not found".

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, from_ms, ms, parse_uuid, reference, visible};
use crate::document::{self, CheckRecord, Header, IncidentBody, NoteBody};
use crate::error::{Error, Result};
use crate::model::*;
use crate::round::{self, CheckpointRound, RoundSummary};

/// A shift with its round, as the guard sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShiftView {
    /// Shift id.
    pub id: Uuid,
    /// The post.
    pub post: Post,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, if ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Checks recorded, oldest first.
    pub checks: Vec<CheckRecord>,
    /// Checkpoints in round order with their visits.
    pub round: Vec<CheckpointRound>,
    /// Counts over the round.
    pub summary: RoundSummary,
}

/// A shift in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftRow {
    /// Id.
    pub id: Uuid,
    /// Post.
    pub post_id: Uuid,
    /// Guard.
    pub guard_id: Uuid,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, if ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Checks recorded.
    pub check_count: u32,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<IncidentStatus>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// Only those authored by the unlocked person.
    pub mine: bool,
    /// At most this many (default 200, at most 10,000).
    pub limit: Option<u32>,
    /// Skip this many first (for a list that loads page by page).
    pub offset: Option<u32>,
}

/// An incident in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRow {
    /// Id.
    pub id: Uuid,
    /// School.
    pub school_id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Type.
    pub incident_type: IncidentType,
    /// Status.
    pub status: IncidentStatus,
    /// Where.
    pub location: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

/// An incident in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: IncidentBody,
}

/// A contact note in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRow {
    /// Id.
    pub id: Uuid,
    /// Student id.
    pub student_ref: String,
    /// Student name.
    pub student_name: String,
    /// Kind of contact.
    pub contact_type: ContactType,
    /// Referral.
    pub referral: Referral,
    /// Follow-up date.
    pub follow_up_on: Option<NaiveDate>,
    /// When the contact happened.
    pub contacted_at: DateTime<Utc>,
}

/// A contact note in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteView {
    /// Its header.
    pub header: Header,
    /// Its body.
    pub body: NoteBody,
}

/// One change in a record's history: when, what and who, read from the automerge change
/// (its time and its `{"action", "by"}` message), with the person's name from the reference
/// data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the change was made (to the second), on the device that made it.
    pub at: DateTime<Utc>,
    /// The action that made it (`create_incident`, `edit_incident`, `submit_incident`...).
    pub action: String,
    /// Who made it, when the change says.
    pub by: Option<Uuid>,
    /// Their name, when this device knows them.
    pub by_name: Option<String>,
}

/// A full-text search result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The document.
    pub doc_id: Uuid,
    /// Its kind.
    pub kind: DocKind,
    /// A title for the list.
    pub title: String,
    /// The matching passage, with matches between `[` and `]`.
    pub snippet: String,
}

/// The filter of [`Store::incidents`] and [`Store::count_incidents`]: status, from, to,
/// author as `?1`..`?4`.
const INCIDENT_WHERE: &str = "(?1 IS NULL OR i.status = ?1)
               AND (?2 IS NULL OR i.occurred_at >= ?2)
               AND (?3 IS NULL OR i.occurred_at < ?3)
               AND (?4 IS NULL OR i.author_id = ?4)";

const NOTE_COLUMNS: &str = "n.id, n.student_ref, n.student_name, n.contact_type, n.referral, \
                            n.follow_up_on, n.contacted_at";

impl Store {
    /// The unlocked guard's shift in progress, with its round as of `now`.
    pub fn current_shift(&self, now: DateTime<Utc>) -> Result<Option<ShiftView>> {
        let id: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM shifts WHERE guard_id = ?1 AND ended_at IS NULL
                 ORDER BY started_at DESC LIMIT 1",
            )?
            .query_row(params![self.person_id.to_string()], |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.shift(parse_uuid(&id)?, now).map(Some),
            None => Ok(None),
        }
    }

    /// Shifts on this device the unlocked person may read, newest first.
    pub fn shifts(&self, limit: u32) -> Result<Vec<ShiftRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT s.id, s.post_id, s.guard_id, s.started_at, s.ended_at,
                    (SELECT count(*) FROM patrol_checks c WHERE c.shift_id = s.id)
             FROM shifts s JOIN documents d ON d.id = s.id
             WHERE {}
             ORDER BY s.started_at DESC, s.id LIMIT ?1",
            self.visible("d")
        ))?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok(ShiftRow {
                id: parse_uuid(&r.get::<_, String>(0)?)?,
                post_id: parse_uuid(&r.get::<_, String>(1)?)?,
                guard_id: parse_uuid(&r.get::<_, String>(2)?)?,
                started_at: from_ms(r.get(3)?),
                ended_at: r.get::<_, Option<i64>>(4)?.map(from_ms),
                check_count: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The post of a shift, without building its round.
    pub fn post_of(&self, shift: Uuid) -> Result<Uuid> {
        let post: String = self
            .conn
            .prepare_cached("SELECT post_id FROM shifts WHERE id = ?1")?
            .query_row(params![shift.to_string()], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::not_found("shift", shift))?;
        Ok(parse_uuid(&post)?)
    }

    /// A shift with its round as of `now`.
    pub fn shift(&self, id: Uuid, now: DateTime<Utc>) -> Result<ShiftView> {
        if !self.may_see(id)? {
            return Err(Error::not_found("shift", id));
        }
        let (post_id, started, ended): (String, i64, Option<i64>) = self
            .conn
            .prepare_cached("SELECT post_id, started_at, ended_at FROM shifts WHERE id = ?1")?
            .query_row(params![id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
            .ok_or_else(|| Error::not_found("shift", id))?;
        let post_id = parse_uuid(&post_id)?;
        let post = reference::post(&self.conn, post_id)?.unwrap_or(Post {
            id: post_id,
            school_id: Uuid::nil(),
            name: "(post no longer assigned)".into(),
            orders: String::new(),
        });
        let checks = self
            .conn
            .prepare_cached(
                "SELECT id, checkpoint_id, method, result, note, photos, at, recorded_by
                 FROM patrol_checks WHERE shift_id = ?1 ORDER BY at, id",
            )?
            .query_map(params![id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?
            .map(|row| {
                let (id, cp, method, result, note, photos, at, by) = row?;
                Ok(CheckRecord {
                    check: crate::model::CheckInput {
                        id: parse_uuid(&id)?,
                        checkpoint_id: parse_uuid(&cp)?,
                        method: CheckMethod::parse(&method, "method")?,
                        result: CheckResult::parse(&result, "result")?,
                        note,
                        photos: serde_json::from_str(&photos).unwrap_or_default(),
                        at: from_ms(at),
                    },
                    recorded_by: parse_uuid(&by)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let checkpoints = reference::checkpoints_of(&self.conn, post_id)?;
        let started_at = from_ms(started);
        let ended_at = ended.map(from_ms);
        let round = round::round_status(&checkpoints, &checks, started_at, ended_at, now);
        let summary = round::summarize(&round);
        Ok(ShiftView {
            id,
            post,
            started_at,
            ended_at,
            checks,
            round,
            summary,
        })
    }

    /// How many incidents match `f` (its limit and offset aside).
    pub fn count_incidents(&self, f: &IncidentFilter) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM incidents i JOIN documents d ON d.id = i.id
                 WHERE {INCIDENT_WHERE} AND {}",
                self.visible("d")
            ))?
            .query_row(
                params![
                    f.status.map(|s| s.code()),
                    f.from.map(ms),
                    f.to.map(ms),
                    f.mine.then(|| self.person_id.to_string()),
                ],
                |r| r.get(0),
            )?;
        Ok(n.max(0) as u64)
    }

    /// Incidents, newest first.
    pub fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT i.id, i.school_id, i.author_id, i.type, i.status, i.location, i.occurred_at
             FROM incidents i JOIN documents d ON d.id = i.id
             WHERE {INCIDENT_WHERE} AND {}
             ORDER BY i.occurred_at DESC, i.id LIMIT ?5 OFFSET ?6",
            self.visible("d")
        ))?;
        let rows = stmt.query_map(
            params![
                f.status.map(|s| s.code()),
                f.from.map(ms),
                f.to.map(ms),
                f.mine.then(|| self.person_id.to_string()),
                f.limit.unwrap_or(200).min(10_000),
                f.offset.unwrap_or(0),
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (id, school, author, t, status, location, at) = row?;
            Ok(IncidentRow {
                id: parse_uuid(&id)?,
                school_id: parse_uuid(&school)?,
                author_id: parse_uuid(&author)?,
                incident_type: IncidentType::parse(&t, "type")?,
                status: IncidentStatus::parse(&status, "status")?,
                location,
                occurred_at: from_ms(at),
            })
        })
        .collect()
    }

    /// One incident in full.
    pub fn incident(&mut self, id: Uuid) -> Result<IncidentView> {
        let header = self.header(id)?;
        if header.kind != DocKind::Incident || !self.may_see(id)? {
            return Err(Error::not_found("incident", id));
        }
        let body = self.read_doc(id, document::read_incident)?;
        Ok(IncidentView { header, body })
    }

    /// Who changed a record and how, oldest first: every change of the document this device
    /// holds, from every device, with the author's name (a compacted document keeps its
    /// changes, so the history survives compaction).
    pub fn history(&mut self, id: Uuid) -> Result<Vec<HistoryEntry>> {
        self.header(id)?;
        if !self.may_see(id)? {
            return Err(Error::not_found("record", id));
        }
        let changes: Vec<(i64, Option<String>)> = self.read_doc(id, |doc| {
            Ok(doc
                .get_changes(&[])
                .iter()
                .map(|c| (c.timestamp(), c.message().map(ToString::to_string)))
                .collect())
        })?;
        let mut names = self
            .conn
            .prepare_cached("SELECT name FROM ref_people WHERE id = ?1")?;
        let mut out = Vec::with_capacity(changes.len());
        for (at, message) in changes {
            let msg: serde_json::Value = message
                .and_then(|m| serde_json::from_str(&m).ok())
                .unwrap_or_default();
            let by: Option<Uuid> = msg["by"].as_str().and_then(|s| s.parse().ok());
            let by_name = match by {
                Some(p) => names
                    .query_row(params![p.to_string()], |r| r.get::<_, String>(0))
                    .optional()?,
                None => None,
            };
            out.push(HistoryEntry {
                at: DateTime::from_timestamp(at, 0).unwrap_or_default(),
                action: msg["action"].as_str().unwrap_or("unknown").to_string(),
                by,
                by_name,
            });
        }
        Ok(out)
    }

    /// Contact notes about a student that the unlocked person may read, newest first.
    pub fn notes_for_student(&self, student_ref: &str) -> Result<Vec<NoteRow>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM contact_notes n JOIN documents d ON d.id = n.id
             WHERE n.student_ref = ?1 AND {} ORDER BY n.contacted_at DESC, n.id",
            self.visible("d")
        );
        self.note_rows(&sql, params![student_ref])
    }

    /// Contact notes the unlocked person may read with a follow-up due in `[from, to]`,
    /// soonest first.
    pub fn notes_due(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<NoteRow>> {
        let sql = format!(
            "SELECT {NOTE_COLUMNS} FROM contact_notes n JOIN documents d ON d.id = n.id
             WHERE n.follow_up_on BETWEEN ?1 AND ?2 AND {} ORDER BY n.follow_up_on, n.id",
            self.visible("d")
        );
        self.note_rows(&sql, params![from.to_string(), to.to_string()])
    }

    fn note_rows(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<NoteRow>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (id, student_ref, student_name, ct, referral, follow, at) = row?;
            Ok(NoteRow {
                id: parse_uuid(&id)?,
                student_ref,
                student_name,
                contact_type: ContactType::parse(&ct, "contact_type")?,
                referral: Referral::parse(&referral, "referral")?,
                follow_up_on: follow.and_then(|d| d.parse().ok()),
                contacted_at: from_ms(at),
            })
        })
        .collect()
    }

    /// One contact note in full, if the unlocked person may read it.
    pub fn note(&mut self, id: Uuid) -> Result<NoteView> {
        let header = self.header(id)?;
        if header.kind != DocKind::ContactNote || !self.may_see(id)? {
            return Err(Error::not_found("contact note", id));
        }
        let body = self.read_doc(id, document::read_note)?;
        Ok(NoteView { header, body })
    }

    /// The visibility condition on `documents` row `d` for the unlocked person.
    fn visible(&self, d: &str) -> String {
        visible::document(self.person_id, d)
    }

    /// May the unlocked person read this record?
    pub(super) fn may_see(&self, id: Uuid) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT EXISTS(SELECT 1 FROM documents d WHERE d.id = ?1 AND {})",
                self.visible("d")
            ))?
            .query_row(params![id.to_string()], |r| r.get(0))?)
    }

    /// Full-text search over the incidents and contact notes the unlocked person may read.
    /// Every word must match (as a prefix); best matches first.
    pub fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        let terms: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(16)
            .map(|w| format!("\"{w}\"*"))
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT d.id, s.kind, s.title, snippet(search_index, 2, '[', ']', '…', 12)
             FROM search_index s JOIN documents d ON d.doc_seq = s.rowid
             WHERE search_index MATCH ?1 AND {}
             ORDER BY rank LIMIT ?2",
            self.visible("d")
        ))?;
        let rows = stmt.query_map(params![terms.join(" "), limit.min(500)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (id, kind, title, snippet) = row?;
            Ok(SearchHit {
                doc_id: parse_uuid(&id)?,
                kind: DocKind::parse(&kind, "kind")?,
                title,
                snippet,
            })
        })
        .collect()
    }
}

//! Projections: query tables derived from the documents.
//!
//! [`project`] also refuses a body past the caps of [`crate::limits`] (so an action whose
//! result would be refused by the server fails here first, and a document received over them
//! is not stored).
//!
//! [`project`] rewrites every row derived from one document; the hot path of recording a
//! patrol check uses [`project_check`] to add just that check's row. Both must give exactly
//! what [`Store::rebuild_projections`] gives from the documents alone; the tests compare the
//! two with [`Store::projection_dump`].

use automerge::Automerge;
use rusqlite::{Transaction, params};

use super::{Store, load_doc, load_header, ms, parse_uuid};
use crate::document::{self, CheckRecord, Header};
use crate::error::Result;
use crate::model::DocKind;

/// Rewrites every projection row of one document.
pub(super) fn project(tx: &Transaction<'_>, h: &Header, doc: &Automerge) -> Result<()> {
    let mut search = Vec::new();
    project_gathering(tx, h, doc, &mut search)?;
    write_search(tx, search)
}

/// A document's entry in the search index, waiting to be written by [`write_search`].
pub(super) struct SearchEntry {
    id: String,
    kind: &'static str,
    title: String,
    body: String,
}

/// [`project`], except that the document's search entry is added to `search` rather than
/// written. A batch that projects each document inside its own savepoint writes the entries
/// with [`write_search`] after the last one: FTS5 flushes its pending entries into a new
/// segment at every savepoint (merging segments as they pile up), which cost a pull page more
/// than the rest of its documents' projections together.
pub(super) fn project_gathering(
    tx: &Transaction<'_>,
    h: &Header,
    doc: &Automerge,
    search: &mut Vec<SearchEntry>,
) -> Result<()> {
    write_gathering(tx, h, read(h, doc)?, search)
}

/// What one document projects to, read out of it: [`read`] needs no store, so a batch of
/// received documents is read on several threads before the write lock is taken, and
/// [`write_gathering`] only writes rows.
pub(super) struct Projected {
    rows: Rows,
    search: Option<SearchEntry>,
}

enum Rows {
    Shift(document::ShiftBody),
    Incident(document::IncidentBody),
    Note(document::NoteBody),
}

/// Reads a document's projection (refusing a body past the caps of [`crate::limits`]).
pub(super) fn read(h: &Header, doc: &Automerge) -> Result<Projected> {
    let id = h.id.to_string();
    Ok(match h.kind {
        DocKind::Shift => {
            let body = document::read_shift(doc)?;
            crate::limits::shift(&body)?;
            Projected {
                rows: Rows::Shift(body),
                search: None,
            }
        }
        DocKind::Incident => {
            let b = document::read_incident(doc)?;
            crate::limits::incident(&b)?;
            let mut body = b.narrative.clone();
            for text in [&b.actions]
                .into_iter()
                .chain(b.supplements.iter().map(|s| &s.text))
            {
                if !text.is_empty() {
                    body.push('\n');
                    body.push_str(text);
                }
            }
            for p in &b.people {
                body.push('\n');
                body.push_str(&p.name);
            }
            let title = format!("{} — {}", b.incident_type.reporting_category(), b.location);
            Projected {
                rows: Rows::Incident(b),
                search: Some(SearchEntry {
                    id,
                    kind: "incident",
                    title,
                    body,
                }),
            }
        }
        DocKind::ContactNote => {
            let b = document::read_note(doc)?;
            crate::limits::note(&b)?;
            let title = format!("Contact note — {} ({})", b.student_name, b.student_ref);
            let body = format!("{}\n{}", b.reason, b.outcome);
            Projected {
                rows: Rows::Note(b),
                search: Some(SearchEntry {
                    id,
                    kind: "contact_note",
                    title,
                    body,
                }),
            }
        }
    })
}

/// Writes the rows [`read`] gave (replacing the document's earlier ones); its search entry is
/// added to `search`, for [`write_search`].
pub(super) fn write_gathering(
    tx: &Transaction<'_>,
    h: &Header,
    p: Projected,
    search: &mut Vec<SearchEntry>,
) -> Result<()> {
    let id = h.id.to_string();
    match &p.rows {
        Rows::Shift(body) => {
            tx.prepare_cached("DELETE FROM patrol_checks WHERE shift_id = ?1")?
                .execute(params![id])?;
            for c in &body.checks {
                insert_check(tx, h, c)?;
            }
            tx.prepare_cached(
                "INSERT OR REPLACE INTO shifts
                    (id, school_id, post_id, guard_id, started_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id,
                h.school_id.to_string(),
                body.post_id.to_string(),
                h.author_id.to_string(),
                ms(body.started_at),
                body.ended_at.map(ms),
            ])?;
        }
        Rows::Incident(b) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO incidents
                    (id, school_id, author_id, type, status, location, occurred_at, reported_at,
                     submitted_at, people_count, supplement_count)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                id,
                h.school_id.to_string(),
                h.author_id.to_string(),
                b.incident_type.code(),
                b.status.code(),
                b.location,
                ms(b.occurred_at),
                ms(b.reported_at),
                b.submitted_at.map(ms),
                b.people.len() as i64,
                b.supplements.len() as i64
            ])?;
        }
        Rows::Note(b) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO contact_notes
                    (id, school_id, author_id, student_ref, student_name, contact_type, reason,
                     outcome, referral, follow_up_on, classification, contacted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                id,
                h.school_id.to_string(),
                h.author_id.to_string(),
                b.student_ref,
                b.student_name,
                b.contact_type.code(),
                b.reason,
                b.outcome,
                b.referral.code(),
                b.follow_up_on.map(|d| d.to_string()),
                h.classification.code(),
                ms(b.contacted_at)
            ])?;
            tx.prepare_cached("DELETE FROM note_readers WHERE note_id = ?1")?
                .execute(params![id])?;
            let mut readers = vec![h.author_id];
            readers.extend(b.shared_with.iter().copied());
            for p in readers {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO note_readers (note_id, person_id) VALUES (?1, ?2)",
                )?
                .execute(params![id, p.to_string()])?;
            }
        }
    }
    search.extend(p.search);
    Ok(())
}

/// Adds the row of a check just appended to a shift (the fast path of recording a check).
pub(super) fn project_check(tx: &Transaction<'_>, h: &Header, c: &CheckRecord) -> Result<()> {
    insert_check(tx, h, c)?;
    Ok(())
}

fn insert_check(tx: &Transaction<'_>, h: &Header, c: &CheckRecord) -> Result<bool> {
    let photos = serde_json::to_string(&c.check.photos)
        .map_err(|e| crate::Error::internal("encoding photo list", e))?;
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO patrol_checks
                (id, shift_id, checkpoint_id, method, result, note, photos, at, recorded_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            c.check.id.to_string(),
            h.id.to_string(),
            c.check.checkpoint_id.to_string(),
            c.check.method.code(),
            c.check.result.code(),
            c.check.note,
            photos,
            ms(c.check.at),
            c.recorded_by.to_string()
        ])?;
    Ok(n == 1)
}

/// Writes gathered search entries (their documents' rows must exist), in order: a document
/// named twice keeps its last entry.
pub(super) fn write_search(tx: &Transaction<'_>, search: Vec<SearchEntry>) -> Result<()> {
    for e in search {
        index(tx, &e.id, e.kind, &e.title, &e.body)?;
    }
    Ok(())
}

fn index(tx: &Transaction<'_>, id: &str, kind: &str, title: &str, body: &str) -> Result<()> {
    let seq: i64 = tx
        .prepare_cached("SELECT doc_seq FROM documents WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))?;
    tx.prepare_cached("DELETE FROM search_index WHERE rowid = ?1")?
        .execute(params![seq])?;
    tx.prepare_cached(
        "INSERT INTO search_index (rowid, kind, title, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![seq, kind, title, body])?;
    Ok(())
}

/// The projection tables, in the order they are dumped.
const TABLES: &[(&str, &str)] = &[
    ("shifts", "SELECT * FROM shifts ORDER BY id"),
    ("patrol_checks", "SELECT * FROM patrol_checks ORDER BY id"),
    ("incidents", "SELECT * FROM incidents ORDER BY id"),
    ("contact_notes", "SELECT * FROM contact_notes ORDER BY id"),
    (
        "note_readers",
        "SELECT * FROM note_readers ORDER BY note_id, person_id",
    ),
    (
        "search_index",
        "SELECT d.id, s.kind, s.title, s.body FROM search_index s
         JOIN documents d ON d.doc_seq = s.rowid ORDER BY d.id",
    ),
];

impl Store {
    /// Drops every projection row and derives them again from the documents, in one
    /// transaction. Returns the number of documents projected.
    pub fn rebuild_projections(&mut self) -> Result<usize> {
        self.cache.clear();
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM shifts; DELETE FROM patrol_checks; DELETE FROM incidents;
             DELETE FROM contact_notes; DELETE FROM note_readers; DELETE FROM search_index;",
        )?;
        let ids: Vec<String> = tx
            .prepare("SELECT id FROM documents ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &ids {
            let id = parse_uuid(id)?;
            let Some(header) = load_header(&tx, id)? else {
                continue;
            };
            let doc = load_doc(&tx, id, self.device_id)?;
            project(&tx, &header, &doc)?;
        }
        tx.commit()?;
        Ok(ids.len())
    }

    /// Every projection row as text, table by table in a fixed order: two stores whose dumps
    /// are equal answer every query the same way.
    pub fn projection_dump(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for (table, sql) in TABLES {
            let mut stmt = self.conn.prepare(sql)?;
            let cols = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let mut line = format!("{table}:");
                for i in 0..cols {
                    let v: rusqlite::types::Value = r.get(i)?;
                    line.push_str(&format!(" {v:?}"));
                }
                out.push(line);
            }
        }
        Ok(out)
    }
}

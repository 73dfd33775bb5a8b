//! [`AuditStore`] over the SQLite backend: the one writer connection holds the chain's end
//! while it appends.

use super::super::rows::audit_entry;
use super::*;
use crate::audit::{self, AuditQuery, Disclosure, Entry, NewEntry};

impl AuditStore for SqliteStorage {
    fn append_audit(&self, entries: &[NewEntry]) -> Result<Vec<Entry>> {
        self.write(|tx| append(tx, entries))
    }

    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Entry>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, at, kind, person_id, device_id, body, prev, hash FROM audit_log
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(entry_row(r)?);
            }
            Ok(out)
        })
    }

    fn search_audit(&self, q: &AuditQuery, limit: usize) -> Result<Vec<Entry>> {
        let before = q
            .before
            .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, at, kind, person_id, device_id, body, prev, hash FROM audit_log
                 WHERE seq < ?1
                   AND (?2 IS NULL OR kind = ?2)
                   AND (?3 IS NULL OR person_id = ?3)
                   AND (?4 IS NULL OR seq IN (SELECT seq FROM audit_docs WHERE doc_id = ?4))
                   AND (?5 IS NULL OR at >= ?5)
                   AND (?6 IS NULL OR at < ?6)
                 ORDER BY seq DESC LIMIT ?7",
            )?;
            let mut rows = stmt.query(params![
                before,
                q.kind.map(|k| k.code()),
                q.person.map(|p| p.to_string()),
                q.doc.map(|d| d.to_string()),
                q.from.map(ms),
                q.to.map(ms),
                limit
            ])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(entry_row(r)?);
            }
            Ok(out)
        })
    }

    fn record_device_events(&self, device: Uuid, events: &[(Uuid, NewEntry)]) -> Result<usize> {
        self.write(|tx| {
            let mut new = Vec::new();
            {
                let mut seen = tx.prepare_cached(
                    "SELECT 1 FROM device_events WHERE device_id = ?1 AND event_id = ?2",
                )?;
                for (id, e) in events {
                    let known = seen
                        .query_row(params![device.to_string(), id.to_string()], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if !known && !new.iter().any(|(n, _): &(Uuid, NewEntry)| n == id) {
                        new.push((*id, e.clone()));
                    }
                }
            }
            let entries: Vec<NewEntry> = new.iter().map(|(_, e)| e.clone()).collect();
            let sealed = append(tx, &entries)?;
            let mut put = tx.prepare_cached(
                "INSERT INTO device_events (device_id, event_id, seq) VALUES (?1, ?2, ?3)",
            )?;
            for ((id, _), e) in new.iter().zip(&sealed) {
                put.execute(params![device.to_string(), id.to_string(), e.seq as i64])?;
            }
            Ok(new.len())
        })
    }

    fn note_disclosures(&self, note: Option<Uuid>, limit: usize) -> Result<Vec<Disclosure>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.seq, a.at, a.kind, a.person_id, a.device_id, a.body, a.prev, a.hash,
                        d.doc_id, doc.author_id
                 FROM documents doc
                 JOIN audit_docs d ON d.doc_id = doc.id
                 JOIN audit_log a ON a.seq = d.seq
                 WHERE doc.kind = 'contact_note'
                   AND (?1 IS NULL OR doc.id = ?1)
                   AND a.kind IN ('delivered', 'console_view', 'exported')
                   AND (a.person_id IS NULL OR a.person_id != doc.author_id)
                 ORDER BY a.seq DESC LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![note.map(|n| n.to_string()), limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let id = |i: usize| -> Result<Uuid> {
                    r.get::<_, String>(i)?
                        .parse()
                        .map_err(|_| StorageError::backend("an id in the disclosure log"))
                };
                out.push(Disclosure {
                    entry: entry_row(r)?,
                    note: id(8)?,
                    author: id(9)?,
                });
            }
            Ok(out)
        })
    }

    fn audit_about(&self, doc: Uuid) -> Result<Vec<Entry>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT a.seq, a.at, a.kind, a.person_id, a.device_id, a.body, a.prev, a.hash
                 FROM audit_docs d JOIN audit_log a ON a.seq = d.seq
                 WHERE d.doc_id = ?1 ORDER BY a.seq",
            )?;
            let mut rows = stmt.query(params![doc.to_string()])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(entry_row(r)?);
            }
            Ok(out)
        })
    }
}

/// Links `entries` after the log's last entry, inside `tx` (which holds the write lock).
pub(super) fn append(tx: &rusqlite::Transaction<'_>, entries: &[NewEntry]) -> Result<Vec<Entry>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let (seq, prev) = tx
        .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .optional()?
        .unwrap_or((0, vec![0; 32]));
    let prev: [u8; 32] = prev
        .try_into()
        .map_err(|_| StorageError::backend("the audit trail's last hash is not 32 bytes"))?;
    let sealed = audit::seal_all(seq as u64, prev, entries);
    let mut put = tx.prepare_cached(
        "INSERT INTO audit_log (seq, at, kind, person_id, device_id, body, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut about =
        tx.prepare_cached("INSERT OR IGNORE INTO audit_docs (doc_id, seq) VALUES (?1, ?2)")?;
    for (e, n) in sealed.iter().zip(entries) {
        put.execute(params![
            e.seq as i64,
            ms(e.at),
            e.kind.code(),
            e.person.map(|p| p.to_string()),
            e.device.map(|d| d.to_string()),
            e.body,
            e.prev.as_slice(),
            e.hash.as_slice(),
        ])?;
        for d in n.docs() {
            about.execute(params![d.to_string(), e.seq as i64])?;
        }
    }
    Ok(sealed)
}

fn entry_row(r: &rusqlite::Row<'_>) -> Result<Entry> {
    audit_entry(
        r.get(0)?,
        r.get(1)?,
        &r.get::<_, String>(2)?,
        r.get::<_, Option<String>>(3)?.as_deref(),
        r.get::<_, Option<String>>(4)?.as_deref(),
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    )
}

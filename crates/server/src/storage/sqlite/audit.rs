//! [`AuditStore`] over the SQLite backend: the one writer connection holds the chain's end
//! while it appends.

use super::super::rows::audit_entry;
use super::*;
use crate::audit::{self, Entry, NewEntry};

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
    for e in &sealed {
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

//! [`AuditStore`] over PostgreSQL: an append locks the one row of `audit_head` (the chain's
//! last position and hash) until its transaction ends, so appends from several server
//! processes queue for it and form one chain. It is the last lock a transaction takes (a push
//! takes it after the feed's counter), so no two transactions wait on each other in a circle.

use super::super::rows::{audit_entry, ms};
use super::super::{AuditStore, Result, StorageError};
use super::PgStorage;
use crate::audit::{self, Entry, NewEntry};

impl AuditStore for PgStorage {
    fn append_audit(&self, entries: &[NewEntry]) -> Result<Vec<Entry>> {
        self.write(async |tx| append(tx, entries).await)
    }

    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<Entry>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT seq, at, kind, person_id, device_id, body, prev, hash FROM audit_log
                     WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after, &limit],
                )
                .await?;
            rows.iter().map(entry_row).collect()
        })
    }
}

/// Links `entries` after the chain's last entry, inside `tx`, holding `audit_head` until `tx`
/// ends.
pub(super) async fn append(
    tx: &deadpool_postgres::Transaction<'_>,
    entries: &[NewEntry],
) -> Result<Vec<Entry>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let head = tx
        .query_one(
            "SELECT seq, hash FROM audit_head WHERE only_row FOR UPDATE",
            &[],
        )
        .await?;
    let seq: i64 = head.try_get(0)?;
    let prev: [u8; 32] = head
        .try_get::<_, Vec<u8>>(1)?
        .try_into()
        .map_err(|_| StorageError::backend("the audit trail's head hash is not 32 bytes"))?;
    let sealed = audit::seal_all(seq as u64, prev, entries);
    let st = tx
        .prepare_cached(
            "INSERT INTO audit_log (seq, at, kind, person_id, device_id, body, prev, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    for e in &sealed {
        tx.execute(
            &st,
            &[
                &(e.seq as i64),
                &ms(e.at),
                &e.kind.code(),
                &e.person.map(|p| p.to_string()),
                &e.device.map(|d| d.to_string()),
                &e.body,
                &e.prev.as_slice(),
                &e.hash.as_slice(),
            ],
        )
        .await?;
    }
    if let Some(last) = sealed.last() {
        tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE only_row",
            &[&(last.seq as i64), &last.hash.as_slice()],
        )
        .await?;
    }
    Ok(sealed)
}

fn entry_row(r: &tokio_postgres::Row) -> Result<Entry> {
    audit_entry(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
    )
}

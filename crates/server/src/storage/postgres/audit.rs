//! [`AuditStore`] over PostgreSQL: an append locks the one row of `audit_head` (the chain's
//! last position and hash) until its transaction ends, so appends from several server
//! processes queue for it and form one chain. It is the last lock a transaction takes (a push
//! takes it after the feed's counter), so no two transactions wait on each other in a circle.

use super::super::rows::{audit_entry, ms};
use super::super::{AuditStore, Result, StorageError};
use super::PgStorage;
use crate::audit::{self, AuditQuery, Disclosure, Entry, NewEntry};
use uuid::Uuid;

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

    fn search_audit(&self, q: &AuditQuery, limit: usize) -> Result<Vec<Entry>> {
        let before = q
            .before
            .map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let kind = q.kind.map(|k| k.code().to_string());
        let person = q.person.map(|p| p.to_string());
        let doc = q.doc.map(|d| d.to_string());
        let (from, to) = (q.from.map(ms), q.to.map(ms));
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT seq, at, kind, person_id, device_id, body, prev, hash FROM audit_log
                     WHERE seq < $1
                       AND ($2::TEXT IS NULL OR kind = $2)
                       AND ($3::TEXT IS NULL OR person_id = $3)
                       AND ($4::TEXT IS NULL OR seq IN (SELECT seq FROM audit_docs WHERE doc_id = $4))
                       AND ($5::BIGINT IS NULL OR at >= $5)
                       AND ($6::BIGINT IS NULL OR at < $6)
                     ORDER BY seq DESC LIMIT $7",
                    &[&before, &kind, &person, &doc, &from, &to, &limit],
                )
                .await?;
            rows.iter().map(entry_row).collect()
        })
    }

    fn record_device_events(&self, device: Uuid, events: &[(Uuid, NewEntry)]) -> Result<usize> {
        let device = device.to_string();
        self.write(async |tx| {
            // The trail's head first: two processes storing the same retried events queue
            // here, and the second then finds them stored.
            tx.execute("SELECT 1 FROM audit_head WHERE only_row FOR UPDATE", &[])
                .await?;
            let mut new: Vec<(Uuid, NewEntry)> = Vec::new();
            for (id, e) in events {
                let known = tx
                    .query_opt(
                        "SELECT 1 FROM device_events WHERE device_id = $1 AND event_id = $2",
                        &[&device, &id.to_string()],
                    )
                    .await?
                    .is_some();
                if !known && !new.iter().any(|(n, _)| n == id) {
                    new.push((*id, e.clone()));
                }
            }
            let entries: Vec<NewEntry> = new.iter().map(|(_, e)| e.clone()).collect();
            let sealed = append(tx, &entries).await?;
            for ((id, _), e) in new.iter().zip(&sealed) {
                tx.execute(
                    "INSERT INTO device_events (device_id, event_id, seq) VALUES ($1, $2, $3)",
                    &[&device, &id.to_string(), &(e.seq as i64)],
                )
                .await?;
            }
            Ok(new.len())
        })
    }

    fn note_disclosures(&self, note: Option<Uuid>, limit: usize) -> Result<Vec<Disclosure>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let note = note.map(|n| n.to_string());
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT a.seq, a.at, a.kind, a.person_id, a.device_id, a.body, a.prev, a.hash,
                            d.doc_id, doc.author_id
                     FROM documents doc
                     JOIN audit_docs d ON d.doc_id = doc.id
                     JOIN audit_log a ON a.seq = d.seq
                     WHERE doc.kind = 'contact_note'
                       AND ($1::TEXT IS NULL OR doc.id = $1)
                       AND a.kind IN ('delivered', 'console_view', 'exported')
                       AND (a.person_id IS NULL OR a.person_id != doc.author_id)
                     ORDER BY a.seq DESC LIMIT $2",
                    &[&note, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let id = |i: usize| -> Result<Uuid> {
                        r.try_get::<_, String>(i)?
                            .parse()
                            .map_err(|_| StorageError::backend("an id in the disclosure log"))
                    };
                    Ok(Disclosure {
                        entry: entry_row(r)?,
                        note: id(8)?,
                        author: id(9)?,
                    })
                })
                .collect()
        })
    }

    fn audit_about(&self, doc: Uuid) -> Result<Vec<Entry>> {
        let doc = doc.to_string();
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT a.seq, a.at, a.kind, a.person_id, a.device_id, a.body, a.prev, a.hash
                     FROM audit_docs d JOIN audit_log a ON a.seq = d.seq
                     WHERE d.doc_id = $1 ORDER BY a.seq",
                    &[&doc],
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
    let about = tx
        .prepare_cached(
            "INSERT INTO audit_docs (doc_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await?;
    for (e, n) in sealed.iter().zip(entries) {
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
        for d in n.docs() {
            tx.execute(&about, &[&d.to_string(), &(e.seq as i64)])
                .await?;
        }
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

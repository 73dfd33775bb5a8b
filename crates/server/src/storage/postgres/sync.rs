//! [`SyncStore`] over PostgreSQL: documents, their changes and projections, and the change
//! feed in commit order.
//!
//! A commit checks each document's version first (a row lock that makes a concurrent commit of
//! the same document wait, then find the version moved and report `Stale`), writes the
//! projections, and takes the feed positions of all its changes last, just before committing
//! (see the parent module on why positions follow commit order). Documents are locked in id
//! order, so two pushes touching the same documents never wait on each other in a circle.

use rounds_domain::document::Header;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::super::rows::{HEADER_COLS, ms};
use super::super::{
    Commit, CommitOutcome, FeedItem, FeedPage, HeaderAndReaders, Projection, Result, StoredDoc,
    SyncStore,
};
use super::{PgStorage, header_at, take_positions, uid};
use crate::access::Viewer;

/// The visibility rules of `access::may_read`, in SQL. Parameters: $3 person, $4 role, $6 the
/// person's schools (an array, from the session: a subquery per row here cost PostgreSQL
/// 20 s of CPU on a district pull of 51,000 changes).
const VISIBLE: &str = "(
    (d.kind = 'shift' AND (
        $4 = 'admin'
        OR ($4 = 'guard' AND d.author_id = $3)
        OR ($4 = 'supervisor' AND d.school_id = ANY($6::text[]))))
    OR (d.kind = 'incident' AND ($4 = 'admin' OR d.school_id = ANY($6::text[])))
    OR (d.kind = 'contact_note' AND $4 IN ('sro', 'supervisor')
        AND EXISTS (SELECT 1 FROM doc_readers r WHERE r.doc_id = d.id AND r.person_id = $3))
)";

/// Feed rows read per query while filling a page (invisible rows are skipped in SQL).
const FEED_BATCH: i64 = 2000;

/// A document's readers as one array column of `documents d`.
const READERS: &str =
    "ARRAY(SELECT r.person_id FROM doc_readers r WHERE r.doc_id = d.id ORDER BY r.person_id)";

/// The rows `found` by id, in the order of `ids` (a repeated id gets a copy).
fn in_order<T: Clone>(
    ids: &[Uuid],
    mut found: std::collections::HashMap<Uuid, T>,
) -> Vec<Option<T>> {
    let mut out: Vec<Option<T>> = Vec::with_capacity(ids.len());
    let mut first: std::collections::HashMap<Uuid, usize> = std::collections::HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let row = match first.get(id) {
            Some(&j) => out[j].clone(),
            None => {
                first.insert(*id, i);
                found.remove(id)
            }
        };
        out.push(row);
    }
    out
}

fn uuids(v: Vec<&str>) -> Result<Vec<Uuid>> {
    v.into_iter().map(uid).collect()
}

/// Writes one document's version and projection; `Stale` (having written nothing) if another
/// commit got to it first.
async fn commit_one(tx: &deadpool_postgres::Transaction<'_>, cm: &Commit) -> Result<CommitOutcome> {
    let h = &cm.header;
    let doc = h.id.to_string();
    let n = match cm.expected_version {
        None => {
            tx.execute(
                &tx.prepare_cached("INSERT INTO documents (id, kind, school_id, author_id, device_id, created_at, classification, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (id) DO NOTHING").await?,
                &[
                    &doc,
                    &h.kind.code(),
                    &h.school_id.to_string(),
                    &h.author_id.to_string(),
                    &h.device_id.to_string(),
                    &ms(h.created_at),
                    &h.classification.code(),
                ],
            )
            .await?
        }
        Some(v) => {
            tx.execute(
                &tx.prepare_cached("UPDATE documents SET version = version + 1 WHERE id = $1 AND version = $2").await?,
                &[&doc, &v],
            )
            .await?
        }
    };
    if n != 1 {
        return Ok(CommitOutcome::Stale);
    }
    match &cm.projection {
        Projection::Shift {
            post_id,
            started_at,
            ended_at,
            checks,
        } => {
            tx.execute(
                &tx.prepare_cached("INSERT INTO shifts (id, school_id, post_id, guard_id, started_at, ended_at, check_count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, check_count = excluded.check_count").await?,
                &[
                    &doc,
                    &h.school_id.to_string(),
                    &post_id.to_string(),
                    &h.author_id.to_string(),
                    &ms(*started_at),
                    &ended_at.map(ms),
                    &(checks.len() as i32),
                ],
            )
            .await?;
            if !checks.is_empty() {
                let ids: Vec<String> = checks.iter().map(|c| c.id.to_string()).collect();
                let cps: Vec<String> = checks.iter().map(|c| c.checkpoint_id.to_string()).collect();
                let results: Vec<&str> = checks.iter().map(|c| c.result.code()).collect();
                let notes: Vec<&str> = checks.iter().map(|c| c.note.as_str()).collect();
                let at: Vec<i64> = checks.iter().map(|c| ms(c.at)).collect();
                let st = tx
                    .prepare_cached(
                        "INSERT INTO patrol_checks (shift_id, id, checkpoint_id, result, note, at)
                         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
                         ON CONFLICT DO NOTHING",
                    )
                    .await?;
                tx.execute(&st, &[&doc, &ids, &cps, &results, &notes, &at])
                    .await?;
            }
        }
        Projection::Incident {
            incident_type,
            status,
            location,
            occurred_at,
            submitted_at,
        } => {
            tx.execute(
                &tx.prepare_cached("INSERT INTO incidents (id, school_id, author_id, type, status, location, occurred_at, submitted_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET type = excluded.type, status = excluded.status,
                    location = excluded.location, occurred_at = excluded.occurred_at, submitted_at = excluded.submitted_at").await?,
                &[
                    &doc,
                    &h.school_id.to_string(),
                    &h.author_id.to_string(),
                    &incident_type.code(),
                    &status.code(),
                    location,
                    &ms(*occurred_at),
                    &submitted_at.map(ms),
                ],
            )
            .await?;
        }
        Projection::Note { readers } => {
            let readers: Vec<String> = readers.iter().map(|p| p.to_string()).collect();
            tx.execute(
                &tx.prepare_cached("DELETE FROM doc_readers WHERE doc_id = $1")
                    .await?,
                &[&doc],
            )
            .await?;
            tx.execute(
                &tx.prepare_cached(
                    "INSERT INTO doc_readers (doc_id, person_id) SELECT $1, unnest($2::text[])
                 ON CONFLICT DO NOTHING",
                )
                .await?,
                &[&doc, &readers],
            )
            .await?;
        }
    }
    Ok(CommitOutcome::Committed)
}

impl SyncStore for PgStorage {
    fn header(&self, doc: Uuid) -> Result<Option<(Header, Vec<Uuid>)>> {
        Ok(self.headers(&[doc])?.pop().flatten())
    }

    fn document(&self, doc: Uuid) -> Result<Option<StoredDoc>> {
        Ok(self.documents(&[doc])?.pop().flatten())
    }

    fn headers(&self, ids: &[Uuid]) -> Result<Vec<Option<HeaderAndReaders>>> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.read(async |c| {
            let st = c
                .prepare_cached(&format!(
                    "SELECT {HEADER_COLS}, {READERS} FROM documents d WHERE d.id = ANY($1)"
                ))
                .await?;
            let mut found = std::collections::HashMap::new();
            for r in c.query(&st, &[&keys]).await? {
                let h = header_at(&r, 0)?;
                let readers = uuids(r.try_get(7)?)?;
                found.insert(h.id, (h, readers));
            }
            Ok(in_order(ids, found))
        })
    }

    fn documents(&self, ids: &[Uuid]) -> Result<Vec<Option<StoredDoc>>> {
        let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.read(async |c| {
            // One statement: one snapshot, so each document's version, changes and readers
            // belong together.
            let st = c
                .prepare_cached(&format!(
                    "SELECT {HEADER_COLS}, {READERS}, d.version,
                        ARRAY(SELECT c.bytes FROM changes c WHERE c.doc_id = d.id ORDER BY c.seq)
                     FROM documents d WHERE d.id = ANY($1)"
                ))
                .await?;
            let mut found = std::collections::HashMap::new();
            for r in c.query(&st, &[&keys]).await? {
                let header = header_at(&r, 0)?;
                found.insert(
                    header.id,
                    StoredDoc {
                        readers: uuids(r.try_get(7)?)?,
                        version: r.try_get(8)?,
                        changes: r.try_get(9)?,
                        header,
                    },
                );
            }
            Ok(in_order(ids, found))
        })
    }

    fn commit_all(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>> {
        let mut order: Vec<usize> = (0..commits.len()).collect();
        order.sort_by_key(|&i| commits[i].header.id);
        self.write(async |tx| {
            let mut outcomes = vec![CommitOutcome::Stale; commits.len()];
            let (mut docs, mut hashes, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
            // The documents' statements go out pipelined on the one connection (sent in id
            // order, so rows are still locked in that order), not one round trip each.
            let done = futures_util::future::try_join_all(
                order.iter().map(|&i| commit_one(tx, &commits[i])),
            )
            .await?;
            for (&i, outcome) in order.iter().zip(done) {
                let cm = &commits[i];
                outcomes[i] = outcome;
                if outcomes[i] == CommitOutcome::Committed {
                    for (hash, b) in &cm.changes {
                        docs.push(cm.header.id.to_string());
                        hashes.push(hash.to_vec());
                        bytes.push(b.as_slice());
                    }
                }
            }
            if !docs.is_empty() {
                // Last, so the feed's counter is held only from here to the commit.
                let first = take_positions(tx, docs.len() as i64).await?;
                let seqs: Vec<i64> = (0..docs.len() as i64).map(|k| first + k).collect();
                let st = tx
                    .prepare_cached(
                        "INSERT INTO changes (seq, doc_id, hash, bytes)
                         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[])",
                    )
                    .await?;
                tx.execute(&st, &[&seqs, &docs, &hashes, &bytes]).await?;
            }
            Ok(outcomes)
        })
    }

    fn feed(&self, v: &Viewer, after: u64, max_bytes: usize) -> Result<FeedPage> {
        let (person, role) = (v.person.to_string(), v.role.code());
        let schools: Vec<String> = v.schools.iter().map(Uuid::to_string).collect();
        // A cursor past i64::MAX is past every row: never wrapped to a negative one.
        let after_seq = i64::try_from(after).unwrap_or(i64::MAX);
        self.db.run(async {
            let mut c = self.db.client().await?;
            // One snapshot: the maximum and the page agree.
            let tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let max: i64 = tx
                .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await?
                .get(0);
            let mut page = FeedPage {
                items: Vec::new(),
                cursor: (max.max(0) as u64).max(after),
                more: false,
            };
            if after_seq >= max {
                tx.commit().await?;
                return Ok(page);
            }
            let st = tx
                .prepare_cached(&format!(
                    "SELECT c.seq, c.bytes, {HEADER_COLS} FROM changes c JOIN documents d ON d.id = c.doc_id
                     WHERE c.seq > $1 AND c.seq <= $2 AND {VISIBLE} ORDER BY c.seq LIMIT $5"
                ))
                .await?;
            let mut total = 0usize;
            let mut from = after_seq;
            loop {
                let rows = tx
                    .query(&st, &[&from, &max, &person, &role, &FEED_BATCH, &schools])
                    .await?;
                let n = rows.len() as i64;
                for r in rows {
                    let seq: i64 = r.try_get(0)?;
                    let b: Vec<u8> = r.try_get(1)?;
                    if !page.items.is_empty() && total + b.len() > max_bytes {
                        page.more = true;
                        page.cursor = page.items.last().map_or(after, |i| i.seq);
                        tx.commit().await?;
                        return Ok(page);
                    }
                    total += b.len();
                    from = seq;
                    page.items.push(FeedItem {
                        seq: seq as u64,
                        header: header_at(&r, 2)?,
                        bytes: b,
                    });
                }
                if n < FEED_BATCH {
                    tx.commit().await?;
                    return Ok(page);
                }
            }
        })
    }

    fn max_seq(&self) -> Result<u64> {
        self.read(async |c| {
            let n: i64 = c
                .query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])
                .await?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn document_count(&self) -> Result<u64> {
        self.read(async |c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM documents", &[])
                .await?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }
}

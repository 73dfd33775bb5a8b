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
    Commit, CommitOutcome, Compacted, FeedItem, FeedPage, HeaderAndReaders, Projection, Result,
    SavedPart, Settled, StorageError, StorageSize, StoredDoc, SyncStore, check_pack,
    merge_compacted,
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
                &tx.prepare_cached("INSERT INTO documents (id, kind, school_id, author_id, device_id, created_at, classification, version, changed_at, loose)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) ON CONFLICT (id) DO NOTHING").await?,
                &[
                    &doc,
                    &h.kind.code(),
                    &h.school_id.to_string(),
                    &h.author_id.to_string(),
                    &h.device_id.to_string(),
                    &ms(h.created_at),
                    &h.classification.code(),
                    &ms(cm.at),
                    &(cm.changes.len() as i64),
                ],
            )
            .await?
        }
        Some(v) => {
            tx.execute(
                &tx.prepare_cached("UPDATE documents SET version = version + 1, changed_at = $3, loose = loose + $4
                 WHERE id = $1 AND version = $2").await?,
                &[&doc, &v, &ms(cm.at), &(cm.changes.len() as i64)],
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
            // The whole list, packed: a commit projects every check of the shift.
            tx.execute(
                &tx.prepare_cached("INSERT INTO shifts (id, school_id, post_id, guard_id, started_at, ended_at, check_count, checks)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at,
                    check_count = excluded.check_count, checks = excluded.checks").await?,
                &[
                    &doc,
                    &h.school_id.to_string(),
                    &post_id.to_string(),
                    &h.author_id.to_string(),
                    &ms(*started_at),
                    &ended_at.map(ms),
                    &(checks.len() as i32),
                    &check_pack::pack(checks),
                ],
            )
            .await?;
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
            // One statement: one snapshot, so each document's version, saved part, changes
            // and readers belong together (a compaction commits all or nothing of them).
            let st = c
                .prepare_cached(&format!(
                    "SELECT {HEADER_COLS}, {READERS}, d.version,
                        ARRAY(SELECT c.bytes FROM changes c WHERE c.doc_id = d.id ORDER BY c.seq),
                        (SELECT max(c.seq) FROM changes c WHERE c.doc_id = d.id),
                        s.bytes, s.through_seq, s.change_count, s.change_bytes, s.change_ops
                     FROM documents d LEFT JOIN saved_docs s ON s.doc_id = d.id
                     WHERE d.id = ANY($1)"
                ))
                .await?;
            let mut found = std::collections::HashMap::new();
            for r in c.query(&st, &[&keys]).await? {
                let header = header_at(&r, 0)?;
                let saved = match r.try_get::<_, Option<Vec<u8>>>(11)? {
                    Some(bytes) => Some(SavedPart {
                        bytes,
                        through_seq: r.try_get::<_, i64>(12)?.max(0) as u64,
                        change_count: r.try_get::<_, i64>(13)?.max(0) as u64,
                        change_bytes: r.try_get::<_, i64>(14)?.max(0) as u64,
                        change_ops: r.try_get::<_, i64>(15)?.max(0) as u64,
                    }),
                    None => None,
                };
                found.insert(
                    header.id,
                    StoredDoc {
                        readers: uuids(r.try_get(7)?)?,
                        version: r.try_get(8)?,
                        changes: r.try_get(9)?,
                        changes_through: r.try_get::<_, Option<i64>>(10)?.unwrap_or(0).max(0)
                            as u64,
                        saved,
                        header,
                    },
                );
            }
            Ok(in_order(ids, found))
        })
    }

    fn commit_all_audited(
        &self,
        commits: &[Commit],
        audit: &dyn Fn(&[CommitOutcome]) -> Option<crate::audit::NewEntry>,
    ) -> Result<Vec<CommitOutcome>> {
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
            // The pushes' verified signatures, in one statement.
            let sigs: Vec<&super::super::StoredSignature> = order
                .iter()
                .filter(|&&i| outcomes[i] == CommitOutcome::Committed)
                .flat_map(|&i| &commits[i].signatures)
                .collect();
            if !sigs.is_empty() {
                let st = tx
                    .prepare_cached(
                        "INSERT INTO change_signatures (doc_id, hash, person_id, device_id, public_key, signature, received_at)
                         SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bigint[])
                         ON CONFLICT DO NOTHING",
                    )
                    .await?;
                let col = |f: &dyn Fn(&super::super::StoredSignature) -> String| -> Vec<String> {
                    sigs.iter().map(|s| f(s)).collect()
                };
                let bytes = |f: &dyn Fn(&super::super::StoredSignature) -> &[u8]| -> Vec<Vec<u8>> {
                    sigs.iter().map(|s| f(s).to_vec()).collect()
                };
                let at: Vec<i64> = sigs.iter().map(|s| ms(s.received_at)).collect();
                tx.execute(
                    &st,
                    &[
                        &col(&|s| s.doc_id.to_string()),
                        &bytes(&|s| &s.change),
                        &col(&|s| s.person_id.to_string()),
                        &col(&|s| s.device_id.to_string()),
                        &bytes(&|s| &s.public_key),
                        &bytes(&|s| &s.signature),
                        &at,
                    ],
                )
                .await?;
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
            // After the feed's counter: the audit trail's head is the last lock taken.
            if let Some(entry) = audit(&outcomes) {
                super::audit::append(tx, std::slice::from_ref(&entry)).await?;
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
            let max: i64 = tx.query_one(MAX_POSITION, &[]).await?.get(0);
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
            'rows: loop {
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
                        break 'rows;
                    }
                    total += b.len();
                    from = seq;
                    page.items.push(FeedItem {
                        seq: seq as u64,
                        header: header_at(&r, 2)?,
                        bytes: Some(b),
                    });
                }
                if n < FEED_BATCH {
                    break;
                }
            }
            // Compacted documents whose folded changes the device may not have seen: at their
            // saved part's position, without bytes (the device fetches them by heads).
            let end = i64::try_from(page.cursor).unwrap_or(i64::MAX);
            let st = tx
                .prepare_cached(&format!(
                    "SELECT s.through_seq, {HEADER_COLS} FROM saved_docs s JOIN documents d ON d.id = s.doc_id
                     WHERE s.through_seq > $1 AND s.through_seq <= $2 AND {VISIBLE}
                     ORDER BY s.through_seq LIMIT $5"
                ))
                .await?;
            let mut saved = Vec::new();
            for r in tx
                .query(&st, &[&after_seq, &end, &person, &role, &FEED_BATCH, &schools])
                .await?
            {
                saved.push(FeedItem {
                    seq: r.try_get::<_, i64>(0)?.max(0) as u64,
                    header: header_at(&r, 1)?,
                    bytes: None,
                });
            }
            tx.commit().await?;
            merge_compacted(&mut page, saved, FEED_BATCH as usize);
            Ok(page)
        })
    }

    fn max_seq(&self) -> Result<u64> {
        self.read(async |c| {
            let n: i64 = c.query_one(MAX_POSITION, &[]).await?.get(0);
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

    fn compaction_candidates(&self, rule: Option<&Settled>, limit: usize) -> Result<Vec<Uuid>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(async |c| {
            let rows = match rule {
                None => {
                    let st = c
                        .prepare_cached(
                            "SELECT id FROM documents WHERE loose > 0 ORDER BY changed_at LIMIT $1",
                        )
                        .await?;
                    c.query(&st, &[&limit]).await?
                }
                Some(rule) => {
                    let st = c
                        .prepare_cached(
                            "SELECT d.id FROM documents d
                             WHERE d.loose > 0 AND d.changed_at < $1 AND (
                                 d.changed_at < $2
                                 OR (d.kind = 'shift' AND EXISTS (
                                     SELECT 1 FROM shifts s WHERE s.id = d.id AND s.ended_at IS NOT NULL))
                                 OR (d.kind = 'incident' AND EXISTS (
                                     SELECT 1 FROM incidents i WHERE i.id = d.id AND i.status = 'approved')))
                             ORDER BY d.changed_at LIMIT $3",
                        )
                        .await?;
                    c.query(
                        &st,
                        &[
                            &ms(rule.closed_before.max(rule.idle_before)),
                            &ms(rule.idle_before),
                            &limit,
                        ],
                    )
                    .await?
                }
            };
            rows.iter().map(|r| uid(r.try_get(0)?)).collect()
        })
    }

    fn store_compacted(&self, cm: &Compacted) -> Result<bool> {
        let doc = cm.doc.to_string();
        let through = i64::try_from(cm.saved.through_seq)
            .map_err(|_| StorageError::backend("feed position past i64"))?;
        let replaces = cm.replaces.map(|s| s as i64);
        let s = &cm.saved;
        let (count, bytes, ops) = (
            s.change_count as i64,
            s.change_bytes as i64,
            s.change_ops as i64,
        );
        self.write(async |tx| {
            // Two compactions of one document (two processes) take turns; pushes never take
            // this lock.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&COMPACTION_LOCK, &doc],
            )
            .await?;
            let current: Option<i64> = tx
                .query_opt("SELECT through_seq FROM saved_docs WHERE doc_id = $1", &[&doc])
                .await?
                .map(|r| r.get(0));
            if current != replaces {
                return Ok(false);
            }
            let rows: i64 = tx
                .query_one(
                    "SELECT count(*) FROM changes WHERE doc_id = $1 AND seq <= $2",
                    &[&doc, &through],
                )
                .await?
                .get(0);
            if rows as u64 != cm.folded {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM changes WHERE doc_id = $1 AND seq <= $2",
                &[&doc, &through],
            )
            .await?;
            tx.execute(
                "INSERT INTO saved_docs (doc_id, through_seq, bytes, change_count, change_bytes, change_ops)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (doc_id) DO UPDATE SET through_seq = excluded.through_seq,
                     bytes = excluded.bytes, change_count = excluded.change_count,
                     change_bytes = excluded.change_bytes, change_ops = excluded.change_ops",
                &[&doc, &through, &s.bytes, &count, &bytes, &ops],
            )
            .await?;
            tx.execute(
                "UPDATE documents SET loose = loose - $2 WHERE id = $1",
                &[&doc, &rows],
            )
            .await?;
            Ok(true)
        })
    }

    fn change_signatures(&self, doc: Uuid) -> Result<Vec<super::super::StoredSignature>> {
        self.read(async |c| {
            let rows = c
                .query(
                    "SELECT hash, person_id, device_id, public_key, signature, received_at
                     FROM change_signatures WHERE doc_id = $1 ORDER BY id",
                    &[&doc.to_string()],
                )
                .await?;
            let bytes32 = |v: Vec<u8>| -> Result<[u8; 32]> {
                v.try_into()
                    .map_err(|_| StorageError::backend("a stored hash or key is not 32 bytes"))
            };
            rows.iter()
                .map(|r| {
                    Ok(super::super::StoredSignature {
                        doc_id: doc,
                        change: bytes32(r.try_get(0)?)?,
                        person_id: uid(r.try_get(1)?)?,
                        device_id: uid(r.try_get(2)?)?,
                        public_key: bytes32(r.try_get(3)?)?,
                        signature: r.try_get(4)?,
                        received_at: super::super::rows::time(r.try_get(5)?),
                    })
                })
                .collect()
        })
    }

    fn storage_size(&self) -> Result<StorageSize> {
        self.read(async |c| {
            let r = c
                .query_one(
                    "SELECT pg_database_size(current_database()),
                        (SELECT count(*) FROM documents),
                        (SELECT count(*) FROM saved_docs),
                        (SELECT coalesce(sum(length(bytes)), 0)::bigint FROM saved_docs),
                        (SELECT count(*) FROM changes),
                        (SELECT coalesce(sum(length(bytes)), 0)::bigint FROM changes)",
                    &[],
                )
                .await?;
            let n = |i: usize| -> Result<u64> { Ok(r.try_get::<_, i64>(i)?.max(0) as u64) };
            Ok(StorageSize {
                database_bytes: n(0)?,
                documents: n(1)?,
                compacted: n(2)?,
                saved_bytes: n(3)?,
                change_rows: n(4)?,
                change_row_bytes: n(5)?,
            })
        })
    }
}

/// The last feed position: of a change row or of a compacted part (compaction removes rows,
/// so the newest row alone could move back).
const MAX_POSITION: &str = "SELECT greatest(
    coalesce((SELECT max(seq) FROM changes), 0),
    coalesce((SELECT max(through_seq) FROM saved_docs), 0))";

/// The advisory lock class of compactions (keyed by the document's id hash).
const COMPACTION_LOCK: i32 = 0x524e_4453;

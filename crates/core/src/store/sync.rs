//! What the sync client needs from the store.
//!
//! - [`Store::pending_changes`]: the changes the district server has not acknowledged yet,
//!   grouped by document with their headers and their makers' signatures, oldest first and
//!   bounded in size. On a shared phone that is everyone's signed work: any session carries
//!   it ([`Store::waiting_for_others`] says whose else is still waiting).
//! - [`Store::acknowledge`]: records that the server committed some changes (by hash).
//!   Acknowledging twice, or a hash the device does not have, changes nothing.
//! - [`Store::apply_remote`]: stores changes received from elsewhere and updates the
//!   projections, in one transaction. Already-known changes are skipped, so applying the
//!   same batch twice is harmless. A batch that would alter a document's header, that is not
//!   valid automerge, or whose document body does not read back is refused whole. The write
//!   lock is taken before any document is read, so a commit from the other connection of the
//!   pair (a check recorded on the screens during a sync) is never overwritten by a stale one.
//! - [`Store::sync_value`] / [`Store::set_sync_value`]: the client's small persistent state
//!   (its cursor on the server's change feed, the time of the last successful sync), kept
//!   per person by the client.

use automerge::{Change, ReadDoc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use std::collections::HashMap;

use super::{
    Store, check_cache, insert_header, load_doc, load_header, parse_uuid, projection, store_change,
};
use crate::document::{self, Header};
use crate::error::{Error, Result};

/// One change waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingChange {
    /// Its automerge hash.
    pub hash: [u8; 32],
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A document with changes waiting for the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDocument {
    /// Its header.
    pub header: Header,
    /// Its unacknowledged changes, in the order they were stored (dependencies first).
    pub changes: Vec<PendingChange>,
    /// For each person with changes among them, the signature over their last one, which
    /// covers their others (a maker's changes to one document on one device form a chain;
    /// see `rounds_domain::signing`). Empty only for the unlocked person's own changes stored
    /// unsigned, which no server accepts.
    pub signatures: Vec<PendingSignature>,
}

/// A stored signature over a waiting change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignature {
    /// The signed change.
    pub change: [u8; 32],
    /// Its maker.
    pub person: uuid::Uuid,
    /// Their public key on this device.
    pub key: [u8; 32],
    /// The signature (64 bytes).
    pub signature: Vec<u8>,
}

/// What [`Store::apply_remote`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Changes that were new to this device.
    pub new: usize,
    /// False when the changes depend on changes this device lacks; nothing was stored.
    pub complete: bool,
}

/// A whole document received as an automerge saved document: header, the saved bytes, and
/// changes made after it ([`Store::prepare_saved`]).
pub type SavedDocument = (Header, Vec<u8>, Vec<Vec<u8>>);

/// How much the store takes ([`Store::storage_size`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreSize {
    /// The encrypted database file and its write-ahead log, in bytes.
    pub database_bytes: u64,
    /// Records held.
    pub documents: u64,
    /// Records kept as a compacted snapshot (plus any changes after it).
    pub compacted: u64,
    /// Bytes of those snapshots.
    pub snapshot_bytes: u64,
    /// Changes kept one by one (not folded into a snapshot).
    pub change_rows: u64,
    /// Their bytes.
    pub change_bytes: u64,
    /// Photos held.
    pub photos: u64,
    /// Their bytes (the photos themselves, sealed in files beside the database).
    pub photo_bytes: u64,
}

/// How much of the unlocked person's work is waiting for sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBacklog {
    /// Their changes the server has not acknowledged.
    pub changes: u64,
    /// Documents they belong to.
    pub documents: u64,
}

/// Another person's work waiting on a shared phone: it goes out when they unlock and sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingFor {
    /// Whose.
    pub person: Uuid,
    /// Their name, from the reference data (`None` when it is not on the phone).
    pub name: Option<String>,
    /// Their changes waiting.
    pub changes: u64,
    /// The records those belong to.
    pub documents: u64,
}

impl Store {
    /// The unacknowledged changes, oldest first, stopping before `max_bytes` of change bytes
    /// or [`crate::limits::MAX_OPS_PER_PUSH`] operations, the server's cap on one push (but
    /// always at least one change, so progress is possible).
    ///
    /// On a shared phone this is everyone's waiting work, not only the unlocked person's: each
    /// change is signed by its maker, and the server accepts a person's changes from whoever's
    /// session carries them. A document is held back (until its maker unlocks, see
    /// [`Store::waiting_for_others`]) while another person's change to it has no signature
    /// (recorded before signing; their unlock signs it) or a change names no maker at all.
    pub fn pending_changes(&self, max_bytes: usize) -> Result<Vec<PendingDocument>> {
        self.pending_changes_except(max_bytes, &[])
    }

    /// [`Store::pending_changes`] leaving out some documents (ones the server refused in this
    /// sync, so the rest still moves).
    pub fn pending_changes_except(
        &self,
        max_bytes: usize,
        skip: &[Uuid],
    ) -> Result<Vec<PendingDocument>> {
        let skip: std::collections::HashSet<String> = skip.iter().map(Uuid::to_string).collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT doc_id, hash, bytes, by_person FROM changes
             WHERE acked = 0 AND doc_id NOT IN (
                 SELECT w.doc_id FROM changes w
                 WHERE w.acked = 0 AND (w.by_person IS NULL OR (w.by_person IS NOT ?1
                     AND NOT EXISTS (SELECT 1 FROM change_signatures s
                                     WHERE s.doc_id = w.doc_id AND s.hash = w.hash))))
             ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![self.person_id.to_string()])?;
        let mut out: Vec<PendingDocument> = Vec::new();
        // Each document's makers, with their last change so far.
        let mut makers: Vec<Vec<(String, [u8; 32])>> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let (mut total, mut ops) = (0usize, 0u64);
        while let Some(r) = rows.next()? {
            let doc_id: String = r.get(0)?;
            if skip.contains(&doc_id) {
                continue;
            }
            let hash: Vec<u8> = r.get(1)?;
            let bytes: Vec<u8> = r.get(2)?;
            let by: String = r.get(3)?;
            // Counted from the column headers: a scan of the bytes, not a parse.
            let n = crate::limits::change_ops("pending change", &bytes)?.ops;
            if total > 0
                && (total + bytes.len() > max_bytes || ops + n > crate::limits::MAX_OPS_PER_PUSH)
            {
                break;
            }
            total += bytes.len();
            ops += n;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| Error::internal("reading changes", "stored hash is not 32 bytes"))?;
            let id = parse_uuid(&doc_id)?;
            let slot = match index.get(&id) {
                Some(&i) => i,
                None => {
                    let header = load_header(&self.conn, id)?.ok_or_else(|| {
                        Error::internal("reading changes", "change without document")
                    })?;
                    out.push(PendingDocument {
                        header,
                        changes: Vec::new(),
                        signatures: Vec::new(),
                    });
                    makers.push(Vec::new());
                    index.insert(id, out.len() - 1);
                    out.len() - 1
                }
            };
            match makers[slot].iter_mut().find(|(p, _)| *p == by) {
                Some(m) => m.1 = hash,
                None => makers[slot].push((by, hash)),
            }
            out[slot].changes.push(PendingChange { hash, bytes });
        }
        drop(rows);
        let mut sig = self.conn.prepare_cached(
            "SELECT person_id, public_key, signature FROM change_signatures
             WHERE doc_id = ?1 AND hash = ?2",
        )?;
        for (d, makers) in out.iter_mut().zip(makers) {
            for (_, last) in makers {
                let found = sig
                    .query_row(params![d.header.id.to_string(), last.as_slice()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?))
                    })
                    .optional()?;
                if let Some((person, key, signature)) = found {
                    d.signatures.push(PendingSignature {
                        change: last,
                        person: parse_uuid(&person)?,
                        key: key.try_into().map_err(|_| {
                            Error::internal("reading signatures", "stored key is not 32 bytes")
                        })?,
                        signature,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Marks changes as committed by the server. Returns how many were newly acknowledged.
    pub fn acknowledge(&mut self, hashes: &[[u8; 32]]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for h in hashes {
            n += tx
                .prepare_cached("UPDATE changes SET acked = 1 WHERE hash = ?1 AND acked = 0")?
                .execute(params![h.as_slice()])?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Stores changes to one document received from elsewhere, with the header the sender
    /// declared. `from_server` marks them as already held by the server (nothing to push);
    /// changes from another device directly stay pending.
    ///
    /// If the changes depend on changes this device does not have (a document seen for the
    /// first time from the middle of its history), nothing is stored and the outcome says so:
    /// the caller fetches the whole document and applies that instead.
    pub fn apply_remote(
        &mut self,
        header: &Header,
        changes: &[Vec<u8>],
        from_server: bool,
    ) -> Result<Applied> {
        let batch = [(header.clone(), changes.to_vec())];
        let mut results = self.apply_remote_many(&batch, from_server)?;
        results.pop().unwrap_or(Ok(Applied {
            new: 0,
            complete: false,
        }))
    }

    /// [`Store::apply_remote`] for many documents in one transaction (one durable commit for a
    /// whole page of a pull). Each document succeeds or fails on its own; the outer `Err` is
    /// for the store itself failing, in which case nothing was stored.
    pub fn apply_remote_many(
        &mut self,
        docs: &[(Header, Vec<Vec<u8>>)],
        from_server: bool,
    ) -> Result<Vec<Result<Applied>>> {
        // The write lock first (`BEGIN IMMEDIATE`), then the cache check, then the documents:
        // the other connection of the pair (the screens, recording a check during a sync)
        // cannot commit between reading a document and writing its projection, and a document
        // it changed before is reloaded rather than taken stale from the cache.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        check_cache(&tx, &mut self.cache, &mut self.seen_version)?;
        let mut results: Vec<Result<Applied>> = Vec::with_capacity(docs.len());
        let mut ready = Vec::new();
        for (i, (header, changes)) in docs.iter().enumerate() {
            match prepare_remote(&tx, &mut self.cache, self.device_id, header, changes) {
                Ok(Some((doc, parsed))) => {
                    results.push(Ok(Applied {
                        new: 0,
                        complete: true,
                    }));
                    ready.push((i, doc, parsed));
                }
                Ok(None) => results.push(Ok(Applied {
                    new: 0,
                    complete: false,
                })),
                Err(e) => results.push(Err(e)),
            }
        }
        let mut stored = Vec::with_capacity(ready.len());
        // Search entries are written after the last savepoint (see
        // `projection::project_gathering`).
        let mut search = Vec::new();
        for (i, doc, parsed) in ready {
            let header = &docs[i].0;
            tx.execute_batch("SAVEPOINT remote_doc")?;
            let mut mine = Vec::new();
            let one = (|| -> Result<usize> {
                insert_header(&tx, header, None)?;
                let mut new = 0;
                for c in &parsed {
                    new += store_change(&tx, header.id, c, from_server)? as usize;
                }
                projection::project_gathering(&tx, header, &doc, &mut mine)?;
                Ok(new)
            })();
            match one {
                Ok(new) => {
                    tx.execute_batch("RELEASE remote_doc")?;
                    search.append(&mut mine);
                    results[i] = Ok(Applied {
                        new,
                        complete: true,
                    });
                    stored.push((header.clone(), doc));
                }
                Err(e) => {
                    tx.execute_batch("ROLLBACK TO remote_doc; RELEASE remote_doc")?;
                    results[i] = Err(e);
                }
            }
        }
        projection::write_search(&tx, search)?;
        tx.commit()?;
        for (h, doc) in stored {
            self.put_back(h, doc);
        }
        Ok(results)
    }

    /// Makes received saved documents ready to store, without the store (so on any thread,
    /// while the store writes an earlier batch): each is loaded (automerge rebuilds every
    /// change to check its hash: most of the work), its later changes applied, its header
    /// checked against the one given and its projection read, on up to [`PREPARE_THREADS`]
    /// threads. `device` is this device's id ([`Store::device_id`]).
    pub fn prepare_saved(device: Uuid, docs: Vec<SavedDocument>) -> PreparedSaved {
        PreparedSaved(prepare_all(device, docs))
    }

    /// Stores whole documents received as automerge saved documents (a fetch for documents
    /// this device held none of: snapshot pulls, compacted documents), made ready by
    /// [`Store::prepare_saved`], in one transaction, as already held by the server. The saved form
    /// becomes the document's snapshot as it is: loading it once costs far less than applying
    /// its changes one by one. Each document succeeds or fails on its own, as in
    /// [`Store::apply_remote_many`]; one the device already holds part of (it arrived by
    /// another way meanwhile) is merged change by change instead.
    pub fn apply_prepared(&mut self, prepared: PreparedSaved) -> Result<Vec<Result<Applied>>> {
        let docs = prepared.0;
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        check_cache(&tx, &mut self.cache, &mut self.seen_version)?;
        let mut results: Vec<Result<Applied>> = Vec::with_capacity(docs.len());
        let mut stored = Vec::new();
        let mut held = Vec::new();
        // Search entries are written after the last document (see
        // `projection::project_gathering`).
        let mut search = Vec::new();
        // Everything that can refuse a document was checked while preparing it: what is left
        // are writes, so no document needs a savepoint of its own (a failed write fails the
        // whole batch, as a failure of the store itself).
        for (i, (d, prepared)) in docs.into_iter().enumerate() {
            if load_header(&tx, d.0.id)?.is_some() {
                results.push(Ok(Applied {
                    new: 0,
                    complete: false,
                }));
                held.push((i, d));
                continue;
            }
            let (header, bytes, _) = &d;
            match prepared {
                Prepared::Ready(ready) => {
                    let Ready {
                        doc,
                        tail,
                        projected,
                    } = *ready;
                    insert_header(&tx, header, Some(bytes))?;
                    let mut new = 0;
                    for c in &tail {
                        new += store_change(&tx, header.id, c, true)? as usize;
                    }
                    projection::write_gathering(&tx, header, projected, &mut search)?;
                    results.push(Ok(Applied {
                        new,
                        complete: true,
                    }));
                    stored.push((header.clone(), doc));
                }
                Prepared::Incomplete => results.push(Ok(Applied {
                    new: 0,
                    complete: false,
                })),
                Prepared::Refused(e) => results.push(Err(e)),
            }
        }
        projection::write_search(&tx, search)?;
        tx.commit()?;
        for (h, doc) in stored {
            self.put_back(h, doc);
        }
        // Documents held in part: their changes, merged as any received changes are. This is
        // a race (the fetch asked for them because the device held none of them), so they are
        // loaded again here rather than kept from preparing.
        if !held.is_empty() {
            let mut batch = Vec::with_capacity(held.len());
            for (i, (header, bytes, tail)) in held {
                match automerge::Automerge::load(&bytes) {
                    Ok(doc) => {
                        let mut changes: Vec<Vec<u8>> = doc
                            .get_changes(&[])
                            .iter()
                            .map(|c| c.raw_bytes().to_vec())
                            .collect();
                        changes.extend(tail);
                        batch.push((i, (header, changes)));
                    }
                    Err(e) => results[i] = Err(Error::invalid("saved document", e.to_string())),
                }
            }
            let (index, batch): (Vec<usize>, Vec<_>) = batch.into_iter().unzip();
            for (i, r) in index.into_iter().zip(self.apply_remote_many(&batch, true)?) {
                results[i] = r;
            }
        }
        Ok(results)
    }

    /// The heads of a document on this device (empty if the device does not have it).
    pub fn heads(&mut self, id: Uuid) -> Result<Vec<[u8; 32]>> {
        if load_header(&self.conn, id)?.is_none() {
            return Ok(Vec::new());
        }
        self.read_doc(id, |doc| Ok(doc.get_heads().iter().map(|h| h.0).collect()))
    }

    /// Every change of a document this device holds, for a peer that has none of them.
    pub fn all_changes(&mut self, id: Uuid) -> Result<Vec<Vec<u8>>> {
        self.read_doc(id, |doc| {
            Ok(doc
                .get_changes(&[])
                .iter()
                .map(|c| c.raw_bytes().to_vec())
                .collect())
        })
    }

    /// Ids of every document on the device.
    pub fn document_ids(&self) -> Result<Vec<Uuid>> {
        self.conn
            .prepare("SELECT id FROM documents ORDER BY id")?
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|r| Ok(parse_uuid(&r?)?))
            .collect()
    }

    /// How much the store takes on this device (the app's diagnostics): the database file
    /// with its write-ahead log, how much of its history is compacted, and the photos.
    pub fn storage_size(&self) -> Result<StoreSize> {
        let file = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        let (documents, compacted, snapshot_bytes): (i64, i64, i64) = self.conn.query_row(
            "SELECT count(*), count(snapshot), coalesce(sum(length(snapshot)), 0) FROM documents",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (change_rows, change_bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM changes",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (photos, photo_bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM photos",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let n = |v: i64| v.max(0) as u64;
        Ok(StoreSize {
            database_bytes: file(&self.path) + file(std::path::Path::new(&wal)),
            documents: n(documents),
            compacted: n(compacted),
            snapshot_bytes: n(snapshot_bytes),
            change_rows: n(change_rows),
            change_bytes: n(change_bytes),
            photos: n(photos),
            photo_bytes: n(photo_bytes),
        })
    }

    /// How much waits for sync.
    pub fn backlog(&self) -> Result<SyncBacklog> {
        Ok(self.conn.query_row(
            "SELECT count(*), count(DISTINCT doc_id) FROM changes
             WHERE acked = 0 AND by_person = ?1",
            params![self.person_id.to_string()],
            |r| {
                Ok(SyncBacklog {
                    changes: r.get::<_, i64>(0)? as u64,
                    documents: r.get::<_, i64>(1)? as u64,
                })
            },
        )?)
    }

    /// Other people's work waiting on this phone, by person (most first). A change whose maker
    /// is unknown (no `by` in its message: no server accepts it) is counted under the nil id.
    pub fn waiting_for_others(&self) -> Result<Vec<WaitingFor>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(c.by_person, ?2), p.name, count(*), count(DISTINCT c.doc_id)
             FROM changes c LEFT JOIN ref_people p ON p.id = c.by_person
             WHERE c.acked = 0 AND c.by_person IS NOT ?1
             GROUP BY 1 ORDER BY 3 DESC, 1",
        )?;
        let rows = stmt.query_map(
            params![self.person_id.to_string(), Uuid::nil().to_string()],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (person, name, changes, documents) = row?;
            Ok(WaitingFor {
                person: parse_uuid(&person)?,
                name,
                changes: changes as u64,
                documents: documents as u64,
            })
        })
        .collect()
    }

    /// A value of the sync client's state.
    pub fn sync_value(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM sync_state WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a value of the sync client's state (durably).
    pub fn set_sync_value(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?1, ?2)")?
            .execute(params![key, value])?;
        Ok(())
    }
}

/// Applies changes to a copy of the document in memory and checks them; `None` when they
/// depend on changes this device lacks. Writes nothing. Called under the write lock, after
/// [`check_cache`], so a cached document is current.
fn prepare_remote(
    conn: &rusqlite::Connection,
    cache: &mut HashMap<Uuid, (Header, automerge::Automerge)>,
    device_id: Uuid,
    header: &Header,
    changes: &[Vec<u8>],
) -> Result<Option<(automerge::Automerge, Vec<Change>)>> {
    let parsed = parse_changes(changes)?;
    let known = load_header(conn, header.id)?;
    if let Some(k) = &known
        && k != header
    {
        return Err(Error::HeaderChanged {
            doc: header.id,
            field: first_difference(k, header).to_string(),
        });
    }
    // The cached document is taken out; it goes back only once everything committed.
    let mut doc = match cache.remove(&header.id) {
        Some((_, d)) => d,
        None if known.is_some() => load_doc(conn, header.id, device_id)?,
        None => automerge::Automerge::new().with_actor(document::actor_for(device_id)),
    };
    doc.apply_changes(parsed.iter().cloned())
        .map_err(|e| Error::invalid("changes", format!("cannot be applied: {e}")))?;
    if !doc.get_missing_deps(&[]).is_empty()
        || doc.get(automerge::ROOT, "header").ok().flatten().is_none()
    {
        return Ok(None);
    }
    document::check_header(&doc, header)?;
    Ok(Some((doc, parsed)))
}

fn first_difference(a: &Header, b: &Header) -> &'static str {
    if a.kind != b.kind {
        "kind"
    } else if a.school_id != b.school_id {
        "school"
    } else if a.author_id != b.author_id {
        "author"
    } else if a.device_id != b.device_id {
        "device"
    } else if a.created_at != b.created_at {
        "created_at"
    } else {
        "classification"
    }
}

/// Most threads [`Store::prepare_saved`] uses.
const PREPARE_THREADS: usize = 4;

/// Received saved documents made ready to store ([`Store::prepare_saved`]).
pub struct PreparedSaved(Vec<(SavedDocument, Prepared)>);

/// What preparing one saved document found.
enum Prepared {
    /// Loaded with its later changes applied, its header checked and its projection read.
    Ready(Box<Ready>),
    /// It still lacks changes, or has no header yet: nothing is stored.
    Incomplete,
    /// The device's own checks refuse it.
    Refused(Error),
}

/// A document ready to store.
struct Ready {
    doc: automerge::Automerge,
    tail: Vec<Change>,
    projected: projection::Projected,
}

/// Each saved document prepared, in order, on up to [`PREPARE_THREADS`] threads (as many as
/// the device has cores).
fn prepare_all(device: Uuid, docs: Vec<SavedDocument>) -> Vec<(SavedDocument, Prepared)> {
    let prepare = |chunk: Vec<SavedDocument>| {
        chunk
            .into_iter()
            .map(|d| {
                let p = prepare(device, &d).unwrap_or_else(Prepared::Refused);
                (d, p)
            })
            .collect::<Vec<_>>()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, PREPARE_THREADS);
    if threads == 1 || docs.len() < 2 * threads {
        return prepare(docs);
    }
    let per = docs.len().div_ceil(threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut rest = docs;
    while rest.len() > per {
        let tail = rest.split_off(per);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| s.spawn(move || prepare(chunk)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Received changes parsed, within the same caps as the server's: a compressed chunk is never
/// inflated past them, whoever sent it.
fn parse_changes(changes: &[Vec<u8>]) -> Result<Vec<Change>> {
    changes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            Ok(crate::limits::parse_change(
                &format!("changes[{i}]"),
                b.clone(),
            )?)
        })
        .collect()
}

fn prepare(device: Uuid, (header, bytes, tail): &SavedDocument) -> Result<Prepared> {
    let mut doc = automerge::Automerge::load(bytes)
        .map_err(|e| Error::invalid("saved document", e.to_string()))?
        .with_actor(document::actor_for(device));
    let parsed = parse_changes(tail)?;
    doc.apply_changes(parsed.iter().cloned())
        .map_err(|e| Error::invalid("changes", format!("cannot be applied: {e}")))?;
    if !doc.get_missing_deps(&[]).is_empty()
        || doc.get(automerge::ROOT, "header").ok().flatten().is_none()
    {
        return Ok(Prepared::Incomplete);
    }
    document::check_header(&doc, header)?;
    let projected = projection::read(header, &doc)?;
    Ok(Prepared::Ready(Box::new(Ready {
        doc,
        tail: parsed,
        projected,
    })))
}

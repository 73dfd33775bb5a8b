//! Compaction: the history of a settled document folded into one automerge saved document.
//!
//! The server keeps every change a device pushes as a row (its feed position, its hash, its
//! bytes): what the feed streams to devices. Once a document has settled, nobody needs its
//! changes one by one any more, and a row per change costs some 20 times what automerge's
//! saved form of the same history does (columnar and compressed: about 15 bytes a check). So
//! a settled document's changes up to a feed position become one saved part
//! ([`crate::storage::SavedPart`]); later changes stay rows after it.
//!
//! **Settled** ([`Policy`]): an ended shift or an approved incident not changed for
//! [`Policy::closed_quiet`] (an hour by default: their rules admit almost no further change,
//! and an amendment after approval simply becomes a row after the saved part, folded in by a
//! later pass), and any document, a contact note or a draft included, not changed for
//! [`Policy::idle_quiet`] (a week). Compacting an active document would be correct too (the
//! tests do it at random moments), only wasted work: its next change comes as a row anyway.
//!
//! **Nothing is lost, nothing is duplicated.** A pass stores a few documents' compactions in
//! one short storage transaction ([`SyncStore::store_compacted_all`]): for each, the new saved
//! part replaces the old one and exactly the rows it was built from, or nothing of that
//! document is written if it moved on in a way the compaction did not see. The saved form is
//! built outside any transaction and checked before it is stored: loaded back, it must give
//! the same heads and every change hash of the history it replaces (so the hashes devices
//! hold, and signatures over them, still verify). A kill at any moment leaves either the old
//! rows or the new saved part. Pushes never wait for it: it
//! does not change a document's version, so a push that loaded a document before a compaction
//! still commits.
//!
//! **Devices still get exactly what they lack.** A compacted part appears in the feed at its
//! last change's position, without bytes: a device whose cursor is before it fetches the
//! document by heads and receives only the changes it lacks (or, holding none, the saved part
//! as it is). A device whose cursor is past it had every change already.

use std::collections::HashSet;
use std::time::Duration;

use automerge::Automerge;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::storage::{Compacted, SavedPart, Settled, Storage, StorageError, StoredDoc};

/// When documents count as settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Ended shifts and approved incidents not changed for this long.
    pub closed_quiet: Duration,
    /// Any document not changed for this long.
    pub idle_quiet: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            closed_quiet: Duration::from_secs(3600),
            idle_quiet: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl Policy {
    /// What is settled at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> Settled {
        let back =
            |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Settled {
            closed_before: back(self.closed_quiet),
            idle_before: back(self.idle_quiet),
        }
    }
}

/// Why a compaction failed.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A stored history does not load, or its saved form would not give it back whole.
    #[error("document {doc}: {why}")]
    Damaged {
        /// The document.
        doc: Uuid,
        /// What is wrong.
        why: String,
    },
}

/// What one document's compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its rows up to the new saved part were folded in: this many.
    Folded(u64),
    /// Nothing to fold (no rows), or the document moved on meanwhile (the next pass sees it).
    Unchanged,
}

/// Compacts one document: builds the saved form of its whole history outside any
/// transaction, checks it gives the history back, and stores it in one short transaction.
pub fn compact_document(storage: &dyn Storage, id: Uuid) -> Result<Outcome, CompactionError> {
    let Some(doc) = storage.document(id)? else {
        return Ok(Outcome::Unchanged);
    };
    let Some(c) = build(&doc)? else {
        return Ok(Outcome::Unchanged);
    };
    Ok(if storage.store_compacted(&c)? {
        Outcome::Folded(c.folded)
    } else {
        Outcome::Unchanged
    })
}

/// The compaction of a stored document (none if it has no change rows), built and checked
/// outside any transaction: the slow part.
fn build(doc: &StoredDoc) -> Result<Option<Compacted>, CompactionError> {
    let id = doc.header.id;
    let damaged = |why: String| CompactionError::Damaged { doc: id, why };
    if doc.changes.is_empty() {
        return Ok(None);
    }
    let am = doc.to_automerge().map_err(damaged)?;
    let bytes = am.save();
    // The saved form must give back every change as it was. Loading checks each change's
    // hash as it rebuilds it, and a change's hash covers its dependencies' hashes, so the same
    // heads mean the same changes, every one: a history that would not come back (a change
    // encoded unlike automerge encodes it) is left as rows.
    let back = Automerge::load(&bytes).map_err(|e| damaged(format!("saved form: {e}")))?;
    if back.get_heads() != am.get_heads() {
        return Err(damaged(
            "its saved form does not give back the same changes: left as rows".into(),
        ));
    }
    let (change_bytes, change_ops) = doc
        .history_size()
        .map_err(|e| damaged(format!("history: {e}")))?;
    Ok(Some(Compacted {
        doc: id,
        replaces: doc.saved.as_ref().map(|s| s.through_seq),
        folded: doc.changes.len() as u64,
        saved: SavedPart {
            bytes,
            through_seq: doc.changes_through,
            change_count: doc.saved.as_ref().map_or(0, |s| s.change_count)
                + doc.changes.len() as u64,
            change_bytes,
            change_ops,
        },
    }))
}

/// Change rows a pass folds in one storage transaction at most (with at least one document
/// each): a shift's round of about 200 checks alone, short histories such as incidents' many
/// at a time, so the pages they share are written once for all of them, while a push waiting
/// behind the transaction waits a few milliseconds (with 1,000 the surge's push p99 during a
/// pass rose by 138 ms: docs/storage.md#sizing).
pub const ROWS_PER_TRANSACTION: u64 = 200;

/// What a pass runs between batches so it shares the machine: a pause as long as the batch
/// took (at least 20 ms), so a pass uses at most half of one core and pushes arriving meanwhile
/// keep the database's attention and the rest of the CPU.
pub fn paced() -> impl FnMut() {
    let mut batch = std::time::Instant::now();
    move || {
        std::thread::sleep(batch.elapsed().max(Duration::from_millis(20)));
        batch = std::time::Instant::now();
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Documents compacted.
    pub documents: u64,
    /// Change rows folded into saved parts.
    pub folded: u64,
    /// Documents left as rows because their history would not survive saving (logged).
    pub damaged: u64,
}

/// Documents a pass takes at a time.
pub const BATCH: usize = 100;

/// Compacts settled documents (`rule: None`: every document with rows) until none is left
/// or `max_documents` were looked at, a few documents per short transaction (at most
/// [`ROWS_PER_TRANSACTION`] rows folded, or one document); `between` runs after
/// each batch (the server's background task yields there). Stops early if a whole batch
/// made no progress (every one of them moved on or was damaged), rather than spinning.
pub fn run_pass(
    storage: &dyn Storage,
    rule: Option<&Settled>,
    max_documents: usize,
    mut between: impl FnMut(),
) -> Result<Pass, StorageError> {
    let mut pass = Pass::default();
    let mut looked = 0usize;
    let mut skip: HashSet<Uuid> = HashSet::new();
    while looked < max_documents {
        let want = BATCH.min(max_documents - looked);
        let ids = storage.compaction_candidates(rule, want + skip.len())?;
        let ids: Vec<Uuid> = ids
            .into_iter()
            .filter(|id| !skip.contains(id))
            .take(want)
            .collect();
        if ids.is_empty() {
            break;
        }
        let mut progressed = false;
        looked += ids.len();
        // Read together, built one by one, stored a few at a time.
        let docs = storage.documents(&ids)?;
        let mut built: Vec<Compacted> = Vec::new();
        let mut store = |built: &mut Vec<Compacted>, pass: &mut Pass, skip: &mut HashSet<Uuid>| {
            let stored = storage.store_compacted_all(built)?;
            for (c, ok) in built.drain(..).zip(stored) {
                if ok {
                    pass.documents += 1;
                    pass.folded += c.folded;
                    progressed = true;
                } else {
                    skip.insert(c.doc);
                }
            }
            Ok::<(), StorageError>(())
        };
        for (id, doc) in ids.into_iter().zip(docs) {
            match doc.as_ref().map(build).transpose() {
                Ok(Some(Some(c))) => {
                    if !built.is_empty()
                        && built.iter().map(|b| b.folded).sum::<u64>() + c.folded
                            > ROWS_PER_TRANSACTION
                    {
                        store(&mut built, &mut pass, &mut skip)?;
                    }
                    built.push(c);
                }
                Ok(_) => {
                    skip.insert(id);
                }
                Err(CompactionError::Damaged { doc, why }) => {
                    tracing::warn!(%doc, %why, "document left uncompacted");
                    pass.damaged += 1;
                    skip.insert(id);
                }
                Err(CompactionError::Storage(e)) => return Err(e),
            }
        }
        store(&mut built, &mut pass, &mut skip)?;
        between();
        if !progressed {
            break;
        }
    }
    Ok(pass)
}

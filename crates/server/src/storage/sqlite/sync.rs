//! [`SyncStore`] over the SQLite backend: documents, their changes and projections, and the change feed.

use super::*;

impl SyncStore for SqliteStorage {
    fn header(&self, doc: Uuid) -> Result<Option<(Header, Vec<Uuid>)>> {
        self.read(|c| {
            let h = c
                .prepare_cached(&format!(
                    "SELECT {HEADER_COLS} FROM documents d WHERE d.id = ?1"
                ))?
                .query_row(params![doc.to_string()], |r| header_row(r, 0))
                .optional()?;
            match h {
                Some(h) => Ok(Some((h, readers_of(c, doc)?))),
                None => Ok(None),
            }
        })
    }

    fn document(&self, doc: Uuid) -> Result<Option<StoredDoc>> {
        self.read(|c| {
            // One read transaction: a compaction committing in between cannot leave the saved
            // part from before it beside the change rows from after it.
            c.execute_batch("BEGIN")?;
            let result = load_document(c, doc);
            c.execute_batch("COMMIT")?;
            result
        })
    }

    fn commit_all_audited(
        &self,
        commits: &[Commit],
        audit: &dyn Fn(&[CommitOutcome]) -> Option<crate::audit::NewEntry>,
    ) -> Result<Vec<CommitOutcome>> {
        self.write(|tx| {
            let outcomes = commits
                .iter()
                .map(|cm| commit_one(tx, cm))
                .collect::<Result<Vec<_>>>()?;
            if let Some(entry) = audit(&outcomes) {
                super::audit::append(tx, std::slice::from_ref(&entry))?;
            }
            Ok(outcomes)
        })
    }

    fn feed(&self, v: &Viewer, after: u64, max_bytes: usize) -> Result<FeedPage> {
        self.read(|c| {
            // One read transaction: the maximum and the page come from the same snapshot.
            c.execute_batch("BEGIN")?;
            let result = (|| {
                let max = max_position(c)?;
                // A cursor past i64::MAX is past every row: never wrapped to a negative one.
                let after_seq = i64::try_from(after).unwrap_or(i64::MAX);
                let mut page = feed_rows(c, v, after_seq, max, max_bytes)?;
                // Compacted documents whose folded changes the device may not have seen: at
                // their saved part's position, without bytes (the device fetches by heads).
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT s.through_seq, {HEADER_COLS} FROM saved_docs s JOIN documents d ON d.id = s.doc_id
                     WHERE s.through_seq > ?1 AND s.through_seq <= ?2 AND {VISIBLE}
                     ORDER BY s.through_seq LIMIT {FEED_BATCH}"
                ))?;
                let end = i64::try_from(page.cursor).unwrap_or(i64::MAX);
                let mut saved = Vec::new();
                let mut rows = stmt.query(params![after_seq, end, v.person.to_string(), v.role.code()])?;
                while let Some(r) = rows.next()? {
                    saved.push(FeedItem { seq: r.get::<_, i64>(0)? as u64, header: header_row(r, 1)?, bytes: None });
                }
                merge_compacted(&mut page, saved, FEED_BATCH);
                Ok(page)
            })();
            c.execute_batch("COMMIT")?;
            result
        })
    }

    fn max_seq(&self) -> Result<u64> {
        self.read(max_position)
    }

    fn document_count(&self) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }

    fn compaction_candidates(&self, rule: Option<&Settled>, limit: usize) -> Result<Vec<Uuid>> {
        self.read(|c| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let ids: Vec<String> = match rule {
                None => c
                    .prepare_cached(
                        "SELECT id FROM documents WHERE loose > 0 ORDER BY changed_at LIMIT ?1",
                    )?
                    .query_map(params![limit], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?,
                Some(rule) => c
                    .prepare_cached(
                        "SELECT d.id FROM documents d
                         WHERE d.loose > 0 AND d.changed_at < ?1 AND (
                             d.changed_at < ?2
                             OR (d.kind = 'shift' AND EXISTS (
                                 SELECT 1 FROM shifts s WHERE s.id = d.id AND s.ended_at IS NOT NULL))
                             OR (d.kind = 'incident' AND EXISTS (
                                 SELECT 1 FROM incidents i WHERE i.id = d.id AND i.status = 'approved')))
                         ORDER BY d.changed_at LIMIT ?3",
                    )?
                    .query_map(
                        params![ms(rule.closed_before.max(rule.idle_before)), ms(rule.idle_before), limit],
                        |r| r.get(0),
                    )?
                    .collect::<rusqlite::Result<_>>()?,
            };
            ids.iter().map(|s| Ok(id(s)?)).collect()
        })
    }

    fn store_compacted(&self, cm: &Compacted) -> Result<bool> {
        self.write(|tx| store_one_compacted(tx, cm))
    }

    fn store_compacted_all(&self, cs: &[Compacted]) -> Result<Vec<bool>> {
        // One transaction: the pages they share (the change rows' table and index, the
        // saved parts, the documents) are written to the WAL once, not once per document.
        self.write(|tx| cs.iter().map(|cm| store_one_compacted(tx, cm)).collect())
    }

    fn change_signatures(&self, doc: Uuid) -> Result<Vec<StoredSignature>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT hash, person_id, device_id, public_key, signature, received_at
                 FROM change_signatures WHERE doc_id = ?1 ORDER BY rowid",
            )?;
            let rows = stmt.query_map(params![doc.to_string()], |r| {
                let bytes32 = |v: Vec<u8>| -> rusqlite::Result<[u8; 32]> {
                    v.try_into().map_err(|_| {
                        conv(std::io::Error::other(
                            "a stored hash or key is not 32 bytes",
                        ))
                    })
                };
                Ok(StoredSignature {
                    doc_id: doc,
                    change: bytes32(r.get(0)?)?,
                    person_id: id(&r.get::<_, String>(1)?)?,
                    device_id: id(&r.get::<_, String>(2)?)?,
                    public_key: bytes32(r.get(3)?)?,
                    signature: r.get(4)?,
                    received_at: time(r.get(5)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn storage_size(&self) -> Result<StorageSize> {
        self.read(|c| {
            c.execute_batch("BEGIN")?;
            let result = (|| {
                let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
                let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                let (documents, compacted, saved_bytes): (i64, i64, i64) = c.query_row(
                    "SELECT (SELECT count(*) FROM documents), count(*), coalesce(sum(length(bytes)), 0) FROM saved_docs",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                let (change_rows, change_row_bytes): (i64, i64) = c.query_row(
                    "SELECT count(*), coalesce(sum(length(bytes)), 0) FROM changes",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Ok(StorageSize {
                    database_bytes: ((pages - free) * page_size) as u64,
                    documents: documents as u64,
                    compacted: compacted as u64,
                    change_rows: change_rows as u64,
                    change_row_bytes: change_row_bytes as u64,
                    saved_bytes: saved_bytes as u64,
                })
            })();
            c.execute_batch("COMMIT")?;
            result
        })
    }
}

/// Rows the feed reads per query.
const FEED_BATCH: usize = 2000;

/// The last feed position: of a change row or of a compacted part (compaction removes rows,
/// so the newest row alone could move back).
fn max_position(c: &Connection) -> Result<u64> {
    Ok(c.query_row(
        "SELECT max(coalesce((SELECT max(seq) FROM changes), 0),
                    coalesce((SELECT max(through_seq) FROM saved_docs), 0))",
        [],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// The visible change rows in `(after, max]`, at most about `max_bytes` of them.
fn feed_rows(
    c: &Connection,
    v: &Viewer,
    after: i64,
    max: u64,
    max_bytes: usize,
) -> Result<FeedPage> {
    let max = max as i64;
    let mut stmt = c.prepare_cached(&format!(
        "SELECT c.seq, c.bytes, {HEADER_COLS} FROM changes c JOIN documents d ON d.id = c.doc_id
         WHERE c.seq > ?1 AND c.seq <= ?2 AND {VISIBLE} ORDER BY c.seq LIMIT {FEED_BATCH}"
    ))?;
    let mut page = FeedPage {
        items: Vec::new(),
        cursor: (max as u64).max(after as u64),
        more: false,
    };
    let mut bytes = 0usize;
    let mut from = after;
    loop {
        let mut rows = stmt.query(params![from, max, v.person.to_string(), v.role.code()])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            n += 1;
            let seq: i64 = r.get(0)?;
            let b: Vec<u8> = r.get(1)?;
            if !page.items.is_empty() && bytes + b.len() > max_bytes {
                page.more = true;
                page.cursor = page.items.last().map_or(after as u64, |i| i.seq);
                return Ok(page);
            }
            bytes += b.len();
            from = seq;
            page.items.push(FeedItem {
                seq: seq as u64,
                header: header_row(r, 2)?,
                bytes: Some(b),
            });
        }
        if n < FEED_BATCH {
            return Ok(page);
        }
    }
}

/// Reads a document: header, version, saved part, the change rows after it, readers. Called
/// inside a read transaction.
fn load_document(c: &Connection, doc: Uuid) -> Result<Option<StoredDoc>> {
    let row = c
        .prepare_cached(&format!(
            "SELECT {HEADER_COLS}, d.version, s.bytes, s.through_seq, s.change_count, s.change_bytes, s.change_ops
             FROM documents d LEFT JOIN saved_docs s ON s.doc_id = d.id WHERE d.id = ?1"
        ))?
        .query_row(params![doc.to_string()], |r| {
            let saved = match r.get::<_, Option<Vec<u8>>>(8)? {
                Some(bytes) => Some(SavedPart {
                    bytes,
                    through_seq: r.get::<_, i64>(9)? as u64,
                    change_count: r.get::<_, i64>(10)? as u64,
                    change_bytes: r.get::<_, i64>(11)? as u64,
                    change_ops: r.get::<_, i64>(12)? as u64,
                }),
                None => None,
            };
            Ok((header_row(r, 0)?, r.get::<_, i64>(7)?, saved))
        })
        .optional()?;
    let Some((header, version, saved)) = row else {
        return Ok(None);
    };
    let mut stmt =
        c.prepare_cached("SELECT seq, bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
    let mut changes = Vec::new();
    let mut changes_through = 0u64;
    let mut rows = stmt.query(params![doc.to_string()])?;
    while let Some(r) = rows.next()? {
        changes_through = r.get::<_, i64>(0)? as u64;
        changes.push(r.get::<_, Vec<u8>>(1)?);
    }
    Ok(Some(StoredDoc {
        header,
        version,
        saved,
        changes,
        changes_through,
        readers: readers_of(c, doc)?,
    }))
}

/// One compaction inside a write transaction: [`SyncStore::store_compacted`].
fn store_one_compacted(tx: &rusqlite::Transaction<'_>, cm: &Compacted) -> Result<bool> {
    let doc = cm.doc.to_string();
    let through = i64::try_from(cm.saved.through_seq)
        .map_err(|_| StorageError::backend("feed position past i64"))?;
    // Checked before anything is written: returning false writes nothing.
    let current: Option<i64> = tx
        .prepare_cached("SELECT through_seq FROM saved_docs WHERE doc_id = ?1")?
        .query_row(params![doc], |r| r.get(0))
        .optional()?;
    if current.map(|s| s as u64) != cm.replaces {
        return Ok(false);
    }
    let rows: i64 = tx
        .prepare_cached("SELECT count(*) FROM changes WHERE doc_id = ?1 AND seq <= ?2")?
        .query_row(params![doc, through], |r| r.get(0))?;
    if rows as u64 != cm.folded {
        return Ok(false);
    }
    tx.prepare_cached("DELETE FROM changes WHERE doc_id = ?1 AND seq <= ?2")?
        .execute(params![doc, through])?;
    let s = &cm.saved;
    tx.prepare_cached(
                "INSERT INTO saved_docs (doc_id, through_seq, bytes, change_count, change_bytes, change_ops)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (doc_id) DO UPDATE SET through_seq = excluded.through_seq,
                     bytes = excluded.bytes, change_count = excluded.change_count,
                     change_bytes = excluded.change_bytes, change_ops = excluded.change_ops",
            )?
            .execute(params![
                doc,
                through,
                s.bytes,
                s.change_count as i64,
                s.change_bytes as i64,
                s.change_ops as i64
            ])?;
    tx.prepare_cached("UPDATE documents SET loose = loose - ?2 WHERE id = ?1")?
        .execute(params![doc, rows])?;
    Ok(true)
}

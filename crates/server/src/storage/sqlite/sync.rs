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
            let row = c
                .prepare_cached(&format!(
                    "SELECT {HEADER_COLS}, d.version FROM documents d WHERE d.id = ?1"
                ))?
                .query_row(params![doc.to_string()], |r| {
                    Ok((header_row(r, 0)?, r.get::<_, i64>(7)?))
                })
                .optional()?;
            let Some((header, version)) = row else {
                return Ok(None);
            };
            let mut stmt =
                c.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
            let changes = stmt
                .query_map(params![doc.to_string()], |r| r.get::<_, Vec<u8>>(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(StoredDoc {
                header,
                version,
                changes,
                readers: readers_of(c, doc)?,
            }))
        })
    }

    fn commit_all(&self, commits: &[Commit]) -> Result<Vec<CommitOutcome>> {
        self.write(|tx| commits.iter().map(|cm| commit_one(tx, cm)).collect())
    }

    fn feed(&self, v: &Viewer, after: u64, max_bytes: usize) -> Result<FeedPage> {
        self.read(|c| {
            // One read transaction: the maximum and the page come from the same snapshot.
            c.execute_batch("BEGIN")?;
            let result = (|| {
                let max: i64 = c.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT c.seq, c.bytes, {HEADER_COLS} FROM changes c JOIN documents d ON d.id = c.doc_id
                     WHERE c.seq > ?1 AND c.seq <= ?2 AND {VISIBLE} ORDER BY c.seq LIMIT 2000"
                ))?;
                // A cursor past i64::MAX is past every row: never wrapped to a negative one.
                let after_seq = i64::try_from(after).unwrap_or(i64::MAX);
                let mut page = FeedPage { items: Vec::new(), cursor: (max as u64).max(after), more: false };
                let mut bytes = 0usize;
                let mut from = after_seq;
                loop {
                    let mut rows = stmt.query(params![from, max, v.person.to_string(), v.role.code()])?;
                    let mut n = 0;
                    while let Some(r) = rows.next()? {
                        n += 1;
                        let seq: i64 = r.get(0)?;
                        let b: Vec<u8> = r.get(1)?;
                        if !page.items.is_empty() && bytes + b.len() > max_bytes {
                            page.more = true;
                            page.cursor = page.items.last().map_or(after, |i| i.seq);
                            return Ok(page);
                        }
                        bytes += b.len();
                        from = seq;
                        page.items.push(FeedItem { seq: seq as u64, header: header_row(r, 2)?, bytes: b });
                    }
                    if n < 2000 {
                        return Ok(page);
                    }
                }
            })();
            c.execute_batch("COMMIT")?;
            result
        })
    }

    fn max_seq(&self) -> Result<u64> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }

    fn document_count(&self) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))? as u64)
        })
    }
}

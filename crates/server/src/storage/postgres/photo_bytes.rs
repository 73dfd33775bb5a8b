//! [`PhotoStore`] in PostgreSQL: photo bytes as rows every server process shares, so any
//! process accepts, resumes and serves any upload, and the offset a device resumes from comes
//! from the database, not from one process's files.
//!
//! An upload in progress is the chunks one device sent (`photo_partial_chunks`, one row per
//! chunk, by offset); a complete photo is its chunks moved under its hash (`photo_chunks`) in
//! the transaction that checked their SHA-256. Each chunk is committed before it is
//! acknowledged. [`PhotoStore::lock`] takes a session-level advisory lock on a connection of
//! its own, which the returned guard owns: dropping the guard closes that connection, and
//! PostgreSQL releases the lock with the session, so no lock is ever left in a pool.
//!
//! The store runs its queries through the backend's [`PgDb`] (its runtime and pool): the
//! storage traits are synchronous (the server calls them from its blocking pool).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rounds_protocol::PhotoStatus;
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::PgDb;
use crate::storage::photo_store::{Appended, ChunkStep, PhotoLock, PhotoStore, plan_chunk};

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// The advisory lock key of a hash: the first 8 bytes of its SHA-256, as a `bigint`.
fn lock_key(hash: &str) -> i64 {
    let d = Sha256::digest(hash.as_bytes());
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Photo bytes in a PostgreSQL database (migrated by [`super::migrate`]).
pub struct PgPhotos {
    db: Arc<PgDb>,
}

impl PgPhotos {
    /// Connects to `url` (`postgres://…`) with a pool of its own.
    pub fn connect(url: &str) -> std::io::Result<PgPhotos> {
        Ok(PgPhotos::on(Arc::new(PgDb::connect(url).map_err(io)?)))
    }

    /// Photo bytes through a backend's pool.
    pub fn on(db: Arc<PgDb>) -> PgPhotos {
        PgPhotos { db }
    }

    async fn client(&self) -> std::io::Result<deadpool_postgres::Object> {
        self.db.pool.get().await.map_err(io)
    }

    async fn received_async(&self, device: Uuid, hash: &str) -> std::io::Result<u64> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one(
                "SELECT COALESCE(SUM(length(bytes)), 0)::BIGINT FROM photo_partial_chunks
                 WHERE device_id = $1 AND hash = $2",
                &[&device.to_string(), &hash],
            )
            .await
            .map_err(io)?
            .get(0);
        Ok(n.max(0) as u64)
    }
}

impl PhotoStore for PgPhotos {
    fn lock(&self, hash: &str) -> std::io::Result<PhotoLock> {
        let key = lock_key(hash);
        let client = self.db.run(async {
            let (client, conn) = self.db.config.connect(NoTls).await.map_err(io)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
                .execute("SELECT pg_advisory_lock($1)", &[&key])
                .await
                .map_err(io)?;
            Ok::<_, std::io::Error>(client)
        })?;
        // Dropping the client ends the session, and with it the lock.
        Ok(PhotoLock::new(client))
    }

    fn received(&self, device: Uuid, hash: &str) -> std::io::Result<u64> {
        self.db.run(self.received_async(device, hash))
    }

    fn partial_bytes(&self, device: Uuid) -> std::io::Result<u64> {
        self.db.run(async {
            let c = self.client().await?;
            let n: i64 = c
                .query_one(
                    "SELECT COALESCE(SUM(length(bytes)), 0)::BIGINT FROM photo_partial_chunks
                     WHERE device_id = $1",
                    &[&device.to_string()],
                )
                .await
                .map_err(io)?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn append(
        &self,
        device: Uuid,
        hash: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended> {
        let dev = device.to_string();
        self.db.run(async {
            let mut c = self.client().await?;
            let tx = c.transaction().await.map_err(io)?;
            let held: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(length(bytes)), 0)::BIGINT FROM photo_partial_chunks
                     WHERE device_id = $1 AND hash = $2",
                    &[&dev, &hash],
                )
                .await
                .map_err(io)?
                .get(0);
            let plan = plan_chunk(held.max(0) as u64, offset, total, chunk.len());
            if plan.restart {
                tx.execute(
                    "DELETE FROM photo_partial_chunks WHERE device_id = $1 AND hash = $2",
                    &[&dev, &hash],
                )
                .await
                .map_err(io)?;
            }
            let (skip, end) = match plan.step {
                ChunkStep::Gap { received } => {
                    tx.commit().await.map_err(io)?;
                    return Ok(Appended::Gap { received });
                }
                ChunkStep::Repeat { received } => {
                    tx.commit().await.map_err(io)?;
                    return Ok(Appended::Held(PhotoStatus {
                        received,
                        complete: false,
                    }));
                }
                ChunkStep::Write { skip, end } => (skip, end),
            };
            // What the upload held before this write (0 after a restart).
            let received = offset + skip as u64;
            let new = &chunk[skip..];
            // The database's clock, as the file store uses the file system's.
            tx.execute(
                "INSERT INTO photo_partial_chunks (device_id, hash, offset_at, bytes, written_at)
                 VALUES ($1, $2, $3, $4, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)",
                &[&dev, &hash, &(received as i64), &new],
            )
            .await
            .map_err(io)?;
            if end < total {
                tx.commit().await.map_err(io)?;
                return Ok(Appended::Held(PhotoStatus {
                    received: end,
                    complete: false,
                }));
            }
            let rows = tx
                .query(
                    "SELECT bytes FROM photo_partial_chunks WHERE device_id = $1 AND hash = $2
                     ORDER BY offset_at",
                    &[&dev, &hash],
                )
                .await
                .map_err(io)?;
            let mut digest = Sha256::new();
            for r in &rows {
                digest.update(r.get::<_, &[u8]>(0));
            }
            let actual = hex::encode(digest.finalize());
            if actual != hash {
                tx.execute(
                    "DELETE FROM photo_partial_chunks WHERE device_id = $1 AND hash = $2",
                    &[&dev, &hash],
                )
                .await
                .map_err(io)?;
                tx.commit().await.map_err(io)?;
                return Ok(Appended::Mismatch { actual });
            }
            tx.execute(
                "INSERT INTO photo_chunks (hash, offset_at, bytes)
                 SELECT hash, offset_at, bytes FROM photo_partial_chunks
                 WHERE device_id = $1 AND hash = $2
                 ON CONFLICT DO NOTHING",
                &[&dev, &hash],
            )
            .await
            .map_err(io)?;
            tx.execute(
                "DELETE FROM photo_partial_chunks WHERE device_id = $1 AND hash = $2",
                &[&dev, &hash],
            )
            .await
            .map_err(io)?;
            tx.commit().await.map_err(io)?;
            Ok(Appended::Completed(PhotoStatus {
                received: total,
                complete: true,
            }))
        })
    }

    fn complete_len(&self, hash: &str) -> std::io::Result<Option<u64>> {
        self.db.run(async {
            let c = self.client().await?;
            let row = c
                .query_one(
                    "SELECT COUNT(*), COALESCE(SUM(length(bytes)), 0)::BIGINT FROM photo_chunks
                     WHERE hash = $1",
                    &[&hash],
                )
                .await
                .map_err(io)?;
            let (parts, len): (i64, i64) = (row.get(0), row.get(1));
            Ok((parts > 0).then_some(len.max(0) as u64))
        })
    }

    fn read(&self, hash: &str) -> std::io::Result<Option<Vec<u8>>> {
        self.db.run(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT bytes FROM photo_chunks WHERE hash = $1 ORDER BY offset_at",
                    &[&hash],
                )
                .await
                .map_err(io)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let mut out = Vec::new();
            for r in &rows {
                out.extend_from_slice(r.get::<_, &[u8]>(0));
            }
            Ok(Some(out))
        })
    }

    fn remove(&self, hash: &str) -> std::io::Result<bool> {
        self.db.run(async {
            let c = self.client().await?;
            let n = c
                .execute("DELETE FROM photo_chunks WHERE hash = $1", &[&hash])
                .await
                .map_err(io)?;
            Ok(n > 0)
        })
    }

    fn remove_partials_before(&self, cutoff: DateTime<Utc>) -> std::io::Result<usize> {
        self.db.run(async {
            let c = self.client().await?;
            // An upload is stale when its newest chunk is older than the cutoff.
            let n: i64 = c
                .query_one(
                    "WITH stale AS (
                         SELECT device_id, hash FROM photo_partial_chunks
                         GROUP BY device_id, hash HAVING MAX(written_at) < $1
                     ), gone AS (
                         DELETE FROM photo_partial_chunks p USING stale
                         WHERE p.device_id = stale.device_id AND p.hash = stale.hash
                         RETURNING p.device_id, p.hash
                     )
                     SELECT COUNT(*) FROM (SELECT DISTINCT device_id, hash FROM gone) uploads",
                    &[&cutoff.timestamp_millis()],
                )
                .await
                .map_err(io)?
                .get(0);
            Ok(n.max(0) as usize)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, OnceLock};

    use super::*;
    use crate::storage::photo_store::contract;

    /// One cluster for these tests (each gets its own database).
    fn cluster() -> &'static rounds_pgtest::Cluster {
        static CLUSTER: OnceLock<rounds_pgtest::Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| rounds_pgtest::Cluster::start().expect("cluster"))
    }

    fn store(db: &str) -> (String, PgPhotos) {
        let url = cluster().create_database(db).expect("db");
        let rt = tokio::runtime::Runtime::new().expect("rt");
        rt.block_on(async {
            let (mut c, conn) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
            tokio::spawn(conn);
            super::super::migrate(&mut c).await.expect("migrate");
        });
        (url.clone(), PgPhotos::connect(&url).expect("photos"))
    }

    #[test]
    fn chunks_append_in_order_and_the_whole_is_checked() {
        let (_, s) = store("photos_order");
        contract::chunks_append_in_order_and_the_whole_is_checked(&s);
    }

    #[test]
    fn a_photo_whose_bytes_do_not_match_is_not_kept() {
        let (_, s) = store("photos_mismatch");
        contract::a_photo_whose_bytes_do_not_match_is_not_kept(&s);
    }

    #[test]
    fn a_hash_is_held_by_one_request_at_a_time_across_two_handles_on_the_database() {
        let (url, one) = store("photos_lock");
        let other = Arc::new(PgPhotos::connect(&url).expect("second handle"));
        contract::a_hash_is_held_by_one_request_at_a_time_across_handles(&one, other);
    }

    #[test]
    fn uploads_left_unfinished_are_removed_after_the_cutoff() {
        let (_, s) = store("photos_sweep");
        contract::uploads_left_unfinished_are_removed_after_the_cutoff(&s);
    }

    #[test]
    fn an_upload_begun_through_one_handle_resumes_through_another() {
        let (url, one) = store("photos_resume");
        let other = PgPhotos::connect(&url).expect("second handle");
        let photo = vec![9u8; 3000];
        let h = contract::hash(&photo);
        let device = Uuid::from_u128(7);
        one.append(device, &h, 0, 3000, &photo[..1000])
            .expect("first chunk");
        assert_eq!(
            other.received(device, &h).expect("received"),
            1000,
            "the other process knows where to resume"
        );
        let done = other
            .append(device, &h, 1000, 3000, &photo[1000..])
            .expect("the rest");
        assert!(matches!(done, Appended::Completed(_)), "{done:?}");
        assert_eq!(one.read(&h).expect("read"), Some(photo));
    }
}

//! [`PhotoIndex`] over PostgreSQL: the photo and upload rows; the bytes are [`super::PgPhotos`],
//! in the same database.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::rows::{ms, time};
use super::super::{PhotoIndex, PhotoRecord, PhotoStore, PhotoUpload, Result};
use super::{PgStorage, uid};

const UPLOAD_COLS: &str = "hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed";

fn upload_row(r: &tokio_postgres::Row) -> Result<PhotoUpload> {
    Ok(PhotoUpload {
        hash: r.try_get(0)?,
        record_id: uid(r.try_get(1)?)?,
        device_id: uid(r.try_get(2)?)?,
        person_id: uid(r.try_get(3)?)?,
        bytes: r.try_get::<_, i64>(4)?.max(0) as u64,
        uploaded_at: time(r.try_get(5)?),
        confirmed: r.try_get(6)?,
    })
}

impl PhotoIndex for PgStorage {
    fn photo_bytes(&self) -> &dyn PhotoStore {
        &self.photos
    }

    fn record_photo_upload(&self, p: &PhotoRecord, u: &PhotoUpload) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO photos (hash, bytes, device_id, person_id, uploaded_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING",
                &[
                    &p.hash,
                    &(p.bytes as i64),
                    &p.device_id.to_string(),
                    &p.person_id.to_string(),
                    &ms(p.uploaded_at),
                ],
            )
            .await?;
            tx.execute(
                "INSERT INTO photo_uploads
                     (hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (hash, record_id) DO UPDATE
                     SET confirmed = photo_uploads.confirmed OR excluded.confirmed",
                &[
                    &u.hash,
                    &u.record_id.to_string(),
                    &u.device_id.to_string(),
                    &u.person_id.to_string(),
                    &(u.bytes as i64),
                    &ms(u.uploaded_at),
                    &u.confirmed,
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn photo(&self, hash: &str) -> Result<Option<PhotoRecord>> {
        self.read(async |c| {
            match c
                .query_opt(
                    "SELECT bytes, device_id, person_id, uploaded_at FROM photos WHERE hash = $1",
                    &[&hash],
                )
                .await?
            {
                None => Ok(None),
                Some(r) => Ok(Some(PhotoRecord {
                    hash: hash.to_string(),
                    bytes: r.try_get::<_, i64>(0)?.max(0) as u64,
                    device_id: uid(r.try_get(1)?)?,
                    person_id: uid(r.try_get(2)?)?,
                    uploaded_at: time(r.try_get(3)?),
                })),
            }
        })
    }

    fn photo_uploads(&self, hash: &str) -> Result<Vec<PhotoUpload>> {
        self.read(async |c| {
            c.query(
                &format!(
                    "SELECT {UPLOAD_COLS} FROM photo_uploads WHERE hash = $1 ORDER BY uploaded_at, record_id"
                ),
                &[&hash],
            )
            .await?
            .iter()
            .map(upload_row)
            .collect()
        })
    }

    fn photo_bytes_sent(&self, device: Uuid, since: DateTime<Utc>) -> Result<u64> {
        self.read(async |c| {
            let n: i64 = c
                .query_one(
                    "SELECT coalesce(sum(bytes), 0)::BIGINT FROM photo_uploads
                     WHERE device_id = $1 AND uploaded_at >= $2",
                    &[&device.to_string(), &ms(since)],
                )
                .await?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    fn unconfirmed_photo_uploads(&self, before: DateTime<Utc>) -> Result<Vec<PhotoUpload>> {
        self.read(async |c| {
            c.query(
                &format!(
                    "SELECT {UPLOAD_COLS} FROM photo_uploads WHERE NOT confirmed AND uploaded_at < $1
                     ORDER BY uploaded_at"
                ),
                &[&ms(before)],
            )
            .await?
            .iter()
            .map(upload_row)
            .collect()
        })
    }

    fn settle_photo_upload(&self, hash: &str, record: Uuid, keep: bool) -> Result<()> {
        let sql = if keep {
            "UPDATE photo_uploads SET confirmed = TRUE WHERE hash = $1 AND record_id = $2"
        } else {
            "DELETE FROM photo_uploads WHERE hash = $1 AND record_id = $2"
        };
        let record = record.to_string();
        self.write(async |tx| {
            tx.execute(sql, &[&hash, &record]).await?;
            Ok(())
        })
    }

    fn forget_untied_photos(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        self.write(async |tx| {
            Ok(tx
                .query(
                    "DELETE FROM photos WHERE uploaded_at < $1
                         AND NOT EXISTS (SELECT 1 FROM photo_uploads u WHERE u.hash = photos.hash)
                     RETURNING hash",
                    &[&ms(before)],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }
}

//! [`PhotoIndex`] over the SQLite backend: the photo and upload rows (the bytes are [`super::super::PhotoFiles`]).

use super::*;

impl PhotoIndex for SqliteStorage {
    fn photo_bytes(&self) -> &dyn PhotoStore {
        &self.photos
    }

    fn record_photo_upload(&self, p: &PhotoRecord, u: &PhotoUpload) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO photos (hash, bytes, device_id, person_id, uploaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (hash) DO NOTHING",
                params![
                    p.hash,
                    p.bytes as i64,
                    p.device_id.to_string(),
                    p.person_id.to_string(),
                    ms(p.uploaded_at)
                ],
            )?;
            tx.execute(
                "INSERT INTO photo_uploads
                     (hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (hash, record_id) DO UPDATE
                     SET confirmed = max(confirmed, excluded.confirmed)",
                params![
                    u.hash,
                    u.record_id.to_string(),
                    u.device_id.to_string(),
                    u.person_id.to_string(),
                    u.bytes as i64,
                    ms(u.uploaded_at),
                    i64::from(u.confirmed)
                ],
            )?;
            Ok(())
        })
    }

    fn photo_uploads(&self, hash: &str) -> Result<Vec<PhotoUpload>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed
                 FROM photo_uploads WHERE hash = ?1 ORDER BY uploaded_at, record_id",
            )?;
            let rows = stmt.query_map(params![hash], photo_upload_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn photo_bytes_sent(&self, device: Uuid, since: DateTime<Utc>) -> Result<u64> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached(
                    "SELECT coalesce(sum(bytes), 0) FROM photo_uploads
                     WHERE device_id = ?1 AND uploaded_at >= ?2",
                )?
                .query_row(params![device.to_string(), ms(since)], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }

    fn unconfirmed_photo_uploads(&self, before: DateTime<Utc>) -> Result<Vec<PhotoUpload>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed
                 FROM photo_uploads WHERE confirmed = 0 AND uploaded_at < ?1
                 ORDER BY uploaded_at",
            )?;
            let rows = stmt.query_map(params![ms(before)], photo_upload_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn settle_photo_upload(&self, hash: &str, record: Uuid, keep: bool) -> Result<()> {
        self.write(|tx| {
            let sql = if keep {
                "UPDATE photo_uploads SET confirmed = 1 WHERE hash = ?1 AND record_id = ?2"
            } else {
                "DELETE FROM photo_uploads WHERE hash = ?1 AND record_id = ?2"
            };
            tx.execute(sql, params![hash, record.to_string()])?;
            Ok(())
        })
    }

    fn forget_untied_photos(&self, before: DateTime<Utc>) -> Result<Vec<String>> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "DELETE FROM photos WHERE uploaded_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM photo_uploads u WHERE u.hash = photos.hash)
                 RETURNING hash",
            )?;
            let rows = stmt.query_map(params![ms(before)], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn photo(&self, hash: &str) -> Result<Option<PhotoRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT bytes, device_id, person_id, uploaded_at FROM photos WHERE hash = ?1",
            )?
            .query_row(params![hash], |r| {
                Ok(PhotoRecord {
                    hash: hash.to_string(),
                    bytes: r.get::<_, i64>(0)?.max(0) as u64,
                    device_id: id(&r.get::<_, String>(1)?)?,
                    person_id: id(&r.get::<_, String>(2)?)?,
                    uploaded_at: time(r.get(3)?),
                })
            })
            .optional()?)
        })
    }
}

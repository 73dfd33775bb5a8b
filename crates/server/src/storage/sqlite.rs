//! The embedded SQLite backend: one file in the data folder, nothing to install.
//!
//! One writer connection (SQLite has one writer at a time anyway) and a few reader
//! connections; WAL lets readers work while a commit is in progress. `synchronous = FULL`:
//! when the server says a change is committed, it survives a power cut.
//!
//! **Why this file is long:** it implements the whole [`super::Storage`] trait for one backend,
//! each method a transaction over its SQL; it splits by concern with the trait itself when the
//! storage seam is split into narrow traits (the PostgreSQL issue).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{Checkpoint, Person, Post, ReferenceData, Role, Schedule, School};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::rows::{HEADER_COLS, header_row, id, ms, parse_code, time};
use super::*;

mod backup;
mod console;

pub use backup::BackupSummary;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../../migrations/server/sqlite/0001_init.sql"),
    include_str!("../../../../migrations/server/sqlite/0002_photos.sql"),
    include_str!("../../../../migrations/server/sqlite/0003_console.sql"),
    include_str!("../../../../migrations/server/sqlite/0004_sign_in_throttle.sql"),
    include_str!("../../../../migrations/server/sqlite/0005_photo_uploads.sql"),
];
const READERS: usize = 4;

/// SQLite-backed storage.
pub struct SqliteStorage {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    photos: PhotoFiles,
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StorageError {
    StorageError::Backend(Box::new(e))
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::ConstraintViolation) => StorageError::Conflict(e.to_string()),
            _ => backend(e),
        }
    }
}

fn photo_upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoUpload> {
    Ok(PhotoUpload {
        hash: r.get(0)?,
        record_id: id(&r.get::<_, String>(1)?)?,
        device_id: id(&r.get::<_, String>(2)?)?,
        person_id: id(&r.get::<_, String>(3)?)?,
        bytes: r.get::<_, i64>(4)?.max(0) as u64,
        uploaded_at: time(r.get(5)?),
        confirmed: r.get::<_, i64>(6)? != 0,
    })
}

fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA busy_timeout = 10000;")?;
    // Switching a new file to WAL answers "database is locked" at once, without waiting for
    // the busy timeout, while another process opens the same file: try again for as long.
    for attempt in 0.. {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => break,
            Err(e)
                if attempt < 1_000
                    && e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) `rounds.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        let path = dir.join("rounds.db");
        let mut writer = open(&path)?;
        // The schema version is read inside the write transaction that migrates, so several
        // processes starting at once on one file migrate it once: the first takes the write
        // lock and migrates; the others wait for it (busy_timeout) and find nothing to do.
        let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StorageError::Conflict(format!(
                "the database was written by a newer server (schema {version}, this build knows up to {supported})"
            )));
        }
        if version < supported {
            for sql in &MIGRATIONS[version as usize..] {
                tx.execute_batch(sql)?;
            }
            tx.pragma_update(None, "user_version", supported)?;
        }
        tx.commit()?;
        let readers = (0..READERS)
            .map(|_| open(&path).map(Mutex::new))
            .collect::<Result<_>>()?;
        Ok(SqliteStorage {
            path,
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            photos: PhotoFiles::new(dir.join("photos")),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % READERS;
        let conn = self.readers[i]
            .lock()
            .map_err(|_| StorageError::backend("reader poisoned"))?;
        f(&conn)
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| StorageError::backend("writer poisoned"))?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

fn bump_reference(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    tx.execute(
        "UPDATE reference_version SET version = version + 1 WHERE only_row = 1",
        [],
    )?;
    Ok(())
}

fn schools_of(conn: &Connection, person: Uuid) -> Result<Vec<Uuid>> {
    let mut stmt = conn.prepare_cached(
        "SELECT school_id FROM person_schools WHERE person_id = ?1 ORDER BY school_id",
    )?;
    let rows = stmt.query_map(params![person.to_string()], |r| id(&r.get::<_, String>(0)?))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn person_row(conn: &Connection, r: &rusqlite::Row<'_>) -> Result<PersonRecord> {
    let pid = id(&r.get::<_, String>(0)?)?;
    Ok(PersonRecord {
        id: pid,
        username: r.get(1)?,
        name: r.get(2)?,
        role: parse_code(Role::parse(&r.get::<_, String>(3)?, "role"))?,
        password_hash: r.get(4)?,
        active: r.get::<_, i64>(5)? != 0,
        schools: schools_of(conn, pid)?,
    })
}

const PERSON_COLS: &str = "id, username, name, role, password_hash, active";
fn readers_of(conn: &Connection, doc: Uuid) -> Result<Vec<Uuid>> {
    let mut stmt = conn
        .prepare_cached("SELECT person_id FROM doc_readers WHERE doc_id = ?1 ORDER BY person_id")?;
    let rows = stmt.query_map(params![doc.to_string()], |r| id(&r.get::<_, String>(0)?))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The visibility rules of `access::may_read`, in SQL. Parameters: ?3 person, ?4 role.
const VISIBLE: &str = "(
    (d.kind = 'shift' AND (
        ?4 = 'admin'
        OR (?4 = 'guard' AND d.author_id = ?3)
        OR (?4 = 'supervisor' AND d.school_id IN (SELECT school_id FROM person_schools WHERE person_id = ?3))))
    OR (d.kind = 'incident' AND (
        ?4 = 'admin'
        OR d.school_id IN (SELECT school_id FROM person_schools WHERE person_id = ?3)))
    OR (d.kind = 'contact_note' AND ?4 IN ('sro', 'supervisor')
        AND EXISTS (SELECT 1 FROM doc_readers r WHERE r.doc_id = d.id AND r.person_id = ?3))
)";

fn commit_one(tx: &rusqlite::Transaction<'_>, cm: &Commit) -> Result<CommitOutcome> {
    let h = &cm.header;
    let doc = h.id.to_string();
    match cm.expected_version {
        None => {
            let n = tx.execute(
                        "INSERT INTO documents (id, kind, school_id, author_id, device_id, created_at, classification, version)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) ON CONFLICT (id) DO NOTHING",
                        params![doc, h.kind.code(), h.school_id.to_string(), h.author_id.to_string(),
                            h.device_id.to_string(), ms(h.created_at), h.classification.code()],
                    )?;
            if n != 1 {
                return Ok(CommitOutcome::Stale);
            }
        }
        Some(v) => {
            let n = tx.execute(
                "UPDATE documents SET version = version + 1 WHERE id = ?1 AND version = ?2",
                params![doc, v],
            )?;
            if n != 1 {
                return Ok(CommitOutcome::Stale);
            }
        }
    }
    {
        let mut ins =
            tx.prepare_cached("INSERT INTO changes (doc_id, hash, bytes) VALUES (?1, ?2, ?3)")?;
        for (hash, bytes) in &cm.changes {
            ins.execute(params![doc, hash.as_slice(), bytes])?;
        }
    }
    match &cm.projection {
        Projection::Shift {
            post_id,
            started_at,
            ended_at,
            checks,
        } => {
            tx.execute(
                        "INSERT INTO shifts (id, school_id, post_id, guard_id, started_at, ended_at, check_count)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at, check_count = excluded.check_count",
                        params![doc, h.school_id.to_string(), post_id.to_string(), h.author_id.to_string(),
                            ms(*started_at), ended_at.map(ms), checks.len() as i64],
                    )?;
            let mut ins = tx.prepare_cached(
                        "INSERT INTO patrol_checks (id, shift_id, checkpoint_id, result, note, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT DO NOTHING",
                    )?;
            for c in checks {
                ins.execute(params![
                    c.id.to_string(),
                    doc,
                    c.checkpoint_id.to_string(),
                    c.result.code(),
                    c.note,
                    ms(c.at)
                ])?;
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
                        "INSERT INTO incidents (id, school_id, author_id, type, status, location, occurred_at, submitted_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                         ON CONFLICT (id) DO UPDATE SET type = excluded.type, status = excluded.status,
                            location = excluded.location, occurred_at = excluded.occurred_at, submitted_at = excluded.submitted_at",
                        params![doc, h.school_id.to_string(), h.author_id.to_string(), incident_type, status, location,
                            ms(*occurred_at), submitted_at.map(ms)],
                    )?;
        }
        Projection::Note { readers } => {
            tx.execute("DELETE FROM doc_readers WHERE doc_id = ?1", params![doc])?;
            for p in readers {
                tx.execute(
                            "INSERT INTO doc_readers (doc_id, person_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                            params![doc, p.to_string()],
                        )?;
            }
        }
    }
    Ok(CommitOutcome::Committed)
}

impl Storage for SqliteStorage {
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

    fn admit_attempt(
        &self,
        attempt: Uuid,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Admission> {
        let (now, window) = (ms(now), window.num_milliseconds().max(1));
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE at <= ?1",
                params![now - window],
            )?;
            {
                let mut times = tx.prepare_cached(
                    "SELECT at FROM sign_in_attempts WHERE throttle_key = ?1 AND at > ?2 ORDER BY at",
                )?;
                for (i, k) in keys.iter().enumerate() {
                    let at: Vec<i64> = times
                        .query_map(params![k.key, now - window], |r| r.get(0))?
                        .collect::<rusqlite::Result<_>>()?;
                    let limit = k.limit.max(1) as usize;
                    if at.len() >= limit {
                        // Room again once all but `limit - 1` of them are older than the window.
                        let frees_at = at[at.len() - limit] + window;
                        return Ok(Admission::Refused {
                            key: i,
                            retry_after: chrono::Duration::milliseconds((frees_at - now).max(1)),
                        });
                    }
                }
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO sign_in_attempts (attempt_id, throttle_key, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?;
            for k in keys {
                ins.execute(params![attempt.to_string(), k.key, now])?;
            }
            Ok(Admission::Admitted)
        })
    }

    fn finish_attempt(&self, attempt: Uuid, outcome: AttemptOutcome<'_>) -> Result<()> {
        let forgive = match outcome {
            AttemptOutcome::Failed => return Ok(()),
            AttemptOutcome::NotTried => &[][..],
            AttemptOutcome::Succeeded { forgive } => forgive,
        };
        self.write(|tx| {
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE attempt_id = ?1",
                params![attempt.to_string()],
            )?;
            for k in forgive {
                tx.execute(
                    "DELETE FROM sign_in_attempts WHERE throttle_key = ?1",
                    params![k],
                )?;
            }
            Ok(())
        })
    }

    fn reference_version(&self) -> Result<u64> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT version FROM reference_version", [], |r| {
                    r.get::<_, i64>(0)
                })? as u64,
            )
        })
    }

    fn reference_for(&self, v: &Viewer) -> Result<ReferenceData> {
        self.read(|c| {
            let all = v.role == Role::Admin;
            let mut schools = Vec::new();
            let mut stmt = c.prepare_cached("SELECT id, name FROM schools ORDER BY name, id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let s = School { id: id(&r.get::<_, String>(0)?)?, name: r.get(1)? };
                if all || v.schools.contains(&s.id) {
                    schools.push(s);
                }
            }
            let ids: Vec<Uuid> = schools.iter().map(|s| s.id).collect();
            let mut posts = Vec::new();
            let mut stmt = c.prepare_cached("SELECT id, school_id, name, orders FROM posts ORDER BY name, id")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let p = Post {
                    id: id(&r.get::<_, String>(0)?)?,
                    school_id: id(&r.get::<_, String>(1)?)?,
                    name: r.get(2)?,
                    orders: r.get(3)?,
                };
                if ids.contains(&p.school_id) {
                    posts.push(p);
                }
            }
            let post_ids: Vec<Uuid> = posts.iter().map(|p| p.id).collect();
            let mut checkpoints = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes
                 FROM checkpoints ORDER BY post_id, position, id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let cp = Checkpoint {
                    id: id(&r.get::<_, String>(0)?)?,
                    post_id: id(&r.get::<_, String>(1)?)?,
                    name: r.get(2)?,
                    tag_code: r.get(3)?,
                    position: r.get(4)?,
                    schedule: Schedule {
                        first_due_minutes: r.get(5)?,
                        interval_minutes: r.get(6)?,
                        grace_minutes: r.get(7)?,
                    },
                };
                if post_ids.contains(&cp.post_id) {
                    checkpoints.push(cp);
                }
            }
            let mut people = Vec::new();
            let mut stmt = c.prepare_cached(&format!("SELECT {PERSON_COLS} FROM people WHERE active = 1 ORDER BY name, id"))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let p = person_row(c, r)?;
                if all || p.schools.iter().any(|s| ids.contains(s)) {
                    people.push(Person {
                        id: p.id,
                        name: p.name,
                        role: p.role,
                        schools: p.schools.into_iter().filter(|s| ids.contains(s)).collect(),
                    });
                }
            }
            Ok(ReferenceData { schools, posts, checkpoints, people })
        })
    }

    fn put_school(&self, s: &School) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO schools (id, name) VALUES (?1, ?2) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                params![s.id.to_string(), s.name],
            )?;
            bump_reference(tx)
        })
    }

    fn put_post(&self, p: &Post) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO posts (id, school_id, name, orders) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET school_id = excluded.school_id, name = excluded.name, orders = excluded.orders",
                params![p.id.to_string(), p.school_id.to_string(), p.name, p.orders],
            )?;
            bump_reference(tx)
        })
    }

    fn put_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO checkpoints (id, post_id, name, tag_code, position, first_due_minutes, interval_minutes, grace_minutes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET post_id = excluded.post_id, name = excluded.name, tag_code = excluded.tag_code,
                    position = excluded.position, first_due_minutes = excluded.first_due_minutes,
                    interval_minutes = excluded.interval_minutes, grace_minutes = excluded.grace_minutes",
                params![
                    c.id.to_string(),
                    c.post_id.to_string(),
                    c.name,
                    c.tag_code,
                    c.position,
                    c.schedule.first_due_minutes,
                    c.schedule.interval_minutes,
                    c.schedule.grace_minutes
                ],
            )?;
            bump_reference(tx)
        })
    }

    fn put_person(&self, p: &PersonRecord) -> Result<()> {
        self.write(|tx| {
            let old_hash: Option<String> = tx
                .query_row(
                    "SELECT password_hash FROM people WHERE id = ?1",
                    params![p.id.to_string()],
                    |r| r.get(0),
                )
                .optional()?;
            if old_hash.is_some_and(|h| h != p.password_hash) || !p.active {
                // A new password or a deactivation ends every session of the person at once.
                tx.execute(
                    "DELETE FROM sessions WHERE person_id = ?1",
                    params![p.id.to_string()],
                )?;
                tx.execute(
                    "DELETE FROM console_sessions WHERE person_id = ?1",
                    params![p.id.to_string()],
                )?;
            }
            tx.execute(
                "INSERT INTO people (id, username, name, role, password_hash, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET username = excluded.username, name = excluded.name, role = excluded.role,
                    password_hash = excluded.password_hash, active = excluded.active",
                params![p.id.to_string(), p.username, p.name, p.role.code(), p.password_hash, p.active as i64],
            )?;
            tx.execute("DELETE FROM person_schools WHERE person_id = ?1", params![p.id.to_string()])?;
            for s in &p.schools {
                tx.execute(
                    "INSERT INTO person_schools (person_id, school_id) VALUES (?1, ?2)",
                    params![p.id.to_string(), s.to_string()],
                )?;
            }
            bump_reference(tx)
        })
    }

    fn person(&self, pid: Uuid) -> Result<Option<PersonRecord>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {PERSON_COLS} FROM people WHERE id = ?1"))?;
            let mut rows = stmt.query(params![pid.to_string()])?;
            match rows.next()? {
                Some(r) => Ok(Some(person_row(c, r)?)),
                None => Ok(None),
            }
        })
    }

    fn person_by_username(&self, username: &str) -> Result<Option<PersonRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {PERSON_COLS} FROM people WHERE username = ?1"
            ))?;
            let mut rows = stmt.query(params![username])?;
            match rows.next()? {
                Some(r) => Ok(Some(person_row(c, r)?)),
                None => Ok(None),
            }
        })
    }

    fn people(&self) -> Result<Vec<PersonRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {PERSON_COLS} FROM people ORDER BY name, id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(person_row(c, r)?);
            }
            Ok(out)
        })
    }

    fn add_enrollment_code(
        &self,
        code_hash: &str,
        created_by: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (code_hash, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, created_by.to_string(), ms(now), ms(expires_at)],
            )?;
            Ok(())
        })
    }

    fn redeem_enrollment_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        d: &DeviceRecord,
    ) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3
                 WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
                params![code_hash, ms(now), d.id.to_string()],
            )?;
            if n != 1 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO devices (id, name, secret_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4)",
                params![d.id.to_string(), d.name, d.secret_hash, ms(d.enrolled_at)],
            )?;
            Ok(true)
        })
    }

    fn device(&self, did: Uuid) -> Result<Option<DeviceRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT name, secret_hash, enrolled_at, revoked_at FROM devices WHERE id = ?1",
            )?
            .query_row(params![did.to_string()], |r| {
                Ok(DeviceRecord {
                    id: did,
                    name: r.get(0)?,
                    secret_hash: r.get(1)?,
                    enrolled_at: time(r.get(2)?),
                    revoked_at: r.get::<_, Option<i64>>(3)?.map(time),
                })
            })
            .optional()?)
        })
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT id, name, secret_hash, enrolled_at, revoked_at FROM devices ORDER BY enrolled_at, id")?;
            let rows = stmt.query_map([], |r| {
                Ok(DeviceRecord {
                    id: id(&r.get::<_, String>(0)?)?,
                    name: r.get(1)?,
                    secret_hash: r.get(2)?,
                    enrolled_at: time(r.get(3)?),
                    revoked_at: r.get::<_, Option<i64>>(4)?.map(time),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_device(&self, did: Uuid, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                params![did.to_string(), ms(now)],
            )?;
            // Sessions stay: the device's next request finds the device revoked and is told so.
            Ok(n == 1)
        })
    }

    fn add_session(&self, token_hash: &str, s: &SessionRecord, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, person_id, device_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![token_hash, s.person_id.to_string(), s.device_id.map(|d| d.to_string()), ms(now), ms(s.expires_at)],
            )?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT person_id, device_id, expires_at FROM sessions WHERE token_hash = ?1",
            )?
            .query_row(params![token_hash], |r| {
                Ok(SessionRecord {
                    person_id: id(&r.get::<_, String>(0)?)?,
                    device_id: r.get::<_, Option<String>>(1)?.map(|d| id(&d)).transpose()?,
                    expires_at: time(r.get(2)?),
                })
            })
            .optional()?)
        })
    }

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Duration;

    use super::*;

    #[test]
    fn several_processes_starting_at_once_migrate_one_file_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opened: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| SqliteStorage::open(dir.path()).map(|_| ())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("joined"))
                .collect()
        });
        for o in opened {
            o.expect("every opener sees a migrated database");
        }
        let conn = Connection::open(dir.path().join("rounds.db")).expect("open");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    fn t(secs: i64) -> DateTime<Utc> {
        time(1_800_000_000_000 + secs * 1000)
    }

    fn keys(name: &str) -> Vec<ThrottleKey> {
        vec![
            ThrottleKey {
                key: format!("name:{name}"),
                limit: 5,
            },
            ThrottleKey {
                key: "addr:192.0.2.1".into(),
                limit: 6,
            },
        ]
    }

    const WINDOW: Duration = Duration::minutes(15);

    #[test]
    fn a_parallel_burst_admits_exactly_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = Arc::new(SqliteStorage::open(dir.path()).expect("open"));
        let admitted: usize = (0..25u128)
            .map(|i| {
                let st = st.clone();
                std::thread::spawn(move || {
                    st.admit_attempt(Uuid::from_u128(i + 1), &keys("gia"), t(0), WINDOW)
                        .expect("admit")
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .filter(|a| *a == Admission::Admitted)
            .count();
        assert_eq!(
            admitted, 5,
            "check and count are one transaction: 25 parallel guesses, 5 admitted"
        );
    }

    #[test]
    fn failures_count_for_the_window_and_a_success_forgives_the_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = SqliteStorage::open(dir.path()).expect("open");
        for i in 0..5u128 {
            let a = st
                .admit_attempt(
                    Uuid::from_u128(i + 1),
                    &keys("gia"),
                    t(i as i64 * 60),
                    WINDOW,
                )
                .expect("admit");
            assert_eq!(a, Admission::Admitted, "failure {i}");
        }
        let refused = st
            .admit_attempt(Uuid::from_u128(99), &keys("gia"), t(300), WINDOW)
            .expect("admit");
        assert_eq!(
            refused,
            Admission::Refused {
                key: 0,
                retry_after: Duration::minutes(10)
            },
            "the sixth (at 5 min) waits until the oldest failure (at 0 min) is 15 minutes old"
        );
        assert_eq!(
            st.admit_attempt(Uuid::from_u128(100), &keys("gia"), t(15 * 60), WINDOW)
                .expect("admit"),
            Admission::Admitted,
            "at 15 min the first failure no longer counts"
        );
        let other = st
            .admit_attempt(Uuid::from_u128(101), &keys("gus"), t(15 * 60), WINDOW)
            .expect("admit");
        assert_eq!(
            other,
            Admission::Admitted,
            "another name has its own counter"
        );
        st.finish_attempt(
            Uuid::from_u128(101),
            AttemptOutcome::Succeeded {
                forgive: &["name:gus".to_string()],
            },
        )
        .expect("finish");
        // 5 attempts count on the network (gia's at 1-4 min and at 15 min; the one at 0 min
        // expired, gus's success is uncounted): one more fits the limit of 6, the next does not.
        assert_eq!(
            st.admit_attempt(Uuid::from_u128(102), &keys("olga"), t(15 * 60), WINDOW)
                .expect("admit"),
            Admission::Admitted
        );
        assert!(
            matches!(
                st.admit_attempt(Uuid::from_u128(103), &keys("omar"), t(15 * 60), WINDOW)
                    .expect("admit"),
                Admission::Refused { key: 1, .. }
            ),
            "the network's counter fills with failures of any names"
        );
        st.finish_attempt(Uuid::from_u128(102), AttemptOutcome::NotTried)
            .expect("finish");
        assert_eq!(
            st.admit_attempt(Uuid::from_u128(104), &keys("omar"), t(15 * 60), WINDOW)
                .expect("admit"),
            Admission::Admitted,
            "an attempt never tried (server busy) is uncounted"
        );
        st.finish_attempt(
            Uuid::from_u128(104),
            AttemptOutcome::Succeeded {
                forgive: &["name:gia".to_string()],
            },
        )
        .expect("finish");
        assert_eq!(
            st.admit_attempt(Uuid::from_u128(105), &keys("gia"), t(15 * 60 + 1), WINDOW)
                .expect("admit"),
            Admission::Admitted,
            "a success forgives the name's failures"
        );
    }

    #[test]
    fn two_handles_on_one_database_share_the_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SqliteStorage::open(dir.path()).expect("open a");
        let b = SqliteStorage::open(dir.path()).expect("open b");
        for i in 0..5u128 {
            let st = if i % 2 == 0 { &a } else { &b };
            st.admit_attempt(Uuid::from_u128(i + 1), &keys("sam"), t(0), WINDOW)
                .expect("admit");
        }
        assert!(
            matches!(
                a.admit_attempt(Uuid::from_u128(9), &keys("sam"), t(1), WINDOW)
                    .expect("admit"),
                Admission::Refused { .. }
            ),
            "as two server processes would: the counts are rows, not memory"
        );
    }

    fn person(hash: &str, active: bool) -> PersonRecord {
        PersonRecord {
            id: Uuid::from_u128(7),
            username: "pat".into(),
            name: "Pat".into(),
            role: Role::Guard,
            schools: vec![],
            password_hash: hash.into(),
            active,
        }
    }

    #[test]
    fn a_new_password_or_a_deactivation_ends_the_persons_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = SqliteStorage::open(dir.path()).expect("open");
        let session = SessionRecord {
            person_id: Uuid::from_u128(7),
            device_id: None,
            expires_at: t(3600),
        };
        st.put_person(&person("h1", true)).expect("person");
        st.add_session("s1", &session, t(0)).expect("session");
        st.put_person(&PersonRecord {
            name: "Pat Renamed".into(),
            ..person("h1", true)
        })
        .expect("rename");
        assert!(
            st.session("s1").expect("read").is_some(),
            "a rename keeps the session"
        );
        st.put_person(&person("h2", true)).expect("new password");
        assert!(
            st.session("s1").expect("read").is_none(),
            "a new password ends it"
        );
        st.add_session("s2", &session, t(0)).expect("session");
        st.put_person(&person("h2", false)).expect("deactivate");
        st.put_person(&person("h2", true)).expect("reactivate");
        assert!(
            st.session("s2").expect("read").is_none(),
            "a deactivation ends it for good: reactivating does not bring it back"
        );
    }
}

//! The embedded SQLite backend: one file in the data folder, nothing to install.
//!
//! One writer connection (SQLite has one writer at a time anyway) and a few reader
//! connections; WAL lets readers work while a commit is in progress. `synchronous = FULL`:
//! when the server says a change is committed, it survives a power cut.
//!
//! The trait methods are split by concern: [`DirectoryStore`] in `sqlite/directory.rs`,
//! [`SyncStore`] in `sqlite/sync.rs`, [`PhotoIndex`] in `sqlite/photos.rs`, the console's
//! [`ConsoleStore`](super::console::ConsoleStore) in `sqlite/console.rs`, backups in
//! `sqlite/backup.rs`; this file opens and migrates the database and holds the commit.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{Checkpoint, Person, Post, ReferenceData, Role, Schedule, School};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::rows::{HEADER_COLS, conv, header_row, id, ms, parse_code, time};
use super::*;

mod audit;
mod backup;
mod console;
mod directory;
mod photos;
mod sync;

pub use backup::BackupSummary;

const MIGRATIONS: &[&str] = &[
    include_str!("../../../../migrations/server/sqlite/0001_init.sql"),
    include_str!("../../../../migrations/server/sqlite/0002_photos.sql"),
    include_str!("../../../../migrations/server/sqlite/0003_console.sql"),
    include_str!("../../../../migrations/server/sqlite/0004_sign_in_throttle.sql"),
    include_str!("../../../../migrations/server/sqlite/0005_photo_uploads.sql"),
    include_str!("../../../../migrations/server/sqlite/0006_compaction.sql"),
    include_str!("../../../../migrations/server/sqlite/0007_packed_checks.sql"),
    include_str!("../../../../migrations/server/sqlite/0008_audit.sql"),
    include_str!("../../../../migrations/server/sqlite/0009_signatures.sql"),
    include_str!("../../../../migrations/server/sqlite/0010_audit_docs.sql"),
    include_str!("../../../../migrations/server/sqlite/0011_device_events.sql"),
    include_str!("../../../../migrations/server/sqlite/0012_wipe.sql"),
];

/// The schema version whose migration packs `patrol_checks` into `shifts.checks`.
const PACKED_CHECKS: usize = 7;

/// Migration 7's step in Rust: every shift's rows of `patrol_checks` packed into its
/// `shifts.checks`, then the table dropped.
fn pack_check_rows(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let shifts: Vec<String> = tx
        .prepare("SELECT id FROM shifts")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut rows = tx.prepare(
        "SELECT id, checkpoint_id, result, note, at FROM patrol_checks WHERE shift_id = ?1 ORDER BY at, id",
    )?;
    let mut put = tx.prepare("UPDATE shifts SET checks = ?2 WHERE id = ?1")?;
    for shift in shifts {
        let checks = rows
            .query_map(params![shift], |r| {
                Ok(CheckRow {
                    id: id(&r.get::<_, String>(0)?)?,
                    checkpoint_id: id(&r.get::<_, String>(1)?)?,
                    result: parse_code(CheckResult::parse(&r.get::<_, String>(2)?, "result"))?,
                    note: r.get(3)?,
                    at: time(r.get(4)?),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        put.execute(params![shift, check_pack::pack(&checks)])?;
    }
    drop((rows, put));
    tx.execute_batch("DROP TABLE patrol_checks")?;
    Ok(())
}
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
    let mut conn = Connection::open(path)?;
    // Another connection's write (another process on the folder, `rounds-server compact`)
    // is waited for in steps of 1 ms, for up to 10 s: SQLite's own busy timeout backs off to
    // 100 ms sleeps, which a push would wait out long after the other write ended.
    conn.busy_handler(Some(|tries| {
        std::thread::sleep(std::time::Duration::from_millis(1));
        tries < 10_000
    }))?;
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
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.execute_batch(sql)?;
                if i + 1 == PACKED_CHECKS {
                    pack_check_rows(&tx)?;
                }
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
                        "INSERT INTO documents (id, kind, school_id, author_id, device_id, created_at, classification, version, changed_at, loose)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9) ON CONFLICT (id) DO NOTHING",
                        params![doc, h.kind.code(), h.school_id.to_string(), h.author_id.to_string(),
                            h.device_id.to_string(), ms(h.created_at), h.classification.code(),
                            ms(cm.at), cm.changes.len() as i64],
                    )?;
            if n != 1 {
                return Ok(CommitOutcome::Stale);
            }
        }
        Some(v) => {
            let n = tx.execute(
                "UPDATE documents SET version = version + 1, changed_at = ?3, loose = loose + ?4
                 WHERE id = ?1 AND version = ?2",
                params![doc, v, ms(cm.at), cm.changes.len() as i64],
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
    if !cm.signatures.is_empty() {
        let mut ins = tx.prepare_cached(
            "INSERT INTO change_signatures (doc_id, hash, person_id, device_id, public_key, signature, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )?;
        for sig in &cm.signatures {
            ins.execute(params![
                sig.doc_id.to_string(),
                sig.change.as_slice(),
                sig.person_id.to_string(),
                sig.device_id.to_string(),
                sig.public_key.as_slice(),
                sig.signature,
                ms(sig.received_at)
            ])?;
        }
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
                "INSERT INTO shifts (id, school_id, post_id, guard_id, started_at, ended_at, check_count, checks)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET ended_at = excluded.ended_at,
                    check_count = excluded.check_count, checks = excluded.checks",
                params![
                    doc,
                    h.school_id.to_string(),
                    post_id.to_string(),
                    h.author_id.to_string(),
                    ms(*started_at),
                    ended_at.map(ms),
                    checks.len() as i64,
                    check_pack::pack(checks)
                ],
            )?;
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
                        params![doc, h.school_id.to_string(), h.author_id.to_string(), incident_type.code(), status.code(), location,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::contract;
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

    #[test]
    fn a_database_from_before_packed_checks_keeps_every_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            // A database as schema 6 left it, with a shift's checks as rows.
            let conn = Connection::open(dir.path().join("rounds.db")).expect("open");
            for sql in &MIGRATIONS[..PACKED_CHECKS - 1] {
                conn.execute_batch(sql).expect("old schema");
            }
            conn.pragma_update(None, "user_version", PACKED_CHECKS as i64 - 1)
                .expect("version");
            conn.execute_batch(contract::ROWS_BEFORE_PACKED_CHECKS)
                .expect("old rows");
        }
        drop(SqliteStorage::open(dir.path()).expect("migrates"));
        let conn = Connection::open(dir.path().join("rounds.db")).expect("open");
        let packed = |shift: &str| -> Vec<u8> {
            conn.query_row("SELECT checks FROM shifts WHERE id = ?1", [shift], |r| {
                r.get(0)
            })
            .expect("shift")
        };
        contract::rows_before_packed_checks_were_packed(&packed("s1"), &packed("s2"));
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'patrol_checks'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(tables, 0, "the rows' table is gone");
    }

    #[test]
    fn a_parallel_burst_admits_exactly_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::a_parallel_burst_admits_exactly_the_limit(Arc::new(
            SqliteStorage::open(dir.path()).expect("open"),
        ));
    }

    #[test]
    fn failures_count_for_the_window_and_a_success_forgives_the_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::failures_count_for_the_window_and_a_success_forgives_the_name(
            &SqliteStorage::open(dir.path()).expect("open"),
        );
    }

    #[test]
    fn two_handles_on_one_database_share_the_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::two_handles_on_one_database_share_the_counts(
            &SqliteStorage::open(dir.path()).expect("open a"),
            &SqliteStorage::open(dir.path()).expect("open b"),
        );
    }

    #[test]
    fn compaction_keeps_every_change_and_the_feed_points_to_what_was_folded() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::compaction_keeps_every_change_and_the_feed_points_to_what_was_folded(
            &SqliteStorage::open(dir.path()).expect("open"),
        );
    }

    #[test]
    fn signing_keys_and_signatures_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::signing_keys_and_signatures_are_kept(
            &SqliteStorage::open(dir.path()).expect("open"),
        );
    }

    #[test]
    fn a_new_password_or_a_deactivation_ends_the_persons_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        contract::a_new_password_or_a_deactivation_ends_the_persons_sessions(
            &SqliteStorage::open(dir.path()).expect("open"),
        );
    }
}

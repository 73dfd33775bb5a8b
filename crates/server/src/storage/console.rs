//! The supervisor console's storage: its sessions and the read queries of its pages and
//! reports (a day's shifts and checks, incidents by school/type/status/date, the contact notes
//! shared with a person), over the same SQLite file as [`super::SqliteStorage`].
//!
//! Why a separate handle: the console must not widen the sync [`super::Storage`] trait (the
//! storage hot path is tuned on its own), and the console's queries are SQL over the server's
//! projections. [`ConsoleDb`] opens its own connection to `rounds.db` in the data folder (found
//! from [`super::Storage::photo_dir`], the `photos/` folder beside it); WAL lets it read while
//! sync commits. Its only writes are to `console_sessions` (migration 0003); besides, the
//! storage's `put_person` deletes a person's console sessions when their password changes or
//! they are deactivated, and failed sign-ins are counted by the storage's throttle
//! (`Storage::admit_attempt`), not here. A PostgreSQL backend would implement the same
//! methods over its pool.
//!
//! Times are integer milliseconds, as in the other tables; a "day" is `[start, end)` in UTC.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use rounds_core::document::Header;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

pub use super::CheckRow;
use super::rows::{HEADER_COLS, header_row, id, ms, time};
use super::{Result, Storage, StorageError};

/// A console session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The person signed in.
    pub person_id: Uuid,
    /// The token the session's forms carry.
    pub csrf: String,
    /// When it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When it ends whatever happens.
    pub expires_at: DateTime<Utc>,
}

/// A shift of the day, from the projection, with its document header.
#[derive(Debug, Clone)]
pub struct ShiftRow {
    /// The shift document's header (author = the guard).
    pub header: Header,
    /// Post.
    pub post_id: Uuid,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub ended_at: Option<DateTime<Utc>>,
}

/// An incident from the projection, with its header.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    /// Header.
    pub header: Header,
    /// Type code.
    pub incident_type: String,
    /// Status code.
    pub status: String,
    /// Location.
    pub location: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was submitted.
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only these schools (`None`: any).
    pub schools: Option<Vec<Uuid>>,
    /// Type code.
    pub incident_type: Option<String>,
    /// Status code.
    pub status: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: usize,
}

/// The console's handle on the server database.
pub struct ConsoleDb {
    conn: Mutex<Connection>,
}

impl ConsoleDb {
    /// Opens the database file `path` (created and migrated by [`super::SqliteStorage::open`];
    /// never created here, so a storage without one fails clearly instead of reading an empty
    /// file).
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")?;
        Ok(ConsoleDb {
            conn: Mutex::new(conn),
        })
    }

    /// The console database of a storage: one shared handle per database file.
    pub fn of(storage: &dyn Storage) -> Result<Arc<ConsoleDb>> {
        static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<ConsoleDb>>>> = OnceLock::new();
        let photos = storage.photo_dir();
        let dir = photos.parent().unwrap_or(Path::new("."));
        let path = dir.join("rounds.db");
        let mut open = OPEN
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .map_err(|_| StorageError::backend("console handles poisoned"))?;
        if let Some(db) = open.get(&path) {
            return Ok(db.clone());
        }
        let db = Arc::new(ConsoleDb::open(&path)?);
        open.insert(path, db.clone());
        Ok(db)
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| StorageError::backend("console connection poisoned"))?;
        f(&conn)
    }

    /// Stores a new session.
    pub fn add_session(
        &self,
        token_hash: &str,
        s: &ConsoleSession,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO console_sessions (token_hash, person_id, csrf, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![token_hash, s.person_id.to_string(), s.csrf, ms(now), ms(s.last_seen_at), ms(s.expires_at)],
            )?;
            // Forget sessions that ended long ago, so the table does not grow forever.
            c.execute(
                "DELETE FROM console_sessions WHERE expires_at < ?1",
                params![ms(now) - 7 * 24 * 3_600_000],
            )?;
            Ok(())
        })
    }

    /// A session by its token's hash.
    pub fn session(&self, token_hash: &str) -> Result<Option<ConsoleSession>> {
        self.with(|c| {
            Ok(c.prepare_cached(
                "SELECT person_id, csrf, last_seen_at, expires_at FROM console_sessions WHERE token_hash = ?1",
            )?
            .query_row(params![token_hash], |r| {
                Ok(ConsoleSession {
                    person_id: id(&r.get::<_, String>(0)?)?,
                    csrf: r.get(1)?,
                    last_seen_at: time(r.get(2)?),
                    expires_at: time(r.get(3)?),
                })
            })
            .optional()?)
        })
    }

    /// Records that a session was used now.
    pub fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE console_sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                params![token_hash, ms(now)],
            )?;
            Ok(())
        })
    }

    /// Ends a session (sign-out).
    pub fn end_session(&self, token_hash: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1",
                params![token_hash],
            )?;
            Ok(())
        })
    }

    /// Shifts that started in `[from, to)`, at `schools` (all schools if `None`), by start.
    pub fn shifts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        schools: Option<&[Uuid]>,
    ) -> Result<Vec<ShiftRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HEADER_COLS}, s.post_id, s.started_at, s.ended_at
                 FROM shifts s JOIN documents d ON d.id = s.id
                 WHERE s.started_at >= ?1 AND s.started_at < ?2
                 ORDER BY s.school_id, s.started_at, s.id"
            ))?;
            let rows = stmt.query_map(params![ms(from), ms(to)], |r| {
                Ok(ShiftRow {
                    header: header_row(r, 0)?,
                    post_id: id(&r.get::<_, String>(7)?)?,
                    started_at: time(r.get(8)?),
                    ended_at: r.get::<_, Option<i64>>(9)?.map(time),
                })
            })?;
            let mut out = Vec::new();
            for r in rows {
                let r = r?;
                if schools.is_none_or(|s| s.contains(&r.header.school_id)) {
                    out.push(r);
                }
            }
            Ok(out)
        })
    }

    /// The checks of each shift, by time.
    pub fn checks(&self, shifts: &[Uuid]) -> Result<HashMap<Uuid, Vec<CheckRow>>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, checkpoint_id, result, note, at FROM patrol_checks WHERE shift_id = ?1 ORDER BY at, id",
            )?;
            let mut out = HashMap::with_capacity(shifts.len());
            for s in shifts {
                let rows = stmt.query_map(params![s.to_string()], |r| {
                    Ok(CheckRow {
                        id: id(&r.get::<_, String>(0)?)?,
                        checkpoint_id: id(&r.get::<_, String>(1)?)?,
                        result: r.get(2)?,
                        note: r.get(3)?,
                        at: time(r.get(4)?),
                    })
                })?;
                out.insert(*s, rows.collect::<rusqlite::Result<Vec<_>>>()?);
            }
            Ok(out)
        })
    }

    /// Incidents matching `f`, newest first.
    pub fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HEADER_COLS}, i.type, i.status, i.location, i.occurred_at, i.submitted_at
                 FROM incidents i JOIN documents d ON d.id = i.id
                 WHERE (?1 IS NULL OR i.type = ?1) AND (?2 IS NULL OR i.status = ?2)
                   AND (?3 IS NULL OR i.occurred_at >= ?3) AND (?4 IS NULL OR i.occurred_at < ?4)
                 ORDER BY i.occurred_at DESC, i.id"
            ))?;
            let rows = stmt.query_map(
                params![f.incident_type, f.status, f.from.map(ms), f.to.map(ms)],
                |r| {
                    Ok(IncidentRow {
                        header: header_row(r, 0)?,
                        incident_type: r.get(7)?,
                        status: r.get(8)?,
                        location: r.get(9)?,
                        occurred_at: time(r.get(10)?),
                        submitted_at: r.get::<_, Option<i64>>(11)?.map(time),
                    })
                },
            )?;
            let mut out = Vec::new();
            for r in rows {
                let r = r?;
                if f.schools
                    .as_ref()
                    .is_none_or(|s| s.contains(&r.header.school_id))
                {
                    out.push(r);
                    if out.len() >= f.limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    /// Headers of the contact notes `person` is a reader of (author or shared with).
    pub fn notes_of(&self, person: Uuid) -> Result<Vec<Header>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HEADER_COLS} FROM doc_readers r JOIN documents d ON d.id = r.doc_id
                 WHERE r.person_id = ?1 AND d.kind = 'contact_note' ORDER BY d.created_at DESC"
            ))?;
            let rows = stmt.query_map(params![person.to_string()], |r| header_row(r, 0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

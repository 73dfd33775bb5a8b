//! [`ConsoleStore`] over the SQLite backend: the console's sessions are written on the one
//! writer connection, in the same transactions as everything else; its queries run on the
//! reader connections, over the projections sync keeps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{IncidentStatus, IncidentType};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::super::console::{ConsoleSession, ConsoleStore, IncidentFilter, IncidentRow, ShiftRow};
use super::super::rows::{HEADER_COLS, header_row, id, ms, parse_code, time};
use super::super::{CheckRow, Result, StorageError, check_pack};
use super::SqliteStorage;

/// Ended console sessions are forgotten after this long (milliseconds).
const KEEP_ENDED_SESSIONS_MS: i64 = 7 * 24 * 3_600_000;

impl ConsoleStore for SqliteStorage {
    fn add_console_session(
        &self,
        token_hash: &str,
        s: &ConsoleSession,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO console_sessions (token_hash, person_id, csrf, created_at, last_seen_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![token_hash, s.person_id.to_string(), s.csrf, ms(now), ms(s.last_seen_at), ms(s.expires_at)],
            )?;
            // Forget sessions that ended long ago, so the table does not grow forever.
            tx.execute(
                "DELETE FROM console_sessions WHERE expires_at < ?1",
                params![ms(now) - KEEP_ENDED_SESSIONS_MS],
            )?;
            Ok(())
        })
    }

    fn console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>> {
        self.read(|c| {
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

    fn touch_console_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE console_sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
                params![token_hash, ms(now)],
            )?;
            Ok(())
        })
    }

    fn end_console_session(&self, token_hash: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1",
                params![token_hash],
            )?;
            Ok(())
        })
    }

    fn shifts_started(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        schools: Option<&[Uuid]>,
    ) -> Result<Vec<ShiftRow>> {
        self.read(|c| {
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

    fn checks_of(&self, shifts: &[Uuid]) -> Result<HashMap<Uuid, Vec<CheckRow>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT checks FROM shifts WHERE id = ?1")?;
            let mut out = HashMap::with_capacity(shifts.len());
            for s in shifts {
                let packed: Option<Vec<u8>> = stmt
                    .query_row(params![s.to_string()], |r| r.get(0))
                    .optional()?;
                let checks = check_pack::unpack_sorted(packed.as_deref().unwrap_or_default())
                    .map_err(StorageError::backend)?;
                out.insert(*s, checks);
            }
            Ok(out)
        })
    }

    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HEADER_COLS}, i.type, i.status, i.location, i.occurred_at, i.submitted_at
                 FROM incidents i JOIN documents d ON d.id = i.id
                 WHERE (?1 IS NULL OR i.type = ?1) AND (?2 IS NULL OR i.status = ?2)
                   AND (?3 IS NULL OR i.occurred_at >= ?3) AND (?4 IS NULL OR i.occurred_at < ?4)
                 ORDER BY i.occurred_at DESC, i.id"
            ))?;
            let rows = stmt.query_map(
                params![
                    f.incident_type.map(|t| t.code()),
                    f.status.map(|s| s.code()),
                    f.from.map(ms),
                    f.to.map(ms)
                ],
                |r| {
                    Ok(IncidentRow {
                        header: header_row(r, 0)?,
                        incident_type: parse_code(IncidentType::parse(
                            &r.get::<_, String>(7)?,
                            "type",
                        ))?,
                        status: parse_code(IncidentStatus::parse(
                            &r.get::<_, String>(8)?,
                            "status",
                        ))?,
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

    fn notes_of(&self, person: Uuid) -> Result<Vec<Header>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {HEADER_COLS} FROM doc_readers r JOIN documents d ON d.id = r.doc_id
                 WHERE r.person_id = ?1 AND d.kind = 'contact_note' ORDER BY d.created_at DESC"
            ))?;
            let rows = stmt.query_map(params![person.to_string()], |r| header_row(r, 0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

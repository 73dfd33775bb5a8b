//! [`ConsoleStore`] over PostgreSQL: console sessions as rows every process shares, and the
//! console's queries over the projections sync keeps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{IncidentStatus, IncidentType};
use uuid::Uuid;

use super::super::console::{ConsoleSession, ConsoleStore, IncidentFilter, IncidentRow, ShiftRow};
use super::super::rows::{HEADER_COLS, ms, time};
use super::super::{CheckRow, Result, StorageError, check_pack};
use super::{PgStorage, code, header_at, uid};

/// Ended console sessions are forgotten after this long (milliseconds).
const KEEP_ENDED_SESSIONS_MS: i64 = 7 * 24 * 3_600_000;

impl ConsoleStore for PgStorage {
    fn add_console_session(
        &self,
        token_hash: &str,
        s: &ConsoleSession,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "INSERT INTO console_sessions (token_hash, person_id, csrf, created_at, last_seen_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &token_hash,
                    &s.person_id.to_string(),
                    &s.csrf,
                    &ms(now),
                    &ms(s.last_seen_at),
                    &ms(s.expires_at),
                ],
            )
            .await?;
            tx.execute(
                "DELETE FROM console_sessions WHERE expires_at < $1",
                &[&(ms(now) - KEEP_ENDED_SESSIONS_MS)],
            )
            .await?;
            Ok(())
        })
    }

    fn console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>> {
        self.read(async |c| {
            let st = c
                .prepare_cached(
                    "SELECT person_id, csrf, last_seen_at, expires_at FROM console_sessions WHERE token_hash = $1",
                )
                .await?;
            match c.query_opt(&st, &[&token_hash]).await? {
                None => Ok(None),
                Some(r) => Ok(Some(ConsoleSession {
                    person_id: uid(r.try_get(0)?)?,
                    csrf: r.try_get(1)?,
                    last_seen_at: time(r.try_get(2)?),
                    expires_at: time(r.try_get(3)?),
                })),
            }
        })
    }

    fn touch_console_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1",
                &[&token_hash, &ms(now)],
            )
            .await?;
            Ok(())
        })
    }

    fn end_console_session(&self, token_hash: &str) -> Result<()> {
        self.write(async |tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE token_hash = $1",
                &[&token_hash],
            )
            .await?;
            Ok(())
        })
    }

    fn shifts_started(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        schools: Option<&[Uuid]>,
    ) -> Result<Vec<ShiftRow>> {
        self.read(async |c| {
            let mut out = Vec::new();
            for r in c
                .query(
                    &format!(
                        "SELECT {HEADER_COLS}, s.post_id, s.started_at, s.ended_at
                         FROM shifts s JOIN documents d ON d.id = s.id
                         WHERE s.started_at >= $1 AND s.started_at < $2
                         ORDER BY s.school_id, s.started_at, s.id"
                    ),
                    &[&ms(from), &ms(to)],
                )
                .await?
            {
                let row = ShiftRow {
                    header: header_at(&r, 0)?,
                    post_id: uid(r.try_get(7)?)?,
                    started_at: time(r.try_get(8)?),
                    ended_at: r.try_get::<_, Option<i64>>(9)?.map(time),
                };
                if schools.is_none_or(|s| s.contains(&row.header.school_id)) {
                    out.push(row);
                }
            }
            Ok(out)
        })
    }

    fn checks_of(&self, shifts: &[Uuid]) -> Result<HashMap<Uuid, Vec<CheckRow>>> {
        let ids: Vec<String> = shifts.iter().map(|s| s.to_string()).collect();
        self.read(async |c| {
            let mut out: HashMap<Uuid, Vec<CheckRow>> =
                shifts.iter().map(|s| (*s, Vec::new())).collect();
            for r in c
                .query("SELECT id, checks FROM shifts WHERE id = ANY($1)", &[&ids])
                .await?
            {
                let shift = uid(r.try_get(0)?)?;
                let packed: &[u8] = r.try_get(1)?;
                let checks = check_pack::unpack_sorted(packed).map_err(StorageError::backend)?;
                out.insert(shift, checks);
            }
            Ok(out)
        })
    }

    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        let (ty, status) = (
            f.incident_type.map(|t| t.code()),
            f.status.map(|s| s.code()),
        );
        let (from, to) = (f.from.map(ms), f.to.map(ms));
        self.read(async |c| {
            let mut out = Vec::new();
            for r in c
                .query(
                    &format!(
                        "SELECT {HEADER_COLS}, i.type, i.status, i.location, i.occurred_at, i.submitted_at
                         FROM incidents i JOIN documents d ON d.id = i.id
                         WHERE ($1::text IS NULL OR i.type = $1) AND ($2::text IS NULL OR i.status = $2)
                           AND ($3::bigint IS NULL OR i.occurred_at >= $3) AND ($4::bigint IS NULL OR i.occurred_at < $4)
                         ORDER BY i.occurred_at DESC, i.id"
                    ),
                    &[&ty, &status, &from, &to],
                )
                .await?
            {
                let row = IncidentRow {
                    header: header_at(&r, 0)?,
                    incident_type: code(IncidentType::parse(r.try_get(7)?, "type"))?,
                    status: code(IncidentStatus::parse(r.try_get(8)?, "status"))?,
                    location: r.try_get(9)?,
                    occurred_at: time(r.try_get(10)?),
                    submitted_at: r.try_get::<_, Option<i64>>(11)?.map(time),
                };
                if f.schools
                    .as_ref()
                    .is_none_or(|s| s.contains(&row.header.school_id))
                {
                    out.push(row);
                    if out.len() >= f.limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    fn notes_of(&self, person: Uuid) -> Result<Vec<Header>> {
        self.read(async |c| {
            c.query(
                &format!(
                    "SELECT {HEADER_COLS} FROM doc_readers r JOIN documents d ON d.id = r.doc_id
                     WHERE r.person_id = $1 AND d.kind = 'contact_note' ORDER BY d.created_at DESC"
                ),
                &[&person.to_string()],
            )
            .await?
            .iter()
            .map(|r| header_at(r, 0))
            .collect()
        })
    }
}

//! The store's device events (see [`crate::events`]): recorded by id, read oldest first for
//! sending, forgotten when the server has them.

use rounds_protocol::{DeviceEvent, DeviceEventKind};
use rusqlite::params;
use uuid::Uuid;

use super::Store;
use crate::error::{Error, Result};

impl Store {
    /// Records `events` (one already recorded, by id, is left as it is), in one transaction.
    pub fn record_events(&mut self, events: &[DeviceEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR IGNORE INTO device_events (id, kind, person_id, at, failures)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in events {
                put.execute(params![
                    e.id.to_string(),
                    e.kind.code(),
                    e.person.map(|p| p.to_string()),
                    e.at_ms,
                    e.failures,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// At most `limit` events the server has not stored yet, in the order they were recorded.
    pub fn waiting_events(&self, limit: usize) -> Result<Vec<DeviceEvent>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, person_id, at, failures FROM device_events
             ORDER BY rowid LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, u32>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, kind, person, at_ms, failures) = row?;
            let corrupt = |what: &str| Error::Corrupt {
                path: "device_events".into(),
                detail: format!("event {id}: unreadable {what}"),
            };
            out.push(DeviceEvent {
                id: id.parse().map_err(|_| corrupt("id"))?,
                kind: DeviceEventKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
                person: person
                    .map(|p| p.parse::<Uuid>())
                    .transpose()
                    .map_err(|_| corrupt("person"))?,
                at_ms,
                failures,
            });
        }
        Ok(out)
    }

    /// Forgets the events `ids` (the server has them); how many were held.
    pub fn forget_events(&mut self, ids: &[Uuid]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        {
            let mut del = tx.prepare_cached("DELETE FROM device_events WHERE id = ?1")?;
            for id in ids {
                n += del.execute(params![id.to_string()])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }
}

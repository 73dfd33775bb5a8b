//! Device events: what happened on the lock screen and around it (an unlock, a wrong PIN, the
//! start of a lockout's waits, an idle or manual lock), recorded when it happens, offline too,
//! and kept until the district's server says it has stored them in its audit trail
//! (`client::send_events`, after a sync's push).
//!
//! - **While locked** (a wrong PIN) the store cannot be opened, so the event is appended to a
//!   small file beside it, [`LockScreenLog`] (`<store>.events`, one JSON line per event, synced
//!   to disk before the app answers). It holds people's ids, kinds and times, nothing the unlock
//!   screen does not show already. At most [`MAX_WAITING`] lines are kept; past that the oldest
//!   are dropped.
//! - **At the next unlock** (anyone's, on a shared phone) the file's events move into the store
//!   ([`crate::store::Store::record_events`]: inserted by id, so a crash between the insert and
//!   the file's removal inserts nothing twice), then the file is removed.
//! - **While unlocked** events go straight into the store's `device_events` table.
//!
//! Someone who can write the device's files can remove the file's lines; the server's own
//! record of sign-ins and the sealed attempt counter ([`crate::keyslots`]) do not depend on it.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
pub use rounds_protocol::{DeviceEvent, DeviceEventKind};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Most events the lock-screen file keeps (a phone left in a pocket that types wrong PINs
/// for a week stays small).
pub const MAX_WAITING: usize = 500;

/// An event at `at`.
pub fn event(
    id: Uuid,
    kind: DeviceEventKind,
    person: Option<Uuid>,
    at: DateTime<Utc>,
    failures: u32,
) -> DeviceEvent {
    DeviceEvent {
        id,
        kind,
        person,
        at_ms: at.timestamp_millis(),
        failures,
    }
}

/// When an event happened, by the device's clock.
pub fn event_time(e: &DeviceEvent) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(e.at_ms).single()
}

/// The events of a locked device, in a file beside its store.
#[derive(Debug, Clone)]
pub struct LockScreenLog {
    path: PathBuf,
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::internal(format!("the lock screen's event file: {what}"), e)
}

impl LockScreenLog {
    /// The log of the store at `db`.
    pub fn for_store(db: &Path) -> LockScreenLog {
        let mut name = db.as_os_str().to_os_string();
        name.push(".events");
        LockScreenLog {
            path: PathBuf::from(name),
        }
    }

    /// Appends `e`, on disk when this returns. Past [`MAX_WAITING`] events the oldest go.
    pub fn append(&self, e: &DeviceEvent) -> Result<()> {
        let mut line =
            serde_json::to_string(e).map_err(|err| Error::internal("an event as JSON", err))?;
        line.push('\n');
        let held = self.read()?;
        if held.len() >= MAX_WAITING {
            // Rewritten without the oldest (rare: only a device typed at for a long time).
            let keep = &held[held.len() + 1 - MAX_WAITING..];
            let mut text = String::new();
            for k in keep {
                text.push_str(&serde_json::to_string(k).unwrap_or_default());
                text.push('\n');
            }
            text.push_str(&line);
            let tmp = self.path.with_extension("events.tmp");
            std::fs::write(&tmp, text).map_err(|err| io("rewriting", err))?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|err| io("syncing", err))?;
            return std::fs::rename(&tmp, &self.path).map_err(|err| io("renaming", err));
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|err| io("opening", err))?;
        f.write_all(line.as_bytes())
            .map_err(|err| io("writing", err))?;
        f.sync_all().map_err(|err| io("syncing", err))
    }

    /// The events held, oldest first (a line that does not read, such as one cut off by a
    /// crash, is skipped).
    pub fn read(&self) -> Result<Vec<DeviceEvent>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io("reading", e)),
        }
    }

    /// Removes the file (after its events are in the store).
    pub fn clear(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing", e)),
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_000_000 + s, 0).unwrap()
    }

    #[test]
    fn events_of_a_locked_device_are_kept_in_order_and_the_oldest_go_past_the_cap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LockScreenLog::for_store(&dir.path().join("device.db"));
        assert!(log.read().expect("empty").is_empty());
        let person = Uuid::from_u128(1);
        for n in 0..3u32 {
            log.append(&event(
                Uuid::from_u128(100 + u128::from(n)),
                DeviceEventKind::UnlockFailed,
                Some(person),
                at(i64::from(n)),
                n + 1,
            ))
            .expect("append");
        }
        let held = log.read().expect("read");
        assert_eq!(
            held.iter().map(|e| e.failures).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(event_time(&held[2]), Some(at(2)));
        // A line cut off by a crash is skipped, the rest still read.
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .and_then(|mut f| f.write_all(b"{\"id\":\"00"))
            .expect("torn line");
        assert_eq!(log.read().expect("read").len(), 3);
        log.clear().expect("clear");
        assert!(log.read().expect("gone").is_empty());
        for n in 0..(MAX_WAITING as u128 + 5) {
            log.append(&event(
                Uuid::from_u128(1_000 + n),
                DeviceEventKind::UnlockFailed,
                Some(person),
                at(n as i64),
                1,
            ))
            .expect("append");
        }
        let held = log.read().expect("read");
        assert_eq!(held.len(), MAX_WAITING);
        assert_eq!(held[0].id, Uuid::from_u128(1_005), "the oldest went");
    }
}

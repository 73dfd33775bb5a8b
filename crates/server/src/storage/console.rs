//! The supervisor console's part of the storage seam: its sessions and the read queries of
//! its pages and reports (a day's shifts and checks, incidents by school/type/status/date, the
//! contact notes shared with a person), as the [`ConsoleStore`] trait that every backend
//! implements ([`super::Storage`] requires it) and the typed rows it returns.
//!
//! The rows are typed up to the storage edge: an incident's type and status, a check's
//! result, are the core's enums, decoded once where the row is read (a code the server did
//! not write is a backend error, never a silent "other"). Failed sign-ins are counted by the
//! storage's throttle (`Storage::admit_attempt`), in the database like the sessions, so every
//! server process sees the same counts.
//!
//! Times are integer milliseconds, as in the other tables; a "day" is `[start, end)` in UTC.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{IncidentStatus, IncidentType};
use uuid::Uuid;

pub use super::CheckRow;
use super::Result;

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
    /// Type.
    pub incident_type: IncidentType,
    /// Status.
    pub status: IncidentStatus,
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
    /// Of this type.
    pub incident_type: Option<IncidentType>,
    /// In this status.
    pub status: Option<IncidentStatus>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
    /// At most this many.
    pub limit: usize,
}

/// What the console keeps and reads, behind the storage seam.
pub trait ConsoleStore: Send + Sync {
    /// Stores a new console session (and forgets sessions that ended a week ago or more).
    fn add_console_session(
        &self,
        token_hash: &str,
        s: &ConsoleSession,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// A console session by its token's hash.
    fn console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>>;
    /// Records that a console session was used now.
    fn touch_console_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<()>;
    /// Ends a console session (sign-out).
    fn end_console_session(&self, token_hash: &str) -> Result<()>;
    /// Shifts that started in `[from, to)`, at `schools` (all schools if `None`), by school
    /// and start.
    fn shifts_started(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        schools: Option<&[Uuid]>,
    ) -> Result<Vec<ShiftRow>>;
    /// The checks of each shift, by time.
    fn checks_of(&self, shifts: &[Uuid]) -> Result<HashMap<Uuid, Vec<CheckRow>>>;
    /// Incidents matching `f`, newest first.
    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>>;
    /// Headers of the contact notes `person` is a reader of (author or shared with), newest
    /// first.
    fn notes_of(&self, person: Uuid) -> Result<Vec<Header>>;
}

//! The status line every screen shows ([`SyncInfo`]: what is saved, what waits to sync, the
//! last sync and its problem), and what a command that saved returns ([`Saved`]). Read by
//! [`crate::App::sync_info`]; shared by the lifecycle ([`crate::app`]) and the field commands
//! ([`crate::records`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Kind;

/// The status line every screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncInfo {
    /// Everything the app said was saved is on the device (always true: a save that did not
    /// reach the disk is an error, not a success).
    pub saved_on_device: bool,
    /// Changes waiting for the server.
    pub waiting_changes: u64,
    /// Records they belong to.
    pub waiting_records: u64,
    /// Last sync that finished.
    pub last_success: Option<DateTime<Utc>>,
    /// A sync is running now.
    pub syncing: bool,
    /// When the next automatic attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Photos waiting for the server.
    pub waiting_photos: u64,
    /// On a shared phone: other people's records waiting for them to unlock and sync.
    pub waiting_for_others: Vec<rounds_core::store::WaitingFor>,
    /// Why the last attempt failed, if it did.
    pub problem: Option<Problem>,
    /// Changes received from the server since the person unlocked: when it grows, the
    /// screens re-read what they show (another phone's check of this round, say).
    pub received: u64,
    /// Saves made since the app started, as of this reading: a status line read before a
    /// save has a smaller number than one read after, so the screens never paint an older
    /// count over a newer one (answers can arrive out of order).
    pub saves: u64,
}

/// A sync problem as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What the UI offers: `sign_in_again` shows a password box, `revoked` a notice.
    pub kind: Kind,
    /// In plain words.
    pub message: String,
}

/// What a command that saved returns: the view the screen shows next (its fields at the top
/// level of the JSON) and the status line as of the save.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saved<T> {
    /// The screen's next view.
    #[serde(flatten)]
    pub view: T,
    /// The status line right after the save: what waits to sync now includes it.
    pub sync: SyncInfo,
}

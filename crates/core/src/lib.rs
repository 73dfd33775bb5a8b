//! Rounds core: everything a field device needs to record patrol checks, incidents and
//! student-contact notes with no network at all.
//!
//! The domain it shares with the server ([`model`], [`limits`], [`document`], [`round`],
//! [`rules`], [`wire`], [`entropy`], [`error`]) is the `rounds-domain` crate, re-exported here
//! under the same names. The device's own parts:
//! - [`keyslots`]: per-person key slots that unlock the encrypted store.
//! - [`events`]: device events (unlocks, failed PINs, lockouts, locks) kept until the server
//!   has them in its audit trail.
//! - [`client`]: the sync client (push, pull, fetch over a [`client::Transport`]).
//! - [`store`]: the device's SQLite (SQLCipher) store: one transaction per user action,
//!   projections for queries, full-text search, and what the sync client needs.
//!
//! Nothing here knows about Tauri; HTTP stays behind [`client::Transport`]. Time, ids and
//! randomness are passed in.

pub mod client;
pub mod events;
pub mod keyslots;
pub mod store;

pub use rounds_domain::{Error, ErrorKind, Result};
pub use rounds_domain::{document, entropy, error, limits, model, round, rules, signing, wire};

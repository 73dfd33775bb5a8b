//! Rounds core: everything a field device needs to record patrol checks, incidents and
//! student-contact notes with no network at all.
//!
//! - [`model`]: domain types and validation (reference data, inputs, vocabularies).
//! - [`limits`]: every cap on what a device records and the server accepts (change sizes,
//!   history, text and list lengths), shared by both sides.
//! - [`document`]: records as automerge documents with an immutable header.
//! - [`round`]: pure computation of a round's done / due / late / missed visits.
//! - [`rules`]: who may see and change what, field by field: one table run by the device and
//!   the server.
//! - [`keyslots`]: per-person key slots that unlock the encrypted store.
//! - [`client`]: the sync client (push, pull, fetch over a [`client::Transport`]).
//! - [`wire`]: header conversions for the sync protocol.
//! - [`store`]: the device's SQLite (SQLCipher) store: one transaction per user action,
//!   projections for queries, full-text search, and what the sync client needs.
//!
//! Nothing here knows about Tauri or HTTP. Time, ids and randomness are passed in.

pub mod client;
pub mod document;
pub mod entropy;
pub mod error;
pub mod keyslots;
pub mod limits;
pub mod model;
pub mod round;
pub mod rules;
pub mod store;
pub mod wire;

pub use error::{Error, ErrorKind, Result};

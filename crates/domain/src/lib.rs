//! Rounds domain: what the field device and the district server share, and nothing of
//! either's storage or transport.
//!
//! - [`model`]: domain types and validation (reference data, inputs, vocabularies).
//! - [`limits`]: every cap on what a device records and the server accepts (change sizes,
//!   history, text and list lengths), shared by both sides.
//! - [`document`]: records as automerge documents with an immutable header.
//! - [`round`]: pure computation of a round's done / due / late / missed visits.
//! - [`rules`]: who may see and change what, field by field: one table run by the device and
//!   the server.
//! - [`signing`]: Ed25519 signatures over changes, and what a push must carry.
//! - [`wire`]: header conversions for the sync protocol.
//! - [`entropy`], [`error`]: randomness passed in, and the one error type.
//!
//! The device's store and sync client are `rounds-core`, which re-exports these modules; the
//! server depends on this crate alone, so it compiles neither SQLCipher nor an HTTP client. See
//! `docs/architecture.md`.

pub mod document;
pub mod entropy;
pub mod error;
pub mod limits;
pub mod model;
pub mod round;
pub mod rules;
pub mod signing;
pub mod wire;

pub use error::{Error, ErrorKind, Result};

//! Who may see and write what: the rules live in [`rounds_domain::rules`], one table that the
//! device and the server both run; this module re-exports them for the server's handlers.
//!
//! The change feed query in the storage layer applies [`may_read`] in SQL
//! ([`crate::storage::Storage::feed`]); the end-to-end tests check that both agree for every
//! role × kind × school combination, and `authz` checks every field rule through real pushes.

pub use rounds_domain::rules::{Viewer, may_create, may_read, may_write};

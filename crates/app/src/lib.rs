//! The field app's commands, over `rounds-core`, with nothing of Tauri in them.
//!
//! The Tauri shell (`src-tauri`) exposes each public command of [`App`] as a one-line Tauri
//! command; the test bridge (`rounds-app-bridge`) serves the same commands over HTTP on
//! loopback through [`dispatch::dispatch`], so a real browser can drive the real UI against
//! the real core. Either way the UI sees the same JSON and the same [`error::AppError`].
//!
//! - [`app`]: setup, unlock, lock after inactivity, people on a shared device.
//! - [`records`]: shifts and checks, incidents, contact notes, search, sync status.
//! - [`worker`]: background sync with backoff on its own store connection.
//! - [`config`]: the plain settings file (`app.json`).
//! - [`env`]: the clock, ids and randomness, passed in.

pub mod app;
mod command_list;
pub mod config;
pub mod dispatch;
pub mod env;
pub mod error;
pub mod record_types;
pub mod records;
pub mod status;
pub mod worker;

pub use app::App;
pub use error::{AppError, Kind};

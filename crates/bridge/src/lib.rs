//! Tools over the field app's commands that the app itself does not ship, kept out of
//! `rounds-app` so that the Tauri build compiles no HTTP server or argument parser:
//! - `rounds-app-bridge` (`src/bin/rounds-app-bridge.rs`): the same commands the Tauri shell
//!   calls, served over loopback HTTP for the browser journeys and `scripts/run.sh`;
//! - `rounds-device` (`src/bin/rounds-device.rs`): enrolling a data folder and filling it,
//!   from the command line.

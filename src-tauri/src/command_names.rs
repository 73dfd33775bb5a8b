//! The app's own commands, by name: the one list `build.rs` declares to Tauri (which then
//! generates an `allow-<name>` and a `deny-<name>` permission for each, granted in
//! `capabilities/default.json`) and a unit test compares with `rounds_app::dispatch::COMMANDS`.
//!
//! `build.rs` loads this file with `#[path]`, so it must stay plain Rust with no `crate::`
//! paths.

/// Every command `commands.rs` registers, in `rounds_app::dispatch::COMMANDS` order.
pub const COMMAND_NAMES: &[&str] = &[
    "state",
    "still_here",
    "enroll",
    "unlock",
    "lock",
    "add_person",
    "sign_in_again",
    "sync_now",
    "sync_info",
    "home",
    "start_shift",
    "find_checkpoint",
    "record_check",
    "end_shift",
    "shift",
    "shifts",
    "file_incident",
    "edit_incident",
    "submit_incident",
    "add_supplement",
    "incidents",
    "incident",
    "write_note",
    "notes",
    "note",
    "search",
    "colleagues",
    "add_photo",
    "photo",
];

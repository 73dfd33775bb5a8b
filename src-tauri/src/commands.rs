//! The IPC commands: one function per entry of the app's one list of commands
//! ([`rounds_app::for_each_command`]), each a call to the [`App`] method of the same name.
//!
//! The UI calls them as `invoke(name, { args })` (or `invoke(name, {})` when a command takes
//! nothing), so the parameter is named `args` and has the same type the test bridge's
//! [`rounds_app::dispatch`] reads: the UI sends the same JSON to either. Results are the
//! method's own (written `impl Serialize` here, as `dispatch` does, so that the shell does not
//! restate `rounds-app`'s types); errors are [`AppError`], which serializes to
//! `{ kind, message, field?, retry_at? }`.
//!
//! Every command is `async`, so it never runs on the UI thread, and does its work inside
//! [`blocking`]: the app's methods use SQLite, blocking HTTP and wait up to a minute for a
//! sync, which must not stall the async runtime that carries the other IPC calls.

use rounds_app::app::{AddPersonArgs, ChangePinArgs, EnrollArgs, SignInArgs, UnlockArgs};
use rounds_app::records::{
    EditIncidentArgs, EditNoteArgs, FileIncidentArgs, FindTagArgs, IdArgs, IncidentsArgs,
    NotesArgs, PhotoArgs, PhotoHashArgs, RecordCheckArgs, SearchArgs, StartShiftArgs,
    SupplementArgs, WriteNoteArgs,
};
use rounds_app::{App, AppError};
use serde::Serialize;
use tauri::State;

type Result<T> = std::result::Result<T, AppError>;

/// Runs a command's blocking work on the current runtime worker, after handing that
/// worker's other tasks to the rest of the pool (and outside the runtime's context, so
/// `reqwest::blocking` may start its own).
fn blocking<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    tokio::task::block_in_place(work)
}

/// One command: the [`App`] method `$name`, with its argument if it takes one.
macro_rules! command {
    ($name:ident) => {
        #[doc = concat!("[`App::", stringify!($name), "`].")]
        #[tauri::command(async)]
        pub fn $name(app: State<'_, App>) -> Result<impl Serialize> {
            blocking(|| app.$name())
        }
    };
    ($name:ident, $arg:ty) => {
        #[doc = concat!("[`App::", stringify!($name), "`].")]
        #[tauri::command(async)]
        pub fn $name(app: State<'_, App>, args: $arg) -> Result<impl Serialize> {
            blocking(|| app.$name(args))
        }
    };
}

macro_rules! commands {
    ($( $name:ident $(($arg:ty))? ),+ $(,)?) => {
        $( command!($name $(, $arg)?); )+
    };
}

rounds_app::for_each_command!(commands);

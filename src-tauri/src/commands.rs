//! The IPC commands: one per entry of [`rounds_app::dispatch::COMMANDS`], each a call to the
//! [`App`] method of the same name.
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

use rounds_app::app::{AddPersonArgs, EnrollArgs, SignInArgs, UnlockArgs};
use rounds_app::records::{
    EditIncidentArgs, FileIncidentArgs, FindTagArgs, IdArgs, IncidentsArgs, NotesArgs, PhotoArgs,
    PhotoHashArgs, RecordCheckArgs, SearchArgs, StartShiftArgs, SupplementArgs, WriteNoteArgs,
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

/// Where the app stands: which screen, who can unlock, who is unlocked.
#[tauri::command(async)]
pub fn state(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.state())
}

/// The person is still at the screen: counts as use, so the screens do not lock under them.
#[tauri::command(async)]
pub fn still_here(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.still_here())
}

/// First run: enroll the device and sign the first person in.
#[tauri::command(async)]
pub fn enroll(app: State<'_, App>, args: EnrollArgs) -> Result<impl Serialize> {
    blocking(|| app.enroll(args))
}

/// Unlocks the device for one of its people.
#[tauri::command(async)]
pub fn unlock(app: State<'_, App>, args: UnlockArgs) -> Result<impl Serialize> {
    blocking(|| app.unlock(args))
}

/// Locks the screens and stops background sync.
#[tauri::command(async)]
pub fn lock(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.lock())
}

/// Adds another person to a shared device.
#[tauri::command(async)]
pub fn add_person(app: State<'_, App>, args: AddPersonArgs) -> Result<impl Serialize> {
    blocking(|| app.add_person(args))
}

/// Signs the unlocked person in again after their session expired.
#[tauri::command(async)]
pub fn sign_in_again(app: State<'_, App>, args: SignInArgs) -> Result<impl Serialize> {
    blocking(|| app.sign_in_again(args))
}

/// Syncs now and waits for the outcome.
#[tauri::command(async)]
pub fn sync_now(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.sync_now())
}

/// The sync status line.
#[tauri::command(async)]
pub fn sync_info(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.sync_info())
}

/// The home screen.
#[tauri::command(async)]
pub fn home(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.home())
}

/// Starts a shift at a post.
#[tauri::command(async)]
pub fn start_shift(app: State<'_, App>, args: StartShiftArgs) -> Result<impl Serialize> {
    blocking(|| app.start_shift(args))
}

/// The checkpoint of a shift's round that a scanned or typed tag names.
#[tauri::command(async)]
pub fn find_checkpoint(app: State<'_, App>, args: FindTagArgs) -> Result<impl Serialize> {
    blocking(|| app.find_checkpoint(args))
}

/// Records a check.
#[tauri::command(async)]
pub fn record_check(app: State<'_, App>, args: RecordCheckArgs) -> Result<impl Serialize> {
    blocking(|| app.record_check(args))
}

/// Ends a shift; returns it with its final summary.
#[tauri::command(async)]
pub fn end_shift(app: State<'_, App>, args: IdArgs) -> Result<impl Serialize> {
    blocking(|| app.end_shift(args))
}

/// One shift with its round.
#[tauri::command(async)]
pub fn shift(app: State<'_, App>, args: IdArgs) -> Result<impl Serialize> {
    blocking(|| app.shift(args))
}

/// Recent shifts.
#[tauri::command(async)]
pub fn shifts(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.shifts())
}

/// Files an incident, as a draft or submitted at once.
#[tauri::command(async)]
pub fn file_incident(app: State<'_, App>, args: FileIncidentArgs) -> Result<impl Serialize> {
    blocking(|| app.file_incident(args))
}

/// Edits a draft or returned incident.
#[tauri::command(async)]
pub fn edit_incident(app: State<'_, App>, args: EditIncidentArgs) -> Result<impl Serialize> {
    blocking(|| app.edit_incident(args))
}

/// Submits a draft (or returned) incident for review.
#[tauri::command(async)]
pub fn submit_incident(app: State<'_, App>, args: IdArgs) -> Result<impl Serialize> {
    blocking(|| app.submit_incident(args))
}

/// Adds a supplement to a submitted incident.
#[tauri::command(async)]
pub fn add_supplement(app: State<'_, App>, args: SupplementArgs) -> Result<impl Serialize> {
    blocking(|| app.add_supplement(args))
}

/// Lists incidents, newest first.
#[tauri::command(async)]
pub fn incidents(app: State<'_, App>, args: IncidentsArgs) -> Result<impl Serialize> {
    blocking(|| app.incidents(args))
}

/// One incident in full.
#[tauri::command(async)]
pub fn incident(app: State<'_, App>, args: IdArgs) -> Result<impl Serialize> {
    blocking(|| app.incident(args))
}

/// Writes a student-contact note.
#[tauri::command(async)]
pub fn write_note(app: State<'_, App>, args: WriteNoteArgs) -> Result<impl Serialize> {
    blocking(|| app.write_note(args))
}

/// Notes for a student, or follow-ups coming due.
#[tauri::command(async)]
pub fn notes(app: State<'_, App>, args: NotesArgs) -> Result<impl Serialize> {
    blocking(|| app.notes(args))
}

/// One note in full.
#[tauri::command(async)]
pub fn note(app: State<'_, App>, args: IdArgs) -> Result<impl Serialize> {
    blocking(|| app.note(args))
}

/// Searches narratives, locations, notes.
#[tauri::command(async)]
pub fn search(app: State<'_, App>, args: SearchArgs) -> Result<impl Serialize> {
    blocking(|| app.search(args))
}

/// The people of the person's schools.
#[tauri::command(async)]
pub fn colleagues(app: State<'_, App>) -> Result<impl Serialize> {
    blocking(|| app.colleagues())
}

/// Keeps a photo on the device (base64 in, its hash out) for a check or an incident.
#[tauri::command(async)]
pub fn add_photo(app: State<'_, App>, args: PhotoArgs) -> Result<impl Serialize> {
    blocking(|| app.add_photo(args))
}

/// A photo on this device, for showing it.
#[tauri::command(async)]
pub fn photo(app: State<'_, App>, args: PhotoHashArgs) -> Result<impl Serialize> {
    blocking(|| app.photo(args))
}

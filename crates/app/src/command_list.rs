//! The one list of the app's commands. Each is the [`crate::App`] method of the same name,
//! with the type of its one argument if it takes one (what the UI sends as JSON). Everything
//! that names the commands expands this list: the test bridge's
//! [`crate::dispatch::dispatch`], the Tauri shell's command functions and its
//! `generate_handler!`, and the names `src-tauri/build.rs` declares to Tauri (which makes an
//! `allow-<name>` permission for each). Only the capability file
//! (`src-tauri/capabilities/default.json`) repeats them, and a test in `src-tauri` checks that
//! every command listed here is granted there and reaches the app.
//!
//! This file holds nothing but the macro, with no paths outside it, so that `build.rs` can
//! include it with `#[path]`.

/// Calls the macro `$m` with every command: `$m! { name, name(ArgType), ... }`. The argument
/// types are named bare: the caller has them in scope (or ignores them).
#[macro_export]
macro_rules! for_each_command {
    ($m:ident) => {
        $m! {
            state,
            still_here,
            enroll(EnrollArgs),
            unlock(UnlockArgs),
            lock,
            add_person(AddPersonArgs),
            change_pin(ChangePinArgs),
            sign_in_again(SignInArgs),
            sync_now,
            sync_info,
            home,
            start_shift(StartShiftArgs),
            find_checkpoint(FindTagArgs),
            record_check(RecordCheckArgs),
            end_shift(IdArgs),
            shift(IdArgs),
            shifts,
            file_incident(FileIncidentArgs),
            edit_incident(EditIncidentArgs),
            submit_incident(IdArgs),
            add_supplement(SupplementArgs),
            incidents(IncidentsArgs),
            incident(IdArgs),
            write_note(WriteNoteArgs),
            edit_note(EditNoteArgs),
            notes(NotesArgs),
            note(IdArgs),
            note_disclosures(IdArgs),
            search(SearchArgs),
            colleagues,
            add_photo(PhotoArgs),
            photo(PhotoHashArgs),
        }
    };
}

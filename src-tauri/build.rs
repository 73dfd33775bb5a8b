//! Declares the app's own commands to Tauri, so that each gets its own `allow-<name>`
//! permission and the capability in `capabilities/default.json` grants them one by one to the
//! main window (without a manifest, every command would be open to every window). The names
//! come from the app's one list of commands, included as it is.

#[path = "../crates/app/src/command_list.rs"]
#[macro_use]
mod command_list;

/// The names of the listed commands.
macro_rules! names {
    ($( $name:ident $(($arg:ty))? ),+ $(,)?) => {
        &[$(stringify!($name)),+]
    };
}

const COMMAND_NAMES: &[&str] = for_each_command!(names);

fn main() {
    println!("cargo:rerun-if-changed=../crates/app/src/command_list.rs");
    if let Err(e) = tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMAND_NAMES)),
    ) {
        // A build script reports by failing; the message is all cargo shows.
        panic!("tauri-build: {e:#}");
    }
}

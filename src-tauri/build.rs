//! Declares the app's own commands to Tauri, so that each gets its own `allow-<name>`
//! permission and the capability in `capabilities/default.json` grants them one by one to the
//! main window (without a manifest, every command would be open to every window).

#[path = "src/command_names.rs"]
mod command_names;

fn main() {
    if let Err(e) = tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(command_names::COMMAND_NAMES)),
    ) {
        // A build script reports by failing; the message is all cargo shows.
        panic!("tauri-build: {e:#}");
    }
}

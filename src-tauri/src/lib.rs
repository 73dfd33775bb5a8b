//! The Rounds field app's Tauri shell: it opens the app's data folder, manages one
//! [`rounds_app::App`] as state, registers [`commands`] and opens the main window. Nothing
//! else lives here: every decision is in `rounds-app` and `rounds-core`, where it is tested
//! without a web view.
//!
//! Environment (read once at start):
//! - `ROUNDS_DATA`: the data folder; by default the platform's app data folder for the
//!   identifier `org.rounds.field` (`~/.local/share/org.rounds.field` on Linux).
//! - `ROUNDS_IDLE_LOCK_SECONDS`: lock the screens after this many idle seconds instead of
//!   [`rounds_app::app::DEFAULT_IDLE_LIMIT`].
//! - `RUST_LOG`: log filter (default `info`); logs go to stderr.
//!
//! The main window is declared in `tauri.conf.json` with `"create": false` and opened by
//! [`build_app`]'s setup only once the [`App`] is managed, so the UI can never call a command
//! before its state exists.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use rounds_app::App;
use rounds_app::env::RealEnv;
use tauri::{AppHandle, Builder, Manager, Runtime, WebviewWindowBuilder};

pub mod commands;

/// Tauri's handler of the listed commands (expanded over [`rounds_app::for_each_command`]).
macro_rules! handler {
    ($( $name:ident $(($arg:ty))? ),+ $(,)?) => {
        tauri::generate_handler![$(commands::$name),+]
    };
}

/// The window the UI runs in; the only one the capability grants commands to.
pub const MAIN_WINDOW: &str = "main";

/// Makes the [`App`] once Tauri knows the platform's folders.
pub type OpenApp<R> = Box<dyn FnOnce(&AppHandle<R>) -> Result<App, Box<dyn Error>> + Send>;

/// The app on `builder`: `open` makes the [`App`] (managed as state), then the main window
/// opens. Generic over the runtime so tests can build it on `tauri::test::mock_builder()`.
pub fn build_app<R: Runtime>(builder: Builder<R>, open: OpenApp<R>) -> Builder<R> {
    builder
        .invoke_handler(rounds_app::for_each_command!(handler))
        .setup(move |tauri_app| {
            let app = open(tauri_app.handle())?;
            tauri_app.manage(app);
            let window = tauri_app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == MAIN_WINDOW)
                .ok_or("tauri.conf.json declares no \"main\" window")?
                .clone();
            WebviewWindowBuilder::from_config(tauri_app.handle(), &window)?.build()?;
            Ok(())
        })
}

/// Opens the app over `ROUNDS_DATA` or the platform's app data folder, with the idle lock
/// from `ROUNDS_IDLE_LOCK_SECONDS` if set.
pub fn open_from_env<R: Runtime>(handle: &AppHandle<R>) -> Result<App, Box<dyn Error>> {
    let dir = match std::env::var_os("ROUNDS_DATA") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => handle.path().app_data_dir()?,
    };
    // `App::new` creates the folder if it is missing.
    let mut app = App::new(&dir, Arc::new(RealEnv))?;
    if let Some(secs) = idle_lock_from_env()? {
        app = app.with_idle_limit(chrono::Duration::seconds(secs));
    }
    tracing::info!(data = %dir.display(), idle_lock_seconds = app.idle_limit().num_seconds(), "field app opened");
    Ok(app)
}

fn idle_lock_from_env() -> Result<Option<i64>, Box<dyn Error>> {
    match std::env::var("ROUNDS_IDLE_LOCK_SECONDS") {
        Ok(s) => match s.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "ROUNDS_IDLE_LOCK_SECONDS must be a positive number of seconds, not {s:?}"
            )
            .into()),
        },
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(format!("ROUNDS_IDLE_LOCK_SECONDS: {e}").into()),
    }
}

/// Runs the field app until its window closes. A data folder that cannot be opened stops it
/// at start (Tauri panics with "Failed to setup app: ..." and the reason).
#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let app = match build_app(tauri::Builder::default(), Box::new(open_from_env))
        .build(tauri::generate_context!())
    {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(%e, "the field app stopped");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        // Lock on the way out: background sync stops and closes its store connection before
        // the process exits (a sync thread inside SQLCipher during exit can crash it).
        if let tauri::RunEvent::Exit = event
            && let Some(app) = handle.try_state::<App>()
        {
            drop(app.lock());
        }
    });
}

#[cfg(test)]
mod tests {
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
    use tauri::webview::InvokeRequest;
    use tauri::{App as TauriApp, WebviewWindow};

    use super::*;

    fn mock_app(dir: &std::path::Path) -> (TauriApp<MockRuntime>, WebviewWindow<MockRuntime>) {
        let dir = dir.to_path_buf();
        let mut app = build_app(
            mock_builder(),
            Box::new(move |_| Ok(App::new(&dir, Arc::new(RealEnv))?)),
        )
        .build(tauri::generate_context!())
        .expect("the app builds on the mock runtime");
        // Setup runs when the event loop starts; one (no-op) mock iteration runs it.
        #[allow(
            deprecated,
            reason = "the one way to run setup without a blocking loop"
        )]
        app.run_iteration(|_, _| {});
        let window = app
            .get_webview_window(MAIN_WINDOW)
            .expect("setup opens the main window once the App is managed");
        (app, window)
    }

    fn invoke(
        window: &WebviewWindow<MockRuntime>,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        get_ipc_response(
            window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().expect("url"),
                body: InvokeBody::Json(body),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize().expect("json"))
    }

    #[test]
    fn every_command_is_registered_and_granted() {
        // A name in the list but missing from `generate_handler!` (or the capability) would
        // answer "not found" (or "not allowed"); anything else means it reached the App.
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = mock_app(dir.path());
        for name in rounds_app::dispatch::COMMANDS {
            if let Err(e) = invoke(&window, name, serde_json::json!({})) {
                let e = e.to_string();
                assert!(
                    !e.contains("not found") && !e.contains("not allowed"),
                    "{name}: {e}"
                );
            }
        }
    }

    #[test]
    fn the_main_window_calls_the_apps_commands_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = mock_app(dir.path());

        let state = invoke(&window, "state", serde_json::json!({}));
        assert_eq!(
            state.expect("a fresh device answers `state`")["stage"],
            "setup",
            "a fresh data folder is not enrolled"
        );

        // Arguments travel as `{ args: {...} }`, with the app's own error format.
        let refused = invoke(
            &window,
            "enroll",
            serde_json::json!({ "args": {
                "server": "ftp://nowhere", "code": "c", "device_name": "d",
                "username": "u", "password": "p", "pin": "2468013579"
            }}),
        )
        .expect_err("a non-http server address is refused before any network call");
        assert_eq!(refused["kind"], "invalid");
        assert_eq!(refused["field"], "server");

        let locked = invoke(&window, "home", serde_json::json!({}))
            .expect_err("home needs an enrolled, unlocked device");
        assert_eq!(locked["kind"], "not_set_up");

        // The capability grants no core permission: the window cannot even listen to events.
        let denied = invoke(
            &window,
            "plugin:event|listen",
            serde_json::json!({ "event": "x", "target": { "kind": "Any" }, "handler": 0 }),
        );
        let denied = denied.expect_err("core plugins are not granted to the main window");
        assert!(
            denied.to_string().contains("not allowed"),
            "refused by the ACL: {denied}"
        );

        // Another window gets nothing at all, not even the app's own commands.
        let other = tauri::WebviewWindowBuilder::new(&window, "other", Default::default())
            .build()
            .expect("a second window");
        let refused = invoke(&other, "state", serde_json::json!({}))
            .expect_err("the capability is for the main window only");
        assert!(
            refused.to_string().contains("not allowed"),
            "refused by the ACL: {refused}"
        );
    }
}

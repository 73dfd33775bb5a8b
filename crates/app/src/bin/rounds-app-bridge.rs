//! The field app in a browser, for end-to-end tests: serves `ui/` and the app's commands over
//! HTTP on loopback.
//!
//! `rounds-app-bridge --data DIR [--listen 127.0.0.1:0] [--ui DIR] [--idle-lock-seconds N]`
//! prints `listening on http://ADDR` once it accepts connections. `POST /invoke/{command}`
//! with the command's JSON arguments answers 200 with the result or 400 with the
//! `{kind, message}` error: exactly what the Tauri shell's IPC carries, over the same
//! [`rounds_app::dispatch`] commands and the same real store. It refuses to listen anywhere
//! but loopback, since it has no authentication of its own: it is the phone's own process.

#![allow(
    clippy::print_stdout,
    reason = "an edge program: prints its address for the test harness"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use rounds_app::env::RealEnv;
use rounds_app::{App, dispatch};

#[derive(Parser)]
#[command(about = "Serves the field app's UI and commands on loopback, for tests")]
struct Args {
    /// The device's data folder.
    #[arg(long)]
    data: PathBuf,
    /// Where to listen (loopback only).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The UI folder.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui"))]
    ui: PathBuf,
    /// Lock the screens after this many idle seconds.
    #[arg(long)]
    idle_lock_seconds: Option<i64>,
}

struct Bridge {
    app: App,
    ui: PathBuf,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        return Err("the bridge only listens on loopback (127.0.0.1 or ::1)".into());
    }
    let mut app = App::new(&args.data, Arc::new(RealEnv))?;
    if let Some(s) = args.idle_lock_seconds {
        app = app.with_idle_limit(chrono::Duration::seconds(s));
    }
    let bridge = Arc::new(Bridge { app, ui: args.ui });
    let router = Router::new()
        .route("/invoke/{command}", post(invoke))
        .fallback(get(static_file))
        .with_state(bridge);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router).await?;
    Ok(())
}

async fn invoke(
    State(b): State<Arc<Bridge>>,
    UrlPath(command): UrlPath<String>,
    body: Bytes,
) -> Response {
    let args: serde_json::Value = if body.is_empty() {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let err = rounds_app::AppError::invalid("args", format!("not JSON: {e}"));
                return (StatusCode::BAD_REQUEST, axum::Json(err)).into_response();
            }
        }
    };
    let result =
        tokio::task::spawn_blocking(move || dispatch::dispatch(&b.app, &command, args)).await;
    match result {
        Ok(Ok(v)) => axum::Json(v).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, axum::Json(e)).into_response(),
        Err(e) => {
            let err = rounds_app::AppError::internal("running a command", e);
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(err)).into_response()
        }
    }
}

async fn static_file(State(b): State<Arc<Bridge>>, uri: Uri) -> Response {
    let rel = uri.path().trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|p| p == ".." || p.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let path = b.ui.join(rel);
    match std::fs::read(&path) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

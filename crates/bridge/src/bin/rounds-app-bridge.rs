//! The field app in a browser, for end-to-end tests: serves `ui/` and the app's commands over
//! HTTP on loopback.
//!
//! `rounds-app-bridge --data DIR [--listen 127.0.0.1:0] [--ui DIR] [--idle-lock-seconds N]`
//! prints `listening on http://ADDR` once it accepts connections. `POST /invoke/{command}`
//! with the command's JSON arguments answers 200 with the result or 400 with the
//! `{kind, message}` error: exactly what the Tauri shell's IPC carries, over the same
//! [`rounds_app::dispatch`] commands and the same real store. It refuses to listen anywhere
//! but loopback.
//!
//! Loopback is not enough on its own: any web page the person visits could send requests to
//! `127.0.0.1`, or reach it under its own name through DNS rebinding, and drive or read an
//! unlocked phone. So every request is checked (403 otherwise):
//! - **Host** must be this bridge's own address: `127.0.0.1`, `localhost` or `[::1]` with its
//!   port (a rebinding attack arrives with the attacker's host name);
//! - **Origin**, when the browser sends one, must be that same address (`http://` + Host);
//! - **commands** must carry the per-run token in `x-rounds-token`: 32 random bytes made at
//!   start, written into the page the bridge serves (`<meta name="rounds-bridge-token">`, read
//!   by `ui/js/ipc.js`), so only a page this bridge served can call a command.

#![allow(
    clippy::print_stdout,
    reason = "an edge program: prints its address for the test harness"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use rounds_app::env::RealEnv;
use rounds_app::{App, AppError, Kind, dispatch};
use rounds_core::entropy::{Entropy, OsEntropy};

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
    /// The per-run secret a command must carry.
    token: String,
    /// The port it listens on: part of every Host and Origin it accepts.
    port: u16,
}

/// The header a command carries the token in.
const TOKEN_HEADER: &str = "x-rounds-token";

/// The names this bridge answers to (with its port).
const HOSTS: [&str; 3] = ["127.0.0.1", "localhost", "[::1]"];

/// A fresh random token, hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsEntropy.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in time independent of where the first difference is.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a request is refused, or `None` when it may go on: see the module doc.
fn refusal(b: &Bridge, headers: &HeaderMap, path: &str) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let own = |host: &str| HOSTS.iter().any(|h| host == format!("{h}:{}", b.port));
    match text(header::HOST.as_str()) {
        Some(host) if own(host) => {}
        _ => return Some("this app answers only on its own loopback address"),
    }
    if let Some(origin) = text(header::ORIGIN.as_str())
        && !origin.strip_prefix("http://").is_some_and(own)
    {
        return Some("requests from other web pages are refused");
    }
    if path.starts_with("/invoke/") {
        let token = text(TOKEN_HEADER).unwrap_or_default();
        if !same_secret(token.as_bytes(), b.token.as_bytes()) {
            return Some("a command needs the token of the page this app served");
        }
    }
    None
}

/// Refuses, with 403, what [`refusal`] refuses; commands get the `{kind, message}` error.
async fn check(State(b): State<Arc<Bridge>>, req: Request, next: Next) -> Response {
    match refusal(&b, req.headers(), req.uri().path()) {
        None => next.run(req).await,
        Some(why) if req.uri().path().starts_with("/invoke/") => {
            tracing::warn!(why, "refused a command");
            let err = AppError::new(Kind::Forbidden, format!("Not allowed: {why}."));
            (StatusCode::FORBIDDEN, axum::Json(err)).into_response()
        }
        Some(why) => {
            tracing::warn!(why, "refused a request");
            (StatusCode::FORBIDDEN, format!("Forbidden: {why}.\n")).into_response()
        }
    }
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
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let bridge = Arc::new(Bridge {
        app,
        ui: args.ui,
        token: new_token(),
        port: addr.port(),
    });
    let router = Router::new()
        .route("/invoke/{command}", post(invoke))
        .fallback(get(static_file))
        .layer(middleware::from_fn_with_state(Arc::clone(&bridge), check))
        .with_state(bridge);
    println!("listening on http://{addr}");
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
        Ok(bytes) if rel == "index.html" => {
            // The page carries this run's token for `ui/js/ipc.js`; never cached, since the
            // next run has another.
            let page = String::from_utf8_lossy(&bytes).replacen(
                "</head>",
                &format!(
                    "  <meta name=\"rounds-bridge-token\" content=\"{}\">\n</head>",
                    b.token
                ),
                1,
            );
            (
                [
                    (header::CONTENT_TYPE, content_type(&path)),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                page,
            )
                .into_response()
        }
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
        Some("ico") => "image/x-icon",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

//! The Rounds district server.
//!
//! This file is the router and the module list (see `docs/architecture.md` for how the parts
//! fit).
//!
//! - [`router`] builds the HTTP API over an [`AppState`] ([`state`]); handlers are thin, take
//!   their inputs through [`extract`] (whose rejections are the API's errors) and call into
//!   [`sync`], [`admin`] and [`auth`], which work on the [`storage::Storage`] trait. The
//!   enrollment and sign-in handlers are in [`api`].
//! - [`serve`] runs it on a listener with graceful shutdown, guarding every connection with
//!   the [`ConnectionLimits`] (header and body read timeouts, connections per client address).
//! - Every sign-in door (sessions, the console, enrollment) goes through [`signin`]: a
//!   throttle kept in storage and a bounded number of Argon2 runs.
//!
//! Endpoints (JSON unless noted; errors are `{"kind", "message"}` with the status in
//! [`error::ApiError`]):
//! - `GET /health`
//! - `POST /v1/enroll` `{code, name}` → `{device_id, device_secret}` (one-time code; 429
//!   `throttled` with `Retry-After` after too many wrong codes from the client's network)
//! - `POST /v1/sessions` `{username, password, device_id?, device_secret?}` → `{token, ...}`
//!   (429 `throttled` after too many wrong passwords for the name or network, 503 `busy` when
//!   no password-hash slot frees within a second; both with `Retry-After`)
//! - `POST /v1/sync/push`, `GET /v1/sync/pull`, `POST /v1/sync/fetch` (binary, see
//!   `rounds_protocol`)
//! - `PUT /v1/photos/{hash}?record=&offset=&total=` (raw bytes),
//!   `GET /v1/photos/{hash}/status?record=`
//!   (see [`photos`])
//! - `/v1/admin/...`: reference data, people, enrollment codes, devices (administrators)
//! - `/console/...`: the supervisor console, HTML pages and reports (see [`console`])

pub mod access;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod compaction;
pub mod console;
pub mod console_key;
pub mod device_events;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod photos;
pub mod seed;
mod serve;
pub mod signin;
mod state;
pub mod storage;
pub mod sync;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};

pub use api::enroll::{EnrollRequest, EnrollResponse};
pub use api::sessions::{
    MAX_CREDENTIAL_BYTES, SESSION_DAYS, SignInRequest, SignInResponse, check_credential_lengths,
};
pub use serve::{ConnectionLimits, serve, serve_with};
pub(crate) use state::new_id;
pub use state::{AppState, Compaction, ProxyPolicy};

/// The HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(api::health))
        .route("/v1/enroll", post(api::enroll::enroll))
        .route("/v1/sessions", post(api::sessions::sign_in))
        .route("/v1/sync/push", post(sync::push))
        .route("/v1/sync/pull", get(sync::pull))
        .route("/v1/sync/fetch", post(sync::fetch))
        .route("/v1/device-events", post(device_events::post))
        .route("/v1/notes/{id}/disclosures", get(api::disclosures::list))
        .route(
            "/v1/photos/{hash}",
            put(photos::put).layer(DefaultBodyLimit::max(rounds_protocol::MAX_PHOTO_CHUNK)),
        )
        .route("/v1/photos/{hash}/status", get(photos::status))
        .route("/v1/admin/reference", get(api::admin::reference))
        .route("/v1/admin/schools", put(api::admin::put_school))
        .route("/v1/admin/posts", put(api::admin::put_post))
        .route("/v1/admin/checkpoints", put(api::admin::put_checkpoint))
        .route(
            "/v1/admin/people",
            get(api::admin::people).put(api::admin::put_person),
        )
        .route("/v1/admin/enrollment-codes", post(api::admin::issue_code))
        .route("/v1/admin/devices", get(api::admin::devices))
        .route("/v1/admin/devices/{id}/revoke", post(api::admin::revoke))
        .merge(console::router())
        .layer(DefaultBodyLimit::max(rounds_protocol::MAX_BODY_BYTES))
        .with_state(state)
}

//! The Rounds district server.
//!
//! - [`router`] builds the HTTP API over an [`AppState`]; handlers are thin and call into
//!   [`sync`], [`admin`] and [`auth`], which work on the [`storage::Storage`] trait.
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
pub mod auth;
pub mod console;
pub mod error;
pub mod photos;
pub mod seed;
pub mod signin;
pub mod storage;
pub mod sync;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rounds_core::entropy::OsEntropy;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::signin::{ClientAddr, Door, SignInGuard, SignInPolicy};
use crate::storage::{DeviceRecord, SessionRecord, Storage};

/// How long a sign-in lasts before the device must sign in again.
pub const SESSION_DAYS: i64 = 30;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
    clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    time_zone: Tz,
    /// The sign-in throttle and hash slots.
    pub sign_in: Arc<SignInGuard>,
    locale: console::Locale,
    fonts: Option<Arc<console::pdf::ReportFonts>>,
    photos: photos::PhotoPolicy,
    fetch_page_bytes: usize,
}

impl AppState {
    /// State over a storage, reading the system clock.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "the server's edge reads the real clock"
        )]
        let clock = Arc::new(Utc::now);
        Self::with_clock(storage, clock)
    }

    /// State with a clock of the caller's (tests of expiry).
    pub fn with_clock(
        storage: Arc<dyn Storage>,
        clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Self {
        AppState {
            storage,
            clock,
            time_zone: Tz::UTC,
            sign_in: Arc::new(SignInGuard::new(SignInPolicy::default())),
            locale: console::Locale::default(),
            fonts: None,
            photos: photos::PhotoPolicy::default(),
            fetch_page_bytes: rounds_protocol::PAGE_BYTES as usize,
        }
    }

    /// The same state answering fetches in pages of at most `bytes` of changes (default and
    /// most: [`rounds_protocol::PAGE_BYTES`]). Tests of paging use small pages, so that a
    /// history larger than one answer need not be megabytes built edit by edit.
    pub fn with_fetch_page_bytes(mut self, bytes: usize) -> Self {
        self.fetch_page_bytes = bytes.clamp(1, rounds_protocol::PAGE_BYTES as usize);
        self
    }

    /// The same state with other sign-in numbers (`rounds-server serve --sign-in-window-seconds`,
    /// `--hash-slots`; tests).
    pub fn with_sign_in_policy(mut self, policy: SignInPolicy) -> Self {
        self.sign_in = Arc::new(SignInGuard::new(policy));
        self
    }

    /// The same state with other photo numbers (tests of the quota and the sweep).
    pub fn with_photo_policy(mut self, policy: photos::PhotoPolicy) -> Self {
        self.photos = policy;
        self
    }

    /// The photo quota and grace period.
    pub fn photo_policy(&self) -> photos::PhotoPolicy {
        self.photos
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The same state in the district's time zone (the console's days and clock times; UTC
    /// unless set).
    pub fn with_time_zone(mut self, tz: Tz) -> Self {
        self.time_zone = tz;
        self
    }

    /// The district's time zone.
    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The same state writing the console's dates and times in `locale` (en-US unless set).
    pub fn with_locale(mut self, locale: console::Locale) -> Self {
        self.locale = locale;
        self
    }

    /// The district's zone and locale, as the console shows times.
    pub fn when(&self) -> console::When {
        console::When {
            tz: self.time_zone,
            locale: self.locale,
        }
    }

    /// The same state printing reports with `fonts` (loaded at start-up by `serve`).
    pub fn with_fonts(mut self, fonts: Arc<console::pdf::ReportFonts>) -> Self {
        self.fonts = Some(fonts);
        self
    }

    /// The report fonts: those given with [`AppState::with_fonts`], or else those of
    /// [`console::pdf::DEFAULT_FONT_DIR`], loaded once per process (tests).
    pub fn fonts(&self) -> Result<Arc<console::pdf::ReportFonts>, console::pdf::FontError> {
        match &self.fonts {
            Some(f) => Ok(f.clone()),
            None => console::pdf::ReportFonts::shared_default(),
        }
    }
}

/// A new id for something the server creates (devices).
#[allow(
    clippy::disallowed_methods,
    reason = "ids are made at the server's edge"
)]
fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/v1/enroll", post(enroll))
        .route("/v1/sessions", post(sign_in))
        .route("/v1/sync/push", post(sync::push))
        .route("/v1/sync/pull", get(sync::pull))
        .route("/v1/sync/fetch", post(sync::fetch))
        .route(
            "/v1/photos/{hash}",
            put(photos::put).layer(DefaultBodyLimit::max(rounds_protocol::MAX_PHOTO_CHUNK)),
        )
        .route("/v1/photos/{hash}/status", get(photos::status))
        .route("/v1/admin/reference", get(admin::get_reference))
        .route("/v1/admin/schools", put(admin::http_put_school))
        .route("/v1/admin/posts", put(admin::http_put_post))
        .route("/v1/admin/checkpoints", put(admin::http_put_checkpoint))
        .route(
            "/v1/admin/people",
            get(admin::http_people).put(admin::http_put_person),
        )
        .route("/v1/admin/enrollment-codes", post(admin::http_issue_code))
        .route("/v1/admin/devices", get(admin::http_devices))
        .route("/v1/admin/devices/{id}/revoke", post(admin::http_revoke))
        .merge(console::router())
        .layer(DefaultBodyLimit::max(rounds_protocol::MAX_BODY_BYTES))
        .with_state(state)
}

/// How [`serve`] guards its connections against slow and greedy clients (`docs/sync.md`,
/// "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a request's head (request line and headers), counted from the moment
    /// the server starts reading it: on a kept-alive connection that is the end of the previous
    /// answer, so this is also how long an idle connection stays open. On expiry the connection
    /// is closed.
    pub header_timeout: std::time::Duration,
    /// Longest wait for the next bytes of a request body; the clock restarts with every piece
    /// that arrives, so a slow but steady upload goes on. On expiry the request is answered
    /// with an error and the connection is closed.
    pub body_timeout: std::time::Duration,
    /// Most connections open at once from one client address; more are answered 429 and
    /// closed at once.
    pub per_address: usize,
}

impl Default for ConnectionLimits {
    /// 10 s for a head or the next piece of a body: a phone on a weak signal sends a few KB a
    /// second, and a head is under 1 KB. 256 connections per address: a school's phones and
    /// console browsers may reach the server from one address (the school's NAT), each with a
    /// connection or two.
    fn default() -> Self {
        ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            per_address: 256,
        }
    }
}

/// Serves `router` on `listener` with the default [`ConnectionLimits`] until `shutdown`
/// resolves; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ConnectionLimits::default(), shutdown).await
}

/// Serves `router` on `listener` with `limits` until `shutdown` resolves; requests in flight
/// finish first.
///
/// This is axum's `serve` loop (one HTTP/1 connection task per accepted socket) with what it
/// does not offer: hyper's header read timeout (it needs a timer, which axum does not give
/// it), tower-http's body timeout on every request, and a count of open connections per
/// client address.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let sweeper = tokio::spawn(sweep_photos_hourly(state.clone()));
    let app = router(state).layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    let open = connections::PerAddress::new(limits.per_address);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = open.take(peer.ip()) else {
            tracing::info!(%peer, limit = limits.per_address, "connection refused: too many from this address");
            tokio::spawn(connections::refuse(stream, limits.per_address));
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Connection info gives handlers the client's address (the sign-in throttle's
        // network), as axum's `into_make_service_with_connect_info` would.
        let svc = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        );
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    sweeper.abort();
    graceful.shutdown().await;
    Ok(())
}

/// Runs [`photos::sweep`] at start-up and then every hour, in the blocking pool; a failure is
/// logged and retried at the next hour.
async fn sweep_photos_hourly(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let (storage, now, policy) = (state.storage.clone(), state.now(), state.photo_policy());
        match tokio::task::spawn_blocking(move || photos::sweep(storage.as_ref(), now, policy))
            .await
        {
            Ok(Ok(swept)) if swept != photos::Swept::default() => {
                tracing::info!(?swept, "photo sweep");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "photo sweep failed"),
            Err(e) => tracing::warn!(error = %e, "photo sweep stopped"),
        }
    }
}

mod connections {
    //! Open connections counted per client address.

    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex, PoisonError};

    use tokio::io::AsyncWriteExt;

    /// The open connections of every address, and the cap.
    #[derive(Clone)]
    pub struct PerAddress {
        open: Arc<Mutex<HashMap<IpAddr, usize>>>,
        max: usize,
    }

    /// One open connection; dropping it frees its place.
    pub struct Slot {
        open: Arc<Mutex<HashMap<IpAddr, usize>>>,
        ip: IpAddr,
    }

    impl PerAddress {
        pub fn new(max: usize) -> Self {
            PerAddress {
                open: Arc::default(),
                max,
            }
        }

        /// A place for one more connection from `ip`, unless it has `max` open already.
        pub fn take(&self, ip: IpAddr) -> Option<Slot> {
            // The map holds plain counts: a panic elsewhere cannot leave it half-updated.
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let n = open.entry(ip).or_insert(0);
            if *n >= self.max {
                return None;
            }
            *n += 1;
            Some(Slot {
                open: self.open.clone(),
                ip,
            })
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = open.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }

    /// Answers a connection over the cap with 429 and closes it, giving it one second.
    pub async fn refuse(mut stream: tokio::net::TcpStream, max: usize) {
        let body = serde_json::json!({
            "kind": "too_many_connections",
            "message": format!("at most {max} connections at once from one address; try again shortly"),
        })
        .to_string();
        let answer = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            stream.write_all(answer.as_bytes()).await?;
            stream.shutdown().await
        })
        .await;
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn places_are_counted_per_address_and_freed_on_drop() {
            let open = PerAddress::new(2);
            let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
            let first = open.take(a).expect("first");
            let _second = open.take(a).expect("second");
            assert!(
                open.take(a).is_none(),
                "a third from the same address is refused"
            );
            assert!(open.take(b).is_some(), "another address has its own count");
            drop(first);
            assert!(
                open.take(a).is_some(),
                "a closed connection frees its place"
            );
        }
    }
}

async fn health(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let st = s.storage.clone();
    let docs = tokio::task::spawn_blocking(move || st.document_count()).await??;
    Ok(Json(
        serde_json::json!({ "status": "ok", "documents": docs }),
    ))
}

/// Body of `POST /v1/enroll`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code an administrator issued.
    pub code: String,
    /// A name for the device ("Adams post phone 2").
    pub name: String,
}

/// Answer of `POST /v1/enroll`.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The device's id.
    pub device_id: Uuid,
    /// The device's own credential; keep it in the device's encrypted store.
    pub device_secret: String,
}

async fn enroll(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    j: Result<Json<EnrollRequest>, JsonRejection>,
) -> ApiResult<Json<EnrollResponse>> {
    let Json(req) = j.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    rounds_core::model::text("name", &req.name, 1, 100)?;
    if req.code.len() > 64 {
        return Err(ApiError::BadRequest("code: at most 64 characters".into()));
    }
    let st = s.storage.clone();
    let now = s.now();
    // Counted before the code is looked at: a burst of guesses cannot pass the limit.
    let attempt = s
        .sign_in
        .admit(&st, new_id(), Door::Enrollment, ip, now)
        .await?;
    tokio::task::spawn_blocking(move || {
        let secret = auth::new_token(&mut OsEntropy);
        let device = DeviceRecord {
            id: new_id(),
            name: req.name.trim().to_string(),
            secret_hash: auth::token_hash(&secret),
            enrolled_at: now,
            revoked_at: None,
        };
        let code = auth::token_hash(&auth::normalize_code(&req.code));
        let redeemed = st.redeem_enrollment_code(&code, now, &device)?;
        attempt.finish(st.as_ref(), redeemed)?;
        if !redeemed {
            return Err(ApiError::Forbidden(
                "this enrollment code is not valid: it is unknown, used or expired".into(),
            ));
        }
        tracing::info!(device = %device.id, name = %device.name, "device enrolled");
        Ok(Json(EnrollResponse {
            device_id: device.id,
            device_secret: secret,
        }))
    })
    .await?
}

/// Body of `POST /v1/sessions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignInRequest {
    /// Sign-in name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The enrolled device signing in (absent for the console).
    pub device_id: Option<Uuid>,
    /// The device's credential.
    pub device_secret: Option<String>,
}

/// Answer of `POST /v1/sessions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignInResponse {
    /// Bearer token for later requests.
    pub token: String,
    /// The person.
    pub person_id: uuid::Uuid,
    /// Their role.
    pub role: rounds_core::model::Role,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// The longest username and password a sign-in may carry (refused with 400 before any work).
pub const MAX_CREDENTIAL_BYTES: usize = 1024;

/// Checks the length of a typed username and password.
pub fn check_credential_lengths(username: &str, password: &str) -> ApiResult<()> {
    if username.len() > 128 || password.len() > MAX_CREDENTIAL_BYTES {
        return Err(ApiError::BadRequest(format!(
            "username: at most 128 bytes; password: at most {MAX_CREDENTIAL_BYTES} bytes"
        )));
    }
    Ok(())
}

async fn sign_in(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    j: Result<Json<SignInRequest>, JsonRejection>,
) -> ApiResult<Json<SignInResponse>> {
    let Json(req) = j.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let username = req.username.trim().to_string();
    check_credential_lengths(&username, &req.password)?;
    let st = s.storage.clone();
    let now = s.now();
    // The attempt is counted before the password is checked (429 without any hashing when the
    // name or network is over its limit), then waits for a hash slot (503 if none frees soon).
    let door = Door::Password {
        username: &username,
    };
    let attempt = s.sign_in.admit(&st, new_id(), door, ip, now).await?;
    let mut slot = s.sign_in.hash_slot(&st, Some(&attempt)).await?;
    tokio::task::spawn_blocking(move || {
        let wrong = || ApiError::Unauthorized("wrong username or password".into());
        // An unknown name costs the same Argon2 work as a known one.
        let person = st.person_by_username(&username)?;
        let ok = auth::verify_password_in(
            &req.password,
            person.as_ref().map(|p| p.password_hash.as_str()),
            slot.memory(),
        );
        drop(slot);
        let person = person.filter(|p| ok && p.active);
        attempt.finish(st.as_ref(), person.is_some())?;
        let person = person.ok_or_else(wrong)?;
        let device_id = match (req.device_id, &req.device_secret) {
            (None, None) => None,
            (Some(d), Some(secret)) => {
                let dev = st
                    .device(d)?
                    .ok_or_else(|| ApiError::Unauthorized("this device is not enrolled".into()))?;
                if dev.revoked_at.is_some() {
                    return Err(ApiError::Revoked);
                }
                if auth::token_hash(secret) != dev.secret_hash {
                    return Err(ApiError::Unauthorized(
                        "the device credential is wrong".into(),
                    ));
                }
                Some(d)
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "device_id and device_secret go together".into(),
                ));
            }
        };
        let token = auth::new_token(&mut OsEntropy);
        let expires_at = now + Duration::days(SESSION_DAYS);
        st.add_session(
            &auth::token_hash(&token),
            &SessionRecord {
                person_id: person.id,
                device_id,
                expires_at,
            },
            now,
        )?;
        Ok(Json(SignInResponse {
            token,
            person_id: person.id,
            role: person.role,
            expires_at,
        }))
    })
    .await?
}

//! The Rounds district server.
//!
//! - [`router`] builds the HTTP API over an [`AppState`]; handlers are thin and call into
//!   [`sync`], [`admin`] and [`auth`], which work on the [`storage::Storage`] trait.
//! - [`serve`] runs it on a listener with graceful shutdown.
//!
//! Endpoints (JSON unless noted; errors are `{"kind", "message"}` with the status in
//! [`error::ApiError`]):
//! - `GET /health`
//! - `POST /v1/enroll` `{code, name}` → `{device_id, device_secret}` (one-time code)
//! - `POST /v1/sessions` `{username, password, device_id?, device_secret?}` → `{token, ...}`
//! - `POST /v1/sync/push`, `GET /v1/sync/pull`, `POST /v1/sync/fetch` (binary, see
//!   `rounds_protocol`)
//! - `PUT /v1/photos/{hash}?offset=&total=` (raw bytes), `GET /v1/photos/{hash}/status`
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
    locale: console::Locale,
    fonts: Option<Arc<console::pdf::ReportFonts>>,
}

impl AppState {
    /// State over a storage, reading the system clock.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "the server's edge reads the real clock"
        )]
        let clock = Arc::new(Utc::now);
        AppState {
            storage,
            clock,
            time_zone: Tz::UTC,
            locale: console::Locale::default(),
            fonts: None,
        }
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
            locale: console::Locale::default(),
            fonts: None,
        }
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

/// Serves `router` on `listener` until `shutdown` resolves; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
    j: Result<Json<EnrollRequest>, JsonRejection>,
) -> ApiResult<Json<EnrollResponse>> {
    let Json(req) = j.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    rounds_core::model::text("name", &req.name, 1, 100)?;
    let st = s.storage.clone();
    let now = s.now();
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
        if !st.redeem_enrollment_code(&code, now, &device)? {
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

async fn sign_in(
    State(s): State<AppState>,
    j: Result<Json<SignInRequest>, JsonRejection>,
) -> ApiResult<Json<SignInResponse>> {
    let Json(req) = j.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let st = s.storage.clone();
    let now = s.now();
    tokio::task::spawn_blocking(move || {
        let wrong = || ApiError::Unauthorized("wrong username or password".into());
        let person = st
            .person_by_username(req.username.trim())?
            .filter(|p| p.active)
            .ok_or_else(wrong)?;
        if !auth::verify_password(&req.password, &person.password_hash) {
            return Err(wrong());
        }
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

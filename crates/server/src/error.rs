//! The server's one error type: each variant documents its HTTP status, and every response
//! body is `{"kind": ..., "message": ...}`. Internal failures are logged and answered with a
//! generic message.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::storage::StorageError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or a value is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `sign_in`: no credential, an unknown or expired one; sign in again.
    #[error("{0}")]
    Unauthorized(String),
    /// 403 `revoked`: this device was revoked.
    #[error("this device was revoked")]
    Revoked,
    /// 410 `wipe_after_push` or `wipe_now`: this device was revoked and the district asked it
    /// to erase itself: after pushing what it holds (`after_push`), or at once.
    #[error("the district asked this device to erase itself")]
    Wipe {
        /// Whether the device pushes what waits (and may still push) before erasing.
        after_push: bool,
    },
    /// 403: the signed-in person may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing (or not visible to this person).
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// 422 `invalid`: the request is well formed but what it carries is wrong (a photo whose
    /// bytes do not have its hash).
    #[error("{0}")]
    Unprocessable(String),
    /// 413: the body is larger than allowed.
    #[error("the request body is too large")]
    TooLarge,
    /// 413 `too_large`: something in the request is over one of the limits of
    /// `rounds_domain::limits`; the message names it and the limit.
    #[error("{0}")]
    OverLimit(String),
    /// 429 `throttled`, with `Retry-After`: too many failed sign-ins or enrollments for this
    /// name or network (see `crate::signin`); nothing was checked.
    #[error("{message}")]
    Throttled {
        /// What to tell the person.
        message: String,
        /// Seconds until a new attempt can be counted.
        retry_after_secs: u64,
    },
    /// 429 `quota`: this device has sent its day's share of photo bytes; the photo waits on
    /// the device and goes later (no `Retry-After`: the next sync tries again).
    #[error("{0}")]
    Quota(String),
    /// 415 `unsupported_type`: an upload that is not one of the image types the app makes.
    #[error("{0}")]
    UnsupportedType(String),
    /// 503 `busy`, with `Retry-After: 1`: every password-hash slot stayed taken for the
    /// request's short wait.
    #[error("the server is busy checking other sign-ins; try again in a moment")]
    Busy,
    /// 500: a bug or a failing disk; details are in the server log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "sign_in"),
            ApiError::Revoked => (StatusCode::FORBIDDEN, "revoked"),
            ApiError::Wipe { after_push: true } => (StatusCode::GONE, "wipe_after_push"),
            ApiError::Wipe { after_push: false } => (StatusCode::GONE, "wipe_now"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::TooLarge | ApiError::OverLimit(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large")
            }
            ApiError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            ApiError::Quota(_) => (StatusCode::TOO_MANY_REQUESTS, "quota"),
            ApiError::UnsupportedType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_type")
            }
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl ApiError {
    /// Seconds for `Retry-After`, for the answers that carry one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Throttled {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ApiError::Busy => Some(1),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.parts();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let body = serde_json::json!({ "kind": kind, "message": self.to_string() });
        let mut r = (status, Json(body)).into_response();
        if let Some(secs) = self.retry_after() {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict(m) => ApiError::Conflict(m),
            StorageError::Backend(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<rounds_domain::Error> for ApiError {
    fn from(e: rounds_domain::Error) -> Self {
        use rounds_domain::ErrorKind::*;
        match e.kind() {
            Invalid => ApiError::BadRequest(e.to_string()),
            NotFound => ApiError::NotFound(e.to_string()),
            Conflict => ApiError::Conflict(e.to_string()),
            Forbidden => ApiError::Forbidden(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

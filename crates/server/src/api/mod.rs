//! The HTTP API's handlers that are not the sync exchange or photos (which live with their
//! modules, [`crate::sync`] and [`crate::photos`]): health, enrollment ([`enroll`]), sign-in
//! ([`sessions`]), the admin API ([`admin`], over the shared operations of
//! [`crate::admin`]) and a note's disclosures for its author ([`disclosures`]).

pub mod admin;
pub mod disclosures;
pub mod enroll;
pub mod sessions;

use axum::Json;
use axum::extract::State;

use crate::error::ApiResult;
use crate::state::AppState;

/// `GET /health`: the server answers and its storage is readable.
pub async fn health(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let st = s.storage.clone();
    let docs = tokio::task::spawn_blocking(move || st.document_count()).await??;
    Ok(Json(
        serde_json::json!({ "status": "ok", "documents": docs }),
    ))
}

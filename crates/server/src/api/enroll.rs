//! `POST /v1/enroll`: a device redeems a one-time enrollment code for its own credential,
//! through the sign-in throttle (a burst of guessed codes is refused before any is looked at).

use axum::extract::State;
use rounds_domain::entropy::OsEntropy;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::signin::{ClientAddr, Door};
use crate::state::{AppState, new_id};
use crate::storage::DeviceRecord;

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

/// The handler.
pub async fn enroll(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Json(req): Json<EnrollRequest>,
) -> ApiResult<Json<EnrollResponse>> {
    rounds_domain::model::text("name", &req.name, 1, 100)?;
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
        let from = ip.to_string();
        st.append_audit(&[crate::audit::NewEntry::enrollment(
            now,
            redeemed.then_some((device.id, device.name.as_str())),
            None,
            &from,
        )])?;
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

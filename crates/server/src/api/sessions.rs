//! `POST /v1/sessions`: a person signs in with their password (from an enrolled device, or
//! for the console), through the sign-in throttle and a bounded number of Argon2 runs, and gets
//! a bearer token for [`SESSION_DAYS`].

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use rounds_domain::entropy::OsEntropy;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::NewEntry;
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::signin::{ClientAddr, Door};
use crate::state::{AppState, new_id};
use crate::storage::{KeyRegistration, SessionRecord, SigningKeyRecord};

/// How long a sign-in lasts before the device must sign in again.
pub const SESSION_DAYS: i64 = 30;

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
    /// The person's Ed25519 public key on this device (hex, 32 bytes), recorded with them
    /// and the device: the changes they push from it must be signed with it (see
    /// `rounds_domain::signing`). Only with a device.
    #[serde(default)]
    pub signing_key: Option<String>,
}

/// Answer of `POST /v1/sessions`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SignInResponse {
    /// Bearer token for later requests.
    pub token: String,
    /// The person.
    pub person_id: uuid::Uuid,
    /// Their role.
    pub role: rounds_domain::model::Role,
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

/// The handler.
pub async fn sign_in(
    State(s): State<AppState>,
    ClientAddr(ip): ClientAddr,
    Json(req): Json<SignInRequest>,
) -> ApiResult<Json<SignInResponse>> {
    let username = req.username.trim().to_string();
    check_credential_lengths(&username, &req.password)?;
    let signing_key = match &req.signing_key {
        None => None,
        Some(_) if req.device_id.is_none() => {
            return Err(ApiError::BadRequest(
                "a signing key is recorded only with a device".into(),
            ));
        }
        Some(k) => Some(
            hex::decode(k.trim())
                .ok()
                .and_then(|b| rounds_domain::signing::check_public_key(&b).ok())
                .ok_or_else(|| {
                    ApiError::BadRequest(
                        "signing_key: not a usable Ed25519 public key (64 hex digits)".into(),
                    )
                })?,
        ),
    };
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
        let from = ip.to_string();
        let refused = |person: Option<Uuid>, why: &str| {
            st.append_audit(&[NewEntry::sign_in_failed(
                now, "app", &username, person, &from, why,
            )])
        };
        let known = person.as_ref().map(|p| p.id);
        let person = person.filter(|p| ok && p.active);
        attempt.finish(st.as_ref(), person.is_some())?;
        let Some(person) = person else {
            refused(known, "wrong username or password")?;
            return Err(wrong());
        };
        let device_id = match (req.device_id, &req.device_secret) {
            (None, None) => None,
            (Some(d), Some(secret)) => {
                let Some(dev) = st.device(d)? else {
                    refused(Some(person.id), "the device is not enrolled")?;
                    return Err(ApiError::Unauthorized("this device is not enrolled".into()));
                };
                if dev.revoked_at.is_some() {
                    refused(Some(person.id), "the device is revoked")?;
                    return Err(ApiError::Revoked);
                }
                if auth::token_hash(secret) != dev.secret_hash {
                    refused(Some(person.id), "the device credential is wrong")?;
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
        if let (Some(key), Some(device)) = (signing_key, device_id) {
            let registration = st.register_signing_key(&SigningKeyRecord {
                public_key: key,
                person_id: person.id,
                device_id: device,
                registered_at: now,
                revoked_at: None,
            })?;
            if registration == KeyRegistration::Taken {
                refused(Some(person.id), "the signing key belongs to someone else")?;
                return Err(ApiError::Conflict(
                    "this signing key is recorded for another person or device".into(),
                ));
            }
        }
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
        let mut entry = NewEntry::sign_in(now, "app", &username, person.id, device_id, &from);
        if let Some(key) = signing_key.filter(|_| device_id.is_some()) {
            entry.detail["signing_key"] = serde_json::Value::String(hex::encode(key));
        }
        st.append_audit(&[entry])?;
        Ok(Json(SignInResponse {
            token,
            person_id: person.id,
            role: person.role,
            expires_at,
        }))
    })
    .await?
}

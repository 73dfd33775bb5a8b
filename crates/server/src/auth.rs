//! Credentials: people's passwords, device credentials, one-time enrollment codes and session
//! tokens, and the extractors that turn an `Authorization: Bearer` header into a signed-in
//! person (and device) before any handler runs.
//!
//! Passwords and device secrets are stored as Argon2id hashes
//! (`argon2id$<m>$<t>$<p>$<salt hex>$<hash hex>`). Enrollment codes and session tokens are
//! high-entropy random strings, stored as SHA-256 hashes: a leaked database gives no usable
//! credential. Every device request checks, in this order: a token is present and known and
//! not expired (else 401 "sign in again"), its device is not revoked (else 403 "revoked"), and
//! its person is still active.
//!
//! Argon2 work is the costly part of a sign-in (19 MiB and about 50 ms of one core per run),
//! so the server runs it only inside a [`crate::signin::HashSlot`], which lends the run a
//! reused [`HashMemory`]: at most a fixed number run at once and the memory they use is
//! allocated once. An unknown username is verified against [`DUMMY_HASH`] (the same
//! parameters as every stored hash), so the answer takes as long as for a known name.

use std::sync::LazyLock;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use rounds_domain::entropy::Entropy;
use rounds_domain::model::Role;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::access::Viewer;
use crate::error::ApiError;
use crate::storage::PersonRecord;

const M_KIB: u32 = 19 * 1024;
const T: u32 = 2;

/// A well-formed hash at the server's parameters that no password is expected to match:
/// verified instead when a username is unknown, so the work (and the time) is the same.
pub static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "argon2id${M_KIB}${T}$1${}${}",
        "00".repeat(16),
        "00".repeat(32)
    )
});

/// The working memory of one Argon2 run, kept between runs so that a busy server does not
/// allocate (and fragment) 19 MiB per sign-in. It grows to the largest run it served.
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

impl HashMemory {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let n = params.block_count();
        if self.0.len() < n {
            self.0.resize(n, Block::default());
        }
        &mut self.0[..n]
    }
}

/// Hashes a password (or device secret) with Argon2id, in fresh memory (the command line and
/// the demo seed; the server's handlers use [`hash_password_in`] inside a hash slot).
pub fn hash_password(password: &str, entropy: &mut dyn Entropy) -> String {
    hash_password_in(password, entropy, &mut HashMemory::default())
}

/// Hashes a password with Argon2id in `memory`.
pub fn hash_password_in(
    password: &str,
    entropy: &mut dyn Entropy,
    memory: &mut HashMemory,
) -> String {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    let hash = derive(password, &salt, M_KIB, T, 1, memory).unwrap_or_default();
    format!(
        "argon2id${M_KIB}${T}$1${}${}",
        hex::encode(salt),
        hex::encode(hash)
    )
}

fn derive(
    password: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
    memory: &mut HashMemory,
) -> Option<[u8; 32]> {
    let params = Params::new(m, t, p, Some(32)).ok()?;
    let mut out = [0u8; 32];
    let blocks = memory.blocks(&params);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
        .ok()?;
    Some(out)
}

/// Checks a password against a stored hash, in fresh memory.
pub fn verify_password(password: &str, stored: &str) -> bool {
    verify_password_in(password, Some(stored), &mut HashMemory::default())
}

/// Checks a password against a person's stored hash in `memory`; `None` (no such person)
/// does the same work against [`DUMMY_HASH`] and is always false.
pub fn verify_password_in(password: &str, stored: Option<&str>, memory: &mut HashMemory) -> bool {
    match stored {
        Some(h) => verify_hash(password, h, memory),
        None => {
            verify_hash(password, &DUMMY_HASH, memory);
            false
        }
    }
}

fn verify_hash(password: &str, stored: &str, memory: &mut HashMemory) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    let [alg, m, t, p, salt, hash] = parts.as_slice() else {
        return false;
    };
    if *alg != "argon2id" {
        return false;
    }
    let (Ok(m), Ok(t), Ok(p), Ok(salt), Ok(hash)) = (
        m.parse(),
        t.parse(),
        p.parse(),
        hex::decode(salt),
        hex::decode(hash),
    ) else {
        return false;
    };
    match derive(password, &salt, m, t, p, memory) {
        Some(got) => constant_time_eq(&got, &hash),
        None => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random token: 32 bytes, base64url without padding (43 characters).
pub fn new_token(entropy: &mut dyn Entropy) -> String {
    let mut b = [0u8; 32];
    entropy.fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A human-typable one-time enrollment code: 12 characters from an alphabet without look-alikes,
/// shown as `XXXX-XXXX-XXXX` (about 60 bits).
pub fn new_enrollment_code(entropy: &mut dyn Entropy) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 12];
    entropy.fill(&mut b);
    let chars: Vec<char> = b
        .iter()
        .map(|x| ALPHABET[(*x as usize) % ALPHABET.len()] as char)
        .collect();
    format!(
        "{}-{}-{}",
        chars[0..4].iter().collect::<String>(),
        chars[4..8].iter().collect::<String>(),
        chars[8..12].iter().collect::<String>()
    )
}

/// Normalises a typed enrollment code (case, dashes, spaces) before hashing.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 in hex, for tokens and codes.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A signed-in person on an enrolled device: what every sync request acts as.
#[derive(Debug, Clone)]
pub struct DeviceSession {
    /// The person.
    pub person: PersonRecord,
    /// The device.
    pub device_id: Uuid,
}

impl DeviceSession {
    /// The viewer for access decisions.
    pub fn viewer(&self) -> Viewer {
        viewer(&self.person)
    }
}

/// The viewer of a person.
pub fn viewer(p: &PersonRecord) -> Viewer {
    Viewer {
        person: p.id,
        role: p.role,
        schools: p.schools.clone(),
    }
}

/// A signed-in administrator (console or CLI token, device or not).
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// The administrator.
    pub person: PersonRecord,
}

impl AdminSession {
    /// This administrator making a change at `at` (for its audit entry).
    pub fn actor(&self, at: chrono::DateTime<chrono::Utc>) -> crate::admin::Actor {
        crate::admin::Actor {
            by: Some(self.person.id),
            at,
        }
    }
}

/// A signed-in person, with or without a device (console pages).
#[derive(Debug, Clone)]
pub struct PersonSession {
    /// The person.
    pub person: PersonRecord,
    /// The device, for device sessions.
    pub device_id: Option<Uuid>,
}

fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized("sign in: no credential was sent".into()))?;
    value
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(|| {
            ApiError::Unauthorized("sign in: the credential is not a bearer token".into())
        })
}

impl FromRequestParts<AppState> for PersonSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        let storage = state.storage.clone();
        let now = state.now();
        let path = parts.uri.path().to_string();
        tokio::task::spawn_blocking(move || {
            let session = storage.session(&token_hash(&token))?.ok_or_else(|| {
                ApiError::Unauthorized("sign in again: this session is not known".into())
            })?;
            if session.expires_at <= now {
                return Err(ApiError::Unauthorized(
                    "sign in again: the session has expired".into(),
                ));
            }
            if let Some(d) = session.device_id {
                let device = storage.device(d)?.ok_or(ApiError::Revoked)?;
                if device.revoked_at.is_some() {
                    // A device asked to erase itself may still report it, and, when it is to
                    // push first, push what waits on it and its photos; nothing else.
                    let Some(after_push) = storage.pending_wipe(d)? else {
                        return Err(ApiError::Revoked);
                    };
                    let allowed = path == "/v1/device-events"
                        || (after_push
                            && (path == "/v1/sync/push" || path.starts_with("/v1/photos/")));
                    if !allowed {
                        return Err(ApiError::Wipe { after_push });
                    }
                }
            }
            let person = storage
                .person(session.person_id)?
                .filter(|p| p.active)
                .ok_or_else(|| {
                    ApiError::Unauthorized("sign in again: this account is not active".into())
                })?;
            Ok(PersonSession {
                person,
                device_id: session.device_id,
            })
        })
        .await?
    }
}

impl FromRequestParts<AppState> for DeviceSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = PersonSession::from_request_parts(parts, state).await?;
        let device_id = s.device_id.ok_or_else(|| {
            ApiError::Forbidden("sync needs a session from an enrolled device".into())
        })?;
        Ok(DeviceSession {
            person: s.person,
            device_id,
        })
    }
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let s = PersonSession::from_request_parts(parts, state).await?;
        if s.person.role != Role::Admin {
            return Err(ApiError::Forbidden(
                "this needs a district administrator".into(),
            ));
        }
        Ok(AdminSession { person: s.person })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rounds_domain::entropy::SeededEntropy;

    #[test]
    fn passwords_verify_only_with_the_right_secret() {
        let h = hash_password("correct horse", &mut SeededEntropy::new(1));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horse ", &h));
        assert!(!verify_password("correct horse", "garbage"));
    }

    #[test]
    fn reused_memory_gives_the_same_answers_and_unknown_names_never_match() {
        let mut memory = HashMemory::default();
        let h = hash_password_in("correct horse", &mut SeededEntropy::new(3), &mut memory);
        assert!(verify_password_in("correct horse", Some(&h), &mut memory));
        assert!(!verify_password_in("wrong horse", Some(&h), &mut memory));
        assert!(
            verify_password("correct horse", &h),
            "a hash made in reused memory verifies in fresh memory"
        );
        assert!(
            !verify_password_in("", None, &mut memory),
            "no person: false, whatever the password"
        );
        let parts: Vec<&str> = DUMMY_HASH.split('$').collect();
        let real: Vec<&str> = h.split('$').collect();
        assert_eq!(
            parts[..4],
            real[..4],
            "the dummy hash has the parameters of real ones, so it costs the same"
        );
    }

    #[test]
    fn enrollment_codes_are_typable_and_normalised() {
        let c = new_enrollment_code(&mut SeededEntropy::new(2));
        assert_eq!(c.len(), 14);
        assert_eq!(
            normalize_code(&c.to_lowercase().replace('-', " ")),
            c.replace('-', "")
        );
    }
}

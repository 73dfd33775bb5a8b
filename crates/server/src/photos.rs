//! Photos: resumable uploads from devices, kept only when their SHA-256 is their name.
//!
//! Terms:
//! - **hash**: a photo's SHA-256 as 64 lowercase hex digits, the reference documents carry.
//! - **partial file**: `<photo folder>/partial/<hash>`, the bytes received so far of an upload
//!   in progress. Its length is **received**: the offset the next chunk must start at.
//! - **complete file**: `<photo folder>/<hash>`, a photo whose bytes were checked against its
//!   hash. The photo folder is [`Storage::photo_dir`] (`<data>/photos`).
//!
//! The exchange (device sessions only; a revoked device gets 403 `revoked` like everywhere):
//! - `GET /v1/photos/{hash}/status` → [`PhotoStatus`] `{received, complete}`.
//! - `PUT /v1/photos/{hash}?offset=N&total=T`, body = at most [`MAX_PHOTO_CHUNK`] raw bytes,
//!   `T` ≤ [`MAX_PHOTO_BYTES`]. The chunk is appended if `N` is what the server holds; a chunk
//!   already received (a retry after a lost answer) is answered without writing anything; a
//!   chunk that starts past what the server holds is refused with 409 and a body that says how
//!   much it holds (`{kind: "conflict", message, received}`), so the device resumes from there.
//!   When `received` reaches `T` the server checks the SHA-256: a match moves the file to its
//!   place and records who uploaded it (answer `complete: true`); a mismatch deletes the
//!   partial file and answers 422 `invalid`. A PUT for a complete photo changes nothing.
//!
//! Every appended chunk is fsynced before it is acknowledged, so `received` survives a power
//! cut; the complete file is fsynced, renamed into place and its folder fsynced before the
//! answer says complete. Requests for the same hash are serialised within this process (a
//! device retrying while its first request still runs); several server processes sharing one
//! photo folder would need a file lock as well.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rounds_core::model::is_photo_hash;
use rounds_protocol::{MAX_PHOTO_BYTES, MAX_PHOTO_CHUNK, PhotoStatus};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::DeviceSession;
use crate::error::ApiError;
use crate::storage::{PhotoRecord, Storage};

/// What a photo request can fail with: an [`ApiError`], or a chunk that does not start where
/// the server's copy ends (409, with how much the server holds).
#[derive(Debug)]
pub enum PhotoError {
    /// Any other error.
    Api(ApiError),
    /// 409 `conflict`: the chunk starts at `offset` but the server holds `received` bytes.
    Gap {
        /// Where the refused chunk started.
        offset: u64,
        /// What the server holds: send from here.
        received: u64,
    },
}

impl From<ApiError> for PhotoError {
    fn from(e: ApiError) -> Self {
        PhotoError::Api(e)
    }
}

impl From<tokio::task::JoinError> for PhotoError {
    fn from(e: tokio::task::JoinError) -> Self {
        PhotoError::Api(e.into())
    }
}

impl From<std::io::Error> for PhotoError {
    fn from(e: std::io::Error) -> Self {
        PhotoError::Api(ApiError::Internal(format!("photo file: {e}")))
    }
}

impl From<crate::storage::StorageError> for PhotoError {
    fn from(e: crate::storage::StorageError) -> Self {
        PhotoError::Api(e.into())
    }
}

impl IntoResponse for PhotoError {
    fn into_response(self) -> Response {
        match self {
            PhotoError::Api(e) => e.into_response(),
            PhotoError::Gap { offset, received } => (
                StatusCode::CONFLICT,
                Json(serde_json::json!({
                    "kind": "conflict",
                    "message": format!(
                        "this chunk starts at byte {offset} but the server holds {received} bytes of the photo; send from byte {received}"
                    ),
                    "received": received,
                })),
            )
                .into_response(),
        }
    }
}

/// Query of `PUT /v1/photos/{hash}`.
#[derive(Debug, Deserialize)]
pub struct PutQuery {
    /// Where this chunk starts in the photo.
    pub offset: u64,
    /// The photo's whole size.
    pub total: u64,
}

fn hash_of(p: Result<UrlPath<String>, PathRejection>) -> Result<String, ApiError> {
    let UrlPath(hash) = p.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if !is_photo_hash(&hash) {
        return Err(ApiError::BadRequest(
            "a photo is named by its SHA-256: 64 lowercase hex digits".into(),
        ));
    }
    Ok(hash)
}

/// `GET /v1/photos/{hash}/status`.
pub async fn status(
    State(state): State<AppState>,
    session: DeviceSession,
    p: Result<UrlPath<String>, PathRejection>,
) -> Result<Json<PhotoStatus>, PhotoError> {
    let hash = hash_of(p)?;
    let storage = state.storage.clone();
    let now = state.now();
    tokio::task::spawn_blocking(move || {
        let files = PhotoFiles::new(storage.photo_dir());
        let _one_at_a_time = files.lock(&hash);
        let held = files.status(&hash)?;
        if held.complete {
            ensure_recorded(storage.as_ref(), &session, &hash, held.received, now)?;
        }
        Ok(Json(held))
    })
    .await?
}

/// `PUT /v1/photos/{hash}?offset=N&total=T`.
pub async fn put(
    State(state): State<AppState>,
    session: DeviceSession,
    p: Result<UrlPath<String>, PathRejection>,
    q: Result<Query<PutQuery>, QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<PhotoStatus>, PhotoError> {
    let hash = hash_of(p)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let chunk = b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    check_chunk(&q, chunk.len())?;
    let storage = state.storage.clone();
    let now = state.now();
    tokio::task::spawn_blocking(move || {
        let files = PhotoFiles::new(storage.photo_dir());
        let _one_at_a_time = files.lock(&hash);
        match files.append(&hash, q.offset, q.total, &chunk)? {
            Appended::Held(held) => {
                if held.complete {
                    ensure_recorded(storage.as_ref(), &session, &hash, held.received, now)?;
                }
                Ok(Json(held))
            }
            Appended::Completed(held) => {
                storage.record_photo(&PhotoRecord {
                    hash: hash.clone(),
                    bytes: held.received,
                    device_id: session.device_id,
                    person_id: session.person.id,
                    uploaded_at: now,
                })?;
                tracing::info!(photo = %hash, bytes = held.received, device = %session.device_id, "photo received");
                Ok(Json(held))
            }
            Appended::Gap { received } => Err(PhotoError::Gap {
                offset: q.offset,
                received,
            }),
            Appended::Mismatch { actual } => Err(ApiError::Unprocessable(format!(
                "the photo's bytes have SHA-256 {actual}, not {hash}: nothing was kept; upload it again from byte 0"
            ))
            .into()),
        }
    })
    .await?
}

/// Refuses a chunk that cannot belong to a photo the server accepts.
fn check_chunk(q: &PutQuery, len: usize) -> Result<(), ApiError> {
    if q.total == 0 || q.total > MAX_PHOTO_BYTES {
        return Err(ApiError::BadRequest(format!(
            "total is {}; a photo has 1 to {MAX_PHOTO_BYTES} bytes",
            q.total
        )));
    }
    if len == 0 {
        return Err(ApiError::BadRequest("the chunk is empty".into()));
    }
    if len > MAX_PHOTO_CHUNK {
        return Err(ApiError::TooLarge);
    }
    if q.offset.saturating_add(len as u64) > q.total {
        return Err(ApiError::BadRequest(format!(
            "a chunk of {len} bytes at offset {} goes past the photo's {} bytes",
            q.offset, q.total
        )));
    }
    Ok(())
}

/// A complete file without its record (the server stopped between the two): record it now,
/// for the device asking, which is the one that uploaded it unless two devices hold the
/// same photo.
fn ensure_recorded(
    storage: &dyn Storage,
    session: &DeviceSession,
    hash: &str,
    bytes: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), PhotoError> {
    if storage.photo(hash)?.is_none() {
        storage.record_photo(&PhotoRecord {
            hash: hash.to_string(),
            bytes,
            device_id: session.device_id,
            person_id: session.person.id,
            uploaded_at: now,
        })?;
    }
    Ok(())
}

/// What appending a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Nothing more to do: the server holds this much (a chunk appended, a repeated chunk, or
    /// a photo already complete).
    Held(PhotoStatus),
    /// This chunk completed the photo and its hash matched: the complete file is in place.
    Completed(PhotoStatus),
    /// The chunk starts past what the server holds.
    Gap {
        /// What the server holds.
        received: u64,
    },
    /// The whole photo was received but its SHA-256 is `actual`: the partial file is gone.
    Mismatch {
        /// The SHA-256 of what was received.
        actual: String,
    },
}

/// Requests for the same hash run one at a time (striped by the hash's first byte).
static STRIPES: [Mutex<()>; 64] = [const { Mutex::new(()) }; 64];

/// The photo files under one folder; pure of HTTP so tests can call it.
#[derive(Debug, Clone)]
pub struct PhotoFiles {
    dir: PathBuf,
}

impl PhotoFiles {
    /// The photo files under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        PhotoFiles { dir }
    }

    fn lock(&self, hash: &str) -> std::sync::MutexGuard<'static, ()> {
        let i = usize::from(hash.as_bytes().first().copied().unwrap_or(0)) % STRIPES.len();
        STRIPES[i]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where the complete photo is (or will be).
    pub fn complete_path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Where the upload in progress is.
    pub fn partial_path(&self, hash: &str) -> PathBuf {
        self.dir.join("partial").join(hash)
    }

    /// How much of a photo is held.
    pub fn status(&self, hash: &str) -> std::io::Result<PhotoStatus> {
        if let Some(len) = file_len(&self.complete_path(hash))? {
            return Ok(PhotoStatus {
                received: len,
                complete: true,
            });
        }
        Ok(PhotoStatus {
            received: file_len(&self.partial_path(hash))?.unwrap_or(0),
            complete: false,
        })
    }

    /// Appends a chunk at `offset` of a photo of `total` bytes (already checked to fit), and
    /// completes the photo when it is whole.
    pub fn append(
        &self,
        hash: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended> {
        let held = self.status(hash)?;
        if held.complete {
            return Ok(Appended::Held(held));
        }
        let partial = self.partial_path(hash);
        let mut received = held.received;
        if received > total {
            // Left by an upload that declared another size: a photo has one size, so those
            // bytes are not this photo. Start again.
            fs::remove_file(&partial)?;
            received = 0;
        }
        if offset > received {
            return Ok(Appended::Gap { received });
        }
        let end = offset + chunk.len() as u64;
        if end <= received {
            // Already received: a retry after a lost answer.
            return Ok(Appended::Held(PhotoStatus {
                received,
                complete: false,
            }));
        }
        let new = &chunk[(received - offset) as usize..];
        let folder = self.dir.join("partial");
        if received == 0 {
            create_dir_durably(&folder)?;
        }
        {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&partial)?;
            f.write_all(new)?;
            f.sync_data()?;
        }
        if received == 0 {
            File::open(&folder)?.sync_all()?;
        }
        if end < total {
            return Ok(Appended::Held(PhotoStatus {
                received: end,
                complete: false,
            }));
        }
        let actual = sha256_of(&partial)?;
        if actual != hash {
            fs::remove_file(&partial)?;
            return Ok(Appended::Mismatch { actual });
        }
        File::open(&partial)?.sync_all()?;
        fs::rename(&partial, self.complete_path(hash))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Appended::Completed(PhotoStatus {
            received: total,
            complete: true,
        }))
    }
}

fn file_len(path: &Path) -> std::io::Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    // The photo folder and the data folder gain entries: make them durable.
    let mut d = dir.parent();
    for _ in 0..2 {
        let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) else {
            break;
        };
        File::open(p)?.sync_all()?;
        d = p.parent();
    }
    Ok(())
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    #[test]
    fn chunks_append_in_order_and_the_whole_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = PhotoFiles::new(dir.path().join("photos"));
        let photo: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let h = hash(&photo);
        let held = |received, complete| PhotoStatus { received, complete };
        let cases: &[(&str, u64, std::ops::Range<usize>, Appended)] = &[
            ("first chunk", 0, 0..400, Appended::Held(held(400, false))),
            (
                "the same chunk again",
                0,
                0..400,
                Appended::Held(held(400, false)),
            ),
            ("a gap", 600, 600..800, Appended::Gap { received: 400 }),
            (
                "overlapping: only the new part is kept",
                200,
                200..700,
                Appended::Held(held(700, false)),
            ),
            (
                "the last chunk",
                700,
                700..1000,
                Appended::Completed(held(1000, true)),
            ),
            (
                "after completion: nothing changes",
                0,
                0..10,
                Appended::Held(held(1000, true)),
            ),
        ];
        for (name, offset, range, want) in cases {
            let got = files
                .append(&h, *offset, 1000, &photo[range.clone()])
                .expect(name);
            assert_eq!(&got, want, "{name}");
        }
        assert_eq!(
            fs::read(files.complete_path(&h)).expect("complete"),
            photo,
            "the complete file is the photo"
        );
        assert!(
            !files.partial_path(&h).exists(),
            "the partial file was moved into place"
        );
    }

    #[test]
    fn a_photo_whose_bytes_do_not_match_is_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = PhotoFiles::new(dir.path().join("photos"));
        let h = hash(b"the real photo");
        let got = files.append(&h, 0, 5, b"other").expect("append");
        assert_eq!(
            got,
            Appended::Mismatch {
                actual: hash(b"other")
            }
        );
        assert_eq!(
            files.status(&h).expect("status"),
            PhotoStatus::default(),
            "nothing kept: the next upload starts at 0"
        );
    }

    #[test]
    fn chunks_that_cannot_fit_are_refused() {
        let q = |offset, total| PutQuery { offset, total };
        assert!(check_chunk(&q(0, 0), 1).is_err(), "empty photo");
        assert!(
            check_chunk(&q(0, MAX_PHOTO_BYTES + 1), 1).is_err(),
            "too big"
        );
        assert!(check_chunk(&q(0, 10), 0).is_err(), "empty chunk");
        assert!(check_chunk(&q(8, 10), 3).is_err(), "past the end");
        assert!(
            matches!(
                check_chunk(&q(0, MAX_PHOTO_BYTES), MAX_PHOTO_CHUNK + 1),
                Err(ApiError::TooLarge)
            ),
            "chunk over 1 MiB"
        );
        assert!(check_chunk(&q(7, 10), 3).is_ok(), "the last three bytes");
    }
}

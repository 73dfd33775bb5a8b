//! Photos: resumable uploads from devices, each tied to the records it was uploaded for, and
//! kept only when their SHA-256 is their name and their bytes are an image the app makes.
//!
//! Terms:
//! - **hash**: a photo's SHA-256 as 64 lowercase hex digits, the reference documents carry.
//! - **record**: the shift or incident an upload is for (`?record=<id>`). The device pushes
//!   the record before its photos; the upload is refused unless the record is on the server
//!   (404) and the uploader may write it (403); contact notes carry no photos (422).
//! - **partial upload**: the bytes one device has sent so far of a photo (in the embedded
//!   backend the file `<data>/photos/partial/<device>/<hash>`). Its length is **received**:
//!   the offset the next chunk must start at. Each device has its own, so nobody can spoil
//!   another's upload.
//! - **complete photo**: a photo whose bytes were checked against its hash (the file
//!   `<data>/photos/<hash>`). Both are reached only through the storage's [`PhotoStore`]
//!   ([`Storage::photo_bytes`]), never by path.
//! - **upload row**: (hash, record, device, person, bytes sent), written when the photo is
//!   complete; **confirmed** once the record is seen to refer to the photo.
//!
//! The exchange (device sessions only; a revoked device gets 403 `revoked` like everywhere):
//! - `GET /v1/photos/{hash}/status?record=R` → [`PhotoStatus`] `{received, complete}`, about
//!   this device's upload only: `complete` only if this device uploaded the photo (for R or
//!   another record it then also ties to R); otherwise what its partial file holds. Whether
//!   anyone else uploaded the photo is never revealed.
//! - `PUT /v1/photos/{hash}?record=R&offset=N&total=T`, body = at most [`MAX_PHOTO_CHUNK`] raw
//!   bytes, `T` ≤ [`MAX_PHOTO_BYTES`]. The first chunk must start with the bytes of a JPEG,
//!   PNG or WebP image (415 otherwise). The chunk is appended if `N` is what the device's
//!   partial file holds; a chunk already received (a retry after a lost answer) is answered
//!   without writing anything; a chunk that starts past what is held is refused with 409 and a
//!   body that says how much is held (`{kind: "conflict", message, received}`), so the device
//!   resumes from there. When `received` reaches `T` the server checks the SHA-256: a match
//!   moves the file to its place and records the upload (answer `complete: true`); a mismatch
//!   deletes the partial file and answers 422 `invalid`.
//! - **Quota**: a device may hold partial files and complete uploads of at most
//!   [`PhotoPolicy::daily_quota`] bytes within 24 hours (429 `quota` past it: the photo waits
//!   on the device and goes on a later sync).
//!
//! Serving (the console): a photo is shown to a person who may read a record that refers to
//! it *and* that it was uploaded for ([`served_for`]). Photos received before uploads named
//! their record are tied to [`LEGACY_PHOTO_RECORD`] and keep the old rule (any readable record
//! that refers to them).
//!
//! The sweep ([`sweep`], at start-up and hourly): an upload whose record still does not refer
//! to its photo after [`PhotoPolicy::grace`] is forgotten, a complete photo no upload ties to
//! any more is deleted, and so is a partial file untouched for the grace period.
//!
//! Every appended chunk is fsynced before it is acknowledged, so `received` survives a power
//! cut; the complete file is fsynced, renamed into place and its folder fsynced before the
//! answer says complete ([`PhotoFiles`]). Requests for the same hash are serialised by
//! [`PhotoStore::lock`] (a device retrying while its first request still runs), in this
//! process and in any other sharing the store: the embedded backend takes a file lock.

use automerge::Automerge;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rounds_domain::document::{self, Header};
use rounds_domain::model::{DocKind, ImageType, is_photo_hash};
use rounds_protocol::{MAX_PHOTO_BYTES, MAX_PHOTO_CHUNK, PhotoStatus};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::access;
use crate::auth::DeviceSession;
use crate::error::ApiError;
use crate::extract::{Body, Path as UrlPath, Query};
pub use crate::storage::{Appended, PhotoFiles, PhotoStore};
use crate::storage::{LEGACY_PHOTO_RECORD, PhotoRecord, PhotoUpload, Storage};

/// The photo numbers of a server: how much a device may send a day, and how long an upload
/// no record refers to (or a partial file nobody continues) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoPolicy {
    /// Bytes of partial files and completed uploads one device may hold within 24 hours.
    pub daily_quota: u64,
    /// How long an upload waits for its record to refer to it, and a partial file for its
    /// next chunk, before the sweep removes it.
    pub grace: chrono::Duration,
}

impl Default for PhotoPolicy {
    /// 2 GiB a day (over a hundred full-size photos: a guard's shift takes a few dozen), and a
    /// grace period of 24 hours.
    fn default() -> Self {
        PhotoPolicy {
            daily_quota: 2 * 1024 * 1024 * 1024,
            grace: chrono::Duration::hours(24),
        }
    }
}

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

/// Query of `GET /v1/photos/{hash}/status`.
#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// The record the photo is for.
    pub record: Uuid,
}

/// Query of `PUT /v1/photos/{hash}`.
#[derive(Debug, Deserialize)]
pub struct PutQuery {
    /// The record the photo is for.
    pub record: Uuid,
    /// Where this chunk starts in the photo.
    pub offset: u64,
    /// The photo's whole size.
    pub total: u64,
}

fn hash_of(UrlPath(hash): UrlPath<String>) -> Result<String, ApiError> {
    if !is_photo_hash(&hash) {
        return Err(ApiError::BadRequest(
            "a photo is named by its SHA-256: 64 lowercase hex digits".into(),
        ));
    }
    Ok(hash)
}

/// The photo hashes a shift's checks or an incident refer to (a contact note carries none).
pub fn photo_refs(h: &Header, am: &Automerge) -> Result<Vec<String>, rounds_domain::Error> {
    Ok(match h.kind {
        DocKind::Shift => document::read_shift(am)?
            .checks
            .into_iter()
            .flat_map(|c| c.check.photos)
            .collect(),
        DocKind::Incident => document::read_incident(am)?.photos,
        DocKind::ContactNote => Vec::new(),
    })
}

/// Whether record `record` (stored) refers to photo `hash`.
fn refers(storage: &dyn Storage, record: Uuid, hash: &str) -> Result<bool, ApiError> {
    let Some(doc) = storage.document(record)? else {
        return Ok(false);
    };
    let am = doc.to_automerge().map_err(ApiError::Internal)?;
    Ok(photo_refs(&doc.header, &am)?.iter().any(|h| h == hash))
}

/// Whether a photo may be shown with record `record`, whose header the viewer may read and
/// which refers to it: it was uploaded for that record, or before uploads named one.
pub fn served_for(storage: &dyn Storage, hash: &str, record: Uuid) -> Result<bool, ApiError> {
    Ok(storage
        .photo_uploads(hash)?
        .iter()
        .any(|u| u.record_id == record || u.record_id == LEGACY_PHOTO_RECORD))
}

/// What the photo store has of photo `hash` for record `record` ([`shown_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// The photo's bytes.
    Photo(Vec<u8>),
    /// The record does not refer to it, or it was uploaded for another record.
    NotForThisRecord,
    /// The record refers to it, but the whole photo has not reached the server yet.
    NotYetUploaded,
}

/// Photo `hash` as shown with record `record` (whose header the caller has checked the viewer
/// may read): the stored record must refer to it and it must have been uploaded for that
/// record (or before uploads named one).
pub fn shown_with(storage: &dyn Storage, record: Uuid, hash: &str) -> Result<Shown, ApiError> {
    if !is_photo_hash(hash)
        || !refers(storage, record, hash)?
        || !served_for(storage, hash, record)?
    {
        return Ok(Shown::NotForThisRecord);
    }
    let files = storage.photo_bytes();
    let _one_at_a_time = files
        .lock(hash)
        .map_err(|e| ApiError::Internal(format!("locking photo {hash}: {e}")))?;
    match files.read(hash) {
        Ok(Some(bytes)) => Ok(Shown::Photo(bytes)),
        Ok(None) => Ok(Shown::NotYetUploaded),
        Err(e) => Err(ApiError::Internal(format!("photo {hash}: {e}"))),
    }
}

/// The upload's record, if the session may attach photos to it.
fn authorize(storage: &dyn Storage, session: &DeviceSession, record: Uuid) -> Result<(), ApiError> {
    let (h, _) = storage.header(record)?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "record {record} is not on the server: a photo is uploaded after the record it belongs to is pushed"
        ))
    })?;
    if h.kind == DocKind::ContactNote {
        return Err(ApiError::Unprocessable(
            "contact notes carry no photos".into(),
        ));
    }
    if !access::may_write(&session.viewer(), &h) {
        return Err(ApiError::Forbidden(
            "you may not add photos to this record".into(),
        ));
    }
    Ok(())
}

/// Whether this device already uploaded the complete photo (for any record); if so, it is
/// tied to `record` too.
fn reuse_own_upload(
    storage: &dyn Storage,
    session: &DeviceSession,
    hash: &str,
    record: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let uploads = storage.photo_uploads(hash)?;
    let Some(own) = uploads.iter().find(|u| u.device_id == session.device_id) else {
        return Ok(false);
    };
    if !uploads.iter().any(|u| u.record_id == record) {
        tie(storage, session, hash, record, own.bytes, 0, now)?;
    }
    Ok(true)
}

/// Records a complete photo of `bytes` bytes and its upload for `record` by this session,
/// `sent` of those bytes sent this time (0 when an earlier upload is reused), confirmed if the
/// record already refers to it.
fn tie(
    storage: &dyn Storage,
    session: &DeviceSession,
    hash: &str,
    record: Uuid,
    bytes: u64,
    sent: u64,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let photo = PhotoRecord {
        hash: hash.to_string(),
        bytes,
        device_id: session.device_id,
        person_id: session.person.id,
        uploaded_at: now,
    };
    let upload = PhotoUpload {
        hash: hash.to_string(),
        record_id: record,
        device_id: session.device_id,
        person_id: session.person.id,
        bytes: sent,
        uploaded_at: now,
        confirmed: refers(storage, record, hash)?,
    };
    Ok(storage.record_photo_upload(&photo, &upload)?)
}

/// `GET /v1/photos/{hash}/status?record=R`.
pub async fn status(
    State(state): State<AppState>,
    session: DeviceSession,
    p: UrlPath<String>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<PhotoStatus>, PhotoError> {
    let hash = hash_of(p)?;
    let storage = state.storage.clone();
    let now = state.now();
    tokio::task::spawn_blocking(move || {
        authorize(storage.as_ref(), &session, q.record)?;
        let files = storage.photo_bytes();
        let _one_at_a_time = files.lock(&hash)?;
        let complete = files.complete_len(&hash)?.is_some();
        if complete && reuse_own_upload(storage.as_ref(), &session, &hash, q.record, now)? {
            return Ok(Json(PhotoStatus {
                received: files.complete_len(&hash)?.unwrap_or(0),
                complete: true,
            }));
        }
        Ok(Json(PhotoStatus {
            received: files.received(session.device_id, &hash)?,
            complete: false,
        }))
    })
    .await?
}

/// `PUT /v1/photos/{hash}?record=R&offset=N&total=T`.
pub async fn put(
    State(state): State<AppState>,
    session: DeviceSession,
    p: UrlPath<String>,
    Query(q): Query<PutQuery>,
    Body(chunk): Body,
) -> Result<Json<PhotoStatus>, PhotoError> {
    let hash = hash_of(p)?;
    check_chunk(&q, &chunk)?;
    let storage = state.storage.clone();
    let now = state.now();
    let policy = state.photo_policy();
    tokio::task::spawn_blocking(move || {
        let storage = storage.as_ref();
        authorize(storage, &session, q.record)?;
        let files = storage.photo_bytes();
        let _one_at_a_time = files.lock(&hash)?;
        if files.complete_len(&hash)?.is_some()
            && reuse_own_upload(storage, &session, &hash, q.record, now)?
        {
            return Ok(Json(PhotoStatus {
                received: q.total,
                complete: true,
            }));
        }
        let held = files.received(session.device_id, &hash)?;
        let new_bytes = (q.offset + chunk.len() as u64).saturating_sub(held);
        if new_bytes > 0 {
            let used = storage.photo_bytes_sent(session.device_id, now - chrono::Duration::hours(24))?
                + files.partial_bytes(session.device_id)?;
            if used + new_bytes > policy.daily_quota {
                return Err(ApiError::Quota(format!(
                    "this device has sent {} MiB of photos in the last 24 hours, its share is {} MiB; the photo waits on the device and goes on a later sync",
                    used / (1024 * 1024),
                    policy.daily_quota / (1024 * 1024)
                ))
                .into());
            }
        }
        match files.append(session.device_id, &hash, q.offset, q.total, &chunk)? {
            Appended::Held(held) => Ok(Json(held)),
            Appended::Completed(held) => {
                tie(storage, &session, &hash, q.record, held.received, held.received, now)?;
                tracing::info!(photo = %hash, record = %q.record, bytes = held.received, device = %session.device_id, "photo received");
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

/// Refuses a chunk that cannot belong to a photo the server accepts: sizes out of range, and
/// a first chunk that does not start like an image the app makes.
fn check_chunk(q: &PutQuery, chunk: &[u8]) -> Result<(), ApiError> {
    let len = chunk.len();
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
    if q.offset == 0 && ImageType::of(chunk).is_none() {
        return Err(ApiError::UnsupportedType(format!(
            "a photo must be a JPEG, PNG or WebP image, and the first chunk must hold its first {} bytes",
            ImageType::SNIFF_BYTES
        )));
    }
    Ok(())
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Uploads whose record never came to refer to their photo.
    pub uploads: usize,
    /// Complete photos no upload ties to a record any more (files deleted).
    pub photos: usize,
    /// Partial files untouched for the grace period.
    pub partials: usize,
}

/// Removes what no record needs, older than the grace period (see the module doc). Safe to
/// run at any time and in several processes: each step only removes what is past the grace
/// period, and a photo's file is deleted only after its row is.
pub fn sweep(
    storage: &dyn Storage,
    now: DateTime<Utc>,
    policy: PhotoPolicy,
) -> Result<Swept, ApiError> {
    let before = now - policy.grace;
    let mut swept = Swept::default();
    for u in storage.unconfirmed_photo_uploads(before)? {
        let keep = refers(storage, u.record_id, &u.hash)?;
        storage.settle_photo_upload(&u.hash, u.record_id, keep)?;
        if !keep {
            swept.uploads += 1;
        }
    }
    let files = storage.photo_bytes();
    for hash in storage.forget_untied_photos(before)? {
        let _one_at_a_time = files
            .lock(&hash)
            .map_err(|e| ApiError::Internal(format!("locking photo {hash}: {e}")))?;
        // An upload that completed since the row was forgotten (it holds this lock while it
        // moves the file into place and records it) keeps the file.
        if !storage.photo_uploads(&hash)?.is_empty() {
            continue;
        }
        match files.remove(&hash) {
            Ok(true) => swept.photos += 1,
            Ok(false) => {}
            Err(e) => return Err(ApiError::Internal(format!("removing photo {hash}: {e}"))),
        }
    }
    swept.partials = files
        .remove_partials_before(before)
        .map_err(|e| ApiError::Internal(format!("removing stale partial photos: {e}")))?;
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_that_cannot_fit_are_refused() {
        let q = |offset, total| PutQuery {
            record: Uuid::nil(),
            offset,
            total,
        };
        let jpeg = |len: usize| {
            let mut b = vec![0u8; len];
            b[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
            b
        };
        assert!(check_chunk(&q(0, 0), &jpeg(4)).is_err(), "empty photo");
        assert!(
            check_chunk(&q(0, MAX_PHOTO_BYTES + 1), &jpeg(4)).is_err(),
            "too big"
        );
        assert!(check_chunk(&q(0, 10), &[]).is_err(), "empty chunk");
        assert!(check_chunk(&q(8, 10), &[0; 3]).is_err(), "past the end");
        assert!(
            matches!(
                check_chunk(&q(0, MAX_PHOTO_BYTES), &jpeg(MAX_PHOTO_CHUNK + 1)),
                Err(ApiError::TooLarge)
            ),
            "chunk over 1 MiB"
        );
        assert!(
            check_chunk(&q(7, 10), &[0; 3]).is_ok(),
            "the last three bytes"
        );
        assert!(
            check_chunk(&q(0, 10), &jpeg(10)).is_ok(),
            "a JPEG's first chunk"
        );
    }

    #[test]
    fn a_first_chunk_that_is_not_an_image_the_app_makes_is_refused() {
        let q = PutQuery {
            record: Uuid::nil(),
            offset: 0,
            total: 100,
        };
        for (name, bytes) in [
            ("html", &b"<html><script>alert(1)</script>"[..]),
            ("svg", b"<svg onload=alert(1)>"),
            ("gif", b"GIF89a......"),
            ("riff but not webp", b"RIFF\0\0\0\0WAVEfmt "),
            ("two bytes of a jpeg", &[0xFF, 0xD8]),
        ] {
            assert!(
                matches!(check_chunk(&q, bytes), Err(ApiError::UnsupportedType(_))),
                "{name}"
            );
        }
        for (name, bytes) in [
            ("jpeg", &[0xFF, 0xD8, 0xFF, 0xE0][..]),
            ("png", b"\x89PNG\r\n\x1a\n...."),
            ("webp", b"RIFF\0\0\0\0WEBPVP8 "),
        ] {
            assert!(check_chunk(&q, bytes).is_ok(), "{name}");
        }
    }
}

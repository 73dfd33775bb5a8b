//! Photos on the console: the thumbnails of a record's photos, and `GET
//! /console/records/{id}/photos/{hash}`, which serves a photo of a shift or incident the viewer
//! may read through the photo store ([`crate::photos::shown_with`]): only a photo that record
//! refers to and that was uploaded for it.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rounds_domain::model::DocKind;
use uuid::Uuid;

use super::params::{Path, RecordId};
use super::{ConsoleError, ConsoleResult, ConsoleUser, blocking};
use crate::AppState;
use crate::access;
use crate::photos::{self, Shown};

/// Thumbnails linking to the full photos of record `id`. A reference that is not a photo hash
/// (data stored before the server checked references, or by a device that did not) is shown as
/// "invalid photo reference" and links nowhere; it is never sliced, so no string can make the
/// page fail.
pub fn thumbnails(id: Uuid, hashes: &[String]) -> String {
    let mut b = String::new();
    for hsh in hashes {
        if !rounds_domain::model::is_photo_hash(hsh) {
            b.push_str(r#"<span class="thumb invalid">invalid photo reference</span>"#);
            continue;
        }
        // A hash is 64 ASCII hex digits: its first 8 bytes are 8 characters.
        let _ = write!(
            b,
            r#"<a href="/console/records/{id}/photos/{hsh}" class="thumb"><img src="/console/records/{id}/photos/{hsh}" alt="photo {}" loading="lazy"></a>"#,
            &hsh[..8]
        );
    }
    b
}

/// `GET /console/records/{id}/photos/{hash}`: a photo of a shift or incident the viewer may
/// read, and only a photo that record refers to and that was uploaded for it (404 otherwise,
/// or while it is not uploaded; see `crate::photos`).
pub async fn photo(
    State(state): State<AppState>,
    user: ConsoleUser,
    RecordId(id): RecordId,
    Path((_, hash)): Path<(String, String)>,
) -> ConsoleResult<Response> {
    if !rounds_domain::model::is_photo_hash(&hash) {
        return Err(ConsoleError::NotFound("no such photo".into()));
    }
    let storage = state.storage.clone();
    let bytes = blocking(move || {
        let not_found = || ConsoleError::NotFound("no such photo, or not one of yours".into());
        let (h, readers) = storage.header(id)?.ok_or_else(not_found)?;
        if h.kind == DocKind::ContactNote || !access::may_read(&user.viewer(), &h, &readers) {
            return Err(not_found());
        }
        match photos::shown_with(storage.as_ref(), id, &hash)? {
            Shown::Photo(bytes) => Ok(bytes),
            Shown::NotForThisRecord => Err(not_found()),
            Shown::NotYetUploaded => Err(ConsoleError::NotFound(
                "this photo has not reached the server yet".into(),
            )),
        }
    })
    .await?;
    let mut r = bytes.clone().into_response();
    let h = r.headers_mut();
    match rounds_domain::model::ImageType::of(&bytes) {
        Some(t) => {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(t.mime()));
        }
        None => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
        }
    }
    super::secure(h);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_of_references_that_are_not_hashes_never_panic() {
        let id = Uuid::from_u128(1);
        for bad in [
            "aéééé",
            "",
            "é",
            "../../etc/passwd",
            "<script>",
            &"A".repeat(64),
        ] {
            let t = thumbnails(id, &[bad.to_string()]);
            assert!(t.contains("invalid photo reference"), "{bad:?}: {t}");
            assert!(
                !t.contains("<script>") && !t.contains("href"),
                "{bad:?}: {t}"
            );
        }
        let good = "ab".repeat(32);
        let t = thumbnails(id, std::slice::from_ref(&good));
        assert!(
            t.contains(&format!("/photos/{good}")) && t.contains("photo abababab"),
            "{t}"
        );
    }
}

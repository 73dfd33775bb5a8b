//! Reading and writing the SQLite store's columns, shared by the store ([`super::sqlite`]) and
//! the console's queries ([`super::console`]): times as integer milliseconds, ids as text, codes
//! through their vocabularies, and a document header from its seven columns.

use chrono::{DateTime, TimeZone, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{Classification, DocKind};
use uuid::Uuid;

/// The header's columns of `documents d`, in [`header_row`]'s order.
pub(super) const HEADER_COLS: &str =
    "d.id, d.kind, d.school_id, d.author_id, d.device_id, d.created_at, d.classification";

/// An instant as stored.
pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored instant.
pub(super) fn time(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

/// A stored value that does not read as its type.
pub(super) fn conv(e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

/// A stored id.
pub(super) fn id(s: &str) -> rusqlite::Result<Uuid> {
    s.parse().map_err(conv)
}

/// A stored code, read through its vocabulary.
pub(super) fn parse_code<T>(
    r: std::result::Result<T, rounds_domain::Error>,
) -> rusqlite::Result<T> {
    r.map_err(conv)
}

/// The header in the row's columns from `at` on ([`HEADER_COLS`]).
pub(super) fn header_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Header> {
    Ok(Header {
        id: id(&r.get::<_, String>(at)?)?,
        kind: parse_code(DocKind::parse(&r.get::<_, String>(at + 1)?, "kind"))?,
        school_id: id(&r.get::<_, String>(at + 2)?)?,
        author_id: id(&r.get::<_, String>(at + 3)?)?,
        device_id: id(&r.get::<_, String>(at + 4)?)?,
        created_at: time(r.get(at + 5)?),
        classification: parse_code(Classification::parse(
            &r.get::<_, String>(at + 6)?,
            "classification",
        ))?,
    })
}

/// An audit entry from its stored columns, in `audit_log`'s order (`seq, at, kind, person_id,
/// device_id, body, prev, hash`), the same on both backends.
#[allow(clippy::too_many_arguments)]
pub(super) fn audit_entry(
    seq: i64,
    at: i64,
    kind: &str,
    person: Option<&str>,
    device: Option<&str>,
    body: String,
    prev: Vec<u8>,
    hash: Vec<u8>,
) -> super::Result<crate::audit::Entry> {
    use super::StorageError;
    let bad = |what: String| StorageError::backend(format!("audit entry {seq}: {what}"));
    let uuid = |v: Option<&str>| -> super::Result<Option<Uuid>> {
        v.map(|s| s.parse().map_err(|e| bad(format!("id {s:?}: {e}"))))
            .transpose()
    };
    let bytes32 = |v: Vec<u8>, what: &str| -> super::Result<[u8; 32]> {
        v.try_into()
            .map_err(|_| bad(format!("its {what} is not 32 bytes")))
    };
    Ok(crate::audit::Entry {
        seq: seq as u64,
        at: time(at),
        kind: crate::audit::AuditKind::parse(kind).ok_or_else(|| bad(format!("kind {kind:?}")))?,
        person: uuid(person)?,
        device: uuid(device)?,
        body,
        prev: bytes32(prev, "prev")?,
        hash: bytes32(hash, "hash")?,
    })
}

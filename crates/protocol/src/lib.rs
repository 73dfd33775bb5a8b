//! The sync wire format between field devices and the district server.
//!
//! Every sync body is `MAGIC` (4 bytes, `RNDS`), the protocol version (u16, little endian),
//! then one message encoded with postcard (compact, varint-based serde). A body with another
//! magic, another version, trailing bytes, or a message that does not decode is refused by
//! [`decode`] with a [`DecodeError`] that says which.
//!
//! One sync is a short exchange:
//! 1. `POST /v1/sync/push` with a [`PushRequest`]: pages of changes the server has not
//!    acknowledged, grouped by document with the document's header. The [`PushResponse`]
//!    lists the hashes the server has durably committed (including ones it already had) and the
//!    documents it refused, with why.
//! 2. `GET /v1/sync/pull?after=<cursor>&ref=<reference version>`: the changes after the
//!    device's cursor on the server's change feed that the device's person may see, as a
//!    [`PullResponse`], bounded in size, with the next cursor. With nothing new the server
//!    answers `204 No Content`, so "anything new?" costs one tiny request.
//! 3. `POST /v1/sync/fetch` with a [`FetchRequest`]: whole documents (or what the device
//!    lacks of them, by heads) when a pulled change depends on changes the device never saw
//!    (a note newly shared with this person, a device joining late). An answer carries at
//!    most [`PAGE_BYTES`] of changes and accounts for every document asked for: included
//!    whole, included in part ([`FetchResponse::partial`]: a causally closed prefix of what
//!    the device lacks, so the device stores it and asks again from its new heads), left out
//!    because the answer is full ([`FetchResponse::deferred`]: ask again), or not available
//!    to this person ([`FetchResponse::unavailable`]). A document larger than one answer
//!    therefore arrives over several, each part stored as it comes.
//!
//! Every request may be lost, repeated or cut off: pushes are idempotent (a change is keyed by
//! its hash), pulls are keyed by the cursor the device persisted, and nothing is marked synced
//! on the device before the server's response says it is committed.
//!
//! Photos travel apart from the documents, as raw bytes addressed by their SHA-256 (the hex
//! string the documents reference), each for a named record it belongs to:
//! `GET /v1/photos/{hash}/status?record=R` answers a [`PhotoStatus`] (JSON) about this device's
//! upload, and `PUT /v1/photos/{hash}?record=R&offset=N&total=T` appends one chunk of at most
//! [`MAX_PHOTO_CHUNK`] bytes at `offset`, which must be what the server already holds of it.
//! The server keeps the photo only when its SHA-256 is the hash. See `docs/sync.md`.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

/// The first four bytes of every sync body.
pub const MAGIC: [u8; 4] = *b"RNDS";

/// The protocol version this build speaks. Version 2 added [`FetchResponse::partial`],
/// [`FetchResponse::deferred`] and [`FetchResponse::unavailable`]; version 3 added
/// [`PullResponse::refetch`] and [`FetchResponse::saved`] (compacted documents, snapshot
/// pulls); version 4 added [`PushRequest::signatures`] (signed changes). Postcard has no optional trailing fields, so an older peer is refused with
/// [`DecodeError::WrongVersion`] rather than misread.
pub const VERSION: u16 = 4;

/// Largest sync body either side sends or accepts (8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Largest page of changes a device asks for or pushes in one request (2 MiB): small enough for
/// a weak connection, big enough that a normal day is one or two requests.
pub const PAGE_BYTES: u32 = 2 * 1024 * 1024;

/// Largest photo a device keeps or uploads, and the server accepts (15 MiB).
pub const MAX_PHOTO_BYTES: u64 = 15 * 1024 * 1024;

/// Largest chunk of a photo in one upload request (1 MiB).
pub const MAX_PHOTO_CHUNK: usize = 1024 * 1024;

/// The chunk size devices upload in (256 KiB): on a weak connection a cut-off loses little.
pub const PHOTO_CHUNK: usize = 256 * 1024;

/// Server → device (JSON): how much of a photo the server holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoStatus {
    /// Bytes received so far (the whole size once complete): the next chunk starts here.
    pub received: u64,
    /// Whether the server holds the whole photo and checked its hash.
    pub complete: bool,
}

/// Most events one `POST /v1/device-events` carries (a device with more sends them in turns).
pub const MAX_DEVICE_EVENTS: usize = 200;

/// What happened on a device's lock screen and around it, for the district's audit trail
/// (`POST /v1/device-events`, after a sync's push). Recorded on the device when it happened,
/// offline too, and sent until the server has stored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceEventKind {
    /// A person unlocked the store.
    Unlocked,
    /// A wrong PIN or passphrase was entered for a person.
    UnlockFailed,
    /// Failed attempts for a person reached the point where each further one must wait.
    LockedOut,
    /// The app locked itself after being left idle.
    IdleLocked,
    /// A person locked the app.
    Locked,
    /// The device is about to erase itself, as the district asked (sent before it erases).
    Wiped,
}

impl DeviceEventKind {
    /// Every kind.
    pub const ALL: [DeviceEventKind; 6] = [
        DeviceEventKind::Unlocked,
        DeviceEventKind::UnlockFailed,
        DeviceEventKind::LockedOut,
        DeviceEventKind::IdleLocked,
        DeviceEventKind::Locked,
        DeviceEventKind::Wiped,
    ];

    /// The code the device stores and the audit trail writes.
    pub fn code(self) -> &'static str {
        match self {
            DeviceEventKind::Unlocked => "unlocked",
            DeviceEventKind::UnlockFailed => "unlock_failed",
            DeviceEventKind::LockedOut => "locked_out",
            DeviceEventKind::IdleLocked => "idle_locked",
            DeviceEventKind::Locked => "locked",
            DeviceEventKind::Wiped => "wiped",
        }
    }

    /// The kind a stored code names.
    pub fn parse(code: &str) -> Option<DeviceEventKind> {
        DeviceEventKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One device event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    /// Made on the device when the event was recorded: a retried send stores it once.
    pub id: Uuid,
    /// What happened.
    pub kind: DeviceEventKind,
    /// To whom (the person whose slot was tried or unlocked; none for an idle lock with
    /// nobody signed in).
    pub person: Option<Uuid>,
    /// When, by the device's clock (milliseconds since 1970).
    pub at_ms: i64,
    /// For [`DeviceEventKind::UnlockFailed`] and [`DeviceEventKind::LockedOut`]: the person's
    /// failed attempts in a row so far.
    pub failures: u32,
}

/// Device → server: events the server may lack (at most [`MAX_DEVICE_EVENTS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEventsRequest {
    /// The events, oldest first.
    pub events: Vec<DeviceEvent>,
}

/// Server → device: the events it holds now (stored by this request or an earlier one), and
/// those it will never store, with why; the device forgets exactly these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEventsResponse {
    /// Their ids.
    pub stored: Vec<Uuid>,
    /// Events refused (an unknown person, a time out of range), and why.
    pub refused: Vec<(Uuid, String)>,
}

/// Server → device (JSON, `GET /v1/notes/{id}/disclosures`, for the note's author only): one
/// time the note reached someone other than its author (the disclosure log, 34 CFR 99.32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteDisclosure {
    /// When (the server's clock, milliseconds since 1970).
    pub at_ms: i64,
    /// Who received it.
    pub to: Uuid,
    /// Their name.
    pub to_name: String,
    /// How: `delivered` (to their phone), `console` (shown on the console) or `exported`.
    pub how: String,
}

/// An automerge change hash.
pub type Hash = [u8; 32];

/// A record's immutable header, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHeader {
    /// Document id.
    pub id: Uuid,
    /// `shift`, `incident` or `contact_note`.
    pub kind: String,
    /// School.
    pub school: Uuid,
    /// Author (person id).
    pub author: Uuid,
    /// Device it was created on.
    pub device: Uuid,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Handling class code.
    pub classification: String,
}

/// Changes of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document's header.
    pub header: WireHeader,
    /// Automerge change bytes, dependencies first.
    pub changes: Vec<serde_bytes::ByteBuf>,
}

/// Device → server: changes the server may lack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// Documents with their changes.
    pub docs: Vec<DocChanges>,
    /// Signatures over pushed changes: for each document and each person whose changes it
    /// brings, at least the signature over that person's last change in the push, which
    /// covers their changes before it (see `rounds_domain::signing`).
    pub signatures: Vec<ChangeSignature>,
}

/// A person's signature over a change they made to a document, with the key that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSignature {
    /// The document.
    pub doc: Uuid,
    /// The change's hash.
    pub change: Hash,
    /// Who made and signed it.
    pub person: Uuid,
    /// Their Ed25519 public key on the pushing device (32 bytes).
    pub key: serde_bytes::ByteBuf,
    /// The Ed25519 signature (64 bytes) over `rounds_domain::signing::change_message`.
    pub signature: serde_bytes::ByteBuf,
}

/// Why the server refused a document in a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectKind {
    /// The person may not write this document.
    Forbidden,
    /// The changes would alter the document's header.
    HeaderChanged,
    /// The changes are not valid (not automerge, or the body does not read back).
    Invalid,
    /// The changes depend on changes the server does not have; push those first.
    MissingDependencies,
    /// The person may change this record, but not this field, or not to this value (a guard
    /// approving an incident, a reader re-sharing a note).
    ForbiddenField,
    /// The change does not fit the record's state when it was made (approving a draft,
    /// editing a submitted report, recording on an ended shift).
    WrongState,
    /// A `by`, author or actor in a change names someone other than the session's person and
    /// device.
    Impersonation,
    /// A change is not covered by a signature of the person who made it.
    Unsigned,
    /// A signature does not verify.
    BadSignature,
    /// A signature was made with a key that is not registered for that person on the pushing
    /// device, or whose registration was revoked.
    UnknownKey,
}

/// A document the server refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The document.
    pub doc: Uuid,
    /// Why, as a kind the client branches on.
    pub kind: RejectKind,
    /// Why, in words.
    pub message: String,
}

/// Server → device: what was committed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Hashes now durably stored on the server (new or already there).
    pub committed: Vec<Hash>,
    /// Documents refused.
    pub rejected: Vec<Rejection>,
}

/// Server → device: changes after the cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Documents with the changes the device may lack.
    pub docs: Vec<DocChanges>,
    /// Documents to fetch by heads ([`FetchRequest`]) before saving the cursor: ones whose
    /// changes in this page were compacted on the server (the feed no longer holds them one
    /// by one), and, for a device that starts empty (a pull asked with `whole=true`, or from
    /// cursor 0), every document with a long history in the page (32 changes or more), so it
    /// receives saved documents rather than change-by-change histories.
    pub refetch: Vec<Uuid>,
    /// The cursor to ask from next time.
    pub cursor: u64,
    /// Whether more is waiting (ask again at once).
    pub more: bool,
    /// The device's reference data (JSON), when it changed since the version the device has.
    pub reference: Option<serde_bytes::ByteBuf>,
    /// The version of that reference data.
    pub reference_version: u64,
}

/// Device → server: documents wanted in full, or from the given heads on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Documents and the heads the device already has (empty: everything).
    pub docs: Vec<(Uuid, Vec<Hash>)>,
}

/// Server → device: the documents asked for (those the person may see). Every document of
/// the request is in exactly one of: `docs` and not `partial` (complete up to the server's
/// heads), `docs` and `partial`, `saved` (whole), `deferred`, `unavailable`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchResponse {
    /// Documents with their changes, dependencies first.
    pub docs: Vec<DocChanges>,
    /// Documents in `docs` whose changes did not all fit: what is there is causally closed
    /// (every dependency is included or was in the heads asked from), so the device stores it
    /// and asks again from its new heads for the rest.
    pub partial: Vec<Uuid>,
    /// Documents the person may see that were left out because the answer is full: ask again.
    pub deferred: Vec<Uuid>,
    /// Documents unknown to the server or not visible to this person (the two look the same).
    pub unavailable: Vec<Uuid>,
    /// Documents asked for with no heads (the device holds none of them), whole, as
    /// automerge saved documents: loading one is far cheaper than applying its changes one
    /// by one. Their bytes count toward the answer's [`PAGE_BYTES`].
    pub saved: Vec<SavedDoc>,
}

/// A whole document as an automerge saved document (`Automerge::save`: every change,
/// columnar and compressed), followed by changes made after it was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDoc {
    /// The header.
    pub header: WireHeader,
    /// The saved document.
    pub bytes: serde_bytes::ByteBuf,
    /// Changes after it, dependencies first.
    pub changes: Vec<serde_bytes::ByteBuf>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the envelope.
    #[error("the body is too short to be a Rounds sync message")]
    Truncated,
    /// Not a Rounds sync body.
    #[error("the body is not a Rounds sync message")]
    BadMagic,
    /// Another protocol version.
    #[error("protocol version {found} is not supported (this side speaks {VERSION})")]
    WrongVersion {
        /// The version found.
        found: u16,
    },
    /// Larger than [`MAX_BODY_BYTES`].
    #[error("the body is {0} bytes; at most {MAX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    /// The message itself does not decode.
    #[error("the message is malformed: {0}")]
    Malformed(String),
}

/// Encodes a message with the envelope.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    // Encoding into a Vec only fails for serde features these messages do not use.
    #[allow(clippy::expect_used)]
    postcard::to_extend(msg, out).expect("postcard encodes every protocol message")
}

/// Decodes a body: envelope, version, message, and nothing after it.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, DecodeError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge(body.len()));
    }
    if body.len() < 6 {
        return Err(DecodeError::Truncated);
    }
    if body[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let found = u16::from_le_bytes([body[4], body[5]]);
    if found != VERSION {
        return Err(DecodeError::WrongVersion { found });
    }
    let (msg, rest) = postcard::take_from_bytes::<T>(&body[6..])
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!(
            "{} bytes after the message",
            rest.len()
        )));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> WireHeader {
        WireHeader {
            id: Uuid::from_u128(1),
            kind: "incident".into(),
            school: Uuid::from_u128(2),
            author: Uuid::from_u128(3),
            device: Uuid::from_u128(4),
            created_at_ms: 1_764_489_600_000,
            classification: "confidential".into(),
        }
    }

    #[test]
    fn messages_round_trip() {
        let push = PushRequest {
            docs: vec![DocChanges {
                header: header(),
                changes: vec![serde_bytes::ByteBuf::from(vec![1, 2, 3])],
            }],
            signatures: vec![ChangeSignature {
                doc: Uuid::from_u128(1),
                change: [9; 32],
                person: Uuid::from_u128(3),
                key: serde_bytes::ByteBuf::from(vec![5; 32]),
                signature: serde_bytes::ByteBuf::from(vec![6; 64]),
            }],
        };
        assert_eq!(decode::<PushRequest>(&encode(&push)), Ok(push));
    }

    #[test]
    fn an_empty_pull_response_is_tiny() {
        let body = encode(&PullResponse {
            cursor: 123_456,
            ..Default::default()
        });
        assert!(body.len() < 16, "{} bytes", body.len());
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let good = encode(&PushRequest::default());
        assert_eq!(
            decode::<PushRequest>(&good[..3]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode::<PushRequest>(b"HTTP/1.1 200"),
            Err(DecodeError::BadMagic)
        );
        let mut next = good.clone();
        next[4] = (VERSION + 1) as u8;
        assert_eq!(
            decode::<PushRequest>(&next),
            Err(DecodeError::WrongVersion { found: VERSION + 1 })
        );
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            decode::<PushRequest>(&trailing),
            Err(DecodeError::Malformed(_))
        ));
        // A length prefix promising far more than the body holds does not allocate it.
        let mut huge = good[..6].to_vec();
        huge.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        assert!(matches!(
            decode::<PushRequest>(&huge),
            Err(DecodeError::Malformed(_))
        ));
    }
}

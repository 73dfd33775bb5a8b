//! The audit trail: an append-only, hash-chained log of who signed in (or failed to), which
//! devices were enrolled and revoked, every push (which documents and changes, from which
//! device and person), and every pull or fetch that delivered an incident or a contact note
//! (who received which documents), and every console page that showed an incident or a
//! contact note (who saw which).
//!
//! Terms:
//! - **Push.** A push's changes of a document are named by their two frontiers ([`Pushed`]),
//!   a few hashes however many changes it brought.
//! - **Entry.** Its `body` is the JSON text of everything it says (position, time, kind,
//!   person, device, detail), kept byte for byte as it was hashed; the columns beside it (for
//!   searching) must say the same, or [`verify`] names the entry.
//! - **Chain.** Each entry's `hash` is SHA-256 over a fixed label, the `hash` of the entry
//!   before it (`prev`; 32 zero bytes for the first) and its body. Changing a byte of any
//!   entry, removing one or reordering two breaks the chain at that entry, and [`verify`] names
//!   the first one broken.
//! - **Append.** [`crate::storage::AuditStore::append_audit`] links new entries to the last one
//!   inside one transaction, holding the log's head for it (the one writer on SQLite, a locked
//!   row on PostgreSQL), so several server processes extend one chain. A push's entry is
//!   written in the push's own transaction ([`crate::storage::SyncStore::commit_all_audited`]):
//!   a committed change always has its entry, and an entry always its changes.
//!
//! Also recorded: the console's views of records, exports, admin changes to the directory, and
//! every search of the trail itself. Each entry's documents (`detail.docs`) are indexed
//! beside it ([`NewEntry::docs`]), so a record's entries are found without reading the trail.
//! Devices' own events (unlocks, wrong PINs, lockouts, locks, wipes) arrive at their next sync
//! ([`crate::device_events`]), and the disclosures of contact notes are read back from the
//! trail ([`Disclosure`]). Nothing in the server deletes or rewrites an entry; what is not
//! recorded yet is listed in `docs/audit.md`.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A right password: a session began (`detail.door`: `app` or `console`).
    SignIn,
    /// A wrong password, an unknown or inactive name (`detail.username` as typed).
    SignInFailed,
    /// A device enrolled with a one-time code.
    Enrolled,
    /// An enrollment code refused.
    EnrollFailed,
    /// An admin revoked a device.
    DeviceRevoked,
    /// A push committed changes (`detail.docs`: each document and its change hashes).
    Push,
    /// A pull or fetch delivered incidents or contact notes (`detail.docs`).
    Delivered,
    /// The console showed incidents or contact notes (`detail.page`, `detail.docs`).
    ConsoleView,
    /// A verifiable export bundle was made (`detail.docs`, `detail.manifest_sha256`,
    /// `detail.via`: `console` or `cli`; see [`crate::evidence`]).
    Exported,
    /// An admin changed the district's directory (`detail.what`: `school`, `post`,
    /// `checkpoint`, `person` or `enrollment_code`; `detail.id`; `detail.change`: `added`,
    /// `edited` or `issued`; `detail.fields`: the fields set, never a password).
    AdminChange,
    /// The trail itself was searched or exported on the console (`detail.query`: the search,
    /// `detail.format`: `page` or `jsonl`, `detail.entries`: how many were shown).
    AuditViewed,
    /// Something a device recorded on its lock screen or around it, received at its next sync
    /// (`detail.event`: `unlocked`, `unlock_failed`, `locked_out`, `idle_locked`, `locked`;
    /// `detail.at_device`: when, by the device's clock; `detail.failures`; `detail.id`: the
    /// device's id for it; `wiped`: the device erases itself next).
    DeviceEvent,
}

impl AuditKind {
    /// Every kind, in a fixed order.
    pub const ALL: [AuditKind; 12] = [
        AuditKind::SignIn,
        AuditKind::SignInFailed,
        AuditKind::Enrolled,
        AuditKind::EnrollFailed,
        AuditKind::DeviceRevoked,
        AuditKind::Push,
        AuditKind::Delivered,
        AuditKind::ConsoleView,
        AuditKind::Exported,
        AuditKind::AdminChange,
        AuditKind::AuditViewed,
        AuditKind::DeviceEvent,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            AuditKind::SignIn => "sign_in",
            AuditKind::SignInFailed => "sign_in_failed",
            AuditKind::Enrolled => "enrolled",
            AuditKind::EnrollFailed => "enroll_failed",
            AuditKind::DeviceRevoked => "device_revoked",
            AuditKind::Push => "push",
            AuditKind::Delivered => "delivered",
            AuditKind::ConsoleView => "console_view",
            AuditKind::Exported => "exported",
            AuditKind::AdminChange => "admin_change",
            AuditKind::AuditViewed => "audit_viewed",
            AuditKind::DeviceEvent => "device_event",
        }
    }

    /// The kind a stored code names.
    pub fn parse(code: &str) -> Option<AuditKind> {
        AuditKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// An entry to append: what happened, when, by whom (the chain's position is given when it is
/// appended).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// When it happened (the server's clock).
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: AuditKind,
    /// The person who acted, when known.
    pub person: Option<Uuid>,
    /// The device it happened on, when known.
    pub device: Option<Uuid>,
    /// The rest, by kind (see [`AuditKind`]).
    pub detail: serde_json::Value,
}

impl NewEntry {
    /// A sign-in through `door` (`app` or `console`) that began a session for `person`.
    pub fn sign_in(
        at: DateTime<Utc>,
        door: &str,
        username: &str,
        person: Uuid,
        device: Option<Uuid>,
        from: &str,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::SignIn,
            person: Some(person),
            device,
            detail: serde_json::json!({ "door": door, "username": username, "from": from }),
        }
    }

    /// A sign-in through `door` that was refused, and why (`person`: whose name it was, when
    /// the name is known).
    pub fn sign_in_failed(
        at: DateTime<Utc>,
        door: &str,
        username: &str,
        person: Option<Uuid>,
        from: &str,
        why: &str,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::SignInFailed,
            person,
            device: None,
            detail: serde_json::json!({
                "door": door, "username": username, "from": from, "why": why,
            }),
        }
    }

    /// A device enrolled (`device` set) or an enrollment code refused (`None`).
    pub fn enrollment(
        at: DateTime<Utc>,
        device: Option<(Uuid, &str)>,
        person: Option<Uuid>,
        from: &str,
    ) -> NewEntry {
        match device {
            Some((id, name)) => NewEntry {
                at,
                kind: AuditKind::Enrolled,
                person,
                device: Some(id),
                detail: serde_json::json!({ "name": name, "from": from }),
            },
            None => NewEntry {
                at,
                kind: AuditKind::EnrollFailed,
                person: None,
                device: None,
                detail: serde_json::json!({ "from": from }),
            },
        }
    }

    /// `by` revoked `device`.
    pub fn device_revoked(at: DateTime<Utc>, by: Option<Uuid>, device: Uuid) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::DeviceRevoked,
            person: by,
            device: Some(device),
            detail: serde_json::json!({}),
        }
    }

    /// `by` revoked `device` and asked it to erase itself (`after_push`: once it has pushed
    /// what waits on it; else at once).
    pub fn wipe_requested(
        at: DateTime<Utc>,
        by: Option<Uuid>,
        device: Uuid,
        after_push: bool,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::DeviceRevoked,
            person: by,
            device: Some(device),
            detail: serde_json::json!({ "wipe": if after_push { "after_push" } else { "now" } }),
        }
    }

    /// A push that committed `docs`: each document's pushed changes as a [`Pushed`].
    pub fn push(
        at: DateTime<Utc>,
        person: Uuid,
        device: Option<Uuid>,
        docs: &[(Uuid, Pushed)],
    ) -> NewEntry {
        let hex = |hs: &[[u8; 32]]| hs.iter().map(hex::encode).collect::<Vec<_>>();
        let docs: Vec<serde_json::Value> = docs
            .iter()
            .map(|(id, p)| {
                serde_json::json!({
                    "id": id,
                    "changes": p.changes,
                    "heads": hex(&p.heads),
                    "since": hex(&p.since),
                })
            })
            .collect();
        NewEntry {
            at,
            kind: AuditKind::Push,
            person: Some(person),
            device,
            detail: serde_json::json!({ "docs": docs }),
        }
    }

    /// Incidents and contact notes delivered to `person` by a pull or fetch (`via`).
    pub fn delivered(
        at: DateTime<Utc>,
        person: Uuid,
        device: Option<Uuid>,
        via: &str,
        docs: &[Uuid],
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::Delivered,
            person: Some(person),
            device,
            detail: serde_json::json!({ "via": via, "docs": docs }),
        }
    }

    /// `person` (`None`: the server's command line) exported `doc` as the bundle whose
    /// manifest has SHA-256 `manifest`, `via` the console or the command line.
    pub fn exported(
        at: DateTime<Utc>,
        person: Option<Uuid>,
        doc: Uuid,
        manifest: &[u8; 32],
        via: &str,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::Exported,
            person,
            device: None,
            detail: serde_json::json!({
                "docs": [doc],
                "manifest_sha256": hex::encode(manifest),
                "via": via,
            }),
        }
    }

    /// Admin `by` (`None`: the server's command line) changed the directory: `change`
    /// (`added`, `edited`, `issued`) the `what` (`school`, `post`, …) `id`, setting `fields`.
    pub fn admin_change(
        at: DateTime<Utc>,
        by: Option<Uuid>,
        what: &str,
        change: &str,
        id: Option<Uuid>,
        fields: &[&str],
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::AdminChange,
            person: by,
            device: None,
            detail: serde_json::json!({
                "what": what,
                "change": change,
                "id": id,
                "fields": fields,
            }),
        }
    }

    /// Admin `person` searched the trail with `query` and was shown `entries` of them
    /// (`format`: `page` or `jsonl`).
    pub fn audit_viewed(
        at: DateTime<Utc>,
        person: Uuid,
        query: &AuditQuery,
        format: &str,
        entries: usize,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::AuditViewed,
            person: Some(person),
            device: None,
            detail: serde_json::json!({
                "query": query,
                "format": format,
                "entries": entries,
            }),
        }
    }

    /// `device` reported `event` (received at `at`).
    pub fn device_event(
        at: DateTime<Utc>,
        device: Uuid,
        event: &rounds_protocol::DeviceEvent,
    ) -> NewEntry {
        let at_device = Utc
            .timestamp_millis_opt(event.at_ms)
            .single()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        NewEntry {
            at,
            kind: AuditKind::DeviceEvent,
            person: event.person,
            device: Some(device),
            detail: serde_json::json!({
                "event": event.kind.code(),
                "at_device": at_device,
                "failures": event.failures,
                "id": event.id,
            }),
        }
    }

    /// The documents this entry is about (`detail.docs`: ids, or for a push objects with an
    /// `id`), which the trail indexes so a record's entries are found without a scan.
    pub fn docs(&self) -> Vec<Uuid> {
        let Some(docs) = self.detail.get("docs").and_then(|d| d.as_array()) else {
            return Vec::new();
        };
        let mut out: Vec<Uuid> = docs
            .iter()
            .filter_map(|d| d.as_str().or_else(|| d.get("id")?.as_str()))
            .filter_map(|d| d.parse().ok())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// `person` (`None`: the server's command line) exported the daily activity report of
    /// `date`, holding the records `docs`, as the bundle whose manifest's SHA-256 is
    /// `manifest` (`via`: `console` or `cli`).
    pub fn exported_day(
        at: DateTime<Utc>,
        person: Option<Uuid>,
        date: chrono::NaiveDate,
        docs: &[Uuid],
        manifest: &[u8; 32],
        via: &str,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::Exported,
            person,
            device: None,
            detail: serde_json::json!({
                "report": "daily",
                "date": date,
                "docs": docs,
                "manifest_sha256": hex::encode(manifest),
                "via": via,
            }),
        }
    }

    /// `person` downloaded the daily activity report of `date`, counting the records `docs`,
    /// from the console as `format` (`csv` or `pdf`).
    pub fn report_downloaded(
        at: DateTime<Utc>,
        person: Uuid,
        date: chrono::NaiveDate,
        docs: &[Uuid],
        format: &str,
    ) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::Exported,
            person: Some(person),
            device: None,
            detail: serde_json::json!({
                "report": "daily",
                "format": format,
                "date": date,
                "docs": docs,
                "via": "console",
            }),
        }
    }

    /// The console showed `person` the documents `docs` on `page`.
    pub fn console_view(at: DateTime<Utc>, person: Uuid, page: &str, docs: &[Uuid]) -> NewEntry {
        NewEntry {
            at,
            kind: AuditKind::ConsoleView,
            person: Some(person),
            device: None,
            detail: serde_json::json!({ "page": page, "docs": docs }),
        }
    }
}

/// The changes one push brought to one document, named by two frontiers of the change graph
/// rather than one hash each (a shift's push is hundreds of changes): they are exactly the
/// changes reachable from `heads` and not from `since`. An automerge change's hash covers its
/// dependencies' hashes, so the two lists pin the set as surely as listing it would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// How many changes.
    pub changes: usize,
    /// The pushed changes no other pushed change depends on.
    pub heads: Vec<[u8; 32]>,
    /// The changes outside the push that pushed changes depend on (the document's heads as the
    /// device had them before; empty for a new document).
    pub since: Vec<[u8; 32]>,
}

impl Pushed {
    /// The frontiers of `changes` (one push's changes of one document).
    pub fn of(changes: &[automerge::Change]) -> Pushed {
        let mine: std::collections::HashSet<[u8; 32]> =
            changes.iter().map(|c| c.hash().0).collect();
        let mut depended: std::collections::HashSet<[u8; 32]> = Default::default();
        let mut since = std::collections::BTreeSet::new();
        for c in changes {
            for d in c.deps() {
                depended.insert(d.0);
                if !mine.contains(&d.0) {
                    since.insert(d.0);
                }
            }
        }
        let mut heads: Vec<[u8; 32]> = mine.into_iter().filter(|h| !depended.contains(h)).collect();
        heads.sort_unstable();
        Pushed {
            changes: changes.len(),
            heads,
            since: since.into_iter().collect(),
        }
    }
}

/// A search of the trail (the console's audit page): every field set must match; newest
/// first, from before position `before` when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only entries of this kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AuditKind>,
    /// Only entries of this person (who acted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Uuid>,
    /// Only entries about this record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<Uuid>,
    /// Only entries at or after this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// Only entries before this position (the next page of a search).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
}

/// One disclosure of a contact note: the entry that delivered, showed or exported it to
/// someone other than its author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    /// The entry.
    pub entry: Entry,
    /// The note.
    pub note: Uuid,
    /// Its author.
    pub author: Uuid,
}

/// The kinds of entry that disclose a record to their person.
pub const DISCLOSING: [AuditKind; 3] = [
    AuditKind::Delivered,
    AuditKind::ConsoleView,
    AuditKind::Exported,
];

/// One entry of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its position, from 1.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: AuditKind,
    /// The person who acted.
    pub person: Option<Uuid>,
    /// The device.
    pub device: Option<Uuid>,
    /// The JSON text hashed (see the module doc).
    pub body: String,
    /// The hash of the entry before it.
    pub prev: [u8; 32],
    /// Its own hash.
    pub hash: [u8; 32],
}

/// The body's fields (what [`Entry::body`] parses to).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Body {
    seq: u64,
    at: DateTime<Utc>,
    kind: AuditKind,
    person: Option<Uuid>,
    device: Option<Uuid>,
    detail: serde_json::Value,
}

/// What [`hash`] hashes before the entry: a later format gets a new label.
const LABEL: &[u8] = b"rounds-audit-1\n";

/// The hash of an entry whose predecessor's hash is `prev` and whose body is `body`.
pub fn hash(prev: &[u8; 32], body: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(LABEL);
    h.update(prev);
    h.update(body.as_bytes());
    h.finalize().into()
}

/// Links `new` after the entry at `seq` whose hash is `prev` (position 0 and zero bytes for an
/// empty log).
pub fn seal(seq: u64, prev: [u8; 32], new: &NewEntry) -> Entry {
    // Milliseconds, as every time the server stores: the body reads back to the same value.
    let at = Utc
        .timestamp_millis_opt(new.at.timestamp_millis())
        .single()
        .unwrap_or_default();
    let body = serde_json::to_string(&Body {
        seq: seq + 1,
        at,
        kind: new.kind,
        person: new.person,
        device: new.device,
        detail: new.detail.clone(),
    })
    .expect("an entry's body is plain JSON");
    Entry {
        seq: seq + 1,
        at,
        kind: new.kind,
        person: new.person,
        device: new.device,
        hash: hash(&prev, &body),
        body,
        prev,
    }
}

/// Links `new` entries one after another after `(seq, prev)`.
pub fn seal_all(mut seq: u64, mut prev: [u8; 32], new: &[NewEntry]) -> Vec<Entry> {
    let mut out = Vec::with_capacity(new.len());
    for n in new {
        let e = seal(seq, prev, n);
        (seq, prev) = (e.seq, e.hash);
        out.push(e);
    }
    out
}

/// Where the chain is broken, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq} is broken: {why}")]
pub struct Broken {
    /// The first entry that does not check (for a missing entry: the one after the gap).
    pub seq: u64,
    /// What is wrong with it.
    pub why: String,
}

/// Checks a chain read in order, page by page: feed it every entry with [`Verifier::check`],
/// then [`Verifier::finish`].
#[derive(Debug, Default)]
pub struct Verifier {
    last: Option<(u64, [u8; 32])>,
    count: u64,
}

impl Verifier {
    /// A verifier for a log that starts at position 1.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Checks the next entry against the one before it and against its own body.
    pub fn check(&mut self, e: &Entry) -> Result<(), Broken> {
        let broken = |why: String| Broken { seq: e.seq, why };
        let (want_seq, want_prev) = match self.last {
            None => (1, [0u8; 32]),
            Some((seq, hash)) => (seq + 1, hash),
        };
        if e.seq != want_seq {
            return Err(broken(format!(
                "expected entry {want_seq} here (an entry is missing or out of order)"
            )));
        }
        if e.prev != want_prev {
            return Err(broken(
                "it does not link to the entry before it (that entry was changed, removed or moved)"
                    .into(),
            ));
        }
        if hash(&e.prev, &e.body) != e.hash {
            return Err(broken(
                "its hash does not match its contents (the entry was changed)".into(),
            ));
        }
        let body: Body = serde_json::from_str(&e.body)
            .map_err(|err| broken(format!("its body is not an entry: {err}")))?;
        if body.seq != e.seq
            || body.at != e.at
            || body.kind != e.kind
            || body.person != e.person
            || body.device != e.device
        {
            return Err(broken(
                "its columns do not say what its hashed body says".into(),
            ));
        }
        self.last = Some((e.seq, e.hash));
        self.count += 1;
        Ok(())
    }

    /// Entries checked, and the hash of the last (the chain's head).
    pub fn finish(self) -> (u64, Option<[u8; 32]>) {
        (self.count, self.last.map(|(_, h)| h))
    }
}

/// Why a stored chain did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// An entry is broken.
    #[error(transparent)]
    Broken(#[from] Broken),
    /// The store could not be read.
    #[error("reading the audit trail: {0}")]
    Storage(#[from] crate::storage::StorageError),
}

/// Entries [`verify_stored`] reads at a time.
const VERIFY_PAGE: usize = 1000;

/// Checks the whole stored chain, a page at a time; returns how many entries it holds and
/// the last one's hash.
pub fn verify_stored(
    st: &dyn crate::storage::AuditStore,
) -> Result<(u64, Option<[u8; 32]>), VerifyError> {
    let mut v = Verifier::new();
    let mut after = 0;
    loop {
        let page = st.audit_entries(after, VERIFY_PAGE)?;
        for e in &page {
            v.check(e)?;
            after = e.seq;
        }
        if page.len() < VERIFY_PAGE {
            return Ok(v.finish());
        }
    }
}

/// Checks a whole chain held in memory.
pub fn verify(entries: &[Entry]) -> Result<u64, Broken> {
    let mut v = Verifier::new();
    for e in entries {
        v.check(e)?;
    }
    Ok(v.finish().0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time") + chrono::Duration::minutes(min)
    }

    fn chain(n: usize) -> Vec<Entry> {
        let new: Vec<NewEntry> = (0..n)
            .map(|i| {
                NewEntry::sign_in(
                    at(i as i64),
                    "app",
                    "gia",
                    Uuid::from_u128(i as u128 + 1),
                    None,
                    "127.0.0.1",
                )
            })
            .collect();
        seal_all(0, [0; 32], &new)
    }

    #[test]
    fn a_sealed_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn one_byte_changed_in_a_body_names_that_entry() {
        let mut c = chain(5);
        c[2].body = c[2].body.replacen("gia", "gib", 1);
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 3);
    }

    #[test]
    fn a_body_rewritten_with_its_hash_recomputed_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].body = c[2].body.replacen("gia", "gib", 1);
        c[2].hash = hash(&c[2].prev, &c[2].body);
        let b = verify(&c).expect_err("the chain is broken");
        assert_eq!(b.seq, 4, "{b}");
        assert!(b.why.contains("does not link"), "{b}");
    }

    #[test]
    fn a_changed_column_names_the_entry() {
        let mut c = chain(3);
        c[1].person = Some(Uuid::from_u128(99));
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 2);
        let mut c = chain(3);
        c[1].kind = AuditKind::SignInFailed;
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 2);
        let mut c = chain(3);
        c[0].hash[0] ^= 1;
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 1);
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut c = chain(5);
        c.remove(2);
        let b = verify(&c).expect_err("the chain is broken");
        assert_eq!(b.seq, 4, "{b}");
        let mut c = chain(5);
        c.remove(0);
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 2);
    }

    #[test]
    fn reordered_entries_are_named() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert_eq!(verify(&c).expect_err("the chain is broken").seq, 3);
    }

    #[test]
    fn renumbered_entries_after_a_removal_still_break() {
        let mut c = chain(5);
        c.remove(2);
        for e in c.iter_mut().skip(2) {
            e.seq -= 1;
        }
        let b = verify(&c).expect_err("the chain is broken");
        assert_eq!(b.seq, 3, "{b}");
    }

    #[test]
    fn a_push_is_named_by_its_frontiers() {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        let mut hashes = Vec::new();
        for i in 0..5i64 {
            doc.put(automerge::ROOT, "n", i).expect("put");
            hashes.push(doc.commit().expect("a change"));
        }
        let all: Vec<automerge::Change> = doc.get_changes(&[]).into_iter().collect();
        // The last three, pushed after the first two were.
        let p = Pushed::of(&all[2..]);
        assert_eq!(p.changes, 3);
        assert_eq!(p.heads, vec![hashes[4].0]);
        assert_eq!(p.since, vec![hashes[1].0]);
        let whole = Pushed::of(&all);
        assert_eq!((whole.changes, whole.since.len()), (5, 0));
    }

    #[test]
    fn kinds_round_trip_through_their_codes() {
        for k in AuditKind::ALL {
            assert_eq!(AuditKind::parse(k.code()), Some(k));
            let json = serde_json::to_string(&k).expect("json");
            assert_eq!(json, format!("\"{}\"", k.code()));
        }
        assert_eq!(AuditKind::parse("nope"), None);
    }
}

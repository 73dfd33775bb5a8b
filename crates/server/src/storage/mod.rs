//! Server storage behind narrow traits, one per concern ([`DirectoryStore`], [`SyncStore`],
//! [`PhotoIndex`] with [`PhotoStore`], [`console::ConsoleStore`]; [`Storage`] is all of them).
//!
//! The traits speak in domain terms (headers, change bytes, projections, people, devices) and
//! carry no database types. Two backends implement them, each with its own migrations:
//! [`SqliteStorage`], the embedded default (`migrations/server/sqlite/`), and [`PgStorage`],
//! PostgreSQL for several server processes (`migrations/server/postgres/`). [`open`] picks one
//! from a [`DatabaseUrl`].
//!
//! Concurrency: every document row has a `version`. A push loads a document with its version,
//! applies and validates the new changes outside any lock, and commits with
//! [`Storage::commit`], which fails with [`CommitOutcome::Stale`] if another commit got there
//! first; the caller then reloads and tries again (optimistic concurrency, which works the same
//! across several server processes on one PostgreSQL database).

mod check_pack;
pub mod console;
#[cfg(test)]
mod contract;
pub mod migrate;
pub mod photo_files;
pub mod photo_store;
pub mod postgres;
mod rows;
mod sqlite;

use chrono::{DateTime, Utc};
use rounds_domain::document::Header;
use rounds_domain::model::{
    CheckResult, Checkpoint, IncidentStatus, IncidentType, Post, ReferenceData, Role, School,
};
use uuid::Uuid;

pub use photo_files::PhotoFiles;
pub use photo_store::{Appended, PhotoLock, PhotoStore};
pub use postgres::{PgPhotos, PgStorage};
pub use sqlite::{BackupSummary, SqliteStorage};

use crate::access::Viewer;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A uniqueness or reference constraint refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed.
    #[error("storage backend: {0}")]
    Backend(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl StorageError {
    /// A failure of the backend described by `what` (a poisoned lock: a thread panicked
    /// holding it), answered as the server's fault, never the caller's.
    pub fn backend(what: impl Into<String>) -> Self {
        StorageError::Backend(what.into().into())
    }
}

/// Storage result.
pub type Result<T> = std::result::Result<T, StorageError>;

/// A person as the server knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Schools.
    pub schools: Vec<Uuid>,
    /// Argon2id hash of their password (see `auth`).
    pub password_hash: String,
    /// Whether they may sign in.
    pub active: bool,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// Id.
    pub id: Uuid,
    /// Name given at enrollment ("Adams post phone 2").
    pub name: String,
    /// Hash of its credential.
    pub secret_hash: String,
    /// When it enrolled.
    pub enrolled_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A person's signing key on one device (see `rounds_domain::signing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Whose.
    pub person_id: Uuid,
    /// On which device.
    pub device_id: Uuid,
    /// When it was recorded (the sign-in that brought it).
    pub registered_at: DateTime<Utc>,
    /// When it stopped being accepted for new changes (its device was revoked).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What recording a signing key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRegistration {
    /// Recorded now.
    New,
    /// Already recorded for this person and device.
    Known,
    /// The key is recorded for another person or device: refused.
    Taken,
}

/// A verified signature over a change, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignature {
    /// The document.
    pub doc_id: Uuid,
    /// The signed change's hash.
    pub change: [u8; 32],
    /// The signer.
    pub person_id: Uuid,
    /// The device that pushed it (where the key is registered).
    pub device_id: Uuid,
    /// The key.
    pub public_key: [u8; 32],
    /// The signature (64 bytes).
    pub signature: Vec<u8>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The person.
    pub person_id: Uuid,
    /// The device (none for console and admin sessions).
    pub device_id: Option<Uuid>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A document's header and its readers (for contact notes: author and people shared with).
pub type HeaderAndReaders = (Header, Vec<Uuid>);

/// A document as stored: header, version, its history (a compacted part and the changes
/// after it), readers.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    /// Header.
    pub header: Header,
    /// Commit version (for optimistic concurrency).
    pub version: i64,
    /// The compacted part of its history, if it was compacted (see [`Compacted`]).
    pub saved: Option<SavedPart>,
    /// The changes after the compacted part (every change, if it was never compacted), in
    /// feed order.
    pub changes: Vec<Vec<u8>>,
    /// Feed position of the last of `changes` (0 when there are none).
    pub changes_through: u64,
    /// For contact notes: author and people shared with.
    pub readers: Vec<Uuid>,
}

/// The compacted part of a document's history: its changes up to a feed position, as one
/// automerge saved document (columnar and compressed; loading it gives back every change,
/// byte for byte, so every change hash and the heads are provable from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPart {
    /// `Automerge::save` of the changes it holds.
    pub bytes: Vec<u8>,
    /// Feed position of the last change it holds.
    pub through_seq: u64,
    /// How many changes it holds.
    pub change_count: u64,
    /// Their bytes and operations as changes (what the history caps of `limits` count).
    pub change_bytes: u64,
    /// Their operations.
    pub change_ops: u64,
}

/// One compaction of one document ([`SyncStore::store_compacted`]): `saved` replaces the
/// saved part the document had (`replaces`: its `through_seq`, or `None`) and its change rows
/// up to `saved.through_seq`, of which there were `folded`.
#[derive(Debug, Clone)]
pub struct Compacted {
    /// The document.
    pub doc: Uuid,
    /// The saved part's `through_seq` it was built from (`None`: it had none).
    pub replaces: Option<u64>,
    /// Change rows folded in (every row up to `saved.through_seq`).
    pub folded: u64,
    /// The new saved part.
    pub saved: SavedPart,
}

/// Which documents have settled, so compaction may fold their history
/// ([`SyncStore::compaction_candidates`]): see `crate::compaction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Ended shifts and approved incidents last changed before this.
    pub closed_before: DateTime<Utc>,
    /// Any document last changed before this.
    pub idle_before: DateTime<Utc>,
}

/// How much the records take in storage ([`SyncStore::storage_size`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageSize {
    /// Bytes the database holds in use (SQLite: pages in use; PostgreSQL: the database's
    /// size), photos not included.
    pub database_bytes: u64,
    /// Documents.
    pub documents: u64,
    /// Documents with a compacted part.
    pub compacted: u64,
    /// Change rows (changes not folded into a compacted part).
    pub change_rows: u64,
    /// Bytes of those rows' changes.
    pub change_row_bytes: u64,
    /// Bytes of the compacted parts.
    pub saved_bytes: u64,
}

impl StoredDoc {
    /// Every change of its history, decoded: the compacted part's (from its saved form) and
    /// the changes after it. They were checked when they were pushed, so a failure here is
    /// damage, not bad input.
    pub fn decoded_changes(&self) -> std::result::Result<Vec<automerge::Change>, String> {
        Ok(self.to_automerge_and_changes()?.1)
    }

    fn tail(&self) -> std::result::Result<Vec<automerge::Change>, String> {
        self.changes
            .iter()
            .map(|b| automerge::Change::from_bytes(b.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("stored change of {}: {e}", self.header.id))
    }

    /// The document in automerge: its saved part loaded, the changes after it applied.
    pub fn to_automerge(&self) -> std::result::Result<automerge::Automerge, String> {
        let mut am = match &self.saved {
            Some(s) => automerge::Automerge::load(&s.bytes)
                .map_err(|e| format!("saved form of {}: {e}", self.header.id))?,
            None => automerge::Automerge::new(),
        };
        am.apply_changes(self.tail()?)
            .map_err(|e| format!("stored changes of {}: {e}", self.header.id))?;
        Ok(am)
    }

    /// The document in automerge and every change of its history, decoded (pages that show a
    /// record's history, fetches from heads).
    pub fn to_automerge_and_changes(
        &self,
    ) -> std::result::Result<(automerge::Automerge, Vec<automerge::Change>), String> {
        if self.saved.is_some() {
            let am = self.to_automerge()?;
            let changes = am.get_changes(&[]);
            return Ok((am, changes));
        }
        let changes = self.tail()?;
        let mut am = automerge::Automerge::new();
        am.apply_changes(changes.iter().cloned())
            .map_err(|e| format!("stored changes of {}: {e}", self.header.id))?;
        Ok((am, changes))
    }

    /// The bytes and operations of its whole history as changes, as the history caps count
    /// them (the compacted part's were counted when it was built).
    pub fn history_size(
        &self,
    ) -> std::result::Result<(u64, u64), rounds_domain::limits::LimitError> {
        let (mut bytes, mut ops) = self
            .saved
            .as_ref()
            .map_or((0, 0), |s| (s.change_bytes, s.change_ops));
        for b in &self.changes {
            bytes += b.len() as u64;
            ops += rounds_domain::limits::change_ops("change", b)?.ops;
        }
        Ok((bytes, ops))
    }
}

/// A patrol check row of the server's projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// Check id.
    pub id: Uuid,
    /// Checkpoint.
    pub checkpoint_id: Uuid,
    /// What the guard found.
    pub result: CheckResult,
    /// Note.
    pub note: String,
    /// Time.
    pub at: DateTime<Utc>,
}

/// What a commit writes into the projections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// A shift and its checks.
    Shift {
        /// Post.
        post_id: Uuid,
        /// Start.
        started_at: DateTime<Utc>,
        /// End.
        ended_at: Option<DateTime<Utc>>,
        /// Checks.
        checks: Vec<CheckRow>,
    },
    /// An incident.
    Incident {
        /// Type.
        incident_type: IncidentType,
        /// Status.
        status: IncidentStatus,
        /// Location.
        location: String,
        /// When it happened.
        occurred_at: DateTime<Utc>,
        /// When it was submitted.
        submitted_at: Option<DateTime<Utc>>,
    },
    /// A contact note: only who may read it.
    Note {
        /// Author and people shared with.
        readers: Vec<Uuid>,
    },
}

/// One commit: new changes of one document and the projection after them.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The document's header.
    pub header: Header,
    /// The version loaded (`None`: the document is new).
    pub expected_version: Option<i64>,
    /// New changes (hash, bytes), dependencies first.
    pub changes: Vec<([u8; 32], Vec<u8>)>,
    /// The projection after them.
    pub projection: Projection,
    /// When (the server's clock): the document's last change, for compaction's choice of
    /// settled documents.
    pub at: DateTime<Utc>,
    /// The verified signatures the push carried for these changes, stored with them.
    pub signatures: Vec<StoredSignature>,
}

/// Whether a commit went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Durably stored.
    Committed,
    /// Someone else committed first; reload and retry.
    Stale,
}

/// A change in the feed, with its document's header.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Feed position.
    pub seq: u64,
    /// The document.
    pub header: Header,
    /// The change; `None` for a document whose changes up to `seq` were compacted: its
    /// change rows are gone from the feed, so the device asks for what it lacks of it by heads.
    pub bytes: Option<Vec<u8>>,
}

/// A page of the feed as one person may see it.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// Visible changes after the cursor, in feed order.
    pub items: Vec<FeedItem>,
    /// Where the next page starts (past invisible changes too).
    pub cursor: u64,
    /// Whether more visible changes wait.
    pub more: bool,
}

/// Adds to a page of change rows the compacted documents found in its range (`saved`, in
/// position order, at most `limit` of them were asked for). When there were `limit`, more may
/// follow: the page then ends at the last of them, and the change rows past it wait for the
/// next page.
fn merge_compacted(page: &mut FeedPage, saved: Vec<FeedItem>, limit: usize) {
    if saved.len() >= limit
        && let Some(end) = saved.last().map(|i| i.seq)
    {
        page.items.retain(|i| i.seq <= end);
        page.cursor = end;
        page.more = true;
    }
    page.items.extend(saved);
    page.items.sort_by_key(|i| i.seq);
}

/// A complete photo: its hash was checked, and who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRecord {
    /// SHA-256 of the photo, 64 lowercase hex digits.
    pub hash: String,
    /// Its size.
    pub bytes: u64,
    /// The device that uploaded it.
    pub device_id: Uuid,
    /// The person signed in on that device.
    pub person_id: Uuid,
    /// When the upload completed.
    pub uploaded_at: DateTime<Utc>,
}

/// One upload of a complete photo for one record (see `crate::photos`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoUpload {
    /// SHA-256 of the photo, 64 lowercase hex digits.
    pub hash: String,
    /// The shift or incident it was uploaded for ([`LEGACY_PHOTO_RECORD`] for photos received
    /// before uploads named their record).
    pub record_id: Uuid,
    /// The device that uploaded it.
    pub device_id: Uuid,
    /// The person signed in on that device.
    pub person_id: Uuid,
    /// Bytes this upload sent (0 when the device's earlier upload of the photo was reused).
    pub bytes: u64,
    /// When the upload completed.
    pub uploaded_at: DateTime<Utc>,
    /// Whether the record was seen to refer to the photo; an unconfirmed upload is removed by
    /// the sweep once the grace period has passed and the record still does not.
    pub confirmed: bool,
}

/// The record id photos received before uploads named their record are tied to.
pub const LEGACY_PHOTO_RECORD: Uuid = Uuid::nil();

/// One counter of the sign-in throttle that an attempt is charged to (see `crate::signin`):
/// `name:<username>`, `addr:<network>` or `enroll:<network>`, and how many attempts it may
/// hold within the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    /// The counter.
    pub key: String,
    /// Attempts it may hold in the window; one more is refused.
    pub limit: u32,
}

/// What the throttle said about a new attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted against every key (as a failure until finished otherwise): check the secret.
    Admitted,
    /// `keys[key]` is full: refuse without checking anything; it has room again after
    /// `retry_after`. Nothing was counted.
    Refused {
        /// Index of the full key.
        key: usize,
        /// When it has room again.
        retry_after: chrono::Duration,
    },
}

/// How an admitted attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome<'a> {
    /// The secret was wrong: it stays counted until it is older than the window.
    Failed,
    /// The secret was right: the attempt is no longer counted, and neither are the earlier
    /// attempts on these keys (a person who signs in clears their name's failures).
    Succeeded {
        /// Keys whose earlier attempts are forgiven.
        forgive: &'a [String],
    },
    /// The secret was never checked (the server was too busy): not counted.
    NotTried,
}

/// The district's directory: reference data (schools, posts, checkpoints), people, devices,
/// enrollment codes, sessions and the sign-in throttle.
pub trait DirectoryStore: Send + Sync {
    /// Bumped on every change to reference data.
    fn reference_version(&self) -> Result<u64>;
    /// The reference data a person's devices need: their schools (all, for admins), those
    /// schools' posts and checkpoints, and the people assigned to them (no credentials).
    fn reference_for(&self, v: &Viewer) -> Result<ReferenceData>;
    /// Adds or replaces a school.
    fn put_school(&self, s: &School) -> Result<()>;
    /// Adds or replaces a post.
    fn put_post(&self, p: &Post) -> Result<()>;
    /// Adds or replaces a checkpoint.
    fn put_checkpoint(&self, c: &Checkpoint) -> Result<()>;
    /// Adds or replaces a person (and their school assignments). When this replaces their
    /// password hash or makes them inactive, every session of theirs (app, API and console)
    /// ends in the same transaction.
    fn put_person(&self, p: &PersonRecord) -> Result<()>;
    /// A person by id.
    fn person(&self, id: Uuid) -> Result<Option<PersonRecord>>;
    /// A person by sign-in name.
    fn person_by_username(&self, username: &str) -> Result<Option<PersonRecord>>;
    /// Every person.
    fn people(&self) -> Result<Vec<PersonRecord>>;
    /// Stores a one-time enrollment code (its hash).
    fn add_enrollment_code(
        &self,
        code_hash: &str,
        created_by: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Uses a code once: if it exists, is unused and unexpired, marks it used and stores the
    /// device, atomically. False otherwise.
    fn redeem_enrollment_code(
        &self,
        code_hash: &str,
        now: DateTime<Utc>,
        device: &DeviceRecord,
    ) -> Result<bool>;
    /// A device.
    fn device(&self, id: Uuid) -> Result<Option<DeviceRecord>>;
    /// Every device.
    fn devices(&self) -> Result<Vec<DeviceRecord>>;
    /// Revokes a device and its signing keys; false if unknown.
    fn revoke_device(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool>;
    /// Revokes a device and asks it to erase itself: `after_push`, once it has pushed what
    /// waits on it (its signing keys stay accepted until it reports the wipe), or at once (its
    /// keys revoked now); false if unknown.
    fn request_wipe(&self, id: Uuid, after_push: bool, now: DateTime<Utc>) -> Result<bool>;
    /// The wipe asked of a device that it has not reported yet: `Some(after_push)`.
    fn pending_wipe(&self, id: Uuid) -> Result<Option<bool>>;
    /// Records that a device reported its wipe: nothing is pending, its keys are revoked.
    fn wipe_done(&self, id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// Records a person's signing key on a device (at sign-in).
    fn register_signing_key(&self, k: &SigningKeyRecord) -> Result<KeyRegistration>;
    /// The signing keys recorded on a device, revoked ones included.
    fn signing_keys(&self, device: Uuid) -> Result<Vec<SigningKeyRecord>>;
    /// Stores a session (its token's hash).
    fn add_session(&self, token_hash: &str, s: &SessionRecord, now: DateTime<Utc>) -> Result<()>;
    /// A session by its token's hash.
    fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>>;
    /// The sign-in throttle's check-and-count, atomic: forgets attempts older than `window`;
    /// if any key already holds its limit of attempts within the window, refuses (counting
    /// nothing); otherwise counts `attempt` against every key. Two calls never both see room
    /// for the last attempt (SQLite: one `IMMEDIATE` transaction; PostgreSQL: one transaction
    /// that locks the keys' rows, or `SERIALIZABLE`).
    fn admit_attempt(
        &self,
        attempt: Uuid,
        keys: &[ThrottleKey],
        now: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<Admission>;
    /// Records how an admitted attempt ended.
    fn finish_attempt(&self, attempt: Uuid, outcome: AttemptOutcome<'_>) -> Result<()>;
}

/// The records and their sync: documents with every change, their projections, the change
/// feed.
pub trait SyncStore: Send + Sync {
    /// A document's header and readers, without its changes.
    fn header(&self, id: Uuid) -> Result<Option<(Header, Vec<Uuid>)>>;
    /// A whole document.
    fn document(&self, id: Uuid) -> Result<Option<StoredDoc>>;
    /// Headers and readers of several documents, in the order asked (`None`: unknown). A
    /// backend over the network answers in one round trip; the default asks one by one.
    fn headers(&self, ids: &[Uuid]) -> Result<Vec<Option<HeaderAndReaders>>> {
        ids.iter().map(|id| self.header(*id)).collect()
    }
    /// Several whole documents, in the order asked (`None`: unknown), each consistent in
    /// itself. A backend over the network answers in one round trip; the default asks one
    /// by one.
    fn documents(&self, ids: &[Uuid]) -> Result<Vec<Option<StoredDoc>>> {
        ids.iter().map(|id| self.document(*id)).collect()
    }
    /// Commits new changes of one document with its projection, durably, in one transaction.
    fn commit(&self, c: &Commit) -> Result<CommitOutcome> {
        Ok(self
            .commit_all(std::slice::from_ref(c))?
            .pop()
            .unwrap_or(CommitOutcome::Stale))
    }
    /// Commits several documents in one durable transaction; each is `Stale` on its own (and
    /// then nothing of it is written) if another commit got to it first.
    fn commit_all(&self, c: &[Commit]) -> Result<Vec<CommitOutcome>> {
        self.commit_all_audited(c, &|_| None)
    }
    /// [`SyncStore::commit_all`], appending the audit entry `audit` makes of the outcomes (if
    /// any) to the audit trail in the same transaction: the push's record exists exactly when
    /// its changes do.
    fn commit_all_audited(
        &self,
        c: &[Commit],
        audit: &dyn Fn(&[CommitOutcome]) -> Option<crate::audit::NewEntry>,
    ) -> Result<Vec<CommitOutcome>>;
    /// Visible changes after `after`, at most about `max_bytes` of them.
    fn feed(&self, v: &Viewer, after: u64, max_bytes: usize) -> Result<FeedPage>;
    /// The last feed position (of a change row or of a compacted part).
    fn max_seq(&self) -> Result<u64>;
    /// How many documents are stored.
    fn document_count(&self) -> Result<u64>;
    /// Documents with change rows to fold that have settled by `rule`, least recently changed
    /// first, at most `limit` (`rule: None`: every document with change rows).
    fn compaction_candidates(&self, rule: Option<&Settled>, limit: usize) -> Result<Vec<Uuid>>;
    /// Stores one compaction in one short transaction: the new saved part replaces the old
    /// one and the change rows up to its `through_seq`. False, writing nothing, if the
    /// document moved on in a way the compaction did not see (another compaction got there
    /// first, or the rows up to `through_seq` are not the `folded` ones). Never touches the
    /// document's version: its content is unchanged, so a push that loaded it before still
    /// commits.
    fn store_compacted(&self, c: &Compacted) -> Result<bool>;
    /// Stores several compactions, each as [`SyncStore::store_compacted`] would (each one
    /// true or false on its own), in as few short transactions as the backend likes: one
    /// each unless it overrides this.
    fn store_compacted_all(&self, cs: &[Compacted]) -> Result<Vec<bool>> {
        cs.iter().map(|c| self.store_compacted(c)).collect()
    }
    /// How much the records take.
    fn storage_size(&self) -> Result<StorageSize>;
    /// The stored signatures over a document's changes, in the order received.
    fn change_signatures(&self, doc: Uuid) -> Result<Vec<StoredSignature>>;
}

/// The audit trail (see [`crate::audit`]): appended to, read in order, never changed.
pub trait AuditStore: Send + Sync {
    /// Links `entries` after the last one and stores them, in one transaction; returns them as
    /// stored.
    fn append_audit(&self, entries: &[crate::audit::NewEntry]) -> Result<Vec<crate::audit::Entry>>;
    /// Entries after position `after`, in order, at most `limit`.
    fn audit_entries(&self, after: u64, limit: usize) -> Result<Vec<crate::audit::Entry>>;
    /// At most `limit` entries that match `query`, newest first (its `doc` read from the
    /// index of entries by document, `audit_docs`).
    fn search_audit(
        &self,
        query: &crate::audit::AuditQuery,
        limit: usize,
    ) -> Result<Vec<crate::audit::Entry>>;
    /// Every entry about document `doc`, oldest first (from `audit_docs`).
    fn audit_about(&self, doc: Uuid) -> Result<Vec<crate::audit::Entry>>;
    /// The disclosure log of contact notes (34 CFR 99.32): at most `limit` entries that
    /// delivered, showed or exported a contact note (only `note`, when given) to someone other
    /// than its author, newest first, each with the note and its author.
    fn note_disclosures(
        &self,
        note: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<crate::audit::Disclosure>>;
    /// Records what device `device` reported: each `(event id, entry)` whose id this device
    /// has not reported before is appended to the trail, in one transaction; returns how many
    /// were new.
    fn record_device_events(
        &self,
        device: Uuid,
        events: &[(Uuid, crate::audit::NewEntry)],
    ) -> Result<usize>;
}

/// Photos: the record of each complete photo and of each upload for a record, and the bytes.
pub trait PhotoIndex: Send + Sync {
    /// The photos' bytes ([`PhotoStore`]): the embedded backend keeps them as files in
    /// `photos/` of the data folder, so a 15 MiB photo never passes through the database.
    fn photo_bytes(&self) -> &dyn PhotoStore;
    /// Records a complete photo (a photo already recorded keeps its first record) and its
    /// upload for a record (an upload already recorded for that record keeps its first row,
    /// but becomes confirmed if this one is), in one transaction.
    fn record_photo_upload(&self, p: &PhotoRecord, u: &PhotoUpload) -> Result<()>;
    /// A complete photo's record.
    fn photo(&self, hash: &str) -> Result<Option<PhotoRecord>>;
    /// The uploads of a photo, for every record it was uploaded for.
    fn photo_uploads(&self, hash: &str) -> Result<Vec<PhotoUpload>>;
    /// Bytes `device` sent in photo uploads completed at or after `since`.
    fn photo_bytes_sent(&self, device: Uuid, since: DateTime<Utc>) -> Result<u64>;
    /// Unconfirmed uploads completed before `before`.
    fn unconfirmed_photo_uploads(&self, before: DateTime<Utc>) -> Result<Vec<PhotoUpload>>;
    /// Marks an upload confirmed (`keep`) or forgets it.
    fn settle_photo_upload(&self, hash: &str, record: Uuid, keep: bool) -> Result<()>;
    /// Forgets every photo completed before `before` that no upload ties to a record, and
    /// returns their hashes (the caller removes the files).
    fn forget_untied_photos(&self, before: DateTime<Utc>) -> Result<Vec<String>>;
}

/// Where the server's state lives, as `--database` names it: `sqlite:<folder>` (the embedded
/// store: `rounds.db` and `photos/` in the folder) or `postgres://user@host:port/db` (one
/// database every server process shares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// The embedded store in a folder.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (the URL as given).
    Postgres(String),
}

impl std::str::FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(dir) = s.strip_prefix("sqlite:") {
            let dir = dir.strip_prefix("//").unwrap_or(dir);
            if dir.is_empty() {
                return Err("sqlite: needs a folder, as in sqlite:rounds-data".into());
            }
            Ok(DatabaseUrl::Sqlite(dir.into()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("{s:?} is not a PostgreSQL URL: {e}"))?;
            Ok(DatabaseUrl::Postgres(s.to_string()))
        } else {
            Err(format!(
                "{s:?}: a database is sqlite:<folder> or postgres://user@host:port/database"
            ))
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(dir) => write!(f, "sqlite:{}", dir.display()),
            // The password, if the URL holds one, is not written to logs.
            DatabaseUrl::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(c) => {
                    let host = c.get_hosts().first().map_or(String::new(), |h| match h {
                        tokio_postgres::config::Host::Tcp(h) => h.clone(),
                        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                    });
                    let port = c.get_ports().first().copied().unwrap_or(5432);
                    write!(
                        f,
                        "postgres://{}@{host}:{port}/{}",
                        c.get_user().unwrap_or(""),
                        c.get_dbname().unwrap_or("")
                    )
                }
                Err(_) => f.write_str("postgres://…"),
            },
        }
    }
}

/// Opens (creating and migrating if needed) the storage `url` names.
pub fn open(url: &DatabaseUrl) -> Result<std::sync::Arc<dyn Storage>> {
    Ok(match url {
        DatabaseUrl::Sqlite(dir) => std::sync::Arc::new(SqliteStorage::open(dir)?),
        DatabaseUrl::Postgres(u) => std::sync::Arc::new(PgStorage::open(u)?),
    })
}

/// What the server stores, one concern per trait ([`DirectoryStore`], [`SyncStore`],
/// [`PhotoIndex`] with its [`PhotoStore`], [`AuditStore`], [`console::ConsoleStore`]); a backend implements
/// each, and one handle built at start and carried in `AppState` reaches all of the server's
/// state. Every type that implements them all is a `Storage`.
pub trait Storage:
    DirectoryStore + SyncStore + PhotoIndex + AuditStore + console::ConsoleStore + Send + Sync + 'static
{
}

impl<T> Storage for T where
    T: DirectoryStore
        + SyncStore
        + PhotoIndex
        + AuditStore
        + console::ConsoleStore
        + Send
        + Sync
        + 'static
{
}

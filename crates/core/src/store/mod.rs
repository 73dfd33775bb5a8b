//! The device's offline store: one SQLCipher-encrypted SQLite file.
//!
//! Terms:
//! - **document**: a record's automerge document (see [`crate::document`]), kept as a
//!   snapshot plus the changes made since, in `documents` and `changes`.
//! - **action**: one thing a person does in the app (start a shift, record a check, file an
//!   incident...). Each action is one SQLite transaction that appends the automerge change,
//!   updates the projections and counts the change as waiting for sync. When the call returns
//!   `Ok`, the transaction has committed with `synchronous = FULL`: it survives a killed
//!   process and a power cut.
//! - **projection**: query tables (`shifts`, `patrol_checks`, `incidents`, `contact_notes`,
//!   `search_index`...) derived from the documents; [`Store::rebuild_projections`] recreates
//!   them from the documents alone.
//!
//! Two connections (`Store::open_pair`: the screens and the background sync) may work on one
//! file at once. Each drops its document cache when the other committed (`data_version`), and
//! the operations that read a document and then rewrite what derives from it (applying pulled
//! changes, compaction) check that under the write lock (`BEGIN IMMEDIATE`), so neither can
//! write back a stale document. [`Store::set_hook`] lets tests run the other connection at a
//! named point in between.
//!
//! Opening: the key slots file beside the database unwraps the database key for the person
//! unlocking (see [`crate::keyslots`]); the database is opened with it, checked, and migrated
//! (numbered SQL files from `migrations/device/`, applied in one transaction, version in
//! `PRAGMA user_version`). A newer schema, a file that is not a database, or a damaged file is
//! refused and never written to.
//!
//! **Why this file is long:** it is the store's lifecycle (create, open, unlock, people and
//! their key slots, integrity, close) and the document cache and compaction every action goes
//! through, with the private helpers they share; the actions, queries, sync and photos are in
//! the submodules.

mod actions;
mod events;
mod photos;
mod projection;
mod queries;
mod reference;
mod sync;
mod visible;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use automerge::{Automerge, Change};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use uuid::Uuid;

pub use actions::NewShift;
pub use photos::WaitingPhoto;
pub use queries::{
    HistoryEntry, IncidentFilter, IncidentRow, IncidentView, NoteRow, NoteView, SearchHit,
    ShiftRow, ShiftView,
};
pub use sync::{
    Applied, PendingChange, PendingDocument, PendingSignature, PreparedSaved, SavedDocument,
    StoreSize, SyncBacklog, WaitingFor,
};

use crate::document::{self, Header};
use crate::entropy::Entropy;
use crate::error::{Error, Result};
use crate::keyslots::{self, DbKey, KdfParams, KeySlots, Lockout, PersonSeal, Secret};
use crate::model::{Classification, DocKind, Role};
use crate::signing::SigningSecret;

/// Migrations, in order. Never edit a shipped one: add the next number.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../../migrations/device/0001_init.sql"),
    include_str!("../../../../migrations/device/0002_photos.sql"),
    include_str!("../../../../migrations/device/0003_shared_phones.sql"),
    include_str!("../../../../migrations/device/0004_photo_records.sql"),
    include_str!("../../../../migrations/device/0005_waiting_by_person.sql"),
    include_str!("../../../../migrations/device/0006_signatures.sql"),
    include_str!("../../../../migrations/device/0007_device_events.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// SQLCipher's page size (its default); the file is always a whole number of pages.
const PAGE_SIZE: u64 = 4096;

/// Documents kept decoded in memory between actions.
const CACHE_DOCS: usize = 64;

/// An unlocked store, bound to the person who unlocked it.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    device_id: Uuid,
    person_id: Uuid,
    cache: HashMap<Uuid, (Header, Automerge)>,
    /// SQLite's `data_version` when the cache was last known to match the database; it
    /// changes when another connection commits.
    seen_version: i64,
    /// Called at named points inside operations (see [`Store::set_hook`]).
    hook: Option<Hook>,
    /// The unlocked person's signing key (see [`Store::signing_key`]) and the seal it is
    /// kept under.
    signer: Option<(SigningSecret, PersonSeal)>,
}

/// Acknowledged change rows a settled document received from the server must hold before
/// [`Store::compact_settled`] folds them into its snapshot (fewer are not worth a save).
pub const SETTLED_ROWS: i64 = 16;

/// A point inside a store operation where a test may run the other connection of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookPoint {
    /// [`Store::compact`] has built the snapshot and not yet taken the write lock.
    CompactSnapshotBuilt,
}

/// What [`Store::set_hook`] installs.
pub type Hook = Box<dyn FnMut(HookPoint) + Send>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .finish_non_exhaustive()
    }
}

/// Who is setting up a new device store.
pub struct Setup<'a> {
    /// The device's id (issued at enrollment).
    pub device_id: Uuid,
    /// The first person who may unlock it.
    pub person_id: Uuid,
    /// Their passphrase or PIN.
    pub secret: &'a Secret,
    /// Argon2id cost for their slot.
    pub kdf: KdfParams,
    /// Their signing key on this device (the one they signed in with).
    pub signing: &'a SigningSecret,
}

impl Store {
    /// Creates a new store at `path` (and its key slots beside it) and unlocks it for the
    /// first person. Refuses if a database already exists there. Attempt records are sealed
    /// with the store's [`keyslots::FileSeal`]; see [`Store::create_with`].
    pub fn create(path: &Path, setup: Setup<'_>, entropy: &mut dyn Entropy) -> Result<Store> {
        let lockout = Lockout::for_store(path, entropy)?;
        Self::create_with(path, setup, &lockout, entropy)
    }

    /// Like [`Store::create`], sealing attempt records with `lockout`'s seal.
    pub fn create_with(
        path: &Path,
        setup: Setup<'_>,
        lockout: &Lockout,
        entropy: &mut dyn Entropy,
    ) -> Result<Store> {
        if path.exists() {
            return Err(Error::Conflict(format!(
                "a store already exists at {}",
                path.display()
            )));
        }
        let key = DbKey::generate(entropy);
        let mut slots = KeySlots::new(setup.device_id);
        let seal = slots.add(
            setup.person_id,
            setup.secret,
            &key,
            setup.kdf,
            lockout,
            entropy,
        )?;
        // The key slots are written before the database: a crash in between leaves no
        // database, and setting up again simply replaces the slots.
        slots.save(&keyslots::path_for(path))?;
        let conn = keyed_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            &key,
        )?;
        let mut store = Self::finish_open(conn, path, setup.device_id, setup.person_id)?;
        store.keep_signing_key(setup.person_id, setup.signing, &seal, entropy)?;
        store.signer = Some((SigningSecret::from_seed(&setup.signing.seed()), seal));
        Ok(store)
    }

    /// Unlocks the store at `path` for `person` once, as a process that has just started
    /// would: with a fresh [`Lockout`], so a wait the file calls for is waited in full. For
    /// tools and tests; the app keeps one [`Lockout`] and calls [`Store::unlock`].
    pub fn open(path: &Path, person: Uuid, secret: &Secret) -> Result<Store> {
        if !path.exists() {
            // The same errors as `unlock`, without making a seal key for a store that is not
            // there.
            KeySlots::load(&keyslots::path_for(path))?;
            return Err(Error::not_found("store", path.display()));
        }
        let mut lockout = Lockout::for_store(path, &mut crate::entropy::OsEntropy)?;
        Self::unlock(path, person, secret, &mut lockout, Instant::now())
    }

    /// Unlocks the store at `path` for `person` with their passphrase or PIN, counting the
    /// attempt in `lockout` (and the slots file); `now` is the monotonic clock.
    ///
    /// Errors: [`Error::Locked`] for a wrong secret (or a person with no slot),
    /// [`Error::LockedOut`] while failed attempts are being delayed, [`Error::Corrupt`] for a
    /// damaged file or one that is not a Rounds database, [`Error::NewerVersion`] for a store
    /// from a newer app. In every error case the database file is left as it was.
    pub fn unlock(
        path: &Path,
        person: Uuid,
        secret: &Secret,
        lockout: &mut Lockout,
        now: Instant,
    ) -> Result<Store> {
        let (slots, key, seal) = Self::unwrap_key(path, person, secret, lockout, now)?;
        let mut store = Self::open_with_key(path, &key, slots.device_id(), person)?;
        store.take_signer(seal)?;
        Ok(store)
    }

    /// Like [`Store::unlock`], but returns two independent connections to the same store from
    /// one unlock: the app's screens use one while background sync uses the other, so a slow
    /// network never holds up a tap. Each connection notices the other's commits (see
    /// `Store::take_doc`) and never works on a stale document.
    pub fn open_pair(
        path: &Path,
        person: Uuid,
        secret: &Secret,
        lockout: &mut Lockout,
        now: Instant,
    ) -> Result<(Store, Store)> {
        let (slots, key, seal) = Self::unwrap_key(path, person, secret, lockout, now)?;
        let mut first = Self::open_with_key(path, &key, slots.device_id(), person)?;
        let mut second = Self::open_with_key(path, &key, slots.device_id(), person)?;
        // Both sign what the person does on them (the sync connection rarely does anything).
        first.take_signer(seal)?;
        second.signer = first
            .signer
            .as_ref()
            .map(|(k, seal)| (SigningSecret::from_seed(&k.seed()), seal.clone()));
        Ok((first, second))
    }

    fn unwrap_key(
        path: &Path,
        person: Uuid,
        secret: &Secret,
        lockout: &mut Lockout,
        now: Instant,
    ) -> Result<(KeySlots, DbKey, PersonSeal)> {
        let slots_path = keyslots::path_for(path);
        let mut slots = KeySlots::load(&slots_path)?;
        if !path.exists() {
            return Err(Error::not_found("store", path.display()));
        }
        let (key, seal) = slots.unlock_sealed(&slots_path, person, secret, lockout, now)?;
        Ok((slots, key, seal))
    }

    /// Opens with an already unwrapped key (after [`Store::open`] checked the person).
    fn open_with_key(path: &Path, key: &DbKey, device_id: Uuid, person: Uuid) -> Result<Store> {
        check_file_shape(path)?;
        let conn = keyed_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            key,
        )?;
        Self::finish_open(conn, path, device_id, person)
    }

    fn finish_open(conn: Connection, path: &Path, device_id: Uuid, person: Uuid) -> Result<Store> {
        // First read: with the right key (guaranteed by the slot's AEAD), a failure here means
        // the file is not a database or is damaged. Nothing has been written yet.
        let version: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .and_then(|_| conn.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .map_err(|e| corrupt(path, e))?;
        if version > SCHEMA_VERSION {
            return Err(Error::NewerVersion {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        configure(&conn).map_err(|e| corrupt(path, e))?;
        check_page_count(&conn, path)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            device_id,
            person_id: person,
            cache: HashMap::new(),
            seen_version: 0,
            hook: None,
            signer: None,
        };
        store.migrate(version)?;
        Ok(store)
    }

    fn migrate(&mut self, from: i64) -> Result<()> {
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            tx.execute_batch(sql)
                .map_err(|e| Error::internal(format!("applying migration {}", i + 1), e))?;
        }
        if from < 3 {
            owners_of_waiting_changes(&tx)?;
        }
        if from < 4 {
            photos_of_waiting_incidents(&tx)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        Ok(())
    }

    /// Adds (or replaces) a key slot for `person`, authorised by the unlocked person's own
    /// `current_secret` (an attempt like any other, counted in `lockout`).
    /// `signing` is the new person's signing key on this device (the one they signed in
    /// with): it is kept sealed under their new slot's [`PersonSeal`].
    #[allow(clippy::too_many_arguments)]
    pub fn add_person(
        &self,
        current_secret: &Secret,
        person: Uuid,
        secret: &Secret,
        kdf: KdfParams,
        lockout: &mut Lockout,
        now: Instant,
        entropy: &mut dyn Entropy,
        signing: &SigningSecret,
    ) -> Result<()> {
        let seal = self.replace_slot(current_secret, person, secret, kdf, lockout, now, entropy)?;
        self.keep_signing_key(person, signing, &seal, entropy)
    }

    /// Writes `person`'s slot (new or replacing theirs), authorised by the unlocked person's
    /// `current_secret`; returns the seal of the new slot.
    #[allow(clippy::too_many_arguments)]
    fn replace_slot(
        &self,
        current_secret: &Secret,
        person: Uuid,
        secret: &Secret,
        kdf: KdfParams,
        lockout: &mut Lockout,
        now: Instant,
        entropy: &mut dyn Entropy,
    ) -> Result<PersonSeal> {
        let slots_path = keyslots::path_for(&self.path);
        let mut slots = KeySlots::load(&slots_path)?;
        // The store never keeps the database key: it is unwrapped again from the unlocked
        // person's own slot, which also proves they are present.
        let key = slots.unlock(&slots_path, self.person_id, current_secret, lockout, now)?;
        let seal = slots.add(person, secret, &key, kdf, lockout, entropy)?;
        slots.save(&slots_path)?;
        Ok(seal)
    }

    /// Replaces the unlocked person's own secret (and their slot's Argon2id parameters),
    /// authorised by the current one.
    ///
    /// Their signing key is sealed again under the new secret's seal. A crash between the
    /// slot's write and that leaves a key the new secret cannot open: the next unlock makes
    /// a new one, which the next sign-in records (the signatures made before are kept).
    pub fn change_secret(
        &mut self,
        current_secret: &Secret,
        new_secret: &Secret,
        kdf: KdfParams,
        lockout: &mut Lockout,
        now: Instant,
        entropy: &mut dyn Entropy,
    ) -> Result<()> {
        let seal = self.replace_slot(
            current_secret,
            self.person_id,
            new_secret,
            kdf,
            lockout,
            now,
            entropy,
        )?;
        if let Some((key, _)) = self.signer.take() {
            self.keep_signing_key(self.person_id, &key, &seal, entropy)?;
            self.signer = Some((key, seal));
        }
        Ok(())
    }

    /// Keeps `person`'s signing key, its seed sealed under `seal` (replacing theirs).
    fn keep_signing_key(
        &self,
        person: Uuid,
        key: &SigningSecret,
        seal: &PersonSeal,
        entropy: &mut dyn Entropy,
    ) -> Result<()> {
        let (nonce, sealed) = seal.seal(
            key.seed().as_ref(),
            &signing_aad(self.device_id, person),
            entropy,
        )?;
        self.conn.execute(
            "INSERT INTO signing_keys (person_id, public_key, nonce, sealed_seed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (person_id) DO UPDATE SET public_key = excluded.public_key,
                nonce = excluded.nonce, sealed_seed = excluded.sealed_seed",
            params![person.to_string(), key.public().as_slice(), nonce, sealed],
        )?;
        Ok(())
    }

    /// Opens the unlocked person's signing key with their `seal`; a person without one (a
    /// store from before signed changes, or a key a crash left sealed under an old secret)
    /// gets a new one, which their next sign-in records with the server.
    fn take_signer(&mut self, seal: PersonSeal) -> Result<()> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT nonce, sealed_seed FROM signing_keys WHERE person_id = ?1",
                params![self.person_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let aad = signing_aad(self.device_id, self.person_id);
        let opened = row
            .and_then(|(nonce, sealed)| seal.open(&nonce, &sealed, &aad))
            .and_then(|seed| {
                <[u8; 32]>::try_from(seed.as_slice())
                    .ok()
                    .map(zeroize::Zeroizing::new)
            });
        let key = match opened {
            Some(seed) => SigningSecret::from_seed(&seed),
            None => {
                let key = SigningSecret::generate(&mut crate::entropy::OsEntropy);
                self.keep_signing_key(self.person_id, &key, &seal, &mut crate::entropy::OsEntropy)?;
                key
            }
        };
        self.sign_unsigned_waiting(&key)?;
        self.signer = Some((key, seal));
        Ok(())
    }

    /// Signs the unlocked person's waiting changes that have no signature: ones recorded
    /// before signed changes (schema 6) or under a key that could not be opened again. They
    /// say they are by this person, on this device, and only this person's PIN got here; left
    /// unsigned, no server would ever accept them. Costs one indexed query when there are
    /// none.
    fn sign_unsigned_waiting(&mut self, key: &SigningSecret) -> Result<()> {
        let tx = self.conn.transaction()?;
        let unsigned: Vec<(String, Vec<u8>)> = {
            let mut stmt = tx.prepare(
                "SELECT c.doc_id, c.hash FROM changes c
                 WHERE c.acked = 0 AND c.by_person = ?1 AND NOT EXISTS (
                     SELECT 1 FROM change_signatures s WHERE s.doc_id = c.doc_id AND s.hash = c.hash)",
            )?;
            let rows = stmt.query_map(params![self.person_id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (doc, hash) in unsigned {
            let hash: [u8; 32] = hash.try_into().map_err(|_| {
                Error::internal("signing waiting changes", "a stored hash is not 32 bytes")
            })?;
            let signature = key.sign_change(parse_uuid(&doc)?, self.person_id, &hash);
            tx.execute(
                "INSERT OR IGNORE INTO change_signatures (doc_id, hash, person_id, public_key, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![doc, hash.as_slice(), self.person_id.to_string(), key.public().as_slice(), signature.as_slice()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The unlocked person's public signing key on this device: the one to sign in with.
    pub fn signing_key(&self) -> Option<crate::signing::PublicKey> {
        self.signer.as_ref().map(|(k, _)| k.public())
    }

    /// The Argon2id parameters of the unlocked person's slot.
    pub fn slot_kdf(&self) -> Result<Option<KdfParams>> {
        Ok(KeySlots::load(&keyslots::path_for(&self.path))?.kdf_of(self.person_id))
    }

    /// Removes `person`'s key slot: they can no longer unlock this device.
    pub fn remove_person(&self, person: Uuid) -> Result<()> {
        let slots_path = keyslots::path_for(&self.path);
        let mut slots = KeySlots::load(&slots_path)?;
        slots.remove(person)?;
        slots.save(&slots_path)
    }

    /// The device this store belongs to.
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// The person who unlocked it.
    pub fn person_id(&self) -> Uuid {
        self.person_id
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's full `PRAGMA integrity_check`. Slow on a big store: for diagnostics and
    /// tests, not for every open.
    pub fn integrity_check(&self) -> Result<()> {
        let result: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| corrupt(&self.path, e))?;
        if result == "ok" {
            Ok(())
        } else {
            Err(Error::Corrupt {
                path: self.path.display().to_string(),
                detail: result,
            })
        }
    }

    /// Folds the write-ahead log back into the database file and closes the store.
    pub fn close(self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(Error::from)?;
        self.conn.close().map_err(|(_, e)| Error::from(e))
    }

    // -----------------------------------------------------------------------------------
    // Documents
    // -----------------------------------------------------------------------------------

    /// The header stored for a document.
    pub fn header(&self, id: Uuid) -> Result<Header> {
        if let Some((h, _)) = self.cache.get(&id) {
            return Ok(h.clone());
        }
        load_header(&self.conn, id)?.ok_or_else(|| Error::not_found("document", id))
    }

    /// Takes a document out of the cache or loads it; put it back with [`Store::put_back`]
    /// once the action committed.
    ///
    /// Another connection to the same file (background sync) may have committed changes
    /// since the cache was filled; SQLite's `data_version` says so, and the cache is then
    /// dropped rather than trusted.
    fn take_doc(&mut self, id: Uuid) -> Result<(Header, Automerge)> {
        check_cache(&self.conn, &mut self.cache, &mut self.seen_version)?;
        if let Some(d) = self.cache.remove(&id) {
            return Ok(d);
        }
        let header =
            load_header(&self.conn, id)?.ok_or_else(|| Error::not_found("document", id))?;
        let doc = load_doc(&self.conn, id, self.device_id)?;
        Ok((header, doc))
    }

    fn put_back(&mut self, header: Header, doc: Automerge) {
        if self.cache.len() >= CACHE_DOCS {
            self.cache.clear();
        }
        self.cache.insert(header.id, (header, doc));
    }

    /// A read-only copy of a document (for history views and tests).
    pub fn document(&mut self, id: Uuid) -> Result<Automerge> {
        self.read_doc(id, |doc| Ok(doc.clone()))
    }

    /// Reads a document in place (cached or loaded), without copying it.
    pub(crate) fn read_doc<T>(
        &mut self,
        id: Uuid,
        f: impl FnOnce(&Automerge) -> Result<T>,
    ) -> Result<T> {
        let (h, doc) = self.take_doc(id)?;
        let out = f(&doc);
        self.put_back(h, doc);
        out
    }

    /// Runs one action on an existing document: the automerge change, then one SQLite
    /// transaction that stores it and updates the projections via `project`.
    fn act<T>(
        &mut self,
        id: Uuid,
        at: DateTime<Utc>,
        action: &str,
        check: impl FnOnce(&Store, &Header, &Automerge) -> Result<T>,
        change: impl FnOnce(&T, &mut automerge::transaction::Transaction<'_>) -> Result<()>,
        project: impl FnOnce(&rusqlite::Transaction<'_>, &Header, &Automerge, &T) -> Result<()>,
    ) -> Result<T> {
        let (header, mut doc) = self.take_doc(id)?;
        let prepared = match check(self, &header, &doc) {
            Ok(p) => p,
            Err(e) => {
                self.put_back(header, doc);
                return Err(e);
            }
        };
        if let Err(e) = document::change(&mut doc, at, self.person_id, action, |tx| {
            change(&prepared, tx)
        }) {
            // The automerge transaction rolled back: the document is as it was.
            self.put_back(header, doc);
            return Err(e);
        }
        // From here on the in-memory document is ahead of the database: on any failure it is
        // dropped and reloaded from disk next time.
        let Some(c) = doc.get_last_local_change() else {
            return Err(Error::internal(
                action.to_string(),
                "no change was recorded",
            ));
        };
        self.check_rules(&header, &doc, &c)?;
        let tx = self.conn.transaction()?;
        store_change(&tx, id, &c, false)?;
        sign(&tx, &self.signer, self.person_id, id, &c)?;
        project(&tx, &header, &doc, &prepared)?;
        tx.commit()?;
        self.put_back(header, doc);
        Ok(prepared)
    }

    /// Stores a newly created document and its first change, and projects it.
    fn insert_new(&mut self, header: Header, doc: Automerge, photos: &[String]) -> Result<()> {
        let Some(c) = doc.get_last_local_change() else {
            return Err(Error::internal(
                "creating a document",
                "no change was recorded",
            ));
        };
        self.check_rules(&header, &doc, &c)?;
        let tx = self.conn.transaction()?;
        let inserted = insert_header(&tx, &header, None)?;
        if !inserted {
            return Err(Error::Conflict(format!(
                "a record with id {} already exists",
                header.id
            )));
        }
        store_change(&tx, header.id, &c, false)?;
        sign(&tx, &self.signer, self.person_id, header.id, &c)?;
        projection::project(&tx, &header, &doc)?;
        photos::attach(&tx, header.id, photos, self.person_id)?;
        tx.commit()?;
        self.put_back(header, doc);
        Ok(())
    }

    /// Replaces a document's stored changes by one snapshot, keeping the changes the server
    /// has not acknowledged (they are still to be pushed).
    ///
    /// The snapshot is built outside the write lock (saving is the slow part), then checked
    /// under it: the write transaction is `BEGIN IMMEDIATE`, and if another connection
    /// committed in between (`data_version` moved: the background sync stored a pulled change)
    /// the document is reloaded and the snapshot rebuilt before anything is deleted. Otherwise
    /// an acknowledged change stored in between would be deleted without being in the snapshot.
    pub fn compact(&mut self, id: Uuid) -> Result<()> {
        let (header, doc) = self.take_doc(id)?;
        let seen = self.seen_version;
        let snapshot = doc.save();
        self.at_hook(HookPoint::CompactSnapshotBuilt);
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )?;
        check_cache(&tx, &mut self.cache, &mut self.seen_version)?;
        let (doc, snapshot) = if self.seen_version == seen {
            (doc, snapshot)
        } else {
            let fresh = load_doc(&tx, id, self.device_id)?;
            let again = fresh.save();
            (fresh, again)
        };
        tx.execute(
            "UPDATE documents SET snapshot = ?2 WHERE id = ?1",
            params![id.to_string(), snapshot],
        )?;
        tx.execute(
            "DELETE FROM changes WHERE doc_id = ?1 AND acked = 1",
            params![id.to_string()],
        )?;
        tx.commit()?;
        self.put_back(header, doc);
        Ok(())
    }

    /// Compacts the documents among `ids` that have settled here as on the server (an ended
    /// shift, an approved incident) and hold at least [`SETTLED_ROWS`] acknowledged changes
    /// as rows: what a supervisor's phone receives of other people's finished work. Returns
    /// how many were compacted. (A device's own ended shifts and submitted incidents are
    /// compacted when they end or are submitted.)
    pub fn compact_settled(&mut self, ids: &[Uuid]) -> Result<usize> {
        let mut n = 0;
        for id in ids {
            let settled: bool = self
                .conn
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM changes WHERE doc_id = ?1 AND acked = 1) >= ?2
                        AND (EXISTS (SELECT 1 FROM shifts WHERE id = ?1 AND ended_at IS NOT NULL)
                          OR EXISTS (SELECT 1 FROM incidents WHERE id = ?1 AND status = 'approved'))",
                )?
                .query_row(params![id.to_string(), SETTLED_ROWS], |r| r.get(0))?;
            if settled {
                self.compact(*id)?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Runs the rules table ([`crate::rules`]) on a change this device has just made, before
    /// it is stored: the same check the server makes, so the app never keeps a change the
    /// district would refuse.
    fn check_rules(
        &self,
        header: &Header,
        doc: &Automerge,
        change: &automerge::Change,
    ) -> Result<()> {
        let (role, schools) = self.me()?;
        let viewer = crate::rules::Viewer {
            person: self.person_id,
            role,
            schools,
        };
        let writer = crate::rules::Writer::only(&viewer, self.device_id);
        crate::rules::check_change(doc, header, writer, change).map_err(|r| match r.kind {
            crate::rules::RefusalKind::WrongState => Error::Conflict(r.message),
            _ => Error::Forbidden(r.message),
        })
    }

    /// Installs (or removes) a function called at the [`HookPoint`]s, so a test can force an
    /// interleaving with the other connection of [`Store::open_pair`] without sleeps. The app
    /// never installs one.
    pub fn set_hook(&mut self, hook: Option<Hook>) {
        self.hook = hook;
    }

    fn at_hook(&mut self, point: HookPoint) {
        if let Some(h) = self.hook.as_mut() {
            h(point);
        }
    }

    /// The unlocked person's role and schools, from the reference data.
    fn me(&self) -> Result<(Role, Vec<Uuid>)> {
        reference::person_role(&self.conn, self.person_id)?.ok_or_else(|| {
            Error::Forbidden(
                "your account is not on this device yet; sync with the district server first"
                    .into(),
            )
        })
    }

    fn new_header(
        &self,
        id: Uuid,
        kind: DocKind,
        school_id: Uuid,
        now: DateTime<Utc>,
        classification: Classification,
    ) -> Header {
        Header {
            id,
            kind,
            school_id,
            author_id: self.person_id,
            device_id: self.device_id,
            created_at: now,
            classification,
        }
    }
}

/// Opens a connection and gives SQLCipher the key.
///
/// Setting a key initialises SQLCipher's crypto provider (OpenSSL). When several threads do it
/// for the first time at once, OpenSSL 3's lazy initialisation can make `PRAGMA key` fail
/// ("An error occurred with PRAGMA key or rekey"): seen about once in fifteen runs of the
/// test suite, which opens many stores in parallel. Keying is therefore serialised
/// process-wide, and a failed attempt is retried on a fresh connection.
fn keyed_connection(path: &Path, flags: OpenFlags, key: &DbKey) -> Result<Connection> {
    static KEYING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = KEYING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut last = None;
    for _ in 0..3 {
        let conn = Connection::open_with_flags(path, flags)?;
        match conn.pragma_update(None, "key", key.pragma_value().as_str()) {
            Ok(()) => {
                // SQLCipher logs HMAC failures to stderr; the error we return says it all.
                let _ = conn.pragma_update(None, "cipher_log_level", "NONE");
                return Ok(conn);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || Error::internal("keying the store", "no attempt"),
        Error::from,
    ))
}

/// WAL, `synchronous = FULL`, foreign keys, a busy timeout. FULL makes each commit fsync the
/// WAL: a committed action survives a power cut as well as a killed process, and on this
/// project's reference machine an fsync costs about 0.13 ms (see `docs/performance.md`).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;",
    )
}

/// Refuses files that cannot be a whole SQLCipher database before SQLite touches them.
fn check_file_shape(path: &Path) -> Result<()> {
    let len = std::fs::metadata(path)?.len();
    if len == 0 || len % PAGE_SIZE != 0 {
        return Err(Error::Corrupt {
            path: path.display().to_string(),
            detail: format!("file size {len} is not a whole number of {PAGE_SIZE}-byte pages"),
        });
    }
    Ok(())
}

/// With an empty write-ahead log, the database file must hold every page the database
/// says it has; a shorter file was truncated.
fn check_page_count(conn: &Connection, path: &Path) -> Result<()> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_len = std::fs::metadata(PathBuf::from(wal))
        .map(|m| m.len())
        .unwrap_or(0);
    if wal_len > 0 {
        return Ok(());
    }
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(|e| corrupt(path, e))?;
    let len = std::fs::metadata(path)?.len();
    if (pages.max(0) as u64) * PAGE_SIZE > len {
        return Err(Error::Corrupt {
            path: path.display().to_string(),
            detail: format!(
                "the database has {pages} pages but the file holds only {}; it was truncated",
                len / PAGE_SIZE
            ),
        });
    }
    Ok(())
}

fn corrupt(path: &Path, e: rusqlite::Error) -> Error {
    Error::Corrupt {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

pub(crate) fn parse_uuid(s: &str) -> rusqlite::Result<Uuid> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn load_header(conn: &Connection, id: Uuid) -> Result<Option<Header>> {
    let row = conn
        .prepare_cached(
            "SELECT kind, school_id, author_id, device_id, created_at, classification
             FROM documents WHERE id = ?1",
        )?
        .query_row(params![id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .optional()?;
    let Some((kind, school, author, device, created, class)) = row else {
        return Ok(None);
    };
    let bad = |_| Error::Corrupt {
        path: "documents".into(),
        detail: format!("header of {id} is unreadable"),
    };
    Ok(Some(Header {
        id,
        kind: DocKind::parse(&kind, "kind")?,
        school_id: parse_uuid(&school).map_err(bad)?,
        author_id: parse_uuid(&author).map_err(bad)?,
        device_id: parse_uuid(&device).map_err(bad)?,
        created_at: from_ms(created),
        classification: Classification::parse(&class, "classification")?,
    }))
}

/// Drops the cached documents when another connection to the file committed since they were
/// last known to match it (SQLite's `data_version` moved), so no connection ever works on a
/// stale document.
fn check_cache(
    conn: &Connection,
    cache: &mut HashMap<Uuid, (Header, Automerge)>,
    seen_version: &mut i64,
) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
    if version != *seen_version {
        cache.clear();
        *seen_version = version;
    }
    Ok(())
}

/// Loads a document: its snapshot (if any) plus every stored change.
fn load_doc(conn: &Connection, id: Uuid, device: Uuid) -> Result<Automerge> {
    let snapshot: Option<Vec<u8>> = conn
        .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
        .query_row(params![id.to_string()], |r| r.get(0))?;
    let mut doc = match snapshot {
        Some(bytes) => Automerge::load(&bytes).map_err(|e| Error::Corrupt {
            path: "documents".into(),
            detail: format!("snapshot of {id}: {e}"),
        })?,
        None => Automerge::new(),
    }
    .with_actor(document::actor_for(device));
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
    let mut changes = Vec::new();
    let mut rows = stmt.query(params![id.to_string()])?;
    while let Some(r) = rows.next()? {
        let bytes: Vec<u8> = r.get(0)?;
        changes.push(Change::from_bytes(bytes).map_err(|e| Error::Corrupt {
            path: "changes".into(),
            detail: format!("change of {id}: {e}"),
        })?);
    }
    doc.apply_changes(changes)?;
    Ok(doc)
}

/// Inserts a document's header row (with its snapshot, for a saved document received whole);
/// false if it already existed.
fn insert_header(
    tx: &rusqlite::Transaction<'_>,
    h: &Header,
    snapshot: Option<&[u8]>,
) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO documents
            (id, kind, school_id, author_id, device_id, created_at, classification, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            h.id.to_string(),
            h.kind.code(),
            h.school_id.to_string(),
            h.author_id.to_string(),
            h.device_id.to_string(),
            ms(h.created_at),
            h.classification.code(),
            snapshot,
        ])?;
    Ok(n == 1)
}

/// Appends one change to a document's log; `acked` when it came from the server. Returns
/// false when the change was already stored (idempotent).
fn store_change(
    tx: &rusqlite::Transaction<'_>,
    doc: Uuid,
    c: &Change,
    acked: bool,
) -> Result<bool> {
    let by = if acked { None } else { made_by(c) };
    let n = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO changes (doc_id, hash, bytes, acked, by_person)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            doc.to_string(),
            c.hash().0.as_slice(),
            c.raw_bytes(),
            acked,
            by.map(|p| p.to_string()),
        ])?;
    Ok(n == 1)
}

/// Signs `change`, which `person` (the unlocked person) made to `doc`, in the action's
/// transaction `tx`, with their key.
fn sign(
    tx: &rusqlite::Transaction<'_>,
    signer: &Option<(SigningSecret, PersonSeal)>,
    person: Uuid,
    doc: Uuid,
    change: &Change,
) -> Result<()> {
    let Some((key, _)) = signer else {
        return Err(Error::internal(
            "signing a change",
            "this connection holds no signing key",
        ));
    };
    let hash = change.hash().0;
    let signature = key.sign_change(doc, person, &hash);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO change_signatures (doc_id, hash, person_id, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        doc.to_string(),
        hash.as_slice(),
        person.to_string(),
        key.public().as_slice(),
        signature.as_slice()
    ])?;
    Ok(())
}

/// What a person's sealed signing seed is bound to: the format, the device and the person.
fn signing_aad(device: Uuid, person: Uuid) -> Vec<u8> {
    let mut aad = b"rounds-signing-key-v1".to_vec();
    aad.extend_from_slice(device.as_bytes());
    aad.extend_from_slice(person.as_bytes());
    aad
}

/// The person a change says made it (the `by` of its message, see [`document::change`]):
/// whose session may push it. `None` for a change without one, which no server accepts.
fn made_by(c: &Change) -> Option<Uuid> {
    crate::signing::change_by(c)
}

/// Schema 4 ties each photo to the records it was attached to; the migration's SQL finds the
/// patrol checks', and this the incidents' (their photos are only in their documents), for the
/// photos still waiting, attached in the name of the incident's author.
fn photos_of_waiting_incidents(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let waiting: std::collections::HashSet<String> = tx
        .prepare(
            "SELECT hash FROM photos WHERE uploaded = 0
             AND hash NOT IN (SELECT hash FROM photo_records)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if waiting.is_empty() {
        return Ok(());
    }
    let incidents: Vec<(String, String)> = tx
        .prepare("SELECT id, author_id FROM documents WHERE kind = 'incident'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, author) in incidents {
        let Ok(uuid) = Uuid::parse_str(&id) else {
            continue;
        };
        let doc = load_doc(tx, uuid, Uuid::nil())?;
        let photos = document::read_incident(&doc)
            .map(|b| b.photos)
            .unwrap_or_default();
        for h in photos.iter().filter(|h| waiting.contains(*h)) {
            tx.execute(
                "INSERT OR IGNORE INTO photo_records (hash, record_id, person_id) VALUES (?1, ?2, ?3)",
                params![h, id, author],
            )?;
        }
    }
    Ok(())
}

/// Schema 3 records who made each waiting change; the changes waiting when a store is
/// upgraded get it from their messages.
fn owners_of_waiting_changes(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let waiting: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT seq, bytes FROM changes WHERE acked = 0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut set = tx.prepare("UPDATE changes SET by_person = ?2 WHERE seq = ?1")?;
    for (seq, bytes) in waiting {
        let by = Change::from_bytes(bytes).ok().as_ref().and_then(made_by);
        set.execute(params![seq, by.map(|p| p.to_string())])?;
    }
    Ok(())
}

//! Key slots: who may unlock a device's encrypted store, and how guessing is slowed down.
//!
//! The store is encrypted with SQLCipher under a random 256-bit *database key*. That key is
//! never stored in the clear: for each person allowed to unlock the device it is wrapped
//! (XChaCha20-Poly1305) under a *key-encryption key* derived from that person's passphrase or
//! PIN with Argon2id. One slot per person lets a post phone be shared by the guards of the
//! post without them sharing a secret.
//!
//! The slots live in a small JSON file beside the database (`<store>.keys`), written
//! atomically (temporary file, fsync, rename). A wrong secret fails the AEAD check of the
//! slot, so the database file itself is never opened with a wrong key and cannot be harmed by
//! one.
//!
//! Terms:
//! - **attempt record**: one per person in the slots file, `{person_id, count, tag}`: that
//!   person's failed attempts since their last success, sealed by a [`CounterSeal`]. A record
//!   that is missing, unreadable or whose tag does not verify counts as [`TAMPERED_COUNT`]
//!   failures (the longest wait), never as zero.
//! - **[`Lockout`]**: the process's own view of every person's count. It only ever takes the
//!   larger of what it remembers and what the file says, so editing the file while the app
//!   runs changes nothing. Waits are measured on the monotonic clock ([`Instant`], passed in),
//!   so moving the device's clock neither shortens nor ends one; a process that starts and
//!   finds a count that calls for a wait makes the whole wait again.
//! - **secret policy** ([`SecretPolicy`]): a secret is accepted when its estimated search
//!   space (length × log2 of the alphabet of the character classes it uses) is at least
//!   [`MIN_SECRET_BITS`], so that trying every secret of that space against a copied slot at
//!   [`KdfParams::DEFAULT`] costs at least [`MIN_SEARCH_CORE_SECONDS`] (100 core-years; the
//!   cost of one guess is measured by `benches/kdf.rs`).
//!
//! An attempt is counted (and the record written) *before* the secret is checked and
//! uncounted on success, so stopping the app in the middle of a guess does not make it free.
//! After [`FREE_ATTEMPTS`] failures each further attempt waits twice as long as the one
//! before (30 s, 1 min, 2 min, ... up to 15 min). The counter is a brake on guessing at the
//! keypad; someone who can copy the files faces Argon2id's cost per guess instead, which the
//! policy prices at 100 core-years or more (see `docs/app.md`, "Unlocking", for what each
//! kind of attacker can and cannot do, and the platform keystore design for phones).
//!
//! **Why one file:** all key handling (slots, Argon2id, the sealed database key, the lockout
//! counter, the file's atomic rewrite) in one place, to be reviewed as one piece of
//! cryptography; nothing outside it sees a key's bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use blake2::Blake2bMac;
use blake2::digest::Mac;
use blake2::digest::consts::U32;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::entropy::Entropy;
use crate::error::{Error, Result};

/// Failed attempts allowed before attempts are delayed.
pub const FREE_ATTEMPTS: u32 = 3;
const FIRST_DELAY_SECS: u64 = 30;
const MAX_DELAY_SECS: u64 = 15 * 60;
/// What a missing, unreadable or forged attempt record counts as: enough failures for the
/// longest wait.
pub const TAMPERED_COUNT: u32 = FREE_ATTEMPTS + 5;
/// Version 2: one sealed attempt record per person (version 1 had one unsealed counter for
/// the whole device; it is read once and rewritten).
const FORMAT_VERSION: u32 = 2;

/// 100 core-years in core-seconds: the least that searching one slot's whole secret space
/// must cost.
pub const MIN_SEARCH_CORE_SECONDS: f64 = 100.0 * 365.25 * 24.0 * 3600.0;

/// One Argon2id guess at [`KdfParams::DEFAULT`] on the reference machine, in core-seconds:
/// a floor under what `cargo bench -p rounds-core --bench kdf` measures (the cheapest on-CPU
/// time, corrected for the shared machine's load; see `docs/performance.md`).
pub const DEFAULT_GUESS_CORE_SECONDS: f64 = 0.35;

/// The estimated search space (in bits) a secret must have: log2(100 core-years / one
/// guess), rounded up to a tenth. A unit test keeps it in step with the two figures above.
pub const MIN_SECRET_BITS: f64 = 33.1;

/// How long the next attempt must wait after `count` failures, if at all.
fn delay(count: u32) -> Option<Duration> {
    if count < FREE_ATTEMPTS {
        return None;
    }
    let doublings = (count - FREE_ATTEMPTS).min(16);
    Some(Duration::from_secs(
        (FIRST_DELAY_SECS << doublings).min(MAX_DELAY_SECS),
    ))
}

/// The database key, wiped from memory when dropped.
pub struct DbKey(Zeroizing<[u8; 32]>);

impl DbKey {
    /// A fresh random key.
    pub fn generate(entropy: &mut dyn Entropy) -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        entropy.fill(k.as_mut());
        DbKey(k)
    }

    /// The SQLCipher `PRAGMA key` value for a raw key (`x'<hex>'`), which skips SQLCipher's own
    /// PBKDF2: the key is already random and full-strength.
    pub fn pragma_value(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("x'{}'", hex::encode(self.0.as_ref())))
    }
}

/// A key only one person's secret opens: derived from the key-encryption key their secret
/// gives (so it costs no second Argon2id run), bound to the device and the person. It seals
/// what is theirs alone inside a store several people unlock, such as their signing key: the
/// database key opens the store for everyone with a slot; this opens only their part.
#[derive(Clone)]
pub struct PersonSeal(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for PersonSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonSeal(..)")
    }
}

impl PersonSeal {
    fn derive(kek: &[u8; 32], device: Uuid, person: Uuid) -> Result<PersonSeal> {
        let mut mac = <Blake2bMac<U32> as Mac>::new_from_slice(kek)
            .map_err(|e| Error::internal("deriving a person's seal", e.to_string()))?;
        mac.update(b"rounds-person-seal-v1");
        mac.update(device.as_bytes());
        mac.update(person.as_bytes());
        Ok(PersonSeal(Zeroizing::new(
            mac.finalize().into_bytes().into(),
        )))
    }

    /// Seals `plain` (XChaCha20-Poly1305, a fresh nonce from `entropy`) bound to `aad`:
    /// returns the nonce and the sealed bytes.
    pub fn seal(
        &self,
        plain: &[u8],
        aad: &[u8],
        entropy: &mut dyn Entropy,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut nonce = vec![0u8; 24];
        entropy.fill(&mut nonce);
        let sealed = XChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| Error::internal("sealing", "AEAD failure"))?;
        Ok((nonce, sealed))
    }

    /// Opens what [`PersonSeal::seal`] sealed with the same `aad`; `None` if it was sealed
    /// under another person's seal, changed, or bound to something else.
    pub fn open(&self, nonce: &[u8], sealed: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        XChaCha20Poly1305::new(Key::from_slice(self.0.as_ref()))
            .decrypt(
                XNonce::from_slice(nonce.get(..24)?),
                Payload { msg: sealed, aad },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

/// A person's passphrase or PIN; wiped when dropped. New ones must meet the
/// [`SecretPolicy`].
pub struct Secret(Zeroizing<String>);

/// How big a secret's search space is estimated to be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strength {
    /// Characters.
    pub length: usize,
    /// The alphabet of the classes used: digits 10, lower-case letters 26, upper-case
    /// letters 26, anything else 33 (the printable ASCII symbols and space; a letter outside
    /// ASCII is counted as a symbol, which underestimates it).
    pub alphabet: u32,
    /// `length × log2(alphabet)`.
    pub bits: f64,
}

/// The shortest secrets [`MIN_SECRET_BITS`] accepts, for the messages the person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretPolicy {
    /// A PIN (digits only) needs at least this many digits.
    pub min_digits: usize,
    /// A passphrase with at least one letter needs at least this many characters.
    pub min_with_letters: usize,
}

impl SecretPolicy {
    /// The policy in force.
    pub fn current() -> SecretPolicy {
        let shortest = |alphabet: f64| (MIN_SECRET_BITS / alphabet.log2()).ceil() as usize;
        SecretPolicy {
            min_digits: shortest(10.0),
            min_with_letters: shortest(26.0),
        }
    }

    /// What the person is told when a new secret is too easy to guess.
    pub fn advice(&self) -> String {
        format!(
            "too easy to guess: use a PIN of at least {} digits, or a passphrase of at least {} characters with letters in it",
            self.min_digits, self.min_with_letters
        )
    }
}

impl Secret {
    /// Wraps a passphrase or PIN.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }

    /// Its estimated search space.
    pub fn strength(&self) -> Strength {
        let (mut digit, mut lower, mut upper, mut other) = (false, false, false, false);
        let mut length = 0;
        for c in self.0.chars() {
            length += 1;
            match c {
                '0'..='9' => digit = true,
                'a'..='z' => lower = true,
                'A'..='Z' => upper = true,
                _ => other = true,
            }
        }
        let alphabet = u32::from(digit) * 10
            + u32::from(lower) * 26
            + u32::from(upper) * 26
            + u32::from(other) * 33;
        let bits = if alphabet == 0 {
            0.0
        } else {
            length as f64 * f64::from(alphabet).log2()
        };
        Strength {
            length,
            alphabet,
            bits,
        }
    }

    /// Whether a new slot may be made with it. Slots made under an older, weaker rule still
    /// unlock; the app asks their owner to choose a new secret.
    pub fn meets_policy(&self) -> bool {
        self.strength().bits >= MIN_SECRET_BITS
    }

    fn validate(&self) -> Result<()> {
        if !self.meets_policy() {
            return Err(Error::invalid(
                "passphrase",
                SecretPolicy::current().advice(),
            ));
        }
        Ok(())
    }
}

/// Argon2id cost parameters, stored with each slot so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// What the app uses: 64 MiB, 10 passes, 1 lane. One guess costs
    /// [`DEFAULT_GUESS_CORE_SECONDS`] of one core on the reference machine, and a whole unlock
    /// stays well under a second (figures and how to measure them: `docs/performance.md`).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 10,
        parallelism: 1,
    };

    /// Deliberately weak parameters so tests run fast. Never for real devices.
    pub const FOR_TESTS: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    /// The key-encryption key for `secret` under `salt` (public for the KDF benchmark).
    pub fn derive(&self, secret: &Secret, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| Error::invalid("kdf", e.to_string()))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret.0.as_bytes(), salt, out.as_mut())
            .map_err(|e| Error::invalid("kdf", e.to_string()))?;
        Ok(out)
    }
}

/// Seals attempt records with a key that is not in the slots file.
///
/// On a phone this is meant to be a key held by the platform keystore (Android Keystore,
/// the iOS keychain; see `docs/app.md`, "Platform keystore"), which a copy of the app's files
/// does not carry. [`FileSeal`] is the stand-in for desktops and tests.
pub trait CounterSeal: Send {
    /// A 32-byte tag over `msg`.
    fn tag(&self, msg: &[u8]) -> Result<[u8; 32]>;
}

/// A random 32-byte key kept in `<store>.seal` beside the store. It detects an edited,
/// garbled, deleted or swapped record, and a record copied from another person or device;
/// it does not stop someone who can read the key file and recompute the tag (see
/// `docs/app.md` for why that attacker gains nothing over copying the files).
pub struct FileSeal(Zeroizing<[u8; 32]>);

impl FileSeal {
    /// Where the seal key of the store at `db` lives.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut p = db.as_os_str().to_owned();
        p.push(".seal");
        PathBuf::from(p)
    }

    /// Reads the store's seal key, or makes a new one if there is none (or it is unreadable).
    /// A new key means every existing record fails its check: everyone waits the longest
    /// wait once, then their next success writes a record under the new key.
    pub fn open_or_create(db: &Path, entropy: &mut dyn Entropy) -> Result<FileSeal> {
        let path = Self::path_for(db);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() == 32 => {
                let mut k = Zeroizing::new([0u8; 32]);
                k.copy_from_slice(&bytes);
                return Ok(FileSeal(k));
            }
            // A damaged key is replaced like a missing one: the records it sealed then fail.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let mut k = Zeroizing::new([0u8; 32]);
        entropy.fill(k.as_mut());
        write_atomically(&path, k.as_ref())?;
        Ok(FileSeal(k))
    }
}

impl CounterSeal for FileSeal {
    fn tag(&self, msg: &[u8]) -> Result<[u8; 32]> {
        let mut mac = <Blake2bMac<U32> as Mac>::new_from_slice(self.0.as_ref())
            .map_err(|e| Error::internal("sealing a counter", e.to_string()))?;
        mac.update(msg);
        Ok(mac.finalize().into_bytes().into())
    }
}

/// One person's count as this process sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    count: u32,
    /// When the current wait started: this process's last failure for the person, or the
    /// moment it first saw the count (a restart makes the whole wait again).
    since: Instant,
}

/// The process's memory of failed attempts, per person, and the seal of their records.
///
/// Keep one for the life of the process (the app does) and pass it to every unlock: it is
/// what makes an edit of the file while the app runs change nothing.
pub struct Lockout {
    seal: Box<dyn CounterSeal>,
    seen: HashMap<Uuid, Seen>,
}

impl std::fmt::Debug for Lockout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockout")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl Lockout {
    /// A lockout sealing records with `seal`.
    pub fn new(seal: Box<dyn CounterSeal>) -> Lockout {
        Lockout {
            seal,
            seen: HashMap::new(),
        }
    }

    /// A lockout for the store at `db`, with its [`FileSeal`] (made if missing).
    pub fn for_store(db: &Path, entropy: &mut dyn Entropy) -> Result<Lockout> {
        Ok(Lockout::new(Box::new(FileSeal::open_or_create(
            db, entropy,
        )?)))
    }

    /// Takes the larger of what this process remembers and what `slots` says for `person`.
    fn observe(&mut self, slots: &KeySlots, person: Uuid, now: Instant) -> Seen {
        let in_file = slots.count_in_file(person, self.seal.as_ref());
        let seen = self.seen.entry(person).or_insert(Seen {
            count: in_file,
            since: now,
        });
        if in_file > seen.count {
            // Another process (or an older run) counted more: its wait starts now, in full.
            *seen = Seen {
                count: in_file,
                since: now,
            };
        }
        *seen
    }

    /// How long `person` must still wait before an attempt is checked, if at all.
    pub fn wait_left(&mut self, slots: &KeySlots, person: Uuid, now: Instant) -> Option<Duration> {
        let seen = self.observe(slots, person, now);
        let wait = delay(seen.count)?;
        let left = wait.saturating_sub(now.saturating_duration_since(seen.since));
        (!left.is_zero()).then_some(left)
    }

    fn set(&mut self, person: Uuid, count: u32, now: Instant) {
        self.seen.insert(person, Seen { count, since: now });
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    person_id: Uuid,
    kdf: KdfParams,
    #[serde(with = "hex::serde")]
    salt: Vec<u8>,
    #[serde(with = "hex::serde")]
    nonce: Vec<u8>,
    #[serde(with = "hex::serde")]
    wrapped_key: Vec<u8>,
}

/// A person's sealed attempt record, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AttemptRecord {
    person_id: Uuid,
    count: u32,
    #[serde(with = "hex::serde")]
    tag: Vec<u8>,
}

/// Version 1's device-wide counter: read to upgrade, never written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LegacyFailures {
    count: u32,
}

/// The contents of the `.keys` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySlots {
    version: u32,
    device_id: Uuid,
    slots: Vec<Slot>,
    /// Kept as raw JSON so that one garbled record counts as tampered instead of making the
    /// whole file (and every slot in it) unreadable.
    #[serde(default)]
    attempts: Vec<serde_json::Value>,
    #[serde(default, skip_serializing)]
    failures: Option<LegacyFailures>,
}

/// Where the key slots of the store at `db` live.
pub fn path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".keys");
    PathBuf::from(p)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = {
        let mut p = path.as_os_str().to_owned();
        p.push(".tmp");
        PathBuf::from(p)
    };
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl KeySlots {
    /// New, empty slots for a device.
    pub fn new(device_id: Uuid) -> Self {
        KeySlots {
            version: FORMAT_VERSION,
            device_id,
            slots: Vec::new(),
            attempts: Vec::new(),
            failures: None,
        }
    }

    /// The device these slots belong to.
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    /// People who have a slot.
    pub fn people(&self) -> Vec<Uuid> {
        self.slots.iter().map(|s| s.person_id).collect()
    }

    /// The Argon2id parameters of `person`'s slot.
    pub fn kdf_of(&self, person: Uuid) -> Option<KdfParams> {
        self.slots
            .iter()
            .find(|s| s.person_id == person)
            .map(|s| s.kdf)
    }

    /// Reads the slots file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::not_found("key slots", path.display()));
            }
            Err(e) => return Err(e.into()),
        };
        let slots: KeySlots = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path: path.display().to_string(),
            detail: format!("key slots unreadable: {e}"),
        })?;
        if slots.version > FORMAT_VERSION {
            return Err(Error::NewerVersion {
                found: i64::from(slots.version),
                supported: i64::from(FORMAT_VERSION),
            });
        }
        Ok(slots)
    }

    /// Writes the slots file atomically and durably.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::internal("encoding key slots", e))?;
        write_atomically(path, &json)
    }

    /// Adds (or replaces) `person`'s slot wrapping `key` under `secret`, with a fresh attempt
    /// record sealed by `lockout`'s seal. `secret` must meet the [`SecretPolicy`].
    pub fn add(
        &mut self,
        person: Uuid,
        secret: &Secret,
        key: &DbKey,
        kdf: KdfParams,
        lockout: &Lockout,
        entropy: &mut dyn Entropy,
    ) -> Result<PersonSeal> {
        secret.validate()?;
        self.add_slot(person, secret, key, kdf, lockout, entropy)
    }

    /// [`KeySlots::add`] without the policy check: what older versions wrote, kept for the
    /// tests of slots made under an older rule.
    fn add_slot(
        &mut self,
        person: Uuid,
        secret: &Secret,
        key: &DbKey,
        kdf: KdfParams,
        lockout: &Lockout,
        entropy: &mut dyn Entropy,
    ) -> Result<PersonSeal> {
        let mut salt = vec![0u8; 16];
        entropy.fill(&mut salt);
        let mut nonce = vec![0u8; 24];
        entropy.fill(&mut nonce);
        let kek = kdf.derive(secret, &salt)?;
        let wrapped_key = XChaCha20Poly1305::new(Key::from_slice(kek.as_ref()))
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.0.as_ref(),
                    aad: &self.aad(person),
                },
            )
            .map_err(|_| Error::internal("wrapping the key", "AEAD failure"))?;
        self.slots.retain(|s| s.person_id != person);
        self.slots.push(Slot {
            person_id: person,
            kdf,
            salt,
            nonce,
            wrapped_key,
        });
        // A new person starts with no failures; a replaced slot (a new secret) keeps the
        // count it had, which the caller's successful unlock has just reset anyway.
        if self.record_of(person).is_none() {
            self.set_record(person, 0, lockout.seal.as_ref())?;
        }
        PersonSeal::derive(&kek, self.device_id, person)
    }

    /// Removes `person`'s slot; the last slot cannot be removed (the store would be lost).
    pub fn remove(&mut self, person: Uuid) -> Result<()> {
        if !self.slots.iter().any(|s| s.person_id == person) {
            return Err(Error::not_found("key slot", person));
        }
        if self.slots.len() == 1 {
            return Err(Error::Conflict(
                "the last person who can unlock this device cannot be removed".into(),
            ));
        }
        self.slots.retain(|s| s.person_id != person);
        self.attempts
            .retain(|r| r.get("person_id").and_then(|v| v.as_str()) != Some(&person.to_string()));
        Ok(())
    }

    /// The raw record of `person`, if there is one.
    fn record_of(&self, person: Uuid) -> Option<&serde_json::Value> {
        let id = person.to_string();
        self.attempts
            .iter()
            .find(|r| r.get("person_id").and_then(|v| v.as_str()) == Some(id.as_str()))
    }

    fn record_msg(&self, person: Uuid, count: u32) -> Vec<u8> {
        let mut msg = b"rounds-attempts-v2".to_vec();
        msg.extend_from_slice(self.device_id.as_bytes());
        msg.extend_from_slice(person.as_bytes());
        msg.extend_from_slice(&count.to_le_bytes());
        msg
    }

    /// `person`'s failed attempts as the file says, trusting only a record whose tag
    /// verifies. A person without a slot has no record and counts 0 here (the process's
    /// memory still counts their attempts).
    fn count_in_file(&self, person: Uuid, seal: &dyn CounterSeal) -> u32 {
        if !self.slots.iter().any(|s| s.person_id == person) {
            return 0;
        }
        let Some(raw) = self.record_of(person) else {
            // A version 1 file has no records yet: its device-wide count applies to everyone.
            return match (&self.failures, self.attempts.is_empty()) {
                (Some(f), true) if self.version == 1 => f.count,
                (None, true) if self.version == 1 => 0,
                _ => TAMPERED_COUNT,
            };
        };
        let Ok(record) = serde_json::from_value::<AttemptRecord>(raw.clone()) else {
            return TAMPERED_COUNT;
        };
        match seal.tag(&self.record_msg(person, record.count)) {
            Ok(tag) if same_tag(&tag, &record.tag) => record.count,
            _ => TAMPERED_COUNT,
        }
    }

    /// Writes `person`'s sealed record. The first record written into a version 1 file
    /// seals everyone's count from the old device-wide counter, so nobody's turns into a
    /// "missing" record.
    fn set_record(&mut self, person: Uuid, count: u32, seal: &dyn CounterSeal) -> Result<()> {
        if self.version < FORMAT_VERSION {
            let legacy = self.failures.take().map_or(0, |f| f.count);
            self.version = FORMAT_VERSION;
            for other in self.people() {
                if other != person && self.record_of(other).is_none() {
                    self.put_record(other, legacy, seal)?;
                }
            }
        }
        self.put_record(person, count, seal)
    }

    fn put_record(&mut self, person: Uuid, count: u32, seal: &dyn CounterSeal) -> Result<()> {
        let record = AttemptRecord {
            person_id: person,
            count,
            tag: seal.tag(&self.record_msg(person, count))?.to_vec(),
        };
        let value = serde_json::to_value(&record)
            .map_err(|e| Error::internal("encoding an attempt record", e))?;
        let id = person.to_string();
        self.attempts
            .retain(|r| r.get("person_id").and_then(|v| v.as_str()) != Some(id.as_str()));
        self.attempts.push(value);
        Ok(())
    }

    /// Unwraps the database key for `person` with `secret`, counting the attempt in `lockout`
    /// and in the file at `path` before the secret is checked. `now` is the monotonic clock.
    /// A wrong secret and a person without a slot look the same from outside.
    pub fn unlock(
        &mut self,
        path: &Path,
        person: Uuid,
        secret: &Secret,
        lockout: &mut Lockout,
        now: Instant,
    ) -> Result<DbKey> {
        self.unlock_sealed(path, person, secret, lockout, now)
            .map(|(key, _)| key)
    }

    /// [`KeySlots::unlock`], also giving the person's [`PersonSeal`].
    pub fn unlock_sealed(
        &mut self,
        path: &Path,
        person: Uuid,
        secret: &Secret,
        lockout: &mut Lockout,
        now: Instant,
    ) -> Result<(DbKey, PersonSeal)> {
        if let Some(retry_in) = lockout.wait_left(self, person, now) {
            return Err(Error::LockedOut {
                failures: lockout.observe(self, person, now).count,
                retry_in,
            });
        }
        let count = lockout.observe(self, person, now).count.saturating_add(1);
        lockout.set(person, count, now);
        let has_slot = self.slots.iter().any(|s| s.person_id == person);
        if has_slot {
            self.set_record(person, count, lockout.seal.as_ref())?;
            self.save(path)?;
        }
        match self.try_unwrap(person, secret) {
            Some(key) => {
                lockout.set(person, 0, now);
                self.set_record(person, 0, lockout.seal.as_ref())?;
                self.save(path)?;
                Ok(key)
            }
            None => Err(Error::Locked {
                failures: count,
                retry_in: delay(count),
            }),
        }
    }

    fn try_unwrap(&self, person: Uuid, secret: &Secret) -> Option<(DbKey, PersonSeal)> {
        let slot = self.slots.iter().find(|s| s.person_id == person)?;
        let kek = slot.kdf.derive(secret, &slot.salt).ok()?;
        let seal = PersonSeal::derive(&kek, self.device_id, person).ok()?;
        let mut plain = XChaCha20Poly1305::new(Key::from_slice(kek.as_ref()))
            .decrypt(
                XNonce::from_slice(slot.nonce.get(..24)?),
                Payload {
                    msg: &slot.wrapped_key,
                    aad: &self.aad(person),
                },
            )
            .ok()?;
        let mut key = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            plain.zeroize();
            return None;
        }
        key.copy_from_slice(&plain);
        plain.zeroize();
        Some((DbKey(key), seal))
    }

    /// Binds each wrapped key to its device and person, so slots cannot be swapped.
    fn aad(&self, person: Uuid) -> Vec<u8> {
        let mut aad = b"rounds-keyslot-v1".to_vec();
        aad.extend_from_slice(self.device_id.as_bytes());
        aad.extend_from_slice(person.as_bytes());
        aad
    }
}

/// Compares two tags without stopping at the first difference.
fn same_tag(a: &[u8; 32], b: &[u8]) -> bool {
    b.len() == 32 && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    const ANA_SECRET: &str = "ana-secret-7";
    const BEN_PIN: &str = "1357902468";

    struct Fixture {
        _dir: tempfile::TempDir,
        db: PathBuf,
        path: PathBuf,
        key: DbKey,
        e: SeededEntropy,
        t0: Instant,
    }

    const ANA: Uuid = Uuid::from_u128(1);
    const BEN: Uuid = Uuid::from_u128(2);

    /// A slots file with Ana's and Ben's slots, saved.
    fn fixture() -> (Fixture, KeySlots, Lockout) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("s.db");
        let path = path_for(&db);
        let mut e = SeededEntropy::new(1);
        let key = DbKey::generate(&mut e);
        let lockout = Lockout::for_store(&db, &mut e).expect("seal");
        let mut slots = KeySlots::new(Uuid::from_u128(7));
        for (who, secret) in [(ANA, ANA_SECRET), (BEN, BEN_PIN)] {
            slots
                .add(
                    who,
                    &Secret::new(secret),
                    &key,
                    KdfParams::FOR_TESTS,
                    &lockout,
                    &mut e,
                )
                .expect("add");
        }
        slots.save(&path).expect("save");
        let f = Fixture {
            _dir: dir,
            db,
            path,
            key,
            e,
            t0: Instant::now(),
        };
        (f, slots, lockout)
    }

    fn after(f: &Fixture, secs: u64) -> Instant {
        f.t0 + Duration::from_secs(secs)
    }

    /// Rewrites the file's JSON with `edit` (what someone with access to the folder can do).
    fn edit_file(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
        edit(&mut v);
        std::fs::write(path, serde_json::to_vec(&v).expect("encode")).expect("write");
    }

    fn record_mut(v: &mut serde_json::Value, who: Uuid) -> &mut serde_json::Value {
        v["attempts"]
            .as_array_mut()
            .expect("attempts")
            .iter_mut()
            .find(|r| r["person_id"] == who.to_string())
            .expect("record")
    }

    /// Three wrong attempts for `who`, at `now`, through a freshly loaded file each time.
    fn three_failures(f: &Fixture, lockout: &mut Lockout, who: Uuid, now: Instant) {
        for n in 1..=3 {
            let mut slots = KeySlots::load(&f.path).expect("load");
            let err = slots
                .unlock(&f.path, who, &Secret::new("wrong-guess-1"), lockout, now)
                .err();
            assert!(
                matches!(err, Some(Error::Locked { failures, .. }) if failures == n),
                "attempt {n} is counted: {err:?}"
            );
        }
    }

    #[test]
    fn each_person_unlocks_the_same_key_with_their_own_secret() {
        let (f, mut slots, mut lockout) = fixture();
        let a = slots
            .unlock(&f.path, ANA, &Secret::new(ANA_SECRET), &mut lockout, f.t0)
            .expect("ana");
        let b = slots
            .unlock(&f.path, BEN, &Secret::new(BEN_PIN), &mut lockout, f.t0)
            .expect("ben");
        assert_eq!(*a.0, *f.key.0, "ana's slot unwraps the database key");
        assert_eq!(*b.0, *f.key.0, "ben's slot unwraps the same key");
        let err = slots
            .unlock(&f.path, ANA, &Secret::new(BEN_PIN), &mut lockout, f.t0)
            .err()
            .expect("ben's PIN does not open ana's slot");
        assert!(matches!(
            err,
            Error::Locked {
                failures: 1,
                retry_in: None
            }
        ));
    }

    #[test]
    fn repeated_failures_are_delayed_and_a_restart_waits_in_full() {
        let (f, _, mut lockout) = fixture();
        three_failures(&f, &mut lockout, ANA, f.t0);
        let mut slots = KeySlots::load(&f.path).expect("load");
        let err = slots
            .unlock(
                &f.path,
                ANA,
                &Secret::new(ANA_SECRET),
                &mut lockout,
                after(&f, 10),
            )
            .err();
        assert!(
            matches!(err, Some(Error::LockedOut { failures: 3, retry_in }) if retry_in == Duration::from_secs(20)),
            "the right secret is not even tried while locked out: {err:?}"
        );
        // A restart (a new process, a new lockout) 10 s in: the wait starts again in full.
        let mut restarted = Lockout::for_store(&f.db, &mut f.e.clone()).expect("seal");
        let err = slots
            .unlock(
                &f.path,
                ANA,
                &Secret::new(ANA_SECRET),
                &mut restarted,
                after(&f, 10),
            )
            .err();
        assert!(
            matches!(err, Some(Error::LockedOut { failures: 3, retry_in }) if retry_in == Duration::from_secs(30)),
            "a restart cannot know how much of the wait went by, so it waits it all: {err:?}"
        );
        slots
            .unlock(
                &f.path,
                ANA,
                &Secret::new(ANA_SECRET),
                &mut lockout,
                after(&f, 30),
            )
            .expect("after the delay");
        assert_eq!(
            lockout.wait_left(&slots, ANA, after(&f, 30)),
            None,
            "a success resets the count"
        );
        let reloaded = KeySlots::load(&f.path).expect("load");
        assert_eq!(
            reloaded.count_in_file(ANA, lockout.seal.as_ref()),
            0,
            "and the file says so, sealed"
        );
    }

    #[test]
    fn editing_the_count_to_zero_while_the_app_runs_changes_nothing() {
        let (f, _, mut lockout) = fixture();
        three_failures(&f, &mut lockout, ANA, f.t0);
        edit_file(&f.path, |v| record_mut(v, ANA)["count"] = 0.into());
        let mut slots = KeySlots::load(&f.path).expect("load");
        let err = slots
            .unlock(
                &f.path,
                ANA,
                &Secret::new(ANA_SECRET),
                &mut lockout,
                after(&f, 1),
            )
            .err();
        assert!(
            matches!(err, Some(Error::LockedOut { failures, .. }) if failures >= 3),
            "the app remembers the count, and a count of 0 without its tag is not believed: {err:?}"
        );
        // Even after a restart the edited record is not believed: it counts as the longest wait.
        let mut restarted = Lockout::for_store(&f.db, &mut f.e.clone()).expect("seal");
        assert_eq!(
            restarted.wait_left(&slots, ANA, after(&f, 1)),
            delay(TAMPERED_COUNT),
            "an edited record locks rather than unlocks"
        );
    }

    #[test]
    fn a_missing_garbled_or_forged_record_locks_with_the_longest_wait() {
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 5] = [
            ("deleted", |v| {
                v["attempts"]
                    .as_array_mut()
                    .expect("attempts")
                    .retain(|r| r["person_id"] != ANA.to_string())
            }),
            ("all records deleted", |v| {
                v.as_object_mut().expect("object").remove("attempts");
            }),
            ("garbled count", |v| {
                record_mut(v, ANA)["count"] = "zero".into()
            }),
            ("garbled tag", |v| {
                record_mut(v, ANA)["tag"] = "not hex".into()
            }),
            ("Ben's record copied onto Ana", |v| {
                let ben = record_mut(v, BEN).clone();
                let ana = record_mut(v, ANA);
                ana["count"] = ben["count"].clone();
                ana["tag"] = ben["tag"].clone();
            }),
        ];
        for (name, edit) in cases {
            let (f, _, _) = fixture();
            edit_file(&f.path, edit);
            let slots = KeySlots::load(&f.path).expect("the slots themselves still load");
            let mut fresh = Lockout::for_store(&f.db, &mut f.e.clone()).expect("seal");
            assert_eq!(
                fresh.wait_left(&slots, ANA, f.t0),
                Some(Duration::from_secs(MAX_DELAY_SECS)),
                "{name}: counts as locked, never as zero"
            );
        }
        // A deleted seal key: a new one is made and no old record verifies.
        let (f, slots, _) = fixture();
        std::fs::remove_file(FileSeal::path_for(&f.db)).expect("remove seal");
        let mut fresh = Lockout::for_store(&f.db, &mut SeededEntropy::new(99)).expect("seal");
        assert_eq!(
            fresh.wait_left(&slots, BEN, f.t0),
            Some(Duration::from_secs(MAX_DELAY_SECS)),
            "a deleted seal key locks everyone once"
        );
        let mut slots = slots;
        slots
            .unlock(
                &f.path,
                BEN,
                &Secret::new(BEN_PIN),
                &mut fresh,
                after(&f, MAX_DELAY_SECS),
            )
            .expect("after the wait the right PIN works and reseals the record");
        let mut again = Lockout::for_store(&f.db, &mut SeededEntropy::new(5)).expect("seal");
        assert_eq!(
            again.wait_left(&slots, BEN, after(&f, MAX_DELAY_SECS)),
            None
        );
    }

    #[test]
    fn one_persons_failures_do_not_delay_another() {
        let (f, _, mut lockout) = fixture();
        three_failures(&f, &mut lockout, ANA, f.t0);
        let mut slots = KeySlots::load(&f.path).expect("load");
        assert!(lockout.wait_left(&slots, ANA, f.t0).is_some());
        slots
            .unlock(&f.path, BEN, &Secret::new(BEN_PIN), &mut lockout, f.t0)
            .expect("Ben is not delayed by Ana's failures");
        assert!(
            lockout.wait_left(&slots, ANA, f.t0).is_some(),
            "and Ben's success does not forgive Ana's"
        );
    }

    #[test]
    fn a_version_1_file_keeps_its_count_and_is_upgraded() {
        let (f, _, mut lockout) = fixture();
        edit_file(&f.path, |v| {
            let o = v.as_object_mut().expect("object");
            o.remove("attempts");
            o.insert("version".into(), 1.into());
            o.insert(
                "failures".into(),
                serde_json::json!({"count": 4, "last_at": "2026-11-30T10:00:00Z"}),
            );
        });
        let mut slots = KeySlots::load(&f.path).expect("load");
        assert_eq!(
            lockout.wait_left(&slots, BEN, f.t0),
            delay(4),
            "the old device-wide count applies to everyone"
        );
        slots
            .unlock(
                &f.path,
                BEN,
                &Secret::new(BEN_PIN),
                &mut lockout,
                after(&f, 60),
            )
            .expect("after the wait");
        let upgraded = KeySlots::load(&f.path).expect("load");
        assert_eq!(upgraded.version, FORMAT_VERSION);
        assert_eq!(upgraded.count_in_file(BEN, lockout.seal.as_ref()), 0);
        assert_eq!(
            upgraded.count_in_file(ANA, lockout.seal.as_ref()),
            4,
            "Ana's count is carried into her own sealed record"
        );
    }

    #[test]
    fn weak_secrets_are_refused_with_the_rule_and_strong_ones_accepted() {
        let policy = SecretPolicy::current();
        let digits = |n: usize| "2468135790".repeat(3)[..n].to_string();
        let letters = |n: usize| "kestrelowlhawk".repeat(2)[..n].to_string();
        let cases = [
            ("123456".to_string(), false, "a 6-digit PIN"),
            (digits(policy.min_digits - 1), false, "one digit short"),
            (digits(policy.min_digits), true, "the shortest PIN accepted"),
            (
                letters(policy.min_with_letters - 1),
                false,
                "one letter short",
            ),
            (
                letters(policy.min_with_letters),
                true,
                "the shortest passphrase accepted",
            ),
            ("Gt4b2xQ9".to_string(), true, "8 of upper, lower and digits"),
            ("".to_string(), false, "empty"),
        ];
        for (secret, ok, what) in &cases {
            assert_eq!(
                Secret::new(secret.as_str()).meets_policy(),
                *ok,
                "{what}: {secret}"
            );
        }
        let (f, mut slots, lockout) = fixture();
        let mut e = f.e.clone();
        let err = slots
            .add(
                Uuid::from_u128(3),
                &Secret::new("123456"),
                &f.key,
                KdfParams::FOR_TESTS,
                &lockout,
                &mut e,
            )
            .expect_err("a 6-digit PIN is refused");
        assert!(
            matches!(&err, Error::Invalid { field, reason } if field == "passphrase"
                && reason.contains(&format!("at least {} digits", policy.min_digits))
                && reason.contains(&format!("at least {} characters", policy.min_with_letters))),
            "the message says what would do: {err:?}"
        );
    }

    #[test]
    fn a_slot_made_under_the_old_rule_still_unlocks() {
        let (f, mut slots, mut lockout) = fixture();
        let old = Uuid::from_u128(3);
        let mut e = f.e.clone();
        slots
            .add_slot(
                old,
                &Secret::new("246810"),
                &f.key,
                KdfParams::FOR_TESTS,
                &lockout,
                &mut e,
            )
            .expect("an old 6-digit slot");
        let key = slots
            .unlock(&f.path, old, &Secret::new("246810"), &mut lockout, f.t0)
            .expect("the policy applies to new secrets, not to unlocking");
        assert_eq!(*key.0, *f.key.0);
        assert!(
            !Secret::new("246810").meets_policy(),
            "and the app can tell its owner to choose a new one"
        );
    }

    #[test]
    fn the_policy_follows_from_the_measured_cost() {
        let bits = (MIN_SEARCH_CORE_SECONDS / DEFAULT_GUESS_CORE_SECONDS).log2();
        assert!(
            MIN_SECRET_BITS >= bits && MIN_SECRET_BITS - bits < 0.1,
            "MIN_SECRET_BITS is log2(100 core-years / one guess) = {bits:.3}, rounded up"
        );
        let p = SecretPolicy::current();
        for (alphabet, len) in [(10.0f64, p.min_digits), (26.0, p.min_with_letters)] {
            let core_seconds = alphabet.powi(len as i32) * DEFAULT_GUESS_CORE_SECONDS;
            assert!(
                core_seconds >= MIN_SEARCH_CORE_SECONDS,
                "the shortest accepted secret of {alphabet} symbols costs 100 core-years to search"
            );
        }
    }

    #[test]
    fn removing_the_last_slot_is_refused() {
        let (f, mut slots, _) = fixture();
        slots.remove(BEN).expect("remove ben");
        assert!(
            slots.record_of(BEN).is_none(),
            "his record goes with his slot"
        );
        assert!(matches!(slots.remove(ANA), Err(Error::Conflict(_))));
        drop(f);
    }
}

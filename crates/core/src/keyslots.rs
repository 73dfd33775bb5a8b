//! Key slots: who may unlock a device's encrypted store.
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
//! one. Failed attempts are counted in the same file; after [`FREE_ATTEMPTS`] each further
//! attempt must wait twice as long as the one before (30 s, 1 min, 2 min, ... up to 15 min).
//! The counter is a brake on guessing at the keypad, not a cryptographic guarantee: someone
//! who can copy the files faces Argon2id's cost per guess instead.

use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::entropy::Entropy;
use crate::error::{Error, Result};

/// Failed attempts allowed before attempts are delayed.
pub const FREE_ATTEMPTS: u32 = 3;
const FIRST_DELAY_SECS: i64 = 30;
const MAX_DELAY_SECS: i64 = 15 * 60;
const FORMAT_VERSION: u32 = 1;

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

/// A person's passphrase or PIN. At least 6 characters; wiped when dropped.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a passphrase or PIN.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(Zeroizing::new(s.into()))
    }

    fn validate(&self) -> Result<()> {
        if self.0.chars().count() < 6 {
            return Err(Error::invalid(
                "passphrase",
                "must be at least 6 characters (or a 6-digit PIN)",
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
    /// What the app uses: 32 MiB, 2 passes, 1 lane (about 50–100 ms on this project's reference
    /// machine; see `docs/performance.md`). Above OWASP's minimum for Argon2id (19 MiB, 2).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 32 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// Deliberately weak parameters so tests run fast. Never for real devices.
    pub const FOR_TESTS: KdfParams = KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    fn derive(&self, secret: &Secret, salt: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| Error::invalid("kdf", e.to_string()))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret.0.as_bytes(), salt, out.as_mut())
            .map_err(|e| Error::invalid("kdf", e.to_string()))?;
        Ok(out)
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Failures {
    count: u32,
    last_at: Option<DateTime<Utc>>,
}

/// The contents of the `.keys` file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeySlots {
    version: u32,
    device_id: Uuid,
    slots: Vec<Slot>,
    failures: Failures,
}

/// Where the key slots of the store at `db` live.
pub fn path_for(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".keys");
    PathBuf::from(p)
}

impl KeySlots {
    /// New, empty slots for a device.
    pub fn new(device_id: Uuid) -> Self {
        KeySlots {
            version: FORMAT_VERSION,
            device_id,
            slots: Vec::new(),
            failures: Failures::default(),
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
        let tmp = {
            let mut p = path.as_os_str().to_owned();
            p.push(".tmp");
            PathBuf::from(p)
        };
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename itself durable.
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Adds (or replaces) `person`'s slot wrapping `key` under `secret`.
    pub fn add(
        &mut self,
        person: Uuid,
        secret: &Secret,
        key: &DbKey,
        kdf: KdfParams,
        entropy: &mut dyn Entropy,
    ) -> Result<()> {
        secret.validate()?;
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
        Ok(())
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
        Ok(())
    }

    /// When the next attempt is allowed, if attempts are being delayed now.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        let f = &self.failures;
        if f.count < FREE_ATTEMPTS {
            return None;
        }
        let doublings = (f.count - FREE_ATTEMPTS).min(16);
        let delay = (FIRST_DELAY_SECS << doublings).min(MAX_DELAY_SECS);
        f.last_at.map(|t| t + Duration::seconds(delay))
    }

    /// Unwraps the database key for `person` with `secret`, counting failures in the file at
    /// `path`. A wrong secret and a person without a slot look the same from outside.
    pub fn unlock(
        &mut self,
        path: &Path,
        person: Uuid,
        secret: &Secret,
        now: DateTime<Utc>,
    ) -> Result<DbKey> {
        if let Some(retry_at) = self.retry_at().filter(|t| now < *t) {
            return Err(Error::LockedOut {
                failures: self.failures.count,
                retry_at,
            });
        }
        match self.try_unwrap(person, secret) {
            Some(key) => {
                if self.failures.count > 0 {
                    self.failures = Failures::default();
                    self.save(path)?;
                }
                Ok(key)
            }
            None => {
                self.failures.count += 1;
                self.failures.last_at = Some(now);
                self.save(path)?;
                Err(Error::Locked {
                    failures: self.failures.count,
                    retry_at: self.retry_at(),
                })
            }
        }
    }

    fn try_unwrap(&self, person: Uuid, secret: &Secret) -> Option<DbKey> {
        let slot = self.slots.iter().find(|s| s.person_id == person)?;
        let kek = slot.kdf.derive(secret, &slot.salt).ok()?;
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
        Some(DbKey(key))
    }

    /// Binds each wrapped key to its device and person, so slots cannot be swapped.
    fn aad(&self, person: Uuid) -> Vec<u8> {
        let mut aad = b"rounds-keyslot-v1".to_vec();
        aad.extend_from_slice(self.device_id.as_bytes());
        aad.extend_from_slice(person.as_bytes());
        aad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    fn t(s: &str) -> DateTime<Utc> {
        format!("2026-11-30T{s}Z").parse().expect("time")
    }

    #[test]
    fn each_person_unlocks_the_same_key_with_their_own_secret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.keys");
        let mut e = SeededEntropy::new(1);
        let key = DbKey::generate(&mut e);
        let (ana, ben) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut slots = KeySlots::new(Uuid::from_u128(7));
        slots
            .add(
                ana,
                &Secret::new("ana-secret"),
                &key,
                KdfParams::FOR_TESTS,
                &mut e,
            )
            .expect("add");
        slots
            .add(
                ben,
                &Secret::new("135790"),
                &key,
                KdfParams::FOR_TESTS,
                &mut e,
            )
            .expect("add");
        slots.save(&path).expect("save");
        let mut loaded = KeySlots::load(&path).expect("load");
        let a = loaded
            .unlock(&path, ana, &Secret::new("ana-secret"), t("10:00:00"))
            .expect("ana");
        let b = loaded
            .unlock(&path, ben, &Secret::new("135790"), t("10:00:00"))
            .expect("ben");
        assert_eq!(*a.0, *key.0, "ana's slot unwraps the database key");
        assert_eq!(*b.0, *key.0, "ben's slot unwraps the same key");
        let err = loaded
            .unlock(&path, ana, &Secret::new("135790"), t("10:00:00"))
            .err()
            .expect("ben's PIN does not open ana's slot");
        assert!(matches!(
            err,
            Error::Locked {
                failures: 1,
                retry_at: None
            }
        ));
    }

    #[test]
    fn repeated_failures_are_delayed_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.keys");
        let mut e = SeededEntropy::new(2);
        let key = DbKey::generate(&mut e);
        let ana = Uuid::from_u128(1);
        let mut slots = KeySlots::new(Uuid::from_u128(7));
        slots
            .add(
                ana,
                &Secret::new("ana-secret"),
                &key,
                KdfParams::FOR_TESTS,
                &mut e,
            )
            .expect("add");
        slots.save(&path).expect("save");
        for n in 1..=3 {
            let err = slots
                .unlock(&path, ana, &Secret::new("wrong!"), t("10:00:00"))
                .err();
            assert!(matches!(err, Some(Error::Locked { failures, .. }) if failures == n));
        }
        // Reloading the file (an app restart) keeps the count and the delay.
        let mut slots = KeySlots::load(&path).expect("load");
        let err = slots
            .unlock(&path, ana, &Secret::new("ana-secret"), t("10:00:10"))
            .err();
        assert!(
            matches!(err, Some(Error::LockedOut { failures: 3, retry_at }) if retry_at == t("10:00:30")),
            "the right secret is not even tried while locked out: {err:?}"
        );
        slots
            .unlock(&path, ana, &Secret::new("ana-secret"), t("10:00:30"))
            .expect("after the delay");
        assert!(slots.retry_at().is_none(), "a success resets the count");
    }

    #[test]
    fn short_secrets_and_removing_the_last_slot_are_refused() {
        let mut e = SeededEntropy::new(3);
        let key = DbKey::generate(&mut e);
        let mut slots = KeySlots::new(Uuid::from_u128(7));
        let err = slots.add(
            Uuid::from_u128(1),
            &Secret::new("123"),
            &key,
            KdfParams::FOR_TESTS,
            &mut e,
        );
        assert!(matches!(err, Err(Error::Invalid { field, .. }) if field == "passphrase"));
        slots
            .add(
                Uuid::from_u128(1),
                &Secret::new("123456"),
                &key,
                KdfParams::FOR_TESTS,
                &mut e,
            )
            .expect("add");
        assert!(matches!(
            slots.remove(Uuid::from_u128(1)),
            Err(Error::Conflict(_))
        ));
    }
}

//! Photos on the device: files addressed by their hash, sealed so they do not leak.
//!
//! Terms:
//! - **hash**: a photo's content address, the SHA-256 of its bytes as 64 lowercase hex digits.
//!   Documents reference photos by it (`CheckInput::photos`, `IncidentInput::photos`,
//!   `IncidentEdit::add_photos`); the server checks it when the upload completes.
//! - **photo folder**: `<database file>.photos/` beside the database (`device.db` →
//!   `device.db.photos/`), named like the key slots file (`device.db.keys`) so that two stores
//!   in one folder never share photos.
//! - **sealed file**: `<photo folder>/<hash>`, holding `RNDP`, a format byte (1), a random
//!   24-byte nonce, then the photo encrypted with XChaCha20-Poly1305 under the photo key, with
//!   the magic, format byte and hash as associated data (a file renamed to another hash does
//!   not open).
//! - **photo key**: 32 random bytes made when the first photo is added and kept in the
//!   `secrets` table of the (SQLCipher-encrypted) database.
//!
//! Why sealed files: the database is encrypted, and a photo of an incident is at least as
//! sensitive as its narrative, so photos must not sit on the device in the clear like a camera
//! roll. They stay files (not rows) so that a 15 MiB photo never goes through the database's
//! write-ahead log and the database stays small. The store never keeps the database key in
//! memory, so the photo key cannot be derived from it; a random key inside the encrypted
//! database is unlocked by exactly the same key slots as the records, and a device wiped of its
//! key slots leaves its photos unreadable too. What the files do show: how many photos there
//! are, their sizes, and their hashes (the file names), so someone holding a copy of a photo
//! can tell whether this device took it, but learns nothing they did not already have.
//!
//! Writing is atomic: the sealed bytes go to a temporary file in the photo folder, which is
//! fsynced, renamed over `<hash>`, and the folder is fsynced; only then is the `photos` row
//! inserted. A crash leaves either no file, or a whole file without a row (the next
//! [`Store::add_photo`] of the same bytes writes it again), never a row without its file.
//!
//! Uploading: a photo goes to the server once for each record it is attached to (the server
//! takes an upload only for a named record the uploader may write). Attaching it, in the same
//! transaction as the check or incident change that refers to it, writes a `photo_records`
//! row naming the record and the person; [`Store::photo_uploads_waiting`] lists the unlocked
//! person's rows not yet confirmed, the sync client sends each one's plaintext and calls
//! [`Store::mark_photo_uploaded_for`] once the server holds it for that record (see
//! `crate::client`). On a shared phone each person's photos go in their own session. A photo
//! attached to nothing stays on the device and is not uploaded.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{Store, ms};
use crate::entropy::Entropy;
use crate::error::{Error, Result};
use crate::model::is_photo_hash;
use uuid::Uuid;

/// Largest photo the device keeps (the server accepts no more either).
const MAX_PHOTO_BYTES: u64 = rounds_protocol::MAX_PHOTO_BYTES;

/// The start of every sealed file: `RNDP` and the format version.
const FILE_MAGIC: &[u8; 5] = b"RNDP\x01";
const NONCE_LEN: usize = 24;

/// One upload the sync client owes the server: a photo, for one record it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingPhoto {
    /// The photo's hash.
    pub hash: String,
    /// The shift or incident it belongs to.
    pub record: Uuid,
}

/// Ties the photos among `hashes` that this device holds to `record`, in the name of
/// `person`, inside the transaction that records the change referring to them.
pub(super) fn attach(
    tx: &rusqlite::Transaction<'_>,
    record: Uuid,
    hashes: &[String],
    person: Uuid,
) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO photo_records (hash, record_id, person_id)
         SELECT hash, ?2, ?3 FROM photos WHERE hash = ?1",
    )?;
    for h in hashes {
        stmt.execute(params![h, record.to_string(), person.to_string()])?;
    }
    Ok(())
}
const KEY_NAME: &str = "photo_key";

impl Store {
    /// Keeps a photo: checks it is a JPEG, PNG or WebP image of at most 15 MiB, seals it into
    /// the photo folder under its hash, and records it as waiting for upload. Returns the hash
    /// to put in a document. Adding the same bytes again returns the same hash and writes
    /// nothing (unless the file went missing, then it is written again).
    ///
    /// Errors: [`Error::Invalid`] (field `photo`) for an empty, oversized or non-image photo.
    pub fn add_photo(
        &mut self,
        bytes: &[u8],
        now: DateTime<Utc>,
        entropy: &mut dyn Entropy,
    ) -> Result<String> {
        check_image(bytes)?;
        let hash = hex::encode(Sha256::digest(bytes));
        let dir = self.photo_dir();
        let path = dir.join(&hash);
        if self.photo_known(&hash)? && path.is_file() {
            return Ok(hash);
        }
        let key = self.photo_key(entropy)?;
        let sealed = seal(&key, &hash, bytes, entropy)?;
        ensure_dir(&dir)?;
        write_atomically(&dir, &hash, &sealed, entropy)?;
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO photos (hash, bytes, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![hash, bytes.len() as i64, ms(now)])?;
        Ok(hash)
    }

    /// The sealed file of a photo the device holds (its content is encrypted: read the photo
    /// with [`Store::photo_bytes`]).
    ///
    /// Errors: [`Error::Invalid`] for a malformed hash, [`Error::NotFound`] for a photo this
    /// device does not hold.
    pub fn photo_path(&self, hash: &str) -> Result<PathBuf> {
        check_hash(hash)?;
        if !self.photo_known(hash)? {
            return Err(Error::not_found("photo", hash));
        }
        Ok(self.photo_dir().join(hash))
    }

    /// A photo's bytes, unsealed and checked against its hash.
    ///
    /// Errors: as [`Store::photo_path`], and [`Error::Corrupt`] when the file is missing,
    /// damaged, or does not hold that photo.
    pub fn photo_bytes(&self, hash: &str) -> Result<Vec<u8>> {
        let path = self.photo_path(hash)?;
        let corrupt = |detail: String| Error::Corrupt {
            path: path.display().to_string(),
            detail,
        };
        let sealed = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(corrupt("the photo's file is missing".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let key = self
            .stored_photo_key()?
            .ok_or_else(|| corrupt("the photo key is missing from the database".into()))?;
        let plain = open(&key, hash, &sealed).map_err(corrupt)?;
        if hex::encode(Sha256::digest(&plain)) != hash {
            return Err(corrupt(
                "the file does not hold the photo with this hash".into(),
            ));
        }
        Ok(plain)
    }

    /// Photos the server has not confirmed yet, oldest first: `(hash, size in bytes)`.
    pub fn pending_photos(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, bytes FROM photos WHERE uploaded = 0 ORDER BY created_at, hash",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many of the unlocked person's photos wait for the server (attached to a record, not
    /// yet confirmed for it).
    pub fn pending_photo_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(DISTINCT hash) FROM photo_records WHERE uploaded = 0 AND person_id = ?1",
            )?
            .query_row(params![self.person_id.to_string()], |r| r.get(0))?;
        Ok(n.max(0) as u64)
    }

    /// The unlocked person's photo uploads the server has not confirmed: one per record a photo
    /// is attached to, oldest photo first.
    pub fn photo_uploads_waiting(&self) -> Result<Vec<WaitingPhoto>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.hash, r.record_id FROM photo_records r JOIN photos p ON p.hash = r.hash
             WHERE r.uploaded = 0 AND r.person_id = ?1
             ORDER BY p.created_at, r.hash, r.record_id",
        )?;
        let rows = stmt.query_map(params![self.person_id.to_string()], |r| {
            Ok(WaitingPhoto {
                hash: r.get(0)?,
                record: super::parse_uuid(&r.get::<_, String>(1)?)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that the server holds the photo for `record` (idempotent); once it holds it for
    /// every record it is attached to, the photo no longer waits.
    ///
    /// Errors: [`Error::Invalid`] for a malformed hash, [`Error::NotFound`] for a photo not
    /// attached to that record here.
    pub fn mark_photo_uploaded_for(&mut self, hash: &str, record: Uuid) -> Result<()> {
        check_hash(hash)?;
        let tx = self.conn.transaction()?;
        let n = tx
            .prepare_cached(
                "UPDATE photo_records SET uploaded = 1 WHERE hash = ?1 AND record_id = ?2",
            )?
            .execute(params![hash, record.to_string()])?;
        if n == 0 {
            return Err(Error::not_found(
                "photo of record",
                format!("{hash} of {record}"),
            ));
        }
        tx.prepare_cached(
            "UPDATE photos SET uploaded = 1 WHERE hash = ?1
             AND NOT EXISTS (SELECT 1 FROM photo_records WHERE hash = ?1 AND uploaded = 0)",
        )?
        .execute(params![hash])?;
        tx.commit()?;
        Ok(())
    }

    /// Records that the server holds the whole photo for every record (idempotent).
    ///
    /// Errors: [`Error::Invalid`] for a malformed hash, [`Error::NotFound`] for a photo this
    /// device does not hold.
    pub fn mark_photo_uploaded(&mut self, hash: &str) -> Result<()> {
        check_hash(hash)?;
        let n = self
            .conn
            .prepare_cached("UPDATE photos SET uploaded = 1 WHERE hash = ?1")?
            .execute(params![hash])?;
        if n == 0 {
            return Err(Error::not_found("photo", hash));
        }
        self.conn
            .prepare_cached("UPDATE photo_records SET uploaded = 1 WHERE hash = ?1")?
            .execute(params![hash])?;
        Ok(())
    }

    fn photo_dir(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_owned();
        p.push(".photos");
        PathBuf::from(p)
    }

    fn photo_known(&self, hash: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM photos WHERE hash = ?1")?
            .query_row(params![hash], |_| Ok(()))
            .optional()?
            .is_some())
    }

    fn stored_photo_key(&self) -> Result<Option<Zeroizing<[u8; 32]>>> {
        let value: Option<Zeroizing<Vec<u8>>> = self
            .conn
            .prepare_cached("SELECT value FROM secrets WHERE name = ?1")?
            .query_row(params![KEY_NAME], |r| r.get::<_, Vec<u8>>(0))
            .optional()?
            .map(Zeroizing::new);
        let Some(value) = value else {
            return Ok(None);
        };
        let mut key = Zeroizing::new([0u8; 32]);
        if value.len() != key.len() {
            return Err(Error::Corrupt {
                path: self.path.display().to_string(),
                detail: format!("the photo key is {} bytes, not 32", value.len()),
            });
        }
        key.copy_from_slice(&value);
        Ok(Some(key))
    }

    /// The photo key, made on first use. Another connection to the same store may make it at
    /// the same moment: whichever insert lands first is the key both use.
    fn photo_key(&mut self, entropy: &mut dyn Entropy) -> Result<Zeroizing<[u8; 32]>> {
        if let Some(k) = self.stored_photo_key()? {
            return Ok(k);
        }
        let mut fresh = Zeroizing::new([0u8; 32]);
        entropy.fill(fresh.as_mut());
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)")?
            .execute(params![KEY_NAME, fresh.as_slice()])?;
        self.stored_photo_key()?
            .ok_or_else(|| Error::internal("making the photo key", "it was not stored"))
    }
}

/// Refuses what is not a photo this app keeps: empty, over 15 MiB, or not JPEG/PNG/WebP
/// (judged by the first bytes, which every file of those formats starts with).
fn check_image(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Err(Error::invalid("photo", "is empty"));
    }
    if bytes.len() as u64 > MAX_PHOTO_BYTES {
        return Err(Error::invalid(
            "photo",
            format!(
                "is {} bytes; at most {} MiB are kept",
                bytes.len(),
                MAX_PHOTO_BYTES / (1024 * 1024)
            ),
        ));
    }
    if crate::model::ImageType::of(bytes).is_none() {
        return Err(Error::invalid("photo", "is not a JPEG, PNG or WebP image"));
    }
    Ok(())
}

fn check_hash(hash: &str) -> Result<()> {
    if is_photo_hash(hash) {
        Ok(())
    } else {
        Err(Error::invalid(
            "photo",
            "is not a SHA-256 content hash (64 lowercase hex digits)",
        ))
    }
}

fn associated_data(hash: &str) -> Vec<u8> {
    let mut aad = FILE_MAGIC.to_vec();
    aad.extend_from_slice(hash.as_bytes());
    aad
}

fn seal(key: &[u8; 32], hash: &str, plain: &[u8], entropy: &mut dyn Entropy) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    entropy.fill(&mut nonce);
    let ciphertext = XChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: &associated_data(hash),
            },
        )
        .map_err(|_| Error::internal("sealing a photo", "encryption failed"))?;
    let mut out = Vec::with_capacity(FILE_MAGIC.len() + NONCE_LEN + ciphertext.len());
    out.extend_from_slice(FILE_MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open(key: &[u8; 32], hash: &str, sealed: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let rest = sealed
        .strip_prefix(FILE_MAGIC.as_slice())
        .ok_or("the file is not a sealed Rounds photo")?;
    if rest.len() < NONCE_LEN {
        return Err("the file is truncated".into());
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    XChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &associated_data(hash),
            },
        )
        .map_err(|_| "the file is damaged or belongs to another photo or store".into())
}

/// Creates the photo folder, durably, if it is not there.
fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    sync_parent(dir)
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Writes `<dir>/<name>` so that it holds either its old content or all of `bytes`, and the
/// result survives a power cut.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8], entropy: &mut dyn Entropy) -> Result<()> {
    let mut suffix = [0u8; 8];
    entropy.fill(&mut suffix);
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let written = (|| -> std::io::Result<()> {
        let mut f = fs::File::create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e.into());
    }
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

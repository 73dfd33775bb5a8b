//! [`PhotoStore`] as files under one folder (the embedded backend's `<data>/photos`): each
//! device's partial file of an upload in progress (`partial/<device>/<hash>`), appended chunk
//! by chunk and fsynced before it is acknowledged, and the complete file (`<hash>`), checked
//! against its SHA-256 and moved into place durably. Pure of HTTP and of the database, so
//! tests call it directly; the exchange and its rules are [`crate::photos`].
//!
//! Requests for the same hash are serialised by an exclusive file lock (`flock`) on one of 256
//! lock files (`locks/<first two hex digits>`), which holds between threads of this process
//! and between processes sharing the folder alike.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rounds_protocol::PhotoStatus;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::photo_store::{Appended, ChunkStep, PhotoLock, PhotoStore, plan_chunk};

/// The photo files under one folder; pure of HTTP so tests can call it.
#[derive(Debug, Clone)]
pub struct PhotoFiles {
    dir: PathBuf,
}

impl PhotoFiles {
    /// The photo files under `dir`.
    pub fn new(dir: PathBuf) -> Self {
        PhotoFiles { dir }
    }

    /// Where the complete photo is (or will be).
    pub fn complete_path(&self, hash: &str) -> PathBuf {
        self.dir.join(hash)
    }

    /// Writes a complete photo whose bytes were checked against `hash` already (a restore),
    /// durably: to a temporary file first, moved into place when whole.
    pub fn put_complete(&self, hash: &str, bytes: &[u8]) -> std::io::Result<()> {
        create_dir_durably(&self.dir)?;
        let tmp = self.dir.join(format!("{hash}.restoring"));
        {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.complete_path(hash))?;
        File::open(&self.dir)?.sync_all()
    }

    /// Where `device`'s upload in progress of a photo is.
    pub fn partial_path(&self, device: Uuid, hash: &str) -> PathBuf {
        self.dir.join("partial").join(device.to_string()).join(hash)
    }
}

impl PhotoStore for PhotoFiles {
    fn lock(&self, hash: &str) -> std::io::Result<PhotoLock> {
        let dir = self.dir.join("locks");
        fs::create_dir_all(&dir)?;
        let stripe = hash
            .get(..2)
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or("00");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(stripe))?;
        f.lock()?;
        Ok(PhotoLock::new(f))
    }

    fn received(&self, device: Uuid, hash: &str) -> std::io::Result<u64> {
        Ok(file_len(&self.partial_path(device, hash))?.unwrap_or(0))
    }

    fn partial_bytes(&self, device: Uuid) -> std::io::Result<u64> {
        let dir = self.dir.join("partial").join(device.to_string());
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for e in entries {
            n += e?.metadata()?.len();
        }
        Ok(n)
    }

    fn remove_partials_before(&self, cutoff: DateTime<Utc>) -> std::io::Result<usize> {
        let cutoff = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_millis(cutoff.timestamp_millis().max(0) as u64);
        let root = self.dir.join("partial");
        let mut removed = 0;
        let mut stale = |path: &Path, m: &fs::Metadata| -> std::io::Result<()> {
            if m.modified()? < cutoff {
                fs::remove_file(path)?;
                removed += 1;
            }
            Ok(())
        };
        let entries = match fs::read_dir(&root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let m = e.metadata()?;
            if m.is_dir() {
                for f in fs::read_dir(e.path())? {
                    let f = f?;
                    stale(&f.path(), &f.metadata()?)?;
                }
            } else {
                stale(&e.path(), &m)?;
            }
        }
        Ok(removed)
    }

    fn append(
        &self,
        device: Uuid,
        hash: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended> {
        let partial = self.partial_path(device, hash);
        let plan = plan_chunk(self.received(device, hash)?, offset, total, chunk.len());
        if plan.restart {
            fs::remove_file(&partial)?;
        }
        let (skip, end) = match plan.step {
            ChunkStep::Gap { received } => return Ok(Appended::Gap { received }),
            ChunkStep::Repeat { received } => {
                return Ok(Appended::Held(PhotoStatus {
                    received,
                    complete: false,
                }));
            }
            ChunkStep::Write { skip, end } => (skip, end),
        };
        // What the upload held before this write (0 after a restart).
        let received = offset + skip as u64;
        let new = &chunk[skip..];
        let folder = partial.parent().map(Path::to_path_buf).unwrap_or_default();
        if received == 0 {
            create_dir_durably(&folder)?;
        }
        {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&partial)?;
            f.write_all(new)?;
            f.sync_data()?;
        }
        if received == 0 {
            File::open(&folder)?.sync_all()?;
        }
        if end < total {
            return Ok(Appended::Held(PhotoStatus {
                received: end,
                complete: false,
            }));
        }
        let actual = sha256_of(&partial)?;
        if actual != hash {
            fs::remove_file(&partial)?;
            return Ok(Appended::Mismatch { actual });
        }
        File::open(&partial)?.sync_all()?;
        fs::rename(&partial, self.complete_path(hash))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(Appended::Completed(PhotoStatus {
            received: total,
            complete: true,
        }))
    }

    fn complete_len(&self, hash: &str) -> std::io::Result<Option<u64>> {
        file_len(&self.complete_path(hash))
    }

    fn read(&self, hash: &str) -> std::io::Result<Option<Vec<u8>>> {
        match fs::read(self.complete_path(hash)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn remove(&self, hash: &str) -> std::io::Result<bool> {
        match fs::remove_file(self.complete_path(hash)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn file_len(path: &Path) -> std::io::Result<Option<u64>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    // The partial folder, the photo folder and the data folder may gain entries: make them
    // durable.
    let mut d = dir.parent();
    for _ in 0..3 {
        let Some(p) = d.filter(|p| !p.as_os_str().is_empty()) else {
            break;
        };
        File::open(p)?.sync_all()?;
        d = p.parent();
    }
    Ok(())
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::photo_store::contract;
    use super::*;

    fn store() -> (tempfile::TempDir, PhotoFiles) {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = PhotoFiles::new(dir.path().join("photos"));
        (dir, files)
    }

    #[test]
    fn chunks_append_in_order_and_the_whole_is_checked() {
        let (_dir, files) = store();
        contract::chunks_append_in_order_and_the_whole_is_checked(&files);
    }

    #[test]
    fn a_photo_whose_bytes_do_not_match_is_not_kept() {
        let (_dir, files) = store();
        contract::a_photo_whose_bytes_do_not_match_is_not_kept(&files);
    }

    #[test]
    fn a_hash_is_held_by_one_request_at_a_time_even_through_another_handle_on_the_folder() {
        let (dir, one) = store();
        // A second handle opens its own lock files, as another server process would.
        let other = Arc::new(PhotoFiles::new(dir.path().join("photos")));
        contract::a_hash_is_held_by_one_request_at_a_time_across_handles(&one, other);
    }

    #[test]
    fn uploads_left_unfinished_are_removed_after_the_cutoff() {
        let (_dir, files) = store();
        contract::uploads_left_unfinished_are_removed_after_the_cutoff(&files);
    }

    #[test]
    fn the_photo_is_a_file_named_by_its_hash_and_the_upload_a_file_of_its_device() {
        let (_dir, files) = store();
        let h = contract::hash(b"photo");
        let device = Uuid::from_u128(1);
        files.append(device, &h, 0, 5, b"pho").expect("append");
        assert!(files.partial_path(device, &h).is_file());
        files.append(device, &h, 3, 5, b"to").expect("append");
        assert_eq!(fs::read(files.complete_path(&h)).expect("file"), b"photo");
        assert!(!files.partial_path(device, &h).exists(), "moved into place");
    }
}

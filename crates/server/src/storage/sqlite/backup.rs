//! Backing up the embedded store while the server keeps serving, and restoring a backup into a
//! new data folder (`rounds-server backup --to FILE`, `rounds-server restore --from FILE`; see
//! `docs/deploy.md`).
//!
//! A backup is one SQLite file: a copy of `rounds.db` made with SQLite's online backup API in
//! one step, so it is one read transaction and therefore one consistent snapshot (WAL lets the
//! server's writers go on meanwhile), plus a table `backup_photos (hash, bytes)` holding every
//! complete photo the snapshot records. Photos are content-addressed and never change, so
//! copying them after the snapshot gives exactly the snapshot's photos (one the sweep removed
//! in between was no longer needed, and is left out and counted). The file is written beside
//! its target and renamed into place only when whole.
//!
//! Restoring writes the photos back as files (each checked against its hash), drops the photo
//! table, moves the change feed's next position [`FEED_GAP`] past the backup's, and moves the
//! database into the new folder's place; the server then opens it as any other (migrating it
//! if it is older). The gap is for devices that pulled past the backup from the server that
//! was lost: their cursors are ahead of the backup's feed, and a change stored after the
//! restore must still come after every such cursor, or they would never pull it.

use std::fs;
use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, params};
use sha2::{Digest, Sha256};

use super::super::photo_files::PhotoFiles;
use super::super::photo_store::PhotoStore;
use super::super::{Result, StorageError};
use super::{SqliteStorage, backend};

/// How far a restore moves the change feed's next position past the backup's: more changes
/// than a district stores between a backup and the loss that calls for it.
pub const FEED_GAP: i64 = 1 << 32;

/// What a backup or a restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackupSummary {
    /// Documents in the snapshot.
    pub documents: u64,
    /// Photos copied.
    pub photos: u64,
    /// Photos the snapshot recorded whose bytes were gone by the time they were copied (the
    /// sweep removed them as no longer needed).
    pub photos_missing: u64,
}

fn documents_in(conn: &Connection) -> Result<u64> {
    Ok(conn
        .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get::<_, i64>(0))?
        .max(0) as u64)
}

impl SqliteStorage {
    /// Writes a consistent backup of the store (and its photos) to `file`, which must not
    /// exist yet.
    pub fn backup_to(&self, file: &Path) -> Result<BackupSummary> {
        if file.exists() {
            return Err(StorageError::Conflict(format!(
                "{} exists already: a backup never overwrites a file",
                file.display()
            )));
        }
        let partial = file.with_extension("partial");
        let _ = fs::remove_file(&partial);
        let summary = self.write_backup(&partial);
        if summary.is_err() {
            let _ = fs::remove_file(&partial);
        }
        let summary = summary?;
        fs::rename(&partial, file).map_err(backend)?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(backend)?;
        }
        Ok(summary)
    }

    fn write_backup(&self, partial: &Path) -> Result<BackupSummary> {
        let source = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        source.execute_batch("PRAGMA busy_timeout = 10000;")?;
        let mut copy = Connection::open(partial)?;
        {
            let backup = Backup::new(&source, &mut copy)?;
            // Every page in one step: one read transaction, one snapshot.
            loop {
                // Busy or locked: a writer holds the file for a moment; try the step again.
                if backup.step(-1)? == StepResult::Done {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let mut summary = BackupSummary {
            documents: documents_in(&copy)?,
            ..BackupSummary::default()
        };
        let tx = copy.transaction()?;
        tx.execute_batch(
            "CREATE TABLE backup_photos (hash TEXT PRIMARY KEY, bytes BLOB NOT NULL)",
        )?;
        let hashes: Vec<String> = tx
            .prepare("SELECT hash FROM photos ORDER BY hash")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for hash in hashes {
            match self.photos.read(&hash).map_err(backend)? {
                Some(bytes) => {
                    tx.execute(
                        "INSERT INTO backup_photos (hash, bytes) VALUES (?1, ?2)",
                        params![hash, bytes],
                    )?;
                    summary.photos += 1;
                }
                None => summary.photos_missing += 1,
            }
        }
        tx.commit()?;
        copy.execute_batch("PRAGMA journal_mode = DELETE;")?;
        copy.close().map_err(|(_, e)| backend(e))?;
        fs::File::open(partial)
            .and_then(|f| f.sync_all())
            .map_err(backend)?;
        Ok(summary)
    }

    /// Restores the backup `file` into the data folder `dir`, which must hold no store yet.
    /// The server opens the folder afterwards as any other.
    pub fn restore_from(file: &Path, dir: &Path) -> Result<BackupSummary> {
        let target = dir.join("rounds.db");
        if target.exists() {
            return Err(StorageError::Conflict(format!(
                "{} holds a store already: restore into a new data folder",
                dir.display()
            )));
        }
        fs::create_dir_all(dir).map_err(backend)?;
        let partial = dir.join("rounds.db.restoring");
        let _ = fs::remove_file(&partial);
        fs::copy(file, &partial).map_err(backend)?;
        let restored = restore_photos(&partial, dir);
        if restored.is_err() {
            let _ = fs::remove_file(&partial);
        }
        let summary = restored?;
        fs::rename(&partial, &target).map_err(backend)?;
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(backend)?;
        Ok(summary)
    }
}

fn restore_photos(db: &Path, dir: &Path) -> Result<BackupSummary> {
    let mut conn = Connection::open(db)?;
    let has_photos: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'backup_photos'",
        [],
        |r| r.get(0),
    )?;
    if !has_photos {
        return Err(StorageError::Conflict(format!(
            "{} is not a Rounds backup (it has no photo table)",
            db.display()
        )));
    }
    let files = PhotoFiles::new(dir.join("photos"));
    let mut summary = BackupSummary {
        documents: documents_in(&conn)?,
        ..BackupSummary::default()
    };
    {
        let mut rows = conn.prepare("SELECT hash, bytes FROM backup_photos ORDER BY hash")?;
        let mut rows = rows.query([])?;
        while let Some(r) = rows.next()? {
            let hash: String = r.get(0)?;
            let bytes: Vec<u8> = r.get(1)?;
            if hex::encode(Sha256::digest(&bytes)) != hash {
                return Err(StorageError::Conflict(format!(
                    "the backup's photo {hash} does not match its hash: the file is damaged"
                )));
            }
            files.put_complete(&hash, &bytes).map_err(backend)?;
            summary.photos += 1;
        }
    }
    let tx = conn.transaction()?;
    tx.execute_batch("DROP TABLE backup_photos")?;
    let next: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
        r.get(0)
    })?;
    tx.execute("DELETE FROM sqlite_sequence WHERE name = 'changes'", [])?;
    tx.execute(
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('changes', ?1)",
        params![next + FEED_GAP],
    )?;
    tx.commit()?;
    conn.execute_batch("VACUUM;")?;
    conn.close().map_err(|(_, e)| backend(e))?;
    Ok(summary)
}

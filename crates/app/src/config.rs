//! The device's plain settings file, `app.json` in the data folder.
//!
//! It holds only what the app needs before anyone has unlocked it: the district server's
//! address, the device's name and id, and who has a key slot (to list them on the unlock
//! screen). The device credential and people's sessions live inside the encrypted store.

use std::path::{Path, PathBuf};

use rounds_core::model::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, Result};

/// A person who can unlock this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Their id.
    pub id: Uuid,
    /// What they sign in with.
    pub username: String,
    /// Their name (the username until the first sync brings the real one).
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// What `app.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceConfig {
    /// The district server, e.g. `https://rounds.district.example`.
    pub server: String,
    /// This device's name as the district sees it.
    pub device_name: String,
    /// Its id, issued at enrollment.
    pub device_id: Uuid,
    /// Who can unlock it, in the order they were added.
    pub people: Vec<Member>,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("app.json")
}

/// The store's database file in the data folder.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("device.db")
}

/// Reads `app.json`; `None` before enrollment.
pub fn load(dir: &Path) -> Result<Option<DeviceConfig>> {
    let p = path(dir);
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            AppError::new(
                crate::error::Kind::Corrupt,
                format!("The settings file {} is damaged: {e}", p.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::internal("reading the settings", e)),
    }
}

/// Writes `app.json` atomically: a crash leaves the old file or the new one.
pub fn save(dir: &Path, config: &DeviceConfig) -> Result<()> {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("app.json.tmp");
        let bytes = serde_json::to_vec_pretty(config)?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path(dir))?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| AppError::internal("saving the settings", e))
}

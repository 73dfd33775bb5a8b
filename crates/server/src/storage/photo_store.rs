//! Photo bytes behind the storage seam: each device's upload in progress (appended chunk by
//! chunk, its length the offset the next chunk must start at) and the complete photos, by
//! hash. [`crate::photos`] owns the exchange and its rules and reaches the bytes only through
//! [`PhotoStore`], which a backend provides with [`super::Storage::photo_bytes`]: the embedded
//! backend keeps files in a folder ([`super::photo_files::PhotoFiles`]); a backend several
//! server processes share must keep them where every process reads the same offsets.

use chrono::{DateTime, Utc};
use rounds_protocol::PhotoStatus;
use uuid::Uuid;

/// What appending a chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Nothing more to do: the server holds this much (a chunk appended, a repeated chunk, or
    /// a photo already complete).
    Held(PhotoStatus),
    /// This chunk completed the photo and its hash matched: the complete photo is stored.
    Completed(PhotoStatus),
    /// The chunk starts past what the server holds.
    Gap {
        /// What the server holds.
        received: u64,
    },
    /// The whole photo was received but its SHA-256 is `actual`: the partial upload is gone.
    Mismatch {
        /// The SHA-256 of what was received.
        actual: String,
    },
}

/// Held while one request works on one hash; other requests for it (in this process or any
/// other sharing the store) wait until it is dropped.
pub struct PhotoLock(#[allow(dead_code, reason = "held for its drop")] Box<dyn Send>);

impl PhotoLock {
    /// A lock held as long as `guard` lives.
    pub fn new(guard: impl Send + 'static) -> Self {
        PhotoLock(Box::new(guard))
    }
}

/// Photo bytes by hash. Every method is durable when it returns: a chunk acknowledged
/// survives a power cut.
pub trait PhotoStore: Send + Sync {
    /// Waits until no other request holds `hash`, and holds it.
    fn lock(&self, hash: &str) -> std::io::Result<PhotoLock>;
    /// How many bytes of a photo `device` has sent so far.
    fn received(&self, device: Uuid, hash: &str) -> std::io::Result<u64>;
    /// The bytes of every upload `device` has in progress.
    fn partial_bytes(&self, device: Uuid) -> std::io::Result<u64>;
    /// Appends `device`'s chunk at `offset` of a photo of `total` bytes (already checked to
    /// fit), and completes the photo when it is whole and its SHA-256 is `hash`.
    fn append(
        &self,
        device: Uuid,
        hash: &str,
        offset: u64,
        total: u64,
        chunk: &[u8],
    ) -> std::io::Result<Appended>;
    /// The size of the complete photo, if it is stored.
    fn complete_len(&self, hash: &str) -> std::io::Result<Option<u64>>;
    /// The complete photo's bytes, if it is stored.
    fn read(&self, hash: &str) -> std::io::Result<Option<Vec<u8>>>;
    /// Removes the complete photo; whether there was one.
    fn remove(&self, hash: &str) -> std::io::Result<bool>;
    /// Removes uploads in progress last written before `cutoff`; how many.
    fn remove_partials_before(&self, cutoff: DateTime<Utc>) -> std::io::Result<usize>;
}

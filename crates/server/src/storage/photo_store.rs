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

/// What a chunk at `offset` of a photo of `total` bytes does to an upload holding `received`
/// bytes: the one rule both photo stores follow ([`plan_chunk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// The upload holds more than `total`: it was for a photo of another size (a photo has one
    /// size, so those bytes are not this photo). Drop them first; `received` is then 0.
    pub restart: bool,
    /// What to do next.
    pub step: ChunkStep,
}

/// The step of a [`ChunkPlan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkStep {
    /// The chunk starts past what is held: answer [`Appended::Gap`].
    Gap {
        /// What is held.
        received: u64,
    },
    /// Every byte of the chunk is held already (a retry after a lost answer): answer
    /// [`Appended::Held`] and write nothing.
    Repeat {
        /// What is held.
        received: u64,
    },
    /// Write the chunk from byte `skip` on (the bytes before it are held); the upload then
    /// holds `end` bytes, and is whole when `end == total`.
    Write {
        /// Bytes of the chunk already held.
        skip: usize,
        /// What the upload holds after the write.
        end: u64,
    },
}

/// The rule for one chunk (see [`ChunkPlan`]).
pub fn plan_chunk(received: u64, offset: u64, total: u64, len: usize) -> ChunkPlan {
    let restart = received > total;
    let received = if restart { 0 } else { received };
    let end = offset + len as u64;
    let step = if offset > received {
        ChunkStep::Gap { received }
    } else if end <= received {
        ChunkStep::Repeat { received }
    } else {
        ChunkStep::Write {
            skip: (received - offset) as usize,
            end,
        }
    };
    ChunkPlan { restart, step }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_chunk_is_a_gap_a_repeat_or_a_write_of_its_new_bytes() {
        let write = |skip, end| ChunkStep::Write { skip, end };
        let cases = [
            ("the first chunk", (0, 0, 100, 40), false, write(0, 40)),
            ("the next chunk", (40, 40, 100, 60), false, write(0, 100)),
            (
                "a retry of held bytes",
                (40, 0, 100, 40),
                false,
                ChunkStep::Repeat { received: 40 },
            ),
            (
                "overlapping: the new part",
                (40, 20, 100, 40),
                false,
                write(20, 60),
            ),
            (
                "past what is held",
                (40, 60, 100, 10),
                false,
                ChunkStep::Gap { received: 40 },
            ),
            (
                "held bytes of a bigger photo",
                (120, 0, 100, 50),
                true,
                write(0, 50),
            ),
            (
                "bigger photo, resumed past 0",
                (120, 10, 100, 50),
                true,
                ChunkStep::Gap { received: 0 },
            ),
        ];
        for (name, (received, offset, total, len), restart, step) in cases {
            assert_eq!(
                plan_chunk(received, offset, total, len),
                ChunkPlan { restart, step },
                "{name}"
            );
        }
    }
}

/// What every [`PhotoStore`] must do, as test functions each backend's tests run on its own
/// store (the file store's, the PostgreSQL store's), so both are held to the same code.
#[cfg(test)]
pub(crate) mod contract {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;
    use sha2::{Digest, Sha256};

    use super::*;

    pub fn hash(b: &[u8]) -> String {
        hex::encode(Sha256::digest(b))
    }

    fn held(received: u64, complete: bool) -> Appended {
        Appended::Held(PhotoStatus { received, complete })
    }

    pub fn chunks_append_in_order_and_the_whole_is_checked(store: &dyn PhotoStore) {
        let photo: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let h = hash(&photo);
        let cases: &[(&str, u64, std::ops::Range<usize>, Appended)] = &[
            ("first chunk", 0, 0..400, held(400, false)),
            ("the same chunk again", 0, 0..400, held(400, false)),
            ("a gap", 600, 600..800, Appended::Gap { received: 400 }),
            (
                "overlapping: only the new part is kept",
                200,
                200..700,
                held(700, false),
            ),
            (
                "the last chunk",
                700,
                700..1000,
                Appended::Completed(PhotoStatus {
                    received: 1000,
                    complete: true,
                }),
            ),
        ];
        let (device, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(store.complete_len(&h).expect("len"), None);
        for (name, offset, range, want) in cases {
            let got = store
                .append(device, &h, *offset, 1000, &photo[range.clone()])
                .expect(name);
            assert_eq!(&got, want, "{name}");
            if *offset == 0 && range.end == 400 {
                assert_eq!(
                    store.append(other, &h, 0, 1000, b"spoil").expect("other"),
                    held(5, false),
                    "another device's bytes go to its own upload"
                );
                assert_eq!(store.partial_bytes(device).expect("bytes"), 400);
            }
        }
        assert_eq!(
            store.read(&h).expect("read"),
            Some(photo),
            "the photo, whole"
        );
        assert_eq!(store.complete_len(&h).expect("len"), Some(1000));
        assert_eq!(
            store.received(device, &h).expect("received"),
            0,
            "the upload in progress became the photo"
        );
        assert_eq!(store.received(other, &h).expect("received"), 5);
        assert!(store.remove(&h).expect("remove"), "removed");
        assert!(!store.remove(&h).expect("remove"), "once");
        assert_eq!(store.read(&h).expect("read"), None);
    }

    pub fn a_photo_whose_bytes_do_not_match_is_not_kept(store: &dyn PhotoStore) {
        let h = hash(b"the real photo");
        let device = Uuid::from_u128(1);
        let got = store.append(device, &h, 0, 5, b"other").expect("append");
        assert_eq!(
            got,
            Appended::Mismatch {
                actual: hash(b"other")
            }
        );
        assert_eq!(
            store.received(device, &h).expect("received"),
            0,
            "nothing kept: the next upload starts at 0"
        );
        assert_eq!(store.read(&h).expect("read"), None);
    }

    /// `one` and `other` are two handles on the same store, as two server processes would be.
    pub fn a_hash_is_held_by_one_request_at_a_time_across_handles(
        one: &dyn PhotoStore,
        other: Arc<dyn PhotoStore>,
    ) {
        let h = hash(b"a photo");
        let lock = one.lock(&h).expect("lock");
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let h = h.clone();
            std::thread::spawn(move || {
                let _second = other.lock(&h).expect("lock");
                tx.send(()).expect("send");
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "the second request waits while the first holds the hash"
        );
        drop(lock);
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the second request goes on once the first lets go");
        waiter.join().expect("joined");
    }

    pub fn uploads_left_unfinished_are_removed_after_the_cutoff(store: &dyn PhotoStore) {
        let device = Uuid::from_u128(1);
        let h = hash(b"a photo never finished");
        store.append(device, &h, 0, 100, &[7; 40]).expect("append");
        let long_ago = Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        let far_ahead = Utc
            .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
            .single()
            .expect("date");
        assert_eq!(store.remove_partials_before(long_ago).expect("sweep"), 0);
        assert_eq!(store.received(device, &h).expect("received"), 40);
        assert_eq!(store.remove_partials_before(far_ahead).expect("sweep"), 1);
        assert_eq!(store.received(device, &h).expect("received"), 0);
    }
}

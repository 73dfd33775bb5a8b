//! Photos on the device: sealed files addressed by their hash, waiting for upload.

use std::path::{Path, PathBuf};

use rounds_core::entropy::{Entropy, SeededEntropy};
use rounds_core::error::Error;
use rounds_core::model::CheckInput;
use rounds_core::store::{Store, WaitingPhoto};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::support::*;

/// A fake JPEG: the start-of-image marker, then seeded noise.
fn jpeg(seed: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    SeededEntropy::new(seed).fill(&mut b);
    b[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    b
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn photo_folder(dir: &Path, db: &str) -> PathBuf {
    dir.join(format!("{db}.photos"))
}

/// Names in the photo folder (temporary files included), sorted.
fn files_in(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return vec![];
    };
    let mut names: Vec<String> = entries
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn guard_store(dir: &Path) -> Store {
    store_for(dir, "device.db", 1, GUARD)
}

#[test]
fn adding_the_same_photo_twice_gives_one_hash_one_file_and_one_upload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let photo = jpeg(1, 40_000);
    let mut rng = SeededEntropy::new(7);
    let first = s.add_photo(&photo, at(1), &mut rng).expect("add");
    assert_eq!(first, sha256_hex(&photo), "a photo is named by its SHA-256");
    let sealed = std::fs::read(s.photo_path(&first).expect("path")).expect("file");
    let second = s.add_photo(&photo, at(2), &mut rng).expect("add again");
    assert_eq!(first, second, "the same bytes have the same address");
    assert_eq!(
        std::fs::read(s.photo_path(&first).expect("path")).expect("file"),
        sealed,
        "adding it again did not rewrite the file"
    );
    assert_eq!(
        files_in(&photo_folder(dir.path(), "device.db")),
        vec![first.clone()],
        "one file, and no temporary file left behind"
    );
    assert_eq!(
        s.pending_photos().expect("pending"),
        vec![(first, 40_000)],
        "one photo waits for upload, with its size"
    );
}

#[test]
fn the_file_on_disk_is_sealed_and_reads_back_as_the_photo() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let mut photo = jpeg(2, 20_000);
    // A recognisable run that would show in a plain copy.
    photo[1000..1032].copy_from_slice(b"PLAINTEXT-MARKER-PLAINTEXT-MARK!");
    let hash = s
        .add_photo(&photo, at(1), &mut SeededEntropy::new(8))
        .expect("add");
    let on_disk = std::fs::read(s.photo_path(&hash).expect("path")).expect("file");
    assert!(
        on_disk.starts_with(b"RNDP\x01"),
        "the sealed format is recognisable"
    );
    assert!(
        !on_disk
            .windows(32)
            .any(|w| w == b"PLAINTEXT-MARKER-PLAINTEXT-MARK!")
            && !on_disk.windows(4).any(|w| w == [0xFF, 0xD8, 0xFF, 0xE0]),
        "no part of the photo is on disk in the clear"
    );
    assert_ne!(
        sha256_hex(&on_disk),
        hash,
        "the file is not the photo itself"
    );
    assert_eq!(
        s.photo_bytes(&hash).expect("read"),
        photo,
        "the store unseals it"
    );
}

#[test]
fn empty_oversized_and_non_image_photos_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let too_big = jpeg(3, 15 * 1024 * 1024 + 1);
    let cases: &[(&str, &[u8])] = &[
        ("empty", b""),
        ("over 15 MiB", &too_big),
        ("text", b"hello, this is not a picture"),
        ("a PDF", b"%PDF-1.7\n%\xE2\xE3\xCF\xD3"),
        ("a truncated JPEG marker", b"\xFF\xD8"),
        ("RIFF that is not WebP", b"RIFF\x10\x00\x00\x00WAVEfmt "),
    ];
    for (name, bytes) in cases {
        let err = s
            .add_photo(bytes, at(1), &mut SeededEntropy::new(9))
            .expect_err(name);
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "photo"),
            "{name}: refused as an invalid photo, got {err:?}"
        );
    }
    assert!(
        s.pending_photos().expect("pending").is_empty(),
        "nothing recorded"
    );
    assert!(
        files_in(&photo_folder(dir.path(), "device.db")).is_empty(),
        "nothing written"
    );
}

#[test]
fn jpeg_png_and_webp_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let exactly_15_mib = jpeg(4, 15 * 1024 * 1024);
    let cases: &[(&str, Vec<u8>)] = &[
        ("JPEG", jpeg(5, 100)),
        ("JPEG of exactly 15 MiB", exactly_15_mib),
        ("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec()),
        ("WebP", b"RIFF\x24\x00\x00\x00WEBPVP8 ".to_vec()),
    ];
    for (name, bytes) in cases {
        let hash = s
            .add_photo(bytes, at(1), &mut SeededEntropy::new(10))
            .expect(name);
        assert_eq!(&s.photo_bytes(&hash).expect(name), bytes, "{name}");
    }
    assert_eq!(s.pending_photos().expect("pending").len(), cases.len());
}

#[test]
fn photos_survive_reopening_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let photos = [jpeg(11, 300_000), jpeg(12, 5_000)];
    let mut hashes = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        hashes.push(
            s.add_photo(p, at(i as i64), &mut SeededEntropy::new(13))
                .expect("add"),
        );
    }
    s.mark_photo_uploaded(&hashes[0]).expect("uploaded");
    s.close().expect("close");
    let mut s = reopen(&db_path(dir.path(), "device.db"), GUARD);
    for (p, h) in photos.iter().zip(&hashes) {
        assert_eq!(&s.photo_bytes(h).expect("read after reopen"), p);
    }
    assert_eq!(
        s.pending_photos().expect("pending"),
        vec![(hashes[1].clone(), 5_000)],
        "what was uploaded stays uploaded; the other still waits"
    );
    // The photo key was kept too: a new photo after reopening reads back as well.
    let third = jpeg(14, 1_000);
    let h = s
        .add_photo(&third, at(9), &mut SeededEntropy::new(15))
        .expect("add after reopen");
    assert_eq!(s.photo_bytes(&h).expect("read"), third);
}

#[test]
fn a_photo_waits_once_per_record_it_is_attached_to_until_marked_uploaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let h = s
        .add_photo(&jpeg(16, 2_000), at(1), &mut SeededEntropy::new(17))
        .expect("add");
    assert_eq!(
        s.pending_photo_count().expect("count"),
        0,
        "a photo attached to nothing is kept but not uploaded"
    );
    let shift = Uuid::from_u128(0x51);
    s.start_shift(&new_shift(0x51, 0)).expect("start");
    for (n, minutes) in [(1u128, 2i64), (2, 3)] {
        s.record_check(
            shift,
            &CheckInput {
                photos: vec![h.clone()],
                ..clear_check(0x5100 + n, n, minutes)
            },
        )
        .expect("check with the photo");
    }
    assert_eq!(s.pending_photo_count().expect("count"), 1);
    assert_eq!(
        s.photo_uploads_waiting().expect("waiting"),
        vec![WaitingPhoto {
            hash: h.clone(),
            record: shift
        }],
        "two checks of one shift: one upload, naming the shift"
    );
    s.mark_photo_uploaded_for(&h, shift).expect("mark");
    s.mark_photo_uploaded_for(&h, shift).expect("mark again");
    assert_eq!(s.pending_photo_count().expect("count"), 0);
    assert!(s.pending_photos().expect("pending").is_empty());
    assert!(s.photo_uploads_waiting().expect("waiting").is_empty());
    assert!(
        matches!(
            s.mark_photo_uploaded_for(&h, Uuid::from_u128(0x52)),
            Err(Error::NotFound { .. })
        ),
        "a record the photo is not attached to"
    );
    // Still on the device after upload.
    assert!(s.photo_bytes(&h).is_ok());
}

#[test]
fn malformed_hashes_are_invalid_and_unknown_ones_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let unknown = sha256_hex(b"never added");
    let malformed = [
        "abc".to_string(),
        unknown.to_uppercase(),
        format!("../{}", &unknown[3..]),
        format!("{unknown}0"),
    ];
    for bad in &malformed {
        assert!(
            matches!(s.photo_path(bad), Err(Error::Invalid { .. })),
            "{bad}: photo_path"
        );
        assert!(
            matches!(s.photo_bytes(bad), Err(Error::Invalid { .. })),
            "{bad}: photo_bytes"
        );
        assert!(
            matches!(s.mark_photo_uploaded(bad), Err(Error::Invalid { .. })),
            "{bad}: mark_photo_uploaded"
        );
    }
    assert!(matches!(
        s.photo_path(&unknown),
        Err(Error::NotFound { what: "photo", .. })
    ));
    assert!(matches!(
        s.photo_bytes(&unknown),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        s.mark_photo_uploaded(&unknown),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn damaged_missing_or_swapped_files_are_reported_corrupt_and_a_new_add_repairs_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = guard_store(dir.path());
    let (a, b) = (jpeg(18, 3_000), jpeg(19, 3_000));
    let mut rng = SeededEntropy::new(20);
    let ha = s.add_photo(&a, at(1), &mut rng).expect("a");
    let hb = s.add_photo(&b, at(1), &mut rng).expect("b");
    let pa = s.photo_path(&ha).expect("path a");
    let pb = s.photo_path(&hb).expect("path b");

    // One flipped bit.
    let mut sealed = std::fs::read(&pa).expect("read");
    sealed[100] ^= 1;
    std::fs::write(&pa, &sealed).expect("write");
    assert!(
        matches!(s.photo_bytes(&ha), Err(Error::Corrupt { .. })),
        "a damaged file does not unseal"
    );

    // Another photo's sealed file under this name.
    std::fs::copy(&pb, &pa).expect("copy");
    assert!(
        matches!(s.photo_bytes(&ha), Err(Error::Corrupt { .. })),
        "a file is bound to its hash"
    );

    // Gone.
    std::fs::remove_file(&pa).expect("remove");
    assert!(matches!(s.photo_bytes(&ha), Err(Error::Corrupt { .. })));

    // Taking the same photo again writes it again.
    assert_eq!(s.add_photo(&a, at(2), &mut rng).expect("again"), ha);
    assert_eq!(s.photo_bytes(&ha).expect("repaired"), a);
    assert_eq!(s.photo_bytes(&hb).expect("untouched"), b);
}

#[test]
fn two_stores_in_one_folder_keep_their_photos_apart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut one = store_for(dir.path(), "one.db", 1, GUARD);
    let mut two = store_for(dir.path(), "two.db", 2, GUARD_2);
    let photo = jpeg(21, 4_000);
    let h1 = one
        .add_photo(&photo, at(1), &mut SeededEntropy::new(22))
        .expect("one");
    let h2 = two
        .add_photo(&photo, at(1), &mut SeededEntropy::new(23))
        .expect("two");
    assert_eq!(h1, h2);
    assert_ne!(
        one.photo_path(&h1).expect("one"),
        two.photo_path(&h2).expect("two"),
        "each store seals its own copy with its own key"
    );
    assert_eq!(one.photo_bytes(&h1).expect("one"), photo);
    assert_eq!(two.photo_bytes(&h2).expect("two"), photo);
}

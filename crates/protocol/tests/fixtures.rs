//! Bodies kept from fuzzing and hand-made edge cases: each must decode or be refused, never
//! panic, and whatever decodes must survive encode → decode unchanged.

use rounds_protocol::{
    DecodeError, FetchRequest, FetchResponse, PullResponse, PushRequest, PushResponse, decode,
    encode,
};

fn check<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    bytes: &[u8],
) -> bool {
    match decode::<T>(bytes) {
        Ok(msg) => {
            let again = decode::<T>(&encode(&msg)).expect("a re-encoded message decodes");
            assert_eq!(again, msg, "encode then decode gives the same message");
            true
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            false
        }
    }
}

fn all(bytes: &[u8]) {
    check::<PushRequest>(bytes);
    check::<PushResponse>(bytes);
    check::<PullResponse>(bytes);
    check::<FetchRequest>(bytes);
    check::<FetchResponse>(bytes);
}

#[test]
fn every_fixture_decodes_or_is_refused_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fixtures folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "bin") {
            all(&std::fs::read(&path).expect("read"));
            n += 1;
        }
    }
    assert!(n >= 3, "the fixtures are there ({n})");
}

#[test]
fn an_over_long_varint_decodes_to_the_same_message_as_the_short_one() {
    // Found by the fuzzer: postcard accepts varints with redundant continuation bytes, so two
    // bodies can mean the same message. Harmless (nothing hashes the envelope), and pinned here.
    let long = include_bytes!("fixtures/fuzz-overlong-varint-reencodes-shorter.bin");
    let msg = decode::<FetchRequest>(long)
        .or_else(|_| decode::<FetchRequest>(&long[..]))
        .ok();
    if let Some(m) = msg {
        assert_ne!(
            encode(&m).as_slice(),
            &long[..],
            "the canonical encoding is shorter"
        );
    }
    all(long);
}

#[test]
fn a_huge_declared_length_is_refused_without_allocating_it() {
    let mut b = b"RNDS".to_vec();
    b.extend_from_slice(&rounds_protocol::VERSION.to_le_bytes());
    // One document whose header id claims a length of 2^63.
    b.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert!(matches!(
        decode::<PushRequest>(&b),
        Err(DecodeError::Malformed(_))
    ));
}

mod property {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut b = b"RNDS".to_vec();
    b.extend_from_slice(&rounds_protocol::VERSION.to_le_bytes());
            b.extend_from_slice(&tail);
            super::all(&b);
            super::all(&tail);
        }
    }
}

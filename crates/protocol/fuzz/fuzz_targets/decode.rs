//! Feeds arbitrary bytes to every sync body decoder: none may panic, and whatever decodes
//! must survive encode → decode unchanged. (Byte-for-byte re-encoding is not required:
//! postcard accepts over-long varints, which the first fuzz run found; see
//! `tests/fixtures/fuzz-overlong-varint-reencodes-shorter.bin`.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use rounds_protocol::{decode, encode, FetchRequest, FetchResponse, PullResponse, PushRequest, PushResponse};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(msg) = decode::<T>(data) {
        let again = decode::<T>(&encode(&msg)).expect("a re-encoded message decodes");
        assert_eq!(again, msg, "encode then decode gives the same message");
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<PushRequest>(data);
    round_trip::<PushResponse>(data);
    round_trip::<PullResponse>(data);
    round_trip::<FetchRequest>(data);
    round_trip::<FetchResponse>(data);
});

//! Feeds arbitrary bytes to every sync body decoder: none may panic, and whatever decodes
//! must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rounds_protocol::{decode, encode, FetchRequest, FetchResponse, PullResponse, PushRequest, PushResponse};

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(data: &[u8]) {
    if let Ok(msg) = decode::<T>(data) {
        assert_eq!(encode(&msg), data, "a decoded body re-encodes to the same bytes");
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<PushRequest>(data);
    round_trip::<PushResponse>(data);
    round_trip::<PullResponse>(data);
    round_trip::<FetchRequest>(data);
    round_trip::<FetchResponse>(data);
});

//! Signed changes against a real server: what an honest device pushes is stored with its
//! signature, which verifies with nothing but the key; an unsigned change, a bad or replayed
//! signature, another person's key or an unrecorded one is refused with its own kind and
//! stores nothing; keys are recorded at sign-in, rotate, and stop with a revoked device.

use rounds_core::signing::{self, SigningSecret};
use rounds_core::store::PendingDocument;
use rounds_protocol::{ChangeSignature, PushRequest, RejectKind};
use rounds_server::seed::ids;
use serde_bytes::ByteBuf;
use uuid::Uuid;

use crate::support::*;

/// The push `d`'s store would send now, as the sync client builds it.
fn waiting_push(d: &Device) -> (Vec<PendingDocument>, PushRequest) {
    let pending = d.store.pending_changes(1 << 20).expect("pending");
    (pending.clone(), rounds_core::client::push_request(pending))
}

#[test]
fn an_honest_push_is_stored_with_a_signature_that_covers_every_change() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("first sync");
    let keys = server
        .storage
        .signing_keys(gia.enrollment.device_id)
        .expect("keys");
    assert_eq!(keys.len(), 1, "her key was recorded when she signed in");
    assert_eq!(keys[0].public_key, gia.signing.public());
    assert_eq!(keys[0].person_id, gia.session.person_id);
    assert_eq!(gia.store.signing_key(), Some(gia.signing.public()));

    let shift = shift_with_checks(&mut gia, 0x51, ids::LINCOLN_MAIN, 6);
    let report = gia.sync().expect("push");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.pushed, 7);

    let sigs = server.storage.change_signatures(shift).expect("signatures");
    assert_eq!(
        sigs.len(),
        1,
        "one signature over her last change covers the rest"
    );
    let s = &sigs[0];
    assert_eq!(
        (s.person_id, s.device_id, s.public_key),
        (
            gia.session.person_id,
            gia.enrollment.device_id,
            gia.signing.public()
        )
    );
    signing::verify_change(&s.public_key, shift, s.person_id, &s.change, &s.signature)
        .expect("verifies with the key alone");
    let stored = server
        .storage
        .document(shift)
        .expect("load")
        .expect("stored")
        .decoded_changes()
        .expect("decode");
    assert_eq!(stored.len(), 7);
    assert!(signing::uncovered(&stored, &[(s.change, s.person_id)]).is_none());
}

#[test]
fn unsigned_bad_replayed_and_foreign_signatures_are_refused_and_store_nothing() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let mut olga = Device::enroll(&server, &OLGA);
    gia.sync().expect("sync");
    olga.sync().expect("sync");
    let first = incident_at(&mut gia, 0x61, ids::LINCOLN, "A man at the north gate.");
    let second = incident_at(&mut gia, 0x62, ids::LINCOLN, "A car in the fire lane.");
    let (pending, honest) = waiting_push(&gia);
    assert_eq!(honest.docs.len(), 2);
    assert_eq!(honest.signatures.len(), 2);
    let only = |doc: Uuid, sigs: Vec<ChangeSignature>| PushRequest {
        docs: honest
            .docs
            .iter()
            .filter(|d| d.header.id == doc)
            .cloned()
            .collect(),
        signatures: sigs,
    };
    let sig_of = |doc: Uuid| {
        honest
            .signatures
            .iter()
            .find(|s| s.doc == doc)
            .cloned()
            .expect("signature")
    };
    let last_of = |doc: Uuid| {
        pending
            .iter()
            .find(|p| p.header.id == doc)
            .and_then(|p| p.changes.last())
            .expect("change")
            .hash
    };
    let me = gia.session.person_id;
    let stranger = SigningSecret::generate(&mut rounds_core::entropy::SeededEntropy::new(99));
    let cases: Vec<(&str, PushRequest, RejectKind)> = vec![
        ("no signature", only(first, vec![]), RejectKind::Unsigned),
        (
            "one byte of the signature changed",
            only(first, {
                let mut s = sig_of(first);
                s.signature[17] ^= 0x40;
                vec![s]
            }),
            RejectKind::BadSignature,
        ),
        (
            "the signature of another document's change, replayed",
            only(second, {
                let mut s = sig_of(first);
                s.doc = second;
                s.change = last_of(second);
                vec![s]
            }),
            RejectKind::BadSignature,
        ),
        (
            "signed for another person",
            only(first, {
                let mut s = sig_of(first);
                s.person = olga.session.person_id;
                vec![s]
            }),
            RejectKind::UnknownKey,
        ),
        (
            "another person's recorded key",
            only(
                first,
                vec![change_signature(&olga.signing, first, me, last_of(first))],
            ),
            RejectKind::UnknownKey,
        ),
        (
            "a key never recorded",
            only(
                first,
                vec![change_signature(&stranger, first, me, last_of(first))],
            ),
            RejectKind::UnknownKey,
        ),
    ];
    for (what, req, kind) in cases {
        let before = server_state(&server);
        let resp = push_request(&server.base, &gia.session.token, &req);
        assert!(
            resp.committed.is_empty(),
            "{what}: committed {:?}",
            resp.committed
        );
        assert_eq!(resp.rejected.len(), 1, "{what}");
        assert_eq!(
            resp.rejected[0].kind, kind,
            "{what}: {}",
            resp.rejected[0].message
        );
        assert_eq!(server_state(&server), before, "{what}: nothing stored");
    }
    // A signature with the wrong size, or for a document the push does not carry: the
    // request is malformed.
    for (what, req) in [
        (
            "a short signature",
            only(first, {
                let mut s = sig_of(first);
                s.signature = ByteBuf::from(vec![1; 63]);
                vec![s]
            }),
        ),
        (
            "a signature for a document not in the push",
            only(first, vec![sig_of(second)]),
        ),
    ] {
        let r = reqwest::blocking::Client::new()
            .post(format!("{}/v1/sync/push", server.base))
            .bearer_auth(&gia.session.token)
            .body(rounds_protocol::encode(&req))
            .send()
            .expect("send");
        assert_eq!(r.status(), 400, "{what}");
    }
    // The honest push still goes through whole.
    let resp = push_request(&server.base, &gia.session.token, &honest);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert_eq!(resp.committed.len(), 2);
}

#[test]
fn a_new_key_at_sign_in_is_recorded_beside_the_old_and_both_sign() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("sync");
    let first = incident_at(&mut gia, 0x71, ids::LINCOLN, "Signed with the first key.");
    // She signs in again on the same phone with a new key (a rotation).
    let rotated = SigningSecret::generate(&mut rounds_core::entropy::SeededEntropy::new(5));
    let session = rounds_core::client::sign_in(
        &server.base,
        GIA.username,
        GIA.password,
        &gia.enrollment,
        &rotated.public(),
    )
    .expect("sign in again");
    let keys = server
        .storage
        .signing_keys(gia.enrollment.device_id)
        .expect("keys");
    assert_eq!(keys.len(), 2);
    // What waited, signed with the old key, is still accepted; so is a change signed with
    // the new one.
    let (_, req) = waiting_push(&gia);
    let resp = push_request(&server.base, &session.token, &req);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    gia.store.acknowledge(&resp.committed).expect("ack");
    let second = incident_at(&mut gia, 0x72, ids::LINCOLN, "Signed with the new key.");
    let (pending, mut req) = waiting_push(&gia);
    assert_eq!(pending.len(), 1);
    let last = pending[0].changes.last().expect("change").hash;
    req.signatures = vec![change_signature(
        &rotated,
        second,
        gia.session.person_id,
        last,
    )];
    let resp = push_request(&server.base, &session.token, &req);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let by_key = |doc| server.storage.change_signatures(doc).expect("sigs")[0].public_key;
    assert_eq!(by_key(first), gia.signing.public());
    assert_eq!(by_key(second), rotated.public());
}

#[test]
fn a_revoked_devices_keys_stop_but_its_signatures_still_verify() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("sync");
    let shift = shift_with_checks(&mut gia, 0x81, ids::LINCOLN_MAIN, 2);
    gia.sync().expect("push");
    rounds_server::admin::revoke(
        server.storage.as_ref(),
        gia.enrollment.device_id,
        None,
        now(),
    )
    .expect("revoke");
    let keys = server
        .storage
        .signing_keys(gia.enrollment.device_id)
        .expect("keys");
    assert!(keys.iter().all(|k| k.revoked_at.is_some()), "{keys:?}");
    gia.store
        .record_check(
            shift,
            &rounds_core::model::CheckInput {
                id: Uuid::from_u128(0x8100),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
                method: rounds_core::model::CheckMethod::Tag,
                result: rounds_core::model::CheckResult::AllClear,
                note: String::new(),
                photos: vec![],
                at: at(20),
            },
        )
        .expect("check");
    let err = gia.sync().expect_err("revoked");
    assert_eq!(err, rounds_core::client::SyncProblem::Revoked);
    let s = &server.storage.change_signatures(shift).expect("sigs")[0];
    signing::verify_change(&s.public_key, shift, s.person_id, &s.change, &s.signature)
        .expect("an old signature still verifies");
}

#[test]
fn sign_in_refuses_a_malformed_key_or_one_recorded_for_someone_else() {
    let server = TestServer::start();
    let gia = Device::enroll(&server, &GIA);
    let olga = Device::enroll(&server, &OLGA);
    let sign_in = |key: serde_json::Value, device: bool| {
        let mut body = serde_json::json!({
            "username": GIA.username,
            "password": GIA.password,
            "signing_key": key,
        });
        if device {
            body["device_id"] = serde_json::json!(gia.enrollment.device_id);
            body["device_secret"] = serde_json::json!(gia.enrollment.device_secret);
        }
        reqwest::blocking::Client::new()
            .post(format!("{}/v1/sessions", server.base))
            .json(&body)
            .send()
            .expect("send")
            .status()
    };
    assert_eq!(sign_in(serde_json::json!("zz"), true), 400);
    assert_eq!(
        sign_in(serde_json::json!("00".repeat(32)), true),
        400,
        "a weak key"
    );
    let mut identity = vec![0u8; 32];
    identity[0] = 1;
    assert_eq!(
        sign_in(serde_json::json!(signing::hex_of(&identity)), true),
        400,
        "the identity point"
    );
    let good = signing::hex_of(&gia.signing.public());
    assert_eq!(
        sign_in(serde_json::json!(good), false),
        400,
        "a key without a device"
    );
    assert_eq!(
        sign_in(
            serde_json::json!(signing::hex_of(&olga.signing.public())),
            true
        ),
        409,
        "Olga's key is hers"
    );
    assert_eq!(
        sign_in(serde_json::json!(good), true),
        200,
        "her own key again"
    );
    assert_eq!(
        server
            .storage
            .signing_keys(gia.enrollment.device_id)
            .expect("keys")
            .len(),
        1
    );
}

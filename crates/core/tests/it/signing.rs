//! Signed changes on the device: every action is signed by the person who made it, with a
//! key only their PIN opens, and what a push would carry covers every waiting change.

use automerge::Change;
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{KdfParams, Lockout, Secret};
use rounds_core::signing::{self, SigningSecret};
use uuid::Uuid;

use crate::support::*;

fn waiting(s: &rounds_core::store::Store) -> Vec<rounds_core::store::PendingDocument> {
    s.pending_changes(1 << 20).expect("pending")
}

/// Checks that the signature a push would carry for `d` verifies under `key` and covers every
/// one of its waiting changes.
fn assert_covered(d: &rounds_core::store::PendingDocument, person: Uuid, key: &signing::PublicKey) {
    assert_eq!(d.signatures.len(), 1, "one maker, one signature");
    let sig = &d.signatures[0];
    assert_eq!(sig.person, person);
    assert_eq!(&sig.key, key);
    assert_eq!(Some(&sig.change), d.changes.last().map(|c| &c.hash));
    signing::verify_change(key, d.header.id, person, &sig.change, &sig.signature)
        .expect("the signature verifies");
    let changes: Vec<Change> = d
        .changes
        .iter()
        .map(|c| Change::from_bytes(c.bytes.clone()).expect("change"))
        .collect();
    assert!(
        signing::uncovered(&changes, &[(sig.change, person)]).is_none(),
        "one signature covers every waiting change of the document"
    );
}

#[test]
fn each_persons_actions_are_signed_with_their_own_key_which_only_their_pin_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(dir.path(), "shared.db");
    let mut s = store_for(dir.path(), "shared.db", 1, GUARD);
    let gia = s.signing_key().expect("Gia's key");
    s.start_shift(&new_shift(1, 0)).expect("start");
    for n in 1..=3 {
        s.record_check(Uuid::from_u128(1), &clear_check(10 + n, n, n as i64))
            .expect("check");
    }
    let docs = waiting(&s);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].changes.len(), 4);
    assert_covered(&docs[0], GUARD, &gia);

    // A second guard joins the shared phone with a key of their own.
    let gus_key = SigningSecret::generate(&mut SeededEntropy::new(21));
    let mut e = SeededEntropy::new(9);
    let mut lockout = Lockout::for_store(&path, &mut e).expect("seal");
    s.add_person(
        &secret_of(GUARD),
        GUARD_2,
        &secret_of(GUARD_2),
        KdfParams::FOR_TESTS,
        &mut lockout,
        std::time::Instant::now(),
        &mut e,
        &gus_key,
    )
    .expect("add Gus");
    s.close().expect("close");

    let mut gus = reopen(&path, GUARD_2);
    assert_eq!(gus.signing_key(), Some(gus_key.public()));
    gus.start_shift(&new_shift(2, 5))
        .expect("Gus starts his shift");
    // His sync carries Gia's waiting shift too, under her signature, and his under his.
    let all = waiting(&gus);
    assert_eq!(all.len(), 2, "Gia's shift and Gus's go out with his sync");
    let of = |id: u128| {
        all.iter()
            .find(|d| d.header.id == Uuid::from_u128(id))
            .expect("waiting shift")
    };
    assert_covered(of(1), GUARD, &gia);
    assert_covered(of(2), GUARD_2, &gus_key.public());
    gus.close().expect("close");

    // Gia's key is the same after her PIN changes.
    let mut s = reopen(&path, GUARD);
    assert_eq!(s.signing_key(), Some(gia));
    let new_pin = Secret::new("7315-9024-a");
    s.change_secret(
        &secret_of(GUARD),
        &new_pin,
        KdfParams::FOR_TESTS,
        &mut lockout,
        std::time::Instant::now(),
        &mut e,
    )
    .expect("new PIN");
    s.close().expect("close");
    let s = rounds_core::store::Store::open(&path, GUARD, &new_pin).expect("new PIN opens");
    assert_eq!(s.signing_key(), Some(gia), "the key survived the new PIN");
    assert_covered(&waiting(&s)[0], GUARD, &gia);
}

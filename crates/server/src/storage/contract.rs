//! Tests every backend passes, run by each backend's own tests (`sqlite.rs`, `postgres.rs`)
//! on a real database: the throttle's counting and atomicity, sessions ended by a new password.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rounds_domain::model::Role;
use uuid::Uuid;

use super::rows::time;
use super::{Admission, AttemptOutcome, PersonRecord, SessionRecord, Storage, ThrottleKey};

fn t(secs: i64) -> DateTime<Utc> {
    time(1_800_000_000_000 + secs * 1000)
}

fn keys(name: &str) -> Vec<ThrottleKey> {
    vec![
        ThrottleKey {
            key: format!("name:{name}"),
            limit: 5,
        },
        ThrottleKey {
            key: "addr:192.0.2.1".into(),
            limit: 6,
        },
    ]
}

const WINDOW: Duration = Duration::minutes(15);

/// 25 guesses at once against a limit of 5: exactly 5 are admitted.
pub(crate) fn a_parallel_burst_admits_exactly_the_limit(st: Arc<dyn Storage>) {
    let admitted: usize = (0..25u128)
        .map(|i| {
            let st = st.clone();
            std::thread::spawn(move || {
                st.admit_attempt(Uuid::from_u128(i + 1), &keys("gia"), t(0), WINDOW)
                    .expect("admit")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .filter(|a| *a == Admission::Admitted)
        .count();
    assert_eq!(
        admitted, 5,
        "check and count are one transaction: 25 parallel guesses, 5 admitted"
    );
}

/// Failures count for the window; a success forgives the name's.
pub(crate) fn failures_count_for_the_window_and_a_success_forgives_the_name(st: &dyn Storage) {
    for i in 0..5u128 {
        let a = st
            .admit_attempt(
                Uuid::from_u128(i + 1),
                &keys("gia"),
                t(i as i64 * 60),
                WINDOW,
            )
            .expect("admit");
        assert_eq!(a, Admission::Admitted, "failure {i}");
    }
    let refused = st
        .admit_attempt(Uuid::from_u128(99), &keys("gia"), t(300), WINDOW)
        .expect("admit");
    assert_eq!(
        refused,
        Admission::Refused {
            key: 0,
            retry_after: Duration::minutes(10)
        },
        "the sixth (at 5 min) waits until the oldest failure (at 0 min) is 15 minutes old"
    );
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(100), &keys("gia"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "at 15 min the first failure no longer counts"
    );
    let other = st
        .admit_attempt(Uuid::from_u128(101), &keys("gus"), t(15 * 60), WINDOW)
        .expect("admit");
    assert_eq!(
        other,
        Admission::Admitted,
        "another name has its own counter"
    );
    st.finish_attempt(
        Uuid::from_u128(101),
        AttemptOutcome::Succeeded {
            forgive: &["name:gus".to_string()],
        },
    )
    .expect("finish");
    // 5 attempts count on the network (gia's at 1-4 min and at 15 min; the one at 0 min
    // expired, gus's success is uncounted): one more fits the limit of 6, the next does not.
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(102), &keys("olga"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted
    );
    assert!(
        matches!(
            st.admit_attempt(Uuid::from_u128(103), &keys("omar"), t(15 * 60), WINDOW)
                .expect("admit"),
            Admission::Refused { key: 1, .. }
        ),
        "the network's counter fills with failures of any names"
    );
    st.finish_attempt(Uuid::from_u128(102), AttemptOutcome::NotTried)
        .expect("finish");
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(104), &keys("omar"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "an attempt never tried (server busy) is uncounted"
    );
    st.finish_attempt(
        Uuid::from_u128(104),
        AttemptOutcome::Succeeded {
            forgive: &["name:gia".to_string()],
        },
    )
    .expect("finish");
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(105), &keys("gia"), t(15 * 60 + 1), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "a success forgives the name's failures"
    );
}

/// Two handles on one database (as two server processes) count the same attempts.
pub(crate) fn two_handles_on_one_database_share_the_counts(a: &dyn Storage, b: &dyn Storage) {
    for i in 0..5u128 {
        let st = if i % 2 == 0 { a } else { b };
        st.admit_attempt(Uuid::from_u128(i + 1), &keys("sam"), t(0), WINDOW)
            .expect("admit");
    }
    assert!(
        matches!(
            a.admit_attempt(Uuid::from_u128(9), &keys("sam"), t(1), WINDOW)
                .expect("admit"),
            Admission::Refused { .. }
        ),
        "as two server processes would: the counts are rows, not memory"
    );
}

fn person(hash: &str, active: bool) -> PersonRecord {
    PersonRecord {
        id: Uuid::from_u128(7),
        username: "pat".into(),
        name: "Pat".into(),
        role: Role::Guard,
        schools: vec![],
        password_hash: hash.into(),
        active,
    }
}

/// A new password or a deactivation ends every session of the person.
pub(crate) fn a_new_password_or_a_deactivation_ends_the_persons_sessions(st: &dyn Storage) {
    let session = SessionRecord {
        person_id: Uuid::from_u128(7),
        device_id: None,
        expires_at: t(3600),
    };
    st.put_person(&person("h1", true)).expect("person");
    st.add_session("s1", &session, t(0)).expect("session");
    st.put_person(&PersonRecord {
        name: "Pat Renamed".into(),
        ..person("h1", true)
    })
    .expect("rename");
    assert!(
        st.session("s1").expect("read").is_some(),
        "a rename keeps the session"
    );
    st.put_person(&person("h2", true)).expect("new password");
    assert!(
        st.session("s1").expect("read").is_none(),
        "a new password ends it"
    );
    st.add_session("s2", &session, t(0)).expect("session");
    st.put_person(&person("h2", false)).expect("deactivate");
    st.put_person(&person("h2", true)).expect("reactivate");
    assert!(
        st.session("s2").expect("read").is_none(),
        "a deactivation ends it for good: reactivating does not bring it back"
    );
}

/// An incident at a school, made by `author`, with `edits` more changes after its creation.
fn incident(n: u128, edits: usize) -> (rounds_domain::document::Header, automerge::Automerge) {
    use rounds_domain::document;
    use rounds_domain::model::{Classification, DocKind, IncidentInput, IncidentType};
    let author = Uuid::from_u128(0xA0);
    let h = document::Header {
        id: Uuid::from_u128(0x1000 + n),
        kind: DocKind::Incident,
        school_id: Uuid::from_u128(0x5C),
        author_id: author,
        device_id: Uuid::from_u128(0xDE),
        created_at: t(0),
        classification: Classification::Confidential,
    };
    let input = IncidentInput {
        id: h.id,
        school_id: h.school_id,
        incident_type: IncidentType::Trespass,
        location: "Gym".into(),
        occurred_at: t(0),
        people: vec![],
        narrative: "A visitor without a badge.".into(),
        actions: String::new(),
        photos: vec![],
    };
    let mut am = document::create(&h, author, "create_incident", |tx| {
        document::init_incident(tx, &input, t(0))
    })
    .expect("create");
    for i in 0..edits {
        edit(&mut am, &format!("Gym, door {i}"));
    }
    (h, am)
}

fn edit(am: &mut automerge::Automerge, location: &str) {
    use automerge::transaction::Transactable;
    rounds_domain::document::change(am, t(1), Uuid::from_u128(0xA0), "edit_incident", |tx| {
        tx.put(automerge::ROOT, "location", location)?;
        Ok(())
    })
    .expect("edit");
}

fn commit(
    st: &dyn Storage,
    h: &rounds_domain::document::Header,
    am: &automerge::Automerge,
    from: &[automerge::ChangeHash],
    version: Option<i64>,
) {
    let changes = am
        .get_changes(from)
        .iter()
        .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
        .collect();
    let outcome = st
        .commit(&super::Commit {
            header: h.clone(),
            expected_version: version,
            changes,
            projection: crate::sync::project(h, am).expect("project"),
            at: t(60),
            signatures: vec![],
        })
        .expect("commit");
    assert_eq!(outcome, super::CommitOutcome::Committed);
}

fn hashes(changes: &[automerge::Change]) -> std::collections::BTreeSet<[u8; 32]> {
    changes.iter().map(|c| c.hash().0).collect()
}

/// A compacted document keeps every change (same hashes, same heads); the feed shows it once,
/// without bytes, at its saved part's position, to a cursor before it only; later changes
/// follow it as rows and fold in at the next compaction; a compaction built on a state that
/// moved on writes nothing.
pub(crate) fn compaction_keeps_every_change_and_the_feed_points_to_what_was_folded(
    st: &dyn Storage,
) {
    use crate::compaction::{Outcome, compact_document};
    let admin = crate::access::Viewer {
        person: Uuid::from_u128(0xAD),
        role: Role::Admin,
        schools: vec![],
    };
    let (ha, mut a) = incident(1, 2);
    commit(st, &ha, &a, &[], None);
    let (hb, b) = incident(2, 0);
    commit(st, &hb, &b, &[], None);
    let before = st.feed(&admin, 0, 1 << 20).expect("feed");
    assert_eq!(before.items.len(), 4, "three changes of A, one of B");
    let first_of_a = before.items[0].seq;
    let end = st.max_seq().expect("max");
    let all_of_a = hashes(
        &st.document(ha.id)
            .expect("load")
            .expect("a")
            .decoded_changes()
            .expect("decode"),
    );

    assert_eq!(
        compact_document(st, ha.id).expect("compact"),
        Outcome::Folded(3)
    );
    assert_eq!(
        compact_document(st, ha.id).expect("again"),
        Outcome::Unchanged,
        "nothing left to fold"
    );
    let stored = st.document(ha.id).expect("load").expect("a");
    assert!(
        stored.saved.is_some() && stored.changes.is_empty(),
        "one saved part, no rows"
    );
    assert_eq!(
        hashes(&stored.decoded_changes().expect("decode")),
        all_of_a,
        "every change, same hashes"
    );
    assert_eq!(
        stored.to_automerge().expect("load").get_heads(),
        a.get_heads()
    );
    assert_eq!(
        st.max_seq().expect("max"),
        end,
        "the feed's end does not move back"
    );

    let from_start = st.feed(&admin, 0, 1 << 20).expect("feed");
    let shape: Vec<(Uuid, bool)> = from_start
        .items
        .iter()
        .map(|i| (i.header.id, i.bytes.is_some()))
        .collect();
    assert_eq!(
        shape,
        vec![(ha.id, false), (hb.id, true)],
        "A once, at its last folded change's position, to fetch by heads; then B's change as a row"
    );
    assert_eq!(from_start.cursor, end);
    let mid = st.feed(&admin, first_of_a, 1 << 20).expect("feed");
    assert!(
        mid.items
            .iter()
            .any(|i| i.header.id == ha.id && i.bytes.is_none()),
        "a cursor inside A's folded changes is pointed to A"
    );
    let past = st.feed(&admin, end, 1 << 20).expect("feed");
    assert!(
        past.items.is_empty() && past.cursor == end,
        "a cursor past it sees nothing new"
    );

    // A later change is a row after the saved part, and folds in at the next compaction.
    let heads = a.get_heads();
    edit(&mut a, "Gym, after review");
    commit(st, &ha, &a, &heads, Some(stored.version));
    let with_tail = st.document(ha.id).expect("load").expect("a");
    assert_eq!(with_tail.changes.len(), 1);
    assert_eq!(
        with_tail.to_automerge().expect("load").get_heads(),
        a.get_heads()
    );
    let stale = super::Compacted {
        doc: ha.id,
        replaces: None,
        folded: 1,
        saved: with_tail.saved.clone().expect("saved"),
    };
    assert!(
        !st.store_compacted(&stale).expect("store"),
        "built on a state that moved on: refused"
    );
    assert_eq!(
        st.document(ha.id).expect("load").expect("a").changes.len(),
        1,
        "and nothing written"
    );
    let waiting: std::collections::BTreeSet<Uuid> = st
        .compaction_candidates(None, 10)
        .expect("candidates")
        .into_iter()
        .collect();
    assert_eq!(
        waiting,
        [ha.id, hb.id].into_iter().collect(),
        "both have rows to fold"
    );
    assert_eq!(
        compact_document(st, ha.id).expect("compact"),
        Outcome::Folded(1)
    );
    let after = st.document(ha.id).expect("load").expect("a");
    assert_eq!(after.saved.as_ref().map(|s| s.change_count), Some(4));
    assert_eq!(hashes(&after.decoded_changes().expect("decode")).len(), 4);
    assert_eq!(
        st.compaction_candidates(None, 10).expect("candidates"),
        vec![hb.id],
        "only B has rows left"
    );
    let size = st.storage_size().expect("size");
    assert_eq!(
        (size.documents, size.compacted, size.change_rows),
        (2, 1, 1)
    );
}

/// Two shifts' rows as the schema before packed checks held them (SQLite schema 6, PostgreSQL
/// schema 2: the same SQL on both), for the migration tests.
pub(crate) const ROWS_BEFORE_PACKED_CHECKS: &str = "
    INSERT INTO shifts (id, school_id, post_id, guard_id, started_at, ended_at, check_count)
    VALUES ('s1', 'school', 'post', 'guard', 1000, NULL, 2),
           ('s2', 'school', 'post', 'guard', 1000, NULL, 0);
    INSERT INTO patrol_checks (shift_id, id, checkpoint_id, result, note, at) VALUES
      ('s1', '00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-00000000000a', 'hazard', 'wet floor', 2000),
      ('s1', '00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-00000000000b', 'all_clear', '', 3000);";

/// What the migration must have packed from [`ROWS_BEFORE_PACKED_CHECKS`]: `s1`'s two checks
/// as they were, in their order, and nothing for `s2`.
pub(crate) fn rows_before_packed_checks_were_packed(s1: &[u8], s2: &[u8]) {
    let checks = super::check_pack::unpack(s1).expect("reads");
    assert_eq!(
        checks
            .iter()
            .map(|c| (
                c.id.as_u128(),
                c.checkpoint_id.as_u128(),
                c.result.code(),
                c.note.as_str(),
                c.at.timestamp_millis()
            ))
            .collect::<Vec<_>>(),
        vec![
            (2, 10, "hazard", "wet floor", 2000),
            (1, 11, "all_clear", "", 3000)
        ]
    );
    assert!(s2.is_empty(), "a shift without checks packs to nothing");
}

/// Signing keys: recorded once per key (the same person and device again is `Known`; anyone
/// else is `Taken`), listed by device, revoked with their device; signatures stored with a
/// commit read back in order, and a signature pushed twice is kept once.
pub(crate) fn signing_keys_and_signatures_are_kept(st: &dyn Storage) {
    use super::{KeyRegistration, SigningKeyRecord, StoredSignature};
    let (person, device) = (Uuid::from_u128(0xA0), Uuid::from_u128(0xDE));
    st.add_enrollment_code("code", Uuid::from_u128(0xAD), t(0), t(600))
        .expect("code");
    assert!(
        st.redeem_enrollment_code("code", t(1), &device_record(device))
            .expect("redeem")
    );
    let key = |k: u8, person, device| SigningKeyRecord {
        public_key: [k; 32],
        person_id: person,
        device_id: device,
        registered_at: t(2),
        revoked_at: None,
    };
    assert_eq!(
        st.register_signing_key(&key(1, person, device))
            .expect("register"),
        KeyRegistration::New
    );
    assert_eq!(
        st.register_signing_key(&key(1, person, device))
            .expect("again"),
        KeyRegistration::Known
    );
    assert_eq!(
        st.register_signing_key(&key(1, Uuid::from_u128(0xB0), device))
            .expect("someone else"),
        KeyRegistration::Taken
    );
    assert_eq!(
        st.register_signing_key(&key(2, person, device))
            .expect("rotated"),
        KeyRegistration::New
    );
    assert_eq!(
        st.signing_keys(device).expect("keys"),
        vec![key(1, person, device), key(2, person, device)]
    );

    let (h, am) = incident(3, 1);
    let changes: Vec<_> = am
        .get_changes(&[])
        .iter()
        .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
        .collect();
    let sig = StoredSignature {
        doc_id: h.id,
        change: changes[1].0,
        person_id: person,
        device_id: device,
        public_key: [1; 32],
        signature: vec![9; 64],
        received_at: t(60),
    };
    let commit = super::Commit {
        header: h.clone(),
        expected_version: None,
        changes,
        projection: crate::sync::project(&h, &am).expect("project"),
        at: t(60),
        signatures: vec![sig.clone(), sig.clone()],
    };
    assert_eq!(
        st.commit(&commit).expect("commit"),
        super::CommitOutcome::Committed
    );
    assert_eq!(st.change_signatures(h.id).expect("read"), vec![sig]);

    assert!(st.revoke_device(device, t(100)).expect("revoke"));
    assert!(
        st.signing_keys(device)
            .expect("keys")
            .iter()
            .all(|k| k.revoked_at == Some(t(100))),
        "a revoked device's keys are revoked with it"
    );
}

fn device_record(id: Uuid) -> super::DeviceRecord {
    super::DeviceRecord {
        id,
        name: "phone".into(),
        secret_hash: "x".into(),
        enrolled_at: t(1),
        revoked_at: None,
    }
}

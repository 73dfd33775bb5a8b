//! Bad input gets a clear error and changes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{self, FileSeal, KeySlots, Lockout, Secret};
use rounds_core::model::*;
use rounds_core::store::{SCHEMA_VERSION, Store};
use rounds_core::{Error, ErrorKind};
use uuid::Uuid;

use crate::support::*;

/// Everything observable about a store's contents.
fn state(s: &Store) -> (Vec<String>, u64, Vec<Uuid>) {
    (
        s.projection_dump().expect("dump"),
        s.backlog().expect("backlog").changes,
        s.document_ids().expect("ids"),
    )
}

fn file_bytes(path: &Path) -> Vec<Vec<u8>> {
    ["", "-wal", ".keys"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::read(p).unwrap_or_default()
        })
        .collect()
}

#[test]
fn invalid_actions_are_refused_with_the_field_and_leave_the_store_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = store_for(dir.path(), "g.db", 1, GUARD);
    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    g.start_shift(&new_shift(1, 0)).expect("start");
    s.create_incident(&incident(2, "x"), at(0))
        .expect("incident");
    let shift = Uuid::from_u128(1);

    type Case<'a> = (
        &'a str,
        Box<dyn Fn(&mut Store, &mut Store) -> Result<(), Error>>,
        ErrorKind,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "unknown checkpoint",
            Box::new(move |g, _| g.record_check(shift, &clear_check(9, 99, 1))),
            ErrorKind::Invalid,
            "check.checkpoint_id",
        ),
        (
            "checkpoint of another post",
            Box::new(move |g, _| {
                let mut c = clear_check(9, 1, 1);
                c.checkpoint_id = Uuid::from_u128(0xCB1);
                g.record_check(shift, &c)
            }),
            ErrorKind::Invalid,
            "check.checkpoint_id",
        ),
        (
            "problem without a note",
            Box::new(move |g, _| {
                g.record_check(
                    shift,
                    &CheckInput {
                        result: CheckResult::Hazard,
                        ..clear_check(9, 1, 1)
                    },
                )
            }),
            ErrorKind::Invalid,
            "check.note",
        ),
        (
            "photo that is not a hash",
            Box::new(move |g, _| {
                g.record_check(
                    shift,
                    &CheckInput {
                        photos: vec!["cat.jpg".into()],
                        ..clear_check(9, 1, 1)
                    },
                )
            }),
            ErrorKind::Invalid,
            "check.photos[0]",
        ),
        (
            "note too long",
            Box::new(move |g, _| {
                g.record_check(
                    shift,
                    &CheckInput {
                        note: "x".repeat(2001),
                        ..clear_check(9, 1, 1)
                    },
                )
            }),
            ErrorKind::Invalid,
            "check.note",
        ),
        (
            "check on a shift that does not exist",
            Box::new(|g, _| g.record_check(Uuid::from_u128(77), &clear_check(9, 1, 1))),
            ErrorKind::NotFound,
            "",
        ),
        (
            "post unknown to the device",
            Box::new(|g, _| {
                g.start_shift(&rounds_core::store::NewShift {
                    post_id: Uuid::from_u128(5),
                    ..new_shift(3, 0)
                })
            }),
            ErrorKind::Invalid,
            "shift.post_id",
        ),
        (
            "incident with an empty location",
            Box::new(|_, s| {
                s.create_incident(
                    &IncidentInput {
                        location: " ".into(),
                        ..incident(3, "x")
                    },
                    at(0),
                )
            }),
            ErrorKind::Invalid,
            "incident.location",
        ),
        (
            "incident dated tomorrow",
            Box::new(|_, s| {
                s.create_incident(
                    &IncidentInput {
                        occurred_at: at(24 * 60),
                        ..incident(3, "x")
                    },
                    at(0),
                )
            }),
            ErrorKind::Invalid,
            "incident.occurred_at",
        ),
        (
            "incident at a school the officer is not assigned to",
            Box::new(|_, s| {
                s.create_incident(
                    &IncidentInput {
                        school_id: SCHOOL_B,
                        ..incident(3, "x")
                    },
                    at(0),
                )
            }),
            ErrorKind::Forbidden,
            "",
        ),
        (
            "incident id reused",
            Box::new(|_, s| s.create_incident(&incident(2, "again"), at(0))),
            ErrorKind::Conflict,
            "",
        ),
        (
            "person with a control character in the name",
            Box::new(|_, s| {
                s.edit_incident(
                    Uuid::from_u128(2),
                    &IncidentEdit {
                        add_people: vec![InvolvedPerson {
                            id: Uuid::from_u128(4),
                            name: "Bad\u{7}Name".into(),
                            category: PersonCategory::Visitor,
                            involvement: Involvement::Witness,
                            juvenile: false,
                            reference: None,
                        }],
                        ..Default::default()
                    },
                    at(1),
                )
            }),
            ErrorKind::Invalid,
            "incident.add_people[0].name",
        ),
        (
            "note that is not restricted",
            Box::new(|_, s| {
                s.write_note(
                    &NoteInput {
                        classification: Classification::Internal,
                        ..note(5, "S-1", None)
                    },
                    at(1),
                )
            }),
            ErrorKind::Invalid,
            "note.classification",
        ),
        (
            "follow-up before the contact",
            Box::new(|_, s| s.write_note(&note(5, "S-1", Some("2026-11-01")), at(1))),
            ErrorKind::Invalid,
            "note.follow_up_on",
        ),
        (
            "garbage change bytes",
            Box::new(|_, s| {
                let h = s.header(Uuid::from_u128(2))?;
                s.apply_remote(&h, &[b"not automerge".to_vec()], true)
                    .map(|_| ())
            }),
            ErrorKind::Invalid,
            "changes[0]",
        ),
        (
            "a declared header that differs from the stored one",
            Box::new(|_, s| {
                let mut h = s.header(Uuid::from_u128(2))?;
                let changes = s.all_changes(h.id)?;
                h.school_id = SCHOOL_B;
                s.apply_remote(&h, &changes, true).map(|_| ())
            }),
            ErrorKind::Forbidden,
            "",
        ),
        (
            "a change that rewrites a header field",
            Box::new(|_, s| {
                let h = s.header(Uuid::from_u128(2))?;
                let mut doc = s
                    .document(h.id)?
                    .with_actor(automerge::ActorId::from(vec![7u8; 16]));
                let mut tx = doc.transaction();
                let (_, header_obj) = tx.get(ROOT, "header").expect("get").expect("header");
                tx.put(&header_obj, "school", SCHOOL_B.to_string())
                    .expect("put");
                tx.commit();
                let forged = doc
                    .get_last_local_change()
                    .expect("change")
                    .raw_bytes()
                    .to_vec();
                s.apply_remote(&h, &[forged], true).map(|_| ())
            }),
            ErrorKind::Forbidden,
            "",
        ),
    ];

    for (name, action, kind, field) in cases {
        let (gb, sb) = (state(&g), state(&s));
        let err = action(&mut g, &mut s).expect_err(name);
        assert_eq!(err.kind(), kind, "{name}: {err}");
        if !field.is_empty() {
            assert!(
                matches!(&err, Error::Invalid { field: f, .. } if f == field),
                "{name}: expected field {field}, got {err:?}"
            );
        }
        assert!(!err.to_string().is_empty());
        assert_eq!(state(&g), gb, "{name}: guard store unchanged");
        assert_eq!(state(&s), sb, "{name}: officer store unchanged");
    }
    // And the stores still work afterwards.
    g.record_check(shift, &clear_check(9, 1, 1))
        .expect("a good check still records");
    s.integrity_check().expect("integrity");
}

#[test]
fn a_wrong_passphrase_is_locked_and_never_touches_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.db");
    store_for(dir.path(), "g.db", 1, GUARD)
        .close()
        .expect("close");
    let before = file_bytes(&path)[0].clone();
    let mut lockout = Lockout::for_store(&path, &mut SeededEntropy::new(4)).expect("seal");
    let t0 = Instant::now();
    let mut open = |secret: &Secret, person, at: u64| {
        Store::unlock(
            &path,
            person,
            secret,
            &mut lockout,
            t0 + Duration::from_secs(at),
        )
    };
    let err = open(&Secret::new("not-my-pin"), GUARD, 0).expect_err("wrong");
    assert!(matches!(err, Error::Locked { failures: 1, .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Locked);
    let err = open(&secret_of(SRO), SRO, 0).expect_err("no slot for this person");
    assert_eq!(
        err.kind(),
        ErrorKind::Locked,
        "a person without a slot looks like a wrong PIN"
    );
    open(&Secret::new("still-wrong"), GUARD, 0).expect_err("second");
    open(&Secret::new("wrong-again"), GUARD, 0).expect_err("third");
    let err = open(&secret_of(GUARD), GUARD, 0).expect_err("locked out");
    assert_eq!(
        err.kind(),
        ErrorKind::LockedOut,
        "after three failures attempts wait: {err}"
    );
    assert_eq!(
        file_bytes(&path)[0],
        before,
        "the database file was not touched"
    );
    let s = open(&secret_of(GUARD), GUARD, 30).expect("after the delay");
    s.integrity_check().expect("intact");
}

#[test]
fn damaged_foreign_and_newer_files_are_refused_and_left_as_they_were() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |path: &Path| Store::open(path, GUARD, &secret_of(GUARD));

    // A healthy store with some data, closed cleanly.
    let path = dir.path().join("g.db");
    let mut g = store_for(dir.path(), "g.db", 1, GUARD);
    g.start_shift(&new_shift(1, 0)).expect("start");
    for n in 0..200 {
        g.record_check(Uuid::from_u128(1), &clear_check(10 + n, 1 + n % 4, 1))
            .expect("check");
    }
    g.close().expect("close");
    let healthy = std::fs::read(&path).expect("read");
    let keys = std::fs::read(keyslots::path_for(&path)).expect("keys");
    // The attempt records are sealed with the store's seal key: it travels with the slots.
    let seal = std::fs::read(FileSeal::path_for(&path)).expect("seal");
    let copy_keys = |to: &Path| {
        std::fs::write(keyslots::path_for(to), &keys).expect("keys");
        std::fs::write(FileSeal::path_for(to), &seal).expect("seal");
    };

    type Damage<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Damage, ErrorKind)> = vec![
        (
            "truncated at a page boundary",
            Box::new(|p: &Path| {
                std::fs::write(p, &healthy[..healthy.len() / 2 / 4096 * 4096]).expect("w")
            }),
            ErrorKind::Corrupt,
        ),
        (
            "truncated mid-page",
            Box::new(|p: &Path| std::fs::write(p, &healthy[..healthy.len() - 1000]).expect("w")),
            ErrorKind::Corrupt,
        ),
        (
            "not a database at all",
            Box::new(|p: &Path| std::fs::write(p, "shift log\n".repeat(1000)).expect("w")),
            ErrorKind::Corrupt,
        ),
        (
            "random bytes of a plausible size",
            Box::new(|p: &Path| {
                let mut e = rounds_core::entropy::SeededEntropy::new(5);
                let mut b = vec![0u8; 8192];
                rounds_core::entropy::Entropy::fill(&mut e, &mut b);
                std::fs::write(p, b).expect("w")
            }),
            ErrorKind::Corrupt,
        ),
        (
            "first page damaged",
            Box::new(|p: &Path| {
                let mut b = healthy.clone();
                for x in &mut b[100..200] {
                    *x ^= 0xFF;
                }
                std::fs::write(p, b).expect("w")
            }),
            ErrorKind::Corrupt,
        ),
        (
            "empty file",
            Box::new(|p: &Path| std::fs::write(p, b"").expect("w")),
            ErrorKind::Corrupt,
        ),
    ];
    for (name, damage, kind) in cases {
        let p = dir.path().join(format!("{}.db", name.replace(' ', "_")));
        copy_keys(&p);
        damage(&p);
        let before = file_bytes(&p);
        let err = open(&p).expect_err(name);
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert_eq!(
            file_bytes(&p)[..2],
            before[..2],
            "{name}: the file was left as it was"
        );
    }

    // A store written by a newer version of the app.
    let newer = dir.path().join("newer.db");
    std::fs::write(&newer, &healthy).expect("copy");
    copy_keys(&newer);
    {
        let mut slots = KeySlots::load(&keyslots::path_for(&newer)).expect("slots");
        let mut lockout = Lockout::for_store(&newer, &mut SeededEntropy::new(6)).expect("seal");
        let key = slots
            .unlock(
                &keyslots::path_for(&newer),
                GUARD,
                &secret_of(GUARD),
                &mut lockout,
                Instant::now(),
            )
            .expect("key");
        let conn = rusqlite::Connection::open(&newer).expect("open");
        conn.pragma_update(None, "key", key.pragma_value().as_str())
            .expect("key");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .expect("checkpoint");
    }
    let before = file_bytes(&newer);
    let err = open(&newer).expect_err("newer");
    assert!(
        matches!(err, Error::NewerVersion { found, .. } if found == SCHEMA_VERSION + 1),
        "{err:?}"
    );
    assert!(err.to_string().contains("newer version"), "{err}");
    assert_eq!(
        file_bytes(&newer)[..2],
        before[..2],
        "the newer store was left as it was"
    );

    // The healthy file still opens.
    let g = open(&path).expect("healthy");
    assert_eq!(
        g.shift(Uuid::from_u128(1), at(5))
            .expect("shift")
            .checks
            .len(),
        200
    );
}

//! Each user action is durable once it returns and shows in the queries.

use rounds_core::model::*;
use rounds_core::store::IncidentFilter;
use rounds_core::{Error, ErrorKind};
use uuid::Uuid;

use crate::support::*;

#[test]
fn a_guard_walks_a_round_and_everything_is_there_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "g.db", 1, GUARD);
    s.start_shift(&new_shift(1, 0)).expect("start");
    for n in 1..=4 {
        s.record_check(Uuid::from_u128(1), &clear_check(10 + n, n, 2 + n as i64))
            .expect("check");
    }
    let problem = CheckInput {
        result: CheckResult::Unsecured,
        note: "Door 2 propped open with a chair".into(),
        method: CheckMethod::Manual,
        ..clear_check(20, 2, 65)
    };
    s.record_check(Uuid::from_u128(1), &problem)
        .expect("problem check");
    s.close().expect("close");

    let mut s = reopen(&db_path(dir.path(), "g.db"), GUARD);
    let shift = s
        .current_shift(at(70))
        .expect("query")
        .expect("shift still open");
    assert_eq!(
        shift.checks.len(),
        5,
        "every recorded check survived the reopen"
    );
    assert_eq!(
        shift.checks[4].check.note,
        "Door 2 propped open with a chair"
    );
    assert_eq!(
        shift.summary.done, 5,
        "four first visits and door 2's second were on time"
    );
    s.end_shift(Uuid::from_u128(1), at(120)).expect("end");
    assert!(
        s.current_shift(at(121)).expect("query").is_none(),
        "no open shift after ending"
    );
    let ended = s.shift(Uuid::from_u128(1), at(121)).expect("ended shift");
    assert_eq!(ended.ended_at, Some(at(120)));
    assert!(
        ended.summary.missed > 0,
        "doors 1, 3 and 4 missed their second visit"
    );
    s.integrity_check().expect("integrity");
}

#[test]
fn a_guard_has_one_open_shift_and_only_records_on_their_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "g.db", 1, GUARD);
    s.start_shift(&new_shift(1, 0)).expect("start");
    let err = s
        .start_shift(&new_shift(2, 5))
        .expect_err("second open shift");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    s.end_shift(Uuid::from_u128(1), at(60)).expect("end");
    let err = s
        .record_check(Uuid::from_u128(1), &clear_check(3, 1, 61))
        .expect_err("ended shift");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");

    // A second guard on the same post phone cannot write into the first guard's shift.
    let path = db_path(dir.path(), "g.db");
    let mut e = rounds_core::entropy::SeededEntropy::new(9);
    let mut lockout = rounds_core::keyslots::Lockout::for_store(&path, &mut e).expect("seal");
    s.add_person(
        &secret_of(GUARD),
        GUARD_2,
        &secret_of(GUARD_2),
        rounds_core::keyslots::KdfParams::FOR_TESTS,
        &mut lockout,
        std::time::Instant::now(),
        &mut e,
        &rounds_core::signing::SigningSecret::generate(
            &mut rounds_core::entropy::SeededEntropy::new(10),
        ),
    )
    .expect("add second guard");
    s.close().expect("close");
    let mut s2 = reopen(&path, GUARD_2);
    assert!(
        s2.current_shift(at(63)).expect("query").is_none(),
        "shifts are per guard"
    );
    s2.start_shift(&new_shift(4, 63))
        .expect("second guard's own shift");
    let mut s = {
        s2.close().expect("close");
        reopen(&path, GUARD)
    };
    s.start_shift(&new_shift(5, 64))
        .expect("first guard starts again");
    let err = s
        .record_check(Uuid::from_u128(4), &clear_check(6, 1, 65))
        .expect_err("other guard's shift");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}

#[test]
fn an_incident_goes_from_draft_to_submitted_to_returned_and_gets_a_supplement() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "sro.db", 2, SRO);
    let id = Uuid::from_u128(50);
    s.create_incident(&incident(50, ""), at(5)).expect("draft");
    let err = s.submit_incident(id, at(6)).expect_err("no narrative yet");
    assert!(matches!(err, Error::Invalid { ref field, .. } if field == "incident.narrative"));
    s.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some("Two students fought near the lunch line.".into()),
            location: Some("Cafeteria, east side".into()),
            ..Default::default()
        },
        at(7),
    )
    .expect("edit");
    s.submit_incident(id, at(8)).expect("submit");
    let err = s
        .edit_incident(
            id,
            &IncidentEdit {
                location: Some("Gym".into()),
                ..Default::default()
            },
            at(9),
        )
        .expect_err("submitted incidents are not edited");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    s.add_supplement(
        id,
        Uuid::from_u128(51),
        "Parent of student one called back.",
        at(10),
    )
    .expect("supplement");
    let view = s.incident(id).expect("view");
    assert_eq!(view.body.status, IncidentStatus::Submitted);
    assert_eq!(view.body.location, "Cafeteria, east side");
    assert_eq!(view.body.supplements.len(), 1);
    assert_eq!(view.header.author_id, SRO);
    assert_eq!(view.header.classification, Classification::Confidential);
    let submitted = s
        .incidents(&IncidentFilter {
            status: Some(IncidentStatus::Submitted),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(submitted.len(), 1);
    // Only a supervisor reviews.
    let err = s
        .review_incident(id, ReviewDecision::Approve, "", at(11))
        .expect_err("an SRO does not review");
    assert_eq!(err.kind(), ErrorKind::Forbidden);
}

#[test]
fn only_officers_write_contact_notes_and_only_their_authors_edit_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = store_for(dir.path(), "g.db", 1, GUARD);
    let err = g
        .write_note(&note(70, "S-1", None), at(1))
        .expect_err("guard");
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    s.write_note(&note(70, "S-1", Some("2026-12-07")), at(1))
        .expect("note");
    s.edit_note(
        Uuid::from_u128(70),
        &NoteEdit {
            outcome: Some("Referred to the counselor".into()),
            ..Default::default()
        },
        at(2),
    )
    .expect("edit");
    let v = s.note(Uuid::from_u128(70)).expect("view");
    assert_eq!(v.body.outcome, "Referred to the counselor");
    assert!(v.header.classification.is_restricted());
}

#[test]
fn the_store_says_how_much_it_takes_and_an_ended_shift_is_compacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "g.db", 1, GUARD);
    s.start_shift(&new_shift(1, 0)).expect("start");
    for i in 0..5 {
        s.record_check(
            Uuid::from_u128(1),
            &clear_check(10 + i, 1 + i % 4, i as i64),
        )
        .expect("check");
    }
    let open = s.storage_size().expect("size");
    assert_eq!(
        (open.documents, open.compacted, open.change_rows),
        (1, 0, 6)
    );
    assert!(open.database_bytes > 0 && open.change_bytes > 0);
    s.end_shift(Uuid::from_u128(1), at(60)).expect("end");
    let ended = s.storage_size().expect("size");
    assert_eq!(ended.compacted, 1, "the ended shift is a snapshot");
    assert!(ended.snapshot_bytes > 0);
    assert_eq!(
        ended.change_rows, 7,
        "its changes wait for the server, so they stay rows until acknowledged"
    );
    assert_eq!((ended.photos, ended.photo_bytes), (0, 0));
}

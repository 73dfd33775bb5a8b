//! The queries the app needs.

use rounds_core::model::*;
use rounds_core::round::VisitStatus;
use rounds_core::store::IncidentFilter;
use uuid::Uuid;

use crate::support::*;

#[test]
fn the_current_shift_shows_done_due_late_and_missed_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "g.db", 1, GUARD);
    s.start_shift(&new_shift(1, 0)).expect("start");
    s.record_check(Uuid::from_u128(1), &clear_check(11, 1, 5))
        .expect("door 1 on time");
    s.record_check(Uuid::from_u128(1), &clear_check(12, 2, 30))
        .expect("door 2 late");
    // At 08:55 door 3 has had its window close (missed), door 4 too; all second visits are
    // now open (due at 09:00 minus grace).
    let view = s.current_shift(at(55)).expect("query").expect("open shift");
    let first: Vec<VisitStatus> = view.round.iter().map(|c| c.visits[0].status).collect();
    assert_eq!(
        first,
        vec![
            VisitStatus::Done,
            VisitStatus::Late,
            VisitStatus::Missed,
            VisitStatus::Missed
        ]
    );
    assert!(
        view.round.iter().all(|c| c.status == VisitStatus::Due),
        "every checkpoint's second visit is due now"
    );
    assert_eq!(
        view.round[0].name, "Door 1",
        "checkpoints come in round order"
    );
    assert_eq!(view.post.id, POST_A);
}

#[test]
fn a_scanned_tag_finds_its_checkpoint_and_unknown_tags_are_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store_for(dir.path(), "g.db", 1, GUARD);
    assert_eq!(
        s.checkpoint_by_tag(POST_A, "A-DOOR-3").expect("tag").id,
        checkpoint(3)
    );
    let err = s
        .checkpoint_by_tag(POST_A, "B-GYM")
        .expect_err("other post's tag");
    assert_eq!(err.kind(), rounds_core::ErrorKind::NotFound);
}

#[test]
fn a_tag_matches_whatever_its_case_spaces_and_separators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = store_for(dir.path(), "g.db", 1, GUARD);
    // (what was scanned or typed, the checkpoint it names: None for no match). Post A's tags
    // are A-DOOR-1 .. A-DOOR-4.
    let table: &[(&str, Option<u128>)] = &[
        ("A-DOOR-3", Some(3)),
        ("a-door-3", Some(3)),
        ("a door 3", Some(3)),
        ("adoor3", Some(3)),
        ("A_DOOR_3", Some(3)),
        ("a.door.3", Some(3)),
        ("  A-Door-3\n", Some(3)),
        ("A/DOOR:3", Some(3)),
        ("A\u{2013}DOOR\u{2013}3", Some(3)),
        ("A-DOOR-1", Some(1)),
        ("A-DOOR-33", None),
        ("A-DOOR", None),
        ("A-DOR-3", None),
        ("B-DOOR-3", None),
        ("DOOR-3", None),
        ("B-GYM", None),
        ("", None),
        ("- _ .", None),
    ];
    for (typed, expected) in table {
        let found = s.checkpoint_by_tag(POST_A, typed).ok().map(|c| c.id);
        assert_eq!(
            found,
            expected.map(checkpoint),
            "{typed:?} should {} on post A",
            match expected {
                Some(n) => format!("name door {n}"),
                None => "name no checkpoint".into(),
            }
        );
    }
}

#[test]
fn a_tag_cleaned_alike_for_two_checkpoints_goes_by_its_exact_spelling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "g.db", 1, GUARD);
    let mut d = district();
    for c in d.checkpoints.iter_mut().filter(|c| c.post_id == POST_A) {
        c.tag_code = match c.position {
            1 => "AB-1".into(),
            2 => "A-B1".into(),
            _ => c.tag_code.clone(),
        };
    }
    s.replace_reference_data(&d).expect("reference data");
    assert_eq!(
        s.checkpoint_by_tag(POST_A, "A-B1").expect("exact").id,
        checkpoint(2)
    );
    assert_eq!(
        s.checkpoint_by_tag(POST_A, "AB-1").expect("exact").id,
        checkpoint(1)
    );
    assert!(
        s.checkpoint_by_tag(POST_A, "ab1").is_err(),
        "a code that could be either names neither, rather than guess"
    );
}

#[test]
fn an_incidents_history_says_who_made_each_change_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = store_for(dir.path(), "a.db", 1, SRO);
    let mut b = store_for(dir.path(), "b.db", 2, SRO_2);
    let id = Uuid::from_u128(9);
    a.create_incident(&incident(9, "Fight reported at lunch."), at(1))
        .expect("create");
    merge_into(&mut a, &mut b);
    let draft = b.incident(id).expect("on b");
    assert!(
        b.may_edit_incident(&draft),
        "a colleague at the school may edit the draft"
    );
    b.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some("Statements taken.".into()),
            ..Default::default()
        },
        at(2),
    )
    .expect("colleague's edit");
    merge_into(&mut b, &mut a);
    a.submit_incident(id, at(3)).expect("submit");
    let who: Vec<(String, Option<String>)> = a
        .history(id)
        .expect("history")
        .into_iter()
        .map(|e| (e.action, e.by_name))
        .collect();
    let name = |n: &str| Some(n.to_string());
    assert_eq!(
        who,
        vec![
            ("create_incident".to_string(), name("Sam Officer")),
            ("edit_incident".to_string(), name("Sue Officer")),
            ("submit_incident".to_string(), name("Sam Officer")),
        ],
        "each change names its author, and submitting (which compacts) keeps the history"
    );
    let submitted = a.incident(id).expect("view");
    assert!(
        !a.may_edit_incident(&submitted),
        "a submitted report takes supplements, not edits"
    );
    let mut other = store_for(dir.path(), "o.db", 3, SRO_B);
    merge_into(&mut a, &mut other);
    let err = other
        .incident(id)
        .expect_err("an officer of another school does not see it, even on their phone");
    assert_eq!(err.kind(), rounds_core::ErrorKind::NotFound, "{err}");
    assert!(
        other.history(id).is_err() && other.search("Fight", 10).expect("search").is_empty(),
        "nor its history, nor in search"
    );
    assert!(
        a.history(Uuid::from_u128(404)).is_err(),
        "unknown records have no history"
    );
}

#[test]
fn incidents_are_listed_by_status_and_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    for n in 0..6u128 {
        let mut i = incident(100 + n, "A fight in the hallway.");
        i.occurred_at = at(n as i64 * 60);
        s.create_incident(&i, at(400)).expect("create");
        if n % 2 == 0 {
            s.submit_incident(Uuid::from_u128(100 + n), at(401))
                .expect("submit");
        }
    }
    let drafts = s
        .incidents(&IncidentFilter {
            status: Some(IncidentStatus::Draft),
            ..Default::default()
        })
        .expect("drafts");
    assert_eq!(drafts.len(), 3);
    let window = s
        .incidents(&IncidentFilter {
            from: Some(at(60)),
            to: Some(at(180)),
            ..Default::default()
        })
        .expect("window");
    assert_eq!(
        window.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![Uuid::from_u128(102), Uuid::from_u128(101)],
        "newest first, end exclusive"
    );
}

#[test]
fn notes_by_student_and_follow_up_date_respect_who_may_read_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    s.write_note(&note(1, "S-1", Some("2026-12-01")), at(1))
        .expect("n1");
    s.write_note(&note(2, "S-1", None), at(2)).expect("n2");
    let mut shared = note(3, "S-2", Some("2026-12-03"));
    shared.shared_with = vec![SRO_2];
    s.write_note(&shared, at(3)).expect("n3");
    assert_eq!(s.notes_for_student("S-1").expect("by student").len(), 2);
    let due = s
        .notes_due(
            "2026-12-01".parse().expect("d"),
            "2026-12-05".parse().expect("d"),
        )
        .expect("due");
    assert_eq!(
        due.iter().map(|n| n.id.as_u128()).collect::<Vec<_>>(),
        vec![1, 3]
    );

    // Another SRO on a device holding the same notes sees only the one shared with them.
    let mut other = store_for(dir.path(), "o.db", 3, SRO_2);
    merge_into(&mut s, &mut other);
    assert!(other.notes_for_student("S-1").expect("q").is_empty());
    assert_eq!(other.notes_for_student("S-2").expect("q").len(), 1);
    assert!(
        other.note(Uuid::from_u128(1)).is_err(),
        "unshared note is not readable"
    );
    assert!(
        other.search("attendance", 10).expect("search").len() == 1,
        "search hides unshared notes"
    );
}

#[test]
fn full_text_search_finds_words_in_narratives_supplements_and_notes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    s.create_incident(
        &incident(1, "A student brought a knife to the library."),
        at(1),
    )
    .expect("i1");
    s.create_incident(&incident(2, "Graffiti on the north stairwell."), at(1))
        .expect("i2");
    s.submit_incident(Uuid::from_u128(2), at(2))
        .expect("submit");
    s.add_supplement(
        Uuid::from_u128(2),
        Uuid::from_u128(3),
        "Custodian repainted the wall",
        at(3),
    )
    .expect("supplement");
    s.write_note(&note(4, "S-9", None), at(4)).expect("note");
    let ids = |q: &str| -> Vec<u128> {
        s.search(q, 10)
            .expect("search")
            .iter()
            .map(|h| h.doc_id.as_u128())
            .collect()
    };
    assert_eq!(ids("knife"), vec![1]);
    assert_eq!(ids("libr"), vec![1], "prefix match");
    assert_eq!(ids("repainted"), vec![2], "supplements are indexed");
    assert_eq!(ids("attendance"), vec![4], "notes are indexed");
    assert!(
        ids("\"; DROP TABLE incidents; --").is_empty(),
        "query syntax is neutralised"
    );
    let hit = &s.search("knife", 1).expect("search")[0];
    assert!(hit.snippet.contains("[knife]"), "{}", hit.snippet);
    assert_eq!(hit.kind, DocKind::Incident);
}

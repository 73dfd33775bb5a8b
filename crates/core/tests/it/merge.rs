//! Edits made offline on several devices merge without loss.

use rounds_core::model::*;
use uuid::Uuid;

use crate::support::*;

#[test]
fn two_officers_edit_one_incident_offline_and_both_edits_survive_the_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = store_for(dir.path(), "a.db", 1, SRO);
    let mut b = store_for(dir.path(), "b.db", 2, SRO_2);
    let id = Uuid::from_u128(9);
    a.create_incident(&incident(9, "Fight reported at lunch."), at(1))
        .expect("create");
    merge_into(&mut a, &mut b);

    // Offline, each appends to the narrative; A also moves the location.
    a.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some("Officer A separated the students.".into()),
            location: Some("Cafeteria, east doors".into()),
            ..Default::default()
        },
        at(2),
    )
    .expect("edit a");
    b.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some("Officer B took the witness statements.".into()),
            ..Default::default()
        },
        at(3),
    )
    .expect("edit b");

    merge_into(&mut a, &mut b);
    merge_into(&mut b, &mut a);
    let va = a.incident(id).expect("a");
    let vb = b.incident(id).expect("b");
    assert_eq!(
        va.body, vb.body,
        "both devices converge on the same incident"
    );
    assert!(
        va.body
            .narrative
            .contains("Officer A separated the students.")
    );
    assert!(
        va.body
            .narrative
            .contains("Officer B took the witness statements.")
    );
    assert!(va.body.narrative.starts_with("Fight reported at lunch."));
    assert_eq!(
        va.body.location, "Cafeteria, east doors",
        "A's location change is kept"
    );
    assert_eq!(
        a.projection_dump().expect("dump"),
        b.projection_dump().expect("dump")
    );
}

#[test]
fn applying_the_same_changes_twice_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = store_for(dir.path(), "a.db", 1, SRO);
    let mut b = store_for(dir.path(), "b.db", 2, SRO_2);
    a.create_incident(&incident(9, "x"), at(1)).expect("create");
    let h = a.header(Uuid::from_u128(9)).expect("header");
    let changes = a.all_changes(Uuid::from_u128(9)).expect("changes");
    assert_eq!(b.apply_remote(&h, &changes, true).expect("first").new, 1);
    let before = b.projection_dump().expect("dump");
    assert_eq!(
        b.apply_remote(&h, &changes, true).expect("again").new,
        0,
        "nothing new the second time"
    );
    assert_eq!(b.projection_dump().expect("dump"), before);
    assert_eq!(
        b.backlog().expect("backlog").changes,
        0,
        "server changes are not re-pushed"
    );
}

#[test]
fn pending_changes_are_acknowledged_once_and_compaction_keeps_unacknowledged_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = store_for(dir.path(), "g.db", 1, GUARD);
    g.start_shift(&new_shift(1, 0)).expect("start");
    for n in 0..5 {
        g.record_check(
            Uuid::from_u128(1),
            &clear_check(10 + n, 1 + n % 4, n as i64),
        )
        .expect("check");
    }
    let pending = g.pending_changes(usize::MAX).expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].changes.len(), 6, "start + five checks");
    // The server acknowledges the first three (say a page boundary), then the shift ends and
    // the document is compacted.
    let first: Vec<[u8; 32]> = pending[0].changes[..3].iter().map(|c| c.hash).collect();
    assert_eq!(g.acknowledge(&first).expect("ack"), 3);
    assert_eq!(
        g.acknowledge(&first).expect("ack again"),
        0,
        "acknowledging twice is a no-op"
    );
    g.end_shift(Uuid::from_u128(1), at(30)).expect("end");
    let left = g.pending_changes(usize::MAX).expect("pending");
    assert_eq!(
        left[0].changes.len(),
        4,
        "three checks and the end are still to push"
    );
    assert_eq!(g.backlog().expect("backlog").changes, 4);
    let path = g.path().to_path_buf();
    g.close().expect("close");
    let g = reopen(&path, GUARD);
    assert_eq!(
        g.shift(Uuid::from_u128(1), at(40))
            .expect("shift")
            .checks
            .len(),
        5
    );
    // Bounded pages: with a tiny budget only one change comes back, so progress is possible.
    let page = g.pending_changes(1).expect("page");
    assert_eq!(page.iter().map(|d| d.changes.len()).sum::<usize>(), 1);
}

#[test]
fn two_connections_to_one_store_never_work_on_a_stale_document() {
    // The app's screens and its background sync hold separate connections to one file. An
    // edit committed through one must be seen by the other's next read and next edit, or the
    // second edit's projection would silently drop the first.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(dir.path(), "pair.db");
    store_for(dir.path(), "pair.db", 1, SRO)
        .close()
        .expect("close");
    let (mut screens, mut sync) = rounds_core::store::Store::open_pair(
        &path,
        SRO,
        &secret_of(SRO),
        &mut rounds_core::keyslots::Lockout::for_store(
            &path,
            &mut rounds_core::entropy::SeededEntropy::new(1),
        )
        .expect("seal"),
        std::time::Instant::now(),
    )
    .expect("open pair");
    let id = Uuid::from_u128(21);
    screens
        .create_incident(&incident(21, "Door propped open."), at(1))
        .expect("create");
    // The sync connection loads (and caches) the document, then the screens edit it.
    assert_eq!(sync.incident(id).expect("read").body.location, "Cafeteria");
    screens
        .edit_incident(
            id,
            &IncidentEdit {
                location: Some("Gym".into()),
                ..Default::default()
            },
            at(2),
        )
        .expect("edit on screens");
    assert_eq!(
        sync.incident(id).expect("read again").body.location,
        "Gym",
        "the other connection's commit is seen, not the cached copy"
    );
    sync.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some(" Closed it.".into()),
            ..Default::default()
        },
        at(3),
    )
    .expect("edit on sync");
    let row = screens
        .incidents(&rounds_core::store::IncidentFilter::default())
        .expect("list")
        .into_iter()
        .find(|r| r.id == id)
        .expect("row");
    assert_eq!(row.location, "Gym", "the projection keeps the first edit");
    assert!(
        screens
            .incident(id)
            .expect("read")
            .body
            .narrative
            .ends_with("Closed it."),
        "and the screens see the second"
    );
}

//! The two connections of one unlock (`Store::open_pair`: the app's screens and its background
//! sync) interleaved at the points where a stale document could be written back. Each race is
//! forced deterministically: by the order of calls, or by the store's test hook running the
//! other connection at the exact point in between.

use rounds_core::model::*;
use rounds_core::store::{HookPoint, Store};
use uuid::Uuid;

use crate::support::*;

fn pair(dir: &std::path::Path, person: Uuid) -> (Store, Store) {
    let path = db_path(dir, "pair.db");
    store_for(dir, "pair.db", 1, person).close().expect("close");
    Store::open_pair(&path, person, &secret_of(person), at(1)).expect("open pair")
}

#[test]
fn a_change_pulled_while_compacting_is_not_deleted_unsaved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut screens, mut sync) = pair(dir.path(), SRO);
    let id = Uuid::from_u128(21);
    screens
        .create_incident(&incident(21, "Door propped open."), at(1))
        .expect("create");
    // Another officer's device edits the incident; the server holds that change.
    let mut peer = store_for(dir.path(), "peer.db", 2, SRO_2);
    let header = screens.header(id).expect("header");
    peer.apply_remote(&header, &screens.all_changes(id).expect("changes"), true)
        .expect("peer gets the incident");
    peer.edit_incident(
        id,
        &IncidentEdit {
            append_narrative: Some("Peer closed it.".into()),
            ..Default::default()
        },
        at(2),
    )
    .expect("peer edit");
    let from_server = peer.all_changes(id).expect("peer changes");
    // The screens compact the incident; between building the snapshot and writing it, the
    // background sync stores the peer's change (acknowledged: it came from the server).
    let mut sync_slot = Some((header.clone(), from_server));
    screens.set_hook(Some(Box::new(move |point| {
        if point == HookPoint::CompactSnapshotBuilt
            && let Some((h, changes)) = sync_slot.take()
        {
            let applied = sync.apply_remote(&h, &changes, true).expect("sync stores");
            assert!(applied.complete && applied.new == 1, "{applied:?}");
        }
    })));
    screens.compact(id).expect("compact");
    screens.set_hook(None);
    screens.close().expect("close");
    let mut again = reopen(&db_path(dir.path(), "pair.db"), SRO);
    assert!(
        again
            .incident(id)
            .expect("incident")
            .body
            .narrative
            .ends_with("Peer closed it."),
        "the change pulled during compaction is still on the device"
    );
}

#[test]
fn checks_recorded_during_a_sync_stay_in_the_round() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut screens, mut sync) = pair(dir.path(), GUARD);
    let shift = Uuid::from_u128(1);
    screens.start_shift(&new_shift(1, 0)).expect("start");
    screens
        .record_check(shift, &clear_check(11, 1, 5))
        .expect("check 1");
    let header = screens.header(shift).expect("header");
    // The background sync stores a page holding the shift (here its own changes, as a page
    // repeated after a lost answer would): the sync connection now has the shift cached.
    let page = screens.all_changes(shift).expect("changes");
    sync.apply_remote(&header, &page, true).expect("first page");
    // The guard records a check on the screens' connection while the sync runs.
    screens
        .record_check(shift, &clear_check(12, 2, 10))
        .expect("check 2");
    // The sync's next page touches the shift again.
    sync.apply_remote(&header, &page, true)
        .expect("second page");
    let view = screens.shift(shift, at(20)).expect("shift");
    assert_eq!(
        view.checks.len(),
        2,
        "the check recorded during the sync is still in the round"
    );
    assert_eq!(
        screens.projection_dump().expect("dump"),
        {
            screens.rebuild_projections().expect("rebuild");
            screens.projection_dump().expect("dump")
        },
        "the projections match what the documents say"
    );
}

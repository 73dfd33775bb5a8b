//! Projections are derived data: rebuilding them from the documents gives the same rows.

use rounds_core::model::*;
use uuid::Uuid;

use crate::support::*;

#[test]
fn rebuilding_every_projection_gives_identical_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store_for(dir.path(), "s.db", 2, SRO);
    let mut g = store_for(dir.path(), "g.db", 1, GUARD);
    g.start_shift(&new_shift(1, 0)).expect("start");
    for n in 0..12 {
        g.record_check(
            Uuid::from_u128(1),
            &clear_check(100 + n, 1 + n % 4, n as i64 * 7),
        )
        .expect("check");
    }
    g.end_shift(Uuid::from_u128(1), at(100)).expect("end");
    g.start_shift(&new_shift(2, 101)).expect("second shift");
    g.record_check(Uuid::from_u128(2), &clear_check(200, 2, 102))
        .expect("check");
    s.create_incident(&incident(5, "Smoke alarm in the science wing."), at(3))
        .expect("i");
    s.submit_incident(Uuid::from_u128(5), at(4))
        .expect("submit");
    s.add_supplement(
        Uuid::from_u128(5),
        Uuid::from_u128(6),
        "Fire department cleared it.",
        at(5),
    )
    .expect("supplement");
    let mut n = note(7, "S-7", Some("2026-12-02"));
    n.shared_with = vec![SUPERVISOR];
    s.write_note(&n, at(6)).expect("note");
    merge_into(&mut g, &mut s);

    let before = s.projection_dump().expect("dump");
    assert!(
        before.iter().any(|l| l.starts_with("patrol_checks:")),
        "dump covers checks"
    );
    assert!(
        before.iter().any(|l| l.starts_with("search_index:")),
        "dump covers search"
    );
    assert_eq!(
        s.rebuild_projections().expect("rebuild"),
        4,
        "four documents"
    );
    assert_eq!(
        s.projection_dump().expect("dump"),
        before,
        "identical after rebuild"
    );

    let before = g.projection_dump().expect("dump");
    g.rebuild_projections().expect("rebuild");
    assert_eq!(
        g.projection_dump().expect("dump"),
        before,
        "the fast check path matches too"
    );
    let _ = IncidentStatus::Draft;
}

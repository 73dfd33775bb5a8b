//! Random sequences of actions on 2–3 stores with random merges between them converge to
//! identical projections, and nothing any store said was saved is lost.
//!
//! `PROPTEST_CASES` sets the number of cases (CI: the default below; deep runs: thousands).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rounds_core::model::*;
use rounds_core::store::Store;
use uuid::Uuid;

use crate::support::*;

#[derive(Debug, Clone)]
enum Action {
    StartShift,
    Check { cp: u128 },
    EndShift,
    CreateIncident { on: usize },
    AppendNarrative { on: usize, pick: usize },
    MoveIncident { on: usize, pick: usize, place: u8 },
    Submit { on: usize, pick: usize },
    Supplement { on: usize, pick: usize },
    WriteNote { on: usize, student: u8 },
    Merge { from: usize, to: usize },
}

fn action(stores: usize) -> impl Strategy<Value = Action> {
    let s = 0..stores;
    prop_oneof![
        1 => Just(Action::StartShift),
        6 => (1u128..=4).prop_map(|cp| Action::Check { cp }),
        1 => Just(Action::EndShift),
        2 => s.clone().prop_map(|on| Action::CreateIncident { on }),
        3 => (s.clone(), any::<usize>()).prop_map(|(on, pick)| Action::AppendNarrative { on, pick }),
        1 => (s.clone(), any::<usize>(), any::<u8>()).prop_map(|(on, pick, place)| Action::MoveIncident { on, pick, place }),
        1 => (s.clone(), any::<usize>()).prop_map(|(on, pick)| Action::Submit { on, pick }),
        1 => (s.clone(), any::<usize>()).prop_map(|(on, pick)| Action::Supplement { on, pick }),
        1 => (1..stores, any::<u8>()).prop_map(|(on, student)| Action::WriteNote { on, student }),
        3 => (s.clone(), s).prop_map(|(from, to)| Action::Merge { from, to }),
    ]
}

/// What must be true at the end, from the actions that returned `Ok`.
#[derive(Default)]
struct Expected {
    checks: BTreeSet<Uuid>,
    narrative_parts: BTreeMap<Uuid, Vec<String>>,
    notes: BTreeSet<Uuid>,
    supplements: BTreeMap<Uuid, usize>,
}

fn run(stores_n: usize, actions: Vec<Action>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    // Store 0 is the guard's phone; the others are two officers' devices.
    let people = [GUARD, SRO, SRO_2];
    let mut stores: Vec<Store> = (0..stores_n)
        .map(|i| store_for(dir.path(), &format!("s{i}.db"), i as u128 + 1, people[i]))
        .collect();
    let mut exp = Expected::default();
    let mut incidents: Vec<Uuid> = Vec::new();
    let mut open_shift: Option<Uuid> = None;
    let mut next = 1u128;
    let mut minute = 0i64;
    for a in actions {
        next += 1;
        minute += 1;
        let now = at(minute);
        match a {
            Action::StartShift => {
                let id = Uuid::from_u128(next);
                if stores[0]
                    .start_shift(&rounds_core::store::NewShift {
                        id,
                        post_id: POST_A,
                        started_at: now,
                    })
                    .is_ok()
                {
                    open_shift = Some(id);
                }
            }
            Action::Check { cp } => {
                if let Some(shift) = open_shift {
                    let c = clear_check(next, cp, minute);
                    stores[0]
                        .record_check(shift, &c)
                        .expect("check on the open shift");
                    exp.checks.insert(c.id);
                }
            }
            Action::EndShift => {
                if let Some(shift) = open_shift.take() {
                    stores[0].end_shift(shift, now).expect("end");
                }
            }
            Action::CreateIncident { on } => {
                let i = incident(next, "Start.");
                stores[on].create_incident(&i, now).expect("create");
                incidents.push(i.id);
                exp.narrative_parts
                    .entry(i.id)
                    .or_default()
                    .push("Start.".into());
            }
            Action::AppendNarrative { on, pick } | Action::MoveIncident { on, pick, .. }
                if incidents.is_empty()
                    || !stores[on]
                        .document_ids()
                        .expect("ids")
                        .contains(&incidents[pick % incidents.len()]) => {}
            Action::AppendNarrative { on, pick } => {
                let id = incidents[pick % incidents.len()];
                let text = format!("part{next}");
                let edit = IncidentEdit {
                    append_narrative: Some(text.clone()),
                    ..Default::default()
                };
                if stores[on].edit_incident(id, &edit, now).is_ok() {
                    exp.narrative_parts.entry(id).or_default().push(text);
                }
            }
            Action::MoveIncident { on, pick, place } => {
                let id = incidents[pick % incidents.len()];
                let edit = IncidentEdit {
                    location: Some(format!("Room {place}")),
                    ..Default::default()
                };
                let _ = stores[on].edit_incident(id, &edit, now);
            }
            Action::Submit { on, pick } | Action::Supplement { on, pick }
                if incidents.is_empty()
                    || !stores[on]
                        .document_ids()
                        .expect("ids")
                        .contains(&incidents[pick % incidents.len()]) => {}
            Action::Submit { on, pick } => {
                let _ = stores[on].submit_incident(incidents[pick % incidents.len()], now);
            }
            Action::Supplement { on, pick } => {
                let id = incidents[pick % incidents.len()];
                if stores[on]
                    .add_supplement(id, Uuid::from_u128(next), &format!("sup{next}"), now)
                    .is_ok()
                {
                    *exp.supplements.entry(id).or_default() += 1;
                }
            }
            Action::WriteNote { on, student } => {
                let n = note(next, &format!("S-{}", student % 5), None);
                stores[on].write_note(&n, now).expect("note");
                exp.notes.insert(n.id);
            }
            Action::Merge { from, to } if from != to => {
                let (a, b) = two(&mut stores, from, to);
                merge_into(a, b);
            }
            Action::Merge { .. } => {}
        }
    }
    // Final clean exchange: everyone with everyone.
    for from in 0..stores_n {
        for to in 0..stores_n {
            if from != to {
                let (a, b) = two(&mut stores, from, to);
                merge_into(a, b);
            }
        }
    }
    let reference = stores[0].projection_dump().expect("dump");
    for (i, s) in stores.iter_mut().enumerate() {
        prop_assert_eq!(
            &s.projection_dump().expect("dump"),
            &reference,
            "store {} converged",
            i
        );
        // The officers' devices hold the guard's shifts (the projections above converged) but
        // may not show them: an SRO does not read shifts. The guard's own lists must hold every
        // check.
        if i > 0 {
            prop_assert!(
                s.shifts(10_000).expect("shifts").is_empty(),
                "store {} shows no shift",
                i
            );
        }
        let mut checks = BTreeSet::new();
        for sh in s.shifts(10_000).expect("shifts") {
            checks.extend(
                s.shift(sh.id, at(0))
                    .expect("shift")
                    .checks
                    .iter()
                    .map(|c| c.check.id),
            );
        }
        if i == 0 {
            prop_assert_eq!(&checks, &exp.checks, "the guard's store holds every check");
        }
        for (id, parts) in &exp.narrative_parts {
            let v = s.incident(*id).expect("incident");
            for p in parts {
                prop_assert!(
                    v.body.narrative.contains(p.as_str()),
                    "store {}: {:?} lost from {:?}",
                    i,
                    p,
                    v.body.narrative
                );
            }
            prop_assert_eq!(
                v.body.supplements.len(),
                exp.supplements.get(id).copied().unwrap_or(0)
            );
        }
        let ids = s.document_ids().expect("ids");
        for n in &exp.notes {
            prop_assert!(ids.contains(n), "store {} holds note {}", i, n);
        }
        // Rebuilding from the documents alone gives the same projections.
        s.rebuild_projections().expect("rebuild");
        prop_assert_eq!(&s.projection_dump().expect("dump"), &reference);
    }
    Ok(())
}

fn two(stores: &mut [Store], a: usize, b: usize) -> (&mut Store, &mut Store) {
    if a < b {
        let (l, r) = stores.split_at_mut(b);
        (&mut l[a], &mut r[0])
    } else {
        let (l, r) = stores.split_at_mut(a);
        (&mut r[0], &mut l[b])
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn stores_converge_and_lose_nothing(
        (n, actions) in (2usize..=3).prop_flat_map(|n| (Just(n), proptest::collection::vec(action(n), 1..60)))
    ) {
        run(n, actions)?;
    }
}

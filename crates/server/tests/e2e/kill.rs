//! The server process is killed with SIGKILL at random points while several devices sync and
//! it compacts every document in the background (a pass at every start and every second, so
//! kills land inside passes), and restarted on the same data folder (or PostgreSQL database):
//! nothing it acknowledged is lost, nothing is stored twice, and the devices recover by
//! themselves. `ROUNDS_DEEP=1` kills it 200 times instead of 30.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rounds_core::client::{self, HttpTransport};
use rounds_core::entropy::SeededEntropy;
use rounds_server::seed::ids;

use crate::support::*;

/// Compaction of every document at every start and then every second.
const COMPACT_ALWAYS: &[(&str, &str)] = &[
    ("ROUNDS_COMPACT_EVERY_SECONDS", "1"),
    ("ROUNDS_COMPACT_CLOSED_AFTER_SECONDS", "0"),
    ("ROUNDS_COMPACT_IDLE_AFTER_SECONDS", "0"),
];

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed() {
    let kills = if std::env::var("ROUNDS_DEEP").is_ok() {
        200
    } else {
        30
    };
    let data = seeded_district();
    let mut server = ServerProcess::start(&data, COMPACT_ALWAYS);
    let base = Arc::new(Mutex::new(server.base.clone()));
    let who = [&GIA, &GUS, &OLGA, &OMAR];
    let mut devices = Vec::new();
    for w in who {
        let code = admin_cli(&data, &["enroll-code"]);
        let code = code.split_whitespace().next().expect("code").to_string();
        let mut d = Device::enroll_at(&base.lock().expect("base"), &code, w);
        d.sync().expect("first sync");
        devices.push(d);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let (stop, base) = (stop.clone(), base.clone());
            std::thread::spawn(move || {
                let mut confirmed = BTreeSet::new();
                let mut n = 0u128;
                let shift = if d.session.role == rounds_core::model::Role::Guard {
                    let post = if i == 0 {
                        ids::LINCOLN_MAIN
                    } else {
                        ids::ADAMS_CAMPUS
                    };
                    Some((shift_with_checks(&mut d, 1_000 + i as u128, post, 1), post))
                } else {
                    None
                };
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match shift {
                        Some((s, post)) => {
                            let c = rounds_core::model::CheckInput {
                                id: uuid::Uuid::from_u128((i as u128 + 1) << 64 | n),
                                checkpoint_id: ids::checkpoint(post, 1),
                                method: rounds_core::model::CheckMethod::Tag,
                                result: rounds_core::model::CheckResult::AllClear,
                                note: String::new(),
                                photos: vec![],
                                at: at(1),
                            };
                            d.store.record_check(s, &c).expect("record");
                        }
                        None => {
                            let school = if d.session.person_id == ids::SRO_OMAR {
                                ids::BAKER
                            } else {
                                ids::LINCOLN
                            };
                            incident_at(
                                &mut d,
                                (i as u128 + 1) << 64 | n,
                                school,
                                "During the kill test.",
                            );
                        }
                    }
                    let before: BTreeSet<[u8; 32]> = pending(&d);
                    let url = base.lock().expect("base").clone();
                    let mut t = HttpTransport::new(&url, &d.session.token).expect("transport");
                    let _ = client::sync_now(&mut d.store, &mut t, at(600));
                    let after = pending(&d);
                    confirmed.extend(before.difference(&after).copied());
                    std::thread::sleep(Duration::from_millis(3));
                }
                (d, confirmed)
            })
        })
        .collect();

    // Each server lives 30 to 280 ms, and its compaction pass starts as it starts, so most
    // kills land in the middle of one. On a loaded machine a pass may not get through one
    // batch in so short a life: then the servers are given a second each (a whole pass) until
    // one has compacted something, checked while no server runs, so the kills surely cut
    // through compaction and not only through pushes.
    let mut rng = SeededEntropy::new(0x5EED);
    let mut compacted_between_kills = false;
    for k in 0..kills * 3 {
        if k >= kills && compacted_between_kills {
            break;
        }
        let life = if k >= kills / 2 && !compacted_between_kills {
            1_200
        } else {
            30 + rng.next_u64() % 250
        };
        std::thread::sleep(Duration::from_millis(life));
        server.kill();
        compacted_between_kills |= data.open().storage_size().expect("size").compacted > 0;
        server = ServerProcess::start(&data, COMPACT_ALWAYS);
        *base.lock().expect("base") = server.base.clone();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut all_confirmed = BTreeSet::new();
    let mut finished = Vec::new();
    for w in workers {
        let (mut d, confirmed) = w.join().expect("worker");
        // The devices recover by themselves: a plain sync now succeeds and empties the queue.
        d.base = base.lock().expect("base").clone();
        d.sync().expect("a device syncs again after the restarts");
        assert!(pending(&d).is_empty(), "nothing left waiting");
        all_confirmed.extend(confirmed);
        finished.push(d);
    }
    server.kill();

    let storage = data.open();
    let mut stored = BTreeSet::new();
    for d in &finished {
        for id in d.store.document_ids().expect("ids") {
            if let Some(doc) = storage.document(id).expect("doc") {
                let changes = doc.decoded_changes().expect("stored changes decode");
                let distinct: BTreeSet<[u8; 32]> = changes.iter().map(|c| c.hash().0).collect();
                // A change both in the saved part and among the rows after it would be counted
                // twice here; automerge itself would hide it.
                let counted =
                    doc.saved.as_ref().map_or(0, |s| s.change_count) as usize + doc.changes.len();
                assert_eq!(counted, distinct.len(), "{id}: every change stored once");
                stored.extend(distinct);
            }
        }
    }
    assert!(
        all_confirmed.len() > 30,
        "the devices did sync during the kills ({})",
        all_confirmed.len()
    );
    assert!(
        compacted_between_kills,
        "the background compaction ran between the kills"
    );
    let lost: Vec<_> = all_confirmed.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged changes were lost",
        lost.len()
    );
}

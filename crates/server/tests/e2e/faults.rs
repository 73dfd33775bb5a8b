//! A model-based property test: 2–5 devices, random actions, random syncs through a transport
//! that drops, duplicates, delays and cuts off requests and responses (also after the server
//! committed; a cut-off photo chunk arrives half). After a final clean sync every device that
//! may see a document holds the same state as the server, every change a device was told is
//! synced is on the server, and every photo a guard took is on the server, whole.
//!
//! `PROPTEST_CASES` sets the number of cases (CI: 6; deep runs: hundreds).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use rounds_core::client::{HttpTransport, SyncProblem, Transport};
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::*;
use rounds_protocol::PhotoStatus;
use rounds_server::access;
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    DropRequest,
    DropResponse,
    Duplicate,
    Delay,
    CutOff,
}

struct Faulty {
    inner: HttpTransport,
    rng: SeededEntropy,
    rate: u64,
}

impl Faulty {
    fn fault(&mut self) -> Fault {
        if self.rng.next_u64() % 100 >= self.rate {
            return Fault::None;
        }
        match self.rng.next_u64() % 5 {
            0 => Fault::DropRequest,
            1 => Fault::DropResponse,
            2 => Fault::Duplicate,
            3 => Fault::Delay,
            _ => Fault::CutOff,
        }
    }

    fn lost() -> SyncProblem {
        SyncProblem::NoConnection("injected fault".into())
    }

    fn post(&mut self, body: Vec<u8>, call: Post) -> Result<Vec<u8>, SyncProblem> {
        let send = |t: &mut HttpTransport, b: Vec<u8>| match call {
            Post::Push => t.push(b),
            Post::Fetch => t.fetch(b),
            Post::Events => t.device_events(b),
        };
        match self.fault() {
            Fault::None => send(&mut self.inner, body),
            Fault::DropRequest => Err(Self::lost()),
            Fault::DropResponse => {
                let _ = send(&mut self.inner, body);
                Err(Self::lost())
            }
            Fault::Duplicate => {
                let _ = send(&mut self.inner, body.clone());
                send(&mut self.inner, body)
            }
            Fault::Delay => {
                std::thread::sleep(std::time::Duration::from_millis(self.rng.next_u64() % 15));
                send(&mut self.inner, body)
            }
            Fault::CutOff => {
                let half = body.len() / 2;
                let _ = send(&mut self.inner, body[..half].to_vec());
                Err(Self::lost())
            }
        }
    }
}

/// Which body-carrying request a fault is injected into.
#[derive(Clone, Copy)]
enum Post {
    Push,
    Fetch,
    Events,
}

impl Transport for Faulty {
    fn photo_status(&mut self, hash: &str, record: Uuid) -> Result<PhotoStatus, SyncProblem> {
        match self.fault() {
            Fault::None | Fault::Delay | Fault::Duplicate => self.inner.photo_status(hash, record),
            Fault::DropRequest => Err(Self::lost()),
            Fault::DropResponse | Fault::CutOff => {
                let _ = self.inner.photo_status(hash, record);
                Err(Self::lost())
            }
        }
    }
    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        match self.fault() {
            Fault::None => self.inner.photo_put(hash, record, offset, total, chunk),
            Fault::DropRequest => Err(Self::lost()),
            Fault::DropResponse => {
                let _ = self.inner.photo_put(hash, record, offset, total, chunk);
                Err(Self::lost())
            }
            Fault::Duplicate => {
                let _ = self
                    .inner
                    .photo_put(hash, record, offset, total, chunk.clone());
                self.inner.photo_put(hash, record, offset, total, chunk)
            }
            Fault::Delay => {
                std::thread::sleep(std::time::Duration::from_millis(self.rng.next_u64() % 15));
                self.inner.photo_put(hash, record, offset, total, chunk)
            }
            Fault::CutOff => {
                // The server receives the first half of the chunk as if the connection dropped.
                let half = chunk.len() / 2;
                let _ = self
                    .inner
                    .photo_put(hash, record, offset, total, chunk[..half].to_vec());
                Err(Self::lost())
            }
        }
    }

    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.post(body, Post::Push)
    }
    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.post(body, Post::Fetch)
    }
    fn device_events(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.post(body, Post::Events)
    }
    fn pull(&mut self, a: u64, r: u64, _m: u32, w: bool) -> Result<Option<Vec<u8>>, SyncProblem> {
        // Small pages so that paging and resuming are exercised too.
        match self.fault() {
            Fault::None | Fault::Delay => self.inner.pull(a, r, 4096, w),
            Fault::DropRequest => Err(Self::lost()),
            Fault::DropResponse | Fault::CutOff => {
                let _ = self.inner.pull(a, r, 4096, w);
                Err(Self::lost())
            }
            Fault::Duplicate => {
                let _ = self.inner.pull(a, r, 4096, w);
                self.inner.pull(a, r, 4096, w)
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Act {
    /// Device `d` does its role's next thing (seeded by `n`).
    Work { d: usize, n: u8 },
    /// Device `d` syncs through the faulty transport.
    Sync { d: usize, seed: u64 },
    /// The server compacts every document with change rows, settled or not.
    CompactServer,
    /// Device `d` compacts its `k`-th document (modulo how many it holds).
    CompactDevice { d: usize, k: usize },
}

fn acts(devices: usize) -> impl Strategy<Value = Vec<Act>> {
    proptest::collection::vec(
        prop_oneof![
            3 => (0..devices, any::<u8>()).prop_map(|(d, n)| Act::Work { d, n }),
            2 => (0..devices, any::<u64>()).prop_map(|(d, seed)| Act::Sync { d, seed }),
            1 => Just(Act::CompactServer),
            1 => (0..devices, any::<usize>()).prop_map(|(d, k)| Act::CompactDevice { d, k }),
        ],
        1..40,
    )
}

/// Does the device's next thing; returns the hash of a photo it took, if it took one.
fn work(d: &mut Device, n: u8, next: &mut u128, known_incidents: &[Uuid]) -> Option<String> {
    *next += 1;
    let id = *next;
    let role = d.session.role;
    let minute = i64::from(n);
    match role {
        Role::Guard => {
            let post = if d.session.person_id == ids::GUARD_LINCOLN {
                ids::LINCOLN_MAIN
            } else {
                ids::ADAMS_CAMPUS
            };
            match d.store.current_shift(at(minute)).expect("current") {
                Some(s) if n.is_multiple_of(7) => {
                    d.store.end_shift(s.id, at(minute + 1)).expect("end")
                }
                Some(s) => {
                    // Every fourth check has a photo of several chunks.
                    let photo = n.is_multiple_of(4).then(|| {
                        let bytes = jpeg(id as u64, 300_000 + usize::from(n) * 1_000);
                        d.store
                            .add_photo(&bytes, at(minute), &mut SeededEntropy::new(id as u64))
                            .expect("photo")
                    });
                    d.store
                        .record_check(
                            s.id,
                            &CheckInput {
                                id: Uuid::from_u128(id),
                                checkpoint_id: ids::checkpoint(post, 1 + u32::from(n % 3)),
                                method: CheckMethod::Tag,
                                result: CheckResult::AllClear,
                                note: String::new(),
                                photos: photo.iter().cloned().collect(),
                                at: at(minute),
                            },
                        )
                        .expect("check");
                    return photo;
                }
                None => d
                    .store
                    .start_shift(&rounds_core::store::NewShift {
                        id: Uuid::from_u128(id),
                        post_id: post,
                        started_at: at(0),
                    })
                    .expect("start"),
            }
        }
        Role::Sro | Role::Supervisor => {
            let school = if d.session.person_id == ids::SRO_OMAR {
                ids::BAKER
            } else {
                ids::LINCOLN
            };
            let mine: Vec<Uuid> = known_incidents
                .iter()
                .copied()
                .filter(|i| d.store.document_ids().expect("ids").contains(i))
                .collect();
            let status = |d: &mut Device, id: Uuid| {
                let doc = d.store.document(id).expect("doc");
                rounds_core::document::read_incident(&doc)
                    .expect("read")
                    .status
            };
            // Reviews and submissions race the edits other devices make offline: whatever the
            // order they reach the server in, nothing honest is refused (checked below, where
            // a clean sync must leave nothing pending).
            if role == Role::Supervisor && n % 4 == 2 && !mine.is_empty() {
                let target = mine[usize::from(n) % mine.len()];
                if matches!(
                    status(d, target),
                    IncidentStatus::Submitted | IncidentStatus::Amended
                ) && d.store.header(target).expect("h").author_id != d.session.person_id
                {
                    let decision = if n % 8 == 2 {
                        ReviewDecision::Approve
                    } else {
                        ReviewDecision::Return
                    };
                    d.store
                        .review_incident(target, decision, "Checked.", at(minute))
                        .expect("a supervisor reviews a submitted report");
                    return None;
                }
            }
            if n % 5 == 3 && !mine.is_empty() {
                let target = mine[usize::from(n) % mine.len()];
                if matches!(
                    status(d, target),
                    IncidentStatus::Draft | IncidentStatus::Returned
                ) {
                    d.store
                        .submit_incident(target, at(minute))
                        .expect("a writer submits a draft");
                    return None;
                }
            }
            if n.is_multiple_of(3) && !mine.is_empty() {
                let target = mine[usize::from(n) % mine.len()];
                let _ = d.store.edit_incident(
                    target,
                    &IncidentEdit {
                        append_narrative: Some(format!("note {id}")),
                        ..Default::default()
                    },
                    at(minute),
                );
            } else if n % 5 == 1 && role == Role::Sro {
                let shared = if n.is_multiple_of(2) {
                    vec![ids::SUPERVISOR]
                } else {
                    vec![]
                };
                note_at(d, id, school, shared);
            } else {
                incident_at(d, id, school, "Seen on the round.");
            }
        }
        Role::Admin => {}
    }
    None
}

fn server_heads(server: &TestServer, id: Uuid) -> Vec<[u8; 32]> {
    let stored = server.storage.document(id).expect("doc").expect("stored");
    let am = stored.to_automerge().expect("stored document loads");
    let mut h: Vec<[u8; 32]> = am.get_heads().iter().map(|h| h.0).collect();
    h.sort();
    h
}

fn run(n: usize, script: Vec<Act>) -> Result<(), TestCaseError> {
    let server = TestServer::start();
    let people = [&GIA, &OLGA, &SUPERVISOR, &GUS, &OMAR];
    let mut devices: Vec<Device> = people[..n]
        .iter()
        .map(|p| Device::enroll(&server, p))
        .collect();
    for d in &mut devices {
        d.sync().expect("reference data");
    }
    let mut next = 10_000u128;
    let mut incidents: Vec<Uuid> = Vec::new();
    let mut confirmed: BTreeMap<[u8; 32], usize> = BTreeMap::new();
    let mut photos: BTreeSet<String> = BTreeSet::new();
    for act in script {
        match act {
            Act::Work { d, n } => {
                photos.extend(work(&mut devices[d], n, &mut next, &incidents));
                incidents = server_and_device_incidents(&devices);
            }
            Act::Sync { d, seed } => {
                let before = pending(&devices[d]);
                let mut t = Faulty {
                    inner: devices[d].transport(),
                    rng: SeededEntropy::new(seed),
                    rate: 40,
                };
                let _ = devices[d].sync_with(&mut t);
                let after = pending(&devices[d]);
                for h in before.difference(&after) {
                    confirmed.insert(*h, d);
                }
            }
            Act::CompactServer => {
                rounds_server::compaction::run_pass(
                    server.storage.as_ref(),
                    None,
                    usize::MAX,
                    || {},
                )
                .expect("compaction");
            }
            Act::CompactDevice { d, k } => {
                let ids = devices[d].store.document_ids().expect("ids");
                if !ids.is_empty() {
                    devices[d]
                        .store
                        .compact(ids[k % ids.len()])
                        .expect("device compaction");
                }
            }
        }
    }
    // Final clean syncs: everyone pushes, then everyone pulls what the others pushed.
    for _ in 0..2 {
        for d in &mut devices {
            let before = pending(d);
            d.sync().expect("clean sync");
            let after = pending(d);
            prop_assert!(after.is_empty(), "a clean sync pushes everything");
            for h in before.difference(&after) {
                confirmed.insert(*h, 0);
            }
        }
    }
    // Every change a device was told is synced is on the server.
    let mut on_server = BTreeSet::new();
    for d in &devices {
        for id in d.store.document_ids().expect("ids") {
            if let Some(s) = server.storage.document(id).expect("doc") {
                for c in s.decoded_changes().expect("stored changes decode") {
                    on_server.insert(c.hash().0);
                }
            }
        }
    }
    for h in confirmed.keys() {
        prop_assert!(
            on_server.contains(h),
            "a confirmed change is missing on the server"
        );
    }
    // Every photo is on the server, whole and checked, and no device still waits on one.
    for h in &photos {
        let kept = server_photo(&server, h);
        prop_assert!(kept.is_some(), "photo {} is on the server", h);
        prop_assert_eq!(&sha256_hex(&kept.unwrap_or_default()), h);
    }
    for d in &devices {
        prop_assert_eq!(d.store.pending_photo_count().expect("count"), 0);
    }
    // Every device that may see a document holds the server's state of it; no other does.
    let everything = server_doc_ids(&devices);
    for d in &mut devices {
        let person = server
            .storage
            .person(d.session.person_id)
            .expect("p")
            .expect("person");
        let viewer = rounds_server::auth::viewer(&person);
        let held: BTreeSet<Uuid> = d.store.document_ids().expect("ids").into_iter().collect();
        for id in &held {
            let (h, readers) = server
                .storage
                .header(*id)
                .expect("h")
                .expect("every held document reached the server");
            prop_assert!(
                access::may_read(&viewer, &h, &readers) || h.device_id == d.enrollment.device_id,
                "{} holds a document it may not see",
                person.username
            );
            let mut mine = d.store.heads(*id).expect("heads");
            mine.sort();
            prop_assert_eq!(
                mine,
                server_heads(&server, *id),
                "{} has the server's state of {}",
                person.username,
                id
            );
        }
        // And nothing visible is missing.
        for &other in &everything {
            let (h, readers) = server.storage.header(other).expect("h").expect("stored");
            if access::may_read(&viewer, &h, &readers) {
                prop_assert!(held.contains(&other), "{} lacks {}", person.username, other);
            }
        }
    }
    Ok(())
}

fn server_and_device_incidents(devices: &[Device]) -> Vec<Uuid> {
    let mut out = BTreeSet::new();
    for d in devices {
        for id in d.store.document_ids().expect("ids") {
            if d.store.header(id).expect("h").kind == DocKind::Incident {
                out.insert(id);
            }
        }
    }
    out.into_iter().collect()
}

fn server_doc_ids(devices: &[Device]) -> BTreeSet<Uuid> {
    devices
        .iter()
        .flat_map(|d| d.store.document_ids().expect("ids"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(6), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn devices_converge_with_the_server_through_faults(
        (n, script) in (2usize..=5).prop_flat_map(|n| (Just(n), acts(n)))
    ) {
        run(n, script)?;
    }
}

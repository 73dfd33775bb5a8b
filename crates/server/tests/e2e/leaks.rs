//! The leak check after random sharing: authors write contact notes and share them with random
//! people, readers try to share them on with forged pushes, everyone syncs in random order.
//! Then every pull and fetch answer each device received, and every device store (opened with
//! its keys), are scanned: no note ever reached anyone but its author and the people its
//! author shared it with.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ReadDoc as _;
use automerge::transaction::Transactable;
use proptest::prelude::*;
use rounds_core::client::{self, HttpTransport, SyncProblem, Transport};
use rounds_core::model::{DocKind, NoteEdit};
use rounds_protocol::{FetchResponse, PullResponse, PushRequest};
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

/// Forwards everything and keeps the ids of the contact notes in every pull and fetch answer.
struct Recording {
    inner: HttpTransport,
    notes: BTreeSet<Uuid>,
}

impl Recording {
    fn keep(&mut self, docs: &[rounds_protocol::DocChanges]) {
        for d in docs {
            if d.header.kind == "contact_note" {
                self.notes.insert(d.header.id);
            }
        }
    }
}

impl Intercept for Recording {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn pull(&mut self, a: u64, r: u64, m: u32, w: bool) -> Result<Option<Vec<u8>>, SyncProblem> {
        let answer = self.inner.pull(a, r, m, w)?;
        if let Some(body) = &answer {
            let p: PullResponse = rounds_protocol::decode(body).expect("a pull answer");
            self.keep(&p.docs);
        }
        Ok(answer)
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let answer = self.inner.fetch(body)?;
        let f: FetchResponse = rounds_protocol::decode(&answer).expect("a fetch answer");
        self.keep(&f.docs);
        // Whole documents come as saved documents too (snapshot pulls, compacted notes).
        for d in &f.saved {
            if d.header.kind == "contact_note" {
                self.notes.insert(d.header.id);
            }
        }
        Ok(answer)
    }
}

/// The people with a device, in the order acts name them: two note authors first.
const PEOPLE: [&Login; 6] = [&OLGA, &OMAR, &SUPERVISOR, &GIA, &GUS, &ADMIN];
const PERSON_IDS: [Uuid; 6] = [
    ids::SRO_OLGA,
    ids::SRO_OMAR,
    ids::SUPERVISOR,
    ids::GUARD_LINCOLN,
    ids::GUARD_ADAMS,
    ids::ADMIN,
];

#[derive(Debug, Clone)]
enum Act {
    /// Author `a` (0: Olga, 1: Omar) writes a note shared with the people of `mask`.
    Write { a: usize, mask: u8 },
    /// The author of note `n` shares it with person `p` as well.
    Share { n: usize, p: usize },
    /// Person `r`, if they hold note `n`, forges a change that shares it with person `p`.
    Reshare { r: usize, n: usize, p: usize },
    /// Person `d` syncs.
    Sync { d: usize },
}

fn acts() -> impl Strategy<Value = Vec<Act>> {
    proptest::collection::vec(
        prop_oneof![
            2 => (0..2usize, any::<u8>()).prop_map(|(a, mask)| Act::Write { a, mask }),
            1 => (0..8usize, 0..6usize).prop_map(|(n, p)| Act::Share { n, p }),
            2 => (0..6usize, 0..8usize, 0..6usize).prop_map(|(r, n, p)| Act::Reshare { r, n, p }),
            3 => (0..6usize).prop_map(|d| Act::Sync { d }),
        ],
        1..30,
    )
}

/// Syncs device `d`, keeping the notes its answers carried in `seen[d]`.
fn sync(devices: &mut [Device], seen: &mut [BTreeSet<Uuid>], d: usize) -> client::SyncReport {
    let mut t = Via(Recording {
        inner: devices[d].transport(),
        notes: BTreeSet::new(),
    });
    let report = devices[d].sync_with(&mut t).expect("sync");
    seen[d].extend(t.0.notes);
    report
}

fn run(script: Vec<Act>) -> Result<(), TestCaseError> {
    let server = TestServer::start();
    let mut devices: Vec<Device> = PEOPLE.iter().map(|p| Device::enroll(&server, p)).collect();
    let mut seen: Vec<BTreeSet<Uuid>> = vec![BTreeSet::new(); PEOPLE.len()];
    for d in 0..devices.len() {
        sync(&mut devices, &mut seen, d);
    }
    // Each note and everyone its author ever shared it with (the author included).
    let mut allowed: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    let mut notes: Vec<(Uuid, usize)> = Vec::new();
    let mut next = 5_000u128;
    for act in script {
        match act {
            Act::Write { a, mask } => {
                next += 1;
                let shared: Vec<Uuid> = (0..PEOPLE.len())
                    .filter(|i| *i != a && mask & (1 << i) != 0)
                    .map(|i| PERSON_IDS[i])
                    .collect();
                let school = if a == 0 { ids::LINCOLN } else { ids::BAKER };
                let id = note_at(&mut devices[a], next, school, shared.clone());
                let mut who: BTreeSet<Uuid> = shared.into_iter().collect();
                who.insert(PERSON_IDS[a]);
                allowed.insert(id, who);
                notes.push((id, a));
            }
            Act::Share { n, p } => {
                let Some(&(id, a)) = notes.get(n) else {
                    continue;
                };
                if p == a {
                    continue;
                }
                devices[a]
                    .store
                    .edit_note(
                        id,
                        &NoteEdit {
                            share_with: vec![PERSON_IDS[p]],
                            ..Default::default()
                        },
                        at(20),
                    )
                    .expect("the author shares her note");
                allowed.entry(id).or_default().insert(PERSON_IDS[p]);
            }
            Act::Reshare { r, n, p } => {
                let Some(&(id, a)) = notes.get(n) else {
                    continue;
                };
                if r == a || !devices[r].store.document_ids().expect("ids").contains(&id) {
                    continue;
                }
                let d = &mut devices[r];
                let mut am = d
                    .store
                    .document(id)
                    .expect("the note as the reader holds it");
                rounds_core::document::change(
                    &mut am,
                    at(30),
                    d.session.person_id,
                    "forged",
                    |tx| {
                        let list = tx
                            .get(automerge::ROOT, "shared_with")
                            .expect("get")
                            .expect("list")
                            .1;
                        let len = tx.length(&list);
                        tx.insert(&list, len, PERSON_IDS[p].to_string())
                            .expect("insert");
                        Ok(())
                    },
                )
                .expect("change");
                let c = am.get_last_local_change().expect("a change");
                let req = PushRequest {
                    signatures: vec![],
                    docs: vec![rounds_protocol::DocChanges {
                        header: rounds_core::wire::header_to_wire(&d.store.header(id).expect("h")),
                        changes: vec![serde_bytes::ByteBuf::from(c.raw_bytes().to_vec())],
                    }],
                };
                let resp = push_request(&server.base, &d.session.token, &req);
                prop_assert!(
                    resp.committed.is_empty(),
                    "a reader's re-share was committed"
                );
                prop_assert_eq!(resp.rejected.len(), 1);
            }
            Act::Sync { d } => {
                let report = sync(&mut devices, &mut seen, d);
                prop_assert!(
                    report.rejected.is_empty(),
                    "honest work refused: {:?}",
                    report.rejected
                );
            }
        }
    }
    for _ in 0..2 {
        for d in 0..devices.len() {
            sync(&mut devices, &mut seen, d);
        }
    }
    let may_hold =
        |person: Uuid, note: &Uuid| allowed.get(note).is_some_and(|w| w.contains(&person));
    for (i, d) in devices.iter_mut().enumerate() {
        let person = PERSON_IDS[i];
        for note in &seen[i] {
            prop_assert!(
                may_hold(person, note),
                "{} was sent note {} in a pull or fetch answer",
                PEOPLE[i].username,
                note
            );
        }
        for id in d.store.document_ids().expect("ids") {
            if d.store.header(id).expect("header").kind == DocKind::ContactNote {
                prop_assert!(
                    may_hold(person, &id),
                    "{}'s store holds note {}",
                    PEOPLE[i].username,
                    id
                );
                // And the note as stored lists only readers its author chose.
                let doc = d.store.document(id).expect("doc");
                let body = rounds_core::document::read_note(&doc).expect("note");
                for r in body.shared_with {
                    prop_assert!(
                        may_hold(r, &id),
                        "note {} lists a reader its author never chose",
                        id
                    );
                }
            }
        }
    }
    // The check cannot pass by nobody receiving anything: every note reached its author's
    // other readers who may read notes (supervisors and SROs at the note's school or named).
    for (id, who) in &allowed {
        let (h, readers) = server.storage.header(*id).expect("h").expect("stored");
        for (i, person) in PERSON_IDS.iter().enumerate() {
            if who.contains(person) {
                let viewer = rounds_server::auth::viewer(
                    &server.storage.person(*person).expect("p").expect("person"),
                );
                if rounds_server::access::may_read(&viewer, &h, &readers) {
                    prop_assert!(
                        devices[i].store.document_ids().expect("ids").contains(id),
                        "{} lacks note {} shared with them",
                        PEOPLE[i].username,
                        id
                    );
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: proptest_cases(4), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_note_reaches_anyone_its_author_did_not_share_it_with(script in acts()) {
        run(script)?;
    }
}

//! Compacted documents through the real server: a device that was away while its records
//! were compacted gets exactly what it lacks, a device that starts empty gets saved
//! documents, and every store ends with the server's state.

use std::collections::{BTreeMap, BTreeSet};

use rounds_core::client::{HttpTransport, SyncProblem, Transport};
use rounds_core::model::*;
use rounds_protocol::{FetchResponse, PullResponse};
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

/// Everything the server sent a device, by document: changes (as hashes, however they came)
/// and saved documents.
#[derive(Default)]
struct Received {
    inner: Option<HttpTransport>,
    changes: BTreeMap<Uuid, Vec<[u8; 32]>>,
    saved: BTreeMap<Uuid, usize>,
}

impl Received {
    fn over(t: HttpTransport) -> Self {
        Received {
            inner: Some(t),
            ..Default::default()
        }
    }

    fn note_changes(&mut self, doc: Uuid, changes: &[serde_bytes::ByteBuf]) {
        for c in changes {
            let hash = automerge::Change::from_bytes(c.to_vec())
                .expect("change")
                .hash()
                .0;
            self.changes.entry(doc).or_default().push(hash);
        }
    }
}

impl Intercept for Received {
    fn inner(&mut self) -> &mut HttpTransport {
        self.inner.as_mut().expect("transport")
    }

    fn pull(
        &mut self,
        after: u64,
        reference: u64,
        max: u32,
        whole: bool,
    ) -> Result<Option<Vec<u8>>, SyncProblem> {
        let body = self.inner().pull(after, reference, max, whole)?;
        if let Some(b) = &body {
            let page: PullResponse = rounds_protocol::decode(b).expect("pull answer");
            for d in &page.docs {
                self.note_changes(d.header.id, &d.changes);
            }
        }
        Ok(body)
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let answer = self.inner().fetch(body)?;
        let resp: FetchResponse = rounds_protocol::decode(&answer).expect("fetch answer");
        for d in &resp.docs {
            self.note_changes(d.header.id, &d.changes);
        }
        for s in &resp.saved {
            *self.saved.entry(s.header.id).or_default() += 1;
            self.note_changes(s.header.id, &s.changes);
        }
        Ok(answer)
    }
}

fn held_hashes(d: &mut Device, id: Uuid) -> BTreeSet<[u8; 32]> {
    d.store
        .all_changes(id)
        .expect("changes")
        .into_iter()
        .map(|b| automerge::Change::from_bytes(b).expect("change").hash().0)
        .collect()
}

fn server_hashes(server: &TestServer, id: Uuid) -> BTreeSet<[u8; 32]> {
    server
        .storage
        .document(id)
        .expect("doc")
        .expect("stored")
        .decoded_changes()
        .expect("decode")
        .iter()
        .map(|c| c.hash().0)
        .collect()
}

fn compact_everything(server: &TestServer) -> rounds_server::compaction::Pass {
    rounds_server::compaction::run_pass(server.storage.as_ref(), None, usize::MAX, || {})
        .expect("compaction")
}

fn check(d: &mut Device, shift: Uuid, i: u32) {
    d.store
        .record_check(
            shift,
            &CheckInput {
                id: Uuid::from_u128(0xC4EC_0000 + u128::from(i)),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1 + i % 3),
                method: CheckMethod::Tag,
                result: CheckResult::AllClear,
                note: String::new(),
                photos: vec![],
                at: at(30 + i64::from(i)),
            },
        )
        .expect("check");
}

#[test]
fn a_device_offline_while_its_records_were_compacted_gets_exactly_what_it_lacks_once() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    gia.sync().expect("gia");
    sam.sync().expect("sam");
    // Sam's phone holds the first part of Gia's shift, then is away for weeks.
    let shift = shift_with_checks(&mut gia, 0x51, ids::LINCOLN_MAIN, 5);
    gia.sync().expect("gia pushes");
    sam.sync().expect("sam pulls");
    let held_before = held_hashes(&mut sam, shift);
    assert_eq!(held_before.len(), 6, "the start and five checks");
    // Meanwhile: more checks, the shift ends, a second shift; all compacted on the server.
    for i in 0..7 {
        check(&mut gia, shift, i);
    }
    gia.store.end_shift(shift, at(90)).expect("end");
    let second = shift_with_checks(&mut gia, 0x52, ids::LINCOLN_MAIN, 40);
    gia.sync().expect("gia pushes");
    let pass = compact_everything(&server);
    assert!(pass.documents >= 2, "both shifts compacted ({pass:?})");
    let stored = server.storage.document(shift).expect("doc").expect("shift");
    assert!(
        stored.saved.is_some() && stored.changes.is_empty(),
        "no change rows are left"
    );

    let mut t = Via(Received::over(sam.transport()));
    let r = sam.sync_with(&mut t).expect("sam comes back");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let got = t.0;

    // The shift Sam held part of: exactly the changes Sam lacked, each once.
    let lacking: BTreeSet<[u8; 32]> = server_hashes(&server, shift)
        .difference(&held_before)
        .copied()
        .collect();
    let sent = got.changes.get(&shift).cloned().unwrap_or_default();
    assert_eq!(sent.len(), lacking.len(), "nothing twice, nothing Sam had");
    assert_eq!(
        sent.iter().copied().collect::<BTreeSet<_>>(),
        lacking,
        "exactly what Sam lacked"
    );
    assert!(
        !got.saved.contains_key(&shift),
        "not the whole document again"
    );
    // The shift Sam never saw: one saved document, no change-by-change history.
    assert_eq!(
        got.saved.get(&second),
        Some(&1),
        "the new shift came as one saved document"
    );
    assert!(got.changes.get(&second).is_none_or(Vec::is_empty));
    for id in [shift, second] {
        assert_eq!(
            held_hashes(&mut sam, id),
            server_hashes(&server, id),
            "Sam has all of {id}"
        );
    }
    // And the next sync brings nothing.
    let mut again = Via(Received::over(sam.transport()));
    sam.sync_with(&mut again).expect("again");
    assert!(
        again.0.changes.is_empty() && again.0.saved.is_empty(),
        "nothing new, nothing twice"
    );
}

#[test]
fn a_device_that_starts_empty_gets_saved_documents_and_the_same_records() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("gia");
    let mut made = Vec::new();
    for n in 0..6u128 {
        let id = shift_with_checks(&mut gia, 0x60 + n, ids::LINCOLN_MAIN, 40);
        gia.store.end_shift(id, at(120)).expect("end");
        made.push(id);
    }
    gia.sync().expect("gia pushes");
    // Half compacted, half not: both come whole.
    for id in &made[..3] {
        rounds_server::compaction::compact_document(server.storage.as_ref(), *id).expect("compact");
    }
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    let mut t = Via(Received::over(sam.transport()));
    let r = sam.sync_with(&mut t).expect("first sync");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    for id in &made {
        assert_eq!(
            t.0.saved.get(id),
            Some(&1),
            "{id} came as one saved document"
        );
        assert!(
            t.0.changes.get(id).is_none_or(Vec::is_empty),
            "and not change by change"
        );
        assert_eq!(held_hashes(&mut sam, *id), server_hashes(&server, *id));
        let shift = sam
            .store
            .shift(*id, at(600))
            .expect("the shift reads back on Sam's phone");
        assert_eq!(shift.checks.len(), 40);
    }
}

#[test]
fn edits_after_compaction_reach_every_device_and_fold_in_at_the_next_pass() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    olga.sync().expect("olga");
    sam.sync().expect("sam");
    let id = incident_at(&mut olga, 0x71, ids::LINCOLN, "A fight by the gym doors.");
    olga.sync().expect("push");
    sam.sync().expect("pull");
    assert_eq!(compact_everything(&server).documents, 1);
    // A change after the saved part goes out as a row, to a device that has the rest.
    olga.store
        .edit_incident(
            id,
            &IncidentEdit {
                narrative: Some(
                    "A fight by the gym doors. Both students were taken to the office.".into(),
                ),
                ..Default::default()
            },
            at(5),
        )
        .expect("edit");
    olga.sync().expect("push the edit");
    let mut t = Via(Received::over(sam.transport()));
    sam.sync_with(&mut t).expect("pull the edit");
    assert_eq!(t.0.changes.get(&id).map(Vec::len), Some(1), "just the edit");
    assert_eq!(held_hashes(&mut sam, id), server_hashes(&server, id));
    let stored = server.storage.document(id).expect("doc").expect("incident");
    assert_eq!((stored.saved.is_some(), stored.changes.len()), (true, 1));
    assert_eq!(
        compact_everything(&server).folded,
        1,
        "the next pass folds it in"
    );
    assert_eq!(held_hashes(&mut olga, id), server_hashes(&server, id));
}

#[test]
fn a_supervisors_phone_compacts_the_finished_shifts_it_receives() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    gia.sync().expect("gia");
    sam.sync().expect("sam");
    let open = shift_with_checks(&mut gia, 0x81, ids::LINCOLN_MAIN, 20);
    gia.sync().expect("push the open shift");
    sam.sync().expect("pull it");
    assert_eq!(
        sam.store.storage_size().expect("size").compacted,
        0,
        "an open shift stays as rows"
    );
    gia.store.end_shift(open, at(60)).expect("end");
    gia.sync().expect("push the end");
    sam.sync().expect("pull the end");
    let size = sam.store.storage_size().expect("size");
    assert_eq!(
        size.compacted, 1,
        "the ended shift is a snapshot on Sam's phone"
    );
    assert_eq!(size.change_rows, 0, "no rows of it are left");
    assert_eq!(
        held_hashes(&mut sam, open),
        server_hashes(&server, open),
        "every change kept"
    );
}

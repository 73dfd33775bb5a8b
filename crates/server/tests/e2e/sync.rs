//! Records made offline reach the district and the devices that may see them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rounds_core::client::{self, HttpTransport, SyncProblem, Transport};
use rounds_core::model::*;
use rounds_protocol::PhotoStatus;
use rounds_server::AppState;
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

#[test]
fn a_shift_recorded_offline_reaches_the_supervisor() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let r = gia.sync().expect("first sync brings the reference data");
    assert!(r.reference_updated);
    assert_eq!(
        gia.store.checkpoints(ids::LINCOLN_MAIN).expect("cps").len(),
        6,
        "the post's checkpoints arrived"
    );

    let shift = shift_with_checks(&mut gia, 1, ids::LINCOLN_MAIN, 10);
    let before = client::status(&gia.store).expect("status");
    assert_eq!(before.waiting_changes, 11, "start + 10 checks wait to sync");
    let r = gia.sync().expect("sync");
    assert_eq!(r.pushed, 11);
    let after = client::status(&gia.store).expect("status");
    assert_eq!(after.waiting_changes, 0);
    assert!(after.last_success.is_some() && after.last_error.is_none());

    let mut sam = Device::enroll(&server, &SUPERVISOR);
    sam.sync().expect("supervisor sync");
    let v = sam
        .store
        .shift(shift, at(30))
        .expect("the supervisor's device has the shift");
    assert_eq!(v.checks.len(), 10);
}

#[test]
fn two_people_edit_one_incident_offline_and_the_server_merges_both() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    let mut gia = Device::enroll(&server, &GIA);
    olga.sync().expect("sync");
    gia.sync().expect("sync");
    let id = incident_at(&mut olga, 5, ids::LINCOLN, "Man climbing the north fence.");
    olga.sync().expect("push");
    gia.sync().expect("pull");
    let append = |text: &str| IncidentEdit {
        append_narrative: Some(text.into()),
        ..Default::default()
    };
    olga.store
        .edit_incident(id, &append("Officer spoke with him."), at(10))
        .expect("olga");
    gia.store
        .edit_incident(id, &append("Guard saw him leave by car."), at(11))
        .expect("gia");
    olga.sync().expect("sync");
    gia.sync().expect("sync");
    olga.sync().expect("sync");
    let a = olga.store.incident(id).expect("a").body;
    let b = gia.store.incident(id).expect("b").body;
    assert_eq!(a, b, "both devices hold the same incident");
    assert!(
        a.narrative.contains("Officer spoke with him.")
            && a.narrative.contains("Guard saw him leave by car.")
    );
}

#[test]
fn a_note_shared_later_reaches_its_new_reader_whole() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    olga.sync().expect("sync");
    let note = note_at(&mut olga, 9, ids::LINCOLN, vec![]);
    olga.sync().expect("push");
    sam.sync().expect("pull");
    assert!(
        !sam.store.document_ids().expect("ids").contains(&note),
        "not shared yet"
    );
    olga.store
        .edit_note(
            note,
            &NoteEdit {
                share_with: vec![ids::SUPERVISOR],
                ..Default::default()
            },
            at(20),
        )
        .expect("share");
    olga.sync().expect("push the share");
    let r = sam.sync().expect("pull");
    assert_eq!(r.fetched, 1, "the note's earlier history was fetched whole");
    let v = sam
        .store
        .note(note)
        .expect("the supervisor may read it now");
    assert_eq!(v.body.reason, "Check-in about attendance");
}

/// Forwards one TCP connection to the server and counts the bytes both ways.
fn counting_proxy(target: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let target = target.trim_start_matches("http://").to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().take(1) {
            let mut client = client.expect("accept");
            let mut upstream = TcpStream::connect(&target).expect("connect");
            let (mut c2, mut u2) = (
                client.try_clone().expect("clone"),
                upstream.try_clone().expect("clone"),
            );
            let c_up = c.clone();
            let t = std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = c2.read(&mut buf) {
                    if n == 0 || u2.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    c_up.fetch_add(n, Ordering::SeqCst);
                }
                let _ = u2.shutdown(std::net::Shutdown::Write);
            });
            let mut buf = [0u8; 4096];
            while let Ok(n) = upstream.read(&mut buf) {
                if n == 0 || client.write_all(&buf[..n]).is_err() {
                    break;
                }
                c.fetch_add(n, Ordering::SeqCst);
            }
            let _ = client.shutdown(std::net::Shutdown::Write);
            let _ = t.join();
        }
    });
    (format!("http://{addr}"), count)
}

#[test]
fn anything_new_with_nothing_new_is_one_request_under_300_bytes() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("reference data");
    for i in 0..50 {
        incident_at(&mut olga, 100 + i, ids::LINCOLN, "Routine.");
    }
    olga.sync().expect("sync everything");
    let cursor: u64 = olga
        .store
        .sync_value(&client::key::of(&olga.store, client::key::CURSOR))
        .expect("c")
        .and_then(|v| v.parse().ok())
        .expect("cursor");
    let reference: u64 = olga
        .store
        .sync_value(&client::key::of(&olga.store, client::key::REFERENCE))
        .expect("r")
        .and_then(|v| v.parse().ok())
        .expect("ref");
    let (proxy, count) = counting_proxy(&server.base);
    let mut t = HttpTransport::new(&proxy, &olga.session.token).expect("transport");
    let answer = t
        .pull(cursor, reference, rounds_protocol::PAGE_BYTES, false)
        .expect("pull");
    assert!(answer.is_none(), "nothing new");
    // Let the proxy finish counting the response.
    drop(t);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let bytes = count.load(Ordering::SeqCst);
    assert!(
        bytes < 300,
        "{bytes} bytes on the wire for 'anything new?' with 50 documents on the device"
    );
    assert!(bytes > 100, "the proxy saw the exchange ({bytes} bytes)");
}

/// A transport that delivers each push twice and loses the first answer, like a retry after a
/// response lost on the way back.
struct Stutter(HttpTransport);

impl Intercept for Stutter {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.0
    }

    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let _lost = self.0.push(body.clone())?;
        self.0.push(body)
    }

    fn pull(&mut self, a: u64, r: u64, m: u32, w: bool) -> Result<Option<Vec<u8>>, SyncProblem> {
        let _ = self.0.pull(a, r, m, w)?;
        self.0.pull(a, r, m, w)
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        let _lost = self
            .0
            .photo_put(hash, record, offset, total, chunk.clone())?;
        self.0.photo_put(hash, record, offset, total, chunk)
    }
}

#[test]
fn repeated_requests_and_lost_answers_duplicate_nothing() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("sync");
    shift_with_checks(&mut gia, 3, ids::LINCOLN_MAIN, 20);
    let mut t = Via(Stutter(gia.transport()));
    let r = gia.sync_with(&mut t).expect("sync");
    assert_eq!(r.pushed, 21);
    let max = server.storage.max_seq().expect("seq");
    assert_eq!(
        max, 21,
        "each change stored once although every push arrived twice"
    );
    // A sync after a lost answer pushes nothing new and changes nothing.
    gia.sync().expect("again");
    assert_eq!(server.storage.max_seq().expect("seq"), 21);
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_changes,
        0
    );
}

/// A transport that asks for the smallest pages and fails after `budget` requests.
struct SmallPagesThenCut {
    inner: HttpTransport,
    budget: usize,
}

impl Intercept for SmallPagesThenCut {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn pull(&mut self, a: u64, r: u64, _m: u32, w: bool) -> Result<Option<Vec<u8>>, SyncProblem> {
        if self.budget == 0 {
            return Err(SyncProblem::NoConnection("cut off by the test".into()));
        }
        self.budget -= 1;
        self.inner.pull(a, r, 1024, w)
    }
}

#[test]
fn a_pull_cut_off_midway_resumes_where_it_stopped() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    let mut made = Vec::new();
    for i in 0..120 {
        made.push(incident_at(
            &mut olga,
            1000 + i,
            ids::ADAMS,
            &"A long narrative. ".repeat(20),
        ));
    }
    olga.sync().expect("push");
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    let mut t = Via(SmallPagesThenCut {
        inner: sam.transport(),
        budget: 5,
    });
    let err = sam.sync_with(&mut t).expect_err("cut off");
    assert!(matches!(err, SyncProblem::NoConnection(_)));
    let partial = sam.store.document_ids().expect("ids").len();
    assert!(
        partial > 0 && partial < 120,
        "some pages arrived before the cut ({partial})"
    );
    let status = client::status(&sam.store).expect("status");
    assert_eq!(
        status.last_error_text.as_deref(),
        Some(
            "No connection to the district server. Everything is saved on this device and will sync later."
        )
    );
    let mut t = Via(SmallPagesThenCut {
        inner: sam.transport(),
        budget: usize::MAX,
    });
    sam.sync_with(&mut t).expect("resume");
    let mut have = sam.store.document_ids().expect("ids");
    have.sort();
    made.sort();
    assert_eq!(have, made, "every incident arrived exactly once");
    let _: Vec<Uuid> = have;
    let _ = IncidentStatus::Draft;
}

#[test]
fn a_change_listed_twice_in_one_push_is_stored_once() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    let id = incident_at(&mut olga, 7, ids::LINCOLN, "Listed twice.");
    let header = rounds_core::wire::header_to_wire(&olga.store.header(id).expect("header"));
    let changes: Vec<serde_bytes::ByteBuf> = olga
        .store
        .all_changes(id)
        .expect("changes")
        .into_iter()
        .map(serde_bytes::ByteBuf::from)
        .collect();
    let mut twice = rounds_protocol::PushRequest {
        signatures: vec![],
        docs: vec![rounds_protocol::DocChanges {
            header,
            changes: changes.iter().chain(changes.iter()).cloned().collect(),
        }],
    };
    sign_push(&olga, &mut twice);
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync/push", server.base))
        .bearer_auth(&olga.session.token)
        .body(rounds_protocol::encode(&twice))
        .send()
        .expect("push");
    assert_eq!(r.status(), 200);
    assert_eq!(
        server.storage.max_seq().expect("seq"),
        changes.len() as u64,
        "one feed row per change"
    );
}

#[test]
fn fetching_documents_no_longer_visible_is_an_empty_answer_not_a_failure() {
    let server = TestServer::start();
    let olga = Device::enroll(&server, &OLGA);
    let mut t = olga.transport();
    let ask = rounds_protocol::FetchRequest {
        docs: vec![(Uuid::from_u128(4242), vec![])],
    };
    let body = t
        .fetch(rounds_protocol::encode(&ask))
        .expect("a 404 is not a sync failure");
    let resp: rounds_protocol::FetchResponse = rounds_protocol::decode(&body).expect("decode");
    assert!(resp.docs.is_empty());
    assert_eq!(
        resp.unavailable,
        vec![Uuid::from_u128(4242)],
        "the answer says the document is not available, so the device may record it as gone"
    );
}

/// Text that deflate cannot shrink much (automerge compresses large changes), so a record's
/// size on the wire is close to its length.
fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = (x % 40) as u8;
            if c >= 26 { ' ' } else { char::from(b'a' + c) }
        })
        .collect()
}

/// Omar files `n` incidents at Baker, each with `narrative` bytes of text added in `parts`
/// edits; Sam (a supervisor not assigned to Baker) has synced before and is then given Baker;
/// Omar then adds a line to each incident, so Sam's next pull holds changes whose history
/// Sam's device never saw and must fetch. Returns Sam's device and the incidents.
fn supervisor_newly_given_baker(
    server: &TestServer,
    n: u128,
    narrative: usize,
    parts: usize,
) -> (Device, Vec<Uuid>) {
    let mut omar = Device::enroll(server, &OMAR);
    omar.sync().expect("omar's reference data");
    let mut made = Vec::new();
    for i in 0..n {
        let id = incident_at(&mut omar, 5000 + i, ids::BAKER, "Opened.");
        for p in 0..parts {
            omar.store
                .edit_incident(
                    id,
                    &IncidentEdit {
                        append_narrative: Some(noise(
                            (i as u64) << 16 | p as u64,
                            narrative / parts,
                        )),
                        ..Default::default()
                    },
                    at(7),
                )
                .expect("narrative");
        }
        made.push(id);
    }
    omar.sync().expect("omar pushes");
    let mut sam = Device::enroll(server, &SUPERVISOR);
    sam.sync().expect("sam syncs before Baker is his");
    assert!(
        sam.store.document_ids().expect("ids").is_empty(),
        "Baker's incidents are not Sam's yet"
    );
    let mut p = server
        .storage
        .person(ids::SUPERVISOR)
        .expect("person")
        .expect("sam");
    p.schools.push(ids::BAKER);
    server.storage.put_person(&p).expect("assign Baker");
    for id in &made {
        omar.store
            .edit_incident(
                *id,
                &IncidentEdit {
                    append_narrative: Some("Reviewed with the principal.".into()),
                    ..Default::default()
                },
                at(20),
            )
            .expect("one more line");
    }
    omar.sync().expect("omar pushes the last lines");
    made.sort();
    (sam, made)
}

/// Forwards to the real transport and keeps the size of every fetch answer.
struct FetchSizes {
    inner: HttpTransport,
    answers: Vec<usize>,
    /// The fetch answer (counting from 0) that is lost on the way back, if any.
    lose: Option<usize>,
}

impl Intercept for FetchSizes {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let answer = self.inner.fetch(body)?;
        let n = self.answers.len();
        self.answers.push(answer.len());
        if self.lose == Some(n) {
            return Err(SyncProblem::NoConnection("answer lost by the test".into()));
        }
        Ok(answer)
    }
}

/// The fetch page of the paging tests' server: 128 KiB instead of the 2 MiB default, so that
/// histories larger than one answer (and schools larger than several) take kilobytes of
/// narrative, not megabytes typed edit by edit on the author's phone.
const PAGE: usize = 128 * 1024;

/// A server answering fetches in pages of [`PAGE`].
fn small_page_server() -> TestServer {
    TestServer::start_with(|_| {}, |s| AppState::new(s).with_fetch_page_bytes(PAGE))
}

fn narrative_of(d: &mut Device, id: Uuid) -> String {
    d.store.incident(id).expect("incident").body.narrative
}

#[test]
fn a_supervisor_newly_given_a_school_of_300_incidents_gets_all_in_one_sync() {
    let server = small_page_server();
    let (mut sam, made) = supervisor_newly_given_baker(&server, 300, 2_000, 1);
    let mut t = Via(FetchSizes {
        inner: sam.transport(),
        answers: Vec::new(),
        lose: None,
    });
    let r = sam.sync_with(&mut t).expect("one sync");
    assert!(
        r.failed.is_empty(),
        "nothing is reported gone or unstorable: {:?}",
        r.failed
    );
    let mut have = sam.store.document_ids().expect("ids");
    have.sort();
    assert_eq!(have.len(), 300, "every incident is on Sam's device");
    assert_eq!(have, made);
    assert_eq!(r.fetched, 300, "each history was fetched once");
    assert!(
        t.0.answers.len() >= 3,
        "~600 KB of history came over several answers of at most {PAGE} bytes ({:?})",
        t.0.answers
    );
    for id in [made[0], made[150], made[299]] {
        assert!(
            narrative_of(&mut sam, id).ends_with("Reviewed with the principal."),
            "the whole history, up to the last line, is there"
        );
    }
}

#[test]
fn a_document_larger_than_one_answer_is_fetched_whole_in_parts() {
    // A quarter more than one answer: enough to need two, added in four edits so that each
    // answer holds whole changes.
    const BIG: usize = PAGE + PAGE / 4;
    let server = small_page_server();
    let (mut sam, made) = supervisor_newly_given_baker(&server, 1, BIG, 4);
    let mut t = Via(FetchSizes {
        inner: sam.transport(),
        answers: Vec::new(),
        lose: None,
    });
    let r = sam.sync_with(&mut t).expect("sync");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    // A page of changes, plus the answer's framing and the document's header.
    let limit = PAGE + 8 * 1024;
    assert!(
        t.0.answers.len() >= 2 && t.0.answers.iter().all(|n| *n <= limit),
        "the history larger than a page came in answers of at most a page each ({:?})",
        t.0.answers
    );
    let text = narrative_of(&mut sam, made[0]);
    assert!(
        text.len() > BIG - 1024 && text.ends_with("Reviewed with the principal."),
        "the whole narrative arrived ({} bytes)",
        text.len()
    );
    assert_eq!(r.fetched, 1);
}

#[test]
fn a_fetch_cut_off_midway_resumes_without_loss() {
    let server = small_page_server();
    let (mut sam, made) = supervisor_newly_given_baker(&server, 150, 2_000, 1);
    let cursor_before = sam
        .store
        .sync_value(&client::key::of(&sam.store, client::key::CURSOR))
        .expect("cursor");
    let mut t = Via(FetchSizes {
        inner: sam.transport(),
        answers: Vec::new(),
        lose: Some(1),
    });
    let err = sam
        .sync_with(&mut t)
        .expect_err("the second fetch answer is lost");
    assert!(matches!(err, SyncProblem::NoConnection(_)), "{err:?}");
    let stored = sam.store.document_ids().expect("ids").len();
    assert!(
        stored > 0 && stored < 150,
        "the first answer's documents were stored ({stored})"
    );
    assert_eq!(
        sam.store
            .sync_value(&client::key::of(&sam.store, client::key::CURSOR))
            .expect("cursor"),
        cursor_before,
        "the cursor did not move past the documents not yet stored"
    );
    let r = sam.sync().expect("resume");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let mut have = sam.store.document_ids().expect("ids");
    have.sort();
    assert_eq!(have, made, "every incident arrived");
    for id in &made {
        assert!(
            narrative_of(&mut sam, *id).ends_with("Reviewed with the principal."),
            "{id} is whole"
        );
    }
}

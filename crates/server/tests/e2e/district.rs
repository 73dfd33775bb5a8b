//! A district deployment: two `rounds-server` processes on one database (PostgreSQL on the
//! `ROUNDS_TEST_BACKEND=postgres` run, the shared SQLite folder otherwise) behind a real
//! haproxy, round robin, no sticky sessions. 20 devices sync through the proxy while one
//! process or the other is SIGKILLed at random and restarted: nothing acknowledged is lost,
//! every device converges, and a supervisor's device receives every change exactly once. A
//! console sign-in lockout counts guesses made on both processes, and a photo upload begun on
//! one process resumes on the other. `ROUNDS_DEEP=1` kills 40 times instead of 10.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::Change;
use reqwest::StatusCode;
use rounds_core::client::{self, HttpTransport, SyncProblem, Transport};
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::{CheckInput, CheckMethod, CheckResult, Role};
use rounds_protocol::{FetchResponse, PHOTO_CHUNK, PhotoStatus, PullResponse};
use rounds_server::seed::ids;
use uuid::Uuid;

use rounds_pgtest::haproxy::Haproxy;

use crate::support::*;

fn free_port() -> u16 {
    rounds_pgtest::free_port().expect("a free port")
}

/// haproxy, round robin over the ports.
fn proxy(ports: &[u16]) -> Haproxy {
    Haproxy::start(ports).expect("haproxy (scripts/setup.sh installs it)")
}

/// Two server processes on one database, on fixed ports so a restarted one takes its place.
struct District {
    data: Data,
    ports: [u16; 2],
    servers: [Option<ServerProcess>; 2],
}

impl District {
    fn start() -> District {
        let data = seeded_district();
        let ports = [free_port(), free_port()];
        let servers = ports.map(|p| {
            Some(ServerProcess::start_on(
                &data,
                &format!("127.0.0.1:{p}"),
                &[],
            ))
        });
        District {
            data,
            ports,
            servers,
        }
    }

    fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// SIGKILLs process `i` and starts it again on its port.
    fn kill_and_restart(&mut self, i: usize) {
        if let Some(mut s) = self.servers[i].take() {
            s.kill();
        }
        self.servers[i] = Some(ServerProcess::start_on(
            &self.data,
            &format!("127.0.0.1:{}", self.ports[i]),
            &[],
        ));
    }
}

/// Records every change a device receives, by pull or by fetch.
struct Counting {
    inner: HttpTransport,
    received: Arc<Mutex<BTreeMap<[u8; 32], usize>>>,
}

impl Counting {
    fn count(&self, docs: &[rounds_protocol::DocChanges]) {
        let mut r = self.received.lock().expect("received");
        for d in docs {
            for c in &d.changes {
                let hash = Change::from_bytes(c.to_vec()).expect("change").hash().0;
                *r.entry(hash).or_default() += 1;
            }
        }
    }
}

impl Intercept for Counting {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn pull(&mut self, a: u64, r: u64, m: u32, w: bool) -> Result<Option<Vec<u8>>, SyncProblem> {
        let answer = self.inner.pull(a, r, m, w)?;
        if let Some(body) = &answer {
            let p: PullResponse = rounds_protocol::decode(body).expect("a pull answer");
            self.count(&p.docs);
        }
        Ok(answer)
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        let answer = self.inner.fetch(body)?;
        let f: FetchResponse = rounds_protocol::decode(&answer).expect("a fetch answer");
        self.count(&f.docs);
        Ok(answer)
    }
}

/// Sends photo chunks until `chunks` have gone, then fails the rest (a connection lost).
struct CutAfter {
    inner: HttpTransport,
    chunks: usize,
    offsets: Vec<u64>,
}

impl Intercept for CutAfter {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        if self.chunks == 0 {
            return Err(SyncProblem::NoConnection("cut off by the test".into()));
        }
        self.chunks -= 1;
        self.offsets.push(offset);
        self.inner.photo_put(hash, record, offset, total, chunk)
    }
}

fn enroll(district: &District, base: &str, who: &Login) -> Device {
    let code = admin_cli(&district.data, &["enroll-code"]);
    let code = code.split_whitespace().next().expect("code").to_string();
    Device::enroll_at(base, &code, who)
}

/// Syncs until a sync succeeds with nothing left waiting (the proxy may still be routing
/// around a process that just restarted).
fn sync_until_settled(d: &mut Device) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if d.sync().is_ok() && pending(d).is_empty() {
            return;
        }
        assert!(Instant::now() < until, "a device settles after the kills");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_processes_behind_a_proxy_lose_nothing_when_one_is_killed_again_and_again() {
    let kills = if std::env::var("ROUNDS_DEEP").is_ok() {
        40
    } else {
        10
    };
    let mut district = District::start();
    let proxy = proxy(&district.ports);

    // 20 devices: each guard and SRO on five phones, all through the proxy.
    let people = [&GIA, &GUS, &OLGA, &OMAR];
    let devices: Vec<Device> = (0..20)
        .map(|i| {
            let mut d = enroll(&district, &proxy.base, people[i % 4]);
            d.sync().expect("first sync");
            d
        })
        .collect();
    let received = Arc::new(Mutex::new(BTreeMap::new()));
    let mut sam = enroll(&district, &proxy.base, &SUPERVISOR);

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut confirmed = BTreeSet::new();
                let guard_post = match d.session.role {
                    Role::Guard if d.session.person_id == ids::GUARD_LINCOLN => {
                        Some(ids::LINCOLN_MAIN)
                    }
                    Role::Guard => Some(ids::ADAMS_CAMPUS),
                    _ => None,
                };
                let shift = guard_post
                    .map(|post| (shift_with_checks(&mut d, 5_000 + i as u128, post, 1), post));
                let mut n = 0u128;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = (i as u128 + 1) << 64 | n;
                    match shift {
                        Some((s, post)) => {
                            let c = CheckInput {
                                id: Uuid::from_u128(id),
                                checkpoint_id: ids::checkpoint(post, 1 + (n % 3) as u32),
                                method: CheckMethod::Tag,
                                result: CheckResult::AllClear,
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
                            incident_at(&mut d, id, school, "During the district test.");
                        }
                    }
                    let before = pending(&d);
                    let _ = d.sync();
                    confirmed.extend(before.difference(&pending(&d)).copied());
                    std::thread::sleep(Duration::from_millis(20));
                }
                (d, confirmed)
            })
        })
        .collect();

    // The supervisor's phone syncs now and then while the processes die under it.
    let mut rng = SeededEntropy::new(0xD157);
    for k in 0..kills {
        std::thread::sleep(Duration::from_millis(150 + rng.next_u64() % 400));
        district.kill_and_restart((rng.next_u64() % 2) as usize);
        if k % 3 == 0 {
            let mut t = Via(Counting {
                inner: sam.transport(),
                received: received.clone(),
            });
            let _ = client::sync_now(&mut sam.store, &mut t, at(600));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);

    let mut confirmed = BTreeSet::new();
    let mut finished = Vec::new();
    for w in workers {
        let (mut d, c) = w.join().expect("worker");
        sync_until_settled(&mut d);
        confirmed.extend(c);
        finished.push(d);
    }
    // A second round: each phone pulls what the others pushed after its last sync.
    for d in &mut finished {
        sync_until_settled(d);
    }
    let mut t = Via(Counting {
        inner: sam.transport(),
        received: received.clone(),
    });
    client::sync_now(&mut sam.store, &mut t, at(600)).expect("the supervisor's last sync");

    let storage = district.data.open();
    let mut stored = BTreeSet::new();
    for d in &finished {
        for id in d.store.document_ids().expect("ids") {
            if let Some(doc) = storage.document(id).expect("doc") {
                stored.extend(
                    doc.changes
                        .iter()
                        .map(|b| Change::from_bytes(b.clone()).expect("change").hash().0),
                );
            }
        }
    }
    assert!(
        confirmed.len() > 100,
        "the devices synced during the kills ({} changes acknowledged)",
        confirmed.len()
    );
    let lost = confirmed.difference(&stored).count();
    assert_eq!(lost, 0, "{lost} acknowledged changes were lost");

    // Every phone converged: it holds each of its documents exactly as the server does.
    for d in &mut finished {
        for id in d.store.document_ids().expect("ids") {
            let server_heads: BTreeSet<[u8; 32]> = storage
                .document(id)
                .expect("doc")
                .expect("on the server")
                .to_automerge()
                .expect("doc")
                .get_heads()
                .iter()
                .map(|h| h.0)
                .collect();
            let device_heads: BTreeSet<[u8; 32]> =
                d.store.heads(id).expect("heads").into_iter().collect();
            assert_eq!(device_heads, server_heads, "document {id} converged");
        }
    }

    // The supervisor received every change of Lincoln's records (the supervisor's school)
    // exactly once.
    let sam_record = storage
        .person(ids::SUPERVISOR)
        .expect("person")
        .expect("sam");
    let viewer = rounds_server::auth::viewer(&sam_record);
    let visible: BTreeSet<[u8; 32]> = storage
        .feed(&viewer, 0, usize::MAX)
        .expect("feed")
        .items
        .iter()
        .map(|i| {
            Change::from_bytes(i.bytes.clone().expect("nothing is compacted here"))
                .expect("change")
                .hash()
                .0
        })
        .collect();
    assert!(
        visible.len() > 50,
        "the supervisor may see Lincoln's shifts and incidents ({})",
        visible.len()
    );
    let received = received.lock().expect("received");
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} changes reached the supervisor more than once",
        twice.len()
    );
    let got: BTreeSet<[u8; 32]> = received.keys().copied().collect();
    assert_eq!(
        visible.difference(&got).count(),
        0,
        "the supervisor received every change it may see ({} of {})",
        got.len(),
        visible.len()
    );
    drop(proxy);
}

#[test]
fn a_console_lockout_counts_guesses_made_on_either_process() {
    let district = District::start();
    let proxy = proxy(&district.ports);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let sign_in = |base: &str, password: &str| {
        http.post(format!("{base}/console/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", base)
            .body(format!("username=sam.super&password={password}"))
            .send()
            .expect("sign in")
            .status()
    };
    // Five wrong guesses, alternating between the two processes directly.
    for k in 0..5 {
        assert_eq!(
            sign_in(&district.base(k % 2), "guess"),
            StatusCode::UNAUTHORIZED,
            "guess {k}"
        );
    }
    for i in 0..2 {
        assert_eq!(
            sign_in(&district.base(i), "super-pass-1"),
            StatusCode::TOO_MANY_REQUESTS,
            "process {i} knows of the guesses made on the other"
        );
    }
    assert_eq!(
        sign_in(&proxy.base, "super-pass-1"),
        StatusCode::TOO_MANY_REQUESTS,
        "and so does the proxy, whichever process answers"
    );
}

#[test]
fn a_photo_upload_begun_on_one_process_resumes_on_the_other() {
    let district = District::start();
    let a = district.base(0);
    let b = district.base(1);
    let mut gia = enroll(&district, &a, &GIA);
    gia.sync().expect("first sync");
    let shift = shift_with_checks(&mut gia, 77, ids::LINCOLN_MAIN, 1);
    let len = 3 * PHOTO_CHUNK + 500;
    let photo = jpeg(77, len);
    let hash = check_with_photo(&mut gia, shift, ids::LINCOLN_MAIN, &photo);

    // On process A the connection drops after one chunk.
    let mut cut = Via(CutAfter {
        inner: HttpTransport::new(&a, &gia.session.token).expect("transport"),
        chunks: 1,
        offsets: vec![],
    });
    gia.sync_with(&mut cut).expect_err("cut off after a chunk");

    // The phone comes back through process B, which resumes where A stopped.
    let mut rest = Via(CutAfter {
        inner: HttpTransport::new(&b, &gia.session.token).expect("transport"),
        chunks: usize::MAX,
        offsets: vec![],
    });
    let report = gia.sync_with(&mut rest).expect("resumed on B");
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(
        rest.0.offsets.first(),
        Some(&(PHOTO_CHUNK as u64)),
        "B resumed at the count A stored"
    );
    // A knows the photo B completed, and the bytes are the photo's.
    let held: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{a}/v1/photos/{hash}/status?record={shift}"))
        .bearer_auth(&gia.session.token)
        .send()
        .expect("status")
        .json()
        .expect("json");
    assert_eq!(held["complete"].as_bool(), Some(true), "{held}");
    assert_eq!(
        district
            .data
            .open()
            .photo_bytes()
            .read(&hash)
            .expect("read"),
        Some(photo)
    );
}

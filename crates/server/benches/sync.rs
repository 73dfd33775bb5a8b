//! Server benchmarks: the shift-change surge, a supervisor pulling a district, and start-up
//! time with many documents. A report, not a gate: it prints each figure next to its target.
//!
//! `cargo bench -p rounds-server --bench sync` runs the deep setting (the sizes);
//! under `cargo test` (no `--bench` flag) or with `ROUNDS_BENCH=quick` it runs small sizes so
//! CI exercises the code. Sections can be picked by name: `-- surge`, `-- pull`, `-- startup`,
//! `-- evidence` (`verify` of an export bundle), `-- district` (the surge on PostgreSQL with one process and with two behind haproxy, and
//! the pull on PostgreSQL; `-- startup` runs on both backends), `-- state` (ten times the devices through haproxy to
//! two processes on PostgreSQL; not run unless named).
//! The server under test is the real `rounds-server` binary on a loopback port; its CPU time
//! and peak memory are read from `/proc`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs,
    reason = "a benchmark program: prints its report and reads the real clock"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::{Automerge, Change};
use chrono::{DateTime, TimeZone, Utc};
use rounds_core::client::{self, HttpTransport};
use rounds_core::document::{self, Header};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{KdfParams, Secret};
use rounds_core::model::*;
use rounds_core::signing::SigningSecret;
use rounds_core::store::{Setup, Store};
use rounds_pgtest::Cluster;
use rounds_pgtest::haproxy::Haproxy;
use rounds_protocol::{DocChanges, PushRequest, PushResponse};
use rounds_server::admin::{self, PersonInput};
use rounds_server::auth;
use rounds_server::seed::{self, ids};
use rounds_server::storage::{
    Commit, DatabaseUrl, DeviceRecord, SessionRecord, SigningKeyRecord, Storage,
};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_rounds-server");

#[derive(Clone, Copy)]
struct Sizes {
    devices: usize,
    concurrency: usize,
    checks: usize,
    incidents: usize,
    district_docs: usize,
    startup_docs: usize,
    /// Surges run, each against a fresh server with its own floor; the median ratio is the
    /// figure (this VM's speed drifts by 20-30 % between runs).
    surge_rounds: usize,
    /// Pulls of the whole district, each into a new empty store; the median is the figure.
    pull_rounds: usize,
    /// The exported incident's signed changes and photos (`-- evidence`).
    evidence_changes: usize,
    evidence_photos: usize,
}

const DEEP: Sizes = Sizes {
    devices: 1000,
    concurrency: 50,
    checks: 200,
    incidents: 10,
    district_docs: 11_000,
    startup_docs: 100_000,
    surge_rounds: 3,
    pull_rounds: 3,
    evidence_changes: 500,
    evidence_photos: 20,
};
const QUICK: Sizes = Sizes {
    devices: 20,
    concurrency: 5,
    checks: 50,
    incidents: 3,
    district_docs: 300,
    startup_docs: 1_000,
    surge_rounds: 1,
    pull_rounds: 1,
    evidence_changes: 40,
    evidence_photos: 3,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap()
}

fn line(name: &str, target: &str, verdict: &str, figure: &str) {
    println!("{name:<44} {target:<10} {verdict:<6} {figure}");
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// The server binary on a loopback port.
struct Server {
    child: Child,
    base: String,
}

/// Where a benchmark server keeps its state: the embedded store in a temporary folder, or a
/// fresh database of the benchmark's private PostgreSQL cluster.
struct Place {
    dir: tempfile::TempDir,
    url: DatabaseUrl,
}

/// The benchmark's PostgreSQL cluster (started on first use, removed at exit).
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| Cluster::start().unwrap())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Place {
    fn new(backend: Backend) -> Place {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => DatabaseUrl::Sqlite(dir.path().to_path_buf()),
            Backend::Postgres => {
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                DatabaseUrl::Postgres(cluster().create_database(&format!("bench{n}")).unwrap())
            }
        };
        Place { dir, url }
    }

    fn open(&self) -> Arc<dyn Storage> {
        rounds_server::storage::open(&self.url).unwrap()
    }

    fn args(&self) -> Vec<String> {
        let url = match &self.url {
            DatabaseUrl::Sqlite(d) => format!("sqlite:{}", d.display()),
            DatabaseUrl::Postgres(u) => u.clone(),
        };
        vec![
            "--data".into(),
            self.dir.path().display().to_string(),
            "--database".into(),
            url,
        ]
    }
}

impl Server {
    fn start(place: &Place) -> (Server, Duration) {
        Server::start_on(place, "127.0.0.1:0")
    }

    fn start_on(place: &Place, listen: &str) -> (Server, Duration) {
        Server::start_with(place, listen, &[])
    }

    fn start_with(place: &Place, listen: &str, env: &[(&str, &str)]) -> (Server, Duration) {
        let t = Instant::now();
        let mut child = Command::new(BIN)
            .args(place.args())
            .args(["serve", "--listen", listen])
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut l = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut l)
            .unwrap();
        let base = l.trim().strip_prefix("listening on ").unwrap().to_string();
        let http = reqwest::blocking::Client::new();
        while !http
            .get(format!("{base}/health"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        (Server { child, base }, t.elapsed())
    }

    /// User + system CPU time of the server process so far.
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10) // CLK_TCK = 100 on Linux
    }

    /// Peak resident memory (VmHWM) in MiB.
    fn peak_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        kb / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header(id: Uuid, kind: DocKind, school: Uuid, author: Uuid, device: Uuid) -> Header {
    Header {
        id,
        kind,
        school_id: school,
        author_id: author,
        device_id: device,
        created_at: t0(),
        classification: match kind {
            DocKind::Shift => Classification::Internal,
            DocKind::Incident => Classification::Confidential,
            DocKind::ContactNote => Classification::RestrictedLawEnforcement,
        },
    }
}

const WORDS: &[&str] = &[
    "student",
    "hallway",
    "door",
    "unlocked",
    "gym",
    "fight",
    "parking",
    "visitor",
    "backpack",
    "vape",
    "window",
    "broken",
    "cafeteria",
    "stairwell",
    "alarm",
    "library",
    "teacher",
    "bus",
    "gate",
    "camera",
];

fn incident_doc(n: u64, school: Uuid, author: Uuid, device: Uuid) -> (Header, Automerge) {
    let h = header(
        Uuid::from_u128(0x1_0000_0000 + u128::from(n)),
        DocKind::Incident,
        school,
        author,
        device,
    );
    let mut rng = SeededEntropy::new(n);
    let narrative: Vec<&str> = (0..40)
        .map(|_| WORDS[(rng.next_u64() % WORDS.len() as u64) as usize])
        .collect();
    let input = IncidentInput {
        id: h.id,
        school_id: school,
        incident_type: IncidentType::ALL[(n % 12) as usize],
        location: "Main building".into(),
        occurred_at: t0(),
        people: vec![],
        narrative: narrative.join(" "),
        actions: "Reported to the office.".into(),
        photos: vec![],
    };
    let am = document::create(&h, author, "create_incident", |tx| {
        document::init_incident(tx, &input, t0())
    })
    .unwrap();
    (h, am)
}

fn shift_doc(
    n: u64,
    school: Uuid,
    post: Uuid,
    author: Uuid,
    device: Uuid,
    checks: usize,
) -> (Header, Automerge) {
    let h = header(
        Uuid::from_u128(0x2_0000_0000 + u128::from(n)),
        DocKind::Shift,
        school,
        author,
        device,
    );
    let mut am = document::create(&h, author, "start_shift", |tx| {
        document::init_shift(tx, post, t0())
    })
    .unwrap();
    for i in 0..checks {
        let c = CheckInput {
            id: Uuid::from_u128((u128::from(n) << 32) | i as u128),
            checkpoint_id: ids::checkpoint(post, 1 + (i % 4) as u32),
            method: CheckMethod::Tag,
            result: CheckResult::AllClear,
            note: String::new(),
            photos: vec![],
            at: t0() + chrono::Duration::minutes(i as i64),
        };
        document::change(&mut am, c.at, author, "record_check", |tx| {
            document::append_check(tx, &c, author)
        })
        .unwrap();
    }
    (h, am)
}

fn changes_of(am: &Automerge) -> Vec<Vec<u8>> {
    am.get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

fn store_directly(st: &dyn Storage, h: &Header, am: &Automerge) {
    let changes = am
        .get_changes(&[])
        .iter()
        .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
        .collect();
    let projection = rounds_server::sync::project(h, am).unwrap();
    st.commit(&Commit {
        header: h.clone(),
        expected_version: None,
        changes,
        projection,
        at: t0(),
        signatures: vec![],
    })
    .unwrap();
}

/// An enrolled device with a session, made directly in storage (no HTTP, no Argon2 per device).
fn device_session(st: &dyn Storage, person: Uuid, n: u64) -> (Uuid, String) {
    let device = Uuid::from_u128(0xDE00_0000 + u128::from(n));
    let code = format!("code-{n}");
    st.add_enrollment_code(
        &auth::token_hash(&code),
        ids::ADMIN,
        t0(),
        Utc::now() + chrono::Duration::days(1),
    )
    .unwrap();
    let ok = st
        .redeem_enrollment_code(
            &auth::token_hash(&code),
            Utc::now(),
            &DeviceRecord {
                id: device,
                name: format!("bench {n}"),
                secret_hash: String::new(),
                enrolled_at: t0(),
                revoked_at: None,
            },
        )
        .unwrap();
    assert!(ok);
    st.register_signing_key(&SigningKeyRecord {
        public_key: bench_key(device).public(),
        person_id: person,
        device_id: device,
        registered_at: t0(),
        revoked_at: None,
    })
    .unwrap();
    let token = format!("bench-token-{n}");
    st.add_session(
        &auth::token_hash(&token),
        &SessionRecord {
            person_id: person,
            device_id: Some(device),
            expires_at: Utc::now() + chrono::Duration::days(1),
        },
        Utc::now(),
    )
    .unwrap();
    (device, token)
}

/// The signing key of a bench device's person (one person per device here), as their
/// device would hold it: derived from the device id, so the pushing threads can sign.
fn bench_key(device: Uuid) -> SigningSecret {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(device.as_bytes());
    SigningSecret::from_seed(&seed)
}

/// What a device's push carries for its documents: the signature over each one's last
/// change, by its author (see `rounds_domain::signing`).
fn signatures_of(docs: &[(Header, Vec<Vec<u8>>)]) -> Vec<rounds_protocol::ChangeSignature> {
    docs.iter()
        .filter_map(|(h, c)| {
            let last = Change::from_bytes(c.last()?.clone()).ok()?.hash().0;
            let key = bench_key(h.device_id);
            Some(rounds_protocol::ChangeSignature {
                doc: h.id,
                change: last,
                person: h.author_id,
                key: serde_bytes::ByteBuf::from(key.public().to_vec()),
                signature: serde_bytes::ByteBuf::from(
                    key.sign_change(h.id, h.author_id, &last).to_vec(),
                ),
            })
        })
        .collect()
}

/// One device's push: its session token and its documents with their change bytes.
type DevicePush = (String, Vec<(Header, Vec<Vec<u8>>)>);

/// One surge's figures.
struct SurgeRun {
    ratio: f64,
    /// The server processes' CPU (all of them).
    cpu: Duration,
    /// PostgreSQL's CPU during the surge (zero on the embedded store, whose work is in the
    /// server's own).
    db_cpu: Duration,
    floor: Duration,
    floor_before: Duration,
    floor_after: Duration,
    peak_mib: f64,
    wall: Duration,
    changes: usize,
    bytes: usize,
    /// In-process time of the rule checks alone on the same changes (each document's changes
    /// applied in one call, as the server does, with and without the checks of `rules::apply_and_check`; the
    /// difference).
    rules: Duration,
    /// In-process time of the signature checks alone on the same pushes: each signature
    /// verified and each document's coverage worked out (`rounds_domain::signing`), as the
    /// server's `Signed::judge` does.
    signatures: Duration,
    /// In-process time of the audit writes alone: every push's entry (its documents'
    /// frontiers) made, hashed into the chain and stored with its index rows, in one
    /// transaction of a fresh store (the server writes each in its push's transaction).
    audit: Duration,
}

fn surge(s: &Sizes) {
    let runs: Vec<SurgeRun> = (0..s.surge_rounds)
        .map(|_| surge_once(s, Backend::Sqlite, 1, true))
        .collect();
    for (i, r) in runs.iter().enumerate() {
        line(
            &format!("surge {}: server CPU / floor", i + 1),
            "",
            "info",
            &format!(
                "{:.2}x (server {:.2} s CPU, floor {:.2} s: {:.2} before, {:.2} after)",
                r.ratio,
                r.cpu.as_secs_f64(),
                r.floor.as_secs_f64(),
                r.floor_before.as_secs_f64(),
                r.floor_after.as_secs_f64()
            ),
        );
    }
    let mut ratios: Vec<f64> = runs.iter().map(|r| r.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    line(
        "surge: server CPU / automerge floor",
        "<= 2x",
        verdict(median <= 2.0),
        &format!(
            "{median:.2}x (median of {} surges; each against its own floor)",
            runs.len()
        ),
    );
    let mut shares: Vec<f64> = runs
        .iter()
        .map(|r| r.rules.as_secs_f64() / r.cpu.as_secs_f64())
        .collect();
    shares.sort_by(f64::total_cmp);
    line(
        "surge: rule checks' share of server CPU",
        "",
        "info",
        &format!(
            "{:.0} % (median; the checks alone took {:.2} s in-process in surge 1)",
            shares[shares.len() / 2] * 100.0,
            runs[0].rules.as_secs_f64()
        ),
    );
    let mut shares: Vec<f64> = runs
        .iter()
        .map(|r| r.signatures.as_secs_f64() / r.cpu.as_secs_f64())
        .collect();
    shares.sort_by(f64::total_cmp);
    line(
        "surge: signature checks' share of server CPU",
        "",
        "info",
        &format!(
            "{:.1} % (median; the checks alone took {:.2} s in-process in surge 1)",
            shares[shares.len() / 2] * 100.0,
            runs[0].signatures.as_secs_f64()
        ),
    );
    let mut shares: Vec<f64> = runs
        .iter()
        .map(|r| r.audit.as_secs_f64() / r.cpu.as_secs_f64())
        .collect();
    shares.sort_by(f64::total_cmp);
    line(
        "surge: audit writes' share of server CPU",
        "",
        "info",
        &format!(
            "{:.1} % (median; the push entries alone took {:.2} s in-process in surge 1, frontiers, chain and index included)",
            shares[shares.len() / 2] * 100.0,
            runs[0].audit.as_secs_f64()
        ),
    );
    let peak = runs.iter().map(|r| r.peak_mib).fold(0.0, f64::max);
    line(
        "surge: peak server memory",
        "<= 300 MB",
        verdict(peak <= 300.0),
        &format!("{peak:.0} MiB"),
    );
    let r = &runs[0];
    line(
        "surge: shape",
        "",
        "info",
        &format!(
            "{} devices, {} at a time, {} changes ({:.1} MiB), wall {:.2} s, {:.0} changes/s",
            s.devices,
            s.concurrency,
            r.changes,
            r.bytes as f64 / 1048576.0,
            r.wall.as_secs_f64(),
            r.changes as f64 / r.wall.as_secs_f64()
        ),
    );
}

/// One surge of `s` against `procs` server processes on `backend` (behind haproxy when more
/// than one); `with_floor`: also time automerge alone on the same changes, and the rules.
fn surge_once(s: &Sizes, backend: Backend, procs: usize, with_floor: bool) -> SurgeRun {
    eprintln!(
        "surge: preparing {} devices on {backend:?} × {procs}",
        s.devices
    );
    let place = Place::new(backend);
    let st = place.open();
    let st = st.as_ref();
    seed::demo_district(st, &mut SeededEntropy::new(1), t0()).unwrap();
    // 100 guards at Lincoln (or fewer), each with several devices.
    let guards = (s.devices / 10).max(1);
    let mut people = Vec::new();
    for g in 0..guards {
        let id = Uuid::from_u128(0x6000_0000 + g as u128);
        admin::put_person(
            st,
            admin::Actor { by: None, at: t0() },
            &PersonInput {
                id,
                username: format!("guard{g}"),
                name: format!("Guard {g}"),
                role: Role::Guard,
                schools: vec![ids::LINCOLN],
                password: Some("bench-password".into()),
                active: true,
            },
            &mut SeededEntropy::new(g as u64),
        )
        .unwrap();
        people.push(id);
    }
    let mut pushes = Vec::with_capacity(s.devices);
    for d in 0..s.devices {
        let person = people[d % guards];
        let (device, token) = device_session(st, person, d as u64);
        let mut docs = Vec::new();
        let (h, am) = shift_doc(
            d as u64,
            ids::LINCOLN,
            ids::LINCOLN_MAIN,
            person,
            device,
            s.checks,
        );
        docs.push((h, changes_of(&am)));
        for i in 0..s.incidents {
            let (h, am) = incident_doc((d * 100 + i) as u64, ids::LINCOLN, person, device);
            docs.push((h, changes_of(&am)));
        }
        pushes.push((token, docs));
    }
    let total_changes: usize = pushes
        .iter()
        .map(|(_, d)| d.iter().map(|(_, c)| c.len()).sum::<usize>())
        .sum();
    let total_bytes: usize = pushes
        .iter()
        .map(|(_, d)| {
            d.iter()
                .map(|(_, c)| c.iter().map(Vec::len).sum::<usize>())
                .sum::<usize>()
        })
        .sum();

    // The floor: automerge alone applying the same changes in-process (parsing included),
    // timed once before and once after the surge and averaged, so that the VM's slow and fast
    // spells weigh on both sides of the ratio alike.
    let floor_once = |pushes: &[DevicePush]| {
        let start = Instant::now();
        for (_, docs) in pushes {
            for (_, changes) in docs {
                let mut am = Automerge::new();
                am.apply_changes(
                    changes
                        .iter()
                        .map(|b| Change::from_bytes(b.clone()).unwrap()),
                )
                .unwrap();
                std::hint::black_box(am.get_heads());
            }
        }
        start.elapsed()
    };
    let (floor_before, kept) = if with_floor {
        (floor_once(&pushes), pushes.clone())
    } else {
        (Duration::ZERO, Vec::new())
    };

    let servers: Vec<Server> = if procs == 1 {
        vec![Server::start(&place).0]
    } else {
        (0..procs)
            .map(|_| {
                let port = rounds_pgtest::free_port().unwrap();
                Server::start_on(&place, &format!("127.0.0.1:{port}")).0
            })
            .collect()
    };
    let ports: Vec<u16> = servers
        .iter()
        .map(|s| s.base.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    let proxy = (procs > 1).then(|| Haproxy::start(&ports).unwrap());
    let db_cpu_before = match backend {
        Backend::Postgres => cluster().cpu_time().unwrap(),
        Backend::Sqlite => Duration::ZERO,
    };
    let cpu_before: Duration = servers.iter().map(Server::cpu).sum();
    let base = proxy
        .as_ref()
        .map_or_else(|| servers[0].base.clone(), |p| p.base.clone());
    let wall = Instant::now();
    let (_, committed) = push_all(&base, pushes, s.concurrency);
    let wall = wall.elapsed();
    let cpu = servers.iter().map(Server::cpu).sum::<Duration>() - cpu_before;
    let peak = servers.iter().map(Server::peak_mib).fold(0.0, f64::max);
    drop(proxy);
    drop(servers);
    // The backends' time counts once their connections close with the servers.
    let db_cpu = match backend {
        Backend::Postgres => {
            std::thread::sleep(Duration::from_millis(500));
            cluster().cpu_time().unwrap() - db_cpu_before
        }
        Backend::Sqlite => Duration::ZERO,
    };
    let (floor_after, rules, signatures, audit) = if with_floor {
        (
            floor_once(&kept),
            rules_cost(&kept),
            signatures_cost(&kept),
            audit_cost(&kept),
        )
    } else {
        (
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        )
    };
    let floor = (floor_before + floor_after) / 2;
    assert_eq!(committed, total_changes, "every change committed");
    let ratio = cpu.as_secs_f64() / floor.as_secs_f64().max(1e-9);
    SurgeRun {
        ratio,
        cpu,
        db_cpu,
        floor,
        floor_before,
        floor_after,
        peak_mib: peak,
        wall,
        changes: total_changes,
        bytes: total_bytes,
        rules,
        signatures,
        audit,
    }
}

/// The audit writes' own cost on a surge's pushes (see [`SurgeRun::audit`]).
fn audit_cost(pushes: &[DevicePush]) -> Duration {
    let entries: Vec<rounds_server::audit::NewEntry> = pushes
        .iter()
        .filter_map(|(_, docs)| {
            let (first, _) = docs.first()?;
            let pushed: Vec<(Uuid, rounds_server::audit::Pushed)> = docs
                .iter()
                .map(|(h, changes)| {
                    let parsed: Vec<Change> = changes
                        .iter()
                        .map(|b| Change::from_bytes(b.clone()).unwrap())
                        .collect();
                    (h.id, rounds_server::audit::Pushed::of(&parsed))
                })
                .collect();
            Some(rounds_server::audit::NewEntry::push(
                t0(),
                first.author_id,
                Some(first.device_id),
                &pushed,
            ))
        })
        .collect();
    let place = Place::new(Backend::Sqlite);
    let st = place.open();
    let start = Instant::now();
    st.append_audit(&entries).unwrap();
    start.elapsed()
}

/// The signature checks' own cost on a surge's pushes: every signature a push carries
/// verified, and each document's changes checked to be covered by it, as the server does after
/// the rules (the better of two runs). The changes are parsed before the clock starts (the
/// server has them parsed already).
fn signatures_cost(pushes: &[DevicePush]) -> Duration {
    let prepared: Vec<(Vec<Change>, rounds_protocol::ChangeSignature)> = pushes
        .iter()
        .flat_map(|(_, docs)| docs.iter().zip(signatures_of(docs)))
        .map(|((_, changes), sig)| {
            let parsed = changes
                .iter()
                .map(|b| Change::from_bytes(b.clone()).unwrap())
                .collect();
            (parsed, sig)
        })
        .collect();
    let once = || {
        let start = Instant::now();
        for (changes, sig) in &prepared {
            let key: [u8; 32] = sig.key.as_slice().try_into().unwrap();
            rounds_domain::signing::verify_change(
                &key,
                sig.doc,
                sig.person,
                &sig.change,
                &sig.signature,
            )
            .unwrap();
            assert!(
                rounds_domain::signing::uncovered(changes, &[(sig.change, sig.person)]).is_none()
            );
        }
        start.elapsed()
    };
    once().min(once())
}

/// The rule checks' own cost on a surge's changes: each document's changes applied in one call
/// as the server applies them, once through `rules::apply_and_check` and once without the checks; the
/// difference (the better of two runs of each).
fn rules_cost(pushes: &[DevicePush]) -> Duration {
    let once = |check: bool| {
        let start = Instant::now();
        for (_, docs) in pushes {
            for (h, changes) in docs {
                let viewer = rounds_core::rules::Viewer {
                    person: h.author_id,
                    role: Role::Guard,
                    schools: vec![h.school_id],
                };
                let writer = rounds_core::rules::Writer::only(&viewer, h.device_id);
                let mut am = Automerge::new();
                let new: Vec<Change> = changes
                    .iter()
                    .map(|b| Change::from_bytes(b.clone()).unwrap())
                    .collect();
                if check {
                    rounds_core::rules::apply_and_check(&mut am, h, writer, &new).unwrap();
                } else {
                    am.apply_changes(new.iter().cloned()).unwrap();
                }
                std::hint::black_box(am.get_heads());
            }
        }
        start.elapsed()
    };
    let with = once(true).min(once(true));
    let without = once(false).min(once(false));
    with.saturating_sub(without)
}

/// CPU time (user and system) of this process so far: the device's side of a pull.
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn supervisor_store(dir: &Path, token_person: Uuid, device: Uuid) -> Store {
    Store::create(
        &dir.join("supervisor.db"),
        Setup {
            device_id: device,
            person_id: token_person,
            secret: &Secret::new("2468013579"),
            kdf: KdfParams::FOR_TESTS,
            signing: &rounds_core::signing::SigningSecret::generate(&mut SeededEntropy::new(10)),
        },
        &mut SeededEntropy::new(9),
    )
    .unwrap()
}

/// A supervisor's device pulling the district into an empty store, then again after 5% of
/// the documents changed; `compacted`: the server compacted every document first (yesterday's
/// and older records are, in a running district).
fn pull(s: &Sizes, backend: Backend, compacted: bool) {
    eprintln!(
        "pull: preparing a district of {} documents on {backend:?} (compacted: {compacted})",
        s.district_docs
    );
    let place = Place::new(backend);
    let st = place.open();
    let st = st.as_ref();
    seed::demo_district(st, &mut SeededEntropy::new(1), t0()).unwrap();
    let author_device = Uuid::from_u128(0xAAAA);
    let shifts = s.district_docs / 11;
    let mut incidents = Vec::new();
    for n in 0..s.district_docs - shifts {
        let school = if n % 2 == 0 { ids::LINCOLN } else { ids::ADAMS };
        let (h, am) = incident_doc(n as u64, school, ids::SRO_OLGA, author_device);
        store_directly(st, &h, &am);
        incidents.push((h, am));
    }
    for n in 0..shifts {
        let (h, am) = shift_doc(
            n as u64,
            ids::LINCOLN,
            ids::LINCOLN_MAIN,
            ids::GUARD_LINCOLN,
            author_device,
            40,
        );
        store_directly(st, &h, &am);
    }
    if compacted {
        rounds_server::compaction::run_pass(st, None, usize::MAX, || {}).unwrap();
    }
    let (device, token) = device_session(st, ids::SUPERVISOR, 1);
    if let DatabaseUrl::Postgres(url) = &place.url {
        // The setup has just written (and compacted) the whole district in a minute; a
        // district's database has had autovacuum over it since. Vacuumed and analyzed first,
        // so the pull meets the tables as they are at rest, not that once-off housekeeping.
        let db = url.rsplit('/').next().unwrap_or_default();
        let t = Instant::now();
        cluster().psql(db, "VACUUM ANALYZE").unwrap();
        eprintln!(
            "pull: PostgreSQL vacuumed and analyzed after the setup in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let (server, _) = Server::start(&place);
    let on = match (backend, compacted) {
        (Backend::Postgres, true) => " (PostgreSQL, compacted)",
        (Backend::Postgres, false) => " (PostgreSQL)",
        (Backend::Sqlite, true) => " (compacted)",
        (Backend::Sqlite, false) => "",
    };
    let mut t = HttpTransport::new(&server.base, &token).unwrap();
    let db_cpu = || match backend {
        Backend::Postgres => cluster().cpu_time().unwrap(),
        Backend::Sqlite => Duration::ZERO,
    };
    // Each round pulls into a new empty store (the last one is kept for the 5% pull); the
    // median round is the figure, the others are printed beside it.
    let mut rounds = Vec::new();
    let mut kept = None;
    for _ in 0..s.pull_rounds.max(1) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = supervisor_store(dir.path(), ids::SUPERVISOR, device);
        let (server_before, db_before, device_before) = (server.cpu(), db_cpu(), own_cpu());
        let start = Instant::now();
        let r = client::sync_now(&mut store, &mut t, t0()).unwrap();
        let took = start.elapsed();
        let cpu = (
            own_cpu() - device_before,
            server.cpu() - server_before,
            db_cpu() - db_before,
        );
        assert_eq!(
            store.document_ids().unwrap().len(),
            s.district_docs,
            "the whole district arrived"
        );
        rounds.push((took, cpu, r));
        kept = Some((dir, store));
    }
    let (_dir, mut store) = kept.unwrap();
    let all: Vec<String> = rounds
        .iter()
        .map(|(took, _, _)| format!("{:.2}", took.as_secs_f64()))
        .collect();
    rounds.sort_by_key(|(took, _, _)| *took);
    let (first, (device_cpu, server_cpu, db_used), r) = &rounds[rounds.len() / 2];
    line(
        &format!("pull: district into an empty store{on}"),
        "<= 3 s",
        verdict(first.as_secs_f64() <= 3.0),
        &format!(
            "{:.2} s for {} documents, median of {} pulls ({} s) ({} fetched whole, {} changes applied one by one, {} requests; CPU: device {:.2} s, server {:.2} s, PostgreSQL {:.2} s)",
            first.as_secs_f64(),
            s.district_docs,
            all.len(),
            all.join(", "),
            r.fetched,
            r.pulled,
            r.requests,
            device_cpu.as_secs_f64(),
            server_cpu.as_secs_f64(),
            db_used.as_secs_f64()
        ),
    );

    // 5% of the documents change elsewhere (an officer appends to the narrative).
    let changed = s.district_docs / 20;
    for (h, am) in incidents.iter_mut().take(changed) {
        let version = st.document(h.id).unwrap().unwrap().version;
        let edit = IncidentEdit {
            append_narrative: Some("Follow-up: parent contacted.".into()),
            ..Default::default()
        };
        document::change(am, t0(), ids::SRO_OLGA, "edit_incident", |tx| {
            document::edit_incident(tx, &edit)
        })
        .unwrap();
        let c = am.get_last_local_change().unwrap();
        let projection = rounds_server::sync::project(h, am).unwrap();
        st.commit(&Commit {
            header: h.clone(),
            expected_version: Some(version),
            changes: vec![(c.hash().0, c.raw_bytes().to_vec())],
            projection,
            at: t0(),
            signatures: vec![],
        })
        .unwrap();
    }
    let start = Instant::now();
    let r = client::sync_now(&mut store, &mut t, t0()).unwrap();
    let again = start.elapsed();
    assert_eq!(
        r.pulled, changed,
        "exactly the changed documents' new changes arrived"
    );
    line(
        &format!("pull: again after 5% changed{on}"),
        "<= 0.5 s",
        verdict(again.as_secs_f64() <= 0.5),
        &format!(
            "{:.3} s for {} changed documents ({} requests)",
            again.as_secs_f64(),
            changed,
            r.requests
        ),
    );
    drop(server);
}

fn startup(s: &Sizes, backend: Backend) {
    eprintln!(
        "startup: preparing a server with {} documents on {backend:?}",
        s.startup_docs
    );
    let place = Place::new(backend);
    let st = place.open();
    let st = st.as_ref();
    seed::demo_district(st, &mut SeededEntropy::new(1), t0()).unwrap();
    for n in 0..s.startup_docs {
        let (h, am) = incident_doc(
            n as u64,
            ids::LINCOLN,
            ids::SRO_OLGA,
            Uuid::from_u128(0xAAAA),
        );
        store_directly(st, &h, &am);
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let (server, ready) = Server::start(&place);
        times.push(ready);
        drop(server);
    }
    times.sort();
    let median = times[times.len() / 2];
    line(
        if backend == Backend::Postgres {
            "startup: ready to serve (PostgreSQL)"
        } else {
            "startup: ready to serve"
        },
        "<= 1 s",
        verdict(median.as_secs_f64() <= 1.0),
        &format!(
            "median {:.0} ms over 5 starts with {} documents (spawn to first /health)",
            median.as_secs_f64() * 1e3,
            s.startup_docs
        ),
    );
}

/// `rounds-server verify` of an incident's export bundle: `evidence_changes` changes, each
/// action signed by the officer as her phone signs it, and `evidence_photos` photos of 300 kB,
/// exported by `evidence::export_incident` from a real store and checked by
/// `evidence::verify`, which is all `verify FILE` does after reading the file (median of 5).
fn evidence(s: &Sizes) {
    let place = Place::new(Backend::Sqlite);
    let st = place.open();
    let st = st.as_ref();
    seed::demo_district(st, &mut SeededEntropy::new(1), t0()).unwrap();
    let (device, _) = device_session(st, ids::SRO_OLGA, 1);
    let key = bench_key(device);
    let mut rng = SeededEntropy::new(7);
    let photos: Vec<String> = (0..s.evidence_photos)
        .map(|_| {
            let bytes: Vec<u8> = (0..300_000).map(|_| rng.next_u64() as u8).collect();
            let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            st.photo_bytes()
                .append(device, &hash, 0, bytes.len() as u64, &bytes)
                .unwrap();
            hash
        })
        .collect();
    let h = header(
        Uuid::from_u128(0xE0E0),
        DocKind::Incident,
        ids::LINCOLN,
        ids::SRO_OLGA,
        device,
    );
    let input = IncidentInput {
        id: h.id,
        school_id: ids::LINCOLN,
        incident_type: IncidentType::FightAssault,
        location: "Cafeteria".into(),
        occurred_at: t0(),
        people: vec![],
        narrative: "Two students fought by the lunch line.".into(),
        actions: "Separated them.".into(),
        photos: photos.clone(),
    };
    let mut am = document::create(&h, ids::SRO_OLGA, "create_incident", |tx| {
        document::init_incident(tx, &input, t0())
    })
    .unwrap();
    for i in 1..s.evidence_changes {
        let at = t0() + chrono::Duration::seconds(i as i64);
        let word = WORDS[i % WORDS.len()];
        document::change(&mut am, at, ids::SRO_OLGA, "edit_incident", |tx| {
            document::edit_incident(
                tx,
                &IncidentEdit {
                    append_narrative: Some(format!(" {word}")),
                    ..IncidentEdit::default()
                },
            )
        })
        .unwrap();
    }
    let changes: Vec<([u8; 32], Vec<u8>)> = am
        .get_changes(&[])
        .iter()
        .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
        .collect();
    let signatures = changes
        .iter()
        .map(|(hash, _)| rounds_server::storage::StoredSignature {
            doc_id: h.id,
            change: *hash,
            person_id: ids::SRO_OLGA,
            device_id: device,
            public_key: key.public(),
            signature: key.sign_change(h.id, ids::SRO_OLGA, hash).to_vec(),
            received_at: t0(),
        })
        .collect();
    st.commit(&Commit {
        header: h.clone(),
        expected_version: None,
        projection: rounds_server::sync::project(&h, &am).unwrap(),
        changes,
        at: t0(),
        signatures,
    })
    .unwrap();
    let fonts = rounds_server::console::pdf::ReportFonts::load(Path::new(
        rounds_server::console::pdf::DEFAULT_FONT_DIR,
    ))
    .unwrap();
    let console_key = SigningSecret::from_seed(&[9; 32]);
    let made = Instant::now();
    let export =
        rounds_server::evidence::export_incident(st, h.id, &console_key, &fonts, None, Utc::now())
            .unwrap();
    let made = made.elapsed();
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let proof = rounds_server::evidence::verify(&export.bytes).unwrap();
            let took = start.elapsed();
            assert!(proof.summary().contains("Bundle verified"));
            took
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    line(
        "evidence: verify a bundle",
        "<= 1 s",
        verdict(median.as_secs_f64() <= 1.0),
        &format!(
            "median {:.0} ms over 5 ({} changes and signatures, {} photos, {:.1} MB; \
             the export took {:.0} ms)",
            median.as_secs_f64() * 1e3,
            s.evidence_changes,
            s.evidence_photos,
            export.bytes.len() as f64 / 1e6,
            made.as_secs_f64() * 1e3
        ),
    );
}

/// The surge on PostgreSQL, with one server process and with two behind haproxy, against the
/// embedded store's in the same run.
fn district(s: &Sizes) {
    let lite = surge_once(s, Backend::Sqlite, 1, true);
    let runs = [
        ("1 process", surge_once(s, Backend::Postgres, 1, true)),
        ("2 processes", surge_once(s, Backend::Postgres, 2, true)),
    ];
    line(
        "district surge: embedded store (reference)",
        "",
        "info",
        &format!(
            "wall {:.2} s, server {:.2} s CPU, {:.2}x the floor",
            lite.wall.as_secs_f64(),
            lite.cpu.as_secs_f64(),
            lite.ratio
        ),
    );
    for (what, r) in &runs {
        line(
            &format!("district surge, {what}: server CPU / floor"),
            "<= 2x",
            verdict(r.ratio <= 2.0),
            &format!(
                "{:.2}x (servers {:.2} s CPU, floor {:.2} s; PostgreSQL's own {:.2} s more, {:.2}x with it)",
                r.ratio,
                r.cpu.as_secs_f64(),
                r.floor.as_secs_f64(),
                r.db_cpu.as_secs_f64(),
                (r.cpu + r.db_cpu).as_secs_f64() / r.floor.as_secs_f64()
            ),
        );
        let w = r.wall.as_secs_f64() / lite.wall.as_secs_f64();
        line(
            &format!("district surge, {what}: wall / embedded's"),
            "<= 1.5x",
            verdict(w <= 1.5),
            &format!(
                "{w:.2}x ({:.2} s against {:.2} s; peak {:.0} MiB per process)",
                r.wall.as_secs_f64(),
                lite.wall.as_secs_f64(),
                r.peak_mib
            ),
        );
    }
}

/// A state-sized surge: ten times the devices through haproxy to two processes on
/// PostgreSQL, against the same at the normal size in the same run: time and CPU should grow
/// linearly (at most 11×) and each process's peak memory stay flat.
fn state(s: &Sizes) {
    let small = surge_once(s, Backend::Postgres, 2, false);
    let big_sizes = Sizes {
        devices: s.devices * 10,
        ..*s
    };
    let big = surge_once(&big_sizes, Backend::Postgres, 2, false);
    let all = |r: &SurgeRun| (r.cpu + r.db_cpu).as_secs_f64();
    let (wall_x, cpu_x) = (
        big.wall.as_secs_f64() / small.wall.as_secs_f64(),
        all(&big) / all(&small),
    );
    line(
        &format!(
            "state surge: {} devices, time / {}'s",
            big_sizes.devices, s.devices
        ),
        "<= 11x",
        verdict(wall_x <= 11.0),
        &format!(
            "{wall_x:.2}x ({:.1} s against {:.1} s)",
            big.wall.as_secs_f64(),
            small.wall.as_secs_f64()
        ),
    );
    line(
        "state surge: server + PostgreSQL CPU / small's",
        "<= 11x",
        verdict(cpu_x <= 11.0),
        &format!(
            "{cpu_x:.2}x ({:.1} s against {:.1} s)",
            all(&big),
            all(&small)
        ),
    );
    line(
        "state surge: peak memory per process",
        "flat",
        verdict(big.peak_mib <= small.peak_mib * 1.5),
        &format!("{:.0} MiB against {:.0} MiB", big.peak_mib, small.peak_mib),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deep = match std::env::var("ROUNDS_BENCH").as_deref() {
        Ok("quick") => false,
        Ok("deep") => true,
        _ => args.iter().any(|a| a == "--bench"),
    };
    let sizes = if deep { DEEP } else { QUICK };
    let pick: Vec<&String> = args
        .iter()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| {
        (pick.is_empty() && (name != "state" || !deep)) || pick.iter().any(|p| p.as_str() == name)
    };
    println!(
        "rounds-server benchmarks ({} setting)",
        if deep { "deep" } else { "quick" }
    );
    println!("{:<44} {:<10} {:<6} figure", "measure", "target", "");
    let start = Instant::now();
    if wants("surge") {
        surge(&sizes);
    }
    if wants("storage") {
        storage_section(&sizes);
    }
    if wants("pull") {
        pull(&sizes, Backend::Sqlite, false);
        pull(&sizes, Backend::Sqlite, true);
    }
    // Only when named: one compacted pull alone (for a profiler).
    if pick.iter().any(|p| p.as_str() == "pull-compacted") {
        pull(&sizes, Backend::Sqlite, true);
    }
    if pick.iter().any(|p| p.as_str() == "pull-postgres") {
        pull(&sizes, Backend::Postgres, true);
    }
    if wants("startup") {
        startup(&sizes, Backend::Sqlite);
    }
    if wants("district") {
        district(&sizes);
    }
    if wants("pull") || wants("district") {
        pull(&sizes, Backend::Postgres, true);
    }
    if wants("startup") {
        startup(&sizes, Backend::Postgres);
    }
    if wants("state") {
        state(&sizes);
    }
    if wants("evidence") {
        evidence(&sizes);
    }
    println!("total run time {:.1} s", start.elapsed().as_secs_f64());
}

/// Pushes every device's documents, `concurrency` at a time; each push's latency (sorted)
/// and how many changes the server said it committed.
fn push_all(base: &str, pushes: Vec<DevicePush>, concurrency: usize) -> (Vec<Duration>, usize) {
    let queue = Arc::new(Mutex::new(pushes));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let committed = Arc::new(Mutex::new(0usize));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (queue, base, latencies, committed) = (
                queue.clone(),
                base.to_string(),
                latencies.clone(),
                committed.clone(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                loop {
                    let Some((token, docs)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let req = PushRequest {
                        docs: docs
                            .iter()
                            .map(|(h, c)| DocChanges {
                                header: rounds_core::wire::header_to_wire(h),
                                changes: c
                                    .iter()
                                    .cloned()
                                    .map(serde_bytes::ByteBuf::from)
                                    .collect(),
                            })
                            .collect(),
                        signatures: signatures_of(&docs),
                    };
                    let body = rounds_protocol::encode(&req);
                    let t = Instant::now();
                    let r = http
                        .post(format!("{base}/v1/sync/push"))
                        .bearer_auth(&token)
                        .body(body)
                        .send()
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    let resp: PushResponse = rounds_protocol::decode(&r.bytes().unwrap()).unwrap();
                    latencies.lock().unwrap().push(t.elapsed());
                    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
                    *committed.lock().unwrap() += resp.committed.len();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut l = std::mem::take(&mut *latencies.lock().unwrap());
    l.sort();
    let n = *committed.lock().unwrap();
    (l, n)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Server storage over three days of surges on the embedded store: day 1 alone (the surge's
/// own server CPU), day 2 (push latency on a store holding a day), day 3 while days 1 and 2
/// are compacted beside it (push latency during compaction, and compaction's CPU); then the
/// store's size after everything is compacted, against the same documents saved by automerge.
/// The largest tables and indexes of an SQLite store, in MiB of pages (SQLite's `dbstat`).
fn table_sizes(db: &Path) -> String {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    let mut st = c
        .prepare("SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC LIMIT 8")
        .unwrap();
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
        .map(|r| {
            let (name, b) = r.unwrap();
            format!("{name} {:.1}", b as f64 / 1048576.0)
        })
        .collect::<Vec<_>>();
    format!("MiB: {}", rows.join(", "))
}

fn storage_section(s: &Sizes) {
    eprintln!("storage: preparing {} devices × 3 days", s.devices);
    let place = Place::new(Backend::Sqlite);
    let st = place.open();
    seed::demo_district(st.as_ref(), &mut SeededEntropy::new(1), t0()).unwrap();
    let guards = (s.devices / 10).max(1);
    let mut people = Vec::new();
    for g in 0..guards {
        let id = Uuid::from_u128(0x6000_0000 + g as u128);
        admin::put_person(
            st.as_ref(),
            admin::Actor { by: None, at: t0() },
            &PersonInput {
                id,
                username: format!("guard{g}"),
                name: format!("Guard {g}"),
                role: Role::Guard,
                schools: vec![ids::LINCOLN],
                password: Some("bench-password".into()),
                active: true,
            },
            &mut SeededEntropy::new(g as u64),
        )
        .unwrap();
        people.push(id);
    }
    let sessions: Vec<(Uuid, Uuid, String)> = (0..s.devices)
        .map(|d| {
            let person = people[d % guards];
            let (device, token) = device_session(st.as_ref(), person, d as u64);
            (person, device, token)
        })
        .collect();
    let mut saved_total = 0usize;
    let mut change_total = 0usize;
    let mut day = |k: u64| -> Vec<DevicePush> {
        sessions
            .iter()
            .enumerate()
            .map(|(d, (person, device, token))| {
                let n = k * 1_000_000 + d as u64;
                let mut docs = Vec::new();
                let (h, am) = shift_doc(
                    n,
                    ids::LINCOLN,
                    ids::LINCOLN_MAIN,
                    *person,
                    *device,
                    s.checks,
                );
                saved_total += am.save().len();
                docs.push((h, changes_of(&am)));
                for i in 0..s.incidents {
                    let (h, am) = incident_doc(n * 100 + i as u64, ids::LINCOLN, *person, *device);
                    saved_total += am.save().len();
                    docs.push((h, changes_of(&am)));
                }
                change_total += docs.iter().map(|(_, c)| c.len()).sum::<usize>();
                (token.clone(), docs)
            })
            .collect()
    };
    let days = [day(1), day(2), day(3)];
    let [d1, d2, d3] = days;
    let (server, _) = Server::start(&place);
    let cpu0 = server.cpu();
    let (lat1, _) = push_all(&server.base, d1, s.concurrency);
    let surge_cpu = server.cpu() - cpu0;
    let cpu1 = server.cpu();
    let (lat2, _) = push_all(&server.base, d2, s.concurrency);
    let day2_cpu = server.cpu() - cpu1;
    let before = st.storage_size().unwrap();
    let day_rows = before.change_rows / 2;
    drop(server);
    // Day 3 arrives while the server's own background compaction folds days 1 and 2: the
    // server restarts with a pass every second for documents unchanged for a minute, after
    // a minute's wait, so days 1 and 2 qualify and day 3 does not before this ends.
    std::thread::sleep(Duration::from_secs(61));
    let (server, _) = Server::start_with(
        &place,
        "127.0.0.1:0",
        &[
            ("ROUNDS_COMPACT_EVERY_SECONDS", "1"),
            ("ROUNDS_COMPACT_CLOSED_AFTER_SECONDS", "60"),
            ("ROUNDS_COMPACT_IDLE_AFTER_SECONDS", "60"),
        ],
    );
    let (cpu2, wall) = (server.cpu(), Instant::now());
    let (lat3, _) = push_all(&server.base, d3, s.concurrency);
    // The pass goes on after the pushes: wait until only day 3's rows are left.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut during = st.storage_size().unwrap();
    while during.change_rows > day_rows && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        during = st.storage_size().unwrap();
    }
    let compaction_wall = wall.elapsed();
    let compaction_cpu = (server.cpu() - cpu2).saturating_sub(day2_cpu);
    drop(server);
    // What loading the saved forms back (compaction's check of each one) costs, in-process.
    let verify = {
        let t = Instant::now();
        let mut n = 0usize;
        for d in 0..s.devices as u64 {
            let id = Uuid::from_u128(0x2_0000_0000 + u128::from(1_000_000 + d));
            if let Some(doc) = st.document(id).unwrap()
                && let Some(saved) = doc.saved
            {
                std::hint::black_box(Automerge::load(&saved.bytes).unwrap().get_heads());
                n += 1;
            }
        }
        (t.elapsed(), n)
    };
    let folded_by_server = (before.change_rows + day_rows).saturating_sub(during.change_rows);
    let rest = rounds_server::compaction::run_pass(st.as_ref(), None, usize::MAX, || {}).unwrap();
    let after = st.storage_size().unwrap();
    let files: u64 = ["rounds.db", "rounds.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(place.dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    let pass = rounds_server::compaction::Pass {
        documents: (s.devices * (1 + s.incidents) * 2) as u64,
        folded: folded_by_server,
        damaged: 0,
    };
    let mib = |b: u64| b as f64 / 1048576.0;
    line(
        "storage: shape",
        "",
        "info",
        &format!(
            "{} devices × 3 days, {} changes, {} documents; push p50 {:.0} ms on day 1",
            s.devices,
            change_total,
            after.documents,
            percentile(&lat1, 0.5).as_secs_f64() * 1000.0
        ),
    );
    let per_day = compaction_cpu / 2;
    line(
        "storage: compaction CPU of a day's surge",
        "<= surge",
        verdict(per_day <= surge_cpu),
        &format!(
            "{:.2} s per day ({:.2} s for days 1-2 in the server's background pass beside day 3's pushes, their CPU taken out: {} documents, {} rows folded, wall {:.1} s; loading day 1's {} saved shifts back, the check, {:.2} s in-process), the surge's own server CPU {:.2} s",
            per_day.as_secs_f64(),
            compaction_cpu.as_secs_f64(),
            pass.documents,
            pass.folded,
            compaction_wall.as_secs_f64(),
            verify.1,
            verify.0.as_secs_f64(),
            surge_cpu.as_secs_f64()
        ),
    );
    let (p99_without, p99_with) = (percentile(&lat2, 0.99), percentile(&lat3, 0.99));
    let waited = p99_with.saturating_sub(p99_without);
    line(
        "storage: push p99 during compaction",
        "+<= 50 ms",
        verdict(waited <= Duration::from_millis(50)),
        &format!(
            "{:.0} ms during vs {:.0} ms without (+{:.0} ms; p50 {:.0} vs {:.0} ms)",
            p99_with.as_secs_f64() * 1000.0,
            p99_without.as_secs_f64() * 1000.0,
            waited.as_secs_f64() * 1000.0,
            percentile(&lat3, 0.5).as_secs_f64() * 1000.0,
            percentile(&lat2, 0.5).as_secs_f64() * 1000.0
        ),
    );
    line(
        "storage: where the bytes are",
        "",
        "info",
        &table_sizes(&place.dir.path().join("rounds.db")),
    );
    let ratio = after.database_bytes as f64 / saved_total as f64;
    line(
        "storage: store / automerge saved documents",
        "<= 3x",
        verdict(ratio <= 3.0),
        &format!(
            "{ratio:.2}x ({:.1} MiB in use, {:.1} MiB of files; saved documents {:.1} MiB; before compaction {:.1} MiB = {:.1}x; {} change rows left, {} folded after the surge)",
            mib(after.database_bytes),
            mib(files),
            mib(saved_total as u64),
            mib(before.database_bytes),
            before.database_bytes as f64 / (saved_total as f64 * 2.0 / 3.0),
            after.change_rows,
            rest.folded
        ),
    );
}

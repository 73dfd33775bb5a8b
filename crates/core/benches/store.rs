//! Device store benchmarks, against the performance targets (see `docs/performance.md`).
//!
//! - `cargo bench -p rounds-core --bench store` runs the **deep** setting: 2,000 timed patrol
//!   checks side by side with bare SQLCipher inserts, and a store of 100,000 checks and 10,000
//!   incidents.
//! - `cargo test -p rounds-core --benches`, `cargo bench ... -- --test`, or `ROUNDS_BENCH=quick`
//!   runs the **quick** setting (small sizes) so CI exercises this code. `ROUNDS_BENCH=deep`
//!   forces the deep setting.
//! - Positional arguments select sections: `record_check`, `large_store` (default: both).
//!
//! It prints a table with each figure next to its target. A missed target is reported, never
//! an exit code: this is a report, not a gate.

// A benchmark binary: it reports on stdout, and a failed setup step should stop it at once
// with the error (unwrap), not be handled.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use automerge::Automerge;
use chrono::{DateTime, Utc};
use rounds_core::document::{self, Header, Supplement};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{self, KdfParams, KeySlots, Lockout, Secret};
use rounds_core::model::*;
use rounds_core::store::{NewShift, Setup, Store};
use rusqlite::{Connection, params};
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

struct Settings {
    name: &'static str,
    /// Timed `record_check` calls (after `WARM_UP` untimed ones).
    checks: usize,
    /// Checks per shift (a new shift is started after this many).
    shift_len: usize,
    /// Shifts of `shift_len` checks in the large store (the last one is left open).
    big_shifts: usize,
    /// Incidents in the large store.
    big_incidents: usize,
    /// Timed opens (and KDF runs) of the large store.
    open_runs: usize,
    /// Runs of each query on the large store.
    query_runs: usize,
    /// Timed actions on the large store (informational).
    action_runs: usize,
}

const DEEP: Settings = Settings {
    name: "deep",
    checks: 2_000,
    shift_len: 200,
    big_shifts: 500,
    big_incidents: 10_000,
    open_runs: 5,
    query_runs: 50,
    action_runs: 50,
};

const QUICK: Settings = Settings {
    name: "quick",
    checks: 200,
    shift_len: 200,
    big_shifts: 25,
    big_incidents: 500,
    open_runs: 3,
    query_runs: 20,
    action_runs: 10,
};

const WARM_UP: usize = 20;
const CHECKPOINTS: usize = 20;
const GUARDS: u128 = 5;
const PASSPHRASE: &str = "correct horse battery";

fn settings(args: &[String]) -> &'static Settings {
    match std::env::var("ROUNDS_BENCH").as_deref() {
        Ok("quick") => return &QUICK,
        Ok("deep") => return &DEEP,
        _ => {}
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing of the kind.
    let bench = args.iter().any(|a| a == "--bench");
    let test = args.iter().any(|a| a == "--test");
    if bench && !test { &DEEP } else { &QUICK }
}

// ---------------------------------------------------------------------------------------
// Ids, times and reference data
// ---------------------------------------------------------------------------------------

const K_SCHOOL: u128 = 1;
const K_POST: u128 = 2;
const K_CHECKPOINT: u128 = 3;
const K_PERSON: u128 = 4;
const K_DEVICE: u128 = 5;
const K_SHIFT: u128 = 6;
const K_CHECK: u128 = 7;
const K_INCIDENT: u128 = 8;
const K_INVOLVED: u128 = 9;
const K_SUPPLEMENT: u128 = 10;

fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128((kind << 96) | n)
}

fn school() -> Uuid {
    id(K_SCHOOL, 1)
}
fn post() -> Uuid {
    id(K_POST, 1)
}
fn checkpoint(n: usize) -> Uuid {
    id(K_CHECKPOINT, (n % CHECKPOINTS) as u128)
}
fn guard(n: u128) -> Uuid {
    id(K_PERSON, n % GUARDS)
}
fn device() -> Uuid {
    id(K_DEVICE, 1)
}

fn time(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn minutes(m: i64) -> chrono::Duration {
    chrono::Duration::minutes(m)
}

fn reference() -> ReferenceData {
    ReferenceData {
        schools: vec![School {
            id: school(),
            name: "Lincoln High School".into(),
        }],
        posts: vec![Post {
            id: post(),
            school_id: school(),
            name: "Main campus, day".into(),
            orders: "Walk the round every hour; report any unsecured door at once.".into(),
        }],
        checkpoints: (0..CHECKPOINTS)
            .map(|i| Checkpoint {
                id: checkpoint(i),
                post_id: post(),
                name: format!("Checkpoint {i}"),
                tag_code: format!("TAG-{i:03}"),
                position: i as u32,
                schedule: Schedule {
                    first_due_minutes: 0,
                    interval_minutes: 60,
                    grace_minutes: 10,
                },
            })
            .collect(),
        people: (0..GUARDS)
            .map(|g| Person {
                id: guard(g),
                name: format!("Guard {g}"),
                role: Role::Guard,
                schools: vec![school()],
            })
            .collect(),
    }
}

fn new_store(path: &Path) -> Store {
    let secret = Secret::new(PASSPHRASE);
    let mut store = Store::create(
        path,
        Setup {
            device_id: device(),
            person_id: guard(0),
            secret: &secret,
            kdf: KdfParams::DEFAULT,
            signing: &rounds_core::signing::SigningSecret::generate(&mut SeededEntropy::new(8)),
        },
        &mut SeededEntropy::new(7),
    )
    .unwrap();
    store.replace_reference_data(&reference()).unwrap();
    store
}

/// The `n`th check of a shift that started at `start`: checkpoints in turn, one every 2.4
/// minutes (200 checks = 8 hours), one in ten with a finding.
fn check(serial: u128, n: usize, start: DateTime<Utc>) -> CheckInput {
    let finding = n % 10 == 9;
    CheckInput {
        id: id(K_CHECK, serial),
        checkpoint_id: checkpoint(n),
        method: if n.is_multiple_of(7) {
            CheckMethod::Manual
        } else {
            CheckMethod::Tag
        },
        result: if finding {
            CheckResult::Hazard
        } else {
            CheckResult::AllClear
        },
        note: if finding {
            "Wet floor by the east stairwell; cone placed, custodian called.".into()
        } else {
            String::new()
        },
        photos: Vec::new(),
        at: start + chrono::Duration::seconds(144 * n as i64 + 30),
    }
}

// ---------------------------------------------------------------------------------------
// Statistics and the report
// ---------------------------------------------------------------------------------------

struct Stats {
    n: usize,
    median: Duration,
    mean: Duration,
    p99: Duration,
    max: Duration,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut v = samples.to_vec();
    v.sort_unstable();
    let n = v.len();
    assert!(n > 0, "no samples");
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    // Nearest-rank percentile.
    let rank = ((n as f64) * 0.99).ceil() as usize;
    Stats {
        n,
        median,
        mean: v.iter().sum::<Duration>() / n as u32,
        p99: v[rank.clamp(1, n) - 1],
        max: v[n - 1],
    }
}

fn ms(d: Duration) -> String {
    let m = d.as_secs_f64() * 1e3;
    if m >= 10_000.0 {
        format!("{:.1} s", m / 1e3)
    } else if m >= 100.0 {
        format!("{m:.0} ms")
    } else if m >= 1.0 {
        format!("{m:.2} ms")
    } else {
        format!("{m:.3} ms")
    }
}

fn summary(s: &Stats) -> String {
    format!(
        "median {}, p99 {}, mean {}, max {} (n={})",
        ms(s.median),
        ms(s.p99),
        ms(s.mean),
        ms(s.max),
        s.n
    )
}

struct Row {
    what: String,
    value: String,
    target: String,
    verdict: Option<bool>,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn target(&mut self, what: &str, value: String, target: &str, pass: bool) {
        self.rows.push(Row {
            what: what.into(),
            value,
            target: target.into(),
            verdict: Some(pass),
        });
    }

    fn info(&mut self, what: &str, value: String) {
        self.rows.push(Row {
            what: what.into(),
            value,
            target: String::new(),
            verdict: None,
        });
    }

    fn print(&self, s: &Settings) {
        let w0 = self.rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
        let w2 = self
            .rows
            .iter()
            .map(|r| r.target.len())
            .max()
            .unwrap_or(0)
            .max("target".len());
        println!();
        println!("Rounds store benchmark, {} setting", s.name);
        if s.name == "quick" {
            println!(
                "(quick sizes: the targets are for the deep setting; verdicts are indicative)"
            );
        }
        println!("{:<w0$}  {:<w2$}  verdict  figure", "measure", "target");
        println!("{}", "-".repeat(w0 + w2 + 40));
        for r in &self.rows {
            let verdict = match r.verdict {
                Some(true) => "PASS",
                Some(false) => "FAIL",
                None => "info",
            };
            println!(
                "{:<w0$}  {:<w2$}  {verdict:<7}  {}",
                r.what, r.target, r.value
            );
        }
        if !self.notes.is_empty() {
            println!();
            for n in &self.notes {
                println!("- {n}");
            }
        }
        let missed = self
            .rows
            .iter()
            .filter(|r| r.verdict == Some(false))
            .count();
        println!();
        println!("{missed} target(s) missed.");
    }
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
    let _ = std::io::stderr().flush();
}

// ---------------------------------------------------------------------------------------
// 1. Recording one patrol check, side by side with bare inserts
// ---------------------------------------------------------------------------------------

/// A connection configured like the store's (`configure` in `store/mod.rs`), with a table for
/// change bytes. `key` is a SQLCipher raw key (`x'<hex>'`), or `None` for a plain file.
fn bare_db(path: &Path, key: Option<&str>) -> Connection {
    let conn = Connection::open(path).unwrap();
    if let Some(k) = key {
        conn.pragma_update(None, "key", k).unwrap();
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA temp_store = MEMORY;
         CREATE TABLE changes (id INTEGER PRIMARY KEY, doc TEXT NOT NULL, bytes BLOB NOT NULL);",
    )
    .unwrap();
    conn
}

fn bare_insert(conn: &Connection, doc: &str, bytes: &[u8]) {
    let tx = conn.unchecked_transaction().unwrap();
    tx.prepare_cached("INSERT INTO changes (doc, bytes) VALUES (?1, ?2)")
        .unwrap()
        .execute(params![doc, bytes])
        .unwrap();
    tx.commit().unwrap();
}

/// Pages written per commit (WAL frames): autocheckpoint off, 100 commits, then the length of
/// the WAL. Untimed.
fn wal_frames(conn: &Connection, mut commit: impl FnMut()) -> f64 {
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA wal_autocheckpoint = 0;")
        .unwrap();
    for _ in 0..100 {
        commit();
    }
    let log: i64 = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap();
    conn.execute_batch("PRAGMA wal_autocheckpoint = 1000;")
        .unwrap();
    log as f64 / 100.0
}

/// A guard walking rounds: checks in turn, a new shift every `shift_len` checks (a real shift
/// holds 20-240). Ending and starting shifts happens here, outside the timed calls.
struct Walk {
    base: DateTime<Utc>,
    shift_len: usize,
    no: usize,
    shift: Uuid,
    in_shift: usize,
    serial: u128,
}

impl Walk {
    fn start(&self, k: usize) -> DateTime<Utc> {
        self.base + chrono::Duration::hours(8 * k as i64)
    }

    fn next(&mut self, store: &mut Store) -> (Uuid, CheckInput) {
        if self.in_shift == self.shift_len {
            let end = self.start(self.no) + chrono::Duration::hours(8);
            store.end_shift(self.shift, end).unwrap();
            self.no += 1;
            self.shift = id(K_SHIFT, self.no as u128);
            store
                .start_shift(&NewShift {
                    id: self.shift,
                    post_id: post(),
                    started_at: self.start(self.no),
                })
                .unwrap();
            self.in_shift = 0;
        }
        self.serial += 1;
        let c = check(self.serial, self.in_shift, self.start(self.no));
        self.in_shift += 1;
        (self.shift, c)
    }
}

fn bench_record_check(s: &Settings, report: &mut Report) {
    progress(&format!(
        "record_check: {} warm-up + {} timed checks, shifts of {}",
        WARM_UP, s.checks, s.shift_len
    ));
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(&dir.path().join("device.db"));
    let base = time("2026-09-01T06:00:00Z");
    let mut walk = Walk {
        base,
        shift_len: s.shift_len,
        no: 0,
        shift: id(K_SHIFT, 0),
        in_shift: 0,
        serial: 0,
    };
    store
        .start_shift(&NewShift {
            id: walk.shift,
            post_id: post(),
            started_at: walk.start(0),
        })
        .unwrap();
    for _ in 0..WARM_UP {
        let (sh, c) = walk.next(&mut store);
        store.record_check(sh, &c).unwrap();
    }
    // The bytes of one real check change, for the bare inserts.
    let pending = store.pending_changes(usize::MAX).unwrap();
    let sample = pending
        .last()
        .and_then(|d| d.changes.last())
        .unwrap()
        .bytes
        .clone();
    let doc_text = walk.shift.to_string();

    let key = format!("x'{}'", "5a".repeat(32));
    let enc = bare_db(&dir.path().join("bare-encrypted.db"), Some(&key));
    let plain = bare_db(&dir.path().join("bare-plain.db"), None);
    for _ in 0..WARM_UP {
        bare_insert(&enc, &doc_text, &sample);
        bare_insert(&plain, &doc_text, &sample);
    }
    let mut fsync_file = std::fs::File::create(dir.path().join("fsync.bin")).unwrap();
    let page = vec![0x5au8; 4096];

    // Interleaved, so that the machine's ups and downs hit all of them alike.
    let mut t_store = Vec::with_capacity(s.checks);
    let mut t_enc = Vec::with_capacity(s.checks);
    let mut t_plain = Vec::with_capacity(s.checks);
    let mut t_fsync = Vec::with_capacity(s.checks);
    // Position of each timed check in its shift (the shift document grows).
    let mut pos = Vec::with_capacity(s.checks);
    for _ in 0..s.checks {
        let (sh, c) = walk.next(&mut store);
        pos.push(walk.in_shift - 1);
        let t = Instant::now();
        store.record_check(sh, &c).unwrap();
        t_store.push(t.elapsed());

        let t = Instant::now();
        bare_insert(&enc, &doc_text, &sample);
        t_enc.push(t.elapsed());

        let t = Instant::now();
        bare_insert(&plain, &doc_text, &sample);
        t_plain.push(t.elapsed());

        let t = Instant::now();
        fsync_file.write_all(&page).unwrap();
        fsync_file.sync_data().unwrap();
        t_fsync.push(t.elapsed());
    }

    // The automerge part alone, in memory: the same change on a document of the same size.
    let mut t_am = Vec::with_capacity(s.checks);
    let mut t_am_change = Vec::with_capacity(s.checks);
    let mut t_am_last = Vec::with_capacity(s.checks);
    let mut am_pos = Vec::with_capacity(s.checks);
    let mut t_sign = Vec::with_capacity(s.checks);
    let signer = rounds_core::signing::SigningSecret::generate(&mut SeededEntropy::new(9));
    let person = guard(0);
    let mut doc = Automerge::new();
    for i in 0..WARM_UP + s.checks {
        let n = i % s.shift_len;
        if n == 0 {
            let h = shift_header(id(K_SHIFT, 1_000_000 + i as u128), person, base);
            doc = document::create(&h, person, "start_shift", |tx| {
                document::init_shift(tx, post(), base)
            })
            .unwrap();
        }
        let c = check(1_000_000 + i as u128, n, base);
        let t = Instant::now();
        c.validate().unwrap();
        document::change(&mut doc, c.at, person, "record_check", |tx| {
            document::append_check(tx, &c, person)
        })
        .unwrap();
        let t1 = Instant::now();
        let change = doc.get_last_local_change().unwrap();
        let t2 = Instant::now();
        assert!(!change.raw_bytes().is_empty());
        // The signature each action adds (the change hash under the person's key).
        let t3 = Instant::now();
        let sig = signer.sign_change(Uuid::nil(), person, &change.hash().0);
        let t4 = Instant::now();
        assert_eq!(sig.len(), 64);
        if i >= WARM_UP {
            t_am.push(t2 - t);
            t_am_change.push(t1 - t);
            t_am_last.push(t2 - t1);
            t_sign.push(t4 - t3);
            am_pos.push(n);
        }
    }

    let mut sizes: Vec<usize> = store
        .pending_changes(usize::MAX)
        .unwrap()
        .iter()
        .flat_map(|d| d.changes.iter().map(|c| c.bytes.len()))
        .collect();
    sizes.sort_unstable();
    let median_size = sizes[sizes.len() / 2];

    // Pages written per commit (WAL frames), untimed.
    let bare_frames = wal_frames(&enc, || bare_insert(&enc, &doc_text, &sample));

    let st = stats(&t_store);
    let se = stats(&t_enc);
    let sp = stats(&t_plain);
    let sf = stats(&t_fsync);
    let sa = stats(&t_am);
    let ratio = st.median.as_secs_f64() / se.median.as_secs_f64();
    report.target(
        "record_check median",
        ms(st.median),
        "<= 1 ms",
        st.median <= Duration::from_millis(1),
    );
    report.target(
        "record_check p99",
        ms(st.p99),
        "<= 5 ms",
        st.p99 <= Duration::from_millis(5),
    );
    report.info("record_check (all)", summary(&st));
    report.info(
        "bare SQLCipher insert, WAL+FULL",
        format!("{} of {} bytes", summary(&se), sample.len()),
    );
    report.target(
        "record_check / bare SQLCipher insert",
        format!("{ratio:.2}x (medians)"),
        "<= 3x",
        ratio <= 3.0,
    );
    report.info("bare plain SQLite insert, WAL+FULL", summary(&sp));
    report.info(
        "WAL frames (pages) per bare insert",
        format!("{bare_frames:.1} (record_check's: see the large store)"),
    );
    report.info("fsync (4 KiB append + fdatasync)", summary(&sf));
    report.info(
        "automerge part alone (in memory)",
        format!("{} (validate, change, get_last_local_change)", summary(&sa)),
    );
    report.info(
        "  of which",
        format!(
            "validate+change {}, get_last_local_change {} (medians)",
            ms(stats(&t_am_change).median),
            ms(stats(&t_am_last).median)
        ),
    );
    report.info(
        "Ed25519 signature of the change (in memory)",
        format!(
            "{} (plus one change_signatures row in the same transaction)",
            summary(&stats(&t_sign))
        ),
    );
    report.info(
        "record_check minus automerge part",
        format!(
            "{} (SQLite transaction, projections, the rest; difference of medians)",
            ms(st.median.saturating_sub(sa.median))
        ),
    );
    let quarter = (s.shift_len / 4).max(1);
    let by_pos = |t: &[Duration], p: &[usize], early: bool| {
        let v: Vec<Duration> = t
            .iter()
            .zip(p)
            .filter(|(_, n)| {
                if early {
                    **n < quarter
                } else {
                    **n >= s.shift_len - quarter
                }
            })
            .map(|(d, _)| *d)
            .collect();
        ms(stats(&v).median)
    };
    report.info(
        "by check position in its shift",
        format!(
            "record_check median {} for checks 1-{quarter}, {} for the last {quarter}; \
             automerge part {} vs {}",
            by_pos(&t_store, &pos, true),
            by_pos(&t_store, &pos, false),
            by_pos(&t_am, &am_pos, true),
            by_pos(&t_am, &am_pos, false)
        ),
    );
    report.info(
        "change size",
        format!(
            "{} bytes used for the bare inserts; median of all {} stored changes {} bytes",
            sample.len(),
            sizes.len(),
            median_size
        ),
    );
}

fn shift_header(id: Uuid, author: Uuid, at: DateTime<Utc>) -> Header {
    Header {
        id,
        kind: DocKind::Shift,
        school_id: school(),
        author_id: author,
        device_id: device(),
        created_at: at,
        classification: Classification::Internal,
    }
}

// ---------------------------------------------------------------------------------------
// 2. A large store
// ---------------------------------------------------------------------------------------

/// A small deterministic generator for the fixture's text.
struct Gen(SeededEntropy);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "Ana", "Ben", "Carla", "Darius", "Elena", "Farid", "Grace", "Hector", "Imani", "Jonah",
    "Keiko", "Luis", "Maya", "Nikhil", "Olivia", "Pedro", "Quinn", "Rosa", "Samir", "Tasha",
];
const LAST: &[&str] = &[
    "Alvarez", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Huang", "Ibrahim",
    "Johnson", "Kowalski", "Lopez", "Martinez", "Nguyen", "Okafor", "Patel", "Reyes", "Smith",
    "Tanaka", "Williams",
];
const PLACES: &[&str] = &[
    "cafeteria",
    "gym",
    "library",
    "north parking lot",
    "east stairwell",
    "main office",
    "bus loop",
    "science wing",
    "locker room",
    "football field",
    "auditorium",
    "front entrance",
    "courtyard",
    "band room",
    "portable classroom",
];
const PROBLEMS: &[&str] = &[
    "a fight between two students",
    "a strong smell of vape smoke",
    "a broken window",
    "fresh graffiti on the wall",
    "an unlocked door",
    "a suspicious backpack left alone",
    "a student who felt faint",
    "a loud argument",
    "a missing phone",
    "water leaking from the ceiling",
    "a pulled fire alarm",
    "an unknown adult without a visitor badge",
    "threatening messages posted online",
    "a knife found in a locker",
];
const OBJECTS: &[&str] = &[
    "door",
    "gate",
    "window",
    "fire extinguisher",
    "camera",
    "vending machine",
    "locker",
];
const STATES: &[&str] = &[
    "unlocked",
    "damaged",
    "propped open",
    "broken",
    "tagged with paint",
    "missing",
];
const ACTIONS: &[&str] = &[
    "Separated the students and escorted them to the main office.",
    "Secured the area and notified the assistant principal.",
    "Called the school nurse and stayed with the student.",
    "Contacted the custodian to repair the damage.",
    "Took photos and collected witness statements.",
    "Notified the school resource officer and parents.",
];

fn person_name(g: &mut Gen) -> String {
    format!("{} {}", g.pick(FIRST), g.pick(LAST))
}

fn narrative(g: &mut Gen) -> String {
    let mut out = Vec::new();
    out.push(format!(
        "{} reported {} in the {} at about {}:{:02}.",
        person_name(g),
        g.pick(PROBLEMS),
        g.pick(PLACES),
        7 + g.below(9),
        g.below(60)
    ));
    for _ in 0..1 + g.below(4) {
        let s = match g.below(6) {
            0 => format!(
                "When I arrived, {} students were gathered near the {} and left when asked.",
                2 + g.below(12),
                g.pick(PLACES)
            ),
            1 => format!(
                "The {} by the {} was found {}.",
                g.pick(OBJECTS),
                g.pick(PLACES),
                g.pick(STATES)
            ),
            2 => format!(
                "Staff member {} checked the {} and confirmed {}.",
                person_name(g),
                g.pick(PLACES),
                g.pick(PROBLEMS)
            ),
            3 => format!(
                "Witnesses said the student went toward the {} after the bell.",
                g.pick(PLACES)
            ),
            4 => "No injuries were reported; administration was informed.".to_string(),
            _ => format!(
                "Camera footage from the {} will be reviewed by administration.",
                g.pick(PLACES)
            ),
        };
        out.push(s);
    }
    out.join(" ")
}

fn changes_of(doc: &Automerge) -> Vec<Vec<u8>> {
    doc.get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// A shift document with `checks` checks, one automerge change each, as a device makes it.
fn shift_document(
    k: usize,
    author: Uuid,
    start: DateTime<Utc>,
    checks: usize,
    ended: bool,
) -> (Header, Vec<Vec<u8>>) {
    let h = shift_header(id(K_SHIFT, 10_000 + k as u128), author, start);
    let mut doc = document::create(&h, author, "start_shift", |tx| {
        document::init_shift(tx, post(), start)
    })
    .unwrap();
    for n in 0..checks {
        let c = check(((10_000 + k as u128) << 16) | n as u128, n, start);
        document::change(&mut doc, c.at, author, "record_check", |tx| {
            document::append_check(tx, &c, author)
        })
        .unwrap();
    }
    if ended {
        let end = start + chrono::Duration::hours(8);
        document::change(&mut doc, end, author, "end_shift", |tx| {
            document::end_shift(tx, end)
        })
        .unwrap();
    }
    (h, changes_of(&doc))
}

/// An incident filed, then (mostly) submitted, reviewed and sometimes supplemented: one
/// change per action.
fn incident_document(
    g: &mut Gen,
    k: usize,
    author: Uuid,
    reported: DateTime<Utc>,
) -> (Header, Vec<Vec<u8>>) {
    let h = Header {
        id: id(K_INCIDENT, k as u128),
        kind: DocKind::Incident,
        school_id: school(),
        author_id: author,
        device_id: device(),
        created_at: reported,
        classification: Classification::Confidential,
    };
    let people = (0..1 + g.below(3))
        .map(|j| {
            let category = PersonCategory::ALL[g.below(PersonCategory::ALL.len())];
            InvolvedPerson {
                id: id(K_INVOLVED, ((k as u128) << 8) | j as u128),
                name: person_name(g),
                category,
                involvement: Involvement::ALL[g.below(Involvement::ALL.len())],
                juvenile: category == PersonCategory::Student,
                reference: None,
            }
        })
        .collect();
    let input = IncidentInput {
        id: h.id,
        school_id: school(),
        incident_type: IncidentType::ALL[g.below(IncidentType::ALL.len())],
        location: format!(
            "{}, {}",
            capitalised(g.pick(PLACES)),
            g.pick(&["north", "south", "east", "west"])
        ),
        occurred_at: reported - minutes(5 + g.below(120) as i64),
        people,
        narrative: narrative(g),
        actions: g.pick(ACTIONS).to_string(),
        photos: Vec::new(),
    };
    input.validate(reported).unwrap();
    let mut doc = document::create(&h, author, "create_incident", |tx| {
        document::init_incident(tx, &input, reported)
    })
    .unwrap();
    let submitted = reported + minutes(20);
    if g.chance(85) {
        document::change(&mut doc, submitted, author, "submit_incident", |tx| {
            document::set_incident_status(tx, IncidentStatus::Submitted, submitted, None)
        })
        .unwrap();
        let reviewed = submitted + minutes(600);
        if g.chance(70) {
            document::change(&mut doc, reviewed, guard(4), "review_incident", |tx| {
                document::set_incident_status(
                    tx,
                    IncidentStatus::Approved,
                    reviewed,
                    Some("Reviewed, thank you."),
                )
            })
            .unwrap();
        }
        if g.chance(10) {
            let s = Supplement {
                id: id(K_SUPPLEMENT, k as u128),
                author_id: author,
                at: reviewed + minutes(60),
                text: format!(
                    "Follow-up: {} was interviewed by the assistant principal.",
                    person_name(g)
                ),
            };
            document::change(&mut doc, s.at, author, "add_supplement", |tx| {
                document::add_supplement(tx, &s)
            })
            .unwrap();
        }
    }
    (h, changes_of(&doc))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn file_size(path: &Path) -> u64 {
    let mut total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    for ext in ["-wal", ".keys"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    }
    total
}

/// A WAL frame: a 24-byte frame header and one 4 KiB page.
const WAL_FRAME: u64 = 24 + 4096;

fn wal_len(db: &Path) -> u64 {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn bench_large_store(s: &Settings, report: &mut Report) {
    let total_checks = s.big_shifts * s.shift_len;
    progress(&format!(
        "large store: building {} shifts ({} checks) and {} incidents",
        s.big_shifts, total_checks, s.big_incidents
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let mut store = new_store(&path);
    let base = time("2025-09-01T06:00:00Z");
    let shift_start = |k: usize| base + chrono::Duration::hours(8 * k as i64);
    let now = shift_start(s.big_shifts - 1) + chrono::Duration::hours(8);

    let t = Instant::now();
    for k in 0..s.big_shifts {
        let last = k + 1 == s.big_shifts;
        // Guards take turns; the last shift is guard 0's, still open (the current shift).
        let author = if last { guard(0) } else { guard(k as u128) };
        let (h, changes) = shift_document(k, author, shift_start(k), s.shift_len, !last);
        store.apply_remote(&h, &changes, true).unwrap();
        if k % 100 == 99 {
            progress(&format!("  {} shifts, {:.0?}", k + 1, t.elapsed()));
        }
    }
    let t_shifts = t.elapsed();
    progress("large store: rebuild_projections with the shifts only");
    let t = Instant::now();
    let n_shift_docs = store.rebuild_projections().unwrap();
    let t_rebuild_shifts = t.elapsed();
    let mut g = Gen(SeededEntropy::new(2026));
    let span = (now - base).num_minutes() - 240;
    let t = Instant::now();
    let mut t_last_1000 = Vec::new();
    let mut t_batch = Instant::now();
    for k in 0..s.big_incidents {
        let reported = base + minutes(g.below(span as usize) as i64 + 120);
        let author = guard(g.below(4) as u128);
        let (h, changes) = incident_document(&mut g, k, author, reported);
        store.apply_remote(&h, &changes, true).unwrap();
        if k % 1000 == 999 {
            t_last_1000.push(t_batch.elapsed());
            progress(&format!(
                "  {} incidents, {:.0?} (last 1000: {:.0?})",
                k + 1,
                t.elapsed(),
                t_batch.elapsed()
            ));
            t_batch = Instant::now();
        }
    }
    let t_incidents = t.elapsed();
    store.close().unwrap();
    let size = file_size(&path);
    report.info(
        "large store",
        format!(
            "{} checks in {} shifts, {} incidents; {:.1} MiB on disk",
            total_checks,
            s.big_shifts,
            s.big_incidents,
            size as f64 / (1024.0 * 1024.0)
        ),
    );
    report.info(
        "  building it (apply_remote, 1 doc/call)",
        format!(
            "shifts {}, incidents {}{}",
            ms(t_shifts),
            ms(t_incidents),
            match (t_last_1000.first(), t_last_1000.last()) {
                (Some(a), Some(b)) if t_last_1000.len() > 1 =>
                    format!("; first 1000 incidents {}, last 1000 {}", ms(*a), ms(*b)),
                _ => String::new(),
            }
        ),
    );

    // Unlock and open, and the KDF alone.
    progress("large store: unlock and open");
    let secret = Secret::new(PASSPHRASE);
    let slots_path = keyslots::path_for(&path);
    let mut t_open = Vec::new();
    let mut t_kdf = Vec::new();
    let mut lockout = Lockout::for_store(&path, &mut SeededEntropy::new(3)).unwrap();
    for _ in 0..s.open_runs {
        let t = Instant::now();
        let st = Store::open(&path, guard(0), &secret).unwrap();
        t_open.push(t.elapsed());
        st.close().unwrap();
        let t = Instant::now();
        let mut slots = KeySlots::load(&slots_path).unwrap();
        let _key = slots
            .unlock(&slots_path, guard(0), &secret, &mut lockout, Instant::now())
            .unwrap();
        t_kdf.push(t.elapsed());
    }
    let first_open = t_open[0];
    let so = stats(&t_open);
    let sk = stats(&t_kdf);
    report.target(
        "unlock and open (KDF included)",
        format!(
            "median {} (first {}, n={})",
            ms(so.median),
            ms(first_open),
            so.n
        ),
        // Issue 9 traded the old 300 ms target for a KDF that makes a copied store costly to
        // search: an unlock must now stay under a second (docs/performance.md, "KDF").
        "< 1 s",
        so.median < Duration::from_secs(1),
    );
    report.info(
        "  of which the KDF (Argon2id 32 MiB, t=2)",
        format!(
            "median {} (KeySlots::load + unlock); open minus KDF {:+.2} ms",
            ms(sk.median),
            (so.median.as_secs_f64() - sk.median.as_secs_f64()) * 1e3
        ),
    );

    let mut store = Store::open(&path, guard(0), &secret).unwrap();

    // Current shift.
    progress("large store: queries");
    let mut t_cur = Vec::new();
    for _ in 0..s.query_runs {
        let t = Instant::now();
        let view = store.current_shift(now).unwrap();
        t_cur.push(t.elapsed());
        assert_eq!(view.map(|v| v.checks.len()), Some(s.shift_len));
    }
    let sc = stats(&t_cur);
    report.target(
        "current_shift (open shift, 200 checks)",
        summary(&sc),
        "<= 5 ms",
        sc.median <= Duration::from_millis(5),
    );

    // Full-text search.
    let queries = [
        "fight cafeteria",
        "broken window",
        "vape",
        "Martinez",
        "unlocked door gym",
        "suspicious backpack parking",
        "knife locker",
    ];
    let mut worst = Duration::ZERO;
    let mut all = Vec::new();
    let mut per_query = Vec::new();
    for q in queries {
        let mut v = Vec::new();
        let mut hits = 0;
        for _ in 0..s.query_runs.min(20) {
            let t = Instant::now();
            hits = store.search(q, 20).unwrap().len();
            v.push(t.elapsed());
        }
        let sq = stats(&v);
        worst = worst.max(sq.median);
        per_query.push(format!("\"{q}\" {} ({hits} hits)", ms(sq.median)));
        all.extend(v);
    }
    let sa = stats(&all);
    report.target(
        "search, 20 best (slowest query's median)",
        format!("{} (all queries: {})", ms(worst), summary(&sa)),
        "<= 20 ms",
        worst <= Duration::from_millis(20),
    );
    report
        .notes
        .push(format!("search medians: {}", per_query.join("; ")));

    // Actions on the large store (informational): the per-action cost as the store grows.
    progress("large store: actions");
    let mut t_rc = Vec::new();
    let wal_before = wal_len(&path);
    let open_shift = id(K_SHIFT, 10_000 + (s.big_shifts - 1) as u128);
    for i in 0..s.action_runs {
        let mut c = check(
            (9_999_999u128 << 16) | i as u128,
            s.shift_len + i,
            shift_start(s.big_shifts - 1),
        );
        c.at = now - minutes(30) + chrono::Duration::seconds(i as i64);
        let t = Instant::now();
        store.record_check(open_shift, &c).unwrap();
        t_rc.push(t.elapsed());
    }
    let src = stats(&t_rc);
    // The store was opened with an empty WAL and nothing else wrote since, so the WAL's growth
    // is these checks' pages (unless it reached the autocheckpoint size of 1,000 frames).
    let wal_after = wal_len(&path);
    let header = if wal_before == 0 { 32 } else { 0 };
    let frames = wal_after.saturating_sub(wal_before + header) / WAL_FRAME;
    report.info(
        "WAL frames (pages) per record_check",
        if frames > 0 && frames < 1_000 {
            format!("{:.1}", frames as f64 / s.action_runs as f64)
        } else {
            "n/a (the WAL was checkpointed meanwhile)".to_string()
        },
    );
    report.info(
        "record_check on the large store",
        format!("{} (first call loads the document)", summary(&src)),
    );
    let mut t_ci = Vec::new();
    for i in 0..s.action_runs.min(20) {
        let input = IncidentInput {
            id: id(K_INCIDENT, 5_000_000 + i as u128),
            school_id: school(),
            incident_type: IncidentType::Trespass,
            location: "Front entrance".into(),
            occurred_at: now - minutes(15),
            people: Vec::new(),
            narrative: narrative(&mut g),
            actions: "Escorted the visitor to the main office.".into(),
            photos: Vec::new(),
        };
        let t = Instant::now();
        store.create_incident(&input, now).unwrap();
        t_ci.push(t.elapsed());
    }
    let sci = stats(&t_ci);
    report.info("create_incident on the large store", summary(&sci));

    // Rebuilding every projection.
    progress("large store: rebuild_projections");
    let t = Instant::now();
    let docs = store.rebuild_projections().unwrap();
    let t_rebuild = t.elapsed();
    report.target(
        "rebuild_projections",
        format!("{} for {docs} documents", ms(t_rebuild)),
        "<= 30 s",
        t_rebuild <= Duration::from_secs(30),
    );
    report.info(
        "  rebuild with the shifts only",
        format!(
            "{} for {n_shift_docs} documents (before the incidents were added)",
            ms(t_rebuild_shifts)
        ),
    );
    store.close().unwrap();
}

// ---------------------------------------------------------------------------------------

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let s = settings(&args);
    let sections: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted =
        |name: &str| sections.is_empty() || sections.iter().any(|f| name.contains(f.as_str()));
    progress(&format!(
        "{} setting{}",
        s.name,
        if cfg!(debug_assertions) {
            " (debug assertions on: not an optimised build, figures are indicative only)"
        } else {
            ""
        }
    ));
    let started = Instant::now();
    let mut report = Report::default();
    if wanted("record_check") {
        bench_record_check(s, &mut report);
    }
    if wanted("large_store") {
        bench_large_store(s, &mut report);
    }
    report.print(s);
    println!("Total run time {:.1} s.", started.elapsed().as_secs_f64());
}

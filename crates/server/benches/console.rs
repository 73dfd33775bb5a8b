//! Console benchmark: the day view and the district's daily PDF over a large district. A
//! report, not a gate: it prints each figure next to its target.
//!
//! `cargo bench -p rounds-server --bench console` runs the sizes (150 schools, 600
//! shifts, 100,000 checks on one day); under `cargo test --all-targets` (no `--bench` flag) or
//! with `ROUNDS_BENCH=quick` it runs small sizes so CI exercises the code.
//!
//! The data is made with the core's document functions (the same changes a phone makes, one
//! automerge change per check) and committed straight into storage with the sync projection.
//! The server runs in this process on a loopback port with a fixed clock (the evening of the
//! day); figures are wall time of real HTTP requests signed in as the district administrator
//! (median and worst of several), and, separately, of the console's server-side work alone
//! (queries, rounds, HTML or PDF) without HTTP. `ROUNDS_BENCH_PDF=<file>` keeps the district
//! PDF to look at.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs,
    reason = "a benchmark program: prints its report and reads the real clock"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::Automerge;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rounds_core::document::{self, Header};
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::*;
use rounds_server::console::reports;
use rounds_server::console::{Locale, When, day, pdf};
use rounds_server::storage::{Commit, PersonRecord, SqliteStorage, Storage};
use rounds_server::{AppState, auth};
use uuid::Uuid;

struct Sizes {
    schools: usize,
    shifts: usize,
    checks: usize,
    incidents_per_school: usize,
    runs: usize,
}

const DEEP: Sizes = Sizes {
    schools: 150,
    shifts: 600,
    checks: 100_000,
    incidents_per_school: 2,
    runs: 7,
};
const QUICK: Sizes = Sizes {
    schools: 6,
    shifts: 24,
    checks: 2_400,
    incidents_per_school: 2,
    runs: 3,
};

const CHECKPOINTS: u32 = 6;
const ADMIN: Uuid = Uuid::from_u128(0xAD);
const PASSWORD: &str = "bench-pass-1";

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
}

fn t(h: u32, m: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date().and_hms_opt(h, 0, 0).unwrap()) + chrono::Duration::minutes(m)
}

fn school(i: usize) -> Uuid {
    Uuid::from_u128(0x5C00_0000 + i as u128)
}
fn post(i: usize) -> Uuid {
    Uuid::from_u128(0x9057_0000_0000 + ((i as u128) << 16))
}
fn checkpoint(p: Uuid, n: u32) -> Uuid {
    Uuid::from_u128(p.as_u128() + u128::from(n))
}
fn guard(i: usize) -> Uuid {
    Uuid::from_u128(0x6A00_0000 + i as u128)
}

fn district(st: &dyn Storage, s: &Sizes) {
    for i in 0..s.schools {
        st.put_school(&School {
            id: school(i),
            name: format!("School {i:03}"),
        })
        .unwrap();
        st.put_post(&Post {
            id: post(i),
            school_id: school(i),
            name: format!("Post {i:03}"),
            orders: "Walk the round every hour.".into(),
        })
        .unwrap();
        for n in 1..=CHECKPOINTS {
            st.put_checkpoint(&Checkpoint {
                id: checkpoint(post(i), n),
                post_id: post(i),
                name: format!("Checkpoint {n}"),
                tag_code: format!("T{i}-{n}"),
                position: n,
                schedule: Schedule {
                    first_due_minutes: 0,
                    interval_minutes: 60,
                    grace_minutes: 10,
                },
            })
            .unwrap();
        }
        st.put_person(&PersonRecord {
            id: guard(i),
            username: format!("guard{i}"),
            name: format!("Guard {i:03}"),
            role: Role::Guard,
            schools: vec![school(i)],
            password_hash: "none".into(),
            active: true,
        })
        .unwrap();
    }
    st.put_person(&PersonRecord {
        id: ADMIN,
        username: "admin".into(),
        name: "Bench Admin".into(),
        role: Role::Admin,
        schools: vec![],
        password_hash: auth::hash_password(PASSWORD, &mut SeededEntropy::new(1)),
        active: true,
    })
    .unwrap();
}

fn header(id: Uuid, kind: DocKind, school: Uuid, author: Uuid, at: DateTime<Utc>) -> Header {
    Header {
        id,
        kind,
        school_id: school,
        author_id: author,
        device_id: Uuid::from_u128(0xDE00_0000 + (author.as_u128() & 0xFFFF)),
        created_at: at,
        classification: match kind {
            DocKind::Shift => Classification::Internal,
            DocKind::Incident => Classification::Confidential,
            DocKind::ContactNote => Classification::RestrictedLawEnforcement,
        },
    }
}

/// Shift `n`: 8 hours at school `n % schools`, checks spread over it (round robin over the
/// checkpoints, some late, one in fifty finding a hazard).
fn shift_doc(n: usize, s: &Sizes, checks: usize) -> (Header, Automerge) {
    let i = n % s.schools;
    let morning = (n / s.schools).is_multiple_of(2);
    let start = t(if morning { 6 } else { 14 }, 0);
    let author = guard(i);
    let h = header(
        Uuid::from_u128(0x2_0000_0000 + n as u128),
        DocKind::Shift,
        school(i),
        author,
        start,
    );
    let mut am = document::create(&h, author, "start_shift", |tx| {
        document::init_shift(tx, post(i), start)
    })
    .unwrap();
    let step = (8 * 60 * 60) / checks.max(1) as i64; // seconds between checks
    for k in 0..checks {
        let hazard = k % 50 == 49;
        let c = CheckInput {
            id: Uuid::from_u128(((n as u128) << 32) | k as u128),
            checkpoint_id: checkpoint(post(i), 1 + (k as u32 % CHECKPOINTS)),
            method: CheckMethod::Tag,
            result: if hazard {
                CheckResult::Hazard
            } else {
                CheckResult::AllClear
            },
            note: if hazard {
                "Wet floor by the stairs".into()
            } else {
                String::new()
            },
            photos: vec![],
            at: start + chrono::Duration::seconds(step * k as i64),
        };
        document::change(&mut am, c.at, author, "record_check", |tx| {
            document::append_check(tx, &c, author)
        })
        .unwrap();
    }
    let end = start + chrono::Duration::hours(8);
    document::change(&mut am, end, author, "end_shift", |tx| {
        document::end_shift(tx, end)
    })
    .unwrap();
    (h, am)
}

fn incident_doc(n: usize, s: &Sizes) -> (Header, Automerge) {
    let i = n % s.schools;
    let at = t(9, n as i64 % 300);
    let h = header(
        Uuid::from_u128(0x1_0000_0000 + n as u128),
        DocKind::Incident,
        school(i),
        guard(i),
        at,
    );
    let input = IncidentInput {
        id: h.id,
        school_id: school(i),
        incident_type: IncidentType::ALL[n % IncidentType::ALL.len()],
        location: "Main building".into(),
        occurred_at: at,
        people: vec![],
        narrative: "A short narrative of what happened.".into(),
        actions: "Reported to the office.".into(),
        photos: vec![],
    };
    let am = document::create(&h, guard(i), "create_incident", |tx| {
        document::init_incident(tx, &input, at)
    })
    .unwrap();
    (h, am)
}

fn commit_of(h: Header, am: &Automerge) -> Commit {
    Commit {
        projection: rounds_server::sync::project(&h, am).unwrap(),
        changes: am
            .get_changes(&[])
            .iter()
            .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
            .collect(),
        header: h,
        expected_version: None,
        at: Utc::now(),
        signatures: vec![],
    }
}

fn records(st: &dyn Storage, s: &Sizes) {
    let per_shift = s.checks / s.shifts;
    let mut batch = Vec::new();
    for n in 0..s.shifts {
        let (h, am) = shift_doc(n, s, per_shift);
        batch.push(commit_of(h, &am));
        if batch.len() == 25 {
            st.commit_all(&batch).unwrap();
            batch.clear();
        }
    }
    for n in 0..s.schools * s.incidents_per_school {
        let (h, am) = incident_doc(n, s);
        batch.push(commit_of(h, &am));
    }
    st.commit_all(&batch).unwrap();
}

fn line(name: &str, target: &str, ok: Option<bool>, figure: &str) {
    let verdict = match ok {
        Some(true) => "ok",
        Some(false) => "SLOW",
        None => "",
    };
    println!("{name:<44} {target:<10} {verdict:<6} {figure}");
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() - 1]))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deep = match std::env::var("ROUNDS_BENCH").as_deref() {
        Ok("quick") => false,
        Ok("deep") => true,
        _ => args.iter().any(|a| a == "--bench"),
    };
    let s = if deep { DEEP } else { QUICK };
    println!(
        "rounds-server console benchmark ({} setting: {} schools, {} shifts, {} checks)",
        if deep { "deep" } else { "quick" },
        s.schools,
        s.shifts,
        s.checks
    );
    println!("{:<44} {:<10} {:<6} figure", "measure", "target", "");
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let setup = Instant::now();
    district(storage.as_ref(), &s);
    records(storage.as_ref(), &s);
    line(
        "set-up (documents made and committed)",
        "",
        None,
        &format!("{:.1} s", setup.elapsed().as_secs_f64()),
    );

    // Server-side work alone.
    let st: &dyn Storage = storage.as_ref();
    let admin = st.person(ADMIN).unwrap().unwrap();
    let v = auth::viewer(&admin);
    let now = t(23, 0);
    let when = When {
        tz: Tz::UTC,
        locale: Locale::EnUs,
    };
    let mut work = Vec::new();
    let mut shifts = 0;
    let mut html_len = 0;
    for _ in 0..s.runs {
        let t0 = Instant::now();
        // What the page's handler runs: the loader (with its count of incidents waiting for
        // review) and the renderer.
        let view = day::load_view(st, &v, date(), None, Tz::UTC, now).unwrap();
        let html = day::render(&view, when, now);
        work.push(t0.elapsed());
        shifts = view.days.iter().map(|d| d.shifts.len()).sum::<usize>();
        html_len = html.len();
    }
    assert_eq!(shifts, s.shifts, "every shift of the day is on the page");
    let (med, max) = stats(work);
    line(
        "day view, district: server work",
        "≤ 500 ms",
        Some(max <= 500.0),
        &format!(
            "median {med:.0} ms, worst {max:.0} ms ({shifts} shifts, {} KiB of HTML)",
            html_len / 1024
        ),
    );
    let mut work = Vec::new();
    for _ in 0..s.runs.min(3) {
        let t0 = Instant::now();
        let reference = st.reference_for(&v).unwrap();
        let schools = rounds_server::console::params::visible_schools(&reference, None).unwrap();
        let days = day::load_day(st, &v, &reference, &schools, date(), Tz::UTC, now, true).unwrap();
        let view = day::DayView {
            reference,
            date: date(),
            school: None,
            days,
            awaiting: None,
        };
        day::render(&view, when, now);
        work.push(t0.elapsed());
    }
    let (med, max) = stats(work);
    line(
        "day view, district, reading every document",
        "",
        None,
        &format!("median {med:.0} ms, worst {max:.0} ms (what photo counts would cost)"),
    );
    let t0 = Instant::now();
    let fonts =
        Arc::new(pdf::ReportFonts::load(std::path::Path::new(pdf::DEFAULT_FONT_DIR)).unwrap());
    line(
        "report fonts loaded (once, at server start)",
        "",
        None,
        &format!("{:.0} ms", t0.elapsed().as_secs_f64() * 1000.0),
    );
    let mut work = Vec::new();
    let mut pdf_len = 0;
    for _ in 0..s.runs {
        let t0 = Instant::now();
        let reference = st.reference_for(&v).unwrap();
        let r = reports::build(st, &v, &reference, None, date(), when, now).unwrap();
        let pdf = reports::to_pdf(&r, &fonts).unwrap();
        work.push(t0.elapsed());
        pdf_len = pdf.len();
        if let Ok(path) = std::env::var("ROUNDS_BENCH_PDF") {
            std::fs::write(path, &pdf).unwrap();
        }
    }
    let (med, max) = stats(work);
    line(
        "district PDF: server work",
        "≤ 5 s",
        Some(max <= 5000.0),
        &format!("median {med:.0} ms, worst {max:.0} ms"),
    );
    line(
        "district PDF: file size (fonts embedded)",
        "≤ 2 MB",
        Some(pdf_len <= 2 * 1024 * 1024),
        &format!("{} KiB", pdf_len / 1024),
    );

    // Over HTTP, as a browser gets them.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let dyn_st: Arc<dyn Storage> = storage.clone();
    let server_fonts = fonts.clone();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let state =
                AppState::with_clock(dyn_st, Arc::new(move || now)).with_fonts(server_fonts);
            rounds_server::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
    });
    let base = format!("http://{}", addr_rx.recv().unwrap());
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let login = http
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=admin&password={PASSWORD}"))
        .send()
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let timed = |path: &str| -> (f64, f64, usize) {
        let mut times = Vec::new();
        let mut len = 0;
        for _ in 0..s.runs {
            let t0 = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            len = r.bytes().unwrap().len();
            times.push(t0.elapsed());
        }
        let (a, b) = stats(times);
        (a, b, len)
    };
    let (med, max, len) = timed(&format!("/console/day?date={}", date()));
    line(
        "day view, district: HTTP request",
        "≤ 500 ms",
        Some(max <= 500.0),
        &format!("median {med:.0} ms, worst {max:.0} ms ({} KiB)", len / 1024),
    );
    let (med, max, _) = timed(&format!(
        "/console/day?date={}&school={}",
        date(),
        school(0)
    ));
    line(
        "day view, one school with its rounds: HTTP",
        "",
        None,
        &format!("median {med:.0} ms, worst {max:.0} ms"),
    );
    let (med, max, len) = timed(&format!("/console/reports/daily.pdf?date={}", date()));
    line(
        "district PDF: HTTP request",
        "≤ 5 s",
        Some(max <= 5000.0),
        &format!("median {med:.0} ms, worst {max:.0} ms ({} KiB)", len / 1024),
    );
    let (med, max, _) = timed(&format!("/console/reports/daily.csv?date={}", date()));
    line(
        "district CSV: HTTP request",
        "",
        None,
        &format!("median {med:.0} ms, worst {max:.0} ms"),
    );
    let _ = tx.send(());
    server.join().unwrap();
}

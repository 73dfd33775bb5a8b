//! A small demo of a guard's phone: sets up an encrypted device store, walks a guard's round
//! (a few checks, one problem) and prints the shift the way the app's round screen will show
//! it.
//!
//! `cargo run -p rounds-core --example demo [DATA_DIR] [--server URL --code CODE]`
//! (default `./demo-data`). With `--server`, the phone enrolls with the district server using
//! the one-time code, signs Gia Guard in, takes its posts and checkpoints from the server and
//! syncs the shift to it; without, it works alone with a built-in district. Run it again to
//! unlock the same store and walk another round.

#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "an edge program: prints for the user and reads the real clock and ids"
)]

use std::path::PathBuf;

use chrono::{Duration, Utc};
use rounds_core::client::{self, Enrollment, HttpTransport, Session};
use rounds_core::entropy::OsEntropy;
use rounds_core::keyslots::{KdfParams, Secret};
use rounds_core::model::*;
use rounds_core::round::VisitStatus;
use rounds_core::signing::SigningSecret;
use rounds_core::store::{NewShift, Setup, Store};
use uuid::Uuid;

const GUARD: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0100);
const SRO: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0200);
const SCHOOL: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_000a);
const POST: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00a1);
const PIN: &str = "2468013579";

fn district() -> ReferenceData {
    let checkpoint = |n: u32, name: &str| Checkpoint {
        id: Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0c00 + u128::from(n)),
        post_id: POST,
        name: name.into(),
        tag_code: format!("LHS-{n:02}"),
        position: n,
        schedule: Schedule {
            first_due_minutes: 0,
            interval_minutes: 60,
            grace_minutes: 10,
        },
    };
    ReferenceData {
        schools: vec![School {
            id: SCHOOL,
            name: "Lincoln High School".into(),
        }],
        posts: vec![Post {
            id: POST,
            school_id: SCHOOL,
            name: "Lincoln main building, day".into(),
            orders: "Walk the round every hour. Report any unsecured exterior door at once.".into(),
        }],
        checkpoints: vec![
            checkpoint(1, "Main entrance"),
            checkpoint(2, "Gym east doors"),
            checkpoint(3, "Boiler room (basement)"),
            checkpoint(4, "Stairwell C roof access"),
            checkpoint(5, "Cafeteria loading dock"),
        ],
        people: vec![
            Person {
                id: GUARD,
                name: "Gia Guard".into(),
                role: Role::Guard,
                schools: vec![SCHOOL],
            },
            Person {
                id: SRO,
                name: "Sam Officer".into(),
                role: Role::Sro,
                schools: vec![SCHOOL],
            },
        ],
    }
}

/// Command-line options.
struct Options {
    dir: PathBuf,
    server: Option<String>,
    code: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        dir: PathBuf::from("demo-data"),
        server: None,
        code: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--server" => o.server = args.next(),
            "--code" => o.code = args.next(),
            other => o.dir = PathBuf::from(other),
        }
    }
    o
}

fn sync(store: &mut Store, server: &str) -> Result<(), Box<dyn std::error::Error>> {
    let Some(session) = store.sync_value("session")? else {
        println!("This store was set up without a server; delete its folder to enroll it.");
        return Ok(());
    };
    let session: Session = serde_json::from_str(&session)?;
    let mut t = HttpTransport::new(server, &session.token)?;
    match client::sync_now(store, &mut t, Utc::now()) {
        Ok(r) => println!(
            "Synced with {server}: {} changes sent, {} received{}.",
            r.pushed,
            r.pulled,
            if r.reference_updated {
                ", posts and checkpoints updated"
            } else {
                ""
            }
        ),
        Err(problem) => println!("Sync did not finish: {problem}"),
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = options();
    let dir = opts.dir.clone();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("device.db");
    let now = Utc::now();
    let secret = Secret::new(PIN);
    let mut store = if path.exists() {
        println!("Unlocking {} as Gia Guard (PIN {PIN})", path.display());
        Store::open(&path, GUARD, &secret)?
    } else if let Some(server) = &opts.server {
        let code = opts
            .code
            .as_deref()
            .ok_or("--server needs --code (an enrollment code)")?;
        let enrollment: Enrollment = client::enroll(server, code, "Demo post phone")?;
        let signing = SigningSecret::generate(&mut OsEntropy);
        let session = client::sign_in(
            server,
            "gia.guard",
            "guard-pass-1",
            &enrollment,
            &signing.public(),
        )?;
        println!(
            "Enrolled with {server} as device {}; Gia Guard signed in.",
            enrollment.device_id
        );
        println!("Setting up a new encrypted store at {}", path.display());
        let mut s = Store::create(
            &path,
            Setup {
                device_id: enrollment.device_id,
                person_id: session.person_id,
                secret: &secret,
                kdf: KdfParams::DEFAULT,
                signing: &signing,
            },
            &mut OsEntropy,
        )?;
        s.set_sync_value("device", &serde_json::to_string(&enrollment)?)?;
        s.set_sync_value("session", &serde_json::to_string(&session)?)?;
        sync(&mut s, server)?;
        s
    } else {
        println!(
            "Setting up a new encrypted store at {} (no server: a built-in district)",
            path.display()
        );
        let mut s = Store::create(
            &path,
            Setup {
                device_id: Uuid::now_v7(),
                person_id: GUARD,
                secret: &secret,
                kdf: KdfParams::DEFAULT,
                signing: &SigningSecret::generate(&mut OsEntropy),
            },
            &mut OsEntropy,
        )?;
        s.replace_reference_data(&district())?;
        s
    };
    if let Some(open) = store.current_shift(now)? {
        store.end_shift(open.id, now)?;
    }

    // A shift that started 90 minutes ago: the first visit of every checkpoint is in the past.
    let start = now - Duration::minutes(90);
    let shift = Uuid::now_v7();
    store.start_shift(&NewShift {
        id: shift,
        post_id: POST,
        started_at: start,
    })?;
    let checkpoints = store.checkpoints(POST)?;
    for (i, cp) in checkpoints.iter().enumerate().take(4) {
        let problem = i == 2;
        store.record_check(
            shift,
            &CheckInput {
                id: Uuid::now_v7(),
                checkpoint_id: cp.id,
                method: if i == 3 {
                    CheckMethod::Manual
                } else {
                    CheckMethod::Tag
                },
                result: if problem {
                    CheckResult::Hazard
                } else {
                    CheckResult::AllClear
                },
                note: if problem {
                    "Water on the floor by the boiler; custodian called".into()
                } else {
                    String::new()
                },
                photos: vec![],
                at: start + Duration::minutes(2 + 3 * i as i64),
            },
        )?;
    }
    let view = store
        .current_shift(now)?
        .ok_or("the shift just started is missing")?;
    println!(
        "\nShift at {} (started {})",
        view.post.name,
        view.started_at.format("%H:%M")
    );
    println!("Post orders: {}\n", view.post.orders);
    for cp in &view.round {
        let first = &cp.visits[0];
        let label = |s: VisitStatus| match s {
            VisitStatus::Upcoming => "upcoming",
            VisitStatus::Due => "DUE",
            VisitStatus::Overdue => "OVERDUE",
            VisitStatus::Done => "done",
            VisitStatus::Late => "late",
            VisitStatus::Missed => "MISSED",
        };
        let visits: Vec<String> = cp
            .visits
            .iter()
            .map(|v| format!("{} {}", v.due_at.format("%H:%M"), label(v.status)))
            .collect();
        println!(
            "  {}. {:<26} [{}]  {}{}",
            cp.position,
            cp.name,
            cp.tag_code,
            visits.join(", "),
            first
                .checked_at
                .map(|t| format!("  (checked {})", t.format("%H:%M")))
                .unwrap_or_default()
        );
    }
    let s = view.summary;
    println!(
        "\n  {} on time, {} late, {} missed, {} due now",
        s.done, s.late, s.missed, s.due
    );
    for c in view
        .checks
        .iter()
        .filter(|c| c.check.result != CheckResult::AllClear)
    {
        println!(
            "  Issue at {}: {} — {}",
            c.check.at.format("%H:%M"),
            c.check.result,
            c.check.note
        );
    }
    if let Some(server) = &opts.server {
        sync(&mut store, server)?;
    }
    let backlog = store.backlog()?;
    println!(
        "\nEverything is saved on this device (encrypted). {} changes in {} record(s) wait to sync.",
        backlog.changes, backlog.documents
    );
    store.close()?;
    Ok(())
}

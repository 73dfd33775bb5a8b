//! `rounds-server migrate --from sqlite:… --to postgres://…` on a seeded district (the demo
//! plus a shift of 200 checks and 10 incidents from each of several phones, notes and a photo):
//! killed midway and run again, it ends with the same district on PostgreSQL, which the
//! console and the devices see as they saw it before. `ROUNDS_DEEP=1` seeds 40 phones
//! instead of 10.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use rounds_server::seed::ids;
use rounds_server::storage::DatabaseUrl;
use uuid::Uuid;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_rounds-server");

/// The console's pages as the cookie's person sees them (form tokens left out).
fn console_pages(base: &str, cookie: &str) -> BTreeMap<String, String> {
    let http = Client::new();
    [
        "/console/day?date=2026-11-30",
        "/console/incidents",
        "/console/notes",
        "/console/reports?date=2026-11-30",
        "/console/reports/daily.csv?date=2026-11-30",
    ]
    .iter()
    .map(|p| {
        let r = http
            .get(format!("{base}{p}"))
            .header("cookie", cookie)
            .send()
            .expect("page");
        assert_eq!(r.status(), StatusCode::OK, "{p}");
        let body = r.text().expect("body");
        let stripped: String = body
            .split(r#"name="csrf" value=""#)
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.to_string()
                } else {
                    part.split_once('"')
                        .map_or(String::new(), |(_, rest)| rest.to_string())
                }
            })
            .collect();
        // The reports page says when it was made, to the minute: a minute may pass between
        // the two reads.
        let stripped = match stripped
            .find("Made ")
            .and_then(|i| Some((i, stripped[i..].find(". Visits")?)))
        {
            Some((i, len)) => format!("{}{}", &stripped[..i], &stripped[i + len..]),
            None => stripped,
        };
        (p.to_string(), stripped)
    })
    .collect()
}

/// What a new phone of `who` receives from the server at `base`: each document's heads.
fn fresh_phone_view(base: &str, code: &str, who: &Login) -> BTreeMap<Uuid, Vec<[u8; 32]>> {
    let mut d = Device::enroll_at(base, code, who);
    d.sync().expect("a new phone syncs");
    d.store
        .document_ids()
        .expect("ids")
        .into_iter()
        .map(|id| {
            let mut h = d.store.heads(id).expect("heads");
            h.sort();
            (id, h)
        })
        .collect()
}

fn migrate(from: &Data, to: &str, resume: bool) -> std::process::Output {
    let mut c = Command::new(BIN);
    c.args([
        "migrate",
        "--from",
        &format!("sqlite:{}", from.path().display()),
    ])
    .args(["--to", to])
    .env("RUST_LOG", "error");
    if resume {
        c.arg("--resume");
    }
    c.output().expect("migrate")
}

#[test]
fn a_district_migrated_to_postgres_after_an_interruption_is_the_same_district() {
    let phones = if std::env::var("ROUNDS_DEEP").is_ok() {
        40
    } else {
        10
    };
    let source = Data::sqlite_in(tempfile::tempdir().expect("tempdir"));
    admin_cli(&source, &["seed-demo"]);
    let server = ServerProcess::start(&source, &[]);
    let guards = [&GIA, &GUS];
    let mut photo_hash = String::new();
    for i in 0..phones {
        let who = guards[i % 2];
        let mut d = enroll_with_cli(&server, &source, who);
        d.sync().expect("first sync");
        let post = if i % 2 == 0 {
            ids::LINCOLN_MAIN
        } else {
            ids::ADAMS_CAMPUS
        };
        let shift = shift_with_checks(&mut d, 0x9000 + i as u128, post, 200);
        if i == 0 {
            photo_hash = check_with_photo(&mut d, shift, post, &jpeg(9, 300_000));
        }
        d.store.end_shift(shift, at(480)).expect("end of shift");
        d.sync().expect("the shift goes up");
    }
    let mut olga = enroll_with_cli(&server, &source, &OLGA);
    olga.sync().expect("first sync");
    for k in 0..10 * phones as u128 {
        incident_at(&mut olga, 0xA000 + k, ids::LINCOLN, "Fence cut");
    }
    note_at(&mut olga, 0xB000, ids::LINCOLN, vec![ids::SUPERVISOR]);
    olga.sync().expect("the incidents and a note go up");
    let mut sam = enroll_with_cli(&server, &source, &SUPERVISOR);
    sam.sync().expect("the supervisor pulls everything");

    let cookie = console_cookie(&server.base, &SUPERVISOR);
    let before = console_pages(&server.base, &cookie);
    // Two codes issued before the move: one used now, one after.
    let code = |data: &Data| {
        admin_cli(data, &["enroll-code"])
            .split_whitespace()
            .next()
            .expect("code")
            .to_string()
    };
    let (code_now, code_later) = (code(&source), code(&source));
    let phone_before = fresh_phone_view(&server.base, &code_now, &SUPERVISOR);
    drop(server);

    let target = Data::postgres();
    let DatabaseUrl::Postgres(url) = target.url.clone() else {
        unreachable!("a PostgreSQL database")
    };

    // Killed midway through the changes.
    let mut first = Command::new(BIN)
        .args([
            "migrate",
            "--from",
            &format!("sqlite:{}", source.path().display()),
        ])
        .args(["--to", &url])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("migrate");
    let lines = std::io::BufReader::new(first.stderr.take().expect("stderr"));
    for line in lines.lines() {
        if line.expect("line").starts_with("changes: 1000 rows copied") {
            break;
        }
    }
    first.kill().expect("SIGKILL");
    first.wait().expect("reap");
    let partial = target.open();
    assert!(
        partial.document_count().expect("count") > 0,
        "the first run copied part of the district"
    );
    let stored_before_kill = source.open().max_seq().expect("seq");
    assert!(
        partial.max_seq().expect("seq") < stored_before_kill
            || partial.photo(&photo_hash).expect("photo").is_none(),
        "the first run was stopped before the end"
    );
    drop(partial);

    let refused = migrate(&source, &url, false);
    assert!(!refused.status.success(), "a non-empty target is refused");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--resume"),
        "and told how to continue: {}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let resumed = migrate(&source, &url, true);
    let said = String::from_utf8_lossy(&resumed.stdout).to_string();
    assert!(
        resumed.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(said.contains("verified"), "{said}");
    let again = migrate(&source, &url, true);
    let said = String::from_utf8_lossy(&again.stdout).to_string();
    assert!(again.status.success(), "{said}");
    assert!(
        said.contains("(0 new this run)") && said.contains("0 photos"),
        "a third run finds nothing to copy: {said}"
    );

    let st = target.open();
    assert_eq!(
        st.max_seq().expect("seq"),
        stored_before_kill,
        "every change, at its feed position"
    );
    assert_eq!(
        st.photo_bytes().read(&photo_hash).expect("read"),
        Some(jpeg(9, 300_000)),
        "the photo's bytes"
    );
    let (entries, head) =
        rounds_server::audit::verify_stored(source.open().as_ref()).expect("the source's trail");
    assert!(entries > 0, "the day left an audit trail");
    assert_eq!(
        rounds_server::audit::verify_stored(st.as_ref()).expect("the copied trail verifies"),
        (entries, head),
        "the audit trail, entry for entry"
    );
    drop(st);

    let pg = ServerProcess::start(&target, &[]);
    assert_eq!(
        console_pages(&pg.base, &cookie),
        before,
        "the console session carried over and its pages read the same"
    );
    sam.base = pg.base.clone();
    let report = sam
        .sync()
        .expect("the supervisor's phone syncs with the new server");
    assert_eq!(
        (report.pushed, report.pulled),
        (0, 0),
        "its cursor means the same there: nothing is new, nothing is sent twice"
    );
    let phone_after = fresh_phone_view(&pg.base, &code_later, &SUPERVISOR);
    assert_eq!(
        phone_after, phone_before,
        "a new phone receives the same documents at the same heads"
    );
    // And the district goes on: a new incident reaches the supervisor through the new server.
    olga.base = pg.base.clone();
    incident_at(&mut olga, 0xC000, ids::LINCOLN, "After the move");
    olga.sync().expect("push to the new server");
    let report = sam.sync().expect("pull from the new server");
    assert_eq!(
        report.pulled, 1,
        "the new incident, after every old position"
    );
    let (after, _) = rounds_server::audit::verify_stored(target.open().as_ref())
        .expect("the trail goes on from its last copied entry");
    assert!(after > entries, "the new server's entries chain on");
}

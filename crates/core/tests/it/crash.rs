//! A check the store said was saved survives the process being killed at any moment.
//!
//! The parent test runs this same test binary again as a child (`writer_child`), which records
//! checks in a loop and prints each id once `record_check` has returned `Ok`. The parent kills
//! it with SIGKILL after a random delay, then reopens the store, runs `PRAGMA integrity_check`
//! and looks for every printed id. `ROUNDS_DEEP=1` runs 500 kills instead of 50.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use rounds_core::entropy::SeededEntropy;
use rounds_core::store::{NewShift, Store};
use uuid::Uuid;

use crate::support::*;

const CHILD_DB: &str = "ROUNDS_CRASH_DB";

#[test]
fn checks_survive_sigkill_at_random_moments() {
    let kills: u64 = if std::env::var("ROUNDS_DEEP").is_ok() {
        500
    } else {
        50
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crash.db");
    store_for(dir.path(), "crash.db", 1, GUARD)
        .close()
        .expect("create");
    let mut rng = SeededEntropy::new(0xC4A5);
    let mut acked: HashSet<Uuid> = HashSet::new();
    let exe = std::env::current_exe().expect("test binary");
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .args([
                "crash::writer_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("saved ") {
                    ids.push(id.parse::<Uuid>().expect("id"));
                }
            }
            ids
        });
        // Anywhere from during start-up and unlock to well into the writes.
        let delay = 5 + rng.next_u64() % 250;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        acked.extend(reader.join().expect("reader"));

        let store = Store::open(&path, GUARD, &secret_of(GUARD))
            .unwrap_or_else(|e| panic!("round {round}: store does not open after the kill: {e}"));
        store
            .integrity_check()
            .unwrap_or_else(|e| panic!("round {round}: integrity check failed: {e}"));
        let mut present = HashSet::new();
        for s in store.shifts(100_000).expect("shifts") {
            present.extend(
                store
                    .shift(s.id, at(0))
                    .expect("shift")
                    .checks
                    .iter()
                    .map(|c| c.check.id),
            );
        }
        let lost: Vec<_> = acked.difference(&present).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} saved checks were lost: {lost:?}",
            lost.len()
        );
        drop(store);
    }
    assert!(
        acked.len() as u64 > kills,
        "the children did record checks ({})",
        acked.len()
    );
}

/// The child: records checks until it is killed. Only runs when the parent asks for it.
#[test]
#[ignore = "run by checks_survive_sigkill_at_random_moments as a child process"]
fn writer_child() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let mut store = Store::open(path.as_ref(), GUARD, &secret_of(GUARD)).expect("open");
    let pid = u128::from(std::process::id());
    let mut out = std::io::stdout().lock();
    for n in 0u128.. {
        let shift = match store.current_shift(at(0)).expect("current") {
            Some(s) if s.checks.len() < 200 => s.id,
            Some(s) => {
                store.end_shift(s.id, at(1)).expect("end");
                continue;
            }
            None => {
                let id = Uuid::from_u128((pid << 64) | (1 << 63) | n);
                store
                    .start_shift(&NewShift {
                        id,
                        post_id: POST_A,
                        started_at: at(0),
                    })
                    .expect("start");
                id
            }
        };
        let check = clear_check((pid << 64) | n, 1 + n % 4, 1);
        store.record_check(shift, &check).expect("record");
        writeln!(out, "saved {}", check.id).expect("print");
        out.flush().expect("flush");
    }
}

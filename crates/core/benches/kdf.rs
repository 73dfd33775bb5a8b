//! What one guess at a device secret costs: Argon2id timed on this machine, and the secret
//! policy that follows from it (see `docs/performance.md`, "KDF and secret policy").
//!
//! - `cargo bench -p rounds-core --bench kdf` (release build), or
//!   `cargo test --workspace --bench kdf` (test profile: the argon2 crate is still built at
//!   opt-level 2, see the workspace `Cargo.toml`); the binary prints which it was.
//! - `ROUNDS_KDF_RUNS=<n>` sets the timed derivations per parameter set (default 7).
//!
//! For each parameter set it prints one derivation's wall time and, on Linux, its **on-CPU
//! time** (from `/proc/thread-self/schedstat`): `parallelism` is 1, so a guess runs on one
//! core, and the on-CPU time is its cost in core-seconds even when other work on the machine
//! makes the thread wait for a core (which inflates wall time on a shared machine). Then, for [`KdfParams::DEFAULT`], the time of
//! a whole unlock (load the slots file, count the attempt, derive, open the slot, reset the
//! count) and the cost of searching the smallest secret the policy accepts.

// A benchmark binary: it reports on stdout and stops at the first failed setup step.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::{Duration, Instant};

use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{
    self, DbKey, KdfParams, KeySlots, Lockout, MIN_SEARCH_CORE_SECONDS, MIN_SECRET_BITS, Secret,
    SecretPolicy,
};
use uuid::Uuid;

const CORE_SECONDS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// This thread's time on a CPU so far (Linux: the first field of schedstat, in ns).
fn on_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(
        s.split_whitespace().next()?.parse().ok()?,
    ))
}

struct Timing {
    wall_median: Duration,
    wall_min: Duration,
    cpu_median: Option<Duration>,
    cpu_min: Option<Duration>,
}

fn time_derive(kdf: KdfParams, runs: usize) -> Timing {
    let secret = Secret::new("correct horse 42");
    let salt = [7u8; 16];
    kdf.derive(&secret, &salt).unwrap(); // warm-up: page in the memory once
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (t, c) = (Instant::now(), on_cpu());
        std::hint::black_box(kdf.derive(&secret, &salt).unwrap());
        wall.push(t.elapsed());
        if let (Some(c0), Some(c1)) = (c, on_cpu()) {
            cpu.push(c1 - c0);
        }
    }
    let (cpu_min, cpu_median) = if cpu.len() == runs {
        (cpu.iter().min().copied(), Some(median(cpu)))
    } else {
        (None, None)
    };
    Timing {
        wall_min: *wall.iter().min().unwrap(),
        wall_median: median(wall),
        cpu_median,
        cpu_min,
    }
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or("n/a".into(), |d| format!("{:.1} ms", ms(d)))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs: usize = std::env::var("ROUNDS_KDF_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let profile = if cfg!(debug_assertions) {
        "test/dev profile (argon2 at opt-level 2)"
    } else {
        "release"
    };
    println!("# Argon2id per guess, {runs} runs each, {profile}");
    println!();
    println!("| memory | passes | lanes | wall median | wall min | on-CPU median | on-CPU min |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let candidates = [
        (32 * 1024, 2),
        (64 * 1024, 4),
        (128 * 1024, 4),
        (KdfParams::DEFAULT.memory_kib, KdfParams::DEFAULT.iterations),
    ];
    // The attacker's figure is the cheapest derivation seen, not the median: on-CPU time
    // where the platform gives it, wall time otherwise.
    let mut default_cost = Duration::ZERO;
    for (memory_kib, iterations) in candidates {
        let kdf = KdfParams {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        let t = time_derive(kdf, runs);
        if kdf == KdfParams::DEFAULT {
            default_cost = t.cpu_min.unwrap_or(t.wall_min);
        }
        println!(
            "| {} MiB | {iterations} | 1 | {:.1} ms | {:.1} ms | {} | {} |{}",
            memory_kib / 1024,
            ms(t.wall_median),
            ms(t.wall_min),
            opt_ms(t.cpu_median),
            opt_ms(t.cpu_min),
            if kdf == KdfParams::DEFAULT {
                " ← DEFAULT"
            } else {
                ""
            }
        );
    }

    // A whole unlock with the default parameters, as the app does it.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("device.db");
    let path = keyslots::path_for(&db);
    let mut e = SeededEntropy::new(1);
    let key = DbKey::generate(&mut e);
    let person = Uuid::from_u128(1);
    let secret = Secret::new("gate-4b-kestrel-2468");
    let mut lockout = Lockout::for_store(&db, &mut e).unwrap();
    let mut slots = KeySlots::new(Uuid::from_u128(9));
    slots
        .add(person, &secret, &key, KdfParams::DEFAULT, &lockout, &mut e)
        .unwrap();
    slots.save(&path).unwrap();
    let unlocks: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            let mut s = KeySlots::load(&path).unwrap();
            s.unlock(&path, person, &secret, &mut lockout, Instant::now())
                .unwrap();
            t.elapsed()
        })
        .collect();
    let unlock = median(unlocks);

    let c = default_cost.as_secs_f64();
    let policy = SecretPolicy::current();
    println!();
    println!("# Policy");
    println!();
    println!(
        "- one guess with DEFAULT ({} MiB, {} passes, 1 lane), cheapest of the runs: {:.1} ms of one core",
        KdfParams::DEFAULT.memory_kib / 1024,
        KdfParams::DEFAULT.iterations,
        c * 1e3
    );
    println!(
        "- a whole unlock (load, count, derive, open, reset): {:.1} ms median",
        ms(unlock)
    );
    println!(
        "- 100 core-years = {MIN_SEARCH_CORE_SECONDS:.3e} core-seconds → at least {:.2e} guesses \
         → {:.2} bits; the policy asks for MIN_SECRET_BITS = {MIN_SECRET_BITS}",
        MIN_SEARCH_CORE_SECONDS / c,
        (MIN_SEARCH_CORE_SECONDS / c).log2()
    );
    for (what, alphabet, len) in [
        ("digits only", 10u32, policy.min_digits),
        ("letters (one case)", 26, policy.min_with_letters),
        ("letters and digits", 36, policy.min_with_letters),
        ("upper, lower and digits", 62, policy.min_with_letters),
    ] {
        let space = f64::from(alphabet).powi(len as i32);
        println!(
            "- shortest accepted, {what}: {len} characters = {space:.2e} secrets = {:.0} core-years \
             to search them all ({:.0} on average)",
            space * c / CORE_SECONDS_PER_YEAR,
            space * c / CORE_SECONDS_PER_YEAR / 2.0
        );
    }
    let six = 1e6 * c;
    println!(
        "- for comparison, a 6-digit PIN: {:.1} core-hours to search all of it",
        six / 3600.0
    );
}

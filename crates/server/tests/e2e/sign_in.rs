//! Sign-in hardening against the real `rounds-server` binary over real HTTP: a flood of
//! sign-ins (throttled, memory flat, the right password working again after the window),
//! unknown and known names taking the same time, parallel bursts of guesses counted before
//! any hashing on the app's and the console's doors and across two server processes on one
//! database, enrollment codes throttled per network, and sessions ending when a password
//! changes or a person is deactivated.
//!
//! Each server here gets a short throttle window (`ROUNDS_SIGN_IN_WINDOW_SECONDS`, the
//! environment form of `--sign-in-window-seconds`) where the test waits it out, and two hash
//! slots (`ROUNDS_HASH_SLOTS=2`, as on the 2-core CI machine).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use rounds_core::client::SyncProblem;
use rounds_server::seed::ids;

use crate::support::*;

/// The tests here time answers and load the machine with floods: they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const WINDOW: &str = "ROUNDS_SIGN_IN_WINDOW_SECONDS";
const SLOTS: &str = "ROUNDS_HASH_SLOTS";

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    token: Option<String>,
    cookie: Option<String>,
    took: Duration,
}

fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn answer(r: reqwest::blocking::Response, started: Instant) -> Answer {
    let status = r.status();
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_string);
    let body: serde_json::Value = r.json().unwrap_or_default();
    Answer {
        status,
        retry_after,
        token: body["token"].as_str().map(str::to_string),
        cookie,
        took: started.elapsed(),
    }
}

/// `POST /v1/sessions` without a device (an API session).
fn api_sign_in(http: &Client, base: &str, username: &str, password: &str) -> Answer {
    let started = Instant::now();
    let r = http
        .post(format!("{base}/v1/sessions"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .expect("sign in");
    answer(r, started)
}

/// `POST /console/login` as the console's own form sends it.
fn console_sign_in(http: &Client, base: &str, username: &str, password: &str) -> Answer {
    let started = Instant::now();
    let body = format!(
        "username={}&password={}",
        rounds_server::console::html::url_param(username),
        rounds_server::console::html::url_param(password)
    );
    let r = http
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", base)
        .body(body)
        .send()
        .expect("console sign in");
    answer(r, started)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn count(statuses: &[StatusCode], s: StatusCode) -> usize {
    statuses.iter().filter(|x| **x == s).count()
}

#[test]
fn a_flood_of_sign_ins_is_turned_away_quickly_with_flat_memory_and_the_right_password_works_after_the_window()
 {
    let _serial = one_at_a_time();
    const WINDOW_S: u64 = 8;
    let data = seeded_district();
    let window = WINDOW_S.to_string();
    let server = ServerProcess::start(&data, &[(WINDOW, &window), (SLOTS, "2")]);
    let client = http();
    // One sign-in first, so the baseline includes a hash slot's memory in use once.
    let first = api_sign_in(&client, &server.base, GUS.username, GUS.password);
    assert_eq!(first.status, StatusCode::OK);
    let before = server.peak_rss_kib();

    // 500 sign-ins from 50 clients at once: half guessing Gia's password, half unknown names.
    let started = Instant::now();
    let workers: Vec<_> = (0..50)
        .map(|w| {
            let base = server.base.clone();
            std::thread::spawn(move || {
                let client = http();
                (0..10)
                    .map(|i| {
                        let n = w * 10 + i;
                        let a = if n % 2 == 0 {
                            api_sign_in(&client, &base, GIA.username, &format!("guess-{n}"))
                        } else {
                            api_sign_in(&client, &base, &format!("intruder{n}"), "guess")
                        };
                        a.status
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let statuses: Vec<StatusCode> = workers
        .into_iter()
        .flat_map(|h| h.join().expect("worker"))
        .collect();
    let flood_took = started.elapsed();
    let after = server.peak_rss_kib();
    let (refused, busy, wrong) = (
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        count(&statuses, StatusCode::SERVICE_UNAVAILABLE),
        count(&statuses, StatusCode::UNAUTHORIZED),
    );
    eprintln!(
        "flood of 500: {refused} × 429, {busy} × 503, {wrong} × 401 in {flood_took:?}; \
         server VmHWM {before} KiB before, {after} KiB after (+{} KiB)",
        after.saturating_sub(before)
    );
    assert_eq!(
        refused + busy + wrong,
        500,
        "every answer is 429, 503 or 401, never a 500: {statuses:?}"
    );
    assert!(
        refused + busy >= 400,
        "most of the flood is turned away without hashing: {refused} × 429, {busy} × 503"
    );
    assert!(
        flood_took < Duration::from_secs(60),
        "turned away quickly: the flood took {flood_took:?}"
    );
    assert!(
        after.saturating_sub(before) < 3 * 19 * 1024,
        "memory stays flat: at most two hash slots of 19 MiB run at once, so the peak grows \
         by less than three (before {before} KiB, after {after} KiB)"
    );

    // Right after the flood even the right password waits (the network's counter is full) ...
    let locked = api_sign_in(&client, &server.base, GIA.username, GIA.password);
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let wait = locked.retry_after.expect("a 429 says when to try again");
    assert!(
        (1..=WINDOW_S).contains(&wait),
        "Retry-After is within the window: {wait}"
    );
    // ... and once the window has passed it works.
    std::thread::sleep(Duration::from_secs(WINDOW_S) + Duration::from_millis(500));
    let back = api_sign_in(&client, &server.base, GIA.username, GIA.password);
    assert_eq!(
        back.status,
        StatusCode::OK,
        "after the window the right password signs in"
    );
    assert!(back.token.is_some());
}

#[test]
fn unknown_and_known_names_take_the_same_time_on_both_doors() {
    let _serial = one_at_a_time();
    const TRIES: usize = 21;
    let known = [&GIA, &GUS, &OLGA, &OMAR, &SUPERVISOR, &ADMIN];
    for door in ["app", "console"] {
        // Up to three measurements, each the median of 21 interleaved tries: the machine is
        // shared, and a burst of someone else's work can skew one. Before the fix the unknown
        // name answered in 0.4 ms against 90 ms, which no measurement passes.
        let mut seen = Vec::new();
        for round in 0..3 {
            // A server per measurement: 21 tries of each kind are at most 4 wrong passwords per
            // known name (under the limit of 5) and 42 failures from this address (under 50).
            let data = seeded_district();
            let server = ServerProcess::start(&data, &[(SLOTS, "2")]);
            let client = http();
            let sign_in = |u: &str, p: &str| match door {
                "app" => api_sign_in(&client, &server.base, u, p),
                _ => console_sign_in(&client, &server.base, u, p),
            };
            let (mut k, mut u) = (Vec::new(), Vec::new());
            for i in 0..TRIES {
                let name = known[i % known.len()].username;
                let unknown = format!("nobody.{door}.{round}.{i}");
                let (a, b) = if i % 2 == 0 {
                    let a = sign_in(name, "not-the-password");
                    (a, sign_in(&unknown, "not-the-password"))
                } else {
                    let b = sign_in(&unknown, "not-the-password");
                    (sign_in(name, "not-the-password"), b)
                };
                assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{door}: {name}");
                assert_eq!(b.status, StatusCode::UNAUTHORIZED, "{door}: {unknown}");
                k.push(a.took);
                u.push(b.took);
            }
            let (k, u) = (median(k), median(u));
            let (lo, hi) = (k.min(u), k.max(u));
            eprintln!("{door}: known names {k:?}, unknown names {u:?} (median of {TRIES})");
            seen.push((k, u));
            if (hi - lo).as_secs_f64() <= 0.10 * hi.as_secs_f64() {
                break;
            }
        }
        let (k, u) = seen.last().copied().unwrap_or_default();
        let (lo, hi) = (k.min(u), k.max(u));
        assert!(
            (hi - lo).as_secs_f64() <= 0.10 * hi.as_secs_f64(),
            "{door}: an unknown name costs the same Argon2 work as a known one, so the answers \
             take the same time within 10%: known and unknown medians {seen:?}"
        );
    }
}

#[test]
fn a_parallel_burst_of_wrong_passwords_is_counted_before_hashing_on_both_doors_and_both_processes()
{
    let _serial = one_at_a_time();
    let data = seeded_district();
    // Two server processes on one database, as several processes on PostgreSQL will be.
    let a = ServerProcess::start(&data, &[(SLOTS, "2")]);
    let b = ServerProcess::start(&data, &[(SLOTS, "2")]);
    let bases = [a.base.clone(), b.base.clone()];
    for (door, who) in [("console", &SUPERVISOR), ("app", &GIA)] {
        let burst: Vec<_> = (0..25)
            .map(|i| {
                let base = bases[i % 2].clone();
                let username = who.username;
                std::thread::spawn(move || {
                    let client = http();
                    let guess = format!("guess-{i}");
                    match door {
                        "console" => console_sign_in(&client, &base, username, &guess).status,
                        _ => api_sign_in(&client, &base, username, &guess).status,
                    }
                })
            })
            .collect();
        let statuses: Vec<StatusCode> = burst
            .into_iter()
            .map(|h| h.join().expect("guess"))
            .collect();
        let checked = count(&statuses, StatusCode::UNAUTHORIZED);
        eprintln!("{door}: 25 parallel guesses: {statuses:?}");
        assert!(
            checked <= 5,
            "{door}: at most 5 of 25 parallel guesses get their password checked, across both \
             processes: {statuses:?}"
        );
        assert_eq!(
            checked
                + count(&statuses, StatusCode::TOO_MANY_REQUESTS)
                + count(&statuses, StatusCode::SERVICE_UNAVAILABLE),
            25,
            "{door}: the rest are 429 (or 503): {statuses:?}"
        );
        let client = http();
        for base in &bases {
            let right = match door {
                "console" => console_sign_in(&client, base, who.username, who.password),
                _ => api_sign_in(&client, base, who.username, who.password),
            };
            assert_eq!(
                right.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{door} at {base}: after the burst even the right password is refused"
            );
            assert!(
                right.retry_after.is_some_and(|s| s > 0),
                "{door}: and told when to try again"
            );
            assert!(right.token.is_none() && right.cookie.is_none());
        }
    }
    // Another name is not locked (the network has 10 failures of its 50).
    let client = http();
    assert_eq!(
        api_sign_in(&client, &b.base, OLGA.username, OLGA.password).status,
        StatusCode::OK
    );
}

#[test]
fn enrollment_codes_are_throttled_per_network() {
    let _serial = one_at_a_time();
    const WINDOW_S: u64 = 5;
    let data = seeded_district();
    let window = WINDOW_S.to_string();
    let server = ServerProcess::start(&data, &[(WINDOW, &window)]);
    let code = admin_cli(&data, &["enroll-code"]);
    let code = code.split_whitespace().next().expect("code").to_string();
    let burst: Vec<_> = (0..25)
        .map(|i| {
            let base = server.base.clone();
            std::thread::spawn(move || {
                http()
                    .post(format!("{base}/v1/enroll"))
                    .json(&serde_json::json!({ "code": format!("AAAA-BBBB-{i:04}"), "name": "guess" }))
                    .send()
                    .expect("enroll")
                    .status()
            })
        })
        .collect();
    let statuses: Vec<StatusCode> = burst
        .into_iter()
        .map(|h| h.join().expect("guess"))
        .collect();
    assert!(
        count(&statuses, StatusCode::FORBIDDEN) <= 10,
        "at most 10 wrong codes per network per window are looked up: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::FORBIDDEN) + count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        25,
        "{statuses:?}"
    );
    let r = http()
        .post(format!("{}/v1/enroll", server.base))
        .json(&serde_json::json!({ "code": code, "name": "real phone" }))
        .send()
        .expect("enroll");
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "while the network is throttled even a valid code waits"
    );
    assert!(r.headers().get("retry-after").is_some());
    std::thread::sleep(Duration::from_secs(WINDOW_S) + Duration::from_millis(500));
    let d = Device::enroll_at(&server.base, &code, &GIA);
    assert_ne!(
        d.enrollment.device_id,
        uuid::Uuid::nil(),
        "after the window it enrolls"
    );
}

#[test]
fn a_password_change_or_a_deactivation_ends_every_session_of_that_person() {
    let _serial = one_at_a_time();
    let data = seeded_district();
    let server = ServerProcess::start(&data, &[(SLOTS, "2")]);
    let client = http();
    let code = admin_cli(&data, &["enroll-code"]);
    let code = code.split_whitespace().next().expect("code").to_string();
    let mut phone = Device::enroll_at(&server.base, &code, &GIA);
    phone.sync().expect("the phone syncs");
    let admin = api_sign_in(&client, &server.base, ADMIN.username, ADMIN.password)
        .token
        .expect("admin token");
    let sam = console_sign_in(
        &client,
        &server.base,
        SUPERVISOR.username,
        SUPERVISOR.password,
    );
    assert_eq!(sam.status, StatusCode::SEE_OTHER, "Sam is in the console");
    let sam_cookie = sam.cookie.expect("console cookie");
    let console_day = |cookie: &str| {
        client
            .get(format!("{}/console/day", server.base))
            .header("cookie", cookie)
            .send()
            .expect("day")
            .status()
    };
    assert_eq!(console_day(&sam_cookie), StatusCode::OK);

    let people: Vec<serde_json::Value> = client
        .get(format!("{}/v1/admin/people", server.base))
        .bearer_auth(&admin)
        .send()
        .expect("people")
        .json()
        .expect("json");
    let person = |id: uuid::Uuid| {
        people
            .iter()
            .find(|p| p["id"] == id.to_string())
            .cloned()
            .expect("person")
    };

    // An administrator sets a new password for Gia over the admin API.
    let mut gia = person(ids::GUARD_LINCOLN);
    gia["password"] = "guard-pass-new".into();
    let put = |body: &serde_json::Value| {
        client
            .put(format!("{}/v1/admin/people", server.base))
            .bearer_auth(&admin)
            .json(body)
            .send()
            .expect("put person")
            .status()
    };
    assert_eq!(put(&gia), StatusCode::OK);
    assert!(
        matches!(phone.sync(), Err(SyncProblem::SignInAgain(_))),
        "the phone's old token is refused (401): the password changed"
    );
    assert_eq!(
        api_sign_in(&client, &server.base, GIA.username, GIA.password).status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let fresh = api_sign_in(&client, &server.base, GIA.username, "guard-pass-new");
    assert_eq!(fresh.status, StatusCode::OK, "the new one does");
    let fresh = fresh.token.expect("token");
    let pull = |token: &str| {
        client
            .get(format!("{}/v1/admin/reference", server.base))
            .bearer_auth(token)
            .send()
            .expect("request")
            .status()
    };
    assert_eq!(
        pull(&fresh),
        StatusCode::FORBIDDEN,
        "a live session of a guard: known, but not an administrator"
    );
    assert_eq!(
        pull(&admin),
        StatusCode::OK,
        "the administrator's own session goes on"
    );

    // Deactivated, then reactivated: the session from before stays dead.
    let mut off = person(ids::GUARD_LINCOLN);
    off["active"] = false.into();
    assert_eq!(put(&off), StatusCode::OK);
    off["active"] = true.into();
    assert_eq!(put(&off), StatusCode::OK);
    assert_eq!(
        pull(&fresh),
        StatusCode::UNAUTHORIZED,
        "a deactivation ended the session for good"
    );

    // The command line changes Sam's password: his console session ends.
    let sam_view = person(ids::SUPERVISOR);
    let mut args = vec![
        "person".to_string(),
        "--id".into(),
        ids::SUPERVISOR.to_string(),
        "--username".into(),
        SUPERVISOR.username.into(),
        "--name".into(),
        sam_view["name"].as_str().expect("name").into(),
        "--role".into(),
        "supervisor".into(),
        "--password".into(),
        "super-pass-new".into(),
    ];
    for s in sam_view["schools"].as_array().expect("schools") {
        args.push("--school".into());
        args.push(s.as_str().expect("school").into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    admin_cli(&data, &args);
    assert_eq!(
        console_day(&sam_cookie),
        StatusCode::SEE_OTHER,
        "Sam's console session ended with his password: back to sign-in"
    );
}

//! The app's commands against a real district server on loopback and real store files:
//! the journeys the screens make, without the screens.

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    reason = "tests: a movable real clock, and unwraps that fail the test loudly"
)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rounds_app::app::{AddPersonArgs, ChangePinArgs, EnrollArgs, Stage, UnlockArgs};
use rounds_app::env::Env;
use rounds_app::records::{
    EditIncidentArgs, FileIncidentArgs, FindTagArgs, IdArgs, IncidentsArgs, RecordCheckArgs,
    StartShiftArgs,
};
use rounds_app::{App, Kind, dispatch};
use rounds_core::entropy::{Entropy, SeededEntropy};
use rounds_core::keyslots::KdfParams;
use rounds_core::model::{CheckResult, IncidentType};
use rounds_server::seed::ids;
use rounds_server::storage::{AuditStore, DirectoryStore, SqliteStorage, Storage};
use rounds_server::{AppState, admin, seed};
use uuid::Uuid;

/// The real clocks, which a test can move forward (time passing: both clocks), and the
/// device's wall clock alone, which a person can set to anything.
struct TestEnv {
    ahead: Mutex<Duration>,
    wall_set: Mutex<Duration>,
}

impl TestEnv {
    fn new() -> Arc<TestEnv> {
        Arc::new(TestEnv {
            ahead: Mutex::new(Duration::zero()),
            wall_set: Mutex::new(Duration::zero()),
        })
    }

    fn advance(&self, by: Duration) {
        *self.ahead.lock().unwrap() += by;
    }

    /// Someone sets the phone's clock `by` ahead (or back): the monotonic clock does not move.
    fn set_wall_clock(&self, by: Duration) {
        *self.wall_set.lock().unwrap() = by;
    }
}

impl Env for TestEnv {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.ahead.lock().unwrap() + *self.wall_set.lock().unwrap()
    }
    fn monotonic(&self) -> std::time::Instant {
        std::time::Instant::now() + self.ahead.lock().unwrap().to_std().unwrap()
    }
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
    fn entropy(&self) -> Box<dyn Entropy> {
        Box::new(SeededEntropy::new(Utc::now().timestamp_micros() as u64))
    }
}

/// A district server with the demo district on a loopback port, stopped on drop.
struct Server {
    base: String,
    storage: Arc<SqliteStorage>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    fn start() -> Server {
        Server::start_with_clock(Arc::new(Utc::now))
    }

    /// A server whose clock a test moves (to expire sessions).
    fn start_with_clock(clock: Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
        seed::demo_district(
            storage.as_ref(),
            &mut SeededEntropy::new(1),
            chrono::Utc::now(),
        )
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st: Arc<dyn Storage> = storage.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                rounds_server::serve(listener, AppState::with_clock(st, clock), async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
            });
        });
        Server {
            base: format!("http://{}", addr_rx.recv().unwrap()),
            storage,
            _dir: dir,
            stop: Some(stop),
        }
    }

    /// The id of the phone `enroll` set up (named "Test phone").
    fn phone_id(&self) -> Uuid {
        self.storage
            .devices()
            .unwrap()
            .into_iter()
            .find(|d| d.name == "Test phone")
            .unwrap()
            .id
    }

    fn code(&self) -> String {
        admin::issue_code(
            self.storage.as_ref(),
            ids::ADMIN,
            Utc::now(),
            1,
            &mut SeededEntropy::new(Utc::now().timestamp_micros() as u64),
        )
        .unwrap()
        .code
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn app(dir: &Path, env: &Arc<TestEnv>) -> App {
    App::new(dir, env.clone())
        .unwrap()
        .with_kdf(KdfParams::FOR_TESTS)
}

fn enroll(app: &App, server: &Server, username: &str, password: &str, pin: &str) {
    let state = app
        .enroll(EnrollArgs {
            server: server.base.clone(),
            code: server.code(),
            device_name: "Test phone".into(),
            username: username.into(),
            password: password.into(),
            pin: pin.into(),
        })
        .unwrap();
    assert_eq!(state.stage, Stage::Unlocked);
}

#[test]
fn a_guard_enrolls_walks_a_round_and_a_supervisor_sees_it_after_sync() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let guard = app(dir.path(), &env);
    enroll(&guard, &server, "gia.guard", "guard-pass-1", "2468013579");

    let home = guard.home().unwrap();
    assert_eq!(
        home.me.name, "Gia Guard",
        "the first sync brought the names"
    );
    let post = home
        .posts
        .first()
        .expect("the guard's posts are on the phone")
        .id;
    let shift = guard
        .start_shift(StartShiftArgs { post_id: post })
        .unwrap()
        .view;
    let first = shift.round[0].checkpoint_id;
    // Typed in lower case with a space for the hyphen, as a person would.
    let tag = shift.round[1].tag_code.to_lowercase().replace('-', " ");
    let after = guard
        .record_check(RecordCheckArgs {
            shift_id: shift.id,
            checkpoint_id: Some(first),
            tag_code: None,
            method: None,
            result: CheckResult::AllClear,
            note: String::new(),
            photos: vec![],
        })
        .unwrap()
        .view;
    assert_eq!(
        after.checks.len(),
        1,
        "the check is in the round it returns"
    );
    let refused = guard
        .record_check(RecordCheckArgs {
            shift_id: shift.id,
            checkpoint_id: None,
            tag_code: Some("NO-SUCH-TAG".into()),
            method: None,
            result: CheckResult::AllClear,
            note: String::new(),
            photos: vec![],
        })
        .unwrap_err();
    assert_eq!(refused.kind, Kind::Invalid);
    assert_eq!(refused.field.as_deref(), Some("tag_code"));
    let by_tag = guard
        .record_check(RecordCheckArgs {
            shift_id: shift.id,
            checkpoint_id: None,
            tag_code: Some(format!("  {tag} ")),
            method: None,
            result: CheckResult::AllClear,
            note: String::new(),
            photos: vec![],
        })
        .expect("a tag is found however it was typed");
    assert_eq!(by_tag.view.checks.len(), 2);
    assert_eq!(
        by_tag.view.checks[1].check.checkpoint_id, shift.round[1].checkpoint_id,
        "{tag:?} names the second checkpoint"
    );
    let found = guard
        .find_checkpoint(FindTagArgs {
            shift_id: shift.id,
            tag_code: shift.round[2].tag_code.replace('-', "_").to_lowercase(),
        })
        .expect("the screen's lookup matches the same way");
    assert_eq!(found.id, shift.round[2].checkpoint_id);
    guard
        .file_incident(FileIncidentArgs {
            school_id: None,
            incident_type: IncidentType::Trespass,
            location: "North lot".into(),
            occurred_at: None,
            people: vec![],
            narrative: "Adult without a badge.".into(),
            actions: String::new(),
            photos: vec![],
            submit: true,
        })
        .unwrap();
    let info = guard.sync_now().unwrap();
    assert_eq!(
        info.waiting_changes, 0,
        "sync now sends everything: {info:?}"
    );
    assert!(info.problem.is_none() && info.last_success.is_some());

    let sup_dir = tempfile::tempdir().unwrap();
    let supervisor = app(sup_dir.path(), &env);
    enroll(
        &supervisor,
        &server,
        "sam.super",
        "super-pass-1",
        "1357924680",
    );
    let shifts = supervisor.shifts().unwrap();
    assert!(
        shifts
            .iter()
            .any(|s| s.id == shift.id && s.check_count == 2),
        "the supervisor's phone has the guard's shift from the server: {shifts:?}"
    );
    let incidents = supervisor.incidents(IncidentsArgs::default()).unwrap();
    assert_eq!(incidents.total, 1);
    assert_eq!(incidents.rows[0].location, "North lot");
}

#[test]
fn wrong_pins_are_refused_then_delayed_and_the_right_one_unlocks_offline() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "olga.sro", "sro-pass-1", "9753102468");
    let me = phone.state().unwrap().me.unwrap().id;
    phone.lock().unwrap();
    drop(server); // No server from here on: unlocking never needs it.

    let again = app(dir.path(), &env);
    assert_eq!(again.state().unwrap().stage, Stage::Locked);
    let wrong = |pin: &str| {
        again
            .unlock(UnlockArgs {
                person_id: me,
                pin: pin.into(),
            })
            .unwrap_err()
    };
    for attempt in 1..=3 {
        let e = wrong("000000");
        assert_eq!(e.kind, Kind::WrongPin);
        assert_eq!(
            e.retry_at.is_some(),
            attempt == 3,
            "three attempts are free; after the third the next one waits"
        );
    }
    let retry = again
        .unlock(UnlockArgs {
            person_id: me,
            pin: "000000".into(),
        })
        .unwrap_err()
        .retry_at
        .expect("the wait is told");
    let early = wrong("9753102468");
    assert_eq!(
        early.kind,
        Kind::LockedOut,
        "during the delay even the right PIN is not checked"
    );
    env.advance(retry - env.now() + Duration::seconds(1));
    let state = again
        .unlock(UnlockArgs {
            person_id: me,
            pin: "9753102468".into(),
        })
        .unwrap();
    assert_eq!(state.stage, Stage::Unlocked);
    assert_eq!(state.me.unwrap().id, me);
}

#[test]
fn the_screens_lock_after_inactivity_but_not_while_someone_is_typing() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env).with_idle_limit(Duration::minutes(5));
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    env.advance(Duration::minutes(4));
    phone.still_here().expect("typing counts as use");
    env.advance(Duration::minutes(4));
    assert_eq!(
        phone.state().unwrap().stage,
        Stage::Unlocked,
        "eight minutes in, but only four since the last use"
    );
    env.advance(Duration::minutes(2));
    assert_eq!(phone.state().unwrap().stage, Stage::Locked);
    assert_eq!(phone.home().unwrap_err().kind, Kind::Locked);
}

/// A phone enrolled for Olga (PIN `OLGA_PIN`), locked, and the server gone: everything after
/// this is offline.
const OLGA_PIN: &str = "9753102468";

fn locked_phone(env: &Arc<TestEnv>) -> (tempfile::TempDir, App, uuid::Uuid) {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), env);
    enroll(&phone, &server, "olga.sro", "sro-pass-1", OLGA_PIN);
    let me = phone.state().unwrap().me.unwrap().id;
    phone.lock().unwrap();
    (dir, phone, me)
}

fn try_pin(phone: &App, person: uuid::Uuid, pin: &str) -> Result<Stage, rounds_app::AppError> {
    phone
        .unlock(UnlockArgs {
            person_id: person,
            pin: pin.into(),
        })
        .map(|s| s.stage)
}

/// Three wrong PINs: the next attempt waits 30 s.
fn three_wrong(phone: &App, person: uuid::Uuid) {
    for _ in 0..3 {
        assert_eq!(
            try_pin(phone, person, "0000000000").unwrap_err().kind,
            Kind::WrongPin
        );
    }
    assert_eq!(
        try_pin(phone, person, OLGA_PIN).unwrap_err().kind,
        Kind::LockedOut,
        "after three failures even the right PIN waits"
    );
}

/// Rewrites Olga's attempt record in the key slots file, as someone with the folder could.
fn edit_keys_file(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("device.db.keys");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn setting_the_count_to_zero_while_the_app_runs_does_not_unlock_early() {
    let env = TestEnv::new();
    let (dir, phone, me) = locked_phone(&env);
    three_wrong(&phone, me);
    edit_keys_file(dir.path(), |v| {
        for r in v["attempts"].as_array_mut().unwrap() {
            r["count"] = 0.into();
        }
    });
    let e = try_pin(&phone, me, OLGA_PIN).unwrap_err();
    assert_eq!(
        e.kind,
        Kind::LockedOut,
        "the running app remembers the count: the edit changes nothing"
    );
    // A restart does not believe the edited record either: it counts as the longest wait.
    let restarted = app(dir.path(), &env);
    let e = try_pin(&restarted, me, OLGA_PIN).unwrap_err();
    assert_eq!(e.kind, Kind::LockedOut, "an edited record locks");
    let wait = e.retry_at.unwrap() - env.now();
    assert!(
        wait > Duration::minutes(14),
        "the edited record costs the longest wait, not none: {wait}"
    );
    env.advance(Duration::minutes(15) + Duration::seconds(1));
    assert_eq!(
        try_pin(&restarted, me, OLGA_PIN).unwrap(),
        Stage::Unlocked,
        "after the wait the right PIN works"
    );
}

#[test]
fn a_deleted_or_garbled_counter_locks_instead_of_unlocking() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 3] = [
        ("records deleted", |v| {
            v.as_object_mut().unwrap().remove("attempts");
        }),
        ("count garbled", |v| {
            v["attempts"][0]["count"] = "none".into()
        }),
        ("tag garbled", |v| {
            v["attempts"][0]["tag"] = "00".repeat(32).into();
        }),
    ];
    for (name, edit) in cases {
        let env = TestEnv::new();
        let (dir, _phone, me) = locked_phone(&env);
        edit_keys_file(dir.path(), edit);
        let restarted = app(dir.path(), &env);
        let e = try_pin(&restarted, me, OLGA_PIN).unwrap_err();
        assert_eq!(e.kind, Kind::LockedOut, "{name}: locked, not reset to zero");
        assert!(
            e.retry_at.unwrap() - env.now() > Duration::minutes(14),
            "{name}: the longest wait"
        );
    }
    // Deleting the seal key: no record verifies any more.
    let env = TestEnv::new();
    let (dir, _phone, me) = locked_phone(&env);
    std::fs::remove_file(dir.path().join("device.db.seal")).unwrap();
    let restarted = app(dir.path(), &env);
    assert_eq!(
        try_pin(&restarted, me, OLGA_PIN).unwrap_err().kind,
        Kind::LockedOut,
        "a deleted seal key locks"
    );
}

#[test]
fn moving_the_phones_clock_neither_shortens_nor_resets_a_wait() {
    let env = TestEnv::new();
    let (_dir, phone, me) = locked_phone(&env);
    three_wrong(&phone, me);
    for (shift, what) in [
        (Duration::days(1), "a day ahead"),
        (Duration::hours(-3), "three hours back"),
        (Duration::minutes(10), "ten minutes ahead"),
    ] {
        env.set_wall_clock(shift);
        assert_eq!(
            try_pin(&phone, me, OLGA_PIN).unwrap_err().kind,
            Kind::LockedOut,
            "the clock set {what} does not end the wait"
        );
    }
    env.set_wall_clock(Duration::zero());
    env.advance(Duration::seconds(31));
    assert_eq!(
        try_pin(&phone, me, OLGA_PIN).unwrap(),
        Stage::Unlocked,
        "30 s of real time do"
    );
}

#[test]
fn one_persons_wrong_pins_do_not_lock_another_out() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let gia = phone.state().unwrap().me.unwrap().id;
    let gus = phone
        .add_person(AddPersonArgs {
            current_pin: "2468013579".into(),
            username: "gus.guard".into(),
            password: "guard-pass-2".into(),
            pin: "8642097531".into(),
        })
        .unwrap()
        .people[1]
        .id;
    phone.lock().unwrap();
    for _ in 0..4 {
        try_pin(&phone, gus, "1111111111").unwrap_err();
    }
    assert_eq!(
        try_pin(&phone, gus, "8642097531").unwrap_err().kind,
        Kind::LockedOut,
        "Gus is delayed"
    );
    assert_eq!(
        try_pin(&phone, gia, "2468013579").unwrap(),
        Stage::Unlocked,
        "Gia is not: the counter is per person"
    );
    phone.lock().unwrap();
    assert_eq!(
        try_pin(&phone, gus, "8642097531").unwrap_err().kind,
        Kind::LockedOut,
        "and Gia's success does not forgive Gus's failures"
    );
}

#[test]
fn weak_pins_are_refused_with_a_clear_message() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    let rule = phone.state().unwrap().pin_rule;
    for weak in ["246810", "24681357", "abcdef", "pass1"] {
        let e = phone
            .enroll(EnrollArgs {
                server: server.base.clone(),
                code: server.code(),
                device_name: "Test phone".into(),
                username: "gia.guard".into(),
                password: "guard-pass-1".into(),
                pin: weak.into(),
            })
            .unwrap_err();
        assert_eq!(e.kind, Kind::Invalid, "{weak}");
        assert_eq!(e.field.as_deref(), Some("pin"));
        assert!(
            e.message
                .contains(&format!("at least {} digits", rule.min_digits))
                && e.message
                    .contains(&format!("at least {} characters", rule.min_with_letters)),
            "the message says what would do: {}",
            e.message
        );
    }
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let e = phone
        .change_pin(ChangePinArgs {
            current_pin: "2468013579".into(),
            new_pin: "123456".into(),
        })
        .unwrap_err();
    assert_eq!(
        (e.kind, e.field.as_deref()),
        (Kind::Invalid, Some("new_pin"))
    );
    let s = phone
        .change_pin(ChangePinArgs {
            current_pin: "2468013579".into(),
            new_pin: "kestrel-gate".into(),
        })
        .unwrap();
    assert!(!s.pin_change_needed);
    let me = s.me.unwrap().id;
    phone.lock().unwrap();
    assert_eq!(
        try_pin(&phone, me, "2468013579").unwrap_err().kind,
        Kind::WrongPin,
        "the old PIN no longer unlocks"
    );
    assert_eq!(
        try_pin(&phone, me, "kestrel-gate").unwrap(),
        Stage::Unlocked
    );
}

#[test]
fn a_slot_made_with_older_argon2_parameters_is_remade_with_the_apps_on_unlock() {
    let env = TestEnv::new();
    let (dir, _phone, me) = locked_phone(&env);
    let slots_path = dir.path().join("device.db.keys");
    let kdf_of = || {
        rounds_core::keyslots::KeySlots::load(&slots_path)
            .unwrap()
            .kdf_of(me)
            .unwrap()
    };
    assert_eq!(kdf_of(), KdfParams::FOR_TESTS);
    let stronger = KdfParams {
        memory_kib: 128,
        iterations: 2,
        parallelism: 1,
    };
    let upgraded = App::new(dir.path(), env.clone())
        .unwrap()
        .with_kdf(stronger);
    let s = upgraded
        .unlock(UnlockArgs {
            person_id: me,
            pin: OLGA_PIN.into(),
        })
        .unwrap();
    assert!(!s.pin_change_needed, "a 10-digit PIN meets the policy");
    assert_eq!(kdf_of(), stronger, "the slot now has the app's parameters");
    upgraded.lock().unwrap();
    assert_eq!(
        try_pin(&upgraded, me, OLGA_PIN).unwrap(),
        Stage::Unlocked,
        "and the same PIN still opens it"
    );
}

#[test]
fn a_shared_post_phone_unlocks_for_each_person_with_their_own_pin() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let state = phone
        .add_person(AddPersonArgs {
            current_pin: "2468013579".into(),
            username: "gus.guard".into(),
            password: "guard-pass-2".into(),
            pin: "8642097531".into(),
        })
        .unwrap();
    assert_eq!(state.people.len(), 2);
    let gus = state.people[1].id;
    phone.lock().unwrap();
    let wrong = phone
        .unlock(UnlockArgs {
            person_id: gus,
            pin: "2468013579".into(),
        })
        .unwrap_err();
    assert_eq!(
        wrong.kind,
        Kind::WrongPin,
        "Gia's PIN does not open Gus's slot"
    );
    let s = phone
        .unlock(UnlockArgs {
            person_id: gus,
            pin: "8642097531".into(),
        })
        .unwrap();
    assert_eq!(s.me.unwrap().id, gus);
    let info = phone.sync_now().unwrap();
    assert!(
        info.problem.is_none(),
        "Gus syncs with his own session: {info:?}"
    );
}

#[test]
fn a_mistyped_password_at_setup_does_not_burn_the_enrollment_code() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    let code = server.code();
    let args = |password: &str| EnrollArgs {
        server: server.base.clone(),
        code: code.clone(),
        device_name: "Test phone".into(),
        username: "gia.guard".into(),
        password: password.into(),
        pin: "2468013579".into(),
    };
    let e = phone.enroll(args("wrong-password")).unwrap_err();
    assert_eq!(e.kind, Kind::SignInAgain);
    assert_eq!(
        phone.state().unwrap().stage,
        Stage::Setup,
        "nothing was set up"
    );
    let s = phone.enroll(args("guard-pass-1")).unwrap();
    assert_eq!(s.stage, Stage::Unlocked, "the same code still works");
}

#[test]
fn commands_refuse_bad_arguments_with_a_clear_error_and_change_nothing() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    let e = dispatch::dispatch(&phone, "home", serde_json::Value::Null).unwrap_err();
    assert_eq!(e.kind, Kind::NotSetUp);
    let e = phone
        .enroll(EnrollArgs {
            server: "rounds.example".into(),
            code: "x".into(),
            device_name: "x".into(),
            username: "x".into(),
            password: "x".into(),
            pin: "2468013579".into(),
        })
        .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("server"));
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let before = phone.sync_info().unwrap();
    for (command, args) in [
        (
            "record_check",
            serde_json::json!({ "shift_id": "not-a-uuid", "result": "all_clear" }),
        ),
        ("start_shift", serde_json::json!({ "post_id": 42 })),
        (
            "file_incident",
            serde_json::json!({ "incident_type": "alien_landing", "location": "x" }),
        ),
        (
            "file_incident",
            serde_json::json!({ "incident_type": "other", "location": "" }),
        ),
        ("start_shift", serde_json::json!({ "post_id": Uuid::nil() })),
        ("no_such_command", serde_json::json!({})),
    ] {
        let e = dispatch::dispatch(&phone, command, args.clone()).unwrap_err();
        assert!(
            matches!(e.kind, Kind::Invalid | Kind::NotFound | Kind::Forbidden),
            "{command} {args}: {e:?}"
        );
        assert!(!e.message.is_empty());
    }
    assert_eq!(
        phone.sync_info().unwrap().waiting_changes,
        before.waiting_changes,
        "nothing was saved"
    );
}

#[test]
fn a_revoked_phone_is_told_so_in_plain_words_and_keeps_what_it_saved() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let device = rounds_app::config::load(dir.path())
        .unwrap()
        .unwrap()
        .device_id;
    admin::revoke(server.storage.as_ref(), device, None, Utc::now()).unwrap();
    let post = phone.home().unwrap().posts[0].id;
    phone.start_shift(StartShiftArgs { post_id: post }).unwrap();
    let info = phone.sync_now().unwrap();
    let problem = info.problem.expect("the sync was refused");
    assert_eq!(problem.kind, Kind::Revoked);
    assert!(problem.message.contains("revoked"), "{}", problem.message);
    assert!(
        info.waiting_changes > 0,
        "the shift stays on the phone, waiting, not lost"
    );
}

#[test]
fn an_expired_session_asks_for_the_password_and_signing_in_again_resumes_sync() {
    let env = TestEnv::new();
    let clock_env = env.clone();
    let server = Server::start_with_clock(Arc::new(move || clock_env.now()));
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env).with_idle_limit(Duration::days(365));
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    env.advance(Duration::days(rounds_server::SESSION_DAYS + 1));
    let post = phone.home().unwrap().posts[0].id;
    phone.start_shift(StartShiftArgs { post_id: post }).unwrap();
    let info = phone.sync_now().unwrap();
    let problem = info.problem.expect("the server refused the old session");
    assert_eq!(problem.kind, Kind::SignInAgain);
    assert!(info.waiting_changes > 0, "the shift waits on the phone");
    let wrong = phone
        .sign_in_again(rounds_app::app::SignInArgs {
            password: "not-it".into(),
        })
        .unwrap_err();
    assert_eq!(wrong.kind, Kind::SignInAgain, "a wrong password is refused");
    let info = phone
        .sign_in_again(rounds_app::app::SignInArgs {
            password: "guard-pass-1".into(),
        })
        .unwrap();
    assert!(info.problem.is_none(), "{info:?}");
    assert_eq!(info.waiting_changes, 0, "the waiting shift went up");
}

#[test]
fn setting_up_again_without_settings_keeps_the_old_store_aside_instead_of_deleting_it() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let post = phone.home().unwrap().posts[0].id;
    phone.start_shift(StartShiftArgs { post_id: post }).unwrap();
    phone.lock().unwrap();
    drop(phone);
    std::fs::remove_file(dir.path().join("app.json")).unwrap();

    let again = app(dir.path(), &env);
    assert_eq!(again.state().unwrap().stage, Stage::Setup);
    enroll(&again, &server, "gia.guard", "guard-pass-1", "2468013579");
    let old = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| {
            n.starts_with("device.db.set-aside-")
                && !n.ends_with(".keys")
                && !n.ends_with(".seal")
                && !n.ends_with("-wal")
                && !n.ends_with("-shm")
                && !n.ends_with(".photos")
        })
        .expect("the old database is kept beside the new one");
    let me = again.state().unwrap().me.unwrap().id;
    let old_store = rounds_core::store::Store::open(
        &dir.path().join(&old),
        me,
        &rounds_core::keyslots::Secret::new("2468013579"),
    )
    .expect("it still opens with its own key slots and the old PIN");
    assert_eq!(
        old_store.shifts(10).unwrap().len(),
        1,
        "and still holds the shift recorded before"
    );
}

fn all_clear(shift: Uuid, checkpoint: Uuid) -> RecordCheckArgs {
    RecordCheckArgs {
        shift_id: shift,
        checkpoint_id: Some(checkpoint),
        tag_code: None,
        method: None,
        result: CheckResult::AllClear,
        note: String::new(),
        photos: vec![],
    }
}

#[test]
fn a_save_returns_the_status_line_counting_what_now_waits() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let post = phone.home().unwrap().posts[0].id;
    let shift = phone.start_shift(StartShiftArgs { post_id: post }).unwrap();
    assert_eq!(phone.sync_now().unwrap().waiting_changes, 0);
    let addr = server.base.trim_start_matches("http://").to_string();
    drop(server); // Offline from here: nothing can leave the phone.
    while std::net::TcpStream::connect(&addr).is_ok() {
        std::thread::yield_now();
    }
    let cps: Vec<Uuid> = shift.view.round.iter().map(|c| c.checkpoint_id).collect();
    let one = phone
        .record_check(all_clear(shift.view.id, cps[0]))
        .unwrap();
    assert_eq!(
        one.sync.waiting_changes, 1,
        "the status line the save returns already counts it"
    );
    let two = phone
        .record_check(all_clear(shift.view.id, cps[1]))
        .unwrap();
    assert_eq!(two.sync.waiting_changes, 2, "and says 2 when 2 wait");
    let json = serde_json::to_value(&two).unwrap();
    assert!(
        json["round"].is_array() && json["sync"]["waiting_changes"] == 2,
        "the view's fields stay at the top level beside `sync`: {json}"
    );
}

#[test]
fn an_officers_forms_start_with_their_own_first_school_not_the_alphabetical_first() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    // Olga works at Lincoln High School, then Adams Middle School ("Adams" sorts first).
    enroll(&phone, &server, "olga.sro", "sro-pass-1", "9753102468");
    let me = phone.state().unwrap().me.unwrap();
    let schools: Vec<Uuid> = me.schools.iter().map(|s| s.id).collect();
    assert_eq!(
        schools,
        vec![ids::LINCOLN, ids::ADAMS],
        "her schools in the district's order: {:?}",
        me.schools
    );
    let filed = phone
        .file_incident(FileIncidentArgs {
            school_id: None,
            incident_type: IncidentType::Threat,
            location: "Library".into(),
            occurred_at: None,
            people: vec![],
            narrative: String::new(),
            actions: String::new(),
            photos: vec![],
            submit: false,
        })
        .unwrap();
    assert_eq!(
        filed.view.view.header.school_id,
        ids::LINCOLN,
        "an incident filed without a school goes to her first school"
    );
}

#[test]
fn a_colleague_edits_a_draft_and_the_incident_says_who_wrote_what() {
    let server = Server::start();
    let env = TestEnv::new();
    let (gdir, odir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let guard = app(gdir.path(), &env);
    enroll(&guard, &server, "gia.guard", "guard-pass-1", "2468013579");
    let draft = guard
        .file_incident(FileIncidentArgs {
            school_id: None,
            incident_type: IncidentType::Vandalism,
            location: "Gym".into(),
            occurred_at: None,
            people: vec![],
            narrative: "Paint on the east doors.".into(),
            actions: String::new(),
            photos: vec![],
            submit: false,
        })
        .unwrap()
        .view;
    assert!(draft.may_edit, "the author may edit her own draft");
    let id = draft.view.header.id;
    assert_eq!(guard.sync_now().unwrap().waiting_changes, 0);

    let officer = app(odir.path(), &env);
    enroll(&officer, &server, "olga.sro", "sro-pass-1", "9753102468");
    let seen = officer.incident(IdArgs { id }).unwrap();
    assert!(
        seen.may_edit,
        "an SRO of the school is offered Edit on a colleague's draft"
    );
    officer
        .edit_incident(EditIncidentArgs {
            id,
            incident_type: None,
            location: None,
            occurred_at: None,
            narrative: Some("Paint on the east doors. Photos taken by the SRO.".into()),
            actions: Some("Called the custodian.".into()),
            add_people: vec![],
            remove_people: vec![],
            add_photos: vec![],
        })
        .unwrap();
    let sent = officer.sync_now().unwrap();
    assert!(
        sent.waiting_changes == 0 && sent.problem.is_none(),
        "the server accepts a colleague's edit: {sent:?}"
    );
    guard.sync_now().unwrap();
    let back = guard.incident(IdArgs { id }).unwrap();
    assert_eq!(back.view.body.actions, "Called the custodian.");
    let who: Vec<(&str, Option<&str>)> = back
        .history
        .iter()
        .map(|e| (e.action.as_str(), e.by_name.as_deref()))
        .collect();
    assert_eq!(
        who,
        vec![
            ("create_incident", Some("Gia Guard")),
            ("edit_incident", Some("Olga Officer")),
        ],
        "each change's author, by name, on the author's own phone"
    );
}

#[test]
fn the_author_edits_a_contact_note_and_a_cleared_follow_up_stays_cleared() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "olga.sro", "sro-pass-1", "9753102468");
    let note = |v: serde_json::Value| v["body"].clone();
    let written = dispatch::dispatch(
        &phone,
        "write_note",
        serde_json::json!({
            "student_ref": "S-1001", "student_name": "Ana Lopez", "contact_type": "mentoring",
            "reason": "Check-in after the hallway incident.", "follow_up_on": "2026-12-08"
        }),
    )
    .unwrap();
    let id = written["header"]["id"].clone();
    let edited = dispatch::dispatch(
        &phone,
        "edit_note",
        serde_json::json!({
            "id": id, "outcome": "Agreed to meet the counselor.", "referral": "counselor",
            "follow_up_on": null
        }),
    )
    .unwrap();
    assert_eq!(
        note(edited.clone())["outcome"],
        "Agreed to meet the counselor."
    );
    assert_eq!(note(edited.clone())["referral"], "counselor");
    assert!(
        note(edited.clone())["follow_up_on"].is_null(),
        "null clears the follow-up"
    );
    assert!(
        edited["sync"]["waiting_changes"].as_u64().unwrap() >= 2,
        "the status line counts the edit"
    );
    // A field left out stays as it is.
    let again = dispatch::dispatch(
        &phone,
        "edit_note",
        serde_json::json!({ "id": id, "outcome": "Met the counselor." }),
    )
    .unwrap();
    assert_eq!(note(again.clone())["referral"], "counselor");
    assert!(note(again.clone())["follow_up_on"].is_null());
    assert_eq!(
        note(again)["reason"],
        "Check-in after the hallway incident."
    );
    // The reason may change, but not to nothing; a refused edit changes nothing.
    let reasoned = dispatch::dispatch(
        &phone,
        "edit_note",
        serde_json::json!({ "id": id, "reason": "Check-in after the hallway fight." }),
    )
    .unwrap();
    assert_eq!(
        note(reasoned.clone())["reason"],
        "Check-in after the hallway fight."
    );
    let e = dispatch::dispatch(
        &phone,
        "edit_note",
        serde_json::json!({ "id": id, "reason": "  ", "outcome": "Lost." }),
    )
    .unwrap_err();
    assert_eq!(e.kind, Kind::Invalid, "{e:?}");
    let kept = dispatch::dispatch(&phone, "note", serde_json::json!({ "id": id })).unwrap();
    assert_eq!(
        note(kept.clone())["reason"],
        "Check-in after the hallway fight."
    );
    assert_eq!(note(kept)["outcome"], "Met the counselor.");
    let e = dispatch::dispatch(
        &phone,
        "edit_note",
        serde_json::json!({ "id": Uuid::nil(), "outcome": "x" }),
    )
    .unwrap_err();
    assert_eq!(e.kind, Kind::NotFound, "{e:?}");
}

#[test]
fn unlocks_wrong_pins_lockouts_and_locks_reach_the_audit_trail_at_the_next_sync() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env).with_idle_limit(Duration::minutes(5));
    enroll(&phone, &server, "olga.sro", "sro-pass-1", OLGA_PIN);
    let me = phone.state().unwrap().me.unwrap().id;
    phone.lock().unwrap();
    // Locked, with nothing open: three wrong PINs (the third starts the waits), the right one
    // too early, then the right one after the wait.
    for _ in 0..3 {
        assert_eq!(
            try_pin(&phone, me, "0000000000").unwrap_err().kind,
            Kind::WrongPin
        );
    }
    assert_eq!(
        try_pin(&phone, me, OLGA_PIN).unwrap_err().kind,
        Kind::LockedOut
    );
    let waiting = rounds_core::events::LockScreenLog::for_store(&dir.path().join("device.db"));
    assert_eq!(
        waiting.read().unwrap().len(),
        4,
        "three failures and the lockout wait beside the closed store"
    );
    env.advance(Duration::seconds(31));
    assert_eq!(try_pin(&phone, me, OLGA_PIN).unwrap(), Stage::Unlocked);
    assert!(
        waiting.read().unwrap().is_empty(),
        "moved into the store at the unlock"
    );
    // Left on the desk: it locks itself; then she unlocks again and syncs.
    env.advance(Duration::minutes(6));
    assert_eq!(phone.state().unwrap().stage, Stage::Locked);
    assert_eq!(try_pin(&phone, me, OLGA_PIN).unwrap(), Stage::Unlocked);
    phone.sync_now().unwrap();

    let device = server.phone_id();
    let events: Vec<(String, u64)> = server
        .storage
        .audit_entries(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == rounds_server::audit::AuditKind::DeviceEvent)
        .map(|e| {
            assert_eq!(e.device, Some(device));
            assert_eq!(e.person, Some(me));
            let body: serde_json::Value = serde_json::from_str(&e.body).unwrap();
            let d = &body["detail"];
            assert!(d["at_device"].is_string(), "{d}");
            (
                d["event"].as_str().unwrap().to_string(),
                d["failures"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("unlocked", 0), // setting the phone up opens the store for her
        ("locked", 0),
        ("unlock_failed", 1),
        ("unlock_failed", 2),
        ("unlock_failed", 3),
        ("locked_out", 3),
        ("unlocked", 0),
        ("idle_locked", 0),
        ("unlocked", 0),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(events, expected);

    // Sent once: another sync records nothing more.
    phone.sync_now().unwrap();
    let again = server
        .storage
        .audit_entries(0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == rounds_server::audit::AuditKind::DeviceEvent)
        .count();
    assert_eq!(again, expected.len());
    rounds_server::audit::verify_stored(server.storage.as_ref()).expect("the chain verifies");
}

#[test]
fn a_phone_the_district_wipes_erases_its_store_and_says_so_on_the_setup_screen() {
    let server = Server::start();
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let phone = app(dir.path(), &env);
    enroll(&phone, &server, "gia.guard", "guard-pass-1", "2468013579");
    let device = server.phone_id();
    let files = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = files();
    assert!(
        before.iter().any(|f| f == "device.db") && before.iter().any(|f| f == "app.json"),
        "{before:?}"
    );
    admin::revoke_with(
        server.storage.as_ref(),
        device,
        Some(ids::ADMIN),
        Utc::now(),
        admin::Wipe::AfterPush,
    )
    .unwrap();

    let said = phone.sync_now().unwrap_err();
    assert_eq!(said.kind, Kind::Revoked, "{said:?}");
    let state = phone.state().unwrap();
    assert_eq!(state.stage, Stage::Setup);
    assert!(
        state.wiped.is_some_and(|w| w.after_push),
        "the setup screen says the district wiped it"
    );
    let left = files();
    assert_eq!(
        left,
        vec!["wiped.json".to_string()],
        "nothing of the store, its keys or settings"
    );
    assert!(
        server
            .storage
            .audit_entries(0, 10_000)
            .unwrap()
            .iter()
            .any(|e| e.device == Some(device) && e.body.contains(r#""event":"wiped""#)),
        "the phone recorded the wipe in the district's trail before erasing"
    );
    // A new start of the app finds a phone to set up, and still says why.
    let again = app(dir.path(), &env);
    let state = again.state().unwrap();
    assert_eq!(state.stage, Stage::Setup);
    assert!(state.wiped.is_some());
}

#[test]
fn the_author_sees_who_received_her_note_and_nobody_else_may_ask() {
    let server = Server::start();
    let env = TestEnv::new();
    let (olga_dir, sam_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let olga = app(olga_dir.path(), &env);
    enroll(&olga, &server, "olga.sro", "sro-pass-1", "9753102468");
    let written = dispatch::dispatch(
        &olga,
        "write_note",
        serde_json::json!({
            "student_ref": "S-1001", "student_name": "Ana Lopez", "contact_type": "mentoring",
            "reason": "Check-in after the hallway incident.",
            "shared_with": [ids::SUPERVISOR],
        }),
    )
    .unwrap();
    let id = written["header"]["id"].clone();
    olga.sync_now().unwrap();
    let none =
        dispatch::dispatch(&olga, "note_disclosures", serde_json::json!({ "id": id })).unwrap();
    assert_eq!(
        none,
        serde_json::json!([]),
        "her own phone is not a disclosure"
    );

    let sam = app(sam_dir.path(), &env);
    enroll(&sam, &server, "sam.super", "super-pass-1", "1357924680");
    sam.sync_now().unwrap();
    let listed =
        dispatch::dispatch(&olga, "note_disclosures", serde_json::json!({ "id": id })).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["to"], ids::SUPERVISOR.to_string());
    assert_eq!(listed[0]["to_name"], "Sam Supervisor");
    assert_eq!(listed[0]["how"], "delivered");
    let refused =
        dispatch::dispatch(&sam, "note_disclosures", serde_json::json!({ "id": id })).unwrap_err();
    assert_eq!(refused.kind, Kind::Refused, "{refused:?}");
}

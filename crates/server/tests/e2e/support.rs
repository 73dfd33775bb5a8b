//! A test server and simulated devices.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rounds_core::client::{
    self, Enrollment, HttpTransport, Session, SyncProblem, SyncReport, Transport,
};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{KdfParams, Secret};
use rounds_core::model::*;
use rounds_core::signing::SigningSecret;
use rounds_core::store::{NewShift, Setup, Store};
use rounds_server::seed::ids;
use rounds_server::storage::{DatabaseUrl, Storage};
use rounds_server::{AppState, admin, seed};
use uuid::Uuid;

/// Whether this run's servers keep their state in PostgreSQL (`ROUNDS_TEST_BACKEND=postgres`:
/// a private cluster this test process starts, a fresh database per server) rather than the
/// embedded SQLite store. The same tests run on both; `scripts/test.sh` runs them twice.
pub fn on_postgres() -> bool {
    std::env::var("ROUNDS_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The test process's private PostgreSQL cluster (stopped and removed when the process ends).
fn cluster() -> &'static rounds_pgtest::Cluster {
    static CLUSTER: std::sync::OnceLock<rounds_pgtest::Cluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| rounds_pgtest::Cluster::start().expect("a private PostgreSQL cluster"))
}

/// A new database in the test process's cluster.
fn fresh_database() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!("t{}", N.fetch_add(1, Ordering::Relaxed));
    cluster().create_database(&name).expect("database")
}

/// Where one test server keeps its state: a data folder, and on the PostgreSQL run a database
/// of its own.
pub struct Data {
    dir: tempfile::TempDir,
    pub url: DatabaseUrl,
}

impl Data {
    /// A new, empty place for a server's state, on this run's backend.
    pub fn new() -> Data {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = if on_postgres() {
            DatabaseUrl::Postgres(fresh_database())
        } else {
            DatabaseUrl::Sqlite(dir.path().to_path_buf())
        };
        Data { dir, url }
    }

    /// A fresh PostgreSQL database (and a data folder), whichever backend this run tests.
    pub fn postgres() -> Data {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::Postgres(fresh_database());
        Data { dir, url }
    }

    /// The embedded store in `dir` (a restored backup, say), whichever backend this run tests.
    pub fn sqlite_in(dir: tempfile::TempDir) -> Data {
        let url = DatabaseUrl::Sqlite(dir.path().to_path_buf());
        Data { dir, url }
    }

    /// The data folder (the embedded store's, and the server's files on either backend).
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The command line's arguments naming this state.
    pub fn args(&self) -> Vec<String> {
        let url = match &self.url {
            DatabaseUrl::Sqlite(dir) => format!("sqlite:{}", dir.display()),
            DatabaseUrl::Postgres(u) => u.clone(),
        };
        vec![
            "--data".into(),
            self.path().display().to_string(),
            "--database".into(),
            url,
        ]
    }

    /// The storage, opened in this process (as a second server process would).
    pub fn open(&self) -> Arc<dyn Storage> {
        rounds_server::storage::open(&self.url).expect("storage")
    }
}

/// A district server with the demo district, on a loopback port, in this process.
pub struct TestServer {
    pub base: String,
    pub storage: Arc<dyn Storage>,
    /// Where it keeps its state (kept for as long as the server runs).
    _data: Data,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {}, AppState::new)
    }

    /// A server with the demo district, plus what `prepare` adds to its storage, serving the
    /// state `state` makes (a test's own clock or time zone).
    pub fn start_with(
        prepare: impl FnOnce(&dyn Storage),
        state: impl FnOnce(Arc<dyn Storage>) -> AppState + Send + 'static,
    ) -> TestServer {
        let data = Data::new();
        let storage = data.open();
        seed::demo_district(storage.as_ref(), &mut SeededEntropy::new(1), now()).expect("seed");
        prepare(storage.as_ref());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st: Arc<dyn Storage> = storage.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                rounds_server::serve(listener, state(st), async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
            });
        });
        let addr = addr_rx.recv().expect("server address");
        TestServer {
            base: format!("http://{addr}"),
            storage,
            _data: data,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A fresh one-time enrollment code.
    pub fn code(&self) -> String {
        admin::issue_code(
            self.storage.as_ref(),
            ids::ADMIN,
            now(),
            1,
            &mut SeededEntropy::new(rand_seed()),
        )
        .expect("code")
        .code
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rand_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1000);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn now() -> DateTime<Utc> {
    #[allow(
        clippy::disallowed_methods,
        reason = "enrollment codes expire against the server's real clock"
    )]
    Utc::now()
}

/// A fixed working day for device actions.
pub fn at(minutes: i64) -> DateTime<Utc> {
    "2026-11-30T08:00:00Z"
        .parse::<DateTime<Utc>>()
        .expect("time")
        + Duration::minutes(minutes)
}

pub struct Login {
    pub username: &'static str,
    pub password: &'static str,
}

pub const ADMIN: Login = Login {
    username: "admin",
    password: "admin-pass-1",
};
pub const SUPERVISOR: Login = Login {
    username: "sam.super",
    password: "super-pass-1",
};
pub const GIA: Login = Login {
    username: "gia.guard",
    password: "guard-pass-1",
};
pub const GUS: Login = Login {
    username: "gus.guard",
    password: "guard-pass-2",
};
pub const OLGA: Login = Login {
    username: "olga.sro",
    password: "sro-pass-1",
};
pub const OMAR: Login = Login {
    username: "omar.sro",
    password: "sro-pass-2",
};

/// An enrolled device with its own store, signed in as one person.
pub struct Device {
    pub store: Store,
    pub enrollment: Enrollment,
    pub session: Session,
    /// The signed-in person's signing key (the store keeps its own sealed copy): for tests
    /// that sign changes made outside the store.
    pub signing: SigningSecret,
    pub base: String,
    _path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Device {
    /// Enrolls a new device, creates its store and signs `who` in. No sync yet.
    pub fn enroll(server: &TestServer, who: &Login) -> Device {
        Self::enroll_at(&server.base, &server.code(), who)
    }

    pub fn enroll_at(base: &str, code: &str, who: &Login) -> Device {
        let enrollment =
            client::enroll(base, code, &format!("{} phone", who.username)).expect("enroll");
        let signing = SigningSecret::generate(&mut SeededEntropy::new(rand_seed()));
        let session = client::sign_in(
            base,
            who.username,
            who.password,
            &enrollment,
            &signing.public(),
        )
        .expect("sign in");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("device.db");
        let store = Store::create(
            &path,
            Setup {
                device_id: enrollment.device_id,
                person_id: session.person_id,
                secret: &Secret::new("2468013579"),
                kdf: KdfParams::FOR_TESTS,
                signing: &signing,
            },
            &mut SeededEntropy::new(rand_seed()),
        )
        .expect("store");
        Device {
            store,
            enrollment,
            session,
            signing,
            base: base.to_string(),
            _path: path,
            _dir: dir,
        }
    }

    pub fn transport(&self) -> HttpTransport {
        HttpTransport::new(&self.base, &self.session.token).expect("transport")
    }

    /// The device's store file.
    pub fn path(&self) -> &std::path::Path {
        &self._path
    }

    pub fn sync(&mut self) -> Result<SyncReport, SyncProblem> {
        let mut t = self.transport();
        client::sync_now(&mut self.store, &mut t, at(600))
    }

    pub fn sync_with(&mut self, t: &mut dyn Transport) -> Result<SyncReport, SyncProblem> {
        client::sync_now(&mut self.store, t, at(600))
    }

    /// Kinds of the documents in the device's database file, read with SQL.
    pub fn kinds_on_disk(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .store
            .document_ids()
            .expect("ids")
            .into_iter()
            .map(|id| {
                self.store
                    .header(id)
                    .expect("header")
                    .kind
                    .code()
                    .to_string()
            })
            .collect();
        kinds.sort();
        kinds
    }
}

pub fn shift_with_checks(d: &mut Device, shift: u128, post: Uuid, n: u32) -> Uuid {
    let id = Uuid::from_u128(shift);
    d.store
        .start_shift(&NewShift {
            id,
            post_id: post,
            started_at: at(0),
        })
        .expect("start shift");
    for i in 0..n {
        d.store
            .record_check(
                id,
                &CheckInput {
                    id: Uuid::from_u128(shift * 10_000 + u128::from(i)),
                    checkpoint_id: ids::checkpoint(post, 1 + i % 3),
                    method: CheckMethod::Tag,
                    result: CheckResult::AllClear,
                    note: String::new(),
                    photos: vec![],
                    at: at(i64::from(i)),
                },
            )
            .expect("check");
    }
    id
}

/// Keeps `photo` on the device and records a check of the shift's checkpoint 2 (damage found)
/// that refers to it; the photo's hash.
pub fn check_with_photo(d: &mut Device, shift: Uuid, post: Uuid, photo: &[u8]) -> String {
    let hash = d
        .store
        .add_photo(photo, at(30), &mut SeededEntropy::new(3))
        .expect("photo");
    d.store
        .record_check(
            shift,
            &CheckInput {
                id: Uuid::from_u128(0x9_0000),
                checkpoint_id: ids::checkpoint(post, 2),
                method: CheckMethod::Manual,
                result: CheckResult::Damage,
                note: "Door 2 forced open".into(),
                photos: vec![hash.clone()],
                at: at(30),
            },
        )
        .expect("check with photo");
    hash
}

pub fn incident_at(d: &mut Device, id: u128, school: Uuid, text: &str) -> Uuid {
    let i = IncidentInput {
        id: Uuid::from_u128(id),
        school_id: school,
        incident_type: IncidentType::Trespass,
        location: "North gate".into(),
        occurred_at: at(5),
        people: vec![],
        narrative: text.into(),
        actions: String::new(),
        photos: vec![],
    };
    d.store.create_incident(&i, at(6)).expect("incident");
    i.id
}

pub fn note_at(d: &mut Device, id: u128, school: Uuid, shared_with: Vec<Uuid>) -> Uuid {
    let n = NoteInput {
        id: Uuid::from_u128(id),
        school_id: school,
        student_ref: "S-77".into(),
        student_name: "Student Seventy".into(),
        contact_type: ContactType::Mentoring,
        reason: "Check-in about attendance".into(),
        outcome: "Will meet again".into(),
        referral: Referral::None,
        follow_up_on: None,
        classification: Classification::RestrictedLawEnforcement,
        shared_with,
        contacted_at: at(7),
    };
    d.store.write_note(&n, at(8)).expect("note");
    n.id
}

/// Hashes of the changes a device still has to push.
pub fn pending(d: &Device) -> std::collections::BTreeSet<[u8; 32]> {
    d.store
        .pending_changes(usize::MAX)
        .expect("pending")
        .into_iter()
        .flat_map(|p| p.changes.into_iter().map(|c| c.hash))
        .collect()
}

/// A fake JPEG of `len` bytes (the JPEG start-of-image marker, then seeded noise).
pub fn jpeg(seed: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(4)];
    rounds_core::entropy::Entropy::fill(&mut SeededEntropy::new(seed), &mut b);
    b[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    b
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The server's complete copy of a photo, if it holds one.
pub fn server_photo(server: &TestServer, hash: &str) -> Option<Vec<u8>> {
    server.storage.photo_bytes().read(hash).expect("read")
}

pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_rounds-server");

/// The real `rounds-server` binary serving a data folder on a loopback port; killed on drop.
pub struct ServerProcess {
    pub base: String,
    child: std::process::Child,
}

impl ServerProcess {
    /// Starts `rounds-server --data <folder> --database <url> serve --listen 127.0.0.1:0`
    /// with the environment `env` (`ROUNDS_*` settings) and waits for the line that says where
    /// it listens.
    pub fn start(data: &Data, env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_on(data, "127.0.0.1:0", env)
    }

    /// [`ServerProcess::start`] listening on `listen` (a restarted process on its old port).
    pub fn start_on(data: &Data, listen: &str, env: &[(&str, &str)]) -> ServerProcess {
        use std::io::BufRead;
        let mut child = std::process::Command::new(SERVER_BIN)
            .args(data.args())
            .arg("serve")
            .args(["--listen", listen])
            .envs(env.iter().copied())
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start rounds-server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the server says where it listens, not {line:?}"))
            .to_string();
        ServerProcess { base, child }
    }

    /// Sends the process SIGTERM (what a service manager or an orchestrator sends to stop it).
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// Waits up to `limit` for the process to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// Kills the process with SIGKILL (no chance to finish anything) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// `host:port` of the server, for raw TCP.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The process's peak resident memory so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `rounds-server --data <folder> --database <url> admin <args>` and returns what it
/// printed.
pub fn admin_cli(data: &Data, args: &[&str]) -> String {
    let out = std::process::Command::new(SERVER_BIN)
        .args(data.args())
        .arg("admin")
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("admin");
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// Runs `rounds-server <data> <args>` and returns whether it succeeded, with what it printed
/// (standard output, then standard error).
pub fn server_cli(data: &Data, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(SERVER_BIN)
        .args(data.args())
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("rounds-server");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs SQL on the database of `data` behind the server's back (as someone with the
/// database's files or credentials could).
pub fn raw_sql(data: &Data, sql: &str) {
    match &data.url {
        DatabaseUrl::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.join("rounds.db")).expect("open");
            conn.execute_batch(sql).expect("sql");
        }
        DatabaseUrl::Postgres(url) => {
            let db = url.rsplit('/').next().unwrap_or_default();
            cluster().psql(db, sql).expect("psql");
        }
    }
}

/// A console session (its `name=value` cookie) signed in as `who`.
pub fn console_cookie(base: &str, who: &Login) -> String {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = http
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", base)
        .body(format!(
            "username={}&password={}",
            who.username, who.password
        ))
        .send()
        .expect("sign in");
    assert_eq!(
        r.status(),
        reqwest::StatusCode::SEE_OTHER,
        "console sign-in"
    );
    r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string()
}

/// A server's state with the demo district, for a [`ServerProcess`].
pub fn seeded_district() -> Data {
    let data = Data::new();
    admin_cli(&data, &["seed-demo"]);
    data
}

/// A device enrolled on the server of `data` with a code from the admin command line, signed
/// in as `who`.
pub fn enroll_with_cli(server: &ServerProcess, data: &Data, who: &Login) -> Device {
    let code = admin_cli(data, &["enroll-code"]);
    let code = code.split_whitespace().next().expect("code");
    Device::enroll_at(&server.base, code, who)
}

/// Property-test cases: `PROPTEST_CASES` if set, else the quick `default` CI runs.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `POST /v1/sync/push` of `req` with `token`, answered 200: the decoded answer.
pub fn push_request(
    base: &str,
    token: &str,
    req: &rounds_protocol::PushRequest,
) -> rounds_protocol::PushResponse {
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/sync/push"))
        .bearer_auth(token)
        .body(rounds_protocol::encode(req))
        .send()
        .expect("send");
    assert_eq!(r.status(), 200);
    rounds_protocol::decode(&r.bytes().expect("body")).expect("decode")
}

/// Server state that no refused request may change: documents and the feed's last position.
pub fn server_state(s: &TestServer) -> (u64, u64) {
    (
        s.storage.document_count().expect("count"),
        s.storage.max_seq().expect("seq"),
    )
}

/// A signature by `key` for `person` over `change` of `doc`, as a push carries it.
pub fn change_signature(
    key: &SigningSecret,
    doc: Uuid,
    person: Uuid,
    change: [u8; 32],
) -> rounds_protocol::ChangeSignature {
    rounds_protocol::ChangeSignature {
        doc,
        change,
        person,
        key: serde_bytes::ByteBuf::from(key.public().to_vec()),
        signature: serde_bytes::ByteBuf::from(key.sign_change(doc, person, &change).to_vec()),
    }
}

/// Adds to `req` what an honest device sends with it: for each document without a
/// signature, `d`'s person's signature over the document's last listed change (which covers
/// the changes before it). For tests that push changes made outside the store.
pub fn sign_push(d: &Device, req: &mut rounds_protocol::PushRequest) {
    for doc in &req.docs {
        if req.signatures.iter().any(|s| s.doc == doc.header.id) {
            continue;
        }
        let Some(last) = doc
            .changes
            .last()
            .and_then(|c| automerge::Change::from_bytes(c.to_vec()).ok())
        else {
            continue;
        };
        req.signatures.push(change_signature(
            &d.signing,
            doc.header.id,
            d.session.person_id,
            last.hash().0,
        ));
    }
}

/// One document's part of a push: its header and these change bytes.
pub fn doc_changes(
    header: &rounds_core::document::Header,
    changes: Vec<Vec<u8>>,
) -> rounds_protocol::DocChanges {
    rounds_protocol::DocChanges {
        header: rounds_core::wire::header_to_wire(header),
        changes: changes
            .into_iter()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
    }
}

/// Every change of `am`, as bytes.
pub fn all_changes(am: &automerge::Automerge) -> Vec<Vec<u8>> {
    am.get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// A test's transport over the real one: it overrides the calls it changes (losing,
/// repeating, garbling or recording them) and every other call goes through unchanged. Sync
/// through it wrapped in [`Via`].
pub trait Intercept {
    /// The real transport underneath.
    fn inner(&mut self) -> &mut HttpTransport;

    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.inner().push(body)
    }

    fn pull(
        &mut self,
        after: u64,
        reference: u64,
        max: u32,
        whole: bool,
    ) -> Result<Option<Vec<u8>>, SyncProblem> {
        self.inner().pull(after, reference, max, whole)
    }

    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.inner().fetch(body)
    }

    fn device_events(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.inner().device_events(body)
    }

    fn photo_status(
        &mut self,
        hash: &str,
        record: Uuid,
    ) -> Result<rounds_protocol::PhotoStatus, SyncProblem> {
        self.inner().photo_status(hash, record)
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<rounds_protocol::PhotoStatus, SyncProblem> {
        self.inner().photo_put(hash, record, offset, total, chunk)
    }
}

/// The [`Transport`] of an [`Intercept`] (the test's own state is `.0`).
pub struct Via<I>(pub I);

impl<I: Intercept> Transport for Via<I> {
    fn push(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.0.push(body)
    }
    fn pull(
        &mut self,
        after: u64,
        reference: u64,
        max: u32,
        whole: bool,
    ) -> Result<Option<Vec<u8>>, SyncProblem> {
        self.0.pull(after, reference, max, whole)
    }
    fn fetch(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.0.fetch(body)
    }
    fn device_events(&mut self, body: Vec<u8>) -> Result<Vec<u8>, SyncProblem> {
        self.0.device_events(body)
    }
    fn photo_status(
        &mut self,
        hash: &str,
        record: Uuid,
    ) -> Result<rounds_protocol::PhotoStatus, SyncProblem> {
        self.0.photo_status(hash, record)
    }
    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<rounds_protocol::PhotoStatus, SyncProblem> {
        self.0.photo_put(hash, record, offset, total, chunk)
    }
}

//! The PostgreSQL backend's foundations: its migrations, run at start by every server process
//! and safe when several start at once, and the change feed's positions in commit order. The
//! photos' bytes are [`super::postgres_photos::PgPhotos`].
//!
//! [`PgStorage`] implements the storage traits over them, one concern per file
//! (`postgres/directory.rs`, `sync.rs`, `photos.rs`, `console.rs`; the photos' bytes are
//! [`PgPhotos`] in `photo_bytes.rs`). Nothing is kept per process: sessions, console sessions,
//! the sign-in throttle, enrollment codes, upload offsets and photo locks are rows or advisory
//! locks in the database, so any process answers any request.
//!
//! Driver: `tokio-postgres` with `deadpool-postgres`'s pool. It is async, as the server is; it
//! prepares and caches statements per connection; and it is small to build (the server has
//! tokio already), where sqlx would bring its macros and their build time into every CI run.
//!
//! **The feed in commit order.** A change's feed position comes from one counter row,
//! `feed_position`, updated by the transaction that stores the change ([`take_positions`]).
//! The row stays locked until that transaction commits or rolls back, so a later transaction
//! takes its positions only after the earlier one is settled: positions are in commit order,
//! and a reader whose cursor passed position N has seen every change at or below N that will
//! ever commit. A sequence would hand out numbers at insert time instead, and a lower number
//! could commit after a higher one was read, skipped forever by every device past it. The cost
//! is that commits of changes queue for the counter; each holds it only from the update to its
//! commit, which is why a backend takes positions as the last step before committing.

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Manager, Pool};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, NoTls, Transaction};

use super::{Result, StorageError};

mod audit;
mod console;
mod directory;
mod photo_bytes;
mod photos;
mod sync;

pub use photo_bytes::PgPhotos;

/// A connection pool to one database and the small runtime its connections run on. The
/// storage traits are synchronous (the server calls them from its blocking pool); [`PgDb::run`]
/// drives a query to its end from the calling thread.
pub struct PgDb {
    /// Always `Some` until dropped (see `Drop`).
    rt: Option<tokio::runtime::Runtime>,
    pool: Pool,
    config: tokio_postgres::Config,
}

/// Connections per process: a push holds one for its transaction, a pull one for its read.
const POOL_SIZE: usize = 16;

impl PgDb {
    /// A pool for `url` (`postgres://user@host:port/db`); connects lazily.
    pub fn connect(url: &str) -> Result<PgDb> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError::backend(format!("database URL: {e}")))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("rounds-pg")
            .build()
            .map_err(|e| StorageError::Backend(Box::new(e)))?;
        let pool = {
            let _in_rt = rt.enter();
            Pool::builder(Manager::new(config.clone(), NoTls))
                .max_size(POOL_SIZE)
                .build()
                .map_err(|e| StorageError::backend(e.to_string()))?
        };
        Ok(PgDb {
            rt: Some(rt),
            pool,
            config,
        })
    }

    /// Runs `f` to its end on this thread, with the pool's runtime entered (so connections it
    /// opens run there). Callable from any thread, including a runtime's own (a test body).
    pub fn run<T>(&self, f: impl Future<Output = T>) -> T {
        let _in_rt = self.rt.as_ref().map(|rt| rt.enter());
        futures_executor::block_on(f)
    }

    /// A pooled connection.
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .map_err(|e| StorageError::backend(format!("database pool: {e}")))
    }
}

impl Drop for PgDb {
    /// The pool's runtime stops without waiting: the last handle may be dropped on another
    /// runtime's thread (the server's, at shutdown), where blocking is not allowed.
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            Some(c)
                if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::FOREIGN_KEY_VIOLATION
                    || *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION =>
            {
                StorageError::Conflict(e.to_string())
            }
            _ => StorageError::Backend(Box::new(e)),
        }
    }
}

/// Whether a transaction failed only because it raced another (a deadlock PostgreSQL broke,
/// or a serialization failure): run it again.
fn is_retryable(e: &StorageError) -> bool {
    match e {
        StorageError::Backend(b) => b
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|e| e.code())
            .is_some_and(|c| {
                *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
            }),
        StorageError::Conflict(_) => false,
    }
}

/// The PostgreSQL backend: every storage trait over one database that several server
/// processes share.
pub struct PgStorage {
    db: Arc<PgDb>,
    photos: PgPhotos,
}

impl PgStorage {
    /// Connects to `url` and brings its schema up to date (safe while other processes do the
    /// same).
    pub fn open(url: &str) -> Result<PgStorage> {
        let db = Arc::new(PgDb::connect(url)?);
        db.run(async {
            let mut c = db.client().await?;
            migrate(&mut c).await?;
            // A newer build migrated it further: this one does not know that schema.
            let found = schema_version(&**c).await?;
            let known = MIGRATIONS.len() as i32;
            if found > known {
                return Err(StorageError::Conflict(format!(
                    "the database was written by a newer server (schema {found}, this build knows up to {known})"
                )));
            }
            Ok::<_, StorageError>(())
        })?;
        Ok(PgStorage {
            photos: PgPhotos::on(db.clone()),
            db,
        })
    }

    /// Runs a read on a pooled connection.
    fn read<T>(&self, f: impl AsyncFnOnce(&deadpool_postgres::Object) -> Result<T>) -> Result<T> {
        self.db.run(async {
            let c = self.db.client().await?;
            f(&c).await
        })
    }

    /// Runs `f` in a transaction and commits it; runs it again (up to 5 times in all) when
    /// it lost a race PostgreSQL broke (a deadlock or serialization failure).
    fn write<T>(
        &self,
        f: impl AsyncFn(&deadpool_postgres::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        self.db.run(async {
            let mut c = self.db.client().await?;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let tx = c.transaction().await?;
                let out = match f(&tx).await {
                    Ok(out) => tx.commit().await.map(|()| out).map_err(StorageError::from),
                    Err(e) => Err(e),
                };
                match out {
                    Err(e) if attempt < 5 && is_retryable(&e) => continue,
                    other => return other,
                }
            }
        })
    }
}

/// A stored id.
fn uid(s: &str) -> Result<uuid::Uuid> {
    s.parse()
        .map_err(|e| StorageError::backend(format!("stored id {s:?}: {e}")))
}

/// A stored code, read through its vocabulary (a code the server did not write is damage).
fn code<T>(r: std::result::Result<T, rounds_domain::Error>) -> Result<T> {
    r.map_err(|e| StorageError::backend(format!("stored code: {e}")))
}

/// The header in the row's columns from `at` on ([`super::rows::HEADER_COLS`]'s order).
fn header_at(r: &tokio_postgres::Row, at: usize) -> Result<rounds_domain::document::Header> {
    use rounds_domain::model::{Classification, DocKind};
    Ok(rounds_domain::document::Header {
        id: uid(r.try_get(at)?)?,
        kind: code(DocKind::parse(r.try_get(at + 1)?, "kind"))?,
        school_id: uid(r.try_get(at + 2)?)?,
        author_id: uid(r.try_get(at + 3)?)?,
        device_id: uid(r.try_get(at + 4)?)?,
        created_at: super::rows::time(r.try_get(at + 5)?),
        classification: code(Classification::parse(r.try_get(at + 6)?, "classification"))?,
    })
}

/// The migrations, in order; `schema_migrations` records which ran.
pub const MIGRATIONS: &[&str] = &[
    include_str!("../../../../migrations/server/postgres/0001_init.sql"),
    include_str!("../../../../migrations/server/postgres/0002_compaction.sql"),
    include_str!("../../../../migrations/server/postgres/0003_packed_checks.sql"),
    include_str!("../../../../migrations/server/postgres/0004_audit.sql"),
    include_str!("../../../../migrations/server/postgres/0005_signatures.sql"),
    include_str!("../../../../migrations/server/postgres/0006_audit_docs.sql"),
    include_str!("../../../../migrations/server/postgres/0007_device_events.sql"),
    include_str!("../../../../migrations/server/postgres/0008_wipe.sql"),
];

/// The schema version whose migration packs `patrol_checks` into `shifts.checks`.
const PACKED_CHECKS: i32 = 3;

/// Migration 3's step in Rust: every shift's rows of `patrol_checks` packed into its
/// `shifts.checks`, then the table dropped.
async fn pack_check_rows(tx: &Transaction<'_>) -> std::result::Result<(), tokio_postgres::Error> {
    use super::{CheckRow, check_pack};
    let rows = tx
        .query(
            "SELECT shift_id, id, checkpoint_id, result, note, at FROM patrol_checks
             ORDER BY shift_id, at, id",
            &[],
        )
        .await?;
    let mut by_shift: std::collections::BTreeMap<String, Vec<CheckRow>> = Default::default();
    for r in rows {
        // Rows this server wrote; one that does not read is damage, logged and left out (the
        // document still holds the check) rather than stopping every process from starting.
        let (Ok(id), Ok(cp), Ok(result)) = (
            r.get::<_, &str>(1).parse(),
            r.get::<_, &str>(2).parse(),
            rounds_domain::model::CheckResult::parse(r.get(3), "result"),
        ) else {
            tracing::warn!(shift = r.get::<_, &str>(0), "unreadable check row left out");
            continue;
        };
        by_shift.entry(r.get(0)).or_default().push(CheckRow {
            id,
            checkpoint_id: cp,
            result,
            note: r.get(4),
            at: super::rows::time(r.get(5)),
        });
    }
    let st = tx
        .prepare("UPDATE shifts SET checks = $2 WHERE id = $1")
        .await?;
    for (shift, checks) in by_shift {
        tx.execute(&st, &[&shift, &check_pack::pack(&checks)])
            .await?;
    }
    tx.batch_execute("DROP TABLE patrol_checks").await
}

/// The advisory lock every process takes to migrate: one migrates, the others wait and then
/// find nothing to do. (Any constant unique to Rounds; this one spells "rounds" in ASCII.)
const MIGRATION_LOCK: i64 = 0x726f_756e_6473;

/// Brings the database to the newest schema this build knows; refuses a newer one. Safe to
/// run from several processes at once.
pub async fn migrate(
    client: &mut tokio_postgres::Client,
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let done: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i32 + 1;
        if version > done {
            tx.batch_execute(sql).await?;
            if version == PACKED_CHECKS {
                pack_check_rows(&tx).await?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
    }
    tx.commit().await
}

/// The schema version a database is at (0: none).
pub async fn schema_version(
    client: &impl GenericClient,
) -> std::result::Result<i32, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0))
}

/// Takes `n` consecutive feed positions for changes `tx` stores; returns the first. The
/// counter stays locked until `tx` ends (see the module doc): take positions last, just
/// before committing.
pub async fn take_positions(
    tx: &Transaction<'_>,
    n: i64,
) -> std::result::Result<i64, tokio_postgres::Error> {
    Ok(tx
        .query_one(
            "UPDATE feed_position SET next = next + $1 WHERE only_row RETURNING next - $1",
            &[&n],
        )
        .await?
        .get(0))
}

/// The feed positions stored after `after`, in order, at most `limit`.
pub async fn positions_after(
    client: &impl GenericClient,
    after: i64,
    limit: i64,
) -> std::result::Result<Vec<i64>, tokio_postgres::Error> {
    Ok(client
        .query(
            "SELECT seq FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&after, &limit],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::Duration;

    use tokio_postgres::NoTls;

    use super::super::contract;
    use super::*;

    /// One cluster for the storage tests (each gets its own database).
    fn shared_cluster() -> &'static rounds_pgtest::Cluster {
        static CLUSTER: OnceLock<rounds_pgtest::Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| rounds_pgtest::Cluster::start().expect("cluster"))
    }

    fn storage(db: &str) -> (String, PgStorage) {
        let url = shared_cluster().create_database(db).expect("db");
        let st = PgStorage::open(&url).expect("open");
        (url, st)
    }

    #[test]
    fn a_parallel_burst_admits_exactly_the_limit() {
        contract::a_parallel_burst_admits_exactly_the_limit(Arc::new(storage("burst").1));
    }

    #[test]
    fn failures_count_for_the_window_and_a_success_forgives_the_name() {
        contract::failures_count_for_the_window_and_a_success_forgives_the_name(
            &storage("window").1,
        );
    }

    #[test]
    fn two_processes_on_one_database_share_the_counts() {
        let (url, a) = storage("two_handles");
        let b = PgStorage::open(&url).expect("second handle migrates nothing and opens");
        contract::two_handles_on_one_database_share_the_counts(&a, &b);
    }

    #[test]
    fn a_database_migrated_by_a_newer_build_is_refused() {
        let (url, st) = storage("newer");
        drop(st);
        shared_cluster()
            .psql(
                "newer",
                "INSERT INTO schema_migrations (version) VALUES (999)",
            )
            .expect("a newer build's migration");
        let refused = PgStorage::open(&url).err().expect("refused");
        assert!(
            refused.to_string().contains("schema 999"),
            "says which schema it found: {refused}"
        );
    }

    #[test]
    fn a_database_from_before_packed_checks_keeps_every_check() {
        let cluster = shared_cluster();
        let url = cluster.create_database("packed").expect("db");
        // A database as schema 2 left it, with a shift's checks as rows.
        let mut old = String::from(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
        );
        for (i, sql) in MIGRATIONS[..PACKED_CHECKS as usize - 1].iter().enumerate() {
            old.push_str(sql);
            old.push_str(&format!(
                ";\nINSERT INTO schema_migrations (version) VALUES ({});\n",
                i + 1
            ));
        }
        old.push_str(contract::ROWS_BEFORE_PACKED_CHECKS);
        cluster.psql("packed", &old).expect("old schema and rows");
        drop(PgStorage::open(&url).expect("migrates"));
        let packed = |shift: &str| -> Vec<u8> {
            let hex_text = cluster
                .psql(
                    "packed",
                    &format!("SELECT encode(checks, 'hex') FROM shifts WHERE id = '{shift}'"),
                )
                .expect("shift");
            hex::decode(hex_text.trim()).expect("hex")
        };
        contract::rows_before_packed_checks_were_packed(&packed("s1"), &packed("s2"));
        let left = cluster
            .psql("packed", "SELECT to_regclass('patrol_checks') IS NULL")
            .expect("schema");
        assert_eq!(left.trim(), "t", "the rows' table is gone");
    }

    #[test]
    fn compaction_keeps_every_change_and_the_feed_points_to_what_was_folded() {
        contract::compaction_keeps_every_change_and_the_feed_points_to_what_was_folded(
            &storage("compaction").1,
        );
    }

    #[test]
    fn signing_keys_and_signatures_are_kept() {
        contract::signing_keys_and_signatures_are_kept(&storage("signing").1);
    }

    #[test]
    fn a_new_password_or_a_deactivation_ends_the_persons_sessions() {
        contract::a_new_password_or_a_deactivation_ends_the_persons_sessions(
            &storage("sessions").1,
        );
    }

    async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await.expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    async fn store_change(tx: &Transaction<'_>, doc: &str, seq: i64) {
        tx.execute(
            "INSERT INTO documents (id, kind, school_id, author_id, device_id, created_at, classification, version)
             VALUES ($1, 'incident', 's', 'a', 'd', 0, 'internal', 1) ON CONFLICT DO NOTHING",
            &[&doc],
        )
        .await
        .expect("document");
        tx.execute(
            "INSERT INTO changes (seq, doc_id, hash, bytes) VALUES ($1, $2, $3, $4)",
            &[&seq, &doc, &vec![seq as u8; 32], &vec![0u8; 4]],
        )
        .await
        .expect("change");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn several_processes_migrating_at_once_migrate_once() {
        let cluster = rounds_pgtest::Cluster::start().expect("cluster");
        let url = cluster.create_database("migrations").expect("db");
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = connect(&url).await;
                migrate(&mut c).await
            }));
        }
        for t in tasks {
            t.await
                .expect("joined")
                .expect("every process migrates or finds it done");
        }
        let c = connect(&url).await;
        assert_eq!(
            schema_version(&c).await.expect("version"),
            MIGRATIONS.len() as i32
        );
        let runs: i64 = c
            .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
            .await
            .expect("count")
            .get(0);
        assert_eq!(runs, MIGRATIONS.len() as i64, "each migration ran once");
    }

    /// T1 takes a feed position and has not committed; T2 wants a later one. If T2 could
    /// commit first, a pull between T2's commit and T1's would move a device's cursor past
    /// T1's position, and T1's change would never reach it. Here T2 waits for T1: the pull
    /// in between sees nothing new, and the next pulls see T1's change, then T2's.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn feed_positions_follow_commit_order_so_no_pull_skips_a_change() {
        let cluster = rounds_pgtest::Cluster::start().expect("cluster");
        let url = cluster.create_database("feed").expect("db");
        let mut c1 = connect(&url).await;
        migrate(&mut c1).await.expect("migrate");
        let mut c2 = connect(&url).await;
        let reader = connect(&url).await;

        let t1 = c1.transaction().await.expect("t1");
        let p1 = take_positions(&t1, 1).await.expect("T1 takes a position");
        store_change(&t1, "doc-1", p1).await;

        let (taken_tx, mut taken_rx) = tokio::sync::mpsc::channel(1);
        let t2_task = tokio::spawn(async move {
            let t2 = c2.transaction().await.expect("t2");
            let p2 = take_positions(&t2, 1).await.expect("T2 takes a position");
            taken_tx.send(p2).await.expect("send");
            store_change(&t2, "doc-2", p2).await;
            t2.commit().await.expect("T2 commits");
            p2
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(500), taken_rx.recv())
                .await
                .is_err(),
            "T2 cannot take a later position while T1 is open"
        );
        let cursor = 0;
        assert_eq!(
            positions_after(&reader, cursor, 100).await.expect("pull"),
            Vec::<i64>::new(),
            "a pull while T1 is open sees nothing, so no cursor moves past T1's position"
        );
        t1.commit().await.expect("T1 commits");
        let p2 = t2_task.await.expect("T2 done");
        assert!(p2 > p1, "T2's position comes after T1's");
        assert_eq!(
            positions_after(&reader, cursor, 100).await.expect("pull"),
            vec![p1, p2],
            "the next pull returns T1's change, then T2's"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rolled_back_transaction_gives_its_positions_back_and_stores_nothing() {
        let cluster = rounds_pgtest::Cluster::start().expect("cluster");
        let url = cluster.create_database("gap").expect("db");
        let mut c = connect(&url).await;
        migrate(&mut c).await.expect("migrate");
        let t = c.transaction().await.expect("tx");
        let lost = take_positions(&t, 3).await.expect("positions");
        store_change(&t, "doc-lost", lost).await;
        t.rollback().await.expect("rollback");
        let t = c.transaction().await.expect("tx");
        let kept = take_positions(&t, 1).await.expect("position");
        store_change(&t, "doc-kept", kept).await;
        t.commit().await.expect("commit");
        assert_eq!(
            kept, lost,
            "a rolled-back transaction's positions are taken again"
        );
        assert_eq!(positions_after(&c, 0, 100).await.expect("pull"), vec![kept]);
    }
}

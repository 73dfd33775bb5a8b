//! Moving a district from the embedded store to PostgreSQL (`rounds-server migrate --from
//! sqlite:<folder> --to postgres://…`; see `docs/deploy.md`).
//!
//! The two schemas hold the same tables with the same columns (ids as text, times as integer
//! milliseconds), so every table is copied row for row, in batches of [`BATCH`] rows, each batch
//! one statement (`unnest` of one array per column) that skips rows the target holds already
//! (`ON CONFLICT DO NOTHING` on the table's key). The changes keep their feed positions (`seq`),
//! so every device's cursor means the same on the new server, and the feed's counter is set
//! past the last one. Photos are copied from their files into the database's chunks, each
//! checked against its hash.
//!
//! Re-running after an interruption copies what is missing and duplicates nothing, because
//! every row is keyed. A target that already holds people or documents is refused unless
//! `resume` says it is this migration's own, interrupted.
//!
//! At the end it verifies: for every table, the row count and a digest of the rows (the XOR of
//! each row's SHA-256 over its values, so the two databases' orderings do not matter) are the
//! same on both sides, and every photo's bytes in the target hash to its name.
//!
//! The source is read in one read transaction (one snapshot); stop the server on it first, or
//! changes it accepts during the copy are not carried over.

use std::path::Path;

use futures_util::TryStreamExt;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;

use super::photo_files::PhotoFiles;
use super::photo_store::PhotoStore;
use super::postgres::{PgDb, migrate as migrate_schema};
use super::{Result, StorageError};

/// Rows per statement.
pub const BATCH: usize = 1000;

/// Bytes per stored photo chunk (the same as the photo upload's chunks).
const PHOTO_CHUNK: usize = rounds_protocol::PHOTO_CHUNK;

/// A column's type on PostgreSQL (SQLite stores each as text, integer or blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int8,
    Int4,
    Bool,
    Bytes,
}

use Kind::*;

/// A table, its columns, and its key.
struct Table {
    name: &'static str,
    cols: &'static [(&'static str, Kind)],
    key: &'static str,
}

/// Every table that holds the district's state, parents before children (the foreign keys).
/// Not copied: `reference_version`, `feed_position` and `audit_head` (set at the end), and uploads still in
/// progress (their devices start those photos again).
const TABLES: &[Table] = &[
    Table {
        name: "schools",
        cols: &[("id", Text), ("name", Text)],
        key: "id",
    },
    Table {
        name: "posts",
        cols: &[
            ("id", Text),
            ("school_id", Text),
            ("name", Text),
            ("orders", Text),
        ],
        key: "id",
    },
    Table {
        name: "checkpoints",
        cols: &[
            ("id", Text),
            ("post_id", Text),
            ("name", Text),
            ("tag_code", Text),
            ("position", Int4),
            ("first_due_minutes", Int4),
            ("interval_minutes", Int4),
            ("grace_minutes", Int4),
        ],
        key: "id",
    },
    Table {
        name: "people",
        cols: &[
            ("id", Text),
            ("username", Text),
            ("name", Text),
            ("role", Text),
            ("password_hash", Text),
            ("active", Bool),
        ],
        key: "id",
    },
    Table {
        name: "person_schools",
        cols: &[("person_id", Text), ("school_id", Text)],
        key: "person_id, school_id",
    },
    Table {
        name: "enrollment_codes",
        cols: &[
            ("code_hash", Text),
            ("created_by", Text),
            ("created_at", Int8),
            ("expires_at", Int8),
            ("used_at", Int8),
            ("device_id", Text),
        ],
        key: "code_hash",
    },
    Table {
        name: "devices",
        cols: &[
            ("id", Text),
            ("name", Text),
            ("secret_hash", Text),
            ("enrolled_at", Int8),
            ("revoked_at", Int8),
            ("wipe", Text),
            ("wiped_at", Int8),
        ],
        key: "id",
    },
    Table {
        name: "sessions",
        cols: &[
            ("token_hash", Text),
            ("person_id", Text),
            ("device_id", Text),
            ("created_at", Int8),
            ("expires_at", Int8),
        ],
        key: "token_hash",
    },
    Table {
        name: "documents",
        cols: &[
            ("id", Text),
            ("kind", Text),
            ("school_id", Text),
            ("author_id", Text),
            ("device_id", Text),
            ("created_at", Int8),
            ("classification", Text),
            ("version", Int8),
            ("changed_at", Int8),
            ("loose", Int8),
        ],
        key: "id",
    },
    Table {
        name: "changes",
        cols: &[
            ("seq", Int8),
            ("doc_id", Text),
            ("hash", Bytes),
            ("bytes", Bytes),
        ],
        key: "seq",
    },
    Table {
        name: "saved_docs",
        cols: &[
            ("doc_id", Text),
            ("through_seq", Int8),
            ("bytes", Bytes),
            ("change_count", Int8),
            ("change_bytes", Int8),
            ("change_ops", Int8),
        ],
        key: "doc_id",
    },
    Table {
        name: "doc_readers",
        cols: &[("doc_id", Text), ("person_id", Text)],
        key: "doc_id, person_id",
    },
    Table {
        name: "shifts",
        cols: &[
            ("id", Text),
            ("school_id", Text),
            ("post_id", Text),
            ("guard_id", Text),
            ("started_at", Int8),
            ("ended_at", Int8),
            ("check_count", Int4),
            ("checks", Bytes),
        ],
        key: "id",
    },
    Table {
        name: "incidents",
        cols: &[
            ("id", Text),
            ("school_id", Text),
            ("author_id", Text),
            ("type", Text),
            ("status", Text),
            ("location", Text),
            ("occurred_at", Int8),
            ("submitted_at", Int8),
        ],
        key: "id",
    },
    Table {
        name: "photos",
        cols: &[
            ("hash", Text),
            ("bytes", Int8),
            ("device_id", Text),
            ("person_id", Text),
            ("uploaded_at", Int8),
        ],
        key: "hash",
    },
    Table {
        name: "photo_uploads",
        cols: &[
            ("hash", Text),
            ("record_id", Text),
            ("device_id", Text),
            ("person_id", Text),
            ("bytes", Int8),
            ("uploaded_at", Int8),
            ("confirmed", Bool),
        ],
        key: "hash, record_id",
    },
    Table {
        name: "console_sessions",
        cols: &[
            ("token_hash", Text),
            ("person_id", Text),
            ("csrf", Text),
            ("created_at", Int8),
            ("last_seen_at", Int8),
            ("expires_at", Int8),
        ],
        key: "token_hash",
    },
    Table {
        name: "sign_in_attempts",
        cols: &[("attempt_id", Text), ("throttle_key", Text), ("at", Int8)],
        key: "attempt_id, throttle_key",
    },
    // The audit trail row for row, bodies and hashes as they are: the chain verifies the same
    // on the new server (its head is set at the end).
    Table {
        name: "audit_log",
        cols: &[
            ("seq", Int8),
            ("at", Int8),
            ("kind", Text),
            ("person_id", Text),
            ("device_id", Text),
            ("body", Text),
            ("prev", Bytes),
            ("hash", Bytes),
        ],
        key: "seq",
    },
    Table {
        name: "audit_docs",
        cols: &[("doc_id", Text), ("seq", Int8)],
        key: "doc_id, seq",
    },
    Table {
        name: "device_events",
        cols: &[("device_id", Text), ("event_id", Text), ("seq", Int8)],
        key: "device_id, event_id",
    },
    // Signing keys and the signatures over stored changes, as they are.
    Table {
        name: "signing_keys",
        cols: &[
            ("public_key", Bytes),
            ("person_id", Text),
            ("device_id", Text),
            ("registered_at", Int8),
            ("revoked_at", Int8),
        ],
        key: "public_key",
    },
    Table {
        name: "change_signatures",
        cols: &[
            ("doc_id", Text),
            ("hash", Bytes),
            ("person_id", Text),
            ("device_id", Text),
            ("public_key", Bytes),
            ("signature", Bytes),
            ("received_at", Int8),
        ],
        key: "doc_id, hash, person_id",
    },
];

/// One value as both databases read it (booleans as 0 and 1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn digest_into(&self, h: &mut Sha256) {
        match self {
            Value::Null => h.update([0u8]),
            Value::Int(i) => {
                h.update([1u8]);
                h.update(i.to_be_bytes());
            }
            Value::Text(s) => {
                h.update([2u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            Value::Bytes(b) => {
                h.update([3u8]);
                h.update((b.len() as u64).to_be_bytes());
                h.update(b);
            }
        }
    }
}

/// Row count and order-free digest of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Fingerprint {
    rows: u64,
    digest: [u8; 32],
}

impl Fingerprint {
    fn add(&mut self, row: &[Value]) {
        let mut h = Sha256::new();
        for v in row {
            v.digest_into(&mut h);
        }
        let d = h.finalize();
        for (a, b) in self.digest.iter_mut().zip(d.iter()) {
            *a ^= b;
        }
        self.rows += 1;
    }
}

/// One column's values of a batch, as the array PostgreSQL's `unnest` takes.
enum Column {
    Text(Vec<Option<String>>),
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Bool(Vec<Option<bool>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Column {
    fn new(kind: Kind) -> Column {
        match kind {
            Text => Column::Text(Vec::new()),
            Int8 => Column::Int8(Vec::new()),
            Int4 => Column::Int4(Vec::new()),
            Bool => Column::Bool(Vec::new()),
            Bytes => Column::Bytes(Vec::new()),
        }
    }

    fn push(&mut self, v: &Value, table: &str, col: &str) -> Result<()> {
        let bad = || StorageError::backend(format!("{table}.{col}: unexpected value {v:?}"));
        match (self, v) {
            (Column::Text(c), Value::Null) => c.push(None),
            (Column::Text(c), Value::Text(s)) => c.push(Some(s.clone())),
            (Column::Int8(c), Value::Null) => c.push(None),
            (Column::Int8(c), Value::Int(i)) => c.push(Some(*i)),
            (Column::Int4(c), Value::Null) => c.push(None),
            (Column::Int4(c), Value::Int(i)) => c.push(Some(i32::try_from(*i).map_err(|_| bad())?)),
            (Column::Bool(c), Value::Null) => c.push(None),
            (Column::Bool(c), Value::Int(i)) => c.push(Some(*i != 0)),
            (Column::Bytes(c), Value::Null) => c.push(None),
            (Column::Bytes(c), Value::Bytes(b)) => c.push(Some(b.clone())),
            _ => return Err(bad()),
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Text(c) => c,
            Column::Int8(c) => c,
            Column::Int4(c) => c,
            Column::Bool(c) => c,
            Column::Bytes(c) => c,
        }
    }

    fn sql_type(kind: Kind) -> &'static str {
        match kind {
            Text => "text[]",
            Int8 => "bigint[]",
            Int4 => "integer[]",
            Bool => "boolean[]",
            Bytes => "bytea[]",
        }
    }
}

fn sqlite_value(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match r.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(f) => Value::Int(f as i64),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    })
}

fn pg_value(r: &tokio_postgres::Row, i: usize, kind: Kind) -> Result<Value> {
    Ok(match kind {
        Text => r
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
        Int8 => r
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Int4 => r
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |n| Value::Int(n.into())),
        Bool => r
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |b| Value::Int(b.into())),
        Bytes => r
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Bytes),
    })
}

/// What a migration did, table by table.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    /// Per table: rows in the source, rows the run inserted (fewer on a resumed run).
    pub tables: Vec<(&'static str, u64, u64)>,
    /// Photos whose bytes were copied by this run.
    pub photos_copied: u64,
    /// Photos the source records whose files were gone (the sweep removed them).
    pub photos_missing: u64,
    /// The feed position the target's next change takes.
    pub next_feed_position: i64,
}

/// Copies the embedded store in `dir` into the PostgreSQL database at `url` (migrating its
/// schema first), then verifies the copy. `resume`: the target may hold rows already (an
/// interrupted run's). `progress` hears a line per batch.
pub fn sqlite_to_postgres(
    dir: &Path,
    url: &str,
    resume: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<MigrationReport> {
    let path = dir.join("rounds.db");
    if !path.exists() {
        return Err(StorageError::Conflict(format!(
            "{} holds no store (no rounds.db)",
            dir.display()
        )));
    }
    // Bring the source to this build's schema first (opening migrates), then read it alone.
    drop(super::SqliteStorage::open(dir)?);
    let mut src = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let snapshot = src.transaction()?;
    let db = PgDb::connect(url)?;
    db.run(async {
        let mut c = db.client().await?;
        migrate_schema(&mut c).await?;
        let held: i64 = c
            .query_one(
                "SELECT (SELECT count(*) FROM people) + (SELECT count(*) FROM documents)",
                &[],
            )
            .await?
            .get(0);
        if held > 0 && !resume {
            return Err(StorageError::Conflict(format!(
                "the target database is not empty ({held} people and documents): pass --resume to continue an interrupted migration into it"
            )));
        }
        Ok(())
    })?;

    let mut report = MigrationReport::default();
    for t in TABLES {
        let inserted = copy_table(&snapshot, &db, t, progress)?;
        let rows: i64 =
            snapshot.query_row(&format!("SELECT count(*) FROM {}", t.name), [], |r| {
                r.get(0)
            })?;
        progress(&format!("{}: {rows} rows ({inserted} new)", t.name));
        report.tables.push((t.name, rows.max(0) as u64, inserted));
    }

    let reference: i64 =
        snapshot.query_row("SELECT version FROM reference_version", [], |r| r.get(0))?;
    report.next_feed_position = db.run(async {
        let c = db.client().await?;
        c.execute(
            "UPDATE reference_version SET version = GREATEST(version, $1)",
            &[&reference],
        )
        .await?;
        let next: i64 = c
            .query_one(
                "UPDATE feed_position SET next = GREATEST(next, (SELECT coalesce(max(seq), 0) + 1 FROM changes),
                     (SELECT coalesce(max(through_seq), 0) + 1 FROM saved_docs))
                 RETURNING next",
                &[],
            )
            .await?
            .get(0);
        // The audit trail goes on from its last copied entry.
        c.execute(
            "UPDATE audit_head SET seq = l.seq, hash = l.hash
             FROM (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1) l
             WHERE only_row AND l.seq > audit_head.seq",
            &[],
        )
        .await?;
        Ok::<_, StorageError>(next)
    })?;

    let files = PhotoFiles::new(dir.join("photos"));
    let hashes: Vec<String> = {
        let mut stmt = snapshot.prepare("SELECT hash FROM photos ORDER BY hash")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?
    };
    for hash in &hashes {
        match copy_photo(&db, &files, hash)? {
            PhotoCopy::Copied => report.photos_copied += 1,
            PhotoCopy::Held => {}
            PhotoCopy::Missing => report.photos_missing += 1,
        }
    }
    progress(&format!(
        "photos: {} ({} new, {} without a file)",
        hashes.len(),
        report.photos_copied,
        report.photos_missing
    ));

    verify(&snapshot, &db, &hashes, report.photos_missing)?;
    progress("verified: every table's rows and every photo's bytes match");
    // Statistics for the planner now, not at autovacuum's leisure: a database just filled
    // without them answered a supervisor's first pull with plans costing PostgreSQL some
    // fourteen times the CPU (docs/storage.md#sizing).
    db.run(async {
        db.client().await?.batch_execute("ANALYZE").await?;
        Ok::<_, StorageError>(())
    })?;
    progress("analyzed");
    snapshot.finish()?;
    Ok(report)
}

fn copy_table(
    src: &rusqlite::Transaction<'_>,
    db: &PgDb,
    t: &Table,
    progress: &mut dyn FnMut(&str),
) -> Result<u64> {
    let names: Vec<&str> = t.cols.iter().map(|(n, _)| *n).collect();
    let list = names.join(", ");
    let arrays: Vec<String> = t
        .cols
        .iter()
        .enumerate()
        .map(|(i, (_, k))| format!("${}::{}", i + 1, Column::sql_type(*k)))
        .collect();
    let insert = format!(
        "INSERT INTO {} ({list}) SELECT * FROM unnest({}) ON CONFLICT DO NOTHING",
        t.name,
        arrays.join(", ")
    );
    let mut stmt = src.prepare(&format!("SELECT {list} FROM {} ORDER BY {}", t.name, t.key))?;
    let mut rows = stmt.query([])?;
    let mut inserted = 0u64;
    let mut copied = 0u64;
    let mut batch: Vec<Column> = t.cols.iter().map(|(_, k)| Column::new(*k)).collect();
    let mut n = 0usize;
    let flush = |batch: &mut Vec<Column>| -> Result<u64> {
        let params: Vec<&(dyn ToSql + Sync)> = batch.iter().map(Column::param).collect();
        let done = db.run(async {
            let c = db.client().await?;
            Ok::<_, StorageError>(c.execute(insert.as_str(), &params).await?)
        })?;
        *batch = t.cols.iter().map(|(_, k)| Column::new(*k)).collect();
        Ok(done)
    };
    while let Some(r) = rows.next()? {
        for (i, (col, _)) in t.cols.iter().enumerate() {
            batch[i].push(&sqlite_value(r, i)?, t.name, col)?;
        }
        n += 1;
        if n == BATCH {
            inserted += flush(&mut batch)?;
            copied += n as u64;
            n = 0;
            progress(&format!("{}: {copied} rows copied", t.name));
        }
    }
    if n > 0 {
        inserted += flush(&mut batch)?;
    }
    Ok(inserted)
}

enum PhotoCopy {
    Copied,
    Held,
    Missing,
}

fn copy_photo(db: &PgDb, files: &PhotoFiles, hash: &str) -> Result<PhotoCopy> {
    let held = db.run(async {
        let c = db.client().await?;
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM photo_chunks WHERE hash = $1",
                &[&hash],
            )
            .await?
            .get(0);
        Ok::<_, StorageError>(n > 0)
    })?;
    if held {
        return Ok(PhotoCopy::Held);
    }
    let Some(bytes) = files
        .read(hash)
        .map_err(|e| StorageError::Backend(Box::new(e)))?
    else {
        return Ok(PhotoCopy::Missing);
    };
    if hex::encode(Sha256::digest(&bytes)) != hash {
        return Err(StorageError::backend(format!(
            "photo {hash}: the file's bytes do not match its name"
        )));
    }
    db.run(async {
        let mut c = db.client().await?;
        let tx = c.transaction().await?;
        for (i, chunk) in bytes.chunks(PHOTO_CHUNK).enumerate() {
            tx.execute(
                "INSERT INTO photo_chunks (hash, offset_at, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&hash, &((i * PHOTO_CHUNK) as i64), &chunk],
            )
            .await?;
        }
        tx.commit().await?;
        Ok::<_, StorageError>(())
    })?;
    Ok(PhotoCopy::Copied)
}

fn verify(
    src: &rusqlite::Transaction<'_>,
    db: &PgDb,
    hashes: &[String],
    photos_missing: u64,
) -> Result<()> {
    for t in TABLES {
        let list = t
            .cols
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        let mut there = Fingerprint::default();
        let mut stmt = src.prepare(&format!("SELECT {list} FROM {}", t.name))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let row = (0..t.cols.len())
                .map(|i| sqlite_value(r, i))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            there.add(&row);
        }
        let here = db.run(async {
            let c = db.client().await?;
            let mut f = Fingerprint::default();
            let st = c.prepare(&format!("SELECT {list} FROM {}", t.name)).await?;
            let stream = c.query_raw(&st, std::iter::empty::<i32>()).await?;
            let mut stream = std::pin::pin!(stream);
            while let Some(r) = stream.try_next().await? {
                let row = t
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, (_, k))| pg_value(&r, i, *k))
                    .collect::<Result<Vec<_>>>()?;
                f.add(&row);
            }
            Ok::<_, StorageError>(f)
        })?;
        if here != there {
            return Err(StorageError::backend(format!(
                "verification failed: {} holds {} rows in the source and {} in the target, or their contents differ",
                t.name, there.rows, here.rows
            )));
        }
    }
    let mut whole = 0u64;
    for hash in hashes {
        let bytes = db.run(async {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT bytes FROM photo_chunks WHERE hash = $1 ORDER BY offset_at",
                    &[hash],
                )
                .await?;
            Ok::<_, StorageError>(
                rows.iter()
                    .flat_map(|r| r.get::<_, &[u8]>(0).to_vec())
                    .collect::<Vec<u8>>(),
            )
        })?;
        if bytes.is_empty() {
            continue;
        }
        if hex::encode(Sha256::digest(&bytes)) != *hash {
            return Err(StorageError::backend(format!(
                "verification failed: photo {hash}'s bytes in the target do not match its hash"
            )));
        }
        whole += 1;
    }
    if whole + photos_missing != hashes.len() as u64 {
        return Err(StorageError::backend(format!(
            "verification failed: {} photos recorded, {whole} whole in the target, {photos_missing} without a file",
            hashes.len()
        )));
    }
    Ok(())
}

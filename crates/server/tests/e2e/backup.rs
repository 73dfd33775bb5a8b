//! `rounds-server backup` while the server serves and a device keeps pushing: the backup is one
//! consistent snapshot (every document in it whole as of one moment, every photo it records
//! with its bytes), and `rounds-server restore` makes a data folder a server serves the same
//! records from. A backup never overwrites a file; a restore never writes over a store.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rounds_server::seed::ids;
use rounds_server::storage::{PhotoIndex, SqliteStorage};
use rusqlite::Connection;
use uuid::Uuid;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_rounds-server");

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["--data", data.to_str().expect("path")])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("rounds-server")
}

/// Every document's change hashes, straight from a store file.
fn changes_by_document(db: &std::path::Path) -> BTreeMap<String, Vec<String>> {
    let conn = Connection::open(db).expect("open");
    let mut stmt = conn
        .prepare("SELECT doc_id, hex(hash) FROM changes ORDER BY doc_id, hash")
        .expect("query");
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("rows")
    {
        let (doc, hash) = row.expect("row");
        out.entry(doc).or_default().push(hash);
    }
    out
}

#[test]
fn a_backup_taken_while_devices_push_restores_into_a_server_with_the_same_records() {
    // Backups are the embedded store's (PostgreSQL's are pg_dump's): on either run.
    let data = Data::sqlite_in(tempfile::tempdir().expect("tempdir"));
    admin_cli(&data, &["seed-demo"]);
    let server = ServerProcess::start(&data, &[]);
    let mut gia = enroll_with_cli(&server, &data, &GIA);
    gia.sync().expect("first sync");
    let shift = shift_with_checks(&mut gia, 7, ids::LINCOLN_MAIN, 3);
    let photo = jpeg(5, 40_000);
    let hash = check_with_photo(&mut gia, shift, ids::LINCOLN_MAIN, &photo);
    gia.sync().expect("the shift and its photo go up");

    // The supervisor's phone has synced before the backup, and syncs again after it.
    let mut sam = enroll_with_cli(&server, &data, &SUPERVISOR);
    sam.sync().expect("the supervisor syncs before the backup");

    // Olga files incidents and pushes them, one sync each, until the backup is done.
    let mut olga = enroll_with_cli(&server, &data, &OLGA);
    olga.sync().expect("first sync");
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut n = 0u128;
            while !done.load(Ordering::Relaxed) || n < 5 {
                incident_at(&mut olga, 0x5_0000 + n, ids::LINCOLN, "Fence cut");
                olga.sync().expect("pushed while the backup runs");
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let before = changes_by_document(&data.path().join("rounds.db"));
    let backups = tempfile::tempdir().expect("tempdir");
    let file = backups.path().join("district.rounds-backup");
    let out = cli(
        data.path(),
        &["backup", "--to", file.to_str().expect("path")],
    );
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    done.store(true, Ordering::Relaxed);
    let pushed = writer.join().expect("writer");
    assert!(pushed >= 5, "the device kept pushing: {pushed} incidents");
    // After the backup: the supervisor pulls Olga's last incidents, so its cursor is past the
    // backup's feed.
    sam.sync().expect("the supervisor pulls past the backup");

    let again = cli(
        data.path(),
        &["backup", "--to", file.to_str().expect("path")],
    );
    assert!(!again.status.success(), "a backup never overwrites a file");

    let restored = Data::sqlite_in(tempfile::tempdir().expect("tempdir"));
    let out = cli(
        restored.path(),
        &["restore", "--from", file.to_str().expect("path")],
    );
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let twice = cli(
        restored.path(),
        &["restore", "--from", file.to_str().expect("path")],
    );
    assert!(
        !twice.status.success(),
        "a restore never writes over a store"
    );

    // One snapshot: every document in the backup holds all of its changes the server had
    // before the backup started, and only changes the server has.
    let now_live = changes_by_document(&data.path().join("rounds.db"));
    let in_backup = changes_by_document(&restored.path().join("rounds.db"));
    for (doc, hashes) in &in_backup {
        let live = now_live
            .get(doc)
            .expect("every backed-up document is on the server");
        assert!(
            hashes.iter().all(|h| live.contains(h)),
            "document {doc}: the backup holds only changes the server has"
        );
    }
    for (doc, hashes) in &before {
        let backed = in_backup
            .get(doc)
            .expect("a document stored before the backup is in it");
        assert!(
            hashes.iter().all(|h| backed.contains(h)),
            "document {doc}: every change stored before the backup started is in it"
        );
    }

    let restored_store = SqliteStorage::open(restored.path()).expect("the restored store opens");
    assert_eq!(
        restored_store.photo_bytes().read(&hash).expect("read"),
        Some(photo.clone()),
        "the photo's bytes came back"
    );
    assert!(restored_store.photo(&hash).expect("row").is_some());
    drop(restored_store);

    // A server on the restored folder serves the records to a device enrolled there...
    let second = ServerProcess::start(&restored, &[]);
    let mut new_phone = enroll_with_cli(&second, &restored, &GIA);
    new_phone.sync().expect("sync with the restored server");
    assert!(
        new_phone.store.incident(Uuid::from_u128(0x5_0000)).is_ok(),
        "a new phone gets the incidents in the backup from the restored server"
    );
    // ...and the supervisor's phone, whose cursor is past the backup, still receives what is
    // stored after the restore.
    sam.base = second.base.clone();
    gia.base = second.base.clone();
    let after = incident_at(
        &mut gia,
        0x6_0000,
        ids::LINCOLN,
        "Window broken after the restore",
    );
    gia.sync().expect("Gia pushes to the restored server");
    sam.sync()
        .expect("the supervisor syncs with the restored server");
    assert!(
        sam.store.incident(after).is_ok(),
        "a change stored after the restore reaches a device that had pulled past the backup"
    );
}

//! Photos: a device's photos reach the server whole and hash-checked, resume after a cut-off
//! from what the server holds, are tied to the records they were uploaded for, and the server
//! refuses what does not fit: the wrong record, the wrong bytes, past the quota.

use rounds_core::client::{self, HttpTransport, SyncProblem, Transport};
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::*;
use rounds_protocol::{PHOTO_CHUNK, PhotoStatus};
use rounds_server::admin;
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

/// Gia's shift of the photo tests.
const SHIFT: Uuid = Uuid::from_u128(7);

/// A guard's device that has synced once and recorded a check with one photo of `len` bytes on
/// shift [`SHIFT`] (not yet pushed).
fn guard_with_photo(server: &TestServer, len: usize) -> (Device, String, Vec<u8>) {
    let mut gia = Device::enroll(server, &GIA);
    gia.sync().expect("first sync");
    let shift = shift_with_checks(&mut gia, 7, ids::LINCOLN_MAIN, 1);
    let photo = jpeg(len as u64, len);
    let hash = check_with_photo(&mut gia, shift, ids::LINCOLN_MAIN, &photo);
    (gia, hash, photo)
}

/// Forwards everything; counts photo bytes sent and the offsets chunks started at; fails
/// every photo chunk after `chunks` of them.
struct CountingCut {
    inner: HttpTransport,
    chunks: usize,
    sent: usize,
    offsets: Vec<u64>,
}

impl CountingCut {
    fn new(inner: HttpTransport, chunks: usize) -> Self {
        CountingCut {
            inner,
            chunks,
            sent: 0,
            offsets: vec![],
        }
    }
}

impl Intercept for CountingCut {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.inner
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        if self.chunks == 0 {
            return Err(SyncProblem::NoConnection("cut off by the test".into()));
        }
        self.chunks -= 1;
        self.sent += chunk.len();
        self.offsets.push(offset);
        self.inner.photo_put(hash, record, offset, total, chunk)
    }
}

/// Flips one bit of every chunk it forwards: the server receives bytes that are not the photo.
struct Garbling(HttpTransport);

impl Intercept for Garbling {
    fn inner(&mut self) -> &mut HttpTransport {
        &mut self.0
    }

    fn photo_put(
        &mut self,
        hash: &str,
        record: Uuid,
        offset: u64,
        total: u64,
        mut chunk: Vec<u8>,
    ) -> Result<PhotoStatus, SyncProblem> {
        if let Some(b) = chunk.last_mut() {
            *b ^= 1;
        }
        self.0.photo_put(hash, record, offset, total, chunk)
    }
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

#[allow(clippy::too_many_arguments)]
fn put(
    server: &TestServer,
    token: Option<&str>,
    hash: &str,
    record: Uuid,
    offset: u64,
    total: u64,
    chunk: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = http()
        .put(format!(
            "{}/v1/photos/{hash}?record={record}&offset={offset}&total={total}",
            server.base
        ))
        .body(chunk);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

fn status(
    server: &TestServer,
    token: Option<&str>,
    hash: &str,
    record: Uuid,
) -> (u16, serde_json::Value) {
    let mut req = http().get(format!(
        "{}/v1/photos/{hash}/status?record={record}",
        server.base
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

fn partial_exists(server: &TestServer, device: &Device, hash: &str) -> bool {
    server
        .storage
        .photo_bytes()
        .received(device.enrollment.device_id, hash)
        .expect("received")
        > 0
}

/// A guard's device whose shift [`SHIFT`] is on the server: uploads can name it.
fn guard_with_shift(server: &TestServer) -> Device {
    let mut gia = Device::enroll(server, &GIA);
    gia.sync().expect("first sync");
    shift_with_checks(&mut gia, 7, ids::LINCOLN_MAIN, 1);
    gia.sync().expect("the shift is pushed");
    gia
}

#[test]
fn a_checks_photo_reaches_the_server_whole_and_hash_checked() {
    let server = TestServer::start();
    let (mut gia, hash, photo) = guard_with_photo(&server, 700_000);
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_photos,
        1,
        "the app shows the photo as waiting"
    );
    let report = gia.sync().expect("sync");
    assert_eq!(report.photos_uploaded, 1);
    assert!(
        report.photos_failed.is_empty(),
        "{:?}",
        report.photos_failed
    );
    let kept = server_photo(&server, &hash).expect("the server holds the photo");
    assert_eq!(sha256_hex(&kept), hash, "the server's file has the hash");
    assert_eq!(kept, photo);
    assert!(
        !partial_exists(&server, &gia, &hash),
        "no partial file is left behind"
    );
    let uploads = server.storage.photo_uploads(&hash).expect("uploads");
    assert_eq!(
        uploads
            .iter()
            .map(|u| (u.record_id, u.device_id, u.bytes, u.confirmed))
            .collect::<Vec<_>>(),
        vec![(SHIFT, gia.enrollment.device_id, 700_000, true)],
        "the upload is tied to the shift whose check refers to it"
    );
    let record = server
        .storage
        .photo(&hash)
        .expect("record")
        .expect("the upload is recorded");
    assert_eq!(
        (record.device_id, record.person_id, record.bytes),
        (gia.enrollment.device_id, gia.session.person_id, 700_000),
        "the server records who uploaded it"
    );
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_photos,
        0,
        "nothing waits any more"
    );
    let again = gia.sync().expect("again");
    assert_eq!(
        again.photos_uploaded, 0,
        "an uploaded photo is not sent again"
    );
}

#[test]
fn a_photo_cut_off_midway_resumes_from_the_servers_count() {
    let server = TestServer::start();
    let len = 3 * PHOTO_CHUNK + 1_000;
    let (mut gia, hash, photo) = guard_with_photo(&server, len);
    let mut cut = Via(CountingCut::new(gia.transport(), 1));
    let err = gia
        .sync_with(&mut cut)
        .expect_err("cut off after one chunk");
    assert!(matches!(err, SyncProblem::NoConnection(_)), "{err:?}");
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_photos,
        1,
        "an unfinished photo still waits"
    );
    let (code, held) = status(&server, Some(&gia.session.token), &hash, SHIFT);
    assert_eq!(code, 200);
    assert_eq!(
        (held["received"].as_u64(), held["complete"].as_bool()),
        (Some(PHOTO_CHUNK as u64), Some(false)),
        "the server holds the first chunk"
    );

    let mut rest = Via(CountingCut::new(gia.transport(), usize::MAX));
    let report = gia.sync_with(&mut rest).expect("resumed sync");
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(
        rest.0.offsets.first(),
        Some(&(PHOTO_CHUNK as u64)),
        "the upload resumed at the server's count"
    );
    assert_eq!(
        rest.0.sent,
        len - PHOTO_CHUNK,
        "the first chunk was not sent again"
    );
    assert_eq!(
        server_photo(&server, &hash).expect("kept"),
        photo,
        "the resumed photo is whole"
    );
}

#[test]
fn lost_and_repeated_chunks_change_nothing() {
    let server = TestServer::start();
    let (mut gia, hash, photo) = guard_with_photo(&server, 2 * PHOTO_CHUNK + 10);
    // Each chunk arrives twice (the first answer lost): the second is answered without being
    // appended again.
    struct Twice(HttpTransport);
    impl Intercept for Twice {
        fn inner(&mut self) -> &mut HttpTransport {
            &mut self.0
        }

        fn photo_put(
            &mut self,
            h: &str,
            record: Uuid,
            o: u64,
            t: u64,
            c: Vec<u8>,
        ) -> Result<PhotoStatus, SyncProblem> {
            let _lost = self.0.photo_put(h, record, o, t, c.clone())?;
            self.0.photo_put(h, record, o, t, c)
        }
    }
    let report = gia
        .sync_with(&mut Via(Twice(gia.transport())))
        .expect("sync");
    assert_eq!(report.photos_uploaded, 1);
    assert_eq!(server_photo(&server, &hash).expect("kept"), photo);
}

#[test]
fn a_photo_whose_bytes_do_not_match_its_hash_is_refused_with_422_and_not_kept() {
    let server = TestServer::start();
    let gia = guard_with_shift(&server);
    let token = Some(gia.session.token.as_str());
    let claimed = sha256_hex(b"the photo the device says it sends");
    let first = jpeg(1, 1_000);
    let second = jpeg(2, 500);
    let (code, _) = put(&server, token, &claimed, SHIFT, 0, 1_500, first);
    assert_eq!(
        code, 200,
        "a first chunk is accepted before the whole is known"
    );
    let (code, body) = put(&server, token, &claimed, SHIFT, 1_000, 1_500, second);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["kind"], "invalid");
    assert!(
        body["message"].as_str().unwrap_or("").contains("SHA-256"),
        "the message says why: {body}"
    );
    assert!(
        server_photo(&server, &claimed).is_none() && !partial_exists(&server, &gia, &claimed),
        "nothing is kept"
    );
    assert!(server.storage.photo(&claimed).expect("record").is_none());
    let (_, held) = status(&server, token, &claimed, SHIFT);
    assert_eq!(
        (held["received"].as_u64(), held["complete"].as_bool()),
        (Some(0), Some(false)),
        "an upload starts again from 0"
    );
}

#[test]
fn a_photo_the_server_refuses_is_reported_and_stays_waiting() {
    let server = TestServer::start();
    let (mut gia, hash, _) = guard_with_photo(&server, 1_000);
    let report = gia
        .sync_with(&mut Via(Garbling(gia.transport())))
        .expect("the sync itself succeeds");
    assert_eq!(report.photos_uploaded, 0);
    assert_eq!(report.photos_failed.len(), 1, "{report:?}");
    assert_eq!(report.photos_failed[0].0, hash);
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_photos,
        1,
        "the photo waits for the next sync"
    );
    assert!(server_photo(&server, &hash).is_none());
    let report = gia.sync().expect("a clean sync");
    assert_eq!(report.photos_uploaded, 1, "and then goes through");
}

#[test]
fn a_chunk_past_what_the_server_holds_gets_409_with_the_count() {
    let server = TestServer::start();
    let gia = guard_with_shift(&server);
    let token = Some(gia.session.token.as_str());
    let photo = jpeg(3, 3_000);
    let hash = sha256_hex(&photo);
    let (code, _) = put(
        &server,
        token,
        &hash,
        SHIFT,
        0,
        3_000,
        photo[..1_000].to_vec(),
    );
    assert_eq!(code, 200);
    let (code, body) = put(
        &server,
        token,
        &hash,
        SHIFT,
        2_000,
        3_000,
        photo[2_000..].to_vec(),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["kind"], "conflict");
    assert_eq!(
        body["received"].as_u64(),
        Some(1_000),
        "the answer says where to resume"
    );
    let (code, body) = put(
        &server,
        token,
        &hash,
        SHIFT,
        0,
        3_000,
        photo[..1_000].to_vec(),
    );
    assert_eq!(
        (code, body["received"].as_u64()),
        (200, Some(1_000)),
        "a repeated chunk is answered, not appended again"
    );
    let (code, body) = put(
        &server,
        token,
        &hash,
        SHIFT,
        1_000,
        3_000,
        photo[1_000..].to_vec(),
    );
    assert_eq!(
        (code, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (code, body) = put(
        &server,
        token,
        &hash,
        SHIFT,
        0,
        3_000,
        photo[..1_000].to_vec(),
    );
    assert_eq!(
        (code, body["complete"].as_bool(), body["received"].as_u64()),
        (200, Some(true), Some(3_000)),
        "a chunk of a complete photo changes nothing"
    );
    assert_eq!(server_photo(&server, &hash).expect("kept"), photo);
}

#[test]
fn malformed_photo_requests_are_refused() {
    let server = TestServer::start();
    let gia = guard_with_shift(&server);
    let token = Some(gia.session.token.as_str());
    let hash = sha256_hex(b"x");
    /// Name, hash, offset, total, chunk, expected status.
    type Case<'a> = (&'a str, String, u64, u64, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        ("uppercase hash", hash.to_uppercase(), 0, 1, vec![1], 400),
        ("short hash", hash[..10].to_string(), 0, 1, vec![1], 400),
        ("empty chunk", hash.clone(), 0, 1, vec![], 400),
        ("zero total", hash.clone(), 0, 0, vec![1], 400),
        (
            "over 15 MiB",
            hash.clone(),
            0,
            15 * 1024 * 1024 + 1,
            vec![1],
            400,
        ),
        ("past the end", hash.clone(), 0, 1, vec![1, 2], 400),
        (
            "a chunk over 1 MiB",
            hash.clone(),
            0,
            2 * 1024 * 1024,
            vec![0; 1024 * 1024 + 1],
            413,
        ),
    ];
    for (name, h, offset, total, chunk, want) in cases {
        let (code, body) = put(&server, token, &h, SHIFT, offset, total, chunk);
        assert_eq!(code, want, "{name}: {body}");
        assert!(body["kind"].is_string(), "{name}: a JSON error: {body}");
    }
    for (name, query) in [
        (
            "a malformed offset",
            format!("record={SHIFT}&offset=x&total=1"),
        ),
        ("no record", "offset=0&total=1".to_string()),
        (
            "a record that is not an id",
            "record=7&offset=0&total=1".to_string(),
        ),
    ] {
        let r = http()
            .put(format!("{}/v1/photos/{hash}?{query}", server.base))
            .bearer_auth(&gia.session.token)
            .body(vec![0xFF, 0xD8, 0xFF])
            .send()
            .expect("request");
        assert_eq!(r.status().as_u16(), 400, "{name}");
    }
    let (code, _) = status(&server, token, "not-a-hash", SHIFT);
    assert_eq!(code, 400);
    let r = http()
        .get(format!("{}/v1/photos/{hash}/status", server.base))
        .bearer_auth(&gia.session.token)
        .send()
        .expect("request");
    assert_eq!(r.status().as_u16(), 400, "a status without its record");
}

#[test]
fn photos_need_a_signed_in_device_that_is_not_revoked() {
    let server = TestServer::start();
    let (mut gia, hash, _) = guard_with_photo(&server, 2_000);
    let (code, body) = status(&server, None, &hash, SHIFT);
    assert_eq!((code, body["kind"].as_str()), (401, Some("sign_in")));
    let (code, body) = put(&server, None, &hash, SHIFT, 0, 2_000, vec![0xFF; 100]);
    assert_eq!((code, body["kind"].as_str()), (401, Some("sign_in")));
    let (code, _) = put(
        &server,
        Some("not-a-token"),
        &hash,
        SHIFT,
        0,
        2_000,
        vec![0xFF; 100],
    );
    assert_eq!(code, 401);

    // A console session (a person without a device) does not upload photos.
    let console: serde_json::Value = http()
        .post(format!("{}/v1/sessions", server.base))
        .json(&serde_json::json!({ "username": GIA.username, "password": GIA.password }))
        .send()
        .expect("sign in")
        .json()
        .expect("session");
    let (code, body) = status(&server, console["token"].as_str(), &hash, SHIFT);
    assert_eq!((code, body["kind"].as_str()), (403, Some("forbidden")));

    admin::revoke(
        server.storage.as_ref(),
        gia.enrollment.device_id,
        None,
        now(),
    )
    .expect("revoke");
    let token = Some(gia.session.token.as_str());
    let (code, body) = status(&server, token, &hash, SHIFT);
    assert_eq!((code, body["kind"].as_str()), (403, Some("revoked")));
    let (code, body) = put(&server, token, &hash, SHIFT, 0, 2_000, vec![0xFF; 100]);
    assert_eq!((code, body["kind"].as_str()), (403, Some("revoked")));
    assert!(
        !partial_exists(&server, &gia, &hash),
        "nothing from a revoked device is written"
    );
    let err = client::upload_photos(
        &mut gia.store,
        &mut HttpTransport::new(&server.base, &gia.session.token).expect("transport"),
        &mut Default::default(),
    )
    .expect_err("revoked");
    assert_eq!(
        err,
        SyncProblem::Revoked,
        "the device is told it was revoked"
    );
}

#[test]
fn an_upload_names_a_record_the_uploader_may_write() {
    let server = TestServer::start();
    let gia = guard_with_shift(&server);
    let mut gus = Device::enroll(&server, &GUS);
    gus.sync().expect("first sync");
    let his = shift_with_checks(&mut gus, 8, ids::ADAMS_CAMPUS, 1);
    gus.sync().expect("his shift is pushed");
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("first sync");
    let note = note_at(&mut olga, 9, ids::LINCOLN, vec![]);
    olga.sync().expect("her note is pushed");

    let photo = jpeg(11, 2_000);
    let hash = sha256_hex(&photo);
    let token = Some(gia.session.token.as_str());
    for (name, record, want, kind) in [
        ("another guard's shift", his, 403, "forbidden"),
        (
            "a record not on the server",
            Uuid::from_u128(0xdead),
            404,
            "not_found",
        ),
        ("a contact note", note, 422, "invalid"),
    ] {
        let (code, body) = put(&server, token, &hash, record, 0, 2_000, photo.clone());
        assert_eq!(
            (code, body["kind"].as_str()),
            (want, Some(kind)),
            "{name}: {body}"
        );
        let (code, body) = status(&server, token, &hash, record);
        assert_eq!(code, want, "{name}, status: {body}");
        assert!(
            !partial_exists(&server, &gia, &hash),
            "{name}: nothing is written"
        );
    }
    let (code, body) = put(&server, token, &hash, SHIFT, 0, 2_000, photo.clone());
    assert_eq!(
        (code, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}

#[test]
fn only_images_the_app_makes_are_received() {
    let server = TestServer::start();
    let gia = guard_with_shift(&server);
    let token = Some(gia.session.token.as_str());
    for (name, bytes) in [
        (
            "html",
            b"<html><body><script>alert(1)</script></body></html>".to_vec(),
        ),
        (
            "svg",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
        ),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
    ] {
        let hash = sha256_hex(&bytes);
        let (code, body) = put(&server, token, &hash, SHIFT, 0, bytes.len() as u64, bytes);
        assert_eq!(
            (code, body["kind"].as_str()),
            (415, Some("unsupported_type")),
            "{name}: {body}"
        );
        assert!(
            server_photo(&server, &hash).is_none() && !partial_exists(&server, &gia, &hash),
            "{name}: nothing kept"
        );
    }
}

#[test]
fn status_answers_only_about_the_devices_own_upload() {
    let server = TestServer::start();
    let (mut gia, hash, photo) = guard_with_photo(&server, 3_000);
    gia.sync().expect("Gia's photo goes up");
    assert!(server_photo(&server, &hash).is_some());

    // Gus holds the same bytes (say, forwarded to him) and asks about them for his shift: the
    // server does not say Gia's copy exists.
    let mut gus = Device::enroll(&server, &GUS);
    gus.sync().expect("first sync");
    let his = shift_with_checks(&mut gus, 8, ids::ADAMS_CAMPUS, 1);
    gus.sync().expect("his shift is pushed");
    let token = Some(gus.session.token.as_str());
    let (code, held) = status(&server, token, &hash, his);
    assert_eq!(code, 200);
    assert_eq!(
        (held["received"].as_u64(), held["complete"].as_bool()),
        (Some(0), Some(false)),
        "another device learns nothing of Gia's upload"
    );
    // He can only tie it to his record by sending the bytes himself.
    let (code, body) = put(&server, token, &hash, his, 0, 3_000, photo.clone());
    assert_eq!(
        (code, body["complete"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let mut tied: Vec<Uuid> = server
        .storage
        .photo_uploads(&hash)
        .expect("uploads")
        .iter()
        .map(|u| u.record_id)
        .collect();
    tied.sort();
    let mut want = vec![SHIFT, his];
    want.sort();
    assert_eq!(tied, want);

    // Gia's own device is told its photo is complete, for a second record of hers too, and
    // the server ties it to that record without the bytes being sent again.
    gia.store
        .end_shift(SHIFT, at(40))
        .expect("end the first shift");
    let second = shift_with_checks(&mut gia, 12, ids::LINCOLN_MAIN, 1);
    gia.sync().expect("second shift pushed");
    let (code, held) = status(&server, Some(&gia.session.token), &hash, second);
    assert_eq!((code, held["complete"].as_bool()), (200, Some(true)));
    assert!(
        server
            .storage
            .photo_uploads(&hash)
            .expect("uploads")
            .iter()
            .any(|u| u.record_id == second && u.bytes == 0),
        "tied to the second shift, no bytes counted"
    );
}

#[test]
fn a_device_past_its_daily_quota_keeps_its_photos_waiting() {
    let policy = rounds_server::photos::PhotoPolicy {
        daily_quota: 1_500_000,
        ..Default::default()
    };
    let server = TestServer::start_with(
        |_| {},
        move |st| rounds_server::AppState::new(st).with_photo_policy(policy),
    );
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("first sync");
    let shift = shift_with_checks(&mut gia, 7, ids::LINCOLN_MAIN, 0);
    for (n, seed) in [(1u128, 21u64), (2, 22)] {
        let hash = gia
            .store
            .add_photo(
                &jpeg(seed, 1_000_000),
                at(30),
                &mut SeededEntropy::new(seed),
            )
            .expect("photo");
        gia.store
            .record_check(
                shift,
                &CheckInput {
                    id: Uuid::from_u128(0x9_0000 + n),
                    checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
                    method: CheckMethod::Manual,
                    result: CheckResult::Damage,
                    note: "Broken glass".into(),
                    photos: vec![hash],
                    at: at(30 + n as i64),
                },
            )
            .expect("check");
    }
    let report = gia.sync().expect("the sync itself succeeds");
    assert_eq!(report.photos_uploaded, 1, "{report:?}");
    assert_eq!(report.photos_failed.len(), 1, "{report:?}");
    assert!(
        report.photos_failed[0].1.contains("in the last 24 hours"),
        "the device is told why: {:?}",
        report.photos_failed
    );
    assert_eq!(
        client::status(&gia.store).expect("status").waiting_photos,
        1,
        "the second photo waits for a later sync"
    );
}

#[test]
fn the_sweep_removes_uploads_no_record_refers_to_after_the_grace_period() {
    use rounds_server::photos::{PhotoPolicy, Swept, sweep};
    let server = TestServer::start();
    let (mut gia, kept, _) = guard_with_photo(&server, 2_000);
    gia.sync().expect("the referenced photo goes up");
    let token = Some(gia.session.token.as_str());
    // An upload for Gia's shift that none of its checks refers to, and one left half-sent.
    let stray = jpeg(31, 2_000);
    let stray_hash = sha256_hex(&stray);
    let (code, _) = put(&server, token, &stray_hash, SHIFT, 0, 2_000, stray);
    assert_eq!(code, 200);
    let half = jpeg(32, 4_000);
    let half_hash = sha256_hex(&half);
    let (code, _) = put(
        &server,
        token,
        &half_hash,
        SHIFT,
        0,
        4_000,
        half[..1_000].to_vec(),
    );
    assert_eq!(code, 200);

    let policy = PhotoPolicy::default();
    let storage = server.storage.as_ref();
    assert_eq!(
        sweep(storage, now(), policy).expect("sweep"),
        Swept::default(),
        "within the grace period nothing is removed"
    );
    let later = now() + policy.grace + chrono::Duration::hours(1);
    assert_eq!(
        sweep(storage, later, policy).expect("sweep"),
        Swept {
            uploads: 1,
            photos: 1,
            partials: 1
        }
    );
    assert!(
        storage
            .photo_bytes()
            .read(&stray_hash)
            .expect("read")
            .is_none(),
        "the stray photo is gone"
    );
    assert!(storage.photo(&stray_hash).expect("row").is_none());
    assert!(
        !partial_exists(&server, &gia, &half_hash),
        "the stale partial is gone"
    );
    assert!(
        server_photo(&server, &kept).is_some(),
        "the photo a check refers to stays"
    );
    assert_eq!(
        sweep(storage, later, policy).expect("sweep again"),
        Swept::default(),
        "a second sweep finds nothing"
    );
}

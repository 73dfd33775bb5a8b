//! Bad input to the HTTP API gets a 4xx with a clear message and changes nothing: malformed
//! bodies, changes and bodies past the limits of `rounds_core::limits` (a decompression bomb
//! against the real binary, with its memory read from `/proc`), references that are not
//! hashes already in storage, numbers out of range, and clients that stall or open too many
//! connections (the real binary over raw TCP).

use automerge::transaction::Transactable;
use reqwest::blocking::Client;
use rounds_core::document::{self, Header};
use rounds_core::model::*;
use rounds_protocol::{DocChanges, FetchRequest, PushRequest, WireHeader};
use rounds_server::seed::ids;
use rounds_server::storage::{CheckRow, Commit, CommitOutcome, Projection};
use uuid::Uuid;

use crate::support::*;

fn state(s: &TestServer) -> (u64, u64, u64) {
    (
        s.storage.document_count().expect("count"),
        s.storage.max_seq().expect("seq"),
        s.storage.reference_version().expect("ref"),
    )
}

#[test]
fn malformed_requests_are_refused_with_a_4xx_and_change_nothing() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    let id = incident_at(&mut olga, 1, ids::LINCOLN, "Something happened.");
    let good = {
        let h = olga.store.header(id).expect("header");
        PushRequest {
            signatures: vec![],
            docs: vec![DocChanges {
                header: rounds_core::wire::header_to_wire(&h),
                changes: olga
                    .store
                    .all_changes(id)
                    .expect("c")
                    .into_iter()
                    .map(serde_bytes::ByteBuf::from)
                    .collect(),
            }],
        }
    };
    let mut good = good;
    sign_push(&olga, &mut good);
    let good_body = rounds_protocol::encode(&good);
    let token = olga.session.token.clone();
    let admin_token = client_sign_in_admin(&server);
    let http = Client::new();
    let base = server.base.clone();
    let push = |body: Vec<u8>| {
        http.post(format!("{base}/v1/sync/push"))
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    let with_header = |f: &dyn Fn(&mut WireHeader)| {
        let mut r = good.clone();
        f(&mut r.docs[0].header);
        rounds_protocol::encode(&r)
    };

    type Case = (
        &'static str,
        reqwest::Result<reqwest::blocking::Response>,
        u16,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        ("random bytes", push(b"\x00\x01garbage".to_vec()), 400, "not a Rounds sync message"),
        ("truncated body", push(good_body[..good_body.len() / 2].to_vec()), 400, "malformed"),
        ("empty body", push(Vec::new()), 400, "too short"),
        (
            "wrong protocol version",
            push({
                let mut b = good_body.clone();
                b[4] = 9;
                b
            }),
            400,
            "version 9",
        ),
        ("oversized body", push(vec![0u8; rounds_protocol::MAX_BODY_BYTES + 1]), 413, "too large"),
        (
            "garbage automerge bytes",
            push({
                let mut r = good.clone();
                r.docs[0].changes = vec![serde_bytes::ByteBuf::from(b"not a change".to_vec())];
                rounds_protocol::encode(&r)
            }),
            400,
            "not an automerge change",
        ),
        ("unknown kind in a header", push(with_header(&|h| h.kind = "memo".into())), 400, "unknown value"),
        ("unknown class in a header", push(with_header(&|h| h.classification = "public".into())), 400, "unknown value"),
        (
            "a document with no changes",
            push({
                let mut r = good.clone();
                r.docs[0].changes.clear();
                rounds_protocol::encode(&r)
            }),
            400,
            "no changes",
        ),
        (
            "fetching unknown document ids",
            http.post(format!("{base}/v1/sync/fetch"))
                .bearer_auth(&olga.session.token)
                .body(rounds_protocol::encode(&FetchRequest { docs: vec![(Uuid::from_u128(424242), vec![])] }))
                .send(),
            404,
            "not_found",
        ),
        (
            "an absurd page size",
            http.get(format!("{base}/v1/sync/pull?after=0&ref=0&max=999999999999")).bearer_auth(&olga.session.token).send(),
            400,
            "page size",
        ),
        (
            "a zero page size",
            http.get(format!("{base}/v1/sync/pull?after=0&ref=0&max=0")).bearer_auth(&olga.session.token).send(),
            400,
            "page size",
        ),
        (
            "a cursor that is not a number",
            http.get(format!("{base}/v1/sync/pull?after=-1")).bearer_auth(&olga.session.token).send(),
            400,
            "after",
        ),
        (
            "admin JSON with a wrong type",
            http.put(format!("{base}/v1/admin/schools"))
                .bearer_auth(&admin_token)
                .header("content-type", "application/json")
                .body(r#"{"id": 12, "name": "X"}"#)
                .send(),
            400,
            "invalid",
        ),
        (
            "admin JSON with a blank name",
            http.put(format!("{base}/v1/admin/schools"))
                .bearer_auth(&admin_token)
                .json(&serde_json::json!({"id": Uuid::from_u128(5), "name": "  "}))
                .send(),
            400,
            "required",
        ),
        (
            "a checkpoint whose grace is longer than its interval",
            http.put(format!("{base}/v1/admin/checkpoints"))
                .bearer_auth(&admin_token)
                .json(&serde_json::json!({"id": Uuid::from_u128(6), "post_id": ids::LINCOLN_MAIN, "name": "X",
                    "tag_code": "X-1", "position": 9,
                    "schedule": {"first_due_minutes": 0, "interval_minutes": 30, "grace_minutes": 45}}))
                .send(),
            400,
            "grace",
        ),
        (
            "enrollment with malformed JSON",
            http.post(format!("{base}/v1/enroll")).header("content-type", "application/json").body("{").send(),
            400,
            "invalid",
        ),
        (
            "a non-admin using the admin API",
            http.get(format!("{base}/v1/admin/people")).bearer_auth(&olga.session.token).send(),
            403,
            "administrator",
        ),
    ];
    let before = state(&server);
    for (name, response, status, says) in cases {
        let r = response.unwrap_or_else(|e| panic!("{name}: request failed: {e}"));
        assert_eq!(r.status().as_u16(), status, "{name}");
        let text = r.text().expect("body");
        assert!(
            text.to_lowercase().contains(&says.to_lowercase()),
            "{name}: message {text:?} should say {says:?}"
        );
        assert!(text.starts_with('{'), "{name}: errors are JSON: {text}");
        assert_eq!(state(&server), before, "{name}: server state unchanged");
    }
    // The good body still works after all that.
    assert_eq!(push(good_body).expect("push").status(), 200);
}

fn client_sign_in_admin(server: &TestServer) -> String {
    let r: serde_json::Value = Client::new()
        .post(format!("{}/v1/sessions", server.base))
        .json(&serde_json::json!({"username": ADMIN.username, "password": ADMIN.password}))
        .send()
        .expect("sign in")
        .json()
        .expect("json");
    r["token"].as_str().expect("token").to_string()
}

// ---------------------------------------------------------------------------------------
// Limits (rounds_core::limits): changes, histories, bodies, numbers, connections
// ---------------------------------------------------------------------------------------

/// A document made by `d`'s device for its person, its first change built by `body`, with
/// no validation of what it holds (as a tampered app would make it).
fn forged(
    d: &Device,
    id: u128,
    kind: DocKind,
    school: Uuid,
    body: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> rounds_core::Result<()>,
) -> (Header, automerge::Automerge) {
    let classification = match kind {
        DocKind::Shift => Classification::Internal,
        DocKind::Incident => Classification::Confidential,
        DocKind::ContactNote => Classification::RestrictedLawEnforcement,
    };
    let h = Header {
        id: Uuid::from_u128(id),
        kind,
        school_id: school,
        author_id: d.session.person_id,
        device_id: d.enrollment.device_id,
        created_at: at(1),
        classification,
    };
    let doc = document::create(&h, h.author_id, "create", body).expect("document");
    (h, doc)
}

fn changes_of(doc: &automerge::Automerge) -> Vec<Vec<u8>> {
    doc.get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// A push of `docs` as `d` signs it.
fn push_body(d: &Device, docs: &[(Header, Vec<Vec<u8>>)]) -> Vec<u8> {
    let mut req = PushRequest {
        signatures: vec![],
        docs: docs
            .iter()
            .map(|(h, c)| DocChanges {
                header: rounds_core::wire::header_to_wire(h),
                changes: c.iter().cloned().map(serde_bytes::ByteBuf::from).collect(),
            })
            .collect(),
    };
    sign_push(d, &mut req);
    rounds_protocol::encode(&req)
}

fn push_raw(base: &str, token: &str, body: Vec<u8>) -> reqwest::blocking::Response {
    Client::new()
        .post(format!("{base}/v1/sync/push"))
        .bearer_auth(token)
        .body(body)
        .send()
        .expect("push")
}

fn incident_input(id: u128, narrative: String, photos: Vec<String>) -> IncidentInput {
    IncidentInput {
        id: Uuid::from_u128(id),
        school_id: ids::LINCOLN,
        incident_type: IncidentType::Other,
        location: "Gym".into(),
        occurred_at: at(0),
        people: vec![],
        narrative,
        actions: String::new(),
        photos,
    }
}

fn check_input(n: u128, note: String, photos: Vec<String>) -> CheckInput {
    CheckInput {
        id: Uuid::from_u128(n),
        checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
        method: CheckMethod::Tag,
        result: CheckResult::Hazard,
        note,
        photos,
        at: at(2),
    }
}

#[test]
fn a_compressed_change_inflating_to_1_gib_is_refused_with_413_and_the_server_stays_small() {
    let data = seeded_district();
    let server = ServerProcess::start(&data, &[]);
    let mut olga = enroll_with_cli(&server, &data, &OLGA);
    olga.sync().expect("first sync");
    let id = incident_at(&mut olga, 0x1b0b, ids::LINCOLN, "An honest incident.");
    let header = olga.store.header(id).expect("header");
    let bomb = rounds_core::limits::testing::deflate_bomb(1 << 30);
    assert!(
        bomb.len() < 2 << 20,
        "1 GiB of zeros deflates to {} bytes: one small push",
        bomb.len()
    );
    let before = data.open().max_seq().expect("seq");
    let r = push_raw(
        &server.base,
        &olga.session.token,
        push_body(&olga, &[(header, vec![bomb])]),
    );
    assert_eq!(r.status().as_u16(), 413, "a change past the inflated cap");
    let text = r.text().expect("body");
    assert!(
        text.contains("docs[0].changes[0]") && text.contains("inflates to more than 2097152 bytes"),
        "names the change and the limit: {text}"
    );
    // The real server process's peak resident memory (VmHWM of its /proc/<pid>/status).
    let peak_kib = server.peak_rss_kib();
    eprintln!("rounds-server VmHWM after the 1 GiB bomb: {peak_kib} KiB");
    assert!(
        peak_kib < 100 * 1024,
        "the server's peak memory stays under 100 MB: {} MB",
        peak_kib / 1024
    );
    let st = data.open();
    assert_eq!(st.max_seq().expect("seq"), before, "nothing stored");
    assert_eq!(st.document_count().expect("count"), 0, "no document");
    let report = olga
        .sync()
        .expect("the device's own push still goes through");
    assert_eq!(report.pushed, 1);
}

#[test]
fn changes_over_their_caps_refuse_the_whole_push_with_413_and_store_nothing() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    let ok = incident_at(&mut olga, 0xc0, ids::LINCOLN, "Fine.");
    let ok = (
        olga.store.header(ok).expect("header"),
        olga.store.all_changes(ok).expect("changes"),
    );
    // 300,000 characters typed in one change (the cap is 250,000 operations).
    let (h, doc) = forged(&olga, 0xc1, DocKind::Incident, ids::LINCOLN, |tx| {
        let t = tx.put_object(automerge::ROOT, "filler", automerge::ObjType::Text)?;
        tx.splice_text(&t, 0, 0, &"a".repeat(300_000))?;
        Ok(())
    });
    let many_ops = changes_of(&doc);
    // One value of 2.5 MB.
    let (h2, doc2) = forged(&olga, 0xc2, DocKind::Incident, ids::LINCOLN, |tx| {
        tx.put(automerge::ROOT, "filler", "x".repeat(2_500_000))?;
        Ok(())
    });
    // One change of 240,000 operations, within its cap, sent nine times in one push: the push
    // is past its own cap (it is counted before duplicates are dropped).
    let (h3, doc3) = forged(&olga, 0xc3, DocKind::Incident, ids::LINCOLN, |tx| {
        let t = tx.put_object(automerge::ROOT, "filler", automerge::ObjType::Text)?;
        tx.splice_text(&t, 0, 0, &"b".repeat(240_000))?;
        Ok(())
    });
    let nine = vec![(h3, vec![changes_of(&doc3)[0].clone(); 9])];
    type Case<'a> = (&'a str, Vec<(Header, Vec<Vec<u8>>)>, [&'a str; 2]);
    let cases: Vec<Case> = vec![
        (
            "300,000 operations in one change",
            vec![ok.clone(), (h, many_ops)],
            [
                "docs[1].changes[0]: has 300",
                "operations; at most 250000 are allowed",
            ],
        ),
        (
            "a change of 2.5 MB",
            vec![ok.clone(), (h2, changes_of(&doc2))],
            [
                "docs[1].changes[0]: is 25",
                "bytes; at most 2097152 are allowed",
            ],
        ),
        (
            "2,160,000 operations in one push",
            nine,
            ["more than 2000000 operations", "push fewer"],
        ),
    ];
    let before = state(&server);
    for (name, docs, says) in cases {
        let r = push_raw(&server.base, &olga.session.token, push_body(&olga, &docs));
        assert_eq!(r.status().as_u16(), 413, "{name}");
        let text = r.text().expect("body");
        for s in says {
            assert!(text.contains(s), "{name}: {text} should say {s:?}");
        }
        assert!(text.contains("too_large"), "{name}: {text}");
        assert_eq!(state(&server), before, "{name}: nothing stored");
    }
    assert_eq!(
        olga.sync().expect("sync").pushed,
        1,
        "the honest record is unharmed"
    );
}

#[test]
fn a_body_past_a_limit_is_refused_alone_with_the_field_and_the_limit() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    let mut gia = Device::enroll(&server, &GIA);
    olga.sync().expect("sync");
    gia.sync().expect("sync");
    let good_hash = "ab".repeat(32);
    let incident = |id, narrative: String, photos: Vec<String>| {
        let i = incident_input(id, narrative, photos);
        forged(&olga, id, DocKind::Incident, ids::LINCOLN, move |tx| {
            document::init_incident(tx, &i, at(1))
        })
    };
    // A shift starts with no checks (the rules refuse any other first change); the check
    // comes in a second change.
    let shift = |id, note: String, photos: Vec<String>| {
        let c = check_input(id * 10, note, photos);
        let who = gia.session.person_id;
        let (h, mut doc) = forged(&gia, id, DocKind::Shift, ids::LINCOLN, |tx| {
            document::init_shift(tx, ids::LINCOLN_MAIN, at(0))
        });
        document::change(&mut doc, at(2), who, "record_check", |tx| {
            document::append_check(tx, &c, who)
        })
        .expect("check");
        (h, doc)
    };
    type Case = (
        &'static str,
        (Header, automerge::Automerge),
        bool,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            "actions taken one character too long",
            {
                let mut i = incident_input(0xa1, "Fine.".into(), vec![]);
                i.actions = "é".repeat(20_001);
                forged(&olga, 0xa1, DocKind::Incident, ids::LINCOLN, move |tx| {
                    document::init_incident(tx, &i, at(1))
                })
            },
            true,
            "incident.actions: is 20001 characters long; at most 20000 are allowed",
        ),
        (
            "an incident photo reference that is not a hash",
            incident(
                0xa2,
                "Fine.".into(),
                vec![good_hash.clone(), "aéééé".into()],
            ),
            true,
            "incident.photos[1]: \"aéééé\" is not a photo reference",
        ),
        (
            "21 photos",
            incident(0xa3, "Fine.".into(), vec![good_hash.clone(); 21]),
            true,
            "incident.photos: has 21 photo references; at most 20",
        ),
        (
            "a check photo reference that is a path",
            shift(0xa4, "Door open".into(), vec!["../../etc/passwd".into()]),
            false,
            // Refused by the rules as the check is appended, with the limits' message.
            "shift.checks[].photos[0]: \"../../etc/passwd\" is not a photo reference",
        ),
        (
            "a check note one character too long",
            shift(0xa5, "n".repeat(2_001), vec![]),
            false,
            "shift.checks[0].note: is 2001 characters long; at most 2000",
        ),
        (
            "a note shared with 51 people",
            {
                let n = NoteInput {
                    id: Uuid::from_u128(0xa6),
                    school_id: ids::LINCOLN,
                    student_ref: "S-1".into(),
                    student_name: "A Student".into(),
                    contact_type: ContactType::Informal,
                    reason: "Talk".into(),
                    outcome: String::new(),
                    referral: Referral::None,
                    follow_up_on: None,
                    classification: Classification::RestrictedLawEnforcement,
                    shared_with: (0..51).map(Uuid::from_u128).collect(),
                    contacted_at: at(0),
                };
                forged(&olga, 0xa6, DocKind::ContactNote, ids::LINCOLN, move |tx| {
                    document::init_note(tx, &n)
                })
            },
            true,
            "note.shared_with: has 51 people; at most 50",
        ),
    ];
    let fine = incident(0xaf, "Fine.".into(), vec![good_hash.clone()]);
    for (name, (h, doc), by_olga, says) in cases {
        let before = state(&server);
        let d = if by_olga { &olga } else { &gia };
        let mut docs = vec![(h.clone(), changes_of(&doc))];
        if by_olga {
            docs.push((fine.0.clone(), changes_of(&fine.1)));
        }
        let r = push_raw(&server.base, &d.session.token, push_body(d, &docs));
        assert_eq!(r.status().as_u16(), 200, "{name}: answered per document");
        let resp: rounds_protocol::PushResponse =
            rounds_protocol::decode(&r.bytes().expect("body")).expect("push response");
        let [rejected] = resp.rejected.as_slice() else {
            panic!("{name}: one document refused: {resp:?}");
        };
        assert_eq!(rejected.doc, h.id, "{name}");
        assert_eq!(
            rejected.kind,
            rounds_protocol::RejectKind::Invalid,
            "{name}"
        );
        assert!(
            rejected.message.contains(says),
            "{name}: {:?} should say {says:?}",
            rejected.message
        );
        assert!(
            server.storage.header(h.id).expect("header").is_none(),
            "{name}: nothing of the refused document is stored"
        );
        if by_olga {
            assert!(
                server.storage.header(fine.0.id).expect("header").is_some(),
                "{name}: the other document of the push commits"
            );
        } else {
            assert_eq!(state(&server), before, "{name}: nothing stored");
        }
    }
}

#[test]
fn a_document_whose_history_would_pass_its_cap_is_refused_and_keeps_what_it_had() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    let (h, mut doc) = forged(&olga, 0xb1, DocKind::Incident, ids::LINCOLN, |tx| {
        document::init_incident(tx, &incident_input(0xb1, "Fine.".into(), vec![]), at(1))
    });
    // Each change writes a 1 MB location and overwrites it with a short one: a field its
    // author may change while it is a draft, a body within every cap after the merge, and a
    // megabyte of history in two operations.
    fn pad(doc: &mut automerge::Automerge, by: Uuid, n: u32) {
        for k in 0..n {
            document::change(doc, at(2), by, "edit_incident", |tx| {
                tx.put(
                    automerge::ROOT,
                    "location",
                    format!("{k}").repeat(1_000_000),
                )?;
                tx.put(automerge::ROOT, "location", "Gym")?;
                Ok(())
            })
            .expect("pad");
        }
    }
    pad(&mut doc, h.author_id, 4);
    let first = changes_of(&doc);
    let r = push_raw(
        &server.base,
        &olga.session.token,
        push_body(&olga, &[(h.clone(), first.clone())]),
    );
    let resp: rounds_protocol::PushResponse =
        rounds_protocol::decode(&r.bytes().expect("body")).expect("response");
    assert!(resp.rejected.is_empty(), "4 MB of history fit: {resp:?}");
    let stored = server.storage.max_seq().expect("seq");
    pad(&mut doc, h.author_id, 3);
    let more: Vec<Vec<u8>> = changes_of(&doc).split_off(first.len());
    let r = push_raw(
        &server.base,
        &olga.session.token,
        push_body(&olga, &[(h.clone(), more)]),
    );
    let resp: rounds_protocol::PushResponse =
        rounds_protocol::decode(&r.bytes().expect("body")).expect("response");
    let [rejected] = resp.rejected.as_slice() else {
        panic!("the document is refused: {resp:?}");
    };
    assert_eq!(rejected.kind, rounds_protocol::RejectKind::Invalid);
    assert!(
        rejected.message.contains("incident history: is")
            && rejected.message.contains("at most 6291456 are allowed"),
        "{:?}",
        rejected.message
    );
    assert_eq!(
        server.storage.max_seq().expect("seq"),
        stored,
        "none of the new changes is stored"
    );
    assert_eq!(
        server
            .storage
            .document(h.id)
            .expect("doc")
            .expect("stored")
            .changes
            .len(),
        5,
        "the document keeps the history it had"
    );
}

/// Signs in to the console; the session cookie.
fn console_cookie(base: &str, who: &Login) -> String {
    let r = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{base}/console/login"))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        // Demo names and passwords need no escaping.
        .body(format!(
            "username={}&password={}",
            who.username, who.password
        ))
        .send()
        .expect("sign in");
    assert_eq!(r.status().as_u16(), 303, "signed in");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("rounds_console="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string()
}

#[test]
fn a_stored_photo_reference_that_is_not_a_hash_does_not_break_the_console() {
    let shift_id = Uuid::from_u128(0x5e1);
    let incident_id = Uuid::from_u128(0x5e2);
    let server = TestServer::start_with(
        |st| {
            // Written before the server checked references: straight into storage.
            let header = |id, kind, author, classification| Header {
                id,
                kind,
                school_id: ids::LINCOLN,
                author_id: author,
                device_id: Uuid::from_u128(0xde1),
                created_at: at(0),
                classification,
            };
            let sh = header(
                shift_id,
                DocKind::Shift,
                ids::GUARD_LINCOLN,
                Classification::Internal,
            );
            let check = check_input(0x5e11, "Broken window".into(), vec!["aéééé".into()]);
            let shift = document::create(&sh, ids::GUARD_LINCOLN, "start_shift", |tx| {
                document::init_shift(tx, ids::LINCOLN_MAIN, at(0))?;
                document::append_check(tx, &check, ids::GUARD_LINCOLN)
            })
            .expect("shift");
            let ih = header(
                incident_id,
                DocKind::Incident,
                ids::SRO_OLGA,
                Classification::Confidential,
            );
            let input = incident_input(
                0x5e2,
                "Window broken".into(),
                vec!["aéééé".into(), "é".into()],
            );
            let incident = document::create(&ih, ids::SRO_OLGA, "create_incident", |tx| {
                document::init_incident(tx, &input, at(1))
            })
            .expect("incident");
            let commit = |h: Header, doc: &automerge::Automerge, projection| Commit {
                header: h,
                expected_version: None,
                changes: doc
                    .get_changes(&[])
                    .iter()
                    .map(|c| (c.hash().0, c.raw_bytes().to_vec()))
                    .collect(),
                projection,
                at: at(1),
                signatures: vec![],
            };
            let outcomes = st
                .commit_all(&[
                    commit(
                        sh,
                        &shift,
                        Projection::Shift {
                            post_id: ids::LINCOLN_MAIN,
                            started_at: at(0),
                            ended_at: None,
                            checks: vec![CheckRow {
                                id: check.id,
                                checkpoint_id: check.checkpoint_id,
                                result: check.result,
                                note: check.note.clone(),
                                at: check.at,
                            }],
                        },
                    ),
                    commit(
                        ih,
                        &incident,
                        Projection::Incident {
                            incident_type: input.incident_type,
                            status: IncidentStatus::Draft,
                            location: input.location.clone(),
                            occurred_at: input.occurred_at,
                            submitted_at: None,
                        },
                    ),
                ])
                .expect("stored");
            assert!(outcomes.iter().all(|o| *o == CommitOutcome::Committed));
        },
        rounds_server::AppState::new,
    );
    let cookie = console_cookie(&server.base, &SUPERVISOR);
    for (path, shows_photos) in [
        (
            format!("/console/day?date=2026-11-30&school={}", ids::LINCOLN),
            true,
        ),
        ("/console/day?date=2026-11-30".to_string(), false),
        (format!("/console/incidents/{incident_id}"), true),
    ] {
        let r = Client::new()
            .get(format!("{}{path}", server.base))
            .header("cookie", format!("rounds_console={cookie}"))
            .send()
            .expect("get");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let page = r.text().expect("page");
        assert!(
            !shows_photos || page.contains("invalid photo reference"),
            "{path}: the bad reference is shown as such"
        );
    }
}

#[test]
fn numbers_in_requests_are_range_checked_never_wrapped() {
    let server = TestServer::start();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("sync");
    incident_at(&mut olga, 0x7a, ids::LINCOLN, "Something happened.");
    olga.sync().expect("sync");
    let end = server.storage.max_seq().expect("seq");
    let admin = client_sign_in_admin(&server);
    let http = Client::new();
    let base = server.base.clone();
    let pull = |q: &str| {
        http.get(format!("{base}/v1/sync/pull?{q}"))
            .bearer_auth(&olga.session.token)
            .send()
            .expect("pull")
    };
    let put = |q: &str| {
        // Any record id: the numbers are checked before the record is looked up.
        http.put(format!(
            "{base}/v1/photos/{}?record={}&{q}",
            "ab".repeat(32),
            Uuid::from_u128(1)
        ))
        .bearer_auth(&olga.session.token)
        .body(vec![0xFFu8, 0xD8, 0xFF, 0xE0])
        .send()
        .expect("put")
    };
    let code = |hours: &str| {
        http.post(format!("{base}/v1/admin/enrollment-codes"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(format!(r#"{{"valid_hours": {hours}}}"#))
            .send()
            .expect("code")
    };
    let cases: Vec<(&str, reqwest::blocking::Response, &str)> = vec![
        (
            "after=2^63",
            pull("after=9223372036854775808"),
            "past the end",
        ),
        (
            "after=2^64-1",
            pull("after=18446744073709551615"),
            "past the end",
        ),
        (
            "after past the end",
            pull(&format!("after={}", end + 1)),
            "past the end",
        ),
        ("after=2^64", pull("after=18446744073709551616"), "after"),
        ("after=-1", pull("after=-1"), "after"),
        ("after=abc", pull("after=abc"), "after"),
        (
            "max=2^64-1",
            pull("after=0&max=18446744073709551615"),
            "page size",
        ),
        ("max=-1", pull("after=0&max=-1"), "max"),
        ("ref=-1", pull("after=0&ref=-1"), "ref"),
        (
            "offset=2^64-1",
            put("offset=18446744073709551615&total=4"),
            "goes past",
        ),
        ("offset=-1", put("offset=-1&total=4"), "offset"),
        (
            "total=2^63",
            put("offset=0&total=9223372036854775808"),
            "total",
        ),
        ("total=abc", put("offset=0&total=abc"), "total"),
        (
            "valid_hours=2^63",
            code("9223372036854775808"),
            "valid_hours",
        ),
        ("valid_hours=-1", code("-1"), "valid_hours"),
        ("valid_hours=1e9", code("1000000000"), "valid_hours"),
    ];
    for (name, r, says) in cases {
        assert_eq!(r.status().as_u16(), 400, "{name}");
        let text = r.text().expect("body");
        assert!(text.contains(says), "{name}: {text} should say {says:?}");
    }
    // The real cursor still answers, and at the end there is nothing new.
    assert_eq!(pull("after=0").status().as_u16(), 200);
    let version = server.storage.reference_version().expect("version");
    assert_eq!(
        pull(&format!("after={end}&ref={version}"))
            .status()
            .as_u16(),
        204
    );
    let cookie = console_cookie(&base, &SUPERVISOR);
    for path in [
        "/console/day?date=262143-12-31",
        "/console/day?date=-262143-01-01",
        "/console/day?date=99999999-01-01",
        "/console/incidents?from=262143-12-31&to=-262143-01-01",
        "/console/reports/daily.csv?date=262143-12-31",
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", format!("rounds_console={cookie}"))
            .send()
            .expect("get");
        assert!(
            r.status().as_u16() == 200 || r.status().as_u16() == 400,
            "{path}: {} (never a 500)",
            r.status()
        );
    }
}

/// Reads from `s` until the server closes the connection or `limit` passes; what it read.
fn read_until_closed(s: &mut std::net::TcpStream, limit: std::time::Duration) -> (String, bool) {
    use std::io::Read;
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&got).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[test]
fn a_client_that_stalls_is_cut_off_within_the_timeouts() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let data = seeded_district();
    let server = ServerProcess::start(
        &data,
        &[
            ("ROUNDS_HEADER_TIMEOUT_SECS", "2"),
            ("ROUNDS_BODY_TIMEOUT_SECS", "2"),
        ],
    );
    // A body promised and not sent (1,000 bytes promised, 4 sent).
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    let t = Instant::now();
    s.write_all(
        b"POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"us",
    )
    .expect("write");
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    let took = t.elapsed();
    assert!(closed, "the connection is closed: {answer:?}");
    assert!(
        took >= Duration::from_millis(1_500) && took < Duration::from_secs(5),
        "cut off after the 2 s body timeout, took {took:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
        "an error answer, if any: {answer:?}"
    );
    // A head that never ends.
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    let t = Instant::now();
    s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        .expect("write");
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(10));
    let took = t.elapsed();
    assert!(closed, "the connection is closed: {answer:?}");
    assert!(
        took >= Duration::from_millis(1_500) && took < Duration::from_secs(5),
        "cut off after the 2 s header timeout, took {took:?}"
    );
    // A client that sends nothing at all.
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed, "a silent connection is closed too");
    // A slow but steady body is not cut off: 10 pieces, one every second (under the 2 s).
    let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
    let body = br#"{"username":"nobody","password":"wrong-password-1"}"#;
    write!(
        s,
        "POST /v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    for piece in body.chunks(body.len().div_ceil(4)) {
        std::thread::sleep(Duration::from_secs(1));
        s.write_all(piece).expect("a steady upload is still read");
    }
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(10));
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the request was read whole and answered: {answer:?}"
    );
}

#[test]
fn connections_from_one_address_are_capped_and_the_excess_refused_at_once() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let data = seeded_district();
    let server = ServerProcess::start(&data, &[("ROUNDS_MAX_CONNECTIONS_PER_ADDRESS", "4")]);
    let health = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n";
    let mut open = Vec::new();
    for i in 0..4 {
        let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
        s.write_all(health).expect("write");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 1024];
        let n = std::io::Read::read(&mut s, &mut buf).expect("answer");
        assert!(
            String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
            "connection {i} is served"
        );
        open.push(s);
    }
    let mut fifth = std::net::TcpStream::connect(server.addr()).expect("connect");
    let t = Instant::now();
    let (answer, closed) = read_until_closed(&mut fifth, Duration::from_secs(5));
    assert!(closed, "the fifth connection is closed");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "at once: {:?}",
        t.elapsed()
    );
    assert!(
        answer.starts_with("HTTP/1.1 429") && answer.contains("at most 4 connections"),
        "{answer:?}"
    );
    // Closing one frees its place.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = std::net::TcpStream::connect(server.addr()).expect("connect");
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .expect("write");
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5));
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "a place is freed: {answer:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

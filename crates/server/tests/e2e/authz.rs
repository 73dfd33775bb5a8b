//! Nobody receives what they must not; forged requests are refused and change nothing.

use std::collections::BTreeSet;

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use rounds_core::client::{self, SyncProblem, Transport};
use rounds_core::wire;
use rounds_protocol::{DocChanges, PushRequest, PushResponse, RejectKind};
use rounds_server::access;
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

/// Every role × kind × school: what each person's device holds after a sync is exactly what
/// the access table allows, decided on the server from the headers.
#[test]
fn every_role_receives_exactly_what_the_table_allows() {
    let server = TestServer::start();
    // Authors: shifts by both guards, incidents and notes at every school.
    let mut gia = Device::enroll(&server, &GIA);
    let mut gus = Device::enroll(&server, &GUS);
    let mut olga = Device::enroll(&server, &OLGA);
    let mut omar = Device::enroll(&server, &OMAR);
    for d in [&mut gia, &mut gus, &mut olga, &mut omar] {
        d.sync().expect("reference data");
    }
    shift_with_checks(&mut gia, 1, ids::LINCOLN_MAIN, 3);
    shift_with_checks(&mut gus, 2, ids::ADAMS_CAMPUS, 3);
    incident_at(&mut gia, 3, ids::LINCOLN, "At Lincoln, by a guard.");
    incident_at(&mut olga, 4, ids::ADAMS, "At Adams, by an SRO.");
    incident_at(&mut omar, 5, ids::BAKER, "At Baker.");
    note_at(&mut olga, 6, ids::LINCOLN, vec![]);
    note_at(&mut olga, 7, ids::ADAMS, vec![ids::SUPERVISOR]);
    note_at(&mut olga, 8, ids::LINCOLN, vec![ids::GUARD_LINCOLN]); // a guard never receives notes
    note_at(&mut omar, 9, ids::BAKER, vec![ids::SRO_OLGA]);
    for d in [&mut gia, &mut gus, &mut olga, &mut omar] {
        let r = d.sync().expect("push");
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    }
    let all: Vec<Uuid> = (1..=9).map(Uuid::from_u128).collect();

    for who in [&ADMIN, &SUPERVISOR, &GIA, &GUS, &OLGA, &OMAR] {
        let mut d = Device::enroll(&server, who);
        d.sync().expect("sync");
        let person = server
            .storage
            .person(d.session.person_id)
            .expect("p")
            .expect("person");
        let viewer = rounds_server::auth::viewer(&person);
        let expected: BTreeSet<Uuid> = all
            .iter()
            .copied()
            .filter(|id| {
                let (h, readers) = server.storage.header(*id).expect("h").expect("stored");
                access::may_read(&viewer, &h, &readers)
            })
            .collect();
        let mut held: BTreeSet<Uuid> = d.store.document_ids().expect("ids").into_iter().collect();
        // The device's own documents are its own business; this device made none.
        held.retain(|id| all.contains(id));
        assert_eq!(
            held, expected,
            "{} holds exactly what the table allows",
            who.username
        );
        if person.role == rounds_core::model::Role::Guard
            || person.role == rounds_core::model::Role::Admin
        {
            assert!(
                !d.kinds_on_disk().iter().any(|k| k == "contact_note"),
                "{}'s device database holds no contact note",
                who.username
            );
        }
    }
    // Spot checks of the table itself, so the test cannot pass by both sides being empty.
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    sam.sync().expect("sync");
    let held = sam.store.document_ids().expect("ids");
    for (id, want) in [
        (1, true),
        (2, true),
        (3, true),
        (4, true),
        (5, false),
        (6, false),
        (7, true),
        (9, false),
    ] {
        assert_eq!(
            held.contains(&Uuid::from_u128(id)),
            want,
            "supervisor and document {id}"
        );
    }
}

fn raw_push(base: &str, token: &str, req: &PushRequest) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(format!("{base}/v1/sync/push"))
        .bearer_auth(token)
        .body(rounds_protocol::encode(req))
        .send()
        .expect("send")
}

fn push_doc(d: &mut Device, id: Uuid) -> DocChanges {
    let header = d.store.header(id).expect("header");
    DocChanges {
        header: wire::header_to_wire(&header),
        changes: d
            .store
            .all_changes(id)
            .expect("changes")
            .into_iter()
            .map(serde_bytes::ByteBuf::from)
            .collect(),
    }
}

/// An incident document made outside the store's checks, written with `d`'s device actor.
fn forge(d: &Device, id: u128, school: Uuid, author: Uuid) -> DocChanges {
    let header = rounds_core::document::Header {
        id: Uuid::from_u128(id),
        kind: rounds_core::model::DocKind::Incident,
        school_id: school,
        author_id: author,
        device_id: d.enrollment.device_id,
        created_at: at(0),
        classification: rounds_core::model::Classification::Confidential,
    };
    let input = rounds_core::model::IncidentInput {
        id: header.id,
        school_id: school,
        incident_type: rounds_core::model::IncidentType::Other,
        location: "Forged".into(),
        occurred_at: at(0),
        people: vec![],
        narrative: "Forged.".into(),
        actions: String::new(),
        photos: vec![],
    };
    let am = rounds_core::document::create(&header, author, "create_incident", |tx| {
        rounds_core::document::init_incident(tx, &input, at(0))
    })
    .expect("forge");
    doc_changes(&header, all_changes(&am))
}

#[test]
fn forged_pushes_are_refused_and_store_nothing() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let mut olga = Device::enroll(&server, &OLGA);
    gia.sync().expect("sync");
    olga.sync().expect("sync");
    let theirs = incident_at(&mut olga, 50, ids::LINCOLN, "Olga's report.");
    olga.sync().expect("push");
    gia.sync().expect("pull");

    let cases: Vec<(&str, PushRequest, RejectKind)> = vec![
        (
            "an incident at a school she is not assigned to",
            PushRequest {
                signatures: vec![],
                docs: vec![forge(&gia, 51, ids::BAKER, ids::GUARD_LINCOLN)],
            },
            RejectKind::Forbidden,
        ),
        (
            "an incident claiming another author",
            PushRequest {
                signatures: vec![],
                docs: vec![forge(&gia, 53, ids::LINCOLN, ids::SRO_OLGA)],
            },
            RejectKind::Forbidden,
        ),
        (
            "someone else's changes presented as her own push (another author and device)",
            PushRequest {
                signatures: vec![],
                docs: vec![{
                    let mut d = push_doc(&mut olga, theirs);
                    d.header.id = Uuid::from_u128(52);
                    d
                }],
            },
            RejectKind::Forbidden,
        ),
        (
            "a different header for an existing document",
            PushRequest {
                signatures: vec![],
                docs: vec![{
                    let mut d = push_doc(&mut gia, theirs);
                    d.header.school = ids::ADAMS;
                    d
                }],
            },
            RejectKind::HeaderChanged,
        ),
        (
            "a change that rewrites the header inside the document",
            PushRequest {
                signatures: vec![],
                docs: vec![{
                    let mut d = push_doc(&mut gia, theirs);
                    let mut am = gia.store.document(theirs).expect("doc");
                    let mut tx = am.transaction();
                    let (_, h) = tx
                        .get(automerge::ROOT, "header")
                        .expect("get")
                        .expect("header");
                    tx.put(&h, "author", ids::GUARD_LINCOLN.to_string())
                        .expect("put");
                    tx.commit();
                    d.changes = vec![serde_bytes::ByteBuf::from(
                        am.get_last_local_change()
                            .expect("change")
                            .raw_bytes()
                            .to_vec(),
                    )];
                    d
                }],
            },
            RejectKind::HeaderChanged,
        ),
    ];
    for (name, req, kind) in cases {
        let before = server_state(&server);
        let r = raw_push(&server.base, &gia.session.token, &req);
        assert_eq!(r.status(), 200, "{name}");
        let resp: PushResponse =
            rounds_protocol::decode(&r.bytes().expect("body")).expect("decode");
        assert!(resp.committed.is_empty(), "{name}: nothing committed");
        assert_eq!(resp.rejected.len(), 1, "{name}");
        assert_eq!(
            resp.rejected[0].kind, kind,
            "{name}: {}",
            resp.rejected[0].message
        );
        assert_eq!(server_state(&server), before, "{name}: server unchanged");
    }
}

#[test]
fn credentials_are_checked_on_every_request() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let mut olga = Device::enroll(&server, &OLGA);
    gia.sync().expect("sync");
    let pull = |token: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{}/v1/sync/pull?after=0&ref=0", server.base))
            .bearer_auth(token)
            .send()
            .expect("send")
    };
    // No credential, a garbage one.
    let r = reqwest::blocking::get(format!("{}/v1/sync/pull", server.base)).expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(pull("not-a-token").status(), 401);

    // A reused enrollment code, an expired one.
    let code = server.code();
    client::enroll(&server.base, &code, "first").expect("first use");
    let err = client::enroll(&server.base, &code, "second").expect_err("reuse");
    assert!(
        matches!(err, SyncProblem::Refused(ref m) if m.contains("not valid")),
        "{err:?}"
    );
    let expired = rounds_server::admin::issue_code(
        server.storage.as_ref(),
        ids::ADMIN,
        now() - chrono::Duration::hours(3),
        1,
        &mut rounds_core::entropy::SeededEntropy::new(77),
    )
    .expect("code");
    assert!(
        client::enroll(&server.base, &expired.code, "late").is_err(),
        "expired code refused"
    );

    // Another device's credential: Gia's device id with Olga's device secret.
    let mut forged = gia.enrollment.clone();
    forged.device_secret = olga.enrollment.device_secret.clone();
    let err = client::sign_in(
        &server.base,
        GIA.username,
        GIA.password,
        &forged,
        &gia.signing.public(),
    )
    .expect_err("forged");
    assert!(matches!(err, SyncProblem::SignInAgain(_)), "{err:?}");
    // A wrong password.
    assert!(
        client::sign_in(
            &server.base,
            GIA.username,
            "guess",
            &gia.enrollment,
            &gia.signing.public()
        )
        .is_err()
    );

    // Revoking Gia's device stops it at its next request, whatever it carries.
    rounds_server::admin::revoke(
        server.storage.as_ref(),
        gia.enrollment.device_id,
        None,
        now(),
    )
    .expect("revoke");
    let r = pull(&gia.session.token);
    assert_eq!(r.status(), 403);
    let err = gia.sync().expect_err("revoked");
    assert_eq!(err, SyncProblem::Revoked);
    assert_eq!(
        client::status(&gia.store)
            .expect("status")
            .last_error_text
            .as_deref(),
        Some(
            "This device was revoked by the district. Nothing more will sync; ask your supervisor."
        )
    );
    assert!(
        client::sign_in(
            &server.base,
            GIA.username,
            GIA.password,
            &gia.enrollment,
            &gia.signing.public()
        )
        .is_err()
    );
    // Olga's device is unaffected.
    olga.sync().expect("other devices still sync");
    let mut t = olga.transport();
    assert!(t.pull(0, 0, 4096, false).is_ok());
}

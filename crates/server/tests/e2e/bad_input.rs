//! Bad input to the HTTP API gets a 4xx with a clear message and changes nothing.

use reqwest::blocking::Client;
use rounds_protocol::{DocChanges, FetchRequest, PushRequest, WireHeader};
use rounds_server::seed::ids;
use rounds_server::storage::Storage;
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

//! Device events against a real server over real HTTP (`POST /v1/device-events`): what a device
//! reports becomes `device_event` audit entries once, however often it is sent; an event naming
//! someone who never signed in on the device, or at an impossible time, is refused by itself
//! (the device forgets it) and the rest are stored; a malformed or oversized body is a 400 that
//! stores nothing.

use rounds_core::client::Transport;
use rounds_core::events::{DeviceEventKind, event};
use rounds_protocol::{DeviceEventsRequest, DeviceEventsResponse, MAX_DEVICE_EVENTS};
use rounds_server::audit::{AuditKind, verify_stored};
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

fn device_events(server: &TestServer) -> Vec<serde_json::Value> {
    server
        .storage
        .audit_entries(0, 10_000)
        .expect("entries")
        .into_iter()
        .filter(|e| e.kind == AuditKind::DeviceEvent)
        .map(|e| {
            let mut body: serde_json::Value = serde_json::from_str(&e.body).expect("body");
            body["detail"]["person"] = serde_json::json!(e.person);
            body["detail"]["device"] = serde_json::json!(e.device);
            body["detail"].clone()
        })
        .collect()
}

#[test]
fn device_events_are_stored_once_and_a_bad_one_is_refused_alone() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    let device = gia.enrollment.device_id;
    let t = now();
    let mine = |n: u128, kind, failures| {
        event(
            Uuid::from_u128(n),
            kind,
            Some(ids::GUARD_LINCOLN),
            t,
            failures,
        )
    };
    gia.store
        .record_events(&[
            mine(1, DeviceEventKind::UnlockFailed, 1),
            mine(2, DeviceEventKind::Unlocked, 0),
            // Olga never signed in on Gia's phone.
            event(
                Uuid::from_u128(3),
                DeviceEventKind::Unlocked,
                Some(ids::SRO_OLGA),
                t,
                0,
            ),
            event(
                Uuid::from_u128(4),
                DeviceEventKind::Locked,
                Some(ids::GUARD_LINCOLN),
                t + chrono::Duration::days(3),
                0,
            ),
        ])
        .expect("recorded");
    let report = gia.sync().expect("sync");
    assert_eq!(report.events_sent, 4, "all answered, so all forgotten");
    let refused: Vec<Uuid> = report.events_refused.iter().map(|(id, _)| *id).collect();
    assert_eq!(refused, vec![Uuid::from_u128(3), Uuid::from_u128(4)]);
    assert!(
        report.events_refused[0]
            .1
            .contains("has not signed in on this device")
    );
    assert!(gia.store.waiting_events(100).expect("none").is_empty());
    let stored = device_events(&server);
    assert_eq!(stored.len(), 2, "{stored:#?}");
    assert_eq!(stored[0]["event"], "unlock_failed");
    assert_eq!(stored[0]["failures"], 1);
    assert_eq!(stored[1]["event"], "unlocked");
    for s in &stored {
        assert_eq!(s["person"], ids::GUARD_LINCOLN.to_string());
        assert_eq!(s["device"], device.to_string());
    }

    // The same events again (a lost answer makes the device send them again): stored as
    // before, recorded once.
    let mut http = gia.transport();
    let again = rounds_protocol::encode(&DeviceEventsRequest {
        events: vec![
            mine(1, DeviceEventKind::UnlockFailed, 1),
            mine(2, DeviceEventKind::Unlocked, 0),
        ],
    });
    let resp: DeviceEventsResponse =
        rounds_protocol::decode(&http.device_events(again).expect("answer")).expect("decodes");
    assert_eq!(resp.stored, vec![Uuid::from_u128(1), Uuid::from_u128(2)]);
    assert_eq!(device_events(&server).len(), 2, "nothing twice");

    // Too many in one body, or a body that is not one: 400, nothing stored.
    let flood = rounds_protocol::encode(&DeviceEventsRequest {
        events: (0..=MAX_DEVICE_EVENTS as u128)
            .map(|n| mine(1_000 + n, DeviceEventKind::Locked, 0))
            .collect(),
    });
    let said = http.device_events(flood).expect_err("refused");
    assert!(said.to_string().contains("at most"), "{said}");
    let said = http
        .device_events(b"RNDS\x04\x00garbage".to_vec())
        .expect_err("refused");
    assert!(!said.to_string().is_empty());
    // Without a device's session: refused before anything is read.
    let mut stranger =
        rounds_core::client::HttpTransport::new(&server.base, "not-a-token").expect("transport");
    assert!(
        stranger
            .device_events(rounds_protocol::encode(&DeviceEventsRequest::default()))
            .is_err()
    );
    assert_eq!(device_events(&server).len(), 2);
    verify_stored(server.storage.as_ref()).expect("the chain verifies");
}

//! Remote wipe against a real server over real HTTP: a phone revoked with "wipe after push"
//! that comes back from being offline pushes what waited on it (every change stored on the
//! server) and is then told to erase itself; until it reports the wipe it may push and report,
//! nothing else; after, nothing at all, and its keys are revoked. "Wipe now" refuses the push:
//! what waited is not stored. A plain revocation stays a plain refusal. (The app's erasing of
//! the phone's files is checked in `crates/app/tests/app.rs`.)

use rounds_core::client::{self, SyncProblem, Transport};
use rounds_core::events::{DeviceEventKind, event};
use rounds_server::admin::{self, Wipe};
use rounds_server::audit::AuditKind;
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

fn stored_changes(server: &TestServer, doc: Uuid) -> usize {
    server
        .storage
        .document(doc)
        .expect("read")
        .map_or(0, |d| d.to_automerge_and_changes().expect("reads").1.len())
}

fn keys_revoked(server: &TestServer, d: &Device) -> bool {
    let keys = server
        .storage
        .signing_keys(d.enrollment.device_id)
        .expect("keys");
    !keys.is_empty() && keys.iter().all(|k| k.revoked_at.is_some())
}

#[test]
fn a_phone_wiped_after_push_delivers_what_waited_then_may_only_report_the_wipe() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("reference");
    // Offline in the basement: a shift of four checks waits on the phone.
    let shift = shift_with_checks(&mut gia, 0x71, ids::LINCOLN_MAIN, 4);
    let waiting = pending(&gia).len();
    assert!(waiting >= 5);
    // Meanwhile the phone is reported lost; the admin revokes it, to wipe after its records.
    admin::revoke_with(
        server.storage.as_ref(),
        gia.enrollment.device_id,
        Some(ids::ADMIN),
        now(),
        Wipe::AfterPush,
    )
    .expect("revoke");

    assert!(
        !keys_revoked(&server, &gia),
        "its people's keys stay accepted for what waits on it"
    );
    // Back in signal: the push goes through, then the server asks for the wipe.
    let said = gia.sync().expect_err("told to wipe");
    assert_eq!(said, SyncProblem::Wipe { after_push: true });
    assert_eq!(
        stored_changes(&server, shift),
        waiting,
        "every waiting change"
    );
    assert!(pending(&gia).is_empty(), "and acknowledged");
    // Until the wipe is reported it may push and report, and nothing else.
    let mut http = gia.transport();
    assert_eq!(
        http.pull(0, 0, 1_000_000, false).expect_err("no pull"),
        SyncProblem::Wipe { after_push: true }
    );
    assert!(
        http.push(rounds_protocol::encode(
            &rounds_protocol::PushRequest::default()
        ))
        .is_ok()
    );
    // The phone reports the wipe: from then on it is simply revoked, its keys with it.
    gia.store
        .record_events(&[event(
            Uuid::from_u128(0x71E),
            DeviceEventKind::Wiped,
            Some(ids::GUARD_LINCOLN),
            now(),
            0,
        )])
        .expect("event");
    client::send_events(
        &mut gia.store,
        &mut http,
        &mut client::SyncReport::default(),
    )
    .expect("reported");
    assert_eq!(gia.sync().expect_err("revoked"), SyncProblem::Revoked);
    assert!(
        keys_revoked(&server, &gia),
        "its keys are revoked once it is wiped"
    );
    let trail = server.storage.audit_entries(0, 10_000).expect("trail");
    let revoked = trail
        .iter()
        .find(|e| e.kind == AuditKind::DeviceRevoked)
        .expect("revocation entry");
    assert!(
        revoked.body.contains(r#""wipe":"after_push""#),
        "{}",
        revoked.body
    );
    assert!(
        trail
            .iter()
            .any(|e| e.kind == AuditKind::DeviceEvent && e.body.contains(r#""event":"wiped""#)),
        "the wipe is in the trail"
    );
}

#[test]
fn wipe_now_refuses_the_push_and_a_plain_revocation_stays_a_refusal() {
    let server = TestServer::start();
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("reference");
    let shift = shift_with_checks(&mut gia, 0x72, ids::LINCOLN_MAIN, 2);
    admin::revoke_with(
        server.storage.as_ref(),
        gia.enrollment.device_id,
        None,
        now(),
        Wipe::Now,
    )
    .expect("revoke");
    assert_eq!(
        gia.sync().expect_err("told to wipe"),
        SyncProblem::Wipe { after_push: false }
    );
    assert_eq!(stored_changes(&server, shift), 0, "nothing of it stored");
    assert!(keys_revoked(&server, &gia), "keys revoked at once");

    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("reference");
    admin::revoke(
        server.storage.as_ref(),
        olga.enrollment.device_id,
        None,
        now(),
    )
    .expect("revoke");
    assert_eq!(olga.sync().expect_err("revoked"), SyncProblem::Revoked);
    let mut http = olga.transport();
    assert!(
        matches!(
            http.device_events(rounds_protocol::encode(
                &rounds_protocol::DeviceEventsRequest::default()
            )),
            Err(SyncProblem::Revoked)
        ),
        "a revoked phone without a wipe may report nothing either"
    );
}

//! A post phone shared by several people: each person's cursor, reference data and lists are
//! their own, and anyone's sync carries everyone's signed waiting work, each change judged as
//! and attributed to its maker. The phone is Gus's (a guard at Adams); Gia (a guard at
//! Lincoln) and Sam (the supervisor of both schools) are added to it.

use chrono::{DateTime, Utc};
use rounds_core::client::{self, HttpTransport, Session};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{KdfParams, Lockout, Secret};
use rounds_core::store::{IncidentFilter, Store};
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

const PIN: &str = "2468013579";

/// Someone added to the shared phone: their session and a way to unlock as them.
struct Person {
    id: Uuid,
    session: Session,
    signing: rounds_core::signing::SigningSecret,
}

fn add(phone: &Device, who: &Login) -> Person {
    // Each person's own randomness: the same seed would give two people the same key.
    let mut entropy = SeededEntropy::new(who.username.bytes().map(u64::from).sum());
    let signing = rounds_core::signing::SigningSecret::generate(&mut entropy);
    let session = client::sign_in(
        &phone.base,
        who.username,
        who.password,
        &phone.enrollment,
        &signing.public(),
    )
    .expect("sign in");
    let mut lockout = Lockout::for_store(phone.path(), &mut entropy).expect("seal");
    phone
        .store
        .add_person(
            &Secret::new(PIN),
            session.person_id,
            &Secret::new(PIN),
            KdfParams::FOR_TESTS,
            &mut lockout,
            std::time::Instant::now(),
            &mut entropy,
            &signing,
        )
        .expect("add to the phone");
    Person {
        id: session.person_id,
        session,
        signing,
    }
}

fn unlock(phone: &Device, p: &Person) -> Store {
    Store::open(phone.path(), p.id, &Secret::new(PIN)).expect("unlock")
}

fn sync_as(
    phone: &Device,
    store: &mut Store,
    p: &Person,
    when: DateTime<Utc>,
) -> client::SyncReport {
    let mut t = HttpTransport::new(&phone.base, &p.session.token).expect("transport");
    let r = client::sync_now(store, &mut t, when).expect("sync");
    assert!(r.rejected.is_empty(), "nothing refused: {:?}", r.rejected);
    r
}

fn shift_ids(s: &Store) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = s
        .shifts(100)
        .expect("shifts")
        .into_iter()
        .map(|r| r.id)
        .collect();
    v.sort();
    v
}

fn incident_schools(s: &Store) -> Vec<Uuid> {
    let mut v: Vec<Uuid> = s
        .incidents(&IncidentFilter::default())
        .expect("incidents")
        .into_iter()
        .map(|r| r.school_id)
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn a_guard_a_second_guard_and_a_supervisor_of_two_schools_share_a_phone() {
    let server = TestServer::start();
    // Before the phone is shared: Gia walked a round at Lincoln on her old phone, and Olga
    // filed an incident at each school.
    let mut gias_old_phone = Device::enroll(&server, &GIA);
    gias_old_phone.sync().expect("reference");
    let gias_old_shift = shift_with_checks(&mut gias_old_phone, 0x51, ids::LINCOLN_MAIN, 3);
    gias_old_phone
        .store
        .end_shift(gias_old_shift, at(400))
        .expect("end of that shift");
    gias_old_phone.sync().expect("gia's old shift");
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("reference");
    let at_lincoln = incident_at(&mut olga, 0x61, ids::LINCOLN, "Broken window by the gym.");
    let at_adams = incident_at(&mut olga, 0x62, ids::ADAMS, "Graffiti on the bus shelter.");
    olga.sync().expect("olga's incidents");

    // The phone is Gus's: he syncs, and his place in the feed moves past Gia's shift, which
    // is not his to receive.
    let mut phone = Device::enroll(&server, &GUS);
    phone.sync().expect("gus syncs");
    let gus_shift = shift_with_checks(&mut phone, 0x52, ids::ADAMS_CAMPUS, 2);
    phone.sync().expect("gus's shift");
    assert_eq!(shift_ids(&phone.store), vec![gus_shift]);
    assert_eq!(incident_schools(&phone.store), vec![ids::ADAMS]);

    // Gia is added and syncs: she receives her own older shift although the phone's first
    // person was already past it in the feed.
    let gia = add(&phone, &GIA);
    let sam = add(&phone, &SUPERVISOR);
    let mut as_gia = unlock(&phone, &gia);
    assert!(
        shift_ids(&as_gia).is_empty() && incident_schools(&as_gia).is_empty(),
        "before her first sync Gia sees nothing of Gus's"
    );
    sync_as(&phone, &mut as_gia, &gia, at(700));
    assert_eq!(
        shift_ids(&as_gia),
        vec![gias_old_shift],
        "her own shift, and not Gus's"
    );
    assert_eq!(incident_schools(&as_gia), vec![ids::LINCOLN]);
    assert!(
        as_gia.incident(at_adams).is_err(),
        "an Adams incident on the phone is not found for a Lincoln guard"
    );
    assert!(
        as_gia.search("Graffiti", 10).expect("search").is_empty(),
        "nor found by search"
    );
    assert!(
        as_gia.shift(gus_shift, at(700)).is_err(),
        "Gus's shift is not Gia's to open"
    );
    assert!(
        as_gia
            .reference_data()
            .expect("reference")
            .posts
            .iter()
            .any(|p| p.id == ids::ADAMS_CAMPUS),
        "Gus's post is still on the phone for Gus's rounds"
    );

    // Gia starts a shift and records a check with no signal, then hands the phone over.
    let gias_shift = Uuid::from_u128(0x53);
    as_gia
        .start_shift(&rounds_core::store::NewShift {
            id: gias_shift,
            post_id: ids::LINCOLN_MAIN,
            started_at: at(800),
        })
        .expect("gia's shift");
    as_gia
        .record_check(
            gias_shift,
            &rounds_core::model::CheckInput {
                id: Uuid::from_u128(0x54),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
                method: rounds_core::model::CheckMethod::Tag,
                result: rounds_core::model::CheckResult::AllClear,
                note: String::new(),
                photos: vec![],
                at: at(801),
            },
        )
        .expect("gia's check");
    drop(as_gia);

    // Sam unlocks: he sees both schools, and Gia's work waits on the phone. His sync carries
    // it: the server takes her shift as hers (her signature, her key on this phone).
    let mut as_sam = unlock(&phone, &sam);
    assert_eq!(
        client::status(&as_sam).expect("status").waiting_for_others[0].person,
        gia.id,
        "before his sync, Gia's work is waiting"
    );
    sync_as(&phone, &mut as_sam, &sam, at(810));
    let stored = server
        .storage
        .document(gias_shift)
        .expect("read")
        .expect("Sam's sync carried Gia's shift");
    assert_eq!(stored.header.author_id, gia.id);
    let signatures = server
        .storage
        .change_signatures(gias_shift)
        .expect("signatures");
    assert_eq!(signatures.len(), 1, "{signatures:?}");
    let s = &signatures[0];
    assert_eq!(
        (s.person_id, s.public_key, s.device_id),
        (gia.id, gia.signing.public(), phone.enrollment.device_id),
        "attributed to Gia, with her key on this phone"
    );
    rounds_core::signing::verify_change(&s.public_key, gias_shift, gia.id, &s.change, &s.signature)
        .expect("her signature verifies");
    let changes = stored.decoded_changes().expect("decode");
    assert_eq!(changes.len(), 2, "her shift's start and her check");
    assert!(
        rounds_core::signing::uncovered(&changes, &[(s.change, gia.id)]).is_none(),
        "her signature covers both"
    );
    assert_eq!(incident_schools(&as_sam), vec![ids::LINCOLN, ids::ADAMS]);
    let sams = shift_ids(&as_sam);
    for s in [gias_old_shift, gus_shift, gias_shift] {
        assert!(
            sams.contains(&s),
            "the supervisor of both schools sees shift {s}"
        );
    }
    assert!(as_sam.incident(at_lincoln).is_ok() && as_sam.incident(at_adams).is_ok());
    let status = client::status(&as_sam).expect("status");
    assert_eq!(status.waiting_changes, 0, "nothing of Sam's waits");
    assert!(
        status.waiting_for_others.is_empty(),
        "nor of Gia's: {:?}",
        status.waiting_for_others
    );
    drop(as_sam);

    // Gia unlocks: nothing of hers waits, and her sync sends nothing again.
    let mut as_gia = unlock(&phone, &gia);
    assert_eq!(client::status(&as_gia).expect("status").waiting_changes, 0);
    let seq = server.storage.max_seq().expect("seq");
    sync_as(&phone, &mut as_gia, &gia, at(820));
    assert_eq!(server.storage.max_seq().expect("seq"), seq, "nothing twice");
    drop(as_gia);

    // A carried change is judged as its maker, not as the session that carries it: an Adams
    // incident made in Gia's name and signed with her key, pushed in Gus's session (Gus may
    // file at Adams), is refused because Gia is not at Adams.
    let forged_id = Uuid::from_u128(0x65);
    let header = rounds_core::document::Header {
        id: forged_id,
        kind: rounds_core::model::DocKind::Incident,
        school_id: ids::ADAMS,
        author_id: gia.id,
        device_id: phone.enrollment.device_id,
        created_at: at(830),
        classification: rounds_core::model::Classification::Confidential,
    };
    let input = rounds_core::model::IncidentInput {
        id: forged_id,
        school_id: ids::ADAMS,
        incident_type: rounds_core::model::IncidentType::Other,
        location: "Bus loop".into(),
        occurred_at: at(830),
        people: vec![],
        narrative: "Not Gia's school.".into(),
        actions: String::new(),
        photos: vec![],
    };
    let am = rounds_core::document::create(&header, gia.id, "create_incident", |tx| {
        rounds_core::document::init_incident(tx, &input, at(830))
    })
    .expect("made outside the store");
    let changes = all_changes(&am);
    let last = automerge::Change::from_bytes(changes[changes.len() - 1].clone())
        .expect("change")
        .hash()
        .0;
    let req = rounds_protocol::PushRequest {
        docs: vec![doc_changes(&header, changes)],
        signatures: vec![change_signature(&gia.signing, forged_id, gia.id, last)],
    };
    let resp = push_request(&phone.base, &phone.session.token, &req);
    assert!(resp.committed.is_empty());
    assert_eq!(resp.rejected.len(), 1, "{:?}", resp.rejected);
    assert_eq!(
        resp.rejected[0].kind,
        rounds_protocol::RejectKind::Forbidden
    );
    assert!(
        resp.rejected[0].message.contains("school"),
        "refused for Gia's schools: {}",
        resp.rejected[0].message
    );
    assert!(server.storage.header(forged_id).expect("read").is_none());

    // And Gus, back on his phone, still sees only his own.
    let as_gus =
        Store::open(phone.path(), phone.session.person_id, &Secret::new(PIN)).expect("gus unlocks");
    assert_eq!(shift_ids(&as_gus), vec![gus_shift]);
    assert_eq!(incident_schools(&as_gus), vec![ids::ADAMS]);
}

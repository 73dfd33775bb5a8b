//! The rules of who may change what (`rounds_core::rules`), through real pushes to a real
//! server: every forbidden change is refused with its kind and changes nothing; every allowed
//! one is committed. Forged changes are made outside the store's own checks, with the
//! attacker's real device actor and session, as a modified app would make them.

use automerge::transaction::{Transactable, Transaction};
use automerge::{ROOT, ReadDoc, ScalarValue};
use rounds_core::model::{IncidentStatus, ReviewDecision};
use rounds_protocol::{PushRequest, RejectKind};
use rounds_server::seed::ids;
use uuid::Uuid;

use crate::support::*;

/// The people of the demo district, each on their own synced device.
struct District {
    server: TestServer,
    gia: Device,
    olga: Device,
    sam: Device,
    next: u128,
}

impl District {
    fn new() -> District {
        let server = TestServer::start();
        let mut gia = Device::enroll(&server, &GIA);
        let mut olga = Device::enroll(&server, &OLGA);
        let mut sam = Device::enroll(&server, &SUPERVISOR);
        for d in [&mut gia, &mut olga, &mut sam] {
            d.sync().expect("reference data");
        }
        District {
            server,
            gia,
            olga,
            sam,
            next: 1000,
        }
    }

    fn sync_all(&mut self) {
        for d in [&mut self.olga, &mut self.sam, &mut self.gia] {
            let r = d.sync().expect("sync");
            assert!(
                r.rejected.is_empty(),
                "honest work refused: {:?}",
                r.rejected
            );
        }
    }

    /// A new incident by Olga (SRO) at Lincoln, brought to `state` by honest actions, and held
    /// by every device.
    fn incident(&mut self, state: IncidentStatus) -> Uuid {
        self.next += 1;
        let id = incident_at(&mut self.olga, self.next, ids::LINCOLN, "What happened.");
        if state != IncidentStatus::Draft {
            self.olga.store.submit_incident(id, at(5)).expect("submit");
        }
        self.sync_all();
        let decision = match state {
            IncidentStatus::Approved => Some(ReviewDecision::Approve),
            IncidentStatus::Returned => Some(ReviewDecision::Return),
            _ => None,
        };
        if let Some(d) = decision {
            self.sam
                .store
                .review_incident(id, d, "Reviewed.", at(6))
                .expect("review");
            self.sync_all();
        }
        id
    }

    /// A contact note by Olga at Lincoln, shared with the supervisor.
    fn shared_note(&mut self) -> Uuid {
        self.next += 1;
        let id = note_at(
            &mut self.olga,
            self.next,
            ids::LINCOLN,
            vec![ids::SUPERVISOR],
        );
        self.sync_all();
        id
    }

    fn state(&self) -> (u64, u64) {
        (
            self.server.storage.document_count().expect("count"),
            self.server.storage.max_seq().expect("seq"),
        )
    }
}

/// A push request and the session token it is sent with.
struct Forged {
    req: PushRequest,
    token: String,
}

/// One change to the document `id` as `d` holds it, made with `d`'s device actor and a
/// message that says it is by `by`, outside the store's checks.
fn forged(d: &mut Device, id: Uuid, by: Uuid, f: impl FnOnce(&mut Transaction<'_>)) -> Forged {
    let mut am = d.store.document(id).expect("document on the device");
    rounds_core::document::change(&mut am, at(30), by, "forged", |tx| {
        f(tx);
        Ok(())
    })
    .expect("change");
    let c = am.get_last_local_change().expect("a change");
    let header = d.store.header(id).expect("header");
    push_of(d, &header, vec![c.raw_bytes().to_vec()])
}

/// A push of these change bytes of one document, sent with `d`'s session.
/// The push is signed by `d`'s person, as their device would: the rules, not a missing
/// signature, decide what is refused.
fn push_of(d: &Device, header: &rounds_core::document::Header, changes: Vec<Vec<u8>>) -> Forged {
    let mut req = PushRequest {
        signatures: vec![],
        docs: vec![doc_changes(header, changes)],
    };
    sign_push(d, &mut req);
    Forged {
        req,
        token: d.session.token.clone(),
    }
}

fn put(key: &'static str, v: impl Into<ScalarValue>) -> impl FnOnce(&mut Transaction<'_>) {
    let v = v.into();
    move |tx| {
        tx.put(ROOT, key, v).expect("put");
    }
}

fn obj(tx: &Transaction<'_>, key: &str) -> automerge::ObjId {
    tx.get(ROOT, key).expect("get").expect("object").1
}

fn time(minutes: i64) -> ScalarValue {
    ScalarValue::Timestamp(at(minutes).timestamp_millis())
}

/// What a push should come to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Committed,
    Refused(RejectKind),
}
use Want::*;

/// Sends `f` and checks it came to `want`; a refusal's message is returned (empty when
/// committed).
fn expect(d: &District, name: &str, f: Forged, want: Want) -> String {
    let before = d.state();
    let resp = push_request(&d.server.base, &f.token, &f.req);
    match want {
        Committed => {
            assert!(
                resp.rejected.is_empty(),
                "{name}: refused: {:?}",
                resp.rejected
            );
            assert_eq!(resp.committed.len(), 1, "{name}: committed");
            String::new()
        }
        Refused(kind) => {
            assert!(resp.committed.is_empty(), "{name}: nothing committed");
            assert_eq!(resp.rejected.len(), 1, "{name}: one refusal");
            assert_eq!(
                resp.rejected[0].kind, kind,
                "{name}: {}",
                resp.rejected[0].message
            );
            assert_eq!(d.state(), before, "{name}: the server is unchanged");
            resp.rejected[0].message.clone()
        }
    }
}

/// Every role × incident field × status move the forgeries of the review touched, each
/// refused with its kind, next to the honest moves that must still commit.
#[test]
fn incident_fields_and_status_moves_follow_the_table() {
    use IncidentStatus::*;
    let mut d = District::new();
    let gia = ids::GUARD_LINCOLN;
    let olga = ids::SRO_OLGA;
    let sam = ids::SUPERVISOR;
    // (name, state of the incident, who pushes, the change, what must happen)
    type Case = (
        &'static str,
        IncidentStatus,
        fn(&mut District) -> &mut Device,
        Box<dyn FnOnce(&mut Transaction<'_>)>,
        Uuid,
        Want,
    );
    let g: fn(&mut District) -> &mut Device = |d| &mut d.gia;
    let o: fn(&mut District) -> &mut Device = |d| &mut d.olga;
    let s: fn(&mut District) -> &mut Device = |d| &mut d.sam;
    let cases: Vec<Case> = vec![
        (
            "a guard approves a submitted incident",
            Submitted,
            g,
            Box::new(put("status", "approved")),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "the author approves her own submitted incident",
            Submitted,
            o,
            Box::new(put("status", "approved")),
            olga,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "a guard writes a review comment",
            Submitted,
            g,
            Box::new(put("review_comment", "Fine by me.")),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "a guard rewrites an approved incident's location",
            Approved,
            g,
            Box::new(put("location", "Elsewhere")),
            gia,
            Refused(RejectKind::WrongState),
        ),
        (
            "a guard sets an approved incident back to draft",
            Approved,
            g,
            Box::new(put("status", "draft")),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "the author sets her approved incident back to draft",
            Approved,
            o,
            Box::new(put("status", "draft")),
            olga,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "anyone writes the derived status amended",
            Submitted,
            s,
            Box::new(put("status", "amended")),
            sam,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "a change whose message names the supervisor",
            Draft,
            g,
            Box::new(put("location", "Gym")),
            sam,
            Refused(RejectKind::Impersonation),
        ),
        (
            "a supplement whose author is the supervisor",
            Submitted,
            g,
            Box::new(move |tx: &mut Transaction<'_>| {
                let list = obj(tx, "supplements");
                let m = tx
                    .insert_object(&list, 0, automerge::ObjType::Map)
                    .expect("insert");
                tx.put(&m, "id", Uuid::from_u128(77).to_string())
                    .expect("put");
                tx.put(&m, "author", sam.to_string()).expect("put");
                tx.put(&m, "at", time(20)).expect("put");
                tx.put(&m, "text", "Approved verbally.").expect("put");
            }),
            gia,
            Refused(RejectKind::Impersonation),
        ),
        (
            "a supervisor approves a draft",
            Draft,
            s,
            Box::new(put("status", "approved")),
            sam,
            Refused(RejectKind::WrongState),
        ),
        (
            "a guard submits an approved incident again",
            Approved,
            g,
            Box::new(put("status", "submitted")),
            gia,
            Refused(RejectKind::WrongState),
        ),
        (
            "a submission time without a submission",
            Draft,
            g,
            Box::new(put("submitted_at", time(9))),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "an unknown field",
            Draft,
            g,
            Box::new(put("approved_by", sam.to_string())),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "a recorded supplement rewritten",
            Returned,
            g,
            Box::new(move |tx: &mut Transaction<'_>| {
                tx.put(ROOT, "supplements", automerge::ScalarValue::Null)
                    .expect("put");
            }),
            gia,
            Refused(RejectKind::ForbiddenField),
        ),
        (
            "a photo reference that is not a hash",
            Draft,
            g,
            Box::new(move |tx: &mut Transaction<'_>| {
                let list = obj(tx, "photos");
                tx.insert(&list, 0, "aéééé").expect("insert");
            }),
            gia,
            Refused(RejectKind::Invalid),
        ),
        // The honest moves.
        (
            "a guard edits a draft's narrative",
            Draft,
            g,
            Box::new(move |tx: &mut Transaction<'_>| {
                let n = obj(tx, "narrative");
                tx.splice_text(&n, 0, 0, "Seen by the guard. ")
                    .expect("splice");
            }),
            gia,
            Committed,
        ),
        (
            "a guard edits a returned incident's location",
            Returned,
            g,
            Box::new(put("location", "Gym")),
            gia,
            Committed,
        ),
        (
            "a guard adds her own supplement to a submitted incident",
            Submitted,
            g,
            Box::new(move |tx: &mut Transaction<'_>| {
                let list = obj(tx, "supplements");
                let m = tx
                    .insert_object(&list, 0, automerge::ObjType::Map)
                    .expect("insert");
                tx.put(&m, "id", Uuid::from_u128(78).to_string())
                    .expect("put");
                tx.put(&m, "author", gia.to_string()).expect("put");
                tx.put(&m, "at", time(20)).expect("put");
                tx.put(&m, "text", "Also seen.").expect("put");
            }),
            gia,
            Committed,
        ),
        (
            "the supervisor returns a submitted incident",
            Submitted,
            s,
            Box::new(move |tx: &mut Transaction<'_>| {
                tx.put(ROOT, "status", "returned").expect("put");
                tx.put(ROOT, "review_comment", "Say who called.")
                    .expect("put");
            }),
            sam,
            Committed,
        ),
        (
            "the supervisor approves a submitted incident",
            Submitted,
            s,
            Box::new(put("status", "approved")),
            sam,
            Committed,
        ),
    ];
    for (name, state, who, change, by, want) in cases {
        let id = d.incident(state);
        let f = forged(who(&mut d), id, by, change);
        expect(&d, name, f, want);
    }
}

/// A second change without dependencies, made with the record's own device actor: a second
/// "creation" that would replace the header and body at the root.
fn second_creation(d: &mut Device, id: Uuid) -> Vec<u8> {
    let actor = d.store.document(id).expect("document").get_actor().clone();
    let mut fresh = automerge::Automerge::new().with_actor(actor);
    rounds_core::document::change(&mut fresh, at(40), ids::SRO_OLGA, "forged", |tx| {
        tx.put(ROOT, "type", "other").expect("put");
        Ok(())
    })
    .expect("change");
    fresh
        .get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

/// A record is created once: a second change without dependencies is refused, both for a
/// stored record and within the first push of a new one, and nothing is stored.
#[test]
fn a_record_is_created_once() {
    let mut d = District::new();
    let stored = d.incident(IncidentStatus::Draft);
    let fresh = incident_at(&mut d.olga, 2100, ids::LINCOLN, "Not pushed yet.");
    let creation = all_changes(&d.olga.store.document(fresh).expect("document"));
    let second_of_stored = second_creation(&mut d.olga, stored);
    let second_of_fresh = second_creation(&mut d.olga, fresh);
    for (name, id, changes) in [
        (
            "a stored record created again",
            stored,
            vec![second_of_stored],
        ),
        (
            "a new record created twice in one push",
            fresh,
            [creation, vec![second_of_fresh]].concat(),
        ),
    ] {
        let header = d.olga.store.header(id).expect("header");
        let f = push_of(&d.olga, &header, changes);
        let message = expect(&d, name, f, Refused(RejectKind::Invalid));
        assert!(message.contains("created once"), "{name}: {message}");
    }
}

/// A record's creation must leave it as its kind in its initial state: an incident created
/// already approved, or with a field its kind does not have, is refused and nothing is stored.
#[test]
fn a_new_record_starts_in_its_initial_state_with_its_kinds_fields() {
    let mut d = District::new();
    let model = d.incident(IncidentStatus::Draft);
    let mut header = d.olga.store.header(model).expect("header");
    /// A case: its name, what the creation also writes, and the refusal's kind and words.
    type Case = (
        &'static str,
        fn(&mut Transaction<'_>),
        RejectKind,
        &'static str,
    );
    let cases: [Case; 3] = [
        (
            "an incident created approved",
            |tx| {
                tx.put(ROOT, "status", "approved").expect("put");
            },
            RejectKind::WrongState,
            "initial state",
        ),
        (
            "an incident created with a field of no kind",
            |tx| {
                tx.put(ROOT, "approved_by", "someone").expect("put");
            },
            RejectKind::Invalid,
            "has no field approved_by",
        ),
        ("an honest creation", |_| {}, RejectKind::Invalid, ""),
    ];
    for (n, (name, extra, kind, words)) in cases.into_iter().enumerate() {
        header.id = Uuid::from_u128(2200 + n as u128);
        let input = rounds_core::model::IncidentInput {
            id: header.id,
            school_id: ids::LINCOLN,
            incident_type: rounds_core::model::IncidentType::Trespass,
            location: "North gate".into(),
            occurred_at: at(5),
            people: vec![],
            narrative: "What happened.".into(),
            actions: String::new(),
            photos: vec![],
        };
        let am = rounds_core::document::create(&header, ids::SRO_OLGA, "create_incident", |tx| {
            rounds_core::document::init_incident(tx, &input, at(6))?;
            extra(tx);
            Ok(())
        })
        .expect("create");
        let f = push_of(&d.olga, &header, all_changes(&am));
        if words.is_empty() {
            expect(&d, name, f, Committed);
            continue;
        }
        let message = expect(&d, name, f, Refused(kind));
        assert!(message.contains(words), "{name}: {message}");
    }
}

/// A supervisor never approves a report they wrote.
#[test]
fn nobody_approves_their_own_report() {
    let mut d = District::new();
    let id = incident_at(
        &mut d.sam,
        2001,
        ids::LINCOLN,
        "The supervisor's own report.",
    );
    d.sam.store.submit_incident(id, at(5)).expect("submit");
    d.sync_all();
    let req = forged(&mut d.sam, id, ids::SUPERVISOR, put("status", "approved"));
    expect(
        &d,
        "approving one's own",
        req,
        Refused(RejectKind::ForbiddenField),
    );
    let err = d
        .sam
        .store
        .review_incident(id, ReviewDecision::Approve, "", at(7))
        .expect_err("the device refuses it too");
    assert!(err.to_string().contains("own report"), "{err}");
}

/// A reader of a contact note may not re-share it or rewrite it; its author may.
#[test]
fn only_a_notes_author_changes_it_or_who_reads_it() {
    let mut d = District::new();
    let note = d.shared_note();
    let reshare = move |tx: &mut Transaction<'_>| {
        let list = obj(tx, "shared_with");
        let n = tx.length(&list);
        tx.insert(&list, n, ids::SRO_OMAR.to_string())
            .expect("insert");
    };
    let req = forged(&mut d.sam, note, ids::SUPERVISOR, reshare);
    expect(
        &d,
        "a reader shares the note on",
        req,
        Refused(RejectKind::Forbidden),
    );
    let req = forged(
        &mut d.sam,
        note,
        ids::SUPERVISOR,
        put("reason", "Rewritten"),
    );
    expect(
        &d,
        "a reader rewrites its reason",
        req,
        Refused(RejectKind::Forbidden),
    );
    let req = forged(
        &mut d.olga,
        note,
        ids::SRO_OLGA,
        put("student_name", "Someone else"),
    );
    expect(
        &d,
        "the author renames the student",
        req,
        Refused(RejectKind::ForbiddenField),
    );
    let req = forged(
        &mut d.olga,
        note,
        ids::SRO_OLGA,
        put("outcome", "Referred to counseling."),
    );
    expect(&d, "the author writes the outcome", req, Committed);
    // The feed never delivered the note to the person a reader tried to add.
    let mut omar = Device::enroll(&d.server, &OMAR);
    omar.sync().expect("sync");
    assert!(
        !omar.store.document_ids().expect("ids").contains(&note),
        "the note did not reach someone only a reader tried to add"
    );
}

/// A shift takes only checks by its own guard, and nothing after it ended.
#[test]
fn a_shift_takes_only_its_guards_checks_until_it_ends() {
    let mut d = District::new();
    let shift = shift_with_checks(&mut d.gia, 3001, ids::LINCOLN_MAIN, 2);
    d.sync_all();
    let check = |by: Uuid| {
        move |tx: &mut Transaction<'_>| {
            let list = obj(tx, "checks");
            let n = tx.length(&list);
            let json = serde_json::json!({
                "id": Uuid::from_u128(99).to_string(), "cp": Uuid::from_u128(98).to_string(),
                "m": "manual", "r": "all_clear", "at": at(40).timestamp_millis(), "by": by.to_string(),
            });
            tx.insert(&list, n, json.to_string()).expect("insert");
        }
    };
    let req = forged(
        &mut d.gia,
        shift,
        ids::GUARD_LINCOLN,
        check(ids::GUARD_ADAMS),
    );
    expect(
        &d,
        "a check recorded in another guard's name",
        req,
        Refused(RejectKind::Impersonation),
    );
    let req = forged(&mut d.gia, shift, ids::GUARD_LINCOLN, |tx| {
        let list = obj(tx, "checks");
        tx.delete(&list, 0).expect("delete");
    });
    expect(
        &d,
        "a recorded check deleted",
        req,
        Refused(RejectKind::ForbiddenField),
    );
    let req = forged(
        &mut d.gia,
        shift,
        ids::GUARD_LINCOLN,
        put("post", ids::ADAMS_CAMPUS.to_string()),
    );
    expect(
        &d,
        "the shift moved to another post",
        req,
        Refused(RejectKind::ForbiddenField),
    );
    d.sam.sync().expect("the supervisor receives the shift");
    let req = forged(&mut d.sam, shift, ids::SUPERVISOR, check(ids::SUPERVISOR));
    expect(
        &d,
        "a supervisor adds a check to a guard's shift",
        req,
        Refused(RejectKind::Forbidden),
    );
    let req = forged(
        &mut d.gia,
        shift,
        ids::GUARD_LINCOLN,
        check(ids::GUARD_LINCOLN),
    );
    expect(&d, "the guard adds her own check", req, Committed);
    d.gia.sync().expect("sync");
    d.gia.store.end_shift(shift, at(60)).expect("end");
    d.gia.sync().expect("sync");
    let req = forged(
        &mut d.gia,
        shift,
        ids::GUARD_LINCOLN,
        check(ids::GUARD_LINCOLN),
    );
    expect(
        &d,
        "a check after the shift ended",
        req,
        Refused(RejectKind::WrongState),
    );
}

/// An edit made offline on a draft that reaches the server after the report was submitted and
/// approved is kept; the incident then reads "amended after approval" everywhere and waits
/// for review again, and a second approval settles it.
#[test]
fn an_edit_made_offline_before_an_approval_is_kept_and_asks_for_review_again() {
    let mut d = District::new();
    let id = d.incident(IncidentStatus::Draft);
    // Gia, offline, adds to the draft's narrative.
    d.gia
        .store
        .edit_incident(
            id,
            &rounds_core::model::IncidentEdit {
                append_narrative: Some("The guard saw it start.".into()),
                ..Default::default()
            },
            at(8),
        )
        .expect("an edit of a draft");
    // Meanwhile Olga submits and Sam approves.
    d.olga.store.submit_incident(id, at(9)).expect("submit");
    d.olga.sync().expect("sync");
    d.sam.sync().expect("sync");
    d.sam
        .store
        .review_incident(id, ReviewDecision::Approve, "", at(10))
        .expect("approve");
    d.sam.sync().expect("sync");
    // Gia comes back online: nothing of hers is refused.
    let r = d.gia.sync().expect("sync");
    assert!(
        r.rejected.is_empty(),
        "honest offline work kept: {:?}",
        r.rejected
    );
    d.sync_all();
    for (who, dev) in [
        ("olga", &mut d.olga),
        ("sam", &mut d.sam),
        ("gia", &mut d.gia),
    ] {
        let doc = dev.store.document(id).expect("doc");
        let body = rounds_core::document::read_incident(&doc).expect("read");
        assert_eq!(
            body.status,
            IncidentStatus::Amended,
            "{who} sees it amended"
        );
        assert!(
            body.narrative.contains("The guard saw it start."),
            "{who} has the edit"
        );
    }
    let stored = d.server.storage.document(id).expect("doc").expect("stored");
    let mut am = automerge::Automerge::new();
    am.apply_changes(
        stored
            .changes
            .iter()
            .map(|b| automerge::Change::from_bytes(b.clone()).expect("change")),
    )
    .expect("apply");
    assert_eq!(
        rounds_core::document::read_incident(&am)
            .expect("read")
            .status,
        IncidentStatus::Amended,
        "the server reads it amended too"
    );
    // Sam reviews it again: approved, with nothing unseen.
    d.sam
        .store
        .review_incident(id, ReviewDecision::Approve, "Seen the addition.", at(12))
        .expect("a second review of an amended report");
    d.sync_all();
    d.sync_all();
    let doc = d.olga.store.document(id).expect("doc");
    assert_eq!(
        rounds_core::document::read_incident(&doc)
            .expect("read")
            .status,
        IncidentStatus::Approved
    );
}

/// A change no honest device could make, for the property test below: the state its target is
/// in (`None`: a contact note shared with the supervisor), who pushes it, what it claims to be
/// by, and the change. `seed` varies the values written.
type Forgery = (
    Option<IncidentStatus>,
    fn(&mut District) -> &mut Device,
    Uuid,
    Box<dyn FnOnce(&mut Transaction<'_>)>,
);

const FORGERIES: usize = 12;

fn forgery(k: usize, seed: u64) -> (&'static str, Forgery) {
    use IncidentStatus::*;
    let g: fn(&mut District) -> &mut Device = |d| &mut d.gia;
    let o: fn(&mut District) -> &mut Device = |d| &mut d.olga;
    let s: fn(&mut District) -> &mut Device = |d| &mut d.sam;
    let (gia, olga, sam) = (ids::GUARD_LINCOLN, ids::SRO_OLGA, ids::SUPERVISOR);
    let text = format!("forged {seed:x}");
    let any_state = [Draft, Submitted, Returned, Approved][(seed % 4) as usize];
    let someone_else = [olga, sam, ids::SRO_OMAR, ids::GUARD_ADAMS][(seed % 4) as usize];
    match k {
        0 => (
            "a guard approves",
            (
                Some([Draft, Submitted, Returned][(seed % 3) as usize]),
                g,
                gia,
                Box::new(put("status", "approved")),
            ),
        ),
        1 => (
            "the author approves her own report",
            (
                Some(Submitted),
                o,
                olga,
                Box::new(put("status", "approved")),
            ),
        ),
        2 => (
            "a writer writes a review comment",
            (
                Some(any_state),
                [g, o][(seed % 2) as usize],
                [gia, olga][(seed % 2) as usize],
                Box::new(put("review_comment", text)),
            ),
        ),
        3 => (
            "anyone rewrites an approved report",
            (
                Some(Approved),
                [g, o][(seed % 2) as usize],
                [gia, olga][(seed % 2) as usize],
                Box::new(put("location", text)),
            ),
        ),
        4 => (
            "a writer sets a reviewed report back to draft",
            (
                Some([Approved, Submitted][(seed % 2) as usize]),
                [g, o][(seed % 2) as usize],
                [gia, olga][(seed % 2) as usize],
                Box::new(put("status", "draft")),
            ),
        ),
        5 => (
            "anyone writes the derived status",
            (
                Some(any_state),
                [g, o, s][(seed % 3) as usize],
                [gia, olga, sam][(seed % 3) as usize],
                Box::new(put("status", "amended")),
            ),
        ),
        6 => (
            "a change in someone else's name",
            (
                Some(Draft),
                g,
                someone_else,
                Box::new(put("location", text)),
            ),
        ),
        7 => (
            "a supplement by someone else",
            (
                Some([Submitted, Approved][(seed % 2) as usize]),
                g,
                gia,
                Box::new(move |tx: &mut Transaction<'_>| {
                    let list = obj(tx, "supplements");
                    let m = tx
                        .insert_object(&list, 0, automerge::ObjType::Map)
                        .expect("insert");
                    tx.put(&m, "id", Uuid::from_u128(u128::from(seed)).to_string())
                        .expect("put");
                    tx.put(&m, "author", someone_else.to_string()).expect("put");
                    tx.put(&m, "at", time(20)).expect("put");
                    tx.put(&m, "text", text).expect("put");
                }),
            ),
        ),
        8 => (
            "a supervisor approves a draft",
            (Some(Draft), s, sam, Box::new(put("status", "approved"))),
        ),
        9 => (
            "a reader shares the note on",
            (
                None,
                s,
                sam,
                Box::new(move |tx: &mut Transaction<'_>| {
                    let list = obj(tx, "shared_with");
                    let n = tx.length(&list);
                    tx.insert(&list, n, someone_else.to_string())
                        .expect("insert");
                }),
            ),
        ),
        10 => (
            "a reader rewrites the note",
            (
                None,
                s,
                sam,
                Box::new(put(["reason", "outcome"][(seed % 2) as usize], text)),
            ),
        ),
        _ => (
            "a change to the header",
            (
                Some(any_state),
                [g, o, s][(seed % 3) as usize],
                [gia, olga, sam][(seed % 3) as usize],
                Box::new(put(
                    ["school_id", "author_id", "kind"][(seed % 3) as usize],
                    text,
                )),
            ),
        ),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: proptest_cases(4),
        failure_persistence: None,
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random forgeries from random roles against records in random states, each followed by
    /// honest work: every forgery is refused and changes nothing on the server, and the honest
    /// work still commits (a refusal never wedges anyone's sync).
    #[test]
    fn random_forged_changes_from_random_roles_are_refused_and_change_nothing(
        script in proptest::collection::vec((0..FORGERIES, proptest::prelude::any::<u64>()), 1..7)
    ) {
        let mut d = District::new();
        let mut targets: Vec<(Option<IncidentStatus>, Uuid)> = Vec::new();
        for (k, seed) in script {
            let (name, (state, who, by, change)) = forgery(k, seed);
            let id = match targets.iter().find(|(s, _)| *s == state) {
                Some((_, id)) => *id,
                None => {
                    let id = match state {
                        Some(s) => d.incident(s),
                        None => d.shared_note(),
                    };
                    targets.push((state, id));
                    id
                }
            };
            let heads_before = d.server.storage.document(id).expect("doc").expect("stored").changes.len();
            let before = d.state();
            let f = forged(who(&mut d), id, by, change);
            let resp = push_request(&d.server.base, &f.token, &f.req);
            proptest::prop_assert!(resp.committed.is_empty(), "{}: committed", name);
            proptest::prop_assert_eq!(resp.rejected.len(), 1, "{}: one refusal", name);
            proptest::prop_assert_eq!(d.state(), before, "{}: the server is unchanged", name);
            proptest::prop_assert_eq!(
                d.server.storage.document(id).expect("doc").expect("stored").changes.len(),
                heads_before,
                "{}: the record is unchanged",
                name
            );
            // Honest work goes on: Olga files a new draft and everyone syncs without refusals.
            d.next += 1;
            incident_at(&mut d.olga, d.next, ids::LINCOLN, "Honest work.");
            d.sync_all();
        }
    }
}

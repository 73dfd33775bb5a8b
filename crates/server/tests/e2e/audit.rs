//! The audit trail against a real server over real HTTP: a scripted day leaves exactly the
//! entries it should, one by one, and the chain verifies; a stored entry changed, removed or
//! reordered behind the server's back (SQL on its database) is named by
//! `rounds-server audit verify`; the database itself refuses updates and deletes; admin
//! changes are recorded, and the console's search finds entries by kind, person and record and
//! records itself.

use std::collections::BTreeSet;

use rounds_core::client;
use rounds_server::audit::{AuditKind, Entry, NewEntry, verify_stored};
use rounds_server::seed::ids;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

fn detail(e: &Entry) -> Value {
    let body: Value = serde_json::from_str(&e.body).expect("body");
    body["detail"].clone()
}

fn hex_list(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|h| h.as_str().expect("hex").to_string())
        .collect()
}

fn hexes(hs: &[[u8; 32]]) -> Vec<String> {
    let mut v: Vec<String> = hs.iter().map(hex::encode).collect();
    v.sort();
    v
}

fn ids_in(v: &Value) -> BTreeSet<Uuid> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|d| {
            let s = d.get("id").unwrap_or(d).as_str().expect("id");
            s.parse().expect("uuid")
        })
        .collect()
}

#[test]
fn a_scripted_day_leaves_exactly_the_expected_entries() {
    let server = TestServer::start();
    let st = server.storage.as_ref();
    // The demo district was written from the command line: one admin change per record.
    let seeded = st.audit_entries(0, 1000).expect("seeded");
    assert!(
        !seeded.is_empty()
            && seeded
                .iter()
                .all(|e| e.kind == AuditKind::AdminChange && e.person.is_none()),
        "{seeded:#?}"
    );
    let base = seeded.len();

    // A guard's phone is enrolled and she signs in; a wrong password first.
    let wrong = client::sign_in(
        &server.base,
        GIA.username,
        "not-her-password",
        &client::enroll(&server.base, &server.code(), "spare phone").expect("enroll"),
        &rounds_core::signing::SigningSecret::generate(
            &mut rounds_core::entropy::SeededEntropy::new(5),
        )
        .public(),
    );
    assert!(wrong.is_err());
    let mut gia = Device::enroll(&server, &GIA);
    gia.sync().expect("gia gets her school");
    // Her round: a shift of 3 checks, pushed.
    let shift = shift_with_checks(&mut gia, 1, ids::LINCOLN_MAIN, 3);
    let pushed = pending(&gia);
    gia.sync().expect("gia syncs");
    // An officer files an incident.
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("olga gets her school");
    let incident = incident_at(&mut olga, 2, ids::LINCOLN, "Fight in the east stairwell");
    let incident_changes = pending(&olga);
    olga.sync().expect("olga syncs");
    // The supervisor's phone pulls the school: the incident is delivered (and recorded), the
    // shift too (not recorded: a guard's round is not a record about people).
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    sam.sync().expect("sam syncs");
    assert!(sam.store.document_ids().expect("ids").contains(&incident));
    // The admin revokes the guard's phone.
    rounds_server::admin::revoke(st, gia.enrollment.device_id, Some(ids::ADMIN), now())
        .expect("revoke");

    let all = st.audit_entries(0, 1000).expect("entries")[base..].to_vec();
    let kinds: Vec<AuditKind> = all.iter().map(|e| e.kind).collect();
    use AuditKind::*;
    // Each phone's enrollment code was issued by the admin first (an admin change).
    let mut expected = Vec::new();
    for k in [
        Enrolled,
        SignInFailed,
        Enrolled,
        SignIn,
        Push,
        Enrolled,
        SignIn,
        Push,
        Delivered,
        Enrolled,
        SignIn,
        Delivered,
        DeviceRevoked,
    ] {
        if k == Enrolled {
            expected.push(AdminChange);
        }
        expected.push(k);
    }
    assert_eq!(kinds, expected, "{all:#?}");
    for code in all.iter().filter(|e| e.kind == AdminChange) {
        assert_eq!(code.person, Some(ids::ADMIN));
        assert_eq!(detail(code)["what"], "enrollment_code");
    }
    let entries: Vec<Entry> = all.into_iter().filter(|e| e.kind != AdminChange).collect();
    let kinds: Vec<AuditKind> = entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            Enrolled,     // the spare phone
            SignInFailed, // gia's wrong password
            Enrolled,     // gia's phone
            SignIn,       // gia
            Push,         // her shift
            Enrolled,     // olga's phone
            SignIn,       // olga
            Push,         // her incident
            Delivered,    // the incident, back to her phone with the feed after her push
            Enrolled,     // sam's phone
            SignIn,       // sam
            Delivered,    // the incident, to sam
            DeviceRevoked,
        ],
        "{entries:#?}"
    );
    let e = &entries;
    assert_eq!(detail(&e[1])["username"], GIA.username);
    assert_eq!(detail(&e[1])["door"], "app");
    assert_eq!(
        e[1].person,
        Some(ids::GUARD_LINCOLN),
        "whose name was tried"
    );
    assert_eq!(e[2].device, Some(gia.enrollment.device_id));
    assert_eq!(e[3].person, Some(ids::GUARD_LINCOLN));
    assert_eq!(e[3].device, Some(gia.enrollment.device_id));
    // The push names the shift and exactly the changes that were waiting.
    assert_eq!(e[4].person, Some(ids::GUARD_LINCOLN));
    assert_eq!(e[4].device, Some(gia.enrollment.device_id));
    assert_eq!(ids_in(&detail(&e[4])["docs"]), BTreeSet::from([shift]));
    // Its changes: as many as were waiting, named by their frontiers: the shift's heads on
    // the phone, and nothing before (a new document).
    let pushed_shift = &detail(&e[4])["docs"][0];
    assert_eq!(pushed_shift["changes"], pushed.len());
    assert_eq!(
        hex_list(&pushed_shift["heads"]),
        hexes(&gia.store.heads(shift).expect("heads"))
    );
    assert_eq!(hex_list(&pushed_shift["since"]), Vec::<String>::new());
    assert_eq!(ids_in(&detail(&e[7])["docs"]), BTreeSet::from([incident]));
    assert_eq!(detail(&e[7])["docs"][0]["changes"], incident_changes.len());
    assert_eq!(
        hex_list(&detail(&e[7])["docs"][0]["heads"]),
        hexes(&olga.store.heads(incident).expect("heads"))
    );
    assert_eq!(e[7].person, Some(ids::SRO_OLGA));
    assert_eq!(e[8].person, Some(ids::SRO_OLGA));
    assert_eq!(e[8].device, Some(olga.enrollment.device_id));
    assert_eq!(ids_in(&detail(&e[8])["docs"]), BTreeSet::from([incident]));
    // Delivered: the incident, to the supervisor's phone, and nothing else.
    assert_eq!(e[11].person, Some(ids::SUPERVISOR));
    assert_eq!(e[11].device, Some(sam.enrollment.device_id));
    assert_eq!(ids_in(&detail(&e[11])["docs"]), BTreeSet::from([incident]));
    assert_eq!(e[12].person, Some(ids::ADMIN));
    assert_eq!(e[12].device, Some(gia.enrollment.device_id));

    // A sync that brings nothing new records nothing.
    sam.sync().expect("sam again");
    assert_eq!(st.audit_entries(0, 1000).expect("entries").len(), base + 17);
    assert_eq!(
        verify_stored(st).expect("the chain verifies").0,
        base as u64 + 17
    );
}

/// Appends `n` entries straight through the storage and returns the place.
fn trail_of(n: u64) -> Data {
    let data = Data::new();
    let st = data.open();
    let entries: Vec<NewEntry> = (0..n)
        .map(|i| {
            NewEntry::sign_in(
                at(i as i64),
                "app",
                GIA.username,
                ids::GUARD_LINCOLN,
                None,
                "127.0.0.1",
            )
        })
        .collect();
    st.append_audit(&entries).expect("append");
    data
}

fn verify_cli(data: &Data) -> (bool, String) {
    server_cli(data, &["audit", "verify"])
}

#[test]
fn verify_passes_an_untouched_trail_and_names_the_first_tampered_entry() {
    let data = trail_of(6);
    let (ok, out) = verify_cli(&data);
    assert!(ok, "{out}");
    assert!(out.contains("verified: 6 entries"), "{out}");

    // Someone with the database drops the guard and rewrites entry 3's body.
    drop_guards(&data);
    raw_sql(
        &data,
        "UPDATE audit_log SET body = replace(body, 'gia.guard', 'gus.guard') WHERE seq = 3",
    );
    let (ok, out) = verify_cli(&data);
    assert!(!ok, "{out}");
    assert!(out.contains("audit entry 3 is broken"), "{out}");
    assert!(out.contains("hash does not match"), "{out}");
}

/// Drops the triggers that keep `audit_log` append-only (as someone with the database could).
fn drop_guards(data: &Data) {
    raw_sql(
        data,
        match data.url {
            rounds_server::storage::DatabaseUrl::Sqlite(_) => {
                "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
            }
            rounds_server::storage::DatabaseUrl::Postgres(_) => {
                "DROP TRIGGER audit_log_no_change ON audit_log;"
            }
        },
    );
}

/// A trail of 6 entries changed by `sql` behind the server's back; what verify said.
fn tampered(sql: &str) -> String {
    let data = trail_of(6);
    drop_guards(&data);
    raw_sql(&data, sql);
    let (ok, out) = verify_cli(&data);
    assert!(!ok, "verify passed after {sql}: {out}");
    out
}

#[test]
fn a_removed_reordered_or_recolumned_entry_is_named() {
    let out = tampered("DELETE FROM audit_log WHERE seq = 4");
    assert!(out.contains("audit entry 5 is broken"), "{out}");
    // Entries 2 and 3 swapped, numbers and all.
    let out = tampered(
        "UPDATE audit_log SET seq = 100 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = 100;",
    );
    assert!(out.contains("audit entry 2 is broken"), "{out}");
    // A column changed (who did it), the hashed body left alone.
    let out = tampered(&format!(
        "UPDATE audit_log SET person_id = '{}' WHERE seq = 5",
        ids::SRO_OLGA
    ));
    assert!(out.contains("audit entry 5 is broken"), "{out}");
    // A stored hash replaced (by the one before it).
    let out = tampered("UPDATE audit_log SET hash = prev WHERE seq = 6");
    assert!(out.contains("audit entry 6 is broken"), "{out}");
}

#[test]
fn the_database_refuses_to_change_or_delete_an_entry() {
    let data = trail_of(2);
    let st = data.open();
    let before = st.audit_entries(0, 10).expect("entries");
    for sql in [
        "UPDATE audit_log SET kind = 'push' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ] {
        let refused = std::panic::catch_unwind(|| raw_sql(&data, sql));
        assert!(refused.is_err(), "{sql} was allowed");
    }
    assert_eq!(st.audit_entries(0, 10).expect("entries"), before);
}

#[test]
fn console_sign_ins_and_the_incidents_and_notes_it_shows_are_recorded() {
    let server = TestServer::start();
    let st = server.storage.as_ref();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("olga gets her school");
    let incident = incident_at(&mut olga, 7, ids::LINCOLN, "Trespass at the gym door");
    let note = note_at(&mut olga, 8, ids::LINCOLN, vec![ids::SUPERVISOR]);
    olga.sync().expect("olga syncs");
    let before = st.audit_entries(0, 1000).expect("entries").len();

    let cookie = console_cookie(&server.base, &SUPERVISOR);
    let http = reqwest::blocking::Client::new();
    for page in [
        format!("/console/incidents/{incident}"),
        "/console/notes".into(),
    ] {
        let r = http
            .get(format!("{}{page}", server.base))
            .header("cookie", &cookie)
            .send()
            .expect("page");
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{page}");
    }
    let entries = st.audit_entries(0, 1000).expect("entries");
    let new = &entries[before..];
    let kinds: Vec<AuditKind> = new.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            AuditKind::SignIn,
            AuditKind::ConsoleView,
            AuditKind::ConsoleView
        ],
        "{new:#?}"
    );
    assert_eq!(detail(&new[0])["door"], "console");
    assert_eq!(new[0].person, Some(ids::SUPERVISOR));
    assert_eq!(detail(&new[1])["page"], "incident");
    assert_eq!(ids_in(&detail(&new[1])["docs"]), BTreeSet::from([incident]));
    assert_eq!(detail(&new[2])["page"], "notes");
    assert_eq!(ids_in(&detail(&new[2])["docs"]), BTreeSet::from([note]));
    assert!(new.iter().all(|e| e.person == Some(ids::SUPERVISOR)));
    verify_stored(st).expect("the chain verifies");
}

#[test]
fn admin_changes_are_recorded_and_the_console_search_finds_them_and_records_itself() {
    let server = TestServer::start();
    let st = server.storage.as_ref();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("olga gets her school");
    let incident = incident_at(&mut olga, 7, ids::LINCOLN, "Trespass at the gym door");
    olga.sync().expect("olga syncs");

    // The admin adds a school and issues an enrollment code on the console.
    let (_, mut ada) = crate::console::Browser::sign_in(&server.base, &ADMIN);
    let before_ada = st.audit_entries(0, 1000).expect("entries").len();
    let added = ada.post("/console/admin/schools", &[("name", "Carver High")]);
    assert_eq!(
        added.status,
        reqwest::StatusCode::SEE_OTHER,
        "{}",
        added.body
    );
    let code = ada.post("/console/admin/codes", &[("hours", "4")]);
    assert_eq!(code.status, reqwest::StatusCode::OK, "{}", code.body);
    let carver = st
        .reference_for(&rounds_server::access::Viewer {
            person: ids::ADMIN,
            role: rounds_core::model::Role::Admin,
            schools: vec![],
        })
        .expect("reference")
        .schools
        .into_iter()
        .find(|s| s.name == "Carver High")
        .expect("the new school")
        .id;
    let changes: Vec<Entry> = st.audit_entries(0, 1000).expect("entries")[before_ada..]
        .iter()
        .filter(|e| e.kind == AuditKind::AdminChange && e.person == Some(ids::ADMIN))
        .cloned()
        .collect();
    assert_eq!(changes.len(), 2, "{changes:#?}");
    assert_eq!(detail(&changes[0])["what"], "school");
    assert_eq!(detail(&changes[0])["id"], carver.to_string());
    assert_eq!(detail(&changes[1])["what"], "enrollment_code");
    assert_eq!(detail(&changes[1])["change"], "issued");
    assert!(
        !code.body.is_empty()
            && !changes[1].body.contains(
                code.body
                    .split(r#"<strong id="enrollment-code">"#)
                    .nth(1)
                    .and_then(|c| c.split('<').next())
                    .expect("the code shown once")
            ),
        "the code itself is never in the trail"
    );

    // The search by kind shows the school; by record, the incident's entries and nothing else.
    let page = ada.get("/console/admin/audit?kind=admin_change");
    assert_eq!(page.status, reqwest::StatusCode::OK);
    assert!(page.body.contains(&carver.to_string()), "{}", page.body);
    assert!(
        page.body.contains("<td>Admin change</td>") && !page.body.contains("<td>Records delivered"),
        "only admin changes"
    );
    let download = ada.get(&format!("/console/admin/audit.jsonl?doc={incident}"));
    assert_eq!(download.status, reqwest::StatusCode::OK);
    let lines: Vec<Value> = download
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("a line"))
        .collect();
    let about = st.audit_about(incident).expect("about");
    assert!(
        about.len() >= 2,
        "her push and its delivery back: {about:#?}"
    );
    assert_eq!(
        lines
            .iter()
            .map(|l| l["seq"].as_u64().expect("seq"))
            .collect::<Vec<_>>(),
        about.iter().rev().map(|e| e.seq).collect::<Vec<_>>(),
        "exactly the incident's entries, newest first"
    );
    for (l, e) in lines.iter().zip(about.iter().rev()) {
        assert_eq!(l["hash"], hex::encode(e.hash));
        assert_eq!(l["prev"], hex::encode(e.prev));
        assert_eq!(l["body"], e.body.as_str());
    }
    // Each search is in the trail, with what was asked and how much was shown.
    let viewed: Vec<Entry> = st
        .audit_entries(0, 1000)
        .expect("entries")
        .into_iter()
        .filter(|e| e.kind == AuditKind::AuditViewed)
        .collect();
    assert_eq!(viewed.len(), 2, "{viewed:#?}");
    assert_eq!(detail(&viewed[0])["query"]["kind"], "admin_change");
    assert_eq!(detail(&viewed[0])["format"], "page");
    assert_eq!(detail(&viewed[1])["query"]["doc"], incident.to_string());
    assert_eq!(detail(&viewed[1])["format"], "jsonl");
    assert_eq!(detail(&viewed[1])["entries"], about.len());
    assert!(viewed.iter().all(|e| e.person == Some(ids::ADMIN)));

    // A bad search is refused and recorded as nothing; a supervisor may not search at all.
    let before = st.audit_entries(0, 1000).expect("entries").len();
    let bad = ada.get("/console/admin/audit?kind=everything");
    assert_eq!(bad.status, reqwest::StatusCode::BAD_REQUEST);
    let (_, mut sam) = crate::console::Browser::sign_in(&server.base, &SUPERVISOR);
    assert_eq!(
        sam.get("/console/admin/audit").status,
        reqwest::StatusCode::FORBIDDEN
    );
    assert_eq!(
        sam.get("/console/admin/audit.jsonl").status,
        reqwest::StatusCode::FORBIDDEN
    );
    let after = st.audit_entries(0, 1000).expect("entries");
    assert!(
        after[before..]
            .iter()
            .all(|e| e.kind == AuditKind::SignIn && e.person == Some(ids::SUPERVISOR)),
        "only sam's sign-in: {:#?}",
        &after[before..]
    );
    verify_stored(st).expect("the chain verifies");
}

#[test]
fn the_disclosure_log_lists_each_note_reaching_someone_other_than_its_author_and_never_its_content()
{
    let server = TestServer::start();
    let st = server.storage.as_ref();
    let mut olga = Device::enroll(&server, &OLGA);
    olga.sync().expect("olga gets her school");
    let shared = note_at(&mut olga, 0xD15, ids::LINCOLN, vec![ids::SUPERVISOR]);
    let private = note_at(&mut olga, 0xD16, ids::LINCOLN, vec![]);
    olga.sync()
        .expect("push; the feed brings them back to her own phone");
    // Sam's phone receives the shared note, and he reads it on the console.
    let mut sam = Device::enroll(&server, &SUPERVISOR);
    sam.sync().expect("sam syncs");
    let (_, mut sam_console) = crate::console::Browser::sign_in(&server.base, &SUPERVISOR);
    assert_eq!(
        sam_console.get("/console/notes").status,
        reqwest::StatusCode::OK
    );

    let log = st.note_disclosures(None, 100).expect("log");
    let seen: Vec<(Uuid, Option<Uuid>, AuditKind)> = log
        .iter()
        .map(|d| (d.note, d.entry.person, d.entry.kind))
        .collect();
    assert_eq!(
        seen,
        vec![
            (shared, Some(ids::SUPERVISOR), AuditKind::ConsoleView),
            (shared, Some(ids::SUPERVISOR), AuditKind::Delivered),
        ],
        "the author's own phone is not a disclosure, the private note reached nobody: {log:#?}"
    );
    assert!(log.iter().all(|d| d.author == ids::SRO_OLGA));
    assert!(
        st.note_disclosures(Some(private), 100)
            .expect("none")
            .is_empty()
    );

    // The admin's page lists them, names the people, shows no content, and is recorded.
    let (_, mut ada) = crate::console::Browser::sign_in(&server.base, &ADMIN);
    let page = ada.get(&format!("/console/admin/disclosures?note={shared}"));
    assert_eq!(page.status, reqwest::StatusCode::OK);
    assert!(
        page.body.contains("Sam") && page.body.contains("Olga"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("delivered to their phone")
            && page.body.contains("shown on the console")
    );
    for content in ["Student Seventy", "S-77", "attendance", "Will meet again"] {
        assert!(
            !page.body.contains(content),
            "{content} must not be on the log's page"
        );
    }
    let last = st.audit_entries(0, 10_000).expect("trail");
    let viewed = last.last().expect("an entry");
    assert_eq!(viewed.kind, AuditKind::AuditViewed);
    assert_eq!(detail(viewed)["format"], "disclosures");
    assert_eq!(detail(viewed)["query"]["doc"], shared.to_string());
    assert_eq!(detail(viewed)["entries"], 2);
    assert_eq!(
        sam_console.get("/console/admin/disclosures").status,
        reqwest::StatusCode::FORBIDDEN,
        "administrators only"
    );
}

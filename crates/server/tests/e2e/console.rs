//! The supervisor console over real HTTP: who may open which page and export (per role, with
//! no session and with an expired one), forged forms, the day view's rounds, and a review made
//! in the console reaching the officer's device at its next sync.
//!
//! The server here runs on a clock the test moves (sessions expire on the server's time), set
//! to the evening of the devices' working day (`support::at`), so the day's rounds are over.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use rounds_core::entropy::SeededEntropy;
use rounds_core::model::*;
use rounds_core::store::NewShift;
use rounds_server::admin::{self, PersonInput};
use rounds_server::seed::ids;
use rounds_server::storage::Storage;
use rounds_server::{AppState, console};
use uuid::Uuid;

use crate::support::*;

const DAY: &str = "2026-11-30";
/// A supervisor of Baker only.
const SUE: Login = Login {
    username: "sue.super",
    password: "super-pass-2",
};
const SUE_ID: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0301);

/// A server with the demo district (plus Sue) on a clock the test can move.
struct ConsoleServer {
    base: String,
    storage: Arc<dyn Storage>,
    offset_min: Arc<AtomicI64>,
    _server: TestServer,
}

/// An admin change made from the server's command line, this evening.
fn by_command_line() -> admin::Actor {
    admin::Actor {
        by: None,
        at: evening(),
    }
}

fn evening() -> DateTime<Utc> {
    at(10 * 60) // 18:00 on the working day
}

impl ConsoleServer {
    fn start() -> ConsoleServer {
        ConsoleServer::start_in(Tz::UTC)
    }

    /// A server whose district is in the time zone `tz`.
    fn start_in(tz: Tz) -> ConsoleServer {
        ConsoleServer::start_with(tz, console::Locale::EnUs)
    }

    /// A server whose district is in the time zone `tz` and writes dates in `locale`.
    fn start_with(tz: Tz, locale: console::Locale) -> ConsoleServer {
        let offset_min = Arc::new(AtomicI64::new(0));
        let off = offset_min.clone();
        let clock = Arc::new(move || evening() + Duration::minutes(off.load(Ordering::SeqCst)));
        let server = TestServer::start_with(
            |storage| {
                admin::put_person(
                    storage,
                    by_command_line(),
                    &PersonInput {
                        id: SUE_ID,
                        username: SUE.username.into(),
                        name: "Sue Supervisor".into(),
                        role: Role::Supervisor,
                        schools: vec![ids::BAKER],
                        password: Some(SUE.password.into()),
                        active: true,
                    },
                    &mut SeededEntropy::new(2),
                )
                .expect("sue");
            },
            move |st| {
                AppState::with_clock(st, clock)
                    .with_time_zone(tz)
                    .with_locale(locale)
            },
        );
        ConsoleServer {
            base: server.base.clone(),
            storage: server.storage.clone(),
            offset_min,
            _server: server,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        evening() + Duration::minutes(self.offset_min.load(Ordering::SeqCst))
    }

    fn advance(&self, minutes: i64) {
        self.offset_min.fetch_add(minutes, Ordering::SeqCst);
    }

    fn device(&self, who: &Login) -> Device {
        let code = admin::issue_code(
            self.storage.as_ref(),
            ids::ADMIN,
            self.now(),
            1,
            &mut SeededEntropy::new(
                who.username
                    .bytes()
                    .fold(77u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))),
            ),
        )
        .expect("code")
        .code;
        let mut d = Device::enroll_at(&self.base, &code, who);
        d.sync().expect("first sync");
        d
    }
}

fn form_encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                console::html::url_param(k),
                console::html::url_param(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser: keeps the console cookie and the page's form token; follows no redirects.
pub struct Browser {
    http: Client,
    base: String,
    cookie: Option<String>,
    csrf: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: base.to_string(),
            cookie: None,
            csrf: String::new(),
        }
    }

    /// Signs in; on success keeps the cookie and the form token.
    pub fn sign_in(base: &str, who: &Login) -> (StatusCode, Browser) {
        let mut b = Browser::new(base);
        let p = b.post_raw(
            "/console/login",
            &[("username", who.username), ("password", who.password)],
            Some(base),
        );
        if p.status == StatusCode::SEE_OTHER {
            let day = b.get("/console/day");
            assert_eq!(day.status, StatusCode::OK, "signed in: {}", day.body);
            b.csrf = day
                .body
                .split(r#"name="csrf" value=""#)
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("a form token on the page")
                .to_string();
        }
        (p.status, b)
    }

    fn read(&mut self, r: reqwest::blocking::Response) -> Page {
        if let Some(c) = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("rounds_console="))
        {
            assert!(c.contains("HttpOnly"), "{c}");
            assert!(c.contains("SameSite=Strict"), "{c}");
            let value = c
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_start_matches("rounds_console=")
                .to_string();
            self.cookie = (!value.is_empty()).then_some(value);
        }
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = r.bytes().expect("body").to_vec();
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            content_type,
            bytes,
        }
    }

    pub fn get(&mut self, path: &str) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("rounds_console={c}"));
        }
        let r = req.send().expect("get");
        self.read(r)
    }

    fn post_raw(&mut self, path: &str, fields: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_encode(fields));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("rounds_console={c}"));
        }
        let r = req.send().expect("post");
        self.read(r)
    }

    /// A form as the console's own page sends it: with the token, from this origin.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let base = self.base.clone();
        self.post_raw(path, &all, Some(&base))
    }
}

/// A day at the demo district: Gia's round at Lincoln with a late visit, missed visits and a
/// problem; Gus's clean round at Adams; Omar's incident at Baker; Olga's submitted incident at
/// Lincoln; notes shared with Sam and with nobody.
struct Day {
    gia_shift: Uuid,
    lincoln_incident: Uuid,
    baker_incident: Uuid,
    olga: Device,
}

fn check(d: &mut Device, shift: Uuid, n: u128, cp: u32, minute: i64, result: CheckResult) {
    d.store
        .record_check(
            shift,
            &CheckInput {
                id: Uuid::from_u128(shift.as_u128() * 100 + n),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, cp),
                method: CheckMethod::Tag,
                result,
                note: if result == CheckResult::AllClear {
                    String::new()
                } else {
                    "Wet floor <near> the boiler".into()
                },
                photos: vec![],
                at: at(minute),
            },
        )
        .expect("check");
}

fn a_day(server: &ConsoleServer) -> Day {
    let mut gia = server.device(&GIA);
    let gia_shift = Uuid::from_u128(0x51);
    gia.store
        .start_shift(&NewShift {
            id: gia_shift,
            post_id: ids::LINCOLN_MAIN,
            started_at: at(0),
        })
        .expect("start");
    check(&mut gia, gia_shift, 1, 1, 2, CheckResult::AllClear); // 08:00 visit on time
    check(&mut gia, gia_shift, 2, 2, 25, CheckResult::AllClear); // 08:00 visit late
    check(&mut gia, gia_shift, 3, 1, 63, CheckResult::Hazard); // 09:00 visit on time, a problem
    gia.store.end_shift(gia_shift, at(120)).expect("end");
    gia.sync().expect("gia sync");

    let mut gus = server.device(&GUS);
    let gus_shift = Uuid::from_u128(0x52);
    gus.store
        .start_shift(&NewShift {
            id: gus_shift,
            post_id: ids::ADAMS_CAMPUS,
            started_at: at(0),
        })
        .expect("start");
    gus.store.end_shift(gus_shift, at(30)).expect("end");
    gus.sync().expect("gus sync");

    let mut olga = server.device(&OLGA);
    let lincoln_incident = incident_at(
        &mut olga,
        0x61,
        ids::LINCOLN,
        "A <b>stranger</b> at the gate.",
    );
    olga.store
        .submit_incident(lincoln_incident, at(7))
        .expect("submit");
    note_at(&mut olga, 0x71, ids::LINCOLN, vec![ids::SUPERVISOR]);
    note_at(&mut olga, 0x72, ids::LINCOLN, vec![]);
    olga.sync().expect("olga sync");

    let mut omar = server.device(&OMAR);
    let baker_incident = incident_at(&mut omar, 0x62, ids::BAKER, "At Baker.");
    omar.sync().expect("omar sync");
    Day {
        gia_shift,
        lincoln_incident,
        baker_incident,
        olga,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    NoSession,
    Expired,
    Guard,
    Sro,
    OtherSupervisor,
    Supervisor,
    Admin,
}

/// Every page and export × every role: the status each must get. `OK` pages are also checked
/// for what they must not show.
#[test]
fn every_page_and_export_answers_each_role_as_the_access_rules_say() {
    let server = ConsoleServer::start();
    let day = a_day(&server);
    let lincoln = ids::LINCOLN.to_string();
    let inc = format!("/console/incidents/{}", day.lincoln_incident);
    let pages: Vec<(String, &str)> = vec![
        (format!("/console/day?date={DAY}"), "day"),
        (
            format!("/console/day?date={DAY}&school={lincoln}"),
            "day-lincoln",
        ),
        ("/console/incidents".into(), "incidents"),
        (inc.clone(), "incident-lincoln"),
        ("/console/notes".into(), "notes"),
        (format!("/console/reports?date={DAY}"), "reports"),
        (format!("/console/reports/daily.csv?date={DAY}"), "csv"),
        (
            format!("/console/reports/daily.pdf?date={DAY}&school={lincoln}"),
            "pdf-lincoln",
        ),
        ("/console/admin".into(), "admin"),
        (format!("/console/admin/schools/{lincoln}"), "admin-school"),
        (
            format!("/console/admin/posts/{}", ids::LINCOLN_MAIN),
            "admin-post",
        ),
        (
            format!(
                "/console/admin/checkpoints/{}",
                ids::checkpoint(ids::LINCOLN_MAIN, 1)
            ),
            "admin-checkpoint",
        ),
    ];
    let expect = |who: Who, page: &str| -> StatusCode {
        use Who::*;
        match (who, page) {
            (NoSession | Expired, _) => StatusCode::SEE_OTHER,
            (Guard | Sro, _) => StatusCode::FORBIDDEN,
            (OtherSupervisor, "day-lincoln" | "pdf-lincoln") => StatusCode::FORBIDDEN,
            (OtherSupervisor, "incident-lincoln") => StatusCode::NOT_FOUND,
            (
                OtherSupervisor | Supervisor,
                "admin" | "admin-school" | "admin-post" | "admin-checkpoint",
            ) => StatusCode::FORBIDDEN,
            _ => StatusCode::OK,
        }
    };
    for who in [
        Who::NoSession,
        Who::Expired,
        Who::Guard,
        Who::Sro,
        Who::OtherSupervisor,
        Who::Supervisor,
        Who::Admin,
    ] {
        let mut b = match who {
            Who::NoSession => Browser::new(&server.base),
            Who::Guard | Who::Sro => {
                let login = if who == Who::Guard { &GIA } else { &OLGA };
                let (status, b) = Browser::sign_in(&server.base, login);
                assert_eq!(status, StatusCode::FORBIDDEN, "{who:?} may not sign in");
                assert!(b.cookie.is_none(), "{who:?} got no session");
                // Even with a session made before a role change, the role is checked per request.
                let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
                let mut sam = server
                    .storage
                    .person(ids::SUPERVISOR)
                    .expect("p")
                    .expect("sam");
                sam.role = if who == Who::Guard {
                    Role::Guard
                } else {
                    Role::Sro
                };
                server.storage.put_person(&sam).expect("demote");
                for (path, name) in &pages {
                    let p = b.get(path);
                    assert_eq!(p.status, expect(who, name), "{who:?} {path}");
                }
                sam.role = Role::Supervisor;
                server.storage.put_person(&sam).expect("restore");
                b.cookie = None;
                b
            }
            Who::Expired => {
                let (_, b) = Browser::sign_in(&server.base, &SUPERVISOR);
                server.advance(console::session::IDLE_MINUTES + 1);
                b
            }
            Who::OtherSupervisor => Browser::sign_in(&server.base, &SUE).1,
            Who::Supervisor => Browser::sign_in(&server.base, &SUPERVISOR).1,
            Who::Admin => Browser::sign_in(&server.base, &ADMIN).1,
        };
        if matches!(who, Who::Guard | Who::Sro) {
            continue;
        }
        for (path, name) in &pages {
            let p = b.get(path);
            assert_eq!(p.status, expect(who, name), "{who:?} {path}: {}", p.body);
            if p.status == StatusCode::SEE_OTHER {
                assert_eq!(p.location, "/console/login", "{who:?} {path}");
            }
            if p.status != StatusCode::OK {
                continue;
            }
            // What each may see on the pages it may open.
            let sees_lincoln = matches!(who, Who::Supervisor | Who::Admin);
            if *name == "incidents" {
                assert_eq!(
                    p.body.contains(&day.lincoln_incident.to_string()),
                    sees_lincoln,
                    "{who:?} and the Lincoln incident"
                );
                assert_eq!(
                    p.body.contains(&day.baker_incident.to_string()),
                    matches!(who, Who::OtherSupervisor | Who::Admin),
                    "{who:?} and the Baker incident"
                );
            }
            if *name == "day" {
                assert_eq!(
                    p.body.contains("Gia Guard"),
                    sees_lincoln,
                    "{who:?} day view"
                );
            }
            if *name == "notes" {
                assert_eq!(
                    p.body.contains("Student Seventy"),
                    who == Who::Supervisor,
                    "{who:?}: a note appears only to whom it is shared with"
                );
                if who == Who::Supervisor {
                    assert_eq!(
                        p.body.matches("<tr><td>").count(),
                        1,
                        "one note shared with Sam, the other not: {}",
                        p.body
                    );
                }
            }
            if *name == "csv" {
                assert_eq!(p.body.contains("Lincoln"), sees_lincoln, "{who:?} csv");
            }
        }
        if who == Who::Expired {
            server.advance(-(console::session::IDLE_MINUTES + 1));
        }
    }
}

#[test]
fn sessions_end_when_idle_at_their_deadline_and_on_sign_out() {
    let server = ConsoleServer::start();
    let (status, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Used every 20 minutes, it lives until its deadline, and not past it.
    let mut minutes = 0;
    while minutes + 20 < console::session::SESSION_HOURS * 60 {
        server.advance(20);
        minutes += 20;
        assert_eq!(
            b.get("/console/day").status,
            StatusCode::OK,
            "at +{minutes} min"
        );
    }
    server.advance(console::session::SESSION_HOURS * 60 - minutes);
    assert_eq!(
        b.get("/console/day").status,
        StatusCode::SEE_OTHER,
        "deadline"
    );

    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let stolen = b.cookie.clone();
    let out = b.post("/console/logout", &[]);
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(b.cookie.is_none(), "the cookie is cleared");
    b.cookie = stolen;
    assert_eq!(
        b.get("/console/day").status,
        StatusCode::SEE_OTHER,
        "a signed-out session is dead on the server, whatever the browser kept"
    );

    let (status, b) = Browser::sign_in(
        &server.base,
        &Login {
            username: "sam.super",
            password: "wrong-pass",
        },
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(b.cookie.is_none());

    // Password guessing: after 5 wrong passwords in 15 minutes, even the right one waits.
    for _ in 1..5 {
        let (status, _) = Browser::sign_in(
            &server.base,
            &Login {
                username: "sam.super",
                password: "guess",
            },
        );
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        Browser::sign_in(&server.base, &SUPERVISOR).0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        Browser::sign_in(&server.base, &ADMIN).0,
        StatusCode::SEE_OTHER,
        "other names are not locked"
    );
    server.advance(16);
    assert_eq!(
        Browser::sign_in(&server.base, &SUPERVISOR).0,
        StatusCode::SEE_OTHER,
        "a quarter of an hour later it works"
    );
}

#[test]
fn forged_forms_are_refused_and_change_nothing() {
    let server = ConsoleServer::start();
    let day = a_day(&server);
    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let path = format!("/console/incidents/{}/review", day.lincoln_incident);
    let form = [("decision", "approve"), ("comment", "")];
    let wrong_token = b.post_raw(
        &path,
        &[("csrf", "not-the-token"), ("decision", "approve")],
        Some(&server.base.clone()),
    );
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    let csrf = b.csrf.clone();
    let other_site = b.post_raw(
        &path,
        &[("csrf", &csrf), ("decision", "approve")],
        Some("http://evil.example"),
    );
    assert_eq!(other_site.status, StatusCode::FORBIDDEN);
    let login_from_elsewhere = Browser::new(&server.base).post_raw(
        "/console/login",
        &[("username", "sam.super"), ("password", "super-pass-1")],
        Some("http://evil.example"),
    );
    assert_eq!(login_from_elsewhere.status, StatusCode::FORBIDDEN);
    let mut anonymous = Browser::new(&server.base);
    assert_eq!(anonymous.post(&path, &form).status, StatusCode::SEE_OTHER);
    let page = b.get(&format!("/console/incidents/{}", day.lincoln_incident));
    assert!(
        page.body.contains(r#"<span class="badge submitted">"#),
        "still submitted"
    );
    // Admins read incidents but do not review them (the design table: "all, read").
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    assert_eq!(admin.post(&path, &form).status, StatusCode::FORBIDDEN);
    // A supervisor of another school cannot even find it.
    let (_, mut sue) = Browser::sign_in(&server.base, &SUE);
    assert_eq!(sue.post(&path, &form).status, StatusCode::NOT_FOUND);
    // Returning needs a comment.
    assert_eq!(
        b.post(&path, &[("decision", "return"), ("comment", " ")])
            .status,
        StatusCode::BAD_REQUEST
    );
    let page = b.get(&format!("/console/incidents/{}", day.lincoln_incident));
    assert!(
        page.body.contains(r#"<span class="badge submitted">"#),
        "still submitted"
    );
    assert!(
        page.body
            .contains("A &lt;b&gt;stranger&lt;/b&gt; at the gate."),
        "record text is escaped"
    );
}

#[test]
fn a_review_in_the_console_reaches_the_officers_device_at_its_next_sync() {
    let server = ConsoleServer::start();
    let mut day = a_day(&server);
    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let detail = format!("/console/incidents/{}", day.lincoln_incident);
    let r = b.post(
        &format!("{detail}/review"),
        &[
            ("decision", "return"),
            ("comment", "Add the time you called the office."),
        ],
    );
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, detail);
    // The review is signed for Sam by the server's console key, not by any device's key.
    let sigs = server
        .storage
        .change_signatures(day.lincoln_incident)
        .expect("signatures");
    let sam = server
        .storage
        .person_by_username(SUPERVISOR.username)
        .expect("read")
        .expect("sam");
    let review = sigs
        .iter()
        .find(|s| s.person_id == sam.id)
        .expect("the review's signature");
    assert_ne!(review.public_key, day.olga.signing.public());
    rounds_core::signing::verify_change(
        &review.public_key,
        day.lincoln_incident,
        sam.id,
        &review.change,
        &review.signature,
    )
    .expect("the console's signature verifies");

    // The officer's device gets it at its next sync, as a change by Sam's console.
    let report = day.olga.sync().expect("olga syncs");
    assert!(report.rejected.is_empty());
    let v = day
        .olga
        .store
        .incident(day.lincoln_incident)
        .expect("incident");
    assert_eq!(
        v.body.status,
        IncidentStatus::Returned,
        "returned on the phone"
    );
    assert_eq!(
        v.body.review_comment.as_deref(),
        Some("Add the time you called the office.")
    );
    // She fixes it and submits again; the supervisor approves; her phone sees it.
    day.olga
        .store
        .submit_incident(day.lincoln_incident, at(400))
        .expect("resubmit");
    day.olga.sync().expect("push");
    let r = b.post(
        &format!("{detail}/review"),
        &[("decision", "approve"), ("comment", "")],
    );
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    day.olga.sync().expect("pull");
    let v = day
        .olga
        .store
        .incident(day.lincoln_incident)
        .expect("incident");
    assert_eq!(v.body.status, IncidentStatus::Approved);

    // The history says who did what, when, from which device.
    let page = b.get(&detail);
    assert_eq!(page.status, StatusCode::OK);
    let history = page.body.split("<h3>History</h3>").nth(1).expect("history");
    for (what, why) in [
        ("Incident created", "the SRO's creation"),
        ("Submitted for review", "her submissions"),
        ("Reviewed", "the reviews"),
        ("status submitted → returned", "what the return changed"),
        ("status submitted → approved", "what the approval changed"),
        ("console (Sam Supervisor)", "the console as the device"),
        ("olga.sro phone", "the SRO's phone as the device"),
        ("Olga", "who"),
        (
            "11/30/2026, 6:00 PM UTC",
            "when (the server's clock for console changes)",
        ),
    ] {
        assert!(
            history.contains(what),
            "history shows {why}: {what:?} in {history}"
        );
    }
    // Approved: no review form any more; a second review is refused.
    assert!(!page.body.contains("/review\""));
    let again = b.post(
        &format!("{detail}/review"),
        &[("decision", "approve"), ("comment", "")],
    );
    assert_eq!(again.status, StatusCode::CONFLICT);
}

#[test]
fn the_day_view_and_reports_show_rounds_against_the_schedule() {
    let server = ConsoleServer::start();
    let day = a_day(&server);
    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let page = b.get(&format!("/console/day?date={DAY}&school={}", ids::LINCOLN));
    assert_eq!(page.status, StatusCode::OK);
    let row = page
        .body
        .split(&format!(r#"id="shift-{}""#, day.gia_shift))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("Gia's shift row");
    // Schedule: every checkpoint at 08:00 and 09:00 (grace 10 min); the shift ran 08:00–10:00.
    // Main entrance: 08:02 on time, 09:03 on time (hazard). Gym: 08:25 late, 09:00 missed.
    // The four other checkpoints: both visits missed (9 missed in all).
    let cells: Vec<&str> = row
        .split("<td")
        .skip(1)
        .map(|c| c.split('>').nth(1).unwrap_or("").trim_end_matches("</td"))
        .collect();
    assert_eq!(
        cells,
        [
            "Gia Guard",
            "Lincoln main building",
            "8:00 AM–10:00 AM",
            "3",
            "2",
            "1",
            "9",
            "0",
            "1",
            "1",
            "0"
        ],
        "guard, post, shift, checks, on time, late, missed, due, problems, notes, photos"
    );
    assert!(
        page.body.contains(r#"class="exception" id="shift-"#),
        "exceptions stand out"
    );
    assert!(
        page.body
            .contains("<strong>1 incident</strong> waiting for review"),
        "Olga's submitted incident at Lincoln waits for Sam"
    );
    assert!(
        page.body.contains("Wet floor &lt;near&gt; the boiler"),
        "notes, escaped"
    );
    assert!(
        page.body
            .contains(r#"<span class="visit missed">9:00 AM: missed</span>"#)
    );
    assert!(
        page.body
            .contains(r#"<span class="visit late">8:00 AM: late at 8:25 AM</span>"#)
    );

    let csv = b.get(&format!("/console/reports/daily.csv?date={DAY}"));
    assert!(csv.content_type.starts_with("text/csv"));
    let downloads: Vec<serde_json::Value> = server
        .storage
        .audit_entries(0, 10_000)
        .expect("trail")
        .into_iter()
        .filter(|e| e.kind == rounds_server::audit::AuditKind::Exported)
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.body).expect("body")["detail"].clone()
        })
        .collect();
    assert!(
        downloads.len() == 1
            && downloads[0]["format"] == "csv"
            && downloads[0]["date"] == DAY
            && !downloads[0]["docs"].as_array().expect("docs").is_empty(),
        "the download is in the audit trail with the records it counts: {downloads:?}"
    );
    let rows: Vec<Vec<String>> = csv
        .body
        .lines()
        .map(|l| parse_csv_line(l.trim_end_matches('\r')))
        .collect();
    assert_eq!(
        rows[0][..9],
        [
            "Date",
            "School",
            "Shifts",
            "Checks",
            "Visits on time",
            "Visits late",
            "Visits missed",
            "Problems found",
            "Incidents"
        ]
    );
    let lincoln = rows
        .iter()
        .find(|r| r[1] == "Lincoln High School")
        .expect("Lincoln row");
    assert_eq!(lincoln[2..9], ["1", "3", "2", "1", "9", "1", "1"]);
    let cat = rows[0]
        .iter()
        .position(|c| c == IncidentType::Trespass.reporting_category())
        .expect("a column for trespass");
    assert_eq!(
        lincoln[cat], "1",
        "the trespass incident counts in its category"
    );
    let total = rows.last().expect("total");
    assert_eq!(total[1], "Total");
    assert_eq!(
        total[2], "2",
        "Lincoln and Adams shifts; Baker is not Sam's"
    );

    let pdf = b.get(&format!("/console/reports/daily.pdf?date={DAY}"));
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf.bytes);
    assert!(
        text.contains("Lincoln High School"),
        "the school is in the PDF: {text}"
    );
    assert!(text.contains("Shifts with exceptions"));
    assert!(
        text.contains("9 missed, 1 late, 1 problem"),
        "counts in words, singular for one: {text}"
    );
    assert!(
        text.contains("Hazard. Wet floor <near> the boiler"),
        "the problem's label and its note: {text}"
    );
    assert!(
        text.contains("Daily activity report - Monday, November 30, 2026"),
        "the date in US English: {text}"
    );
    for raw in ["hazard.", "problem(s)", "_", "1 problems"] {
        assert!(!text.contains(raw), "no raw code or plural {raw:?}: {text}");
    }
}

/// A district in America/Chicago: an evening shift from 19:00 to 23:00 local time (01:00 to
/// 05:00 UTC on the next day) belongs to the local day it started on, in the day view (also as
/// "today"), the CSV and the PDF, and shows local clock times.
#[test]
fn an_evening_shift_belongs_to_the_districts_local_day() {
    let server = ConsoleServer::start_in(chrono_tz::America::Chicago);
    // The server's clock: 23:30 on the 29th in Chicago (05:30 UTC on the 30th).
    server.advance(-(12 * 60 + 30));
    let mut gia = server.device(&GIA);
    let shift = Uuid::from_u128(0x59);
    gia.store
        .start_shift(&NewShift {
            id: shift,
            post_id: ids::LINCOLN_MAIN,
            started_at: at(-7 * 60), // 2026-11-30 01:00 UTC: 19:00 on the 29th in Chicago
        })
        .expect("start");
    check(&mut gia, shift, 1, 1, -7 * 60 + 5, CheckResult::Hazard); // 19:05, a problem
    gia.store.end_shift(shift, at(-3 * 60)).expect("end"); // 23:00 in Chicago
    gia.sync().expect("gia sync");
    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let marker = format!(r#"id="shift-{shift}""#);

    for url in [
        format!("/console/day?date=2026-11-29&school={}", ids::LINCOLN),
        format!("/console/day?school={}", ids::LINCOLN),
    ] {
        let page = b.get(&url);
        assert_eq!(page.status, StatusCode::OK, "{url}");
        assert!(
            page.body.contains("Day of Sunday, November 29, 2026"),
            "{url}: the 29th"
        );
        assert!(
            page.body.contains("Times are in America/Chicago (CST)."),
            "{url}: the zone of the page's times"
        );
        let row = page
            .body
            .split(&marker)
            .nth(1)
            .and_then(|r| r.split("</tr>").next())
            .unwrap_or_else(|| panic!("{url}: the evening shift is on the 29th"));
        assert!(
            row.contains("7:00 PM–11:00 PM"),
            "{url}: local clock times: {row}"
        );
        assert!(
            page.body.contains(r#"<li class="problem">7:05 PM "#),
            "{url}: the problem's local time"
        );
    }
    let next = b.get(&format!(
        "/console/day?date=2026-11-30&school={}",
        ids::LINCOLN
    ));
    assert_eq!(next.status, StatusCode::OK);
    assert!(
        !next.body.contains(&marker),
        "the shift is not on the 30th (its UTC date)"
    );

    let mut shifts_at_lincoln = |date: &str| {
        let csv = b.get(&format!("/console/reports/daily.csv?date={date}"));
        assert_eq!(csv.status, StatusCode::OK);
        csv.body
            .lines()
            .map(|l| parse_csv_line(l.trim_end_matches('\r')))
            .find(|r| r[1] == "Lincoln High School")
            .map(|r| (r[0].clone(), r[2].clone()))
            .expect("Lincoln row")
    };
    assert_eq!(
        shifts_at_lincoln("2026-11-29"),
        ("2026-11-29".to_string(), "1".to_string())
    );
    assert_eq!(
        shifts_at_lincoln("2026-11-30"),
        ("2026-11-30".to_string(), "0".to_string())
    );

    let pdf = b.get("/console/reports/daily.pdf?date=2026-11-29");
    assert_eq!(pdf.content_type, "application/pdf");
    let text = pdf_text(&pdf.bytes);
    assert!(
        text.contains("Times are in America/Chicago (CST)."),
        "the report names the zone: {text}"
    );
    assert!(!text.contains("Times are in UTC"));
    assert!(
        text.contains("7:00 PM–11:00 PM"),
        "the exception list shows local times: {text}"
    );
}

/// The text of a PDF as `pdftotext` reads it (poppler-utils, installed by scripts/setup.sh):
/// what a person copying or searching the file gets.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "pdftotext reads the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names in Vietnamese, Chinese and Arabic, and a long note, through the daily report PDF:
/// every name comes back from `pdftotext` as written (Arabic in reading order), the note is
/// whole (wrapped, never cut with "…"), and `pdftoppm` renders page 1 (kept as
/// `ROUNDS_PDF_PNG=<prefix>` when set, to look at).
#[test]
fn the_report_pdf_prints_every_name_and_the_whole_note() {
    let server = ConsoleServer::start();
    let st = server.storage.as_ref();
    admin::put_school(
        st,
        by_command_line(),
        &School {
            id: ids::LINCOLN,
            name: "Trường Nguyễn Thị Ánh".into(),
        },
    )
    .expect("school");
    admin::put_post(
        st,
        by_command_line(),
        &Post {
            id: ids::LINCOLN_MAIN,
            school_id: ids::LINCOLN,
            name: "王小明 building".into(),
            orders: String::new(),
        },
    )
    .expect("post");
    admin::put_person(
        st,
        by_command_line(),
        &PersonInput {
            id: ids::GUARD_LINCOLN,
            username: GIA.username.into(),
            name: "محمد عبد الله".into(),
            role: Role::Guard,
            schools: vec![ids::LINCOLN],
            password: None,
            active: true,
        },
        &mut SeededEntropy::new(3),
    )
    .expect("guard");
    let note = "The east stairwell door was propped open with a wedge again; I removed it, \
                checked the closer, and told the custodian, who will replace the worn hinge \
                before the first bell tomorrow. Students were reminded to keep it shut. \
                Nguyễn Thị Ánh from the front office saw it too.";
    let mut gia = server.device(&GIA);
    let shift = Uuid::from_u128(0x5A);
    gia.store
        .start_shift(&NewShift {
            id: shift,
            post_id: ids::LINCOLN_MAIN,
            started_at: at(0),
        })
        .expect("start");
    gia.store
        .record_check(
            shift,
            &CheckInput {
                id: Uuid::from_u128(0x5A01),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
                method: CheckMethod::Tag,
                result: CheckResult::Unsecured,
                note: note.into(),
                photos: vec![],
                at: at(3),
            },
        )
        .expect("check");
    gia.store.end_shift(shift, at(60)).expect("end");
    gia.sync().expect("sync");

    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let pdf = b.get(&format!("/console/reports/daily.pdf?date={DAY}"));
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.content_type, "application/pdf");
    let text = pdf_text(&pdf.bytes);
    for name in ["Trường Nguyễn Thị Ánh", "王小明 building", "محمد عبد الله"]
    {
        assert!(
            text.contains(name),
            "{name:?} comes back as written: {text}"
        );
    }
    assert!(!text.contains('?'), "nothing printed as ?: {text}");
    assert!(!text.contains('…'), "nothing cut: {text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let whole_note = note.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("Unsecured. {whole_note}")),
        "the whole note, over several lines: {text}"
    );
    assert!(
        text.lines()
            .filter(|l| l.contains("stairwell") || l.contains("hinge") || l.contains("office saw"))
            .count()
            >= 2,
        "the note is wrapped, not one line off the page: {text}"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, &pdf.bytes).expect("write");
    let prefix = std::env::var("ROUNDS_PDF_PNG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("page"));
    let out = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(&prefix)
        .output()
        .expect("pdftoppm (poppler-utils) runs");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "pdftoppm renders page 1 without complaint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(prefix.with_extension("png")).expect("page 1 as PNG");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
}

/// Dates and times in the configured locale: US order by default, day first in en-GB, with
/// the zone's abbreviation where a date and time are shown.
#[test]
fn dates_and_times_follow_the_districts_locale() {
    for (locale, occurred, day_heading) in [
        (
            console::Locale::EnUs,
            "11/30/2026, 8:05 AM UTC",
            "Day of Monday, November 30, 2026",
        ),
        (
            console::Locale::EnGb,
            "30/11/2026, 08:05 UTC",
            "Day of Monday 30 November 2026",
        ),
    ] {
        let server = ConsoleServer::start_with(Tz::UTC, locale);
        let _day = a_day(&server);
        let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
        let list = b.get("/console/incidents");
        assert_eq!(list.status, StatusCode::OK);
        assert!(
            list.body.contains(occurred),
            "{locale:?}: the incident's time {occurred:?} in {}",
            list.body
        );
        let day = b.get(&format!("/console/day?date={DAY}"));
        assert!(
            day.body.contains(day_heading),
            "{locale:?}: {day_heading:?}"
        );
        assert!(
            day.body.contains("Times are in UTC."),
            "{locale:?}: the page says its zone"
        );
    }
}

/// No raw codes and no "(s)" anywhere a supervisor reads: labels from the vocabularies,
/// counts with the right plural.
#[test]
fn the_console_reads_in_words() {
    let server = ConsoleServer::start();
    let day = a_day(&server);
    let (_, mut b) = Browser::sign_in(&server.base, &SUPERVISOR);
    let list = b.get("/console/incidents");
    assert!(
        list.body.contains("<p class=\"summary\">1 incident."),
        "singular for one"
    );
    assert!(
        list.body.contains(">Trespass</a>"),
        "the type's label: {}",
        list.body
    );
    assert!(
        list.body.contains(">Submitted</span>"),
        "the status's label"
    );
    assert!(
        list.body
            .contains(r#"<option value="fight_assault">Fight or assault</option>"#),
        "the filter shows labels and sends codes"
    );
    let detail = b.get(&format!("/console/incidents/{}", day.lincoln_incident));
    assert!(detail.body.contains("<h2>Incident: Trespass</h2>"));
    assert!(
        detail.body.contains("Supervisor)</span>") || detail.body.contains("(Supervisor)"),
        "the role's label"
    );
    let day_page = b.get(&format!("/console/day?date={DAY}"));
    assert!(
        day_page.body.contains("<strong>2 shifts</strong>"),
        "plural: {}",
        day_page.body
    );
    let school = b.get(&format!("/console/day?date={DAY}&school={}", ids::LINCOLN));
    assert!(
        school.body.contains("<strong>Hazard</strong>"),
        "the check result's label"
    );
    let csv = b.get(&format!("/console/reports/daily.csv?date={DAY}"));
    for (page, body) in [
        ("incidents", &list.body),
        ("detail", &detail.body),
        ("day", &day_page.body),
        ("school day", &school.body),
        ("csv", &csv.body),
    ] {
        let text = visible_text(body);
        for raw in [
            "(s)",
            "1 shifts",
            "1 incidents",
            "fight_assault",
            "fight assault",
            "all_clear",
            "create_incident",
            "create incident",
            "visits_",
            ">submitted<",
            ">hazard<",
        ] {
            assert!(!text.contains(raw), "{page}: no {raw:?} in {text}");
        }
    }
}

/// Text a person sees: each tag reduced to `<>` (so `>word<` is a whole text node), with its
/// attribute values (codes in `value=`, ids in links) left out.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push('<');
            }
            '>' => {
                in_tag = false;
                out.push('>');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn the_favicon_is_an_svg_not_a_404() {
    let server = ConsoleServer::start();
    let http = Client::new();
    for path in ["/favicon.ico", "/favicon.svg"] {
        let r = http
            .get(format!("{}{path}", server.base))
            .send()
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(
            r.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("image/svg+xml"),
            "{path}"
        );
        assert!(r.text().expect("body").starts_with("<svg"), "{path}");
    }
    let login = http
        .get(format!("{}/console/login", server.base))
        .send()
        .expect("login page")
        .text()
        .expect("body");
    assert!(
        login.contains(r#"<link rel="icon" href="/favicon.svg" type="image/svg+xml">"#),
        "pages point at the icon"
    );
}

/// An RFC 4180 line (no embedded line breaks in these tests).
fn parse_csv_line(l: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = l.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn admin_actions_are_for_administrators_only() {
    let server = ConsoleServer::start();
    let gus = server.device(&GUS);
    let revoke = format!("/console/admin/devices/{}/revoke", gus.enrollment.device_id);
    let actions: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/console/admin/schools", vec![("name", "Jefferson High")]),
        (
            "/console/admin/posts",
            vec![
                ("school_id", "01930000-0000-7000-8000-00000000000a"),
                ("name", "Annex"),
            ],
        ),
        ("/console/admin/codes", vec![("hours", "2")]),
        (revoke.as_str(), vec![]),
    ];
    for who in [&SUPERVISOR, &SUE] {
        let (_, mut b) = Browser::sign_in(&server.base, who);
        for (path, form) in &actions {
            assert_eq!(
                b.post(path, form).status,
                StatusCode::FORBIDDEN,
                "{} {path}",
                who.username
            );
        }
    }
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    let forged = admin.post_raw(
        "/console/admin/schools",
        &[("csrf", "x"), ("name", "Forged High")],
        Some(&server.base.clone()),
    );
    assert_eq!(
        forged.status,
        StatusCode::FORBIDDEN,
        "the form token is checked"
    );
    let reference = |st: &dyn Storage| {
        st.reference_for(&rounds_server::auth::viewer(
            &st.person(ids::ADMIN).expect("p").expect("admin"),
        ))
        .expect("reference")
    };
    assert!(
        !reference(server.storage.as_ref())
            .schools
            .iter()
            .any(|s| s.name.contains("High") && s.name != "Lincoln High School"),
        "nothing was created by refused forms"
    );
    assert!(
        server
            .storage
            .device(gus.enrollment.device_id)
            .expect("d")
            .expect("device")
            .revoked_at
            .is_none()
    );
    for (path, form) in &actions {
        let r = admin.post(path, form);
        assert!(
            r.status == StatusCode::SEE_OTHER || r.status == StatusCode::OK,
            "{path}: {} {}",
            r.status,
            r.body
        );
        if *path == "/console/admin/codes" {
            assert!(
                r.body.contains(r#"id="enrollment-code""#),
                "the code is shown once"
            );
        }
    }
    let r = reference(server.storage.as_ref());
    assert!(r.schools.iter().any(|s| s.name == "Jefferson High"));
    assert!(r.posts.iter().any(|p| p.name == "Annex"));
    assert!(
        server
            .storage
            .device(gus.enrollment.device_id)
            .expect("d")
            .expect("device")
            .revoked_at
            .is_some(),
        "revoked from the console"
    );
    // A checkpoint with a schedule that makes no sense is refused by the shared validation.
    let bad = admin.post(
        "/console/admin/checkpoints",
        &[
            ("post_id", "01930000-0000-7000-8000-0000000000a1"),
            ("name", "Roof"),
            ("tag_code", "ROOF"),
            ("position", "7"),
            ("first_due_minutes", "0"),
            ("interval_minutes", "10"),
            ("grace_minutes", "20"),
        ],
    );
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // A person's role, schools and access: several schools from a multiple select.
    let gus_page = format!("/console/admin/people/{}", ids::GUARD_ADAMS);
    assert_eq!(admin.get(&gus_page).status, StatusCode::OK);
    let adams = ids::ADAMS.to_string();
    let baker = ids::BAKER.to_string();
    let change = [
        ("role", "guard"),
        ("school", adams.as_str()),
        ("school", baker.as_str()),
    ];
    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    assert_eq!(sam.get(&gus_page).status, StatusCode::FORBIDDEN);
    assert_eq!(sam.post(&gus_page, &change).status, StatusCode::FORBIDDEN);
    assert_eq!(admin.post(&gus_page, &change).status, StatusCode::SEE_OTHER);
    let gus_now = server
        .storage
        .person(ids::GUARD_ADAMS)
        .expect("p")
        .expect("gus");
    assert_eq!(gus_now.schools, {
        let mut v = vec![ids::ADAMS, ids::BAKER];
        v.sort();
        v
    });
    assert!(!gus_now.active, "no `active` box: he may no longer sign in");
    assert_eq!(
        Browser::sign_in(&server.base, &GUS).0,
        StatusCode::UNAUTHORIZED,
        "an inactive person cannot sign in"
    );
    let me = format!("/console/admin/people/{}", ids::ADMIN);
    assert_eq!(
        admin
            .post(&me, &[("role", "supervisor"), ("active", "yes")])
            .status,
        StatusCode::BAD_REQUEST,
        "an administrator cannot demote themself"
    );
}

/// Everything the admin sees, as the admin API reads it.
fn all_reference(st: &dyn Storage) -> ReferenceData {
    st.reference_for(&rounds_server::auth::viewer(
        &st.person(ids::ADMIN).expect("p").expect("admin"),
    ))
    .expect("reference")
}

/// The fields of the Lincoln gym checkpoint's form with another schedule.
fn gym_form<'a>(
    post: &'a str,
    first: &'a str,
    every: &'a str,
    grace: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("post_id", post),
        ("name", "Gym east doors"),
        ("tag_code", "LIN-02"),
        ("position", "2"),
        ("first_due_minutes", first),
        ("interval_minutes", every),
        ("grace_minutes", grace),
    ]
}

#[test]
fn an_admin_edits_a_schedule_and_orders_and_the_guards_phone_gets_them_at_its_next_sync() {
    let server = ConsoleServer::start();
    let mut gia = server.device(&GIA);
    let gym = ids::checkpoint(ids::LINCOLN_MAIN, 2);
    let before = gia
        .store
        .checkpoints(ids::LINCOLN_MAIN)
        .expect("checkpoints");
    let old_gym = before
        .iter()
        .find(|c| c.id == gym)
        .expect("the gym on the phone");
    assert_eq!(
        (
            old_gym.schedule.interval_minutes,
            old_gym.schedule.grace_minutes
        ),
        (60, 10)
    );

    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    let page = admin.get("/console/admin");
    assert_eq!(page.status, StatusCode::OK);
    let r = all_reference(server.storage.as_ref());
    for (section, id) in r
        .schools
        .iter()
        .map(|s| ("schools", s.id))
        .chain(r.posts.iter().map(|p| ("posts", p.id)))
        .chain(r.checkpoints.iter().map(|c| ("checkpoints", c.id)))
    {
        assert!(
            page.body.contains(&format!(
                r#"<a href="/console/admin/{section}/{id}">Edit</a>"#
            )),
            "an Edit link for {section} {id}"
        );
    }

    // The checkpoint's page: every field prefilled, the form token, posting to itself.
    let path = format!("/console/admin/checkpoints/{gym}");
    let form = admin.get(&path);
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let main = ids::LINCOLN_MAIN.to_string();
    for want in [
        format!(r#"action="{path}""#),
        format!(r#"name="csrf" value="{}""#, admin.csrf),
        format!(r#"<option value="{main}" selected>Lincoln High School — "#),
        format!(
            r#"name="name" required maxlength="200" value="{}""#,
            old_gym.name
        ),
        r#"name="tag_code" required maxlength="128" value="LIN-02""#.into(),
        r#"name="position" type="number" min="1" value="2""#.into(),
        r#"name="first_due_minutes" type="number" min="0" value="0""#.into(),
        r#"name="interval_minutes" type="number" min="1" value="60""#.into(),
        r#"name="grace_minutes" type="number" min="0" value="10""#.into(),
    ] {
        assert!(form.body.contains(&want), "{want} in {}", form.body);
    }

    // A new schedule for the same checkpoint (same id, no new row).
    let saved = admin.post(&path, &gym_form(&main, "15", "45", "5"));
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(saved.location, "/console/admin#checkpoints");
    let after = all_reference(server.storage.as_ref());
    assert_eq!(
        after.checkpoints.len(),
        r.checkpoints.len(),
        "replaced, not added"
    );
    let new_gym = after.checkpoints.iter().find(|c| c.id == gym).expect("gym");
    assert_eq!(new_gym.name, "Gym east doors");
    assert_eq!(
        new_gym.schedule,
        Schedule {
            first_due_minutes: 15,
            interval_minutes: 45,
            grace_minutes: 5
        }
    );

    // The post's orders, over several lines, with markup shown as text on its page.
    let post_path = format!("/console/admin/posts/{main}");
    let post_page = admin.get(&post_path);
    assert_eq!(post_page.status, StatusCode::OK);
    assert!(
        post_page.body.contains("Walk the round every hour."),
        "orders prefilled"
    );
    assert!(post_page.body.contains(&format!(
        r#"<option value="{}" selected>Lincoln High School</option>"#,
        ids::LINCOLN
    )));
    let orders = "Lock the gym <after> 16:00.\nCall the office at 09:00.";
    let lincoln = ids::LINCOLN.to_string();
    let saved = admin.post(
        &post_path,
        &[
            ("school_id", lincoln.as_str()),
            ("name", "Lincoln main building"),
            ("orders", orders),
        ],
    );
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let post_page = admin.get(&post_path);
    assert!(
        post_page
            .body
            .contains("Lock the gym &lt;after&gt; 16:00.\nCall the office at 09:00."),
        "the new orders, escaped, line breaks kept: {}",
        post_page.body
    );

    // A school's name.
    let school_path = format!("/console/admin/schools/{lincoln}");
    assert!(
        admin
            .get(&school_path)
            .body
            .contains(r#"value="Lincoln High School""#)
    );
    let saved = admin.post(&school_path, &[("name", "Lincoln \"High\" School")]);
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert!(
        admin
            .get(&school_path)
            .body
            .contains(r#"value="Lincoln &quot;High&quot; School""#),
        "escaped in the attribute"
    );

    // Gia's phone gets all of it at its next sync.
    let report = gia.sync().expect("sync");
    assert!(report.reference_updated, "the reference data changed");
    let phone_gym = gia
        .store
        .checkpoints(ids::LINCOLN_MAIN)
        .expect("checkpoints")
        .into_iter()
        .find(|c| c.id == gym)
        .expect("gym");
    assert_eq!(
        phone_gym.schedule, new_gym.schedule,
        "the new schedule on the phone"
    );
    assert_eq!(phone_gym.name, "Gym east doors");
    assert_eq!(
        gia.store.post(ids::LINCOLN_MAIN).expect("post").orders,
        orders,
        "the new orders on the phone"
    );
    let phone_ref = gia.store.reference_data().expect("reference");
    assert!(
        phone_ref
            .schools
            .iter()
            .any(|s| s.id == ids::LINCOLN && s.name == "Lincoln \"High\" School")
    );
}

#[test]
fn editing_is_for_administrators_with_a_real_form_and_a_valid_schedule() {
    let server = ConsoleServer::start();
    let main = ids::LINCOLN_MAIN.to_string();
    let lincoln = ids::LINCOLN.to_string();
    let gym = ids::checkpoint(ids::LINCOLN_MAIN, 2);
    let edits: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/console/admin/schools/{lincoln}"),
            vec![("name", "Renamed")],
        ),
        (
            format!("/console/admin/posts/{main}"),
            vec![
                ("school_id", lincoln.as_str()),
                ("name", "Renamed"),
                ("orders", "Changed"),
            ],
        ),
        (
            format!("/console/admin/checkpoints/{gym}"),
            gym_form(&main, "5", "30", "5"),
        ),
    ];
    // The schools, posts and checkpoints (the people change below: roles are moved).
    let places = || {
        let r = all_reference(server.storage.as_ref());
        (r.schools, r.posts, r.checkpoints)
    };
    let before = places();
    let unchanged = |why: &str| assert!(places() == before, "{why}: nothing changed");
    // No session: sent to sign in, for the page and the form.
    let mut nobody = Browser::new(&server.base);
    for (path, form) in &edits {
        for p in [nobody.get(path), nobody.post(path, form)] {
            assert_eq!(p.status, StatusCode::SEE_OTHER, "no session {path}");
            assert_eq!(p.location, "/console/login");
        }
    }
    // A supervisor, and the same session once its person is a guard: 403.
    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    let mut sam_record = server
        .storage
        .person(ids::SUPERVISOR)
        .expect("p")
        .expect("sam");
    for role in [Role::Supervisor, Role::Guard] {
        sam_record.role = role;
        server.storage.put_person(&sam_record).expect("role");
        for (path, form) in &edits {
            assert_eq!(sam.get(path).status, StatusCode::FORBIDDEN, "{role} {path}");
            assert_eq!(
                sam.post(path, form).status,
                StatusCode::FORBIDDEN,
                "{role} {path}"
            );
        }
    }
    assert_eq!(
        Browser::sign_in(&server.base, &GIA).0,
        StatusCode::FORBIDDEN,
        "a guard cannot sign in at all"
    );
    unchanged("refused to a supervisor and a guard");

    // The admin's own session, but a form without the token or from another site.
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    for (path, form) in &edits {
        let base = server.base.clone();
        let no_token = admin.post_raw(path, form, Some(&base));
        assert_eq!(no_token.status, StatusCode::FORBIDDEN, "no token {path}");
        let csrf = admin.csrf.clone();
        let mut foreign = vec![("csrf", csrf.as_str())];
        foreign.extend_from_slice(form);
        assert_eq!(
            admin
                .post_raw(path, &foreign, Some("http://evil.example"))
                .status,
            StatusCode::FORBIDDEN,
            "foreign origin {path}"
        );
    }
    unchanged("forged forms");

    // Unknown records: 404 for the page and the form, whatever the id looks like.
    let unknown = Uuid::from_u128(0xdead).to_string();
    for section in ["schools", "posts", "checkpoints"] {
        for id in [unknown.as_str(), "not-an-id"] {
            let path = format!("/console/admin/{section}/{id}");
            assert_eq!(admin.get(&path).status, StatusCode::NOT_FOUND, "{path}");
            let form = &edits
                .iter()
                .find(|(p, _)| p.contains(section))
                .expect("form")
                .1;
            assert_eq!(
                admin.post(&path, form).status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    unchanged("unknown ids");

    // Bad values: the add forms' 400 page, naming what is wrong; nothing changes.
    let cp = format!("/console/admin/checkpoints/{gym}");
    let bad_post = Uuid::from_u128(0xbeef).to_string();
    for (form, says) in [
        (gym_form(&main, "5", "30", "30"), "grace_minutes"),
        (gym_form(&main, "5", "30", "45"), "grace_minutes"),
        (gym_form(&main, "5", "0", "0"), "interval_minutes"),
        (gym_form(&main, "5", "thirty", "5"), "every"),
        (gym_form(&bad_post, "5", "30", "5"), "unknown post"),
        (gym_form("", "5", "30", "5"), "post: choose one"),
    ] {
        let r = admin.post(&cp, &form);
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{form:?}: {}", r.body);
        assert!(r.body.contains(says), "{says} in {}", r.body);
    }
    let school = &edits[0].0;
    let r = admin.post(school, &[("name", "  ")]);
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an empty name");
    let r = admin.post(
        &edits[1].0,
        &[("school_id", unknown.as_str()), ("name", "Main")],
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an unknown school");
    unchanged("refused values");

    // And the same form, right, from the admin's page: it works.
    for (path, form) in &edits {
        let r = admin.post(path, form);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}: {}", r.body);
    }
    let r = all_reference(server.storage.as_ref());
    let gym_now = r.checkpoints.iter().find(|c| c.id == gym).expect("gym");
    assert_eq!(gym_now.schedule.interval_minutes, 30);
    assert!(
        r.posts
            .iter()
            .any(|p| p.id == ids::LINCOLN_MAIN && p.orders == "Changed")
    );
    assert!(
        r.schools
            .iter()
            .any(|s| s.id == ids::LINCOLN && s.name == "Renamed")
    );
}

#[test]
fn incidents_filter_by_school_type_status_and_date() {
    let server = ConsoleServer::start();
    let day = a_day(&server);
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    let listed = |b: &mut Browser, q: &str| -> (bool, bool) {
        let p = b.get(&format!("/console/incidents?{q}"));
        assert_eq!(p.status, StatusCode::OK, "{q}: {}", p.body);
        (
            p.body.contains(&day.lincoln_incident.to_string()),
            p.body.contains(&day.baker_incident.to_string()),
        )
    };
    assert_eq!(listed(&mut admin, ""), (true, true));
    assert_eq!(
        listed(&mut admin, &format!("school={}", ids::BAKER)),
        (false, true)
    );
    assert_eq!(listed(&mut admin, "status=submitted"), (true, false));
    assert_eq!(listed(&mut admin, "status=draft"), (false, true));
    assert_eq!(listed(&mut admin, "type=trespass"), (true, true));
    assert_eq!(listed(&mut admin, "type=weapon"), (false, false));
    assert_eq!(
        listed(&mut admin, &format!("from={DAY}&to={DAY}")),
        (true, true)
    );
    assert_eq!(listed(&mut admin, "from=2026-12-01"), (false, false));
    assert_eq!(listed(&mut admin, "to=2026-11-29"), (false, false));
    let bad = admin.get("/console/incidents?type=%3Cscript%3E");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        !bad.body.contains("<script>"),
        "the refused value is escaped"
    );
}

#[test]
fn photos_are_shown_only_to_those_who_may_read_their_record() {
    let server = ConsoleServer::start();
    let mut gia = server.device(&GIA);
    let bytes = jpeg(7, 5_000);
    let hash = gia
        .store
        .add_photo(&bytes, at(1), &mut SeededEntropy::new(9))
        .expect("photo");
    let shift = Uuid::from_u128(0x53);
    gia.store
        .start_shift(&NewShift {
            id: shift,
            post_id: ids::LINCOLN_MAIN,
            started_at: at(0),
        })
        .expect("start");
    gia.store
        .record_check(
            shift,
            &CheckInput {
                id: Uuid::from_u128(0x5301),
                checkpoint_id: ids::checkpoint(ids::LINCOLN_MAIN, 1),
                method: CheckMethod::Tag,
                result: CheckResult::Damage,
                note: "Broken window".into(),
                photos: vec![hash.clone()],
                at: at(2),
            },
        )
        .expect("check");
    gia.sync().expect("sync with the photo");
    assert_eq!(
        server_photo_of(&server, &hash).as_deref(),
        Some(bytes.as_slice())
    );
    let path = format!("/console/records/{shift}/photos/{hash}");

    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    let day = sam.get(&format!("/console/day?date={DAY}&school={}", ids::LINCOLN));
    assert!(
        day.body.contains(&format!(r#"<img src="{path}""#)),
        "a thumbnail on the school's day"
    );
    let p = sam.get(&path);
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.content_type, "image/jpeg");
    assert_eq!(p.bytes, bytes, "the photo as the phone took it");
    let other = sha256_hex(b"another photo");
    assert_eq!(
        sam.get(&format!("/console/records/{shift}/photos/{other}"))
            .status,
        StatusCode::NOT_FOUND,
        "only photos the record refers to"
    );
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    assert_eq!(admin.get(&path).status, StatusCode::OK);
    let (_, mut sue) = Browser::sign_in(&server.base, &SUE);
    assert_eq!(
        sue.get(&path).status,
        StatusCode::NOT_FOUND,
        "not her school"
    );
    assert_eq!(
        Browser::new(&server.base).get(&path).status,
        StatusCode::SEE_OTHER
    );

    // Gus, at another school Sam supervises, refers to Gia's photo from his own shift (he
    // learned its hash) but never uploaded it for that shift: it is not shown with his record.
    let mut gus = server.device(&GUS);
    let borrowed = Uuid::from_u128(0x54);
    gus.store
        .start_shift(&NewShift {
            id: borrowed,
            post_id: ids::ADAMS_CAMPUS,
            started_at: at(0),
        })
        .expect("start");
    gus.store
        .record_check(
            borrowed,
            &CheckInput {
                id: Uuid::from_u128(0x5401),
                checkpoint_id: ids::checkpoint(ids::ADAMS_CAMPUS, 1),
                method: CheckMethod::Tag,
                result: CheckResult::Damage,
                note: "Same window?".into(),
                photos: vec![hash.clone()],
                at: at(2),
            },
        )
        .expect("check");
    let report = gus.sync().expect("sync");
    assert_eq!(report.photos_uploaded, 0, "Gus holds no photo to upload");
    assert_eq!(
        sam.get(&format!("/console/records/{borrowed}/photos/{hash}"))
            .status,
        StatusCode::NOT_FOUND,
        "a photo is shown only with a record it was uploaded for"
    );
    assert_eq!(
        sam.get(&path).status,
        StatusCode::OK,
        "and still with Gia's"
    );
}

fn server_photo_of(server: &ConsoleServer, hash: &str) -> Option<Vec<u8>> {
    server.storage.photo_bytes().read(hash).expect("read")
}

#[test]
fn bad_input_on_console_pages_gets_the_consoles_error_page_and_changes_nothing() {
    let server = ConsoleServer::start();
    let people_before = server.storage.people().expect("people").len();
    let (_, mut admin) = Browser::sign_in(&server.base, &ADMIN);
    let error_page = |p: &Page, status: StatusCode, what: &str| {
        assert_eq!(p.status, status, "{what}: {}", p.body);
        assert!(
            p.content_type.starts_with("text/html"),
            "{what}: an HTML page, not axum's plain text ({})",
            p.content_type
        );
        assert!(
            p.body.contains("Back to the console"),
            "{what}: the console's own error page"
        );
    };
    // A form without the fields the handler reads (its token is right).
    let p = admin.post("/console/admin/people", &[("name", "No Username")]);
    error_page(
        &p,
        StatusCode::BAD_REQUEST,
        "a person form without a username",
    );
    // A query value given twice.
    let p = admin.get(&format!(
        "/console/incidents?school={}&school={}",
        ids::LINCOLN,
        ids::BAKER
    ));
    error_page(&p, StatusCode::BAD_REQUEST, "a repeated query value");
    // Ids in paths that are not ids are records that do not exist.
    for path in [
        "/console/incidents/not-an-id",
        "/console/admin/people/not-an-id",
        "/console/admin/schools/not-an-id",
        "/console/records/not-an-id/photos/00",
    ] {
        error_page(&admin.get(path), StatusCode::NOT_FOUND, path);
    }
    // A supervisor on an admin page.
    let (_, mut sam) = Browser::sign_in(&server.base, &SUPERVISOR);
    error_page(
        &sam.get("/console/admin"),
        StatusCode::FORBIDDEN,
        "a supervisor on the admin page",
    );
    error_page(
        &sam.post(
            "/console/admin/people",
            &[
                ("username", "x.y"),
                ("name", "X"),
                ("role", "guard"),
                ("password", "long-enough-1"),
            ],
        ),
        StatusCode::FORBIDDEN,
        "a supervisor adding a person",
    );
    assert_eq!(
        server.storage.people().expect("people").len(),
        people_before,
        "nobody was added"
    );
}

#[test]
fn console_reviews_are_signed_with_the_key_in_the_console_key_file_on_every_process() {
    let data = seeded_district();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("console.key");
    let file_arg = file.to_str().expect("utf8 path");
    let (made, public) = server_cli(&data, &["console-key", "new", file_arg]);
    assert!(made, "{public}");
    let public = public.trim().to_string();
    assert_eq!(public.len(), 64, "{public}");
    let (read, again) = server_cli(&data, &["console-key", "public", file_arg]);
    assert!(read);
    assert_eq!(again.trim(), public, "the file's public half");
    let (replaced, why) = server_cli(&data, &["console-key", "new", file_arg]);
    assert!(
        !replaced && why.contains("already exists"),
        "an existing key is never replaced: {why}"
    );
    let (read, again) = server_cli(&data, &["console-key", "public", file_arg]);
    assert!(read && again.trim() == public, "and is still the same");

    // A key file others may read stops the server at start, with the reason.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = std::process::Command::new(SERVER_BIN)
        .args(data.args())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROUNDS_CONSOLE_KEY_FILE", &file)
        .env("RUST_LOG", "error")
        .output()
        .expect("serve");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // Two processes on the same district (one after the other) sign with the file's key.
    let env = [("ROUNDS_CONSOLE_KEY_FILE", file_arg)];
    let mut server = ServerProcess::start(&data, &env);
    let mut olga = enroll_with_cli(&server, &data, &OLGA);
    olga.sync().expect("reference");
    let first = incident_at(&mut olga, 0x71, ids::LINCOLN, "A fight by the lockers.");
    let second = incident_at(&mut olga, 0x72, ids::LINCOLN, "A door propped open.");
    for id in [first, second] {
        olga.store.submit_incident(id, at(7)).expect("submit");
    }
    olga.sync().expect("push");
    let review = |base: &str, id: Uuid| {
        let (_, mut b) = Browser::sign_in(base, &SUPERVISOR);
        let r = b.post(
            &format!("/console/incidents/{id}/review"),
            &[("decision", "return"), ("comment", "Say who called it in.")],
        );
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    };
    review(&server.base, first);
    server.kill();
    let server = ServerProcess::start(&data, &env);
    review(&server.base, second);
    drop(server);

    let storage = data.open();
    let sam = storage
        .person_by_username(SUPERVISOR.username)
        .expect("read")
        .expect("sam");
    for id in [first, second] {
        let sigs = storage.change_signatures(id).expect("signatures");
        let s = sigs
            .iter()
            .find(|s| s.person_id == sam.id)
            .expect("the review's signature");
        assert_eq!(
            hex::encode(s.public_key),
            public,
            "signed with the file's key"
        );
        rounds_core::signing::verify_change(&s.public_key, id, sam.id, &s.change, &s.signature)
            .expect("verifies");
    }
}

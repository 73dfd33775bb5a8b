//! A day of field work pushed into a running district server through the real sync client,
//! for the console's browser journey (`tests/console/journey.mjs`) and for trying the console
//! by hand against `rounds-server admin seed-demo`.
//!
//! ```text
//! cargo run -p rounds-server --example console_day -- seed <server url> <YYYY-MM-DD> <folder>
//! cargo run -p rounds-server --example console_day -- pull <server url> <folder> <incident id>
//! ```
//!
//! `seed` enrolls one phone per demo person (Gia, Gus, Olga, Omar; device stores under
//! `<folder>`), records that date's shifts (Gia's round at Lincoln with an on-time, a late and a
//! missed visit, a hazard with a note and a photo; Gus's clean round at Adams), incidents
//! (submitted and draft) and contact notes (one shared with the supervisor), syncs everything,
//! and prints the ids as JSON. `pull` syncs Olga's phone again and prints the incident as her
//! phone then holds it: `{"status": .., "review_comment": ..}`.

#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    missing_docs,
    reason = "an edge program: prints its result and reads the real clock"
)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rounds_core::client::{self, Enrollment, HttpTransport};
use rounds_core::entropy::OsEntropy;
use rounds_core::keyslots::{KdfParams, Secret};
use rounds_core::model::*;
use rounds_core::store::{NewShift, Setup, Store};
use rounds_server::seed::ids;
use uuid::Uuid;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const PIN: &str = "2468013579";
/// A real (tiny) PNG, standing in for a camera photo.
const PHOTO: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0,
    0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

struct Phone {
    store: Store,
    token: String,
    base: String,
}

impl Phone {
    fn sync(&mut self) -> Res<()> {
        let mut t = HttpTransport::new(&self.base, &self.token)?;
        let r = client::sync_now(&mut self.store, &mut t, Utc::now())
            .map_err(|e| format!("sync: {e:?}"))?;
        if !r.rejected.is_empty() {
            return Err(format!("rejected: {:?}", r.rejected).into());
        }
        Ok(())
    }
}

fn admin_code(base: &str) -> Res<String> {
    let http = reqwest::blocking::Client::new();
    let s: serde_json::Value = http
        .post(format!("{base}/v1/sessions"))
        .json(&serde_json::json!({"username": "admin", "password": "admin-pass-1"}))
        .send()?
        .error_for_status()?
        .json()?;
    let token = s["token"].as_str().ok_or("no token")?;
    let c: serde_json::Value = http
        .post(format!("{base}/v1/admin/enrollment-codes"))
        .bearer_auth(token)
        .json(&serde_json::json!({"valid_hours": 1}))
        .send()?
        .error_for_status()?
        .json()?;
    Ok(c["code"].as_str().ok_or("no code")?.to_string())
}

fn enroll(base: &str, dir: &Path, username: &str, password: &str) -> Res<Phone> {
    let code = admin_code(base)?;
    let e = client::enroll(base, &code, &format!("{username} phone"))
        .map_err(|e| format!("enroll: {e:?}"))?;
    let signing = rounds_core::signing::SigningSecret::generate(&mut OsEntropy);
    let s = client::sign_in(base, username, password, &e, &signing.public())
        .map_err(|e| format!("{e:?}"))?;
    let folder = dir.join(username);
    std::fs::create_dir_all(&folder)?;
    std::fs::write(
        folder.join("enrollment.json"),
        serde_json::to_vec(&serde_json::json!({
            "device_id": e.device_id, "device_secret": e.device_secret,
            "person_id": s.person_id, "password": password,
        }))?,
    )?;
    let store = Store::create(
        &folder.join("device.db"),
        Setup {
            device_id: e.device_id,
            person_id: s.person_id,
            secret: &Secret::new(PIN),
            kdf: KdfParams::FOR_TESTS,
            signing: &signing,
        },
        &mut OsEntropy,
    )?;
    let mut p = Phone {
        store,
        token: s.token,
        base: base.to_string(),
    };
    p.sync()?;
    Ok(p)
}

fn reopen(base: &str, dir: &Path, username: &str) -> Res<Phone> {
    let folder = dir.join(username);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("enrollment.json"))?)?;
    let e = Enrollment {
        device_id: j["device_id"].as_str().ok_or("device_id")?.parse()?,
        device_secret: j["device_secret"].as_str().ok_or("secret")?.to_string(),
    };
    let person: Uuid = j["person_id"].as_str().ok_or("person")?.parse()?;
    let store = Store::open(&folder.join("device.db"), person, &Secret::new(PIN))?;
    let key = store.signing_key().ok_or("no signing key")?;
    let s = client::sign_in(
        base,
        username,
        j["password"].as_str().ok_or("pw")?,
        &e,
        &key,
    )
    .map_err(|e| format!("{e:?}"))?;
    Ok(Phone {
        store,
        token: s.token,
        base: base.to_string(),
    })
}

#[allow(clippy::too_many_arguments, reason = "one named call per check")]
fn check(
    p: &mut Phone,
    shift: Uuid,
    post: Uuid,
    cp: u32,
    at: DateTime<Utc>,
    result: CheckResult,
    note: &str,
    photos: Vec<String>,
) -> Res<()> {
    p.store.record_check(
        shift,
        &CheckInput {
            id: Uuid::now_v7(),
            checkpoint_id: ids::checkpoint(post, cp),
            method: if cp.is_multiple_of(4) {
                CheckMethod::Manual
            } else {
                CheckMethod::Tag
            },
            result,
            note: note.into(),
            photos,
            at,
        },
    )?;
    Ok(())
}

fn incident(
    p: &mut Phone,
    school: Uuid,
    t: IncidentType,
    location: &str,
    at: DateTime<Utc>,
    narrative: &str,
    submit: bool,
) -> Res<Uuid> {
    let id = Uuid::now_v7();
    p.store.create_incident(
        &IncidentInput {
            id,
            school_id: school,
            incident_type: t,
            location: location.into(),
            occurred_at: at,
            people: vec![InvolvedPerson {
                id: Uuid::now_v7(),
                name: "Jordan Doe".into(),
                category: PersonCategory::Student,
                involvement: Involvement::Witness,
                juvenile: true,
                reference: Some("S-1042".into()),
            }],
            narrative: narrative.into(),
            actions: "Spoke with those involved; informed the front office.".into(),
            photos: vec![],
        },
        at + Duration::minutes(20),
    )?;
    if submit {
        p.store.submit_incident(id, at + Duration::minutes(40))?;
    }
    Ok(id)
}

fn seed(base: &str, date: NaiveDate, dir: &Path) -> Res<()> {
    let t = |h: u32, m: u32| -> Res<DateTime<Utc>> {
        Ok(date.and_hms_opt(h, m, 0).ok_or("time")?.and_utc())
    };
    // Gia at Lincoln, 08:00–12:00: six checkpoints due hourly (grace 10 minutes).
    let mut gia = enroll(base, dir, "gia.guard", "guard-pass-1")?;
    let shift = Uuid::now_v7();
    let post = ids::LINCOLN_MAIN;
    gia.store.start_shift(&NewShift {
        id: shift,
        post_id: post,
        started_at: t(8, 0)?,
    })?;
    let photo = gia.store.add_photo(PHOTO, t(9, 4)?, &mut OsEntropy)?;
    for hour in 8..12 {
        for cp in 1..=6u32 {
            let (minute, result, note, photos) = match (hour, cp) {
                (9, 3) => continue, // missed: the boiler room at 09:00
                (10, 2) => (24, CheckResult::AllClear, "", vec![]), // late
                (9, 5) => (
                    4,
                    CheckResult::Hazard,
                    "Pallets blocking the loading dock exit; moved them with the custodian.",
                    vec![photo.clone()],
                ),
                (11, 6) => (
                    6,
                    CheckResult::AllClear,
                    "Alarm panel shows a fault light; reported.",
                    vec![],
                ),
                _ => (cp, CheckResult::AllClear, "", vec![]),
            };
            check(
                &mut gia,
                shift,
                post,
                cp,
                t(hour, minute)?,
                result,
                note,
                photos,
            )?;
        }
    }
    gia.store.end_shift(shift, t(12, 0)?)?;
    gia.sync()?;

    // Gus at Adams, 07:00–10:00, every visit on time.
    let mut gus = enroll(base, dir, "gus.guard", "guard-pass-2")?;
    let shift2 = Uuid::now_v7();
    gus.store.start_shift(&NewShift {
        id: shift2,
        post_id: ids::ADAMS_CAMPUS,
        started_at: t(7, 0)?,
    })?;
    for hour in 7..10 {
        for cp in 1..=4u32 {
            check(
                &mut gus,
                shift2,
                ids::ADAMS_CAMPUS,
                cp,
                t(hour, 2 + cp)?,
                CheckResult::AllClear,
                "",
                vec![],
            )?;
        }
    }
    gus.store.end_shift(shift2, t(10, 0)?)?;
    gus.sync()?;

    // Olga: incidents at Lincoln and Adams, a draft, and two notes.
    let mut olga = enroll(base, dir, "olga.sro", "sro-pass-1")?;
    let fight = incident(
        &mut olga,
        ids::LINCOLN,
        IncidentType::FightAssault,
        "Cafeteria",
        t(12, 15)?,
        "Two students pushed each other in the lunch line. Separated them; no injuries.",
        true,
    )?;
    let vandalism = incident(
        &mut olga,
        ids::ADAMS,
        IncidentType::Vandalism,
        "Bus loop",
        t(9, 30)?,
        "Graffiti on the bus shelter, about one square metre.",
        true,
    )?;
    let draft = incident(
        &mut olga,
        ids::LINCOLN,
        IncidentType::Suspicious,
        "North parking lot",
        t(14, 0)?,
        "Car idling by the fence for twenty minutes.",
        false,
    )?;
    for (i, shared) in [vec![ids::SUPERVISOR], vec![]].into_iter().enumerate() {
        olga.store.write_note(
            &NoteInput {
                id: Uuid::now_v7(),
                school_id: ids::LINCOLN,
                student_ref: format!("S-20{i}"),
                student_name: if i == 0 {
                    "Riley Student".into()
                } else {
                    "Casey Private".into()
                },
                contact_type: ContactType::Mentoring,
                reason: "Attendance check-in".into(),
                outcome: "Agreed on a plan with the counselor".into(),
                referral: Referral::Counselor,
                follow_up_on: Some(date + Duration::days(7)),
                classification: Classification::RestrictedLawEnforcement,
                shared_with: shared,
                contacted_at: t(13, 0)?,
            },
            t(13, 10)?,
        )?;
    }
    olga.sync()?;

    // Omar at Baker (not the supervisor's school).
    let mut omar = enroll(base, dir, "omar.sro", "sro-pass-2")?;
    let baker = incident(
        &mut omar,
        ids::BAKER,
        IncidentType::Trespass,
        "Playground",
        t(16, 0)?,
        "Adult on the playground after hours; left when asked.",
        true,
    )?;
    omar.sync()?;
    println!(
        "{}",
        serde_json::json!({
            "shift": shift, "clean_shift": shift2, "fight": fight, "vandalism": vandalism,
            "draft": draft, "baker": baker, "photo": photo,
        })
    );
    Ok(())
}

fn pull(base: &str, dir: &Path, incident: Uuid) -> Res<()> {
    let mut olga = reopen(base, dir, "olga.sro")?;
    olga.sync()?;
    let v = olga.store.incident(incident)?;
    println!(
        "{}",
        serde_json::json!({"status": v.body.status.code(), "review_comment": v.body.review_comment})
    );
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["seed", base, date, dir] => seed(
            base.trim_end_matches('/'),
            NaiveDate::parse_from_str(date, "%Y-%m-%d")?,
            &PathBuf::from(dir),
        ),
        ["pull", base, dir, incident] => {
            pull(base.trim_end_matches('/'), &PathBuf::from(dir), incident.parse()?)
        }
        _ => Err("usage: console_day seed <url> <YYYY-MM-DD> <folder> | pull <url> <folder> <incident id>".into()),
    }
}

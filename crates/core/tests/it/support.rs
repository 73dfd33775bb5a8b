//! Fixtures: a small district, stores in temporary folders, and helpers to make inputs.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rounds_core::entropy::SeededEntropy;
use rounds_core::keyslots::{KdfParams, Secret};
use rounds_core::model::*;
use rounds_core::store::{NewShift, Setup, Store};
use uuid::Uuid;

pub const SCHOOL_A: Uuid = Uuid::from_u128(0xA);
pub const SCHOOL_B: Uuid = Uuid::from_u128(0xB);
pub const POST_A: Uuid = Uuid::from_u128(0xA1);
pub const POST_B: Uuid = Uuid::from_u128(0xB1);
pub const GUARD: Uuid = Uuid::from_u128(0x100);
pub const GUARD_2: Uuid = Uuid::from_u128(0x101);
pub const SRO: Uuid = Uuid::from_u128(0x200);
pub const SRO_2: Uuid = Uuid::from_u128(0x201);
pub const SUPERVISOR: Uuid = Uuid::from_u128(0x300);
pub const SRO_B: Uuid = Uuid::from_u128(0x202);

/// Checkpoint `n` (1-based) of post A.
pub fn checkpoint(n: u128) -> Uuid {
    Uuid::from_u128(0xC00 + n)
}

pub fn t0() -> DateTime<Utc> {
    "2026-11-30T08:00:00Z".parse().expect("time")
}

pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

pub fn secret_of(person: Uuid) -> Secret {
    Secret::new(format!("pin-{}-gate", person.as_u128()))
}

pub fn district() -> ReferenceData {
    let sched = Schedule {
        first_due_minutes: 0,
        interval_minutes: 60,
        grace_minutes: 10,
    };
    let person = |id, name: &str, role, schools: Vec<Uuid>| Person {
        id,
        name: name.into(),
        role,
        schools,
    };
    ReferenceData {
        schools: vec![
            School {
                id: SCHOOL_A,
                name: "Adams High".into(),
            },
            School {
                id: SCHOOL_B,
                name: "Baker Middle".into(),
            },
        ],
        posts: vec![
            Post {
                id: POST_A,
                school_id: SCHOOL_A,
                name: "Adams main building".into(),
                orders: "Check every exterior door each hour.".into(),
            },
            Post {
                id: POST_B,
                school_id: SCHOOL_B,
                name: "Baker gym".into(),
                orders: String::new(),
            },
        ],
        checkpoints: (1..=4)
            .map(|n| Checkpoint {
                id: checkpoint(n),
                post_id: POST_A,
                name: format!("Door {n}"),
                tag_code: format!("A-DOOR-{n}"),
                position: n as u32,
                schedule: sched,
            })
            .chain(std::iter::once(Checkpoint {
                id: Uuid::from_u128(0xCB1),
                post_id: POST_B,
                name: "Gym".into(),
                tag_code: "B-GYM".into(),
                position: 1,
                schedule: sched,
            }))
            .collect(),
        people: vec![
            person(GUARD, "Gia Guard", Role::Guard, vec![SCHOOL_A]),
            person(GUARD_2, "Gus Guard", Role::Guard, vec![SCHOOL_A]),
            person(SRO, "Sam Officer", Role::Sro, vec![SCHOOL_A]),
            person(SRO_2, "Sue Officer", Role::Sro, vec![SCHOOL_A]),
            person(SRO_B, "Bo Officer", Role::Sro, vec![SCHOOL_B]),
            person(
                SUPERVISOR,
                "Val Supervisor",
                Role::Supervisor,
                vec![SCHOOL_A, SCHOOL_B],
            ),
        ],
    }
}

/// A store on a real file in `dir`, unlocked by `person`, holding the district's reference
/// data.
pub fn store_for(dir: &Path, name: &str, device: u128, person: Uuid) -> Store {
    let path = dir.join(name);
    let secret = secret_of(person);
    let mut s = Store::create(
        &path,
        Setup {
            device_id: Uuid::from_u128(0xD000 + device),
            person_id: person,
            secret: &secret,
            kdf: KdfParams::FOR_TESTS,
            signing: &rounds_core::signing::SigningSecret::generate(
                &mut rounds_core::entropy::SeededEntropy::new(person.as_u128() as u64),
            ),
        },
        &mut SeededEntropy::new(device as u64),
    )
    .expect("create store");
    s.replace_reference_data(&district())
        .expect("reference data");
    s
}

pub fn reopen(path: &Path, person: Uuid) -> Store {
    Store::open(path, person, &secret_of(person)).expect("reopen")
}

pub fn db_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

pub fn new_shift(id: u128, minutes: i64) -> NewShift {
    NewShift {
        id: Uuid::from_u128(id),
        post_id: POST_A,
        started_at: at(minutes),
    }
}

pub fn clear_check(id: u128, cp: u128, minutes: i64) -> CheckInput {
    CheckInput {
        id: Uuid::from_u128(id),
        checkpoint_id: checkpoint(cp),
        method: CheckMethod::Tag,
        result: CheckResult::AllClear,
        note: String::new(),
        photos: vec![],
        at: at(minutes),
    }
}

pub fn incident(id: u128, narrative: &str) -> IncidentInput {
    IncidentInput {
        id: Uuid::from_u128(id),
        school_id: SCHOOL_A,
        incident_type: IncidentType::FightAssault,
        location: "Cafeteria".into(),
        occurred_at: at(0),
        people: vec![InvolvedPerson {
            id: Uuid::from_u128(id * 1000 + 1),
            name: "Student One".into(),
            category: PersonCategory::Student,
            involvement: Involvement::Offender,
            juvenile: true,
            reference: Some("S-1001".into()),
        }],
        narrative: narrative.into(),
        actions: "Separated the students.".into(),
        photos: vec![],
    }
}

pub fn note(id: u128, student: &str, follow_up: Option<&str>) -> NoteInput {
    NoteInput {
        id: Uuid::from_u128(id),
        school_id: SCHOOL_A,
        student_ref: student.into(),
        student_name: format!("Student {student}"),
        contact_type: ContactType::Mentoring,
        reason: "Talked about attendance and a conflict at lunch".into(),
        outcome: "Agreed to meet weekly".into(),
        referral: Referral::Counselor,
        follow_up_on: follow_up.map(|d| d.parse().expect("date")),
        classification: Classification::RestrictedLawEnforcement,
        shared_with: vec![],
        contacted_at: at(0),
    }
}

/// Copies every document of `from` into `to`, as a direct device-to-device merge.
pub fn merge_into(from: &mut Store, to: &mut Store) {
    for id in from.document_ids().expect("ids") {
        let header = from.header(id).expect("header");
        let changes = from.all_changes(id).expect("changes");
        assert!(
            to.apply_remote(&header, &changes, false)
                .expect("merge")
                .complete,
            "a whole document always applies"
        );
    }
}

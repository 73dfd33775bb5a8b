//! The demo district: three schools, posts with checkpoints, and a person of every role, with
//! fixed ids and passwords so the README, the demo and the tests can refer to them.
//!
//! | username | password | role | schools |
//! | --- | --- | --- | --- |
//! | `admin` | `admin-pass-1` | admin | all |
//! | `sam.super` | `super-pass-1` | supervisor | Lincoln, Adams |
//! | `gia.guard` | `guard-pass-1` | guard | Lincoln |
//! | `gus.guard` | `guard-pass-2` | guard | Adams |
//! | `olga.sro` | `sro-pass-1` | SRO | Lincoln, Adams |
//! | `omar.sro` | `sro-pass-2` | SRO | Baker |

use chrono::{DateTime, Utc};
use rounds_domain::entropy::Entropy;
use rounds_domain::model::{Checkpoint, Post, Role, Schedule, School};
use uuid::Uuid;

use crate::admin::{self, PersonInput};
use crate::error::ApiResult;
use crate::storage::Storage;

/// Fixed ids of the demo district.
pub mod ids {
    use uuid::Uuid;

    /// Lincoln High School.
    pub const LINCOLN: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_000a);
    /// Adams Middle School.
    pub const ADAMS: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_000b);
    /// Baker Elementary.
    pub const BAKER: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_000c);
    /// Lincoln main building post.
    pub const LINCOLN_MAIN: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00a1);
    /// Adams campus post.
    pub const ADAMS_CAMPUS: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00b1);
    /// Baker grounds post.
    pub const BAKER_GROUNDS: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_00c1);
    /// Administrator.
    pub const ADMIN: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0400);
    /// Supervisor.
    pub const SUPERVISOR: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0300);
    /// Guard at Lincoln.
    pub const GUARD_LINCOLN: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0100);
    /// Guard at Adams.
    pub const GUARD_ADAMS: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0101);
    /// SRO at Lincoln and Adams.
    pub const SRO_OLGA: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0200);
    /// SRO at Baker.
    pub const SRO_OMAR: Uuid = Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0201);

    /// Checkpoint `n` of a post (`post`'s last byte picks the range).
    pub fn checkpoint(post: Uuid, n: u32) -> Uuid {
        Uuid::from_u128(post.as_u128() + 0x1_0000 * u128::from(n))
    }
}

/// Writes the demo district (idempotent: running it again restores the same data), as the
/// server's command line at `at` (each record is an admin change in the audit trail).
pub fn demo_district(
    st: &dyn Storage,
    entropy: &mut dyn Entropy,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    use ids::*;
    let actor = admin::Actor { by: None, at };
    for (id, name) in [
        (LINCOLN, "Lincoln High School"),
        (ADAMS, "Adams Middle School"),
        (BAKER, "Baker Elementary"),
    ] {
        admin::put_school(
            st,
            actor,
            &School {
                id,
                name: name.into(),
            },
        )?;
    }
    let posts = [
        (
            LINCOLN_MAIN,
            LINCOLN,
            "Lincoln main building",
            &[
                "Main entrance",
                "Gym east doors",
                "Boiler room (basement)",
                "Stairwell C roof access",
                "Cafeteria loading dock",
                "Library emergency exit",
            ][..],
        ),
        (
            ADAMS_CAMPUS,
            ADAMS,
            "Adams campus",
            &[
                "Front office doors",
                "Bus loop gate",
                "Science wing",
                "Portable classrooms",
            ][..],
        ),
        (
            BAKER_GROUNDS,
            BAKER,
            "Baker grounds",
            &["Playground gate", "Kitchen door", "Parking lot"][..],
        ),
    ];
    for (post, school, name, checkpoints) in posts {
        admin::put_post(
            st,
            actor,
            &Post {
                id: post,
                school_id: school,
                name: name.into(),
                orders: "Walk the round every hour. Check that every exterior door is locked. \
                         Report unsecured doors and hazards at once."
                    .into(),
            },
        )?;
        for (i, cp) in checkpoints.iter().enumerate() {
            let n = i as u32 + 1;
            admin::put_checkpoint(
                st,
                actor,
                &Checkpoint {
                    id: checkpoint(post, n),
                    post_id: post,
                    name: (*cp).into(),
                    tag_code: format!("{}-{n:02}", &name[..3].to_uppercase()),
                    position: n,
                    schedule: Schedule {
                        first_due_minutes: 0,
                        interval_minutes: 60,
                        grace_minutes: 10,
                    },
                },
            )?;
        }
    }
    /// (id, username, name, role, schools, password)
    type Seeded<'a> = (Uuid, &'a str, &'a str, Role, &'a [Uuid], &'a str);
    let people: [Seeded; 6] = [
        (
            ADMIN,
            "admin",
            "Ada Admin",
            Role::Admin,
            &[],
            "admin-pass-1",
        ),
        (
            SUPERVISOR,
            "sam.super",
            "Sam Supervisor",
            Role::Supervisor,
            &[LINCOLN, ADAMS],
            "super-pass-1",
        ),
        (
            GUARD_LINCOLN,
            "gia.guard",
            "Gia Guard",
            Role::Guard,
            &[LINCOLN],
            "guard-pass-1",
        ),
        (
            GUARD_ADAMS,
            "gus.guard",
            "Gus Guard",
            Role::Guard,
            &[ADAMS],
            "guard-pass-2",
        ),
        (
            SRO_OLGA,
            "olga.sro",
            "Olga Officer",
            Role::Sro,
            &[LINCOLN, ADAMS],
            "sro-pass-1",
        ),
        (
            SRO_OMAR,
            "omar.sro",
            "Omar Officer",
            Role::Sro,
            &[BAKER],
            "sro-pass-2",
        ),
    ];
    for (id, username, name, role, schools, password) in people {
        admin::put_person(
            st,
            actor,
            &PersonInput {
                id,
                username: username.into(),
                name: name.into(),
                role,
                schools: schools.to_vec(),
                password: Some(password.into()),
                active: true,
            },
            entropy,
        )?;
    }
    Ok(())
}

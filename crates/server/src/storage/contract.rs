//! Tests every backend passes, run by each backend's own tests (`sqlite.rs`, `postgres.rs`)
//! on a real database: the throttle's counting and atomicity, sessions ended by a new password.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rounds_domain::model::Role;
use uuid::Uuid;

use super::rows::time;
use super::{Admission, AttemptOutcome, PersonRecord, SessionRecord, Storage, ThrottleKey};

fn t(secs: i64) -> DateTime<Utc> {
    time(1_800_000_000_000 + secs * 1000)
}

fn keys(name: &str) -> Vec<ThrottleKey> {
    vec![
        ThrottleKey {
            key: format!("name:{name}"),
            limit: 5,
        },
        ThrottleKey {
            key: "addr:192.0.2.1".into(),
            limit: 6,
        },
    ]
}

const WINDOW: Duration = Duration::minutes(15);

/// 25 guesses at once against a limit of 5: exactly 5 are admitted.
pub(crate) fn a_parallel_burst_admits_exactly_the_limit(st: Arc<dyn Storage>) {
    let admitted: usize = (0..25u128)
        .map(|i| {
            let st = st.clone();
            std::thread::spawn(move || {
                st.admit_attempt(Uuid::from_u128(i + 1), &keys("gia"), t(0), WINDOW)
                    .expect("admit")
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .filter(|a| *a == Admission::Admitted)
        .count();
    assert_eq!(
        admitted, 5,
        "check and count are one transaction: 25 parallel guesses, 5 admitted"
    );
}

/// Failures count for the window; a success forgives the name's.
pub(crate) fn failures_count_for_the_window_and_a_success_forgives_the_name(st: &dyn Storage) {
    for i in 0..5u128 {
        let a = st
            .admit_attempt(
                Uuid::from_u128(i + 1),
                &keys("gia"),
                t(i as i64 * 60),
                WINDOW,
            )
            .expect("admit");
        assert_eq!(a, Admission::Admitted, "failure {i}");
    }
    let refused = st
        .admit_attempt(Uuid::from_u128(99), &keys("gia"), t(300), WINDOW)
        .expect("admit");
    assert_eq!(
        refused,
        Admission::Refused {
            key: 0,
            retry_after: Duration::minutes(10)
        },
        "the sixth (at 5 min) waits until the oldest failure (at 0 min) is 15 minutes old"
    );
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(100), &keys("gia"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "at 15 min the first failure no longer counts"
    );
    let other = st
        .admit_attempt(Uuid::from_u128(101), &keys("gus"), t(15 * 60), WINDOW)
        .expect("admit");
    assert_eq!(
        other,
        Admission::Admitted,
        "another name has its own counter"
    );
    st.finish_attempt(
        Uuid::from_u128(101),
        AttemptOutcome::Succeeded {
            forgive: &["name:gus".to_string()],
        },
    )
    .expect("finish");
    // 5 attempts count on the network (gia's at 1-4 min and at 15 min; the one at 0 min
    // expired, gus's success is uncounted): one more fits the limit of 6, the next does not.
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(102), &keys("olga"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted
    );
    assert!(
        matches!(
            st.admit_attempt(Uuid::from_u128(103), &keys("omar"), t(15 * 60), WINDOW)
                .expect("admit"),
            Admission::Refused { key: 1, .. }
        ),
        "the network's counter fills with failures of any names"
    );
    st.finish_attempt(Uuid::from_u128(102), AttemptOutcome::NotTried)
        .expect("finish");
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(104), &keys("omar"), t(15 * 60), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "an attempt never tried (server busy) is uncounted"
    );
    st.finish_attempt(
        Uuid::from_u128(104),
        AttemptOutcome::Succeeded {
            forgive: &["name:gia".to_string()],
        },
    )
    .expect("finish");
    assert_eq!(
        st.admit_attempt(Uuid::from_u128(105), &keys("gia"), t(15 * 60 + 1), WINDOW)
            .expect("admit"),
        Admission::Admitted,
        "a success forgives the name's failures"
    );
}

/// Two handles on one database (as two server processes) count the same attempts.
pub(crate) fn two_handles_on_one_database_share_the_counts(a: &dyn Storage, b: &dyn Storage) {
    for i in 0..5u128 {
        let st = if i % 2 == 0 { a } else { b };
        st.admit_attempt(Uuid::from_u128(i + 1), &keys("sam"), t(0), WINDOW)
            .expect("admit");
    }
    assert!(
        matches!(
            a.admit_attempt(Uuid::from_u128(9), &keys("sam"), t(1), WINDOW)
                .expect("admit"),
            Admission::Refused { .. }
        ),
        "as two server processes would: the counts are rows, not memory"
    );
}

fn person(hash: &str, active: bool) -> PersonRecord {
    PersonRecord {
        id: Uuid::from_u128(7),
        username: "pat".into(),
        name: "Pat".into(),
        role: Role::Guard,
        schools: vec![],
        password_hash: hash.into(),
        active,
    }
}

/// A new password or a deactivation ends every session of the person.
pub(crate) fn a_new_password_or_a_deactivation_ends_the_persons_sessions(st: &dyn Storage) {
    let session = SessionRecord {
        person_id: Uuid::from_u128(7),
        device_id: None,
        expires_at: t(3600),
    };
    st.put_person(&person("h1", true)).expect("person");
    st.add_session("s1", &session, t(0)).expect("session");
    st.put_person(&PersonRecord {
        name: "Pat Renamed".into(),
        ..person("h1", true)
    })
    .expect("rename");
    assert!(
        st.session("s1").expect("read").is_some(),
        "a rename keeps the session"
    );
    st.put_person(&person("h2", true)).expect("new password");
    assert!(
        st.session("s1").expect("read").is_none(),
        "a new password ends it"
    );
    st.add_session("s2", &session, t(0)).expect("session");
    st.put_person(&person("h2", false)).expect("deactivate");
    st.put_person(&person("h2", true)).expect("reactivate");
    assert!(
        st.session("s2").expect("read").is_none(),
        "a deactivation ends it for good: reactivating does not bring it back"
    );
}

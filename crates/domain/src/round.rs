//! Where a guard stands on a round: which checkpoint visits are done, due, late or missed.
//!
//! Pure functions over a post's checkpoints, a shift's checks and the time; no I/O.
//!
//! Each checkpoint's [`Schedule`](crate::model::Schedule) gives due times `D_k = start + first_due + k * interval`.
//! Visit *k*'s window runs from `D_k - grace` (from the shift start for the first visit) to
//! `D_{k+1} - grace`; the first check of that checkpoint inside the window counts for it:
//! - on time (`Done`) if it is within `grace` of `D_k`, otherwise `Late`;
//! - with no check yet: `Upcoming` before the window opens, `Due` until `D_k + grace`,
//!   `Overdue` until the window closes, and `Missed` after (or when the shift ended first).
//!
//! Visits are listed up to the end of an ended shift; for an open shift, up to and including
//! the next upcoming one (so the app can say when it is due).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::document::CheckRecord;
use crate::model::Checkpoint;

/// The state of one scheduled visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    /// Not due yet.
    Upcoming,
    /// Due now, within the grace period.
    Due,
    /// Past the grace period, not done yet, still possible (will count as late).
    Overdue,
    /// Done on time.
    Done,
    /// Done, but after the grace period.
    Late,
    /// Not done and its window has closed.
    Missed,
}

/// One scheduled visit of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Its state.
    pub status: VisitStatus,
    /// The check that counted for it.
    pub check_id: Option<Uuid>,
    /// When that check was made.
    pub checked_at: Option<DateTime<Utc>>,
}

/// A checkpoint with its visits for the shift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRound {
    /// The checkpoint.
    pub checkpoint_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its tag code.
    pub tag_code: String,
    /// Its position on the round.
    pub position: u32,
    /// Scheduled visits, oldest first.
    pub visits: Vec<Visit>,
    /// The state that matters now: the most recent visit that is not upcoming, or the first
    /// upcoming one.
    pub status: VisitStatus,
}

/// Counts over a whole round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    /// Visits done on time.
    pub done: u32,
    /// Visits done late.
    pub late: u32,
    /// Visits missed.
    pub missed: u32,
    /// Visits due or overdue now.
    pub due: u32,
}

/// At most this many visits are listed per checkpoint (a 1-minute interval over a day).
const MAX_VISITS: i64 = 1_440;

/// Computes the round: checkpoints in round order, each with its visits.
pub fn round_status(
    checkpoints: &[Checkpoint],
    checks: &[CheckRecord],
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<CheckpointRound> {
    let mut ordered: Vec<&Checkpoint> = checkpoints.iter().collect();
    ordered.sort_by_key(|c| (c.position, c.name.clone()));
    ordered
        .into_iter()
        .map(|cp| checkpoint_round(cp, checks, started_at, ended_at, now))
        .collect()
}

/// Adds up a round's visits.
pub fn summarize(round: &[CheckpointRound]) -> RoundSummary {
    let mut s = RoundSummary::default();
    for v in round.iter().flat_map(|c| &c.visits) {
        match v.status {
            VisitStatus::Done => s.done += 1,
            VisitStatus::Late => s.late += 1,
            VisitStatus::Missed => s.missed += 1,
            VisitStatus::Due | VisitStatus::Overdue => s.due += 1,
            VisitStatus::Upcoming => {}
        }
    }
    s
}

fn checkpoint_round(
    cp: &Checkpoint,
    checks: &[CheckRecord],
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> CheckpointRound {
    let interval = Duration::minutes(i64::from(cp.schedule.interval_minutes.max(1)));
    let grace = Duration::minutes(i64::from(cp.schedule.grace_minutes));
    let first = started_at + Duration::minutes(i64::from(cp.schedule.first_due_minutes));
    // The moment up to which things can still happen on this shift.
    let horizon = match ended_at {
        Some(end) => end.min(now),
        None => now,
    };
    let mut mine: Vec<&CheckRecord> = checks
        .iter()
        .filter(|c| c.check.checkpoint_id == cp.id)
        .collect();
    mine.sort_by_key(|c| (c.check.at, c.check.id));

    let mut visits = Vec::new();
    for k in 0..MAX_VISITS {
        let due = first + interval * (k as i32);
        if ended_at.is_some_and(|end| due >= end) {
            break;
        }
        let open = if k == 0 {
            started_at.min(due - grace)
        } else {
            due - grace
        };
        let close = due + interval - grace;
        let hit = mine
            .iter()
            .find(|c| c.check.at >= open && c.check.at < close);
        let status = match hit {
            Some(c) if c.check.at <= due + grace => VisitStatus::Done,
            Some(_) => VisitStatus::Late,
            // The shift is over: nothing can count for this visit any more.
            None if ended_at.is_some() => VisitStatus::Missed,
            None if horizon < open => VisitStatus::Upcoming,
            None if horizon <= due + grace => VisitStatus::Due,
            None if horizon < close => VisitStatus::Overdue,
            None => VisitStatus::Missed,
        };
        visits.push(Visit {
            due_at: due,
            status,
            check_id: hit.map(|c| c.check.id),
            checked_at: hit.map(|c| c.check.at),
        });
        if status == VisitStatus::Upcoming {
            // The next visit is listed; later ones are not yet interesting.
            break;
        }
    }
    let status = visits
        .iter()
        .rev()
        .find(|v| v.status != VisitStatus::Upcoming)
        .or_else(|| visits.first())
        .map_or(VisitStatus::Upcoming, |v| v.status);
    CheckpointRound {
        checkpoint_id: cp.id,
        name: cp.name.clone(),
        tag_code: cp.tag_code.clone(),
        position: cp.position,
        visits,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckMethod, CheckResult, Schedule};

    fn t(hhmm: &str) -> DateTime<Utc> {
        format!("2026-11-30T{hhmm}:00Z").parse().expect("time")
    }

    fn cp() -> Checkpoint {
        Checkpoint {
            id: Uuid::from_u128(1),
            post_id: Uuid::from_u128(9),
            name: "Gym door".into(),
            tag_code: "GYM-1".into(),
            position: 1,
            // Due at start+0, +60, +120...; 10 minutes grace.
            schedule: Schedule {
                first_due_minutes: 0,
                interval_minutes: 60,
                grace_minutes: 10,
            },
        }
    }

    fn check(n: u128, at: &str) -> CheckRecord {
        CheckRecord {
            check: crate::model::CheckInput {
                id: Uuid::from_u128(100 + n),
                checkpoint_id: Uuid::from_u128(1),
                method: CheckMethod::Tag,
                result: CheckResult::AllClear,
                note: String::new(),
                photos: vec![],
                at: t(at),
            },
            recorded_by: Uuid::nil(),
        }
    }

    fn statuses(checks: &[CheckRecord], ended: Option<&str>, now: &str) -> Vec<VisitStatus> {
        round_status(&[cp()], checks, t("08:00"), ended.map(t), t(now))[0]
            .visits
            .iter()
            .map(|v| v.status)
            .collect()
    }

    use VisitStatus::*;

    #[test]
    fn visits_move_from_due_to_overdue_to_missed_with_the_clock() {
        /// (name, checks, shift end, now, expected visits)
        type Case = (
            &'static str,
            Vec<CheckRecord>,
            Option<&'static str>,
            &'static str,
            Vec<VisitStatus>,
        );
        let cases: Vec<Case> = vec![
            (
                "first visit is due at the start",
                vec![],
                None,
                "08:05",
                vec![Due, Upcoming],
            ),
            (
                "overdue after the grace",
                vec![],
                None,
                "08:20",
                vec![Overdue, Upcoming],
            ),
            (
                "missed once the next window opens",
                vec![],
                None,
                "08:55",
                vec![Missed, Due, Upcoming],
            ),
            (
                "on time within grace",
                vec![check(1, "08:09")],
                None,
                "08:30",
                vec![Done, Upcoming],
            ),
            (
                "late after grace",
                vec![check(1, "08:30")],
                None,
                "08:40",
                vec![Late, Upcoming],
            ),
            (
                "a slightly early check counts for the next visit",
                vec![check(1, "08:02"), check(2, "08:55")],
                None,
                "09:05",
                vec![Done, Done, Upcoming],
            ),
            (
                "the next visit shows as upcoming before its window",
                vec![check(1, "08:02")],
                None,
                "08:45",
                vec![Done, Upcoming],
            ),
            (
                "ending the shift turns open visits into missed",
                vec![check(1, "08:02")],
                Some("09:20"),
                "09:30",
                vec![Done, Missed],
            ),
            (
                "visits due after the end are not listed",
                vec![check(1, "08:02")],
                Some("08:59"),
                "10:00",
                vec![Done],
            ),
        ];
        for (name, checks, ended, now, want) in cases {
            assert_eq!(statuses(&checks, ended, now), want, "{name}");
        }
    }

    #[test]
    fn summary_counts_each_kind() {
        let r = round_status(
            &[cp()],
            &[check(1, "08:30"), check(2, "10:01")],
            t("08:00"),
            None,
            t("10:30"),
        );
        // 08:00 late, 09:00 missed, 10:00 done
        assert_eq!(
            summarize(&r),
            RoundSummary {
                done: 1,
                late: 1,
                missed: 1,
                due: 0
            }
        );
        assert_eq!(
            r[0].status, Done,
            "the latest visit decides the checkpoint's state"
        );
    }
}

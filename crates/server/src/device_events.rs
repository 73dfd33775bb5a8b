//! `POST /v1/device-events`: what a device recorded on its lock screen and around it (unlocks,
//! wrong PINs, lockouts, idle and manual locks; see `rounds_core::events`), sent at its next
//! sync, even when it happened offline. Each event becomes one `device_event` entry of the
//! audit trail, once, however often it is sent ([`crate::storage::AuditStore::record_device_events`]).
//!
//! The device is trusted for nothing but being the device: an event must name a person who
//! has signed in on this device (a key recorded for them on it), and a time between a day
//! before the device was enrolled and a day after the server's clock; anything else is
//! refused, by event, with why (the device then forgets it, so a bad event never blocks the
//! rest). A body of more than [`rounds_protocol::MAX_DEVICE_EVENTS`] events is a 400.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use rounds_protocol::{DeviceEvent, DeviceEventsRequest, DeviceEventsResponse, MAX_DEVICE_EVENTS};
use uuid::Uuid;

use crate::AppState;
use crate::audit::NewEntry;
use crate::auth::DeviceSession;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;

/// Most failed attempts in a row an event may claim.
pub const MAX_FAILURES: u32 = 1_000_000;

/// How far a device's clock may be from the server's (and before its enrollment) for its
/// events' times to be believed.
pub fn clock_slack() -> Duration {
    Duration::days(1)
}

/// Why `e` is not stored, if it is not: `people` are those who have signed in on the device,
/// `enrolled_at` when it was enrolled.
pub fn refusal(
    e: &DeviceEvent,
    people: &HashSet<Uuid>,
    enrolled_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<String> {
    let Some(person) = e.person else {
        return Some("the event names nobody".into());
    };
    if !people.contains(&person) {
        return Some(format!("{person} has not signed in on this device"));
    }
    let Some(at) = chrono::TimeZone::timestamp_millis_opt(&Utc, e.at_ms).single() else {
        return Some("its time is not a time".into());
    };
    if at < enrolled_at - clock_slack() || at > now + clock_slack() {
        return Some(format!(
            "its time {} is before the device was enrolled or after the server's clock",
            at.to_rfc3339()
        ));
    }
    if e.failures > MAX_FAILURES {
        return Some(format!("failures: at most {MAX_FAILURES}"));
    }
    None
}

/// `POST /v1/device-events`.
pub async fn post(
    State(state): State<AppState>,
    session: DeviceSession,
    Body(b): Body,
) -> ApiResult<Response> {
    let req: DeviceEventsRequest = crate::sync::decode(&b)?;
    if req.events.len() > MAX_DEVICE_EVENTS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_DEVICE_EVENTS} events per request"
        )));
    }
    let storage = state.storage.clone();
    let now = state.now();
    let resp = tokio::task::spawn_blocking(move || -> ApiResult<DeviceEventsResponse> {
        let device = session.device_id;
        let enrolled_at = storage
            .device(device)?
            .ok_or_else(|| ApiError::Unauthorized("unknown device".into()))?
            .enrolled_at;
        let people: HashSet<Uuid> = storage
            .signing_keys(device)?
            .into_iter()
            .map(|k| k.person_id)
            .collect();
        let mut resp = DeviceEventsResponse::default();
        let mut accepted = Vec::new();
        for e in &req.events {
            match refusal(e, &people, enrolled_at, now) {
                Some(why) => resp.refused.push((e.id, why)),
                None => {
                    accepted.push((e.id, NewEntry::device_event(now, device, e)));
                    resp.stored.push(e.id);
                }
            }
        }
        storage.record_device_events(device, &accepted)?;
        // A device reporting its wipe is done: it may send nothing more, and its keys go.
        if req.events.iter().any(|e| {
            e.kind == rounds_protocol::DeviceEventKind::Wiped && resp.stored.contains(&e.id)
        }) && storage.pending_wipe(device)?.is_some()
        {
            storage.wipe_done(device, now)?;
        }
        Ok(resp)
    })
    .await??;
    Ok(crate::sync::binary(rounds_protocol::encode(&resp)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rounds_protocol::DeviceEventKind;

    #[test]
    fn an_event_must_name_someone_of_the_device_at_a_believable_time() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let enrolled = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
        let gia = Uuid::from_u128(1);
        let people = HashSet::from([gia]);
        let event = |person, at: DateTime<Utc>, failures| DeviceEvent {
            id: Uuid::from_u128(9),
            kind: DeviceEventKind::UnlockFailed,
            person,
            at_ms: at.timestamp_millis(),
            failures,
        };
        assert_eq!(
            refusal(&event(Some(gia), now, 3), &people, enrolled, now),
            None
        );
        for (bad, why) in [
            (event(None, now, 1), "names nobody"),
            (
                event(Some(Uuid::from_u128(2)), now, 1),
                "has not signed in on this device",
            ),
            (
                event(Some(gia), now + Duration::days(2), 1),
                "after the server's clock",
            ),
            (
                event(Some(gia), enrolled - Duration::days(2), 1),
                "before the device was enrolled",
            ),
            (event(Some(gia), now, MAX_FAILURES + 1), "failures"),
            (
                DeviceEvent {
                    at_ms: i64::MAX,
                    ..event(Some(gia), now, 1)
                },
                "not a time",
            ),
        ] {
            let said = refusal(&bad, &people, enrolled, now).expect("refused");
            assert!(said.contains(why), "{said:?} should say {why:?}");
        }
    }
}

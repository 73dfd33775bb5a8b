//! The one error type that crosses IPC to the UI.
//!
//! It serializes to `{ "kind": ..., "message": ..., "field"?: ..., "retry_at"?: ... }`.
//! `kind` is the closed set in [`Kind`]; the UI branches on it and shows `message` as is
//! (it is written for the person holding the phone), next to `field` when there is one.

use chrono::{DateTime, Utc};
use rounds_core::client::SyncProblem;
use rounds_core::error::Error as CoreError;
use serde::Serialize;

/// What the UI does about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A value is not acceptable: show the message next to `field`. Nothing changed.
    Invalid,
    /// Something referenced does not exist on this device.
    NotFound,
    /// The action does not fit the record's state (a second open shift...).
    Conflict,
    /// This person may not do this.
    Forbidden,
    /// The PIN or passphrase was wrong; `retry_at` is set when attempts are being delayed.
    WrongPin,
    /// Too many wrong attempts: wait until `retry_at`.
    LockedOut,
    /// The app is locked (or locked itself after inactivity): show the unlock screen.
    Locked,
    /// The device is not enrolled yet: show the first-run screen.
    NotSetUp,
    /// The district server could not be reached.
    NoConnection,
    /// The session expired or is unknown: ask for the password again.
    SignInAgain,
    /// The device was revoked by the district.
    Revoked,
    /// The server refused the request (wrong code, wrong password...).
    Refused,
    /// The server failed.
    Server,
    /// The store on this device is damaged; it was not changed.
    Corrupt,
    /// The store was written by a newer app.
    NewerVersion,
    /// Anything else: not the user's fault.
    Internal,
}

/// An error as the UI receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    /// What the UI does about it.
    pub kind: Kind,
    /// What to tell the person.
    pub message: String,
    /// The input field at fault, for [`Kind::Invalid`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// When another attempt is accepted, for [`Kind::WrongPin`] and [`Kind::LockedOut`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// Result alias for commands.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl AppError {
    /// An error with no field and no retry time.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            field: None,
            retry_at: None,
        }
    }

    /// A refused input value.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError {
            field: Some(field.to_string()),
            ..AppError::new(Kind::Invalid, message)
        }
    }

    /// The device has not been set up (enrolled) yet.
    pub fn not_set_up() -> Self {
        AppError::new(Kind::NotSetUp, "This device is not set up yet.")
    }

    /// The app is locked.
    pub fn locked() -> Self {
        AppError::new(Kind::Locked, "Locked. Unlock with your PIN to go on.")
    }

    /// A lower layer failed; logged in full, told in brief.
    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(%e, "{context}");
        AppError::new(
            Kind::Internal,
            format!("Something went wrong while {context}. What was saved before is safe."),
        )
    }
}

impl AppError {
    /// Like `From<CoreError>`, turning an unlock wait (measured on the monotonic clock) into
    /// the time on `now`'s clock at which the screens may try again, rounded up to a second.
    pub(crate) fn from_core_at(e: CoreError, now: DateTime<Utc>) -> AppError {
        let wait = match &e {
            CoreError::Locked { retry_in, .. } => *retry_in,
            CoreError::LockedOut { retry_in, .. } => Some(*retry_in),
            _ => None,
        };
        let mut out = AppError::from(e);
        out.retry_at = wait.map(|w| {
            let secs = w.as_secs() + u64::from(w.subsec_nanos() > 0);
            now + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
        });
        out
    }
}

impl From<CoreError> for AppError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Invalid { field, reason } => AppError {
                message: format!("{}: {reason}", field_label(&field)),
                ..AppError::invalid(&field, "")
            },
            CoreError::NotFound { what, .. } => AppError::new(
                Kind::NotFound,
                format!("That {what} is not on this device."),
            ),
            CoreError::Conflict(m) => AppError::new(Kind::Conflict, capitalise(&m)),
            CoreError::Forbidden(m) => AppError::new(Kind::Forbidden, format!("Not allowed: {m}.")),
            CoreError::HeaderChanged { .. } => AppError::new(
                Kind::Forbidden,
                "Not allowed: that change would alter who or where a record belongs to.",
            ),
            // `retry_at` is filled in by `AppError::from_core_at`, which knows the time.
            CoreError::Locked { .. } => AppError::new(Kind::WrongPin, "Wrong PIN or passphrase."),
            CoreError::LockedOut { .. } => AppError::new(
                Kind::LockedOut,
                "Too many wrong attempts. Wait before trying again.",
            ),
            CoreError::Corrupt { .. } => AppError::new(
                Kind::Corrupt,
                "The records on this device are damaged and were not changed. Ask your supervisor before doing anything else.",
            ),
            CoreError::NewerVersion { .. } => AppError::new(
                Kind::NewerVersion,
                "These records were written by a newer version of Rounds. Update the app.",
            ),
            e @ CoreError::Internal { .. } => AppError::internal("saving", e),
        }
    }
}

impl From<SyncProblem> for AppError {
    fn from(p: SyncProblem) -> Self {
        let kind = match &p {
            SyncProblem::NoConnection(_) => Kind::NoConnection,
            SyncProblem::SignInAgain(_) => Kind::SignInAgain,
            SyncProblem::Revoked | SyncProblem::Wipe { .. } => Kind::Revoked,
            SyncProblem::Refused(_) => Kind::Refused,
            SyncProblem::Server(_) => Kind::Server,
            SyncProblem::Store(_) => Kind::Internal,
        };
        AppError::new(kind, p.to_string())
    }
}

/// `incident.people[0].name` → `Incident people 1 name`: the field path in words.
fn field_label(field: &str) -> String {
    let mut out = String::new();
    for part in field.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&name.replace('_', " "));
        if let Some(i) = index {
            out.push_str(&format!(" {}", i + 1));
        }
    }
    capitalise(&out)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_field_is_named_in_words_and_kept_for_the_form() {
        let e = AppError::from(CoreError::invalid("incident.people[0].name", "is required"));
        assert_eq!(e.kind, Kind::Invalid);
        assert_eq!(e.field.as_deref(), Some("incident.people[0].name"));
        assert_eq!(e.message, "Incident people 1 name: is required");
    }

    #[test]
    fn errors_serialize_to_kind_and_message() {
        let json = serde_json::to_value(AppError::locked()).expect("json");
        assert_eq!(json["kind"], "locked");
        assert!(json.get("field").is_none(), "absent fields are left out");
    }
}

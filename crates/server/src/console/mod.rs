//! The supervisor console: web pages served by the district server for supervisors and
//! administrators (nothing to install), and the daily activity reports.
//!
//! - Sign-in ([`session`]): the same people and passwords as the app; a cookie session
//!   (`HttpOnly`, `SameSite=Strict`, `Path=/console`) that ends after [`session::SESSION_HOURS`]
//!   or [`session::IDLE_MINUTES`] without use, checked on the server. Guards and SROs get a 403
//!   page. Every form carries the session's token and every POST's `Origin` must be this server.
//! - Pages: the day view ([`day`]), incidents with their history and review ([`incidents`]),
//!   contact notes shared with the signed-in supervisor ([`incidents::notes`]), reports
//!   ([`reports`], CSV and [`pdf`]), admin pages over the admin functions ([`admin_pages`]),
//!   and the audit trail's search for admins ([`audit_pages`]).
//! - Authorization is the sync rules: every record shown passes [`crate::access::may_read`],
//!   a review passes [`crate::access::may_write`] and is stored by [`crate::sync::process_push`]
//!   as a change made by the supervisor's console device, so it enters the change feed and
//!   reaches devices at their next sync.
//! - All HTML is built in [`html`], where every interpolated value is escaped. Labels of coded
//!   values come from the vocabularies' `label()` (never the code), counts from
//!   [`locale::count`], dates and times from [`When`] (the district's zone and [`Locale`]).
//! - `/favicon.ico` and `/favicon.svg` answer with the console's SVG icon.

pub mod admin_forms;
pub mod admin_pages;
pub mod admin_views;
pub mod audit_pages;
pub mod day;
pub mod html;
pub mod incident_views;
pub mod incidents;
pub mod locale;
pub mod params;
pub mod pdf;
pub mod photos;
pub mod report_pages;
pub mod reports;
pub mod session;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::AppState;
use crate::error::ApiError;
use crate::storage::StorageError;

pub use locale::Locale;
pub use params::parse_day;
pub use session::ConsoleUser;

/// The console's routes (merged into [`crate::router`]).
pub fn router() -> Router<AppState> {
    use admin_forms::{CheckpointForm, PostForm, SchoolForm};

    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/day") }))
        .route("/console/", get(|| async { Redirect::to("/console/day") }))
        .route("/console/console.css", get(css))
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/day", get(day::page))
        .route("/console/incidents", get(incidents::list))
        .route("/console/incidents/{id}", get(incidents::detail))
        .route("/console/incidents/{id}/review", post(incidents::review))
        .route("/console/incidents/{id}/export", post(incidents::export))
        .route("/console/notes", get(incidents::notes))
        .route("/console/records/{id}/photos/{hash}", get(photos::photo))
        .route("/console/reports", get(report_pages::page))
        .route("/console/reports/daily.csv", get(report_pages::csv))
        .route("/console/reports/daily.pdf", get(report_pages::pdf))
        .route("/console/reports/daily.tar", post(report_pages::export))
        .route("/console/admin", get(admin_pages::page))
        .route("/console/admin/audit", get(audit_pages::page))
        .route("/console/admin/audit.jsonl", get(audit_pages::download))
        .route("/console/admin/disclosures", get(audit_pages::disclosures))
        .route(
            "/console/admin/schools",
            post(admin_pages::add::<SchoolForm>),
        )
        .route(
            "/console/admin/schools/{id}",
            get(admin_pages::record_page::<SchoolForm>).post(admin_pages::edit::<SchoolForm>),
        )
        .route("/console/admin/posts", post(admin_pages::add::<PostForm>))
        .route(
            "/console/admin/posts/{id}",
            get(admin_pages::record_page::<PostForm>).post(admin_pages::edit::<PostForm>),
        )
        .route(
            "/console/admin/checkpoints",
            post(admin_pages::add::<CheckpointForm>),
        )
        .route(
            "/console/admin/checkpoints/{id}",
            get(admin_pages::record_page::<CheckpointForm>)
                .post(admin_pages::edit::<CheckpointForm>),
        )
        .route("/console/admin/people", post(admin_pages::add_person))
        .route(
            "/console/admin/people/{id}",
            get(admin_pages::person_page).post(admin_pages::edit_person),
        )
        .route("/console/admin/codes", post(admin_pages::issue_code))
        .route(
            "/console/admin/devices/{id}/revoke",
            post(admin_pages::revoke),
        )
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("console.css"),
    )
        .into_response()
}

/// The console's icon, an SVG (every browser in use reads one, also at `/favicon.ico`, which
/// browsers ask for whatever the page says).
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_str!("favicon.svg"),
    )
        .into_response()
}

/// An HTML page response with the console's security headers: no caching of records, no
/// framing, nothing but this server's own CSS.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(h);
    r
}

/// Headers every console response carries.
pub fn secure(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// A console failure, answered with an HTML page (or a redirect to sign in).
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// 303 to the sign-in page: no session, or it expired.
    #[error("sign in")]
    SignIn,
    /// 400: a form or query value is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 403: this person may not see or do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such record (or not visible to this person: the same answer).
    #[error("{0}")]
    NotFound(String),
    /// 409: the record is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    /// 429 with `Retry-After`: too many failed sign-ins for this name or network.
    #[error("{message}")]
    TooMany {
        /// What to tell the person.
        message: String,
        /// Seconds until they may try again.
        retry_after_secs: u64,
    },
    /// 503 with `Retry-After: 1`: no password-hash slot came free in time.
    #[error("the server is busy checking other sign-ins; try again in a moment")]
    Busy,
    /// 500: details in the server log only.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = match &self {
            ConsoleError::SignIn => {
                let mut r = Redirect::to("/console/login").into_response();
                secure(r.headers_mut());
                return r;
            }
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::Conflict(_) => StatusCode::CONFLICT,
            ConsoleError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ConsoleError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(d) => {
                tracing::error!(detail = %d, "console internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            r#"<h2>{}</h2><p class="error">{}</p><p><a href="/console/day">Back to the console</a></p>"#,
            html::esc(title),
            html::esc(&self.to_string())
        );
        let retry_after = match &self {
            ConsoleError::TooMany {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ConsoleError::Busy => Some(1),
            _ => None,
        };
        let mut r = html_response(status, html::page(title, None, &body));
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::BadRequest(m) | ApiError::Unprocessable(m) => ConsoleError::BadRequest(m),
            ApiError::Unauthorized(_) => ConsoleError::SignIn,
            ApiError::Revoked | ApiError::Wipe { .. } => ConsoleError::Forbidden("revoked".into()),
            ApiError::Forbidden(m) => ConsoleError::Forbidden(m),
            ApiError::NotFound(m) => ConsoleError::NotFound(m),
            ApiError::Conflict(m) => ConsoleError::Conflict(m),
            ApiError::TooLarge => ConsoleError::BadRequest("too large".into()),
            ApiError::OverLimit(m) | ApiError::Quota(m) | ApiError::UnsupportedType(m) => {
                ConsoleError::BadRequest(m)
            }
            ApiError::Throttled {
                message,
                retry_after_secs,
            } => ConsoleError::TooMany {
                message,
                retry_after_secs,
            },
            ApiError::Busy => ConsoleError::Busy,
            ApiError::Internal(m) => ConsoleError::Internal(m),
        }
    }
}

impl From<StorageError> for ConsoleError {
    fn from(e: StorageError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<rounds_domain::Error> for ConsoleError {
    fn from(e: rounds_domain::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<tokio::task::JoinError> for ConsoleError {
    fn from(e: tokio::task::JoinError) -> Self {
        ConsoleError::Internal(e.to_string())
    }
}

/// Console result.
pub type ConsoleResult<T> = Result<T, ConsoleError>;

/// Runs storage work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ConsoleResult<T> + Send + 'static,
) -> ConsoleResult<T> {
    tokio::task::spawn_blocking(f).await?
}

/// The instant a local day starts in `tz`: its midnight, or (where a DST change skips
/// midnight) the first local time of the day that exists.
pub fn day_start(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    let mut t = midnight;
    while t.date() == d {
        if let Some(start) = tz.from_local_datetime(&t).earliest() {
            return start.with_timezone(&Utc);
        }
        t += Duration::minutes(15);
    }
    midnight.and_utc()
}

/// A local day of the district's zone `tz` as `[start, end)` in UTC (23 or 25 hours long on the
/// days daylight saving time starts or ends).
pub fn day_bounds(d: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = d.succ_opt().unwrap_or(d);
    (day_start(d, tz), day_start(next, tz))
}

/// How the console shows instants: in the district's time zone and locale (see [`locale`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    /// The district's time zone.
    pub tz: Tz,
    /// How dates and times are written.
    pub locale: Locale,
}

impl When {
    /// A clock time in the zone (`2:05 PM` in en-US).
    pub fn time(self, t: DateTime<Utc>) -> String {
        self.locale.time(t, self.tz)
    }

    /// A time with its local date and the zone's abbreviation (`12/01/2026, 2:05 PM CST`).
    pub fn date_time(self, t: DateTime<Utc>) -> String {
        self.locale.date_time(t, self.tz)
    }

    /// A date (`12/01/2026`).
    pub fn date(self, d: NaiveDate) -> String {
        self.locale.date(d)
    }

    /// A date written out for a heading ("Tuesday, December 1, 2026").
    pub fn long_date(self, d: NaiveDate) -> String {
        self.locale.long_date(d)
    }

    /// "Times are in America/Chicago (CST)." for a page of bare clock times.
    pub fn zone_note(self, at: DateTime<Utc>) -> String {
        self.locale.zone_note(self.tz, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn utc_days_are_24_hours_from_utc_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        let (from, to) = day_bounds(d, Tz::UTC);
        assert_eq!(from, at("2026-03-08T00:00:00Z"));
        assert_eq!(to, at("2026-03-09T00:00:00Z"));
    }

    #[test]
    fn day_bounds_follow_local_midnights_across_dst() {
        let tz = chrono_tz::America::Chicago;
        // DST starts 2026-03-08 at 02:00 CST: the day is 23 hours long.
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        let (from, to) = day_bounds(d, tz);
        assert_eq!(from, at("2026-03-08T06:00:00Z"));
        assert_eq!(to, at("2026-03-09T05:00:00Z"));
        assert_eq!(to - from, Duration::hours(23));
        // DST ends 2026-11-01 at 02:00 CDT: the day is 25 hours long.
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        let (from, to) = day_bounds(d, tz);
        assert_eq!(from, at("2026-11-01T05:00:00Z"));
        assert_eq!(to - from, Duration::hours(25));
        // An evening shift at 19:00 Chicago time is on that local day, shown at 19:00.
        let d = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap_or_default();
        let (from, to) = day_bounds(d, tz);
        let start = at("2026-11-30T01:00:00Z");
        assert!(from <= start && start < to);
        let when = When {
            tz,
            locale: Locale::EnUs,
        };
        assert_eq!(when.time(start), "7:00 PM");
        assert_eq!(when.date_time(start), "11/29/2026, 7:00 PM CST");
        assert_eq!(parse_day(None, start, tz).ok(), Some(d));
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_at_its_first_hour() {
        // Havana moves its clocks from 00:00 to 01:00 when DST starts (2026-03-08).
        let tz = chrono_tz::America::Havana;
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        let (from, to) = day_bounds(d, tz);
        assert_eq!(from, at("2026-03-08T05:00:00Z"));
        assert_eq!(to - from, Duration::hours(23));
    }
}

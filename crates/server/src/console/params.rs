//! The console's inputs: extractors whose rejections are the console's error page (never
//! axum's plain-text answers), and the parsing shared by its pages: a record id in a path, an
//! id chosen in a form, a day in a query.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rounds_domain::model::{ReferenceData, School};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::{ConsoleError, ConsoleResult};

/// A submitted form (a 400 page naming what is wrong).
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ConsoleError> {
        let axum::Form(v) = axum::Form::<T>::from_request(req, state)
            .await
            .map_err(|e: FormRejection| ConsoleError::BadRequest(e.body_text()))?;
        Ok(Form(v))
    }
}

/// A query string (a 400 page naming the value that does not parse).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        let axum::extract::Query(v) = axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e: QueryRejection| ConsoleError::BadRequest(e.body_text()))?;
        Ok(Query(v))
    }
}

/// Path parameters as text (a 404 page when they are missing: no such page).
#[derive(Debug, Clone, Default)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        let axum::extract::Path(v) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e: PathRejection| ConsoleError::NotFound(e.body_text()))?;
        Ok(Path(v))
    }
}

/// The record a page's path names by its `{id}` (`/console/incidents/{id}`): anything but a UUID is a
/// record that does not exist, answered with the same 404 page as one this person may not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for RecordId {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ConsoleError> {
        let Path(params) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let id = params.get("id").map(String::as_str).unwrap_or_default();
        Ok(RecordId(path_id(id, "record")?))
    }
}

/// A UUID in a path, naming a `noun`: anything else is one that does not exist (404).
pub fn path_id(s: &str, noun: &str) -> ConsoleResult<Uuid> {
    s.parse()
        .map_err(|_| ConsoleError::NotFound(format!("no such {noun}")))
}

/// An id chosen in a form's `field` (a select): anything else is a 400 asking to choose one.
pub fn form_id(s: &str, field: &str) -> ConsoleResult<Uuid> {
    s.trim()
        .parse()
        .map_err(|_| ConsoleError::BadRequest(format!("{field}: choose one")))
}

/// Parses an optional id from a query or form.
pub fn opt_id(s: Option<&str>, field: &str) -> ConsoleResult<Option<Uuid>> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ConsoleError::BadRequest(format!("{field}: not an id"))),
    }
}

/// The schools of `reference` (those the viewer may see), or just `only` (403 if it is not one of them).
pub fn visible_schools(
    reference: &ReferenceData,
    only: Option<Uuid>,
) -> ConsoleResult<Vec<School>> {
    match only {
        None => Ok(reference.schools.clone()),
        Some(id) => reference
            .schools
            .iter()
            .find(|s| s.id == id)
            .cloned()
            .map(|s| vec![s])
            .ok_or_else(|| ConsoleError::Forbidden("this school is not one of yours".into())),
    }
}

/// A `YYYY-MM-DD` query value (a date in the district's zone `tz`), or today there (by `now`)
/// when absent or empty.
pub fn parse_day(s: Option<&str>, now: DateTime<Utc>, tz: Tz) -> ConsoleResult<NaiveDate> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(now.with_timezone(&tz).date_naive()),
        Some(s) => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| ConsoleError::BadRequest(format!("date: {s:?} is not YYYY-MM-DD")))?;
            // Records are from 2000 on (inputs refuse earlier times); chrono's own range ends
            // at year 262,143, where the page's "next day" would overflow.
            if !(2000..=9999).contains(&chrono::Datelike::year(&d)) {
                return Err(ConsoleError::BadRequest(format!(
                    "date: {s:?} is not between the years 2000 and 9999"
                )));
            }
            Ok(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_are_missing_records_and_ids_in_forms_are_choices() {
        assert!(matches!(
            path_id("not-a-uuid", "record"),
            Err(ConsoleError::NotFound(m)) if m == "no such record"
        ));
        assert!(matches!(
            form_id(" ", "school"),
            Err(ConsoleError::BadRequest(m)) if m == "school: choose one"
        ));
        let id = Uuid::from_u128(7);
        assert_eq!(form_id(&format!(" {id} "), "school").ok(), Some(id));
        assert_eq!(path_id(&id.to_string(), "record").ok(), Some(id));
    }

    #[test]
    fn a_day_is_today_in_the_zone_unless_given_and_within_the_years_kept() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T03:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let chicago = chrono_tz::America::Chicago;
        assert_eq!(
            parse_day(None, now, chicago).ok(),
            NaiveDate::from_ymd_opt(2026, 12, 1),
            "9 PM in Chicago is still December 1st there"
        );
        assert_eq!(
            parse_day(Some("2026-11-30"), now, chicago).ok(),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert!(parse_day(Some("30/11/2026"), now, chicago).is_err());
        assert!(parse_day(Some("1999-12-31"), now, chicago).is_err());
    }
}

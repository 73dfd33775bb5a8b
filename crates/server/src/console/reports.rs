//! The daily activity report, per school or for the whole district (the schools the viewer
//! may see), as CSV and as a printable PDF.
//!
//! For each school: shifts, checks, visits on time / late / missed against the schedules,
//! checks that found a problem, and the incidents that occurred that day counted by the
//! categories schools report ([`IncidentType::reporting_category`]); then a total row, and in
//! the PDF the shifts with exceptions. Built from the same [`super::day::load_day`] as the day
//! view, so the two always agree.
//!
//! CSV follows RFC 4180 (fields with a comma, quote or line break are quoted, quotes doubled;
//! CRLF line ends), and text fields starting with `=`, `+`, `-` or `@` get a leading `'` so a
//! spreadsheet does not run them as formulas.

use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rounds_core::model::{IncidentType, ReferenceData, Role};
use serde::Deserialize;
use uuid::Uuid;

use super::day::{SchoolDay, load_day, opt_id, visible_schools};
use super::html::{self, esc, url_param};
use super::pdf::{MARGIN, Pdf, fit};
use super::{
    ConsoleError, ConsoleResult, ConsoleUser, blocking, day_bounds, hm, html_response, ymd_hm,
};
use crate::AppState;
use crate::access::{self, Viewer};
use crate::storage::Storage;
use crate::storage::console::{ConsoleDb, IncidentFilter};

/// The reporting categories, in taxonomy order, each once.
pub fn categories() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for t in IncidentType::ALL {
        let c = t.reporting_category();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// One school's line of the report (or the total).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportLine {
    /// School name (or "Total").
    pub school: String,
    /// Shifts started that day.
    pub shifts: u32,
    /// Checks recorded.
    pub checks: u32,
    /// Visits on time.
    pub on_time: u32,
    /// Visits late.
    pub late: u32,
    /// Visits missed.
    pub missed: u32,
    /// Checks that found a problem.
    pub problems: u32,
    /// Incidents that occurred that day.
    pub incidents: u32,
    /// Incidents by reporting category, in [`categories`] order.
    pub by_category: Vec<u32>,
}

impl ReportLine {
    fn add(&mut self, o: &ReportLine) {
        self.shifts += o.shifts;
        self.checks += o.checks;
        self.on_time += o.on_time;
        self.late += o.late;
        self.missed += o.missed;
        self.problems += o.problems;
        self.incidents += o.incidents;
        for (a, b) in self.by_category.iter_mut().zip(&o.by_category) {
            *a += b;
        }
    }
}

/// A whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// The day.
    pub date: NaiveDate,
    /// What it covers: the school's name, "District" for an administrator's whole district,
    /// or the supervisor's schools.
    pub scope: String,
    /// One line per school.
    pub lines: Vec<ReportLine>,
    /// The total.
    pub total: ReportLine,
    /// The day's shifts by school (for the exceptions list).
    pub days: Vec<SchoolDay>,
    /// When it was made.
    pub made_at: DateTime<Utc>,
    /// The district's time zone: the day runs from its midnight to the next, and its times
    /// are shown there.
    pub tz: Tz,
}

/// Builds the report of `date` (a local day of `tz`) for `school` (or every school `v` may see).
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per export, and the benchmark"
)]
pub fn build(
    storage: &dyn Storage,
    db: &ConsoleDb,
    v: &Viewer,
    reference: &ReferenceData,
    school: Option<Uuid>,
    date: NaiveDate,
    tz: Tz,
    now: DateTime<Utc>,
) -> ConsoleResult<Report> {
    let schools = visible_schools(reference, school)?;
    let days = load_day(storage, db, v, reference, &schools, date, tz, now, false)?;
    let cats = categories();
    let (from, to) = day_bounds(date, tz);
    let incidents = db.incidents(&IncidentFilter {
        schools: Some(schools.iter().map(|s| s.id).collect()),
        from: Some(from),
        to: Some(to),
        limit: usize::MAX,
        ..IncidentFilter::default()
    })?;
    let mut lines = Vec::with_capacity(days.len());
    let mut total = ReportLine {
        school: "Total".into(),
        by_category: vec![0; cats.len()],
        ..ReportLine::default()
    };
    for d in &days {
        let mut l = ReportLine {
            school: d.school.name.clone(),
            shifts: d.shifts.len() as u32,
            by_category: vec![0; cats.len()],
            ..ReportLine::default()
        };
        for s in &d.shifts {
            l.checks += s.checks as u32;
            l.on_time += s.summary.done;
            l.late += s.summary.late;
            l.missed += s.summary.missed;
            l.problems += s.problems.len() as u32;
        }
        for i in incidents
            .iter()
            .filter(|i| i.header.school_id == d.school.id)
            .filter(|i| access::may_read(v, &i.header, &[]))
        {
            let t = IncidentType::parse(&i.incident_type, "type").unwrap_or(IncidentType::Other);
            if let Some(k) = cats.iter().position(|c| *c == t.reporting_category()) {
                l.by_category[k] += 1;
            }
            l.incidents += 1;
        }
        total.add(&l);
        lines.push(l);
    }
    let scope = match (school, schools.as_slice()) {
        (Some(_), [s]) => s.name.clone(),
        _ if v.role == Role::Admin => "District".into(),
        (_, few) if few.len() <= 3 => few
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        (_, many) => format!("{} schools", many.len()),
    };
    Ok(Report {
        date,
        scope,
        lines,
        total,
        days,
        made_at: now,
        tz,
    })
}

/// One CSV field, quoted when needed.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The report as CSV: a header row, one row per school, a total row.
pub fn to_csv(r: &Report) -> String {
    let mut out = String::new();
    let mut head: Vec<String> = [
        "date",
        "school",
        "shifts",
        "checks",
        "visits_on_time",
        "visits_late",
        "visits_missed",
        "problems_found",
        "incidents",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(categories().iter().map(|c| csv_field(c)));
    out.push_str(&head.join(","));
    out.push_str("\r\n");
    for l in r.lines.iter().chain(std::iter::once(&r.total)) {
        let mut row = vec![r.date.to_string(), csv_field(&l.school)];
        row.extend(counts(l));
        row.extend(l.by_category.iter().map(u32::to_string));
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

const COLS: [(f32, &str); 8] = [
    (MARGIN, "School"),
    (250.0, "Shifts"),
    (290.0, "Checks"),
    (335.0, "On time"),
    (385.0, "Late"),
    (420.0, "Missed"),
    (465.0, "Problems"),
    (515.0, "Incidents"),
];

/// A line's counts in column order, shared by the CSV and the PDF.
fn counts(l: &ReportLine) -> [String; 7] {
    [
        l.shifts,
        l.checks,
        l.on_time,
        l.late,
        l.missed,
        l.problems,
        l.incidents,
    ]
    .map(|n| n.to_string())
}

fn line_cells(l: &ReportLine) -> [String; 8] {
    let [a, b, c, d, e, f, g] = counts(l);
    [fit(&l.school, 195.0, 9.0), a, b, c, d, e, f, g]
}

/// The report as a printable PDF.
pub fn to_pdf(r: &Report) -> Vec<u8> {
    let title = format!("Daily activity report - {} - {}", r.scope, r.date);
    let mut p = Pdf::new(&title);
    // The date on the first line and the scope below it, wrapped: three school names do not
    // fit beside the title at this size.
    p.row(
        &[(MARGIN, &format!("Daily activity report - {}", r.date))],
        16.0,
        true,
    );
    p.paragraph(&r.scope, 12.0);
    p.row(
        &[(
            MARGIN,
            &format!(
                "Made {} by the Rounds district server. Times are in {}. Visits are checked against each post's schedule.",
                ymd_hm(r.made_at, r.tz),
                r.tz.name()
            ),
        )],
        8.5,
        false,
    );
    p.gap(8.0);
    p.row(&[(MARGIN, "Patrols and incidents by school")], 12.0, true);
    let head: Vec<(f32, &str)> = COLS.to_vec();
    p.row(&head, 9.0, true);
    p.rule();
    p.repeat_header(Some((&head, 9.0)));
    for l in &r.lines {
        let cells = line_cells(l);
        let row: Vec<(f32, &str)> = COLS
            .iter()
            .zip(cells.iter())
            .map(|((x, _), c)| (*x, c.as_str()))
            .collect();
        p.row(&row, 9.0, false);
    }
    p.repeat_header(None);
    p.rule();
    let cells = line_cells(&r.total);
    let row: Vec<(f32, &str)> = COLS
        .iter()
        .zip(cells.iter())
        .map(|((x, _), c)| (*x, c.as_str()))
        .collect();
    p.row(&row, 9.0, true);
    p.gap(12.0);
    p.row(&[(MARGIN, "Incidents by reporting category")], 12.0, true);
    p.row(&[(MARGIN, "Category"), (400.0, "Incidents")], 9.0, true);
    p.rule();
    for (c, n) in categories().iter().zip(&r.total.by_category) {
        p.row(&[(MARGIN, c), (400.0, &n.to_string())], 9.0, false);
    }
    p.gap(12.0);
    p.row(&[(MARGIN, "Shifts with exceptions")], 12.0, true);
    let mut any = false;
    for d in &r.days {
        let ex: Vec<_> = d.shifts.iter().filter(|s| s.is_exception()).collect();
        if ex.is_empty() {
            continue;
        }
        any = true;
        p.need(40.0);
        p.row(&[(MARGIN, &d.school.name)], 10.0, true);
        for s in ex {
            let end = s
                .row
                .ended_at
                .map(|t| hm(t, r.tz))
                .unwrap_or_else(|| "open".into());
            let what = format!(
                "{} missed, {} late, {} problem(s)",
                s.summary.missed,
                s.summary.late,
                s.problems.len()
            );
            p.row(
                &[
                    (MARGIN + 10.0, &fit(&s.guard, 120.0, 9.0)),
                    (180.0, &fit(&s.post, 150.0, 9.0)),
                    (340.0, &format!("{}-{}", hm(s.row.started_at, r.tz), end)),
                    (400.0, &what),
                ],
                9.0,
                false,
            );
            for (at, cp, result, note) in s.problems.iter().take(5) {
                p.row(
                    &[(
                        MARGIN + 24.0,
                        &fit(
                            &format!("{} {cp}: {result}. {note}", hm(*at, r.tz)),
                            480.0,
                            8.5,
                        ),
                    )],
                    8.5,
                    false,
                );
            }
        }
    }
    if !any {
        p.row(
            &[(MARGIN, "None: every visit on time, nothing found.")],
            9.0,
            false,
        );
    }
    p.finish()
}

/// Query of the reports.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// School id (empty: all of the viewer's schools).
    pub school: Option<String>,
}

async fn report_for(
    state: &AppState,
    user: ConsoleUser,
    q: ReportQuery,
) -> ConsoleResult<(Report, ConsoleUser)> {
    let now = state.now();
    let tz = state.time_zone();
    let date = super::parse_day(q.date.as_deref(), now, tz)?;
    let school = opt_id(q.school.as_deref(), "school")?;
    let storage = state.storage.clone();
    blocking(move || {
        let v = user.viewer();
        let reference = storage.reference_for(&v)?;
        let r = build(
            storage.as_ref(),
            &user.db,
            &v,
            &reference,
            school,
            date,
            tz,
            now,
        )?;
        Ok((r, user))
    })
    .await
}

fn file_name(r: &Report, ext: &str) -> String {
    let scope: String = r
        .scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("rounds-daily-{}-{}.{ext}", scope.trim_matches('-'), r.date)
}

fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> ConsoleResult<Response> {
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .map_err(|e| ConsoleError::Internal(e.to_string()))?,
    );
    super::secure(h);
    Ok(resp)
}

type Q = Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>;

/// `GET /console/reports/daily.csv?date=&school=`.
pub async fn csv(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Q,
) -> ConsoleResult<Response> {
    let Query(q) = q.map_err(|e| ConsoleError::BadRequest(e.body_text()))?;
    let (r, _) = report_for(&state, user, q).await?;
    download(
        to_csv(&r).into_bytes(),
        "text/csv; charset=utf-8",
        &file_name(&r, "csv"),
    )
}

/// `GET /console/reports/daily.pdf?date=&school=`.
pub async fn pdf(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Q,
) -> ConsoleResult<Response> {
    let Query(q) = q.map_err(|e| ConsoleError::BadRequest(e.body_text()))?;
    let (r, _) = report_for(&state, user, q).await?;
    let bytes = blocking(move || Ok((to_pdf(&r), file_name(&r, "pdf")))).await?;
    download(bytes.0, "application/pdf", &bytes.1)
}

/// `GET /console/reports`: the report on screen, with its downloads.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Q,
) -> ConsoleResult<Response> {
    let Query(q) = q.map_err(|e| ConsoleError::BadRequest(e.body_text()))?;
    let school = q.school.clone().unwrap_or_default();
    let (r, user) = report_for(&state, user, q).await?;
    let storage = state.storage.clone();
    let v = user.viewer();
    let reference = blocking(move || Ok(storage.reference_for(&v)?)).await?;
    let mut opts = vec![(String::new(), "All my schools".to_string())];
    opts.extend(
        reference
            .schools
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
    );
    let query = format!(
        "date={}&amp;school={}",
        url_param(&r.date.to_string()),
        url_param(school.trim())
    );
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h2>Daily activity report: {} — {}</h2><form method="get" action="/console/reports" class="filters">
<label>Date <input type="date" name="date" value="{}"></label>
<label>School <select name="school">{}</select></label><button type="submit">Show</button></form>
<p class="downloads"><a id="csv" href="/console/reports/daily.csv?{query}">Download CSV</a> <a id="pdf" href="/console/reports/daily.pdf?{query}">Download PDF</a></p>
<table class="report"><thead><tr><th>School</th><th>Shifts</th><th>Checks</th><th>On time</th><th>Late</th><th>Missed</th><th>Problems</th><th>Incidents</th></tr></thead><tbody>"#,
        esc(&r.scope),
        r.date,
        r.date,
        html::options(
            opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            school.trim()
        ),
    );
    for l in r.lines.iter().chain(std::iter::once(&r.total)) {
        let _ = write!(
            b,
            r#"<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td class="{}">{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            if std::ptr::eq(l, &r.total) {
                r#" class="total""#
            } else {
                ""
            },
            esc(&l.school),
            l.shifts,
            l.checks,
            l.on_time,
            if l.late > 0 { "late" } else { "" },
            l.late,
            if l.missed > 0 { "missed" } else { "" },
            l.missed,
            if l.problems > 0 { "problem" } else { "" },
            l.problems,
            l.incidents
        );
    }
    b.push_str("</tbody></table><h3>Incidents by reporting category</h3><table class=\"report\"><thead><tr><th>Category</th><th>Incidents</th></tr></thead><tbody>");
    for (c, n) in categories().iter().zip(&r.total.by_category) {
        let _ = write!(b, "<tr><td>{}</td><td>{n}</td></tr>", esc(c));
    }
    b.push_str("</tbody></table>");
    Ok(html_response(
        StatusCode::OK,
        html::page("Reports", Some(&user.chrome()), &b),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Lincoln High"), "Lincoln High");
        assert_eq!(csv_field("Adams, East"), "\"Adams, East\"");
        assert_eq!(csv_field("the \"old\" gym"), "\"the \"\"old\"\" gym\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn every_incident_type_has_a_category_column() {
        let cats = categories();
        for t in IncidentType::ALL {
            assert!(cats.contains(&t.reporting_category()), "{t} is counted");
        }
    }
}

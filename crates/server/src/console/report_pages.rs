//! The reports over HTTP: `GET /console/reports` shows the daily activity report on screen
//! with its filters and downloads; `daily.csv` and `daily.pdf` download it, and a POST of
//! `daily.tar` downloads its verifiable export ([`crate::evidence::day`]). Each loads one
//! [`Report`] with [`super::reports::build`]; the page is the pure [`render_page`] of a
//! [`ReportPageView`], the downloads [`to_csv`] and [`to_pdf`] of the same value.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rounds_domain::model::School;
use serde::Deserialize;

use super::html::{self, esc, url_param};
use super::params::{Query, opt_id};
use super::reports::{Report, build, categories, to_csv, to_pdf};
use super::{ConsoleError, ConsoleResult, ConsoleUser, blocking, html_response};
use crate::AppState;

/// Query of the reports.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// School id (empty: all of the viewer's schools).
    pub school: Option<String>,
}

/// What the reports page shows: the report and the schools the viewer may pick from.
#[derive(Debug, Clone)]
pub struct ReportPageView {
    /// The report.
    pub report: Report,
    /// The schools the viewer may see, for the school picker.
    pub schools: Vec<School>,
    /// The school picked, as it was asked for (empty: all).
    pub school: String,
}

/// Loads the report for the query, with the schools the viewer may pick from.
async fn load(
    state: &AppState,
    user: &ConsoleUser,
    q: ReportQuery,
) -> ConsoleResult<ReportPageView> {
    let now = state.now();
    let when = state.when();
    let date = super::parse_day(q.date.as_deref(), now, when.tz)?;
    let school = opt_id(q.school.as_deref(), "school")?;
    let storage = state.storage.clone();
    let v = user.viewer();
    let picked = q.school.unwrap_or_default().trim().to_string();
    blocking(move || {
        let reference = storage.reference_for(&v)?;
        let report = build(storage.as_ref(), &v, &reference, school, date, when, now)?;
        Ok(ReportPageView {
            report,
            schools: reference.schools,
            school: picked,
        })
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

/// A file download: `body` as `content_type`, saved as `name`, with the console's headers.
pub fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> ConsoleResult<Response> {
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

type Q = Query<ReportQuery>;

/// `GET /console/reports/daily.csv?date=&school=`.
pub async fn csv(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Q,
) -> ConsoleResult<Response> {
    let r = load(&state, &user, q).await?.report;
    let r = recorded(&state, &user, r, "csv").await?;
    download(
        to_csv(&r).into_bytes(),
        "text/csv; charset=utf-8",
        &file_name(&r, "csv"),
    )
}

/// Records that `user` is downloading `report` as `format` (an `exported` entry naming every
/// record it counts) before the download is sent.
async fn recorded(
    state: &AppState,
    user: &ConsoleUser,
    report: Report,
    format: &'static str,
) -> ConsoleResult<Report> {
    let storage = state.storage.clone();
    let (now, person) = (state.now(), user.person.id);
    blocking(move || {
        storage.append_audit(&[crate::audit::NewEntry::report_downloaded(
            now,
            person,
            report.date,
            &crate::evidence::day::record_ids(&report),
            format,
        )])?;
        Ok(report)
    })
    .await
}

/// `GET /console/reports/daily.pdf?date=&school=`.
pub async fn pdf(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Q,
) -> ConsoleResult<Response> {
    let r = load(&state, &user, q).await?.report;
    let fonts = state
        .fonts()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let r = recorded(&state, &user, r, "pdf").await?;
    let (pdf, name) = blocking(move || {
        let pdf = to_pdf(&r, &fonts).map_err(|e| ConsoleError::Internal(e.to_string()))?;
        Ok((pdf, file_name(&r, "pdf")))
    })
    .await?;
    download(pdf, "application/pdf", &name)
}

/// `POST /console/reports/daily.tar` (the form's `date` and `school`, with the session's
/// token: it writes to the audit trail): the report's verifiable export, signed with the
/// district's console key, recorded (`exported`, with every record it holds) before it is
/// sent.
pub async fn export(
    State(state): State<AppState>,
    user: ConsoleUser,
    super::session::CsrfForm(q): super::session::CsrfForm<ReportQuery>,
) -> ConsoleResult<Response> {
    let school = opt_id(q.school.as_deref(), "school")?;
    let r = load(&state, &user, q).await?.report;
    let fonts = state
        .fonts()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    let key = state.console_key();
    let now = state.now();
    let storage = state.storage.clone();
    let (bytes, name) = blocking(move || {
        let made = crate::evidence::day::export_day(
            storage.as_ref(),
            &r,
            school,
            &key,
            &fonts,
            Some(user.person.id),
            now,
        )
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
        storage.append_audit(&[crate::audit::NewEntry::exported_day(
            now,
            Some(user.person.id),
            r.date,
            &crate::evidence::day::record_ids(&r),
            &made.manifest_sha256,
            "console",
        )])?;
        Ok((made.bytes, file_name(&r, "rounds.tar")))
    })
    .await?;
    download(bytes, "application/x-tar", &name)
}

/// `GET /console/reports`: the report on screen, with its downloads.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Q,
) -> ConsoleResult<Response> {
    let view = load(&state, &user, q).await?;
    Ok(html_response(
        StatusCode::OK,
        html::page(
            "Reports",
            Some(&user.chrome()),
            &render_page(&view, &user.csrf),
        ),
    ))
}

/// The reports page's HTML body, from its view (and the session's form token, for the
/// export's form).
pub fn render_page(view: &ReportPageView, csrf: &str) -> String {
    let r = &view.report;
    let mut opts = vec![(String::new(), "All my schools".to_string())];
    opts.extend(
        view.schools
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
    );
    let query = format!(
        "date={}&amp;school={}",
        url_param(&r.date.to_string()),
        url_param(&view.school)
    );
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h2>Daily activity report: {} — {}</h2><p class="hint">{}</p><form method="get" action="/console/reports" class="filters">
<label>Date <input type="date" name="date" value="{}"></label>
<label>School <select name="school">{}</select></label><button type="submit">Show</button></form>
<p class="downloads"><a id="csv" href="/console/reports/daily.csv?{query}">Download CSV</a> <a id="pdf" href="/console/reports/daily.pdf?{query}">Download PDF</a></p>
<form method="post" action="/console/reports/daily.tar" class="inline-form">{}<input type="hidden" name="date" value="{}"><input type="hidden" name="school" value="{}"><button type="submit" class="secondary">Download verifiable export</button> <span class="hint">The report with every shift and incident it counts, each change signed by its maker. Anyone can check it with <code>rounds-server verify</code>. The download is recorded in the audit trail.</span></form>
<table class="report"><thead><tr><th>School</th><th>Shifts</th><th>Checks</th><th>On time</th><th>Late</th><th>Missed</th><th>Problems</th><th>Incidents</th></tr></thead><tbody>"#,
        esc(&r.scope),
        esc(&r.when.long_date(r.date)),
        esc(&format!(
            "Made {}. Visits are checked against each post's schedule.",
            r.when.date_time(r.made_at)
        )),
        r.date,
        html::options(
            opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            &view.school
        ),
        html::csrf_field(csrf),
        r.date,
        esc(&view.school),
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
    b
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::console::reports::ReportLine;
    use crate::console::{Locale, When};

    fn line(school: &str, late: u32, missed: u32) -> ReportLine {
        ReportLine {
            school: school.into(),
            shifts: 2,
            checks: 30,
            on_time: 28,
            late,
            missed,
            problems: 0,
            incidents: 1,
            by_category: categories()
                .iter()
                .enumerate()
                .map(|(i, _)| u32::from(i == 0))
                .collect(),
        }
    }

    fn view() -> ReportPageView {
        let lincoln = School {
            id: Uuid::from_u128(1),
            name: "Lincoln <High>".into(),
        };
        let mut total = line("Total", 1, 0);
        total.shifts = 4;
        ReportPageView {
            report: Report {
                date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
                scope: "Lincoln <High>".into(),
                lines: vec![line("Lincoln <High>", 1, 0)],
                total,
                days: vec![],
                incidents: vec![],
                made_at: Utc
                    .with_ymd_and_hms(2026, 12, 2, 7, 0, 0)
                    .single()
                    .unwrap_or_default(),
                when: When {
                    tz: chrono_tz::Tz::UTC,
                    locale: Locale::EnUs,
                },
            },
            schools: vec![lincoln],
            school: Uuid::from_u128(1).to_string(),
        }
    }

    #[test]
    fn the_page_shows_each_school_the_total_and_downloads_of_the_same_report() {
        let html = render_page(&view(), "tok");
        assert!(
            html.contains(
                "<h2>Daily activity report: Lincoln &lt;High&gt; — Tuesday, December 1, 2026</h2>"
            ),
            "{html}"
        );
        let q = format!("date=2026-12-01&amp;school={}", Uuid::from_u128(1));
        assert!(
            html.contains(&format!(r#"href="/console/reports/daily.csv?{q}""#)),
            "{html}"
        );
        assert!(html.contains(&format!(r#"href="/console/reports/daily.pdf?{q}""#)));
        assert!(
            html.contains(&format!(
                r#"<form method="post" action="/console/reports/daily.tar" class="inline-form"><input type="hidden" name="csrf" value="tok"><input type="hidden" name="date" value="2026-12-01"><input type="hidden" name="school" value="{}">"#,
                Uuid::from_u128(1)
            )),
            "the export's form carries the session's token and the report on screen: {html}"
        );
        assert!(
            html.contains(r#"<td class="late">1</td>"#),
            "late visits stand out"
        );
        assert!(
            html.contains(r#"<tr class="total"><td>Total</td><td>4</td>"#),
            "{html}"
        );
        assert!(html.contains(&format!(
            r#"<option value="{}" selected>"#,
            Uuid::from_u128(1)
        )));
        let first = categories()[0];
        assert!(html.contains(&format!("<tr><td>{}</td><td>1</td></tr>", esc(first))));
    }

    #[test]
    fn a_district_report_picks_all_schools() {
        let mut v = view();
        v.school = String::new();
        let html = render_page(&v, "tok");
        assert!(
            html.contains(r#"<option value="" selected>All my schools</option>"#),
            "{html}"
        );
        assert!(html.contains("school=\""), "{html}");
    }
}

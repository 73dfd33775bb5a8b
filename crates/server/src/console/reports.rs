//! The daily activity report, per school or for the whole district (the schools the viewer
//! may see), as CSV and as a printable PDF.
//!
//! For each school: shifts, checks, visits on time / late / missed against the schedules,
//! checks that found a problem, and the incidents that occurred that day counted by the
//! categories schools report ([`IncidentType::reporting_category`]); then a total row, and in
//! the PDF the shifts with exceptions. Built from the same [`super::day::load_day`] as the day
//! view, so the two always agree.
//!
//! The HTTP side (the page and the downloads) is [`super::report_pages`].
//!
//! CSV follows RFC 4180 (fields with a comma, quote or line break are quoted, quotes doubled;
//! CRLF line ends), and text fields starting with `=`, `+`, `-` or `@` get a leading `'` so a
//! spreadsheet does not run them as formulas.

use chrono::{DateTime, NaiveDate, Utc};
use rounds_domain::model::{IncidentType, ReferenceData, Role};
use uuid::Uuid;

use super::day::{SchoolDay, load_day};
use super::locale::count;
use super::params::visible_schools;
use super::pdf::{Cell, MARGIN, Pdf, PdfError, ReportFonts, TEXT_WIDTH, WIDTH};
use super::{ConsoleResult, When, day_bounds};
use crate::access::{self, Viewer};
use crate::storage::Storage;
use crate::storage::console::IncidentFilter;

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
    /// The incidents it counts (their headers), for the day's verifiable export.
    pub incidents: Vec<rounds_domain::document::Header>,
    /// When it was made.
    pub made_at: DateTime<Utc>,
    /// The district's time zone and locale: the day runs from the zone's midnight to the
    /// next, and times are shown there, written the locale's way.
    pub when: When,
}

/// Builds the report of `date` (a local day of `when.tz`) for `school` (or every school `v` may see).
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per export, and the benchmark"
)]
pub fn build(
    storage: &dyn Storage,
    v: &Viewer,
    reference: &ReferenceData,
    school: Option<Uuid>,
    date: NaiveDate,
    when: When,
    now: DateTime<Utc>,
) -> ConsoleResult<Report> {
    let tz = when.tz;
    let schools = visible_schools(reference, school)?;
    let days = load_day(storage, v, reference, &schools, date, tz, now, false)?;
    let cats = categories();
    let (from, to) = day_bounds(date, tz);
    let incidents = storage.incidents(&IncidentFilter {
        schools: Some(schools.iter().map(|s| s.id).collect()),
        from: Some(from),
        to: Some(to),
        limit: usize::MAX,
        ..IncidentFilter::default()
    })?;
    let mut lines = Vec::with_capacity(days.len());
    let mut counted = Vec::new();
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
            let category = i.incident_type.reporting_category();
            if let Some(k) = cats.iter().position(|c| *c == category) {
                l.by_category[k] += 1;
            }
            l.incidents += 1;
            counted.push(i.header.clone());
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
        incidents: counted,
        made_at: now,
        when,
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

/// The report as CSV: a header row (column names in words, as the PDF has them), one row per
/// school, a total row. The date stays ISO `YYYY-MM-DD`, which every spreadsheet reads the
/// same whatever its locale.
pub fn to_csv(r: &Report) -> String {
    let mut out = String::new();
    let mut head: Vec<String> = [
        "Date",
        "School",
        "Shifts",
        "Checks",
        "Visits on time",
        "Visits late",
        "Visits missed",
        "Problems found",
        "Incidents",
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

/// The school table's columns: left edge, width, heading.
const COLS: [(f32, f32, &str); 8] = [
    (MARGIN, 196.0, "School"),
    (250.0, 38.0, "Shifts"),
    (290.0, 43.0, "Checks"),
    (335.0, 48.0, "On time"),
    (385.0, 33.0, "Late"),
    (420.0, 43.0, "Missed"),
    (465.0, 48.0, "Problems"),
    (515.0, 49.0, "Incidents"),
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

fn school_row(p: &mut Pdf<'_>, l: &ReportLine, bold: bool) {
    let [a, b, c, d, e, f, g] = counts(l);
    let texts = [l.school.as_str(), &a, &b, &c, &d, &e, &f, &g];
    let cells: Vec<Cell<'_>> = COLS
        .iter()
        .zip(texts)
        .map(|((x, width, _), text)| Cell {
            x: *x,
            width: *width,
            text,
        })
        .collect();
    p.row(&cells, 9.0, bold);
}

/// What went wrong on a shift, in words: "9 missed, 1 late, 1 problem".
pub fn exceptions_summary(missed: u32, late: u32, problems: usize) -> String {
    format!(
        "{} missed, {} late, {}",
        missed,
        late,
        count(problems as u64, "problem", "problems")
    )
}

/// The report as a printable PDF, in `fonts`.
pub fn to_pdf(r: &Report, fonts: &ReportFonts) -> Result<Vec<u8>, PdfError> {
    let when = r.when;
    let title = format!(
        "Daily activity report - {} - {}",
        r.scope,
        when.date(r.date)
    );
    let mut p = Pdf::new(fonts, &title, r.made_at);
    // The date on the first line and the scope below it, wrapped: three school names do not
    // fit beside the title at this size.
    p.paragraph(
        MARGIN,
        TEXT_WIDTH,
        &format!("Daily activity report - {}", when.long_date(r.date)),
        16.0,
        true,
    );
    p.paragraph(MARGIN, TEXT_WIDTH, &r.scope, 12.0, false);
    p.paragraph(
        MARGIN,
        TEXT_WIDTH,
        &format!(
            "Made {} by the Rounds district server. {} Visits are checked against each post's schedule.",
            when.date_time(r.made_at),
            when.zone_note(r.made_at)
        ),
        8.5,
        false,
    );
    p.gap(8.0);
    p.paragraph(
        MARGIN,
        TEXT_WIDTH,
        "Patrols and incidents by school",
        12.0,
        true,
    );
    let head: Vec<Cell<'_>> = COLS
        .iter()
        .map(|(x, width, text)| Cell {
            x: *x,
            width: *width,
            text,
        })
        .collect();
    p.row(&head, 9.0, true);
    p.rule();
    p.repeat_header(Some((&head, 9.0)));
    for l in &r.lines {
        school_row(&mut p, l, false);
    }
    p.repeat_header(None);
    p.rule();
    school_row(&mut p, &r.total, true);
    p.gap(12.0);
    p.paragraph(
        MARGIN,
        TEXT_WIDTH,
        "Incidents by reporting category",
        12.0,
        true,
    );
    let cat_head = [
        Cell {
            x: MARGIN,
            width: 340.0,
            text: "Category",
        },
        Cell {
            x: 400.0,
            width: 100.0,
            text: "Incidents",
        },
    ];
    p.row(&cat_head, 9.0, true);
    p.rule();
    for (c, n) in categories().iter().zip(&r.total.by_category) {
        let n = n.to_string();
        p.row(
            &[
                Cell {
                    x: MARGIN,
                    width: 340.0,
                    text: c,
                },
                Cell {
                    x: 400.0,
                    width: 100.0,
                    text: &n,
                },
            ],
            9.0,
            false,
        );
    }
    p.gap(12.0);
    p.paragraph(MARGIN, TEXT_WIDTH, "Shifts with exceptions", 12.0, true);
    let mut any = false;
    for d in &r.days {
        let ex: Vec<_> = d.shifts.iter().filter(|s| s.is_exception()).collect();
        if ex.is_empty() {
            continue;
        }
        any = true;
        p.need(40.0);
        p.paragraph(MARGIN, TEXT_WIDTH, &d.school.name, 10.0, true);
        for s in ex {
            let end = s
                .row
                .ended_at
                .map(|t| when.time(t))
                .unwrap_or_else(|| "open".into());
            let what = exceptions_summary(s.summary.missed, s.summary.late, s.problems.len());
            let times = format!("{}–{}", when.time(s.row.started_at), end);
            p.row(
                &[
                    Cell {
                        x: MARGIN + 10.0,
                        width: 122.0,
                        text: &s.guard,
                    },
                    Cell {
                        x: 184.0,
                        width: 120.0,
                        text: &s.post,
                    },
                    Cell {
                        x: 308.0,
                        width: 100.0,
                        text: &times,
                    },
                    Cell {
                        x: 412.0,
                        width: WIDTH - MARGIN - 412.0,
                        text: &what,
                    },
                ],
                9.0,
                false,
            );
            // Every problem with its whole note, wrapped (across pages if need be).
            for (at, cp, result, note) in &s.problems {
                let line = if note.trim().is_empty() {
                    format!("{} {cp}: {}.", when.time(*at), result.label())
                } else {
                    format!(
                        "{} {cp}: {}. {}",
                        when.time(*at),
                        result.label(),
                        note.trim()
                    )
                };
                p.paragraph(MARGIN + 24.0, TEXT_WIDTH - 24.0, &line, 8.5, false);
            }
        }
    }
    if !any {
        p.paragraph(
            MARGIN,
            TEXT_WIDTH,
            "None: every visit on time, nothing found.",
            9.0,
            false,
        );
    }
    p.finish()
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

//! The day view: every shift of a date by school, with its round against the post's schedule
//! (visits on time, late, missed: [`rounds_domain::round::round_status`]), its notes and photo
//! counts; shifts with exceptions (missed or late visits, problems found) stand out.
//!
//! `GET /console/day?date=YYYY-MM-DD&school=<id>` (date defaults to today in the district's
//! time zone; dates and times are written in its locale, see [`super::locale`]). Without a
//! school, every school the viewer may see is listed with one row per shift, from the server's
//! projections only (fast for a whole district); with a school, each shift also shows its
//! checkpoint-by-checkpoint round and photo counts, read from the shift documents themselves.
//! [`load_view`] loads the page's [`DayView`] and [`render`] writes it; [`load_day`] is shared
//! with the reports.

use std::collections::HashMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rounds_domain::document::{self, CheckRecord};
use rounds_domain::model::{
    CheckInput, CheckMethod, CheckResult, Checkpoint, IncidentStatus, ReferenceData, School,
};
use rounds_domain::round::{self, CheckpointRound, RoundSummary, VisitStatus};
use serde::Deserialize;
use uuid::Uuid;

use super::html::{self, esc, url_param};
use super::locale::count;
use super::params::{Query, opt_id, visible_schools};
use super::{ConsoleError, ConsoleResult, ConsoleUser, When, blocking, day_bounds, html_response};
use crate::AppState;
use crate::access::{self, Viewer};
use crate::storage::Storage;
use crate::storage::console::{IncidentFilter, ShiftRow};

/// One shift of the day, evaluated.
#[derive(Debug, Clone)]
pub struct ShiftDay {
    /// The projection row.
    pub row: ShiftRow,
    /// Guard's name.
    pub guard: String,
    /// Post's name.
    pub post: String,
    /// The round, checkpoint by checkpoint.
    pub round: Vec<CheckpointRound>,
    /// Its counts.
    pub summary: RoundSummary,
    /// Checks recorded.
    pub checks: usize,
    /// Checks that found something (not all clear): time, checkpoint, result, note.
    pub problems: Vec<(DateTime<Utc>, String, CheckResult, String)>,
    /// All-clear checks with a note: time, checkpoint, note.
    pub notes: Vec<(DateTime<Utc>, String, String)>,
    /// Photos attached to its checks (only when read from the document).
    pub photos: Option<usize>,
    /// Their hashes, with the check's time and checkpoint (only when read from the document).
    pub photo_refs: Vec<(DateTime<Utc>, String, String)>,
}

impl ShiftDay {
    /// Whether the supervisor should look at this shift first.
    pub fn is_exception(&self) -> bool {
        self.summary.missed > 0 || self.summary.late > 0 || !self.problems.is_empty()
    }
}

/// A school's day.
#[derive(Debug, Clone)]
pub struct SchoolDay {
    /// The school.
    pub school: School,
    /// Its shifts, by start time.
    pub shifts: Vec<ShiftDay>,
}

/// Evaluates every shift that started on `date` (a local day of `tz`) at the given schools
/// that `v` may read.
/// `documents`: also read each shift document (photo counts); otherwise projections only.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per page, all named"
)]
pub fn load_day(
    storage: &dyn Storage,
    v: &Viewer,
    reference: &ReferenceData,
    schools: &[School],
    date: NaiveDate,
    tz: Tz,
    now: DateTime<Utc>,
    documents: bool,
) -> ConsoleResult<Vec<SchoolDay>> {
    let (from, to) = day_bounds(date, tz);
    let ids: Vec<Uuid> = schools.iter().map(|s| s.id).collect();
    let rows: Vec<ShiftRow> = storage
        .shifts_started(from, to, Some(&ids))?
        .into_iter()
        .filter(|r| access::may_read(v, &r.header, &[]))
        .collect();
    let shift_ids: Vec<Uuid> = rows.iter().map(|r| r.header.id).collect();
    let mut checks = storage.checks_of(&shift_ids)?;
    let people: HashMap<Uuid, &str> = reference
        .people
        .iter()
        .map(|p| (p.id, p.name.as_str()))
        .collect();
    let posts: HashMap<Uuid, &str> = reference
        .posts
        .iter()
        .map(|p| (p.id, p.name.as_str()))
        .collect();
    let mut by_post: HashMap<Uuid, Vec<Checkpoint>> = HashMap::new();
    for c in &reference.checkpoints {
        by_post.entry(c.post_id).or_default().push(c.clone());
    }
    let cp_names: HashMap<Uuid, &str> = reference
        .checkpoints
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mut out: Vec<SchoolDay> = schools
        .iter()
        .map(|s| SchoolDay {
            school: s.clone(),
            shifts: Vec::new(),
        })
        .collect();
    let index: HashMap<Uuid, usize> = out
        .iter()
        .enumerate()
        .map(|(i, s)| (s.school.id, i))
        .collect();
    for row in rows {
        let rows_checks = checks.remove(&row.header.id).unwrap_or_default();
        let (records, photos) = if documents {
            let doc = storage.document(row.header.id)?.ok_or_else(|| {
                ConsoleError::Internal(format!("shift {} has no document", row.header.id))
            })?;
            let am = doc.to_automerge().map_err(ConsoleError::Internal)?;
            let body = document::read_shift(&am)?;
            let photos = body.checks.iter().map(|c| c.check.photos.len()).sum();
            (body.checks, Some(photos))
        } else {
            let records = rows_checks
                .iter()
                .map(|c| CheckRecord {
                    check: CheckInput {
                        id: c.id,
                        checkpoint_id: c.checkpoint_id,
                        method: CheckMethod::Manual,
                        result: c.result,
                        note: c.note.clone(),
                        photos: Vec::new(),
                        at: c.at,
                    },
                    recorded_by: row.header.author_id,
                })
                .collect::<Vec<_>>();
            (records, None)
        };
        let cps = by_post.get(&row.post_id).map(Vec::as_slice).unwrap_or(&[]);
        let round = round::round_status(cps, &records, row.started_at, row.ended_at, now);
        let summary = round::summarize(&round);
        let name = |id: &Uuid| cp_names.get(id).copied().unwrap_or("(unknown checkpoint)");
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        for c in &records {
            if c.check.result != CheckResult::AllClear {
                problems.push((
                    c.check.at,
                    name(&c.check.checkpoint_id).to_string(),
                    c.check.result,
                    c.check.note.clone(),
                ));
            } else if !c.check.note.trim().is_empty() {
                notes.push((
                    c.check.at,
                    name(&c.check.checkpoint_id).to_string(),
                    c.check.note.clone(),
                ));
            }
        }
        let photo_refs: Vec<(DateTime<Utc>, String, String)> = records
            .iter()
            .flat_map(|c| {
                c.check.photos.iter().map(|p| {
                    (
                        c.check.at,
                        name(&c.check.checkpoint_id).to_string(),
                        p.clone(),
                    )
                })
            })
            .collect();
        problems.sort_by_key(|p| p.0);
        notes.sort_by_key(|n| n.0);
        let Some(i) = index.get(&row.header.school_id) else {
            continue;
        };
        out[*i].shifts.push(ShiftDay {
            guard: people
                .get(&row.header.author_id)
                .copied()
                .unwrap_or("(unknown guard)")
                .to_string(),
            post: posts
                .get(&row.post_id)
                .copied()
                .unwrap_or("(unknown post)")
                .to_string(),
            checks: records.len(),
            round,
            summary,
            problems,
            notes,
            photos,
            photo_refs,
            row,
        });
    }
    Ok(out)
}

/// Query of the day view.
#[derive(Debug, Deserialize)]
pub struct DayQuery {
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    /// A school id (empty: all of the viewer's schools).
    pub school: Option<String>,
}

/// What the day page shows: the schools' days and the count of incidents waiting for review.
#[derive(Debug, Clone)]
pub struct DayView {
    /// The reference data the viewer may see (the school picker, names).
    pub reference: ReferenceData,
    /// The local day shown.
    pub date: NaiveDate,
    /// The school chosen (none: all of the viewer's schools).
    pub school: Option<Uuid>,
    /// Each school's day.
    pub days: Vec<SchoolDay>,
    /// Incidents waiting for the supervisor's review at these schools (none: not counted).
    pub awaiting: Option<usize>,
}

/// Loads the day page for `v`: with a school, each shift's document is read too (rounds and
/// photos); without, projections only.
pub fn load_view(
    storage: &dyn Storage,
    v: &Viewer,
    date: NaiveDate,
    school: Option<Uuid>,
    tz: Tz,
    now: DateTime<Utc>,
) -> ConsoleResult<DayView> {
    let reference = storage.reference_for(v)?;
    let schools = visible_schools(&reference, school)?;
    let days = load_day(
        storage,
        v,
        &reference,
        &schools,
        date,
        tz,
        now,
        school.is_some(),
    )?;
    // Incidents waiting for the supervisor's review, at the schools on the page.
    // (Submitted, and approved reports amended since, which wait for review again.)
    let mut awaiting = 0;
    for status in [IncidentStatus::Submitted, IncidentStatus::Amended] {
        awaiting += storage
            .incidents(&IncidentFilter {
                schools: Some(schools.iter().map(|s| s.id).collect()),
                status: Some(status),
                limit: usize::MAX,
                ..IncidentFilter::default()
            })?
            .into_iter()
            .filter(|i| access::may_read(v, &i.header, &[]))
            .count();
    }
    Ok(DayView {
        reference,
        date,
        school,
        days,
        awaiting: Some(awaiting),
    })
}

/// `GET /console/day`.
pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<DayQuery>,
) -> ConsoleResult<Response> {
    let now = state.now();
    let when = state.when();
    let date = super::parse_day(q.date.as_deref(), now, when.tz)?;
    let school = opt_id(q.school.as_deref(), "school")?;
    let storage = state.storage.clone();
    blocking(move || {
        let view = load_view(storage.as_ref(), &user.viewer(), date, school, when.tz, now)?;
        Ok(html_response(
            StatusCode::OK,
            html::page(
                &format!("Day of {}", when.date(date)),
                Some(&user.chrome()),
                &render(&view, when, now),
            ),
        ))
    })
    .await
}

fn status_word(s: VisitStatus) -> &'static str {
    match s {
        VisitStatus::Upcoming => "upcoming",
        VisitStatus::Due => "due",
        VisitStatus::Overdue => "overdue",
        VisitStatus::Done => "on time",
        VisitStatus::Late => "late",
        VisitStatus::Missed => "missed",
    }
}

fn status_class(s: VisitStatus) -> &'static str {
    match s {
        VisitStatus::Upcoming => "upcoming",
        VisitStatus::Due | VisitStatus::Overdue => "due",
        VisitStatus::Done => "done",
        VisitStatus::Late => "late",
        VisitStatus::Missed => "missed",
    }
}

/// The day page's HTML body, from its view alone (no storage, no HTTP).
pub fn render(view: &DayView, when: When, now: DateTime<Utc>) -> String {
    let DayView {
        reference,
        date,
        school,
        days,
        awaiting,
    } = view;
    let (date, school, awaiting) = (*date, *school, *awaiting);
    let mut b = String::with_capacity(64 * 1024);
    let school_param = school.map(|s| s.to_string()).unwrap_or_default();
    let link = |d: NaiveDate| {
        format!(
            "/console/day?date={}&amp;school={}",
            url_param(&d.to_string()),
            url_param(&school_param)
        )
    };
    let mut opts = vec![(String::new(), "All my schools".to_string())];
    opts.extend(
        reference
            .schools
            .iter()
            .map(|s| (s.id.to_string(), s.name.clone())),
    );
    let _ = write!(
        b,
        r#"<h2>Day of {}</h2><p class="hint">{}</p><form method="get" action="/console/day" class="filters">
<label>Date <input type="date" name="date" value="{date}"></label>
<label>School <select name="school">{}</select></label><button type="submit">Show</button>
<a href="{}">← previous day</a> <a href="{}">next day →</a></form>"#,
        esc(&when.long_date(date)),
        // The zone's abbreviation as of the page's moment: now, or the day's start if past.
        esc(&when.zone_note(
            now.min(day_bounds(date, when.tz).1)
                .max(day_bounds(date, when.tz).0)
        )),
        html::options(
            opts.iter().map(|(a, b)| (a.as_str(), b.as_str())),
            &school_param
        ),
        link(date.pred_opt().unwrap_or(date)),
        link(date.succ_opt().unwrap_or(date)),
    );
    let total: usize = days.iter().map(|d| d.shifts.len()).sum();
    let exceptions: usize = days
        .iter()
        .flat_map(|d| &d.shifts)
        .filter(|s| s.is_exception())
        .count();
    let _ = write!(
        b,
        r#"<p class="summary"><strong>{}</strong>, <strong class="{}">{exceptions}</strong> with exceptions (missed or late visits, problems found).</p>"#,
        count(total as u64, "shift", "shifts"),
        if exceptions > 0 { "bad" } else { "good" }
    );
    if let Some(n) = awaiting.filter(|n| *n > 0) {
        let _ = write!(
            b,
            r#"<p class="summary awaiting"><a href="/console/incidents?status=submitted&amp;school={}"><strong>{}</strong> waiting for review</a></p>"#,
            url_param(&school_param),
            count(n as u64, "incident", "incidents")
        );
    }
    for d in days {
        let _ = write!(
            b,
            r#"<section class="school"><h3><a href="/console/day?date={date}&amp;school={}">{}</a></h3>"#,
            d.school.id,
            esc(&d.school.name)
        );
        if d.shifts.is_empty() {
            b.push_str(r#"<p class="none">No shifts recorded.</p></section>"#);
            continue;
        }
        b.push_str(
            "<table class=\"shifts\"><thead><tr><th>Guard</th><th>Post</th><th>Shift</th><th>Checks</th><th>On time</th><th>Late</th><th>Missed</th><th>Due now</th><th>Problems</th><th>Notes</th><th>Photos</th></tr></thead><tbody>",
        );
        for s in &d.shifts {
            let end = s
                .row
                .ended_at
                .map(|t| when.time(t))
                .unwrap_or_else(|| "open".into());
            let _ = write!(
                b,
                r#"<tr class="{}" id="shift-{}"><td>{}</td><td>{}</td><td>{}–{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td class="{}">{}</td><td>{}</td><td class="{}">{}</td><td>{}</td><td>{}</td></tr>"#,
                if s.is_exception() { "exception" } else { "ok" },
                s.row.header.id,
                esc(&s.guard),
                esc(&s.post),
                when.time(s.row.started_at),
                esc(&end),
                s.checks,
                s.summary.done,
                if s.summary.late > 0 { "late" } else { "" },
                s.summary.late,
                if s.summary.missed > 0 { "missed" } else { "" },
                s.summary.missed,
                s.summary.due,
                if s.problems.is_empty() { "" } else { "problem" },
                s.problems.len(),
                s.notes.len() + s.problems.iter().filter(|p| !p.3.is_empty()).count(),
                s.photos
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "—".into()),
            );
        }
        b.push_str("</tbody></table>");
        if school.is_some() {
            for s in &d.shifts {
                render_round(&mut b, s, when);
            }
        }
        b.push_str("</section>");
    }
    b
}

fn render_round(b: &mut String, s: &ShiftDay, when: When) {
    let _ = write!(
        b,
        r#"<details class="round" open><summary>{} · {} · {}</summary><table class="visits"><thead><tr><th>#</th><th>Checkpoint</th><th>Visits (due time: state)</th></tr></thead><tbody>"#,
        esc(&s.guard),
        esc(&s.post),
        when.time(s.row.started_at)
    );
    for cp in &s.round {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>",
            cp.position,
            esc(&cp.name)
        );
        for v in &cp.visits {
            let at = v
                .checked_at
                .map(|t| format!(" at {}", when.time(t)))
                .unwrap_or_default();
            let _ = write!(
                b,
                r#"<span class="visit {}">{}: {}{}</span> "#,
                status_class(v.status),
                when.time(v.due_at),
                status_word(v.status),
                at
            );
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</tbody></table>");
    if !s.problems.is_empty() || !s.notes.is_empty() {
        b.push_str("<ul class=\"notes\">");
        for (at, cp, result, note) in &s.problems {
            let _ = write!(
                b,
                r#"<li class="problem">{} {} — <strong>{}</strong> {}</li>"#,
                when.time(*at),
                esc(cp),
                esc(result.label()),
                esc(note)
            );
        }
        for (at, cp, note) in &s.notes {
            let _ = write!(b, "<li>{} {} — {}</li>", when.time(*at), esc(cp), esc(note));
        }
        b.push_str("</ul>");
    }
    if !s.photo_refs.is_empty() {
        b.push_str(r#"<p class="photos">"#);
        for (at, cp, hash) in &s.photo_refs {
            let _ = write!(
                b,
                r#"<span class="photo">{}<br>{} {}</span>"#,
                super::photos::thumbnails(s.row.header.id, std::slice::from_ref(hash)),
                when.time(*at),
                esc(cp)
            );
        }
        b.push_str("</p>");
    }
    b.push_str("</details>");
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use rounds_domain::document::Header;
    use rounds_domain::model::{Classification, DocKind};
    use rounds_domain::round::{CheckpointRound, Visit};

    use super::*;
    use crate::console::Locale;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    fn when() -> When {
        When {
            tz: Tz::UTC,
            locale: Locale::EnUs,
        }
    }

    fn school(n: u128, name: &str) -> School {
        School {
            id: id(n),
            name: name.into(),
        }
    }

    /// A shift at `school` whose one checkpoint had a visit due at 08:30 that was missed.
    fn missed_shift(school: u128) -> ShiftDay {
        ShiftDay {
            row: ShiftRow {
                header: Header {
                    id: id(500),
                    kind: DocKind::Shift,
                    school_id: id(school),
                    author_id: id(20),
                    device_id: id(30),
                    created_at: at(8, 0),
                    classification: Classification::Internal,
                },
                post_id: id(40),
                started_at: at(8, 0),
                ended_at: None,
            },
            guard: "Gus <Guard>".into(),
            post: "Front gate".into(),
            round: vec![CheckpointRound {
                checkpoint_id: id(50),
                position: 1,
                name: "Boiler room".into(),
                tag_code: "T-1".into(),
                visits: vec![Visit {
                    due_at: at(8, 30),
                    status: VisitStatus::Missed,
                    check_id: None,
                    checked_at: None,
                }],
                status: VisitStatus::Missed,
            }],
            summary: RoundSummary {
                missed: 1,
                ..RoundSummary::default()
            },
            checks: 0,
            problems: vec![],
            notes: vec![],
            photos: Some(0),
            photo_refs: vec![],
        }
    }

    fn view(school: Option<Uuid>) -> DayView {
        let (a, b) = (school_(1), school_(2));
        DayView {
            reference: ReferenceData {
                schools: vec![a.clone(), b.clone()],
                ..ReferenceData::default()
            },
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            school,
            days: vec![
                SchoolDay {
                    school: a,
                    shifts: vec![missed_shift(1)],
                },
                SchoolDay {
                    school: b,
                    shifts: vec![],
                },
            ],
            awaiting: Some(2),
        }
    }

    fn school_(n: u128) -> School {
        school(n, if n == 1 { "Lincoln & High" } else { "Adams" })
    }

    #[test]
    fn the_district_day_counts_shifts_and_exceptions_and_marks_the_shift_to_look_at() {
        let html = render(&view(None), when(), at(12, 0));
        assert!(
            html.contains("<h2>Day of Tuesday, December 1, 2026</h2>"),
            "{html}"
        );
        assert!(html.contains("<strong>1 shift</strong>"), "{html}");
        assert!(html.contains(r#"<strong class="bad">1</strong> with exceptions"#));
        assert!(html.contains(&format!(r#"<tr class="exception" id="shift-{}">"#, id(500))));
        assert!(html.contains("Gus &lt;Guard&gt;"), "names are escaped");
        assert!(html.contains("Lincoln &amp; High"));
        assert!(
            html.contains("No shifts recorded."),
            "a school without shifts says so"
        );
        assert!(html.contains("<strong>2 incidents</strong> waiting for review"));
        assert!(
            !html.contains("<details"),
            "rounds are shown for one school only"
        );
    }

    #[test]
    fn one_schools_day_shows_each_round_visit_by_visit() {
        let html = render(&view(Some(id(1))), when(), at(12, 0));
        assert!(html.contains(r#"<details class="round" open>"#), "{html}");
        assert!(
            html.contains(r#"<span class="visit missed">8:30 AM: missed</span>"#),
            "{html}"
        );
        let chosen = format!(r#"<option value="{}" selected>"#, id(1));
        assert!(
            html.contains(&chosen),
            "the school picker shows the school: {html}"
        );
    }

    #[test]
    fn nothing_waiting_for_review_is_not_mentioned() {
        let mut v = view(None);
        v.awaiting = Some(0);
        assert!(!render(&v, when(), at(12, 0)).contains("waiting for review"));
    }
}

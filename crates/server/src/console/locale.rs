//! How the console writes dates, clock times and counts: one [`Locale`] for the whole
//! district, set when the server starts (`rounds-server serve --locale en-US`, the default).
//!
//! - **Dates** in the locale's order: `12/01/2026` (en-US, month first), `01/12/2026` (en-GB),
//!   `01.12.2026` (de-DE); the day view's heading spells the month out
//!   ("Tuesday, December 1, 2026").
//! - **Clock times** on the locale's clock: `2:05 PM` (en-US), `14:05` (en-GB, de-DE); a time
//!   with its date carries the district zone's abbreviation (`12/01/2026, 2:05 PM CST`), and
//!   pages that list bare times say which zone they are in ([`Locale::zone_note`]).
//! - **Counts** with the right plural ([`count`]: "1 shift", "2 shifts").
//!
//! The console's words are English whatever the locale; only the date and time forms change.
//! Form fields (`<input type="date">`) and the CSV keep ISO `YYYY-MM-DD`, which browsers and
//! spreadsheets read the same everywhere.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// The locales the console can write dates and times in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    /// United States: `12/01/2026`, `2:05 PM`.
    #[default]
    EnUs,
    /// United Kingdom: `01/12/2026`, `14:05`.
    EnGb,
    /// Germany: `01.12.2026`, `14:05`.
    DeDe,
}

/// A `--locale` value that is not one the console knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown locale {0:?}; the console knows en-US, en-GB and de-DE")]
pub struct UnknownLocale(pub String);

impl std::str::FromStr for Locale {
    type Err = UnknownLocale;

    /// A BCP 47 tag, in any case, with `-` or `_` (`en-US`, `en_gb`, `de-DE`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().replace('_', "-").to_ascii_lowercase().as_str() {
            "en-us" | "en" => Ok(Locale::EnUs),
            "en-gb" => Ok(Locale::EnGb),
            "de-de" | "de" => Ok(Locale::DeDe),
            _ => Err(UnknownLocale(s.to_string())),
        }
    }
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const DAYS_DE: [&str; 7] = [
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
];

impl Locale {
    /// Its BCP 47 tag (`en-US`), for `<html lang>` and the docs.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::EnUs => "en-US",
            Locale::EnGb => "en-GB",
            Locale::DeDe => "de-DE",
        }
    }

    /// A date in short numeric form: `12/01/2026`, `01/12/2026`, `01.12.2026`.
    pub fn date(self, d: NaiveDate) -> String {
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            Locale::EnUs => format!("{m:02}/{day:02}/{y}"),
            Locale::EnGb => format!("{day:02}/{m:02}/{y}"),
            Locale::DeDe => format!("{day:02}.{m:02}.{y}"),
        }
    }

    /// A date written out, for headings: "Tuesday, December 1, 2026",
    /// "Tuesday 1 December 2026", "Dienstag, 1. Dezember 2026".
    pub fn long_date(self, d: NaiveDate) -> String {
        let wd = d.weekday().num_days_from_monday() as usize;
        let m = d.month0() as usize;
        match self {
            Locale::EnUs => format!(
                "{}, {} {}, {}",
                DAYS_EN[wd],
                MONTHS_EN[m],
                d.day(),
                d.year()
            ),
            Locale::EnGb => format!("{} {} {} {}", DAYS_EN[wd], d.day(), MONTHS_EN[m], d.year()),
            Locale::DeDe => format!(
                "{}, {}. {} {}",
                DAYS_DE[wd],
                d.day(),
                MONTHS_DE[m],
                d.year()
            ),
        }
    }

    /// A clock time in the district's zone `tz`: `2:05 PM` or `14:05`.
    pub fn time(self, t: DateTime<Utc>, tz: Tz) -> String {
        let l = t.with_timezone(&tz);
        let (h, min) = (l.hour(), l.minute());
        match self {
            Locale::EnUs => {
                let h12 = match h % 12 {
                    0 => 12,
                    h => h,
                };
                let ampm = if h < 12 { "AM" } else { "PM" };
                format!("{h12}:{min:02} {ampm}")
            }
            Locale::EnGb | Locale::DeDe => format!("{h:02}:{min:02}"),
        }
    }

    /// A time with its local date and the zone's abbreviation:
    /// `12/01/2026, 2:05 PM CST`, `01/12/2026, 14:05 GMT`, `01.12.2026, 14:05 CET`.
    pub fn date_time(self, t: DateTime<Utc>, tz: Tz) -> String {
        let l = t.with_timezone(&tz);
        format!(
            "{}, {} {}",
            self.date(l.date_naive()),
            self.time(t, tz),
            l.format("%Z")
        )
    }

    /// Says which zone a page's bare clock times are in: "Times are in America/Chicago (CST)."
    /// (the abbreviation in force at `at`).
    pub fn zone_note(self, tz: Tz, at: DateTime<Utc>) -> String {
        let abbr = at.with_timezone(&tz).format("%Z").to_string();
        if abbr == tz.name() {
            format!("Times are in {}.", tz.name())
        } else {
            format!("Times are in {} ({abbr}).", tz.name())
        }
    }
}

/// `n` and the noun in the right number: `count(1, "shift", "shifts")` is "1 shift",
/// `count(0, ..)` and `count(2, ..)` "0 shifts", "2 shifts".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
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

    fn dec1() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
    }

    #[test]
    fn us_dates_put_the_month_first_and_others_the_day() {
        // December 1st: the date the issue saw misread as January 12th.
        assert_eq!(Locale::EnUs.date(dec1()), "12/01/2026");
        assert_eq!(Locale::EnGb.date(dec1()), "01/12/2026");
        assert_eq!(Locale::DeDe.date(dec1()), "01.12.2026");
        assert_eq!(
            Locale::default(),
            Locale::EnUs,
            "US order unless configured"
        );
        assert_eq!(Locale::EnUs.long_date(dec1()), "Tuesday, December 1, 2026");
        assert_eq!(Locale::EnGb.long_date(dec1()), "Tuesday 1 December 2026");
        assert_eq!(Locale::DeDe.long_date(dec1()), "Dienstag, 1. Dezember 2026");
    }

    #[test]
    fn us_times_are_on_a_12_hour_clock_with_the_zone_where_a_date_is_shown() {
        let chicago = chrono_tz::America::Chicago;
        // 20:05 UTC is 2:05 PM in Chicago (CST, UTC-6) on December 1st.
        let t = at("2026-12-01T20:05:00Z");
        assert_eq!(Locale::EnUs.time(t, chicago), "2:05 PM");
        assert_eq!(Locale::EnGb.time(t, chicago), "14:05");
        assert_eq!(
            Locale::EnUs.date_time(t, chicago),
            "12/01/2026, 2:05 PM CST"
        );
        assert_eq!(Locale::DeDe.date_time(t, chicago), "01.12.2026, 14:05 CST");
        // Midnight and noon on the 12-hour clock.
        assert_eq!(
            Locale::EnUs.time(at("2026-12-01T00:07:00Z"), Tz::UTC),
            "12:07 AM"
        );
        assert_eq!(
            Locale::EnUs.time(at("2026-12-01T12:00:00Z"), Tz::UTC),
            "12:00 PM"
        );
        // The local date, not the UTC one: 01:00 UTC on the 2nd is the evening of the 1st.
        assert_eq!(
            Locale::EnUs.date_time(at("2026-12-02T01:00:00Z"), chicago),
            "12/01/2026, 7:00 PM CST"
        );
        assert_eq!(
            Locale::EnUs.zone_note(chicago, t),
            "Times are in America/Chicago (CST)."
        );
        assert_eq!(Locale::EnUs.zone_note(Tz::UTC, t), "Times are in UTC.");
    }

    #[test]
    fn locales_parse_from_tags_in_any_case_and_unknown_ones_are_refused() {
        assert_eq!("en-US".parse(), Ok(Locale::EnUs));
        assert_eq!("en_gb".parse(), Ok(Locale::EnGb));
        assert_eq!("DE-de".parse(), Ok(Locale::DeDe));
        let err = "fr-FR".parse::<Locale>().expect_err("not supported");
        assert!(err.to_string().contains("en-US, en-GB and de-DE"), "{err}");
    }

    #[test]
    fn counts_use_the_singular_for_one_only() {
        assert_eq!(count(1u32, "shift", "shifts"), "1 shift");
        assert_eq!(count(2u32, "shift", "shifts"), "2 shifts");
        assert_eq!(count(0u32, "shift", "shifts"), "0 shifts");
        assert_eq!(count(1u32, "incident", "incidents"), "1 incident");
        assert_eq!(count(11u32, "problem", "problems"), "11 problems");
    }
}

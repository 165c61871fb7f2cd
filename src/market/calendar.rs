//! The US equity market calendar (NYSE rules, which every US stock venue follows): which New
//! York dates hold a session, and when each session's extended and regular hours start and
//! end. Crypto has no calendar (it trades 24/7), so nothing here applies to it.
//!
//! Owns: the holiday rules with their observance (New Year's Day, Martin Luther King Jr. Day,
//! Washington's Birthday, Good Friday, Memorial Day, Juneteenth from 2022, Independence Day,
//! Labor Day, Thanksgiving, Christmas), the early closes (13:00, after-hours to 17:00: July 3,
//! the day after Thanksgiving and December 24 when they are trading days), the short list of
//! special closures since 2016, and the years the calendar vouches for
//! ([`FIRST_YEAR`]..=[`LAST_YEAR`]). Outside those years it answers "unknown" and the caller
//! asks Alpaca as if there were no calendar.
//!
//! Rules rather than a crate: `nyse-holiday-cal` knows holidays but neither sessions nor early
//! closes, `trading-calendar` starts in 2020 and `exchange-hours` ends in 2028; the rules below
//! are checked against the NYSE's published tables (unit tests) and against
//! `exchange_calendars`' XNYS for every day of 2016-2030 (interop test).
//!
//! Pure: no I/O, no clock.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

use super::NEW_YORK;

/// The first year whose sessions the calendar knows (SIP history starts 2016-01-04).
pub const FIRST_YEAR: i32 = 2016;
/// The last year whose sessions the calendar knows. Past it, barkeep asks Alpaca for every
/// gap, as if there were no calendar (and says so once per run).
pub const LAST_YEAR: i32 = 2030;

/// Closures that no rule predicts (national days of mourning), since [`FIRST_YEAR`].
const SPECIAL_CLOSURES: [(NaiveDate, &str); 2] = [
    (
        ymd(2018, 12, 5),
        "National Day of Mourning (George H. W. Bush)",
    ),
    (ymd(2025, 1, 9), "National Day of Mourning (Jimmy Carter)"),
];

/// One trading day's hours, as UTC instants.
///
/// Extended hours run `pre_open..post_close` (04:00-20:00 New York, 04:00-17:00 on an early
/// close); the regular session runs `open..close` (09:30-16:00, or 09:30-13:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The New York date of the session.
    pub date: NaiveDate,
    pub pre_open: DateTime<Utc>,
    pub open: DateTime<Utc>,
    pub close: DateTime<Utc>,
    pub post_close: DateTime<Utc>,
    pub early_close: bool,
}

/// What the calendar says about one New York date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Open(Session),
    Weekend,
    /// A holiday or special closure on a weekday, with its name.
    Holiday(&'static str),
}

/// The date is outside [`FIRST_YEAR`]..=[`LAST_YEAR`]: the calendar cannot tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the market calendar covers {FIRST_YEAR} to {LAST_YEAR}; {date} is outside it, so Alpaca is asked for every gap there"
)]
pub struct OutsideCalendar {
    pub date: NaiveDate,
}

/// The instants the calendar knows: New Year's Day of [`FIRST_YEAR`] to that of the year
/// after [`LAST_YEAR`], midnight New York.
pub fn known_span() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        new_york(ymd(FIRST_YEAR, 1, 1), 0, 0),
        new_york(ymd(LAST_YEAR + 1, 1, 1), 0, 0),
    )
}

/// Whether the calendar knows the sessions of `date`.
pub fn knows(date: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&date.year())
}

/// What happens on the New York date `date`.
pub fn day(date: NaiveDate) -> Result<Day, OutsideCalendar> {
    if !knows(date) {
        return Err(OutsideCalendar { date });
    }
    if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        return Ok(Day::Weekend);
    }
    if let Some(name) = holiday(date) {
        return Ok(Day::Holiday(name));
    }
    let early_close = is_early_close(date);
    let (close, post_close) = if early_close { (13, 17) } else { (16, 20) };
    Ok(Day::Open(Session {
        date,
        pre_open: new_york(date, 4, 0),
        open: new_york(date, 9, 30),
        close: new_york(date, close, 0),
        post_close: new_york(date, post_close, 0),
        early_close,
    }))
}

/// The session of `date`, `None` when the market is closed that day.
pub fn session(date: NaiveDate) -> Result<Option<Session>, OutsideCalendar> {
    Ok(match day(date)? {
        Day::Open(s) => Some(s),
        Day::Weekend | Day::Holiday(_) => None,
    })
}

/// The sessions whose extended hours (`pre_open..post_close`) overlap `start..end`, in order.
/// Fails when any New York date of the span is outside the calendar.
pub fn sessions_overlapping(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<Session>, OutsideCalendar> {
    if end <= start {
        return Ok(Vec::new());
    }
    let first = new_york_date(start);
    let last = new_york_date(end - chrono::TimeDelta::nanoseconds(1));
    let mut sessions = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        if let Some(s) = session(date)?
            && s.pre_open < end
            && start < s.post_close
        {
            sessions.push(s);
        }
    }
    Ok(sessions)
}

/// The first session whose extended hours start after `t`. `Err` when the search leaves the
/// calendar before finding one.
pub fn next_session_after(t: DateTime<Utc>) -> Result<Session, OutsideCalendar> {
    let mut date = new_york_date(t);
    loop {
        if let Some(s) = session(date)?
            && s.pre_open > t
        {
            return Ok(s);
        }
        date = date
            .checked_add_days(Days::new(1))
            .ok_or(OutsideCalendar { date })?;
    }
}

/// The session whose extended hours contain `t`, if any. `Err` when `t`'s date is outside
/// the calendar.
pub fn session_at(t: DateTime<Utc>) -> Result<Option<Session>, OutsideCalendar> {
    Ok(session(new_york_date(t))?.filter(|s| s.pre_open <= t && t < s.post_close))
}

/// The New York calendar date of an instant.
pub fn new_york_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&NEW_YORK).date_naive()
}

/// `date` at `hour:minute` New York time, in UTC. Only called with times that exist exactly
/// once (clocks change at 02:00).
fn new_york(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let naive = date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default());
    NEW_YORK
        .from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc))
}

/// The holiday (or special closure) observed on the weekday `date`, if any.
fn holiday(date: NaiveDate) -> Option<&'static str> {
    if let Some((_, name)) = SPECIAL_CLOSURES.iter().find(|(d, _)| *d == date) {
        return Some(name);
    }
    let year = date.year();
    let rules: [(Option<NaiveDate>, &'static str); 10] = [
        (new_years_day(year), "New Year's Day"),
        (
            nth_weekday(year, 1, Weekday::Mon, 3),
            "Martin Luther King Jr. Day",
        ),
        (
            nth_weekday(year, 2, Weekday::Mon, 3),
            "Washington's Birthday",
        ),
        (easter(year).checked_sub_days(Days::new(2)), "Good Friday"),
        (last_weekday(year, 5, Weekday::Mon), "Memorial Day"),
        (
            (year >= 2022).then(|| observed(ymd(year, 6, 19))),
            "Juneteenth",
        ),
        (Some(observed(ymd(year, 7, 4))), "Independence Day"),
        (nth_weekday(year, 9, Weekday::Mon, 1), "Labor Day"),
        (thanksgiving(year), "Thanksgiving Day"),
        (Some(observed(ymd(year, 12, 25))), "Christmas Day"),
    ];
    rules
        .iter()
        .find(|(d, _)| *d == Some(date))
        .map(|(_, name)| *name)
}

/// Early closes fall on trading days only; the caller checked that `date` is one.
fn is_early_close(date: NaiveDate) -> bool {
    let (m, d) = (date.month(), date.day());
    (m == 7 && d == 3)
        || (m == 12 && d == 24)
        || date
            .pred_opt()
            .is_some_and(|prev| Some(prev) == thanksgiving(date.year()))
}

/// New Year's Day moves to Monday when it falls on a Sunday; on a Saturday it closes nothing
/// (NYSE Rule 7.2: the Friday before is the last day of an accounting period and stays open).
fn new_years_day(year: i32) -> Option<NaiveDate> {
    let day = ymd(year, 1, 1);
    match day.weekday() {
        Weekday::Sat => None,
        Weekday::Sun => Some(ymd(year, 1, 2)),
        _ => Some(day),
    }
}

/// Saturday holidays are observed on the Friday before, Sunday ones on the Monday after.
fn observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date.pred_opt().unwrap_or(date),
        Weekday::Sun => date.succ_opt().unwrap_or(date),
        _ => date,
    }
}

fn thanksgiving(year: i32) -> Option<NaiveDate> {
    nth_weekday(year, 11, Weekday::Thu, 4)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    nth_weekday(year, month, weekday, 5).or_else(|| nth_weekday(year, month, weekday, 4))
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    #[allow(clippy::cast_sign_loss)] // month is 3 or 4, day 1..=31
    ymd(year, month as u32, day as u32)
}

const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => NaiveDate::MIN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed_weekdays(year: i32) -> Vec<NaiveDate> {
        ymd(year, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == year)
            .filter(|d| matches!(day(*d), Ok(Day::Holiday(_))))
            .collect()
    }

    fn early_closes(year: i32) -> Vec<NaiveDate> {
        ymd(year, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == year)
            .filter(|d| matches!(day(*d), Ok(Day::Open(s)) if s.early_close))
            .collect()
    }

    fn dates(list: &[(u32, u32)], year: i32) -> Vec<NaiveDate> {
        list.iter().map(|&(m, d)| ymd(year, m, d)).collect()
    }

    fn sessions_in(year: i32) -> usize {
        ymd(year, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == year)
            .filter(|d| matches!(day(*d), Ok(Day::Open(_))))
            .count()
    }

    // The NYSE's published holiday and early-close tables (nyse.com "Holidays & Trading
    // Hours" and its yearly press releases).
    #[test]
    fn holidays_match_the_published_nyse_tables() {
        let table: [(i32, &[(u32, u32)]); 6] = [
            (
                2016,
                &[
                    (1, 1),
                    (1, 18),
                    (2, 15),
                    (3, 25),
                    (5, 30),
                    (7, 4),
                    (9, 5),
                    (11, 24),
                    (12, 26),
                ],
            ),
            (
                2018,
                &[
                    (1, 1),
                    (1, 15),
                    (2, 19),
                    (3, 30),
                    (5, 28),
                    (7, 4),
                    (9, 3),
                    (11, 22),
                    (12, 5),
                    (12, 25),
                ],
            ),
            (
                2021,
                &[
                    (1, 1),
                    (1, 18),
                    (2, 15),
                    (4, 2),
                    (5, 31),
                    (7, 5),
                    (9, 6),
                    (11, 25),
                    (12, 24),
                ],
            ),
            (
                2022,
                &[
                    (1, 17),
                    (2, 21),
                    (4, 15),
                    (5, 30),
                    (6, 20),
                    (7, 4),
                    (9, 5),
                    (11, 24),
                    (12, 26),
                ],
            ),
            (
                2025,
                &[
                    (1, 1),
                    (1, 9),
                    (1, 20),
                    (2, 17),
                    (4, 18),
                    (5, 26),
                    (6, 19),
                    (7, 4),
                    (9, 1),
                    (11, 27),
                    (12, 25),
                ],
            ),
            (
                2026,
                &[
                    (1, 1),
                    (1, 19),
                    (2, 16),
                    (4, 3),
                    (5, 25),
                    (6, 19),
                    (7, 3),
                    (9, 7),
                    (11, 26),
                    (12, 25),
                ],
            ),
        ];
        for (year, holidays) in table {
            assert_eq!(closed_weekdays(year), dates(holidays, year), "{year}");
        }
        assert_eq!(
            day(ymd(2025, 1, 9)),
            Ok(Day::Holiday("National Day of Mourning (Jimmy Carter)"))
        );
        assert_eq!(day(ymd(2024, 3, 29)), Ok(Day::Holiday("Good Friday")));
        assert_eq!(day(ymd(2024, 6, 15)), Ok(Day::Weekend));
    }

    #[test]
    fn early_closes_match_the_published_nyse_tables() {
        assert_eq!(early_closes(2016), dates(&[(11, 25)], 2016));
        assert_eq!(
            early_closes(2019),
            dates(&[(7, 3), (11, 29), (12, 24)], 2019)
        );
        // Christmas Eve 2021 was the observed Christmas holiday.
        assert_eq!(early_closes(2021), dates(&[(11, 26)], 2021));
        assert_eq!(
            early_closes(2025),
            dates(&[(7, 3), (11, 28), (12, 24)], 2025)
        );
        // July 3, 2026 is the observed Independence Day.
        assert_eq!(early_closes(2026), dates(&[(11, 27), (12, 24)], 2026));
        let Ok(Day::Open(s)) = day(ymd(2024, 11, 29)) else {
            panic!("open")
        };
        assert_eq!(s.close.to_rfc3339(), "2024-11-29T18:00:00+00:00");
        assert_eq!(s.post_close.to_rfc3339(), "2024-11-29T22:00:00+00:00");
    }

    #[test]
    fn session_counts_per_year_match_the_nyse() {
        for (year, count) in [
            (2016, 252),
            (2018, 251),
            (2019, 252),
            (2022, 251),
            (2023, 250),
            (2024, 252),
            (2025, 250),
        ] {
            assert_eq!(sessions_in(year), count, "{year}");
        }
    }

    #[test]
    fn hours_follow_daylight_saving_time() {
        let Ok(Day::Open(summer)) = day(ymd(2024, 7, 2)) else {
            panic!("open")
        };
        assert_eq!(summer.pre_open.to_rfc3339(), "2024-07-02T08:00:00+00:00");
        assert_eq!(summer.open.to_rfc3339(), "2024-07-02T13:30:00+00:00");
        assert_eq!(summer.close.to_rfc3339(), "2024-07-02T20:00:00+00:00");
        assert_eq!(summer.post_close.to_rfc3339(), "2024-07-03T00:00:00+00:00");
        let Ok(Day::Open(winter)) = day(ymd(2024, 1, 2)) else {
            panic!("open")
        };
        assert_eq!(winter.open.to_rfc3339(), "2024-01-02T14:30:00+00:00");
        assert!(!winter.early_close);
    }

    #[test]
    fn outside_the_years_it_cannot_tell() {
        assert!(day(ymd(2015, 12, 31)).is_err());
        assert!(day(ymd(2031, 1, 2)).is_err());
        assert!(next_session_after(new_york(ymd(2030, 12, 31), 21, 0)).is_err());
        let next = next_session_after(new_york(ymd(2024, 12, 24), 18, 0)).unwrap();
        assert_eq!(next.date, ymd(2024, 12, 26));
    }

    #[test]
    fn sessions_overlapping_a_span() {
        let week = sessions_overlapping(
            new_york(ymd(2024, 12, 21), 0, 0),
            new_york(ymd(2025, 1, 4), 0, 0),
        )
        .unwrap();
        let days: Vec<u32> = week.iter().map(|s| s.date.day()).collect();
        assert_eq!(days, [23, 24, 26, 27, 30, 31, 2, 3]);
        // The night between two sessions holds none.
        assert!(
            sessions_overlapping(
                new_york(ymd(2024, 6, 12), 20, 0),
                new_york(ymd(2024, 6, 13), 4, 0)
            )
            .unwrap()
            .is_empty()
        );
    }
}

//! NYSE trading calendar of the emulator, computed by rule (meant for 2015–2030): which dates
//! are trading days and the UTC instants of each day's extended and regular session.
//!
//! Owns: the holiday rules (observed dates, Easter for Good Friday, Juneteenth from 2022),
//! the two special closures (2018-12-05, 2025-01-09) and the 13:00 ET early closes.
//! Must not: know about symbols, bars or HTTP, or share code with `src/market/calendar.rs`.
//!
//! This is an independent copy of the market calendar, on purpose: the emulator is the oracle
//! the tests check barkeep against, so a rule written wrong in barkeep's calendar must not be
//! copied into it (a shared calendar would agree with itself and hide the bug). The two are
//! written apart, and `calendar::the_calendar_equals_exchange_calendars_xnys` checks barkeep's
//! against a third, `exchange_calendars`' XNYS.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;

/// One trading day's session boundaries, in UTC.
///
/// Extended hours run `pre_open..post_close` (04:00–20:00 ET, or 04:00–17:00 ET on an early
/// close); the regular session runs `open..close` (09:30–16:00 ET, or 09:30–13:00 ET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) pre_open: DateTime<Utc>,
    pub(crate) open: DateTime<Utc>,
    pub(crate) close: DateTime<Utc>,
    pub(crate) post_close: DateTime<Utc>,
}

/// Whether the NYSE is open (at least for part of the day) on `date`.
pub(crate) fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// Whether `date` is a trading day on which the regular session ends at 13:00 ET.
pub(crate) fn is_early_close(date: NaiveDate) -> bool {
    if !is_trading_day(date) {
        return false;
    }
    let (m, d) = (date.month(), date.day());
    (m == 7 && d == 3)
        || (m == 12 && d == 24)
        || date
            .pred_opt()
            .is_some_and(|prev| prev == thanksgiving(date.year()))
}

/// The session of `date`, or `None` when the market is closed all day.
pub(crate) fn session(date: NaiveDate) -> Option<Session> {
    if !is_trading_day(date) {
        return None;
    }
    let early = is_early_close(date);
    Some(Session {
        pre_open: new_york(date, 4, 0),
        open: new_york(date, 9, 30),
        close: if early {
            new_york(date, 13, 0)
        } else {
            new_york(date, 16, 0)
        },
        post_close: if early {
            new_york(date, 17, 0)
        } else {
            new_york(date, 20, 0)
        },
    })
}

/// `date` at `hour:minute` New York wall-clock time, in UTC.
///
/// Only called with times that exist exactly once (DST switches happen at 02:00 ET).
pub(crate) fn new_york(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour, minute, 0).expect("valid wall-clock time");
    New_York
        .from_local_datetime(&date.and_time(time))
        .earliest()
        .expect("New York wall-clock time exists")
        .with_timezone(&Utc)
}

/// The New York calendar date of an instant.
pub(crate) fn new_york_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&New_York).date_naive()
}

fn is_holiday(date: NaiveDate) -> bool {
    let year = date.year();
    let special = [ymd(2018, 12, 5), ymd(2025, 1, 9)];
    if special.contains(&date) {
        return true;
    }
    let mut fixed = vec![
        observed(ymd(year, 7, 4)),
        observed(ymd(year, 12, 25)),
        nth_weekday(year, 1, Weekday::Mon, 3),
        nth_weekday(year, 2, Weekday::Mon, 3),
        easter(year) - Duration::days(2),
        last_weekday(year, 5, Weekday::Mon),
        nth_weekday(year, 9, Weekday::Mon, 1),
        thanksgiving(year),
    ];
    if year >= 2022 {
        fixed.push(observed(ymd(year, 6, 19)));
    }
    // New Year's Day moves to Monday when it falls on a Sunday, but a Saturday New Year's Day
    // closes nothing: the NYSE does not close on the last Friday of the year before.
    let new_year = ymd(year, 1, 1);
    match new_year.weekday() {
        Weekday::Sun => fixed.push(ymd(year, 1, 2)),
        Weekday::Sat => {}
        _ => fixed.push(new_year),
    }
    fixed.contains(&date)
}

/// Saturday holidays are observed on the Friday before, Sunday ones on the Monday after.
fn observed(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    }
}

fn thanksgiving(year: i32) -> NaiveDate {
    nth_weekday(year, 11, Weekday::Thu, 4)
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("weekday exists")
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, 5)
        .unwrap_or_else(|| nth_weekday(year, month, weekday, 4))
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
    ymd(year, month as u32, day as u32)
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trading_days(year: i32) -> usize {
        ymd(year, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == year)
            .filter(|d| is_trading_day(*d))
            .count()
    }

    #[test]
    fn trading_day_counts_match_the_nyse() {
        assert_eq!(trading_days(2024), 252);
        assert_eq!(trading_days(2023), 250);
        assert_eq!(trading_days(2022), 251);
        assert_eq!(trading_days(2019), 252);
        assert_eq!(trading_days(2018), 251);
    }

    #[test]
    fn holidays_are_closed() {
        assert!(!is_trading_day(ymd(2024, 3, 29)), "Good Friday 2024");
        assert!(!is_trading_day(ymd(2024, 1, 15)), "MLK 2024");
        assert!(!is_trading_day(ymd(2024, 5, 27)), "Memorial Day 2024");
        assert!(!is_trading_day(ymd(2024, 11, 28)), "Thanksgiving 2024");
        assert!(
            !is_trading_day(ymd(2021, 12, 24)),
            "Christmas 2021 observed"
        );
        assert!(!is_trading_day(ymd(2023, 1, 2)), "New Year 2023 observed");
        assert!(
            !is_trading_day(ymd(2020, 7, 3)),
            "Independence Day 2020 observed"
        );
        assert!(!is_trading_day(ymd(2018, 12, 5)), "Bush");
        assert!(!is_trading_day(ymd(2025, 1, 9)), "Carter");
        assert!(!is_trading_day(ymd(2024, 6, 15)), "Saturday");
        assert!(is_trading_day(ymd(2024, 6, 14)));
        // New Year's Day 2022 was a Saturday: Friday 2021-12-31 stayed open.
        assert!(is_trading_day(ymd(2021, 12, 31)));
    }

    #[test]
    fn juneteenth_starts_in_2022() {
        assert!(is_trading_day(ymd(2021, 6, 18)));
        assert!(is_trading_day(ymd(2021, 6, 21)));
        assert!(!is_trading_day(ymd(2022, 6, 20)), "2022 observed on Monday");
        assert!(!is_trading_day(ymd(2024, 6, 19)));
    }

    #[test]
    fn early_closes_end_at_13_00() {
        for date in [ymd(2024, 7, 3), ymd(2024, 11, 29), ymd(2024, 12, 24)] {
            let s = session(date).expect("open");
            assert_eq!(s.close, new_york(date, 13, 0), "{date}");
            assert_eq!(s.post_close, new_york(date, 17, 0), "{date}");
        }
        let normal = session(ymd(2024, 7, 2)).expect("open");
        assert_eq!(normal.close.to_rfc3339(), "2024-07-02T20:00:00+00:00");
        assert_eq!(normal.pre_open.to_rfc3339(), "2024-07-02T08:00:00+00:00");
        assert_eq!(normal.open.to_rfc3339(), "2024-07-02T13:30:00+00:00");
        assert_eq!(normal.post_close.to_rfc3339(), "2024-07-03T00:00:00+00:00");
        let winter = session(ymd(2024, 1, 2)).expect("open");
        assert_eq!(winter.open.to_rfc3339(), "2024-01-02T14:30:00+00:00");
        assert!(session(ymd(2024, 3, 29)).is_none());
    }

    #[test]
    fn easter_is_right() {
        assert_eq!(easter(2024), ymd(2024, 3, 31));
        assert_eq!(easter(2025), ymd(2025, 4, 20));
        assert_eq!(easter(2019), ymd(2019, 4, 21));
    }
}

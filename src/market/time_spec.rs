//! The `WHEN` syntax of `--start`, `--end` and `--before`: a calendar day, an RFC 3339
//! instant, a span back from now, or `now`. Parsing is separate from resolving, because a
//! calendar day means New York midnight for stocks and UTC midnight for crypto, and "now" is
//! always passed in, never read from the clock here.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, Months, NaiveDate, TimeDelta, TimeZone, Utc};

/// A point in time as the user wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `2024-01-31`: a calendar day (the whole day when used as an end).
    Date(NaiveDate),
    /// `2024-01-31T14:30:00Z` or with an offset.
    Instant(DateTime<Utc>),
    /// `90d`, `12w`, `6mo`, `1y`, `12h`, `30min`: that long before now.
    Ago(Span),
    /// `now`.
    Now,
}

/// A length of time counted back from now, in calendar units where they matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Minutes(u32),
    Hours(u32),
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WhenError {
    #[error(
        "invalid date or time `{0}`: use YYYY-MM-DD, an RFC 3339 time such as 2024-01-31T14:30:00Z, a span back from now such as 90d, 12w, 6mo or 1y, or `now`"
    )]
    Malformed(String),
    #[error("`{0}` lies outside the dates barkeep can handle; use a date between 1970 and 2200")]
    OutOfRange(String),
}

impl FromStr for When {
    type Err = WhenError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let text = input.trim();
        let malformed = || WhenError::Malformed(input.escape_debug().to_string());
        if text.eq_ignore_ascii_case("now") {
            return Ok(When::Now);
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return in_range(When::Date(date), input);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return in_range(When::Instant(t.with_timezone(&Utc)), input);
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let amount: u32 = number.parse().map_err(|_| malformed())?;
        let span = match unit {
            "min" => Span::Minutes(amount),
            "h" => Span::Hours(amount),
            "d" => Span::Days(amount),
            "w" => Span::Weeks(amount),
            "mo" => Span::Months(amount),
            "y" => Span::Years(amount),
            _ => return Err(malformed()),
        };
        if amount > 200 * 366 {
            return Err(WhenError::OutOfRange(input.to_owned()));
        }
        Ok(When::Ago(span))
    }
}

fn in_range(when: When, input: &str) -> Result<When, WhenError> {
    let date = match when {
        When::Date(d) => d,
        When::Instant(t) => t.date_naive(),
        _ => return Ok(when),
    };
    if (1970..=2200).contains(&chrono::Datelike::year(&date)) {
        Ok(when)
    } else {
        Err(WhenError::OutOfRange(input.to_owned()))
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Date(d) => write!(f, "{d}"),
            When::Instant(t) => write!(
                f,
                "{}",
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            When::Now => f.write_str("now"),
            When::Ago(span) => match span {
                Span::Minutes(n) => write!(f, "{n}min"),
                Span::Hours(n) => write!(f, "{n}h"),
                Span::Days(n) => write!(f, "{n}d"),
                Span::Weeks(n) => write!(f, "{n}w"),
                Span::Months(n) => write!(f, "{n}mo"),
                Span::Years(n) => write!(f, "{n}y"),
            },
        }
    }
}

impl When {
    /// The first instant this names. `zone` gives the meaning of a calendar day.
    pub fn resolve_start<Tz: TimeZone>(self, now: DateTime<Utc>, zone: &Tz) -> DateTime<Utc> {
        match self {
            When::Date(date) => midnight(date, zone),
            When::Instant(t) => t,
            When::Ago(span) => back_from(now, span),
            When::Now => now,
        }
    }

    /// The exclusive end this names: a calendar day includes the whole day, an instant
    /// includes itself.
    pub fn resolve_end<Tz: TimeZone>(self, now: DateTime<Utc>, zone: &Tz) -> DateTime<Utc> {
        match self {
            When::Date(date) => midnight(date.checked_add_days(Days::new(1)).unwrap_or(date), zone),
            When::Instant(t) => t + TimeDelta::nanoseconds(1),
            When::Ago(span) => back_from(now, span),
            When::Now => now,
        }
    }
}

/// 00:00 of `date` in `zone`, as UTC. Where midnight does not exist (a DST jump at
/// midnight), the first instant of the day.
pub fn midnight<Tz: TimeZone>(date: NaiveDate, zone: &Tz) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("00:00:00 is a valid time");
    match zone.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => zone
            .from_local_datetime(&(naive + TimeDelta::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

fn back_from(now: DateTime<Utc>, span: Span) -> DateTime<Utc> {
    let earliest = DateTime::<Utc>::UNIX_EPOCH;
    let result = match span {
        Span::Minutes(n) => now.checked_sub_signed(TimeDelta::minutes(i64::from(n))),
        Span::Hours(n) => now.checked_sub_signed(TimeDelta::hours(i64::from(n))),
        Span::Days(n) => now.checked_sub_signed(TimeDelta::days(i64::from(n))),
        Span::Weeks(n) => now.checked_sub_signed(TimeDelta::weeks(i64::from(n))),
        Span::Months(n) => now.checked_sub_months(Months::new(n)),
        Span::Years(n) => n
            .checked_mul(12)
            .and_then(|m| now.checked_sub_months(Months::new(m))),
    };
    result.unwrap_or(earliest).max(earliest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::NEW_YORK;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dates_are_new_york_days_for_stocks_and_utc_days_for_crypto() {
        let now = utc("2024-06-14T20:30:00Z");
        let day: When = "2024-01-02".parse().unwrap();
        assert_eq!(
            day.resolve_start(now, &NEW_YORK),
            utc("2024-01-02T05:00:00Z")
        );
        assert_eq!(day.resolve_end(now, &NEW_YORK), utc("2024-01-03T05:00:00Z"));
        let summer: When = "2024-06-03".parse().unwrap();
        assert_eq!(
            summer.resolve_start(now, &NEW_YORK),
            utc("2024-06-03T04:00:00Z")
        );
        assert_eq!(day.resolve_start(now, &Utc), utc("2024-01-02T00:00:00Z"));
        assert_eq!(day.resolve_end(now, &Utc), utc("2024-01-03T00:00:00Z"));
    }

    #[test]
    fn instants_and_spans() {
        let now = utc("2024-06-14T20:30:00Z");
        let at: When = "2024-01-02T09:30:00-05:00".parse().unwrap();
        assert_eq!(
            at.resolve_start(now, &NEW_YORK),
            utc("2024-01-02T14:30:00Z")
        );
        assert_eq!(
            at.resolve_end(now, &NEW_YORK),
            utc("2024-01-02T14:30:00.000000001Z")
        );
        let cases = [
            ("90d", "2024-03-16T20:30:00Z"),
            ("12w", "2024-03-22T20:30:00Z"),
            ("6mo", "2023-12-14T20:30:00Z"),
            ("1y", "2023-06-14T20:30:00Z"),
            ("12h", "2024-06-14T08:30:00Z"),
            ("30min", "2024-06-14T20:00:00Z"),
        ];
        for (input, expected) in cases {
            let when: When = input.parse().unwrap();
            assert_eq!(when.resolve_start(now, &NEW_YORK), utc(expected), "{input}");
            assert_eq!(when.to_string(), input);
        }
        assert_eq!("now".parse::<When>().unwrap().resolve_end(now, &Utc), now);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "2024/01/02",
            "10",
            "5x",
            "d",
            "2024-01-02T10:00:00",
            "0099-01-01",
        ] {
            assert!(bad.parse::<When>().is_err(), "{bad:?}");
        }
    }
}

//! The tests' one set of date and time helpers: a UTC instant, a calendar date and New York
//! wall-clock time from the text a test would write, and an instant back to barkeep's text.
//! Tests import them from `support`; they live here because the emulator uses them too and
//! must build on its own (`benches/scale.rs` includes it without the rest of `support`).
//!
//! Owns: parsing test literals (panicking on a typo) and formatting an instant as RFC 3339.
//! Must not: know about sessions or holidays (that is the emulator's calendar).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::America::New_York;

/// An instant from RFC 3339 text: `utc("2024-06-14T20:30:00Z")`.
pub(crate) fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .to_utc()
}

/// A calendar date: `d("2024-06-14")`.
pub(crate) fn d(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .unwrap_or_else(|e| panic!("{text:?} is not YYYY-MM-DD: {e}"))
}

/// New York wall-clock time, as the instant it is: `ny("2024-06-14 16:00")` (EDT or EST,
/// whichever New York was on).
pub(crate) fn ny(text: &str) -> DateTime<Utc> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{text:?} is not YYYY-MM-DD HH:MM: {e}"));
    New_York
        .from_local_datetime(&local)
        .single()
        .unwrap_or_else(|| panic!("{text} happens zero or two times in New York"))
        .to_utc()
}

/// An instant as barkeep prints it: `2024-06-14T20:30:00Z`, fractions only when there are any.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_time_follows_daylight_saving() {
        assert_eq!(ny("2024-06-14 16:00"), utc("2024-06-14T20:00:00Z"));
        assert_eq!(ny("2024-12-13 16:00"), utc("2024-12-13T21:00:00Z"));
        assert_eq!(
            rfc3339(utc("2024-06-14T16:00:00-04:00")),
            "2024-06-14T20:00:00Z"
        );
        assert_eq!(
            d("2024-02-29"),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
    }
}

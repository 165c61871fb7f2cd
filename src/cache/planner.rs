//! The gap planner: given what a user asked for, what a series already covers, the current
//! time and the timeframe, decide which intervals to ask Alpaca for. Pure: no I/O, no clock.
//!
//! Two rules shape the plan:
//! - Requests are widened to whole bars (a bar is identified by its start), so coverage
//!   boundaries fall on bar starts and a later, slightly different request does not leave a
//!   sliver to ask for.
//! - Settling: the bar still forming and a short window after it may still change (Alpaca
//!   recomputes bars for late trades), so coverage only ever extends to [`settled_until`].
//!   Bars after that point are stored but asked for again on the next run.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeDelta, Utc};

use crate::market::time_spec::midnight;
use crate::market::timeframe::TimeUnit;
use crate::market::{AssetClass, Interval, IntervalSet, NEW_YORK, Timeframe};

/// How long after a bar ends it may still be revised.
pub const SETTLE_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// The start of the bar that contains `t` (or an earlier bar boundary). Intraday bars are
/// aligned to whole multiples of their length within the UTC day; day, week and month bars
/// start at midnight in New York for stocks and in UTC for crypto.
pub fn bar_floor(t: DateTime<Utc>, timeframe: Timeframe, class: AssetClass) -> DateTime<Utc> {
    let day_start = |date: NaiveDate| match class {
        AssetClass::Stocks => midnight(date, &NEW_YORK),
        AssetClass::Crypto => midnight(date, &Utc),
    };
    let local_date = match class {
        AssetClass::Stocks => t.with_timezone(&NEW_YORK).date_naive(),
        AssetClass::Crypto => t.date_naive(),
    };
    let step = |unit: i64| {
        let since_midnight = (t - midnight(t.date_naive(), &Utc)).num_seconds();
        let length = unit * i64::from(timeframe.amount());
        midnight(t.date_naive(), &Utc)
            + TimeDelta::seconds(since_midnight - since_midnight.rem_euclid(length))
    };
    match timeframe.unit() {
        TimeUnit::Minute => step(60),
        TimeUnit::Hour => step(3600),
        TimeUnit::Day => day_start(local_date).min(t),
        TimeUnit::Week => {
            let monday =
                local_date - Days::new(u64::from(local_date.weekday().num_days_from_monday()));
            day_start(monday).min(t)
        }
        TimeUnit::Month => day_start(local_date.with_day(1).unwrap_or(local_date)).min(t),
    }
}

/// The first bar boundary at or after `t`.
pub fn bar_ceil(t: DateTime<Utc>, timeframe: Timeframe, class: AssetClass) -> DateTime<Utc> {
    let floor = bar_floor(t, timeframe, class);
    if floor == t {
        return t;
    }
    // Step past `t` by at most one bar length, then floor: lands on the next boundary.
    let mut probe = floor + timeframe.max_bar_length();
    if bar_floor(probe, timeframe, class) <= t {
        probe += timeframe.max_bar_length();
    }
    bar_floor(probe, timeframe, class).max(t)
}

/// Coverage never extends past this instant: every bar that starts before it has ended at
/// least [`SETTLE_WINDOW`] ago.
pub fn settled_until(now: DateTime<Utc>, timeframe: Timeframe, class: AssetClass) -> DateTime<Utc> {
    let settled_end = now - SETTLE_WINDOW;
    if timeframe.is_intraday() {
        // Intraday alignment of multi-hour bars is not documented; step back a whole bar so
        // the bound holds whatever the alignment.
        bar_floor(
            settled_end - timeframe.max_bar_length() + Duration::nanoseconds(1),
            timeframe,
            class,
        )
    } else {
        bar_floor(settled_end, timeframe, class)
    }
}

/// The intervals to ask Alpaca for so that `requested` (clipped at `now`) is fully known.
/// Never overlaps `coverage`; empty when everything requested is covered.
pub fn plan_gaps(
    requested: Interval,
    coverage: &IntervalSet,
    now: DateTime<Utc>,
    timeframe: Timeframe,
    class: AssetClass,
) -> Vec<Interval> {
    let start = bar_floor(requested.start, timeframe, class);
    let end = bar_ceil(requested.end.min(now), timeframe, class);
    match Interval::new(start, end) {
        Some(wanted) => coverage.missing_from(wanted),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn tf(s: &str) -> Timeframe {
        s.parse().unwrap()
    }

    #[test]
    fn floors_and_ceilings_follow_alpaca_stamps() {
        let t = utc("2024-01-03T14:37:12Z");
        assert_eq!(
            bar_floor(t, tf("1Min"), AssetClass::Stocks),
            utc("2024-01-03T14:37:00Z")
        );
        assert_eq!(
            bar_floor(t, tf("15Min"), AssetClass::Stocks),
            utc("2024-01-03T14:30:00Z")
        );
        assert_eq!(
            bar_floor(t, tf("4Hour"), AssetClass::Stocks),
            utc("2024-01-03T12:00:00Z")
        );
        assert_eq!(
            bar_floor(t, tf("1Day"), AssetClass::Stocks),
            utc("2024-01-03T05:00:00Z")
        );
        assert_eq!(
            bar_floor(utc("2024-01-03T03:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-01-02T05:00:00Z")
        );
        assert_eq!(
            bar_floor(t, tf("1Day"), AssetClass::Crypto),
            utc("2024-01-03T00:00:00Z")
        );
        assert_eq!(
            bar_floor(t, tf("1Week"), AssetClass::Stocks),
            utc("2024-01-01T05:00:00Z")
        );
        assert_eq!(
            bar_floor(
                utc("2024-06-20T12:00:00Z"),
                tf("1Month"),
                AssetClass::Stocks
            ),
            utc("2024-06-01T04:00:00Z")
        );
        assert_eq!(
            bar_ceil(t, tf("1Day"), AssetClass::Stocks),
            utc("2024-01-04T05:00:00Z")
        );
        assert_eq!(
            bar_ceil(utc("2024-03-09T12:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-03-10T05:00:00Z")
        );
        assert_eq!(
            bar_ceil(utc("2024-03-10T12:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-03-11T04:00:00Z")
        );
        assert_eq!(
            bar_ceil(
                utc("2024-01-31T12:00:00Z"),
                tf("1Month"),
                AssetClass::Stocks
            ),
            utc("2024-02-01T05:00:00Z")
        );
        assert_eq!(
            bar_ceil(utc("2024-01-03T05:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-01-03T05:00:00Z")
        );
    }

    #[test]
    fn settling_excludes_the_forming_bar() {
        // Friday 16:30 New York: Thursday's daily bar is settled, Friday's is not.
        let now = utc("2024-06-14T20:30:00Z");
        assert_eq!(
            settled_until(now, tf("1Day"), AssetClass::Stocks),
            utc("2024-06-14T04:00:00Z")
        );
        // Saturday: Friday's bar is settled.
        assert_eq!(
            settled_until(utc("2024-06-15T16:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-06-15T04:00:00Z")
        );
        let minute = settled_until(now, tf("1Min"), AssetClass::Stocks);
        assert_eq!(minute, utc("2024-06-14T20:14:00Z"));
    }

    #[test]
    fn covered_requests_plan_nothing_and_extensions_plan_the_edges() {
        let class = AssetClass::Stocks;
        let now = utc("2024-06-14T20:30:00Z");
        let day = tf("1Day");
        let covered = IntervalSet::from_intervals([Interval::new(
            utc("2021-01-04T05:00:00Z"),
            utc("2021-12-31T05:00:00Z"),
        )
        .unwrap()]);
        let inside =
            Interval::new(utc("2021-03-01T05:00:00Z"), utc("2021-07-01T04:00:00Z")).unwrap();
        assert!(plan_gaps(inside, &covered, now, day, class).is_empty());
        let wider =
            Interval::new(utc("2020-06-01T04:00:00Z"), utc("2022-01-05T05:00:00Z")).unwrap();
        assert_eq!(
            plan_gaps(wider, &covered, now, day, class),
            vec![
                Interval::new(utc("2020-06-01T04:00:00Z"), utc("2021-01-04T05:00:00Z")).unwrap(),
                Interval::new(utc("2021-12-31T05:00:00Z"), utc("2022-01-05T05:00:00Z")).unwrap(),
            ]
        );
    }

    fn instant(minutes: i64) -> DateTime<Utc> {
        utc("2024-01-01T00:00:00Z") + TimeDelta::minutes(minutes)
    }

    proptest! {
        #[test]
        fn plan_never_overlaps_coverage_and_covers_every_missing_instant(
            covered in proptest::collection::vec((0i64..20_000, 1i64..5_000), 0..6),
            start in 0i64..30_000,
            length in 1i64..30_000,
            now in 0i64..40_000,
            tf_index in 0usize..6,
            probes in proptest::collection::vec(0i64..60_000, 20),
        ) {
            let timeframe = [tf("1Min"), tf("5Min"), tf("1Hour"), tf("4Hour"), tf("1Day"), tf("1Week")][tf_index];
            let class = AssetClass::Stocks;
            let coverage = IntervalSet::from_intervals(covered.iter().filter_map(|&(s, l)| Interval::new(instant(s), instant(s + l))));
            let requested = Interval::new(instant(start), instant(start + length)).unwrap();
            let now = instant(now);
            let gaps = plan_gaps(requested, &coverage, now, timeframe, class);
            for gap in &gaps {
                prop_assert!(coverage.missing_from(*gap) == vec![*gap], "gap {:?} overlaps coverage", gap);
            }
            prop_assert!(gaps.windows(2).all(|w| w[0].end <= w[1].start));
            for p in probes {
                let t = instant(p) ;
                if requested.contains(t) && t < now && !coverage.contains(t) {
                    prop_assert!(gaps.iter().any(|g| g.contains(t)), "{} is missing and not planned", t);
                }
            }
            // Once the gaps are covered, nothing is left to plan.
            let mut filled = coverage.clone();
            for gap in &gaps { filled.insert(*gap); }
            prop_assert!(plan_gaps(requested, &filled, now, timeframe, class).is_empty());
        }
    }
}

//! The gap planner: given what a user asked for, what a series already covers, the current
//! time and the timeframe, decide which intervals to ask Alpaca for. Pure: no I/O, no clock.
//!
//! Two rules shape the plan:
//! - Requests are widened to whole bars (a bar is identified by its start), so coverage
//!   boundaries fall on bar starts and a later, slightly different request does not leave a
//!   sliver to ask for.
//! - Settling: the bar still forming and a short window after it may still change (Alpaca
//!   recomputes bars for late trades), so coverage only ever extends to [`settled_until`].
//!   Bars after that point are stored but asked for again on the next run. For stocks a bar
//!   is settled once the last session in it has ended (20:00 New York, 17:00 on an early
//!   close) and the window has passed: at 22:30 a day's daily bar and all its minute bars are.
//! - The market calendar ([`crate::market::calendar`]) shapes stock requests: a gap that holds
//!   no session (a weekend, a holiday, the night between sessions) is not asked for at all,
//!   and a request is trimmed to the first and last session it spans ([`plan_asks`]). Outside
//!   the calendar's years every gap is asked for whole, as if there were no calendar.

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeDelta, Utc};

use crate::market::calendar::{self, Session};
use crate::market::time_spec::midnight;
use crate::market::timeframe::TimeUnit;
use crate::market::{AssetClass, Interval, IntervalSet, Timeframe};

/// How long after a bar ends it may still be revised.
pub const SETTLE_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// The start of the bar that contains `t` (or an earlier bar boundary). Intraday bars are
/// aligned to whole multiples of their length within the UTC day; day, week and month bars
/// start at midnight in New York for stocks and in UTC for crypto.
pub fn bar_floor(t: DateTime<Utc>, timeframe: Timeframe, class: AssetClass) -> DateTime<Utc> {
    let day_start = |date: NaiveDate| class.day_start(date);
    let local_date = class.local_date(t);
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
    // Between two sessions every bar before the next session's first bar is final.
    if class == AssetClass::Stocks
        && let Ok(None) = calendar::session_at(settled_end)
        && let Ok(next) = calendar::next_session_after(settled_end)
    {
        return match timeframe.unit() {
            // See below: multi-hour alignment is not documented, keep a whole bar back.
            TimeUnit::Hour => bar_floor(
                next.pre_open - timeframe.max_bar_length() + Duration::nanoseconds(1),
                timeframe,
                class,
            ),
            _ => bar_floor(next.pre_open, timeframe, class),
        };
    }
    legacy_settled_until(settled_end, timeframe, class)
}

/// The settled bound without a calendar: the bar holding `settled_end` may still change.
fn legacy_settled_until(
    settled_end: DateTime<Utc>,
    timeframe: Timeframe,
    class: AssetClass,
) -> DateTime<Utc> {
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

/// One request of a plan: `range` is what Alpaca is asked for, `gap` the missing interval its
/// answer fills (`range` trimmed to the sessions of `gap`; equal when nothing was trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ask {
    pub range: Interval,
    pub gap: Interval,
}

/// The plan of one series: what to ask, and what is missing but holds no session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GapPlan {
    pub asks: Vec<Ask>,
    /// Gaps that hold no session: no bar can exist there, so nothing is asked. Their settled
    /// part is recorded as covered when the series is committed for another reason.
    pub closed: Vec<Interval>,
    /// Some gap reached outside the calendar's years and was asked for whole.
    pub beyond_calendar: bool,
}

impl GapPlan {
    /// The ranges that will be asked for.
    pub fn ranges(&self) -> Vec<Interval> {
        self.asks.iter().map(|a| a.range).collect()
    }
}

/// How the calendar shapes one gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// Ask for this part of the gap (the first to the last session it spans).
    Ask(Interval),
    /// No session: nothing to ask.
    Closed,
    /// The gap reaches outside the calendar: ask for all of it.
    Unknown,
}

/// What to ask for one gap (bar-aligned, from [`plan_gaps`]) of a series, at `now`.
///
/// Crypto trades around the clock: every gap is asked for. For stocks, the sessions that
/// have begun by `now` inside the gap decide: intraday bars exist in the extended hours
/// (04:00-20:00 New York); a daily, weekly or monthly bar is asked for once a regular
/// session (09:30) in it has begun, so a pre-market run does not ask for a bar that
/// cannot settle before night.
pub fn trim(gap: Interval, now: DateTime<Utc>, timeframe: Timeframe, class: AssetClass) -> Trim {
    if class == AssetClass::Crypto {
        return Trim::Ask(gap);
    }
    let window_end = gap.end.min(now);
    if window_end <= gap.start {
        return match calendar::sessions_overlapping(gap.start, gap.end) {
            Err(_) => Trim::Unknown,
            Ok(_) => Trim::Closed,
        };
    }
    let sessions = match calendar::sessions_overlapping(gap.start, window_end) {
        Ok(sessions) => sessions,
        Err(_) => return Trim::Unknown,
    };
    let begun = |s: &&Session| timeframe.is_intraday() || s.open < window_end;
    let mut begun = sessions.iter().filter(begun);
    let Some(first) = begun.next() else {
        return Trim::Closed;
    };
    let last = begun.next_back().unwrap_or(first);
    let start = gap.start.max(bar_floor(first.pre_open, timeframe, class));
    let end = gap.end.min(bar_ceil(last.post_close, timeframe, class));
    Interval::new(start, end).map_or(Trim::Ask(gap), Trim::Ask)
}

/// [`plan_gaps`], then [`trim`] of each gap: the requests to send and the gaps that hold no
/// session.
pub fn plan_asks(
    requested: Interval,
    coverage: &IntervalSet,
    now: DateTime<Utc>,
    timeframe: Timeframe,
    class: AssetClass,
) -> GapPlan {
    let mut plan = GapPlan::default();
    for gap in plan_gaps(requested, coverage, now, timeframe, class) {
        match trim(gap, now, timeframe, class) {
            Trim::Ask(range) => plan.asks.push(Ask { range, gap }),
            Trim::Closed => plan.closed.push(gap),
            Trim::Unknown => {
                plan.beyond_calendar = true;
                plan.asks.push(Ask { range: gap, gap });
            }
        }
    }
    plan
}

/// What an answer to `ask` adds to the coverage: from the gap's start to where the answer
/// reaches (the gap's end when it reached the end of the range, the trimmed part holding no
/// session), never past the settled bound.
pub fn covered_by_answer(
    ask: Ask,
    answered_until: DateTime<Utc>,
    settled: DateTime<Utc>,
) -> Option<Interval> {
    let reach = if answered_until >= ask.range.end {
        ask.gap.end
    } else {
        answered_until
    };
    Interval::new(ask.gap.start, reach.min(settled))
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
        // Saturday: everything before Monday's session is settled.
        assert_eq!(
            settled_until(utc("2024-06-15T16:00:00Z"), tf("1Day"), AssetClass::Stocks),
            utc("2024-06-17T04:00:00Z")
        );
        let minute = settled_until(now, tf("1Min"), AssetClass::Stocks);
        assert_eq!(minute, utc("2024-06-14T20:14:00Z"));
        // Crypto has no calendar.
        assert_eq!(
            settled_until(utc("2024-06-15T16:00:00Z"), tf("1Day"), AssetClass::Crypto),
            utc("2024-06-15T00:00:00Z")
        );
    }

    #[test]
    fn a_session_settles_once_its_after_hours_end() {
        let class = AssetClass::Stocks;
        // Wednesday 22:30 New York (EDT): Wednesday's daily bar and minute bars are settled.
        let night = utc("2024-06-13T02:30:00Z");
        assert_eq!(
            settled_until(night, tf("1Day"), class),
            utc("2024-06-13T04:00:00Z")
        );
        assert_eq!(
            settled_until(night, tf("1Min"), class),
            utc("2024-06-13T08:00:00Z")
        );
        assert_eq!(
            settled_until(night, tf("1Week"), class),
            utc("2024-06-10T04:00:00Z")
        );
        // 20:10: the settle window has not passed yet.
        assert_eq!(
            settled_until(utc("2024-06-13T00:10:00Z"), tf("1Day"), class),
            utc("2024-06-12T04:00:00Z")
        );
        // An early close ends after-hours at 17:00: Christmas Eve 2024 at 17:30 is settled.
        assert_eq!(
            settled_until(utc("2024-12-24T22:30:00Z"), tf("1Day"), class),
            utc("2024-12-26T05:00:00Z")
        );
        // Past the calendar: as without one.
        assert_eq!(
            settled_until(utc("2031-06-14T16:00:00Z"), tf("1Day"), class),
            utc("2031-06-14T04:00:00Z")
        );
    }

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(utc(a), utc(b)).unwrap()
    }

    #[test]
    fn gaps_without_a_session_are_not_asked_for() {
        let class = AssetClass::Stocks;
        let day = tf("1Day");
        // Saturday: Friday's bar was settled on Friday night.
        let covered =
            IntervalSet::from_intervals([iv("2024-06-03T04:00:00Z", "2024-06-15T04:00:00Z")]);
        let wanted = iv("2024-06-15T04:00:00Z", "2024-06-15T16:00:00Z");
        let plan = plan_asks(wanted, &covered, utc("2024-06-15T16:00:00Z"), day, class);
        assert!(plan.asks.is_empty());
        assert_eq!(
            plan.closed,
            vec![iv("2024-06-15T04:00:00Z", "2024-06-16T04:00:00Z")]
        );
        // Good Friday 2024 and the weekend after it: nothing to ask.
        let plan = plan_asks(
            iv("2024-03-29T04:00:00Z", "2024-03-31T16:00:00Z"),
            &IntervalSet::new(),
            utc("2024-03-31T16:00:00Z"),
            day,
            class,
        );
        assert!(plan.asks.is_empty());
        // 06:00 New York: the day's regular session has not begun, no daily bar is asked for.
        let plan = plan_asks(
            iv("2024-06-13T04:00:00Z", "2024-06-13T10:00:00Z"),
            &IntervalSet::new(),
            utc("2024-06-13T10:00:00Z"),
            day,
            class,
        );
        assert!(plan.asks.is_empty());
        // The minute bars of that morning are.
        let plan = plan_asks(
            iv("2024-06-13T00:30:00Z", "2024-06-13T10:00:00Z"),
            &IntervalSet::new(),
            utc("2024-06-13T10:00:00Z"),
            tf("1Min"),
            class,
        );
        assert_eq!(
            plan.ranges(),
            vec![iv("2024-06-13T08:00:00Z", "2024-06-13T10:00:00Z")]
        );
        // Crypto: every gap is asked for.
        let plan = plan_asks(
            iv("2024-06-15T00:00:00Z", "2024-06-15T16:00:00Z"),
            &IntervalSet::new(),
            utc("2024-06-15T16:00:00Z"),
            day,
            AssetClass::Crypto,
        );
        assert_eq!(plan.asks.len(), 1);
    }

    #[test]
    fn requests_are_trimmed_to_the_sessions_they_span() {
        let class = AssetClass::Stocks;
        // A week of minute bars, Saturday to Saturday: Monday 04:00 to Friday 20:00.
        let week = iv("2024-06-08T04:00:00Z", "2024-06-15T04:00:00Z");
        let plan = plan_asks(
            week,
            &IntervalSet::new(),
            utc("2024-06-20T00:00:00Z"),
            tf("1Min"),
            class,
        );
        assert_eq!(
            plan.asks,
            vec![Ask {
                range: iv("2024-06-10T08:00:00Z", "2024-06-15T00:00:00Z"),
                gap: week
            }]
        );
        // An answer that reached the end of the range covers the whole gap (when settled).
        assert_eq!(
            covered_by_answer(
                plan.asks[0],
                utc("2024-06-15T00:00:00Z"),
                utc("2024-06-20T00:00:00Z")
            ),
            Some(week)
        );
        // A clamped answer covers up to where it reached.
        assert_eq!(
            covered_by_answer(
                plan.asks[0],
                utc("2024-06-12T00:00:00Z"),
                utc("2024-06-20T00:00:00Z")
            ),
            Some(iv("2024-06-08T04:00:00Z", "2024-06-12T00:00:00Z"))
        );
        // Daily bars over Christmas 2024 to 2025-01-09: the holidays inside stay in the range,
        // the weekend at the end goes.
        let plan = plan_asks(
            iv("2024-12-21T05:00:00Z", "2025-01-12T05:00:00Z"),
            &IntervalSet::new(),
            utc("2025-01-20T00:00:00Z"),
            tf("1Day"),
            class,
        );
        assert_eq!(
            plan.ranges(),
            vec![iv("2024-12-23T05:00:00Z", "2025-01-11T05:00:00Z")]
        );
        // Outside the calendar: the gap is asked for whole, and the plan says so.
        let old = iv("2015-12-26T05:00:00Z", "2016-01-02T05:00:00Z");
        let plan = plan_asks(
            old,
            &IntervalSet::new(),
            utc("2024-01-01T00:00:00Z"),
            tf("1Day"),
            class,
        );
        assert!(plan.beyond_calendar);
        assert_eq!(plan.ranges(), vec![old]);
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
            // The calendar only ever narrows a gap, and every gap is either asked or closed.
            let shaped = plan_asks(requested, &coverage, now, timeframe, class);
            prop_assert_eq!(shaped.asks.len() + shaped.closed.len(), gaps.len());
            for ask in &shaped.asks {
                prop_assert!(gaps.contains(&ask.gap));
                prop_assert!(ask.gap.start <= ask.range.start && ask.range.end <= ask.gap.end);
            }
            // Once the gaps are covered, nothing is left to plan.
            let mut filled = coverage.clone();
            for gap in &gaps { filled.insert(*gap); }
            prop_assert!(plan_gaps(requested, &filled, now, timeframe, class).is_empty());
        }
    }
}

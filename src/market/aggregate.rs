//! Bars built from finer bars (issue #22): which bucket a source bar falls in
//! ([`Buckets`]), and the streaming fold of consecutive source bars into one bar per bucket
//! ([`Aggregator`]).
//!
//! Buckets, by session:
//! - [`Session::Extended`] (what Alpaca serves): N-Min and N-Hour buckets are counted from
//!   local midnight (New York for stocks, UTC for crypto), the last one of a day cut at the
//!   next midnight, as Alpaca's own are; day, week and month buckets are Alpaca's.
//! - [`Session::Regular`] (stocks only): only bars inside the regular session (09:30-16:00
//!   New York, 09:30-13:00 on an early close, from [`calendar`]) count. N-Min and N-Hour
//!   buckets are counted from the session's open, the last one cut at its close; `1Day` is
//!   the session; `1Week` and `N-Month` are Alpaca's weeks (Monday 00:00 New York) and months
//!   (the 1st, 00:00 New York) over those sessions.
//!
//! The rules of a bucket's bar: open of the first bar, close of the last, max high, min low,
//! summed volume and trade count, vwap = sum(vwap x volume) / sum(volume) clamped to
//! [low, high] ((high + low) / 2 when the volume is 0); stamped at the bucket's start. A
//! bucket with no source bar has no bar.
//!
//! Pure: no I/O, no clock.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeDelta, Utc, Weekday};

use super::calendar;
use super::time_spec::midnight;
use super::timeframe::TimeUnit;
use super::{AssetClass, Bar, Interval, NEW_YORK, Timeframe, Volume};

/// Which trading hours the built bars cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// Everything Alpaca serves, pre-market and after-hours included.
    Extended,
    /// The regular session only (stocks).
    Regular,
}

/// The buckets of one timeframe, for one asset class and session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    timeframe: Timeframe,
    class: AssetClass,
    session: Session,
}

impl Buckets {
    /// Crypto has no session: [`Session::Regular`] is taken as extended for it (callers
    /// refuse the combination before).
    pub fn new(timeframe: Timeframe, class: AssetClass, session: Session) -> Self {
        let session = match class {
            AssetClass::Crypto => Session::Extended,
            AssetClass::Stocks => session,
        };
        Self {
            timeframe,
            class,
            session,
        }
    }

    pub fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// The local calendar date of an instant: New York for stocks, UTC for crypto.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.class.local_date(t)
    }

    fn local_midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        match self.class {
            AssetClass::Stocks => midnight(date, &NEW_YORK),
            AssetClass::Crypto => midnight(date, &Utc),
        }
    }

    /// The length of an intraday bucket.
    fn length(&self) -> Option<TimeDelta> {
        let amount = i64::from(self.timeframe.amount());
        match self.timeframe.unit() {
            TimeUnit::Minute => Some(TimeDelta::minutes(amount)),
            TimeUnit::Hour => Some(TimeDelta::hours(amount)),
            TimeUnit::Day | TimeUnit::Week | TimeUnit::Month => None,
        }
    }

    /// The bucket holding the source bar that starts at `t`; `None` when `t` is outside the
    /// regular session (or, for regular buckets, outside the market calendar's years).
    pub fn bucket_of(&self, t: DateTime<Utc>) -> Option<Interval> {
        self.bucket_in(&self.day_of(t)?, t)
    }

    /// The local day holding `t`, with its hours for this session: the time-zone and
    /// calendar work of [`Self::bucket_of`], which an [`Aggregator`] does once per day rather
    /// than once per bar (issue 22: most of a day's minutes lie outside the regular session).
    fn day_of(&self, t: DateTime<Utc>) -> Option<LocalDay> {
        let date = self.local_date(t);
        let span = Interval::new(
            self.local_midnight(date),
            self.local_midnight(date.checked_add_days(Days::new(1))?),
        )?;
        let hours = match self.session {
            Session::Extended => Some(span),
            Session::Regular => calendar::session(date)
                .ok()?
                .and_then(|s| Interval::new(s.open, s.close)),
        };
        Some(LocalDay { date, span, hours })
    }

    /// The bucket holding `t`, which lies in `day`.
    fn bucket_in(&self, day: &LocalDay, t: DateTime<Utc>) -> Option<Interval> {
        let hours = day.hours?;
        if !hours.contains(t) {
            return None;
        }
        let (day_start, day_end) = (hours.start, hours.end);
        let date = day.date;
        match self.timeframe.unit() {
            TimeUnit::Minute | TimeUnit::Hour => {
                let length = self.length()?;
                let steps = (t - day_start).num_nanoseconds()? / length.num_nanoseconds()?;
                let start = day_start + length * i32::try_from(steps).ok()?;
                Interval::new(start, (start + length).min(day_end))
            }
            TimeUnit::Day => Interval::new(day_start, day_end),
            TimeUnit::Week => {
                let monday = date.week(Weekday::Mon).first_day();
                Interval::new(
                    self.local_midnight(monday),
                    self.local_midnight(monday.checked_add_days(Days::new(7))?),
                )
            }
            TimeUnit::Month => {
                let amount = self.timeframe.amount();
                let month0 = date.month0() / amount * amount;
                let first = NaiveDate::from_ymd_opt(date.year(), month0 + 1, 1)?;
                let next = first.checked_add_months(Months::new(amount))?;
                Interval::new(self.local_midnight(first), self.local_midnight(next))
            }
        }
    }
}

/// One local calendar day (New York for stocks, UTC for crypto): its instants, and the hours
/// whose bars count in the session (the whole day for the extended session, the regular
/// session's open to close, none on a day without a session).
#[derive(Debug, Clone, Copy)]
struct LocalDay {
    date: NaiveDate,
    span: Interval,
    hours: Option<Interval>,
}

/// A bar built from source bars, with the bucket it stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BuiltBar {
    pub bucket: Interval,
    pub bar: Bar,
}

/// The bucket being filled: the bar so far and the sum of vwap x volume.
#[derive(Debug, Clone, Copy)]
struct OpenBucket {
    bucket: Interval,
    bar: Bar,
    weighted: f64,
}

impl OpenBucket {
    fn new(bucket: Interval, source: &Bar) -> Self {
        Self {
            bucket,
            bar: Bar {
                timestamp: bucket.start,
                ..*source
            },
            weighted: source.vwap * volume_f64(source.volume),
        }
    }

    fn add(&mut self, source: &Bar) {
        let bar = &mut self.bar;
        bar.high = bar.high.max(source.high);
        bar.low = bar.low.min(source.low);
        bar.close = source.close;
        bar.volume = match (bar.volume, source.volume) {
            (Volume::Shares(a), Volume::Shares(b)) => Volume::Shares(a.saturating_add(b)),
            (a, b) => Volume::Units(volume_f64(a) + volume_f64(b)),
        };
        bar.trade_count = bar.trade_count.saturating_add(source.trade_count);
        self.weighted += source.vwap * volume_f64(source.volume);
    }

    fn finish(self) -> BuiltBar {
        let mut bar = self.bar;
        let volume = volume_f64(bar.volume);
        bar.vwap = if volume > 0.0 {
            // `max`/`min` rather than `clamp`, which panics on a NaN bound.
            (self.weighted / volume).max(bar.low).min(bar.high)
        } else {
            (bar.high + bar.low) / 2.0
        };
        BuiltBar {
            bucket: self.bucket,
            bar,
        }
    }
}

fn volume_f64(volume: Volume) -> f64 {
    match volume {
        Volume::Shares(n) => n as f64,
        Volume::Units(x) => x,
    }
}

/// Folds a series' source bars, in time order, into one bar per bucket. Holds one open
/// bucket, so a bucket spanning two chunks of the source is built whole.
#[derive(Debug, Clone)]
pub struct Aggregator {
    buckets: Buckets,
    open: Option<OpenBucket>,
    /// The local day of the last bar that opened a bucket or fell outside every one.
    day: Option<LocalDay>,
}

impl Aggregator {
    pub fn new(buckets: Buckets) -> Self {
        Self {
            buckets,
            open: None,
            day: None,
        }
    }

    /// Adds the next source bar (later than every bar before it); returns the bar of the
    /// bucket it closes, if any. Bars outside every bucket (outside the session) are skipped.
    pub fn push(&mut self, source: &Bar) -> Option<BuiltBar> {
        if let Some(open) = &mut self.open
            && open.bucket.contains(source.timestamp)
        {
            open.add(source);
            return None;
        }
        let t = source.timestamp;
        let day = match self.day {
            Some(day) if day.span.contains(t) => day,
            _ => *self.day.insert(self.buckets.day_of(t)?),
        };
        let bucket = self.buckets.bucket_in(&day, t)?;
        self.open
            .replace(OpenBucket::new(bucket, source))
            .map(OpenBucket::finish)
    }

    /// The bar of the bucket still open, if any (the source is over).
    pub fn finish(&mut self) -> Option<BuiltBar> {
        self.open.take().map(OpenBucket::finish)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn tf(s: &str) -> Timeframe {
        s.parse().unwrap()
    }

    fn stock(timeframe: &str, session: Session) -> Buckets {
        Buckets::new(tf(timeframe), AssetClass::Stocks, session)
    }

    fn start(b: &Buckets, t: &str) -> Option<String> {
        b.bucket_of(utc(t)).map(|i| {
            format!(
                "{}..{}",
                i.start.format("%Y-%m-%dT%H:%M"),
                i.end.format("%H:%M")
            )
        })
    }

    #[test]
    fn regular_hours_start_at_the_open_and_the_last_is_cut_at_the_close() {
        let hours = stock("1Hour", Session::Regular);
        // 2024-06-03, EDT: the open is 13:30Z.
        assert_eq!(start(&hours, "2024-06-03T13:29:00Z"), None);
        assert_eq!(
            start(&hours, "2024-06-03T13:30:00Z").unwrap(),
            "2024-06-03T13:30..14:30"
        );
        assert_eq!(
            start(&hours, "2024-06-03T19:59:00Z").unwrap(),
            "2024-06-03T19:30..20:00"
        );
        assert_eq!(start(&hours, "2024-06-03T20:00:00Z"), None);
        // EST: the open is 14:30Z.
        assert_eq!(
            start(&hours, "2024-01-02T14:45:00Z").unwrap(),
            "2024-01-02T14:30..15:30"
        );
        // An early close (2024-07-03, 13:00 New York): the last hour is 12:30-13:00.
        assert_eq!(
            start(&hours, "2024-07-03T16:59:00Z").unwrap(),
            "2024-07-03T16:30..17:00"
        );
        assert_eq!(start(&hours, "2024-07-03T17:00:00Z"), None);
        // A holiday, a weekend and a special closure have no session.
        assert_eq!(start(&hours, "2024-07-04T14:00:00Z"), None);
        assert_eq!(start(&hours, "2024-06-08T14:00:00Z"), None);
        assert_eq!(start(&hours, "2018-12-05T15:00:00Z"), None);
        let quarters = stock("15Min", Session::Regular);
        assert_eq!(
            start(&quarters, "2024-06-03T13:44:00Z").unwrap(),
            "2024-06-03T13:30..13:45"
        );
        let days = stock("1Day", Session::Regular);
        assert_eq!(
            start(&days, "2024-07-03T15:00:00Z").unwrap(),
            "2024-07-03T13:30..17:00"
        );
    }

    #[test]
    fn extended_buckets_count_from_local_midnight() {
        // 4Hour stock buckets start at New York midnight: 04:00Z in summer, 05:00Z in winter.
        let four = stock("4Hour", Session::Extended);
        assert_eq!(
            start(&four, "2024-06-03T08:00:00Z").unwrap(),
            "2024-06-03T08:00..12:00"
        );
        assert_eq!(
            start(&four, "2024-01-02T09:00:00Z").unwrap(),
            "2024-01-02T09:00..13:00"
        );
        // 7Min buckets restart at midnight: the day's last one is cut there.
        let seven = stock("7Min", Session::Extended);
        assert_eq!(
            start(&seven, "2024-06-03T13:30:00Z").unwrap(),
            "2024-06-03T13:27..13:34"
        );
        let crypto = Buckets::new(tf("4Hour"), AssetClass::Crypto, Session::Regular);
        assert_eq!(
            start(&crypto, "2024-06-03T03:59:00Z").unwrap(),
            "2024-06-03T00:00..04:00"
        );
        // Weeks and months are Alpaca's, at New York midnight.
        let week = stock("1Week", Session::Regular);
        assert_eq!(
            start(&week, "2024-06-05T15:00:00Z").unwrap(),
            "2024-06-03T04:00..04:00"
        );
        let quarter = stock("3Month", Session::Extended);
        assert_eq!(
            start(&quarter, "2024-06-05T15:00:00Z").unwrap(),
            "2024-04-01T04:00..04:00"
        );
    }

    fn minute(t: &str, open: f64, close: f64, volume: u64, vwap: f64) -> Bar {
        Bar {
            timestamp: utc(t),
            open,
            high: open.max(close) + 0.5,
            low: open.min(close) - 0.5,
            close,
            volume: Volume::Shares(volume),
            trade_count: 2,
            vwap,
        }
    }

    #[test]
    fn a_bucket_takes_first_open_last_close_extremes_sums_and_weighted_vwap() {
        let mut agg = Aggregator::new(stock("1Hour", Session::Regular));
        let bars = [
            minute("2024-06-03T13:29:00Z", 1.0, 1.0, 10, 1.0), // pre-market: skipped
            minute("2024-06-03T13:30:00Z", 10.0, 11.0, 100, 10.5),
            minute("2024-06-03T13:31:00Z", 11.0, 9.0, 300, 10.0),
            minute("2024-06-03T14:30:00Z", 9.0, 9.5, 0, 9.2),
        ];
        let built: Vec<BuiltBar> = bars.iter().filter_map(|b| agg.push(b)).collect();
        assert_eq!(built.len(), 1);
        let bar = built[0].bar;
        assert_eq!(bar.timestamp, utc("2024-06-03T13:30:00Z"));
        assert_eq!((bar.open, bar.close), (10.0, 9.0));
        assert_eq!((bar.high, bar.low), (11.5, 8.5));
        assert_eq!((bar.volume, bar.trade_count), (Volume::Shares(400), 4));
        assert_eq!(bar.vwap, (10.5 * 100.0 + 10.0 * 300.0) / 400.0);
        // No volume: the middle of the range.
        let last = agg.finish().unwrap().bar;
        assert_eq!(last.vwap, (10.0 + 8.5) / 2.0);
        assert!(agg.finish().is_none());
    }

    proptest! {
        /// Cutting the source anywhere (as chunks do) never changes the built bars, and every
        /// built bar keeps low <= vwap <= high.
        #[test]
        fn chunking_does_not_change_the_result(
            gaps in proptest::collection::vec(1i64..180, 1..400),
            cut in 0usize..400,
        ) {
            let mut t = utc("2024-03-08T14:00:00Z");
            let bars: Vec<Bar> = gaps.iter().enumerate().map(|(i, g)| {
                t += TimeDelta::minutes(*g);
                let p = 100.0 + (i % 7) as f64;
                Bar { timestamp: t, ..minute("2024-01-01T00:00:00Z", p, p + 1.0, i as u64 % 5, p + 0.3) }
            }).collect();
            for session in [Session::Regular, Session::Extended] {
                let buckets = stock("1Hour", session);
                let whole: Vec<BuiltBar> = {
                    let mut a = Aggregator::new(buckets);
                    let mut out: Vec<_> = bars.iter().filter_map(|b| a.push(b)).collect();
                    out.extend(a.finish());
                    out
                };
                let cut = cut.min(bars.len());
                let mut a = Aggregator::new(buckets);
                let mut parts: Vec<_> = bars[..cut].iter().filter_map(|b| a.push(b)).collect();
                parts.extend(bars[cut..].iter().filter_map(|b| a.push(b)));
                parts.extend(a.finish());
                prop_assert_eq!(&whole, &parts);
                for b in &whole {
                    prop_assert!(b.bar.low <= b.bar.vwap && b.bar.vwap <= b.bar.high);
                    prop_assert!(b.bucket.contains(b.bar.timestamp));
                }
            }
        }
    }
}

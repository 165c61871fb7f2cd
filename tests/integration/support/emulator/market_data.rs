//! Deterministic market model of the emulator: which bars exist for a symbol, feed, timeframe
//! and clock, and their values.
//!
//! Owns: timeframe and feed parsing, the price/volume model (a smooth function of symbol and
//! time plus hash noise, divided by the symbol's share-count changes so raw prices jump at a
//! split), quiet-minute dropping, bucketing of n-minute/n-hour/week/month bars (from local
//! midnight: New York for stocks, UTC for crypto), and the
//! "forming bar" rule (a bar whose bucket is not over at the clock is partial).
//! Must not: know about HTTP, parameters, pagination or emulator state; the same inputs always
//! give the same bars.

use std::f64::consts::TAU;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::EmuBar;
use super::calendar;

const DAY_SECS: i64 = 86_400;

/// Stocks trade in NYSE sessions and are bucketed in New York time; crypto trades 24/7 and is
/// bucketed in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Market {
    Stock,
    Crypto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

/// A bar length as Alpaca spells it (`5Min`, `5T`, `1Hour`, `1D`, `3Month`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeframe {
    pub(crate) amount: u32,
    pub(crate) unit: Unit,
}

impl Timeframe {
    /// Accepts exactly what Alpaca documents: `[1-59]Min|T`, `[1-23]Hour|H`, `1Day|D`,
    /// `1Week|W`, `[1,2,3,4,6,12]Month|M`. Case-sensitive, no leading zeros.
    pub(crate) fn parse(text: &str) -> Option<Timeframe> {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, suffix) = text.split_at(digits);
        if number.is_empty() || number.starts_with('0') || number.len() > 2 {
            return None;
        }
        let amount: u32 = number.parse().ok()?;
        let unit = match suffix {
            "Min" | "T" => Unit::Minute,
            "Hour" | "H" => Unit::Hour,
            "Day" | "D" => Unit::Day,
            "Week" | "W" => Unit::Week,
            "Month" | "M" => Unit::Month,
            _ => return None,
        };
        let allowed = match unit {
            Unit::Minute => (1..=59).contains(&amount),
            Unit::Hour => (1..=23).contains(&amount),
            Unit::Day | Unit::Week => amount == 1,
            Unit::Month => [1, 2, 3, 4, 6, 12].contains(&amount),
        };
        allowed.then_some(Timeframe { amount, unit })
    }

    /// The timeframe letter used inside page tokens (`M` for minutes, `D` for days, …).
    pub(crate) fn token_code(self) -> &'static str {
        match self.unit {
            Unit::Minute => "M",
            Unit::Hour => "H",
            Unit::Day => "D",
            Unit::Week => "W",
            Unit::Month => "MO",
        }
    }
}

/// A stock data feed. The feeds share prices; the smaller venues see less volume and more
/// quiet minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feed {
    Sip,
    Iex,
    Otc,
    Boats,
}

impl Feed {
    pub(crate) fn parse(text: &str) -> Option<Feed> {
        match text {
            "sip" => Some(Feed::Sip),
            "iex" => Some(Feed::Iex),
            "otc" => Some(Feed::Otc),
            "boats" => Some(Feed::Boats),
            _ => None,
        }
    }

    fn volume_divisor(self) -> f64 {
        match self {
            Feed::Sip => 1.0,
            Feed::Iex => 40.0,
            Feed::Otc => 200.0,
            Feed::Boats => 400.0,
        }
    }

    fn salt(self) -> u64 {
        match self {
            Feed::Sip => 0,
            Feed::Iex => 1,
            Feed::Otc => 2,
            Feed::Boats => 3,
        }
    }
}

/// A change of a stock's share count on its ex-date (a split or a stock dividend): from that
/// New York day on, each old share is `num / den` shares, so raw prices are divided and raw
/// volume multiplied by that ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShareChange {
    pub(crate) ex_date: NaiveDate,
    pub(crate) num: u64,
    pub(crate) den: u64,
}

/// Everything that decides the bars of one symbol: same `Series`, same bars.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Series<'a> {
    pub(crate) symbol: &'a str,
    pub(crate) market: Market,
    /// First date (New York for stocks, UTC for crypto) with any trading.
    pub(crate) listed: NaiveDate,
    pub(crate) feed: Feed,
    pub(crate) timeframe: Timeframe,
    /// Nothing starts after the clock; a bucket still open at the clock is partial.
    pub(crate) clock: DateTime<Utc>,
    /// The symbol's share-count changes, whether or not announced yet at the clock (the market
    /// trades them on their ex-date regardless). Empty for most symbols.
    pub(crate) shares: &'a [ShareChange],
}

impl Series<'_> {
    /// Calls `visit` with every bar whose `t` is in `start..=end`, ascending (or descending),
    /// until `visit` returns `false`.
    pub(crate) fn visit(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        descending: bool,
        visit: &mut dyn FnMut(EmuBar) -> bool,
    ) {
        // A week or month bucket may start up to a year before the listing date; nothing
        // earlier can hold a bar, so far-away starts cost nothing.
        let floor = midnight_utc(self.listed - Duration::days(400)).timestamp();
        // Bars start on whole seconds: the first one at or after `start`.
        let first_second = start.timestamp() + i64::from(start.timestamp_subsec_nanos() > 0);
        let lo = first_second.max(floor);
        let hi = end.timestamp().min(self.clock.timestamp());
        if lo > hi {
            return;
        }
        let model = Model::new(self);
        match self.timeframe.unit {
            Unit::Minute | Unit::Hour => model.visit_intraday(lo, hi, descending, visit),
            Unit::Day | Unit::Week | Unit::Month => model.visit_daily(lo, hi, descending, visit),
        }
    }

    /// All bars with `t` in `start..=end`, ascending.
    pub(crate) fn collect(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<EmuBar> {
        let mut out = Vec::new();
        self.visit(start, end, false, &mut |bar| {
            out.push(bar);
            true
        });
        out
    }
}

/// Per-series constants derived from the symbol's hash.
struct Model<'a> {
    series: &'a Series<'a>,
    clock: i64,
    /// Seeds the prices (shared by all feeds).
    price_seed: u64,
    /// Seeds volumes and quiet minutes (per feed).
    volume_seed: u64,
    base: f64,
    phases: [f64; 4],
    volume_scale: f64,
}

impl<'a> Model<'a> {
    fn new(series: &'a Series<'a>) -> Model<'a> {
        let price_seed = fnv1a(series.symbol);
        let volume_seed = mix(price_seed ^ mix(series.feed.salt() + 0x5eed));
        let pick = |tag: u64| uniform(price_seed, tag, 0);
        let base = match series.market {
            Market::Stock => 20.0 + 480.0 * pick(1),
            Market::Crypto => 500.0 + 40_000.0 * pick(1),
        };
        Model {
            series,
            clock: series.clock.timestamp(),
            price_seed,
            volume_seed,
            base,
            phases: [pick(2) * TAU, pick(3) * TAU, pick(4) * TAU, pick(5) * TAU],
            volume_scale: 0.2 + 3.0 * pick(6),
        }
    }

    fn is_crypto(&self) -> bool {
        self.series.market == Market::Crypto
    }

    /// The smooth part of the price: slow cycles of ~3 years, ~45 days, a day and 37 minutes,
    /// in the share count of the time.
    fn smooth_price(&self, t: i64) -> f64 {
        let x = t as f64;
        let p = &self.phases;
        let wave = 0.25 * (TAU * x / (3.0 * 365.25 * 86_400.0) + p[0]).sin()
            + 0.08 * (TAU * x / (45.0 * 86_400.0) + p[1]).sin()
            + 0.01 * (TAU * x / 86_400.0 + p[2]).sin()
            + 0.003 * (TAU * x / (37.0 * 60.0) + p[3]).sin();
        self.base * wave.exp() / self.shares_per_original(t)
    }

    /// How many shares one share of before every share-count change has become by the New
    /// York day of `t` (1 for symbols without changes).
    fn shares_per_original(&self, t: i64) -> f64 {
        if self.series.shares.is_empty() {
            return 1.0;
        }
        let date = calendar::new_york_date(at(t));
        let (num, den) = self
            .series
            .shares
            .iter()
            .filter(|c| c.ex_date <= date)
            .fold((1u128, 1u128), |(n, d), c| {
                (n * u128::from(c.num), d * u128::from(c.den))
            });
        num as f64 / den as f64
    }

    fn price_u(&self, tag: u64, t: i64) -> f64 {
        uniform(self.price_seed, tag, t)
    }

    fn volume_u(&self, tag: u64, t: i64) -> f64 {
        uniform(self.volume_seed, tag, t)
    }

    /// Roughly normal noise in about -3..3.
    fn price_z(&self, tag: u64, t: i64) -> f64 {
        2.0 * (self.price_u(tag, t) + self.price_u(tag + 100, t) + self.price_u(tag + 200, t) - 1.5)
    }

    /// 2, 3 or 4 decimals, like real prints (2 most of the time).
    fn decimals(&self, tag: u64, t: i64) -> i32 {
        [2, 2, 2, 3, 4][(mix(self.price_seed ^ mix(tag ^ mix(t as u64))) % 5) as usize]
    }

    /// Builds a final bar around an open and close price; `spread` widens high/low.
    fn shape(&self, t: i64, open: f64, close: f64, spread: f64, tag: u64) -> (f64, f64, f64, f64) {
        let o = round_to(open, self.decimals(tag, t));
        let c = round_to(close, self.decimals(tag + 1, t));
        let h = ceil_to(
            o.max(c) * (1.0 + spread * self.price_u(tag + 2, t)),
            self.decimals(tag + 3, t),
        );
        let l = floor_to(
            o.min(c) * (1.0 - spread * self.price_u(tag + 4, t)),
            self.decimals(tag + 5, t),
        );
        (o, h, l, c)
    }

    fn vwap(&self, t: i64, l: f64, h: f64) -> f64 {
        let raw = l + (h - l) * (0.25 + 0.5 * self.price_u(40, t));
        round_to(raw, 6).clamp(l, h)
    }

    /// The final 1-minute bar starting at `t`, or `None` for a quiet minute.
    fn minute_bar(&self, t: i64, regular: bool) -> Option<EmuBar> {
        let drop = match (self.series.market, self.series.feed, regular) {
            (Market::Crypto, _, _) => 0.2,
            (Market::Stock, Feed::Sip, true) => 0.02,
            (Market::Stock, Feed::Sip, false) => 0.5,
            (Market::Stock, _, true) => 0.1,
            (Market::Stock, _, false) => 0.8,
        };
        if self.volume_u(10, t) < drop {
            return None;
        }
        let open = self.smooth_price(t) * (1.0 + 0.0004 * self.price_z(20, t));
        let close = self.smooth_price(t + 60) * (1.0 + 0.0004 * self.price_z(21, t));
        let (o, h, l, c) = self.shape(t, open, close, 0.0008, 30);
        let (v, n) = if self.is_crypto() {
            let v = round_to(0.0005 + 2.0 * self.volume_u(11, t).powi(3), 6).max(0.000001);
            (v, 1 + (30.0 * self.volume_u(12, t)) as u64)
        } else {
            let raw = if regular {
                (200.0 + 30_000.0 * self.volume_u(11, t).powi(2)) * self.volume_scale
            } else {
                1.0 + 3_000.0 * self.volume_u(11, t).powi(3)
            } * self.shares_per_original(t);
            let v = (raw / self.series.feed.volume_divisor()).round().max(1.0);
            let n = (v / (20.0 + 180.0 * self.volume_u(12, t)))
                .round()
                .clamp(1.0, v);
            (v, n as u64)
        };
        Some(EmuBar {
            t: at(t),
            o,
            h,
            l,
            c,
            v,
            n,
            vw: self.vwap(t, l, h),
        })
    }

    /// The final daily bar of a trading day (stocks) or UTC day (crypto) starting at `t`.
    fn final_day_bar(&self, t: i64, open_at: i64, close_at: i64) -> EmuBar {
        let open = self.smooth_price(open_at) * (1.0 + 0.003 * self.price_z(50, t));
        let close = self.smooth_price(close_at) * (1.0 + 0.003 * self.price_z(51, t));
        let (o, h, l, c) = self.shape(t, open, close, 0.012, 60);
        let (v, n) = if self.is_crypto() {
            let v = round_to(50.0 + 2_000.0 * self.volume_u(13, t), 6);
            (v, 1_000 + (50_000.0 * self.volume_u(14, t)) as u64)
        } else {
            let raw = 3_000_000.0
                * self.volume_scale
                * (0.4 + 1.2 * self.volume_u(13, t))
                * self.shares_per_original(t);
            let v = (raw / self.series.feed.volume_divisor()).round().max(1.0);
            let n = (v / (60.0 + 120.0 * self.volume_u(14, t)))
                .round()
                .clamp(1.0, v);
            (v, n as u64)
        };
        EmuBar {
            t: at(t),
            o,
            h,
            l,
            c,
            v,
            n,
            vw: self.vwap(t, l, h),
        }
    }

    /// The daily bar of `date` as seen at the clock, if any trading had happened by then.
    fn day_bar(&self, date: NaiveDate) -> Option<EmuBar> {
        if date < self.series.listed {
            return None;
        }
        let (t, first, last, open_at, close_at) = match self.series.market {
            Market::Stock => {
                let s = calendar::session(date)?;
                let t = calendar::new_york(date, 0, 0).timestamp();
                let (first, last) = (s.pre_open.timestamp(), s.post_close.timestamp());
                (t, first, last, s.open.timestamp(), s.close.timestamp())
            }
            Market::Crypto => {
                let t = midnight_utc(date).timestamp();
                (t, t, t + DAY_SECS, t, t + DAY_SECS)
            }
        };
        if self.clock < first {
            return None;
        }
        let bar = self.final_day_bar(t, open_at, close_at);
        Some(self.as_of(bar, first, last))
    }

    /// `bar` as it looked at the clock, for a bucket trading from `first` to `last`.
    fn as_of(&self, bar: EmuBar, first: i64, last: i64) -> EmuBar {
        if self.clock >= last {
            return bar;
        }
        let f = (self.clock - first) as f64 / (last - first) as f64;
        partial(&bar, f.clamp(0.0, 1.0), self.is_crypto())
    }

    /// The 1-minute bars (as of the clock) starting in `day0..day1`: a UTC day (crypto) or a
    /// New York day (stocks, 23 to 25 hours long).
    fn minutes_of_day(&self, day0: i64, day1: i64) -> Vec<EmuBar> {
        let last_minute = self.clock.min(day1 - 1);
        let mut out = Vec::new();
        match self.series.market {
            Market::Crypto => {
                if at(day0).date_naive() < self.series.listed {
                    return out;
                }
                let mut t = day0;
                while t <= last_minute {
                    out.extend(self.minute_bar(t, true).map(|b| self.as_of(b, t, t + 60)));
                    t += 60;
                }
            }
            Market::Stock => {
                let first = calendar::new_york_date(at(day0));
                let second = calendar::new_york_date(at(day1 - 1));
                let dates = if first == second {
                    vec![first]
                } else {
                    vec![first, second]
                };
                for date in dates {
                    if date < self.series.listed {
                        continue;
                    }
                    let Some(s) = calendar::session(date) else {
                        continue;
                    };
                    let (open, close) = (s.open.timestamp(), s.close.timestamp());
                    let mut t = s.pre_open.timestamp().max(day0);
                    let stop = s.post_close.timestamp().min(day1);
                    while t < stop && t <= last_minute {
                        let regular = (open..close).contains(&t);
                        out.extend(
                            self.minute_bar(t, regular)
                                .map(|b| self.as_of(b, t, t + 60)),
                        );
                        t += 60;
                    }
                }
            }
        }
        out
    }

    fn visit_intraday(
        &self,
        lo: i64,
        hi: i64,
        descending: bool,
        visit: &mut dyn FnMut(EmuBar) -> bool,
    ) {
        let len = match self.series.timeframe.unit {
            Unit::Hour => i64::from(self.series.timeframe.amount) * 3_600,
            _ => i64::from(self.series.timeframe.amount) * 60,
        };
        // Local days: New York for stocks, UTC for crypto (`local_date`, `local_midnight`).
        let (first_day, last_day) = (self.local_date(lo), self.local_date(hi));
        let mut days: Vec<NaiveDate> = first_day
            .iter_days()
            .take_while(|d| *d <= last_day)
            .collect();
        if descending {
            days.reverse();
        }
        for date in days {
            let day0 = self.local_midnight(date);
            let day1 = self.local_midnight(date + Duration::days(1));
            let minutes = self.minutes_of_day(day0, day1);
            let bars = if len == 60 {
                minutes
            } else {
                // Buckets are multiples of the length counted from local midnight (New York
                // for stocks, UTC for crypto), as Alpaca's are; the last is cut at the next.
                let mut bars = Vec::new();
                let mut i = 0;
                while i < minutes.len() {
                    let bucket = day0 + (minutes[i].t.timestamp() - day0) / len * len;
                    let j = i + minutes[i..]
                        .iter()
                        .take_while(|m| m.t.timestamp() < bucket + len)
                        .count();
                    bars.extend(aggregate(bucket, &minutes[i..j], self.is_crypto()));
                    i = j;
                }
                bars
            };
            let in_range = |b: &EmuBar| (lo..=hi).contains(&b.t.timestamp());
            if descending {
                for bar in bars.into_iter().rev().filter(in_range) {
                    if !visit(bar) {
                        return;
                    }
                }
            } else {
                for bar in bars.into_iter().filter(in_range) {
                    if !visit(bar) {
                        return;
                    }
                }
            }
        }
    }

    /// The calendar date (New York for stocks, UTC for crypto) of an instant.
    fn local_date(&self, t: i64) -> NaiveDate {
        match self.series.market {
            Market::Stock => calendar::new_york_date(at(t)),
            Market::Crypto => at(t).date_naive(),
        }
    }

    /// Midnight of a local date, as unix seconds.
    fn local_midnight(&self, date: NaiveDate) -> i64 {
        match self.series.market {
            Market::Stock => calendar::new_york(date, 0, 0).timestamp(),
            Market::Crypto => midnight_utc(date).timestamp(),
        }
    }

    /// Day, week and month bars: buckets of whole local dates, listed by their first date.
    fn visit_daily(
        &self,
        lo: i64,
        hi: i64,
        descending: bool,
        visit: &mut dyn FnMut(EmuBar) -> bool,
    ) {
        let (from, to) = (self.local_date(lo), self.local_date(hi));
        // Bucket start dates covering from..=to, ascending.
        let mut starts = Vec::new();
        match self.series.timeframe.unit {
            Unit::Week => {
                let mut d = from.week(Weekday::Mon).first_day();
                while d <= to {
                    starts.push(d);
                    d += Duration::days(7);
                }
            }
            Unit::Month => {
                let n = self.series.timeframe.amount as i32;
                let group = |d: NaiveDate| d.year() * 12 + (d.month0() as i32) / n * n;
                let mut g = group(from);
                while g <= group(to) {
                    starts.push(first_of_month(g));
                    g += n;
                }
            }
            _ => starts.extend(from.iter_days().take_while(|d| *d <= to)),
        }
        if descending {
            starts.reverse();
        }
        for start in starts {
            let t = self.local_midnight(start);
            if !(lo..=hi).contains(&t) {
                continue;
            }
            let bar = match self.series.timeframe.unit {
                Unit::Week => self.span_bar(t, start, start + Duration::days(7)),
                Unit::Month => {
                    let n = self.series.timeframe.amount as i32;
                    let end = first_of_month(start.year() * 12 + start.month0() as i32 + n);
                    self.span_bar(t, start, end)
                }
                _ => self.day_bar(start),
            };
            if let Some(bar) = bar
                && !visit(bar)
            {
                return;
            }
        }
    }

    /// Aggregate of the daily bars of `from..until`, stamped `t`.
    fn span_bar(&self, t: i64, from: NaiveDate, until: NaiveDate) -> Option<EmuBar> {
        let days: Vec<EmuBar> = from
            .iter_days()
            .take_while(|d| *d < until)
            .filter_map(|d| self.day_bar(d))
            .collect();
        aggregate(t, &days, self.is_crypto())
    }
}

/// One bar out of consecutive bars: first open, last close, extreme high/low, summed volume
/// and count, volume-weighted VWAP.
fn aggregate(t: i64, bars: &[EmuBar], crypto: bool) -> Option<EmuBar> {
    let first = bars.first()?;
    let last = bars.last()?;
    let h = bars.iter().map(|b| b.h).fold(f64::MIN, f64::max);
    let l = bars.iter().map(|b| b.l).fold(f64::MAX, f64::min);
    let v: f64 = bars.iter().map(|b| b.v).sum();
    let n = bars.iter().map(|b| b.n).sum();
    let weighted: f64 = bars.iter().map(|b| b.vw * b.v).sum();
    let vw = round_to(weighted / v, 6).clamp(l, h);
    Some(EmuBar {
        t: at(t),
        o: first.o,
        h,
        l,
        c: last.c,
        v: if crypto { round_to(v, 6) } else { v },
        n,
        vw,
    })
}

/// The part of `bar` traded in the first fraction `f` (0..1) of its bucket: same open, the
/// close moved `f` of the way from open to the final close, high/low/volume/count scaled.
fn partial(bar: &EmuBar, f: f64, crypto: bool) -> EmuBar {
    let o = bar.o;
    let c = round_to(o + (bar.c - o) * f, 4);
    let h = ceil_to(o.max(c) + (bar.h - bar.o.max(bar.c)) * f, 4).min(bar.h);
    let l = floor_to(o.min(c) - (bar.o.min(bar.c) - bar.l) * f, 4).max(bar.l);
    let (v, n) = if crypto {
        let v = round_to(bar.v * f, 6).max(0.000001);
        (v, ((bar.n as f64 * f).round() as u64).max(1))
    } else {
        let v = (bar.v * f).floor().max(1.0);
        (v, ((bar.n as f64 * f).round()).clamp(1.0, v) as u64)
    };
    let vw = round_to(o + (bar.vw - o) * f, 6).clamp(l, h);
    EmuBar {
        t: bar.t,
        o,
        h,
        l,
        c,
        v,
        n,
        vw,
    }
}

fn first_of_month(month_index: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(
        month_index.div_euclid(12),
        month_index.rem_euclid(12) as u32 + 1,
        1,
    )
    .expect("valid month")
}

fn midnight_utc(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

pub(super) fn at(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).expect("timestamp in range")
}

pub(super) fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

fn ceil_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).ceil() / scale
}

fn floor_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).floor() / scale
}

/// splitmix64's finaliser: a cheap, well-mixed, platform-independent hash step.
pub(super) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A uniform number in 0..1 from a seed, a tag naming the quantity, and a time.
fn uniform(seed: u64, tag: u64, t: i64) -> f64 {
    let h = mix(seed ^ mix(tag.wrapping_mul(0x0100_0000_01b3) ^ mix(t as u64)));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use chrono::Timelike as _;

    use super::super::dates::utc;
    use super::*;

    fn series<'a>(symbol: &'a str, tf: &str, clock: &str) -> Series<'a> {
        let crypto = symbol.contains('/');
        Series {
            symbol,
            market: if crypto {
                Market::Crypto
            } else {
                Market::Stock
            },
            listed: NaiveDate::from_ymd_opt(2015, 1, 1).unwrap(),
            feed: Feed::Sip,
            timeframe: Timeframe::parse(tf).unwrap(),
            clock: utc(clock),
            shares: &[],
        }
    }

    fn check_invariants(bars: &[EmuBar], crypto: bool) {
        for b in bars {
            assert!(b.l > 0.0, "{b:?}");
            assert!(b.h >= b.o.max(b.c) && b.l <= b.o.min(b.c), "{b:?}");
            assert!(b.vw >= b.l && b.vw <= b.h, "{b:?}");
            assert!(b.v > 0.0 && b.n >= 1, "{b:?}");
            if !crypto {
                assert_eq!(b.v.fract(), 0.0, "{b:?}");
                assert!(b.n as f64 <= b.v, "{b:?}");
            }
        }
    }

    #[test]
    fn timeframes_follow_alpaca() {
        for ok in [
            "1Min", "59T", "23Hour", "4H", "1Day", "1D", "1Week", "1W", "4Month", "12M",
        ] {
            assert!(Timeframe::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "0Min",
            "60Min",
            "24H",
            "2Day",
            "2W",
            "5Month",
            "3Fortnight",
            "1min",
            "01Min",
        ] {
            assert!(Timeframe::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Timeframe::parse("5T").unwrap().unit, Unit::Minute);
    }

    #[test]
    fn minute_bars_live_in_the_extended_session() {
        let s = series("AAPL", "1Min", "2024-06-14T20:30:00Z");
        let bars = s.collect(utc("2024-06-13T00:00:00Z"), utc("2024-06-14T00:00:00Z"));
        check_invariants(&bars, false);
        assert!(bars.first().unwrap().t >= utc("2024-06-13T08:00:00Z"));
        assert!(bars.last().unwrap().t < utc("2024-06-14T00:00:00Z"));
        let regular = bars
            .iter()
            .filter(|b| b.t >= utc("2024-06-13T13:30:00Z") && b.t < utc("2024-06-13T20:00:00Z"))
            .count();
        assert!((370..390).contains(&regular), "{regular}");
        assert!(bars.len() < 390 + 570, "extended minutes are sparse");
    }

    #[test]
    fn aggregates_use_the_minutes() {
        let one = series("MSFT", "1Min", "2024-06-14T20:30:00Z");
        let five = series("MSFT", "5Min", "2024-06-14T20:30:00Z");
        let (from, to) = (utc("2024-06-12T14:00:00Z"), utc("2024-06-12T14:04:59Z"));
        let minutes = one.collect(from, to);
        let agg = five.collect(from, from);
        assert_eq!(agg.len(), 1);
        assert_eq!(agg[0].o, minutes[0].o);
        assert_eq!(agg[0].c, minutes.last().unwrap().c);
        assert_eq!(agg[0].v, minutes.iter().map(|b| b.v).sum::<f64>());
        let hours = series("MSFT", "4H", "2024-06-14T20:30:00Z")
            .collect(utc("2024-06-12T00:00:00Z"), utc("2024-06-12T23:59:59Z"));
        let starts: Vec<u32> = hours.iter().map(|b| b.t.time().hour()).collect();
        assert_eq!(starts, vec![8, 12, 16, 20]);
        check_invariants(&hours, false);
    }

    #[test]
    fn day_week_month_bars_are_stamped_at_new_york_midnight() {
        let days = series("SPY", "1Day", "2024-06-14T20:30:00Z")
            .collect(utc("2024-01-01T00:00:00Z"), utc("2024-12-31T00:00:00Z"));
        check_invariants(&days, false);
        assert_eq!(days[0].t, utc("2024-01-02T05:00:00Z"));
        assert_eq!(days.last().unwrap().t, utc("2024-06-14T04:00:00Z"));
        let weeks = series("SPY", "1Week", "2024-06-14T20:30:00Z")
            .collect(utc("2024-01-01T00:00:00Z"), utc("2024-02-01T00:00:00Z"));
        // 2024-01-15 is MLK day: the week bar is still stamped on that Monday.
        let stamps: Vec<String> = weeks.iter().map(|b| b.t.to_rfc3339()).collect();
        assert_eq!(stamps[2], "2024-01-15T05:00:00+00:00");
        let months = series("SPY", "3Month", "2024-06-14T20:30:00Z")
            .collect(utc("2023-01-01T00:00:00Z"), utc("2024-12-31T00:00:00Z"));
        let stamps: Vec<String> = months.iter().map(|b| b.t.to_rfc3339()).collect();
        assert_eq!(stamps[0], "2023-01-01T05:00:00+00:00");
        assert_eq!(stamps[1], "2023-04-01T04:00:00+00:00");
        assert_eq!(stamps.len(), 6);
    }

    #[test]
    fn crypto_trades_around_the_clock() {
        let s = series("BTC/USD", "1Min", "2024-06-16T12:00:00Z");
        let bars = s.collect(utc("2024-06-15T00:00:00Z"), utc("2024-06-15T23:59:00Z"));
        check_invariants(&bars, true);
        assert!((1100..1300).contains(&bars.len()), "{}", bars.len());
        assert!(bars.iter().any(|b| b.v.fract() != 0.0));
        let days = series("BTC/USD", "1Day", "2024-06-16T12:00:00Z")
            .collect(utc("2024-06-15T00:00:00Z"), utc("2024-06-16T23:00:00Z"));
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].t, utc("2024-06-15T00:00:00Z"));
    }

    #[test]
    fn descending_mirrors_ascending() {
        let s = series("NVDA", "15Min", "2024-06-14T20:30:00Z");
        let (from, to) = (utc("2024-06-10T00:00:00Z"), utc("2024-06-14T23:00:00Z"));
        let asc = s.collect(from, to);
        let mut desc = Vec::new();
        s.visit(from, to, true, &mut |b| {
            desc.push(b);
            true
        });
        desc.reverse();
        assert_eq!(asc, desc);
    }
}

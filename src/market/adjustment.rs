//! Adjusting raw bars for corporate actions when they are read: which adjustments were asked
//! for ([`Adjustments`], Alpaca's `adjustment` values), and the [`Adjuster`] that turns a
//! symbol's recorded actions into factors and applies them to bars. Pure: no I/O, no clock;
//! the raw closes a dividend needs are passed in.
//!
//! The rules:
//! - An action moves the bars that start before 00:00 New York time on its ex-date (for
//!   intraday bars: before the ex-date's first session). Bars from then on are returned as
//!   stored, to the bit.
//! - Factors compound: a bar is multiplied by the factors of every later action.
//! - `split`: forward and reverse splits multiply prices by `old_rate / new_rate` and volume by
//!   `new_rate / old_rate`. A stock dividend of `rate` changes the share count too and is
//!   treated as a split of `1 : 1 + rate`. `trade_count` is never adjusted.
//! - `dividend`: a cash dividend multiplies prices by `1 - rate / close`, where `close` is the
//!   raw close of the last daily bar before the ex-date.
//! - `spin-off`: refused. Alpaca does not say how it values the distributed shares, and the
//!   fields of a spin-off (`new_rate` shares of `new_symbol` per `source_rate` held) do not
//!   carry a price, so an [`Adjuster`] fails rather than approximate when a spin-off would move
//!   one of the bars. Symbols without a spin-off are unaffected by asking for it.
//! - Unit splits are recorded but never applied: the unit's symbol stops trading and the new
//!   securities start under symbols of their own, so no bar of one symbol spans the action.
//! - Actions with an ex-date after today are not applied yet.
//! - Prices of an adjusted bar (open, high, low, close, vwap) are rounded to 4 decimals.
//!   Volume is multiplied by the compounded split ratio as an exact fraction, then rounded to
//!   the nearest share (halves up) once.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul};

use super::corporate_action::{ActionKind, CorporateAction};
use super::time_spec::midnight;
use super::{Bar, NEW_YORK, Volume};

/// The adjustments to apply: any combination of split, dividend and spin-off. Parsed from
/// Alpaca's spelling: `raw`, `split`, `dividend`, `spin-off`, `all`, or a comma list
/// (`split,dividend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Adjustments {
    split: bool,
    dividend: bool,
    spin_off: bool,
}

impl Adjustments {
    /// No adjustment: bars as stored.
    pub const RAW: Adjustments = Adjustments {
        split: false,
        dividend: false,
        spin_off: false,
    };
    pub const ALL: Adjustments = Adjustments {
        split: true,
        dividend: true,
        spin_off: true,
    };

    pub fn is_raw(self) -> bool {
        self == Self::RAW
    }

    pub fn dividend(self) -> bool {
        self.dividend
    }

    /// Whether this selection applies actions of `kind`.
    pub fn applies_to(self, kind: &ActionKind) -> bool {
        match kind {
            ActionKind::ForwardSplit { .. }
            | ActionKind::ReverseSplit { .. }
            | ActionKind::StockDividend { .. } => self.split,
            ActionKind::CashDividend { .. } => self.dividend,
            ActionKind::SpinOff { .. } => self.spin_off,
            // A unit split moves no price; the actions that end a ticker are not
            // adjustments (`ops::symbol_endings` handles them).
            ActionKind::UnitSplit { .. }
            | ActionKind::NameChange { .. }
            | ActionKind::WorthlessRemoval
            | ActionKind::CashMerger { .. }
            | ActionKind::StockMerger { .. }
            | ActionKind::StockAndCashMerger { .. } => false,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid adjustment `{0}`: use raw, split, dividend, spin-off or all, or a comma list such as split,dividend"
)]
pub struct AdjustmentsError(String);

impl FromStr for Adjustments {
    type Err = AdjustmentsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut selection = Adjustments::RAW;
        for part in text.split(',') {
            match part.trim().to_ascii_lowercase().as_str() {
                "raw" => {}
                "split" => selection.split = true,
                "dividend" => selection.dividend = true,
                "spin-off" => selection.spin_off = true,
                "all" => selection = Adjustments::ALL,
                _ => return Err(AdjustmentsError(text.to_owned())),
            }
        }
        Ok(selection)
    }
}

/// `raw`, `all`, or the comma list in the order split, dividend, spin-off.
impl fmt::Display for Adjustments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_raw() {
            return f.write_str("raw");
        }
        if *self == Self::ALL {
            return f.write_str("all");
        }
        let names: Vec<&str> = [
            (self.split, "split"),
            (self.dividend, "dividend"),
            (self.spin_off, "spin-off"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        f.write_str(&names.join(","))
    }
}

/// Why bars cannot be adjusted as asked.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AdjustmentError {
    #[error(
        "barkeep does not adjust for spin-offs: {symbol} spun off {new_symbol} on {ex_date}, and bars before that date were asked for"
    )]
    SpinOff {
        symbol: String,
        new_symbol: String,
        ex_date: NaiveDate,
    },
    #[error(
        "the {ex_date} dividend of {symbol} cannot be applied: no daily close of {symbol} before that date is known"
    )]
    MissingClose { symbol: String, ex_date: NaiveDate },
    #[error("corporate action {id} of {symbol} has rates barkeep cannot use ({kind})")]
    BadRate {
        id: String,
        symbol: String,
        kind: String,
    },
}

/// An exact non-negative fraction, for volume ratios: `num_rational`'s reduced `u128`
/// fraction, with the conversions adjustments need (from a decimal rate, onto whole shares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio(num_rational::Ratio<u128>);

impl Ratio {
    pub const ONE: Ratio = Ratio(num_rational::Ratio::new_raw(1, 1));

    fn new(num: u128, den: u128) -> Option<Ratio> {
        (den != 0).then(|| Ratio(num_rational::Ratio::new(num, den)))
    }

    /// A positive rate exactly as written in decimal (Alpaca sends rates as JSON numbers:
    /// `0.05` is 1/20, not the nearest binary fraction).
    pub fn from_rate(rate: f64) -> Option<Ratio> {
        if !rate.is_finite() || rate <= 0.0 {
            return None;
        }
        // `Display` for f64 is the shortest decimal that reads back as the same value, and
        // never uses an exponent.
        let text = rate.to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        if whole.len() + fraction.len() > 30 {
            return None;
        }
        let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
        Ratio::new(digits, 10u128.checked_pow(fraction.len() as u32)?)
    }

    pub fn checked_mul(self, other: Ratio) -> Option<Ratio> {
        self.0.checked_mul(&other.0).map(Ratio)
    }

    pub fn checked_div(self, other: Ratio) -> Option<Ratio> {
        self.0.checked_div(&other.0).map(Ratio)
    }

    fn checked_add(self, other: Ratio) -> Option<Ratio> {
        self.0.checked_add(&other.0).map(Ratio)
    }

    /// `shares × self`, rounded to the nearest whole share (halves up).
    pub fn scale_shares(self, shares: u64) -> u64 {
        let (num, den) = (*self.0.numer(), *self.0.denom());
        let scaled = u128::from(shares)
            .checked_mul(num)
            .and_then(|n| n.checked_mul(2))
            .map(|twice| (twice + den) / (2 * den));
        match scaled {
            Some(v) => u64::try_from(v).unwrap_or(u64::MAX),
            // Only for absurd ratios: fall back to floating point.
            None => (shares as f64 * self.as_f64()).round() as u64,
        }
    }

    pub fn as_f64(self) -> f64 {
        *self.0.numer() as f64 / *self.0.denom() as f64
    }
}

/// What one action does to the bars before it.
#[derive(Debug, Clone, PartialEq)]
struct Factor {
    /// 00:00 New York time on the ex-date: bars starting earlier are adjusted.
    boundary: DateTime<Utc>,
    /// The action's id, to order actions of the same day the same way every time.
    id: String,
    effect: Result<Scale, AdjustmentError>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Scale {
    price: f64,
    volume: Ratio,
}

impl Scale {
    const IDENTITY: Scale = Scale {
        price: 1.0,
        volume: Ratio::ONE,
    };

    fn then(self, other: Scale) -> Option<Scale> {
        Some(Scale {
            price: self.price * other.price,
            volume: self.volume.checked_mul(other.volume)?,
        })
    }
}

/// The instant from which an action with this ex-date no longer moves bars.
pub fn ex_boundary(ex_date: NaiveDate) -> DateTime<Utc> {
    midnight(ex_date, &NEW_YORK)
}

/// Whether `action` is one `selection` applies to `symbol`'s bars, as of `today`.
fn applies(
    action: &CorporateAction,
    symbol: &str,
    selection: Adjustments,
    today: NaiveDate,
) -> bool {
    action.symbol == symbol && action.ex_date <= today && selection.applies_to(&action.kind)
}

/// The ex-dates of the cash dividends `selection` applies to bars of `symbol` starting on or
/// after `from`: the dates whose preceding daily close an [`Adjuster`] will ask for.
pub fn dividend_ex_dates(
    actions: &[CorporateAction],
    symbol: &str,
    selection: Adjustments,
    from: DateTime<Utc>,
    today: NaiveDate,
) -> Vec<NaiveDate> {
    let mut dates: Vec<NaiveDate> = actions
        .iter()
        .filter(|a| applies(a, symbol, selection, today))
        .filter(|a| matches!(a.kind, ActionKind::CashDividend { .. }))
        .filter(|a| ex_boundary(a.ex_date) > from)
        .map(|a| a.ex_date)
        .collect();
    dates.sort();
    dates.dedup();
    dates
}

/// The compounded effect of a symbol's actions on its bars.
#[derive(Debug, Clone)]
pub struct Adjuster {
    /// Sorted by boundary.
    boundaries: Vec<DateTime<Utc>>,
    /// `cumulative[i]`: the product of the effects of factors `i..`; the last is the identity.
    cumulative: Vec<Result<Scale, AdjustmentError>>,
}

impl Adjuster {
    /// The adjuster for `symbol`'s bars from the actions recorded for it. `close_before(d)` is
    /// the raw close of the last daily bar before `d`, if known; it is asked only for
    /// dividends `selection` applies.
    pub fn new(
        actions: &[CorporateAction],
        symbol: &str,
        selection: Adjustments,
        today: NaiveDate,
        close_before: impl Fn(NaiveDate) -> Option<f64>,
    ) -> Adjuster {
        let mut factors: Vec<Factor> = actions
            .iter()
            .filter(|a| applies(a, symbol, selection, today))
            .map(|a| Factor {
                boundary: ex_boundary(a.ex_date),
                id: a.id.clone(),
                effect: effect(a, &close_before),
            })
            .collect();
        factors.sort_by(|a, b| (a.boundary, &a.id).cmp(&(b.boundary, &b.id)));
        let mut cumulative = vec![Ok(Scale::IDENTITY)];
        for factor in factors.iter().rev() {
            let later = cumulative.last().expect("starts non-empty").clone();
            let next = match (later, &factor.effect) {
                (Err(e), _) => Err(e),
                (Ok(_), Err(e)) => Err(e.clone()),
                (Ok(later), Ok(own)) => own.then(later).ok_or_else(|| AdjustmentError::BadRate {
                    id: String::new(),
                    symbol: symbol.to_owned(),
                    kind: "compounded split ratios overflow".to_owned(),
                }),
            };
            cumulative.push(next);
        }
        cumulative.reverse();
        Adjuster {
            boundaries: factors.into_iter().map(|f| f.boundary).collect(),
            cumulative,
        }
    }

    /// Whether no action applies at all.
    pub fn is_identity(&self) -> bool {
        self.boundaries.is_empty()
    }

    /// The latest instant before which bars cannot be adjusted, with the reason: every bar
    /// stamped before it fails [`apply`](Self::apply) with that error, and every bar at or
    /// after it is adjusted. `None` when every bar can be. A caller that streams bars checks
    /// this against the first bar it will serve, so a failure comes before any output.
    pub fn fails_before(&self) -> Option<(DateTime<Utc>, AdjustmentError)> {
        // `cumulative[i]` moves the bars before `boundaries[i]` (and after the one before);
        // an error there spreads to every earlier index, so the last error is the boundary.
        (0..self.boundaries.len())
            .rev()
            .find_map(|i| match &self.cumulative[i] {
                Err(e) => Some((self.boundaries[i], e.clone())),
                Ok(_) => None,
            })
    }

    /// The bars adjusted. Fails when an action that cannot be applied (a spin-off, a dividend
    /// without its close) would move one of them.
    pub fn apply(&self, bars: &[Bar]) -> Result<Vec<Bar>, AdjustmentError> {
        bars.iter()
            .map(|bar| {
                let later = self.boundaries.partition_point(|b| *b <= bar.timestamp);
                if later == self.boundaries.len() {
                    return Ok(*bar);
                }
                let scale = self.cumulative[later].clone()?;
                Ok(scale_bar(bar, scale))
            })
            .collect()
    }
}

fn scale_bar(bar: &Bar, scale: Scale) -> Bar {
    let price = |x: f64| ((x * scale.price) * 10_000.0).round() / 10_000.0;
    Bar {
        timestamp: bar.timestamp,
        open: price(bar.open),
        high: price(bar.high),
        low: price(bar.low),
        close: price(bar.close),
        volume: match bar.volume {
            Volume::Shares(n) => Volume::Shares(scale.volume.scale_shares(n)),
            Volume::Units(x) => Volume::Units(x * scale.volume.as_f64()),
        },
        trade_count: bar.trade_count,
        vwap: price(bar.vwap),
    }
}

/// The effect of one action on the bars before its ex-date.
fn effect(
    action: &CorporateAction,
    close_before: &impl Fn(NaiveDate) -> Option<f64>,
) -> Result<Scale, AdjustmentError> {
    let bad = || AdjustmentError::BadRate {
        id: action.id.clone(),
        symbol: action.symbol.clone(),
        kind: format!("{} {}", action.kind.type_name(), action.kind),
    };
    match &action.kind {
        ActionKind::ForwardSplit { old_rate, new_rate }
        | ActionKind::ReverseSplit { old_rate, new_rate } => {
            let (old, new) = (
                Ratio::from_rate(*old_rate).ok_or_else(bad)?,
                Ratio::from_rate(*new_rate).ok_or_else(bad)?,
            );
            Ok(Scale {
                price: old_rate / new_rate,
                volume: new.checked_div(old).ok_or_else(bad)?,
            })
        }
        ActionKind::StockDividend { rate } => {
            let shares = Ratio::from_rate(*rate)
                .and_then(|r| r.checked_add(Ratio::ONE))
                .ok_or_else(bad)?;
            Ok(Scale {
                price: 1.0 / (1.0 + rate),
                volume: shares,
            })
        }
        ActionKind::CashDividend { rate, .. } => {
            let close =
                close_before(action.ex_date).ok_or_else(|| AdjustmentError::MissingClose {
                    symbol: action.symbol.clone(),
                    ex_date: action.ex_date,
                })?;
            let price = 1.0 - rate / close;
            if !(price > 0.0 && price <= 1.0) {
                return Err(bad());
            }
            Ok(Scale {
                price,
                volume: Ratio::ONE,
            })
        }
        ActionKind::SpinOff { new_symbol, .. } => Err(AdjustmentError::SpinOff {
            symbol: action.symbol.clone(),
            new_symbol: new_symbol.clone(),
            ex_date: action.ex_date,
        }),
        ActionKind::UnitSplit { .. }
        | ActionKind::NameChange { .. }
        | ActionKind::WorthlessRemoval
        | ActionKind::CashMerger { .. }
        | ActionKind::StockMerger { .. }
        | ActionKind::StockAndCashMerger { .. } => Ok(Scale::IDENTITY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn action(id: &str, ex: &str, kind: ActionKind) -> CorporateAction {
        CorporateAction {
            id: id.to_owned(),
            symbol: "NVDA".to_owned(),
            ex_date: date(ex),
            process_date: date(ex),
            kind,
        }
    }

    fn split(ex: &str, old_rate: f64, new_rate: f64) -> CorporateAction {
        let kind = if new_rate >= old_rate {
            ActionKind::ForwardSplit { old_rate, new_rate }
        } else {
            ActionKind::ReverseSplit { old_rate, new_rate }
        };
        action(&format!("split-{ex}"), ex, kind)
    }

    fn dividend(ex: &str, rate: f64) -> CorporateAction {
        action(
            &format!("div-{ex}"),
            ex,
            ActionKind::CashDividend {
                rate,
                special: false,
                foreign: false,
            },
        )
    }

    fn bar(t: &str, price: f64, volume: u64) -> Bar {
        Bar {
            timestamp: utc(t),
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Volume::Shares(volume),
            trade_count: 7,
            vwap: price,
        }
    }

    const TODAY: &str = "2024-06-14";

    fn adjuster(actions: &[CorporateAction], selection: &str) -> Adjuster {
        Adjuster::new(
            actions,
            "NVDA",
            selection.parse().unwrap(),
            date(TODAY),
            |_| Some(100.0),
        )
    }

    #[test]
    fn adjustments_parse_as_alpaca_spells_them() {
        let parse = |s: &str| s.parse::<Adjustments>().map(|a| a.to_string());
        assert_eq!(parse("raw").unwrap(), "raw");
        assert_eq!(parse("all").unwrap(), "all");
        assert_eq!(parse("split,dividend,spin-off").unwrap(), "all");
        assert_eq!(parse("dividend,split").unwrap(), "split,dividend");
        assert_eq!(parse("spin-off").unwrap(), "spin-off");
        assert_eq!(parse("raw,split").unwrap(), "split");
        assert_eq!(parse("Split").unwrap(), "split");
        for bad in ["", "bogus", "split,", "spinoff", "split;dividend"] {
            assert!(bad.parse::<Adjustments>().is_err(), "{bad:?}");
        }
        assert!(Adjustments::RAW.is_raw());
    }

    #[test]
    fn a_split_scales_prices_and_volume_but_not_trades_before_its_ex_date() {
        // NVDA's 10:1 split on 2024-06-10, first bar as Alpaca serves it (ALPACA_API.md §7.5).
        let raw = Bar {
            timestamp: utc("2024-05-28T04:00:00Z"),
            open: 1102.44,
            high: 1149.39,
            low: 1098.83,
            close: 1139.01,
            volume: Volume::Shares(65_272_789),
            trade_count: 1_706_147,
            vwap: 1_126.828_894,
        };
        let after = bar("2024-06-10T04:00:00Z", 121.791, 314_162_700);
        let adjusted = adjuster(&[split("2024-06-10", 1.0, 10.0)], "split")
            .apply(&[raw, after])
            .unwrap();
        let first = adjusted[0];
        assert_eq!(
            (first.open, first.high, first.low, first.close, first.vwap),
            (110.244, 114.939, 109.883, 113.901, 112.6829)
        );
        assert_eq!(first.volume, Volume::Shares(652_727_890));
        assert_eq!(first.trade_count, 1_706_147);
        assert_eq!(adjusted[1], after, "bars from the ex-date on are untouched");
        // Alpaca's own answer, rounded to 2 decimals, is within half a cent.
        assert!((first.close - 113.9).abs() <= 0.005 && (first.vwap - 112.68).abs() <= 0.005);
    }

    #[test]
    fn factors_compound_over_every_later_action() {
        let actions = [
            split("2022-08-22", 1.0, 3.0),
            dividend("2023-02-15", 1.0),
            split("2023-11-13", 2.0, 1.0),
            dividend("2024-02-15", 2.0),
        ];
        let bars = [
            bar("2022-08-19T04:00:00Z", 300.0, 1001),
            bar("2022-08-22T04:00:00Z", 100.0, 1001),
            bar("2023-11-10T05:00:00Z", 100.0, 1001),
            bar("2024-02-14T05:00:00Z", 200.0, 1001),
            bar("2024-02-15T05:00:00Z", 200.0, 1001),
        ];
        let all = adjuster(&actions, "all").apply(&bars).unwrap();
        // close_before is 100 for every dividend: factors 0.99 and 0.98.
        let expect = |x: f64| (x * 10_000.0).round() / 10_000.0;
        assert_eq!(all[0].close, expect(300.0 / 3.0 * 0.99 * 2.0 * 0.98));
        assert_eq!(
            all[0].volume,
            Volume::Shares(1502),
            "1001 × 3 / 2 = 1501.5, halves up"
        );
        assert_eq!(all[1].close, expect(100.0 * 0.99 * 2.0 * 0.98));
        assert_eq!(all[1].volume, Volume::Shares(501), "1001 / 2 = 500.5");
        assert_eq!(all[2].close, expect(100.0 * 2.0 * 0.98));
        assert_eq!(all[3].close, expect(200.0 * 0.98));
        assert_eq!(all[3].volume, Volume::Shares(1001));
        assert_eq!(all[4], bars[4]);

        let splits = adjuster(&actions, "split").apply(&bars).unwrap();
        assert_eq!(splits[0].close, 200.0);
        assert_eq!(splits[3], bars[3]);
        let dividends = adjuster(&actions, "dividend").apply(&bars).unwrap();
        assert_eq!(dividends[0].close, expect(300.0 * 0.99 * 0.98));
        assert_eq!(dividends[0].volume, Volume::Shares(1001));
        assert!(adjuster(&actions, "raw").is_identity());
    }

    #[test]
    fn dividends_use_the_close_before_their_ex_date() {
        let actions = [dividend("2024-02-15", 0.5)];
        let adj = Adjuster::new(&actions, "NVDA", Adjustments::ALL, date(TODAY), |d| {
            (d == date("2024-02-15")).then_some(50.0)
        });
        let out = adj.apply(&[bar("2024-02-14T05:00:00Z", 40.0, 10)]).unwrap();
        assert_eq!(out[0].close, 39.6, "40 × (1 - 0.5 / 50)");
        let missing = Adjuster::new(&actions, "NVDA", Adjustments::ALL, date(TODAY), |_| None);
        assert!(matches!(
            missing.apply(&[bar("2024-02-14T05:00:00Z", 40.0, 10)]),
            Err(AdjustmentError::MissingClose { .. })
        ));
        // A missing close does not matter to bars the dividend does not move.
        let later = bar("2024-02-15T05:00:00Z", 40.0, 10);
        assert_eq!(missing.apply(&[later]).unwrap(), vec![later]);
    }

    #[test]
    fn fails_before_is_the_last_boundary_whose_bars_cannot_be_adjusted() {
        let spin_off = action(
            "spin",
            "2023-06-01",
            ActionKind::SpinOff {
                source_rate: 1.0,
                new_symbol: "NEWCO".to_owned(),
                new_rate: 0.5,
            },
        );
        let actions = [
            split("2022-08-22", 1.0, 3.0),
            dividend("2023-02-15", 1.0),
            spin_off,
            split("2024-06-10", 1.0, 10.0),
        ];
        // Dividends have no close: they fail too, but the spin-off is later.
        let adj = Adjuster::new(&actions, "NVDA", Adjustments::ALL, date(TODAY), |_| None);
        let (boundary, error) = adj.fails_before().expect("a spin-off cannot be applied");
        assert_eq!(boundary, ex_boundary(date("2023-06-01")));
        assert!(matches!(error, AdjustmentError::SpinOff { .. }));
        for (t, fails) in [
            ("2022-08-19T04:00:00Z", true),
            ("2023-06-01T03:59:00Z", true),
            ("2023-06-01T04:00:00Z", false),
            ("2024-06-07T04:00:00Z", false),
            ("2024-06-10T04:00:00Z", false),
        ] {
            let out = adj.apply(&[bar(t, 10.0, 10)]);
            assert_eq!(out.is_err(), fails, "{t}");
            if let Err(e) = out {
                assert_eq!(e, error, "every failing bar reports the same action");
            }
        }
        assert_eq!(adjuster(&actions[..2], "all").fails_before(), None);
        assert_eq!(adjuster(&actions, "split").fails_before(), None);
    }

    #[test]
    fn intraday_bars_change_at_new_york_midnight_of_the_ex_date() {
        let actions = [split("2024-06-10", 1.0, 10.0)];
        let bars = [
            // 19:59 ET on Friday 2024-06-07, the last after-hours minute before the split.
            bar("2024-06-07T23:59:00Z", 1200.0, 10),
            // 04:00 ET on the ex-date, the first pre-market minute.
            bar("2024-06-10T08:00:00Z", 120.0, 100),
        ];
        let out = adjuster(&actions, "split").apply(&bars).unwrap();
        assert_eq!((out[0].close, out[0].volume), (120.0, Volume::Shares(100)));
        assert_eq!(out[1], bars[1]);
    }

    #[test]
    fn stock_dividends_are_splits_of_one_to_one_plus_rate() {
        let actions = [action(
            "sd",
            "2024-03-01",
            ActionKind::StockDividend { rate: 0.05 },
        )];
        let out = adjuster(&actions, "split")
            .apply(&[bar("2024-02-29T05:00:00Z", 105.0, 1010)])
            .unwrap();
        assert_eq!(out[0].close, 100.0);
        assert_eq!(out[0].volume, Volume::Shares(1061), "1010 × 21/20 = 1060.5");
        assert!(adjuster(&actions, "dividend").is_identity());
    }

    #[test]
    fn spin_offs_are_refused_only_where_they_would_move_a_bar() {
        let actions = [action(
            "so",
            "2024-04-01",
            ActionKind::SpinOff {
                source_rate: 1.0,
                new_symbol: "SPUN".to_owned(),
                new_rate: 0.5,
            },
        )];
        let adj = adjuster(&actions, "all");
        let error = adj
            .apply(&[bar("2024-03-28T04:00:00Z", 10.0, 1)])
            .unwrap_err();
        assert!(matches!(error, AdjustmentError::SpinOff { .. }));
        assert!(error.to_string().contains("spun off SPUN on 2024-04-01"));
        let after = bar("2024-04-01T04:00:00Z", 10.0, 1);
        assert_eq!(adj.apply(&[after]).unwrap(), vec![after]);
        assert!(adjuster(&actions, "split,dividend").is_identity());
    }

    #[test]
    fn future_actions_and_other_symbols_are_not_applied() {
        let mut other = split("2024-01-02", 1.0, 2.0);
        other.symbol = "AAPL".to_owned();
        let actions = [split("2024-07-01", 1.0, 4.0), other];
        assert!(adjuster(&actions, "all").is_identity());
    }

    #[test]
    fn rates_are_exact_decimals() {
        assert_eq!(Ratio::from_rate(0.05), Ratio::new(1, 20));
        assert_eq!(Ratio::from_rate(1.5), Ratio::new(3, 2));
        assert_eq!(Ratio::from_rate(10.0), Ratio::new(10, 1));
        assert_eq!(Ratio::from_rate(0.0), None);
        assert_eq!(Ratio::from_rate(f64::NAN), None);
        assert_eq!(
            Ratio::new(3, 2).unwrap().scale_shares(3),
            5,
            "4.5 rounds up"
        );
        assert_eq!(
            Ratio::new(1, 4).unwrap().scale_shares(5),
            1,
            "1.25 rounds down"
        );
    }

    fn any_split() -> impl Strategy<Value = (u32, u32)> {
        (1u32..=20, 1u32..=20)
    }

    proptest! {
        #[test]
        fn the_order_actions_are_recorded_in_does_not_matter(
            splits in proptest::collection::vec(any_split(), 0..5),
            seed in any::<u64>(),
        ) {
            let actions: Vec<CorporateAction> = splits
                .iter()
                .enumerate()
                .map(|(i, (old, new))| split(&format!("2023-0{}-15", i + 1), f64::from(*old), f64::from(*new)))
                .collect();
            let mut shuffled = actions.clone();
            fastrand::Rng::with_seed(seed).shuffle(&mut shuffled);
            let bars = [bar("2022-12-30T05:00:00Z", 123.45, 98_765), bar("2023-03-01T05:00:00Z", 67.8, 4321)];
            prop_assert_eq!(
                adjuster(&actions, "all").apply(&bars).unwrap(),
                adjuster(&shuffled, "all").apply(&bars).unwrap()
            );
        }

        #[test]
        fn a_split_and_its_reverse_cancel_exactly_in_volume(
            (old, new) in any_split(),
            volume in 0u64..10_000_000_000,
            price in 0.01f64..5_000.0,
        ) {
            let actions = [split("2023-03-01", f64::from(old), f64::from(new)), split("2023-06-01", f64::from(new), f64::from(old))];
            let raw = bar("2023-01-03T05:00:00Z", price, volume);
            let out = adjuster(&actions, "split").apply(&[raw]).unwrap();
            prop_assert_eq!(out[0].volume, Volume::Shares(volume));
            prop_assert!((out[0].close - price).abs() <= 0.00005 + price * 1e-12);
        }

        #[test]
        fn adjusted_volume_is_the_nearest_share_of_the_exact_product(
            splits in proptest::collection::vec(any_split(), 1..4),
            volume in 0u64..1_000_000_000,
        ) {
            let actions: Vec<CorporateAction> = splits
                .iter()
                .enumerate()
                .map(|(i, (old, new))| split(&format!("2023-0{}-15", i + 1), f64::from(*old), f64::from(*new)))
                .collect();
            let (num, den) = splits.iter().fold((1u128, 1u128), |(n, d), (old, new)| (n * u128::from(*new), d * u128::from(*old)));
            let out = adjuster(&actions, "split").apply(&[bar("2022-12-30T05:00:00Z", 10.0, volume)]).unwrap();
            let Volume::Shares(v) = out[0].volume else { unreachable!() };
            // |v - volume × num / den| <= 1/2, with ties going up.
            let exact_twice = 2 * u128::from(volume) * num;
            let lower = u128::from(v) * 2 * den;
            prop_assert!(lower <= exact_twice + den && exact_twice < lower + den);
        }
    }
}

//! Corporate actions in the emulator: the actions a symbol has (`EmuAction`: splits, stock and
//! cash dividends, spin-offs, each with an ex-date and a process date; and those that end a
//! ticker: name changes, worthless removals, cash and stock mergers, effective on their
//! "ex-date"), when a ticker stops trading (`ticker_end`), what they do to raw bars (`share_changes`: a split or stock dividend changes the share count on its ex-date),
//! the adjusted bars Alpaca serves for `adjustment=split|dividend|spin-off|all` (`Adjustment`,
//! `adjust`), and the `GET /v1/corporate-actions` listing (`list`).
//!
//! How adjusted bars are computed (Alpaca documents the idea, not the arithmetic; where it is
//! silent, this is the emulator's choice and barkeep must agree with it):
//! - An action counts once it is announced (process date on or before the clock's New York
//!   date) and its ex-date has come. Bars starting before 00:00 New York time on the ex-date
//!   are multiplied by its factor; factors compound.
//! - split (forward and reverse splits, and stock dividends as splits of 1 : 1 + rate): prices
//!   × old/new, volume × new/old; cash dividend: prices × (1 − rate / raw daily close of the
//!   last trading day before the ex-date); spin-off: prices × (1 − new_rate / source_rate ×
//!   the new symbol's raw close on the ex-date / the same previous close).
//! - Adjusted prices and vw are rounded to 2 decimals (as observed on Alpaca); volume is
//!   multiplied by the compounded ratio exactly and rounded to the nearest share, halves up;
//!   `n` is never changed. Bars no action moves are served exactly as raw.
//!
//! Must not: know about HTTP beyond the query parameters of the listing (validated with the
//! server's own helpers).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::EmuBar;
use super::calendar;
use super::dates::d;
use super::market_data::{Feed, Market, Series, ShareChange, Timeframe, fnv1a, mix, round_to};
use super::server::{param, reject_unexpected};

/// Every type `/v1/corporate-actions` accepts in `types`.
const TYPES: [&str; 15] = [
    "reverse_split",
    "forward_split",
    "unit_split",
    "cash_dividend",
    "stock_dividend",
    "spin_off",
    "cash_merger",
    "stock_merger",
    "stock_and_cash_merger",
    "redemption",
    "name_change",
    "worthless_removal",
    "rights_distribution",
    "partial_call",
    "reorganization",
];
const PARAMS: [&str; 9] = [
    "symbols",
    "cusips",
    "types",
    "start",
    "end",
    "ids",
    "limit",
    "page_token",
    "sort",
];
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: i64 = 1000;

/// One corporate action of the emulated market.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmuAction {
    /// A UUID derived from the symbol, type and ex-date.
    pub(crate) id: String,
    /// The symbol whose bars the action moves (a spin-off's source).
    pub(crate) symbol: String,
    pub(crate) ex_date: NaiveDate,
    /// The day the action appears in `/v1/corporate-actions` (splits: the ex-date; dividends:
    /// the payable date, two weeks later, unless set otherwise).
    pub(crate) process_date: NaiveDate,
    pub(crate) kind: EmuActionKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EmuActionKind {
    ForwardSplit {
        old_rate: f64,
        new_rate: f64,
    },
    ReverseSplit {
        old_rate: f64,
        new_rate: f64,
    },
    StockDividend {
        rate: f64,
    },
    CashDividend {
        rate: f64,
    },
    SpinOff {
        source_rate: f64,
        new_symbol: String,
        new_rate: f64,
    },
    /// The ticker becomes `new_symbol` on the ex-date (the process date).
    NameChange {
        new_symbol: String,
    },
    WorthlessRemoval,
    /// `rate` dollars per share, from `acquirer` when named.
    CashMerger {
        acquirer: Option<String>,
        rate: f64,
    },
    /// `acquirer_rate` shares of `acquirer` per `acquiree_rate` held.
    StockMerger {
        acquirer: String,
        acquirer_rate: f64,
        acquiree_rate: f64,
    },
}

impl EmuActionKind {
    fn type_name(&self) -> &'static str {
        match self {
            EmuActionKind::ForwardSplit { .. } => "forward_split",
            EmuActionKind::ReverseSplit { .. } => "reverse_split",
            EmuActionKind::StockDividend { .. } => "stock_dividend",
            EmuActionKind::CashDividend { .. } => "cash_dividend",
            EmuActionKind::SpinOff { .. } => "spin_off",
            EmuActionKind::NameChange { .. } => "name_change",
            EmuActionKind::WorthlessRemoval => "worthless_removal",
            EmuActionKind::CashMerger { .. } => "cash_merger",
            EmuActionKind::StockMerger { .. } => "stock_merger",
        }
    }

    /// Whether the action ends its symbol's ticker.
    fn ends_ticker(&self) -> bool {
        matches!(
            self,
            EmuActionKind::NameChange { .. }
                | EmuActionKind::WorthlessRemoval
                | EmuActionKind::CashMerger { .. }
                | EmuActionKind::StockMerger { .. }
        )
    }
}

/// The last New York date `symbol` trades under its ticker, if an action (after `after`, when
/// given) ends it, announced or not: the market stops trading it regardless.
pub(crate) fn ticker_end(
    actions: &[EmuAction],
    symbol: &str,
    after: Option<NaiveDate>,
) -> Option<NaiveDate> {
    actions
        .iter()
        .filter(|a| a.symbol == symbol && a.kind.ends_ticker())
        .filter(|a| after.is_none_or(|after| a.ex_date > after))
        .filter_map(|a| a.ex_date.pred_opt())
        .min()
}

impl EmuAction {
    fn new(symbol: &str, ex_date: &str, process_date: NaiveDate, kind: EmuActionKind) -> Self {
        let ex_date = d(ex_date);
        let h = mix(fnv1a(&format!("{symbol}|{}|{ex_date}", kind.type_name())));
        let g = mix(h);
        EmuAction {
            id: format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xffff,
                h & 0xfff,
                g >> 52,
                g & 0xffff_ffff_ffff
            ),
            symbol: symbol.to_owned(),
            ex_date,
            process_date,
            kind,
        }
    }

    /// `new_rate` shares for every `old_rate` (`forward_split("X", "2024-06-10", 10.0, 1.0)`
    /// is ten for one), processed on the ex-date.
    pub(crate) fn forward_split(symbol: &str, ex_date: &str, new_rate: f64, old_rate: f64) -> Self {
        let kind = EmuActionKind::ForwardSplit { old_rate, new_rate };
        EmuAction::new(symbol, ex_date, d(ex_date), kind)
    }

    /// `new_rate` shares for every `old_rate` (`reverse_split("X", "2023-11-13", 1.0, 2.0)`
    /// is one for two), processed on the ex-date.
    pub(crate) fn reverse_split(symbol: &str, ex_date: &str, new_rate: f64, old_rate: f64) -> Self {
        let kind = EmuActionKind::ReverseSplit { old_rate, new_rate };
        EmuAction::new(symbol, ex_date, d(ex_date), kind)
    }

    /// `rate` dollars per share, processed (paid) two weeks after the ex-date.
    pub(crate) fn cash_dividend(symbol: &str, ex_date: &str, rate: f64) -> Self {
        let kind = EmuActionKind::CashDividend { rate };
        EmuAction::new(symbol, ex_date, d(ex_date) + Duration::days(14), kind)
    }

    /// `rate` new shares per share, processed two weeks after the ex-date.
    pub(crate) fn stock_dividend(symbol: &str, ex_date: &str, rate: f64) -> Self {
        let kind = EmuActionKind::StockDividend { rate };
        EmuAction::new(symbol, ex_date, d(ex_date) + Duration::days(14), kind)
    }

    /// `new_rate` shares of `new_symbol` per `source_rate` held, processed on the ex-date.
    pub(crate) fn spin_off(
        symbol: &str,
        ex_date: &str,
        source_rate: f64,
        new_symbol: &str,
        new_rate: f64,
    ) -> Self {
        let kind = EmuActionKind::SpinOff {
            source_rate,
            new_symbol: new_symbol.to_owned(),
            new_rate,
        };
        EmuAction::new(symbol, ex_date, d(ex_date), kind)
    }

    /// `old` trades as `new_symbol` from `date` on (processed that day).
    pub(crate) fn name_change(old: &str, date: &str, new_symbol: &str) -> Self {
        let kind = EmuActionKind::NameChange {
            new_symbol: new_symbol.to_owned(),
        };
        EmuAction::new(old, date, d(date), kind)
    }

    /// `symbol` removed as worthless on `date` (its last trading day is the day before).
    pub(crate) fn worthless_removal(symbol: &str, date: &str) -> Self {
        EmuAction::new(symbol, date, d(date), EmuActionKind::WorthlessRemoval)
    }

    /// `acquiree` bought by `acquirer` for `rate` dollars per share, effective (and processed)
    /// on `date`.
    pub(crate) fn cash_merger(
        acquiree: &str,
        date: &str,
        acquirer: Option<&str>,
        rate: f64,
    ) -> Self {
        let kind = EmuActionKind::CashMerger {
            acquirer: acquirer.map(str::to_owned),
            rate,
        };
        EmuAction::new(acquiree, date, d(date), kind)
    }

    /// `acquirer_rate` shares of `acquirer` per `acquiree_rate` of `acquiree`, effective (and
    /// processed) on `date`.
    pub(crate) fn stock_merger(
        acquiree: &str,
        date: &str,
        acquirer: &str,
        acquirer_rate: f64,
        acquiree_rate: f64,
    ) -> Self {
        let kind = EmuActionKind::StockMerger {
            acquirer: acquirer.to_owned(),
            acquirer_rate,
            acquiree_rate,
        };
        EmuAction::new(acquiree, date, d(date), kind)
    }

    /// The same action, appearing in the listing on another day.
    pub(crate) fn processed_on(mut self, process_date: &str) -> Self {
        self.process_date = d(process_date);
        self
    }

    /// Every symbol the action names, the moved one first.
    fn symbols(&self) -> Vec<&str> {
        match &self.kind {
            EmuActionKind::SpinOff { new_symbol, .. }
            | EmuActionKind::NameChange { new_symbol } => vec![&self.symbol, new_symbol],
            EmuActionKind::CashMerger {
                acquirer: Some(acquirer),
                ..
            }
            | EmuActionKind::StockMerger { acquirer, .. } => vec![&self.symbol, acquirer],
            _ => vec![&self.symbol],
        }
    }

    /// Whether the listing shows it at the clock.
    fn announced(&self, clock: DateTime<Utc>) -> bool {
        self.process_date <= calendar::new_york_date(clock)
    }
}

/// The emulator's default history: ACME (a stock since 2015) split 3-for-1 on 2022-08-22,
/// reverse-split 1-for-2 on 2023-11-13, and paid quarterly cash dividends from 2022 to 2024.
pub(crate) fn default_actions() -> Vec<EmuAction> {
    let mut actions = vec![
        EmuAction::forward_split("ACME", "2022-08-22", 3.0, 1.0),
        EmuAction::reverse_split("ACME", "2023-11-13", 1.0, 2.0),
    ];
    let dividends = [
        ("2022-02-14", 0.72),
        ("2022-05-13", 0.72),
        ("2022-08-15", 0.75),
        ("2022-11-14", 0.26),
        ("2023-02-14", 0.26),
        ("2023-05-15", 0.27),
        ("2023-08-14", 0.27),
        ("2023-11-15", 0.55),
        ("2024-02-14", 0.55),
        ("2024-05-15", 0.56),
        ("2024-08-14", 0.56),
        ("2024-11-14", 0.58),
    ];
    actions.extend(
        dividends
            .into_iter()
            .map(|(ex, rate)| EmuAction::cash_dividend("ACME", ex, rate)),
    );
    actions
}

/// `n / d` as an exact decimal ratio of two rates written like Alpaca's JSON numbers.
fn ratio(n: f64, d: f64) -> (u64, u64) {
    // Rates in the emulator have at most 6 decimals.
    let scale = |x: f64| (x * 1e6).round() as u64;
    let (n, d) = (scale(n), scale(d));
    let g = gcd(n, d).max(1);
    (n / g, d / g)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The share-count changes of `symbol` (splits and stock dividends), announced or not.
pub(crate) fn share_changes(actions: &[EmuAction], symbol: &str) -> Vec<ShareChange> {
    actions
        .iter()
        .filter(|a| a.symbol == symbol)
        .filter_map(|a| {
            let (num, den) = match a.kind {
                EmuActionKind::ForwardSplit { old_rate, new_rate }
                | EmuActionKind::ReverseSplit { old_rate, new_rate } => ratio(new_rate, old_rate),
                EmuActionKind::StockDividend { rate } => ratio(1.0 + rate, 1.0),
                _ => return None,
            };
            Some(ShareChange {
                ex_date: a.ex_date,
                num,
                den,
            })
        })
        .collect()
}

/// Which adjustments a request asked for (`adjustment=` of the bars endpoints).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Adjustment {
    split: bool,
    dividend: bool,
    spin_off: bool,
}

impl Adjustment {
    /// Alpaca's spelling: `raw`, `split`, `dividend`, `spin-off`, `all`, or a comma list.
    pub(crate) fn parse(text: &str) -> Option<Adjustment> {
        let mut a = Adjustment::default();
        for part in text.split(',') {
            match part {
                "raw" => {}
                "split" => a.split = true,
                "dividend" => a.dividend = true,
                "spin-off" => a.spin_off = true,
                "all" => {
                    a = Adjustment {
                        split: true,
                        dividend: true,
                        spin_off: true,
                    }
                }
                _ => return None,
            }
        }
        Some(a)
    }

    pub(crate) fn is_raw(self) -> bool {
        self == Adjustment::default()
    }
}

/// One action's effect on the bars before its ex-date.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Factor {
    boundary: DateTime<Utc>,
    price: f64,
    volume: (u64, u64),
}

/// How a symbol is modelled: enough to generate its raw bars.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// The ticker asked for, which labels the bars.
    pub(crate) symbol: String,
    /// The ticker whose history the bars are generated from: `symbol`, or the old ticker of
    /// a company that took `symbol` over by a rename.
    pub(crate) model: String,
    pub(crate) listed: NaiveDate,
    /// The last New York date of trading of a delisted, renamed, removed or acquired ticker.
    pub(crate) last_day: Option<NaiveDate>,
    pub(crate) shares: Vec<ShareChange>,
}

impl Listing {
    /// `end`, or the end of the last trading day when the symbol was delisted before it.
    pub(crate) fn clamp_end(&self, end: DateTime<Utc>) -> DateTime<Utc> {
        match self.last_day.and_then(|d| d.succ_opt()) {
            Some(next) => {
                end.min(super::calendar::new_york(next, 0, 0) - chrono::Duration::seconds(1))
            }
            None => end,
        }
    }

    /// The raw SIP daily bars with `t` in `start..=end` at `clock`.
    fn daily(&self, start: DateTime<Utc>, end: DateTime<Utc>, clock: DateTime<Utc>) -> Vec<EmuBar> {
        Series {
            symbol: &self.model,
            market: Market::Stock,
            listed: self.listed,
            feed: Feed::Sip,
            timeframe: Timeframe::parse("1Day").expect("1Day"),
            clock,
            shares: &self.shares,
        }
        .collect(start, end)
    }
}

/// The factors `adjustment` applies to `symbol` at `clock`. `listing` finds how a symbol is
/// modelled (for the closes dividends and spin-offs need).
pub(crate) fn factors(
    actions: &[EmuAction],
    symbol: &str,
    adjustment: Adjustment,
    clock: DateTime<Utc>,
    listing: &dyn Fn(&str) -> Option<Listing>,
) -> Vec<Factor> {
    let today = calendar::new_york_date(clock);
    let close_before = |ex: NaiveDate| -> Option<f64> {
        let listing = listing(symbol)?;
        let boundary = calendar::new_york(ex, 0, 0);
        let bars = listing.daily(
            boundary - Duration::days(14),
            boundary - Duration::nanoseconds(1),
            clock,
        );
        bars.last().map(|b| b.c)
    };
    let mut out: Vec<Factor> = actions
        .iter()
        .filter(|a| a.symbol == symbol && a.announced(clock) && a.ex_date <= today)
        .filter_map(|a| {
            let (price, volume) = match &a.kind {
                EmuActionKind::ForwardSplit { old_rate, new_rate }
                | EmuActionKind::ReverseSplit { old_rate, new_rate } => {
                    if !adjustment.split {
                        return None;
                    }
                    (old_rate / new_rate, ratio(*new_rate, *old_rate))
                }
                EmuActionKind::StockDividend { rate } => {
                    if !adjustment.split {
                        return None;
                    }
                    (1.0 / (1.0 + rate), ratio(1.0 + rate, 1.0))
                }
                EmuActionKind::CashDividend { rate } => {
                    if !adjustment.dividend {
                        return None;
                    }
                    (1.0 - rate / close_before(a.ex_date)?, (1, 1))
                }
                EmuActionKind::SpinOff {
                    source_rate,
                    new_symbol,
                    new_rate,
                } => {
                    if !adjustment.spin_off {
                        return None;
                    }
                    let boundary = calendar::new_york(a.ex_date, 0, 0);
                    let first = listing(new_symbol)?
                        .daily(boundary, boundary + Duration::days(7), clock)
                        .first()?
                        .c;
                    let value = new_rate / source_rate * first;
                    (1.0 - value / close_before(a.ex_date)?, (1, 1))
                }
                // The end of a ticker moves no price.
                EmuActionKind::NameChange { .. }
                | EmuActionKind::WorthlessRemoval
                | EmuActionKind::CashMerger { .. }
                | EmuActionKind::StockMerger { .. } => return None,
            };
            Some(Factor {
                boundary: calendar::new_york(a.ex_date, 0, 0),
                price,
                volume,
            })
        })
        .collect();
    out.sort_by_key(|f| f.boundary);
    out
}

/// The bars adjusted by `factors` (see the module docs for the rounding).
pub(crate) fn adjust(bars: Vec<EmuBar>, factors: &[Factor]) -> Vec<EmuBar> {
    bars.into_iter()
        .map(|bar| {
            let later: Vec<&Factor> = factors.iter().filter(|f| bar.t < f.boundary).collect();
            if later.is_empty() {
                return bar;
            }
            let price: f64 = later.iter().map(|f| f.price).product();
            let (num, den) = later.iter().fold((1u128, 1u128), |(n, d), f| {
                (n * u128::from(f.volume.0), d * u128::from(f.volume.1))
            });
            let v = (2 * (bar.v as u128) * num + den) / (2 * den);
            EmuBar {
                t: bar.t,
                o: round_to(bar.o * price, 2),
                h: round_to(bar.h * price, 2),
                l: round_to(bar.l * price, 2),
                c: round_to(bar.c * price, 2),
                v: v as f64,
                n: bar.n,
                vw: round_to(bar.vw * price, 2),
            }
        })
        .collect()
}

/// A validated `/v1/corporate-actions` request.
struct ListRequest {
    symbols: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    types: Vec<String>,
    start: NaiveDate,
    end: NaiveDate,
    limit: usize,
    descending: bool,
    cursor: Option<(NaiveDate, String, String)>,
}

/// The sort key of an action in the listing: process date, symbol, id.
fn sort_key(a: &EmuAction) -> (NaiveDate, String, String) {
    (a.process_date, a.symbol.clone(), a.id.clone())
}

fn date_param(name: &str, text: &str) -> Result<NaiveDate, String> {
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(d) if text.len() == 10 => Ok(d),
        _ => Err(format!(
            "Invalid format for parameter {name}: error parsing '{text}' as 2006-01-02 date"
        )),
    }
}

impl ListRequest {
    fn parse(query: &[(String, String)], clock: DateTime<Utc>) -> Result<ListRequest, String> {
        reject_unexpected(query, &PARAMS)?;
        let get = |name: &str| param(query, name);
        let list = |name: &str| {
            get(name).map(|v| {
                v.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect::<Vec<String>>()
            })
        };
        let ids = list("ids");
        if ids.is_some()
            && ["symbols", "cusips", "types", "start", "end"]
                .iter()
                .any(|p| get(p).is_some())
        {
            return Err("ids cannot be combined with other filters".to_owned());
        }
        let types =
            list("types").unwrap_or_else(|| TYPES.iter().map(|t| (*t).to_owned()).collect());
        if let Some(bad) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
            return Err(format!("invalid types: {bad}"));
        }
        let today = calendar::new_york_date(clock);
        let start = get("start").map_or(Ok(today), |t| date_param("start", t))?;
        let end = get("end").map_or(Ok(today), |t| date_param("end", t))?;
        if end < start {
            return Err("end should not be before start".to_owned());
        }
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n > MAX_LIMIT => {
                    return Err(format!(
                        "invalid limit: larger than the allowed maximum of {MAX_LIMIT}"
                    ));
                }
                Ok(n) if n < 1 => {
                    return Err("invalid limit: smaller than the allowed minimum of 1".to_owned());
                }
                Ok(n) => n as usize,
                Err(_) => return Err(format!("Invalid format for parameter limit: {text}")),
            },
        };
        let descending = match get("sort") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(format!("invalid sort: {other}")),
        };
        let cursor = match get("page_token") {
            None => None,
            Some(token) => Some(decode_token(token).ok_or("invalid page token")?),
        };
        Ok(ListRequest {
            symbols: list("symbols"),
            ids,
            types,
            start,
            end,
            limit,
            descending,
            cursor,
        })
    }

    fn matches(&self, a: &EmuAction, clock: DateTime<Utc>) -> bool {
        if !a.announced(clock) {
            return false;
        }
        if let Some(ids) = &self.ids {
            return ids.contains(&a.id);
        }
        let named = self
            .symbols
            .as_ref()
            .is_none_or(|s| a.symbols().iter().any(|n| s.iter().any(|x| x == n)));
        named
            && self.types.iter().any(|t| t == a.kind.type_name())
            && (self.start..=self.end).contains(&a.process_date)
    }
}

fn decode_token(token: &str) -> Option<(NaiveDate, String, String)> {
    let text = String::from_utf8(BASE64.decode(token).ok()?).ok()?;
    let mut parts = text.splitn(3, '|');
    let date = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
    Some((date, parts.next()?.to_owned(), parts.next()?.to_owned()))
}

fn encode_token(key: &(NaiveDate, String, String)) -> String {
    BASE64.encode(format!("{}|{}|{}", key.0, key.1, key.2))
}

/// A rate as Alpaca writes it: whole numbers without a fraction.
fn rate(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

fn cusip(symbol: &str) -> String {
    format!("{:09}", fnv1a(symbol) % 1_000_000_000)
}

/// An action that ends a ticker, as the listing shows it: the fields of Alpaca's spec for its
/// type (no ex-date; a merger's effective and payable dates).
fn render_ending(a: &EmuAction) -> Option<Value> {
    let (process, effective) = (a.process_date.to_string(), a.ex_date.to_string());
    Some(match &a.kind {
        EmuActionKind::NameChange { new_symbol } => json!({
            "id": a.id, "old_symbol": a.symbol, "old_cusip": cusip(&a.symbol),
            "new_symbol": new_symbol, "new_cusip": cusip(new_symbol), "process_date": process,
        }),
        EmuActionKind::WorthlessRemoval => json!({
            "id": a.id, "symbol": a.symbol, "cusip": cusip(&a.symbol), "process_date": process,
        }),
        EmuActionKind::CashMerger { acquirer, rate: r } => json!({
            "id": a.id, "acquirer_symbol": acquirer,
            "acquirer_cusip": acquirer.as_deref().map(cusip),
            "acquiree_symbol": a.symbol, "acquiree_cusip": cusip(&a.symbol), "rate": rate(*r),
            "process_date": process, "effective_date": effective, "payable_date": effective,
        }),
        EmuActionKind::StockMerger {
            acquirer,
            acquirer_rate,
            acquiree_rate,
        } => json!({
            "id": a.id, "acquirer_symbol": acquirer, "acquirer_cusip": cusip(acquirer),
            "acquirer_rate": rate(*acquirer_rate), "acquiree_symbol": a.symbol,
            "acquiree_cusip": cusip(&a.symbol), "acquiree_rate": rate(*acquiree_rate),
            "process_date": process, "effective_date": effective, "payable_date": effective,
        }),
        _ => return None,
    })
}

/// An action as the listing shows it (keys alphabetical, as serde_json writes a map).
fn render(a: &EmuAction) -> Value {
    if let Some(ending) = render_ending(a) {
        return ending;
    }
    let ex = a.ex_date;
    let dates = json!({
        "id": a.id,
        "ex_date": ex.to_string(),
        "process_date": a.process_date.to_string(),
        "record_date": (ex + Duration::days(1)).to_string(),
        "payable_date": a.process_date.to_string(),
    });
    let mut object = match &a.kind {
        EmuActionKind::ForwardSplit { old_rate, new_rate } => json!({
            "symbol": a.symbol, "cusip": cusip(&a.symbol),
            "old_rate": rate(*old_rate), "new_rate": rate(*new_rate),
        }),
        EmuActionKind::ReverseSplit { old_rate, new_rate } => json!({
            "symbol": a.symbol, "old_cusip": cusip(&a.symbol),
            "new_cusip": cusip(&format!("{}/new", a.symbol)),
            "old_rate": rate(*old_rate), "new_rate": rate(*new_rate),
        }),
        EmuActionKind::StockDividend { rate: r } => json!({
            "symbol": a.symbol, "cusip": cusip(&a.symbol), "rate": rate(*r),
        }),
        EmuActionKind::CashDividend { rate: r } => json!({
            "symbol": a.symbol, "cusip": cusip(&a.symbol), "rate": rate(*r),
            "special": false, "foreign": false,
        }),
        EmuActionKind::SpinOff {
            source_rate,
            new_symbol,
            new_rate,
        } => json!({
            "source_symbol": a.symbol, "source_cusip": cusip(&a.symbol),
            "source_rate": rate(*source_rate),
            "new_symbol": new_symbol, "new_cusip": cusip(new_symbol),
            "new_rate": rate(*new_rate),
        }),
        EmuActionKind::NameChange { .. }
        | EmuActionKind::WorthlessRemoval
        | EmuActionKind::CashMerger { .. }
        | EmuActionKind::StockMerger { .. } => unreachable!("rendered by render_ending"),
    };
    let fields = object.as_object_mut().expect("object");
    fields.extend(dates.as_object().expect("object").clone());
    object
}

/// The body of `GET /v1/corporate-actions` for `query` at `clock`, or the message of a 400.
pub(crate) fn list(
    actions: &[EmuAction],
    query: &[(String, String)],
    clock: DateTime<Utc>,
) -> Result<String, String> {
    let request = ListRequest::parse(query, clock)?;
    let mut selected: Vec<&EmuAction> = actions
        .iter()
        .filter(|a| request.matches(a, clock))
        .collect();
    selected.sort_by_key(|a| sort_key(a));
    if request.descending {
        selected.reverse();
    }
    if let Some(cursor) = &request.cursor {
        selected.retain(|a| {
            let key = sort_key(a);
            if request.descending {
                key <= *cursor
            } else {
                key >= *cursor
            }
        });
    }
    let next = selected
        .get(request.limit)
        .map(|a| encode_token(&sort_key(a)));
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in selected.into_iter().take(request.limit) {
        groups
            .entry(format!("{}s", a.kind.type_name()))
            .or_default()
            .push(render(a));
    }
    Ok(json!({ "corporate_actions": groups, "next_page_token": next }).to_string())
}

#[cfg(test)]
mod tests {
    use super::super::Emulator;
    use super::super::dates::utc;
    use super::*;

    #[test]
    fn splits_show_in_raw_bars_on_their_ex_date() {
        let emu = Emulator::start();
        let days = emu.bars(
            "ACME",
            "1Day",
            utc("2022-08-19T00:00:00Z"),
            utc("2022-08-22T23:00:00Z"),
            "sip",
        );
        let (before, after) = (&days[0], &days[1]);
        assert_eq!(after.t, utc("2022-08-22T04:00:00Z"));
        let ratio = before.c / after.c;
        assert!((2.8..3.2).contains(&ratio), "a 3:1 split: {ratio}");
        assert!(
            after.v > 2.0 * before.v,
            "volume triples: {before:?} {after:?}"
        );
        // The reverse split halves the share count: prices double.
        let days = emu.bars(
            "ACME",
            "1Day",
            utc("2023-11-10T00:00:00Z"),
            utc("2023-11-13T23:00:00Z"),
            "sip",
        );
        let ratio = days[1].c / days[0].c;
        assert!((1.8..2.2).contains(&ratio), "a 1:2 reverse split: {ratio}");
        // Symbols without actions are untouched.
        assert!(share_changes(&default_actions(), "AAPL").is_empty());
    }

    #[test]
    fn adjusted_bars_follow_the_documented_arithmetic() {
        let emu = Emulator::start();
        let (start, end) = (utc("2022-08-18T00:00:00Z"), utc("2022-08-23T00:00:00Z"));
        let raw = emu.bars("ACME", "1Day", start, end, "sip");
        let split = emu.bars_adjusted("ACME", "1Day", start, end, "sip", "split");
        // Before the 3:1 and the 1:2: × 1/3 × 2 on prices, × 3/2 on volume.
        let r = &raw[0];
        assert_eq!(split[0].c, round_to(r.c / 3.0 * 2.0, 2));
        assert_eq!(split[0].v, ((2.0 * r.v * 3.0 + 2.0) / 4.0).floor());
        assert_eq!(split[0].n, r.n);
        // From the forward split on, only the reverse split applies.
        assert_eq!(split[2].c, round_to(raw[2].c * 2.0, 2));
        let dividend = emu.bars_adjusted("ACME", "1Day", start, end, "sip", "dividend");
        assert_eq!(dividend[0].v, r.v);
        assert!(dividend[0].c < r.c && dividend[0].c > r.c * 0.95);
        // After every known action, adjusted bars are the raw bars.
        let late = (utc("2024-05-20T00:00:00Z"), utc("2024-06-14T00:00:00Z"));
        assert_eq!(
            emu.bars_adjusted("ACME", "1Day", late.0, late.1, "sip", "all"),
            emu.bars("ACME", "1Day", late.0, late.1, "sip")
        );
    }

    #[test]
    fn actions_appear_once_processed() {
        let emu = Emulator::start();
        let listed = |emu: &Emulator| {
            let now = emu.now();
            let body = list(
                &emu.lock().actions,
                &[
                    ("symbols".to_owned(), "ACME".to_owned()),
                    ("start".to_owned(), "2016-01-01".to_owned()),
                    ("limit".to_owned(), "1000".to_owned()),
                ],
                now,
            )
            .unwrap();
            serde_json::from_str::<Value>(&body).unwrap()
        };
        let json = listed(&emu);
        let groups = json["corporate_actions"].as_object().unwrap();
        let keys: Vec<&String> = groups.keys().collect();
        assert_eq!(keys, ["cash_dividends", "forward_splits", "reverse_splits"]);
        // 2024-05-15's dividend is paid (processed) on 2024-05-29, before the clock.
        assert_eq!(groups["cash_dividends"].as_array().unwrap().len(), 10);
        assert_eq!(groups["forward_splits"][0]["new_rate"], 3);
        assert_eq!(groups["forward_splits"][0]["old_rate"], 1);
        assert!(json["next_page_token"].is_null());
        emu.add_action(EmuAction::forward_split("ACME", "2024-07-01", 2.0, 1.0));
        assert!(listed(&emu)["corporate_actions"]["forward_splits"][1].is_null());
        emu.set_now(utc("2024-07-01T12:00:00Z"));
        let json = listed(&emu);
        assert_eq!(
            json["corporate_actions"]["forward_splits"][1]["ex_date"],
            "2024-07-01"
        );
    }
}

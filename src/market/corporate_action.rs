//! Corporate actions as Alpaca's `/v1/corporate-actions` reports them: those that move a
//! stock's prices (forward, reverse and unit splits, stock and cash dividends, spin-offs) and
//! those that end a ticker (name changes, worthless removals, and the acquiree's side of cash,
//! stock and stock-and-cash mergers; issue 23). Only the vocabulary: recording them is
//! `cache::ledger`'s job, applying prices `market::adjustment`'s, ending series
//! `ops::symbol_endings`'.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One corporate action. Rates are Alpaca's numbers as sent (`new_rate: 10, old_rate: 1` is a
/// ten-for-one forward split).
#[derive(Debug, Clone, PartialEq)]
pub struct CorporateAction {
    /// Alpaca's id (a UUID). An action keeps its id when Alpaca reports it again.
    pub id: String,
    /// The symbol whose bars the action concerns: `symbol` for splits, dividends and
    /// worthless removals, a spin-off's `source_symbol`, a unit split's or name change's
    /// `old_symbol`, a merger's `acquiree_symbol`.
    pub symbol: String,
    /// The first day the stock trades without the entitlement; for the actions without an
    /// ex-date, the day they take effect: a unit split's or merger's `effective_date`, a
    /// name change's or worthless removal's `process_date`.
    pub ex_date: NaiveDate,
    /// When Alpaca processed the action; the endpoint filters and sorts on it.
    pub process_date: NaiveDate,
    pub kind: ActionKind,
}

/// The type of an action and its own fields. Its serde form (`"type"` plus the fields, named
/// as Alpaca names them) is part of the ledger file format (`cache::ledger`): renaming a
/// variant or field changes the format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    ForwardSplit {
        old_rate: f64,
        new_rate: f64,
    },
    ReverseSplit {
        old_rate: f64,
        new_rate: f64,
    },
    /// A unit (e.g. of a SPAC) separating into other securities on its effective date.
    UnitSplit {
        old_rate: f64,
        new_symbol: String,
        new_rate: f64,
        alternate_symbol: String,
        alternate_rate: f64,
    },
    /// `rate` new shares per share held.
    StockDividend {
        rate: f64,
    },
    /// `rate` dollars per share.
    CashDividend {
        rate: f64,
        special: bool,
        foreign: bool,
    },
    /// `new_rate` shares of `new_symbol` for every `source_rate` shares held.
    SpinOff {
        source_rate: f64,
        new_symbol: String,
        new_rate: f64,
    },
    /// The ticker `symbol` (Alpaca's `old_symbol`) becomes `new_symbol`: the company goes on
    /// trading under the new ticker from the process date.
    NameChange {
        new_symbol: String,
    },
    /// The security was removed as worthless: its ticker ends.
    WorthlessRemoval,
    /// The acquiree is bought for `rate` dollars per share; `acquirer_symbol` when Alpaca
    /// names one.
    CashMerger {
        acquirer_symbol: Option<String>,
        rate: f64,
    },
    /// `acquirer_rate` shares of the acquirer for every `acquiree_rate` shares held.
    StockMerger {
        acquirer_symbol: String,
        acquirer_rate: f64,
        acquiree_rate: f64,
    },
    /// A stock merger plus `cash_rate` dollars per share.
    StockAndCashMerger {
        acquirer_symbol: String,
        acquirer_rate: f64,
        acquiree_rate: f64,
        cash_rate: f64,
    },
}

/// How an action ends its symbol's ticker, if it does (issue 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickerEnd<'a> {
    /// A name change: the company trades as `successor` from the process date.
    Renamed { successor: &'a str },
    /// A worthless removal.
    Removed,
    /// The acquiree of a merger, bought by `acquirer` when Alpaca names one.
    Acquired { acquirer: Option<&'a str> },
}

impl ActionKind {
    /// Alpaca's names of the types barkeep records, as the `types` parameter spells them.
    pub const TYPES: [&'static str; 11] = [
        "forward_split",
        "reverse_split",
        "unit_split",
        "stock_dividend",
        "cash_dividend",
        "spin_off",
        "name_change",
        "worthless_removal",
        "cash_merger",
        "stock_merger",
        "stock_and_cash_merger",
    ];

    /// Alpaca's name of this type (`forward_split`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionKind::ForwardSplit { .. } => "forward_split",
            ActionKind::ReverseSplit { .. } => "reverse_split",
            ActionKind::UnitSplit { .. } => "unit_split",
            ActionKind::StockDividend { .. } => "stock_dividend",
            ActionKind::CashDividend { .. } => "cash_dividend",
            ActionKind::SpinOff { .. } => "spin_off",
            ActionKind::NameChange { .. } => "name_change",
            ActionKind::WorthlessRemoval => "worthless_removal",
            ActionKind::CashMerger { .. } => "cash_merger",
            ActionKind::StockMerger { .. } => "stock_merger",
            ActionKind::StockAndCashMerger { .. } => "stock_and_cash_merger",
        }
    }

    /// How this action ends its symbol's ticker; `None` for actions that only move prices.
    pub fn ticker_end(&self) -> Option<TickerEnd<'_>> {
        match self {
            ActionKind::NameChange { new_symbol } => Some(TickerEnd::Renamed {
                successor: new_symbol,
            }),
            ActionKind::WorthlessRemoval => Some(TickerEnd::Removed),
            ActionKind::CashMerger {
                acquirer_symbol, ..
            } => Some(TickerEnd::Acquired {
                acquirer: acquirer_symbol.as_deref(),
            }),
            ActionKind::StockMerger {
                acquirer_symbol, ..
            }
            | ActionKind::StockAndCashMerger {
                acquirer_symbol, ..
            } => Some(TickerEnd::Acquired {
                acquirer: Some(acquirer_symbol),
            }),
            _ => None,
        }
    }
}

impl CorporateAction {
    /// Every symbol the action names, the concerned one first.
    pub fn symbols(&self) -> Vec<&str> {
        let mut symbols = vec![self.symbol.as_str()];
        match &self.kind {
            ActionKind::UnitSplit {
                new_symbol,
                alternate_symbol,
                ..
            } => symbols.extend([new_symbol.as_str(), alternate_symbol.as_str()]),
            ActionKind::SpinOff { new_symbol, .. } | ActionKind::NameChange { new_symbol } => {
                symbols.push(new_symbol);
            }
            ActionKind::CashMerger {
                acquirer_symbol: Some(acquirer),
                ..
            }
            | ActionKind::StockMerger {
                acquirer_symbol: acquirer,
                ..
            }
            | ActionKind::StockAndCashMerger {
                acquirer_symbol: acquirer,
                ..
            } => symbols.push(acquirer),
            _ => {}
        }
        symbols
    }
}

/// The terms of an action for people, e.g. `10:1`, `0.24 per share`, `0.5 SPUN per 1 held`.
impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionKind::ForwardSplit { old_rate, new_rate }
            | ActionKind::ReverseSplit { old_rate, new_rate } => {
                write!(f, "{new_rate}:{old_rate}")
            }
            ActionKind::UnitSplit {
                old_rate,
                new_symbol,
                new_rate,
                alternate_symbol,
                alternate_rate,
            } => write!(
                f,
                "{new_rate} {new_symbol} + {alternate_rate} {alternate_symbol} per {old_rate} held"
            ),
            ActionKind::StockDividend { rate } => write!(f, "{rate} shares per share"),
            ActionKind::CashDividend { rate, special, .. } => {
                write!(
                    f,
                    "{rate} per share{}",
                    if *special { ", special" } else { "" }
                )
            }
            ActionKind::SpinOff {
                source_rate,
                new_symbol,
                new_rate,
            } => write!(f, "{new_rate} {new_symbol} per {source_rate} held"),
            ActionKind::NameChange { new_symbol } => write!(f, "renamed to {new_symbol}"),
            ActionKind::WorthlessRemoval => write!(f, "removed as worthless"),
            ActionKind::CashMerger {
                acquirer_symbol,
                rate,
            } => match acquirer_symbol {
                Some(acquirer) => write!(f, "{rate} per share from {acquirer}"),
                None => write!(f, "{rate} per share"),
            },
            ActionKind::StockMerger {
                acquirer_symbol,
                acquirer_rate,
                acquiree_rate,
            } => write!(
                f,
                "{acquirer_rate} {acquirer_symbol} per {acquiree_rate} held"
            ),
            ActionKind::StockAndCashMerger {
                acquirer_symbol,
                acquirer_rate,
                acquiree_rate,
                cash_rate,
            } => write!(
                f,
                "{acquirer_rate} {acquirer_symbol} + {cash_rate} cash per {acquiree_rate} held"
            ),
        }
    }
}

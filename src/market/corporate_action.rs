//! Corporate actions that move a stock's prices, as Alpaca's `/v1/corporate-actions` reports
//! them: forward, reverse and unit splits, stock and cash dividends, and spin-offs. Only the
//! vocabulary: recording them is `cache::ledger`'s job, applying them `market::adjustment`'s.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One corporate action. Rates are Alpaca's numbers as sent (`new_rate: 10, old_rate: 1` is a
/// ten-for-one forward split).
#[derive(Debug, Clone, PartialEq)]
pub struct CorporateAction {
    /// Alpaca's id (a UUID). An action keeps its id when Alpaca reports it again.
    pub id: String,
    /// The symbol whose bars the action concerns: `symbol` for splits and dividends, a
    /// spin-off's `source_symbol`, a unit split's `old_symbol`.
    pub symbol: String,
    /// The first day the stock trades without the entitlement (a unit split's
    /// `effective_date`, which has no ex-date).
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
}

impl ActionKind {
    /// Alpaca's names of the types barkeep records, as the `types` parameter spells them.
    pub const TYPES: [&'static str; 6] = [
        "forward_split",
        "reverse_split",
        "unit_split",
        "stock_dividend",
        "cash_dividend",
        "spin_off",
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
            ActionKind::SpinOff { new_symbol, .. } => symbols.push(new_symbol),
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
        }
    }
}

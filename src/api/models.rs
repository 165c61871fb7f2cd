//! The JSON shapes Alpaca answers with, and their conversion into bars and corporate actions.
//! Tolerant where Alpaca has varied over time: `n` and `vw` may be missing, `bars` may be
//! `null`, keys may come in any order, a numeric volume may be written as `1.0`, and empty
//! groups of corporate actions may be omitted.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::market::{ActionKind, AssetClass, Bar, CorporateAction, Volume};

/// One decoded page of any endpoint.
pub(crate) trait Page: DeserializeOwned {
    /// The bars or actions it holds (for logs).
    fn items(&self) -> usize;
}

#[derive(Debug, Deserialize)]
pub(crate) struct BarsPage {
    #[serde(default)]
    pub bars: Option<HashMap<String, Option<Vec<RawBar>>>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

impl Page for BarsPage {
    fn items(&self) -> usize {
        self.bars.as_ref().map_or(0, |m| {
            m.values().map(|b| b.as_ref().map_or(0, Vec::len)).sum()
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawBar {
    t: String,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: serde_json::Number,
    #[serde(default)]
    n: Option<u64>,
    #[serde(default)]
    vw: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub message: String,
}

impl RawBar {
    pub(crate) fn into_bar(self, class: AssetClass) -> Result<Bar, String> {
        let timestamp = DateTime::parse_from_rfc3339(&self.t)
            .map_err(|_| format!("bad bar timestamp `{}`", self.t))?
            .with_timezone(&Utc);
        let volume = match class {
            AssetClass::Stocks => Volume::Shares(
                self.v
                    .as_u64()
                    .or_else(|| {
                        let f = self.v.as_f64()?;
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        (f >= 0.0 && f.fract() == 0.0 && f < 1.8e19).then_some(f as u64)
                    })
                    .ok_or_else(|| format!("bad stock volume `{}`", self.v))?,
            ),
            AssetClass::Crypto => Volume::Units(
                self.v
                    .as_f64()
                    .ok_or_else(|| format!("bad volume `{}`", self.v))?,
            ),
        };
        Ok(Bar {
            timestamp,
            open: self.o,
            high: self.h,
            low: self.l,
            close: self.c,
            volume,
            trade_count: self.n.unwrap_or(0),
            vwap: self.vw.unwrap_or(f64::NAN),
        })
    }
}

/// A page of `/v1/corporate-actions`: actions grouped by type (groups may be omitted when
/// empty; groups of types barkeep does not record are ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct CorporateActionsPage {
    #[serde(default)]
    corporate_actions: Option<ActionGroups>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ActionGroups {
    #[serde(default)]
    forward_splits: Option<Vec<RawSplit>>,
    #[serde(default)]
    reverse_splits: Option<Vec<RawSplit>>,
    #[serde(default)]
    unit_splits: Option<Vec<RawUnitSplit>>,
    #[serde(default)]
    stock_dividends: Option<Vec<RawStockDividend>>,
    #[serde(default)]
    cash_dividends: Option<Vec<RawCashDividend>>,
    #[serde(default)]
    spin_offs: Option<Vec<RawSpinOff>>,
}

#[derive(Debug, Deserialize)]
struct RawSplit {
    id: String,
    symbol: String,
    new_rate: f64,
    old_rate: f64,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawUnitSplit {
    id: String,
    old_symbol: String,
    old_rate: f64,
    new_symbol: String,
    new_rate: f64,
    alternate_symbol: String,
    alternate_rate: f64,
    process_date: String,
    effective_date: String,
}

#[derive(Debug, Deserialize)]
struct RawStockDividend {
    id: String,
    symbol: String,
    rate: f64,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawCashDividend {
    id: String,
    symbol: String,
    rate: f64,
    #[serde(default)]
    special: bool,
    #[serde(default)]
    foreign: bool,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawSpinOff {
    id: String,
    source_symbol: String,
    source_rate: f64,
    new_symbol: String,
    new_rate: f64,
    process_date: String,
    ex_date: String,
}

impl Page for CorporateActionsPage {
    fn items(&self) -> usize {
        self.corporate_actions.as_ref().map_or(0, |g| {
            [
                g.forward_splits.as_ref().map_or(0, Vec::len),
                g.reverse_splits.as_ref().map_or(0, Vec::len),
                g.unit_splits.as_ref().map_or(0, Vec::len),
                g.stock_dividends.as_ref().map_or(0, Vec::len),
                g.cash_dividends.as_ref().map_or(0, Vec::len),
                g.spin_offs.as_ref().map_or(0, Vec::len),
            ]
            .iter()
            .sum()
        })
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("bad corporate action date `{text}`"))
}

fn action(
    id: String,
    symbol: String,
    ex_date: &str,
    process_date: &str,
    kind: ActionKind,
) -> Result<CorporateAction, String> {
    Ok(CorporateAction {
        id,
        symbol,
        ex_date: date(ex_date)?,
        process_date: date(process_date)?,
        kind,
    })
}

impl CorporateActionsPage {
    /// The actions of the page, in the order of the groups.
    pub(crate) fn into_actions(self) -> Result<Vec<CorporateAction>, String> {
        let g = self.corporate_actions.unwrap_or_default();
        let mut out = Vec::new();
        for (splits, forward) in [(g.forward_splits, true), (g.reverse_splits, false)] {
            for s in splits.unwrap_or_default() {
                let (old_rate, new_rate) = (s.old_rate, s.new_rate);
                let kind = if forward {
                    ActionKind::ForwardSplit { old_rate, new_rate }
                } else {
                    ActionKind::ReverseSplit { old_rate, new_rate }
                };
                out.push(action(s.id, s.symbol, &s.ex_date, &s.process_date, kind)?);
            }
        }
        for u in g.unit_splits.unwrap_or_default() {
            let kind = ActionKind::UnitSplit {
                old_rate: u.old_rate,
                new_symbol: u.new_symbol,
                new_rate: u.new_rate,
                alternate_symbol: u.alternate_symbol,
                alternate_rate: u.alternate_rate,
            };
            let effective = u.effective_date;
            out.push(action(
                u.id,
                u.old_symbol,
                &effective,
                &u.process_date,
                kind,
            )?);
        }
        for d in g.stock_dividends.unwrap_or_default() {
            let kind = ActionKind::StockDividend { rate: d.rate };
            out.push(action(d.id, d.symbol, &d.ex_date, &d.process_date, kind)?);
        }
        for d in g.cash_dividends.unwrap_or_default() {
            let kind = ActionKind::CashDividend {
                rate: d.rate,
                special: d.special,
                foreign: d.foreign,
            };
            out.push(action(d.id, d.symbol, &d.ex_date, &d.process_date, kind)?);
        }
        for s in g.spin_offs.unwrap_or_default() {
            let kind = ActionKind::SpinOff {
                source_rate: s.source_rate,
                new_symbol: s.new_symbol,
                new_rate: s.new_rate,
            };
            out.push(action(
                s.id,
                s.source_symbol,
                &s.ex_date,
                &s.process_date,
                kind,
            )?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verbatim fixtures of alpaca-py's corporate-actions test (ALPACA_API.md §8.2).
    #[test]
    fn alpaca_py_fixtures_decode() {
        let body = r#"{"corporate_actions": {
    "forward_splits": [
      {
        "cusip": "CUSIP1",
        "id": "a7932b15-f816-4f83-921e-998b524487b1",
        "due_bill_redemption_date": "2023-08-23",
        "ex_date": "2023-08-22",
        "new_rate": 2,
        "old_rate": 1,
        "payable_date": "2023-08-21",
        "process_date": "2023-08-22",
        "record_date": "2023-08-14",
        "symbol": "SRE"
      }
    ],
    "cash_dividends": [
      {
        "cusip": "CUSIP1",
        "id": "a7932b15-f816-4f83-921e-998b524487b4",
        "ex_date": "2023-05-04",
        "foreign": false,
        "payable_date": "2023-05-19",
        "process_date": "2023-05-19",
        "rate": 0.125,
        "record_date": "2023-05-05",
        "special": false,
        "symbol": "FCF"
      }
    ],
    "name_changes": [{"id": "x", "old_symbol": "A", "new_symbol": "B", "process_date": "2023-01-03"}]
  },
  "next_page_token": "MDA3Q1ZSMDIwfDIwMjQtMDItMTV8NjBiZjkxYzItMDc0Ni00ZDliLThjOWUtYTgwYmIzMDhmZDkx"}"#;
        let page: CorporateActionsPage = serde_json::from_str(body).unwrap();
        assert_eq!(page.items(), 2, "name changes are not recorded");
        assert!(page.next_page_token.is_some());
        let actions = page.into_actions().unwrap();
        assert_eq!(actions[0].symbol, "SRE");
        assert_eq!(
            actions[0].kind,
            ActionKind::ForwardSplit {
                old_rate: 1.0,
                new_rate: 2.0
            }
        );
        assert_eq!(actions[0].ex_date.to_string(), "2023-08-22");
        assert_eq!(actions[1].id, "a7932b15-f816-4f83-921e-998b524487b4");
        assert_eq!(
            actions[1].kind,
            ActionKind::CashDividend {
                rate: 0.125,
                special: false,
                foreign: false
            }
        );
        assert_eq!(actions[1].process_date.to_string(), "2023-05-19");
        let empty: CorporateActionsPage =
            serde_json::from_str(r#"{"corporate_actions":{},"next_page_token":null}"#).unwrap();
        assert!(empty.into_actions().unwrap().is_empty());
    }
}

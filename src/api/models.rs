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

/// A page of `/v1/corporate-actions`: actions grouped by type. Groups may be omitted when
/// empty, groups of types barkeep does not record (`redemptions`, `rights_distributions`,
/// ...) are ignored, and each record is decoded on its own: one odd record is skipped (reported in
/// [`DecodedActions::skipped`]) instead of failing the page.
#[derive(Debug, Deserialize)]
pub(crate) struct CorporateActionsPage {
    #[serde(default)]
    corporate_actions: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// The groups barkeep records, by their name in the answer.
const RECORDED_GROUPS: [&str; 11] = [
    "forward_splits",
    "reverse_splits",
    "unit_splits",
    "stock_dividends",
    "cash_dividends",
    "spin_offs",
    "name_changes",
    "worthless_removals",
    "cash_mergers",
    "stock_mergers",
    "stock_and_cash_mergers",
];

#[derive(Debug, Deserialize)]
struct RawSplit {
    #[serde(default)]
    id: Option<String>,
    symbol: String,
    new_rate: f64,
    old_rate: f64,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawUnitSplit {
    #[serde(default)]
    id: Option<String>,
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
    #[serde(default)]
    id: Option<String>,
    symbol: String,
    rate: f64,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawCashDividend {
    #[serde(default)]
    id: Option<String>,
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
    #[serde(default)]
    id: Option<String>,
    source_symbol: String,
    source_rate: f64,
    new_symbol: String,
    new_rate: f64,
    process_date: String,
    ex_date: String,
}

#[derive(Debug, Deserialize)]
struct RawNameChange {
    #[serde(default)]
    id: Option<String>,
    old_symbol: String,
    new_symbol: String,
    process_date: String,
}

#[derive(Debug, Deserialize)]
struct RawWorthlessRemoval {
    #[serde(default)]
    id: Option<String>,
    symbol: String,
    process_date: String,
}

/// A cash, stock, or stock-and-cash merger: the fields each has (the others default).
#[derive(Debug, Deserialize)]
struct RawMerger {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    acquirer_symbol: Option<String>,
    acquiree_symbol: String,
    /// A cash merger's dollars per share.
    #[serde(default)]
    rate: Option<f64>,
    #[serde(default)]
    acquirer_rate: Option<f64>,
    #[serde(default)]
    acquiree_rate: Option<f64>,
    #[serde(default)]
    cash_rate: Option<f64>,
    process_date: String,
    effective_date: String,
}

impl RawMerger {
    fn kind(&self, group: &str) -> Result<ActionKind, String> {
        let need =
            |value: Option<f64>, name: &str| value.ok_or_else(|| format!("missing field `{name}`"));
        let acquirer = || {
            self.acquirer_symbol
                .clone()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| "missing field `acquirer_symbol`".to_owned())
        };
        Ok(match group {
            "cash_mergers" => ActionKind::CashMerger {
                acquirer_symbol: self.acquirer_symbol.clone().filter(|s| !s.is_empty()),
                rate: need(self.rate, "rate")?,
            },
            "stock_mergers" => ActionKind::StockMerger {
                acquirer_symbol: acquirer()?,
                acquirer_rate: need(self.acquirer_rate, "acquirer_rate")?,
                acquiree_rate: need(self.acquiree_rate, "acquiree_rate")?,
            },
            _ => ActionKind::StockAndCashMerger {
                acquirer_symbol: acquirer()?,
                acquirer_rate: need(self.acquirer_rate, "acquirer_rate")?,
                acquiree_rate: need(self.acquiree_rate, "acquiree_rate")?,
                cash_rate: need(self.cash_rate, "cash_rate")?,
            },
        })
    }
}

impl Page for CorporateActionsPage {
    fn items(&self) -> usize {
        self.corporate_actions.as_ref().map_or(0, |groups| {
            RECORDED_GROUPS
                .iter()
                .filter_map(|g| groups.get(*g)?.as_array().map(Vec::len))
                .sum()
        })
    }
}

/// A record of a recorded group that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SkippedRecord {
    /// The group, e.g. `forward_splits`.
    pub group: String,
    /// What names the record: its id, or its symbol and process date when it has no id.
    pub name: String,
    /// The symbol it concerns, when it says.
    pub symbol: Option<String>,
    pub reason: String,
}

/// The usable actions of a page, and the records that were skipped.
#[derive(Debug, Default)]
pub(crate) struct DecodedActions {
    pub actions: Vec<CorporateAction>,
    pub skipped: Vec<SkippedRecord>,
}

fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("bad corporate action date `{text}`"))
}

/// An action from its parts. A record without `id` (seen in recorded answers, though the
/// spec requires it) gets one derived from everything that identifies it, so the same record
/// reported again keeps the same id in the ledger.
fn action(
    id: Option<String>,
    symbol: String,
    ex_date: &str,
    process_date: &str,
    kind: ActionKind,
) -> Result<CorporateAction, String> {
    let ex_date = date(ex_date)?;
    let process_date = date(process_date)?;
    let id = id.filter(|id| !id.trim().is_empty()).unwrap_or_else(|| {
        format!(
            "derived:{}:{symbol}:{ex_date}:{process_date}:{kind}",
            kind.type_name()
        )
    });
    Ok(CorporateAction {
        id,
        symbol,
        ex_date,
        process_date,
        kind,
    })
}

/// Decodes one record of a recorded group.
fn decode_record(group: &str, record: serde_json::Value) -> Result<CorporateAction, String> {
    let err = |e: serde_json::Error| e.to_string();
    match group {
        "forward_splits" | "reverse_splits" => {
            let s: RawSplit = serde_json::from_value(record).map_err(err)?;
            let (old_rate, new_rate) = (s.old_rate, s.new_rate);
            let kind = if group == "forward_splits" {
                ActionKind::ForwardSplit { old_rate, new_rate }
            } else {
                ActionKind::ReverseSplit { old_rate, new_rate }
            };
            action(s.id, s.symbol, &s.ex_date, &s.process_date, kind)
        }
        "unit_splits" => {
            let u: RawUnitSplit = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::UnitSplit {
                old_rate: u.old_rate,
                new_symbol: u.new_symbol,
                new_rate: u.new_rate,
                alternate_symbol: u.alternate_symbol,
                alternate_rate: u.alternate_rate,
            };
            action(u.id, u.old_symbol, &u.effective_date, &u.process_date, kind)
        }
        "stock_dividends" => {
            let d: RawStockDividend = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::StockDividend { rate: d.rate };
            action(d.id, d.symbol, &d.ex_date, &d.process_date, kind)
        }
        "cash_dividends" => {
            let d: RawCashDividend = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::CashDividend {
                rate: d.rate,
                special: d.special,
                foreign: d.foreign,
            };
            action(d.id, d.symbol, &d.ex_date, &d.process_date, kind)
        }
        "spin_offs" => {
            let s: RawSpinOff = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::SpinOff {
                source_rate: s.source_rate,
                new_symbol: s.new_symbol,
                new_rate: s.new_rate,
            };
            action(s.id, s.source_symbol, &s.ex_date, &s.process_date, kind)
        }
        // The actions that end a ticker have no ex-date: a rename or removal takes effect on
        // its process date, a merger on its effective date.
        "name_changes" => {
            let n: RawNameChange = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::NameChange {
                new_symbol: n.new_symbol,
            };
            action(n.id, n.old_symbol, &n.process_date, &n.process_date, kind)
        }
        "worthless_removals" => {
            let w: RawWorthlessRemoval = serde_json::from_value(record).map_err(err)?;
            let kind = ActionKind::WorthlessRemoval;
            action(w.id, w.symbol, &w.process_date, &w.process_date, kind)
        }
        "cash_mergers" | "stock_mergers" | "stock_and_cash_mergers" => {
            let m: RawMerger = serde_json::from_value(record).map_err(err)?;
            let kind = m.kind(group)?;
            action(
                m.id,
                m.acquiree_symbol,
                &m.effective_date,
                &m.process_date,
                kind,
            )
        }
        other => Err(format!("`{other}` is not a group barkeep records")),
    }
}

/// A text field of a record, if it is a string.
fn text_field<'a>(record: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    record.get(name)?.as_str()
}

impl CorporateActionsPage {
    /// The usable actions of the page, in the order of the groups, and the skipped records.
    pub(crate) fn into_actions(self) -> DecodedActions {
        let mut groups = self.corporate_actions.unwrap_or_default();
        let mut out = DecodedActions::default();
        for group in RECORDED_GROUPS {
            let records = match groups.remove(group) {
                None | Some(serde_json::Value::Null) => continue,
                Some(serde_json::Value::Array(records)) => records,
                Some(_) => {
                    out.skipped.push(SkippedRecord {
                        group: group.to_owned(),
                        name: "the whole group".to_owned(),
                        symbol: None,
                        reason: "it is not a list".to_owned(),
                    });
                    continue;
                }
            };
            for record in records {
                let symbol = ["symbol", "source_symbol", "old_symbol", "acquiree_symbol"]
                    .iter()
                    .find_map(|f| text_field(&record, f))
                    .map(str::to_owned);
                let name = match (text_field(&record, "id"), &symbol) {
                    (Some(id), _) => format!("`{id}`"),
                    (None, Some(symbol)) => format!(
                        "of {symbol} processed {}",
                        text_field(&record, "process_date").unwrap_or("on an unknown date")
                    ),
                    (None, None) => "without id or symbol".to_owned(),
                };
                match decode_record(group, record) {
                    Ok(action) => out.actions.push(action),
                    Err(reason) => out.skipped.push(SkippedRecord {
                        group: group.to_owned(),
                        name,
                        symbol,
                        reason,
                    }),
                }
            }
        }
        out
    }
}

/// The answer of `GET /v2/assets`: one JSON array, no pages. Every field of an element is
/// optional here, so one odd element is skipped (`api::assets`) instead of failing the list.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub(crate) struct AssetsPage(pub Vec<RawAsset>);

#[derive(Debug, Deserialize)]
pub(crate) struct RawAsset {
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub exchange: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
}

impl Page for AssetsPage {
    fn items(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::TickerEnd;

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
        assert_eq!(page.items(), 3, "name changes are recorded");
        assert!(page.next_page_token.is_some());
        let decoded = page.into_actions();
        assert!(decoded.skipped.is_empty());
        let actions = decoded.actions;
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
        assert_eq!(actions[2].symbol, "A");
        assert_eq!(
            actions[2].kind,
            ActionKind::NameChange {
                new_symbol: "B".to_owned()
            }
        );
        assert_eq!(actions[2].ex_date.to_string(), "2023-01-03");
        let empty: CorporateActionsPage =
            serde_json::from_str(r#"{"corporate_actions":{},"next_page_token":null}"#).unwrap();
        assert!(empty.into_actions().actions.is_empty());
    }

    /// The Go SDK's recorded page (ALPACA_API.md §9.16): no `id`, no `cusip`, and groups
    /// barkeep does not record. Plus one record that lacks a required field.
    #[test]
    fn records_are_decoded_one_by_one() {
        let body = r#"{"corporate_actions": {
            "forward_splits": [
                {"due_bill_redemption_date": "2024-03-14", "ex_date": "2024-03-13", "new_rate": 5,
                 "old_rate": 1, "payable_date": "2024-03-12", "process_date": "2024-03-13",
                 "record_date": "2024-03-11", "symbol": "FBL"},
                {"ex_date": "2024-03-13", "old_rate": 1, "process_date": "2024-03-13", "symbol": "NVDL"}
            ],
            "name_changes": [{"new_symbol": "ZEO", "old_symbol": "ESAC", "process_date": "2024-03-14"}],
            "stock_mergers": [{"acquiree_rate": 1, "acquiree_symbol": "FAZE", "acquirer_rate": 0.13091,
                "acquirer_symbol": "GAME", "effective_date": "2024-03-11", "payable_date": "2024-03-11",
                "process_date": "2024-03-11"}],
            "worthless_removals": [{"process_date": "2024-03-12", "symbol": "EACPW"}],
            "cash_dividends": "surprise"
        }, "next_page_token": null}"#;
        let page: CorporateActionsPage = serde_json::from_str(body).unwrap();
        assert_eq!(page.items(), 5);
        let decoded = page.into_actions();
        assert_eq!(decoded.actions.len(), 4);
        let fbl = &decoded.actions[0];
        assert_eq!(fbl.symbol, "FBL");
        assert_eq!(
            fbl.id,
            "derived:forward_split:FBL:2024-03-13:2024-03-13:5:1"
        );
        assert_eq!(decoded.skipped.len(), 2);
        let nvdl = &decoded.skipped[0];
        assert_eq!(nvdl.symbol.as_deref(), Some("NVDL"));
        assert_eq!(nvdl.name, "of NVDL processed 2024-03-13");
        assert!(nvdl.reason.contains("new_rate"), "{}", nvdl.reason);
        assert_eq!(decoded.skipped[1].group, "cash_dividends");
        // The actions that end a ticker: each under the ticker that ends.
        let ends: Vec<(&str, &str, Option<TickerEnd>)> = decoded.actions[1..]
            .iter()
            .map(|a| (a.symbol.as_str(), a.kind.type_name(), a.kind.ticker_end()))
            .collect();
        assert_eq!(
            ends,
            [
                (
                    "ESAC",
                    "name_change",
                    Some(TickerEnd::Renamed { successor: "ZEO" })
                ),
                ("EACPW", "worthless_removal", Some(TickerEnd::Removed)),
                (
                    "FAZE",
                    "stock_merger",
                    Some(TickerEnd::Acquired {
                        acquirer: Some("GAME")
                    })
                ),
            ]
        );
        assert_eq!(decoded.actions[3].ex_date.to_string(), "2024-03-11");
        assert_eq!(decoded.actions[3].symbols(), ["FAZE", "GAME"]);
        // The same record decodes to the same id every time.
        let again: CorporateActionsPage = serde_json::from_str(body).unwrap();
        assert_eq!(again.into_actions().actions[0].id, fbl.id);
    }
}

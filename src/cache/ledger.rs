//! The corporate-actions ledger of a stock symbol: the price-moving actions Alpaca has
//! reported for it, the span of process dates already asked, and when it was last checked.
//! One small JSON file per symbol, `<root>/stocks/actions/<symbol>.json`, shared by every
//! series of the symbol (the bars stay raw; adjusting happens on read):
//!
//! ```json
//! {
//!   "format_version": 2,
//!   "symbol": "NVDA",
//!   "checked_at": "2024-06-14T20:30:00Z",
//!   "process_dates": ["2016-01-01", "2024-06-14"],
//!   "actions": [
//!     {"id": "…", "symbol": "NVDA", "ex_date": "2024-06-10", "process_date": "2024-06-10",
//!      "type": "forward_split", "old_rate": 1.0, "new_rate": 10.0},
//!     {"id": "…", "symbol": "NVDA", "ex_date": "2024-06-11", "process_date": "2024-06-28",
//!      "type": "cash_dividend", "rate": 0.01, "special": false, "foreign": false}
//!   ]
//! }
//! ```
//!
//! `process_dates` is inclusive. `type` is Alpaca's name of the action type; the other fields
//! are Alpaca's, as sent (a spin-off's `symbol` is its `source_symbol`, a unit split's its
//! `old_symbol` and its `ex_date` the `effective_date`; a name change's `symbol` is its
//! `old_symbol`, a merger's its `acquiree_symbol`; see `market::corporate_action`).
//!
//! Format 2 (issue 23) also records the actions that end a ticker: name changes, worthless
//! removals and mergers. A format-1 ledger was asked without them, so it reads with
//! [`Ledger::asked_endings`] false: the next refresh asks its symbol again from the first
//! process date, and rewrites it as format 2. Actions are sorted by ex-date, then
//! id; an id appears once. Stored as a document of the cache's backend: on disk written like a series
//! (temp file, fsync, rename) under a lock on `.<symbol>.json.lock` beside it.
//!
//! A refresh rewrites the file only when its actions change. Later checks that found nothing
//! new are recorded in the cache's index of checks (`ledger_index`), which callers overlay on
//! what [`read`] returns: `checked_at` and `process_dates` in the file are as of its last
//! rewrite, so they may be older than the symbol's last check.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use super::layout::{LEDGER_INDEX_FILE, ledger_relative_dir, ledger_relative_path};
use super::lock::SeriesLock;
use super::{Error, Store};
use crate::market::{ActionKind, AssetClass, CorporateAction, Symbol};
use crate::parquet_files::metadata::format_instant;

const FORMAT_VERSION: u32 = 2;
/// Ledgers written before barkeep recorded the actions that end a ticker.
const FORMAT_WITHOUT_ENDINGS: u32 = 1;

/// A stock symbol's recorded corporate actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Ledger {
    pub symbol: Symbol,
    /// When Alpaca was last asked.
    pub checked_at: DateTime<Utc>,
    /// The process dates already asked, both inclusive.
    pub process_dates: (NaiveDate, NaiveDate),
    /// Sorted by ex-date, then id; no id twice.
    pub actions: Vec<CorporateAction>,
    /// Whether `process_dates` were asked for the actions that end a ticker too (name
    /// changes, removals, mergers): false for a ledger of format 1.
    pub asked_endings: bool,
}

impl Ledger {
    pub fn new(symbol: Symbol, checked_at: DateTime<Utc>, asked: (NaiveDate, NaiveDate)) -> Self {
        Ledger {
            symbol,
            checked_at,
            process_dates: asked,
            actions: Vec::new(),
            asked_endings: true,
        }
    }

    /// Takes in an answer: the process dates `asked` and the actions found for them. An action
    /// already known (same id) is replaced by the newer copy, not added again. Returns how many
    /// actions are new.
    pub fn merge(
        &mut self,
        actions: impl IntoIterator<Item = CorporateAction>,
        asked: (NaiveDate, NaiveDate),
        checked_at: DateTime<Utc>,
    ) -> usize {
        let mut added = 0;
        for action in actions {
            match self.actions.iter_mut().find(|a| a.id == action.id) {
                Some(known) => *known = action,
                None => {
                    self.actions.push(action);
                    added += 1;
                }
            }
        }
        self.actions
            .sort_by(|a, b| (a.ex_date, &a.id).cmp(&(b.ex_date, &b.id)));
        self.process_dates = (
            self.process_dates.0.min(asked.0),
            self.process_dates.1.max(asked.1),
        );
        self.checked_at = self.checked_at.max(checked_at);
        added
    }
}

/// Where the ledger of `symbol` lives: a file path, or an object URL.
pub fn path(store: &Store, symbol: &Symbol) -> PathBuf {
    store.document_location(&ledger_relative_path(symbol))
}

/// The ledger file of `symbol`, as of its last rewrite; `None` when none was recorded yet.
/// `LedgerIndex::read_checked` adds the latest check.
pub fn read(store: &Store, symbol: &Symbol) -> Result<Option<Ledger>, Error> {
    let Some(bytes) = store.read_document(&ledger_relative_path(symbol))? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let damaged = |message: String| Error::DamagedLedger {
        path: path(store, symbol),
        message,
    };
    let json: Json = serde_json::from_str(&text).map_err(|e| damaged(e.to_string()))?;
    let ledger = json.into_ledger().map_err(damaged)?;
    if ledger.symbol != *symbol {
        return Err(damaged(format!("it is the ledger of {}", ledger.symbol)));
    }
    Ok(Some(ledger))
}

/// The ledger as its file's JSON object (for `inspect --format json`).
pub fn to_json(ledger: &Ledger) -> serde_json::Value {
    serde_json::to_value(Json::from(ledger)).expect("a ledger serialises")
}

/// Every symbol with a ledger file, sorted. Foreign files are ignored.
pub fn list(store: &Store) -> Result<Vec<Symbol>, Error> {
    let mut symbols: Vec<Symbol> = store
        .list_documents(&ledger_relative_dir())?
        .iter()
        .filter_map(|name| symbol_of(name))
        .collect();
    symbols.sort();
    Ok(symbols)
}

/// The symbol whose ledger file is named `name`; `None` for any other file.
fn symbol_of(name: &str) -> Option<Symbol> {
    // The index of checks sits beside the ledgers (its name can be no symbol's).
    if name == LEDGER_INDEX_FILE {
        return None;
    }
    let stem = name.strip_suffix(".json")?;
    let symbol = percent_decode_str(stem)
        .decode_utf8()
        .ok()?
        .parse::<Symbol>()
        .ok()?;
    // Only the file name the layout gives the symbol (not another spelling of it).
    let canonical = ledger_relative_path(&symbol);
    (symbol.asset_class() == AssetClass::Stocks
        && canonical.file_name().and_then(|n| n.to_str()) == Some(name))
    .then_some(symbol)
}

/// Takes the write lock of `symbol`'s ledger. Blocking: call off the async runtime.
pub fn lock(store: &Store, symbol: &Symbol, wait: bool) -> Result<SeriesLock, Error> {
    store.lock_document(&ledger_relative_path(symbol), wait)
}

/// Replaces the ledger atomically. The caller holds its lock. Returns the new file's ETag
/// where the backend has them (see [`etags`]).
pub fn write(store: &Store, ledger: &Ledger, lock: &SeriesLock) -> Result<Option<String>, Error> {
    let mut bytes = serde_json::to_vec_pretty(&Json::from(ledger)).map_err(std::io::Error::from)?;
    bytes.push(b'\n');
    let version =
        store.write_document_versioned(&ledger_relative_path(&ledger.symbol), &bytes, lock)?;
    Ok(version.and_then(|v| v.e_tag))
}

/// The ETag of every ledger file, by symbol, from one listing: an object store's, where
/// the ETag changes with every write, so a ledger whose ETag is the one recorded when it was
/// last written or read (`ledger_index`) is known without reading it. `None` from a backend
/// where reading a ledger costs no more than listing it (a directory): read them.
pub fn etags(store: &Store) -> Result<Option<BTreeMap<Symbol, String>>, Error> {
    let Some(versions) = store.document_versions(&ledger_relative_dir())? else {
        return Ok(None);
    };
    Ok(Some(
        versions
            .into_iter()
            .filter_map(|(name, version)| Some((symbol_of(&name)?, version.e_tag?)))
            .collect(),
    ))
}

/// Deletes the ledger, its lock file and the ledger directory if that is left empty. Returns
/// whether there was a ledger.
pub fn remove(store: &Store, symbol: &Symbol, lock: SeriesLock) -> Result<bool, Error> {
    store.remove_document(&ledger_relative_path(symbol), lock)
}

#[derive(Serialize, Deserialize)]
struct Json {
    format_version: u32,
    symbol: String,
    checked_at: String,
    process_dates: [String; 2],
    actions: Vec<JsonAction>,
}

#[derive(Serialize, Deserialize)]
struct JsonAction {
    id: String,
    symbol: String,
    ex_date: String,
    process_date: String,
    /// `type` and the type's own fields.
    #[serde(flatten)]
    kind: ActionKind,
}

impl From<&Ledger> for Json {
    fn from(ledger: &Ledger) -> Self {
        Json {
            format_version: FORMAT_VERSION,
            symbol: ledger.symbol.to_string(),
            checked_at: format_instant(ledger.checked_at),
            process_dates: [
                ledger.process_dates.0.to_string(),
                ledger.process_dates.1.to_string(),
            ],
            actions: ledger
                .actions
                .iter()
                .map(|a| JsonAction {
                    id: a.id.clone(),
                    symbol: a.symbol.clone(),
                    ex_date: a.ex_date.to_string(),
                    process_date: a.process_date.to_string(),
                    kind: a.kind.clone(),
                })
                .collect(),
        }
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("bad date `{text}`"))
}

impl Json {
    fn into_ledger(self) -> Result<Ledger, String> {
        if ![FORMAT_VERSION, FORMAT_WITHOUT_ENDINGS].contains(&self.format_version) {
            return Err(format!(
                "format version {} is not {FORMAT_VERSION}",
                self.format_version
            ));
        }
        let symbol: Symbol = self.symbol.parse().map_err(|e| format!("{e}"))?;
        let checked_at = DateTime::parse_from_rfc3339(&self.checked_at)
            .map_err(|_| format!("bad time `{}`", self.checked_at))?
            .to_utc();
        let [start, end] = &self.process_dates;
        let actions = self
            .actions
            .into_iter()
            .map(|a| {
                Ok(CorporateAction {
                    ex_date: date(&a.ex_date)?,
                    process_date: date(&a.process_date)?,
                    id: a.id,
                    symbol: a.symbol,
                    kind: a.kind,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Ledger {
            symbol,
            checked_at,
            process_dates: (date(start)?, date(end)?),
            actions,
            asked_endings: self.format_version != FORMAT_WITHOUT_ENDINGS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn dividend(id: &str, ex: &str, rate: f64) -> CorporateAction {
        CorporateAction {
            id: id.to_owned(),
            symbol: "ACME".to_owned(),
            ex_date: d(ex),
            process_date: d(ex),
            kind: ActionKind::CashDividend {
                rate,
                special: false,
                foreign: false,
            },
        }
    }

    #[test]
    fn merging_keeps_one_copy_per_id_and_widens_the_span() {
        let symbol: Symbol = "ACME".parse().unwrap();
        let mut ledger = Ledger::new(
            symbol,
            t("2024-06-01T00:00:00Z"),
            (d("2016-01-01"), d("2024-06-01")),
        );
        let first = ledger.merge(
            [
                dividend("b", "2024-05-15", 0.2),
                dividend("a", "2024-02-15", 0.2),
            ],
            (d("2016-01-01"), d("2024-06-01")),
            t("2024-06-01T00:00:00Z"),
        );
        assert_eq!(first, 2);
        let second = ledger.merge(
            [
                dividend("b", "2024-05-15", 0.25),
                dividend("c", "2024-06-10", 0.2),
            ],
            (d("2024-05-25"), d("2024-06-14")),
            t("2024-06-14T20:30:00Z"),
        );
        assert_eq!(second, 1, "a known id is not added again");
        let ids: Vec<&str> = ledger.actions.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"], "sorted by ex-date");
        assert_eq!(
            ledger.actions[1].kind,
            ActionKind::CashDividend {
                rate: 0.25,
                special: false,
                foreign: false
            },
            "the newer copy wins"
        );
        assert_eq!(ledger.process_dates, (d("2016-01-01"), d("2024-06-14")));
        assert_eq!(ledger.checked_at, t("2024-06-14T20:30:00Z"));
    }

    #[test]
    fn a_ledger_round_trips_and_is_never_listed_as_a_series() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let symbol: Symbol = "ACME".parse().unwrap();
        assert_eq!(read(&store, &symbol).unwrap(), None);
        let mut ledger = Ledger::new(
            symbol.clone(),
            t("2024-06-14T20:30:00Z"),
            (d("2016-01-01"), d("2024-06-14")),
        );
        let spin_off = CorporateAction {
            id: "s".to_owned(),
            symbol: "ACME".to_owned(),
            ex_date: d("2023-04-03"),
            process_date: d("2023-04-05"),
            kind: ActionKind::SpinOff {
                source_rate: 1.0,
                new_symbol: "SPUN".to_owned(),
                new_rate: 0.5,
            },
        };
        let split = CorporateAction {
            id: "f".to_owned(),
            symbol: "ACME".to_owned(),
            ex_date: d("2022-08-22"),
            process_date: d("2022-08-22"),
            kind: ActionKind::ForwardSplit {
                old_rate: 1.0,
                new_rate: 3.0,
            },
        };
        ledger.merge(
            [spin_off, split, dividend("x", "2024-02-15", 0.125)],
            ledger.process_dates,
            ledger.checked_at,
        );
        let lock = lock(&store, &symbol, true).unwrap();
        write(&store, &ledger, &lock).unwrap();
        assert_eq!(read(&store, &symbol).unwrap(), Some(ledger.clone()));
        assert_eq!(list(&store).unwrap(), vec![symbol.clone()]);
        let text = fs_err::read_to_string(path(&store, &symbol)).unwrap();
        assert!(text.contains(r#""type": "forward_split""#), "{text}");
        assert!(text.contains(r#""process_dates": ["#), "{text}");
        assert!(store.list().unwrap().is_empty());

        assert!(remove(&store, &symbol, lock).unwrap());
        assert!(
            !dir.path().join("stocks").exists(),
            "emptied directories go"
        );
        assert_eq!(read(&store, &symbol).unwrap(), None);
    }

    #[test]
    fn a_damaged_ledger_is_an_error_not_an_empty_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let symbol: Symbol = "ACME".parse().unwrap();
        let file = path(&store, &symbol);
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        fs_err::write(&file, "{not json").unwrap();
        assert!(matches!(
            read(&store, &symbol),
            Err(Error::DamagedLedger { .. })
        ));
    }

    /// A ledger written before the actions that end a ticker were recorded reads, marked as
    /// not asked for them; written again, it is format 2 with them.
    #[test]
    fn a_format_one_ledger_reads_as_not_asked_for_endings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let symbol: Symbol = "ACME".parse().unwrap();
        let file = path(&store, &symbol);
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        let v1 = r#"{"format_version": 1, "symbol": "ACME", "checked_at": "2024-06-14T20:30:00Z",
            "process_dates": ["2016-01-01", "2024-06-14"], "actions": []}"#;
        fs_err::write(&file, v1).unwrap();
        let mut ledger = read(&store, &symbol).unwrap().unwrap();
        assert!(!ledger.asked_endings);
        ledger.asked_endings = true;
        ledger.actions.push(CorporateAction {
            id: "n".to_owned(),
            symbol: "ACME".to_owned(),
            ex_date: d("2024-06-10"),
            process_date: d("2024-06-10"),
            kind: ActionKind::NameChange {
                new_symbol: "ACMX".to_owned(),
            },
        });
        let lock = lock(&store, &symbol, true).unwrap();
        write(&store, &ledger, &lock).unwrap();
        let text = fs_err::read_to_string(&file).unwrap();
        assert!(text.contains(r#""format_version": 2"#), "{text}");
        assert!(text.contains(r#""type": "name_change""#), "{text}");
        assert_eq!(read(&store, &symbol).unwrap().unwrap(), ledger);
    }
}

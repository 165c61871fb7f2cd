//! The index of corporate-actions checks: one document per cache, `stocks/actions/_index.json`,
//! recording for each stock symbol when Alpaca was last asked for its actions and the span of
//! process dates asked so far (issue 12, "write only what changed"):
//!
//! ```json
//! {
//!   "format_version": 2,
//!   "symbols": {
//!     "NVDA": {"checked_at": "2024-06-14T20:30:00Z", "process_dates": ["2016-01-01", "2024-06-14"],
//!              "ledger_etag": "\"5d41402abc4b2a76b9719d911017c592\""}
//!   }
//! }
//! ```
//!
//! A refresh rewrites a symbol's ledger only when its actions changed, and records the check
//! of every symbol it asked about here, in one write per run, so an unchanged refresh of 500
//! symbols writes one file, not 500. What a symbol's ledger says is then the ledger file
//! overlaid with its entry ([`LedgerIndex::apply`]): the later check time and the union of
//! both spans (the ledger file keeps its own fields, as of its last rewrite, so a cache
//! without an index, or a binary that does not know it, still reads correct if older values).
//!
//! In a bucket, an entry also records the ETag of the symbol's ledger file as this cache
//! last wrote or read it (`ledger_etag`). One LIST of the ledgers gives their current ETags:
//! a ledger whose ETag is the recorded one is the file the entry describes, so a refresh
//! plans from the entry without reading the ledger, and reads it only when an answer brings
//! actions for it. A ledger written since by anyone else, replaced by hand, truncated or
//! damaged has another ETag, so it is read (and a damaged one found and fetched again from
//! scratch) exactly as before. On disk, where a read costs no more than a listing, ledgers
//! are always read and no ETag is recorded.
//!
//! The index is a hint that only ever saves requests: an entry without a ledger file is
//! ignored (a missing ledger is asked from scratch), a damaged index reads as empty and the
//! next write replaces it. Writers merge with what is stored ([`record`]), since two runs may
//! refresh at once: on disk under the index's own lock; in a bucket with a conditional put
//! on the version read, re-reading and merging again when another run wrote in between, so
//! no run's entries are lost.
//!
//! Format 2 came with ledgers of format 2 (issue 23): an index of format 1 reads as empty, so
//! the first refresh after the upgrade reads every ledger once and finds those of format 1.
//!
//! The name starts with `_`, which no encoded symbol can (it would be `%5F`), so the index is
//! never mistaken for a ledger, even on a case-insensitive file system.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::layout::{LEDGER_INDEX_FILE, ledger_relative_dir};
use super::ledger::{self, Ledger};
use super::{Error, Store};
use crate::market::Symbol;
use crate::parquet_files::metadata::format_instant;

const FORMAT_VERSION: u32 = 2;

/// One symbol's latest check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// When Alpaca was last asked.
    pub checked_at: DateTime<Utc>,
    /// The process dates asked so far, both inclusive.
    pub process_dates: (NaiveDate, NaiveDate),
}

impl Check {
    /// This check and `other` together: the later time, the union of the spans.
    fn merged(self, other: Check) -> Check {
        Check {
            checked_at: self.checked_at.max(other.checked_at),
            process_dates: (
                self.process_dates.0.min(other.process_dates.0),
                self.process_dates.1.max(other.process_dates.1),
            ),
        }
    }
}

/// Attempts of one write of the index before giving up on an index that keeps changing.
const MAX_WRITE_ATTEMPTS: u32 = 16;

/// The checks recorded in a cache, by symbol.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerIndex {
    pub checks: BTreeMap<Symbol, Check>,
    /// The ETag of each symbol's ledger file as last written or read (object storage only).
    pub ledger_etags: BTreeMap<Symbol, String>,
}

/// What the index knows of a ledger without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vouched {
    /// There is no ledger file.
    Absent,
    /// The ledger file is the one the entry describes: its latest check.
    Unchanged(Check),
    /// Read the ledger to know.
    Unknown,
}

impl LedgerIndex {
    /// The latest check of `ledger`'s symbol: its file's own, overlaid with the recorded one.
    pub fn check_of(&self, ledger: &Ledger) -> Check {
        let own = Check {
            checked_at: ledger.checked_at,
            process_dates: ledger.process_dates,
        };
        self.checks
            .get(&ledger.symbol)
            .map_or(own, |check| check.merged(own))
    }

    /// Overlays `ledger` with its symbol's recorded check, if any.
    pub fn apply(&self, ledger: &mut Ledger) {
        let check = self.check_of(ledger);
        ledger.checked_at = check.checked_at;
        ledger.process_dates = check.process_dates;
    }

    /// The ledger of `symbol` overlaid with its latest check recorded here (see the module
    /// documentation); `None` when none was recorded yet.
    pub fn read_checked(&self, store: &Store, symbol: &Symbol) -> Result<Option<Ledger>, Error> {
        Ok(ledger::read(store, symbol)?.map(|mut ledger| {
            self.apply(&mut ledger);
            ledger
        }))
    }

    /// What the index says of `symbol`'s ledger, given the ETags of the ledger files from a
    /// listing (`None`: this backend has none, read every ledger).
    pub fn vouch(&self, symbol: &Symbol, listed: Option<&BTreeMap<Symbol, String>>) -> Vouched {
        let Some(listed) = listed else {
            return Vouched::Unknown;
        };
        let Some(etag) = listed.get(symbol) else {
            return Vouched::Absent;
        };
        match (self.ledger_etags.get(symbol), self.checks.get(symbol)) {
            (Some(recorded), Some(check)) if recorded == etag => Vouched::Unchanged(*check),
            _ => Vouched::Unknown,
        }
    }

    /// Records what is known of the ETags of ledger files.
    pub fn set_etags(&mut self, etags: impl IntoIterator<Item = (Symbol, LedgerEtag)>) {
        for (symbol, etag) in etags {
            match etag {
                LedgerEtag::Keep => {}
                LedgerEtag::Set(etag) => {
                    self.ledger_etags.insert(symbol, etag);
                }
                LedgerEtag::Forget => {
                    self.ledger_etags.remove(&symbol);
                }
            }
        }
    }

    /// Adds `checks`, keeping for each symbol the later time and the union of the spans.
    pub fn merge(&mut self, checks: impl IntoIterator<Item = (Symbol, Check)>) {
        for (symbol, check) in checks {
            self.checks
                .entry(symbol)
                .and_modify(|known| *known = known.merged(check))
                .or_insert(check);
        }
    }
}

/// The index relative to the cache root.
pub fn relative_path() -> PathBuf {
    ledger_relative_dir().join(LEDGER_INDEX_FILE)
}

/// Where the index lives: a file path, or an object URL.
pub fn path(store: &Store) -> PathBuf {
    store.document_location(&relative_path())
}

/// The recorded checks; empty when there is no index, or when it cannot be read (it only
/// saves requests, see the module documentation). Fails only when storage does.
pub fn read(store: &Store) -> Result<LedgerIndex, Error> {
    let Some(bytes) = store.read_document(&relative_path())? else {
        return Ok(LedgerIndex::default());
    };
    Ok(parse(&bytes).unwrap_or_default())
}

/// What a run knows of the ETag of a symbol's ledger file after its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEtag {
    /// The ledger is the one the recorded ETag names (it was not read or written).
    Keep,
    /// The ledger was read or written with this ETag.
    Set(String),
    /// Not known (a directory cache, or a ledger written or read without one).
    Forget,
}

/// One check to record, with what is known of the symbol's ledger file.
pub type Recorded = (Symbol, Check, LedgerEtag);

/// Records `checks` in one write, merged with what is stored: under the index's lock, or
/// (in a bucket) as a conditional put retried on a fresh read when another run wrote in
/// between. Does nothing when `checks` is empty. Blocking.
pub fn record(store: &Store, checks: Vec<Recorded>) -> Result<(), Error> {
    if checks.is_empty() {
        return Ok(());
    }
    update(store, |index| {
        index.set_etags(checks.iter().map(|(s, _, e)| (s.clone(), e.clone())));
        index.merge(checks.iter().map(|(s, c, _)| (s.clone(), *c)));
    })
}

/// Applies `change` to the stored index and writes it back when it changed: read, change,
/// conditional write, and again on a conflict. Blocking.
fn update(store: &Store, change: impl Fn(&mut LedgerIndex)) -> Result<(), Error> {
    // Always wait: the lock is held only for one read and one small write.
    let lock = store.lock_document(&relative_path(), true)?;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let (mut index, version) = match store.read_document_versioned(&relative_path())? {
            Some((bytes, version)) => (parse(&bytes).unwrap_or_default(), version),
            None => (LedgerIndex::default(), None),
        };
        let before = index.clone();
        change(&mut index);
        if index == before {
            return Ok(());
        }
        if store.write_document_if(
            &relative_path(),
            &serialise(&index),
            version.as_ref(),
            &lock,
        )? {
            return Ok(());
        }
    }
    Err(Error::Contended {
        location: path(store).display().to_string(),
        attempts: MAX_WRITE_ATTEMPTS,
    })
}

/// Keeps only the entries of `ledgers` (the symbols that still have a ledger, after `prune`
/// removed some); removes the index when it is left empty. Writes nothing when nothing is to
/// drop. Blocking.
pub fn retain(store: &Store, ledgers: &[Symbol]) -> Result<(), Error> {
    let stale = |bytes: &[u8]| {
        parse(bytes).is_none_or(|index| index.checks.keys().any(|s| !ledgers.contains(s)))
    };
    // A look without the lock first: most prunes leave the index as it is.
    match store.read_document(&relative_path())? {
        Some(bytes) if stale(&bytes) => {}
        _ => return Ok(()),
    }
    update(store, |index| {
        index.checks.retain(|symbol, _| ledgers.contains(symbol));
        index
            .ledger_etags
            .retain(|symbol, _| ledgers.contains(symbol));
    })?;
    if read(store)?.checks.is_empty() {
        let lock = store.lock_document(&relative_path(), true)?;
        store.remove_document(&relative_path(), lock)?;
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct Json {
    format_version: u32,
    symbols: BTreeMap<String, JsonCheck>,
}

#[derive(Serialize, Deserialize)]
struct JsonCheck {
    checked_at: String,
    process_dates: [String; 2],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ledger_etag: Option<String>,
}

fn parse(bytes: &[u8]) -> Option<LedgerIndex> {
    let json: Json = serde_json::from_slice(bytes).ok()?;
    if json.format_version != FORMAT_VERSION {
        return None;
    }
    let date = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    let mut checks = BTreeMap::new();
    let mut ledger_etags = BTreeMap::new();
    for (symbol, check) in json.symbols {
        // One unreadable entry costs only its own symbol a request.
        let (Ok(symbol), Ok(checked_at), Some(start), Some(end)) = (
            symbol.parse::<Symbol>(),
            DateTime::parse_from_rfc3339(&check.checked_at),
            date(&check.process_dates[0]),
            date(&check.process_dates[1]),
        ) else {
            continue;
        };
        if let Some(etag) = check.ledger_etag {
            ledger_etags.insert(symbol.clone(), etag);
        }
        checks.insert(
            symbol,
            Check {
                checked_at: checked_at.to_utc(),
                process_dates: (start, end),
            },
        );
    }
    Some(LedgerIndex {
        checks,
        ledger_etags,
    })
}

fn serialise(index: &LedgerIndex) -> Vec<u8> {
    let json = Json {
        format_version: FORMAT_VERSION,
        symbols: index
            .checks
            .iter()
            .map(|(symbol, check)| {
                (
                    symbol.to_string(),
                    JsonCheck {
                        checked_at: format_instant(check.checked_at),
                        process_dates: [
                            check.process_dates.0.to_string(),
                            check.process_dates.1.to_string(),
                        ],
                        ledger_etag: index.ledger_etags.get(symbol).cloned(),
                    },
                )
            })
            .collect(),
    };
    // One line per symbol: readable, and a fraction of the pretty form's size.
    let mut out = format!(
        "{{\n  \"format_version\": {},\n  \"symbols\": {{",
        json.format_version
    )
    .into_bytes();
    for (i, (symbol, check)) in json.symbols.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
        out.extend(serde_json::to_vec(symbol).expect("a string serialises"));
        out.extend_from_slice(b": ");
        out.extend(serde_json::to_vec(check).expect("a check serialises"));
    }
    if !json.symbols.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"}\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::ledger;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn check(at: &str, start: &str, end: &str) -> Check {
        Check {
            checked_at: t(at),
            process_dates: (d(start), d(end)),
        }
    }

    #[test]
    fn records_merge_with_what_is_stored_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let (a, b): (Symbol, Symbol) = ("ACME".parse().unwrap(), "BRK.B".parse().unwrap());
        assert_eq!(read(&store).unwrap(), LedgerIndex::default());
        record(
            &store,
            vec![
                (
                    a.clone(),
                    check("2024-06-14T20:30:00Z", "2016-01-01", "2024-06-14"),
                    LedgerEtag::Forget,
                ),
                (
                    b.clone(),
                    check("2024-06-14T20:30:00Z", "2016-01-01", "2024-06-14"),
                    LedgerEtag::Forget,
                ),
            ],
        )
        .unwrap();
        // An older run finishing later does not move a check back.
        record(
            &store,
            vec![(
                a.clone(),
                check("2024-06-13T20:30:00Z", "2024-06-01", "2024-06-13"),
                LedgerEtag::Forget,
            )],
        )
        .unwrap();
        record(
            &store,
            vec![(
                b.clone(),
                check("2024-06-15T20:30:00Z", "2024-06-07", "2024-06-15"),
                LedgerEtag::Forget,
            )],
        )
        .unwrap();
        let index = read(&store).unwrap();
        assert_eq!(
            index.checks[&a],
            check("2024-06-14T20:30:00Z", "2016-01-01", "2024-06-14")
        );
        assert_eq!(
            index.checks[&b],
            check("2024-06-15T20:30:00Z", "2016-01-01", "2024-06-15")
        );
        let text = fs_err::read_to_string(path(&store)).unwrap();
        assert!(
            text.contains(r#""BRK.B": {"checked_at":"2024-06-15T20:30:00Z""#),
            "{text}"
        );
        serde_json::from_str::<serde_json::Value>(&text).unwrap();

        // The index is never listed as a ledger.
        assert!(ledger::list(&store).unwrap().is_empty());

        let before = fs_err::metadata(path(&store)).unwrap().modified().unwrap();
        retain(&store, &[a.clone(), b.clone()]).unwrap();
        let after = fs_err::metadata(path(&store)).unwrap().modified().unwrap();
        assert_eq!(before, after, "nothing to drop, nothing written");
        retain(&store, std::slice::from_ref(&b)).unwrap();
        assert_eq!(
            read(&store).unwrap().checks.keys().collect::<Vec<_>>(),
            [&b]
        );
        retain(&store, &[]).unwrap();
        assert!(!dir.path().join("stocks").exists(), "an empty index goes");
    }

    #[test]
    fn the_index_overlays_a_ledger_and_a_damaged_one_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let symbol: Symbol = "ACME".parse().unwrap();
        let mut l = Ledger::new(
            symbol.clone(),
            t("2024-06-01T20:30:00Z"),
            (d("2016-01-01"), d("2024-06-01")),
        );
        let mut index = LedgerIndex::default();
        index.merge([(
            symbol,
            check("2024-06-14T20:30:00Z", "2024-05-25", "2024-06-14"),
        )]);
        index.apply(&mut l);
        assert_eq!(l.checked_at, t("2024-06-14T20:30:00Z"));
        assert_eq!(l.process_dates, (d("2016-01-01"), d("2024-06-14")));

        let file = path(&store);
        fs_err::create_dir_all(file.parent().unwrap()).unwrap();
        fs_err::write(&file, "{not json").unwrap();
        assert_eq!(read(&store).unwrap(), LedgerIndex::default());
    }
}

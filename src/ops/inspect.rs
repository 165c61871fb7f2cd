//! `inspect`: what the cache holds, series by series, from the file footers alone, and the
//! corporate-actions ledgers of stock symbols; and `--verify`, which reads every file whole and
//! checks it against the format's promises; and `--gaps`, the sessions of the market
//! calendar inside a stock series' coverage that hold no bar. A damaged file, or anything but
//! a regular file at a series path (a link, a directory), is listed with its error and never
//! stops the listing of the others; `--verify` also names rollback journals whose series file
//! is gone and corporate-actions ledgers that cannot be read.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::Error;
use super::concurrent_reads::map_scoped;
use super::selection::SeriesFilter;
use crate::cache::ledger::{self, Ledger};
use crate::cache::ledger_index;
use crate::cache::planner::{bar_ceil, bar_floor};
use crate::cache::store::{LeftoverTemp, Recovered};
use crate::cache::{self, SeriesKey, Store};
use crate::error_chain::error_chain;
use crate::market::calendar::{self, Session};
use crate::market::{AssetClass, Interval, IntervalSet, Symbol, Timeframe};
use crate::parquet_files::read::FileSummary;

/// One cached series as its footer describes it.
#[derive(Debug)]
pub struct SeriesInfo {
    pub key: SeriesKey,
    pub path: PathBuf,
    pub bytes: u64,
    /// `Err` for a file that cannot be read as a barkeep series.
    pub summary: Result<FileSummary, cache::Error>,
    /// The journal of an interrupted append that was rolled back before reading.
    pub recovered: Option<PathBuf>,
}

/// Something wrong with a file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub message: String,
}

/// What `inspect` lists, and how closely it looks.
#[derive(Debug, Clone, Default)]
pub struct InspectOptions {
    pub filter: SeriesFilter,
    /// Read every file whole and check it (`--verify`).
    pub verify: bool,
    /// Every listed stock symbol's ledger is shown (JSON). Otherwise only the ledgers of the
    /// symbols named are; the others are read only to warn of damage, which a bucket's index
    /// rules out for the ledgers it vouches for (issue 25).
    pub ledgers_shown: bool,
}

/// The ledger of one stock symbol: `Ok(None)` where none is recorded.
pub type LedgerRead = (Symbol, Result<Option<Ledger>, cache::Error>);

/// What `inspect` found.
#[derive(Debug)]
pub struct InspectReport {
    /// The selected series, sorted by key.
    pub series: Vec<SeriesInfo>,
    /// The corporate-actions ledgers of the symbols named, or of every stock symbol listed
    /// when none is named.
    pub ledgers: Vec<LedgerRead>,
    /// With `verify`: every problem found in series files, rollback journals and ledgers.
    pub problems: Option<Vec<Problem>>,
    /// With `verify`: temp files left over by interrupted writes (harmless).
    pub leftovers: Vec<LeftoverTemp>,
}

impl InspectReport {
    /// With `verify`, the problems of one listed series.
    pub fn problems_of(&self, info: &SeriesInfo) -> Option<Vec<&Problem>> {
        let problems = self.problems.as_ref()?;
        Some(problems.iter().filter(|p| p.path == info.path).collect())
    }
}

/// `inspect`: lists the selected series from their footers, reads the ledgers it shows, and
/// with `verify` reads every file whole and checks series, journals and ledgers.
pub fn inspect(store: &Store, options: &InspectOptions) -> Result<InspectReport, Error> {
    let filter = &options.filter;
    let series = list(store, filter)?;
    let mut ledger_symbols: Vec<Symbol> = if filter.symbols.is_empty() {
        series.iter().map(|i| i.key.symbol.clone()).collect()
    } else {
        filter.symbols.clone()
    };
    ledger_symbols.sort();
    ledger_symbols.dedup();
    let ledgers = if options.ledgers_shown || !filter.symbols.is_empty() {
        ledgers(store, &ledger_symbols)
    } else {
        super::corporate_actions::unvouched_ledgers(store, &ledger_symbols)
    };
    let (problems, leftovers) = if options.verify {
        let mut problems = verify(store, &series);
        problems.extend(orphan_journals(store, filter)?);
        problems.extend(verify_ledgers(store, filter)?);
        (Some(problems), store.leftovers()?)
    } else {
        (None, Vec::new())
    };
    Ok(InspectReport {
        series,
        ledgers,
        problems,
        leftovers,
    })
}

/// Lists the selected series, sorted by key. Footers are read
/// [`READS_IN_FLIGHT`](super::concurrent_reads::READS_IN_FLIGHT) at a time (a bucket's GETs
/// overlap; a directory's footers are read on both cores).
pub fn list(store: &Store, filter: &SeriesFilter) -> Result<Vec<SeriesInfo>, Error> {
    let keys = filter.select_sized(store)?;
    map_scoped(&keys, |(key, listed_bytes)| {
        // Roll back an interrupted append first, and say so.
        let (recovered, recovery_error) = match store.recover(key) {
            Ok(Recovered::RolledBack { journal } | Recovered::Discarded { journal }) => {
                (Some(journal), None)
            }
            Ok(Recovered::Clean) => (None, None),
            Err(e) => (None, Some(e)),
        };
        // A rolled-back append changed the size: ask again then.
        let bytes = match recovered {
            Some(_) => store.size(key)?.unwrap_or(0),
            None => *listed_bytes,
        };
        let summary = match recovery_error {
            Some(e) => Err(e),
            None => store.read_summary(key).and_then(|s| {
                s.ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound).into())
            }),
        };
        Ok::<_, Error>(SeriesInfo {
            path: store.path(key),
            key: key.clone(),
            bytes,
            summary,
            recovered,
        })
    })
    .into_iter()
    .collect()
}

/// Reads every listed file whole: readable Parquet with the expected schema and metadata,
/// sorted with one row per timestamp, and every row inside the recorded coverage (or the
/// provisional ranges).
pub fn verify(store: &Store, infos: &[SeriesInfo]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for info in infos {
        let problem = |message: String| Problem {
            path: info.path.clone(),
            message,
        };
        // An append interrupted by a crash is rolled back first; a journal that cannot be
        // applied is a problem of its own.
        if let Err(e) = store.recover(&info.key) {
            problems.push(problem(error_chain(&e)));
            continue;
        }
        match store.read_bars(&info.key, None) {
            Err(e) => problems.push(problem(error_chain(&e))),
            Ok(None) => problems.push(problem("the file disappeared while checking".to_owned())),
            Ok(Some(stored)) => {
                let mut known = stored.metadata.coverage.clone();
                known.insert_all(&stored.metadata.provisional);
                let outside: Vec<DateTime<Utc>> = stored
                    .bars
                    .iter()
                    .map(|b| b.timestamp)
                    .filter(|t| !known.contains(*t))
                    .collect();
                if let Some(first) = outside.first() {
                    problems.push(problem(format!(
                        "{} rows lie outside the recorded coverage, the first at {}",
                        outside.len(),
                        crate::parquet_files::metadata::format_instant(*first)
                    )));
                }
                if let Ok(summary) = &info.summary
                    && summary.rows != stored.bars.len() as u64
                {
                    problems.push(problem(format!(
                        "the footer counts {} rows but {} were read",
                        summary.rows,
                        stored.bars.len()
                    )));
                }
            }
        }
    }
    problems
}

/// The ledgers of the stock symbols among `symbols`: `Ok(None)` where none is recorded,
/// `Err` for a damaged one. Read [`READS_IN_FLIGHT`](super::concurrent_reads::READS_IN_FLIGHT)
/// at a time.
pub fn ledgers(
    store: &Store,
    symbols: &[Symbol],
) -> Vec<(Symbol, Result<Option<Ledger>, cache::Error>)> {
    // The check times of the index (an index that cannot be read leaves the ledgers' own).
    let index = ledger_index::read(store).unwrap_or_default();
    let stocks: Vec<&Symbol> = symbols
        .iter()
        .filter(|s| s.asset_class() == AssetClass::Stocks)
        .collect();
    map_scoped(&stocks, |s| ((*s).clone(), index.read_checked(store, s)))
}

/// The rollback journals of the series `filter` selects whose series file is gone, as
/// problems: an append was interrupted on a file that was removed since (by hand, or by an
/// older `prune`), and a damaged one would block its series.
pub fn orphan_journals(store: &Store, filter: &SeriesFilter) -> Result<Vec<Problem>, Error> {
    Ok(store
        .orphan_journals()?
        .into_iter()
        .filter_map(|journal| {
            // Only journals at barkeep's own series paths; foreign files are not ours to judge.
            let key = journal.key.filter(|k| filter.matches(k))?;
            Some(Problem {
                message: format!(
                    "a rollback journal without its series file `{}` (an append was interrupted on a file removed since); `barkeep prune {} -t {}` removes it",
                    key.file_name(),
                    key.symbol,
                    key.timeframe
                ),
                path: journal.path,
            })
        })
        .collect())
}

/// The corporate-actions ledgers of the selected stock symbols (every ledger in the cache when
/// no symbol is named) that cannot be read, as problems: `--adjustment` would refuse them.
pub fn verify_ledgers(store: &Store, filter: &SeriesFilter) -> Result<Vec<Problem>, Error> {
    let symbols: Vec<Symbol> = ledger::list(store)?
        .into_iter()
        .filter(|s| filter.symbols.is_empty() || filter.symbols.contains(s))
        .collect();
    Ok(map_scoped(&symbols, |symbol| {
        let message = match ledger::read(store, symbol) {
            Ok(_) => return None,
            Err(cache::Error::DamagedLedger { message, .. }) => format!(
                "the corporate-actions ledger of {symbol} is damaged: {message}; delete it and `barkeep update {symbol}` records the actions again"
            ),
            Err(e) => error_chain(&e),
        };
        Some(Problem {
            path: ledger::path(store, symbol),
            message,
        })
    })
    .into_iter()
    .flatten()
    .collect())
}

/// The sessions inside one series' coverage that hold no bar at all.
#[derive(Debug)]
pub struct SeriesGaps {
    pub key: SeriesKey,
    /// `Err` for a file that cannot be read.
    pub sessions: Result<Vec<Session>, cache::Error>,
}

/// What `--gaps` found: per listed stock series, and whether some coverage lay outside the
/// calendar's years (not checked there).
#[derive(Debug, Default)]
pub struct GapReport {
    pub series: Vec<SeriesGaps>,
    pub beyond_calendar: bool,
    /// How many series the selection matched, crypto included.
    pub matched: usize,
    /// Some selected series are crypto, which has no sessions to check.
    pub crypto_skipped: bool,
}

/// `inspect --gaps`: [`gaps`] of the series `filter` selects.
pub fn find_gaps(
    store: &Store,
    filter: &SeriesFilter,
    range: Option<Interval>,
) -> Result<GapReport, Error> {
    let series = list(store, filter)?;
    let mut report = gaps(store, &series, range);
    report.matched = series.len();
    report.crypto_skipped = series
        .iter()
        .any(|i| i.key.asset_class() == AssetClass::Crypto);
    Ok(report)
}

/// For each listed stock series (crypto has no calendar), the sessions whose whole span lies
/// inside the coverage (and inside `range`, when given) and that hold no bar. For a liquid
/// symbol that is missing data; for a thinly traded one it may be normal.
pub fn gaps(store: &Store, infos: &[SeriesInfo], range: Option<Interval>) -> GapReport {
    let mut report = GapReport::default();
    for info in infos
        .iter()
        .filter(|i| i.key.asset_class() == AssetClass::Stocks)
    {
        let sessions = store.read_bars(&info.key, range).map(|stored| {
            let Some(stored) = stored else {
                return Vec::new();
            };
            let coverage = match range {
                Some(range) => IntervalSet::from_intervals(
                    stored
                        .metadata
                        .coverage
                        .intervals()
                        .iter()
                        .filter_map(|i| i.intersect(&range)),
                ),
                None => stored.metadata.coverage.clone(),
            };
            let stamps: Vec<DateTime<Utc>> = stored.bars.iter().map(|b| b.timestamp).collect();
            let (sessions, beyond) = sessions_without_bars(&coverage, &stamps, info.key.timeframe);
            report.beyond_calendar |= beyond;
            sessions
        });
        report.series.push(SeriesGaps {
            key: info.key.clone(),
            sessions,
        });
    }
    report
}

/// The sessions whose bar span (`pre_open` to `post_close`, widened to whole bars) lies
/// inside `coverage` and holds none of the sorted `stamps`; and whether some coverage lay
/// outside the calendar's years. Pure.
pub fn sessions_without_bars(
    coverage: &IntervalSet,
    stamps: &[DateTime<Utc>],
    timeframe: Timeframe,
) -> (Vec<Session>, bool) {
    let class = AssetClass::Stocks;
    let (known_start, known_end) = calendar::known_span();
    let mut beyond = false;
    let mut missing = Vec::new();
    for covered in coverage.intervals() {
        beyond |= covered.start < known_start || covered.end > known_end;
        let (start, end) = (covered.start.max(known_start), covered.end.min(known_end));
        let Ok(sessions) = calendar::sessions_overlapping(start, end) else {
            beyond = true;
            continue;
        };
        for session in sessions {
            let Some(span) = Interval::new(
                bar_floor(session.pre_open, timeframe, class),
                bar_ceil(session.post_close, timeframe, class),
            ) else {
                continue;
            };
            if !coverage.missing_from(span).is_empty() {
                continue;
            }
            let first_at_or_after = stamps.partition_point(|t| *t < span.start);
            if stamps.get(first_at_or_after).is_none_or(|t| *t >= span.end) {
                missing.push(session);
            }
        }
    }
    (missing, beyond)
}

/// The covered ranges of a summary, or none for a damaged file.
pub fn coverage(info: &SeriesInfo) -> Option<&IntervalSet> {
    info.summary.as_ref().ok().map(|s| &s.metadata.coverage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sessions_without_bars_are_those_wholly_covered_and_empty() {
        let day: Timeframe = "1Day".parse().unwrap();
        // Monday 2024-06-10 to Saturday 2024-06-15 covered; bars on every day but Wednesday.
        let coverage = IntervalSet::from_intervals([Interval::new(
            utc("2024-06-10T04:00:00Z"),
            utc("2024-06-15T04:00:00Z"),
        )
        .unwrap()]);
        let stamps: Vec<DateTime<Utc>> = [10, 11, 13, 14]
            .iter()
            .map(|d| utc(&format!("2024-06-{d}T04:00:00Z")))
            .collect();
        let (missing, beyond) = sessions_without_bars(&coverage, &stamps, day);
        assert!(!beyond);
        let dates: Vec<String> = missing.iter().map(|s| s.date.to_string()).collect();
        assert_eq!(dates, ["2024-06-12"]);
        // A session only partly covered is not reported.
        let partial = IntervalSet::from_intervals([Interval::new(
            utc("2024-06-12T12:00:00Z"),
            utc("2024-06-13T04:00:00Z"),
        )
        .unwrap()]);
        assert!(
            sessions_without_bars(&partial, &[], "1Min".parse().unwrap())
                .0
                .is_empty()
        );
        // Coverage before 2016 is not checked, and said so.
        let old = IntervalSet::from_intervals([Interval::new(
            utc("2015-12-28T05:00:00Z"),
            utc("2016-01-06T05:00:00Z"),
        )
        .unwrap()]);
        let (missing, beyond) = sessions_without_bars(&old, &[], day);
        assert!(beyond);
        let dates: Vec<String> = missing.iter().map(|s| s.date.to_string()).collect();
        assert_eq!(dates, ["2016-01-04", "2016-01-05"]);
    }
}

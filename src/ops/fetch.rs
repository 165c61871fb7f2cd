//! `fetch`: fill the gaps of the requested series, commit them, and return the bars of the
//! requested range, ordered by symbol then time, streamed from the cache in chunks so memory
//! stays bounded whatever the length of the series. With no client (`--offline`) it serves
//! from the cache or fails naming what is missing.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Error;
use super::gap_fill::{self, FillOptions, FillTarget, SeriesStatus};
use crate::api::Client;
use crate::cache::store::SeriesScan;
use crate::cache::{SeriesKey, Store};
use crate::events::Observer;
use crate::market::time_spec::Span;
use crate::market::{AssetClass, Bar, Feed, Interval, NEW_YORK, Symbol, Timeframe, When};
use crate::parquet_files::metadata::format_instant;

/// What to fetch, as the user said it.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub symbols: Vec<Symbol>,
    pub timeframe: Timeframe,
    /// The feed for stock symbols (crypto always uses the `us` location).
    pub stock_feed: Feed,
    pub start: Option<When>,
    pub end: Option<When>,
    pub now: DateTime<Utc>,
}

/// The bars of one series inside the requested range (when streamed by [`FetchedBars`], one
/// chunk of them: consecutive chunks of a series continue each other).
#[derive(Debug, Clone)]
pub struct FetchedSeries {
    pub key: SeriesKey,
    pub range: Interval,
    pub bars: Vec<Bar>,
}

/// `--start` when not given: 5 days back for minute and hour bars, 1 year back otherwise.
pub fn default_start(timeframe: Timeframe) -> When {
    if timeframe.is_intraday() {
        When::Ago(Span::Days(5))
    } else {
        When::Ago(Span::Years(1))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the end ({end}) is not after the start ({start}); give an --end later than --start")]
pub struct RangeError {
    start: String,
    end: String,
}

/// The range `[start, end)` for one asset class: calendar days are New York days for stocks
/// and UTC days for crypto; the end includes its whole day (or its instant).
pub fn resolve_range(
    start: When,
    end: When,
    now: DateTime<Utc>,
    class: AssetClass,
) -> Result<Interval, RangeError> {
    let (s, e) = match class {
        AssetClass::Stocks => (
            start.resolve_start(now, &NEW_YORK),
            end.resolve_end(now, &NEW_YORK),
        ),
        AssetClass::Crypto => (start.resolve_start(now, &Utc), end.resolve_end(now, &Utc)),
    };
    Interval::new(s, e).ok_or_else(|| RangeError {
        start: format!("{start} = {}", format_instant(s)),
        end: format!("{end} = {}", format_instant(e)),
    })
}

/// One fill target per distinct symbol, sorted by symbol.
pub fn targets(options: &FetchOptions) -> Result<Vec<FillTarget>, RangeError> {
    let start = options
        .start
        .unwrap_or_else(|| default_start(options.timeframe));
    let end = options.end.unwrap_or(When::Now);
    let mut symbols = options.symbols.clone();
    symbols.sort();
    symbols.dedup();
    symbols
        .into_iter()
        .map(|symbol| {
            let class = symbol.asset_class();
            let feed = if class == AssetClass::Crypto {
                Feed::CryptoUs
            } else {
                options.stock_feed
            };
            let range = resolve_range(start, end, options.now, class)?;
            Ok(FillTarget {
                key: SeriesKey::new(symbol, feed, options.timeframe),
                range,
            })
        })
        .collect()
}

/// The requested bars, read from the cache as they are consumed: series after series in
/// the order of the targets, each in chunks of at most 65,536 bars. Every series' footer was
/// checked before this was returned, so a damaged or foreign file fails before any bar is
/// produced; a chunk fails only when a file's data pages are corrupt (nothing follows it).
pub struct FetchedBars {
    store: Store,
    targets: VecDeque<FillTarget>,
    current: Option<(FillTarget, SeriesScan)>,
}

impl Iterator for FetchedBars {
    type Item = Result<FetchedSeries, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((target, scan)) = &mut self.current {
                match scan.next() {
                    Some(Ok(bars)) => {
                        return Some(Ok(FetchedSeries {
                            key: target.key.clone(),
                            range: target.range,
                            bars,
                        }));
                    }
                    Some(Err(e)) => {
                        let key = target.key.clone();
                        self.stop();
                        return Some(Err(series_error(key, e)));
                    }
                    None => self.current = None,
                }
            }
            let target = self.targets.pop_front()?;
            match self.store.scan_bars(&target.key, Some(target.range)) {
                Ok(Some(scan)) => self.current = Some((target, scan)),
                Ok(None) => {}
                Err(e) => {
                    self.stop();
                    return Some(Err(series_error(target.key, e)));
                }
            }
        }
    }
}

impl FetchedBars {
    fn stop(&mut self) {
        self.current = None;
        self.targets.clear();
    }
}

fn series_error(key: SeriesKey, e: crate::cache::Error) -> Error {
    Error::Series {
        key,
        source: Box::new(e.into()),
    }
}

/// Fills gaps (unless `client` is `None`: offline), then returns the requested bars as a
/// stream read from the cache.
pub async fn fetch(
    store: &Store,
    client: Option<&Client>,
    targets: Vec<FillTarget>,
    now: DateTime<Utc>,
    observer: Arc<dyn Observer>,
) -> Result<FetchedBars, Error> {
    match client {
        Some(client) => {
            let options = FillOptions {
                now,
                wait_for_locks: true,
                concurrency: 4,
            };
            let outcomes =
                gap_fill::fill(store, client, targets.clone(), options, observer).await?;
            if let Some(failed) = outcomes
                .into_iter()
                .find(|o| matches!(o.status, SeriesStatus::Failed(_)))
            {
                let SeriesStatus::Failed(source) = failed.status else {
                    unreachable!()
                };
                return Err(Error::Series {
                    key: failed.key,
                    source: Box::new(source),
                });
            }
        }
        None => {
            let (store, planned_targets) = (store.clone(), targets.clone());
            let plan =
                tokio::task::spawn_blocking(move || gap_fill::plan(&store, &planned_targets, now))
                    .await?;
            let mut missing = Vec::new();
            for (key, gaps) in plan {
                let gaps = gaps.map_err(|e| Error::Series {
                    key: key.clone(),
                    source: Box::new(e),
                })?;
                if !gaps.is_empty() {
                    let spans: Vec<String> = gaps
                        .iter()
                        .map(|g| {
                            format!("{} to {}", format_instant(g.start), format_instant(g.end))
                        })
                        .collect();
                    missing.push(format!(
                        "{} {} ({})",
                        key.symbol,
                        key.timeframe,
                        spans.join(", ")
                    ));
                }
            }
            if !missing.is_empty() {
                return Err(Error::Offline(missing.join("; ")));
            }
        }
    }
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        for t in &targets {
            store
                .read_summary(&t.key)
                .map_err(|e| series_error(t.key.clone(), e))?;
        }
        Ok(FetchedBars {
            store,
            targets: targets.into(),
            current: None,
        })
    })
    .await?
}

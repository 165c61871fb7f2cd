//! `update`: bring cached series (or the series of a watchlist) up to now, sharing requests
//! between series that miss the same range, committing each series as soon as its data is
//! complete, and refresh the corporate-actions ledgers of all their stock symbols in one
//! batched pass. A failing series does not stop the others, nor a failing ledger refresh the
//! series.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Error;
use super::concurrent_reads::read_summaries;
use super::corporate_actions::{self, RefreshReport};
use super::fetch::resolve_range;
use super::gap_fill::{self, Batch, FillOptions, FillTarget, SeriesOutcome, SeriesStatus};
use super::selection::SeriesFilter;
use super::symbol_endings::{self, Endings};
use crate::api::Client;
use crate::cache::planner::GapPlan;
use crate::cache::{SeriesKey, Store};
use crate::events::Observer;
use crate::interrupt::Interrupt;
use crate::market::time_spec::Span;
use crate::market::{AssetClass, Feed, Interval, Symbol, Timeframe, When};

/// `--start` for series that are not cached yet, when not given.
pub const DEFAULT_START: When = When::Ago(Span::Years(1));

#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// Empty: every cached series (narrowed by `timeframes` and `stock_feed`).
    pub symbols: Vec<Symbol>,
    /// Empty: the timeframes already cached for a symbol, else 1Day.
    pub timeframes: Vec<Timeframe>,
    /// The stock feed; `None` means every cached feed, and SIP for new series.
    pub stock_feed: Option<Feed>,
    /// Where a series that is not cached yet starts.
    pub start: When,
    pub now: DateTime<Utc>,
    pub wait_for_locks: bool,
    /// Stops the update early, keeping what was answered.
    pub interrupt: Interrupt,
}

/// The series to update and the range each must cover, plus the series that cannot even
/// be planned (a damaged file), which count as failed.
#[derive(Debug, Default)]
pub struct UpdatePlan {
    pub targets: Vec<FillTarget>,
    pub unplannable: Vec<(SeriesKey, Error)>,
    pub up_to_date: Vec<SeriesKey>,
}

/// Decides which series to update and from when: a cached series from the end of its
/// coverage, a new one from `start`. Footers are read concurrently (see `concurrent_reads`).
pub async fn plan(store: &Store, options: &UpdateOptions) -> Result<UpdatePlan, Error> {
    let cached = {
        let store = store.clone();
        crate::blocking_tasks::spawn(move || store.list()).await??
    };
    let keys: Vec<SeriesKey> = if options.symbols.is_empty() {
        let filter = SeriesFilter {
            symbols: Vec::new(),
            timeframes: options.timeframes.clone(),
            feed: options.stock_feed,
        };
        cached.into_iter().filter(|k| filter.matches(k)).collect()
    } else {
        // The timeframes cached per symbol and feed, looked up once per symbol (a universe
        // is about 11,000 symbols, and as many cached series).
        let mut held: HashMap<(&Symbol, Feed), Vec<Timeframe>> = HashMap::new();
        for key in &cached {
            held.entry((&key.symbol, key.feed))
                .or_default()
                .push(key.timeframe);
        }
        let mut keys = Vec::new();
        for symbol in &options.symbols {
            let feed = match symbol.asset_class() {
                AssetClass::Crypto => Feed::CryptoUs,
                AssetClass::Stocks => options.stock_feed.unwrap_or(Feed::Sip),
            };
            let timeframes: Vec<Timeframe> = if options.timeframes.is_empty() {
                match held.get(&(symbol, feed)) {
                    Some(held) => held.clone(),
                    None => vec![Timeframe::ONE_DAY],
                }
            } else {
                options.timeframes.clone()
            };
            keys.extend(
                timeframes
                    .into_iter()
                    .map(|tf| SeriesKey::new(symbol.clone(), feed, tf)),
            );
        }
        keys.sort();
        keys.dedup();
        keys
    };

    let mut plan = UpdatePlan::default();
    let summaries = read_summaries(store, keys.clone()).await;
    for (key, summary) in keys.into_iter().zip(summaries) {
        let summary = match summary {
            Ok(summary) => summary,
            Err(e) => {
                plan.unplannable.push((key, e));
                continue;
            }
        };
        // A closed series (its symbol ended) is never asked past its end.
        let until = summary
            .as_ref()
            .and_then(|s| s.metadata.closed.as_ref())
            .map_or(options.now, |c| c.end.min(options.now));
        // History dropped after a rename (issue 23) is asked again until it is covered.
        let restated = summary.as_ref().and_then(|s| {
            let restated = s.metadata.renamed_from.as_ref()?.restated?;
            (!s.metadata.coverage.missing_from(restated).is_empty()).then_some(restated)
        });
        let from = summary
            .and_then(|s| s.metadata.coverage.intervals().last().map(|i| i.end))
            .unwrap_or_else(|| {
                resolve_range(options.start, When::Now, options.now, key.asset_class())
                    .map_or(options.now, |r| r.start)
            });
        let from = restated.map_or(from, |r| r.start.min(from));
        match Interval::new(from, until) {
            Some(range) => plan.targets.push(FillTarget { key, range }),
            // A start in the future, or a closed series: nothing to ask.
            None => plan.up_to_date.push(key),
        }
    }
    Ok(plan)
}

/// One planned request, for `--dry-run`.
#[derive(Debug, Clone)]
pub struct PlannedRequest {
    pub batch: Batch,
    /// A rough upper bound of the pages Alpaca will need for this request.
    pub estimated_pages: u64,
}

/// What an update would do (`--dry-run`): each series' plan (its gaps without a session
/// included) and the requests that would fill them.
#[derive(Debug)]
pub struct DryRun {
    pub series: Vec<(SeriesKey, GapPlan)>,
    pub requests: Vec<PlannedRequest>,
}

impl DryRun {
    /// A rough upper bound of the requests with their pages.
    pub fn estimated_pages(&self) -> u64 {
        self.requests.iter().map(|r| r.estimated_pages).sum()
    }

    /// Series that miss data.
    pub fn needing(&self) -> usize {
        self.series
            .iter()
            .filter(|(_, p)| !p.asks.is_empty())
            .count()
    }

    /// Series that miss only time without a market session (nothing to ask).
    pub fn closed_only(&self) -> usize {
        let closed_only = |p: &GapPlan| p.asks.is_empty() && !p.closed.is_empty();
        self.series.iter().filter(|(_, p)| closed_only(p)).count()
    }

    /// Some plan reached past the market calendar's years.
    pub fn beyond_calendar(&self) -> bool {
        self.series.iter().any(|(_, p)| p.beyond_calendar)
    }
}

/// The requests an update would make, without making them (footers are read off the async
/// threads).
pub async fn dry_run(
    store: &Store,
    plan: &UpdatePlan,
    now: DateTime<Utc>,
) -> Result<DryRun, Error> {
    let (store, targets) = (store.clone(), plan.targets.clone());
    crate::blocking_tasks::spawn(move || planned_requests(&store, &targets, now))
        .await
        .map_err(|e| Error::Task(e.to_string()))
}

fn planned_requests(store: &Store, targets: &[FillTarget], now: DateTime<Utc>) -> DryRun {
    let planned: Vec<(SeriesKey, GapPlan)> = gap_fill::plan(store, targets, now)
        .into_iter()
        .filter_map(|(key, plan)| plan.ok().map(|p| (key, p)))
        .collect();
    let ranges: Vec<(&SeriesKey, Vec<Interval>)> =
        planned.iter().map(|(k, p)| (k, p.ranges())).collect();
    let batches = gap_fill::batch(ranges.iter().map(|(k, r)| (*k, r.as_slice())));
    let requests = batches
        .into_iter()
        .map(|batch| {
            let estimated_pages = estimate_bars(&batch).div_ceil(10_000).max(1);
            PlannedRequest {
                batch,
                estimated_pages,
            }
        })
        .collect();
    DryRun {
        series: planned,
        requests,
    }
}

/// Bars a request may return at most: symbols × bar slots in the gap, scaled by the share
/// of the week the market trades (stocks: 16 extended hours on 5 days; crypto: always).
fn estimate_bars(batch: &Batch) -> u64 {
    let seconds = (batch.gap.end - batch.gap.start).num_seconds().max(0) as f64;
    let bar = batch.timeframe.max_bar_length().num_seconds().max(60) as f64;
    let share = match (batch.feed.asset_class(), batch.timeframe.is_intraday()) {
        (AssetClass::Crypto, _) => 1.0,
        (AssetClass::Stocks, true) => 16.0 / 24.0 * 5.0 / 7.0,
        (AssetClass::Stocks, false) => 5.0 / 7.0,
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let per_symbol = (seconds / bar * share).ceil() as u64;
    per_symbol * batch.symbols.len() as u64
}

/// What an update did.
#[derive(Debug)]
pub struct UpdateOutcome {
    /// One per planned series (unplannable ones included, as failures), in key order.
    pub series: Vec<SeriesOutcome>,
    /// The refresh of the ledgers of every stock symbol among the series.
    pub ledgers: Result<RefreshReport, Error>,
    /// The series the refreshed ledgers closed or restated (`ops::symbol_endings`).
    pub endings: Endings,
}

/// How many series ended each way, and the bars added.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Stopped part-way by a signal (what was answered before it is committed).
    pub interrupted: usize,
    pub bars_added: u64,
}

impl UpdateOutcome {
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for outcome in &self.series {
            match &outcome.status {
                SeriesStatus::Updated(summary) => {
                    totals.updated += 1;
                    totals.bars_added += summary.bars_added;
                }
                SeriesStatus::Interrupted(summary) => {
                    totals.interrupted += 1;
                    totals.bars_added += summary.bars_added;
                }
                SeriesStatus::Unchanged => totals.unchanged += 1,
                SeriesStatus::Failed(_) => totals.failed += 1,
            }
        }
        totals
    }

    /// The failures of series, in key order.
    pub fn failures(&self) -> impl Iterator<Item = (&SeriesKey, &Error)> {
        self.series.iter().filter_map(|o| match &o.status {
            SeriesStatus::Failed(e) => Some((&o.key, e)),
            _ => None,
        })
    }
}

/// Runs the update: bars and ledgers at the same time.
pub async fn update(
    store: &Store,
    client: &Client,
    plan: UpdatePlan,
    options: &UpdateOptions,
    observer: Arc<dyn Observer>,
) -> Result<UpdateOutcome, Error> {
    let fill = FillOptions {
        now: options.now,
        wait_for_locks: options.wait_for_locks,
        concurrency: 4,
        interrupt: options.interrupt.clone(),
    };
    let mut stocks: Vec<Symbol> = plan
        .targets
        .iter()
        .map(|t| &t.key)
        .chain(plan.unplannable.iter().map(|(k, _)| k))
        .chain(&plan.up_to_date)
        .filter(|k| k.asset_class() == AssetClass::Stocks)
        .map(|k| k.symbol.clone())
        .collect();
    stocks.sort();
    stocks.dedup();
    let stock_keys: Vec<SeriesKey> = plan
        .targets
        .iter()
        .map(|t| &t.key)
        .chain(&plan.up_to_date)
        .filter(|k| k.asset_class() == AssetClass::Stocks)
        .cloned()
        .collect();
    let refresh = async {
        if stocks.is_empty() {
            return Ok((RefreshReport::default(), BTreeMap::new()));
        }
        let interrupted = async { Error::Interrupted(options.interrupt.wait().await) };
        let refresh = corporate_actions::refresh_each(
            store,
            client,
            &stocks,
            options.now,
            None,
            options.wait_for_locks,
        );
        // A signal stops the refresh (each ledger is written whole, or not at all).
        let refreshed = tokio::select! {
            refreshed = refresh => refreshed?,
            error = interrupted => return Err(error),
        };
        if let Some(failure) = refreshed.failures.into_iter().next() {
            return Err(failure.error);
        }
        let ledgers = refreshed
            .ledgers
            .into_iter()
            .filter_map(|(symbol, ledger)| Some((symbol, ledger.ok()??)))
            .collect();
        Ok((refreshed.report, ledgers))
    };
    let (filled, refreshed) = tokio::join!(
        gap_fill::fill(store, client, plan.targets, fill.clone(), observer.clone()),
        refresh
    );
    let mut outcomes = filled?;
    outcomes.extend(plan.unplannable.into_iter().map(|(key, e)| SeriesOutcome {
        key,
        gaps: Vec::new(),
        status: SeriesStatus::Failed(e),
    }));
    outcomes.extend(plan.up_to_date.into_iter().map(|key| SeriesOutcome {
        key,
        gaps: Vec::new(),
        status: SeriesStatus::Unchanged,
    }));
    // What the refreshed ledgers say of the tickers' lives: closings, and history restated
    // by a rename, asked again now.
    let (ledgers, endings) = match refreshed {
        Ok((report, ledgers)) if options.interrupt.signal().is_none() => {
            let (store, now, wait) = (store.clone(), options.now, options.wait_for_locks);
            let endings = crate::blocking_tasks::spawn(move || {
                symbol_endings::apply(&store, &ledgers, &stock_keys, now, wait)
            })
            .await?;
            match endings {
                Ok(endings) => (Ok(report), endings),
                Err(e) => (Err(e), Endings::default()),
            }
        }
        Ok((report, _)) => (Ok(report), Endings::default()),
        Err(e) => (Err(e), Endings::default()),
    };
    let again: Vec<FillTarget> = endings
        .restated
        .iter()
        .filter_map(|(key, renaming)| {
            let range = renaming.restated?;
            Some(FillTarget {
                key: key.clone(),
                range,
            })
        })
        .collect();
    if !again.is_empty() && options.interrupt.signal().is_none() {
        let refilled = gap_fill::fill(store, client, again, fill, observer).await?;
        for second in refilled {
            match outcomes.iter_mut().find(|o| o.key == second.key) {
                Some(first) => first.absorb(second),
                None => outcomes.push(second),
            }
        }
    }
    outcomes.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(UpdateOutcome {
        series: outcomes,
        ledgers,
        endings,
    })
}

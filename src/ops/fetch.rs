//! `fetch`: fill the gaps of the requested series, commit them, and return the bars of the
//! requested range, ordered by symbol then time, streamed from the cache in chunks so memory
//! stays bounded whatever the length of the series. With no client (`--offline`) it serves
//! from the cache or fails naming what is missing.
//!
//! With an adjustment other than raw it first brings the stock symbols' corporate-actions
//! ledgers up to date (when more than a day old), makes sure the cache holds the raw daily
//! closes the dividends need (SIP daily bars before each ex-date), and adjusts the stored raw
//! bars chunk by chunk on the way out, after checking that no served bar precedes an action
//! that cannot be applied. The cache never holds adjusted bars.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::Error;
use super::concurrent_reads::{map_blocking, read_summaries};
use super::corporate_actions::{self, MAX_AGE};
use super::gap_fill::{self, FillOptions, FillTarget, SeriesStatus};
use crate::api::Client;
use crate::cache::planner::plan_asks;
use crate::cache::store::SeriesScan;
use crate::cache::{SeriesKey, Store};
use crate::events::Observer;
use crate::interrupt::Interrupt;
use crate::market::adjustment::{self, Adjuster, ex_boundary};
use crate::market::time_spec::Span;
use crate::market::{
    Adjustments, AssetClass, Bar, Closing, CorporateAction, Feed, Interval, NEW_YORK, Symbol,
    Timeframe, When,
};
use crate::parquet_files::metadata::{SeriesMetadata, format_instant};
use crate::parquet_files::read::FileSummary;
use crate::parquet_files::record_batch::BarColumns;

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

/// How far before a dividend's ex-date its reference close may lie (a long weekend plus a
/// few halted days).
const CLOSE_WINDOW_DAYS: u64 = 14;

/// The bars of one series inside the requested range (when streamed by [`FetchedBars`], one
/// chunk of them: consecutive chunks of a series continue each other).
#[derive(Debug, Clone)]
pub struct FetchedSeries {
    pub key: SeriesKey,
    pub range: Interval,
    pub bars: ChunkBars,
}

/// The bars of a chunk: the columns decoded from the cache, which an export writes without a
/// [`Bar`] per row (issue 24), or bars built in memory (adjusted or derived).
#[derive(Debug, Clone)]
pub enum ChunkBars {
    Columns(BarColumns),
    Rows(Vec<Bar>),
}

impl ChunkBars {
    pub fn len(&self) -> usize {
        match self {
            ChunkBars::Columns(c) => c.len(),
            ChunkBars::Rows(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bars as rows (the columns converted).
    pub fn into_rows(self) -> Vec<Bar> {
        match self {
            ChunkBars::Columns(c) => c.to_bars(),
            ChunkBars::Rows(r) => r,
        }
    }

    /// The bars as rows, borrowed when they are rows already.
    pub fn rows(&self) -> std::borrow::Cow<'_, [Bar]> {
        match self {
            ChunkBars::Columns(c) => std::borrow::Cow::Owned(c.to_bars()),
            ChunkBars::Rows(r) => std::borrow::Cow::Borrowed(r),
        }
    }
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

/// The corporate-actions ledger an adjusted fetch used.
#[derive(Debug, Clone)]
pub struct LedgerUse {
    pub symbol: Symbol,
    pub checked_at: DateTime<Utc>,
    /// Whether this fetch asked Alpaca for it (else it was recent enough, or offline).
    pub refreshed: bool,
    /// Why asking Alpaca failed, when it did: the ledger was used as last recorded.
    pub refresh_error: Option<String>,
}

/// What a fetch returns: the bars, and the ledgers they were adjusted with (none for raw).
pub struct Fetched {
    pub series: FetchedBars,
    pub ledgers: Vec<LedgerUse>,
    /// `--offline` only: the series whose requested range reaches past their last answer
    /// from Alpaca (served up to it).
    pub reach: Vec<CachedThrough>,
    /// The series whose requested range reaches past the end of their ticker (issue 23):
    /// nothing was asked past it, and the bars held up to it are served.
    pub ended: Vec<(SeriesKey, Closing)>,
}

/// Whether `target` asks past the end of its series' ticker; the closing when it does.
fn ended(target: &FillTarget, stored: Option<&SeriesMetadata>) -> Option<(SeriesKey, Closing)> {
    let closing = stored?.closed.as_ref()?;
    (target.range.end > closing.end).then(|| (target.key.clone(), closing.clone()))
}

/// [`ended`] for every target, in order.
fn ended_all(
    targets: &[FillTarget],
    stored: &[Option<SeriesMetadata>],
) -> Vec<(SeriesKey, Closing)> {
    (targets.iter().zip(stored))
        .filter_map(|(t, m)| ended(t, m.as_ref()))
        .collect()
}

/// A series served `--offline` up to its last answer from Alpaca, short of the requested end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedThrough {
    pub key: SeriesKey,
    /// The end of the series' coverage and provisional ranges.
    pub through: DateTime<Utc>,
    /// When the series was last written.
    pub updated_at: DateTime<Utc>,
}

/// The requested bars, read from the cache as they are consumed: series after series in
/// the order of the targets, each in chunks of at most 65,536 bars, adjusted chunk by chunk
/// when asked. Every series' footer was checked before this was returned, and every
/// adjustment that would fail on a served bar failed then, so a damaged or foreign file or
/// an action that cannot be applied fails before any bar is produced; a chunk fails only
/// when a file's data pages are corrupt (nothing follows it).
pub struct FetchedBars {
    store: Store,
    targets: VecDeque<FillTarget>,
    /// Per stock symbol, what its bars go through on the way out (absent: served raw).
    adjusters: HashMap<Symbol, Adjuster>,
    current: Option<(FillTarget, SeriesScan)>,
}

impl Iterator for FetchedBars {
    type Item = Result<FetchedSeries, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((target, scan)) = &mut self.current {
                match scan.next() {
                    Some(Ok(bars)) => {
                        let bars = match self.adjusters.get(&target.key.symbol) {
                            None => ChunkBars::Columns(bars),
                            Some(adjuster) => match adjuster.apply(&bars.to_bars()) {
                                Ok(rows) => ChunkBars::Rows(rows),
                                Err(source) => {
                                    let symbol = target.key.symbol.clone();
                                    self.stop();
                                    return Some(Err(Error::Adjustment { symbol, source }));
                                }
                            },
                        };
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
    /// Everything still to come, in memory.
    fn collect_all(self) -> Result<Vec<FetchedSeries>, Error> {
        self.collect()
    }

    fn stop(&mut self) {
        self.current = None;
        self.targets.clear();
    }
}

fn series_error(key: SeriesKey, e: impl Into<Error>) -> Error {
    Error::Series {
        key,
        others: Vec::new(),
        source: Box::new(e.into()),
    }
}

/// Fails with the first of `failed` when there is one, naming every other series that failed
/// too, so none goes unnamed (issue 20).
fn name_every_failure(failed: impl IntoIterator<Item = (SeriesKey, Error)>) -> Result<(), Error> {
    let mut failed = failed.into_iter();
    match failed.next() {
        Some((key, source)) => Err(Error::Series {
            key,
            others: failed.map(|(key, _)| key).collect(),
            source: Box::new(source),
        }),
        None => Ok(()),
    }
}

/// Fills gaps (unless `client` is `None`: offline), then returns the requested bars, adjusted
/// as asked, streamed from the cache (adjusted chunk by chunk). Crypto targets must come
/// with [`Adjustments::RAW`].
pub async fn fetch(
    store: &Store,
    client: Option<&Client>,
    targets: Vec<FillTarget>,
    adjustment: Adjustments,
    now: DateTime<Utc>,
    observer: Arc<dyn Observer>,
    interrupt: &Interrupt,
) -> Result<Fetched, Error> {
    if adjustment.is_raw() {
        // The footers read for the stream say whether anything is missing: a fetch the cache
        // answers whole reads each of its files once (issue 24); offline, they are the ones
        // checked for holes. Online, a footer that fails to read goes through the fill too,
        // which still fills the other series before failing.
        let mut opened = read(store, targets.clone()).await;
        let fill = match &opened {
            Ok((_, stored)) => !answered(&targets, stored, now),
            Err(_) => true,
        };
        if client.is_some() && fill {
            drop(opened);
            ensure_cached(store, client, targets.clone(), now, observer, interrupt).await?;
            opened = read(store, targets.clone()).await;
        }
        let (series, stored) = opened?;
        let reach = match client {
            None => offline_reach(&targets, &stored, now)?,
            Some(_) => Vec::new(),
        };
        return Ok(Fetched {
            series,
            ledgers: Vec::new(),
            reach,
            ended: ended_all(&targets, &stored),
        });
    }
    let mut stocks: Vec<Symbol> = targets
        .iter()
        .filter(|t| t.key.asset_class() == AssetClass::Stocks)
        .map(|t| t.key.symbol.clone())
        .collect();
    stocks.sort();
    stocks.dedup();
    // A failed refresh blocks only the symbols it concerns, and only those with no recorded
    // ledger at all: the others are adjusted with the actions as last recorded.
    // Each ledger is read once: by the refresh (which returns what it read or wrote), then
    // `load` reads the others (all of them offline; those the index vouched for online).
    let (refreshed, failures, mut ledgers) = match client {
        Some(client) => {
            let refreshed =
                corporate_actions::refresh_each(store, client, &stocks, now, Some(MAX_AGE), true)
                    .await?;
            let ledgers = (refreshed.ledgers.into_iter())
                .map(|(symbol, ledger)| ledger.map(|l| (symbol, l)))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            (refreshed.report.checked, refreshed.failures, ledgers)
        }
        None => (Vec::new(), Vec::new(), BTreeMap::new()),
    };
    let unread: Vec<Symbol> = (stocks.iter())
        .filter(|s| !ledgers.contains_key(*s))
        .cloned()
        .collect();
    ledgers.extend(corporate_actions::load(store, &unread).await?);
    let refresh_error = |symbol: &Symbol| {
        failures
            .iter()
            .find(|f| f.symbols.contains(symbol))
            .map(|f| crate::error_chain::error_chain(&f.error))
    };
    let mut actions: BTreeMap<Symbol, Vec<CorporateAction>> = BTreeMap::new();
    let mut uses = Vec::new();
    let mut unrecorded = Vec::new();
    for (symbol, ledger) in ledgers {
        match ledger {
            Some(ledger) => {
                uses.push(LedgerUse {
                    refreshed: refreshed.contains(&symbol),
                    refresh_error: refresh_error(&symbol),
                    checked_at: ledger.checked_at,
                    symbol: symbol.clone(),
                });
                actions.insert(symbol, ledger.actions);
            }
            None => unrecorded.push(symbol),
        }
    }
    if !unrecorded.is_empty() {
        let Some(client) = client else {
            let missing: Vec<String> = unrecorded
                .iter()
                .map(|s| format!("the corporate actions of {s}"))
                .collect();
            return Err(Error::Offline(missing.join("; ")));
        };
        // Keep what can be kept: the raw bars of every target are fetched and committed.
        ensure_cached(store, Some(client), targets, now, observer, interrupt).await?;
        let first = failures
            .into_iter()
            .find(|f| f.symbols.iter().any(|s| unrecorded.contains(s)));
        let source = match first {
            Some(failure) => failure.error,
            None => Error::Task("a ledger was neither refreshed nor recorded".to_owned()),
        };
        let names: Vec<&str> = unrecorded.iter().map(Symbol::as_str).collect();
        return Err(Error::Ledgers {
            symbols: names.join(", "),
            source: Box::new(source),
        });
    }

    let today = corporate_actions::today(now);
    let closes = close_targets(&targets, &actions, adjustment, today);
    let mut fill = targets.clone();
    for close in closes.values() {
        match fill.iter_mut().find(|t| t.key == close.key) {
            // One target per series, so the same range is never asked twice.
            Some(t) => t.range = t.range.hull(&close.range),
            None => fill.push(close.clone()),
        }
    }
    let mut reach = ensure_cached(store, client, fill, now, observer, interrupt).await?;
    reach.retain(|r| targets.iter().any(|t| t.key == r.key));
    let (mut series, stored) = read(store, targets.clone()).await?;
    let ended = ended_all(&targets, &stored);
    let mut close_series: BTreeMap<Symbol, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for chunk in read(store, closes.into_values().collect())
        .await?
        .0
        .collect_all()?
    {
        let closes = close_series.entry(chunk.key.symbol).or_default();
        for b in chunk.bars.into_rows() {
            closes.insert(b.timestamp.with_timezone(&NEW_YORK).date_naive(), b.close);
        }
    }
    for (symbol, actions) in &actions {
        let closes = close_series.remove(symbol).unwrap_or_default();
        let close_before = |ex: NaiveDate| {
            let window = ex - Days::new(CLOSE_WINDOW_DAYS)..ex;
            closes.range(window).next_back().map(|(_, close)| *close)
        };
        let adjuster = Adjuster::new(actions, symbol.as_str(), adjustment, today, close_before);
        if !adjuster.is_identity() {
            series.adjusters.insert(symbol.clone(), adjuster);
        }
    }
    let refused = refused_stretches(&targets, &series.adjusters);
    if !refused.is_empty() {
        let store = store.clone();
        crate::blocking_tasks::spawn(move || check_adjustable(&store, refused)).await??;
    }
    Ok(Fetched {
        series,
        ledgers: uses,
        reach,
        ended,
    })
}

/// Per target whose adjuster cannot move every bar it may hold, the stretch of its range
/// before the last action that cannot be applied (see [`Adjuster::fails_before`]), and that
/// action's error.
fn refused_stretches(
    targets: &[FillTarget],
    adjusters: &HashMap<Symbol, Adjuster>,
) -> Vec<(SeriesKey, Interval, adjustment::AdjustmentError)> {
    targets
        .iter()
        .filter_map(|target| {
            let (boundary, source) = adjusters.get(&target.key.symbol)?.fails_before()?;
            let stretch = Interval::new(target.range.start, target.range.end.min(boundary))?;
            Some((target.key.clone(), stretch, source))
        })
        .collect()
}

/// Fails, before any bar is served, when a series holds a bar in its refused stretch (see
/// [`refused_stretches`]). Reads only the first chunk of each stretch; a blocking read, run
/// off the async threads.
fn check_adjustable(
    store: &Store,
    refused: Vec<(SeriesKey, Interval, adjustment::AdjustmentError)>,
) -> Result<(), Error> {
    for (key, stretch, source) in refused {
        let scan =
            (store.scan_bars(&key, Some(stretch))).map_err(|e| series_error(key.clone(), e))?;
        for chunk in scan.into_iter().flatten() {
            let chunk = chunk.map_err(|e| series_error(key.clone(), e))?;
            if !chunk.is_empty() {
                return Err(Error::Adjustment {
                    symbol: key.symbol,
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Per stock symbol, the SIP daily series and the range of it that holds the raw closes the
/// selected dividends need: from two weeks before the first ex-date to the last.
fn close_targets(
    targets: &[FillTarget],
    actions: &BTreeMap<Symbol, Vec<CorporateAction>>,
    adjustment: Adjustments,
    today: NaiveDate,
) -> BTreeMap<Symbol, FillTarget> {
    let mut out = BTreeMap::new();
    if !adjustment.dividend() {
        return out;
    }
    for target in targets {
        let symbol = &target.key.symbol;
        let Some(actions) = actions.get(symbol) else {
            continue;
        };
        let dates = adjustment::dividend_ex_dates(
            actions,
            symbol.as_str(),
            adjustment,
            target.range.start,
            today,
        );
        let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
            continue;
        };
        let start = ex_boundary(*first - Days::new(CLOSE_WINDOW_DAYS));
        let end = ex_boundary(*last);
        let key = SeriesKey::new(symbol.clone(), Feed::Sip, Timeframe::ONE_DAY);
        let range = Interval::new(start, end).expect("two weeks before an ex-date is earlier");
        out.entry(symbol.clone())
            .and_modify(|t: &mut FillTarget| t.range = t.range.hull(&range))
            .or_insert(FillTarget { key, range });
    }
    out
}

/// Makes sure the cache covers every target: fills the gaps. With no client (`--offline`),
/// serves what the cache holds: a target is fine up to its series' last answer from Alpaca
/// (its coverage and provisional ranges), and each one reaching past it is returned as a
/// [`CachedThrough`]; a series that is absent, or unanswered ranges before that point,
/// fail naming them.
async fn ensure_cached(
    store: &Store,
    client: Option<&Client>,
    targets: Vec<FillTarget>,
    now: DateTime<Utc>,
    observer: Arc<dyn Observer>,
    interrupt: &Interrupt,
) -> Result<Vec<CachedThrough>, Error> {
    let Some(client) = client else {
        let keys = targets.iter().map(|t| t.key.clone()).collect();
        let mut stored = Vec::with_capacity(targets.len());
        let mut failed = Vec::new();
        for (target, summary) in targets.iter().zip(read_summaries(store, keys).await) {
            match summary {
                Ok(summary) => stored.push(summary.map(|s| s.metadata)),
                Err(e) => failed.push((target.key.clone(), e)),
            }
        }
        name_every_failure(failed)?;
        return offline_reach(&targets, &stored, now);
    };
    let options = FillOptions {
        now,
        wait_for_locks: true,
        concurrency: 4,
        interrupt: interrupt.clone(),
    };
    let outcomes = gap_fill::fill(store, client, targets, options, observer).await?;
    if let Some(signal) = interrupt.signal() {
        return Err(Error::Interrupted(signal));
    }
    name_every_failure(outcomes.into_iter().filter_map(|o| match o.status {
        SeriesStatus::Failed(source) => Some((o.key, source)),
        _ => None,
    }))?;
    Ok(Vec::new())
}

/// Whether the cache answers every target whole as stored (`stored`: each target's series
/// metadata, `None` when not cached): a fill would ask nothing, and would have nothing to
/// report (no range beyond the market calendar's years).
fn answered(targets: &[FillTarget], stored: &[Option<SeriesMetadata>], now: DateTime<Utc>) -> bool {
    targets.iter().zip(stored).all(|(target, stored)| {
        let plan = gap_fill::plan_stored(target, stored.as_ref(), now);
        plan.asks.is_empty() && !plan.beyond_calendar
    })
}

/// The `--offline` check: every target is served up to its series' last answer from Alpaca
/// (`stored`: each target's series metadata, `None` when not cached). Fails naming every
/// series that is absent or holds unanswered ranges before that point; returns those that
/// reach past it.
fn offline_reach(
    targets: &[FillTarget],
    stored: &[Option<SeriesMetadata>],
    now: DateTime<Utc>,
) -> Result<Vec<CachedThrough>, Error> {
    let mut missing = Vec::new();
    let mut reach = Vec::new();
    let mut noted = std::collections::HashSet::new();
    for (target, stored) in targets.iter().zip(stored) {
        // Past the end of its ticker, a series is served up to it: no note of its reach.
        let ticker_end = ended(target, stored.as_ref()).map(|(_, c)| c.end);
        let key = target.key.clone();
        let mut known = stored
            .as_ref()
            .map(|s| s.coverage.clone())
            .unwrap_or_default();
        if let Some(s) = stored {
            known.insert_all(&s.provisional);
        }
        let (Some(stored), Some(through)) = (stored, known.intervals().last().map(|i| i.end))
        else {
            missing.push(format!("{} {} (not cached)", key.symbol, key.timeframe));
            continue;
        };
        // What is missing, with the market calendar: before `through` a hole, after it the
        // time since the last answer.
        let plan = plan_asks(target.range, &known, now, key.timeframe, key.asset_class());
        let mut holes = Vec::new();
        let mut beyond = false;
        for range in plan.ranges() {
            if range.start < through {
                holes.extend(Interval::new(range.start, range.end.min(through)));
            }
            beyond |= range.end > through;
        }
        if !holes.is_empty() {
            let spans: Vec<String> = holes
                .iter()
                .map(|g| format!("{} to {}", format_instant(g.start), format_instant(g.end)))
                .collect();
            missing.push(format!(
                "{} {} ({})",
                key.symbol,
                key.timeframe,
                spans.join(", ")
            ));
        } else if beyond && ticker_end.is_none_or(|end| through < end) && noted.insert(key.clone())
        {
            reach.push(CachedThrough {
                key,
                through,
                updated_at: stored.updated_at,
            });
        }
    }
    if !missing.is_empty() {
        return Err(Error::Offline(missing.join("; ")));
    }
    Ok(reach)
}

/// The stored bars of each target's range, streamed from the cache, and each target's series
/// metadata (`None`: not cached). Every footer is checked before this returns, so a damaged
/// or foreign file fails before the first bar. The first target's file is opened for its
/// stream at once, so its footer is read and decoded once, for the check and the stream (a
/// loop fetching one series per call reads its file once: issue 24); the other footers are
/// read concurrently, and their files opened when the stream reaches them.
async fn read(
    store: &Store,
    targets: Vec<FillTarget>,
) -> Result<(FetchedBars, Vec<Option<SeriesMetadata>>), Error> {
    enum Opened {
        Stream(Option<SeriesScan>),
        Footer(Option<FileSummary>),
    }
    let jobs: Vec<(usize, FillTarget)> = targets.iter().cloned().enumerate().collect();
    let reader = store.clone();
    let opened = map_blocking(jobs, move |(i, target)| {
        Ok(if i == 0 {
            Opened::Stream(reader.scan_bars(&target.key, Some(target.range))?)
        } else {
            Opened::Footer(reader.read_summary(&target.key)?)
        })
    })
    .await;
    let mut stored = Vec::with_capacity(targets.len());
    let mut first = None;
    let mut failed: Vec<(SeriesKey, Error)> = Vec::new();
    for (target, opened) in targets.iter().zip(opened) {
        match opened {
            Ok(Opened::Stream(scan)) => {
                stored.push(scan.as_ref().map(|s| s.metadata.clone()));
                first = scan;
            }
            Ok(Opened::Footer(summary)) => stored.push(summary.map(|s| s.metadata)),
            Err(e) => failed.push((target.key.clone(), e)),
        }
    }
    name_every_failure(failed)?;
    let mut series = FetchedBars::unchecked(store, targets);
    if let Some(scan) = first {
        let target = series
            .targets
            .pop_front()
            .expect("the scan is the first target's");
        series.current = Some((target, scan));
    } else {
        // Not cached: nothing to stream for it.
        series.targets.pop_front();
    }
    Ok((series, stored))
}

impl FetchedBars {
    /// Streams `targets` whose footers the caller has already read and checked.
    fn unchecked(store: &Store, targets: Vec<FillTarget>) -> Self {
        FetchedBars {
            store: store.clone(),
            targets: targets.into(),
            adjusters: HashMap::new(),
            current: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::TimeDelta;

    use super::*;
    use crate::api::{ClientConfig, RetryPolicy};
    use crate::cache::backend::{CommitSummary, Compaction, LeftoverTemp, Recovered, SeriesUpdate};
    use crate::cache::local_dir::LocalDir;
    use crate::cache::lock::SeriesLock;
    use crate::cache::{CacheBackend, Error as CacheError};
    use crate::events::Silent;
    use crate::market::Volume;

    /// A directory cache that counts how often a series' footer is read: as a summary, or
    /// to stream its bars.
    #[derive(Debug)]
    struct Counting {
        dir: LocalDir,
        summaries: Arc<AtomicUsize>,
        scans: Arc<AtomicUsize>,
    }

    impl CacheBackend for Counting {
        fn root(&self) -> &Path {
            self.dir.root()
        }
        fn location(&self, key: &SeriesKey) -> PathBuf {
            self.dir.location(key)
        }
        fn lock(&self, key: &SeriesKey, wait: bool) -> Result<SeriesLock, CacheError> {
            self.dir.lock(key, wait)
        }
        fn recover(&self, key: &SeriesKey) -> Result<Recovered, CacheError> {
            self.dir.recover(key)
        }
        fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, CacheError> {
            self.summaries.fetch_add(1, Ordering::SeqCst);
            self.dir.read_summary(key)
        }
        fn scan_bars(
            &self,
            key: &SeriesKey,
            range: Option<Interval>,
        ) -> Result<Option<SeriesScan>, CacheError> {
            self.scans.fetch_add(1, Ordering::SeqCst);
            self.dir.scan_bars(key, range)
        }
        fn commit(
            &self,
            key: &SeriesKey,
            lock: &SeriesLock,
            update: SeriesUpdate,
            now: DateTime<Utc>,
        ) -> Result<CommitSummary, CacheError> {
            self.dir.commit(key, lock, update, now)
        }
        fn replace(
            &self,
            key: &SeriesKey,
            metadata: &SeriesMetadata,
            bars: &[Bar],
        ) -> Result<(), CacheError> {
            self.dir.replace(key, metadata, bars)
        }
        fn compact(
            &self,
            key: &SeriesKey,
            lock: &SeriesLock,
            force: bool,
        ) -> Result<Compaction, CacheError> {
            self.dir.compact(key, lock, force)
        }
        fn list_sized(&self) -> Result<Vec<(SeriesKey, u64)>, CacheError> {
            self.dir.list_sized()
        }
        fn size(&self, key: &SeriesKey) -> Result<Option<u64>, CacheError> {
            self.dir.size(key)
        }
        fn remove(&self, key: &SeriesKey, lock: SeriesLock) -> Result<u64, CacheError> {
            self.dir.remove(key, lock)
        }
        fn remove_lock(&self, lock: SeriesLock) -> Result<(), CacheError> {
            self.dir.remove_lock(lock)
        }
        fn leftovers(&self) -> Result<Vec<LeftoverTemp>, CacheError> {
            self.dir.leftovers()
        }
        fn orphan_journals(&self) -> Result<Vec<LeftoverTemp>, CacheError> {
            self.dir.orphan_journals()
        }
        fn remove_leftover(&self, temp: &LeftoverTemp) -> Result<bool, CacheError> {
            self.dir.remove_leftover(temp)
        }
        fn tidy(&self) {
            self.dir.tidy();
        }
        fn conflicts(&self) -> Option<u64> {
            self.dir.conflicts()
        }
        fn document_location(&self, relative: &Path) -> PathBuf {
            self.dir.document_location(relative)
        }
        fn lock_document(&self, relative: &Path, wait: bool) -> Result<SeriesLock, CacheError> {
            self.dir.lock_document(relative, wait)
        }
        fn read_document(&self, relative: &Path) -> Result<Option<Vec<u8>>, CacheError> {
            self.dir.read_document(relative)
        }
        fn write_document(
            &self,
            relative: &Path,
            bytes: &[u8],
            lock: &SeriesLock,
        ) -> Result<(), CacheError> {
            self.dir.write_document(relative, bytes, lock)
        }
        fn remove_document(&self, relative: &Path, lock: SeriesLock) -> Result<bool, CacheError> {
            self.dir.remove_document(relative, lock)
        }
        fn list_documents(&self, dir: &Path) -> Result<Vec<String>, CacheError> {
            self.dir.list_documents(dir)
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// A year of daily bars of `symbol` at midnight New York (winter time), answered from a
    /// day before its first bar to a day after its last.
    fn cache_a_year(store: &Store, symbol: &str) -> SeriesKey {
        let key = SeriesKey::new(symbol.parse().unwrap(), Feed::Sip, Timeframe::ONE_DAY);
        let first = utc("2025-01-01T05:00:00Z");
        let bars: Vec<Bar> = (0..365)
            .map(|i| Bar {
                timestamp: first + TimeDelta::days(i),
                open: 100.0,
                high: 101.0,
                low: 99.0,
                close: 100.5,
                volume: Volume::Shares(1_000),
                trade_count: 10,
                vwap: 100.25,
            })
            .collect();
        let span = Interval::new(first - TimeDelta::days(1), first + TimeDelta::days(365));
        let span = span.unwrap();
        let lock = store.lock(&key, true).unwrap();
        let update = SeriesUpdate {
            bars,
            answered: vec![span],
            covered: vec![span],
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
        };
        (store.commit(&key, &lock, update, utc("2026-01-02T00:00:00Z"))).unwrap();
        key
    }

    /// A client whose requests would fail (nothing listens on port 9).
    fn unreachable_client(now: DateTime<Utc>) -> Client {
        let config = ClientConfig {
            base_url: "http://127.0.0.1:9".to_owned(),
            credentials: None,
            retry: RetryPolicy::default(),
            requests_per_minute: 200,
            connect_timeout: std::time::Duration::from_secs(1),
            read_timeout: std::time::Duration::from_secs(1),
            now,
            interrupt: Interrupt::never(),
        };
        Client::new(config, Arc::new(Silent)).unwrap()
    }

    /// [`fetch`] of raw bars, nothing reported, never interrupted.
    async fn fetch_raw(
        store: &Store,
        client: Option<&Client>,
        targets: Vec<FillTarget>,
        now: DateTime<Utc>,
    ) -> Result<Fetched, Error> {
        let observer = Arc::new(Silent);
        fetch(
            store,
            client,
            targets,
            Adjustments::RAW,
            now,
            observer,
            &Interrupt::never(),
        )
        .await
    }

    /// What a shell loop relies on (issue 24): a fetch the cache answers whole reads each
    /// series' footer once, online or offline, and never builds the HTTP client; with more
    /// than one series, every footer is still read before the first bar.
    #[tokio::test]
    async fn a_fetch_the_cache_answers_reads_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let (summaries, scans) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let store = Store::with_backend(Counting {
            dir: LocalDir::new(dir.path().to_path_buf()),
            summaries: summaries.clone(),
            scans: scans.clone(),
        });
        let aaa = cache_a_year(&store, "AAA");
        let bbb = cache_a_year(&store, "BBB");
        let now = utc("2026-01-01T00:00:00Z");
        let range = Interval::new(utc("2025-01-01T05:00:00Z"), utc("2025-07-01T04:00:00Z"));
        let target = |key: &SeriesKey| FillTarget {
            key: key.clone(),
            range: range.unwrap(),
        };
        let client = unreachable_client(now);
        for online in [false, true] {
            for keys in [vec![&aaa], vec![&aaa, &bbb]] {
                summaries.store(0, Ordering::SeqCst);
                scans.store(0, Ordering::SeqCst);
                let targets: Vec<FillTarget> = keys.iter().map(|k| target(k)).collect();
                let fetched = fetch_raw(&store, online.then_some(&client), targets, now)
                    .await
                    .unwrap();
                let read_before_streaming =
                    summaries.load(Ordering::SeqCst) + scans.load(Ordering::SeqCst);
                assert_eq!(
                    read_before_streaming,
                    keys.len(),
                    "online {online}, {} series: every footer read once before the first bar",
                    keys.len()
                );
                let bars: usize = fetched.series.map(|c| c.unwrap().bars.len()).sum();
                assert_eq!(bars, 181 * keys.len(), "half a year of daily bars each");
                assert_eq!(
                    summaries.load(Ordering::SeqCst) + scans.load(Ordering::SeqCst),
                    2 * keys.len() - 1,
                    "the first series is streamed from the read that checked it"
                );
                assert!(fetched.reach.is_empty() && fetched.ended.is_empty());
            }
        }
        assert!(!client.http_built(), "nothing was asked of Alpaca");
    }

    /// Two damaged series: the fetch fails before any bar, naming both (issue 20), online
    /// or offline, and asks Alpaca nothing.
    #[tokio::test]
    async fn every_damaged_series_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let keys = [cache_a_year(&store, "AAA"), cache_a_year(&store, "BBB")];
        for key in &keys {
            std::fs::write(store.path(key), b"PAR1 not a parquet file PAR1").unwrap();
        }
        let now = utc("2026-01-01T00:00:00Z");
        let range = Interval::new(utc("2025-01-01T05:00:00Z"), utc("2025-07-01T04:00:00Z"));
        let client = unreachable_client(now);
        for online in [false, true] {
            let targets = (keys.iter())
                .map(|key| FillTarget {
                    key: key.clone(),
                    range: range.unwrap(),
                })
                .collect();
            let failed = fetch_raw(&store, online.then_some(&client), targets, now).await;
            match failed {
                Err(Error::Series { key, others, .. }) => {
                    assert_eq!(key, keys[0], "online {online}");
                    assert_eq!(others, vec![keys[1].clone()], "online {online}");
                }
                Err(other) => panic!("online {online}: {other}"),
                Ok(_) => panic!("online {online}: damaged files were served"),
            }
        }
        assert!(!client.http_built(), "nothing was asked of Alpaca");
    }
}

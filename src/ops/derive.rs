//! Derived reads (issue #22): `fetch --from 1Min` and `fetch --session regular` build the
//! requested timeframe from a finer cached series instead of asking Alpaca for it. The
//! source series (1Min) is the one filled and cached, exactly as a plain fetch of it would
//! be (batched, calendar-aware, provisional bars asked again, `--offline` alike); its bars
//! are then adjusted (when asked) and folded into buckets while they stream out
//! ([`market::aggregate`](crate::market::aggregate)), one open bucket carried across
//! chunks, so memory stays bounded. Nothing derived is ever written to the cache.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::Error;
use super::concurrent_reads::read_summaries;
use super::fetch::{self, CachedThrough, ChunkBars, FetchedBars, FetchedSeries, LedgerUse};
use super::gap_fill::FillTarget;
use crate::api::Client;
use crate::cache::{SeriesKey, Store};
use crate::events::Observer;
use crate::interrupt::Interrupt;
use crate::market::aggregate::{Aggregator, Buckets, Session};
use crate::market::timeframe::TimeUnit;
use crate::market::{Adjustments, AssetClass, Closing, Interval, Symbol, Timeframe};

/// How a derived timeframe is built: from which source timeframe, over which session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derivation {
    pub source: Timeframe,
    pub session: Session,
}

/// A `--from`/`--session` combination that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DerivationError {
    #[error(
        "--session regular applies to stocks only, and {0} is crypto, which trades around the clock; fetch crypto pairs with --session extended (the default)"
    )]
    CryptoSession(Symbol),
    #[error(
        "--session regular builds its bars from 1Min bars; drop `--from {0}` or give --from 1Min"
    )]
    RegularFrom(Timeframe),
    #[error(
        "--from builds intraday timeframes (N-Min, N-Hour) only, not `{0}`; fetch -t {0} without --from, or add --session regular for bars of the regular session"
    )]
    NotIntraday(Timeframe),
    #[error(
        "--from {from} cannot build {target}: the source bars must be intraday and divide the target's length; use --from 1Min"
    )]
    Indivisible { from: Timeframe, target: Timeframe },
}

/// The length of an intraday timeframe in minutes.
fn minutes(timeframe: Timeframe) -> Option<u32> {
    match timeframe.unit() {
        TimeUnit::Minute => Some(timeframe.amount()),
        TimeUnit::Hour => Some(timeframe.amount() * 60),
        TimeUnit::Day | TimeUnit::Week | TimeUnit::Month => None,
    }
}

/// How to build `target` as asked by `--from` and `--session`: `None` when it is simply
/// fetched (the extended session, no `--from`, or `--from` the target itself).
pub fn derivation(
    target: Timeframe,
    from: Option<Timeframe>,
    session: Session,
    symbols: &[Symbol],
) -> Result<Option<Derivation>, DerivationError> {
    let one_minute = Timeframe::new(1, TimeUnit::Minute).expect("1Min is a timeframe");
    if session == Session::Regular {
        if let Some(crypto) = symbols
            .iter()
            .find(|s| s.asset_class() == AssetClass::Crypto)
        {
            return Err(DerivationError::CryptoSession(crypto.clone()));
        }
        return match from {
            Some(source) if source != one_minute => Err(DerivationError::RegularFrom(source)),
            _ => Ok(Some(Derivation {
                source: one_minute,
                session,
            })),
        };
    }
    let Some(source) = from.filter(|source| *source != target) else {
        return Ok(None);
    };
    let target_minutes = minutes(target).ok_or(DerivationError::NotIntraday(target))?;
    match minutes(source) {
        Some(m) if target_minutes % m == 0 => Ok(Some(Derivation { source, session })),
        _ => Err(DerivationError::Indivisible {
            from: source,
            target,
        }),
    }
}

/// One requested series and the source series it is built from.
#[derive(Debug, Clone)]
struct DerivedTarget {
    /// The requested series: its key names the requested timeframe (never stored).
    requested: FillTarget,
    /// The source series and the range of it the requested buckets need.
    source: FillTarget,
    buckets: Buckets,
}

impl DerivedTarget {
    fn new(requested: FillTarget, derivation: Derivation) -> Self {
        let key = &requested.key;
        let buckets = Buckets::new(key.timeframe, key.asset_class(), derivation.session);
        // A bucket starting inside the range is printed whole: the source reaches to the end
        // of the bucket holding the range's last instant.
        let last = requested.range.end - TimeDelta::nanoseconds(1);
        let end = buckets
            .bucket_of(last)
            .map_or(requested.range.end, |b| b.end.max(requested.range.end));
        let source = FillTarget {
            key: SeriesKey::new(key.symbol.clone(), key.feed, derivation.source),
            range: Interval::new(requested.range.start, end).unwrap_or(requested.range),
        };
        Self {
            requested,
            source,
            buckets,
        }
    }
}

/// Derived bars of one series may be provisional from this instant on: a derived bar whose
/// bucket ends after it has not ended at `now`, or holds source bars that are provisional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionalFrom {
    /// The requested series (its timeframe is the derived one).
    pub key: SeriesKey,
    pub source: Timeframe,
    pub from: DateTime<Utc>,
}

/// What a fetch returns: the bars as they stream (stored or derived), and what the fetch of
/// the stored series reports.
pub struct DerivedFetch {
    pub series: Bars,
    pub ledgers: Vec<LedgerUse>,
    /// `--offline` only: source series served up to their last answer, short of the end.
    pub reach: Vec<CachedThrough>,
    /// Source series asked past the end of their ticker (see `fetch::Fetched::ended`).
    pub ended: Vec<(SeriesKey, Closing)>,
    /// The requested series whose last derived bars are provisional.
    pub provisional: Vec<ProvisionalFrom>,
}

/// The bars a fetch prints, as they stream: the stored series, or bars derived from them.
pub type Bars = Box<dyn Iterator<Item = Result<FetchedSeries, Error>> + Send>;

/// With no derivation, [`fetch::fetch`]. Otherwise fills the gaps of the source series of
/// `targets` (unless offline, `client` is `None`), then returns the requested timeframe
/// built from them, adjusted as asked before the aggregation (so adjusted derived bars
/// equal derived adjusted bars).
#[allow(clippy::too_many_arguments)]
pub async fn fetch_derived(
    store: &Store,
    client: Option<&Client>,
    targets: Vec<FillTarget>,
    derivation: Option<Derivation>,
    adjustment: Adjustments,
    now: DateTime<Utc>,
    observer: Arc<dyn Observer>,
    interrupt: &Interrupt,
) -> Result<DerivedFetch, Error> {
    let Some(derivation) = derivation else {
        let fetched =
            fetch::fetch(store, client, targets, adjustment, now, observer, interrupt).await?;
        return Ok(DerivedFetch {
            series: Box::new(fetched.series),
            ledgers: fetched.ledgers,
            reach: fetched.reach,
            ended: fetched.ended,
            provisional: Vec::new(),
        });
    };
    let derived: Vec<DerivedTarget> = targets
        .into_iter()
        .map(|t| DerivedTarget::new(t, derivation))
        .collect();
    let sources: Vec<FillTarget> = derived.iter().map(|d| d.source.clone()).collect();
    let fetched =
        fetch::fetch(store, client, sources, adjustment, now, observer, interrupt).await?;
    let provisional = provisional_from(store, &derived, now).await?;
    Ok(DerivedFetch {
        series: Box::new(DerivedBars::new(fetched.series, derived)),
        ledgers: fetched.ledgers,
        reach: fetched.reach,
        ended: fetched.ended,
        provisional,
    })
}

/// Per requested series, the instant from which its derived bars may be provisional: the
/// first provisional source range inside what it reads, or `now`; listed only when the
/// source range reaches past it.
async fn provisional_from(
    store: &Store,
    derived: &[DerivedTarget],
    now: DateTime<Utc>,
) -> Result<Vec<ProvisionalFrom>, Error> {
    let keys = derived.iter().map(|d| d.source.key.clone()).collect();
    let mut out = Vec::new();
    for (d, summary) in derived.iter().zip(read_summaries(store, keys).await) {
        let summary = summary.map_err(|e| Error::Series {
            key: d.source.key.clone(),
            others: Vec::new(),
            source: Box::new(e),
        })?;
        let range = d.source.range;
        let settled_until = summary
            .iter()
            .flat_map(|s| s.metadata.provisional.intervals())
            .filter_map(|p| p.intersect(&range))
            .map(|p| p.start)
            .fold(now, DateTime::min);
        if settled_until < range.end {
            out.push(ProvisionalFrom {
                key: d.requested.key.clone(),
                source: d.source.key.timeframe,
                from: settled_until,
            });
        }
    }
    Ok(out)
}

/// The derived bars, built while the source bars stream from the cache: one chunk out per
/// chunk in (chunks left empty are skipped), each series' open bucket carried from one
/// chunk to the next and closed when its series ends.
pub struct DerivedBars {
    source: FetchedBars,
    targets: Vec<DerivedTarget>,
    /// The series being built: its index in `targets` and its aggregator.
    current: Option<(usize, Aggregator)>,
    /// A chunk of the next series, read while closing the previous one.
    pending: Option<FetchedSeries>,
}

impl DerivedBars {
    fn new(source: FetchedBars, targets: Vec<DerivedTarget>) -> Self {
        Self {
            source,
            targets,
            current: None,
            pending: None,
        }
    }

    /// A chunk of the requested series `index` holding `built` bars inside its range.
    fn chunk(
        &self,
        index: usize,
        built: impl Iterator<Item = crate::market::aggregate::BuiltBar>,
    ) -> FetchedSeries {
        let requested = &self.targets[index].requested;
        FetchedSeries {
            key: requested.key.clone(),
            range: requested.range,
            bars: ChunkBars::Rows(
                built
                    .filter(|b| requested.range.contains(b.bucket.start))
                    .map(|b| b.bar)
                    .collect(),
            ),
        }
    }
}

impl Iterator for DerivedBars {
    type Item = Result<FetchedSeries, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let next = match self.pending.take() {
                Some(chunk) => Some(Ok(chunk)),
                None => self.source.next(),
            };
            let chunk = match next {
                None => {
                    let (index, mut aggregator) = self.current.take()?;
                    let last = self.chunk(index, aggregator.finish().into_iter());
                    return (!last.bars.is_empty()).then_some(Ok(last));
                }
                Some(Err(e)) => {
                    self.current = None;
                    return Some(Err(e));
                }
                Some(Ok(chunk)) => chunk,
            };
            if let Some((index, _)) = &self.current
                && self.targets[*index].source.key != chunk.key
            {
                // The previous series is over: close its open bucket first.
                let (index, mut aggregator) = self.current.take().expect("checked above");
                self.pending = Some(chunk);
                let last = self.chunk(index, aggregator.finish().into_iter());
                if last.bars.is_empty() {
                    continue;
                }
                return Some(Ok(last));
            }
            if self.current.is_none() {
                let Some(index) = self.targets.iter().position(|t| t.source.key == chunk.key)
                else {
                    // Not a source series (cannot happen: the fetch reads only the sources).
                    continue;
                };
                self.current = Some((index, Aggregator::new(self.targets[index].buckets)));
            }
            let (index, aggregator) = self.current.as_mut().expect("set above");
            let index = *index;
            let built: Vec<_> = chunk
                .bars
                .rows()
                .iter()
                .filter_map(|b| aggregator.push(b))
                .collect();
            let out = self.chunk(index, built.into_iter());
            if !out.bars.is_empty() {
                return Some(Ok(out));
            }
        }
    }
}

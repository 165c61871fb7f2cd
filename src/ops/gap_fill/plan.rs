//! The planner of a gap-filling run: what each target's series misses (from its coverage,
//! shaped by the market calendar) and the requests that ask for it, one per (feed, timeframe,
//! missing range) with every symbol that misses exactly that range. Reads footers; sends
//! nothing and writes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{FillTarget, SeriesOutcome, SeriesStatus};
use crate::api;
use crate::cache::planner::{Ask, GapPlan, plan_asks};
use crate::cache::{SeriesKey, Store};
use crate::events::{Event, Observer};
use crate::market::{Feed, Interval, Symbol, Timeframe};
use crate::ops::Error;
use crate::ops::concurrent_reads::map_blocking;
use crate::parquet_files::metadata::SeriesMetadata;

/// One request to send: symbols that miss exactly the same interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub feed: Feed,
    pub timeframe: Timeframe,
    pub gap: Interval,
    pub symbols: Vec<Symbol>,
}

/// The gaps of one target, from the coverage in the cache, shaped by the market calendar.
fn plan_one(store: &Store, target: &FillTarget, now: DateTime<Utc>) -> Result<GapPlan, Error> {
    let summary = store.read_summary(&target.key)?;
    Ok(plan_stored(
        target,
        summary.as_ref().map(|s| &s.metadata),
        now,
    ))
}

/// The gaps of one target given its series' metadata as stored (`None`: not cached): what a
/// fill would ask for it. A caller that has read the footer already (a fetch about to stream
/// the series) learns from this whether a fill is needed at all.
pub fn plan_stored(
    target: &FillTarget,
    stored: Option<&SeriesMetadata>,
    now: DateTime<Utc>,
) -> GapPlan {
    // Nothing is asked at or after the end of a closed series' ticker (issue 23).
    let end = stored
        .and_then(|s| s.closed.as_ref())
        .map_or(target.range.end, |c| c.end.min(target.range.end));
    let Some(range) = Interval::new(target.range.start, end) else {
        return GapPlan::default();
    };
    let empty = crate::market::IntervalSet::default();
    let coverage = stored.map_or(&empty, |s| &s.coverage);
    plan_asks(
        range,
        coverage,
        now,
        target.key.timeframe,
        target.key.asset_class(),
    )
}

/// The gaps of each target, from the coverage in the cache, shaped by the market calendar
/// (stock gaps are trimmed to the sessions they span; gaps without one are not asked). A
/// damaged file is an error for its series only.
pub fn plan(
    store: &Store,
    targets: &[FillTarget],
    now: DateTime<Utc>,
) -> Vec<(SeriesKey, Result<GapPlan, Error>)> {
    targets
        .iter()
        .map(|target| (target.key.clone(), plan_one(store, target, now)))
        .collect()
}

/// [`plan`] with up to 32 footer reads (or object GETs) at once on blocking threads.
pub async fn plan_concurrently(
    store: &Store,
    targets: &[FillTarget],
    now: DateTime<Utc>,
) -> Vec<(SeriesKey, Result<GapPlan, Error>)> {
    let keys = targets.iter().map(|t| t.key.clone());
    let store = store.clone();
    let plans = map_blocking(targets.to_vec(), move |target| {
        plan_one(&store, &target, now)
    })
    .await;
    keys.zip(plans).collect()
}

/// Groups gaps into requests: one per (feed, timeframe, interval), symbols sorted, split only
/// to keep URLs short.
pub fn batch<'a>(gaps: impl IntoIterator<Item = (&'a SeriesKey, &'a [Interval])>) -> Vec<Batch> {
    let mut groups: BTreeMap<(Feed, Timeframe, Interval), Vec<Symbol>> = BTreeMap::new();
    for (key, intervals) in gaps {
        for gap in intervals {
            groups
                .entry((key.feed, key.timeframe, *gap))
                .or_default()
                .push(key.symbol.clone());
        }
    }
    let mut batches = Vec::new();
    for ((feed, timeframe, gap), mut symbols) in groups {
        symbols.sort();
        symbols.dedup();
        batches.extend(
            api::symbol_batches(symbols)
                .into_iter()
                .map(|symbols| Batch {
                    feed,
                    timeframe,
                    gap,
                    symbols,
                }),
        );
    }
    batches
}

/// What one series of a run asks for.
#[derive(Debug, Default)]
pub(super) struct SeriesPlan {
    /// What is asked for each missing range (see [`Ask`]).
    pub(super) asks: Vec<Ask>,
    /// Missing but holding no session: covered (up to the settled bound) with the first
    /// commit of the series.
    pub(super) closed: Vec<Interval>,
    /// The requests that carry this series.
    pub(super) requests: usize,
}

/// A whole run's plan: the series to ask for and their requests, and the outcome of every
/// series that needs no request (nothing missing, or a damaged file).
#[derive(Debug, Default)]
pub(super) struct RunPlan {
    pub(super) series: HashMap<SeriesKey, SeriesPlan>,
    pub(super) batches: Vec<Batch>,
    pub(super) settled: BTreeMap<SeriesKey, SeriesOutcome>,
}

/// Plans a run: reads every target's coverage (32 at a time), merges the gaps of a series
/// requested twice, and groups the gaps into requests.
pub(super) async fn plan_run(
    store: &Store,
    targets: &[FillTarget],
    now: DateTime<Utc>,
    observer: &dyn Observer,
) -> RunPlan {
    let planned = plan_concurrently(store, targets, now).await;
    if planned
        .iter()
        .any(|(_, p)| p.as_ref().is_ok_and(|p| p.beyond_calendar))
    {
        observer.event(Event::OutsideCalendar);
    }
    let mut run = RunPlan::default();
    for (key, gaps) in planned {
        match gaps {
            // Nothing to ask (at most gaps without a session): no request, no write.
            Ok(plan) if plan.asks.is_empty() => {
                run.settled.entry(key.clone()).or_insert(SeriesOutcome {
                    key,
                    gaps: Vec::new(),
                    status: SeriesStatus::Unchanged,
                });
            }
            Ok(plan) => {
                let series = run.series.entry(key).or_default();
                for ask in plan.asks {
                    if !series.asks.iter().any(|a| a.range == ask.range) {
                        series.asks.push(ask);
                    }
                }
                for gap in plan.closed {
                    if !series.closed.contains(&gap) {
                        series.closed.push(gap);
                    }
                }
            }
            Err(e) => {
                run.settled.insert(
                    key.clone(),
                    SeriesOutcome {
                        key,
                        gaps: Vec::new(),
                        status: SeriesStatus::Failed(e),
                    },
                );
            }
        }
    }
    // A key planned twice (two ranges) with nothing missing in one of them is not unchanged.
    let series = &run.series;
    run.settled.retain(|key, _| !series.contains_key(key));

    let ranges: Vec<(SeriesKey, Vec<Interval>)> = run
        .series
        .iter()
        .map(|(k, s)| (k.clone(), s.asks.iter().map(|a| a.range).collect()))
        .collect();
    run.batches = batch(ranges.iter().map(|(k, r)| (k, r.as_slice())));
    for b in &run.batches {
        for symbol in &b.symbols {
            let key = SeriesKey::new(symbol.clone(), b.feed, b.timeframe);
            if let Some(s) = run.series.get_mut(&key) {
                s.requests += 1;
            }
        }
    }
    observer.event(Event::Planned {
        requests: run.batches.len(),
        series: run.series.len(),
    });
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn symbols_missing_the_same_range_share_one_request() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = Interval::new(t0, t0 + TimeDelta::days(10)).unwrap();
        let b = Interval::new(t0 + TimeDelta::days(20), t0 + TimeDelta::days(30)).unwrap();
        let day: Timeframe = "1Day".parse().unwrap();
        let keys: Vec<SeriesKey> = (0..450)
            .map(|i| {
                SeriesKey::new(
                    format!("S{}", to_letters(i)).parse().unwrap(),
                    Feed::Sip,
                    day,
                )
            })
            .collect();
        let gaps_a = [a];
        let gaps_ab = [a, b];
        let mut input: Vec<(&SeriesKey, &[Interval])> =
            keys.iter().map(|k| (k, &gaps_a[..])).collect();
        input[0].1 = &gaps_ab;
        let batches = batch(input);
        // 450 symbols on `a` split in 3 requests of <= 200, plus one for `b`.
        assert_eq!(batches.len(), 4);
        assert_eq!(
            batches
                .iter()
                .filter(|b| b.gap == a)
                .map(|b| b.symbols.len())
                .sum::<usize>(),
            450
        );
        assert!(batches.iter().all(|b| b.symbols.len() <= 200));
    }

    fn to_letters(mut i: usize) -> String {
        let mut s = String::new();
        loop {
            s.push(char::from(b'A' + u8::try_from(i % 26).unwrap()));
            i /= 26;
            if i == 0 {
                return s;
            }
        }
    }
}

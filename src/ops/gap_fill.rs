//! The gap-filling engine shared by `fetch` and `update`: plan every series' gaps, share
//! requests between series that miss the same range, send them concurrently within the rate
//! limit, and commit each series as soon as all of its requests are answered. A failure
//! affects only the series of the failed request; everything else is committed. Stock gaps
//! are shaped by the market calendar first ([`plan_asks`]): only sessions are asked for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Error;
use crate::api::{self, BarsRequest, Client};
use crate::cache::lock::SeriesLock;
use crate::cache::planner::{Ask, GapPlan, covered_by_answer, plan_asks, settled_until};
use crate::cache::store::{CommitSummary, SeriesUpdate};
use crate::cache::{SeriesKey, Store};
use crate::events::{Event, Observer};
use crate::market::{Feed, Interval, Symbol, Timeframe};

/// One series and the range the caller needs it to cover.
#[derive(Debug, Clone)]
pub struct FillTarget {
    pub key: SeriesKey,
    pub range: Interval,
}

#[derive(Debug, Clone, Copy)]
pub struct FillOptions {
    pub now: DateTime<Utc>,
    /// Wait for other processes' locks (else fail those series at once).
    pub wait_for_locks: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// What happened to one series.
#[derive(Debug)]
pub enum SeriesStatus {
    /// Nothing was missing, or Alpaca had nothing new.
    Unchanged,
    Updated(CommitSummary),
    Failed(Error),
}

#[derive(Debug)]
pub struct SeriesOutcome {
    pub key: SeriesKey,
    /// The ranges that were asked for.
    pub gaps: Vec<Interval>,
    pub status: SeriesStatus,
}

/// One request to send: symbols that miss exactly the same interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub feed: Feed,
    pub timeframe: Timeframe,
    pub gap: Interval,
    pub symbols: Vec<Symbol>,
}

/// The gaps of each target, from the coverage in the cache, shaped by the market calendar.
/// A damaged file is an error for its series only.
pub fn plan(
    store: &Store,
    targets: &[FillTarget],
    now: DateTime<Utc>,
) -> Vec<(SeriesKey, Result<GapPlan, Error>)> {
    targets
        .iter()
        .map(|target| {
            let gaps = store
                .read_summary(&target.key)
                .map_err(Error::from)
                .map(|summary| {
                    let coverage = summary.map(|s| s.metadata.coverage).unwrap_or_default();
                    plan_asks(
                        target.range,
                        &coverage,
                        now,
                        target.key.timeframe,
                        target.key.asset_class(),
                    )
                });
            (target.key.clone(), gaps)
        })
        .collect()
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

struct Pending {
    lock: Arc<SeriesLock>,
    asks: Vec<Ask>,
    /// Missing but holding no session: covered (up to the settled bound) on commit.
    closed: Vec<Interval>,
    outstanding: usize,
    update: SeriesUpdate,
    error: Option<Error>,
}

/// Fills the gaps of every target and commits each series. Returns one outcome per target,
/// in the order given.
pub async fn fill(
    store: &Store,
    client: &Client,
    targets: Vec<FillTarget>,
    options: FillOptions,
    observer: Arc<dyn Observer>,
) -> Result<Vec<SeriesOutcome>, Error> {
    let now = options.now;
    let first_plan = {
        let (store, targets) = (store.clone(), targets.clone());
        tokio::task::spawn_blocking(move || plan(&store, &targets, now)).await?
    };
    if first_plan
        .iter()
        .any(|(_, p)| p.as_ref().is_ok_and(|p| p.beyond_calendar))
    {
        observer.event(Event::OutsideCalendar);
    }
    let mut outcomes: BTreeMap<SeriesKey, SeriesOutcome> = BTreeMap::new();
    let mut to_lock = Vec::new();
    for (key, gaps) in first_plan {
        match gaps {
            // Nothing to ask (at most gaps without a session): no request, no write.
            Ok(plan) if plan.asks.is_empty() => {
                outcomes.insert(
                    key.clone(),
                    SeriesOutcome {
                        key,
                        gaps: Vec::new(),
                        status: SeriesStatus::Unchanged,
                    },
                );
            }
            Ok(_) => to_lock.push(key),
            Err(e) => {
                outcomes.insert(
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
    to_lock.sort();
    to_lock.dedup();

    // Lock in key order (no deadlock between runs), then plan again: another process may
    // have filled some gaps while we waited.
    let locked = {
        let (store, keys, wait) = (store.clone(), to_lock, options.wait_for_locks);
        tokio::task::spawn_blocking(move || {
            keys.into_iter()
                .map(|k| (store.lock(&k, wait), k))
                .collect::<Vec<_>>()
        })
        .await?
    };
    let mut pending: HashMap<SeriesKey, Pending> = HashMap::new();
    let mut relocked_targets = Vec::new();
    for (lock, key) in locked {
        match lock {
            Ok(lock) => {
                let range = targets.iter().filter(|t| t.key == key).map(|t| t.range);
                relocked_targets.extend(range.map(|range| FillTarget {
                    key: key.clone(),
                    range,
                }));
                pending.insert(
                    key,
                    Pending {
                        lock: Arc::new(lock),
                        asks: Vec::new(),
                        closed: Vec::new(),
                        outstanding: 0,
                        update: SeriesUpdate::default(),
                        error: None,
                    },
                );
            }
            Err(e) => {
                outcomes.insert(
                    key.clone(),
                    SeriesOutcome {
                        key,
                        gaps: Vec::new(),
                        status: SeriesStatus::Failed(e.into()),
                    },
                );
            }
        }
    }
    let second_plan = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || plan(&store, &relocked_targets, now)).await?
    };
    for (key, gaps) in second_plan {
        let entry = pending.get_mut(&key).expect("planned series are pending");
        match gaps {
            Ok(plan) => {
                for ask in plan.asks {
                    if !entry.asks.iter().any(|a| a.range == ask.range) {
                        entry.asks.push(ask);
                    }
                }
                for gap in plan.closed {
                    if !entry.closed.contains(&gap) {
                        entry.closed.push(gap);
                    }
                }
            }
            Err(e) => entry.error = Some(e),
        }
    }

    let ranges: Vec<(SeriesKey, Vec<Interval>)> = pending
        .iter()
        .filter(|(_, p)| p.error.is_none())
        .map(|(k, p)| (k.clone(), p.asks.iter().map(|a| a.range).collect()))
        .collect();
    let batches = batch(ranges.iter().map(|(k, r)| (k, r.as_slice())));
    for b in &batches {
        for symbol in &b.symbols {
            let key = SeriesKey::new(symbol.clone(), b.feed, b.timeframe);
            if let Some(p) = pending.get_mut(&key) {
                p.outstanding += 1;
            }
        }
    }
    observer.event(Event::Planned {
        requests: batches.len(),
        series: pending.len(),
    });

    // Series with nothing left to ask (filled by another process meanwhile, or failed to plan).
    let idle: Vec<SeriesKey> = pending
        .iter()
        .filter(|(_, p)| p.outstanding == 0)
        .map(|(k, _)| k.clone())
        .collect();
    for key in idle {
        let p = pending.remove(&key).expect("present");
        let outcome = finish(store, key, p, now, observer.as_ref()).await?;
        outcomes.insert(outcome.key.clone(), outcome);
    }

    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut requests = JoinSet::new();
    for b in batches {
        spawn_request(&mut requests, client, &semaphore, b, None);
    }
    while let Some(joined) = requests.join_next().await {
        let (b, siblings, answer) = joined?;
        // A batch that fails for a reason one symbol can cause (a 400 for a symbol Alpaca
        // rejects, a server error tied to one symbol) is split in halves and asked again, so
        // the failure ends up naming only the symbols it belongs to. When both halves of a
        // split fail, the failure is not about symbols: stop splitting that line.
        let both_halves_failed = answer.is_err()
            && siblings.is_some_and(|failed| failed.fetch_add(1, Ordering::SeqCst) >= 1);
        if let Err(e) = &answer
            && b.symbols.len() > 1
            && !both_halves_failed
            && !affects_every_request(e)
        {
            let (left, right) = b.symbols.split_at(b.symbols.len() / 2);
            let failed_halves = Arc::new(AtomicUsize::new(0));
            for half in [left, right] {
                let half = Batch {
                    symbols: half.to_vec(),
                    ..b.clone()
                };
                spawn_request(
                    &mut requests,
                    client,
                    &semaphore,
                    half,
                    Some(failed_halves.clone()),
                );
            }
            continue;
        }
        let answer = answer.map_err(Arc::new);
        let settled = settled_until(now, b.timeframe, b.feed.asset_class());
        let mut answer_ok = answer.as_ref().ok().cloned();
        for symbol in &b.symbols {
            let key = SeriesKey::new(symbol.clone(), b.feed, b.timeframe);
            let Some(p) = pending.get_mut(&key) else {
                continue;
            };
            p.outstanding -= 1;
            match (&answer, answer_ok.as_mut()) {
                (Ok(_), Some(ok)) => {
                    p.update
                        .bars
                        .extend(ok.bars.remove(symbol).unwrap_or_default());
                    if let Some(answered) = Interval::new(b.gap.start, ok.answered_until) {
                        p.update.answered.push(answered);
                    }
                    let ask = p
                        .asks
                        .iter()
                        .find(|a| a.range == b.gap)
                        .copied()
                        .unwrap_or(Ask {
                            range: b.gap,
                            gap: b.gap,
                        });
                    if let Some(covered) = covered_by_answer(ask, ok.answered_until, settled) {
                        p.update.covered.push(covered);
                    }
                }
                (Err(e), _) => p.error = Some(Error::Api(e.clone())),
                (Ok(_), None) => unreachable!("answer_ok mirrors answer"),
            }
            if p.outstanding == 0 {
                let p = pending.remove(&key).expect("present");
                let outcome = finish(store, key, p, now, observer.as_ref()).await?;
                outcomes.insert(outcome.key.clone(), outcome);
            }
        }
    }
    debug_assert!(pending.is_empty());

    // One outcome per target, in the caller's order (a key requested twice reports twice).
    let mut ordered = Vec::with_capacity(targets.len());
    for target in &targets {
        if let Some(outcome) = outcomes.remove(&target.key) {
            ordered.push(outcome);
        }
    }
    Ok(ordered)
}

/// A batch, the failure count shared with its sibling when it comes from a split, and the answer.
type RequestResult = (
    Batch,
    Option<Arc<AtomicUsize>>,
    Result<crate::api::BarsAnswer, api::Error>,
);

fn spawn_request(
    requests: &mut JoinSet<RequestResult>,
    client: &Client,
    semaphore: &Arc<Semaphore>,
    b: Batch,
    siblings: Option<Arc<AtomicUsize>>,
) {
    let (client, semaphore) = (client.clone(), semaphore.clone());
    requests.spawn(async move {
        let _permit = semaphore.acquire_owned().await;
        let request = BarsRequest {
            feed: b.feed,
            timeframe: b.timeframe,
            symbols: b.symbols.clone(),
            start: b.gap.start,
            end: b.gap.end,
        };
        let answer = client.get_bars(&request).await;
        (b, siblings, answer)
    });
}

/// Errors that no split of the symbols can avoid: credentials, and the network itself.
fn affects_every_request(e: &api::Error) -> bool {
    match e {
        api::Error::MissingCredentials
        | api::Error::Unauthorized { .. }
        | api::Error::Transport(_) => true,
        api::Error::GaveUp { last, .. } => {
            affects_every_request(last) || last.status() == Some(429)
        }
        _ => false,
    }
}

/// Commits what a series received (even when part of it failed: what was answered is kept).
async fn finish(
    store: &Store,
    key: SeriesKey,
    p: Pending,
    now: DateTime<Utc>,
    observer: &dyn Observer,
) -> Result<SeriesOutcome, Error> {
    let Pending {
        lock,
        asks,
        closed,
        mut update,
        error,
        ..
    } = p;
    let gaps = asks.iter().map(|a| a.range).collect();
    let status = if update.answered.is_empty() {
        SeriesStatus::Unchanged
    } else {
        // Gaps without a session hold no bar: cover them along with the answers.
        let settled = settled_until(now, key.timeframe, key.asset_class());
        update.covered.extend(
            closed
                .iter()
                .filter_map(|gap| Interval::new(gap.start, gap.end.min(settled))),
        );
        update.bars.sort_by_key(|b| b.timestamp);
        update.bars.dedup_by_key(|b| b.timestamp);
        let (store, commit_key) = (store.clone(), key.clone());
        // The blocking task owns a handle on the lock, so an interrupted run still finishes
        // this write under the lock before the process exits.
        let committed =
            tokio::task::spawn_blocking(move || store.commit(&commit_key, &lock, update, now))
                .await?;
        match committed {
            Ok(summary) => {
                observer.event(Event::Committed {
                    key: &key,
                    bars_added: summary.bars_added,
                });
                if summary.written {
                    SeriesStatus::Updated(summary)
                } else {
                    SeriesStatus::Unchanged
                }
            }
            Err(e) => SeriesStatus::Failed(e.into()),
        }
    };
    let status = match (error, status) {
        (Some(e), _) => SeriesStatus::Failed(e),
        (None, status) => status,
    };
    if let SeriesStatus::Failed(e) = &status {
        observer.event(Event::SeriesFailed {
            key: &key,
            error: e,
        });
    }
    Ok(SeriesOutcome { key, gaps, status })
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

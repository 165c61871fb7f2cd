//! The engine of a gap-filling run: sends the planned requests concurrently within the rate
//! limit, follows each answer page by page, and commits every series as its bars arrive (see
//! the parent module for the promises this keeps).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::plan::{Batch, RunPlan};
use super::{FillOptions, SeriesOutcome, SeriesStatus};
use crate::api::{self, BarsPage, BarsRequest, Client};
use crate::cache::planner::{Ask, settled_until};
use crate::cache::store::{CommitSummary, SeriesUpdate, WriteKind};
use crate::cache::{self, SeriesKey, Store};
use crate::events::{Event, Observer};
use crate::market::bar::sort_keeping_last;
use crate::market::{Bar, Interval, Symbol};
use crate::ops::Error;

/// A symbol still being paged is committed at least every this many bars.
pub const COMMIT_EVERY_BARS: usize = 100_000;

/// Series commits running at once (each holds one lock and one file open).
pub const COMMITS_IN_FLIGHT: usize = 16;

/// Bars being encoded by commits at once, in units of [`BARS_PER_UNIT`]: a commit encodes its
/// bars in memory (a row group), so a few large commits, not sixteen, run together.
const COMMIT_BAR_UNITS: u32 = 150;
const BARS_PER_UNIT: usize = 1_000;

/// Bars received and not yet committed, beyond which no more answers are read until commits
/// catch up: the memory of a run is bounded by this (and a few pages), whatever its size.
const MAX_HELD_BARS: usize = 2 * COMMIT_EVERY_BARS;

/// Runs a planned fill to its end: every request answered, failed or stopped by the
/// interrupt, every answer committed. Returns the outcome of each series that was asked for.
pub(super) async fn run(
    store: &Store,
    client: &Client,
    options: &FillOptions,
    observer: Arc<dyn Observer>,
    plan: RunPlan,
) -> Result<Vec<SeriesOutcome>, Error> {
    let series = plan
        .series
        .into_iter()
        .map(|(key, p)| {
            let state = SeriesState {
                asks: p.asks,
                closed: p.closed,
                outstanding: p.requests,
                ..SeriesState::default()
            };
            (key, state)
        })
        .collect();
    let (tx, rx) = mpsc::channel(8);
    let mut engine = Engine {
        store,
        client,
        options,
        observer,
        series,
        batches: HashMap::new(),
        next_batch: 0,
        tx,
        requests: JoinSet::new(),
        request_slots: Arc::new(Semaphore::new(options.concurrency.max(1))),
        commits: JoinSet::new(),
        commit_slots: Arc::new(Semaphore::new(COMMITS_IN_FLIGHT)),
        commit_bars: Arc::new(Semaphore::new(COMMIT_BAR_UNITS as usize)),
        outcomes: Vec::new(),
        held: 0,
    };
    for b in plan.batches {
        engine.send(b, None);
    }
    engine.run(rx).await?;
    Ok(engine.outcomes)
}

/// Where one series stands during a run.
#[derive(Debug, Default)]
struct SeriesState {
    /// What is asked for each missing range (see [`Ask`]).
    asks: Vec<Ask>,
    /// Missing but holding no session: covered (up to the settled bound) with the first
    /// commit of the series.
    closed: Vec<Interval>,
    /// Requests carrying this series that have not finished with it.
    outstanding: usize,
    /// A commit of this series is running (commits of one series never overlap).
    committing: bool,
    /// Answers waiting for the running commit to finish.
    queued: Option<SeriesUpdate>,
    /// The effect of every commit so far.
    committed: CommitSummary,
    error: Option<Error>,
    interrupted: bool,
}

/// Where one symbol of a request stands.
#[derive(Debug)]
struct SymbolProgress {
    /// Everything before this instant is committed (or queued for a commit). Starts at the
    /// start of the missing range, which may lie before the request's (no session there).
    cursor: DateTime<Utc>,
    /// The end of the missing range: covered when the answer reaches the request's end.
    gap_end: DateTime<Utc>,
    /// Bars received and not yet committed, in time order.
    bars: Vec<Bar>,
    /// A later symbol (or the end of the answer) was seen: nothing more will come.
    done: bool,
    /// Any bar of this symbol arrived in this request.
    received: bool,
}

/// One request in flight.
struct BatchState {
    batch: Batch,
    /// The failure count shared with its sibling when it comes from a split.
    siblings: Option<Arc<AtomicUsize>>,
    symbols: BTreeMap<Symbol, SymbolProgress>,
    /// How far the request reaches (its end, or earlier when the plan forced it).
    answered_until: DateTime<Utc>,
    /// The answer held bars under keys nobody asked for (`BTCUSD` for `BTC/USD`).
    unrequested_keys: bool,
}

enum Message {
    Page {
        id: usize,
        page: BarsPage,
    },
    Done {
        id: usize,
        result: Result<(), api::Error>,
    },
}

/// A finished commit: its series, how many bars it carried, and its result.
type CommitResult = (SeriesKey, usize, Result<CommitSummary, cache::Error>);

struct Engine<'a> {
    store: &'a Store,
    client: &'a Client,
    options: &'a FillOptions,
    observer: Arc<dyn Observer>,
    series: HashMap<SeriesKey, SeriesState>,
    batches: HashMap<usize, BatchState>,
    next_batch: usize,
    tx: mpsc::Sender<Message>,
    requests: JoinSet<()>,
    request_slots: Arc<Semaphore>,
    commits: JoinSet<CommitResult>,
    commit_slots: Arc<Semaphore>,
    /// [`COMMIT_BAR_UNITS`]: the bars being committed at once.
    commit_bars: Arc<Semaphore>,
    outcomes: Vec<SeriesOutcome>,
    /// Bars received and not yet committed (buffered, queued or being committed).
    held: usize,
}

impl Engine<'_> {
    /// Sends one request; its pages and its end arrive as [`Message`]s.
    fn send(&mut self, batch: Batch, siblings: Option<Arc<AtomicUsize>>) {
        self.send_from(batch, siblings, BTreeMap::new());
    }

    fn send_from(
        &mut self,
        batch: Batch,
        siblings: Option<Arc<AtomicUsize>>,
        mut cursors: BTreeMap<Symbol, DateTime<Utc>>,
    ) {
        let id = self.next_batch;
        self.next_batch += 1;
        let symbols = batch
            .symbols
            .iter()
            .map(|s| {
                let key = SeriesKey::new(s.clone(), batch.feed, batch.timeframe);
                let gap = self
                    .series
                    .get(&key)
                    .and_then(|state| state.asks.iter().find(|a| a.range == batch.gap))
                    .map_or(batch.gap, |ask| ask.gap);
                let cursor = cursors.remove(s).unwrap_or(gap.start);
                (
                    s.clone(),
                    SymbolProgress {
                        cursor,
                        gap_end: gap.end,
                        bars: Vec::new(),
                        done: false,
                        received: false,
                    },
                )
            })
            .collect();
        let request = BarsRequest {
            feed: batch.feed,
            timeframe: batch.timeframe,
            symbols: batch.symbols.clone(),
            start: batch.gap.start,
            end: batch.gap.end,
        };
        self.batches.insert(
            id,
            BatchState {
                answered_until: batch.gap.end,
                unrequested_keys: false,
                batch,
                siblings,
                symbols,
            },
        );
        let (client, slots, tx) = (
            self.client.clone(),
            self.request_slots.clone(),
            self.tx.clone(),
        );
        self.requests.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let mut pages = client.bars_pages(&request);
            let result = loop {
                match pages.next().await {
                    Ok(Some(page)) => {
                        if tx.send(Message::Page { id, page }).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            let _ = tx.send(Message::Done { id, result }).await;
        });
    }

    /// Handles answers and finished commits until every request and commit is done, or a
    /// signal stops the requests (then commits what was answered, and waits for that).
    async fn run(&mut self, mut rx: mpsc::Receiver<Message>) -> Result<(), Error> {
        let interrupt = self.options.interrupt.clone();
        let mut stopped = false;
        self.finish_idle_series();
        while !self.batches.is_empty() || !self.commits.is_empty() {
            let mut full = self.held >= MAX_HELD_BARS;
            if full && self.commits.is_empty() {
                // Nothing is being committed, yet too much is held: commit what the open
                // symbols received so far, so the answers can flow again.
                let ids: Vec<usize> = self.batches.keys().copied().collect();
                for id in ids {
                    self.commit_open_symbols(id);
                }
                // Reading pauses only while commits run (they are what frees memory).
                full = !self.commits.is_empty();
            }
            tokio::select! {
                biased;
                _ = interrupt.wait(), if !stopped => {
                    stopped = true;
                    self.requests.abort_all();
                    self.stop_every_batch();
                }
                Some(joined) = self.commits.join_next() => {
                    let (key, bars, result) = joined?;
                    self.held = self.held.saturating_sub(bars);
                    self.committed(key, result);
                }
                Some(message) = rx.recv(), if !stopped && !full => match message {
                    Message::Page { id, page } => self.page(id, page),
                    Message::Done { id, result: Ok(()) } => self.request_done(id),
                    Message::Done { id, result: Err(e) } => self.request_failed(id, e),
                },
            }
            self.finish_idle_series();
        }
        Ok(())
    }

    /// Takes in one page: symbols before the first one on it are complete; bars are buffered
    /// and committed every [`COMMIT_EVERY_BARS`].
    fn page(&mut self, id: usize, page: BarsPage) {
        let Some(b) = self.batches.get_mut(&id) else {
            return;
        };
        b.answered_until = page.answered_until;
        b.unrequested_keys |= !page.unrequested_keys.is_empty();
        self.held += page
            .bars
            .iter()
            .filter(|(symbol, _)| b.symbols.contains_key(symbol))
            .map(|(_, bars)| bars.len())
            .sum::<usize>();
        let mut flushes = Vec::new();
        for (symbol, bars) in page.bars {
            complete_before(b, Some(&symbol), &mut flushes);
            let Some(progress) = b.symbols.get_mut(&symbol) else {
                continue;
            };
            if progress.done {
                // Out of Alpaca's documented order: keep the bars, claim no coverage.
                flushes.push((symbol, Flush::Bars(bars)));
                continue;
            }
            progress.received |= !bars.is_empty();
            progress.bars.extend(bars);
            if progress.bars.len() >= COMMIT_EVERY_BARS {
                flushes.push((symbol, Flush::Partial));
            }
        }
        self.apply(id, flushes);
    }

    /// The request ended normally: every symbol is complete.
    fn request_done(&mut self, id: usize) {
        let Some(b) = self.batches.get_mut(&id) else {
            return;
        };
        let mut flushes = Vec::new();
        complete_before(b, None, &mut flushes);
        self.apply(id, flushes);
        self.batches.remove(&id);
    }

    /// The request failed: what it received is committed. A failure one symbol can cause (a
    /// 400 for a symbol Alpaca rejects, a server error tied to one symbol) splits the symbols
    /// still open in halves, asked again, so the failure ends up naming only its symbols.
    /// When both halves of a split fail, the failure is not about symbols: splitting stops.
    fn request_failed(&mut self, id: usize, error: api::Error) {
        if !self.batches.contains_key(&id) {
            return;
        }
        let open = self.commit_open_symbols(id);
        let b = self.batches.remove(&id).expect("present");
        let both_halves_failed = b
            .siblings
            .as_ref()
            .is_some_and(|failed| failed.fetch_add(1, Ordering::SeqCst) >= 1);
        if open.len() > 1 && !both_halves_failed && !affects_every_request(&error) {
            let failed_halves = Arc::new(AtomicUsize::new(0));
            let (left, right) = open.split_at(open.len() / 2);
            for half in [left, right] {
                let cursors = half
                    .iter()
                    .map(|s| (s.clone(), b.symbols[s].cursor))
                    .collect();
                let batch = Batch {
                    symbols: half.to_vec(),
                    ..b.batch.clone()
                };
                self.send_from(batch, Some(failed_halves.clone()), cursors);
            }
            return;
        }
        let error = Arc::new(error);
        for symbol in open {
            let key = SeriesKey::new(symbol, b.batch.feed, b.batch.timeframe);
            if let Some(s) = self.series.get_mut(&key) {
                s.outstanding -= 1;
                s.error.get_or_insert_with(|| Error::Api(error.clone()));
            }
        }
    }

    /// Commits what the symbols of a request still being paged received so far (up to their
    /// last bar), and returns those symbols.
    fn commit_open_symbols(&mut self, id: usize) -> Vec<Symbol> {
        let open: Vec<Symbol> = self.batches[&id]
            .symbols
            .iter()
            .filter(|(_, p)| !p.done)
            .map(|(s, _)| s.clone())
            .collect();
        let flushes = open.iter().map(|s| (s.clone(), Flush::Partial)).collect();
        self.apply(id, flushes);
        open
    }

    /// A signal: every open symbol commits what it received, and no request goes on.
    fn stop_every_batch(&mut self) {
        let ids: Vec<usize> = self.batches.keys().copied().collect();
        for id in ids {
            let b = &self.batches[&id];
            let (feed, timeframe) = (b.batch.feed, b.batch.timeframe);
            let open = self.commit_open_symbols(id);
            for symbol in open {
                let key = SeriesKey::new(symbol, feed, timeframe);
                if let Some(s) = self.series.get_mut(&key) {
                    s.outstanding -= 1;
                    s.interrupted = true;
                }
            }
        }
        self.batches.clear();
    }

    /// Turns the flushes of one request into updates, and commits them.
    fn apply(&mut self, id: usize, flushes: Vec<(Symbol, Flush)>) {
        let now = self.options.now;
        let Some(b) = self.batches.get_mut(&id) else {
            return;
        };
        let (feed, timeframe) = (b.batch.feed, b.batch.timeframe);
        let settled = settled_until(now, timeframe, feed.asset_class());
        let (answered_until, unrequested_keys) = (b.answered_until, b.unrequested_keys);
        let mut updates = Vec::new();
        for (symbol, flush) in flushes {
            let key = SeriesKey::new(symbol.clone(), feed, timeframe);
            let complete = matches!(flush, Flush::Complete);
            let update = match flush {
                Flush::Bars(bars) => SeriesUpdate {
                    bars,
                    ..SeriesUpdate::default()
                },
                Flush::Complete | Flush::Partial => {
                    let Some(progress) = b.symbols.get_mut(&symbol) else {
                        continue;
                    };
                    // Pages may repeat a bar (one stitched at an inclusive end, say): the
                    // later copy wins, and `until` below is the latest bar received.
                    let mut bars = std::mem::take(&mut progress.bars);
                    self.held = self.held.saturating_sub(sort_keeping_last(&mut bars));
                    let until = match flush {
                        // An answer holding bars under keys that were not asked for and none
                        // for this symbol says nothing about it: nothing is marked as
                        // fetched, so the next run asks again (the client warned).
                        Flush::Complete if unrequested_keys && !progress.received => {
                            updates.push((key, SeriesUpdate::default(), true));
                            continue;
                        }
                        // Reaching the request's end answers the whole missing range (what
                        // the calendar trimmed off holds no session).
                        Flush::Complete if answered_until >= b.batch.gap.end => {
                            progress.gap_end.max(answered_until)
                        }
                        Flush::Complete => answered_until,
                        // Every bar up to the last one received is known.
                        _ => match bars.last() {
                            Some(last) => last.timestamp + TimeDelta::nanoseconds(1),
                            None => continue,
                        },
                    };
                    let from = progress.cursor;
                    progress.cursor = progress.cursor.max(until);
                    SeriesUpdate {
                        bars,
                        answered: Interval::new(from, until).into_iter().collect(),
                        covered: Interval::new(from, until.min(settled))
                            .into_iter()
                            .collect(),
                        closing: None,
                        withdrawn: Vec::new(),
                        renamed_from: None,
                    }
                }
            };
            updates.push((key, update, complete));
        }
        for (key, mut update, complete) in updates {
            let Some(state) = self.series.get_mut(&key) else {
                continue;
            };
            if complete {
                state.outstanding -= 1;
            }
            if update.bars.is_empty() && update.answered.is_empty() {
                continue;
            }
            // Gaps without a session hold no bar: covered along with the first answer.
            update.covered.extend(
                state
                    .closed
                    .drain(..)
                    .filter_map(|gap| Interval::new(gap.start, gap.end.min(settled))),
            );
            match &mut state.queued {
                _ if !state.committing => {
                    state.committing = true;
                    self.commit(key, update);
                }
                Some(queued) => {
                    let dropped = absorb(queued, update);
                    self.held = self.held.saturating_sub(dropped);
                }
                None => state.queued = Some(update),
            }
        }
    }

    /// Commits one update on a blocking thread, under the series lock, once a commit slot
    /// (and room for its bars) is free.
    fn commit(&mut self, key: SeriesKey, update: SeriesUpdate) {
        let (store, slots) = (self.store.clone(), self.commit_slots.clone());
        let budget = self.commit_bars.clone();
        let (now, wait) = (self.options.now, self.options.wait_for_locks);
        let bars = update.bars.len();
        let units = u32::try_from(bars.div_ceil(BARS_PER_UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, COMMIT_BAR_UNITS);
        self.commits.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let _room = budget.acquire_many_owned(units).await;
            let task_key = key.clone();
            // The blocking task owns everything it needs, so a run stopped by a signal still
            // finishes this write under the lock before the process exits.
            let result = crate::blocking_tasks::spawn(move || {
                let lock = store.lock(&task_key, wait)?;
                store.commit(&task_key, &lock, update, now)
            })
            .await
            .unwrap_or_else(|e| Err(cache::Error::Io(std::io::Error::other(e.to_string()))));
            (key, bars, result)
        });
    }

    /// A commit finished: count it, and start the next one of the series if answers queued.
    fn committed(&mut self, key: SeriesKey, result: Result<CommitSummary, cache::Error>) {
        let Some(state) = self.series.get_mut(&key) else {
            return;
        };
        state.committing = false;
        match result {
            Ok(summary) => {
                self.observer.event(Event::Committed {
                    key: &key,
                    bars_added: summary.bars_added,
                });
                add(&mut state.committed, &summary);
            }
            Err(e) => {
                state.error.get_or_insert(e.into());
            }
        }
        if let Some(next) = state.queued.take() {
            state.committing = true;
            self.commit(key, next);
        }
    }

    /// Reports every series with no request open and nothing left to commit.
    fn finish_idle_series(&mut self) {
        let idle: Vec<SeriesKey> = self
            .series
            .iter()
            .filter(|(_, s)| s.outstanding == 0 && !s.committing && s.queued.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for key in idle {
            let state = self.series.remove(&key).expect("present");
            let status = match (state.error, state.interrupted) {
                (Some(e), _) => SeriesStatus::Failed(e),
                (None, true) => SeriesStatus::Interrupted(state.committed),
                (None, false) if state.committed.written => SeriesStatus::Updated(state.committed),
                (None, false) => SeriesStatus::Unchanged,
            };
            if let SeriesStatus::Failed(e) = &status {
                self.observer.event(Event::SeriesFailed {
                    key: &key,
                    error: e,
                });
            }
            self.outcomes.push(SeriesOutcome {
                key,
                gaps: state.asks.iter().map(|a| a.range).collect(),
                status,
            });
        }
    }
}

/// What to commit of one symbol of a request.
enum Flush {
    /// Nothing more will come: everything up to the request's end is answered.
    Complete,
    /// Everything up to the last bar received is answered; more may come.
    Partial,
    /// Bars that arrived out of order, after their symbol was complete: stored, no coverage.
    Bars(Vec<Bar>),
}

/// Marks every open symbol before `symbol` (all of them with `None`) complete.
fn complete_before(
    b: &mut BatchState,
    symbol: Option<&Symbol>,
    flushes: &mut Vec<(Symbol, Flush)>,
) {
    for (s, progress) in &mut b.symbols {
        if symbol.is_some_and(|symbol| s >= symbol) {
            break;
        }
        if !progress.done {
            progress.done = true;
            flushes.push((s.clone(), Flush::Complete));
        }
    }
}

/// Adds a later update of the same series to one waiting to be committed. A later copy of
/// a bar wins. Returns how many earlier copies were dropped.
fn absorb(into: &mut SeriesUpdate, later: SeriesUpdate) -> usize {
    into.bars.extend(later.bars);
    let dropped = sort_keeping_last(&mut into.bars);
    into.answered.extend(later.answered);
    into.covered.extend(later.covered);
    dropped
}

/// Sums the effects of two commits of one series.
fn add(total: &mut CommitSummary, next: &CommitSummary) {
    total.bars_added += next.bars_added;
    total.bars_replaced += next.bars_replaced;
    total.rows = next.rows;
    total.written |= next.written;
    total.compacted |= next.compacted;
    if next.write != WriteKind::None {
        total.write = match (total.write, next.write) {
            (WriteKind::Rewrite, _) | (_, WriteKind::Rewrite) => WriteKind::Rewrite,
            _ => WriteKind::InPlace,
        };
    }
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

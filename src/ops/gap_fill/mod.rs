//! Filling the gaps of many series at once, shared by `fetch` and `update`: the planner
//! (`plan`) reads every series' coverage and groups what is missing into as few requests as
//! Alpaca allows; the engine (`engine`) sends them and commits the answers as they arrive.
//! This module holds what both speak of: the targets, the options and the outcomes.
//!
//! - **Commits follow the answer.** A multi-symbol answer is sorted by symbol, then time, so a
//!   symbol is complete as soon as a page moves past it: its bars are committed then, not when
//!   the whole request ends. Within one symbol, bars are committed at least every
//!   [`COMMIT_EVERY_BARS`] bars, covering up to the last bar received (exact, because a
//!   symbol's bars arrive in time order). Memory therefore holds the bars in flight, not a
//!   whole backfill.
//! - **A failure or a signal keeps every finished piece.** A failed request commits what it
//!   received before failing; Ctrl-C or SIGTERM ([`Interrupt`]) stops the requests, commits
//!   everything answered so far and reports those series as interrupted. A later run asks only
//!   for the rest.
//! - **Bounded file handles.** A series is locked only while it is committed (planning reads
//!   footers without a lock; merges are idempotent), and at most [`COMMITS_IN_FLIGHT`]
//!   commits run at once on blocking threads, so their fsyncs overlap and the number of open
//!   files does not grow with the number of series. Two concurrent runs never lose or
//!   duplicate a bar (every commit merges into the latest stored version under the lock), but
//!   they may both ask Alpaca for the same missing range.

mod engine;
mod plan;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use engine::{COMMIT_EVERY_BARS, COMMITS_IN_FLIGHT};
pub use plan::{Batch, batch, plan, plan_concurrently, plan_stored};

use super::Error;
use crate::api::Client;
use crate::cache::store::CommitSummary;
use crate::cache::{SeriesKey, Store};
use crate::events::Observer;
use crate::interrupt::Interrupt;
use crate::market::Interval;

/// One series and the range the caller needs it to cover.
#[derive(Debug, Clone)]
pub struct FillTarget {
    pub key: SeriesKey,
    pub range: Interval,
}

#[derive(Debug, Clone)]
pub struct FillOptions {
    pub now: DateTime<Utc>,
    /// Wait for other processes' locks (else fail those series at once).
    pub wait_for_locks: bool,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Stops the run early, keeping what was answered.
    pub interrupt: Interrupt,
}

/// What happened to one series.
#[derive(Debug)]
pub enum SeriesStatus {
    /// Nothing was missing, or Alpaca had nothing new.
    Unchanged,
    Updated(CommitSummary),
    Failed(Error),
    /// A signal stopped the run; what was answered before it is committed (`committed`).
    Interrupted(CommitSummary),
}

#[derive(Debug)]
pub struct SeriesOutcome {
    pub key: SeriesKey,
    /// The gaps that were asked for.
    pub gaps: Vec<Interval>,
    pub status: SeriesStatus,
}

impl SeriesOutcome {
    /// Takes in a second fill of the same series in the same run (history asked again after a
    /// rename): its gaps, and a status that sums both commits (a failure or an interruption
    /// in either is the series').
    pub fn absorb(&mut self, later: SeriesOutcome) {
        use SeriesStatus::{Failed, Interrupted, Unchanged, Updated};
        self.gaps.extend(later.gaps);
        let sum = |a: CommitSummary, b: CommitSummary| CommitSummary {
            bars_added: a.bars_added + b.bars_added,
            bars_replaced: a.bars_replaced + b.bars_replaced,
            ..b
        };
        let earlier = std::mem::replace(&mut self.status, Unchanged);
        self.status = match (earlier, later.status) {
            (Failed(e), _) | (_, Failed(e)) => Failed(e),
            (Unchanged, Unchanged) => Unchanged,
            (Unchanged, Updated(b)) | (Updated(b), Unchanged) => Updated(b),
            (Unchanged, Interrupted(b)) | (Interrupted(b), Unchanged) => Interrupted(b),
            (Updated(a), Updated(b)) => Updated(sum(a, b)),
            (Updated(a) | Interrupted(a), Interrupted(b)) | (Interrupted(a), Updated(b)) => {
                Interrupted(sum(a, b))
            }
        };
    }
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
    let mut plan = plan::plan_run(store, &targets, options.now, observer.as_ref()).await;
    let mut outcomes = std::mem::take(&mut plan.settled);
    for outcome in engine::run(store, client, &options, observer, plan).await? {
        outcomes.insert(outcome.key.clone(), outcome);
    }
    // One outcome per target, in the caller's order (a key requested twice reports once).
    let mut ordered = Vec::with_capacity(targets.len());
    for target in &targets {
        if let Some(outcome) = outcomes.remove(&target.key) {
            ordered.push(outcome);
        }
    }
    Ok(ordered)
}

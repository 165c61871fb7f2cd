//! What every backend does the same way when it commits: merging an answer from Alpaca into
//! the stored bars and coverage, and checking that a file is the series it is named after.
//! Backends differ only in how they read and write bytes; this logic lives here once.

use std::borrow::Cow;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::Error;
use super::backend::{CommitSummary, SeriesUpdate};
use super::layout::SeriesKey;
use crate::market::bar::sort_keeping_last;
use crate::market::{Bar, IntervalSet};
use crate::parquet_files::{self, SeriesMetadata};

/// The metadata of a series that holds nothing yet.
pub(crate) fn empty_metadata(key: &SeriesKey, now: DateTime<Utc>) -> SeriesMetadata {
    SeriesMetadata {
        symbol: key.symbol.clone(),
        feed: key.feed,
        timeframe: key.timeframe,
        coverage: IntervalSet::new(),
        provisional: IntervalSet::new(),
        updated_at: now,
        closed: None,
        renamed_from: None,
    }
}

/// A file whose metadata names another series was copied or renamed by hand: never serve it.
pub(crate) fn check_identity(
    location: &Path,
    key: &SeriesKey,
    metadata: &SeriesMetadata,
) -> Result<(), Error> {
    if metadata.symbol == key.symbol
        && metadata.feed == key.feed
        && metadata.timeframe == key.timeframe
    {
        Ok(())
    } else {
        let found = SeriesKey::new(metadata.symbol.clone(), metadata.feed, metadata.timeframe);
        Err(Error::damaged(
            location,
            key,
            parquet_files::Error::Metadata(format!("the file holds {found}")),
        ))
    }
}

/// Merges `update` into `old` bars (all of them, or the tail the update can change) and the
/// coverage; `None` when nothing changes. Fills the counts of `summary` (its `rows` counts
/// the merged bars). The update's bars may come in any order and repeat a timestamp (a bar
/// repeated at a page boundary): they are sorted first, and the later copy wins.
pub(crate) fn merge_update(
    key: &SeriesKey,
    old_metadata: &SeriesMetadata,
    old: &[Bar],
    mut update: SeriesUpdate,
    now: DateTime<Utc>,
    summary: &mut CommitSummary,
) -> Option<(SeriesMetadata, Vec<Bar>)> {
    sort_keeping_last(&mut update.bars);
    let answered = IntervalSet::from_intervals(update.answered.iter().copied());
    // A withdrawn span loses its bars and its coverage first, as if never asked.
    let withdrawn = IntervalSet::from_intervals(update.withdrawn.iter().copied());
    let kept: Cow<'_, [Bar]> = if withdrawn.is_empty() {
        Cow::Borrowed(old)
    } else {
        let kept = old.iter().filter(|b| !withdrawn.contains(b.timestamp));
        Cow::Owned(kept.copied().collect())
    };
    let (bars, counts) = merge(&kept, update.bars, &answered);
    *summary = counts;
    summary.rows = bars.len() as u64;
    let mut coverage = old_metadata.coverage.difference(&withdrawn);
    for interval in update.covered {
        coverage.insert(interval);
    }
    // Answered but unsettled ranges stay provisional until a later answer settles them.
    let mut provisional = old_metadata.provisional.difference(&withdrawn);
    provisional.insert_all(&answered);
    let provisional = provisional.difference(&coverage);
    let removed = old.len() as u64 + summary.bars_added != summary.rows;
    let mut closed = update.closing.or_else(|| old_metadata.closed.clone());
    // A ticker taken over by a rename after it closed is in use again.
    if let Some(renaming) = &update.renamed_from
        && closed.as_ref().is_some_and(|c| c.date <= renaming.date)
    {
        closed = None;
    }
    let renamed_from = update
        .renamed_from
        .or_else(|| old_metadata.renamed_from.clone());
    if summary.bars_added == 0
        && summary.bars_replaced == 0
        && !removed
        && coverage == old_metadata.coverage
        && provisional == old_metadata.provisional
        && closed == old_metadata.closed
        && renamed_from == old_metadata.renamed_from
    {
        return None;
    }
    let metadata = SeriesMetadata {
        symbol: key.symbol.clone(),
        feed: key.feed,
        timeframe: key.timeframe,
        coverage,
        provisional,
        updated_at: now,
        closed,
        renamed_from,
    };
    Some((metadata, bars))
}

/// Stored bars outside `answered`, plus the new bars (in time order, one per timestamp);
/// counts what changed.
fn merge(old: &[Bar], new: Vec<Bar>, answered: &IntervalSet) -> (Vec<Bar>, CommitSummary) {
    let mut summary = CommitSummary::default();
    let mut merged = Vec::with_capacity(old.len() + new.len());
    let mut old_iter = old.iter().peekable();
    for bar in new {
        while let Some(o) = old_iter.next_if(|o| o.timestamp < bar.timestamp) {
            if !answered.contains(o.timestamp) {
                merged.push(*o);
            }
        }
        match old_iter.next_if(|o| o.timestamp == bar.timestamp) {
            Some(o) if *o != bar => summary.bars_replaced += 1,
            Some(_) => {}
            None => summary.bars_added += 1,
        }
        merged.push(bar);
    }
    merged.extend(
        old_iter
            .filter(|o| !answered.contains(o.timestamp))
            .copied(),
    );
    (merged, summary)
}

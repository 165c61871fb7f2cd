//! `prune`: retention. Removes whole series, or drops the bars (and the matching coverage,
//! so a later fetch asks Alpaca again) before a cutoff, or empties the cache. Removing the
//! last series of a stock symbol removes its corporate-actions ledger too. Every change goes
//! through the file's lock and an atomic replace; temp files left by interrupted writes, and
//! rollback journals whose series file is gone, are removed on the way. Removing a series
//! removes whatever stands at its path (a link itself, never its target; a directory), its
//! journal and its temp files. With `dry_run`, only reports what it would do.

use chrono::{DateTime, Utc};

use super::Error;
use super::selection::SeriesFilter;
use crate::cache::store::{Compaction, Recovered};
use crate::cache::{SeriesKey, Store};
use crate::cache::{ledger, ledger_index};
use crate::market::{AssetClass, NEW_YORK, Symbol, When};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneAction {
    /// Remove the selected series entirely.
    Remove,
    /// Rewrite the selected series into large row groups (what automatic compaction does
    /// after many small appends), now.
    Compact,
    /// Drop bars and coverage before this point from the selected series (a calendar day
    /// is a New York day for stocks, a UTC day for crypto).
    Before(When),
}

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub filter: SeriesFilter,
    pub action: PruneAction,
    pub dry_run: bool,
    pub wait_for_locks: bool,
    /// Recorded as the time a trimmed series was last updated.
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PruneEffect {
    /// The series file is (or would be) gone.
    Removed,
    /// Older bars are (or would be) dropped; the series stays.
    Trimmed,
    /// Rewritten into large row groups (or would be); no bar changes.
    Compacted,
}

/// What happened (or would happen) to one series.
#[derive(Debug)]
pub struct PrunedSeries {
    pub key: SeriesKey,
    pub effect: PruneEffect,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
pub struct PruneReport {
    pub series: Vec<PrunedSeries>,
    /// Series that matched but could not be pruned (e.g. a damaged file with `Before`).
    pub failed: Vec<(SeriesKey, Error)>,
    pub temp_files: usize,
    /// Bytes of the leftover temp files and orphan journals.
    pub temp_bytes: u64,
    /// Rollback journals whose series file is gone, removed (or to remove).
    pub orphan_journals: usize,
    /// Stock symbols whose corporate-actions ledger is (or would be) removed, because no
    /// series of theirs remains.
    pub ledgers: Vec<Symbol>,
    /// Series selected (changed or not).
    pub matched: usize,
}

/// What was (or would be) freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PruneTotals {
    pub removed: usize,
    pub trimmed: usize,
    pub rows: u64,
    /// Series bytes, and the bytes of leftover temp files.
    pub bytes: u64,
}

impl PruneReport {
    pub fn totals(&self) -> PruneTotals {
        let mut totals = PruneTotals {
            bytes: self.temp_bytes,
            ..PruneTotals::default()
        };
        for series in &self.series {
            match series.effect {
                PruneEffect::Removed => totals.removed += 1,
                PruneEffect::Trimmed => totals.trimmed += 1,
                PruneEffect::Compacted => {}
            }
            totals.rows += series.rows;
            totals.bytes += series.bytes;
        }
        totals
    }

    /// No series, ledger, temp file or journal was (or would be) touched.
    pub fn nothing_done(&self) -> bool {
        self.series.is_empty()
            && self.temp_files == 0
            && self.orphan_journals == 0
            && self.ledgers.is_empty()
    }
}

/// Prunes the series `options.filter` selects.
pub fn prune(store: &Store, options: &PruneOptions) -> Result<PruneReport, Error> {
    let keys = options.filter.select(store)?;
    let mut report = PruneReport {
        matched: keys.len(),
        ..PruneReport::default()
    };
    // Leftovers first: sweeping them takes series locks, which removing a series then deletes.
    for temp in store.leftovers()? {
        // A temp file of a series being written right now belongs to that writer: take the
        // series lock first, so only leftovers of finished (crashed) writes go.
        let lock = match &temp.key {
            Some(key) if !options.dry_run => match store.lock(key, options.wait_for_locks) {
                Ok(lock) => Some(lock),
                Err(_) => continue,
            },
            _ => None,
        };
        if !options.dry_run && !store.remove_leftover(&temp)? {
            continue;
        }
        // A leftover of a series that no longer exists: its lock file goes too.
        if let (Some(lock), Some(key)) = (lock, &temp.key)
            && store.size(key)?.is_none()
        {
            store.remove_lock(lock)?;
        }
        report.temp_files += 1;
        report.temp_bytes += temp.bytes;
    }
    for journal in store.orphan_journals()? {
        // Only journals of barkeep's own series paths (a journal is only ever written there).
        let Some(key) = &journal.key else {
            continue;
        };
        if !options.dry_run {
            let Ok(lock) = store.lock(key, options.wait_for_locks) else {
                continue;
            };
            // Under the lock, recovery discards a journal whose series file is still gone.
            if !matches!(store.recover(key)?, Recovered::Discarded { .. }) {
                continue;
            }
            if store.size(key)?.is_none() {
                store.remove_lock(lock)?;
            }
        }
        report.orphan_journals += 1;
        report.temp_bytes += journal.bytes;
    }
    for key in keys {
        match prune_series(store, &key, options) {
            Ok(Some(pruned)) => report.series.push(pruned),
            Ok(None) => {}
            Err(e) => report.failed.push((key, e)),
        }
    }
    if options.action == PruneAction::Remove {
        report.ledgers = prune_ledgers(store, options, &report)?;
    }
    if !options.dry_run {
        store.tidy();
    }
    Ok(report)
}

/// Removes the ledgers of the selected stock symbols that have no series left (in a dry run:
/// would have none left after the removals reported).
fn prune_ledgers(
    store: &Store,
    options: &PruneOptions,
    report: &PruneReport,
) -> Result<Vec<Symbol>, Error> {
    let removed: Vec<&SeriesKey> = report
        .series
        .iter()
        .filter(|s| s.effect == PruneEffect::Removed)
        .map(|s| &s.key)
        .collect();
    let remaining: Vec<SeriesKey> = store
        .list()?
        .into_iter()
        .filter(|k| !(options.dry_run && removed.contains(&k)))
        .collect();
    let mut gone = Vec::new();
    for symbol in ledger::list(store)? {
        let selected =
            options.filter.symbols.is_empty() || options.filter.symbols.contains(&symbol);
        if !selected || remaining.iter().any(|k| k.symbol == symbol) {
            continue;
        }
        if !options.dry_run {
            let lock = ledger::lock(store, &symbol, options.wait_for_locks)?;
            ledger::remove(store, &symbol, lock)?;
        }
        gone.push(symbol);
    }
    if !options.dry_run {
        // Their checks go too (the index tolerates an entry without a ledger, but keeps none).
        ledger_index::retain(store, &ledger::list(store)?)?;
    }
    Ok(gone)
}

fn prune_series(
    store: &Store,
    key: &SeriesKey,
    options: &PruneOptions,
) -> Result<Option<PrunedSeries>, Error> {
    let lock = if options.dry_run {
        None
    } else {
        Some(store.lock(key, options.wait_for_locks)?)
    };
    let bytes = store.size(key)?.unwrap_or(0);
    match options.action {
        PruneAction::Remove => {
            // A damaged file, a link or a directory can still be removed; its row count is
            // then unknown (0).
            let rows = store.read_summary(key).ok().flatten().map_or(0, |s| s.rows);
            if let Some(lock) = lock {
                store.remove(key, lock)?;
            }
            Ok(Some(PrunedSeries {
                key: key.clone(),
                effect: PruneEffect::Removed,
                rows,
                bytes,
            }))
        }
        PruneAction::Compact => {
            let Some(summary) = store.read_summary(key)? else {
                return Ok(None);
            };
            let Some(lock) = lock else {
                // Dry run: compaction frees the dead bytes and footers of small row groups;
                // how much is known only after the rewrite.
                return Ok(Some(PrunedSeries {
                    key: key.clone(),
                    effect: PruneEffect::Compacted,
                    rows: 0,
                    bytes: 0,
                }));
            };
            let _ = summary;
            match store.compact(key, &lock, true)? {
                Compaction::Compacted {
                    bytes_before,
                    bytes_after,
                    ..
                } => Ok(Some(PrunedSeries {
                    key: key.clone(),
                    effect: PruneEffect::Compacted,
                    rows: 0,
                    bytes: bytes_before.saturating_sub(bytes_after),
                })),
                Compaction::Missing | Compaction::NotNeeded => Ok(None),
            }
        }
        PruneAction::Before(when) => {
            let cutoff = match key.asset_class() {
                AssetClass::Stocks => when.resolve_start(options.now, &NEW_YORK),
                AssetClass::Crypto => when.resolve_start(options.now, &Utc),
            };
            let Some(stored) = store.read_bars(key, None)? else {
                return Ok(None);
            };
            let kept: Vec<_> = stored
                .bars
                .iter()
                .filter(|b| b.timestamp >= cutoff)
                .copied()
                .collect();
            let rows = (stored.bars.len() - kept.len()) as u64;
            let mut metadata = stored.metadata.clone();
            metadata.coverage.remove_before(cutoff);
            metadata.provisional.remove_before(cutoff);
            metadata.updated_at = options.now;
            if rows == 0 && metadata.coverage == stored.metadata.coverage {
                return Ok(None);
            }
            if kept.is_empty() && metadata.coverage.is_empty() && metadata.provisional.is_empty() {
                if let Some(lock) = lock {
                    store.remove(key, lock)?;
                }
                return Ok(Some(PrunedSeries {
                    key: key.clone(),
                    effect: PruneEffect::Removed,
                    rows,
                    bytes,
                }));
            }
            let freed = if let Some(_lock) = &lock {
                store.replace(key, &metadata, &kept)?;
                bytes.saturating_sub(store.size(key)?.unwrap_or(0))
            } else {
                // Dry run: estimate the bytes freed from the share of rows dropped.
                let total = stored.bars.len().max(1) as u64;
                bytes * rows / total
            };
            Ok(Some(PrunedSeries {
                key: key.clone(),
                effect: PruneEffect::Trimmed,
                rows,
                bytes: freed,
            }))
        }
    }
}

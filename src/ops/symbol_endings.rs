//! What the corporate actions that end or move a ticker do to cached stock series (issue 23),
//! decided from the symbols' ledgers after a refresh:
//!
//! - a series whose ticker ended (a `name_change` with it as the old symbol, a
//!   `worthless_removal`, the acquiree of a cash, stock or stock-and-cash merger) is closed at
//!   that date: its footer records when and why, with the successor when there is one, and
//!   nothing at or after the end is asked again;
//! - a series whose ticker another company took over by a `name_change` (it is the new symbol)
//!   is restated: Alpaca now serves that company's history under the ticker (its `asof`
//!   mapping), so what the cache held before the change's date (another company's bars, or
//!   answers that may predate the mapping) is dropped and asked again, and the footer records
//!   the rename. A takeover later than a closing reopens the ticker.
//!
//! Each fact is committed once: a series whose footer already says it is left alone.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::Error;
use crate::cache::backend::SeriesUpdate;
use crate::cache::ledger::Ledger;
use crate::cache::{SeriesKey, Store};
use crate::market::{
    ActionKind, AssetClass, Closing, ClosingReason, Interval, Renaming, Symbol, TickerEnd,
};
use crate::parquet_files::read::FileSummary;

/// What the ledgers changed in the cache.
#[derive(Debug, Default)]
pub struct Endings {
    /// Series closed now.
    pub closed: Vec<(SeriesKey, Closing)>,
    /// Series whose history before a rename was dropped now, to be asked again
    /// ([`Renaming::restated`]; `None` when the series held nothing before it).
    pub restated: Vec<(SeriesKey, Renaming)>,
}

/// The latest event of a ticker's life that the ledger records.
#[derive(Debug, Clone, PartialEq)]
enum Event {
    /// The ticker ended.
    Ended(Closing),
    /// Another company took the ticker over by a rename.
    TakenOver { old_symbol: Symbol, date: NaiveDate },
}

/// The ticker `symbol`'s latest event in `ledger` processed by `today`: its ending, or its
/// takeover by a rename, whichever came last (a takeover on the day of an ending wins: the
/// ticker is in use again).
fn latest_event(ledger: &Ledger, symbol: &Symbol, today: NaiveDate) -> Option<Event> {
    let mut latest: Option<(NaiveDate, u8, Event)> = None;
    for action in &ledger.actions {
        if action.process_date > today {
            continue;
        }
        let event = match (&action.kind, action.kind.ticker_end()) {
            (ActionKind::NameChange { new_symbol }, _) if new_symbol == symbol.as_str() => {
                let Ok(old_symbol) = action.symbol.parse::<Symbol>() else {
                    continue;
                };
                (
                    action.ex_date,
                    1,
                    Event::TakenOver {
                        old_symbol,
                        date: action.ex_date,
                    },
                )
            }
            (_, Some(end)) if action.symbol == symbol.as_str() => {
                let (reason, successor) = match end {
                    TickerEnd::Renamed { successor } => (ClosingReason::Renamed, Some(successor)),
                    TickerEnd::Removed => (ClosingReason::Delisted, None),
                    TickerEnd::Acquired { acquirer } => (ClosingReason::Acquired, acquirer),
                };
                let closing = Closing {
                    date: action.ex_date,
                    end: AssetClass::Stocks.day_start(action.ex_date),
                    reason,
                    successor: successor.and_then(|s| s.parse().ok()),
                };
                (action.ex_date, 0, Event::Ended(closing))
            }
            _ => continue,
        };
        if latest
            .as_ref()
            .is_none_or(|l| (l.0, l.1) <= (event.0, event.1))
        {
            latest = Some(event);
        }
    }
    latest.map(|(_, _, event)| event)
}

/// The first instant a series holds anything (coverage, provisional range or bar).
fn first_held(summary: &FileSummary) -> Option<DateTime<Utc>> {
    let meta = &summary.metadata;
    [
        meta.coverage.intervals().first().map(|i| i.start),
        meta.provisional.intervals().first().map(|i| i.start),
        summary.first,
    ]
    .into_iter()
    .flatten()
    .min()
}

/// What `event` changes in the series `summary` describes; `None` when its footer already
/// says it.
fn update_for(summary: &FileSummary, event: Event) -> Option<SeriesUpdate> {
    let meta = &summary.metadata;
    match event {
        Event::Ended(closing) => {
            // A closing already recorded stays, unless this one names a successor it lacks.
            let better = match &meta.closed {
                None => true,
                Some(known) => known.successor.is_none() && closing.successor.is_some(),
            };
            let reopened = meta
                .renamed_from
                .as_ref()
                .is_some_and(|r| r.date > closing.date);
            (better && !reopened).then(|| SeriesUpdate {
                closing: Some(closing),
                ..SeriesUpdate::default()
            })
        }
        Event::TakenOver { old_symbol, date } => {
            let known = meta
                .renamed_from
                .as_ref()
                .is_some_and(|r| r.old_symbol == old_symbol && r.date == date);
            if known {
                return None;
            }
            let before = AssetClass::Stocks.day_start(date);
            let restated = first_held(summary).and_then(|first| Interval::new(first, before));
            Some(SeriesUpdate {
                withdrawn: restated.into_iter().collect(),
                renamed_from: Some(Renaming {
                    old_symbol,
                    date,
                    restated,
                }),
                ..SeriesUpdate::default()
            })
        }
    }
}

/// Closes and restates the stock series of `keys` as the `ledgers` of their symbols say (a
/// symbol without a ledger here is left alone). Returns what changed. Blocking.
pub fn apply(
    store: &Store,
    ledgers: &BTreeMap<Symbol, Ledger>,
    keys: &[SeriesKey],
    now: DateTime<Utc>,
    wait_for_locks: bool,
) -> Result<Endings, Error> {
    let today = super::corporate_actions::today(now);
    let mut endings = Endings::default();
    for key in keys {
        if key.asset_class() != AssetClass::Stocks {
            continue;
        }
        let Some(event) = ledgers
            .get(&key.symbol)
            .and_then(|ledger| latest_event(ledger, &key.symbol, today))
        else {
            continue;
        };
        // Most series need nothing: find out without the lock, then read again under it (another
        // run may have recorded the same fact meanwhile).
        let needed = store
            .read_summary(key)?
            .is_some_and(|summary| update_for(&summary, event.clone()).is_some());
        if !needed {
            continue;
        }
        let lock = store.lock(key, wait_for_locks)?;
        let Some(update) = store
            .read_summary(key)?
            .and_then(|summary| update_for(&summary, event))
        else {
            continue;
        };
        let (closing, renaming) = (update.closing.clone(), update.renamed_from.clone());
        store.commit(key, &lock, update, now)?;
        if let Some(closing) = closing {
            endings.closed.push((key.clone(), closing));
        }
        if let Some(renaming) = renaming {
            endings.restated.push((key.clone(), renaming));
        }
    }
    Ok(endings)
}

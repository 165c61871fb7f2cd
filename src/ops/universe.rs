//! The universe of `update --universe CLASS`: Alpaca's assets list of a class, kept in the
//! cache (`cache::assets_list`) and asked from the Trading API at most once per New York day,
//! and the symbols a run takes from it (active ones, inactive ones with `--include-inactive`,
//! narrowed to `--exchange`). The Trading API may be reached through several base URLs (the
//! live host, then the paper host): one that refuses the keys (401/403) hands on to the next.
//!
//! Also closes the series of assets the list shows inactive ([`close_delisted`]): their
//! footer records the last trading day (or, without a bar, the end of what was asked), and no
//! later run asks past it (issue 23).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::Error;
use crate::api::{self, Client};
use crate::cache::assets_list::{self, AssetsList};
use crate::cache::backend::SeriesUpdate;
use crate::cache::{SeriesKey, Store};
use crate::market::{
    AssetClass, AssetFilter, AssetStatus, Closing, ClosingReason, Symbol, Universe,
};

/// The Trading API: clients for its base URLs, tried in order.
#[derive(Clone)]
pub struct TradingApi {
    pub clients: Vec<Client>,
}

/// Where the list a run used came from.
#[derive(Debug)]
pub enum ListSource {
    /// The cached copy, fetched earlier the same New York day: no request.
    CachedToday,
    /// Asked now (and cached).
    Asked { skipped: usize },
    /// Asking failed; the older cached copy was used.
    Stale(Error),
}

/// The assets list of a class as a run sees it.
#[derive(Debug)]
pub struct AssetsOutcome {
    pub list: AssetsList,
    pub source: ListSource,
}

/// The list of `universe`: the cached copy when fetched on the New York date of `now`,
/// otherwise asked (and cached). When asking fails and an older copy exists, that copy is
/// used ([`ListSource::Stale`]); without one, the failure is the run's.
pub async fn assets(
    store: &Store,
    trading: &TradingApi,
    universe: Universe,
    now: DateTime<Utc>,
) -> Result<AssetsOutcome, Error> {
    let cached = {
        let store = store.clone();
        crate::blocking_tasks::spawn(move || assets_list::read(&store, universe)).await??
    };
    if let Some(list) = &cached
        && list.fetched_today(now)
    {
        return Ok(AssetsOutcome {
            list: list.clone(),
            source: ListSource::CachedToday,
        });
    }
    match ask(trading, universe).await {
        Ok(answer) => {
            let list = AssetsList {
                universe,
                fetched_at: now,
                assets: answer.assets,
            };
            let (store, written) = (store.clone(), list.clone());
            crate::blocking_tasks::spawn(move || assets_list::write(&store, &written)).await??;
            Ok(AssetsOutcome {
                list,
                source: ListSource::Asked {
                    skipped: answer.skipped,
                },
            })
        }
        Err(e) => match cached {
            Some(list) if !matches!(e, Error::Interrupted(_)) => Ok(AssetsOutcome {
                list,
                source: ListSource::Stale(e),
            }),
            _ => Err(e),
        },
    }
}

/// Asks each base URL in turn until one does not refuse the keys.
async fn ask(trading: &TradingApi, universe: Universe) -> Result<api::AssetsAnswer, Error> {
    let mut last = None;
    for client in &trading.clients {
        match client.get_assets(universe).await {
            Ok(answer) => return Ok(answer),
            Err(e) if matches!(e.status(), Some(401 | 403)) => last = Some(e),
            Err(api::Error::Interrupted(signal)) => return Err(Error::Interrupted(signal)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Api(Arc::new(
        last.unwrap_or(api::Error::MissingCredentials),
    )))
}

/// The symbols of `list` that `filter` takes, sorted, and the exchanges of the filter that
/// no asset of the list is on (a likely typo).
pub fn select(list: &AssetsList, filter: &AssetFilter) -> (Vec<Symbol>, Vec<String>) {
    let mut symbols: Vec<Symbol> = list
        .assets
        .iter()
        .filter(|a| filter.matches(a))
        .map(|a| a.symbol.clone())
        .collect();
    symbols.sort();
    symbols.dedup();
    let unknown = filter
        .exchanges
        .iter()
        .filter(|e| {
            !list
                .assets
                .iter()
                .any(|a| a.exchange.eq_ignore_ascii_case(e))
        })
        .cloned()
        .collect();
    (symbols, unknown)
}

/// The cached lists of every class, for `inspect --assets` (no request). Blocking.
pub fn cached_lists(store: &Store) -> Result<Vec<AssetsList>, Error> {
    let mut lists = Vec::new();
    for universe in Universe::ALL {
        lists.extend(assets_list::read(store, universe)?);
    }
    Ok(lists)
}

/// The date a delisted series ends: the day of its last bar (New York for stocks, UTC for
/// crypto), and the start of the next day, from which nothing is asked.
fn last_day(class: AssetClass, last_bar: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
    let date = class.local_date(last_bar);
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    (date, class.day_start(next))
}

/// Closes every series of `keys` whose symbol `list` shows inactive and that is not closed
/// yet, at the day of its last bar (a series without a bar, at the end of what was asked; a
/// series never asked stays open). Run after the series were brought up to date, so the last bar is the last one
/// Alpaca has. Returns the series closed now. Blocking.
pub fn close_delisted(
    store: &Store,
    list: &AssetsList,
    keys: &[SeriesKey],
    now: DateTime<Utc>,
    wait_for_locks: bool,
) -> Result<Vec<(SeriesKey, Closing)>, Error> {
    let mut closed = Vec::new();
    // Looked up once per series: a list holds about 11,000 assets, a nightly 11,000 series.
    let inactive: HashSet<&Symbol> = list
        .assets
        .iter()
        .filter(|a| a.status == AssetStatus::Inactive)
        .map(|a| &a.symbol)
        .collect();
    for key in keys {
        if !inactive.contains(&key.symbol) || key.asset_class() != list.universe.asset_class() {
            continue;
        }
        let Some(summary) = store.read_summary(key)? else {
            continue;
        };
        if summary.metadata.closed.is_some() {
            continue;
        }
        // The day of its last bar; a series without a bar ends where it was asked up to
        // (Alpaca had nothing there, and will have nothing later).
        let (date, end) = match (summary.last, summary.metadata.coverage.intervals().last()) {
            (Some(last), _) => last_day(key.asset_class(), last),
            // The date shown is the last day before the end.
            (None, Some(covered)) => {
                let before = covered.end - chrono::TimeDelta::nanoseconds(1);
                (key.asset_class().local_date(before), covered.end)
            }
            (None, None) => continue,
        };
        let closing = Closing {
            date,
            end,
            reason: ClosingReason::Delisted,
            successor: None,
        };
        let lock = store.lock(key, wait_for_locks)?;
        let update = SeriesUpdate {
            closing: Some(closing.clone()),
            ..SeriesUpdate::default()
        };
        store.commit(key, &lock, update, now)?;
        closed.push((key.clone(), closing));
    }
    Ok(closed)
}

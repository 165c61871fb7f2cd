//! The universe of `update --universe CLASS`: Alpaca's assets list of a class, kept in the
//! cache (`cache::assets_list`) and asked from the Trading API at most once per New York day,
//! and the symbols a run takes from it (active ones, inactive ones with `--include-inactive`,
//! narrowed to `--exchange`). The Trading API may be reached through several base URLs (the
//! live host, then the paper host): one that refuses the keys (401/403) hands on to the next.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Error;
use crate::api::{self, Client};
use crate::cache::Store;
use crate::cache::assets_list::{self, AssetsList};
use crate::market::{AssetFilter, Symbol, Universe};

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
        tokio::task::spawn_blocking(move || assets_list::read(&store, universe)).await??
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
            tokio::task::spawn_blocking(move || assets_list::write(&store, &written)).await??;
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

//! `update --universe CLASS`: the symbols of Alpaca's assets list that the run takes
//! ([`ops::universe`](crate::ops::universe)), with the note that says where the list came
//! from and the `assets` entry of the JSON report; and, after any update of stock series, the
//! closing of the series whose assets the list shows inactive.

use std::sync::Arc;

use serde_json::json;

use crate::cache::SeriesKey;
use crate::cache::assets_list::AssetsList;
use crate::cli::trading_api::trading_api;
use crate::cli::{Context, UsageError};
use crate::error_chain::error_chain;
use crate::events::Observer;
use crate::market::{AssetClass, AssetFilter, Symbol, Universe};
use crate::ops::universe::{self as op, ListSource};
use crate::parquet_files::metadata::format_instant;

/// The symbols a universe run takes, and what the report says about the list.
pub(super) struct UniverseSymbols {
    pub(super) symbols: Vec<Symbol>,
    pub(super) list: AssetsList,
    pub(super) report: serde_json::Value,
}

/// `--exchange` values: letters and digits, compared without case.
pub(super) fn exchanges(values: &[String]) -> Result<Vec<String>, UsageError> {
    values
        .iter()
        .map(|value| {
            let name = value.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(UsageError(format!(
                    "--exchange `{}` is not an exchange name; give names such as NYSE,NASDAQ,ARCA",
                    crate::market::shown_input(value)
                )));
            }
            Ok(name.to_ascii_uppercase())
        })
        .collect()
}

/// The assets list of `universe` (cached today, or asked once), narrowed by `filter`.
pub(super) async fn resolve(
    ctx: &Context,
    universe: Universe,
    filter: &AssetFilter,
    observer: &Arc<dyn Observer>,
) -> anyhow::Result<UniverseSymbols> {
    let trading = trading_api(ctx, observer)?;
    let outcome = op::assets(&ctx.store, &trading, universe, ctx.now).await?;
    let list = &outcome.list;
    let (symbols, unknown) = op::select(list, filter);
    for exchange in &unknown {
        ctx.printer.warning(&format!(
            "no {universe} asset of the assets list is on exchange `{exchange}`"
        ));
    }
    let fetched = format_instant(list.fetched_at);
    let from = match &outcome.source {
        ListSource::CachedToday => format!("cached, fetched {fetched}"),
        ListSource::Asked { .. } => "asked now".to_owned(),
        ListSource::Stale(e) => {
            ctx.printer.warning(&format!(
                "could not refresh the {universe} assets list, using the copy fetched {fetched}: {}",
                error_chain(e)
            ));
            format!("stale copy fetched {fetched}")
        }
    };
    ctx.printer.note(&format!(
        "{universe} assets list ({from}): {} assets, {} taken",
        list.assets.len(),
        symbols.len()
    ));
    let report = json!({
        "asset_class": universe.as_str(),
        "fetched_at": fetched,
        "asked": matches!(outcome.source, ListSource::Asked { .. }),
        "listed": list.assets.len(),
        "selected": symbols.len(),
    });
    Ok(UniverseSymbols {
        symbols,
        list: outcome.list,
        report,
    })
}

/// The US equity assets list for closing delisted series when `keys` hold stock series: the
/// cached copy of today, or one request. When the Trading API refuses the keys or cannot be
/// reached, one note, and the update goes on without it.
pub(super) async fn stock_list(
    ctx: &Context,
    keys: &[&SeriesKey],
    observer: &Arc<dyn Observer>,
) -> Option<AssetsList> {
    if !keys.iter().any(|k| k.asset_class() == AssetClass::Stocks) {
        return None;
    }
    let trading = match trading_api(ctx, observer) {
        Ok(trading) => trading,
        Err(e) => {
            ctx.printer.note(&format!(
                "delisted series not checked: {}",
                error_chain(e.as_ref())
            ));
            return None;
        }
    };
    match op::assets(&ctx.store, &trading, Universe::UsEquity, ctx.now).await {
        Ok(outcome) => Some(outcome.list),
        Err(e) => {
            ctx.printer.note(&format!(
                "delisted series not checked, the assets list could not be fetched (corporate actions still apply): {}",
                error_chain(&e)
            ));
            None
        }
    }
}

/// Closes the series of `keys` that `list` shows delisted, with one note each.
pub(super) async fn close_delisted(
    ctx: &Context,
    list: AssetsList,
    keys: Vec<SeriesKey>,
    wait_for_locks: bool,
) -> anyhow::Result<usize> {
    let (store, now) = (ctx.store.clone(), ctx.now);
    let closed = crate::blocking_tasks::spawn(move || {
        op::close_delisted(&store, &list, &keys, now, wait_for_locks)
    })
    .await??;
    for (key, closing) in &closed {
        ctx.printer
            .note(&format!("{key}: {closing}; not asked past it from now on"));
    }
    Ok(closed.len())
}

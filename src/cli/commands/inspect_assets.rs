//! `barkeep inspect --assets`: the cached assets lists of `update --universe`
//! ([`ops::universe::cached_lists`](crate::ops::universe::cached_lists)), one row per asset,
//! as a table, CSV or JSON, for pipelines. Makes no request.

use std::io::Write;

use serde_json::json;

use crate::cli::Context;
use crate::cli::args::values::InspectFormat;
use crate::cli::formats::table::{Column, Table};
use crate::cli::formats::{self, csv, json};
use crate::market::{Asset, Symbol, Universe};
use crate::ops::universe as op;
use crate::parquet_files::metadata::format_instant;

/// `inspect --assets`: every cached asset (only `symbols` when any are named) on stdout, and
/// when each list was fetched on stderr.
pub(super) fn run_assets(
    ctx: &Context,
    format: InspectFormat,
    symbols: &[Symbol],
) -> anyhow::Result<()> {
    let lists = op::cached_lists(&ctx.store)?;
    let rows: Vec<(Universe, &Asset)> = lists
        .iter()
        .flat_map(|list| list.assets.iter().map(|a| (list.universe, a)))
        .filter(|(_, a)| symbols.is_empty() || symbols.contains(&a.symbol))
        .collect();
    let mut out = formats::stdout();
    write_assets(&mut out, format, &rows)?;
    out.flush()?;
    drop(out);
    for list in &lists {
        ctx.printer.note(&format!(
            "{} assets list: {} assets, fetched {}",
            list.universe,
            list.assets.len(),
            format_instant(list.fetched_at)
        ));
    }
    if lists.is_empty() {
        ctx.printer.note(
            "no assets list in the cache; `barkeep update --universe us_equity` (or crypto) fetches one",
        );
    }
    Ok(())
}

fn cells(universe: Universe, asset: &Asset) -> [String; 5] {
    [
        asset.symbol.to_string(),
        asset.name.clone(),
        asset.exchange.clone(),
        asset.status.as_str().to_owned(),
        universe.as_str().to_owned(),
    ]
}

const HEADERS: [&str; 5] = ["symbol", "name", "exchange", "status", "asset_class"];

fn write_assets(
    out: &mut dyn Write,
    format: InspectFormat,
    rows: &[(Universe, &Asset)],
) -> anyhow::Result<()> {
    match format {
        InspectFormat::Json => {
            let rows: Vec<_> = rows
                .iter()
                .map(|(universe, a)| {
                    json!({
                        "symbol": a.symbol.as_str(),
                        "name": a.name,
                        "exchange": a.exchange,
                        "status": a.status.as_str(),
                        "asset_class": universe.as_str(),
                    })
                })
                .collect();
            json::write_pretty(out, &rows)?;
        }
        InspectFormat::Csv => {
            csv::write_row(out, HEADERS)?;
            for (universe, asset) in rows {
                csv::write_row(out, cells(*universe, asset))?;
            }
        }
        InspectFormat::Table => {
            let mut table = Table::new([
                Column::left("symbol").min(6),
                Column::left("name"),
                Column::left("exchange"),
                Column::left("status"),
                Column::left("asset_class"),
            ]);
            for (universe, asset) in rows {
                table.push(cells(*universe, asset).to_vec());
            }
            table.write(out)?;
        }
    }
    Ok(())
}

//! `barkeep inspect`: renders [`ops::inspect`](crate::ops::inspect)'s report of what the cache
//! holds as a table, CSV or JSON, the recorded corporate actions of the symbols named, and
//! `--verify`'s problems; `--gaps` and `--calendar` are rendered by
//! [`super::inspect_calendar`], `--assets` by [`super::inspect_assets`].

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Days, Utc};
use indicatif::HumanBytes;
use serde_json::json;

use super::{inspect_assets, inspect_calendar};
use crate::cache::{self, ledger};
use crate::cli::args::inspect::InspectArgs;
use crate::cli::args::values::InspectFormat;
use crate::cli::failure::ProblemsFound;
use crate::cli::formats::table::{Column, Table};
use crate::cli::formats::{self, csv, json};
use crate::cli::{Context, UsageError};
use crate::error_chain::error_chain;
use crate::market::calendar::new_york_date;
use crate::market::{AssetClass, Symbol};
use crate::ops::inspect::{self as op, InspectOptions, InspectReport, SeriesInfo};
use crate::ops::selection::SeriesFilter;
use crate::parquet_files::SeriesMetadata;
use crate::parquet_files::metadata::format_instant;

pub fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<()> {
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        InspectFormat::Table
    } else {
        InspectFormat::Csv
    });
    if (args.start.is_some() || args.end.is_some()) && !args.calendar && !args.gaps {
        return Err(UsageError(
            "--start and --end go with --calendar or --gaps; add one of them".to_owned(),
        )
        .into());
    }
    let filter = SeriesFilter {
        symbols: args.symbols,
        timeframes: args.timeframes,
        feed: args.feed.map(Into::into),
    };
    if args.calendar {
        let start = args.start.unwrap_or_else(|| new_york_date(ctx.now));
        let end = args
            .end
            .unwrap_or_else(|| start.checked_add_days(Days::new(14)).unwrap_or(start));
        return inspect_calendar::run_calendar(ctx, format, start, end);
    }
    if args.assets {
        return inspect_assets::run_assets(ctx, format, &filter.symbols);
    }
    if args.gaps {
        return inspect_calendar::run_gaps(ctx, format, &filter, (args.start, args.end));
    }
    let named = !filter.symbols.is_empty();
    let options = InspectOptions {
        filter,
        verify: args.verify,
        ledgers_shown: format == InspectFormat::Json,
    };
    let report = op::inspect(&ctx.store, &options)?;
    let mut out = formats::stdout();
    match format {
        InspectFormat::Json => json::write_pretty(&mut out, &json_rows(&report))?,
        InspectFormat::Csv => write_csv(&mut out, &report)?,
        InspectFormat::Table => write_table(&mut out, &report, named)?,
    }
    out.flush()?;
    drop(out);
    warn(ctx, &report);
    if report.series.is_empty() {
        ctx.printer.note(&format!(
            "no cached series match (cache: `{}`)",
            ctx.store.root().display()
        ));
    }
    let Some(problems) = &report.problems else {
        return Ok(());
    };
    for problem in problems {
        let path = problem.path.display();
        ctx.printer.error(&format!("`{path}`: {}", problem.message));
    }
    for temp in &report.leftovers {
        ctx.printer.warning(&format!(
            "`{}` is left over from an interrupted write; `barkeep prune` removes it",
            temp.path.display()
        ));
    }
    if !problems.is_empty() {
        return Err(ProblemsFound(problems.len()).into());
    }
    let verified = report.series.len();
    ctx.printer
        .note(&format!("verified {verified} series: no problems"));
    Ok(())
}

/// What keeps a series from being listed, for the table's first column.
fn trouble(error: &cache::Error) -> &'static str {
    match error {
        cache::Error::Damaged { .. } | cache::Error::Journal { .. } => "(damaged)",
        cache::Error::NotAFile { .. } => "(not a file)",
        _ => "(unreadable)",
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(format_instant).unwrap_or_default()
}

/// The cells a series shares in the table and CSV: first, last, rows, ranges, updated
/// (empty for a file that cannot be read).
fn summary_cells(info: &SeriesInfo) -> [String; 5] {
    match &info.summary {
        Ok(s) => [
            time(s.first),
            time(s.last),
            s.rows.to_string(),
            s.metadata.coverage.intervals().len().to_string(),
            format_instant(s.metadata.updated_at),
        ],
        Err(_) => Default::default(),
    }
}

fn write_csv(out: &mut dyn Write, report: &InspectReport) -> anyhow::Result<()> {
    csv::write_row(
        out,
        [
            "symbol",
            "asset_class",
            "feed",
            "timeframe",
            "first",
            "last",
            "rows",
            "coverage_ranges",
            "bytes",
            "updated",
            "path",
        ],
    )?;
    for info in &report.series {
        let [first, last, rows, ranges, updated] = summary_cells(info);
        let key = &info.key;
        csv::write_row(
            out,
            [
                key.symbol.to_string(),
                key.asset_class().to_string(),
                key.feed.to_string(),
                key.timeframe.to_string(),
                first,
                last,
                rows,
                ranges,
                info.bytes.to_string(),
                updated,
                info.path.display().to_string(),
            ],
        )?;
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, report: &InspectReport, named: bool) -> anyhow::Result<()> {
    let mut table = Table::new([
        Column::left("symbol"),
        Column::left("class"),
        Column::left("feed"),
        Column::left("timeframe"),
        Column::left("first"),
        Column::left("last"),
        Column::right("rows"),
        Column::right("ranges"),
        Column::right("size"),
        Column::left("updated"),
    ]);
    for info in &report.series {
        let key = &info.key;
        let [mut first, last, rows, ranges, updated] = summary_cells(info);
        if let Err(e) = &info.summary {
            first = trouble(e).to_owned();
        }
        let (symbol, class, feed) = (&key.symbol, key.asset_class(), &key.feed);
        table.push(vec![
            symbol.to_string(),
            class.to_string(),
            feed.to_string(),
            key.timeframe.to_string(),
            first,
            last,
            rows,
            ranges,
            HumanBytes(info.bytes).to_string(),
            updated,
        ]);
    }
    table.write(out)?;
    let shown = |fact: fn(&SeriesMetadata) -> Option<String>| -> Vec<String> {
        let series = report.series.iter();
        let fact = move |info: &SeriesInfo| {
            let text = fact(&info.summary.as_ref().ok()?.metadata)?;
            Some(format!("  {}: {text}", info.key))
        };
        series.filter_map(fact).collect()
    };
    let notes = [
        (
            "closed series (never asked past their end)",
            shown(|m| Some(m.closed.as_ref()?.to_string())),
        ),
        (
            "renamed series (history before the rename asked again under the new ticker)",
            shown(|m| Some(m.renamed_from.as_ref()?.to_string())),
        ),
    ];
    for (title, lines) in notes.iter().filter(|(_, lines)| !lines.is_empty()) {
        writeln!(out, "\n{title}:")?;
        for line in lines {
            writeln!(out, "{line}")?;
        }
    }
    if let [single] = report.series.as_slice()
        && let Some(coverage) = op::coverage(single)
    {
        writeln!(out, "\ncovered ranges of {}:", single.key)?;
        for i in coverage.intervals() {
            let (start, end) = (format_instant(i.start), format_instant(i.end));
            writeln!(out, "  {start} to {end}")?;
        }
    }
    if named {
        for (symbol, ledger) in &report.ledgers {
            write_ledger(out, symbol, ledger)?;
        }
    }
    Ok(())
}

/// The recorded actions of a named stock symbol, for the table format.
fn write_ledger(
    out: &mut dyn Write,
    symbol: &Symbol,
    ledger: &Result<Option<ledger::Ledger>, cache::Error>,
) -> std::io::Result<()> {
    write!(out, "\ncorporate actions of {symbol}: ")?;
    let l = match ledger {
        Ok(Some(l)) => l,
        Ok(None) => {
            return writeln!(
                out,
                "none recorded yet (`fetch --adjustment` or `update` records them)"
            );
        }
        Err(cache::Error::DamagedLedger { .. }) => return writeln!(out, "the ledger is damaged"),
        Err(_) => return writeln!(out, "the ledger cannot be read"),
    };
    writeln!(
        out,
        "{} recorded, last checked {} (process dates {} to {})",
        l.actions.len(),
        format_instant(l.checked_at),
        l.process_dates.0,
        l.process_dates.1
    )?;
    let mut actions = Table::new([
        Column::left("ex_date"),
        Column::left("kind").min(14),
        Column::left("action").min(24),
        Column::left("processed"),
    ])
    .without_header()
    .indented("  ");
    for a in &l.actions {
        actions.push(vec![
            format!("ex {}", a.ex_date),
            a.kind.type_name().to_owned(),
            a.kind.to_string(),
            format!("processed {}", a.process_date),
        ]);
    }
    actions.write(out)?;
    Ok(())
}

/// The JSON listing: one object per series, with its problems under `--verify` and, for a
/// stock series, its `corporate_actions` (the ledger with its latest check from the index,
/// `null` when none is recorded, `{"error": ...}` when it cannot be read).
fn json_rows(report: &InspectReport) -> Vec<serde_json::Value> {
    let intervals = |set: &crate::market::IntervalSet| -> Vec<[String; 2]> {
        let pair = |i: &crate::market::Interval| [format_instant(i.start), format_instant(i.end)];
        set.intervals().iter().map(pair).collect()
    };
    let ledger_of = |symbol: &Symbol| match report.ledgers.iter().find(|(s, _)| s == symbol) {
        Some((_, Ok(Some(ledger)))) => ledger::to_json(ledger),
        Some((_, Err(e))) => json!({ "error": error_chain(e) }),
        Some((_, Ok(None))) | None => serde_json::Value::Null,
    };
    let row = |info: &SeriesInfo| {
        let mut row = json!({
            "symbol": info.key.symbol.as_str(),
            "asset_class": info.key.asset_class().as_str(),
            "feed": info.key.feed.as_str(),
            "timeframe": info.key.timeframe.to_string(),
            "path": info.path.display().to_string(),
            "bytes": info.bytes,
        });
        let fields = match &info.summary {
            Ok(s) => json!({
                "rows": s.rows,
                "first": s.first.map(format_instant),
                "last": s.last.map(format_instant),
                "coverage": intervals(&s.metadata.coverage),
                "provisional": intervals(&s.metadata.provisional),
                "updated": format_instant(s.metadata.updated_at),
                "closed": s.metadata.closed.as_ref().map(|c| json!({
                    "date": c.date.to_string(),
                    "reason": c.reason.as_str(),
                    "successor": c.successor.as_ref().map(Symbol::as_str),
                    "shown": c.to_string(),
                })),
                "renamed_from": s.metadata.renamed_from.as_ref().map(|r| json!({
                    "symbol": r.old_symbol.as_str(),
                    "date": r.date.to_string(),
                    "restated": r.restated.as_ref().map(|i| [format_instant(i.start), format_instant(i.end)]),
                    "shown": r.to_string(),
                })),
                "error": null,
            }),
            Err(e) => json!({
                "rows": null, "first": null, "last": null, "coverage": null, "provisional": null,
                "updated": null, "error": error_chain(e),
            }),
        };
        let object = row.as_object_mut().expect("object");
        object.extend(fields.as_object().expect("object").clone());
        if let Some(problems) = report.problems_of(info) {
            let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
            object.insert("problems".into(), json!(messages));
        }
        if info.key.asset_class() == AssetClass::Stocks {
            object.insert("corporate_actions".into(), ledger_of(&info.key.symbol));
        }
        row
    };
    report.series.iter().map(row).collect()
}

/// Warnings on stderr for what could not be read (with `--verify` these are among the
/// problems instead) and for appends rolled back on the way.
fn warn(ctx: &Context, report: &InspectReport) {
    let verify = report.problems.is_some();
    for (symbol, ledger) in report.ledgers.iter().filter(|_| !verify) {
        if let Err(e) = ledger {
            ctx.printer.warning(&format!(
                "{}; delete it and `barkeep update {symbol}` records the actions again",
                error_chain(e)
            ));
        }
    }
    for info in report.series.iter().filter(|_| !verify) {
        let Err(e) = &info.summary else { continue };
        let prune = format!(
            "`barkeep prune {} -t {}`",
            info.key.symbol, info.key.timeframe
        );
        ctx.printer.warning(&match e {
            cache::Error::NotAFile { .. } => format!(
                "{}; {prune} removes it (a link itself, never its target)",
                error_chain(e)
            ),
            cache::Error::Damaged { .. } => format!(
                "`{}` is damaged: {}; {prune} removes it",
                info.path.display(),
                error_chain(e)
            ),
            cache::Error::Journal { .. } => format!("{}; {prune} removes it", error_chain(e)),
            // The disk's doing (permission denied, an i/o error): not the file's.
            _ => error_chain(e),
        });
    }
    for info in &report.series {
        if let Some(journal) = &info.recovered {
            ctx.printer.warning(&format!(
                "rolled back an interrupted append of `{}` (journal `{}`)",
                info.path.display(),
                journal.display()
            ));
        }
    }
}

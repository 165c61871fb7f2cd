//! `barkeep inspect`: list what the cache holds as a table, CSV or JSON, the recorded
//! corporate actions of the symbols named, and `--verify`; `--gaps` and `--calendar` are
//! presented by [`super::inspect_calendar`].

use std::io::{BufWriter, IsTerminal, Write};

use chrono::{Days, NaiveDate};
use indicatif::HumanBytes;
use serde_json::json;

use super::inspect_calendar::{write_calendar, write_gaps};
use crate::cache::{self, ledger, ledger::Ledger};
use crate::cli::args::inspect::InspectArgs;
use crate::cli::args::values::InspectFormat;
use crate::cli::bar_output::ReaderWait;
use crate::cli::failure::ProblemsFound;
use crate::cli::progress::calendar_note;
use crate::cli::{Context, UsageError};
use crate::market::calendar::new_york_date;
use crate::market::time_spec::midnight;
use crate::market::{AssetClass, Interval, NEW_YORK, Symbol};
use crate::ops::inspect::{self as op, Problem, SeriesInfo, error_chain};
use crate::ops::selection::SeriesFilter;
use crate::parquet_files::metadata::format_instant;

/// What keeps a series from being listed, for the table's first column.
fn trouble(error: &cache::Error) -> &'static str {
    match error {
        cache::Error::Damaged { .. } | cache::Error::Journal { .. } => "(damaged)",
        cache::Error::NotAFile { .. } => "(not a file)",
        _ => "(unreadable)",
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(format_instant).unwrap_or_default()
}

type Ledgers = Vec<(Symbol, Result<Option<Ledger>, cache::Error>)>;

/// A stock series' `corporate_actions` in JSON: the ledger's file object (with its latest
/// check from the index), `null` when none
/// is recorded, `{"error": ...}` when it is damaged.
fn json_ledger(ledgers: &Ledgers, symbol: &Symbol) -> serde_json::Value {
    match ledgers.iter().find(|(s, _)| s == symbol).map(|(_, l)| l) {
        Some(Ok(Some(ledger))) => ledger::to_json(ledger),
        Some(Err(e)) => json!({ "error": error_chain(e) }),
        Some(Ok(None)) | None => serde_json::Value::Null,
    }
}

/// The recorded actions of each named stock symbol, for the table format.
fn write_ledgers(out: &mut dyn Write, ledgers: &Ledgers) -> std::io::Result<()> {
    for (symbol, ledger) in ledgers {
        writeln!(out)?;
        match ledger {
            Ok(None) => writeln!(
                out,
                "corporate actions of {symbol}: none recorded yet (`fetch --adjustment` or `update` records them)"
            )?,
            Err(cache::Error::DamagedLedger { .. }) => {
                writeln!(out, "corporate actions of {symbol}: the ledger is damaged")?;
            }
            Err(_) => writeln!(
                out,
                "corporate actions of {symbol}: the ledger cannot be read"
            )?,
            Ok(Some(l)) => {
                writeln!(
                    out,
                    "corporate actions of {symbol}: {} recorded, last checked {} (process dates {} to {})",
                    l.actions.len(),
                    format_instant(l.checked_at),
                    l.process_dates.0,
                    l.process_dates.1
                )?;
                for a in &l.actions {
                    writeln!(
                        out,
                        "  ex {}  {:<14}  {:<24}  processed {}",
                        a.ex_date,
                        a.kind.type_name(),
                        a.kind.to_string(),
                        a.process_date
                    )?;
                }
            }
        }
    }
    Ok(())
}

fn json_row(info: &SeriesInfo, problems: Option<Vec<&Problem>>) -> serde_json::Value {
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
            "coverage": s.metadata.coverage.intervals().iter().map(|i| [format_instant(i.start), format_instant(i.end)]).collect::<Vec<_>>(),
            "provisional": s.metadata.provisional.intervals().iter().map(|i| [format_instant(i.start), format_instant(i.end)]).collect::<Vec<_>>(),
            "updated": format_instant(s.metadata.updated_at),
            "error": null,
        }),
        Err(e) => json!({
            "rows": null, "first": null, "last": null, "coverage": null, "provisional": null,
            "updated": null, "error": error_chain(e),
        }),
    };
    let object = row.as_object_mut().expect("object");
    object.extend(fields.as_object().expect("object").clone());
    if let Some(problems) = problems {
        object.insert(
            "problems".into(),
            json!(
                problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
            ),
        );
    }
    row
}

pub fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let format = args.format.unwrap_or(if stdout.is_terminal() {
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
    if args.calendar {
        let start = args.start.unwrap_or_else(|| new_york_date(ctx.now));
        let end = args
            .end
            .unwrap_or_else(|| start.checked_add_days(Days::new(14)).unwrap_or(start));
        let mut out = BufWriter::new(ReaderWait(stdout.lock()));
        write_calendar(&mut out, format, start, end)?;
        out.flush()?;
        if format == InspectFormat::Table {
            ctx.printer.note(
                "times in New York; extended hours run pre_open to post_close, the regular session open to close",
            );
        }
        return Ok(());
    }
    let filter = SeriesFilter {
        symbols: args.symbols,
        timeframes: args.timeframes,
        feed: args.feed.map(Into::into),
    };
    let infos = op::inspect(&ctx.store, &filter)?;
    if args.gaps {
        return run_gaps(ctx, (args.start, args.end), format, &infos);
    }
    // The ledgers of the symbols named, or (for JSON) of every stock symbol listed.
    let mut ledger_symbols: Vec<Symbol> = if filter.symbols.is_empty() {
        infos.iter().map(|i| i.key.symbol.clone()).collect()
    } else {
        filter.symbols.clone()
    };
    ledger_symbols.sort();
    ledger_symbols.dedup();
    ledger_symbols.retain(|s| s.asset_class() == AssetClass::Stocks);
    // Shown in JSON and for named symbols; otherwise read only to warn of damage, which a
    // bucket's index rules out for the ledgers it vouches for (issue 25).
    let ledgers = if format == InspectFormat::Json || !filter.symbols.is_empty() {
        op::ledgers(&ctx.store, &ledger_symbols)
    } else {
        crate::ops::corporate_actions::unvouched_ledgers(&ctx.store, &ledger_symbols)
    };
    let mut problems = Vec::new();
    if args.verify {
        problems = op::verify(&ctx.store, &infos);
        problems.extend(op::orphan_journals(&ctx.store, &filter)?);
        problems.extend(op::verify_ledgers(&ctx.store, &filter)?);
    }
    let problems_of = |info: &SeriesInfo| -> Option<Vec<&Problem>> {
        args.verify
            .then(|| problems.iter().filter(|p| p.path == info.path).collect())
    };
    let mut out = BufWriter::new(ReaderWait(stdout.lock()));
    let single = infos.len() == 1;
    match format {
        InspectFormat::Json => {
            let rows: Vec<_> = infos
                .iter()
                .map(|i| {
                    let mut row = json_row(i, problems_of(i));
                    if i.key.asset_class() == AssetClass::Stocks {
                        row.as_object_mut().expect("object").insert(
                            "corporate_actions".into(),
                            json_ledger(&ledgers, &i.key.symbol),
                        );
                    }
                    row
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &rows)?;
            writeln!(out)?;
        }
        InspectFormat::Csv => {
            writeln!(
                out,
                "symbol,asset_class,feed,timeframe,first,last,rows,coverage_ranges,bytes,updated,path"
            )?;
            for info in &infos {
                let (first, last, rows, ranges, updated) = match &info.summary {
                    Ok(s) => (
                        time(s.first),
                        time(s.last),
                        s.rows.to_string(),
                        s.metadata.coverage.intervals().len().to_string(),
                        format_instant(s.metadata.updated_at),
                    ),
                    Err(_) => (
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                    ),
                };
                writeln!(
                    out,
                    "{},{},{},{},{first},{last},{rows},{ranges},{},{updated},{}",
                    info.key.symbol,
                    info.key.asset_class(),
                    info.key.feed,
                    info.key.timeframe,
                    info.bytes,
                    csv_field(&info.path.display().to_string())
                )?;
            }
        }
        InspectFormat::Table => {
            let header = [
                "symbol",
                "class",
                "feed",
                "timeframe",
                "first",
                "last",
                "rows",
                "ranges",
                "size",
                "updated",
            ];
            let mut table: Vec<Vec<String>> = Vec::new();
            for info in &infos {
                let mut row = vec![
                    info.key.symbol.to_string(),
                    info.key.asset_class().to_string(),
                    info.key.feed.to_string(),
                    info.key.timeframe.to_string(),
                ];
                match &info.summary {
                    Ok(s) => row.extend([
                        time(s.first),
                        time(s.last),
                        s.rows.to_string(),
                        s.metadata.coverage.intervals().len().to_string(),
                        HumanBytes(info.bytes).to_string(),
                        format_instant(s.metadata.updated_at),
                    ]),
                    Err(e) => row.extend([
                        trouble(e).to_owned(),
                        String::new(),
                        String::new(),
                        String::new(),
                        HumanBytes(info.bytes).to_string(),
                        String::new(),
                    ]),
                }
                table.push(row);
            }
            let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for row in &table {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: Vec<&str>| -> String {
                cells
                    .iter()
                    .zip(&widths)
                    .enumerate()
                    .map(|(i, (c, w))| {
                        if (6..=8).contains(&i) {
                            format!("{c:>w$}")
                        } else {
                            format!("{c:<w$}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            writeln!(out, "{}", line(header.to_vec()))?;
            for row in &table {
                writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
            }
            if single && let Some(coverage) = op::coverage(&infos[0]) {
                writeln!(out)?;
                writeln!(out, "covered ranges of {}:", infos[0].key)?;
                for i in coverage.intervals() {
                    writeln!(
                        out,
                        "  {} to {}",
                        format_instant(i.start),
                        format_instant(i.end)
                    )?;
                }
            }
            if !filter.symbols.is_empty() {
                write_ledgers(&mut out, &ledgers)?;
            }
        }
    }
    out.flush()?;
    drop(out);

    // With --verify, a ledger that cannot be read is one of the problems listed below.
    for (symbol, ledger) in ledgers.iter().filter(|_| !args.verify) {
        if let Err(e) = ledger {
            ctx.printer.warning(&format!(
                "{}; delete it and `barkeep update {symbol}` records the actions again",
                error_chain(e)
            ));
        }
    }
    if infos.is_empty() {
        ctx.printer.note(&format!(
            "no cached series match (cache: `{}`)",
            ctx.store.root().display()
        ));
    }
    for info in &infos {
        if let Err(e) = &info.summary
            && !args.verify
        {
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
    }
    for info in &infos {
        if let Some(journal) = &info.recovered {
            ctx.printer.warning(&format!(
                "rolled back an interrupted append of `{}` (journal `{}`)",
                info.path.display(),
                journal.display()
            ));
        }
    }
    for problem in &problems {
        ctx.printer.error(&format!(
            "`{}`: {}",
            problem.path.display(),
            problem.message
        ));
    }
    if args.verify {
        for temp in op::leftovers(&ctx.store)? {
            ctx.printer.warning(&format!(
                "`{}` is left over from an interrupted write; `barkeep prune` removes it",
                temp.path.display()
            ));
        }
        if !problems.is_empty() {
            return Err(ProblemsFound(problems.len()).into());
        }
        ctx.printer
            .note(&format!("verified {} series: no problems", infos.len()));
    }
    Ok(())
}

/// `--gaps`: the sessions without a bar, then notes and per-series errors on stderr.
fn run_gaps(
    ctx: &Context,
    dates: (Option<NaiveDate>, Option<NaiveDate>),
    format: InspectFormat,
    infos: &[SeriesInfo],
) -> anyhow::Result<()> {
    let range = match dates {
        (None, None) => None,
        (start, end) => {
            let start = start.map_or(chrono::DateTime::<chrono::Utc>::MIN_UTC, |d| {
                midnight(d, &NEW_YORK)
            });
            let end = end
                .and_then(|d| d.checked_add_days(Days::new(1)))
                .map_or(chrono::DateTime::<chrono::Utc>::MAX_UTC, |d| {
                    midnight(d, &NEW_YORK)
                });
            Some(Interval::new(start, end).ok_or_else(|| {
                UsageError("--end is before --start; give an --end on or after --start".to_owned())
            })?)
        }
    };
    let report = op::gaps(&ctx.store, infos, range);
    let mut out = BufWriter::new(ReaderWait(std::io::stdout().lock()));
    let found = write_gaps(&mut out, format, &report)?;
    out.flush()?;
    drop(out);
    let checked = report.series.iter().filter(|g| g.sessions.is_ok()).count();
    ctx.printer.note(&format!(
        "{found} sessions without a bar in {checked} stock series (missing data for a liquid symbol; may be normal for a thinly traded one)"
    ));
    if report.beyond_calendar {
        ctx.printer.note(&calendar_note());
    }
    if infos
        .iter()
        .any(|i| i.key.asset_class() == AssetClass::Crypto)
    {
        ctx.printer
            .note("crypto trades around the clock: its series have no sessions to check");
    }
    if infos.is_empty() {
        ctx.printer.note(&format!(
            "no cached series match (cache: `{}`)",
            ctx.store.root().display()
        ));
    }
    let mut failed = 0;
    for g in &report.series {
        if let Err(e) = &g.sessions {
            failed += 1;
            ctx.printer.error(&format!("{}: {}", g.key, error_chain(e)));
        }
    }
    if failed > 0 {
        return Err(ProblemsFound(failed).into());
    }
    Ok(())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

//! `barkeep update`: the dry-run plan, the summary line and the JSON report.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::HumanCount;
use serde_json::json;

use crate::cli::args::update::UpdateArgs;
use crate::cli::bar_output::ReaderWait;
use crate::cli::failure::{LedgersFailed, UpdateFailed};
use crate::cli::progress::{Progress, calendar_note};
use crate::cli::{Context, UsageError, ops_hint};
use crate::interrupt::{self, Wait};
use crate::market::{Interval, Symbol};
use crate::ops::gap_fill::SeriesStatus;
use crate::ops::inspect::error_chain;
use crate::ops::update::{self as op, UpdateOptions};
use crate::parquet_files::metadata::format_instant;

/// The largest `--symbols-file` read: 1 MiB, far more than every US ticker one per line.
const MAX_SYMBOLS_FILE_BYTES: u64 = 1 << 20;
/// The most lines a `--symbols-file` may have (comments and blank lines included).
const MAX_SYMBOLS_FILE_LINES: usize = 100_000;

/// The text of a watchlist file (or stdin for `-`), refused beyond
/// [`MAX_SYMBOLS_FILE_BYTES`] or [`MAX_SYMBOLS_FILE_LINES`], so `/dev/zero` or a wrong file
/// fails at once instead of filling memory.
///
/// A FIFO nobody writes to, or stdin from a writer that never closes it, blocks the open or
/// the read where no signal reaches it: the wait is registered, so a signal ends the run at
/// once (issue 20). Call it off the async threads.
fn read_symbols_text(path: &Path) -> Result<String, UsageError> {
    let unreadable = |e: std::io::Error| {
        UsageError(format!(
            "cannot read --symbols-file `{}`: {e}; give a readable file with one symbol per line",
            path.display()
        ))
    };
    let stdin = path.as_os_str() == "-";
    let _waiting = interrupt::blocked_on(Wait::Other(if stdin {
        "waiting for stdin to be written and closed (--symbols-file -)".to_owned()
    } else {
        format!(
            "waiting for --symbols-file `{}` to be written",
            path.display()
        )
    }));
    let mut bytes = Vec::new();
    if stdin {
        std::io::stdin()
            .lock()
            .take(MAX_SYMBOLS_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
    } else {
        std::fs::File::open(path)
            .map_err(unreadable)?
            .take(MAX_SYMBOLS_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(unreadable)?;
    }
    if bytes.len() as u64 > MAX_SYMBOLS_FILE_BYTES {
        return Err(UsageError(format!(
            "--symbols-file `{}` is larger than 1 MiB; a watchlist holds one symbol per line (check that this is the right file)",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        UsageError(format!(
            "--symbols-file `{}` is not UTF-8 text; give a text file with one symbol per line",
            path.display()
        ))
    })?;
    if text.lines().count() > MAX_SYMBOLS_FILE_LINES {
        return Err(UsageError(format!(
            "--symbols-file `{}` has more than {} lines; split the watchlist, or check that this is the right file",
            path.display(),
            HumanCount(MAX_SYMBOLS_FILE_LINES as u64)
        )));
    }
    Ok(text)
}

/// `text` without the UTF-8 byte-order mark that Windows editors put at the start of a file
/// (it would otherwise make the first symbol invalid).
fn without_byte_order_mark(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A watchlist line that is not a valid symbol: reported, skipped, counted as failed.
struct BadLine {
    /// `FILE:LINE`.
    location: String,
    /// The line as written (escaped and shortened for display).
    text: String,
    error: String,
}

/// Symbols from a watchlist file (or stdin for `-`), and the lines that are not symbols. A
/// typo in one line of a nightly watchlist must not skip the whole night.
fn read_symbols_file(path: &Path) -> Result<(Vec<Symbol>, Vec<BadLine>), UsageError> {
    let text = read_symbols_text(path)?;
    let text = without_byte_order_mark(&text);
    let mut symbols = Vec::new();
    let mut bad = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let text = line.split('#').next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        match text.parse::<Symbol>() {
            Ok(symbol) => symbols.push(symbol),
            Err(e) => bad.push(BadLine {
                location: format!("{}:{}", path.display(), number + 1),
                text: crate::market::shown_input(text),
                error: e.to_string(),
            }),
        }
    }
    Ok((symbols, bad))
}

pub async fn run(ctx: &Context, args: UpdateArgs) -> anyhow::Result<()> {
    let mut symbols = args.symbols;
    let mut bad_lines = Vec::new();
    if let Some(path) = &args.symbols_file {
        let (listed, bad) = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || read_symbols_file(&path)).await??
        };
        symbols.extend(listed);
        for line in &bad {
            ctx.printer
                .error(&format!("{}: {} (line skipped)", line.location, line.error));
        }
        bad_lines = bad;
        if symbols.is_empty() && bad_lines.is_empty() {
            return Err(UsageError(format!(
                "--symbols-file `{}` lists no symbols; put one symbol per line",
                path.display()
            ))
            .into());
        }
    }
    if symbols.is_empty() && !bad_lines.is_empty() {
        // Not one valid line: nothing to update (an empty list would mean "everything").
        ctx.printer.note(&format!(
            "0 series updated, 0 unchanged, {} failed: no valid symbol in the watchlist",
            bad_lines.len()
        ));
        return Err(UpdateFailed {
            count: bad_lines.len(),
            hint: None,
        }
        .into());
    }
    symbols.sort();
    symbols.dedup();
    let options = UpdateOptions {
        symbols,
        timeframes: args.timeframes,
        stock_feed: args.feed.map(Into::into),
        start: args.start.unwrap_or(op::DEFAULT_START),
        now: ctx.now,
        wait_for_locks: !args.no_wait,
        interrupt: ctx.interrupt.clone(),
    };
    let started = Instant::now();
    let plan = { op::plan(&ctx.store, &options).await? };

    if args.dry_run {
        let (store, targets, now) = (ctx.store.clone(), plan.targets.clone(), ctx.now);
        let (series, requests) =
            tokio::task::spawn_blocking(move || op::dry_run(&store, &targets, now)).await?;
        let pages: u64 = requests.iter().map(|r| r.estimated_pages).sum();
        let mut out = BufWriter::new(ReaderWait(std::io::stdout().lock()));
        if args.report.is_some() {
            let entries: Vec<_> = series
                .iter()
                .map(|(key, plan)| {
                    json!({
                        "symbol": key.symbol.as_str(),
                        "asset_class": key.asset_class().as_str(),
                        "feed": key.feed.as_str(),
                        "timeframe": key.timeframe.to_string(),
                        "ranges": plan.asks.iter().map(|a| [format_instant(a.range.start), format_instant(a.range.end)]).collect::<Vec<_>>(),
                        "no_session_ranges": plan.closed.iter().map(|g| [format_instant(g.start), format_instant(g.end)]).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let report = json!({ "dry_run": true, "requests_estimated": pages, "series": entries });
            writeln!(out, "{report}")?;
        } else {
            let row = |cells: [&str; 5]| {
                format!(
                    "{:<10} {:<9} {:<6} {:<22} {}",
                    cells[0], cells[1], cells[2], cells[3], cells[4]
                )
            };
            writeln!(
                out,
                "{}",
                row(["symbol", "timeframe", "feed", "from", "to"])
            )?;
            for (key, plan) in &series {
                let tf = key.timeframe.to_string();
                let asked = plan.asks.iter().map(|a| (a.range, ""));
                let closed = plan.closed.iter().map(|g| (*g, "  no session: not asked"));
                let mut lines: Vec<(Interval, &str)> = asked.chain(closed).collect();
                lines.sort_by_key(|(range, _)| range.start);
                for (range, note) in lines {
                    let (start, end) = (format_instant(range.start), format_instant(range.end));
                    let line = row([key.symbol.as_str(), &tf, key.feed.as_str(), &start, &end]);
                    writeln!(out, "{line}{note}")?;
                }
            }
            let needing = series.iter().filter(|(_, p)| !p.asks.is_empty()).count();
            let closed_only = series
                .iter()
                .filter(|(_, p)| p.asks.is_empty() && !p.closed.is_empty())
                .count();
            writeln!(
                out,
                "{needing} of {} series need data ({closed_only} more miss only time without a market session); {} requests planned, about {pages} with pages",
                series.len(),
                requests.len()
            )?;
        }
        if series.iter().any(|(_, p)| p.beyond_calendar) {
            ctx.printer.note(&calendar_note());
        }
        for (key, error) in &plan.unplannable {
            ctx.printer.error(&format!("{key}: {}", error_chain(error)));
        }
        out.flush()?;
        return if plan.unplannable.is_empty() && bad_lines.is_empty() {
            Ok(())
        } else {
            Err(UpdateFailed {
                count: plan.unplannable.len() + bad_lines.len(),
                hint: plan.unplannable.iter().find_map(|(_, e)| ops_hint(e)),
            }
            .into())
        };
    }

    let progress = Arc::new(Progress::new(ctx.printer.clone()));
    let client = ctx.client(progress.clone())?;
    let outcome = op::update(&ctx.store, &client, plan, &options, progress.clone()).await;
    progress.finish();
    let outcome = outcome?;
    let outcomes = outcome.series;

    let (mut updated, mut unchanged, mut failed, mut bars_added) = (0, 0, bad_lines.len(), 0u64);
    let mut interrupted = 0;
    for outcome in &outcomes {
        match &outcome.status {
            SeriesStatus::Updated(summary) => {
                updated += 1;
                bars_added += summary.bars_added;
            }
            SeriesStatus::Interrupted(summary) => {
                interrupted += 1;
                bars_added += summary.bars_added;
            }
            SeriesStatus::Unchanged => unchanged += 1,
            SeriesStatus::Failed(error) => {
                failed += 1;
                ctx.printer
                    .error(&format!("{}: {}", outcome.key, error_chain(error)));
            }
        }
    }
    let elapsed = started.elapsed();
    // Bar requests; the corporate-actions requests are reported apart.
    let requests = progress.bar_requests();
    let (ledgers, ledger_error) = match &outcome.ledgers {
        Ok(report) => (report.clone(), None),
        Err(e) => {
            let message = error_chain(e);
            ctx.printer.error(&format!("corporate actions: {message}"));
            (Default::default(), Some(message))
        }
    };
    let conflicts = ctx.store.conflicts();
    if args.report.is_some() {
        let bad_entries = bad_lines.iter().map(|line| {
            json!({
                "symbol": line.text,
                "asset_class": null,
                "feed": null,
                "timeframe": null,
                "status": "failed",
                "bars_added": 0,
                "error": format!("{}: {}", line.location, line.error),
            })
        });
        let entries: Vec<_> = bad_entries
            .chain(outcomes.iter().map(|o| {
                let (status, added, error) = match &o.status {
                    SeriesStatus::Updated(s) => ("updated", s.bars_added, None),
                    SeriesStatus::Interrupted(s) => ("interrupted", s.bars_added, None),
                    SeriesStatus::Unchanged => ("unchanged", 0, None),
                    SeriesStatus::Failed(e) => ("failed", 0, Some(error_chain(e))),
                };
                json!({
                    "symbol": o.key.symbol.as_str(),
                    "asset_class": o.key.asset_class().as_str(),
                    "feed": o.key.feed.as_str(),
                    "timeframe": o.key.timeframe.to_string(),
                    "status": status,
                    "bars_added": added,
                    "error": error,
                })
            }))
            .collect();
        let report = json!({
            "series_updated": updated,
            "series_unchanged": unchanged,
            "series_failed": failed,
            "bars_added": bars_added,
            "requests": requests,
            "conflicts": conflicts.unwrap_or(0),
            "elapsed_seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "series": entries,
            "corporate_actions": {
                "symbols_checked": ledgers.checked.len(),
                "requests": ledgers.requests,
                "actions_added": ledgers.actions_added,
                "error": ledger_error,
            },
        });
        let mut out = ReaderWait(std::io::stdout().lock());
        writeln!(out, "{report}")?;
        out.flush()?;
    }
    let raced = match conflicts {
        Some(conflicts) => format!("; {conflicts} conditional-put conflicts retried"),
        None => String::new(),
    };
    let checked = if ledger_error.is_some() {
        "corporate actions failed".to_owned()
    } else {
        format!(
            "corporate actions of {} symbols checked in {} requests, {} new",
            ledgers.checked.len(),
            ledgers.requests,
            ledgers.actions_added
        )
    };
    let stopped = match ctx.interrupt.signal() {
        Some(_) => format!(
            "; interrupted: {interrupted} series stopped part-way, everything answered before is committed (the next run asks only for the rest)"
        ),
        None => String::new(),
    };
    ctx.printer.note(&format!(
        "{updated} series updated, {unchanged} unchanged, {failed} failed; {} bars added; {requests} requests in {:.1} s; {checked}{raced}{stopped}",
        HumanCount(bars_added),
        elapsed.as_secs_f64()
    ));
    if let Some(signal) = ctx.interrupt.signal() {
        return Err(crate::cli::Interrupted(signal).into());
    }
    let ledger_hint = outcome.ledgers.as_ref().err().and_then(ops_hint);
    if failed > 0 {
        let hint = outcomes
            .iter()
            .filter_map(|o| match &o.status {
                SeriesStatus::Failed(e) => ops_hint(e),
                _ => None,
            })
            .next()
            .or(ledger_hint);
        return Err(UpdateFailed {
            count: failed,
            hint,
        }
        .into());
    }
    if ledger_error.is_some() {
        return Err(LedgersFailed { hint: ledger_hint }.into());
    }
    Ok(())
}

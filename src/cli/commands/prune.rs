//! `barkeep prune`: retention from the command line, with confirmation for `--all`.

use std::io::{BufRead, IsTerminal, Write};

use indicatif::{HumanBytes, HumanCount};

use crate::cli::args::prune::PruneArgs;
use crate::cli::failure::PruneFailed;
use crate::cli::formats;
use crate::cli::formats::table::{Column, Table};
use crate::cli::{Context, UsageError};
use crate::error_chain::error_chain;
use crate::market::When;
use crate::ops::prune::{self as op, PruneAction, PruneEffect, PruneOptions, PruneReport};
use crate::ops::selection::SeriesFilter;

fn confirm(question: &str) -> bool {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{question} [y/N] ");
    let _ = stderr.flush();
    let mut answer = String::new();
    // A signal ends this wait at once (issue 20): nothing has been removed yet.
    let _waiting = crate::interrupt::blocked_on(crate::interrupt::Wait::Other(
        "waiting for an answer to the confirmation question".to_owned(),
    ));
    std::io::stdin().lock().read_line(&mut answer).is_ok()
        && matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

pub fn run(ctx: &Context, args: PruneArgs) -> anyhow::Result<()> {
    if let Some(keep) = args.keep
        && !matches!(keep, When::Ago(_))
    {
        return Err(UsageError(format!(
            "--keep takes a span such as 90d, 6mo or 2y, not `{keep}`; use --before for a date"
        ))
        .into());
    }
    let cutoff = args.before.or(args.keep);
    if !args.all && !args.compact && args.symbols.is_empty() && cutoff.is_none() {
        return Err(UsageError(
            "say what to prune: SYMBOL... to remove series, --before WHEN or --keep SPAN to drop old bars, or --all".to_owned(),
        )
        .into());
    }
    let filter = SeriesFilter {
        symbols: args.symbols,
        timeframes: args.timeframes,
        feed: args.feed.map(Into::into),
    };
    if args.all && !args.dry_run && !args.yes && !confirm_all(ctx, &filter)? {
        ctx.printer.note("nothing removed");
        return Ok(());
    }
    let options = PruneOptions {
        filter,
        action: if args.compact {
            PruneAction::Compact
        } else {
            cutoff.map_or(PruneAction::Remove, PruneAction::Before)
        },
        dry_run: args.dry_run,
        wait_for_locks: !args.no_wait,
        now: ctx.now,
    };
    let report = op::prune(&ctx.store, &options)?;
    let mut out = formats::stdout();
    write_report(&mut out, &report, args.dry_run)?;
    out.flush()?;
    drop(out);
    if report.nothing_done() && report.failed.is_empty() {
        let why = if report.matched == 0 {
            "no cached series matches"
        } else if args.compact {
            "no series needed compacting"
        } else {
            "no bars are old enough"
        };
        ctx.printer.note(&format!("nothing to prune: {why}"));
    }
    for (key, error) in &report.failed {
        ctx.printer.error(&format!("{key}: {}", error_chain(error)));
    }
    if report.failed.is_empty() {
        return Ok(());
    }
    let action = match options.action {
        _ if args.dry_run => "checked",
        PruneAction::Remove => "removed",
        PruneAction::Compact => "compacted",
        PruneAction::Before(_) => "trimmed",
    };
    let count = report.failed.len();
    Err(PruneFailed { count, action }.into())
}

/// `--all` without `--yes`: asks on a terminal whether to remove every selected series
/// (refused when not on a terminal).
fn confirm_all(ctx: &Context, filter: &SeriesFilter) -> anyhow::Result<bool> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(UsageError("--all removes every cached series; add --yes to confirm when not running in a terminal".to_owned()).into());
    }
    let count = filter.select(&ctx.store)?.len();
    let root = ctx.store.root().display();
    Ok(confirm(&format!(
        "remove all {count} series from `{root}`?"
    )))
}

/// One line per series and ledger pruned (or that would be), then the totals; nothing when
/// nothing was done.
fn write_report(out: &mut dyn Write, report: &PruneReport, dry_run: bool) -> anyhow::Result<()> {
    let mut listing = Table::new([
        Column::left("what").min(12),
        Column::left("series"),
        Column::right("rows"),
        Column::right("size"),
    ])
    .without_header();
    for series in &report.series {
        let verb = match (series.effect, dry_run) {
            (PruneEffect::Removed, false) => "removed",
            (PruneEffect::Removed, true) => "would remove",
            (PruneEffect::Trimmed, false) => "trimmed",
            (PruneEffect::Trimmed, true) => "would trim",
            (PruneEffect::Compacted, false) => "compacted",
            (PruneEffect::Compacted, true) => "would compact",
        };
        listing.push(vec![
            verb.to_owned(),
            series.key.to_string(),
            format!("{} rows", HumanCount(series.rows)),
            HumanBytes(series.bytes).to_string(),
        ]);
    }
    listing.write(out)?;
    let mut ledgers =
        Table::new([Column::left("what").min(12), Column::left("ledger")]).without_header();
    let verb = if dry_run { "would remove" } else { "removed" };
    for symbol in &report.ledgers {
        ledgers.push(vec![
            verb.to_owned(),
            format!("{symbol} corporate actions (no series of {symbol} left)"),
        ]);
    }
    ledgers.write(out)?;
    if report.nothing_done() {
        return Ok(());
    }
    let mut temps = String::new();
    if report.temp_files > 0 {
        temps.push_str(&format!("; {} leftover temp files", report.temp_files));
    }
    if report.orphan_journals > 0 {
        temps.push_str(&format!(
            "; {} rollback journals without their series file",
            report.orphan_journals
        ));
    }
    let (remove, trim, free, suffix) = if dry_run {
        (
            "to remove",
            "to trim",
            "to free",
            " (dry run: nothing changed)",
        )
    } else {
        ("removed", "trimmed", "freed", "")
    };
    let totals = report.totals();
    writeln!(
        out,
        "{} series {remove}, {} {trim}: {} rows, {} {free}{temps}{suffix}",
        totals.removed,
        totals.trimmed,
        HumanCount(totals.rows),
        HumanBytes(totals.bytes),
    )?;
    Ok(())
}

//! `barkeep prune`: retention from the command line, with confirmation for `--all`.

use std::io::{BufRead, BufWriter, IsTerminal, Write};

use indicatif::{HumanBytes, HumanCount};

use crate::cli::args::prune::PruneArgs;
use crate::cli::bar_output::ReaderWait;
use crate::cli::failure::PruneFailed;
use crate::cli::{Context, UsageError};
use crate::market::When;
use crate::ops::inspect::error_chain;
use crate::ops::prune::{self as op, PruneAction, PruneEffect, PruneOptions};
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
    if args.all && !args.dry_run && !args.yes {
        let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        if !interactive {
            return Err(UsageError("--all removes every cached series; add --yes to confirm when not running in a terminal".to_owned()).into());
        }
        let count = filter.select(&ctx.store)?.len();
        if !confirm(&format!(
            "remove all {count} series from `{}`?",
            ctx.store.root().display()
        )) {
            ctx.printer.note("nothing removed");
            return Ok(());
        }
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

    let mut out = BufWriter::new(ReaderWait(std::io::stdout().lock()));
    let (mut removed, mut trimmed, mut rows, mut bytes) = (0, 0, 0u64, report.temp_bytes);
    for series in &report.series {
        let verb = match (series.effect, args.dry_run) {
            (PruneEffect::Removed, false) => {
                removed += 1;
                "removed"
            }
            (PruneEffect::Removed, true) => {
                removed += 1;
                "would remove"
            }
            (PruneEffect::Trimmed, false) => {
                trimmed += 1;
                "trimmed"
            }
            (PruneEffect::Trimmed, true) => {
                trimmed += 1;
                "would trim"
            }
            (PruneEffect::Compacted, false) => "compacted",
            (PruneEffect::Compacted, true) => "would compact",
        };
        rows += series.rows;
        bytes += series.bytes;
        writeln!(
            out,
            "{verb:<12}  {}  {} rows  {}",
            series.key,
            HumanCount(series.rows),
            HumanBytes(series.bytes)
        )?;
    }
    for symbol in &report.ledgers {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        writeln!(
            out,
            "{verb:<12}  {symbol} corporate actions (no series of {symbol} left)"
        )?;
    }
    let nothing_done = report.series.is_empty()
        && report.temp_files == 0
        && report.orphan_journals == 0
        && report.ledgers.is_empty();
    if nothing_done && !report.failed.is_empty() {
        // Every selected series failed: the errors below say why, not "nothing to prune".
        out.flush()?;
    } else if nothing_done {
        out.flush()?;
        drop(out);
        let why = if report.matched == 0 {
            "no cached series matches"
        } else if args.compact {
            "no series needed compacting"
        } else {
            "no bars are old enough"
        };
        ctx.printer.note(&format!("nothing to prune: {why}"));
    } else {
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
        let suffix = if args.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        };
        writeln!(
            out,
            "{removed} series {}, {trimmed} {}: {} rows, {} {}{temps}{suffix}",
            if args.dry_run { "to remove" } else { "removed" },
            if args.dry_run { "to trim" } else { "trimmed" },
            HumanCount(rows),
            HumanBytes(bytes),
            if args.dry_run { "to free" } else { "freed" },
        )?;
        out.flush()?;
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
    Err(PruneFailed {
        count: report.failed.len(),
        action,
    }
    .into())
}

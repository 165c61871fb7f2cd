//! `barkeep prune`: retention from the command line, with confirmation for `--all`.

use std::io::{BufRead, BufWriter, IsTerminal, Write};

use clap::Args;
use indicatif::{HumanBytes, HumanCount};

use super::fetch::FeedArg;
use crate::cli::bar_output::ReaderWait;
use crate::cli::{Context, UsageError};
use crate::market::{Symbol, Timeframe, When};
use crate::ops::inspect::error_chain;
use crate::ops::prune::{self as op, PruneAction, PruneEffect, PruneOptions};
use crate::ops::selection::SeriesFilter;

const EXAMPLES: &str = "\
Examples:
  barkeep prune TSLA                               # remove every cached TSLA series
  barkeep prune AAPL -t 1Min                       # remove one series
  barkeep prune --keep 2y                          # drop bars older than two years everywhere
  barkeep prune SPY --before 2020-01-01 --dry-run  # what would go, without changing anything
  barkeep prune --compact                          # rewrite every series into large row groups
  barkeep prune --all --yes                        # empty the cache
";

/// Remove series, or drop old bars, from the cache.
///
/// With symbols (optionally -t), removes those series. With --before or --keep, drops older
/// bars and the matching coverage (so a later fetch of that span asks Alpaca again) from the
/// selected series, or from every series when none is named. --all empties the cache. Also
/// removes temp files left by interrupted writes and rollback journals whose series file is
/// gone. A symbolic link at a series path is removed, never its target. Prints what it removed
/// (or would remove).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct PruneArgs {
    /// Symbols whose series to prune
    #[arg(value_name = "SYMBOL", conflicts_with = "all")]
    pub symbols: Vec<Symbol>,

    /// Only these timeframes; repeat for several
    #[arg(
        short,
        long = "timeframe",
        value_name = "TIMEFRAME",
        conflicts_with = "all"
    )]
    pub timeframes: Vec<Timeframe>,

    /// Only this stock feed
    #[arg(long, value_enum, value_name = "FEED", conflicts_with = "all")]
    pub feed: Option<FeedArg>,

    /// Drop bars before WHEN (YYYY-MM-DD, RFC 3339, or a span back from now such as 2y)
    #[arg(long, value_name = "WHEN", conflicts_with_all = ["keep", "all"])]
    pub before: Option<When>,

    /// Keep only the last SPAN of bars (e.g. 90d, 6mo, 2y); the same as --before SPAN
    #[arg(long, value_name = "SPAN", conflicts_with = "all")]
    pub keep: Option<When>,

    /// Rewrite the selected series (every series when none is named) into large row groups
    /// now, instead of waiting for the automatic compaction after many small appends; no bar
    /// changes
    #[arg(long, conflicts_with_all = ["before", "keep", "all"])]
    pub compact: bool,

    /// Remove every series in the cache (asks first on a terminal; needs --yes otherwise)
    #[arg(long)]
    pub all: bool,

    /// Show what would be removed and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,

    /// Exit 1 at once if another barkeep run holds a series' lock, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
}

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

/// Some selected series could not be pruned (each was named on stderr, with what happened):
/// exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{count} series could not be {action}")]
pub struct PruneFailed {
    pub count: usize,
    /// What was asked: "removed", "trimmed", "compacted" ("checked" in a dry run).
    pub action: &'static str,
}

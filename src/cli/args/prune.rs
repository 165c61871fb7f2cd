//! `barkeep prune`'s options. Its doc comments are its `-h`, `--help` and man page text.

use clap::Args;

use super::values::FeedArg;
use crate::market::{Symbol, Timeframe, When};

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

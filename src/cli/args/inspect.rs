//! `barkeep inspect`'s options. Its doc comments are its `-h`, `--help` and man page text.

use chrono::NaiveDate;
use clap::Args;

use super::values::{FeedArg, InspectFormat};
use crate::market::{Symbol, Timeframe};

const EXAMPLES: &str = "\
Examples:
  barkeep inspect                                  # every cached series
  barkeep inspect AAPL -t 1Day                     # one series, with its covered ranges
  barkeep inspect --format json | jq '.[] | select(.rows > 100000) | .path'
  barkeep inspect --verify                         # read every file whole; exit 1 on problems
  barkeep inspect AAPL -t 1Min --gaps              # sessions in the coverage without a bar
  barkeep inspect --calendar --start 2024-12-20 --end 2025-01-10
  barkeep inspect --assets --format csv            # the assets list update --universe uses
";

/// Show what the cache holds: one row per cached series.
///
/// Reads only the file footers, so it is fast on large caches. A damaged file is listed with
/// its error and never stops the listing. With --verify, every file is read whole and checked.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct InspectArgs {
    /// Only these symbols
    #[arg(value_name = "SYMBOL")]
    pub symbols: Vec<Symbol>,

    /// Only these timeframes; repeat for several
    #[arg(short, long = "timeframe", value_name = "TIMEFRAME")]
    pub timeframes: Vec<Timeframe>,

    /// Only this stock feed
    #[arg(long, value_enum, value_name = "FEED")]
    pub feed: Option<FeedArg>,

    /// Output format [default: table on a terminal, csv otherwise]
    ///
    /// table is for people, csv for text tools; json is the interface for programs (its
    /// fields are kept stable). The bars themselves come from `barkeep fetch`, whose arrow and
    /// parquet formats suit pyarrow, polars and DuckDB.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<InspectFormat>,

    /// Read every file whole and check it: a regular file (not a link or a directory),
    /// readable Parquet with the expected schema, sorted, one row per timestamp, rows inside
    /// the recorded coverage; also report rollback journals whose series file is gone and
    /// corporate-actions ledgers that cannot be read; exit 1 if anything is wrong
    #[arg(long)]
    pub verify: bool,

    /// List the market sessions inside each stock series' coverage that hold no bar at all
    ///
    /// For a liquid symbol such a session is missing data; for a thinly traded one it may be
    /// normal. Crypto has no calendar and is skipped. --start/--end narrow the dates checked.
    #[arg(long, conflicts_with = "verify")]
    pub gaps: bool,

    /// Print the US equity market calendar from --start to --end instead of the cache:
    /// sessions (extended and regular hours), early closes and holidays, 2016 to 2030
    #[arg(long, conflicts_with_all = ["verify", "gaps", "symbols", "timeframes", "feed"])]
    pub calendar: bool,

    /// Print the cached assets lists of `update --universe` instead of the series: symbol,
    /// name, exchange, status and asset class (only the SYMBOLs named, when any)
    ///
    /// Reads the copy in the cache and makes no request; `update --universe CLASS` fetches it
    /// (at most once per New York day).
    #[arg(long, conflicts_with_all = ["verify", "gaps", "calendar", "timeframes", "feed"])]
    pub assets: bool,

    /// First date (YYYY-MM-DD, New York) for --calendar or --gaps [default: --calendar: today]
    #[arg(long, value_name = "DATE")]
    pub start: Option<NaiveDate>,

    /// Last date, inclusive, for --calendar or --gaps [default: --calendar: 2 weeks after --start]
    #[arg(long, value_name = "DATE")]
    pub end: Option<NaiveDate>,
}

//! The command line: global options and the subcommand list. Each subcommand's own options
//! live in its file under `commands/`. These doc comments are the one source of `--help`,
//! the man pages and the shell completions.

use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

use super::commands::fetch::FetchArgs;
use super::generate::GenerateArgs;

const EXAMPLES: &str = "\
Examples:
  Ad hoc, daily bars as a table or CSV (no account needed for crypto):
    barkeep fetch BTC/USD -t 1Hour --start 7d
    barkeep fetch AAPL MSFT -t 1Day --start 2020-01-01 --end 2024-12-31 > bars.csv
  Pipelines (stdout carries only data):
    barkeep fetch SPY -t 1Min --start 2024-06-03 --end 2024-06-03 --format ndjson | jq .close
";

/// Keeps historical market-data bars from Alpaca in a local Parquet cache and serves them.
///
/// barkeep stores one Parquet file per symbol, timeframe and feed in the cache directory,
/// remembers which time ranges Alpaca has already answered, and asks Alpaca only for what is
/// missing. Stock data needs APCA_API_KEY_ID and APCA_API_SECRET_KEY; crypto needs no key.
#[derive(Debug, Parser)]
#[command(name = "barkeep", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fill the cache's gaps for some symbols, then print their bars.
    Fetch(FetchArgs),
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The cache directory [default: the user cache directory, e.g. ~/.cache/barkeep]
    #[arg(long, global = true, env = "BARKEEP_CACHE_DIR", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub cache_dir: Option<PathBuf>,

    /// Print less: no progress or notes (errors still show)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print a log of every request to Alpaca on stderr (API keys are never shown)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When to use colour on stderr (NO_COLOR is honoured)
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Never draw progress bars (they only ever appear when stderr is a terminal)
    // Falsey, not clap's default bool parser, so the variable may be 1/0 as well as true/false.
    #[arg(long, global = true, env = "BARKEEP_NO_PROGRESS", value_parser = FalseyValueParser::new())]
    pub no_progress: bool,

    /// Alpaca's market-data base URL
    #[arg(long, global = true, env = "APCA_API_DATA_URL", value_name = "URL", default_value = "https://data.alpaca.markets", value_hint = ValueHint::Url)]
    pub api_url: String,

    /// Requests per minute at most (Alpaca's free plan allows 200)
    #[arg(long, global = true, env = "BARKEEP_RATE_LIMIT", value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

//! `barkeep update`'s options. Its doc comments are its `-h`, `--help` and man page text.

use std::path::PathBuf;

use clap::{Args, ValueHint};

use clap::ValueEnum;

use super::values::{FeedArg, ReportFormat};
use crate::market::{Symbol, Timeframe, Universe, When};

const EXAMPLES: &str = "\
Examples:
  barkeep update                                   # every cached series, up to now
  barkeep update AAPL MSFT -t 1Day -t 1Min         # these series (created from --start if new)
  barkeep update --symbols-file watchlist.txt --start 2020-01-01
  barkeep update --dry-run                         # the plan, no request
  barkeep update --universe us_equity              # every active US stock Alpaca lists, daily
  barkeep update --universe us_equity --include-inactive --exchange NYSE,NASDAQ --start 2016-01-01
  # crontab: weekdays at 22:30, log to a file, exit status tells cron when something failed
  30 22 * * 1-5  barkeep update --symbols-file ~/watchlist.txt >> ~/barkeep.log 2>&1
  barkeep update --report json | jq '.series[] | select(.status == \"failed\")'
";

/// Bring cached series (or a watchlist) up to now, in as few requests as Alpaca allows.
///
/// With no symbols, updates every series already in the cache. With symbols (or
/// --symbols-file), updates those series for each -t given (default: the timeframes already
/// cached for the symbol, else 1Day), creating missing ones from --start. Series that miss the
/// same range share one request. Each series is committed as soon as its data is complete; a
/// failing series does not stop the others. Also refreshes the corporate-actions ledger of
/// every stock symbol it updates, all in one request per page, so `fetch --adjustment` (even
/// --offline) adjusts with current actions. Ends with one summary line on stderr. Exit status:
/// 0 when every series and the ledgers succeeded, 1 when any failed (each failure is named),
/// 2 for bad usage.
///
/// With --universe, the symbols are every asset of a class in Alpaca's assets list (the
/// Trading API, at APCA_API_BASE_URL, else `https://api.alpaca.markets`, falling back to
/// `https://paper-api.alpaca.markets` when the keys are refused), together with any symbols
/// given. The list is kept in the cache and asked at most once per New York day.
///
/// Series whose ticker ended are closed and never asked past the end: the asset is inactive
/// in the assets list (delisted), or the refreshed corporate actions report a rename away, a
/// worthless removal or a merger that bought it. A ticker that a rename gave to another
/// company has the history it held before the rename dropped and asked again, as Alpaca now
/// serves that company's bars under it. `inspect` shows both.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct UpdateArgs {
    /// Symbols to update (default: every cached series)
    #[arg(value_name = "SYMBOL")]
    pub symbols: Vec<Symbol>,

    /// Timeframes to update; repeat for several [default: those cached, else 1Day]
    #[arg(short, long = "timeframe", value_name = "TIMEFRAME")]
    pub timeframes: Vec<Timeframe>,

    /// Read symbols from FILE, one per line (`#` comments and blank lines ignored; `-` is stdin)
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub symbols_file: Option<PathBuf>,

    /// Where series that are not cached yet start [default: 1y]
    ///
    /// Same forms as `fetch --start`: YYYY-MM-DD, an RFC 3339 time, or a span such as 90d.
    #[arg(long, value_name = "WHEN")]
    pub start: Option<When>,

    /// Stock feed [default: every cached feed; sip for new series]
    #[arg(long, value_enum, value_name = "FEED")]
    pub feed: Option<FeedArg>,

    /// Update every asset of CLASS in Alpaca's assets list (active ones; see --include-inactive)
    ///
    /// The list comes from the Trading API (APCA_API_BASE_URL; unset: the live host, then the
    /// paper host when the live one refuses the keys), is kept in the cache and is asked at
    /// most once per New York day; `barkeep inspect --assets` prints it.
    #[arg(long, value_enum, value_name = "CLASS")]
    pub universe: Option<UniverseArg>,

    /// With --universe, also the assets no longer active (delisted), for their history
    #[arg(long, requires = "universe")]
    pub include_inactive: bool,

    /// With --universe, only assets listed on these exchanges (comma-separated, e.g. NYSE,NASDAQ)
    #[arg(
        long,
        requires = "universe",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub exchange: Vec<String>,

    /// Print the plan (series, ranges, estimated requests) and make no request
    #[arg(long)]
    pub dry_run: bool,

    /// Print a machine-readable report on stdout
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub report: Option<ReportFormat>,

    /// Exit 1 at once if another barkeep run holds a series' lock, instead of waiting
    #[arg(long)]
    pub no_wait: bool,
}

/// A class of Alpaca's assets list, spelled as Alpaca's `asset_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UniverseArg {
    /// US stocks and ETFs
    #[value(name = "us_equity")]
    UsEquity,
    /// Crypto pairs
    Crypto,
}

impl From<UniverseArg> for Universe {
    fn from(u: UniverseArg) -> Self {
        match u {
            UniverseArg::UsEquity => Universe::UsEquity,
            UniverseArg::Crypto => Universe::Crypto,
        }
    }
}

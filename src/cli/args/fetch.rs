//! `barkeep fetch`'s options. Its doc comments are its `-h`, `--help` and man page text.

use std::path::PathBuf;

use clap::{Args, ValueEnum, ValueHint};

use super::values::{BarFormat, FeedArg};
use crate::market::{Adjustments, Symbol, Timeframe, When};

const EXAMPLES: &str = "\
Examples:
  Ad hoc:
    barkeep fetch AAPL MSFT -t 1Day --start 2020-01-01 --end 2024-12-31 > bars.csv
    barkeep fetch AAPL -t 1Day --start 2021-03-01 --end 2021-06-30      # from the cache: no request
    barkeep fetch BTC/USD -t 1Hour --start 30d                          # crypto needs no API key
    barkeep fetch SPY -t 5Min --start 2024-06-03 --offline -o spy.csv    # never touch the network
    barkeep fetch SPY --start 2016-01-01 --adjustment all                # total-return-style closes
  Built from the cached 1Min bars (no request for the timeframe itself):
    barkeep fetch SPY -t 1Hour --session regular --start 2024-06-03 --end 2024-06-07  # 09:30, 10:30, ...
    barkeep fetch SPY -t 1Day --session regular --start 1y              # one bar per session, open to close
    barkeep fetch SPY QQQ -t 15Min --from 1Min --start 30d              # equals Alpaca's 15Min bars
  Cron (a crontab line: quiet unless something fails, the file replaced atomically):
    30 22 * * 1-5  barkeep -q fetch AAPL MSFT SPY -t 1Day --start 30d -o \"$HOME/data/daily.csv\"
  Pipelines (stdout carries only data):
    barkeep fetch SPY QQQ -t 1Day --start 1y --format ndjson | jq -c 'select(.close > .open)'
    barkeep fetch SPY -t 1Min --start 1y --format arrow | python3 -c 'import sys, polars as pl; print(pl.read_ipc_stream(sys.stdin.buffer))'
    barkeep fetch SPY QQQ --start 10y --format parquet -o daily.parquet    # for DuckDB, pyarrow, Spark
    barkeep fetch SPY -t 1Min --start 2024-06-03 --end 2024-06-07 | head -3
";

/// Fill the cache's gaps for some symbols, then print their bars.
///
/// Asks Alpaca only for the parts of the range the cache has not seen, commits them, and
/// writes the bars of the whole range to stdout (or --output), ordered by symbol then time.
/// A second run over the same range makes no request at all.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct FetchArgs {
    /// Symbols: stocks such as AAPL or BRK.B, crypto pairs such as BTC/USD
    ///
    /// Case does not matter. Stocks and crypto can be mixed in one run.
    ///
    /// Example: barkeep fetch aapl BRK.B BTC/USD
    #[arg(value_name = "SYMBOL", required = true)]
    pub symbols: Vec<Symbol>,

    /// Bar timeframe: [1-59]Min, [1-23]Hour, 1Day, 1Week, 1/2/3/4/6/12Month (or T, H, D, W, M)
    ///
    /// Every form Alpaca accepts, including the short ones (15T is 15Min, 1D is 1Day). Output
    /// and file names always use the long spelling.
    ///
    /// Example: -t 15Min
    #[arg(short, long, value_name = "TIMEFRAME", default_value = "1Day")]
    pub timeframe: Timeframe,

    /// First bar to include [default: 5d for Min/Hour bars, 1y otherwise]
    ///
    /// WHEN is a calendar day (YYYY-MM-DD: a New York day for stocks, a UTC day for crypto),
    /// an RFC 3339 time (2024-06-03T13:30:00Z), a span back from now (90d, 12w, 6mo, 1y, 12h,
    /// 30min) or `now`.
    ///
    /// Example: --start 2020-01-01
    #[arg(long, value_name = "WHEN")]
    pub start: Option<When>,

    /// Last bar to include [default: now]; a calendar day includes the whole day
    ///
    /// Same forms as --start. An --end in the future is treated as now.
    ///
    /// Example: --end 2024-12-31
    #[arg(long, value_name = "WHEN")]
    pub end: Option<When>,

    /// Stock data feed (crypto always comes from Alpaca's `us` location)
    ///
    /// The feed is part of a series' identity: SIP and IEX bars are cached separately and
    /// never mixed.
    ///
    /// Example: --feed iex
    #[arg(long, value_enum, value_name = "FEED", default_value_t = FeedArg::Sip)]
    pub feed: FeedArg,

    /// Output format [default: table on a terminal, csv otherwise]
    ///
    /// CSV has the header symbol,timestamp,open,high,low,close,volume,trade_count,vwap;
    /// timestamps are RFC 3339 in UTC (the start of the bar) and numbers are printed exactly.
    /// ndjson prints one object per bar with the same field names, json one array.
    ///
    /// Which reader wants which: people a table; text tools (awk, cut, spreadsheets) csv; jq
    /// and line-by-line programs ndjson; pyarrow, polars and DuckDB arrow, an Arrow IPC stream
    /// they read from a pipe without parsing text (pyarrow.ipc.open_stream(sys.stdin.buffer),
    /// polars.read_ipc_stream); a file to keep, or Spark, parquet. Both binary formats have
    /// the same columns as csv with the cache's types: timestamp in nanoseconds, UTC; prices
    /// float64; volume uint64 for stocks and float64 for crypto (float64 when a run mixes
    /// both); trade_count uint64. They go to a pipe or -o FILE: a terminal is refused (exit 2).
    ///
    /// Example: --format ndjson
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<BarFormat>,

    /// Write the bars to FILE (replaced atomically) instead of stdout
    ///
    /// The bars are written to a temporary file beside FILE and renamed over it, so a reader
    /// never sees half a file and an interrupted run (Ctrl-C, SIGTERM) leaves the old one.
    /// The new FILE keeps the old one's mode and owner; a FILE whose owner barkeep may not
    /// keep, a read-only FILE (without --force) and a file of the cache are refused (exit 2).
    /// When only FILE, not its directory, is writable, it is rewritten in place (not
    /// atomically, with a note). A FILE that is not a regular file (/dev/null, a FIFO, a
    /// symlink, /dev/stdout) is written directly and never replaced. The format is csv unless
    /// --format says otherwise.
    ///
    /// Example: -o ~/data/aapl.csv
    #[arg(short, long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,

    /// Replace the --output FILE even when it is read-only (it stays read-only)
    ///
    /// Without it, a FILE without write permission is refused (exit 2), as an editor refuses
    /// to save over one.
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Do not use the network: serve what the cache holds, up to each series' last update
    ///
    /// Bars still provisional (the latest answer Alpaca gave) are served. A range reaching
    /// past a series' last answer (as `--end now` always does) is served up to it, with one
    /// note per series on stderr, e.g. `AAPL 1Min: cached through 2024-06-07 22:01 UTC,
    /// updated 3 minutes ago` (not with -q). Exits with status 1, and prints nothing on
    /// stdout, only when a series is not cached at all or has holes (unanswered ranges
    /// before its last answer); the message names them.
    ///
    /// Example: barkeep fetch AAPL MSFT --start 1y --offline | next-tool
    #[arg(long)]
    pub offline: bool,

    /// Adjust stock prices for corporate actions: raw, split, dividend, spin-off, all, or a
    /// comma list such as split,dividend
    ///
    /// The cache keeps raw bars only; adjusting happens on output, from the corporate actions
    /// barkeep records per symbol (asked again when more than a day old). split: prices ×
    /// old/new and volume × new/old before each split or stock dividend; dividend: prices ×
    /// (1 − dividend / previous raw close) before each cash dividend; all: both, for
    /// total-return-style series. Adjusted prices are rounded to 4 decimals. barkeep refuses to
    /// adjust across a spin-off. Crypto takes only raw.
    #[arg(long, value_name = "ADJ", default_value = "raw")]
    pub adjustment: Adjustments,

    /// Trading hours of the bars: extended (what Alpaca serves) or regular (09:30-16:00 New
    /// York, built from the cached 1Min bars)
    ///
    /// regular keeps the 1Min bars of the regular session only (09:30-13:00 on early closes,
    /// from the market calendar) and builds the timeframe from them: Min and Hour bars start
    /// at the open (1Hour: 09:30, 10:30, ..., 15:30, the last one cut at the close), 1Day is
    /// one bar per session stamped at its open, 1Week and Month bars gather those sessions
    /// over Alpaca's weeks and months. It implies --from 1Min: the 1Min series is the one
    /// fetched and cached, and nothing else is stored. Stocks only (exit 2 for crypto).
    ///
    /// Example: -t 1Hour --session regular
    #[arg(long, value_enum, value_name = "SESSION", default_value_t = SessionArg::Extended)]
    pub session: SessionArg,

    /// Build the timeframe from this cached finer timeframe (1Min) instead of asking Alpaca
    /// for it
    ///
    /// The 1Min series is filled and cached as a fetch of it would be; the requested N-Min or
    /// N-Hour bars are built from it as they are printed, in buckets counted from midnight
    /// (New York for stocks, UTC for crypto) as Alpaca's are, so they equal Alpaca's bars of
    /// that timeframe. Nothing is stored for the requested timeframe. Any intraday source
    /// whose length divides the target's is accepted.
    ///
    /// Example: -t 5Min --from 1Min
    #[arg(long, value_name = "TIMEFRAME")]
    pub from: Option<Timeframe>,
}

/// `--session`: which trading hours the bars cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SessionArg {
    /// What Alpaca serves: pre-market and after-hours included
    Extended,
    /// The regular session only, 09:30-16:00 New York (13:00 on early closes)
    Regular,
}

impl From<SessionArg> for crate::market::aggregate::Session {
    fn from(s: SessionArg) -> Self {
        match s {
            SessionArg::Extended => Self::Extended,
            SessionArg::Regular => Self::Regular,
        }
    }
}

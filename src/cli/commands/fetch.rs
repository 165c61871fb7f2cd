//! `barkeep fetch`: arguments, then fill gaps and print bars (adjusted on the way out when
//! `--adjustment` asks for it).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum, ValueHint};

use crate::cache;
use crate::cli::bar_output::{BarFormat, write_bars};
use crate::cli::progress::Progress;
use crate::cli::{Context, Interrupted, UsageError, environment, output_file};
use crate::market::{Adjustments, AssetClass, Feed, Symbol, Timeframe, When};
use crate::ops::fetch::{self as op, FetchOptions, LedgerUse};
use crate::parquet_files::metadata::format_instant;

const EXAMPLES: &str = "\
Examples:
  Ad hoc:
    barkeep fetch AAPL MSFT -t 1Day --start 2020-01-01 --end 2024-12-31 > bars.csv
    barkeep fetch AAPL -t 1Day --start 2021-03-01 --end 2021-06-30      # from the cache: no request
    barkeep fetch BTC/USD -t 1Hour --start 30d                          # crypto needs no API key
    barkeep fetch SPY -t 5Min --start 2024-06-03 --offline -o spy.csv    # never touch the network
    barkeep fetch SPY --start 2016-01-01 --adjustment all                # total-return-style closes
  Cron (a crontab line: quiet unless something fails, the file replaced atomically):
    30 22 * * 1-5  barkeep -q fetch AAPL MSFT SPY -t 1Day --start 30d -o \"$HOME/data/daily.csv\"
  Pipelines (stdout carries only data):
    barkeep fetch SPY QQQ -t 1Day --start 1y --format ndjson | jq -c 'select(.close > .open)'
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedArg {
    /// All US exchanges (the consolidated tape)
    Sip,
    /// Investors Exchange only
    Iex,
    /// Over-the-counter
    Otc,
    /// Blue Ocean ATS (overnight)
    Boats,
}

impl From<FeedArg> for Feed {
    fn from(f: FeedArg) -> Self {
        match f {
            FeedArg::Sip => Feed::Sip,
            FeedArg::Iex => Feed::Iex,
            FeedArg::Otc => Feed::Otc,
            FeedArg::Boats => Feed::Boats,
        }
    }
}

/// Checks that `path` can be written before any work is done: not a file of the cache at
/// `cache_root`, and replaceable (see `output_file`).
fn check_output_path(path: &Path, force: bool, cache_root: &Path) -> anyhow::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() {
        return Err(UsageError(format!(
            "--output `{}` is a directory; give a file name",
            path.display()
        ))
        .into());
    }
    if !parent.is_dir() {
        return Err(UsageError(format!(
            "the directory of --output `{}` does not exist; create it first",
            path.display()
        ))
        .into());
    }
    if cache::location::holds(cache_root, path) {
        return Err(UsageError(format!(
            "--output `{}` is inside the cache `{}`, where the bars would replace its own files; write the output somewhere else",
            path.display(),
            cache_root.display()
        ))
        .into());
    }
    output_file::check(path, force)
}

/// Adjustments apply to stocks only: crypto has no corporate actions.
fn check_adjustment(adjustment: Adjustments, symbols: &[Symbol]) -> Result<(), UsageError> {
    match symbols
        .iter()
        .find(|s| s.asset_class() == AssetClass::Crypto)
    {
        Some(crypto) if !adjustment.is_raw() => Err(UsageError(format!(
            "--adjustment {adjustment} applies to stocks only, and {crypto} is crypto; fetch crypto pairs with --adjustment raw (the default)"
        ))),
        _ => Ok(()),
    }
}

/// How long ago `then` was, for people: `3 days`, `5 hours`, `12 minutes`.
fn age(now: chrono::DateTime<chrono::Utc>, then: chrono::DateTime<chrono::Utc>) -> String {
    let minutes = (now - then).num_minutes().max(0);
    let (n, unit) = match minutes {
        m if m >= 2 * 24 * 60 => (m / (24 * 60), "days"),
        m if m >= 2 * 60 => (m / 60, "hours"),
        m => (m, "minutes"),
    };
    format!("{n} {unit}")
}

/// `--offline` past a series' last answer: one note per series saying how far the cache
/// reaches and how old it is (`-q` silences it).
fn note_reach(ctx: &Context, reach: &[op::CachedThrough]) {
    for r in reach {
        ctx.printer.note(&format!(
            "{} {}: cached through {} UTC, updated {} ago",
            r.key.symbol,
            r.key.timeframe,
            r.through.format("%Y-%m-%d %H:%M"),
            age(ctx.now, r.updated_at)
        ));
    }
}

fn note_ledgers(ctx: &Context, ledgers: &[LedgerUse], offline: bool) {
    for ledger in ledgers {
        let checked = format!(
            "{} ago ({})",
            age(ctx.now, ledger.checked_at),
            format_instant(ledger.checked_at)
        );
        if let Some(error) = &ledger.refresh_error {
            ctx.printer.warning(&format!(
                "could not check the corporate actions of {} ({error}); adjusting with those last checked {checked}",
                ledger.symbol
            ));
        } else if offline {
            ctx.printer.note(&format!(
                "note: --offline: adjusting {} with its corporate actions as last checked {checked}",
                ledger.symbol
            ));
        } else if ledger.refreshed {
            ctx.printer.log(&format!(
                "corporate actions of {} checked now",
                ledger.symbol
            ));
        } else {
            ctx.printer.log(&format!(
                "corporate actions of {} last checked {checked}",
                ledger.symbol
            ));
        }
    }
}

pub async fn run(ctx: &Context, args: FetchArgs) -> anyhow::Result<()> {
    check_adjustment(args.adjustment, &args.symbols)?;
    let options = FetchOptions {
        symbols: args.symbols,
        timeframe: args.timeframe,
        stock_feed: args.feed.into(),
        start: args.start,
        end: args.end,
        now: ctx.now,
    };
    let targets = op::targets(&options).map_err(|e| UsageError(e.to_string()))?;
    if let Some(path) = &args.output {
        check_output_path(path, args.force, ctx.store.root())?;
    }
    let progress = Arc::new(Progress::new(ctx.printer.clone()));
    let client = if args.offline {
        None
    } else {
        Some(ctx.client(progress.clone())?)
    };
    let fetched = op::fetch(
        &ctx.store,
        client.as_ref(),
        targets,
        args.adjustment,
        ctx.now,
        progress.clone(),
        &ctx.interrupt,
    )
    .await;
    progress.finish();
    ctx.printer
        .log(&format!("{} requests to Alpaca", progress.requests()));
    let fetched = fetched?;
    note_ledgers(ctx, &fetched.ledgers, args.offline);
    note_reach(ctx, &fetched.reach);
    // A damaged file that its footer does not give away fails on its first chunk: fail before
    // anything is written, rather than after a header.
    let mut series = fetched.series.peekable();
    if matches!(series.peek(), Some(Err(_)))
        && let Some(Err(e)) = series.next()
    {
        return Err(e.into());
    }

    // Output runs on a thread of its own: the runtime stays free to see Ctrl-C or SIGTERM,
    // which the output notices between two chunks.
    let output = args.output;
    let force = args.force;
    let printer = ctx.printer.clone();
    let format = args.format;
    let pace = environment::test_write_delay();
    let interrupt = ctx.interrupt.clone();
    let stop = move || {
        if let Some(pace) = pace {
            std::thread::sleep(pace);
        }
        match interrupt.signal() {
            Some(signal) => Err(Interrupted(signal).into()),
            None => Ok(()),
        }
    };
    tokio::task::spawn_blocking(move || match &output {
        Some(path) => {
            let format = format.unwrap_or(BarFormat::Csv);
            output_file::write(path, force, &printer, |out| {
                write_bars(out, format, series, &stop)
            })
        }
        None => {
            let stdout = std::io::stdout();
            let format = format.unwrap_or(if stdout.is_terminal() {
                BarFormat::Table
            } else {
                BarFormat::Csv
            });
            // Unbuffered beyond std's line buffering: each chunk goes out in one write as
            // soon as it is formatted.
            let mut out = Stdout(stdout.lock());
            write_bars(&mut out, format, series, &stop)?;
            Ok(out.flush()?)
        }
    })
    .await?
}

/// Standard output, whose write errors say it was standard output (a full disk behind a
/// redirection is otherwise a bare "No space left on device"). The error kind is kept, so a
/// closed pipe still ends the run quietly.
struct Stdout<W>(W);

impl<W: Write> Stdout<W> {
    fn name(e: std::io::Error) -> std::io::Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            e
        } else {
            std::io::Error::new(e.kind(), format!("cannot write to stdout: {e}"))
        }
    }
}

impl<W: Write> Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(Self::name)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf).map_err(Self::name)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(Self::name)
    }
}

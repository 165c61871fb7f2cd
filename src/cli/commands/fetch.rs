//! `barkeep fetch`: fill gaps and print bars (adjusted on the way out when
//! `--adjustment` asks for it).

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use std::path::Path;
use std::sync::Arc;

use crate::cache;
use crate::cli::args::fetch::FetchArgs;
use crate::cli::args::values::BarFormat;
use crate::cli::formats::bars::write_bars;
use crate::cli::progress::Progress;
use crate::cli::{Context, Interrupted, UsageError, environment, output_file};
use crate::market::{Adjustments, AssetClass, ClosingReason, Symbol};
use crate::ops::derive::{self, ProvisionalFrom};
use crate::ops::fetch::{self as op, FetchOptions, LedgerUse};
use crate::parquet_files::metadata::format_instant;

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

/// Arrow and Parquet are bytes for programs: a terminal would show garbage, and could take
/// control sequences from them. Refused before any work, like a bad option, whether the
/// terminal is stdout or the `-o` file (`-o /dev/tty`, `-o /dev/stdout` on a terminal).
fn check_binary_destination(
    format: Option<BarFormat>,
    output: Option<&Path>,
) -> Result<(), UsageError> {
    let Some(format) = format.filter(|f| f.is_binary()) else {
        return Ok(());
    };
    let terminal = match output {
        None => std::io::stdout().is_terminal().then(|| "stdout".to_owned()),
        Some(path) => {
            output_file::is_terminal(path).then(|| format!("--output `{}`", path.display()))
        }
    };
    match terminal {
        Some(terminal) => {
            let name = format
                .to_possible_value()
                .map_or_else(String::new, |v| v.get_name().to_owned());
            Err(UsageError(format!(
                "--format {name} writes binary data, and {terminal} is a terminal; pipe it into a program that reads it, or write a file with -o FILE"
            )))
        }
        None => Ok(()),
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

/// A series asked past the end of its ticker: one note per series naming the successor when
/// there is one (`-q` silences it). The bars held up to the end are printed, exit 0.
fn note_ended(ctx: &Context, ended: &[(cache::SeriesKey, crate::market::Closing)]) {
    for (key, closing) in ended {
        let after = match (&closing.reason, &closing.successor) {
            (ClosingReason::Renamed, Some(successor)) => {
                format!("; its later bars are under {successor} (barkeep fetch {successor})")
            }
            (ClosingReason::Acquired, Some(acquirer)) => {
                format!("; no bars after it (the company is part of {acquirer})")
            }
            _ => "; no bars after it".to_owned(),
        };
        ctx.printer.note(&format!(
            "note: {} {}: {closing}{after}",
            key.symbol, key.timeframe
        ));
    }
}

/// Derived bars whose bucket may still change: one note per series (`-q` silences it).
fn note_provisional(ctx: &Context, provisional: &[ProvisionalFrom]) {
    for p in provisional {
        ctx.printer.note(&format!(
            "note: {} {} (built from {}): bars whose bucket ends after {} UTC are provisional: their bucket has not ended, or holds provisional {} bars",
            p.key.symbol,
            p.key.timeframe,
            p.source,
            p.from.format("%Y-%m-%d %H:%M"),
            p.source
        ));
    }
}

pub async fn run(ctx: &Context, args: FetchArgs) -> anyhow::Result<()> {
    check_adjustment(args.adjustment, &args.symbols)?;
    check_binary_destination(args.format, args.output.as_deref())?;
    let classes: Vec<AssetClass> = args.symbols.iter().map(Symbol::asset_class).collect();
    let derivation = derive::derivation(
        args.timeframe,
        args.from,
        args.session.into(),
        &args.symbols,
    )
    .map_err(|e| UsageError(e.to_string()))?;
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
    let fetched = derive::fetch_derived(
        &ctx.store,
        client.as_ref(),
        targets,
        derivation,
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
    note_ended(ctx, &fetched.ended);
    note_provisional(ctx, &fetched.provisional);
    // A damaged file that its footer does not give away fails on its first chunk: fail before
    // anything is written, rather than after a header.
    let mut series = fetched.series.peekable();
    if matches!(series.peek(), Some(Err(_)))
        && let Some(Err(e)) = series.next()
    {
        return Err(e.into());
    }

    write_output(ctx, args.output, args.force, args.format, classes, series).await
}

/// Writes the bars to `-o` or stdout. Output runs on a thread of its own: the runtime stays
/// free to see Ctrl-C or SIGTERM, which the output notices between two chunks.
///
/// Except for an output of one chunk (up to 65,536 bars) to a stdout that no reader can
/// stall (a regular file, `/dev/null`), on the current-thread runtime (a directory cache):
/// its few milliseconds of work are done here, without starting a thread. With its footer
/// read on this thread too (`map_blocking` of one read), a cached fetch of one series starts
/// none: 0.4 ms of 3.3 in a shell loop (issue 24). There is no "between two chunks" in it for
/// a signal to stop at, and a signal that arrives meanwhile still sets the exit status (the
/// runtime sees it when this yields once the output is written).
async fn write_output(
    ctx: &Context,
    output: Option<std::path::PathBuf>,
    force: bool,
    format: Option<BarFormat>,
    classes: Vec<AssetClass>,
    mut series: impl Iterator<Item = Result<op::FetchedSeries, crate::ops::Error>> + Send + 'static,
) -> anyhow::Result<()> {
    let printer = ctx.printer.clone();
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
    let inline =
        output.is_none() && crate::blocking_tasks::may_block_here() && stdout_cannot_stall();
    // The caller has decoded the first chunk already; this decodes the second, if any.
    let head: Vec<_> = if inline {
        series.by_ref().take(2).collect()
    } else {
        Vec::new()
    };
    if inline && head.len() < 2 {
        let written = write_to(
            None,
            force,
            format,
            &printer,
            &classes,
            head.into_iter(),
            &stop,
        );
        tokio::task::yield_now().await;
        return written;
    }
    crate::blocking_tasks::spawn(move || {
        let series = head.into_iter().chain(series);
        write_to(
            output.as_deref(),
            force,
            format,
            &printer,
            &classes,
            series,
            &stop,
        )
    })
    .await?
}

/// Writes `series` to `-o` (`output`) or stdout, in `format` or the default for the
/// destination (a table on a terminal, else CSV). Blocks.
fn write_to(
    output: Option<&Path>,
    force: bool,
    format: Option<BarFormat>,
    printer: &crate::cli::printer::Printer,
    classes: &[AssetClass],
    series: impl Iterator<Item = Result<op::FetchedSeries, crate::ops::Error>> + Send,
    stop: &dyn Fn() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let format = format.unwrap_or(BarFormat::Csv);
            output_file::write(path, force, printer, |out| {
                write_bars(out, format, classes, series, stop)
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
            write_bars(&mut out, format, classes, series, stop)?;
            Ok(out.flush()?)
        }
    }
}

/// Whether standard output is something no reader can stall a write to: a regular file, or
/// `/dev/null`. A pipe, a terminal, a socket or another device can.
#[cfg(unix)]
fn stdout_cannot_stall() -> bool {
    use rustix::fs::FileType;
    let Ok(stdout) = rustix::fs::fstat(std::io::stdout()) else {
        return false;
    };
    match FileType::from_raw_mode(stdout.st_mode) {
        FileType::RegularFile => true,
        FileType::CharacterDevice => {
            rustix::fs::stat("/dev/null").is_ok_and(|null| null.st_rdev == stdout.st_rdev)
        }
        _ => false,
    }
}

/// Without a way to ask, any standard output may stall.
#[cfg(not(unix))]
fn stdout_cannot_stall() -> bool {
    false
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

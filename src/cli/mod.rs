//! The command-line edge: parse argv, set up output, handle `generate` (which needs neither
//! the cache nor the network), build the runtime, dispatch to a subcommand, and render any
//! error with its causes and a hint before choosing the exit status. The only code that
//! knows about argv, terminals and exit codes.

pub mod args;
pub mod commands;
mod environment;
mod exit_status;
mod failure;
mod formats;
mod generate;
mod output_file;
mod printer;
mod progress;
mod trading_api;
mod write_behind;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::{self, Client, ClientConfig, RetryPolicy};
use crate::cache::{self, Store};
use crate::events::Observer;
use crate::interrupt::{Interrupt, Signal, Wait};
use crate::market::adjustment::AdjustmentError;
use crate::market::shown_input;
use crate::ops;
use args::{Cli, Command};
use exit_status::ExitStatus;
use printer::Printer;

/// Bad usage or input: exit status 2, shown as one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A signal stopped the run (Ctrl-C: exit status 130; SIGTERM: 143), after everything
/// answered so far was committed.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {}", .0.name())]
pub struct Interrupted(pub Signal);

/// How long a command may take, after a signal, to commit what it has before the process
/// stops anyway. Waits for anything that is not ours end sooner (see [`run`]).
const GRACE_AFTER_SIGNAL: Duration = Duration::from_secs(10);
/// How often, after a signal, the run looks for a thread blocked on something outside the
/// process (a FIFO, stdin, a reader of the output).
const BLOCKED_CHECK_EVERY: Duration = Duration::from_millis(50);

/// What every subcommand needs.
#[derive(Clone)]
pub struct Context {
    pub printer: Printer,
    pub store: Store,
    pub now: DateTime<Utc>,
    /// Set by SIGINT or SIGTERM: operations stop early and commit what they have.
    pub interrupt: Interrupt,
    api_url: String,
    rate_limit: u32,
}

impl Context {
    /// An Alpaca client reporting to `observer`.
    pub fn client(&self, observer: Arc<dyn Observer>) -> anyhow::Result<Client> {
        let mut retry = RetryPolicy::default();
        if let Some(base) = environment::retry_base_delay()? {
            retry.base_delay = base;
            retry.max_delay = retry.max_delay.min(base * 64);
        }
        let config = ClientConfig {
            base_url: self.api_url.clone(),
            credentials: environment::credentials(),
            retry,
            requests_per_minute: self.rate_limit,
            connect_timeout: std::time::Duration::from_secs(10),
            read_timeout: std::time::Duration::from_secs(60),
            now: self.now,
            interrupt: self.interrupt.clone(),
        };
        Client::new(config, observer).map_err(|e| match e {
            api::Error::InvalidBaseUrl { url, reason } => UsageError(format!(
                "--api-url (or APCA_API_DATA_URL) `{url}` is not usable: {reason}; give an http(s) URL such as https://data.alpaca.markets"
            ))
            .into(),
            e => e.into(),
        })
    }
}

pub fn main() -> ExitCode {
    if let Some(version) = version_alone() {
        return version;
    }
    let cli = match Cli::parse_from_args(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(e) => return clap_error(&e),
    };
    let global = &cli.global;
    let printer = Printer::new(
        global.color,
        global.quiet,
        global.verbose,
        global.no_progress,
    );
    match run(cli, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let (status, show) = ExitStatus::of(&e);
            if show {
                render_error(&printer, &e, status);
            }
            status.into()
        }
    }
}

/// Help and version go to stdout with status 0 (1 when stdout cannot take them, say a full
/// disk; 0 for a closed pipe); a bad value is one line naming the problem and the fix; other
/// usage errors keep clap's usage text. All usage errors exit 2.
fn clap_error(e: &clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let written = e
                .print()
                .and_then(|()| std::io::Write::flush(&mut std::io::stdout()));
            let what = if e.kind() == ErrorKind::DisplayHelp {
                "the help"
            } else {
                "the version"
            };
            shown_on_stdout(written, what)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(ExitStatus::Usage.code())
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            // One line: the problem, then what would be accepted. The value is repeated
            // escaped and cut short: it may be 10,000 characters, or hold control bytes.
            let mut rendered = e.render().to_string();
            if let Some(ContextValue::String(value)) = e.get(ContextKind::InvalidValue) {
                rendered = with_value_shown(&rendered, value, e.get(ContextKind::InvalidArg));
            }
            let message = rendered
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            Printer::fallback().error(message);
            ExitCode::from(ExitStatus::Usage.code())
        }
        _ => {
            let _ = e.print();
            ExitCode::from(ExitStatus::Usage.code())
        }
    }
}

/// Status 0 when `written` (the help or the version, `what`) reached stdout, or stdout was a
/// closed pipe; else one line saying why and status 1.
fn shown_on_stdout(written: std::io::Result<()>, what: &str) -> ExitCode {
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Printer::fallback().error(&format!("cannot write {what} to stdout: {error}"));
            ExitCode::from(ExitStatus::Failure.code())
        }
        _ => ExitCode::SUCCESS,
    }
}

/// What clap prints for `--version`: the name and version, one line.
const VERSION_LINE: &str = concat!("barkeep ", env!("CARGO_PKG_VERSION"), "\n");

/// `barkeep --version` (or `-V`) with nothing else is answered before clap builds its
/// command tree (every subcommand, option and help text, allocated on each run): shell
/// loops that ask for the version pay the start of the process only (issue 24). The line
/// and the statuses are clap's own (a unit test compares them); any other argv, `--version`
/// among other arguments too, goes to clap as before.
fn version_alone() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let (Some(only), None) = (args.next(), args.next()) else {
        return None;
    };
    if only != "--version" && only != "-V" {
        return None;
    }
    let mut stdout = std::io::stdout().lock();
    let written = std::io::Write::write_all(&mut stdout, VERSION_LINE.as_bytes())
        .and_then(|()| std::io::Write::flush(&mut stdout));
    Some(shown_on_stdout(written, "the version"))
}

/// clap's `invalid value '…' for '--arg': …` with the value escaped and cut short wherever
/// it is repeated (a parser's own message may repeat it too). clap's rendering strips escape
/// sequences but keeps other control bytes and any length, so the value between the quotes
/// is replaced whole.
fn with_value_shown(
    rendered: &str,
    value: &str,
    arg: Option<&clap::error::ContextValue>,
) -> String {
    let shown = shown_input(value);
    if shown == value {
        return rendered.to_owned();
    }
    let prefix = "invalid value '";
    let mut text = rendered.to_owned();
    if let (Some(start), Some(clap::error::ContextValue::String(arg))) = (text.find(prefix), arg) {
        let start = start + prefix.len();
        if let Some(len) = text[start..].find(&format!("' for '{arg}'")) {
            text.replace_range(start..start + len, &shown);
        }
    }
    text.replace(value, &shown)
}

/// Threads for blocking work (file and object reads, commits, the output writer). Reads and
/// commits are bounded by their own limits; this bounds the pool itself, which otherwise
/// grows to hundreds of threads under a stream of short blocking tasks (437 in a 10,000-series
/// update), each keeping a stack and allocator caches (peak RSS 213 MB instead of ~100 MB).
/// Work beyond it waits in tokio's queue. Room for every read and commit in flight at once,
/// plus the output writer and a command that runs whole on a blocking thread.
const BLOCKING_THREADS: usize =
    crate::ops::concurrent_reads::READS_IN_FLIGHT + crate::ops::gap_fill::COMMITS_IN_FLIGHT + 16;

fn run(cli: Cli, printer: &Printer) -> anyhow::Result<()> {
    // Packagers run `generate` in build sandboxes with no home or cache directory.
    let command = match cli.command {
        Command::Generate(args) => return generate::run(args),
        command => command,
    };
    raise_open_file_limit();
    let now = environment::now()?;
    let location = match cache::location::resolve(cli.global.cache_dir.clone()) {
        Err(e @ cache::Error::Location { .. }) => {
            return Err(UsageError(format!("--cache-dir (or BARKEEP_CACHE_DIR): {e}")).into());
        }
        location => location?,
    };
    let store = Store::open(&location, environment::test_write_delay())?;
    let workers = needs_workers(&command, &location);
    let (interrupt, trigger) = Interrupt::new();
    let ctx = Context {
        printer: printer.clone(),
        store,
        now,
        interrupt: interrupt.clone(),
        api_url: cli.global.api_url.clone(),
        rate_limit: cli.global.rate_limit,
    };
    let output = match &command {
        Command::Fetch(args) => args.output.clone(),
        _ => None,
    };
    let mut builder = if workers {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()?;
    let (result, abandoned) = runtime.block_on(async {
        crate::interrupt::listen(trigger);
        tokio::select! {
            result = dispatch(&ctx, command) => (result, None),
            (signal, blocked) = stopped(&interrupt, output.as_deref()) => {
                (Err(Interrupted(signal).into()), blocked)
            }
        }
    });
    // After a signal the status says so, whatever the command made of it (a wait it cut
    // short fails with an error that only repeats the line below).
    let result = match interrupt.signal() {
        Some(signal) => {
            let waited = abandoned.clone().or_else(crate::interrupt::given_up);
            if let Some(wait) = waited {
                printer.note(&format!(
                    "interrupted ({}) while {}",
                    signal.name(),
                    describe(&wait, output.as_deref())
                ));
            } else if let Err(e) = &result {
                let (status, show) = ExitStatus::of(e);
                if show {
                    render_error(printer, e, status);
                }
            }
            Err(Interrupted(signal).into())
        }
        None => result,
    };
    if abandoned.is_some() {
        // The blocked thread never returns: leave it to the process exit.
        runtime.shutdown_background();
    } else if !workers && interrupt.signal().is_none() && crate::blocking_tasks::in_flight() == 0 {
        // Nothing left to finish: the blocking threads are idle, and on a current-thread
        // runtime no task runs after `block_on` to start another. Waking and joining them
        // only delays the exit (0.3-0.5 ms in a micro-benchmark, issue 24).
        runtime.shutdown_background();
    } else {
        // Give blocking tasks a moment, so a commit in progress when the signal arrived
        // finishes (under its lock) before the process exits. Commits are atomic, so even
        // one abandoned after this leaves no torn file.
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
    result
}

/// Whether a run needs the multi-thread runtime's worker threads: when it reaches a bucket
/// (whose reads block a worker, `block_in_place`, and keep its connections on the runtime),
/// and for `update`, which decodes the answers of many requests at once (10,000 series a
/// night). Every other run does its file work on blocking threads and its few requests on
/// the main thread: a current-thread runtime, which starts and stops no worker threads
/// (issue 24: a shell loop pays them on every call). A `fetch`'s requests are paced by the
/// rate limit (200 a minute on the free plan), far below what one thread decodes.
fn needs_workers(command: &Command, location: &cache::location::Location) -> bool {
    if matches!(location, cache::location::Location::Bucket(_)) {
        return true;
    }
    match command {
        Command::Update(_) | Command::Generate(_) => true,
        Command::Fetch(_) | Command::Inspect(_) | Command::Prune(_) => false,
    }
}

/// Resolves when the run must stop without waiting for the command any more, with the signal
/// and the wait it cuts short, if any. A command sees the signal through `ctx.interrupt`,
/// commits what it has and returns `Interrupted`; one that does not return within
/// [`GRACE_AFTER_SIGNAL`] is stopped anyway. A thread blocked on something outside the
/// process (which no signal unblocks) is not waited for at all: nothing else is in flight
/// while one is registered (see [`crate::interrupt::blocked_on`]).
async fn stopped(interrupt: &Interrupt, output: Option<&Path>) -> (Signal, Option<Wait>) {
    let signal = interrupt.wait().await;
    let deadline = tokio::time::Instant::now() + GRACE_AFTER_SIGNAL;
    loop {
        let blocked = crate::interrupt::blocked()
            .into_iter()
            .find(|wait| !is_our_own_file(wait, output));
        if blocked.is_some() || tokio::time::Instant::now() >= deadline {
            return (signal, blocked);
        }
        tokio::time::sleep(BLOCKED_CHECK_EVERY).await;
    }
}

/// Whether `wait` is the output being written to a regular `--output` file: that goes to a
/// temp file of ours, which the output removes itself when it stops between two chunks, so
/// it is waited for like any of our own work.
fn is_our_own_file(wait: &Wait, output: Option<&Path>) -> bool {
    matches!(wait, Wait::Output)
        && output.is_some_and(|path| !output_file::is_written_directly(path))
}

/// The end of `interrupted (SIGTERM) while ...`.
fn describe(wait: &Wait, output: Option<&Path>) -> String {
    match (wait, output) {
        (Wait::Output, None) => "writing to stdout (the reader stopped reading)".to_owned(),
        (Wait::Output, Some(path)) => format!(
            "writing to `{}` (the reader stopped reading)",
            path.display()
        ),
        (Wait::Other(what), _) => what.clone(),
    }
}

/// Raises the soft limit of open files to the hard limit (macOS starts shells at 256). A
/// run needs a bounded number of files whatever the number of series; this only leaves
/// headroom for the rest of the system's habits. Best effort: a failure changes nothing.
fn raise_open_file_limit() {
    #[cfg(unix)]
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

async fn dispatch(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Fetch(args) => commands::fetch::run(ctx, args).await,
        Command::Update(args) => commands::update::run(ctx, args).await,
        // File work that may wait for locks runs off the async threads, so Ctrl-C still works.
        Command::Inspect(args) => {
            let ctx = ctx.clone();
            crate::blocking_tasks::spawn(move || commands::inspect::run(&ctx, args)).await?
        }
        Command::Prune(args) => {
            let ctx = ctx.clone();
            crate::blocking_tasks::spawn(move || commands::prune::run(&ctx, args)).await?
        }
        Command::Generate(_) => unreachable!("`run` handles generate before the runtime exists"),
    }
}

fn render_error(printer: &Printer, error: &anyhow::Error, status: ExitStatus) {
    let messages = crate::error_chain::messages(error.as_ref());
    let (first, causes) = messages.split_first().expect("an error has a message");
    printer.error(first);
    if status != ExitStatus::Usage {
        for cause in causes {
            printer.caused_by(cause);
        }
    }
    if let Some(hint) = hint_for(error) {
        printer.hint(&hint);
    }
}

/// The first hint any error in the chain calls for.
fn hint_for(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| {
        if let Some(failed) = cause.downcast_ref::<failure::UpdateFailed>() {
            return failed.hint.clone();
        }
        if let Some(failed) = cause.downcast_ref::<failure::LedgersFailed>() {
            return failed.hint.clone();
        }
        if let Some(e) = cause.downcast_ref::<ops::Error>() {
            match e {
                ops::Error::Offline(_) => {
                    return Some(
                        "run the same command without --offline to download what is missing"
                            .to_owned(),
                    );
                }
                ops::Error::Adjustment {
                    source: AdjustmentError::SpinOff { .. },
                    ..
                } => {
                    return Some(
                        "ask for --adjustment split,dividend to leave spin-offs out, or fetch the bars from the spin-off on".to_owned(),
                    );
                }
                _ => {}
            }
            return ops_hint(e);
        }
        cause
            .downcast_ref::<api::Error>()
            .and_then(api_hint)
            .or_else(|| cause.downcast_ref::<cache::Error>().and_then(cache_hint))
    })
}

/// The hint an operation's error calls for, from the API or cache error behind it.
pub(crate) fn ops_hint(e: &ops::Error) -> Option<String> {
    e.api_error()
        .and_then(api_hint)
        .or_else(|| e.cache_error().and_then(cache_hint))
}

fn api_hint(error: &api::Error) -> Option<String> {
    match error {
        api::Error::MissingCredentials => Some(format!(
            "set {} and {} to your Alpaca API key pair (crypto symbols such as BTC/USD need no key)",
            environment::KEY_ID,
            environment::SECRET_KEY
        )),
        api::Error::Unauthorized { .. } => Some(format!(
            "check {} and {}: they must be a market-data key pair from your Alpaca dashboard (OAuth and broker keys do not work here)",
            environment::KEY_ID,
            environment::SECRET_KEY
        )),
        api::Error::Forbidden { message } if message.to_ascii_lowercase().contains("subscription") => Some(
            "your Alpaca plan does not include this data; try --feed iex, or an older range".to_owned(),
        ),
        api::Error::Forbidden { .. } => Some(format!(
            "check {} and {}: Alpaca refuses them for this data (a market-data key pair from your Alpaca dashboard is needed; OAuth and broker keys do not work here)",
            environment::KEY_ID,
            environment::SECRET_KEY
        )),
        api::Error::GaveUp { last, .. } if last.status() == Some(429) => {
            Some("Alpaca's rate limit kept refusing requests; try again later or lower --rate-limit".to_owned())
        }
        api::Error::GaveUp { last, .. } if last.status().is_some() => Some(
            "Alpaca kept failing; try again later (what was fetched is kept, and the next run asks only for the rest)".to_owned(),
        ),
        api::Error::GaveUp { .. } | api::Error::Transport(_) => {
            Some("check the network connection and APCA_API_DATA_URL, then run the command again; what was fetched is kept".to_owned())
        }
        _ => None,
    }
}

fn cache_hint(error: &cache::Error) -> Option<String> {
    match error {
        cache::Error::Damaged {
            path,
            symbol,
            timeframe,
            ..
        } => Some(format!(
            "run `barkeep prune {symbol} -t {timeframe}` to remove `{}`, then fetch again; other series are not affected",
            path.display()
        )),
        cache::Error::NotAFile {
            path,
            symbol,
            timeframe,
            ..
        } => Some(format!(
            "barkeep never follows or writes through it: run `barkeep prune {symbol} -t {timeframe}` to remove `{}` (a link itself, never its target), then fetch again",
            path.display()
        )),
        cache::Error::Journal { journal, path, .. } => Some(format!(
            "the file `{}` may hold a half-finished append: delete it and fetch again (or, if it reads fine elsewhere, delete only the journal `{}`)",
            path.display(),
            journal.display()
        )),
        cache::Error::NoCacheDir => Some("pass --cache-dir or set BARKEEP_CACHE_DIR".to_owned()),
        cache::Error::DamagedLedger { path, .. } => Some(format!(
            "delete `{}`; the next `barkeep fetch --adjustment` or `barkeep update` records the actions again",
            path.display()
        )),
        cache::Error::Locked { .. } => {
            Some("wait for the other barkeep run to finish, or run without --no-wait".to_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[test]
    fn the_version_answered_before_clap_is_clap_s_own() {
        assert_eq!(VERSION_LINE, Cli::command().render_version());
        for flag in ["--version", "-V"] {
            let e = Cli::try_parse_from(["barkeep", flag]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
            assert_eq!(e.render().to_string(), VERSION_LINE);
        }
    }
}

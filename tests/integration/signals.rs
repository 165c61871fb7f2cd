//! Every wait is interruptible (issue 20): SIGINT and SIGTERM stop barkeep within a second
//! wherever it waits — opening or reading a `--symbols-file` FIFO or stdin, opening an
//! `--output` FIFO nobody reads, writing to a reader that stopped reading, a series lock
//! another process holds, a retry back-off — with exit status 130 or 143 and one line saying
//! what it was waiting for. Before, these runs took 10 to 15 seconds, or never ended.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::emulator::Fault;
use crate::support::{TestEnv, mkfifo};

/// How soon after the signal the process must be gone. Issue 20 asks for 1 s; the margin is
/// for a loaded test machine (the old code took 10 s at least).
const STOPS_WITHIN: Duration = Duration::from_secs(2);
/// A process still running this long after the signal is killed, and the test fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(5);

/// What a signalled run left: its status, its stderr, and how long it took to stop.
struct Stopped {
    status: ExitStatus,
    stderr: String,
    latency: Duration,
}

/// Starts `cmd` (its stdin and stdout as set, left open and unread), waits until `ready()`
/// and then `settle` more (failing if it ends meanwhile), sends `signal` (`INT`, `TERM`), and
/// waits for it to end, at most [`GIVE_UP_AFTER`] (then kills it and fails). Prints the
/// latency and stderr (for `--nocapture`: the numbers issue 20 asks for).
#[allow(clippy::print_stderr)]
fn signal_when(
    cmd: &mut Command,
    ready: impl Fn() -> bool,
    settle: Duration,
    signal: &str,
) -> Stopped {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let settled = Instant::now() + settle;
    while Instant::now() < settled {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("ended before the signal, with {status}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > GIVE_UP_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running {GIVE_UP_AFTER:?} after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let latency = sent.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    eprintln!("stopped {latency:?} after SIG{signal}\n{stderr}");
    Stopped {
        status,
        stderr,
        latency,
    }
}

/// Checks the status, that the stop was prompt, and the one line naming the wait.
#[track_caller]
fn assert_stopped(stopped: &Stopped, code: i32, line: &str) {
    assert_eq!(stopped.status.code(), Some(code), "{}", stopped.stderr);
    assert!(
        stopped.latency < STOPS_WITHIN,
        "took {:?} to stop; stderr: {}",
        stopped.latency,
        stopped.stderr
    );
    let lines: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| l.starts_with("interrupted ("))
        .collect();
    assert_eq!(lines, [line], "{}", stopped.stderr);
}

/// The hourly bars of SPY over half of 2023 (about 2,000 bars, 170 KB of CSV: more than a
/// pipe holds), with more arguments.
fn fetch_spy(extra: &str) -> String {
    format!("fetch SPY -t 1Hour --start 2023-01-01 --end 2023-07-01 {extra}")
}

#[test]
fn sigterm_ends_a_wait_for_a_symbols_file_fifo_nobody_writes() {
    let env = TestEnv::new();
    let fifo = env.dir.path().join("watchlist");
    mkfifo(&fifo);
    let mut update = env.command(&format!("update --symbols-file '{}'", fifo.display()));
    let stopped = signal_when(&mut update, || true, Duration::from_millis(300), "TERM");
    assert_stopped(
        &stopped,
        143,
        &format!(
            "interrupted (SIGTERM) while waiting for --symbols-file `{}` to be written",
            fifo.display()
        ),
    );
    assert!(env.emu.requests().is_empty());
}

#[test]
fn sigterm_ends_a_wait_for_stdin_that_is_never_closed() {
    let env = TestEnv::new();
    // `sleep 100 | barkeep update --symbols-file -`: the writer never writes nor closes.
    let mut update = env.command("update --symbols-file -");
    update.stdin(Stdio::piped());
    let stopped = signal_when(&mut update, || true, Duration::from_millis(300), "TERM");
    assert_stopped(
        &stopped,
        143,
        "interrupted (SIGTERM) while waiting for stdin to be written and closed (--symbols-file -)",
    );
    assert!(env.emu.requests().is_empty());
}

#[test]
fn sigint_ends_a_wait_for_a_reader_of_the_output_fifo() {
    let env = TestEnv::new();
    env.run(&fetch_spy("")).success();
    let fifo = env.dir.path().join("bars.fifo");
    mkfifo(&fifo);
    let mut fetch = env.command(&fetch_spy(&format!("--offline -o '{}'", fifo.display())));
    let stopped = signal_when(&mut fetch, || true, Duration::from_millis(500), "INT");
    assert_stopped(
        &stopped,
        130,
        &format!(
            "interrupted (SIGINT) while waiting for a reader to open `{}`",
            fifo.display()
        ),
    );
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo(), "the FIFO is left as it was");
}

#[test]
fn sigterm_ends_a_write_to_a_reader_that_stopped_reading() {
    let env = TestEnv::new();
    env.run(&fetch_spy("")).success();
    // `fetch ... | sleep 60`: the pipe fills, and the next write blocks. The whole output
    // takes milliseconds, so still running after 1.5 s means blocked on the full pipe.
    let mut fetch = env.command(&fetch_spy("--offline --format csv"));
    fetch.stdout(Stdio::piped());
    let stopped = signal_when(&mut fetch, || true, Duration::from_millis(1_500), "TERM");
    assert_stopped(
        &stopped,
        143,
        "interrupted (SIGTERM) while writing to stdout (the reader stopped reading)",
    );
}

#[test]
fn sigterm_ends_an_inspect_writing_to_a_reader_that_stopped_reading() {
    let env = TestEnv::new();
    // Fifteen years of calendar rows are well over a pipe's 64 KiB: the writes block.
    let mut inspect =
        env.command("inspect --calendar --start 2016-01-01 --end 2030-12-31 --format csv");
    inspect.stdout(Stdio::piped());
    let stopped = signal_when(&mut inspect, || true, Duration::from_millis(1_500), "TERM");
    assert_stopped(
        &stopped,
        143,
        "interrupted (SIGTERM) while writing to stdout (the reader stopped reading)",
    );
}

/// Another barkeep (here: the test, locking the way barkeep does) holds the lock of AAPL
/// 1Day, and a new day of bars is to be committed. Returns the held lock file, the series
/// path and its bytes.
fn lock_held_by_another_process(env: &TestEnv) -> (std::fs::File, PathBuf, Vec<u8>) {
    env.run("update -q AAPL --start 2024-06-03").success();
    env.emu.set_now(env.emu.now() + chrono::TimeDelta::days(1));
    let series = env.series_path("stocks/sip/1Day/AAPL.parquet");
    let holder = std::fs::OpenOptions::new()
        .write(true)
        .open(series.with_file_name(".AAPL.parquet.lock"))
        .unwrap();
    holder.lock().unwrap();
    let before = std::fs::read(&series).unwrap();
    env.take_bar_requests();
    (holder, series, before)
}

#[test]
fn sigterm_ends_an_update_waiting_for_a_lock_another_process_holds() {
    let env = TestEnv::new();
    let (holder, series, before) = lock_held_by_another_process(&env);
    // Once Alpaca answered, the commit waits for the lock.
    let answered = || !env.emu.bar_requests().is_empty();
    let mut update = env.command("update AAPL");
    let stopped = signal_when(&mut update, answered, Duration::from_millis(500), "TERM");
    assert_stopped(
        &stopped,
        143,
        "interrupted (SIGTERM) while waiting for the lock of AAPL 1Day (stocks sip) held by another barkeep",
    );
    assert_eq!(std::fs::read(&series).unwrap(), before, "nothing written");
    drop(holder);
    env.run("update AAPL").success();
    assert_ne!(std::fs::read(&series).unwrap(), before);
}

#[test]
fn sigint_ends_a_prune_waiting_for_a_lock_another_process_holds() {
    let env = TestEnv::new();
    let (_holder, series, before) = lock_held_by_another_process(&env);
    let mut prune = env.command("prune AAPL");
    let stopped = signal_when(&mut prune, || true, Duration::from_millis(500), "INT");
    assert_stopped(
        &stopped,
        130,
        "interrupted (SIGINT) while waiting for the lock of AAPL 1Day (stocks sip) held by another barkeep",
    );
    assert_eq!(std::fs::read(&series).unwrap(), before, "not removed");
}

#[test]
fn sigterm_ends_a_retry_back_off() {
    let env = TestEnv::new();
    // Alpaca keeps failing the corporate actions, and the first back-off lasts 10 to 20 s.
    env.emu.inject_corporate_actions(Fault::Status(503), 10);
    let mut fetch = env.command("fetch AAPL --start 2024-06-03 --adjustment split");
    fetch
        .env("BARKEEP_RETRY_BASE_MS", "20000")
        .stdout(Stdio::null());
    let asked = || !env.emu.corporate_action_requests().is_empty();
    let stopped = signal_when(&mut fetch, asked, Duration::from_millis(300), "TERM");
    assert_stopped(
        &stopped,
        143,
        "interrupted (SIGTERM) while waiting to retry a request (HTTP 503 from Alpaca)",
    );
    assert_eq!(
        env.emu.corporate_action_requests().len(),
        1,
        "not asked again after the signal"
    );
}

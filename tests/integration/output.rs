//! Where `barkeep fetch` writes: `-o` to a regular file (temp file renamed over it) and to
//! things that are not regular files (a FIFO, a symlink, a device, `/dev/stdout`), which are
//! written directly and never replaced; SIGINT and SIGTERM in the middle of the output (exit
//! 130 and 143, no temp file left, the old output file and the cache untouched); a closed
//! pipe (exit 0, nothing said) and a full stdout (an error naming stdout).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Running, TestEnv, mkfifo, run, signal, spawn, wait_until};

const SYMBOLS: [&str; 5] = ["AAPL", "ACME", "MSFT", "NVDA", "SPY"];

/// `fetch` of daily bars of the five symbols over 2023, with extra arguments.
fn fetch(extra: &str) -> String {
    let symbols = SYMBOLS.join(" ");
    format!("fetch {symbols} -t 1Day --start 2023-01-01 --end 2023-12-31 --format csv {extra}")
}

/// `fetch` offline to `-o path`.
fn fetch_to(path: &Path) -> String {
    fetch(&format!("--offline -o '{}'", path.display()))
}

/// A test env whose cache holds the five series, and their CSV as stdout shows it.
fn cached() -> (TestEnv, String) {
    let env = TestEnv::new();
    let csv = env.run(&fetch("")).success().stdout;
    assert!(csv.lines().count() > 5 * 240, "{csv}");
    (env, csv)
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

/// Whether this process runs as root (a file it creates belongs to uid 0).
fn is_root(dir: &Path) -> bool {
    let probe = dir.join("uid-probe");
    std::fs::write(&probe, b"").unwrap();
    let root = std::fs::metadata(&probe).unwrap().uid() == 0;
    std::fs::remove_file(probe).unwrap();
    root
}

#[test]
fn output_to_a_regular_file_replaces_it_and_leaves_no_temp_file() {
    let (env, csv) = cached();
    let out = env.dir.path().join("bars.csv");
    std::fs::write(&out, "old\n").unwrap();
    env.run(&fetch_to(&out)).success().assert_stdout_empty();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    assert!(temp_files(env.dir.path()).is_empty());
}

/// An output of many megabytes (written behind the formatter, in several buffers, past the
/// page cache where the filesystem allows) is byte for byte what stdout gets.
#[test]
fn a_large_output_to_a_file_is_what_stdout_gets() {
    let env = TestEnv::new();
    let fetch = "fetch AAPL MSFT SPY -t 1Min --start 2023-01-01 --end 2023-04-01 --format csv";
    let csv = env.run(fetch).success().stdout;
    assert!(csv.len() > 8 << 20, "only {} bytes", csv.len());
    let out = env.dir.path().join("minutes.csv");
    std::fs::write(&out, "old\n").unwrap();
    env.run(&format!("{fetch} --offline -o '{}'", out.display()))
        .success()
        .assert_stdout_empty();
    assert!(
        std::fs::read_to_string(&out).unwrap() == csv,
        "the file differs from stdout"
    );
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn output_to_a_fifo_writes_into_it_and_keeps_it() {
    let (env, csv) = cached();
    let fifo = env.dir.path().join("bars.fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    env.run(&fetch_to(&fifo)).success();
    assert_eq!(reader.join().unwrap(), csv);
    let meta = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn output_to_a_symlink_writes_its_target_and_keeps_the_link() {
    let (env, csv) = cached();
    let target = env.dir.path().join("target.csv");
    std::fs::write(&target, "old\n").unwrap();
    let link = env.dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    env.run(&fetch_to(&link)).success();
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_symlink(), "the symlink was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), csv);
    assert!(temp_files(env.dir.path()).is_empty());
}

#[test]
fn output_to_dev_null_and_dev_stdout_writes_through_them() {
    let (env, csv) = cached();
    // As root the old code renamed a regular file over /dev/null; as anyone else it failed
    // creating `/dev/.null.barkeep-N.tmp`.
    env.run(&fetch("--offline -o /dev/null")).success();
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device());
    let through_stdout = env.run(&fetch("--offline -o /dev/stdout")).success();
    assert_eq!(through_stdout.stdout, csv);
}

#[test]
fn output_to_a_character_device_keeps_it_when_root() {
    let (env, csv) = cached();
    if !is_root(env.dir.path()) {
        eprintln!("not root: skipping the mknod test (`-o /dev/null` covers devices otherwise)");
        return;
    }
    let device = env.dir.path().join("null");
    let status = Command::new("mknod")
        .args(["-m", "666"])
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    if !status.success() {
        eprintln!("mknod is not permitted here: skipping");
        return;
    }
    env.run(&fetch_to(&device)).success();
    let meta = std::fs::symlink_metadata(&device).unwrap();
    assert!(meta.file_type().is_char_device(), "the device was replaced");
    assert!(temp_files(env.dir.path()).is_empty());
    drop(csv);
}

/// Starts an offline fetch to `-o out` slowed to about 300 ms per series (the test-only
/// write delay also paces output chunks), and waits until its temp file exists.
fn slow_output_to_file(env: &TestEnv, out: &Path) -> Running {
    let running = spawn(slowed(&mut env.command(&fetch_to(out))));
    let started = wait_until(Duration::from_secs(20), || {
        !temp_files(env.dir.path()).is_empty()
    });
    assert!(started, "the output never started");
    running
}

/// `cmd` slowed by the test-only write delay to about 300 ms per series.
fn slowed(cmd: &mut Command) -> &mut Command {
    cmd.env("BARKEEP_TEST_WRITE_DELAY_US", "300000")
}

fn signal_mid_output_to_file(name: &str, code: i32) {
    let (env, _) = cached();
    let out = env.dir.path().join("bars.csv");
    std::fs::write(&out, "old\n").unwrap();
    let before = env.snapshot();
    let running = slow_output_to_file(&env, &out);
    signal(running.id(), name);
    running.wait().failure(code).assert_stdout_empty();
    let left = temp_files(env.dir.path());
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    assert!(env.snapshot() == before, "the cache changed");
}

#[test]
fn sigint_mid_output_exits_130_and_removes_the_temp_file() {
    signal_mid_output_to_file("INT", 130);
}

#[test]
fn sigterm_mid_output_exits_143_and_removes_the_temp_file() {
    signal_mid_output_to_file("TERM", 143);
}

#[test]
fn ctrl_c_mid_output_to_stdout_stops_it() {
    let (env, csv) = cached();
    let mut running = spawn(slowed(&mut env.command(&fetch("--offline"))));
    let mut stdout = BufReader::new(running.take_stdout());
    let (mut header, mut first, mut rest) = (String::new(), String::new(), String::new());
    stdout.read_line(&mut header).unwrap();
    stdout.read_line(&mut first).unwrap();
    signal(running.id(), "INT");
    stdout.read_to_string(&mut rest).unwrap();
    running.wait().failure(130);
    let printed = 2 + rest.lines().count();
    assert!(
        printed < csv.lines().count(),
        "printed all {printed} lines after Ctrl-C"
    );
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let (env, _) = cached();
    let mut running = spawn(&mut env.command(&fetch("--offline")));
    let mut header = String::new();
    BufReader::new(running.take_stdout())
        .read_line(&mut header)
        .unwrap();
    assert!(header.starts_with("symbol,timestamp"));
    running.wait().success().assert_stderr_empty();
}

#[test]
fn a_full_stdout_is_named_in_the_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("no /dev/full here: skipping");
        return;
    };
    let (env, _) = cached();
    let mut cmd = env.command(&fetch("--offline"));
    cmd.stdout(full);
    run(&mut cmd)
        .failure(1)
        .assert_stderr_contains("stdout")
        .assert_stderr_contains("No space left on device");
}

/// Stdout redirected to a regular file or `/dev/null`, as a shell loop's `> file` does: one
/// series (one chunk) is written on the main thread, several on the writing thread (the first
/// two chunks decoded before it starts); either way the bytes are those a pipe gets.
#[test]
fn stdout_redirected_to_a_file_gets_what_a_pipe_gets() {
    let (env, csv) = cached();
    let redirected = |line: &str, name: &str| {
        let path = env.dir.path().join(name);
        let mut cmd = env.command(line);
        cmd.stdout(std::fs::File::create(&path).unwrap());
        run(&mut cmd).success().assert_stderr_empty();
        std::fs::read_to_string(&path).unwrap()
    };
    assert_eq!(redirected(&fetch("--offline -q"), "all.csv"), csv);
    let one = "fetch NVDA -t 1Day --start 2023-01-01 --end 2023-12-31 --format csv --offline -q";
    let piped = env.run(one).success().stdout;
    assert!(piped.lines().count() > 240, "{piped}");
    assert_eq!(redirected(one, "one.csv"), piped);
    let mut cmd = env.command(one);
    cmd.stdout(Stdio::null());
    run(&mut cmd).success().assert_stderr_empty();
}

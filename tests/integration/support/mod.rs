//! Test support: `TestEnv` (a temporary cache, a running emulator and a hermetic
//! environment for the binary) and helpers to read its output and the cache.
//!
//! Tests read like the README: `env.run("fetch -q AAPL --start 2024-01-02")` (a command line
//! as one string, see `command_line`), `.success()` or `.failure(2)`, then
//! `.assert_stderr_contains(..)` on the [`Run`]; [`assert_asked`] checks the windows of the
//! requests the emulator received; `emulator::dates` has the one set of date helpers
//! ([`utc`], [`d`], [`ny`], [`rfc3339`]), re-exported here.

#![allow(dead_code)]

mod command_line;
pub(crate) mod emulator;
mod run;
pub(crate) mod s3_proxy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, Utc};

pub(crate) use command_line::CommandLine;
// A toolbox: a module uses the helpers it needs, and not every helper has a user at every
// moment (modules move to the new helpers one by one).
#[allow(unused_imports)]
pub(crate) use emulator::dates::{d, ny, rfc3339, utc};
use emulator::{EmuBar, Emulator, RecordedRequest};
#[allow(unused_imports)]
pub(crate) use run::{Run, Running, run, run_counting_threads, spawn};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_barkeep");

/// One test's world: an emulator, an empty cache directory, and the binary pointed at both.
pub(crate) struct TestEnv {
    pub(crate) emu: Emulator,
    pub(crate) dir: tempfile::TempDir,
}

/// Asserts that `requests` asked for exactly these `(start, end)` windows, in order (their
/// `start` and `end` parameters as sent): `assert_asked(&env.take_bar_requests(),
/// &[("2024-04-01T04:00:00Z", "2024-06-01T03:59:59.999999999Z")])`.
#[track_caller]
pub(crate) fn assert_asked(requests: &[RecordedRequest], windows: &[(&str, &str)]) {
    let asked: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| {
            let param = |name| r.param(name).unwrap_or("(none)");
            (param("start"), param("end"))
        })
        .collect();
    let sent: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.path, r.param("symbols").unwrap_or("")))
        .collect();
    assert!(
        asked == windows,
        "asked for the (start, end) windows\n  {asked:?}\nexpected\n  {windows:?}\n\
         requests: {sent:?}"
    );
}

impl TestEnv {
    pub(crate) fn new() -> Self {
        Self {
            emu: Emulator::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// The binary with a hermetic environment: only the variables a test sets.
    pub(crate) fn command(&self, line: impl CommandLine) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(line.into_args());
        self.hermetic(cmd)
    }

    /// The binary as [`TestEnv::command`] runs it, under a limit of `files` open files that
    /// it cannot raise (`ulimit -n` in sh lowers the soft and the hard limit).
    pub(crate) fn command_with_file_limit(&self, files: u32, line: impl CommandLine) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(line.into_args());
        self.hermetic(cmd)
    }

    fn hermetic(&self, mut cmd: Command) -> Command {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("BARKEEP_CACHE_DIR", self.cache())
            .env("APCA_API_DATA_URL", self.emu.url())
            .env("APCA_API_BASE_URL", self.emu.url())
            .env("APCA_API_KEY_ID", self.emu.key_id())
            .env("APCA_API_SECRET_KEY", self.emu.secret_key())
            .env("BARKEEP_NOW", rfc3339(self.emu.now()))
            .env("BARKEEP_RETRY_BASE_MS", "5")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to the end: `env.run("fetch -q AAPL --start 2024-06-03")`.
    pub(crate) fn run(&self, line: impl CommandLine) -> Run {
        run(&mut self.command(line))
    }

    /// The binary pointed at a cache in the test bucket (`url` from [`s3_cache_url`]).
    pub(crate) fn s3_command(&self, url: &str, line: impl CommandLine) -> Command {
        let endpoint = s3_endpoint().expect("S3 tests run only with BARKEEP_TEST_S3_ENDPOINT");
        let mut cmd = self.command(line);
        let scratch = self.s3_scratch();
        std::fs::create_dir_all(&scratch).unwrap();
        // An object-storage cache writes nothing locally: run in an empty working and temp
        // directory, which `assert_nothing_local` checks afterwards.
        cmd.current_dir(&scratch)
            .env("TMPDIR", &scratch)
            .env("BARKEEP_CACHE_DIR", url)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true");
        cmd
    }

    /// Runs the binary against the bucket cache, and checks that it created nothing on the
    /// local disk: not in its working or temp directory, the home directory, or anywhere
    /// else under the test's directory.
    #[track_caller]
    pub(crate) fn s3_run(&self, url: &str, line: impl CommandLine) -> Run {
        std::fs::create_dir_all(self.s3_scratch()).unwrap();
        let before = all_paths(self.dir.path());
        let result = run(&mut self.s3_command(url, line));
        let after = all_paths(self.dir.path());
        let created: Vec<_> = after.difference(&before).collect();
        assert!(
            created.is_empty(),
            "an object-storage cache wrote to the local disk: {created:?}"
        );
        result
    }

    /// The working and temp directory of the binary in S3 tests.
    fn s3_scratch(&self) -> PathBuf {
        self.dir.path().join("s3-scratch")
    }

    /// For tests that spawn [`TestEnv::s3_command`]s and never touch a local cache: fails if
    /// anything exists under the test's directory but the (empty) scratch directory.
    #[track_caller]
    pub(crate) fn assert_nothing_local(&self) {
        let scratch = self.s3_scratch();
        let found: Vec<_> = all_paths(self.dir.path())
            .into_iter()
            .filter(|p| *p != scratch)
            .collect();
        assert!(
            found.is_empty(),
            "an object-storage cache wrote to the local disk: {found:?}"
        );
    }

    /// Adds stock `symbols` to the emulator, listed since 2015-01-02.
    pub(crate) fn add_symbols<S: AsRef<str>>(&self, symbols: &[S]) {
        for s in symbols {
            self.emu.add_symbol(s.as_ref(), d("2015-01-02"));
        }
    }

    /// `barkeep fetch --format csv <args>`: its stdout, after asserting it succeeded.
    #[track_caller]
    pub(crate) fn fetch_csv(&self, args: &str) -> String {
        self.run(&format!("fetch --format csv {args}"))
            .success()
            .stdout
    }

    /// The emulator's raw SIP bars of the New York days `first` to `last` (whole days,
    /// midnight to midnight): what a fetch of `--start first --end last` prints.
    pub(crate) fn expected_bars(
        &self,
        symbol: &str,
        timeframe: &str,
        first: &str,
        last: &str,
    ) -> Vec<EmuBar> {
        self.expected_adjusted(symbol, timeframe, (first, last), "raw")
    }

    /// [`TestEnv::expected_bars`] with Alpaca's `adjustment` (`split`, `all`, …).
    pub(crate) fn expected_adjusted(
        &self,
        symbol: &str,
        timeframe: &str,
        (first, last): (&str, &str),
        adjustment: &str,
    ) -> Vec<EmuBar> {
        let midnight = |date: &str| emulator::calendar::new_york(d(date), 0, 0);
        let end = midnight(last) + chrono::TimeDelta::days(1) - chrono::TimeDelta::nanoseconds(1);
        self.emu
            .bars_adjusted(symbol, timeframe, midnight(first), end, "sip", adjustment)
    }

    /// Adds `symbols` to the emulator and writes them to `watchlist.txt`, one a line; its path.
    pub(crate) fn watchlist<S: AsRef<str>>(&self, symbols: &[S]) -> PathBuf {
        self.add_symbols(symbols);
        let path = self.dir.path().join("watchlist.txt");
        let lines: Vec<&str> = symbols.iter().map(AsRef::as_ref).collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    }

    /// A JSON file of the cache (a ledger, the index of checks), parsed.
    pub(crate) fn read_json(&self, relative: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.series_path(relative)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Asserts that no file is left in the cache (directories may be).
    #[track_caller]
    pub(crate) fn assert_no_files(&self) {
        let left = self.files();
        assert!(left.is_empty(), "files left in the cache: {left:?}");
    }

    /// Bar requests the emulator received since the last call.
    pub(crate) fn take_bar_requests(&self) -> Vec<RecordedRequest> {
        let requests = self.emu.bar_requests();
        self.emu.clear_requests();
        requests
    }

    /// Every file under the cache with its bytes, for "nothing changed" assertions.
    pub(crate) fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect(&self.cache(), &self.cache(), &mut files);
        files
    }

    pub(crate) fn series_path(&self, relative: &str) -> PathBuf {
        self.cache().join(relative)
    }

    /// The files (not directories) left in the cache, relative to it.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.snapshot()
            .into_keys()
            .filter(|p| !p.to_string_lossy().ends_with('/'))
            .collect()
    }
}

/// `n` distinct stock symbols made of letters: `{prefix}AA`, `{prefix}AB`, …
pub(crate) fn symbols(prefix: &str, n: u8) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "{prefix}{}{}",
                char::from(b'A' + i / 26),
                char::from(b'A' + i % 26)
            )
        })
        .collect()
}

/// `n` distinct stock symbols of three letters after `prefix`: `{prefix}AAA`, `{prefix}AAB`, …
pub(crate) fn long_symbols(prefix: &str, n: usize) -> Vec<String> {
    let letter = |k: usize| char::from(b'A' + u8::try_from(k % 26).unwrap());
    (0..n)
        .map(|i| format!("{prefix}{}{}{}", letter(i / 676), letter(i / 26), letter(i)))
        .collect()
}

/// Polls `ready` every 10 ms for at most `limit`; whether it became true.
pub(crate) fn wait_until(limit: std::time::Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while !ready() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    true
}

/// Makes a FIFO at `path`, with mkfifo(1).
#[track_caller]
pub(crate) fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Sends the signal `name` (`INT`, `TERM`) to the process `pid`, with kill(1).
#[track_caller]
pub(crate) fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Every file and directory below `dir`.
fn all_paths(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
            found.insert(entry.path());
        }
    }
    found
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if entry.file_type().unwrap().is_dir() {
            out.insert(relative.join(""), Vec::new());
            collect(root, &path, out);
        } else {
            out.insert(relative, std::fs::read(&path).unwrap());
        }
    }
}

/// The S3-compatible server the S3 tests use (CI starts moto_server and sets this).
pub(crate) fn s3_endpoint() -> Option<String> {
    std::env::var("BARKEEP_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
}

/// A fresh, empty cache location in the test bucket (`BARKEEP_TEST_S3_BUCKET`, default
/// `barkeep-test`, created by CI).
pub(crate) fn s3_cache_url() -> String {
    let bucket =
        std::env::var("BARKEEP_TEST_S3_BUCKET").unwrap_or_else(|_| "barkeep-test".to_owned());
    format!(
        "s3://{bucket}/it-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    )
}

/// One CSV row of `barkeep fetch` parsed back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CsvBar {
    pub(crate) symbol: String,
    pub(crate) t: DateTime<Utc>,
    pub(crate) bar: EmuBar,
}

pub(crate) fn parse_csv(text: &str) -> Vec<CsvBar> {
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("symbol,timestamp,open,high,low,close,volume,trade_count,vwap")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 9, "{line}");
            let t = utc(f[1]);
            CsvBar {
                symbol: f[0].to_owned(),
                t,
                bar: EmuBar {
                    t,
                    o: f[2].parse().unwrap(),
                    h: f[3].parse().unwrap(),
                    l: f[4].parse().unwrap(),
                    c: f[5].parse().unwrap(),
                    v: f[6].parse().unwrap(),
                    n: f[7].parse().unwrap(),
                    vw: f[8].parse().unwrap(),
                },
            }
        })
        .collect()
}

/// The bars of `symbol` in a CSV output.
pub(crate) fn bars_of(rows: &[CsvBar], symbol: &str) -> Vec<EmuBar> {
    rows.iter()
        .filter(|r| r.symbol == symbol)
        .map(|r| r.bar.clone())
        .collect()
}

/// The Python that runs the interoperability checks (`BARKEEP_TEST_PYTHON`; CI sets it).
pub(crate) fn test_python() -> Option<std::ffi::OsString> {
    std::env::var_os("BARKEEP_TEST_PYTHON")
}

/// `script` with an ending that leaves Python at once, once everything it printed is
/// flushed. pyarrow 26 sometimes aborts while the interpreter tears down ("terminate called
/// without an active exception", about 1 run in 20 on 2 busy cores, with no barkeep in the
/// pipe at all); skipping the teardown keeps that out of our results. An exception or
/// `sys.exit` before the ending still fails the run as before.
pub(crate) fn python_script(script: &str) -> String {
    format!(
        "{script}\nimport os as _os, sys as _sys\n_sys.stdout.flush()\n_sys.stderr.flush()\n_os._exit(0)\n"
    )
}

/// Runs `script` with `python` and `args`; its stdout, after asserting it succeeded.
pub(crate) fn run_python(python: &std::ffi::OsStr, script: &str, args: &[&Path]) -> String {
    let out = Command::new(python)
        .args(["-c", &python_script(script)])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

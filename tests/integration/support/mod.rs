//! Test support: `TestEnv` (a temporary cache, a running emulator and a hermetic
//! environment for the binary) and helpers to read its output and the cache.

#![allow(dead_code)]

pub(crate) mod emulator;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, SecondsFormat, Utc};

use emulator::{EmuBar, Emulator};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_barkeep");

/// One test's world: an emulator, an empty cache directory, and the binary pointed at both.
pub(crate) struct TestEnv {
    pub(crate) emu: Emulator,
    pub(crate) dir: tempfile::TempDir,
}

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn failure(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub(crate) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
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
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        self.hermetic(cmd)
    }

    /// The binary as [`TestEnv::command`] runs it, under a limit of `files` open files that
    /// it cannot raise (`ulimit -n` in sh lowers the soft and the hard limit).
    pub(crate) fn command_with_file_limit(&self, files: u32, args: &[&str]) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args);
        self.hermetic(cmd)
    }

    fn hermetic(&self, mut cmd: Command) -> Command {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("BARKEEP_CACHE_DIR", self.cache())
            .env("APCA_API_DATA_URL", self.emu.url())
            .env("APCA_API_KEY_ID", self.emu.key_id())
            .env("APCA_API_SECRET_KEY", self.emu.secret_key())
            .env("BARKEEP_NOW", rfc3339(self.emu.now()))
            .env("BARKEEP_RETRY_BASE_MS", "5")
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        run(&mut self.command(args))
    }

    /// The binary pointed at a cache in the test bucket (`url` from [`s3_cache_url`]).
    pub(crate) fn s3_command(&self, url: &str, args: &[&str]) -> Command {
        let endpoint = s3_endpoint().expect("S3 tests run only with BARKEEP_TEST_S3_ENDPOINT");
        let mut cmd = self.command(args);
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
    pub(crate) fn s3_run(&self, url: &str, args: &[&str]) -> Run {
        std::fs::create_dir_all(self.s3_scratch()).unwrap();
        let before = all_paths(self.dir.path());
        let result = run(&mut self.s3_command(url, args));
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

    /// Bar requests the emulator received since the last call.
    pub(crate) fn take_bar_requests(&self) -> Vec<emulator::RecordedRequest> {
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

pub(crate) fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("barkeep runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// [`run`], also sampling how many threads the process has every few milliseconds (from
/// `/proc`, Linux only: elsewhere the count is `None`); returns the most seen.
pub(crate) fn run_counting_threads(cmd: &mut Command) -> (Run, Option<usize>) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("barkeep runs");
    let tasks = format!("/proc/{}/task", child.id());
    let sampler = std::thread::spawn(move || {
        let mut most = None;
        // The directory goes away once the child has exited and been reaped.
        while let Ok(threads) = std::fs::read_dir(&tasks) {
            most = Some(most.unwrap_or(0).max(threads.count()));
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        most
    });
    let output = child.wait_with_output().expect("barkeep runs");
    let most = sampler.join().expect("the sampler does not panic");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    };
    (run, most)
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

/// Runs `script` with `python` and `args`; its stdout, after asserting it succeeded.
pub(crate) fn run_python(python: &std::ffi::OsStr, script: &str, args: &[&Path]) -> String {
    let out = Command::new(python)
        .args(["-c", script])
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

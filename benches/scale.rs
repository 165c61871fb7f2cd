//! `cargo bench --bench scale`: the scale targets of issues 12 and 14, measured by running the
//! release `barkeep` binary against the Alpaca emulator of the integration tests
//! (`tests/integration/support/emulator/`) on 127.0.0.1, each scenario in its own temporary
//! cache and emulator:
//!
//! - 10,000 daily stock series one trading day stale: `update` wall <= 10 s and peak RSS
//!   <= 200 MB, a re-run right after (nothing new) <= 2 s, and an update under `ulimit -n 256`
//!   succeeds;
//! - issue 23: the whole universe, 11,000 daily series one trading day stale, `update --universe
//!   us_equity` against the emulator's assets list: wall <= 8 s, peak RSS <= 200 MB, under
//!   `ulimit -n 256`;
//! - 1,000 1Min series one session stale (about 1,000 bars each): `update` wall <= 15 s;
//! - 500 daily series one week stale, every request delayed 100 ms by the emulator: wall <=
//!   1.5 x (requests x latency / requests in flight) + 1 s, with the requests the run reports
//!   (bar and corporate-actions requests) and the 4 requests in flight of `update`;
//! - `inspect` of the 10,000 series (footers only) <= 2 s; `fetch --offline` of 500 daily series
//!   (1 year each) to CSV <= 0.5 s;
//! - a bucket cache on an S3 server behind a proxy (`tests/integration/support/s3_proxy.rs`)
//!   that adds 30 ms to every request (issue 25): nightly `update` of 500 daily series a week
//!   stale <= 1,010 S3 requests and wall <= 1.3 x the same update straight to the server,
//!   plus 0.5 s; `fetch --offline` of them <= 1 s (and, without a target, `inspect` of them and
//!   the same fetch straight to the server); `fetch --offline` of the last 5 sessions of 5
//!   series of 2 years of 1Min: bytes downloaded <= 10% of the objects and peak RSS <= 150 MB;
//! - issue 14: peak RSS <= 150 MB for 10 symbols x 10 years of 1Min bars fetched from the
//!   emulator and written to CSV (`fetch ... -o FILE`). By default this runs 2 years (4.8M
//!   bars, about a minute) and reports that; `BARKEEP_BENCH_RSS_YEARS=10` runs the full 10.
//!
//! Run: `cargo bench --bench scale`. Cargo builds the release binary first (the bench uses
//! `CARGO_BIN_EXE_barkeep`, as `benches/append.rs` does), so `cargo build --release && cargo
//! bench --bench scale` measures the same binary. Peak RSS comes from GNU time
//! (`/usr/bin/time -v`; `apt-get install time` if missing, else the RSS rows are skipped).
//! The S3 rows need an S3 server: `BARKEEP_TEST_S3_ENDPOINT` (and `BARKEEP_TEST_S3_BUCKET`,
//! default `barkeep-test`) as `.ci/run` sets them, or a `moto_server` executable named by
//! `BARKEEP_BENCH_MOTO_SERVER`, found in `.venv/bin/` or on `PATH`, which the bench starts;
//! otherwise they are skipped with the reason. A run took 566 s on a shared 2-core machine
//! when first written, most of it in scenarios that missed their targets (corporate-actions
//! ledgers rewritten one by one, S3 reads one at a time); expect far less once those are met.
//!
//! Prints one table (scenario, measured, target, pass/fail) and exits 1 when a target is
//! missed. `BARKEEP_BENCH_ONLY=daily,universe,minute,latency,bucket,bucket-minutes,rss` runs only
//! those scenarios.
//! Wall times are single runs (each scenario changes the cache it measures); on a shared
//! machine expect some noise. Diagnostics: `BARKEEP_BENCH_WRAPPER="heaptrack -o FILE"` puts a
//! profiler in front of every run, `BARKEEP_BENCH_PROXY_LOG=FILE` logs the bucket proxy's
//! requests (start, end, method, path) to find what a run does one request at a time.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

// The emulator of the integration tests, as they use it. Its inline unit tests are compiled
// out of a harness-free bench, which leaves their imports unused here.
#[allow(unused_imports)]
#[path = "../tests/integration/support/emulator/mod.rs"]
mod emulator;
// The S3 tests' counting proxy, here also delaying every request.
#[allow(dead_code)]
#[path = "../tests/integration/support/s3_proxy.rs"]
mod s3_proxy;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use emulator::{Emulator, Fault};
use s3_proxy::S3Proxy;

const BIN: &str = env!("CARGO_BIN_EXE_barkeep");
/// GNU time, for the peak RSS of a run (`ru_maxrss` of the child).
const GNU_TIME: &str = "/usr/bin/time";
/// Requests `update` and `fetch` keep in flight (`FillOptions::concurrency` in `src/ops/`).
const REQUESTS_IN_FLIGHT: f64 = 4.0;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// `n` distinct stock symbols of letters only: `{prefix}AAA`, `{prefix}AAB`, …
fn symbols(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let letter = |k: usize| char::from(b'A' + u8::try_from((i / k) % 26).unwrap());
            format!("{prefix}{}{}{}", letter(26 * 26), letter(26), letter(1))
        })
        .collect()
}

/// One run of the binary.
struct Outcome {
    code: i32,
    wall: Duration,
    /// Peak resident set size in bytes, when GNU time is available.
    peak_rss: Option<u64>,
    /// User plus system CPU seconds, when GNU time is available: what a loaded machine
    /// inflates less than the wall time.
    cpu: Option<f64>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// The run, or a panic with its stderr when it failed (the bench cannot go on).
    fn ok(self, what: &str) -> Outcome {
        assert_eq!(
            self.code, 0,
            "{what} failed (exit {}):\n{}",
            self.code, self.stderr
        );
        self
    }

    fn secs(&self) -> f64 {
        self.wall.as_secs_f64()
    }

    /// The `--report json` object on stdout.
    fn report(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}", self.stdout))
    }
}

/// A scenario's world: a temporary directory, an emulator and the environment of the binary.
struct World {
    emu: Emulator,
    dir: tempfile::TempDir,
    /// `BARKEEP_CACHE_DIR`: a directory under `dir`, or a bucket URL.
    cache: String,
    /// Extra variables (the S3 endpoint and credentials).
    env: Vec<(String, String)>,
    runs: usize,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache").to_string_lossy().into_owned();
        let emu = Emulator::start();
        // The Trading API too (every stock update checks the assets list once a day): without
        // it, the live host is tried, and a machine without internet waits for its timeout.
        let env = vec![("APCA_API_BASE_URL".to_owned(), emu.url())];
        World {
            emu,
            dir,
            cache,
            env,
            runs: 0,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sets the emulator's clock and the binary's `BARKEEP_NOW` to `now`.
    fn set_now(&self, now: &str) {
        self.emu.set_now(utc(now));
    }

    /// Makes `symbols` known to the emulator, listed since 2015, and writes them one per line
    /// to a watchlist file.
    fn add_symbols(&self, name: &str, symbols: &[String]) -> PathBuf {
        for s in symbols {
            self.emu.add_symbol(s, date("2015-01-02"));
        }
        let path = self.path(name);
        std::fs::write(&path, symbols.join("\n") + "\n").unwrap();
        path
    }

    /// Runs the binary with a hermetic environment, under `ulimit -n files` when given,
    /// measuring its wall time (and peak RSS when GNU time is there).
    fn run(&mut self, files: Option<u32>, args: &[&str]) -> Outcome {
        self.runs += 1;
        let stdout_path = self.path(&format!("stdout-{}.txt", self.runs));
        let rss_path = self.path(&format!("rss-{}.txt", self.runs));
        let timed = Path::new(GNU_TIME).exists();
        let mut argv: Vec<String> = Vec::new();
        if timed {
            argv.extend([GNU_TIME.into(), "-v".into(), "-o".into()]);
            argv.push(rss_path.to_string_lossy().into_owned());
        }
        // `BARKEEP_BENCH_WRAPPER="heaptrack -o FILE"`: a profiler in front of every run.
        if let Ok(wrapper) = std::env::var("BARKEEP_BENCH_WRAPPER") {
            argv.extend(wrapper.split_whitespace().map(str::to_owned));
        }
        argv.push(BIN.into());
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let mut cmd = match files {
            Some(n) => {
                let mut cmd = Command::new("sh");
                cmd.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .args(&argv);
                cmd
            }
            None => {
                let mut cmd = Command::new(&argv[0]);
                cmd.args(&argv[1..]);
                cmd
            }
        };
        let now = self.emu.now().to_rfc3339_opts(SecondsFormat::AutoSi, true);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("BARKEEP_CACHE_DIR", &self.cache)
            .env("APCA_API_DATA_URL", self.emu.url())
            .env("APCA_API_KEY_ID", self.emu.key_id())
            .env("APCA_API_SECRET_KEY", self.emu.secret_key())
            .env("BARKEEP_NOW", now)
            .env("BARKEEP_NO_PROGRESS", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout_path).unwrap())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let child: Child = cmd.spawn().expect("barkeep starts");
        let output = child.wait_with_output().unwrap();
        let wall = start.elapsed();
        let time_report = timed
            .then(|| std::fs::read_to_string(&rss_path).ok())
            .flatten()
            .unwrap_or_default();
        let field = |name: &str| {
            time_report.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(name)
                    .and_then(|v| v.trim().parse::<f64>().ok())
            })
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let peak_rss = field("Maximum resident set size (kbytes):").map(|kb| kb as u64 * 1024);
        let cpu = field("User time (seconds):")
            .zip(field("System time (seconds):"))
            .map(|(user, system)| user + system);
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let _ = std::fs::remove_file(&stdout_path);
        Outcome {
            code: output.status.code().unwrap_or(-1),
            wall,
            peak_rss,
            cpu,
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The results table.
#[derive(Default)]
struct Table {
    rows: Vec<[String; 4]>,
    missed: usize,
}

impl Table {
    fn row(&mut self, scenario: &str, measured: String, target: String, pass: bool) {
        if !pass {
            self.missed += 1;
        }
        let verdict = if pass { "pass" } else { "FAIL" };
        eprintln!("  {scenario}: {measured} (target {target}) {verdict}");
        self.rows
            .push([scenario.into(), measured, target, verdict.into()]);
    }

    fn skip(&mut self, scenario: &str, target: &str, why: &str) {
        eprintln!("  {scenario}: skipped ({why})");
        self.rows.push([
            scenario.into(),
            format!("skipped: {why}"),
            target.into(),
            "skip".into(),
        ]);
    }

    fn wall(&mut self, scenario: &str, outcome: &Outcome, target_secs: f64) {
        let cpu = outcome
            .cpu
            .map_or_else(String::new, |cpu| format!(" ({cpu:.2} s CPU)"));
        self.row(
            scenario,
            format!("{:.2} s{cpu}", outcome.secs()),
            format!("<= {target_secs:.2} s"),
            outcome.secs() <= target_secs,
        );
    }

    fn rss(&mut self, scenario: &str, outcome: &Outcome, target_mb: f64) {
        match outcome.peak_rss {
            Some(bytes) => {
                let mb = bytes as f64 / 1e6;
                self.row(
                    scenario,
                    format!("{mb:.0} MB"),
                    format!("<= {target_mb:.0} MB"),
                    mb <= target_mb,
                );
            }
            None => self.skip(
                scenario,
                &format!("<= {target_mb:.0} MB"),
                "no /usr/bin/time (apt-get install time)",
            ),
        }
    }

    fn print(&self) -> String {
        let header = ["scenario", "measured", "target", "result"];
        let widths: Vec<usize> = (0..4)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].len())
                    .chain([header[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in std::iter::once(&header.map(str::to_owned)).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                let _ = write!(out, "{cell:<width$}  ", width = widths[i]);
            }
            out = out.trim_end().to_owned();
            out.push('\n');
        }
        out
    }
}

/// Seeds `world` with `update` of `watchlist` (untimed; reported for context).
fn seed(world: &mut World, watchlist: &Path, timeframe: &str, start: &str) {
    let watchlist = watchlist.to_string_lossy().into_owned();
    let outcome = world
        .run(
            None,
            &[
                "update",
                "--symbols-file",
                &watchlist,
                "-t",
                timeframe,
                "--start",
                start,
                "--rate-limit",
                "100000",
            ],
        )
        .ok("seeding update");
    eprintln!(
        "  (seeded: {} in {:.1} s)",
        outcome.stderr.lines().last().unwrap_or_default(),
        outcome.secs()
    );
}

/// 10,000 daily series one day stale, the re-run, `ulimit -n 256`, `inspect`, and
/// `fetch --offline` of 500 of them.
fn daily_10k(table: &mut Table) {
    eprintln!("10,000 daily series:");
    let mut world = World::new();
    let all = symbols("D", 10_000);
    let watchlist = world.add_symbols("watchlist.txt", &all);
    let list = watchlist.to_string_lossy().into_owned();
    // Tuesday 2024-06-11 after the close (22:00 New York): a year of settled daily bars.
    world.set_now("2024-06-12T02:00:00Z");
    seed(&mut world, &watchlist, "1Day", "2023-06-12");

    // Wednesday night: one new session for every series.
    world.set_now("2024-06-13T02:00:00Z");
    let update = [
        "update",
        "--symbols-file",
        &list,
        "-t",
        "1Day",
        "--report",
        "json",
    ];
    let stale = world.run(None, &update).ok("update");
    let report = stale.report();
    eprintln!(
        "  (update: {} bars added, {} bar requests, {} corporate-actions requests)",
        report["bars_added"], report["requests"], report["corporate_actions"]["requests"]
    );
    table.wall("10,000 daily, 1 day stale: update", &stale, 10.0);
    table.rss("10,000 daily, 1 day stale: peak RSS", &stale, 200.0);

    let again = world.run(None, &update).ok("re-run");
    let report = again.report();
    eprintln!(
        "  (re-run: {} bars added, {} bar requests, {} corporate-actions requests)",
        report["bars_added"], report["requests"], report["corporate_actions"]["requests"]
    );
    table.wall("10,000 daily: re-run, nothing new", &again, 2.0);

    // Thursday night, under a limit of 256 open files the binary cannot raise.
    world.set_now("2024-06-14T02:00:00Z");
    let limited = world.run(Some(256), &update);
    let added = if limited.code == 0 {
        limited.report()["bars_added"].to_string()
    } else {
        "-".into()
    };
    table.row(
        "10,000 daily, 1 day stale, ulimit -n 256",
        format!(
            "exit {}, {added} bars added, {:.2} s",
            limited.code,
            limited.secs()
        ),
        "exit 0".into(),
        limited.code == 0 && added == "10000",
    );
    if limited.code != 0 {
        eprintln!("{}", limited.stderr);
    }

    let inspect = world
        .run(None, &["inspect", "--format", "csv"])
        .ok("inspect");
    eprintln!(
        "  (inspect printed {} lines)",
        inspect.stdout.lines().count()
    );
    table.wall("inspect of 10,000 series", &inspect, 2.0);

    let out = world.path("daily.csv").to_string_lossy().into_owned();
    let mut fetch = vec!["fetch", "-t", "1Day", "--start", "2023-06-12", "--end"];
    fetch.extend(["2024-06-11", "--offline", "--format", "csv", "-o", &out]);
    fetch.extend(all[..500].iter().map(String::as_str));
    let offline = world.run(None, &fetch).ok("fetch --offline");
    let rows = std::fs::read_to_string(&out).unwrap().lines().count() - 1;
    eprintln!("  (fetch --offline wrote {rows} rows)");
    table.wall("fetch --offline 500 daily x 1y to CSV", &offline, 0.5);
}

/// Issue 23: the whole active US equity universe (11,000 assets of the emulator's assets list)
/// as daily series one trading day stale, `update --universe us_equity` under `ulimit -n 256`.
fn universe_11k(table: &mut Table) {
    eprintln!("11,000 daily series of the universe:");
    let mut world = World::new();
    let all = symbols("U", 11_000);
    for (i, s) in all.iter().enumerate() {
        let exchange = if i % 2 == 0 { "NYSE" } else { "NASDAQ" };
        world.emu.add_asset(s, date("2015-01-02"), exchange);
    }
    let mut update = vec![
        "update",
        "--universe",
        "us_equity",
        "-t",
        "1Day",
        "--report",
    ];
    update.push("json");
    // Tuesday 2024-06-11 after the close: a year of settled daily bars (untimed).
    world.set_now("2024-06-12T02:00:00Z");
    let mut seed = update.clone();
    seed.extend(["--start", "2023-06-12", "--rate-limit", "100000"]);
    let seeded = world.run(None, &seed).ok("seeding update --universe");
    eprintln!(
        "  (seeded: {} in {:.1} s)",
        seeded.stderr.lines().last().unwrap_or_default(),
        seeded.secs()
    );

    // Wednesday night: one new session for every series, the list asked again (a new day).
    world.set_now("2024-06-13T02:00:00Z");
    world.emu.clear_requests();
    let stale = world.run(Some(256), &update);
    if stale.code != 0 {
        eprintln!("{}", stale.stderr);
    }
    let stale = stale.ok("update --universe under ulimit -n 256");
    let report = stale.report();
    let series = report["series"].as_array().map_or(0, Vec::len);
    eprintln!(
        "  (update: {series} series, {} bars added, {} bar requests, {} corporate-actions requests, {} assets requests)",
        report["bars_added"],
        report["requests"],
        report["corporate_actions"]["requests"],
        world.emu.asset_requests().len()
    );
    table.row(
        "universe 11,000 daily, 1 day stale, ulimit -n 256",
        format!("{series} series, {} bars added", report["bars_added"]),
        "11,007 series, 11,007 bars".into(),
        series == 11_007 && report["bars_added"] == 11_007,
    );
    table.wall("universe 11,000 daily: update", &stale, 8.0);
    table.rss("universe 11,000 daily: peak RSS", &stale, 200.0);
}

/// 1,000 1Min series, one session stale.
fn minute_1k(table: &mut Table) {
    eprintln!("1,000 1Min series:");
    let mut world = World::new();
    let all = symbols("M", 1_000);
    let watchlist = world.add_symbols("watchlist.txt", &all);
    let list = watchlist.to_string_lossy().into_owned();
    world.set_now("2024-06-12T02:00:00Z");
    seed(&mut world, &watchlist, "1Min", "2024-06-11");
    world.set_now("2024-06-13T02:00:00Z");
    let update = [
        "update",
        "--symbols-file",
        &list,
        "-t",
        "1Min",
        "--report",
        "json",
    ];
    let stale = world.run(None, &update).ok("update");
    let report = stale.report();
    eprintln!(
        "  (update: {} bars added, {} bar requests; peak RSS {} MB)",
        report["bars_added"],
        report["requests"],
        stale.peak_rss.map_or(0, |b| b / 1_000_000)
    );
    table.wall("1,000 1Min, 1 session stale: update", &stale, 15.0);
}

/// 500 daily series one week stale, every request 100 ms late.
fn latency_500(table: &mut Table) {
    eprintln!("500 daily series, 100 ms latency:");
    let mut world = World::new();
    let all = symbols("L", 500);
    let watchlist = world.add_symbols("watchlist.txt", &all);
    let list = watchlist.to_string_lossy().into_owned();
    world.set_now("2024-06-08T02:00:00Z");
    seed(&mut world, &watchlist, "1Day", "2023-06-08");
    world.set_now("2024-06-15T02:00:00Z");
    let latency = Duration::from_millis(100);
    world.emu.inject(Fault::Delay(latency), 10_000);
    world
        .emu
        .inject_corporate_actions(Fault::Delay(latency), 10_000);
    let update = [
        "update",
        "--symbols-file",
        &list,
        "-t",
        "1Day",
        "--report",
        "json",
    ];
    let stale = world.run(None, &update).ok("update");
    let report = stale.report();
    let bar_requests = report["requests"].as_f64().unwrap();
    let action_requests = report["corporate_actions"]["requests"]
        .as_f64()
        .unwrap_or(0.0);
    let requests = bar_requests + action_requests;
    eprintln!(
        "  (update: {} bars added, {bar_requests} bar + {action_requests} corporate-actions \
         requests)",
        report["bars_added"]
    );
    let target = 1.5 * (requests * latency.as_secs_f64() / REQUESTS_IN_FLIGHT) + 1.0;
    table.wall("500 daily, 1 week stale, 100 ms latency", &stale, target);
}

/// Issue 14: peak RSS of fetching 10 symbols x `years` of 1Min bars into a CSV file.
fn fetch_memory(table: &mut Table) {
    let years: i32 = std::env::var("BARKEEP_BENCH_RSS_YEARS")
        .ok()
        .and_then(|y| y.parse().ok())
        .unwrap_or(2)
        .clamp(1, 10);
    eprintln!("10 symbols x {years} years of 1Min to CSV:");
    let mut world = World::new();
    let all = symbols("R", 10);
    world.add_symbols("watchlist.txt", &all);
    // Friday 2026-06-12 after the close: 10 years back stays inside the calendar (2016-2030).
    world.set_now("2026-06-13T02:00:00Z");
    let start = format!("{}-06-13", 2026 - years);
    let out = world.path("minutes.csv").to_string_lossy().into_owned();
    let mut fetch = vec![
        "fetch",
        "-t",
        "1Min",
        "--start",
        &start,
        "--end",
        "2026-06-12",
    ];
    // Alpaca's paid plans allow far more than the default 200 requests a minute; pacing is
    // not what this measures.
    fetch.extend(["--format", "csv", "-o", &out, "--rate-limit", "100000"]);
    fetch.extend(all.iter().map(String::as_str));
    let outcome = world.run(None, &fetch).ok("fetch");
    let bytes = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "  (fetch: {:.1} s, CSV {:.0} MB)",
        outcome.secs(),
        bytes as f64 / 1e6
    );
    let _ = std::fs::remove_file(&out);
    table.rss(
        &format!("fetch 10 x {years}y 1Min to CSV: peak RSS"),
        &outcome,
        150.0,
    );
}

/// An S3 server to run against: the one `.ci/run` starts, or a `moto_server` started here.
struct S3Server {
    endpoint: String,
    bucket: String,
    child: Option<Child>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn s3_server() -> Result<S3Server, String> {
    let bucket =
        std::env::var("BARKEEP_TEST_S3_BUCKET").unwrap_or_else(|_| "barkeep-test".to_owned());
    let server = match std::env::var("BARKEEP_TEST_S3_ENDPOINT") {
        Ok(endpoint) => S3Server {
            endpoint,
            bucket,
            child: None,
        },
        Err(_) => {
            let moto = std::env::var_os("BARKEEP_BENCH_MOTO_SERVER")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from(".venv/bin/moto_server")).filter(|p| p.exists()))
                .unwrap_or_else(|| PathBuf::from("moto_server"));
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let child = Command::new(&moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| {
                    format!(
                        "no BARKEEP_TEST_S3_ENDPOINT and {} does not start: {e}",
                        moto.display()
                    )
                })?;
            S3Server {
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket,
                child: Some(child),
            }
        }
    };
    // Create the bucket (an existing one is fine), waiting for a server just started.
    let client = http_client();
    let url = format!("{}/{}", server.endpoint, server.bucket);
    for _ in 0..100 {
        if runtime().block_on(client.put(&url).send()).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the S3 server at {} does not answer",
        server.endpoint
    ))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An HTTP client for the bench's own requests (plain HTTP on loopback), bodies untouched.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_gzip().build().unwrap()
}

/// The variables that point the binary at the S3 server at `endpoint`.
fn aws(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ALLOW_HTTP", "true"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}

/// A proxy adding 30 ms to every request (`BARKEEP_BENCH_PROXY_LOG=FILE` logs a timeline).
fn delay_proxy(server: &S3Server) -> S3Proxy {
    let log =
        std::env::var_os("BARKEEP_BENCH_PROXY_LOG").map(|p| std::fs::File::create(p).unwrap());
    S3Proxy::start(&server.endpoint, Duration::from_millis(30), log)
}

/// Issue 25: a bucket cache behind a 30 ms proxy. Nightly update of 500 daily series (its
/// requests, and its wall against the same update straight to the server), `fetch
/// --offline` of them, and `inspect`.
fn bucket_500(table: &mut Table) {
    eprintln!("bucket cache, 500 daily series, 30 ms per S3 request:");
    let update_target = "<= 1,010 requests";
    let fetch_target = "<= 1.00 s";
    let server = match s3_server() {
        Ok(server) => server,
        Err(why) => {
            table.skip("bucket, 500 daily: nightly update", update_target, &why);
            table.skip("bucket, 500 daily: fetch --offline", fetch_target, &why);
            return;
        }
    };
    let proxy = delay_proxy(&server);
    let mut world = World::new();
    let base = format!("s3://{}/bench-scale-{}", server.bucket, std::process::id());
    let all = symbols("B", 500);
    let watchlist = world.add_symbols("watchlist.txt", &all);
    let list = watchlist.to_string_lossy().into_owned();

    // Two identical caches, seeded straight into the S3 server: one updated through the
    // proxy, the other straight (the server's own floor).
    world.env.extend(aws(&server.endpoint));
    for cache in ["proxied", "direct"] {
        world.cache = format!("{base}-{cache}");
        world.set_now("2024-06-05T02:00:00Z");
        seed(&mut world, &watchlist, "1Day", "2023-06-12");
    }
    world.set_now("2024-06-12T02:00:00Z");
    let update = [
        "update",
        "--symbols-file",
        &list,
        "-t",
        "1Day",
        "--report",
        "json",
    ];
    world.cache = format!("{base}-direct");
    let direct = world.run(None, &update).ok("bucket update, no proxy");
    world.cache = format!("{base}-proxied");
    world.env.extend(aws(&proxy.url()));
    proxy.take();
    let nightly = world.run(None, &update).ok("bucket update");
    let requests = proxy.take().len();
    eprintln!(
        "  (update, a week stale: {} bars added, {} bar requests, {requests} S3 requests)",
        nightly.report()["bars_added"],
        nightly.report()["requests"]
    );
    table.row(
        "bucket, 500 daily: nightly update requests",
        format!("{requests}"),
        update_target.into(),
        requests <= 1_010,
    );
    let target = 1.3 * direct.secs() + 0.5;
    table.row(
        "bucket, 500 daily: nightly update wall",
        format!(
            "{:.2} s (straight to the server: {:.2} s)",
            nightly.secs(),
            direct.secs()
        ),
        format!("<= 1.3 x {:.2} + 0.5 = {target:.2} s", direct.secs()),
        nightly.secs() <= target,
    );

    let out = world.path("bucket.csv").to_string_lossy().into_owned();
    let mut fetch = vec!["fetch", "-t", "1Day", "--start", "2023-06-12", "--end"];
    fetch.extend(["2024-06-11", "--offline", "--format", "csv", "-o", &out]);
    fetch.extend(all.iter().map(String::as_str));
    let offline = world.run(None, &fetch).ok("bucket fetch --offline");
    table.wall("bucket, 500 daily: fetch --offline", &offline, 1.0);
    // No target: footers and ledgers read through the proxy, 32 at a time.
    proxy.take();
    let inspect = world
        .run(None, &["inspect", "--format", "json"])
        .ok("bucket inspect");
    let inspect_json = proxy.take().len();
    let inspect = (inspect, world.run(None, &["inspect"]).ok("bucket inspect"));
    eprintln!(
        "  (inspect of them through the proxy: json {:.2} s, {inspect_json} requests; table {:.2} s, {} requests)",
        inspect.0.secs(),
        inspect.1.secs(),
        proxy.take().len()
    );
    // The floor the S3 server itself sets: the same read without the proxy's 30 ms.
    world.env.extend(aws(&server.endpoint));
    let direct = world
        .run(None, &fetch)
        .ok("bucket fetch --offline, no proxy");
    eprintln!(
        "  (the same fetch straight to the S3 server: {:.2} s)",
        direct.secs()
    );
    drop(proxy);
    drop(server);
}

/// Issue 25: `fetch --offline` of the last 5 sessions of 5 series of 2 years of 1Min bars
/// from a bucket behind the 30 ms proxy: bytes downloaded and peak RSS.
fn bucket_minutes(table: &mut Table) {
    eprintln!("bucket cache, 5 x 2 years of 1Min, last 5 sessions:");
    let rss_target = 150.0;
    let server = match s3_server() {
        Ok(server) => server,
        Err(why) => {
            table.skip(
                "bucket, 5 x 2y 1Min: last 5 sessions",
                "<= 10% of bytes",
                &why,
            );
            return;
        }
    };
    let proxy = delay_proxy(&server);
    let mut world = World::new();
    world.cache = format!(
        "s3://{}/bench-minutes-{}",
        server.bucket,
        std::process::id()
    );
    let all = symbols("M", 5);
    let watchlist = world.add_symbols("watchlist.txt", &all);
    world.env.extend(aws(&server.endpoint));
    world.set_now("2024-06-13T02:00:00Z");
    seed(&mut world, &watchlist, "1Min", "2022-06-13");
    world.env.extend(aws(&proxy.url()));
    proxy.take();
    let listing = world
        .run(None, &["inspect", "--format", "json"])
        .ok("bucket inspect");
    let stored: u64 = serde_json::from_str::<Vec<serde_json::Value>>(&listing.stdout)
        .unwrap()
        .iter()
        .map(|row| row["bytes"].as_u64().unwrap_or(0))
        .sum();
    proxy.take();
    let out = world.path("minutes.csv").to_string_lossy().into_owned();
    let mut fetch = vec!["fetch", "-t", "1Min", "--start", "2024-06-06", "--end"];
    fetch.extend(["2024-06-12", "--offline", "--format", "csv", "-o", &out]);
    fetch.extend(all.iter().map(String::as_str));
    let offline = world
        .run(None, &fetch)
        .ok("bucket fetch --offline of minutes");
    let requests = proxy.take();
    let downloaded: u64 = requests.iter().map(|r| r.bytes).sum();
    table.row(
        "bucket, 5 x 2y 1Min: last 5 sessions, bytes",
        format!(
            "{:.1} of {:.1} MB ({:.1}%, {} requests, {:.2} s)",
            downloaded as f64 / 1e6,
            stored as f64 / 1e6,
            downloaded as f64 * 100.0 / stored.max(1) as f64,
            requests.len(),
            offline.secs()
        ),
        "<= 10%".into(),
        downloaded * 10 <= stored,
    );
    table.rss(
        "bucket, 5 x 2y 1Min: last 5 sessions, peak RSS",
        &offline,
        rss_target,
    );
    drop(proxy);
    drop(server);
}

/// One scenario: runs and adds its rows to the table.
type Scenario = fn(&mut Table);

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` and test runners that enumerate benches.
        return;
    }
    let started = Instant::now();
    let mut table = Table::default();
    // `BARKEEP_BENCH_ONLY=daily,universe,minute,latency,bucket,bucket-minutes,rss` runs only the
    // scenarios named.
    let only = std::env::var("BARKEEP_BENCH_ONLY").ok();
    let scenarios: [(&str, Scenario); 7] = [
        ("daily", daily_10k),
        ("universe", universe_11k),
        ("minute", minute_1k),
        ("latency", latency_500),
        ("bucket", bucket_500),
        ("bucket-minutes", bucket_minutes),
        ("rss", fetch_memory),
    ];
    for (name, scenario) in scenarios {
        if only
            .as_deref()
            .is_none_or(|o| o.split(',').any(|n| n == name))
        {
            scenario(&mut table);
        }
    }
    println!("{}", table.print());
    println!("total bench time {:.0} s", started.elapsed().as_secs_f64());
    if table.missed > 0 {
        eprintln!("{} target(s) missed", table.missed);
        std::process::exit(1);
    }
}

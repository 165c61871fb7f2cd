//! `cargo bench`: what an append costs against a full rewrite, whether that cost stays flat
//! as the history grows, how reads fare after 300 daily appends and their automatic
//! compactions, and the peak memory of streaming a 2.5M-bar series to CSV. Prints medians
//! and checks the targets of the in-place append issue; exits non-zero when one is missed.
//!
//! A plain `harness = false` binary: each figure needs seconds of setup, which a statistics
//! harness would repeat, and the ratios must come from one run on one machine.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::path::Path;
use std::time::{Duration, Instant};

use barkeep::cache::store::{SeriesUpdate, WriteKind};
use barkeep::cache::{SeriesKey, Store};
use barkeep::market::{Bar, Feed, Interval, Volume};
use chrono::{DateTime, TimeDelta, Utc};

const APPEND_BARS: usize = 1_000;
const BIG: usize = 2_500_000;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2015-01-01T05:00:00Z")
        .unwrap()
        .to_utc()
}

fn bar(i: usize) -> Bar {
    let wave = ((i % 977) as f64).sin();
    let price = 100.0 + (i % 10_007) as f64 / 100.0 + wave;
    Bar {
        timestamp: start() + TimeDelta::minutes(i as i64),
        open: price,
        high: price + 0.25,
        low: price - 0.25,
        close: price + wave / 10.0,
        volume: Volume::Shares(1_000 + (i % 5_003) as u64),
        trade_count: 10 + (i % 97) as u64,
        vwap: price + 0.01,
    }
}

fn key() -> SeriesKey {
    SeriesKey::new("SPY".parse().unwrap(), Feed::Sip, "1Min".parse().unwrap())
}

fn span(from: usize, to: usize) -> Interval {
    Interval::new(bar(from).timestamp, bar(to).timestamp).unwrap()
}

/// Bars `[from, to)` as Alpaca would answer them, covering their range.
fn update(from: usize, to: usize) -> SeriesUpdate {
    SeriesUpdate {
        bars: (from..to).map(bar).collect(),
        answered: vec![span(from, to)],
        covered: vec![span(from, to)],
        closing: None,
        withdrawn: Vec::new(),
        renamed_from: None,
    }
}

fn now() -> DateTime<Utc> {
    bar(10_000_000).timestamp
}

/// A store in `dir` holding one freshly written series of `rows` bars.
fn fresh_store(dir: &Path, rows: usize) -> Store {
    let store = Store::new(dir.to_path_buf());
    let lock = store.lock(&key(), true).unwrap();
    store.commit(&key(), &lock, update(0, rows), now()).unwrap();
    store
}

/// Puts a file back as it was (untimed), so every sample starts from the same history.
fn restore(path: &Path, original: &[u8]) {
    std::fs::write(path, original).unwrap();
    std::fs::File::open(path).unwrap().sync_all().unwrap();
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Median time of appending 1,000 bars to a series of `rows` bars, restoring the original
/// file (untimed) before each append so every sample appends to the same history.
fn append_median(rows: usize, samples: usize) -> Duration {
    let dir = tempfile::tempdir_in(".").unwrap();
    let store = fresh_store(dir.path(), rows);
    let path = store.path(&key());
    let original = std::fs::read(&path).unwrap();
    let lock = store.lock(&key(), true).unwrap();
    let mut times = Vec::new();
    for _ in 0..samples {
        restore(&path, &original);
        let t = Instant::now();
        let s = store
            .commit(&key(), &lock, update(rows, rows + APPEND_BARS), now())
            .unwrap();
        times.push(t.elapsed());
        assert_eq!(s.write, WriteKind::InPlace);
        assert!(!s.compacted);
    }
    median(times)
}

/// Median time of a nightly commit that replaces the bar stored while still forming (the last
/// bar of the last, small, row group) and adds 1,000 bars: the trailing row group is rewritten
/// in place instead of the whole file.
fn tail_rewrite_median(rows: usize, samples: usize) -> Duration {
    let dir = tempfile::tempdir_in(".").unwrap();
    let store = fresh_store(dir.path(), rows);
    let lock = store.lock(&key(), true).unwrap();
    store
        .commit(&key(), &lock, update(rows, rows + APPEND_BARS), now())
        .unwrap();
    let path = store.path(&key());
    let original = std::fs::read(&path).unwrap();
    let mut times = Vec::new();
    for _ in 0..samples {
        restore(&path, &original);
        let last = rows + APPEND_BARS - 1;
        let mut next = update(last, last + 1 + APPEND_BARS);
        next.bars[0].close += 1.0;
        let t = Instant::now();
        let s = store.commit(&key(), &lock, next, now()).unwrap();
        times.push(t.elapsed());
        assert_eq!((s.write, s.bars_replaced), (WriteKind::InPlace, 1));
    }
    median(times)
}

/// Median time of committing the same 1,000 bars by a full rewrite: read every bar, merge,
/// write a temp file, fsync, rename (what every commit cost before in-place appends).
fn rewrite_median(rows: usize, samples: usize) -> Duration {
    let dir = tempfile::tempdir_in(".").unwrap();
    let store = fresh_store(dir.path(), rows);
    let path = store.path(&key());
    let original = std::fs::read(&path).unwrap();
    let mut times = Vec::new();
    for _ in 0..samples {
        restore(&path, &original);
        let t = Instant::now();
        let stored = store.read_bars(&key(), None).unwrap().unwrap();
        let mut bars = stored.bars;
        bars.extend((rows..rows + APPEND_BARS).map(bar));
        let mut metadata = stored.metadata;
        metadata.coverage.insert(span(rows, rows + APPEND_BARS));
        store.replace(&key(), &metadata, &bars).unwrap();
        times.push(t.elapsed());
    }
    median(times)
}

fn read_median(store: &Store, samples: usize) -> Duration {
    let mut times = Vec::new();
    for _ in 0..samples {
        let t = Instant::now();
        let rows: usize = store
            .scan_bars(&key(), None)
            .unwrap()
            .unwrap()
            .map(|c| c.unwrap().len())
            .sum();
        times.push(t.elapsed());
        assert!(rows > 0);
    }
    median(times)
}

fn main() {
    // `cargo bench` passes `--bench`; anything else selects nothing here.
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        println!("  {} {what}", if ok { "ok  " } else { "MISS" });
        if !ok {
            failures.push(what);
        }
    };

    println!("append {APPEND_BARS} bars (median, fsyncs included):");
    let mut appends = Vec::new();
    for rows in [10_000, 100_000, 1_000_000, BIG] {
        let m = append_median(rows, 21);
        println!("  {rows:>9} bars: {}", ms(m));
        appends.push(m);
    }
    let big_append = *appends.last().unwrap();
    println!(
        "replace the forming last bar and add {APPEND_BARS} (tail row group rewritten in place), {BIG} bars: {}",
        ms(tail_rewrite_median(BIG, 21))
    );
    let rewrite = rewrite_median(BIG, 5);
    println!(
        "full rewrite of the {BIG}-bar series with the same bars: {}",
        ms(rewrite)
    );
    let (lo, hi) = (
        appends.iter().min().unwrap().as_secs_f64(),
        appends.iter().max().unwrap().as_secs_f64(),
    );
    check(
        big_append <= Duration::from_millis(10),
        format!("append to {BIG} bars <= 10 ms: {}", ms(big_append)),
    );
    check(
        big_append.as_secs_f64() * 30.0 <= rewrite.as_secs_f64(),
        format!(
            "append <= 1/30 of a rewrite: 1/{:.0}",
            rewrite.as_secs_f64() / big_append.as_secs_f64()
        ),
    );
    check(
        hi <= 2.0 * lo,
        format!(
            "append cost flat across 10k..2.5M bars: max/min {:.2}",
            hi / lo
        ),
    );

    println!("300 daily appends of {APPEND_BARS} bars to {BIG} bars, with automatic compaction:");
    let dir = tempfile::tempdir_in(".").unwrap();
    let store = fresh_store(dir.path(), BIG);
    let lock = store.lock(&key(), true).unwrap();
    let (mut compactions, mut total, mut slowest) = (0, Duration::ZERO, Duration::ZERO);
    for day in 0..300 {
        let from = BIG + day * APPEND_BARS;
        let t = Instant::now();
        let s = store
            .commit(&key(), &lock, update(from, from + APPEND_BARS), now())
            .unwrap();
        let took = t.elapsed();
        total += took;
        slowest = slowest.max(took);
        compactions += usize::from(s.compacted);
    }
    drop(lock);
    let rows = BIG + 300 * APPEND_BARS;
    let summary = store.read_summary(&key()).unwrap().unwrap();
    println!(
        "  {compactions} compactions; mean commit {} (slowest {}); now {} row groups",
        ms(total / 300),
        ms(slowest),
        summary.row_groups
    );
    let appended_read = read_median(&store, 7);
    let fresh_dir = tempfile::tempdir_in(".").unwrap();
    let fresh = fresh_store(fresh_dir.path(), rows);
    let fresh_read = read_median(&fresh, 7);
    println!(
        "  read whole series: after appends {}, fresh file {}",
        ms(appended_read),
        ms(fresh_read)
    );
    check(
        appended_read.as_secs_f64() <= 1.2 * fresh_read.as_secs_f64(),
        format!(
            "read after appends <= 1.2x fresh: {:.2}x",
            appended_read.as_secs_f64() / fresh_read.as_secs_f64()
        ),
    );
    drop((store, dir, fresh_dir));

    println!("peak memory of `barkeep fetch --offline --format csv` of {BIG} bars:");
    let cache = tempfile::tempdir_in(".").unwrap();
    fresh_store(cache.path(), BIG);
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_barkeep"))
        .args(["--cache-dir"])
        .arg(cache.path())
        .args([
            "fetch",
            "SPY",
            "-t",
            "1Min",
            "--start",
            "2015-01-01",
            "--end",
            "2019-09-30",
            "--offline",
            "--format",
            "csv",
        ])
        .env("BARKEEP_NOW", "2026-01-01T00:00:00Z")
        .stdout(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let field = |name: &str| {
                stderr
                    .lines()
                    .find_map(|l| l.trim().strip_prefix(name))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_default()
            };
            let kb: u64 = field("Maximum resident set size (kbytes):")
                .parse()
                .unwrap_or(0);
            println!(
                "  max RSS {:.1} MB, elapsed {}",
                kb as f64 / 1024.0,
                field("Elapsed (wall clock) time (h:mm:ss or m:ss):")
            );
            check(kb < 100 * 1024, format!("peak memory < 100 MB: {} kB", kb));
        }
        Ok(out) => check(
            false,
            format!(
                "fetch --offline failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => println!("  skipped: /usr/bin/time not available ({e})"),
    }

    if !failures.is_empty() {
        eprintln!("missed: {failures:?}");
        std::process::exit(1);
    }
}

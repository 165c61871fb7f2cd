//! `cargo bench --bench derive`: how fast `barkeep fetch -t 1Hour --session regular` builds
//! regular-session hours from a cached 1Min series and writes them as CSV (issue #22),
//! against polars doing the same from the same Parquet file (`read_parquet`, filter to the
//! sessions, `group_by_dynamic("timestamp", every="1h", offset="30m")`, `write_csv`),
//! measured in the same run; and barkeep's peak memory.
//!
//! Builds SPY 1Min bars for every minute of the extended hours (04:00-20:00 New York) of
//! every session of `BARKEEP_BENCH_YEARS` years from 2016 (10 by default: about 2.4M bars),
//! prints medians and the peak RSS, checks the targets (wall <= 0.5 x polars' `python -c`
//! time, peak RSS <= 100 MB), and exits non-zero when one is missed. The same fetch with
//! `--adjustment split` (a recorded 4-for-1 split in the middle of the series) must stay
//! within the same 100 MB: adjusted bars stream chunk by chunk too.
//!
//! polars comes from `BARKEEP_BENCH_PYTHON`, else `/work/venv/bin/python`, else `python3`;
//! without it the comparison is skipped (saying why). Peak RSS needs GNU time
//! (`/usr/bin/time`).
//!
//! A plain `harness = false` binary: the setup takes seconds, and the ratio must come from
//! one run on one machine.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use barkeep::cache::store::SeriesUpdate;
use barkeep::cache::{SeriesKey, Store, ledger};
use barkeep::market::calendar::{self, Session};
use barkeep::market::{ActionKind, Bar, CorporateAction, Feed, Interval, Volume};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

mod support;
use support::{measure, ms, polars_python};

const RUNS: usize = 3;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// A bar as Alpaca sends them: prices in cents, a VWAP inside the range, share counts.
fn bar(t: DateTime<Utc>, i: usize) -> Bar {
    let cents = 20_000 + (i % 10_007) as i64 + ((i % 977) as f64).sin().mul_add(300.0, 0.0) as i64;
    Bar {
        timestamp: t,
        open: cents as f64 / 100.0,
        high: (cents + 25) as f64 / 100.0,
        low: (cents - 25) as f64 / 100.0,
        close: (cents + (i % 7) as i64 - 3) as f64 / 100.0,
        volume: Volume::Shares(100 + (i % 50_003) as u64 * 7),
        trade_count: 10 + (i % 997) as u64,
        vwap: (cents * 10_000 + (i % 9_973) as i64) as f64 / 1_000_000.0,
    }
}

/// The sessions of `years` years from 2016-01-01.
fn sessions(years: i32) -> Vec<Session> {
    let start = DateTime::parse_from_rfc3339("2016-01-01T05:00:00Z")
        .unwrap()
        .to_utc();
    let end = DateTime::parse_from_rfc3339(&format!("{}-01-01T05:00:00Z", 2016 + years))
        .unwrap()
        .to_utc();
    calendar::sessions_overlapping(start, end).expect("inside the calendar")
}

/// The same job in polars: sessions from a CSV of `date,open,close` (UTC), hours from 09:30
/// New York. `python -c`, start-up and import included, as issue #22 times it.
const POLARS: &str = r#"
import sys
import polars as pl
ny = "America/New_York"
s = pl.read_csv(sys.argv[2], try_parse_dates=True)
(
    pl.read_parquet(sys.argv[1])
    .with_columns(pl.col("timestamp").dt.convert_time_zone(ny))
    .with_columns(pl.col("timestamp").dt.date().alias("date"))
    .join(
        s.select(
            "date",
            pl.col("open").dt.convert_time_zone(ny).dt.cast_time_unit("ns").alias("s_open"),
            pl.col("close").dt.convert_time_zone(ny).dt.cast_time_unit("ns").alias("s_close"),
        ),
        on="date",
    )
    .filter((pl.col("timestamp") >= pl.col("s_open")) & (pl.col("timestamp") < pl.col("s_close")))
    .group_by_dynamic("timestamp", every="1h", offset="30m", group_by="date")
    .agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
        pl.col("volume").sum(), pl.col("trade_count").sum(),
        ((pl.col("vwap") * pl.col("volume")).sum() / pl.col("volume").sum()).alias("vwap"),
    )
    .drop("date")
    .with_columns(pl.col("timestamp").dt.convert_time_zone("UTC"))
    .write_csv(sys.argv[3])
)
"#;

fn polars_wall(python: &Path, parquet: &Path, sessions: &Path, out: &Path) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let output = Command::new(python)
                .args(["-c", POLARS])
                .args([parquet, sessions, out])
                .output()
                .expect("python runs");
            assert!(
                output.status.success(),
                "polars failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            t.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// Records a 4-for-1 split of SPY halfway through the series, so an adjusted fetch moves
/// half of its bars.
fn record_split(store: &Store, first: DateTime<Utc>, last: DateTime<Utc>) {
    let symbol = "SPY".parse().unwrap();
    let ex_date = (first + (last - first) / 2).date_naive();
    let asked = (
        NaiveDate::from_ymd_opt(2016, 1, 1).unwrap(),
        now().date_naive(),
    );
    let mut recorded = ledger::Ledger::new(symbol, now(), asked);
    let split = CorporateAction {
        id: "bench-split".to_owned(),
        symbol: "SPY".to_owned(),
        ex_date,
        process_date: ex_date,
        kind: ActionKind::ForwardSplit {
            old_rate: 1.0,
            new_rate: 4.0,
        },
    };
    recorded.merge([split], asked, now());
    let lock = ledger::lock(store, &recorded.symbol, true).unwrap();
    ledger::write(store, &recorded, &lock).unwrap();
}

fn main() {
    let years: i32 = std::env::var("BARKEEP_BENCH_YEARS")
        .ok()
        .and_then(|y| y.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let store = Store::new(cache.clone());
    let key = SeriesKey::new("SPY".parse().unwrap(), Feed::Sip, "1Min".parse().unwrap());
    let sessions = sessions(years);
    let bars: Vec<Bar> = sessions
        .iter()
        .flat_map(|s| {
            let minutes = (s.post_close - s.pre_open).num_minutes();
            (0..minutes).map(move |m| s.pre_open + TimeDelta::minutes(m))
        })
        .enumerate()
        .map(|(i, t)| bar(t, i))
        .collect();
    let count = bars.len();
    let (first, last) = (bars[0].timestamp, bars[count - 1].timestamp);
    let span = Interval::new(first, last + TimeDelta::minutes(1)).unwrap();
    let lock = store.lock(&key, true).unwrap();
    let update = SeriesUpdate {
        bars,
        answered: vec![span],
        covered: vec![span],
        closing: None,
        withdrawn: Vec::new(),
        renamed_from: None,
    };
    store.commit(&key, &lock, update, now()).unwrap();
    drop(lock);
    let parquet = cache.join("stocks/sip/1Min/SPY.parquet");
    let mut table = String::from("date,open,close\n");
    for s in &sessions {
        let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        table += &format!("{},{},{}\n", s.date, f(s.open), f(s.close));
    }
    let sessions_csv = dir.path().join("sessions.csv");
    std::fs::write(&sessions_csv, table).unwrap();

    println!(
        "{years} years of SPY 1Min ({count} bars) to CSV as -t 1Hour --session regular (median of {RUNS}):"
    );
    let out = dir.path().join("barkeep.csv");
    let fetch = |adjustment: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_barkeep"));
        cmd.arg("--cache-dir").arg(&cache).args(["-q", "fetch"]);
        cmd.args(["SPY", "-t", "1Hour", "--session", "regular", "--offline"])
            .args(["--start", &first.format("%Y-%m-%d").to_string()])
            .args(["--end", &last.format("%Y-%m-%d").to_string()])
            .args(["--adjustment", adjustment])
            .args(["--format", "csv", "-o"])
            .arg(&out)
            .env("BARKEEP_NOW", "2027-01-01T00:00:00Z");
        cmd
    };
    let support::Sample { wall, rss_kb } = measure(RUNS, || fetch("raw"));
    let rows = std::fs::read_to_string(&out).map_or(0, |t| t.lines().count() - 1);
    println!(
        "  barkeep {} (peak RSS {:.1} MB, {rows} hours)",
        ms(wall),
        rss_kb as f64 / 1024.0
    );
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        println!("  {} {what}", if ok { "ok  " } else { "MISS" });
        if !ok {
            failures.push(what);
        }
    };
    check(
        rss_kb <= 100 * 1024,
        format!("peak RSS <= 100 MB: {:.1} MB", rss_kb as f64 / 1024.0),
    );
    record_split(&store, first, last);
    let adjusted = measure(RUNS, || fetch("split"));
    let adjusted_rows = std::fs::read_to_string(&out).map_or(0, |t| t.lines().count() - 1);
    println!(
        "  barkeep --adjustment split {} (peak RSS {:.1} MB, {adjusted_rows} hours)",
        ms(adjusted.wall),
        adjusted.rss_kb as f64 / 1024.0
    );
    check(
        adjusted_rows == rows,
        format!("--adjustment split: the same {rows} hours: {adjusted_rows}"),
    );
    check(
        adjusted.rss_kb <= 100 * 1024,
        format!(
            "--adjustment split: peak RSS <= 100 MB: {:.1} MB",
            adjusted.rss_kb as f64 / 1024.0
        ),
    );
    match polars_python() {
        Err(why) => println!("  polars comparison skipped: {why}"),
        Ok(python) => {
            let polars_out = dir.path().join("polars.csv");
            let theirs = polars_wall(&python, &parquet, &sessions_csv, &polars_out);
            let their_rows =
                std::fs::read_to_string(&polars_out).map_or(0, |t| t.lines().count() - 1);
            println!(
                "  polars `python -c` (start-up included) {} ({their_rows} hours)",
                ms(theirs)
            );
            let x = wall.as_secs_f64() / theirs.as_secs_f64();
            check(x <= 0.5, format!("<= 0.5 x polars: {x:.2} x"));
        }
    }
    if !failures.is_empty() {
        eprintln!("missed: {failures:?}");
        std::process::exit(1);
    }
}

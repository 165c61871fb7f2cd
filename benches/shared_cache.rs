//! What the shared cache costs in object storage, measured against an S3-compatible server:
//! a worker's first read of a 2,500,000-bar series (one GET), and a nightly commit of 1,000
//! new bars to it (GET if not seen, merge, whole-object conditional PUT).
//!
//! Run with moto_server (or any S3) and the AWS variables set, e.g.:
//! `BARKEEP_TEST_S3_ENDPOINT=http://127.0.0.1:5055 AWS_ENDPOINT_URL=http://127.0.0.1:5055
//!  AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
//!  cargo bench --bench shared_cache`

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use barkeep::cache::lock::SeriesLock;
use barkeep::cache::store::SeriesUpdate;
use barkeep::cache::{SeriesKey, Store};
use barkeep::market::{Bar, Feed, Interval, IntervalSet, Volume};
use barkeep::parquet_files::SeriesMetadata;
use chrono::{DateTime, TimeDelta, Utc};

const HISTORY: usize = 2_500_000;
const NIGHTLY: usize = 1_000;

fn bars(start: DateTime<Utc>, n: usize) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let x = i as f64;
            let close = 100.0 + (x / 5000.0).sin() * 10.0 + (i % 97) as f64 / 100.0;
            Bar {
                timestamp: start + TimeDelta::minutes(i as i64),
                open: close - 0.01,
                high: close + 0.05,
                low: close - 0.07,
                close,
                volume: Volume::Shares(100 + (i as u64 * 7919) % 10_000),
                trade_count: 1 + (i as u64 * 31) % 200,
                vwap: close + 0.001,
            }
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    if std::env::var("BARKEEP_TEST_S3_ENDPOINT").is_err() {
        eprintln!(
            "set BARKEEP_TEST_S3_ENDPOINT and the AWS_* variables (see the file header) to run"
        );
        return;
    }
    let bucket = std::env::var("BARKEEP_TEST_S3_BUCKET").unwrap_or_else(|_| "barkeep-test".into());
    let url = format!("s3://{bucket}/bench-{}", std::process::id());
    let key = SeriesKey::new("SPY".parse().unwrap(), Feed::Sip, "1Min".parse().unwrap());
    let start = DateTime::parse_from_rfc3339("2016-01-04T09:00:00Z")
        .unwrap()
        .to_utc();
    let history = bars(start, HISTORY);
    let end = history.last().unwrap().timestamp + TimeDelta::minutes(1);
    let metadata = SeriesMetadata {
        symbol: key.symbol.clone(),
        feed: key.feed,
        timeframe: key.timeframe,
        coverage: IntervalSet::from_intervals(Interval::new(start, end)),
        provisional: IntervalSet::new(),
        updated_at: end,
        closed: None,
        renamed_from: None,
    };

    let writer = Store::open_bucket(&url).unwrap();
    let t = Instant::now();
    writer.replace(&key, &metadata, &history).unwrap();
    let upload = t.elapsed();
    let object_bytes = writer.size(&key).unwrap().unwrap();
    println!(
        "series: {HISTORY} bars, object {:.1} MB; first upload {upload:?}",
        object_bytes as f64 / 1e6
    );

    // A worker's first fetch: a fresh store (nothing seen), one GET and a decode.
    let reads: Vec<Duration> = (0..5)
        .map(|_| {
            let worker = Store::open_bucket(&url).unwrap();
            let t = Instant::now();
            let series = worker.read_bars(&key, None).unwrap().unwrap();
            assert_eq!(series.bars.len(), HISTORY);
            t.elapsed()
        })
        .collect();
    println!(
        "first read by a new worker (1 GET, {:.1} MB, decode): median {:?}",
        object_bytes as f64 / 1e6,
        median(reads)
    );

    // Nightly commits of 1,000 bars by a new worker: GET + decode + merge + encode + PUT.
    let mut commits = Vec::new();
    let mut next = end;
    for _ in 0..5 {
        let worker = Store::open_bucket(&url).unwrap();
        let new = bars(next, NIGHTLY);
        let answered = Interval::new(next, next + TimeDelta::minutes(NIGHTLY as i64)).unwrap();
        let update = SeriesUpdate {
            bars: new,
            answered: vec![answered],
            covered: vec![answered],
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
        };
        let t = Instant::now();
        let summary = worker
            .commit(&key, &SeriesLock::detached(), update, answered.end)
            .unwrap();
        commits.push(t.elapsed());
        assert_eq!(summary.bars_added, NIGHTLY as u64);
        next = answered.end;
    }
    println!(
        "nightly commit of {NIGHTLY} bars (GET {:.1} MB + merge + PUT {:.1} MB): median {:?}",
        object_bytes as f64 / 1e6,
        object_bytes as f64 / 1e6,
        median(commits)
    );
    let _ = Store::open_bucket(&url).map(|s| s.remove(&key, s.lock(&key, true).unwrap()));
}

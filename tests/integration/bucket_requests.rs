//! What a bucket cache moves (issue 25), counted through a proxy in front of the S3 test
//! server (`support::s3_proxy`): requests per series for a nightly update, a re-run and
//! `inspect`; bytes downloaded by a range read of long minute series; and the index of
//! corporate-actions checks under two concurrent writers. Skipped without
//! `BARKEEP_TEST_S3_ENDPOINT`; CI always sets it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use serde_json::Value;

use crate::support::s3_proxy::{ProxiedRequest, S3Proxy};
use crate::support::{TestEnv, run, s3_cache_url, s3_endpoint, spawn, utc};

macro_rules! require_s3 {
    () => {
        if s3_endpoint().is_none() {
            eprintln!("BARKEEP_TEST_S3_ENDPOINT is not set (CI sets it): skipping");
            return;
        }
    };
}

/// A watchlist file of `symbols` in the test's directory.
fn watchlist(env: &TestEnv, name: &str, symbols: &[String]) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, symbols.join("\n") + "\n").unwrap();
    path
}

/// A stock symbol: `prefix` and `i` in two letters.
fn letters(prefix: &str, i: u8) -> String {
    format!(
        "{prefix}{}{}",
        char::from(b'A' + i / 26),
        char::from(b'A' + i % 26)
    )
}

/// The binary against the bucket at `url`, through `proxy`.
fn proxied(env: &TestEnv, proxy: &S3Proxy, url: &str, line: &str) -> Command {
    let mut cmd = env.s3_command(url, line);
    cmd.env("AWS_ENDPOINT_URL", proxy.url());
    cmd
}

/// One line per kind of request, for failure messages.
fn census(requests: &[ProxiedRequest]) -> String {
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for r in requests {
        let what = r.uri.split('?').next().unwrap_or_default();
        let kind = if what.ends_with(".parquet") {
            "series"
        } else if what.ends_with("_index.json") {
            "index"
        } else if what.ends_with(".json") {
            "ledger"
        } else {
            "listing"
        };
        let ranged = if r.range.is_some() { " ranged" } else { "" };
        *kinds
            .entry(format!("{} {kind}{ranged}", r.method))
            .or_default() += 1;
    }
    format!("{} requests: {kinds:?}", requests.len())
}

#[test]
fn a_nightly_update_moves_two_requests_per_changed_series_and_inspect_one_ranged_get() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let symbols: Vec<String> = (0..200u8).map(|i| letters("N", i)).collect();
    env.add_symbols(&symbols);
    let list = watchlist(&env, "watchlist.txt", &symbols);
    let list = list.display();
    // Seeded straight into the server a week before.
    env.emu.set_now(utc("2024-06-06T02:00:00Z"));
    env.s3_run(
        &url,
        &format!("update -q --symbols-file {list} -t 1Day --start 2024-01-02"),
    )
    .success();
    let proxy = S3Proxy::start(&s3_endpoint().unwrap(), Duration::ZERO, None);

    env.emu.set_now(utc("2024-06-13T02:00:00Z"));
    let nightly = format!("update --report json --symbols-file {list} -t 1Day");
    let report: Value = run(&mut proxied(&env, &proxy, &url, &nightly))
        .success()
        .json();
    assert_eq!(report["series_updated"], 200, "{report}");
    let requests = proxy.take();
    eprintln!("nightly update: {}", census(&requests));
    assert!(requests.len() <= 2 * 200 + 10, "{}", census(&requests));

    let report: Value = run(&mut proxied(&env, &proxy, &url, &nightly))
        .success()
        .json();
    assert_eq!(report["bars_added"], 0, "{report}");
    let requests = proxy.take();
    eprintln!("re-run: {}", census(&requests));
    assert!(requests.len() <= 200 + 10, "{}", census(&requests));

    let listing = run(&mut proxied(&env, &proxy, &url, "inspect")).success();
    assert!(listing.stdout.contains(&symbols[199]), "{}", listing.stdout);
    let requests = proxy.take();
    eprintln!("inspect: {}", census(&requests));
    assert!(requests.len() <= 200 + 5, "{}", census(&requests));
    let series: Vec<&ProxiedRequest> = requests
        .iter()
        .filter(|r| r.uri.contains(".parquet"))
        .collect();
    assert_eq!(series.len(), 200, "{}", census(&requests));
    assert!(
        series
            .iter()
            .all(|r| r.method == "GET" && r.range.is_some()),
        "{}",
        census(&requests)
    );
}

/// Minute bars of every regular session from `first` to `last` (New York dates), as a
/// barkeep series file, and the instant its coverage ends.
fn minute_series(symbol: &str, first: &str, last: &str, seed: u64) -> Vec<u8> {
    use barkeep::market::{Bar, Feed, IntervalSet, Volume};
    use barkeep::parquet_files::SeriesMetadata;
    let mut rng = fastrand::Rng::with_seed(seed);
    let (first, last) = (
        chrono::NaiveDate::parse_from_str(first, "%Y-%m-%d").unwrap(),
        chrono::NaiveDate::parse_from_str(last, "%Y-%m-%d").unwrap(),
    );
    let mut bars = Vec::new();
    let mut price = 100.0_f64;
    let mut day = first;
    while day <= last {
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            let open = crate::support::ny(&format!("{day} 09:30"));
            for minute in 0..390 {
                price = (price * (1.0 + (rng.f64() - 0.5) / 500.0) * 100.0).round() / 100.0;
                let spread = f64::from(rng.u8(0..20)) / 100.0;
                bars.push(Bar {
                    timestamp: open + TimeDelta::minutes(minute),
                    open: price,
                    high: price + spread,
                    low: price - spread,
                    close: price + spread / 2.0,
                    volume: Volume::Shares(rng.u64(100..50_000)),
                    trade_count: rng.u64(1..500),
                    vwap: (price * 10_000.0 + f64::from(rng.u16(0..1000))).round() / 10_000.0,
                });
            }
        }
        day = day.succ_opt().unwrap();
    }
    let end: DateTime<Utc> = bars.last().unwrap().timestamp + TimeDelta::minutes(1);
    let metadata = SeriesMetadata {
        symbol: symbol.parse().unwrap(),
        feed: Feed::Sip,
        timeframe: "1Min".parse().unwrap(),
        coverage: IntervalSet::from_intervals([barkeep::market::Interval::new(
            bars[0].timestamp,
            end,
        )
        .unwrap()]),
        provisional: IntervalSet::new(),
        updated_at: end,
        closed: None,
        renamed_from: None,
    };
    barkeep::parquet_files::write::write_series(Vec::new(), &metadata, &bars).unwrap()
}

/// The test bucket holding the cache at `url`, and the cache's prefix in it.
fn bucket_of(url: &str) -> (impl object_store::ObjectStore, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rest = url.strip_prefix("s3://").unwrap();
    let (bucket, prefix) = rest.split_once('/').unwrap();
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(s3_endpoint().unwrap())
        .with_bucket_name(bucket)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    (store, prefix.to_owned())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn object_path(prefix: &str, relative: &Path) -> object_store::path::Path {
    object_store::path::Path::from(format!(
        "{prefix}/{}",
        relative.to_string_lossy().replace('\\', "/")
    ))
}

/// Puts `bytes` at `relative` under the cache at `url` in the test bucket.
fn put_object(url: &str, relative: &Path, bytes: Vec<u8>) {
    use object_store::ObjectStoreExt;
    let (store, prefix) = bucket_of(url);
    block_on(store.put(&object_path(&prefix, relative), bytes.into())).unwrap();
}

/// The object at `relative` under the cache at `url`; `None` when absent.
fn get_object(url: &str, relative: &Path) -> Option<Vec<u8>> {
    use object_store::ObjectStoreExt;
    let (store, prefix) = bucket_of(url);
    block_on(async {
        let got = store.get(&object_path(&prefix, relative)).await.ok()?;
        Some(got.bytes().await.unwrap().to_vec())
    })
}

#[test]
fn an_offline_fetch_of_the_last_sessions_downloads_only_their_pages() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let symbols = ["LONGA", "LONGB", "LONGC", "LONGD", "LONGE"];
    let mut total = 0;
    for (i, symbol) in symbols.iter().enumerate() {
        let bytes = minute_series(symbol, "2022-06-13", "2024-06-12", i as u64);
        total += bytes.len() as u64;
        let relative = PathBuf::from(format!("stocks/sip/1Min/{symbol}.parquet"));
        let local = env.cache().join(&relative);
        std::fs::create_dir_all(local.parent().unwrap()).unwrap();
        std::fs::write(&local, &bytes).unwrap();
        put_object(&url, &relative, bytes);
    }
    env.emu.set_now(utc("2024-06-13T02:00:00Z"));
    let line = format!(
        "fetch --offline -t 1Min --start 2024-06-06 --end 2024-06-12 {}",
        symbols.join(" ")
    );
    let local = env.run(&line).success();
    let proxy = S3Proxy::start(&s3_endpoint().unwrap(), Duration::ZERO, None);
    let bucket = run(&mut proxied(&env, &proxy, &url, &line)).success();
    let requests = proxy.take();
    assert_eq!(bucket.stdout, local.stdout, "the same bars as from disk");
    assert_eq!(local.stdout.lines().count(), 1 + 5 * 5 * 390);
    let downloaded: u64 = requests.iter().map(|r| r.bytes).sum();
    eprintln!(
        "fetch --offline of 5 sessions: {downloaded} of {total} bytes ({:.1}%), {}",
        downloaded as f64 * 100.0 / total as f64,
        census(&requests)
    );
    assert!(
        downloaded * 10 <= total,
        "{downloaded} of {total} bytes: {}",
        census(&requests)
    );
    assert!(
        requests
            .iter()
            .all(|r| r.range.is_some() || !r.is_get_object())
    );
}

#[test]
fn two_concurrent_updates_of_disjoint_watchlists_both_land_in_the_index() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let ours: Vec<String> = (0..3).map(|i| letters("OURS", i)).collect();
    let theirs: Vec<String> = (0..3).map(|i| letters("THEIRS", i)).collect();
    env.add_symbols(&ours);
    env.add_symbols(&theirs);
    env.emu.set_now(utc("2024-06-13T02:00:00Z"));
    let proxy = S3Proxy::start(&s3_endpoint().unwrap(), Duration::ZERO, None);
    // Both runs read the index to plan, then read it to record their checks: the second
    // reads meet, so both merge into the same version and one must lose the write.
    proxy.rendezvous("_index.json", 2, 2);
    let workers: Vec<_> = [(&ours, "ours.txt"), (&theirs, "theirs.txt")]
        .into_iter()
        .map(|(symbols, name)| {
            let list = watchlist(&env, name, symbols);
            let line = format!(
                "update -q --symbols-file {} -t 1Day --start 2024-06-03",
                list.display()
            );
            spawn(&mut proxied(&env, &proxy, &url, &line))
        })
        .collect();
    for worker in workers {
        worker.wait().success();
    }
    let index: Value = serde_json::from_slice(
        &get_object(&url, Path::new("stocks/actions/_index.json")).expect("an index"),
    )
    .unwrap();
    for symbol in ours.iter().chain(&theirs) {
        assert!(index["symbols"][symbol].is_object(), "{symbol}: {index}");
    }
}

//! The shared cache in S3-compatible object storage (moto_server in CI): the same gap filling
//! and request counts as on disk, every subcommand against a bucket, racing workers that never
//! lose each other's bars, and workers killed mid-commit. Skipped only when
//! `BARKEEP_TEST_S3_ENDPOINT` is absent; CI always sets it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::emulator::Fault;
use crate::support::{
    TestEnv, assert_asked, bars_of, parse_csv, s3_cache_url, s3_endpoint, spawn, utc,
};

macro_rules! require_s3 {
    () => {
        if s3_endpoint().is_none() {
            eprintln!("BARKEEP_TEST_S3_ENDPOINT is not set (CI sets it): skipping");
            return;
        }
    };
}

#[test]
fn gap_filling_in_a_bucket_costs_the_same_requests_as_on_disk() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let quarter = "fetch AAPL MSFT --start 2024-01-01 --end 2024-03-31";
    let first = env.s3_run(&url, quarter).success();
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].symbols(), vec!["AAPL", "MSFT"]);
    let rows = parse_csv(&first.stdout);
    let expected = env.emu.bars(
        "MSFT",
        "1Day",
        utc("2024-01-01T05:00:00Z"),
        utc("2024-04-01T03:59:59Z"),
        "sip",
    );
    assert_eq!(bars_of(&rows, "MSFT"), expected);

    let again = env.s3_run(&url, quarter).success();
    assert_eq!(again.stdout, first.stdout);
    env.s3_run(&url, "fetch AAPL --start 2024-02-01 --end 2024-02-29")
        .success();
    assert!(env.take_bar_requests().is_empty(), "served from the bucket");

    env.s3_run(&url, "fetch AAPL --start 2024-01-01 --end 2024-05-31")
        .success();
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-04-01T04:00:00Z", "2024-06-01T03:59:59.999999999Z")],
    );
    assert!(!env.cache().exists(), "nothing is written to local disk");

    // A second "worker" with its own empty disk sees the same cache.
    let other = TestEnv::new();
    let offline = other
        .s3_run(
            &url,
            "fetch --offline AAPL MSFT --start 2024-01-01 --end 2024-03-31",
        )
        .success();
    assert_eq!(offline.stdout, first.stdout);
}

#[test]
fn inspect_update_and_prune_work_against_the_bucket() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    env.s3_run(
        &url,
        "fetch -q AAPL NVDA --start 2024-05-01 --end 2024-05-31",
    )
    .success();
    let listing: Vec<Value> = env.s3_run(&url, "inspect --format json").success().json();
    assert_eq!(listing.len(), 2);
    assert_eq!(
        listing[0]["path"],
        format!("{url}/stocks/sip/1Day/AAPL.parquet")
    );
    assert_eq!(
        listing[0]["coverage"],
        json!([["2024-05-01T04:00:00Z", "2024-06-01T04:00:00Z"]])
    );
    assert!(listing[0]["bytes"].as_u64().unwrap() > 0);
    env.s3_run(&url, "inspect --verify").success();

    env.take_bar_requests();
    let report: Value = env.s3_run(&url, "update --report json").success().json();
    assert_eq!(report["series_updated"], 2);
    assert_eq!(
        env.take_bar_requests().len(),
        1,
        "both series share one request"
    );

    env.s3_run(&url, "prune --before 2024-05-15")
        .success()
        .assert_stdout_contains("trimmed");
    env.s3_run(&url, "fetch -q AAPL --start 2024-05-01 --end 2024-05-31")
        .success();
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-05-01T04:00:00Z", "2024-05-15T03:59:59.999999999Z")],
    );
    env.s3_run(&url, "prune NVDA").success();
    let listing: Vec<Value> = env.s3_run(&url, "inspect --format json").success().json();
    assert_eq!(listing.len(), 1);
    env.s3_run(&url, "prune --all --yes").success();
    let inspect = env.s3_run(&url, "inspect --format json").success();
    assert_eq!(inspect.stdout.trim(), "[]");
}

#[test]
fn eight_racing_workers_never_lose_each_others_bars() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let symbols: Vec<String> = (0..8u8)
        .map(|i| format!("RACE{}", char::from(b'A' + i)))
        .collect();
    env.add_symbols(&symbols);
    // Every series exists, so each worker's plan reads a version of it; slow answers then make
    // every worker commit against that same version: all but one writer of each series must
    // lose the conditional put, re-read and merge.
    let seed = format!(
        "fetch -q -t 1Hour --start 2024-05-20 --end 2024-05-24 {}",
        symbols.join(" ")
    );
    env.s3_run(&url, &seed).success();
    // Worker i updates symbols i, i+1 and i+2: every series has three writers.
    env.emu.inject(Fault::Delay(Duration::from_millis(700)), 8);
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let three: Vec<&str> = (0..3).map(|k| symbols[(i + k) % 8].as_str()).collect();
            let line = format!(
                "update --report json -t 1Hour --start 2024-05-20 {}",
                three.join(" ")
            );
            spawn(&mut env.s3_command(&url, &line))
        })
        .collect();
    let mut conflicts = 0;
    for worker in workers {
        let report: Value = worker.wait().success().json();
        conflicts += report["conflicts"].as_u64().unwrap();
    }
    eprintln!("8 racing workers: {conflicts} conditional-put conflicts, all retried");
    assert!(conflicts > 0, "the workers raced on the same objects");
    env.assert_nothing_local();
    env.s3_run(&url, "inspect --verify").success();
    for s in &symbols {
        let line = format!("fetch --offline {s} -t 1Hour --start 2024-05-20 --end 2024-06-13");
        let csv = env.s3_run(&url, &line).success().stdout;
        let expected = env.emu.bars(
            s,
            "1Hour",
            utc("2024-05-20T04:00:00Z"),
            utc("2024-06-14T03:59:59Z"),
            "sip",
        );
        assert_eq!(bars_of(&parse_csv(&csv), s), expected, "{s}");
    }
}

#[test]
fn a_worker_killed_mid_commit_leaves_the_previous_state() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    env.emu.set_now(utc("2024-06-10T21:00:00Z"));
    let week = "fetch SPY -t 1Min --start 2024-06-03 --end 2024-06-07";
    let offline = "fetch --offline SPY -t 1Min --start 2024-06-03 --end 2024-06-07";
    let before = env.s3_run(&url, week).success().stdout;
    for round in 0..8u64 {
        env.emu.set_now(
            utc("2024-06-10T21:00:00Z") + chrono::TimeDelta::days(i64::try_from(round).unwrap()),
        );
        let mut child = env
            .s3_command(&url, "update -q SPY -t 1Min")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(40 + 37 * round));
        let _ = child.kill();
        let _ = child.wait();
        env.assert_nothing_local();
        env.s3_run(&url, "inspect --verify").success();
        let now = env.s3_run(&url, offline).success().stdout;
        assert_eq!(
            now, before,
            "round {round}: the bars held before are intact"
        );
    }
}

#[test]
fn adjusted_fetches_keep_their_ledger_in_the_bucket_too() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    let adjusted = "fetch ACME --start 2022-01-01 --end 2024-06-13 --adjustment all";
    let local = env.run(adjusted).success().stdout;
    let bucket = env.s3_run(&url, adjusted).success().stdout;
    assert_eq!(
        bucket, local,
        "the same adjusted bars from a bucket as from disk"
    );
    let listing: Vec<Value> = env
        .s3_run(&url, "inspect ACME --format json")
        .success()
        .json();
    assert!(
        listing[0]["corporate_actions"]
            .to_string()
            .contains("split"),
        "{}",
        listing[0]
    );
    // The ledger is read back from the bucket: offline adjusted fetches work.
    let offline = env
        .s3_run(
            &url,
            "fetch --offline ACME --start 2022-01-01 --end 2024-06-13 --adjustment all",
        )
        .success();
    assert_eq!(offline.stdout, local);
    env.s3_run(&url, "prune --all --yes").success();
    let other = TestEnv::new();
    other
        .s3_run(&url, "fetch --offline ACME --adjustment split")
        .failure(1);
}

/// A rename restates the new ticker's history in a bucket as on disk (issue 23).
#[test]
fn a_rename_restates_history_in_a_bucket_too() {
    require_s3!();
    let env = TestEnv::new();
    let url = s3_cache_url();
    for symbol in ["OLDCO", "NEWT"] {
        env.emu.add_symbol(symbol, crate::support::d("2015-01-02"));
    }
    env.emu.rename("OLDCO", "2024-06-10", "NEWT");
    env.emu.set_now(utc("2024-06-05T21:00:00Z"));
    env.s3_run(&url, "update OLDCO NEWT --start 2024-05-01")
        .success();
    env.emu.set_now(utc("2024-06-12T21:00:00Z"));
    env.s3_run(&url, "update")
        .success()
        .assert_stderr_contains("NEWT 1Day (stocks sip): renamed from OLDCO on 2024-06-10");
    let held = env
        .s3_run(
            &url,
            "fetch --offline NEWT --start 2024-05-01 --end 2024-06-12",
        )
        .success()
        .stdout;
    let expected = env.expected_bars("NEWT", "1Day", "2024-05-01", "2024-06-12");
    assert_eq!(bars_of(&parse_csv(&held), "NEWT"), expected);
    env.s3_run(&url, "inspect --format table")
        .success()
        .assert_stdout_contains("OLDCO 1Day (stocks sip): renamed to NEWT on 2024-06-10");
}

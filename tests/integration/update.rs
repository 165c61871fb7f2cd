//! `barkeep update`: request counts for nightly runs, failure isolation, concurrent runs,
//! watchlists, dry runs and the JSON report.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::emulator::Fault;
use crate::support::{self, TestEnv, rfc3339, run, spawn, utc};

/// `n` watchlist symbols (`WAA`, `WAB`, …), added to the emulator.
fn symbols(env: &TestEnv, n: u8) -> Vec<String> {
    let list = support::symbols("W", n);
    env.add_symbols(&list);
    list
}

/// The `field` of every series in an update's JSON report.
fn each(report: &Value, field: &str) -> Vec<String> {
    let series = report["series"].as_array().unwrap().iter();
    series
        .map(|s| s[field].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_nightly_update_of_50_stale_series_costs_only_the_pages_needed() {
    let env = TestEnv::new();
    let list = symbols(&env, 50);
    env.emu.set_now(utc("2024-06-07T21:00:00Z"));
    let symbols = list.join(" ");
    env.run(&format!("fetch -q --start 2024-05-01 {symbols}"))
        .success();
    assert_eq!(env.take_bar_requests().len(), 1);

    // A week later.
    env.emu.set_now(utc("2024-06-14T21:00:00Z"));
    let out = env.run("update --report json").success();
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1, "one request carries all 50 series");
    assert_eq!(requests[0].symbols(), list);
    let start = requests[0].param("start");
    assert_eq!(start, Some("2024-06-07T04:00:00Z"), "new bars only");
    let r: Value = out.json();
    assert_eq!(r["series_updated"], 50);
    assert_eq!(r["series_failed"], 0);
    assert_eq!(r["requests"], 1);
    assert_eq!(r["bars_added"], 50 * 5, "Monday to Friday of the new week");
    assert_eq!(r["series"].as_array().unwrap().len(), 50);
    let first = &r["series"][0];
    assert_eq!(first["symbol"], list[0].as_str());
    assert_eq!(first["asset_class"], "stocks");
    assert_eq!(first["feed"], "sip");
    assert_eq!(first["timeframe"], "1Day");
    assert_eq!(first["status"], "updated");
    assert_eq!(first["bars_added"], 5);
    assert!(first["error"].is_null());
    out.assert_stderr_contains(
        "50 series updated, 0 unchanged, 0 failed; 250 bars added; 1 requests",
    );

    // What the cache now serves is exactly the emulator's bars.
    let s = &list[7];
    let cached = env.run(&format!(
        "fetch --offline {s} --start 2024-05-01 --end 2024-06-13"
    ));
    let expected = env.expected_bars(s, "1Day", "2024-05-01", "2024-06-13");
    assert_eq!(cached.success().bars_of(s), expected);

    // Running again at once asks only for the unsettled tail, in one request.
    env.run("update -q").success();
    assert_eq!(env.take_bar_requests().len(), 1);
}

#[test]
fn one_failing_symbol_does_not_stop_the_others() {
    let env = TestEnv::new();
    let list = symbols(&env, 6);
    env.emu.fail_symbol(&list[2], 500);
    let symbols = list.join(" ");
    let out = env.run(&format!(
        "update --report json --start 2024-06-01 {symbols}"
    ));
    let out = out.failure(1);
    let r: Value = out.json();
    assert_eq!(r["series_updated"], 5);
    assert_eq!(r["series_failed"], 1);
    let series = r["series"].as_array().unwrap().iter();
    let failed: Vec<_> = series.filter(|s| s["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["symbol"], list[2].as_str());
    assert!(failed[0]["error"].as_str().unwrap().contains("500"));
    // The failure is named.
    out.assert_stderr_contains(&format!("{} 1Day", list[2]));
    for (i, s) in list.iter().enumerate() {
        let path = env.series_path(&format!("stocks/sip/1Day/{s}.parquet"));
        assert_eq!(path.exists(), i != 2, "{s}");
    }
}

#[test]
fn two_updates_at_once_neither_corrupt_nor_duplicate() {
    let env = TestEnv::new();
    let list = symbols(&env, 8);
    let line = format!(
        "update -q -t 1Day -t 1Hour --start 2024-05-01 {}",
        list.join(" ")
    );
    env.emu.inject(Fault::Delay(Duration::from_millis(300)), 4);
    let (a, b) = (
        spawn(&mut env.command(&line)),
        spawn(&mut env.command(&line)),
    );
    a.wait().success();
    b.wait().success();
    env.run("inspect --verify").success();
    for s in &list {
        let line = format!("fetch --offline {s} -t 1Hour --start 2024-05-01 --end 2024-06-13");
        let expected = env.expected_bars(s, "1Hour", "2024-05-01", "2024-06-13");
        assert_eq!(env.run(&line).success().bars_of(s), expected, "{s}");
    }
}

/// Locks are held only while a series is committed (so a run's open files stay bounded);
/// `--no-wait` fails a series whose lock another process holds at that moment instead of
/// waiting for it. Here "another process" holds the lock file the way barkeep does.
#[test]
fn no_wait_fails_fast_when_another_run_holds_the_locks() {
    let env = TestEnv::new();
    env.run("update -q AAPL --start 2024-06-03").success();
    env.emu.set_now(env.emu.now() + chrono::TimeDelta::days(1));
    let series = env.series_path("stocks/sip/1Day/AAPL.parquet");
    let lock_path = series.with_file_name(".AAPL.parquet.lock");
    let holder = std::fs::OpenOptions::new().write(true).open(&lock_path);
    let holder = holder.unwrap();
    holder.lock().unwrap();
    let before = std::fs::read(&series).unwrap();
    let started = std::time::Instant::now();
    let out = env.run("update --no-wait AAPL").failure(1);
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
    out.assert_stderr_contains("another barkeep process holds the lock");
    assert_eq!(std::fs::read(&series).unwrap(), before, "nothing written");
    holder.unlock().unwrap();
    env.run("update --no-wait AAPL").success();
    assert_ne!(std::fs::read(&series).unwrap(), before);
}

#[test]
fn watchlists_come_from_files_or_stdin() {
    let env = TestEnv::new();
    let list = env.dir.path().join("watchlist.txt");
    let text = "# my watchlist\nAAPL\n\n  msft   # lowercase is fine\nBTC/USD\n";
    std::fs::write(&list, text).unwrap();
    let file = list.display();
    let update = format!("update --symbols-file '{file}' --start 2024-06-01 --report json");
    let r: Value = env.run(&update).success().json();
    assert_eq!(each(&r, "symbol"), ["AAPL", "BTC/USD", "MSFT"]);
    assert!(
        env.series_path("crypto/us/1Day/BTC%2FUSD.parquet")
            .is_file()
    );
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").is_file());

    let mut cmd = env.command("update --symbols-file - -t 1Hour --start 2024-06-10");
    let mut child = spawn(cmd.stdin(Stdio::piped()));
    std::io::Write::write_all(&mut child.take_stdin(), b"NVDA\n").unwrap();
    child.wait().success();
    assert!(env.series_path("stocks/sip/1Hour/NVDA.parquet").is_file());

    let before = env.snapshot();
    let missing = env.run("update --symbols-file /no/such/list").failure(2);
    missing
        .assert_stderr_contains("/no/such/list")
        .assert_stderr_lines(1);
    assert_eq!(env.snapshot(), before);
    // A line that is not a symbol is skipped and named; the others are updated; exit 1.
    std::fs::write(&list, "AAPL\nCSP1\n").unwrap();
    let bad = env.run(&format!("update --symbols-file '{file}' --report json"));
    let bad = bad.failure(1);
    bad.assert_stderr_contains("watchlist.txt:2: invalid symbol");
    let report: Value = bad.json();
    assert_eq!(report["series_failed"], 1);
    let entries = report["series"].as_array().unwrap();
    let aapl = entries.iter().find(|e| e["symbol"] == "AAPL").unwrap();
    assert_ne!(aapl["status"], "failed", "{aapl}");
    let csp1 = entries.iter().find(|e| e["symbol"] == "CSP1").unwrap();
    assert_eq!(csp1["status"], "failed");
    assert!(env.series_path("stocks/sip/1Day/AAPL.parquet").exists());
    // On the command line, a bad symbol is still bad usage: exit 2, nothing touched.
    let before = env.snapshot();
    env.run("update AAPL CSP1").failure(2);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn new_series_start_at_start_and_cached_timeframes_are_the_default() {
    let env = TestEnv::new();
    env.run("fetch -q AAPL -t 1Hour --start 2024-06-10")
        .success();
    env.run("fetch -q AAPL -t 1Day --start 2024-06-01")
        .success();
    env.take_bar_requests();
    env.emu.set_now(utc("2024-06-18T21:00:00Z"));
    let r: Value = env
        .run("update AAPL NVDA --start 2024-06-03 --report json")
        .success()
        .json();
    let pairs = each(&r, "symbol").into_iter().zip(each(&r, "timeframe"));
    let series: Vec<String> = pairs.map(|(s, t)| format!("{s} {t}")).collect();
    assert_eq!(series, ["AAPL 1Hour", "AAPL 1Day", "NVDA 1Day"]);
    let nvda = env.run("fetch --offline NVDA --start 2024-06-03 --end 2024-06-17");
    assert_eq!(nvda.success().rows()[0].t, utc("2024-06-03T04:00:00Z"));
}

#[test]
fn dry_run_plans_without_requests_or_changes() {
    let env = TestEnv::new();
    env.run("fetch -q AAPL MSFT --start 2024-05-01").success();
    env.take_bar_requests();
    env.emu.set_now(utc("2024-06-21T21:00:00Z"));
    let before = env.snapshot();
    let out = env.run("update --dry-run").success();
    assert!(env.emu.requests().is_empty());
    assert_eq!(env.snapshot(), before);
    out.assert_stdout_contains("AAPL")
        .assert_stdout_contains("MSFT")
        .assert_stdout_contains(&rfc3339(utc("2024-06-14T04:00:00Z")))
        .assert_stdout_contains("1 requests planned");
    let r: Value = env.run("update --dry-run --report json").success().json();
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["series"].as_array().unwrap().len(), 2);
    assert_eq!(r["series"][0]["ranges"][0][0], "2024-06-14T04:00:00Z");
}

#[test]
fn an_empty_cache_has_nothing_to_update() {
    let env = TestEnv::new();
    env.run("update")
        .success()
        .assert_stderr_contains("0 series updated");
    assert!(env.emu.requests().is_empty());
    let piped = run(&mut env.command("update --report json"));
    assert_eq!(piped.json::<Value>()["series"], json!([]));
}

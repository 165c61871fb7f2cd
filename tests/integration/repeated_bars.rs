//! Bars that arrive twice (issue 20, item 2): a bar repeated at a page boundary, as windows
//! stitched at an inclusive `end` repeat one, is merged, never fatal; the later copy wins;
//! and a fetch in which several series fail names every one of them.

use crate::support::emulator::{Fault, Repeat};
use crate::support::{TestEnv, bars_of, parse_csv, utc};

fn fetch_csv(env: &TestEnv, args: &str) -> String {
    env.run(format!("fetch --format csv {args}").as_str())
        .success()
        .stdout
}

/// Every `symbol` of `out` equals the emulator's bars of `timeframe` over `[start, end]`.
#[track_caller]
fn assert_equals_emulator(env: &TestEnv, out: &str, symbols: &[&str], start: &str, end: &str) {
    let rows = parse_csv(out);
    for symbol in symbols {
        let expected = env.emu.bars(symbol, "1Min", utc(start), utc(end), "sip");
        assert!(expected.len() > 1_000, "{symbol}: a long answer");
        assert_eq!(bars_of(&rows, symbol), expected, "{symbol}");
    }
}

#[test]
fn a_bar_repeated_at_each_page_boundary_is_merged_and_the_later_copy_wins() {
    let env = TestEnv::new();
    // The first copy of each repeated bar differs: only keeping the later one gives the truth.
    env.emu.repeat_last_bar_of_each_page(Some(Repeat::Changed));
    // And 503s on the way, so retried requests repeat bars too.
    env.emu.inject(Fault::Status(503), 2);
    let args = "AAPL MSFT SPY -t 1Min --start 2024-05-15 --end 2024-06-13";
    let out = fetch_csv(&env, args);
    let requests = env.take_bar_requests();
    let pages = requests.iter().filter(|r| r.param("page_token").is_some());
    assert!(pages.count() >= 2, "several pages: {requests:#?}");
    assert_equals_emulator(
        &env,
        &out,
        &["AAPL", "MSFT", "SPY"],
        "2024-05-15T04:00:00Z",
        "2024-06-14T03:59:00Z",
    );

    // Everything was committed: the same fetch is served from the cache, with the same bars.
    env.emu.repeat_last_bar_of_each_page(None);
    let again = fetch_csv(&env, args);
    assert_eq!(env.take_bar_requests().len(), 0);
    assert_eq!(again, out);
}

#[test]
fn a_long_single_symbol_fetch_with_repeated_bars_commits_everything() {
    let env = TestEnv::new();
    env.emu
        .repeat_last_bar_of_each_page(Some(Repeat::Identical));
    let args = "SPY -t 1Min --start 2024-05-01 --end 2024-06-13";
    let out = fetch_csv(&env, args);
    assert!(env.take_bar_requests().len() >= 3, "a multi-page answer");
    assert_equals_emulator(
        &env,
        &out,
        &["SPY"],
        "2024-05-01T04:00:00Z",
        "2024-06-14T03:59:00Z",
    );
    env.run("inspect --format csv")
        .success()
        .assert_stdout_contains("SPY");
    let again = fetch_csv(&env, args);
    assert_eq!(env.take_bar_requests().len(), 0);
    assert_eq!(again, out);
}

#[test]
fn a_crypto_fetch_with_repeated_bars_equals_the_emulator() {
    let env = TestEnv::new();
    env.emu.repeat_last_bar_of_each_page(Some(Repeat::Changed));
    let out = fetch_csv(&env, "BTC/USD -t 1Min --start 2024-06-01 --end 2024-06-10");
    assert!(env.take_bar_requests().len() >= 2, "a multi-page answer");
    let rows = parse_csv(&out);
    let expected = env.emu.bars(
        "BTC/USD",
        "1Min",
        utc("2024-06-01T00:00:00Z"),
        utc("2024-06-10T23:59:00Z"),
        "",
    );
    assert!(expected.len() > 10_000);
    assert_eq!(bars_of(&rows, "BTC/USD"), expected);
}

#[test]
fn every_series_that_failed_is_named() {
    let env = TestEnv::new();
    env.emu.fail_symbol("MSFT", 500);
    env.emu.fail_symbol("SPY", 500);
    let run = env
        .run(&[
            "fetch",
            "AAPL",
            "MSFT",
            "SPY",
            "-t",
            "1Day",
            "--start",
            "2024-06-03",
            "--end",
            "2024-06-07",
        ])
        .failure(1);
    let first = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        first.starts_with("error: ") && first.contains("MSFT") && first.contains("SPY"),
        "{}",
        run.stderr
    );
    assert!(!first.contains("AAPL"), "{}", run.stderr);
    // AAPL was answered and kept.
    assert!(env.series_path("stocks/sip/1Day/AAPL.parquet").is_file());
}

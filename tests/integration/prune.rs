//! `barkeep prune`: removing series, trimming old bars (and their coverage), emptying the
//! cache, dry runs, and leftovers of interrupted writes.

use serde_json::{Value, json};

use crate::support::{TestEnv, assert_asked, utc};

#[test]
fn trimming_drops_bars_and_coverage_so_the_span_is_asked_again() {
    let env = TestEnv::new();
    env.run("fetch -q AAPL --start 2024-01-01 --end 2024-03-31")
        .success();
    env.take_bar_requests();

    let before = env.snapshot();
    env.run("prune --before 2024-02-01 --dry-run")
        .success()
        .assert_stdout_contains("would trim")
        .assert_stdout_contains("AAPL 1Day")
        .assert_stdout_contains("nothing changed");
    assert_eq!(env.snapshot(), before, "--dry-run changes nothing");

    // January 2024 had 21 trading days.
    env.run("prune --before 2024-02-01")
        .success()
        .assert_stdout_contains("trimmed")
        .assert_stdout_contains("21 rows");
    let info: Value = env.run("inspect --format json").success().json();
    let trimmed = json!([["2024-02-01T05:00:00Z", "2024-04-01T04:00:00Z"]]);
    assert_eq!(info[0]["coverage"], trimmed);
    assert_eq!(info[0]["first"], "2024-02-01T05:00:00Z");

    env.run("fetch -q AAPL --start 2024-01-01 --end 2024-03-31")
        .success();
    // From 2024-01-02: New Year's Day holds no session.
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-01-02T05:00:00Z", "2024-02-01T04:59:59.999999999Z")],
    );

    // --keep is --before a span back from now (2024-06-14T20:30:00Z).
    env.run("prune --keep 90d").success();
    let info: Value = env.run("inspect --format json").success().json();
    assert!(utc(info[0]["first"].as_str().unwrap()) >= utc("2024-03-16T20:30:00Z"));
}

#[test]
fn removing_series_and_emptying_the_cache() {
    let env = TestEnv::new();
    env.run("fetch -q AAPL MSFT --start 2024-05-01").success();
    env.run("fetch -q AAPL -t 1Hour --start 2024-06-10")
        .success();
    let dir = env.series_path("stocks/sip/1Day");
    std::fs::write(dir.join(".tmp-999-123-AAPL.parquet"), b"half a file").unwrap();

    let before = env.snapshot();
    env.run("prune AAPL --dry-run").success();
    assert_eq!(env.snapshot(), before);

    env.run("prune AAPL")
        .success()
        .assert_stdout_contains("removed")
        .assert_stdout_contains("AAPL 1Day")
        .assert_stdout_contains("AAPL 1Hour")
        .assert_stdout_contains("1 leftover temp files");
    assert!(!env.series_path("stocks/sip/1Day/AAPL.parquet").exists());
    assert!(!dir.join(".tmp-999-123-AAPL.parquet").exists());
    let hourly = env.series_path("stocks/sip/1Hour");
    assert!(!hourly.exists(), "emptied directories go too");
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").exists());

    env.run("prune TSLA")
        .success()
        .assert_stderr_contains("nothing to prune")
        .assert_stdout_empty();

    env.run("prune --all")
        .failure(2)
        .assert_stderr_contains("--yes");
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").exists());
    env.run("prune --all --yes").success();
    env.assert_no_files();
}

#[test]
fn prune_usage_errors_exit_2() {
    let env = TestEnv::new();
    env.run("prune").failure(2);
    env.run("prune --keep 2024-01-01").failure(2);
    env.run("prune --before 2024-01-01 --keep 1y").failure(2);
    env.run("prune AAPL --all").failure(2);
    env.run("prune --before someday").failure(2);
}

//! `barkeep prune`: removing series, trimming old bars (and their coverage), emptying the
//! cache, dry runs, and leftovers of interrupted writes.

use crate::support::{TestEnv, utc};

#[test]
fn trimming_drops_bars_and_coverage_so_the_span_is_asked_again() {
    let env = TestEnv::new();
    env.run(&[
        "fetch",
        "-q",
        "AAPL",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-31",
    ])
    .success();
    env.take_bar_requests();

    let before = env.snapshot();
    let dry = env
        .run(&["prune", "--before", "2024-02-01", "--dry-run"])
        .success();
    assert!(
        dry.stdout.contains("would trim") && dry.stdout.contains("AAPL 1Day"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("nothing changed"));
    assert_eq!(env.snapshot(), before, "--dry-run changes nothing");

    let out = env.run(&["prune", "--before", "2024-02-01"]).success();
    assert!(
        out.stdout.contains("trimmed") && out.stdout.contains("21 rows"),
        "January 2024 had 21 trading days: {}",
        out.stdout
    );
    let info: Vec<serde_json::Value> =
        serde_json::from_str(&env.run(&["inspect", "--format", "json"]).success().stdout).unwrap();
    assert_eq!(
        info[0]["coverage"],
        serde_json::json!([["2024-02-01T05:00:00Z", "2024-04-01T04:00:00Z"]])
    );
    assert_eq!(info[0]["first"], "2024-02-01T05:00:00Z");

    env.run(&[
        "fetch",
        "-q",
        "AAPL",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-31",
    ])
    .success();
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1);
    // From 2024-01-02: New Year's Day holds no session.
    assert_eq!(requests[0].param("start"), Some("2024-01-02T05:00:00Z"));
    assert_eq!(
        requests[0].param("end"),
        Some("2024-02-01T04:59:59.999999999Z")
    );

    // --keep is --before a span back from now (2024-06-14T20:30:00Z).
    env.run(&["prune", "--keep", "90d"]).success();
    let info: Vec<serde_json::Value> =
        serde_json::from_str(&env.run(&["inspect", "--format", "json"]).success().stdout).unwrap();
    assert!(utc(info[0]["first"].as_str().unwrap()) >= utc("2024-03-16T20:30:00Z"));
}

#[test]
fn removing_series_and_emptying_the_cache() {
    let env = TestEnv::new();
    env.run(&["fetch", "-q", "AAPL", "MSFT", "--start", "2024-05-01"])
        .success();
    env.run(&[
        "fetch",
        "-q",
        "AAPL",
        "-t",
        "1Hour",
        "--start",
        "2024-06-10",
    ])
    .success();
    let dir = env.series_path("stocks/sip/1Day");
    std::fs::write(dir.join(".tmp-999-123-AAPL.parquet"), b"half a file").unwrap();

    let before = env.snapshot();
    env.run(&["prune", "AAPL", "--dry-run"]).success();
    assert_eq!(env.snapshot(), before);

    let out = env.run(&["prune", "AAPL"]).success();
    assert!(
        out.stdout.contains("removed")
            && out.stdout.contains("AAPL 1Day")
            && out.stdout.contains("AAPL 1Hour"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("1 leftover temp files"),
        "{}",
        out.stdout
    );
    assert!(!env.series_path("stocks/sip/1Day/AAPL.parquet").exists());
    assert!(!dir.join(".tmp-999-123-AAPL.parquet").exists());
    assert!(
        !env.series_path("stocks/sip/1Hour").exists(),
        "emptied directories go too"
    );
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").exists());

    let absent = env.run(&["prune", "TSLA"]).success();
    assert!(
        absent.stderr.contains("nothing to prune"),
        "{}",
        absent.stderr
    );
    assert!(absent.stdout.is_empty());

    let refused = env.run(&["prune", "--all"]).failure(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").exists());
    env.run(&["prune", "--all", "--yes"]).success();
    let left = env.files();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn prune_usage_errors_exit_2() {
    let env = TestEnv::new();
    env.run(&["prune"]).failure(2);
    env.run(&["prune", "--keep", "2024-01-01"]).failure(2);
    env.run(&["prune", "--before", "2024-01-01", "--keep", "1y"])
        .failure(2);
    env.run(&["prune", "AAPL", "--all"]).failure(2);
    env.run(&["prune", "--before", "someday"]).failure(2);
}

//! The daily loop: cron runs `update` after the close, pipelines read `fetch --offline`,
//! day after day. Every evening's update appends in place, `--offline` serves what the
//! cache holds (provisional bars included) up to the last answer, a bad watchlist line never
//! stops the night, and a killed rewrite never breaks a reader globbing the cache.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::support::{TestEnv, bars_of, ny, parse_csv, run_python, test_python, utc, wait_until};

const WATCHLIST: &str = "# nightly watchlist\nAAPL\nMSFT\nCSP1  # a typo: digits are not valid\n";

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// `fetch --offline` of the watchlist's `timeframe` series: exit 0, and exactly the
/// emulator's bars from the first one served up to now (when the last update ran).
fn check_offline(env: &TestEnv, timeframe: &str, start: &str) {
    let line = format!("fetch --offline -t {timeframe} --start {start} AAPL MSFT");
    let rows = parse_csv(&env.run(&line).success().stdout);
    let now = env.emu.now();
    for symbol in ["AAPL", "MSFT"] {
        let got = bars_of(&rows, symbol);
        assert!(!got.is_empty(), "{symbol} {timeframe} at {now}");
        let (first, last) = (got[0].t, now - TimeDelta::seconds(1));
        let want = env.emu.bars(symbol, timeframe, first, last, "sip");
        assert_eq!(got.len(), want.len(), "{symbol} {timeframe} at {now}");
        assert!(got == want, "{symbol} {timeframe} at {now}: bars differ");
    }
}

#[test]
fn two_weeks_of_nightly_updates_and_offline_reads() {
    let env = TestEnv::new();
    let list = env.dir.path().join("watchlist.txt");
    std::fs::write(&list, WATCHLIST).unwrap();
    let nightly = format!("update --symbols-file '{}'", list.display());

    // Day 0: the watchlist's series are fetched once, daily for a year and minutes for a week.
    env.emu.set_now(ny("2024-06-07 18:00"));
    env.run("fetch -q -t 1Day --start 1y AAPL MSFT").success();
    env.run("fetch -q -t 1Min --start 2024-06-03 AAPL MSFT")
        .success();
    let series: Vec<_> = ["1Day", "1Min"]
        .iter()
        .flat_map(|tf| {
            ["AAPL", "MSFT"].map(|s| env.series_path(&format!("stocks/sip/{tf}/{s}.parquet")))
        })
        .collect();
    let inodes: Vec<u64> = series.iter().map(|p| inode(p)).collect();

    // Every evening at 18:00 and 22:30 New York time, Juneteenth (a holiday) included, and
    // once on the weekend.
    let mut runs: Vec<DateTime<Utc>> = Vec::new();
    for day in ["10", "11", "12", "13", "14", "17", "18", "19", "20", "21"] {
        runs.push(ny(&format!("2024-06-{day} 18:00")));
        runs.push(ny(&format!("2024-06-{day} 22:30")));
    }
    runs.push(ny("2024-06-22 12:00"));
    runs.sort();
    for now in runs {
        env.emu.set_now(now);
        let update = env.run(&nightly).failure(1);
        update
            .assert_stderr_contains("watchlist.txt:4: invalid symbol")
            .assert_stderr_contains("1 failed");
        for (path, before) in series.iter().zip(&inodes) {
            let (shown, stderr) = (path.display(), &update.stderr);
            assert_eq!(
                inode(path),
                *before,
                "{now}: {shown} was rewritten: {stderr}"
            );
        }
        check_offline(&env, "1Day", "1y");
        check_offline(&env, "1Min", "2024-06-03");
    }
    env.run("inspect --verify").success();
}

#[test]
fn offline_reaches_past_the_last_answer_with_a_note_and_fails_on_holes() {
    let env = TestEnv::new();
    env.emu.set_now(ny("2024-06-12 18:00"));
    env.run("fetch -q AAPL -t 1Min --start 2024-06-10")
        .success();
    // Hours later, the open end `--end now` reaches past the last answer: served with a note.
    env.emu.set_now(ny("2024-06-13 11:00"));
    let offline = "fetch --offline AAPL -t 1Min --start 2024-06-10";
    let later = env.run(offline).success();
    let rows = parse_csv(&later.stdout);
    let (start, end) = (utc("2024-06-10T08:00:00Z"), ny("2024-06-12 17:59"));
    let answered = env.emu.bars("AAPL", "1Min", start, end, "sip");
    let (served, last) = (rows.last().unwrap().bar.t, answered.last().unwrap().t);
    assert_eq!(
        served, last,
        "served through the last answer, its provisional minutes included"
    );
    later.assert_stderr_contains(
        "AAPL 1Min: cached through 2024-06-12 22:00 UTC, updated 17 hours ago",
    );
    let quiet = env.run(&format!("-q {offline}")).success();
    quiet.assert_stderr_empty();
    assert_eq!(quiet.stdout, later.stdout);

    // A hole before the last answer fails, naming it.
    env.run("fetch -q AAPL --start 2024-01-02 --end 2024-01-31")
        .success();
    env.run("fetch -q AAPL --start 2024-03-01 --end 2024-03-28")
        .success();
    env.run("fetch --offline AAPL --start 2024-01-02 --end 2024-03-28")
        .failure(1)
        .assert_stderr_contains("AAPL 1Day (2024-02-01")
        .assert_stdout_empty();
    // An absent series fails, naming it.
    env.run("fetch --offline MSFT AAPL --start 2024-03-01 --end 2024-03-28")
        .failure(1)
        .assert_stderr_contains("MSFT 1Day (not cached)");
}

/// After a fetch, and after a compaction, the next day's update appends in place: daily and
/// minute series, stocks and crypto.
#[test]
fn every_nightly_commit_appends_in_place() {
    let env = TestEnv::new();
    env.emu.set_now(ny("2024-06-10 18:00"));
    let (aapl, btc) = (
        "stocks/sip/{}/AAPL.parquet",
        "crypto/us/{}/BTC%2FUSD.parquet",
    );
    let series = [
        ("AAPL", "1Day", aapl, "1y"),
        ("AAPL", "1Min", aapl, "2024-06-03"),
        ("BTC/USD", "1Day", btc, "1y"),
        ("BTC/USD", "1Min", btc, "2024-06-08"),
    ];
    for (symbol, tf, _, start) in series {
        env.run(&format!("fetch -q {symbol} -t {tf} --start {start}"))
            .success();
    }
    let path = |s: &(&str, &str, &str, &str)| env.series_path(&s.2.replace("{}", s.1));
    let paths: Vec<_> = series.iter().map(path).collect();
    let fetched: Vec<u64> = paths.iter().map(|p| inode(p)).collect();
    env.emu.set_now(ny("2024-06-11 18:00"));
    env.run("update --report json AAPL BTC/USD -t 1Day -t 1Min")
        .success()
        .assert_stdout_contains("\"series_updated\":4");
    for (path, before) in paths.iter().zip(&fetched) {
        let what = format!("fetch then update: {}", path.display());
        assert_eq!(inode(path), *before, "{what}");
    }
    env.run("prune --compact").success();
    let compacted: Vec<u64> = paths.iter().map(|p| inode(p)).collect();
    env.emu.set_now(ny("2024-06-12 18:00"));
    env.run("update AAPL BTC/USD -t 1Day -t 1Min").success();
    for (path, before) in paths.iter().zip(&compacted) {
        let what = format!("compaction then update: {}", path.display());
        assert_eq!(inode(path), *before, "{what}");
    }
    env.run("inspect --verify").success();
}

/// A writer killed in the middle of a rewrite leaves a temp file that no `*.parquet` glob
/// matches: DuckDB reads the whole cache before and after the next write, which removes it.
#[test]
fn a_killed_rewrite_never_breaks_duckdb_globbing_the_cache() {
    let env = TestEnv::new();
    env.emu.set_now(ny("2024-06-07 18:00"));
    env.run("fetch -q SPY -t 1Min --start 2024-06-05").success();
    env.run("fetch -q AAPL --start 2024-01-02").success();
    let dir = env.series_path("stocks/sip/1Min/SPY.parquet");
    let dir = dir.parent().unwrap().to_path_buf();
    let temp = |e: std::fs::DirEntry| e.file_name().to_string_lossy().ends_with(".tmp");
    let temp_left = || std::fs::read_dir(&dir).unwrap().any(|e| temp(e.unwrap()));
    // Earlier days: a rewrite, slowed so the kill lands in the middle of it.
    let rewrite = "fetch -q SPY -t 1Min --start 2024-05-28";
    let mut child = env
        .command(rewrite)
        .env("BARKEEP_TEST_WRITE_DELAY_US", "2000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), temp_left);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(temp_left(), "the kill landed mid-rewrite");

    let glob = |env: &TestEnv| {
        let Some(python) = test_python() else { return };
        let script = r#"
import sys, duckdb
pattern = sys.argv[1] + '/*/*/*/*.parquet'
query = "SELECT count(*) FROM read_parquet('" + pattern + "')"
print(duckdb.connect().execute(query).fetchone()[0])
"#;
        let count = run_python(&python, script, &[&env.cache()]);
        assert!(count.trim().parse::<u64>().unwrap() > 0, "{count}");
    };
    glob(&env);
    env.run(rewrite).success();
    assert!(!temp_left(), "the next write removed the leftover");
    glob(&env);
    env.run("inspect --verify").success();
}

#[test]
fn repeated_v_logs_headers_and_never_a_credential() {
    let env = TestEnv::new();
    let out = env.run("-vv fetch AAPL --start 2024-06-03").success();
    out.assert_stderr_contains("response headers for")
        .assert_stderr_lacks(env.emu.secret_key())
        .assert_stderr_lacks(env.emu.key_id());
    let headers = out.stderr.to_lowercase();
    assert!(headers.contains("content-type"), "{}", out.stderr);
    env.run("-v fetch AAPL --start 2024-05-01")
        .success()
        .assert_stderr_lacks("response headers");
}

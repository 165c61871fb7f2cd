//! In-place appends: files that grew by appends read back equal in barkeep, pyarrow, DuckDB
//! and polars; a journal left by an interrupted append is rolled back by the next command; a
//! damaged journal is reported and never applied; and writers killed (SIGKILL) at random
//! moments of an append or a compaction leave exactly the old series or the new one.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use barkeep::cache::journal::{Journal, journal_path};
use barkeep::cache::{SeriesKey, Store};
use barkeep::market::Bar;
use barkeep::parquet_files::footer::Footer;
use barkeep::parquet_files::write::COMPRESS_MIN_ROWS;
use parquet::basic::Compression;

use crate::support::{CsvBar, Run, TestEnv, parse_csv, run_python, test_python};

const SERIES: &str = "stocks/sip/1Min/SPY.parquet";
const DAYS: [&str; 5] = [
    "2024-06-03",
    "2024-06-04",
    "2024-06-05",
    "2024-06-06",
    "2024-06-07",
];

fn fetch_days(env: &TestEnv, last_day: &str, extra: &str) -> String {
    run_days(env, last_day, extra).success().stdout
}

/// `barkeep fetch` of SPY minute bars from the first day to `last_day`, as CSV.
fn run_days(env: &TestEnv, last_day: &str, extra: &str) -> Run {
    let first_day = DAYS[0];
    env.run(&format!(
        "fetch SPY -t 1Min --start {first_day} --end {last_day} --format csv {extra}"
    ))
}

fn key() -> SeriesKey {
    SeriesKey::new(
        "SPY".parse().unwrap(),
        barkeep::market::Feed::Sip,
        "1Min".parse().unwrap(),
    )
}

/// Every bar of the series, read in this process (after the commands under test recovered it).
fn stored_bars(env: &TestEnv) -> Vec<Bar> {
    Store::new(env.cache())
        .read_bars(&key(), None)
        .unwrap()
        .map(|s| s.bars)
        .unwrap_or_default()
}

/// Day by day: the first fetch writes the file, each later day is appended in place.
fn grow_by_appends(env: &TestEnv, days: usize) {
    for day in &DAYS[..days] {
        fetch_days(env, day, "");
    }
    assert!(!journal_path(&env.series_path(SERIES)).exists());
}

fn footer(path: &Path) -> Footer {
    Footer::read(&std::fs::File::open(path).unwrap()).unwrap()
}

fn row_groups(path: &Path) -> usize {
    footer(path).row_groups()
}

#[test]
fn appended_files_read_back_equal_in_barkeep_and_outside_readers() {
    let env = TestEnv::new();
    grow_by_appends(&env, 4);
    let path = env.series_path(SERIES);
    assert_eq!(row_groups(&path), 4, "one row group per appended day");
    let csv = fetch_days(&env, DAYS[3], "--offline");
    let rows = parse_csv(&csv);
    let fresh = TestEnv::new();
    assert_eq!(fetch_days(&fresh, DAYS[3], ""), csv, "same as one fetch");
    let coverage = footer(&path).series.coverage;
    assert_eq!(coverage, footer(&fresh.series_path(SERIES)).series.coverage);

    let week = serde_json::json!([["2024-06-03T04:00:00Z", "2024-06-07T04:00:00Z"]]);
    outside_readers_agree(&path, &rows, 4, &week);
}

/// A long series is written zstd-compressed; a day appended to it is a small row group stored
/// uncompressed (see `parquet_files::write::COMPRESS_MIN_ROWS`). Every reader reads the mixed
/// file whole, and barkeep reads it like a fresh fetch.
#[test]
fn a_compressed_file_with_small_uncompressed_appends_reads_back_everywhere() {
    let env = TestEnv::new();
    let long = |env: &TestEnv, end: &str, extra: &str| {
        env.fetch_csv(&format!(
            "SPY -t 1Min --start 2024-04-01 --end {end} {extra}"
        ))
    };
    long(&env, "2024-06-03", "");
    long(&env, "2024-06-04", "");
    let path = env.series_path(SERIES);
    let footer = footer(&path);
    let groups = footer.parquet.row_groups();
    let big = groups[0].num_rows() >= COMPRESS_MIN_ROWS as i64;
    assert!(big, "the body is large enough to compress");
    let codecs = |g: usize| groups[g].columns().iter().map(|c| c.compression());
    assert!(codecs(0).all(|c| matches!(c, Compression::ZSTD(_))));
    assert!(codecs(groups.len() - 1).all(|c| c == Compression::UNCOMPRESSED));
    let csv = long(&env, "2024-06-04", "--offline");
    let fresh = long(&TestEnv::new(), "2024-06-04", "");
    assert_eq!(fresh, csv, "same as one fetch");
    let metadata: serde_json::Value = serde_json::from_str(&footer.series.to_json()).unwrap();
    let (rows, groups) = (parse_csv(&csv), footer.row_groups());
    outside_readers_agree(&path, &rows, groups, &metadata["coverage"]);
}

/// pyarrow, DuckDB and polars read the series file at `path` whole and find `rows` (barkeep's
/// CSV of it): count, first and last timestamps, sums, types, order, and the footer's
/// `row_groups` and `coverage` (as JSON). Skipped without `BARKEEP_TEST_PYTHON`.
#[allow(clippy::print_stderr)] // says why the outside readers were skipped
fn outside_readers_agree(
    path: &Path,
    rows: &[CsvBar],
    row_groups: usize,
    coverage: &serde_json::Value,
) {
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping pyarrow, DuckDB, polars");
        return;
    };
    let script = r#"
import json, sys
import pyarrow.parquet as pq, duckdb, polars as pl
path = sys.argv[1]
f = pq.ParquetFile(path)
t = f.read()
out = {"row_groups": f.metadata.num_row_groups,
       "coverage": json.loads(f.metadata.metadata[b"barkeep"])["coverage"]}
def summary(ts, close, volume, ts_type):
    return {"rows": len(ts), "first": ts[0], "last": ts[-1], "close_sum": sum(close),
            "close_last": close[-1], "volume_sum": sum(volume), "type": ts_type,
            "sorted": all(a < b for a, b in zip(ts, ts[1:]))}
out["pyarrow"] = summary([x.isoformat() for x in t.column("timestamp").to_pylist()],
    t.column("close").to_pylist(), t.column("volume").to_pylist(),
    [str(t.schema.field("timestamp").type), str(t.schema.field("volume").type)])
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
d = con.execute("SELECT timestamp, close, volume FROM read_parquet(?) ", [path]).fetchall()
types = [r[1] for r in con.execute("DESCRIBE SELECT timestamp, volume FROM read_parquet(?)", [path]).fetchall()]
out["duckdb"] = summary([r[0].isoformat() for r in d], [r[1] for r in d], [r[2] for r in d], types)
p = pl.read_parquet(path)
out["polars"] = summary([x.isoformat() for x in p["timestamp"].to_list()],
    p["close"].to_list(), p["volume"].to_list(), [str(p.schema["timestamp"]), str(p.schema["volume"])])
lazy = pl.scan_parquet(path).filter(pl.col("timestamp") >= pl.lit(p["timestamp"][100])).collect()
out["polars_scan_rows"] = lazy.height
print(json.dumps(out))
"#;
    let v: serde_json::Value = serde_json::from_str(&run_python(&python, script, &[path])).unwrap();
    assert_eq!(v["row_groups"], row_groups);
    assert_eq!(&v["coverage"], coverage);
    let close_sum: f64 = rows.iter().map(|r| r.bar.c).sum();
    let volume_sum: f64 = rows.iter().map(|r| r.bar.v).sum();
    let (first, last) = (&rows[0], rows.last().unwrap());
    let iso = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let expected_types = [
        serde_json::json!(["timestamp[ns, tz=UTC]", "uint64"]),
        serde_json::json!(["TIMESTAMPTZ_NS", "UBIGINT"]),
        serde_json::json!(["Datetime(time_unit='ns', time_zone='UTC')", "UInt64"]),
    ];
    let readers = ["pyarrow", "duckdb", "polars"];
    for (reader, types) in readers.into_iter().zip(expected_types) {
        let (r, number) = (&v[reader], |field: &str| v[reader][field].as_f64().unwrap());
        assert_eq!(number("rows") as usize, rows.len(), "{reader}");
        assert_eq!(r["first"], iso(first.t), "{reader}");
        assert_eq!(r["last"], iso(last.t), "{reader}");
        assert_eq!(r["sorted"], true, "{reader}");
        assert_eq!(number("close_last"), last.bar.c, "{reader}");
        let close_off = (number("close_sum") - close_sum).abs();
        assert!(close_off < 1e-6 * close_sum, "{reader}");
        assert_eq!(number("volume_sum"), volume_sum, "{reader}");
        assert_eq!(r["type"], types, "{reader}");
    }
    let scanned = v["polars_scan_rows"].as_u64().unwrap() as usize;
    assert_eq!(scanned, rows.len() - 100);
}

/// The state a kill between writing the tail and removing the journal leaves behind: the
/// appended file with the journal of the append still in place.
fn leave_a_journal_behind(env: &TestEnv) -> Vec<u8> {
    let path = env.series_path(SERIES);
    let before = std::fs::read(&path).unwrap();
    let footer = footer(&path);
    let file = std::fs::File::open(&path).unwrap();
    let journal = Journal::capture(&file, footer.file_len, footer.start).unwrap();
    fetch_days(env, DAYS[4], "");
    assert!(std::fs::read(&path).unwrap() != before, "appended");
    std::fs::write(journal_path(&path), journal.encode()).unwrap();
    before
}

/// A series grown by appends over two days, then left as a kill after a third append
/// leaves it ([`leave_a_journal_behind`]); the env and the file as it was before.
fn journal_left_behind() -> (TestEnv, Vec<u8>) {
    let env = TestEnv::new();
    grow_by_appends(&env, 2);
    let before = leave_a_journal_behind(&env);
    (env, before)
}

/// The series file is back to `before`, and its journal is gone.
#[track_caller]
fn assert_rolled_back(env: &TestEnv, before: &[u8]) {
    let path = env.series_path(SERIES);
    assert!(std::fs::read(&path).unwrap() == before && !journal_path(&path).exists());
}

#[test]
fn a_journal_left_by_a_crash_is_rolled_back_before_fetch_reads() {
    let env = TestEnv::new();
    grow_by_appends(&env, 2);
    let old = fetch_days(&env, DAYS[1], "--offline");
    let before = leave_a_journal_behind(&env);
    // Reading the old range: the interrupted append is undone first, byte for byte.
    assert_eq!(fetch_days(&env, DAYS[1], "--offline"), old);
    let path = env.series_path(SERIES);
    assert!(std::fs::read(&path).unwrap() == before, "restored");
    assert!(!journal_path(&path).exists());
    // The rolled-back days are missing again: `--offline` serves up to the last answer and
    // says how far the cache reaches; a fetch asks for them anew.
    let offline = run_days(&env, DAYS[4], "--offline").success();
    assert_eq!(offline.stdout, old, "served up to the last answer");
    offline.assert_stderr_contains("cached through");
    env.take_bar_requests();
    fetch_days(&env, DAYS[4], "");
    assert_eq!(env.take_bar_requests().len(), 1);

    // The store API recovers the same way, and says so.
    let (env, _) = journal_left_behind();
    let recovered = Store::new(env.cache()).recover(&key()).unwrap();
    assert!(matches!(
        recovered,
        barkeep::cache::store::Recovered::RolledBack { .. }
    ));
}

#[test]
fn a_damaged_journal_is_reported_with_the_file_and_never_applied() {
    let (env, _) = journal_left_behind();
    let path = env.series_path(SERIES);
    let journal = journal_path(&path);
    let mut bytes = std::fs::read(&journal).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&journal, &bytes).unwrap();
    let appended = std::fs::read(&path).unwrap();

    run_days(&env, DAYS[1], "--offline")
        .failure(1)
        .assert_stdout_empty()
        .assert_stderr_contains(&path.display().to_string())
        .assert_stderr_contains("checksum")
        .assert_stderr_contains("hint:");
    assert!(std::fs::read(&path).unwrap() == appended, "never applied");
    let kept = std::fs::read(&journal).unwrap() == bytes;
    assert!(kept, "kept for a person to look at");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Kills writers at random moments, 120 times: half of them a fetch appending a fifth day,
/// half a `prune --compact` of the five-day file. Checks after each that the next command
/// leaves exactly the old bars or the old plus the new ones. Writers are slowed by the
/// test-only write delay so kills land mid-write.
#[test]
fn writers_killed_mid_append_or_mid_compaction_leave_the_old_or_the_new_series() {
    const KILLS: usize = 120;
    let env = TestEnv::new();
    // Four days, one row group each; the fifth day is appended, then compacted.
    grow_by_appends(&env, 4);
    let base = env.dir.path().join("base");
    copy_dir(&env.cache(), &base);
    let old_bars = stored_bars(&env);
    let old_csv = fetch_days(&env, DAYS[3], "--offline");

    let (first_day, last_day) = (DAYS[0], DAYS[4]);
    // Writers slowed by 300 µs per write, their output dropped.
    let slowed = |line: &str| {
        let mut cmd = env.command(line);
        cmd.env("BARKEEP_TEST_WRITE_DELAY_US", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let append = format!("fetch SPY -t 1Min --start {first_day} --end {last_day} -q");
    let writer = || slowed(&append);
    let compactor = || slowed("prune --compact -q");
    let reset = |from: &Path| {
        std::fs::remove_dir_all(env.cache()).unwrap();
        copy_dir(from, &env.cache());
    };
    // Uninterrupted runs: the new series, and how long slowed writers take.
    let started = Instant::now();
    assert!(writer().status().unwrap().success());
    let full = started.elapsed();
    let new_bars = stored_bars(&env);
    assert!(new_bars.len() > old_bars.len());
    assert_eq!(new_bars[..old_bars.len()], old_bars[..]);
    assert_eq!(row_groups(&env.series_path(SERIES)), 5, "appended in place");
    let appended = env.dir.path().join("appended");
    copy_dir(&env.cache(), &appended);
    let started = Instant::now();
    assert!(compactor().status().unwrap().success());
    let full_compaction = started.elapsed();
    assert_eq!(stored_bars(&env), new_bars);
    let groups = row_groups(&env.series_path(SERIES));
    assert_eq!(
        groups, 2,
        "compacted: the body, and the last day in a group of its own"
    );

    let survivors = env.dir.path().join("survivors");
    std::fs::create_dir_all(&survivors).unwrap();
    let (mut mid_append, mut mid_compaction, mut old, mut new) = (0, 0, 0, 0);
    for i in 0..KILLS {
        let (from, mut cmd, took) = if i % 2 == 0 {
            (&base, writer(), full)
        } else {
            (&appended, compactor(), full_compaction)
        };
        reset(from);
        let (mut child, at) = (cmd.spawn().unwrap(), took.mul_f64(fastrand::f64() * 1.1));
        std::thread::sleep(at);
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let path = env.series_path(SERIES);
        let dir = path.parent().unwrap();
        let journal_left = journal_path(&path).exists();
        // A rewrite's temp file: `.<series file>.tmp`, which no `*.parquet` glob matches.
        let temp_left = std::fs::read_dir(dir).unwrap().any(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with('.') && name.ends_with(".parquet.tmp")
        });
        mid_append += usize::from(journal_left);
        mid_compaction += usize::from(temp_left && !journal_left);

        // Any command recovers before it reads; the old days are served unchanged.
        let csv = fetch_days(&env, DAYS[3], "--offline");
        assert_eq!(csv, old_csv, "kill {i} at {at:?}");
        assert!(!journal_path(&path).exists(), "kill {i}");
        let bars = stored_bars(&env);
        if bars == old_bars {
            old += 1;
        } else {
            assert_eq!(bars, new_bars, "kill {i} at {at:?}: neither old nor new");
            new += 1;
        }
        std::fs::copy(&path, survivors.join(format!("{i}.parquet"))).unwrap();
    }
    eprintln!(
        "{KILLS} kills: {mid_append} mid-append (journal left), {mid_compaction} mid-compaction \
         (temp file left); {old} old series, {new} new series"
    );
    assert!(mid_append >= 1, "no kill landed in an append");
    assert!(mid_compaction >= 1, "no kill landed in a compaction");

    let Some(python) = test_python() else {
        return;
    };
    let script = r"
import sys, os, pyarrow.parquet as pq
rows = sorted({pq.read_table(os.path.join(sys.argv[1], f)).num_rows for f in os.listdir(sys.argv[1])})
print(' '.join(map(str, rows)))
";
    let counts = run_python(&python, script, &[&survivors]);
    let (old, new) = (old_bars.len().to_string(), new_bars.len().to_string());
    let mut found = counts.split_whitespace();
    assert!(found.all(|n| n == old || n == new), "{counts}");
}

#[test]
fn update_inspect_and_prune_roll_back_a_leftover_journal_before_they_read() {
    // inspect --verify reports the rollback and finds nothing wrong afterwards.
    let (env, before) = journal_left_behind();
    env.run("inspect --verify")
        .success()
        .assert_stderr_contains("rolled back an interrupted append");
    assert_rolled_back(&env, &before);

    // prune reads the series only after rolling it back.
    let (env, before) = journal_left_behind();
    env.run("prune --before 2020-01-01 --dry-run").success();
    assert_rolled_back(&env, &before);

    // update plans from the rolled-back coverage: it asks again for the undone days.
    let (env, _) = journal_left_behind();
    env.take_bar_requests();
    env.run("update -q").success();
    assert!(!journal_path(&env.series_path(SERIES)).exists());
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1);
    env.run("inspect --verify").success();
}

#[test]
fn prune_compact_rewrites_into_large_row_groups_and_changes_no_bar() {
    let env = TestEnv::new();
    grow_by_appends(&env, 4);
    let path = env.series_path(SERIES);
    let before_groups = row_groups(&path);
    assert!(before_groups > 1, "appends added row groups");
    let bars = stored_bars(&env);
    env.run("prune --compact --dry-run")
        .success()
        .assert_stdout_contains("would compact");
    assert_eq!(row_groups(&path), before_groups);
    env.run("prune --compact")
        .success()
        .assert_stdout_contains("compacted");
    let groups = row_groups(&path);
    assert_eq!(
        groups, 2,
        "the body, and the last day in a group of its own"
    );
    assert_eq!(stored_bars(&env), bars);
    env.run("inspect --verify").success();
}

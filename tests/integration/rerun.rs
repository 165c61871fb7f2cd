//! Re-runs and concurrent runs of `update` on large watchlists (issue 12): two updates of
//! 1,000 series at once lose and duplicate nothing, and an update right after another, which
//! brings no new bar, leaves every corporate-actions ledger byte-identical and writes at most
//! one footer append per series; `fetch --adjustment` goes by the checks such a run recorded.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::time::SystemTime;

use chrono::TimeDelta;

use crate::support::emulator::EmuAction;
use crate::support::{TestEnv, bars_of, long_symbols, parse_csv, spawn, utc};

/// `update` of the watchlist of `symbols` (added to the emulator) from 2024-05-01.
fn update_watchlist(env: &TestEnv, symbols: &[String]) -> String {
    let file = env.watchlist(symbols).display().to_string();
    format!("update -q --symbols-file '{file}' --start 2024-05-01")
}

/// Asserts that the cache serves exactly the emulator's daily bars for every `step`-th symbol
/// (no bar lost, none twice), from `start` to the day before the clock.
fn assert_bars_match(env: &TestEnv, symbols: &[String], step: usize, start: &str) {
    let sample: Vec<&str> = symbols.iter().step_by(step).map(String::as_str).collect();
    let line = format!(
        "fetch --offline --start {start} --end 2024-06-13 {}",
        sample.join(" ")
    );
    let rows = parse_csv(&env.run(&line).success().stdout);
    let from = utc(&format!("{start}T04:00:00Z"));
    let to = utc("2024-06-14T03:59:59Z");
    for s in sample {
        let expected = env.emu.bars(s, "1Day", from, to, "sip");
        assert!(!expected.is_empty());
        assert_eq!(bars_of(&rows, s), expected, "{s}");
    }
}

/// The symbols recorded in the cache's index of corporate-actions checks.
fn indexed(env: &TestEnv) -> Vec<String> {
    let index = env.read_json("stocks/actions/_index.json");
    index["symbols"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn two_concurrent_updates_of_1000_series_lose_and_duplicate_nothing() {
    let env = TestEnv::new();
    let list = long_symbols("C", 1000);
    let update = update_watchlist(&env, &list);
    let (a, b) = (
        spawn(&mut env.command(&update)),
        spawn(&mut env.command(&update)),
    );
    a.wait().success();
    b.wait().success();
    let rows: Vec<serde_json::Value> = env.run("inspect --verify --format json").success().json();
    assert_eq!(rows.len(), 1000, "one series per symbol");
    assert_bars_match(&env, &list, 37, "2024-05-01");
    // Both runs recorded their checks in the one index: no symbol lost.
    assert_eq!(indexed(&env), list);
    for s in list.iter().step_by(97) {
        let ledger = env.series_path(&format!("stocks/actions/{s}.json"));
        assert!(ledger.is_file(), "{s}");
    }
}

/// What a file looked like: enough to tell whether it was written.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    len: u64,
    modified: SystemTime,
    inode: u64,
    hash: u64,
    bytes: Vec<u8>,
}

fn seen(path: &Path) -> Seen {
    let meta = std::fs::metadata(path).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Seen {
        len: meta.len(),
        modified: meta.modified().unwrap(),
        inode,
        hash: hasher.finish(),
        bytes,
    }
}

/// Every file of `dir` (not the hidden lock files) with what it looked like.
fn seen_in(dir: &Path) -> BTreeMap<String, Seen> {
    let files = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path());
    let named = files.map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p));
    named
        .filter(|(name, _)| !name.starts_with('.'))
        .map(|(name, p)| (name, seen(&p)))
        .collect()
}

/// The Parquet footer length, from a file's last 8 bytes (length, then `PAR1`).
fn footer_len(bytes: &[u8]) -> usize {
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    let n = &bytes[bytes.len() - 8..bytes.len() - 4];
    u32::from_le_bytes(n.try_into().unwrap()) as usize
}

#[test]
fn a_rerun_without_new_bars_rewrites_no_ledger_and_appends_at_most_a_footer() {
    let env = TestEnv::new();
    let list = long_symbols("R", 60);
    let update = update_watchlist(&env, &list);
    for s in list.iter().step_by(3) {
        env.emu
            .add_action(EmuAction::cash_dividend(s, "2024-03-15", 0.25));
        env.emu
            .add_action(EmuAction::forward_split(s, "2022-08-22", 3.0, 1.0));
    }
    // Friday 22:30 in New York: the day's bar is final (after-hours ended at 20:00).
    env.emu.set_now(utc("2024-06-15T02:30:00Z"));
    env.run(&update).success();
    let ledgers_dir = env.series_path("stocks/actions");
    let series_dir = env.series_path("stocks/sip/1Day");
    let ledgers = seen_in(&ledgers_dir);
    let series = seen_in(&series_dir);
    assert_eq!(ledgers.len(), 61, "60 ledgers and the index");
    assert_eq!(series.len(), 60);

    // A minute later: no new bar.
    env.emu.set_now(env.emu.now() + TimeDelta::minutes(1));
    env.emu.clear_requests();
    env.run(&update).success();
    let asked = env.emu.corporate_action_requests().len();
    assert_eq!(asked, 1, "the ledgers were checked");

    let ledgers_after = seen_in(&ledgers_dir);
    for (name, before) in &ledgers {
        let after = &ledgers_after[name];
        if name == "_index.json" {
            assert_ne!(after.hash, before.hash, "the checks moved on");
            continue;
        }
        assert_eq!(after.hash, before.hash, "{name} is byte-identical");
        assert_eq!(after, before, "{name} was not even rewritten");
    }
    // The check is recorded even though no ledger was rewritten.
    env.run(&format!("inspect {} --format table", list[0]))
        .success()
        .assert_stdout_contains("last checked 2024-06-15T02:31:00Z");

    let series_after = seen_in(&series_dir);
    assert_eq!(series_after.len(), 60);
    let (mut untouched, mut appended) = (0, 0);
    for (name, before) in &series {
        let after = &series_after[name];
        if after == before {
            untouched += 1;
            continue;
        }
        // Rewritten in place (same inode), keeping every byte before the old footer, and
        // longer by at most a new footer (no new row group: no bar is new).
        assert_eq!(after.inode, before.inode, "{name} was not replaced");
        let kept = before.len as usize - footer_len(&before.bytes) - 8;
        assert_eq!(after.bytes[..kept], before.bytes[..kept], "{name}");
        assert!(after.len > before.len, "{name} grew");
        appended += 1;
    }
    eprintln!("series untouched: {untouched}, appended: {appended}");
    assert_eq!(untouched + appended, 60);
    assert_bars_match(&env, &list, 7, "2024-05-01");
}

/// `fetch --adjustment` asks again only for ledgers checked more than a day ago, and the
/// check time it goes by is the index's: an `update` that found nothing new (and so rewrote
/// no ledger) still counts as a check, for `fetch` as for `--offline`'s note.
#[test]
fn fetch_goes_by_the_check_an_unchanged_update_recorded() {
    let env = TestEnv::new();
    let list = long_symbols("F", 3);
    env.watchlist(&list);
    env.emu
        .add_action(EmuAction::forward_split(&list[0], "2022-08-22", 3.0, 1.0));
    let symbols = list.join(" ");
    let line = format!("fetch -q --start 2024-06-03 --adjustment all {symbols}");
    let fetch = |env: &TestEnv| {
        env.run(&line).success();
    };
    fetch(&env);
    assert_eq!(env.emu.corporate_action_requests().len(), 1);
    let ledger = env.series_path(&format!("stocks/actions/{}.json", list[0]));
    let written = seen(&ledger);

    // Three days later an update checks every ledger and finds nothing new.
    env.emu.set_now(utc("2024-06-17T21:00:00Z"));
    env.emu.clear_requests();
    env.run(&format!("update -q {symbols}")).success();
    assert_eq!(env.emu.corporate_action_requests().len(), 1);
    assert_eq!(seen(&ledger), written, "no ledger rewritten");

    // An hour later the ledgers are fresh: no request.
    env.emu.set_now(utc("2024-06-17T22:00:00Z"));
    env.emu.clear_requests();
    fetch(&env);
    assert!(env.emu.corporate_action_requests().is_empty());
    let (first, days) = (&list[0], "--start 2024-06-03 --end 2024-06-14");
    env.run(&format!(
        "fetch --offline {first} {days} --adjustment split"
    ))
    .success()
    .assert_stderr_contains("as last checked 60 minutes ago (2024-06-17T21:00:00Z)");

    // A day and more after the update's check, fetch asks again.
    env.emu.set_now(utc("2024-06-18T21:30:00Z"));
    fetch(&env);
    assert_eq!(env.emu.corporate_action_requests().len(), 1);
}

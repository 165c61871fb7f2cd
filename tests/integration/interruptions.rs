//! Finished work survives: a request that fails part-way, Ctrl-C and SIGTERM in the middle
//! of a backfill keep every bar Alpaca answered before them, and a later run asks only for
//! the rest. And a run's open files stay bounded whatever the number of series.

use std::time::{Duration, Instant};

use barkeep::cache::{SeriesKey, Store};
use barkeep::market::Feed;
use chrono::{DateTime, Utc};

use crate::support::emulator::Fault;
use crate::support::{TestEnv, long_symbols, run_counting_threads, signal, spawn, utc, wait_until};

const BACKFILL: [&str; 5] = ["AAPL", "ACME", "MSFT", "NVDA", "SPY"];

type Time = DateTime<Utc>;

fn key(symbol: &str, timeframe: &str) -> SeriesKey {
    SeriesKey::new(
        symbol.parse().unwrap(),
        Feed::Sip,
        timeframe.parse().unwrap(),
    )
}

/// The end of a series' coverage and the timestamps of its bars; `None` when not cached.
fn stored(env: &TestEnv, symbol: &str) -> Option<(Time, Vec<Time>)> {
    let series = Store::new(env.cache())
        .read_bars(&key(symbol, "1Min"), None)
        .unwrap()?;
    let end = series.metadata.coverage.intervals().last()?.end;
    // Bars past the coverage are provisional (still forming when fetched).
    let times = series.bars.iter().map(|b| b.timestamp);
    Some((end, times.filter(|t| *t < end).collect()))
}

/// The emulator's minute bars of `symbol` in `[start, end)`.
fn expected(env: &TestEnv, symbol: &str, start: Time, end: Time) -> Vec<Time> {
    let bars = env.emu.bars(symbol, "1Min", start, end, "sip");
    bars.into_iter().map(|b| b.t).filter(|t| *t < end).collect()
}

/// Equal lists of timestamps, or a short message naming the first difference.
#[track_caller]
fn same(got: &[Time], want: &[Time], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bars stored, {} expected; first difference at index {at:?} ({:?} vs {:?})",
            got.len(),
            want.len(),
            at.map(|i| got[i]),
            at.map(|i| want[i]),
        );
    }
}

fn backfill() -> String {
    format!("update -t 1Min --start 2024-05-13 {}", BACKFILL.join(" "))
}

/// Every series holds exactly the emulator's bars up to its coverage's end; returns how
/// many series have any coverage.
fn check_prefixes(env: &TestEnv) -> usize {
    let start = utc("2024-05-13T04:00:00Z");
    let mut cached = 0;
    for symbol in BACKFILL {
        let Some((end, bars)) = stored(env, symbol) else {
            continue;
        };
        cached += 1;
        let want = expected(env, symbol, start, end);
        same(&bars, &want, &format!("{symbol} up to {end}"));
    }
    cached
}

/// After the interruption: a run asks only for what is missing, and ends with every bar.
fn resume(env: &TestEnv) {
    let ends: Vec<(String, Time)> = BACKFILL
        .iter()
        .filter_map(|s| stored(env, s).map(|(end, _)| ((*s).to_owned(), end)))
        .collect();
    env.take_bar_requests();
    env.run(&backfill()).success();
    for request in env.take_bar_requests() {
        let start = utc(request.param("start").unwrap());
        for symbol in request.symbols() {
            if let Some((_, end)) = ends.iter().find(|(s, _)| *s == symbol) {
                assert!(
                    start >= *end - chrono::TimeDelta::minutes(1),
                    "{symbol} asked again from {start}, though covered up to {end}"
                );
            }
        }
    }
    let now = env.emu.now();
    for symbol in BACKFILL {
        let (end, bars) = stored(env, symbol).unwrap();
        let recent = end > now - chrono::TimeDelta::hours(1);
        assert!(recent, "{symbol} covered to {end}");
        same(
            &bars,
            &expected(env, symbol, utc("2024-05-13T04:00:00Z"), end),
            symbol,
        );
    }
}

#[test]
fn an_outage_part_way_keeps_every_symbol_answered_before_it() {
    let env = TestEnv::new();
    // 5 symbols × 4 weeks of extended-hours minutes: about a dozen pages of 10,000 bars,
    // one symbol after the other. The outage starts after the fifth page.
    env.emu.outage_after(5, 500);
    let out = env.run(&backfill()).failure(1);
    let said = out.stderr.contains("500") || out.stderr.contains("server");
    assert!(said, "{out}");
    let cached = check_prefixes(&env);
    let whole = |s: &str| stored(&env, s).is_some_and(|(end, _)| end > utc("2024-06-14T00:00:00Z"));
    let complete = BACKFILL.into_iter().filter(|s| whole(s)).count();
    let (committed, kept) = (complete >= 2, cached > complete);
    assert!(
        committed,
        "the symbols paged before the outage are committed whole"
    );
    assert!(kept, "the symbol being paged keeps its first pages");
    env.emu.end_outage();
    resume(&env);
}

/// Sends `signal` to a slowed backfill after a few pages, and checks what it kept.
fn interrupt_a_backfill(name: &str, code: i32) {
    let env = TestEnv::new();
    env.emu
        .inject(Fault::Delay(Duration::from_millis(250)), 1_000);
    let child = spawn(&mut env.command(&backfill()));
    wait_until(Duration::from_secs(20), || {
        env.emu.bar_requests().len() >= 5
    });
    let sent = Instant::now();
    signal(child.id(), name);
    let out = child.wait();
    assert!(sent.elapsed() < Duration::from_secs(5), "stops promptly");
    out.failure(code).assert_stderr_contains("interrupted");
    assert!(check_prefixes(&env) >= 1, "what was answered is committed");
    resume(&env);
}

#[test]
fn ctrl_c_mid_backfill_commits_what_was_answered() {
    interrupt_a_backfill("INT", 130);
}

#[test]
fn sigterm_mid_backfill_commits_what_was_answered() {
    interrupt_a_backfill("TERM", 143);
}

#[test]
fn an_update_of_2000_series_needs_no_more_than_128_open_files() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-14T21:00:00Z"));
    let list = long_symbols("P", 2_000);
    let file = env.watchlist(&list).display().to_string();
    let line = format!("update -q --symbols-file '{file}' --start 2024-06-03 --report json");
    let update = |env: &TestEnv| run_counting_threads(&mut env.command_with_file_limit(128, &line));
    let (out, threads) = update(&env);
    let out = out.success();
    // Threads are bounded too, whatever the watchlist: 2 async workers, at most 64 blocking
    // threads, and a few of tokio's and the signal listener's (it reached 437 unbounded).
    if let Some(threads) = threads {
        assert!(threads <= 72, "{threads} threads");
    }
    let report: serde_json::Value = out.json();
    assert_eq!(report["series_updated"], 2_000, "{out}");
    assert_eq!(report["series_failed"], 0);
    // Every series equals the emulator's bars.
    let store = Store::new(env.cache());
    let (start, end) = (utc("2024-06-03T04:00:00Z"), utc("2024-06-14T21:00:00Z"));
    for s in list.iter().step_by(97) {
        let series = store.read_bars(&key(s, "1Day"), None).unwrap().unwrap();
        let expected: Vec<_> = env
            .emu
            .bars(s, "1Day", start, end, "sip")
            .iter()
            .map(|b| b.t)
            .collect();
        let got: Vec<_> = series.bars.iter().map(|b| b.timestamp).collect();
        assert_eq!(got, expected, "{s}");
    }
    // A day later, under the same limit.
    env.emu.set_now(utc("2024-06-17T21:00:00Z"));
    let out = update(&env).0.success();
    let report: serde_json::Value = out.json();
    assert_eq!(report["series_failed"], 0, "{out}");
}

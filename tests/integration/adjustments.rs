//! `fetch --adjustment`: adjusted output against the emulator's own adjusted bars (ACME has a
//! 3:1 split, a 1:2 reverse split and quarterly dividends in 2022–2024), the corporate-actions
//! ledger (batched refresh, age, `--offline`, `inspect`, `prune`), restatement after a new
//! split through `update`, spin-off refusal, and raw output untouched by all of it.

use serde_json::Value;

use crate::support::emulator::{EmuAction, EmuBar, Fault, RecordedRequest};
use crate::support::{self, TestEnv, assert_asked, bars_of, d, parse_csv, utc};

/// Alpaca rounds adjusted prices to 2 decimals; barkeep prints 4.
const HALF_A_CENT: f64 = 0.005 + 1e-9;

/// Same bars: timestamps, volume and trade count exactly, prices within half a cent.
#[track_caller]
fn assert_matches(got: &[EmuBar], want: &[EmuBar], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: bar count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.t, w.t, "{what}");
        for (name, a, b) in [
            ("open", g.o, w.o),
            ("high", g.h, w.h),
            ("low", g.l, w.l),
            ("close", g.c, w.c),
            ("vwap", g.vw, w.vw),
        ] {
            assert!(
                (a - b).abs() <= HALF_A_CENT,
                "{what}: {name} at {}: barkeep {a}, Alpaca {b}",
                g.t
            );
        }
        assert_eq!((g.v, g.n), (w.v, w.n), "{what}: volume at {}", g.t);
    }
}

fn corporate_action_requests(env: &TestEnv) -> Vec<RecordedRequest> {
    let requests = env.emu.corporate_action_requests();
    env.emu.clear_requests();
    requests
}

/// `fetch ACME -t TIMEFRAME --start FIRST --end LAST --adjustment ADJUSTMENT` against the
/// emulator's adjusted bars of the same New York days; returns what barkeep printed.
#[track_caller]
fn assert_fetch_matches(
    env: &TestEnv,
    timeframe: &str,
    (first, last): (&str, &str),
    adjustment: &str,
) -> Vec<EmuBar> {
    let line =
        format!("ACME -t {timeframe} --start {first} --end {last} --adjustment {adjustment}");
    let got = bars_of(&parse_csv(&env.fetch_csv(&line)), "ACME");
    let want = env.expected_adjusted("ACME", timeframe, (first, last), adjustment);
    assert_matches(&got, &want, &format!("{timeframe} {adjustment}"));
    got
}

#[test]
fn adjusted_daily_bars_match_alpacas_across_splits_and_dividends() {
    let env = TestEnv::new();
    let days = ("2022-01-01", "2024-06-13");
    let (start, end) = (utc("2022-01-01T05:00:00Z"), utc("2024-06-14T03:59:59Z"));
    let raw = env.emu.bars("ACME", "1Day", start, end, "sip");
    for (i, adjustment) in ["split", "dividend", "all", "split,dividend"]
        .into_iter()
        .enumerate()
    {
        let got = assert_fetch_matches(&env, "1Day", days, adjustment);
        assert_ne!(got, raw, "{adjustment} changes something");
        // The first fetch records the ledger and the bars; the others cost nothing.
        let (bars, actions) = (
            env.emu.bar_requests().len(),
            corporate_action_requests(&env).len(),
        );
        let expected = if i == 0 { (1, 1) } else { (0, 0) };
        assert_eq!((bars, actions), expected, "{adjustment}");
        if adjustment == "split" {
            // Volume before both splits: × 3 × 1/2, rounded; the last bars are untouched.
            assert_eq!(got[0].v, (raw[0].v * 1.5).round());
            assert_eq!(got.last(), raw.last());
        }
    }
}

#[test]
fn adjusted_minute_bars_match_alpacas_and_fetch_the_closes_dividends_need() {
    let env = TestEnv::new();
    // The week of the 1:2 reverse split (Monday) and a dividend (Wednesday).
    let reverse_split_week = ("2023-11-09", "2023-11-16");
    let got = assert_fetch_matches(&env, "1Min", reverse_split_week, "all");
    assert!(got.len() > 2_000);
    assert_eq!(env.emu.corporate_action_requests().len(), 1);
    let bars = env.take_bar_requests();
    let timeframes: Vec<&str> = bars.iter().filter_map(|r| r.param("timeframe")).collect();
    let why = "the minutes, and the daily closes before each dividend";
    assert_eq!(timeframes.len(), 2, "{why}: {bars:#?}");
    assert!(timeframes.contains(&"1Day") && timeframes.contains(&"1Min"));
    assert!(env.series_path("stocks/sip/1Day/ACME.parquet").is_file());
    for adjustment in ["split", "dividend"] {
        assert_fetch_matches(&env, "1Min", reverse_split_week, adjustment);
    }
    // The days around the 3:1 split, with a dividend a week before it.
    for adjustment in ["split", "dividend", "all"] {
        assert_fetch_matches(&env, "1Min", ("2022-08-11", "2022-08-23"), adjustment);
    }
    let asked = corporate_action_requests(&env);
    assert!(asked.is_empty(), "the ledger is fresh for a day");
}

#[test]
fn raw_output_is_byte_identical_before_and_after_the_ledger_exists() {
    let env = TestEnv::new();
    let range = "ACME --start 2022-06-01 --end 2023-12-31";
    let before = env.fetch_csv(range);
    let asked = corporate_action_requests(&env);
    assert!(asked.is_empty(), "raw needs no ledger");
    assert!(!env.series_path("stocks/actions/ACME.json").exists());
    let adjusted = env.fetch_csv(&format!("{range} --adjustment all"));
    assert_ne!(adjusted, before);
    assert!(env.series_path("stocks/actions/ACME.json").is_file());
    env.emu.clear_requests();
    assert_eq!(env.fetch_csv(range), before);
    assert_eq!(env.fetch_csv(&format!("{range} --adjustment raw")), before);
    let asked = env.emu.requests();
    assert!(
        asked.is_empty(),
        "raw output comes from the cache as before"
    );
}

#[test]
fn non_raw_adjustments_of_crypto_and_unknown_names_are_usage_errors() {
    let env = TestEnv::new();
    for line in [
        "fetch BTC/USD --adjustment split",
        "fetch ACME ETH/USD --adjustment all",
        "fetch ACME --adjustment bogus",
        "fetch ACME --adjustment split,",
    ] {
        env.run(line)
            .failure(2)
            .assert_stderr_lines(1)
            .assert_stdout_empty();
    }
    env.run("fetch BTC/USD --adjustment dividend")
        .failure(2)
        .assert_stderr_contains("stocks only")
        .assert_stderr_contains("BTC/USD");
    // Lists the valid names.
    env.run("fetch ACME --adjustment bogus")
        .failure(2)
        .assert_stderr_contains("spin-off");
    assert!(env.emu.requests().is_empty());
    let touched = env.snapshot();
    assert!(touched.is_empty(), "nothing touched: {:?}", touched.keys());
    // Raw crypto is fine.
    env.run("fetch -q BTC/USD --start 2024-06-13 --adjustment raw")
        .success();
}

#[test]
fn offline_adjusts_with_the_ledger_it_has_and_says_how_old_it_is() {
    let env = TestEnv::new();
    let args = "ACME --start 2023-01-01 --end 2024-06-13 --adjustment split";
    let online = env.fetch_csv(args);
    env.emu.clear_requests();

    env.emu.set_now(utc("2024-06-17T21:00:00Z"));
    let out = env
        .run(&format!("fetch --format csv --offline {args}"))
        .success();
    assert_eq!(out.stdout, online);
    out.assert_stderr_contains("last checked 3 days ago (2024-06-14T20:30:00Z)");
    assert!(env.emu.requests().is_empty());

    // Online, a ledger older than a day is asked again from a week before its end.
    env.fetch_csv(args);
    assert_asked(
        &corporate_action_requests(&env),
        &[("2024-06-07", "2024-06-17")],
    );

    // A symbol without a ledger cannot be adjusted offline.
    env.run("fetch -q AAPL --start 2024-01-01").success();
    env.emu.clear_requests();
    env.run("fetch --offline AAPL --start 2024-01-01 --adjustment split")
        .failure(1)
        .assert_stderr_contains("corporate actions of AAPL")
        .assert_stderr_contains("without --offline");
    assert!(env.emu.requests().is_empty());
}

#[test]
fn inspect_lists_the_recorded_actions_and_when_they_were_checked() {
    let env = TestEnv::new();
    env.fetch_csv("ACME --start 2024-01-01 --adjustment all");
    env.run("inspect ACME --format table")
        .success()
        .assert_stdout_contains("corporate actions of ACME: 12 recorded, last checked 2024-06-14T20:30:00Z (process dates 2016-01-01 to 2024-06-14)")
        .assert_stdout_contains("ex 2022-08-22  forward_split   3:1")
        .assert_stdout_contains("ex 2023-11-13  reverse_split   1:2")
        .assert_stdout_contains("ex 2024-05-15  cash_dividend   0.56 per share")
        .assert_stdout_contains("processed 2024-05-29");

    let rows: Vec<Value> = env.run("inspect --format json").success().json();
    let ledger = &rows[0]["corporate_actions"];
    assert_eq!(ledger["checked_at"], "2024-06-14T20:30:00Z");
    assert_eq!(ledger["actions"].as_array().unwrap().len(), 12);
    assert_eq!(ledger["actions"][0]["type"], "cash_dividend");
    let (listed, day) = (ledger["actions"].as_array().unwrap(), d("2024-06-14"));
    let recorded = env.emu.actions("ACME");
    let mut processed = recorded.iter().filter(|a| a.process_date <= day);
    assert!(processed.all(|a| listed.iter().any(|l| l["id"] == a.id.as_str())));

    env.run("fetch -q MSFT --start 2024-06-01").success();
    env.run("inspect MSFT --format table")
        .success()
        .assert_stdout_contains("corporate actions of MSFT: none recorded yet");
}

#[test]
fn ledgers_of_many_symbols_refresh_in_one_request_per_page() {
    let env = TestEnv::new();
    let list = support::symbols("DV", 30);
    env.add_symbols(&list);
    for s in &list {
        // Monthly dividends: 30 × 42 = 1,260 actions, two pages of 1,000.
        for month in 0..42 {
            let ex = format!("{}-{:02}-25", 2021 + month / 12, month % 12 + 1);
            env.emu.add_action(EmuAction::cash_dividend(s, &ex, 0.01));
        }
    }
    let fetch = format!("fetch -q --start 2024-05-01 {}", list.join(" "));
    env.run(&fetch).success();
    assert!(corporate_action_requests(&env).is_empty());

    env.run(&format!("{fetch} --adjustment split")).success();
    let asked = corporate_action_requests(&env);
    assert_eq!(asked.len(), 2, "one request per page: {asked:#?}");
    for r in &asked {
        assert_eq!(r.symbols(), list);
        assert_eq!(r.param("limit"), Some("1000"));
        assert_eq!(r.param("start"), Some("2016-01-01"));
        assert_eq!(
            r.param("types"),
            Some(
                "forward_split,reverse_split,unit_split,stock_dividend,cash_dividend,spin_off,name_change,worthless_removal,cash_merger,stock_merger,stock_and_cash_merger"
            )
        );
    }
    assert!(asked[0].param("page_token").is_none() && asked[1].param("page_token").is_some());
    let count = |env: &TestEnv, s: &str| {
        let ledger = env.read_json(&format!("stocks/actions/{s}.json"));
        ledger["actions"].as_array().unwrap().len()
    };
    // 2024-06-25's dividend is processed on 07-09: 41 known at the clock.
    assert_eq!(count(&env, &list[0]), 41);

    // Four weeks later, `update` refreshes every ledger in one request. The lookback asks
    // again for 2024-05-25's dividend (processed 06-08), and it is not recorded twice.
    env.emu.set_now(utc("2024-07-12T21:00:00Z"));
    let out = env.run("update --report json").success();
    let asked = corporate_action_requests(&env);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].symbols(), list);
    assert_eq!(asked[0].param("start"), Some("2024-06-07"));
    let report: Value = out.json();
    assert_eq!(report["corporate_actions"]["symbols_checked"], 30);
    assert_eq!(report["corporate_actions"]["requests"], 1);
    assert_eq!(report["corporate_actions"]["actions_added"], 30);
    assert_eq!(report["requests"], 1, "bar requests are counted apart");
    out.assert_stderr_contains("corporate actions of 30 symbols checked in 1 requests, 30 new");
    assert_eq!(count(&env, &list[29]), 42);
}

#[test]
fn a_new_split_restates_history_after_update_without_refetching_it() {
    let env = TestEnv::new();
    let before = env.run("fetch ACME --start 2024-01-01 --end 2024-06-13 --adjustment split");
    let before = before.success().bars_of("ACME");
    env.emu.clear_requests();

    // A 4:1 split on Monday 2024-06-24; update runs on Friday 2024-06-28 after the close.
    env.emu
        .add_action(EmuAction::forward_split("ACME", "2024-06-24", 4.0, 1.0));
    env.emu.set_now(utc("2024-06-28T21:00:00Z"));
    env.run("update -q").success();
    let asked = env.emu.corporate_action_requests();
    assert_eq!(asked.len(), 1, "the ledger request");
    // Only the new bars.
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-06-14T04:00:00Z", "2024-06-29T03:59:59.999999999Z")],
    );

    let after = env.run("fetch ACME --start 2024-01-01 --end 2024-06-27 --adjustment split");
    let after = after.success().bars_of("ACME");
    let asked = env.emu.requests();
    assert!(
        asked.is_empty(),
        "served from the cache and the fresh ledger"
    );
    let (start, end) = (utc("2024-01-01T05:00:00Z"), utc("2024-06-28T03:59:59Z"));
    let want = env
        .emu
        .bars_adjusted("ACME", "1Day", start, end, "sip", "split");
    assert_matches(&after, &want, "restated");
    // The history held before is now a quarter of the price, four times the volume.
    let (now, then) = (after[0].c, before[0].c);
    assert!((now - then / 4.0).abs() <= 0.0001, "{now} {then}");
    assert_eq!(after[0].v, before[0].v * 4.0);
}

#[test]
fn update_counts_its_ledger_request_and_survives_its_failure() {
    let env = TestEnv::new();
    env.run("fetch -q ACME MSFT BTC/USD --start 2024-06-01")
        .success();
    env.emu.clear_requests();
    env.emu.set_now(utc("2024-06-18T21:00:00Z"));
    env.run("update -q").success();
    let asked = env.emu.corporate_action_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].symbols(), ["ACME", "MSFT"], "stocks only");
    assert!(env.series_path("stocks/actions/MSFT.json").is_file());
    env.emu.clear_requests();

    env.emu.set_now(utc("2024-06-20T21:00:00Z"));
    env.emu.inject_corporate_actions(Fault::Status(422), 1);
    let out = env.run("update --report json").failure(1);
    let report: Value = out.json();
    assert_eq!(report["series_failed"], 0);
    assert_eq!(report["series_updated"], 3);
    let error = report["corporate_actions"]["error"].as_str().unwrap();
    assert!(error.contains("Alpaca rejected the request"), "{error}");
    out.assert_stderr_contains("corporate actions");
}

#[test]
fn spin_offs_are_refused_where_they_would_move_a_bar() {
    let env = TestEnv::new();
    env.emu.add_symbol("SPIN", d("2015-01-02"));
    env.emu.add_symbol("SPUN", d("2023-04-03"));
    env.emu
        .add_action(EmuAction::spin_off("SPIN", "2023-04-03", 2.0, "SPUN", 1.0));
    env.run("fetch SPIN --start 2023-01-01 --end 2023-06-30 --adjustment all")
        .failure(1)
        .assert_stderr_contains("does not adjust for spin-offs: SPIN spun off SPUN on 2023-04-03")
        .assert_stderr_contains("--adjustment split,dividend")
        .assert_stdout_empty();

    // Bars stream out adjusted, but a refusal still comes before the first one: ACME's bars
    // come first and print nothing; a derived fetch is refused the same way.
    for fetch in [
        "fetch ACME SPIN --start 2023-01-01 --end 2023-06-30 --adjustment all",
        "fetch ACME SPIN -t 1Hour --from 1Min --start 2023-03-30 --end 2023-04-04 --adjustment all",
    ] {
        env.run(fetch)
            .failure(1)
            .assert_stderr_contains("SPIN spun off SPUN on 2023-04-03")
            .assert_stdout_empty();
    }
    // The stretch before the spin-off holds no bar of the range: nothing to refuse.
    env.fetch_csv(
        "ACME SPIN -t 1Hour --from 1Min --start 2023-04-03 --end 2023-04-04 --adjustment all",
    );

    let raw = env.fetch_csv("SPIN --start 2023-01-01 --end 2023-06-30");
    let split_dividend =
        env.fetch_csv("SPIN --start 2023-01-01 --end 2023-06-30 --adjustment split,dividend");
    assert_eq!(split_dividend, raw, "SPIN has nothing else to adjust");
    // Bars from the spin-off on need no adjustment for it.
    env.fetch_csv("SPIN --start 2023-04-03 --end 2023-06-30 --adjustment all");
    // A symbol without spin-offs is unaffected by asking for them.
    let acme = "ACME --start 2023-01-01 --end 2023-06-30";
    let spin_off = env.fetch_csv(&format!("{acme} --adjustment spin-off"));
    assert_eq!(spin_off, env.fetch_csv(acme));
}

#[test]
fn pruning_the_last_series_of_a_symbol_removes_its_ledger() {
    let env = TestEnv::new();
    env.fetch_csv("ACME --start 2024-06-01 --adjustment split");
    env.fetch_csv("ACME -t 1Hour --start 2024-06-10");
    let ledger = env.series_path("stocks/actions/ACME.json");
    env.run("prune ACME -t 1Hour").success();
    assert!(ledger.is_file(), "1Day is left");
    env.run("prune ACME --dry-run")
        .success()
        .assert_stdout_contains("would remove  ACME corporate actions");
    assert!(ledger.is_file());
    env.run("prune ACME")
        .success()
        .assert_stdout_contains("removed       ACME corporate actions");
    assert!(!ledger.exists());
    env.assert_no_files();
    assert!(!env.series_path("stocks").exists());
}

//! Tickers that end or change hands (issue 23): a rename closes the old ticker's series and
//! restates the new ticker's history (Alpaca maps the old company's bars onto the new ticker),
//! a worthless removal or a merger closes the series; closed series are never asked past their
//! end, `fetch` past it names the successor, and `inspect` shows both facts.

use chrono::NaiveDate;
use serde_json::Value;

use crate::support::emulator::EmuAction;
use crate::support::{TestEnv, utc};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The symbols of the bar requests since the last call, sorted and deduplicated.
fn asked(env: &TestEnv) -> Vec<String> {
    let mut symbols: Vec<String> = env
        .take_bar_requests()
        .iter()
        .flat_map(|r| r.symbols())
        .collect();
    symbols.sort();
    symbols.dedup();
    symbols
}

/// OLDCO renamed to NEWT on Monday 2024-06-10; NEWT was another company until then, which
/// was renamed to NEWB the same day (FB becoming META while META's fund became METV).
#[test]
fn a_rename_closes_the_old_ticker_and_restates_the_new_one() {
    let env = TestEnv::new();
    for symbol in ["OLDCO", "NEWT"] {
        env.emu.add_asset(symbol, date("2015-01-02"), "NYSE");
    }
    env.emu.rename("NEWT", "2024-06-10", "NEWB");
    env.emu.rename("OLDCO", "2024-06-10", "NEWT");
    let watchlist = env.watchlist(&["NEWT", "OLDCO"]);
    let nightly = format!(
        "update --symbols-file {} --start 2024-01-02 --report json",
        watchlist.display()
    );

    // Before the rename: two companies, each cached under its own ticker.
    env.emu.set_now(utc("2024-06-05T21:00:00Z"));
    env.run(nightly.as_str()).success();
    let year = "--start 2024-01-02 --end 2024-06-13";
    let before = env
        .run(format!("fetch --offline NEWT {year}").as_str())
        .success()
        .bars_of("NEWT");
    assert_eq!(
        before,
        env.expected_bars("NEWT", "1Day", "2024-01-02", "2024-06-05")
    );
    env.emu.clear_requests();

    // After it: Alpaca serves OLDCO's history under NEWT.
    env.emu.set_now(utc("2024-06-12T21:00:00Z"));
    let out = env.run(nightly.as_str()).success();
    out.assert_stderr_contains(
        "OLDCO 1Day (stocks sip): renamed to NEWT on 2024-06-10; not asked past it",
    );
    out.assert_stderr_contains(
        "NEWT 1Day (stocks sip): renamed from OLDCO on 2024-06-10; the bars it held before then were dropped and asked again",
    );
    let report: Value = out.json();
    let actions = &report["corporate_actions"];
    assert_eq!(actions["series_closed"][0]["symbol"], "OLDCO");
    assert_eq!(actions["series_closed"][0]["successor"], "NEWT");
    assert_eq!(actions["series_restated"][0]["symbol"], "NEWT");
    assert_eq!(actions["series_restated"][0]["renamed_from"], "OLDCO");
    assert_eq!(
        actions["series_restated"][0]["restated"],
        serde_json::json!(["2024-01-02T05:00:00Z", "2024-06-10T04:00:00Z"])
    );
    // The restated span was asked again in the same run: NEWT from its first day.
    let renewed = env
        .emu
        .bar_requests()
        .into_iter()
        .filter(|r| r.symbols() == ["NEWT"])
        .filter_map(|r| r.param("start").map(str::to_owned))
        .any(|start| start.starts_with("2024-01-02"));
    assert!(renewed, "NEWT's history is asked again");

    let expected = env.expected_bars("NEWT", "1Day", "2024-01-02", "2024-06-12");
    let now_held = env
        .run(format!("fetch --offline NEWT {year}").as_str())
        .success()
        .bars_of("NEWT");
    assert_eq!(now_held, expected, "NEWT is OLDCO's history now");
    assert_ne!(
        now_held[..before.len()],
        before[..],
        "the other company's bars are gone"
    );
    let oldco = env
        .run(format!("fetch --offline OLDCO {year}").as_str())
        .success();
    oldco.assert_stderr_contains(
        "OLDCO 1Day: renamed to NEWT on 2024-06-10; its later bars are under NEWT",
    );
    let oldco_bars = oldco.bars_of("OLDCO");
    assert_eq!(oldco_bars.last().unwrap().t, utc("2024-06-07T04:00:00Z"));
    assert_eq!(
        oldco_bars,
        env.expected_bars("OLDCO", "1Day", "2024-01-02", "2024-06-12")
    );

    let table = env.run("inspect --format table").success();
    table.assert_stdout_contains("OLDCO 1Day (stocks sip): renamed to NEWT on 2024-06-10");
    table.assert_stdout_contains("NEWT 1Day (stocks sip): renamed from OLDCO on 2024-06-10");
    env.emu.clear_requests();

    // The following nights never ask for OLDCO, and NEWT only for what is new.
    for night in ["2024-06-13T21:00:00Z", "2024-06-14T21:00:00Z"] {
        env.emu.set_now(utc(night));
        let out = env.run(nightly.as_str()).success();
        out.assert_stderr_lacks("renamed");
        let requests = env.take_bar_requests();
        assert_eq!(requests.len(), 1, "{night}");
        assert_eq!(requests[0].symbols(), ["NEWT"], "{night}");
    }
    // Asking OLDCO past its end asks nothing and names the successor.
    let out = env
        .run("fetch OLDCO --start 2024-06-03 --end 2024-06-14")
        .success();
    out.assert_stderr_contains("its later bars are under NEWT (barkeep fetch NEWT)");
    assert!(asked(&env).is_empty(), "nothing is asked past the end");
}

#[test]
fn a_worthless_removal_and_a_merger_close_their_series() {
    let env = TestEnv::new();
    for symbol in ["DUD", "PREY", "HUNTR"] {
        env.emu.add_asset(symbol, date("2015-01-02"), "NASDAQ");
    }
    env.emu.set_now(utc("2024-06-05T21:00:00Z"));
    env.run("update DUD PREY HUNTR --start 2024-05-01")
        .success();
    env.emu
        .add_action(EmuAction::worthless_removal("DUD", "2024-06-10"));
    env.emu.add_action(EmuAction::stock_merger(
        "PREY",
        "2024-06-11",
        "HUNTR",
        0.5,
        1.0,
    ));
    env.emu.clear_requests();

    env.emu.set_now(utc("2024-06-12T21:00:00Z"));
    let out = env.run("update").success();
    out.assert_stderr_contains("DUD 1Day (stocks sip): delisted 2024-06-10; not asked past it");
    out.assert_stderr_contains("PREY 1Day (stocks sip): acquired by HUNTR on 2024-06-11");
    env.emu.clear_requests();

    env.emu.set_now(utc("2024-06-13T21:00:00Z"));
    env.run("update").success();
    assert_eq!(asked(&env), ["HUNTR"], "closed series are not asked");
    // Offline past the end is not a hole: the held bars, a note, exit 0.
    let out = env
        .run("fetch --offline PREY --start 2024-06-03 --end 2024-06-13")
        .success();
    out.assert_stderr_contains("PREY 1Day: acquired by HUNTR on 2024-06-11");
    assert_eq!(
        out.bars_of("PREY"),
        env.expected_bars("PREY", "1Day", "2024-06-03", "2024-06-13")
    );
    let rows: Vec<Value> = env.run("inspect --format json").success().json();
    let dud = rows
        .iter()
        .find(|r| r["symbol"] == "DUD")
        .expect("DUD is listed");
    assert_eq!(dud["closed"]["reason"], "delisted");
    assert_eq!(dud["closed"]["date"], "2024-06-10");
}

#[test]
fn an_inactive_asset_without_a_bar_is_closed_where_it_was_asked() {
    let env = TestEnv::new();
    // Delisted before the range asked: Alpaca has no bar of it there.
    env.emu.add_asset("GHOST", date("2015-01-02"), "NYSE");
    env.emu.delist("GHOST", date("2024-05-31"));
    env.emu.set_now(utc("2024-06-05T21:00:00Z"));
    let out = env.run("update GHOST AAPL --start 2024-06-03").success();
    out.assert_stderr_contains("GHOST 1Day (stocks sip): delisted 2024-06-04; not asked past it");
    env.emu.clear_requests();
    env.emu.set_now(utc("2024-06-06T21:00:00Z"));
    env.run("update").success();
    assert_eq!(asked(&env), ["AAPL"]);
}

/// A ledger recorded before barkeep knew the actions that end a ticker (format 1) is asked
/// again from the first process date, once, and rewritten as format 2.
#[test]
fn a_format_one_ledger_is_asked_again_for_the_actions_that_end_a_ticker() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-05T21:00:00Z"));
    env.run("update ACME --start 2024-05-01").success();
    let path = env.series_path("stocks/actions/ACME.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""format_version": 2"#), "{text}");
    std::fs::write(
        &path,
        text.replace(r#""format_version": 2"#, r#""format_version": 1"#),
    )
    .unwrap();
    std::fs::remove_file(env.series_path("stocks/actions/_index.json")).unwrap();
    env.emu.clear_requests();

    env.emu.set_now(utc("2024-06-06T21:00:00Z"));
    env.run("update").success();
    let asked = env.emu.corporate_action_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("start"), Some("2016-01-01"));
    assert!(asked[0].param("types").unwrap().contains("name_change"));
    assert_eq!(
        env.read_json("stocks/actions/ACME.json")["format_version"],
        2
    );
    env.emu.clear_requests();

    // Once rewritten, the next night asks only the recent process dates again.
    env.emu.set_now(utc("2024-06-07T21:00:00Z"));
    env.run("update").success();
    let asked = env.emu.corporate_action_requests();
    assert_eq!(asked.len(), 1);
    assert_ne!(asked[0].param("start"), Some("2016-01-01"));
}

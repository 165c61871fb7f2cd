//! `barkeep update --universe`: the whole market from Alpaca's assets list (the Trading API's
//! `/v2/assets`, cached once per New York day), `--include-inactive`, `--exchange`, and
//! `inspect --assets`.

use chrono::NaiveDate;
use serde_json::Value;

use crate::support::{TestEnv, long_symbols, utc};

/// The emulator's own stocks, active assets of every universe run besides the generated ones.
const BUILT_IN: [&str; 7] = ["AAPL", "ACME", "MSFT", "NEWCO", "NVDA", "SPY", "TSLA"];

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// `n` generated assets on NYSE and NASDAQ in turn; every 25th delisted after 2024-06-05.
/// Returns (active, inactive), each sorted.
fn market(env: &TestEnv, n: usize) -> (Vec<String>, Vec<String>) {
    let (mut active, mut inactive) = (Vec::new(), Vec::new());
    for (i, symbol) in long_symbols("U", n).into_iter().enumerate() {
        let exchange = if i % 2 == 0 { "NYSE" } else { "NASDAQ" };
        env.emu.add_asset(&symbol, date("2015-01-02"), exchange);
        if i % 25 == 7 {
            env.emu.delist(&symbol, date("2024-06-05"));
            inactive.push(symbol);
        } else {
            active.push(symbol);
        }
    }
    active.extend(BUILT_IN.map(str::to_owned));
    active.sort();
    (active, inactive)
}

/// The symbols of the daily SIP series in the cache, sorted.
fn cached_daily(env: &TestEnv) -> Vec<String> {
    let dir = env.cache().join("stocks/sip/1Day");
    let mut symbols: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter_map(|name| name.strip_suffix(".parquet").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    symbols.sort();
    symbols
}

#[test]
fn a_universe_of_two_thousand_assets_is_one_series_each_in_the_fewest_requests() {
    let env = TestEnv::new();
    let (active, inactive) = market(&env, 2_000);
    env.emu.set_now(utc("2024-06-14T21:00:00Z"));

    let out = env
        .run("update --universe us_equity -t 1Day --start 2024-05-31 --report json")
        .success();
    let assets = env.emu.asset_requests();
    assert_eq!(assets.len(), 1, "one assets request");
    assert_eq!(assets[0].param("asset_class"), Some("us_equity"));
    assert!(assets[0].authenticated);
    let bars = env.take_bar_requests();
    // 200 symbols per request is the batching bound; 10 sessions x 200 bars fit one page.
    assert_eq!(bars.len(), active.len().div_ceil(200));
    let mut asked: Vec<String> = bars.iter().flat_map(|r| r.symbols()).collect();
    asked.sort();
    assert!(asked == active, "every active asset once");
    assert!(cached_daily(&env) == active, "one series per active asset");
    let r: Value = out.json();
    assert_eq!(r["series_updated"], active.len());
    assert_eq!(r["assets"]["listed"], active.len() + inactive.len());
    assert_eq!(r["assets"]["selected"], active.len());
    assert_eq!(r["assets"]["asked"], true);
    out.assert_stderr_contains(&format!(
        "us_equity assets list (asked now): {} assets, {} taken",
        active.len() + inactive.len(),
        active.len()
    ));
    for s in [&active[0], &active[999], active.last().unwrap()] {
        let cached = env.run(&format!(
            "fetch --offline {s} --start 2024-05-31 --end 2024-06-14"
        ));
        let expected = env.expected_bars(s, "1Day", "2024-05-31", "2024-06-14");
        assert_eq!(expected.len(), 11);
        assert_eq!(cached.success().bars_of(s), expected, "{s}");
    }

    // Later the same New York day: the cached list, no assets request.
    env.emu.set_now(utc("2024-06-15T01:00:00Z"));
    let out = env
        .run("update --universe us_equity --report json")
        .success();
    assert!(env.emu.asset_requests().is_empty());
    let r: Value = out.json();
    assert_eq!(r["assets"]["asked"], false);
    out.assert_stderr_contains("us_equity assets list (cached, fetched 2024-06-14T21:00:00Z)");
    env.emu.clear_requests();

    // With --include-inactive the delisted ones are added, with their history to the end.
    let out = env
        .run("update -q --universe us_equity --include-inactive --start 2024-05-31")
        .success();
    out.assert_stderr_empty();
    assert!(env.emu.asset_requests().is_empty());
    let bars = env.take_bar_requests();
    let mut asked: Vec<String> = bars.iter().flat_map(|r| r.symbols()).collect();
    asked.sort();
    assert_eq!(asked, inactive, "only the new series need data");
    let mut everything = [active.clone(), inactive.clone()].concat();
    everything.sort();
    assert!(cached_daily(&env) == everything);
    let gone = &inactive[3];
    let cached = env.run(&format!(
        "fetch --offline {gone} --start 2024-05-31 --end 2024-06-05"
    ));
    let expected = env.expected_bars(gone, "1Day", "2024-05-31", "2024-06-14");
    assert_eq!(expected.last().unwrap().t, utc("2024-06-05T04:00:00Z"));
    assert_eq!(cached.success().bars_of(gone), expected);
    let info: Value = env
        .run(&format!("inspect {gone} --format json"))
        .success()
        .json();
    assert_eq!(
        info[0]["closed"]["shown"], "delisted 2024-06-05",
        "closed at its last day"
    );

    // The next New York day asks the list again, once, and never the closed series.
    env.emu.set_now(utc("2024-06-17T21:00:00Z"));
    env.emu.clear_requests();
    env.run("update -q --universe us_equity --include-inactive")
        .success();
    assert_eq!(env.emu.asset_requests().len(), 1);
    let asked: Vec<String> = env
        .take_bar_requests()
        .iter()
        .flat_map(|r| r.symbols())
        .collect();
    assert_eq!(asked.len(), active.len());
    assert!(!asked.contains(gone));
}

#[test]
fn exchange_narrows_the_universe_and_inspect_assets_prints_the_list() {
    let env = TestEnv::new();
    let (active, inactive) = market(&env, 60);
    let out = env
        .run("update --universe us_equity --exchange nyse,ARCA --dry-run --report json")
        .success();
    let r: Value = out.json();
    let planned: Vec<&str> = r["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    let nyse: Vec<&str> = long_symbols("U", 60)
        .iter()
        .enumerate()
        .filter(|(i, s)| i % 2 == 0 && active.contains(s))
        .map(|(_, s)| active.iter().find(|a| *a == s).unwrap().as_str())
        .collect();
    assert_eq!(planned, nyse, "the active NYSE assets only");
    out.assert_stderr_contains("no us_equity asset of the assets list is on exchange `ARCA`");
    assert_eq!(env.emu.asset_requests().len(), 1);
    assert!(env.emu.bar_requests().is_empty(), "a dry run asks no bars");

    let out = env.run("inspect --assets --format csv").success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "symbol,name,exchange,status,asset_class");
    assert_eq!(lines.len(), 1 + active.len() + inactive.len());
    assert!(lines.contains(&"UAAA,UAAA Corporation,NYSE,active,us_equity"));
    let gone = &inactive[0];
    assert!(
        lines.contains(&format!("{gone},{gone} Corporation,NASDAQ,inactive,us_equity").as_str())
    );
    out.assert_stderr_contains(&format!(
        "us_equity assets list: {} assets, fetched 2024-06-14T20:30:00Z",
        lines.len() - 1
    ));
    let json: Value = env
        .run("inspect --assets AAPL --format json")
        .success()
        .json();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["exchange"], "NASDAQ");
    assert_eq!(json[0]["status"], "active");
    assert!(env.emu.asset_requests().len() == 1, "inspect asks nothing");
}

#[test]
fn universe_options_are_checked_before_anything_is_asked() {
    let env = TestEnv::new();
    for line in [
        "update --include-inactive",
        "update --exchange NYSE",
        "update --universe bonds",
        "update --universe us_equity --exchange N/A",
    ] {
        let out = env.run(line).failure(2);
        assert!(out.stderr.len() < 2_000, "{line}");
    }
    env.run("update --universe us_equity --exchange N/A")
        .failure(2)
        .assert_stderr_contains("--exchange `N/A` is not an exchange name");
    assert!(env.emu.requests().is_empty());
    env.assert_no_files();
}

#[test]
fn a_delisted_symbol_in_a_watchlist_is_closed_and_never_asked_again() {
    let env = TestEnv::new();
    env.emu.add_asset("GONE", date("2015-01-02"), "NYSE");
    env.emu.add_asset("KEPT", date("2015-01-02"), "NYSE");
    env.emu.delist("GONE", date("2024-06-05"));
    let watchlist = env.watchlist(&["GONE", "KEPT"]);
    let nightly = format!(
        "update --symbols-file {} --start 2024-05-20",
        watchlist.display()
    );

    env.emu.set_now(utc("2024-06-04T21:00:00Z"));
    env.run(nightly.as_str()).success();
    assert_eq!(
        env.emu.asset_requests().len(),
        1,
        "any update of stocks checks the list"
    );
    env.emu.clear_requests();

    // Friday: GONE traded until Wednesday and the list now shows it inactive.
    env.emu.set_now(utc("2024-06-07T21:00:00Z"));
    let out = env.run(nightly.as_str()).success();
    out.assert_stderr_contains("GONE 1Day (stocks sip): delisted 2024-06-05; not asked past it");
    env.emu.clear_requests();

    // The following nights never ask for GONE again.
    for night in ["2024-06-10T21:00:00Z", "2024-06-11T21:00:00Z"] {
        env.emu.set_now(utc(night));
        env.run(nightly.as_str()).success();
        let asked: Vec<String> = env
            .take_bar_requests()
            .iter()
            .flat_map(|r| r.symbols())
            .collect();
        assert_eq!(asked, ["KEPT"], "{night}");
    }

    // What is held is the whole history, and asking past the end is not a hole.
    let out = env
        .run("fetch --offline GONE --start 2024-05-20 --end 2024-06-11")
        .success();
    let expected = env.expected_bars("GONE", "1Day", "2024-05-20", "2024-06-11");
    assert_eq!(expected.last().unwrap().t, utc("2024-06-05T04:00:00Z"));
    assert_eq!(out.bars_of("GONE"), expected);
    let table = env.run("inspect --format table").success();
    table.assert_stdout_contains("GONE 1Day (stocks sip): delisted 2024-06-05");
    table.assert_stdout_lacks("KEPT 1Day (stocks sip):");
}

#[test]
fn an_update_goes_on_without_the_assets_list_when_the_trading_api_refuses() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-07T21:00:00Z"));
    let out = env
        .command("update AAPL --start 2024-06-03")
        .env("APCA_API_BASE_URL", format!("{}/nowhere", env.emu.url()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("delisted series not checked"), "{stderr}");
    assert_eq!(stderr.matches("delisted series not checked").count(), 1);
    assert!(env.series_path("stocks/sip/1Day/AAPL.parquet").exists());
}

//! `barkeep fetch`: gap filling measured by the requests the emulator receives, output
//! formats, settling of forming bars, and every failure mode a user can cause or meet.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::emulator::Fault;
use crate::support::{TestEnv, assert_asked, bars_of, parse_csv, rfc3339, run, spawn, utc};
use crate::support::{signal, symbols, wait_until};

#[test]
fn first_fetch_batches_symbols_and_repeats_cost_nothing() {
    let env = TestEnv::new();
    let out = env.fetch_csv("AAPL MSFT -t 1Day --start 2024-01-01 --end 2024-03-31");
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert_eq!(requests[0].symbols(), vec!["AAPL", "MSFT"]);
    assert_eq!(requests[0].param("feed"), Some("sip"));
    assert_eq!(requests[0].param("adjustment"), Some("raw"));
    assert_eq!(requests[0].param("limit"), Some("10000"));
    assert!(requests[0].accept_gzip);
    let user_agent = requests[0].user_agent.as_deref().unwrap_or("");
    assert!(user_agent.starts_with("barkeep/"));

    let rows = parse_csv(&out);
    for symbol in ["AAPL", "MSFT"] {
        let expected = env.expected_bars(symbol, "1Day", "2024-01-01", "2024-03-31");
        assert!(expected.len() > 55, "a quarter of trading days");
        assert_eq!(bars_of(&rows, symbol), expected, "{symbol}");
    }
    assert_eq!(rows[0].symbol, "AAPL", "ordered by symbol then time");
    assert!(env.series_path("stocks/sip/1Day/AAPL.parquet").is_file());
    assert!(env.series_path("stocks/sip/1Day/MSFT.parquet").is_file());

    // The same fetch again, and a range inside it: served from the cache.
    let again = env.fetch_csv("AAPL MSFT -t 1Day --start 2024-01-01 --end 2024-03-31");
    assert_eq!(again, out);
    let inside = env.fetch_csv("AAPL -t 1Day --start 2024-02-01 --end 2024-02-29");
    assert!(env.take_bar_requests().is_empty());
    let expected = env.expected_bars("AAPL", "1Day", "2024-02-01", "2024-02-29");
    assert_eq!(bars_of(&parse_csv(&inside), "AAPL"), expected);
}

#[test]
fn extending_the_range_asks_only_for_the_new_edges() {
    let env = TestEnv::new();
    env.fetch_csv("AAPL -t 1Day --start 2024-01-01 --end 2024-03-31");
    env.take_bar_requests();

    let out = env.fetch_csv("AAPL -t 1Day --start 2024-01-01 --end 2024-05-31");
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-04-01T04:00:00Z", "2024-06-01T03:59:59.999999999Z")],
    );
    let expected = env.expected_bars("AAPL", "1Day", "2024-01-01", "2024-05-31");
    assert_eq!(bars_of(&parse_csv(&out), "AAPL"), expected);

    env.fetch_csv("AAPL -t 1Day --start 2023-10-01 --end 2024-05-31");
    // Trimmed to sessions: 2023-10-01 is a Sunday, 2023-12-30 to 2024-01-01 a weekend and
    // New Year's Day.
    assert_asked(
        &env.take_bar_requests(),
        &[("2023-10-02T04:00:00Z", "2023-12-30T04:59:59.999999999Z")],
    );
}

#[test]
fn a_hole_between_two_fetched_ranges_costs_one_request() {
    let env = TestEnv::new();
    env.fetch_csv("MSFT -t 1Day --start 2024-01-01 --end 2024-01-31");
    env.fetch_csv("MSFT -t 1Day --start 2024-03-01 --end 2024-03-31");
    env.take_bar_requests();
    let out = env.fetch_csv("MSFT -t 1Day --start 2024-01-01 --end 2024-03-31");
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-02-01T05:00:00Z", "2024-03-01T04:59:59.999999999Z")],
    );
    let expected = env.expected_bars("MSFT", "1Day", "2024-01-01", "2024-03-31");
    assert_eq!(bars_of(&parse_csv(&out), "MSFT"), expected);
}

#[test]
fn empty_ranges_are_asked_once() {
    let env = TestEnv::new();
    // A weekend holds no daily bars: nothing is asked.
    let weekend = env.fetch_csv("AAPL -t 1Day --start 2024-06-08 --end 2024-06-09");
    assert_eq!(weekend.lines().count(), 1, "header only: {weekend}");
    assert!(env.take_bar_requests().is_empty());
    env.fetch_csv("AAPL -t 1Day --start 2024-06-08 --end 2024-06-09");
    assert!(env.take_bar_requests().is_empty());

    // NEWCO listed on 2024-03-15: the months before its listing are not asked again.
    let out = env.fetch_csv("NEWCO -t 1Day --start 2024-01-01 --end 2024-05-31");
    assert_eq!(env.take_bar_requests().len(), 1);
    let rows = parse_csv(&out);
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.t >= utc("2024-03-15T04:00:00Z")));
    let before = env.fetch_csv("NEWCO -t 1Day --start 2024-01-01 --end 2024-02-15");
    assert_eq!(before.lines().count(), 1);
    assert!(env.take_bar_requests().is_empty());
}

#[test]
fn twenty_symbols_missing_the_same_range_cost_one_request_per_page() {
    let env = TestEnv::new();
    let symbols = symbols("SYM", 20);
    env.add_symbols(&symbols);
    let line = format!(
        "{} -t 15Min --start 2024-05-01 --end 2024-05-31",
        symbols.join(" ")
    );
    let out = env.fetch_csv(&line);
    let rows = parse_csv(&out);
    let requests = env.take_bar_requests();
    let pages = rows.len().div_ceil(10_000);
    let bars = rows.len();
    assert!(
        pages >= 2,
        "the test needs a multi-page answer ({bars} bars)"
    );
    assert_eq!(requests.len(), pages, "one request per page");
    for r in &requests {
        assert_eq!(r.symbols(), symbols, "every page carries all symbols");
    }
    assert!(requests[1].param("page_token").is_some());
    for s in &symbols {
        let expected = env.expected_bars(s, "15Min", "2024-05-01", "2024-05-31");
        assert_eq!(bars_of(&rows, s), expected, "{s}");
    }
}

#[test]
fn a_bar_fetched_while_forming_is_replaced_by_its_final_value() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-14T15:00:30Z"));
    let friday = "AAPL -t 1Min --start 2024-06-14 --end 2024-06-14";
    let early = parse_csv(&env.fetch_csv(friday));
    let forming = early.last().unwrap().clone();
    assert_eq!(forming.t, utc("2024-06-14T15:00:00Z"));
    env.take_bar_requests();

    env.emu.set_now(utc("2024-06-14T21:00:00Z"));
    let late = parse_csv(&env.fetch_csv(friday));
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1);
    let asked_from = utc(requests[0].param("start").unwrap());
    let (earliest, latest) = (utc("2024-06-14T14:30:00Z"), utc("2024-06-14T14:45:30Z"));
    let settled = (earliest..=latest).contains(&asked_from);
    assert!(
        settled,
        "asks again from the last settled point: {asked_from}"
    );
    let expected = env.expected_bars("AAPL", "1Min", "2024-06-14", "2024-06-14");
    assert_eq!(bars_of(&late, "AAPL"), expected);
    let final_bar = late.iter().find(|r| r.t == forming.t).unwrap();
    let why = "the emulator's forming bar differs from its final value";
    assert_ne!(final_bar.bar, forming.bar, "{why}");

    // Daily bars: today's bar is provisional until the day has settled.
    let week = "SPY -t 1Day --start 2024-06-10 --end 2024-06-14";
    env.emu.set_now(utc("2024-06-14T15:00:00Z"));
    let during = parse_csv(&env.fetch_csv(week));
    env.emu.set_now(utc("2024-06-15T12:00:00Z"));
    env.take_bar_requests();
    let after = parse_csv(&env.fetch_csv(week));
    assert_eq!(env.take_bar_requests().len(), 1);
    assert_ne!(during.last().unwrap().bar, after.last().unwrap().bar);
    let expected = env.expected_bars("SPY", "1Day", "2024-06-10", "2024-06-14");
    assert_eq!(bars_of(&after, "SPY"), expected);
    // Now settled: no further request.
    env.fetch_csv(week);
    assert!(env.take_bar_requests().is_empty());
}

#[test]
fn output_formats_agree_and_csv_is_byte_exact() {
    let env = TestEnv::new();
    let csv = env.fetch_csv("AAPL -t 1Day --start 2024-01-02 --end 2024-01-04");
    let expected = env.expected_bars("AAPL", "1Day", "2024-01-02", "2024-01-04");
    let mut golden = String::from("symbol,timestamp,open,high,low,close,volume,trade_count,vwap\n");
    for b in &expected {
        let (t, o, h, l, c, v, n, vw) = (rfc3339(b.t), b.o, b.h, b.l, b.c, b.v, b.n, b.vw);
        golden += &format!("AAPL,{t},{o},{h},{l},{c},{v},{n},{vw}\n");
    }
    assert_eq!(expected.len(), 3);
    assert_eq!(csv, golden);

    let three_days = "fetch AAPL --start 2024-01-02 --end 2024-01-04";
    let objects = env
        .run(&format!("{three_days} --format ndjson"))
        .success()
        .ndjson();
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[0]["timestamp"], "2024-01-02T05:00:00Z");
    assert_eq!(objects[0]["close"].as_f64().unwrap(), expected[0].c);
    assert_eq!(objects[0]["volume"].as_u64().unwrap() as f64, expected[0].v);
    let array: Vec<Value> = env
        .run(&format!("{three_days} --format json"))
        .success()
        .json();
    assert_eq!(array, objects);
    let table = env
        .run(&format!("{three_days} --format table"))
        .success()
        .stdout;
    assert_eq!(table.lines().count(), 4);
    assert!(table.starts_with("symbol  timestamp"));

    let file = env.dir.path().join("out.csv");
    env.run(&format!("{three_days} -o '{}'", file.display()))
        .success();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), csv);
    let asked = env.take_bar_requests().len();
    assert!(asked == 1, "only the first fetch asked Alpaca");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let env = TestEnv::new();
    let mut running =
        spawn(&mut env.command("fetch AAPL MSFT NVDA -t 1Min --start 2024-06-03 --end 2024-06-07"));
    let mut first = String::new();
    BufReader::new(running.take_stdout())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("symbol,timestamp"));
    running.wait().success().assert_stderr_empty();
}

#[test]
fn bad_input_exits_2_with_one_line_and_touches_nothing() {
    let env = TestEnv::new();
    let cases = [
        "fetch AAPL -t 3Fortnight",
        "fetch AAPL -t 1m",
        "fetch AAPL --start 2024-13-01",
        "fetch AAPL --start yesterday",
        "fetch AAPL --start 2024-05-01 --end 2024-04-01",
        "fetch ../x",
        "fetch CSP1",
        "fetch ''",
        "fetch AAPL --feed delayed_sip",
        "fetch AAPL -o /nonexistent/dir/out.csv",
    ];
    for line in cases {
        let out = env.run(line).failure(2);
        out.assert_stderr_lines(1);
        assert!(out.stderr.starts_with("error: "), "{line}: {}", out.stderr);
        assert!(!env.cache().exists(), "{line} created the cache directory");
    }
    assert!(env.emu.requests().is_empty());

    // With a populated cache, bad input changes nothing either.
    env.fetch_csv("AAPL -t 1Day --start 2024-01-01 --end 2024-01-31");
    let before = env.snapshot();
    for line in cases {
        env.run(line).failure(2);
    }
    assert_eq!(env.snapshot(), before);
    // Names the fix.
    env.run("fetch AAPL --start 2024-05-01 --end 2024-04-01")
        .assert_stderr_contains("--end");
    env.run("fetch AAPL -t 3Fortnight")
        .assert_stderr_contains("1Day")
        .assert_stderr_contains("3Fortnight");
}

#[test]
fn offline_serves_the_cache_or_names_what_is_missing() {
    let env = TestEnv::new();
    env.run("fetch AAPL --start 2024-01-01 --end 2024-01-31 --offline")
        .failure(1)
        .assert_stderr_contains("AAPL 1Day (not cached)")
        .assert_stdout_empty();
    assert!(!env.cache().exists());
    let online = env.fetch_csv("AAPL --start 2024-01-01 --end 2024-01-31");
    env.take_bar_requests();
    let offline = env.fetch_csv("AAPL --start 2024-01-01 --end 2024-01-31 --offline");
    assert_eq!(offline, online);
    assert!(env.emu.requests().is_empty());
}

#[test]
fn rejected_credentials_are_explained_and_never_printed() {
    let env = TestEnv::new();
    // -v logs requests.
    run(env
        .command("fetch -v AAPL --start 2024-01-01 --end 2024-01-31")
        .env("APCA_API_KEY_ID", "AKVERYSECRETID")
        .env("APCA_API_SECRET_KEY", "sEcReT-value-123"))
    .failure(1)
    .assert_stderr_contains("rejected the credentials")
    .assert_stderr_contains("APCA_API_KEY_ID")
    .assert_stderr_contains("APCA_API_SECRET_KEY")
    .assert_stderr_contains("GET http://127.0.0.1")
    .assert_stderr_lacks("sEcReT-value-123")
    .assert_stderr_lacks("AKVERYSECRETID")
    .assert_stderr_lacks("panicked");
    assert_eq!(env.take_bar_requests().len(), 1, "a 401 is not retried");

    run(env
        .command("fetch AAPL")
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY"))
    .failure(1)
    .assert_stderr_contains("APCA_API_KEY_ID");
    let asked = env.emu.requests();
    assert!(asked.is_empty(), "no request without credentials");

    env.emu.inject(Fault::ForbiddenHtml, 1);
    env.run("fetch AAPL --start 2024-01-01 --end 2024-01-31")
        .failure(1)
        .assert_stderr_contains("rejected the credentials (HTTP 403)");
}

#[test]
fn crypto_needs_no_credentials() {
    let env = TestEnv::new();
    let out = run(env
        .command("fetch BTC/USD -t 1Hour --start 2d --format ndjson")
        .env_remove("APCA_API_KEY_ID")
        .env_remove("APCA_API_SECRET_KEY"))
    .success();
    let rows = out.ndjson();
    assert!(rows.len() >= 30, "about 48 hourly bars: {}", rows.len());
    assert!(rows.iter().all(|r| r["symbol"] == "BTC/USD"));
    let requests = env.take_bar_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/v1beta3/crypto/us/bars");
    assert!(!requests[0].authenticated);
    assert_eq!(requests[0].param("feed"), None);
    let series = env.series_path("crypto/us/1Hour/BTC%2FUSD.parquet");
    assert!(series.is_file());
    let start = utc(rows[0]["timestamp"].as_str().unwrap());
    let now = env.emu.now();
    let expected = env.emu.bars("BTC/USD", "1Hour", start, now, "us");
    assert_eq!(rows.len(), expected.len());
    let volume = rows.last().unwrap()["volume"].as_f64().unwrap();
    assert_eq!(volume, expected.last().unwrap().v);
}

#[test]
fn transient_failures_are_retried_and_persistent_ones_reported() {
    let env = TestEnv::new();
    env.emu.inject(Fault::TooManyRequests, 2);
    // Retries are noted.
    env.run("fetch AAPL --start 2024-01-01 --end 2024-01-31")
        .success()
        .assert_stderr_contains("429");
    assert_eq!(env.take_bar_requests().len(), 3);

    env.emu.inject(Fault::TruncatedJson, 1);
    env.run("fetch AAPL --start 2024-02-01 --end 2024-02-28")
        .success();
    assert_eq!(env.take_bar_requests().len(), 2);

    let before = env.snapshot();
    env.emu.inject(Fault::Status(503), 50);
    env.run("fetch AAPL --start 2023-01-01 --end 2023-01-31")
        .failure(1)
        .assert_stderr_contains("gave up")
        .assert_stderr_contains("503");
    assert_eq!(env.take_bar_requests().len(), 6, "bounded attempts");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn free_plans_get_sip_up_to_15_minutes_ago() {
    let env = TestEnv::new();
    env.emu.set_free_plan(true);
    env.emu.set_now(utc("2024-06-14T15:00:30Z"));
    let out = parse_csv(&env.fetch_csv("SPY -t 1Min --start 2024-06-14"));
    let requests = env.take_bar_requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![403, 200]);
    assert!(utc(requests[1].param("end").unwrap()) <= utc("2024-06-14T14:45:30Z"));
    assert!(out.last().unwrap().t <= utc("2024-06-14T14:45:30Z"));
    let (start, end) = (utc("2024-06-14T04:00:00Z"), utc("2024-06-14T14:45:30Z"));
    let expected = env.emu.bars("SPY", "1Min", start, end, "sip");
    assert_eq!(bars_of(&out, "SPY"), expected);
    // The last 15 minutes were not marked covered: the next run asks again.
    env.emu.set_now(utc("2024-06-14T16:00:00Z"));
    env.fetch_csv("SPY -t 1Min --start 2024-06-14 --end 2024-06-14T15:00:00Z");
    assert!(!env.take_bar_requests().is_empty());
}

#[test]
fn ctrl_c_exits_130_and_leaves_nothing_half_written() {
    let env = TestEnv::new();
    env.emu.inject(Fault::Delay(Duration::from_secs(5)), 1);
    let running = spawn(&mut env.command("fetch AAPL --start 2024-01-01"));
    wait_until(Duration::from_secs(5), || !env.emu.requests().is_empty());
    signal(running.id(), "INT");
    running.wait().failure(130).assert_stdout_empty();
    let files: Vec<_> = env
        .snapshot()
        .into_keys()
        .filter(|p| p.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(files.is_empty(), "{files:?}");
    assert!(!env.series_path("stocks/sip/1Day/AAPL.parquet").exists());
}

#[test]
fn pyarrow_reads_the_cache_file_with_utc_timestamps_and_coverage() {
    let Some(python) = std::env::var_os("BARKEEP_TEST_PYTHON") else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping the pyarrow check");
        return;
    };
    let env = TestEnv::new();
    let csv = env.fetch_csv("AAPL -t 1Day --start 2024-01-01 --end 2024-03-31");
    let rows = parse_csv(&csv);
    let script = r#"
import json, sys
import pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
t = f.read()
meta = json.loads(f.metadata.metadata[b"barkeep"])
print(json.dumps({
    "timestamp": str(t.schema.field("timestamp").type),
    "volume": str(t.schema.field("volume").type),
    "columns": t.column_names,
    "rows": t.num_rows,
    "first": t.column("timestamp")[0].as_py().isoformat(),
    "first_close": t.column("close")[0].as_py(),
    "coverage": meta["coverage"],
    "symbol": meta["symbol"],
}))
"#;
    let path = env.series_path("stocks/sip/1Day/AAPL.parquet");
    let v: Value =
        serde_json::from_str(&crate::support::run_python(&python, script, &[&path])).unwrap();
    assert_eq!(v["timestamp"], "timestamp[ns, tz=UTC]");
    assert_eq!(v["volume"], "uint64");
    let columns = "timestamp open high low close volume trade_count vwap";
    assert_eq!(v["columns"], json!(columns.split(' ').collect::<Vec<_>>()));
    assert_eq!(v["rows"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(v["first"], "2024-01-02T05:00:00+00:00");
    assert_eq!(v["first_close"].as_f64().unwrap(), rows[0].bar.c);
    let quarter = json!([["2024-01-01T05:00:00Z", "2024-04-01T04:00:00Z"]]);
    assert_eq!(v["coverage"], quarter);
    assert_eq!(v["symbol"], "AAPL");
}

#[test]
fn requests_are_paced_by_the_rate_limit_headers_instead_of_hitting_429() {
    let env = TestEnv::new();
    let symbols = symbols("PACE", 20);
    env.add_symbols(&symbols);
    // Two requests in the bucket, refilled at five per second: the third page must wait.
    env.emu.set_rate_limit(2, 5.0);
    let line = format!(
        "{} -t 15Min --start 2024-05-01 --end 2024-05-31",
        symbols.join(" ")
    );
    env.fetch_csv(&line);
    let statuses: Vec<u16> = env.take_bar_requests().iter().map(|r| r.status).collect();
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "no 429: {statuses:?}");
}

#[test]
fn alpaca_bad_request_messages_are_shown() {
    let env = TestEnv::new();
    env.emu.inject(Fault::Status(400), 1);
    env.run("fetch AAPL --start 2024-01-01 --end 2024-01-31")
        .failure(1)
        .assert_stderr_contains("Alpaca rejected the request:");
    assert_eq!(env.take_bar_requests().len(), 1, "a 400 is not retried");
}

//! Hostile inputs and real API oddities (issue 14, items 7–10 and the smaller ones): secrets
//! in the API URL never printed, recorded corporate-action pages that differ from the spec,
//! bars under a key that was not asked for, decode errors not retried, the older 422 refusal
//! of recent data, hints on 401/403, unbounded or unprintable input refused with exit 2.

use crate::support::emulator::Fault;
use crate::support::{Run, TestEnv, d, spawn, utc};

const PASSWORD: &str = "hunter2-s3cret";

/// An answer of `status` with `body`.
fn answer(status: u16, body: &str) -> Fault {
    let body = body.to_owned();
    Fault::Body { status, body }
}

/// An answer that files the bars of `from` under `to`.
fn renamed(from: &str, to: &str) -> Fault {
    let (from, to) = (from.to_owned(), to.to_owned());
    Fault::RenameKey { from, to }
}

/// Runs `line` with `url` as the API URL.
fn run_at(env: &TestEnv, url: &str, line: &str) -> Run {
    crate::support::run(env.command(line).env("APCA_API_DATA_URL", url))
}

/// The emulator's URL with a proxy's user and password in it.
fn url_with_password(env: &TestEnv) -> String {
    env.emu
        .url()
        .replacen("http://", &format!("http://proxyuser:{PASSWORD}@"), 1)
}

#[track_caller]
fn assert_no_secret(text: &str) {
    let printed = text.contains(PASSWORD) || text.contains("proxyuser");
    assert!(!printed, "the password was printed:\n{text}");
}

#[test]
fn a_password_in_the_api_url_is_never_printed() {
    let env = TestEnv::new();
    let url = url_with_password(&env);
    // A 503 until barkeep gives up: the URL is named, without the password.
    env.emu.inject(Fault::Status(503), 50);
    for verbose in [false, true] {
        let line = format!(
            "{}fetch AAPL --start 2024-01-02 --end 2024-01-31",
            if verbose { "-v " } else { "" }
        );
        let run = run_at(&env, &url, &line).failure(1);
        assert_no_secret(&run.stderr);
        run.assert_stderr_contains("gave up on `http://***@127.0.0.1:");
        if verbose {
            run.assert_stderr_contains("GET http://***@127.0.0.1:");
        }
        run.assert_stderr_contains("HTTP 503 from Alpaca; retrying in");
    }
    // The emulator was reached through that URL.
    assert!(!env.emu.bar_requests().is_empty());
    // Help shows which variable sets the URL, not its value.
    let help = run_at(&env, &url, "fetch --help").success();
    help.assert_stdout_contains("[env: APCA_API_DATA_URL]");
    assert_no_secret(&help.stdout);

    // A network error: reqwest's own message names the URL, redacted too.
    let closed = format!("http://proxyuser:{PASSWORD}@127.0.0.1:1");
    let line = "-v fetch BTC/USD --start 2024-06-01 --end 2024-06-02";
    let run = run_at(&env, &closed, line).failure(1);
    assert_no_secret(&run.stderr);
    run.assert_stderr_contains("network error talking to Alpaca (")
        .assert_stderr_lacks("Alpaca from Alpaca")
        .assert_stderr_contains("hint: check the network connection");
}

#[test]
fn an_unusable_api_url_is_bad_usage() {
    let env = TestEnv::new();
    for url in [
        format!("http://proxyuser:{PASSWORD}@[not-an-ip"),
        "ftp://127.0.0.1/".to_owned(),
        "not a url".to_owned(),
    ] {
        let run = run_at(&env, &url, "fetch AAPL --start 2024-01-02 --end 2024-01-31").failure(2);
        assert_no_secret(&run.stderr);
        run.assert_stderr_lines(1)
            .assert_stderr_contains("--api-url (or APCA_API_DATA_URL)")
            .assert_stdout_empty();
    }
    assert!(env.emu.requests().is_empty());
    assert!(env.files().is_empty(), "the cache was touched");
}

/// The Go SDK's recorded `/v1/corporate-actions` page (ALPACA_API.md §9.16): forward splits
/// with no `id` and no `cusip`, and groups barkeep does not record. `{extra}` adds groups.
fn go_sdk_page(extra: &str) -> String {
    format!(
        r#"{{
  "corporate_actions": {{
    "forward_splits": [
      {{"due_bill_redemption_date": "2024-03-14", "ex_date": "2024-03-13", "new_rate": 5,
        "old_rate": 1, "payable_date": "2024-03-12", "process_date": "2024-03-13",
        "record_date": "2024-03-11", "symbol": "FBL"}},
      {{"due_bill_redemption_date": "2024-03-14", "ex_date": "2024-03-13", "new_rate": 6,
        "old_rate": 1, "payable_date": "2024-03-12", "process_date": "2024-03-13",
        "record_date": "2024-03-11", "symbol": "NVDL"}}
    ],
    "name_changes": [
      {{"new_symbol": "ZEO", "old_symbol": "ESAC", "process_date": "2024-03-14"}},
      {{"new_symbol": "NTRP", "old_symbol": "SASI", "process_date": "2024-03-13"}}
    ],
    "stock_mergers": [
      {{"acquiree_rate": 1, "acquiree_symbol": "FAZE", "acquirer_rate": 0.13091,
        "acquirer_symbol": "GAME", "effective_date": "2024-03-11", "payable_date": "2024-03-11",
        "process_date": "2024-03-11"}}
    ],
    "worthless_removals": [
      {{"process_date": "2024-03-12", "symbol": "EACPW"}},
      {{"process_date": "2024-03-12", "symbol": "ZSANQ"}}
    ]{extra}
  }},
  "next_page_token": null
}}"#
    )
}

/// The ledger file of `symbol`, as text.
fn ledger_text(env: &TestEnv, symbol: &str) -> String {
    let path = env
        .files()
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy() == format!("{symbol}.json"))
        })
        .unwrap_or_else(|| panic!("no ledger of {symbol} in {:?}", env.files()));
    std::fs::read_to_string(env.cache().join(path)).unwrap()
}

#[test]
fn a_recorded_corporate_actions_page_without_ids_adjusts_the_bars() {
    let env = TestEnv::new();
    env.emu.add_symbol("FBL", d("2015-01-01"));
    // Plus a record of FBL that lacks a rate: skipped with a warning naming it.
    let broken = r#",
    "reverse_splits": [{"ex_date": "2024-02-01", "old_rate": 10, "process_date": "2024-02-01", "symbol": "FBL"}]"#;
    let page = answer(200, &go_sdk_page(broken));
    env.emu.inject_corporate_actions(page, 2);
    let range = "--start 2024-03-01 --end 2024-03-20";
    let args = format!("fetch FBL --adjustment split {range}");
    let adjusted = env.run(&args).success();
    assert_eq!(env.emu.corporate_action_requests().len(), 1, "not retried");
    let lines = adjusted.stderr.lines();
    let warnings: Vec<&str> = lines.filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{}", adjusted.stderr);
    let (warning, what) = (warnings[0], "`reverse_splits` of FBL processed 2024-02-01");
    assert!(warning.contains(what), "{warning}");
    assert!(warning.contains("new_rate"), "{warning}");

    let raw = env.run(&format!("fetch FBL --offline {range}"));
    let raw = raw.success().bars_of("FBL");
    let adjusted = adjusted.bars_of("FBL");
    assert_eq!(raw.len(), adjusted.len());
    assert!(raw.len() > 10);
    let ex = utc("2024-03-13T04:00:00Z");
    for (r, a) in raw.iter().zip(&adjusted) {
        let factor = if r.t < ex { 5.0 } else { 1.0 };
        let (t, a_c, r_c) = (r.t, a.c, r.c);
        assert!((a_c - r_c / factor).abs() < 1e-4, "{t}: {a_c} vs {r_c}");
        assert_eq!(a.v, r.v * factor, "{}", r.t);
    }

    // The record without an id got one derived from its fields: asked again two days later,
    // the same split is recognised, not recorded twice.
    let id = "derived:forward_split:FBL";
    let derived = |env: &TestEnv| ledger_text(env, "FBL").matches(id).count();
    assert_eq!(derived(&env), 1, "{}", ledger_text(&env, "FBL"));
    env.emu.set_now(utc("2024-06-17T20:30:00Z"));
    env.run(&args).success();
    assert_eq!(env.emu.corporate_action_requests().len(), 2);
    assert_eq!(derived(&env), 1, "{}", ledger_text(&env, "FBL"));
}

#[test]
fn a_corporate_actions_answer_that_cannot_be_read_is_not_retried_and_blocks_only_its_symbols() {
    let env = TestEnv::new();
    let range = "--start 2024-05-01 --end 2024-05-31";
    // MSFT's ledger is recorded, then gets two days old.
    let msft = format!("fetch MSFT --adjustment split {range}");
    env.run(&msft).success();
    env.emu.set_now(utc("2024-06-17T20:30:00Z"));
    env.emu.clear_requests();

    // AAPL has no ledger and its refresh (the first request: the oldest start) gets an answer
    // of the wrong shape; MSFT's refresh fails the same way.
    let wrong_shape = answer(200, r#"{"corporate_actions": [], "next_page_token": null}"#);
    env.emu.inject_corporate_actions(wrong_shape.clone(), 2);
    let run = env
        .run(&format!("fetch AAPL MSFT --adjustment split {range}"))
        .failure(1);
    let asked = env.emu.corporate_action_requests().len();
    assert_eq!(asked, 2, "one per group, no retry");
    run.assert_stderr_contains("could not get the corporate actions of AAPL,")
        .assert_stderr_lacks("of AAPL, MSFT")
        .assert_stderr_contains("could not be read")
        .assert_stderr_lacks("network")
        .assert_stdout_empty();
    // What was fetched is kept: the raw bars of both are in the cache.
    let offline = env.run(&format!("fetch AAPL MSFT --offline {range}"));
    let offline = offline.success();
    assert!(!offline.bars_of("AAPL").is_empty());
    assert!(!offline.bars_of("MSFT").is_empty());

    // MSFT alone: adjusted with its ledger as last recorded, and a warning says so.
    env.emu.inject_corporate_actions(wrong_shape, 1);
    let run = env.run(&msft).success();
    run.assert_stderr_contains("warning: could not check the corporate actions of MSFT");
    assert!(!run.rows().is_empty());
}

#[test]
fn bars_that_cannot_be_read_are_not_retried() {
    let env = TestEnv::new();
    let body = r#"{"bars":{"AAPL":[{"t":"2024-01-02T05:00:00Z","c":1}]},"next_page_token":null}"#;
    env.emu.inject(answer(200, body), 1);
    let run = env
        .run("fetch AAPL --start 2024-01-02 --end 2024-01-31")
        .failure(1);
    assert_eq!(env.take_bar_requests().len(), 1);
    run.assert_stderr_contains("could not be read");
    run.assert_stderr_lacks("hint: check the network");
}

#[test]
fn bars_under_another_spelling_leave_the_range_unfetched() {
    let env = TestEnv::new();
    let args = "fetch BTC/USD --start 2024-06-01 --end 2024-06-10";
    env.emu.inject(renamed("BTC/USD", "BTCUSD"), 1);
    let run = env.run(args).success();
    assert!(run.rows().is_empty());
    run.assert_stderr_contains("warning: Alpaca answered bars under `BTCUSD`")
        .assert_stderr_contains("BTC/USD stays unfetched");
    assert_eq!(env.take_bar_requests().len(), 1);
    // Nothing was marked as fetched: the next run asks, and gets the bars.
    let run = env.run(args).success();
    assert_eq!(env.take_bar_requests().len(), 1);
    assert_eq!(run.bars_of("BTC/USD").len(), 10);

    // Two symbols, one answered under another key: the other is recorded as usual.
    let args = "fetch AAPL MSFT --start 2024-01-02 --end 2024-01-31";
    env.emu.inject(renamed("MSFT", "MSFT.OLD"), 1);
    assert!(env.run(args).success().bars_of("MSFT").is_empty());
    env.take_bar_requests();
    env.run(args).success();
    let again = env.take_bar_requests();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].symbols(), vec!["MSFT"]);

    // A symbol absent because it had no bars (NEWCO lists on 2024-03-15) is normal: covered.
    let args = "fetch AAPL NEWCO --start 2024-02-01 --end 2024-02-29";
    let run = env.run(args).success();
    run.assert_stderr_lacks("warning");
    env.take_bar_requests();
    env.run(args).success();
    assert!(env.take_bar_requests().is_empty());
}

#[test]
fn the_older_422_refusal_of_recent_data_moves_the_end_back() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-14T15:00:30Z"));
    let refusal = r#"{"code":42210000,"message":"your subscription does not permit querying data from the past 15 minutes"}"#;
    env.emu.inject(answer(422, refusal), 1);
    let run = env.run("fetch SPY -t 1Min --start 2024-06-14").success();
    let requests = env.take_bar_requests();
    assert_eq!(
        requests.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![422, 200]
    );
    assert!(utc(requests[1].param("end").unwrap()) <= utc("2024-06-14T14:45:30Z"));
    run.assert_stderr_contains("last 15 minutes");
    assert!(run.rows().last().unwrap().t <= utc("2024-06-14T14:45:30Z"));
}

#[test]
fn refused_keys_get_a_hint_from_update_and_fetch() {
    let env = TestEnv::new();
    env.emu.inject(Fault::Unauthorized, 50);
    env.emu.inject_corporate_actions(Fault::Unauthorized, 50);
    let run = env.run("update AAPL").failure(1);
    let last = run.stderr.lines().last().unwrap();
    assert!(last.starts_with("hint: check APCA_API_KEY_ID"), "{run}");

    let forbidden = answer(403, r#"{"message": "forbidden."}"#);
    let env = TestEnv::new();
    env.emu.inject(forbidden.clone(), 50);
    env.run("fetch AAPL --start 2024-01-02 --end 2024-01-31")
        .failure(1)
        .assert_stderr_contains("forbidden.")
        .assert_stderr_contains("hint: check APCA_API_KEY_ID");

    // Only the ledgers fail: update still names the keys.
    let env = TestEnv::new();
    env.emu.inject_corporate_actions(forbidden, 50);
    env.run("update AAPL")
        .failure(1)
        .assert_stderr_contains("1 series updated")
        .assert_stderr_contains("hint: check APCA_API_KEY_ID");
}

#[test]
fn a_symbols_file_without_end_is_refused_at_once() {
    let env = TestEnv::new();
    env.run("update --symbols-file /dev/zero")
        .failure(2)
        .assert_stderr_contains("larger than 1 MiB")
        .assert_stderr_lines(1);

    let many = env.dir.path().join("many.txt");
    std::fs::write(&many, "#\n".repeat(100_001)).unwrap();
    env.run(&format!("update --symbols-file '{}'", many.display()))
        .failure(2)
        .assert_stderr_contains("more than 100,000 lines");

    // The same limit on stdin.
    spawn(
        env.command("update --symbols-file -")
            .stdin(std::fs::File::open("/dev/zero").unwrap()),
    )
    .wait()
    .failure(2);
    assert!(env.emu.requests().is_empty());
    assert!(env.files().is_empty(), "the cache was touched");
}

#[test]
fn bad_symbols_are_echoed_short_and_escaped() {
    let env = TestEnv::new();
    let long = "A".repeat(10_000);
    let run = env.run(&format!("fetch {long}")).failure(2);
    assert!(run.stderr.len() < 400, "{}", run.stderr);
    run.assert_stderr_contains("(10000 characters)");

    let hostile = "A\u{1b}]0;pwned\u{7}\u{1b}[2J";
    let run = env.run(&format!("fetch {hostile}")).failure(2);
    let stderr = &run.stderr;
    let controls = stderr.trim_end().chars().any(char::is_control);
    assert!(!controls, "{stderr:?}");
    let escaped = "error: invalid value 'A\\u{1b}]0;pwned\\u{7}\\u{1b}[2J' for";
    assert!(stderr.starts_with(escaped), "{stderr}");

    // Whatever `update` does with a bad line, it never repeats it raw.
    let file = env.dir.path().join("watchlist.txt");
    std::fs::write(&file, format!("AAPL\n{hostile}\n")).unwrap();
    let run = env.run(&format!("update --symbols-file '{}'", file.display()));
    let stray = run.stderr.chars().any(|c| c.is_control() && c != '\n');
    assert!(!stray, "{:?}", run.stderr);
}

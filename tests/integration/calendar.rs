//! The market calendar: no bar request where no session can exist, a session settled as soon
//! as its after-hours end, `inspect --gaps`, `inspect --calendar`, and the calendar checked
//! against `exchange_calendars`' XNYS.

use serde_json::{Value, json};

use crate::support::emulator::RecordedRequest;
use crate::support::{TestEnv, assert_asked, d, run_python, test_python, utc};

/// Sets the clock (a UTC instant) and runs a quiet `update`; returns the bar requests made.
fn update_at(env: &TestEnv, now: &str) -> Vec<RecordedRequest> {
    env.emu.set_now(utc(now));
    env.run("update -q").success();
    env.take_bar_requests()
}

fn coverage(env: &TestEnv, symbol: &str, timeframe: &str) -> Value {
    let line = format!("inspect {symbol} -t {timeframe} --format json");
    let info: Value = env.run(&line).success().json();
    info[0]["coverage"].clone()
}

#[test]
fn a_daily_series_updated_on_friday_night_asks_nothing_on_the_weekend() {
    let env = TestEnv::new();
    // Friday 2024-06-14, 22:30 New York.
    env.emu.set_now(utc("2024-06-15T02:30:00Z"));
    env.run("fetch -q AAPL MSFT --start 2024-06-03").success();
    assert_eq!(env.take_bar_requests().len(), 1);
    // Friday's bar is settled: 20:00 plus the settle window has passed.
    let span = json!([["2024-06-03T04:00:00Z", "2024-06-15T04:00:00Z"]]);
    assert_eq!(coverage(&env, "AAPL", "1Day"), span);
    // (The corporate-actions ledgers are refreshed on every update; the series are not.)
    let series = |env: &TestEnv| {
        let mut files = env.snapshot();
        files.retain(|path, _| path.extension().is_some_and(|e| e == "parquet"));
        files
    };
    let before = series(&env);
    let saturday = update_at(&env, "2024-06-15T16:00:00Z");
    assert!(saturday.is_empty(), "Saturday");
    assert!(update_at(&env, "2024-06-16T16:00:00Z").is_empty(), "Sunday");
    let unchanged = series(&env) == before;
    assert!(unchanged, "no series rewritten for a closed market");

    // The plan says why there is nothing to ask.
    env.run("update --dry-run")
        .success()
        .assert_stdout_contains("no session: not asked")
        .assert_stdout_contains("0 of 2 series need data (2 more miss only time without a market session); 0 requests planned");
    let report: Value = env.run("update --dry-run --report json").success().json();
    assert_eq!(report["series"][0]["ranges"], json!([]));
    let span = json!([["2024-06-15T04:00:00Z", "2024-06-17T04:00:00Z"]]);
    assert_eq!(report["series"][0]["no_session_ranges"], span);

    // Monday night: Monday only, and the weekend is recorded as covered with it.
    assert_asked(
        &update_at(&env, "2024-06-18T02:30:00Z"),
        &[("2024-06-17T04:00:00Z", "2024-06-18T03:59:59.999999999Z")],
    );
    let span = json!([["2024-06-03T04:00:00Z", "2024-06-18T04:00:00Z"]]);
    assert_eq!(coverage(&env, "AAPL", "1Day"), span);
}

#[test]
fn a_night_update_settles_the_day_so_the_morning_asks_nothing() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-10T02:30:00Z"));
    env.run("fetch -q AAPL --start 2024-06-03").success();
    env.take_bar_requests();
    // Tuesday 22:30 New York, then Wednesday 06:00.
    assert_asked(
        &update_at(&env, "2024-06-12T02:30:00Z"),
        &[("2024-06-10T04:00:00Z", "2024-06-12T03:59:59.999999999Z")],
    );
    let span = json!([["2024-06-03T04:00:00Z", "2024-06-12T04:00:00Z"]]);
    assert_eq!(coverage(&env, "AAPL", "1Day"), span);
    assert!(update_at(&env, "2024-06-12T10:00:00Z").is_empty(), "06:00");
    // At 22:30 the 20:00 close is not settled for 15 minutes: 20:10 still asks next time.
    assert_eq!(update_at(&env, "2024-06-13T00:10:00Z").len(), 1);
    assert_eq!(update_at(&env, "2024-06-13T02:30:00Z").len(), 1);
    assert!(update_at(&env, "2024-06-13T10:00:00Z").is_empty());
}

#[test]
fn holidays_and_special_closures_cost_no_request() {
    let env = TestEnv::new();
    // (the night before, the holiday's night), New York 22:30 or 17:30 after an early close.
    let cases = [
        // Good Friday 2024 and its weekend.
        ("2024-03-28", "2024-03-29T02:30:00Z", "2024-03-30T02:30:00Z"),
        // Thanksgiving 2024.
        ("2024-11-20", "2024-11-28T03:30:00Z", "2024-11-29T03:30:00Z"),
        // Christmas 2024, after the Christmas Eve early close (17:00) had settled.
        ("2024-12-16", "2024-12-24T22:30:00Z", "2024-12-26T03:30:00Z"),
        // The National Day of Mourning of 2025-01-09.
        ("2025-01-02", "2025-01-09T03:30:00Z", "2025-01-10T03:30:00Z"),
    ];
    for (start, before, holiday) in cases {
        let _ = std::fs::remove_dir_all(env.cache());
        env.emu.set_now(utc(before));
        env.run(&format!("fetch -q AAPL --start {start}")).success();
        assert_eq!(env.take_bar_requests().len(), 1, "{start}");
        assert!(update_at(&env, holiday).is_empty(), "{holiday}");
    }
    // Good Friday's weekend after it asks nothing either; Thanksgiving's early close is
    // settled at 17:30.
    let _ = std::fs::remove_dir_all(env.cache());
    env.emu.set_now(utc("2024-11-28T03:30:00Z"));
    env.run("fetch -q AAPL --start 2024-11-20").success();
    env.take_bar_requests();
    assert_asked(
        &update_at(&env, "2024-11-29T22:30:00Z"),
        &[("2024-11-29T05:00:00Z", "2024-11-30T04:59:59.999999999Z")],
    );
    assert!(update_at(&env, "2024-11-30T15:00:00Z").is_empty());
    assert!(update_at(&env, "2024-12-01T15:00:00Z").is_empty());
}

#[test]
fn two_nightly_minute_updates_ask_only_for_the_session_between_them() {
    let env = TestEnv::new();
    // Monday 2024-06-10, 22:30 New York.
    env.emu.set_now(utc("2024-06-11T02:30:00Z"));
    env.run("fetch -q AAPL -t 1Min --start 2024-06-10")
        .success();
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-06-10T08:00:00Z", "2024-06-10T23:59:59.999999999Z")],
    );
    // Tuesday 22:30: Tuesday's 04:00-20:00 only, not the night before or after.
    assert_asked(
        &update_at(&env, "2024-06-12T02:30:00Z"),
        &[("2024-06-11T08:00:00Z", "2024-06-11T23:59:59.999999999Z")],
    );
    let span = json!([["2024-06-10T04:00:00Z", "2024-06-12T02:30:00Z"]]);
    assert_eq!(coverage(&env, "AAPL", "1Min"), span);
    // The night between sessions: nothing to ask.
    assert!(update_at(&env, "2024-06-12T07:00:00Z").is_empty());
}

#[test]
fn a_week_of_minute_bars_asks_only_for_its_sessions() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-20T12:00:00Z"));
    // Saturday to Sunday: the request runs from Monday 04:00 to Friday 20:00 New York.
    let week = "fetch AAPL -t 1Min --start 2024-06-08 --end 2024-06-16";
    let out = env.run(week).success();
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-06-10T08:00:00Z", "2024-06-14T23:59:59.999999999Z")],
    );
    let days: std::collections::BTreeSet<String> = out
        .rows()
        .iter()
        .map(|r| r.t.format("%F").to_string())
        .collect();
    assert_eq!(days.len(), 5, "Monday to Friday: {days:?}");
    // The whole week, weekends included, is now covered.
    env.run(week).success();
    assert!(env.take_bar_requests().is_empty());
    // Over Juneteenth 2024 (Wednesday): the holiday stays inside the one request, the
    // weekend around it does not.
    env.run("fetch -q AAPL -t 1Min --start 2024-06-15 --end 2024-06-19")
        .success();
    assert_asked(
        &env.take_bar_requests(),
        &[("2024-06-17T08:00:00Z", "2024-06-18T23:59:59.999999999Z")],
    );
}

#[test]
fn inspect_gaps_finds_a_session_missing_from_a_liquid_symbol() {
    let env = TestEnv::new();
    env.emu.remove_session("AAPL", d("2024-06-12"));
    env.run("fetch -q AAPL MSFT --start 2024-06-03 --end 2024-06-14")
        .success();
    env.run("fetch -q AAPL -t 1Min --start 2024-06-10 --end 2024-06-13")
        .success();
    let out = env.run("inspect --gaps --format json").success();
    let report: Value = out.json();
    let series = report.as_array().unwrap();
    let sessions = |symbol: &str, tf: &str| {
        let s = series
            .iter()
            .find(|s| s["symbol"] == symbol && s["timeframe"] == tf);
        s.unwrap()["sessions_without_bars"].clone()
    };
    let june_12 = json!([{
        "date": "2024-06-12",
        "start": "2024-06-12T08:00:00Z",
        "end": "2024-06-13T00:00:00Z",
    }]);
    assert_eq!(sessions("AAPL", "1Day"), june_12);
    assert_eq!(sessions("AAPL", "1Min"), june_12);
    assert_eq!(sessions("MSFT", "1Day"), json!([]));
    out.assert_stderr_contains("2 sessions without a bar in 3 stock series");

    // CSV (the default off a terminal), one series, a date range.
    let csv = env.run("inspect AAPL -t 1Day --gaps").success();
    assert_eq!(
        csv.stdout,
        "symbol,feed,timeframe,date,start,end\nAAPL,sip,1Day,2024-06-12,2024-06-12T08:00:00Z,2024-06-13T00:00:00Z\n"
    );
    for line in [
        "inspect AAPL -t 1Day --gaps --start 2024-06-13",
        "inspect MSFT --gaps",
    ] {
        let header_only = env.run(line).success().stdout;
        assert_eq!(header_only.lines().count(), 1, "{line}: {header_only}");
    }
}

#[test]
fn inspect_calendar_prints_the_sessions() {
    let env = TestEnv::new();
    let out = env.run("inspect --calendar --start 2024-12-20 --end 2025-01-10 --format table");
    let out = out.success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    // 16 weekdays: 13 sessions, Christmas, New Year's Day and 2025-01-09.
    assert_eq!(lines.len(), 1 + 16, "{}", out.stdout);
    let eve = "2024-12-24  Tue  early_close  04:00     09:30  13:00  17:00       early close";
    assert!(lines.contains(&eve), "{}", out.stdout);
    let christmas =
        |l: &&str| l.starts_with("2024-12-25  Wed  closed") && l.ends_with("Christmas Day");
    assert!(lines.iter().any(christmas));
    let mourning = |l: &&str| l.starts_with("2025-01-09  Thu  closed");
    assert!(lines.iter().any(mourning));
    assert!(lines.contains(&"2024-12-20  Fri  open         04:00     09:30  16:00  20:00"));
    assert!(!env.cache().exists(), "the calendar needs no cache");

    let days = env.run("inspect --calendar --start 2024-11-29 --end 2024-11-29 --format json");
    let days: Value = days.success().json();
    assert_eq!(
        days,
        json!([{
            "date": "2024-11-29",
            "weekday": "Fri",
            "status": "early_close",
            "pre_open": "2024-11-29T09:00:00Z",
            "open": "2024-11-29T14:30:00Z",
            "close": "2024-11-29T18:00:00Z",
            "post_close": "2024-11-29T22:00:00Z",
            "holiday": null,
        }])
    );

    env.run("inspect --calendar --start 2031-01-02")
        .failure(2)
        .assert_stderr_contains("2016 to 2030");
    env.run("inspect --start 2024-01-02")
        .failure(2)
        .assert_stderr_contains("--calendar");
}

#[test]
fn past_the_calendar_alpaca_is_asked_as_before_and_a_note_says_so_once() {
    let env = TestEnv::new();
    let out = env.run("fetch AAPL MSFT -t 1Day --start 2015-12-30 --end 2016-01-04");
    let out = out.success();
    let notes = out
        .stderr
        .matches("the market calendar covers 2016 to 2030");
    assert_eq!(notes.count(), 1, "{}", out.stderr);
    // Asked whole: from 2015-12-30 (not trimmed).
    let requests = env.take_bar_requests();
    assert!(!requests.is_empty());
    let whole = |r: &RecordedRequest| {
        r.param("start")
            .is_some_and(|s| s.starts_with("2015-12-30"))
    };
    assert!(requests.iter().all(whole), "{requests:?}");
}

/// Every session and early close of 2016-2030 equals `exchange_calendars`' XNYS (regular
/// hours; barkeep's extended hours are 04:00 to 20:00, or 17:00 on an early close).
#[test]
fn the_calendar_equals_exchange_calendars_xnys() {
    let env = TestEnv::new();
    let out = env.run("inspect --calendar --start 2016-01-01 --end 2030-12-31 --format json");
    let out = out.success();
    let days: Value = out.json();
    assert!(days.as_array().unwrap().len() > 3700);
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping exchange_calendars");
        return;
    };
    let path = env.dir.path().join("calendar.json");
    std::fs::write(&path, &out.stdout).unwrap();
    let script = r#"
import json, sys
import exchange_calendars as xc
import pandas as pd
days = json.load(open(sys.argv[1]))
ours = {d["date"]: d for d in days if d["status"] != "closed"}
cal = xc.get_calendar("XNYS", start="2016-01-01", end="2030-12-31")
sessions = cal.sessions
theirs = {s.strftime("%Y-%m-%d") for s in sessions}
assert set(ours) == theirs, (sorted(set(ours) - theirs), sorted(theirs - set(ours)))
def utc(t):
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
early = {s.strftime("%Y-%m-%d") for s in cal.early_closes if "2016" <= s.strftime("%Y") <= "2030"}
ours_early = {d for d, v in ours.items() if v["status"] == "early_close"}
assert ours_early == early, (sorted(ours_early ^ early))
for s in sessions:
    d = ours[s.strftime("%Y-%m-%d")]
    assert d["open"] == utc(cal.session_open(s)), (d, cal.session_open(s))
    assert d["close"] == utc(cal.session_close(s)), (d, cal.session_close(s))
print(len(theirs), len(early))
"#;
    let counts = run_python(&python, script, &[&path]);
    let compared = counts.trim();
    assert_eq!(compared, "3769 32", "sessions and early closes compared");
}

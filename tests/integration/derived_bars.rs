//! Derived bars (issue #22): `fetch --from 1Min` against the emulator's own coarser bars
//! (built from its minutes with Alpaca's buckets), `--session regular` against an independent
//! polars oracle over the emulator's minutes, split adjustment, crypto, the usage errors,
//! `--offline` with a hole, provisional notes, and nothing stored but the 1Min series.
//!
//! The span 2023-11-01 to 2023-11-24 holds a DST switch (2023-11-05), a holiday
//! (Thanksgiving, 2023-11-23) and an early close (2023-11-24, 13:00 New York).

use chrono::{DateTime, TimeDelta, Utc};

use crate::support::emulator::EmuBar;
use crate::support::emulator::calendar;
use crate::support::{TestEnv, d, parse_csv, run_python, test_python, utc};

const SPAN: (&str, &str) = ("2023-11-01", "2023-11-24");

/// The emulator's bars of the New York days `first..=last` in `timeframe` and `feed`.
fn emulator_bars(
    env: &TestEnv,
    symbol: &str,
    timeframe: &str,
    (first, last): (&str, &str),
    feed: &str,
) -> Vec<EmuBar> {
    let midnight = |date: &str| calendar::new_york(d(date), 0, 0);
    let end = midnight(last) + TimeDelta::days(1) - TimeDelta::nanoseconds(1);
    env.emu.bars(symbol, timeframe, midnight(first), end, feed)
}

/// Same bars: timestamps, OHLC, volume and trade count exactly; vwap within 1e-6 relative;
/// crypto volume (summed fractions) within 1e-9 relative.
#[track_caller]
fn assert_same_bars(got: &[EmuBar], want: &[EmuBar], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: bar count");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.t, w.t, "{what}");
        assert_eq!(
            (g.o, g.h, g.l, g.c, g.n),
            (w.o, w.h, w.l, w.c, w.n),
            "{what} at {}",
            g.t
        );
        assert!(
            (g.v - w.v).abs() <= 1e-9 * w.v.abs(),
            "{what}: volume at {}: {} vs {}",
            g.t,
            g.v,
            w.v
        );
        assert!(
            (g.vw - w.vw).abs() <= 1e-6 * w.vw.abs(),
            "{what}: vwap at {}: {} vs {}",
            g.t,
            g.vw,
            w.vw
        );
    }
}

fn csv_bars(text: &str, symbol: &str) -> Vec<EmuBar> {
    crate::support::bars_of(&parse_csv(text), symbol)
}

#[test]
fn bars_from_1min_equal_alpacas_own_bars_and_a_second_run_asks_nothing() {
    let env = TestEnv::new();
    let symbols = ["AAPL", "MSFT", "SPY"];
    // SIP drops a few regular minutes and half the extended ones; IEX, the thin feed, drops
    // far more: both have missing minutes inside the buckets.
    for feed in ["sip", "iex"] {
        let minutes = emulator_bars(&env, "SPY", "1Min", SPAN, feed);
        let sessions = 17; // 18 weekdays, Thanksgiving closed
        assert!(
            minutes.len() < sessions * 960 * 3 / 4,
            "{feed}: minutes are missing"
        );
        for (i, timeframe) in ["5Min", "1Hour", "4Hour", "7Min"].into_iter().enumerate() {
            let line = format!(
                "{} -t {timeframe} --from 1Min --start {} --end {} --feed {feed}",
                symbols.join(" "),
                SPAN.0,
                SPAN.1
            );
            let out = env.fetch_csv(&line);
            let requests = env.take_bar_requests();
            if i == 0 {
                assert!(!requests.is_empty(), "the first run fills the 1Min series");
                assert!(
                    requests
                        .iter()
                        .all(|r| r.param("timeframe") == Some("1Min")),
                    "only 1Min bars are asked for"
                );
            } else {
                assert_eq!(
                    requests.len(),
                    0,
                    "{timeframe} {feed}: built from the cache"
                );
            }
            for symbol in symbols {
                let want = emulator_bars(&env, symbol, timeframe, SPAN, feed);
                assert!(want.len() > 50, "{symbol} {timeframe}");
                let got = csv_bars(&out, symbol);
                assert_same_bars(&got, &want, &format!("{symbol} {timeframe} {feed}"));
            }
            // Again: the same bytes, no request.
            assert_eq!(env.fetch_csv(&line), out);
            assert_eq!(env.take_bar_requests().len(), 0);
        }
    }
    // Only the 1Min series are stored.
    let files: Vec<String> = env
        .files()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".parquet"))
        .collect();
    assert_eq!(files.len(), 6, "{files:?}");
    assert!(files.iter().all(|p| p.contains("/1Min/")), "{files:?}");
}

/// The regular-session bars barkeep prints, with the open and close of each session.
fn regular(env: &TestEnv, symbol: &str, timeframe: &str, (first, last): (&str, &str)) -> String {
    env.fetch_csv(&format!(
        "{symbol} -t {timeframe} --session regular --start {first} --end {last}"
    ))
}

#[test]
fn regular_hours_start_at_the_open_and_the_last_one_is_cut_at_the_close() {
    let env = TestEnv::new();
    let out = regular(&env, "AAPL", "1Hour", SPAN);
    let bars = csv_bars(&out, "AAPL");
    let hours = |date: &str| -> Vec<String> {
        bars.iter()
            .filter(|b| calendar::new_york_date(b.t) == d(date))
            .map(|b| {
                b.t.with_timezone(&chrono_tz::America::New_York)
                    .format("%H:%M")
                    .to_string()
            })
            .collect()
    };
    let full = [
        "09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30",
    ];
    // Before and after the DST switch: the same New York hours.
    assert_eq!(hours("2023-11-03"), full);
    assert_eq!(hours("2023-11-06"), full);
    // The early close: the last hour is 12:30-13:00.
    assert_eq!(hours("2023-11-24"), ["09:30", "10:30", "11:30", "12:30"]);
    // Thanksgiving and the weekend have no bar.
    assert!(hours("2023-11-23").is_empty());
    assert!(hours("2023-11-04").is_empty());
    // The cut last hour holds only the minutes 15:30-15:59 of the emulator.
    let session = calendar::session(d("2023-11-06")).unwrap();
    let minutes = env.emu.bars(
        "AAPL",
        "1Min",
        session.close - TimeDelta::minutes(30),
        session.close - TimeDelta::seconds(1),
        "sip",
    );
    let last = bars
        .iter()
        .find(|b| b.t == session.close - TimeDelta::minutes(30))
        .unwrap();
    assert_eq!(last.c, minutes.last().unwrap().c);
    assert_eq!(last.v, minutes.iter().map(|m| m.v).sum::<f64>());
    // Only 1Min bars were asked for; 1Day regular needs nothing more.
    assert!(
        env.take_bar_requests()
            .iter()
            .all(|r| r.param("timeframe") == Some("1Min"))
    );
    let days = regular(&env, "AAPL", "1Day", SPAN);
    assert_eq!(env.take_bar_requests().len(), 0);
    let days = csv_bars(&days, "AAPL");
    assert_eq!(days.len(), 17, "one bar per session");
    for day in &days {
        let session = calendar::session(calendar::new_york_date(day.t)).unwrap();
        assert_eq!(day.t, session.open, "stamped at the session's open");
    }
    // The table shows them by their date.
    let table = env
        .run(&format!(
            "fetch AAPL -t 1Day --session regular --start {} --end {} --format table",
            SPAN.0, SPAN.1
        ))
        .success();
    table
        .assert_stdout_contains("2023-11-24")
        .assert_stdout_lacks("2023-11-24T");
    assert_eq!(env.take_bar_requests().len(), 0);
}

#[test]
fn a_special_closure_has_no_regular_bar() {
    let env = TestEnv::new();
    let out = regular(&env, "SPY", "1Day", ("2018-12-04", "2018-12-06"));
    let dates: Vec<_> = csv_bars(&out, "SPY")
        .iter()
        .map(|b| calendar::new_york_date(b.t).to_string())
        .collect();
    assert_eq!(dates, ["2018-12-04", "2018-12-06"]);
}

/// polars over the emulator's 1Min bars: the oracle of `--session regular`.
const POLARS_ORACLE: &str = r#"
import sys
import polars as pl
minutes_csv, sessions_csv, every, offset = sys.argv[1:5]
ny = "America/New_York"
m = pl.read_csv(minutes_csv, try_parse_dates=True).with_columns(
    pl.col("timestamp").dt.convert_time_zone(ny).alias("local")
).with_columns(pl.col("local").dt.date().alias("date"))
s = pl.read_csv(sessions_csv, try_parse_dates=True).select(
    pl.col("date"),
    pl.col("open").dt.convert_time_zone(ny).alias("s_open"),
    pl.col("close").dt.convert_time_zone(ny).alias("s_close"),
)
m = m.join(s, on="date").filter(
    (pl.col("local") >= pl.col("s_open")) & (pl.col("local") < pl.col("s_close"))
).sort("local")
aggs = [
    pl.col("open").first().alias("o"), pl.col("high").max().alias("h"),
    pl.col("low").min().alias("l"), pl.col("close").last().alias("c"),
    pl.col("volume").sum().alias("v"), pl.col("trade_count").sum().alias("n"),
    ((pl.col("vwap") * pl.col("volume")).sum() / pl.col("volume").sum()).alias("vw"),
]
if every == "1d":
    out = m.group_by("date", maintain_order=True).agg(aggs).with_columns(
        pl.col("date").cast(pl.String).alias("key")
    )
else:
    out = m.group_by_dynamic("local", every=every, offset=offset, group_by="date").agg(aggs).with_columns(
        pl.col("local").dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("key")
    )
out = out.with_columns(pl.col("vw").clip(pl.col("l"), pl.col("h")))
for r in out.sort("key").iter_rows(named=True):
    print(r["key"], repr(r["o"]), repr(r["h"]), repr(r["l"]), repr(r["c"]), r["v"], r["n"], repr(r["vw"]))
"#;

#[test]
fn regular_session_bars_equal_a_polars_oracle() {
    let env = TestEnv::new();
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping the polars oracle");
        return;
    };
    let span = format!("--start {} --end {}", SPAN.0, SPAN.1);
    let minutes = env.dir.path().join("minutes.csv");
    let minutes_csv = env.fetch_csv(&format!("MSFT -t 1Min {span}"));
    std::fs::write(&minutes, &minutes_csv).unwrap();
    env.take_bar_requests();
    // The sessions from the emulator's own calendar (not barkeep's).
    let mut sessions = String::from("date,open,close\n");
    for date in d(SPAN.0).iter_days().take_while(|x| *x <= d(SPAN.1)) {
        if let Some(s) = calendar::session(date) {
            let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            sessions += &format!("{date},{},{}\n", f(s.open), f(s.close));
        }
    }
    let sessions_path = env.dir.path().join("sessions.csv");
    std::fs::write(&sessions_path, sessions).unwrap();
    // 1h windows truncate to the hour: offset 30m puts them at 09:30; 09:30 is a multiple of
    // 15 minutes already.
    for (timeframe, every, offset) in [
        ("1Hour", "1h", "30m"),
        ("15Min", "15m", "0m"),
        ("1Day", "1d", "0m"),
    ] {
        let out = regular(&env, "MSFT", timeframe, SPAN);
        assert_eq!(env.take_bar_requests().len(), 0, "1Min already cached");
        let (every, offset) = (std::path::Path::new(every), std::path::Path::new(offset));
        let oracle = run_python(
            &python,
            POLARS_ORACLE,
            &[&minutes, &sessions_path, every, offset],
        );
        let ours: Vec<String> = parse_csv(&out)
            .iter()
            .map(|r| {
                let key = if timeframe == "1Day" {
                    calendar::new_york_date(r.t).to_string()
                } else {
                    r.t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                };
                let b = &r.bar;
                format!(
                    "{key} {:?} {:?} {:?} {:?} {} {}",
                    b.o, b.h, b.l, b.c, b.v, b.n
                )
            })
            .collect();
        let theirs: Vec<(String, f64)> = oracle
            .lines()
            .map(|l| {
                let (rest, vw) = l.rsplit_once(' ').unwrap();
                (rest.to_owned(), vw.parse().unwrap())
            })
            .collect();
        assert_eq!(ours.len(), theirs.len(), "{timeframe}: bar count");
        assert!(ours.len() >= 17, "{timeframe}: at least a bar per session");
        for ((line, row), (want, vw)) in ours.iter().zip(parse_csv(&out)).zip(&theirs) {
            assert_eq!(line, want, "{timeframe}");
            assert!(
                (row.bar.vw - vw).abs() <= 1e-9 * vw.abs(),
                "{timeframe} vwap {line}"
            );
        }
        if timeframe == "1Hour" {
            assert!(
                theirs
                    .iter()
                    .any(|(l, _)| l.starts_with("2023-11-24T17:30:00Z"))
            );
            assert!(!theirs.iter().any(|(l, _)| l.starts_with("2023-11-23")));
        }
    }
}

#[test]
fn split_adjusted_derived_bars_equal_alpacas_adjusted_bars() {
    let env = TestEnv::new();
    // ACME splits 3-for-1 on 2022-08-22.
    let (first, last) = ("2022-08-18", "2022-08-23");
    let out = env.fetch_csv(&format!(
        "ACME -t 1Hour --from 1Min --start {first} --end {last} --adjustment split"
    ));
    let got = csv_bars(&out, "ACME");
    let midnight = |date: &str| calendar::new_york(d(date), 0, 0);
    let end = midnight(last) + TimeDelta::days(1) - TimeDelta::nanoseconds(1);
    let want = env
        .emu
        .bars_adjusted("ACME", "1Hour", midnight(first), end, "sip", "split");
    let raw = emulator_bars(&env, "ACME", "1Hour", (first, last), "sip");
    assert_ne!(want, raw, "the split changes the earlier bars");
    assert_eq!(got.len(), want.len());
    // Alpaca rounds adjusted prices to 2 decimals, barkeep to 4. Volumes: barkeep adjusts
    // each minute (x 1.5 with the later 1-for-2 reverse split), rounds it, then sums; Alpaca
    // rounds the hour's sum: at most half a share per minute apart.
    let minutes = csv_bars(
        &env.fetch_csv(&format!(
            "ACME -t 1Min --start {first} --end {last} --adjustment split"
        )),
        "ACME",
    );
    let tolerance = 0.005 + 0.000_05 + 1e-9;
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.t, w.t);
        for (a, b) in [(g.o, w.o), (g.h, w.h), (g.l, w.l), (g.c, w.c), (g.vw, w.vw)] {
            assert!((a - b).abs() <= tolerance, "at {}: {a} vs {b}", g.t);
        }
        let inside: Vec<&EmuBar> = minutes
            .iter()
            .filter(|m| g.t <= m.t && m.t < g.t + TimeDelta::hours(1))
            .collect();
        assert_eq!(g.v, inside.iter().map(|m| m.v).sum::<f64>(), "at {}", g.t);
        assert!((g.v - w.v).abs() <= 0.5 * inside.len() as f64, "at {}", g.t);
        assert_eq!(g.n, w.n, "at {}", g.t);
    }
}

#[test]
fn crypto_bars_from_1min_equal_alpacas_and_regular_session_is_refused() {
    let env = TestEnv::new();
    let out = env.fetch_csv("BTC/USD -t 15Min --from 1Min --start 2024-06-10 --end 2024-06-11");
    let (start, end) = (utc("2024-06-10T00:00:00Z"), utc("2024-06-11T23:59:59Z"));
    let want = env.emu.bars("BTC/USD", "15Min", start, end, "sip");
    assert_eq!(want.len(), 192);
    assert_same_bars(&csv_bars(&out, "BTC/USD"), &want, "BTC/USD 15Min");
    env.take_bar_requests();
    let before = env.snapshot();
    env.run("fetch BTC/USD -t 1Hour --session regular --start 2024-06-10")
        .failure(2)
        .assert_stderr_contains("--session regular applies to stocks only, and BTC/USD is crypto")
        .assert_stdout_empty();
    assert_eq!(env.take_bar_requests().len(), 0);
    assert_eq!(env.snapshot(), before, "cache untouched");
    // Other combinations that cannot be built are usage errors too.
    env.run("fetch SPY -t 1Day --from 1Min")
        .failure(2)
        .assert_stderr_contains("--from builds intraday timeframes");
    env.run("fetch SPY -t 1Hour --from 7Min")
        .failure(2)
        .assert_stderr_contains("--from 7Min cannot build 1Hour");
    env.run("update SPY --session regular").failure(2);
}

#[test]
fn offline_with_a_hole_in_the_1min_series_fails_naming_it() {
    let env = TestEnv::new();
    env.fetch_csv("SPY -t 1Min --start 2024-06-03 --end 2024-06-03");
    env.fetch_csv("SPY -t 1Min --start 2024-06-05 --end 2024-06-05");
    env.take_bar_requests();
    env.run("fetch --offline SPY -t 1Hour --from 1Min --start 2024-06-03 --end 2024-06-05")
        .failure(1)
        .assert_stderr_contains("SPY 1Min (2024-06-04")
        .assert_stdout_empty();
    // Held days are served offline.
    let out = env
        .fetch_csv("--offline SPY -t 1Hour --session regular --start 2024-06-05 --end 2024-06-05");
    assert_eq!(csv_bars(&out, "SPY").len(), 7);
    assert_eq!(env.take_bar_requests().len(), 0);
}

#[test]
fn bars_of_a_bucket_not_ended_are_noted_as_provisional() {
    let env = TestEnv::new();
    env.emu.set_now(utc("2024-06-14T15:10:00Z"));
    let run = env
        .run("fetch --format csv SPY -t 1Hour --session regular --start 2024-06-14")
        .success();
    run.assert_stderr_contains("SPY 1Hour (built from 1Min): bars whose bucket ends after");
    let bars = run.bars_of("SPY");
    // 09:30 and 10:30 (still forming) New York.
    assert_eq!(bars.len(), 2, "{run}");
    assert_eq!(bars[1].t, utc("2024-06-14T14:30:00Z"));
    // A settled range has no note.
    env.run(
        "fetch --format csv SPY -t 1Hour --session regular --start 2024-06-12 --end 2024-06-12",
    )
    .success()
    .assert_stderr_lacks("provisional");
}

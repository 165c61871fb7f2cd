//! The calendar views of `barkeep inspect`: `--calendar` (the market's sessions, early
//! closes and holidays between two dates) and `--gaps` (the sessions inside a series'
//! coverage that hold no bar), as a table, CSV or JSON.

use std::io::Write;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::json;

use crate::cli::UsageError;
use crate::cli::args::values::InspectFormat;
use crate::market::NEW_YORK;
use crate::market::calendar::{self, Day, FIRST_YEAR, LAST_YEAR, Session};
use crate::ops::inspect::{GapReport, error_chain};
use crate::parquet_files::metadata::format_instant;

/// One weekday of the calendar: its session, or the holiday that closes it.
struct CalendarRow {
    date: NaiveDate,
    day: Day,
}

/// The weekdays from `start` to `end` (inclusive), or a usage error when they leave the
/// calendar's years.
fn calendar_rows(start: NaiveDate, end: NaiveDate) -> Result<Vec<CalendarRow>, UsageError> {
    if end < start {
        return Err(UsageError(format!(
            "--end {end} is before --start {start}; give an --end on or after --start"
        )));
    }
    let mut rows = Vec::new();
    for date in start.iter_days().take_while(|d| *d <= end) {
        let day = calendar::day(date).map_err(|_| {
            UsageError(format!(
                "{date} is outside the market calendar ({FIRST_YEAR} to {LAST_YEAR}); give --start and --end within those years"
            ))
        })?;
        if day != Day::Weekend {
            rows.push(CalendarRow { date, day });
        }
    }
    Ok(rows)
}

fn new_york_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&NEW_YORK).format("%H:%M").to_string()
}

fn status(day: &Day) -> &'static str {
    match day {
        Day::Open(s) if s.early_close => "early_close",
        Day::Open(_) => "open",
        Day::Weekend | Day::Holiday(_) => "closed",
    }
}

/// `inspect --calendar`: one row per weekday from `start` to `end`, inclusive. The table
/// shows New York times, CSV and JSON UTC instants.
pub(super) fn write_calendar(
    out: &mut dyn Write,
    format: InspectFormat,
    start: NaiveDate,
    end: NaiveDate,
) -> anyhow::Result<()> {
    let rows = calendar_rows(start, end)?;
    match format {
        InspectFormat::Json => {
            let rows: Vec<_> = rows
                .iter()
                .map(|r| {
                    let session = match r.day {
                        Day::Open(s) => Some(s),
                        Day::Weekend | Day::Holiday(_) => None,
                    };
                    let at = |f: fn(&Session) -> DateTime<Utc>| {
                        session.as_ref().map(|s| format_instant(f(s)))
                    };
                    json!({
                        "date": r.date.to_string(),
                        "weekday": r.date.weekday().to_string(),
                        "status": status(&r.day),
                        "pre_open": at(|s| s.pre_open),
                        "open": at(|s| s.open),
                        "close": at(|s| s.close),
                        "post_close": at(|s| s.post_close),
                        "holiday": match r.day { Day::Holiday(name) => Some(name), _ => None },
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows)?;
            writeln!(out)?;
        }
        InspectFormat::Csv => {
            writeln!(
                out,
                "date,weekday,status,pre_open,open,close,post_close,holiday"
            )?;
            for r in &rows {
                match r.day {
                    Day::Open(s) => writeln!(
                        out,
                        "{},{},{},{},{},{},{},",
                        r.date,
                        r.date.weekday(),
                        status(&r.day),
                        format_instant(s.pre_open),
                        format_instant(s.open),
                        format_instant(s.close),
                        format_instant(s.post_close)
                    )?,
                    Day::Holiday(name) => {
                        writeln!(out, "{},{},closed,,,,,{name}", r.date, r.date.weekday())?
                    }
                    Day::Weekend => {}
                }
            }
        }
        InspectFormat::Table => {
            writeln!(
                out,
                "{:<10}  {:<3}  {:<11}  {:<8}  {:<5}  {:<5}  {:<10}  note",
                "date", "day", "status", "pre_open", "open", "close", "post_close"
            )?;
            for r in &rows {
                let (status, pre, open, close, post, note) = match r.day {
                    Day::Open(s) => (
                        status(&r.day),
                        new_york_time(s.pre_open),
                        new_york_time(s.open),
                        new_york_time(s.close),
                        new_york_time(s.post_close),
                        if s.early_close { "early close" } else { "" },
                    ),
                    Day::Holiday(name) => (
                        "closed",
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        name,
                    ),
                    Day::Weekend => continue,
                };
                let line = format!(
                    "{:<10}  {:<3}  {:<11}  {:<8}  {:<5}  {:<5}  {:<10}  {note}",
                    r.date.to_string(),
                    r.date.weekday().to_string(),
                    status,
                    pre,
                    open,
                    close,
                    post
                );
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    Ok(())
}

/// `inspect --gaps`: one row per session without a bar. Returns how many.
pub(super) fn write_gaps(
    out: &mut dyn Write,
    format: InspectFormat,
    report: &GapReport,
) -> anyhow::Result<usize> {
    let rows: Vec<_> = report
        .series
        .iter()
        .filter_map(|g| g.sessions.as_ref().ok().map(|s| (&g.key, s)))
        .flat_map(|(key, sessions)| sessions.iter().map(move |s| (key, s)))
        .collect();
    match format {
        InspectFormat::Json => {
            let series: Vec<_> = report
                .series
                .iter()
                .map(|g| {
                    let (sessions, error) = match &g.sessions {
                        Ok(sessions) => (
                            Some(
                                sessions
                                    .iter()
                                    .map(|s| {
                                        json!({
                                            "date": s.date.to_string(),
                                            "start": format_instant(s.pre_open),
                                            "end": format_instant(s.post_close),
                                        })
                                    })
                                    .collect::<Vec<_>>(),
                            ),
                            None,
                        ),
                        Err(e) => (None, Some(error_chain(e))),
                    };
                    json!({
                        "symbol": g.key.symbol.as_str(),
                        "feed": g.key.feed.as_str(),
                        "timeframe": g.key.timeframe.to_string(),
                        "sessions_without_bars": sessions,
                        "error": error,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &series)?;
            writeln!(out)?;
        }
        InspectFormat::Csv => {
            writeln!(out, "symbol,feed,timeframe,date,start,end")?;
            for (key, s) in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    key.symbol,
                    key.feed,
                    key.timeframe,
                    s.date,
                    format_instant(s.pre_open),
                    format_instant(s.post_close)
                )?;
            }
        }
        InspectFormat::Table => {
            writeln!(
                out,
                "{:<10}  {:<6}  {:<9}  {:<10}  {:<20}  end",
                "symbol", "feed", "timeframe", "date", "start"
            )?;
            for (key, s) in &rows {
                writeln!(
                    out,
                    "{:<10}  {:<6}  {:<9}  {:<10}  {:<20}  {}",
                    key.symbol.as_str(),
                    key.feed.as_str(),
                    key.timeframe.to_string(),
                    s.date.to_string(),
                    format_instant(s.pre_open),
                    format_instant(s.post_close)
                )?;
            }
        }
    }
    Ok(rows.len())
}

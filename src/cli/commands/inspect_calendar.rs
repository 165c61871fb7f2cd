//! The calendar views of `barkeep inspect`: `--calendar` (the market's sessions, early
//! closes and holidays between two dates) and `--gaps` (the sessions inside a series'
//! coverage that hold no bar, found by [`ops::inspect::find_gaps`](crate::ops::inspect::find_gaps)),
//! rendered as a table, CSV or JSON.

use std::io::Write;

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde_json::json;

use crate::cli::args::values::InspectFormat;
use crate::cli::failure::ProblemsFound;
use crate::cli::formats::table::{Column, Table};
use crate::cli::formats::{self, csv, json};
use crate::cli::progress::calendar_note;
use crate::cli::{Context, UsageError};
use crate::error_chain::error_chain;
use crate::market::calendar::{self, Day, FIRST_YEAR, LAST_YEAR, Session};
use crate::market::time_spec::midnight;
use crate::market::{Interval, NEW_YORK};
use crate::ops::inspect::{self as op, GapReport};
use crate::ops::selection::SeriesFilter;
use crate::parquet_files::metadata::format_instant;

/// `inspect --calendar`: the weekdays from `start` to `end` on stdout.
pub(super) fn run_calendar(
    ctx: &Context,
    format: InspectFormat,
    start: NaiveDate,
    end: NaiveDate,
) -> anyhow::Result<()> {
    let mut out = formats::stdout();
    write_calendar(&mut out, format, start, end)?;
    out.flush()?;
    if format == InspectFormat::Table {
        ctx.printer.note(
            "times in New York; extended hours run pre_open to post_close, the regular session open to close",
        );
    }
    Ok(())
}

/// `inspect --gaps`: the sessions without a bar on stdout, then notes and per-series errors
/// on stderr.
pub(super) fn run_gaps(
    ctx: &Context,
    format: InspectFormat,
    filter: &SeriesFilter,
    dates: (Option<NaiveDate>, Option<NaiveDate>),
) -> anyhow::Result<()> {
    let range = match dates {
        (None, None) => None,
        (start, end) => {
            let start = start.map_or(DateTime::<Utc>::MIN_UTC, |d| midnight(d, &NEW_YORK));
            let end = end
                .and_then(|d| d.checked_add_days(Days::new(1)))
                .map_or(DateTime::<Utc>::MAX_UTC, |d| midnight(d, &NEW_YORK));
            Some(Interval::new(start, end).ok_or_else(|| {
                UsageError("--end is before --start; give an --end on or after --start".to_owned())
            })?)
        }
    };
    let report = op::find_gaps(&ctx.store, filter, range)?;
    let mut out = formats::stdout();
    let found = write_gaps(&mut out, format, &report)?;
    out.flush()?;
    drop(out);
    let checked = report.series.iter().filter(|g| g.sessions.is_ok()).count();
    ctx.printer.note(&format!(
        "{found} sessions without a bar in {checked} stock series (missing data for a liquid symbol; may be normal for a thinly traded one)"
    ));
    if report.beyond_calendar {
        ctx.printer.note(&calendar_note());
    }
    if report.crypto_skipped {
        ctx.printer
            .note("crypto trades around the clock: its series have no sessions to check");
    }
    if report.matched == 0 {
        ctx.printer.note(&format!(
            "no cached series match (cache: `{}`)",
            ctx.store.root().display()
        ));
    }
    let mut failed = 0;
    for g in &report.series {
        if let Err(e) = &g.sessions {
            failed += 1;
            ctx.printer.error(&format!("{}: {}", g.key, error_chain(e)));
        }
    }
    if failed > 0 {
        return Err(ProblemsFound(failed).into());
    }
    Ok(())
}

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
fn write_calendar(
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
            json::write_pretty(out, &rows)?;
        }
        InspectFormat::Csv => {
            csv::write_row(
                out,
                [
                    "date",
                    "weekday",
                    "status",
                    "pre_open",
                    "open",
                    "close",
                    "post_close",
                    "holiday",
                ],
            )?;
            for r in &rows {
                csv::write_row(out, calendar_cells(r, format_instant, ""))?;
            }
        }
        InspectFormat::Table => {
            // Minimum widths keep the table's shape whatever the dates hold.
            let mut table = Table::new([
                Column::left("date").min(10),
                Column::left("day").min(3),
                Column::left("status").min(11),
                Column::left("pre_open").min(8),
                Column::left("open").min(5),
                Column::left("close").min(5),
                Column::left("post_close").min(10),
                Column::left("note"),
            ]);
            for r in &rows {
                table.push(calendar_cells(r, new_york_time, "early close").into());
            }
            table.write(out)?;
        }
    }
    Ok(())
}

/// A calendar row's cells: date, weekday, status, the four times as `time` writes them, and
/// the holiday's name or, on an early close, `early_close_note`.
fn calendar_cells(
    r: &CalendarRow,
    time: fn(DateTime<Utc>) -> String,
    early_close_note: &str,
) -> [String; 8] {
    let (date, weekday) = (r.date.to_string(), r.date.weekday().to_string());
    let status = status(&r.day).to_owned();
    match r.day {
        Day::Open(s) => {
            let note = if s.early_close { early_close_note } else { "" };
            let times = [s.pre_open, s.open, s.close, s.post_close].map(time);
            let [pre_open, open, close, post_close] = times;
            let note = note.to_owned();
            [
                date, weekday, status, pre_open, open, close, post_close, note,
            ]
        }
        // Weekends are not rows; a holiday has its name.
        Day::Holiday(_) | Day::Weekend => {
            let name = match r.day {
                Day::Holiday(name) => name.to_owned(),
                _ => String::new(),
            };
            let none = String::new;
            [date, weekday, status, none(), none(), none(), none(), name]
        }
    }
}

/// `inspect --gaps`: one row per session without a bar. Returns how many.
fn write_gaps(
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
            json::write_pretty(out, &series)?;
        }
        InspectFormat::Csv => {
            csv::write_row(out, ["symbol", "feed", "timeframe", "date", "start", "end"])?;
            for (key, s) in &rows {
                csv::write_row(out, gap_cells(key, s))?;
            }
        }
        InspectFormat::Table => {
            let mut table = Table::new([
                Column::left("symbol").min(10),
                Column::left("feed").min(6),
                Column::left("timeframe").min(9),
                Column::left("date").min(10),
                Column::left("start").min(20),
                Column::left("end"),
            ]);
            for (key, s) in &rows {
                table.push(gap_cells(key, s).into());
            }
            table.write(out)?;
        }
    }
    Ok(rows.len())
}

fn gap_cells(key: &crate::cache::SeriesKey, session: &Session) -> [String; 6] {
    [
        key.symbol.to_string(),
        key.feed.to_string(),
        key.timeframe.to_string(),
        session.date.to_string(),
        format_instant(session.pre_open),
        format_instant(session.post_close),
    ]
}

//! Writing bars for people and programs: CSV (header
//! `symbol,timestamp,open,high,low,close,volume,trade_count,vwap`), NDJSON (one object per
//! bar, same field names), JSON (one array) and an aligned table. Timestamps are RFC 3339 in
//! UTC; numbers are printed exactly, in their shortest round-trip form.

use std::io::{self, Write};

use clap::ValueEnum;

use crate::market::{Bar, Volume};
use crate::ops::fetch::FetchedSeries;
use crate::parquet_files::metadata::format_instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BarFormat {
    /// Comma-separated values with a header line
    Csv,
    /// One JSON object per bar, one per line
    Ndjson,
    /// One JSON array of objects
    Json,
    /// Aligned columns for people
    Table,
}

const COLUMNS: [&str; 9] = [
    "symbol",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trade_count",
    "vwap",
];

/// Rust's `Display` for f64 is the shortest representation that parses back to the same
/// value, never in exponent notation.
fn number(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        String::new()
    }
}

fn json_number(x: f64) -> String {
    if x.is_finite() {
        x.to_string()
    } else {
        "null".to_owned()
    }
}

fn volume(v: Volume) -> String {
    match v {
        Volume::Shares(n) => n.to_string(),
        Volume::Units(x) => number(x),
    }
}

fn fields(symbol: &str, bar: &Bar) -> [String; 9] {
    [
        symbol.to_owned(),
        format_instant(bar.timestamp),
        number(bar.open),
        number(bar.high),
        number(bar.low),
        number(bar.close),
        volume(bar.volume),
        bar.trade_count.to_string(),
        number(bar.vwap),
    ]
}

fn json_object(symbol: &str, bar: &Bar) -> String {
    let volume = match bar.volume {
        Volume::Shares(n) => n.to_string(),
        Volume::Units(x) => json_number(x),
    };
    format!(
        r#"{{"symbol":{},"timestamp":"{}","open":{},"high":{},"low":{},"close":{},"volume":{},"trade_count":{},"vwap":{}}}"#,
        serde_json::to_string(symbol).expect("strings serialise"),
        format_instant(bar.timestamp),
        json_number(bar.open),
        json_number(bar.high),
        json_number(bar.low),
        json_number(bar.close),
        volume,
        bar.trade_count,
        json_number(bar.vwap),
    )
}

/// Calls `row` for every bar of every chunk, in order; stops at the first error.
fn for_each_row<E>(
    chunks: impl IntoIterator<Item = Result<FetchedSeries, E>>,
    mut row: impl FnMut(&str, &Bar) -> io::Result<()>,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    for chunk in chunks {
        let chunk = chunk?;
        for bar in &chunk.bars {
            row(chunk.key.symbol.as_str(), bar)?;
        }
    }
    Ok(())
}

/// Writes the bars of `chunks` (a stream of series, or parts of series, in output order).
/// Only the table, which needs every row to size its columns, holds them all in memory.
pub(super) fn write_bars<E>(
    out: &mut dyn Write,
    format: BarFormat,
    chunks: impl IntoIterator<Item = Result<FetchedSeries, E>>,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match format {
        BarFormat::Csv => {
            writeln!(out, "{}", COLUMNS.join(","))?;
            for_each_row(chunks, |symbol, bar| {
                writeln!(out, "{}", fields(symbol, bar).join(","))
            })?;
        }
        BarFormat::Ndjson => {
            for_each_row(chunks, |symbol, bar| {
                writeln!(out, "{}", json_object(symbol, bar))
            })?;
        }
        BarFormat::Json => {
            write!(out, "[")?;
            let mut first = true;
            for_each_row(chunks, |symbol, bar| {
                let separator = if first { "" } else { "," };
                first = false;
                write!(out, "{separator}\n{}", json_object(symbol, bar))
            })?;
            writeln!(out, "\n]")?;
        }
        BarFormat::Table => {
            let mut table: Vec<[String; 9]> = Vec::new();
            for_each_row(chunks, |symbol, bar| {
                table.push(fields(symbol, bar));
                Ok(())
            })?;
            let mut widths = COLUMNS.map(str::len);
            for row in &table {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.len());
                }
            }
            let line = |cells: &[&str]| {
                cells
                    .iter()
                    .zip(widths)
                    .enumerate()
                    .map(|(i, (c, w))| {
                        if i < 2 {
                            format!("{c:<w$}")
                        } else {
                            format!("{c:>w$}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            writeln!(out, "{}", line(&COLUMNS))?;
            for row in &table {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                writeln!(out, "{}", line(&cells).trim_end())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SeriesKey;
    use crate::market::{Feed, Interval};
    use chrono::DateTime;

    fn sample() -> Vec<FetchedSeries> {
        let t = DateTime::parse_from_rfc3339("2024-01-02T05:00:00Z")
            .unwrap()
            .to_utc();
        let bar = Bar {
            timestamp: t,
            open: 187.15,
            high: 188.44,
            low: 183.885,
            close: 185.64,
            volume: Volume::Shares(82_488_674),
            trade_count: 1_009_074,
            vwap: 185.949_847,
        };
        let key = SeriesKey::new("AAPL".parse().unwrap(), Feed::Sip, "1Day".parse().unwrap());
        vec![FetchedSeries {
            key,
            range: Interval::new(t, t + chrono::TimeDelta::days(1)).unwrap(),
            bars: vec![
                bar,
                Bar {
                    close: 169.0,
                    ..bar
                },
            ],
        }]
    }

    fn render(format: BarFormat) -> String {
        let mut out = Vec::new();
        let chunks = sample().into_iter().map(Ok::<_, std::io::Error>);
        write_bars(&mut out, format, chunks).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_is_exact() {
        assert_eq!(
            render(BarFormat::Csv),
            "symbol,timestamp,open,high,low,close,volume,trade_count,vwap\n\
             AAPL,2024-01-02T05:00:00Z,187.15,188.44,183.885,185.64,82488674,1009074,185.949847\n\
             AAPL,2024-01-02T05:00:00Z,187.15,188.44,183.885,169,82488674,1009074,185.949847\n"
        );
    }

    #[test]
    fn json_formats_parse_back() {
        let ndjson = render(BarFormat::Ndjson);
        let first: serde_json::Value =
            serde_json::from_str(ndjson.lines().next().unwrap()).unwrap();
        assert_eq!(first["symbol"], "AAPL");
        assert_eq!(first["volume"], 82_488_674);
        assert_eq!(first["low"], 183.885);
        let all: Vec<serde_json::Value> = serde_json::from_str(&render(BarFormat::Json)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["close"], 169.0);
        let table = render(BarFormat::Table);
        assert_eq!(table.lines().count(), 3);
        assert!(
            table
                .lines()
                .next()
                .unwrap()
                .starts_with("symbol  timestamp")
        );
    }
}

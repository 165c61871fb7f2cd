//! Writing bars for people and programs: CSV (header
//! `symbol,timestamp,open,high,low,close,volume,trade_count,vwap`), NDJSON (one object per
//! bar, same field names), JSON (one array) and an aligned table. Timestamps are RFC 3339 in
//! UTC; numbers are printed exactly, in their shortest round-trip form. The table shows
//! daily, weekly and monthly stock bars by their New York date alone.
//!
//! CSV and JSON stream: one thread decodes the next chunk while two format chunks into
//! reused byte buffers ([`bar_text`](super::bar_text)), and the caller's thread writes each
//! buffer with one `write_all`, in order, checking between chunks whether to stop (a signal).
//! At most [`BUFFERS`] chunks are in flight, so memory stays bounded whatever the length of
//! the output. Chunks decoded from the cache are formatted straight from their columns; bars
//! built in memory (adjusted, derived) row by row, to the same bytes. An output of a single
//! chunk starts no thread at all: it is decoded and formatted on the writing thread.
//!
//! The binary formats (issue 24) stream too: an Arrow IPC stream writes each chunk's columns
//! as one record batch on the writing thread while the next chunk is decoded ([`arrow`]); a
//! Parquet file takes the chunks in order on the writing thread and hands out each row group
//! as it is encoded ([`parquet`](super::parquet)).
//!
//! Every write goes through [`ReaderWait`], so a signal ends a write into a reader that
//! stopped reading at once.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};

use super::arrow::{self, BarBatches};
use super::bar_text::BarText;
use super::parquet::ParquetBars;
use super::table::{Column, Table};
use super::{ReaderWait, csv};
use crate::cli::args::values::BarFormat;
use crate::market::{AssetClass, Bar, NEW_YORK, Volume};
use crate::ops::fetch::{ChunkBars, FetchedSeries};
use crate::parquet_files::metadata::format_instant;

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

fn volume(v: Volume) -> String {
    match v {
        Volume::Shares(n) => n.to_string(),
        Volume::Units(x) => number(x),
    }
}

/// A table row; `date_only` shows the New York date instead of the instant (a stock bar of a
/// day or longer stands for that day).
fn fields(symbol: &str, bar: &Bar, date_only: bool) -> [String; 9] {
    let timestamp = if date_only {
        bar.timestamp
            .with_timezone(&NEW_YORK)
            .date_naive()
            .to_string()
    } else {
        format_instant(bar.timestamp)
    };
    [
        symbol.to_owned(),
        timestamp,
        number(bar.open),
        number(bar.high),
        number(bar.low),
        number(bar.close),
        volume(bar.volume),
        bar.trade_count.to_string(),
        number(bar.vwap),
    ]
}

/// Chunks formatted ahead of the writer (each holds one text buffer from the start of its
/// decoding until it is written): with chunks of 65,536 bars, a few tens of MB at most.
const BUFFERS: usize = 4;
/// Threads formatting chunks, besides the one decoding and the one writing.
const FORMATTERS: usize = 2;

/// A decoded chunk on its way to a formatter, with the buffer to format it into.
type Job = (u64, anyhow::Result<(FetchedSeries, Vec<u8>)>);
/// A formatted chunk on its way to the writer.
type Formatted = (u64, anyhow::Result<Vec<u8>>);

/// Appends the text of every bar of `chunk` to `out`: CSV rows, NDJSON lines, or JSON array
/// elements each preceded by `,\n` (the writer drops the very first comma).
fn format_chunk(format: BarFormat, chunk: &FetchedSeries, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut text = BarText::default();
    let symbol = chunk.key.symbol.as_str();
    // About what a minute bar of a stock takes, so a reused buffer rarely grows.
    let per_bar = if format == BarFormat::Csv { 96 } else { 192 };
    out.reserve(chunk.bars.len() * per_bar);
    match (format, &chunk.bars) {
        (BarFormat::Csv, bars) => {
            let symbol = csv::field(symbol);
            match bars {
                ChunkBars::Columns(columns) => {
                    text.push_csv_columns(out, symbol.as_bytes(), columns);
                }
                ChunkBars::Rows(bars) => {
                    for bar in bars {
                        text.push_csv(out, symbol.as_bytes(), bar);
                    }
                }
            }
        }
        (BarFormat::Ndjson | BarFormat::Json, ChunkBars::Columns(columns)) => {
            let symbol = serde_json::to_vec(symbol).expect("strings serialise");
            text.push_json_columns(out, &symbol, columns, format == BarFormat::Ndjson);
        }
        (BarFormat::Ndjson, ChunkBars::Rows(bars)) => {
            let symbol = serde_json::to_vec(symbol).expect("strings serialise");
            for bar in bars {
                text.push_json(out, &symbol, bar);
                out.push(b'\n');
            }
        }
        (BarFormat::Json, ChunkBars::Rows(bars)) => {
            let symbol = serde_json::to_vec(symbol).expect("strings serialise");
            for bar in bars {
                out.extend_from_slice(b",\n");
                text.push_json(out, &symbol, bar);
            }
        }
        (BarFormat::Arrow | BarFormat::Table | BarFormat::Parquet, _) => {
            unreachable!("only the text formats are formatted in parallel")
        }
    }
    Ok(())
}

/// The start of a stream of chunks: all of it when it holds at most one chunk, else its first
/// two chunks and the rest. An output of one chunk (a series of up to 65,536 bars) is handled
/// on the calling thread: starting threads would cost more than its work (issue 24: a shell
/// loop pays them on every call).
enum Stream<I: Iterator> {
    Single(Option<I::Item>),
    Several(Vec<I::Item>, I),
}

impl<I: Iterator> Stream<I> {
    fn of(mut chunks: I) -> Self {
        let Some(first) = chunks.next() else {
            return Stream::Single(None);
        };
        match chunks.next() {
            None => Stream::Single(Some(first)),
            Some(second) => Stream::Several(vec![first, second], chunks),
        }
    }
}

/// Decodes (on one thread) and formats (on [`FORMATTERS`]) the chunks, and hands their text
/// to `write` in order on the calling thread; a single chunk is decoded and formatted on the
/// calling thread. Stops at the first error, from a chunk or from `write`; the threads then
/// wind down on their own (a closed channel ends each).
fn format_in_parallel<I, E>(
    format: BarFormat,
    chunks: I,
    write: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    I: Iterator<Item = Result<FetchedSeries, E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let chunks = match Stream::of(chunks) {
        Stream::Single(None) => return Ok(()),
        Stream::Single(Some(chunk)) => {
            let mut text = Vec::new();
            format_chunk(format, &chunk?, &mut text)?;
            return write(&text);
        }
        Stream::Several(head, rest) => head.into_iter().chain(rest),
    };
    let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        pool_tx
            .send(Vec::new())
            .expect("the pool has room for every buffer");
    }
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(1);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<Formatted>(BUFFERS);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (seq, chunk) in (0u64..).zip(chunks) {
                // Waiting for a free buffer is what bounds the chunks in flight.
                let Ok(buffer) = pool_rx.recv() else { return };
                let job = chunk.map(|c| (c, buffer)).map_err(anyhow::Error::from);
                let failed = job.is_err();
                if job_tx.send((seq, job)).is_err() || failed {
                    return;
                }
            }
        });
        for _ in 0..FORMATTERS {
            let (job_rx, done_tx) = (Arc::clone(&job_rx), done_tx.clone());
            scope.spawn(move || {
                loop {
                    let received = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((seq, job)) = received else { return };
                    let formatted = job.and_then(|(chunk, mut buffer)| {
                        buffer.clear();
                        format_chunk(format, &chunk, &mut buffer)?;
                        Ok(buffer)
                    });
                    if done_tx.send((seq, formatted)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((done_tx, job_rx));
        write_in_order(done_rx, pool_tx, write)
    })
}

/// Chunks decoded ahead of a consumer that formats nothing (Arrow): each is a few MB.
const AHEAD: usize = 2;

/// Runs `chunks` (the decoding) on a thread of its own, at most [`AHEAD`] chunks ahead of
/// `consume`, which takes them in order on the calling thread; a single chunk is decoded on
/// the calling thread. Returning early stops the decoding (its channel closes).
fn read_ahead<I, E, R>(
    chunks: I,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<FetchedSeries, E>>) -> R,
) -> R
where
    I: Iterator<Item = Result<FetchedSeries, E>> + Send,
    E: Send,
{
    let chunks = match Stream::of(chunks) {
        Stream::Single(chunk) => return consume(&mut chunk.into_iter()),
        Stream::Several(head, rest) => head.into_iter().chain(rest),
    };
    let (tx, rx) = mpsc::sync_channel(AHEAD);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for chunk in chunks {
                let failed = chunk.is_err();
                if tx.send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        consume(&mut rx.into_iter())
    })
}

/// Writes the formatted chunks in sequence order, returning each buffer to the pool.
/// Consumes both channel ends, so returning early closes them and stops the other threads.
fn write_in_order(
    done: mpsc::Receiver<Formatted>,
    pool: mpsc::SyncSender<Vec<u8>>,
    write: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    for (seq, formatted) in done {
        pending.insert(seq, formatted);
        while let Some(formatted) = pending.remove(&next) {
            let buffer = formatted?;
            write(&buffer)?;
            next += 1;
            // Fails only once the decoding thread is done: the buffer is then not needed.
            let _ = pool.send(buffer);
        }
    }
    Ok(())
}

/// Writes the bars of `chunks` (a stream of series, or parts of series, in output order),
/// and flushes `out`. Only the table, which needs every row to size its columns, holds them
/// all in memory. `stop` is asked before each chunk is written, and its error ends the
/// output. `classes` are the asset classes asked for: the binary formats, which state their
/// types before the first bar, type `volume` by them ([`BarBatches`]).
pub(crate) fn write_bars<I, E>(
    out: &mut dyn Write,
    format: BarFormat,
    classes: &[AssetClass],
    chunks: I,
    stop: &dyn Fn() -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    I: Iterator<Item = Result<FetchedSeries, E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let out = &mut ReaderWait(out);
    let batches = &BarBatches::new(classes);
    match format {
        BarFormat::Csv | BarFormat::Ndjson => {
            if format == BarFormat::Csv {
                writeln!(out, "{}", COLUMNS.join(","))?;
            }
            format_in_parallel(format, chunks, &mut |text| {
                stop()?;
                Ok(out.write_all(text)?)
            })?;
        }
        BarFormat::Arrow => {
            read_ahead(chunks, |chunks| {
                arrow::write_stream(out, batches, chunks, stop)
            })?;
        }
        BarFormat::Parquet => {
            let mut file = ParquetBars::new(batches.clone())?;
            for chunk in chunks {
                let ready = file.push(&chunk?)?;
                stop()?;
                out.write_all(&ready)?;
            }
            stop()?;
            out.write_all(&file.finish()?)?;
        }
        BarFormat::Json => {
            write!(out, "[")?;
            let mut first = true;
            format_in_parallel(format, chunks, &mut |text| {
                stop()?;
                let text = match text.split_first() {
                    Some((b',', rest)) if first => rest,
                    _ => text,
                };
                first &= text.is_empty();
                Ok(out.write_all(text)?)
            })?;
            writeln!(out, "\n]")?;
        }
        BarFormat::Table => {
            let mut table = Table::new(COLUMNS.iter().enumerate().map(|(i, &header)| {
                if i < 2 {
                    Column::left(header)
                } else {
                    Column::right(header)
                }
            }));
            for chunk in chunks {
                stop()?;
                let chunk = chunk?;
                let date_only = chunk.key.asset_class() == AssetClass::Stocks
                    && !chunk.key.timeframe.is_intraday();
                let symbol = chunk.key.symbol.as_str();
                for bar in chunk.bars.rows().iter() {
                    table.push(fields(symbol, bar, date_only).into());
                }
            }
            stop()?;
            table.write(out)?;
        }
    }
    Ok(out.flush()?)
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
            bars: ChunkBars::Rows(vec![
                bar,
                Bar {
                    close: 169.0,
                    ..bar
                },
            ]),
        }]
    }

    fn render(format: BarFormat) -> String {
        render_chunks(format, &sample())
    }

    /// Today's output, as the string-per-field writer before issue 15 produced it: what the
    /// streaming writer must match byte for byte.
    mod reference {
        use super::super::{COLUMNS, format_instant};
        use crate::market::{Bar, Volume};
        use crate::ops::fetch::FetchedSeries;

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

        fn fields(symbol: &str, bar: &Bar) -> [String; 9] {
            [
                symbol.to_owned(),
                format_instant(bar.timestamp),
                number(bar.open),
                number(bar.high),
                number(bar.low),
                number(bar.close),
                match bar.volume {
                    Volume::Shares(n) => n.to_string(),
                    Volume::Units(x) => number(x),
                },
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
                serde_json::to_string(symbol).unwrap(),
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

        pub(super) fn csv(chunks: &[FetchedSeries]) -> String {
            let mut out = format!("{}\n", COLUMNS.join(","));
            for c in chunks {
                for bar in c.bars.rows().iter() {
                    out += &format!("{}\n", fields(c.key.symbol.as_str(), bar).join(","));
                }
            }
            out
        }

        pub(super) fn ndjson(chunks: &[FetchedSeries]) -> String {
            let mut out = String::new();
            for c in chunks {
                for bar in c.bars.rows().iter() {
                    out += &format!("{}\n", json_object(c.key.symbol.as_str(), bar));
                }
            }
            out
        }

        pub(super) fn json(chunks: &[FetchedSeries]) -> String {
            let mut out = "[".to_owned();
            let mut first = true;
            for c in chunks {
                for bar in c.bars.rows().iter() {
                    let separator = if first { "" } else { "," };
                    first = false;
                    out += &format!("{separator}\n{}", json_object(c.key.symbol.as_str(), bar));
                }
            }
            out + "\n]\n"
        }
    }

    /// The chunk as the cache decodes it: columns.
    fn as_columns(chunk: &FetchedSeries) -> FetchedSeries {
        let rows = chunk.bars.rows();
        let class = if rows.iter().any(|b| matches!(b.volume, Volume::Units(_))) {
            AssetClass::Crypto
        } else {
            AssetClass::Stocks
        };
        let batch = crate::parquet_files::record_batch::to_record_batch(class, &rows).unwrap();
        FetchedSeries {
            bars: ChunkBars::Columns(
                crate::parquet_files::record_batch::BarColumns::try_new(batch).unwrap(),
            ),
            ..chunk.clone()
        }
    }

    /// The output of `chunks`, checked to be the same whether their bars are rows or columns.
    fn render_chunks(format: BarFormat, chunks: &[FetchedSeries]) -> String {
        let render = |chunks: Vec<FetchedSeries>| {
            let mut out = Vec::new();
            let chunks = chunks.into_iter().map(Ok::<_, std::io::Error>);
            let classes = [AssetClass::Stocks, AssetClass::Crypto];
            write_bars(&mut out, format, &classes, chunks, &|| Ok(())).unwrap();
            out
        };
        let rows = render(chunks.to_vec());
        let columns = render(chunks.iter().map(as_columns).collect());
        assert!(rows == columns, "{format:?}: rows and columns differ");
        String::from_utf8(rows).unwrap()
    }

    fn series(symbol: &str, timeframe: &str, bars: Vec<Bar>) -> FetchedSeries {
        let symbol: crate::market::Symbol = symbol.parse().unwrap();
        let feed = if symbol.asset_class() == AssetClass::Crypto {
            Feed::CryptoUs
        } else {
            Feed::Sip
        };
        let t = bars.first().map_or_else(chrono::Utc::now, |b| b.timestamp);
        FetchedSeries {
            key: SeriesKey::new(symbol, feed, timeframe.parse().unwrap()),
            range: Interval::new(t, t + chrono::TimeDelta::days(400)).unwrap(),
            bars: ChunkBars::Rows(bars),
        }
    }

    /// The awkward numbers and stamps the golden files pin.
    fn awkward() -> Vec<FetchedSeries> {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let bar = |timestamp, open, close, volume, vwap| Bar {
            timestamp,
            open,
            high: open.max(close),
            low: open.min(close),
            close,
            volume,
            trade_count: 7,
            vwap,
        };
        vec![
            series(
                "BRK.B",
                "1Min",
                vec![
                    bar(
                        t("2024-01-02T14:30:00Z"),
                        0.0001,
                        1e-7,
                        Volume::Shares(0),
                        f64::NAN,
                    ),
                    bar(
                        t("2024-01-02T14:31:00Z"),
                        123_456_789.5,
                        1e21,
                        Volume::Shares(u64::MAX),
                        f64::INFINITY,
                    ),
                    bar(
                        t("2024-01-02T14:32:00.5Z"),
                        0.1 + 0.2,
                        1.0,
                        Volume::Shares(1),
                        5e-324,
                    ),
                    bar(
                        t("2024-01-02T23:59:59Z"),
                        187.15,
                        185.64,
                        Volume::Shares(100),
                        185.949_847,
                    ),
                ],
            ),
            series("EMPTY", "1Min", Vec::new()),
            series(
                "BTC/USD",
                "1Day",
                vec![
                    bar(
                        t("2024-03-10T00:00:00Z"),
                        68_000.5,
                        69_001.25,
                        Volume::Units(0.000_000_001),
                        f64::NAN,
                    ),
                    bar(
                        t("2024-03-11T00:00:00Z"),
                        -0.0,
                        1.234_567_890_123_456_7e-5,
                        Volume::Units(1_234.567_891_234),
                        714_220_865_198_563.2,
                    ),
                    bar(
                        t("1999-12-31T23:59:59.123456Z"),
                        1e16,
                        1e15,
                        Volume::Units(f64::NAN),
                        2.5,
                    ),
                ],
            ),
        ]
    }

    #[test]
    fn output_matches_the_golden_files_and_the_old_writer() {
        let chunks = awkward();
        for (format, golden, old, name) in [
            (
                BarFormat::Csv,
                include_str!("../../../tests/fixtures/output/golden.csv"),
                reference::csv(&chunks),
                "csv",
            ),
            (
                BarFormat::Ndjson,
                include_str!("../../../tests/fixtures/output/golden.ndjson"),
                reference::ndjson(&chunks),
                "ndjson",
            ),
            (
                BarFormat::Json,
                include_str!("../../../tests/fixtures/output/golden.json"),
                reference::json(&chunks),
                "json",
            ),
        ] {
            // The golden files come from the old writer: `BARKEEP_UPDATE_GENERATED=1` rewrites them.
            if std::env::var_os("BARKEEP_UPDATE_GENERATED").is_some() {
                let path = format!(
                    "{}/tests/fixtures/output/golden.{name}",
                    env!("CARGO_MANIFEST_DIR")
                );
                std::fs::write(path, &old).unwrap();
                continue;
            }
            let new = render_chunks(format, &chunks);
            assert_eq!(new, old, "{format:?} differs from the old writer");
            assert_eq!(new, golden, "{format:?} differs from its golden file");
        }
    }

    proptest::proptest! {
        /// Rows of quotes, as nearly all are: they take the formatter's fast path, except
        /// the few with a number or a timestamp it does not cover, and every row must come
        /// out as the old writer printed it.
        #[test]
        fn quotes_print_as_the_old_writer(
            bars in proptest::collection::vec(
                (
                    proptest::collection::vec((-100_000_000i64..100_000_000, 0i32..11), 5),
                    proptest::prop_oneof![8 => 0u64..100_000_000, 1 => proptest::prelude::any::<u64>()],
                    proptest::prop_oneof![8 => proptest::strategy::Just(0i64), 1 => 1i64..1_000_000_000],
                ),
                1..80,
            ),
            crypto in proptest::prelude::any::<bool>(),
            seconds in 0i64..4_000_000_000,
        ) {
            let bars = bars
                .iter()
                .enumerate()
                .map(|(i, (numbers, count, nanos))| {
                    let n = |k: usize| numbers[k].0 as f64 / 10f64.powi(numbers[k].1);
                    Bar {
                        timestamp: DateTime::from_timestamp(seconds + i as i64 * 60, *nanos as u32).unwrap(),
                        open: n(0),
                        high: n(1),
                        low: n(2),
                        close: n(3),
                        volume: if crypto { Volume::Units(n(4)) } else { Volume::Shares(*count) },
                        trade_count: *count / 3,
                        vwap: n(4) / 7.0,
                    }
                })
                .collect();
            let chunks = vec![series(if crypto { "ETH/USD" } else { "BRK.B" }, "1Min", bars)];
            proptest::prop_assert_eq!(render_chunks(BarFormat::Csv, &chunks), reference::csv(&chunks));
            proptest::prop_assert_eq!(render_chunks(BarFormat::Ndjson, &chunks), reference::ndjson(&chunks));
            proptest::prop_assert_eq!(render_chunks(BarFormat::Json, &chunks), reference::json(&chunks));
        }

        /// Many chunks, some empty, with random numbers: the parallel writer keeps their order
        /// and prints every bar as the old one did.
        #[test]
        fn streamed_output_equals_the_old_writer(
            sizes in proptest::collection::vec(0usize..40, 0..12),
            bits in proptest::collection::vec(proptest::prelude::any::<u64>(), 8),
            seconds in 0i64..4_000_000_000,
        ) {
            let chunks: Vec<FetchedSeries> = sizes
                .iter()
                .enumerate()
                .map(|(c, &n)| {
                    let bars = (0..n)
                        .map(|i| {
                            let f = |k: usize| f64::from_bits(bits[(k + i + c) % bits.len()]);
                            Bar {
                                timestamp: DateTime::from_timestamp(seconds + (c * 100 + i) as i64 * 61, 0).unwrap(),
                                open: f(0),
                                high: f(1),
                                low: (i as f64) / 100.0,
                                close: f(3),
                                volume: if c % 2 == 0 { Volume::Shares(bits[i % 8]) } else { Volume::Units(f(4)) },
                                trade_count: bits[(i + 5) % 8],
                                vwap: f(6),
                            }
                        })
                        .collect();
                    series(if c % 3 == 0 { "ETH/USD" } else { "SPY" }, "1Min", bars)
                })
                .collect();
            proptest::prop_assert_eq!(render_chunks(BarFormat::Csv, &chunks), reference::csv(&chunks));
            proptest::prop_assert_eq!(render_chunks(BarFormat::Ndjson, &chunks), reference::ndjson(&chunks));
            proptest::prop_assert_eq!(render_chunks(BarFormat::Json, &chunks), reference::json(&chunks));
        }
    }

    #[test]
    fn the_table_shows_daily_stock_bars_by_their_new_york_date() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let bar = |timestamp| Bar {
            timestamp,
            open: 1.5,
            high: 2.0,
            low: 1.0,
            close: 1.75,
            volume: Volume::Shares(10),
            trade_count: 3,
            vwap: 1.6,
        };
        let chunks = vec![
            series("AAPL", "1Day", vec![bar(t("2024-11-01T04:00:00Z"))]),
            series("AAPL", "1Week", vec![bar(t("2024-11-04T05:00:00Z"))]),
            series("AAPL", "1Month", vec![bar(t("2024-12-01T05:00:00Z"))]),
            series("AAPL", "1Hour", vec![bar(t("2024-11-01T13:00:00Z"))]),
            series("BTC/USD", "1Day", vec![bar(t("2024-11-01T00:00:00Z"))]),
        ];
        let table = render_chunks(BarFormat::Table, &chunks);
        let stamps: Vec<&str> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().nth(1).unwrap())
            .collect();
        assert_eq!(
            stamps,
            [
                "2024-11-01",
                "2024-11-04",
                "2024-12-01",
                "2024-11-01T13:00:00Z",
                "2024-11-01T00:00:00Z"
            ]
        );
    }

    #[test]
    fn a_stop_ends_the_output_between_chunks() {
        let chunks = awkward();
        let calls = std::cell::Cell::new(0);
        let stop = || {
            calls.set(calls.get() + 1);
            if calls.get() > 1 {
                Err(crate::cli::Interrupted(crate::interrupt::Signal::Interrupt).into())
            } else {
                Ok(())
            }
        };
        let mut out = Vec::new();
        let result = write_bars(
            &mut out,
            BarFormat::Csv,
            &[AssetClass::Stocks],
            chunks.into_iter().map(Ok::<_, std::io::Error>),
            &stop,
        );
        assert!(result.unwrap_err().is::<crate::cli::Interrupted>());
        let text = String::from_utf8(out).unwrap();
        // The header and the first chunk only.
        assert_eq!(text.lines().count(), 5, "{text}");
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

//! Bars as Arrow (issue 24): the record batches both binary formats are made of, and the
//! Arrow IPC *stream* format (`--format arrow`: one schema message, then one record-batch
//! message per chunk as it is decoded, then the end-of-stream marker), which
//! `pyarrow.ipc.open_stream`, `polars.read_ipc_stream` and DuckDB's Arrow reader take from a
//! pipe.
//!
//! The columns are CSV's: `symbol` (UTF-8), then the cache's columns with the cache's types
//! ([`bar_schema`]): `timestamp` in nanoseconds, tz-aware UTC; prices and `vwap` float64;
//! `volume` uint64 for stocks and float64 for crypto; `trade_count` uint64. One stream has one
//! schema, so a run asking for both stocks and crypto types `volume` float64 (exact for any
//! share count below 2^53).
//!
//! Each chunk is one batch (no dictionaries, so no state between batches). The columns decoded
//! from the cache go into it as they are, and the IPC writer writes their buffers straight to
//! the output: no bar is built and no byte copied into a message first (issue 24).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::StreamWriter;

use crate::market::AssetClass;
use crate::ops::fetch::{ChunkBars, FetchedSeries};
use crate::parquet_files::record_batch::to_record_batch;
use crate::parquet_files::schema::bar_schema;

/// The index of `volume` among the cache's columns.
const VOLUME: usize = 5;

/// The name of the column CSV calls `symbol`.
const SYMBOL: &str = "symbol";

/// The output's columns and types, chosen before the first bar from the asset classes asked
/// for.
#[derive(Debug, Clone)]
pub(crate) struct BarBatches {
    schema: SchemaRef,
    /// The class whose cache schema the columns after `symbol` follow: crypto's (float64
    /// volume) as soon as any crypto pair is asked for.
    class: AssetClass,
}

impl BarBatches {
    /// The columns for bars of `classes` (stocks when there are none).
    pub(crate) fn new(classes: &[AssetClass]) -> Self {
        let class = if classes.contains(&AssetClass::Crypto) {
            AssetClass::Crypto
        } else {
            AssetClass::Stocks
        };
        let cache = bar_schema(class);
        let fields = std::iter::once(Arc::new(Field::new(SYMBOL, DataType::Utf8, false)))
            .chain(cache.fields().iter().cloned());
        Self {
            schema: Arc::new(Schema::new(fields.collect::<Vec<_>>())),
            class,
        }
    }

    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The bars of `chunk` as one record batch of [`Self::schema`]. Decoded columns are
    /// taken as they are (only a stock volume in a run that types it float64 is converted,
    /// as [`to_record_batch`] converts it); rows are converted.
    pub(crate) fn batch(&self, chunk: &FetchedSeries) -> anyhow::Result<RecordBatch> {
        let context = || {
            format!(
                "cannot convert the bars of {} {} to Arrow",
                chunk.key.symbol, chunk.key.timeframe
            )
        };
        let mut columns: Vec<ArrayRef> = match &chunk.bars {
            ChunkBars::Columns(decoded) => decoded.batch().columns().to_vec(),
            ChunkBars::Rows(bars) => to_record_batch(self.class, bars)
                .with_context(context)?
                .columns()
                .to_vec(),
        };
        if self.class == AssetClass::Crypto
            && let Some(shares) = columns[VOLUME].as_any().downcast_ref::<UInt64Array>()
        {
            #[allow(clippy::cast_precision_loss)]
            let units: Float64Array = shares.unary(|v| v as f64);
            columns[VOLUME] = Arc::new(units);
        }
        let symbol: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            chunk.key.symbol.as_str(),
            chunk.bars.len(),
        )));
        columns.insert(0, symbol);
        RecordBatch::try_new(self.schema.clone(), columns).with_context(context)
    }
}

/// Writes the Arrow IPC stream of `chunks` to `out`: the schema message, one record-batch
/// message per chunk that has bars, the end-of-stream marker. Each batch's buffers are written
/// from where they lie (the decoded columns), not copied into a message first. `stop` is
/// asked before each chunk is written, and its error ends the output.
pub(crate) fn write_stream<E>(
    out: &mut dyn Write,
    batches: &BarBatches,
    chunks: impl Iterator<Item = Result<FetchedSeries, E>>,
    stop: &dyn Fn() -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let mut writer = StreamWriter::try_new(out, batches.schema())?;
    for chunk in chunks {
        let chunk = chunk?;
        stop()?;
        if !chunk.bars.is_empty() {
            writer.write(&batches.batch(&chunk)?)?;
        }
    }
    writer.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SeriesKey;
    use crate::market::{Bar, Feed, Interval, Volume};
    use crate::parquet_files::record_batch::BarColumns;
    use arrow::array::{Float64Array, TimestampNanosecondArray, UInt64Array};
    use arrow::datatypes::TimeUnit;
    use arrow::ipc::reader::StreamReader;
    use chrono::DateTime;

    fn chunk(symbol: &str, volume: Volume, n: usize) -> FetchedSeries {
        let symbol: crate::market::Symbol = symbol.parse().unwrap();
        let feed = match symbol.asset_class() {
            AssetClass::Stocks => Feed::Sip,
            AssetClass::Crypto => Feed::CryptoUs,
        };
        let t = DateTime::parse_from_rfc3339("2024-01-02T05:00:00Z")
            .unwrap()
            .to_utc();
        let bars = (0..n)
            .map(|i| Bar {
                timestamp: t + chrono::TimeDelta::days(i as i64),
                open: 1.5 + i as f64,
                high: 2.0,
                low: 1.0,
                close: 1.75,
                volume,
                trade_count: 3,
                vwap: 1.6,
            })
            .collect();
        FetchedSeries {
            key: SeriesKey::new(symbol, feed, "1Day".parse().unwrap()),
            range: Interval::new(t, t + chrono::TimeDelta::days(400)).unwrap(),
            bars: ChunkBars::Rows(bars),
        }
    }

    /// The stream of `chunks`, checked to be the same bytes whether their bars are rows or
    /// the columns the cache decodes.
    fn stream(classes: &[AssetClass], chunks: &[FetchedSeries]) -> Vec<u8> {
        let batches = BarBatches::new(classes);
        let write = |chunks: Vec<FetchedSeries>| {
            let mut out = Vec::new();
            let chunks = chunks.into_iter().map(Ok::<_, std::io::Error>);
            write_stream(&mut out, &batches, chunks, &|| Ok(())).unwrap();
            out
        };
        let rows = write(chunks.to_vec());
        let columns = chunks
            .iter()
            .map(|c| {
                let rows = c.bars.rows();
                let class = match rows.first().map(|b| b.volume) {
                    Some(Volume::Units(_)) => AssetClass::Crypto,
                    _ => AssetClass::Stocks,
                };
                let batch = to_record_batch(class, &rows).unwrap();
                FetchedSeries {
                    bars: ChunkBars::Columns(BarColumns::try_new(batch).unwrap()),
                    ..c.clone()
                }
            })
            .collect();
        assert!(rows == write(columns), "rows and columns encode alike");
        assert!(
            rows == reference(&batches, chunks),
            "as the message encoder wrote it"
        );
        rows
    }

    /// The stream as each message was encoded into a buffer before issue 24's direct writes.
    fn reference(batches: &BarBatches, chunks: &[FetchedSeries]) -> Vec<u8> {
        use arrow::ipc::writer::{
            DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions, write_message,
        };
        let options = IpcWriteOptions::default();
        let generator = IpcDataGenerator::default();
        let mut out = Vec::new();
        let schema = generator.schema_to_bytes_with_dictionary_tracker(
            batches.schema(),
            &mut DictionaryTracker::new(false),
            &options,
        );
        write_message(&mut out, schema, &options).unwrap();
        for chunk in chunks.iter().filter(|c| !c.bars.is_empty()) {
            let (_, message) = generator
                .encode(
                    &batches.batch(chunk).unwrap(),
                    &mut DictionaryTracker::new(false),
                    &options,
                    &mut IpcWriteContext::default(),
                )
                .unwrap();
            write_message(&mut out, message, &options).unwrap();
        }
        out.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        out
    }

    #[test]
    fn chunks_encoded_apart_read_back_as_one_stream() {
        let chunks = [
            chunk("AAPL", Volume::Shares(u64::MAX), 3),
            chunk("EMPTY", Volume::Shares(0), 0),
            chunk("MSFT", Volume::Shares(7), 2),
        ];
        let bytes = stream(&[AssetClass::Stocks], &chunks);
        let reader = StreamReader::try_new(bytes.as_slice(), None).unwrap();
        let schema = reader.schema();
        assert_eq!(
            schema.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        assert_eq!(schema.field(6).data_type(), &DataType::UInt64);
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches.len(), 2, "an empty chunk adds no batch");
        let symbols = batches[1].column(0).as_any().downcast_ref::<StringArray>();
        assert_eq!(symbols.unwrap().value(1), "MSFT");
        let volume = batches[0].column(6).as_any().downcast_ref::<UInt64Array>();
        assert_eq!(
            volume.unwrap().value(0),
            u64::MAX,
            "stock volume stays exact"
        );
        let ts = batches[0].column(1);
        let ts = ts.as_any().downcast_ref::<TimestampNanosecondArray>();
        assert_eq!(ts.unwrap().value(1), 1_704_258_000_000_000_000);
        assert_eq!(batches[0].column(2).null_count(), 0);
    }

    #[test]
    fn stocks_and_crypto_together_have_float_volume() {
        let chunks = [
            chunk("AAPL", Volume::Shares(12), 1),
            chunk("BTC/USD", Volume::Units(0.25), 1),
        ];
        let bytes = stream(&[AssetClass::Stocks, AssetClass::Crypto], &chunks);
        let reader = StreamReader::try_new(bytes.as_slice(), None).unwrap();
        let volumes: Vec<f64> = reader
            .map(|b| {
                let b = b.unwrap();
                let v = b.column(6).as_any().downcast_ref::<Float64Array>();
                v.unwrap().value(0)
            })
            .collect();
        assert_eq!(volumes, [12.0, 0.25]);
    }

    #[test]
    fn an_empty_output_is_a_schema_and_the_end() {
        let bytes = stream(&[AssetClass::Crypto], &[]);
        let reader = StreamReader::try_new(bytes.as_slice(), None).unwrap();
        assert_eq!(reader.schema().field(6).data_type(), &DataType::Float64);
        assert_eq!(reader.count(), 0);
        // The end-of-stream marker: a continuation marker and a zero length.
        assert!(bytes.ends_with(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]));
    }
}

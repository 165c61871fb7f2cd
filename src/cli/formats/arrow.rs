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
//! Each chunk is encoded on its own (no dictionaries, so no state between batches), which lets
//! [`bars`](super::bars) encode chunks on its formatting threads like the text formats.

use std::sync::Arc;

use anyhow::Context as _;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::ipc::writer::{
    DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions, write_message,
};

use crate::market::AssetClass;
use crate::ops::fetch::FetchedSeries;
use crate::parquet_files::record_batch::to_record_batch;
use crate::parquet_files::schema::bar_schema;

/// The name of the column CSV calls `symbol`.
const SYMBOL: &str = "symbol";

/// The stream's last eight bytes: a continuation marker and a zero length (the format's
/// end-of-stream since Arrow 0.15).
const END_OF_STREAM: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

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

    /// The bars of `chunk` as one record batch of [`Self::schema`].
    pub(crate) fn batch(&self, chunk: &FetchedSeries) -> anyhow::Result<RecordBatch> {
        let bars = to_record_batch(self.class, &chunk.bars).with_context(|| {
            format!(
                "cannot convert the bars of {} {} to Arrow",
                chunk.key.symbol, chunk.key.timeframe
            )
        })?;
        let symbol: ArrayRef = Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            chunk.key.symbol.as_str(),
            chunk.bars.len(),
        )));
        let columns = std::iter::once(symbol).chain(bars.columns().iter().cloned());
        Ok(RecordBatch::try_new(
            self.schema.clone(),
            columns.collect(),
        )?)
    }
}

/// Appends the stream's schema message to `out`: what the stream starts with.
pub(crate) fn push_schema(batches: &BarBatches, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let options = IpcWriteOptions::default();
    let mut dictionaries = DictionaryTracker::new(false);
    let encoded = IpcDataGenerator::default().schema_to_bytes_with_dictionary_tracker(
        batches.schema(),
        &mut dictionaries,
        &options,
    );
    write_message(out, encoded, &options)?;
    Ok(())
}

/// Appends the record-batch message of `chunk` to `out` (nothing for an empty chunk).
pub(crate) fn push_batch(
    batches: &BarBatches,
    chunk: &FetchedSeries,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    if chunk.bars.is_empty() {
        return Ok(());
    }
    let batch = batches.batch(chunk)?;
    let options = IpcWriteOptions::default();
    let (dictionaries, message) = IpcDataGenerator::default().encode(
        &batch,
        &mut DictionaryTracker::new(false),
        &options,
        &mut IpcWriteContext::default(),
    )?;
    debug_assert!(dictionaries.is_empty(), "no column is dictionary-encoded");
    write_message(out, message, &options)?;
    Ok(())
}

/// Appends the end-of-stream marker to `out`: what the stream ends with.
pub(crate) fn push_end(out: &mut Vec<u8>) {
    out.extend_from_slice(&END_OF_STREAM);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SeriesKey;
    use crate::market::{Bar, Feed, Interval, Volume};
    use arrow::array::{Array, Float64Array, TimestampNanosecondArray, UInt64Array};
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
            bars,
        }
    }

    fn stream(classes: &[AssetClass], chunks: &[FetchedSeries]) -> Vec<u8> {
        let batches = BarBatches::new(classes);
        let mut out = Vec::new();
        push_schema(&batches, &mut out).unwrap();
        for c in chunks {
            push_batch(&batches, c, &mut out).unwrap();
        }
        push_end(&mut out);
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
        assert!(bytes.ends_with(&END_OF_STREAM));
    }
}

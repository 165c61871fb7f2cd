//! Bars as one Parquet file (issue 24, `--format parquet`): the columns and types of
//! [`BarBatches`] (CSV's columns, the cache's types, timestamps tz-aware UTC), in row groups of
//! [`ROW_GROUP_ROWS`], zstd-compressed. The Arrow schema is kept in the footer as well, so
//! pyarrow and polars read the time zone back exactly.
//!
//! Parquet needs no seeking to write: the encoder writes into a buffer that is handed to the
//! output as each row group is finished, then the footer. Memory is bounded by one row group
//! being encoded, whatever the length of the output.

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::arrow::BarBatches;
use crate::ops::fetch::FetchedSeries;
use crate::parquet_files::write::ROW_GROUP_ROWS;

/// A Parquet file being encoded, its bytes taken out as they are ready.
pub(crate) struct ParquetBars {
    batches: BarBatches,
    writer: ArrowWriter<Vec<u8>>,
}

impl ParquetBars {
    pub(crate) fn new(batches: BarBatches) -> anyhow::Result<Self> {
        let properties = WriterProperties::builder()
            // Level 1: the output is read once, soon; speed matters more than bytes.
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(concat!("barkeep ", env!("CARGO_PKG_VERSION")).to_owned())
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), batches.schema().clone(), Some(properties))?;
        Ok(Self { batches, writer })
    }

    /// Adds the bars of `chunk`; returns the bytes ready to be written (empty until a row
    /// group is complete).
    pub(crate) fn push(&mut self, chunk: &FetchedSeries) -> anyhow::Result<Vec<u8>> {
        if !chunk.bars.is_empty() {
            self.writer.write(&self.batches.batch(chunk)?)?;
        }
        // The writer counts the bytes it wrote itself, so taking them out of the buffer
        // leaves the offsets it records in the footer right.
        Ok(std::mem::take(self.writer.inner_mut()))
    }

    /// Ends the file: the last row group and the footer.
    pub(crate) fn finish(mut self) -> anyhow::Result<Vec<u8>> {
        self.writer.finish()?;
        Ok(std::mem::take(self.writer.inner_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SeriesKey;
    use crate::market::{AssetClass, Bar, Feed, Interval, Volume};
    use arrow::array::{
        Array, RecordBatchReader, StringArray, TimestampNanosecondArray, UInt64Array,
    };
    use arrow::datatypes::{DataType, TimeUnit};
    use chrono::DateTime;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[test]
    fn a_file_taken_out_in_pieces_reads_back_whole() {
        let t = DateTime::parse_from_rfc3339("2024-01-02T14:30:00Z")
            .unwrap()
            .to_utc();
        let n = ROW_GROUP_ROWS + 1_000;
        let bars: Vec<Bar> = (0..n)
            .map(|i| Bar {
                timestamp: t + chrono::TimeDelta::minutes(i as i64),
                open: i as f64,
                high: 2.0,
                low: 1.0,
                close: 1.75,
                volume: Volume::Shares(i as u64),
                trade_count: 3,
                vwap: 1.6,
            })
            .collect();
        let key = SeriesKey::new("SPY".parse().unwrap(), Feed::Sip, "1Min".parse().unwrap());
        let range = Interval::new(t, t + chrono::TimeDelta::days(400)).unwrap();
        let mut file = ParquetBars::new(BarBatches::new(&[AssetClass::Stocks])).unwrap();
        let mut bytes = Vec::new();
        let mut pieces = 0;
        for part in bars.chunks(65_536) {
            let chunk = FetchedSeries {
                key: key.clone(),
                range,
                bars: crate::ops::fetch::ChunkBars::Rows(part.to_vec()),
            };
            let piece = file.push(&chunk).unwrap();
            pieces += usize::from(!piece.is_empty());
            bytes.extend(piece);
        }
        bytes.extend(file.finish().unwrap());
        assert!(pieces >= 1, "a full row group is handed out before the end");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
            .unwrap()
            .build()
            .unwrap();
        let schema = reader.schema();
        assert_eq!(
            schema.field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        let mut rows = 0;
        for batch in reader {
            let batch = batch.unwrap();
            let symbols = batch.column(0).as_any().downcast_ref::<StringArray>();
            assert!(symbols.unwrap().iter().all(|s| s == Some("SPY")));
            let volume = batch.column(6).as_any().downcast_ref::<UInt64Array>();
            let ts = batch.column(1);
            let ts = ts.as_any().downcast_ref::<TimestampNanosecondArray>();
            for i in 0..batch.num_rows() {
                assert_eq!(volume.unwrap().value(i), (rows + i) as u64);
                assert_eq!(
                    ts.unwrap().value(i),
                    bars[rows + i].timestamp.timestamp_nanos_opt().unwrap()
                );
            }
            assert_eq!(batch.column(7).null_count(), 0);
            rows += batch.num_rows();
        }
        assert_eq!(rows, n);
    }
}

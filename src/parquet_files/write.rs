//! Encoding a whole series into one Parquet file, from bars or by re-encoding another series
//! file into large row groups (compaction).
//!
//! Every full write ends with a small row group of its own holding the *tail*: the last
//! day's bars (the New York day for stocks, the UTC day for crypto) and every provisional
//! bar. The next nightly update replaces the provisional bars and adds new ones after them,
//! so it re-encodes only that small group in place (see `cache::local_dir`), never the large
//! groups before it.
//!
//! Large writes are compressed with zstd; small ones (a daily series, a nightly tail) are
//! stored uncompressed, see [`COMPRESS_MIN_ROWS`].

use std::fs::File;
use std::io::Write;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::footer::Footer;
use super::metadata::METADATA_KEY;
use super::record_batch::{check_batch_order, to_record_batch};
use super::schema;
use super::{Error, SeriesMetadata};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use crate::market::{AssetClass, Bar, NEW_YORK};

/// Rows per row group. Large enough for fast scans, small enough that a range read of a long
/// minute series skips most of the file through row-group statistics.
pub const ROW_GROUP_ROWS: usize = 262_144;
/// Rows per data page at most: a range read from a bucket fetches whole pages (about 8 days
/// of extended-hours minute bars, 21 of regular-hours ones), and pages this size still
/// compress well.
pub const PAGE_ROWS: usize = 8_192;
/// Rows encoded per Arrow batch, bounding the memory an encode needs beyond the bars.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// Writes of fewer rows than this are stored uncompressed. The parquet crate sets up a fresh
/// zstd context for every page it decompresses (and compresses), which costs more than
/// decoding the few hundred rows of a small page: a year of daily bars (a row group of ~250
/// rows, 9 columns plus dictionary pages) read back 2.5-3x slower zstd-compressed than
/// uncompressed, for 60% of the bytes. Above this size the pages are large enough that zstd's
/// smaller files win. Parquet records the codec per column chunk, so one file may mix both
/// (a large compressed body with small uncompressed appended groups) and every reader copes.
pub const COMPRESS_MIN_ROWS: usize = 16_384;

/// How a write of `rows` rows is encoded: the same schema, metadata and row-group size
/// everywhere, the codec by size (see [`COMPRESS_MIN_ROWS`]).
pub(crate) fn writer_properties(
    metadata: &SeriesMetadata,
    rows: usize,
) -> Result<WriterProperties, Error> {
    let compression = if rows < COMPRESS_MIN_ROWS {
        Compression::UNCOMPRESSED
    } else {
        Compression::ZSTD(ZstdLevel::try_new(3)?)
    };
    let mut builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS);
    // A column whose values rarely repeat fills a dictionary up to its 1 MiB limit before
    // falling back to plain values, and every read of any page of the chunk must fetch that
    // dictionary first: a range read of a few sessions from a bucket then moves most of it.
    for column in [schema::TIMESTAMP, schema::VOLUME, schema::VWAP] {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    Ok(builder
        .set_key_value_metadata(Some(vec![KeyValue::new(
            METADATA_KEY.to_owned(),
            metadata.to_json(),
        )]))
        .set_created_by(concat!("barkeep ", env!("CARGO_PKG_VERSION")).to_owned())
        .build())
}

/// Where the final small row group of a series starts: the start of the day of its last
/// bar, or of its first provisional range if that is earlier. `None` for an empty series.
pub fn tail_start(metadata: &SeriesMetadata, last: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    let last = last?;
    let day_start = match metadata.feed.asset_class() {
        AssetClass::Stocks => {
            let day = last.with_timezone(&NEW_YORK).date_naive();
            NEW_YORK
                .from_local_datetime(&day.and_time(NaiveTime::MIN))
                .earliest()
                .map_or(last, |t| t.with_timezone(&Utc))
        }
        AssetClass::Crypto => last.date_naive().and_time(NaiveTime::MIN).and_utc(),
    };
    let provisional = metadata.provisional.intervals().first().map(|i| i.start);
    Some(provisional.map_or(day_start, |p| p.min(day_start)))
}

/// Writes `bars` (strictly increasing timestamps) with `metadata` in the footer, the tail
/// (see [`tail_start`]) in a row group of its own.
pub fn write_series<W: Write + Send>(
    sink: W,
    metadata: &SeriesMetadata,
    bars: &[Bar],
) -> Result<W, Error> {
    check_order(bars)?;
    let class = metadata.feed.asset_class();
    let props = writer_properties(metadata, bars.len())?;
    let mut writer = ArrowWriter::try_new(sink, super::schema::bar_schema(class), Some(props))?;
    let split = tail_start(metadata, bars.last().map(|b| b.timestamp))
        .map_or(0, |start| bars.partition_point(|b| b.timestamp < start));
    let (body, tail) = bars.split_at(split);
    for chunk in body.chunks(BATCH_ROWS) {
        writer.write(&to_record_batch(class, chunk)?)?;
    }
    if !body.is_empty() && !tail.is_empty() {
        writer.flush()?;
    }
    for chunk in tail.chunks(BATCH_ROWS) {
        writer.write(&to_record_batch(class, chunk)?)?;
    }
    Ok(writer.into_inner()?)
}

/// Re-encodes the series file `source` into `sink` in row groups of [`ROW_GROUP_ROWS`], the
/// tail (see [`tail_start`]) in a row group of its own, with the same metadata, streaming
/// (memory stays bounded by a row group). Checks the order of the bars; the caller verifies
/// the result against the source before using it.
pub fn rewrite_series<W: Write + Send>(source: &File, sink: W) -> Result<W, Error> {
    let footer = Footer::read(source)?;
    let last = footer.first_last().1;
    let tail = tail_start(&footer.series, last).and_then(|t| t.timestamp_nanos_opt());
    let mut in_tail = false;
    let mut written = 0usize;
    let arrow = footer.arrow_metadata()?;
    let class = footer.series.feed.asset_class();
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(source.try_clone()?, arrow)
        .with_batch_size(BATCH_ROWS)
        .build()?;
    let rows = usize::try_from(footer.parquet.file_metadata().num_rows()).unwrap_or(usize::MAX);
    let props = writer_properties(&footer.series, rows)?;
    let mut writer = ArrowWriter::try_new(sink, super::schema::bar_schema(class), Some(props))?;
    let mut last = None;
    for batch in reader {
        let batch = batch?;
        last = check_batch_order(&batch, last)?;
        // The reader's schema may lack field metadata; re-label with the canonical schema.
        let batch = arrow::array::RecordBatch::try_new(
            super::schema::bar_schema(class),
            batch.columns().to_vec(),
        )?;
        // The first row at or after the tail's start closes the row group before it.
        let split = match tail {
            Some(tail) if !in_tail => first_at_or_after(&batch, tail),
            _ => None,
        };
        match split {
            Some(at) => {
                in_tail = true;
                if at > 0 {
                    writer.write(&batch.slice(0, at))?;
                }
                if written + at > 0 {
                    writer.flush()?;
                }
                writer.write(&batch.slice(at, batch.num_rows() - at))?;
            }
            None => writer.write(&batch)?,
        }
        written += batch.num_rows();
    }
    Ok(writer.into_inner()?)
}

/// The index of the first row of `batch` whose timestamp (column 0, nanoseconds) is at or
/// after `at`.
fn first_at_or_after(batch: &arrow::array::RecordBatch, at: i64) -> Option<usize> {
    use arrow::array::{Array, TimestampNanosecondArray};
    let column = batch
        .column(0)
        .as_any()
        .downcast_ref::<TimestampNanosecondArray>()?;
    (0..column.len()).find(|&i| column.value(i) >= at)
}

fn check_order(bars: &[Bar]) -> Result<(), Error> {
    match bars.windows(2).find(|w| w[0].timestamp >= w[1].timestamp) {
        Some(w) => Err(Error::Order(format!(
            "{} is followed by {}",
            w[0].timestamp, w[1].timestamp
        ))),
        None => Ok(()),
    }
}

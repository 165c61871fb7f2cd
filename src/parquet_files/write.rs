//! Encoding a whole series into one Parquet file, from bars or by re-encoding another series
//! file into large row groups (compaction).

use std::fs::File;
use std::io::Write;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::footer::Footer;
use super::metadata::METADATA_KEY;
use super::record_batch::{check_batch_order, to_record_batch};
use super::{Error, SeriesMetadata};
use crate::market::Bar;

/// Rows per row group. Large enough for fast scans, small enough that a range read of a long
/// minute series skips most of the file through row-group statistics.
pub const ROW_GROUP_ROWS: usize = 262_144;
/// Rows encoded per Arrow batch, bounding the memory an encode needs beyond the bars.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// How every series file is encoded; appends must use the same so the footer stays uniform.
pub(crate) fn writer_properties(metadata: &SeriesMetadata) -> Result<WriterProperties, Error> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            METADATA_KEY.to_owned(),
            metadata.to_json(),
        )]))
        .set_created_by(concat!("barkeep ", env!("CARGO_PKG_VERSION")).to_owned())
        .build())
}

/// Writes `bars` (strictly increasing timestamps) with `metadata` in the footer.
pub fn write_series<W: Write + Send>(
    sink: W,
    metadata: &SeriesMetadata,
    bars: &[Bar],
) -> Result<W, Error> {
    check_order(bars)?;
    let class = metadata.feed.asset_class();
    let props = writer_properties(metadata)?;
    let mut writer = ArrowWriter::try_new(sink, super::schema::bar_schema(class), Some(props))?;
    for chunk in bars.chunks(BATCH_ROWS) {
        writer.write(&to_record_batch(class, chunk)?)?;
    }
    Ok(writer.into_inner()?)
}

/// Re-encodes the series file `source` into `sink` in row groups of [`ROW_GROUP_ROWS`], with
/// the same metadata, streaming (memory stays bounded by a row group). Checks the order of
/// the bars; the caller verifies the result against the source before using it.
pub fn rewrite_series<W: Write + Send>(source: &File, sink: W) -> Result<W, Error> {
    let footer = Footer::read(source)?;
    let arrow = footer.arrow_metadata()?;
    let class = footer.series.feed.asset_class();
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(source.try_clone()?, arrow)
        .with_batch_size(BATCH_ROWS)
        .build()?;
    let props = writer_properties(&footer.series)?;
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
        writer.write(&batch)?;
    }
    Ok(writer.into_inner()?)
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

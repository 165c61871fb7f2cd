//! Encoding a whole series into one Parquet file.

use std::io::Write;

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::metadata::METADATA_KEY;
use super::record_batch::to_record_batch;
use super::{Error, SeriesMetadata};
use crate::market::Bar;

/// Rows per row group. Large enough for fast scans, small enough that a range read of a long
/// minute series skips most of the file through row-group statistics.
pub const ROW_GROUP_ROWS: usize = 262_144;
/// Rows encoded per Arrow batch, bounding the memory an encode needs beyond the bars.
const BATCH_ROWS: usize = 65_536;

/// Writes `bars` (strictly increasing timestamps) with `metadata` in the footer.
pub fn write_series<W: Write + Send>(
    sink: W,
    metadata: &SeriesMetadata,
    bars: &[Bar],
) -> Result<W, Error> {
    check_order(bars)?;
    let class = metadata.feed.asset_class();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            METADATA_KEY.to_owned(),
            metadata.to_json(),
        )]))
        .set_created_by(concat!("barkeep ", env!("CARGO_PKG_VERSION")).to_owned())
        .build();
    let mut writer = ArrowWriter::try_new(sink, super::schema::bar_schema(class), Some(props))?;
    for chunk in bars.chunks(BATCH_ROWS) {
        writer.write(&to_record_batch(class, chunk)?)?;
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

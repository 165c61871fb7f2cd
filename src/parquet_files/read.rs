//! Decoding series files: the footer alone (metadata and row statistics), or the bars of a
//! time range, skipping row groups whose timestamp statistics lie outside it.

use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;
use parquet::file::statistics::Statistics;

use super::metadata::METADATA_KEY;
use super::record_batch::extend_from_record_batch;
use super::schema::{bar_schema, matches};
use super::{Error, SeriesMetadata};
use crate::market::{Bar, Interval};

/// What the footer says about a file, without decoding any bars.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub metadata: SeriesMetadata,
    pub rows: u64,
    pub row_groups: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

fn open<R: ChunkReader + 'static>(
    file: R,
) -> Result<(ParquetRecordBatchReaderBuilder<R>, SeriesMetadata), Error> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let text = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == METADATA_KEY))
        .and_then(|kv| kv.value.clone())
        .ok_or_else(|| {
            Error::Metadata(format!(
                "no `{METADATA_KEY}` key in the footer (not a barkeep file)"
            ))
        })?;
    let metadata = SeriesMetadata::from_json(&text)?;
    let expected = bar_schema(metadata.feed.asset_class());
    if !matches(&expected, builder.schema()) {
        return Err(Error::Schema(format!(
            "expected columns {expected}, found {}",
            builder.schema()
        )));
    }
    Ok((builder, metadata))
}

fn timestamp_range(meta: &ParquetMetaData, row_group: usize) -> Option<(i64, i64)> {
    match meta.row_group(row_group).column(0).statistics()? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// Reads the footer: metadata, row count and first/last timestamps from statistics.
pub fn read_summary<R: ChunkReader + 'static>(file: R) -> Result<FileSummary, Error> {
    let (builder, metadata) = open(file)?;
    let meta = builder.metadata();
    let row_groups = meta.num_row_groups();
    let rows = u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
    let ranges: Vec<_> = (0..row_groups)
        .filter_map(|i| timestamp_range(meta, i))
        .collect();
    let first = ranges
        .iter()
        .map(|r| r.0)
        .min()
        .map(DateTime::from_timestamp_nanos);
    let last = ranges
        .iter()
        .map(|r| r.1)
        .max()
        .map(DateTime::from_timestamp_nanos);
    Ok(FileSummary {
        metadata,
        rows,
        row_groups,
        first,
        last,
    })
}

/// Reads the bars with timestamps inside `range` (all bars when `None`), checking that they
/// are strictly increasing.
pub fn read_bars<R: ChunkReader + 'static>(
    file: R,
    range: Option<Interval>,
) -> Result<(SeriesMetadata, Vec<Bar>), Error> {
    let (builder, metadata) = open(file)?;
    let selected: Vec<usize> = (0..builder.metadata().num_row_groups())
        .filter(|&i| match (range, timestamp_range(builder.metadata(), i)) {
            (Some(r), Some((min, max))) => {
                let (start, end) = (r.start.timestamp_nanos_opt(), r.end.timestamp_nanos_opt());
                start.is_none_or(|s| max >= s) && end.is_none_or(|e| min < e)
            }
            _ => true,
        })
        .collect();
    let reader = builder
        .with_row_groups(selected)
        .with_batch_size(65_536)
        .build()?;
    let mut bars = Vec::new();
    for batch in reader {
        extend_from_record_batch(&batch?, &mut bars)?;
    }
    if let Some(w) = bars.windows(2).find(|w| w[0].timestamp >= w[1].timestamp) {
        return Err(Error::Order(format!(
            "{} is followed by {}",
            w[0].timestamp, w[1].timestamp
        )));
    }
    if let Some(r) = range {
        bars.retain(|b| r.contains(b.timestamp));
    }
    Ok((metadata, bars))
}

//! Decoding series files: the footer alone (metadata and row statistics), or the bars of a
//! time range as a stream of chunks, skipping row groups whose timestamp statistics lie
//! outside it. Memory stays bounded by one chunk and one row group's pages (a file of at
//! most 4 MiB is read whole first), whatever the length of the series.

use std::fs::File;
use std::io::{Read as _, Seek as _};

use arrow::array::RecordBatch;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;

use super::footer::Footer;
use super::record_batch::{BarColumns, check_batch_order};
use super::{Error, SeriesMetadata};
use crate::market::{Bar, Interval};

/// Bars decoded per chunk.
pub(crate) const CHUNK_ROWS: usize = 65_536;

/// What the footer says about a file, without decoding any bars.
#[derive(Debug, Clone)]
pub struct FileSummary {
    pub metadata: SeriesMetadata,
    pub rows: u64,
    pub row_groups: usize,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl From<&Footer> for FileSummary {
    fn from(footer: &Footer) -> Self {
        let (first, last) = footer.first_last();
        FileSummary {
            metadata: footer.series.clone(),
            rows: footer.rows(),
            row_groups: footer.row_groups(),
            first,
            last,
        }
    }
}

/// Reads the footer: metadata, row count and first/last timestamps from statistics.
pub fn read_summary(file: &File) -> Result<FileSummary, Error> {
    let footer = Footer::read(file)?;
    footer.arrow_metadata()?;
    Ok(FileSummary::from(&footer))
}

/// Record batches decoded from a file, wherever its bytes come from.
type Batches = Box<dyn Iterator<Item = Result<RecordBatch, Error>> + Send>;

/// The bars of a file inside a range, in chunks of at most 65,536 (as decoded, column by
/// column), checked to be strictly increasing across chunks.
pub struct BarChunks {
    reader: Batches,
    range: Option<Interval>,
    /// The last timestamp decoded, in nanoseconds.
    last: Option<i64>,
    failed: bool,
}

impl Iterator for BarChunks {
    type Item = Result<BarColumns, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            let batch = match self.reader.next()? {
                Ok(batch) => batch,
                Err(e) => return Some(self.fail(e)),
            };
            let columns = match BarColumns::try_new(batch) {
                Ok(columns) => columns,
                Err(e) => return Some(self.fail(e)),
            };
            match check_batch_order(columns.batch(), self.last) {
                Ok(last) => self.last = last,
                Err(e) => return Some(self.fail(e)),
            }
            // Increasing, so the rows inside the range are one run of them.
            let columns = match self.range {
                Some(r) => {
                    let ts = columns.timestamps();
                    let (from, to) = (rows_before(ts, r.start), rows_before(ts, r.end));
                    if from == 0 && to == ts.len() {
                        columns
                    } else {
                        columns.slice(from, to.max(from) - from)
                    }
                }
                None => columns,
            };
            if !columns.is_empty() {
                return Some(Ok(columns));
            }
        }
    }
}

/// How many of the increasing nanosecond timestamps `ts` lie before `t`.
fn rows_before(ts: &[i64], t: DateTime<Utc>) -> usize {
    match t.timestamp_nanos_opt() {
        Some(t) => ts.partition_point(|&x| x < t),
        // Beyond what nanoseconds reach: before every timestamp, or after them all.
        None if t.timestamp() < 0 => 0,
        None => ts.len(),
    }
}

impl BarChunks {
    /// The bars of `batches` inside `range` (all when `None`).
    pub(crate) fn from_batches(batches: Batches, range: Option<Interval>) -> Self {
        BarChunks {
            reader: batches,
            range,
            last: None,
            failed: false,
        }
    }

    fn fail(&mut self, e: Error) -> Result<BarColumns, Error> {
        self.failed = true;
        Err(e)
    }
}

/// Files up to this size are read whole, with one `read`, and decoded from memory: the
/// parquet crate's reader of a `File` duplicates the descriptor, seeks, reads and closes once
/// per column chunk, about 260 system calls for a one-year daily series, which dominated an
/// export of 500 of them. Larger files stream, so memory stays bounded.
const READ_WHOLE_UP_TO: u64 = 4 << 20;

/// Starts reading the bars with timestamps inside `range` (all bars when `None`).
pub fn scan_bars(
    mut file: File,
    range: Option<Interval>,
) -> Result<(SeriesMetadata, BarChunks), Error> {
    let len = file.metadata()?.len();
    if len <= READ_WHOLE_UP_TO {
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or_default());
        // From the start, wherever the caller's handle stands (a commit's handle has written).
        file.rewind()?;
        file.read_to_end(&mut bytes)?;
        return scan_bytes(Bytes::from(bytes), range);
    }
    let footer = Footer::read(&file)?;
    scan_with_footer(file, footer, range)
}

/// [`scan_bars`] over a whole file held in memory (an object-storage read).
pub fn scan_bytes(
    bytes: Bytes,
    range: Option<Interval>,
) -> Result<(SeriesMetadata, BarChunks), Error> {
    let footer = Footer::from_bytes(&bytes)?;
    scan_with_footer(bytes, footer, range)
}

/// The footer of a whole file held in memory.
pub fn read_summary_bytes(bytes: &Bytes) -> Result<FileSummary, Error> {
    let footer = Footer::from_bytes(bytes)?;
    footer.arrow_metadata()?;
    Ok(FileSummary::from(&footer))
}

/// Every bar of a whole file held in memory.
pub fn read_bars_bytes(bytes: Bytes) -> Result<(SeriesMetadata, Vec<Bar>), Error> {
    let (metadata, chunks) = scan_bytes(bytes, None)?;
    let mut bars = Vec::new();
    for chunk in chunks {
        chunk?.extend_bars(&mut bars);
    }
    Ok((metadata, bars))
}

/// The row groups whose timestamp statistics overlap `range` (all when `None`, or for a row
/// group without statistics).
pub(crate) fn overlapping_row_groups(footer: &Footer, range: Option<Interval>) -> Vec<usize> {
    (0..footer.row_groups())
        .filter(|&i| match (range, footer.timestamp_range(i)) {
            (Some(r), Some((min, max))) => {
                let (start, end) = (r.start.timestamp_nanos_opt(), r.end.timestamp_nanos_opt());
                start.is_none_or(|s| max >= s) && end.is_none_or(|e| min < e)
            }
            _ => true,
        })
        .collect()
}

fn scan_with_footer<R: ChunkReader + 'static>(
    file: R,
    footer: Footer,
    range: Option<Interval>,
) -> Result<(SeriesMetadata, BarChunks), Error> {
    let arrow = footer.arrow_metadata()?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, arrow)
        .with_row_groups(overlapping_row_groups(&footer, range))
        .with_batch_size(CHUNK_ROWS)
        .build()?;
    let batches = reader.map(|batch| batch.map_err(Error::from));
    Ok((
        footer.series,
        BarChunks::from_batches(Box::new(batches), range),
    ))
}

/// Reads the bars of row groups `from..` of the file whose footer is `footer` (the rows an
/// append rewrites when it replaces the tail of a series).
pub fn read_row_groups_from(file: File, footer: &Footer, from: usize) -> Result<Vec<Bar>, Error> {
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, footer.arrow_metadata()?)
        .with_row_groups((from..footer.row_groups()).collect())
        .with_batch_size(CHUNK_ROWS)
        .build()?;
    let batches = reader.map(|batch| batch.map_err(Error::from));
    let mut bars = Vec::new();
    for chunk in BarChunks::from_batches(Box::new(batches), None) {
        chunk?.extend_bars(&mut bars);
    }
    Ok(bars)
}

/// Reads the bars with timestamps inside `range` (all bars when `None`), checking that they
/// are strictly increasing.
pub fn read_bars(file: File, range: Option<Interval>) -> Result<(SeriesMetadata, Vec<Bar>), Error> {
    let (metadata, chunks) = scan_bars(file, range)?;
    let mut bars = Vec::new();
    for chunk in chunks {
        chunk?.extend_bars(&mut bars);
    }
    Ok((metadata, bars))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, GzipLevel};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::market::{Feed, IntervalSet, Volume};
    use crate::parquet_files::metadata::METADATA_KEY;
    use crate::parquet_files::record_batch::to_record_batch;
    use crate::parquet_files::schema::bar_schema;

    fn bars() -> Vec<Bar> {
        (0..500)
            .map(|i| Bar {
                timestamp: DateTime::from_timestamp(1_704_200_000, 0).unwrap()
                    + TimeDelta::minutes(i),
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: Volume::Shares(u64::try_from(i).unwrap()),
                trade_count: 3,
                vwap: 1.25,
            })
            .collect()
    }

    /// A barkeep series as another writer would store it, compressed with `codec`.
    fn written_with(codec: Compression, metadata: &SeriesMetadata, bars: &[Bar]) -> Bytes {
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_key_value_metadata(Some(vec![KeyValue::new(
                METADATA_KEY.to_owned(),
                metadata.to_json(),
            )]))
            .build();
        let class = metadata.feed.asset_class();
        let mut writer = ArrowWriter::try_new(Vec::new(), bar_schema(class), Some(props)).unwrap();
        writer
            .write(&to_record_batch(class, bars).unwrap())
            .unwrap();
        Bytes::from(writer.into_inner().unwrap())
    }

    /// Snappy is pyarrow's and DuckDB's default, zstd polars'; gzip and LZ4 are what they
    /// write when asked.
    #[test]
    fn every_codec_common_writers_use_is_read() {
        let metadata = SeriesMetadata {
            symbol: "SPY".parse().unwrap(),
            feed: Feed::Sip,
            timeframe: "1Min".parse().unwrap(),
            coverage: IntervalSet::new(),
            provisional: IntervalSet::new(),
            updated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            closed: None,
            renamed_from: None,
        };
        for codec in [
            Compression::SNAPPY,
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4,
            Compression::LZ4_RAW,
            Compression::ZSTD(parquet::basic::ZstdLevel::default()),
        ] {
            let bytes = written_with(codec, &metadata, &bars());
            let (read_metadata, read) =
                read_bars_bytes(bytes.clone()).unwrap_or_else(|e| panic!("{codec}: {e:?}"));
            assert_eq!((read_metadata, read), (metadata.clone(), bars()), "{codec}");
            assert_eq!(read_summary_bytes(&bytes).unwrap().rows, 500, "{codec}");
        }
    }
}

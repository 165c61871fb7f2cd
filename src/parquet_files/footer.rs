//! The footer of a series file, read without decoding any bars: the Parquet metadata, where
//! the footer starts in the file (an append writes over it), its raw bytes (what a rollback
//! journal keeps), the barkeep metadata it carries and each row group's timestamp range.
//!
//! Owns: locating and decoding the footer, and checking that it describes a barkeep series.
//! Must not: decide when files are written (that is `cache`'s job).

use std::fs::File;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::Compression;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::statistics::Statistics;

use super::metadata::METADATA_KEY;
use super::schema::{bar_schema, matches};
use super::{Error, SeriesMetadata};

/// `PAR1`, at both ends of every Parquet file.
const MAGIC: &[u8; 4] = b"PAR1";
/// The footer ends with its length (4 bytes, little endian) and the magic.
const TRAILER_LEN: u64 = 8;

/// A decoded footer and where it lies in the file.
#[derive(Debug, Clone)]
pub struct Footer {
    /// The file's length when the footer was read.
    pub file_len: u64,
    /// Offset of the encoded `FileMetaData`: everything before it is row-group data and page
    /// indexes, which an append never changes.
    pub start: u64,
    /// The bytes `[start, file_len)`: the encoded metadata, its length and the magic.
    pub raw: Vec<u8>,
    pub parquet: Arc<ParquetMetaData>,
    pub series: SeriesMetadata,
}

impl Footer {
    /// Reads and checks the footer of `file`.
    pub fn read(file: &File) -> Result<Self, Error> {
        let file_len = file.metadata()?.len();
        if file_len < TRAILER_LEN + MAGIC.len() as u64 {
            return Err(Error::Schema(format!(
                "{file_len} bytes is too short for a parquet file"
            )));
        }
        let mut trailer = [0u8; TRAILER_LEN as usize];
        read_exact_at(file, &mut trailer, file_len - TRAILER_LEN)?;
        if &trailer[4..] != MAGIC {
            return Err(Error::Schema(
                "no parquet magic at the end of the file".into(),
            ));
        }
        let metadata_len = u64::from(u32::from_le_bytes(
            trailer[..4].try_into().expect("four bytes"),
        ));
        let start = file_len
            .checked_sub(TRAILER_LEN + metadata_len)
            .filter(|&s| s >= MAGIC.len() as u64)
            .ok_or_else(|| Error::Schema("the footer length exceeds the file".into()))?;
        let mut raw = vec![0u8; usize::try_from(file_len - start).expect("footer fits memory")];
        read_exact_at(file, &mut raw, start)?;
        Self::decode(file_len, start, raw)
    }

    /// Reads and checks the footer of a whole file held in memory (an object-storage read).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let file_len = bytes.len() as u64;
        if file_len < TRAILER_LEN + MAGIC.len() as u64 || &bytes[bytes.len() - 4..] != MAGIC {
            return Err(Error::Schema("not a parquet file".into()));
        }
        let trailer = &bytes[bytes.len() - TRAILER_LEN as usize..];
        let metadata_len = u64::from(u32::from_le_bytes(
            trailer[..4].try_into().expect("four bytes"),
        ));
        let start = file_len
            .checked_sub(TRAILER_LEN + metadata_len)
            .filter(|&s| s >= MAGIC.len() as u64)
            .ok_or_else(|| Error::Schema("the footer length exceeds the file".into()))?;
        let raw = bytes[usize::try_from(start).expect("in memory")..].to_vec();
        Self::decode(file_len, start, raw)
    }

    fn decode(file_len: u64, start: u64, raw: Vec<u8>) -> Result<Self, Error> {
        let parquet = ParquetMetaDataReader::decode_metadata(&raw[..raw.len() - 8])?;
        let series = series_metadata(&parquet)?;
        Ok(Footer {
            file_len,
            start,
            raw,
            parquet: Arc::new(parquet),
            series,
        })
    }

    pub fn rows(&self) -> u64 {
        u64::try_from(self.parquet.file_metadata().num_rows()).unwrap_or(0)
    }

    pub fn row_groups(&self) -> usize {
        self.parquet.num_row_groups()
    }

    /// The first and last timestamp of a row group, from its statistics (nanoseconds, UTC).
    pub fn timestamp_range(&self, row_group: usize) -> Option<(i64, i64)> {
        timestamp_range(&self.parquet, row_group)
    }

    /// The first and last bar of the file.
    pub fn first_last(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let ranges = (0..self.row_groups()).filter_map(|i| self.timestamp_range(i));
        let (first, last) = ranges.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), r| {
            (
                Some(lo.map_or(r.0, |l| l.min(r.0))),
                Some(hi.map_or(r.1, |h| h.max(r.1))),
            )
        });
        (
            first.map(DateTime::from_timestamp_nanos),
            last.map(DateTime::from_timestamp_nanos),
        )
    }

    /// Bytes referenced by the footer: column chunks and page indexes. The rest of the file
    /// before the footer is dead (left behind by tail rewrites) or the leading magic.
    pub fn live_bytes(&self) -> u64 {
        let chunk_bytes = |c: &parquet::file::metadata::ColumnChunkMetaData| {
            let (_, len) = c.byte_range();
            let index = |l: Option<i32>| u64::try_from(l.unwrap_or(0)).unwrap_or(0);
            len + index(c.column_index_length()) + index(c.offset_index_length())
        };
        self.parquet
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns())
            .map(chunk_bytes)
            .sum()
    }

    /// Metadata for the Arrow reader, reusing this footer (no second read of it), after
    /// checking that the columns are barkeep's and compressed with codecs this build reads.
    pub fn arrow_metadata(&self) -> Result<ArrowReaderMetadata, Error> {
        self.check_codecs()?;
        let arrow = ArrowReaderMetadata::try_new(self.parquet.clone(), ArrowReaderOptions::new())?;
        let expected = bar_schema(self.series.feed.asset_class());
        if !matches(&expected, arrow.schema()) {
            return Err(Error::Schema(format!(
                "expected columns {expected}, found {}",
                arrow.schema()
            )));
        }
        Ok(arrow)
    }

    /// Fails with [`Error::Codec`] for a column chunk this build cannot decompress, naming the
    /// codec rather than calling the file damaged. Read: uncompressed, Snappy (pyarrow's and
    /// DuckDB's default), zstd (polars' and barkeep's), gzip, LZ4 and LZ4_RAW. Not read:
    /// Brotli (never a default; its decoder would add about 45 s of compile time to every
    /// clean build) and LZO (which the parquet crate does not implement).
    fn check_codecs(&self) -> Result<(), Error> {
        let unreadable = self
            .parquet
            .row_groups()
            .iter()
            .flat_map(|rg| rg.columns())
            .find(|c| matches!(c.compression(), Compression::BROTLI(_) | Compression::LZO));
        match unreadable {
            None => Ok(()),
            Some(column) => Err(Error::Codec {
                column: column.column_path().string(),
                codec: match column.compression() {
                    Compression::LZO => "LZO",
                    _ => "Brotli",
                }
                .to_owned(),
            }),
        }
    }
}

fn timestamp_range(meta: &ParquetMetaData, row_group: usize) -> Option<(i64, i64)> {
    match meta.row_group(row_group).column(0).statistics()? {
        Statistics::Int64(s) => Some((*s.min_opt()?, *s.max_opt()?)),
        _ => None,
    }
}

/// The barkeep metadata in a Parquet footer.
fn series_metadata(meta: &ParquetMetaData) -> Result<SeriesMetadata, Error> {
    let text = meta
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|kv| kv.key == METADATA_KEY))
        .and_then(|kv| kv.value.clone())
        .ok_or_else(|| {
            Error::Metadata(format!(
                "no `{METADATA_KEY}` key in the footer (not a barkeep file)"
            ))
        })?;
    SeriesMetadata::from_json(&text)
}

/// Reads at an offset through the shared cursor (portable; nothing else reads this handle
/// concurrently).
fn read_exact_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

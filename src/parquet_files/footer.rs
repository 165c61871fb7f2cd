//! The footer of a series file, read without decoding any bars: the Parquet metadata, where
//! the footer starts in the file (an append writes over it), its raw bytes (what a rollback
//! journal keeps), the barkeep metadata it carries and each row group's timestamp range.
//!
//! Owns: locating and decoding the footer, in one decoder for a file on disk and for a file
//! held in memory, and checking that it describes a barkeep series.
//! Must not: decide when files are written (that is `cache`'s job).

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::Compression;
use parquet::file::FOOTER_SIZE;
use parquet::file::metadata::{FooterTail, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::Statistics;

use super::metadata::METADATA_KEY;
use super::schema::{bar_schema, matches};
use super::{Error, SeriesMetadata};

/// The footer's tail: the metadata's length (4 bytes, little endian) and the magic `PAR1`.
const TAIL_LEN: u64 = FOOTER_SIZE as u64;
/// The magic `PAR1` that also opens every Parquet file, before the first row group.
const LEADING_MAGIC_LEN: u64 = 4;

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
    /// Reads and checks the footer of `file`, and nothing before it.
    pub fn read(file: &File) -> Result<Self, Error> {
        // The length from the file itself: the parquet crate's `Length` of a `File` says 0
        // when it cannot tell, and a disk's failure must stay an i/o error.
        Self::read_from(file, file.metadata()?.len())
    }

    /// Reads and checks the footer of a whole file held in memory (an object-storage read,
    /// or a small local file read at once).
    pub fn from_bytes(bytes: &Bytes) -> Result<Self, Error> {
        Self::read_from(bytes, bytes.len() as u64)
    }

    /// Reads and checks the footer of a file of `file_len` bytes from its last bytes alone
    /// (`tail`, a ranged read of an object's end), which must hold the whole footer: see
    /// [`Footer::start`] for where it starts.
    pub fn from_tail(file_len: u64, tail: Bytes) -> Result<Self, Error> {
        let offset = file_len
            .checked_sub(tail.len() as u64)
            .ok_or_else(|| Error::Schema("more bytes than the file holds".into()))?;
        Self::read_from(&Tail { offset, tail }, file_len)
    }

    /// Where the footer of a file of `file_len` bytes starts, from the file's last
    /// [`FOOTER_SIZE`] bytes (the metadata's length and the magic).
    pub fn start(file_len: u64, last_bytes: &[u8]) -> Result<u64, Error> {
        if file_len < TAIL_LEN + LEADING_MAGIC_LEN {
            return Err(Error::Schema(format!(
                "{file_len} bytes is too short for a parquet file"
            )));
        }
        // An encrypted footer ends in `PARE`, which barkeep never writes and cannot read.
        let tail = FooterTail::try_from(last_bytes)
            .ok()
            .filter(|tail| !tail.is_encrypted_footer())
            .ok_or_else(|| Error::Schema("no parquet magic at the end of the file".into()))?;
        u64::try_from(tail.metadata_length())
            .ok()
            .and_then(|metadata_len| file_len.checked_sub(TAIL_LEN + metadata_len))
            .filter(|&start| start >= LEADING_MAGIC_LEN)
            .ok_or_else(|| Error::Schema("the footer length exceeds the file".into()))
    }

    /// The one footer decoder, wherever the file's `file_len` bytes are (a `File`, `Bytes`,
    /// the tail of an object): the tail gives the metadata's length, then the footer is read
    /// from where it starts.
    fn read_from(source: &impl ChunkReader, file_len: u64) -> Result<Self, Error> {
        let last = file_len.saturating_sub(TAIL_LEN);
        let last_bytes = match file_len < TAIL_LEN + LEADING_MAGIC_LEN {
            true => Bytes::new(),
            false => source.get_bytes(last, FOOTER_SIZE)?,
        };
        let start = Self::start(file_len, &last_bytes)?;
        let raw_len = usize::try_from(file_len - start).expect("a footer length fits in a usize");
        let raw = Vec::from(source.get_bytes(start, raw_len)?);
        let parquet = ParquetMetaDataReader::decode_metadata(&raw[..raw_len - FOOTER_SIZE])?;
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

/// The last bytes of a file, from `offset` to its end, read as the file itself: a read before
/// `offset` fails (the footer was not inside them).
struct Tail {
    offset: u64,
    tail: Bytes,
}

impl Length for Tail {
    fn len(&self) -> u64 {
        self.offset + self.tail.len() as u64
    }
}

impl ChunkReader for Tail {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        Ok(self
            .get_bytes(start, (self.len() - start.min(self.len())) as usize)?
            .reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = start
            .checked_sub(self.offset)
            .and_then(|from| usize::try_from(from).ok())
            .filter(|&from| from + length <= self.tail.len())
            .ok_or_else(|| {
                parquet::errors::ParquetError::General(format!(
                    "bytes {start}..+{length} lie outside the tail read"
                ))
            })?;
        Ok(self.tail.slice(from..from + length))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// What reading a footer from `bytes` says, from a file and from memory.
    fn refusals(bytes: &[u8]) -> (String, String) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        let from_file = Footer::read(&file).unwrap_err().to_string();
        let from_bytes = Footer::from_bytes(&Bytes::copy_from_slice(bytes))
            .unwrap_err()
            .to_string();
        (from_file, from_bytes)
    }

    #[test]
    fn a_file_and_its_bytes_are_refused_alike() {
        let tail = |len: u32, magic: &[u8; 4]| {
            let mut bytes = b"PAR1 some row groups ".to_vec();
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(magic);
            bytes
        };
        for (bytes, said) in [
            (
                b"PAR1PAR1".to_vec(),
                "unexpected schema: 8 bytes is too short for a parquet file",
            ),
            (
                b"PAR1 and nothing a reader could use".to_vec(),
                "unexpected schema: no parquet magic at the end of the file",
            ),
            (
                tail(4, b"PARE"),
                "unexpected schema: no parquet magic at the end of the file",
            ),
            (
                tail(1_000, b"PAR1"),
                "unexpected schema: the footer length exceeds the file",
            ),
            (tail(4, b"PAR1"), "not a readable parquet file"),
        ] {
            let (from_file, from_bytes) = refusals(&bytes);
            assert_eq!(from_file, said, "{bytes:?}");
            assert_eq!(from_bytes, said, "{bytes:?}");
        }
    }
}

//! Reading a series file held elsewhere (an object in a bucket) by byte ranges: the footer
//! from the file's last bytes, then only the pages of the rows a time range needs, one row
//! group at a time.
//!
//! Owns: deciding which byte ranges a read needs (the footer, the page indexes, the pages of
//! the selected rows), coalescing neighbours into one request, and decoding what arrives.
//! Must not: fetch anything itself; the caller hands in a `fetch` that reads byte ranges
//! (and knows about buckets, versions and retries).
//!
//! Rows are sorted by timestamp, so the timestamp column's page index (min and max per page)
//! tells which pages hold a range's rows; the other columns' offset indexes then locate the
//! same rows in their own pages. Memory is bounded by one row group's selected pages and one
//! chunk of bars, whatever the size of the file.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::RecordBatch;
use bytes::Bytes;
use parquet::DecodeResult;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, RowSelection, RowSelector};
use parquet::arrow::push_decoder::{ParquetPushDecoder, ParquetPushDecoderBuilder};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataPushDecoder};
use parquet::file::page_index::column_index::ColumnIndexMetaData;

use super::footer::Footer;
use super::read::{BarChunks, CHUNK_ROWS, overlapping_row_groups};
use super::{Error, SeriesMetadata};
use crate::market::Interval;

/// Bytes read from the end of a file to find its footer: enough for the footer and page
/// indexes of typical series (a few KiB for a daily series, tens for a long minute series),
/// and for a daily series of a few years, the whole file. A larger footer costs one more read.
pub const TAIL_BYTES: u64 = 64 << 10;

/// Requested ranges closer than this are fetched as one: a request costs more than reading
/// a few KiB that are not needed.
const COALESCE_GAP: u64 = 8 << 10;

/// Reads byte ranges of the file, in the order given.
pub type Fetch = Box<dyn FnMut(&[Range<u64>]) -> Result<Vec<Bytes>, Error> + Send>;

/// What the last bytes of a file said about its footer.
#[derive(Debug)]
pub enum TailFooter {
    /// The footer, decoded and checked.
    Read(Box<Footer>),
    /// The footer starts before the bytes given: read the file from this offset to its end.
    StartsAt(u64),
}

/// The footer of a file of `file_len` bytes whose last bytes are `tail`, or where it starts
/// when `tail` does not hold all of it ([`Footer::start`] reads the trailer, the one
/// decoder reads the footer).
pub fn footer_from_tail(file_len: u64, tail: &Bytes) -> Result<TailFooter, Error> {
    let offset = file_len
        .checked_sub(tail.len() as u64)
        .ok_or_else(|| Error::Schema("more bytes than the file holds".into()))?;
    let trailer = parquet::file::FOOTER_SIZE;
    if tail.len() < trailer && offset > 0 {
        return Ok(TailFooter::StartsAt(
            file_len.saturating_sub(trailer as u64),
        ));
    }
    let start = Footer::start(file_len, &tail[tail.len().saturating_sub(trailer)..])?;
    if start < offset {
        return Ok(TailFooter::StartsAt(start));
    }
    Footer::from_tail(file_len, tail.clone()).map(|f| TailFooter::Read(Box::new(f)))
}

/// Starts reading the bars with timestamps inside `range` (all when `None`) of a file whose
/// `footer` was read from its last bytes `tail`; every other byte comes from `fetch`.
pub fn scan_ranges(
    footer: Footer,
    tail: Bytes,
    range: Option<Interval>,
    mut fetch: Fetch,
) -> Result<(SeriesMetadata, BarChunks), Error> {
    footer.arrow_metadata()?;
    let file_len = footer.file_len;
    let tail_range = file_len - tail.len() as u64..file_len;
    let row_groups = overlapping_row_groups(&footer, range);
    // The page indexes sit just before the footer, usually inside the tail.
    let mut indexes =
        ParquetMetaDataPushDecoder::try_new_with_metadata(file_len, (*footer.parquet).clone())?;
    indexes.push_range(tail_range.clone(), tail.clone())?;
    let metadata = loop {
        match indexes.try_decode()? {
            DecodeResult::NeedsData(ranges) => {
                let bytes = fetch_coalesced(&mut fetch, &ranges, Some((&tail_range, &tail)))?;
                indexes.push_ranges(ranges, bytes)?;
            }
            DecodeResult::Data(metadata) => break Arc::new(metadata),
            DecodeResult::Finished => {
                return Err(Error::Schema("the page indexes could not be read".into()));
            }
        }
    };
    drop(indexes);
    let selection = range.and_then(|r| rows_inside(&metadata, &row_groups, r));
    let mut builder = ParquetPushDecoderBuilder::try_new_decoder(metadata)?
        .with_row_groups(row_groups)
        .with_batch_size(CHUNK_ROWS);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    let batches = RangedBatches {
        decoder: builder.build()?,
        reader: None,
        fetch,
        tail_range,
        tail,
    };
    Ok((
        footer.series,
        BarChunks::from_batches(Box::new(batches), range),
    ))
}

/// The record batches of a ranged read: row group after row group, each one's pages fetched
/// when the decoder asks for them and dropped once decoded.
struct RangedBatches {
    decoder: ParquetPushDecoder,
    reader: Option<ParquetRecordBatchReader>,
    fetch: Fetch,
    tail_range: Range<u64>,
    /// The file's last bytes, already read: the final row group is often inside them.
    tail: Bytes,
}

impl Iterator for RangedBatches {
    type Item = Result<RecordBatch, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(batch) => return Some(batch.map_err(Error::from)),
                    None => self.reader = None,
                }
            }
            match self.decoder.try_next_reader() {
                Ok(DecodeResult::NeedsData(ranges)) => {
                    let tail = Some((&self.tail_range, &self.tail));
                    match fetch_coalesced(&mut self.fetch, &ranges, tail) {
                        Ok(bytes) => {
                            if let Err(e) = self.decoder.push_ranges(ranges, bytes) {
                                return Some(Err(e.into()));
                            }
                        }
                        Err(e) => return Some(Err(e)),
                    }
                }
                Ok(DecodeResult::Data(reader)) => self.reader = Some(reader),
                Ok(DecodeResult::Finished) => return None,
                Err(e) => return Some(Err(e.into())),
            }
        }
    }
}

/// The bytes of `ranges`, in order: from `known` bytes where they hold a range, the rest
/// fetched with neighbours closer than [`COALESCE_GAP`] merged into one request.
fn fetch_coalesced(
    fetch: &mut Fetch,
    ranges: &[Range<u64>],
    known: Option<(&Range<u64>, &Bytes)>,
) -> Result<Vec<Bytes>, Error> {
    let inside = |r: &Range<u64>| known.filter(|(k, _)| k.start <= r.start && r.end <= k.end);
    let mut missing: Vec<Range<u64>> = ranges
        .iter()
        .filter(|r| inside(r).is_none())
        .cloned()
        .collect();
    missing.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in missing {
        match merged.last_mut() {
            Some(last) if r.start <= last.end + COALESCE_GAP => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let fetched = if merged.is_empty() {
        Vec::new()
    } else {
        fetch(&merged)?
    };
    if fetched.len() != merged.len() {
        return Err(Error::Schema(
            "a ranged read returned the wrong ranges".into(),
        ));
    }
    let slice = |from: &Range<u64>, bytes: &Bytes, r: &Range<u64>| -> Result<Bytes, Error> {
        let start = usize::try_from(r.start - from.start).expect("in memory");
        let end = usize::try_from(r.end - from.start).expect("in memory");
        bytes
            .get(start..end)
            .map(|_| bytes.slice(start..end))
            .ok_or_else(|| Error::Schema("the file is shorter than its footer says".into()))
    };
    ranges
        .iter()
        .map(|r| match inside(r) {
            Some((from, bytes)) => slice(from, bytes, r),
            None => {
                let i = merged.partition_point(|m| m.end < r.end);
                let (from, bytes) = merged
                    .get(i)
                    .zip(fetched.get(i))
                    .filter(|(m, _)| m.start <= r.start)
                    .ok_or_else(|| Error::Schema("a ranged read missed a range".into()))?;
                slice(from, bytes, r)
            }
        })
        .collect()
}

/// The rows of `row_groups` (in that order) on pages of the timestamp column that may hold
/// a bar inside `range`, from its page index; `None` when the file has no page index.
fn rows_inside(
    metadata: &ParquetMetaData,
    row_groups: &[usize],
    range: Interval,
) -> Option<RowSelection> {
    let page_index = metadata.page_index()?;
    let start = range.start.timestamp_nanos_opt();
    let end = range.end.timestamp_nanos_opt();
    let mut selectors = Vec::new();
    for &rg in row_groups {
        let rows = usize::try_from(metadata.row_group(rg).num_rows()).ok()?;
        let ColumnIndexMetaData::INT64(index) = page_index.column_index(rg, 0)? else {
            return None;
        };
        let pages = page_index.offset_index(rg, 0)?.page_locations();
        let first_row = |page: usize| {
            pages
                .get(page)
                .map_or(Some(rows), |p| usize::try_from(p.first_row_index).ok())
        };
        let mut wanted: Option<(usize, usize)> = None;
        for page in 0..pages.len() {
            let (Some(&min), Some(&max)) = (index.min_value(page), index.max_value(page)) else {
                // A page without statistics may hold anything.
                wanted = Some((wanted.map_or(page, |w| w.0), page));
                continue;
            };
            if start.is_none_or(|s| max >= s) && end.is_none_or(|e| min < e) {
                wanted = Some((wanted.map_or(page, |w| w.0), page));
            }
        }
        match wanted {
            None => selectors.push(RowSelector::skip(rows)),
            Some((first, last)) => {
                let (from, to) = (first_row(first)?, first_row(last + 1)?);
                selectors.extend([
                    RowSelector::skip(from),
                    RowSelector::select(to - from),
                    RowSelector::skip(rows - to),
                ]);
            }
        }
    }
    Some(RowSelection::from(selectors))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;
    use crate::market::{Bar, Feed, IntervalSet, Volume};
    use crate::parquet_files::read::read_bars_bytes;
    use crate::parquet_files::write::write_series;

    /// 300,000 minute bars: two large row groups and the final day's.
    fn file() -> (SeriesMetadata, Bytes) {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let bars: Vec<Bar> = (0..300_000)
            .map(|i| Bar {
                timestamp: start + TimeDelta::minutes(i),
                open: 1.0 + (i % 97) as f64,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: Volume::Shares(u64::try_from(i * 7 % 10_007).unwrap()),
                trade_count: 3,
                vwap: 1.25 + (i % 1013) as f64 / 1e4,
            })
            .collect();
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
        let bytes = write_series(Vec::new(), &metadata, &bars).unwrap();
        (metadata, Bytes::from(bytes))
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::minutes(minutes)
    }

    #[test]
    fn a_ranged_read_fetches_only_the_pages_of_its_rows_and_reads_what_a_whole_read_does() {
        let (metadata, bytes) = file();
        let len = bytes.len() as u64;
        // A tail too short for the footer asks for more, once.
        let short = bytes.slice(bytes.len() - 100..);
        let TailFooter::StartsAt(from) = footer_from_tail(len, &short).unwrap() else {
            panic!("100 bytes cannot hold the footer");
        };
        let tail = bytes.slice(usize::try_from(from).unwrap()..);
        let TailFooter::Read(footer) = footer_from_tail(len, &tail).unwrap() else {
            panic!("the footer fits from {from}");
        };
        assert_eq!(footer.series, metadata);
        assert_eq!(footer.rows(), 300_000);

        for (range, most) in [
            (Interval::new(at(150_000), at(152_000)).unwrap(), 0.05),
            (Interval::new(at(299_000), at(400_000)).unwrap(), 0.05),
            (Interval::new(at(0), at(300_000)).unwrap(), 1.0),
        ] {
            let fetched = std::sync::Arc::new(Mutex::new(0u64));
            let counter = fetched.clone();
            let whole = bytes.clone();
            let fetch: Fetch = Box::new(move |ranges: &[Range<u64>]| {
                *counter.lock().unwrap() += ranges.iter().map(|r| r.end - r.start).sum::<u64>();
                Ok(ranges
                    .iter()
                    .map(|r| whole.slice(r.start as usize..r.end as usize))
                    .collect())
            });
            let tail = bytes.slice(bytes.len() - TAIL_BYTES as usize..);
            let TailFooter::Read(footer) = footer_from_tail(len, &tail).unwrap() else {
                panic!("the footer fits the tail");
            };
            let (_, chunks) = scan_ranges(*footer, tail, Some(range), fetch).unwrap();
            let mut bars = Vec::new();
            for chunk in chunks {
                chunk.unwrap().extend_bars(&mut bars);
            }
            let (_, all) = read_bars_bytes(bytes.clone()).unwrap();
            let expected: Vec<Bar> = all
                .into_iter()
                .filter(|b| range.contains(b.timestamp))
                .collect();
            assert_eq!(bars, expected, "{range:?}");
            let fetched = *fetched.lock().unwrap();
            assert!(
                fetched as f64 <= most * len as f64,
                "{range:?}: {fetched} of {len} bytes"
            );
        }
    }
}

//! Appending row groups to a series file in place (see `shared/STORAGE_NOTES.md`): the new
//! rows are encoded as if the file continued at the start of its footer, and a merged footer
//! (old row groups, then the new ones, with updated barkeep metadata) follows them. The file
//! stays one standard Parquet file: readers find column chunks only through the footer's
//! offsets, so bytes no footer references (row groups replaced by a tail rewrite) are skipped.
//!
//! Owns: the bytes of the tail. Must not: write files (the store writes the tail under a
//! rollback journal).

use std::io::Write;

use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};

use super::footer::Footer;
use super::metadata::METADATA_KEY;
use super::record_batch::to_record_batch;
use super::schema::bar_schema;
use super::write::{BATCH_ROWS, writer_properties};
use super::{Error, SeriesMetadata};
use crate::market::Bar;

/// The bytes to write at `at` (the old footer's start), after which the file ends.
#[derive(Debug)]
pub struct Tail {
    pub at: u64,
    pub bytes: Vec<u8>,
}

/// Whether rows barkeep encodes can join the file's row groups: its Parquet schema is the one
/// barkeep writes. A file another tool rewrote (pyarrow, polars) reads the same but may
/// describe its columns differently (another root name, other field ids); the store then
/// rewrites it whole, in barkeep's own layout, instead of appending.
pub fn appendable(footer: &Footer) -> bool {
    ArrowSchemaConverter::new()
        .convert(&bar_schema(footer.series.feed.asset_class()))
        .is_ok_and(|ours| ours == *footer.parquet.file_metadata().schema_descr())
}

/// Encodes a tail that keeps the first `keep` row groups of the file described by `footer`
/// and adds `bars` (strictly increasing, all after the kept rows) as new row groups, with
/// `series` as the new barkeep metadata. Row groups after `keep` are dropped from the footer
/// (their bytes stay behind, dead, until the next compaction).
pub fn encode_tail(
    footer: &Footer,
    keep: usize,
    series: &SeriesMetadata,
    bars: &[Bar],
) -> Result<Tail, Error> {
    let keep = keep.min(footer.row_groups());
    if let (Some(first), Some((_, kept_max))) = (
        bars.first(),
        keep.checked_sub(1)
            .and_then(|last| footer.timestamp_range(last)),
    ) && first.timestamp.timestamp_nanos_opt().unwrap_or(i64::MIN) <= kept_max
    {
        return Err(Error::Order(format!(
            "appended bar {} is not after the kept rows",
            first.timestamp
        )));
    }
    let class = series.feed.asset_class();
    let at = footer.start;
    // The writer counts every byte it is given, so padding it to `at` makes the offsets in
    // the metadata it returns absolute offsets in the real file (parquet's `write_all` is
    // documented for writing bytes that readers skip); the sink drops the padding.
    let sink = OffsetSink {
        skip: at,
        seen: 0,
        kept: Vec::new(),
    };
    let mut writer = ArrowWriter::try_new(
        sink,
        bar_schema(class),
        Some(writer_properties(series, bars.len())?),
    )?;
    let mut pad = at.saturating_sub(writer.bytes_written() as u64);
    while pad > 0 {
        let n = usize::try_from(pad.min(ZEROS.len() as u64)).expect("bounded by ZEROS");
        writer.write_all(&ZEROS[..n])?;
        pad -= n as u64;
    }
    for chunk in bars.chunks(BATCH_ROWS) {
        writer.write(&to_record_batch(class, chunk)?)?;
    }
    let added = writer.finish()?;
    let mut bytes = std::mem::take(&mut writer.inner_mut().kept);
    // Drop the footer the writer wrote for the new rows alone: keep chunks and page indexes.
    let own_footer = 8 + trailer_metadata_len(&bytes)?;
    bytes.truncate(bytes.len() - own_footer);

    let old = footer.parquet.file_metadata();
    if added.file_metadata().schema_descr() != old.schema_descr() {
        return Err(Error::Schema(
            "the appended rows' parquet schema differs from the file's".into(),
        ));
    }
    let row_groups: Vec<RowGroupMetaData> = footer.parquet.row_groups()[..keep]
        .iter()
        .cloned()
        .chain(added.row_groups().iter().cloned())
        .enumerate()
        .map(|(i, rg)| {
            let ordinal = i32::try_from(i)
                .map_err(|_| Error::Schema(format!("{i} row groups are too many")))?;
            Ok(rg.into_builder().set_ordinal(ordinal).build()?)
        })
        .collect::<Result<_, Error>>()?;
    let num_rows = row_groups.iter().map(RowGroupMetaData::num_rows).sum();
    let key_values: Vec<KeyValue> = old
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter(|kv| kv.key != METADATA_KEY)
        .cloned()
        .chain([KeyValue::new(METADATA_KEY.to_owned(), series.to_json())])
        .collect();
    let merged = ParquetMetaData::new(
        FileMetaData::new(
            old.version(),
            num_rows,
            added.file_metadata().created_by().map(str::to_owned),
            Some(key_values),
            old.schema_descr_ptr(),
            old.column_orders().cloned(),
        ),
        row_groups,
    );
    // No page index is attached, so the writer keeps every chunk's page-index offsets as
    // they are: the old ones before `at`, the new ones in `bytes`.
    ParquetMetaDataWriter::new(&mut bytes, &merged).finish()?;
    Ok(Tail { at, bytes })
}

/// Zeros to pad the writer's byte count with; never stored.
static ZEROS: [u8; 1 << 16] = [0; 1 << 16];

/// Drops the first `skip` bytes written to it and keeps the rest.
struct OffsetSink {
    skip: u64,
    seen: u64,
    kept: Vec<u8>,
}

impl Write for OffsetSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let dropped = usize::try_from(self.skip.saturating_sub(self.seen))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        self.kept.extend_from_slice(&buf[dropped..]);
        self.seen += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of the encoded metadata from a file's last 8 bytes.
fn trailer_metadata_len(bytes: &[u8]) -> Result<usize, Error> {
    let n = bytes.len();
    if n < 8 || &bytes[n - 4..] != b"PAR1" {
        return Err(Error::Schema(
            "the encoded tail has no parquet trailer".into(),
        ));
    }
    let len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().expect("four bytes"));
    let len = usize::try_from(len).expect("u32 fits usize");
    if len + 8 > n {
        return Err(Error::Schema(
            "the encoded tail's footer is truncated".into(),
        ));
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom};

    use chrono::{DateTime, TimeDelta};
    use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
    use parquet::file::metadata::PageIndexPolicy;

    use super::*;
    use crate::market::{Feed, IntervalSet, Volume};
    use crate::parquet_files::read::read_bars;
    use crate::parquet_files::write::write_series;

    fn bar(minute: i64) -> Bar {
        #[allow(clippy::cast_precision_loss)]
        let price = 100.0 + minute as f64 / 8.0;
        Bar {
            timestamp: DateTime::from_timestamp(1_704_200_000, 0).unwrap()
                + TimeDelta::minutes(minute),
            open: price,
            high: price + 1.0,
            low: price - 1.0,
            close: price + 0.5,
            volume: Volume::Shares(u64::try_from(minute).unwrap() * 7),
            trade_count: 3,
            vwap: price,
        }
    }

    fn series(tag: u32) -> SeriesMetadata {
        SeriesMetadata {
            symbol: "AAPL".parse().unwrap(),
            feed: Feed::Sip,
            timeframe: "1Min".parse().unwrap(),
            coverage: IntervalSet::new(),
            provisional: IntervalSet::new(),
            updated_at: DateTime::from_timestamp(1_800_000_000 + i64::from(tag), 0).unwrap(),
            closed: None,
            renamed_from: None,
        }
    }

    fn write(bars: &[Bar], meta: &SeriesMetadata) -> std::fs::File {
        let file = tempfile::tempfile().unwrap();
        write_series(&file, meta, bars).unwrap();
        file
    }

    fn apply(file: &mut std::fs::File, tail: &Tail) {
        file.seek(SeekFrom::Start(tail.at)).unwrap();
        file.write_all(&tail.bytes).unwrap();
        file.set_len(tail.at + tail.bytes.len() as u64).unwrap();
    }

    fn reopen(file: &std::fs::File) -> std::fs::File {
        let mut f = file.try_clone().unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    /// Pins the behaviour the append rests on: offsets recorded after `write_all` padding are
    /// absolute, so the appended file reads like a fresh one, page indexes included.
    #[test]
    fn appended_row_groups_read_back_like_a_fresh_file() {
        let all: Vec<Bar> = (0..3_000).map(bar).collect();
        let mut file = write(&all[..2_000], &series(0));
        for (i, part) in [&all[2_000..2_500], &all[2_500..]].into_iter().enumerate() {
            let footer = Footer::read(&file).unwrap();
            let tail =
                encode_tail(&footer, footer.row_groups(), &series(1 + i as u32), part).unwrap();
            assert_eq!(tail.at, footer.start);
            apply(&mut file, &tail);
        }
        let footer = Footer::read(&file).unwrap();
        // The fresh write's body and its tail group (the last day), then one per append.
        assert_eq!(footer.row_groups(), 4);
        assert_eq!(footer.rows(), 3_000);
        assert_eq!(footer.series, series(2));
        assert_eq!(footer.live_bytes() + 4, footer.start, "no dead bytes");
        let ordinals: Vec<_> = footer
            .parquet
            .row_groups()
            .iter()
            .map(|g| g.ordinal())
            .collect();
        assert_eq!(ordinals, vec![Some(0), Some(1), Some(2), Some(3)]);
        let (meta, bars) = read_bars(reopen(&file), None).unwrap();
        assert_eq!(meta, series(2));
        assert_eq!(bars, all);

        // Page indexes of old and new row groups are where the footer says.
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(reopen(&file), options).unwrap();
        let meta = builder.metadata().clone();
        assert!(meta.page_index().is_some());
        let rows: usize = builder
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        assert_eq!(rows, 3_000);
    }

    /// Large writes are zstd-compressed, small ones (and small appends to a large file) are
    /// not, and a file mixing both reads back whole.
    #[test]
    fn small_row_groups_are_stored_uncompressed_and_mix_with_compressed_ones() {
        use crate::parquet_files::write::COMPRESS_MIN_ROWS;
        use parquet::basic::Compression;
        let codecs = |footer: &Footer| -> Vec<Vec<Compression>> {
            footer
                .parquet
                .row_groups()
                .iter()
                .map(|g| g.columns().iter().map(|c| c.compression()).collect())
                .collect()
        };
        let is_zstd = |c: &Compression| matches!(c, Compression::ZSTD(_));
        let small: Vec<Bar> = (0..300).map(bar).collect();
        let footer = Footer::read(&write(&small, &series(0))).unwrap();
        assert!(
            codecs(&footer)
                .iter()
                .flatten()
                .all(|c| *c == Compression::UNCOMPRESSED)
        );

        let n = i64::try_from(COMPRESS_MIN_ROWS).unwrap() + 500;
        let all: Vec<Bar> = (0..n + 50).map(bar).collect();
        let split = usize::try_from(n).unwrap();
        let mut file = write(&all[..split], &series(0));
        let footer = Footer::read(&file).unwrap();
        assert!(codecs(&footer).iter().flatten().all(is_zstd));
        let keep = footer.row_groups();
        apply(
            &mut file,
            &encode_tail(&footer, keep, &series(1), &all[split..]).unwrap(),
        );
        let footer = Footer::read(&file).unwrap();
        let codecs = codecs(&footer);
        assert!(codecs[..keep].iter().flatten().all(is_zstd));
        assert!(
            codecs[keep..]
                .iter()
                .flatten()
                .all(|c| *c == Compression::UNCOMPRESSED)
        );
        let (_, bars) = read_bars(reopen(&file), None).unwrap();
        assert_eq!(bars, all);
    }

    #[test]
    fn a_tail_rewrite_replaces_the_last_row_group_and_leaves_dead_bytes() {
        let mut file = write(&(0..100).map(bar).collect::<Vec<_>>(), &series(0));
        let footer = Footer::read(&file).unwrap();
        apply(
            &mut file,
            &encode_tail(&footer, 1, &series(1), &[bar(100), bar(101)]).unwrap(),
        );
        let footer = Footer::read(&file).unwrap();
        let mut replaced = bar(101);
        replaced.close = 1.0;
        let tail = encode_tail(&footer, 1, &series(2), &[replaced, bar(102)]).unwrap();
        apply(&mut file, &tail);
        let footer = Footer::read(&file).unwrap();
        assert_eq!(footer.row_groups(), 2);
        assert!(
            footer.live_bytes() + 4 < footer.start,
            "the replaced group is dead"
        );
        let (_, bars) = read_bars(reopen(&file), None).unwrap();
        let mut expected: Vec<Bar> = (0..100).map(bar).collect();
        expected.extend([replaced, bar(102)]);
        assert_eq!(bars, expected);
    }

    #[test]
    fn bars_not_after_the_kept_rows_are_refused() {
        let file = write(&(0..10).map(bar).collect::<Vec<_>>(), &series(0));
        let footer = Footer::read(&file).unwrap();
        assert!(matches!(
            encode_tail(&footer, 1, &series(1), &[bar(9)]),
            Err(Error::Order(_))
        ));
        encode_tail(&footer, 0, &series(1), &[bar(9)]).unwrap();
    }
}

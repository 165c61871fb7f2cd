//! The store: the one place that reads a series from the cache and commits changes to it.
//!
//! Every write goes through [`Store::commit`]: merge the new bars into what is stored, extend
//! the coverage, and replace the file atomically (see [`atomic_file`]). Writers must hold the
//! series lock.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::bucket_store::BucketStore;
use super::layout::SeriesKey;
use super::lock::{self, SeriesLock};
use super::{Error, atomic_file};
use crate::market::{Bar, Interval, IntervalSet};
use crate::parquet_files::read::{self, FileSummary};
use crate::parquet_files::{self, SeriesMetadata};

/// A series as stored: its metadata and (some of) its bars.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub metadata: SeriesMetadata,
    pub bars: Vec<Bar>,
}

/// What Alpaca answered for one series, ready to be committed.
#[derive(Debug, Clone, Default)]
pub struct SeriesUpdate {
    /// The bars received, sorted by timestamp.
    pub bars: Vec<Bar>,
    /// The intervals Alpaca was asked for and answered: stored bars inside them are replaced
    /// by `bars` (a newer answer wins, and a bar that vanished from the answer goes).
    pub answered: Vec<Interval>,
    /// The settled part of `answered`, added to the coverage.
    pub covered: Vec<Interval>,
}

/// The effect of a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Bars at timestamps the file did not hold before.
    pub bars_added: u64,
    /// Stored bars whose values changed (a bar fetched while still forming, now final).
    pub bars_replaced: u64,
    pub rows: u64,
    /// False when the commit changed nothing, so no file was written.
    pub written: bool,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Set when the cache lives in object storage (see `bucket_store`).
    bucket: Option<BucketStore>,
}

impl Store {
    pub fn new(root: PathBuf) -> Self {
        Self { root, bucket: None }
    }

    /// A cache in object storage at `url` (`s3://BUCKET/PREFIX`, `gs://...`, `az://...`).
    pub fn open_bucket(url: &str) -> Result<Self, Error> {
        Ok(Self {
            root: PathBuf::from(url),
            bucket: Some(BucketStore::open(url)?),
        })
    }

    /// The bucket behind this store, if it lives in object storage.
    pub fn bucket(&self) -> Option<&BucketStore> {
        self.bucket.as_ref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a series lives: a file path, or the object's URL for a bucket.
    pub fn path(&self, key: &SeriesKey) -> PathBuf {
        match &self.bucket {
            Some(bucket) => PathBuf::from(bucket.display(key)),
            None => self.root.join(key.relative_path()),
        }
    }

    pub(crate) fn damaged(&self, key: &SeriesKey, source: parquet_files::Error) -> Error {
        Error::Damaged {
            path: self.path(key),
            symbol: key.symbol.to_string(),
            timeframe: key.timeframe,
            source,
        }
    }

    fn open(&self, key: &SeriesKey) -> Result<Option<std::fs::File>, Error> {
        match fs_err::File::open(self.path(key)) {
            Ok(file) => Ok(Some(file.into_file())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The footer of a series (metadata, rows, first and last bar); `None` when not cached.
    pub fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, Error> {
        if let Some(bucket) = &self.bucket {
            let Some((bytes, _)) = bucket.get(key, false)? else {
                return Ok(None);
            };
            let summary = read::read_summary(bytes).map_err(|e| self.damaged(key, e))?;
            self.check_identity(key, &summary.metadata)?;
            return Ok(Some(summary));
        }
        let Some(file) = self.open(key)? else {
            return Ok(None);
        };
        let summary = read::read_summary(file).map_err(|e| self.damaged(key, e))?;
        self.check_identity(key, &summary.metadata)?;
        Ok(Some(summary))
    }

    /// The bars of a series inside `range` (all when `None`); `None` when not cached.
    pub fn read_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<StoredSeries>, Error> {
        if let Some(bucket) = &self.bucket {
            let Some((bytes, _)) = bucket.get(key, false)? else {
                return Ok(None);
            };
            let (metadata, bars) =
                read::read_bars(bytes, range).map_err(|e| self.damaged(key, e))?;
            self.check_identity(key, &metadata)?;
            return Ok(Some(StoredSeries { metadata, bars }));
        }
        let Some(file) = self.open(key)? else {
            return Ok(None);
        };
        let (metadata, bars) = read::read_bars(file, range).map_err(|e| self.damaged(key, e))?;
        self.check_identity(key, &metadata)?;
        Ok(Some(StoredSeries { metadata, bars }))
    }

    /// A file whose metadata names another series was copied or renamed by hand: never serve it.
    pub(crate) fn check_identity(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
    ) -> Result<(), Error> {
        if metadata.symbol == key.symbol
            && metadata.feed == key.feed
            && metadata.timeframe == key.timeframe
        {
            Ok(())
        } else {
            let found = SeriesKey::new(metadata.symbol.clone(), metadata.feed, metadata.timeframe);
            Err(self.damaged(
                key,
                parquet_files::Error::Metadata(format!("the file holds {found}")),
            ))
        }
    }

    /// Takes the write lock of a series (see [`lock`]). Blocking: call off the async runtime.
    /// In object storage there is nothing to lock: commits are conditional puts instead.
    pub fn lock(&self, key: &SeriesKey, wait: bool) -> Result<SeriesLock, Error> {
        if self.bucket.is_some() {
            return Ok(SeriesLock::detached());
        }
        lock::acquire(&self.path(key), wait)
    }

    /// Merges `update` into the stored series and replaces the file atomically.
    pub fn commit(
        &self,
        key: &SeriesKey,
        _lock: &SeriesLock,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error> {
        if let Some(bucket) = &self.bucket {
            return bucket.commit(self, key, update, now);
        }
        let stored = self.read_bars(key, None)?;
        let Some((metadata, bars, mut summary)) = merge_update(key, stored, update, now) else {
            return Ok(CommitSummary::default());
        };
        self.replace(key, &metadata, &bars)?;
        summary.written = true;
        Ok(summary)
    }

    /// Writes a whole series through temp file + fsync + rename + directory fsync.
    pub fn replace(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error> {
        if let Some(bucket) = &self.bucket {
            return bucket.replace(key, metadata, bars);
        }
        let path = self.path(key);
        atomic_file::replace(&path, |file| {
            let writer = parquet_files::write::write_series(BufWriter::new(file), metadata, bars)
                .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            Ok(writer
                .into_inner()
                .map_err(std::io::IntoInnerError::into_error)?)
        })
    }

    /// Every series file in the cache, sorted. Foreign files are ignored.
    pub fn list(&self) -> Result<Vec<SeriesKey>, Error> {
        if let Some(bucket) = &self.bucket {
            return bucket.list();
        }
        let mut keys = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut |relative| {
            if let Some(key) = SeriesKey::from_relative_path(relative) {
                keys.push(key);
            }
        })?;
        keys.sort();
        Ok(keys)
    }
}

/// Visits every file up to four levels below `dir` (the depth of the layout), with its path
/// relative to the root.
fn walk(
    dir: &Path,
    relative: &mut Vec<std::ffi::OsString>,
    visit: &mut dyn FnMut(&Path),
) -> Result<(), Error> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        relative.push(entry.file_name());
        let file_type = entry.file_type()?;
        if file_type.is_dir() && relative.len() < 4 {
            walk(&entry.path(), relative, visit)?;
        } else if file_type.is_file() && relative.len() == 4 {
            visit(&relative.iter().collect::<PathBuf>());
        }
        relative.pop();
    }
    Ok(())
}

/// The series after `update`: stored bars outside the answered ranges plus the new bars,
/// coverage extended by the settled ranges, the rest of the answered ranges provisional.
/// `None` when nothing would change (no write needed).
pub(crate) fn merge_update(
    key: &SeriesKey,
    stored: Option<StoredSeries>,
    update: SeriesUpdate,
    now: DateTime<Utc>,
) -> Option<(SeriesMetadata, Vec<Bar>, CommitSummary)> {
    let (old_coverage, old_provisional, old_bars) = match stored {
        Some(s) => (s.metadata.coverage, s.metadata.provisional, s.bars),
        None => (IntervalSet::new(), IntervalSet::new(), Vec::new()),
    };
    let answered = IntervalSet::from_intervals(update.answered.iter().copied());
    let (bars, mut summary) = merge(&old_bars, update.bars, &answered);
    let mut coverage = old_coverage.clone();
    for interval in update.covered {
        coverage.insert(interval);
    }
    // Answered but unsettled ranges stay provisional until a later answer settles them.
    let mut provisional = old_provisional.clone();
    provisional.insert_all(&answered);
    let provisional = provisional.difference(&coverage);
    summary.rows = bars.len() as u64;
    let removed = old_bars.len() as u64 + summary.bars_added != summary.rows;
    if summary.bars_added == 0
        && summary.bars_replaced == 0
        && !removed
        && coverage == old_coverage
        && provisional == old_provisional
    {
        return None;
    }
    let metadata = SeriesMetadata {
        symbol: key.symbol.clone(),
        feed: key.feed,
        timeframe: key.timeframe,
        coverage,
        provisional,
        updated_at: now,
    };
    Some((metadata, bars, summary))
}

/// Stored bars outside `answered`, plus the new bars; counts what changed.
fn merge(old: &[Bar], new: Vec<Bar>, answered: &IntervalSet) -> (Vec<Bar>, CommitSummary) {
    let mut summary = CommitSummary::default();
    let mut merged = Vec::with_capacity(old.len() + new.len());
    let mut old_iter = old.iter().peekable();
    for bar in new {
        while let Some(o) = old_iter.next_if(|o| o.timestamp < bar.timestamp) {
            if !answered.contains(o.timestamp) {
                merged.push(*o);
            }
        }
        match old_iter.next_if(|o| o.timestamp == bar.timestamp) {
            Some(o) if *o != bar => summary.bars_replaced += 1,
            Some(_) => {}
            None => summary.bars_added += 1,
        }
        merged.push(bar);
    }
    merged.extend(
        old_iter
            .filter(|o| !answered.contains(o.timestamp))
            .copied(),
    );
    (merged, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{Feed, Volume};
    use chrono::TimeDelta;

    fn bar(minute: i64, close: f64) -> Bar {
        Bar {
            timestamp: DateTime::from_timestamp(1_704_200_000, 0).unwrap()
                + TimeDelta::minutes(minute),
            open: close,
            high: close,
            low: close,
            close,
            volume: Volume::Shares(100),
            trade_count: 3,
            vwap: close,
        }
    }

    fn key() -> SeriesKey {
        SeriesKey::new("AAPL".parse().unwrap(), Feed::Sip, "1Min".parse().unwrap())
    }

    fn span(a: i64, b: i64) -> Interval {
        Interval::new(bar(a, 0.0).timestamp, bar(b, 0.0).timestamp).unwrap()
    }

    #[test]
    fn commit_merges_replaces_answered_bars_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let now = bar(100, 0.0).timestamp;
        let lock = store.lock(&key(), true).unwrap();
        let first = SeriesUpdate {
            bars: vec![bar(0, 1.0), bar(1, 2.0), bar(5, 3.0)],
            answered: vec![span(0, 10)],
            covered: vec![span(0, 4)],
        };
        let s = store.commit(&key(), &lock, first, now).unwrap();
        assert_eq!(
            (s.bars_added, s.bars_replaced, s.rows, s.written),
            (3, 0, 3, true)
        );

        // Re-asking [4, 10): the forming bar at 5 is final now, and a bar at 7 appeared.
        let second = SeriesUpdate {
            bars: vec![bar(5, 3.5), bar(7, 4.0)],
            answered: vec![span(4, 10)],
            covered: vec![span(4, 10)],
        };
        let s = store.commit(&key(), &lock, second, now).unwrap();
        assert_eq!((s.bars_added, s.bars_replaced, s.rows), (1, 1, 4));
        let stored = store.read_bars(&key(), None).unwrap().unwrap();
        assert_eq!(
            stored.bars,
            vec![bar(0, 1.0), bar(1, 2.0), bar(5, 3.5), bar(7, 4.0)]
        );
        assert_eq!(stored.metadata.coverage.intervals(), &[span(0, 10)]);
        assert_eq!(
            store
                .read_bars(&key(), Some(span(1, 6)))
                .unwrap()
                .unwrap()
                .bars,
            vec![bar(1, 2.0), bar(5, 3.5)]
        );

        // Nothing new: no write.
        let same = SeriesUpdate {
            bars: vec![bar(7, 4.0)],
            answered: vec![span(6, 8)],
            covered: vec![span(6, 8)],
        };
        assert!(!store.commit(&key(), &lock, same, now).unwrap().written);
        assert_eq!(store.list().unwrap(), vec![key()]);
        let leftovers: Vec<_> = fs_err::read_dir(store.path(&key()).parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "only the series and its lock: {leftovers:?}"
        );
    }

    #[test]
    fn a_foreign_file_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let path = store.path(&key());
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, b"PAR1 not really").unwrap();
        assert!(matches!(
            store.read_summary(&key()),
            Err(Error::Damaged { .. })
        ));
    }
}

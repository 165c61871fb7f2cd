//! The directory backend: a cache on a local disk.
//!
//! Writers hold the series lock (an OS file lock beside the file, see `lock`). Two ways to
//! write a series:
//! - **In place**, when every new bar comes after the file's earlier row groups: the new rows
//!   (and at most a few small trailing row groups they replace, e.g. a bar fetched while still
//!   forming) are encoded as new row groups over the old footer, followed by a merged footer.
//!   A rollback journal (`journal`) saved first makes this atomic: journal synced and renamed
//!   into place, tail written and synced, journal removed (the commit point), directory synced.
//! - **Rewrite**, for anything else (bars before or inside the stored range, long tails, a
//!   file another tool rewrote with its own Parquet schema) and for compaction: through
//!   `temp_file` (temp file, fsync, rename, directory fsync).
//!
//! A crash at any moment leaves the old series or the new one. A write that fails (a full
//! disk, an i/o error) is undone before the commit returns: the temp file of a rewrite is
//! removed, and an append is rolled back from its journal at once, so no reader ever meets a
//! half-written file after barkeep has returned. Such failures are said as what the disk
//! refused ([`Error::Disk`]), never as damage.
//!
//! A journal left by a crash (a kill, a power cut) is rolled back (under the series lock)
//! before anything reads or writes the series: every read and commit here does it first, and
//! [`CacheBackend::recover`] does it on demand.
//!
//! Only a regular file at a series path is a series: a symbolic link, a directory or anything
//! else there is reported as [`Error::NotAFile`], never followed for reading or writing (a
//! link to a file outside the cache must never be appended to), and still listed, so that
//! `inspect` shows it and `prune` removes it (the link itself, never its target). Removing a
//! series removes its journal and temp files with it, and a journal whose series file is gone
//! guards nothing: recovery discards it (whatever it holds), and [`CacheBackend::orphan_journals`]
//! lists it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::backend::{
    CacheBackend, CommitSummary, Compaction, LeftoverTemp, Recovered, SeriesScan, SeriesUpdate,
    WriteKind,
};
use super::compaction::FileShape;
use super::journal::{Journal, JournalError, journal_path};
use super::layout::SeriesKey;
use super::lock::{self, SeriesLock};
use super::series_merge::{check_identity, empty_metadata, merge_update};
use super::temp_file::{self, Throttled, sync_dir};
use super::{Access, Error};
use crate::market::{Bar, Interval};
use crate::parquet_files::append::{Tail, appendable, encode_tail};
use crate::parquet_files::footer::Footer;
use crate::parquet_files::read::{self, FileSummary};
use crate::parquet_files::write::ROW_GROUP_ROWS;
use crate::parquet_files::{self, SeriesMetadata};

/// At most this many stored rows are re-encoded by an in-place commit (the trailing row groups
/// that new bars replace); a change reaching further back rewrites the file.
const MAX_TAIL_REWRITE_ROWS: u64 = ROW_GROUP_ROWS as u64 / 4;

/// A cache in a directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
    write_delay: Option<Duration>,
}

impl LocalDir {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            write_delay: None,
        }
    }

    /// Test-only hook: pause this long after every small piece a write puts on disk, so a
    /// crash test can kill the writer in the middle of an append or a compaction. Never set
    /// outside tests (the CLI sets it only from `BARKEEP_TEST_WRITE_DELAY_US`).
    pub fn with_write_delay(mut self, delay: Option<Duration>) -> Self {
        self.write_delay = delay.filter(|d| !d.is_zero());
        self
    }

    fn path(&self, key: &SeriesKey) -> PathBuf {
        self.root.join(key.relative_path())
    }

    /// A read of the series failed: damage, or the disk's doing (permission denied, an i/o
    /// error), said as such.
    fn damaged(&self, key: &SeriesKey, source: parquet_files::Error) -> Error {
        let path = self.path(key);
        Error::damaged(&path, key, source).on_file(&path, Access::Read)
    }

    fn check_identity(&self, key: &SeriesKey, metadata: &SeriesMetadata) -> Result<(), Error> {
        check_identity(&self.path(key), key, metadata)
    }

    fn not_a_file(&self, key: &SeriesKey, file_type: std::fs::FileType) -> Error {
        Error::NotAFile {
            path: self.path(key),
            symbol: key.symbol.to_string(),
            timeframe: key.timeframe,
            kind: kind_of(file_type),
        }
    }

    fn open(&self, key: &SeriesKey) -> Result<Option<File>, Error> {
        self.open_regular(key, false)
    }

    /// Opens the series file (for writing too with `write`) only if it is a regular file:
    /// `None` when there is nothing at its path, [`Error::NotAFile`] for a symbolic link (never
    /// followed), a directory, a FIFO (never opened, so never waited on) or anything else. The
    /// file opened is checked to be the one inspected, so a link put in its place meanwhile is
    /// not followed either.
    fn open_regular(&self, key: &SeriesKey, write: bool) -> Result<Option<File>, Error> {
        let path = self.path(key);
        let access = if write { Access::Write } else { Access::Read };
        let Some(listed) = entry_metadata(&path).map_err(|e| e.on_file(&path, access))? else {
            return Ok(None);
        };
        if !listed.file_type().is_file() {
            return Err(self.not_a_file(key, listed.file_type()));
        }
        let file = match fs_err::OpenOptions::new()
            .read(true)
            .write(write)
            .open(&path)
        {
            Ok(file) => file.into_file(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::from(e).on_file(&path, access)),
        };
        if !same_file(&listed, &file.metadata()?) {
            return Err(std::io::Error::other(format!(
                "`{}` was replaced while it was being opened",
                path.display()
            ))
            .into());
        }
        Ok(Some(file))
    }

    /// Opens the series after recovering it, and runs `read` on it. A read that fails while
    /// the file changed underneath it (it met an append writing the footer) waits for that
    /// writer and tries again; other failures mean the file is damaged.
    fn read_with<T>(
        &self,
        key: &SeriesKey,
        read: impl Fn(File) -> Result<T, parquet_files::Error>,
    ) -> Result<Option<T>, Error> {
        let path = self.path(key);
        let mut attempts = 0;
        loop {
            self.recover(key)?;
            let Some(file) = self.open(key)? else {
                return Ok(None);
            };
            let before = stamp(&file.metadata()?);
            match read(file) {
                Ok(value) => return Ok(Some(value)),
                Err(e) => {
                    attempts += 1;
                    let now = fs_err::symlink_metadata(&path).ok().map(|m| stamp(&m));
                    let changed = now != Some(before) || journal_path(&path).exists();
                    if !changed || attempts >= 3 {
                        return Err(self.damaged(key, e));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Applies a leftover journal. The caller holds the series lock. A journal whose series
    /// file is gone is removed unread: it guards nothing, and a damaged one would otherwise
    /// block the series for good. The series file is never followed if it is a link.
    fn roll_back(&self, key: &SeriesKey) -> Result<Recovered, Error> {
        let path = self.path(key);
        let journal = journal_path(&path);
        if entry_metadata(&journal)?.is_none() {
            return Ok(Recovered::Clean);
        }
        let journal_error = |source| Error::Journal {
            path: path.clone(),
            journal: journal.clone(),
            source,
        };
        let dir = path.parent().expect("series paths have a directory");
        let Some(mut file) = self.open_regular(key, true)? else {
            return match remove_entry(&journal)? {
                true => {
                    sync_dir(dir)?;
                    Ok(Recovered::Discarded { journal })
                }
                false => Ok(Recovered::Clean),
            };
        };
        let Some(saved) = Journal::load(&journal).map_err(journal_error)? else {
            return Ok(Recovered::Clean);
        };
        saved.roll_back(&mut file).map_err(journal_error)?;
        fs_err::remove_file(&journal)?;
        sync_dir(dir)?;
        Ok(Recovered::RolledBack { journal })
    }

    fn commit_rewrite(
        &self,
        key: &SeriesKey,
        stored: Option<(SeriesMetadata, Vec<Bar>)>,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error> {
        let (old_metadata, old_bars) =
            stored.unwrap_or_else(|| (empty_metadata(key, now), Vec::new()));
        let mut summary = CommitSummary::default();
        let Some((metadata, bars)) =
            merge_update(key, &old_metadata, &old_bars, update, now, &mut summary)
        else {
            return Ok(summary);
        };
        self.replace(key, &metadata, &bars)?;
        summary.written = true;
        summary.write = WriteKind::Rewrite;
        Ok(summary)
    }

    /// Writes `tail` at its offset under a rollback journal: journal to a temp file, synced,
    /// renamed into place, directory synced; tail written, file synced; journal removed
    /// (the commit point), directory synced. Four syncs, whatever the size of the append.
    ///
    /// A failure rolls the append back at once, in this process: a reader never meets a
    /// half-written file after barkeep has returned. Until the journal is in place nothing
    /// was touched (its temp file is removed); after, [`Self::undo_append`] restores the old
    /// bytes, which needs no new space.
    fn write_in_place(&self, key: &SeriesKey, footer: &Footer, tail: &Tail) -> Result<(), Error> {
        let path = self.path(key);
        let dir = path.parent().expect("series paths have a directory");
        let journal = journal_path(&path);
        let Some(mut file) = self.open_regular(key, true)? else {
            return Err(std::io::Error::from(std::io::ErrorKind::NotFound).into());
        };
        if file.metadata()?.len() != footer.file_len {
            return Err(std::io::Error::other(format!(
                "`{}` changed while it was being appended to",
                path.display()
            ))
            .into());
        }
        let saved = Journal::capture(&file, footer.file_len, tail.at)?;
        let journal_written = temp_file::write(
            &journal,
            self.write_delay,
            |out| Ok(out.write_all(&saved.encode())?),
            |_| Ok(()),
        );
        if let Err(failed) = journal_written {
            // Renamed into place but not synced, or not renamed at all: the series file is
            // untouched either way, so the journal guards nothing.
            let _ = remove_entry(&journal);
            return Err(failed);
        }
        temp_file::pause(self.write_delay);

        let committed = self.write_tail(&mut file, tail).and_then(|()| {
            temp_file::pause(self.write_delay);
            Ok(fs_err::remove_file(&journal)?)
        });
        match committed {
            Ok(()) => sync_dir(dir),
            Err(failed) => Err(Self::undo_append(&path, &mut file, &saved, failed)),
        }
    }

    /// Writes the tail over the old footer and syncs the file.
    fn write_tail(&self, file: &mut File, tail: &Tail) -> Result<(), Error> {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(tail.at))?;
        Throttled::new(&mut *file, self.write_delay).write_all(&tail.bytes)?;
        file.set_len(tail.at + tail.bytes.len() as u64)?;
        file.sync_data()?;
        Ok(())
    }

    /// Rolls back an append that failed after its journal was in place (a full disk, an i/o
    /// error), and removes the journal: the file is byte for byte what it was. Returns the
    /// error to report: the append's own, or [`Error::RollbackPending`] when the rollback
    /// failed too (the journal then stays, and the next command rolls back).
    fn undo_append(path: &Path, file: &mut File, saved: &Journal, failed: Error) -> Error {
        let failed = failed.on_file(path, Access::Write);
        let journal = journal_path(path);
        let dir = path.parent().expect("series paths have a directory");
        let undone = saved
            .roll_back(file)
            .map_err(|source| match source {
                JournalError::Io(io) => Error::Io(io),
                source => Error::Journal {
                    path: path.to_path_buf(),
                    journal: journal.clone(),
                    source,
                },
            })
            .and_then(|()| Ok(fs_err::remove_file(&journal)?))
            .and_then(|()| sync_dir(dir));
        match undone {
            Ok(()) => failed,
            Err(rollback) => Error::RollbackPending {
                path: path.to_path_buf(),
                journal,
                failed: Box::new(failed),
                rollback: Box::new(rollback.on_file(path, Access::Write)),
            },
        }
    }

    /// [`CacheBackend::commit`], before its errors are said as what the disk refused.
    fn commit_series(
        &self,
        key: &SeriesKey,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error> {
        self.roll_back(key)?;
        temp_file::remove_leftover(&self.path(key))?;
        let Some(file) = self.open(key)? else {
            return self.commit_rewrite(key, None, update, now);
        };
        let footer = Footer::read(&file).map_err(|e| self.damaged(key, e))?;
        footer.arrow_metadata().map_err(|e| self.damaged(key, e))?;
        self.check_identity(key, &footer.series)?;

        // The earliest instant the update can change: row groups wholly before it stay. The
        // bars are not assumed in order (the merge sorts them).
        let cut = update
            .answered
            .iter()
            .chain(&update.withdrawn)
            .map(|a| a.start)
            .chain(update.bars.iter().map(|b| b.timestamp))
            .min();
        let keep = match cut.and_then(|c| c.timestamp_nanos_opt()) {
            None if cut.is_some() => 0,
            None => footer.row_groups(),
            Some(cut) => (0..footer.row_groups())
                .take_while(|&i| footer.timestamp_range(i).is_some_and(|(_, max)| max < cut))
                .count(),
        };
        let tail_rows: u64 = footer.parquet.row_groups()[keep..]
            .iter()
            .map(|rg| u64::try_from(rg.num_rows()).unwrap_or(u64::MAX))
            .sum();
        if keep == 0 || tail_rows > MAX_TAIL_REWRITE_ROWS || !appendable(&footer) {
            let stored = read::read_bars(file, None).map_err(|e| self.damaged(key, e))?;
            return self.commit_rewrite(key, Some(stored), update, now);
        }

        let old_tail =
            read::read_row_groups_from(file, &footer, keep).map_err(|e| self.damaged(key, e))?;
        let kept_rows = footer.rows() - tail_rows;
        let mut summary = CommitSummary::default();
        let Some((metadata, tail)) =
            merge_update(key, &footer.series, &old_tail, update, now, &mut summary)
        else {
            summary.rows += kept_rows;
            return Ok(summary);
        };
        summary.rows += kept_rows;
        let tail = encode_tail(&footer, keep, &metadata, &tail).map_err(|source| Error::Write {
            path: self.path(key),
            source,
        })?;
        self.write_in_place(key, &footer, &tail)?;
        summary.written = true;
        summary.write = WriteKind::InPlace;
        // Compaction only tidies the layout of a file that is complete: when the disk refuses
        // it (no room for the rewrite), the append stands, and a later commit tries again.
        summary.compacted = match self.compact_series(key, false) {
            Ok(compaction) => matches!(compaction, Compaction::Compacted { .. }),
            Err(e) => match e.on_file(&self.path(key), Access::Write) {
                Error::Disk { .. } => false,
                e => return Err(e),
            },
        };
        Ok(summary)
    }

    /// [`CacheBackend::replace`], before its errors are said as what the disk refused.
    fn replace_series(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error> {
        self.roll_back(key)?;
        let path = self.path(key);
        let failed = |source| Error::Write {
            path: path.clone(),
            source,
        };
        temp_file::write(
            &path,
            self.write_delay,
            |out| {
                parquet_files::write::write_series(out, metadata, bars)
                    .map(drop)
                    .map_err(failed)
            },
            |_| Ok(()),
        )
    }

    /// [`CacheBackend::compact`], before its errors are said as what the disk refused.
    fn compact_series(&self, key: &SeriesKey, force: bool) -> Result<Compaction, Error> {
        self.roll_back(key)?;
        let Some(file) = self.open(key)? else {
            return Ok(Compaction::Missing);
        };
        let footer = Footer::read(&file).map_err(|e| self.damaged(key, e))?;
        self.check_identity(key, &footer.series)?;
        if !force && !shape(&footer).needs_compaction() {
            return Ok(Compaction::NotNeeded);
        }
        let path = self.path(key);
        let failed = |source| Error::Write {
            path: path.clone(),
            source,
        };
        let compacted = temp_file::write(
            &path,
            self.write_delay,
            |out| {
                parquet_files::write::rewrite_series(&file, out)
                    .map(drop)
                    .map_err(failed)
            },
            |temp| {
                let written = Footer::read(temp).map_err(failed)?;
                if written.rows() == footer.rows()
                    && written.first_last() == footer.first_last()
                    && written.series == footer.series
                {
                    return Ok(written);
                }
                let ((a, b), (c, d)) = (written.first_last(), footer.first_last());
                Err(failed(parquet_files::Error::Order(format!(
                    "compaction check failed: {} rows from {a:?} to {b:?}, expected {} from {c:?} to {d:?}",
                    written.rows(),
                    footer.rows(),
                ))))
            },
        )?;
        Ok(Compaction::Compacted {
            row_groups_before: footer.row_groups(),
            row_groups_after: compacted.row_groups(),
            bytes_before: footer.file_len,
            bytes_after: compacted.file_len,
        })
    }

    /// [`CacheBackend::remove`], before its errors are said as what the disk refused.
    fn remove_series(path: &Path, lock: SeriesLock) -> Result<u64, Error> {
        let path = path.to_path_buf();
        let journal = journal_path(&path);
        let mut bytes = 0;
        for entry in [
            path.clone(),
            temp_file::temp_path(&journal),
            journal,
            temp_file::temp_path(&path),
        ] {
            bytes += entry_metadata(&entry)?.map_or(0, |m| m.len());
            remove_entry(&entry)?;
        }
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        lock::remove(lock)?;
        Ok(bytes)
    }

    fn document_path(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }
}

impl CacheBackend for LocalDir {
    fn root(&self) -> &Path {
        &self.root
    }

    fn location(&self, key: &SeriesKey) -> PathBuf {
        self.path(key)
    }

    fn lock(&self, key: &SeriesKey, wait: bool) -> Result<SeriesLock, Error> {
        lock::acquire(&self.path(key), wait, key)
    }

    /// Rolls back an append that was interrupted (a crash or a kill between writing its
    /// journal and removing it), restoring the file exactly as it was before that append.
    /// Takes the series lock, waiting for a writer in progress, unless this process holds it.
    /// Cheap when there is nothing to do (one `stat`). Safe to repeat, also after a crash
    /// during recovery. Fails with [`Error::Journal`] (naming the journal and the file) when
    /// the journal is damaged or does not match the file: it is then never applied, and
    /// every read and commit of the series fails the same way until someone removes it.
    fn recover(&self, key: &SeriesKey) -> Result<Recovered, Error> {
        let path = self.path(key);
        let journal = journal_path(&path);
        if entry_metadata(&journal)
            .map_err(|e| e.on_file(&journal, Access::Read))?
            .is_none()
        {
            return Ok(Recovered::Clean);
        }
        if lock::held_by_this_process(&path) {
            return self
                .roll_back(key)
                .map_err(|e| e.on_file(&path, Access::Write));
        }
        let _lock = self.lock(key, true)?;
        self.roll_back(key)
            .map_err(|e| e.on_file(&path, Access::Write))
    }

    fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, Error> {
        let summary = self.read_with(key, |file| read::read_summary(&file))?;
        if let Some(summary) = &summary {
            self.check_identity(key, &summary.metadata)?;
        }
        Ok(summary)
    }

    fn scan_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<SeriesScan>, Error> {
        let Some((metadata, chunks)) = self.read_with(key, |file| read::scan_bars(file, range))?
        else {
            return Ok(None);
        };
        self.check_identity(key, &metadata)?;
        Ok(Some(SeriesScan::new(
            metadata,
            chunks,
            self.path(key),
            key.clone(),
        )))
    }

    /// Merges `update` into the stored series and commits it: in place when the change lies
    /// after the file's earlier row groups, else by rewriting the file; then compacts the file
    /// if it has accumulated too many small row groups (see [`super::compaction`]). Rolls
    /// back an interrupted append first.
    ///
    /// A failure leaves the file as it was (an append is rolled back at once, a rewrite's temp
    /// file removed), and says what the disk refused ([`Error::Disk`]: no space left,
    /// permission denied, ...) with the file.
    fn commit(
        &self,
        key: &SeriesKey,
        _lock: &SeriesLock,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error> {
        self.commit_series(key, update, now)
            .map_err(|e| e.on_file(&self.path(key), Access::Write))
    }

    /// Writes a whole series through temp file + fsync + rename + directory fsync. Rolls
    /// back an interrupted append first, so no journal outlives the file it was taken from.
    /// A failure removes the temp file and leaves the series as it was.
    fn replace(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error> {
        self.replace_series(key, metadata, bars)
            .map_err(|e| e.on_file(&self.path(key), Access::Write))
    }

    /// Rewrites the series into large row groups when its layout calls for it (see
    /// [`super::compaction`]), or always with `force`. Streams through a temp file in the
    /// same directory, verified before the swap (same row count, first and last timestamp and
    /// metadata as the file it replaces), then renamed over it and the directory synced.
    /// Idempotent: a compacted file does not need compaction, and compacting it again (with
    /// `force`) writes the same rows in the same row groups. Rolls back an interrupted append
    /// first. A failure removes the temp file and leaves the series as it was.
    fn compact(
        &self,
        key: &SeriesKey,
        _lock: &SeriesLock,
        force: bool,
    ) -> Result<Compaction, Error> {
        self.compact_series(key, force)
            .map_err(|e| e.on_file(&self.path(key), Access::Write))
    }

    fn list_sized(&self) -> Result<Vec<(SeriesKey, u64)>, Error> {
        let mut keys = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut |relative, bytes| {
            if let Some(key) = SeriesKey::from_relative_path(relative) {
                keys.push((key, bytes));
            }
        })?;
        keys.sort();
        Ok(keys)
    }

    /// The size of what is at the series path, a link or a directory included (never its
    /// target's).
    fn size(&self, key: &SeriesKey) -> Result<Option<u64>, Error> {
        Ok(entry_metadata(&self.path(key))?.map(|m| m.len()))
    }

    /// Deletes what is at the series path (a link itself, never its target; a directory with
    /// its contents), its journal and temp files, and then its lock file. The lock is
    /// released when its file is gone.
    fn remove(&self, key: &SeriesKey, lock: SeriesLock) -> Result<u64, Error> {
        let path = self.path(key);
        Self::remove_series(&path, lock).map_err(|e| e.on_file(&path, Access::Remove))
    }

    fn remove_lock(&self, lock: SeriesLock) -> Result<(), Error> {
        lock::remove(lock)
    }

    fn orphan_journals(&self) -> Result<Vec<LeftoverTemp>, Error> {
        let mut found = Vec::new();
        for_each_series_dir(&self.root, &mut |dir, relative| {
            for entry in fs_err::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(target) = name
                    .strip_prefix('.')
                    .and_then(|n| n.strip_suffix(".journal"))
                    .filter(|t| !t.is_empty())
                else {
                    continue;
                };
                if entry_metadata(&dir.join(target))?.is_some() {
                    continue;
                }
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                found.push(LeftoverTemp {
                    path: entry.path(),
                    key: SeriesKey::from_relative_path(&relative.join(target)),
                    bytes,
                });
            }
            Ok(())
        })?;
        found.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(found)
    }

    fn leftovers(&self) -> Result<Vec<LeftoverTemp>, Error> {
        let mut found = Vec::new();
        for_each_series_dir(&self.root, &mut |dir, relative| {
            for entry in fs_err::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(target) = temp_file::target_of(&name) else {
                    continue;
                };
                let key = SeriesKey::from_relative_path(&relative.join(target));
                let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
                found.push(LeftoverTemp {
                    path: entry.path(),
                    key,
                    bytes,
                });
            }
            Ok(())
        })?;
        Ok(found)
    }

    fn remove_leftover(&self, temp: &LeftoverTemp) -> Result<bool, Error> {
        match fs_err::remove_file(&temp.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::from(e).on_file(&temp.path, Access::Remove)),
        }
    }

    /// Deletes empty layout directories (timeframe, feed and asset-class levels), deepest
    /// first.
    fn tidy(&self) {
        let mut dirs = Vec::new();
        let _ = for_each_series_dir(&self.root, &mut |dir, _| {
            dirs.push(dir.to_path_buf());
            Ok(())
        });
        for dir in dirs {
            // `remove_dir` only succeeds on empty directories; a failure means "keep it".
            let _ = fs_err::remove_dir(&dir);
            if let Some(feed) = dir.parent() {
                let _ = fs_err::remove_dir(feed);
                if let Some(class) = feed.parent() {
                    let _ = fs_err::remove_dir(class);
                }
            }
        }
    }

    fn conflicts(&self) -> Option<u64> {
        None
    }

    fn document_location(&self, relative: &Path) -> PathBuf {
        self.document_path(relative)
    }

    fn lock_document(&self, relative: &Path, wait: bool) -> Result<SeriesLock, Error> {
        lock::acquire(
            &self.document_path(relative),
            wait,
            &format_args!("`{}`", relative.display()),
        )
    }

    fn read_document(&self, relative: &Path) -> Result<Option<Vec<u8>>, Error> {
        let path = self.document_path(relative);
        match fs_err::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from(e).on_file(&path, Access::Read)),
        }
    }

    fn write_document(
        &self,
        relative: &Path,
        bytes: &[u8],
        _lock: &SeriesLock,
    ) -> Result<(), Error> {
        let path = self.document_path(relative);
        temp_file::write(&path, None, |out| Ok(out.write_all(bytes)?), |_| Ok(()))
            .map_err(|e| e.on_file(&path, Access::Write))
    }

    /// Deletes the document, its lock file, and its directory (and that one's parent) if
    /// they are left empty.
    fn remove_document(&self, relative: &Path, lock: SeriesLock) -> Result<bool, Error> {
        let path = self.document_path(relative);
        let existed = match fs_err::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(e.into()),
        };
        lock::remove(lock)?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
            // Only succeeds on empty directories; a failure means "keep it".
            if fs_err::remove_dir(dir).is_ok()
                && let Some(class) = dir.parent()
            {
                let _ = fs_err::remove_dir(class);
            }
        }
        Ok(existed)
    }

    fn list_documents(&self, dir: &Path) -> Result<Vec<String>, Error> {
        let entries = match fs_err::read_dir(self.document_path(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }
}

/// Visits every entry four levels below `dir` (the depth of the layout), with its path
/// relative to the root and its size: regular files, and also links, directories and the
/// rest, so that what stands at a series path is always listed (and then refused when read).
fn walk(
    dir: &Path,
    relative: &mut Vec<std::ffi::OsString>,
    visit: &mut dyn FnMut(&Path, u64),
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
        } else if relative.len() == 4 {
            // `DirEntry::metadata` describes a link itself, never its target.
            let bytes = entry.metadata().map(|m| m.len()).unwrap_or(0);
            visit(&relative.iter().collect::<PathBuf>(), bytes);
        }
        relative.pop();
    }
    Ok(())
}

/// Calls `visit` with every `<class>/<feed>/<timeframe>` directory and its relative path.
fn for_each_series_dir(
    root: &Path,
    visit: &mut dyn FnMut(&Path, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    fn children(dir: &Path) -> Result<Vec<(PathBuf, std::ffi::OsString)>, Error> {
        match fs_err::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| {
                    let e = match e {
                        Ok(e) => e,
                        Err(err) => return Some(Err(err.into())),
                    };
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    is_dir.then(|| Ok((e.path(), e.file_name())))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }
    for (class_dir, class) in children(root)? {
        for (feed_dir, feed) in children(&class_dir)? {
            for (tf_dir, tf) in children(&feed_dir)? {
                let relative: PathBuf = [&class, &feed, &tf].iter().collect();
                visit(&tf_dir, &relative)?;
            }
        }
    }
    Ok(())
}

/// What is at `path` itself (a link is not followed); `None` when nothing is.
fn entry_metadata(path: &Path) -> Result<Option<std::fs::Metadata>, Error> {
    match fs_err::symlink_metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes what is at `path`: a file or a link (never its target), or a directory and its
/// contents (links inside are not followed); false when nothing was there.
fn remove_entry(path: &Path) -> Result<bool, Error> {
    let Some(metadata) = entry_metadata(path)? else {
        return Ok(false);
    };
    let removed = if metadata.file_type().is_dir() {
        fs_err::remove_dir_all(path)
    } else {
        fs_err::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// What a path that is not a regular file is instead, for messages.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Whether an opened file is the one `listed` described (no link or other file was put at
/// its path in between).
#[cfg(unix)]
fn same_file(listed: &std::fs::Metadata, opened: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    opened.is_file() && listed.dev() == opened.dev() && listed.ino() == opened.ino()
}

#[cfg(not(unix))]
fn same_file(_listed: &std::fs::Metadata, opened: &std::fs::Metadata) -> bool {
    opened.is_file()
}

/// What identifies a version of a file for a reader: a write changes its length or mtime.
fn stamp(metadata: &std::fs::Metadata) -> (u64, Option<SystemTime>) {
    (metadata.len(), metadata.modified().ok())
}

/// The layout of a file, for the compaction policy.
fn shape(footer: &Footer) -> FileShape {
    FileShape {
        rows: footer.rows(),
        row_groups: footer.row_groups(),
        small_group_rows: footer
            .parquet
            .row_groups()
            .iter()
            .map(|rg| u64::try_from(rg.num_rows()).unwrap_or(0))
            .filter(|&rows| rows < ROW_GROUP_ROWS as u64)
            .sum(),
        file_len: footer.file_len,
        live_bytes: footer.live_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Store;
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
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
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
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
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
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
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

    fn update(bars: Vec<Bar>, from: i64, to: i64, settled: i64) -> SeriesUpdate {
        SeriesUpdate {
            bars,
            answered: vec![span(from, to)],
            covered: Interval::new(bar(from, 0.0).timestamp, bar(settled, 0.0).timestamp)
                .into_iter()
                .collect(),
            closing: None,
            withdrawn: Vec::new(),
            renamed_from: None,
        }
    }

    fn all_bars(store: &Store) -> Vec<Bar> {
        store.read_bars(&key(), None).unwrap().unwrap().bars
    }

    #[test]
    fn later_bars_are_appended_in_place_and_earlier_ones_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let now = bar(10_000, 0.0).timestamp;
        let lock = store.lock(&key(), true).unwrap();
        let first = update((0..100).map(|m| bar(m, 1.0)).collect(), 0, 100, 100);
        let s = store.commit(&key(), &lock, first, now).unwrap();
        assert_eq!(s.write, WriteKind::Rewrite);
        let next = update(vec![bar(100, 2.0), bar(101, 2.0)], 100, 102, 101);
        let s = store.commit(&key(), &lock, next, now).unwrap();
        assert_eq!((s.write, s.rows), (WriteKind::InPlace, 102));

        // The bar at 101 was still forming: asking again from 101 replaces it in place.
        let next = update(vec![bar(101, 3.0), bar(102, 3.0)], 101, 103, 103);
        let s = store.commit(&key(), &lock, next, now).unwrap();
        assert_eq!(
            (s.write, s.bars_added, s.bars_replaced, s.rows),
            (WriteKind::InPlace, 1, 1, 103)
        );
        let mut expected: Vec<Bar> = (0..100).map(|m| bar(m, 1.0)).collect();
        expected.extend([bar(100, 2.0), bar(101, 3.0), bar(102, 3.0)]);
        assert_eq!(all_bars(&store), expected);
        let summary = store.read_summary(&key()).unwrap().unwrap();
        assert_eq!(summary.metadata.coverage.intervals(), &[span(0, 103)]);
        assert_eq!(summary.last, Some(bar(102, 0.0).timestamp));

        // A bar inside the stored range rewrites the file.
        let inside = update(vec![bar(50, 9.0)], 50, 51, 51);
        let s = store.commit(&key(), &lock, inside, now).unwrap();
        assert_eq!((s.write, s.bars_replaced), (WriteKind::Rewrite, 1));
        expected[50] = bar(50, 9.0);
        assert_eq!(all_bars(&store), expected);
    }

    /// The state a kill leaves: a journal in place and the tail written (fully or not).
    fn crash_during_append(store: &Store, lock: &SeriesLock, torn: bool) -> Vec<u8> {
        let path = store.path(&key());
        let before = fs_err::read(&path).unwrap();
        let old = tempfile::NamedTempFile::new().unwrap();
        fs_err::write(old.path(), &before).unwrap();
        let footer = Footer::read(old.as_file()).unwrap();
        let journal = Journal::capture(old.as_file(), footer.file_len, footer.start).unwrap();
        let now = bar(10_000, 0.0).timestamp;
        let next = update(vec![bar(500, 5.0)], 400, 501, 501);
        store.commit(&key(), lock, next, now).unwrap();
        if torn {
            let len = fs_err::metadata(&path).unwrap().len();
            let file = fs_err::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len(len - 100).unwrap();
        }
        fs_err::write(journal_path(&path), journal.encode()).unwrap();
        before
    }

    /// A store holding minutes 0..100, and the lock of the series (the directory must live
    /// as long as the store).
    fn store_with_100_bars() -> (tempfile::TempDir, Store, SeriesLock) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let lock = store.lock(&key(), true).unwrap();
        let first = update((0..100).map(|m| bar(m, 1.0)).collect(), 0, 100, 100);
        store
            .commit(&key(), &lock, first, bar(10_000, 0.0).timestamp)
            .unwrap();
        (dir, store, lock)
    }

    #[test]
    fn a_leftover_journal_is_rolled_back_before_any_read_or_commit() {
        let (_dir, store, lock) = store_with_100_bars();
        let now = bar(10_000, 0.0).timestamp;
        let path = store.path(&key());

        for torn in [false, true] {
            let before = crash_during_append(&store, &lock, torn);
            // This process holds the lock: the read recovers without waiting for it.
            assert_eq!(all_bars(&store).len(), 100);
            assert_eq!(fs_err::read(&path).unwrap(), before);
            assert!(!journal_path(&path).exists());
        }
        drop(lock);
        let lock = store.lock(&key(), true).unwrap();
        let before = crash_during_append(&store, &lock, true);
        drop(lock);
        assert!(matches!(
            store.recover(&key()).unwrap(),
            Recovered::RolledBack { .. }
        ));
        assert_eq!(fs_err::read(&path).unwrap(), before);
        assert_eq!(store.recover(&key()).unwrap(), Recovered::Clean);

        let lock = store.lock(&key(), true).unwrap();
        crash_during_append(&store, &lock, false);
        let next = update(vec![bar(600, 6.0)], 600, 601, 601);
        let s = store.commit(&key(), &lock, next, now).unwrap();
        assert_eq!(s.rows, 101, "the interrupted append was rolled back first");
    }

    #[test]
    fn a_damaged_journal_is_reported_with_the_file_and_never_applied() {
        let (_dir, store, lock) = store_with_100_bars();
        crash_during_append(&store, &lock, false);
        let path = store.path(&key());
        let mut journal = fs_err::read(journal_path(&path)).unwrap();
        let n = journal.len();
        journal[n - 20] ^= 1;
        fs_err::write(journal_path(&path), &journal).unwrap();
        let after = fs_err::read(&path).unwrap();
        let err = store.read_summary(&key()).unwrap_err();
        assert!(
            matches!(&err, Error::Journal { path: p, .. } if *p == path),
            "{err:?}"
        );
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(fs_err::read(&path).unwrap(), after, "never applied");
        assert!(journal_path(&path).exists());
    }

    #[test]
    fn many_appends_are_compacted_and_compaction_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let now = bar(100_000, 0.0).timestamp;
        let lock = store.lock(&key(), true).unwrap();
        let first = update((0..1_000).map(|m| bar(m, 1.0)).collect(), 0, 1_000, 1_000);
        store.commit(&key(), &lock, first, now).unwrap();
        let mut compactions = 0;
        for day in 1..=20 {
            let from = day * 1_000;
            let bars = (from..from + 10).map(|m| bar(m, 2.0)).collect();
            let s = store
                .commit(&key(), &lock, update(bars, from, from + 10, from + 10), now)
                .unwrap();
            assert_eq!(s.write, WriteKind::InPlace);
            compactions += usize::from(s.compacted);
        }
        // A fresh write has one extra group (its tail, the last day); the 16th append makes
        // 17 extra groups, and the commit compacts the file back to two.
        assert_eq!(compactions, 1, "past 16 extra row groups");
        let summary = store.read_summary(&key()).unwrap().unwrap();
        assert_eq!(summary.row_groups, 6, "two, and the four appends since");
        let bars = all_bars(&store);
        assert_eq!(bars.len(), 1_200);

        let forced = store.compact(&key(), &lock, true).unwrap();
        let Compaction::Compacted {
            row_groups_after, ..
        } = forced
        else {
            panic!("{forced:?}")
        };
        assert_eq!(row_groups_after, 2, "the body, and the last day's tail");
        let bytes = fs_err::read(store.path(&key())).unwrap();
        assert_eq!(
            store.compact(&key(), &lock, false).unwrap(),
            Compaction::NotNeeded
        );
        store.compact(&key(), &lock, true).unwrap();
        assert_eq!(fs_err::read(store.path(&key())).unwrap(), bytes);
        assert_eq!(all_bars(&store), bars);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_a_series_path_is_listed_refused_and_removed_as_itself() {
        let (_dir, store, lock) = store_with_100_bars();
        let path = store.path(&key());
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("AAPL.parquet");
        fs_err::rename(&path, &target).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let bytes = fs_err::read(&target).unwrap();

        assert_eq!(store.list().unwrap(), vec![key()], "still listed");
        let not_a_file = |r: Result<_, Error>| {
            matches!(
                r,
                Err(Error::NotAFile {
                    kind: "a symbolic link",
                    ..
                })
            )
        };
        assert!(not_a_file(store.read_summary(&key()).map(drop)));
        assert!(not_a_file(store.scan_bars(&key(), None).map(drop)));
        let later = update(vec![bar(100, 2.0)], 100, 101, 101);
        assert!(not_a_file(
            store
                .commit(&key(), &lock, later, bar(10_000, 0.0).timestamp)
                .map(drop)
        ));
        assert!(not_a_file(store.compact(&key(), &lock, true).map(drop)));
        // A journal beside it is never applied through the link either.
        fs_err::write(journal_path(&path), b"garbage").unwrap();
        assert!(not_a_file(store.recover(&key()).map(drop)));
        assert_eq!(fs_err::read(&target).unwrap(), bytes, "never written");

        let link_len = fs_err::symlink_metadata(&path).unwrap().len();
        assert_eq!(store.size(&key()).unwrap(), Some(link_len));
        store.remove(&key(), lock).unwrap();
        assert!(fs_err::symlink_metadata(&path).is_err(), "the link is gone");
        assert!(!journal_path(&path).exists());
        assert_eq!(fs_err::read(&target).unwrap(), bytes, "its target stays");
    }

    #[test]
    fn removing_a_series_removes_its_journal_and_temp_files() {
        let (_dir, store, lock) = store_with_100_bars();
        let path = store.path(&key());
        let journal = journal_path(&path);
        let extras = [
            journal.clone(),
            temp_file::temp_path(&path),
            temp_file::temp_path(&journal),
        ];
        for extra in &extras {
            fs_err::write(extra, b"left over").unwrap();
        }
        store.remove(&key(), lock).unwrap();
        for extra in &extras {
            assert!(!extra.exists(), "{}", extra.display());
        }
        let left: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_journal_without_its_series_file_is_listed_and_discarded_unread() {
        let (_dir, store, lock) = store_with_100_bars();
        let path = store.path(&key());
        drop(lock);
        fs_err::remove_file(&path).unwrap();
        let journal = journal_path(&path);
        fs_err::write(&journal, b"not a journal").unwrap();
        let orphans = store.orphan_journals().unwrap();
        assert_eq!(orphans.len(), 1);
        assert_eq!(
            (&orphans[0].path, &orphans[0].key),
            (&journal, &Some(key()))
        );
        assert_eq!(
            store.recover(&key()).unwrap(),
            Recovered::Discarded {
                journal: journal.clone()
            }
        );
        assert!(!journal.exists());
        assert!(store.orphan_journals().unwrap().is_empty());
        assert!(store.read_summary(&key()).unwrap().is_none());
    }

    #[test]
    fn a_directory_at_a_series_path_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let path = store.path(&key());
        fs_err::create_dir_all(path.join("inside")).unwrap();
        assert_eq!(store.list().unwrap(), vec![key()]);
        assert!(matches!(
            store.read_summary(&key()),
            Err(Error::NotAFile {
                kind: "a directory",
                ..
            })
        ));
        let lock = store.lock(&key(), true).unwrap();
        store.remove(&key(), lock).unwrap();
        assert!(!path.exists());
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

//! The storage seam: what a cache backend must provide, and the values that cross it.
//!
//! Two backends implement [`CacheBackend`], each in a file of its own and neither aware of
//! the other: [`LocalDir`](super::local_dir::LocalDir), a directory on disk (file locks,
//! in-place appends under a rollback journal, compaction, temp-file rewrites), and
//! [`Bucket`](super::bucket::Bucket), object storage (ranged GETs of footers and of the
//! pages asked, whole-object conditional puts). `ops/` and `cli/` hold a [`Store`](super::Store), which is a shared
//! `dyn CacheBackend`, and never ask which one it is.
//!
//! What "exclusive" means is the backend's business, behind [`CacheBackend::lock`]:
//! - on disk, an OS file lock beside the series, held from planning a series until its
//!   commit is durable; two processes never write one series at once;
//! - in a bucket, nothing is locked (the lock is detached); every commit is a compare-and-
//!   swap that re-reads and re-merges when another writer got there first.
//!
//! Either way, a commit merges into the latest stored version (see `series_merge`, shared by
//! both), so concurrent writers never lose or duplicate a bar.
//!
//! Besides series, a cache holds small *documents* (corporate-actions ledgers): whole files
//! replaced atomically under their own lock, addressed by a path relative to the cache root.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::Error;
use super::layout::SeriesKey;
use super::lock::SeriesLock;
use crate::market::{Bar, Interval};
use crate::parquet_files::SeriesMetadata;
use crate::parquet_files::read::{BarChunks, FileSummary};
use crate::parquet_files::record_batch::BarColumns;

/// What a cache backend provides. Methods block: call them off the async runtime.
pub trait CacheBackend: Debug + Send + Sync {
    /// Where the cache lives: its directory, or its bucket URL.
    fn root(&self) -> &Path;

    /// Where a series lives, for messages: a file path, or the object's URL.
    fn location(&self, key: &SeriesKey) -> PathBuf;

    /// Exclusive write access to a series, released when the lock is dropped (see the
    /// module documentation). With `wait` false, fails with [`Error::Locked`] instead of
    /// waiting for another process.
    fn lock(&self, key: &SeriesKey, wait: bool) -> Result<SeriesLock, Error>;

    /// Brings a series back to its last committed state after a crash (a no-op where
    /// writes are atomic anyway).
    fn recover(&self, key: &SeriesKey) -> Result<Recovered, Error>;

    /// The footer of a series (metadata, rows, first and last bar); `None` when not cached.
    fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, Error>;

    /// Starts a streaming read of the bars inside `range` (all when `None`); `None` when not
    /// cached. The footer is read and checked before this returns.
    fn scan_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<SeriesScan>, Error>;

    /// Merges `update` into the stored series and commits it durably. The caller holds
    /// `lock` (from [`CacheBackend::lock`]).
    fn commit(
        &self,
        key: &SeriesKey,
        lock: &SeriesLock,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error>;

    /// Writes a whole series (retention), atomically. The caller holds the series lock.
    fn replace(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error>;

    /// Rewrites a series into its most compact form when it needs it, or always with
    /// `force`. The caller holds the series lock.
    fn compact(&self, key: &SeriesKey, lock: &SeriesLock, force: bool)
    -> Result<Compaction, Error>;

    /// Every series in the cache with its size in bytes, sorted. Foreign files are ignored;
    /// whatever stands at a series path is listed, a link or a directory too (reading one
    /// then fails with [`Error::NotAFile`]).
    fn list_sized(&self) -> Result<Vec<(SeriesKey, u64)>, Error>;

    /// Every series in the cache, sorted.
    fn list(&self) -> Result<Vec<SeriesKey>, Error> {
        Ok(self.list_sized()?.into_iter().map(|(key, _)| key).collect())
    }

    /// The size of a series in bytes, without reading it; `None` when not cached.
    fn size(&self, key: &SeriesKey) -> Result<Option<u64>, Error>;

    /// Deletes a series and what guards it, returning the bytes freed. Consumes the lock.
    fn remove(&self, key: &SeriesKey, lock: SeriesLock) -> Result<u64, Error>;

    /// Deletes the lock of a series that is not cached, while holding it.
    fn remove_lock(&self, lock: SeriesLock) -> Result<(), Error>;

    /// Temp files left by interrupted writes.
    fn leftovers(&self) -> Result<Vec<LeftoverTemp>, Error>;

    /// Rollback journals whose series file is gone, sorted: they guard nothing, and
    /// [`CacheBackend::recover`] of their series (under its lock) discards them. Empty for a
    /// backend that keeps no journals.
    fn orphan_journals(&self) -> Result<Vec<LeftoverTemp>, Error>;

    /// Removes a leftover temp file; false when it was already gone.
    fn remove_leftover(&self, temp: &LeftoverTemp) -> Result<bool, Error>;

    /// Removes what removals left empty (directories); best effort.
    fn tidy(&self);

    /// Commits that lost a race to another writer and were retried, so far in this run;
    /// `None` for a backend whose writers never race (they lock).
    fn conflicts(&self) -> Option<u64>;

    /// Where a document lives, for messages.
    fn document_location(&self, relative: &Path) -> PathBuf;

    /// Exclusive write access to a document.
    fn lock_document(&self, relative: &Path, wait: bool) -> Result<SeriesLock, Error>;

    /// A document's bytes; `None` when absent.
    fn read_document(&self, relative: &Path) -> Result<Option<Vec<u8>>, Error>;

    /// Replaces a document atomically. The caller holds its lock.
    fn write_document(&self, relative: &Path, bytes: &[u8], lock: &SeriesLock)
    -> Result<(), Error>;

    /// Deletes a document (and its lock); returns whether it existed.
    fn remove_document(&self, relative: &Path, lock: SeriesLock) -> Result<bool, Error>;

    /// The file names of the documents directly inside `dir`.
    fn list_documents(&self, dir: &Path) -> Result<Vec<String>, Error>;

    /// A document's bytes and the version a conditional write must match (`None` where
    /// documents are locked instead); `None` when absent.
    fn read_document_versioned(&self, relative: &Path) -> Result<Option<VersionedDocument>, Error> {
        Ok(self.read_document(relative)?.map(|bytes| (bytes, None)))
    }

    /// Replaces a document if it is still at `expected` (`None`: only if absent); false when
    /// another writer got there first. Where documents are locked (the caller holds `lock`),
    /// the write always happens.
    fn write_document_if(
        &self,
        relative: &Path,
        bytes: &[u8],
        expected: Option<&DocumentVersion>,
        lock: &SeriesLock,
    ) -> Result<bool, Error> {
        let _ = expected;
        self.write_document(relative, bytes, lock).map(|()| true)
    }

    /// [`CacheBackend::write_document`], returning the document's new version where the
    /// backend has versions.
    fn write_document_versioned(
        &self,
        relative: &Path,
        bytes: &[u8],
        lock: &SeriesLock,
    ) -> Result<Option<DocumentVersion>, Error> {
        self.write_document(relative, bytes, lock).map(|()| None)
    }

    /// The versions of the documents directly inside `dir`, by file name, from one listing;
    /// `None` from a backend where reading a document costs no more than listing it.
    fn document_versions(
        &self,
        dir: &Path,
    ) -> Result<Option<BTreeMap<String, DocumentVersion>>, Error> {
        let _ = dir;
        Ok(None)
    }
}

/// A document's bytes and its version, where the backend has versions.
pub type VersionedDocument = (Vec<u8>, Option<DocumentVersion>);

/// The version of a document in a backend that has versions (an object's ETag and version
/// id): what a conditional write must match, and what tells a changed document apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentVersion {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// A series as stored: its metadata and (some of) its bars.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub metadata: SeriesMetadata,
    pub bars: Vec<Bar>,
}

/// What Alpaca answered for one series, ready to be committed.
#[derive(Debug, Clone, Default)]
pub struct SeriesUpdate {
    /// The bars received, in the order they came. Repeats are allowed: the commit sorts them
    /// and keeps the later copy of a timestamp (see [`crate::market::bar::sort_keeping_last`]).
    pub bars: Vec<Bar>,
    /// The intervals Alpaca was asked for and answered: stored bars inside them are replaced
    /// by `bars` (a newer answer wins, and a bar that vanished from the answer goes).
    pub answered: Vec<Interval>,
    /// The settled part of `answered`, added to the coverage.
    pub covered: Vec<Interval>,
    /// Records that the series ended (issue 23); `None` keeps what the footer says.
    pub closing: Option<crate::market::Closing>,
    /// Intervals whose stored bars are dropped and which leave the coverage, so they are
    /// asked again (a history restated by a rename, issue 23). Applied before `bars`.
    pub withdrawn: Vec<Interval>,
    /// Records that the ticker took over another company's history by a rename; `None`
    /// keeps what the footer says.
    pub renamed_from: Option<crate::market::Renaming>,
}

/// How a commit reached storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteKind {
    /// Nothing changed: nothing was written.
    #[default]
    None,
    /// New row groups and footer written in place under a rollback journal.
    InPlace,
    /// The whole file (or object) rewritten.
    Rewrite,
}

/// The effect of a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    /// Bars at timestamps the file did not hold before.
    pub bars_added: u64,
    /// Stored bars whose values changed (a bar fetched while still forming, now final).
    pub bars_replaced: u64,
    pub rows: u64,
    /// False when the commit changed nothing, so nothing was written.
    pub written: bool,
    pub write: WriteKind,
    /// Whether the commit then compacted the file.
    pub compacted: bool,
}

/// What [`CacheBackend::recover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// No journal: the file is as its last commit left it.
    Clean,
    /// An interrupted append was rolled back; the file is as it was before that append.
    RolledBack { journal: PathBuf },
    /// A journal was left but its series file is gone; the journal was removed.
    Discarded { journal: PathBuf },
}

/// What [`CacheBackend::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compaction {
    /// The series is not cached.
    Missing,
    /// The file did not need it (and `force` was false).
    NotNeeded,
    /// Rewritten into large row groups, verified before the swap.
    Compacted {
        row_groups_before: usize,
        row_groups_after: usize,
        bytes_before: u64,
        bytes_after: u64,
    },
}

/// A file left behind by an interrupted write (a temp file, or a journal whose series file is
/// gone), and the series it was written for.
#[derive(Debug, Clone)]
pub struct LeftoverTemp {
    pub path: PathBuf,
    pub key: Option<SeriesKey>,
    pub bytes: u64,
}

/// A streaming read of one series: its metadata, then its bars in chunks.
pub struct SeriesScan {
    pub metadata: SeriesMetadata,
    chunks: BarChunks,
    location: PathBuf,
    key: SeriesKey,
}

impl SeriesScan {
    pub(crate) fn new(
        metadata: SeriesMetadata,
        chunks: BarChunks,
        location: PathBuf,
        key: SeriesKey,
    ) -> Self {
        Self {
            metadata,
            chunks,
            location,
            key,
        }
    }

    /// Reads every remaining chunk into one series.
    pub fn collect_all(self) -> Result<StoredSeries, Error> {
        let metadata = self.metadata.clone();
        let mut bars = Vec::new();
        for chunk in self {
            chunk?.extend_bars(&mut bars);
        }
        Ok(StoredSeries { metadata, bars })
    }
}

impl Iterator for SeriesScan {
    type Item = Result<BarColumns, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.chunks.next().map(|chunk| {
            // A read that failed (a disk, or a bucket mid-scan) is said as such, not as damage.
            chunk.map_err(|source| {
                Error::damaged(&self.location, &self.key, source)
                    .on_file(&self.location, super::Access::Read)
            })
        })
    }
}

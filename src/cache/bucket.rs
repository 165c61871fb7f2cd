//! The object-storage backend: a cache in a bucket, shared by many workers.
//!
//! Reads move only what the work needs. A series' footer comes from one ranged GET of the
//! object's last bytes ([`TAIL_BYTES`], the whole object for a daily series of a few years;
//! a second GET only for a larger footer). A scan then GETs only the byte ranges of the pages
//! that hold the rows asked for, one row group at a time, each GET on condition that the
//! object is still the version whose footer was read. What a read brought in is remembered
//! (with the object's ETag) only until the series is served or committed, and only up to
//! [`REMEMBERED_BYTES`] in all, so planning and committing a series cost one GET between
//! them while memory stays bounded by what is in flight, not by the objects touched.
//!
//! Commits are compare-and-swap: merge into the version read, put with `If-Match` on its
//! ETag (or create-if-absent), and on a conflict re-read, merge again and retry, a bounded
//! number of times. Writers therefore never lose each other's bars, and nothing needs a
//! lock: the locks this backend hands out are detached. Puts are atomic, so there is nothing
//! to recover and no temp file to leave behind. Sizes come from LIST and HEAD, never a GET.
//!
//! Documents (ledgers, the index of checks) are small objects read whole. They carry their
//! ETags: a conditional write lets the index merge and retry instead of losing a concurrent
//! run's entries, and a LIST of a directory tells which ledgers changed since the index
//! recorded them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::Error;
use super::backend::{
    CacheBackend, CommitSummary, Compaction, DocumentVersion, LeftoverTemp, Recovered, SeriesScan,
    SeriesUpdate, VersionedDocument, WriteKind,
};
use super::layout::SeriesKey;
use super::lock::SeriesLock;
use super::object_client::{ObjectClient, ObjectTail, ObjectVersion, PutOutcome};
use super::series_merge::{check_identity, empty_metadata, merge_update};
use crate::market::{Bar, Interval};
use crate::parquet_files::footer::Footer;
use crate::parquet_files::ranged_read::{self, TAIL_BYTES, TailFooter};
use crate::parquet_files::read::{self, FileSummary};
use crate::parquet_files::{self, SeriesMetadata};

/// Attempts of one commit before giving up on a series that keeps changing under us.
const MAX_COMMIT_ATTEMPTS: u32 = 16;

/// The most bytes of objects remembered between a read and the commit or scan that follows
/// it. Past it, a commit or scan reads again (one more GET), and memory stays bounded.
pub const REMEMBERED_BYTES: usize = 32 << 20;

/// A cache in object storage.
#[derive(Debug, Clone)]
pub struct Bucket {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: ObjectClient,
    root: PathBuf,
    /// What this run read of each series, by relative path.
    seen: Mutex<Seen>,
    conflicts: AtomicU64,
}

#[derive(Debug, Default)]
struct Seen {
    /// The version each object had when last read or written: what a replace must match.
    versions: HashMap<String, ObjectVersion>,
    /// Last bytes read and not yet used by a commit or scan.
    tails: HashMap<String, ObjectTail>,
    /// The bytes held in `tails`.
    bytes: usize,
}

impl Seen {
    fn take(&mut self, rel: &str) -> Option<ObjectTail> {
        let tail = self.tails.remove(rel)?;
        self.bytes -= tail.bytes.len();
        Some(tail)
    }

    fn keep(&mut self, rel: &str, tail: &ObjectTail) {
        self.take(rel);
        self.versions.insert(rel.to_owned(), tail.version.clone());
        if self.bytes + tail.bytes.len() <= REMEMBERED_BYTES {
            self.bytes += tail.bytes.len();
            self.tails.insert(rel.to_owned(), tail.clone());
        }
    }

    fn forget(&mut self, rel: &str) {
        self.take(rel);
        self.versions.remove(rel);
    }
}

fn relative(key: &SeriesKey) -> String {
    object_key(&key.relative_path())
}

/// A relative layout path as an object key: components joined with `/` on every platform.
pub fn object_key(path: &Path) -> String {
    path.iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs an object-storage future from the synchronous backend API. Backend methods are
/// called from blocking threads of the CLI's runtime, from no runtime at all (tests), and,
/// since a scan reads its pages as it is iterated, sometimes from a task of the CLI's
/// multi-thread runtime, which is told it blocks (`block_in_place`).
fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    use tokio::runtime::{Builder, Handle, RuntimeFlavor};
    let own = || {
        Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime can be built")
    };
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        // A current-thread runtime cannot block its only thread: run beside it.
        Ok(_) => std::thread::scope(|scope| {
            scope
                .spawn(|| own().block_on(future))
                .join()
                .expect("an object-storage request does not panic")
        }),
        Err(_) => own().block_on(future),
    }
}

impl Bucket {
    pub fn open(url: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                client: ObjectClient::open(url)?,
                root: PathBuf::from(url),
                seen: Mutex::new(Seen::default()),
                conflicts: AtomicU64::new(0),
            }),
        })
    }

    fn display(&self, key: &SeriesKey) -> String {
        self.inner.client.display(&relative(key))
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.inner.seen.lock().expect("not poisoned")
    }

    /// The object's last bytes: remembered from a read earlier in this run (and then
    /// forgotten) unless `fresh`, else one ranged GET.
    fn take_tail(&self, key: &SeriesKey, fresh: bool) -> Result<Option<ObjectTail>, Error> {
        let rel = relative(key);
        if !fresh && let Some(tail) = self.seen().take(&rel) {
            return Ok(Some(tail));
        }
        let tail = block_on(self.inner.client.get_tail(&rel, TAIL_BYTES))?;
        if let Some(tail) = &tail {
            self.seen()
                .versions
                .insert(rel.clone(), tail.version.clone());
        }
        Ok(tail)
    }

    /// The footer from `tail`, reading further back (one more ranged GET) when it is longer
    /// than the tail; also returns the bytes it was read from.
    fn footer(&self, key: &SeriesKey, tail: ObjectTail) -> Result<(Footer, ObjectTail), Error> {
        match ranged_read::footer_from_tail(tail.size, &tail.bytes)
            .map_err(|e| self.damaged(key, e))?
        {
            TailFooter::Read(footer) => Ok((*footer, tail)),
            TailFooter::StartsAt(from) => {
                let rel = relative(key);
                let head = from..tail.offset();
                let get =
                    self.inner
                        .client
                        .get_ranges(&rel, std::slice::from_ref(&head), &tail.version);
                let mut head = block_on(get)?;
                let mut bytes = Vec::with_capacity(tail.bytes.len() + head[0].len());
                bytes.extend_from_slice(&head.remove(0));
                bytes.extend_from_slice(&tail.bytes);
                let longer = ObjectTail {
                    bytes: Bytes::from(bytes),
                    ..tail
                };
                match ranged_read::footer_from_tail(longer.size, &longer.bytes)
                    .map_err(|e| self.damaged(key, e))?
                {
                    TailFooter::Read(footer) => Ok((*footer, longer)),
                    TailFooter::StartsAt(_) => Err(self.damaged(
                        key,
                        parquet_files::Error::Schema("the footer length is inconsistent".into()),
                    )),
                }
            }
        }
    }

    /// The whole object at the version of `tail` or later, with that version.
    fn whole(
        &self,
        key: &SeriesKey,
        tail: ObjectTail,
    ) -> Result<Option<(Bytes, ObjectVersion)>, Error> {
        if tail.is_whole() {
            return Ok(Some((tail.bytes, tail.version)));
        }
        block_on(self.inner.client.get(&relative(key)))
    }

    fn encode(key: &SeriesKey, metadata: &SeriesMetadata, bars: &[Bar]) -> Result<Bytes, Error> {
        let buffer =
            parquet_files::write::write_series(Vec::new(), metadata, bars).map_err(|source| {
                Error::Write {
                    path: key.relative_path(),
                    source,
                }
            })?;
        Ok(Bytes::from(buffer))
    }

    fn damaged(&self, key: &SeriesKey, source: parquet_files::Error) -> Error {
        Error::damaged(&self.location(key), key, source)
    }

    /// Remembers what was just written: a small object whole, as a tail read would have
    /// brought it (a `fetch` serves what it committed without reading it again).
    fn written(&self, key: &SeriesKey, bytes: Bytes, version: ObjectVersion) {
        let rel = relative(key);
        let mut seen = self.seen();
        if bytes.len() as u64 <= TAIL_BYTES {
            let tail = ObjectTail {
                size: bytes.len() as u64,
                bytes,
                version,
            };
            seen.keep(&rel, &tail);
        } else {
            seen.take(&rel);
            seen.versions.insert(rel, version);
        }
    }
}

impl CacheBackend for Bucket {
    fn root(&self) -> &Path {
        &self.inner.root
    }

    fn location(&self, key: &SeriesKey) -> PathBuf {
        PathBuf::from(self.display(key))
    }

    /// Nothing to lock: commits are conditional puts instead.
    fn lock(&self, _key: &SeriesKey, _wait: bool) -> Result<SeriesLock, Error> {
        Ok(SeriesLock::detached())
    }

    /// Puts are atomic: an object is always as its last commit left it.
    fn recover(&self, _key: &SeriesKey) -> Result<Recovered, Error> {
        Ok(Recovered::Clean)
    }

    /// One ranged GET of the object's last bytes (see the module documentation); kept for
    /// the commit or scan that usually follows.
    fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, Error> {
        let Some(tail) = self.take_tail(key, false)? else {
            return Ok(None);
        };
        let (footer, tail) = self.footer(key, tail)?;
        footer.arrow_metadata().map_err(|e| self.damaged(key, e))?;
        check_identity(&self.location(key), key, &footer.series)?;
        self.seen().keep(&relative(key), &tail);
        Ok(Some(FileSummary::from(&footer)))
    }

    /// The footer from the object's last bytes, then only the pages of the rows inside
    /// `range`, one row group at a time.
    fn scan_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<SeriesScan>, Error> {
        let Some(tail) = self.take_tail(key, false)? else {
            return Ok(None);
        };
        let (footer, tail) = self.footer(key, tail)?;
        check_identity(&self.location(key), key, &footer.series)?;
        let (metadata, chunks) = if tail.is_whole() {
            read::scan_bytes(tail.bytes, range)
        } else {
            let client = self.inner.client.clone();
            let (rel, version) = (relative(key), tail.version.clone());
            let fetch = move |ranges: &[std::ops::Range<u64>]| {
                block_on(client.get_ranges(&rel, ranges, &version))
                    .map_err(|e| parquet_files::Error::Io(std::io::Error::other(e)))
            };
            ranged_read::scan_ranges(footer, tail.bytes, range, Box::new(fetch))
        }
        .map_err(|e| self.damaged(key, e))?;
        Ok(Some(SeriesScan::new(
            metadata,
            chunks,
            self.location(key),
            key.clone(),
        )))
    }

    /// Compare-and-swap commit: see the module documentation.
    fn commit(
        &self,
        key: &SeriesKey,
        _lock: &SeriesLock,
        update: SeriesUpdate,
        now: DateTime<Utc>,
    ) -> Result<CommitSummary, Error> {
        let rel = relative(key);
        let mut fresh = false;
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let current = match self.take_tail(key, fresh)? {
                Some(tail) => self.whole(key, tail)?,
                None => None,
            };
            let (stored, version) = match current {
                Some((bytes, version)) => {
                    let (metadata, bars) =
                        read::read_bars_bytes(bytes).map_err(|e| self.damaged(key, e))?;
                    check_identity(&self.location(key), key, &metadata)?;
                    ((metadata, bars), Some(version))
                }
                None => ((empty_metadata(key, now), Vec::new()), None),
            };
            let mut summary = CommitSummary::default();
            let Some((metadata, bars)) =
                merge_update(key, &stored.0, &stored.1, update.clone(), now, &mut summary)
            else {
                return Ok(summary);
            };
            drop(stored);
            let bytes = Self::encode(key, &metadata, &bars)?;
            drop(bars);
            match block_on(self.inner.client.put(&rel, bytes.clone(), version.as_ref()))? {
                PutOutcome::Written(new_version) => {
                    self.written(key, bytes, new_version);
                    summary.written = true;
                    summary.write = WriteKind::Rewrite;
                    return Ok(summary);
                }
                PutOutcome::Conflict => {
                    self.inner.conflicts.fetch_add(1, Ordering::Relaxed);
                    fresh = true;
                }
            }
        }
        Err(Error::Contended {
            location: self.display(key),
            attempts: MAX_COMMIT_ATTEMPTS,
        })
    }

    /// Replaces a series (retention), on condition that it is still the version last read.
    fn replace(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error> {
        let rel = relative(key);
        let known = self.seen().versions.get(&rel).cloned();
        let version = match known {
            Some(version) => Some(version),
            None => self.take_tail(key, true)?.map(|tail| tail.version),
        };
        let bytes = Self::encode(key, metadata, bars)?;
        match block_on(self.inner.client.put(&rel, bytes.clone(), version.as_ref()))? {
            PutOutcome::Written(new_version) => {
                self.written(key, bytes, new_version);
                Ok(())
            }
            PutOutcome::Conflict => {
                self.inner.conflicts.fetch_add(1, Ordering::Relaxed);
                self.seen().forget(&rel);
                Err(Error::Contended {
                    location: self.display(key),
                    attempts: 1,
                })
            }
        }
    }

    /// Every put writes a whole, freshly encoded object: there is never anything to compact.
    fn compact(
        &self,
        key: &SeriesKey,
        _lock: &SeriesLock,
        _force: bool,
    ) -> Result<Compaction, Error> {
        Ok(match self.size(key)? {
            None => Compaction::Missing,
            Some(_) => Compaction::NotNeeded,
        })
    }

    fn list_sized(&self) -> Result<Vec<(SeriesKey, u64)>, Error> {
        let mut keys: Vec<(SeriesKey, u64)> = block_on(self.inner.client.list())?
            .into_iter()
            .filter_map(|(rel, size)| Some((SeriesKey::from_relative_path(Path::new(&rel))?, size)))
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn size(&self, key: &SeriesKey) -> Result<Option<u64>, Error> {
        let rel = relative(key);
        if let Some(tail) = self.seen().tails.get(&rel) {
            return Ok(Some(tail.size));
        }
        block_on(self.inner.client.size(&rel))
    }

    fn remove(&self, key: &SeriesKey, _lock: SeriesLock) -> Result<u64, Error> {
        let bytes = self.size(key)?.unwrap_or(0);
        let rel = relative(key);
        block_on(self.inner.client.delete(&rel))?;
        self.seen().forget(&rel);
        Ok(bytes)
    }

    fn remove_lock(&self, _lock: SeriesLock) -> Result<(), Error> {
        Ok(())
    }

    /// Object puts are atomic: a bucket never holds half-written objects.
    fn leftovers(&self) -> Result<Vec<LeftoverTemp>, Error> {
        Ok(Vec::new())
    }

    /// Objects are put whole: no journals.
    fn orphan_journals(&self) -> Result<Vec<LeftoverTemp>, Error> {
        Ok(Vec::new())
    }

    fn remove_leftover(&self, _temp: &LeftoverTemp) -> Result<bool, Error> {
        Ok(false)
    }

    /// Object storage has no directories to empty.
    fn tidy(&self) {}

    fn conflicts(&self) -> Option<u64> {
        Some(self.inner.conflicts.load(Ordering::Relaxed))
    }

    fn document_location(&self, relative: &Path) -> PathBuf {
        PathBuf::from(self.inner.client.display(&object_key(relative)))
    }

    /// Documents are merged by their writers and concurrent writers write the same answer
    /// from Alpaca, so the last write may win: nothing to lock.
    fn lock_document(&self, _relative: &Path, _wait: bool) -> Result<SeriesLock, Error> {
        Ok(SeriesLock::detached())
    }

    fn read_document(&self, relative: &Path) -> Result<Option<Vec<u8>>, Error> {
        Ok(block_on(self.inner.client.get(&object_key(relative)))?.map(|(bytes, _)| bytes.into()))
    }

    fn write_document(
        &self,
        relative: &Path,
        bytes: &[u8],
        _lock: &SeriesLock,
    ) -> Result<(), Error> {
        block_on(
            self.inner
                .client
                .put_overwrite(&object_key(relative), Bytes::copy_from_slice(bytes)),
        )
        .map(drop)
    }

    fn remove_document(&self, relative: &Path, _lock: SeriesLock) -> Result<bool, Error> {
        let key = object_key(relative);
        let existed = block_on(self.inner.client.size(&key))?.is_some();
        block_on(self.inner.client.delete(&key))?;
        Ok(existed)
    }

    fn list_documents(&self, dir: &Path) -> Result<Vec<String>, Error> {
        Ok(self
            .document_versions(dir)?
            .unwrap_or_default()
            .into_keys()
            .collect())
    }

    fn read_document_versioned(&self, relative: &Path) -> Result<Option<VersionedDocument>, Error> {
        Ok(block_on(self.inner.client.get(&object_key(relative)))?
            .map(|(bytes, version)| (bytes.into(), Some(version))))
    }

    /// A conditional put: `If-Match` on `expected`, or create-if-absent.
    fn write_document_if(
        &self,
        relative: &Path,
        bytes: &[u8],
        expected: Option<&DocumentVersion>,
        _lock: &SeriesLock,
    ) -> Result<bool, Error> {
        let key = object_key(relative);
        let put = self
            .inner
            .client
            .put(&key, Bytes::copy_from_slice(bytes), expected);
        Ok(match block_on(put)? {
            PutOutcome::Written(_) => true,
            PutOutcome::Conflict => false,
        })
    }

    fn write_document_versioned(
        &self,
        relative: &Path,
        bytes: &[u8],
        _lock: &SeriesLock,
    ) -> Result<Option<DocumentVersion>, Error> {
        let key = object_key(relative);
        let put = self
            .inner
            .client
            .put_overwrite(&key, Bytes::copy_from_slice(bytes));
        block_on(put).map(Some)
    }

    /// One LIST of the directory (one request per 1,000 documents).
    fn document_versions(
        &self,
        dir: &Path,
    ) -> Result<Option<BTreeMap<String, DocumentVersion>>, Error> {
        let dir = object_key(dir);
        let prefix = format!("{dir}/");
        Ok(Some(
            block_on(self.inner.client.list_under(&dir))?
                .into_iter()
                .filter_map(|listed| {
                    let name = listed.relative.strip_prefix(&prefix)?;
                    let version = DocumentVersion {
                        e_tag: listed.e_tag,
                        version: None,
                    };
                    (!name.contains('/')).then(|| (name.to_owned(), version))
                })
                .collect(),
        ))
    }
}

//! The object-storage backend: a cache in a bucket, shared by many workers.
//!
//! Reads are one GET per series: the object's bytes are remembered for the rest of the run
//! (with their ETag), so planning and serving a series do not fetch it twice. Commits are
//! compare-and-swap: merge into the version read, put with `If-Match` on its ETag (or
//! create-if-absent), and on a conflict re-read, merge again and retry, a bounded number of
//! times. Writers therefore never lose each other's bars, and nothing needs a lock: the
//! locks this backend hands out are detached. Puts are atomic, so there is nothing to
//! recover and no temp file to leave behind. Sizes come from LIST and HEAD, never a GET.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::Error;
use super::backend::{
    CacheBackend, CommitSummary, Compaction, LeftoverTemp, Recovered, SeriesScan, SeriesUpdate,
    WriteKind,
};
use super::layout::SeriesKey;
use super::lock::SeriesLock;
use super::object_client::{ObjectClient, ObjectVersion, PutOutcome};
use super::series_merge::{check_identity, empty_metadata, merge_update};
use crate::market::{Bar, Interval};
use crate::parquet_files::read::{self, FileSummary};
use crate::parquet_files::{self, SeriesMetadata};

/// Attempts of one commit before giving up on a series that keeps changing under us.
const MAX_COMMIT_ATTEMPTS: u32 = 16;

/// A cache in object storage.
#[derive(Debug, Clone)]
pub struct Bucket {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: ObjectClient,
    root: PathBuf,
    /// The last bytes and version seen of each object, by relative path.
    seen: Mutex<HashMap<String, (Bytes, ObjectVersion)>>,
    conflicts: AtomicU64,
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
/// called from blocking threads of the CLI's runtime (or from no runtime at all, in tests).
fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(future),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime can be built")
            .block_on(future),
    }
}

impl Bucket {
    pub fn open(url: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                client: ObjectClient::open(url)?,
                root: PathBuf::from(url),
                seen: Mutex::new(HashMap::new()),
                conflicts: AtomicU64::new(0),
            }),
        })
    }

    fn display(&self, key: &SeriesKey) -> String {
        self.inner.client.display(&relative(key))
    }

    fn remember(&self, rel: &str, entry: Option<(Bytes, ObjectVersion)>) {
        let mut seen = self.inner.seen.lock().expect("not poisoned");
        match entry {
            Some(entry) => {
                seen.insert(rel.to_owned(), entry);
            }
            None => {
                seen.remove(rel);
            }
        }
    }

    /// The object's bytes and version: remembered from earlier in this run unless `fresh`.
    fn get(&self, key: &SeriesKey, fresh: bool) -> Result<Option<(Bytes, ObjectVersion)>, Error> {
        let rel = relative(key);
        if !fresh && let Some(entry) = self.inner.seen.lock().expect("not poisoned").get(&rel) {
            return Ok(Some(entry.clone()));
        }
        let entry = block_on(self.inner.client.get(&rel))?;
        self.remember(&rel, entry.clone());
        Ok(entry)
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

    fn read_summary(&self, key: &SeriesKey) -> Result<Option<FileSummary>, Error> {
        let Some((bytes, _)) = self.get(key, false)? else {
            return Ok(None);
        };
        let summary = read::read_summary_bytes(&bytes).map_err(|e| self.damaged(key, e))?;
        check_identity(&self.location(key), key, &summary.metadata)?;
        Ok(Some(summary))
    }

    fn scan_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<SeriesScan>, Error> {
        let Some((bytes, _)) = self.get(key, false)? else {
            return Ok(None);
        };
        let (metadata, chunks) =
            read::scan_bytes(bytes, range).map_err(|e| self.damaged(key, e))?;
        check_identity(&self.location(key), key, &metadata)?;
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
            let current = self.get(key, fresh)?;
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
            let bytes = Self::encode(key, &metadata, &bars)?;
            match block_on(self.inner.client.put(&rel, bytes.clone(), version.as_ref()))? {
                PutOutcome::Written(new_version) => {
                    self.remember(&rel, Some((bytes, new_version)));
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
        let version = self.get(key, false)?.map(|(_, v)| v);
        let bytes = Self::encode(key, metadata, bars)?;
        match block_on(self.inner.client.put(&rel, bytes.clone(), version.as_ref()))? {
            PutOutcome::Written(new_version) => {
                self.remember(&rel, Some((bytes, new_version)));
                Ok(())
            }
            PutOutcome::Conflict => {
                self.inner.conflicts.fetch_add(1, Ordering::Relaxed);
                self.remember(&rel, None);
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
        if let Some((bytes, _)) = self.inner.seen.lock().expect("not poisoned").get(&rel) {
            return Ok(Some(bytes.len() as u64));
        }
        block_on(self.inner.client.size(&rel))
    }

    fn remove(&self, key: &SeriesKey, _lock: SeriesLock) -> Result<u64, Error> {
        let bytes = self.size(key)?.unwrap_or(0);
        let rel = relative(key);
        block_on(self.inner.client.delete(&rel))?;
        self.remember(&rel, None);
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
    }

    fn remove_document(&self, relative: &Path, _lock: SeriesLock) -> Result<bool, Error> {
        let key = object_key(relative);
        let existed = block_on(self.inner.client.size(&key))?.is_some();
        block_on(self.inner.client.delete(&key))?;
        Ok(existed)
    }

    fn list_documents(&self, dir: &Path) -> Result<Vec<String>, Error> {
        let prefix = format!("{}/", object_key(dir));
        Ok(block_on(self.inner.client.list())?
            .into_iter()
            .filter_map(|(rel, _)| {
                let name = rel.strip_prefix(&prefix)?;
                (!name.contains('/')).then(|| name.to_owned())
            })
            .collect())
    }
}

//! The store's object-storage side: how a series is read from and committed to a bucket.
//!
//! Reads are one GET per series: the object's bytes are remembered for the rest of the run
//! (with their ETag), so planning and serving a series do not fetch it twice. Commits are
//! compare-and-swap: merge into the version read, put with `If-Match` on its ETag (or
//! create-if-absent), and on a conflict re-read, merge again and retry, a bounded number of
//! times. Writers therefore never lose each other's bars, and nothing needs a lock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::bucket::{Bucket, ObjectVersion, PutOutcome};
use super::layout::SeriesKey;
use super::store::{CommitSummary, SeriesUpdate, empty_metadata};
use super::{Error, Store};
use crate::market::Bar;
use crate::parquet_files::{self, SeriesMetadata, read};

/// Attempts of one commit before giving up on a series that keeps changing under us.
const MAX_COMMIT_ATTEMPTS: u32 = 16;

#[derive(Debug, Clone)]
pub struct BucketStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bucket: Bucket,
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

/// Runs an object-storage future from the synchronous store API. Store methods are called
/// from blocking threads of the CLI's runtime (or from no runtime at all, in tests).
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

impl BucketStore {
    pub fn open(url: &str) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                bucket: Bucket::open(url)?,
                seen: Mutex::new(HashMap::new()),
                conflicts: AtomicU64::new(0),
            }),
        })
    }

    pub fn display(&self, key: &SeriesKey) -> String {
        self.inner.bucket.display(&relative(key))
    }

    /// Conditional puts that lost a race (and were retried) so far in this run.
    pub fn conflicts(&self) -> u64 {
        self.inner.conflicts.load(Ordering::Relaxed)
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
    pub fn get(
        &self,
        key: &SeriesKey,
        fresh: bool,
    ) -> Result<Option<(Bytes, ObjectVersion)>, Error> {
        let rel = relative(key);
        if !fresh && let Some(entry) = self.inner.seen.lock().expect("not poisoned").get(&rel) {
            return Ok(Some(entry.clone()));
        }
        let entry = block_on(self.inner.bucket.get(&rel))?;
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

    /// Compare-and-swap commit: see the module documentation.
    pub fn commit(
        &self,
        store: &Store,
        key: &SeriesKey,
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
                        read::read_bars_bytes(bytes).map_err(|e| store.damaged(key, e))?;
                    store.check_identity(key, &metadata)?;
                    ((metadata, bars), Some(version))
                }
                None => ((empty_metadata(key, now), Vec::new()), None),
            };
            let mut summary = CommitSummary::default();
            let Some((metadata, bars)) =
                store.merge_update(key, &stored.0, &stored.1, update.clone(), now, &mut summary)
            else {
                return Ok(summary);
            };
            let bytes = Self::encode(key, &metadata, &bars)?;
            match block_on(self.inner.bucket.put(&rel, bytes.clone(), version.as_ref()))? {
                PutOutcome::Written(new_version) => {
                    self.remember(&rel, Some((bytes, new_version)));
                    summary.written = true;
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
    pub fn replace(
        &self,
        key: &SeriesKey,
        metadata: &SeriesMetadata,
        bars: &[Bar],
    ) -> Result<(), Error> {
        let rel = relative(key);
        let version = self.get(key, false)?.map(|(_, v)| v);
        let bytes = Self::encode(key, metadata, bars)?;
        match block_on(self.inner.bucket.put(&rel, bytes.clone(), version.as_ref()))? {
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

    pub fn delete(&self, key: &SeriesKey) -> Result<(), Error> {
        let rel = relative(key);
        block_on(self.inner.bucket.delete(&rel))?;
        self.remember(&rel, None);
        Ok(())
    }

    /// The object's size; `None` when absent.
    pub fn size(&self, key: &SeriesKey) -> Result<Option<u64>, Error> {
        Ok(self.get(key, false)?.map(|(bytes, _)| bytes.len() as u64))
    }

    /// A small object that is not a series (a corporate-actions ledger), by relative path.
    pub fn read_object(&self, relative: &str) -> Result<Option<Bytes>, Error> {
        Ok(block_on(self.inner.bucket.get(relative))?.map(|(bytes, _)| bytes))
    }

    /// Replaces a small object that is not a series. Its writers merge what they read, and
    /// concurrent writers write the same answer from Alpaca, so the last write may win.
    pub fn write_object(&self, relative: &str, bytes: Bytes) -> Result<(), Error> {
        block_on(self.inner.bucket.put_overwrite(relative, bytes))
    }

    pub fn delete_object(&self, relative: &str) -> Result<(), Error> {
        block_on(self.inner.bucket.delete(relative))
    }

    /// Relative paths of every object whose path starts with `prefix`.
    pub fn list_objects(&self, prefix: &str) -> Result<Vec<String>, Error> {
        Ok(block_on(self.inner.bucket.list())?
            .into_iter()
            .map(|(rel, _)| rel)
            .filter(|rel| rel.starts_with(prefix))
            .collect())
    }

    /// The object URL of a relative path, for messages.
    pub fn display_relative(&self, relative: &str) -> String {
        self.inner.bucket.display(relative)
    }

    /// Every series object under the prefix, sorted. Other objects are ignored.
    pub fn list(&self) -> Result<Vec<SeriesKey>, Error> {
        let mut keys: Vec<SeriesKey> = block_on(self.inner.bucket.list())?
            .into_iter()
            .filter_map(|(rel, _)| SeriesKey::from_relative_path(Path::new(&rel)))
            .collect();
        keys.sort();
        Ok(keys)
    }
}

//! The handle every operation holds: a [`Store`] is a shared [`CacheBackend`], opened from a
//! cache location (a directory, or an object-storage URL). Code above the cache calls the
//! trait's methods through it and never learns which backend answers.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::Error;
pub use super::backend::{
    CacheBackend, CommitSummary, Compaction, LeftoverTemp, Recovered, SeriesScan, SeriesUpdate,
    StoredSeries, WriteKind,
};
use super::bucket::Bucket;
use super::layout::SeriesKey;
use super::local_dir::LocalDir;
use super::location::Location;
use crate::market::Interval;

/// A cache, whichever backend holds it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn CacheBackend>,
}

impl Deref for Store {
    type Target = dyn CacheBackend;

    fn deref(&self) -> &Self::Target {
        self.backend.as_ref()
    }
}

impl Store {
    /// A cache in the directory `root`.
    pub fn new(root: PathBuf) -> Self {
        Self::with_backend(LocalDir::new(root))
    }

    /// The cache at `location`. `write_delay` is the test-only write throttle of a directory
    /// cache (see [`LocalDir::with_write_delay`]); `None` outside tests.
    pub fn open(location: &Location, write_delay: Option<Duration>) -> Result<Self, Error> {
        match location {
            Location::Bucket(url) => Self::open_bucket(url),
            Location::Directory(dir) => Ok(Self::with_backend(
                LocalDir::new(dir.clone()).with_write_delay(write_delay),
            )),
        }
    }

    /// A cache in object storage at `url` (`s3://BUCKET/PREFIX`, `gs://...`, `az://...`).
    pub fn open_bucket(url: &str) -> Result<Self, Error> {
        Ok(Self::with_backend(Bucket::open(url)?))
    }

    /// A cache held by any backend (a test double, say).
    pub fn with_backend(backend: impl CacheBackend + 'static) -> Self {
        Self {
            backend: Arc::new(backend),
        }
    }

    /// Where a series lives: a file path, or the object's URL.
    pub fn path(&self, key: &SeriesKey) -> PathBuf {
        self.backend.location(key)
    }

    /// The bars of a series inside `range` (all when `None`); `None` when not cached. Holds
    /// every bar in memory: prefer [`CacheBackend::scan_bars`] for long series.
    pub fn read_bars(
        &self,
        key: &SeriesKey,
        range: Option<Interval>,
    ) -> Result<Option<StoredSeries>, Error> {
        self.backend
            .scan_bars(key, range)?
            .map(SeriesScan::collect_all)
            .transpose()
    }
}

//! Removing things from the cache: whole series (with their lock files), temp files left by
//! interrupted writes, and directories emptied by either. Callers hold the series lock.

use std::path::{Path, PathBuf};

use super::atomic_file::{self, TEMP_PREFIX};
use super::layout::SeriesKey;
use super::lock::{self, SeriesLock};
use super::{Error, Store};

/// A temp file left behind by an interrupted write, and the series it was written for.
#[derive(Debug, Clone)]
pub struct LeftoverTemp {
    pub path: PathBuf,
    pub key: Option<SeriesKey>,
    pub bytes: u64,
}

/// Size of the series file in bytes; `None` when not cached.
pub fn file_size(store: &Store, key: &SeriesKey) -> Result<Option<u64>, Error> {
    if let Some(bucket) = store.bucket() {
        return bucket.size(key);
    }
    match fs_err::metadata(store.path(key)) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Deletes a series file and then its lock file, returning the bytes freed. The lock is
/// consumed: it is released when its file is gone.
pub fn remove_series(store: &Store, key: &SeriesKey, lock: SeriesLock) -> Result<u64, Error> {
    if let Some(bucket) = store.bucket() {
        let bytes = bucket.size(key)?.unwrap_or(0);
        bucket.delete(key)?;
        return Ok(bytes);
    }
    let path = store.path(key);
    let bytes = file_size(store, key)?.unwrap_or(0);
    match fs_err::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(dir) = path.parent() {
        atomic_file::sync_dir(dir)?;
    }
    lock::remove(lock)?;
    Ok(bytes)
}

/// Deletes the lock file of a series that is not cached (while holding the lock).
pub fn remove_lock(lock: SeriesLock) -> Result<(), Error> {
    lock::remove(lock)
}

/// Every temp file in the series directories of the cache.
pub fn leftover_temp_files(store: &Store) -> Result<Vec<LeftoverTemp>, Error> {
    // Object puts are atomic: a bucket never holds half-written objects.
    if store.bucket().is_some() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for_each_series_dir(store.root(), &mut |dir, relative| {
        for entry in fs_err::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
                continue;
            };
            // `.tmp-<pid>-<random>-<series file name>`
            let series_file = rest.splitn(3, '-').nth(2).unwrap_or("");
            let key = SeriesKey::from_relative_path(&relative.join(series_file));
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

/// Deletes empty layout directories (timeframe, feed and asset-class levels), deepest first.
pub fn remove_empty_dirs(store: &Store) {
    if store.bucket().is_some() {
        return;
    }
    let mut dirs = Vec::new();
    let _ = for_each_series_dir(store.root(), &mut |dir, _| {
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

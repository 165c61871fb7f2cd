//! Per-series write locks across processes: an exclusive OS file lock on a hidden
//! `.<file>.lock` beside the series file. Held from planning a series' gaps until its commit
//! is on disk, so two runs never fetch or write the same series at once. Readers take no lock
//! (an append never changes the bytes an earlier footer points to, and rewrites go through
//! rename), except to roll back a journal an interrupted append left behind: the store does
//! that under this lock. The locks this process holds are also kept in a process-wide list,
//! so that such a recovery inside a process that already holds the lock does not wait for it.
//!
//! Waiting for a lock another process holds is a loop of tries, not a blocking `flock`, so a
//! signal ends it within `POLL_AT_MOST` (issue 20): the wait then fails, and the run commits
//! what it can and stops.

use std::fmt;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::Error;
use crate::interrupt::{self, Wait};

/// The longest pause between two tries of a lock another process holds. The first pauses
/// are shorter (1 ms, doubling), so a lock held for a commit is taken soon after it is free.
const POLL_AT_MOST: Duration = Duration::from_millis(20);

/// An exclusive lock, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct SeriesLock {
    /// `None` for a detached lock (object storage, where commits are conditional instead).
    _file: Option<File>,
    path: PathBuf,
}

impl SeriesLock {
    /// A lock that guards nothing, for stores that need none.
    pub fn detached() -> Self {
        Self {
            _file: None,
            path: PathBuf::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SeriesLock {
    fn drop(&mut self) {
        let mut held = HELD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(i) = held.iter().position(|p| *p == self.path) {
            held.swap_remove(i);
        }
    }
}

/// Lock files this process holds a lock on.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether this process holds the lock of `series_path`.
pub fn held_by_this_process(series_path: &Path) -> bool {
    let path = lock_path(series_path);
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&path)
}

/// The lock file that guards `series_path`.
pub fn lock_path(series_path: &Path) -> PathBuf {
    super::layout::hidden_sibling(series_path, "lock")
}

/// Locks `series_path`, creating its directory and lock file as needed. With `wait` false,
/// fails with [`Error::Locked`] instead of waiting for another process. `guarded` names what
/// the lock guards ("AAPL 1Min (stocks sip)"), for the line a signal ending the wait prints.
///
/// `prune` deletes lock files (while holding them). A process that was waiting on a deleted
/// lock file would then hold a lock nobody else can see, so after locking we check that the
/// path still names the file we locked, and start over if not.
pub fn acquire(
    series_path: &Path,
    wait: bool,
    guarded: &dyn fmt::Display,
) -> Result<SeriesLock, Error> {
    loop {
        let lock = acquire_once(series_path, wait, guarded)?;
        if still_linked(&lock)? {
            return Ok(lock);
        }
    }
}

#[cfg(unix)]
fn still_linked(lock: &SeriesLock) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let Some(file) = &lock._file else {
        return Ok(true);
    };
    let held = file.metadata()?;
    Ok(match fs_err::metadata(&lock.path) {
        Ok(now) => now.ino() == held.ino() && now.dev() == held.dev(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e.into()),
    })
}

#[cfg(not(unix))]
fn still_linked(_lock: &SeriesLock) -> Result<bool, Error> {
    Ok(true)
}

/// Deletes the lock file while still holding the lock (used when a series is removed).
pub fn remove(lock: SeriesLock) -> Result<(), Error> {
    if lock._file.is_none() {
        return Ok(());
    }
    match fs_err::remove_file(&lock.path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn acquire_once(
    series_path: &Path,
    wait: bool,
    guarded: &dyn fmt::Display,
) -> Result<SeriesLock, Error> {
    let path = lock_path(series_path);
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?
        .into_file();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if !wait => return Err(Error::Locked { path }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("failed to lock `{}`: {e}", path.display()),
                )
                .into());
            }
        }
        // Another process holds it. A signal ends the wait (a free lock is still taken after
        // one: committing what was answered needs it).
        if let Some(signal) = interrupt::received() {
            interrupt::gave_up(Wait::Other(format!(
                "waiting for the lock of {guarded} held by another barkeep"
            )));
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                format!(
                    "stopped waiting for the lock `{}` held by another barkeep ({})",
                    path.display(),
                    signal.name()
                ),
            )
            .into());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(POLL_AT_MOST);
    }
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(path.clone());
    Ok(SeriesLock {
        _file: Some(file),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_without_wait_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let series = dir.path().join("stocks/sip/1Day/AAPL.parquet");
        let first = acquire(&series, false, &"AAPL").unwrap();
        assert_eq!(
            first.path(),
            dir.path().join("stocks/sip/1Day/.AAPL.parquet.lock")
        );
        assert!(matches!(
            acquire(&series, false, &"AAPL"),
            Err(Error::Locked { .. })
        ));
        assert!(held_by_this_process(&series));
        drop(first);
        assert!(!held_by_this_process(&series));
        let second = acquire(&series, false, &"AAPL").unwrap();
        remove(second).unwrap();
        assert!(!lock_path(&series).exists());
        acquire(&series, false, &"AAPL").unwrap();
    }

    #[test]
    fn a_waiting_lock_is_taken_soon_after_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let series = dir.path().join("stocks/sip/1Day/AAPL.parquet");
        let first = acquire(&series, false, &"AAPL").unwrap();
        let waiter = {
            let series = series.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                let lock = acquire(&series, true, &"AAPL").unwrap();
                (started.elapsed(), lock)
            })
        };
        std::thread::sleep(Duration::from_millis(200));
        drop(first);
        let (waited, _lock) = waiter.join().unwrap();
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(
            waited < Duration::from_millis(200) + 10 * POLL_AT_MOST,
            "{waited:?}"
        );
    }
}

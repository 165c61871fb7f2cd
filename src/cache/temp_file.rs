//! The one way a file in a cache directory is created or replaced whole: write a temp file
//! beside it, fsync it, optionally check it, rename it over the target, fsync the directory.
//! A crash at any moment leaves the old file or the new one, both complete. Series rewrites,
//! compactions, rollback journals and corporate-actions ledgers all go through [`write()`].
//!
//! The temp file of `AAPL.parquet` is `.AAPL.parquet.tmp`: hidden, and matched by no
//! `*.parquet` or `*.json` glob, so DuckDB or polars globbing the cache never trip on a write
//! in progress or on a killed writer's leftover. Only the holder of the target's lock writes
//! it, so one fixed name per target is enough, and a writer simply replaces a leftover.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Error;

/// Suffix of temp files; a file `.<name>.tmp` is the temp file of `<name>`.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Prefix of the temp files of earlier versions (`.tmp-<pid>-<n>-<name>`), still recognised
/// as leftovers.
pub const LEGACY_TEMP_PREFIX: &str = ".tmp-";

/// The temp file that replaces `target`: `.<name>.tmp` beside it (a hidden target keeps its
/// one leading dot).
pub fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let hidden = if name.starts_with('.') {
        name
    } else {
        format!(".{name}")
    };
    target.with_file_name(format!("{hidden}{TEMP_SUFFIX}"))
}

/// The name of the file a temp file named `name` was replacing, if `name` is a temp file's.
pub fn target_of(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix(LEGACY_TEMP_PREFIX) {
        // `.tmp-<pid>-<random>-<file name>`
        return Some(rest.splitn(3, '-').nth(2).unwrap_or("").to_owned());
    }
    let hidden = name.strip_suffix(TEMP_SUFFIX)?.strip_prefix('.')?;
    (!hidden.is_empty()).then(|| hidden.to_owned())
}

/// The output of a write: the temp file, buffered, paused after every 512 bytes when a test
/// asked for slow writes.
pub type TempWriter = BufWriter<Throttled<File>>;

/// Creates or replaces `target` atomically: `fill` writes the temp file, which is synced,
/// checked by `check` (to compare it with what it replaces), renamed over `target`, and the
/// directory synced. The temp file is removed on failure. `delay` is the test-only throttle
/// (see `LocalDir::with_write_delay`); `None` everywhere else. The caller holds the lock
/// guarding `target`.
pub fn write<T>(
    target: &Path,
    delay: Option<Duration>,
    fill: impl FnOnce(&mut TempWriter) -> Result<(), Error>,
    check: impl FnOnce(&File) -> Result<T, Error>,
) -> Result<T, Error> {
    let dir = target.parent().expect("cache files have a directory");
    fs_err::create_dir_all(dir)?;
    let temp = temp_path(target);
    let result = (|| {
        // A leftover is unlinked and the temp file created anew: whatever stood at its path (a
        // link to a file outside the cache, say) is never followed and written to.
        remove_leftover(target)?;
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)?
            .into_file();
        let mut out = BufWriter::new(Throttled::new(file, delay));
        fill(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .inner;
        file.sync_all()?;
        let checked = check(&file)?;
        pause(delay);
        fs_err::rename(&temp, target)?;
        sync_dir(dir)?;
        Ok(checked)
    })();
    if result.is_err() {
        let _ = fs_err::remove_file(&temp);
    }
    result
}

/// Removes the temp file a killed writer of `target` may have left (one `unlink`). The
/// caller holds the lock guarding `target`, so no write of it is in progress.
pub fn remove_leftover(target: &Path) -> Result<(), Error> {
    match fs_err::remove_file(temp_path(target)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The test-only pause between the steps of a write.
pub fn pause(delay: Option<Duration>) {
    if let Some(delay) = delay {
        std::thread::sleep(delay * 8);
    }
}

/// Makes a rename or removal in `dir` durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs_err::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<(), Error> {
    Ok(())
}

/// A writer that pauses after every 512 bytes when a test asked for slow writes; a plain
/// pass-through otherwise.
pub struct Throttled<W> {
    inner: W,
    delay: Option<Duration>,
}

impl<W> Throttled<W> {
    pub fn new(inner: W, delay: Option<Duration>) -> Self {
        Self { inner, delay }
    }
}

impl<W: Write> Write for Throttled<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.delay {
            None => self.inner.write(buf),
            Some(delay) => {
                let n = self.inner.write(&buf[..buf.len().min(512)])?;
                std::thread::sleep(delay);
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_match_no_data_glob_and_name_their_target() {
        let temp = temp_path(Path::new("/c/stocks/sip/1Min/AAPL.parquet"));
        assert_eq!(temp, Path::new("/c/stocks/sip/1Min/.AAPL.parquet.tmp"));
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert!(!name.ends_with(".parquet") && !name.ends_with(".json"));
        assert_eq!(target_of(name).as_deref(), Some("AAPL.parquet"));
        let journal = temp_path(Path::new("/c/.AAPL.parquet.journal"));
        assert_eq!(journal, Path::new("/c/.AAPL.parquet.journal.tmp"));
        assert_eq!(
            target_of(".tmp-12-345-MSFT.parquet").as_deref(),
            Some("MSFT.parquet")
        );
        assert_eq!(target_of("AAPL.parquet"), None);
        assert_eq!(target_of(".AAPL.parquet.lock"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_temp_path_is_replaced_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs_err::write(&outside, b"keep me").unwrap();
        let target = dir.path().join("a.json");
        std::os::unix::fs::symlink(&outside, temp_path(&target)).unwrap();
        write(&target, None, |out| Ok(out.write_all(b"new")?), |_| Ok(())).unwrap();
        assert_eq!(fs_err::read(&outside).unwrap(), b"keep me");
        assert_eq!(fs_err::read(&target).unwrap(), b"new");
        assert!(!fs_err::symlink_metadata(&target).unwrap().is_symlink());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.json");
        fs_err::write(&target, b"old").unwrap();
        let err = write(
            &target,
            None,
            |out| Ok(out.write_all(b"new")?),
            |_| Err::<(), _>(Error::Io(std::io::Error::other("check failed"))),
        );
        assert!(err.is_err());
        assert_eq!(fs_err::read(&target).unwrap(), b"old");
        assert!(!temp_path(&target).exists());
        write(&target, None, |out| Ok(out.write_all(b"new")?), |_| Ok(())).unwrap();
        assert_eq!(fs_err::read(&target).unwrap(), b"new");
    }
}

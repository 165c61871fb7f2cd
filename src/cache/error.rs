//! Errors of the cache layer, and how an i/o error of the disk is said: what happened
//! (no space left, permission denied, a read-only file system, an i/o error) once, with the
//! file, never as damage.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::layout::SeriesKey;
use crate::market::Timeframe;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cache i/o error")]
    Io(#[from] std::io::Error),
    /// A file in the cache is not a readable barkeep series: it is never served.
    #[error("the cache file `{}` is damaged or not a barkeep file", path.display())]
    Damaged {
        path: PathBuf,
        symbol: String,
        timeframe: Timeframe,
        #[source]
        source: crate::parquet_files::Error,
    },
    /// A sound series file compressed with a codec this build does not decode (Brotli):
    /// never served, and not called damaged.
    #[error("`{}` cannot be read: {codec}", path.display())]
    Unsupported {
        path: PathBuf,
        /// What is unsupported, from [`crate::parquet_files::Error::Codec`].
        codec: String,
    },
    /// Something other than a regular file where a series file belongs (a symbolic link, a
    /// directory, a FIFO...): never read, followed or written; `prune` removes it (a link
    /// itself, never its target).
    #[error("`{}` is {kind}, not a barkeep file", path.display())]
    NotAFile {
        path: PathBuf,
        symbol: String,
        timeframe: Timeframe,
        /// What it is instead, with its article: "a symbolic link", "a directory".
        kind: &'static str,
    },
    /// The disk refused a read or a write of a cache file: full, read-only, permission
    /// denied, an i/o error. Says which, once, with the file; the file is never called
    /// damaged for it. A failed write leaves the file as it was.
    #[error("{}", describe_disk_error(*access, path, io))]
    Disk {
        path: PathBuf,
        access: Access,
        /// Not a `source`: the message already says what it was.
        io: std::io::Error,
    },
    /// An interrupted write could not be undone at once (the disk failed again while restoring
    /// the file): the journal stays, and the next barkeep command restores the file before
    /// anything reads it.
    #[error(
        "{}; restoring `{}` failed too ({}), so its rollback journal `{}` stays until the next barkeep command restores it",
        failed,
        path.display(),
        rollback,
        journal.display()
    )]
    RollbackPending {
        path: PathBuf,
        journal: PathBuf,
        failed: Box<Error>,
        rollback: Box<Error>,
    },
    #[error("could not write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: crate::parquet_files::Error,
    },
    /// A corporate-actions ledger that cannot be read: never used for adjusting.
    #[error("the corporate-actions ledger `{}` is damaged: {message}", path.display())]
    DamagedLedger { path: PathBuf, message: String },
    /// A rollback journal that cannot be applied: it is never applied, and the series is
    /// not served or written until it is removed.
    #[error("the rollback journal `{}` of `{}` cannot be applied", journal.display(), path.display())]
    Journal {
        path: PathBuf,
        journal: PathBuf,
        #[source]
        source: super::journal::JournalError,
    },
    #[error("another barkeep process holds the lock on `{}`", path.display())]
    Locked { path: PathBuf },
    #[error("object storage error at `{location}`: {message}")]
    Storage { location: String, message: String },
    #[error("`{location}` kept changing under us: {attempts} conditional writes lost the race")]
    Contended { location: String, attempts: u32 },
    #[error("could not determine the user cache directory")]
    NoCacheDir,
    /// A cache location that is neither a directory nor a URL barkeep supports; `location`
    /// is escaped for display.
    #[error("the cache location `{location}` {problem}")]
    Location { location: String, problem: String },
}

/// What was being done to a file when the disk refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Remove,
}

impl Error {
    /// The error for the series `key` at `location` (a path or an object URL) that is not a
    /// readable barkeep file.
    pub(crate) fn damaged(
        location: &Path,
        key: &SeriesKey,
        source: crate::parquet_files::Error,
    ) -> Self {
        Error::Damaged {
            path: location.to_path_buf(),
            symbol: key.symbol.to_string(),
            timeframe: key.timeframe,
            source,
        }
    }

    /// `self`, with an i/o error of the disk at `path` said as what it is ([`Error::Disk`]):
    /// a plain i/o error, a write's, or a read's that is about the disk rather than the
    /// file's bytes (a truncated file stays [`Error::Damaged`]); and a file in a codec this
    /// build lacks said as such ([`Error::Unsupported`]).
    pub fn on_file(self, path: &Path, access: Access) -> Self {
        let disk = |io| Error::Disk {
            path: path.to_path_buf(),
            access,
            io,
        };
        match self {
            Error::Io(io) if access != Access::Read || is_disk_failure(&io) => disk(io),
            Error::Write {
                source: crate::parquet_files::Error::Io(io),
                ..
            } => Error::Disk {
                path: path.to_path_buf(),
                access: Access::Write,
                io,
            },
            Error::Damaged {
                source: codec @ crate::parquet_files::Error::Codec { .. },
                path,
                ..
            } => Error::Unsupported {
                path,
                codec: codec.to_string(),
            },
            Error::Damaged {
                source: crate::parquet_files::Error::Io(io),
                path,
                symbol,
                timeframe,
            } => {
                if is_disk_failure(&io) {
                    Error::Disk {
                        path,
                        access: Access::Read,
                        io,
                    }
                } else {
                    Error::Damaged {
                        path,
                        symbol,
                        timeframe,
                        source: crate::parquet_files::Error::Io(io),
                    }
                }
            }
            other => other,
        }
    }
}

/// Whether an i/o error is the disk's (or the system's) doing rather than the content of the
/// file: a truncated file (`UnexpectedEof`) or bad bytes (`InvalidData`) are damage.
fn is_disk_failure(io: &std::io::Error) -> bool {
    !matches!(
        io.kind(),
        ErrorKind::UnexpectedEof | ErrorKind::InvalidData | ErrorKind::NotFound
    )
}

/// What happened, once, with the file: "no space left on device: could not write `...`".
fn describe_disk_error(access: Access, path: &Path, io: &std::io::Error) -> String {
    let path = path.display();
    let verb = match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Remove => "remove",
    };
    match io.kind() {
        ErrorKind::StorageFull => format!("no space left on device: could not write `{path}`"),
        ErrorKind::QuotaExceeded => format!("disk quota exceeded: could not write `{path}`"),
        ErrorKind::FileTooLarge => {
            format!("file too large (a file size limit, see `ulimit -f`): could not write `{path}`")
        }
        ErrorKind::ReadOnlyFilesystem => {
            format!(
                "read-only file system: could not write `{path}`; point --cache-dir at a writable directory"
            )
        }
        ErrorKind::PermissionDenied => format!(
            "permission denied: could not {verb} `{path}`; check the owner and mode of the file and its directory (barkeep reads and writes the whole cache directory)"
        ),
        _ => format!("could not {verb} `{path}`: {}", os_message(io)),
    }
}

/// The system's own words for an i/o error, without a path a wrapper (fs-err) added.
fn os_message(io: &std::io::Error) -> String {
    match io.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => std::error::Error::source(io)
            .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            .map_or_else(|| io.to_string(), os_message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_error_says_what_happened_once_with_the_file() {
        let path = Path::new("/c/stocks/sip/1Min/SPY.parquet");
        let said = |kind: ErrorKind, access| {
            // As fs-err reports it: its own words and path, and the kind that counts.
            let io = std::io::Error::new(kind, "failed to open file `/elsewhere`");
            crate::error_chain::error_chain(&Error::Io(io).on_file(path, access))
        };
        assert_eq!(
            said(ErrorKind::StorageFull, Access::Write),
            "no space left on device: could not write `/c/stocks/sip/1Min/SPY.parquet`"
        );
        let denied = said(ErrorKind::PermissionDenied, Access::Read);
        assert!(
            denied.starts_with(
                "permission denied: could not read `/c/stocks/sip/1Min/SPY.parquet`; check"
            ),
            "{denied}"
        );
        assert!(!denied.contains("damaged"));

        // A truncated file is damage, not the disk's doing.
        let truncated = Error::Damaged {
            path: path.to_path_buf(),
            symbol: "SPY".into(),
            timeframe: "1Min".parse().unwrap(),
            source: crate::parquet_files::Error::Io(ErrorKind::UnexpectedEof.into()),
        };
        assert!(matches!(
            truncated.on_file(path, Access::Read),
            Error::Damaged { .. }
        ));
        let eio = Error::Damaged {
            path: path.to_path_buf(),
            symbol: "SPY".into(),
            timeframe: "1Min".parse().unwrap(),
            source: crate::parquet_files::Error::Io(std::io::Error::from_raw_os_error(5)),
        };
        assert_eq!(
            eio.on_file(path, Access::Read).to_string(),
            "could not read `/c/stocks/sip/1Min/SPY.parquet`: Input/output error (os error 5)"
        );
    }
}

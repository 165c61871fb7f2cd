//! Errors of the cache layer.

use std::path::PathBuf;

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

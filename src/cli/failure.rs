//! The failures a command ends with after it has named each problem on stderr: they carry
//! the count (and a hint) to the one line `cli::main` prints and to the exit status. Shared
//! by the commands, so it sits below them.

/// Some files are damaged or unreadable (series, ledgers, journals): exit status 1 (each was
/// named on stderr).
#[derive(Debug, thiserror::Error)]
#[error("{0} problems found in the cache")]
pub(crate) struct ProblemsFound(pub usize);

/// Some selected series could not be pruned (each was named on stderr, with what happened):
/// exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{count} series could not be {action}")]
pub(crate) struct PruneFailed {
    pub(crate) count: usize,
    /// What was asked: "removed", "trimmed", "compacted" ("checked" in a dry run).
    pub(crate) action: &'static str,
}

/// Some series failed in `update` (each was already named on stderr): exit status 1, with the hint the first failure that calls for one calls
/// for (e.g. check the keys on a 401).
#[derive(Debug, thiserror::Error)]
#[error("{count} series could not be updated")]
pub(crate) struct UpdateFailed {
    pub(crate) count: usize,
    pub(crate) hint: Option<String>,
}

/// The corporate-actions refresh failed (already shown on stderr): exit status 1, with the
/// hint its cause calls for (e.g. check the keys on a 401).
#[derive(Debug, thiserror::Error)]
#[error("the corporate actions could not be brought up to date; the series were updated")]
pub(crate) struct LedgersFailed {
    pub(crate) hint: Option<String>,
}

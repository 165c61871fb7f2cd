//! Exit statuses, and how an error chain maps to one: 0 success (also when stdout is a
//! closed pipe), 1 the operation failed, 2 bad usage or input, 130 interrupted (SIGINT), 143
//! terminated (SIGTERM).

use std::process::ExitCode;

use super::{Interrupted, UsageError};
use crate::interrupt::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
    Interrupted,
    Terminated,
}

impl ExitStatus {
    /// Every status, in the order the man pages' EXIT STATUS section lists them.
    pub const ALL: [ExitStatus; 5] = [
        ExitStatus::Success,
        ExitStatus::Failure,
        ExitStatus::Usage,
        ExitStatus::Interrupted,
        ExitStatus::Terminated,
    ];

    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Interrupted => 130,
            ExitStatus::Terminated => 143,
        }
    }

    /// What the status tells a caller, as the man pages and README's exit-status table say it.
    pub fn meaning(self) -> &'static str {
        match self {
            ExitStatus::Success => {
                "success, including when stdout is closed early (`barkeep fetch ... | head`)"
            }
            ExitStatus::Failure => {
                "the operation failed: network, Alpaca API, cache I/O, a damaged cache file, `--offline` with ranges or a ledger missing, an adjustment across a spin-off, `update` with any series failed, `inspect --verify` with problems, a lock held with `--no-wait`"
            }
            ExitStatus::Usage => {
                "bad usage or input: unknown timeframe, malformed date, end before start, invalid symbol, unknown adjustment or one other than `raw` for crypto, an unusable `--api-url`, a `--symbols-file` over 1 MiB or 100,000 lines, unknown flag. Nothing in the cache is touched."
            }
            ExitStatus::Interrupted => {
                "interrupted (Ctrl-C, SIGINT); everything Alpaca answered before it is committed, nothing is left half-written, and an `--output` file is left as it was"
            }
            ExitStatus::Terminated => {
                "terminated (SIGTERM, e.g. by `timeout`); as for 130, everything answered before it is committed and an `--output` file is left as it was"
            }
        }
    }

    /// The status an error ends the process with, and whether the error should be shown.
    pub fn of(error: &anyhow::Error) -> (ExitStatus, bool) {
        for cause in error.chain() {
            if let Some(io) = cause.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return (ExitStatus::Success, false);
            }
            if cause.is::<UsageError>() {
                return (ExitStatus::Usage, true);
            }
            let signal = match cause.downcast_ref::<Interrupted>() {
                Some(Interrupted(signal)) => Some(*signal),
                None => match cause.downcast_ref::<crate::ops::Error>() {
                    Some(crate::ops::Error::Interrupted(signal)) => Some(*signal),
                    _ => None,
                },
            };
            if let Some(signal) = signal {
                return match signal {
                    Signal::Interrupt => (ExitStatus::Interrupted, false),
                    Signal::Terminate => (ExitStatus::Terminated, false),
                };
            }
        }
        (ExitStatus::Failure, true)
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

//! The environment variables barkeep reads outside clap: Alpaca credentials (named as
//! Alpaca's own SDKs name them), two hooks for tests and tuning, and the conventions of the
//! terminal. Every read of these is here or in `printer` (colour), and every one of them is
//! listed in [`VARIABLES`], which the man pages' ENVIRONMENT section is made from. Variables
//! that stand for an option (`BARKEEP_CACHE_DIR`, ...) are clap `env` attributes in `args`
//! instead, and the man pages take them from there. A value shown in a message is escaped
//! (`shown_input`): a control character in a variable never reaches the terminal raw.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::UsageError;
use crate::api::Credentials;
use crate::market::shown_input;

pub(super) const KEY_ID: &str = "APCA_API_KEY_ID";
pub(super) const SECRET_KEY: &str = "APCA_API_SECRET_KEY";
pub(super) const TRADING_BASE_URL: &str = "APCA_API_BASE_URL";
pub(super) const NOW: &str = "BARKEEP_NOW";
pub(super) const RETRY_BASE_MS: &str = "BARKEEP_RETRY_BASE_MS";
pub(super) const NO_COLOR: &str = "NO_COLOR";
pub(super) const TERM: &str = "TERM";

/// A variable barkeep reads that no option stands for, and what it does.
pub(super) struct Variable {
    pub(super) name: &'static str,
    /// One sentence without a final period; `backticks` mark literals (bold in the man pages).
    pub(super) meaning: &'static str,
}

/// Every variable barkeep reads that no option stands for. A new one is added here and
/// nowhere else for the man pages; README's configuration table lists them too (a unit
/// test in `generate` checks that it does).
pub(super) const VARIABLES: &[Variable] = &[
    Variable {
        name: KEY_ID,
        meaning: "The key ID of your Alpaca API key pair (the name Alpaca's own SDKs read); needed for stocks, not for crypto, and never printed, not even with `-v`",
    },
    Variable {
        name: SECRET_KEY,
        meaning: "The secret key of your Alpaca API key pair; needed for stocks, not for crypto, and never printed",
    },
    Variable {
        name: TRADING_BASE_URL,
        meaning: "The Trading API base URL for Alpaca's assets list (`update --universe`), as Alpaca's SDKs name it; unset, barkeep asks `https://api.alpaca.markets` and, when it refuses the keys (HTTP 401 or 403), `https://paper-api.alpaca.markets`",
    },
    Variable {
        name: NOW,
        meaning: "Pretend the current time is this RFC 3339 instant, e.g. `2024-06-14T20:30:00Z` (the tests run against an emulator clock)",
    },
    Variable {
        name: RETRY_BASE_MS,
        meaning: "The first retry delay in milliseconds (default 500); later delays double, with jitter",
    },
    Variable {
        name: NO_COLOR,
        meaning: "When set and not empty, no colour on stderr (like `--color never`; an explicit `--color always` still wins)",
    },
    Variable {
        name: TERM,
        meaning: "When `dumb`, no colour on stderr unless `--color always`",
    },
    Variable {
        name: TEST_WRITE_DELAY_US,
        meaning: "Test-only: pause this many microseconds between the pieces a write puts on disk and before each chunk of output `fetch` writes, so tests can kill or interrupt a writer midway; never set it otherwise",
    },
    Variable {
        // The object-storage variables are read by the `object_store` crate.
        name: "AWS_ACCESS_KEY_ID",
        meaning: "With an `s3://` cache: the access key ID (also `AWS_SESSION_TOKEN` for temporary credentials)",
    },
    Variable {
        name: "AWS_SECRET_ACCESS_KEY",
        meaning: "With an `s3://` cache: the secret access key; never printed",
    },
    Variable {
        name: "AWS_REGION",
        meaning: "With an `s3://` cache: the bucket's region",
    },
    Variable {
        name: "AWS_ENDPOINT_URL",
        meaning: "With an `s3://` cache: the endpoint of an S3-compatible server (MinIO, R2, ...)",
    },
    Variable {
        name: "AWS_ALLOW_HTTP",
        meaning: "With an `s3://` cache: `true` permits a plain-HTTP endpoint",
    },
    Variable {
        // Read by the `directories` crate, not by barkeep's own code.
        name: "XDG_CACHE_HOME",
        meaning: "On Linux, the parent of the default cache directory when set (see FILES)",
    },
];

/// Test-only: microseconds the store pauses after each small piece it writes, and `fetch`
/// before each chunk of output, so tests can kill a writer in the middle of an append or a
/// compaction, or signal one in the middle of its output. Never set it otherwise.
pub(super) const TEST_WRITE_DELAY_US: &str = "BARKEEP_TEST_WRITE_DELAY_US";

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Both variables set, or none.
pub(super) fn credentials() -> Option<Credentials> {
    Some(Credentials {
        key_id: non_empty(KEY_ID)?.trim().to_owned(),
        secret_key: non_empty(SECRET_KEY)?.trim().to_owned(),
    })
}

/// `APCA_API_BASE_URL`, when set.
pub(super) fn trading_base_url() -> Option<String> {
    non_empty(TRADING_BASE_URL).map(|url| url.trim().to_owned())
}

pub(super) fn now() -> Result<DateTime<Utc>, UsageError> {
    match non_empty(NOW) {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| UsageError(format!("{NOW} is `{}`, not an RFC 3339 time; unset it or use e.g. 2024-06-14T20:30:00Z", shown_input(&text)))),
    }
}

pub(super) fn retry_base_delay() -> Result<Option<Duration>, UsageError> {
    match non_empty(RETRY_BASE_MS) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| UsageError(format!("{RETRY_BASE_MS} is `{}`, not a number of milliseconds; unset it or use e.g. 500", shown_input(&text)))),
    }
}

/// The test-only write delay ([`TEST_WRITE_DELAY_US`]); `None` unless set to a number.
pub(super) fn test_write_delay() -> Option<Duration> {
    non_empty(TEST_WRITE_DELAY_US)?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_micros)
}

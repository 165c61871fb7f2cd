//! The environment variables barkeep reads outside clap: Alpaca credentials (named as
//! Alpaca's own SDKs name them) and hooks for tests and tuning. Every read is here.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::UsageError;
use crate::api::Credentials;

pub(super) const KEY_ID: &str = "APCA_API_KEY_ID";
pub(super) const SECRET_KEY: &str = "APCA_API_SECRET_KEY";
/// Pretend the current time is this RFC 3339 instant (tests run against an emulator clock).
pub(super) const NOW: &str = "BARKEEP_NOW";
/// The first retry delay in milliseconds (default 500); later delays double.
pub(super) const RETRY_BASE_MS: &str = "BARKEEP_RETRY_BASE_MS";

/// Test-only: microseconds the store pauses after each small piece it writes, so crash tests
/// can kill a writer in the middle of an append or a compaction. Never set it otherwise.
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

pub(super) fn now() -> Result<DateTime<Utc>, UsageError> {
    match non_empty(NOW) {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| UsageError(format!("{NOW} is `{text}`, not an RFC 3339 time; unset it or use e.g. 2024-06-14T20:30:00Z"))),
    }
}

pub(super) fn retry_base_delay() -> Result<Option<Duration>, UsageError> {
    match non_empty(RETRY_BASE_MS) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| UsageError(format!("{RETRY_BASE_MS} is `{text}`, not a number of milliseconds; unset it or use e.g. 500"))),
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

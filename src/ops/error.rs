//! Errors of the operations.

use std::sync::Arc;

use crate::cache::SeriesKey;
use crate::{api, cache};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cache(#[from] cache::Error),
    /// Shared: one failed request fails every series it carried.
    #[error(transparent)]
    Api(#[from] Arc<api::Error>),
    #[error("--offline, and the cache does not cover {0}")]
    Offline(String),
    /// One or more series failed; `source` is the first one's failure.
    #[error("could not bring {} up to date", series_names(key, others))]
    Series {
        key: SeriesKey,
        /// Every other series of the run that failed too, so none goes unnamed.
        others: Vec<SeriesKey>,
        #[source]
        source: Box<Error>,
    },
    /// The corporate actions of these symbols could not be fetched, and none are recorded.
    #[error(
        "could not get the corporate actions of {symbols}, which --adjustment needs; their raw bars were fetched and kept"
    )]
    Ledgers {
        symbols: String,
        #[source]
        source: Box<Error>,
    },
    #[error("cannot adjust the bars of {symbol} as asked")]
    Adjustment {
        symbol: crate::market::Symbol,
        #[source]
        source: crate::market::adjustment::AdjustmentError,
    },
    #[error("a background task failed: {0}")]
    Task(String),
    /// A signal stopped the run; everything answered before it is committed.
    #[error("interrupted by {}; everything Alpaca answered before it is committed", .0.name())]
    Interrupted(crate::interrupt::Signal),
}

/// `AAPL 1Min (stock sip)`, or `2 series: AAPL 1Min (stock sip), SPY 1Min (stock sip)`.
fn series_names(key: &SeriesKey, others: &[SeriesKey]) -> String {
    if others.is_empty() {
        return key.to_string();
    }
    let mut names = format!("{} series: {key}", others.len() + 1);
    for other in others {
        names.push_str(", ");
        names.push_str(&other.to_string());
    }
    names
}

impl Error {
    /// The API error behind this one, if any (for hints and exit statuses).
    pub fn api_error(&self) -> Option<&api::Error> {
        match self {
            Error::Api(e) => Some(e),
            Error::Series { source, .. } | Error::Ledgers { source, .. } => source.api_error(),
            _ => None,
        }
    }

    /// The cache error behind this one, if any.
    pub fn cache_error(&self) -> Option<&cache::Error> {
        match self {
            Error::Cache(e) => Some(e),
            Error::Series { source, .. } | Error::Ledgers { source, .. } => source.cache_error(),
            _ => None,
        }
    }
}

impl From<api::Error> for Error {
    fn from(e: api::Error) -> Self {
        Error::Api(Arc::new(e))
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Task(e.to_string())
    }
}

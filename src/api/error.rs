//! Errors from the Alpaca API, typed where callers (and the hints shown to users) branch.
//! Every URL an error carries is already redacted (`api::redact`): no error shows a password.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("stock bars and corporate actions need Alpaca credentials, and none are set")]
    MissingCredentials,
    #[error("Alpaca rejected the credentials (HTTP {status})")]
    Unauthorized { status: u16 },
    #[error("Alpaca refused the request (HTTP 403): {message}")]
    Forbidden { message: String },
    #[error("Alpaca rejected the request: {message}")]
    BadRequest { message: String },
    #[error("Alpaca answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// A well-formed answer that does not have the shape barkeep expects. Asking again would
    /// get the same answer, so it is never retried.
    #[error("Alpaca's response could not be read: {0}")]
    Decode(String),
    /// An answer that is not complete JSON (cut short in transit, or a proxy's page): retried.
    #[error("Alpaca's response was cut short or is not JSON: {0}")]
    Unreadable(String),
    /// The base URL (`--api-url`, `APCA_API_DATA_URL`) is not an http(s) URL; `url` is redacted.
    #[error("the API URL `{url}` is not usable: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error("network error talking to Alpaca")]
    Transport(#[source] reqwest::Error),
    /// A signal stopped the request while it waited (a retry back-off, the rate limit): it
    /// was not sent again.
    #[error("interrupted by {} before Alpaca answered", .0.name())]
    Interrupted(crate::interrupt::Signal),
    /// `url` is redacted.
    #[error("gave up on `{url}` after {attempts} attempts")]
    GaveUp {
        url: String,
        attempts: u32,
        #[source]
        last: Box<Error>,
    },
}

/// Alpaca's refusals of recent data on a plan without it: today's 403, and the 422s it
/// answered before (ALPACA_API.md §6.1, §9.6).
const RECENT_DATA_REFUSALS: [&str; 3] = [
    "subscription does not permit querying recent sip data",
    "subscription does not permit querying data from the past 15 minutes",
    "end is too late for subscription",
];

impl Error {
    /// Failures that may go away when the same request is sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            Error::Unreadable(_) => true,
            Error::Transport(e) => {
                e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode()
            }
            _ => false,
        }
    }

    /// Whether this is the plan's refusal of recent data (SIP within the last 15 minutes),
    /// which moving the end back avoids.
    pub fn is_recent_data_refusal(&self) -> bool {
        match self {
            Error::Forbidden { message } | Error::BadRequest { message } => {
                let message = message.to_ascii_lowercase();
                RECENT_DATA_REFUSALS.iter().any(|m| message.contains(m))
            }
            _ => false,
        }
    }

    /// The HTTP status behind this error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Unauthorized { status } | Error::Status { status, .. } => Some(*status),
            Error::Forbidden { .. } => Some(403),
            Error::BadRequest { .. } => Some(400),
            Error::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// A short reason for a retry note, e.g. `HTTP 503` or `connection refused`.
    pub fn retry_reason(&self) -> String {
        match self {
            Error::Status { status, .. } => format!("HTTP {status} from Alpaca"),
            Error::Transport(e) => {
                let mut innermost: &dyn std::error::Error = e;
                while let Some(source) = innermost.source() {
                    innermost = source;
                }
                format!("network error talking to Alpaca ({innermost})")
            }
            other => other.to_string(),
        }
    }
}

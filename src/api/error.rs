//! Errors from the Alpaca API, typed where callers (and the hints shown to users) branch.

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
    #[error("Alpaca's response could not be read: {0}")]
    Decode(String),
    #[error("network error talking to Alpaca")]
    Transport(#[source] reqwest::Error),
    #[error("gave up on `{url}` after {attempts} attempts")]
    GaveUp {
        url: String,
        attempts: u32,
        #[source]
        last: Box<Error>,
    },
}

impl Error {
    /// Failures that may go away when the same request is sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Status { status, .. } => matches!(status, 429 | 500 | 502 | 503 | 504),
            Error::Decode(_) => true,
            Error::Transport(e) => {
                e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() || e.is_decode()
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
}

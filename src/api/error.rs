//! Errors from the Alpaca API, typed where callers (and the hints shown to users) branch.
//! Every URL an error carries is already redacted (`api::redact`): no error shows a password.
//! Also owns reading Alpaca's error answers (JSON or an nginx HTML page) into these errors.

use reqwest::StatusCode;

use super::models::ErrorBody;

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

/// The message of an error body: Alpaca's `{"message": ...}` when it is JSON, otherwise the
/// start of the text with markup removed (401/403 come as nginx HTML pages).
fn error_message(body: &[u8]) -> String {
    if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
        return parsed.message;
    }
    let text = String::from_utf8_lossy(body);
    let mut plain = String::new();
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(if c.is_control() { ' ' } else { c }),
            _ => {}
        }
    }
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut message = words.join(" ");
    if message.len() > 200 {
        let cut = (0..=200)
            .rev()
            .find(|&i| message.is_char_boundary(i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    if message.is_empty() {
        "(empty body)".to_owned()
    } else {
        message
    }
}

/// The typed error for an answer with a non-success `status` and this `body`.
pub(super) fn error_for(status: StatusCode, body: &[u8]) -> Error {
    let message = error_message(body);
    match status.as_u16() {
        401 => Error::Unauthorized { status: 401 },
        403 if serde_json::from_slice::<ErrorBody>(body).is_ok() => Error::Forbidden { message },
        403 => Error::Unauthorized { status: 403 },
        400 | 404 | 422 => Error::BadRequest { message },
        code => Error::Status {
            status: code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_typed_errors() {
        let html = b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
        assert!(matches!(
            error_for(StatusCode::UNAUTHORIZED, html),
            Error::Unauthorized { status: 401 }
        ));
        assert!(matches!(
            error_for(
                StatusCode::FORBIDDEN,
                b"<html><head><title>403 Forbidden</title></head></html>"
            ),
            Error::Unauthorized { status: 403 }
        ));
        match error_for(
            StatusCode::FORBIDDEN,
            br#"{"message":"subscription does not permit querying recent SIP data"}"#,
        ) {
            e @ Error::Forbidden { .. } => assert!(e.is_recent_data_refusal()),
            other => panic!("{other:?}"),
        }
        match error_for(
            StatusCode::BAD_REQUEST,
            br#"{"message":"invalid timeframe: 3Fortnight"}"#,
        ) {
            Error::BadRequest { message } => assert_eq!(message, "invalid timeframe: 3Fortnight"),
            other => panic!("{other:?}"),
        }
        let e = error_for(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"message": "too many requests."}"#,
        );
        assert!(e.is_transient());
        assert_eq!(
            error_message(b"<html><body>Bad gateway</body></html>"),
            "Bad gateway"
        );
    }

    #[test]
    fn the_older_refusals_of_recent_data_are_recognised() {
        for (status, body) in [
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                &br#"{"code":42210000,"message":"your subscription does not permit querying data from the past 15 minutes"}"#[..],
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"message":"end is too late for subscription"}"#,
            ),
            (
                StatusCode::FORBIDDEN,
                br#"{"message":"subscription does not permit querying recent SIP data"}"#,
            ),
        ] {
            assert!(error_for(status, body).is_recent_data_refusal(), "{body:?}");
        }
        let forbidden = error_for(StatusCode::FORBIDDEN, br#"{"message": "forbidden."}"#);
        assert!(!forbidden.is_recent_data_refusal());
        assert!(!forbidden.is_transient());
    }
}

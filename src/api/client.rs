//! The HTTP transport every endpoint shares: configuration and credentials, the base-URL
//! check, pacing within the rate limit, sending a GET with retries and backoff, decoding the
//! JSON answer (or turning an error answer into a typed error, `api::error`), and giving up at
//! once on a signal. The endpoints build on it in their own modules (`bars`,
//! `corporate_actions`); this module knows none of them.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue};

use super::error::{Error, error_for};
use super::models::Page;
use super::pacing::Pacer;
use super::redact::{is_sensitive_header, redact_error, redact_url, shown};
use super::retry::RetryPolicy;
use crate::events::{Event, Observer, RequestKind};
use crate::interrupt::{self, Interrupt, Wait};

/// An Alpaca API key pair. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { <redacted> }")
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://data.alpaca.markets` (`APCA_API_DATA_URL`).
    pub base_url: String,
    pub credentials: Option<Credentials>,
    pub retry: RetryPolicy,
    pub requests_per_minute: u32,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// The current time, for clamping recent SIP requests.
    pub now: DateTime<Utc>,
    /// Ends a retry back-off or a wait for the rate limit at once: the request then fails
    /// with [`Error::Interrupted`] instead of being sent (again).
    pub interrupt: Interrupt,
}

#[derive(Clone)]
pub struct Client {
    /// Built on the first request, not with the client: building it reads and parses the
    /// system's CA certificates (a 220 KB bundle, several milliseconds), which a run that
    /// finds everything in the cache never needs (issue 24).
    http: Arc<OnceLock<reqwest::Client>>,
    config: Arc<ClientConfig>,
    pacer: Arc<Pacer>,
    pub(super) observer: Arc<dyn Observer>,
}

impl Client {
    /// Fails with [`Error::InvalidBaseUrl`] when the base URL is not an http(s) URL with a
    /// host and no query (the endpoints' paths and parameters are appended to it).
    pub fn new(config: ClientConfig, observer: Arc<dyn Observer>) -> Result<Self, Error> {
        check_base_url(&config.base_url)?;
        let pacer = Arc::new(Pacer::new(config.requests_per_minute));
        Ok(Self {
            http: Arc::new(OnceLock::new()),
            config: Arc::new(config),
            pacer,
            observer,
        })
    }

    /// The HTTP client (TLS roots, connection pool), built when the first request is about
    /// to be sent and shared by every clone of this client from then on.
    fn http(&self) -> Result<&reqwest::Client, Error> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        // reqwest is built without a default crypto provider; install ring's once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("barkeep/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.config.connect_timeout)
            .read_timeout(self.config.read_timeout)
            .gzip(true)
            .build()
            .map_err(Error::Transport)?;
        // Two requests racing here both build one; the first stored is kept by both.
        Ok(self.http.get_or_init(|| http))
    }

    /// Whether the HTTP client has been built, that is whether a request was about to be sent.
    pub fn http_built(&self) -> bool {
        self.http.get().is_some()
    }

    /// The URL of an endpoint: `path` (no leading slash) under the base URL.
    pub(super) fn url(&self, path: &str) -> Result<Url, Error> {
        let base = self.config.base_url.trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| Error::InvalidBaseUrl {
            url: redact_url(base),
            reason: e.to_string(),
        })
    }

    /// The current time the client was configured with (`ClientConfig::now`).
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.config.now
    }

    /// Stock data (bars and corporate actions) needs a key pair; crypto bars do not.
    pub(super) fn require_credentials(&self) -> Result<(), Error> {
        match self.config.credentials {
            Some(_) => Ok(()),
            None => Err(Error::MissingCredentials),
        }
    }

    /// Sends a GET, retrying transient failures with backoff (see [`RetryPolicy`]), and
    /// decodes the JSON answer. Shared by every endpoint.
    pub(super) async fn send_with_retries<P: Page>(
        &self,
        url: &Url,
        kind: RequestKind,
    ) -> Result<P, Error> {
        let policy = self.config.retry;
        let shown_url = shown(url);
        let mut attempt = 1;
        loop {
            match self.send_once::<P>(url, &shown_url, kind).await {
                Ok(page) => return Ok(page),
                Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                    let delay = policy.delay(attempt);
                    let reason = e.retry_reason();
                    self.observer.event(Event::Retrying {
                        url: &shown_url,
                        reason: &reason,
                        attempt,
                        delay,
                    });
                    self.unless_interrupted(tokio::time::sleep(delay), || {
                        format!("waiting to retry a request ({reason})")
                    })
                    .await?;
                    attempt += 1;
                }
                Err(e) if e.is_transient() => {
                    return Err(Error::GaveUp {
                        url: shown_url,
                        attempts: attempt,
                        last: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `wait` (a back-off, the rate limit) unless a signal arrives first or during it:
    /// then fails with [`Error::Interrupted`], recording what it was `waiting` for when it
    /// cut a wait short.
    async fn unless_interrupted<T>(
        &self,
        wait: impl Future<Output = T>,
        waiting: impl FnOnce() -> String,
    ) -> Result<T, Error> {
        let stop = &self.config.interrupt;
        if let Some(signal) = stop.signal() {
            return Err(Error::Interrupted(signal));
        }
        tokio::select! {
            value = wait => Ok(value),
            signal = stop.wait() => {
                interrupt::gave_up(Wait::Other(waiting()));
                Err(Error::Interrupted(signal))
            }
        }
    }

    /// One GET of `url`; `shown_url` is its redacted form, for events.
    async fn send_once<P: Page>(
        &self,
        url: &Url,
        shown_url: &str,
        kind: RequestKind,
    ) -> Result<P, Error> {
        let waited = self
            .unless_interrupted(self.pacer.acquire(), || {
                "waiting for the rate limit (--rate-limit, or Alpaca's x-ratelimit-reset)"
                    .to_owned()
            })
            .await?;
        if !waited.is_zero() {
            self.observer.event(Event::RateLimited { delay: waited });
        }
        let mut builder = self.http()?.get(url.clone());
        if let Some(c) = &self.config.credentials {
            let mut headers = HeaderMap::new();
            let mut key =
                HeaderValue::from_str(&c.key_id).map_err(|_| Error::Unauthorized { status: 0 })?;
            let mut secret = HeaderValue::from_str(&c.secret_key)
                .map_err(|_| Error::Unauthorized { status: 0 })?;
            key.set_sensitive(true);
            secret.set_sensitive(true);
            headers.insert("APCA-API-KEY-ID", key);
            headers.insert("APCA-API-SECRET-KEY", secret);
            builder = builder.headers(headers);
        }
        let started = Instant::now();
        let result = async {
            let transport = |e| Error::Transport(redact_error(e));
            let response = builder.send().await.map_err(transport)?;
            let status = response.status();
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            };
            let (remaining, reset) = (header("x-ratelimit-remaining"), header("x-ratelimit-reset"));
            // For `-vv`: every response header but anything that could carry a credential.
            let shown_headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter(|(name, _)| !is_sensitive_header(name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            self.observer.event(Event::ResponseHeaders {
                url: shown_url,
                headers: &shown_headers,
            });
            let body = response.bytes().await.map_err(transport)?;
            Ok::<_, Error>((status, remaining, reset, body))
        }
        .await;
        let (status, remaining, reset, body) = match result {
            Ok(r) => r,
            Err(e) => {
                self.observer.event(Event::Request {
                    url: shown_url,
                    kind,
                    status: 0,
                    elapsed: started.elapsed(),
                    items: 0,
                });
                return Err(e);
            }
        };
        self.pacer.observe(remaining, reset).await;
        let outcome = if status.is_success() {
            serde_json::from_slice::<P>(&body).map_err(|e| {
                if e.classify() == serde_json::error::Category::Data {
                    Error::Decode(e.to_string())
                } else {
                    Error::Unreadable(e.to_string())
                }
            })
        } else {
            Err(error_for(status, &body))
        };
        self.observer.event(Event::Request {
            url: shown_url,
            kind,
            status: status.as_u16(),
            elapsed: started.elapsed(),
            items: outcome.as_ref().map_or(0, Page::items),
        });
        outcome
    }
}

/// Checks that `base` can take the endpoints' paths: an http(s) URL with a host and no query.
fn check_base_url(base: &str) -> Result<(), Error> {
    let invalid = |reason: String| Error::InvalidBaseUrl {
        url: redact_url(base),
        reason,
    };
    let url = Url::parse(base.trim()).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the scheme is `{}`, not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "it has a query or fragment, and barkeep appends the endpoints' paths".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert!(check_base_url("https://data.alpaca.markets").is_ok());
        assert!(check_base_url("http://user:pw@127.0.0.1:8080/prefix/").is_ok());
        for bad in [
            "not a url",
            "ftp://host/",
            "http://h/?apikey=1",
            "http://user:pw@[::1",
        ] {
            match check_base_url(bad) {
                Err(Error::InvalidBaseUrl { url, .. }) => assert!(!url.contains("pw"), "{url}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn credentials_never_show_in_debug_output() {
        let c = Credentials {
            key_id: "AKID123".into(),
            secret_key: "s3cr3t".into(),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("AKID123") && !shown.contains("s3cr3t"));
    }
}

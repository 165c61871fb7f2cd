//! The HTTP client: configuration, credentials, pacing, retries and error decoding shared by
//! every endpoint, and the bars endpoints themselves (`corporate_actions` adds its own).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};

use super::models::{BarsPage as RawBarsPage, ErrorBody, Page};
use super::redact::{redact_error, redact_url, shown};
use super::{Error, Pacer, RetryPolicy};
use crate::events::{Event, Observer, RequestKind};
use crate::interrupt::{self, Interrupt, Wait};
use crate::market::{AssetClass, Bar, Feed, Symbol, Timeframe};

/// Alpaca's page size maximum; the limit counts bars across all symbols of a request.
pub(super) const PAGE_LIMIT: u32 = 10_000;
/// Symbols per request at most, and the longest `symbols=` list, to keep URLs short.
const MAX_SYMBOLS_PER_REQUEST: usize = 200;
const MAX_SYMBOLS_CHARS: usize = 2_000;

/// Splits sorted symbols into lists short enough for one request's URL (at most 200 symbols
/// and about 2,000 characters each), keeping their order.
pub fn symbol_batches(symbols: Vec<Symbol>) -> Vec<Vec<Symbol>> {
    let mut batches = Vec::new();
    let mut current: Vec<Symbol> = Vec::new();
    let mut chars = 0;
    for symbol in symbols {
        let len = symbol.as_str().len() + 1;
        if !current.is_empty()
            && (current.len() == MAX_SYMBOLS_PER_REQUEST || chars + len > MAX_SYMBOLS_CHARS)
        {
            batches.push(std::mem::take(&mut current));
            chars = 0;
        }
        chars += len;
        current.push(symbol);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}
/// Free plans may not query SIP data newer than this.
pub const RECENT_SIP_DELAY: TimeDelta = TimeDelta::minutes(15);

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

/// One logical request: bars of some symbols of one asset class, feed and timeframe over
/// `[start, end)`. All pages are followed.
#[derive(Debug, Clone)]
pub struct BarsRequest {
    pub feed: Feed,
    pub timeframe: Timeframe,
    pub symbols: Vec<Symbol>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The bars of a request, per symbol (symbols with no bars are absent), and how far the
/// answer reaches: `answered_until` is `end` unless the plan forced an earlier end.
#[derive(Debug, Clone)]
pub struct BarsAnswer {
    pub bars: BTreeMap<Symbol, Vec<Bar>>,
    pub answered_until: DateTime<Utc>,
    pub pages: u32,
    /// Keys of the answer that name no requested symbol (e.g. `BTCUSD` when `BTC/USD` was
    /// asked), sorted. Their bars are dropped. When there are any, the answer may be about
    /// other spellings of the requested symbols, so a requested symbol absent from `bars`
    /// was not shown to have no bars: see [`BarsAnswer::unconfirmed`].
    pub unrequested_keys: Vec<String>,
}

impl BarsAnswer {
    /// Whether the answer says nothing reliable about `symbol`: it has no bars for it while
    /// holding bars under keys nobody asked for. Such a symbol must not be marked as fetched.
    pub fn unconfirmed(&self, symbol: &Symbol) -> bool {
        !self.unrequested_keys.is_empty() && !self.bars.contains_key(symbol)
    }
}

/// One page of a bars request: the bars of each symbol in it (requested symbols only,
/// inside the requested range, in time order, sorted by symbol), and how far the request
/// reaches.
#[derive(Debug, Clone)]
pub struct BarsPage {
    pub bars: Vec<(Symbol, Vec<Bar>)>,
    /// The request's end: `end`, or earlier when the plan forced it (recent SIP data).
    pub answered_until: DateTime<Utc>,
    /// Keys seen so far in this request that name no requested symbol, sorted (see
    /// [`BarsAnswer::unrequested_keys`]).
    pub unrequested_keys: Vec<String>,
}

/// The pages of one request, fetched one at a time (see [`Client::bars_pages`]).
pub struct BarsPages<'a> {
    client: &'a Client,
    request: &'a BarsRequest,
    end: DateTime<Utc>,
    clamped: bool,
    token: Option<String>,
    pages: u32,
    finished: bool,
    unrequested_keys: Vec<String>,
    /// Requested symbols that had bars on some page.
    with_bars: BTreeSet<Symbol>,
}

impl BarsPages<'_> {
    /// The next page; `None` after the last. On the free plan's refusal of recent data for
    /// the first page, moves the end back to 15 minutes before now and asks again (reported
    /// in each page's `answered_until`). After the last page, warns about keys that were not
    /// asked for.
    pub async fn next(&mut self) -> Result<Option<BarsPage>, Error> {
        if self.finished {
            return Ok(None);
        }
        let (client, request) = (self.client, self.request);
        let class = request.feed.asset_class();
        if class == AssetClass::Stocks {
            client.require_credentials()?;
        }
        let page = loop {
            let url = client.page_url(request, self.end, self.token.as_deref())?;
            match client
                .send_with_retries::<RawBarsPage>(&url, RequestKind::Bars)
                .await
            {
                Ok(page) => break page,
                Err(e) if !self.clamped && self.pages == 0 && e.is_recent_data_refusal() => {
                    self.clamped = true;
                    let limit = client.config.now - RECENT_SIP_DELAY;
                    self.end = self.end.min(limit);
                    client.observer.event(Event::EndClamped {
                        url: &shown(&url),
                        new_end: &format_time(self.end),
                    });
                    if self.end <= request.start {
                        self.finished = true;
                        return Ok(Some(BarsPage {
                            bars: Vec::new(),
                            answered_until: request.start,
                            unrequested_keys: Vec::new(),
                        }));
                    }
                }
                Err(e) => return Err(e),
            }
        };
        self.pages += 1;
        let mut bars: Vec<(Symbol, Vec<Bar>)> = Vec::new();
        for (key, raw_bars) in page.bars.unwrap_or_default() {
            let symbol = match key.parse::<Symbol>() {
                Ok(symbol) if request.symbols.contains(&symbol) => symbol,
                _ => {
                    if raw_bars.as_ref().is_some_and(|b| !b.is_empty())
                        && !self.unrequested_keys.contains(&key)
                    {
                        self.unrequested_keys.push(key);
                        self.unrequested_keys.sort();
                    }
                    continue;
                }
            };
            let mut list = Vec::new();
            for raw in raw_bars.unwrap_or_default() {
                let bar = raw.into_bar(class).map_err(Error::Decode)?;
                if bar.timestamp >= request.start && bar.timestamp < self.end {
                    list.push(bar);
                }
            }
            list.sort_by_key(|b| b.timestamp);
            list.dedup_by_key(|b| b.timestamp);
            if !list.is_empty() {
                self.with_bars.insert(symbol.clone());
            }
            bars.push((symbol, list));
        }
        bars.sort_by(|a, b| a.0.cmp(&b.0));
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(next) => self.token = Some(next),
            None => {
                self.finished = true;
                if !self.unrequested_keys.is_empty() {
                    let unconfirmed: Vec<&str> = request
                        .symbols
                        .iter()
                        .filter(|s| !self.with_bars.contains(*s))
                        .map(Symbol::as_str)
                        .collect();
                    client.report_unrequested_keys(
                        request,
                        &self.unrequested_keys,
                        &unconfirmed,
                        self.end,
                    );
                }
            }
        }
        Ok(Some(BarsPage {
            bars,
            answered_until: self.end,
            unrequested_keys: self.unrequested_keys.clone(),
        }))
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    pacer: Arc<Pacer>,
    pub(super) observer: Arc<dyn Observer>,
}

fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Client {
    /// Fails with [`Error::InvalidBaseUrl`] when the base URL is not an http(s) URL with a
    /// host and no query (the endpoints' paths and parameters are appended to it).
    pub fn new(config: ClientConfig, observer: Arc<dyn Observer>) -> Result<Self, Error> {
        check_base_url(&config.base_url)?;
        // reqwest is built without a default crypto provider; install ring's once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(concat!("barkeep/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .gzip(true)
            .build()
            .map_err(Error::Transport)?;
        let pacer = Arc::new(Pacer::new(config.requests_per_minute));
        Ok(Self {
            http,
            config: Arc::new(config),
            pacer,
            observer,
        })
    }

    /// The URL of an endpoint: `path` (no leading slash) under the base URL.
    pub(super) fn url(&self, path: &str) -> Result<Url, Error> {
        let base = self.config.base_url.trim_end_matches('/');
        Url::parse(&format!("{base}/{path}")).map_err(|e| Error::InvalidBaseUrl {
            url: redact_url(base),
            reason: e.to_string(),
        })
    }

    /// Stock data (bars and corporate actions) needs a key pair; crypto bars do not.
    pub(super) fn require_credentials(&self) -> Result<(), Error> {
        match self.config.credentials {
            Some(_) => Ok(()),
            None => Err(Error::MissingCredentials),
        }
    }

    fn endpoint(&self, class: AssetClass) -> Result<Url, Error> {
        self.url(match class {
            AssetClass::Stocks => "v2/stocks/bars",
            AssetClass::Crypto => "v1beta3/crypto/us/bars",
        })
    }

    /// Starts paging through `request`: each [`BarsPages::next`] sends one request (with
    /// retries) and yields the bars of one page. Multi-symbol answers come sorted by symbol,
    /// then time, so a caller can commit a symbol as soon as a page moves past it.
    pub fn bars_pages<'a>(&'a self, request: &'a BarsRequest) -> BarsPages<'a> {
        BarsPages {
            client: self,
            request,
            end: request.end,
            clamped: false,
            token: None,
            pages: 0,
            finished: false,
            unrequested_keys: Vec::new(),
            with_bars: BTreeSet::new(),
        }
    }

    /// Fetches every page of `request` into one answer (see [`Client::bars_pages`]).
    pub async fn get_bars(&self, request: &BarsRequest) -> Result<BarsAnswer, Error> {
        let mut pages = self.bars_pages(request);
        let mut answer = BarsAnswer {
            bars: BTreeMap::new(),
            answered_until: request.end,
            pages: 0,
            unrequested_keys: Vec::new(),
        };
        while let Some(page) = pages.next().await? {
            answer.answered_until = page.answered_until;
            answer.pages += 1;
            answer.unrequested_keys = page.unrequested_keys;
            for (symbol, bars) in page.bars {
                answer.bars.entry(symbol).or_default().extend(bars);
            }
        }
        for bars in answer.bars.values_mut() {
            bars.sort_by_key(|b| b.timestamp);
            bars.dedup_by_key(|b| b.timestamp);
        }
        answer.bars.retain(|_, bars| !bars.is_empty());
        Ok(answer)
    }

    /// Warns about bars under keys that were not asked for, naming the requested symbols
    /// that are therefore not marked as fetched.
    fn report_unrequested_keys(
        &self,
        request: &BarsRequest,
        unrequested_keys: &[String],
        unconfirmed: &[&str],
        answered_until: DateTime<Utc>,
    ) {
        let keys: Vec<String> = unrequested_keys
            .iter()
            .take(5)
            .map(|k| format!("`{}`", crate::market::shown_input(k)))
            .collect();
        let more = unrequested_keys.len().saturating_sub(keys.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let consequence = if unconfirmed.is_empty() {
            "they were ignored".to_owned()
        } else {
            format!(
                "they were ignored, and {} stays unfetched for {} to {} (the next run asks again)",
                unconfirmed.join(", "),
                format_time(request.start),
                format_time(answered_until)
            )
        };
        self.observer.event(Event::OddAnswer {
            message: &format!(
                "Alpaca answered bars under {}{more}, which barkeep did not ask for (asked: {}); {consequence}",
                keys.join(", "),
                request
                    .symbols
                    .iter()
                    .map(Symbol::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }

    fn page_url(
        &self,
        request: &BarsRequest,
        end: DateTime<Utc>,
        token: Option<&str>,
    ) -> Result<Url, Error> {
        let mut url = self.endpoint(request.feed.asset_class())?;
        {
            let symbols = request
                .symbols
                .iter()
                .map(Symbol::as_str)
                .collect::<Vec<_>>()
                .join(",");
            let mut query = url.query_pairs_mut();
            query
                .append_pair("symbols", &symbols)
                .append_pair("timeframe", &request.timeframe.to_string())
                .append_pair("start", &format_time(request.start))
                // Alpaca's end is inclusive; ours is exclusive.
                .append_pair("end", &format_time(end - TimeDelta::nanoseconds(1)))
                .append_pair("limit", &PAGE_LIMIT.to_string());
            if request.feed.asset_class() == AssetClass::Stocks {
                query
                    .append_pair("adjustment", "raw")
                    .append_pair("feed", request.feed.as_str());
            }
            query.append_pair("sort", "asc");
            if let Some(token) = token {
                query.append_pair("page_token", token);
            }
        }
        Ok(url)
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
        let mut builder = self.http.get(url.clone());
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

/// Headers never shown, even with `-vv`: credentials and cookies, in either direction.
fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("apca-api-")
        || name.contains("authorization")
        || name.contains("cookie")
        || name.contains("secret")
        || name.contains("token")
        || name.contains("key")
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

fn error_for(status: StatusCode, body: &[u8]) -> Error {
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

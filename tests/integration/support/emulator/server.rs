//! The emulator's HTTP side: the axum server on its own thread and runtime, routing of the
//! three bar endpoints and `/v1/corporate-actions`, parameter validation with Alpaca's error
//! bodies, pagination across symbols, adjusted bars, auth, free-plan 403s, the token-bucket
//! rate limit, injected faults, gzip, and the recording of every request.
//!
//! Must not: decide bar values (that is `market_data`) or hold state of its own beyond the
//! running server (everything mutable lives in the parent's `EmulatorState`).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use tokio::sync::oneshot;

use super::corporate_actions::{self, Adjustment, Factor, Listing};
use super::market_data::{Feed, Market, Series, Timeframe};
use super::{EmuBar, EmulatorState, Fault, KEY_ID, RecordedRequest, SECRET_KEY, calendar, lock};

/// The path of the corporate-actions endpoint.
pub(super) const CORPORATE_ACTIONS_PATH: &str = "/v1/corporate-actions";
/// The path of the Trading API's assets list.
pub(super) const ASSETS_PATH: &str = "/v2/assets";

type Shared = Arc<Mutex<EmulatorState>>;

/// Default page size and the largest `limit` Alpaca accepts.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: i64 = 10_000;
/// Bodies larger than this are gzipped for clients that accept it (Alpaca's documented rule).
const GZIP_THRESHOLD: usize = 256;
/// Descending page tokens store this minus the next bar's unix nanos, as Alpaca's do.
const DESC_TOKEN_BASE: i64 = 9_223_372_036_000_000_000;
/// The free plan may not see the last 15 minutes of SIP data.
const FREE_PLAN_DELAY_MINUTES: i64 = 15;

const JSON: &str = "application/json; charset=UTF-8";
const HTML: &str = "text/html";

const STOCK_PARAMS: [&str; 11] = [
    "symbols",
    "timeframe",
    "start",
    "end",
    "limit",
    "adjustment",
    "asof",
    "feed",
    "currency",
    "page_token",
    "sort",
];
const CRYPTO_PARAMS: [&str; 7] = [
    "symbols",
    "timeframe",
    "start",
    "end",
    "limit",
    "page_token",
    "sort",
];
const CRYPTO_LOCATIONS: [&str; 5] = ["us", "us-1", "us-2", "eu-1", "bs-1"];
const ADJUSTMENTS: [&str; 5] = ["raw", "split", "dividend", "spin-off", "all"];

/// The server thread; stopping it drops every connection.
pub(super) struct Running {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Binds before returning, so the URL is usable at once (connections wait in the backlog
    /// until the runtime accepts them).
    pub(super) fn start(state: Shared) -> Running {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("emulator: bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("emulator: non-blocking listener");
        let addr = listener.local_addr().expect("emulator: local address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("alpaca-emulator-{}", addr.port()))
            .spawn(move || serve(listener, state, stopped))
            .expect("emulator: spawn server thread");
        Running {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(super) fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The server may already be gone; nothing to do then.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: std::net::TcpListener, state: Shared, stopped: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("emulator: tokio runtime");
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).expect("emulator: tokio listener");
        let app = Router::new().fallback(handle).with_state(state);
        let server = axum::serve(listener, app).into_future();
        tokio::select! {
            result = server => result.expect("emulator: server failed"),
            _ = stopped => {}
        }
    });
    // Drops in-flight connections (e.g. a request sleeping in `Fault::Delay`) instead of
    // waiting for them.
    runtime.shutdown_timeout(StdDuration::from_millis(100));
}

/// The token bucket behind `Emulator::set_rate_limit`, refilled in real (wall-clock) time.
#[derive(Debug)]
pub(super) struct TokenBucket {
    capacity: u32,
    refill_per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(super) fn new(capacity: u32, refill_per_sec: f64) -> TokenBucket {
        TokenBucket {
            capacity,
            refill_per_sec: refill_per_sec.max(0.0),
            tokens: f64::from(capacity),
            last: Instant::now(),
        }
    }

    /// Takes one token: the `x-ratelimit-*` values to send, or `None` when empty.
    fn take(&mut self) -> Option<RateHeaders> {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.refill_per_sec).min(f64::from(self.capacity));
        if self.tokens < 1.0 {
            return None;
        }
        self.tokens -= 1.0;
        // When the remaining count next changes: the arrival of the next whole token.
        let wait = if self.refill_per_sec > 0.0 {
            (1.0 - self.tokens.fract()) / self.refill_per_sec
        } else {
            60.0
        };
        Some(RateHeaders {
            limit: self.capacity,
            remaining: self.tokens.floor() as u32,
            reset: unix_now() + wait.ceil() as u64,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct RateHeaders {
    limit: u32,
    remaining: u32,
    reset: u64,
}

impl RateHeaders {
    /// What a request sees when no rate limit is configured (a fresh free-plan bucket).
    fn unlimited() -> RateHeaders {
        RateHeaders {
            limit: 200,
            remaining: 199,
            reset: unix_now() + 1,
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An answer before encoding.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    rate: Option<RateHeaders>,
}

impl Reply {
    fn json(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: JSON,
            body: body.into_bytes(),
            rate: None,
        }
    }

    /// `{"message":"..."}` as the data API writes it (no space after the colon).
    fn message(status: u16, message: &str) -> Reply {
        Reply::json(status, format!("{{\"message\":{}}}", json_string(message)))
    }

    fn bad_request(message: &str) -> Reply {
        Reply::message(400, message)
    }

    /// The 429 body has a space after the colon and a trailing period, and the response has
    /// neither `Retry-After` nor `x-ratelimit-*` headers.
    fn too_many_requests() -> Reply {
        Reply::json(429, "{\"message\": \"too many requests.\"}".to_owned())
    }

    /// nginx's error page, with its CRLF line endings.
    fn nginx(status: u16) -> Reply {
        let title = match status {
            401 => "401 Authorization Required",
            403 => "403 Forbidden",
            _ => "500 Internal Server Error",
        };
        let body = format!(
            "<html>\r\n\
             <head><title>{title}</title></head>\r\n\
             <body>\r\n\
             <center><h1>{title}</h1></center>\r\n\
             <hr><center>nginx</center>\r\n\
             </body>\r\n\
             </html>\r\n"
        );
        Reply {
            status,
            content_type: HTML,
            body: body.into_bytes(),
            rate: None,
        }
    }

    /// A bare status with a JSON message: `internal server error` for 5xx, the reason phrase
    /// otherwise.
    fn status(status: u16) -> Reply {
        match status {
            429 => Reply::too_many_requests(),
            500..=599 => Reply::message(status, "internal server error"),
            _ => {
                let reason = StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error")
                    .to_ascii_lowercase();
                Reply::message(status, &reason)
            }
        }
    }

    fn into_response(self, accept_gzip: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, self.content_type);
        if let Some(rate) = self.rate.filter(|_| status.is_success()) {
            builder = builder
                .header("x-ratelimit-limit", rate.limit)
                .header("x-ratelimit-remaining", rate.remaining)
                .header("x-ratelimit-reset", rate.reset);
        }
        let body = if accept_gzip && self.body.len() > GZIP_THRESHOLD {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(&self.body).expect("gzip into memory");
            encoder.finish().expect("gzip into memory")
        } else {
            self.body
        };
        builder
            .body(Body::from(body))
            .expect("emulator: valid response")
    }
}

/// Which endpoint a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `/v2/stocks/bars`
    StockMulti,
    /// `/v2/stocks/{symbol}/bars`, symbol percent-decoded
    StockSingle(String),
    /// `/v1beta3/crypto/{loc}/bars`
    Crypto,
    /// `/v1/corporate-actions`
    CorporateActions,
    /// `/v2/assets` (the Trading API)
    Assets,
    Other,
}

impl Route {
    fn of(path: &str) -> Route {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["", "v2", "stocks", "bars"] => Route::StockMulti,
            ["", "v2", "stocks", symbol, "bars"] if !symbol.is_empty() => {
                Route::StockSingle(percent_decode(symbol, false))
            }
            ["", "v1beta3", "crypto", loc, "bars"] if CRYPTO_LOCATIONS.contains(loc) => {
                Route::Crypto
            }
            ["", "v1", "corporate-actions"] => Route::CorporateActions,
            ["", "v2", "assets"] => Route::Assets,
            _ => Route::Other,
        }
    }

    fn is_bars(&self) -> bool {
        !matches!(self, Route::CorporateActions | Route::Assets | Route::Other)
    }
}

/// Whether a (raw) request path is one of the bar endpoints.
pub(super) fn is_bar_path(path: &str) -> bool {
    Route::of(path).is_bars()
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = parse_query(request.uri().query().unwrap_or(""));
    let headers = request.headers();
    let authenticated = header_is(headers, "apca-api-key-id", KEY_ID)
        && header_is(headers, "apca-api-secret-key", SECRET_KEY);
    let accept_gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("gzip"));
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let route = Route::of(&path);
    let get = request.method() == axum::http::Method::GET;

    let (index, fault) = {
        let mut state = lock(&state);
        state.requests.push(RecordedRequest {
            method: request.method().to_string(),
            path,
            query: query.clone(),
            status: 0,
            authenticated,
            accept_gzip,
            user_agent,
        });
        let fault = match route {
            Route::Other | Route::Assets => None,
            Route::CorporateActions => state.action_faults.pop_front(),
            _ => state.faults.pop_front().or_else(|| {
                let bar_requests = state
                    .requests
                    .iter()
                    .filter(|r| r.path.contains("/bars"))
                    .count();
                state
                    .outage
                    .filter(|&(after, _)| bar_requests > after)
                    .map(|(_, status)| Fault::Status(status))
            }),
        };
        (state.requests.len() - 1, fault)
    };

    let reply = match fault {
        Some(Fault::Status(status)) => Reply::status(status),
        Some(Fault::TooManyRequests) => Reply::too_many_requests(),
        Some(Fault::Unauthorized) => Reply::nginx(401),
        Some(Fault::ForbiddenHtml) => Reply::nginx(403),
        Some(Fault::TruncatedJson) => {
            let mut reply = answer(&state, &route, get, &query, authenticated);
            reply.body.truncate(reply.body.len() / 2);
            reply.status = 200;
            reply.content_type = JSON;
            reply
        }
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            answer(&state, &route, get, &query, authenticated)
        }
        Some(Fault::Body { status, body }) => Reply::json(status, body),
        Some(Fault::RenameKey { from, to }) => {
            let mut reply = answer(&state, &route, get, &query, authenticated);
            let body = String::from_utf8_lossy(&reply.body).replace(
                &format!("{}:", json_string(&from)),
                &format!("{}:", json_string(&to)),
            );
            reply.body = body.into_bytes();
            reply
        }
        None => answer(&state, &route, get, &query, authenticated),
    };

    {
        let mut state = lock(&state);
        // `clear_requests` may have run meanwhile; then there is nothing to update.
        if let Some(recorded) = state.requests.get_mut(index) {
            recorded.status = reply.status;
        }
    }
    reply.into_response(accept_gzip)
}

fn header_is(headers: &HeaderMap, name: &str, expected: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes())
}

/// The normal answer to a request: auth, rate limit, validation, then data.
fn answer(
    state: &Shared,
    route: &Route,
    get: bool,
    query: &[(String, String)],
    authenticated: bool,
) -> Reply {
    let (market, single) = match route {
        Route::Other => return Reply::message(404, "not found"),
        Route::StockMulti | Route::CorporateActions | Route::Assets => (Market::Stock, None),
        Route::StockSingle(symbol) => (Market::Stock, Some(symbol.clone())),
        Route::Crypto => (Market::Crypto, None),
    };
    if market == Market::Stock && !authenticated {
        return Reply::nginx(401);
    }
    if !get {
        return Reply::message(405, "method not allowed");
    }
    let mut guard = lock(state);
    let rate = match guard.rate_limit.as_mut() {
        Some(bucket) => match bucket.take() {
            Some(rate) => rate,
            None => return Reply::too_many_requests(),
        },
        None => RateHeaders::unlimited(),
    };
    let clock = guard.clock;
    if *route == Route::Assets {
        let mut reply =
            match super::assets::list(&guard.stocks, &guard.crypto, &guard.assets, query, clock) {
                Ok(body) => Reply::json(200, body),
                Err(message) => return Reply::bad_request(&message),
            };
        reply.rate = Some(rate);
        return reply;
    }
    if *route == Route::CorporateActions {
        let mut reply = match corporate_actions::list(&guard.actions, query, clock) {
            Ok(body) => Reply::json(200, body),
            Err(message) => return Reply::bad_request(&message),
        };
        reply.rate = Some(rate);
        return reply;
    }
    let free_plan = guard.free_plan;
    let request = match BarRequest::parse(market, single, query, clock, free_plan) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if let Some(status) = request.symbols.iter().find_map(|s| guard.failing.get(s)) {
        return Reply::status(*status);
    }
    if free_plan
        && market == Market::Stock
        && request.feed == Feed::Sip
        && request.end > clock - Duration::minutes(FREE_PLAN_DELAY_MINUTES)
    {
        return Reply::message(403, "subscription does not permit querying recent SIP data");
    }
    let listings: Vec<Listing> = request
        .symbols
        .iter()
        .filter_map(|s| guard.listing_as_of(market, s, request.asof))
        .collect();
    let actions = if request.adjustment.is_raw() {
        Vec::new()
    } else {
        guard.actions.clone()
    };
    let stocks = |s: &str| guard.listing(Market::Stock, s);
    let listed: Vec<(Listing, Vec<Factor>)> = listings
        .into_iter()
        .map(|l| {
            let factors = if actions.is_empty() {
                Vec::new()
            } else {
                corporate_actions::factors(&actions, &l.model, request.adjustment, clock, &stocks)
            };
            (l, factors)
        })
        .collect();
    let removed = guard.removed_sessions.clone();
    let repeat = guard.repeat_last_bar;
    // Generate without holding the lock: other requests and the test thread go on meanwhile.
    drop(guard);
    let mut page = request.page(&listed, clock, &removed);
    if let Some(repeat) = repeat {
        request.repeat_last_bar(&mut page, repeat);
    }
    let mut reply = Reply::json(200, request.render(&page));
    reply.rate = Some(rate);
    reply
}

/// A validated bar request.
#[derive(Debug)]
struct BarRequest {
    market: Market,
    /// The path symbol of `/v2/stocks/{symbol}/bars`.
    single: Option<String>,
    /// Requested symbols, sorted and deduplicated (the order of the response).
    symbols: Vec<String>,
    timeframe: Timeframe,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    limit: usize,
    descending: bool,
    feed: Feed,
    currency: Option<String>,
    cursor: Option<Cursor>,
    adjustment: Adjustment,
    /// Alpaca's rename mapping date (`None`: `asof=-`, no mapping).
    asof: Option<NaiveDate>,
}

/// Where a page token resumes: this symbol, from this bar on.
#[derive(Debug)]
struct Cursor {
    symbol: String,
    t: DateTime<Utc>,
}

/// The bars of one page, per symbol, and the token of the next page.
struct Page {
    bars: Vec<(String, Vec<EmuBar>)>,
    next: Option<String>,
}

impl BarRequest {
    fn parse(
        market: Market,
        single: Option<String>,
        query: &[(String, String)],
        clock: DateTime<Utc>,
        free_plan: bool,
    ) -> Result<BarRequest, Reply> {
        let allowed: &[&str] = match (market, &single) {
            (Market::Crypto, _) => &CRYPTO_PARAMS,
            (Market::Stock, None) => &STOCK_PARAMS,
            (Market::Stock, Some(_)) => &STOCK_PARAMS[1..],
        };
        reject_unexpected(query, allowed).map_err(|m| Reply::bad_request(&m))?;
        let get = |name: &str| param(query, name);

        let mut symbols: Vec<String> = match &single {
            Some(symbol) => vec![symbol.clone()],
            None => get("symbols")
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        if symbols.is_empty() {
            return Err(Reply::bad_request(
                "Invalid format for parameter symbols: query parameter 'symbols' is required",
            ));
        }

        let Some(timeframe_text) = get("timeframe") else {
            return Err(Reply::bad_request(
                "Invalid format for parameter timeframe: query parameter 'timeframe' is required",
            ));
        };
        let timeframe = Timeframe::parse(timeframe_text)
            .ok_or_else(|| Reply::bad_request(&format!("invalid timeframe: {timeframe_text}")))?;

        let start = match get("start") {
            Some(text) => parse_time("start", text, market, false)?,
            None => calendar::new_york(calendar::new_york_date(clock), 0, 0),
        };
        let feed = match (market, get("feed")) {
            (Market::Crypto, _) | (Market::Stock, None) => Feed::Sip,
            (Market::Stock, Some(text)) => Feed::parse(text)
                .ok_or_else(|| Reply::bad_request(&format!("invalid feed: {text}")))?,
        };
        let end = match get("end") {
            Some(text) => {
                let end = parse_time("end", text, market, true)?;
                if end < start {
                    return Err(Reply::bad_request("end should not be before start"));
                }
                end
            }
            None if free_plan && market == Market::Stock && feed == Feed::Sip => {
                clock - Duration::minutes(FREE_PLAN_DELAY_MINUTES)
            }
            None => clock,
        };

        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(text) => parse_limit(text)?,
        };
        let descending = match get("sort") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(Reply::bad_request(&format!("invalid sort: {other}"))),
        };
        if let Some(text) = get("adjustment")
            && !text.split(',').all(|a| ADJUSTMENTS.contains(&a))
        {
            return Err(Reply::bad_request(&format!("invalid adjustment: {text}")));
        }
        let adjustment = match (market, get("adjustment")) {
            (Market::Stock, Some(text)) => Adjustment::parse(text).unwrap_or_default(),
            _ => Adjustment::default(),
        };
        // The rename mapping's date: today by default, none for `-`.
        let asof = match get("asof") {
            None => Some(super::calendar::new_york_date(clock)),
            Some("-") => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => return Err(Reply::bad_request(&format!("invalid asof: {text}"))),
            },
        };
        let currency = get("currency").map(str::to_owned);
        if let Some(text) = &currency
            && !(text.len() == 3 && text.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Reply::bad_request(&format!("invalid currency: {text}")));
        }
        if market == Market::Stock
            && let Some(bad) = symbols
                .iter()
                .find(|s| s.bytes().any(|b| b.is_ascii_digit()))
        {
            return Err(Reply::bad_request(&format!("invalid symbol: {bad}")));
        }
        symbols.sort();
        symbols.dedup();

        let cursor = match get("page_token") {
            None => None,
            Some(token) => Some(
                decode_token(token, &symbols, timeframe, descending)
                    .ok_or_else(|| Reply::bad_request("invalid page token"))?,
            ),
        };

        Ok(BarRequest {
            market,
            single,
            symbols,
            timeframe,
            start,
            end,
            limit,
            descending,
            feed,
            currency,
            cursor,
            adjustment,
            asof,
        })
    }

    /// The page this request asks for: symbols in order, `limit` bars across all of them
    /// (adjusted by each symbol's factors), and a token for the next bar if there is one.
    fn page(
        &self,
        listed: &[(Listing, Vec<Factor>)],
        clock: DateTime<Utc>,
        removed: &[(String, NaiveDate)],
    ) -> Page {
        let mut page = Page {
            bars: Vec::new(),
            next: None,
        };
        let mut count = 0;
        for (listing, factors) in listed {
            let symbol = &listing.symbol;
            let (mut start, mut end) = (self.start, listing.clamp_end(self.end));
            if let Some(cursor) = &self.cursor {
                if *symbol < cursor.symbol {
                    continue;
                }
                if *symbol == cursor.symbol {
                    if self.descending {
                        end = end.min(cursor.t);
                    } else {
                        start = start.max(cursor.t);
                    }
                }
            }
            let series = Series {
                symbol: &listing.model,
                market: self.market,
                listed: listing.listed,
                feed: self.feed,
                timeframe: self.timeframe,
                clock,
                shares: &listing.shares,
            };
            let mut bars = Vec::new();
            series.visit(start, end, self.descending, &mut |bar| {
                let date = super::calendar::new_york_date(bar.t);
                if removed.iter().any(|(s, d)| s == symbol && *d == date) {
                    return true;
                }
                if count < self.limit {
                    count += 1;
                    bars.push(bar);
                    true
                } else {
                    page.next = Some(self.token(symbol, bar.t));
                    false
                }
            });
            if !bars.is_empty() {
                page.bars
                    .push((symbol.clone(), corporate_actions::adjust(bars, factors)));
            }
            if page.next.is_some() {
                break;
            }
        }
        page
    }

    /// The `duplicate_last_bar` fault: a page with a next page points its token at its own
    /// last bar, which the next page serves again (a page of one bar is left alone, so the
    /// answer still ends). With [`Repeat::Changed`] this first copy is perturbed, so only a
    /// client that keeps the later copy ends with the true bar.
    fn repeat_last_bar(&self, page: &mut Page, repeat: super::Repeat) {
        let total: usize = page.bars.iter().map(|(_, bars)| bars.len()).sum();
        if page.next.is_none() || total < 2 {
            return;
        }
        let Some((symbol, bars)) = page.bars.last_mut() else {
            return;
        };
        let Some(last) = bars.last_mut() else {
            return;
        };
        page.next = Some(self.token(symbol, last.t));
        if repeat == super::Repeat::Changed {
            last.c = (last.c + 0.01).min(last.h);
            last.v += 1.0;
        }
    }

    fn token(&self, symbol: &str, t: DateTime<Utc>) -> String {
        let nanos = t
            .timestamp_nanos_opt()
            .expect("bar time in nanosecond range");
        let key = if self.descending {
            DESC_TOKEN_BASE - nanos
        } else {
            nanos
        };
        BASE64.encode(format!("{symbol}|{}|{key}", self.timeframe.token_code()))
    }

    /// The JSON body, keys in alphabetical order as production sends them.
    fn render(&self, page: &Page) -> String {
        let mut out =
            String::with_capacity(64 + page.bars.iter().map(|b| b.1.len() * 120).sum::<usize>());
        out.push_str("{\"bars\":");
        match &self.single {
            Some(_) => match page.bars.first() {
                Some((_, bars)) => write_bars(&mut out, bars),
                None => out.push_str("null"),
            },
            None => {
                out.push('{');
                for (i, (symbol, bars)) in page.bars.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(symbol));
                    out.push(':');
                    write_bars(&mut out, bars);
                }
                out.push('}');
            }
        }
        if let Some(currency) = &self.currency {
            out.push_str(",\"currency\":");
            out.push_str(&json_string(currency));
        }
        out.push_str(",\"next_page_token\":");
        match &page.next {
            Some(token) => out.push_str(&json_string(token)),
            None => out.push_str("null"),
        }
        if let Some(symbol) = &self.single {
            out.push_str(",\"symbol\":");
            out.push_str(&json_string(symbol));
        }
        out.push('}');
        out
    }
}

/// Bars as a JSON array, keys alphabetical, whole numbers without `.0`.
fn write_bars(out: &mut String, bars: &[EmuBar]) {
    use std::fmt::Write as _;
    out.push('[');
    for (i, b) in bars.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // f64's Display is the shortest round-trip form and never uses an exponent.
        let _ = write!(
            out,
            "{{\"c\":{},\"h\":{},\"l\":{},\"n\":{},\"o\":{},\"t\":\"{}\",\"v\":{},\"vw\":{}}}",
            b.c,
            b.h,
            b.l,
            b.n,
            b.o,
            b.t.to_rfc3339_opts(SecondsFormat::Secs, true),
            b.v,
            b.vw
        );
    }
    out.push(']');
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

fn decode_token(
    token: &str,
    symbols: &[String],
    timeframe: Timeframe,
    descending: bool,
) -> Option<Cursor> {
    let text = String::from_utf8(BASE64.decode(token).ok()?).ok()?;
    let mut parts = text.splitn(3, '|');
    let (symbol, code, key) = (parts.next()?, parts.next()?, parts.next()?);
    if !symbols.iter().any(|s| s == symbol) || code != timeframe.token_code() {
        return None;
    }
    let key: i64 = key.parse().ok()?;
    let nanos = if descending {
        DESC_TOKEN_BASE.checked_sub(key)?
    } else {
        key
    };
    Some(Cursor {
        symbol: symbol.to_owned(),
        t: DateTime::from_timestamp_nanos(nanos),
    })
}

/// Alpaca's 400 message for query parameters an endpoint does not take, if any.
pub(super) fn reject_unexpected(
    query: &[(String, String)],
    allowed: &[&str],
) -> Result<(), String> {
    let mut unexpected: Vec<&str> = Vec::new();
    for (name, _) in query {
        if !allowed.contains(&name.as_str()) && !unexpected.contains(&name.as_str()) {
            unexpected.push(name);
        }
    }
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unexpected query parameter(s): {}",
            unexpected.join(", ")
        ))
    }
}

/// Like Go's `url.Values.Get`: the first value; an empty value counts as absent.
pub(super) fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `limit` as Go's `strconv.ParseInt` and Alpaca's range check see it.
fn parse_limit(text: &str) -> Result<usize, Reply> {
    let binding = |why: &str| {
        Reply::bad_request(&format!(
            "Invalid format for parameter limit: error binding string parameter: strconv.ParseInt: parsing {}: {why}",
            go_quote(text)
        ))
    };
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(binding("invalid syntax"));
    }
    let value: i64 = text.parse().map_err(|_| binding("value out of range"))?;
    if value > MAX_LIMIT {
        return Err(Reply::bad_request(
            "invalid limit: larger than the allowed maximum of 10000",
        ));
    }
    if value < 1 {
        return Err(Reply::bad_request(
            "invalid limit: smaller than the allowed minimum of 1",
        ));
    }
    Ok(value as usize)
}

/// `start`/`end`: RFC 3339 (`Z` or an offset, fractional seconds) or `YYYY-MM-DD`. A bare date
/// is midnight (New York for stocks, UTC for crypto); as an `end` it covers that whole day.
fn parse_time(
    name: &str,
    text: &str,
    market: Market,
    is_end: bool,
) -> Result<DateTime<Utc>, Reply> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && text.len() == 10
    {
        let day = if is_end {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        let midnight = match market {
            Market::Stock => calendar::new_york(day, 0, 0),
            Market::Crypto => day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        };
        return Ok(if is_end {
            midnight - Duration::nanoseconds(1)
        } else {
            midnight
        });
    }
    // Go's RFC 3339 layout wants an upper-case `T` and `Z`; chrono alone is more lenient.
    let strict = text.as_bytes().get(10) == Some(&b'T') && !text.ends_with('z');
    if strict && let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.to_utc());
    }
    Err(Reply::bad_request(&format!(
        "Invalid format for parameter {name}: error parsing '{text}' as RFC3339 or 2006-01-02 time: {}",
        go_date_error(text)
    )))
}

/// The error Go's `time.Parse("2006-01-02", value)` gives, which is what Alpaca appends.
fn go_date_error(value: &str) -> String {
    let cannot = |rest: &str, elem: &str| {
        format!(
            "parsing time {} as \"2006-01-02\": cannot parse {} as {}",
            go_quote(value),
            go_quote(rest),
            go_quote(elem)
        )
    };
    let two_digits = |s: &str| s.len() >= 2 && s.as_bytes()[..2].iter().all(u8::is_ascii_digit);
    let mut rest = value;
    if rest.len() < 4 || !rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return cannot(rest, "2006");
    }
    let year: i32 = rest[..4].parse().unwrap_or(0);
    rest = &rest[4..];
    let Some(after) = rest.strip_prefix('-') else {
        return cannot(rest, "-");
    };
    rest = after;
    if !two_digits(rest) {
        return cannot(rest, "01");
    }
    let month: u32 = rest[..2].parse().unwrap_or(0);
    if !(1..=12).contains(&month) {
        return format!("parsing time {}: month out of range", go_quote(value));
    }
    rest = &rest[2..];
    let Some(after) = rest.strip_prefix('-') else {
        return cannot(rest, "-");
    };
    rest = after;
    if !two_digits(rest) {
        return cannot(rest, "02");
    }
    let day: u32 = rest[..2].parse().unwrap_or(0);
    rest = &rest[2..];
    if !rest.is_empty() {
        return format!(
            "parsing time {}: extra text: {}",
            go_quote(value),
            go_quote(rest)
        );
    }
    if NaiveDate::from_ymd_opt(year, month, day).is_none() {
        return format!("parsing time {}: day out of range", go_quote(value));
    }
    // Only reached for text that is a valid date after all; keep a sensible message.
    format!("parsing time {}: invalid", go_quote(value))
}

/// A Go `%q`-style quoted string (enough for the texts these errors quote).
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Decodes a query string the way Go's `url.ParseQuery` does (`+` is a space), in order.
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key, true), percent_decode(value, true))
        })
        .collect()
}

/// Percent-decodes; malformed escapes are kept as they are.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| hi << 4 | lo),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    use chrono::TimeZone as _;
    use serde_json::Value;

    use super::super::dates::{d, utc};
    use super::super::{Emulator, Fault};
    use super::*;

    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Resp {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// The body as text, gunzipped when the server compressed it.
        fn text(&self) -> String {
            if self.header("content-encoding") == Some("gzip") {
                let mut out = String::new();
                flate2::read::GzDecoder::new(&self.body[..])
                    .read_to_string(&mut out)
                    .expect("valid gzip");
                out
            } else {
                String::from_utf8(self.body.clone()).expect("utf-8 body")
            }
        }

        fn json(&self) -> Value {
            serde_json::from_str(&self.text()).expect("JSON body")
        }
    }

    /// A minimal HTTP/1.1 GET (`Connection: close`), so the tests need no HTTP client crate.
    fn raw_get(emu: &Emulator, target: &str, headers: &[(&str, &str)]) -> Resp {
        let addr = emu.url().trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&addr).expect("connect");
        let mut request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("receive");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8(raw[..split].to_vec()).expect("ascii head");
        let mut lines = head.split("\r\n");
        let status = lines.next().expect("status line")[9..12]
            .parse()
            .expect("status code");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').expect("header line");
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    fn dechunk(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let line_end = data
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("chunk size");
            let size = usize::from_str_radix(
                std::str::from_utf8(&data[..line_end]).expect("hex").trim(),
                16,
            )
            .expect("chunk size");
            if size == 0 {
                return out;
            }
            data = &data[line_end + 2..];
            out.extend_from_slice(&data[..size]);
            data = &data[size + 2..];
        }
    }

    fn get(emu: &Emulator, target: &str) -> Resp {
        raw_get(
            emu,
            target,
            &[
                ("APCA-API-KEY-ID", emu.key_id()),
                ("APCA-API-SECRET-KEY", emu.secret_key()),
            ],
        )
    }

    fn decode(token: &str) -> String {
        String::from_utf8(BASE64.decode(token).expect("base64 token")).expect("utf-8 token")
    }

    /// `EmuBar`s as the JSON values the server sends.
    fn as_json(bars: &[EmuBar]) -> Value {
        let mut text = String::new();
        write_bars(&mut text, bars);
        serde_json::from_str(&text).expect("bars JSON")
    }

    /// Walks every page of a multi-symbol request: bars per symbol, and the page sizes.
    fn walk(emu: &Emulator, target: &str) -> (BTreeMap<String, Vec<Value>>, Vec<Value>) {
        let mut all: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let url = match &token {
                Some(t) => format!("{target}&page_token={t}"),
                None => target.to_owned(),
            };
            let resp = get(emu, &url);
            assert_eq!(resp.status, 200, "{}", resp.text());
            let page = resp.json();
            for (symbol, bars) in page["bars"].as_object().expect("bars map") {
                all.entry(symbol.clone())
                    .or_default()
                    .extend(bars.as_array().expect("array").iter().cloned());
            }
            token = page["next_page_token"].as_str().map(str::to_owned);
            pages.push(page);
            if token.is_none() {
                return (all, pages);
            }
            assert!(pages.len() < 100, "runaway pagination");
        }
    }

    use std::collections::BTreeMap;

    #[test]
    fn one_symbol_spans_two_pages_and_the_last_token_is_null() {
        let emu = Emulator::start();
        let (from, to) = ("2024-06-13T13:30:00Z", "2024-06-13T19:59:00Z");
        let target = format!(
            "/v2/stocks/bars?symbols=NVDA%2CAAPL%2CMSFT&timeframe=1Min&start={from}&end={to}&limit=500"
        );
        let (all, pages) = walk(&emu, &target);
        assert_eq!(pages.len(), 3);
        let symbols_of =
            |p: &Value| -> Vec<String> { p["bars"].as_object().unwrap().keys().cloned().collect() };
        assert_eq!(symbols_of(&pages[0]), ["AAPL", "MSFT"]);
        assert_eq!(symbols_of(&pages[1]), ["MSFT", "NVDA"]);
        assert_eq!(symbols_of(&pages[2]), ["NVDA"]);
        for page in &pages[..2] {
            let count: usize = page["bars"]
                .as_object()
                .unwrap()
                .values()
                .map(|b| b.as_array().unwrap().len())
                .sum();
            assert_eq!(count, 500);
        }
        assert!(pages[2]["next_page_token"].is_null());
        let token = decode(pages[0]["next_page_token"].as_str().unwrap());
        let next_msft = &pages[1]["bars"]["MSFT"][0]["t"];
        let nanos = utc(next_msft.as_str().unwrap())
            .timestamp_nanos_opt()
            .unwrap();
        assert_eq!(token, format!("MSFT|M|{nanos}"));
        for symbol in ["AAPL", "MSFT", "NVDA"] {
            let truth = emu.bars(symbol, "1Min", utc(from), utc(to), "sip");
            assert!(truth.len() > 370, "{symbol}: {}", truth.len());
            assert_eq!(
                Value::Array(all[symbol].clone()),
                as_json(&truth),
                "{symbol}"
            );
        }
        // The raw text keeps production's alphabetical key order.
        let text = get(&emu, &target).text();
        assert!(
            text.starts_with("{\"bars\":{\"AAPL\":[{\"c\":"),
            "{}",
            &text[..40]
        );
        assert!(text.contains(",\"next_page_token\":\""));
    }

    #[test]
    fn descending_pages_mirror_ascending_ones() {
        let emu = Emulator::start();
        let base = "/v2/stocks/bars?symbols=TSLA,SPY&timeframe=5Min&start=2024-06-10&end=2024-06-12&limit=97";
        let (asc, _) = walk(&emu, base);
        let (desc, pages) = walk(&emu, &format!("{base}&sort=desc"));
        assert!(pages.len() > 3);
        for (symbol, bars) in &asc {
            let mut reversed = desc[symbol].clone();
            reversed.reverse();
            assert_eq!(&reversed, bars, "{symbol}");
        }
    }

    #[test]
    fn single_symbol_endpoint_has_symbol_and_null_bars() {
        let emu = Emulator::start();
        let resp = get(
            &emu,
            "/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-06-01&end=2024-06-14",
        );
        let text = resp.text();
        assert!(text.starts_with("{\"bars\":[{\"c\":"), "{text}");
        assert!(
            text.ends_with(",\"next_page_token\":null,\"symbol\":\"AAPL\"}"),
            "{text}"
        );
        let json = resp.json();
        assert_eq!(json["bars"].as_array().unwrap().len(), 10);
        assert_eq!(json["bars"][0]["t"], "2024-06-03T04:00:00Z");
        let empty = get(
            &emu,
            "/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-06-15&end=2024-06-16",
        );
        assert_eq!(
            empty.text(),
            "{\"bars\":null,\"next_page_token\":null,\"symbol\":\"AAPL\"}"
        );
        let paged = get(
            &emu,
            "/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-06-01&limit=3",
        )
        .json();
        assert_eq!(paged["bars"].as_array().unwrap().len(), 3);
        assert_eq!(
            decode(paged["next_page_token"].as_str().unwrap()),
            "AAPL|D|1717646400000000000",
            "2024-06-06T04:00:00Z"
        );
    }

    #[test]
    fn weekend_and_unknown_symbols_give_an_empty_map() {
        let emu = Emulator::start();
        let weekend = "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Min&start=2024-06-08T00:00:00Z&end=2024-06-09T23:59:59Z";
        assert_eq!(
            get(&emu, weekend).text(),
            "{\"bars\":{},\"next_page_token\":null}"
        );
        let unknown = "/v2/stocks/bars?symbols=ZZZZ&timeframe=1Day&start=2024-01-01";
        let resp = get(&emu, unknown);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), "{\"bars\":{},\"next_page_token\":null}");
        let holiday = "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2024-03-29&end=2024-03-29";
        assert_eq!(
            get(&emu, holiday).text(),
            "{\"bars\":{},\"next_page_token\":null}"
        );
    }

    #[test]
    fn errors_have_alpaca_bodies() {
        let emu = Emulator::start();
        let cases = [
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=not-a-date",
                r#"{"message":"Invalid format for parameter start: error parsing 'not-a-date' as RFC3339 or 2006-01-02 time: parsing time \"not-a-date\" as \"2006-01-02\": cannot parse \"not-a-date\" as \"2006\""}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-01-01&end=2024-13-01",
                r#"{"message":"Invalid format for parameter end: error parsing '2024-13-01' as RFC3339 or 2006-01-02 time: parsing time \"2024-13-01\": month out of range"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-01-03T25:00:00Z",
                r#"{"message":"Invalid format for parameter start: error parsing '2024-01-03T25:00:00Z' as RFC3339 or 2006-01-02 time: parsing time \"2024-01-03T25:00:00Z\": extra text: \"T25:00:00Z\""}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-02-01&end=2024-01-01",
                r#"{"message":"end should not be before start"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=3Fortnight",
                r#"{"message":"invalid timeframe: 3Fortnight"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=30Sec",
                r#"{"message":"invalid timeframe: 30Sec"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&limit=20000",
                r#"{"message":"invalid limit: larger than the allowed maximum of 10000"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&limit=10001",
                r#"{"message":"invalid limit: larger than the allowed maximum of 10000"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&adjustment=bogus",
                r#"{"message":"invalid adjustment: bogus"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&feed=delayed_sip",
                r#"{"message":"invalid feed: delayed_sip"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL,CSP1&timeframe=1Day",
                r#"{"message":"invalid symbol: CSP1"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&since=2024-01-01",
                r#"{"message":"unexpected query parameter(s): since"}"#,
            ),
            (
                "/v2/stocks/bars?timeframe=1Day",
                r#"{"message":"Invalid format for parameter symbols: query parameter 'symbols' is required"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&page_token=undefined",
                r#"{"message":"invalid page token"}"#,
            ),
            (
                "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&page_token=TVNGVHxNfDE3ODg0NDg4MDAwMDAwMDAwMDA=",
                r#"{"message":"invalid page token"}"#,
            ),
            (
                "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Day&feed=sip",
                r#"{"message":"unexpected query parameter(s): feed"}"#,
            ),
        ];
        for (target, body) in cases {
            let resp = get(&emu, target);
            assert_eq!((resp.status, resp.text().as_str()), (400, body), "{target}");
            assert!(
                resp.header("content-type")
                    .unwrap()
                    .starts_with("application/json")
            );
        }
        for target in [
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&limit=0",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&limit=ten",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&sort=up",
            "/v2/stocks/bars?symbols=AAPL",
        ] {
            let resp = get(&emu, target);
            assert_eq!(resp.status, 400, "{target}");
            assert!(resp.json()["message"].is_string(), "{target}");
        }
        let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
        assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
    }

    #[test]
    fn times_accept_offsets_fractions_and_dates() {
        let emu = Emulator::start();
        let day = |start: &str, end: &str| {
            let resp = get(
                &emu,
                &format!("/v2/stocks/AAPL/bars?timeframe=1Day&start={start}&end={end}"),
            );
            assert_eq!(resp.status, 200, "{start} {end}: {}", resp.text());
            let json = resp.json();
            json["bars"]
                .as_array()
                .map(|b| {
                    b.iter()
                        .map(|b| b["t"].as_str().unwrap().to_owned())
                        .collect::<Vec<String>>()
                })
                .unwrap_or_default()
        };
        let june = ["2024-06-11T04:00:00Z", "2024-06-12T04:00:00Z"];
        assert_eq!(day("2024-06-11", "2024-06-12"), june);
        assert_eq!(day("2024-06-11T04:00:00Z", "2024-06-12T04:00:00Z"), june);
        assert_eq!(
            day(
                "2024-06-11T00:00:00-04:00",
                "2024-06-12T00:00:00.000000000-04:00"
            ),
            june
        );
        assert_eq!(
            day(
                "2024-06-11T04:00:00%2B00:00",
                "2024-06-12T04:00:00.123456789Z"
            ),
            june
        );
        // Start and end are inclusive on `t`.
        assert_eq!(
            day("2024-06-11T04:00:00Z", "2024-06-12T03:59:59.999999999Z"),
            june[..1]
        );
        assert_eq!(
            day("2024-06-11T04:00:01Z", "2024-06-12T04:00:00Z"),
            june[1..]
        );
        assert_eq!(
            day("2024-06-11T04:00:00.000000001Z", "2024-06-12T04:00:00Z"),
            june[1..]
        );
        // An unencoded `+` is a space to a Go server, so the offset no longer parses.
        let resp = get(
            &emu,
            "/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-06-11T04:00:00+00:00",
        );
        assert_eq!(resp.status, 400);
        assert_eq!(
            emu.requests().last().unwrap().param("start"),
            Some("2024-06-11T04:00:00 00:00")
        );
        // A date-only end covers the whole New York day, extended hours included.
        let minutes = get(
            &emu,
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&start=2024-06-13&end=2024-06-13&limit=10000",
        )
        .json();
        let bars = minutes["bars"]["AAPL"].as_array().unwrap();
        assert!(bars.len() > 400);
        assert!(bars.last().unwrap()["t"].as_str().unwrap() > "2024-06-13T23:00:00Z");
    }

    #[test]
    fn stocks_need_credentials_and_get_nginx_html() {
        let emu = Emulator::start();
        let target = "/v2/stocks/bars?symbols=AAPL&timeframe=1Day";
        for headers in [
            vec![],
            vec![
                ("APCA-API-KEY-ID", "test-key-id"),
                ("APCA-API-SECRET-KEY", "wrong"),
            ],
        ] {
            let resp = raw_get(&emu, target, &headers);
            assert_eq!(resp.status, 401);
            assert_eq!(resp.header("content-type"), Some("text/html"));
            let text = resp.text();
            assert!(text.contains("401 Authorization Required"), "{text}");
            assert!(text.contains("\r\n") && text.contains("nginx"));
        }
        let recorded = emu.requests();
        assert_eq!(recorded.len(), 2);
        assert!(recorded.iter().all(|r| r.status == 401 && !r.authenticated));
    }

    #[test]
    fn crypto_needs_no_credentials() {
        let emu = Emulator::start();
        let target = "/v1beta3/crypto/us/bars?symbols=BTC%2FUSD,ETH/USD&timeframe=1Hour&start=2024-06-13T00:00:00Z&end=2024-06-13T23:59:59Z";
        let resp = raw_get(&emu, target, &[("User-Agent", "barkeep-test")]);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let json = resp.json();
        let btc = json["bars"]["BTC/USD"].as_array().unwrap();
        assert_eq!(btc.len(), 24);
        assert_eq!(btc[0]["t"], "2024-06-13T00:00:00Z");
        assert!(btc.iter().any(|b| b["v"].as_f64().unwrap().fract() != 0.0));
        assert_eq!(json["bars"]["ETH/USD"].as_array().unwrap().len(), 24);
        let truth = emu.bars(
            "BTC/USD",
            "1Hour",
            utc("2024-06-13T00:00:00Z"),
            utc("2024-06-13T23:59:59Z"),
            "",
        );
        assert_eq!(Value::Array(btc.clone()), as_json(&truth));
        let recorded = emu.bar_requests();
        assert_eq!(recorded.len(), 1);
        assert!(!recorded[0].authenticated);
        assert_eq!(recorded[0].user_agent.as_deref(), Some("barkeep-test"));
        assert_eq!(recorded[0].symbols(), ["BTC/USD", "ETH/USD"]);
        let days = raw_get(
            &emu,
            "/v1beta3/crypto/us/bars?symbols=BTC/USD&timeframe=1Day&start=2024-06-10&end=2024-06-12",
            &[],
        )
        .json();
        let stamps: Vec<&str> = days["bars"]["BTC/USD"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["t"].as_str().unwrap())
            .collect();
        assert_eq!(
            stamps,
            [
                "2024-06-10T00:00:00Z",
                "2024-06-11T00:00:00Z",
                "2024-06-12T00:00:00Z"
            ]
        );
    }

    #[test]
    fn free_plan_may_not_see_recent_sip() {
        let emu = Emulator::start();
        emu.set_free_plan(true);
        emu.set_now(utc("2024-06-14T15:00:00Z"));
        let forbidden = [
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&end=2024-06-14T14:50:00Z",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&feed=sip&end=2024-06-14",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-07-01&end=2024-07-02",
        ];
        for target in forbidden {
            let resp = get(&emu, target);
            assert_eq!(resp.status, 403, "{target}");
            assert_eq!(
                resp.text(),
                r#"{"message":"subscription does not permit querying recent SIP data"}"#
            );
        }
        let allowed = [
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&end=2024-06-14T14:45:00Z",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min",
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Min&feed=iex&end=2024-06-14T15:00:00Z",
        ];
        for target in allowed {
            assert_eq!(get(&emu, target).status, 200, "{target}");
        }
        // The default end is clock - 15 min: the last minute bar is 14:45 at the latest.
        let json = get(&emu, "/v2/stocks/bars?symbols=AAPL&timeframe=1Min").json();
        let last = json["bars"]["AAPL"].as_array().unwrap().last().unwrap()["t"].clone();
        assert!(last.as_str().unwrap() <= "2024-06-14T14:45:00Z", "{last}");
    }

    #[test]
    fn faults_and_rate_limits() {
        let emu = Emulator::start();
        let target = "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-06-03&end=2024-06-07";

        emu.inject(Fault::TooManyRequests, 1);
        let resp = get(&emu, target);
        assert_eq!(resp.status, 429);
        assert_eq!(resp.text(), r#"{"message": "too many requests."}"#);
        assert!(resp.header("retry-after").is_none());
        assert!(
            resp.headers
                .iter()
                .all(|(k, _)| !k.starts_with("x-ratelimit"))
        );
        let ok = get(&emu, target);
        assert_eq!(ok.status, 200);
        assert_eq!(ok.header("x-ratelimit-limit"), Some("200"));
        assert_eq!(ok.header("x-ratelimit-remaining"), Some("199"));
        assert!(
            ok.header("x-ratelimit-reset")
                .unwrap()
                .parse::<u64>()
                .is_ok()
        );

        emu.inject(Fault::Status(503), 2);
        emu.inject(Fault::Unauthorized, 1);
        emu.inject(Fault::ForbiddenHtml, 1);
        emu.inject(Fault::TruncatedJson, 1);
        emu.inject(Fault::Delay(StdDuration::from_millis(300)), 1);
        let r = get(&emu, target);
        assert_eq!(
            (r.status, r.text().as_str()),
            (503, r#"{"message":"internal server error"}"#)
        );
        assert_eq!(get(&emu, target).status, 503);
        let r = get(&emu, target);
        assert_eq!(r.status, 401);
        assert!(r.text().contains("401 Authorization Required"));
        let r = get(&emu, target);
        assert_eq!(r.status, 403);
        assert!(r.text().contains("403 Forbidden"));
        let r = get(&emu, target);
        assert_eq!(r.status, 200);
        assert!(serde_json::from_str::<Value>(&r.text()).is_err());
        assert!(ok.text().starts_with(&r.text()));
        let started = Instant::now();
        let r = get(&emu, target);
        assert!(started.elapsed() >= StdDuration::from_millis(300));
        assert_eq!(r.text(), ok.text());
        let statuses: Vec<u16> = emu.bar_requests().iter().map(|r| r.status).collect();
        assert_eq!(statuses, [429, 200, 503, 503, 401, 403, 200, 200]);

        emu.fail_symbol("MSFT", 500);
        let r = get(&emu, "/v2/stocks/bars?symbols=AAPL,MSFT&timeframe=1Day");
        assert_eq!(
            (r.status, r.text().as_str()),
            (500, r#"{"message":"internal server error"}"#)
        );
        assert_eq!(
            get(&emu, "/v2/stocks/bars?symbols=AAPL&timeframe=1Day").status,
            200
        );

        emu.set_rate_limit(3, 0.0);
        let remaining: Vec<Option<String>> = (0..3)
            .map(|_| {
                get(&emu, target)
                    .header("x-ratelimit-remaining")
                    .map(str::to_owned)
            })
            .collect();
        assert_eq!(
            remaining,
            [Some("2".into()), Some("1".into()), Some("0".into())]
        );
        let r = get(&emu, target);
        assert_eq!(
            (r.status, r.text().as_str()),
            (429, r#"{"message": "too many requests."}"#)
        );
        assert!(
            r.headers
                .iter()
                .all(|(k, _)| !k.starts_with("x-ratelimit") && k != "retry-after")
        );
        emu.set_rate_limit(1, 5.0);
        assert_eq!(get(&emu, target).status, 200);
        assert_eq!(get(&emu, target).status, 429);
        std::thread::sleep(StdDuration::from_millis(300));
        assert_eq!(get(&emu, target).status, 200);
    }

    #[test]
    fn gzip_is_honoured_above_256_bytes() {
        let emu = Emulator::start();
        let target = "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-06-03&end=2024-06-07";
        let plain = get(&emu, target);
        assert!(plain.header("content-encoding").is_none());
        let zipped = raw_get(
            &emu,
            target,
            &[
                ("APCA-API-KEY-ID", emu.key_id()),
                ("APCA-API-SECRET-KEY", emu.secret_key()),
                ("Accept-Encoding", "gzip, deflate"),
            ],
        );
        assert_eq!(zipped.header("content-encoding"), Some("gzip"));
        assert_eq!(&zipped.body[..2], [0x1f, 0x8b]);
        assert_eq!(zipped.text(), plain.text());
        assert!(emu.requests()[1].accept_gzip && !emu.requests()[0].accept_gzip);
        let small = raw_get(
            &emu,
            "/v2/stocks/bars?symbols=AAPL&timeframe=1Day&start=2024-06-08&end=2024-06-09",
            &[
                ("APCA-API-KEY-ID", emu.key_id()),
                ("APCA-API-SECRET-KEY", emu.secret_key()),
                ("Accept-Encoding", "gzip"),
            ],
        );
        assert!(small.header("content-encoding").is_none());
    }

    #[test]
    fn the_forming_bar_changes_with_the_clock_then_stays_final() {
        let emu = Emulator::start();
        let day_of = |emu: &Emulator| {
            let json = get(
                emu,
                "/v2/stocks/AAPL/bars?timeframe=1Day&start=2024-06-14&end=2024-06-14",
            )
            .json();
            json["bars"][0].clone()
        };
        emu.set_now(utc("2024-06-14T07:00:00Z"));
        assert!(day_of(&emu).is_null(), "no trades before 04:00 ET");
        emu.set_now(utc("2024-06-14T15:00:00Z"));
        let morning = day_of(&emu);
        emu.set_now(utc("2024-06-14T19:00:00Z"));
        let afternoon = day_of(&emu);
        emu.set_now(utc("2024-06-15T00:00:00Z"));
        let final_bar = day_of(&emu);
        emu.set_now(utc("2024-06-20T12:00:00Z"));
        let later = day_of(&emu);
        assert_eq!(morning["t"], "2024-06-14T04:00:00Z");
        assert_eq!(morning["o"], final_bar["o"]);
        assert!(morning["v"].as_f64() < afternoon["v"].as_f64());
        assert!(afternoon["v"].as_f64() < final_bar["v"].as_f64());
        assert_ne!(morning["c"], final_bar["c"]);
        assert_eq!(final_bar, later);

        // The current minute and the current 5-minute bucket are partial too.
        let range = (utc("2024-06-13T14:00:00Z"), utc("2024-06-13T14:10:00Z"));
        emu.set_now(utc("2024-06-14T20:30:00Z"));
        let minutes = emu.bars("MSFT", "1Min", range.0, range.1, "sip");
        let fives = emu.bars("MSFT", "5Min", range.0, range.1, "sip");
        let probe = minutes[3].t;
        emu.set_now(probe + Duration::seconds(30));
        let forming = emu.bars("MSFT", "1Min", range.0, range.1, "sip");
        assert_eq!(forming.last().unwrap().t, probe);
        assert_ne!(forming.last().unwrap(), &minutes[3]);
        assert_eq!(forming[..3], minutes[..3]);
        let forming_five = emu.bars("MSFT", "5Min", range.0, range.1, "sip");
        assert_ne!(
            forming_five.last(),
            fives.iter().find(|b| b.t == forming_five.last().unwrap().t)
        );
        emu.set_now(probe + Duration::seconds(60));
        assert_eq!(
            emu.bars("MSFT", "1Min", range.0, range.1, "sip")[3],
            minutes[3]
        );
    }

    #[test]
    fn nothing_before_the_listing_date() {
        let emu = Emulator::start();
        let json = get(
            &emu,
            "/v2/stocks/bars?symbols=NEWCO&timeframe=1Day&start=2024-01-01&end=2024-04-01",
        )
        .json();
        let bars = json["bars"]["NEWCO"].as_array().unwrap();
        assert_eq!(bars[0]["t"], "2024-03-15T04:00:00Z");
        let minutes = emu.bars(
            "NEWCO",
            "1Min",
            utc("2024-03-01T00:00:00Z"),
            utc("2024-03-16T00:00:00Z"),
            "sip",
        );
        assert!(minutes[0].t >= utc("2024-03-15T08:00:00Z"));
        let before = get(
            &emu,
            "/v2/stocks/bars?symbols=NEWCO&timeframe=1Min&start=2024-03-01&end=2024-03-14",
        );
        assert_eq!(before.text(), "{\"bars\":{},\"next_page_token\":null}");
        emu.add_symbol("LATE", d("2024-06-12"));
        let late = emu.bars(
            "LATE",
            "1Week",
            utc("2024-06-01T00:00:00Z"),
            utc("2024-06-14T00:00:00Z"),
            "iex",
        );
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].t, utc("2024-06-10T04:00:00Z"));
    }

    #[test]
    fn same_clock_same_bytes() {
        let emu = Emulator::start();
        let target = "/v2/stocks/bars?symbols=SPY,AAPL&timeframe=1Hour&start=2024-05-01&end=2024-05-31&currency=USD";
        let first = get(&emu, target).text();
        let other = Emulator::start();
        assert_eq!(first, get(&other, target).text());
        assert!(first.contains("]},\"currency\":\"USD\",\"next_page_token\""));
        let iex = get(&emu, &format!("{target}&feed=iex")).text();
        assert_ne!(first, iex);
    }

    #[test]
    fn five_years_of_daily_bars_for_five_symbols_is_fast() {
        let emu = Emulator::start();
        let target = "/v2/stocks/bars?symbols=AAPL,MSFT,NVDA,SPY,TSLA&timeframe=1Day&start=2019-06-14&end=2024-06-14&limit=10000";
        let started = Instant::now();
        let resp = get(&emu, target);
        let elapsed = started.elapsed();
        let json = resp.json();
        let trading_days = d("2019-06-14")
            .iter_days()
            .take_while(|day| *day <= d("2024-06-14"))
            .filter(|day| calendar::is_trading_day(*day))
            .count();
        assert_eq!(json["bars"]["TSLA"].as_array().unwrap().len(), trading_days);
        assert!(json["next_page_token"].is_null());
        // Typically ~10 ms in a debug build; the bound leaves room for a busy machine.
        assert!(elapsed < StdDuration::from_secs(1), "{elapsed:?}");
    }

    #[test]
    fn recorded_requests_are_decoded() {
        let emu = Emulator::start();
        get(
            &emu,
            "/v2/stocks/bars?symbols=AAPL%2CMSFT&timeframe=1Day&start=2024-06-03T00%3A00%3A00Z",
        );
        raw_get(&emu, "/v2/other", &[]);
        let all = emu.requests();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].method, "GET");
        assert_eq!(all[0].path, "/v2/stocks/bars");
        assert_eq!(all[0].param("start"), Some("2024-06-03T00:00:00Z"));
        assert_eq!(all[0].symbols(), ["AAPL", "MSFT"]);
        assert!(all[0].authenticated);
        assert_eq!(all[1].status, 404);
        assert_eq!(emu.bar_requests().len(), 1);
        emu.clear_requests();
        assert!(emu.requests().is_empty());
    }

    #[test]
    fn corporate_actions_page_by_process_date_and_validate_like_alpaca() {
        let emu = Emulator::start();
        emu.add_symbol("SPIN", d("2015-01-02"));
        emu.add_action(super::super::EmuAction::spin_off(
            "SPIN",
            "2023-04-03",
            1.0,
            "SPUN",
            0.5,
        ));
        let base = "/v1/corporate-actions?symbols=ACME,SPUN&start=2016-01-01&end=2024-06-14";
        // Pages of 5: 2 splits + 10 dividends + 1 spin-off (found through its new symbol).
        let mut token: Option<String> = None;
        let mut seen: Vec<(String, String)> = Vec::new();
        let mut pages = 0;
        loop {
            let url = match &token {
                Some(t) => format!("{base}&limit=5&page_token={t}"),
                None => format!("{base}&limit=5"),
            };
            let json = get(&emu, &url).json();
            pages += 1;
            for (group, items) in json["corporate_actions"].as_object().unwrap() {
                for item in items.as_array().unwrap() {
                    seen.push((
                        item["process_date"].as_str().unwrap().to_owned(),
                        group.clone(),
                    ));
                }
            }
            token = json["next_page_token"].as_str().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 13);
        assert!(seen.iter().any(|(_, g)| g == "spin_offs"));
        let spin = get(
            &emu,
            "/v1/corporate-actions?symbols=SPIN&start=2023-01-01&types=spin_off",
        )
        .json();
        let item = &spin["corporate_actions"]["spin_offs"][0];
        assert_eq!(item["source_symbol"], "SPIN");
        assert_eq!(item["new_rate"], 0.5);
        assert_eq!(item["source_rate"], 1);
        // Types filter, the default span (today only) and an empty answer.
        let splits = get(&emu, &format!("{base}&types=forward_split,reverse_split")).json();
        assert_eq!(splits["corporate_actions"].as_object().unwrap().len(), 2);
        assert_eq!(
            get(&emu, "/v1/corporate-actions?symbols=ACME").text(),
            r#"{"corporate_actions":{},"next_page_token":null}"#
        );
        for (target, message) in [
            (
                "/v1/corporate-actions?symbols=ACME&limit=1001",
                "invalid limit: larger than the allowed maximum of 1000",
            ),
            (
                "/v1/corporate-actions?symbols=ACME&types=split",
                "invalid types: split",
            ),
            (
                "/v1/corporate-actions?symbols=ACME&since=2020-01-01",
                "unexpected query parameter(s): since",
            ),
            (
                "/v1/corporate-actions?symbols=ACME&ids=x",
                "ids cannot be combined with other filters",
            ),
            (
                "/v1/corporate-actions?symbols=ACME&page_token=nope",
                "invalid page token",
            ),
        ] {
            let resp = get(&emu, target);
            assert_eq!(
                (resp.status, resp.json()["message"].as_str().unwrap()),
                (400, message),
                "{target}"
            );
        }
        assert_eq!(
            raw_get(&emu, "/v1/corporate-actions?symbols=ACME", &[]).status,
            401
        );
        assert_eq!(emu.corporate_action_requests().len(), 12);
        assert!(emu.bar_requests().is_empty());
    }

    #[test]
    fn adjusted_bars_are_served_across_pages() {
        let emu = Emulator::start();
        let (from, to) = ("2023-11-09T00:00:00Z", "2023-11-16T23:59:00Z");
        for adjustment in ["split", "dividend", "all", "split,spin-off"] {
            let target = format!(
                "/v2/stocks/bars?symbols=ACME,AAPL&timeframe=1Min&start={from}&end={to}&limit=997&adjustment={adjustment}"
            );
            let (all, pages) = walk(&emu, &target);
            assert!(pages.len() > 3);
            let truth = emu.bars_adjusted("ACME", "1Min", utc(from), utc(to), "sip", adjustment);
            assert_eq!(
                Value::Array(all["ACME"].clone()),
                as_json(&truth),
                "{adjustment}"
            );
            let aapl = emu.bars("AAPL", "1Min", utc(from), utc(to), "sip");
            assert_eq!(
                Value::Array(all["AAPL"].clone()),
                as_json(&aapl),
                "no actions, raw"
            );
        }
        let raw = emu.bars("ACME", "1Min", utc(from), utc(to), "sip");
        let split = emu.bars_adjusted("ACME", "1Min", utc(from), utc(to), "sip", "split");
        assert_ne!(raw[0], split[0]);
        let first_after = raw
            .iter()
            .position(|b| b.t >= utc("2023-11-13T09:00:00Z"))
            .unwrap();
        assert_eq!(raw[first_after..], split[first_after..]);
    }

    #[test]
    fn go_style_date_errors() {
        assert_eq!(
            go_date_error("2024/01/01"),
            r#"parsing time "2024/01/01" as "2006-01-02": cannot parse "/01/01" as "-""#
        );
        assert_eq!(
            go_date_error("2024-02-30"),
            r#"parsing time "2024-02-30": day out of range"#
        );
        assert_eq!(
            go_date_error("2024-1-01"),
            r#"parsing time "2024-1-01" as "2006-01-02": cannot parse "1-01" as "01""#
        );
        let _ = Utc.timestamp_opt(0, 0);
    }
}

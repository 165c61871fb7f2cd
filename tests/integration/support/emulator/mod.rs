//! A local emulator of Alpaca's historical-bars API for barkeep's integration tests.
//!
//! Owns: the `Emulator` handle that tests hold (start on 127.0.0.1, stop on drop), its mutable
//! state (clock, known symbols, corporate actions, plan, rate limit, injected faults, recorded
//! requests), and the public types tests assert on (`RecordedRequest`, `Fault`, `EmuBar`,
//! `EmuAction`). It follows `shared/ALPACA_API.md`: the stock and crypto bar endpoints, their
//! parameters (`adjustment` included), verbatim error bodies, pagination across symbols, gzip
//! and rate-limit headers, `/v1/corporate-actions`, and the Trading API's `/v2/assets`.
//! Must not: talk to anything but loopback, or depend on barkeep's own code.
//!
//! `assets` serves the Trading API's `/v2/assets`, `calendar` has the NYSE calendar, `market_data` generates the bars, `corporate_actions`
//! models splits, dividends, spin-offs and the actions that end a ticker (a rename also maps the
//! new ticker to the old one's history, as Alpaca's `asof` does), `server` speaks HTTP.

// Each integration-test binary uses only part of this API.
#![allow(dead_code)]

mod assets;
pub(crate) mod calendar;
mod corporate_actions;
pub(crate) mod dates;
mod market_data;
mod server;

pub(crate) use corporate_actions::EmuAction;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use corporate_actions::{Adjustment, EmuActionKind, Listing};
use market_data::{Feed, Market, Series, Timeframe};

const KEY_ID: &str = "test-key-id";
const SECRET_KEY: &str = "test-secret";

/// A running emulator. Cheap to start (one background thread with its own tokio runtime);
/// usable from plain synchronous tests. Dropping it stops the server.
pub(crate) struct Emulator {
    state: Arc<Mutex<EmulatorState>>,
    server: server::Running,
}

/// One HTTP request as the emulator saw it, with the status it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedRequest {
    pub(crate) method: String,
    /// The path as sent (still percent-encoded).
    pub(crate) path: String,
    /// Query parameters, percent-decoded (`+` is a space), in the order sent.
    pub(crate) query: Vec<(String, String)>,
    /// 0 while the answer is still being prepared (e.g. during a `Fault::Delay`).
    pub(crate) status: u16,
    /// Whether both credential headers carried the valid key and secret.
    pub(crate) authenticated: bool,
    /// Whether `Accept-Encoding` mentioned gzip.
    pub(crate) accept_gzip: bool,
    pub(crate) user_agent: Option<String>,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `symbols` parameter split on commas (empty when absent).
    pub(crate) fn symbols(&self) -> Vec<String> {
        self.param("symbols")
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// Whether this is a request to one of the bar endpoints.
    pub(crate) fn is_bar_request(&self) -> bool {
        server::is_bar_path(&self.path)
    }

    /// Whether this is a request to `/v1/corporate-actions`.
    pub(crate) fn is_corporate_actions_request(&self) -> bool {
        self.path == server::CORPORATE_ACTIONS_PATH
    }
}

/// A failure the next bar requests get instead of (or before) their normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// This status with a JSON `{"message": ...}` body (`internal server error` for 5xx).
    Status(u16),
    /// 429 `{"message": "too many requests."}`, no `Retry-After`, no `x-ratelimit-*`.
    TooManyRequests,
    /// 401 with nginx's HTML page.
    Unauthorized,
    /// 403 with nginx's HTML page.
    ForbiddenHtml,
    /// 200 whose JSON body stops half-way.
    TruncatedJson,
    /// The normal answer, after this delay.
    Delay(Duration),
    /// This status and JSON body, verbatim: recorded real answers that differ from the spec
    /// (ALPACA_API.md §9.16), such as corporate actions without `id`.
    Body { status: u16, body: String },
    /// The normal answer with the JSON key `from` spelled `to`, as older crypto answers keyed
    /// `BTCUSD` for `BTC/USD`.
    RenameKey { from: String, to: String },
}

/// One bar as the emulator serves it. `t` is the start of the bucket.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmuBar {
    pub(crate) t: DateTime<Utc>,
    pub(crate) o: f64,
    pub(crate) h: f64,
    pub(crate) l: f64,
    pub(crate) c: f64,
    /// Whole numbers for stocks, fractional for crypto.
    pub(crate) v: f64,
    pub(crate) n: u64,
    pub(crate) vw: f64,
}

/// Everything the test can change, shared with the server thread.
struct EmulatorState {
    clock: DateTime<Utc>,
    requests: Vec<RecordedRequest>,
    /// Stock symbol → first trading date (New York).
    stocks: BTreeMap<String, NaiveDate>,
    /// Crypto pair → first trading date (UTC).
    crypto: BTreeMap<String, NaiveDate>,
    /// Every corporate action, announced or not (see `corporate_actions`).
    actions: Vec<EmuAction>,
    /// Names, exchanges and delistings of assets (`assets`); a symbol without an entry is an
    /// active asset with a made-up name.
    assets: BTreeMap<String, assets::AssetInfo>,
    free_plan: bool,
    rate_limit: Option<server::TokenBucket>,
    faults: VecDeque<Fault>,
    /// Faults for `/v1/corporate-actions` requests, apart from the bar requests'.
    action_faults: VecDeque<Fault>,
    failing: BTreeMap<String, u16>,
    /// An outage: every bar request after the first `.0` answers `.1`.
    outage: Option<(usize, u16)>,
    /// Stock symbol and New York date whose bars the emulator leaves out of every answer.
    removed_sessions: Vec<(String, NaiveDate)>,
    /// The `duplicate_last_bar` fault: every page that has a next page ends with a bar the
    /// next page starts with again (see [`Emulator::repeat_last_bar_of_each_page`]).
    repeat_last_bar: Option<Repeat>,
}

/// How a bar repeated at a page boundary differs from its second copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Both copies are the same bar.
    Identical,
    /// The first copy has another close and volume; the second is the true bar.
    Changed,
}

impl EmulatorState {
    fn new() -> EmulatorState {
        let since = NaiveDate::from_ymd_opt(2015, 1, 1).expect("date");
        let stocks = ["AAPL", "ACME", "MSFT", "NVDA", "SPY", "TSLA"]
            .into_iter()
            .map(|s| (s.to_owned(), since))
            .chain([(
                "NEWCO".to_owned(),
                NaiveDate::from_ymd_opt(2024, 3, 15).expect("date"),
            )])
            .collect();
        let crypto = ["BTC/USD", "ETH/USD"]
            .into_iter()
            .map(|s| (s.to_owned(), since))
            .collect();
        EmulatorState {
            clock: Utc
                .with_ymd_and_hms(2024, 6, 14, 20, 30, 0)
                .single()
                .expect("default clock"),
            requests: Vec::new(),
            stocks,
            crypto,
            actions: corporate_actions::default_actions(),
            assets: BTreeMap::new(),
            free_plan: false,
            rate_limit: None,
            faults: VecDeque::new(),
            action_faults: VecDeque::new(),
            failing: BTreeMap::new(),
            outage: None,
            removed_sessions: Vec::new(),
            repeat_last_bar: None,
        }
    }

    /// When `symbol` started trading, if the emulator knows it in that market.
    fn listed(&self, market: Market, symbol: &str) -> Option<NaiveDate> {
        match market {
            Market::Stock => self.stocks.get(symbol).copied(),
            Market::Crypto => self.crypto.get(symbol).copied(),
        }
    }

    /// How `symbol` is modelled at the clock's date (`asof` left out): see
    /// [`EmulatorState::listing_as_of`].
    fn listing(&self, market: Market, symbol: &str) -> Option<Listing> {
        let today = calendar::new_york_date(self.clock);
        self.listing_as_of(market, symbol, Some(today))
    }

    /// How `symbol` is modelled: its listing date, last trading day and share-count changes.
    /// With `asof` (Alpaca's rename mapping; `None` for `asof=-`), a ticker that a name change
    /// on or before `asof` gave to another company is that company's history, labelled with
    /// the ticker: its bars before the change too (ALPACA_API.md §2, `asof`).
    fn listing_as_of(
        &self,
        market: Market,
        symbol: &str,
        asof: Option<NaiveDate>,
    ) -> Option<Listing> {
        let taken_over = match market {
            Market::Stock => asof.and_then(|asof| {
                self.actions
                    .iter()
                    .filter(|a| a.ex_date <= asof)
                    .filter(|a| {
                        matches!(&a.kind, EmuActionKind::NameChange { new_symbol } if new_symbol == symbol)
                    })
                    .max_by_key(|a| a.ex_date)
            }),
            Market::Crypto => None,
        };
        let (model, since) = match taken_over {
            Some(rename) => (rename.symbol.as_str(), Some(rename.ex_date)),
            None => (symbol, None),
        };
        // The ticker's own end (a rename away, a removal, a merger); for a ticker taken over,
        // only an end after the takeover counts.
        let ended = match market {
            Market::Stock => corporate_actions::ticker_end(&self.actions, symbol, since),
            Market::Crypto => None,
        };
        let delisted = self.assets.get(symbol).and_then(|a| a.last_day);
        Some(Listing {
            symbol: symbol.to_owned(),
            model: model.to_owned(),
            listed: self.listed(market, model)?,
            last_day: [ended, delisted].into_iter().flatten().min(),
            shares: match market {
                Market::Stock => corporate_actions::share_changes(&self.actions, model),
                Market::Crypto => Vec::new(),
            },
        })
    }
}

impl Emulator {
    /// Binds 127.0.0.1:0 and serves on a background thread with its own tokio runtime.
    pub(crate) fn start() -> Emulator {
        let state = Arc::new(Mutex::new(EmulatorState::new()));
        let server = server::Running::start(Arc::clone(&state));
        Emulator { state, server }
    }

    /// Leaves every bar of `symbol` on the New York date `date` out of the answers, as if
    /// the feed had lost that session.
    pub(crate) fn remove_session(&self, symbol: &str, date: NaiveDate) {
        self.lock().removed_sessions.push((symbol.to_owned(), date));
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    pub(crate) fn key_id(&self) -> &str {
        KEY_ID
    }

    pub(crate) fn secret_key(&self) -> &str {
        SECRET_KEY
    }

    /// The emulator clock (2024-06-14T20:30:00Z, a Friday after the close, unless set).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.lock().clock
    }

    pub(crate) fn set_now(&self, t: DateTime<Utc>) {
        self.lock().clock = t;
    }

    /// Every request so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Only the requests to bar endpoints, in arrival order.
    pub(crate) fn bar_requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.is_bar_request())
            .cloned()
            .collect()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Makes `symbol` known, trading from `listed` on (no bars before it). A symbol with a `/`
    /// is a crypto pair.
    pub(crate) fn add_symbol(&self, symbol: &str, listed: NaiveDate) {
        let mut state = self.lock();
        let map = if symbol.contains('/') {
            &mut state.crypto
        } else {
            &mut state.stocks
        };
        map.insert(symbol.to_owned(), listed);
    }

    /// Makes `symbol` a known asset listed on `exchange`, trading from `listed` on.
    pub(crate) fn add_asset(&self, symbol: &str, listed: NaiveDate, exchange: &str) {
        self.add_symbol(symbol, listed);
        let mut state = self.lock();
        state.assets.entry(symbol.to_owned()).or_default().exchange = Some(exchange.to_owned());
    }

    /// Delists `symbol` after `last_day` (New York): no bars after that day, and the assets
    /// list shows it inactive from the next day on.
    pub(crate) fn delist(&self, symbol: &str, last_day: NaiveDate) {
        let mut state = self.lock();
        state.assets.entry(symbol.to_owned()).or_default().last_day = Some(last_day);
    }

    /// Only the requests to the Trading API's `/v2/assets`, in arrival order.
    pub(crate) fn asset_requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path == server::ASSETS_PATH)
            .cloned()
            .collect()
    }

    /// Free-plan mode: SIP requests whose end is later than clock − 15 min get a 403.
    pub(crate) fn set_free_plan(&self, on: bool) {
        self.lock().free_plan = on;
    }

    /// A token bucket (`capacity` requests, refilled at `refill_per_sec` in real time) over all
    /// requests; an empty bucket answers 429. Off by default.
    pub(crate) fn set_rate_limit(&self, capacity: u32, refill_per_sec: f64) {
        self.lock().rate_limit = Some(server::TokenBucket::new(capacity, refill_per_sec));
    }

    /// The `duplicate_last_bar` fault, for every later bar request until turned off: a page
    /// with a next page ends with the bar the next page starts with (the page token points at
    /// it, as windows stitched at an inclusive `end` repeat a bar; ALPACA_API.md §9).
    pub(crate) fn repeat_last_bar_of_each_page(&self, repeat: Option<Repeat>) {
        self.lock().repeat_last_bar = repeat;
    }

    /// The next `times` bar requests get `fault`.
    pub(crate) fn inject(&self, fault: Fault, times: usize) {
        let mut state = self.lock();
        state.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// The next `times` `/v1/corporate-actions` requests get `fault`.
    pub(crate) fn inject_corporate_actions(&self, fault: Fault, times: usize) {
        let mut state = self.lock();
        state
            .action_faults
            .extend(std::iter::repeat_n(fault, times));
    }

    /// An outage that starts after `answered` more bar requests: every later one answers
    /// `status` (`{"message":"internal server error"}` for 5xx), until [`Emulator::end_outage`].
    pub(crate) fn outage_after(&self, answered: usize, status: u16) {
        let mut state = self.lock();
        let seen = state
            .requests
            .iter()
            .filter(|r| r.path.contains("/bars"))
            .count();
        state.outage = Some((seen + answered, status));
    }

    pub(crate) fn end_outage(&self) {
        self.lock().outage = None;
    }

    /// Every bar request naming `symbol` answers `status` (`{"message":"internal server
    /// error"}` for 5xx).
    pub(crate) fn fail_symbol(&self, symbol: &str, status: u16) {
        self.lock().failing.insert(symbol.to_owned(), status);
    }

    /// The emulator's truth at the current clock (raw adjustment): the bars of `symbol` with
    /// `start <= t <= end`, ascending. Empty for an unknown symbol. Crypto pairs (with a `/`)
    /// ignore `feed`.
    ///
    /// # Panics
    /// On a timeframe Alpaca would reject, or a stock feed other than sip/iex/otc/boats.
    pub(crate) fn bars(
        &self,
        symbol: &str,
        timeframe: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        feed: &str,
    ) -> Vec<EmuBar> {
        self.bars_adjusted(symbol, timeframe, start, end, feed, "raw")
    }

    /// The emulator's truth at the current clock for `adjustment=` (`raw`, `split`,
    /// `dividend`, `spin-off`, `all` or a comma list): what the bar endpoints serve.
    ///
    /// # Panics
    /// As [`Emulator::bars`], and on an adjustment Alpaca would reject.
    pub(crate) fn bars_adjusted(
        &self,
        symbol: &str,
        timeframe: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        feed: &str,
        adjustment: &str,
    ) -> Vec<EmuBar> {
        let timeframe =
            Timeframe::parse(timeframe).unwrap_or_else(|| panic!("invalid timeframe: {timeframe}"));
        let adjustment = Adjustment::parse(adjustment)
            .unwrap_or_else(|| panic!("invalid adjustment: {adjustment}"));
        let market = if symbol.contains('/') {
            Market::Crypto
        } else {
            Market::Stock
        };
        let feed = match market {
            Market::Crypto => Feed::Sip,
            Market::Stock => Feed::parse(feed).unwrap_or_else(|| panic!("invalid feed: {feed}")),
        };
        let state = self.lock();
        let clock = state.clock;
        let Some(listing) = state.listing(market, symbol) else {
            return Vec::new();
        };
        let end = listing.clamp_end(end);
        let raw = Series {
            symbol: &listing.model,
            market,
            listed: listing.listed,
            feed,
            timeframe,
            clock,
            shares: &listing.shares,
        }
        .collect(start, end);
        if adjustment.is_raw() {
            return raw;
        }
        let factors =
            corporate_actions::factors(&state.actions, &listing.model, adjustment, clock, &|s| {
                state.listing(Market::Stock, s)
            });
        corporate_actions::adjust(raw, &factors)
    }

    /// Renames `old` to `new` on `date` (New York): a name change action, processed that day.
    /// `old` trades until the day before; from the day the clock reaches `date`, `new` serves
    /// `old`'s history (before and after the change) unless a request sets `asof` earlier.
    pub(crate) fn rename(&self, old: &str, date: &str, new: &str) {
        self.add_action(EmuAction::name_change(old, date, new));
    }

    /// Adds a corporate action. It appears in `/v1/corporate-actions` (and in adjusted bars)
    /// once the clock reaches its process date; a split or stock dividend changes the raw bars
    /// from its ex-date on whether announced or not.
    pub(crate) fn add_action(&self, action: EmuAction) {
        self.lock().actions.push(action);
    }

    /// Every corporate action of `symbol` (as the moved symbol), announced or not.
    pub(crate) fn actions(&self, symbol: &str) -> Vec<EmuAction> {
        self.lock()
            .actions
            .iter()
            .filter(|a| a.symbol == symbol)
            .cloned()
            .collect()
    }

    /// Only the requests to `/v1/corporate-actions`, in arrival order.
    pub(crate) fn corporate_action_requests(&self) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.is_corporate_actions_request())
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, EmulatorState> {
        lock(&self.state)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.stop();
    }
}

/// Locks the shared state, ignoring poisoning (a panicking test must not hide its own cause
/// behind a second panic here).
fn lock(state: &Mutex<EmulatorState>) -> MutexGuard<'_, EmulatorState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

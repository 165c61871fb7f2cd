//! The bars endpoints, `GET /v2/stocks/bars` and `GET /v1beta3/crypto/us/bars`: bars of many
//! symbols of one feed and timeframe over a time range, a page at a time (`limit=10000`, the
//! maximum), every page followed. Owns how symbols are batched into requests, the page URL, the
//! free plan's refusal of recent SIP data (the end moves back and the request is asked again),
//! and what an answer holds (requested symbols only, in range, in time order). Retries, pacing
//! and error handling are the client's, shared with the corporate-actions endpoint.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use reqwest::Url;

use super::client::Client;
use super::error::Error;
use super::models::BarsPage as RawBarsPage;
use super::redact::shown;
use crate::events::{Event, RequestKind};
use crate::market::{AssetClass, Bar, Feed, Symbol, Timeframe};

/// Alpaca's page size maximum; the limit counts bars across all symbols of a request.
const PAGE_LIMIT: u32 = 10_000;
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
                    let limit = client.now() - RECENT_SIP_DELAY;
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

fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Client {
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
}

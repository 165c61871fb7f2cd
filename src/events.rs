//! Events the core reports while it works (requests, retries, commits), so the CLI can log
//! them with `-v` or draw progress. The core never prints; it only calls an [`Observer`].

use std::time::Duration;

use crate::cache::SeriesKey;

/// Something worth telling the user about.
#[derive(Debug)]
pub enum Event<'a> {
    /// The plan is known: this many requests (at least; pages may add more) for these series.
    Planned { requests: usize, series: usize },
    /// One HTTP request finished (any status). `url` never contains credentials; `items` counts
    /// the bars or corporate actions in the answer.
    Request {
        url: &'a str,
        kind: RequestKind,
        status: u16,
        elapsed: Duration,
        items: usize,
    },
    /// The headers of a response (credentials and cookies left out), for `-vv`.
    ResponseHeaders {
        url: &'a str,
        headers: &'a [(String, String)],
    },
    /// A request failed in a way worth retrying; the next attempt starts after `delay`.
    Retrying {
        url: &'a str,
        reason: &'a str,
        attempt: u32,
        delay: Duration,
    },
    /// Waiting because Alpaca's rate-limit headers said the budget is spent.
    RateLimited { delay: Duration },
    /// The plan does not permit recent SIP data: the request's end was moved back.
    EndClamped { url: &'a str, new_end: &'a str },
    /// Alpaca's answer held something barkeep cannot use and worked around (a corporate
    /// action missing fields, bars under a key that was not asked for): one line for people.
    OddAnswer { message: &'a str },
    /// A stock gap reaches outside the market calendar's years: it is asked for whole.
    OutsideCalendar,
    /// A series was committed to the cache.
    Committed { key: &'a SeriesKey, bars_added: u64 },
    /// A series could not be brought up to date.
    SeriesFailed {
        key: &'a SeriesKey,
        error: &'a (dyn std::error::Error + 'static),
    },
}

/// Which endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Bars,
    CorporateActions,
    /// The Trading API's assets list (`update --universe`).
    Assets,
}

impl RequestKind {
    /// What the answer's items are called, for logs.
    pub fn items(self) -> &'static str {
        match self {
            RequestKind::Bars => "bars",
            RequestKind::CorporateActions => "corporate actions",
            RequestKind::Assets => "assets",
        }
    }
}

/// Receives [`Event`]s. Implementations must be cheap: events arrive on the async runtime.
pub trait Observer: Send + Sync {
    fn event(&self, event: Event<'_>);
}

/// An observer that ignores everything.
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: Event<'_>) {}
}

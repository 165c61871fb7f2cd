//! Keeping the corporate-actions ledgers of stock symbols current, shared by `fetch
//! --adjustment` (refresh what is more than a day old) and `update` (refresh every symbol it
//! updates). All symbols that need asking go out together: one request per page for every
//! group of symbols whose ledgers end on the same day, split only to keep URLs short. A
//! ledger is asked only for process dates after what it covers, less a lookback, because
//! Alpaca does not promise how soon an action appears.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use std::collections::BTreeMap;

use super::Error;
use crate::api::{self, Client, CorporateActionsRequest};
use crate::cache::Store;
use crate::cache::ledger::{self, Ledger};
use crate::market::{NEW_YORK, Symbol};

/// `fetch --adjustment` asks again when a ledger was checked longer ago than this.
pub const MAX_AGE: TimeDelta = TimeDelta::days(1);
/// How far before the end of its span a ledger is asked again, for late-published actions.
pub const LOOKBACK_DAYS: u64 = 7;

/// The first process date a new ledger asks for. Alpaca's bars start on 2016-01-04, and an
/// action processed earlier has an earlier ex-date too, so it cannot move any bar.
pub fn first_process_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2016, 1, 1).expect("valid date")
}

/// The New York date of `now`: the last process date a refresh asks for.
pub fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&NEW_YORK).date_naive()
}

/// What a refresh did.
#[derive(Debug, Clone, Default)]
pub struct RefreshReport {
    /// The symbols whose ledgers were asked for and rewritten.
    pub checked: Vec<Symbol>,
    /// HTTP pages fetched (a page is one request).
    pub requests: u32,
    /// Actions not recorded before.
    pub actions_added: usize,
}

/// A group of symbols whose ledgers could not be refreshed, and why. Their ledgers are left
/// as they were.
#[derive(Debug)]
pub struct RefreshFailure {
    pub symbols: Vec<Symbol>,
    pub error: Error,
}

/// Brings the ledgers of `symbols` (stock symbols) up to today. With `max_age`, ledgers
/// checked more recently are left alone. A damaged ledger is fetched again from scratch.
/// Every group of symbols is tried; the first failure is returned after all were (see
/// [`refresh_each`] to know which symbols failed).
pub async fn refresh(
    store: &Store,
    client: &Client,
    symbols: &[Symbol],
    now: DateTime<Utc>,
    max_age: Option<TimeDelta>,
    wait_for_locks: bool,
) -> Result<RefreshReport, Error> {
    let (report, failures) =
        refresh_each(store, client, symbols, now, max_age, wait_for_locks).await?;
    match failures.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(report),
    }
}

/// [`refresh`], reporting failures per group of symbols instead of failing: one group's
/// failure (a refused request, an answer that cannot be read, a ledger that cannot be written)
/// leaves the other groups' ledgers refreshed.
pub async fn refresh_each(
    store: &Store,
    client: &Client,
    symbols: &[Symbol],
    now: DateTime<Utc>,
    max_age: Option<TimeDelta>,
    wait_for_locks: bool,
) -> Result<(RefreshReport, Vec<RefreshFailure>), Error> {
    let today = today(now);
    let stale = {
        let (store, symbols) = (store.clone(), symbols.to_vec());
        tokio::task::spawn_blocking(move || {
            let mut groups: BTreeMap<NaiveDate, Vec<Symbol>> = BTreeMap::new();
            for symbol in symbols {
                let known = ledger::read(&store, &symbol).ok().flatten();
                if let (Some(known), Some(max_age)) = (&known, max_age)
                    && now - known.checked_at <= max_age
                {
                    continue;
                }
                let start = known.map_or_else(first_process_date, |l| {
                    l.process_dates.1 - Days::new(LOOKBACK_DAYS)
                });
                groups.entry(start.min(today)).or_default().push(symbol);
            }
            groups
        })
        .await?
    };
    let mut report = RefreshReport::default();
    let mut failures = Vec::new();
    for (start, mut symbols) in stale {
        symbols.sort();
        symbols.dedup();
        for batch in api::symbol_batches(symbols) {
            let request = CorporateActionsRequest {
                symbols: batch,
                start,
                end: today,
            };
            let answer = match client.get_corporate_actions(&request).await {
                Ok(answer) => answer,
                Err(e) => {
                    failures.push(RefreshFailure {
                        symbols: request.symbols,
                        error: e.into(),
                    });
                    continue;
                }
            };
            report.requests += answer.pages;
            let store = store.clone();
            let symbols = request.symbols.clone();
            let written = tokio::task::spawn_blocking(move || {
                let mut added = 0;
                for symbol in &request.symbols {
                    let actions = answer
                        .actions
                        .iter()
                        .filter(|a| a.symbols().contains(&symbol.as_str()))
                        .cloned();
                    let lock = ledger::lock(&store, symbol, wait_for_locks)?;
                    // Read again under the lock: another run may have written meanwhile.
                    let mut ledger =
                        ledger::read(&store, symbol)
                            .ok()
                            .flatten()
                            .unwrap_or_else(|| {
                                Ledger::new(symbol.clone(), now, (request.start, request.end))
                            });
                    added += ledger.merge(actions, (request.start, request.end), now);
                    ledger::write(&store, &ledger, &lock)?;
                }
                Ok::<_, Error>((added, request.symbols))
            })
            .await?;
            match written {
                Ok((added, symbols)) => {
                    report.actions_added += added;
                    report.checked.extend(symbols);
                }
                Err(error) => failures.push(RefreshFailure { symbols, error }),
            }
        }
    }
    report.checked.sort();
    Ok((report, failures))
}

/// The recorded ledgers of `symbols`, `None` where none is recorded. Blocking.
pub fn load(store: &Store, symbols: &[Symbol]) -> Result<Vec<(Symbol, Option<Ledger>)>, Error> {
    symbols
        .iter()
        .map(|s| Ok((s.clone(), ledger::read(store, s)?)))
        .collect()
}

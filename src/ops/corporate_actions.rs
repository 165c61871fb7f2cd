//! Keeping the corporate-actions ledgers of stock symbols current, shared by `fetch
//! --adjustment` (refresh what is more than a day old) and `update` (refresh every symbol it
//! updates). All symbols that need asking go out together: one request per page for every
//! group of symbols whose ledgers end on the same day, split only to keep URLs short. A
//! ledger is asked only for process dates after what it covers, less a lookback, because
//! Alpaca does not promise how soon an action appears.
//!
//! Only what changed is written (issue 12): a ledger file is rewritten only when its actions
//! change, and the check of every symbol a run asked about goes into the cache's index of
//! checks in one write at the end (`cache::ledger_index`). An unchanged refresh of 500
//! symbols thus writes one file. Everything here reads ledgers through that index.
//!
//! Only what is needed is read: in a bucket, one LIST of the ledgers and the ETags the index
//! recorded tell which ledgers are as the index describes them; those are planned from the
//! index alone and read only when an answer brings actions for their symbol (issue 25). Any
//! other ledger (changed, replaced, damaged, or unknown to the index) is read as before.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};

use super::Error;
use super::concurrent_reads::{map_blocking, map_scoped};
use crate::api::{self, Client, CorporateActionsRequest};
use crate::cache::ledger::{self, Ledger};
use crate::cache::ledger_index::{self, Check, LedgerEtag, Recorded, Vouched};
use crate::cache::{self, Store};
use crate::market::{CorporateAction, NEW_YORK, Symbol};

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
    /// The symbols whose ledgers were asked for (and rewritten where their actions changed).
    pub checked: Vec<Symbol>,
    /// HTTP pages fetched (a page is one request).
    pub requests: u32,
    /// Actions not recorded before.
    pub actions_added: usize,
}

/// A refresh, symbol by symbol: what it did, which groups failed, and the ledgers it read or
/// wrote as they stand after it (refreshed ones as written, the others as read, overlaid with
/// the index's checks). A ledger the index vouches for is not read, and not among them.
#[derive(Debug)]
pub struct Refreshed {
    pub report: RefreshReport,
    pub failures: Vec<RefreshFailure>,
    pub ledgers: BTreeMap<Symbol, Result<Option<Ledger>, cache::Error>>,
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
    let refreshed = refresh_each(store, client, symbols, now, max_age, wait_for_locks).await?;
    match refreshed.failures.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(refreshed.report),
    }
}

/// [`refresh`], reporting failures per group of symbols instead of failing: one group's
/// failure (a refused request, an answer that cannot be read, a ledger that cannot be written)
/// leaves the other groups' ledgers refreshed. Each ledger is read once, and returned.
pub async fn refresh_each(
    store: &Store,
    client: &Client,
    symbols: &[Symbol],
    now: DateTime<Utc>,
    max_age: Option<TimeDelta>,
    wait_for_locks: bool,
) -> Result<Refreshed, Error> {
    let today = today(now);
    // What planning learnt of each symbol's ledger (absent: none recorded, or damaged).
    let mut stored_ledgers: HashMap<Symbol, Planned> = HashMap::new();
    // Every symbol's ledger as read or written here (those the index vouches for are not
    // read: a caller that needs their actions reads them itself).
    let mut ledgers = BTreeMap::new();
    let stale = {
        // An index that cannot be read only costs requests.
        let (index, etags) = {
            let store = store.clone();
            crate::blocking_tasks::spawn(move || {
                let index = ledger_index::read(&store).unwrap_or_default();
                // A listing that fails leaves every ledger to be read.
                (index, ledger::etags(&store).ok().flatten())
            })
            .await?
        };
        let vouched: Vec<Vouched> = symbols
            .iter()
            .map(|s| index.vouch(s, etags.as_ref()))
            .collect();
        // The ledgers the index cannot vouch for, 32 reads (or object GETs) at once.
        // Kept as read: the answers below merge into them without reading any again.
        let unknown: Vec<Symbol> = symbols
            .iter()
            .zip(&vouched)
            .filter(|(_, v)| **v == Vouched::Unknown)
            .map(|(s, _)| s.clone())
            .collect();
        let mut read = {
            let store = store.clone();
            map_blocking(unknown.clone(), move |symbol| {
                Ok(ledger::read(&store, &symbol).ok().flatten())
            })
            .await
            .into_iter()
            .zip(unknown)
            .map(|(ledger, symbol)| (symbol, ledger.ok().flatten()))
            .collect::<HashMap<_, _>>()
        };
        let mut groups: BTreeMap<NaiveDate, Vec<Symbol>> = BTreeMap::new();
        for (symbol, vouched) in symbols.iter().zip(vouched) {
            let planned = match vouched {
                Vouched::Absent => None,
                Vouched::Unchanged(check) => Some(Planned::Unread(check)),
                Vouched::Unknown => read.remove(symbol).flatten().map(|ledger| {
                    // Read now, so the index may vouch for it next time.
                    let etag = etags.as_ref().and_then(|e| e.get(symbol)).cloned();
                    Planned::Read(ledger, etag)
                }),
            };
            let known = planned.as_ref().map(|p| match p {
                Planned::Read(ledger, _) => index.check_of(ledger),
                Planned::Unread(check) => *check,
            });
            // A ledger of format 1 was never asked for the actions that end a ticker: all
            // of its span is asked again, whatever its age.
            let without_endings =
                matches!(&planned, Some(Planned::Read(ledger, _)) if !ledger.asked_endings);
            if let Some(Planned::Read(ledger, _)) = &planned {
                let mut ledger = ledger.clone();
                index.apply(&mut ledger);
                ledgers.insert(symbol.clone(), Ok(Some(ledger)));
            }
            if let Some(planned) = planned {
                stored_ledgers.insert(symbol.clone(), planned);
            }
            if let (Some(known), Some(max_age)) = (known, max_age)
                && now - known.checked_at <= max_age
                && !without_endings
            {
                continue;
            }
            let start = match known {
                Some(known) if !without_endings => known.process_dates.1 - Days::new(LOOKBACK_DAYS),
                _ => first_process_date(),
            };
            groups
                .entry(start.min(today))
                .or_default()
                .push(symbol.clone());
        }
        groups
    };
    let mut report = RefreshReport::default();
    let mut failures = Vec::new();
    let mut checks: Vec<Recorded> = Vec::new();
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
            let stored: Vec<Option<Planned>> = request
                .symbols
                .iter()
                .map(|s| stored_ledgers.remove(s))
                .collect();
            let written = crate::blocking_tasks::spawn(move || {
                let asked = (request.start, request.end);
                let mut added = 0;
                let mut checks: Vec<Recorded> = Vec::with_capacity(request.symbols.len());
                let mut written = Vec::with_capacity(request.symbols.len());
                for (symbol, stored) in request.symbols.iter().zip(stored) {
                    let actions: Vec<CorporateAction> = answer
                        .actions
                        .iter()
                        .filter(|a| a.symbols().contains(&symbol.as_str()))
                        .cloned()
                        .collect();
                    let (stored, mut etag) = match stored {
                        // Nothing to merge into a ledger the index vouches for: it stays
                        // as it is, and only the check is recorded.
                        Some(Planned::Unread(known)) if actions.is_empty() => {
                            let check = Check {
                                checked_at: now,
                                process_dates: (
                                    known.process_dates.0.min(asked.0),
                                    known.process_dates.1.max(asked.1),
                                ),
                            };
                            checks.push((symbol.clone(), check, LedgerEtag::Keep));
                            continue;
                        }
                        // Actions to merge: now the ledger is needed (it is the file the
                        // recorded ETag names, or was replaced since, which the next
                        // listing shows).
                        Some(Planned::Unread(_)) => (
                            ledger::read(&store, symbol).ok().flatten(),
                            LedgerEtag::Keep,
                        ),
                        Some(Planned::Read(ledger, etag)) => (
                            Some(ledger),
                            etag.map_or(LedgerEtag::Forget, LedgerEtag::Set),
                        ),
                        None => (None, LedgerEtag::Forget),
                    };
                    // Most answers change nothing: find out from the ledger read for
                    // planning, without the lock, and take it (then read again, as another
                    // run may have written meanwhile) only to write.
                    let (mut ledger, _, changed) = merged(stored, symbol, &actions, asked, now);
                    if changed {
                        let lock = ledger::lock(&store, symbol, wait_for_locks)?;
                        let stored = ledger::read(&store, symbol).ok().flatten();
                        let (again, new, changed) = merged(stored, symbol, &actions, asked, now);
                        ledger = again;
                        if changed {
                            etag = ledger::write(&store, &ledger, &lock)?
                                .map_or(LedgerEtag::Forget, LedgerEtag::Set);
                            added += new;
                        }
                    }
                    checks.push((
                        symbol.clone(),
                        Check {
                            checked_at: now,
                            process_dates: ledger.process_dates,
                        },
                        etag,
                    ));
                    written.push(ledger);
                }
                Ok::<_, Error>((added, request.symbols, checks, written))
            })
            .await?;
            match written {
                Ok((added, symbols, written_checks, written)) => {
                    report.actions_added += added;
                    report.checked.extend(symbols);
                    checks.extend(written_checks);
                    for ledger in written {
                        ledgers.insert(ledger.symbol.clone(), Ok(Some(ledger)));
                    }
                }
                Err(error) => failures.push(RefreshFailure { symbols, error }),
            }
        }
    }
    // Every check of the run in one write.
    if !checks.is_empty() {
        let symbols: Vec<Symbol> = checks.iter().map(|(s, _, _)| s.clone()).collect();
        let store = store.clone();
        let recorded =
            crate::blocking_tasks::spawn(move || ledger_index::record(&store, checks)).await?;
        if let Err(e) = recorded {
            failures.push(RefreshFailure {
                symbols,
                error: e.into(),
            });
        }
    }
    report.checked.sort();
    Ok(Refreshed {
        report,
        failures,
        ledgers,
    })
}

/// What planning a refresh learnt of a symbol's ledger.
enum Planned {
    /// Read, with its ETag from the listing (in a bucket).
    Read(Ledger, Option<String>),
    /// Not read: the index vouches that the ledger is as it recorded, with this check.
    Unread(Check),
}

/// The recorded ledgers of `symbols`, `None` where none is recorded, with their latest checks
/// from the index; read 32 at a time (a bucket's GETs overlap).
pub async fn load(
    store: &Store,
    symbols: &[Symbol],
) -> Result<Vec<(Symbol, Option<Ledger>)>, Error> {
    let index = {
        let store = store.clone();
        std::sync::Arc::new(
            crate::blocking_tasks::spawn(move || ledger_index::read(&store)).await??,
        )
    };
    let store = store.clone();
    map_blocking(symbols.to_vec(), move |symbol| {
        let ledger = index.read_checked(&store, &symbol)?;
        Ok((symbol, ledger))
    })
    .await
    .into_iter()
    .collect()
}

/// The ledgers of `symbols` that could be damaged, read (`Err` for a damaged one): every
/// ledger of a directory cache; in a bucket, after one LIST, only those the index of checks
/// cannot vouch for (a vouched ledger is the file barkeep last wrote or read whole, see
/// `cache::ledger_index`). `Ok(None)` for the others and for symbols without a ledger.
/// Blocking: reads [`READS_IN_FLIGHT`](super::concurrent_reads::READS_IN_FLIGHT) at a time.
pub fn unvouched_ledgers(
    store: &Store,
    symbols: &[Symbol],
) -> Vec<(Symbol, Result<Option<Ledger>, crate::cache::Error>)> {
    let index = ledger_index::read(store).unwrap_or_default();
    let etags = ledger::etags(store).ok().flatten();
    map_scoped(symbols, |symbol| {
        let ledger = match index.vouch(symbol, etags.as_ref()) {
            Vouched::Absent | Vouched::Unchanged(_) => Ok(None),
            Vouched::Unknown => index.read_checked(store, symbol),
        };
        (symbol.clone(), ledger)
    })
}

/// The ledger file of `symbol` as `stored` (`None`: not recorded, or damaged) with an answer
/// merged in: the ledger, how many actions are new, and whether its actions changed (a ledger
/// not recorded, or damaged, always has).
fn merged(
    stored: Option<Ledger>,
    symbol: &Symbol,
    actions: &[CorporateAction],
    asked: (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> (Ledger, usize, bool) {
    let mut ledger = stored
        .clone()
        .unwrap_or_else(|| Ledger::new(symbol.clone(), now, asked));
    let added = ledger.merge(actions.iter().cloned(), asked, now);
    // Asked from the first process date, the ledger now holds the actions that end a ticker
    // too (a ledger of format 1 is rewritten for that alone).
    ledger.asked_endings |= asked.0 <= first_process_date();
    let changed = stored
        .is_none_or(|s| s.actions != ledger.actions || s.asked_endings != ledger.asked_endings);
    (ledger, added, changed)
}

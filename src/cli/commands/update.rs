//! `barkeep update`: reads the watchlist ([`ops::watchlist`](crate::ops::watchlist)) and the
//! assets list of `--universe` ([`super::update_universe`]), runs
//! [`ops::update`](crate::ops::update), and renders the dry-run plan, the summary line and
//! the JSON report.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::HumanCount;
use serde_json::json;

use super::update_universe;
use crate::cli::args::update::UpdateArgs;
use crate::cli::failure::{LedgersFailed, UpdateFailed};
use crate::cli::formats::table::{Column, Table};
use crate::cli::formats::{self, json};
use crate::cli::progress::{Progress, calendar_note};
use crate::cli::{Context, Interrupted, UsageError, ops_hint};
use crate::error_chain::error_chain;
use crate::events::Observer;
use crate::market::{AssetFilter, Interval, Universe};
use crate::ops::gap_fill::SeriesStatus;
use crate::ops::update::{self as op, DryRun, UpdateOptions, UpdateOutcome};
use crate::ops::watchlist::{self, BadLine};
use crate::parquet_files::metadata::format_instant;

pub async fn run(ctx: &Context, args: UpdateArgs) -> anyhow::Result<()> {
    let mut symbols = args.symbols;
    let mut bad_lines = Vec::new();
    if let Some(path) = &args.symbols_file {
        let listed = watchlist::read(path)
            .await
            .map_err(|e| UsageError(e.to_string()))?;
        for line in &listed.bad_lines {
            let (location, error) = (&line.location, &line.error);
            ctx.printer
                .error(&format!("{location}: {error} (line skipped)"));
        }
        symbols.extend(listed.symbols);
        bad_lines = listed.bad_lines;
    }
    if symbols.is_empty() && !bad_lines.is_empty() {
        // Not one valid line: nothing to update (an empty list would mean "everything").
        let count = bad_lines.len();
        ctx.printer.note(&format!(
            "0 series updated, 0 unchanged, {count} failed: no valid symbol in the watchlist"
        ));
        return Err(UpdateFailed { count, hint: None }.into());
    }
    let progress = Arc::new(Progress::new(ctx.printer.clone()));
    let mut universe_report = None;
    let mut universe_list = None;
    if let Some(universe) = args.universe {
        let filter = AssetFilter {
            include_inactive: args.include_inactive,
            exchanges: update_universe::exchanges(&args.exchange)?,
        };
        let observer: Arc<dyn Observer> = progress.clone();
        let taken = update_universe::resolve(ctx, universe.into(), &filter, &observer).await;
        let taken = taken.inspect_err(|_| progress.finish())?;
        if symbols.is_empty() && taken.symbols.is_empty() {
            // An empty list would mean "every cached series".
            progress.finish();
            ctx.printer
                .note("0 series updated: the assets list has no asset to take");
            return Ok(());
        }
        symbols.extend(taken.symbols);
        universe_report = Some(taken.report);
        universe_list = Some(taken.list);
    }
    symbols.sort();
    symbols.dedup();
    let options = UpdateOptions {
        symbols,
        timeframes: args.timeframes,
        stock_feed: args.feed.map(Into::into),
        start: args.start.unwrap_or(op::DEFAULT_START),
        now: ctx.now,
        wait_for_locks: !args.no_wait,
        interrupt: ctx.interrupt.clone(),
    };
    let started = Instant::now();
    let plan = op::plan(&ctx.store, &options).await?;
    if args.dry_run {
        progress.finish();
        return dry_run(ctx, &plan, args.report.is_some(), bad_lines.len()).await;
    }

    let client = ctx.client(progress.clone())?;
    let observer: Arc<dyn Observer> = progress.clone();
    let list = match universe_list {
        Some(list) if list.universe == Universe::UsEquity => Some(list),
        Some(_) => None,
        None => {
            let keys: Vec<_> = plan
                .targets
                .iter()
                .map(|t| &t.key)
                .chain(&plan.up_to_date)
                .collect();
            update_universe::stock_list(ctx, &keys, &observer).await
        }
    };
    let outcome = op::update(&ctx.store, &client, plan, &options, progress.clone()).await;
    let outcome = match (outcome, list) {
        (Ok(outcome), Some(list)) if ctx.interrupt.signal().is_none() => {
            let keys = outcome
                .series
                .iter()
                .filter(|o| !matches!(o.status, SeriesStatus::Failed(_)))
                .map(|o| o.key.clone())
                .collect();
            update_universe::close_delisted(ctx, list, keys, options.wait_for_locks).await?;
            Ok(outcome)
        }
        (outcome, _) => outcome,
    };
    progress.finish();
    let outcome = outcome?;
    for (key, closing) in &outcome.endings.closed {
        ctx.printer
            .note(&format!("{key}: {closing}; not asked past it from now on"));
    }
    for (key, renaming) in &outcome.endings.restated {
        ctx.printer.note(&format!(
            "{key}: {renaming}; the bars it held before then were dropped and asked again"
        ));
    }
    for (key, error) in outcome.failures() {
        ctx.printer.error(&format!("{key}: {}", error_chain(error)));
    }
    if let Err(e) = &outcome.ledgers {
        ctx.printer
            .error(&format!("corporate actions: {}", error_chain(e)));
    }
    let run = Ran {
        outcome: &outcome,
        bad_lines: &bad_lines,
        // Bar requests; the corporate-actions requests are reported apart.
        requests: progress.bar_requests(),
        elapsed: started.elapsed(),
        conflicts: ctx.store.conflicts(),
        assets: universe_report,
    };
    if args.report.is_some() {
        let mut out = formats::stdout();
        json::write_line(&mut out, &run.report_json())?;
        out.flush()?;
    }
    ctx.printer
        .note(&run.summary(ctx.interrupt.signal().is_some()));
    if let Some(signal) = ctx.interrupt.signal() {
        return Err(Interrupted(signal).into());
    }
    let ledger_hint = outcome.ledgers.as_ref().err().and_then(ops_hint);
    let count = outcome.totals().failed + bad_lines.len();
    if count > 0 {
        let hint = outcome.failures().find_map(|(_, e)| ops_hint(e));
        let hint = hint.or(ledger_hint);
        return Err(UpdateFailed { count, hint }.into());
    }
    if outcome.ledgers.is_err() {
        return Err(LedgersFailed { hint: ledger_hint }.into());
    }
    Ok(())
}

fn instants(intervals: &[Interval]) -> Vec<[String; 2]> {
    let pair = |i: &Interval| [format_instant(i.start), format_instant(i.end)];
    intervals.iter().map(pair).collect()
}

/// `--dry-run`: the plan on stdout (a table, or JSON with `--report json`) and what cannot
/// be planned on stderr.
async fn dry_run(
    ctx: &Context,
    plan: &op::UpdatePlan,
    report_json: bool,
    bad_lines: usize,
) -> anyhow::Result<()> {
    let dry_run = op::dry_run(&ctx.store, plan, ctx.now).await?;
    let mut out = formats::stdout();
    if report_json {
        json::write_line(&mut out, &dry_run_json(&dry_run))?;
    } else {
        write_plan(&mut out, &dry_run)?;
    }
    out.flush()?;
    if dry_run.beyond_calendar() {
        ctx.printer.note(&calendar_note());
    }
    for (key, error) in &plan.unplannable {
        ctx.printer.error(&format!("{key}: {}", error_chain(error)));
    }
    let count = plan.unplannable.len() + bad_lines;
    let hint = plan.unplannable.iter().find_map(|(_, e)| ops_hint(e));
    match count {
        0 => Ok(()),
        _ => Err(UpdateFailed { count, hint }.into()),
    }
}

/// `--dry-run --report json`: the ranges each series would ask and those it would not.
fn dry_run_json(dry_run: &DryRun) -> serde_json::Value {
    let entries: Vec<_> = dry_run
        .series
        .iter()
        .map(|(key, plan)| {
            let asked: Vec<Interval> = plan.asks.iter().map(|a| a.range).collect();
            json!({
                "symbol": key.symbol.as_str(),
                "asset_class": key.asset_class().as_str(),
                "feed": key.feed.as_str(),
                "timeframe": key.timeframe.to_string(),
                "ranges": instants(&asked),
                "no_session_ranges": instants(&plan.closed),
            })
        })
        .collect();
    let pages = dry_run.estimated_pages();
    json!({ "dry_run": true, "requests_estimated": pages, "series": entries })
}

/// `--dry-run`: one line per range a series would ask (or skip, without a session), then a
/// summary line.
fn write_plan(out: &mut dyn Write, dry_run: &DryRun) -> anyhow::Result<()> {
    let mut table = Table::new([
        Column::left("symbol").min(10),
        Column::left("timeframe"),
        Column::left("feed").min(6),
        Column::left("from").min(20),
        Column::left("to"),
        Column::left(""),
    ]);
    for (key, plan) in &dry_run.series {
        let asked = plan.asks.iter().map(|a| (a.range, ""));
        let closed = plan.closed.iter().map(|g| (*g, "no session: not asked"));
        let mut lines: Vec<(Interval, &str)> = asked.chain(closed).collect();
        lines.sort_by_key(|(range, _)| range.start);
        for (range, note) in lines {
            table.push(vec![
                key.symbol.to_string(),
                key.timeframe.to_string(),
                key.feed.to_string(),
                format_instant(range.start),
                format_instant(range.end),
                note.to_owned(),
            ]);
        }
    }
    table.write(out)?;
    writeln!(
        out,
        "{} of {} series need data ({} more miss only time without a market session); {} requests planned, about {} with pages",
        dry_run.needing(),
        dry_run.series.len(),
        dry_run.closed_only(),
        dry_run.requests.len(),
        dry_run.estimated_pages()
    )?;
    Ok(())
}

/// A finished update, with what the command measured around it.
struct Ran<'a> {
    outcome: &'a UpdateOutcome,
    bad_lines: &'a [BadLine],
    requests: u64,
    elapsed: Duration,
    conflicts: Option<u64>,
    /// With `--universe`: where the assets list came from and what was taken.
    assets: Option<serde_json::Value>,
}

impl Ran<'_> {
    /// `--report json`: totals, one entry per series (bad watchlist lines first) and the
    /// corporate-actions refresh.
    fn report_json(&self) -> serde_json::Value {
        let totals = self.outcome.totals();
        let bad_entries = self.bad_lines.iter().map(|line| {
            json!({
                "symbol": line.text,
                "asset_class": null,
                "feed": null,
                "timeframe": null,
                "status": "failed",
                "bars_added": 0,
                "error": format!("{}: {}", line.location, line.error),
            })
        });
        let entries: Vec<_> = bad_entries
            .chain(self.outcome.series.iter().map(|o| {
                let (status, added, error) = match &o.status {
                    SeriesStatus::Updated(s) => ("updated", s.bars_added, None),
                    SeriesStatus::Interrupted(s) => ("interrupted", s.bars_added, None),
                    SeriesStatus::Unchanged => ("unchanged", 0, None),
                    SeriesStatus::Failed(e) => ("failed", 0, Some(error_chain(e))),
                };
                json!({
                    "symbol": o.key.symbol.as_str(),
                    "asset_class": o.key.asset_class().as_str(),
                    "feed": o.key.feed.as_str(),
                    "timeframe": o.key.timeframe.to_string(),
                    "status": status,
                    "bars_added": added,
                    "error": error,
                })
            }))
            .collect();
        let ledgers = self
            .outcome
            .ledgers
            .as_ref()
            .ok()
            .cloned()
            .unwrap_or_default();
        let ledger_error = self.outcome.ledgers.as_ref().err().map(|e| error_chain(e));
        let mut report = json!({
            "series_updated": totals.updated,
            "series_unchanged": totals.unchanged,
            "series_failed": totals.failed + self.bad_lines.len(),
            "bars_added": totals.bars_added,
            "requests": self.requests,
            "conflicts": self.conflicts.unwrap_or(0),
            "elapsed_seconds": (self.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            "series": entries,
            "corporate_actions": {
                "symbols_checked": ledgers.checked.len(),
                "requests": ledgers.requests,
                "actions_added": ledgers.actions_added,
                "error": ledger_error,
                "series_closed": self.outcome.endings.closed.iter().map(|(key, c)| json!({
                    "symbol": key.symbol.as_str(),
                    "feed": key.feed.as_str(),
                    "timeframe": key.timeframe.to_string(),
                    "reason": c.reason.as_str(),
                    "date": c.date.to_string(),
                    "successor": c.successor.as_ref().map(|s| s.as_str()),
                })).collect::<Vec<_>>(),
                "series_restated": self.outcome.endings.restated.iter().map(|(key, r)| json!({
                    "symbol": key.symbol.as_str(),
                    "feed": key.feed.as_str(),
                    "timeframe": key.timeframe.to_string(),
                    "renamed_from": r.old_symbol.as_str(),
                    "date": r.date.to_string(),
                    "restated": r.restated.as_ref().map(|i| instants(std::slice::from_ref(i))[0].clone()),
                })).collect::<Vec<_>>(),
            },
        });
        if let Some(assets) = &self.assets {
            report["assets"] = assets.clone();
        }
        report
    }

    /// The one line on stderr that says what the night did.
    fn summary(&self, interrupted: bool) -> String {
        let totals = self.outcome.totals();
        let failed = totals.failed + self.bad_lines.len();
        let raced = match self.conflicts {
            Some(conflicts) => format!("; {conflicts} conditional-put conflicts retried"),
            None => String::new(),
        };
        let checked = match &self.outcome.ledgers {
            Err(_) => "corporate actions failed".to_owned(),
            Ok(ledgers) => format!(
                "corporate actions of {} symbols checked in {} requests, {} new",
                ledgers.checked.len(),
                ledgers.requests,
                ledgers.actions_added
            ),
        };
        let stopped = if interrupted {
            format!(
                "; interrupted: {} series stopped part-way, everything answered before is committed (the next run asks only for the rest)",
                totals.interrupted
            )
        } else {
            String::new()
        };
        format!(
            "{} series updated, {} unchanged, {failed} failed; {} bars added; {} requests in {:.1} s; {checked}{raced}{stopped}",
            totals.updated,
            totals.unchanged,
            HumanCount(totals.bars_added),
            self.requests,
            self.elapsed.as_secs_f64()
        )
    }
}

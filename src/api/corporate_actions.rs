//! The corporate-actions endpoint, `GET /v1/corporate-actions`: the price-moving actions
//! (splits, dividends, spin-offs) of many symbols processed within a span of dates, in one
//! request per page (`limit=1000`, the maximum), every page followed. Retries, pacing and error
//! handling are the client's, shared with the bars endpoints.

use chrono::NaiveDate;

use super::client::Client;
use super::error::Error;
use super::models::{CorporateActionsPage, SkippedRecord};
use crate::events::{Event, RequestKind};
use crate::market::{ActionKind, CorporateAction, Symbol, shown_input};

/// Alpaca's largest page of corporate actions (the default is 100); it counts actions of all
/// symbols together.
const ACTIONS_PAGE_LIMIT: u32 = 1_000;

/// Skipped records warned about one by one per page; the rest are counted in one line.
const MAX_SKIP_WARNINGS: usize = 10;

/// The actions of `symbols` with a process date in `start..=end` (Alpaca filters on the
/// process date, not the ex-date).
#[derive(Debug, Clone)]
pub struct CorporateActionsRequest {
    pub symbols: Vec<Symbol>,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

#[derive(Debug, Clone, Default)]
pub struct CorporateActionsAnswer {
    /// Every action naming one of the requested symbols, in Alpaca's order.
    pub actions: Vec<CorporateAction>,
    pub pages: u32,
}

impl Client {
    /// One warning per skipped record that concerns a requested symbol (or does not say
    /// which it concerns), at most [`MAX_SKIP_WARNINGS`], then one line counting the rest.
    fn report_skipped(&self, skipped: &[SkippedRecord], symbols: &[&str]) {
        let relevant: Vec<&SkippedRecord> = skipped
            .iter()
            .filter(|r| {
                r.symbol
                    .as_deref()
                    .is_none_or(|s| symbols.contains(&s.to_ascii_uppercase().as_str()))
            })
            .collect();
        for record in relevant.iter().take(MAX_SKIP_WARNINGS) {
            self.observer.event(Event::OddAnswer {
                message: &format!(
                    "skipped a corporate action in `{}` {}: {} (adjustments of that symbol may miss it)",
                    shown_input(&record.group),
                    shown_input(&record.name),
                    shown_input(&record.reason)
                ),
            });
        }
        if relevant.len() > MAX_SKIP_WARNINGS {
            self.observer.event(Event::OddAnswer {
                message: &format!(
                    "skipped {} more corporate actions that could not be read",
                    relevant.len() - MAX_SKIP_WARNINGS
                ),
            });
        }
    }

    /// Fetches every page of `request`. Records that cannot be read are skipped with a
    /// warning; an answer that is not a corporate-actions page at all fails, and is not
    /// retried.
    pub async fn get_corporate_actions(
        &self,
        request: &CorporateActionsRequest,
    ) -> Result<CorporateActionsAnswer, Error> {
        self.require_credentials()?;
        let symbols: Vec<&str> = request.symbols.iter().map(Symbol::as_str).collect();
        let mut answer = CorporateActionsAnswer::default();
        let mut token: Option<String> = None;
        loop {
            let mut url = self.url("v1/corporate-actions")?;
            {
                let mut query = url.query_pairs_mut();
                query
                    .append_pair("symbols", &symbols.join(","))
                    .append_pair("types", &ActionKind::TYPES.join(","))
                    .append_pair("start", &request.start.to_string())
                    .append_pair("end", &request.end.to_string())
                    .append_pair("limit", &ACTIONS_PAGE_LIMIT.to_string())
                    .append_pair("sort", "asc");
                if let Some(token) = &token {
                    query.append_pair("page_token", token);
                }
            }
            let page: CorporateActionsPage = self
                .send_with_retries(&url, RequestKind::CorporateActions)
                .await?;
            answer.pages += 1;
            let next = page.next_page_token.clone().filter(|t| !t.is_empty());
            let decoded = page.into_actions();
            self.report_skipped(&decoded.skipped, &symbols);
            answer.actions.extend(
                decoded
                    .actions
                    .into_iter()
                    .filter(|a| a.symbols().iter().any(|s| symbols.contains(s))),
            );
            match next {
                Some(next) => token = Some(next),
                None => return Ok(answer),
            }
        }
    }
}

//! The corporate-actions endpoint, `GET /v1/corporate-actions`: the price-moving actions
//! (splits, dividends, spin-offs) of many symbols processed within a span of dates, in one
//! request per page (`limit=1000`, the maximum), every page followed. Retries, pacing and error
//! handling are the client's, shared with the bars endpoints.

use chrono::NaiveDate;

use super::models::CorporateActionsPage;
use super::{Client, Error};
use crate::events::RequestKind;
use crate::market::{ActionKind, CorporateAction, Symbol};

/// Alpaca's largest page of corporate actions (the default is 100); it counts actions of all
/// symbols together.
const ACTIONS_PAGE_LIMIT: u32 = 1_000;

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
    /// Fetches every page of `request`.
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
            let actions = page.into_actions().map_err(Error::Decode)?;
            answer.actions.extend(
                actions
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

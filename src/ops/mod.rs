//! The operations behind the subcommands, one file each, plus what they share: the
//! gap-filling planner and engine, the refreshing of corporate-actions ledgers, what those
//! ledgers say of tickers that ended or changed hands (`symbol_endings`), the watchlist file,
//! the assets list of `update --universe`, and reading many series at once.
//! Inputs are typed options; outputs are reports (data) or a stream of bars, which `cli`
//! renders. Every decision of a run (what to read, which ledgers, how many threads) is made
//! here. Nothing here parses argv or prints.

pub mod concurrent_reads;
pub mod corporate_actions;
pub mod derive;
mod error;
pub mod fetch;
pub mod gap_fill;
pub mod inspect;
pub mod prune;
pub mod selection;
pub mod symbol_endings;
pub mod universe;
pub mod update;
pub mod watchlist;

pub use error::Error;

//! The operations behind the subcommands, one file each, plus what they share: the
//! gap-filling engine, the refreshing of corporate-actions ledgers, the assets list of
//! `update --universe`, and reading many series at once. Inputs are typed
//! options; outputs are data. Nothing here parses argv or prints.

pub mod concurrent_reads;
pub mod corporate_actions;
mod error;
pub mod fetch;
pub mod gap_fill;
pub mod inspect;
pub mod prune;
pub mod selection;
pub mod universe;
pub mod update;
pub mod watchlist;

pub use error::Error;

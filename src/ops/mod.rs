//! The operations behind the subcommands, one file each, plus what they share: the
//! gap-filling engine and the refreshing of corporate-actions ledgers. Inputs are typed
//! options; outputs are data. Nothing here parses argv or prints.

pub mod corporate_actions;
mod error;
pub mod fetch;
pub mod gap_fill;
pub mod inspect;
pub mod prune;
pub mod selection;
pub mod update;

pub use error::Error;

//! The operations behind the subcommands, one file each, plus the gap-filling engine they
//! share. Inputs are typed options; outputs are data. Nothing here parses argv or prints.

mod error;
pub mod fetch;
pub mod gap_fill;
pub mod inspect;
pub mod prune;
pub mod selection;
pub mod update;

pub use error::Error;

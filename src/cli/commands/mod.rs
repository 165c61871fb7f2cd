//! One file per subcommand: its clap arguments and a `run` that translates them into an
//! operation's options, calls the operation and presents the result.

pub mod fetch;
pub mod inspect;
pub mod inspect_calendar;
pub mod prune;
pub mod update;

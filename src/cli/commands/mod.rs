//! One file per subcommand: a `run` that translates its arguments (from [`super::args`]) into
//! an operation's options, calls the operation and presents the result. Commands import the
//! layers below them (args, failures, printers, progress), never one another.

pub mod fetch;
pub mod inspect;
pub mod inspect_assets;
pub mod inspect_calendar;
pub mod prune;
pub mod update;
pub mod update_universe;

//! `barkeep generate`'s options (a hidden subcommand for packagers); [`crate::cli`] runs it.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueHint};
use clap_complete::Shell;

/// Write shell completions or man pages (for packagers; the output is committed)
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    pub what: GenerateCommand,
}

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Print SHELL's completion script, or write the scripts into --dir
    Completions {
        /// The shell [default with --dir: every shell]
        #[arg(value_enum, required_unless_present = "dir")]
        shell: Option<Shell>,
        /// Write into DIR under each shell's usual file name (barkeep.bash, _barkeep, ...)
        #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
        dir: Option<PathBuf>,
    },
    /// Write barkeep.1 and one page per subcommand (barkeep-fetch.1, ...) into DIR
    Man {
        /// The directory, created when missing; existing pages are replaced
        #[arg(value_name = "DIR", value_hint = ValueHint::DirPath)]
        dir: PathBuf,
    },
}

//! The single gate for everything barkeep shows on stderr: notes and warnings (hidden by
//! `-q`), the request log (`-v`), errors (always), colour (`--color`, `NO_COLOR`, `TERM=dumb`)
//! and whether progress bars may draw (stderr is a terminal, not quiet, not verbose). Data
//! never goes through here: commands write it to stdout or a file themselves.

#![allow(clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use indicatif::ProgressDrawTarget;

use super::args::values::ColorChoice;
use super::environment;

#[derive(Debug, Clone)]
pub struct Printer {
    quiet: bool,
    verbose: bool,
    /// `-vv`: response headers too.
    very_verbose: bool,
    color: bool,
    progress: bool,
}

impl Printer {
    /// `verbose` counts `-v`s; `no_progress` is `--no-progress` (or `BARKEEP_NO_PROGRESS`).
    pub fn new(color: ColorChoice, quiet: bool, verbose: u8, no_progress: bool) -> Self {
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os(environment::NO_COLOR).is_some_and(|v| !v.is_empty());
        let dumb = std::env::var(environment::TERM).is_ok_and(|t| t == "dumb");
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && !no_color && !dumb,
        };
        if !color {
            console::set_colors_enabled_stderr(false);
        }
        let progress = stderr_tty && !quiet && verbose == 0 && !no_progress;
        Self {
            quiet,
            verbose: verbose > 0,
            very_verbose: verbose > 1,
            color,
            progress,
        }
    }

    /// A printer for errors only, before the arguments are known.
    pub fn fallback() -> Self {
        Self {
            quiet: false,
            verbose: false,
            very_verbose: false,
            color: false,
            progress: false,
        }
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose
    }

    /// `-vv`: log response headers too.
    pub fn is_very_verbose(&self) -> bool {
        self.very_verbose
    }

    pub fn progress_target(&self) -> ProgressDrawTarget {
        if self.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn emit(&self, line: &str) {
        // Writing to a closed stderr must not panic; there is nobody left to tell.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    /// Informational status (summaries, notes); hidden by `-q`.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.emit(message);
        }
    }

    pub fn warning(&self, message: &str) {
        if !self.quiet {
            self.emit(&format!("{} {message}", self.paint("warning:", "1;33")));
        }
    }

    /// Only with `-v`.
    pub fn log(&self, message: &str) {
        if self.verbose {
            self.emit(message);
        }
    }

    /// Errors survive `-q`.
    pub fn error(&self, message: &str) {
        self.emit(&format!("{} {message}", self.paint("error:", "1;31")));
    }

    pub fn caused_by(&self, message: &str) {
        self.emit(&format!("  {} {message}", self.paint("caused by:", "1")));
    }

    pub fn hint(&self, message: &str) {
        self.emit(&format!("{} {message}", self.paint("hint:", "1;36")));
    }
}

//! `barkeep generate`: the hidden subcommand that writes shell completions
//! (`generate completions`) and man pages (`generate man`) from the clap definitions in
//! `args`, so `--help`, Tab completion and `man barkeep-fetch` never disagree.
//! It needs neither the cache directory nor the network, and `cli::run` calls it before
//! either is set up. Its output is committed in `completions/` and `man/`, and
//! `tests/integration/generated_files.rs` fails when that is stale.
//!
//! Every subcommand that is not hidden gets a page, `barkeep-<name>.1`, beside `barkeep.1`.
//! A page is clap_mangen's sections (NAME to SUBCOMMANDS) followed by [`SECTIONS`]:
//! EXAMPLES, EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO. A new section is one more entry
//! there; a new environment variable is an `env` attribute on its option, or one more entry
//! in `environment::VARIABLES`.

use std::io::{self, Write};

use clap::{Command, CommandFactory, ValueEnum};
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use super::UsageError;
use super::args::Cli;
use super::args::generate::{GenerateArgs, GenerateCommand};
use super::environment;
use super::exit_status::ExitStatus;
use crate::cache::location::DEFAULT_ROOTS;

pub(super) fn run(args: GenerateArgs) -> anyhow::Result<()> {
    match args.what {
        GenerateCommand::Completions {
            shell: Some(shell),
            dir: None,
        } => {
            let mut out = io::stdout().lock();
            out.write_all(&completion(shell))?;
            out.flush()?;
        }
        GenerateCommand::Completions {
            shell,
            dir: Some(dir),
        } => {
            fs_err::create_dir_all(&dir)?;
            let shells = shell.map_or_else(|| Shell::value_variants().to_vec(), |s| vec![s]);
            for shell in shells {
                fs_err::write(dir.join(shell.file_name(&bin_name())), completion(shell))?;
            }
        }
        GenerateCommand::Completions {
            shell: None,
            dir: None,
        } => return Err(UsageError("give a SHELL or --dir DIR".to_owned()).into()),
        GenerateCommand::Man { dir } => {
            fs_err::create_dir_all(&dir)?;
            for (file_name, page) in man_pages()? {
                fs_err::write(dir.join(file_name), page)?;
            }
        }
    }
    Ok(())
}

fn bin_name() -> String {
    Cli::command().get_name().to_owned()
}

/// The completion script for `shell`.
fn completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), bin_name(), &mut script);
    script
}

/// Every man page as (file name, roff source): the top page, then one per visible
/// subcommand, depth first.
pub(super) fn man_pages() -> io::Result<Vec<(String, Vec<u8>)>> {
    // clap's `help` subcommand would otherwise get a page of its own.
    let mut root = Cli::command().disable_help_subcommand(true);
    root.build();
    let mut pages = Vec::new();
    add_pages(&root, &root, &mut pages)?;
    Ok(pages)
}

fn add_pages(
    root: &Command,
    command: &Command,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> io::Result<()> {
    let page = Page { root, command };
    // Every page names the release it documents, not just the top one.
    let version = root.get_version().unwrap_or_default();
    let man = Man::new(command.clone()).source(format!("{} {version}", root.get_name()));
    pages.push((man.get_filename(), page.render(&man)?));
    for sub in visible_subcommands(command) {
        add_pages(root, sub, pages)?;
    }
    Ok(())
}

fn visible_subcommands(command: &Command) -> impl Iterator<Item = &Command> {
    command.get_subcommands().filter(|c| !c.is_hide_set())
}

/// One command's man page.
struct Page<'a> {
    root: &'a Command,
    command: &'a Command,
}

/// A section barkeep adds after clap_mangen's: its heading and what goes under it (nothing
/// means the page has no such section).
struct Section {
    heading: &'static str,
    body: fn(&Page<'_>) -> Option<Roff>,
}

/// The sections after OPTIONS and SUBCOMMANDS, in page order.
const SECTIONS: &[Section] = &[
    Section {
        heading: "EXAMPLES",
        body: |page| page.examples(),
    },
    Section {
        heading: "EXIT STATUS",
        body: |page| page.exit_status(),
    },
    Section {
        heading: "ENVIRONMENT",
        body: |page| page.environment(),
    },
    Section {
        heading: "FILES",
        body: |page| page.files(),
    },
    Section {
        heading: "SEE ALSO",
        body: |page| page.see_also(),
    },
];

impl Page<'_> {
    fn is_top(&self) -> bool {
        std::ptr::eq(self.root, self.command)
    }

    fn render(&self, man: &Man) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        if self.command.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut out)?;
        }
        if visible_subcommands(self.command).next().is_some() {
            man.render_subcommands_section(&mut out)?;
        }
        for section in SECTIONS {
            if let Some(body) = (section.body)(self) {
                let mut roff = Roff::new();
                roff.control("SH", [section.heading]);
                roff.to_writer(&mut out)?;
                body.to_writer(&mut out)?;
            }
        }
        if self.command.get_version().is_some() {
            man.render_version_section(&mut out)?;
        }
        Ok(out)
    }

    /// The `Examples:` block that ends the command's `--help`, verbatim but for the heading
    /// and two spaces of indentation.
    fn examples(&self) -> Option<Roff> {
        let text = self.command.get_after_help()?.to_string();
        let text = text.strip_prefix("Examples:\n").unwrap_or(&text);
        let mut roff = Roff::new();
        roff.control("nf", []);
        for line in text.lines() {
            roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
        }
        roff.control("fi", []);
        Some(roff)
    }

    fn exit_status(&self) -> Option<Roff> {
        let mut roff = Roff::new();
        for status in ExitStatus::ALL {
            roff.control("TP", []);
            roff.text([bold(status.code().to_string())]);
            roff.text(markup(status.meaning()));
        }
        Some(roff)
    }

    /// The options' `env` variables (on the top page those of every subcommand, on a
    /// subcommand's page its own and the global ones), and `environment::VARIABLES`.
    fn environment(&self) -> Option<Roff> {
        let mut commands = vec![self.command];
        if self.is_top() {
            let mut i = 0;
            while let Some(command) = commands.get(i) {
                commands.extend(visible_subcommands(command));
                i += 1;
            }
        }
        let mut variables: Vec<(String, Vec<Inline>)> = Vec::new();
        for arg in commands.iter().flat_map(|c| c.get_arguments()) {
            let Some(name) = arg.get_env() else { continue };
            let name = name.to_string_lossy().into_owned();
            if variables.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let flag = arg
                .get_long()
                .map(|l| format!("--{l}"))
                .unwrap_or_else(|| arg.get_id().to_string());
            let mut text = vec![roman(format!("{help}; the same as ")), bold(flag)];
            if !arg.get_num_args().is_some_and(|n| n.takes_values()) {
                // Flags read their variable with clap's FalseyValueParser (tests/integration/
                // conventions.rs checks).
                text.push(roman(
                    " when set to anything but 0, false, no, off or nothing",
                ));
            } else if let Some(value) = arg.get_value_names().and_then(|v| v.first()) {
                text.extend([roman(" "), italic(value.to_string())]);
            }
            variables.push((name, text));
        }
        for variable in environment::VARIABLES {
            variables.push((variable.name.to_owned(), markup(variable.meaning)));
        }
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        let mut roff = Roff::new();
        for (name, text) in variables {
            roff.control("TP", []);
            roff.text([bold(name)]);
            roff.text(text);
        }
        Some(roff)
    }

    fn files(&self) -> Option<Roff> {
        let mut roff = Roff::new();
        roff.text(markup(
            "The cache directory, unless `--cache-dir` or `BARKEEP_CACHE_DIR` names another:",
        ));
        for (platform, root) in DEFAULT_ROOTS {
            // Wide enough for "Windows" to stay on the line of its path.
            roff.control("TP", ["10"]);
            roff.text([italic(platform)]);
            roff.text([roman(root)]);
        }
        roff.control("PP", []);
        roff.text(markup(
            "It holds one Parquet file per series, `<asset class>/<feed>/<timeframe>/<symbol>.parquet` \
             (e.g. `stocks/sip/1Day/AAPL.parquet`, `crypto/us/1Hour/BTC%2FUSD.parquet`), and beside \
             each a lock file `.<file>.lock` that serialises writers.",
        ));
        Some(roff)
    }

    fn see_also(&self) -> Option<Roff> {
        let name = self.root.get_name();
        let pages: Vec<String> = if self.is_top() {
            visible_subcommands(self.root)
                .map(|sub| format!("{name}-{}(1)", sub.get_name()))
                .collect()
        } else {
            vec![format!("{name}(1)")]
        };
        let mut roff = Roff::new();
        roff.text([roman(pages.join(", "))]);
        Some(roff)
    }
}

/// `text` with its `backticked` parts in bold.
fn markup(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = include_str!("../../README.md");

    #[test]
    fn readme_exit_status_table_matches() {
        for status in ExitStatus::ALL {
            let row = format!("| {} | {} |", status.code(), status.meaning());
            let found = README
                .lines()
                .any(|line| line.replace(r"\|", "|").trim() == row);
            assert!(found, "README.md has no exit-status row `{row}`");
        }
    }

    #[test]
    fn readme_lists_every_environment_variable() {
        let command = Cli::command();
        let mut names: Vec<String> = environment::VARIABLES
            .iter()
            .map(|v| v.name.to_owned())
            .collect();
        let mut commands = vec![&command];
        while let Some(c) = commands.pop() {
            commands.extend(c.get_subcommands());
            names.extend(
                c.get_arguments()
                    .filter_map(|a| a.get_env())
                    .map(|e| e.to_string_lossy().into_owned()),
            );
        }
        for name in names {
            assert!(
                README.contains(&format!("`{name}`")),
                "README.md's configuration section does not mention `{name}`"
            );
        }
    }

    #[test]
    fn every_command_ends_its_help_with_examples() {
        let mut commands = vec![Cli::command()];
        while let Some(command) = commands.pop() {
            if command.is_hide_set() {
                continue;
            }
            let examples = command.get_after_help().map(ToString::to_string);
            assert!(
                examples.is_some_and(|e| e.starts_with("Examples:\n")),
                "`{}` has no after_help starting with `Examples:`",
                command.get_name()
            );
            commands.extend(command.get_subcommands().cloned());
        }
    }

    #[test]
    fn markup_bolds_backticked_parts() {
        let rendered = {
            let mut roff = Roff::new();
            roff.text(markup("a `b` c"));
            roff.to_roff()
        };
        assert_eq!(rendered, "a \\fBb\\fR c\n");
    }

    #[test]
    fn pages_have_the_extra_sections() {
        let pages = man_pages().unwrap();
        assert_eq!(pages[0].0, "barkeep.1");
        assert!(pages.iter().any(|(name, _)| name == "barkeep-fetch.1"));
        assert!(!pages.iter().any(|(name, _)| name.contains("generate")));
        for (name, page) in &pages {
            let page = String::from_utf8_lossy(page);
            for section in SECTIONS {
                assert!(
                    page.contains(&format!(".SH \"{}\"", section.heading))
                        || page.contains(&format!(".SH {}", section.heading)),
                    "{name} lacks {}",
                    section.heading
                );
            }
            for variable in environment::VARIABLES {
                assert!(
                    page.contains(variable.name),
                    "{name} lacks {}",
                    variable.name
                );
            }
        }
    }
}

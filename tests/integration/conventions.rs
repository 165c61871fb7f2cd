//! Conventions every subcommand keeps: help and version on stdout with status 0, usage
//! errors with status 2, no colour or progress output when stderr is not a terminal.

use std::process::Command;

use barkeep::cli::args::Cli;
use clap::CommandFactory;

use crate::support::{BIN, TestEnv, run};

#[test]
fn help_lists_only_working_subcommands_and_examples() {
    let env = TestEnv::new();
    env.run("--help")
        .success()
        .assert_stdout_contains("fetch")
        .assert_stdout_contains("Examples:")
        .assert_stderr_empty();
    let fetch = env.run("fetch --help").success();
    let flags = "--timeframe --start --end --feed --format --output --offline --cache-dir \
                 --quiet --verbose --color";
    for flag in flags.split_whitespace() {
        fetch.assert_stdout_contains(flag);
    }
    let version = env.run("--version").success();
    let expected = format!("barkeep {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(version.stdout.trim(), expected);
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    env.run("fetch").failure(2);
    env.run("no-such-command").failure(2);
    env.run("fetch AAPL --no-such-flag").failure(2);
    env.run("-q -v fetch AAPL").failure(2);
}

#[test]
fn piped_stderr_gets_no_escape_codes_or_progress() {
    let env = TestEnv::new();
    // Nothing to say on success.
    env.run("fetch AAPL MSFT --start 2024-01-01 --end 2024-02-01")
        .success()
        .assert_stderr_empty();
    env.run("fetch AAPL -t 2Day")
        .failure(2)
        .assert_stderr_lacks("\x1b");
    env.run("--color always fetch AAPL -t 2Day")
        .failure(2)
        .assert_stderr_contains("error");
}

/// The man pages say an option's flag variable (`BARKEEP_NO_PROGRESS`) is on unless it is 0,
/// false, no, off or empty; clap's default parser for flags takes only true and false.
#[test]
fn flag_variables_take_1_and_0_as_well_as_true_and_false() {
    let mut cli = Cli::command();
    cli.build();
    let variables: Vec<String> = cli
        .get_arguments()
        .filter(|a| !a.get_num_args().is_some_and(|n| n.takes_values()))
        .filter_map(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    assert!(variables.contains(&"BARKEEP_NO_PROGRESS".to_owned()));
    for variable in &variables {
        for value in ["1", "0", "true", "no", ""] {
            let out = run(Command::new(BIN)
                .args(["generate", "completions", "bash"])
                .env_clear()
                .env(variable, value));
            assert_eq!(out.code, 0, "{variable}={value:?}: {}", out.stderr);
        }
    }
}

//! The command line: global options and the subcommand list, and (one file each) every
//! subcommand's options. These doc comments are the one source of `-h`,
//! `--help`, the man pages and the shell completions: the first line of a doc comment is the
//! `-h` help, the whole comment the `--help` and man page text.
//!
//! The layering rule: the clap types here depend on nothing in `cli/commands` (nor on the
//! printers or `generate`). Value types that several options share live in [`values`], below
//! both the clap structs and the commands; a command imports its `*Args` from here, never the
//! other way round, so the imports cannot form a circle.

pub mod fetch;
pub mod generate;
pub mod inspect;
pub mod prune;
pub mod update;
pub mod values;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::FalseyValueParser;
use clap::{Args, FromArgMatches, Parser, Subcommand, ValueHint};

use crate::cache::location::DEFAULT_ROOTS;
use fetch::FetchArgs;
use generate::GenerateArgs;
use inspect::InspectArgs;
use prune::PruneArgs;
use update::UpdateArgs;
pub use values::ColorChoice;

/// `barkeep --help` ends with these. The man pages turn them into an EXAMPLES section, so
/// every command's `after_help` starts with `Examples:`.
const EXAMPLES: &str = "\
Examples:
  Ad hoc (crypto needs no API key):
    barkeep fetch BTC/USD -t 1Hour --start 7d
    barkeep fetch AAPL MSFT -t 1Day --start 2020-01-01 --end 2024-12-31 > bars.csv
  Cron (quiet unless something fails, so cron mails only errors):
    30 22 * * 1-5  barkeep -q fetch AAPL MSFT SPY -t 1Day --start 30d -o \"$HOME/data/daily.csv\"
  Pipelines (stdout carries only data):
    barkeep fetch SPY -t 1Min --start 2024-06-03 --end 2024-06-03 --format ndjson | jq .close
    barkeep fetch AAPL --start 5y | duckdb -c \"SELECT max(high) FROM read_csv('/dev/stdin')\"
";

/// Keeps historical market-data bars from Alpaca in a local Parquet cache and serves them.
///
/// barkeep stores one Parquet file per symbol, timeframe and feed in the cache directory,
/// remembers which time ranges Alpaca has already answered, and asks Alpaca only for what is
/// missing. Stock data needs APCA_API_KEY_ID and APCA_API_SECRET_KEY; crypto needs no key.
/// stdout carries only data; progress, notes and errors go to stderr.
#[derive(Debug, Parser)]
#[command(name = "barkeep", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses `args` (the program name first) as `Cli::try_parse_from` does, faster. clap
    /// builds the whole command tree, every option and help text of every subcommand, on
    /// each run: for a cached fetch that was a quarter of the process's page faults (issue
    /// 24). So the arguments are first parsed by a tree of the global options and the one
    /// subcommand they name; whatever that tree does not accept (help, version, any usage
    /// error, a value that only looked like a subcommand's name) is parsed again by the whole
    /// tree, so what is accepted and every message are the whole tree's.
    pub fn parse_from_args(args: Vec<OsString>) -> Result<Cli, clap::Error> {
        match Self::parse_narrow(&args) {
            Some(cli) => Ok(cli),
            None => Cli::try_parse_from(args),
        }
    }

    /// The parse by the tree of the named subcommand alone; `None` when it does not accept
    /// the arguments (or none names a subcommand).
    fn parse_narrow(args: &[OsString]) -> Option<Cli> {
        let named = args
            .iter()
            .skip(1)
            .find_map(|a| SUBCOMMANDS.iter().find(|name| a.as_os_str() == **name))?;
        let subcommand = clap::Command::new(*named);
        let subcommand = match *named {
            "fetch" => FetchArgs::augment_args(subcommand),
            "update" => UpdateArgs::augment_args(subcommand),
            "inspect" => InspectArgs::augment_args(subcommand),
            "prune" => PruneArgs::augment_args(subcommand),
            _ => GenerateArgs::augment_args(subcommand),
        };
        let root = GlobalArgs::augment_args(clap::Command::new("barkeep"))
            .subcommand_required(true)
            .subcommand(subcommand);
        let matches = root.try_get_matches_from(args).ok()?;
        Cli::from_arg_matches(&matches).ok()
    }
}

/// The subcommands' names, as [`Command`] derives them.
const SUBCOMMANDS: [&str; 5] = ["fetch", "update", "inspect", "prune", "generate"];

#[derive(Debug, Subcommand)]
pub enum Command {
    // Each subcommand's about text is the doc comment on its `*Args` struct.
    Fetch(FetchArgs),
    Update(UpdateArgs),
    Inspect(InspectArgs),
    Prune(PruneArgs),
    #[command(hide = true)]
    Generate(GenerateArgs),
}

/// Options every subcommand accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The cache directory [default: the user cache directory]
    #[arg(
        long,
        global = true,
        env = "BARKEEP_CACHE_DIR",
        value_name = "DIR",
        value_hint = ValueHint::DirPath,
        long_help = cache_dir_long_help()
    )]
    pub cache_dir: Option<PathBuf>,

    /// Print less: no progress or notes (errors still show)
    ///
    /// Made for cron and scripts: stderr stays empty unless something fails, so cron mails
    /// you only then.
    ///
    /// Example: barkeep -q fetch AAPL -t 1Day --start 30d -o daily.csv
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print a log of every request to Alpaca on stderr; repeat (-vv) for response headers
    ///
    /// One line per request with its URL, HTTP status, time taken and number of bars, plus
    /// retries, rate-limit waits and commits. `-vv` adds each response's headers (rate-limit
    /// budget, request id, ...). API keys, passwords in URLs, cookies and authorization
    /// headers are never shown. Progress bars are off in this mode.
    ///
    /// Example: barkeep -vv fetch AAPL --start 1y 2>requests.log
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use colour on stderr (NO_COLOR is honoured)
    ///
    /// `auto` colours stderr only when it is a terminal, NO_COLOR is unset or empty and TERM
    /// is not `dumb`. stdout never carries colour.
    ///
    /// Example: barkeep --color always fetch AAPL 2>&1 | less -R
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Never draw progress bars (they only ever appear when stderr is a terminal)
    ///
    /// Bars also stay off with -q or -v. Use this to keep a terminal recording or a
    /// multiplexer log clean.
    ///
    /// Example: BARKEEP_NO_PROGRESS=1 barkeep fetch AAPL --start 10y
    // Falsey, not clap's default bool parser, so the variable may be 1/0 as well as true/false.
    #[arg(long, global = true, env = "BARKEEP_NO_PROGRESS", value_parser = FalseyValueParser::new())]
    pub no_progress: bool,

    /// Alpaca's market-data base URL
    ///
    /// Only needed to reach Alpaca through a proxy, or a stand-in for tests.
    ///
    /// Example: --api-url http://127.0.0.1:8080
    // `hide_env_values`: the URL may hold a proxy's password, and help must not show it.
    #[arg(long, global = true, env = "APCA_API_DATA_URL", hide_env_values = true, value_name = "URL", default_value = "https://data.alpaca.markets", value_hint = ValueHint::Url)]
    pub api_url: String,

    /// Requests per minute at most (Alpaca's free plan allows 200)
    ///
    /// barkeep also slows down when Alpaca's x-ratelimit-* headers say so, and retries 429
    /// answers with backoff. Raise it on a paid plan, or lower it when other programs share
    /// the same key.
    ///
    /// Example: --rate-limit 1000
    #[arg(long, global = true, env = "BARKEEP_RATE_LIMIT", value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit: u32,
}

/// `--cache-dir`'s long help, with the per-platform defaults from `cache::location`.
fn cache_dir_long_help() -> String {
    let mut help = String::from(
        "The cache directory, where barkeep keeps one Parquet file per series. It is created \
         when missing. Without --cache-dir or BARKEEP_CACHE_DIR, barkeep uses the user cache \
         directory:\n",
    );
    for (platform, root) in DEFAULT_ROOTS {
        help.push_str(&format!("  {platform}: {root}\n"));
    }
    help.push_str(
        "\nA URL puts the cache in object storage, shared by every machine that uses it: \
         s3://BUCKET/PREFIX (also gs:// and az://), with credentials, region and endpoint from \
         the standard variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, \
         AWS_ENDPOINT_URL, AWS_ALLOW_HTTP).\n\nExamples: --cache-dir /srv/market-data/barkeep, \
         --cache-dir s3://my-bucket/barkeep",
    );
    help
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn the_narrow_tree_names_every_subcommand_the_whole_tree_has() {
        let whole: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        assert_eq!(whole, SUBCOMMANDS);
    }

    #[test]
    fn the_narrow_parse_equals_the_whole_trees_or_defers_to_it() {
        let accepted = [
            "barkeep fetch AAPL",
            "barkeep fetch AAPL MSFT -t 1Day --start 2024-01-01 --end 2024-06-30 --offline",
            "barkeep -q fetch BTC/USD -t 1Hour --start 7d -o out.csv --format ndjson",
            "barkeep fetch SPY -t 1Hour --session regular --adjustment split,dividend -v",
            "barkeep --cache-dir /tmp/c fetch SPY --feed iex --color never",
            "barkeep --cache-dir fetch inspect",
            "barkeep update --report json",
            "barkeep inspect AAPL --format json",
            "barkeep prune SPY --before 2020-01-01 --dry-run",
            "barkeep generate man /tmp/man",
        ];
        let mut narrow = 0;
        for line in accepted {
            let args = argv(line);
            let whole = Cli::try_parse_from(&args).map(|c| format!("{c:?}"));
            if let Some(cli) = Cli::parse_narrow(&args) {
                narrow += 1;
                assert_eq!(
                    Ok(format!("{cli:?}")),
                    whole.as_ref().map_err(|e| e.to_string()).cloned(),
                    "{line}"
                );
            }
            let parsed = Cli::parse_from_args(args).map(|c| format!("{c:?}"));
            assert_eq!(
                parsed.map_err(|e| e.to_string()),
                whole.map_err(|e| e.to_string()),
                "{line}"
            );
        }
        assert!(
            narrow >= 5,
            "the narrow tree parses the usual runs: {narrow}"
        );
        for line in [
            "barkeep",
            "barkeep --help",
            "barkeep fetch --help",
            "barkeep -V fetch",
            "barkeep fetch",
            "barkeep fetch AAPL --bogus",
            "barkeep fetch AAPL -t 7Parsecs",
            "barkeep help fetch",
            "barkeep fetchh AAPL",
            "barkeep fetch AAPL update",
        ] {
            let args = argv(line);
            assert!(
                Cli::parse_narrow(&args).is_none() || Cli::try_parse_from(&args).is_ok(),
                "{line}"
            );
            let whole = Cli::try_parse_from(&args)
                .map(|c| format!("{c:?}"))
                .map_err(|e| (e.kind(), e.to_string()));
            let parsed = Cli::parse_from_args(args)
                .map(|c| format!("{c:?}"))
                .map_err(|e| (e.kind(), e.to_string()));
            assert_eq!(parsed, whole, "{line}");
        }
    }
}

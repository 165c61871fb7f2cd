//! The value types that several options share (`--feed`, `--format`, `--report`,
//! `--color`): vocabulary below both the clap structs and the commands, so neither has to
//! import the other for them. Each variant's doc comment is its help in `--help` and the man
//! pages.

use clap::ValueEnum;

use crate::market::Feed;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeedArg {
    /// All US exchanges (the consolidated tape)
    Sip,
    /// Investors Exchange only
    Iex,
    /// Over-the-counter
    Otc,
    /// Blue Ocean ATS (overnight)
    Boats,
}

impl From<FeedArg> for Feed {
    fn from(f: FeedArg) -> Self {
        match f {
            FeedArg::Sip => Feed::Sip,
            FeedArg::Iex => Feed::Iex,
            FeedArg::Otc => Feed::Otc,
            FeedArg::Boats => Feed::Boats,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stderr is a terminal and NO_COLOR is not set
    Auto,
    /// Always colour stderr, even into a pipe or file
    Always,
    /// Never colour
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BarFormat {
    /// Comma-separated values with a header line
    Csv,
    /// One JSON object per bar, one per line
    Ndjson,
    /// One JSON array of objects
    Json,
    /// Aligned columns for people
    Table,
    /// Arrow IPC stream, for pyarrow, polars and DuckDB (binary: a pipe or -o, never a terminal)
    Arrow,
    /// One Parquet file, for pyarrow, polars, DuckDB and Spark (binary: -o FILE or a pipe)
    Parquet,
}

impl BarFormat {
    /// Arrow and Parquet: bytes for programs, which a terminal must not be sent.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::Arrow | Self::Parquet)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InspectFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Json,
}

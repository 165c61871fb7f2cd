//! barkeep's integration tests: one test binary that runs the real `barkeep` executable in a
//! temporary cache against the Alpaca emulator on 127.0.0.1, and asserts on exit statuses,
//! stdout, stderr, the files in the cache and the requests the emulator received.

mod adjustments;
mod append;
mod binary_output;
mod bucket_requests;
mod calendar;
mod conventions;
mod daily_loop;
mod derived_bars;
mod fetch;
mod generated_files;
mod hardening;
mod hostile_cache;
mod inspect;
mod interruptions;
mod output;
mod output_replace;
mod prune;
mod repeated_bars;
mod rerun;
mod shared_cache;
mod signals;
#[cfg(unix)]
mod storage_failures;
mod support;
mod ticker_endings;
mod universe;
mod update;

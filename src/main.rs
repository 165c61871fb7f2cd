//! The `barkeep` binary: everything lives in the library; see `barkeep::cli`.
//!
//! The allocator is jemalloc with one arena and freed pages returned within a second (set at
//! build time in `.cargo/config.toml`): glibc's malloc kept the freed buffers of a long
//! backfill's commits in per-thread arenas (10 symbols x 2 years of 1Min bars to CSV: 450 MB
//! of RSS for a 64 MB heap; 94 MB now).

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    barkeep::cli::main()
}

//! The `barkeep` binary: everything lives in the library; see `barkeep::cli`.
//!
//! The allocator is jemalloc with one arena and freed pages returned within a second:
//! glibc's malloc kept the freed buffers of a long backfill's commits in per-thread arenas
//! (10 symbols x 2 years of 1Min bars to CSV: 450 MB of RSS for a 64 MB heap, 232 MB with
//! jemalloc's defaults; 94 MB so). Purging at once (decay 0) kept 80 MB but made a 2.5M-bar
//! CSV export 0.25 s slower.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once at its start from this symbol (`malloc_conf`, with the
/// `_rjem_` prefix of `tikv-jemalloc-sys`), so every build of the binary has them, whoever
/// builds it. `_RJEM_MALLOC_CONF` in the environment still overrides them, for profiling.
/// jemalloc declares it `const char *`: `Option<&u8>` has that layout (null for `None`).
/// The one item that needs an unsafe attribute: the symbol name must be exact.
#[allow(unsafe_code)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: Option<&u8> = Some(&b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0"[0]);

fn main() -> std::process::ExitCode {
    barkeep::cli::main()
}

//! One link flag for the `barkeep` executable, and nothing else (no code is generated here;
//! completions and man pages come from `barkeep generate`).
//!
//! On Linux with glibc, the executable is linked with `-z pack-relative-relocs` (DT_RELR):
//! a position-independent `barkeep` carries about 59,000 relative relocations (every pointer
//! in its constant tables: clap's, arrow's, rustls'), 1.4 MB of `.rela.dyn` that the loader
//! reads and applies on every start. Packed, they take 22 KB, and `barkeep --version` takes
//! ~110 fewer page faults and about 0.5 ms less (issue 24; `cargo bench --bench startup`).
//! The address-space layout stays randomised (the executable is still PIE).
//!
//! It is sound wherever it is used: GNU ld (2.38 and later) and lld (15 and later) pack
//! only when the glibc linked against supports DT_RELR (2.36 and later; such a binary then
//! requires `GLIBC_ABI_DT_RELR` from the glibc it runs on, as any binary requires the glibc
//! version it was linked against); against an older glibc they leave the relocations as
//! they were, and older linkers ignore the option with a warning. Other targets (macOS, Windows, musl) are untouched. It is a build script
//! rather than `.cargo/config.toml` rustflags so that `cargo install` from a registry gets
//! it too, and so that it reaches only the executable's link: the dependencies' builds are
//! not invalidated by it, and tests and benches link as before.

// A build script speaks to cargo on stdout.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

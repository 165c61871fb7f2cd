//! The package's build script (`build` in Cargo.toml), not a module of the library: links
//! the `barkeep` executable as position-dependent (non-PIE) on Linux, where the toolchain's
//! default is a position-independent executable (issue 24).
//!
//! A PIE must be relocated by the dynamic loader at every start: the release binary carries
//! 58,966 relative relocations, which touch (and copy) every page of `.data.rel.ro`, about
//! 1.4 MB. Those page faults were most of what a shell loop paid per call: `barkeep
//! --version` took 3.49 ms as a PIE and 1.79 ms without (`cargo bench --bench startup`). The
//! objects stay position-independent; only the final link places the executable at a fixed
//! address, so there is nothing to relocate. Shared libraries, the heap and the stacks keep
//! their randomised addresses; only the executable's own does not (see README, "Start-up
//! cost in loops").
//!
//! Set `BARKEEP_BUILD_PIE=1` when building to keep the toolchain's PIE default.

// A build script speaks to cargo on stdout.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    println!("cargo:rerun-if-env-changed=BARKEEP_BUILD_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let keep_pie = std::env::var("BARKEEP_BUILD_PIE").is_ok_and(|v| v == "1");
    if linux && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

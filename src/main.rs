//! The `barkeep` binary: everything lives in the library; see `barkeep::cli`.

fn main() -> std::process::ExitCode {
    barkeep::cli::main()
}

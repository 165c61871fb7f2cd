//! The committed shell completions (`completions/`) and man pages (`man/`) are exactly what
//! `barkeep generate` writes today: no file missing, none different, none left over from a
//! renamed subcommand. When they are stale the failure names the one command that rewrites
//! them, which is this test in update mode.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{BIN, run};

/// The regeneration command, as README's Development section gives it.
const REGENERATE: &str =
    "BARKEEP_UPDATE_GENERATED=1 cargo test --locked --test integration generated_files";

/// The committed folders and how `barkeep generate` fills one.
const FOLDERS: [(&str, &str); 2] = [
    ("completions", "generate completions --dir"),
    ("man", "generate man"),
];

#[test]
fn committed_completions_and_man_pages_are_current() {
    let update = std::env::var_os("BARKEEP_UPDATE_GENERATED").is_some_and(|v| !v.is_empty());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = tempfile::tempdir().unwrap();
    let mut problems = Vec::new();
    for (folder, line) in FOLDERS {
        let generated = generate(line, &fresh.path().join(folder));
        let committed_dir = repo.join(folder);
        let committed = files_in(&committed_dir);
        if update {
            write_folder(&committed_dir, &committed, &generated);
            continue;
        }
        for (name, bytes) in &generated {
            match committed.get(name) {
                None => problems.push(format!("{folder}/{name} is missing")),
                Some(old) if old != bytes => problems.push(format!(
                    "{folder}/{name} differs{}",
                    first_difference(old, bytes)
                )),
                Some(_) => {}
            }
        }
        for name in committed.keys().filter(|n| !generated.contains_key(*n)) {
            problems.push(format!(
                "{folder}/{name} is not generated any more (a renamed or removed subcommand?)"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the committed completions and man pages are stale:\n  {}\nregenerate them with:\n  {REGENERATE}\nand commit the result",
        problems.join("\n  ")
    );
}

/// `generate` runs before barkeep looks at its cache or clock: no HOME, no cache directory
/// and a malformed BARKEEP_NOW must not matter.
#[test]
fn generate_needs_no_home_cache_or_clock() {
    let dir = tempfile::tempdir().unwrap();
    run(Command::new(BIN)
        .args(["generate", "man"])
        .arg(dir.path())
        .env_clear()
        .env("BARKEEP_NOW", "not a time"))
    .success();
    assert!(dir.path().join("barkeep.1").is_file());
    assert!(dir.path().join("barkeep-fetch.1").is_file());
    run(Command::new(BIN)
        .args(["generate", "completions"])
        .env_clear())
    .failure(2);
}

/// Tab completion in bash offers subcommands, flags, flag values and paths. Skipped where
/// there is no bash.
#[test]
fn bash_completes_subcommands_flags_and_values() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("skipped: no bash on this machine");
        return;
    }
    let script = run(Command::new(BIN)
        .args(["generate", "completions", "bash"])
        .env_clear());
    let script = script.success();
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("barkeep.bash");
    std::fs::write(&script_path, &script.stdout).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();

    // Calls the completion function the way bash does on Tab, with the cursor at the end of
    // `line` (its words split on spaces: a trailing space starts an empty word).
    let complete = |line: &str| -> Vec<String> {
        let quoted: Vec<String> = line.split(' ').map(|w| format!("'{w}'")).collect();
        let program = format!(
            r#"source "$1" 2>/dev/null
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
_barkeep barkeep "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}" 2>/dev/null
printf '%s\n' "${{COMPREPLY[@]}}""#,
            words = quoted.join(" ")
        );
        let out = run(Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program, "bash"])
            .arg(&script_path)
            .current_dir(dir.path())
            .env_clear())
        .success();
        out.stdout.lines().map(str::to_owned).collect()
    };

    let top = complete("barkeep ");
    for expected in ["fetch", "--cache-dir", "--quiet", "--help"] {
        let offered = top.iter().any(|w| w == expected);
        assert!(offered, "{expected} not in {top:?}");
    }
    assert_eq!(complete("barkeep fe"), ["fetch"]);
    assert_eq!(complete("barkeep fetch --o"), ["--output", "--offline"]);
    let feeds = complete("barkeep fetch --feed ");
    assert_eq!(feeds, ["sip", "iex", "otc", "boats"]);
    let files = complete("barkeep fetch -o da");
    assert!(files.iter().any(|f| f.starts_with("data")), "{files:?}");
}

/// Runs `barkeep <line> <dir>` and reads back what it wrote.
fn generate(line: &str, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let args = line.split_whitespace();
    run(Command::new(BIN).args(args).arg(dir).env_clear()).success();
    let files = files_in(dir);
    assert!(!files.is_empty(), "barkeep {line} wrote nothing");
    files
}

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Makes `dir` hold exactly `generated`, saying what it changed.
#[allow(clippy::print_stderr)]
fn write_folder(
    dir: &Path,
    committed: &BTreeMap<String, Vec<u8>>,
    generated: &BTreeMap<String, Vec<u8>>,
) {
    std::fs::create_dir_all(dir).unwrap();
    for name in committed.keys().filter(|n| !generated.contains_key(*n)) {
        std::fs::remove_file(dir.join(name)).unwrap();
        eprintln!("removed {}", dir.join(name).display());
    }
    for (name, bytes) in generated {
        if committed.get(name) != Some(bytes) {
            std::fs::write(dir.join(name), bytes).unwrap();
            eprintln!("wrote {}", dir.join(name).display());
        }
    }
}

/// `: line N is now "..."`, for the first line that changed.
fn first_difference(old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let mut old_lines = old.lines();
    for (i, line) in new.lines().enumerate() {
        if old_lines.next() != Some(line) {
            return format!(": line {} is now {line:?}", i + 1);
        }
    }
    ": it has lines the generator no longer writes".to_owned()
}

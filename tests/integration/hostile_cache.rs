//! A cache someone tampered with: a symbolic link or a directory where a series file belongs
//! (reported as not a barkeep file, never followed for writing, removed by `prune` without
//! touching a link's target), and rollback journals that cannot be applied or whose series
//! file is gone (removed with their series, swept by `prune`, named by `inspect --verify`).

#![cfg(unix)]

use std::path::{Path, PathBuf};

use barkeep::cache::journal::journal_path;

use crate::support::{Run, TestEnv};

const AAPL: &str = "stocks/sip/1Day/AAPL.parquet";
const MSFT: &str = "stocks/sip/1Day/MSFT.parquet";

fn fetch(env: &TestEnv, symbol: &str, end: &str) -> Run {
    env.run(&format!("fetch -q {symbol} --start 2024-01-01 --end {end}"))
}

fn is_there(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Moves the cached AAPL series out of the cache and puts a symbolic link to it in its place;
/// returns the target and its bytes.
fn link_aapl_elsewhere(env: &TestEnv) -> (PathBuf, Vec<u8>) {
    let link = env.series_path(AAPL);
    let target = env.dir.path().join("elsewhere").join("AAPL.parquet");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::rename(&link, &target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let bytes = std::fs::read(&target).unwrap();
    (target, bytes)
}

#[track_caller]
fn assert_not_a_barkeep_file(run: &Run, path: &Path, kind: &str) {
    let what = format!("`{}` is {kind}, not a barkeep file", path.display());
    run.assert_stdout_empty()
        .assert_stderr_contains(&what)
        .assert_stderr_contains("hint:")
        .assert_stderr_contains("barkeep prune AAPL -t 1Day");
}

#[test]
fn a_symlinked_series_file_is_refused_never_written_through_and_pruned_as_a_link() {
    let env = TestEnv::new();
    fetch(&env, "AAPL", "2024-03-31").success();
    let link = env.series_path(AAPL);
    let (target, bytes) = link_aapl_elsewhere(&env);
    env.take_bar_requests();

    // A later end would append to the file in place; an earlier start would rewrite it; the
    // cached range alone only reads it. Each is refused, and the target never changes.
    for end in ["2024-04-30", "2024-03-31"] {
        let run = fetch(&env, "AAPL", end).failure(1);
        assert_not_a_barkeep_file(&run, &link, "a symbolic link");
        assert_eq!(std::fs::read(&target).unwrap(), bytes, "target untouched");
    }
    let run = env.run("fetch -q AAPL --start 2023-12-01").failure(1);
    assert_not_a_barkeep_file(&run, &link, "a symbolic link");
    assert_eq!(std::fs::read(&target).unwrap(), bytes, "target untouched");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // The listing shows it; --verify reports it.
    env.run("inspect --format csv")
        .success()
        .assert_stdout_contains("AAPL,")
        .assert_stderr_contains("is a symbolic link, not a barkeep file");
    env.run("inspect --verify")
        .failure(1)
        .assert_stderr_contains(&link.display().to_string())
        .assert_stderr_contains("a symbolic link, not a barkeep file");

    // `prune SYMBOL -t TF` removes the link and leaves its target.
    env.run("prune AAPL -t 1Day")
        .success()
        .assert_stdout_contains("removed")
        .assert_stdout_contains("AAPL 1Day");
    assert!(!is_there(&link), "the link is gone");
    assert_eq!(std::fs::read(&target).unwrap(), bytes, "its target stays");

    // So does `prune --all --yes`.
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    env.run("prune --all --yes")
        .success()
        .assert_stdout_contains("AAPL 1Day");
    assert!(!is_there(&link));
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
    env.assert_no_files();

    // And the series can be fetched again, into a regular file.
    fetch(&env, "AAPL", "2024-03-31").success();
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read(&target).unwrap(), bytes);
}

#[test]
fn a_dangling_symlink_at_a_series_path_is_refused_and_never_created_through() {
    let env = TestEnv::new();
    let link = env.series_path(AAPL);
    let target = env.dir.path().join("nowhere.parquet");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let run = fetch(&env, "AAPL", "2024-03-31").failure(1);
    assert_not_a_barkeep_file(&run, &link, "a symbolic link");
    assert!(!target.exists(), "nothing was created through the link");
    env.run("prune AAPL -t 1Day").success();
    assert!(!is_there(&link));
}

#[test]
fn a_directory_where_a_series_file_belongs_is_reported_and_pruned() {
    let env = TestEnv::new();
    let dir = env.series_path(AAPL);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("note.txt"), b"not a series").unwrap();

    let run = fetch(&env, "AAPL", "2024-03-31").failure(1);
    assert_not_a_barkeep_file(&run, &dir, "a directory");
    env.run("inspect --verify")
        .failure(1)
        .assert_stderr_contains(&dir.display().to_string())
        .assert_stderr_contains("a directory, not a barkeep file");

    env.run("prune AAPL -t 1Day")
        .success()
        .assert_stdout_contains("AAPL 1Day");
    assert!(!is_there(&dir));
    fetch(&env, "AAPL", "2024-03-31").success();
    env.run("inspect --verify").success();
}

#[test]
fn a_journal_with_a_bad_checksum_goes_with_its_series_and_the_series_is_fetched_again() {
    let env = TestEnv::new();
    fetch(&env, "AAPL", "2024-03-31").success();
    let path = env.series_path(AAPL);
    let journal = journal_path(&path);
    std::fs::write(&journal, b"barkeep-journal1 and then garbage").unwrap();

    fetch(&env, "AAPL", "2024-03-31")
        .failure(1)
        .assert_stderr_contains("checksum");

    env.run("prune AAPL -t 1Day").success();
    assert!(!is_there(&path));
    assert!(!is_there(&journal), "the journal goes with its series");
    env.assert_no_files();

    env.take_bar_requests();
    fetch(&env, "AAPL", "2024-03-31").success();
    assert_eq!(env.take_bar_requests().len(), 1, "fetched again");
    assert!(!is_there(&journal));
    env.run("inspect --verify").success();
}

#[test]
fn removing_a_series_removes_its_temp_files_too() {
    let env = TestEnv::new();
    fetch(&env, "AAPL", "2024-03-31").success();
    let path = env.series_path(AAPL);
    let dir = path.parent().unwrap();
    let temps = [
        dir.join(".AAPL.parquet.tmp"),
        dir.join(".AAPL.parquet.journal.tmp"),
    ];
    for temp in &temps {
        std::fs::write(temp, b"half a write").unwrap();
    }
    env.run("prune AAPL -t 1Day").success();
    for temp in &temps {
        assert!(!is_there(temp), "{}", temp.display());
    }
    env.assert_no_files();
}

/// Fetches AAPL and MSFT, then removes MSFT's file by hand and leaves a damaged journal of it.
fn orphan_msft_journal(env: &TestEnv) -> PathBuf {
    fetch(env, "AAPL", "2024-03-31").success();
    fetch(env, "MSFT", "2024-03-31").success();
    let msft = env.series_path(MSFT);
    std::fs::remove_file(&msft).unwrap();
    let journal = journal_path(&msft);
    std::fs::write(&journal, b"not a journal at all").unwrap();
    journal
}

#[test]
fn inspect_verify_names_a_journal_without_its_series_file() {
    let env = TestEnv::new();
    let journal = orphan_msft_journal(&env);

    env.run("inspect --verify")
        .failure(1)
        .assert_stderr_contains(&journal.display().to_string())
        .assert_stderr_contains("a rollback journal without its series file `MSFT.parquet`")
        .assert_stderr_contains("barkeep prune MSFT -t 1Day");
    // A selection leaving MSFT out does not report it.
    env.run("inspect AAPL --verify").success();
    assert!(is_there(&journal), "inspect never removes it");

    // A fetch of the series discards the journal (it guards nothing) and fetches it again.
    fetch(&env, "MSFT", "2024-03-31").success();
    assert!(!is_there(&journal));
    env.run("inspect --verify").success();
}

#[test]
fn prune_all_removes_journals_without_their_series_file() {
    let env = TestEnv::new();
    let journal = orphan_msft_journal(&env);

    let dry = env.run("prune --all --dry-run").success();
    dry.assert_stdout_contains("1 rollback journals without their series file");
    assert!(is_there(&journal), "a dry run changes nothing");

    env.run("prune --all --yes")
        .success()
        .assert_stdout_contains("1 rollback journals without their series file");
    assert!(!is_there(&journal));
    env.assert_no_files();
}

#[test]
fn prune_of_another_series_sweeps_an_orphan_journal_too() {
    let env = TestEnv::new();
    let journal = orphan_msft_journal(&env);
    env.run("prune MSFT -t 1Day")
        .success()
        .assert_stdout_contains("1 rollback journals without their series file");
    assert!(!is_there(&journal));
    let lock = env.series_path("stocks/sip/1Day/.MSFT.parquet.lock");
    assert!(!is_there(&lock), "its lock file goes too");
    assert!(env.series_path(AAPL).exists());
}

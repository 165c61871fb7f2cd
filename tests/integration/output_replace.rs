//! Issue 20's `-o` items: the replaced file keeps its mode and owner (or is refused when
//! barkeep may not keep the owner), a read-only file needs `--force`, a read-only directory
//! gets the file rewritten in place, the cache's own files are refused, and a killed run's
//! temp file is removed by the next one. Also its input items: cache locations with a
//! scheme barkeep does not support are refused (and `file://` URLs are directories), a
//! byte-order mark starts a watchlist harmlessly, control characters in environment values
//! are escaped, and help or version that cannot be written exits 1.
//!
//! Root may write anything, so the cases about what the process may not do run barkeep as
//! user `nobody` when the tests run as root (as CI does), and as the test's own user otherwise.

#![cfg(unix)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestEnv, run};

/// The uid and gid of `nobody` and `nogroup` on Debian and most Linux systems.
const NOBODY: u32 = 65534;

/// Two daily series over the first half of 2023.
const SERIES: &str = "fetch AAPL MSFT -t 1Day --start 2023-01-02 --end 2023-06-30";

/// A daily series over January 2023 that no test caches first: fetching it asks Alpaca.
const JANUARY: &str = "fetch AAPL -t 1Day --start 2023-01-02 --end 2023-01-31";

/// The binary fetching [`JANUARY`] with the variable `name` set to `value`.
fn fetch_january_with(env: &TestEnv, name: &str, value: &str) -> Command {
    let mut cmd = env.command(JANUARY);
    cmd.env(name, value);
    cmd
}

/// `fetch --offline` of [`SERIES`] into `out`.
fn fetch_to(out: &Path) -> String {
    format!("{SERIES} --offline -o '{}'", out.display())
}

/// A test env whose cache holds [`SERIES`], and their CSV.
fn cached() -> (TestEnv, String) {
    let env = TestEnv::new();
    let csv = env.run(&format!("{SERIES} --format csv")).success().stdout;
    assert!(csv.lines().count() > 200, "{csv}");
    (env, csv)
}

/// Whether the tests run as root: the owner of a file they create.
fn is_root() -> bool {
    let file = tempfile::tempfile().unwrap();
    file.metadata().unwrap().uid() == 0
}

/// `.NAME.barkeep-PID.tmp` files beside `out`.
fn temp_files(out: &Path) -> Vec<PathBuf> {
    let prefix = format!(".{}.barkeep-", out.file_name().unwrap().to_str().unwrap());
    std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with(&prefix) && name.ends_with(".tmp")
        })
        .collect()
}

fn chown_all(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path(), uid, gid);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Makes `cmd` run as an unprivileged user: `nobody` (owning all of `env`'s directory) when
/// this process is root, itself otherwise. `false` when `nobody` cannot run the binary here.
fn unprivileged(env: &TestEnv, cmd: &mut Command) -> bool {
    if !is_root() {
        return true;
    }
    let mut version = Command::new(crate::support::BIN);
    version.arg("--version").uid(NOBODY).gid(NOBODY);
    if !version.output().is_ok_and(|o| o.status.success()) {
        return false;
    }
    chown_all(env.dir.path(), NOBODY, NOBODY);
    cmd.uid(NOBODY).gid(NOBODY);
    true
}

#[test]
fn output_keeps_the_mode_and_owner_of_the_file_it_replaces() {
    let (env, csv) = cached();
    let out = env.dir.path().join("private.csv");
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o600);
    if is_root() {
        std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let before = std::fs::metadata(&out).unwrap();
    env.run(&fetch_to(&out)).success();
    let after = std::fs::metadata(&out).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    assert_eq!(after.mode() & 0o7777, 0o600, "{:o}", after.mode());
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_ne!(after.ino(), before.ino(), "not replaced atomically");
    assert!(temp_files(&out).is_empty());
}

#[test]
fn output_refuses_a_file_whose_owner_it_cannot_keep() {
    let (env, _) = cached();
    if !is_root() {
        eprintln!("not root: no file of another user to replace here, skipping");
        return;
    }
    let out = env.dir.path().join("roots.csv");
    let mut cmd = env.command(&fetch_to(&out));
    if !unprivileged(&env, &mut cmd) {
        eprintln!("user nobody cannot run the binary here: skipping");
        return;
    }
    // nobody owns the directory, so nothing but barkeep stops it from replacing root's file.
    std::fs::write(&out, "root's\n").unwrap();
    chmod(&out, 0o600);
    std::os::unix::fs::chown(&out, Some(0), Some(0)).unwrap();
    let before = env.snapshot();
    let result = run(&mut cmd).failure(2);
    result.assert_stderr_contains("keep its owner (user 0, group 0)");
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "root's\n");
    assert!(temp_files(&out).is_empty());
    assert!(env.snapshot() == before, "the cache changed");
}

#[test]
fn a_read_only_output_needs_force_and_stays_read_only() {
    let env = TestEnv::new();
    let out = env.dir.path().join("frozen.csv");
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o444);
    // Refused before any work: no request, nothing cached.
    let refused = format!("{JANUARY} -o '{}'", out.display());
    env.run(&refused)
        .failure(2)
        .assert_stderr_contains("is read-only (mode 0444)")
        .assert_stderr_contains("--force");
    assert!(env.emu.requests().is_empty());
    assert!(env.files().is_empty(), "the cache was touched");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");
    assert!(temp_files(&out).is_empty());

    env.run(&format!("{refused} --force")).success();
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("symbol,timestamp")
    );
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o444, "{:o}", meta.mode());
    assert!(temp_files(&out).is_empty());

    // --force means nothing without -o.
    env.run("fetch AAPL --offline --force").failure(2);
}

#[test]
fn output_in_a_read_only_directory_rewrites_the_file_in_place() {
    let (env, csv) = cached();
    let dir = env.dir.path().join("published");
    std::fs::create_dir(&dir).unwrap();
    let out = dir.join("bars.csv");
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o640);
    let mut cmd = env.command(&fetch_to(&out));
    if !unprivileged(&env, &mut cmd) {
        eprintln!("user nobody cannot run the binary here: skipping");
        return;
    }
    chmod(&dir, 0o555);
    let before = std::fs::metadata(&out).unwrap();
    let result = run(&mut cmd);
    chmod(&dir, 0o755);
    let result = result.success();
    result.assert_stderr_contains("rewritten in place, not atomically");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    let after = std::fs::metadata(&out).unwrap();
    assert_eq!(after.ino(), before.ino());
    assert_eq!(after.mode() & 0o7777, 0o640);
    assert!(temp_files(&out).is_empty());

    // A new file there cannot be created at all: refused before any work.
    let new = dir.join("new.csv");
    let mut cmd = env.command(&fetch_to(&new));
    assert!(unprivileged(&env, &mut cmd));
    chmod(&dir, 0o555);
    let result = run(&mut cmd);
    chmod(&dir, 0o755);
    result
        .failure(2)
        .assert_stderr_contains("its directory is not writable");
    assert!(!new.exists());
}

#[test]
fn output_into_the_cache_is_refused() {
    let (env, _) = cached();
    let before = env.snapshot();
    let series = env.series_path("stocks/sip/1Day/AAPL.parquet");
    let link = env.dir.path().join("aapl.csv");
    std::os::unix::fs::symlink(&series, &link).unwrap();
    for out in [
        series.clone(),
        env.series_path("stocks/sip/1Day/NEW.parquet"),
        env.series_path("stocks/sip/1Day/../1Day/AAPL.parquet"),
        env.series_path("stocks/sip/1Day/.AAPL.parquet.lock"),
        link,
    ] {
        env.run(&fetch_to(&out))
            .failure(2)
            .assert_stderr_contains("is inside the cache");
    }
    assert!(env.snapshot() == before, "the cache changed");
    // Beside the cache is fine.
    env.run(&fetch_to(&env.cache().join("bars.csv"))).success();
}

#[test]
fn a_killed_runs_temp_file_is_removed_by_the_next_run_with_its_mode_and_owner() {
    let (env, csv) = cached();
    let out = env.dir.path().join("bars.csv");
    std::fs::write(&out, "old\n").unwrap();
    chmod(&out, 0o600);
    let root = is_root();
    if root {
        std::os::unix::fs::chown(&out, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mut cmd = env.command(&fetch_to(&out));
    cmd.env("BARKEEP_TEST_WRITE_DELAY_US", "300000")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // The temp file of the output, not the one `-o` is checked with before the work: it
    // stays.
    let deadline = Instant::now() + Duration::from_secs(20);
    let temp = loop {
        if let [temp] = temp_files(&out).as_slice() {
            std::thread::sleep(Duration::from_millis(100));
            if temp.exists() {
                break temp.clone();
            }
        }
        assert!(Instant::now() < deadline, "the output never started");
        std::thread::sleep(Duration::from_millis(5));
    };
    // Created with the final mode and owner, before a byte of it was written.
    let meta = std::fs::metadata(&temp).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600, "{:o}", meta.mode());
    if root {
        assert_eq!((meta.uid(), meta.gid()), (NOBODY, NOBODY));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(temp.exists(), "SIGKILL leaves the temp file");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old\n");

    // The temp file of a live process (this one) stays.
    let live = out.with_file_name(format!(".bars.csv.barkeep-{}.tmp", std::process::id()));
    std::fs::write(&live, b"").unwrap();
    env.run(&fetch_to(&out)).success();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
    assert!(!temp.exists(), "the dead run's temp file is still there");
    assert_eq!(temp_files(&out), [live]);
}

#[test]
fn cache_locations_with_unsupported_schemes_are_refused() {
    let env = TestEnv::new();
    let scratch = env.dir.path().join("cwd");
    std::fs::create_dir(&scratch).unwrap();
    for location in [
        "gcs://b/x",
        "s3:/b/p",
        "S3:/b/p",
        "s3:b/p",
        "http://example.com/x",
        "ftp:x",
        "gcs://b/\u{1b}[2J",
    ] {
        let result =
            run(fetch_january_with(&env, "BARKEEP_CACHE_DIR", location).current_dir(&scratch))
                .failure(2);
        assert!(
            result
                .stderr
                .starts_with("error: --cache-dir (or BARKEEP_CACHE_DIR): "),
            "{location}: {result}"
        );
        assert_eq!(result.stderr.lines().count(), 1, "{location}: {result}");
        assert!(
            result
                .stderr
                .contains("s3://, s3a://, gs://, az://, abfs://, abfss://")
                || result.stderr.contains("://BUCKET/PREFIX"),
            "{location}: {result}"
        );
        assert!(
            !result.stderr.trim_end().chars().any(char::is_control),
            "{:?}",
            result.stderr
        );
    }
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    assert!(env.emu.requests().is_empty());

    // A file:// URL is a directory (percent-decoded), whatever the scheme's case.
    let dir = env.dir.path().join("file cache");
    let url = format!("FILE://{}", env.dir.path().join("file%20cache").display());
    run(fetch_january_with(&env, "BARKEEP_CACHE_DIR", &url).current_dir(&scratch)).success();
    assert!(dir.join("stocks/sip/1Day/AAPL.parquet").is_file());
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}

#[test]
fn a_byte_order_mark_before_the_first_symbol_is_ignored() {
    let env = TestEnv::new();
    let list = env.dir.path().join("watchlist.txt");
    std::fs::write(&list, "\u{feff}AAPL\r\nMSFT\r\n").unwrap();
    env.run(&format!(
        "update --start 2024-01-02 --symbols-file '{}'",
        list.display()
    ))
    .success()
    .assert_stderr_lacks("invalid");
    assert!(
        env.series_path("stocks/sip/1Day/AAPL.parquet").is_file(),
        "{:?}",
        env.files()
    );
}

#[test]
fn control_characters_in_environment_values_are_escaped() {
    let env = TestEnv::new();
    for (name, value) in [
        ("APCA_API_DATA_URL", "http://ex\u{1b}[31mample.com\u{7}/"),
        ("BARKEEP_NOW", "\u{1b}]0;pwned\u{7}"),
        ("BARKEEP_RETRY_BASE_MS", "5\u{1b}[2J"),
    ] {
        let result = run(&mut fetch_january_with(&env, name, value)).failure(2);
        assert!(
            !result.stderr.trim_end().chars().any(char::is_control),
            "{name}: {:?}",
            result.stderr
        );
        result.assert_stderr_contains("\\u{1b}");
    }
}

#[test]
fn help_and_version_that_cannot_be_written_exit_1() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("no /dev/full here: skipping");
        return;
    };
    let env = TestEnv::new();
    for args in ["--help", "--version", "fetch --help", "help"] {
        run(env.command(args).stdout(full.try_clone().unwrap()))
            .failure(1)
            .assert_stderr_contains("No space left on device");
    }
    // Help on a closed pipe is still no error.
    let mut child = env
        .command("--help")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
}

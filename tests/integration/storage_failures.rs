//! When the disk refuses: a write that fails (a full disk, a file size limit) leaves every
//! series file as it was, readable by any reader the moment barkeep exits, with no journal or
//! temp file behind, and says what happened with the file; permission denied is said as
//! such, never as damage; series rewritten by pyarrow, DuckDB or polars with their codecs are
//! read;
//! `prune --compact` and `inspect --verify` report what failed as failures. Unix only (file
//! size limits and modes; the full-disk test mounts a tmpfs, on Linux as root).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

use barkeep::cache::journal::journal_path;
use barkeep::cache::temp_file::temp_path;
use barkeep::parquet_files::footer::Footer;
use parquet::basic::Compression;

use crate::support::{BIN, Run, TestEnv, parse_csv, run, run_python, test_python};

const SERIES: &str = "stocks/sip/1Min/SPY.parquet";

/// `fetch SPY -t 1Min` from 2024-06-03 to `end`, as CSV.
fn spy_minutes(end: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "fetch",
        "SPY",
        "-t",
        "1Min",
        "--start",
        "2024-06-03",
        "--end",
        end,
        "--format",
        "csv",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `cmd` running the binary as [`TestEnv::command`] would (same arguments and environment).
fn like(env: &TestEnv, args: &[&str], mut cmd: Command) -> Command {
    let base = env.command(args);
    cmd.env_clear()
        .envs(base.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null());
    cmd
}

/// Runs the binary with a file size limit of `bytes` (in 512-byte blocks, as POSIX `ulimit
/// -f` counts) and SIGXFSZ ignored: a write past the limit then fails with EFBIG ("file too
/// large") in the middle of the file, as a write on a full disk fails with ENOSPC. Works
/// anywhere, as anyone.
fn run_with_file_size_limit(env: &TestEnv, bytes: u64, args: &[&str]) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "trap '' XFSZ && ulimit -f {} && exec \"$0\" \"$@\"",
            bytes / 512
        ))
        .arg(BIN)
        .args(args);
    run(&mut like(env, args, cmd))
}

/// What barkeep says when a write of `path` went past the file size limit.
fn too_large(path: &Path) -> String {
    format!(
        "file too large (a file size limit, see `ulimit -f`): could not write `{}`",
        path.display()
    )
}

/// What pyarrow reads in the file: its row count (`None` without `BARKEEP_TEST_PYTHON`).
fn pyarrow_rows(path: &Path) -> Option<usize> {
    let python = test_python()?;
    let script = "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)";
    Some(run_python(&python, script, &[path]).trim().parse().unwrap())
}

#[track_caller]
fn assert_said(stderr: &str, expected: &str) {
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in:\n{stderr}"
    );
}

#[track_caller]
fn assert_not_said(stderr: &str, unexpected: &str) {
    assert!(
        !stderr.contains(unexpected),
        "unexpected `{unexpected}` in:\n{stderr}"
    );
}

/// Fetches up to 2024-06-06 (one day more than the tests store first) and compares with one
/// fetch of it into an empty cache.
#[track_caller]
fn assert_the_next_day_reads_as_one_fetch(env: &TestEnv) {
    let args = spy_minutes("2024-06-06", &[]);
    let grown = env.run(&refs(&args)).success().stdout;
    assert_eq!(grown, TestEnv::new().run(&refs(&args)).success().stdout);
}

#[track_caller]
fn assert_untouched(path: &Path, before: &[u8], rows: usize) {
    assert!(
        std::fs::read(path).unwrap() == before,
        "`{}` is byte for byte what it was before the failed write",
        path.display()
    );
    assert!(!journal_path(path).exists(), "no journal is left");
    assert!(!temp_path(path).exists(), "no temp file is left");
    if let Some(read) = pyarrow_rows(path) {
        assert_eq!(read, rows, "pyarrow reads every old row at once");
    }
}

#[test]
fn an_append_refused_midway_is_rolled_back_before_barkeep_exits() {
    let env = TestEnv::new();
    let old = env
        .run(&refs(&spy_minutes("2024-06-05", &[])))
        .success()
        .stdout;
    let rows = parse_csv(&old).len();
    let path = env.series_path(SERIES);
    let before = std::fs::read(&path).unwrap();
    // Room for the journal (a few KiB) but not for the day's rows after the old footer.
    let limit = (before.len() as u64 / 512 + 2) * 512;

    let failed =
        run_with_file_size_limit(&env, limit, &refs(&spy_minutes("2024-06-06", &[]))).failure(1);
    assert_said(&failed.stderr, &too_large(&path));
    assert_not_said(&failed.stderr, "damaged");
    assert_untouched(&path, &before, rows);
    assert_eq!(
        env.run(&refs(&spy_minutes("2024-06-05", &["--offline"])))
            .success()
            .stdout,
        old
    );

    // With room again, the same command appends as if nothing had happened.
    assert_the_next_day_reads_as_one_fetch(&env);
}

#[test]
fn a_new_series_refused_midway_leaves_no_file_and_says_what_happened() {
    let env = TestEnv::new();
    let failed =
        run_with_file_size_limit(&env, 8 * 1024, &refs(&spy_minutes("2024-06-07", &[]))).failure(1);
    let path = env.series_path(SERIES);
    assert_said(&failed.stderr, &too_large(&path));
    assert_not_said(&failed.stderr, "not a readable parquet file");
    assert!(!path.exists());
    assert!(!temp_path(&path).exists(), "the temp file is removed");
}

/// A tmpfs of `size` mounted at a directory for the life of the value (Linux, as root; CI
/// runs as root).
#[cfg(target_os = "linux")]
struct SmallDisk(std::path::PathBuf);

#[cfg(target_os = "linux")]
impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "barkeep-test"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| SmallDisk(at.to_path_buf()))
    }

    /// Fills the disk, then frees `pages` pages of 4 KiB (tmpfs counts whole pages).
    fn fill_leaving(&self, pages: u64) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut file = File::create(&filler).unwrap();
        let chunk = vec![7u8; 4096];
        while matches!(file.write(&chunk), Ok(n) if n > 0) {}
        let used = file.metadata().unwrap().len().div_ceil(4096) * 4096;
        file.set_len(used - pages * 4096).unwrap();
        filler
    }
}

#[cfg(target_os = "linux")]
impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
#[allow(clippy::print_stderr)] // says why the test was skipped
fn a_full_disk_during_an_append_leaves_the_series_readable_and_says_no_space_left() {
    let env = TestEnv::new();
    let Some(disk) = SmallDisk::mount(&env.cache(), "2m") else {
        eprintln!("cannot mount a tmpfs here (needs root on Linux): skipping the full-disk test");
        return;
    };
    let old = env
        .run(&refs(&spy_minutes("2024-06-05", &[])))
        .success()
        .stdout;
    let rows = parse_csv(&old).len();
    let path = env.series_path(SERIES);
    let before = std::fs::read(&path).unwrap();
    // Room for the journal of the append (its header, the old footer and a checksum), not
    // for the new rows.
    let footer = Footer::read(&File::open(&path).unwrap()).unwrap();
    let journal_bytes = 16 + 5 * 8 + footer.raw.len() as u64 + 8;
    let filler = disk.fill_leaving(journal_bytes.div_ceil(4096));

    let failed = env.run(&refs(&spy_minutes("2024-06-06", &[]))).failure(1);
    assert_said(
        &failed.stderr,
        &format!(
            "no space left on device: could not write `{}`",
            path.display()
        ),
    );
    assert_eq!(
        failed.stderr.matches("o space left").count(),
        1,
        "said once: {}",
        failed.stderr
    );
    assert_untouched(&path, &before, rows);

    // A new series on the full disk: no file, no temp file, the same words.
    let msft = env.series_path("stocks/sip/1Min/MSFT.parquet");
    let failed = env
        .run(&[
            "fetch",
            "MSFT",
            "-t",
            "1Min",
            "--start",
            "2024-06-03",
            "--end",
            "2024-06-05",
        ])
        .failure(1);
    assert_said(
        &failed.stderr,
        &format!(
            "no space left on device: could not write `{}`",
            msft.display()
        ),
    );
    assert!(!msft.exists() && !temp_path(&msft).exists());

    std::fs::remove_file(filler).unwrap();
    env.run(&refs(&spy_minutes("2024-06-06", &[]))).success();
    env.run(&["inspect", "--verify"]).success();
}

/// Rewrites the file in argv[1] with pyarrow, compressed with argv[2], keeping its schema
/// and its key-value metadata (where barkeep's series metadata lives). pyarrow's table takes
/// its metadata from the Arrow schema stored in the file, which holds none of barkeep's, so
/// the script carries the file's own over.
const PYARROW_REWRITE: &str = r"
import sys, pyarrow.parquet as pq
kept = {k: v for k, v in pq.read_metadata(sys.argv[1]).metadata.items() if k != b'ARROW:schema'}
table = pq.read_table(sys.argv[1]).replace_schema_metadata(kept)
pq.write_table(table, sys.argv[1], compression=sys.argv[2])
";

/// Rewrites the file in argv[1] with polars, whose writer keeps no key-value metadata unless
/// given it: reading them first keeps barkeep's.
const POLARS_REWRITE: &str = r"
import sys, polars as pl
metadata = pl.read_parquet_metadata(sys.argv[1])
frame = pl.read_parquet(sys.argv[1])
frame.write_parquet(sys.argv[1], metadata=metadata)
";

/// Rewrites the file in argv[1] with DuckDB (Snappy, its default), carrying barkeep's
/// key-value metadata over with `KV_METADATA`.
const DUCKDB_REWRITE: &str = r#"
import os, sys, duckdb, pyarrow.parquet as pq
path = sys.argv[1]
kv = pq.read_metadata(path).metadata[b"barkeep"].decode().replace("'", "''")
con = duckdb.connect()
con.execute(f"COPY (SELECT * FROM read_parquet('{path}')) TO '{path}.duckdb' (FORMAT parquet, KV_METADATA {{barkeep: '{kv}'}})")
os.replace(path + ".duckdb", path)
"#;

fn codecs(path: &Path) -> Vec<Compression> {
    let footer = Footer::read(&File::open(path).unwrap()).unwrap();
    let mut found: Vec<Compression> = footer
        .parquet
        .row_groups()
        .iter()
        .flat_map(|g| g.columns().iter().map(|c| c.compression()))
        .collect();
    found.dedup();
    found
}

/// Every column chunk of the file at `path` is compressed with `codec` (pyarrow's name).
#[track_caller]
fn assert_codec(path: &Path, codec: &str) {
    let found = codecs(path);
    assert!(
        found.iter().all(|c| is_codec(codec, c)),
        "{codec}: {found:?}"
    );
}

/// Whether `found` is the codec pyarrow names `codec`.
fn is_codec(codec: &str, found: &Compression) -> bool {
    match codec {
        "snappy" => *found == Compression::SNAPPY,
        "gzip" => matches!(found, Compression::GZIP(_)),
        "lz4" => matches!(found, Compression::LZ4 | Compression::LZ4_RAW),
        "zstd" => matches!(found, Compression::ZSTD(_)),
        _ => false,
    }
}

#[test]
#[allow(clippy::print_stderr)] // says why the test was skipped
fn series_rewritten_by_pyarrow_duckdb_or_polars_with_their_codecs_read_back_the_same() {
    let Some(python) = test_python() else {
        eprintln!("BARKEEP_TEST_PYTHON is not set (CI sets it): skipping pyarrow, DuckDB, polars");
        return;
    };
    let env = TestEnv::new();
    let before = env
        .run(&refs(&spy_minutes("2024-06-05", &[])))
        .success()
        .stdout;
    let offline = spy_minutes("2024-06-05", &["--offline"]);
    let path = env.series_path(SERIES);
    for codec in ["snappy", "gzip", "lz4", "zstd"] {
        run_python(&python, PYARROW_REWRITE, &[&path, Path::new(codec)]);
        assert_codec(&path, codec);
        let read = env.run(&refs(&offline));
        assert_eq!(read.code, 0, "pyarrow, {codec}: {}", read.stderr);
        assert_eq!(read.stdout, before, "pyarrow, {codec}");
        env.run(&["inspect", "--verify"]).success();
    }
    // Brotli (never a default) is not read: said by name, not as damage.
    run_python(&python, PYARROW_REWRITE, &[&path, Path::new("brotli")]);
    let refused = env.run(&refs(&offline)).failure(1);
    assert_said(
        &refused.stderr,
        &format!(
            "`{}` cannot be read: column `timestamp` is compressed with Brotli, which barkeep cannot read",
            path.display()
        ),
    );
    assert_not_said(&refused.stderr, "damaged");
    run_python(&python, DUCKDB_REWRITE, &[&path]);
    assert_codec(&path, "snappy");
    assert_eq!(env.run(&refs(&offline)).success().stdout, before, "DuckDB");
    run_python(&python, POLARS_REWRITE, &[&path]);
    assert_codec(&path, "zstd");
    assert_eq!(env.run(&refs(&offline)).success().stdout, before, "polars");

    // Back to pyarrow's default (Snappy): the next day is added (the file is rewritten in
    // barkeep's layout, its schema being pyarrow's), and reads as one fetch would.
    run_python(&python, PYARROW_REWRITE, &[&path, Path::new("snappy")]);
    assert_the_next_day_reads_as_one_fetch(&env);
}

#[test]
#[allow(clippy::print_stderr)] // says why the test was skipped
fn permission_denied_is_said_as_such_with_the_file_never_as_damage() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    env.run(&refs(&spy_minutes("2024-06-05", &[]))).success();
    let path = env.series_path(SERIES);
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads a file whatever its mode: then the runs below drop to `nobody`, who can
    // reach the cache (0755 directories) but not the file.
    let root = File::open(&path).is_ok();
    let has_setpriv = Command::new("setpriv")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if root && !has_setpriv {
        eprintln!("root without `setpriv`: cannot deny a permission, skipping");
        return;
    }
    let run_denied = |args: &[&str]| -> Run {
        let cmd = if root {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(BIN)
                .args(args);
            cmd
        } else {
            let mut cmd = Command::new(BIN);
            cmd.args(args);
            cmd
        };
        run(&mut like(&env, args, cmd))
    };
    let denied = format!("permission denied: could not read `{}`", path.display());

    let listed = run_denied(&["inspect"]).success();
    assert_said(&listed.stderr, &denied);
    assert_not_said(&listed.stderr, "damaged");

    let verified = run_denied(&["inspect", "--verify"]).failure(1);
    assert_said(&verified.stderr, &denied);
    assert_not_said(&verified.stderr, "damaged");

    let fetched = run_denied(&refs(&spy_minutes("2024-06-05", &["--offline"]))).failure(1);
    assert_said(&fetched.stderr, &denied);
    assert_not_said(&fetched.stderr, "damaged");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn prune_compact_reports_a_series_it_could_not_compact_as_a_failure() {
    let env = TestEnv::new();
    env.run(&refs(&spy_minutes("2024-06-05", &[]))).success();
    let damaged = env.series_path("stocks/sip/1Day/SPY.parquet");
    std::fs::create_dir_all(damaged.parent().unwrap()).unwrap();
    std::fs::write(&damaged, b"PAR1 and nothing a reader could use PAR1").unwrap();

    let out = env
        .run(&["prune", "SPY", "-t", "1Day", "--compact"])
        .failure(1);
    assert_not_said(&out.stderr, "no series needed compacting");
    assert_said(
        &out.stderr,
        &format!("the cache file `{}` is damaged", damaged.display()),
    );
    assert_said(&out.stderr, "1 series could not be compacted");
    assert_not_said(&out.stderr, "could not be updated");

    // With a good series beside it: that one is compacted, and the damaged one still fails.
    let both = env.run(&["prune", "SPY", "--compact"]).failure(1);
    assert!(both.stdout.contains("compacted"), "{}", both.stdout);
    assert_said(&both.stderr, "1 series could not be compacted");
}

#[test]
fn inspect_verify_fails_on_a_damaged_ledger() {
    let env = TestEnv::new();
    env.run(&[
        "fetch",
        "-q",
        "AAPL",
        "--start",
        "2024-06-03",
        "--adjustment",
        "all",
    ])
    .success();
    env.run(&["inspect", "--verify"]).success();
    let ledger = env.cache().join("stocks/actions/AAPL.json");
    assert!(ledger.exists(), "the ledger is recorded");
    std::fs::write(&ledger, b"{\"format_version\": 1, \"symbol\": ").unwrap();

    let out = env.run(&["inspect", "--verify"]).failure(1);
    assert_said(&out.stderr, &format!("`{}`", ledger.display()));
    assert_said(
        &out.stderr,
        "the corporate-actions ledger of AAPL is damaged",
    );
    assert_said(&out.stderr, "1 problems found");
}

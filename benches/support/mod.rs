//! What the process benchmarks share: running a command under `/usr/bin/time` for its wall
//! time and peak memory, finding a Python with polars for the comparisons, and printing
//! milliseconds. Included by each bench with `mod support;` (a folder without `main.rs` is
//! not a bench of its own).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The median wall time of some runs, and the largest peak RSS among them.
#[derive(Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    pub(crate) rss_kb: u64,
}

/// Runs the command `make` builds `runs` times under `/usr/bin/time` (for the peak memory);
/// the median wall time and the largest peak. Panics if the command fails.
pub(crate) fn measure(runs: usize, mut make: impl FnMut() -> Command) -> Sample {
    let mut samples: Vec<Sample> = (0..runs)
        .map(|_| {
            let inner = make();
            let mut cmd = Command::new("/usr/bin/time");
            cmd.arg("-f").arg("%M").arg(inner.get_program());
            cmd.args(inner.get_args());
            for (k, v) in inner.get_envs() {
                if let Some(v) = v {
                    cmd.env(k, v);
                }
            }
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            let t = Instant::now();
            let out = cmd.output().expect("/usr/bin/time runs");
            let wall = t.elapsed();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{inner:?} failed: {stderr}");
            let rss_kb = stderr
                .lines()
                .last()
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(0);
            Sample { wall, rss_kb }
        })
        .collect();
    samples.sort_by_key(|s| s.wall);
    Sample {
        wall: samples[runs / 2].wall,
        rss_kb: samples.iter().map(|s| s.rss_kb).max().unwrap_or(0),
    }
}

/// The median of some durations.
pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// A Python that imports polars (`BARKEEP_BENCH_PYTHON`, else the interop venv, else
/// `python3`), or why there is none.
pub(crate) fn polars_python() -> Result<PathBuf, String> {
    let candidates = std::env::var_os("BARKEEP_BENCH_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            PathBuf::from("/work/venv/bin/python"),
            PathBuf::from("python3"),
        ]);
    let mut why = Vec::new();
    for python in candidates {
        match Command::new(&python)
            .args(["-c", "import polars"])
            .stderr(Stdio::null())
            .status()
        {
            Ok(s) if s.success() => return Ok(python),
            Ok(_) => why.push(format!("{} has no polars", python.display())),
            Err(e) => why.push(format!("{}: {e}", python.display())),
        }
    }
    Err(why.join("; "))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

//! What one run of the binary produced, and the assertions tests make on it.
//!
//! Owns: [`Run`] (command, exit code, stdout, stderr), running a `Command` into one, and the
//! `assert_*` methods, which name the command and print both streams when they fail.
//! Must not: start the binary with an environment of its own (that is `TestEnv`'s).

use std::process::{Child, Command, Stdio};

use serde::de::DeserializeOwned;

/// What a run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    /// The command line, for failure messages.
    pub(crate) command: String,
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn success(self) -> Self {
        assert!(self.code == 0, "expected success\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn failure(self, code: i32) -> Self {
        assert!(self.code == code, "expected exit {code}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stdout_contains(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stderr_contains(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stdout_lacks(&self, text: &str) -> &Self {
        assert!(!self.stdout.contains(text), "stdout has {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stderr_lacks(&self, text: &str) -> &Self {
        assert!(!self.stderr.contains(text), "stderr has {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stdout_empty(&self) -> &Self {
        assert!(self.stdout.is_empty(), "stdout is not empty\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn assert_stderr_empty(&self) -> &Self {
        assert!(self.stderr.is_empty(), "stderr is not empty\n{self}");
        self
    }

    /// stderr has exactly `n` lines.
    #[track_caller]
    pub(crate) fn assert_stderr_lines(&self, n: usize) -> &Self {
        let lines = self.stderr.lines().count();
        assert!(lines == n, "stderr has {lines} lines, not {n}\n{self}");
        self
    }

    /// stdout as CSV bars (`fetch --format csv`), checking its header.
    pub(crate) fn rows(&self) -> Vec<super::CsvBar> {
        super::parse_csv(&self.stdout)
    }

    /// The CSV bars of `symbol` in stdout.
    pub(crate) fn bars_of(&self, symbol: &str) -> Vec<super::emulator::EmuBar> {
        super::bars_of(&self.rows(), symbol)
    }

    /// stdout parsed as NDJSON: one JSON value a line.
    #[track_caller]
    pub(crate) fn ndjson(&self) -> Vec<serde_json::Value> {
        let parse =
            |l: &str| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}\n{self}"));
        self.stdout.lines().map(parse).collect()
    }

    /// stdout parsed as JSON (`serde_json::Value`, or any type it deserializes into).
    #[track_caller]
    pub(crate) fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the JSON expected: {e}\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {}\nstdout:\n{}\nstderr:\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to the end.
pub(crate) fn run(cmd: &mut Command) -> Run {
    let command = describe(cmd);
    let output = cmd.output().expect("barkeep runs");
    finished(command, output)
}

/// A run started in the background, its stdout and stderr piped: [`Running::wait`] for it.
pub(crate) struct Running {
    command: String,
    child: Child,
}

impl Running {
    /// The process id, to send it a signal.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its stdin, to write while it runs (when the command's stdin was set to piped).
    pub(crate) fn take_stdin(&mut self) -> std::process::ChildStdin {
        self.child
            .stdin
            .take()
            .expect("stdin is piped and not taken yet")
    }

    /// Its stdout, to read while it runs (then [`Running::wait`]'s `stdout` is empty).
    pub(crate) fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.child
            .stdout
            .take()
            .expect("stdout is piped and not taken yet")
    }

    pub(crate) fn wait(self) -> Run {
        finished(
            self.command,
            self.child.wait_with_output().expect("barkeep runs"),
        )
    }
}

/// Starts `cmd` without waiting for it, for runs that race each other.
pub(crate) fn spawn(cmd: &mut Command) -> Running {
    let command = describe(cmd);
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("barkeep starts");
    Running { command, child }
}

/// [`run`], also sampling how many threads the process has every few milliseconds (from
/// `/proc`, Linux only: elsewhere the count is `None`); returns the most seen.
pub(crate) fn run_counting_threads(cmd: &mut Command) -> (Run, Option<usize>) {
    let running = spawn(cmd);
    let tasks = format!("/proc/{}/task", running.child.id());
    let sampler = std::thread::spawn(move || {
        let mut most = None;
        // The directory goes away once the child has exited and been reaped.
        while let Ok(threads) = std::fs::read_dir(&tasks) {
            most = Some(most.unwrap_or(0).max(threads.count()));
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
        most
    });
    let run = running.wait();
    let most = sampler.join().expect("the sampler does not panic");
    (run, most)
}

fn finished(command: String, output: std::process::Output) -> Run {
    Run {
        command,
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// `program arg …`, arguments with spaces (or none) quoted.
fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

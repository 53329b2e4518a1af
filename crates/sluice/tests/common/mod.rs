//! Test harness of the `sluice` binary's tests: brokers and clusters run in the test process
//! (`sluice-testkit`), the CLI runs as the binary, and a few helpers for the tests that start
//! real server processes: `dev-cluster` (`dev_cluster.rs`) and one configured `sluice server`
//! (`server_process.rs`).
#![allow(dead_code)]

pub mod dev_cluster;
pub mod server_process;

#[allow(unused_imports)]
pub use sluice_testkit::{batch, batch_offsets, Client, TestBroker, TestCluster};

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A base port B such that B..B+count are all free on 127.0.0.1 right now (found by binding
/// them), for tests that need consecutive ports. Taken below Linux's ephemeral range
/// (32768 and up) so outgoing connections do not take them meanwhile; where one test process
/// starts looking depends on its pid, and each call in a process starts further on, so tests
/// running in parallel (processes, or threads of one test binary) do not try the same range.
pub fn free_port_range(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    /// Calls so far in this process.
    static CALLS: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const HIGH: u32 = 32_000;
    let count32 = u32::from(count);
    let slots = (HIGH - LOW) / count32;
    // Calls in one process take slots far apart (a step coprime with most slot counts).
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let first_slot = (std::process::id() + call.wrapping_mul(97)) % slots;
    for attempt in 0..slots {
        let base = LOW + ((first_slot + attempt) % slots) * count32;
        let held: Vec<std::net::TcpListener> = (base..base + count32)
            .map_while(|port| {
                let port = u16::try_from(port).expect("below 32000");
                std::net::TcpListener::bind(("127.0.0.1", port)).ok()
            })
            .collect();
        if held.len() == usize::from(count) {
            return u16::try_from(base).expect("below 32000");
        }
    }
    panic!("no {count} consecutive free ports between {LOW} and {HIGH}");
}

/// Pids of the processes (Linux, from /proc) whose command line has, for every needle, an
/// argument containing it; e.g. `["server", "/tmp/x/node-"]`.
pub fn processes_with_args(needles: &[&str]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read: then it is not running.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if needles
            .iter()
            .all(|needle| args.iter().any(|arg| arg.contains(needle)))
        {
            pids.push(pid);
        }
    }
    pids
}

/// Every `sluice` command a test runs must finish within this; a hang is a failure, not a
/// stuck test run.
pub const CLI_DEADLINE: Duration = Duration::from_secs(60);

/// What a finished command printed, and its exit code (-1 when killed by a signal).
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The error line of a failed command: exactly one line on stderr, no panic.
    pub fn error_line(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure; stdout: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected: {}", self.stderr);
        lines[0]
    }

    /// [`CliOutput::error_line`] of a command that must also print nothing on stdout.
    pub fn error_line_alone(&self) -> &str {
        assert_eq!(self.stdout, "", "a failed command printed output");
        self.error_line()
    }
}

/// Runs `sluice ARGS` (without `$SLUICE_BOOTSTRAP`) to the end; see [`run_to_end`].
pub fn sluice_cli(args: &[&str]) -> CliOutput {
    run_to_end(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .env_remove("SLUICE_BOOTSTRAP"),
    )
}

/// Runs `cmd` to the end within [`CLI_DEADLINE`] (killing it and failing the test past it),
/// reading its output on threads so that a full pipe cannot block it.
pub fn run_to_end(cmd: &mut Command) -> CliOutput {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let read_all = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout piped")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr piped")));
    let deadline = Instant::now() + CLI_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{:?} {:?} did not finish",
                cmd.get_program(),
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

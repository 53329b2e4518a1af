//! A `sluice dev-cluster` run by a test: started as the binary, its stdout lines read until it
//! says it is ready, its stderr kept to explain a failure, and stopped however the test ends.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long three nodes may take to elect a controller and serve clients.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(90);
/// How long dev-cluster may take to stop its nodes (each has 15 s after SIGTERM).
pub const STOP_DEADLINE: Duration = Duration::from_secs(60);
/// Lines of dev-cluster's stderr shown to explain a failure.
const STDERR_TAIL_LINES: usize = 200;

pub fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

/// The child's exit status once it has exited, or None past the deadline.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn sigterm(child: &Child) {
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
}

/// A running `sluice dev-cluster`, its stdout lines on a channel and its stderr kept for
/// failure messages (and for tests of what it logs). Dropping it stops the cluster (SIGTERM,
/// then SIGKILL), so a failed assertion leaves no node behind.
pub struct DevCluster {
    pub child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl DevCluster {
    pub fn start(nodes: u8, base_port: u16, data_dir: &Path) -> DevCluster {
        DevCluster::start_with(nodes, base_port, data_dir, &[])
    }

    /// [`DevCluster::start`] with more arguments for `dev-cluster`, e.g. `--secure`.
    pub fn start_with(nodes: u8, base_port: u16, data_dir: &Path, args: &[&str]) -> DevCluster {
        let mut child = sluice()
            .args(["dev-cluster", "--nodes", &nodes.to_string()])
            .args(["--base-port", &base_port.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sluice dev-cluster");
        let stdout = child.stdout.take().expect("stdout piped");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr_lines = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr_lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("SLUICE_TEST_VERBOSE").is_some() {
                    eprintln!("{line}");
                }
                lines.lock().expect("stderr lock").push(line);
            }
        });
        DevCluster {
            child,
            stdout: rx,
            stderr: stderr_lines,
        }
    }

    /// The stdout lines up to and including `bootstrap servers: ...`, within the deadline.
    pub fn wait_until_ready(&self, deadline: Instant) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    let done = line.starts_with("bootstrap servers: ");
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "dev-cluster printed no bootstrap line in time; stdout so far {lines:?}; \
                     stderr:\n{}",
                    self.stderr_tail()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "dev-cluster closed its stdout before the bootstrap line; stdout {lines:?}; \
                     stderr:\n{}",
                    self.stderr_tail()
                ),
            }
        }
    }

    /// SIGTERM, then its exit status within [`STOP_DEADLINE`]; a failure if it does not stop.
    pub fn stop(&mut self) -> ExitStatus {
        sigterm(&self.child);
        wait_until(&mut self.child, Instant::now() + STOP_DEADLINE)
            .unwrap_or_else(|| panic!("dev-cluster did not stop; stderr:\n{}", self.stderr_tail()))
    }

    /// The last lines of its stderr so far.
    pub fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().expect("stderr lock");
        let from = lines.len().saturating_sub(STDERR_TAIL_LINES);
        lines[from..].join("\n")
    }

    /// Whether any line of its stderr so far contains `needle`.
    pub fn stderr_contains(&self, needle: &str) -> bool {
        let lines = self.stderr.lock().expect("stderr lock");
        lines.iter().any(|line| line.contains(needle))
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return; // reaped: its pid may belong to another process by now
        }
        sigterm(&self.child);
        if wait_until(&mut self.child, Instant::now() + STOP_DEADLINE).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

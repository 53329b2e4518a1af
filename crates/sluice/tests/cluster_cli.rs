//! `sluice dev-cluster` and `sluice cluster status` as a developer uses them: a three-node
//! cluster started by one command, its status read as a script would (JSON) and as a person
//! would (tables), then SIGTERM stopping every node. Also the errors that need no cluster: a
//! busy port and an unreachable bootstrap server.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port_range, processes_with_args, run_to_end};

/// How long three nodes may take to elect a controller and serve clients.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);
/// How long the status may take to show every broker registered, after startup.
const STATUS_DEADLINE: Duration = Duration::from_secs(60);
/// How long dev-cluster may take to stop its nodes (each has 15 s after SIGTERM).
const STOP_DEADLINE: Duration = Duration::from_secs(60);
/// Lines of dev-cluster's stderr kept to explain a failure.
const STDERR_TAIL_LINES: usize = 200;

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
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

fn sigterm(child: &Child) {
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .expect("a child's pid is positive");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
}

/// A running `sluice dev-cluster`, its stdout lines on a channel and the tail of its stderr
/// kept for failure messages. Dropping it stops the cluster (SIGTERM, then SIGKILL), so a
/// failed assertion leaves no node behind.
struct DevCluster {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl DevCluster {
    fn start(nodes: u8, base_port: u16, data_dir: &Path) -> DevCluster {
        let mut child = sluice()
            .args(["dev-cluster", "--nodes", &nodes.to_string()])
            .args(["--base-port", &base_port.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
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
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("SLUICE_TEST_VERBOSE").is_some() {
                    eprintln!("{line}");
                }
                let mut tail = tail.lock().expect("tail lock");
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        DevCluster {
            child,
            stdout: rx,
            stderr_tail,
        }
    }

    /// The stdout lines up to and including `bootstrap servers: ...`, within the deadline.
    fn wait_until_ready(&self, deadline: Instant) -> Vec<String> {
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
                    "dev-cluster printed no bootstrap line within {STARTUP_DEADLINE:?}; \
                     stdout so far {lines:?}; stderr:\n{}",
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

    fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().expect("tail lock");
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
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

/// The JSON status of the cluster, asked of `bootstrap`, once it lists `brokers` brokers and
/// a controller among them; the last answer or error if it never does within the deadline.
fn status_with_brokers(bootstrap: &str, brokers: usize, cluster: &DevCluster) -> serde_json::Value {
    let deadline = Instant::now() + STATUS_DEADLINE;
    loop {
        let out = run_to_end(sluice().args([
            "cluster",
            "status",
            "--output",
            "json",
            "--bootstrap-server",
            bootstrap,
        ]));
        let last = format!("exit {}: {}{}", out.code, out.stdout, out.stderr);
        if out.code == 0 {
            let status: serde_json::Value =
                serde_json::from_str(out.stdout.trim()).expect("one JSON object");
            let ids: Vec<i64> = status["brokers"]
                .as_array()
                .expect("a broker array")
                .iter()
                .filter_map(|b| b["id"].as_i64())
                .collect();
            let controller = status["controller_id"].as_i64();
            if ids.len() == brokers && controller.is_some_and(|id| ids.contains(&id)) {
                return status;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the cluster status never listed {brokers} brokers and their controller; last: \
             {last}; dev-cluster stderr:\n{}",
            cluster.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn dev_cluster_starts_reports_its_status_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("cluster");
    let base = free_port_range(6);
    let mut cluster = DevCluster::start(3, base, &data_dir);

    let lines = cluster.wait_until_ready(Instant::now() + STARTUP_DEADLINE);
    let addresses: Vec<String> = (0..3)
        .map(|i| format!("127.0.0.1:{}", base + 2 * i))
        .collect();
    assert_eq!(
        lines.last().map(String::as_str),
        Some(format!("bootstrap servers: {}", addresses.join(",")).as_str())
    );
    for (i, address) in addresses.iter().enumerate() {
        let node_dir = data_dir.join(format!("node-{}", i + 1));
        let expected = format!("node {}  {address}  {}", i + 1, node_dir.display());
        assert!(lines.contains(&expected), "{expected:?} not in {lines:?}");
    }
    let cluster_id = std::fs::read_to_string(data_dir.join("cluster.id")).expect("cluster.id");
    let cluster_id = cluster_id.trim();
    assert_eq!(cluster_id.len(), 22, "{cluster_id:?}");

    let status = status_with_brokers(&addresses[0], 3, &cluster);
    assert_eq!(status["cluster_id"], cluster_id);
    let listed: Vec<String> = status["brokers"]
        .as_array()
        .expect("brokers")
        .iter()
        .map(|b| format!("{}:{}", b["host"].as_str().unwrap_or("?"), b["port"]))
        .collect();
    assert_eq!(listed, addresses);

    // The same through another node, as tables.
    let out = run_to_end(sluice().args(["cluster", "status", "--bootstrap-server", &addresses[2]]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let controller = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Controller id:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no controller line in {}", out.stdout));
    assert!(["1", "2", "3"].contains(&controller), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(&format!("Cluster id:     {cluster_id}\n")),
        "{}",
        out.stdout
    );
    for (i, address) in addresses.iter().enumerate() {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{}  ", i + 1)) && l.contains(address.as_str())),
            "no row for broker {} in {}",
            i + 1,
            out.stdout
        );
    }

    sigterm(&cluster.child);
    let status =
        wait_until(&mut cluster.child, Instant::now() + STOP_DEADLINE).unwrap_or_else(|| {
            panic!(
                "dev-cluster did not stop; stderr:\n{}",
                cluster.stderr_tail()
            )
        });
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        cluster.stderr_tail()
    );
    let stray = processes_with_args(&["server", &format!("log.dirs={}", data_dir.display())]);
    assert!(stray.is_empty(), "nodes left running: {stray:?}");
    let stderr = cluster.stderr_tail();
    for node in 1..=3 {
        assert!(
            stderr.contains(&format!("dev-cluster: node {node} stopped")),
            "{stderr}"
        );
    }
}

#[test]
fn dev_cluster_names_a_busy_port_and_starts_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = free_port_range(4);
    // Node 2's controller port.
    let _taken = TcpListener::bind(("127.0.0.1", base + 3)).expect("bind");
    let out = run_to_end(
        sluice()
            .args([
                "dev-cluster",
                "--nodes",
                "2",
                "--base-port",
                &base.to_string(),
            ])
            .arg("--data-dir")
            .arg(dir.path().join("c")),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "error: port {} (node 2 controller listener) is in use: stop what listens there or \
             choose another --base-port",
            base + 3
        )
    );
    assert_eq!(out.stdout, "");
    assert!(!dir.path().join("c").exists(), "nothing is created");
}

#[test]
fn cluster_status_without_a_broker_is_one_error_line() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let address = format!("127.0.0.1:{port}");
    let out = run_to_end(sluice().args(["cluster", "status", "--bootstrap-server", &address]));
    assert_ne!(out.code, 0);
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!(
            "error: cannot get the cluster status from {address}: cannot connect"
        )),
        "{}",
        out.stderr
    );
}

//! `sluice dev-cluster` and `sluice cluster status` as a developer uses them: a three-node
//! cluster started by one command, its status read as a script would (JSON) and as a person
//! would (tables), then SIGTERM stopping every node. Also the errors that need no cluster: a
//! busy port and an unreachable bootstrap server.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::dev_cluster::{
    sigterm, sluice, wait_until, DevCluster, STARTUP_DEADLINE, STOP_DEADLINE,
};
use common::{free_port_range, processes_with_args, run_to_end};

/// How long the status may take to show every broker registered, after startup.
const STATUS_DEADLINE: Duration = Duration::from_secs(60);

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
    // Node 2's controller port, taken here. A range found free can be taken by another test
    // before this binds it: then another range.
    let (base, _taken) = (0..20)
        .find_map(|_| {
            let base = free_port_range(4);
            TcpListener::bind(("127.0.0.1", base + 3))
                .ok()
                .map(|taken| (base, taken))
        })
        .expect("a free port range");
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

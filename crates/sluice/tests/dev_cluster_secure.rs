//! `sluice dev-cluster --secure` as a newcomer uses it: three nodes on SASL_SSL started by one
//! command, then the CLI with the admin's `--command-config` file creating a topic replicated
//! on all three (the followers' fetches go over SASL_SSL too), producing and consuming; a
//! client without security settings refused; and after a restart over the same directory the
//! same CA and password, and the admin still logged in. No password shows in the output.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::dev_cluster::{sluice, DevCluster, STARTUP_DEADLINE};
use common::{free_port_range, processes_with_args, run_to_end, CliOutput};

/// How long the admin may take to be able to log in and create the topic after startup (the
/// quorum applies the bootstrap credential and all three brokers register).
const ADMIN_READY_DEADLINE: Duration = Duration::from_secs(90);
const TOPIC: &str = "secure-rf3";
const RECORDS: usize = 30;

/// `sluice ARGS -b BOOTSTRAP --command-config ADMIN`, run to the end.
fn as_admin(args: &[&str], bootstrap: &str, admin: &Path) -> CliOutput {
    run_to_end(
        sluice()
            .args(args)
            .args(["-b", bootstrap, "--command-config"])
            .arg(admin)
            .env_remove("SLUICE_BOOTSTRAP"),
    )
}

/// Runs `attempt` until it returns Some, at most until the deadline; `last` says why not.
fn poll<T>(
    deadline: Duration,
    what: &str,
    cluster: &DevCluster,
    mut attempt: impl FnMut(&mut String) -> Option<T>,
) -> T {
    let until = Instant::now() + deadline;
    let mut last = String::new();
    loop {
        if let Some(value) = attempt(&mut last) {
            return value;
        }
        assert!(
            Instant::now() < until,
            "{what} within {deadline:?}; last: {last}; dev-cluster stderr:\n{}",
            cluster.stderr_tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The records of the topic, sorted, read as the admin from the beginning to the end.
fn consume_all(bootstrap: &str, admin: &Path, cluster: &DevCluster) -> Vec<String> {
    poll(
        ADMIN_READY_DEADLINE,
        "every record consumed",
        cluster,
        |last| {
            let out = as_admin(
                &["consume", TOPIC, "--from-beginning", "--exit-at-end"],
                bootstrap,
                admin,
            );
            *last = format!("exit {}: {}{}", out.code, out.stdout, out.stderr);
            let mut records: Vec<String> = out.stdout.lines().map(str::to_string).collect();
            records.sort();
            (out.code == 0 && records.len() == RECORDS).then_some(records)
        },
    )
}

fn expected_records() -> Vec<String> {
    let mut records: Vec<String> = (0..RECORDS).map(|i| format!("record-{i:02}")).collect();
    records.sort();
    records
}

/// The value of `password="..."` in a JAAS config line.
fn jaas_password(properties: &str) -> String {
    let line = properties
        .lines()
        .find(|l| l.starts_with("sasl.jaas.config="))
        .expect("a sasl.jaas.config line");
    let after = line.split_once("password=\"").expect("a password option").1;
    after
        .split_once('"')
        .expect("a closing quote")
        .0
        .to_string()
}

#[test]
fn a_secure_dev_cluster_serves_its_admin_over_sasl_ssl_and_refuses_plaintext() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("cluster");
    let base = free_port_range(6);
    let bootstrap = format!("127.0.0.1:{base}");
    let admin = data_dir.join("admin.properties");
    let ca = data_dir.join("tls").join("ca.pem");

    let mut cluster = DevCluster::start_with(3, base, &data_dir, &["--secure"]);
    let lines = cluster.wait_until_ready(Instant::now() + STARTUP_DEADLINE);
    for expected in [
        format!(
            "admin client properties (admin, SASL_SSL): {}",
            admin.display()
        ),
        format!("CA certificate: {}", ca.display()),
        format!(
            "try: sluice topic list -b {bootstrap} --command-config {}",
            admin.display()
        ),
    ] {
        assert!(lines.contains(&expected), "{expected:?} not in {lines:?}");
    }
    let properties = std::fs::read_to_string(&admin).expect("admin.properties");
    let admin_password = jaas_password(&properties);
    let broker_password = std::fs::read_to_string(data_dir.join("tls").join("broker.secret"))
        .expect("broker.secret")
        .trim()
        .to_string();
    assert_eq!(admin_password.len(), 64);
    let ca_pem = std::fs::read_to_string(&ca).expect("ca.pem");

    // The admin logs in once the quorum has applied its credential; the topic is created once
    // all three brokers have registered. A retry after a lost answer finds it made.
    poll(
        ADMIN_READY_DEADLINE,
        "the admin created the topic",
        &cluster,
        |last| {
            let out = as_admin(
                &[
                    "topic",
                    "create",
                    TOPIC,
                    "--partitions",
                    "3",
                    "--replication-factor",
                    "3",
                ],
                &bootstrap,
                &admin,
            );
            *last = format!("exit {}: {}{}", out.code, out.stdout, out.stderr);
            (out.code == 0 || out.stderr.contains("already exists")).then_some(())
        },
    );
    let described = as_admin(&["topic", "describe", TOPIC], &bootstrap, &admin);
    assert_eq!(described.code, 0, "{}", described.stderr);

    let input = dir.path().join("records.txt");
    let text: String = (0..RECORDS).map(|i| format!("record-{i:02}\n")).collect();
    std::fs::write(&input, text).expect("records file");
    let input = input.to_str().expect("utf-8 path");
    let produced = as_admin(
        &["produce", TOPIC, "--acks", "all", "--file", input],
        &bootstrap,
        &admin,
    );
    assert_eq!(produced.code, 0, "{}{}", produced.stdout, produced.stderr);
    assert_eq!(
        consume_all(&bootstrap, &admin, &cluster),
        expected_records()
    );

    // A client without security settings speaks PLAINTEXT to a TLS listener: refused.
    let plaintext = run_to_end(
        sluice()
            .args(["topic", "list", "-b", &bootstrap])
            .env_remove("SLUICE_BOOTSTRAP"),
    );
    assert_ne!(plaintext.code, 0, "{}", plaintext.stdout);
    assert!(!plaintext.stdout.contains(TOPIC), "{}", plaintext.stdout);

    let status = cluster.stop();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        cluster.stderr_tail()
    );
    for secret in [&admin_password, &broker_password] {
        assert!(
            !lines.iter().any(|l| l.contains(secret.as_str())),
            "{lines:?}"
        );
        assert!(
            !cluster.stderr_contains(secret),
            "a password in dev-cluster's stderr"
        );
    }
    drop(cluster);

    // Restarted over the same directory: the same CA and admin, who still logs in.
    let mut cluster = DevCluster::start_with(3, base, &data_dir, &["--secure"]);
    cluster.wait_until_ready(Instant::now() + STARTUP_DEADLINE);
    let running = processes_with_args(&["server", &format!("log.dirs={}", data_dir.display())]);
    assert_eq!(running.len(), 3, "{running:?}");
    // No password on a node's command line, where `ps` would show it.
    for pid in running {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(
            !cmdline.contains(&broker_password),
            "a password on a command line"
        );
        assert!(
            !cmdline.contains(&admin_password),
            "a password on a command line"
        );
    }
    assert_eq!(std::fs::read_to_string(&ca).expect("ca.pem"), ca_pem);
    assert_eq!(
        std::fs::read_to_string(&admin).expect("admin.properties"),
        properties
    );
    assert_eq!(
        consume_all(&bootstrap, &admin, &cluster),
        expected_records()
    );
    let status = cluster.stop();
    assert!(
        status.success(),
        "{status}; stderr:\n{}",
        cluster.stderr_tail()
    );
    let stray = processes_with_args(&["server", &format!("log.dirs={}", data_dir.display())]);
    assert!(stray.is_empty(), "nodes left running: {stray:?}");
}

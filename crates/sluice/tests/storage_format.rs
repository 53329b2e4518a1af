//! `sluice storage format --add-scram` (Kafka's `kafka-storage format`): a node formatted with
//! SCRAM users starts with them in its metadata log, so DescribeUserScramCredentials lists them
//! and their keys match the password; formatting twice is refused unless --ignore-formatted.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{sluice_cli, Client};
use kafka_protocol::messages::DescribeUserScramCredentialsRequest;
use sluice_broker::{BrokerConfig, Listeners};
use sluice_security::{ScramCredential, ScramMechanism};
use sluice_testkit::Node;

const CLUSTER_ID: &str = "Zm9ybWF0LXRlc3QtY2x1cw";

/// Per user: (name, error code, [(mechanism, iterations)]).
type Described = Vec<(String, i16, Vec<(i8, i32)>)>;

fn format(dir: &Path, extra: &[&str]) -> common::CliOutput {
    let log_dirs = format!("log.dirs={}", dir.display());
    let mut args = vec![
        "storage",
        "format",
        "--set",
        &log_dirs,
        "--cluster-id",
        CLUSTER_ID,
    ];
    args.extend(extra);
    sluice_cli(&args)
}

#[test]
fn a_node_formatted_with_scram_users_starts_with_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = format(
        dir.path(),
        &[
            "--add-scram",
            "SCRAM-SHA-256=[name=admin,password=admin-secret]",
            "--add-scram",
            "SCRAM-SHA-512=[name=admin,iterations=8192,password=\"admin,secret\"]",
        ],
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{}", out.stdout);
    assert_eq!(
        out.stdout,
        format!(
            "formatted {} for cluster {CLUSTER_ID}, node 1, with 2 SCRAM credential(s)\n",
            dir.path().display()
        )
    );
    assert!(format(dir.path(), &[])
        .error_line_alone()
        .contains("is already formatted"));
    let again = format(dir.path(), &["--ignore-formatted"]);
    assert_eq!(again.code, 0, "{}", again.stderr);

    let mut config = BrokerConfig::default();
    for (key, value) in [
        ("listeners", "PLAINTEXT://127.0.0.1:0".to_string()),
        ("log.dirs", dir.path().display().to_string()),
    ] {
        config.set(key, &value).expect("valid setting");
    }
    let node = Node::start(config, Listeners::default());
    let broker = node.broker.clone().expect("a broker");
    assert_eq!(broker.cluster_id(), CLUSTER_ID);
    let mut client = Client::connect(&node.addr.to_string());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = client.send(&DescribeUserScramCredentialsRequest::default(), 0);
        let users: Described = response
            .results
            .iter()
            .map(|r| {
                let infos = r
                    .credential_infos
                    .iter()
                    .map(|c| (c.mechanism, c.iterations))
                    .collect();
                (r.user.to_string(), r.error_code, infos)
            })
            .collect();
        if users == [("admin".to_string(), 0, vec![(1, 4096), (2, 8192)])] {
            break;
        }
        assert!(Instant::now() < deadline, "admin not listed: {users:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let image = broker.cluster.image();
    for (mechanism, type_number, password, iterations) in [
        (ScramMechanism::Sha256, 1, "admin-secret", 4096),
        (ScramMechanism::Sha512, 2, "admin,secret", 8192),
    ] {
        let stored = image
            .scram_credential("admin", type_number)
            .expect("stored");
        let expected =
            ScramCredential::derive(mechanism, password.as_bytes(), &stored.salt, iterations);
        assert_eq!(stored.stored_key, expected.stored_key, "{mechanism}");
    }
    let metadata_dir = dir.path().join("__cluster_metadata");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !metadata_dir.join("bootstrap.json.applied").exists() {
        assert!(
            Instant::now() < deadline,
            "the bootstrap file is not marked applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!metadata_dir.join("bootstrap.json").exists());
    drop(client);
    node.stop();
}

#[test]
fn bad_format_arguments_are_one_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    assert_eq!(
        format(dir.path(), &["--add-scram", "SCRAM-SHA-256=[name=admin]"]).error_line_alone(),
        "error: --add-scram: no password= (expected MECHANISM=[name=...,password=...])"
    );
    assert!(
        !dir.path().join("meta.properties").exists(),
        "nothing written"
    );
    let log_dirs = format!("log.dirs={}", dir.path().display());
    assert_eq!(
        sluice_cli(&["storage", "format", "--set", &log_dirs]).error_line_alone(),
        "error: give --cluster-id (for a new one: `sluice storage random-uuid`)"
    );
    let out = sluice_cli(&["storage", "random-uuid"]);
    assert_eq!(
        (out.code, out.stdout.trim().len()),
        (0, 22),
        "{}",
        out.stderr
    );
}

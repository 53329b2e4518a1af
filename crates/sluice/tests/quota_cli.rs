//! `sluice quota alter|describe` as the `sluice` binary against a real `sluice server`
//! process: a client-id quota and a user default set, described as a table and as JSON,
//! refused with the broker's error for a bad key, validated only, and removed again.

mod common;

use common::server_process::ServerProcess;
use common::{sluice_cli, CliOutput};

fn server() -> ServerProcess {
    ServerProcess::start(&[
        ("offsets.topic.num.partitions", "1"),
        ("transaction.state.log.num.partitions", "1"),
    ])
}

fn quota(server: &ServerProcess, args: &[&str]) -> CliOutput {
    let addr = server.addr("PLAINTEXT");
    let mut all = vec!["quota"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-b", &addr]);
    sluice_cli(&all)
}

#[test]
fn quotas_are_altered_described_and_removed() {
    let server = server();
    let set = quota(
        &server,
        &[
            "alter",
            "--client-id",
            "reports",
            "--add",
            "producer_byte_rate=1048576",
            "--add",
            "consumer_byte_rate=2097152",
        ],
    );
    assert_eq!(set.code, 0, "{}{}", set.stdout, set.stderr);
    let defaults = quota(
        &server,
        &[
            "alter",
            "--user-default",
            "--add-config",
            "request_percentage=50",
        ],
    );
    assert_eq!(defaults.code, 0, "{}{}", defaults.stdout, defaults.stderr);

    let table = quota(&server, &["describe"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    for needle in [
        "/clients/reports",
        "producer_byte_rate",
        "1048576",
        "consumer_byte_rate",
        "/users/<default>",
        "request_percentage",
    ] {
        assert!(
            table.stdout.contains(needle),
            "{needle} in\n{}",
            table.stdout
        );
    }
    let json = quota(
        &server,
        &["describe", "--client-id", "reports", "-o", "json"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON output");
    let text = parsed.to_string();
    assert!(
        text.contains("reports") && text.contains("1048576"),
        "{text}"
    );
    assert!(!text.contains("request_percentage"), "filtered: {text}");

    // A key the broker does not know: refused with a clear message, nothing changed.
    let bad = quota(
        &server,
        &[
            "alter",
            "--client-id",
            "reports",
            "--add",
            "bytes_per_fortnight=1",
        ],
    );
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr.contains("bytes_per_fortnight"),
        "the bad key is named: {}",
        bad.stderr
    );
    // Validate only: accepted, not applied.
    let dry = quota(
        &server,
        &[
            "alter",
            "--client-id",
            "dry-run",
            "--add",
            "producer_byte_rate=1000",
            "--validate-only",
        ],
    );
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(!quota(&server, &["describe"]).stdout.contains("dry-run"));

    let removed = quota(
        &server,
        &[
            "alter",
            "--client-id",
            "reports",
            "--delete",
            "producer_byte_rate",
            "--delete-config",
            "consumer_byte_rate",
        ],
    );
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    let after = quota(&server, &["describe"]);
    assert!(
        !after.stdout.contains("/clients/reports"),
        "{}",
        after.stdout
    );
    assert!(
        after.stdout.contains("/users/<default>"),
        "{}",
        after.stdout
    );
}

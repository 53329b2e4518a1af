//! `sluice config describe|alter` as the `sluice` binary against a real `sluice server`
//! process: the broker default and one broker altered (both spellings of the entity), their
//! dynamic configs described as a table and as JSON with their sources, every config with
//! `--all`, a topic's override, a read-only key refused with the broker's message, an unknown
//! one, validate-only, and a bad entity caught before any request.

mod common;

use common::server_process::ServerProcess;
use common::{sluice_cli, CliOutput};

fn server() -> ServerProcess {
    ServerProcess::start(&[
        ("offsets.topic.num.partitions", "1"),
        ("transaction.state.log.num.partitions", "1"),
    ])
}

fn run(server: &ServerProcess, args: &[&str]) -> CliOutput {
    let addr = server.addr("PLAINTEXT");
    let mut all = args.to_vec();
    all.extend_from_slice(&["-b", &addr]);
    sluice_cli(&all)
}

fn ok(out: &CliOutput) {
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

#[test]
fn broker_and_topic_configs_are_altered_and_described() {
    let server = server();

    ok(&run(
        &server,
        &[
            "config",
            "alter",
            "--broker-defaults",
            "--add-config",
            "log.retention.ms=3600000,log.cleanup.policy=[delete,compact]",
        ],
    ));
    let set = run(
        &server,
        &[
            "config",
            "alter",
            "--entity-type",
            "brokers",
            "--entity-name",
            "1",
            "--add-config",
            "message.max.bytes=2000000",
        ],
    );
    ok(&set);
    assert!(
        set.stdout
            .contains("broker 1: message.max.bytes set to 2000000"),
        "{}",
        set.stdout
    );

    let defaults = run(
        &server,
        &[
            "config",
            "describe",
            "--entity-type",
            "brokers",
            "--entity-default",
        ],
    );
    ok(&defaults);
    for needle in [
        "log.retention.ms",
        "3600000",
        "log.cleanup.policy",
        "delete,compact",
        "DYNAMIC_DEFAULT_BROKER_CONFIG",
    ] {
        assert!(
            defaults.stdout.contains(needle),
            "{needle} in\n{}",
            defaults.stdout
        );
    }

    // Broker 1's dynamic configs: its own and the defaults it takes.
    let json = run(
        &server,
        &["config", "describe", "--broker", "1", "-o", "json"],
    );
    ok(&json);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON output");
    let rows = parsed.as_array().expect("an array");
    let find = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {parsed}"))
            .clone()
    };
    assert_eq!(find("message.max.bytes")["source"], "DYNAMIC_BROKER_CONFIG");
    assert_eq!(find("message.max.bytes")["value"], "2000000");
    assert_eq!(
        find("log.retention.ms")["source"],
        "DYNAMIC_DEFAULT_BROKER_CONFIG"
    );
    assert!(
        rows.iter().all(|r| r["name"] != "node.id"),
        "static configs only with --all"
    );

    let all = run(&server, &["config", "describe", "--broker", "1", "--all"]);
    ok(&all);
    let node_line = all
        .stdout
        .lines()
        .find(|l| l.starts_with("node.id "))
        .unwrap_or_else(|| panic!("node.id in\n{}", all.stdout));
    assert!(
        node_line.contains("DEFAULT_CONFIG") && node_line.trim_end().ends_with("true"),
        "{node_line}"
    );
    assert!(all.stdout.contains("READ-ONLY"), "{}", all.stdout);

    // A topic: its override, and the broker default it takes otherwise.
    let topic = run(
        &server,
        &[
            "topic",
            "create",
            "cfgtopic",
            "--partitions",
            "1",
            "--config",
            "retention.ms=5000",
        ],
    );
    ok(&topic);
    let described = run(&server, &["config", "describe", "--topic", "cfgtopic"]);
    ok(&described);
    assert!(
        described.stdout.contains("retention.ms")
            && described.stdout.contains("DYNAMIC_TOPIC_CONFIG"),
        "{}",
        described.stdout
    );
    ok(&run(
        &server,
        &[
            "config",
            "alter",
            "--topic",
            "cfgtopic",
            "--delete-config",
            "retention.ms",
        ],
    ));
    let all_topic = run(
        &server,
        &["config", "describe", "--topic", "cfgtopic", "--all"],
    );
    ok(&all_topic);
    let retention = all_topic
        .stdout
        .lines()
        .find(|l| l.starts_with("retention.ms "))
        .unwrap_or_else(|| panic!("retention.ms in\n{}", all_topic.stdout));
    assert!(
        retention.contains("3600000") && retention.contains("DYNAMIC_DEFAULT_BROKER_CONFIG"),
        "{retention}"
    );

    // Refusals come back with the broker's code and message.
    let read_only = run(
        &server,
        &[
            "config",
            "alter",
            "--broker",
            "1",
            "--add-config",
            "node.id=5",
        ],
    );
    assert_ne!(read_only.code, 0);
    assert!(
        read_only.stderr.contains("INVALID_REQUEST")
            && read_only
                .stderr
                .contains("Cannot update these configs dynamically: Set(node.id)"),
        "{}",
        read_only.stderr
    );
    let unknown = run(
        &server,
        &[
            "config",
            "alter",
            "--broker-defaults",
            "--add-config",
            "log.retention.weeks=1",
        ],
    );
    assert_ne!(unknown.code, 0);
    assert!(
        unknown.stderr.contains("INVALID_CONFIG"),
        "{}",
        unknown.stderr
    );

    // Validate only: checked, not stored.
    let validated = run(
        &server,
        &[
            "config",
            "alter",
            "--broker-defaults",
            "--add-config",
            "log.segment.bytes=1048576",
            "--validate-only",
        ],
    );
    ok(&validated);
    assert!(
        validated.stdout.contains("validate only"),
        "{}",
        validated.stdout
    );
    let after = run(&server, &["config", "describe", "--broker-defaults"]);
    ok(&after);
    assert!(
        !after.stdout.contains("log.segment.bytes"),
        "{}",
        after.stdout
    );

    // Deleting the defaults leaves none.
    ok(&run(
        &server,
        &[
            "config",
            "alter",
            "--broker-defaults",
            "--delete-config",
            "log.retention.ms,log.cleanup.policy",
        ],
    ));
    let empty = run(&server, &["config", "describe", "--broker-defaults"]);
    ok(&empty);
    assert!(empty.stdout.is_empty(), "{}", empty.stdout);
    assert!(
        empty.stderr.contains("no dynamic configs"),
        "{}",
        empty.stderr
    );

    // A bad entity or change is caught before any request.
    let no_entity = sluice_cli(&["config", "describe", "-b", "127.0.0.1:1"]);
    assert_ne!(no_entity.code, 0);
    assert!(
        no_entity.stderr.contains("name the entity"),
        "{}",
        no_entity.stderr
    );
    let nothing = sluice_cli(&["config", "alter", "--broker", "1", "-b", "127.0.0.1:1"]);
    assert_ne!(nothing.code, 0);
    assert!(
        nothing.stderr.contains("nothing to alter"),
        "{}",
        nothing.stderr
    );
}

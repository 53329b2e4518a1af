//! Argument parsing of every client command, through clap as the binary will use it.

use clap::{CommandFactory, Parser};

use crate::cluster::{ClusterCommand, OutputFormat};
use crate::group::{GroupCommand, ResetOffsetsArgs};
use crate::producer_options::{Acks, Compression};
use crate::topic::TopicCommand;
use crate::txn::{ProducersCommand, TxnCommand, TxnListArgs};
use crate::ClientCommand;

#[derive(Parser, Debug)]
#[command(name = "sluice")]
struct Cli {
    #[command(subcommand)]
    command: ClientCommand,
}

fn parse(args: &[&str]) -> Result<ClientCommand, clap::Error> {
    Cli::try_parse_from(std::iter::once("sluice").chain(args.iter().copied())).map(|c| c.command)
}

fn kv(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[test]
fn command_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn topic_create_with_everything() {
    let ClientCommand::Topic(args) = parse(&[
        "topic",
        "create",
        "orders",
        "--partitions",
        "6",
        "--replication-factor",
        "3",
        "--config",
        "retention.ms=1000",
        "--config",
        "cleanup.policy=compact",
        "-b",
        "h1:9092,h2:9092",
        "-X",
        "socket.timeout.ms=5000",
    ])
    .expect("valid") else {
        panic!("not a topic command");
    };
    assert_eq!(args.connect.bootstrap_server, "h1:9092,h2:9092");
    assert_eq!(
        args.connect.properties,
        vec![kv("socket.timeout.ms", "5000")]
    );
    assert_eq!(
        args.command,
        TopicCommand::Create {
            name: "orders".into(),
            partitions: Some(6),
            replication_factor: Some(3),
            configs: vec![kv("retention.ms", "1000"), kv("cleanup.policy", "compact")],
        }
    );
}

#[test]
fn connection_flags_work_before_the_subcommand_too() {
    let ClientCommand::Topic(args) = parse(&["topic", "-b", "x:1", "list"]).expect("valid") else {
        panic!("not a topic command");
    };
    assert_eq!(args.connect.bootstrap_server, "x:1");
    assert_eq!(args.command, TopicCommand::List);
}

#[test]
fn topic_alter_and_delete() {
    let ClientCommand::Topic(args) = parse(&[
        "topic",
        "alter",
        "t",
        "--partitions",
        "12",
        "--delete-config",
        "retention.ms",
        "--config",
        "segment.bytes=1048576",
    ])
    .expect("valid") else {
        panic!("not a topic command");
    };
    assert_eq!(
        args.command,
        TopicCommand::Alter {
            name: "t".into(),
            partitions: Some(12),
            configs: vec![kv("segment.bytes", "1048576")],
            delete_configs: vec!["retention.ms".into()],
        }
    );
    assert!(parse(&["topic", "delete"]).is_err(), "name is required");
    assert!(parse(&["topic", "create", "t", "--config", "novalue"]).is_err());
}

#[test]
fn produce_flags() {
    let ClientCommand::Produce(args) = parse(&[
        "produce",
        "t",
        "--file",
        "in.txt",
        "--key-separator",
        "::",
        "--header",
        "a=1",
        "--header",
        "b=x=y",
        "--partition",
        "2",
        "--acks",
        "1",
        "--compression",
        "zstd",
    ])
    .expect("valid") else {
        panic!("not produce");
    };
    assert_eq!(args.topic, "t");
    assert_eq!(args.file.as_deref(), Some(std::path::Path::new("in.txt")));
    assert_eq!(args.key_separator.as_deref(), Some("::"));
    assert_eq!(args.headers, vec![kv("a", "1"), kv("b", "x=y")]);
    assert_eq!(args.partition, Some(2));
    assert_eq!(args.acks, Acks::Leader);
    assert_eq!(args.compression, Some(Compression::Zstd));
}

#[test]
fn produce_defaults_and_bad_values() {
    let ClientCommand::Produce(args) = parse(&["produce", "t"]).expect("valid") else {
        panic!("not produce");
    };
    assert_eq!(args.acks, Acks::All);
    assert_eq!(args.compression, None);
    assert!(args.connect.properties.is_empty());
    assert!(parse(&["produce", "t", "--acks", "2"]).is_err());
    assert!(parse(&["produce", "t", "--compression", "brotli"]).is_err());
    assert!(parse(&["produce", "t", "--key-separator", ""]).is_err());
    let ClientCommand::Produce(args) = parse(&["produce", "t", "--acks", "-1"]).expect("valid")
    else {
        panic!("not produce");
    };
    assert_eq!(args.acks, Acks::All);
}

#[test]
fn consume_flags() {
    let ClientCommand::Consume(args) = parse(&[
        "consume",
        "t",
        "--from-beginning",
        "--partition",
        "0",
        "-n",
        "10",
        "--timeout-ms",
        "500",
        "--exit-at-end",
        "--format",
        "%k=%v\\n",
    ])
    .expect("valid") else {
        panic!("not consume");
    };
    assert!(args.from_beginning);
    assert_eq!(args.partition, Some(0));
    assert_eq!(args.count, Some(10));
    assert_eq!(args.timeout_ms, Some(500));
    assert!(args.exit_at_end);
    assert!(args.format.is_some());
}

#[test]
fn consume_start_positions_exclude_each_other() {
    assert!(parse(&["consume", "t", "--from-beginning", "--from-end"]).is_err());
    assert!(parse(&["consume", "t", "--offset", "5", "--timestamp", "1"]).is_err());
    assert!(parse(&["consume", "t", "--format", "%z"]).is_err());
    let ClientCommand::Consume(args) = parse(&["consume", "t", "--offset", "5"]).expect("valid")
    else {
        panic!("not consume");
    };
    assert_eq!(args.offset, Some(5));
}

#[test]
fn bench_is_accepted_and_left_to_the_run_to_explain() {
    let ClientCommand::Bench(args) =
        parse(&["bench", "produce", "--topic", "t", "-X", "a=b"]).expect("valid")
    else {
        panic!("not bench");
    };
    assert_eq!(args.rest, vec!["produce", "--topic", "t", "-X", "a=b"]);
}

fn txn_command(args: &[&str]) -> TxnCommand {
    match parse(args) {
        Ok(ClientCommand::Txn(txn)) => txn.command,
        other => panic!("not a txn command: {other:?}"),
    }
}

#[test]
fn txn_list_filters_and_describe_ids() {
    assert_eq!(
        txn_command(&["txn", "list"]),
        TxnCommand::List(TxnListArgs {
            states: vec![],
            producer_ids: vec![],
            min_duration_ms: None,
        })
    );
    assert_eq!(
        txn_command(&[
            "txn",
            "list",
            "--state",
            "Ongoing",
            "--state",
            "PrepareCommit",
            "--producer-id",
            "7",
            "--producer-id",
            "9",
            "--min-duration-ms",
            "5000",
        ]),
        TxnCommand::List(TxnListArgs {
            states: vec!["Ongoing".into(), "PrepareCommit".into()],
            producer_ids: vec![7, 9],
            min_duration_ms: Some(5000),
        })
    );
    assert!(parse(&["txn", "list", "--producer-id", "-1"]).is_err());
    assert!(parse(&["txn", "list", "--min-duration-ms", "soon"]).is_err());
    assert_eq!(
        txn_command(&["txn", "describe", "a", "b"]),
        TxnCommand::Describe {
            transactional_ids: vec!["a".into(), "b".into()]
        }
    );
    assert!(parse(&["txn", "describe"]).is_err(), "an id is required");
}

#[test]
fn producers_describe_topic_and_partitions() {
    let Ok(ClientCommand::Producers(args)) = parse(&[
        "producers",
        "describe",
        "orders",
        "--partition",
        "0,2",
        "--partition",
        "5",
        "-b",
        "h:1",
    ]) else {
        panic!("not a producers command");
    };
    assert_eq!(args.connect.bootstrap_server, "h:1");
    assert_eq!(
        args.command,
        ProducersCommand::Describe {
            topic: "orders".into(),
            partitions: vec![0, 2, 5],
        }
    );
    assert!(
        parse(&["producers", "describe"]).is_err(),
        "a topic is required"
    );
}

fn group_command(args: &[&str]) -> GroupCommand {
    match parse(args) {
        Ok(ClientCommand::Group(group)) => group.command,
        other => panic!("not a group command: {other:?}"),
    }
}

fn reset_args(args: &[&str]) -> ResetOffsetsArgs {
    let mut full = vec!["group", "reset-offsets"];
    full.extend_from_slice(args);
    match group_command(&full) {
        GroupCommand::ResetOffsets(reset) => reset,
        other => panic!("not reset-offsets: {other:?}"),
    }
}

#[test]
fn group_list_describe_and_delete() {
    let ClientCommand::Group(args) =
        parse(&["group", "list", "-b", "h:1", "-X", "client.id=x"]).expect("valid")
    else {
        panic!("not a group command");
    };
    assert_eq!(args.connect.bootstrap_server, "h:1");
    assert_eq!(args.connect.properties, vec![kv("client.id", "x")]);
    assert_eq!(args.command, GroupCommand::List);
    assert_eq!(
        group_command(&["group", "describe", "billing"]),
        GroupCommand::Describe {
            group: "billing".into()
        }
    );
    assert_eq!(
        group_command(&["group", "delete", "a", "b"]),
        GroupCommand::Delete {
            groups: vec!["a".into(), "b".into()]
        }
    );
    assert!(parse(&["group", "describe"]).is_err(), "group is required");
    assert!(parse(&["group", "delete"]).is_err(), "a group is required");
}

#[test]
fn group_reset_offsets_modes() {
    let args = reset_args(&["g", "--topic", "t", "--to-earliest", "--dry-run"]);
    assert_eq!(args.group, "g");
    assert_eq!(args.topic, "t");
    assert!(args.to_earliest && args.dry_run);
    assert!(args.partitions.is_empty());

    let args = reset_args(&["g", "--topic", "t", "--shift-by", "-5"]);
    assert_eq!(args.shift_by, Some(-5));
    let args = reset_args(&["g", "--topic", "t", "--shift-by", "3"]);
    assert_eq!(args.shift_by, Some(3));
    let args = reset_args(&["g", "--topic", "t", "--to-offset", "42"]);
    assert_eq!(args.to_offset, Some(42));
    let args = reset_args(&["g", "--topic", "t", "--to-latest"]);
    assert!(args.to_latest);
    let args = reset_args(&["g", "--topic", "t", "--to-datetime", "2026-11-30T10:00:00Z"]);
    assert_eq!(args.to_datetime, Some(1_796_032_800_000));

    // --partition is repeatable and takes comma-separated lists.
    let args = reset_args(&[
        "g",
        "--topic",
        "t",
        "--partition",
        "0,2",
        "--partition",
        "5",
        "--to-latest",
    ]);
    assert_eq!(args.partitions, vec![0, 2, 5]);
}

#[test]
fn group_reset_offsets_needs_exactly_one_mode() {
    let none = parse(&["group", "reset-offsets", "g", "--topic", "t"]).expect_err("no mode");
    assert_eq!(
        none.kind(),
        clap::error::ErrorKind::MissingRequiredArgument,
        "{none}"
    );
    let two = parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--to-offset",
        "3",
    ])
    .expect_err("two modes");
    assert_eq!(
        two.kind(),
        clap::error::ErrorKind::ArgumentConflict,
        "{two}"
    );
    assert!(
        parse(&["group", "reset-offsets", "g", "--to-earliest"]).is_err(),
        "--topic"
    );
    assert!(parse(&["group", "reset-offsets", "--topic", "t", "--to-earliest"]).is_err());
    let bad_time = parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-datetime",
        "yesterday",
    ])
    .expect_err("bad datetime");
    assert!(
        bad_time
            .to_string()
            .contains("invalid date-time 'yesterday'"),
        "{bad_time}"
    );
    assert!(parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-offset",
        "-1"
    ])
    .is_err());
    assert!(parse(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--partition",
        "x",
        "--to-latest"
    ])
    .is_err());
}

#[test]
fn cluster_status_output_and_bootstrap_server() {
    let ClientCommand::Cluster(args) = parse(&["cluster", "status"]).expect("valid") else {
        panic!("not a cluster command");
    };
    assert_eq!(
        args.command,
        ClusterCommand::Status {
            output: OutputFormat::Text
        }
    );
    assert_eq!(args.connect.bootstrap_server, "127.0.0.1:9092");

    let ClientCommand::Cluster(args) = parse(&[
        "cluster",
        "status",
        "--output",
        "json",
        "--bootstrap-server",
        "h1:19092,h2:19094",
    ])
    .expect("valid") else {
        panic!("not a cluster command");
    };
    assert_eq!(
        args.command,
        ClusterCommand::Status {
            output: OutputFormat::Json
        }
    );
    assert_eq!(args.connect.bootstrap_server, "h1:19092,h2:19094");

    let ClientCommand::Cluster(args) = parse(&["cluster", "-b", "x:1", "status"]).expect("valid")
    else {
        panic!("not a cluster command");
    };
    assert_eq!(args.connect.bootstrap_server, "x:1");

    assert!(parse(&["cluster", "status", "--output", "yaml"]).is_err());
    assert!(parse(&["cluster"]).is_err());
}

#[test]
fn partition_elect_type_topic_and_partitions() {
    use crate::partition::{ElectArgs, ElectionKind, PartitionCommand};

    let ClientCommand::Partition(args) = parse(&["partition", "elect"]).expect("valid") else {
        panic!("not a partition command");
    };
    assert_eq!(
        args.command,
        PartitionCommand::Elect(ElectArgs {
            election: ElectionKind::Preferred,
            topic: None,
            partitions: vec![],
        })
    );

    let ClientCommand::Partition(args) = parse(&[
        "partition",
        "elect",
        "--type",
        "unclean",
        "--topic",
        "orders",
        "--partition",
        "0,2",
        "--partition",
        "5",
        "-b",
        "h:1",
    ])
    .expect("valid") else {
        panic!("not a partition command");
    };
    assert_eq!(
        args.command,
        PartitionCommand::Elect(ElectArgs {
            election: ElectionKind::Unclean,
            topic: Some("orders".to_string()),
            partitions: vec![0, 2, 5],
        })
    );
    assert_eq!(args.connect.bootstrap_server, "h:1");

    // --partition needs --topic; only Kafka's two election types; no negative partitions.
    assert!(parse(&["partition", "elect", "--partition", "0"]).is_err());
    assert!(parse(&["partition", "elect", "--type", "controlled"]).is_err());
    assert!(parse(&["partition", "elect", "--topic", "t", "--partition", "-1"]).is_err());
    assert!(parse(&["partition"]).is_err());
}

#[test]
fn acl_create_takes_kafka_acls_flags() {
    use crate::acl::{AclCommand, AclCreateArgs, ResourceArgs};
    use sluice_security::acl::{AclOperation, PatternType};

    let ClientCommand::Acl(args) = parse(&[
        "acl",
        "create",
        "--principal",
        "User:alice",
        "--allow-principal",
        "User:bob",
        "--deny-principal",
        "User:mallory",
        "--operation",
        "write",
        "--operation",
        "Describe",
        "--topic",
        "orders-",
        "--resource-pattern-type",
        "PREFIXED",
        "--host",
        "10.0.0.1",
        "-b",
        "h:1",
        "--command-config",
        "admin.properties",
    ])
    .expect("valid") else {
        panic!("not an acl command");
    };
    assert_eq!(args.connect.bootstrap_server, "h:1");
    assert_eq!(
        args.connect.command_config.as_deref(),
        Some(std::path::Path::new("admin.properties"))
    );
    assert_eq!(
        args.command,
        AclCommand::Create(AclCreateArgs {
            principals: vec!["User:alice".into()],
            allow_principals: vec!["User:bob".into()],
            deny_principals: vec!["User:mallory".into()],
            deny: false,
            operations: vec![AclOperation::Write, AclOperation::Describe],
            resource: ResourceArgs {
                topic: Some("orders-".into()),
                ..ResourceArgs::default()
            },
            pattern_type: PatternType::Prefixed,
            hosts: vec!["10.0.0.1".into()],
        })
    );

    // Defaults: literal, every host, ALLOW.
    let ClientCommand::Acl(args) = parse(&[
        "acl",
        "create",
        "--principal",
        "User:alice",
        "--operation",
        "alter",
        "--cluster",
        "--deny",
    ])
    .expect("valid") else {
        panic!("not an acl command");
    };
    let AclCommand::Create(create) = args.command else {
        panic!("not acl create");
    };
    assert!(create.resource.cluster && create.deny);
    assert_eq!(create.pattern_type, PatternType::Literal);
    assert_eq!(create.hosts, ["*"]);

    let base = [
        "acl",
        "create",
        "--principal",
        "User:a",
        "--operation",
        "read",
    ];
    let with = |more: &[&'static str]| {
        let mut all = base.to_vec();
        all.extend_from_slice(more);
        parse(&all)
    };
    assert!(with(&["--topic", "t"]).is_ok());
    // Exactly one resource.
    assert!(with(&[]).is_err());
    assert!(with(&["--topic", "t", "--group", "g"]).is_err());
    assert!(with(&["--topic", "t", "--cluster"]).is_err());
    // Bindings take literal or prefixed only, concrete operations only.
    assert!(with(&["--topic", "t", "--resource-pattern-type", "match"]).is_err());
    assert!(with(&["--topic", "t", "--operation", "any"]).is_err());
    // Principals are Type:name; --deny needs --principal.
    let err = parse(&[
        "acl",
        "create",
        "--principal",
        "alice",
        "--operation",
        "read",
        "--topic",
        "t",
    ])
    .expect_err("not a principal");
    assert!(
        err.to_string()
            .contains("'alice' is not a principal: write Type:name, as User:alice"),
        "{err}"
    );
    assert!(parse(&[
        "acl",
        "create",
        "--allow-principal",
        "User:a",
        "--deny",
        "--operation",
        "read",
        "--topic",
        "t"
    ])
    .is_err());
    assert!(parse(&["acl", "create", "--operation", "read", "--topic", "t"]).is_err());
    assert!(parse(&["acl", "create", "--principal", "User:a", "--topic", "t"]).is_err());
}

#[test]
fn acl_list_and_delete_take_a_filter() {
    use crate::acl::{AclCommand, ResourceArgs};
    use sluice_security::acl::{AclOperation, PatternType};

    let ClientCommand::Acl(args) = parse(&["acl", "list"]).expect("valid") else {
        panic!("not an acl command");
    };
    let AclCommand::List(list) = args.command else {
        panic!("not acl list");
    };
    assert_eq!(list.output, OutputFormat::Text);
    assert_eq!(list.filter.resource, ResourceArgs::default());
    assert_eq!(list.filter.pattern_type, None);

    let ClientCommand::Acl(args) = parse(&[
        "acl",
        "list",
        "--principal",
        "User:alice",
        "--group",
        "g",
        "--resource-pattern-type",
        "match",
        "--operation",
        "read",
        "-o",
        "json",
    ])
    .expect("valid") else {
        panic!("not an acl command");
    };
    let AclCommand::List(list) = args.command else {
        panic!("not acl list");
    };
    assert_eq!(list.output, OutputFormat::Json);
    assert_eq!(list.filter.principals, ["User:alice"]);
    assert_eq!(list.filter.resource.group.as_deref(), Some("g"));
    assert_eq!(list.filter.pattern_type, Some(PatternType::Match));
    assert_eq!(list.filter.operations, [AclOperation::Read]);
    for output in ["table", "text"] {
        let ClientCommand::Acl(args) = parse(&["acl", "list", "--output", output]).expect("valid")
        else {
            panic!("not an acl command");
        };
        assert!(matches!(
            args.command,
            AclCommand::List(ref list) if list.output == OutputFormat::Text
        ));
    }
    assert!(parse(&["acl", "list", "--operation", "any"]).is_ok());
    assert!(parse(&["acl", "list", "--resource-pattern-type", "any"]).is_ok());
    assert!(parse(&["acl", "list", "--topic", "a", "--group", "b"]).is_err());
    assert!(parse(&["acl", "list", "-o", "yaml"]).is_err());

    let ClientCommand::Acl(args) = parse(&[
        "acl",
        "delete",
        "--topic",
        "orders-",
        "--resource-pattern-type",
        "prefixed",
        "--force",
    ])
    .expect("valid") else {
        panic!("not an acl command");
    };
    let AclCommand::Delete(delete) = args.command else {
        panic!("not acl delete");
    };
    assert!(delete.force);
    assert_eq!(delete.filter.resource.topic.as_deref(), Some("orders-"));
    assert_eq!(delete.filter.pattern_type, Some(PatternType::Prefixed));
    assert!(parse(&["acl", "delete", "--cluster", "--user", "u"]).is_err());
}

#[test]
fn quota_describe_and_alter_flags() {
    use crate::quota::{EntityArgs, QuotaAlterArgs, QuotaCommand, QuotaDescribeArgs};

    let ClientCommand::Quota(args) = parse(&["quota", "describe"]).expect("valid") else {
        panic!("not a quota command");
    };
    assert_eq!(
        args.command,
        QuotaCommand::Describe(QuotaDescribeArgs {
            entity: EntityArgs::default(),
            strict: false,
            output: OutputFormat::Text,
        })
    );
    let ClientCommand::Quota(args) = parse(&[
        "quota",
        "describe",
        "--user",
        "alice",
        "--client-id-default",
        "--strict",
        "-o",
        "json",
    ])
    .expect("valid") else {
        panic!("not a quota command");
    };
    assert_eq!(
        args.command,
        QuotaCommand::Describe(QuotaDescribeArgs {
            entity: EntityArgs {
                user: Some("alice".into()),
                user_default: false,
                client_id: None,
                client_id_default: true,
                ..EntityArgs::default()
            },
            strict: true,
            output: OutputFormat::Json,
        })
    );
    assert!(parse(&["quota", "describe", "--user", "a", "--user-default"]).is_err());
    // An address stands alone.
    assert!(parse(&[
        "quota",
        "alter",
        "--ip",
        "127.0.0.1",
        "--user",
        "a",
        "--add",
        "x=1"
    ])
    .is_err());
    assert!(parse(&["quota", "alter", "--ip", "not-an-ip", "--add", "x=1"]).is_err());
    let ClientCommand::Quota(args) = parse(&[
        "quota",
        "alter",
        "--ip-default",
        "--add",
        "connection_creation_rate=10",
    ])
    .expect("valid") else {
        panic!("not a quota command");
    };
    let QuotaCommand::Alter(alter) = args.command else {
        panic!("not alter");
    };
    assert!(alter.entity.ip_default && alter.entity.ip.is_none());
    assert!(parse(&[
        "quota",
        "describe",
        "--client-id",
        "a",
        "--client-id-default"
    ])
    .is_err());

    let ClientCommand::Quota(args) = parse(&[
        "quota",
        "alter",
        "--user-default",
        "--client-id",
        "app",
        "--add",
        "producer_byte_rate=1048576",
        "--add-config",
        "request_percentage=50",
        "--delete",
        "consumer_byte_rate",
        "--delete-config",
        "controller_mutation_rate",
        "--validate-only",
        "-b",
        "h:1",
    ])
    .expect("valid") else {
        panic!("not a quota command");
    };
    assert_eq!(args.connect.bootstrap_server, "h:1");
    assert_eq!(
        args.command,
        QuotaCommand::Alter(QuotaAlterArgs {
            entity: EntityArgs {
                user: None,
                user_default: true,
                client_id: Some("app".into()),
                client_id_default: false,
                ..EntityArgs::default()
            },
            add: vec![
                kv("producer_byte_rate", "1048576"),
                kv("request_percentage", "50")
            ],
            delete: vec![
                "consumer_byte_rate".into(),
                "controller_mutation_rate".into()
            ],
            validate_only: true,
        })
    );
    // An entity and a change are required; key=value is checked by clap.
    assert!(parse(&["quota", "alter", "--add", "producer_byte_rate=1"]).is_err());
    assert!(parse(&["quota", "alter", "--user", "a"]).is_err());
    assert!(parse(&[
        "quota",
        "alter",
        "--user",
        "a",
        "--add",
        "producer_byte_rate"
    ])
    .is_err());
}

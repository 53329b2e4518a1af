//! The group commands' cluster calls against librdkafka's in-process mock cluster, which has a
//! group coordinator for OffsetCommit/OffsetFetch and answers ListOffsets, but no ListGroups,
//! DescribeGroups or DeleteGroups: those, and the full commands, are covered by the tests
//! against a real broker (crates/sluice/tests/group_cli.rs). The mock also answers every
//! ListOffsets-by-time with "no such record".

use rdkafka::mocking::MockCluster;

use super::assignment::Assignment;
use super::describe::{GroupDescription, InstanceId, Member, MemberAssignment, OffsetRow};
use super::group_client::GroupClient;
use super::reset::ResetMode;
use super::{offset_rows, plan_reset, Warnings};
use crate::connection::ConnectArgs;
use crate::produce::{produce_lines, ProduceArgs};

/// A mock cluster with topic `t`: 10 records in partition 0, 4 in partition 1, none in 2.
fn cluster_with_records() -> (
    MockCluster<'static, impl rdkafka::ClientContext>,
    ConnectArgs,
) {
    let cluster = MockCluster::new(1).expect("mock cluster starts");
    cluster
        .create_topic("t", 3, 1)
        .expect("mock topic is created");
    let connect = ConnectArgs {
        bootstrap_server: cluster.bootstrap_servers(),
        properties: Vec::new(),
    };
    for (partition, count) in [("0", 10), ("1", 4)] {
        let args = produce_args(&connect, partition);
        let input = "r\n".repeat(count);
        assert_eq!(
            produce_lines(&args, input.as_bytes()).expect("produce"),
            count as u64
        );
    }
    (cluster, connect)
}

fn produce_args(connect: &ConnectArgs, partition: &str) -> ProduceArgs {
    use clap::Parser;
    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        inner: ProduceArgs,
    }
    let bootstrap = connect.bootstrap_server.clone();
    Wrapper::try_parse_from(["sluice", "-b", &bootstrap, "t", "--partition", partition])
        .expect("valid produce arguments")
        .inner
}

#[test]
fn committed_offsets_round_trip_through_the_coordinator() {
    let (_cluster, connect) = cluster_with_records();
    let client = GroupClient::connect(&connect, "g").expect("client");
    client.commit("t", &[(0, 3), (1, 1)]).expect("commit");
    let asked = vec![
        ("t".to_string(), 0),
        ("t".to_string(), 1),
        ("t".to_string(), 2),
    ];
    let (committed, problems) = client.committed_offsets(&asked).expect("offset fetch");
    assert!(problems.is_empty(), "{problems:?}");
    let committed: Vec<_> = committed.into_iter().collect();
    assert_eq!(
        committed,
        vec![(("t".to_string(), 0), 3), (("t".to_string(), 1), 1)]
    );
    assert_eq!(client.watermarks("t", 0).expect("watermarks"), (0, 10));
    assert_eq!(client.watermarks("t", 2).expect("watermarks"), (0, 0));
    let log_ends: Vec<_> = client
        .log_end_offsets(&asked)
        .expect("log end offsets")
        .into_iter()
        .collect();
    assert_eq!(
        log_ends,
        vec![
            (("t".to_string(), 0), Ok(10)),
            (("t".to_string(), 1), Ok(4)),
            (("t".to_string(), 2), Ok(0)),
        ]
    );

    // Another group sees none of it.
    let other = GroupClient::connect(&connect, "other").expect("client");
    let (committed, _) = other.committed_offsets(&asked).expect("offset fetch");
    assert!(committed.is_empty(), "{committed:?}");
}

#[test]
fn every_reset_mode_plans_from_the_cluster_offsets() {
    let (_cluster, connect) = cluster_with_records();
    let client = GroupClient::connect(&connect, "g").expect("client");
    client.commit("t", &[(0, 3), (1, 1)]).expect("commit");
    let plan = |partitions: &[u32], mode| plan_reset(&client, "t", partitions, mode);

    assert_eq!(
        plan(&[], ResetMode::Earliest).expect("plan"),
        vec![(0, 0), (1, 0), (2, 0)]
    );
    assert_eq!(
        plan(&[], ResetMode::Latest).expect("plan"),
        vec![(0, 10), (1, 4), (2, 0)]
    );
    assert_eq!(
        plan(&[], ResetMode::Offset(7)).expect("plan"),
        vec![(0, 7), (1, 4), (2, 0)]
    );
    assert_eq!(
        plan(&[1, 0], ResetMode::ShiftBy(2)).expect("plan"),
        vec![(0, 5), (1, 3)]
    );
    assert_eq!(
        plan(&[0, 1], ResetMode::ShiftBy(-2)).expect("plan"),
        vec![(0, 1), (1, 0)]
    );
    // The mock finds no record by time, so every partition goes to its end.
    assert_eq!(
        plan(&[0], ResetMode::Datetime(1_000)).expect("plan"),
        vec![(0, 10)]
    );

    let err = plan(&[], ResetMode::ShiftBy(1)).expect_err("partition 2 was never committed");
    assert_eq!(
        err.to_string(),
        "topic 't': partition 2 has no committed offset to shift by 1"
    );
    let err = plan(&[9], ResetMode::Earliest).expect_err("no partition 9");
    assert_eq!(err.to_string(), "topic 't' has no partition 9 (it has 3)");
    let err = plan_reset(&client, "missing", &[], ResetMode::Earliest).expect_err("no topic");
    assert_eq!(
        err.to_string(),
        "topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    );
}

#[test]
fn describe_rows_join_commits_assignments_and_log_ends() {
    let (_cluster, connect) = cluster_with_records();
    let client = GroupClient::connect(&connect, "g").expect("client");
    client.commit("t", &[(0, 3)]).expect("commit");
    let description = GroupDescription {
        name: "g".to_string(),
        state: "Stable".to_string(),
        protocol_type: "consumer".to_string(),
        protocol: "range".to_string(),
        members: vec![Member {
            member_id: "m-1".to_string(),
            group_instance_id: InstanceId::Unknown,
            client_id: "c".to_string(),
            host: "/127.0.0.1".to_string(),
            assignment: MemberAssignment::Consumer(Assignment {
                topics: vec![("t".to_string(), vec![1])],
            }),
        }],
    };
    let mut warnings = Warnings::default();
    let rows = offset_rows(&client, &description, &mut warnings).expect("rows");
    assert!(warnings.shown.is_empty(), "{:?}", warnings.shown);
    assert_eq!(
        rows,
        vec![
            OffsetRow {
                topic: "t".to_string(),
                partition: 0,
                current_offset: Some(3),
                log_end_offset: Some(10),
                consumer_id: None,
            },
            OffsetRow {
                topic: "t".to_string(),
                partition: 1,
                current_offset: None,
                log_end_offset: Some(4),
                consumer_id: Some("m-1".to_string()),
            },
        ]
    );
    assert_eq!(rows[0].lag(), Some(7));
}

/// A member assigned a topic that is gone: its rows say what could not be read instead of
/// failing the whole lookup.
#[test]
fn partitions_of_a_missing_topic_are_reported_one_by_one() {
    let (_cluster, connect) = cluster_with_records();
    let client = GroupClient::connect(&connect, "g").expect("client");
    let asked = [("missing".to_string(), 0), ("t".to_string(), 0)];
    let log_ends = client.log_end_offsets(&asked).expect("log end offsets");
    assert_eq!(
        log_ends.get(&asked[0]),
        Some(&Err(
            "log end offset of 'missing' partition 0: Broker: Unknown topic or \
                   partition (UNKNOWN_TOPIC_OR_PARTITION)"
                .to_string()
        ))
    );
    assert_eq!(log_ends.get(&asked[1]), Some(&Ok(10)));
    let (committed, problems) = client.committed_offsets(&asked).expect("offset fetch");
    assert!(committed.is_empty(), "{committed:?}");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("committed offset of 'missing' partition 0: "));
}

//! The group commands' requests against a real Sluice broker in the test process: commits and
//! committed offsets, partition offsets, every reset mode, describe rows, listing and deleting.

use std::collections::BTreeMap;

use super::assignment::Assignment;
use super::describe::{GroupDescription, InstanceId, Member, MemberAssignment, OffsetRow};
use super::group_client::GroupClient;
use super::reset::ResetMode;
use super::{offset_rows, plan_reset, Warnings};
use crate::connect_args::ConnectArgs;
use crate::produce::{produce_lines, ProduceArgs};
use crate::test_broker::parse;
use crate::topic::{self, TopicArgs};
use crate::wire::list_offsets::{EARLIEST, LATEST};
use sluice_testkit::TestBroker;

/// A broker with topic `t` of three partitions holding 10, 4 and 0 records.
async fn broker_with_records() -> (TestBroker, ConnectArgs) {
    let broker = TestBroker::start(&[]);
    let addr = broker.addr();
    topic::run(parse::<TopicArgs>(&[
        "-b",
        &addr,
        "create",
        "t",
        "--partitions",
        "3",
    ]))
    .await
    .expect("topic created");
    for (partition, input) in [
        ("0", &b"0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"[..]),
        ("1", b"a\nb\nc\nd\n"),
    ] {
        let args: ProduceArgs = parse(&["-b", &addr, "t", "--partition", partition]);
        produce_lines(&args, Box::new(input))
            .await
            .expect("produced");
    }
    let connect: ConnectArgs = parse(&["-b", &addr]);
    (broker, connect)
}

fn offsets_of(
    found: BTreeMap<i32, Result<crate::wire::list_offsets::FoundOffset, crate::wire::RequestError>>,
) -> Vec<(i32, i64)> {
    found
        .into_iter()
        .map(|(p, f)| (p, f.expect("offset").offset))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_round_trip_through_the_coordinator() {
    let (broker, connect) = broker_with_records().await;
    let mut client = GroupClient::connect(&connect).expect("client");
    client
        .commit("g", "t", &[(0, 3), (1, 1)])
        .await
        .expect("commit");
    let asked = vec![
        ("t".to_string(), 0),
        ("t".to_string(), 1),
        ("t".to_string(), 2),
    ];
    let (committed, problems) = client.committed_offsets("g", &asked).await.expect("fetch");
    assert!(problems.is_empty(), "{problems:?}");
    let committed: Vec<_> = committed.into_iter().collect();
    assert_eq!(
        committed,
        vec![(("t".to_string(), 0), 3), (("t".to_string(), 1), 1)]
    );
    assert_eq!(
        offsets_of(client.offsets("t", &[0, 1, 2], LATEST).await),
        vec![(0, 10), (1, 4), (2, 0)]
    );
    assert_eq!(
        offsets_of(client.offsets("t", &[0, 2], EARLIEST).await),
        vec![(0, 0), (2, 0)]
    );
    // Another group sees none of it.
    let (committed, _) = client
        .committed_offsets("other", &asked)
        .await
        .expect("fetch");
    assert!(committed.is_empty(), "{committed:?}");
    // A group with committed offsets and no members is Empty; it can be listed and deleted.
    let described = client
        .describe("g")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(
        (described.state.as_str(), described.members.len()),
        ("Empty", 0)
    );
    let listed = client.list().await.expect("list");
    assert!(listed.iter().any(|g| g.name == "g"), "{listed:?}");
    assert_eq!(client.delete("g").await, Ok(0));
    assert_eq!(client.describe("g").await.expect("describe"), None);
    assert_eq!(client.delete("g").await, Ok(69), "GROUP_ID_NOT_FOUND");
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reset_mode_plans_from_the_cluster_offsets() {
    let (broker, connect) = broker_with_records().await;
    let mut client = GroupClient::connect(&connect).expect("client");
    client
        .commit("g", "t", &[(0, 3), (1, 1)])
        .await
        .expect("commit");

    assert_eq!(
        plan_reset(&mut client, "g", "t", &[], ResetMode::Earliest)
            .await
            .expect("plan"),
        vec![(0, 0), (1, 0), (2, 0)]
    );
    assert_eq!(
        plan_reset(&mut client, "g", "t", &[], ResetMode::Latest)
            .await
            .expect("plan"),
        vec![(0, 10), (1, 4), (2, 0)]
    );
    assert_eq!(
        plan_reset(&mut client, "g", "t", &[], ResetMode::Offset(7))
            .await
            .expect("plan"),
        vec![(0, 7), (1, 4), (2, 0)]
    );
    assert_eq!(
        plan_reset(&mut client, "g", "t", &[1, 0], ResetMode::ShiftBy(2))
            .await
            .expect("plan"),
        vec![(0, 5), (1, 3)]
    );
    assert_eq!(
        plan_reset(&mut client, "g", "t", &[0, 1], ResetMode::ShiftBy(-2))
            .await
            .expect("plan"),
        vec![(0, 1), (1, 0)]
    );
    // Every record is older than the year 2100; the first is younger than 1970 + 1 s.
    assert_eq!(
        plan_reset(
            &mut client,
            "g",
            "t",
            &[0],
            ResetMode::Datetime(4_102_444_800_000)
        )
        .await
        .expect("plan"),
        vec![(0, 10)]
    );
    assert_eq!(
        plan_reset(&mut client, "g", "t", &[0], ResetMode::Datetime(1_000))
            .await
            .expect("plan"),
        vec![(0, 0)]
    );

    let err = plan_reset(&mut client, "g", "t", &[], ResetMode::ShiftBy(1))
        .await
        .expect_err("partition 2 was never committed");
    assert_eq!(
        err.to_string(),
        "topic 't': partition 2 has no committed offset to shift by 1"
    );
    let err = plan_reset(&mut client, "g", "t", &[9], ResetMode::Earliest)
        .await
        .expect_err("no partition 9");
    assert_eq!(err.to_string(), "topic 't' has no partition 9 (it has 3)");
    let err = plan_reset(&mut client, "g", "missing", &[], ResetMode::Earliest)
        .await
        .expect_err("no topic");
    assert_eq!(
        err.to_string(),
        "topic 'missing' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
    );
    drop(broker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_rows_join_commits_assignments_and_log_ends() {
    let (broker, connect) = broker_with_records().await;
    let mut client = GroupClient::connect(&connect).expect("client");
    client.commit("g", "t", &[(0, 3)]).await.expect("commit");
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
                topics: vec![("t".to_string(), vec![1]), ("gone".to_string(), vec![0])],
            }),
        }],
    };
    let mut warnings = Warnings::default();
    let rows = offset_rows(&mut client, &description, &mut warnings)
        .await
        .expect("rows");
    // The topic that is gone gets a warning and a row without a log end offset.
    assert_eq!(warnings.shown.len(), 1, "{:?}", warnings.shown);
    assert!(
        warnings
            .shown
            .iter()
            .all(|w| w.starts_with("log end offset of 'gone' partition 0: ")),
        "{:?}",
        warnings.shown
    );
    assert_eq!(
        rows,
        vec![
            OffsetRow {
                topic: "gone".to_string(),
                partition: 0,
                current_offset: None,
                log_end_offset: None,
                consumer_id: Some("m-1".to_string()),
            },
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
    assert_eq!(rows[1].lag(), Some(7));
    drop(broker);
}

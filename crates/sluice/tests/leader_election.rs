//! Leader elections on a three-process cluster: a partition whose preferred leader stopped
//! (SIGTERM, so leadership moved away in a controlled shutdown) and came back in sync gets it
//! back through ElectLeaders (automatic rebalancing is off on every node), once only; the new
//! leader's OffsetForLeaderEpoch shows where the epoch before the move ended; elections that
//! cannot happen are answered with Kafka's codes; `sluice partition elect` does the same from
//! the command line.

mod common;

use std::time::{Duration, Instant};

use common::{batch, sluice_cli, CliOutput, Client, TestCluster};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeLogDirsRequest, ElectLeadersRequest,
    ElectLeadersResponse, MetadataRequest, OffsetForLeaderEpochRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;
const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
const ELECTION_NOT_NEEDED: i16 = 84;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Retries `f` every 100 ms until it returns `Some`, for at most `secs` seconds.
fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Partition 0 of `topic` as node `c` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartitionView {
    leader: i32,
    leader_epoch: i32,
    /// Sorted.
    isr: Vec<i32>,
}

fn partition_view(c: &mut Client, topic: &str) -> Option<PartitionView> {
    let m = c.send(&MetadataRequest::default().with_topics(None), 12);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))?;
    let p = t.partitions.iter().find(|p| p.partition_index == 0)?;
    let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
    isr.sort();
    Some(PartitionView {
        leader: p.leader_id.0,
        leader_epoch: p.leader_epoch,
        isr,
    })
}

/// Creates `topic` with one partition on `replicas` (the first is the preferred leader).
fn create_assigned(c: &mut Client, topic: &str, replicas: &[i32]) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(vec![CreatableReplicaAssignment::default()
                .with_partition_index(0)
                .with_broker_ids(
                    replicas.iter().map(|r| BrokerId(*r)).collect(),
                )])]);
    assert_eq!(c.send(&req, 7).topics[0].error_code, 0, "create {topic}");
}

/// One record to partition 0 of `topic`, acks=all: (error code, offset).
fn produce(c: &mut Client, topic: &str, value: &[u8]) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&[value], Compression::None)))])]);
    let resp = c.send(&req, 9);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// ElectLeaders v2 of `election_type` for partition 0 of each of `topics` (`None`: every
/// partition): (topic, partition, error code) per partition answered.
fn elect(c: &mut Client, election_type: i8, topics: Option<&[&str]>) -> Vec<(String, i32, i16)> {
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_topic_partitions(topics.map(|topics| {
            topics
                .iter()
                .map(|t| {
                    TopicPartitions::default()
                        .with_topic(name(t))
                        .with_partitions(vec![0])
                })
                .collect()
        }))
        .with_timeout_ms(10_000);
    let resp: ElectLeadersResponse = c.send(&req, 2);
    assert_eq!(resp.error_code, 0);
    resp.replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result
                .iter()
                .map(move |p| (t.topic.to_string(), p.partition_id, p.error_code))
        })
        .collect()
}

/// OffsetForLeaderEpoch v4 for partition 0 of `topic`: (error code, leader epoch, end offset).
fn epoch_end(
    c: &mut Client,
    topic: &str,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> (i16, i32, i64) {
    let req = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(current_leader_epoch)
                .with_leader_epoch(leader_epoch)])]);
    let resp = c.send(&req, 4);
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

fn sluice(args: &[&str]) -> CliOutput {
    sluice_cli(args)
}

fn owned(rows: &[(&str, i32, i16)]) -> Vec<(String, i32, i16)> {
    rows.iter()
        .map(|(t, p, code)| (t.to_string(), *p, *code))
        .collect()
}

#[test]
fn preferred_election_returns_leadership_and_epochs_show_the_move() {
    // Automatic rebalancing off: only ElectLeaders moves leadership back.
    let mut cluster = TestCluster::start_with(3, &[("auto.leader.rebalance.enable", "false")]);
    let mut c = cluster.connect(1);
    eventually("three brokers", 30, || {
        let m = c.send(&MetadataRequest::default().with_topics(None), 12);
        (m.brokers.len() == 3).then_some(())
    });
    // "moved" is elected through the protocol, "moved-cli" through `sluice partition elect`,
    // "lonely" lives on broker 3 alone.
    create_assigned(&mut c, "moved", &[2, 1, 3]);
    create_assigned(&mut c, "moved-cli", &[2, 1, 3]);
    create_assigned(&mut c, "lonely", &[3]);
    let before = eventually("broker 2 leading with the full ISR", 30, || {
        let v = partition_view(&mut c, "moved")?;
        let cli = partition_view(&mut c, "moved-cli")?;
        (v.leader == 2 && v.isr == vec![1, 2, 3] && cli.isr == vec![1, 2, 3]).then_some(v)
    });

    // Records written under the first leader's epoch.
    const BEFORE_MOVE: i64 = 5;
    let mut at_2 = cluster.connect(2);
    eventually("broker 2 serving", 10, || {
        (produce(&mut at_2, "moved", b"r0") == (0, 0)).then_some(())
    });
    for i in 1..BEFORE_MOVE {
        assert_eq!(produce(&mut at_2, "moved", b"r"), (0, i));
    }
    drop(at_2);

    // Broker 2 stops gracefully: leadership moves to broker 1, the next in the ISR.
    cluster.stop(2);
    let moved = eventually("broker 1 leading", 30, || {
        let v = partition_view(&mut c, "moved")?;
        (v.leader == 1).then_some(v)
    });
    assert!(moved.leader_epoch > before.leader_epoch, "{moved:?}");
    // The preferred replica is gone: it cannot be elected.
    let answers = elect(&mut c, 0, Some(&["moved"]));
    assert_eq!(
        answers,
        owned(&[("moved", 0, PREFERRED_LEADER_NOT_AVAILABLE)])
    );

    // It comes back and catches up; with automatic rebalancing off, broker 1 keeps leading.
    cluster.restart(2);
    eventually("broker 2 back in both ISRs", 60, || {
        let v = partition_view(&mut c, "moved")?;
        let cli = partition_view(&mut c, "moved-cli")?;
        (v.isr == vec![1, 2, 3] && cli.isr == vec![1, 2, 3]).then_some(())
    });
    assert_eq!(
        partition_view(&mut c, "moved").map(|v| v.leader),
        Some(1),
        "no automatic rebalance"
    );

    // The preferred election makes broker 2 the leader again, once.
    assert_eq!(
        elect(&mut c, 0, Some(&["moved"])),
        owned(&[("moved", 0, 0)])
    );
    let elected = partition_view(&mut c, "moved").expect("partition");
    assert_eq!(elected.leader, 2, "{elected:?}");
    assert!(elected.leader_epoch > moved.leader_epoch, "{elected:?}");
    assert_eq!(
        elect(&mut c, 0, Some(&["moved"])),
        owned(&[("moved", 0, ELECTION_NOT_NEEDED)])
    );
    let mut at_2 = cluster.connect(2);
    eventually("broker 2 serving again", 30, || {
        (produce(&mut at_2, "moved", b"after").0 == 0).then_some(())
    });
    assert_eq!(produce(&mut at_2, "moved", b"after"), (0, BEFORE_MOVE + 1));

    // OffsetForLeaderEpoch on the new leader: the first leader's epoch ended where the move
    // happened, also asked for the epoch broker 1 led (it wrote nothing); the current epoch ends
    // at the log end.
    let current = elected.leader_epoch;
    assert_eq!(
        epoch_end(&mut at_2, "moved", current, before.leader_epoch),
        (0, before.leader_epoch, BEFORE_MOVE)
    );
    assert_eq!(
        epoch_end(&mut at_2, "moved", current, moved.leader_epoch),
        (0, before.leader_epoch, BEFORE_MOVE)
    );
    assert_eq!(
        epoch_end(&mut at_2, "moved", -1, current),
        (0, current, BEFORE_MOVE + 2)
    );
    // A stale epoch is fenced, a future one unknown; a follower does not answer.
    assert_eq!(
        epoch_end(&mut at_2, "moved", moved.leader_epoch, 0).0,
        FENCED_LEADER_EPOCH
    );
    let mut at_1 = cluster.connect(1);
    eventually("broker 1 following", 10, || {
        (epoch_end(&mut at_1, "moved", current, 0).0 == NOT_LEADER_OR_FOLLOWER).then_some(())
    });
    assert_eq!(
        epoch_end(&mut at_1, "moved", current + 1, 0).0,
        UNKNOWN_LEADER_EPOCH
    );

    // DescribeLogDirs: each broker lists the replicas it hosts.
    let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
        DescribableLogDirTopic::default()
            .with_topic(name("moved"))
            .with_partitions(vec![0]),
        DescribableLogDirTopic::default()
            .with_topic(name("lonely"))
            .with_partitions(vec![0]),
    ]));
    let listed = |c: &mut Client| -> Vec<(String, bool)> {
        c.send(&req, 4).results[0]
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.name.to_string(), p.partition_size > 0))
            })
            .collect()
    };
    assert_eq!(listed(&mut at_2), vec![("moved".to_string(), true)]);
    let mut at_3 = cluster.connect(3);
    assert_eq!(
        listed(&mut at_3),
        vec![("lonely".to_string(), false), ("moved".to_string(), true)]
    );
    drop(at_3);

    // The same from the command line: the election happens, then is not needed.
    let addr = cluster.addr(1);
    let out = sluice(&["partition", "elect", "-b", &addr, "--topic", "moved-cli"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "TOPIC-PARTITION  RESULT\nmoved-cli-0      elected\n"
    );
    assert_eq!(
        partition_view(&mut c, "moved-cli").map(|v| v.leader),
        Some(2)
    );
    let out = sluice(&[
        "partition",
        "elect",
        "-b",
        &addr,
        "--topic",
        "moved-cli",
        "--partition",
        "0",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("moved-cli-0      not needed"),
        "{}",
        out.stdout
    );

    // The only replica of "lonely" stops: no election can give it a leader.
    cluster.stop(3);
    eventually("'lonely' without a leader", 30, || {
        let v = partition_view(&mut c, "lonely")?;
        (v.leader < 0).then_some(())
    });
    assert_eq!(
        elect(&mut c, 1, Some(&["lonely", "moved"])),
        owned(&[
            ("lonely", 0, ELIGIBLE_LEADERS_NOT_AVAILABLE),
            ("moved", 0, ELECTION_NOT_NEEDED),
        ])
    );
    // Asked for every partition, only those that needed an election are answered.
    let every = elect(&mut c, 0, None);
    assert!(
        every.contains(&("lonely".to_string(), 0, PREFERRED_LEADER_NOT_AVAILABLE)),
        "{every:?}"
    );
    assert!(
        every
            .iter()
            .all(|(topic, _, code)| *code != ELECTION_NOT_NEEDED && topic != "moved"),
        "{every:?}"
    );
    let out = sluice(&[
        "partition",
        "elect",
        "-b",
        &addr,
        "--type",
        "unclean",
        "--topic",
        "lonely",
    ]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains("lonely-0         Broker: "),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "error: leader election failed for 1 of 1 partition(s): lonely-0 \
         (ELIGIBLE_LEADERS_NOT_AVAILABLE)\n"
    );
}

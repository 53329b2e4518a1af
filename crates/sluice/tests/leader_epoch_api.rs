//! OffsetForLeaderEpoch, ElectLeaders and DescribeLogDirs against one real broker process, at
//! every version it advertises: what a well-formed request gets, and Kafka's codes for an
//! unknown topic, a partition that does not exist, a wrong epoch and an unknown election type.
//! Also `sluice partition elect` as a person runs it, with its exit status and error lines.
//! (Elections that move a leader need several brokers: see `leader_election.rs`.)

mod common;

use common::{batch, sluice_cli, CliOutput, Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REQUEST: i16 = 42;
const UNKNOWN_LEADER_EPOCH: i16 = 75;
const ELECTION_NOT_NEEDED: i16 = 84;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

fn versions(c: &mut Client, key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let av = c.send(&ApiVersionsRequest::default(), 0);
    let entry = av
        .api_keys
        .iter()
        .find(|k| k.api_key == key as i16)
        .unwrap_or_else(|| panic!("{key:?} advertised"));
    entry.min_version..=entry.max_version
}

fn create_topic(c: &mut Client, topic: &str, partitions: i32) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    assert_eq!(c.send(&req, 7).topics[0].error_code, 0, "create {topic}");
}

/// Appends one batch of `count` records to `topic`-`partition`.
fn produce(c: &mut Client, topic: &str, partition: i32, count: usize) {
    let values: Vec<&[u8]> = (0..count).map(|_| b"v".as_slice()).collect();
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(&values, Compression::None)))])]);
    let resp = c.send(&req, 9);
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
}

/// The leader epoch of `topic`-`partition` as Metadata reports it.
fn leader_epoch(c: &mut Client, topic: &str, partition: i32) -> i32 {
    let m = c.send(&MetadataRequest::default().with_topics(None), 12);
    m.topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .and_then(|t| t.partitions.iter().find(|p| p.partition_index == partition))
        .map(|p| p.leader_epoch)
        .expect("partition in metadata")
}

/// One partition asked: (partition, current_leader_epoch, leader_epoch).
type EpochQuery = (i32, i32, i32);

fn epoch_request(version: i16, topics: &[(&str, &[EpochQuery])]) -> OffsetForLeaderEpochRequest {
    let topics = topics
        .iter()
        .map(|(topic, partitions)| {
            OffsetForLeaderTopic::default()
                .with_topic(name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(partition, current_leader_epoch, leader_epoch)| {
                            OffsetForLeaderPartition::default()
                                .with_partition(partition)
                                .with_current_leader_epoch(current_leader_epoch)
                                .with_leader_epoch(leader_epoch)
                        })
                        .collect(),
                )
        })
        .collect();
    // v3+ says who asks: -1 a consumer, a broker id a follower (answered the same way).
    let replica_id = if version >= 3 { -1 } else { -2 };
    OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_topics(topics)
}

/// (topic, partition, error_code, leader_epoch, end_offset) of every partition answered.
fn epoch_answers(resp: &OffsetForLeaderEpochResponse) -> Vec<(String, i32, i16, i32, i64)> {
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.topic.to_string(),
                    p.partition,
                    p.error_code,
                    p.leader_epoch,
                    p.end_offset,
                )
            })
        })
        .collect()
}

fn elect_request(
    version: i16,
    election_type: i8,
    topics: Option<&[(&str, &[i32])]>,
) -> ElectLeadersRequest {
    let topics = topics.map(|topics| {
        topics
            .iter()
            .map(|(topic, partitions)| {
                TopicPartitions::default()
                    .with_topic(name(topic))
                    .with_partitions(partitions.to_vec())
            })
            .collect()
    });
    ElectLeadersRequest::default()
        .with_election_type(if version >= 1 { election_type } else { 0 })
        .with_topic_partitions(topics)
        .with_timeout_ms(10_000)
}

/// (topic, partition, error_code) of every partition answered.
fn election_answers(resp: &ElectLeadersResponse) -> Vec<(String, i32, i16)> {
    resp.replica_election_results
        .iter()
        .flat_map(|t| {
            t.partition_result
                .iter()
                .map(move |p| (t.topic.to_string(), p.partition_id, p.error_code))
        })
        .collect()
}

fn owned(rows: &[(&str, i32, i16)]) -> Vec<(String, i32, i16)> {
    rows.iter()
        .map(|(t, p, code)| (t.to_string(), *p, *code))
        .collect()
}

#[test]
fn offset_for_leader_epoch_answers_where_epochs_end_at_every_version() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, "epochs", 2);
    produce(&mut c, "epochs", 0, 3);
    produce(&mut c, "epochs", 0, 2);
    let epoch = leader_epoch(&mut c, "epochs", 0);
    assert!(epoch >= 0, "{epoch}");

    for v in versions(&mut c, ApiKey::OffsetForLeaderEpoch) {
        let req = epoch_request(
            v,
            &[
                (
                    "epochs",
                    &[
                        // The current epoch ends at the log end offset.
                        (0, epoch, epoch),
                        // Without the epoch check; an epoch above every cached one.
                        (0, -1, epoch + 5),
                        // A partition without records: its leader recorded its epoch at
                        // offset 0 when it was elected (as Kafka does).
                        (1, epoch, epoch),
                        // A newer epoch than the broker knows.
                        (0, epoch + 1, epoch),
                        // Partitions that do not exist.
                        (2, -1, epoch),
                        (-1, -1, epoch),
                    ],
                ),
                ("no-such-topic", &[(0, -1, 0)]),
            ],
        );
        let resp = c.send(&req, v);
        assert_eq!(
            epoch_answers(&resp),
            vec![
                ("epochs".to_string(), 0, 0, epoch, 5),
                ("epochs".to_string(), 0, 0, epoch, 5),
                ("epochs".to_string(), 1, 0, epoch, 0),
                ("epochs".to_string(), 0, UNKNOWN_LEADER_EPOCH, -1, -1),
                ("epochs".to_string(), 2, UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
                ("epochs".to_string(), -1, UNKNOWN_TOPIC_OR_PARTITION, -1, -1),
                (
                    "no-such-topic".to_string(),
                    0,
                    UNKNOWN_TOPIC_OR_PARTITION,
                    -1,
                    -1
                ),
            ],
            "OffsetForLeaderEpoch v{v}"
        );
        if v >= 3 {
            // A follower's request (replica id >= 0) is answered by the leader alike.
            let req =
                epoch_request(v, &[("epochs", &[(0, epoch, epoch)])]).with_replica_id(BrokerId(7));
            assert_eq!(
                epoch_answers(&c.send(&req, v)),
                vec![("epochs".to_string(), 0, 0, epoch, 5)],
                "OffsetForLeaderEpoch v{v} from a follower"
            );
        }
    }
}

#[test]
fn describe_log_dirs_lists_hosted_replicas_at_every_version() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, "sized", 2);
    produce(&mut c, "sized", 1, 4);
    let log_dir = broker.dir.path().display().to_string();

    for v in versions(&mut c, ApiKey::DescribeLogDirs) {
        // Every replica.
        let resp = c.send(&DescribeLogDirsRequest::default().with_topics(None), v);
        assert_eq!(resp.error_code, 0, "DescribeLogDirs v{v}");
        assert_eq!(resp.results.len(), 1, "DescribeLogDirs v{v}");
        let dir = &resp.results[0];
        assert_eq!(
            (dir.error_code, dir.log_dir.as_str()),
            (0, log_dir.as_str()),
            "v{v}"
        );
        // The file system's size and free space (statvfs) from v4; not in older versions.
        if v >= 4 {
            assert!(dir.total_bytes > 0, "v{v}");
            assert!((0..=dir.total_bytes).contains(&dir.usable_bytes), "v{v}");
        } else {
            assert_eq!((dir.total_bytes, dir.usable_bytes), (-1, -1), "v{v}");
        }
        let sized = dir
            .topics
            .iter()
            .find(|t| t.name.as_str() == "sized")
            .expect("the topic's replicas");
        let partitions: Vec<(i32, bool, i64, bool)> = sized
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.partition_size > 0,
                    p.offset_lag,
                    p.is_future_key,
                )
            })
            .collect();
        assert_eq!(
            partitions,
            vec![(0, false, 0, false), (1, true, 0, false)],
            "DescribeLogDirs v{v}"
        );

        // Only the named partitions this broker hosts: unknown ones are left out, no error.
        let req = DescribeLogDirsRequest::default().with_topics(Some(vec![
            DescribableLogDirTopic::default()
                .with_topic(name("sized"))
                .with_partitions(vec![1, 9]),
            DescribableLogDirTopic::default()
                .with_topic(name("no-such-topic"))
                .with_partitions(vec![0]),
        ]));
        let resp = c.send(&req, v);
        let topics: Vec<(String, Vec<i32>)> = resp.results[0]
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect();
        assert_eq!(topics, vec![("sized".to_string(), vec![1])], "v{v}");

        // An empty list names nothing.
        let resp = c.send(
            &DescribeLogDirsRequest::default().with_topics(Some(vec![])),
            v,
        );
        assert_eq!(resp.results.len(), 1);
        assert!(resp.results[0].topics.is_empty(), "v{v}");
    }
}

#[test]
fn elect_leaders_answers_every_partition_with_kafkas_codes_at_every_version() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, "led", 2);

    for v in versions(&mut c, ApiKey::ElectLeaders) {
        // Every partition already has its preferred (only) replica as leader.
        let named: &[(&str, &[i32])] = &[("led", &[0, 1, 5, -1, 0]), ("no-such-topic", &[0])];
        let resp = c.send(&elect_request(v, 0, Some(named)), v);
        assert_eq!(resp.error_code, 0, "ElectLeaders v{v}");
        assert_eq!(
            election_answers(&resp),
            owned(&[
                ("led", 0, ELECTION_NOT_NEEDED),
                ("led", 1, ELECTION_NOT_NEEDED),
                ("led", 5, UNKNOWN_TOPIC_OR_PARTITION),
                ("led", -1, UNKNOWN_TOPIC_OR_PARTITION),
                ("led", 0, ELECTION_NOT_NEEDED),
                ("no-such-topic", 0, UNKNOWN_TOPIC_OR_PARTITION),
            ]),
            "ElectLeaders v{v}"
        );

        // Every partition: those that needed no election are left out.
        let resp = c.send(&elect_request(v, 0, None), v);
        assert_eq!(election_answers(&resp), vec![], "ElectLeaders v{v} (all)");

        if v >= 1 {
            // Unclean: only a partition without a leader gets one.
            let resp = c.send(&elect_request(v, 1, Some(&[("led", &[1])])), v);
            assert_eq!(
                (resp.error_code, election_answers(&resp)),
                (0, owned(&[("led", 1, ELECTION_NOT_NEEDED)])),
                "ElectLeaders v{v} unclean"
            );
            // An unknown election type fails the request and every partition in it.
            let resp = c.send(&elect_request(v, 2, Some(&[("led", &[0, 1])])), v);
            assert_eq!(
                (resp.error_code, election_answers(&resp)),
                (
                    INVALID_REQUEST,
                    owned(&[("led", 0, INVALID_REQUEST), ("led", 1, INVALID_REQUEST)])
                ),
                "ElectLeaders v{v} type 2"
            );
        }
    }
}

fn sluice(args: &[&str]) -> CliOutput {
    sluice_cli(args)
}

#[test]
fn partition_elect_reports_each_partition_and_fails_only_for_real_failures() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, "cli", 2);
    let addr = broker.addr();

    // Every partition: nothing to do.
    let out = sluice(&["partition", "elect", "-b", &addr]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "No partition needed an election.\n", "")
    );

    // One topic, every partition: not needed is not a failure.
    let out = sluice(&["partition", "elect", "-b", &addr, "--topic", "cli"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "TOPIC-PARTITION  RESULT\n\
         cli-0            not needed: the leader is already the one elected\n\
         cli-1            not needed: the leader is already the one elected\n"
    );
    let out = sluice(&[
        "partition",
        "elect",
        "-b",
        &addr,
        "--type",
        "unclean",
        "--topic",
        "cli",
        "--partition",
        "1",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("cli-1            not needed"),
        "{}",
        out.stdout
    );

    // A partition that does not exist is a failure, shown in its row and in one error line.
    let out = sluice(&[
        "partition",
        "elect",
        "-b",
        &addr,
        "--topic",
        "cli",
        "--partition",
        "0,7",
    ]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "cli-7            Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PARTITION)"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr,
        "error: leader election failed for 1 of 2 partition(s): cli-7 (UNKNOWN_TOPIC_OR_PARTITION)\n"
    );

    // An unknown topic is one error line and nothing else.
    let out = sluice(&["partition", "elect", "-b", &addr, "--topic", "nope"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (
            1,
            "",
            "error: topic 'nope' does not exist (UNKNOWN_TOPIC_OR_PARTITION)\n"
        )
    );

    // --partition needs --topic (a usage error), and an unreachable server is one error line.
    let out = sluice(&["partition", "elect", "-b", &addr, "--partition", "0"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = sluice(&["partition", "elect", "-b", "127.0.0.1:1"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("error: cannot elect leaders through 127.0.0.1:1: "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

//! Current-leader hints (KIP-951) on a real three-node cluster: a Produce (v10+) or Fetch
//! (v16+) sent to a broker that does not lead the partition, or a Fetch with a stale leader
//! epoch, names the current leader and its epoch in the partition and lists the leader's
//! endpoint in the response; older versions get the plain error and still decode; a partition
//! without a leader is hinted as -1/-1 with no endpoint.
//!
//! One cluster for every case: node X leads the partitions of `hints` (replicas [X, L]) and
//! `offline` (replica [X]); node O hosts neither. Then X stops: L takes `hints` over at a
//! higher epoch and `offline` has no leader.

mod common;

use std::time::{Duration, Instant};

use common::{batch, Client, TestCluster};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use uuid::Uuid;

const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

/// (node id, host, port, rack) of a node endpoint.
type Endpoint = (i32, String, i32, Option<String>);

/// What one partition of a response says: (partition, error code, leader id, leader epoch).
type PartitionHint = (i32, i16, i32, i32);

/// A topic as the requests name it: by name before v13, by id from v13.
#[derive(Clone)]
struct Topic {
    name: String,
    id: Uuid,
}

fn topic_name(topic: &str) -> TopicName {
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

fn metadata(c: &mut Client) -> MetadataResponse {
    c.send(&MetadataRequest::default().with_topics(None), 12)
}

/// Per partition of `topic` as `c` reports it: (leader id, leader epoch); and the topic id.
fn leaders(c: &mut Client, topic: &str) -> Option<(Uuid, Vec<(i32, i32)>)> {
    let m = metadata(c);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))?;
    let mut ps: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id.0, p.leader_epoch))
        .collect();
    ps.sort();
    Some((t.topic_id, ps.into_iter().map(|(_, l, e)| (l, e)).collect()))
}

/// Node `id`'s endpoint as Metadata lists it.
fn endpoint_in_metadata(c: &mut Client, id: i32) -> Endpoint {
    let m = metadata(c);
    let b = m
        .brokers
        .iter()
        .find(|b| b.node_id.0 == id)
        .unwrap_or_else(|| panic!("node {id} in metadata"));
    (
        id,
        b.host.to_string(),
        b.port,
        b.rack.as_ref().map(|r| r.to_string()),
    )
}

fn create_topic(c: &mut Client, topic: &str, replicas: &[&[i32]]) {
    let assignments = replicas
        .iter()
        .enumerate()
        .map(|(p, r)| {
            CreatableReplicaAssignment::default()
                .with_partition_index(p as i32)
                .with_broker_ids(r.iter().map(|b| BrokerId(*b)).collect())
        })
        .collect();
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(topic))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(assignments)]);
    assert_eq!(c.send(&req, 7).topics[0].error_code, 0, "create {topic}");
}

/// A Produce (acks=1) of one record to each of `partitions`, per topic.
fn produce_request(targets: &[(&Topic, &[i32])]) -> ProduceRequest {
    let topic_data = targets
        .iter()
        .map(|(topic, partitions)| {
            TopicProduceData::default()
                .with_name(topic_name(&topic.name))
                .with_topic_id(topic.id)
                .with_partition_data(
                    partitions
                        .iter()
                        .map(|p| {
                            PartitionProduceData::default()
                                .with_index(*p)
                                .with_records(Some(batch(&[b"v"], Compression::None)))
                        })
                        .collect(),
                )
        })
        .collect();
    ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(topic_data)
}

/// A consumer Fetch from offset 0 of `partitions` ((partition, current leader epoch)), per
/// topic, that does not wait.
fn fetch_request(targets: &[(&Topic, &[(i32, i32)])]) -> FetchRequest {
    let topics = targets
        .iter()
        .map(|(topic, partitions)| {
            FetchTopic::default()
                .with_topic(topic_name(&topic.name))
                .with_topic_id(topic.id)
                .with_partitions(
                    partitions
                        .iter()
                        .map(|(p, epoch)| {
                            FetchPartition::default()
                                .with_partition(*p)
                                .with_current_leader_epoch(*epoch)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(1 << 20)
                        })
                        .collect(),
                )
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(topics)
}

fn produce_hints(r: &ProduceResponse) -> (Vec<PartitionHint>, Vec<Endpoint>) {
    let partitions = r
        .responses
        .iter()
        .flat_map(|t| &t.partition_responses)
        .map(|p| {
            let l = &p.current_leader;
            (p.index, p.error_code, l.leader_id.0, l.leader_epoch)
        })
        .collect();
    let endpoints = r
        .node_endpoints
        .iter()
        .map(|e| {
            (
                e.node_id.0,
                e.host.to_string(),
                e.port,
                e.rack.as_ref().map(|r| r.to_string()),
            )
        })
        .collect();
    (partitions, endpoints)
}

fn fetch_hints(r: &FetchResponse) -> (Vec<PartitionHint>, Vec<Endpoint>) {
    assert_eq!(r.error_code, 0, "fetch-level error");
    let partitions = r
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            let l = &p.current_leader;
            (
                p.partition_index,
                p.error_code,
                l.leader_id.0,
                l.leader_epoch,
            )
        })
        .collect();
    let endpoints = r
        .node_endpoints
        .iter()
        .map(|e| {
            (
                e.node_id.0,
                e.host.to_string(),
                e.port,
                e.rack.as_ref().map(|r| r.to_string()),
            )
        })
        .collect();
    (partitions, endpoints)
}

fn produce(
    c: &mut Client,
    targets: &[(&Topic, &[i32])],
    version: i16,
) -> (Vec<PartitionHint>, Vec<Endpoint>) {
    produce_hints(&c.send(&produce_request(targets), version))
}

fn fetch(
    c: &mut Client,
    targets: &[(&Topic, &[(i32, i32)])],
    version: i16,
) -> (Vec<PartitionHint>, Vec<Endpoint>) {
    fetch_hints(&c.send(&fetch_request(targets), version))
}

/// `partitions` refused with `code` and no hint (the default leader -1, epoch -1).
fn plain(partitions: &[i32], code: i16) -> (Vec<PartitionHint>, Vec<Endpoint>) {
    (
        partitions.iter().map(|p| (*p, code, -1, -1)).collect(),
        Vec::new(),
    )
}

#[test]
fn refused_partitions_name_the_current_leader_and_its_endpoint() {
    let mut cluster = TestCluster::start(3);
    let mut c = cluster.connect(1);
    let controller = eventually("three brokers and a controller", 30, || {
        let m = metadata(&mut c);
        (m.brokers.len() == 3).then_some(())?;
        c.quorum_leader()
    });
    // X is not the active controller, so stopping it later needs no controller election.
    let x = (1..=3)
        .find(|id| *id != controller)
        .expect("a non-controller node");
    let others: Vec<i32> = (1..=3).filter(|id| *id != x).collect();
    let (l, o) = (others[0], others[1]);
    create_topic(&mut c, "hints", &[&[x, l], &[x, l]]);
    create_topic(&mut c, "offline", &[&[x]]);

    let mut at_x = cluster.connect(x);
    let mut at_l = cluster.connect(l);
    let mut at_o = cluster.connect(o);
    let (hints_id, before, offline_id) = eventually("both topics on O", 20, || {
        let (hints_id, hints_leaders) = leaders(&mut at_o, "hints")?;
        let (offline_id, _) = leaders(&mut at_o, "offline")?;
        Some((hints_id, hints_leaders, offline_id))
    });
    assert!(before.iter().all(|(leader, _)| *leader == x), "{before:?}");
    let hints = Topic {
        name: "hints".into(),
        id: hints_id,
    };
    let offline = Topic {
        name: "offline".into(),
        id: offline_id,
    };
    let client_ports: Vec<i32> = cluster
        .nodes
        .iter()
        .map(|n| i32::from(n.client_port))
        .collect();
    let client_port = |id: i32| client_ports[(id - 1) as usize];
    let x_endpoint = endpoint_in_metadata(&mut at_o, x);
    assert_eq!(
        x_endpoint,
        (x, "127.0.0.1".to_string(), client_port(x), None)
    );
    // Every node has applied the topics: X serves them, L and O refuse them.
    eventually("X serving", 20, || {
        let (ps, _) = produce(&mut at_x, &[(&hints, &[0, 1]), (&offline, &[0])], 9);
        ps.iter().all(|p| p.1 == 0).then_some(())
    });
    for via in [&mut at_l, &mut at_o] {
        eventually("the topics known everywhere", 20, || {
            let (ps, _) = produce(via, &[(&hints, &[0, 1]), (&offline, &[0])], 9);
            ps.iter()
                .all(|p| p.1 == NOT_LEADER_OR_FOLLOWER)
                .then_some(())
        });
    }

    // X leads: a follower (L) and a broker without a replica (O) both point at X, listing X
    // once for the two partitions.
    let hinted_x = |code: i16| {
        (
            vec![(0, code, x, before[0].1), (1, code, x, before[1].1)],
            vec![x_endpoint.clone()],
        )
    };
    // Current leader epoch -1: the broker does not check it.
    let unchecked = [(0, -1), (1, -1)];
    for via in [&mut at_l, &mut at_o] {
        for v in 10..=13 {
            assert_eq!(
                produce(via, &[(&hints, &[0, 1])], v),
                hinted_x(NOT_LEADER_OR_FOLLOWER),
                "produce v{v}"
            );
        }
        for v in [3, 5, 8, 9] {
            assert_eq!(
                produce(via, &[(&hints, &[0, 1])], v),
                plain(&[0, 1], NOT_LEADER_OR_FOLLOWER),
                "produce v{v}"
            );
        }
        for v in 16..=18 {
            assert_eq!(
                fetch(via, &[(&hints, &unchecked)], v),
                hinted_x(NOT_LEADER_OR_FOLLOWER),
                "fetch v{v}"
            );
        }
        // CurrentLeader exists from v12, but Kafka fills it only from v16.
        for v in [4, 11, 12, 13, 15] {
            assert_eq!(
                fetch(via, &[(&hints, &unchecked)], v),
                plain(&[0, 1], NOT_LEADER_OR_FOLLOWER),
                "fetch v{v}"
            );
        }
    }
    // The leader itself: no hint when it serves, none for an epoch from the future.
    let current = [(0, before[0].1), (1, before[1].1)];
    assert_eq!(
        fetch(&mut at_x, &[(&hints, &current)], 18),
        plain(&[0, 1], 0)
    );
    let future = [(0, before[0].1 + 1)];
    assert_eq!(
        fetch(&mut at_x, &[(&hints, &future)], 18),
        plain(&[0], UNKNOWN_LEADER_EPOCH)
    );
    // A follower checks the epoch before leadership, as Kafka does; a broker without a replica
    // cannot check it.
    assert_eq!(
        fetch(&mut at_l, &[(&hints, &future)], 18),
        plain(&[0], UNKNOWN_LEADER_EPOCH)
    );
    let (ps, _) = fetch(&mut at_o, &[(&hints, &future)], 18);
    assert_eq!(ps[0].1, NOT_LEADER_OR_FOLLOWER);

    // X stops: L leads `hints` at a higher epoch, `offline` has no leader.
    cluster.stop(x);
    let after = eventually("L leading hints, offline without a leader", 30, || {
        let (_, hints_now) = leaders(&mut at_l, "hints")?;
        let (_, offline_now) = leaders(&mut at_l, "offline")?;
        let moved = hints_now.iter().all(|(leader, _)| *leader == l);
        (moved && offline_now[0].0 == -1).then_some(hints_now)
    });
    for (p, (_, epoch)) in after.iter().enumerate() {
        assert!(
            *epoch > before[p].1,
            "partition {p}: {before:?} -> {after:?}"
        );
    }
    eventually("L serving", 20, || {
        let (ps, _) = produce(&mut at_l, &[(&hints, &[0, 1])], 9);
        ps.iter().all(|p| p.1 == 0).then_some(())
    });
    let l_endpoint = endpoint_in_metadata(&mut at_l, l);
    assert_eq!(
        l_endpoint,
        (l, "127.0.0.1".to_string(), client_port(l), None)
    );
    let hinted_l = |code: i16| {
        (
            vec![(0, code, l, after[0].1), (1, code, l, after[1].1)],
            vec![l_endpoint.clone()],
        )
    };

    // A consumer still on X's epoch is fenced by L and told L's epoch.
    let stale = [(0, before[0].1), (1, before[1].1)];
    for v in 16..=18 {
        assert_eq!(
            fetch(&mut at_l, &[(&hints, &stale)], v),
            hinted_l(FENCED_LEADER_EPOCH),
            "fetch v{v}"
        );
    }
    for v in [9, 12, 15] {
        assert_eq!(
            fetch(&mut at_l, &[(&hints, &stale)], v),
            plain(&[0, 1], FENCED_LEADER_EPOCH),
            "fetch v{v}"
        );
    }

    // O follows the change; the partition without a leader is hinted -1/-1, with no endpoint.
    let mut expected = hinted_l(NOT_LEADER_OR_FOLLOWER);
    expected.0.push((0, NOT_LEADER_OR_FOLLOWER, -1, -1));
    eventually("O's image after the change", 30, || {
        let got = produce(&mut at_o, &[(&hints, &[0, 1]), (&offline, &[0])], 13);
        (got == expected).then_some(())
    });
    for v in 10..=13 {
        assert_eq!(
            produce(&mut at_o, &[(&hints, &[0, 1]), (&offline, &[0])], v),
            expected,
            "produce v{v}"
        );
    }
    for v in 16..=18 {
        assert_eq!(
            fetch(
                &mut at_o,
                &[(&hints, &unchecked), (&offline, &[(0, -1)])],
                v
            ),
            expected,
            "fetch v{v}"
        );
    }
    // Only a leaderless partition refused: no endpoints at all.
    assert_eq!(
        produce(&mut at_l, &[(&offline, &[0])], 13),
        plain(&[0], NOT_LEADER_OR_FOLLOWER)
    );
    assert_eq!(
        fetch(&mut at_l, &[(&offline, &[(0, -1)])], 18),
        plain(&[0], NOT_LEADER_OR_FOLLOWER)
    );

    // Nothing left to check: kill the rest rather than wait for two shutdowns, the second
    // without a controller quorum.
    cluster.kill(l);
    cluster.kill(o);
}

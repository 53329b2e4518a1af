//! Several `sluice server` processes forming one cluster over loopback: one controller quorum,
//! brokers registered in it, topics placed across brokers, leaders serving their partitions,
//! the quorum surviving the loss of its active controller, and a killed broker rejoining.

mod common;

use std::time::{Duration, Instant};

use common::{batch, batch_offsets, Client, TestCluster};
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeClusterRequest, FetchRequest, InitProducerIdRequest,
    MetadataRequest, MetadataResponse, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

/// Kafka error codes used here.
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const INVALID_REPLICATION_FACTOR: i16 = 38;
const INVALID_REPLICA_ASSIGNMENT: i16 = 39;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn metadata(c: &mut Client) -> MetadataResponse {
    c.send(&MetadataRequest::default().with_topics(None), 12)
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

/// Partition leaders of `topic` as node `via` reports them (index = partition).
fn leaders(c: &mut Client, topic: &str) -> Vec<i32> {
    let m = metadata(c);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .expect("topic in metadata");
    let mut ps: Vec<_> = t
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id.0))
        .collect();
    ps.sort();
    ps.into_iter().map(|(_, l)| l).collect()
}

fn create_topic(c: &mut Client, topic: CreatableTopic) -> i16 {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![topic]);
    c.send(&req, 7).topics[0].error_code
}

fn produce(c: &mut Client, topic: &str, partition: i32, value: &[u8]) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(&[value], Compression::None)))])]);
    let resp = c.send(&req, 9);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Base offsets of the batches of `topic`-`partition` from offset 0, fetched from `c`.
fn fetch_offsets(c: &mut Client, topic: &str, partition: i32) -> (i16, Vec<i64>) {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let resp = c.send(&req, 12);
    let p = &resp.responses[0].partitions[0];
    (
        p.error_code,
        p.records.clone().map(batch_offsets).unwrap_or_default(),
    )
}

#[test]
fn three_nodes_form_one_cluster_and_spread_partitions() {
    let cluster = TestCluster::start(3);
    for id in 1..=3 {
        let mut c = cluster.connect(id);
        let m = eventually("all three brokers in metadata", 30, || {
            let m = metadata(&mut c);
            (m.brokers.len() == 3).then_some(m)
        });
        let mut ids: Vec<i32> = m.brokers.iter().map(|b| b.node_id.0).collect();
        ids.sort();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(
            m.cluster_id.as_ref().map(|s| s.as_str()),
            Some("c2x1dWljZS10ZXN0LWNsdQ")
        );
        // Clients are told a live broker forwards controller requests: the one they ask.
        assert_eq!(m.controller_id.0, id, "controller id for clients");
        let dc = c.send(
            &DescribeClusterRequest::default()
                .with_endpoint_type(1)
                .with_include_fenced_brokers(true),
            2,
        );
        assert_eq!(dc.brokers.len(), 3);
        assert!(dc.brokers.iter().all(|b| !b.is_fenced));
    }

    let mut c = cluster.connect(1);
    assert_eq!(
        create_topic(
            &mut c,
            CreatableTopic::default()
                .with_name(name("spread"))
                .with_num_partitions(6)
                .with_replication_factor(1)
        ),
        0
    );
    // Every node knows the topic, and the leaders are spread evenly.
    let spread = leaders(&mut c, "spread");
    for id in 1..=3 {
        assert_eq!(spread.iter().filter(|l| **l == id).count(), 2, "{spread:?}");
        let mut other = cluster.connect(id);
        eventually("the topic on every node", 10, || {
            (leaders(&mut other, "spread") == spread).then_some(())
        });
    }
    // Each leader serves its partitions; the other brokers refuse with NOT_LEADER_OR_FOLLOWER.
    for (partition, leader) in spread.iter().enumerate() {
        let partition = partition as i32;
        let mut at_leader = cluster.connect(*leader);
        // The leader serves once it applied the metadata holding the topic.
        eventually("the leader serving", 10, || {
            (produce(&mut at_leader, "spread", partition, b"v") == (0, 0)).then_some(())
        });
        for i in 1..3 {
            assert_eq!(
                produce(&mut at_leader, "spread", partition, b"v"),
                (0, i64::from(i))
            );
        }
        assert_eq!(
            fetch_offsets(&mut at_leader, "spread", partition),
            (0, vec![0, 1, 2])
        );
        let other = (1..=3).find(|id| id != leader).unwrap();
        let mut elsewhere = cluster.connect(other);
        // Its replica manager applies the image holding the topic a moment after its Metadata
        // names it (until then the topic is unknown there).
        eventually(
            "NOT_LEADER_OR_FOLLOWER from a broker without the partition",
            10,
            || {
                (produce(&mut elsewhere, "spread", partition, b"v").0 == NOT_LEADER_OR_FOLLOWER)
                    .then_some(())
            },
        );
        assert_eq!(
            fetch_offsets(&mut elsewhere, "spread", partition).0,
            NOT_LEADER_OR_FOLLOWER
        );
    }

    // Producer ids are unique across brokers: each hands out ids from its own block.
    let mut producer_ids = std::collections::BTreeSet::new();
    for id in 1..=3 {
        let mut conn = cluster.connect(id);
        for _ in 0..3 {
            let r = conn.send(
                &InitProducerIdRequest::default()
                    .with_transactional_id(None)
                    .with_transaction_timeout_ms(60_000),
                4,
            );
            assert_eq!(r.error_code, 0);
            assert!(
                producer_ids.insert(r.producer_id.0),
                "{:?} twice",
                r.producer_id
            );
        }
    }

    // Explicit assignments are honoured; bad ones are refused with Kafka's codes.
    let assigned = CreatableTopic::default()
        .with_name(name("assigned"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![
            CreatableReplicaAssignment::default()
                .with_partition_index(0)
                .with_broker_ids(vec![BrokerId(3)]),
            CreatableReplicaAssignment::default()
                .with_partition_index(1)
                .with_broker_ids(vec![BrokerId(2)]),
        ]);
    assert_eq!(create_topic(&mut c, assigned), 0);
    assert_eq!(leaders(&mut c, "assigned"), vec![3, 2]);
    let unknown_broker = CreatableTopic::default()
        .with_name(name("bad-assignment"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![CreatableReplicaAssignment::default()
            .with_partition_index(0)
            .with_broker_ids(vec![BrokerId(9)])]);
    assert_eq!(
        create_topic(&mut c, unknown_broker),
        INVALID_REPLICA_ASSIGNMENT
    );
    let too_many_replicas = CreatableTopic::default()
        .with_name(name("rf4"))
        .with_num_partitions(1)
        .with_replication_factor(4);
    assert_eq!(
        create_topic(&mut c, too_many_replicas),
        INVALID_REPLICATION_FACTOR
    );
}

#[test]
fn losing_the_active_controller_keeps_metadata_working_and_a_killed_broker_rejoins() {
    let mut cluster = TestCluster::start(3);
    let mut c = cluster.connect(1);
    let controller = eventually("a controller", 30, || {
        let m = metadata(&mut c);
        (m.brokers.len() == 3).then_some(())?;
        c.quorum_leader()
    });
    assert_eq!(
        create_topic(
            &mut c,
            CreatableTopic::default()
                .with_name(name("before"))
                .with_num_partitions(3)
                .with_replication_factor(1)
        ),
        0
    );
    let before = leaders(&mut c, "before");
    let mut written = Vec::new();
    for (partition, leader) in before.iter().enumerate() {
        let mut at_leader = cluster.connect(*leader);
        // The leader serves once it applied the metadata holding the topic.
        eventually("the leader serving", 10, || {
            (produce(&mut at_leader, "before", partition as i32, b"x").0 == 0).then_some(())
        });
        written.push(partition);
    }

    cluster.kill(controller);
    let survivor = *cluster.live_ids().first().unwrap();
    let mut c = cluster.connect(survivor);
    // A new controller is elected among the survivors, and metadata changes work again.
    let new_controller = eventually("a new controller", 30, || {
        c.quorum_leader().filter(|id| *id != controller)
    });
    assert_ne!(new_controller, controller);
    // The killed broker's session expires: it is fenced, and new topics are
    // placed on the live brokers only.
    eventually("the killed broker fenced", 30, || {
        let dc = c.send(
            &DescribeClusterRequest::default()
                .with_endpoint_type(1)
                .with_include_fenced_brokers(true),
            2,
        );
        dc.brokers
            .iter()
            .any(|b| b.broker_id.0 == controller && b.is_fenced)
            .then_some(())
    });
    eventually("a topic created after the failover", 30, || {
        let code = create_topic(
            &mut c,
            CreatableTopic::default()
                .with_name(name("after"))
                .with_num_partitions(2)
                .with_replication_factor(1),
        );
        (code == 0 || code == 36).then_some(())
    });
    let after = leaders(&mut c, "after");
    assert!(
        after.iter().all(|l| *l != controller && *l > 0),
        "{after:?}"
    );

    // It restarts, rejoins, sees the topic created while it was down, and serves its data.
    cluster.restart(controller);
    let mut back = cluster.connect(controller);
    eventually("the restarted broker unfenced", 30, || {
        let dc = back.send(
            &DescribeClusterRequest::default()
                .with_endpoint_type(1)
                .with_include_fenced_brokers(true),
            2,
        );
        dc.brokers
            .iter()
            .any(|b| b.broker_id.0 == controller && !b.is_fenced)
            .then_some(())
    });
    assert_eq!(leaders(&mut back, "after"), after);
    let restored = eventually("leaders for every partition of 'before'", 30, || {
        let l = leaders(&mut back, "before");
        l.iter().all(|l| *l > 0).then_some(l)
    });
    assert_eq!(
        restored, before,
        "single-replica partitions return to their broker"
    );
    for partition in written {
        let leader = restored[partition];
        let mut at_leader = cluster.connect(leader);
        assert_eq!(
            fetch_offsets(&mut at_leader, "before", partition as i32),
            (0, vec![0])
        );
    }
}

/// (leader, isr) of partition 0 of `topic` as node `c` reports them.
fn leader_and_isr(c: &mut Client, topic: &str) -> (i32, Vec<i32>) {
    let m = metadata(c);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
        .expect("topic in metadata");
    let p = &t.partitions[0];
    let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
    isr.sort();
    (p.leader_id.0, isr)
}

const NOT_ENOUGH_REPLICAS: i16 = 19;

#[test]
fn a_replicated_partition_keeps_every_acknowledged_write_across_leader_loss() {
    let mut cluster = TestCluster::start(3);
    let mut c = cluster.connect(1);
    eventually("three brokers", 30, || {
        (metadata(&mut c).brokers.len() == 3).then_some(())
    });
    let topic = CreatableTopic::default()
        .with_name(name("replicated"))
        .with_num_partitions(1)
        .with_replication_factor(3)
        .with_configs(vec![
            kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("min.insync.replicas"))
                .with_value(Some(StrBytes::from_static_str("2"))),
        ]);
    assert_eq!(create_topic(&mut c, topic), 0);
    let (leader, _) = eventually("the full ISR", 30, || {
        let (l, isr) = leader_and_isr(&mut c, "replicated");
        (l > 0 && isr == vec![1, 2, 3]).then_some((l, isr))
    });

    // acks=all writes are acknowledged once every in-sync replica has them.
    let mut at_leader = cluster.connect(leader);
    eventually("the leader serving", 10, || {
        (produce(&mut at_leader, "replicated", 0, b"first").0 == 0).then_some(())
    });
    let mut acked = 1i64;
    for i in 0..49 {
        let (code, offset) = produce(&mut at_leader, "replicated", 0, format!("v{i}").as_bytes());
        assert_eq!((code, offset), (0, acked));
        acked += 1;
    }

    // The leader dies: another in-sync replica takes over with every acknowledged record.
    cluster.kill(leader);
    let survivor = cluster.live_ids()[0];
    let mut c = cluster.connect(survivor);
    let (second, _) = eventually("a new leader", 30, || {
        let (l, isr) = leader_and_isr(&mut c, "replicated");
        (l > 0 && l != leader).then_some((l, isr))
    });
    let mut at_second = cluster.connect(second);
    // Every acknowledged record is there; the new leader exposes the last ones once its high
    // watermark is confirmed by the ISR (the dead leader leaves it when it is fenced).
    let expected: Vec<i64> = (0..acked).collect();
    eventually("every acknowledged record on the new leader", 30, || {
        let (code, offsets) = fetch_offsets(&mut at_second, "replicated", 0);
        (code == 0 && offsets == expected).then_some(())
    });
    // Two in-sync replicas left: acks=all still works (min.insync.replicas=2).
    let (code, offset) = eventually("a write to the new leader", 30, || {
        let r = produce(&mut at_second, "replicated", 0, b"after-failover");
        (r.0 == 0).then_some(r)
    });
    assert_eq!((code, offset), (0, acked));
    acked += 1;

    // The old leader comes back, truncates what it had beyond the new leader's log (if
    // anything), catches up and rejoins the ISR; the log holds every acknowledged record.
    cluster.restart(leader);
    let mut c = cluster.connect(second);
    eventually("the full ISR again", 60, || {
        let (_, isr) = leader_and_isr(&mut c, "replicated");
        (isr == vec![1, 2, 3]).then_some(())
    });
    let (l, _) = leader_and_isr(&mut c, "replicated");
    let mut at_leader = cluster.connect(l);
    let expected: Vec<i64> = (0..acked).collect();
    eventually("the leader's log", 30, || {
        let (code, offsets) = fetch_offsets(&mut at_leader, "replicated", 0);
        (code == 0 && offsets == expected).then_some(())
    });

    // A partition on two brokers with min.insync.replicas=2: when one is lost (the controller
    // quorum keeps two of three voters), acks=all writes are refused, nothing is acknowledged
    // that is not on both; once it is back and caught up, writes are accepted again.
    let others: Vec<i32> = (1..=3).filter(|id| *id != l).collect();
    let (a, b) = (others[0], others[1]);
    let pair = CreatableTopic::default()
        .with_name(name("pair"))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(vec![CreatableReplicaAssignment::default()
            .with_partition_index(0)
            .with_broker_ids(vec![BrokerId(a), BrokerId(b)])])
        .with_configs(vec![
            kafka_protocol::messages::create_topics_request::CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("min.insync.replicas"))
                .with_value(Some(StrBytes::from_static_str("2"))),
        ]);
    assert_eq!(create_topic(&mut c, pair), 0);
    let mut expected_isr = vec![a, b];
    expected_isr.sort();
    eventually("the pair's ISR", 30, || {
        let (l, isr) = leader_and_isr(&mut c, "pair");
        (l == a && isr == expected_isr).then_some(())
    });
    let mut at_a = cluster.connect(a);
    eventually("a write to the pair", 30, || {
        (produce(&mut at_a, "pair", 0, b"both").0 == 0).then_some(())
    });
    cluster.kill(b);
    eventually("NOT_ENOUGH_REPLICAS with one in-sync replica", 30, || {
        let (code, _) = produce(&mut at_a, "pair", 0, b"refused");
        (code == NOT_ENOUGH_REPLICAS).then_some(())
    });
    cluster.restart(b);
    eventually("the pair's ISR again", 60, || {
        let (_, isr) = leader_and_isr(&mut c, "pair");
        (isr == expected_isr).then_some(())
    });
    eventually("a write to the pair again", 30, || {
        (produce(&mut at_a, "pair", 0, b"both again").0 == 0).then_some(())
    });
}

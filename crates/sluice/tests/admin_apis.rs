//! The admin APIs of Kafka's tools (issue 14, point 5): finalized features in ApiVersions and
//! UpdateFeatures (KIP-584, KIP-778), DescribeTopicPartitions (KIP-966, paginated) and
//! UnregisterBroker (KIP-631), against brokers run in the test process; and `sluice cluster
//! health` (point 7) against a three-node cluster, as the binary.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{sluice_cli, Client, TestBroker, TestCluster};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_topic_partitions_request::{Cursor, TopicRequest};
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_TOPIC_EXCEPTION: i16 = 17;
const UNSUPPORTED_VERSION: i16 = 35;
const INVALID_REQUEST: i16 = 42;
const INVALID_UPDATE_VERSION: i16 = 95;
const BROKER_ID_NOT_REGISTERED: i16 = 102;

const UPGRADE: i8 = 1;
const SAFE_DOWNGRADE: i8 = 2;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn name(topic: &str) -> TopicName {
    TopicName(sb(topic))
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

fn create_topic(c: &mut Client, topic: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    assert_eq!(
        c.send(&request, 7).topics[0].error_code,
        NONE,
        "create {topic}"
    );
}

/// ApiVersions at `version`: supported features as (name, min, max), finalized features as
/// name -> level, and the finalized-features epoch.
type Features = (Vec<(String, i16, i16)>, BTreeMap<String, i16>, i64);

fn features(c: &mut Client, version: i16) -> Features {
    let r = c.send(&ApiVersionsRequest::default(), version);
    assert_eq!(r.error_code, NONE);
    let supported = r
        .supported_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version, f.max_version))
        .collect();
    let finalized = r
        .finalized_features
        .iter()
        .map(|f| {
            assert_eq!(f.min_version_level, f.max_version_level, "{f:?}");
            (f.name.to_string(), f.max_version_level)
        })
        .collect();
    (supported, finalized, r.finalized_features_epoch)
}

fn update(feature: &str, level: i16, upgrade_type: i8) -> FeatureUpdateKey {
    FeatureUpdateKey::default()
        .with_feature(sb(feature))
        .with_max_version_level(level)
        .with_upgrade_type(upgrade_type)
}

/// UpdateFeatures v1: the top-level code and message, then each feature's code.
fn update_features(
    c: &mut Client,
    updates: Vec<FeatureUpdateKey>,
    validate_only: bool,
) -> (i16, String, Vec<i16>) {
    let request = UpdateFeaturesRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only)
        .with_feature_updates(updates);
    let r = c.send(&request, 1);
    (
        r.error_code,
        r.error_message.map(|m| m.to_string()).unwrap_or_default(),
        r.results.iter().map(|f| f.error_code).collect(),
    )
}

fn consumer_heartbeat(c: &mut Client) -> (i16, String) {
    let request = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb("g848")))
        .with_member_id(sb("m-1"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(60_000)
        .with_subscribed_topic_names(Some(vec![name("t848")]))
        .with_topic_partitions(Some(Vec::new()));
    let r = c.send(&request, 0);
    (
        r.error_code,
        r.error_message.map(|m| m.to_string()).unwrap_or_default(),
    )
}

#[test]
fn features_are_advertised_and_updated_through_the_metadata_log() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();

    let (supported, finalized, epoch) = features(&mut c, 4);
    assert_eq!(
        supported,
        vec![
            ("metadata.version".to_string(), 27, 27),
            ("group.version".to_string(), 0, 1),
            ("transaction.version".to_string(), 0, 0),
        ]
    );
    assert_eq!(
        finalized,
        BTreeMap::from([
            ("group.version".to_string(), 1),
            ("metadata.version".to_string(), 27)
        ])
    );
    assert_eq!(epoch, 0, "never updated");
    // Before v4 no range starts at 0 (KAFKA-17011); v0-v2 have no features at all.
    let (supported_v3, _, _) = features(&mut c, 3);
    assert_eq!(
        supported_v3,
        vec![
            ("metadata.version".to_string(), 27, 27),
            ("group.version".to_string(), 1, 1),
        ]
    );
    assert_eq!(features(&mut c, 2).0, Vec::new());

    // Refusals: nothing changes.
    let (code, message, results) =
        update_features(&mut c, vec![update("group.version", 0, UPGRADE)], false);
    assert_eq!(
        (code, results),
        (INVALID_UPDATE_VERSION, vec![INVALID_UPDATE_VERSION])
    );
    assert!(message.contains("downgrade"), "{message}");
    for bad in [
        update("transaction.version", 2, UPGRADE),
        update("metadata.version", 7, SAFE_DOWNGRADE),
        update("no.such.feature", 1, UPGRADE),
    ] {
        let (code, message, _) = update_features(&mut c, vec![bad.clone()], false);
        assert_eq!(code, INVALID_UPDATE_VERSION, "{bad:?}: {message}");
    }
    let (code, _, _) = update_features(&mut c, vec![update("group.version", 0, 9)], false);
    assert_eq!(code, INVALID_REQUEST, "unknown upgrade type");
    // All or nothing: a valid update beside a refused one does not apply.
    let (code, _, results) = update_features(
        &mut c,
        vec![
            update("group.version", 0, SAFE_DOWNGRADE),
            update("transaction.version", 1, UPGRADE),
        ],
        false,
    );
    assert_eq!(code, INVALID_UPDATE_VERSION);
    assert_eq!(results, vec![INVALID_UPDATE_VERSION; 2]);
    // validate_only checks and changes nothing.
    let (code, _, _) = update_features(
        &mut c,
        vec![update("group.version", 0, SAFE_DOWNGRADE)],
        true,
    );
    assert_eq!(code, NONE);
    let (_, finalized, epoch) = features(&mut c, 4);
    assert_eq!(finalized.get("group.version"), Some(&1));
    assert_eq!(epoch, 0);
    assert_ne!(consumer_heartbeat(&mut c).0, UNSUPPORTED_VERSION);

    // group.version 0 turns the KIP-848 protocol off, cluster-wide.
    let (code, message, results) = update_features(
        &mut c,
        vec![update("group.version", 0, SAFE_DOWNGRADE)],
        false,
    );
    assert_eq!((code, results), (NONE, vec![NONE]), "{message}");
    let (_, finalized, epoch) = features(&mut c, 4);
    assert_eq!(
        finalized.get("group.version"),
        None,
        "level 0 is not listed"
    );
    assert!(
        epoch > 0,
        "the epoch is the change's metadata offset: {epoch}"
    );
    let (code, message) = consumer_heartbeat(&mut c);
    assert_eq!(code, UNSUPPORTED_VERSION, "{message}");
    assert!(message.contains("group.version"), "{message}");

    // v0 says allow_downgrade instead; v2 has no per-feature results.
    let v0 = UpdateFeaturesRequest::default()
        .with_timeout_ms(10_000)
        .with_feature_updates(vec![FeatureUpdateKey::default()
            .with_feature(sb("group.version"))
            .with_max_version_level(1)]);
    let r = c.send(&v0, 0);
    assert_eq!((r.error_code, r.results.len()), (NONE, 1));
    let (_, finalized, later_epoch) = features(&mut c, 3);
    assert_eq!(finalized.get("group.version"), Some(&1));
    assert!(later_epoch > epoch);
    let v2 = UpdateFeaturesRequest::default()
        .with_timeout_ms(10_000)
        .with_feature_updates(vec![update("group.version", 2, UPGRADE)]);
    let r = c.send(&v2, 2);
    assert_eq!(r.error_code, INVALID_UPDATE_VERSION);
    assert!(r.results.is_empty());
}

/// DescribeTopicPartitions: (topic, code, partitions) per topic, and the next cursor.
type Page = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

fn describe_page(c: &mut Client, topics: &[&str], limit: i32, cursor: Option<(&str, i32)>) -> Page {
    let request = DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(name(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(name(t))
                .with_partition_index(p)
        }));
    let r = c.send(&request, 0);
    let topics = r
        .topics
        .iter()
        .map(|t| {
            let n = t.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
            let partitions = t.partitions.iter().map(|p| p.partition_index).collect();
            (n, t.error_code, partitions)
        })
        .collect();
    let next = r
        .next_cursor
        .map(|c| (c.topic_name.to_string(), c.partition_index));
    (topics, next)
}

fn row(topic: &str, code: i16, partitions: &[i32]) -> (String, i16, Vec<i32>) {
    (topic.to_string(), code, partitions.to_vec())
}

#[test]
fn describe_topic_partitions_pages_through_topics_in_name_order() {
    let broker = TestBroker::start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, "dtp-b", 2);
    create_topic(&mut c, "dtp-a", 3);
    create_topic(&mut c, "dtp-c", 1);
    let topics = ["dtp-c", "dtp-a", "dtp-b"];

    // Two partitions a page, following the cursor.
    let (page, next) = describe_page(&mut c, &topics, 2, None);
    assert_eq!(page, vec![row("dtp-a", NONE, &[0, 1])]);
    assert_eq!(next, Some(("dtp-a".to_string(), 2)));
    let (page, next) = describe_page(&mut c, &topics, 2, Some(("dtp-a", 2)));
    assert_eq!(
        page,
        vec![row("dtp-a", NONE, &[2]), row("dtp-b", NONE, &[0])]
    );
    assert_eq!(next, Some(("dtp-b".to_string(), 1)));
    let (page, next) = describe_page(&mut c, &topics, 2, Some(("dtp-b", 1)));
    assert_eq!(
        page,
        vec![row("dtp-b", NONE, &[1]), row("dtp-c", NONE, &[0])]
    );
    assert_eq!(next, None);
    // A page that ends exactly at a topic's end points at the next topic's start.
    let (page, next) = describe_page(&mut c, &topics, 3, None);
    assert_eq!(page, vec![row("dtp-a", NONE, &[0, 1, 2])]);
    assert_eq!(next, Some(("dtp-b".to_string(), 0)));

    // Every topic when none is named (internal ones too, whose partitions come first); the
    // partitions carry what Metadata says.
    let request = DescribeTopicPartitionsRequest::default().with_response_partition_limit(2000);
    let r = c.send(&request, 0);
    let names: Vec<String> = r
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.to_string()))
        .filter(|n| n.starts_with("dtp-"))
        .collect();
    assert_eq!(names, vec!["dtp-a", "dtp-b", "dtp-c"]);
    let a = r
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == "dtp-a"))
        .expect("dtp-a");
    let metadata = c.send(
        &MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(name("dtp-a"))),
        ])),
        12,
    );
    assert_eq!(a.topic_id, metadata.topics[0].topic_id);
    assert!(!a.is_internal);
    for p in &a.partitions {
        assert_eq!(p.leader_id.0, 1);
        assert_eq!(p.replica_nodes, vec![BrokerId(1)]);
        assert_eq!(p.isr_nodes, vec![BrokerId(1)]);
        assert_eq!(p.eligible_leader_replicas, Some(Vec::new()));
        assert!(p.offline_replicas.is_empty());
    }

    // Unknown and invalid names; bad cursors refuse the whole request.
    let (page, _) = describe_page(&mut c, &["no-such-topic", "bad/name", "dtp-c"], 100, None);
    assert_eq!(
        page,
        vec![
            row("bad/name", INVALID_TOPIC_EXCEPTION, &[]),
            row("dtp-c", NONE, &[0]),
            row("no-such-topic", UNKNOWN_TOPIC_OR_PARTITION, &[]),
        ]
    );
    let (page, next) = describe_page(&mut c, &["dtp-a"], 100, Some(("dtp-b", 0)));
    assert_eq!(
        (page, next),
        (vec![row("dtp-a", INVALID_REQUEST, &[])], None)
    );
    let (page, _) = describe_page(&mut c, &["dtp-a"], 100, Some(("dtp-a", -1)));
    assert_eq!(page, vec![row("dtp-a", INVALID_REQUEST, &[])]);
    // A limit below 1 still answers one partition.
    let (page, next) = describe_page(&mut c, &["dtp-a"], 0, None);
    assert_eq!(page, vec![row("dtp-a", NONE, &[0])]);
    assert_eq!(next, Some(("dtp-a".to_string(), 1)));
}

fn describe_cluster_ids(c: &mut Client) -> Vec<(i32, bool)> {
    let request = DescribeClusterRequest::default()
        .with_endpoint_type(1)
        .with_include_fenced_brokers(true);
    c.send(&request, 2)
        .brokers
        .iter()
        .map(|b| (b.broker_id.0, b.is_fenced))
        .collect()
}

fn health(bootstrap: &str) -> common::CliOutput {
    sluice_cli(&[
        "cluster",
        "health",
        "--output",
        "json",
        "--bootstrap-server",
        bootstrap,
    ])
}

#[test]
fn unregister_broker_forgets_a_stopped_broker_and_cluster_health_judges() {
    let mut cluster = TestCluster::start(3);
    let mut c = cluster.connect(1);
    eventually("three unfenced brokers", 60, || {
        (describe_cluster_ids(&mut c) == vec![(1, false), (2, false), (3, false)]).then_some(())
    });
    let out = eventually("a healthy cluster", 60, || {
        let out = health(&cluster.addr(1));
        (out.code == 0).then_some(out)
    });
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_eq!(report["healthy"], true, "{}", out.stdout);
    let voters = report["quorum"]["voters"].as_array().expect("voters");
    assert_eq!(voters.len(), 3, "{}", out.stdout);
    assert!(report["quorum"]["leader_id"].as_i64().is_some());

    cluster.stop(3);
    eventually("broker 3 fenced", 60, || {
        describe_cluster_ids(&mut c)
            .contains(&(3, true))
            .then_some(())
    });
    let out = health(&cluster.addr(1));
    assert_ne!(out.code, 0, "{}", out.stdout);
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    assert_eq!(report["healthy"], false);
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(problems.contains(&"broker 3 is fenced"), "{problems:?}");
    assert!(
        out.stderr.contains("the cluster is unhealthy"),
        "{}",
        out.stderr
    );
    // The same as text.
    let text = sluice_cli(&["cluster", "health", "--bootstrap-server", &cluster.addr(1)]);
    assert!(
        text.stdout.starts_with("Health:         UNHEALTHY"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("Metadata quorum: leader "),
        "{}",
        text.stdout
    );

    let unregister = |c: &mut Client, id: i32| {
        let r = c.send(
            &UnregisterBrokerRequest::default().with_broker_id(BrokerId(id)),
            0,
        );
        (r.error_code, r.error_message.map(|m| m.to_string()))
    };
    assert_eq!(unregister(&mut c, 3), (NONE, None));
    assert_eq!(describe_cluster_ids(&mut c), vec![(1, false), (2, false)]);
    let (code, message) = unregister(&mut c, 3);
    assert_eq!(code, BROKER_ID_NOT_REGISTERED, "{message:?}");
    assert_eq!(unregister(&mut c, 77).0, BROKER_ID_NOT_REGISTERED);

    // The fenced broker is gone from the verdict; the replicas assigned to it stay (Kafka's
    // UnregisterBroker does not touch assignments), so the internal topics, replicated to all
    // three, are under-replicated until they are reassigned.
    let out = health(&cluster.addr(2));
    let report: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("JSON");
    let problems: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(
        problems.iter().all(|p| p.contains("is under-replicated")),
        "{problems:?}"
    );
    let brokers: Vec<i64> = report["status"]["brokers"]
        .as_array()
        .expect("brokers")
        .iter()
        .filter_map(|b| b["id"].as_i64())
        .collect();
    assert_eq!(brokers, vec![1, 2]);
}

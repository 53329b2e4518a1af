//! Dynamic broker configs on a 3-node cluster in the test process: IncrementalAlterConfigs on
//! the cluster-wide default (broker resource `""`, which the Python clients cannot name) and on
//! one broker, sent to one node and seen by every node; a topic without its own retention.ms
//! loses its records once the default retention changes, without a restart; the produce path
//! takes a new message.max.bytes default; DescribeConfigs shows each source; read-only and
//! unknown keys are refused; the values survive a restart. Also ListConfigResources.

mod common;

use std::time::{Duration, Instant};

use common::{batch, Client, TestCluster};
use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterConfigsRequest, BrokerId, CreateTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, ListConfigResourcesRequest, ListOffsetsRequest,
    MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const SET: i8 = 0;
const DELETE: i8 = 1;

// Kafka's error codes and config sources.
const MESSAGE_TOO_LARGE: i16 = 10;
const INVALID_CONFIG: i16 = 40;
const INVALID_REQUEST: i16 = 42;
const DYNAMIC_BROKER_CONFIG: i8 = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
const STATIC_BROKER_CONFIG: i8 = 4;
const DEFAULT_CONFIG: i8 = 5;

const AGING: &str = "aging";

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Retries `f` every 50 ms until it returns `Some`, for at most `secs` seconds.
fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// IncrementalAlterConfigs of one resource: `(key, operation, value)`; the error code and
/// message.
fn alter(
    c: &mut Client,
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, String) {
    let request = IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(sb(k))
                            .with_config_operation(*op)
                            .with_value(v.map(sb))
                    })
                    .collect(),
            )]);
    let response = c.send(&request, 1);
    let r = &response.responses[0];
    (
        r.error_code,
        r.error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

fn describe(c: &mut Client, resource_type: i8, name: &str, keys: &[&str]) -> DescribeConfigsResult {
    let request = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configuration_keys(
                (!keys.is_empty()).then(|| keys.iter().map(|k| sb(k)).collect()),
            )]);
    c.send(&request, 4).results.remove(0)
}

/// The value and source of `key` in a DescribeConfigs answer.
fn value_of(result: &DescribeConfigsResult, key: &str) -> Option<(Option<String>, i8)> {
    result
        .configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .map(|c| (c.value.as_ref().map(|v| v.to_string()), c.config_source))
}

fn owned(value: &str, source: i8) -> Option<(Option<String>, i8)> {
    Some((Some(value.to_string()), source))
}

fn produce(c: &mut Client, value: &[u8]) -> i16 {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(sb(AGING)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&[value], Compression::None)))])]);
    c.send(&request, 9).responses[0].partition_responses[0].error_code
}

/// The log start offset of `aging`-0 on its leader (ListOffsets EARLIEST).
fn log_start_offset(c: &mut Client) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(sb(AGING)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-2)])]);
    let response = c.send(&request, 7);
    let p = &response.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "ListOffsets");
    p.offset
}

fn leader_of_aging(c: &mut Client) -> Option<i32> {
    let m = c.send(
        &MetadataRequest::default()
            .with_topics(None)
            .with_allow_auto_topic_creation(false),
        12,
    );
    m.topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(AGING))
        .and_then(|t| t.partitions.first())
        .map(|p| p.leader_id.0)
        .filter(|l| *l >= 0)
}

#[test]
fn dynamic_broker_configs_apply_on_every_broker_without_a_restart() {
    let mut cluster = TestCluster::start_with(3, &[("log.retention.check.interval.ms", "100")]);
    let mut c1 = cluster.connect(1);
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(sb(AGING)))
            .with_num_partitions(1)
            .with_replication_factor(3)]);
    assert_eq!(c1.send(&create, 7).topics[0].error_code, 0);
    let leader = eventually("a leader of aging", 30, || leader_of_aging(&mut c1));
    let mut lc = cluster.connect(leader);
    // Metadata may name the leader before that broker has applied the topic: the first write
    // is retried on the codes a client retries (UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER,
    // NOT_ENOUGH_REPLICAS), as a real producer would.
    eventually(
        "the leader of aging to take a write",
        30,
        || match produce(&mut lc, b"record 0") {
            0 => Some(()),
            3 | 6 | 19 => None,
            other => panic!("the first write to aging failed with error {other}"),
        },
    );
    for i in 1..3 {
        assert_eq!(produce(&mut lc, format!("record {i}").as_bytes()), 0);
    }
    assert_eq!(log_start_offset(&mut lc), 0);
    assert_eq!(
        value_of(
            &describe(&mut lc, TOPIC, AGING, &["retention.ms"]),
            "retention.ms"
        ),
        owned("604800000", DEFAULT_CONFIG)
    );

    // The cluster-wide default, sent to node 2: every broker takes it, the topic without its
    // own retention.ms with it, and retention deletes the records.
    let mut c2 = cluster.connect(2);
    assert_eq!(
        alter(
            &mut c2,
            BROKER,
            "",
            &[("log.retention.ms", SET, Some("1"))],
            false
        ),
        (0, String::new())
    );
    for id in 1..=3 {
        let mut c = cluster.connect(id);
        eventually("the new default on every broker", 30, || {
            let broker = describe(&mut c, BROKER, &id.to_string(), &["log.retention.ms"]);
            let topic = describe(&mut c, TOPIC, AGING, &["retention.ms"]);
            (value_of(&broker, "log.retention.ms") == owned("1", DYNAMIC_DEFAULT_BROKER_CONFIG)
                && value_of(&topic, "retention.ms") == owned("1", DYNAMIC_DEFAULT_BROKER_CONFIG))
            .then_some(())
        });
    }
    eventually("retention to delete the records", 30, || {
        (log_start_offset(&mut lc) == 3).then_some(())
    });

    // The produce path takes a new message.max.bytes default.
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("message.max.bytes", SET, Some("100"))],
            false
        ),
        (0, String::new())
    );
    eventually("message.max.bytes on the leader", 30, || {
        (produce(&mut lc, &[b'x'; 300]) == MESSAGE_TOO_LARGE).then_some(())
    });
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("message.max.bytes", DELETE, None)],
            false
        )
        .0,
        0
    );
    eventually("message.max.bytes back to its default", 30, || {
        (produce(&mut lc, &[b'x'; 300]) == 0).then_some(())
    });

    // One broker's own value, sent to node 1 for broker 3: it wins over the default on
    // broker 3 only.
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "3",
            &[("log.retention.ms", SET, Some("3600000"))],
            false
        ),
        (0, String::new())
    );
    let mut c3 = cluster.connect(3);
    let on_3 = eventually("broker 3's own value", 30, || {
        let d = describe(&mut c3, BROKER, "3", &["log.retention.ms"]);
        (value_of(&d, "log.retention.ms") == owned("3600000", DYNAMIC_BROKER_CONFIG)).then_some(d)
    });
    let synonyms: Vec<(String, i8)> = on_3.configs[0]
        .synonyms
        .iter()
        .map(|s| (s.name.to_string(), s.source))
        .collect();
    assert_eq!(
        synonyms[..2],
        [
            ("log.retention.ms".to_string(), DYNAMIC_BROKER_CONFIG),
            (
                "log.retention.ms".to_string(),
                DYNAMIC_DEFAULT_BROKER_CONFIG
            ),
        ]
    );
    assert_eq!(
        value_of(
            &describe(&mut c3, TOPIC, AGING, &["retention.ms"]),
            "retention.ms"
        ),
        owned("3600000", DYNAMIC_BROKER_CONFIG)
    );
    assert_eq!(
        value_of(
            &describe(&mut c1, BROKER, "1", &["log.retention.ms"]),
            "log.retention.ms"
        ),
        owned("1", DYNAMIC_DEFAULT_BROKER_CONFIG)
    );
    // The default resource lists the dynamic defaults only.
    let defaults = describe(&mut c1, BROKER, "", &[]);
    assert_eq!(defaults.error_code, 0);
    let names: Vec<&str> = defaults.configs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["log.retention.ms"]);
    // A broker describes itself (and the default) only, as in Kafka.
    assert_eq!(
        describe(&mut c1, BROKER, "2", &[]).error_code,
        INVALID_REQUEST
    );

    // Every key Kafka lists, read-only ones flagged, secrets without a value.
    let all = describe(&mut c2, BROKER, "2", &[]);
    assert_eq!(all.error_code, 0);
    for key in [
        "advertised.listeners",
        "log.dirs",
        "node.id",
        "process.roles",
    ] {
        let entry = all
            .configs
            .iter()
            .find(|c| c.name.as_str() == key)
            .unwrap_or_else(|| panic!("{key} is listed"));
        assert!(entry.read_only, "{key} is read-only");
    }
    // Listeners are added and removed per broker.
    assert!(
        all.configs
            .iter()
            .any(|c| c.name.as_str() == "listeners" && !c.read_only),
        "listeners is dynamic"
    );
    assert_eq!(value_of(&all, "node.id"), owned("2", STATIC_BROKER_CONFIG));
    assert_eq!(
        value_of(&all, "log.retention.check.interval.ms"),
        owned("100", STATIC_BROKER_CONFIG)
    );
    assert!(all
        .configs
        .iter()
        .any(|c| c.name.as_str() == "num.partitions" && c.config_source == DEFAULT_CONFIG));
    let secret = all
        .configs
        .iter()
        .find(|c| c.name.as_str() == "ssl.key.password")
        .expect("ssl.key.password is listed");
    assert!(secret.is_sensitive && secret.value.is_none());

    // Refusals: read-only, unknown, bad value, a name that is no broker id.
    assert_eq!(
        alter(&mut c1, BROKER, "1", &[("node.id", SET, Some("5"))], false),
        (
            INVALID_REQUEST,
            "Cannot update these configs dynamically: Set(node.id)".to_string()
        )
    );
    // A listener's key store is one broker's, never the cluster-wide default's (Kafka's rule).
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[(
                "listener.name.plaintext.ssl.keystore.location",
                SET,
                Some("/k.pem")
            )],
            false
        ),
        (
            INVALID_REQUEST,
            "Cannot update these configs at default cluster level, broker id must be specified: \
             Set(listener.name.plaintext.ssl.keystore.location)"
                .to_string()
        )
    );
    // Connection limits on the cluster-wide default are taken.
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("max.connections.per.ip", SET, Some("1000"))],
            true
        ),
        (0, String::new())
    );
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("no.such.key", SET, Some("1"))],
            false
        ),
        (
            INVALID_CONFIG,
            "Unknown broker config name: no.such.key".to_string()
        )
    );
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("log.retention.ms", SET, Some("soon"))],
            false
        )
        .0,
        INVALID_REQUEST
    );
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "one",
            &[("log.retention.ms", SET, Some("1"))],
            false
        )
        .0,
        INVALID_REQUEST
    );
    // validate_only checks and stores nothing.
    assert_eq!(
        alter(
            &mut c1,
            BROKER,
            "",
            &[("log.segment.bytes", SET, Some("1048576"))],
            true
        ),
        (0, String::new())
    );
    assert_eq!(
        value_of(
            &describe(&mut c1, BROKER, "1", &["log.segment.bytes"]),
            "log.segment.bytes"
        ),
        owned("1073741824", DEFAULT_CONFIG)
    );

    // The legacy AlterConfigs replaces broker 3's whole set.
    let legacy = AlterConfigsRequest::default().with_resources(vec![LegacyResource::default()
        .with_resource_type(BROKER)
        .with_resource_name(sb("3"))
        .with_configs(vec![LegacyConfig::default()
            .with_name(sb("log.retention.bytes"))
            .with_value(Some(sb("1000000")))])]);
    assert_eq!(c1.send(&legacy, 2).responses[0].error_code, 0);
    eventually("broker 3's set replaced", 30, || {
        let d = describe(
            &mut c3,
            BROKER,
            "3",
            &["log.retention.ms", "log.retention.bytes"],
        );
        (value_of(&d, "log.retention.ms") == owned("1", DYNAMIC_DEFAULT_BROKER_CONFIG)
            && value_of(&d, "log.retention.bytes") == owned("1000000", DYNAMIC_BROKER_CONFIG))
        .then_some(())
    });

    // ListConfigResources: the topic and the three brokers.
    let listed = c1.send(&ListConfigResourcesRequest::default(), 1);
    assert_eq!(listed.error_code, 0);
    let mut resources: Vec<(i8, String)> = listed
        .config_resources
        .iter()
        .map(|r| (r.resource_type, r.resource_name.to_string()))
        .collect();
    resources.sort();
    assert!(
        resources.contains(&(TOPIC, AGING.to_string())),
        "{resources:?}"
    );
    let brokers: Vec<&str> = resources
        .iter()
        .filter(|(t, _)| *t == BROKER)
        .map(|(_, n)| n.as_str())
        .collect();
    assert_eq!(brokers, vec!["1", "2", "3"]);
    let only_brokers = c1.send(
        &ListConfigResourcesRequest::default().with_resource_types(vec![BROKER]),
        1,
    );
    assert_eq!(only_brokers.config_resources.len(), 3);
    assert_eq!(
        c1.send(
            &ListConfigResourcesRequest::default().with_resource_types(vec![7]),
            1
        )
        .error_code,
        35,
        "UNSUPPORTED_VERSION for a type Kafka does not have"
    );
    assert!(c1
        .send(&ListConfigResourcesRequest::default(), 0)
        .config_resources
        .is_empty());

    // The values are in the metadata log: they survive a restart of the whole cluster.
    cluster.kill_and_restart_all();
    let mut c3 = cluster.connect(3);
    eventually("dynamic configs after the restart", 60, || {
        let d = describe(
            &mut c3,
            BROKER,
            "3",
            &["log.retention.ms", "log.retention.bytes"],
        );
        let topic = describe(&mut c3, TOPIC, AGING, &["retention.bytes"]);
        (d.error_code == 0
            && value_of(&d, "log.retention.ms") == owned("1", DYNAMIC_DEFAULT_BROKER_CONFIG)
            && value_of(&d, "log.retention.bytes") == owned("1000000", DYNAMIC_BROKER_CONFIG)
            && value_of(&topic, "retention.bytes") == owned("1000000", DYNAMIC_BROKER_CONFIG))
        .then_some(())
    });
}

//! Metadata v1-v13 for every topic: brokers, cluster id, controller, and each partition's
//! leader, replicas and in-sync replicas, as the broker asked sees them.
//!
//! v1 is the oldest with a controller id and with a null topic list meaning "all topics";
//! versions from 9 on are flexible. Wire layout (see `reader.rs` for the types; STRING and
//! ARRAY are their COMPACT_ forms from v9, and TAGGED_FIELDS exist only from v9):
//!
//! ```text
//! request    ARRAY topics (null = all), BOOLEAN allow_auto_topic_creation (v4+),
//!            BOOLEAN include_cluster_authorized_operations (v8-v10),
//!            BOOLEAN include_topic_authorized_operations (v8+), TAGGED_FIELDS
//! response   int32 throttle_time_ms (v3+),
//!            ARRAY brokers:
//!                int32 node_id, STRING host, int32 port, NULLABLE_STRING rack, TAGGED_FIELDS
//!            NULLABLE_STRING cluster_id (v2+), int32 controller_id,
//!            ARRAY topics:
//!                int16 error_code, STRING name (NULLABLE from v12), UUID topic_id (v10+),
//!                BOOLEAN is_internal,
//!                ARRAY partitions:
//!                    int16 error_code, int32 partition_index, int32 leader_id,
//!                    int32 leader_epoch (v7+), ARRAY(int32) replica_nodes,
//!                    ARRAY(int32) isr_nodes, ARRAY(int32) offline_replicas (v5+),
//!                    TAGGED_FIELDS
//!                int32 topic_authorized_operations (v8+), TAGGED_FIELDS
//!            int32 cluster_authorized_operations (v8-v10), int16 error_code (v13+),
//!            TAGGED_FIELDS
//! UUID       16 bytes
//! ```

use kafka_protocol::messages::MetadataRequest;

use super::{Reader, RequestError};

pub const OLDEST_VERSION: i16 = 1;
pub const NEWEST_VERSION: i16 = 13;

/// The first flexible version.
const FLEXIBLE_VERSION: i16 = 9;

/// Smallest encodings over all versions read here, for checking counts: a broker with an empty
/// host and a null rack, a topic with an empty name and no partitions, a partition with no
/// replicas, a node id.
const BROKER_MIN_BYTES: usize = 4 + 1 + 4 + 1 + 1;
const TOPIC_MIN_BYTES: usize = 2 + 1 + 1 + 1 + 1;
const PARTITION_MIN_BYTES: usize = 2 + 4 + 4 + 1 + 1 + 1;
const NODE_ID_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    pub brokers: Vec<MetadataBroker>,
    /// `None` from brokers older than Kafka 0.10.1 (v1 answers) or that do not set one.
    pub cluster_id: Option<String>,
    /// -1 when the broker knows no controller.
    pub controller_id: i32,
    pub topics: Vec<TopicMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataBroker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub error_code: i16,
    /// Empty when a v12+ answer names the topic by id only.
    pub name: String,
    pub is_internal: bool,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub error_code: i16,
    pub partition: i32,
    /// -1 when the partition has no leader.
    pub leader_id: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

/// Every topic, without creating any and without authorized operations.
pub fn request(version: i16) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(None)
        // Below v4 the field does not exist and the encoder insists on its default.
        .with_allow_auto_topic_creation(version < 4)
}

pub fn parse(body: &[u8], version: i16) -> Result<ClusterMetadata, RequestError> {
    let mut r = Fields {
        r: Reader::new(body),
        flexible: version >= FLEXIBLE_VERSION,
    };
    if version >= 3 {
        let _throttle_time_ms = r.r.i32()?;
    }
    let mut brokers = Vec::new();
    for _ in 0..r.count(BROKER_MIN_BYTES)? {
        brokers.push(MetadataBroker {
            node_id: r.r.i32()?,
            host: r.string()?,
            port: r.r.i32()?,
            rack: r.nullable_string()?,
        });
        r.tagged_fields()?;
    }
    let cluster_id = if version >= 2 {
        r.nullable_string()?
    } else {
        None
    };
    let controller_id = r.r.i32()?;
    let mut topics = Vec::new();
    for _ in 0..r.count(TOPIC_MIN_BYTES)? {
        topics.push(parse_topic(&mut r, version)?);
    }
    if (8..=10).contains(&version) {
        let _cluster_authorized_operations = r.r.i32()?;
    }
    if version >= 13 {
        let error_code = r.r.i16()?;
        if error_code != 0 {
            return Err(RequestError::broker(error_code, "Metadata", None));
        }
    }
    r.tagged_fields()?;
    Ok(ClusterMetadata {
        brokers,
        cluster_id,
        controller_id,
        topics,
    })
}

fn parse_topic(r: &mut Fields<'_>, version: i16) -> Result<TopicMetadata, String> {
    let error_code = r.r.i16()?;
    let name = r.nullable_string()?.unwrap_or_default();
    if version >= 10 {
        let _topic_id = r.r.take(16)?;
    }
    let is_internal = r.r.boolean()?;
    let mut partitions = Vec::new();
    for _ in 0..r.count(PARTITION_MIN_BYTES)? {
        let error_code = r.r.i16()?;
        let partition = r.r.i32()?;
        let leader_id = r.r.i32()?;
        if version >= 7 {
            let _leader_epoch = r.r.i32()?;
        }
        let replicas = r.node_ids()?;
        let isr = r.node_ids()?;
        if version >= 5 {
            let _offline_replicas = r.node_ids()?;
        }
        r.tagged_fields()?;
        partitions.push(PartitionMetadata {
            error_code,
            partition,
            leader_id,
            replicas,
            isr,
        });
    }
    if version >= 8 {
        let _topic_authorized_operations = r.r.i32()?;
    }
    r.tagged_fields()?;
    Ok(TopicMetadata {
        error_code,
        name,
        is_internal,
        partitions,
    })
}

/// Strings, arrays and tagged fields in the encoding of the answer's version.
struct Fields<'a> {
    r: Reader<'a>,
    flexible: bool,
}

impl Fields<'_> {
    fn string(&mut self) -> Result<String, String> {
        if self.flexible {
            self.r.compact_string()
        } else {
            self.r.string()
        }
    }

    fn nullable_string(&mut self) -> Result<Option<String>, String> {
        if self.flexible {
            self.r.compact_nullable_string()
        } else {
            self.r.nullable_string()
        }
    }

    fn count(&mut self, element_min_bytes: usize) -> Result<usize, String> {
        if self.flexible {
            self.r.compact_count(element_min_bytes)
        } else {
            self.r.count(element_min_bytes)
        }
    }

    fn node_ids(&mut self) -> Result<Vec<i32>, String> {
        // The count is checked against the bytes left, so this reserves at most their size.
        let count = self.count(NODE_ID_BYTES)?;
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.r.i32()?);
        }
        Ok(ids)
    }

    fn tagged_fields(&mut self) -> Result<(), String> {
        if self.flexible {
            self.r.skip_tagged_fields()
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, MetadataResponse, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, version).expect("encodes");
        buf
    }

    fn ids(ids: &[i32]) -> Vec<BrokerId> {
        ids.iter().copied().map(BrokerId).collect()
    }

    /// Two brokers, one topic of two partitions (one without a leader) and an internal topic;
    /// fields a version lacks are left at their defaults so every version can encode it.
    fn answer(version: i16) -> MetadataResponse {
        let partition = |index: i32, leader: i32, replicas: &[i32], isr: &[i32]| {
            MetadataResponsePartition::default()
                .with_partition_index(index)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(if version >= 7 { 4 } else { -1 })
                .with_replica_nodes(ids(replicas))
                .with_isr_nodes(ids(isr))
                .with_offline_replicas(if version >= 5 { ids(&[2]) } else { vec![] })
                .with_error_code(if leader < 0 { 5 } else { 0 })
        };
        let broker = |id: i32, port: i32| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(s("127.0.0.1"))
                .with_port(port)
                .with_rack(Some(s("r1")))
        };
        MetadataResponse::default()
            .with_brokers(vec![broker(1, 19092), broker(2, 19094)])
            .with_cluster_id((version >= 2).then(|| s("abc")))
            .with_controller_id(BrokerId(1))
            .with_topics(vec![
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(s("orders"))))
                    .with_partitions(vec![
                        partition(0, 1, &[1, 2], &[1]),
                        partition(1, -1, &[2], &[]),
                    ]),
                MetadataResponseTopic::default()
                    .with_name(Some(TopicName(s("__consumer_offsets"))))
                    .with_is_internal(true)
                    .with_partitions(vec![partition(0, 2, &[2], &[2])]),
            ])
    }

    #[test]
    fn the_request_asks_for_every_topic_without_creating_any() {
        // Null topic array, then allow_auto_topic_creation = false.
        assert_eq!(encode(&request(4), 4), vec![0xff, 0xff, 0xff, 0xff, 0]);
        assert_eq!(encode(&request(1), 1), vec![0xff, 0xff, 0xff, 0xff]);
        // Compact null array, no auto creation, no authorized operations, no tagged fields.
        assert_eq!(encode(&request(12), 12), vec![0, 0, 0, 0]);
        assert_eq!(encode(&request(10), 10), vec![0, 0, 0, 0, 0]);
    }

    #[test]
    fn every_version_is_read() {
        for version in OLDEST_VERSION..=NEWEST_VERSION {
            let metadata = parse(&encode(&answer(version), version), version)
                .unwrap_or_else(|e| panic!("v{version}: {e}"));
            let expected = ClusterMetadata {
                brokers: vec![
                    MetadataBroker {
                        node_id: 1,
                        host: "127.0.0.1".into(),
                        port: 19092,
                        rack: Some("r1".into()),
                    },
                    MetadataBroker {
                        node_id: 2,
                        host: "127.0.0.1".into(),
                        port: 19094,
                        rack: Some("r1".into()),
                    },
                ],
                cluster_id: (version >= 2).then(|| "abc".to_string()),
                controller_id: 1,
                topics: vec![
                    TopicMetadata {
                        error_code: 0,
                        name: "orders".into(),
                        is_internal: false,
                        partitions: vec![
                            PartitionMetadata {
                                error_code: 0,
                                partition: 0,
                                leader_id: 1,
                                replicas: vec![1, 2],
                                isr: vec![1],
                            },
                            PartitionMetadata {
                                error_code: 5,
                                partition: 1,
                                leader_id: -1,
                                replicas: vec![2],
                                isr: vec![],
                            },
                        ],
                    },
                    TopicMetadata {
                        error_code: 0,
                        name: "__consumer_offsets".into(),
                        is_internal: true,
                        partitions: vec![PartitionMetadata {
                            error_code: 0,
                            partition: 0,
                            leader_id: 2,
                            replicas: vec![2],
                            isr: vec![2],
                        }],
                    },
                ],
            };
            assert_eq!(metadata, expected, "v{version}");
        }
    }

    #[test]
    fn a_v13_top_level_error_is_the_error() {
        let body = encode(&answer(13).with_error_code(29), 13);
        let err = parse(&body, 13).expect_err("error code");
        assert!(
            matches!(&err, RequestError::Broker { code: 29, text }
                if text.starts_with("Metadata: ")),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_and_oversized_answers_fail_cleanly() {
        for version in [1, 8, 9, 13] {
            let body = encode(&answer(version), version);
            for len in 0..body.len() {
                assert!(
                    parse(&body[..len], version).is_err(),
                    "v{version} cut at {len}"
                );
            }
        }
        // v12: no brokers, no cluster id, controller -1, then a topic count of u32::MAX.
        let mut huge = vec![0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff];
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = parse(&huge, 12).expect_err("too many topics");
        assert!(err.to_string().contains("does not fit"), "{err}");
        // v1: a replica count far beyond the bytes that follow.
        let mut replicas = vec![0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1];
        replicas.extend_from_slice(&[0, 0, 0, 1, b't', 0, 0, 0, 0, 1]); // topic "t", 1 partition
        replicas.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]); // error, index, leader
        replicas.extend_from_slice(&[0x10, 0, 0, 0]);
        let err = parse(&replicas, 1).expect_err("too many replicas");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

//! Metadata v1-v13 into plain data: brokers, cluster id, controller, and each partition's
//! leader, leader epoch, replicas and in-sync replicas, as the broker asked sees them.
//!
//! v1 is the oldest with a controller id and with a null topic list meaning "all topics";
//! `allow_auto_topic_creation` exists from v4 (below it the broker decides alone).

use std::ops::RangeInclusive;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 1..=13;

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
    /// The topic id (v10+); `None` below v10 or when the broker gives the nil id.
    pub topic_id: Option<[u8; 16]>,
    pub is_internal: bool,
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub error_code: i16,
    pub partition: i32,
    /// -1 when the partition has no leader.
    pub leader_id: i32,
    /// -1 below v7.
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Replicas whose log directory is offline (v5+; empty below).
    pub offline_replicas: Vec<i32>,
}

impl ClusterMetadata {
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// Metadata for `topics` (`None`: all), without authorized operations.
pub fn request(
    topics: Option<&[String]>,
    allow_auto_create: bool,
    version: i16,
) -> MetadataRequest {
    let topics = topics.map(|names| {
        names
            .iter()
            .map(|name| {
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
            })
            .collect()
    });
    MetadataRequest::default()
        .with_topics(topics)
        // Below v4 the field does not exist and the encoder insists on its default (true).
        .with_allow_auto_topic_creation(allow_auto_create || version < 4)
}

pub fn from_response(
    response: MetadataResponse,
    version: i16,
) -> Result<ClusterMetadata, RequestError> {
    if version >= 13 && response.error_code != 0 {
        return Err(RequestError::broker(response.error_code, "Metadata", None));
    }
    let brokers = response
        .brokers
        .into_iter()
        .map(|b| MetadataBroker {
            node_id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.map(|r| r.to_string()),
        })
        .collect();
    let topics = response
        .topics
        .into_iter()
        .map(|t| TopicMetadata {
            error_code: t.error_code,
            name: t.name.map(|n| n.0.to_string()).unwrap_or_default(),
            topic_id: Some(*t.topic_id.as_bytes()).filter(|id| id != &[0; 16]),
            is_internal: t.is_internal,
            partitions: t
                .partitions
                .into_iter()
                .map(|p| PartitionMetadata {
                    error_code: p.error_code,
                    partition: p.partition_index,
                    leader_id: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.into_iter().map(|id| id.0).collect(),
                    isr: p.isr_nodes.into_iter().map(|id| id.0).collect(),
                    offline_replicas: p.offline_replicas.into_iter().map(|id| id.0).collect(),
                })
                .collect(),
        })
        .collect();
    Ok(ClusterMetadata {
        brokers,
        cluster_id: response.cluster_id.map(|c| c.to_string()),
        controller_id: response.controller_id.0,
        topics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::BrokerId;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    #[test]
    fn requests_name_the_topics_and_the_auto_creation_wish() {
        let all = request(None, false, 12);
        assert_eq!(all.topics, None);
        assert!(!all.allow_auto_topic_creation);
        let one = request(Some(&["t".to_string()]), true, 12);
        assert_eq!(one.topics.map(|t| t.len()), Some(1));
        assert!(one.allow_auto_topic_creation);
        assert!(request(None, false, 3).allow_auto_topic_creation);
    }

    #[test]
    fn answers_become_plain_data() {
        let response = MetadataResponse::default()
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(s("h1"))
                .with_port(9092)
                .with_rack(Some(s("r1")))])
            .with_cluster_id(Some(s("c1")))
            .with_controller_id(BrokerId(1))
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(s("orders"))))
                .with_partitions(vec![MetadataResponsePartition::default()
                    .with_partition_index(0)
                    .with_leader_id(BrokerId(1))
                    .with_leader_epoch(4)
                    .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
                    .with_isr_nodes(vec![BrokerId(1)])])]);
        let cluster = from_response(response, 12).expect("valid");
        assert_eq!(cluster.controller_id, 1);
        assert_eq!(cluster.cluster_id.as_deref(), Some("c1"));
        assert_eq!(cluster.brokers[0].rack.as_deref(), Some("r1"));
        let partition = &cluster.topic("orders").expect("listed").partitions[0];
        assert_eq!(
            (
                partition.leader_id,
                partition.leader_epoch,
                &partition.replicas[..],
                &partition.isr[..]
            ),
            (1, 4, &[1, 2][..], &[1][..])
        );
        let failed = MetadataResponse::default().with_error_code(31);
        assert!(from_response(failed.clone(), 13).is_err());
        assert!(from_response(failed, 12).is_ok());
    }
}

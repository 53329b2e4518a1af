//! Metadata: brokers, cluster id, controller, and topics with their partitions' leaders and
//! replicas, all from the controller's metadata image as this broker applied it. Unknown
//! topics are created when the client allows it and `auto.create.topics.enable` is on.

use std::collections::BTreeMap;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataImage, PartitionState, TopicImage};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{AclOperation, ResourceType, CLUSTER_RESOURCE_NAME};
use uuid::Uuid;

use super::request::RequestContext;
use super::{
    AUTHORIZED_OPS_NOT_REQUESTED, CLUSTER_OPERATIONS, CLUSTER_OPS_ALL, TOPIC_OPERATIONS,
    TOPIC_OPS_ALL,
};
use crate::cluster::{Cluster, TopicAdmin};
use crate::config::BrokerSettings;
use crate::replicas::validate_topic_name;

pub async fn handle(
    cluster: &Cluster,
    admin: &TopicAdmin,
    settings: &BrokerSettings,
    ctx: &RequestContext,
    request: MetadataRequest,
) -> MetadataResponse {
    let v = ctx.api_version;
    let topic_ops = |wanted: bool, name: &str| {
        if wanted {
            topic_operations(ctx, name)
        } else {
            AUTHORIZED_OPS_NOT_REQUESTED
        }
    };
    // Topics the principal may not DESCRIBE are left out of a full listing and refused by
    // name, existing or not (so nobody learns which names exist).
    let describable = |name: &str| ctx.authorize_topic(AclOperation::Describe, name);
    let want_topic_ops = request.include_topic_authorized_operations;
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let requested = match request.topics {
        None => None,
        Some(t) if t.is_empty() && v == 0 => None,
        Some(t) => Some(t),
    };
    let mut image = cluster.image();
    let mut topics = Vec::new();
    match requested {
        None => {
            for t in image.topics().values() {
                if ctx.authorizer_enabled() && !describable(&t.name) {
                    continue;
                }
                topics.push(describe_topic(
                    &image,
                    t,
                    topic_ops(want_topic_ops, &t.name),
                    v,
                ));
            }
        }
        Some(list) => {
            // Before v4 clients cannot ask, and auto-creation applies.
            let allow_create = v < 4 || request.allow_auto_topic_creation;
            for entry in list {
                // v10+ may name a topic by id; an empty name with an id means "by id".
                let name = entry
                    .name
                    .as_ref()
                    .map(|n| n.to_string())
                    .filter(|n| !n.is_empty() || entry.topic_id.is_nil());
                let found = match &name {
                    Some(n) => image.topic(n),
                    None => image.topic_by_id(&entry.topic_id),
                };
                if let Some(t) = found {
                    if !describable(&t.name) {
                        topics.push(error_topic(
                            name.as_deref(),
                            entry.topic_id,
                            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                        ));
                        continue;
                    }
                    topics.push(describe_topic(
                        &image,
                        t,
                        topic_ops(want_topic_ops, &t.name),
                        v,
                    ));
                    continue;
                }
                if let Some(n) = &name {
                    if !describable(n) {
                        topics.push(error_topic(
                            Some(n),
                            Uuid::nil(),
                            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                        ));
                        continue;
                    }
                }
                let Some(name) = name else {
                    topics.push(error_topic(
                        None,
                        entry.topic_id,
                        ErrorCode::UNKNOWN_TOPIC_ID,
                    ));
                    continue;
                };
                if validate_topic_name(&name).is_err() {
                    topics.push(error_topic(
                        Some(&name),
                        Uuid::nil(),
                        ErrorCode::INVALID_TOPIC_EXCEPTION,
                    ));
                    continue;
                }
                // Auto-creation needs CREATE on the cluster or on the topic.
                let may_create = || {
                    ctx.authorize_cluster(AclOperation::Create)
                        || ctx.authorize_topic(AclOperation::Create, &name)
                };
                if allow_create && settings.auto_create_topics_enable && !may_create() {
                    topics.push(error_topic(
                        Some(&name),
                        Uuid::nil(),
                        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    ));
                } else if allow_create && settings.auto_create_topics_enable {
                    let created = admin
                        .ensure_topic(
                            &name,
                            settings.num_partitions,
                            settings.default_replication_factor,
                            BTreeMap::new(),
                        )
                        .await;
                    image = cluster.image();
                    match (created, image.topic(&name)) {
                        (Ok(_), Some(t)) => topics.push(describe_topic(
                            &image,
                            t,
                            topic_ops(want_topic_ops, &name),
                            v,
                        )),
                        (Ok(_), None) => topics.push(error_topic(
                            Some(&name),
                            Uuid::nil(),
                            ErrorCode::LEADER_NOT_AVAILABLE,
                        )),
                        (Err(e), _) => topics.push(error_topic(Some(&name), Uuid::nil(), e.code)),
                    }
                } else {
                    topics.push(error_topic(
                        Some(&name),
                        Uuid::nil(),
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    ));
                }
            }
        }
    }
    let brokers = image
        .brokers()
        .values()
        .filter(|b| !b.fenced || b.broker_id == cluster.node_id)
        // Each broker's endpoint on the listener the client came through; a broker without
        // that listener is not listed (Kafka's behaviour).
        .filter_map(|b| {
            let (host, port) = b.endpoint(ctx.listener())?;
            Some(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.broker_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(i32::from(port))
                    .with_rack(b.rack.clone().map(StrBytes::from_string)),
            )
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(StrBytes::from_string(cluster.cluster_id.to_string())))
        .with_controller_id(BrokerId(cluster.controller_id_for_clients()))
        .with_topics(topics)
        .with_cluster_authorized_operations(
            if (8..=10).contains(&v) && request.include_cluster_authorized_operations {
                if ctx.authorizer_enabled() {
                    ctx.authorized_operations(
                        ResourceType::Cluster,
                        CLUSTER_RESOURCE_NAME,
                        CLUSTER_OPERATIONS,
                    )
                } else {
                    CLUSTER_OPS_ALL
                }
            } else {
                AUTHORIZED_OPS_NOT_REQUESTED
            },
        )
}

fn describe_topic(
    image: &MetadataImage,
    topic: &TopicImage,
    authorized_ops: i32,
    v: i16,
) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(index, p)| {
            MetadataResponsePartition::default()
                .with_error_code(partition_error(p).0)
                .with_partition_index(index as i32)
                .with_leader_id(BrokerId(p.leader.unwrap_or(-1)))
                .with_leader_epoch(if v >= 7 { p.leader_epoch } else { -1 })
                .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
                .with_offline_replicas(offline_replicas(image, topic.topic_id, index as i32, p))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(TopicName(StrBytes::from_string(topic.name.clone()))))
        .with_topic_id(if v >= 10 { topic.topic_id } else { Uuid::nil() })
        .with_is_internal(crate::replicas::is_internal_topic(&topic.name))
        .with_partitions(partitions)
        .with_topic_authorized_operations(if v >= 8 {
            authorized_ops
        } else {
            AUTHORIZED_OPS_NOT_REQUESTED
        })
}

/// The authorized-operations bitfield of topic `name` for the request's principal (every
/// topic operation when no authorizer is configured). Shared with DescribeTopicPartitions.
pub(super) fn topic_operations(ctx: &RequestContext, name: &str) -> i32 {
    if ctx.authorizer_enabled() {
        ctx.authorized_operations(ResourceType::Topic, name, TOPIC_OPERATIONS)
    } else {
        TOPIC_OPS_ALL
    }
}

/// A partition's error in Metadata and DescribeTopicPartitions: LEADER_NOT_AVAILABLE while no
/// replica leads it.
pub(super) fn partition_error(p: &PartitionState) -> ErrorCode {
    if p.leader.is_some() {
        ErrorCode::NONE
    } else {
        ErrorCode::LEADER_NOT_AVAILABLE
    }
}

/// The replicas of `p` on brokers that are fenced or not registered.
/// The replicas of partition `index` of topic `topic_id` that are offline: on a fenced broker, or
/// in a log directory of its broker that failed (KIP-858).
pub(super) fn offline_replicas(
    image: &MetadataImage,
    topic_id: Uuid,
    index: i32,
    p: &PartitionState,
) -> Vec<BrokerId> {
    p.replicas
        .iter()
        .filter(|r| {
            image
                .broker(**r)
                .is_none_or(|b| b.fenced || b.offline_replicas.contains(&(topic_id, index)))
        })
        .map(|r| BrokerId(*r))
        .collect()
}

fn error_topic(name: Option<&str>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code.0)
        .with_name(name.map(|n| TopicName(StrBytes::from_string(n.to_string()))))
        .with_topic_id(id)
        .with_topic_authorized_operations(AUTHORIZED_OPS_NOT_REQUESTED)
}

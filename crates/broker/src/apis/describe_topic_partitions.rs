//! DescribeTopicPartitions (KIP-966): topics with their partitions, paginated, as
//! `kafka-topics --describe` and the Java AdminClient's `describeTopics` ask for them since
//! Kafka 3.8. From this broker's metadata image, like Metadata (whose pieces it shares:
//! partition errors, offline replicas, authorized operations).
//!
//! Kafka's rules (`DescribeTopicPartitionsRequestHandler`, `KRaftMetadataCache`):
//! - no topics named: every topic the principal may DESCRIBE (the others are left out); topics
//!   named: each once, one the principal may not DESCRIBE answered TOPIC_AUTHORIZATION_FAILED
//!   without its id, whether it exists or not, one that does not exist
//!   UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for an invalid name);
//! - topics go in name order, starting at the cursor's topic (and, in it, at the cursor's
//!   partition); at most `response_partition_limit` partitions (capped at
//!   [`PARTITIONS_PER_RESPONSE_MAX`], at least 1) are answered, and `next_cursor` says where
//!   the next page starts: the first partition left out, or the next topic's partition 0;
//! - a cursor with a negative partition, or naming a topic that is not in a non-empty topic
//!   list, is INVALID_REQUEST for every topic named;
//! - eligible leader replicas (KIP-966's ELR) are not kept by Sluice: always empty.

use std::collections::BTreeSet;

use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataImage, TopicImage};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use uuid::Uuid;

use super::metadata::{offline_replicas, partition_error, topic_operations};
use super::request::RequestContext;
use super::AUTHORIZED_OPS_NOT_REQUESTED;
use crate::cluster::Cluster;
use crate::replicas::{is_internal_topic, validate_topic_name};

/// Kafka's `max.request.partition.size.limit` default: the most partitions one response
/// holds, whatever the client asks.
pub const PARTITIONS_PER_RESPONSE_MAX: i32 = 2000;

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = cluster.image();
    describe(&image, ctx, request)
}

fn describe(
    image: &MetadataImage,
    ctx: &RequestContext,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let fetch_all = request.topics.is_empty();
    let named: BTreeSet<String> = request.topics.iter().map(|t| t.name.to_string()).collect();
    let (cursor_topic, cursor_partition) = match &request.cursor {
        Some(c) => (c.topic_name.to_string(), c.partition_index),
        None => (String::new(), 0),
    };
    if let Some(c) = &request.cursor {
        let why = if c.partition_index < 0 {
            Some("the cursor's partition index cannot be negative".to_string())
        } else if !fetch_all && !named.contains(&cursor_topic) {
            Some(format!(
                "the topic list must contain the cursor's topic {cursor_topic}"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            tracing::debug!("DescribeTopicPartitions refused: {why}");
            return refused(&named, ErrorCode::INVALID_REQUEST);
        }
    }
    let candidates: Vec<String> = if fetch_all {
        image
            .topics()
            .keys()
            .filter(|n| n.as_str() >= cursor_topic.as_str())
            .cloned()
            .collect()
    } else {
        named
            .iter()
            .filter(|n| n.as_str() >= cursor_topic.as_str())
            .cloned()
            .collect()
    };
    let mut unauthorized = Vec::new();
    let mut authorized = Vec::new();
    for name in candidates {
        if ctx.authorize_topic(AclOperation::Describe, &name) {
            authorized.push(name);
        } else if !fetch_all {
            unauthorized.push(error_topic(
                &name,
                Uuid::nil(),
                ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            ));
        }
    }

    let limit = request
        .response_partition_limit
        .clamp(1, PARTITIONS_PER_RESPONSE_MAX);
    let mut remaining = usize::try_from(limit).unwrap_or(1);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in authorized {
        if remaining == 0 {
            // The next page starts at this topic, whether or not it exists.
            next_cursor = Some(cursor(&name, 0));
            break;
        }
        let Some(topic) = image.topic(&name) else {
            if !fetch_all {
                let code = if validate_topic_name(&name).is_ok() {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    ErrorCode::INVALID_TOPIC_EXCEPTION
                };
                topics.push(error_topic(&name, Uuid::nil(), code));
            }
            continue;
        };
        let start = if name == cursor_topic {
            usize::try_from(cursor_partition).unwrap_or(0)
        } else {
            0
        };
        let (described, next) = describe_topic(image, ctx, topic, start, remaining);
        remaining -= described.partitions.len();
        topics.push(described);
        if let Some(next) = next {
            next_cursor = Some(cursor(&name, next));
            break;
        }
    }
    topics.extend(unauthorized);
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}

/// `topic` with at most `max` partitions from `start`, and the first partition left out, if
/// any.
fn describe_topic(
    image: &MetadataImage,
    ctx: &RequestContext,
    topic: &TopicImage,
    start: usize,
    max: usize,
) -> (DescribeTopicPartitionsResponseTopic, Option<i32>) {
    let end = start.saturating_add(max).min(topic.partitions.len());
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .take(end)
        .skip(start)
        .map(|(index, p)| {
            DescribeTopicPartitionsResponsePartition::default()
                .with_error_code(partition_error(p).0)
                .with_partition_index(i32::try_from(index).unwrap_or(i32::MAX))
                .with_leader_id(BrokerId(p.leader.unwrap_or(-1)))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(p.isr.iter().map(|r| BrokerId(*r)).collect())
                .with_eligible_leader_replicas(Some(Vec::new()))
                .with_last_known_elr(Some(Vec::new()))
                .with_offline_replicas(offline_replicas(
                    image,
                    topic.topic_id,
                    i32::try_from(index).unwrap_or(i32::MAX),
                    p,
                ))
        })
        .collect();
    let next = (end < topic.partitions.len()).then(|| i32::try_from(end).unwrap_or(i32::MAX));
    let described = DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(0)
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(topic.topic_id)
        .with_is_internal(is_internal_topic(&topic.name))
        .with_partitions(partitions)
        .with_topic_authorized_operations(topic_operations(ctx, &topic.name));
    (described, next)
}

/// The answer to a request refused as a whole: `code` for every topic it names.
fn refused(named: &BTreeSet<String>, code: ErrorCode) -> DescribeTopicPartitionsResponse {
    DescribeTopicPartitionsResponse::default().with_topics(
        named
            .iter()
            .map(|n| error_topic(n, Uuid::nil(), code))
            .collect(),
    )
}

fn error_topic(name: &str, id: Uuid, code: ErrorCode) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_error_code(code.0)
        .with_name(Some(topic_name(name)))
        .with_topic_id(id)
        .with_is_internal(is_internal_topic(name))
        .with_topic_authorized_operations(AUTHORIZED_OPS_NOT_REQUESTED)
}

fn cursor(topic: &str, partition: i32) -> Cursor {
    Cursor::default()
        .with_topic_name(topic_name(topic))
        .with_partition_index(partition)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

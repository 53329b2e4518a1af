//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), earliest local (-4), earliest
//! pending upload (-5, no tiered storage: none), and offset by timestamp.
//!
//! As in Kafka, latest and the timestamp lookups are bounded by what a consumer of the
//! request's isolation level can read: the high watermark, or for read_committed the last
//! stable offset.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::replicas::{Partition, ReplicaManager};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const EARLIEST_PENDING_UPLOAD: i64 = -5;
const LATEST_TIERED: i64 = -6;

pub async fn handle(
    replicas: &ReplicaManager,
    ctx: &RequestContext,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let v = ctx.api_version;
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = replicas.topic(t.name.as_str());
            let described = ctx.authorize_topic(AclOperation::Describe, t.name.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    let partition = match topic.as_ref() {
                        _ if !described => Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
                        None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                        Some(t) => t.leader_at_epoch(p.partition_index, p.current_leader_epoch),
                    };
                    let partition = match partition {
                        Ok(partition) => partition,
                        Err(code) => return base.with_error_code(code.0),
                    };
                    let epoch = partition.leader_epoch();
                    match lookup(partition, p.timestamp, read_committed) {
                        Ok((offset, timestamp)) => base
                            .with_error_code(0)
                            .with_offset(offset)
                            .with_timestamp(timestamp)
                            .with_leader_epoch(if offset >= 0 && v >= 4 { epoch } else { -1 }),
                        Err(code) => base.with_error_code(code.0),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn lookup(
    partition: &Partition,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64), ErrorCode> {
    // Kafka's "last fetchable offset": what a consumer of this isolation level can read.
    let last_fetchable = if read_committed {
        partition.last_stable_offset()
    } else {
        partition.high_watermark()
    };
    let storage = |e: sluice_log::LogError| {
        tracing::warn!(
            "ListOffsets on {}-{}: {e}",
            partition.topic,
            partition.index
        );
        ErrorCode::KAFKA_STORAGE_ERROR
    };
    match timestamp {
        LATEST => Ok((last_fetchable, -1)),
        EARLIEST | EARLIEST_LOCAL => Ok((partition.log_start_offset(), -1)),
        EARLIEST_PENDING_UPLOAD | LATEST_TIERED => Ok((-1, -1)),
        MAX_TIMESTAMP => match partition.max_timestamp_offset().map_err(storage)? {
            Some((offset, ts)) if offset < last_fetchable => Ok((offset, ts)),
            _ => Ok((-1, -1)),
        },
        t if t >= 0 => match partition.offset_for_timestamp(t).map_err(storage)? {
            Some((offset, ts)) if offset < last_fetchable => Ok((offset, ts)),
            _ => Ok((-1, -1)),
        },
        _ => Err(ErrorCode::INVALID_REQUEST),
    }
}

//! DescribeProducers (KIP-664): the idempotent and transactional producers each requested
//! partition has state for, from the partition log's producer state.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::replicas::ReplicaManager;

pub async fn handle(
    replicas: &ReplicaManager,
    ctx: &RequestContext,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = replicas.topic(t.name.as_str());
            let readable = ctx.authorize_topic(AclOperation::Read, t.name.as_str());
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&index| {
                    let response = PartitionResponse::default().with_partition_index(index);
                    if !readable {
                        return response.with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0);
                    }
                    let partition = match topic.as_ref() {
                        None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                        Some(topic) => topic.leader(index),
                    };
                    let partition = match partition {
                        Ok(partition) => partition,
                        Err(code) => {
                            return response.with_error_code(code.0).with_error_message(Some(
                                StrBytes::from_static_str(
                                    "This server does not lead this topic-partition.",
                                ),
                            ))
                        }
                    };
                    let producers = partition
                        .producers()
                        .into_iter()
                        .map(|p| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(p.producer_id))
                                .with_producer_epoch(i32::from(p.producer_epoch))
                                .with_last_sequence(p.last_sequence)
                                .with_last_timestamp(p.last_timestamp)
                                .with_coordinator_epoch(p.coordinator_epoch)
                                .with_current_txn_start_offset(
                                    p.current_txn_start_offset.unwrap_or(-1),
                                )
                        })
                        .collect();
                    response.with_error_code(0).with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

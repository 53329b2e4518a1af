//! DescribeQuorum (KIP-595, KIP-836): the metadata quorum's leader, epoch, high watermark and
//! each member's replication progress, as `kafka-metadata-quorum describe` shows them. Any
//! broker answers; the controller asks the quorum leader, who alone knows the progress (Kafka's
//! brokers forward the request to the active controller).
//!
//! Only `__cluster_metadata` partition 0 exists; any other partition is answered with
//! UNKNOWN_TOPIC_OR_PARTITION.

use kafka_protocol::messages::describe_quorum_response::{
    Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{
    BrokerId, DescribeQuorumRequest, DescribeQuorumResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{QuorumDescription, QuorumMember};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::Cluster;

/// Kafka's name for the metadata log's topic.
const METADATA_TOPIC: &str = "__cluster_metadata";

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: DescribeQuorumRequest,
) -> DescribeQuorumResponse {
    let v = ctx.api_version;
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return DescribeQuorumResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0);
    }
    let wants_quorum = request.topics.iter().any(|t| {
        t.topic_name.as_str() == METADATA_TOPIC
            && t.partitions.iter().any(|p| p.partition_index == 0)
    });
    let quorum = if wants_quorum {
        Some(cluster.controller.describe_quorum().await)
    } else {
        None
    };
    let mut nodes = Vec::new();
    let topics = request
        .topics
        .iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = PartitionData::default()
                        .with_partition_index(p.partition_index)
                        .with_leader_id(BrokerId(-1))
                        .with_leader_epoch(-1)
                        .with_high_watermark(-1);
                    if t.topic_name.as_str() != METADATA_TOPIC || p.partition_index != 0 {
                        return base.with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0);
                    }
                    match &quorum {
                        Some(Ok(q)) => {
                            if v >= 2 && nodes.is_empty() {
                                nodes = node_endpoints(q);
                            }
                            partition(base, q, v)
                        }
                        Some(Err(e)) => base
                            .with_error_code(ErrorCode::NOT_LEADER_OR_FOLLOWER.0)
                            .with_error_message(
                                (v >= 2).then(|| StrBytes::from_string(e.to_string())),
                            ),
                        None => base.with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0),
                    }
                })
                .collect();
            TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_string(t.topic_name.to_string())))
                .with_partitions(partitions)
        })
        .collect();
    DescribeQuorumResponse::default()
        .with_error_code(0)
        .with_topics(topics)
        .with_nodes(nodes)
}

fn partition(base: PartitionData, q: &QuorumDescription, v: i16) -> PartitionData {
    let state = |m: &QuorumMember| {
        let s = ReplicaState::default()
            .with_replica_id(BrokerId(node_id(m.node_id)))
            .with_log_end_offset(m.log_end_offset);
        if v >= 1 {
            s.with_last_fetch_timestamp(m.last_caught_up_timestamp_ms)
                .with_last_caught_up_timestamp(m.last_caught_up_timestamp_ms)
        } else {
            s
        }
    };
    base.with_error_code(0)
        .with_leader_id(BrokerId(node_id(q.leader_id)))
        .with_leader_epoch(i32::try_from(q.leader_epoch).unwrap_or(i32::MAX))
        .with_high_watermark(q.high_watermark)
        .with_current_voters(q.voters.iter().map(state).collect())
        .with_observers(q.observers.iter().map(state).collect())
}

/// v2: the controller listener of every member whose address the membership records.
fn node_endpoints(q: &QuorumDescription) -> Vec<Node> {
    q.voters
        .iter()
        .chain(&q.observers)
        .filter_map(|m| {
            let addr = m.address?;
            Some(
                Node::default()
                    .with_node_id(BrokerId(node_id(m.node_id)))
                    .with_listeners(vec![Listener::default()
                        .with_name(StrBytes::from_static_str("CONTROLLER"))
                        .with_host(StrBytes::from_string(addr.ip().to_string()))
                        .with_port(addr.port())]),
            )
        })
        .collect()
}

fn node_id(id: u64) -> i32 {
    i32::try_from(id).unwrap_or(-1)
}

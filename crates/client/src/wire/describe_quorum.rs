//! DescribeQuorum v0-v2 (KIP-595, KIP-836): the metadata quorum's leader, epoch, high
//! watermark and each voter's and observer's log end offset, asked of any broker (Kafka's
//! brokers forward it to the active controller).

use std::ops::RangeInclusive;

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{DescribeQuorumRequest, DescribeQuorumResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 0..=2;

/// Kafka's name for the metadata log's topic; the quorum is its partition 0.
const METADATA_TOPIC: &str = "__cluster_metadata";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedQuorum {
    pub leader_id: i32,
    pub leader_epoch: i32,
    pub high_watermark: i64,
    pub voters: Vec<QuorumReplica>,
    pub observers: Vec<QuorumReplica>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumReplica {
    pub replica_id: i32,
    pub log_end_offset: i64,
    /// -1 when unknown (v0, or never caught up).
    pub last_caught_up_timestamp: i64,
}

pub fn request(_version: i16) -> DescribeQuorumRequest {
    DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
        .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
        .with_partitions(vec![PartitionData::default().with_partition_index(0)])])
}

pub fn from_response(response: DescribeQuorumResponse) -> Result<DescribedQuorum, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "DescribeQuorum",
            response.error_message.as_deref(),
        ));
    }
    let partition = response
        .topics
        .into_iter()
        .filter(|t| t.topic_name.as_str() == METADATA_TOPIC)
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == 0)
        .ok_or_else(|| {
            RequestError::Unsupported(
                "DescribeQuorum: the answer has no __cluster_metadata partition 0".to_string(),
            )
        })?;
    if partition.error_code != 0 {
        return Err(RequestError::broker(
            partition.error_code,
            "DescribeQuorum",
            partition.error_message.as_deref(),
        ));
    }
    let replica =
        |r: kafka_protocol::messages::describe_quorum_response::ReplicaState| QuorumReplica {
            replica_id: r.replica_id.0,
            log_end_offset: r.log_end_offset,
            last_caught_up_timestamp: r.last_caught_up_timestamp,
        };
    Ok(DescribedQuorum {
        leader_id: partition.leader_id.0,
        leader_epoch: partition.leader_epoch,
        high_watermark: partition.high_watermark,
        voters: partition.current_voters.into_iter().map(replica).collect(),
        observers: partition.observers.into_iter().map(replica).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_quorum_response::{
        PartitionData as ResponsePartition, ReplicaState, TopicData as ResponseTopic,
    };
    use kafka_protocol::messages::BrokerId;

    fn response(partition_error: i16) -> DescribeQuorumResponse {
        let voter = |id, leo| {
            ReplicaState::default()
                .with_replica_id(BrokerId(id))
                .with_log_end_offset(leo)
                .with_last_caught_up_timestamp(7)
        };
        DescribeQuorumResponse::default().with_topics(vec![ResponseTopic::default()
            .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
            .with_partitions(vec![ResponsePartition::default()
                .with_partition_index(0)
                .with_error_code(partition_error)
                .with_leader_id(BrokerId(1))
                .with_leader_epoch(3)
                .with_high_watermark(40)
                .with_current_voters(vec![voter(1, 40), voter(2, 35)])])])
    }

    #[test]
    fn reads_the_leader_and_each_voters_progress() {
        let quorum = from_response(response(0)).unwrap();
        assert_eq!(quorum.leader_id, 1);
        assert_eq!(quorum.high_watermark, 40);
        assert_eq!(
            quorum
                .voters
                .iter()
                .map(|v| (v.replica_id, v.log_end_offset))
                .collect::<Vec<_>>(),
            vec![(1, 40), (2, 35)]
        );
    }

    #[test]
    fn a_partition_error_is_the_answer() {
        let err = from_response(response(6)).unwrap_err();
        assert!(
            matches!(err, RequestError::Broker { code: 6, .. }),
            "{err:?}"
        );
    }
}

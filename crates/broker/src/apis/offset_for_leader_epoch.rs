//! OffsetForLeaderEpoch (KIP-101, KIP-320): for each partition, the end offset of a leader
//! epoch in the leader's log, so that a consumer (or follower) that saw records of that epoch
//! can tell whether the log it read from was truncated after a leader change.
//!
//! The answer follows Kafka's `Partition.lastOffsetForLeaderEpoch`, always on the leader (Kafka
//! serves followers' requests from the leader too, `fetchOnlyFromLeader = true`):
//! 1. the requested `current_leader_epoch` is checked first, on any replica this broker hosts
//!    (-1 skips the check): older than the partition's epoch is FENCED_LEADER_EPOCH, newer is
//!    UNKNOWN_LEADER_EPOCH (this broker has not seen that epoch yet);
//! 2. then a replica that does not lead answers NOT_LEADER_OR_FOLLOWER, as does a broker that
//!    knows the partition but hosts no replica of it; UNKNOWN_TOPIC_OR_PARTITION when the topic
//!    or partition does not exist;
//! 3. the leader answers the largest epoch in its log's epoch cache that is `<= leader_epoch`,
//!    and where that epoch ends (see `Log::end_offset_for_epoch`), or Kafka's
//!    UNDEFINED_EPOCH_OFFSET, `(-1, -1)` without an error, when its log has no epoch to
//!    offer (no batch yet, or a negative `leader_epoch`).

use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderPartition;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{AclOperation, ResourceType, CLUSTER_RESOURCE_NAME};

use super::request::RequestContext;
use crate::replicas::{Partition, ReplicaManager, Topic};

/// `current_leader_epoch` of a client that does not know (or check) the leader epoch.
const NO_PARTITION_LEADER_EPOCH: i32 = -1;

pub async fn handle(
    replicas: &ReplicaManager,
    ctx: &RequestContext,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    // As in Kafka, whoever asks (follower or consumer, KIP-320): CLUSTER_ACTION allows every
    // topic, else DESCRIBE on each. Kafka does not log the CLUSTER_ACTION a consumer lacks, so
    // that denial is not audited either.
    let cluster_action = ctx.authorize_quietly(
        AclOperation::ClusterAction,
        ResourceType::Cluster,
        CLUSTER_RESOURCE_NAME,
    );
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = replicas.topic(t.topic.as_str());
            let allowed =
                cluster_action || ctx.authorize_topic(AclOperation::Describe, t.topic.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let replica = if allowed {
                        hosted_replica(topic.as_deref(), p.partition)
                    } else {
                        Err(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
                    };
                    epoch_end_offset(replica, p)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// The answer for one partition, given this broker's replica of it (or why it has none).
fn epoch_end_offset(
    replica: Result<&Partition, ErrorCode>,
    request: &OffsetForLeaderPartition,
) -> EpochEndOffset {
    // The defaults are UNDEFINED_EPOCH_OFFSET: leader epoch -1, end offset -1.
    let base = EpochEndOffset::default().with_partition(request.partition);
    match replica.and_then(|partition| check_epoch(partition, request.current_leader_epoch)) {
        Ok(partition) => match partition.end_offset_for_epoch(request.leader_epoch) {
            Some((leader_epoch, end_offset)) => base
                .with_error_code(0)
                .with_leader_epoch(leader_epoch)
                .with_end_offset(end_offset),
            None => base.with_error_code(0),
        },
        Err(code) => base.with_error_code(code.0),
    }
}

/// This broker's replica of partition `index`, leader or not.
fn hosted_replica(topic: Option<&Topic>, index: i32) -> Result<&Partition, ErrorCode> {
    let topic = topic.ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    let i = usize::try_from(index).map_err(|_| ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if i >= topic.partitions.len() {
        return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }
    topic
        .partitions
        .get(i)
        .map(|p| p.as_ref())
        .ok_or(ErrorCode::NOT_LEADER_OR_FOLLOWER)
}

/// Kafka's `checkCurrentLeaderEpoch`, then the leader check: the epoch errors win over
/// NOT_LEADER_OR_FOLLOWER, so a client with a stale epoch learns to refresh its metadata.
fn check_epoch(partition: &Partition, current_leader_epoch: i32) -> Result<&Partition, ErrorCode> {
    let epoch = partition.leader_epoch();
    if current_leader_epoch != NO_PARTITION_LEADER_EPOCH {
        if current_leader_epoch < epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if current_leader_epoch > epoch {
            return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
    }
    if !partition.is_leader() {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    Ok(partition)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    use crate::test_support::batch;
    use sluice_controller::PartitionState;
    use sluice_log::{Log, LogConfig, SystemClock};

    /// A replica on broker 1 of a partition led by `leader` at epoch 3, whose log holds three
    /// records of epoch 1 (offsets 0-2) and two of epoch 3 (offsets 3-4), or nothing.
    fn replica(dir: &std::path::Path, leader: i32, with_records: bool) -> Partition {
        let log = Log::open(dir, LogConfig::default(), Arc::new(SystemClock)).expect("log");
        if with_records {
            log.append(&batch(3), 1).expect("append");
            log.append(&batch(2), 3).expect("append");
        }
        let partition = Partition::new("t".into(), uuid::Uuid::nil(), 0, Arc::new(log), 1);
        partition.update_from_image(&PartitionState {
            replicas: vec![1, 2],
            isr: vec![1, 2],
            leader: Some(leader),
            leader_epoch: 3,
            partition_epoch: 7,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        });
        partition
    }

    fn ask(replica: &Partition, current_leader_epoch: i32, leader_epoch: i32) -> (i16, i32, i64) {
        let request = OffsetForLeaderPartition::default()
            .with_partition(0)
            .with_current_leader_epoch(current_leader_epoch)
            .with_leader_epoch(leader_epoch);
        let answer = epoch_end_offset(Ok(replica), &request);
        assert_eq!(answer.partition, 0);
        (answer.error_code, answer.leader_epoch, answer.end_offset)
    }

    #[test]
    fn the_leader_answers_where_each_epoch_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let leader = replica(dir.path(), 1, true);
        // Epoch 1 ends where epoch 3 starts; epoch 2 has no batch, so the epoch below answers.
        assert_eq!(ask(&leader, 3, 1), (0, 1, 3));
        assert_eq!(ask(&leader, -1, 2), (0, 1, 3));
        // The latest epoch ends at the log end offset.
        assert_eq!(ask(&leader, 3, 3), (0, 3, 5));
        // Below every cached epoch: the requested epoch and where the first cached one starts.
        assert_eq!(ask(&leader, 3, 0), (0, 0, 0));
        // A negative epoch is UNDEFINED_EPOCH_OFFSET, without an error.
        assert_eq!(ask(&leader, 3, -1), (0, -1, -1));
    }

    #[test]
    fn a_new_leader_knows_its_epoch_before_writing() {
        // The leader recorded its own epoch at the log end when elected.
        let dir = tempfile::tempdir().expect("dir");
        let leader = replica(dir.path(), 1, false);
        assert_eq!(ask(&leader, 3, 3), (0, 3, 0));
        assert_eq!(ask(&leader, 3, 2), (0, 2, 0));
    }

    #[test]
    fn epochs_are_checked_before_leadership() {
        let dir = tempfile::tempdir().expect("dir");
        let leader = replica(dir.path(), 1, true);
        assert_eq!(ask(&leader, 2, 1).0, ErrorCode::FENCED_LEADER_EPOCH.0);
        assert_eq!(ask(&leader, 4, 1).0, ErrorCode::UNKNOWN_LEADER_EPOCH.0);

        let dir = tempfile::tempdir().expect("dir");
        let follower = replica(dir.path(), 2, true);
        assert_eq!(ask(&follower, 2, 1).0, ErrorCode::FENCED_LEADER_EPOCH.0);
        assert_eq!(ask(&follower, 4, 1).0, ErrorCode::UNKNOWN_LEADER_EPOCH.0);
        assert_eq!(
            ask(&follower, 3, 1),
            (ErrorCode::NOT_LEADER_OR_FOLLOWER.0, -1, -1)
        );
        assert_eq!(ask(&follower, -1, 1).0, ErrorCode::NOT_LEADER_OR_FOLLOWER.0);
    }

    #[test]
    fn no_replica_is_answered_with_its_error_and_undefined_offsets() {
        let request = OffsetForLeaderPartition::default()
            .with_partition(9)
            .with_leader_epoch(1);
        let answer = epoch_end_offset(Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), &request);
        assert_eq!(
            (
                answer.partition,
                answer.error_code,
                answer.leader_epoch,
                answer.end_offset
            ),
            (9, 3, -1, -1)
        );
        assert_eq!(
            hosted_replica(None, 0).err(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        );
    }
}

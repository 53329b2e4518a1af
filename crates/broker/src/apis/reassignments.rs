//! AlterPartitionReassignments and ListPartitionReassignments (KIP-455): move partitions to
//! other brokers with their data copied first.
//!
//! Any broker takes an AlterPartitionReassignments request: each partition becomes one
//! `ReassignPartition` proposal to the controller quorum, which adds the new replicas at once
//! (they start following the leader), and completes the move once every target replica is in
//! the ISR, dropping the replicas that are not in the target (they delete their copy when they
//! apply that change). A null replica list cancels the partition's ongoing reassignment. The
//! rules per partition are those of `MetadataImage::reassign_partition`; in short:
//! - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION;
//! - an empty target, a broker named twice, a broker that is not registered, or a target that
//!   would leave no in-sync replica: INVALID_REPLICA_ASSIGNMENT;
//! - v1 with `allow_replication_factor_change` false and a target of another size than the
//!   partition's replicas (before the reassignment): INVALID_REPLICATION_FACTOR (KIP-860);
//! - a cancel with nothing in progress: NO_REASSIGNMENT_IN_PROGRESS.
//!
//! The answer comes once the quorum committed each change and this broker applied it; the data
//! copy goes on in the background, visible in ListPartitionReassignments until it completes.
//! `timeout_ms` is not used: each proposal is bounded by the controller's request timeout
//! (REQUEST_TIMED_OUT when it passes).

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataCommand, MetadataImage};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::{Cluster, MetadataPublisher};
use crate::replicas::AdminError;

/// Proposals of one request in flight at once.
const CONCURRENT_PROPOSALS_MAX: usize = 16;

/// The proposal for one requested partition, or why there is none.
fn command_for(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    target: Option<Vec<i32>>,
    allow_rf_change: bool,
) -> Result<MetadataCommand, AdminError> {
    let unknown = || {
        AdminError::new(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("{topic}-{partition} does not exist."),
        )
    };
    let t = image.topic(topic).ok_or_else(unknown)?;
    let state = t.partition(partition).ok_or_else(unknown)?;
    if let Some(target) = &target {
        let current = state.original_replicas().len();
        if !allow_rf_change && target.len() != current {
            return Err(AdminError::new(
                ErrorCode::INVALID_REPLICATION_FACTOR,
                format!(
                    "The target of {topic}-{partition} has {} replicas, the partition {current}, \
                     and the request does not allow changing the replication factor.",
                    target.len()
                ),
            ));
        }
    }
    Ok(MetadataCommand::ReassignPartition {
        topic_id: t.topic_id,
        partition,
        target,
    })
}

pub async fn alter(
    cluster: &Cluster,
    publisher: &Arc<MetadataPublisher>,
    ctx: &RequestContext,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        // Kafka's error response: the code at the top and for every requested partition.
        let message = || Some(StrBytes::from_static_str("Cluster authorization failed."));
        let responses = request
            .topics
            .iter()
            .map(|t| {
                ReassignableTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                ReassignablePartitionResponse::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
                                    .with_error_message(message())
                            })
                            .collect(),
                    )
            })
            .collect();
        return AlterPartitionReassignmentsResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
            .with_error_message(message())
            .with_responses(responses);
    }
    // v0 has no such flag: the replication factor may change, as before KIP-860.
    let allow_rf_change = ctx.api_version < 1 || request.allow_replication_factor_change;
    let image = cluster.image();
    let mut work = Vec::new();
    for topic in &request.topics {
        for p in &topic.partitions {
            let target = p
                .replicas
                .as_ref()
                .map(|r| r.iter().map(|b| b.0).collect::<Vec<i32>>());
            let name = topic.name.as_str().to_string();
            let command = command_for(&image, &name, p.partition_index, target, allow_rf_change);
            work.push((name, p.partition_index, command));
        }
    }
    let outcomes: Vec<(String, i32, Result<(), AdminError>)> = stream::iter(work)
        .map(|(topic, partition, command)| async move {
            let outcome = match command {
                Ok(command) => cluster.propose(command).await.map(|_| ()),
                Err(e) => Err(e),
            };
            (topic, partition, outcome)
        })
        .buffered(CONCURRENT_PROPOSALS_MAX)
        .collect()
        .await;
    if outcomes.iter().any(|(_, _, o)| o.is_ok()) {
        publisher.publish_latest().await;
    }

    let mut responses: Vec<ReassignableTopicResponse> = Vec::new();
    for (topic, partition, outcome) in outcomes {
        let (code, message) = match outcome {
            Ok(()) => {
                tracing::info!("reassignment of {topic}-{partition} accepted");
                (ErrorCode::NONE, None)
            }
            Err(e) => (e.code, Some(StrBytes::from_string(e.message))),
        };
        let entry = ReassignablePartitionResponse::default()
            .with_partition_index(partition)
            .with_error_code(code.0)
            .with_error_message(message);
        match responses.iter_mut().find(|r| r.name.as_str() == topic) {
            Some(r) => r.partitions.push(entry),
            None => responses.push(
                ReassignableTopicResponse::default()
                    .with_name(TopicName(StrBytes::from_string(topic)))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(ctx.api_version >= 1 && allow_rf_change)
        .with_responses(responses)
}

pub async fn list(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return ListPartitionReassignmentsResponse::default()
            .with_error_code(ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0)
            .with_error_message(Some(StrBytes::from_static_str(
                "Cluster authorization failed.",
            )));
    }
    let image = cluster.image();
    // (topic, the partitions asked for: None = all of them). Topics that do not exist and
    // partitions without a reassignment are left out, as Kafka does.
    let wanted: Vec<(String, Option<Vec<i32>>)> = match &request.topics {
        None => image.topics().keys().map(|t| (t.clone(), None)).collect(),
        Some(topics) => topics
            .iter()
            .map(|t| {
                (
                    t.name.as_str().to_string(),
                    Some(t.partition_indexes.clone()),
                )
            })
            .collect(),
    };
    let mut topics = Vec::new();
    for (name, partitions) in wanted {
        let Some(topic) = image.topic(&name) else {
            continue;
        };
        let indexes: Vec<i32> =
            partitions.unwrap_or_else(|| (0..topic.partitions.len() as i32).collect());
        let mut ongoing = Vec::new();
        for index in indexes {
            let Some(state) = topic.partition(index).filter(|s| s.is_reassigning()) else {
                continue;
            };
            if ongoing
                .iter()
                .any(|o: &OngoingPartitionReassignment| o.partition_index == index)
            {
                continue;
            }
            let ids = |v: &[i32]| v.iter().map(|b| BrokerId(*b)).collect::<Vec<_>>();
            ongoing.push(
                OngoingPartitionReassignment::default()
                    .with_partition_index(index)
                    .with_replicas(ids(&state.replicas))
                    .with_adding_replicas(ids(&state.adding_replicas))
                    .with_removing_replicas(ids(&state.removing_replicas)),
            );
        }
        if !ongoing.is_empty() {
            topics.push(
                OngoingTopicReassignment::default()
                    .with_name(TopicName(StrBytes::from_string(name)))
                    .with_partitions(ongoing),
            );
        }
    }
    ListPartitionReassignmentsResponse::default().with_topics(topics)
}

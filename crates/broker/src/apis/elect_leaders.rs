//! ElectLeaders (KIP-183, KIP-460): move partition leadership back to preferred replicas, or
//! give a leaderless partition a leader that may have lost records (unclean).
//!
//! Any broker handles it: the decisions are taken against this broker's metadata image, and
//! each change is proposed to the controller quorum as a `ChangePartition` naming the epochs it
//! was based on, so a change that raced with another (an ISR change, an automatic election) is
//! refused by the quorum (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION) rather than applied to a
//! state it was not computed for. The answer comes once the quorum committed every change and
//! this broker applied them.
//!
//! Rules per partition: the controller's, [`sluice_controller::elect_leader`] (Kafka's
//! `ReplicationControlManager.electLeader`, KRaft mode), which the active controller's automatic
//! preferred elections also run; a replica is live when it is registered and not fenced:
//! - preferred (type 0, the only one in v0): the first assigned replica becomes leader when it
//!   is in the ISR and live; the ISR does not change. Already its leader: ELECTION_NOT_NEEDED;
//!   not in the ISR or not live: PREFERRED_LEADER_NOT_AVAILABLE;
//! - unclean (type 1): only for a partition without a leader (else ELECTION_NOT_NEEDED). A live
//!   in-sync replica is taken first, in assignment order, with the ISR unchanged (nothing is
//!   lost); failing that, the first live replica, with an ISR of itself alone (records only the
//!   old ISR had are lost). No live replica: ELIGIBLE_LEADERS_NOT_AVAILABLE;
//! - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION.
//!
//! This handler adds what belongs to the request:
//! - `topic_partitions` null means every partition of every topic; partitions whose election
//!   was not needed are then left out of the answer, as Kafka does;
//! - an election type other than 0 and 1 is INVALID_REQUEST, at the top (v1+) and for every
//!   requested partition;
//! - without ALTER on the cluster, CLUSTER_AUTHORIZATION_FAILED, at the top (v1+) and for
//!   every requested partition (v0 has only the latter).
//!
//! `timeout_ms` is not used: each proposal is bounded by the controller's request timeout
//! (REQUEST_TIMED_OUT when it passes).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{elect_leader, ElectionError, ElectionType};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::{Cluster, MetadataPublisher};

/// Proposals of one request in flight at once: enough to elect many partitions quickly, few
/// enough not to flood the quorum's leader.
const CONCURRENT_PROPOSALS_MAX: usize = 16;

/// Why a partition gets no new leader: Kafka's code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NotElected {
    code: ErrorCode,
    message: Option<String>,
}

impl From<ElectionError> for NotElected {
    fn from(error: ElectionError) -> NotElected {
        // Kafka answers a partition that needed no election without a message.
        let message = match error {
            ElectionError::ElectionNotNeeded => None,
            _ => Some(error.to_string()),
        };
        NotElected {
            code: ErrorCode(error.error_code()),
            message,
        }
    }
}

type Outcome = Result<(), NotElected>;

pub async fn handle(
    cluster: &Cluster,
    publisher: &Arc<MetadataPublisher>,
    ctx: &RequestContext,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return refused_everywhere(
            ctx.api_version,
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            None,
            request,
        );
    }
    // v0 has no election type: it is always preferred.
    let raw_type = if ctx.api_version >= 1 {
        request.election_type
    } else {
        0
    };
    let Some(election) = ElectionType::from_value(raw_type) else {
        let message = format!("unknown election type {raw_type}");
        return refused_everywhere(
            ctx.api_version,
            ErrorCode::INVALID_REQUEST,
            Some(message),
            request,
        );
    };

    let image = cluster.image();
    // The partitions to elect, each once however often it is requested, in request order.
    let targets: Vec<(String, i32)> = match &request.topic_partitions {
        Some(topics) => topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.to_string(), *p)))
            .collect(),
        None => image
            .topics()
            .values()
            .flat_map(|t| (0..t.partitions.len()).map(|p| (t.name.clone(), p as i32)))
            .collect(),
    };
    let mut outcomes: BTreeMap<(String, i32), Outcome> = BTreeMap::new();
    let mut proposals = Vec::new();
    for (topic, partition) in targets {
        if outcomes.contains_key(&(topic.clone(), partition)) {
            continue;
        }
        match elect_leader(&image, &topic, partition, election) {
            Ok(command) => {
                proposals.push(((topic.clone(), partition), command));
                outcomes.insert((topic, partition), Ok(()));
            }
            Err(error) => {
                outcomes.insert((topic, partition), Err(error.into()));
            }
        }
    }

    if !proposals.is_empty() {
        let results: Vec<((String, i32), Outcome)> = stream::iter(proposals)
            .map(|(key, command)| async move {
                let outcome = match cluster.propose(command).await {
                    Ok(_) => {
                        tracing::info!("{election:?} election of {}-{} committed", key.0, key.1);
                        Ok(())
                    }
                    Err(e) => Err(NotElected {
                        code: e.code,
                        message: Some(e.message),
                    }),
                };
                (key, outcome)
            })
            .buffer_unordered(CONCURRENT_PROPOSALS_MAX)
            .collect()
            .await;
        let any_elected = results.iter().any(|(_, outcome)| outcome.is_ok());
        outcomes.extend(results);
        if any_elected {
            // Answer once this broker leads (or follows) as the new image says.
            publisher.publish_latest().await;
        }
    }

    let results = match request.topic_partitions {
        Some(topics) => topics
            .into_iter()
            .map(|t| {
                let name = t.topic.to_string();
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| partition_result(*p, outcomes.get(&(name.clone(), *p))))
                    .collect();
                ReplicaElectionResult::default()
                    .with_topic(t.topic)
                    .with_partition_result(partitions)
            })
            .collect(),
        None => {
            // Every partition: those that needed no election are left out.
            let mut by_topic: BTreeMap<String, Vec<PartitionResult>> = BTreeMap::new();
            for ((topic, partition), outcome) in &outcomes {
                if matches!(outcome, Err(e) if e.code == ErrorCode::ELECTION_NOT_NEEDED) {
                    continue;
                }
                by_topic
                    .entry(topic.clone())
                    .or_default()
                    .push(partition_result(*partition, Some(outcome)));
            }
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    ReplicaElectionResult::default()
                        .with_topic(TopicName(StrBytes::from_string(topic)))
                        .with_partition_result(partitions)
                })
                .collect()
        }
    };
    ElectLeadersResponse::default()
        .with_error_code(0)
        .with_replica_election_results(results)
}

fn partition_result(partition: i32, outcome: Option<&Outcome>) -> PartitionResult {
    let result = PartitionResult::default().with_partition_id(partition);
    match outcome {
        Some(Ok(())) => result.with_error_code(0).with_error_message(None),
        Some(Err(e)) => result
            .with_error_code(e.code.0)
            .with_error_message(e.message.clone().map(StrBytes::from_string)),
        // Every requested partition has an outcome; answer as Kafka does an internal error.
        None => result.with_error_code(ErrorCode::UNKNOWN_SERVER_ERROR.0),
    }
}

/// Kafka's answer to a request refused as a whole (an unknown election type, no ALTER on the
/// cluster): `code` at the top and for every requested partition.
fn refused_everywhere(
    version: i16,
    code: ErrorCode,
    message: Option<String>,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let results = request
        .topic_partitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    PartitionResult::default()
                        .with_partition_id(*p)
                        .with_error_code(code.0)
                        .with_error_message(message.clone().map(StrBytes::from_string))
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic)
                .with_partition_result(partitions)
        })
        .collect();
    // v0 has no top-level error code: the partitions carry it.
    let top = if version >= 1 { code.0 } else { 0 };
    ElectLeadersResponse::default()
        .with_error_code(top)
        .with_replica_election_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_outcomes_are_answered_with_kafkas_codes() {
        let not_needed = NotElected::from(ElectionError::ElectionNotNeeded);
        assert_eq!(
            not_needed,
            NotElected {
                code: ErrorCode::ELECTION_NOT_NEEDED,
                message: None
            }
        );
        let fenced = NotElected::from(ElectionError::PreferredNotEligible { preferred: 2 });
        assert_eq!(
            fenced,
            NotElected {
                code: ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
                message: Some("preferred replica 2 is fenced or not registered".into())
            }
        );
        let dead = NotElected::from(ElectionError::NoEligibleReplica {
            replicas: vec![1, 2],
        });
        assert_eq!(dead.code, ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE);
        let unknown = NotElected::from(ElectionError::UnknownTopicOrPartition {
            topic: "t".into(),
            partition: 3,
        });
        assert_eq!(
            unknown,
            NotElected {
                code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                message: Some("no such partition as t-3".into())
            }
        );
    }

    #[test]
    fn an_unknown_election_type_fails_every_partition() {
        use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
        let request = ElectLeadersRequest::default()
            .with_election_type(7)
            .with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![0, 1])]));
        let response = refused_everywhere(
            2,
            ErrorCode::INVALID_REQUEST,
            Some("unknown election type 7".into()),
            request,
        );
        assert_eq!(response.error_code, ErrorCode::INVALID_REQUEST.0);
        let partitions = &response.replica_election_results[0].partition_result;
        assert_eq!(partitions.len(), 2);
        assert!(partitions
            .iter()
            .all(|p| p.error_code == ErrorCode::INVALID_REQUEST.0));
    }
}

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
//! Rules per partition (Kafka's `ReplicationControlManager.electLeader`, KRaft mode); a replica
//! is live when it is registered and not fenced:
//! - preferred (type 0, the only one in v0): the first assigned replica becomes leader when it
//!   is in the ISR and live; the ISR does not change. Already its leader: ELECTION_NOT_NEEDED;
//!   not in the ISR or not live: PREFERRED_LEADER_NOT_AVAILABLE;
//! - unclean (type 1): only for a partition without a leader (else ELECTION_NOT_NEEDED). A live
//!   in-sync replica is taken first, in assignment order, with the ISR unchanged (nothing is
//!   lost); failing that, the first live replica, with an ISR of itself alone (records only the
//!   old ISR had are lost). No live replica: ELIGIBLE_LEADERS_NOT_AVAILABLE;
//! - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION;
//! - `topic_partitions` null means every partition of every topic; partitions whose election
//!   was not needed are then left out of the answer, as Kafka does;
//! - an election type other than 0 and 1 is INVALID_REQUEST, at the top (v1+) and for every
//!   requested partition.
//!
//! `timeout_ms` is not used: each proposal is bounded by the controller's request timeout
//! (REQUEST_TIMED_OUT when it passes). There are no cluster ACLs yet, so no
//! CLUSTER_AUTHORIZATION_FAILED.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataCommand, MetadataImage, PartitionState};
use sluice_protocol::error::ErrorCode;

use crate::admin::apply_latest;
use crate::broker::Broker;
use crate::request::RequestContext;

/// Proposals of one request in flight at once: enough to elect many partitions quickly, few
/// enough not to flood the quorum's leader.
const CONCURRENT_PROPOSALS_MAX: usize = 16;

/// Kafka's `ElectionType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    Preferred,
    Unclean,
}

impl ElectionType {
    pub fn from_wire(value: i8) -> Option<ElectionType> {
        match value {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// The leader and ISR an election gives a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Elected {
    pub leader: i32,
    pub isr: Vec<i32>,
}

/// Why a partition gets no new leader: Kafka's code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotElected {
    pub code: ErrorCode,
    pub message: Option<String>,
}

impl NotElected {
    fn new(code: ErrorCode, message: impl Into<String>) -> NotElected {
        NotElected {
            code,
            message: Some(message.into()),
        }
    }
}

/// The election of one partition in `state` (the rules in the module doc), `live` telling which
/// brokers are registered and unfenced. Sans I/O.
pub fn elect(
    state: &PartitionState,
    election: ElectionType,
    live: impl Fn(i32) -> bool,
) -> Result<Elected, NotElected> {
    match election {
        ElectionType::Preferred => {
            let Some(&preferred) = state.replicas.first() else {
                return Err(NotElected::new(
                    ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
                    "the partition has no replicas",
                ));
            };
            if state.leader == Some(preferred) {
                return Err(NotElected {
                    code: ErrorCode::ELECTION_NOT_NEEDED,
                    message: None,
                });
            }
            if !state.isr.contains(&preferred) {
                return Err(NotElected::new(
                    ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
                    format!(
                        "preferred replica {preferred} is not in the ISR {:?}",
                        state.isr
                    ),
                ));
            }
            if !live(preferred) {
                return Err(NotElected::new(
                    ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE,
                    format!("preferred replica {preferred} is fenced or not registered"),
                ));
            }
            Ok(Elected {
                leader: preferred,
                isr: state.isr.clone(),
            })
        }
        ElectionType::Unclean => {
            if state.leader.is_some() {
                return Err(NotElected {
                    code: ErrorCode::ELECTION_NOT_NEEDED,
                    message: None,
                });
            }
            let in_sync = state
                .replicas
                .iter()
                .copied()
                .find(|r| state.isr.contains(r) && live(*r));
            if let Some(leader) = in_sync {
                return Ok(Elected {
                    leader,
                    isr: state.isr.clone(),
                });
            }
            match state.replicas.iter().copied().find(|r| live(*r)) {
                Some(leader) => Ok(Elected {
                    leader,
                    isr: vec![leader],
                }),
                None => Err(NotElected::new(
                    ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE,
                    format!("no replica of {:?} is alive", state.replicas),
                )),
            }
        }
    }
}

/// The command that makes `elected` the partition's state, based on `state`'s epochs.
fn change_command(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    state: &PartitionState,
    elected: Elected,
) -> Option<MetadataCommand> {
    Some(MetadataCommand::ChangePartition {
        topic_id: image.topic(topic)?.topic_id,
        partition,
        expected_leader_epoch: state.leader_epoch,
        expected_partition_epoch: state.partition_epoch,
        leader: Some(elected.leader),
        isr: elected.isr,
    })
}

type Outcome = Result<(), NotElected>;

pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    // v0 has no election type: it is always preferred.
    let raw_type = if ctx.api_version >= 1 {
        request.election_type
    } else {
        0
    };
    let Some(election) = ElectionType::from_wire(raw_type) else {
        return invalid_election_type(ctx.api_version, raw_type, request);
    };

    let image = broker.cluster.image();
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
        let outcome = decide(&image, &topic, partition, election);
        match outcome {
            Ok(command) => {
                proposals.push(((topic.clone(), partition), command));
                outcomes.insert((topic, partition), Ok(()));
            }
            Err(not_elected) => {
                outcomes.insert((topic, partition), Err(not_elected));
            }
        }
    }

    if !proposals.is_empty() {
        let results: Vec<((String, i32), Outcome)> = stream::iter(proposals)
            .map(|(key, command)| async move {
                let outcome = match broker.cluster.propose(command).await {
                    Ok(_) => {
                        tracing::info!("{election:?} election of {}-{} committed", key.0, key.1);
                        Ok(())
                    }
                    Err(e) => Err(NotElected::new(e.code, e.message)),
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
            apply_latest(&broker.cluster, &broker.replicas).await;
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

/// The command electing `topic`-`partition`, or why there is none.
fn decide(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    election: ElectionType,
) -> Result<MetadataCommand, NotElected> {
    let unknown = || {
        NotElected::new(
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
            format!("no such partition as {topic}-{partition}"),
        )
    };
    let state = image
        .topic(topic)
        .and_then(|t| t.partition(partition))
        .ok_or_else(unknown)?;
    let live = |broker: i32| image.broker(broker).is_some_and(|b| !b.fenced);
    let elected = elect(state, election, live)?;
    change_command(image, topic, partition, state, elected).ok_or_else(unknown)
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

/// Kafka's error response for an unknown election type: INVALID_REQUEST at the top and for
/// every requested partition.
fn invalid_election_type(
    version: i16,
    election_type: i8,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let message = format!("unknown election type {election_type}");
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
                        .with_error_code(ErrorCode::INVALID_REQUEST.0)
                        .with_error_message(Some(StrBytes::from_string(message.clone())))
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic)
                .with_partition_result(partitions)
        })
        .collect();
    // v0 has no top-level error code (and no election type that could be wrong).
    let code = if version >= 1 {
        ErrorCode::INVALID_REQUEST.0
    } else {
        0
    };
    ElectLeadersResponse::default()
        .with_error_code(code)
        .with_replica_election_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(replicas: &[i32], isr: &[i32], leader: Option<i32>) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 4,
            partition_epoch: 9,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

    fn code(outcome: Result<Elected, NotElected>) -> ErrorCode {
        match outcome {
            Ok(elected) => panic!("elected {elected:?}"),
            Err(e) => e.code,
        }
    }

    fn all_live(_: i32) -> bool {
        true
    }

    #[test]
    fn preferred_moves_leadership_to_the_first_replica_and_keeps_the_isr() {
        let s = state(&[2, 1, 3], &[1, 3, 2], Some(1));
        assert_eq!(
            elect(&s, ElectionType::Preferred, all_live),
            Ok(Elected {
                leader: 2,
                isr: vec![1, 3, 2]
            })
        );
        // Also for a partition without a leader.
        let s = state(&[2, 1, 3], &[2], None);
        assert_eq!(
            elect(&s, ElectionType::Preferred, all_live).map(|e| e.leader),
            Ok(2)
        );
    }

    #[test]
    fn preferred_needs_the_first_replica_in_sync_and_live() {
        let leading = state(&[2, 1, 3], &[1, 2, 3], Some(2));
        assert_eq!(
            code(elect(&leading, ElectionType::Preferred, all_live)),
            ErrorCode::ELECTION_NOT_NEEDED
        );
        let out_of_sync = state(&[2, 1, 3], &[1, 3], Some(1));
        assert_eq!(
            code(elect(&out_of_sync, ElectionType::Preferred, all_live)),
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE
        );
        let fenced = state(&[2, 1, 3], &[1, 2, 3], Some(1));
        assert_eq!(
            code(elect(&fenced, ElectionType::Preferred, |b| b != 2)),
            ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE
        );
    }

    #[test]
    fn unclean_only_elects_for_a_partition_without_a_leader() {
        let led = state(&[1, 2], &[1], Some(1));
        assert_eq!(
            code(elect(&led, ElectionType::Unclean, all_live)),
            ErrorCode::ELECTION_NOT_NEEDED
        );
        // A live in-sync replica first: nothing is lost.
        let isr_alive = state(&[1, 2, 3], &[3, 1], None);
        assert_eq!(
            elect(&isr_alive, ElectionType::Unclean, |b| b != 1),
            Ok(Elected {
                leader: 3,
                isr: vec![3, 1]
            })
        );
        // Otherwise the first live replica, alone in the ISR.
        let isr_dead = state(&[1, 2, 3], &[1], None);
        assert_eq!(
            elect(&isr_dead, ElectionType::Unclean, |b| b != 1),
            Ok(Elected {
                leader: 2,
                isr: vec![2]
            })
        );
        assert_eq!(
            code(elect(&isr_dead, ElectionType::Unclean, |_| false)),
            ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE
        );
    }

    #[test]
    fn election_types_are_kafkas() {
        assert_eq!(ElectionType::from_wire(0), Some(ElectionType::Preferred));
        assert_eq!(ElectionType::from_wire(1), Some(ElectionType::Unclean));
        assert_eq!(ElectionType::from_wire(2), None);
        assert_eq!(ElectionType::from_wire(-1), None);
    }

    #[test]
    fn an_unknown_election_type_fails_every_partition() {
        use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
        let request = ElectLeadersRequest::default()
            .with_election_type(7)
            .with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![0, 1])]));
        let response = invalid_election_type(2, 7, request);
        assert_eq!(response.error_code, ErrorCode::INVALID_REQUEST.0);
        let partitions = &response.replica_election_results[0].partition_result;
        assert_eq!(partitions.len(), 2);
        assert!(partitions
            .iter()
            .all(|p| p.error_code == ErrorCode::INVALID_REQUEST.0));
    }
}

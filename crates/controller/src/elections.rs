//! Partition leader elections, sans I/O: from a [`MetadataImage`], the
//! [`MetadataCommand::ChangePartition`]s the active controller proposes when a broker leaves
//! (fenced, shutting down, restarted uncleanly), when a partition has no leader that may lead,
//! and to move leadership back to preferred replicas.
//!
//! # Rules (Kafka's `PartitionChangeBuilder`, without eligible leader replicas)
//! - A broker is eligible (to lead, to join an ISR) when it is registered, unfenced, and not the
//!   broker being removed.
//! - A removed broker leaves the ISR unless it is its last member: the ISR is never empty, since
//!   its last member is the one replica known to hold every committed record (Kafka keeps it
//!   and sets the leader to -1).
//! - The leader stays when it is eligible and in the ISR. Otherwise the first replica in
//!   assignment order that is in the ISR and eligible leads (clean election). When there is
//!   none and unclean election is enabled for the topic, the first eligible replica leads with
//!   an ISR of itself alone (records only the old ISR had are lost). Otherwise the partition
//!   has no leader until a member of its ISR is eligible again.
//! - Preferred leader election: the first replica leads when it is eligible, in the ISR, and
//!   not already the leader; the ISR does not change.
//!
//! # ElectLeaders (KIP-183, KIP-460; Kafka's `ReplicationControlManager.electLeader`)
//! [`elect_leader`] runs one election of one partition with the rules above, for the
//! ElectLeaders API; the automatic preferred elections run the same function on every
//! partition. Its outcomes are Kafka's ([`ElectionError::error_code`]):
//! - preferred ([`ElectionType::Preferred`]): the preferred replica already leads:
//!   ELECTION_NOT_NEEDED; no replicas, the preferred replica not in the ISR, or not eligible:
//!   PREFERRED_LEADER_NOT_AVAILABLE;
//! - unclean ([`ElectionType::Unclean`]): only for a partition without a leader (else
//!   ELECTION_NOT_NEEDED); a clean choice first, as above, with the ISR unchanged; failing
//!   that, the first eligible replica alone in the ISR; nobody eligible:
//!   ELIGIBLE_LEADERS_NOT_AVAILABLE;
//! - a topic or partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION.
//!
//! Every change names the epochs of the partition state it was computed from: if the partition
//! changed meanwhile (an AlterPartition from its leader, another election) the image rejects it
//! (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION) and the next check computes it again.

use crate::command::kafka_error;
use crate::command::MetadataCommand;
use crate::image::MetadataImage;
use crate::image::PartitionState;
use crate::image::TopicImage;
use uuid::Uuid;

/// Topic config (and dynamic cluster-wide broker config) that enables unclean elections.
pub(crate) const UNCLEAN_LEADER_ELECTION_ENABLE: &str = "unclean.leader.election.enable";

/// Kafka's `ElectionType`: the election ElectLeaders asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElectionType {
    /// The first assigned replica leads again.
    Preferred,
    /// A partition without a leader gets one, even one that may lack committed records.
    Unclean,
}

impl ElectionType {
    /// The election type of Kafka's numeric value (ElectLeaders' `election_type`: 0 preferred,
    /// 1 unclean); `None` for any other.
    pub fn from_value(value: i8) -> Option<ElectionType> {
        match value {
            0 => Some(ElectionType::Preferred),
            1 => Some(ElectionType::Unclean),
            _ => None,
        }
    }
}

/// Why an election gives a partition no new leader (the rules in the module doc). Each is one
/// of Kafka's ElectLeaders outcomes, [`ElectionError::error_code`]; the message is for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElectionError {
    /// ELECTION_NOT_NEEDED: the preferred replica already leads (preferred), or the partition
    /// has a leader (unclean).
    #[error("election not needed")]
    ElectionNotNeeded,
    /// PREFERRED_LEADER_NOT_AVAILABLE: there is no replica to prefer.
    #[error("the partition has no replicas")]
    NoReplicas,
    /// PREFERRED_LEADER_NOT_AVAILABLE: the preferred replica is out of the ISR.
    #[error("preferred replica {preferred} is not in the ISR {isr:?}")]
    PreferredNotInIsr { preferred: i32, isr: Vec<i32> },
    /// PREFERRED_LEADER_NOT_AVAILABLE: the preferred replica may not lead.
    #[error("preferred replica {preferred} is fenced or not registered")]
    PreferredNotEligible { preferred: i32 },
    /// ELIGIBLE_LEADERS_NOT_AVAILABLE: no replica may lead, even uncleanly.
    #[error("no replica of {replicas:?} is alive")]
    NoEligibleReplica { replicas: Vec<i32> },
    /// UNKNOWN_TOPIC_OR_PARTITION.
    #[error("no such partition as {topic}-{partition}")]
    UnknownTopicOrPartition { topic: String, partition: i32 },
}

impl ElectionError {
    /// The Kafka error code that ElectLeaders answers with for the partition.
    pub fn error_code(&self) -> i16 {
        match self {
            ElectionError::ElectionNotNeeded => kafka_error::ELECTION_NOT_NEEDED,
            ElectionError::NoReplicas
            | ElectionError::PreferredNotInIsr { .. }
            | ElectionError::PreferredNotEligible { .. } => {
                kafka_error::PREFERRED_LEADER_NOT_AVAILABLE
            }
            ElectionError::NoEligibleReplica { .. } => kafka_error::ELIGIBLE_LEADERS_NOT_AVAILABLE,
            ElectionError::UnknownTopicOrPartition { .. } => {
                kafka_error::UNKNOWN_TOPIC_OR_PARTITION
            }
        }
    }
}

/// The leader and ISR a partition should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LeaderAndIsr {
    pub leader: Option<i32>,
    /// Never empty when the partition's ISR was not.
    pub isr: Vec<i32>,
}

/// The leader and ISR of `state` once `removing` (if any) is taken out of the ISR and
/// leadership, `eligible` telling which brokers may lead or join (the rules in the module doc).
pub(crate) fn elect(
    state: &PartitionState,
    removing: Option<i32>,
    eligible: impl Fn(i32) -> bool,
    unclean: bool,
) -> LeaderAndIsr {
    let eligible = |broker: i32| Some(broker) != removing && eligible(broker);
    let mut isr: Vec<i32> = state
        .isr
        .iter()
        .copied()
        .filter(|&r| Some(r) != removing)
        .collect();
    if isr.is_empty() {
        isr = state.isr.clone();
    }
    if let Some(leader) = state.leader.filter(|&l| isr.contains(&l) && eligible(l)) {
        return LeaderAndIsr {
            leader: Some(leader),
            isr,
        };
    }
    if let Some(&leader) = state
        .replicas
        .iter()
        .find(|&&r| isr.contains(&r) && eligible(r))
    {
        return LeaderAndIsr {
            leader: Some(leader),
            isr,
        };
    }
    if unclean {
        if let Some(&leader) = state.replicas.iter().find(|&&r| eligible(r)) {
            return LeaderAndIsr {
                leader: Some(leader),
                isr: vec![leader],
            };
        }
    }
    LeaderAndIsr { leader: None, isr }
}

/// Whether unclean elections are enabled for `topic`: its topic config, else `default` (the
/// controller's own value, [`controller_unclean_default`]). A value that is not a boolean
/// counts as unset.
pub(crate) fn unclean_election_enabled(topic: &TopicImage, default: bool) -> bool {
    topic
        .configs
        .get(UNCLEAN_LEADER_ELECTION_ENABLE)
        .and_then(|v| parse_bool(v))
        .unwrap_or(default)
}

/// `unclean.leader.election.enable` as the controller on node `node_id` reads it for a topic
/// without its own value, as Kafka's KRaft controller does: the node's dynamic broker config,
/// else the cluster-wide dynamic default, else `static_value` (the node's config file).
pub(crate) fn controller_unclean_default(
    image: &MetadataImage,
    node_id: u64,
    static_value: bool,
) -> bool {
    let node = i32::try_from(node_id)
        .ok()
        .and_then(|id| image.broker_configs(id).get(UNCLEAN_LEADER_ELECTION_ENABLE))
        .and_then(|v| parse_bool(v));
    node.or_else(|| {
        image
            .cluster_configs()
            .get(UNCLEAN_LEADER_ELECTION_ENABLE)
            .and_then(|v| parse_bool(v))
    })
    .unwrap_or(static_value)
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Registered and unfenced.
pub(crate) fn is_unfenced(image: &MetadataImage, broker_id: i32) -> bool {
    image.broker(broker_id).is_some_and(|b| !b.fenced)
}

/// Whether `broker_id` may lead or join the ISR of partition `partition` of `topic_id`:
/// unfenced, and its replica not in a log directory it reported offline (KIP-858).
pub(crate) fn may_lead(
    image: &MetadataImage,
    topic_id: Uuid,
    partition: usize,
    broker_id: i32,
) -> bool {
    let Ok(partition) = i32::try_from(partition) else {
        return false;
    };
    is_unfenced(image, broker_id)
        && image
            .broker(broker_id)
            .is_some_and(|b| !b.offline_replicas.contains(&(topic_id, partition)))
}

/// The changes that take `broker_id`'s replicas `replicas` (topic id, partition), now offline
/// on it, out of their ISRs and leaderships, electing another ISR replica where one may lead.
pub(crate) fn offline_replica_changes(
    image: &MetadataImage,
    broker_id: i32,
    replicas: &[(Uuid, i32)],
    unclean_default: bool,
) -> Vec<MetadataCommand> {
    let mut changes = Vec::new();
    for (topic_id, partition) in replicas {
        let Some(topic) = image.topic_by_id(topic_id) else {
            continue;
        };
        let Some(index) = usize::try_from(*partition).ok() else {
            continue;
        };
        let Some(state) = topic.partitions.get(index) else {
            continue;
        };
        if !state.isr.contains(&broker_id) && state.leader != Some(broker_id) {
            continue;
        }
        let unclean = unclean_election_enabled(topic, unclean_default);
        let eligible = |b| may_lead(image, topic.topic_id, index, b);
        let next = elect(state, Some(broker_id), eligible, unclean);
        changes.extend(change(topic, index, state, next));
    }
    changes
}

/// The command that moves partition `partition` of `topic` from `state` to `next`, or `None`
/// when that is no change.
fn change(
    topic: &TopicImage,
    partition: usize,
    state: &PartitionState,
    next: LeaderAndIsr,
) -> Option<MetadataCommand> {
    if next.leader == state.leader && next.isr == state.isr {
        return None;
    }
    // invariant: the image holds at most i32::MAX partitions per topic.
    let partition = i32::try_from(partition).ok()?;
    Some(MetadataCommand::ChangePartition {
        topic_id: topic.topic_id,
        partition,
        expected_leader_epoch: state.leader_epoch,
        expected_partition_epoch: state.partition_epoch,
        leader: next.leader,
        isr: next.isr,
    })
}

/// The changes that take `broker_id` out of every ISR where others remain and move its
/// leaderships to other replicas, as if it were fenced (whether or not it is yet).
pub(crate) fn removal_changes(
    image: &MetadataImage,
    broker_id: i32,
    unclean_default: bool,
) -> Vec<MetadataCommand> {
    let mut changes = Vec::new();
    for topic in image.topics().values() {
        let unclean = unclean_election_enabled(topic, unclean_default);
        for (partition, state) in topic.partitions.iter().enumerate() {
            if !state.isr.contains(&broker_id) && state.leader != Some(broker_id) {
                continue;
            }
            let eligible = |b| may_lead(image, topic.topic_id, partition, b);
            let next = elect(state, Some(broker_id), eligible, unclean);
            changes.extend(change(topic, partition, state, next));
        }
    }
    changes
}

/// Elections for partitions without a leader that may lead (none, or a fenced or unregistered
/// one, which is then removed as a fenced broker would be) where a replica can now lead.
pub(crate) fn leader_elections(
    image: &MetadataImage,
    unclean_default: bool,
) -> Vec<MetadataCommand> {
    let mut changes = Vec::new();
    for topic in image.topics().values() {
        let unclean = unclean_election_enabled(topic, unclean_default);
        for (partition, state) in topic.partitions.iter().enumerate() {
            let eligible = |b| may_lead(image, topic.topic_id, partition, b);
            if state.leader.is_some_and(eligible) {
                continue;
            }
            let next = elect(state, state.leader, eligible, unclean);
            changes.extend(change(topic, partition, state, next));
        }
    }
    changes
}

/// The preferred leader election of `state`, `eligible` telling which brokers may lead: the
/// first replica leads, the ISR does not change (the rules in the module doc).
fn preferred_election(
    state: &PartitionState,
    eligible: impl Fn(i32) -> bool,
) -> Result<LeaderAndIsr, ElectionError> {
    let Some(&preferred) = state.replicas.first() else {
        return Err(ElectionError::NoReplicas);
    };
    if state.leader == Some(preferred) {
        return Err(ElectionError::ElectionNotNeeded);
    }
    if !state.isr.contains(&preferred) {
        return Err(ElectionError::PreferredNotInIsr {
            preferred,
            isr: state.isr.clone(),
        });
    }
    if !eligible(preferred) {
        return Err(ElectionError::PreferredNotEligible { preferred });
    }
    Ok(LeaderAndIsr {
        leader: Some(preferred),
        isr: state.isr.clone(),
    })
}

/// The unclean election of `state`, which must have no leader: [`elect`] with unclean
/// elections enabled, `eligible` telling which brokers may lead.
fn unclean_election(
    state: &PartitionState,
    eligible: impl Fn(i32) -> bool,
) -> Result<LeaderAndIsr, ElectionError> {
    if state.leader.is_some() {
        return Err(ElectionError::ElectionNotNeeded);
    }
    let next = elect(state, None, eligible, true);
    if next.leader.is_none() {
        return Err(ElectionError::NoEligibleReplica {
            replicas: state.replicas.clone(),
        });
    }
    Ok(next)
}

/// The `election` of partition `partition` of `topic`, whose state is `state`, against the
/// brokers of `image`.
fn partition_election(
    image: &MetadataImage,
    topic: &TopicImage,
    partition: usize,
    state: &PartitionState,
    election: ElectionType,
) -> Result<MetadataCommand, ElectionError> {
    let eligible = |broker: i32| may_lead(image, topic.topic_id, partition, broker);
    let next = match election {
        ElectionType::Preferred => preferred_election(state, eligible)?,
        ElectionType::Unclean => unclean_election(state, eligible)?,
    };
    // Both elections give the partition a leader it does not have: always a change.
    change(topic, partition, state, next).ok_or(ElectionError::ElectionNotNeeded)
}

/// One election of one partition, for ElectLeaders (the rules and outcomes in the module doc):
/// the [`MetadataCommand::ChangePartition`] to propose, which names the epochs of the partition
/// state it was computed from (the image refuses it if the partition changed meanwhile), or
/// why there is none. Sans I/O.
pub fn elect_leader(
    image: &MetadataImage,
    topic: &str,
    partition: i32,
    election: ElectionType,
) -> Result<MetadataCommand, ElectionError> {
    let unknown = || ElectionError::UnknownTopicOrPartition {
        topic: topic.to_string(),
        partition,
    };
    let topic_image = image.topic(topic).ok_or_else(unknown)?;
    let index = usize::try_from(partition).map_err(|_| unknown())?;
    let state = topic_image.partitions.get(index).ok_or_else(unknown)?;
    partition_election(image, topic_image, index, state, election)
}

/// Preferred leader elections: every partition whose first replica is eligible, in the ISR,
/// and not the leader gets it as leader (the elections [`elect_leader`] runs).
pub(crate) fn preferred_leader_elections(image: &MetadataImage) -> Vec<MetadataCommand> {
    let mut changes = Vec::new();
    for topic in image.topics().values() {
        for (partition, state) in topic.partitions.iter().enumerate() {
            let election =
                partition_election(image, topic, partition, state, ElectionType::Preferred);
            changes.extend(election.ok());
        }
    }
    changes
}

/// True when `broker_id` leads at least one partition.
pub(crate) fn leads_any_partition(image: &MetadataImage, broker_id: i32) -> bool {
    image
        .topics()
        .values()
        .flat_map(|t| t.partitions.iter())
        .any(|p| p.leader == Some(broker_id))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use super::*;
    use crate::command::CommandOutput;
    use crate::command::ConfigOp;
    use crate::image::test_support::*;

    fn state(replicas: &[i32], isr: &[i32], leader: Option<i32>) -> PartitionState {
        PartitionState {
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            leader,
            leader_epoch: 3,
            partition_epoch: 5,
            adding_replicas: Vec::new(),
            removing_replicas: Vec::new(),
        }
    }

    fn leader_and_isr(leader: Option<i32>, isr: &[i32]) -> LeaderAndIsr {
        LeaderAndIsr {
            leader,
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn clean_election_takes_the_first_eligible_isr_replica_in_assignment_order() {
        let p = state(&[1, 2, 3, 4], &[4, 3, 1], Some(1));
        let all = |_| true;
        assert_eq!(
            elect(&p, Some(1), all, false),
            leader_and_isr(Some(3), &[4, 3])
        );
        // Not the removed broker, and only eligible ones.
        assert_eq!(
            elect(&p, Some(1), |b| b != 3, false),
            leader_and_isr(Some(4), &[4, 3])
        );
        // An eligible leader in the ISR stays.
        assert_eq!(
            elect(&p, Some(3), all, false),
            leader_and_isr(Some(1), &[4, 1])
        );
        assert_eq!(
            elect(&p, None, all, false),
            leader_and_isr(Some(1), &[4, 3, 1])
        );
    }

    #[test]
    fn the_last_isr_member_stays_and_the_partition_has_no_leader() {
        let p = state(&[1, 2, 3], &[1], Some(1));
        assert_eq!(
            elect(&p, Some(1), |_| true, false),
            leader_and_isr(None, &[1])
        );
        // Its ISR members all fenced: no leader, ISR unchanged.
        let p = state(&[1, 2, 3], &[1, 2], None);
        assert_eq!(
            elect(&p, None, |b| b == 3, false),
            leader_and_isr(None, &[1, 2])
        );
        // The last member back: it leads again.
        let p = state(&[1, 2, 3], &[2], None);
        assert_eq!(
            elect(&p, None, |_| true, false),
            leader_and_isr(Some(2), &[2])
        );
    }

    #[test]
    fn unclean_election_takes_the_first_eligible_replica_alone() {
        let p = state(&[1, 2, 3], &[1], Some(1));
        assert_eq!(
            elect(&p, Some(1), |b| b != 2, true),
            leader_and_isr(Some(3), &[3])
        );
        // A clean choice is always preferred.
        let p = state(&[1, 2, 3], &[1, 3], Some(1));
        assert_eq!(
            elect(&p, Some(1), |_| true, true),
            leader_and_isr(Some(3), &[3])
        );
        // Nobody eligible: no leader even when unclean.
        let p = state(&[1, 2], &[1], Some(1));
        assert_eq!(
            elect(&p, Some(1), |_| false, true),
            leader_and_isr(None, &[1])
        );
    }

    fn set(name: &str, value: &str) -> ConfigOp {
        ConfigOp::Set {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn unclean_election_is_the_topic_config_then_the_node_then_the_cluster_then_the_file() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1]]).unwrap();
        let topic = |image: &MetadataImage| image.topic("t").unwrap().clone();
        let enabled = |image: &MetadataImage, node: u64, file: bool| {
            let default = controller_unclean_default(image, node, file);
            unclean_election_enabled(&topic(image), default)
        };
        assert!(!enabled(&image, 1, false));
        assert!(enabled(&image, 1, true));
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: None,
                ops: vec![set(UNCLEAN_LEADER_ELECTION_ENABLE, "TRUE")],
            },
        )
        .unwrap();
        assert!(
            enabled(&image, 1, false),
            "the cluster default over the file"
        );
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(1),
                ops: vec![set(UNCLEAN_LEADER_ELECTION_ENABLE, "false")],
            },
        )
        .unwrap();
        assert!(
            !enabled(&image, 1, true),
            "node 1's own value over the cluster default"
        );
        assert!(
            enabled(&image, 2, false),
            "another controller reads the cluster default"
        );
        apply(
            &mut image,
            MetadataCommand::AlterBrokerConfig {
                broker_id: Some(1),
                ops: vec![ConfigOp::Delete {
                    name: UNCLEAN_LEADER_ELECTION_ENABLE.into(),
                }],
            },
        )
        .unwrap();
        assert!(enabled(&image, 1, false));
        apply(
            &mut image,
            MetadataCommand::AlterTopicConfig {
                topic: "t".into(),
                ops: vec![set(UNCLEAN_LEADER_ELECTION_ENABLE, "false")],
            },
        )
        .unwrap();
        assert!(!enabled(&image, 1, true));
        apply(
            &mut image,
            MetadataCommand::AlterTopicConfig {
                topic: "t".into(),
                ops: vec![set(UNCLEAN_LEADER_ELECTION_ENABLE, "maybe")],
            },
        )
        .unwrap();
        assert!(
            enabled(&image, 1, false),
            "not a boolean: the cluster config applies"
        );
    }

    /// Applies every change; each must succeed.
    fn apply_all(image: &mut MetadataImage, changes: Vec<MetadataCommand>) {
        for change in changes {
            let r = apply(image, change.clone());
            assert!(
                matches!(r, Ok(CommandOutput::PartitionChanged { .. })),
                "{change:?}: {r:?}"
            );
        }
    }

    fn leaders_and_isrs(image: &MetadataImage, topic: &str) -> Vec<(Option<i32>, Vec<i32>)> {
        image
            .topic(topic)
            .unwrap()
            .partitions
            .iter()
            .map(|p| (p.leader, p.isr.clone()))
            .collect()
    }

    #[test]
    fn removing_a_broker_moves_its_leaderships_and_keeps_last_members() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "a", 1, vec![vec![1, 2, 3], vec![2, 1, 3]]).unwrap();
        create_topic(&mut image, "b", 2, vec![vec![1]]).unwrap();
        create_topic(&mut image, "c", 3, vec![vec![3, 2]]).unwrap();
        let changes = removal_changes(&image, 1, false);
        // Topic c does not involve broker 1.
        assert_eq!(changes.len(), 3);
        let MetadataCommand::ChangePartition {
            expected_leader_epoch,
            expected_partition_epoch,
            ..
        } = changes[0]
        else {
            panic!("{changes:?}");
        };
        assert_eq!((expected_leader_epoch, expected_partition_epoch), (0, 0));
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        assert_eq!(
            leaders_and_isrs(&image, "a"),
            vec![(Some(2), vec![2, 3]), (Some(2), vec![2, 3])]
        );
        assert_eq!(leaders_and_isrs(&image, "b"), vec![(None, vec![1])]);
        assert_eq!(leaders_and_isrs(&image, "c"), vec![(Some(3), vec![3, 2])]);
        assert!(removal_changes(&image, 1, false).is_empty(), "nothing left");
        assert!(!leads_any_partition(&image, 1));
        assert!(leads_any_partition(&image, 2));
    }

    #[test]
    fn removing_the_last_member_elects_uncleanly_when_the_topic_allows_it() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "clean", 1, vec![vec![1, 2]]).unwrap();
        apply(
            &mut image,
            MetadataCommand::CreateTopic {
                name: "unclean".into(),
                topic_id: Uuid::from_u128(2),
                assignments: vec![vec![1, 2]],
                configs: BTreeMap::from([(
                    UNCLEAN_LEADER_ELECTION_ENABLE.to_string(),
                    "true".to_string(),
                )]),
            },
        )
        .unwrap();
        // Broker 2 left both ISRs earlier.
        fence(&mut image, 2);
        let changes = removal_changes(&image, 2, false);
        apply_all(&mut image, changes);
        unfence(&mut image, 2);
        assert_eq!(leaders_and_isrs(&image, "clean"), vec![(Some(1), vec![1])]);

        let changes = removal_changes(&image, 1, false);
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        assert_eq!(leaders_and_isrs(&image, "clean"), vec![(None, vec![1])]);
        assert_eq!(
            leaders_and_isrs(&image, "unclean"),
            vec![(Some(2), vec![2])]
        );
    }

    #[test]
    fn leaderless_partitions_get_a_leader_once_a_replica_may_lead() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2], vec![3, 1]]).unwrap();
        let changes = removal_changes(&image, 1, false);
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        let changes = removal_changes(&image, 2, false);
        fence(&mut image, 2);
        apply_all(&mut image, changes);
        assert_eq!(
            leaders_and_isrs(&image, "t"),
            vec![(None, vec![2]), (Some(3), vec![3])]
        );
        assert!(
            leader_elections(&image, false).is_empty(),
            "nobody can lead"
        );
        // Broker 1 is back but not in the ISR: only an unclean election may pick it.
        unfence(&mut image, 1);
        assert!(leader_elections(&image, false).is_empty());
        assert_eq!(leader_elections(&image, true).len(), 1);
        unfence(&mut image, 2);
        let changes = leader_elections(&image, false);
        apply_all(&mut image, changes);
        assert_eq!(leaders_and_isrs(&image, "t")[0], (Some(2), vec![2]));
        assert!(leader_elections(&image, false).is_empty());
    }

    #[test]
    fn a_fenced_leader_left_by_a_bare_fence_is_replaced() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2]]).unwrap();
        fence(&mut image, 1);
        let changes = leader_elections(&image, false);
        apply_all(&mut image, changes);
        assert_eq!(leaders_and_isrs(&image, "t"), vec![(Some(2), vec![2])]);
    }

    #[test]
    fn preferred_leaders_lead_again_when_eligible_and_in_sync() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2], vec![2, 3], vec![3, 1]]).unwrap();
        assert!(preferred_leader_elections(&image).is_empty());
        let changes = removal_changes(&image, 1, false);
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        unfence(&mut image, 1);
        // Broker 1 is back but out of the ISRs: no preferred election yet.
        assert!(preferred_leader_elections(&image).is_empty());
        let p0 = image.topic("t").unwrap().partitions[0].clone();
        let rejoin = MetadataCommand::ChangePartition {
            topic_id: Uuid::from_u128(1),
            partition: 0,
            expected_leader_epoch: p0.leader_epoch,
            expected_partition_epoch: p0.partition_epoch,
            leader: Some(2),
            isr: vec![2, 1],
        };
        apply_all(&mut image, vec![rejoin]);
        let changes = preferred_leader_elections(&image);
        assert_eq!(changes.len(), 1);
        apply_all(&mut image, changes);
        assert_eq!(
            leaders_and_isrs(&image, "t"),
            vec![
                (Some(1), vec![2, 1]),
                (Some(2), vec![2, 3]),
                (Some(3), vec![3])
            ]
        );
    }

    fn all_eligible(_: i32) -> bool {
        true
    }

    #[test]
    fn preferred_election_moves_leadership_to_the_first_replica_and_keeps_the_isr() {
        let p = state(&[2, 1, 3], &[1, 3, 2], Some(1));
        assert_eq!(
            preferred_election(&p, all_eligible),
            Ok(leader_and_isr(Some(2), &[1, 3, 2]))
        );
        // Also for a partition without a leader.
        let p = state(&[2, 1, 3], &[2], None);
        assert_eq!(
            preferred_election(&p, all_eligible),
            Ok(leader_and_isr(Some(2), &[2]))
        );
    }

    #[test]
    fn preferred_election_needs_the_first_replica_in_sync_and_eligible() {
        let leading = state(&[2, 1, 3], &[1, 2, 3], Some(2));
        assert_eq!(
            preferred_election(&leading, all_eligible),
            Err(ElectionError::ElectionNotNeeded)
        );
        let out_of_sync = state(&[2, 1, 3], &[1, 3], Some(1));
        assert_eq!(
            preferred_election(&out_of_sync, all_eligible),
            Err(ElectionError::PreferredNotInIsr {
                preferred: 2,
                isr: vec![1, 3]
            })
        );
        let fenced = state(&[2, 1, 3], &[1, 2, 3], Some(1));
        assert_eq!(
            preferred_election(&fenced, |b| b != 2),
            Err(ElectionError::PreferredNotEligible { preferred: 2 })
        );
        let empty = state(&[], &[], None);
        assert_eq!(
            preferred_election(&empty, all_eligible),
            Err(ElectionError::NoReplicas)
        );
    }

    #[test]
    fn unclean_election_only_elects_for_a_partition_without_a_leader() {
        let led = state(&[1, 2], &[1], Some(1));
        assert_eq!(
            unclean_election(&led, all_eligible),
            Err(ElectionError::ElectionNotNeeded)
        );
        // An eligible in-sync replica first: nothing is lost.
        let isr_alive = state(&[1, 2, 3], &[3, 1], None);
        assert_eq!(
            unclean_election(&isr_alive, |b| b != 1),
            Ok(leader_and_isr(Some(3), &[3, 1]))
        );
        // Otherwise the first eligible replica, alone in the ISR.
        let isr_dead = state(&[1, 2, 3], &[1], None);
        assert_eq!(
            unclean_election(&isr_dead, |b| b != 1),
            Ok(leader_and_isr(Some(2), &[2]))
        );
        assert_eq!(
            unclean_election(&isr_dead, |_| false),
            Err(ElectionError::NoEligibleReplica {
                replicas: vec![1, 2, 3]
            })
        );
    }

    #[test]
    fn election_types_and_error_codes_are_kafkas() {
        assert_eq!(ElectionType::from_value(0), Some(ElectionType::Preferred));
        assert_eq!(ElectionType::from_value(1), Some(ElectionType::Unclean));
        assert_eq!(ElectionType::from_value(2), None);
        assert_eq!(ElectionType::from_value(-1), None);
        let codes = [
            (ElectionError::ElectionNotNeeded, 84),
            (ElectionError::NoReplicas, 80),
            (ElectionError::PreferredNotEligible { preferred: 1 }, 80),
            (
                ElectionError::PreferredNotInIsr {
                    preferred: 1,
                    isr: vec![2],
                },
                80,
            ),
            (ElectionError::NoEligibleReplica { replicas: vec![1] }, 83),
            (
                ElectionError::UnknownTopicOrPartition {
                    topic: "t".into(),
                    partition: 0,
                },
                3,
            ),
        ];
        for (error, code) in codes {
            assert_eq!(error.error_code(), code, "{error:?}");
        }
        assert_eq!(
            ElectionError::PreferredNotInIsr {
                preferred: 2,
                isr: vec![1, 3]
            }
            .to_string(),
            "preferred replica 2 is not in the ISR [1, 3]"
        );
    }

    #[test]
    fn elect_leader_proposes_a_change_based_on_the_partition_epochs() {
        let mut image = image_with_brokers(&[1, 2, 3]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2], vec![2, 3]]).unwrap();
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Preferred),
            Err(ElectionError::ElectionNotNeeded)
        );
        let changes = removal_changes(&image, 1, false);
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        unfence(&mut image, 1);
        // Broker 1 leads nothing and is out of the ISR of partition 0.
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Preferred),
            Err(ElectionError::PreferredNotInIsr {
                preferred: 1,
                isr: vec![2]
            })
        );
        let p0 = image.topic("t").unwrap().partitions[0].clone();
        let rejoin = MetadataCommand::ChangePartition {
            topic_id: Uuid::from_u128(1),
            partition: 0,
            expected_leader_epoch: p0.leader_epoch,
            expected_partition_epoch: p0.partition_epoch,
            leader: Some(2),
            isr: vec![2, 1],
        };
        apply_all(&mut image, vec![rejoin]);
        let p0 = image.topic("t").unwrap().partitions[0].clone();
        let expected = MetadataCommand::ChangePartition {
            topic_id: Uuid::from_u128(1),
            partition: 0,
            expected_leader_epoch: p0.leader_epoch,
            expected_partition_epoch: p0.partition_epoch,
            leader: Some(1),
            isr: vec![2, 1],
        };
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Preferred),
            Ok(expected.clone())
        );
        // The automatic preferred elections are the same elections.
        assert_eq!(preferred_leader_elections(&image), vec![expected.clone()]);
        // A partition with a leader needs no unclean election.
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Unclean),
            Err(ElectionError::ElectionNotNeeded)
        );
        apply_all(&mut image, vec![expected.clone()]);
        // Applied once: the image refuses the same change (its epochs are stale).
        assert!(apply(&mut image, expected).is_err());
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Preferred),
            Err(ElectionError::ElectionNotNeeded)
        );
    }

    #[test]
    fn elect_leader_elects_uncleanly_only_without_a_leader() {
        let mut image = image_with_brokers(&[1, 2]);
        create_topic(&mut image, "t", 1, vec![vec![1, 2]]).unwrap();
        // Broker 2 leaves the ISR, then broker 1 (the last member) is fenced: no leader.
        let changes = removal_changes(&image, 2, false);
        fence(&mut image, 2);
        apply_all(&mut image, changes);
        unfence(&mut image, 2);
        let changes = removal_changes(&image, 1, false);
        fence(&mut image, 1);
        apply_all(&mut image, changes);
        let p0 = image.topic("t").unwrap().partitions[0].clone();
        assert_eq!((p0.leader, p0.isr.clone()), (None, vec![1]));
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Unclean),
            Ok(MetadataCommand::ChangePartition {
                topic_id: Uuid::from_u128(1),
                partition: 0,
                expected_leader_epoch: p0.leader_epoch,
                expected_partition_epoch: p0.partition_epoch,
                leader: Some(2),
                isr: vec![2],
            })
        );
        // The preferred replica is fenced.
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Preferred),
            Err(ElectionError::PreferredNotEligible { preferred: 1 })
        );
        fence(&mut image, 2);
        assert_eq!(
            elect_leader(&image, "t", 0, ElectionType::Unclean),
            Err(ElectionError::NoEligibleReplica {
                replicas: vec![1, 2]
            })
        );
    }

    #[test]
    fn elect_leader_answers_unknown_topics_and_partitions() {
        let mut image = image_with_brokers(&[1]);
        create_topic(&mut image, "t", 1, vec![vec![1]]).unwrap();
        for (topic, partition) in [("u", 0), ("t", 1), ("t", -1)] {
            for election in [ElectionType::Preferred, ElectionType::Unclean] {
                assert_eq!(
                    elect_leader(&image, topic, partition, election),
                    Err(ElectionError::UnknownTopicOrPartition {
                        topic: topic.to_string(),
                        partition
                    })
                );
            }
        }
    }
}

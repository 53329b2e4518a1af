//! Leader and ISR changes of one partition: the result of AlterPartition (ISR shrink/expand by
//! the leader) or of a leader election by the controller.
//!
//! Rules (KRaft's): the change names the epochs it was based on, FENCED_LEADER_EPOCH when the
//! leader epoch moved on, INVALID_UPDATE_VERSION when the partition epoch did; the new ISR is a
//! non-empty subset of the replicas; the leader, when there is one, is in the new ISR; brokers
//! that join the ISR or become leader must be registered and unfenced (INELIGIBLE_REPLICA). A
//! change of leader bumps the leader epoch; any change bumps the partition epoch; a change to the
//! same state is a no-op that reports the current state.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::MetadataImage;
use super::PartitionState;
use crate::command::CommandError;
use crate::command::CommandOutput;
use crate::command::CommandResult;

impl MetadataImage {
    pub(super) fn change_partition(
        &mut self,
        topic_id: Uuid,
        partition: i32,
        expected_leader_epoch: i32,
        expected_partition_epoch: i32,
        leader: Option<i32>,
        isr: &[i32],
    ) -> CommandResult {
        let name = self
            .topic_names_by_id
            .get(&topic_id)
            .ok_or(CommandError::UnknownTopicId(topic_id))?;
        let state = self
            .topics
            .get(name)
            .and_then(|t| t.partition(partition))
            .ok_or(CommandError::UnknownPartition {
                topic_id,
                partition,
            })?;
        if expected_leader_epoch != state.leader_epoch {
            return Err(CommandError::FencedLeaderEpoch {
                current: state.leader_epoch,
                requested: expected_leader_epoch,
            });
        }
        if expected_partition_epoch != state.partition_epoch {
            return Err(CommandError::InvalidUpdateVersion {
                current: state.partition_epoch,
                requested: expected_partition_epoch,
            });
        }
        if isr.is_empty() {
            // Kafka never empties an ISR: its last member is the one replica known to hold
            // everything committed, needed to pick a leader later.
            return Err(CommandError::InvalidRequest("the new ISR is empty".into()));
        }
        let distinct: BTreeSet<i32> = isr.iter().copied().collect();
        if distinct.len() != isr.len() {
            return Err(CommandError::InvalidRequest(format!(
                "the new ISR lists a replica twice: {isr:?}"
            )));
        }
        if let Some(r) = isr.iter().find(|r| !state.replicas.contains(r)) {
            return Err(CommandError::InvalidRequest(format!(
                "broker {r} in the new ISR is not a replica of the partition"
            )));
        }
        if let Some(l) = leader {
            if !isr.contains(&l) {
                return Err(CommandError::InvalidRequest(format!(
                    "the new leader {l} is not in the new ISR {isr:?}"
                )));
            }
            if state.leader != Some(l) && !self.is_live_broker(l) {
                return Err(CommandError::IneligibleReplica(format!(
                    "broker {l} cannot lead: it is fenced or not registered"
                )));
            }
        }
        if let Some(r) = isr
            .iter()
            .find(|r| !state.isr.contains(r) && !self.is_live_broker(**r))
        {
            return Err(CommandError::IneligibleReplica(format!(
                "broker {r} cannot join the ISR: it is fenced or not registered"
            )));
        }

        let isr_changed = {
            let current: BTreeSet<i32> = state.isr.iter().copied().collect();
            current != distinct
        };
        let leader_changed = state.leader != leader;
        if !isr_changed && !leader_changed {
            return Ok(CommandOutput::PartitionChanged {
                leader: state.leader,
                leader_epoch: state.leader_epoch,
                partition_epoch: state.partition_epoch,
            });
        }
        let overflow = || CommandError::InvalidRequest("partition epoch overflow".into());
        let leader_epoch = if leader_changed {
            state.leader_epoch.checked_add(1).ok_or_else(overflow)?
        } else {
            state.leader_epoch
        };
        let partition_epoch = state.partition_epoch.checked_add(1).ok_or_else(overflow)?;

        let mut next = PartitionState {
            isr: isr.to_vec(),
            leader,
            leader_epoch,
            partition_epoch,
            ..state.clone()
        };
        complete_reassignment(&mut next, |b| self.is_live_broker(b));
        let output = changed(&next);
        self.set_partition(topic_id, partition, next)?;
        Ok(output)
    }

    /// AlterPartitionReassignments for one partition (see
    /// [`MetadataCommand::ReassignPartition`](crate::MetadataCommand::ReassignPartition)).
    ///
    /// Rules (KIP-455 as KRaft applies them):
    /// - the target is a non-empty list of registered brokers without duplicates
    ///   (INVALID_REPLICA_ASSIGNMENT otherwise);
    /// - a new target replaces an ongoing reassignment: it is computed against the replicas
    ///   the partition had before that one started;
    /// - the partition's replicas become the target followed by the original replicas not in
    ///   it; those are being removed, the target replicas not among the originals are being
    ///   added; the ISR and leader stay;
    /// - the reassignment completes as soon as every target replica is in the ISR (at once when
    ///   nothing is added): the replicas become the target, the ISR keeps its target members,
    ///   and a leader that is not in the target hands over to the first live target replica;
    /// - a cancel (`None`) reverts to the original replicas, keeping the ISR's original members;
    ///   NO_REASSIGNMENT_IN_PROGRESS when there is nothing to cancel, INVALID_REPLICA_ASSIGNMENT
    ///   when no original replica is in sync any more (reverting would lose records).
    ///
    /// Any change bumps the partition epoch, a change of leader also the leader epoch.
    pub(super) fn reassign_partition(
        &mut self,
        topic_id: Uuid,
        partition: i32,
        target: Option<&[i32]>,
    ) -> CommandResult {
        let name = self
            .topic_names_by_id
            .get(&topic_id)
            .ok_or(CommandError::UnknownTopicId(topic_id))?
            .clone();
        let state = self
            .topics
            .get(&name)
            .and_then(|t| t.partition(partition))
            .ok_or(CommandError::UnknownPartition {
                topic_id,
                partition,
            })?
            .clone();
        let original = state.original_replicas();
        let mut next = state.clone();
        match target {
            None => {
                if !state.is_reassigning() {
                    return Err(CommandError::NoReassignmentInProgress {
                        topic: name,
                        partition,
                    });
                }
                next.replicas = original.clone();
                next.adding_replicas.clear();
                next.removing_replicas.clear();
                next.isr.retain(|r| original.contains(r));
                if next.isr.is_empty() {
                    return Err(CommandError::InvalidReplicaAssignment(format!(
                        "cannot cancel the reassignment of {name}-{partition}: none of its \
                         original replicas {original:?} is in sync"
                    )));
                }
            }
            Some(target) => {
                if target.is_empty() {
                    return Err(CommandError::InvalidReplicaAssignment(
                        "the target replica list is empty".into(),
                    ));
                }
                let distinct: BTreeSet<i32> = target.iter().copied().collect();
                if distinct.len() != target.len() {
                    return Err(CommandError::InvalidReplicaAssignment(format!(
                        "the target lists a broker twice: {target:?}"
                    )));
                }
                if let Some(b) = target.iter().find(|b| self.broker(**b).is_none()) {
                    return Err(CommandError::InvalidReplicaAssignment(format!(
                        "broker {b} in the target is not registered"
                    )));
                }
                if !state.is_reassigning() && target == state.replicas.as_slice() {
                    return Ok(changed(&state));
                }
                next.replicas = target.to_vec();
                next.replicas
                    .extend(original.iter().copied().filter(|r| !target.contains(r)));
                next.adding_replicas = target
                    .iter()
                    .copied()
                    .filter(|r| !original.contains(r))
                    .collect();
                next.removing_replicas = original
                    .iter()
                    .copied()
                    .filter(|r| !target.contains(r))
                    .collect();
                // Replicas an earlier target added and this one drops leave the ISR too.
                next.isr.retain(|r| next.replicas.contains(r));
                if next.isr.is_empty() {
                    return Err(CommandError::InvalidReplicaAssignment(format!(
                        "the new target {target:?} of {name}-{partition} would leave no in-sync \
                         replica"
                    )));
                }
                complete_reassignment(&mut next, |b| self.is_live_broker(b));
            }
        }
        if next.leader.is_some_and(|l| !next.isr.contains(&l)) {
            next.leader = next
                .replicas
                .iter()
                .copied()
                .find(|r| next.isr.contains(r) && self.is_live_broker(*r));
        }
        let overflow = || CommandError::InvalidRequest("partition epoch overflow".into());
        if next.leader != state.leader {
            next.leader_epoch = state.leader_epoch.checked_add(1).ok_or_else(overflow)?;
        }
        next.partition_epoch = state.partition_epoch.checked_add(1).ok_or_else(overflow)?;
        self.set_partition(topic_id, partition, next.clone())?;
        Ok(changed(&next))
    }

    fn set_partition(
        &mut self,
        topic_id: Uuid,
        partition: i32,
        state: PartitionState,
    ) -> Result<(), CommandError> {
        let slot = self
            .topic_names_by_id
            .get(&topic_id)
            .and_then(|name| self.topics.get_mut(name))
            .and_then(|t| {
                usize::try_from(partition)
                    .ok()
                    .and_then(|p| t.partitions.get_mut(p))
            })
            .ok_or(CommandError::UnknownPartition {
                topic_id,
                partition,
            })?;
        *slot = state;
        Ok(())
    }
}

fn changed(state: &PartitionState) -> CommandOutput {
    CommandOutput::PartitionChanged {
        leader: state.leader,
        leader_epoch: state.leader_epoch,
        partition_epoch: state.partition_epoch,
    }
}

/// Completes `state`'s reassignment when every target replica is in the ISR: the replicas
/// become the target, the ISR keeps its target members, a leader outside the target hands over
/// to the first live target replica (bumping the leader epoch). The partition epoch is bumped.
/// Returns whether it completed.
fn complete_reassignment(state: &mut PartitionState, is_live: impl Fn(i32) -> bool) -> bool {
    if !state.is_reassigning() {
        return false;
    }
    let target = state.target_replicas();
    if !target.iter().all(|r| state.isr.contains(r)) {
        return false;
    }
    let previous_leader = state.leader;
    state.isr.retain(|r| target.contains(r));
    if state.leader.is_some_and(|l| !target.contains(&l)) {
        state.leader = target.iter().copied().find(|r| is_live(*r));
    }
    state.replicas = target;
    state.adding_replicas.clear();
    state.removing_replicas.clear();
    if state.leader != previous_leader {
        state.leader_epoch = state.leader_epoch.saturating_add(1);
    }
    state.partition_epoch = state.partition_epoch.saturating_add(1);
    true
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::command::MetadataCommand;

    const TOPIC: u128 = 1;

    fn setup() -> MetadataImage {
        let mut image = image_with_brokers(&[1, 2, 3, 4]);
        create_topic(&mut image, "t", TOPIC, vec![vec![1, 2, 3]]).unwrap();
        image
    }

    fn change(
        image: &mut MetadataImage,
        epochs: (i32, i32),
        leader: Option<i32>,
        isr: &[i32],
    ) -> CommandResult {
        apply(
            image,
            MetadataCommand::ChangePartition {
                topic_id: Uuid::from_u128(TOPIC),
                partition: 0,
                expected_leader_epoch: epochs.0,
                expected_partition_epoch: epochs.1,
                leader,
                isr: isr.to_vec(),
            },
        )
    }

    fn state(image: &MetadataImage) -> (Option<i32>, Vec<i32>, i32, i32) {
        let p = image.topic("t").unwrap().partition(0).unwrap();
        (p.leader, p.isr.clone(), p.leader_epoch, p.partition_epoch)
    }

    #[test]
    fn isr_shrink_bumps_only_the_partition_epoch() {
        let mut image = setup();
        assert_eq!(
            change(&mut image, (0, 0), Some(1), &[1, 2]),
            Ok(CommandOutput::PartitionChanged {
                leader: Some(1),
                leader_epoch: 0,
                partition_epoch: 1
            })
        );
        assert_eq!(state(&image), (Some(1), vec![1, 2], 0, 1));
    }

    #[test]
    fn election_bumps_both_epochs() {
        let mut image = setup();
        fence(&mut image, 1);
        change(&mut image, (0, 0), Some(2), &[2, 3]).unwrap();
        assert_eq!(state(&image), (Some(2), vec![2, 3], 1, 1));
        change(&mut image, (1, 1), None, &[2]).unwrap();
        assert_eq!(state(&image), (None, vec![2], 2, 2));
    }

    #[test]
    fn stale_epochs() {
        let mut image = setup();
        change(&mut image, (0, 0), Some(1), &[1, 2]).unwrap();
        assert_eq!(
            change(&mut image, (0, 0), Some(1), &[1]),
            Err(CommandError::InvalidUpdateVersion {
                current: 1,
                requested: 0
            })
        );
        assert_eq!(
            change(&mut image, (3, 1), Some(1), &[1]),
            Err(CommandError::FencedLeaderEpoch {
                current: 0,
                requested: 3
            })
        );
        assert_eq!(state(&image), (Some(1), vec![1, 2], 0, 1));
    }

    #[test]
    fn same_state_is_a_no_op() {
        let mut image = setup();
        assert_eq!(
            change(&mut image, (0, 0), Some(1), &[3, 2, 1]),
            Ok(CommandOutput::PartitionChanged {
                leader: Some(1),
                leader_epoch: 0,
                partition_epoch: 0
            })
        );
    }

    #[test]
    fn invalid_isr_and_leader() {
        let mut image = setup();
        let invalid = |r: CommandResult| matches!(r, Err(CommandError::InvalidRequest(_)));
        assert!(invalid(change(&mut image, (0, 0), Some(1), &[1, 1])));
        assert!(invalid(change(&mut image, (0, 0), Some(1), &[1, 4])));
        assert!(invalid(change(&mut image, (0, 0), Some(2), &[1, 3])));
        assert!(invalid(change(&mut image, (0, 0), Some(1), &[])));
        assert!(invalid(change(&mut image, (0, 0), None, &[])));
        assert_eq!(state(&image), (Some(1), vec![1, 2, 3], 0, 0));
    }

    #[test]
    fn fenced_brokers_cannot_join_or_lead() {
        let mut image = setup();
        change(&mut image, (0, 0), Some(1), &[1]).unwrap();
        fence(&mut image, 2);
        let r = change(&mut image, (0, 1), Some(1), &[1, 2]);
        assert!(
            matches!(r, Err(CommandError::IneligibleReplica(_))),
            "{r:?}"
        );
        assert_eq!(r.unwrap_err().error_code(), 107);
        let r = change(&mut image, (0, 1), Some(2), &[1, 2]);
        assert!(
            matches!(r, Err(CommandError::IneligibleReplica(_))),
            "{r:?}"
        );
        // A fenced broker already in the ISR may stay there (it is removed by its own change).
        fence(&mut image, 1);
        change(&mut image, (0, 1), Some(1), &[1]).unwrap();
        unfence(&mut image, 2);
        change(&mut image, (0, 1), Some(2), &[2]).unwrap();
        assert_eq!(state(&image), (Some(2), vec![2], 1, 2));
    }

    #[test]
    fn unknown_topic_or_partition() {
        let mut image = setup();
        let r = apply(
            &mut image,
            MetadataCommand::ChangePartition {
                topic_id: Uuid::from_u128(99),
                partition: 0,
                expected_leader_epoch: 0,
                expected_partition_epoch: 0,
                leader: None,
                isr: vec![],
            },
        );
        assert_eq!(r, Err(CommandError::UnknownTopicId(Uuid::from_u128(99))));
        for partition in [-1, 1] {
            let r = apply(
                &mut image,
                MetadataCommand::ChangePartition {
                    topic_id: Uuid::from_u128(TOPIC),
                    partition,
                    expected_leader_epoch: 0,
                    expected_partition_epoch: 0,
                    leader: None,
                    isr: vec![],
                },
            );
            assert_eq!(r.unwrap_err().error_code(), 3);
        }
    }

    fn reassign(image: &mut MetadataImage, target: Option<&[i32]>) -> CommandResult {
        apply(
            image,
            MetadataCommand::ReassignPartition {
                topic_id: Uuid::from_u128(TOPIC),
                partition: 0,
                target: target.map(<[i32]>::to_vec),
            },
        )
    }

    fn full(image: &MetadataImage) -> PartitionState {
        image.topic("t").unwrap().partition(0).unwrap().clone()
    }

    /// The partition epochs as they are now, for the next ChangePartition.
    fn epochs(image: &MetadataImage) -> (i32, i32) {
        let p = full(image);
        (p.leader_epoch, p.partition_epoch)
    }

    #[test]
    fn reassignment_adds_first_and_removes_once_the_target_is_in_sync() {
        let mut image = setup();
        reassign(&mut image, Some(&[2, 3, 4])).unwrap();
        let p = full(&image);
        assert_eq!(p.replicas, vec![2, 3, 4, 1]);
        assert_eq!(p.adding_replicas, vec![4]);
        assert_eq!(p.removing_replicas, vec![1]);
        assert_eq!((p.leader, p.isr.clone()), (Some(1), vec![1, 2, 3]));
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 1));

        // Broker 4 catches up: the leader's ISR expansion completes the reassignment, and
        // leadership leaves broker 1, which is no longer a replica.
        let e = epochs(&image);
        change(&mut image, e, Some(1), &[1, 2, 3, 4]).unwrap();
        let p = full(&image);
        assert_eq!(p.replicas, vec![2, 3, 4]);
        assert!(!p.is_reassigning());
        assert_eq!((p.leader, p.isr.clone()), (Some(2), vec![2, 3, 4]));
        assert_eq!(p.leader_epoch, 1);
        assert!(p.partition_epoch > 1);
    }

    #[test]
    fn reassignment_without_new_replicas_completes_at_once() {
        let mut image = setup();
        reassign(&mut image, Some(&[3, 2])).unwrap();
        let p = full(&image);
        assert_eq!(p.replicas, vec![3, 2]);
        assert!(!p.is_reassigning());
        assert_eq!((p.leader, p.isr.clone()), (Some(3), vec![2, 3]));
        assert_eq!(p.leader_epoch, 1);
        // The same target again changes nothing.
        let before = full(&image);
        reassign(&mut image, Some(&[3, 2])).unwrap();
        assert_eq!(full(&image), before);
    }

    #[test]
    fn a_new_target_replaces_the_ongoing_one_and_a_cancel_reverts() {
        let mut image = setup();
        reassign(&mut image, Some(&[2, 3, 4])).unwrap();
        reassign(&mut image, Some(&[1, 2, 3])).unwrap();
        let p = full(&image);
        assert_eq!(p.replicas, vec![1, 2, 3]);
        assert!(!p.is_reassigning(), "back to the original replicas: {p:?}");

        reassign(&mut image, Some(&[4, 2, 3])).unwrap();
        reassign(&mut image, None).unwrap();
        let p = full(&image);
        // Kafka's revert: the replicas without the added ones, in the reassignment's order.
        assert_eq!(p.replicas, vec![2, 3, 1]);
        assert_eq!((p.leader, p.isr.clone()), (Some(1), vec![1, 2, 3]));
        assert!(!p.is_reassigning());
        assert_eq!(
            reassign(&mut image, None).unwrap_err().error_code(),
            85,
            "NO_REASSIGNMENT_IN_PROGRESS"
        );
    }

    #[test]
    fn cancelling_keeps_only_original_isr_members() {
        let mut image = setup();
        reassign(&mut image, Some(&[2, 3, 4])).unwrap();
        // 4 is not in sync yet; 3 falls out of the ISR: the reassignment waits.
        let e = epochs(&image);
        change(&mut image, e, Some(1), &[1, 2]).unwrap();
        assert!(full(&image).is_reassigning());
        reassign(&mut image, None).unwrap();
        let p = full(&image);
        assert_eq!(
            (p.replicas.clone(), p.isr.clone()),
            (vec![2, 3, 1], vec![1, 2])
        );
        assert!(!p.is_reassigning());
    }

    #[test]
    fn bad_targets_are_invalid_replica_assignments() {
        let mut image = setup();
        for target in [&[][..], &[2, 2, 3], &[2, 3, 9]] {
            assert_eq!(
                reassign(&mut image, Some(target)).unwrap_err().error_code(),
                39,
                "{target:?}"
            );
        }
        // A target that drops every in-sync replica waits for its replicas to catch up...
        let e = epochs(&image);
        change(&mut image, e, Some(1), &[1]).unwrap();
        reassign(&mut image, Some(&[2, 3])).unwrap();
        let p = full(&image);
        assert_eq!(
            (p.replicas.clone(), p.removing_replicas.clone()),
            (vec![2, 3, 1], vec![1])
        );
        assert_eq!(p.leader, Some(1));
        // ...and a later target that would leave no in-sync replica at all is refused: here
        // 4, being added, is the only replica in sync and the new target drops it.
        let mut image = setup();
        reassign(&mut image, Some(&[4, 3])).unwrap();
        let e = epochs(&image);
        change(&mut image, e, Some(1), &[1, 4]).unwrap();
        unfence(&mut image, 4);
        let e = epochs(&image);
        change(&mut image, e, Some(4), &[4]).unwrap();
        assert_eq!(
            reassign(&mut image, Some(&[1, 2, 3]))
                .unwrap_err()
                .error_code(),
            39
        );
        assert_eq!(full(&image).replicas, vec![4, 3, 1, 2]);
        assert_eq!(
            apply(
                &mut image,
                MetadataCommand::ReassignPartition {
                    topic_id: Uuid::from_u128(TOPIC),
                    partition: 5,
                    target: Some(vec![1]),
                },
            )
            .unwrap_err()
            .error_code(),
            3
        );
    }

    #[test]
    fn reassignment_state_survives_a_snapshot() {
        let mut image = setup();
        reassign(&mut image, Some(&[2, 3, 4])).unwrap();
        let json = serde_json::to_vec(&image).unwrap();
        let back: MetadataImage = serde_json::from_slice(&json).unwrap();
        assert_eq!(full(&back), full(&image));
    }
}

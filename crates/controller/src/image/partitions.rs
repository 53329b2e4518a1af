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

        let state = self
            .topics
            .get_mut(name)
            .and_then(|t| {
                usize::try_from(partition)
                    .ok()
                    .and_then(|p| t.partitions.get_mut(p))
            })
            .ok_or(CommandError::UnknownPartition {
                topic_id,
                partition,
            })?;
        state.isr = isr.to_vec();
        state.leader = leader;
        state.leader_epoch = leader_epoch;
        state.partition_epoch = partition_epoch;
        Ok(CommandOutput::PartitionChanged {
            leader,
            leader_epoch,
            partition_epoch,
        })
    }
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
}

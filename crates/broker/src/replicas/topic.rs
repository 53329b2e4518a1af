//! [`Topic`]: one topic as this broker sees it, with the replicas of its partitions it hosts.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use super::partition::Partition;
use super::replication_throttle::TopicThrottles;
use crate::config::ProduceSettings;

/// The replicas of one topic's partitions that this broker hosts, by partition id.
#[derive(Clone, Default)]
pub struct Partitions {
    pub(super) slots: Vec<Option<Arc<Partition>>>,
}

impl Partitions {
    /// The hosted replica of partition `index`, if this broker hosts one.
    pub fn get(&self, index: usize) -> Option<&Arc<Partition>> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// The topic's partition count (hosted here or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The hosted replicas, in partition order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Partition>> {
        self.slots.iter().flatten()
    }
}

impl<'a> IntoIterator for &'a Partitions {
    type Item = &'a Arc<Partition>;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<Arc<Partition>>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.iter().flatten()
    }
}

pub struct Topic {
    pub name: Arc<str>,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    /// Parsed from `configs` (and the broker's defaults) whenever they change.
    pub produce: ProduceSettings,
    /// Its replicas on this broker that replication throttles hold (parsed from `configs`).
    pub throttles: TopicThrottles,
    pub partitions: Partitions,
}

impl Topic {
    /// Partition `index` if this broker leads it: UNKNOWN_TOPIC_OR_PARTITION when the topic has
    /// no such partition, KAFKA_STORAGE_ERROR when this broker's replica is offline (its log
    /// directory failed), NOT_LEADER_OR_FOLLOWER when another broker leads it (or none does).
    pub fn leader(&self, index: i32) -> Result<&Arc<Partition>, ErrorCode> {
        let i = usize::try_from(index).map_err(|_| ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
        if i >= self.partitions.len() {
            return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        }
        match self.partitions.get(i) {
            Some(p) if p.is_offline() => Err(ErrorCode::KAFKA_STORAGE_ERROR),
            Some(p) if p.is_leader() => Ok(p),
            _ => Err(ErrorCode::NOT_LEADER_OR_FOLLOWER),
        }
    }

    /// [`Topic::leader`] for a client request that names the leader epoch it expects
    /// (`current_leader_epoch`, -1 for none): on a replica this broker hosts the epoch is
    /// checked first, as Kafka does, so a client with a stale epoch gets FENCED_LEADER_EPOCH
    /// (and one ahead of this broker UNKNOWN_LEADER_EPOCH) even from a follower.
    pub fn leader_at_epoch(
        &self,
        index: i32,
        current_leader_epoch: i32,
    ) -> Result<&Arc<Partition>, ErrorCode> {
        if current_leader_epoch >= 0 {
            let hosted = usize::try_from(index)
                .ok()
                .and_then(|i| self.partitions.get(i));
            if let Some(p) = hosted {
                let epoch = p.leader_epoch();
                if current_leader_epoch < epoch {
                    return Err(ErrorCode::FENCED_LEADER_EPOCH);
                }
                if current_leader_epoch > epoch {
                    return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
                }
            }
        }
        self.leader(index)
    }
}

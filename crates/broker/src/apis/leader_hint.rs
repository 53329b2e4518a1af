//! Current-leader hints (KIP-951): a partition that Produce (v10+) or Fetch (v16+) refuses
//! with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH names its current leader and leader
//! epoch (the tagged `CurrentLeader`), and the response lists the endpoint of every leader so
//! named (the tagged `NodeEndpoints`), so that a client moves to the new leader without first
//! refreshing its metadata.
//!
//! Leaders and endpoints come from one metadata image, the newest this broker has (its
//! replicas follow that image, so it is never behind them). As in Kafka, only brokers that
//! are registered and not fenced get an endpoint. A partition with no leader, or one the image
//! does not know, is hinted as leader -1, epoch -1: the fields' defaults, so the tagged field
//! is left out of the response and clients keep using their metadata.
//!
//! The handlers map [`CurrentLeader`] and the endpoints to their own message types: Produce
//! and Fetch each have their own `LeaderIdAndEpoch` and `NodeEndpoint` structs.

use std::collections::BTreeSet;
use std::sync::Arc;

use sluice_controller::{BrokerRegistration, MetadataImage};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

/// Whether a partition refused with `error_code` carries a current-leader hint.
pub fn wants_hint(error_code: i16) -> bool {
    let code = ErrorCode(error_code);
    code == ErrorCode::NOT_LEADER_OR_FOLLOWER || code == ErrorCode::FENCED_LEADER_EPOCH
}

/// How a request names a topic: by name, or (Produce and Fetch v13+) by topic id.
#[derive(Clone, Copy, Debug)]
pub enum TopicRef<'a> {
    Name(&'a str),
    Id(&'a Uuid),
}

/// A partition's leader as the image has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CurrentLeader {
    /// -1: no leader (or an unknown partition).
    pub leader_id: i32,
    /// -1 whenever `leader_id` is -1.
    pub leader_epoch: i32,
}

impl CurrentLeader {
    pub const NONE: CurrentLeader = CurrentLeader {
        leader_id: -1,
        leader_epoch: -1,
    };
}

/// The hints of one response: every lookup uses the same image, and the leaders named are
/// remembered for the response's endpoint list.
pub struct LeaderHints {
    image: Arc<MetadataImage>,
    /// Ids of the leaders named so far; ordered, so the endpoint list is deterministic.
    named: BTreeSet<i32>,
}

impl LeaderHints {
    pub fn new(image: Arc<MetadataImage>) -> LeaderHints {
        LeaderHints {
            image,
            named: BTreeSet::new(),
        }
    }

    /// The current leader of `topic`-`partition`, remembered for [`LeaderHints::endpoints`].
    pub fn leader(&mut self, topic: TopicRef<'_>, partition: i32) -> CurrentLeader {
        let topic = match topic {
            TopicRef::Name(name) => self.image.topic(name),
            TopicRef::Id(id) => self.image.topic_by_id(id),
        };
        let Some(state) = topic.and_then(|t| t.partition(partition)) else {
            return CurrentLeader::NONE;
        };
        let Some(leader_id) = state.leader else {
            return CurrentLeader::NONE;
        };
        self.named.insert(leader_id);
        CurrentLeader {
            leader_id,
            leader_epoch: state.leader_epoch,
        }
    }

    /// The registrations of the leaders named so far that clients can reach: registered and
    /// not fenced. Each broker once, by id.
    pub fn endpoints(&self) -> impl Iterator<Item = &BrokerRegistration> {
        self.named
            .iter()
            .filter_map(|id| self.image.broker(*id))
            .filter(|b| !b.fenced)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sluice_controller::MetadataCommand;

    use super::*;
    use crate::test_support::ImageBuilder;

    /// Brokers 1-3 registered and unfenced, broker 3 in a rack; topic `t` (id 42) with
    /// partitions: 0 led by 1; 1 moved from 3 to 1 (epoch 1); 2 led by 2, which is then
    /// fenced; 3 without a leader (epoch 1); 4 led by 3.
    fn image() -> MetadataImage {
        let mut b = ImageBuilder::default();
        b.live_broker(1, None)
            .live_broker(2, None)
            .live_broker(3, Some("rack-c"));
        let topic_id = Uuid::from_u128(42);
        b.apply(MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id,
            assignments: vec![vec![1, 2], vec![3, 1], vec![2, 3], vec![1, 3], vec![3, 2]],
            configs: BTreeMap::new(),
        });
        let change =
            |partition: i32, leader: Option<i32>, isr: Vec<i32>| MetadataCommand::ChangePartition {
                topic_id,
                partition,
                expected_leader_epoch: 0,
                expected_partition_epoch: 0,
                leader,
                isr,
            };
        b.apply(change(1, Some(1), vec![1, 3]));
        b.apply(change(3, None, vec![1]));
        let broker_epoch = b.broker_epochs[&2];
        b.apply(MetadataCommand::FenceBroker {
            broker_id: 2,
            broker_epoch,
        });
        b.image
    }

    fn hints() -> LeaderHints {
        LeaderHints::new(Arc::new(image()))
    }

    fn leader(leader_id: i32, leader_epoch: i32) -> CurrentLeader {
        CurrentLeader {
            leader_id,
            leader_epoch,
        }
    }

    fn endpoint_ids(hints: &LeaderHints) -> Vec<i32> {
        hints.endpoints().map(|b| b.broker_id).collect()
    }

    #[test]
    fn only_not_leader_and_fenced_epoch_errors_are_hinted() {
        assert!(wants_hint(ErrorCode::NOT_LEADER_OR_FOLLOWER.0));
        assert!(wants_hint(ErrorCode::FENCED_LEADER_EPOCH.0));
        assert!(!wants_hint(ErrorCode::NONE.0));
        assert!(!wants_hint(ErrorCode::UNKNOWN_LEADER_EPOCH.0));
        assert!(!wants_hint(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0));
    }

    #[test]
    fn hints_name_the_leader_and_its_epoch_and_list_each_leader_once() {
        let mut hints = hints();
        assert!(endpoint_ids(&hints).is_empty(), "nothing named yet");
        assert_eq!(hints.leader(TopicRef::Name("t"), 0), leader(1, 0));
        let id = Uuid::from_u128(42);
        assert_eq!(hints.leader(TopicRef::Id(&id), 1), leader(1, 1));
        assert_eq!(endpoint_ids(&hints), vec![1]);
        assert_eq!(hints.leader(TopicRef::Name("t"), 4), leader(3, 0));
        let listed: Vec<_> = hints
            .endpoints()
            .map(|b| (b.broker_id, b.host.as_str(), b.port, b.rack.as_deref()))
            .collect();
        assert_eq!(
            listed,
            vec![
                (1, "host-1", 9091, None),
                (3, "host-3", 9093, Some("rack-c"))
            ]
        );
    }

    #[test]
    fn no_leader_and_unknown_partitions_are_hinted_as_none_without_endpoints() {
        let mut hints = hints();
        let id = Uuid::from_u128(42);
        assert_eq!(hints.leader(TopicRef::Id(&id), 3), CurrentLeader::NONE);
        assert_eq!(hints.leader(TopicRef::Name("t"), 5), CurrentLeader::NONE);
        assert_eq!(hints.leader(TopicRef::Name("t"), -1), CurrentLeader::NONE);
        assert_eq!(hints.leader(TopicRef::Name("u"), 0), CurrentLeader::NONE);
        let unknown = Uuid::from_u128(7);
        assert_eq!(hints.leader(TopicRef::Id(&unknown), 0), CurrentLeader::NONE);
        assert!(endpoint_ids(&hints).is_empty());
    }

    #[test]
    fn a_fenced_leader_is_named_without_an_endpoint() {
        let mut hints = hints();
        assert_eq!(hints.leader(TopicRef::Name("t"), 2), leader(2, 0));
        assert!(endpoint_ids(&hints).is_empty());
    }
}

//! Groups of the KIP-848 consumer protocol: the broker assigns partitions and each member
//! reconciles towards its target through ConsumerGroupHeartbeat.

use crate::coordinator::{GroupConfig, Output};
use crate::records::{ConsumerGroupValue, ConsumerMemberValue};
use sluice_protocol::error::ErrorCode;

#[derive(Debug)]
#[allow(dead_code)] // read by the KIP-848 heartbeat path
pub(crate) struct ConsumerGroup {
    pub(crate) id: String,
    pub(crate) group_epoch: i32,
    pub(crate) assignment_epoch: i32,
    pub(crate) members: Vec<ConsumerMemberValue>,
    pub(crate) empty_since: i64,
}

impl ConsumerGroup {
    pub(crate) fn load(id: &str, v: ConsumerGroupValue, now: i64, _config: &GroupConfig) -> Self {
        ConsumerGroup {
            id: id.to_string(),
            group_epoch: v.group_epoch,
            assignment_epoch: v.assignment_epoch,
            members: v.members,
            empty_since: now,
        }
    }

    pub(crate) fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else {
            "Stable"
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub(crate) fn empty_since(&self) -> i64 {
        self.empty_since
    }

    pub(crate) fn subscribed_topics(&self) -> Vec<String> {
        self.members
            .iter()
            .flat_map(|m| m.subscribed_topics.iter().cloned())
            .collect()
    }

    pub(crate) fn check_commit(&self, member_id: &str, epoch: i32) -> Option<ErrorCode> {
        if member_id.is_empty() && epoch < 0 {
            return (!self.members.is_empty()).then_some(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        match self.members.iter().find(|m| m.member_id == member_id) {
            None => Some(ErrorCode::UNKNOWN_MEMBER_ID),
            Some(m) if m.member_epoch != epoch => Some(ErrorCode::STALE_MEMBER_EPOCH),
            Some(_) => None,
        }
    }

    pub(crate) fn check_fetch(&self, member_id: &str, epoch: i32) -> Option<ErrorCode> {
        if epoch < 0 {
            return None;
        }
        self.check_commit(member_id, epoch)
    }

    pub(crate) fn tick(&mut self, _now: i64, _partition: i32, _out: &mut Output) {}
}

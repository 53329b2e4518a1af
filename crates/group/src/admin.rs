//! DescribeGroups, ListGroups and DeleteGroups. Describe and list read committed state.

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::GroupId;
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;

use crate::classic_group::ClassicState;
use crate::coordinator::{Group, GroupCoordinator};
use crate::output::{Output, Reply, Token};
use crate::records::RecordKey;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl GroupCoordinator {
    /// DescribeGroups for one group, from committed state.
    pub fn describe_group(&self, group_id: &str) -> DescribedGroup {
        let described = DescribedGroup::default()
            .with_group_id(GroupId(sb(group_id)))
            .with_authorized_operations(i32::MIN);
        if let Some(code) = self
            .coordinator_error(group_id)
            .filter(|_| !group_id.is_empty())
        {
            // Kafka's DescribeGroupsResponse.groupError: empty state, type and protocol.
            return described.with_error_code(code.0);
        }
        match self.groups.get_committed(group_id) {
            None => described
                .with_group_state(sb("Dead"))
                .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.0),
            Some(Group::Consumer(g)) => described
                .with_group_state(sb(g.state_name()))
                .with_protocol_type(sb("consumer"))
                .with_error_code(ErrorCode::NONE.0),
            Some(Group::Classic(g)) => {
                let protocol = g.protocol.clone().unwrap_or_default();
                let show_members = matches!(
                    g.state,
                    ClassicState::Stable | ClassicState::CompletingRebalance
                ) || g.state == ClassicState::PreparingRebalance;
                described
                    .with_group_state(sb(g.state.name()))
                    .with_protocol_type(sb(g.protocol_type.as_deref().unwrap_or("")))
                    .with_protocol_data(sb(&protocol))
                    .with_members(if show_members {
                        g.members
                            .iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(sb(&m.id))
                                    .with_group_instance_id(m.instance_id.as_deref().map(sb))
                                    .with_client_id(sb(&m.client_id))
                                    .with_client_host(sb(&m.client_host))
                                    .with_member_metadata(m.metadata_for(&protocol))
                                    .with_member_assignment(if g.state == ClassicState::Stable {
                                        m.assignment.clone()
                                    } else {
                                        Bytes::new()
                                    })
                            })
                            .collect()
                    } else {
                        Vec::new()
                    })
            }
        }
    }

    /// ListGroups with Kafka's filters (case-insensitive states, types "classic"/"consumer"):
    /// the committed groups of Owned partitions. While [`GroupCoordinator::is_loading`], Kafka
    /// answers COORDINATOR_LOAD_IN_PROGRESS.
    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let mut out = Vec::new();
        for (id, group) in self.groups.iter_committed() {
            if !self.owns(self.partition_for(id)) {
                continue;
            }
            let (state, protocol_type, group_type) = match group {
                Group::Classic(g) => (
                    g.state.name(),
                    g.protocol_type.clone().unwrap_or_default(),
                    "classic",
                ),
                Group::Consumer(g) => (g.state_name(), "consumer".to_string(), "consumer"),
            };
            if !states.is_empty() && !states.iter().any(|s| s.eq_ignore_ascii_case(state)) {
                continue;
            }
            if !types.is_empty() && !types.iter().any(|t| t.eq_ignore_ascii_case(group_type)) {
                continue;
            }
            out.push(
                ListedGroup::default()
                    .with_group_id(GroupId(sb(id)))
                    .with_protocol_type(sb(&protocol_type))
                    .with_group_state(sb(state))
                    .with_group_type(sb(group_type)),
            );
        }
        out
    }

    /// DeleteGroups: each group must have no members.
    pub fn delete_groups(&mut self, token: Token, groups: Vec<String>, out: &mut Output) {
        let mut results = Vec::with_capacity(groups.len());
        for group_id in groups {
            let code = self.delete_group(&group_id, out);
            results.push((group_id, code));
        }
        out.reply(token, Reply::Delete(results));
    }

    fn delete_group(&mut self, group_id: &str, out: &mut Output) -> ErrorCode {
        if group_id.is_empty() {
            return ErrorCode::INVALID_GROUP_ID;
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return code;
        }
        let empty = match self.groups.get(group_id) {
            None => {
                if !self.has_offsets(group_id) {
                    return ErrorCode::GROUP_ID_NOT_FOUND;
                }
                true
            }
            Some(Group::Classic(g)) => g.state == ClassicState::Empty,
            Some(Group::Consumer(g)) => g.is_empty(),
        };
        if !empty {
            return ErrorCode::NON_EMPTY_GROUP;
        }
        self.remove_group_and_offsets(group_id, out);
        ErrorCode::NONE
    }

    pub(crate) fn remove_group_and_offsets(&mut self, group_id: &str, out: &mut Output) {
        let partition = self.partition_for(group_id);
        let keys: Vec<_> = self.offsets_of(group_id).map(|(k, _)| k.clone()).collect();
        for key in keys {
            self.offsets.remove(&key);
            let (group, topic, p) = key;
            out.write(
                partition,
                &RecordKey::Offset {
                    group,
                    topic,
                    partition: p,
                },
                None,
            );
        }
        match self.groups.remove(group_id) {
            Some(Group::Classic(_)) => out.write(
                partition,
                &RecordKey::Group {
                    group: group_id.to_string(),
                },
                None,
            ),
            Some(Group::Consumer(_)) => out.write(
                partition,
                &RecordKey::ConsumerGroup {
                    group: group_id.to_string(),
                },
                None,
            ),
            None => {}
        }
    }
}

//! The group requests of the `group` commands, through the CLI's Kafka client: describing
//! groups (ListGroups, DescribeGroups), reading committed offsets (OffsetFetch), partition
//! offsets (ListOffsets), committing offsets (OffsetCommit) and deleting groups (DeleteGroups);
//! KIP-848 consumer groups' members (ConsumerGroupDescribe). The CLI owns its cluster client;
//! the JSON admin API lends its caller's (`GroupClient<&mut ClusterClient>`). Errors stay
//! [`RequestError`]s, so the API can answer with the Kafka error code.
//!
//! The client never joins a group: a member would have to take part in rebalances, and a group
//! with members does not accept offsets from outside its current generation. Commits go as the
//! "simple" commit Kafka accepts from outside a group only while it has no members: generation
//! -1 and an empty member id, which is what reset-offsets relies on.
//!
//! Group requests go to the group's coordinator (FindCoordinator); NOT_COORDINATOR,
//! COORDINATOR_LOAD_IN_PROGRESS and COORDINATOR_NOT_AVAILABLE are retried (finding the
//! coordinator again) until the command's deadline.

use std::borrow::BorrowMut;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use anyhow::Result;
use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup as ConsumerDescribedGroup;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DeleteGroupsRequest, DescribeGroupsRequest,
    DescribeGroupsResponse, GroupId, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest,
    TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::group::assignment::Assignment;
use crate::group::describe::{GroupDescription, InstanceId, Member, MemberAssignment};
use crate::wire::list_offsets::{self, FoundOffset};
use crate::wire::metadata::ClusterMetadata;
use crate::wire::{ClusterClient, CoordinatorType, RequestError, Retry};

/// How long one group command may take before it gives up.
pub const GROUP_TIMEOUT: Duration = Duration::from_secs(15);

/// DescribeGroups v4 adds members' `group.instance.id`; v5 is flexible.
const DESCRIBE_GROUPS_VERSIONS: RangeInclusive<i16> = 0..=5;
const LIST_GROUPS_VERSIONS: RangeInclusive<i16> = 0..=5;
/// v1-v7 ask one group by topics; v8+ batch groups, which this client does not need.
const OFFSET_FETCH_VERSIONS: RangeInclusive<i16> = 1..=7;
/// v2 is the oldest Kafka 4 accepts; v9 is the KIP-848 form.
const OFFSET_COMMIT_VERSIONS: RangeInclusive<i16> = 2..=8;
/// OffsetFetch with no topics named (every committed offset) needs v2.
const OFFSET_FETCH_ALL_VERSIONS: RangeInclusive<i16> = 2..=7;
/// OffsetFetch batching groups: v8 and v9 (v10 names topics by id).
const OFFSET_FETCH_BATCH_VERSIONS: RangeInclusive<i16> = 8..=9;
const CONSUMER_GROUP_DESCRIBE_VERSIONS: RangeInclusive<i16> = 0..=1;
const DELETE_GROUPS_VERSIONS: RangeInclusive<i16> = 0..=2;

const GROUP_ID_NOT_FOUND: i16 = 69;

/// A committed offset and the metadata committed with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    pub metadata: String,
}

/// A (topic, partition) pair; the maps below are keyed by it so output comes out sorted.
pub type TopicPartition = (String, i32);

/// The group requests over a cluster client: owned by the CLI, borrowed by the admin API
/// (`GroupClient<&mut ClusterClient>`).
pub struct GroupClient<C = ClusterClient> {
    client: C,
    deadline: Instant,
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

impl GroupClient<ClusterClient> {
    pub fn connect(connect: &ConnectArgs) -> Result<Self> {
        let settings = ClientSettings::from_args(connect, Role::Admin)?;
        for warning in &settings.ignored {
            eprintln!("warning: {warning}");
        }
        Ok(GroupClient {
            client: ClusterClient::new(&settings),
            deadline: Instant::now() + GROUP_TIMEOUT,
        })
    }
}

impl<C: BorrowMut<ClusterClient>> GroupClient<C> {
    /// Group requests over `client`, each retried until `deadline`.
    pub fn over(client: C, deadline: Instant) -> Self {
        GroupClient { client, deadline }
    }

    /// Metadata for one topic or for all; never auto-creates.
    pub async fn metadata(&mut self, topic: Option<&str>) -> Result<ClusterMetadata, RequestError> {
        let names = topic.map(|t| vec![t.to_string()]);
        let retry = Retry::until(self.deadline);
        loop {
            match self
                .client
                .borrow_mut()
                .metadata(names.as_deref(), false, self.deadline)
                .await
            {
                Err(e) if retry.again(&e).await => continue,
                outcome => return outcome.map_err(|e| e.context("fetching metadata")),
            }
        }
    }

    /// Every group the brokers list with its state and protocol type, sorted by name; groups
    /// being deleted (Dead) are left out.
    pub async fn list(&mut self) -> Result<Vec<GroupDescription>, RequestError> {
        Ok(self
            .list_with_coordinators()
            .await?
            .into_iter()
            .map(|(group, _)| group)
            .collect())
    }

    /// As [`GroupClient::list`], each group with the broker that listed it: its coordinator.
    pub async fn list_with_coordinators(
        &mut self,
    ) -> Result<Vec<(GroupDescription, i32)>, RequestError> {
        let metadata = self
            .client
            .borrow_mut()
            .metadata(Some(&[]), false, self.deadline)
            .await
            .map_err(|e| e.context("listing groups"))?;
        let mut groups: BTreeMap<String, (GroupDescription, i32)> = BTreeMap::new();
        for broker in &metadata.brokers {
            let (response, version) = self
                .client
                .borrow_mut()
                .send_to_broker::<ListGroupsRequest>(
                    broker.node_id,
                    LIST_GROUPS_VERSIONS,
                    |_| ListGroupsRequest::default(),
                    self.deadline,
                )
                .await
                .map_err(|e| e.context(&format!("listing groups of broker {}", broker.node_id)))?;
            if response.error_code != 0 {
                return Err(RequestError::broker(
                    response.error_code,
                    &format!("broker {}", broker.node_id),
                    None,
                )
                .context("listing groups"));
            }
            let listed: Vec<(String, String, String)> = response
                .groups
                .into_iter()
                .map(|g| {
                    (
                        g.group_id.0.to_string(),
                        g.protocol_type.to_string(),
                        g.group_state.to_string(),
                    )
                })
                .collect();
            if version >= 4 {
                for (name, protocol_type, state) in listed {
                    groups.insert(
                        name.clone(),
                        (
                            GroupDescription {
                                name,
                                state,
                                protocol_type,
                                protocol: String::new(),
                                members: Vec::new(),
                            },
                            broker.node_id,
                        ),
                    );
                }
            } else if !listed.is_empty() {
                // The broker that lists a group coordinates it: ask it for the states.
                let names: Vec<String> = listed.into_iter().map(|(name, _, _)| name).collect();
                for group in self.describe_at(broker.node_id, &names).await? {
                    groups.insert(group.name.clone(), (group, broker.node_id));
                }
            }
        }
        Ok(groups
            .into_values()
            .filter(|(g, _)| g.state != "Dead")
            .collect())
    }

    /// DescribeGroups of `groups` at `coordinator`, in one request, without retries; groups
    /// it answers with an error (it does not coordinate them, they are gone) are left out.
    pub async fn describe_at(
        &mut self,
        coordinator: i32,
        groups: &[String],
    ) -> Result<Vec<GroupDescription>, RequestError> {
        let (response, version) = self
            .client
            .borrow_mut()
            .send_to_broker::<DescribeGroupsRequest>(
                coordinator,
                DESCRIBE_GROUPS_VERSIONS,
                |_| describe_request(groups),
                self.deadline,
            )
            .await
            .map_err(|e| e.context("describing groups"))?;
        Ok(descriptions(response, version))
    }

    /// Every committed offset of each of `groups` at `coordinator`, in one OffsetFetch (v8+
    /// batches groups), without retries. A group the broker answers with an error is left out
    /// (ask it alone with [`GroupClient::all_committed_offsets`]), as are partitions with one.
    pub async fn all_committed_offsets_at(
        &mut self,
        coordinator: i32,
        groups: &[String],
    ) -> Result<BTreeMap<String, BTreeMap<TopicPartition, CommittedOffset>>, RequestError> {
        let (response, _) = self
            .client
            .borrow_mut()
            .send_to_broker::<OffsetFetchRequest>(
                coordinator,
                OFFSET_FETCH_BATCH_VERSIONS,
                |_| {
                    OffsetFetchRequest::default().with_groups(
                        groups
                            .iter()
                            .map(|g| {
                                OffsetFetchRequestGroup::default()
                                    .with_group_id(GroupId(s(g)))
                                    .with_member_epoch(-1)
                                    .with_topics(None)
                            })
                            .collect(),
                    )
                },
                self.deadline,
            )
            .await
            .map_err(|e| e.context("reading committed offsets"))?;
        let mut out = BTreeMap::new();
        for group in response.groups.into_iter().filter(|g| g.error_code == 0) {
            let mut committed = BTreeMap::new();
            for topic in group.topics {
                for p in topic.partitions {
                    if p.error_code == 0 && p.committed_offset >= 0 {
                        committed.insert(
                            (topic.name.0.to_string(), p.partition_index),
                            CommittedOffset {
                                offset: p.committed_offset,
                                metadata: p.metadata.as_deref().unwrap_or_default().to_string(),
                            },
                        );
                    }
                }
            }
            out.insert(group.group_id.0.to_string(), committed);
        }
        Ok(out)
    }

    /// The group as its coordinator describes it; None when it does not exist or is Dead
    /// (being deleted).
    pub async fn describe(
        &mut self,
        group: &str,
    ) -> Result<Option<GroupDescription>, RequestError> {
        let names = [group.to_string()];
        let described = self
            .at_coordinator::<DescribeGroupsRequest, _>(
                group,
                DESCRIBE_GROUPS_VERSIONS,
                |_| describe_request(&names),
                |response, version| {
                    let error = response
                        .groups
                        .iter()
                        .find(|g| g.group_id.as_str() == group)
                        .map(|g| (g.error_code, g.error_message.clone()));
                    match error {
                        Some((code, message)) if code != 0 && code != GROUP_ID_NOT_FOUND => Err(
                            RequestError::broker(code, "DescribeGroups", message.as_deref()),
                        ),
                        _ => Ok(descriptions(response, version)),
                    }
                },
            )
            .await
            .map_err(|e| e.context(&format!("describing group '{group}'")))?;
        Ok(described
            .into_iter()
            .find(|g| g.name == group && g.state != "Dead"))
    }

    /// Sends the request `build` makes to the group's coordinator and reads the answer with
    /// `read`; a retriable error of either (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, ...)
    /// finds the coordinator again and asks again, until the deadline.
    pub async fn at_coordinator<R: Request, T>(
        &mut self,
        group: &str,
        versions: RangeInclusive<i16>,
        build: impl Fn(i16) -> R,
        read: impl Fn(R::Response, i16) -> Result<T, RequestError>,
    ) -> Result<T, RequestError> {
        let retry = Retry::until(self.deadline);
        loop {
            let outcome = async {
                let coordinator = self.coordinator(group).await?;
                let (response, version) = self
                    .client
                    .borrow_mut()
                    .send_to_broker::<R>(coordinator, versions.clone(), &build, self.deadline)
                    .await?;
                read(response, version)
            }
            .await;
            match outcome {
                Err(e) if retry.again(&e).await => continue,
                outcome => return outcome,
            }
        }
    }

    /// The broker id of the group's coordinator.
    pub async fn coordinator(&mut self, group: &str) -> Result<i32, RequestError> {
        self.client
            .borrow_mut()
            .find_coordinator(group, CoordinatorType::Group, self.deadline)
            .await
    }

    /// The group's committed offsets among `partitions`; partitions without one are left out.
    /// Per-partition errors are returned beside the offsets so the caller can warn about them.
    pub async fn committed_offsets(
        &mut self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<(BTreeMap<TopicPartition, i64>, Vec<String>), RequestError> {
        if partitions.is_empty() {
            return Ok((BTreeMap::new(), Vec::new()));
        }
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, partition) in partitions {
            by_topic.entry(topic).or_default().push(*partition);
        }
        let topics: Vec<OffsetFetchRequestTopic> = by_topic
            .iter()
            .map(|(topic, partitions)| {
                OffsetFetchRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partition_indexes(partitions.clone())
            })
            .collect();
        let (committed, problems) = self
            .offset_fetch(group, Some(topics), OFFSET_FETCH_VERSIONS)
            .await?;
        let committed = committed
            .into_iter()
            .map(|(key, c)| (key, c.offset))
            .collect();
        Ok((committed, problems))
    }

    /// Every offset the group has committed (OffsetFetch v2+ with no topics named), with
    /// per-partition errors beside them.
    pub async fn all_committed_offsets(
        &mut self,
        group: &str,
    ) -> Result<(BTreeMap<TopicPartition, CommittedOffset>, Vec<String>), RequestError> {
        self.offset_fetch(group, None, OFFSET_FETCH_ALL_VERSIONS)
            .await
    }

    async fn offset_fetch(
        &mut self,
        group: &str,
        topics: Option<Vec<OffsetFetchRequestTopic>>,
        versions: RangeInclusive<i16>,
    ) -> Result<(BTreeMap<TopicPartition, CommittedOffset>, Vec<String>), RequestError> {
        let mut committed = BTreeMap::new();
        let mut problems = Vec::new();
        let response = self
            .at_coordinator::<OffsetFetchRequest, _>(
                group,
                versions,
                |_| {
                    OffsetFetchRequest::default()
                        .with_group_id(GroupId(s(group)))
                        .with_topics(topics.clone())
                },
                |response, _| {
                    if response.error_code != 0 {
                        return Err(RequestError::broker(
                            response.error_code,
                            "OffsetFetch",
                            None,
                        ));
                    }
                    Ok(response)
                },
            )
            .await
            .map_err(|e| e.context(&format!("reading committed offsets of group '{group}'")))?;
        for topic in response.topics {
            for p in topic.partitions {
                if p.error_code != 0 {
                    problems.push(format!(
                        "committed offset of '{}' partition {}: {}",
                        topic.name.as_str(),
                        p.partition_index,
                        crate::error_codes::code_text(p.error_code)
                    ));
                    continue;
                }
                if p.committed_offset >= 0 {
                    committed.insert(
                        (topic.name.0.to_string(), p.partition_index),
                        CommittedOffset {
                            offset: p.committed_offset,
                            metadata: p.metadata.as_deref().unwrap_or_default().to_string(),
                        },
                    );
                }
            }
        }
        Ok((committed, problems))
    }

    /// A KIP-848 consumer group as its coordinator describes it (ConsumerGroupDescribe);
    /// `None` when the group does not exist or is a classic group (Kafka answers
    /// GROUP_ID_NOT_FOUND for both).
    pub async fn consumer_group_describe(
        &mut self,
        group: &str,
    ) -> Result<Option<GroupDescription>, RequestError> {
        self.at_coordinator::<ConsumerGroupDescribeRequest, _>(
            group,
            CONSUMER_GROUP_DESCRIBE_VERSIONS,
            |_| {
                ConsumerGroupDescribeRequest::default()
                    .with_group_ids(vec![GroupId(s(group))])
                    .with_include_authorized_operations(false)
            },
            |response, _| {
                let Some(described) = response
                    .groups
                    .into_iter()
                    .find(|g| g.group_id.as_str() == group)
                else {
                    return Ok(None);
                };
                match described.error_code {
                    0 => Ok(Some(consumer_group_description(described))),
                    GROUP_ID_NOT_FOUND => Ok(None),
                    code => Err(RequestError::broker(
                        code,
                        "ConsumerGroupDescribe",
                        described.error_message.as_deref(),
                    )),
                }
            },
        )
        .await
        .map_err(|e| e.context(&format!("describing group '{group}'")))
    }

    /// ListOffsets for `partitions` of `topic` at `timestamp` (or EARLIEST/LATEST); LATEST is
    /// the high watermark, as kafka-consumer-groups reports log end offsets.
    pub async fn offsets(
        &mut self,
        topic: &str,
        partitions: &[i32],
        timestamp: i64,
    ) -> BTreeMap<i32, Result<FoundOffset, RequestError>> {
        let asked: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, timestamp)).collect();
        list_offsets::list_offsets(
            self.client.borrow_mut(),
            topic,
            &asked,
            list_offsets::READ_UNCOMMITTED,
            self.deadline,
        )
        .await
    }

    /// Commits `offsets` of `topic` for the group and waits for the coordinator's answer; a
    /// rejected partition fails the whole call.
    pub async fn commit(
        &mut self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<(), RequestError> {
        let request_topic = OffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(
                offsets
                    .iter()
                    .map(|&(partition, offset)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(partition)
                            .with_committed_offset(offset)
                            .with_committed_metadata(Some(StrBytes::default()))
                    })
                    .collect(),
            );
        self.at_coordinator::<OffsetCommitRequest, _>(
            group,
            OFFSET_COMMIT_VERSIONS,
            |_| {
                OffsetCommitRequest::default()
                    .with_group_id(GroupId(s(group)))
                    .with_generation_id_or_member_epoch(-1)
                    .with_member_id(StrBytes::default())
                    .with_topics(vec![request_topic.clone()])
            },
            |response, _| {
                for t in &response.topics {
                    for p in &t.partitions {
                        if p.error_code != 0 {
                            return Err(RequestError::broker(
                                p.error_code,
                                &format!("partition {}", p.partition_index),
                                None,
                            ));
                        }
                    }
                }
                Ok(())
            },
        )
        .await
        .map_err(|e| e.context(&format!("committing offsets for group '{group}'")))
    }

    /// Deletes one group at its coordinator; the broker's error code for it, 0 when deleted.
    pub async fn delete(&mut self, group: &str) -> Result<i16, RequestError> {
        self.at_coordinator::<DeleteGroupsRequest, _>(
            group,
            DELETE_GROUPS_VERSIONS,
            |_| DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(group))]),
            |response, _| {
                let code = response
                    .results
                    .iter()
                    .find(|r| r.group_id.as_str() == group)
                    .map_or(0, |r| r.error_code);
                if crate::error_codes::is_retriable(code) {
                    return Err(RequestError::broker(code, "DeleteGroups", None));
                }
                Ok(code)
            },
        )
        .await
    }
}

fn describe_request(groups: &[String]) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default()
        .with_groups(groups.iter().map(|g| GroupId(s(g))).collect())
        .with_include_authorized_operations(false)
}

/// The groups of a DescribeGroups answer; `group.instance.id` is known from v4 on.
fn descriptions(response: DescribeGroupsResponse, version: i16) -> Vec<GroupDescription> {
    response
        .groups
        .into_iter()
        .filter(|g| g.error_code == 0)
        .map(|g| {
            let protocol_type = g.protocol_type.to_string();
            GroupDescription {
                name: g.group_id.0.to_string(),
                state: g.group_state.to_string(),
                protocol: g.protocol_data.to_string(),
                members: g
                    .members
                    .into_iter()
                    .map(|m| Member {
                        member_id: m.member_id.to_string(),
                        group_instance_id: match (version >= 4, m.group_instance_id) {
                            (false, _) => InstanceId::Unknown,
                            (true, Some(id)) => InstanceId::Static(id.to_string()),
                            (true, None) => InstanceId::Dynamic,
                        },
                        client_id: m.client_id.to_string(),
                        host: m.client_host.to_string(),
                        assignment: MemberAssignment::from_bytes(
                            &protocol_type,
                            Some(&m.member_assignment[..]),
                        ),
                    })
                    .collect(),
                protocol_type,
            }
        })
        .collect()
}

/// A ConsumerGroupDescribe answer as a group description: protocol type `consumer`, the
/// server-side assignor as the protocol, each member's current assignment.
fn consumer_group_description(g: ConsumerDescribedGroup) -> GroupDescription {
    GroupDescription {
        name: g.group_id.0.to_string(),
        state: g.group_state.to_string(),
        protocol_type: "consumer".to_string(),
        protocol: g.assignor_name.to_string(),
        members: g
            .members
            .into_iter()
            .map(|m| {
                let topics: Vec<(String, Vec<i32>)> = m
                    .assignment
                    .topic_partitions
                    .into_iter()
                    .map(|t| (t.topic_name.0.to_string(), t.partitions))
                    .collect();
                Member {
                    member_id: m.member_id.to_string(),
                    group_instance_id: match m.instance_id {
                        Some(id) => InstanceId::Static(id.to_string()),
                        None => InstanceId::Dynamic,
                    },
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    assignment: if topics.is_empty() {
                        MemberAssignment::None
                    } else {
                        MemberAssignment::Consumer(Assignment { topics })
                    },
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup, DescribedGroupMember,
    };

    fn member(id: &str, instance: Option<&str>) -> DescribedGroupMember {
        DescribedGroupMember::default()
            .with_member_id(s(id))
            .with_group_instance_id(instance.map(s))
            .with_client_id(s("app"))
            .with_client_host(s("/127.0.0.1"))
    }

    #[test]
    fn instance_ids_are_known_from_v4() {
        let response = DescribeGroupsResponse::default().with_groups(vec![
            DescribedGroup::default()
                .with_group_id(GroupId(s("billing")))
                .with_group_state(s("Stable"))
                .with_protocol_type(s("consumer"))
                .with_protocol_data(s("range"))
                .with_members(vec![member("m-1", Some("host-a")), member("m-2", None)]),
            DescribedGroup::default()
                .with_error_code(16)
                .with_group_id(GroupId(s("elsewhere"))),
        ]);
        let v4 = descriptions(response.clone(), 4);
        assert_eq!(v4.len(), 1);
        assert_eq!(v4[0].state, "Stable");
        assert_eq!(v4[0].protocol, "range");
        assert_eq!(
            v4[0].members[0].group_instance_id,
            InstanceId::Static("host-a".into())
        );
        assert_eq!(v4[0].members[1].group_instance_id, InstanceId::Dynamic);
        assert_eq!(v4[0].members[1].assignment, MemberAssignment::None);
        let v3 = descriptions(response, 3);
        assert_eq!(v3[0].members[0].group_instance_id, InstanceId::Unknown);
    }
}

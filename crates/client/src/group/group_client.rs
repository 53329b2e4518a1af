//! A librdkafka consumer bound to one group id that never joins it: through it the commands
//! describe the group (ListGroups + DescribeGroups), read its committed offsets (OffsetFetch),
//! read partition offsets (ListOffsets) and commit new offsets (OffsetCommit).
//!
//! Not subscribing matters: a consumer that joined would be a member, and a group with members
//! does not accept offsets from outside its current generation. librdkafka commits from a
//! consumer that never joined with generation -1 and an empty member id, the "simple" commit
//! Kafka accepts only while the group has no members, which is what reset-offsets relies on.
//!
//! All calls block; the commands run them on tokio's blocking pool.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use rdkafka::client::Client;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::metadata::Metadata;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::connection::{describe_error, fetch_metadata, ConnectArgs};
use crate::group::describe::{GroupDescription, InstanceId, Member, MemberAssignment};

/// How long one group or offset request may take before the command gives up.
pub const GROUP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct GroupClient {
    consumer: BaseConsumer,
    group: String,
    bootstrap: String,
}

/// A (topic, partition) pair; the maps below are keyed by it so output comes out sorted.
pub type TopicPartition = (String, i32);

impl GroupClient {
    pub fn connect(connect: &ConnectArgs, group: &str) -> Result<Self> {
        let consumer = connect
            .client_config(&[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                // Log end offsets as kafka-consumer-groups reports them: the high watermark,
                // not the last stable offset librdkafka's default read_committed would give.
                ("isolation.level", "read_uncommitted"),
            ])
            .create()
            .map_err(|e| anyhow!("creating consumer: {}", describe_error(&e)))?;
        Ok(GroupClient {
            consumer,
            group: group.to_string(),
            bootstrap: connect.bootstrap_server.clone(),
        })
    }

    /// The group as its coordinator describes it; None when no broker lists it (it does not
    /// exist) or it is Dead (being deleted).
    pub fn describe(&self) -> Result<Option<GroupDescription>> {
        let found = describe_groups(self.consumer.client(), Some(&self.group), &self.bootstrap)?;
        Ok(found.into_iter().find(|g| g.name == self.group))
    }

    /// Metadata for one topic or for all.
    pub fn metadata(&self, topic: Option<&str>) -> Result<Metadata> {
        fetch_metadata(self.consumer.client(), topic, &self.bootstrap)
    }

    /// The group's committed offsets among `partitions`; partitions without one are left out.
    /// Per-partition errors are returned beside the offsets so the caller can warn about them.
    pub fn committed_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<(BTreeMap<TopicPartition, i64>, Vec<String>)> {
        let mut committed = BTreeMap::new();
        let mut problems = Vec::new();
        if partitions.is_empty() {
            return Ok((committed, problems));
        }
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            list.add_partition(topic, *partition);
        }
        let answered = self
            .consumer
            .committed_offsets(list, GROUP_TIMEOUT)
            .map_err(|e| {
                anyhow!(
                    "reading committed offsets of group '{}': {}",
                    self.group,
                    describe_error(&e)
                )
            })?;
        for element in answered.elements() {
            if let Err(e) = element.error() {
                problems.push(format!(
                    "committed offset of '{}' partition {}: {}",
                    element.topic(),
                    element.partition(),
                    describe_error(&e)
                ));
                continue;
            }
            if let Offset::Offset(offset) = element.offset() {
                if offset >= 0 {
                    committed.insert((element.topic().to_string(), element.partition()), offset);
                }
            }
        }
        Ok((committed, problems))
    }

    /// (log start offset, high watermark) of one partition.
    pub fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64)> {
        self.consumer
            .fetch_watermarks(topic, partition, GROUP_TIMEOUT)
            .map_err(|e| {
                anyhow!(
                    "reading offsets of '{topic}' partition {partition}: {}",
                    describe_error(&e)
                )
            })
    }

    /// The high watermark of each partition, in one ListOffsets request per leader (asking
    /// `fetch_watermarks` partition by partition would cost two round trips each). A partition
    /// whose offset cannot be read maps to the reason.
    pub fn log_end_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Result<i64, String>>> {
        let mut found = BTreeMap::new();
        if partitions.is_empty() {
            return Ok(found);
        }
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for (topic, partition) in partitions {
            // A "timestamp" of -1 (Offset::End) asks ListOffsets for the latest offset.
            list.add_partition_offset(topic, *partition, Offset::End)
                .map_err(|e| anyhow!("building the offset query: {}", describe_error(&e)))?;
        }
        let answered = self
            .consumer
            .offsets_for_times(list, GROUP_TIMEOUT)
            .map_err(|e| anyhow!("reading log end offsets: {}", describe_error(&e)))?;
        for element in answered.elements() {
            let key = (element.topic().to_string(), element.partition());
            let offset = match (element.error(), element.offset()) {
                (Err(e), _) => Err(describe_error(&e)),
                (Ok(()), Offset::Offset(n)) if n >= 0 => Ok(n),
                (Ok(()), other) => Err(format!("no log end offset (got {other:?})")),
            };
            found.insert(
                key,
                offset.map_err(|why| {
                    format!(
                        "log end offset of '{}' partition {}: {why}",
                        element.topic(),
                        element.partition()
                    )
                }),
            );
        }
        Ok(found)
    }

    /// For each partition, the offset of the first record with a timestamp at or after
    /// `timestamp_ms`, or None when there is no such record.
    pub fn offsets_for_time(
        &self,
        topic: &str,
        partitions: &[i32],
        timestamp_ms: i64,
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let mut list = TopicPartitionList::with_capacity(partitions.len());
        for &partition in partitions {
            list.add_partition_offset(topic, partition, Offset::Offset(timestamp_ms))
                .map_err(|e| anyhow!("building the offset query: {}", describe_error(&e)))?;
        }
        let found = self
            .consumer
            .offsets_for_times(list, GROUP_TIMEOUT)
            .map_err(|e| anyhow!("looking up offsets by timestamp: {}", describe_error(&e)))?;
        let mut offsets = BTreeMap::new();
        for element in found.elements() {
            if let Err(e) = element.error() {
                bail!(
                    "looking up the offset by timestamp of '{topic}' partition {}: {}",
                    element.partition(),
                    describe_error(&e)
                );
            }
            let offset = match element.offset() {
                Offset::Offset(n) if n >= 0 => Some(n),
                _ => None,
            };
            offsets.insert(element.partition(), offset);
        }
        Ok(offsets)
    }

    /// Commits `offsets` of `topic` for the group and waits for the coordinator's answer; a
    /// rejected partition fails the whole call.
    pub fn commit(&self, topic: &str, offsets: &[(i32, i64)]) -> Result<()> {
        let mut list = TopicPartitionList::with_capacity(offsets.len());
        for &(partition, offset) in offsets {
            list.add_partition_offset(topic, partition, Offset::Offset(offset))
                .map_err(|e| anyhow!("building the commit: {}", describe_error(&e)))?;
        }
        self.consumer.commit(&list, CommitMode::Sync).map_err(|e| {
            anyhow!(
                "committing offsets for group '{}': {}",
                self.group,
                describe_error(&e)
            )
        })
    }
}

/// Every group the brokers list (or only `group`), described by its coordinator, sorted by name.
/// librdkafka sends ListGroups v0 to every broker, then DescribeGroups v0 for what they list;
/// v0 carries no `group.instance.id`, hence `InstanceId::Unknown` here.
pub fn describe_groups<C: ClientContext>(
    client: &Client<C>,
    group: Option<&str>,
    bootstrap: &str,
) -> Result<Vec<GroupDescription>> {
    let list = client.fetch_group_list(group, GROUP_TIMEOUT).map_err(|e| {
        let action = match group {
            Some(group) => format!("describing group '{group}'"),
            None => "listing groups".to_string(),
        };
        anyhow!("{action} at {bootstrap}: {}", describe_error(&e))
    })?;
    let mut groups: Vec<GroupDescription> = list
        .groups()
        .iter()
        // DescribeGroups reports a group that is gone, or that is being deleted, as Dead.
        .filter(|info| info.state() != "Dead")
        .map(|info| GroupDescription {
            name: info.name().to_string(),
            state: info.state().to_string(),
            protocol_type: info.protocol_type().to_string(),
            protocol: info.protocol().to_string(),
            members: info
                .members()
                .iter()
                .map(|m| Member {
                    member_id: m.id().to_string(),
                    group_instance_id: InstanceId::Unknown,
                    client_id: m.client_id().to_string(),
                    host: m.client_host().to_string(),
                    assignment: MemberAssignment::from_bytes(info.protocol_type(), m.assignment()),
                })
                .collect(),
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

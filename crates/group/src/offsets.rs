//! Committed offsets: OffsetCommit, OffsetFetch, TxnOffsetCommit and the end of a transaction's
//! offsets, OffsetDelete, and offset retention.
//!
//! Offsets are kept one entry per (group, topic, partition), so that a commit copies into the
//! shard's timeline only the entries it changes; offsets committed inside a transaction are
//! kept apart, per (producer id, group, topic, partition), until the transaction ends.

use std::collections::BTreeMap;

use sluice_protocol::error::ErrorCode;

use crate::classic_group::{check_and_touch, ClassicState};
use crate::coordinator::{Group, GroupCoordinator};
use crate::output::{Output, Reply, Token};
use crate::records::{OffsetValue, RecordKey, RecordValue};

/// One partition of an OffsetCommit: (partition, offset, leader epoch, metadata).
pub type CommitPartition = (i32, i64, i32, Option<String>);

/// A committed offset's key: (group, topic, partition).
pub(crate) type OffsetKey = (String, String, i32);

/// An offset pending in a transaction: (producer id, group, topic, partition).
pub(crate) type PendingKey = (i64, String, String, i32);

/// One partition of an OffsetFetch answer: (partition, offset, leader epoch, metadata, error).
pub type FetchedOffset = (i32, i64, i32, String, ErrorCode);

/// The smallest key of `group`'s offsets: its offsets follow it in key order.
fn first_offset_key(group: &str) -> OffsetKey {
    (group.to_string(), String::new(), i32::MIN)
}

impl GroupCoordinator {
    /// `group`'s offsets as they are now (write handlers).
    pub(crate) fn offsets_of<'a>(
        &'a self,
        group: &'a str,
    ) -> impl Iterator<Item = (&'a OffsetKey, &'a OffsetValue)> + 'a {
        self.offsets
            .range(first_offset_key(group)..)
            .take_while(move |(k, _)| k.0 == group)
    }

    /// `group`'s committed offsets (reads).
    fn committed_offsets_of<'a>(
        &'a self,
        group: &'a str,
    ) -> impl Iterator<Item = (&'a OffsetKey, &'a OffsetValue)> + 'a {
        self.offsets
            .range_committed(first_offset_key(group)..)
            .take_while(move |(k, _)| k.0 == group)
    }

    /// Every committed offset of the groups this coordinator serves (owned partitions), as
    /// (group, topic, partition, offset): what consumer-lag metrics are computed from.
    pub fn committed_offsets(&self) -> Vec<(String, String, i32, i64)> {
        self.offsets
            .iter_committed()
            .filter(|((group, _, _), _)| self.owns(self.partition_for(group)))
            .map(|((group, topic, partition), v)| {
                (group.clone(), topic.clone(), *partition, v.offset)
            })
            .collect()
    }

    pub(crate) fn has_offsets(&self, group: &str) -> bool {
        self.offsets_of(group).next().is_some()
    }

    /// OffsetCommit for one group. `generation` is the generation (classic) or member epoch
    /// (consumer group); -1 with an empty member id is a commit from outside any generation
    /// (admin tools, assign()-mode consumers), allowed only while the group has no members.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_offsets(
        &mut self,
        now: i64,
        token: Token,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        topics: Vec<(String, Vec<CommitPartition>)>,
        out: &mut Output,
    ) {
        let all = |code: ErrorCode| commit_reply(&topics, code);
        if group_id.is_empty() {
            return out.reply(token, all(ErrorCode::INVALID_GROUP_ID));
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return out.reply(token, all(code));
        }
        let partition = self.partition_for(group_id);
        let check = match self.groups.get_mut(group_id) {
            None => {
                if generation >= 0 || !member_id.is_empty() {
                    Some(ErrorCode::ILLEGAL_GENERATION)
                } else {
                    None
                }
            }
            Some(Group::Classic(g)) => {
                if generation < 0 && member_id.is_empty() && instance_id.is_none() {
                    if g.state == ClassicState::Empty {
                        None
                    } else {
                        Some(ErrorCode::UNKNOWN_MEMBER_ID)
                    }
                } else if g.state == ClassicState::CompletingRebalance
                    && g.member(member_id).is_some()
                {
                    Some(ErrorCode::REBALANCE_IN_PROGRESS)
                } else {
                    check_and_touch(g, member_id, instance_id, generation, now)
                }
            }
            Some(Group::Consumer(g)) => g.check_commit(member_id, generation),
        };
        if let Some(code) = check {
            return out.reply(token, all(code));
        }
        self.ensure_group(group_id, now);
        let max_metadata = self.config.offset_metadata_max_bytes;
        let offsets = &mut self.offsets;
        let reply = write_commits(
            topics,
            now,
            max_metadata,
            partition,
            out,
            |topic, p| RecordKey::Offset {
                group: group_id.to_string(),
                topic: topic.to_string(),
                partition: p,
            },
            |topic, p, value| {
                offsets.insert((group_id.to_string(), topic.to_string(), p), value);
            },
        );
        out.reply(token, reply);
    }

    /// OffsetFetch for one group: `topics` `None` means every committed offset. Returns the
    /// group-level error and, per topic, each partition's offset.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> (ErrorCode, Vec<(String, Vec<FetchedOffset>)>) {
        self.fetch_offsets_stable(group_id, member, topics, false)
    }

    /// OffsetFetch, from committed state; with `require_stable` (v7+, read_committed
    /// consumers) a partition with an offset pending in an open transaction answers
    /// UNSTABLE_OFFSET_COMMIT, and the client retries once the transaction ended.
    pub fn fetch_offsets_stable(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> (ErrorCode, Vec<(String, Vec<FetchedOffset>)>) {
        if group_id.is_empty() {
            return (ErrorCode::INVALID_GROUP_ID, Vec::new());
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return (code, Vec::new());
        }
        if let (Some((member_id, epoch)), Some(Group::Consumer(g))) =
            (member, self.groups.get_committed(group_id))
        {
            if let Some(code) = g.check_fetch(member_id, epoch) {
                return (code, Vec::new());
            }
        }
        let pending = |topic: &str, p: i32| {
            require_stable
                && self
                    .pending_txn
                    .iter_committed()
                    .any(|((_, g, t, q), _)| g == group_id && t == topic && *q == p)
        };
        let found = |p: i32, v: &OffsetValue| -> FetchedOffset {
            (
                p,
                v.offset,
                v.leader_epoch,
                v.metadata.clone(),
                ErrorCode::NONE,
            )
        };
        let lookup = |topic: &str, p: i32| -> FetchedOffset {
            if pending(topic, p) {
                return (p, -1, -1, String::new(), ErrorCode::UNSTABLE_OFFSET_COMMIT);
            }
            let key = (group_id.to_string(), topic.to_string(), p);
            match self.offsets.get_committed(&key) {
                Some(v) => found(p, v),
                None => (p, -1, -1, String::new(), ErrorCode::NONE),
            }
        };
        let result = match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(t, ps)| {
                    let rows = ps.into_iter().map(|p| lookup(&t, p)).collect();
                    (t, rows)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<FetchedOffset>> = BTreeMap::new();
                for ((_, t, p), v) in self.committed_offsets_of(group_id) {
                    by_topic.entry(t.clone()).or_default().push(found(*p, v));
                }
                by_topic.into_iter().collect()
            }
        };
        (ErrorCode::NONE, result)
    }

    /// TxnOffsetCommit: offsets that become visible only if the producer's transaction commits.
    /// A member of a classic or consumer group is checked as OffsetCommit checks it.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit_offsets(
        &mut self,
        now: i64,
        token: Token,
        group_id: &str,
        producer_id: i64,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        topics: Vec<(String, Vec<CommitPartition>)>,
        out: &mut Output,
    ) {
        let all = |code: ErrorCode| commit_reply(&topics, code);
        if group_id.is_empty() {
            return out.reply(token, all(ErrorCode::INVALID_GROUP_ID));
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return out.reply(token, all(code));
        }
        let check = match self.groups.get_mut(group_id) {
            _ if generation < 0 && member_id.is_empty() && instance_id.is_none() => None,
            None => Some(ErrorCode::ILLEGAL_GENERATION),
            Some(Group::Classic(g)) => check_and_touch(g, member_id, instance_id, generation, now),
            Some(Group::Consumer(g)) => g.check_commit(member_id, generation),
        };
        if let Some(code) = check {
            return out.reply(token, all(code));
        }
        let partition = self.partition_for(group_id);
        let max_metadata = self.config.offset_metadata_max_bytes;
        let pending = &mut self.pending_txn;
        let reply = write_commits(
            topics,
            now,
            max_metadata,
            partition,
            out,
            |topic, p| RecordKey::TxnOffset {
                group: group_id.to_string(),
                topic: topic.to_string(),
                partition: p,
                producer_id,
            },
            |topic, p, value| {
                pending.insert(
                    (producer_id, group_id.to_string(), topic.to_string(), p),
                    value,
                );
            },
        );
        out.reply(token, reply);
    }

    /// The end of `producer_id`'s transaction for the groups whose offsets live in
    /// `__consumer_offsets` partition `partition`: on commit its pending offsets become
    /// committed offsets; either way the pending records are deleted. For a partition not
    /// Owned nothing happens and the answer is its error (NOT_COORDINATOR, or
    /// COORDINATOR_LOAD_IN_PROGRESS: the pending offsets may not all be loaded yet), for the
    /// marker's writer to retry; otherwise NONE.
    pub fn complete_txn(
        &mut self,
        now: i64,
        producer_id: i64,
        partition: i32,
        commit: bool,
        out: &mut Output,
    ) -> ErrorCode {
        if let Some(code) = self.ownership(partition).error() {
            return code;
        }
        let num_partitions = self.config.num_partitions;
        let first: PendingKey = (producer_id, String::new(), String::new(), i32::MIN);
        let mine: Vec<PendingKey> = self
            .pending_txn
            .range(first..)
            .take_while(|(k, _)| k.0 == producer_id)
            .filter(|(k, _)| crate::partition_for(&k.1, num_partitions) == partition)
            .map(|(k, _)| k.clone())
            .collect();
        for key in mine {
            let Some(v) = self.pending_txn.remove(&key) else {
                continue;
            };
            let (_, group, topic, p) = key;
            if commit {
                let v = OffsetValue {
                    commit_timestamp: now,
                    ..v
                };
                out.write(
                    partition,
                    &RecordKey::Offset {
                        group: group.clone(),
                        topic: topic.clone(),
                        partition: p,
                    },
                    Some(&RecordValue::Offset(v.clone())),
                );
                self.ensure_group(&group, now);
                self.offsets.insert((group.clone(), topic.clone(), p), v);
            }
            out.write(
                partition,
                &RecordKey::TxnOffset {
                    group,
                    topic,
                    partition: p,
                    producer_id,
                },
                None,
            );
        }
        ErrorCode::NONE
    }

    /// OffsetDelete: removes committed offsets of topics the group does not subscribe to.
    pub fn delete_offsets(
        &mut self,
        token: Token,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
        out: &mut Output,
    ) {
        let fail = |out: &mut Output, code: ErrorCode| {
            out.reply(token, Reply::OffsetDelete(code, Vec::new()));
        };
        if group_id.is_empty() {
            return fail(out, ErrorCode::INVALID_GROUP_ID);
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return fail(out, code);
        }
        let partition = self.partition_for(group_id);
        let subscribed: Vec<String> = match self.groups.get(group_id) {
            None if !self.has_offsets(group_id) => {
                return fail(out, ErrorCode::GROUP_ID_NOT_FOUND);
            }
            None => Vec::new(),
            Some(Group::Classic(g)) => match g.state {
                ClassicState::Empty => Vec::new(),
                _ => match g.subscribed_topics() {
                    Some(t) => t,
                    None => return fail(out, ErrorCode::NON_EMPTY_GROUP),
                },
            },
            Some(Group::Consumer(g)) => g.subscribed_topics(),
        };
        let mut result = Vec::new();
        for (topic, partitions) in topics {
            let mut codes = Vec::new();
            for p in partitions {
                if subscribed.contains(&topic) {
                    codes.push((p, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
                    continue;
                }
                let key = (group_id.to_string(), topic.clone(), p);
                if self.offsets.remove(&key).is_some() {
                    let key = RecordKey::Offset {
                        group: group_id.to_string(),
                        topic: topic.clone(),
                        partition: p,
                    };
                    out.write(partition, &key, None);
                }
                codes.push((p, ErrorCode::NONE));
            }
            result.push((topic, codes));
        }
        out.reply(token, Reply::OffsetDelete(ErrorCode::NONE, result));
    }

    /// Removes committed offsets past `offsets.retention.minutes` (KIP-211: for a group with
    /// members never; for an empty group counted from when it became empty; for a group that
    /// only stores offsets, from each commit), then deletes empty groups with no offsets left.
    pub fn expire_offsets(&mut self, now: i64, out: &mut Output) -> usize {
        let retention = self.config.offsets_retention_ms;
        let mut groups_with_offsets: Vec<String> = self
            .offsets
            .keys()
            .map(|(g, _, _)| g.clone())
            .filter(|g| self.owns(self.partition_for(g)))
            .collect();
        groups_with_offsets.dedup();
        let mut dead: Vec<OffsetKey> = Vec::new();
        for id in &groups_with_offsets {
            let since_empty: Option<i64> = match self.groups.get(id) {
                Some(Group::Classic(g)) if g.state == ClassicState::Empty => {
                    if g.protocol_type.is_some() {
                        Some(g.state_timestamp)
                    } else {
                        None
                    }
                }
                Some(Group::Consumer(g)) if g.is_empty() => Some(g.empty_since()),
                None => None,
                Some(_) => continue,
            };
            dead.extend(
                self.offsets_of(id)
                    .filter(|(_, v)| {
                        let base = since_empty.unwrap_or(v.commit_timestamp);
                        if v.expire_timestamp > 0 && since_empty.is_none() {
                            v.expire_timestamp <= now
                        } else {
                            base + retention <= now
                        }
                    })
                    .map(|(k, _)| k.clone()),
            );
        }
        let expired = dead.len();
        for key in dead {
            self.offsets.remove(&key);
            let partition = self.partition_for(&key.0);
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
        // Empty groups with nothing left to remember.
        let empty: Vec<String> = self
            .groups
            .iter()
            .filter(|(id, _)| self.owns(self.partition_for(id)))
            .filter(|(_, g)| match g {
                Group::Classic(g) => g.state == ClassicState::Empty,
                Group::Consumer(g) => g.is_empty(),
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in empty {
            if !self.has_offsets(&id) {
                self.remove_group_and_offsets(&id, out);
            }
        }
        expired
    }
}

/// The reply that answers every partition of a commit with `code`.
fn commit_reply(topics: &[(String, Vec<CommitPartition>)], code: ErrorCode) -> Reply {
    Reply::Commit(
        topics
            .iter()
            .map(|(t, ps)| (t.clone(), ps.iter().map(|p| (p.0, code)).collect()))
            .collect(),
    )
}

/// Checks each partition's metadata size, writes the accepted offsets as records named by
/// `key`, hands each to `keep`, and answers per partition.
#[allow(clippy::too_many_arguments)]
fn write_commits(
    topics: Vec<(String, Vec<CommitPartition>)>,
    now: i64,
    max_metadata: usize,
    partition: i32,
    out: &mut Output,
    key: impl Fn(&str, i32) -> RecordKey,
    mut keep: impl FnMut(&str, i32, OffsetValue),
) -> Reply {
    let mut result = Vec::with_capacity(topics.len());
    for (topic, partitions) in topics {
        let mut codes = Vec::with_capacity(partitions.len());
        for (p, offset, leader_epoch, metadata) in partitions {
            let metadata = metadata.unwrap_or_default();
            if metadata.len() > max_metadata {
                codes.push((p, ErrorCode::OFFSET_METADATA_TOO_LARGE));
                continue;
            }
            let value = OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp: now,
                expire_timestamp: -1,
            };
            out.write(
                partition,
                &key(&topic, p),
                Some(&RecordValue::Offset(value.clone())),
            );
            keep(&topic, p, value);
            codes.push((p, ErrorCode::NONE));
        }
        result.push((topic, codes));
    }
    Reply::Commit(result)
}

//! Classic-protocol groups and committed offsets.
//!
//! A classic group moves through Kafka's states:
//! ```text
//! Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
//!   ^                   ^      |                                     | leader's SyncGroup
//!   |                   |      +--no member left--> Empty            v
//!   +---last member leaves---------------------------------------- Stable
//! ```
//! (any membership or protocol change in CompletingRebalance or Stable goes back to
//! PreparingRebalance). Every successful rebalance bumps the generation. Members that stop
//! heartbeating for their session timeout are removed. Static members (`group.instance.id`)
//! keep their place across restarts: a rejoin under a known instance id replaces the old
//! member id without a rebalance when nothing else changed, and the old member id is fenced.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    ConsumerProtocolSubscription, GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use sluice_protocol::error::ErrorCode;

use crate::consumer::ConsumerGroup;
use crate::ownership::{Ownership, Partitions};
use crate::records::{self, GroupValue, MemberValue, OffsetValue, RecordKey, RecordValue};

/// One partition of an OffsetCommit: (partition, offset, leader epoch, metadata).
pub type CommitPartition = (i32, i64, i32, Option<String>);

/// Names the caller of a request, so a reply that comes out later finds its way back.
pub type Token = u64;

/// Coordinator settings, by Kafka's broker config names.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `offsets.topic.num.partitions`
    pub num_partitions: i32,
    /// `group.initial.rebalance.delay.ms`
    pub initial_rebalance_delay_ms: i64,
    /// `group.min.session.timeout.ms`, `group.max.session.timeout.ms`
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `group.max.size`
    pub max_size: usize,
    /// `offset.metadata.max.bytes`
    pub offset_metadata_max_bytes: usize,
    /// `offsets.retention.minutes`, in ms
    pub offsets_retention_ms: i64,
    /// `group.consumer.heartbeat.interval.ms`
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.session.timeout.ms`
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.assignors`: the first is the default.
    pub consumer_assignors: Vec<String>,
    /// `group.consumer.max.size`
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            num_partitions: 50,
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            max_size: i32::MAX as usize,
            offset_metadata_max_bytes: 4096,
            offsets_retention_ms: 7 * 24 * 60 * 60 * 1000,
            consumer_heartbeat_interval_ms: 5000,
            consumer_session_timeout_ms: 45_000,
            consumer_assignors: vec!["uniform".into(), "range".into()],
            consumer_max_size: i32::MAX as usize,
        }
    }
}

/// Who sent a request.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub client_id: String,
    /// As Kafka shows it: "/127.0.0.1".
    pub client_host: String,
}

/// Records to append to one `__consumer_offsets` partition: (key, value; `None` = tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub partition: i32,
    pub records: Vec<(Bytes, Option<Bytes>)>,
}

/// A reply to a request, for the caller named by its token.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Join(JoinGroupResponse),
    Sync(SyncGroupResponse),
    /// OffsetCommit: per topic, per partition, the error.
    Commit(Vec<(String, Vec<(i32, ErrorCode)>)>),
    /// A reply that is only an error code (Heartbeat).
    Code(ErrorCode),
    Leave(LeaveGroupResponse),
    /// DeleteGroups: per group, the error.
    Delete(Vec<(String, ErrorCode)>),
    /// OffsetDelete: top-level error, then per topic, per partition.
    OffsetDelete(ErrorCode, Vec<(String, Vec<(i32, ErrorCode)>)>),
    ConsumerHeartbeat(kafka_protocol::messages::ConsumerGroupHeartbeatResponse),
}

impl Reply {
    /// The same reply with every error set to `code`: used when the records it depends on
    /// could not be written.
    pub fn failed(self, code: ErrorCode) -> Reply {
        match self {
            Reply::Join(r) => Reply::Join(r.with_error_code(code.0)),
            Reply::Sync(r) => Reply::Sync(r.with_error_code(code.0).with_assignment(Bytes::new())),
            Reply::Commit(topics) => Reply::Commit(
                topics
                    .into_iter()
                    .map(|(t, ps)| (t, ps.into_iter().map(|(p, _)| (p, code)).collect()))
                    .collect(),
            ),
            Reply::Code(_) => Reply::Code(code),
            Reply::Leave(r) => Reply::Leave(r.with_error_code(code.0)),
            Reply::Delete(gs) => Reply::Delete(gs.into_iter().map(|(g, _)| (g, code)).collect()),
            Reply::OffsetDelete(_, topics) => Reply::OffsetDelete(code, topics),
            Reply::ConsumerHeartbeat(r) => Reply::ConsumerHeartbeat(r.with_error_code(code.0)),
        }
    }
}

/// What a call produced: records to write first, then replies to send.
#[derive(Debug, Default)]
pub struct Output {
    pub writes: Vec<Write>,
    pub replies: Vec<(Token, Reply)>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.replies.is_empty()
    }

    fn reply(&mut self, token: Token, reply: Reply) {
        self.replies.push((token, reply));
    }

    pub(crate) fn write(&mut self, partition: i32, key: &RecordKey, value: Option<&RecordValue>) {
        let record = (records::encode_key(key), value.map(records::encode_value));
        match self.writes.iter_mut().find(|w| w.partition == partition) {
            Some(w) => w.records.push(record),
            None => self.writes.push(Write {
                partition,
                records: vec![record],
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl ClassicState {
    pub fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
        }
    }
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    /// A JoinGroup waiting for the rebalance to complete: (token, request version).
    join_waiter: Option<(Token, i16)>,
    /// A SyncGroup waiting for the leader's assignment.
    sync_waiter: Option<(Token, i16)>,
    heartbeat_deadline: i64,
}

impl Member {
    fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct ClassicGroup {
    id: String,
    state: ClassicState,
    state_timestamp: i64,
    protocol_type: Option<String>,
    protocol: Option<String>,
    generation: i32,
    leader: Option<String>,
    /// In join order: the first is leader when the old leader is gone.
    members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED (KIP-394), not yet joined: id -> deadline.
    pending: HashMap<String, i64>,
    /// When the current PreparingRebalance ends at the latest.
    rebalance_deadline: i64,
    /// While the first rebalance of an empty group waits `group.initial.rebalance.delay.ms`:
    /// the latest the delay may be extended to.
    initial_delay_limit: Option<i64>,
    /// When CompletingRebalance gives up waiting for the leader's SyncGroup.
    sync_deadline: i64,
}

impl ClassicGroup {
    fn new(id: &str, now: i64) -> ClassicGroup {
        ClassicGroup {
            id: id.to_string(),
            state: ClassicState::Empty,
            state_timestamp: now,
            protocol_type: None,
            protocol: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            rebalance_deadline: 0,
            initial_delay_limit: None,
            sync_deadline: 0,
        }
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn member_by_instance(&self, instance: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    fn set_state(&mut self, state: ClassicState, now: i64) {
        self.state = state;
        self.state_timestamp = now;
    }

    /// Protocols every member supports.
    fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| {
                self.members
                    .iter()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
            .collect()
    }

    /// Whether a member with this type and protocols may join.
    fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.iter().any(|(n, _)| candidates.contains(n))
    }

    /// Each member votes for its most preferred protocol among those all support.
    fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in &self.members {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == name) {
                    v.1 += 1;
                }
            }
        }
        // Ties go to the earlier candidate (the first member's preference order).
        let mut best: Option<(String, usize)> = None;
        for (name, count) in votes {
            if best.as_ref().is_none_or(|(_, c)| count > *c) {
                best = Some((name, count));
            }
        }
        best.map(|(n, _)| n)
    }

    fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.join_waiter.is_some())
    }

    fn to_record(&self) -> GroupValue {
        let protocol = self.protocol.clone();
        GroupValue {
            protocol_type: self.protocol_type.clone().unwrap_or_default(),
            generation: self.generation,
            protocol: protocol.clone(),
            leader: self.leader.clone(),
            current_state_timestamp: self.state_timestamp,
            members: self
                .members
                .iter()
                .map(|m| MemberValue {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata_for(p))
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn is_empty_classic(&self) -> bool {
        self.state == ClassicState::Empty
    }

    /// Topics the members subscribe to, where their metadata is the consumer protocol's.
    fn subscribed_topics(&self) -> Option<Vec<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol.as_deref()?;
        let mut topics = Vec::new();
        for m in &self.members {
            let mut raw = m.metadata_for(protocol);
            if raw.len() < 2 {
                continue;
            }
            let version = i16::from_be_bytes([raw[0], raw[1]]);
            let _ = bytes::Buf::get_i16(&mut raw);
            if let Ok(sub) = ConsumerProtocolSubscription::decode(&mut raw, version.clamp(0, 3)) {
                topics.extend(sub.topics.into_iter().map(|t| t.to_string()));
            }
        }
        Some(topics)
    }
}

/// A group: classic or KIP-848 consumer.
#[derive(Debug)]
pub(crate) enum Group {
    Classic(ClassicGroup),
    Consumer(ConsumerGroup),
}

/// Every group and committed offset of the `__consumer_offsets` partitions this node leads.
#[derive(Debug)]
pub struct GroupCoordinator {
    pub(crate) config: GroupConfig,
    /// Which partitions this coordinator serves (see [`crate::ownership`]).
    /// invariant: `groups`, `offsets` and `pending_txn` hold nothing of a NotOwned partition.
    ownership: Partitions,
    pub(crate) groups: HashMap<String, Group>,
    /// group -> (topic, partition) -> committed offset.
    pub(crate) offsets: HashMap<String, BTreeMap<(String, i32), OffsetValue>>,
    /// Offsets committed inside open transactions: producer id -> (group, topic, partition).
    pending_txn: HashMap<i64, BTreeMap<(String, String, i32), OffsetValue>>,
    next_id: u64,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl GroupCoordinator {
    /// A coordinator that owns every partition of `__consumer_offsets`: a single node's.
    pub fn new(config: GroupConfig) -> GroupCoordinator {
        GroupCoordinator::with_ownership(config, Ownership::Owned)
    }

    /// A coordinator that owns no partition yet: each one it comes to lead goes through
    /// [`GroupCoordinator::begin_loading`], a replay of its records, and
    /// [`GroupCoordinator::finish_loading`].
    pub fn new_unowned(config: GroupConfig) -> GroupCoordinator {
        GroupCoordinator::with_ownership(config, Ownership::NotOwned)
    }

    fn with_ownership(config: GroupConfig, state: Ownership) -> GroupCoordinator {
        GroupCoordinator {
            ownership: Partitions::new(config.num_partitions, state),
            config,
            groups: HashMap::new(),
            offsets: HashMap::new(),
            pending_txn: HashMap::new(),
            next_id: 0,
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub fn partition_for(&self, group: &str) -> i32 {
        crate::partition_for(group, self.config.num_partitions)
    }

    /// A group that only stores offsets (no protocol type), created as Kafka creates it when
    /// offsets arrive for a group it does not know.
    fn ensure_group(&mut self, group_id: &str, now: i64) {
        if !self.groups.contains_key(group_id) {
            self.groups.insert(
                group_id.to_string(),
                Group::Classic(ClassicGroup::new(group_id, now)),
            );
        }
    }

    pub(crate) fn new_member_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", uuid::Uuid::new_v4())
    }

    fn classic(&self, group: &str) -> Option<&ClassicGroup> {
        match self.groups.get(group) {
            Some(Group::Classic(g)) => Some(g),
            _ => None,
        }
    }

    fn classic_mut(&mut self, group: &str) -> Option<&mut ClassicGroup> {
        match self.groups.get_mut(group) {
            Some(Group::Classic(g)) => Some(g),
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Partition ownership

    /// What this coordinator is for `partition` of `__consumer_offsets`.
    pub fn ownership(&self, partition: i32) -> Ownership {
        self.ownership.get(partition)
    }

    /// Whether this coordinator serves the groups of `partition`.
    pub fn owns(&self, partition: i32) -> bool {
        self.ownership(partition) == Ownership::Owned
    }

    /// Whether some partition is still loading (Kafka's ListGroups then answers
    /// COORDINATOR_LOAD_IN_PROGRESS).
    pub fn is_loading(&self) -> bool {
        self.ownership.any_loading()
    }

    /// The error a request naming `group_id` answers when its partition is not served here.
    pub(crate) fn coordinator_error(&self, group_id: &str) -> Option<ErrorCode> {
        self.ownership(self.partition_for(group_id)).error()
    }

    /// This node became the leader of `partition`. Whatever the coordinator held of it is
    /// dropped first (a fresh load; requests parked on it are answered NOT_COORDINATOR into
    /// `out`); until [`GroupCoordinator::finish_loading`] its groups answer
    /// COORDINATOR_LOAD_IN_PROGRESS. In between, the caller replays the partition's records
    /// with [`GroupCoordinator::replay`].
    pub fn begin_loading(&mut self, partition: i32, out: &mut Output) {
        self.drop_partition(partition, out);
        if !self.ownership.set(partition, Ownership::Loading) {
            tracing::warn!(
                partition,
                "cannot load a partition __consumer_offsets does not have"
            );
        }
    }

    /// The replay of `partition` is complete: its groups are served from now on. Changes
    /// nothing and returns false unless the partition is Loading (it may have been unloaded
    /// while its records were read).
    pub fn finish_loading(&mut self, partition: i32) -> bool {
        self.ownership(partition) == Ownership::Loading
            && self.ownership.set(partition, Ownership::Owned)
    }

    /// This node no longer leads `partition`: every group of it is forgotten (members, static
    /// members, KIP-848 state, committed and pending transactional offsets) and the JoinGroup
    /// and SyncGroup requests parked on them are answered NOT_COORDINATOR into `out`, so the
    /// clients find the new coordinator. Nothing is written: the records stay for the next
    /// leader to load.
    pub fn unload(&mut self, partition: i32, out: &mut Output) {
        self.drop_partition(partition, out);
        self.ownership.set(partition, Ownership::NotOwned);
    }

    fn drop_partition(&mut self, partition: i32, out: &mut Output) {
        let num_partitions = self.config.num_partitions;
        let mine = |group: &str| crate::partition_for(group, num_partitions) == partition;
        let mut ids: Vec<String> = self.groups.keys().filter(|g| mine(g)).cloned().collect();
        ids.sort();
        for id in ids {
            if let Some(Group::Classic(g)) = self.groups.remove(&id) {
                answer_parked(&g, ErrorCode::NOT_COORDINATOR, out);
            }
        }
        self.offsets.retain(|g, _| !mine(g));
        for pending in self.pending_txn.values_mut() {
            pending.retain(|(g, _, _), _| !mine(g));
        }
        self.pending_txn.retain(|_, pending| !pending.is_empty());
    }

    // -----------------------------------------------------------------------------------------
    // Loading

    /// Applies one record read back from `__consumer_offsets` (in log order). Records of a
    /// partition this coordinator does not own (neither Owned nor Loading) are skipped: nothing
    /// could reach the state they would build.
    pub fn replay(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        now: i64,
    ) -> Result<(), records::RecordError> {
        let key = records::decode_key(Bytes::copy_from_slice(key))?;
        let value = match value {
            Some(v) => Some(records::decode_value(&key, Bytes::copy_from_slice(v))?),
            None => None,
        };
        if self.ownership(self.partition_for(key.group())) == Ownership::NotOwned {
            return Ok(());
        }
        match (key, value) {
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                Some(RecordValue::Offset(v)),
            ) => {
                // Offsets without a group record belong to a group that only stores offsets.
                self.ensure_group(&group, v.commit_timestamp);
                self.offsets
                    .entry(group)
                    .or_default()
                    .insert((topic, partition), v);
            }
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                None,
            ) => {
                if let Some(map) = self.offsets.get_mut(&group) {
                    map.remove(&(topic, partition));
                    if map.is_empty() {
                        self.offsets.remove(&group);
                    }
                }
            }
            (RecordKey::Group { group }, Some(RecordValue::Group(v))) => {
                let g = self.load_classic(&group, v, now);
                self.groups.insert(group, Group::Classic(g));
            }
            (RecordKey::Group { group }, None) | (RecordKey::ConsumerGroup { group }, None) => {
                self.groups.remove(&group);
            }
            (RecordKey::ConsumerGroup { group }, Some(RecordValue::ConsumerGroup(v))) => {
                let g = ConsumerGroup::load(&group, v, now, &self.config);
                self.groups.insert(group, Group::Consumer(g));
            }
            (
                RecordKey::TxnOffset {
                    group,
                    topic,
                    partition,
                    producer_id,
                },
                Some(RecordValue::Offset(v)),
            ) => {
                self.pending_txn
                    .entry(producer_id)
                    .or_default()
                    .insert((group, topic, partition), v);
            }
            (
                RecordKey::TxnOffset {
                    group,
                    topic,
                    partition,
                    producer_id,
                },
                None,
            ) => {
                if let Some(p) = self.pending_txn.get_mut(&producer_id) {
                    p.remove(&(group, topic, partition));
                    if p.is_empty() {
                        self.pending_txn.remove(&producer_id);
                    }
                }
            }
            (key, _) => {
                return Err(records::RecordError(format!(
                    "value does not match key {key:?}"
                )))
            }
        }
        Ok(())
    }

    fn load_classic(&self, group: &str, v: GroupValue, now: i64) -> ClassicGroup {
        let mut g = ClassicGroup::new(group, v.current_state_timestamp.max(0));
        g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
        g.generation = v.generation;
        g.protocol = v.protocol;
        g.leader = v.leader;
        for m in v.members {
            let protocol = g.protocol.clone().unwrap_or_default();
            g.members.push(Member {
                id: m.member_id,
                instance_id: m.group_instance_id,
                client_id: m.client_id,
                client_host: m.client_host,
                session_timeout_ms: m.session_timeout_ms,
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                protocols: vec![(protocol, m.subscription)],
                assignment: m.assignment,
                join_waiter: None,
                sync_waiter: None,
                // Members must heartbeat within their session timeout of the load.
                heartbeat_deadline: now + i64::from(m.session_timeout_ms),
            });
        }
        g.state = if g.members.is_empty() {
            ClassicState::Empty
        } else {
            ClassicState::Stable
        };
        g
    }

    // -----------------------------------------------------------------------------------------
    // JoinGroup

    pub fn join_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        client: &Client,
        req: JoinGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
        let fail = |out: &mut Output, code: ErrorCode| {
            out.reply(
                token,
                Reply::Join(
                    JoinGroupResponse::default()
                        .with_error_code(code.0)
                        .with_generation_id(-1)
                        .with_member_id(sb(&member_id)),
                ),
            );
        };
        if group_id.is_empty() {
            return fail(out, ErrorCode::INVALID_GROUP_ID);
        }
        if req.session_timeout_ms < self.config.min_session_timeout_ms
            || req.session_timeout_ms > self.config.max_session_timeout_ms
        {
            return fail(out, ErrorCode::INVALID_SESSION_TIMEOUT);
        }
        if let Some(code) = self.coordinator_error(&group_id) {
            return fail(out, code);
        }
        let protocols: Vec<(String, Bytes)> = req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect();
        if req.protocol_type.is_empty() || protocols.is_empty() {
            return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        match self.groups.get(&group_id) {
            Some(Group::Consumer(_)) => {
                // A KIP-848 group does not take classic members here.
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
            None if !member_id.is_empty() => return fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
            None => {
                self.groups.insert(
                    group_id.clone(),
                    Group::Classic(ClassicGroup::new(&group_id, now)),
                );
            }
            Some(Group::Classic(_)) => {}
        }
        // v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
        let rebalance_timeout_ms = if version == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        };
        let new_id = if member_id.is_empty() {
            let prefix = instance_id
                .clone()
                .unwrap_or_else(|| client.client_id.clone());
            Some(self.new_member_id(&prefix))
        } else {
            None
        };
        let config = self.config.clone();
        let partition = self.partition_for(&group_id);
        let Some(g) = self.classic_mut(&group_id) else {
            return fail(out, ErrorCode::UNKNOWN_SERVER_ERROR);
        };
        if !g.supports(&req.protocol_type, &protocols) {
            return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
        let template = Member {
            id: String::new(),
            instance_id: instance_id.clone(),
            client_id: client.client_id.clone(),
            client_host: client.client_host.clone(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms,
            protocol_type: req.protocol_type.to_string(),
            protocols: protocols.clone(),
            assignment: Bytes::new(),
            join_waiter: Some((token, version)),
            sync_waiter: None,
            heartbeat_deadline: now + i64::from(req.session_timeout_ms),
        };

        if let Some(new_id) = new_id {
            // A member without an id.
            if let Some(instance) = &instance_id {
                if let Some(old) = g.member_by_instance(instance).map(|m| m.id.clone()) {
                    replace_static_member(g, &old, new_id, template, now, partition, out);
                    return;
                }
            }
            if g.members.len() + g.pending.len() >= config.max_size {
                return fail(out, ErrorCode::GROUP_MAX_SIZE_REACHED);
            }
            if instance_id.is_none() && version >= 4 {
                // KIP-394: hand out an id; the member joins again with it.
                g.pending
                    .insert(new_id.clone(), now + i64::from(req.session_timeout_ms));
                out.reply(
                    token,
                    Reply::Join(
                        JoinGroupResponse::default()
                            .with_error_code(ErrorCode::MEMBER_ID_REQUIRED.0)
                            .with_generation_id(-1)
                            .with_member_id(sb(&new_id)),
                    ),
                );
                return;
            }
            add_member(
                g,
                Member {
                    id: new_id,
                    ..template
                },
                now,
                &config,
            );
            maybe_complete_join(g, now, partition, out);
            return;
        }

        // A member with an id.
        if g.pending.remove(&member_id).is_some() {
            add_member(
                g,
                Member {
                    id: member_id,
                    ..template
                },
                now,
                &config,
            );
            maybe_complete_join(g, now, partition, out);
            return;
        }
        if let Some(instance) = &instance_id {
            if let Some(current) = g.member_by_instance(instance) {
                if current.id != member_id {
                    return fail(out, ErrorCode::FENCED_INSTANCE_ID);
                }
            }
        }
        let Some(member) = g.member(&member_id) else {
            return fail(out, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        let unchanged = member.protocols == protocols;
        let is_leader = g.leader.as_deref() == Some(member_id.as_str());
        match g.state {
            ClassicState::PreparingRebalance => {
                update_member(g, &member_id, template);
                maybe_complete_join(g, now, partition, out);
            }
            ClassicState::CompletingRebalance | ClassicState::Stable
                if unchanged && !(is_leader && g.state == ClassicState::Stable) =>
            {
                // The member lost our JoinGroup response (or a follower rejoins with nothing
                // new): answer with the current generation.
                let reply = join_response(g, &member_id, version);
                if let Some(m) = g.member_mut(&member_id) {
                    m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
                }
                out.reply(token, Reply::Join(reply));
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                update_member(g, &member_id, template);
                prepare_rebalance(g, now, partition, out);
            }
            ClassicState::Empty => fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
        }
    }

    // -----------------------------------------------------------------------------------------
    // SyncGroup

    pub fn sync_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        req: SyncGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let member_id = req.member_id.to_string();
        let partition = self.partition_for(&group_id);
        let fail = |out: &mut Output, code: ErrorCode| {
            out.reply(
                token,
                Reply::Sync(SyncGroupResponse::default().with_error_code(code.0)),
            );
        };
        if group_id.is_empty() {
            return fail(out, ErrorCode::INVALID_GROUP_ID);
        }
        if let Some(code) = self.coordinator_error(&group_id) {
            return fail(out, code);
        }
        let Some(g) = self.classic_mut(&group_id) else {
            return fail(out, ErrorCode::UNKNOWN_MEMBER_ID);
        };
        if let Some(code) = check_member(
            g,
            &member_id,
            req.group_instance_id.as_deref(),
            Some(req.generation_id),
        ) {
            return fail(out, code);
        }
        if let Some(t) = &req.protocol_type {
            if g.protocol_type.as_deref() != Some(t.as_str()) {
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        if let Some(n) = &req.protocol_name {
            if g.protocol.as_deref() != Some(n.as_str()) {
                return fail(out, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        match g.state {
            ClassicState::Empty => fail(out, ErrorCode::UNKNOWN_MEMBER_ID),
            ClassicState::PreparingRebalance => fail(out, ErrorCode::REBALANCE_IN_PROGRESS),
            ClassicState::Stable => {
                let reply = sync_response(g, &member_id);
                touch(g, &member_id, now);
                out.reply(token, Reply::Sync(reply));
            }
            ClassicState::CompletingRebalance => {
                touch(g, &member_id, now);
                if let Some(m) = g.member_mut(&member_id) {
                    m.sync_waiter = Some((token, version));
                }
                if g.leader.as_deref() == Some(member_id.as_str()) {
                    let assignments: HashMap<String, Bytes> = req
                        .assignments
                        .into_iter()
                        .map(|a| (a.member_id.to_string(), a.assignment))
                        .collect();
                    for m in &mut g.members {
                        m.assignment = assignments.get(&m.id).cloned().unwrap_or_default();
                    }
                    g.set_state(ClassicState::Stable, now);
                    store_group(g, partition, out);
                    let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
                    for id in ids {
                        let reply = sync_response(g, &id);
                        if let Some(m) = g.member_mut(&id) {
                            if let Some((t, _)) = m.sync_waiter.take() {
                                out.reply(t, Reply::Sync(reply));
                            }
                        }
                    }
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Heartbeat

    pub fn heartbeat(&mut self, now: i64, req: &HeartbeatRequest) -> ErrorCode {
        let group_id = req.group_id.as_str();
        if group_id.is_empty() {
            return ErrorCode::INVALID_GROUP_ID;
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return code;
        }
        let Some(g) = self.classic_mut(group_id) else {
            return ErrorCode::UNKNOWN_MEMBER_ID;
        };
        if let Some(code) = check_member(
            g,
            req.member_id.as_str(),
            req.group_instance_id.as_deref(),
            Some(req.generation_id),
        ) {
            return code;
        }
        match g.state {
            ClassicState::Empty => ErrorCode::UNKNOWN_MEMBER_ID,
            ClassicState::PreparingRebalance => {
                touch(g, req.member_id.as_str(), now);
                ErrorCode::REBALANCE_IN_PROGRESS
            }
            ClassicState::CompletingRebalance | ClassicState::Stable => {
                touch(g, req.member_id.as_str(), now);
                ErrorCode::NONE
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // LeaveGroup

    pub fn leave_group(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        req: LeaveGroupRequest,
        out: &mut Output,
    ) {
        let group_id = req.group_id.to_string();
        let partition = self.partition_for(&group_id);
        // v0-v2 name one member; v3+ a batch with instance ids.
        let leaving: Vec<(String, Option<String>)> = if version <= 2 {
            vec![(req.member_id.to_string(), None)]
        } else {
            req.members
                .iter()
                .map(|m| {
                    (
                        m.member_id.to_string(),
                        m.group_instance_id.as_ref().map(|s| s.to_string()),
                    )
                })
                .collect()
        };
        let mut response = LeaveGroupResponse::default();
        if !group_id.is_empty() {
            if let Some(code) = self.coordinator_error(&group_id) {
                // A group-level error: top level, no member results, in every version.
                out.reply(token, Reply::Leave(response.with_error_code(code.0)));
                return;
            }
        }
        let Some(g) = self.classic_mut(&group_id) else {
            let code = if group_id.is_empty() {
                ErrorCode::INVALID_GROUP_ID
            } else {
                ErrorCode::UNKNOWN_MEMBER_ID
            };
            if version <= 2 {
                response.error_code = code.0;
            } else {
                response.members = leaving
                    .into_iter()
                    .map(|(m, i)| {
                        MemberResponse::default()
                            .with_member_id(sb(&m))
                            .with_group_instance_id(i.map(|s| sb(&s)))
                            .with_error_code(code.0)
                    })
                    .collect();
            }
            out.reply(token, Reply::Leave(response));
            return;
        };
        let mut removed_any = false;
        for (member_id, instance_id) in leaving {
            let target = match &instance_id {
                Some(instance) => match g.member_by_instance(instance) {
                    None => Err(ErrorCode::UNKNOWN_MEMBER_ID),
                    Some(m) if !member_id.is_empty() && m.id != member_id => {
                        Err(ErrorCode::FENCED_INSTANCE_ID)
                    }
                    Some(m) => Ok(m.id.clone()),
                },
                None => {
                    if g.pending.remove(&member_id).is_some() {
                        Err(ErrorCode::NONE)
                    } else if g.member(&member_id).is_some() {
                        Ok(member_id.clone())
                    } else {
                        Err(ErrorCode::UNKNOWN_MEMBER_ID)
                    }
                }
            };
            let code = match target {
                Ok(id) => {
                    remove_member(g, &id, out);
                    removed_any = true;
                    ErrorCode::NONE
                }
                Err(code) => code,
            };
            if version <= 2 {
                response.error_code = code.0;
            } else {
                response.members.push(
                    MemberResponse::default()
                        .with_member_id(sb(&member_id))
                        .with_group_instance_id(instance_id.map(|s| sb(&s)))
                        .with_error_code(code.0),
                );
            }
        }
        if removed_any {
            membership_changed(g, now, partition, out);
        }
        out.reply(token, Reply::Leave(response));
    }

    // -----------------------------------------------------------------------------------------
    // Offsets

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
        let committed = self.offsets.entry(group_id.to_string()).or_default();
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
                committed.insert((topic.to_string(), p), value);
            },
        );
        if self.offsets.get(group_id).is_some_and(|m| m.is_empty()) {
            self.offsets.remove(group_id);
        }
        out.reply(token, reply);
    }

    /// OffsetFetch for one group: `topics` `None` means every committed offset. Returns the
    /// group-level error and, per topic, (partition, offset, leader epoch, metadata, error).
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> (
        ErrorCode,
        Vec<(String, Vec<(i32, i64, i32, String, ErrorCode)>)>,
    ) {
        self.fetch_offsets_stable(group_id, member, topics, false)
    }

    /// OffsetFetch; with `require_stable` (v7+, read_committed consumers) a partition with an
    /// offset pending in an open transaction answers UNSTABLE_OFFSET_COMMIT, and the client
    /// retries once the transaction ended.
    #[allow(clippy::type_complexity)]
    pub fn fetch_offsets_stable(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> (
        ErrorCode,
        Vec<(String, Vec<(i32, i64, i32, String, ErrorCode)>)>,
    ) {
        if group_id.is_empty() {
            return (ErrorCode::INVALID_GROUP_ID, Vec::new());
        }
        if let Some(code) = self.coordinator_error(group_id) {
            return (code, Vec::new());
        }
        if let (Some((member_id, epoch)), Some(Group::Consumer(g))) =
            (member, self.groups.get(group_id))
        {
            if let Some(code) = g.check_fetch(member_id, epoch) {
                return (code, Vec::new());
            }
        }
        let committed = self.offsets.get(group_id);
        let pending = |topic: &str, p: i32| {
            require_stable
                && self
                    .pending_txn
                    .values()
                    .any(|m| m.contains_key(&(group_id.to_string(), topic.to_string(), p)))
        };
        let lookup = |topic: &str, p: i32| -> (i32, i64, i32, String, ErrorCode) {
            if pending(topic, p) {
                return (p, -1, -1, String::new(), ErrorCode::UNSTABLE_OFFSET_COMMIT);
            }
            match committed.and_then(|c| c.get(&(topic.to_string(), p))) {
                Some(v) => (
                    p,
                    v.offset,
                    v.leader_epoch,
                    v.metadata.clone(),
                    ErrorCode::NONE,
                ),
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
                let mut by_topic: BTreeMap<String, Vec<(i32, i64, i32, String, ErrorCode)>> =
                    BTreeMap::new();
                for ((t, p), v) in committed.into_iter().flatten() {
                    by_topic.entry(t.clone()).or_default().push((
                        *p,
                        v.offset,
                        v.leader_epoch,
                        v.metadata.clone(),
                        ErrorCode::NONE,
                    ));
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
        let pending = self.pending_txn.entry(producer_id).or_default();
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
                pending.insert((group_id.to_string(), topic.to_string(), p), value);
            },
        );
        if self
            .pending_txn
            .get(&producer_id)
            .is_some_and(|m| m.is_empty())
        {
            self.pending_txn.remove(&producer_id);
        }
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
        let Some(pending) = self.pending_txn.get_mut(&producer_id) else {
            return ErrorCode::NONE;
        };
        let num_partitions = self.config.num_partitions;
        let mine: Vec<(String, String, i32)> = pending
            .keys()
            .filter(|(g, _, _)| crate::partition_for(g, num_partitions) == partition)
            .cloned()
            .collect();
        let mut done = Vec::new();
        for key in mine {
            if let Some(v) = pending.remove(&key) {
                done.push((key, v));
            }
        }
        if pending.is_empty() {
            self.pending_txn.remove(&producer_id);
        }
        for ((group, topic, p), v) in done {
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
                self.offsets
                    .entry(group.clone())
                    .or_default()
                    .insert((topic.clone(), p), v);
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
        let subscribed: Option<Vec<String>> = match self.groups.get(group_id) {
            None if !self.offsets.contains_key(group_id) => {
                return out.reply(
                    token,
                    Reply::OffsetDelete(ErrorCode::GROUP_ID_NOT_FOUND, Vec::new()),
                );
            }
            None => Some(Vec::new()),
            Some(Group::Classic(g)) => match g.state {
                ClassicState::Empty => Some(Vec::new()),
                _ => match g.subscribed_topics() {
                    Some(t) => Some(t),
                    None => {
                        return out.reply(
                            token,
                            Reply::OffsetDelete(ErrorCode::NON_EMPTY_GROUP, Vec::new()),
                        )
                    }
                },
            },
            Some(Group::Consumer(g)) => Some(g.subscribed_topics()),
        };
        let subscribed = subscribed.unwrap_or_default();
        let mut result = Vec::new();
        for (topic, partitions) in topics {
            let mut codes = Vec::new();
            for p in partitions {
                if subscribed.contains(&topic) {
                    codes.push((p, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
                    continue;
                }
                let removed = self
                    .offsets
                    .get_mut(group_id)
                    .and_then(|m| m.remove(&(topic.clone(), p)));
                if removed.is_some() {
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
        if self.offsets.get(group_id).is_some_and(|m| m.is_empty()) {
            self.offsets.remove(group_id);
        }
        out.reply(token, Reply::OffsetDelete(ErrorCode::NONE, result));
    }

    // -----------------------------------------------------------------------------------------
    // Describe, list, delete

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
        match self.groups.get(group_id) {
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
    /// the groups of Owned partitions. While [`GroupCoordinator::is_loading`], Kafka answers
    /// COORDINATOR_LOAD_IN_PROGRESS.
    pub fn list_groups(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let mut ids: Vec<&String> = self
            .groups
            .keys()
            .filter(|g| self.owns(self.partition_for(g)))
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let (state, protocol_type, group_type) = match &self.groups[id] {
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
                if !self.offsets.contains_key(group_id) {
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

    fn remove_group_and_offsets(&mut self, group_id: &str, out: &mut Output) {
        let partition = self.partition_for(group_id);
        if let Some(offsets) = self.offsets.remove(group_id) {
            for (topic, p) in offsets.into_keys() {
                let key = RecordKey::Offset {
                    group: group_id.to_string(),
                    topic,
                    partition: p,
                };
                out.write(partition, &key, None);
            }
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

    // -----------------------------------------------------------------------------------------
    // Time

    /// Expires members, pending member ids, rebalance and sync deadlines. Call it often (the
    /// finest timeout it serves is its call interval).
    pub fn tick(&mut self, now: i64, out: &mut Output) {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            let partition = self.partition_for(&id);
            if !self.owns(partition) {
                continue;
            }
            match self.groups.get_mut(&id) {
                Some(Group::Classic(g)) => tick_classic(g, now, partition, out),
                Some(Group::Consumer(g)) => {
                    g.tick(now, partition, out);
                }
                None => {}
            }
        }
    }

    /// Removes committed offsets past `offsets.retention.minutes` (KIP-211: for a group with
    /// members never; for an empty group counted from when it became empty; for a group that
    /// only stores offsets, from each commit), then deletes empty groups with no offsets left.
    pub fn expire_offsets(&mut self, now: i64, out: &mut Output) -> usize {
        let retention = self.config.offsets_retention_ms;
        let mut expired = 0;
        let ids: Vec<String> = self
            .offsets
            .keys()
            .filter(|g| self.owns(self.partition_for(g)))
            .cloned()
            .collect();
        for id in ids {
            let since_empty: Option<i64> = match self.groups.get(&id) {
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
            let partition = self.partition_for(&id);
            let Some(offsets) = self.offsets.get_mut(&id) else {
                continue;
            };
            let dead: Vec<(String, i32)> = offsets
                .iter()
                .filter(|(_, v)| {
                    let base = since_empty.unwrap_or(v.commit_timestamp);
                    if v.expire_timestamp > 0 && since_empty.is_none() {
                        v.expire_timestamp <= now
                    } else {
                        base + retention <= now
                    }
                })
                .map(|(k, _)| k.clone())
                .collect();
            for (topic, p) in dead {
                offsets.remove(&(topic.clone(), p));
                out.write(
                    partition,
                    &RecordKey::Offset {
                        group: id.clone(),
                        topic,
                        partition: p,
                    },
                    None,
                );
                expired += 1;
            }
            if offsets.is_empty() {
                self.offsets.remove(&id);
            }
        }
        // Empty groups with nothing left to remember.
        let ids: Vec<String> = self
            .groups
            .keys()
            .filter(|g| self.owns(self.partition_for(g)))
            .cloned()
            .collect();
        for id in ids {
            let empty = match &self.groups[&id] {
                Group::Classic(g) => g.state == ClassicState::Empty,
                Group::Consumer(g) => g.is_empty(),
            };
            if empty && !self.offsets.contains_key(&id) {
                self.remove_group_and_offsets(&id, out);
            }
        }
        expired
    }

    /// Groups this coordinator knows, for metrics and tests.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The classic group's state and generation, for tests and tools.
    pub fn classic_state(&self, group: &str) -> Option<(ClassicState, i32)> {
        self.classic(group).map(|g| (g.state, g.generation))
    }
}

// ---------------------------------------------------------------------------------------------
// Offset commits (OffsetCommit and TxnOffsetCommit)

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

// ---------------------------------------------------------------------------------------------
// Classic group transitions

fn check_member(
    g: &ClassicGroup,
    member_id: &str,
    instance_id: Option<&str>,
    generation: Option<i32>,
) -> Option<ErrorCode> {
    if let Some(instance) = instance_id {
        if let Some(m) = g.member_by_instance(instance) {
            if m.id != member_id {
                return Some(ErrorCode::FENCED_INSTANCE_ID);
            }
        }
    }
    if g.member(member_id).is_none() {
        return Some(ErrorCode::UNKNOWN_MEMBER_ID);
    }
    if let Some(generation) = generation {
        if generation != g.generation {
            return Some(ErrorCode::ILLEGAL_GENERATION);
        }
    }
    None
}

/// A commit's member check; a member that passes has shown it is alive.
fn check_and_touch(
    g: &mut ClassicGroup,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
    now: i64,
) -> Option<ErrorCode> {
    let code = check_member(g, member_id, instance_id, Some(generation));
    if code.is_none() {
        touch(g, member_id, now);
    }
    code
}

fn touch(g: &mut ClassicGroup, member_id: &str, now: i64) {
    if let Some(m) = g.member_mut(member_id) {
        m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
    }
}

fn add_member(g: &mut ClassicGroup, member: Member, now: i64, config: &GroupConfig) {
    if g.members.is_empty() {
        g.protocol_type = Some(member.protocol_type.clone());
    }
    g.members.push(member);
    match g.state {
        ClassicState::Empty => {
            // First rebalance of an empty group: wait for more members to arrive.
            g.set_state(ClassicState::PreparingRebalance, now);
            let delay = config.initial_rebalance_delay_ms;
            g.rebalance_deadline = now + delay;
            g.initial_delay_limit = Some(now + g.max_rebalance_timeout().max(delay));
        }
        ClassicState::PreparingRebalance => {
            if let Some(limit) = g.initial_delay_limit {
                // Each new member during the initial delay extends it, up to the limit.
                g.rebalance_deadline = (now + config.initial_rebalance_delay_ms).min(limit);
            }
        }
        ClassicState::CompletingRebalance | ClassicState::Stable => {
            g.set_state(ClassicState::PreparingRebalance, now);
            g.initial_delay_limit = None;
            g.rebalance_deadline = now + g.max_rebalance_timeout();
        }
    }
}

fn update_member(g: &mut ClassicGroup, member_id: &str, template: Member) {
    if let Some(m) = g.member_mut(member_id) {
        // A previous JoinGroup still waiting loses its place to this one.
        m.session_timeout_ms = template.session_timeout_ms;
        m.rebalance_timeout_ms = template.rebalance_timeout_ms;
        m.protocols = template.protocols;
        m.client_id = template.client_id;
        m.client_host = template.client_host;
        m.join_waiter = template.join_waiter;
        m.heartbeat_deadline = template.heartbeat_deadline;
    }
}

/// Starts a rebalance: every member must join again.
fn prepare_rebalance(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    if g.state == ClassicState::CompletingRebalance {
        // Members waiting for an assignment that will not come: tell them to rejoin.
        for m in &mut g.members {
            if let Some((t, _)) = m.sync_waiter.take() {
                out.reply(
                    t,
                    Reply::Sync(
                        SyncGroupResponse::default()
                            .with_error_code(ErrorCode::REBALANCE_IN_PROGRESS.0),
                    ),
                );
            }
        }
    }
    if g.state != ClassicState::PreparingRebalance {
        g.set_state(ClassicState::PreparingRebalance, now);
        g.initial_delay_limit = None;
        g.rebalance_deadline = now + g.max_rebalance_timeout();
    }
    maybe_complete_join(g, now, partition, out);
}

/// After a member left or expired.
fn membership_changed(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    match g.state {
        ClassicState::Empty => {}
        ClassicState::PreparingRebalance => maybe_complete_join(g, now, partition, out),
        ClassicState::CompletingRebalance | ClassicState::Stable => {
            if g.members.is_empty() {
                become_empty(g, now, partition, out);
            } else {
                prepare_rebalance(g, now, partition, out);
            }
        }
    }
}

fn remove_member(g: &mut ClassicGroup, member_id: &str, out: &mut Output) {
    if let Some(pos) = g.members.iter().position(|m| m.id == member_id) {
        let m = g.members.remove(pos);
        if let Some((t, _)) = m.join_waiter {
            out.reply(
                t,
                Reply::Join(
                    JoinGroupResponse::default()
                        .with_error_code(ErrorCode::UNKNOWN_MEMBER_ID.0)
                        .with_generation_id(-1)
                        .with_member_id(sb(&m.id)),
                ),
            );
        }
        if let Some((t, _)) = m.sync_waiter {
            out.reply(
                t,
                Reply::Sync(
                    SyncGroupResponse::default().with_error_code(ErrorCode::UNKNOWN_MEMBER_ID.0),
                ),
            );
        }
        if g.leader.as_deref() == Some(member_id) {
            g.leader = None;
        }
    }
}

/// The group is leaving this coordinator: every request parked on it is answered `code`.
fn answer_parked(g: &ClassicGroup, code: ErrorCode, out: &mut Output) {
    for m in &g.members {
        if let Some((t, _)) = m.join_waiter {
            out.reply(
                t,
                Reply::Join(
                    JoinGroupResponse::default()
                        .with_error_code(code.0)
                        .with_generation_id(-1)
                        .with_member_id(sb(&m.id)),
                ),
            );
        }
        if let Some((t, _)) = m.sync_waiter {
            out.reply(
                t,
                Reply::Sync(SyncGroupResponse::default().with_error_code(code.0)),
            );
        }
    }
}

fn become_empty(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    g.generation += 1;
    g.protocol = None;
    g.leader = None;
    g.set_state(ClassicState::Empty, now);
    g.initial_delay_limit = None;
    store_group(g, partition, out);
}

/// Completes the join phase if every member has joined, or the deadline passed.
fn maybe_complete_join(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    if g.state != ClassicState::PreparingRebalance {
        return;
    }
    let in_initial_delay = g.initial_delay_limit.is_some() && now < g.rebalance_deadline;
    if in_initial_delay || (!g.all_joined() && now < g.rebalance_deadline) {
        return;
    }
    // Dynamic members that did not rejoin in time are out; static ones leave only when their
    // session ends. Member ids still pending (KIP-394) stay valid for their session timeout:
    // their join starts the next rebalance.
    let absent: Vec<String> = g
        .members
        .iter()
        .filter(|m| m.join_waiter.is_none() && m.instance_id.is_none())
        .map(|m| m.id.clone())
        .collect();
    for id in absent {
        remove_member(g, &id, out);
    }
    g.initial_delay_limit = None;
    if g.members.is_empty() {
        become_empty(g, now, partition, out);
        return;
    }
    g.generation += 1;
    g.protocol = g.select_protocol();
    if g.leader.as_ref().is_none_or(|l| g.member(l).is_none()) {
        g.leader = g.members.first().map(|m| m.id.clone());
    }
    g.set_state(ClassicState::CompletingRebalance, now);
    g.sync_deadline = now + g.max_rebalance_timeout();
    let ids: Vec<String> = g.members.iter().map(|m| m.id.clone()).collect();
    for id in ids {
        let Some(m) = g.member(&id) else { continue };
        let Some((token, version)) = m.join_waiter else {
            continue;
        };
        let reply = join_response(g, &id, version);
        if let Some(m) = g.member_mut(&id) {
            m.join_waiter = None;
            m.assignment = Bytes::new();
            m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
        }
        out.reply(token, Reply::Join(reply));
    }
}

fn join_response(g: &ClassicGroup, member_id: &str, version: i16) -> JoinGroupResponse {
    let protocol = g.protocol.clone().unwrap_or_default();
    let is_leader = g.leader.as_deref() == Some(member_id);
    let members = if is_leader {
        g.members
            .iter()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(sb(&m.id))
                    .with_group_instance_id(m.instance_id.as_deref().map(sb))
                    .with_metadata(m.metadata_for(&protocol))
            })
            .collect()
    } else {
        Vec::new()
    };
    let _ = version;
    JoinGroupResponse::default()
        .with_error_code(ErrorCode::NONE.0)
        .with_generation_id(g.generation)
        .with_protocol_type(g.protocol_type.as_deref().map(sb))
        .with_protocol_name(Some(sb(&protocol)))
        .with_leader(sb(g.leader.as_deref().unwrap_or("")))
        .with_member_id(sb(member_id))
        .with_members(members)
}

fn sync_response(g: &ClassicGroup, member_id: &str) -> SyncGroupResponse {
    SyncGroupResponse::default()
        .with_error_code(ErrorCode::NONE.0)
        .with_protocol_type(g.protocol_type.as_deref().map(sb))
        .with_protocol_name(g.protocol.as_deref().map(sb))
        .with_assignment(
            g.member(member_id)
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
        )
}

fn store_group(g: &ClassicGroup, partition: i32, out: &mut Output) {
    out.write(
        partition,
        &RecordKey::Group {
            group: g.id.clone(),
        },
        Some(&RecordValue::Group(g.to_record())),
    );
}

/// A static member rejoined without its member id: the new id takes the old one's place.
fn replace_static_member(
    g: &mut ClassicGroup,
    old_id: &str,
    new_id: String,
    template: Member,
    now: i64,
    partition: i32,
    out: &mut Output,
) {
    let Some(pos) = g.members.iter().position(|m| m.id == old_id) else {
        return;
    };
    let old = g.members[pos].clone();
    // Whatever the old incarnation was waiting for, it is fenced now.
    if let Some((t, _)) = old.join_waiter {
        out.reply(
            t,
            Reply::Join(
                JoinGroupResponse::default()
                    .with_error_code(ErrorCode::FENCED_INSTANCE_ID.0)
                    .with_generation_id(-1)
                    .with_member_id(sb(old_id)),
            ),
        );
    }
    if let Some((t, _)) = old.sync_waiter {
        out.reply(
            t,
            Reply::Sync(
                SyncGroupResponse::default().with_error_code(ErrorCode::FENCED_INSTANCE_ID.0),
            ),
        );
    }
    let unchanged = old.protocols == template.protocols;
    let (token, version) = template.join_waiter.unwrap_or((0, 0));
    g.members[pos] = Member {
        id: new_id.clone(),
        assignment: old.assignment.clone(),
        join_waiter: None,
        ..template.clone()
    };
    if g.leader.as_deref() == Some(old_id) {
        g.leader = Some(new_id.clone());
    }
    match g.state {
        ClassicState::Stable if unchanged => {
            // No rebalance: the member gets its old assignment back at SyncGroup. A static
            // leader sees the members but must not reassign (KIP-814 skip_assignment).
            store_group(g, partition, out);
            let is_leader = g.leader.as_deref() == Some(new_id.as_str());
            // skip_assignment exists from JoinGroup v9; an older leader computes an assignment
            // that SyncGroup in Stable ignores (it answers the current one).
            let reply =
                join_response(g, &new_id, version).with_skip_assignment(is_leader && version >= 9);
            out.reply(token, Reply::Join(reply));
        }
        ClassicState::PreparingRebalance => {
            g.members[pos].join_waiter = Some((token, version));
            maybe_complete_join(g, now, partition, out);
        }
        _ => {
            g.members[pos].join_waiter = Some((token, version));
            prepare_rebalance(g, now, partition, out);
        }
    }
}

fn tick_classic(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    g.pending.retain(|_, deadline| *deadline > now);
    // Members awaiting a join or a sync response are kept alive by their pending request.
    let expired: Vec<String> = g
        .members
        .iter()
        .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
        .filter(|m| m.heartbeat_deadline <= now)
        .map(|m| m.id.clone())
        .collect();
    if !expired.is_empty() {
        for id in &expired {
            tracing::info!(group = %g.id, member = %id, "member session expired");
            remove_member(g, id, out);
        }
        membership_changed(g, now, partition, out);
    }
    match g.state {
        ClassicState::PreparingRebalance => maybe_complete_join(g, now, partition, out),
        ClassicState::CompletingRebalance if now >= g.sync_deadline => {
            // The leader never sent the assignment: members that did not sync are out.
            let absent: Vec<String> = g
                .members
                .iter()
                .filter(|m| m.sync_waiter.is_none())
                .map(|m| m.id.clone())
                .collect();
            for id in absent {
                remove_member(g, &id, out);
            }
            membership_changed(g, now, partition, out);
        }
        _ => {}
    }
}

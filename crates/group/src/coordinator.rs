//! The group coordinator's state machine: every group and committed offset of the
//! `__consumer_offsets` partitions it serves, which partitions those are, loading them, and the
//! timer.
//!
//! The broker runs one instance per partition it leads (a shard of its coordinator runtime).
//! Its state lives in [`TimelineMap`]s, so that the runtime can commit or undo each write (see
//! [`sluice_coordinator::timeline`]): write handlers change the latest state; the read APIs
//! (OffsetFetch, DescribeGroups, ListGroups, ConsumerGroupDescribe) answer from committed state.
//! What is copied into the timeline per write, and so what a failed write takes back:
//! - a group, whole (classic or consumer), when a write changes it. Its stored parts (members,
//!   generation, assignments, epochs) and its volatile parts go back together:
//!   - parked JoinGroup and SyncGroup requests: one parked before the failed write stays parked,
//!     as the restored group says, and is answered later; one parked by an undone write was
//!     that write's own request, which the runtime answers with the error.
//!   - member ids handed out (KIP-394) by an undone JoinGroup: gone; that JoinGroup was
//!     answered with the error, so its client never saw the id.
//!   - heartbeat and session deadlines: a heartbeat undone with the write before it loses its
//!     effect; the member's next heartbeat (every few seconds) sets it again.
//!   - rebalance, sync and initial-delay deadlines, a consumer group's target assignment and
//!     topic metadata: as they were; the next heartbeat or timer tick computes them again.
//! - each committed offset, per (group, topic, partition), and each offset pending in a
//!   transaction: only the entries a write changes.
//!
//! The member id counter is not part of the timeline: ids stay unique either way. The timer
//! ([`GroupCoordinator::tick`]) changes only groups with something due, so it copies nothing
//! when nothing expires.

use sluice_coordinator::{
    CoordinatorShard, Ownership, Partitions, RecordError, TimelineMap, Token, WriteId,
};
use sluice_protocol::error::ErrorCode;

use crate::classic_group::{answer_parked, tick_classic, ClassicGroup};
use crate::consumer::ConsumerGroup;
use crate::offsets::{OffsetKey, PendingKey};
use crate::output::{Output, Reply};
use crate::records::{self, OffsetValue, RecordKey, RecordValue};

pub use crate::classic_group::ClassicState;
pub use crate::offsets::{CommitPartition, FetchedOffset};

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

/// A group: classic or KIP-848 consumer.
#[derive(Debug, Clone)]
pub(crate) enum Group {
    Classic(ClassicGroup),
    Consumer(ConsumerGroup),
}

/// Every group and committed offset of the `__consumer_offsets` partitions this coordinator
/// serves.
#[derive(Debug)]
pub struct GroupCoordinator {
    pub(crate) config: GroupConfig,
    /// Which partitions this coordinator serves (see [`sluice_coordinator::ownership`]).
    /// invariant: `groups`, `offsets` and `pending_txn` hold nothing of a NotOwned partition.
    ownership: Partitions,
    pub(crate) groups: TimelineMap<String, Group>,
    /// Committed offsets.
    pub(crate) offsets: TimelineMap<OffsetKey, OffsetValue>,
    /// Offsets committed inside open transactions.
    pub(crate) pending_txn: TimelineMap<PendingKey, OffsetValue>,
    next_id: u64,
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
            groups: TimelineMap::new(),
            offsets: TimelineMap::new(),
            pending_txn: TimelineMap::new(),
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
    pub(crate) fn ensure_group(&mut self, group_id: &str, now: i64) {
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

    pub(crate) fn classic(&self, group: &str) -> Option<&ClassicGroup> {
        match self.groups.get(group) {
            Some(Group::Classic(g)) => Some(g),
            _ => None,
        }
    }

    pub(crate) fn classic_mut(&mut self, group: &str) -> Option<&mut ClassicGroup> {
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
        for (id, group) in self.groups.iter() {
            if let (true, Group::Classic(g)) = (mine(id), group) {
                answer_parked(g, ErrorCode::NOT_COORDINATOR, out);
            }
        }
        self.groups.discard(|g| mine(g));
        self.offsets.discard(|(g, _, _)| mine(g));
        self.pending_txn.discard(|(_, g, _, _)| mine(g));
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
    ) -> Result<(), RecordError> {
        let key = records::decode_key(bytes::Bytes::copy_from_slice(key))?;
        let value = match value {
            Some(v) => Some(records::decode_value(
                &key,
                bytes::Bytes::copy_from_slice(v),
            )?),
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
                self.offsets.insert((group, topic, partition), v);
            }
            (
                RecordKey::Offset {
                    group,
                    topic,
                    partition,
                },
                None,
            ) => {
                self.offsets.remove(&(group, topic, partition));
            }
            (RecordKey::Group { group }, Some(RecordValue::Group(v))) => {
                let g = ClassicGroup::load(&group, v, now);
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
                    .insert((producer_id, group, topic, partition), v);
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
                self.pending_txn
                    .remove(&(producer_id, group, topic, partition));
            }
            (key, _) => {
                return Err(RecordError(format!("value does not match key {key:?}")));
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Time

    /// Expires members, pending member ids, rebalance and sync deadlines. Call it often (the
    /// finest timeout it serves is its call interval). Groups with nothing due are not touched.
    pub fn tick(&mut self, now: i64, out: &mut Output) {
        let due: Vec<String> = self
            .groups
            .iter()
            .filter(|(id, _)| self.owns(self.partition_for(id)))
            .filter(|(_, g)| match g {
                Group::Classic(g) => g.needs_tick(now),
                Group::Consumer(g) => g.needs_tick(now),
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let partition = self.partition_for(&id);
            match self.groups.get_mut(&id) {
                Some(Group::Classic(g)) => tick_classic(g, now, partition, out),
                Some(Group::Consumer(g)) => g.tick(now, partition, out),
                None => {}
            }
        }
    }

    /// Groups this coordinator knows, for metrics and tests.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The classic group's committed state and generation, for tests and tools.
    pub fn classic_state(&self, group: &str) -> Option<(ClassicState, i32)> {
        match self.groups.get_committed(group) {
            Some(Group::Classic(g)) => Some((g.state, g.generation)),
            _ => None,
        }
    }
}

/// One `__consumer_offsets` partition's shard of the broker's coordinator runtime.
impl CoordinatorShard for GroupCoordinator {
    type Reply = Reply;

    fn error_reply(code: ErrorCode) -> Reply {
        Reply::Code(code)
    }

    fn fail_reply(reply: Reply, code: ErrorCode) -> Reply {
        reply.failed(code)
    }

    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now_ms: i64) -> Result<(), RecordError> {
        GroupCoordinator::replay(self, key, value, now_ms)
    }

    fn finish_loading(&mut self, partition: i32) {
        GroupCoordinator::finish_loading(self, partition);
    }

    fn begin_write(&mut self, id: WriteId) {
        self.groups.begin_write(id);
        self.offsets.begin_write(id);
        self.pending_txn.begin_write(id);
    }

    fn commit_through(&mut self, id: WriteId) {
        self.groups.commit_through(id);
        self.offsets.commit_through(id);
        self.pending_txn.commit_through(id);
    }

    fn revert_from(&mut self, id: WriteId) {
        self.groups.revert_from(id);
        self.offsets.revert_from(id);
        self.pending_txn.revert_from(id);
    }

    fn unload(&mut self, partition: i32) -> Vec<(Token, Reply)> {
        let mut out = Output::default();
        GroupCoordinator::unload(self, partition, &mut out);
        out.replies
    }
}

//! One v2 consumer instance: a Kafka consumer living on this node, with its own cluster client
//! logged in as the caller that created it.
//!
//! - Subscribed, it is a member of its group under KIP-848's protocol (ConsumerGroupHeartbeat):
//!   the coordinator assigns its partitions. It joins when it subscribes, heartbeats when a
//!   request comes and the interval the coordinator asked for has passed (and from the
//!   registry's background tick while idle), takes each assignment as it comes (the partitions
//!   taken away are dropped, committed first when it auto-commits), reports what it owns on the
//!   next heartbeat, and rejoins when fenced. It leaves when unsubscribed, deleted, expired or
//!   at shutdown.
//! - Assigned (`POST .../assignments`), it reads the partitions it was given, as a consumer
//!   without group membership; its commits are simple ones (no member, generation -1).
//! - A partition without a position starts at the group's committed offset, else per
//!   `auto.offset.reset`. Records are read with Fetch from every leader at once.
//! - Commits name the member and its epoch (OffsetCommit v9) while subscribed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, GroupId, OffsetCommitRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde_json::{json, Value};
use sluice_client::fetcher::{exchange, fetch_request, read_fetched, FetchLimits};
use sluice_client::group::group_client::GroupClient;
use sluice_client::wire::list_offsets::{self, EARLIEST, LATEST};
use sluice_client::wire::{ClusterClient, RequestError};

use super::format::{EmbeddedFormat, ValueDeserializer};
use super::RestError;
use crate::api::access::REQUEST_TIMEOUT;

/// A (topic, partition).
pub type TopicPartition = (String, i32);

const HEARTBEAT_VERSIONS: std::ops::RangeInclusive<i16> = 0..=1;
const OFFSET_COMMIT_VERSIONS: std::ops::RangeInclusive<i16> = 2..=9;
/// What a member may take to rebalance (KIP-848's rebalance timeout).
const REBALANCE_TIMEOUT_MS: i32 = 60_000;
/// How often a member without partitions asks for its assignment while a request waits.
const ASSIGNMENT_POLL: Duration = Duration::from_millis(200);
/// The most a decompressed batch may take.
const MAX_BATCH_BYTES: usize = 64 << 20;

const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_MEMBER_ID: i16 = 25;
const FENCED_MEMBER_EPOCH: i16 = 110;
const UNRELEASED_INSTANCE_ID: i16 = 111;

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    Earliest,
    Latest,
    None,
}

impl Reset {
    pub fn parse(text: &str) -> Option<Reset> {
        match text.to_ascii_lowercase().as_str() {
            "earliest" | "smallest" => Some(Reset::Earliest),
            "latest" | "largest" => Some(Reset::Latest),
            "none" => Some(Reset::None),
            _ => None,
        }
    }
}

/// The settings an instance is created with.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub format: EmbeddedFormat,
    pub reset: Reset,
    pub auto_commit: bool,
    pub fetch_min_bytes: i32,
    /// `consumer.request.timeout.ms`: the longest a records request waits.
    pub request_timeout: Duration,
}

struct Membership {
    topics: Vec<String>,
    member_id: String,
    /// 0 until the coordinator gave one (joining).
    epoch: i32,
    owned: BTreeSet<TopicPartition>,
    interval: Duration,
    next_heartbeat: Instant,
}

enum Mode {
    Idle,
    Subscribed(Membership),
    Assigned(Vec<TopicPartition>),
}

pub struct Instance {
    pub group: String,
    pub name: String,
    /// The user that created it (`None`: anonymous); only they may use it.
    pub owner: Option<String>,
    pub config: InstanceConfig,
    deserializer: ValueDeserializer,
    client: ClusterClient,
    mode: Mode,
    /// The next offset to read, per partition with a known position.
    positions: BTreeMap<TopicPartition, i64>,
    /// Positions as last committed by auto-commit.
    auto_committed: BTreeMap<TopicPartition, i64>,
    /// Topic id -> name, for assignments (which name topics by id).
    topic_names: BTreeMap<[u8; 16], String>,
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn deadline() -> Instant {
    Instant::now() + REQUEST_TIMEOUT
}

/// A random id (128 bits, hex), for member ids and instance names.
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the time still makes it unique on this node.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Instance {
    pub fn new(
        group: String,
        name: String,
        owner: Option<String>,
        config: InstanceConfig,
        client: ClusterClient,
        admin: std::sync::Arc<crate::AdminState>,
    ) -> Result<Instance, RestError> {
        Ok(Instance {
            deserializer: ValueDeserializer::for_format(config.format, admin)?,
            group,
            name,
            owner,
            config,
            client,
            mode: Mode::Idle,
            positions: BTreeMap::new(),
            auto_committed: BTreeMap::new(),
            topic_names: BTreeMap::new(),
        })
    }

    /// The subscribed topics (empty when not subscribed).
    pub fn subscription(&self) -> Vec<String> {
        match &self.mode {
            Mode::Subscribed(m) => m.topics.clone(),
            _ => Vec::new(),
        }
    }

    /// The partitions it reads now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        match &self.mode {
            Mode::Subscribed(m) => m.owned.iter().cloned().collect(),
            Mode::Assigned(list) => list.clone(),
            Mode::Idle => Vec::new(),
        }
    }

    pub async fn subscribe(&mut self, topics: Vec<String>) -> Result<(), RestError> {
        match &mut self.mode {
            Mode::Assigned(_) => {
                return Err(RestError::already_subscribed(
                    "Consumer cannot subscribe the the specified target because it has already \
                     been assigned partitions: delete the assignment (or the instance) first",
                ))
            }
            Mode::Subscribed(m) => m.topics = topics,
            Mode::Idle => {
                self.mode = Mode::Subscribed(Membership {
                    topics,
                    member_id: random_id(),
                    epoch: 0,
                    owned: BTreeSet::new(),
                    interval: Duration::from_secs(5),
                    next_heartbeat: Instant::now(),
                })
            }
        }
        self.heartbeat().await
    }

    pub async fn unsubscribe(&mut self) -> Result<(), RestError> {
        if matches!(self.mode, Mode::Subscribed(_)) {
            self.auto_commit().await;
            self.leave().await;
            self.positions.clear();
        }
        self.mode = Mode::Idle;
        Ok(())
    }

    pub fn assign(&mut self, partitions: Vec<TopicPartition>) -> Result<(), RestError> {
        if matches!(self.mode, Mode::Subscribed(_)) {
            return Err(RestError::already_subscribed(
                "Consumer cannot be assigned partitions because it has already subscribed to \
                 topics: delete the subscription first",
            ));
        }
        self.positions.retain(|tp, _| partitions.contains(tp));
        self.mode = Mode::Assigned(partitions);
        Ok(())
    }

    fn check_assigned(&self, partitions: &[TopicPartition]) -> Result<(), RestError> {
        let assigned = self.assignment();
        for (topic, partition) in partitions {
            if !assigned.iter().any(|(t, p)| t == topic && p == partition) {
                return Err(RestError::illegal_state(format!(
                    "No current assignment for partition {topic}-{partition}"
                )));
            }
        }
        Ok(())
    }

    /// Seeks each partition to its offset.
    pub fn seek(&mut self, offsets: Vec<(TopicPartition, i64)>) -> Result<(), RestError> {
        let partitions: Vec<TopicPartition> = offsets.iter().map(|(tp, _)| tp.clone()).collect();
        self.check_assigned(&partitions)?;
        for (tp, offset) in offsets {
            self.positions.insert(tp, offset);
        }
        Ok(())
    }

    /// Seeks the partitions to their first (`EARLIEST`) or next (`LATEST`) offset.
    pub async fn seek_to(
        &mut self,
        partitions: Vec<TopicPartition>,
        which: i64,
    ) -> Result<(), RestError> {
        self.check_assigned(&partitions)?;
        let found = self.list_offsets(&partitions, which).await?;
        self.positions.extend(found);
        Ok(())
    }

    async fn list_offsets(
        &mut self,
        partitions: &[TopicPartition],
        which: i64,
    ) -> Result<BTreeMap<TopicPartition, i64>, RestError> {
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for (topic, partition) in partitions {
            by_topic.entry(topic).or_default().push((*partition, which));
        }
        let mut found = BTreeMap::new();
        let deadline = deadline();
        for (topic, asked) in by_topic {
            let answers = list_offsets::list_offsets(
                &mut self.client,
                topic,
                &asked,
                list_offsets::READ_UNCOMMITTED,
                deadline,
            )
            .await;
            for (partition, answer) in answers {
                found.insert((topic.to_string(), partition), answer?.offset);
            }
        }
        Ok(found)
    }

    /// The group's committed offsets of `partitions` (those without one are left out), with
    /// their metadata.
    pub async fn committed(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, i64, String)>, RestError> {
        let mut groups = GroupClient::over(&mut self.client, deadline());
        let (all, _) = groups.all_committed_offsets(&self.group).await?;
        Ok(partitions
            .iter()
            .filter_map(|tp| {
                all.get(tp)
                    .map(|c| (tp.clone(), c.offset, c.metadata.clone()))
            })
            .collect())
    }

    /// Commits `offsets` (the next offset to read per partition) for the group, as this member
    /// when subscribed.
    pub async fn commit(&mut self, offsets: &[(TopicPartition, i64)]) -> Result<(), RestError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let (member_id, epoch) = match &self.mode {
            Mode::Subscribed(m) if m.epoch > 0 => (m.member_id.clone(), m.epoch),
            _ => (String::new(), -1),
        };
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
        for ((topic, partition), offset) in offsets {
            by_topic
                .entry(topic)
                .or_default()
                .push((*partition, *offset));
        }
        let topics: Vec<OffsetCommitRequestTopic> = by_topic
            .iter()
            .map(|(topic, partitions)| {
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(
                        partitions
                            .iter()
                            .map(|&(partition, offset)| {
                                OffsetCommitRequestPartition::default()
                                    .with_partition_index(partition)
                                    .with_committed_offset(offset)
                                    .with_committed_metadata(Some(StrBytes::default()))
                            })
                            .collect(),
                    )
            })
            .collect();
        let group = self.group.clone();
        let mut groups = GroupClient::over(&mut self.client, deadline());
        groups
            .at_coordinator::<OffsetCommitRequest, _>(
                &group,
                OFFSET_COMMIT_VERSIONS,
                |_| {
                    OffsetCommitRequest::default()
                        .with_group_id(GroupId(s(&group)))
                        .with_generation_id_or_member_epoch(epoch)
                        .with_member_id(s(&member_id))
                        .with_topics(topics.clone())
                },
                |response, _| {
                    for t in &response.topics {
                        for p in &t.partitions {
                            if p.error_code != 0 {
                                return Err(RequestError::broker(
                                    p.error_code,
                                    &format!(
                                        "committing {}-{}",
                                        t.name.as_str(),
                                        p.partition_index
                                    ),
                                    None,
                                ));
                            }
                        }
                    }
                    Ok(())
                },
            )
            .await?;
        Ok(())
    }

    /// The positions of what it reads now.
    pub fn consumed_positions(&self) -> Vec<(TopicPartition, i64)> {
        let assigned = self.assignment();
        self.positions
            .iter()
            .filter(|(tp, _)| assigned.contains(tp))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect()
    }

    /// With `auto.commit.enable`: commits the positions that moved since the last commit;
    /// failures are logged (the next one tries again).
    async fn auto_commit(&mut self) {
        if !self.config.auto_commit {
            return;
        }
        let moved: Vec<(TopicPartition, i64)> = self
            .consumed_positions()
            .into_iter()
            .filter(|(tp, o)| self.auto_committed.get(tp) != Some(o))
            .collect();
        match self.commit(&moved).await {
            Ok(()) => self.auto_committed.extend(moved),
            Err(e) => tracing::debug!(
                "rest proxy consumer {}/{}: auto-commit failed: {}",
                self.group,
                self.name,
                e.message
            ),
        }
    }

    /// Whether a heartbeat is due (the background tick asks).
    pub fn heartbeat_due(&self) -> bool {
        matches!(&self.mode, Mode::Subscribed(m) if Instant::now() >= m.next_heartbeat)
    }

    /// One ConsumerGroupHeartbeat: joins (epoch 0), or reports what it owns; takes the
    /// assignment answered. Fenced or unknown, it rejoins on the next one.
    pub async fn heartbeat(&mut self) -> Result<(), RestError> {
        let Mode::Subscribed(m) = &self.mode else {
            return Ok(());
        };
        let group = self.group.clone();
        let member_id = m.member_id.clone();
        let epoch = m.epoch;
        let topics: Vec<TopicName> = m.topics.iter().map(|t| TopicName(s(t))).collect();
        let owned_names: BTreeSet<String> = m.owned.iter().map(|(t, _)| t.clone()).collect();
        let ids: BTreeMap<String, [u8; 16]> = self
            .topic_names
            .iter()
            .map(|(id, name)| (name.clone(), *id))
            .collect();
        let owned: Vec<TopicPartitions> = owned_names
            .iter()
            .filter_map(|name| {
                let id = ids.get(name)?;
                Some(
                    TopicPartitions::default()
                        .with_topic_id(uuid::Uuid::from_bytes(*id))
                        .with_partitions(
                            m.owned
                                .iter()
                                .filter(|(t, _)| t == name)
                                .map(|(_, p)| *p)
                                .collect(),
                        ),
                )
            })
            .collect();
        let mut groups = GroupClient::over(&mut self.client, deadline());
        let answer = groups
            .at_coordinator::<ConsumerGroupHeartbeatRequest, _>(
                &group,
                HEARTBEAT_VERSIONS,
                |_| {
                    ConsumerGroupHeartbeatRequest::default()
                        .with_group_id(GroupId(s(&group)))
                        .with_member_id(s(&member_id))
                        .with_member_epoch(epoch)
                        .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
                        .with_subscribed_topic_names(Some(topics.clone()))
                        .with_topic_partitions(Some(owned.clone()))
                },
                |response, _| {
                    if response.error_code != 0 {
                        return Err(RequestError::broker(
                            response.error_code,
                            "ConsumerGroupHeartbeat",
                            response.error_message.as_deref(),
                        ));
                    }
                    Ok(response)
                },
            )
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(RequestError::Broker { code, .. })
                if code == UNKNOWN_MEMBER_ID
                    || code == FENCED_MEMBER_EPOCH
                    || code == UNRELEASED_INSTANCE_ID =>
            {
                // Fenced: give up the partitions (without committing: they may be another
                // member's now) and join again at once.
                if let Mode::Subscribed(m) = &mut self.mode {
                    for tp in std::mem::take(&mut m.owned) {
                        self.positions.remove(&tp);
                    }
                    m.epoch = 0;
                    m.next_heartbeat = Instant::now();
                }
                return Ok(());
            }
            Err(e) => {
                if let Mode::Subscribed(m) = &mut self.mode {
                    m.next_heartbeat = Instant::now() + ASSIGNMENT_POLL;
                }
                return Err(e.into());
            }
        };
        // Topic ids of the assignment this node does not know yet.
        let new_assignment: Option<Vec<([u8; 16], Vec<i32>)>> = response.assignment.map(|a| {
            a.topic_partitions
                .into_iter()
                .map(|tp| (*tp.topic_id.as_bytes(), tp.partitions))
                .collect()
        });
        if let Some(assignment) = &new_assignment {
            if assignment
                .iter()
                .any(|(id, _)| !self.topic_names.contains_key(id))
            {
                self.learn_topic_ids().await;
            }
        }
        let mut dropped = Vec::new();
        if let Mode::Subscribed(m) = &mut self.mode {
            if let Some(id) = response.member_id.as_deref().filter(|id| !id.is_empty()) {
                m.member_id = id.to_string();
            }
            m.epoch = response.member_epoch;
            m.interval =
                Duration::from_millis(u64::try_from(response.heartbeat_interval_ms).unwrap_or(0))
                    .max(Duration::from_millis(100));
            m.next_heartbeat = Instant::now() + m.interval;
            if let Some(assignment) = new_assignment {
                let owned: BTreeSet<TopicPartition> = assignment
                    .into_iter()
                    .filter_map(|(id, partitions)| {
                        let name = self.topic_names.get(&id)?.clone();
                        Some(partitions.into_iter().map(move |p| (name.clone(), p)))
                    })
                    .flatten()
                    .collect();
                dropped = m.owned.difference(&owned).cloned().collect();
                m.owned = owned;
            }
        }
        if !dropped.is_empty() {
            // Taken away: commit what was read of them before another member reads them.
            if self.config.auto_commit {
                let moved: Vec<(TopicPartition, i64)> = dropped
                    .iter()
                    .filter_map(|tp| self.positions.get(tp).map(|o| (tp.clone(), *o)))
                    .filter(|(tp, o)| self.auto_committed.get(tp) != Some(o))
                    .collect();
                if let Err(e) = self.commit(&moved).await {
                    tracing::debug!(
                        "rest proxy consumer: commit of revoked partitions failed: {}",
                        e.message
                    );
                }
            }
            for tp in dropped {
                self.positions.remove(&tp);
            }
        }
        Ok(())
    }

    async fn learn_topic_ids(&mut self) {
        if let Ok(metadata) = self.client.metadata(None, false, deadline()).await {
            for t in metadata.topics {
                if let Some(id) = t.topic_id {
                    self.topic_names.insert(id, t.name);
                }
            }
        }
    }

    /// Leaves the group (a member leaving with epoch -1); failures are logged.
    async fn leave(&mut self) {
        let Mode::Subscribed(m) = &self.mode else {
            return;
        };
        if m.epoch <= 0 {
            return;
        }
        let group = self.group.clone();
        let member_id = m.member_id.clone();
        let mut groups =
            GroupClient::over(&mut self.client, Instant::now() + Duration::from_secs(5));
        let left = groups
            .at_coordinator::<ConsumerGroupHeartbeatRequest, _>(
                &group,
                HEARTBEAT_VERSIONS,
                |_| {
                    ConsumerGroupHeartbeatRequest::default()
                        .with_group_id(GroupId(s(&group)))
                        .with_member_id(s(&member_id))
                        .with_member_epoch(-1)
                },
                |response, _| match response.error_code {
                    0 => Ok(()),
                    code => Err(RequestError::broker(code, "leaving the group", None)),
                },
            )
            .await;
        if let Err(e) = left {
            tracing::debug!(
                "rest proxy consumer {}/{}: leaving failed: {e}",
                self.group,
                self.name
            );
        }
    }

    /// Closes the instance: commits (with auto-commit) and leaves its group.
    pub async fn close(&mut self) {
        self.auto_commit().await;
        self.leave().await;
        self.mode = Mode::Idle;
    }

    /// Positions for assigned partitions that have none: the committed offset, else
    /// `auto.offset.reset`.
    async fn init_positions(&mut self, partitions: &[TopicPartition]) -> Result<(), RestError> {
        let missing: Vec<TopicPartition> = partitions
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let committed = self.committed(&missing).await?;
        let mut rest = Vec::new();
        for tp in missing {
            match committed.iter().find(|(c, _, _)| *c == tp) {
                Some((_, offset, _)) => {
                    self.positions.insert(tp, *offset);
                }
                None => rest.push(tp),
            }
        }
        self.reset_positions(&rest).await
    }

    async fn reset_positions(&mut self, partitions: &[TopicPartition]) -> Result<(), RestError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let which = match self.config.reset {
            Reset::Earliest => EARLIEST,
            Reset::Latest => LATEST,
            Reset::None => {
                let (topic, partition) = &partitions[0];
                return Err(RestError::new(
                    50002,
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "Kafka error: no committed offset for {topic}-{partition} and auto.offset.reset is none"
                    ),
                ));
            }
        };
        let found = self.list_offsets(partitions, which).await?;
        self.positions.extend(found);
        Ok(())
    }

    /// `GET .../records`: what arrives within `timeout` (at most about `max_bytes`), as
    /// `{"topic", "key", "value", "partition", "offset"}` in the instance's format.
    pub async fn records(
        &mut self,
        timeout: Duration,
        max_bytes: i32,
    ) -> Result<Vec<Value>, RestError> {
        if matches!(self.mode, Mode::Idle) {
            // As Kafka's consumer refuses to poll.
            return Err(RestError::illegal_state(
                "Consumer is not subscribed to any topics or assigned any partitions",
            ));
        }
        let until = Instant::now() + timeout;
        // A member heartbeats when due; one without partitions asks until some come.
        loop {
            if self.heartbeat_due() {
                self.heartbeat().await?;
            }
            let waiting = matches!(&self.mode, Mode::Subscribed(m) if m.owned.is_empty());
            if !waiting || Instant::now() + ASSIGNMENT_POLL >= until {
                break;
            }
            tokio::time::sleep(ASSIGNMENT_POLL).await;
            if let Mode::Subscribed(m) = &mut self.mode {
                m.next_heartbeat = Instant::now();
            }
        }
        self.auto_commit().await;
        let partitions = self.assignment();
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        self.init_positions(&partitions).await?;
        let topics: Vec<String> = partitions
            .iter()
            .map(|(t, _)| t.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let metadata = self
            .client
            .metadata(Some(&topics), false, deadline())
            .await?;
        // Leader -> topic -> (partition, offset).
        let mut by_leader: BTreeMap<i32, BTreeMap<String, Vec<(i32, i64)>>> = BTreeMap::new();
        for (topic, partition) in &partitions {
            let Some(t) = metadata.topic(topic) else {
                continue;
            };
            if t.error_code == 29 {
                return Err(RestError::kafka(29, &format!("reading topic '{topic}'")));
            }
            let Some(leader) = t
                .partitions
                .iter()
                .find(|p| p.partition == *partition)
                .map(|p| p.leader_id)
                .filter(|l| *l >= 0)
            else {
                continue;
            };
            let Some(offset) = self.positions.get(&(topic.clone(), *partition)) else {
                continue;
            };
            by_leader
                .entry(leader)
                .or_default()
                .entry(topic.clone())
                .or_default()
                .push((*partition, *offset));
        }
        let wait = until.saturating_duration_since(Instant::now());
        let limits = FetchLimits {
            max_wait_ms: i32::try_from(wait.as_millis()).unwrap_or(i32::MAX),
            min_bytes: self.config.fetch_min_bytes,
            max_bytes,
            partition_max_bytes: max_bytes,
            isolation_level: list_offsets::READ_UNCOMMITTED,
        };
        let timeout = wait + self.client.request_timeout();
        let mut exchanges = Vec::new();
        let mut asked: Vec<BTreeMap<String, Vec<(i32, i64)>>> = Vec::new();
        for (leader, topics) in by_leader {
            let Ok(connection) = self.client.checkout(leader, deadline()).await else {
                continue;
            };
            let mut request = None;
            for (topic, partitions) in &topics {
                let one = fetch_request(topic, partitions, limits);
                match &mut request {
                    None => request = Some(one),
                    Some(r) => {
                        let r: &mut kafka_protocol::messages::FetchRequest = r;
                        r.topics.extend(one.topics);
                    }
                }
            }
            let Some(request) = request else {
                self.client.checkin(connection);
                continue;
            };
            exchanges.push(exchange(connection, request, timeout));
            asked.push(topics);
        }
        let answers = join_all(exchanges).await;
        let mut pending = Vec::new();
        let mut reset = Vec::new();
        for ((connection, answer), topics) in answers.into_iter().zip(asked) {
            if let Some(connection) = connection {
                self.client.checkin(connection);
            }
            let response = match answer {
                Ok(response) => response,
                // A leader that cannot be reached now: the next request asks again.
                Err(RequestError::Transport(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            for t in response.responses {
                let topic = t.topic.0.to_string();
                let Some(asked_partitions) = topics.get(&topic) else {
                    continue;
                };
                for data in t.partitions {
                    let partition = data.partition_index;
                    let Some(&(_, offset)) = asked_partitions.iter().find(|(p, _)| *p == partition)
                    else {
                        continue;
                    };
                    match data.error_code {
                        0 => {}
                        OFFSET_OUT_OF_RANGE => {
                            reset.push((topic.clone(), partition));
                            continue;
                        }
                        29 => {
                            return Err(RestError::kafka(29, &format!("reading topic '{topic}'")))
                        }
                        // Leader moves and the like: asked again on the next request.
                        _ => continue,
                    }
                    let read = read_fetched(
                        data,
                        offset,
                        list_offsets::READ_UNCOMMITTED,
                        MAX_BATCH_BYTES,
                    )
                    .map_err(|e| {
                        RestError::new(
                            50002,
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            format!("Kafka error: cannot read {topic}-{partition}: {e}"),
                        )
                    })?;
                    for (record, _) in read.records {
                        pending.push((topic.clone(), partition, record));
                    }
                    self.positions.insert((topic.clone(), partition), read.next);
                }
            }
        }
        // Schemas of the records' ids first (the registry formats), then each record.
        self.deserializer
            .prepare(
                pending
                    .iter()
                    .flat_map(|(_, _, r)| [r.key.as_ref(), r.value.as_ref()]),
            )
            .await?;
        let mut out = Vec::with_capacity(pending.len());
        for (topic, partition, record) in pending {
            let what = format!(
                "topic '{topic}' partition {partition} offset {}",
                record.offset
            );
            out.push(json!({
                "topic": topic,
                "key": self.deserializer.deserialize(&what, record.key.as_ref())?,
                "value": self.deserializer.deserialize(&what, record.value.as_ref())?,
                "partition": partition,
                "offset": record.offset,
            }));
        }
        if !reset.is_empty() {
            for tp in &reset {
                self.positions.remove(tp);
            }
            self.reset_positions(&reset).await?;
        }
        Ok(out)
    }
}

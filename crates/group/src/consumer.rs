//! Groups of the KIP-848 consumer protocol: the broker computes the assignment and each member
//! reconciles towards it through ConsumerGroupHeartbeat.
//!
//! Epochs: the group epoch moves whenever membership, a subscription or the metadata of a
//! subscribed topic changes; the target assignment is recomputed at that epoch (the assignment
//! epoch). A member catches up with the target in steps: first it gives up the partitions it no
//! longer gets (they are left out of the assignment it is sent; it acknowledges by reporting
//! what it owns), then it moves to the assignment epoch and receives the new partitions that no
//! other member still holds; partitions still held elsewhere follow on later heartbeats, once
//! released. A partition is never owned by two members at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kafka_protocol::messages::consumer_group_describe_response::{
    self as describe, DescribedGroup, Member as DescribedMember,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

use crate::assignors::{assign_range, assign_uniform, intersect, minus, union_into, Partitions};
use crate::coordinator::{Group, GroupConfig, GroupCoordinator};
use crate::output::{Client, Output, Reply, Token};
use crate::records::{ConsumerGroupValue, ConsumerMemberValue, RecordKey, RecordValue};

/// The topics that exist, as the coordinator needs them: by name (id, partition count) and the
/// name of each id.
#[derive(Debug, Default, Clone)]
pub struct TopicsView {
    pub by_name: HashMap<String, (Uuid, i32)>,
    pub by_id: HashMap<Uuid, String>,
}

impl TopicsView {
    pub fn insert(&mut self, name: &str, id: Uuid, partitions: i32) {
        self.by_name.insert(name.to_string(), (id, partitions));
        self.by_id.insert(id, name.to_string());
    }
}

/// Member epoch values with a meaning of their own.
const JOIN_EPOCH: i32 = 0;
const LEAVE_EPOCH: i32 = -1;
const STATIC_LEAVE_EPOCH: i32 = -2;

#[derive(Debug, Clone)]
pub(crate) struct ConsumerMember {
    id: String,
    instance_id: Option<String>,
    rack_id: Option<String>,
    client_id: String,
    client_host: String,
    subscribed: Vec<String>,
    server_assignor: Option<String>,
    rebalance_timeout_ms: i32,
    epoch: i32,
    previous_epoch: i32,
    /// What the member owns (as we last told it).
    assigned: Partitions,
    /// Taken from it by the target; owned until it acknowledges.
    revoking: Partitions,
    session_deadline: i64,
    revocation_deadline: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ConsumerGroup {
    id: String,
    group_epoch: i32,
    assignment_epoch: i32,
    members: Vec<ConsumerMember>,
    /// The target assignment at `assignment_epoch`, by member id.
    target: HashMap<String, Partitions>,
    /// Subscribed topics' (id, partitions) when the target was computed.
    metadata: BTreeMap<String, (Uuid, i32)>,
    empty_since: i64,
    /// The last record written, to write only changes.
    last_record: Option<ConsumerGroupValue>,
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl ConsumerGroup {
    fn new(id: &str, now: i64) -> ConsumerGroup {
        ConsumerGroup {
            id: id.to_string(),
            group_epoch: 0,
            assignment_epoch: 0,
            members: Vec::new(),
            target: HashMap::new(),
            metadata: BTreeMap::new(),
            empty_since: now,
            last_record: None,
        }
    }

    pub(crate) fn load(id: &str, v: ConsumerGroupValue, now: i64, config: &GroupConfig) -> Self {
        let mut g = ConsumerGroup::new(id, now);
        g.group_epoch = v.group_epoch;
        g.assignment_epoch = v.assignment_epoch;
        for m in &v.members {
            let assigned: Partitions = m
                .assigned
                .iter()
                .map(|(t, ps)| (t.clone(), ps.iter().copied().collect()))
                .collect();
            g.target.insert(m.member_id.clone(), assigned.clone());
            g.members.push(ConsumerMember {
                id: m.member_id.clone(),
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed: m.subscribed_topics.clone(),
                server_assignor: m.server_assignor.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                epoch: m.member_epoch,
                previous_epoch: m.member_epoch,
                assigned,
                revoking: Partitions::new(),
                session_deadline: now + i64::from(config.consumer_session_timeout_ms),
                revocation_deadline: 0,
            });
        }
        g.last_record = Some(v);
        g
    }

    pub(crate) fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.group_epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .iter()
            .any(|m| m.epoch != self.assignment_epoch || !m.revoking.is_empty())
        {
            "Reconciling"
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
        let set: BTreeSet<String> = self
            .members
            .iter()
            .flat_map(|m| m.subscribed.iter().cloned())
            .collect();
        set.into_iter().collect()
    }

    fn member(&self, id: &str) -> Option<&ConsumerMember> {
        self.members.iter().find(|m| m.id == id)
    }

    pub(crate) fn check_commit(&self, member_id: &str, epoch: i32) -> Option<ErrorCode> {
        if member_id.is_empty() && epoch < 0 {
            return (!self.members.is_empty()).then_some(ErrorCode::UNKNOWN_MEMBER_ID);
        }
        match self.member(member_id) {
            None => Some(ErrorCode::UNKNOWN_MEMBER_ID),
            Some(m) if m.epoch != epoch => Some(ErrorCode::STALE_MEMBER_EPOCH),
            Some(_) => None,
        }
    }

    pub(crate) fn check_fetch(&self, member_id: &str, epoch: i32) -> Option<ErrorCode> {
        if epoch < 0 {
            return None;
        }
        self.check_commit(member_id, epoch)
    }

    fn remove_member(&mut self, id: &str, now: i64) {
        self.members.retain(|m| m.id != id);
        self.target.remove(id);
        self.group_epoch += 1;
        if self.members.is_empty() {
            self.empty_since = now;
        }
    }

    /// Whether [`ConsumerGroup::tick`] would remove a member at `now`.
    pub(crate) fn needs_tick(&self, now: i64) -> bool {
        self.members.iter().any(|m| {
            m.session_deadline <= now || (!m.revoking.is_empty() && m.revocation_deadline <= now)
        })
    }

    /// Removes members whose session ended or who kept revoked partitions too long.
    pub(crate) fn tick(&mut self, now: i64, partition: i32, out: &mut Output) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|m| {
                m.session_deadline <= now
                    || (!m.revoking.is_empty() && m.revocation_deadline <= now)
            })
            .map(|m| m.id.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in &expired {
            tracing::info!(group = %self.id, member = %id, "consumer group member expired");
            self.remove_member(id, now);
        }
        // The target is recomputed at the next heartbeat (the topic view comes with it).
        self.store(partition, out);
    }

    fn to_record(&self) -> ConsumerGroupValue {
        ConsumerGroupValue {
            group_epoch: self.group_epoch,
            assignment_epoch: self.assignment_epoch,
            members: self
                .members
                .iter()
                .map(|m| {
                    let mut owned = m.assigned.clone();
                    union_into(&mut owned, &m.revoking);
                    ConsumerMemberValue {
                        member_id: m.id.clone(),
                        instance_id: m.instance_id.clone(),
                        rack_id: m.rack_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        subscribed_topics: m.subscribed.clone(),
                        server_assignor: m.server_assignor.clone(),
                        rebalance_timeout_ms: m.rebalance_timeout_ms,
                        member_epoch: m.epoch,
                        assigned: owned
                            .into_iter()
                            .map(|(t, ps)| (t, ps.into_iter().collect()))
                            .collect(),
                    }
                })
                .collect(),
        }
    }

    /// Writes the group's record if it changed since the last write.
    fn store(&mut self, partition: i32, out: &mut Output) {
        let record = self.to_record();
        if self.last_record.as_ref() == Some(&record) {
            return;
        }
        out.write(
            partition,
            &RecordKey::ConsumerGroup {
                group: self.id.clone(),
            },
            Some(&RecordValue::ConsumerGroup(record.clone())),
        );
        self.last_record = Some(record);
    }

    /// Bumps the group epoch when the subscribed topics' metadata changed.
    fn refresh_metadata(&mut self, topics: &TopicsView) {
        let mut current = BTreeMap::new();
        for t in self.subscribed_topics() {
            if let Some(meta) = topics.by_name.get(&t) {
                current.insert(t, *meta);
            }
        }
        if current != self.metadata {
            self.metadata = current;
            self.group_epoch += 1;
        }
    }

    /// The assignor a member asked for (the first member that asked), else the default.
    fn assignor(&self, default: &str) -> String {
        self.members
            .iter()
            .find_map(|m| m.server_assignor.clone())
            .unwrap_or_else(|| default.to_string())
    }

    fn compute_target(&mut self, assignor: &str) {
        let members: Vec<(String, Vec<String>)> = self
            .members
            .iter()
            .map(|m| (m.id.clone(), m.subscribed.clone()))
            .collect();
        self.target = match assignor {
            "range" => assign_range(&members, &self.metadata),
            _ => assign_uniform(&members, &self.metadata, &self.target),
        };
        self.assignment_epoch = self.group_epoch;
    }

    /// Moves member `idx` towards its target. `owned`: what the member reported owning, if it
    /// did. Returns whether its epoch or assignment changed.
    fn reconcile(&mut self, idx: usize, owned: Option<&Partitions>, now: i64) -> bool {
        let target = self
            .target
            .get(&self.members[idx].id)
            .cloned()
            .unwrap_or_default();
        let before = (
            self.members[idx].epoch,
            self.members[idx].assigned.clone(),
            self.members[idx].revoking.clone(),
        );
        // A revocation is acknowledged once the member reports owning none of it.
        if !self.members[idx].revoking.is_empty() {
            if let Some(owned) = owned {
                if intersect(owned, &self.members[idx].revoking).is_empty() {
                    self.members[idx].revoking.clear();
                }
            }
        }
        if self.members[idx].revoking.is_empty() {
            let m = &self.members[idx];
            let kept = intersect(&m.assigned, &target);
            let revoke = minus(&m.assigned, &target);
            if !revoke.is_empty() {
                let m = &mut self.members[idx];
                m.assigned = kept;
                m.revoking = revoke;
                m.revocation_deadline = now + i64::from(m.rebalance_timeout_ms.max(0));
            } else {
                // Everything it keeps is in the target: move to the assignment epoch and take
                // the new partitions no one else holds.
                let mut held = Partitions::new();
                for (i, other) in self.members.iter().enumerate() {
                    if i != idx {
                        union_into(&mut held, &other.assigned);
                        union_into(&mut held, &other.revoking);
                    }
                }
                let free = minus(&minus(&target, &kept), &held);
                let assignment_epoch = self.assignment_epoch;
                let m = &mut self.members[idx];
                if m.epoch != assignment_epoch {
                    m.previous_epoch = m.epoch;
                    m.epoch = assignment_epoch;
                }
                let mut assigned = kept;
                union_into(&mut assigned, &free);
                m.assigned = assigned;
            }
        }
        let m = &self.members[idx];
        before != (m.epoch, m.assigned.clone(), m.revoking.clone())
    }

    fn describe(&self, topics: &TopicsView, assignor: &str) -> DescribedGroup {
        let to_wire = |p: &Partitions| -> describe::Assignment {
            describe::Assignment::default().with_topic_partitions(
                p.iter()
                    .filter_map(|(t, ps)| {
                        let (id, _) = topics.by_name.get(t)?;
                        Some(
                            describe::TopicPartitions::default()
                                .with_topic_id(*id)
                                .with_topic_name(TopicName(sb(t)))
                                .with_partitions(ps.iter().copied().collect()),
                        )
                    })
                    .collect(),
            )
        };
        DescribedGroup::default()
            .with_group_id(GroupId(sb(&self.id)))
            .with_group_state(sb(self.state_name()))
            .with_group_epoch(self.group_epoch)
            .with_assignment_epoch(self.assignment_epoch)
            .with_assignor_name(sb(assignor))
            .with_authorized_operations(i32::MIN)
            .with_members(
                self.members
                    .iter()
                    .map(|m| {
                        let mut owned = m.assigned.clone();
                        union_into(&mut owned, &m.revoking);
                        DescribedMember::default()
                            .with_member_id(sb(&m.id))
                            .with_instance_id(m.instance_id.as_deref().map(sb))
                            .with_rack_id(m.rack_id.as_deref().map(sb))
                            .with_member_epoch(m.epoch)
                            .with_client_id(sb(&m.client_id))
                            .with_client_host(sb(&m.client_host))
                            .with_subscribed_topic_names(
                                m.subscribed.iter().map(|t| TopicName(sb(t))).collect(),
                            )
                            .with_assignment(to_wire(&owned))
                            .with_target_assignment(to_wire(
                                &self.target.get(&m.id).cloned().unwrap_or_default(),
                            ))
                            .with_member_type(1)
                    })
                    .collect(),
            )
    }
}

fn heartbeat_error(code: ErrorCode, message: &str) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(code.0)
        .with_error_message(Some(sb(message)))
        .with_member_epoch(-1)
}

impl GroupCoordinator {
    fn assignor_for(&self, requested: Option<&str>) -> Result<String, ErrorCode> {
        match requested {
            None => Ok(self
                .config
                .consumer_assignors
                .first()
                .cloned()
                .unwrap_or_else(|| "uniform".into())),
            Some(a) if self.config.consumer_assignors.iter().any(|c| c == a) => Ok(a.to_string()),
            Some(_) => Err(ErrorCode::UNSUPPORTED_ASSIGNOR),
        }
    }

    /// ConsumerGroupHeartbeat (KIP-848).
    #[allow(clippy::too_many_arguments)]
    pub fn consumer_heartbeat(
        &mut self,
        now: i64,
        token: Token,
        version: i16,
        client: &Client,
        req: ConsumerGroupHeartbeatRequest,
        topics: &TopicsView,
        out: &mut Output,
    ) {
        let reply = self.consumer_heartbeat_inner(now, version, client, req, topics, out);
        out.replies.push((token, Reply::ConsumerHeartbeat(reply)));
    }

    fn consumer_heartbeat_inner(
        &mut self,
        now: i64,
        version: i16,
        client: &Client,
        req: ConsumerGroupHeartbeatRequest,
        topics: &TopicsView,
        out: &mut Output,
    ) -> ConsumerGroupHeartbeatResponse {
        let group_id = req.group_id.to_string();
        let mut member_id = req.member_id.to_string();
        let epoch = req.member_epoch;
        if group_id.is_empty() {
            return heartbeat_error(ErrorCode::INVALID_REQUEST, "GroupId can't be empty.");
        }
        if req.subscribed_topic_regex.is_some() && req.subscribed_topic_names.is_none() {
            return heartbeat_error(
                ErrorCode::INVALID_REQUEST,
                "SubscribedTopicRegex is not supported by this broker; subscribe by names.",
            );
        }
        if epoch == JOIN_EPOCH {
            if req.rebalance_timeout_ms < 0 && version == 0 {
                return heartbeat_error(
                    ErrorCode::INVALID_REQUEST,
                    "RebalanceTimeoutMs must be provided in first request.",
                );
            }
            if req.subscribed_topic_names.is_none() {
                return heartbeat_error(
                    ErrorCode::INVALID_REQUEST,
                    "SubscribedTopicNames must be set in first request.",
                );
            }
            if version >= 1 && member_id.is_empty() {
                return heartbeat_error(ErrorCode::INVALID_REQUEST, "MemberId can't be empty.");
            }
        } else if member_id.is_empty() {
            return heartbeat_error(ErrorCode::INVALID_REQUEST, "MemberId can't be empty.");
        } else if epoch < STATIC_LEAVE_EPOCH {
            return heartbeat_error(
                ErrorCode::INVALID_REQUEST,
                &format!("MemberEpoch {epoch} is invalid."),
            );
        }
        let default_assignor = match self.assignor_for(None) {
            Ok(a) => a,
            Err(code) => return heartbeat_error(code, "no assignor configured"),
        };
        match self.assignor_for(req.server_assignor.as_deref()) {
            Ok(_) => {}
            Err(code) => {
                return heartbeat_error(
                    code,
                    &format!(
                        "ServerAssignor {} is not supported; supported: {}.",
                        req.server_assignor.as_deref().unwrap_or(""),
                        self.config.consumer_assignors.join(", ")
                    ),
                )
            }
        }
        // Kafka validates the request before it reaches the group's partition.
        if let Some(code) = self.coordinator_error(&group_id) {
            return heartbeat_error(code, sluice_coordinator::ownership::error_message(code));
        }
        let partition = self.partition_for(&group_id);
        match self.groups.get(&group_id) {
            Some(Group::Classic(g)) if !g.is_empty_classic() => {
                return heartbeat_error(
                    ErrorCode::GROUP_ID_NOT_FOUND,
                    &format!("Group {group_id} is a classic group with members."),
                );
            }
            Some(Group::Consumer(_)) => {}
            _ => {
                if epoch != JOIN_EPOCH {
                    return heartbeat_error(
                        ErrorCode::UNKNOWN_MEMBER_ID,
                        &format!("Member {member_id} is not a member of group {group_id}."),
                    );
                }
                // A new group (or an empty classic one, whose offsets carry over).
                if let Some(Group::Classic(_)) = self.groups.get(&group_id) {
                    out.write(
                        partition,
                        &RecordKey::Group {
                            group: group_id.clone(),
                        },
                        None,
                    );
                }
                self.groups.insert(
                    group_id.clone(),
                    Group::Consumer(ConsumerGroup::new(&group_id, now)),
                );
            }
        }
        if epoch == JOIN_EPOCH && member_id.is_empty() {
            member_id = uuid::Uuid::new_v4().simple().to_string();
        }
        let session_ms = i64::from(self.config.consumer_session_timeout_ms);
        let interval = self.config.consumer_heartbeat_interval_ms;
        let max_size = self.config.consumer_max_size;
        let Some(Group::Consumer(g)) = self.groups.get_mut(&group_id) else {
            return heartbeat_error(ErrorCode::UNKNOWN_SERVER_ERROR, "group vanished");
        };

        // Leaving.
        if epoch == LEAVE_EPOCH || epoch == STATIC_LEAVE_EPOCH {
            let Some(idx) = g.members.iter().position(|m| m.id == member_id) else {
                return heartbeat_error(
                    ErrorCode::UNKNOWN_MEMBER_ID,
                    &format!("Member {member_id} is not a member of group {group_id}."),
                );
            };
            if epoch == STATIC_LEAVE_EPOCH && g.members[idx].instance_id.is_some() {
                // A static member leaves for now: it keeps its partitions for its session.
                let m = &mut g.members[idx];
                m.previous_epoch = m.epoch;
                m.epoch = STATIC_LEAVE_EPOCH;
            } else {
                g.remove_member(&member_id, now);
                g.refresh_metadata(topics);
                let assignor = g.assignor(&default_assignor);
                g.compute_target(&assignor);
            }
            g.store(partition, out);
            return ConsumerGroupHeartbeatResponse::default()
                .with_member_id(Some(sb(&member_id)))
                .with_member_epoch(epoch)
                .with_heartbeat_interval_ms(0);
        }

        let owned: Option<Partitions> = req.topic_partitions.as_ref().map(|tps| {
            let mut p = Partitions::new();
            for tp in tps {
                if let Some(name) = topics.by_id.get(&tp.topic_id) {
                    p.entry(name.clone())
                        .or_default()
                        .extend(tp.partitions.iter().copied());
                }
            }
            p
        });

        let mut idx = g.members.iter().position(|m| m.id == member_id);
        if epoch == JOIN_EPOCH {
            if let Some(instance) = req.instance_id.as_deref() {
                if let Some(i) = g
                    .members
                    .iter()
                    .position(|m| m.instance_id.as_deref() == Some(instance) && m.id != member_id)
                {
                    if g.members[i].epoch != STATIC_LEAVE_EPOCH {
                        return heartbeat_error(
                            ErrorCode::UNRELEASED_INSTANCE_ID,
                            &format!("Static member {instance} is still in use by another member."),
                        );
                    }
                    // The static member comes back under a new member id: same place.
                    let old = g.members[i].id.clone();
                    g.members[i].id = member_id.clone();
                    g.members[i].epoch = g.members[i].previous_epoch.max(0);
                    if let Some(t) = g.target.remove(&old) {
                        g.target.insert(member_id.clone(), t);
                    }
                    idx = Some(i);
                }
            }
            if idx.is_none() {
                if g.members.len() >= max_size {
                    return heartbeat_error(
                        ErrorCode::GROUP_MAX_SIZE_REACHED,
                        &format!("The consumer group has reached its maximum capacity of {max_size} members."),
                    );
                }
                g.members.push(ConsumerMember {
                    id: member_id.clone(),
                    instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
                    rack_id: None,
                    client_id: client.client_id.clone(),
                    client_host: client.client_host.clone(),
                    subscribed: Vec::new(),
                    server_assignor: None,
                    rebalance_timeout_ms: req.rebalance_timeout_ms,
                    epoch: 0,
                    previous_epoch: -1,
                    assigned: Partitions::new(),
                    revoking: Partitions::new(),
                    session_deadline: now + session_ms,
                    revocation_deadline: 0,
                });
                g.group_epoch += 1;
                idx = Some(g.members.len() - 1);
            } else if let Some(i) = idx {
                // A member rejoining with epoch 0 (it lost its state): it starts afresh.
                if g.members[i].epoch != 0 && g.members[i].instance_id.is_none() {
                    g.members[i].assigned.clear();
                    g.members[i].revoking.clear();
                    g.members[i].epoch = 0;
                    g.group_epoch += 1;
                }
            }
        }
        let Some(idx) = idx else {
            return heartbeat_error(
                ErrorCode::UNKNOWN_MEMBER_ID,
                &format!("Member {member_id} is not a member of group {group_id}."),
            );
        };
        // Epoch checks (not for a join): ahead of us, or behind without being a retry of our
        // last response, is fenced.
        if epoch != JOIN_EPOCH {
            let m = &g.members[idx];
            let retry_of_previous = epoch == m.previous_epoch
                && owned
                    .as_ref()
                    .is_some_and(|o| minus(o, &m.assigned).is_empty());
            if epoch > m.epoch || (epoch < m.epoch && !retry_of_previous) {
                return heartbeat_error(
                    ErrorCode::FENCED_MEMBER_EPOCH,
                    &format!(
                        "The member epoch {epoch} does not match the expected epoch {}.",
                        m.epoch
                    ),
                );
            }
        }

        // Update what the member told us.
        {
            let m = &mut g.members[idx];
            m.session_deadline = now + session_ms;
            m.client_id = client.client_id.clone();
            m.client_host = client.client_host.clone();
            if let Some(rack) = &req.rack_id {
                m.rack_id = Some(rack.to_string());
            }
            if req.rebalance_timeout_ms >= 0 {
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            }
            if let Some(a) = &req.server_assignor {
                m.server_assignor = Some(a.to_string());
            }
            if let Some(names) = &req.subscribed_topic_names {
                let mut subs: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                subs.sort();
                subs.dedup();
                if subs != m.subscribed {
                    m.subscribed = subs;
                    g.group_epoch += 1;
                }
            }
        }
        g.refresh_metadata(topics);
        if g.group_epoch > g.assignment_epoch {
            let assignor = g.assignor(&default_assignor);
            g.compute_target(&assignor);
        }
        let changed = g.reconcile(idx, owned.as_ref(), now);
        let m = &g.members[idx];
        let send_assignment =
            epoch == JOIN_EPOCH || changed || owned.as_ref().is_some_and(|o| *o != m.assigned);
        let assignment = send_assignment.then(|| {
            Assignment::default().with_topic_partitions(
                m.assigned
                    .iter()
                    .filter_map(|(t, ps)| {
                        let (id, _) = topics.by_name.get(t)?;
                        Some(
                            TopicPartitions::default()
                                .with_topic_id(*id)
                                .with_partitions(ps.iter().copied().collect()),
                        )
                    })
                    .collect(),
            )
        });
        let response = ConsumerGroupHeartbeatResponse::default()
            .with_member_id(Some(sb(&member_id)))
            .with_member_epoch(m.epoch)
            .with_heartbeat_interval_ms(interval)
            .with_assignment(assignment);
        g.store(partition, out);
        response
    }

    /// ConsumerGroupDescribe for one group, from committed state.
    pub fn consumer_describe(&self, group_id: &str, topics: &TopicsView) -> DescribedGroup {
        if let Some(code) = self.coordinator_error(group_id) {
            // Kafka's ConsumerGroupDescribeRequest.getErrorDescribedGroupList shape.
            return DescribedGroup::default()
                .with_group_id(GroupId(sb(group_id)))
                .with_error_code(code.0);
        }
        match self.groups.get_committed(group_id) {
            Some(Group::Consumer(g)) => g.describe(
                topics,
                self.config
                    .consumer_assignors
                    .first()
                    .map(String::as_str)
                    .unwrap_or("uniform"),
            ),
            Some(Group::Classic(_)) => DescribedGroup::default()
                .with_group_id(GroupId(sb(group_id)))
                .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.0)
                .with_error_message(Some(sb(&format!(
                    "Group {group_id} is not a consumer group."
                )))),
            None => DescribedGroup::default()
                .with_group_id(GroupId(sb(group_id)))
                .with_group_state(sb("Dead"))
                .with_error_code(ErrorCode::GROUP_ID_NOT_FOUND.0)
                .with_error_message(Some(sb(&format!("Group {group_id} not found.")))),
        }
    }
}

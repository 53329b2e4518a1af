//! Groups of the classic protocol: their state, their members and the transitions between
//! Kafka's states.
//!
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
//!
//! What is stored (the group record, [`GroupValue`]) is the membership of the last completed
//! rebalance; the rest (the state between rebalances, parked JoinGroup and SyncGroup requests,
//! heartbeat deadlines) lives in memory only. A group is cloned whole into the shard's timeline
//! when a write changes it, so a failed write takes all of it back, the parked requests
//! included (see `crate::coordinator`).

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{
    ConsumerProtocolSubscription, JoinGroupResponse, SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use sluice_protocol::error::ErrorCode;

use crate::coordinator::GroupConfig;
use crate::output::{Output, Reply, Token};
use crate::records::{GroupValue, MemberValue, RecordKey, RecordValue};

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
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
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    /// A JoinGroup waiting for the rebalance to complete: (token, request version).
    pub(crate) join_waiter: Option<(Token, i16)>,
    /// A SyncGroup waiting for the leader's assignment.
    pub(crate) sync_waiter: Option<(Token, i16)>,
    pub(crate) heartbeat_deadline: i64,
}

impl Member {
    pub(crate) fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ClassicGroup {
    pub(crate) id: String,
    pub(crate) state: ClassicState,
    pub(crate) state_timestamp: i64,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<String>,
    /// In join order: the first is leader when the old leader is gone.
    pub(crate) members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED (KIP-394), not yet joined: id -> deadline.
    pub(crate) pending: HashMap<String, i64>,
    /// When the current PreparingRebalance ends at the latest.
    pub(crate) rebalance_deadline: i64,
    /// While the first rebalance of an empty group waits `group.initial.rebalance.delay.ms`:
    /// the latest the delay may be extended to.
    pub(crate) initial_delay_limit: Option<i64>,
    /// When CompletingRebalance gives up waiting for the leader's SyncGroup.
    pub(crate) sync_deadline: i64,
}

impl ClassicGroup {
    pub(crate) fn new(id: &str, now: i64) -> ClassicGroup {
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

    /// The group as its record stores it, loaded at `now`: Stable with the stored members (Empty
    /// without), who must heartbeat within their session timeout of the load.
    pub(crate) fn load(group: &str, v: GroupValue, now: i64) -> ClassicGroup {
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

    /// Whether [`tick_classic`] would change anything at `now`: the timer leaves groups it
    /// has nothing to do for untouched (a change would copy them into the timeline).
    pub(crate) fn needs_tick(&self, now: i64) -> bool {
        let expired_member = self.members.iter().any(|m| {
            m.join_waiter.is_none() && m.sync_waiter.is_none() && m.heartbeat_deadline <= now
        });
        let rebalance_due = self.state == ClassicState::PreparingRebalance
            && (now >= self.rebalance_deadline
                || (self.initial_delay_limit.is_none() && self.all_joined()));
        let sync_due = self.state == ClassicState::CompletingRebalance && now >= self.sync_deadline;
        expired_member
            || rebalance_due
            || sync_due
            || self.pending.values().any(|deadline| *deadline <= now)
    }

    pub(crate) fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub(crate) fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    pub(crate) fn member_by_instance(&self, instance: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance))
    }

    pub(crate) fn set_state(&mut self, state: ClassicState, now: i64) {
        self.state = state;
        self.state_timestamp = now;
    }

    /// Protocols every member supports.
    pub(crate) fn candidate_protocols(&self) -> Vec<String> {
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
    pub(crate) fn supports(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
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
    pub(crate) fn select_protocol(&self) -> Option<String> {
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

    pub(crate) fn max_rebalance_timeout(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn all_joined(&self) -> bool {
        self.pending.is_empty() && self.members.iter().all(|m| m.join_waiter.is_some())
    }

    pub(crate) fn to_record(&self) -> GroupValue {
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
    pub(crate) fn subscribed_topics(&self) -> Option<Vec<String>> {
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

pub(crate) fn check_member(
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
pub(crate) fn check_and_touch(
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

pub(crate) fn touch(g: &mut ClassicGroup, member_id: &str, now: i64) {
    if let Some(m) = g.member_mut(member_id) {
        m.heartbeat_deadline = now + i64::from(m.session_timeout_ms);
    }
}

pub(crate) fn add_member(g: &mut ClassicGroup, member: Member, now: i64, config: &GroupConfig) {
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

pub(crate) fn update_member(g: &mut ClassicGroup, member_id: &str, template: Member) {
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
pub(crate) fn prepare_rebalance(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
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
pub(crate) fn membership_changed(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
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

pub(crate) fn remove_member(g: &mut ClassicGroup, member_id: &str, out: &mut Output) {
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
pub(crate) fn answer_parked(g: &ClassicGroup, code: ErrorCode, out: &mut Output) {
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

pub(crate) fn become_empty(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
    g.generation += 1;
    g.protocol = None;
    g.leader = None;
    g.set_state(ClassicState::Empty, now);
    g.initial_delay_limit = None;
    store_group(g, partition, out);
}

/// Completes the join phase if every member has joined, or the deadline passed.
pub(crate) fn maybe_complete_join(
    g: &mut ClassicGroup,
    now: i64,
    partition: i32,
    out: &mut Output,
) {
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

pub(crate) fn join_response(g: &ClassicGroup, member_id: &str, version: i16) -> JoinGroupResponse {
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

pub(crate) fn sync_response(g: &ClassicGroup, member_id: &str) -> SyncGroupResponse {
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

pub(crate) fn store_group(g: &ClassicGroup, partition: i32, out: &mut Output) {
    out.write(
        partition,
        &RecordKey::Group {
            group: g.id.clone(),
        },
        Some(&RecordValue::Group(g.to_record())),
    );
}

/// A static member rejoined without its member id: the new id takes the old one's place.
pub(crate) fn replace_static_member(
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

pub(crate) fn tick_classic(g: &mut ClassicGroup, now: i64, partition: i32, out: &mut Output) {
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

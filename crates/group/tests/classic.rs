//! The classic group protocol driven through the coordinator's public API, with time passed in:
//! every reply and every record it asks to write is checked without a socket or a clock.
//!
//! A [`Node`] stands in for the broker's adapter: it hands out tokens, keeps every reply by
//! token, and keeps every record written, in order, as `__consumer_offsets` would hold them, so
//! the replay test can feed that log to a fresh coordinator.

use std::collections::{HashMap, HashSet};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolSubscription, GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use sluice_group::coordinator::{ClassicState, CommitPartition};
use sluice_group::records::{self, RecordKey, RecordValue};
use sluice_group::{Client, GroupConfig, GroupCoordinator, Output, Reply, Token};
use sluice_protocol::error::ErrorCode;

const SESSION_MS: i32 = 10_000;
const REBALANCE_MS: i32 = 20_000;
const DELAY_MS: i64 = 100;

type CommitResult = Vec<(String, Vec<(i32, ErrorCode)>)>;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn code(raw: i16) -> ErrorCode {
    ErrorCode(raw)
}

/// A consumer's subscription as the Java client sends it: an int16 version, then
/// ConsumerProtocolSubscription at that version.
fn subscription(topics: &[&str]) -> Bytes {
    let version = 3;
    let sub =
        ConsumerProtocolSubscription::default().with_topics(topics.iter().map(|t| sb(t)).collect());
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    sub.encode(&mut buf, version)
        .expect("a subscription encodes at v3");
    buf.freeze()
}

/// What the leader assigns to `member_id` in these tests.
fn assignment_for(member_id: &str) -> Bytes {
    Bytes::from(format!("assignment of {member_id}"))
}

fn join_request(
    group: &str,
    member_id: &str,
    instance_id: Option<&str>,
    topics: &[&str],
) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_session_timeout_ms(SESSION_MS)
        .with_rebalance_timeout_ms(REBALANCE_MS)
        .with_member_id(sb(member_id))
        .with_group_instance_id(instance_id.map(sb))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(sb("range"))
            .with_metadata(subscription(topics))])
}

fn sync_request(
    group: &str,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
    assignments: &[(String, Bytes)],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_generation_id(generation)
        .with_member_id(sb(member_id))
        .with_group_instance_id(instance_id.map(sb))
        .with_protocol_type(Some(sb("consumer")))
        .with_protocol_name(Some(sb("range")))
        .with_assignments(
            assignments
                .iter()
                .map(|(m, a)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(sb(m))
                        .with_assignment(a.clone())
                })
                .collect(),
        )
}

/// Every member's assignment, as the leader sends it.
fn assignments(ids: &[String]) -> Vec<(String, Bytes)> {
    ids.iter()
        .map(|id| (id.clone(), assignment_for(id)))
        .collect()
}

/// OffsetCommit partitions from (topic, partition, offset), grouped by topic in order.
fn commit_of(entries: &[(&str, i32, i64)]) -> Vec<(String, Vec<CommitPartition>)> {
    let mut topics: Vec<(String, Vec<CommitPartition>)> = Vec::new();
    for (topic, partition, offset) in entries {
        let row = (*partition, *offset, 7, Some(format!("meta {offset}")));
        match topics.last_mut() {
            Some((t, rows)) if t == topic => rows.push(row),
            _ => topics.push((topic.to_string(), vec![row])),
        }
    }
    topics
}

/// The broker's side of the coordinator, minus the I/O.
struct Node {
    coordinator: GroupCoordinator,
    next_token: Token,
    replies: HashMap<Token, Reply>,
    answered: HashSet<Token>,
    /// Every record written, in order: what `__consumer_offsets` would hold.
    log: Vec<(Bytes, Option<Bytes>)>,
}

impl Node {
    fn new(config: GroupConfig) -> Node {
        Node {
            coordinator: GroupCoordinator::new(config),
            next_token: 1,
            replies: HashMap::new(),
            answered: HashSet::new(),
            log: Vec::new(),
        }
    }

    fn with_delay(initial_rebalance_delay_ms: i64) -> Node {
        Node::new(GroupConfig {
            initial_rebalance_delay_ms,
            ..GroupConfig::default()
        })
    }

    fn absorb(&mut self, out: Output) {
        for write in out.writes {
            assert!(
                (0..self.coordinator.config().num_partitions).contains(&write.partition),
                "write to partition {} of __consumer_offsets",
                write.partition
            );
            self.log.extend(write.records);
        }
        for (token, reply) in out.replies {
            assert!(self.answered.insert(token), "token {token} answered twice");
            self.replies.insert(token, reply);
        }
    }

    /// Runs one call with a fresh token; its reply (if any yet) is kept for that token.
    fn run(&mut self, f: impl FnOnce(&mut GroupCoordinator, Token, &mut Output)) -> Token {
        let token = self.next_token;
        self.next_token += 1;
        let mut out = Output::default();
        f(&mut self.coordinator, token, &mut out);
        self.absorb(out);
        token
    }

    fn answered(&self, token: Token) -> bool {
        self.answered.contains(&token)
    }

    fn join(&mut self, now: i64, version: i16, client_id: &str, req: JoinGroupRequest) -> Token {
        let client = Client {
            client_id: client_id.to_string(),
            client_host: "/127.0.0.1".to_string(),
        };
        self.run(|c, token, out| c.join_group(now, token, version, &client, req, out))
    }

    /// A JoinGroup that must be answered at once.
    fn join_now(
        &mut self,
        now: i64,
        version: i16,
        client_id: &str,
        req: JoinGroupRequest,
    ) -> JoinGroupResponse {
        let token = self.join(now, version, client_id, req);
        self.take_join(token)
    }

    fn sync(&mut self, now: i64, req: SyncGroupRequest) -> Token {
        self.run(|c, token, out| c.sync_group(now, token, 5, req, out))
    }

    /// A SyncGroup that must be answered at once.
    fn sync_now(&mut self, now: i64, req: SyncGroupRequest) -> SyncGroupResponse {
        let token = self.sync(now, req);
        self.take_sync(token)
    }

    fn heartbeat(
        &mut self,
        now: i64,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(sb(group)))
            .with_generation_id(generation)
            .with_member_id(sb(member_id))
            .with_group_instance_id(instance_id.map(sb));
        self.coordinator.heartbeat(now, &req)
    }

    fn leave(&mut self, now: i64, version: i16, req: LeaveGroupRequest) -> LeaveGroupResponse {
        let token = self.run(|c, token, out| c.leave_group(now, token, version, req, out));
        match self.replies.remove(&token) {
            Some(Reply::Leave(r)) => r,
            other => panic!("expected a LeaveGroup reply, got {other:?}"),
        }
    }

    /// LeaveGroup v3 for dynamic members.
    fn leave_members(&mut self, now: i64, group: &str, ids: &[String]) -> LeaveGroupResponse {
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(sb(group)))
            .with_members(
                ids.iter()
                    .map(|id| MemberIdentity::default().with_member_id(sb(id)))
                    .collect(),
            );
        self.leave(now, 3, req)
    }

    fn commit(
        &mut self,
        now: i64,
        group: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        entries: &[(&str, i32, i64)],
    ) -> CommitResult {
        let topics = commit_of(entries);
        self.commit_partitions(now, group, generation, member_id, instance_id, topics)
    }

    fn commit_partitions(
        &mut self,
        now: i64,
        group: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        topics: Vec<(String, Vec<CommitPartition>)>,
    ) -> CommitResult {
        let token = self.run(|c, token, out| {
            c.commit_offsets(
                now,
                token,
                group,
                generation,
                member_id,
                instance_id,
                topics,
                out,
            )
        });
        match self.replies.remove(&token) {
            Some(Reply::Commit(r)) => r,
            other => panic!("expected an OffsetCommit reply, got {other:?}"),
        }
    }

    /// The committed offset of one partition (-1: none), through OffsetFetch.
    fn committed(&self, group: &str, topic: &str, partition: i32) -> i64 {
        let (error, topics) = self.coordinator.fetch_offsets(
            group,
            None,
            Some(vec![(topic.to_string(), vec![partition])]),
        );
        assert_eq!(error, ErrorCode::NONE, "OffsetFetch of {group}");
        assert_eq!(topics.len(), 1);
        assert_eq!(topics[0].1.len(), 1);
        let (p, offset, _, _, error) = &topics[0].1[0];
        assert_eq!((*p, *error), (partition, ErrorCode::NONE));
        *offset
    }

    fn tick(&mut self, now: i64) {
        let mut out = Output::default();
        self.coordinator.tick(now, &mut out);
        self.absorb(out);
    }

    fn expire_offsets(&mut self, now: i64) -> usize {
        let mut out = Output::default();
        let expired = self.coordinator.expire_offsets(now, &mut out);
        self.absorb(out);
        expired
    }

    fn delete_groups(&mut self, groups: &[&str]) -> Vec<(String, ErrorCode)> {
        let names = groups.iter().map(|g| g.to_string()).collect();
        let token = self.run(|c, token, out| c.delete_groups(token, names, out));
        match self.replies.remove(&token) {
            Some(Reply::Delete(r)) => r,
            other => panic!("expected a DeleteGroups reply, got {other:?}"),
        }
    }

    fn delete_offsets(
        &mut self,
        group: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> (ErrorCode, CommitResult) {
        let token = self.run(|c, token, out| c.delete_offsets(token, group, topics, out));
        match self.replies.remove(&token) {
            Some(Reply::OffsetDelete(error, r)) => (error, r),
            other => panic!("expected an OffsetDelete reply, got {other:?}"),
        }
    }

    fn take_join(&mut self, token: Token) -> JoinGroupResponse {
        match self.replies.remove(&token) {
            Some(Reply::Join(r)) => r,
            other => panic!("expected a JoinGroup reply for token {token}, got {other:?}"),
        }
    }

    fn take_sync(&mut self, token: Token) -> SyncGroupResponse {
        match self.replies.remove(&token) {
            Some(Reply::Sync(r)) => r,
            other => panic!("expected a SyncGroup reply for token {token}, got {other:?}"),
        }
    }

    fn state(&self, group: &str) -> Option<(ClassicState, i32)> {
        self.coordinator.classic_state(group)
    }

    /// Member ids as DescribeGroups shows them, in the group's order.
    fn described_members(&self, group: &str) -> Vec<String> {
        self.coordinator
            .describe_group(group)
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect()
    }

    /// The records written since `from`, decoded.
    fn records_since(&self, from: usize) -> Vec<(RecordKey, Option<RecordValue>)> {
        self.log[from..]
            .iter()
            .map(|(k, v)| {
                let key = records::decode_key(k.clone()).expect("a key the coordinator wrote");
                let value = v.as_ref().map(|v| {
                    records::decode_value(&key, v.clone()).expect("a value the coordinator wrote")
                });
                (key, value)
            })
            .collect()
    }
}

/// Brings dynamic members named `names` (their client ids) into `group` through JoinGroup v5:
/// the KIP-394 round trip for a member id, the joins, the initial delay, then every member's
/// SyncGroup with the leader's assignment. Returns the member ids in join order (the first is
/// the leader); the group is Stable at generation 1 at time `now + DELAY_MS`.
fn form_group(node: &mut Node, now: i64, group: &str, names: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for name in names {
        let r = node.join_now(now, 5, name, join_request(group, "", None, &["orders"]));
        assert_eq!(code(r.error_code), ErrorCode::MEMBER_ID_REQUIRED);
        ids.push(r.member_id.to_string());
    }
    let tokens: Vec<Token> = ids
        .iter()
        .zip(names)
        .map(|(id, name)| node.join(now, 5, name, join_request(group, id, None, &["orders"])))
        .collect();
    let done = now + DELAY_MS;
    node.tick(done);
    for (token, id) in tokens.into_iter().zip(&ids) {
        let r = node.take_join(token);
        assert_eq!(code(r.error_code), ErrorCode::NONE, "join of {id}");
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.leader.as_str(), ids[0]);
    }
    sync_all(node, done, group, &ids, 1);
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    ids
}

/// Followers sync first, then the leader (`ids[0]`) with everyone's assignment; each gets its
/// own assignment back.
fn sync_all(node: &mut Node, now: i64, group: &str, ids: &[String], generation: i32) {
    let mut tokens = Vec::new();
    for id in &ids[1..] {
        let token = node.sync(now, sync_request(group, id, None, generation, &[]));
        assert!(
            !node.answered(token),
            "a follower waits for the leader's assignment"
        );
        tokens.push(token);
    }
    tokens.insert(
        0,
        node.sync(
            now,
            sync_request(group, &ids[0], None, generation, &assignments(ids)),
        ),
    );
    for (token, id) in tokens.into_iter().zip(ids) {
        let r = node.take_sync(token);
        assert_eq!(code(r.error_code), ErrorCode::NONE, "sync of {id}");
        assert_eq!(r.assignment, assignment_for(id), "assignment of {id}");
    }
}

/// The group is Stable at `generation` and every member still heartbeats NONE.
fn assert_unharmed(node: &mut Node, now: i64, group: &str, ids: &[String], generation: i32) {
    assert_eq!(node.state(group), Some((ClassicState::Stable, generation)));
    for id in ids {
        assert_eq!(
            node.heartbeat(now, group, id, None, generation),
            ErrorCode::NONE,
            "heartbeat of {id}"
        );
    }
    assert_eq!(&node.described_members(group), ids);
}

// ---------------------------------------------------------------------------------------------
// Rebalances

#[test]
fn three_members_rebalance_to_a_stable_generation() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "three";
    // JoinGroup v4+ without a member id: the coordinator hands one out and asks for a rejoin.
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let r = node.join_now(0, 5, name, join_request(group, "", None, &["orders"]));
        assert_eq!(code(r.error_code), ErrorCode::MEMBER_ID_REQUIRED);
        assert_eq!(r.generation_id, -1);
        assert!(
            r.member_id.starts_with(&format!("{name}-")),
            "member id {} is prefixed with the client id",
            r.member_id.as_str()
        );
        ids.push(r.member_id.to_string());
    }
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        3,
        "ids are unique"
    );
    assert_eq!(node.state(group), Some((ClassicState::Empty, 0)));

    let tokens: Vec<Token> = ids
        .iter()
        .zip(["a", "b", "c"])
        .map(|(id, name)| node.join(10, 5, name, join_request(group, id, None, &["orders"])))
        .collect();
    assert_eq!(
        node.state(group),
        Some((ClassicState::PreparingRebalance, 0))
    );
    node.tick(10 + DELAY_MS - 1);
    assert!(
        tokens.iter().all(|t| !node.answered(*t)),
        "the initial delay holds the joins"
    );
    node.tick(10 + DELAY_MS);
    let joins: Vec<JoinGroupResponse> = tokens.iter().map(|t| node.take_join(*t)).collect();
    for (r, id) in joins.iter().zip(&ids) {
        assert_eq!(code(r.error_code), ErrorCode::NONE);
        assert_eq!(r.generation_id, 1);
        assert_eq!(r.member_id.as_str(), id);
        assert_eq!(r.leader.as_str(), ids[0], "the first to join leads");
        assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    // Only the leader sees the members, with their subscriptions.
    let listed: Vec<(String, Bytes)> = joins[0]
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.metadata.clone()))
        .collect();
    let expected: Vec<(String, Bytes)> = ids
        .iter()
        .map(|id| (id.clone(), subscription(&["orders"])))
        .collect();
    assert_eq!(listed, expected);
    assert!(joins[1].members.is_empty() && joins[2].members.is_empty());
    assert_eq!(
        node.state(group),
        Some((ClassicState::CompletingRebalance, 1))
    );

    // Followers wait for the leader's SyncGroup; a heartbeat meanwhile is fine.
    let t_b = node.sync(20, sync_request(group, &ids[1], None, 1, &[]));
    let t_c = node.sync(20, sync_request(group, &ids[2], None, 1, &[]));
    assert!(!node.answered(t_b) && !node.answered(t_c));
    assert_eq!(node.heartbeat(20, group, &ids[1], None, 1), ErrorCode::NONE);
    let written = node.log.len();
    let t_a = node.sync(
        30,
        sync_request(group, &ids[0], None, 1, &assignments(&ids)),
    );
    for (token, id) in [t_a, t_b, t_c].into_iter().zip(&ids) {
        let r = node.take_sync(token);
        assert_eq!(code(r.error_code), ErrorCode::NONE);
        assert_eq!(r.assignment, assignment_for(id));
        assert_eq!(r.protocol_name.as_deref(), Some("range"));
    }
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));

    // The Stable group is written with each member's assignment.
    let written = node.records_since(written);
    assert_eq!(written.len(), 1);
    let (key, value) = &written[0];
    assert_eq!(
        key,
        &RecordKey::Group {
            group: group.to_string()
        }
    );
    let Some(RecordValue::Group(value)) = value else {
        panic!("a group value, got {value:?}");
    };
    assert_eq!(value.generation, 1);
    assert_eq!(value.protocol_type, "consumer");
    assert_eq!(value.protocol.as_deref(), Some("range"));
    assert_eq!(value.leader.as_deref(), Some(ids[0].as_str()));
    let stored: Vec<(String, Bytes)> = value
        .members
        .iter()
        .map(|m| (m.member_id.clone(), m.assignment.clone()))
        .collect();
    assert_eq!(stored, assignments(&ids));

    let described = node.coordinator.describe_group(group);
    assert_eq!(described.group_state.as_str(), "Stable");
    assert_eq!(described.protocol_data.as_str(), "range");
    let shown: Vec<(String, Bytes)> = described
        .members
        .iter()
        .map(|m| (m.member_id.to_string(), m.member_assignment.clone()))
        .collect();
    assert_eq!(shown, assignments(&ids));
    assert_unharmed(&mut node, 40, group, &ids, 1);
}

#[test]
fn a_fourth_member_makes_the_others_rejoin() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "four";
    let mut ids = form_group(&mut node, 0, group, &["a", "b", "c"]);

    let r = node.join_now(1_000, 5, "d", join_request(group, "", None, &["orders"]));
    assert_eq!(code(r.error_code), ErrorCode::MEMBER_ID_REQUIRED);
    let d = r.member_id.to_string();
    // A member id handed out does not start a rebalance; the join with it does.
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    let t_d = node.join(1_000, 5, "d", join_request(group, &d, None, &["orders"]));
    assert!(!node.answered(t_d), "the join waits for the others");
    assert_eq!(
        node.state(group),
        Some((ClassicState::PreparingRebalance, 1))
    );

    // The others learn of the rebalance from their heartbeat (and a SyncGroup).
    for id in &ids {
        assert_eq!(
            node.heartbeat(1_100, group, id, None, 1),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
    }
    let r = node.sync_now(1_100, sync_request(group, &ids[1], None, 1, &[]));
    assert_eq!(code(r.error_code), ErrorCode::REBALANCE_IN_PROGRESS);

    let t_a = node.join(
        1_200,
        5,
        "a",
        join_request(group, &ids[0], None, &["orders"]),
    );
    let t_b = node.join(
        1_200,
        5,
        "b",
        join_request(group, &ids[1], None, &["orders"]),
    );
    assert!(
        !node.answered(t_a) && !node.answered(t_b),
        "c has not rejoined"
    );
    let t_c = node.join(
        1_300,
        5,
        "c",
        join_request(group, &ids[2], None, &["orders"]),
    );
    ids.push(d);
    let joins: Vec<JoinGroupResponse> = [t_a, t_b, t_c, t_d]
        .iter()
        .map(|t| node.take_join(*t))
        .collect();
    for (r, id) in joins.iter().zip(&ids) {
        assert_eq!(code(r.error_code), ErrorCode::NONE);
        assert_eq!(r.generation_id, 2);
        assert_eq!(r.member_id.as_str(), id);
        assert_eq!(r.leader.as_str(), ids[0], "the leader keeps its place");
    }
    let listed: Vec<String> = joins[0]
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    assert_eq!(listed, ids);
    sync_all(&mut node, 1_400, group, &ids, 2);
    assert_unharmed(&mut node, 1_500, group, &ids, 2);
    // The old generation is over.
    assert_eq!(
        node.heartbeat(1_500, group, &ids[0], None, 1),
        ErrorCode::ILLEGAL_GENERATION
    );
}

#[test]
fn an_expired_session_removes_the_member_and_rebalances() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "expiry";
    let ids = form_group(&mut node, 0, group, &["a", "b", "c"]);
    let stable_at = DELAY_MS;
    let session = i64::from(SESSION_MS);

    // a and b heartbeat; c goes quiet.
    for id in &ids[..2] {
        assert_eq!(
            node.heartbeat(stable_at + 6_000, group, id, None, 1),
            ErrorCode::NONE
        );
    }
    node.tick(stable_at + session - 1);
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    assert_eq!(node.described_members(group), ids);

    node.tick(stable_at + session);
    assert_eq!(
        node.state(group),
        Some((ClassicState::PreparingRebalance, 1))
    );
    assert_eq!(node.described_members(group), ids[..2].to_vec());
    assert_eq!(
        node.heartbeat(stable_at + session + 1, group, &ids[0], None, 1),
        ErrorCode::REBALANCE_IN_PROGRESS
    );

    let now = stable_at + session + 100;
    let t_a = node.join(now, 5, "a", join_request(group, &ids[0], None, &["orders"]));
    let t_b = node.join(now, 5, "b", join_request(group, &ids[1], None, &["orders"]));
    let a = node.take_join(t_a);
    let b = node.take_join(t_b);
    assert_eq!((code(a.error_code), a.generation_id), (ErrorCode::NONE, 2));
    assert_eq!((code(b.error_code), b.generation_id), (ErrorCode::NONE, 2));
    let listed: Vec<String> = a.members.iter().map(|m| m.member_id.to_string()).collect();
    assert_eq!(listed, ids[..2].to_vec());
    sync_all(&mut node, now, group, &ids[..2], 2);
    assert_unharmed(&mut node, now + 1, group, &ids[..2], 2);
}

#[test]
fn the_rebalance_timeout_removes_members_that_did_not_rejoin() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "slow";
    let mut ids = form_group(&mut node, 0, group, &["a", "b", "c"]);
    let start = 1_000;
    let r = node.join_now(start, 5, "d", join_request(group, "", None, &["orders"]));
    let d = r.member_id.to_string();
    let t_d = node.join(start, 5, "d", join_request(group, &d, None, &["orders"]));
    let t_a = node.join(
        start + 10,
        5,
        "a",
        join_request(group, &ids[0], None, &["orders"]),
    );
    let t_b = node.join(
        start + 10,
        5,
        "b",
        join_request(group, &ids[1], None, &["orders"]),
    );
    // c keeps its session alive but never rejoins.
    for at in [5_000, 12_000, 19_000] {
        assert_eq!(
            node.heartbeat(start + at, group, &ids[2], None, 1),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
    }
    let deadline = start + i64::from(REBALANCE_MS);
    node.tick(deadline - 1);
    assert!(
        !node.answered(t_a),
        "the rebalance waits up to the rebalance timeout"
    );
    node.tick(deadline);
    let c = ids.remove(2);
    ids.push(d);
    for (token, id) in [t_a, t_b, t_d].into_iter().zip(&ids) {
        let r = node.take_join(token);
        assert_eq!(code(r.error_code), ErrorCode::NONE, "join of {id}");
        assert_eq!(r.generation_id, 2);
    }
    assert_eq!(node.described_members(group), ids);
    assert!(!node.described_members(group).contains(&c));
    sync_all(&mut node, deadline + 1, group, &ids, 2);
    assert_unharmed(&mut node, deadline + 2, group, &ids, 2);
}

#[test]
fn the_initial_rebalance_delay_holds_the_first_rebalance() {
    let delay = 3_000;
    let mut node = Node::with_delay(delay);
    let group = "delayed";
    // JoinGroup v3 has no KIP-394 round trip: the member is in at once.
    let t_a = node.join(0, 3, "a", join_request(group, "", None, &["orders"]));
    assert!(!node.answered(t_a));
    assert_eq!(
        node.state(group),
        Some((ClassicState::PreparingRebalance, 0))
    );
    node.tick(delay - 1);
    assert!(!node.answered(t_a), "held for the delay");
    // A member arriving during the delay extends it by another delay.
    let t_b = node.join(2_000, 3, "b", join_request(group, "", None, &["orders"]));
    node.tick(delay);
    assert!(
        !node.answered(t_a) && !node.answered(t_b),
        "extended by b's arrival"
    );
    node.tick(2_000 + delay - 1);
    assert!(!node.answered(t_a) && !node.answered(t_b));
    node.tick(2_000 + delay);
    let a = node.take_join(t_a);
    let b = node.take_join(t_b);
    assert_eq!((code(a.error_code), a.generation_id), (ErrorCode::NONE, 1));
    assert_eq!((code(b.error_code), b.generation_id), (ErrorCode::NONE, 1));
    assert_eq!(a.members.len(), 2, "both are in the first generation");

    // Without a delay a lone member's join completes at once.
    let mut node = Node::with_delay(0);
    let r = node.join_now(0, 3, "a", join_request(group, "", None, &["orders"]));
    assert_eq!((code(r.error_code), r.generation_id), (ErrorCode::NONE, 1));
    assert_eq!(
        node.state(group),
        Some((ClassicState::CompletingRebalance, 1))
    );
}

// ---------------------------------------------------------------------------------------------
// Static membership

/// Two static members ("i1" leads, "i2") in a Stable group at generation 1. Returns their ids.
fn form_static_group(node: &mut Node, group: &str) -> Vec<String> {
    let t1 = node.join(0, 5, "s1", join_request(group, "", Some("i1"), &["orders"]));
    let t2 = node.join(0, 5, "s2", join_request(group, "", Some("i2"), &["orders"]));
    node.tick(DELAY_MS);
    let r1 = node.take_join(t1);
    let r2 = node.take_join(t2);
    assert_eq!(
        code(r1.error_code),
        ErrorCode::NONE,
        "static members need no KIP-394 round trip"
    );
    assert_eq!(code(r2.error_code), ErrorCode::NONE);
    let ids = vec![r1.member_id.to_string(), r2.member_id.to_string()];
    assert!(
        ids[0].starts_with("i1-"),
        "a static member's id starts with its instance id"
    );
    let instances: Vec<Option<String>> = r1
        .members
        .iter()
        .map(|m| m.group_instance_id.as_ref().map(|s| s.to_string()))
        .collect();
    assert_eq!(
        instances,
        vec![Some("i1".to_string()), Some("i2".to_string())]
    );
    let t2 = node.sync(DELAY_MS, sync_request(group, &ids[1], Some("i2"), 1, &[]));
    let t1 = node.sync(
        DELAY_MS,
        sync_request(group, &ids[0], Some("i1"), 1, &assignments(&ids)),
    );
    assert_eq!(node.take_sync(t1).assignment, assignment_for(&ids[0]));
    assert_eq!(node.take_sync(t2).assignment, assignment_for(&ids[1]));
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    ids
}

#[test]
fn a_static_member_rejoins_without_a_rebalance_and_its_old_id_is_fenced() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "static";
    let ids = form_static_group(&mut node, group);
    let old = ids[1].clone();

    // i2 restarts: no member id, same instance id, same subscription.
    let r = node.join_now(
        1_000,
        5,
        "s2",
        join_request(group, "", Some("i2"), &["orders"]),
    );
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    assert_eq!(r.generation_id, 1, "no new generation");
    assert_ne!(r.member_id.as_str(), old, "a new member id");
    assert_eq!(r.leader.as_str(), ids[0]);
    assert!(!r.skip_assignment);
    let new = r.member_id.to_string();
    assert_eq!(
        node.state(group),
        Some((ClassicState::Stable, 1)),
        "no rebalance"
    );

    let s = node.sync_now(1_010, sync_request(group, &new, Some("i2"), 1, &[]));
    assert_eq!(code(s.error_code), ErrorCode::NONE);
    assert_eq!(
        s.assignment,
        assignment_for(&old),
        "the old assignment carries over"
    );
    assert_eq!(
        node.heartbeat(1_020, group, &new, Some("i2"), 1),
        ErrorCode::NONE
    );
    assert_eq!(
        node.heartbeat(1_020, group, &ids[0], Some("i1"), 1),
        ErrorCode::NONE
    );

    // The old incarnation is fenced wherever it shows up with its instance id.
    assert_eq!(
        node.heartbeat(1_030, group, &old, Some("i2"), 1),
        ErrorCode::FENCED_INSTANCE_ID
    );
    let commit = node.commit(1_030, group, 1, &old, Some("i2"), &[("orders", 0, 5)]);
    assert_eq!(commit[0].1, vec![(0, ErrorCode::FENCED_INSTANCE_ID)]);
    let s = node.sync_now(1_030, sync_request(group, &old, Some("i2"), 1, &[]));
    assert_eq!(code(s.error_code), ErrorCode::FENCED_INSTANCE_ID);
    assert!(s.assignment.is_empty());
    let r = node.join_now(
        1_030,
        5,
        "s2",
        join_request(group, &old, Some("i2"), &["orders"]),
    );
    assert_eq!(code(r.error_code), ErrorCode::FENCED_INSTANCE_ID);
    assert_eq!(node.committed(group, "orders", 0), -1);

    // Still one generation, the new id in the old one's place.
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    assert_eq!(
        node.described_members(group),
        vec![ids[0].clone(), new.clone()]
    );

    // The static leader restarting sees the members but keeps the current assignment (told so
    // with skip_assignment, a JoinGroup v9 field; below v9 its SyncGroup in Stable is answered
    // with the current assignment, see groups_wire.rs).
    let r = node.join_now(
        2_000,
        9,
        "s1",
        join_request(group, "", Some("i1"), &["orders"]),
    );
    assert_eq!(code(r.error_code), ErrorCode::NONE);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader, r.member_id, "the new id leads");
    assert!(
        r.skip_assignment,
        "KIP-814: the static leader must not reassign"
    );
    assert_eq!(r.members.len(), 2);
    assert_eq!(node.state(group), Some((ClassicState::Stable, 1)));
    let s = node.sync_now(2_010, sync_request(group, &r.member_id, Some("i1"), 1, &[]));
    assert_eq!(s.assignment, assignment_for(&ids[0]));
}

#[test]
fn a_static_member_survives_a_rebalance_it_sleeps_through() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "static-sleeper";
    let ids = form_static_group(&mut node, group);
    // A third, dynamic member triggers a rebalance; i2 is restarting and does not rejoin in
    // time but its session (heartbeats) keeps it alive.
    let r = node.join_now(1_000, 5, "d", join_request(group, "", None, &["orders"]));
    let d = r.member_id.to_string();
    let t_d = node.join(1_000, 5, "d", join_request(group, &d, None, &["orders"]));
    let t_1 = node.join(
        1_000,
        5,
        "s1",
        join_request(group, &ids[0], Some("i1"), &["orders"]),
    );
    for at in [6_000, 12_000, 18_000] {
        assert_eq!(
            node.heartbeat(at, group, &ids[1], Some("i2"), 1),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
    }
    node.tick(1_000 + i64::from(REBALANCE_MS));
    assert_eq!(code(node.take_join(t_d).error_code), ErrorCode::NONE);
    let leader = node.take_join(t_1);
    let listed: Vec<String> = leader
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    assert!(
        listed.contains(&ids[1]),
        "the static member i2 stays in the group: {listed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input: Kafka's code, and the group unharmed

#[test]
fn commit_with_a_stale_generation_is_illegal_generation() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "stale";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let written = node.log.len();
    for generation in [0, 2] {
        let r = node.commit(
            500,
            group,
            generation,
            &ids[0],
            None,
            &[("orders", 0, 10), ("orders", 1, 11)],
        );
        assert_eq!(
            r,
            vec![(
                "orders".to_string(),
                vec![
                    (0, ErrorCode::ILLEGAL_GENERATION),
                    (1, ErrorCode::ILLEGAL_GENERATION)
                ]
            )]
        );
    }
    assert_eq!(node.log.len(), written, "nothing written");
    assert_eq!(node.committed(group, "orders", 0), -1);
    let r = node.commit(600, group, 1, &ids[0], None, &[("orders", 0, 10)]);
    assert_eq!(r[0].1, vec![(0, ErrorCode::NONE)]);
    assert_eq!(node.committed(group, "orders", 0), 10);
    assert_unharmed(&mut node, 700, group, &ids, 1);
}

#[test]
fn an_unknown_member_is_unknown_member_id() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "unknown";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let written = node.log.len();
    for generation in [1, 5] {
        let r = node.commit(500, group, generation, "nobody", None, &[("orders", 0, 10)]);
        assert_eq!(
            r[0].1,
            vec![(0, ErrorCode::UNKNOWN_MEMBER_ID)],
            "commit at generation {generation}"
        );
    }
    assert_eq!(node.log.len(), written, "nothing written");
    assert_eq!(node.committed(group, "orders", 0), -1);
    assert_eq!(
        node.heartbeat(500, group, "nobody", None, 1),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    let s = node.sync_now(500, sync_request(group, "nobody", None, 1, &[]));
    assert_eq!(code(s.error_code), ErrorCode::UNKNOWN_MEMBER_ID);
    assert_unharmed(&mut node, 600, group, &ids, 1);

    // While the group waits for the leader's assignment, an unknown member's SyncGroup must
    // still be answered (not parked for an assignment that has no slot for it).
    let t_a = node.join(700, 5, "a", join_request(group, &ids[0], None, &["orders"]));
    let t_b = node.join(700, 5, "b", join_request(group, &ids[1], None, &["orders"]));
    assert_eq!(node.take_join(t_a).generation_id, 2);
    assert_eq!(node.take_join(t_b).generation_id, 2);
    assert_eq!(
        node.state(group),
        Some((ClassicState::CompletingRebalance, 2))
    );
    let t = node.sync(710, sync_request(group, "nobody", None, 2, &[]));
    assert!(
        node.answered(t),
        "an unknown member's SyncGroup is answered"
    );
    assert_eq!(
        code(node.take_sync(t).error_code),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
    sync_all(&mut node, 720, group, &ids, 2);

    // A member that left is unknown too.
    let left = node.leave_members(800, group, &ids[1..]);
    assert_eq!(code(left.members[0].error_code), ErrorCode::NONE);
    assert_eq!(
        node.heartbeat(900, group, &ids[1], None, 2),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn a_fenced_instance_id_is_fenced_instance_id() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "fenced";
    let ids = form_static_group(&mut node, group);
    // i2's instance id with i1's member id (or a made-up one).
    for member in [ids[0].as_str(), "i2-impostor"] {
        let r = node.commit(500, group, 1, member, Some("i2"), &[("orders", 0, 10)]);
        assert_eq!(r[0].1, vec![(0, ErrorCode::FENCED_INSTANCE_ID)]);
        assert_eq!(
            node.heartbeat(500, group, member, Some("i2"), 1),
            ErrorCode::FENCED_INSTANCE_ID
        );
    }
    assert_eq!(node.committed(group, "orders", 0), -1);
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

#[test]
fn joins_without_protocols_or_type_are_inconsistent_group_protocol() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "protocols";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let no_protocols = |g: &str| join_request(g, "", None, &["orders"]).with_protocols(Vec::new());
    let no_type = |g: &str| join_request(g, "", None, &["orders"]).with_protocol_type(sb(""));
    for g in [group, "fresh"] {
        for version in [3, 5] {
            for req in [no_protocols(g), no_type(g)] {
                let r = node.join_now(500, version, "x", req);
                assert_eq!(code(r.error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
                assert_eq!(r.generation_id, -1);
            }
        }
    }
    assert_eq!(node.state("fresh"), None, "a refused join creates no group");
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

#[test]
fn a_join_with_another_protocol_type_is_inconsistent_group_protocol() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "types";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let other_type = join_request(group, "", None, &["orders"]).with_protocol_type(sb("connect"));
    let other_protocol = join_request(group, "", None, &["orders"]).with_protocols(vec![
        JoinGroupRequestProtocol::default()
            .with_name(sb("roundrobin"))
            .with_metadata(subscription(&["orders"])),
    ]);
    for version in [3, 5] {
        for req in [other_type.clone(), other_protocol.clone()] {
            let r = node.join_now(500, version, "x", req);
            assert_eq!(code(r.error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
        }
    }
    // A member of the group cannot switch type either.
    let r = node.join_now(
        500,
        5,
        "a",
        join_request(group, &ids[0], None, &["orders"]).with_protocol_type(sb("connect")),
    );
    assert_eq!(code(r.error_code), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

#[test]
fn a_session_timeout_out_of_range_is_invalid_session_timeout() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "sessions";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let config = node.coordinator.config().clone();
    for timeout in [
        config.min_session_timeout_ms - 1,
        config.max_session_timeout_ms + 1,
        0,
        -1,
    ] {
        for member in ["", ids[0].as_str()] {
            let req =
                join_request(group, member, None, &["orders"]).with_session_timeout_ms(timeout);
            let r = node.join_now(500, 5, "a", req);
            assert_eq!(
                code(r.error_code),
                ErrorCode::INVALID_SESSION_TIMEOUT,
                "session timeout {timeout}"
            );
        }
    }
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

#[test]
fn an_empty_group_id_is_invalid_group_id() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "named";
    let ids = form_group(&mut node, 0, group, &["a"]);
    let groups = node.coordinator.group_count();

    let r = node.join_now(500, 5, "x", join_request("", "", None, &["orders"]));
    assert_eq!(code(r.error_code), ErrorCode::INVALID_GROUP_ID);
    let s = node.sync_now(500, sync_request("", &ids[0], None, 1, &[]));
    assert_eq!(code(s.error_code), ErrorCode::INVALID_GROUP_ID);
    assert_eq!(
        node.heartbeat(500, "", &ids[0], None, 1),
        ErrorCode::INVALID_GROUP_ID
    );
    let c = node.commit(500, "", 1, &ids[0], None, &[("orders", 0, 1)]);
    assert_eq!(c[0].1, vec![(0, ErrorCode::INVALID_GROUP_ID)]);
    let c = node.commit(500, "", -1, "", None, &[("orders", 0, 1)]);
    assert_eq!(c[0].1, vec![(0, ErrorCode::INVALID_GROUP_ID)]);
    let (error, _) = node.coordinator.fetch_offsets("", None, None);
    assert_eq!(error, ErrorCode::INVALID_GROUP_ID);
    let left = node.leave(
        500,
        0,
        LeaveGroupRequest::default()
            .with_group_id(GroupId(sb("")))
            .with_member_id(sb(&ids[0])),
    );
    assert_eq!(code(left.error_code), ErrorCode::INVALID_GROUP_ID);
    assert_eq!(
        node.delete_groups(&[""]),
        vec![(String::new(), ErrorCode::INVALID_GROUP_ID)]
    );
    assert_eq!(
        node.coordinator.group_count(),
        groups,
        "no group was created"
    );
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

#[test]
fn sync_with_a_wrong_generation_is_illegal_generation() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "sync-generation";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    for generation in [0, 2, -1] {
        for id in &ids {
            let s = node.sync_now(
                500,
                sync_request(group, id, None, generation, &assignments(&ids)),
            );
            assert_eq!(
                code(s.error_code),
                ErrorCode::ILLEGAL_GENERATION,
                "sync of {id} at generation {generation}"
            );
            assert!(s.assignment.is_empty());
        }
    }
    // The assignment stands: a follower's sync at the right generation still gets it.
    let s = node.sync_now(600, sync_request(group, &ids[1], None, 1, &[]));
    assert_eq!(code(s.error_code), ErrorCode::NONE);
    assert_eq!(s.assignment, assignment_for(&ids[1]));
    assert_unharmed(&mut node, 700, group, &ids, 1);
}

#[test]
fn metadata_over_the_limit_is_offset_metadata_too_large() {
    let mut node = Node::new(GroupConfig {
        initial_rebalance_delay_ms: DELAY_MS,
        offset_metadata_max_bytes: 16,
        ..GroupConfig::default()
    });
    let group = "metadata";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let topics = vec![(
        "orders".to_string(),
        vec![
            (0, 100, -1, Some("x".repeat(17))),
            (1, 101, -1, Some("y".repeat(16))),
            (2, 102, -1, None),
        ],
    )];
    let r = node.commit_partitions(500, group, 1, &ids[0], None, topics);
    assert_eq!(
        r,
        vec![(
            "orders".to_string(),
            vec![
                (0, ErrorCode::OFFSET_METADATA_TOO_LARGE),
                (1, ErrorCode::NONE),
                (2, ErrorCode::NONE)
            ]
        )]
    );
    assert_eq!(
        node.committed(group, "orders", 0),
        -1,
        "the oversized one is not stored"
    );
    assert_eq!(node.committed(group, "orders", 1), 101);
    assert_eq!(node.committed(group, "orders", 2), 102);
    let (_, fetched) =
        node.coordinator
            .fetch_offsets(group, None, Some(vec![("orders".to_string(), vec![1])]));
    assert_eq!(fetched[0].1[0].3, "y".repeat(16));
    assert_unharmed(&mut node, 600, group, &ids, 1);
}

// ---------------------------------------------------------------------------------------------
// Admin commits, deletion, retention

#[test]
fn an_admin_commit_is_allowed_only_while_the_group_is_empty() {
    let mut node = Node::with_delay(DELAY_MS);
    // A group nobody joined: the commit creates it, holding only offsets.
    let r = node.commit(0, "tool", -1, "", None, &[("orders", 0, 42)]);
    assert_eq!(r[0].1, vec![(0, ErrorCode::NONE)]);
    assert_eq!(node.committed("tool", "orders", 0), 42);
    assert_eq!(node.state("tool"), Some((ClassicState::Empty, 0)));
    // With a generation but no group: ILLEGAL_GENERATION, as Kafka.
    let r = node.commit(0, "nothing", 3, "", None, &[("orders", 0, 1)]);
    assert_eq!(r[0].1, vec![(0, ErrorCode::ILLEGAL_GENERATION)]);

    let group = "busy";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let r = node.commit(500, group, -1, "", None, &[("orders", 0, 7)]);
    assert_eq!(r[0].1, vec![(0, ErrorCode::UNKNOWN_MEMBER_ID)]);
    assert_eq!(node.committed(group, "orders", 0), -1);
    assert_unharmed(&mut node, 600, group, &ids, 1);

    // Once every member left the group is Empty and an admin commit goes through.
    let left = node.leave_members(700, group, &ids);
    assert!(left.members.iter().all(|m| m.error_code == 0));
    assert_eq!(node.state(group), Some((ClassicState::Empty, 2)));
    let r = node.commit(800, group, -1, "", None, &[("orders", 0, 7)]);
    assert_eq!(r[0].1, vec![(0, ErrorCode::NONE)]);
    assert_eq!(node.committed(group, "orders", 0), 7);
}

#[test]
fn delete_groups_needs_an_empty_known_group_and_writes_tombstones() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "doomed";
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    let r = node.commit(
        500,
        group,
        1,
        &ids[0],
        None,
        &[("orders", 0, 5), ("orders", 1, 6), ("refunds", 0, 7)],
    );
    assert!(r
        .iter()
        .all(|(_, ps)| ps.iter().all(|(_, e)| *e == ErrorCode::NONE)));

    let written = node.log.len();
    assert_eq!(
        node.delete_groups(&[group, "ghost"]),
        vec![
            (group.to_string(), ErrorCode::NON_EMPTY_GROUP),
            ("ghost".to_string(), ErrorCode::GROUP_ID_NOT_FOUND)
        ]
    );
    assert_eq!(node.log.len(), written, "nothing written");
    assert_eq!(node.committed(group, "orders", 0), 5);
    assert_unharmed(&mut node, 600, group, &ids, 1);

    node.leave_members(700, group, &ids);
    assert_eq!(node.state(group), Some((ClassicState::Empty, 2)));
    let written = node.log.len();
    assert_eq!(
        node.delete_groups(&[group]),
        vec![(group.to_string(), ErrorCode::NONE)]
    );
    // A tombstone for each committed offset and one for the group.
    let mut tombstones: Vec<RecordKey> = node
        .records_since(written)
        .into_iter()
        .map(|(key, value)| {
            assert_eq!(value, None, "{key:?} is a tombstone");
            key
        })
        .collect();
    tombstones.sort();
    let offset = |topic: &str, partition: i32| RecordKey::Offset {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
    };
    let mut expected = vec![
        offset("orders", 0),
        offset("orders", 1),
        offset("refunds", 0),
        RecordKey::Group {
            group: group.to_string(),
        },
    ];
    expected.sort();
    assert_eq!(tombstones, expected);

    assert_eq!(node.state(group), None);
    assert_eq!(node.committed(group, "orders", 0), -1);
    let described = node.coordinator.describe_group(group);
    assert_eq!(code(described.error_code), ErrorCode::GROUP_ID_NOT_FOUND);
    assert_eq!(described.group_state.as_str(), "Dead");
    assert!(node
        .coordinator
        .list_groups(&[], &[])
        .iter()
        .all(|g| g.group_id.as_str() != group));
    assert_eq!(
        node.delete_groups(&[group]),
        vec![(group.to_string(), ErrorCode::GROUP_ID_NOT_FOUND)],
        "deleted means gone"
    );

    // A group that only holds offsets (admin commits) is empty and can go too.
    node.commit(900, "tool", -1, "", None, &[("orders", 0, 1)]);
    assert_eq!(
        node.delete_groups(&["tool"]),
        vec![("tool".to_string(), ErrorCode::NONE)]
    );
    assert_eq!(node.committed("tool", "orders", 0), -1);
}

#[test]
fn offset_delete_refuses_subscribed_topics() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "subscribed";
    // The members subscribe to "orders" (form_group's subscription).
    let ids = form_group(&mut node, 0, group, &["a", "b"]);
    node.commit(
        500,
        group,
        1,
        &ids[0],
        None,
        &[("orders", 0, 5), ("retired", 0, 9), ("retired", 1, 10)],
    );

    let written = node.log.len();
    let (error, result) = node.delete_offsets(
        group,
        vec![
            ("orders".to_string(), vec![0]),
            ("retired".to_string(), vec![0]),
        ],
    );
    assert_eq!(error, ErrorCode::NONE);
    assert_eq!(
        result,
        vec![
            (
                "orders".to_string(),
                vec![(0, ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)]
            ),
            ("retired".to_string(), vec![(0, ErrorCode::NONE)]),
        ]
    );
    assert_eq!(node.committed(group, "orders", 0), 5);
    assert_eq!(node.committed(group, "retired", 0), -1);
    assert_eq!(node.committed(group, "retired", 1), 10);
    assert_eq!(
        node.records_since(written),
        vec![(
            RecordKey::Offset {
                group: group.to_string(),
                topic: "retired".to_string(),
                partition: 0
            },
            None
        )]
    );

    let (error, _) = node.delete_offsets("ghost", vec![("orders".to_string(), vec![0])]);
    assert_eq!(error, ErrorCode::GROUP_ID_NOT_FOUND);
    assert_unharmed(&mut node, 600, group, &ids, 1);

    // Once the group is empty nothing is subscribed.
    node.leave_members(700, group, &ids);
    let (error, result) = node.delete_offsets(group, vec![("orders".to_string(), vec![0])]);
    assert_eq!(error, ErrorCode::NONE);
    assert_eq!(
        result,
        vec![("orders".to_string(), vec![(0, ErrorCode::NONE)])]
    );
    assert_eq!(node.committed(group, "orders", 0), -1);
}

#[test]
fn offsets_expire_after_retention() {
    let retention = 60_000;
    let mut node = Node::new(GroupConfig {
        initial_rebalance_delay_ms: DELAY_MS,
        offsets_retention_ms: retention,
        ..GroupConfig::default()
    });
    // Offsets of a group that only stores offsets count from their commit.
    node.commit(0, "tool", -1, "", None, &[("orders", 0, 1)]);
    node.commit(30_000, "tool", -1, "", None, &[("orders", 1, 2)]);
    // Offsets of a live group never expire; of an emptied group, from when it emptied.
    let live = form_group(&mut node, 0, "live", &["a"]);
    node.commit(200, "live", 1, &live[0], None, &[("orders", 0, 3)]);
    let gone = form_group(&mut node, 0, "gone", &["b"]);
    node.commit(200, "gone", 1, &gone[0], None, &[("orders", 0, 4)]);
    node.leave_members(50_000, "gone", &gone);

    assert_eq!(node.expire_offsets(retention - 1), 0);
    assert_eq!(node.committed("tool", "orders", 0), 1);

    let written = node.log.len();
    assert_eq!(node.expire_offsets(retention), 1);
    assert_eq!(node.committed("tool", "orders", 0), -1);
    assert_eq!(node.committed("tool", "orders", 1), 2);
    assert_eq!(
        node.records_since(written),
        vec![(
            RecordKey::Offset {
                group: "tool".to_string(),
                topic: "orders".to_string(),
                partition: 0
            },
            None
        )]
    );

    assert_eq!(node.expire_offsets(30_000 + retention), 1);
    assert_eq!(node.committed("tool", "orders", 1), -1);
    assert_eq!(
        node.state("tool"),
        None,
        "an empty group with no offsets left is deleted"
    );

    assert_eq!(node.expire_offsets(50_000 + retention - 1), 0);
    assert_eq!(node.committed("gone", "orders", 0), 4);
    assert_eq!(node.expire_offsets(50_000 + retention), 1);
    assert_eq!(node.committed("gone", "orders", 0), -1);
    assert_eq!(node.state("gone"), None);

    // Years later the live group still has its offset (its members heartbeat elsewhere).
    assert_eq!(node.expire_offsets(1 << 40), 0);
    assert_eq!(node.committed("live", "orders", 0), 3);
}

// ---------------------------------------------------------------------------------------------
// Replay

#[test]
fn replaying_the_log_rebuilds_groups_and_offsets() {
    let mut node = Node::with_delay(DELAY_MS);
    let dynamic = form_group(&mut node, 0, "dyn", &["a", "b", "c"]);
    let statics = form_static_group(&mut node, "stat");
    let emptied = form_group(&mut node, 0, "emptied", &["d"]);
    let deleted = form_group(&mut node, 0, "deleted", &["e"]);
    // A dynamic group, Stable with offsets (one committed twice).
    node.commit(
        500,
        "dyn",
        1,
        &dynamic[1],
        None,
        &[("orders", 0, 10), ("orders", 1, 11)],
    );
    node.commit(600, "dyn", 1, &dynamic[2], None, &[("orders", 0, 12)]);
    // A static group where i2 restarted: the log names its new id.
    let restarted = node.join_now(
        700,
        5,
        "s2",
        join_request("stat", "", Some("i2"), &["orders"]),
    );
    let new_i2 = restarted.member_id.to_string();
    node.sync_now(710, sync_request("stat", &new_i2, Some("i2"), 1, &[]));
    // A group whose members left, with offsets; then one of them deleted.
    node.commit(
        800,
        "emptied",
        1,
        &emptied[0],
        None,
        &[("orders", 0, 20), ("orders", 1, 21)],
    );
    node.leave_members(900, "emptied", &emptied);
    node.delete_offsets("emptied", vec![("orders".to_string(), vec![1])]);
    // A group deleted after use: its tombstones must remove it again.
    node.commit(800, "deleted", 1, &deleted[0], None, &[("orders", 0, 30)]);
    node.leave_members(900, "deleted", &deleted);
    assert_eq!(node.delete_groups(&["deleted"])[0].1, ErrorCode::NONE);

    let mut replayed = GroupCoordinator::new(node.coordinator.config().clone());
    let now = 5_000;
    for (key, value) in &node.log {
        replayed
            .replay(key, value.as_deref(), now)
            .expect("every record written replays");
    }

    for group in ["dyn", "stat", "emptied", "deleted"] {
        assert_eq!(
            replayed.classic_state(group),
            node.state(group),
            "state and generation of {group}"
        );
        assert_eq!(
            replayed.describe_group(group),
            node.coordinator.describe_group(group),
            "members, instance ids, subscriptions and assignments of {group}"
        );
        assert_eq!(
            replayed.fetch_offsets(group, None, None),
            node.coordinator.fetch_offsets(group, None, None),
            "offsets of {group}"
        );
    }
    assert_eq!(
        replayed.list_groups(&[], &[]),
        node.coordinator.list_groups(&[], &[])
    );
    assert_eq!(
        replayed.classic_state("dyn"),
        Some((ClassicState::Stable, 1))
    );
    assert_eq!(
        replayed.classic_state("emptied"),
        Some((ClassicState::Empty, 2))
    );
    assert_eq!(
        replayed.classic_state("deleted"),
        None,
        "tombstones remove the group"
    );
    assert_eq!(
        replayed.fetch_offsets("deleted", None, None),
        (ErrorCode::NONE, Vec::new())
    );
    let (_, dyn_offsets) = replayed.fetch_offsets("dyn", None, None);
    let offsets: Vec<(i32, i64, i32, String)> = dyn_offsets[0]
        .1
        .iter()
        .map(|(p, o, e, m, _)| (*p, *o, *e, m.clone()))
        .collect();
    assert_eq!(
        offsets,
        vec![
            (0, 12, 7, "meta 12".to_string()),
            (1, 11, 7, "meta 11".to_string())
        ]
    );
    let (_, emptied_offsets) = replayed.fetch_offsets("emptied", None, None);
    assert_eq!(emptied_offsets.len(), 1);
    assert_eq!(
        emptied_offsets[0].1.len(),
        1,
        "the deleted offset stays deleted"
    );
    let stat: Vec<String> = replayed
        .describe_group("stat")
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    assert_eq!(stat, vec![statics[0].clone(), new_i2.clone()]);

    // The rebuilt groups carry on: members heartbeat and commit at their generation, a
    // SyncGroup hands back the stored assignment, the replaced static id stays fenced.
    let mut replayed = Node {
        coordinator: replayed,
        ..Node::with_delay(DELAY_MS)
    };
    for id in &dynamic {
        assert_eq!(
            replayed.heartbeat(now + 1, "dyn", id, None, 1),
            ErrorCode::NONE
        );
    }
    let r = replayed.commit(now + 1, "dyn", 1, &dynamic[0], None, &[("orders", 2, 13)]);
    assert_eq!(r[0].1, vec![(2, ErrorCode::NONE)]);
    let s = replayed.sync_now(now + 1, sync_request("dyn", &dynamic[2], None, 1, &[]));
    assert_eq!(s.assignment, assignment_for(&dynamic[2]));
    assert_eq!(
        replayed.heartbeat(now + 1, "stat", &statics[1], Some("i2"), 1),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(
        replayed.heartbeat(now + 1, "stat", &new_i2, Some("i2"), 1),
        ErrorCode::NONE
    );
    let s = replayed.sync_now(now + 1, sync_request("stat", &new_i2, Some("i2"), 1, &[]));
    assert_eq!(s.assignment, assignment_for(&statics[1]));

    // A member that does not heartbeat within its session of the load is removed: i1 of
    // "stat" stayed quiet, everyone in "dyn" heartbeat at now + 1.
    replayed.tick(now + i64::from(SESSION_MS));
    assert_eq!(replayed.state("dyn"), Some((ClassicState::Stable, 1)));
    assert_eq!(
        replayed.state("stat"),
        Some((ClassicState::PreparingRebalance, 1))
    );
    assert_eq!(replayed.described_members("stat"), vec![new_i2]);
}

#[test]
fn replay_keeps_a_group_that_only_stores_offsets() {
    let mut node = Node::with_delay(DELAY_MS);
    node.commit(0, "tool", -1, "", None, &[("refunds", 3, 40)]);
    assert_eq!(node.state("tool"), Some((ClassicState::Empty, 0)));
    let mut replayed = GroupCoordinator::new(node.coordinator.config().clone());
    for (key, value) in &node.log {
        replayed
            .replay(key, value.as_deref(), 1_000)
            .expect("replays");
    }
    assert_eq!(
        replayed.fetch_offsets("tool", None, None),
        node.coordinator.fetch_offsets("tool", None, None)
    );
    assert_eq!(
        replayed.list_groups(&[], &[]),
        node.coordinator.list_groups(&[], &[])
    );
    assert_eq!(
        replayed.describe_group("tool"),
        node.coordinator.describe_group("tool")
    );
    assert_eq!(
        replayed.classic_state("tool"),
        Some((ClassicState::Empty, 0))
    );
}

#[test]
fn a_member_id_handed_out_survives_the_join_it_missed() {
    let mut node = Node::with_delay(DELAY_MS);
    let group = "pending";
    let a = node.join_now(0, 5, "a", join_request(group, "", None, &["orders"]));
    let t_a = node.join(
        0,
        5,
        "a",
        join_request(group, &a.member_id, None, &["orders"]),
    );
    let b = node.join_now(50, 5, "b", join_request(group, "", None, &["orders"]));
    assert_eq!(code(b.error_code), ErrorCode::MEMBER_ID_REQUIRED);
    node.tick(DELAY_MS);
    assert_eq!(node.take_join(t_a).generation_id, 1);
    // b comes back with its id within its session timeout.
    let t_b = node.join(
        200,
        5,
        "b",
        join_request(group, &b.member_id, None, &["orders"]),
    );
    if node.answered(t_b) {
        let r = node.take_join(t_b);
        assert_ne!(
            code(r.error_code),
            ErrorCode::UNKNOWN_MEMBER_ID,
            "b's id was handed out 150 ms ago, well within its session timeout"
        );
    }
    assert_eq!(
        node.state(group),
        Some((ClassicState::PreparingRebalance, 1)),
        "b's join starts the next rebalance"
    );
}

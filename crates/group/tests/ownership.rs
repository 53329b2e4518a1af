//! Partition ownership: a coordinator serves only the groups of the `__consumer_offsets`
//! partitions it owns. Requests for the others answer NOT_COORDINATOR (or, while their
//! partition loads, COORDINATOR_LOAD_IN_PROGRESS) in each API's response shape; unloading
//! forgets a partition's groups and answers what was parked on them; loading (begin, replay,
//! finish) brings them back as they were; timers leave partitions that are not Owned alone.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, HeartbeatRequest,
    JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest, SyncGroupRequest, SyncGroupResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_group::coordinator::{ClassicState, CommitPartition};
use sluice_group::{
    Client, GroupConfig, GroupCoordinator, Output, Ownership, Reply, Token, TopicsView,
};
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

const PARTITIONS: i32 = 50;
const SESSION_MS: i32 = 10_000;
const DELAY_MS: i64 = 3_000;
const PRODUCER: i64 = 7;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn config() -> GroupConfig {
    GroupConfig {
        num_partitions: PARTITIONS,
        initial_rebalance_delay_ms: DELAY_MS,
        ..GroupConfig::default()
    }
}

/// `count` group names that hash to `partition`, each starting with `prefix`.
fn groups_in(partition: i32, prefix: &str, count: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .filter(|g| sluice_group::partition_for(g, PARTITIONS) == partition)
        .take(count)
        .collect()
}

fn join_request(group: &str, member_id: &str, instance_id: Option<&str>) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_session_timeout_ms(SESSION_MS)
        .with_rebalance_timeout_ms(SESSION_MS)
        .with_member_id(sb(member_id))
        .with_group_instance_id(instance_id.map(sb))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(sb("range"))
            .with_metadata(Bytes::from_static(b"subscription"))])
}

fn sync_request(
    group: &str,
    member_id: &str,
    generation: i32,
    assign: &[String],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_member_id(sb(member_id))
        .with_generation_id(generation)
        .with_assignments(
            assign
                .iter()
                .map(|m| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(sb(m))
                        .with_assignment(Bytes::from(format!("assignment of {m}")))
                })
                .collect(),
        )
}

fn heartbeat_request(group: &str, member_id: &str, generation: i32) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_member_id(sb(member_id))
        .with_generation_id(generation)
}

fn offsets(entries: &[(&str, i32, i64)]) -> Vec<(String, Vec<CommitPartition>)> {
    entries
        .iter()
        .map(|(t, p, o)| (t.to_string(), vec![(*p, *o, -1, None)]))
        .collect()
}

fn consumer_join(group: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_member_id(sb(&Uuid::new_v4().simple().to_string()))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(sb("orders"))]))
        .with_topic_partitions(Some(vec![]))
}

/// The broker's side of the coordinator, minus the I/O: tokens, replies by token, and every
/// record written with its partition, as `__consumer_offsets` would hold them.
struct Node {
    c: GroupCoordinator,
    next_token: Token,
    replies: HashMap<Token, Reply>,
    log: Vec<(i32, Bytes, Option<Bytes>)>,
    topics: TopicsView,
}

impl Node {
    fn new(c: GroupCoordinator) -> Node {
        let mut topics = TopicsView::default();
        topics.insert("orders", Uuid::new_v4(), 4);
        Node {
            c,
            next_token: 1,
            replies: HashMap::new(),
            log: Vec::new(),
            topics,
        }
    }

    fn absorb(&mut self, out: Output) {
        for w in out.writes {
            for (k, v) in w.records {
                self.log.push((w.partition, k, v));
            }
        }
        for (token, reply) in out.replies {
            assert!(
                self.replies.insert(token, reply).is_none(),
                "token {token} answered twice"
            );
        }
    }

    /// Runs one call with a fresh token; its reply, if any yet, is kept for that token.
    fn run(&mut self, f: impl FnOnce(&mut GroupCoordinator, Token, &mut Output)) -> Token {
        let token = self.next_token;
        self.next_token += 1;
        let mut out = Output::default();
        f(&mut self.c, token, &mut out);
        self.absorb(out);
        token
    }

    /// A call that must write nothing and answer nothing but its own reply, at once.
    fn answer(&mut self, f: impl FnOnce(&mut GroupCoordinator, Token, &mut Output)) -> Reply {
        let written = self.log.len();
        let token = self.run(f);
        assert_eq!(self.log.len(), written, "an error answer writes nothing");
        assert_eq!(self.replies.len(), 1, "only the caller is answered");
        self.replies
            .remove(&token)
            .expect("the call is answered at once")
    }

    fn join(&mut self, now: i64, version: i16, req: JoinGroupRequest) -> Token {
        let client = Client {
            client_id: "client".into(),
            client_host: "/127.0.0.1".into(),
        };
        self.run(|c, t, out| c.join_group(now, t, version, &client, req, out))
    }

    fn sync(&mut self, now: i64, req: SyncGroupRequest) -> Token {
        self.run(|c, t, out| c.sync_group(now, t, 5, req, out))
    }

    fn take_join(&mut self, token: Token) -> JoinGroupResponse {
        match self.replies.remove(&token) {
            Some(Reply::Join(r)) => r,
            other => panic!("expected a JoinGroup reply for {token}, got {other:?}"),
        }
    }

    fn take_sync(&mut self, token: Token) -> SyncGroupResponse {
        match self.replies.remove(&token) {
            Some(Reply::Sync(r)) => r,
            other => panic!("expected a SyncGroup reply for {token}, got {other:?}"),
        }
    }

    fn commit(&mut self, now: i64, group: &str, entries: &[(&str, i32, i64)]) -> Reply {
        let topics = offsets(entries);
        let token =
            self.run(|c, t, out| c.commit_offsets(now, t, group, -1, "", None, topics, out));
        self.replies.remove(&token).expect("a commit is answered")
    }

    fn txn_commit(&mut self, now: i64, group: &str, entries: &[(&str, i32, i64)]) -> Reply {
        let topics = offsets(entries);
        let token = self.run(|c, t, out| {
            c.txn_commit_offsets(now, t, group, PRODUCER, -1, "", None, topics, out)
        });
        self.replies.remove(&token).expect("a commit is answered")
    }

    fn consumer_heartbeat(
        &mut self,
        now: i64,
        req: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        let client = Client::default();
        let topics = self.topics.clone();
        let token =
            self.run(|c, t, out| c.consumer_heartbeat(now, t, 1, &client, req, &topics, out));
        match self.replies.remove(&token) {
            Some(Reply::ConsumerHeartbeat(r)) => r,
            other => panic!("expected a ConsumerGroupHeartbeat reply, got {other:?}"),
        }
    }

    /// A classic group of `n` dynamic members (JoinGroup v3, no KIP-394 round trip), Stable
    /// at generation 1 at `now + DELAY_MS`. Returns the member ids, the leader first.
    fn stable_group(&mut self, now: i64, group: &str, n: usize) -> Vec<String> {
        let tokens: Vec<Token> = (0..n)
            .map(|_| self.join(now, 3, join_request(group, "", None)))
            .collect();
        self.tick(now + DELAY_MS);
        let ids: Vec<String> = tokens
            .into_iter()
            .map(|t| {
                let r = self.take_join(t);
                assert_eq!(ErrorCode(r.error_code), ErrorCode::NONE);
                r.member_id.to_string()
            })
            .collect();
        let leader = self.sync(now + DELAY_MS, sync_request(group, &ids[0], 1, &ids));
        assert_eq!(self.take_sync(leader).error_code, 0);
        for id in &ids[1..] {
            let t = self.sync(now + DELAY_MS, sync_request(group, id, 1, &[]));
            assert_eq!(self.take_sync(t).error_code, 0);
        }
        assert_eq!(self.c.classic_state(group), Some((ClassicState::Stable, 1)));
        ids
    }

    fn tick(&mut self, now: i64) {
        let mut out = Output::default();
        self.c.tick(now, &mut out);
        self.absorb(out);
    }

    fn unload(&mut self, partition: i32) {
        let mut out = Output::default();
        self.c.unload(partition, &mut out);
        self.absorb(out);
    }

    fn begin_loading(&mut self, partition: i32) {
        let mut out = Output::default();
        self.c.begin_loading(partition, &mut out);
        self.absorb(out);
    }

    /// Replays, at `now`, every record of the log of `from` (all partitions, in order).
    fn replay_from(&mut self, from: &[(i32, Bytes, Option<Bytes>)], now: i64) {
        for (_, k, v) in from {
            self.c.replay(k, v.as_deref(), now).expect("replays");
        }
    }

    /// What the coordinator says of `group` through the read APIs.
    fn snapshot(&self, group: &str) -> String {
        format!(
            "{:?}\n{:?}\n{:?}\n{:?}",
            self.c.describe_group(group),
            self.c.classic_state(group),
            self.c.fetch_offsets(group, None, None),
            self.c.consumer_describe(group, &self.topics),
        )
    }
}

/// Every request that names `group` answers `code`, in its API's shape, and writes nothing.
fn assert_every_api_answers(node: &mut Node, group: &str, code: ErrorCode) {
    let now = 1;
    match node.answer(|c, t, out| {
        c.join_group(
            now,
            t,
            5,
            &Client::default(),
            join_request(group, "m", None),
            out,
        )
    }) {
        Reply::Join(r) => {
            assert_eq!(ErrorCode(r.error_code), code, "JoinGroup");
            assert_eq!(r.generation_id, -1);
            assert_eq!(r.member_id.as_str(), "m");
        }
        other => panic!("JoinGroup answered {other:?}"),
    }
    match node.answer(|c, t, out| c.sync_group(now, t, 5, sync_request(group, "m", 1, &[]), out)) {
        Reply::Sync(r) => {
            assert_eq!(ErrorCode(r.error_code), code, "SyncGroup");
            assert!(r.assignment.is_empty());
        }
        other => panic!("SyncGroup answered {other:?}"),
    }
    assert_eq!(
        node.c.heartbeat(now, &heartbeat_request(group, "m", 1)),
        code,
        "Heartbeat"
    );
    // LeaveGroup: a group-level error is top level, without member results, in v0-v2 and v3+.
    for version in [1, 3] {
        let req = LeaveGroupRequest::default()
            .with_group_id(GroupId(sb(group)))
            .with_member_id(sb("m"))
            .with_members(vec![MemberIdentity::default().with_member_id(sb("m"))]);
        match node.answer(|c, t, out| c.leave_group(now, t, version, req, out)) {
            Reply::Leave(r) => {
                assert_eq!(ErrorCode(r.error_code), code, "LeaveGroup v{version}");
                assert!(r.members.is_empty(), "LeaveGroup v{version}");
            }
            other => panic!("LeaveGroup answered {other:?}"),
        }
    }
    // OffsetCommit and TxnOffsetCommit: the error on every partition.
    let expected = Reply::Commit(vec![
        ("orders".to_string(), vec![(0, code)]),
        ("refunds".to_string(), vec![(3, code)]),
    ]);
    let entries = [("orders", 0, 5), ("refunds", 3, 6)];
    let topics = offsets(&entries);
    let reply = node.answer(|c, t, out| c.commit_offsets(now, t, group, 1, "m", None, topics, out));
    assert_eq!(reply, expected, "OffsetCommit");
    let topics = offsets(&entries);
    let reply = node.answer(|c, t, out| {
        c.txn_commit_offsets(now, t, group, PRODUCER, 1, "m", None, topics, out)
    });
    assert_eq!(reply, expected, "TxnOffsetCommit");
    // OffsetFetch: the group's error, no topics (v8+ per group; the top level before).
    assert_eq!(
        node.c.fetch_offsets(group, None, None),
        (code, Vec::new()),
        "OffsetFetch"
    );
    assert_eq!(
        node.c
            .fetch_offsets_stable(group, None, Some(vec![("orders".into(), vec![0])]), true),
        (code, Vec::new()),
        "OffsetFetch require_stable"
    );
    // DescribeGroups: Kafka's groupError shape.
    let d = node.c.describe_group(group);
    assert_eq!(ErrorCode(d.error_code), code, "DescribeGroups");
    assert_eq!(d.group_id.as_str(), group);
    assert_eq!(
        (
            d.group_state.as_str(),
            d.protocol_type.as_str(),
            d.protocol_data.as_str()
        ),
        ("", "", "")
    );
    assert!(d.members.is_empty());
    assert_eq!(d.authorized_operations, i32::MIN);
    // DeleteGroups: per group.
    let names = vec![group.to_string()];
    assert_eq!(
        node.answer(|c, t, out| c.delete_groups(t, names, out)),
        Reply::Delete(vec![(group.to_string(), code)]),
        "DeleteGroups"
    );
    // OffsetDelete: top level.
    let topics = vec![("orders".to_string(), vec![0])];
    assert_eq!(
        node.answer(|c, t, out| c.delete_offsets(t, group, topics, out)),
        Reply::OffsetDelete(code, Vec::new()),
        "OffsetDelete"
    );
    // ConsumerGroupHeartbeat and ConsumerGroupDescribe.
    let topics = node.topics.clone();
    match node.answer(|c, t, out| {
        c.consumer_heartbeat(
            now,
            t,
            1,
            &Client::default(),
            consumer_join(group),
            &topics,
            out,
        )
    }) {
        Reply::ConsumerHeartbeat(r) => {
            assert_eq!(ErrorCode(r.error_code), code, "ConsumerGroupHeartbeat");
            assert!(r.error_message.is_some());
            assert!(r.assignment.is_none());
        }
        other => panic!("ConsumerGroupHeartbeat answered {other:?}"),
    }
    let d = node.c.consumer_describe(group, &node.topics);
    assert_eq!(ErrorCode(d.error_code), code, "ConsumerGroupDescribe");
    assert_eq!(d.group_id.as_str(), group);
    assert!(d.members.is_empty());
}

fn listed(node: &Node) -> Vec<String> {
    node.c
        .list_groups(&[], &[])
        .iter()
        .map(|g| g.group_id.to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_new_coordinator_owns_every_partition_and_an_unowned_one_none() {
    let c = GroupCoordinator::new(config());
    assert!((0..PARTITIONS).all(|p| c.owns(p)));
    assert!(!c.is_loading());
    let c = GroupCoordinator::new_unowned(config());
    assert!((0..PARTITIONS).all(|p| c.ownership(p) == Ownership::NotOwned));
    // Partitions outside the topic are never owned, and loading one changes nothing.
    let mut c = GroupCoordinator::new(config());
    let mut out = Output::default();
    c.begin_loading(PARTITIONS, &mut out);
    c.begin_loading(-1, &mut out);
    assert!(out.is_empty());
    assert!(!c.is_loading());
    assert!(!c.finish_loading(PARTITIONS));
    assert_eq!(c.ownership(PARTITIONS), Ownership::NotOwned);
    assert_eq!(c.ownership(-1), Ownership::NotOwned);
}

#[test]
fn requests_for_a_group_of_a_partition_not_owned_answer_not_coordinator() {
    let mut node = Node::new(GroupCoordinator::new_unowned(config()));
    let group = groups_in(7, "elsewhere", 1).remove(0);
    assert_every_api_answers(&mut node, &group, ErrorCode::NOT_COORDINATOR);
    assert_eq!(node.c.group_count(), 0, "nothing was created for the group");

    // An invalid group id is still INVALID_GROUP_ID, whoever owns partition 0.
    assert_eq!(
        node.c.heartbeat(1, &heartbeat_request("", "m", 1)),
        ErrorCode::INVALID_GROUP_ID
    );
    assert_eq!(
        node.c.fetch_offsets("", None, None).0,
        ErrorCode::INVALID_GROUP_ID
    );

    // Owning one partition serves exactly its groups.
    let mine = groups_in(3, "mine", 1).remove(0);
    let mut out = Output::default();
    node.c.begin_loading(3, &mut out);
    assert!(node.c.finish_loading(3));
    assert!(node.c.owns(3) && !node.c.owns(7));
    assert_eq!(
        node.commit(1, &mine, &[("orders", 0, 5)]),
        Reply::Commit(vec![("orders".into(), vec![(0, ErrorCode::NONE)])])
    );
    assert_eq!(listed(&node), vec![mine]);
    assert_every_api_answers(&mut node, &group, ErrorCode::NOT_COORDINATOR);
}

#[test]
fn requests_while_loading_answer_coordinator_load_in_progress() {
    let mut node = Node::new(GroupCoordinator::new(config()));
    let loading = groups_in(11, "loading", 1).remove(0);
    let other = groups_in(12, "other", 1).remove(0);
    node.commit(0, &loading, &[("orders", 0, 5)]);
    node.commit(0, &other, &[("orders", 0, 6)]);
    let log = node.log.clone();

    node.begin_loading(11);
    assert_eq!(node.c.ownership(11), Ownership::Loading);
    assert!(node.c.is_loading());
    assert_every_api_answers(&mut node, &loading, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    // Records replayed so far do not make the group visible before the load ends.
    node.replay_from(&log, 1);
    assert_every_api_answers(&mut node, &loading, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    assert_eq!(listed(&node), vec![other.clone()], "ListGroups: Owned only");
    // The other partitions go on as before.
    assert_eq!(node.c.fetch_offsets(&other, None, None).1[0].1[0].1, 6);

    assert!(node.c.finish_loading(11));
    assert!(!node.c.is_loading());
    assert_eq!(node.c.fetch_offsets(&loading, None, None).1[0].1[0].1, 5);
    let mut both = vec![loading, other];
    both.sort();
    assert_eq!(listed(&node), both);
    assert!(
        !node.c.finish_loading(11),
        "finishing twice changes nothing"
    );
}

#[test]
fn unload_drops_exactly_that_partitions_groups_and_answers_parked_requests() {
    let mut node = Node::new(GroupCoordinator::new(config()));
    let a = groups_in(20, "a", 6);
    let b = groups_in(21, "b", 2);
    // In partition 20: a JoinGroup parked in the initial rebalance delay; a SyncGroup parked
    // waiting for the leader; a static group; a KIP-848 group; a group with offsets, committed
    // and pending in a transaction.
    let parked_join = node.join(0, 3, join_request(&a[0], "", None));
    let first = node.join(0, 3, join_request(&a[1], "", None));
    let second = node.join(0, 3, join_request(&a[1], "", None));
    let statics = node.join(0, 5, join_request(&a[2], "", Some("instance-1")));
    // In partition 21: a JoinGroup parked the same way, offsets committed and pending.
    let parked_b = node.join(DELAY_MS - 1, 3, join_request(&b[0], "", None));
    node.tick(DELAY_MS);
    node.take_join(first);
    let follower = node.take_join(second).member_id.to_string();
    let static_id = node.take_join(statics).member_id.to_string();
    let static_sync = node.sync(
        DELAY_MS,
        sync_request(&a[2], &static_id, 1, std::slice::from_ref(&static_id)),
    );
    assert_eq!(node.take_sync(static_sync).error_code, 0);
    let parked_sync = node.sync(DELAY_MS, sync_request(&a[1], &follower, 1, &[]));
    assert!(
        !node.replies.contains_key(&parked_sync),
        "the follower waits"
    );
    // a[0]'s join was parked at 0 too: take it, and park a new one for a fresh member.
    node.take_join(parked_join);
    let parked_join = node.join(DELAY_MS, 3, join_request(&a[3], "", None));
    assert!(!node.replies.contains_key(&parked_join));
    assert_eq!(
        node.consumer_heartbeat(DELAY_MS, consumer_join(&a[4]))
            .error_code,
        0
    );
    let done = |p: i32| Reply::Commit(vec![("orders".into(), vec![(p, ErrorCode::NONE)])]);
    assert_eq!(node.commit(DELAY_MS, &a[5], &[("orders", 0, 10)]), done(0));
    assert_eq!(
        node.txn_commit(DELAY_MS, &a[5], &[("orders", 1, 11)]),
        done(1)
    );
    assert_eq!(node.commit(DELAY_MS, &b[1], &[("orders", 0, 20)]), done(0));
    assert_eq!(
        node.txn_commit(DELAY_MS, &b[1], &[("orders", 1, 21)]),
        done(1)
    );
    assert!(!node.replies.contains_key(&parked_b));
    let b_before: Vec<String> = b.iter().map(|g| node.snapshot(g)).collect();
    assert_eq!(node.c.group_count(), a.len() + b.len());

    let written = node.log.len();
    node.unload(20);
    assert_eq!(node.log.len(), written, "unloading writes nothing");
    assert_eq!(node.c.ownership(20), Ownership::NotOwned);
    // Everything parked on partition 20 is answered NOT_COORDINATOR; b's join still waits.
    let j = node.take_join(parked_join);
    assert_eq!(ErrorCode(j.error_code), ErrorCode::NOT_COORDINATOR);
    assert_eq!(j.generation_id, -1);
    assert!(!j.member_id.is_empty(), "the member id it was given");
    let s = node.take_sync(parked_sync);
    assert_eq!(ErrorCode(s.error_code), ErrorCode::NOT_COORDINATOR);
    assert!(
        node.replies.is_empty(),
        "b's join still waits: {:?}",
        node.replies
    );

    // Partition 20 is gone, partition 21 untouched.
    assert_eq!(node.c.group_count(), b.len());
    for g in &a {
        assert_every_api_answers(&mut node, g, ErrorCode::NOT_COORDINATOR);
    }
    let b_after: Vec<String> = b.iter().map(|g| node.snapshot(g)).collect();
    assert_eq!(b_after, b_before);
    let mut b_sorted = b.clone();
    b_sorted.sort();
    assert_eq!(listed(&node), b_sorted);
    // b's pending offsets are still there to complete; a's are not.
    let mut out = Output::default();
    assert_eq!(
        node.c.complete_txn(DELAY_MS, PRODUCER, 20, true, &mut out),
        ErrorCode::NOT_COORDINATOR
    );
    assert!(out.is_empty());
    assert_eq!(
        node.c.complete_txn(DELAY_MS, PRODUCER, 21, true, &mut out),
        ErrorCode::NONE
    );
    assert_eq!(out.writes.len(), 1);
    assert_eq!(out.writes[0].partition, 21);
    let (_, fetched) = node.c.fetch_offsets(&b[1], None, None);
    let committed: Vec<(i32, i64)> = fetched[0].1.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(committed, vec![(0, 20), (1, 21)]);
    // b's parked join completes on its own timer.
    node.tick(2 * DELAY_MS);
    assert_eq!(node.take_join(parked_b).error_code, 0);

    // Taken back without records, partition 20 has nothing: no group, no static member, no
    // offset, no pending offset.
    node.begin_loading(20);
    assert!(node.c.finish_loading(20));
    for g in &a {
        let d = node.c.describe_group(g);
        assert_eq!(
            ErrorCode(d.error_code),
            ErrorCode::GROUP_ID_NOT_FOUND,
            "{g}"
        );
        assert_eq!(
            node.c.fetch_offsets(g, None, None),
            (ErrorCode::NONE, Vec::new())
        );
    }
    assert_eq!(
        node.c
            .fetch_offsets_stable(&a[5], None, Some(vec![("orders".into(), vec![1])]), true)
            .1[0]
            .1[0]
            .4,
        ErrorCode::NONE,
        "no offset pending any more"
    );
    assert_eq!(
        node.c
            .heartbeat(DELAY_MS, &heartbeat_request(&a[2], &static_id, 1)),
        ErrorCode::UNKNOWN_MEMBER_ID,
        "the static member's old id is unknown"
    );
}

#[test]
fn begin_loading_an_owned_partition_starts_afresh_and_answers_parked_requests() {
    let mut node = Node::new(GroupCoordinator::new(config()));
    let group = groups_in(30, "reload", 1).remove(0);
    let parked = node.join(0, 3, join_request(&group, "", None));
    node.commit(0, &groups_in(30, "offsets", 1)[0], &[("orders", 0, 1)]);
    let log = node.log.clone();
    node.begin_loading(30);
    let j = node.take_join(parked);
    assert_eq!(ErrorCode(j.error_code), ErrorCode::NOT_COORDINATOR);
    assert_eq!(node.c.group_count(), 0);
    node.replay_from(&log, 1);
    assert!(node.c.finish_loading(30));
    assert_eq!(
        node.c.group_count(),
        1,
        "the offsets' group, from its records"
    );
    // Unloaded while loading: finishing the load must not take the partition.
    node.begin_loading(30);
    node.replay_from(&log, 2);
    node.unload(30);
    assert!(!node.c.finish_loading(30));
    assert_eq!(node.c.ownership(30), Ownership::NotOwned);
    assert_eq!(node.c.group_count(), 0);
}

#[test]
fn loading_a_partition_rebuilds_its_groups_and_offsets() {
    let mut node = Node::new(GroupCoordinator::new(config()));
    let a = groups_in(40, "load", 4);
    let b = groups_in(41, "keep", 1);
    let ids = node.stable_group(0, &a[0], 2);
    node.stable_group(0, &a[1], 1);
    let start = DELAY_MS + 1;
    let topics = offsets(&[("orders", 0, 100), ("orders", 1, 101)]);
    let t = node.run(|c, t, out| c.commit_offsets(start, t, &a[0], 1, &ids[1], None, topics, out));
    assert_eq!(
        node.replies.remove(&t),
        Some(Reply::Commit(vec![
            ("orders".into(), vec![(0, ErrorCode::NONE)]),
            ("orders".into(), vec![(1, ErrorCode::NONE)]),
        ]))
    );
    assert_eq!(
        node.consumer_heartbeat(start, consumer_join(&a[2]))
            .error_code,
        0
    );
    node.commit(start, &a[3], &[("refunds", 2, 7)]);
    node.txn_commit(start, &a[3], &[("refunds", 3, 8)]);
    node.commit(start, &b[0], &[("orders", 0, 9)]);
    let stable = |n: &Node, g: &str| {
        n.c.fetch_offsets_stable(g, None, Some(vec![("refunds".into(), vec![2, 3])]), true)
    };
    let before: Vec<String> = a.iter().map(|g| node.snapshot(g)).collect();
    let stable_before = stable(&node, &a[3]);
    assert_eq!(stable_before.1[0].1[1].4, ErrorCode::UNSTABLE_OFFSET_COMMIT);
    let listed_before = listed(&node);
    let log = node.log.clone();

    // The same coordinator gives the partition up and takes it back from its records.
    node.unload(40);
    node.begin_loading(40);
    let only_40: Vec<_> = log.iter().filter(|r| r.0 == 40).cloned().collect();
    node.replay_from(&only_40, start);
    assert!(node.c.finish_loading(40));
    let after: Vec<String> = a.iter().map(|g| node.snapshot(g)).collect();
    assert_eq!(after, before);
    assert_eq!(stable(&node, &a[3]), stable_before);
    assert_eq!(listed(&node), listed_before);
    // The loaded groups carry on: members heartbeat at their generation, the pending offset
    // commits with its transaction.
    for id in &ids {
        assert_eq!(
            node.c
                .heartbeat(start + 1, &heartbeat_request(&a[0], id, 1)),
            ErrorCode::NONE
        );
    }
    let mut out = Output::default();
    assert_eq!(
        node.c.complete_txn(start + 1, PRODUCER, 40, true, &mut out),
        ErrorCode::NONE
    );
    let rows = stable(&node, &a[3]).1;
    assert_eq!(
        rows[0].1.iter().map(|r| (r.1, r.4)).collect::<Vec<_>>(),
        vec![(7, ErrorCode::NONE), (8, ErrorCode::NONE)]
    );

    // Another broker that leads only partition 40 loads it from the whole log: the records
    // of other partitions are not its business.
    let mut other = Node::new(GroupCoordinator::new_unowned(config()));
    other.topics = node.topics.clone();
    other.begin_loading(40);
    other.replay_from(&log, start);
    assert!(other.c.finish_loading(40));
    let loaded: Vec<String> = a.iter().map(|g| other.snapshot(g)).collect();
    assert_eq!(loaded, before);
    assert_eq!(other.c.group_count(), a.len());
    assert_every_api_answers(&mut other, &b[0], ErrorCode::NOT_COORDINATOR);
    let mut a_sorted = a.clone();
    a_sorted.sort();
    assert_eq!(listed(&other), a_sorted);
}

#[test]
fn timers_touch_only_owned_partitions() {
    let config = GroupConfig {
        offsets_retention_ms: 60_000,
        ..config()
    };
    let mut node = Node::new(GroupCoordinator::new(config.clone()));
    let loading = groups_in(45, "quiet", 2);
    let owned = groups_in(46, "ticking", 1).remove(0);
    node.stable_group(0, &loading[0], 1);
    node.commit(0, &loading[1], &[("orders", 0, 1)]);
    node.txn_commit(0, &loading[1], &[("orders", 1, 2)]);
    let log = node.log.clone();
    node.stable_group(0, &owned, 1);

    // Partition 45 loads; its members' sessions and its offsets' retention run out meanwhile,
    // as does the session of the member in partition 46.
    node.unload(45);
    node.begin_loading(45);
    node.replay_from(&log, 0);
    let late = 10 * 60_000;
    let written = node.log.len();
    node.tick(late);
    assert_eq!(node.c.classic_state(&owned), Some((ClassicState::Empty, 2)));
    let mut out = Output::default();
    assert_eq!(node.c.expire_offsets(late, &mut out), 0);
    node.absorb(out);
    assert_eq!(node.c.classic_state(&owned), None, "empty, nothing to keep");
    let mut out = Output::default();
    assert_eq!(
        node.c.complete_txn(late, PRODUCER, 45, true, &mut out),
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    );
    assert!(
        out.is_empty(),
        "a transaction does not complete half-loaded"
    );
    assert!(
        node.log[written..].iter().all(|r| r.0 == 46),
        "only partition 46 changed"
    );
    assert_eq!(
        node.c.classic_state(&loading[0]),
        Some((ClassicState::Stable, 1)),
        "untouched while loading"
    );

    // Once owned, the timers reach it.
    assert!(node.c.finish_loading(45));
    node.tick(late);
    assert_eq!(
        node.c.classic_state(&loading[0]),
        Some((ClassicState::Empty, 2))
    );
    let mut out = Output::default();
    assert!(node.c.expire_offsets(late, &mut out) > 0);
    assert!(out.writes.iter().any(|w| w.partition == 45));

    // A coordinator that owns nothing has nothing to expire.
    let mut idle = GroupCoordinator::new_unowned(config);
    let mut out = Output::default();
    idle.tick(late, &mut out);
    assert_eq!(idle.expire_offsets(late, &mut out), 0);
    assert!(out.is_empty());
}

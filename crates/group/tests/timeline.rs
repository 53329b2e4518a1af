//! The coordinator as a shard of the broker's runtime: writes framed by `begin_write`, then
//! committed (`commit_through`) or undone (`revert_from`). Reads (OffsetFetch, DescribeGroups,
//! ListGroups) see only committed writes; an undone write leaves the state as it was before it,
//! parked requests included.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{GroupId, JoinGroupRequest, SyncGroupRequest};
use kafka_protocol::protocol::StrBytes;
use sluice_coordinator::CoordinatorShard;
use sluice_group::coordinator::{ClassicState, CommitPartition};
use sluice_group::{Client, GroupConfig, GroupCoordinator, Output, Reply, Token};
use sluice_protocol::error::ErrorCode;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// A coordinator with the runtime's write framing, keeping replies by token.
struct Shard {
    c: GroupCoordinator,
    next_write: u64,
    next_token: Token,
    replies: HashMap<Token, Reply>,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            c: GroupCoordinator::new(GroupConfig {
                initial_rebalance_delay_ms: 0,
                ..GroupConfig::default()
            }),
            next_write: 1,
            next_token: 1,
            replies: HashMap::new(),
        }
    }

    /// Runs one write; returns its id and the caller's token.
    fn write(&mut self, f: impl FnOnce(&mut GroupCoordinator, Token, &mut Output)) -> (u64, Token) {
        let id = self.next_write;
        self.next_write += 1;
        let token = self.next_token;
        self.next_token += 1;
        self.c.begin_write(id);
        let mut out = Output::default();
        f(&mut self.c, token, &mut out);
        self.replies.extend(out.replies);
        (id, token)
    }

    fn commit(&mut self, group: &str, offset: i64) -> u64 {
        let topics: Vec<(String, Vec<CommitPartition>)> =
            vec![("t".to_string(), vec![(0, offset, -1, None)])];
        let (id, token) =
            self.write(|c, t, out| c.commit_offsets(1, t, group, -1, "", None, topics, out));
        assert!(matches!(
            self.replies.remove(&token),
            Some(Reply::Commit(_))
        ));
        id
    }

    /// The offset OffsetFetch answers (-1: none).
    fn fetched(&self, group: &str) -> i64 {
        let (code, topics) =
            self.c
                .fetch_offsets(group, None, Some(vec![("t".to_string(), vec![0])]));
        assert_eq!(code, ErrorCode::NONE);
        topics[0].1[0].1
    }

    fn listed(&self) -> Vec<String> {
        self.c
            .list_groups(&[], &[])
            .iter()
            .map(|g| g.group_id.to_string())
            .collect()
    }

    fn join(&mut self, group: &str, member_id: &str) -> (u64, Token) {
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(sb(group)))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_member_id(sb(member_id))
            .with_protocol_type(sb("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(sb("range"))
                .with_metadata(Bytes::from_static(b"sub"))]);
        self.write(|c, t, out| c.join_group(1, t, 3, &Client::default(), req, out))
    }

    fn sync(&mut self, group: &str, member_id: &str, assign: &[&str]) -> (u64, Token) {
        let req = SyncGroupRequest::default()
            .with_group_id(GroupId(sb(group)))
            .with_member_id(sb(member_id))
            .with_generation_id(1)
            .with_assignments(
                assign
                    .iter()
                    .map(|m| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(sb(m))
                            .with_assignment(Bytes::from(format!("to {m}")))
                    })
                    .collect(),
            );
        self.write(|c, t, out| c.sync_group(1, t, 3, req, out))
    }
}

#[test]
fn an_offset_commit_is_read_only_once_committed() {
    let mut s = Shard::new();
    let first = s.commit("g", 5);
    assert_eq!(s.fetched("g"), -1, "in flight");
    assert!(
        s.listed().is_empty(),
        "the group the commit creates is in flight too"
    );
    let second = s.commit("g", 7);
    s.c.commit_through(first);
    assert_eq!(s.fetched("g"), 5);
    s.c.commit_through(second);
    assert_eq!(s.fetched("g"), 7);
    assert_eq!(s.listed(), vec!["g".to_string()]);
}

#[test]
fn an_undone_commit_leaves_the_offset_it_replaced() {
    let mut s = Shard::new();
    let first = s.commit("g", 5);
    s.c.commit_through(first);
    let failed = s.commit("g", 6);
    let _later = s.commit("g", 7);
    s.c.revert_from(failed);
    assert_eq!(s.fetched("g"), 5);
    // The latest state is the committed one again: a new commit builds on it.
    let next = s.commit("g", 8);
    s.c.commit_through(next);
    assert_eq!(s.fetched("g"), 8);
}

#[test]
fn an_undone_join_leaves_no_member_behind() {
    let mut s = Shard::new();
    let (id, token) = s.join("g", "");
    let Some(Reply::Join(r)) = s.replies.remove(&token) else {
        panic!("JoinGroup v3 of an empty group completes at once with no delay");
    };
    assert_eq!(r.error_code, 0);
    s.c.revert_from(id);
    assert_eq!(s.c.classic_state("g"), None);
    assert_eq!(s.c.group_count(), 0);
}

#[test]
fn a_sync_rolled_back_restores_completing_rebalance_with_parked_followers() {
    let mut s = Shard::new();
    s.c = GroupCoordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 100,
        ..GroupConfig::default()
    });
    let (_, a) = s.join("g", "");
    let (_, b) = s.join("g", "");
    let mut out = Output::default();
    let tick = s.next_write;
    s.next_write += 1;
    s.c.begin_write(tick);
    s.c.tick(1_000, &mut out);
    s.replies.extend(out.replies);
    s.c.commit_through(tick);
    let ids: Vec<String> = [a, b]
        .iter()
        .map(|t| match s.replies.remove(t) {
            Some(Reply::Join(r)) => {
                assert_eq!(r.error_code, 0);
                r.member_id.to_string()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        s.c.classic_state("g"),
        Some((ClassicState::CompletingRebalance, 1))
    );
    // The follower parks; its write commits.
    let (follower_write, follower) = s.sync("g", &ids[1], &[]);
    s.c.commit_through(follower_write);
    assert!(!s.replies.contains_key(&follower));
    // The leader's SyncGroup answers everyone and writes the group; its append fails.
    let (leader_write, leader) = s.sync("g", &ids[0], &[&ids[0], &ids[1]]);
    assert!(s.replies.contains_key(&follower));
    assert_eq!(
        s.c.classic_state("g"),
        Some((ClassicState::CompletingRebalance, 1)),
        "Stable is not read before the group record is committed"
    );
    s.replies.remove(&leader);
    s.replies.remove(&follower);
    s.c.revert_from(leader_write);
    assert_eq!(
        s.c.classic_state("g"),
        Some((ClassicState::CompletingRebalance, 1))
    );
    // The leader retries: the follower, parked again by the restored state, is answered.
    let (retry, leader) = s.sync("g", &ids[0], &[&ids[0], &ids[1]]);
    s.c.commit_through(retry);
    for (token, id) in [(leader, &ids[0]), (follower, &ids[1])] {
        match s.replies.remove(&token) {
            Some(Reply::Sync(r)) => {
                assert_eq!(r.error_code, 0);
                assert_eq!(r.assignment, Bytes::from(format!("to {id}")));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(s.c.classic_state("g"), Some((ClassicState::Stable, 1)));
}

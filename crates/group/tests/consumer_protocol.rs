//! KIP-848 consumer groups through the state machine's public API: joining, reconciliation
//! without double ownership, epochs and fencing, leaving, static members, bad input, replay.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions as OwnedTp;
use kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_group::{Client, GroupConfig, GroupCoordinator, Output, Reply, TopicsView};
use uuid::Uuid;

const FENCED_MEMBER_EPOCH: i16 = 110;
const UNKNOWN_MEMBER_ID: i16 = 25;
const UNRELEASED_INSTANCE_ID: i16 = 111;
const UNSUPPORTED_ASSIGNOR: i16 = 112;
const INVALID_REQUEST: i16 = 42;
const STALE_MEMBER_EPOCH: i16 = 113;

struct Node {
    c: GroupCoordinator,
    topics: TopicsView,
    topic_id: Uuid,
    token: u64,
    records: Vec<(bytes::Bytes, Option<bytes::Bytes>)>,
}

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

impl Node {
    fn new(partitions: i32) -> Node {
        let mut topics = TopicsView::default();
        let topic_id = Uuid::new_v4();
        topics.insert("t", topic_id, partitions);
        Node {
            c: GroupCoordinator::new(GroupConfig::default()),
            topics,
            topic_id,
            token: 0,
            records: Vec::new(),
        }
    }

    fn heartbeat(
        &mut self,
        now: i64,
        req: ConsumerGroupHeartbeatRequest,
    ) -> ConsumerGroupHeartbeatResponse {
        self.token += 1;
        let mut out = Output::default();
        let client = Client {
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
        };
        self.c
            .consumer_heartbeat(now, self.token, 1, &client, req, &self.topics, &mut out);
        for w in out.writes {
            self.records.extend(w.records);
        }
        match out.replies.pop() {
            Some((t, Reply::ConsumerHeartbeat(r))) if t == self.token => r,
            other => panic!("unexpected reply {other:?}"),
        }
    }

    fn join(&mut self, now: i64, member: &str) -> ConsumerGroupHeartbeatResponse {
        self.heartbeat(
            now,
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_id(s(member))
                .with_member_epoch(0)
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
                .with_topic_partitions(Some(vec![])),
        )
    }

    /// A heartbeat reporting `owned` partitions of topic t.
    fn beat(
        &mut self,
        now: i64,
        member: &str,
        epoch: i32,
        owned: &BTreeSet<i32>,
    ) -> ConsumerGroupHeartbeatResponse {
        self.heartbeat(
            now,
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_id(s(member))
                .with_member_epoch(epoch)
                .with_rebalance_timeout_ms(-1)
                .with_topic_partitions(Some(vec![OwnedTp::default()
                    .with_topic_id(self.topic_id)
                    .with_partitions(owned.iter().copied().collect())])),
        )
    }
}

/// The partitions of topic t in a response's assignment, if it carried one.
fn assigned(r: &ConsumerGroupHeartbeatResponse) -> Option<BTreeSet<i32>> {
    r.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .flat_map(|tp| tp.partitions.iter().copied())
            .collect()
    })
}

/// Heartbeats every member (reporting what it owns) until nothing changes; checks at every
/// step that no partition is owned twice. Returns member -> (epoch, owned).
fn settle(n: &mut Node, now: &mut i64, members: &mut BTreeMap<String, (i32, BTreeSet<i32>)>) {
    for _ in 0..20 {
        let mut changed = false;
        let ids: Vec<String> = members.keys().cloned().collect();
        for id in ids {
            let (epoch, owned) = members[&id].clone();
            *now += 100;
            let r = n.beat(*now, &id, epoch, &owned);
            assert_eq!(r.error_code, 0, "{id}: {r:?}");
            let new_owned = assigned(&r).unwrap_or(owned.clone());
            if r.member_epoch != epoch || new_owned != owned {
                changed = true;
            }
            members.insert(id, (r.member_epoch, new_owned));
            let mut seen = BTreeSet::new();
            for (_, (_, ps)) in members.iter() {
                for p in ps {
                    assert!(seen.insert(*p), "partition {p} owned twice: {members:?}");
                }
            }
        }
        if !changed {
            return;
        }
    }
    panic!("the group did not settle: {members:?}");
}

#[test]
fn members_share_partitions_without_ever_owning_one_twice() {
    let mut n = Node::new(6);
    let mut now = 1000;
    let mut members = BTreeMap::new();
    let r = n.join(now, "a");
    assert_eq!(r.error_code, 0);
    assert_eq!(assigned(&r), Some((0..6).collect()));
    assert_eq!(r.heartbeat_interval_ms, 5000);
    members.insert(
        "a".to_string(),
        (r.member_epoch, assigned(&r).unwrap_or_default()),
    );
    for id in ["b", "c"] {
        now += 10;
        let r = n.join(now, id);
        assert_eq!(r.error_code, 0);
        // Everything is still owned by the others: the newcomer waits for releases.
        members.insert(
            id.to_string(),
            (r.member_epoch, assigned(&r).unwrap_or_default()),
        );
        settle(&mut n, &mut now, &mut members);
    }
    let counts: Vec<usize> = members.values().map(|(_, ps)| ps.len()).collect();
    assert_eq!(counts, vec![2, 2, 2], "{members:?}");
    let all: BTreeSet<i32> = members
        .values()
        .flat_map(|(_, ps)| ps.iter().copied())
        .collect();
    assert_eq!(all, (0..6).collect());
    let epochs: BTreeSet<i32> = members.values().map(|(e, _)| *e).collect();
    assert_eq!(
        epochs.len(),
        1,
        "all members at the assignment epoch: {members:?}"
    );

    // b leaves: its partitions go to a and c.
    let (epoch, _) = members["b"].clone();
    now += 10;
    let r = n.heartbeat(
        now,
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s("b"))
            .with_member_epoch(-1),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let _ = epoch;
    members.remove("b");
    settle(&mut n, &mut now, &mut members);
    let all: BTreeSet<i32> = members
        .values()
        .flat_map(|(_, ps)| ps.iter().copied())
        .collect();
    assert_eq!(all, (0..6).collect());

    // Replaying what was written rebuilds the group: the members keep their epochs.
    let mut fresh = GroupCoordinator::new(GroupConfig::default());
    for (k, v) in &n.records {
        fresh.replay(k, v.as_deref(), now).expect("replay");
    }
    let d = fresh.consumer_describe("g", &n.topics);
    assert_eq!(d.error_code, 0);
    assert_eq!(d.members.len(), 2);
    for m in &d.members {
        let (epoch, owned) = &members[m.member_id.as_str()];
        assert_eq!(m.member_epoch, *epoch);
        let got: BTreeSet<i32> = m
            .assignment
            .topic_partitions
            .iter()
            .flat_map(|tp| tp.partitions.iter().copied())
            .collect();
        assert_eq!(&got, owned);
    }
}

#[test]
fn epochs_fence_and_bad_input_gets_kafka_codes() {
    let mut n = Node::new(4);
    let r = n.join(1000, "a");
    let epoch = r.member_epoch;
    let owned = assigned(&r).unwrap_or_default();
    // Ahead of the coordinator: fenced.
    assert_eq!(
        n.beat(1100, "a", epoch + 5, &owned).error_code,
        FENCED_MEMBER_EPOCH
    );
    // Unknown member.
    assert_eq!(
        n.beat(1100, "zz", epoch, &owned).error_code,
        UNKNOWN_MEMBER_ID
    );
    // Unknown assignor.
    let r = n.heartbeat(
        1100,
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s("b"))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(1000)
            .with_server_assignor(Some(s("nonsense")))
            .with_subscribed_topic_names(Some(vec![TopicName(s("t"))])),
    );
    assert_eq!(r.error_code, UNSUPPORTED_ASSIGNOR);
    // A join without a subscription, and an empty group id.
    let r = n.heartbeat(
        1100,
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s("b"))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(1000),
    );
    assert_eq!(r.error_code, INVALID_REQUEST);
    let r = n.heartbeat(
        1100,
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("")))
            .with_member_id(s("b"))
            .with_member_epoch(0),
    );
    assert_eq!(r.error_code, INVALID_REQUEST);
    // A commit at another epoch is stale; at the member's epoch it is fine.
    let mut out = Output::default();
    n.c.commit_offsets(
        1200,
        77,
        "g",
        epoch + 1,
        "a",
        None,
        vec![("t".into(), vec![(0, 5, -1, None)])],
        &mut out,
    );
    match out.replies.pop() {
        Some((77, Reply::Commit(rows))) => assert_eq!(rows[0].1[0].1 .0, STALE_MEMBER_EPOCH),
        other => panic!("{other:?}"),
    }
    let mut out = Output::default();
    n.c.commit_offsets(
        1200,
        78,
        "g",
        epoch,
        "a",
        None,
        vec![("t".into(), vec![(0, 5, -1, None)])],
        &mut out,
    );
    match out.replies.pop() {
        Some((78, Reply::Commit(rows))) => assert_eq!(rows[0].1[0].1 .0, 0),
        other => panic!("{other:?}"),
    }
    // The member is unharmed.
    assert_eq!(n.beat(1300, "a", epoch, &owned).error_code, 0);
}

#[test]
fn a_static_member_comes_back_under_a_new_id_with_its_partitions() {
    let mut n = Node::new(4);
    let join = |n: &mut Node, now, member: &str| {
        n.heartbeat(
            now,
            ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(s("g")))
                .with_member_id(s(member))
                .with_member_epoch(0)
                .with_instance_id(Some(s("i1")))
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![TopicName(s("t"))])),
        )
    };
    let r = join(&mut n, 1000, "m1");
    let epoch = r.member_epoch;
    let owned = assigned(&r).unwrap_or_default();
    assert_eq!(owned.len(), 4);
    // Another process with the same instance id while m1 is active.
    assert_eq!(join(&mut n, 1100, "m2").error_code, UNRELEASED_INSTANCE_ID);
    // m1 leaves temporarily (epoch -2): m2 takes its place at the same epoch and partitions.
    let r = n.heartbeat(
        1200,
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("g")))
            .with_member_id(s("m1"))
            .with_member_epoch(-2)
            .with_instance_id(Some(s("i1"))),
    );
    assert_eq!((r.error_code, r.member_epoch), (0, -2));
    let r = join(&mut n, 1300, "m2");
    assert_eq!(r.error_code, 0);
    assert_eq!(
        r.member_epoch, epoch,
        "no new group epoch for a returning static member"
    );
    assert_eq!(assigned(&r), Some(owned));
}

#[test]
fn a_silent_member_expires_and_its_partitions_move() {
    let mut n = Node::new(4);
    let mut now = 1000;
    let mut members = BTreeMap::new();
    for id in ["a", "b"] {
        let r = n.join(now, id);
        members.insert(
            id.to_string(),
            (r.member_epoch, assigned(&r).unwrap_or_default()),
        );
        settle(&mut n, &mut now, &mut members);
    }
    // b goes silent past the session timeout (45 s by default); a keeps heartbeating.
    let (epoch, owned) = members["a"].clone();
    assert_eq!(n.beat(now + 40_000, "a", epoch, &owned).error_code, 0);
    let mut out = Output::default();
    n.c.tick(now + 46_000, &mut out);
    members.remove("b");
    let mut later = now + 46_000;
    settle(&mut n, &mut later, &mut members);
    assert_eq!(members["a"].1, (0..4).collect::<BTreeSet<i32>>());
}

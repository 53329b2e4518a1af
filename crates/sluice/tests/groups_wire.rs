//! The group APIs against a real broker process: every version the broker advertises answers
//! a simple one-member scenario with a well-formed response and the expected error codes, bad
//! input gets Kafka's codes while the group carries on, and committed offsets survive a
//! restart.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{Client, TestBroker};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};

const NONE: i16 = 0;
const ILLEGAL_GENERATION: i16 = 22;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNKNOWN_MEMBER_ID: i16 = 25;
const INVALID_REQUEST: i16 = 42;
const NON_EMPTY_GROUP: i16 = 68;
const GROUP_ID_NOT_FOUND: i16 = 69;
const MEMBER_ID_REQUIRED: i16 = 79;
const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

const SESSION_MS: i32 = 30_000;
const TOPIC: &str = "wire-orders";
const OTHER_TOPIC: &str = "wire-refunds";

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn group_id(s: &str) -> GroupId {
    GroupId(sb(s))
}

fn topic_name(s: &str) -> TopicName {
    TopicName(sb(s))
}

/// A broker whose first rebalance does not wait: a lone member's JoinGroup is answered at once.
fn start(extra: &[(&str, &str)]) -> TestBroker {
    let mut settings = vec![("group.initial.rebalance.delay.ms", "0")];
    settings.extend_from_slice(extra);
    TestBroker::start(&settings)
}

fn versions(c: &mut Client, key: ApiKey) -> std::ops::RangeInclusive<i16> {
    let av = c.send(&ApiVersionsRequest::default(), 0);
    let entry = av
        .api_keys
        .iter()
        .find(|k| k.api_key == key as i16)
        .unwrap_or_else(|| panic!("{key:?} advertised"));
    assert!(entry.min_version <= entry.max_version, "{key:?} range");
    entry.min_version..=entry.max_version
}

fn create_topic(c: &mut Client, topic: &str) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(topic))
            .with_num_partitions(2)
            .with_replication_factor(1)])
        .with_timeout_ms(10_000);
    assert_eq!(c.send(&req, 7).topics[0].error_code, NONE, "create {topic}");
}

/// A consumer's subscription to `TOPIC` as the Java client sends it: an int16 version, then
/// ConsumerProtocolSubscription at that version.
fn subscription() -> Bytes {
    let version = 3;
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    ConsumerProtocolSubscription::default()
        .with_topics(vec![sb(TOPIC)])
        .encode(&mut buf, version)
        .expect("a subscription encodes at v3");
    buf.freeze()
}

fn assignment_for(member_id: &str) -> Bytes {
    Bytes::from(format!("assignment of {member_id}"))
}

fn join_request(group: &str, member_id: &str) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group_id(group))
        .with_session_timeout_ms(SESSION_MS)
        .with_rebalance_timeout_ms(SESSION_MS)
        .with_member_id(sb(member_id))
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(sb("range"))
            .with_metadata(subscription())])
}

/// One dynamic member joins the empty `group` at JoinGroup `version` (with the KIP-394 round
/// trip at v4+) and comes back as its leader. Returns the JoinGroup response.
fn join_alone(c: &mut Client, version: i16, group: &str) -> JoinGroupResponse {
    let mut member_id = String::new();
    if version >= 4 {
        let r = c.send(&join_request(group, ""), version);
        assert_eq!(r.error_code, MEMBER_ID_REQUIRED, "JoinGroup v{version}");
        assert_eq!(r.generation_id, -1);
        assert!(
            !r.member_id.is_empty(),
            "JoinGroup v{version} hands out an id"
        );
        member_id = r.member_id.to_string();
    }
    let r = c.send(&join_request(group, &member_id), version);
    assert_eq!(r.error_code, NONE, "JoinGroup v{version}");
    assert_eq!(r.generation_id, 1, "JoinGroup v{version}");
    assert!(!r.member_id.is_empty());
    if version >= 4 {
        assert_eq!(r.member_id.as_str(), member_id, "JoinGroup v{version}");
    }
    assert_eq!(
        r.leader, r.member_id,
        "JoinGroup v{version}: a lone member leads"
    );
    assert_eq!(
        r.members.len(),
        1,
        "JoinGroup v{version}: the leader sees itself"
    );
    assert_eq!(r.members[0].member_id, r.member_id);
    assert_eq!(r.members[0].metadata, subscription());
    assert_eq!(
        r.protocol_name.as_deref(),
        Some("range"),
        "JoinGroup v{version}"
    );
    if version >= 7 {
        assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
    }
    r
}

fn sync_request(group: &str, member_id: &str, generation: i32, version: i16) -> SyncGroupRequest {
    let mut req = SyncGroupRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(sb(member_id))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(sb(member_id))
            .with_assignment(assignment_for(member_id))]);
    if version >= 5 {
        req = req
            .with_protocol_type(Some(sb("consumer")))
            .with_protocol_name(Some(sb("range")));
    }
    req
}

/// A Stable one-member group (JoinGroup v5, SyncGroup v3). Returns (member id, generation).
fn stable_member(c: &mut Client, group: &str) -> (String, i32) {
    let joined = join_alone(c, 5, group);
    let member_id = joined.member_id.to_string();
    let r = c.send(&sync_request(group, &member_id, joined.generation_id, 3), 3);
    assert_eq!(r.error_code, NONE, "SyncGroup of {group}");
    assert_eq!(r.assignment, assignment_for(&member_id));
    (member_id, joined.generation_id)
}

fn heartbeat(c: &mut Client, version: i16, group: &str, member_id: &str, generation: i32) -> i16 {
    let req = HeartbeatRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id(generation)
        .with_member_id(sb(member_id));
    c.send(&req, version).error_code
}

/// OffsetCommit (v7) of `offsets` (partition, offset) on `topic`: the partitions' error codes.
fn commit(
    c: &mut Client,
    group: &str,
    member_id: &str,
    generation: i32,
    topic: &str,
    offsets: &[(i32, i64)],
) -> Vec<i16> {
    let req = OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(sb(member_id))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(
                offsets
                    .iter()
                    .map(|(p, o)| {
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(*p)
                            .with_committed_offset(*o)
                            .with_committed_leader_epoch(4)
                            .with_committed_metadata(Some(sb(&format!("meta {o}"))))
                    })
                    .collect(),
            )]);
    let r = c.send(&req, 7);
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].name.as_str(), topic);
    r.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect()
}

/// OffsetFetch (v7) of partitions 0 and 1 of `topic`: (offset, leader epoch, metadata) each.
fn fetch_offsets(c: &mut Client, group: &str, topic: &str) -> Vec<(i64, i32, String)> {
    let req = OffsetFetchRequest::default()
        .with_group_id(group_id(group))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(topic_name(topic))
            .with_partition_indexes(vec![0, 1])]));
    let r = c.send(&req, 7);
    assert_eq!(r.error_code, NONE, "OffsetFetch of {group}");
    assert_eq!(r.topics.len(), 1);
    r.topics[0]
        .partitions
        .iter()
        .map(|p| {
            assert_eq!(p.error_code, NONE);
            (
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata.as_deref().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn leave(c: &mut Client, group: &str, member_id: &str) {
    let req = LeaveGroupRequest::default()
        .with_group_id(group_id(group))
        .with_members(vec![MemberIdentity::default().with_member_id(sb(member_id))]);
    let r = c.send(&req, 4);
    assert_eq!(r.error_code, NONE);
    assert_eq!(r.members[0].error_code, NONE);
}

fn describe(c: &mut Client, group: &str) -> DescribedGroup {
    let req = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
    let mut r = c.send(&req, 5);
    assert_eq!(r.groups.len(), 1);
    r.groups.remove(0)
}

#[test]
fn every_group_api_at_every_advertised_version() {
    let broker = start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    create_topic(&mut c, OTHER_TOPIC);

    for v in versions(&mut c, ApiKey::FindCoordinator) {
        let mut req = FindCoordinatorRequest::default();
        if v >= 4 {
            req = req
                .with_key_type(0)
                .with_coordinator_keys(vec![sb("any-group")]);
        } else {
            req = req.with_key(sb("any-group"));
        }
        let r = c.send(&req, v);
        let (error, node, host, port) = if v >= 4 {
            assert_eq!(r.coordinators.len(), 1, "FindCoordinator v{v}");
            let co = &r.coordinators[0];
            assert_eq!(co.key.as_str(), "any-group");
            (co.error_code, co.node_id, co.host.to_string(), co.port)
        } else {
            (r.error_code, r.node_id, r.host.to_string(), r.port)
        };
        assert_eq!(error, NONE, "FindCoordinator v{v}");
        assert!(node.0 >= 0, "FindCoordinator v{v}: node {}", node.0);
        assert_eq!(host, "127.0.0.1", "FindCoordinator v{v}");
        assert_eq!(port, i32::from(broker.port), "FindCoordinator v{v}");
    }

    for v in versions(&mut c, ApiKey::JoinGroup) {
        let group = format!("join-v{v}");
        let joined = join_alone(&mut c, v, &group);
        leave(&mut c, &group, &joined.member_id);
    }

    for v in versions(&mut c, ApiKey::SyncGroup) {
        let group = format!("sync-v{v}");
        let joined = join_alone(&mut c, 5, &group);
        let member_id = joined.member_id.to_string();
        let r = c.send(
            &sync_request(&group, &member_id, joined.generation_id, v),
            v,
        );
        assert_eq!(r.error_code, NONE, "SyncGroup v{v}");
        assert_eq!(r.assignment, assignment_for(&member_id), "SyncGroup v{v}");
        if v >= 5 {
            assert_eq!(r.protocol_type.as_deref(), Some("consumer"));
            assert_eq!(r.protocol_name.as_deref(), Some("range"));
        }
        assert_eq!(describe(&mut c, &group).group_state.as_str(), "Stable");
        leave(&mut c, &group, &member_id);
    }

    for v in versions(&mut c, ApiKey::LeaveGroup) {
        let group = format!("leave-v{v}");
        let (member_id, _) = stable_member(&mut c, &group);
        let mut req = LeaveGroupRequest::default().with_group_id(group_id(&group));
        if v <= 2 {
            req = req.with_member_id(sb(&member_id));
        } else {
            req = req.with_members(vec![
                MemberIdentity::default().with_member_id(sb(&member_id))
            ]);
        }
        let r = c.send(&req, v);
        assert_eq!(r.error_code, NONE, "LeaveGroup v{v}");
        if v >= 3 {
            assert_eq!(r.members.len(), 1, "LeaveGroup v{v}");
            assert_eq!(r.members[0].member_id.as_str(), member_id);
            assert_eq!(r.members[0].error_code, NONE, "LeaveGroup v{v}");
        }
        let described = describe(&mut c, &group);
        assert_eq!(
            described.group_state.as_str(),
            "Empty",
            "after LeaveGroup v{v}"
        );
        assert!(described.members.is_empty());
    }

    // One Stable group for the rest.
    let group = "steady";
    let (member_id, generation) = stable_member(&mut c, group);

    for v in versions(&mut c, ApiKey::Heartbeat) {
        assert_eq!(
            heartbeat(&mut c, v, group, &member_id, generation),
            NONE,
            "Heartbeat v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::OffsetCommit) {
        let offset = 100 + i64::from(v);
        let partitions = [0, 1]
            .into_iter()
            .map(|p| {
                let mut partition = OffsetCommitRequestPartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(offset + i64::from(p))
                    .with_committed_metadata(Some(sb(&format!("v{v}"))));
                if v >= 6 {
                    partition = partition.with_committed_leader_epoch(5);
                }
                partition
            })
            .collect();
        let req = OffsetCommitRequest::default()
            .with_group_id(group_id(group))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(sb(&member_id))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic_name(TOPIC))
                .with_partitions(partitions)]);
        let r = c.send(&req, v);
        assert_eq!(r.topics.len(), 1, "OffsetCommit v{v}");
        let codes: Vec<(i32, i16)> = r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.error_code))
            .collect();
        assert_eq!(codes, vec![(0, NONE), (1, NONE)], "OffsetCommit v{v}");
        let epoch = if v >= 6 { 5 } else { -1 };
        assert_eq!(
            fetch_offsets(&mut c, group, TOPIC),
            vec![
                (offset, epoch, format!("v{v}")),
                (offset + 1, epoch, format!("v{v}"))
            ],
            "offsets after OffsetCommit v{v}"
        );
    }
    let last = fetch_offsets(&mut c, group, TOPIC);

    for v in versions(&mut c, ApiKey::OffsetFetch) {
        let rows: Vec<(i32, i64, i32, String, i16)> = if v >= 8 {
            let req =
                OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
                    .with_group_id(group_id(group))
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(topic_name(TOPIC))
                        .with_partition_indexes(vec![0, 1])]))]);
            let r = c.send(&req, v);
            assert_eq!(r.groups.len(), 1, "OffsetFetch v{v}");
            assert_eq!(r.groups[0].group_id.as_str(), group);
            assert_eq!(r.groups[0].error_code, NONE, "OffsetFetch v{v}");
            assert_eq!(r.groups[0].topics.len(), 1);
            r.groups[0].topics[0]
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_deref().unwrap_or("").to_string(),
                        p.error_code,
                    )
                })
                .collect()
        } else {
            let req = OffsetFetchRequest::default()
                .with_group_id(group_id(group))
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(topic_name(TOPIC))
                    .with_partition_indexes(vec![0, 1])]));
            let r = c.send(&req, v);
            assert_eq!(r.error_code, NONE, "OffsetFetch v{v}");
            assert_eq!(r.topics.len(), 1, "OffsetFetch v{v}");
            r.topics[0]
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.metadata.as_deref().unwrap_or("").to_string(),
                        p.error_code,
                    )
                })
                .collect()
        };
        // The leader epoch is in responses from v5 on.
        let expected: Vec<(i32, i64, i32, String, i16)> = last
            .iter()
            .enumerate()
            .map(|(p, (o, e, m))| (p as i32, *o, if v >= 5 { *e } else { -1 }, m.clone(), NONE))
            .collect();
        assert_eq!(rows, expected, "OffsetFetch v{v}");
    }

    for v in versions(&mut c, ApiKey::DescribeGroups) {
        let mut req = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
        if v >= 3 {
            req = req.with_include_authorized_operations(true);
        }
        let r = c.send(&req, v);
        assert_eq!(r.groups.len(), 1, "DescribeGroups v{v}");
        let g = &r.groups[0];
        assert_eq!(g.error_code, NONE, "DescribeGroups v{v}");
        assert_eq!(g.group_id.as_str(), group);
        assert_eq!(g.group_state.as_str(), "Stable", "DescribeGroups v{v}");
        assert_eq!(g.protocol_type.as_str(), "consumer");
        assert_eq!(g.protocol_data.as_str(), "range");
        assert_eq!(g.members.len(), 1, "DescribeGroups v{v}");
        let m = &g.members[0];
        assert_eq!(m.member_id.as_str(), member_id);
        assert_eq!(m.client_id.as_str(), "sluice-test");
        assert!(
            !m.client_host.is_empty(),
            "DescribeGroups v{v}: client host"
        );
        assert_eq!(m.member_metadata, subscription());
        assert_eq!(
            m.member_assignment,
            assignment_for(&member_id),
            "DescribeGroups v{v}"
        );
        if v >= 3 {
            assert_ne!(
                g.authorized_operations,
                i32::MIN,
                "DescribeGroups v{v}: operations asked for"
            );
        }
    }

    for v in versions(&mut c, ApiKey::ListGroups) {
        let mut req = ListGroupsRequest::default();
        if v >= 4 {
            req = req.with_states_filter(vec![sb("Stable")]);
        }
        if v >= 5 {
            req = req.with_types_filter(vec![sb("classic")]);
        }
        let r = c.send(&req, v);
        assert_eq!(r.error_code, NONE, "ListGroups v{v}");
        let listed = r
            .groups
            .iter()
            .find(|g| g.group_id.as_str() == group)
            .unwrap_or_else(|| panic!("ListGroups v{v} lists {group}"));
        assert_eq!(listed.protocol_type.as_str(), "consumer");
        if v >= 4 {
            assert_eq!(listed.group_state.as_str(), "Stable", "ListGroups v{v}");
            // The emptied groups of the LeaveGroup loop are filtered out.
            assert!(r.groups.iter().all(|g| g.group_state.as_str() == "Stable"));
        }
        if v >= 5 {
            assert_eq!(listed.group_type.as_str(), "classic");
        }
    }

    for v in versions(&mut c, ApiKey::DeleteGroups) {
        // A group that only holds offsets (an admin commit: no member, generation -1).
        let doomed = format!("delete-v{v}");
        assert_eq!(
            commit(&mut c, &doomed, "", -1, TOPIC, &[(0, 9)]),
            vec![NONE]
        );
        let r = c.send(
            &DeleteGroupsRequest::default().with_groups_names(vec![group_id(&doomed)]),
            v,
        );
        assert_eq!(r.results.len(), 1, "DeleteGroups v{v}");
        assert_eq!(r.results[0].group_id.as_str(), doomed);
        assert_eq!(r.results[0].error_code, NONE, "DeleteGroups v{v}");
        assert_eq!(
            fetch_offsets(&mut c, &doomed, TOPIC),
            vec![(-1, -1, String::new()), (-1, -1, String::new())],
            "offsets gone after DeleteGroups v{v}"
        );
    }

    for v in versions(&mut c, ApiKey::OffsetDelete) {
        assert_eq!(
            commit(
                &mut c,
                group,
                &member_id,
                generation,
                OTHER_TOPIC,
                &[(0, 1), (1, 2)]
            ),
            vec![NONE, NONE]
        );
        let topic = |name: &str| {
            OffsetDeleteRequestTopic::default()
                .with_name(topic_name(name))
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(0)
                ])
        };
        let req = OffsetDeleteRequest::default()
            .with_group_id(group_id(group))
            .with_topics(vec![topic(TOPIC), topic(OTHER_TOPIC)]);
        let r = c.send(&req, v);
        assert_eq!(r.error_code, NONE, "OffsetDelete v{v}");
        let codes: Vec<(String, i32, i16)> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.to_string(), p.partition_index, p.error_code))
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                (TOPIC.to_string(), 0, GROUP_SUBSCRIBED_TO_TOPIC),
                (OTHER_TOPIC.to_string(), 0, NONE)
            ],
            "OffsetDelete v{v}"
        );
        assert_eq!(
            fetch_offsets(&mut c, group, TOPIC),
            last,
            "subscribed offsets stay"
        );
        let other = fetch_offsets(&mut c, group, OTHER_TOPIC);
        assert_eq!((other[0].0, other[1].0), (-1, 2), "OffsetDelete v{v}");
    }

    // Through all of it the member kept its place.
    assert_eq!(heartbeat(&mut c, 4, group, &member_id, generation), NONE);
    leave(&mut c, group, &member_id);
    assert_eq!(describe(&mut c, group).group_state.as_str(), "Empty");
}

#[test]
fn bad_group_input_gets_kafka_codes_and_the_group_carries_on() {
    let broker = start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    let group = "sturdy";
    let (member_id, generation) = stable_member(&mut c, group);

    // A stale generation.
    for stale in [generation - 1, generation + 1] {
        assert_eq!(
            commit(&mut c, group, &member_id, stale, TOPIC, &[(0, 5)]),
            vec![ILLEGAL_GENERATION],
            "commit at generation {stale}"
        );
        assert_eq!(
            heartbeat(&mut c, 4, group, &member_id, stale),
            ILLEGAL_GENERATION
        );
    }

    // A JoinGroup with no protocols, to this group and to a new one.
    for v in versions(&mut c, ApiKey::JoinGroup) {
        for g in [group, "never-made"] {
            let r = c.send(&join_request(g, "").with_protocols(Vec::new()), v);
            assert_eq!(
                r.error_code, INCONSISTENT_GROUP_PROTOCOL,
                "JoinGroup v{v} to {g}"
            );
        }
    }
    assert_eq!(
        describe(&mut c, "never-made").error_code,
        NONE,
        "v5 describes an unknown group without an error"
    );
    assert_eq!(describe(&mut c, "never-made").group_state.as_str(), "Dead");

    // A Heartbeat for a group that does not exist.
    for v in versions(&mut c, ApiKey::Heartbeat) {
        assert_eq!(
            heartbeat(&mut c, v, "no-such-group", &member_id, generation),
            UNKNOWN_MEMBER_ID,
            "Heartbeat v{v}"
        );
    }

    // FindCoordinator with a key type that does not exist (0 group, 1 transaction, 2 share).
    for v in versions(&mut c, ApiKey::FindCoordinator) {
        if v == 0 {
            continue; // v0 has no key type
        }
        let mut req = FindCoordinatorRequest::default().with_key_type(7);
        if v >= 4 {
            req = req.with_coordinator_keys(vec![sb(group)]);
        } else {
            req = req.with_key(sb(group));
        }
        let r = c.send(&req, v);
        let error = if v >= 4 {
            assert_eq!(r.coordinators.len(), 1);
            r.coordinators[0].error_code
        } else {
            r.error_code
        };
        assert_eq!(error, INVALID_REQUEST, "FindCoordinator v{v} key type 7");
    }

    // DeleteGroups of a group with a member, next to one that does not exist.
    for v in versions(&mut c, ApiKey::DeleteGroups) {
        let r = c.send(
            &DeleteGroupsRequest::default()
                .with_groups_names(vec![group_id(group), group_id("no-such-group")]),
            v,
        );
        let codes: Vec<(String, i16)> = r
            .results
            .iter()
            .map(|g| (g.group_id.to_string(), g.error_code))
            .collect();
        assert_eq!(
            codes,
            vec![
                (group.to_string(), NON_EMPTY_GROUP),
                ("no-such-group".to_string(), GROUP_ID_NOT_FOUND)
            ],
            "DeleteGroups v{v}"
        );
    }

    // The group is unharmed: same member, same generation, nothing committed, and a commit at
    // the right generation goes through.
    assert_eq!(heartbeat(&mut c, 4, group, &member_id, generation), NONE);
    let described = describe(&mut c, group);
    assert_eq!(described.group_state.as_str(), "Stable");
    assert_eq!(described.members.len(), 1);
    assert_eq!(described.members[0].member_id.as_str(), member_id);
    assert_eq!(
        fetch_offsets(&mut c, group, TOPIC),
        vec![(-1, -1, String::new()), (-1, -1, String::new())]
    );
    assert_eq!(
        commit(&mut c, group, &member_id, generation, TOPIC, &[(0, 5)]),
        vec![NONE]
    );
    assert_eq!(fetch_offsets(&mut c, group, TOPIC)[0].0, 5);
}

#[test]
fn a_commit_from_an_unknown_member_is_unknown_member_id() {
    let broker = start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    let group = "guarded";
    let (member_id, generation) = stable_member(&mut c, group);
    assert_eq!(
        commit(&mut c, group, "intruder", generation, TOPIC, &[(0, 5)]),
        vec![UNKNOWN_MEMBER_ID]
    );
    assert_eq!(
        heartbeat(&mut c, 4, group, "intruder", generation),
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        fetch_offsets(&mut c, group, TOPIC)[0].0,
        -1,
        "nothing committed"
    );
    assert_eq!(heartbeat(&mut c, 4, group, &member_id, generation), NONE);
}

#[test]
fn a_commit_to_a_missing_topic_or_partition_is_unknown_topic_or_partition() {
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    let broker = start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    let group = "strays";
    assert_eq!(
        commit(&mut c, group, "", -1, "no-such-topic", &[(0, 5)]),
        vec![UNKNOWN_TOPIC_OR_PARTITION]
    );
    // Partition 0 exists, 99 does not: each gets its own answer.
    let mut codes = commit(&mut c, group, "", -1, TOPIC, &[(0, 5), (99, 5)]);
    codes.sort_unstable();
    assert_eq!(codes, vec![NONE, UNKNOWN_TOPIC_OR_PARTITION]);
    assert_eq!(fetch_offsets(&mut c, group, TOPIC)[0].0, 5);
}

#[test]
fn a_static_leader_rejoins_without_a_rebalance_at_every_join_version() {
    let broker = start(&[]);
    let mut c = broker.connect();
    create_topic(&mut c, TOPIC);
    // group.instance.id arrived with JoinGroup v5; skip_assignment (KIP-814) with v9.
    for version in 5..=9 {
        let group = format!("static-leader-v{version}");
        let static_join = |member_id: &str| {
            join_request(&group, member_id).with_group_instance_id(Some(sb("instance-1")))
        };
        let first = c.send(&static_join(""), version);
        assert_eq!(first.error_code, NONE, "JoinGroup v{version}");
        let member_id = first.member_id.to_string();
        let mut sync = sync_request(&group, &member_id, first.generation_id, 5);
        sync.group_instance_id = Some(sb("instance-1"));
        let r = c.send(&sync, 5);
        assert_eq!(r.error_code, NONE);
        // The same instance comes back without its member id (a restart): same generation,
        // a new member id, still the leader, and its assignment at SyncGroup.
        let again = c.send(&static_join(""), version);
        assert_eq!(
            again.error_code, NONE,
            "JoinGroup v{version} of a returning leader"
        );
        assert_eq!(
            again.generation_id, first.generation_id,
            "v{version}: no rebalance"
        );
        assert_ne!(again.member_id, first.member_id);
        assert_eq!(again.leader, again.member_id);
        assert_eq!(again.skip_assignment, version >= 9, "v{version}");
        let mut sync = sync_request(&group, &again.member_id, again.generation_id, 5);
        sync.group_instance_id = Some(sb("instance-1"));
        let r = c.send(&sync, 5);
        assert_eq!(r.error_code, NONE);
        assert_eq!(
            r.assignment,
            assignment_for(&member_id),
            "v{version}: the old assignment"
        );
    }
}

#[test]
fn committed_offsets_survive_a_restart() {
    // The data directory outlives both broker processes.
    let data = tempfile::tempdir().expect("temp dir");
    let log_dirs = data.path().display().to_string();
    let settings = [("log.dirs", log_dirs.as_str())];

    let group = "durable";
    let (member_id, generation) = {
        let broker = start(&settings);
        let mut c = broker.connect();
        create_topic(&mut c, TOPIC);
        let (member_id, generation) = stable_member(&mut c, group);
        assert_eq!(
            commit(
                &mut c,
                group,
                &member_id,
                generation,
                TOPIC,
                &[(0, 42), (1, 43)]
            ),
            vec![NONE, NONE]
        );
        // Overwritten: the later commit is the one that counts.
        assert_eq!(
            commit(&mut c, group, &member_id, generation, TOPIC, &[(1, 44)]),
            vec![NONE]
        );
        assert_eq!(
            commit(&mut c, "admin-set", "", -1, TOPIC, &[(0, 7)]),
            vec![NONE]
        );
        // Stopped with SIGTERM; dropping waits for the process to exit.
        (member_id, generation)
    };

    let broker = start(&settings);
    let mut c = broker.connect();
    assert_eq!(
        fetch_offsets(&mut c, group, TOPIC),
        vec![
            (42, 4, "meta 42".to_string()),
            (44, 4, "meta 44".to_string())
        ]
    );
    assert_eq!(
        fetch_offsets(&mut c, "admin-set", TOPIC)[0],
        (7, 4, "meta 7".to_string())
    );
    // The group's membership came back too: the member carries on at its generation.
    let described = describe(&mut c, group);
    assert_eq!(described.group_state.as_str(), "Stable");
    assert_eq!(described.members.len(), 1);
    assert_eq!(described.members[0].member_id.as_str(), member_id);
    assert_eq!(
        described.members[0].member_assignment,
        assignment_for(&member_id)
    );
    assert_eq!(heartbeat(&mut c, 4, group, &member_id, generation), NONE);
    assert_eq!(
        commit(&mut c, group, &member_id, generation, TOPIC, &[(0, 50)]),
        vec![NONE]
    );
    assert_eq!(fetch_offsets(&mut c, group, TOPIC)[0].0, 50);
}

//! Consumer-group APIs: FindCoordinator and the classic group protocol, committed offsets,
//! describe/list/delete. Each handler turns the wire request into a write or a read on the
//! group service (`crate::coordinators::GroupService`), on the shard of the group's partition,
//! and its reply into the wire response. Reads see committed state only.

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest,
    OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use sluice_group::coordinator::CommitPartition;
use sluice_group::{Client, Reply, TopicsView};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{AclOperation, ResourceType};

use super::request::RequestContext;
use crate::cluster::Cluster;
use crate::coordinators::GroupService;
use crate::replicas::ReplicaManager;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn client(ctx: &RequestContext) -> Client {
    Client {
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: ctx.client_host.clone(),
    }
}

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn find_coordinator(
    cluster: &Cluster,
    ctx: &RequestContext,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let v = ctx.api_version;
    let keys: Vec<StrBytes> = if v >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let image = cluster.image();
    // The coordinator is the leader of the key's partition of the internal topic.
    let coordinator = |topic: &str, key: &StrBytes| -> Result<(i32, String, i32), ErrorCode> {
        let t = image
            .topic(topic)
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        let partition = sluice_coordinator::partition_for(key, t.partitions.len() as i32);
        let leader = t
            .partition(partition)
            .and_then(|p| p.leader)
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        let b = image
            .broker(leader)
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        let (host, port) = b
            .endpoint(ctx.listener())
            .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
        Ok((leader, host.to_string(), i32::from(port)))
    };
    let answer = |key: &StrBytes| -> (ErrorCode, Option<String>, (i32, String, i32)) {
        let none = (-1, String::new(), -1);
        let topic = match req.key_type {
            KEY_TYPE_GROUP if key.is_empty() => {
                return (
                    ErrorCode::INVALID_REQUEST,
                    Some("the group id must not be empty".into()),
                    none,
                )
            }
            KEY_TYPE_TRANSACTION if key.is_empty() => {
                return (
                    ErrorCode::INVALID_REQUEST,
                    Some("the transactional id must not be empty".into()),
                    none,
                )
            }
            KEY_TYPE_GROUP => sluice_coordinator::OFFSETS_TOPIC,
            KEY_TYPE_TRANSACTION => sluice_coordinator::TXN_STATE_TOPIC,
            other => {
                return (
                    ErrorCode::INVALID_REQUEST,
                    Some(format!("unknown coordinator key type {other}")),
                    none,
                )
            }
        };
        // DESCRIBE on the group or transactional id the key names.
        let refused = match req.key_type {
            KEY_TYPE_GROUP => (!ctx.authorize_group(AclOperation::Describe, key))
                .then_some(ErrorCode::GROUP_AUTHORIZATION_FAILED),
            _ => (!ctx.authorize_transactional_id(AclOperation::Describe, key))
                .then_some(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        };
        if let Some(code) = refused {
            return (code, None, none);
        }
        match coordinator(topic, key) {
            Ok(node) => (ErrorCode::NONE, None, node),
            Err(code) => (code, None, none),
        }
    };
    if v >= 4 {
        let coordinators = keys
            .iter()
            .map(|key| {
                let (code, message, (id, host, port)) = answer(key);
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(id))
                    .with_host(sb(&host))
                    .with_port(port)
                    .with_error_code(code.0)
                    .with_error_message(message.map(StrBytes::from_string))
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let (code, message, (id, host, port)) = answer(&keys[0]);
    FindCoordinatorResponse::default()
        .with_error_code(code.0)
        .with_error_message(message.map(StrBytes::from_string))
        .with_node_id(BrokerId(id))
        .with_host(sb(&host))
        .with_port(port)
}

pub async fn join_group(
    groups: &GroupService,
    ctx: &RequestContext,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let v = ctx.api_version;
    let client = client(ctx);
    let member_id = req.member_id.clone();
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return JoinGroupResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0)
            .with_member_id(member_id);
    }
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            c.join_group(now, token, v, &client, req, out)
        })
        .await;
    match reply {
        Reply::Join(r) => r,
        other => JoinGroupResponse::default()
            .with_error_code(error_of(&other).0)
            .with_generation_id(-1)
            .with_member_id(member_id),
    }
}

pub async fn sync_group(
    groups: &GroupService,
    ctx: &RequestContext,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let v = ctx.api_version;
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return SyncGroupResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
    }
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            c.sync_group(now, token, v, req, out)
        })
        .await;
    match reply {
        Reply::Sync(r) => r,
        other => SyncGroupResponse::default().with_error_code(error_of(&other).0),
    }
}

pub async fn heartbeat(
    groups: &GroupService,
    ctx: &RequestContext,
    req: HeartbeatRequest,
) -> HeartbeatResponse {
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return HeartbeatResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
    }
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            let code = c.heartbeat(now, &req);
            out.replies.push((token, Reply::Code(code)));
        })
        .await;
    HeartbeatResponse::default().with_error_code(error_of(&reply).0)
}

pub async fn leave_group(
    groups: &GroupService,
    ctx: &RequestContext,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let v = ctx.api_version;
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return LeaveGroupResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
    }
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            c.leave_group(now, token, v, req, out)
        })
        .await;
    match reply {
        Reply::Leave(r) => r,
        other => LeaveGroupResponse::default().with_error_code(error_of(&other).0),
    }
}

pub async fn offset_commit(
    cluster: &Cluster,
    groups: &GroupService,
    ctx: &RequestContext,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group_refused = !ctx.authorize_group(AclOperation::Read, req.group_id.as_str());
    let group_id = req.group_id.to_string();
    let topics: Vec<(String, Vec<CommitPartition>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.committed_metadata.as_ref().map(|m| m.to_string()),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    // Partitions that do not exist are answered here, as Kafka's request handler does; the
    // coordinator sees only the rest.
    let mut unknown: Vec<(String, Vec<(i32, ErrorCode)>)> = Vec::new();
    let image = cluster.image();
    let topics: Vec<(String, Vec<CommitPartition>)> = topics
        .into_iter()
        .filter_map(|(t, ps)| {
            // READ on the group, then on each topic, before existence (as Kafka checks).
            let refused = if group_refused {
                Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
            } else if !ctx.authorize_topic(AclOperation::Read, &t) {
                Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
            } else {
                None
            };
            if let Some(code) = refused {
                unknown.push((t.clone(), ps.iter().map(|p| (p.0, code)).collect()));
                return None;
            }
            let (known, missing): (Vec<CommitPartition>, Vec<CommitPartition>) =
                ps.into_iter().partition(|p| {
                    image
                        .topic(&t)
                        .and_then(|topic| topic.partition(p.0))
                        .is_some()
                });
            if !missing.is_empty() {
                unknown.push((
                    t.clone(),
                    missing
                        .iter()
                        .map(|p| (p.0, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION))
                        .collect(),
                ));
            }
            (!known.is_empty()).then_some((t, known))
        })
        .collect();
    let fallback = topics.clone();
    let generation = req.generation_id_or_member_epoch;
    let member_id = req.member_id.to_string();
    let instance_id = req.group_instance_id.as_ref().map(|s| s.to_string());
    let reply = if topics.is_empty() {
        Reply::Commit(Vec::new())
    } else {
        groups
            .call(&group_id, |c, now, token, out| {
                c.commit_offsets(
                    now,
                    token,
                    &group_id,
                    generation,
                    &member_id,
                    instance_id.as_deref(),
                    topics,
                    out,
                )
            })
            .await
    };
    let mut result = match reply {
        Reply::Commit(r) => r,
        other => {
            let code = error_of(&other);
            fallback
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p.0, code)).collect()))
                .collect()
        }
    };
    for (t, ps) in unknown {
        match result.iter_mut().find(|(name, _)| *name == t) {
            Some((_, rows)) => rows.extend(ps),
            None => result.push((t, ps)),
        }
    }
    OffsetCommitResponse::default().with_topics(
        result
            .into_iter()
            .map(|(t, ps)| {
                OffsetCommitResponseTopic::default()
                    .with_name(TopicName(sb(&t)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, code)| {
                                OffsetCommitResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_error_code(code.0)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

pub async fn offset_fetch(
    groups: &GroupService,
    ctx: &RequestContext,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    let v = ctx.api_version;
    if v >= 8 {
        let results: Vec<_> = req
            .groups
            .iter()
            .map(|g| {
                let topics = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
                        .collect()
                });
                let member = g.member_id.as_ref().map(|m| (m.as_str(), g.member_epoch));
                if !ctx.authorize_group(AclOperation::Describe, &g.group_id) {
                    return (
                        g.group_id.clone(),
                        (ErrorCode::GROUP_AUTHORIZATION_FAILED, Vec::new()),
                    );
                }
                let (topics, refused) = split_describable(ctx, topics);
                let fetched = groups.read(&g.group_id, |c| {
                    c.fetch_offsets(&g.group_id, member, topics)
                });
                (g.group_id.clone(), with_refused(ctx, fetched, refused))
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(
            results
                .into_iter()
                .map(|(group_id, (code, topics))| {
                    OffsetFetchResponseGroup::default()
                        .with_group_id(group_id)
                        .with_error_code(code.0)
                        .with_topics(
                            topics
                                .into_iter()
                                .map(|(t, ps)| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(TopicName(sb(&t)))
                                        .with_partitions(
                                            ps.into_iter()
                                                .map(|(p, o, e, m, code)| {
                                                    OffsetFetchResponsePartitions::default()
                                                        .with_partition_index(p)
                                                        .with_committed_offset(o)
                                                        .with_committed_leader_epoch(e)
                                                        .with_metadata(Some(sb(&m)))
                                                        .with_error_code(code.0)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    }
    let topics = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.to_string(), t.partition_indexes.clone()))
            .collect()
    });
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Describe, &group_id) {
        let refused =
            OffsetFetchResponse::default().with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
        if v >= 2 {
            return refused;
        }
        // v0-v1 have no top-level error: it goes on each requested partition, as in Kafka.
        return refused.with_topics(
            req.topics
                .unwrap_or_default()
                .into_iter()
                .map(|t| {
                    OffsetFetchResponseTopic::default()
                        .with_name(t.name)
                        .with_partitions(
                            t.partition_indexes
                                .iter()
                                .map(|p| {
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(-1)
                                        .with_metadata(Some(sb("")))
                                        .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    }
    let (topics, refused) = split_describable(ctx, topics);
    let fetched = groups.read(&group_id, |c| c.fetch_offsets(&group_id, None, topics));
    let (code, topics) = with_refused(ctx, fetched, refused);
    let response = OffsetFetchResponse::default().with_topics(
        topics
            .into_iter()
            .map(|(t, ps)| {
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(sb(&t)))
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, o, e, m, pcode)| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(o)
                                    .with_committed_leader_epoch(e)
                                    .with_metadata(Some(sb(&m)))
                                    // v0-v1 have no top-level error: it goes on each partition.
                                    .with_error_code(if v < 2 && code != ErrorCode::NONE {
                                        code.0
                                    } else {
                                        pcode.0
                                    })
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    response.with_error_code(code.0)
}

pub async fn describe_groups(
    groups: &GroupService,
    ctx: &RequestContext,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let v = ctx.api_version;
    let described = req
        .groups
        .iter()
        .map(|g| {
            if !ctx.authorize_group(AclOperation::Describe, g) {
                return kafka_protocol::messages::describe_groups_response::DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0)
                    .with_authorized_operations(super::AUTHORIZED_OPS_NOT_REQUESTED);
            }
            let mut d = groups.read(g, |c| c.describe_group(g));
            if g.is_empty() {
                d.error_code = ErrorCode::INVALID_GROUP_ID.0;
            } else if v < 6 && d.error_code == ErrorCode::GROUP_ID_NOT_FOUND.0 {
                // Before v6 an unknown group is described as Dead without an error.
                d.error_code = ErrorCode::NONE.0;
            }
            if req.include_authorized_operations {
                d.authorized_operations = group_operations(ctx, g);
            }
            d
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(described)
}

/// READ, DESCRIBE, DELETE on a group (KIP-430 bits).
const GROUP_OPS_ALL: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// The KIP-430 bits of what the principal may do on group `g`.
fn group_operations(ctx: &RequestContext, g: &str) -> i32 {
    if !ctx.authorizer_enabled() {
        return GROUP_OPS_ALL;
    }
    use AclOperation::{Delete, Describe, Read};
    ctx.authorized_operations(ResourceType::Group, g, &[Read, Describe, Delete])
}

/// One partition's row of an OffsetFetch answer: index, offset, leader epoch, metadata, code.
type FetchedRow = (i32, i64, i32, String, ErrorCode);
/// The rows of an OffsetFetch answer, by topic.
type FetchedTopics = Vec<(String, Vec<FetchedRow>)>;
/// The partitions an OffsetFetch asks for, by topic (`None`: every topic of the group).
type WantedTopics = Option<Vec<(String, Vec<i32>)>>;

/// The topics an OffsetFetch names, split as Kafka splits them: those the principal may
/// DESCRIBE are read; each partition of the others answers TOPIC_AUTHORIZATION_FAILED without
/// an offset. `None` (every topic the group has offsets for) stays whole: see [`with_refused`].
fn split_describable(ctx: &RequestContext, topics: WantedTopics) -> (WantedTopics, FetchedTopics) {
    let Some(topics) = topics else {
        return (None, Vec::new());
    };
    let (readable, refused): (Vec<_>, Vec<_>) = topics
        .into_iter()
        .partition(|(t, _)| ctx.authorize_topic(AclOperation::Describe, t));
    let refused = refused
        .into_iter()
        .map(|(t, ps)| {
            let rows = ps
                .into_iter()
                .map(|p| {
                    (
                        p,
                        -1,
                        -1,
                        String::new(),
                        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                    )
                })
                .collect();
            (t, rows)
        })
        .collect();
    (Some(readable), refused)
}

/// An OffsetFetch read completed with the refused topics of [`split_describable`]; the
/// offsets of topics the principal may not DESCRIBE are left out (a read of every topic
/// names them), and a group-level error answers alone, as in Kafka.
fn with_refused(
    ctx: &RequestContext,
    (code, topics): (ErrorCode, FetchedTopics),
    refused: FetchedTopics,
) -> (ErrorCode, FetchedTopics) {
    if code != ErrorCode::NONE {
        return (code, topics);
    }
    let mut topics: Vec<_> = if ctx.authorizer_enabled() {
        topics
            .into_iter()
            .filter(|(t, _)| ctx.authorize_topic(AclOperation::Describe, t))
            .collect()
    } else {
        topics
    };
    topics.extend(refused);
    (code, topics)
}

pub async fn list_groups(
    groups: &GroupService,
    ctx: &RequestContext,
    req: ListGroupsRequest,
) -> ListGroupsResponse {
    // DESCRIBE on the cluster lists every group; otherwise the groups the principal may
    // DESCRIBE.
    let all = !ctx.authorizer_enabled() || ctx.authorize_cluster(AclOperation::Describe);
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_string()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_string()).collect();
    let mut listed = Vec::new();
    groups.read_each(|c| listed.extend(c.list_groups(&states, &types)));
    if !all {
        listed.retain(|g| ctx.authorize_group(AclOperation::Describe, g.group_id.as_str()));
    }
    ListGroupsResponse::default().with_groups(listed)
}

pub async fn delete_groups(
    groups: &GroupService,
    ctx: &RequestContext,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let (names, refused): (Vec<String>, Vec<String>) = req
        .groups_names
        .iter()
        .map(|g| g.to_string())
        .partition(|g| ctx.authorize_group(AclOperation::Delete, g));
    // One write per shard, with that shard's groups, in request order.
    let mut by_shard: Vec<(String, Vec<String>)> = Vec::new();
    for name in &names {
        let partition = groups.partition_for(name);
        match by_shard
            .iter_mut()
            .find(|(first, _)| groups.partition_for(first) == partition)
        {
            Some((_, batch)) => batch.push(name.clone()),
            None => by_shard.push((name.clone(), vec![name.clone()])),
        }
    }
    let mut results: Vec<(String, ErrorCode)> = Vec::with_capacity(names.len());
    for (first, batch) in by_shard {
        let fallback = batch.clone();
        let reply = groups
            .call(&first, |c, _now, token, out| {
                c.delete_groups(token, batch, out)
            })
            .await;
        match reply {
            Reply::Delete(r) => results.extend(r),
            other => {
                let code = error_of(&other);
                results.extend(fallback.into_iter().map(|g| (g, code)));
            }
        }
    }
    results.extend(
        refused
            .into_iter()
            .map(|g| (g, ErrorCode::GROUP_AUTHORIZATION_FAILED)),
    );
    let requested: Vec<String> = req.groups_names.iter().map(|g| g.to_string()).collect();
    let order = |g: &String| requested.iter().position(|n| n == g).unwrap_or(usize::MAX);
    results.sort_by_key(|(g, _)| order(g));
    DeleteGroupsResponse::default().with_results(
        results
            .into_iter()
            .map(|(g, code)| {
                DeletableGroupResult::default()
                    .with_group_id(GroupId(sb(&g)))
                    .with_error_code(code.0)
            })
            .collect(),
    )
}

pub async fn offset_delete(
    groups: &GroupService,
    ctx: &RequestContext,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group_id = req.group_id.to_string();
    if group_id.is_empty() {
        return OffsetDeleteResponse::default().with_error_code(ErrorCode::INVALID_GROUP_ID.0);
    }
    if !ctx.authorize_group(AclOperation::Delete, &group_id) {
        return OffsetDeleteResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
    }
    let topics: Vec<(String, Vec<i32>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                t.partitions.iter().map(|p| p.partition_index).collect(),
            )
        })
        .collect();
    // READ on each topic too (KIP-496): the partitions of a refused one answer
    // TOPIC_AUTHORIZATION_FAILED and are not deleted; the others are.
    let (topics, refused): (Vec<_>, Vec<_>) = topics
        .into_iter()
        .partition(|(t, _)| ctx.authorize_topic(AclOperation::Read, t));
    let reply = groups
        .call(&group_id, |c, _now, token, out| {
            c.delete_offsets(token, &group_id, topics, out)
        })
        .await;
    let (code, mut topics) = match reply {
        Reply::OffsetDelete(code, topics) => (code, topics),
        other => (error_of(&other), Vec::new()),
    };
    // Kafka merges them in whatever the group answered.
    topics.extend(refused.into_iter().map(|(t, ps)| {
        let rows = ps
            .into_iter()
            .map(|p| (p, ErrorCode::TOPIC_AUTHORIZATION_FAILED))
            .collect();
        (t, rows)
    }));
    OffsetDeleteResponse::default()
        .with_error_code(code.0)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetDeleteResponseTopic::default()
                        .with_name(TopicName(sb(&t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|(p, code)| {
                                    OffsetDeleteResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_error_code(code.0)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// The error a reply of an unexpected shape stands for (the coordinator runtime answers a
/// request whose write failed before a reply was made for it with an error code only).
fn error_of(reply: &Reply) -> ErrorCode {
    match reply {
        Reply::Code(code) => *code,
        _ => ErrorCode::UNKNOWN_SERVER_ERROR,
    }
}

/// The topics clients may subscribe to, for the KIP-848 assignors.
fn topics_view(replicas: &ReplicaManager) -> TopicsView {
    let mut view = TopicsView::default();
    for t in replicas.topics() {
        if !crate::replicas::is_internal_topic(&t.name) {
            view.insert(&t.name, t.id, t.partitions.len() as i32);
        }
    }
    view
}

pub async fn consumer_group_heartbeat(
    replicas: &ReplicaManager,
    groups: &GroupService,
    consumer_protocol: Result<(), &'static str>,
    ctx: &RequestContext,
    req: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    if let Err(why) = consumer_protocol {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ErrorCode::UNSUPPORTED_VERSION.0)
            .with_error_message(Some(sb(why)))
            .with_member_epoch(-1);
    }
    let v = ctx.api_version;
    let client = client(ctx);
    let topics = topics_view(replicas);
    let group_id = req.group_id.to_string();
    if !ctx.authorize_group(AclOperation::Read, &group_id) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0)
            .with_member_epoch(-1);
    }
    // KIP-848: every subscribed topic must be one the member may DESCRIBE.
    let hidden: Vec<String> = req
        .subscribed_topic_names
        .iter()
        .flatten()
        .filter(|t| !ctx.authorize_topic(AclOperation::Describe, t.as_str()))
        .map(|t| t.to_string())
        .collect();
    if !hidden.is_empty() {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0)
            .with_error_message(Some(sb(&format!(
                "Topic authorization failed for topics {hidden:?}"
            ))))
            .with_member_epoch(-1);
    }
    let reply = groups
        .call(&group_id, |c, now, token, out| {
            c.consumer_heartbeat(now, token, v, &client, req, &topics, out)
        })
        .await;
    match reply {
        Reply::ConsumerHeartbeat(r) => r,
        other => ConsumerGroupHeartbeatResponse::default()
            .with_error_code(error_of(&other).0)
            .with_member_epoch(-1),
    }
}

pub async fn consumer_group_describe(
    replicas: &ReplicaManager,
    groups: &GroupService,
    ctx: &RequestContext,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let topics = topics_view(replicas);
    let described = req
        .group_ids
        .iter()
        .map(|g| {
            // A refused group is named and nothing more: not even its state.
            if !ctx.authorize_group(AclOperation::Describe, g) {
                return DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(ErrorCode::GROUP_AUTHORIZATION_FAILED.0);
            }
            let mut d = groups.read(g, |c| c.consumer_describe(g, &topics));
            // As in Kafka 4, a group whose (target) assignment has a topic the principal may
            // not DESCRIBE is refused as a whole.
            let hidden = d
                .members
                .iter()
                .flat_map(|m| {
                    m.assignment
                        .topic_partitions
                        .iter()
                        .chain(&m.target_assignment.topic_partitions)
                })
                .any(|tp| !ctx.authorize_topic(AclOperation::Describe, &tp.topic_name));
            if hidden {
                return DescribedGroup::default()
                    .with_group_id(g.clone())
                    .with_error_code(ErrorCode::TOPIC_AUTHORIZATION_FAILED.0)
                    .with_error_message(Some(sb(
                        "The group has described topic(s) that the client is not authorized to describe.",
                    )));
            }
            if req.include_authorized_operations && d.error_code == 0 {
                d.authorized_operations = group_operations(ctx, g);
            }
            d
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(described)
}

//! `/api/v1/groups`: consumer groups with their lag, deleting a group, resetting its offsets,
//! its lag history. Everything goes through the CLI's group requests
//! ([`sluice_client::group::group_client::GroupClient`]) over the caller's cluster client.
//!
//! - Members and assignments: DescribeGroups (classic groups, the consumer protocol's
//!   assignment bytes decoded); a group that DescribeGroups shows as a `consumer` group with no
//!   protocol is asked again with ConsumerGroupDescribe (KIP-848 groups, whose members the
//!   coordinator keeps in the new form).
//! - Lag: every committed offset (OffsetFetch with no topics named) against the partitions' high
//!   watermarks (ListOffsets, one request per topic and leader for a whole page of groups). A
//!   lag is never negative (a committed offset past the end counts as caught up).
//! - Resetting offsets: only while the group is Empty, with the "simple" OffsetCommit that
//!   `sluice group reset-offsets` sends; the new offsets are kept within each partition's range.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sluice_client::group::describe::{GroupDescription, InstanceId, MemberAssignment};
use sluice_client::group::group_client::{CommittedOffset, GroupClient, TopicPartition};
use sluice_client::group::reset::{new_offset, PartitionOffsets, ResetMode};
use sluice_client::wire::list_offsets::{EARLIEST, LATEST};
use sluice_client::wire::{ClusterClient, RequestError};

use super::access::Caller;
use super::{deadline, json_body, query_params, ApiError, Page};
use crate::AdminState;

const GROUP_ID_NOT_FOUND: i16 = 69;
const NON_EMPTY_GROUP: i16 = 68;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

#[derive(Serialize)]
struct GroupList {
    total: usize,
    offset: usize,
    limit: usize,
    groups: Vec<GroupSummary>,
}

#[derive(Serialize)]
struct GroupSummary {
    group_id: String,
    state: String,
    protocol_type: String,
    protocol: String,
    members: usize,
    coordinator: Option<i32>,
    /// `None` when no end offset of its partitions could be read.
    lag: Option<i64>,
}

#[derive(Serialize)]
struct GroupDetail {
    group_id: String,
    state: String,
    protocol_type: String,
    protocol: String,
    coordinator: i32,
    members: Vec<MemberJson>,
    offsets: Vec<OffsetJson>,
    lag: Option<i64>,
}

#[derive(Serialize)]
struct MemberJson {
    member_id: String,
    group_instance_id: Option<String>,
    client_id: String,
    host: String,
    assignments: Vec<AssignmentJson>,
}

#[derive(Serialize)]
struct AssignmentJson {
    topic: String,
    partitions: Vec<i32>,
}

#[derive(Serialize)]
struct OffsetJson {
    topic: String,
    partition: i32,
    /// `None`: assigned to a member but never committed.
    committed_offset: Option<i64>,
    /// `None`: the high watermark could not be read.
    end_offset: Option<i64>,
    lag: Option<i64>,
    metadata: Option<String>,
}

/// The request body of `POST /groups/{group}/offsets/reset`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    to: String,
    timestamp_ms: Option<i64>,
    offset: Option<i64>,
    topic: Option<String>,
    partitions: Option<Vec<i32>>,
}

#[derive(Serialize)]
struct ResetAnswer {
    offsets: Vec<ResetOffset>,
}

#[derive(Serialize)]
struct ResetOffset {
    topic: String,
    partition: i32,
    offset: i64,
}

fn groups_of(client: &mut ClusterClient) -> GroupClient<&mut ClusterClient> {
    GroupClient::over(client, deadline())
}

/// `GET /groups`: paginated, `?search=`, each group of the page with its members and lag.
pub async fn list(mut caller: Caller, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let result = list_groups(&mut caller, query.as_deref()).await;
    caller.check(result).map(|list| Json(list).into_response())
}

async fn list_groups(caller: &mut Caller, query: Option<&str>) -> Result<GroupList, ApiError> {
    let params = query_params(query)?;
    let page = Page::from_params(&params)?;
    let search = params.get("search").map(|s| s.to_lowercase());
    let mut client = groups_of(caller);
    let matching: Vec<(GroupDescription, i32)> = client
        .list_with_coordinators()
        .await?
        .into_iter()
        .filter(|(g, _)| {
            search
                .as_deref()
                .is_none_or(|s| g.name.to_lowercase().contains(s))
        })
        .collect();
    let total = matching.len();
    let page_groups = page.slice(&matching);

    // One DescribeGroups and one OffsetFetch per coordinator for its groups of the page.
    let mut by_coordinator: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (group, coordinator) in page_groups {
        by_coordinator
            .entry(*coordinator)
            .or_default()
            .push(group.name.clone());
    }
    let mut described: BTreeMap<String, GroupDescription> = BTreeMap::new();
    let mut committed: BTreeMap<String, BTreeMap<TopicPartition, CommittedOffset>> =
        BTreeMap::new();
    for (coordinator, names) in &by_coordinator {
        // A coordinator that moved since the listing (or an older broker): its groups are
        // asked one by one below.
        if let Ok(found) = client.describe_at(*coordinator, names).await {
            described.extend(found.into_iter().map(|g| (g.name.clone(), g)));
        }
        if let Ok(found) = client.all_committed_offsets_at(*coordinator, names).await {
            committed.extend(found);
        }
    }
    let mut summaries = Vec::with_capacity(page_groups.len());
    for (listed, coordinator) in page_groups {
        let name = &listed.name;
        let group = match described.remove(name) {
            // A KIP-848 group with members: DescribeGroups does not show them.
            Some(d) if may_be_kip848(&d) && d.state != "Empty" => {
                match client.consumer_group_describe(name).await {
                    Ok(Some(kip848)) => kip848,
                    _ => d,
                }
            }
            Some(d) => d,
            // Gone since the listing, or its coordinator moved: as listed.
            None => listed.clone(),
        };
        if !committed.contains_key(name) {
            let (offsets, _) = client.all_committed_offsets(name).await?;
            committed.insert(name.clone(), offsets);
        }
        summaries.push(GroupSummary {
            group_id: group.name,
            state: group.state,
            protocol_type: group.protocol_type,
            protocol: group.protocol,
            members: group.members.len(),
            coordinator: Some(*coordinator),
            lag: None,
        });
    }
    // The end offsets of every committed partition of the page: one ListOffsets per topic
    // and leader.
    let wanted: BTreeSet<TopicPartition> =
        committed.values().flat_map(|c| c.keys().cloned()).collect();
    let ends = end_offsets(&mut client, &wanted).await;
    for summary in &mut summaries {
        if let Some(offsets) = committed.get(&summary.group_id) {
            summary.lag = total_lag(offsets, &ends);
        }
    }
    Ok(GroupList {
        total,
        offset: page.offset,
        limit: page.limit,
        groups: summaries,
    })
}

/// Whether DescribeGroups' view of a group may hide a KIP-848 consumer group's members: a
/// `consumer` group without a classic protocol and without members.
fn may_be_kip848(d: &GroupDescription) -> bool {
    d.protocol_type == "consumer" && d.protocol.is_empty() && d.members.is_empty()
}

/// The group as DescribeGroups shows it, or as ConsumerGroupDescribe does for a KIP-848
/// consumer group; `None` when it does not exist.
pub async fn describe_any(
    client: &mut GroupClient<&mut ClusterClient>,
    group: &str,
) -> Result<Option<GroupDescription>, RequestError> {
    let classic = client.describe(group).await?;
    if !classic.as_ref().is_none_or(may_be_kip848) {
        return Ok(classic);
    }
    match client.consumer_group_describe(group).await {
        Ok(Some(described)) => Ok(Some(described)),
        Ok(None) => Ok(classic),
        // A broker without ConsumerGroupDescribe has no KIP-848 groups.
        Err(RequestError::Unsupported(_)) => Ok(classic),
        Err(e) => Err(e),
    }
}

/// The high watermark of each of `partitions` (`Err`: it could not be read), one ListOffsets
/// per topic and leader.
async fn end_offsets(
    client: &mut GroupClient<&mut ClusterClient>,
    partitions: &BTreeSet<TopicPartition>,
) -> BTreeMap<TopicPartition, Result<i64, RequestError>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    let mut ends = BTreeMap::new();
    for (topic, partitions) in by_topic {
        for (partition, found) in client.offsets(topic, &partitions, LATEST).await {
            ends.insert((topic.to_string(), partition), found.map(|f| f.offset));
        }
    }
    ends
}

/// How far a committed offset is behind the end; never negative.
fn lag_of(committed: i64, end: i64) -> i64 {
    end.saturating_sub(committed).max(0)
}

/// The sum of the lag of every committed partition whose end is known; `None` when none is.
fn total_lag(
    committed: &BTreeMap<TopicPartition, CommittedOffset>,
    ends: &BTreeMap<TopicPartition, Result<i64, RequestError>>,
) -> Option<i64> {
    let mut total = None;
    for (key, c) in committed {
        if let Some(Ok(end)) = ends.get(key) {
            total = Some(total.unwrap_or(0i64).saturating_add(lag_of(c.offset, *end)));
        }
    }
    if committed.is_empty() {
        return Some(0);
    }
    total
}

/// The group's total lag now (for the lag history); `Ok(None)` when no end offset could be
/// read.
pub async fn current_lag(client: &mut ClusterClient, group: &str) -> Result<Option<i64>, ApiError> {
    let mut client = groups_of(client);
    let (committed, _) = client.all_committed_offsets(group).await?;
    let wanted: BTreeSet<TopicPartition> = committed.keys().cloned().collect();
    let ends = end_offsets(&mut client, &wanted).await;
    Ok(total_lag(&committed, &ends))
}

fn group_not_found(group: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Some(GROUP_ID_NOT_FOUND),
        format!("group '{group}' does not exist"),
    )
}

/// `GET /groups/{group}`: state, members with assignments, committed offsets with lag.
pub async fn describe(
    State(state): State<Arc<AdminState>>,
    mut caller: Caller,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    let result = describe_group(&mut caller, &group).await;
    let detail = caller.check(result)?;
    state
        .lag_history
        .watch(&group, caller.credentials(), detail.lag);
    Ok(Json(detail).into_response())
}

async fn describe_group(caller: &mut Caller, group: &str) -> Result<GroupDetail, ApiError> {
    let mut client = groups_of(caller);
    let Some(description) = describe_any(&mut client, group).await? else {
        return Err(group_not_found(group));
    };
    let coordinator = client.coordinator(group).await?;
    let (committed, _) = client.all_committed_offsets(group).await?;
    let mut shown: BTreeSet<TopicPartition> = committed.keys().cloned().collect();
    for member in &description.members {
        if let MemberAssignment::Consumer(assignment) = &member.assignment {
            for (topic, partition) in assignment.partitions() {
                shown.insert((topic.to_string(), partition));
            }
        }
    }
    let ends = end_offsets(&mut client, &shown).await;
    let offsets = shown
        .iter()
        .map(|key| {
            let c = committed.get(key);
            let end = ends.get(key).and_then(|e| e.as_ref().ok()).copied();
            OffsetJson {
                topic: key.0.clone(),
                partition: key.1,
                committed_offset: c.map(|c| c.offset),
                end_offset: end,
                lag: match (c, end) {
                    (Some(c), Some(end)) => Some(lag_of(c.offset, end)),
                    _ => None,
                },
                metadata: c.map(|c| c.metadata.clone()),
            }
        })
        .collect();
    let members = description
        .members
        .iter()
        .map(|m| MemberJson {
            member_id: m.member_id.clone(),
            group_instance_id: match &m.group_instance_id {
                InstanceId::Static(id) => Some(id.clone()),
                InstanceId::Dynamic | InstanceId::Unknown => None,
            },
            client_id: m.client_id.clone(),
            host: m.host.clone(),
            assignments: match &m.assignment {
                MemberAssignment::Consumer(a) => a
                    .topics
                    .iter()
                    .map(|(topic, partitions)| AssignmentJson {
                        topic: topic.clone(),
                        partitions: partitions.clone(),
                    })
                    .collect(),
                MemberAssignment::None | MemberAssignment::Opaque(_) => Vec::new(),
            },
        })
        .collect();
    Ok(GroupDetail {
        lag: total_lag(&committed, &ends),
        group_id: description.name,
        state: description.state,
        protocol_type: description.protocol_type,
        protocol: description.protocol,
        coordinator,
        members,
        offsets,
    })
}

/// `GET /groups/{group}/lag-history`: the lag sampled by this node while the group is
/// watched; asking (re)starts watching it and adds the lag of now.
pub async fn lag_history(
    State(state): State<Arc<AdminState>>,
    mut caller: Caller,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    let result: Result<Option<i64>, ApiError> = async {
        let mut client = groups_of(&mut caller);
        if describe_any(&mut client, &group).await?.is_none() {
            return Err(group_not_found(&group));
        }
        current_lag(&mut caller, &group).await
    }
    .await;
    let lag = caller.check(result)?;
    state.lag_history.watch(&group, caller.credentials(), lag);
    Ok(Json(state.lag_history.history(&group)).into_response())
}

/// `DELETE /groups/{group}`: 204; 409 while it has members, 404 when there is none.
pub async fn delete(mut caller: Caller, Path(group): Path<String>) -> Result<Response, ApiError> {
    let result: Result<Response, ApiError> = async {
        let code = groups_of(&mut caller).delete(&group).await?;
        match code {
            0 => Ok(StatusCode::NO_CONTENT.into_response()),
            GROUP_ID_NOT_FOUND => Err(group_not_found(&group)),
            NON_EMPTY_GROUP => Err(ApiError::new(
                StatusCode::CONFLICT,
                Some(NON_EMPTY_GROUP),
                format!("group '{group}' still has members: stop its consumers first"),
            )),
            code => {
                Err(RequestError::broker(code, &format!("deleting group '{group}'"), None).into())
            }
        }
    }
    .await;
    caller.check(result)
}

/// `POST /groups/{group}/offsets/reset`: only while the group is Empty.
pub async fn reset_offsets(
    mut caller: Caller,
    Path(group): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result: Result<ResetAnswer, ApiError> = async {
        let body: ResetBody = json_body(&body)?;
        let mode = reset_mode(&body)?;
        reset(&mut caller, &group, &body, mode).await
    }
    .await;
    caller.check(result).map(|a| Json(a).into_response())
}

fn reset_mode(body: &ResetBody) -> Result<ResetMode, ApiError> {
    let needs =
        |what: &str| ApiError::bad_request(format!("\"to\": \"{}\" needs \"{what}\"", body.to));
    Ok(match body.to.as_str() {
        "earliest" => ResetMode::Earliest,
        "latest" => ResetMode::Latest,
        "timestamp" => match body.timestamp_ms {
            Some(ms) if ms >= 0 => ResetMode::Datetime(ms),
            Some(ms) => {
                return Err(ApiError::bad_request(format!(
                    "\"timestamp_ms\": {ms}: expected milliseconds since the epoch, 0 or more"
                )))
            }
            None => return Err(needs("timestamp_ms")),
        },
        "offset" => match body.offset {
            Some(n) if n >= 0 => ResetMode::Offset(n),
            Some(n) => {
                return Err(ApiError::bad_request(format!(
                    "\"offset\": {n}: expected an offset, 0 or more"
                )))
            }
            None => return Err(needs("offset")),
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "\"to\": \"{other}\": expected earliest, latest, timestamp or offset"
            )))
        }
    })
}

async fn reset(
    caller: &mut Caller,
    group: &str,
    body: &ResetBody,
    mode: ResetMode,
) -> Result<ResetAnswer, ApiError> {
    let mut client = groups_of(caller);
    let described = describe_any(&mut client, group).await?;
    if let Some(d) = &described {
        if d.state != "Empty" {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                Some(NON_EMPTY_GROUP),
                format!(
                    "group '{group}' is {} with {} member(s): offsets can only be reset while \
                     it is Empty (stop its consumers first)",
                    d.state,
                    d.members.len()
                ),
            ));
        }
    }
    let (committed, _) = client.all_committed_offsets(group).await?;
    // The partitions to move, by topic.
    let mut targets: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    match &body.topic {
        Some(topic) => {
            let metadata = client.metadata(Some(topic)).await?;
            let all: Vec<i32> = match metadata.topic(topic) {
                Some(t) if t.error_code == 0 => t.partitions.iter().map(|p| p.partition).collect(),
                Some(t) if t.error_code != UNKNOWN_TOPIC_OR_PARTITION => {
                    return Err(RequestError::broker(
                        t.error_code,
                        &format!("topic '{topic}'"),
                        None,
                    )
                    .into())
                }
                _ => return Err(unknown_topic(topic)),
            };
            let chosen = match &body.partitions {
                None => all,
                Some(asked) => {
                    if let Some(p) = asked.iter().find(|p| !all.contains(p)) {
                        return Err(ApiError::new(
                            StatusCode::NOT_FOUND,
                            Some(UNKNOWN_TOPIC_OR_PARTITION),
                            format!("topic '{topic}' has no partition {p}"),
                        ));
                    }
                    asked.clone()
                }
            };
            targets.insert(topic.clone(), chosen);
        }
        None => {
            if described.is_none() {
                return Err(group_not_found(group));
            }
            if body.partitions.is_some() {
                return Err(ApiError::bad_request(
                    "\"partitions\" needs \"topic\": partition numbers are per topic",
                ));
            }
            for (topic, partition) in committed.keys() {
                targets.entry(topic.clone()).or_default().push(*partition);
            }
        }
    }
    let mut answer = Vec::new();
    for (topic, mut partitions) in targets {
        partitions.sort_unstable();
        partitions.dedup();
        let earliest = found_offsets(&mut client, &topic, &partitions, EARLIEST).await?;
        let latest = found_offsets(&mut client, &topic, &partitions, LATEST).await?;
        let at_timestamp = match mode {
            ResetMode::Datetime(ms) => found_offsets(&mut client, &topic, &partitions, ms).await?,
            _ => BTreeMap::new(),
        };
        let mut new_offsets = Vec::with_capacity(partitions.len());
        for &partition in &partitions {
            let known = PartitionOffsets {
                partition,
                earliest: earliest.get(&partition).copied().unwrap_or(0),
                latest: latest.get(&partition).copied().unwrap_or(0),
                committed: committed.get(&(topic.clone(), partition)).map(|c| c.offset),
                // -1: no record at or after the timestamp.
                at_datetime: at_timestamp.get(&partition).copied().filter(|&o| o >= 0),
            };
            let offset = new_offset(mode, &known).map_err(ApiError::bad_request)?;
            new_offsets.push((partition, offset));
        }
        client.commit(group, &topic, &new_offsets).await?;
        answer.extend(
            new_offsets
                .into_iter()
                .map(|(partition, offset)| ResetOffset {
                    topic: topic.clone(),
                    partition,
                    offset,
                }),
        );
    }
    Ok(ResetAnswer { offsets: answer })
}

fn unknown_topic(topic: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Some(UNKNOWN_TOPIC_OR_PARTITION),
        format!("topic '{topic}' does not exist"),
    )
}

/// ListOffsets of `partitions` at `timestamp`; the first failure is the answer.
async fn found_offsets(
    client: &mut GroupClient<&mut ClusterClient>,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> Result<BTreeMap<i32, i64>, ApiError> {
    let mut found = BTreeMap::new();
    for (partition, answer) in client.offsets(topic, partitions, timestamp).await {
        found.insert(partition, answer?.offset);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(entries: &[(&str, i32, i64)]) -> BTreeMap<TopicPartition, CommittedOffset> {
        entries
            .iter()
            .map(|&(t, p, o)| {
                (
                    (t.to_string(), p),
                    CommittedOffset {
                        offset: o,
                        metadata: String::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn lag_sums_known_partitions_and_is_never_negative() {
        let c = committed(&[("a", 0, 5), ("a", 1, 20), ("b", 0, 0)]);
        let mut ends = BTreeMap::new();
        ends.insert(("a".to_string(), 0), Ok(10));
        // Committed past the end (the topic was recreated): caught up, not -5.
        ends.insert(("a".to_string(), 1), Ok(15));
        ends.insert(
            ("b".to_string(), 0),
            Err(RequestError::Transport("gone".into())),
        );
        assert_eq!(total_lag(&c, &ends), Some(5));
        assert_eq!(total_lag(&c, &BTreeMap::new()), None);
        assert_eq!(total_lag(&BTreeMap::new(), &BTreeMap::new()), Some(0));
    }

    fn body(json: &str) -> ResetBody {
        serde_json::from_str(json).expect("a reset body")
    }

    #[test]
    fn reset_modes_need_their_value() {
        assert_eq!(
            reset_mode(&body(r#"{"to": "earliest"}"#)).ok(),
            Some(ResetMode::Earliest)
        );
        assert_eq!(
            reset_mode(&body(r#"{"to": "offset", "offset": 7}"#)).ok(),
            Some(ResetMode::Offset(7))
        );
        assert_eq!(
            reset_mode(&body(r#"{"to": "timestamp", "timestamp_ms": 1000}"#)).ok(),
            Some(ResetMode::Datetime(1000))
        );
        for bad in [
            r#"{"to": "offset"}"#,
            r#"{"to": "offset", "offset": -1}"#,
            r#"{"to": "timestamp"}"#,
            r#"{"to": "yesterday"}"#,
        ] {
            let err = reset_mode(&body(bad)).expect_err(bad);
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }
}

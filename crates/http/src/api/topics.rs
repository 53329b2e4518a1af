//! Topics and partitions: `GET|POST /api/v1/topics`, `GET|DELETE /api/v1/topics/{topic}`,
//! `POST /api/v1/topics/{topic}/partitions`.
//!
//! The list stays cheap however many topics there are: one Metadata of every topic (what the
//! caller may describe), filtered, sorted and cut to the page on this node; then only for the
//! page's partitions ListOffsets (earliest and latest, one request per leader each, whatever
//! the number of topics) and DescribeLogDirs (one request per leader, naming only the page's
//! partitions). A topic's `size_bytes` is the size of one copy: each partition's leader
//! replica. A number that cannot be had (a leader that did not answer, a caller without
//! DESCRIBE on the cluster for DescribeLogDirs) is `null`, never a guess.
//!
//! CreateTopics, CreatePartitions and DeleteTopics go to the controller; an answer that shows
//! the topic waits (bounded) until the broker asked has it in its metadata.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeLogDirsRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Deserialize;
use serde_json::{json, Value};
use sluice_client::logdirs::{reports_of, DESCRIBE_VERSIONS};
use sluice_client::topic;
use sluice_client::wire::list_offsets::{list_offsets_by_leader, EARLIEST, LATEST};
use sluice_client::wire::metadata::{ClusterMetadata, TopicMetadata};
use sluice_client::wire::{ClusterClient, RequestError, Retry};

use super::access::Caller;
use super::configs::config_value;
use super::{deadline, json_body, query_params, ApiError, Page};
use crate::AdminState;

/// The time CreateTopics, CreatePartitions and DeleteTopics give the cluster.
const ADMIN_TIMEOUT_MS: i32 = 10_000;
/// Pause between two looks at whether a change shows in the metadata.
const POLL: Duration = Duration::from_millis(100);
/// Kafka's error codes the API checks itself before asking.
const INVALID_PARTITIONS: i16 = 37;
const INVALID_REPLICATION_FACTOR: i16 = 38;

/// A `(topic, partition)` of the cluster.
type Key = (String, i32);

/// The body of `POST /topics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTopic {
    name: String,
    partitions: Option<i64>,
    replication_factor: Option<i64>,
    #[serde(default)]
    configs: BTreeMap<String, Value>,
}

/// The body of `POST /topics/{topic}/partitions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPartitionCount {
    count: i64,
}

/// Metadata of `topics` (`None`: every topic), asked again while the error may go away.
pub async fn metadata(
    client: &mut ClusterClient,
    topics: Option<&[String]>,
    deadline: Instant,
) -> Result<ClusterMetadata, RequestError> {
    let retry = Retry::until(deadline);
    loop {
        match client.metadata(topics, false, deadline).await {
            Err(e) if retry.again(&e).await => continue,
            outcome => return outcome,
        }
    }
}

pub async fn list(
    State(state): State<Arc<AdminState>>,
    mut caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let result = list_topics(&mut caller, &state.topic_rates, query.as_deref()).await;
    caller.check(result).map(Json)
}

/// Each topic's sum of partition end offsets when a listing last showed it, to give the next
/// listing its message rate (records appended per second in between, cluster-wide).
#[derive(Default)]
pub struct TopicRates {
    samples: std::sync::Mutex<std::collections::HashMap<String, RateSample>>,
}

struct RateSample {
    at: Instant,
    end_offsets: i64,
    rate: Option<f64>,
}

impl TopicRates {
    /// Topics remembered at most (a cluster with more starts over).
    const MAX_TOPICS: usize = 100_000;
    /// A rate needs samples at least this far apart...
    const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
    /// ...and at most this far (an older sample says nothing about now).
    const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

    /// Records the topic's end offsets seen `now`; its messages per second since the sample
    /// before (the rate of the last interval when that one is under a second old).
    fn observe(&self, topic: &str, end_offsets: i64, now: Instant) -> Option<f64> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(prev) = samples.get_mut(topic) {
            let elapsed = now.saturating_duration_since(prev.at);
            if elapsed < Self::MIN_INTERVAL {
                return prev.rate;
            }
            prev.rate = (elapsed <= Self::MAX_INTERVAL)
                .then(|| (end_offsets - prev.end_offsets).max(0) as f64 / elapsed.as_secs_f64());
            prev.at = now;
            prev.end_offsets = end_offsets;
            return prev.rate;
        }
        if samples.len() >= Self::MAX_TOPICS {
            samples.clear();
        }
        samples.insert(
            topic.to_string(),
            RateSample {
                at: now,
                end_offsets,
                rate: None,
            },
        );
        None
    }
}

async fn list_topics(
    client: &mut ClusterClient,
    rates: &TopicRates,
    query: Option<&str>,
) -> Result<Value, ApiError> {
    let params = query_params(query)?;
    let page = Page::from_params(&params)?;
    let internal = match params.get("internal").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "?internal={other}: expected true or false"
            )))
        }
    };
    let search = params
        .get("search")
        .map(|s| s.to_lowercase())
        .unwrap_or_default();
    let deadline = deadline();
    let metadata = metadata(client, None, deadline).await?;
    let mut matching: Vec<&TopicMetadata> = metadata
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.name.is_empty())
        .filter(|t| internal || !t.is_internal)
        .filter(|t| t.name.to_lowercase().contains(&search))
        .collect();
    matching.sort_by(|a, b| a.name.cmp(&b.name));
    let shown = page.slice(&matching);
    let numbers = PartitionNumbers::of(client, shown, deadline).await;
    let now = Instant::now();
    let topics: Vec<Value> = shown
        .iter()
        .map(|t| {
            let keys: Vec<Key> = t
                .partitions
                .iter()
                .map(|p| (t.name.clone(), p.partition))
                .collect();
            let end_offsets = sum(keys.iter().map(|k| numbers.end_offset.get(k).copied()));
            let rate = end_offsets.and_then(|end| rates.observe(&t.name, end, now));
            json!({
                "name": t.name,
                "internal": t.is_internal,
                "messages_per_sec": rate.map(|r| (r * 10.0).round() / 10.0),
                "partitions": t.partitions.len(),
                "replication_factor": replication_factor(t),
                "under_replicated_partitions": t
                    .partitions
                    .iter()
                    .filter(|p| p.isr.len() < p.replicas.len())
                    .count(),
                "size_bytes": sum(keys.iter().map(|k| numbers.size_bytes.get(k).copied())),
                "records": sum(keys.iter().map(|k| numbers.records(k))),
            })
        })
        .collect();
    Ok(json!({
        "total": matching.len(),
        "offset": page.offset,
        "limit": page.limit,
        "topics": topics,
    }))
}

/// The sum, or `None` when any part is unknown.
fn sum(parts: impl Iterator<Item = Option<i64>>) -> Option<i64> {
    parts.sum()
}

fn replication_factor(topic: &TopicMetadata) -> usize {
    topic
        .partitions
        .iter()
        .map(|p| p.replicas.len())
        .max()
        .unwrap_or(0)
}

/// Offsets and sizes of some topics' partitions, from their leaders.
#[derive(Debug, Default)]
struct PartitionNumbers {
    start_offset: BTreeMap<Key, i64>,
    end_offset: BTreeMap<Key, i64>,
    /// The leader replica's size.
    size_bytes: BTreeMap<Key, i64>,
}

impl PartitionNumbers {
    async fn of(
        client: &mut ClusterClient,
        topics: &[&TopicMetadata],
        deadline: Instant,
    ) -> PartitionNumbers {
        let partitions: Vec<(String, i32, i32)> = topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (t.name.clone(), p.partition, p.leader_id))
            })
            .collect();
        let mut numbers = PartitionNumbers::default();
        if partitions.is_empty() {
            return numbers;
        }
        let ok = |found: BTreeMap<Key, Result<i64, RequestError>>| {
            found
                .into_iter()
                .filter_map(|(k, v)| v.ok().map(|v| (k, v)))
                .collect::<BTreeMap<Key, i64>>()
        };
        numbers.start_offset =
            ok(list_offsets_by_leader(client, &partitions, EARLIEST, deadline).await);
        numbers.end_offset =
            ok(list_offsets_by_leader(client, &partitions, LATEST, deadline).await);
        numbers.size_bytes = leader_sizes(client, &partitions, deadline).await;
        numbers
    }

    /// Records in a partition: end - start offset.
    fn records(&self, key: &Key) -> Option<i64> {
        Some(self.end_offset.get(key)? - self.start_offset.get(key)?)
    }
}

/// The size of the leader replica of each of `partitions` (`(topic, partition, leader)`): one
/// DescribeLogDirs per leader naming its partitions. A leader that refuses or fails leaves
/// its partitions out.
async fn leader_sizes(
    client: &mut ClusterClient,
    partitions: &[(String, i32, i32)],
    deadline: Instant,
) -> BTreeMap<Key, i64> {
    let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
    for (topic, partition, leader) in partitions.iter().filter(|p| p.2 >= 0) {
        by_leader
            .entry(*leader)
            .or_default()
            .entry(topic.as_str())
            .or_default()
            .push(*partition);
    }
    let mut sizes = BTreeMap::new();
    for (leader, topics) in by_leader {
        let filter: Vec<DescribableLogDirTopic> = topics
            .iter()
            .map(|(topic, partitions)| {
                DescribableLogDirTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(partitions.clone())
            })
            .collect();
        let answer = client
            .send_to_broker::<DescribeLogDirsRequest>(
                leader,
                DESCRIBE_VERSIONS,
                |_| DescribeLogDirsRequest::default().with_topics(Some(filter.clone())),
                deadline,
            )
            .await;
        let Ok(dirs) = answer.and_then(|(response, _)| reports_of(leader, response)) else {
            continue;
        };
        for replica in dirs.into_iter().flat_map(|d| d.replicas) {
            let asked = topics
                .get(replica.topic.as_str())
                .is_some_and(|p| p.contains(&replica.partition));
            if asked && !replica.future {
                sizes.insert((replica.topic, replica.partition), replica.size_bytes);
            }
        }
    }
    sizes
}

/// Kafka's text form of a topic id: URL-safe base64 without padding.
fn topic_id_text(id: &[u8; 16]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// `GET /topics/{topic}`'s answer, from one Metadata of the topic.
async fn topic_view(
    client: &mut ClusterClient,
    metadata: &ClusterMetadata,
    name: &str,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let topic = known_topic(metadata, name)?;
    let numbers = PartitionNumbers::of(client, &[topic], deadline).await;
    let mut partitions: Vec<_> = topic.partitions.iter().collect();
    partitions.sort_by_key(|p| p.partition);
    let partitions: Vec<Value> = partitions
        .into_iter()
        .map(|p| {
            let key = (topic.name.clone(), p.partition);
            json!({
                "partition": p.partition,
                "leader": (p.leader_id >= 0).then_some(p.leader_id),
                "replicas": p.replicas,
                "isr": p.isr,
                "offline_replicas": p.offline_replicas,
                "start_offset": numbers.start_offset.get(&key),
                "end_offset": numbers.end_offset.get(&key),
                "size_bytes": numbers.size_bytes.get(&key),
            })
        })
        .collect();
    Ok(json!({
        "name": topic.name,
        "topic_id": topic.topic_id.as_ref().map(topic_id_text),
        "internal": topic.is_internal,
        "partitions": partitions,
    }))
}

/// The topic `name` of `metadata`, or the error Metadata gave for it.
pub(super) fn known_topic<'a>(
    metadata: &'a ClusterMetadata,
    name: &str,
) -> Result<&'a TopicMetadata, ApiError> {
    match metadata.topic(name) {
        Some(t) if t.error_code == 0 => Ok(t),
        Some(t) => Err(RequestError::broker(t.error_code, &format!("topic '{name}'"), None).into()),
        None => Err(RequestError::broker(3, &format!("topic '{name}'"), None).into()),
    }
}

pub async fn describe(
    mut caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let result = async {
        let deadline = deadline();
        let metadata = metadata(&mut caller, Some(std::slice::from_ref(&name)), deadline).await?;
        topic_view(&mut caller, &metadata, &name, deadline).await
    }
    .await;
    caller.check(result).map(Json)
}

/// The topic's view once the broker asked knows it with at least `partitions` partitions, each
/// with a leader (bounded by the deadline: then the view as it is, or the error).
async fn view_when_shown(
    client: &mut ClusterClient,
    name: &str,
    partitions: Option<usize>,
    deadline: Instant,
) -> Result<Value, ApiError> {
    let names = [name.to_string()];
    loop {
        let metadata = client.metadata(Some(&names), false, deadline).await?;
        let shown = metadata.topic(name).is_some_and(|t| {
            t.error_code == 0
                && !t.partitions.is_empty()
                && partitions.is_none_or(|n| t.partitions.len() >= n)
                && t.partitions.iter().all(|p| p.leader_id >= 0)
        });
        if shown || Instant::now() + POLL >= deadline {
            return topic_view(client, &metadata, name, deadline).await;
        }
        tokio::time::sleep(POLL).await;
    }
}

pub async fn create(
    mut caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let result = create_topic(&mut caller, &body).await;
    caller.check(result).map(|v| (StatusCode::CREATED, Json(v)))
}

async fn create_topic(client: &mut ClusterClient, body: &[u8]) -> Result<Value, ApiError> {
    let new: NewTopic = json_body(body)?;
    // -1 asks the broker for its default (CreateTopics v4+, KIP-464).
    let partitions = match new.partitions {
        None => -1,
        Some(n) => i32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(INVALID_PARTITIONS),
                format!("partitions {n}: a topic has 1 partition or more"),
            )
        })?,
    };
    let replication_factor = match new.replication_factor {
        None => -1,
        Some(n) => i16::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(INVALID_REPLICATION_FACTOR),
                format!("replication_factor {n}: a topic has 1 replica or more"),
            )
        })?,
    };
    let mut configs = Vec::new();
    for (key, value) in &new.configs {
        configs.push((key.clone(), config_value(key, value)?));
    }
    let request = topic::create_request(
        &new.name,
        partitions,
        replication_factor,
        &configs,
        ADMIN_TIMEOUT_MS,
    );
    let deadline = deadline();
    let (response, _) = client
        .send_to_controller::<CreateTopicsRequest>(4..=7, |_| request.clone(), deadline)
        .await?;
    for result in &response.topics {
        if result.error_code != 0 {
            return Err(RequestError::broker(
                result.error_code,
                &format!("creating topic '{}'", new.name),
                result.error_message.as_deref(),
            )
            .into());
        }
    }
    let partitions = usize::try_from(partitions).ok();
    view_when_shown(client, &new.name, partitions, deadline).await
}

pub async fn delete(mut caller: Caller, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    let result = delete_topic(&mut caller, &name).await;
    caller.check(result).map(|()| StatusCode::NO_CONTENT)
}

async fn delete_topic(client: &mut ClusterClient, name: &str) -> Result<(), ApiError> {
    let (response, _) = client
        .send_to_controller::<DeleteTopicsRequest>(
            1..=6,
            |version| topic::delete_request(name, ADMIN_TIMEOUT_MS, version),
            deadline(),
        )
        .await?;
    for result in &response.responses {
        if result.error_code != 0 {
            return Err(RequestError::broker(
                result.error_code,
                &format!("deleting topic '{name}'"),
                result.error_message.as_deref(),
            )
            .into());
        }
    }
    Ok(())
}

pub async fn add_partitions(
    mut caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let result = create_partitions(&mut caller, &name, &body).await;
    caller.check(result).map(Json)
}

async fn create_partitions(
    client: &mut ClusterClient,
    name: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let asked: NewPartitionCount = json_body(body)?;
    let count = i32::try_from(asked.count)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Some(INVALID_PARTITIONS),
                format!(
                    "count {}: the new total is 1 partition or more",
                    asked.count
                ),
            )
        })?;
    let deadline = deadline();
    let (response, _) = client
        .send_to_controller::<CreatePartitionsRequest>(
            0..=3,
            |_| topic::create_partitions_request(name, count, ADMIN_TIMEOUT_MS),
            deadline,
        )
        .await?;
    for result in &response.results {
        if result.error_code != 0 {
            return Err(RequestError::broker(
                result.error_code,
                &format!("adding partitions to topic '{name}'"),
                result.error_message.as_deref(),
            )
            .into());
        }
    }
    view_when_shown(client, name, usize::try_from(count).ok(), deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_read_as_kafka_writes_them() {
        let id = [0xffu8; 16];
        assert_eq!(topic_id_text(&id), "_____________________w");
    }

    #[test]
    fn a_sum_with_an_unknown_part_is_unknown() {
        assert_eq!(sum([Some(1), Some(2)].into_iter()), Some(3));
        assert_eq!(sum([Some(1), None].into_iter()), None);
        assert_eq!(sum(std::iter::empty()), Some(0));
    }
}

#[cfg(test)]
mod rate_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rates_come_from_samples_one_second_to_five_minutes_apart() {
        let rates = TopicRates::default();
        let t0 = Instant::now();
        assert_eq!(
            rates.observe("t", 100, t0),
            None,
            "a first look has no rate"
        );
        // Too soon: still none, and the sample stays the first one.
        assert_eq!(
            rates.observe("t", 150, t0 + Duration::from_millis(500)),
            None
        );
        assert_eq!(
            rates.observe("t", 300, t0 + Duration::from_secs(2)),
            Some(100.0)
        );
        // Within a second of that: the same rate.
        assert_eq!(
            rates.observe("t", 999, t0 + Duration::from_millis(2500)),
            Some(100.0)
        );
        // Offsets that went back (a recreated topic) are no negative rate.
        assert_eq!(
            rates.observe("t", 0, t0 + Duration::from_secs(4)),
            Some(0.0)
        );
        // A sample older than five minutes gives none.
        assert_eq!(rates.observe("t", 50, t0 + Duration::from_secs(400)), None);
        assert_eq!(
            rates.observe("t", 60, t0 + Duration::from_secs(410)),
            Some(1.0)
        );
    }
}

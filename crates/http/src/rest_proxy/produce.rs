//! Producing a request's records: each to its partition (given, or chosen by key with Kafka's
//! murmur2 partitioner, keyless records spread), one v2 batch per partition in request order,
//! acks=all, one Produce request per leader. Each record gets its offset, or its partition's
//! error.
//!
//! The topic is looked up first with Metadata that never auto-creates it: a missing topic is
//! 404 (40401) and stays missing, whatever `auto.create.topics.enable` says. Retriable errors
//! (a leader moved, not enough replicas, a broken connection) are retried with fresh Metadata
//! until the request's deadline. An authorization failure fails the whole request (403), as a
//! refused caller learns nothing per record.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::records::Compression;
use sluice_client::client_settings::Partitioner;
use sluice_client::partitioner::PartitionChooser;
use sluice_client::producer::{encode_batch, produce_request, OutgoingRecord, PRODUCE_VERSIONS};
use sluice_client::wire::{error_name, ClusterClient, RequestError};

use super::RestError;
use crate::api::access::REQUEST_TIMEOUT;

/// Pause before a retry after a retriable error.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// One record to produce.
#[derive(Debug, Clone)]
pub struct ProduceRecord {
    pub partition: Option<i32>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
    /// Milliseconds since the epoch; `None`: now.
    pub timestamp: Option<i64>,
}

/// What became of one record.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub partition: i32,
    /// Its offset; `None` when it failed.
    pub offset: Option<i64>,
    pub timestamp: i64,
    /// The Kafka error code and text when it failed.
    pub error: Option<(i16, String)>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn retriable(code: i16) -> bool {
    // UNKNOWN_TOPIC_OR_PARTITION (a leader that has not applied the new topic yet: Metadata
    // said it exists, and a topic deleted meanwhile ends the retries with 404),
    // NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, REQUEST_TIMED_OUT, NETWORK_EXCEPTION,
    // NOT_ENOUGH_REPLICAS(_AFTER_APPEND), KAFKA_STORAGE_ERROR, FENCED/UNKNOWN_LEADER_EPOCH.
    matches!(code, 3 | 5 | 6 | 7 | 13 | 19 | 20 | 56 | 74 | 75)
}

/// The topic's partitions and their leaders (-1: none), from Metadata that does not create it.
pub async fn leaders(
    client: &mut ClusterClient,
    topic: &str,
    deadline: Instant,
) -> Result<BTreeMap<i32, i32>, RestError> {
    let names = [topic.to_string()];
    let metadata = client.metadata(Some(&names), false, deadline).await?;
    match metadata.topic(topic) {
        None => Err(RestError::topic_not_found(topic)),
        Some(t) if t.error_code == UNKNOWN_TOPIC_OR_PARTITION => {
            Err(RestError::topic_not_found(topic))
        }
        Some(t) if t.error_code != 0 && t.error_code != 5 => Err(RestError::kafka(
            t.error_code,
            &format!("topic '{topic}': {}", error_name(t.error_code)),
        )),
        Some(t) => Ok(t
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader_id))
            .collect()),
    }
}

/// Produces `records` to `topic` (each to `fixed_partition` when given); outcomes in request
/// order.
pub async fn produce(
    client: &mut ClusterClient,
    topic: &str,
    fixed_partition: Option<i32>,
    records: Vec<ProduceRecord>,
) -> Result<Vec<RecordOutcome>, RestError> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut leaders = leaders(client, topic, deadline).await?;
    let count = i32::try_from(leaders.len()).unwrap_or(i32::MAX);
    let seed = u64::try_from(now_ms()).unwrap_or(1) ^ u64::from(std::process::id());
    let mut chooser = PartitionChooser::new(Partitioner::Murmur2Random, seed);
    let now = now_ms();
    // Partition -> (record index, record, timestamp), in request order.
    let mut by_partition: BTreeMap<i32, Vec<(usize, OutgoingRecord, i64)>> = BTreeMap::new();
    for (index, record) in records.into_iter().enumerate() {
        let partition = match fixed_partition.or(record.partition) {
            Some(p) if leaders.contains_key(&p) => p,
            Some(p) => return Err(RestError::partition_not_found(topic, p)),
            None => chooser.choose(record.key.as_deref(), count),
        };
        let timestamp = record.timestamp.unwrap_or(now);
        by_partition.entry(partition).or_default().push((
            index,
            OutgoingRecord {
                line: index + 1,
                key: record.key,
                value: record.value,
                headers: record.headers,
            },
            timestamp,
        ));
    }
    let total: usize = by_partition.values().map(Vec::len).sum();
    let mut outcomes: Vec<Option<RecordOutcome>> = vec![None; total];
    // Partition -> its batch, and the indices and timestamps of its records.
    let mut pending: BTreeMap<i32, (Bytes, Vec<(usize, i64)>)> = BTreeMap::new();
    for (partition, records) in by_partition {
        let batch: Vec<(OutgoingRecord, i64)> =
            records.iter().map(|(_, r, t)| (r.clone(), *t)).collect();
        let bytes = encode_batch(&batch, Compression::None).map_err(RestError::unprocessable)?;
        let indices = records.iter().map(|(i, _, t)| (*i, *t)).collect();
        pending.insert(partition, (bytes, indices));
    }
    let timeout_ms = i32::try_from(client.request_timeout().as_millis()).unwrap_or(i32::MAX);
    let mut last_error: BTreeMap<i32, (i16, String)> = BTreeMap::new();
    loop {
        let mut by_leader: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for partition in pending.keys() {
            let leader = leaders.get(partition).copied().unwrap_or(-1);
            if leader < 0 {
                last_error.insert(*partition, (5, "LEADER_NOT_AVAILABLE".to_string()));
            } else {
                by_leader.entry(leader).or_default().push(*partition);
            }
        }
        for (leader, partitions) in by_leader {
            let batches = partitions
                .iter()
                .filter_map(|p| pending.get(p).map(|(b, _)| (*p, b.clone())))
                .collect();
            let request = produce_request(topic, -1, timeout_ms, batches);
            let answer = client
                .send_to_broker::<ProduceRequest>(
                    leader,
                    PRODUCE_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await;
            let response = match answer {
                Ok((response, _)) => response,
                Err(RequestError::Transport(text)) => {
                    for p in &partitions {
                        last_error.insert(*p, (13, format!("NETWORK_EXCEPTION: {text}")));
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for answer in response
                .responses
                .into_iter()
                .flat_map(|t| t.partition_responses)
            {
                let partition = answer.index;
                let Some((_, indices)) = pending.get(&partition) else {
                    continue;
                };
                let code = answer.error_code;
                if code == 0 {
                    for (n, (index, timestamp)) in indices.iter().enumerate() {
                        outcomes[*index] = Some(RecordOutcome {
                            partition,
                            offset: Some(answer.base_offset + n as i64),
                            timestamp: if answer.log_append_time_ms >= 0 {
                                answer.log_append_time_ms
                            } else {
                                *timestamp
                            },
                            error: None,
                        });
                    }
                    pending.remove(&partition);
                    continue;
                }
                let text = match answer.error_message.as_deref().filter(|m| !m.is_empty()) {
                    Some(message) => format!("{}: {message}", error_name(code)),
                    None => error_name(code),
                };
                if code == TOPIC_AUTHORIZATION_FAILED || code == CLUSTER_AUTHORIZATION_FAILED {
                    return Err(RestError::kafka(
                        code,
                        &format!("producing to topic '{topic}': {text}"),
                    ));
                }
                if retriable(code) {
                    last_error.insert(partition, (code, text));
                    continue;
                }
                for (index, timestamp) in indices {
                    outcomes[*index] = Some(RecordOutcome {
                        partition,
                        offset: None,
                        timestamp: *timestamp,
                        error: Some((code, text.clone())),
                    });
                }
                pending.remove(&partition);
            }
        }
        if pending.is_empty() || Instant::now() + RETRY_BACKOFF >= deadline {
            break;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
        leaders = leaders_or_keep(client, topic, deadline, leaders).await?;
    }
    // What is still pending timed out with its last retriable error.
    for (partition, (_, indices)) in pending {
        let (code, text) = last_error
            .remove(&partition)
            .unwrap_or((7, "REQUEST_TIMED_OUT".to_string()));
        for (index, timestamp) in indices {
            outcomes[index] = Some(RecordOutcome {
                partition,
                offset: None,
                timestamp,
                error: Some((code, text.clone())),
            });
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or(RecordOutcome {
                partition: -1,
                offset: None,
                timestamp: -1,
                error: Some((-1, "UNKNOWN_SERVER_ERROR".to_string())),
            })
        })
        .collect())
}

/// Fresh leaders; the old ones when Metadata cannot be had now (the next round retries).
async fn leaders_or_keep(
    client: &mut ClusterClient,
    topic: &str,
    deadline: Instant,
    old: BTreeMap<i32, i32>,
) -> Result<BTreeMap<i32, i32>, RestError> {
    match leaders(client, topic, deadline).await {
        Ok(fresh) => Ok(fresh),
        Err(e) if e.code == 40401 => Err(e),
        Err(_) => Ok(old),
    }
}

//! ListOffsets v1-v7 to partition leaders: the offset for a timestamp, or (with Kafka's special
//! timestamps) a partition's log start offset or its end.
//!
//! Partitions are grouped by leader (from Metadata), one request per leader. Partitions whose
//! leader moved or is not known yet (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, ...) are asked
//! again after fresh Metadata, until the deadline.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Instant;

use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::{ClusterClient, RequestError, Retry};

/// v1 is the oldest with one offset per partition; v2 adds the isolation level.
const VERSIONS: RangeInclusive<i16> = 1..=7;

/// Kafka's special timestamps.
pub const LATEST: i64 = -1;
pub const EARLIEST: i64 = -2;

/// Kafka's isolation levels.
pub const READ_UNCOMMITTED: i8 = 0;
pub const READ_COMMITTED: i8 = 1;

/// What one partition answered: the offset (-1 when no record is at or after a timestamp) and
/// the timestamp of that record (-1 for the special timestamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundOffset {
    pub offset: i64,
    pub timestamp: i64,
}

/// The offset of each of `partitions` of `topic` (partition, timestamp to look up), each with
/// its own outcome. `isolation_level` decides what "latest" means: the high watermark or the
/// last stable offset.
pub async fn list_offsets(
    client: &mut ClusterClient,
    topic: &str,
    partitions: &[(i32, i64)],
    isolation_level: i8,
    deadline: Instant,
) -> BTreeMap<i32, Result<FoundOffset, RequestError>> {
    let retry = Retry::until(deadline);
    let mut pending: Vec<(i32, i64)> = partitions.to_vec();
    let mut found = BTreeMap::new();
    let names = [topic.to_string()];
    while !pending.is_empty() {
        let metadata = match client.metadata(Some(&names), false, deadline).await {
            Ok(metadata) => metadata,
            Err(e) => {
                if retry.again(&e).await {
                    continue;
                }
                for (partition, _) in pending {
                    found.insert(partition, Err(e.clone()));
                }
                break;
            }
        };
        let leaders: BTreeMap<i32, i32> = metadata
            .topic(topic)
            .map(|t| {
                t.partitions
                    .iter()
                    .map(|p| (p.partition, p.leader_id))
                    .collect()
            })
            .unwrap_or_default();
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        let mut again: Vec<((i32, i64), RequestError)> = Vec::new();
        for (partition, timestamp) in pending.drain(..) {
            match leaders.get(&partition) {
                Some(&leader) if leader >= 0 => by_leader
                    .entry(leader)
                    .or_default()
                    .push((partition, timestamp)),
                Some(_) => again.push((
                    (partition, timestamp),
                    RequestError::broker(5, &format!("partition {partition}"), None),
                )),
                // The topic (or the partition) does not exist: that will not change by
                // asking again.
                None => {
                    found.insert(
                        partition,
                        Err(RequestError::broker(
                            3,
                            &format!("partition {partition}"),
                            None,
                        )),
                    );
                }
            }
        }
        for (leader, asked) in by_leader {
            let answer = client
                .send_to_broker::<ListOffsetsRequest>(
                    leader,
                    VERSIONS,
                    |version| request(topic, &asked, isolation_level, version),
                    deadline,
                )
                .await;
            let response = match answer {
                Ok((response, _)) => response,
                Err(e) => {
                    // The leader may have died: ask Metadata again.
                    let e = match e {
                        RequestError::Transport(text) => {
                            RequestError::broker(6, &format!("broker {leader}"), Some(&text))
                        }
                        e => e,
                    };
                    again.extend(asked.into_iter().map(|p| (p, e.clone())));
                    continue;
                }
            };
            let mut answered: BTreeMap<i32, (i16, FoundOffset)> = BTreeMap::new();
            for t in response.topics.iter().filter(|t| t.name.as_str() == topic) {
                for p in &t.partitions {
                    let offset = FoundOffset {
                        offset: p.offset,
                        timestamp: p.timestamp,
                    };
                    answered.insert(p.partition_index, (p.error_code, offset));
                }
            }
            for (partition, timestamp) in asked {
                match answered.remove(&partition) {
                    Some((0, offset)) => {
                        found.insert(partition, Ok(offset));
                    }
                    Some((code, _)) => again.push((
                        (partition, timestamp),
                        RequestError::broker(code, &format!("partition {partition}"), None),
                    )),
                    None => {
                        found.insert(
                            partition,
                            Err(RequestError::Unsupported(format!(
                                "partition {partition} is missing from the ListOffsets answer"
                            ))),
                        );
                    }
                }
            }
        }
        // One pause for the whole round; partitions whose error will not go away are final.
        let mut paused = false;
        for (asked, error) in again {
            let retriable = error.is_retriable()
                && (paused || {
                    paused = retry.again(&error).await;
                    paused
                });
            if retriable {
                pending.push(asked);
            } else {
                found.insert(asked.0, Err(error));
            }
        }
    }
    found
}

fn request(
    topic: &str,
    partitions: &[(i32, i64)],
    isolation_level: i8,
    version: i16,
) -> ListOffsetsRequest {
    request_topics(&[(topic, partitions.to_vec())], isolation_level, version)
}

/// ListOffsets for several topics' partitions, each `(partition, timestamp)`.
fn request_topics(
    topics: &[(&str, Vec<(i32, i64)>)],
    isolation_level: i8,
    version: i16,
) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        // v1 has no isolation level and the encoder insists on its default (0) there.
        .with_isolation_level(if version >= 2 { isolation_level } else { 0 })
        .with_topics(
            topics
                .iter()
                .map(|(topic, partitions)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partitions(
                            partitions
                                .iter()
                                .map(|&(partition, timestamp)| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(partition)
                                        .with_timestamp(timestamp)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// The offset for `timestamp` (read uncommitted) of many partitions of many topics, each given
/// as `(topic, partition, leader)` from one Metadata the caller already has: one request per
/// leader, whatever the number of topics, and no retries (a partition whose leader moved
/// answers its error). For listing many topics at once.
pub async fn list_offsets_by_leader(
    client: &mut ClusterClient,
    partitions: &[(String, i32, i32)],
    timestamp: i64,
    deadline: Instant,
) -> BTreeMap<(String, i32), Result<i64, RequestError>> {
    let mut found = BTreeMap::new();
    // Leader -> topic -> (partition, timestamp).
    type Asked<'a> = BTreeMap<&'a str, Vec<(i32, i64)>>;
    let mut by_leader: BTreeMap<i32, Asked> = BTreeMap::new();
    for (topic, partition, leader) in partitions {
        if *leader < 0 {
            let e = RequestError::broker(5, &format!("{topic} partition {partition}"), None);
            found.insert((topic.clone(), *partition), Err(e));
            continue;
        }
        by_leader
            .entry(*leader)
            .or_default()
            .entry(topic.as_str())
            .or_default()
            .push((*partition, timestamp));
    }
    for (leader, topics) in by_leader {
        let asked: Vec<(&str, Vec<(i32, i64)>)> = topics.into_iter().collect();
        let answer = client
            .send_to_broker::<ListOffsetsRequest>(
                leader,
                VERSIONS,
                |version| request_topics(&asked, READ_UNCOMMITTED, version),
                deadline,
            )
            .await;
        let mut answered: BTreeMap<(String, i32), Result<i64, RequestError>> = BTreeMap::new();
        match answer {
            Ok((response, _)) => {
                for t in response.topics {
                    for p in t.partitions {
                        let outcome = match p.error_code {
                            0 => Ok(p.offset),
                            code => Err(RequestError::broker(
                                code,
                                &format!("{} partition {}", t.name.as_str(), p.partition_index),
                                None,
                            )),
                        };
                        answered.insert((t.name.to_string(), p.partition_index), outcome);
                    }
                }
            }
            Err(e) => {
                for (topic, partitions) in &asked {
                    for (partition, _) in partitions {
                        answered.insert((topic.to_string(), *partition), Err(e.clone()));
                    }
                }
            }
        }
        for (topic, partitions) in asked {
            for (partition, _) in partitions {
                let key = (topic.to_string(), partition);
                let outcome = answered.remove(&key).unwrap_or_else(|| {
                    Err(RequestError::Unsupported(format!(
                        "{topic} partition {partition} is missing from the ListOffsets answer"
                    )))
                });
                found.insert(key, outcome);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_each_partition_and_timestamp() {
        let request = request(
            "t",
            &[(0, EARLIEST), (3, 1_700_000_000_000)],
            READ_COMMITTED,
            5,
        );
        assert_eq!(request.replica_id, BrokerId(-1));
        assert_eq!(request.isolation_level, READ_COMMITTED);
        let partitions: Vec<(i32, i64)> = request.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.timestamp))
            .collect();
        assert_eq!(partitions, vec![(0, EARLIEST), (3, 1_700_000_000_000)]);
        assert_eq!(
            self::request("t", &[], READ_COMMITTED, 1).isolation_level,
            0
        );
    }
}

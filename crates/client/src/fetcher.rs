//! The fetch loop behind `sluice consume`: positions per partition, Fetch requests to the
//! partitions' leaders, batches decoded into records, leader moves and fetch errors handled.
//!
//! - Fetch v4-v12 (topics by name, no fetch sessions), one request per leader per round, all
//!   leaders at once; `max_wait_ms`/`min_bytes`/`max_bytes` from the `-X fetch.*` settings.
//! - Batches are read with `sluice_protocol::records` (every length checked, decompression
//!   bounded); records before the position (a compressed batch starts earlier) are skipped, and
//!   the position moves past every batch read, control batches included.
//! - read_committed (librdkafka's default): records of aborted transactions are dropped, as
//!   Kafka's consumer drops them: a transactional batch is skipped while its producer has an
//!   aborted transaction (from the answer's list) that began at or before the batch's last
//!   offset and whose abort marker has not been passed yet. The end of a partition is its last
//!   stable offset, otherwise its high watermark.
//! - NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, FENCED/UNKNOWN_LEADER_EPOCH, a broken
//!   connection and the like: a warning, fresh Metadata, the partition asked again.
//! - OFFSET_OUT_OF_RANGE: the position is reset per `auto.offset.reset` (default latest), with
//!   a warning; with `auto.offset.reset=error` it is an error.
//! - A topic that disappears, an authorization failure, or a batch that cannot be read ends the
//!   command with an error.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use futures::future::join_all;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::client::Connection;
use sluice_protocol::records::{
    decode_batch, split_batches, Record, RecordsError, CONTROL_TYPE_ABORT,
};

use crate::client_settings::{ConsumerSettings, OffsetReset};
use crate::error_codes::{code_text, is_retriable};
use crate::wire::list_offsets::{self, EARLIEST, LATEST};
use crate::wire::{ClusterClient, RequestError};

/// v4 is the oldest Kafka 4 accepts; v13 names topics by id, which this client does not.
const FETCH_MIN_VERSION: i16 = 4;
const FETCH_MAX_VERSION: i16 = 12;
/// Pause after a round in which nothing could be fetched (leaders moving, brokers down).
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// One partition's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    /// The next offset to read.
    offset: i64,
    /// The end as of the latest answer: the last stable offset (read_committed) or the high
    /// watermark; -1 before the first answer.
    end: i64,
}

/// Records fetched in one round, in partition order, each partition's in offset order.
pub struct Fetched {
    pub records: Vec<(i32, Record)>,
}

pub struct Fetcher {
    client: ClusterClient,
    topic: String,
    settings: ConsumerSettings,
    positions: BTreeMap<i32, Position>,
    /// Partition -> leader broker id (-1: none), from the latest Metadata.
    leaders: BTreeMap<i32, i32>,
    /// The largest batch decompressed.
    max_batch_bytes: usize,
    /// Warnings shown once each.
    warned: BTreeSet<String>,
}

impl Fetcher {
    /// A fetcher for the partitions of `topic` in `starts`, each at its offset; positions still
    /// to be looked up are set afterwards with [`Fetcher::resolve`].
    pub async fn new(
        client: ClusterClient,
        topic: &str,
        settings: ConsumerSettings,
        max_batch_bytes: usize,
        starts: &[(i32, i64)],
        deadline: Instant,
    ) -> Result<Fetcher> {
        let mut fetcher = Fetcher {
            client,
            topic: topic.to_string(),
            settings,
            positions: BTreeMap::new(),
            leaders: BTreeMap::new(),
            max_batch_bytes,
            warned: BTreeSet::new(),
        };
        fetcher.refresh_metadata(deadline).await?;
        for &(partition, offset) in starts {
            fetcher
                .positions
                .insert(partition, Position { offset, end: -1 });
        }
        Ok(fetcher)
    }

    /// Looks up the offsets of `lookups` (partition, timestamp or EARLIEST/LATEST); a timestamp
    /// later than every record gives the partition's end, as Kafka does.
    pub async fn resolve(&mut self, lookups: &[(i32, i64)], deadline: Instant) -> Result<()> {
        if lookups.is_empty() {
            return Ok(());
        }
        let found = list_offsets::list_offsets(
            &mut self.client,
            &self.topic,
            lookups,
            self.settings.isolation_level,
            deadline,
        )
        .await;
        let mut at_end = Vec::new();
        for (partition, answer) in found {
            let offset = answer
                .map_err(|e| anyhow!("looking up the start offset of partition {partition}: {e}"))?
                .offset;
            if offset < 0 {
                at_end.push((partition, LATEST));
            } else {
                self.positions
                    .insert(partition, Position { offset, end: -1 });
            }
        }
        if !at_end.is_empty() {
            Box::pin(self.resolve(&at_end, deadline)).await?;
        }
        Ok(())
    }

    /// Whether every partition has been read up to its end (as of the latest answers).
    pub fn all_at_end(&self) -> bool {
        self.positions
            .values()
            .all(|p| p.end >= 0 && p.offset >= p.end)
    }

    async fn refresh_metadata(&mut self, deadline: Instant) -> Result<()> {
        let names = [self.topic.clone()];
        let metadata = self
            .client
            .metadata(
                Some(&names),
                self.settings.allow_auto_create_topics,
                deadline,
            )
            .await
            .map_err(|e| anyhow!("fetching metadata: {e}"))?;
        match metadata.topic(&self.topic) {
            Some(t) if t.error_code == 0 => {
                self.leaders = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition, p.leader_id))
                    .collect();
                Ok(())
            }
            Some(t) if t.error_code != UNKNOWN_TOPIC_OR_PARTITION => {
                // LEADER_NOT_AVAILABLE and the like: no leaders for now.
                self.leaders.clear();
                Ok(())
            }
            _ => bail!(
                "topic '{}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)",
                self.topic
            ),
        }
    }

    fn warn(&mut self, text: String) {
        if self.warned.insert(text.clone()) {
            eprintln!("warning: {text}");
        }
    }

    /// One round: a Fetch to every leader at once, waiting at most `max_wait` for records.
    pub async fn fetch(&mut self, max_wait: Duration) -> Result<Fetched> {
        let max_wait_ms = i32::try_from(max_wait.as_millis())
            .unwrap_or(i32::MAX)
            .min(self.settings.fetch_wait_max_ms);
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        let mut leaderless = false;
        for (&partition, position) in &self.positions {
            match self.leaders.get(&partition) {
                Some(&leader) if leader >= 0 => by_leader
                    .entry(leader)
                    .or_default()
                    .push((partition, position.offset)),
                _ => leaderless = true,
            }
        }
        let timeout = self.client.request_timeout()
            + Duration::from_millis(u64::try_from(max_wait_ms).unwrap_or(0));
        let deadline = Instant::now() + timeout;
        let mut exchanges = Vec::new();
        let mut asked = Vec::new();
        let mut need_metadata = leaderless;
        for (leader, partitions) in by_leader {
            match self.client.checkout(leader, deadline).await {
                Ok(connection) => {
                    let request = self.request(&partitions, max_wait_ms);
                    exchanges.push(exchange(connection, request, timeout));
                    asked.push(leader);
                }
                Err(e) => {
                    need_metadata = true;
                    self.warn(format!("broker {leader}: {e}"));
                }
            }
        }
        let answers = join_all(exchanges).await;
        let mut records = Vec::new();
        let mut progress = false;
        for (leader, (connection, answer)) in asked.into_iter().zip(answers) {
            if let Some(connection) = connection {
                self.client.checkin(connection);
            }
            match answer {
                Err(e) => {
                    need_metadata = true;
                    self.warn(format!("broker {leader}: {e}"));
                }
                Ok(response) => {
                    if response.error_code != 0 {
                        need_metadata = true;
                        self.warn(format!(
                            "Fetch from broker {leader}: {}",
                            code_text(response.error_code)
                        ));
                        continue;
                    }
                    progress = true;
                    for topic in response.responses {
                        if topic.topic.as_str() != self.topic {
                            continue;
                        }
                        for data in topic.partitions {
                            need_metadata |= self.accept(data, &mut records).await?;
                        }
                    }
                }
            }
        }
        if need_metadata {
            let deadline = Instant::now() + self.client.request_timeout();
            self.refresh_metadata(deadline).await?;
        }
        if !progress {
            // Nothing could be asked this round: do not spin.
            tokio::time::sleep(RETRY_BACKOFF.min(max_wait)).await;
        }
        Ok(Fetched { records })
    }

    fn request(&self, partitions: &[(i32, i64)], max_wait_ms: i32) -> FetchRequest {
        fetch_request(
            &self.topic,
            partitions,
            FetchLimits {
                max_wait_ms,
                min_bytes: self.settings.fetch_min_bytes,
                max_bytes: self.settings.fetch_max_bytes,
                partition_max_bytes: self.settings.partition_fetch_max_bytes,
                isolation_level: self.settings.isolation_level,
            },
        )
    }

    /// Takes one partition's answer: its records into `out`, its position and end moved on.
    /// True when Metadata should be asked again.
    async fn accept(&mut self, data: PartitionData, out: &mut Vec<(i32, Record)>) -> Result<bool> {
        let partition = data.partition_index;
        let Some(position) = self.positions.get(&partition).copied() else {
            return Ok(false); // not asked
        };
        match data.error_code {
            0 => {}
            OFFSET_OUT_OF_RANGE => {
                self.reset_out_of_range(partition, position.offset).await?;
                return Ok(false);
            }
            code if is_retriable(code) => {
                self.warn(format!("partition {partition}: {}", code_text(code)));
                return Ok(true);
            }
            code => bail!("partition {partition}: {}", code_text(code)),
        }
        let FetchedPartition {
            records: read,
            next: offset,
            end,
        } = read_fetched(
            data,
            position.offset,
            self.settings.isolation_level,
            self.max_batch_bytes,
        )
        .map_err(|e| anyhow!("partition {partition}: cannot read a record batch: {e}"))?;
        let read = read.into_iter().map(|(record, _)| record);
        out.extend(read.map(|record| (partition, record)));
        self.positions.insert(partition, Position { offset, end });
        Ok(false)
    }

    /// The position of `partition` was out of range: move it per `auto.offset.reset`.
    async fn reset_out_of_range(&mut self, partition: i32, offset: i64) -> Result<()> {
        let (to, name) = match self.settings.auto_offset_reset {
            OffsetReset::Earliest => (EARLIEST, "earliest"),
            OffsetReset::Latest => (LATEST, "latest"),
            OffsetReset::Error => bail!(
                "partition {partition}: offset {offset} is out of range (OFFSET_OUT_OF_RANGE)"
            ),
        };
        self.warn(format!(
            "partition {partition}: offset {offset} is out of range; starting at the {name} \
             offset (auto.offset.reset)"
        ));
        let deadline = Instant::now() + self.client.request_timeout();
        self.resolve(&[(partition, to)], deadline).await
    }
}

/// What one partition's Fetch answer gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPartition {
    /// Each record with whether its timestamp is LogAppendTime (see
    /// [`read_partition_stamped`]).
    pub records: Vec<(Record, bool)>,
    /// The position after what was read.
    pub next: i64,
    /// The partition's end: its last stable offset for read_committed, else its high
    /// watermark.
    pub end: i64,
}

/// One partition's Fetch answer (without an error) read from `offset` at `isolation_level`.
pub fn read_fetched(
    data: PartitionData,
    offset: i64,
    isolation_level: i8,
    max_batch_bytes: usize,
) -> Result<FetchedPartition, RecordsError> {
    let read_committed = isolation_level == list_offsets::READ_COMMITTED;
    let end = if read_committed && data.last_stable_offset >= 0 {
        data.last_stable_offset
    } else {
        data.high_watermark
    };
    let aborted: Vec<(i64, i64)> = data
        .aborted_transactions
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.first_offset, a.producer_id.0))
        .collect();
    let records = data.records.unwrap_or_default();
    let (read, next) = read_partition_stamped(
        &records,
        offset,
        read_committed.then_some(&aborted[..]),
        max_batch_bytes,
    )?;
    Ok(FetchedPartition {
        records: read,
        next,
        end,
    })
}

/// The records of a partition's fetched `records` at or after `offset`, and the position after
/// them. With `aborted` (read_committed: the answer's aborted transactions as (first offset,
/// producer id)), records of aborted transactions are dropped; control batches never show.
pub fn read_partition(
    records: &Bytes,
    offset: i64,
    aborted: Option<&[(i64, i64)]>,
    max_batch_bytes: usize,
) -> Result<(Vec<Record>, i64), RecordsError> {
    let (read, offset) = read_partition_stamped(records, offset, aborted, max_batch_bytes)?;
    Ok((read.into_iter().map(|(record, _)| record).collect(), offset))
}

/// As [`read_partition`], each record with whether its batch's timestamps are LogAppendTime
/// (the broker's append time, then every record's timestamp is the batch's max timestamp)
/// rather than CreateTime.
pub fn read_partition_stamped(
    records: &Bytes,
    mut offset: i64,
    aborted: Option<&[(i64, i64)]>,
    max_batch_bytes: usize,
) -> Result<(Vec<(Record, bool)>, i64), RecordsError> {
    let mut pending: Vec<(i64, i64)> = aborted.unwrap_or_default().to_vec();
    pending.sort_unstable();
    let mut pending = pending.into_iter().peekable();
    // Producers whose aborted transaction has begun and whose abort marker is still ahead.
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut out = Vec::new();
    for (header, bytes) in split_batches(records)? {
        let last_offset = header.last_offset();
        if last_offset < offset {
            continue;
        }
        let batch = decode_batch(&bytes, max_batch_bytes)?;
        while let Some(&(first, producer)) = pending.peek() {
            if first > last_offset {
                break;
            }
            aborting.insert(producer);
            pending.next();
        }
        if header.is_control() {
            if batch.control_type() == Some(CONTROL_TYPE_ABORT) {
                aborting.remove(&header.producer_id);
            }
        } else if !(aborted.is_some()
            && header.is_transactional()
            && aborting.contains(&header.producer_id))
        {
            let log_append_time = header.is_log_append_time();
            for mut record in batch.records {
                if record.offset >= offset {
                    offset = record.offset + 1;
                    if log_append_time {
                        record.timestamp = header.max_timestamp;
                    }
                    out.push((record, log_append_time));
                }
            }
        }
        offset = offset.max(last_offset + 1);
    }
    Ok((out, offset))
}

/// How long a Fetch may wait and how much it may return.
#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub partition_max_bytes: i32,
    pub isolation_level: i8,
}

/// A consumer's Fetch (no session) of `partitions` (partition, offset) of `topic`.
pub fn fetch_request(topic: &str, partitions: &[(i32, i64)], limits: FetchLimits) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(limits.max_wait_ms)
        .with_min_bytes(limits.min_bytes)
        .with_max_bytes(limits.max_bytes)
        .with_isolation_level(limits.isolation_level)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(partition, offset)| {
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_current_leader_epoch(-1)
                            .with_fetch_offset(offset)
                            .with_last_fetched_epoch(-1)
                            .with_log_start_offset(-1)
                            .with_partition_max_bytes(limits.partition_max_bytes)
                    })
                    .collect(),
            )])
}

/// One Fetch on one connection: the connection back (unless it broke) and the answer.
pub async fn exchange(
    mut connection: Connection,
    request: FetchRequest,
    timeout: Duration,
) -> (Option<Connection>, Result<FetchResponse, RequestError>) {
    let outcome = async {
        let version = connection
            .negotiate::<FetchRequest>(FETCH_MIN_VERSION, FETCH_MAX_VERSION, timeout)
            .await?;
        connection.send(&request, version, timeout).await
    }
    .await
    .map_err(RequestError::from);
    match outcome {
        Err(RequestError::Transport(_)) => (None, outcome),
        _ => (Some(connection), outcome),
    }
}

#[cfg(test)]
mod tests;

//! The producer behind `sluice produce`: records are gathered into one batch per partition,
//! sent in Produce requests to the partitions' leaders, and every record is accounted for as
//! delivered or failed.
//!
//! - A batch is sent when it holds `batch.num.messages` records or `batch.size` bytes, when its
//!   first record has waited `linger.ms`, or when the input ends. Batches are v2 record batches
//!   (kafka-protocol's encoder) in the `--compression` codec, CreateTime timestamps, no producer
//!   id (not idempotent).
//! - One Produce request per leader carries the ready batches of its partitions; requests to
//!   different leaders go out together. A partition has at most one batch in flight, so its
//!   records are appended in input order (a retried batch goes before any later one).
//! - acks=0: the broker does not answer; a batch counts as delivered once written.
//! - Retriable errors (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS,
//!   REQUEST_TIMED_OUT, a broken connection, ...) make the batch wait for fresh Metadata and go
//!   again, until `message.timeout.ms` after its first record was handed over; then it fails.
//!   Like any producer without idempotence, a retry after a lost answer may append twice.
//! - KIP-467: when a partition answers with `record_errors`, exactly the records named there
//!   fail (with their message); the others of the batch are sent again.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use bytes::{Bytes, BytesMut};
use futures::future::join_all;
use indexmap::IndexMap;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression as BatchCompression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_protocol::client::{ClientError, Connection};

use crate::client_settings::ProducerSettings;
use crate::error_codes::{code_text, is_retriable};
use crate::partitioner::PartitionChooser;
use crate::producer_options::{Acks, Compression};
use crate::wire::{ClusterClient, RequestError};

/// Produce v3 is the oldest Kafka 4 accepts; v13 names topics by id, which this client does not.
const PRODUCE_MIN_VERSION: i16 = 3;
const PRODUCE_MAX_VERSION: i16 = 12;
/// Pause before a batch whose leader was unknown or moved goes again.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Bytes a record adds beyond its key, value and headers (lengths, deltas, attributes),
/// at most.
const RECORD_OVERHEAD_BYTES: usize = 21;
/// A batch's header.
const BATCH_OVERHEAD_BYTES: usize = 61;
const INVALID_RECORD: i16 = 87;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// One record as handed to the producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// 1-based input line, for messages.
    pub line: usize,
    pub key: Option<Bytes>,
    /// `None`: a tombstone.
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Bytes)>,
}

impl OutgoingRecord {
    fn size(&self) -> usize {
        RECORD_OVERHEAD_BYTES
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 10)
                .sum::<usize>()
    }
}

/// Delivery outcomes so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryTally {
    pub delivered: u64,
    pub failed: u64,
    /// One line per failed record, in the order they failed.
    pub errors: Vec<String>,
}

pub struct Producer {
    client: ClusterClient,
    topic: String,
    acks: i16,
    compression: BatchCompression,
    settings: ProducerSettings,
    /// The partition every record goes to, when `--partition` is given.
    fixed_partition: Option<i32>,
    chooser: PartitionChooser,
    partition_count: i32,
    /// Partition -> leader broker id, -1 when it has none; from the latest Metadata.
    leaders: BTreeMap<i32, i32>,
    /// The topic's error in the latest Metadata, if any.
    topic_error: Option<i16>,
    /// Per partition, batches in input order; the back one may still take records.
    queues: BTreeMap<i32, VecDeque<Batch>>,
    queued_bytes: usize,
    tally: DeliveryTally,
}

/// Records of one partition waiting to go.
struct Batch {
    records: Vec<(OutgoingRecord, i64)>,
    bytes: usize,
    /// When the first record was handed over: linger and delivery timeout count from here.
    created: Instant,
    /// No more records are added (full, or sent once).
    closed: bool,
    /// After a retriable failure: not before this instant.
    retry_at: Option<Instant>,
    /// The last retriable failure, for the message when the batch times out.
    last_error: Option<String>,
}

/// What became of one batch in one request.
enum Outcome {
    Delivered,
    /// Go again: the batch (or what is left of it), and why.
    Retry(Vec<(OutgoingRecord, i64)>, String),
    /// These records failed, each with its message; the rest go again.
    Failed(Vec<(usize, String)>, Vec<(OutgoingRecord, i64)>),
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Producer {
    /// A producer for `topic`, once Metadata names a leader for each of its partitions (a
    /// topic the broker creates on first use has none for a moment).
    pub async fn new(
        client: ClusterClient,
        topic: &str,
        settings: ProducerSettings,
        acks: Acks,
        compression: Option<Compression>,
        fixed_partition: Option<i32>,
    ) -> Result<Producer> {
        let acks = settings.acks.unwrap_or(acks);
        let compression = settings.compression.or(compression);
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        let mut producer = Producer {
            client,
            topic: topic.to_string(),
            acks: match acks {
                Acks::None => 0,
                Acks::Leader => 1,
                Acks::All => -1,
            },
            compression: match compression.unwrap_or(Compression::None) {
                Compression::None => BatchCompression::None,
                Compression::Gzip => BatchCompression::Gzip,
                Compression::Snappy => BatchCompression::Snappy,
                Compression::Lz4 => BatchCompression::Lz4,
                Compression::Zstd => BatchCompression::Zstd,
            },
            chooser: PartitionChooser::new(settings.partitioner, seed),
            settings,
            fixed_partition,
            partition_count: 0,
            leaders: BTreeMap::new(),
            topic_error: None,
            queues: BTreeMap::new(),
            queued_bytes: 0,
            tally: DeliveryTally::default(),
        };
        producer.wait_for_topic().await?;
        if let Some(partition) = fixed_partition {
            if !producer.leaders.contains_key(&partition) {
                bail!(
                    "topic '{topic}' has no partition {partition} (it has {})",
                    producer.partition_count
                );
            }
        }
        Ok(producer)
    }

    /// Refreshes Metadata until the topic exists with a leader for every partition.
    async fn wait_for_topic(&mut self) -> Result<()> {
        // A missing topic is worth waiting for only briefly: the broker creates it on first use
        // or never.
        let wait = self.settings.delivery_timeout.min(Duration::from_secs(10));
        let deadline = Instant::now() + wait;
        loop {
            let why = match self.refresh_metadata(deadline).await {
                Ok(()) if self.partition_count > 0 && self.leaders.values().all(|l| *l >= 0) => {
                    return Ok(())
                }
                Ok(()) => match self.topic_error {
                    Some(code) => code_text(code),
                    None => "some partitions have no leader".to_string(),
                },
                Err(e) => e.to_string(),
            };
            if Instant::now() + RETRY_BACKOFF >= deadline {
                if self.topic_error == Some(UNKNOWN_TOPIC_OR_PARTITION) {
                    bail!(
                        "topic '{}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)",
                        self.topic
                    );
                }
                bail!(
                    "topic '{}' is not ready after {} s: {why}",
                    self.topic,
                    wait.as_secs()
                );
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    async fn refresh_metadata(&mut self, deadline: Instant) -> Result<(), RequestError> {
        let names = [self.topic.clone()];
        let metadata = self
            .client
            .metadata(
                Some(&names),
                self.settings.allow_auto_create_topics,
                deadline,
            )
            .await?;
        match metadata.topic(&self.topic) {
            Some(t) if t.error_code == 0 => {
                self.topic_error = None;
                self.partition_count = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
                self.leaders = t
                    .partitions
                    .iter()
                    .map(|p| (p.partition, p.leader_id))
                    .collect();
            }
            Some(t) => self.topic_error = Some(t.error_code),
            None => self.topic_error = Some(UNKNOWN_TOPIC_OR_PARTITION),
        }
        Ok(())
    }

    pub fn tally(&self) -> &DeliveryTally {
        &self.tally
    }

    /// Bytes of records handed over and not yet delivered or failed.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    pub fn is_idle(&self) -> bool {
        self.queues.values().all(VecDeque::is_empty)
    }

    /// Hands over one record; it goes out with a later [`Producer::send_ready`].
    pub fn add(&mut self, record: OutgoingRecord) {
        let size = record.size();
        let batch_max = self.settings.batch_bytes.min(
            self.settings
                .request_max_bytes
                .saturating_sub(BATCH_OVERHEAD_BYTES),
        );
        if size > batch_max.max(1) {
            self.fail(
                record.line,
                format!(
                    "{size} bytes is larger than the largest batch ({batch_max} bytes, see \
                     batch.size and message.max.bytes) (MSG_SIZE_TOO_LARGE)"
                ),
            );
            return;
        }
        let partition = match self.fixed_partition {
            Some(partition) => partition,
            None => self
                .chooser
                .choose(record.key.as_deref(), self.partition_count),
        };
        let queue = self.queues.entry(partition).or_default();
        let fits = queue.back().is_some_and(|b| {
            !b.closed
                && b.records.len() < self.settings.batch_records
                && b.bytes + size <= batch_max
        });
        if !fits {
            if let Some(back) = queue.back_mut() {
                back.closed = true;
            }
            queue.push_back(Batch {
                records: Vec::new(),
                bytes: 0,
                created: Instant::now(),
                closed: false,
                retry_at: None,
                last_error: None,
            });
        }
        if let Some(batch) = queue.back_mut() {
            batch.bytes += size;
            batch.records.push((record, now_ms()));
            if batch.records.len() >= self.settings.batch_records {
                batch.closed = true;
            }
        }
        self.queued_bytes += size;
    }

    /// When the next batch becomes ready to send by waiting (its linger, or its retry pause).
    pub fn next_due(&self) -> Option<Instant> {
        self.queues
            .values()
            .filter_map(VecDeque::front)
            .map(|b| match b.retry_at {
                Some(at) => at,
                None if b.closed => b.created,
                None => b.created + self.settings.linger,
            })
            .min()
    }

    fn ready(&self, batch: &Batch, now: Instant, force: bool) -> bool {
        match batch.retry_at {
            Some(at) => now >= at,
            None => force || batch.closed || now >= batch.created + self.settings.linger,
        }
    }

    /// Sends the front batch of every partition that is ready (all of them when `force`,
    /// except those pausing before a retry), one request per leader, and accounts for the
    /// answers.
    pub async fn send_ready(&mut self, force: bool) {
        let now = Instant::now();
        self.expire(now);
        // Take the ready front batches out, grouped by leader.
        let mut by_leader: BTreeMap<i32, Vec<(i32, Batch)>> = BTreeMap::new();
        let mut need_metadata = false;
        let partitions: Vec<i32> = self.queues.keys().copied().collect();
        for partition in partitions {
            let ready = self
                .queues
                .get(&partition)
                .and_then(VecDeque::front)
                .is_some_and(|b| self.ready(b, now, force));
            if !ready {
                continue;
            }
            let leader = self.leaders.get(&partition).copied().unwrap_or(-1);
            let Some(mut batch) = self
                .queues
                .get_mut(&partition)
                .and_then(VecDeque::pop_front)
            else {
                continue;
            };
            batch.closed = true;
            if leader < 0 {
                need_metadata = true;
                self.requeue(partition, batch, "the partition has no leader".to_string());
                continue;
            }
            by_leader
                .entry(leader)
                .or_default()
                .push((partition, batch));
        }
        if !by_leader.is_empty() {
            need_metadata |= self.send(by_leader).await;
        }
        if need_metadata {
            let deadline = Instant::now() + self.client.request_timeout();
            // A failure here shows as the batches' next failure.
            let _ = self.refresh_metadata(deadline).await;
        }
    }

    /// Sends the batches, one request per leader, all leaders at once. True when Metadata
    /// should be asked again (a leader moved or went away).
    async fn send(&mut self, by_leader: BTreeMap<i32, Vec<(i32, Batch)>>) -> bool {
        let deadline = Instant::now() + self.settings.delivery_timeout;
        let timeout_ms =
            i32::try_from(self.client.request_timeout().as_millis()).unwrap_or(i32::MAX);
        let mut exchanges = Vec::new();
        let mut waiting: Vec<(i32, Vec<(i32, Batch)>)> = Vec::new();
        let mut need_metadata = false;
        for (leader, mut batches) in by_leader {
            // Keep the request within message.max.bytes; what does not fit waits a round.
            let mut total = 0usize;
            let mut keep = Vec::new();
            for (partition, batch) in batches.drain(..) {
                if !keep.is_empty() && total + batch.bytes > self.settings.request_max_bytes {
                    let why = "waiting for room in a request".to_string();
                    self.requeue_now(partition, batch, why);
                    continue;
                }
                total += batch.bytes;
                keep.push((partition, batch));
            }
            let request = match self.request(&keep, timeout_ms) {
                Ok(request) => request,
                Err(why) => {
                    for (_, batch) in keep {
                        for (record, _) in &batch.records {
                            self.drop_record(record, why.clone());
                        }
                    }
                    continue;
                }
            };
            let connection = match self.client.checkout(leader, deadline).await {
                Ok(connection) => connection,
                Err(e) => {
                    need_metadata = true;
                    for (partition, batch) in keep {
                        self.requeue(partition, batch, e.to_string());
                    }
                    continue;
                }
            };
            let timeout = self.client.request_timeout();
            exchanges.push(exchange(connection, request, self.acks, timeout));
            waiting.push((leader, keep));
        }
        let answers = join_all(exchanges).await;
        for ((_, batches), (connection, answer)) in waiting.into_iter().zip(answers) {
            if let Some(connection) = connection {
                self.client.checkin(connection);
            }
            match answer {
                Err(e) => {
                    need_metadata = true;
                    for (partition, batch) in batches {
                        self.requeue(partition, batch, e.to_string());
                    }
                }
                Ok(response) => {
                    need_metadata |= self.account(batches, response);
                }
            }
        }
        need_metadata
    }

    /// The Produce request carrying `batches` (one per partition).
    fn request(&self, batches: &[(i32, Batch)], timeout_ms: i32) -> Result<ProduceRequest, String> {
        let mut partitions = Vec::with_capacity(batches.len());
        for (partition, batch) in batches {
            partitions.push((*partition, encode_batch(&batch.records, self.compression)?));
        }
        Ok(produce_request(
            &self.topic,
            self.acks,
            timeout_ms,
            partitions,
        ))
    }

    /// Accounts for a leader's answer (`None` for acks=0). True when Metadata should be asked
    /// again.
    fn account(&mut self, batches: Vec<(i32, Batch)>, response: Option<ProduceResponse>) -> bool {
        let Some(response) = response else {
            for (partition, batch) in batches {
                self.delivered(partition, &batch.records);
            }
            return false;
        };
        let mut answers: BTreeMap<i32, _> = BTreeMap::new();
        for topic in response.responses {
            if topic.name.as_str() != self.topic {
                continue;
            }
            for p in topic.partition_responses {
                answers.insert(p.index, p);
            }
        }
        let mut need_metadata = false;
        for (partition, batch) in batches {
            let outcome = match answers.remove(&partition) {
                None => Outcome::Retry(
                    batch.records.clone(),
                    "the partition is missing from the Produce answer".to_string(),
                ),
                Some(answer) => outcome_of(&batch.records, answer),
            };
            match outcome {
                Outcome::Delivered => self.delivered(partition, &batch.records),
                Outcome::Retry(records, why) => {
                    need_metadata = true;
                    let batch = Batch { records, ..batch };
                    self.requeue(partition, batch, why);
                }
                Outcome::Failed(failed, rest) => {
                    for (line, why) in failed {
                        if let Some((record, _)) =
                            batch.records.iter().find(|(r, _)| r.line == line)
                        {
                            self.drop_record(record, why);
                        }
                    }
                    if !rest.is_empty() {
                        let why = "sent again after other records of its batch failed".to_string();
                        let batch = Batch {
                            records: rest,
                            ..batch
                        };
                        self.requeue_now(partition, batch, why);
                    }
                }
            }
        }
        need_metadata
    }

    fn delivered(&mut self, partition: i32, records: &[(OutgoingRecord, i64)]) {
        self.tally.delivered += records.len() as u64;
        self.queued_bytes = self
            .queued_bytes
            .saturating_sub(records.iter().map(|(r, _)| r.size()).sum());
        self.chooser.batch_sent(partition);
    }

    /// Fails a record that was queued.
    fn drop_record(&mut self, record: &OutgoingRecord, why: String) {
        self.queued_bytes = self.queued_bytes.saturating_sub(record.size());
        self.fail(record.line, why);
    }

    fn fail(&mut self, line: usize, why: String) {
        self.tally.failed += 1;
        self.tally
            .errors
            .push(format!("record on line {line}: {why}"));
    }

    /// Puts a batch back at the front of its partition, to go again after a pause.
    fn requeue(&mut self, partition: i32, mut batch: Batch, why: String) {
        batch.closed = true;
        batch.retry_at = Some(Instant::now() + RETRY_BACKOFF);
        batch.last_error = Some(why);
        self.queues.entry(partition).or_default().push_front(batch);
    }

    /// Puts a batch back at the front of its partition, to go with the next round.
    fn requeue_now(&mut self, partition: i32, mut batch: Batch, why: String) {
        batch.closed = true;
        batch.retry_at = None;
        batch.last_error = Some(why);
        self.queues.entry(partition).or_default().push_front(batch);
    }

    /// Fails the batches whose first record has waited longer than `message.timeout.ms`.
    fn expire(&mut self, now: Instant) {
        let timeout = self.settings.delivery_timeout;
        let mut expired = Vec::new();
        for queue in self.queues.values_mut() {
            while queue.front().is_some_and(|b| now >= b.created + timeout) {
                if let Some(batch) = queue.pop_front() {
                    expired.push(batch);
                }
            }
        }
        for batch in expired {
            let why = match &batch.last_error {
                Some(last) => format!(
                    "not delivered within message.timeout.ms ({} ms); last error: {last} \
                     (_MSG_TIMED_OUT)",
                    timeout.as_millis()
                ),
                None => format!(
                    "not delivered within message.timeout.ms ({} ms) (_MSG_TIMED_OUT)",
                    timeout.as_millis()
                ),
            };
            for (record, _) in &batch.records {
                self.drop_record(record, why.clone());
            }
        }
    }
}

/// A v2 record batch of `records` (each with its CreateTime timestamp), offsets from 0, no
/// producer id (not idempotent).
pub fn encode_batch(
    records: &[(OutgoingRecord, i64)],
    compression: BatchCompression,
) -> Result<Bytes, String> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (r, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            // kafka-protocol keeps records in one batch while offset - sequence is constant;
            // this makes the base sequence -1 (no idempotence).
            sequence: (i as i32).wrapping_sub(1),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            timestamp: *timestamp,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (StrBytes::from_string(k.clone()), Some(v.clone())))
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .map_err(|e| format!("cannot encode the record batch: {e}"))?;
    Ok(buf.freeze())
}

/// A Produce request of one batch per partition of `topic`.
pub fn produce_request(
    topic: &str,
    acks: i16,
    timeout_ms: i32,
    batches: Vec<(i32, Bytes)>,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(
                batches
                    .into_iter()
                    .map(|(partition, records)| {
                        PartitionProduceData::default()
                            .with_index(partition)
                            .with_records(Some(records))
                    })
                    .collect(),
            )])
}

/// Produce versions this client sends.
pub const PRODUCE_VERSIONS: std::ops::RangeInclusive<i16> =
    PRODUCE_MIN_VERSION..=PRODUCE_MAX_VERSION;

/// One request on one connection: the connection back (unless it broke) and the answer
/// (`None` for acks=0).
async fn exchange(
    mut connection: Connection,
    request: ProduceRequest,
    acks: i16,
    timeout: Duration,
) -> (
    Option<Connection>,
    Result<Option<ProduceResponse>, RequestError>,
) {
    let outcome = async {
        let version = connection
            .negotiate::<ProduceRequest>(PRODUCE_MIN_VERSION, PRODUCE_MAX_VERSION, timeout)
            .await?;
        if acks == 0 {
            connection
                .send_without_response(&request, version, timeout)
                .await?;
            Ok::<_, ClientError>(None)
        } else {
            Ok(Some(connection.send(&request, version, timeout).await?))
        }
    }
    .await
    .map_err(RequestError::from);
    match outcome {
        Err(RequestError::Transport(_)) => (None, outcome),
        _ => (Some(connection), outcome),
    }
}

/// What a partition's answer means for its batch.
fn outcome_of(
    records: &[(OutgoingRecord, i64)],
    answer: kafka_protocol::messages::produce_response::PartitionProduceResponse,
) -> Outcome {
    let code = answer.error_code;
    if code == 0 {
        return Outcome::Delivered;
    }
    let text = match answer.error_message.as_deref().filter(|m| !m.is_empty()) {
        Some(message) => format!("{}: {message}", code_text(code)),
        None => code_text(code),
    };
    if code == INVALID_RECORD && !answer.record_errors.is_empty() {
        // KIP-467: exactly the records named fail; the others were refused only with them.
        let mut failed = Vec::new();
        let mut rest = Vec::new();
        for (index, (record, timestamp)) in records.iter().enumerate() {
            let named = answer
                .record_errors
                .iter()
                .find(|e| usize::try_from(e.batch_index).ok() == Some(index));
            match named {
                Some(error) => {
                    let why = match error.batch_index_error_message.as_deref() {
                        Some(message) if !message.is_empty() => {
                            format!("{}: {message}", code_text(code))
                        }
                        _ => text.clone(),
                    };
                    failed.push((record.line, why));
                }
                None => rest.push((record.clone(), *timestamp)),
            }
        }
        return Outcome::Failed(failed, rest);
    }
    if is_retriable(code) {
        return Outcome::Retry(records.to_vec(), text);
    }
    Outcome::Failed(
        records
            .iter()
            .map(|(r, _)| (r.line, text.clone()))
            .collect(),
        Vec::new(),
    )
}

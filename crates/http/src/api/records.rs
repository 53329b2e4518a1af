//! `/api/v1/topics/{topic}/records`: the message browser (reading existing records, filtering
//! them, tailing new ones) and producing one record.
//!
//! Reading is a consumer without a group: ListOffsets finds where to start, Fetch (the CLI's
//! request and record reader, `sluice_client::fetcher`) goes to every leader at once.
//! - `from=oldest|offset|timestamp`: forward from the start positions. Of the matching records
//!   found, the `limit` oldest by timestamp are answered (each partition's in offset order),
//!   and `next_offsets` is where each partition would continue: after its last answered record,
//!   or after what was scanned when none of its records was answered.
//! - `from=newest` (the default): backward from each partition's end, in windows of growing
//!   size read forward, until `limit` matches per partition or the partition's start; of those,
//!   the `limit` newest by timestamp are answered, newest last. `next_offsets` is each
//!   partition's end as it was read, where a live tail continues.
//! - `key` and `text` filter while scanning, on this node. A request scans at most
//!   [`SCAN_MAX_OFFSETS`] offsets or [`SCAN_MAX_BYTES`] of record batches over all its
//!   partitions, for at most [`SCAN_TIME`];
//!   `next_offsets` says how far it got, so a client can ask again from there.
//! - `max_wait_ms`: when nothing matched, wait up to this long (at most [`MAX_WAIT_MS`]) for a
//!   matching record to arrive: the live tail.
//!
//! Producing builds one v2 batch with the CLI producer's encoder and sends it with acks=all to
//! the partition's leader; Metadata never auto-creates the topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use futures::future::join_all;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::records::Compression;
use serde::{Deserialize, Serialize};
use sluice_client::client_settings::Partitioner;
use sluice_client::fetcher::{
    exchange, fetch_request, read_fetched, FetchLimits, FetchedPartition,
};
use sluice_client::partitioner::PartitionChooser;
use sluice_client::producer::{encode_batch, produce_request, OutgoingRecord, PRODUCE_VERSIONS};
use sluice_client::wire::list_offsets::{self, EARLIEST, LATEST, READ_COMMITTED, READ_UNCOMMITTED};
use sluice_client::wire::{ClusterClient, RequestError, Retry};
use sluice_protocol::records::Record;

use super::access::Caller;
use super::{deadline, json_body, query_params, ApiError};
use crate::AdminState;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
/// The longest a read waits for new records (`max_wait_ms`).
pub const MAX_WAIT_MS: u64 = 30_000;
/// Offsets one read scans at most, over all its partitions.
pub const SCAN_MAX_OFFSETS: i64 = 50_000;
/// Record batch bytes one read fetches at most (so what it holds and answers is bounded too).
pub const SCAN_MAX_BYTES: usize = 32 << 20;
/// How long one read scans at most (the live tail's wait comes on top).
pub const SCAN_TIME: Duration = Duration::from_secs(10);
const PARTITION_FETCH_BYTES: i32 = 1 << 20;
const FETCH_MAX_BYTES: i32 = 8 << 20;
/// The largest batch decompressed.
const MAX_BATCH_BYTES: usize = 64 << 20;
/// Pause after a round in which no leader answered.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// One tail Fetch waits at most this long (it is asked again until `max_wait_ms`).
const TAIL_FETCH_WAIT_MS: i32 = 5_000;

const OFFSET_OUT_OF_RANGE: i16 = 1;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

/// Where a read starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Newest,
    Oldest,
    /// The same offset in every chosen partition.
    Offset(i64),
    /// An offset per partition (`offset=0:12,1:40`, as `next_offsets` gives them).
    Offsets(BTreeMap<i32, i64>),
    Timestamp(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadQuery {
    partition: Option<i32>,
    start: Start,
    limit: usize,
    key: Option<String>,
    text: Option<String>,
    max_wait: Duration,
    isolation_level: i8,
}

const READ_PARAMS: [&str; 9] = [
    "partition",
    "from",
    "offset",
    "timestamp",
    "limit",
    "key",
    "text",
    "max_wait_ms",
    "read_committed",
];

fn parse_number<T: std::str::FromStr>(name: &str, text: &str, what: &str) -> Result<T, ApiError> {
    text.parse::<T>()
        .map_err(|_| ApiError::bad_request(format!("?{name}={text}: expected {what}")))
}

fn parse_read(params: &BTreeMap<String, String>) -> Result<ReadQuery, ApiError> {
    if let Some(unknown) = params.keys().find(|k| !READ_PARAMS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter '{unknown}' (known: {})",
            READ_PARAMS.join(", ")
        )));
    }
    let partition = params
        .get("partition")
        .map(|p| parse_number::<u16>("partition", p, "a partition number, 0 to 65535"))
        .transpose()?
        .map(i32::from);
    let offset = params.get("offset");
    let timestamp = params.get("timestamp");
    let start = match params.get("from").map(String::as_str) {
        None | Some("newest") => Start::Newest,
        Some("oldest") => Start::Oldest,
        Some("offset") => {
            let Some(text) = offset else {
                return Err(ApiError::bad_request("?from=offset needs &offset=N"));
            };
            if text.contains(':') {
                if partition.is_some() {
                    return Err(ApiError::bad_request(
                        "?offset=P:N,... names its partitions: leave out ?partition=",
                    ));
                }
                let mut each = BTreeMap::new();
                for pair in text.split(',') {
                    let (p, o) = pair.split_once(':').ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "?offset={text}: expected N or partition:offset pairs (0:12,1:40)"
                        ))
                    })?;
                    let p = parse_number::<u16>("offset", p, "partition:offset pairs")?;
                    let o = parse_number::<u64>("offset", o, "partition:offset pairs")?;
                    each.insert(i32::from(p), i64::try_from(o).unwrap_or(i64::MAX));
                }
                Start::Offsets(each)
            } else {
                let n = parse_number::<u64>("offset", text, "an offset, 0 or more")?;
                Start::Offset(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
        Some("timestamp") => {
            let Some(text) = timestamp else {
                return Err(ApiError::bad_request("?from=timestamp needs &timestamp=MS"));
            };
            let ms = parse_number::<u64>("timestamp", text, "milliseconds since the epoch")?;
            Start::Timestamp(i64::try_from(ms).unwrap_or(i64::MAX))
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "?from={other}: expected newest, oldest, offset or timestamp"
            )))
        }
    };
    if offset.is_some() && !matches!(start, Start::Offset(_) | Start::Offsets(_)) {
        return Err(ApiError::bad_request("?offset= goes with ?from=offset"));
    }
    if timestamp.is_some() && !matches!(start, Start::Timestamp(_)) {
        return Err(ApiError::bad_request(
            "?timestamp= goes with ?from=timestamp",
        ));
    }
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => {
            let n = parse_number::<usize>("limit", text, "a number from 1 to 1000")?;
            if !(1..=MAX_LIMIT).contains(&n) {
                return Err(ApiError::bad_request(format!(
                    "?limit={n}: the limit is 1 to {MAX_LIMIT}"
                )));
            }
            n
        }
    };
    let max_wait_ms = match params.get("max_wait_ms") {
        None => 0,
        Some(text) => {
            let n = parse_number::<u64>("max_wait_ms", text, "milliseconds, 0 to 30000")?;
            if n > MAX_WAIT_MS {
                return Err(ApiError::bad_request(format!(
                    "?max_wait_ms={n}: at most {MAX_WAIT_MS}"
                )));
            }
            n
        }
    };
    let isolation_level = match params.get("read_committed").map(String::as_str) {
        None | Some("false") => READ_UNCOMMITTED,
        Some("true") | Some("") => READ_COMMITTED,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "?read_committed={other}: expected true or false"
            )))
        }
    };
    Ok(ReadQuery {
        partition,
        start,
        limit,
        key: params.get("key").cloned(),
        text: params.get("text").cloned().filter(|t| !t.is_empty()),
        max_wait: Duration::from_millis(max_wait_ms),
        isolation_level,
    })
}

/// Whether a record passes the `key` and `text` filters.
#[derive(Debug, Clone, Default)]
struct Filter {
    key: Option<Vec<u8>>,
    text: Option<Vec<u8>>,
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

impl Filter {
    fn matches(&self, record: &Record) -> bool {
        if let Some(key) = &self.key {
            if record.key.as_deref() != Some(key.as_slice()) {
                return false;
            }
        }
        if let Some(text) = &self.text {
            let in_key = record.key.as_deref().is_some_and(|k| contains(k, text));
            let in_value = record.value.as_deref().is_some_and(|v| contains(v, text));
            if !(in_key || in_value) {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Serialize)]
struct RecordsAnswer {
    records: Vec<RecordJson>,
    next_offsets: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
struct RecordJson {
    partition: i32,
    offset: i64,
    timestamp_ms: i64,
    timestamp_type: &'static str,
    key: Option<BytesJson>,
    value: Option<BytesJson>,
    headers: Vec<HeaderJson>,
}

#[derive(Debug, Serialize, PartialEq)]
struct BytesJson {
    size: usize,
    base64: String,
    /// The bytes as text when they are UTF-8.
    text: Option<String>,
    /// The bytes decoded with the schema registry, when they are in its wire format (magic
    /// byte 0, a 4-byte schema id) and this node's registry knows the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<SchemaDecoded>,
    /// The bytes of a wire-format payload, kept for decoding (not sent).
    #[serde(skip)]
    raw: Option<Vec<u8>>,
}

#[derive(Debug, Serialize, PartialEq)]
struct SchemaDecoded {
    id: i32,
    #[serde(rename = "type")]
    schema_type: &'static str,
    /// The decoded data, or why it could not be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    json: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The schema id of bytes in the registry's wire format.
fn wire_schema_id(bytes: &[u8]) -> Option<i32> {
    match bytes {
        [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// Adds the registry's decoding to every key and value in the wire format whose schema this
/// node's registry has (parsed schemas are kept in the admin state's cache).
async fn decode_with_registry(state: &AdminState, answer: &mut RecordsAnswer) {
    let Some(service) = state
        .node()
        .and_then(|n| n.broker.as_ref())
        .map(|b| b.schemas.clone())
    else {
        return;
    };
    let mut ids: Vec<i32> = answer
        .records
        .iter()
        .flat_map(|r| [r.key.as_ref(), r.value.as_ref()])
        .flatten()
        .filter_map(|b| b.raw.as_deref().and_then(wire_schema_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return;
    }
    let missing: Vec<i32> = {
        let cache = state.schema_cache.lock().unwrap_or_else(|p| p.into_inner());
        ids.iter()
            .copied()
            .filter(|id| !cache.contains_key(id))
            .collect()
    };
    if !missing.is_empty() {
        let parsed = service
            .read(|registry| {
                missing
                    .iter()
                    .filter_map(|id| {
                        let stored = registry.schema_by_id(*id)?;
                        let request = sluice_schema::SchemaRequest {
                            schema_type: stored.schema_type,
                            schema: stored.schema.clone(),
                            references: stored.references.clone(),
                            id: None,
                            version: None,
                        };
                        Some((*id, registry.parse(&request).ok()?))
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap_or_default();
        let mut cache = state.schema_cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() + parsed.len() > SCHEMA_CACHE_MAX {
            cache.clear();
        }
        for (id, schema) in parsed {
            cache.insert(id, std::sync::Arc::new(schema));
        }
    }
    let cache = state.schema_cache.lock().unwrap_or_else(|p| p.into_inner());
    for record in &mut answer.records {
        for bytes in [record.key.as_mut(), record.value.as_mut()]
            .into_iter()
            .flatten()
        {
            let Some(raw) = bytes.raw.as_deref() else {
                continue;
            };
            let Some(id) = wire_schema_id(raw) else {
                continue;
            };
            let Some(schema) = cache.get(&id) else {
                continue;
            };
            let (json, error) = match schema.decode(&raw[5..]) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e)),
            };
            bytes.schema = Some(SchemaDecoded {
                id,
                schema_type: schema.schema_type().name(),
                json,
                error,
            });
        }
    }
}

/// Parsed schemas the message browser keeps (cleared when full).
const SCHEMA_CACHE_MAX: usize = 1024;

#[derive(Debug, Serialize)]
struct HeaderJson {
    key: String,
    value: Option<BytesJson>,
}

fn bytes_json(bytes: Option<&[u8]>) -> Option<BytesJson> {
    bytes.map(|b| BytesJson {
        size: b.len(),
        base64: base64::engine::general_purpose::STANDARD.encode(b),
        text: std::str::from_utf8(b).ok().map(str::to_string),
        schema: None,
        raw: wire_schema_id(b).map(|_| b.to_vec()),
    })
}

/// A record read, with its partition and whether its timestamp is LogAppendTime.
type Found = (i32, Record, bool);

fn record_json((partition, record, log_append_time): Found) -> RecordJson {
    RecordJson {
        partition,
        offset: record.offset,
        timestamp_ms: record.timestamp,
        timestamp_type: if log_append_time {
            "LogAppendTime"
        } else {
            "CreateTime"
        },
        key: bytes_json(record.key.as_deref()),
        value: bytes_json(record.value.as_deref()),
        headers: record
            .headers
            .iter()
            .map(|(key, value)| HeaderJson {
                key: key.clone(),
                value: bytes_json(value.as_deref()),
            })
            .collect(),
    }
}

fn unknown_topic(topic: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Some(UNKNOWN_TOPIC_OR_PARTITION),
        format!("topic '{topic}' does not exist"),
    )
}

fn unknown_partition(topic: &str, partition: i32) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Some(UNKNOWN_TOPIC_OR_PARTITION),
        format!("topic '{topic}' has no partition {partition}"),
    )
}

/// Partition -> leader (-1: none) of `topic`; 404 when it does not exist. Never auto-creates.
async fn leaders_of(
    client: &mut ClusterClient,
    topic: &str,
) -> Result<BTreeMap<i32, i32>, ApiError> {
    let names = [topic.to_string()];
    let metadata = client.metadata(Some(&names), false, deadline()).await?;
    match metadata.topic(topic) {
        Some(t) if t.error_code == 0 || t.error_code == 5 => Ok(t
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader_id))
            .collect()),
        Some(t) if t.error_code != UNKNOWN_TOPIC_OR_PARTITION => {
            Err(RequestError::broker(t.error_code, &format!("topic '{topic}'"), None).into())
        }
        _ => Err(unknown_topic(topic)),
    }
}

/// Fetches of one topic's partitions for one API request.
struct Reader<'a> {
    client: &'a mut ClusterClient,
    topic: String,
    leaders: BTreeMap<i32, i32>,
    isolation_level: i8,
    /// Offsets scanned so far.
    scanned: i64,
    /// Record batch bytes fetched so far (what matching records can hold at most).
    fetched_bytes: usize,
}

impl Reader<'_> {
    /// One Fetch of `asked` (partition, offset) from every leader at once, waiting up to
    /// `max_wait_ms` for records. Partitions whose leader did not answer are missing from
    /// the result (asked again next round, after fresh Metadata).
    async fn round(
        &mut self,
        asked: &[(i32, i64)],
        max_wait_ms: i32,
    ) -> Result<BTreeMap<i32, FetchedPartition>, ApiError> {
        let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
        let mut need_metadata = false;
        for &(partition, offset) in asked {
            match self.leaders.get(&partition) {
                Some(&leader) if leader >= 0 => by_leader
                    .entry(leader)
                    .or_default()
                    .push((partition, offset)),
                _ => need_metadata = true,
            }
        }
        let timeout = self.client.request_timeout()
            + Duration::from_millis(u64::try_from(max_wait_ms).unwrap_or(0));
        let call_deadline = Instant::now() + timeout;
        let limits = FetchLimits {
            max_wait_ms,
            min_bytes: 1,
            max_bytes: FETCH_MAX_BYTES,
            partition_max_bytes: PARTITION_FETCH_BYTES,
            isolation_level: self.isolation_level,
        };
        let mut exchanges = Vec::new();
        let mut positions = BTreeMap::new();
        for (leader, partitions) in by_leader {
            match self.client.checkout(leader, call_deadline).await {
                Ok(connection) => {
                    let request = fetch_request(&self.topic, &partitions, limits);
                    exchanges.push(exchange(connection, request, timeout));
                    positions.extend(partitions);
                }
                Err(_) => need_metadata = true,
            }
        }
        let mut reads = BTreeMap::new();
        for (connection, answer) in join_all(exchanges).await {
            if let Some(connection) = connection {
                self.client.checkin(connection);
            }
            let response = match answer {
                Ok(response) if response.error_code == 0 => response,
                Ok(response)
                    if RequestError::broker(response.error_code, "", None).is_retriable() =>
                {
                    need_metadata = true;
                    continue;
                }
                Ok(response) => {
                    return Err(RequestError::broker(response.error_code, "Fetch", None).into())
                }
                Err(RequestError::Transport(_)) => {
                    need_metadata = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for topic in response.responses {
                if topic.topic.as_str() != self.topic {
                    continue;
                }
                for data in topic.partitions {
                    let partition = data.partition_index;
                    let Some(&offset) = positions.get(&partition) else {
                        continue;
                    };
                    match data.error_code {
                        0 => {}
                        OFFSET_OUT_OF_RANGE => {
                            // Retention moved the start, or the end moved back: go on from
                            // within the partition's range.
                            let (start, end) = self.range(partition).await?;
                            reads.insert(
                                partition,
                                FetchedPartition {
                                    records: Vec::new(),
                                    next: offset.clamp(start, end),
                                    end,
                                },
                            );
                            continue;
                        }
                        code => {
                            let error =
                                RequestError::broker(code, &format!("partition {partition}"), None);
                            if error.is_retriable() {
                                need_metadata = true;
                                continue;
                            }
                            return Err(error.into());
                        }
                    }
                    self.fetched_bytes = self
                        .fetched_bytes
                        .saturating_add(data.records.as_ref().map_or(0, |r| r.len()));
                    let read = read_fetched(data, offset, self.isolation_level, MAX_BATCH_BYTES)
                        .map_err(|e| {
                            ApiError::new(
                                StatusCode::BAD_GATEWAY,
                                None,
                                format!("partition {partition}: cannot read a record batch: {e}"),
                            )
                        })?;
                    reads.insert(partition, read);
                }
            }
        }
        if need_metadata {
            self.leaders = leaders_of(self.client, &self.topic).await?;
        }
        if reads.is_empty() {
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Ok(reads)
    }

    /// Whether the scan budget (offsets or bytes) is spent.
    fn spent(&self) -> bool {
        self.scanned >= SCAN_MAX_OFFSETS || self.fetched_bytes >= SCAN_MAX_BYTES
    }

    /// The start and end offsets of one partition.
    async fn range(&mut self, partition: i32) -> Result<(i64, i64), ApiError> {
        let ranges = self.ranges(&[partition]).await?;
        Ok(ranges.get(&partition).copied().unwrap_or((0, 0)))
    }

    /// Start and end offset of each of `partitions`.
    async fn ranges(&mut self, partitions: &[i32]) -> Result<BTreeMap<i32, (i64, i64)>, ApiError> {
        let starts = self.offsets_at(partitions, EARLIEST).await?;
        let ends = self.offsets_at(partitions, LATEST).await?;
        Ok(partitions
            .iter()
            .map(|p| {
                let start = starts.get(p).copied().unwrap_or(0);
                let end = ends.get(p).copied().unwrap_or(start).max(start);
                (*p, (start, end))
            })
            .collect())
    }

    /// ListOffsets of `partitions` at `timestamp` (-1 where no record is that recent).
    async fn offsets_at(
        &mut self,
        partitions: &[i32],
        timestamp: i64,
    ) -> Result<BTreeMap<i32, i64>, ApiError> {
        let asked: Vec<(i32, i64)> = partitions.iter().map(|&p| (p, timestamp)).collect();
        let found = list_offsets::list_offsets(
            self.client,
            &self.topic,
            &asked,
            self.isolation_level,
            deadline(),
        )
        .await;
        let mut offsets = BTreeMap::new();
        for (partition, answer) in found {
            offsets.insert(partition, answer?.offset);
        }
        Ok(offsets)
    }

    /// Reads each partition of `ranges` forward from its offset to its bound (exclusive;
    /// `None`: its end), keeping the records `filter` passes, until a partition has `want`
    /// of them, the scan budget is spent or `until` passes.
    async fn scan(
        &mut self,
        ranges: &BTreeMap<i32, (i64, Option<i64>)>,
        want: usize,
        filter: &Filter,
        until: Instant,
    ) -> Result<BTreeMap<i32, Scanned>, ApiError> {
        let mut scans: BTreeMap<i32, Scanned> = ranges
            .iter()
            .map(|(&p, &(from, bound))| {
                let done = bound.is_some_and(|b| from >= b);
                (
                    p,
                    Scanned {
                        matches: Vec::new(),
                        next: from,
                        bound,
                        done,
                    },
                )
            })
            .collect();
        loop {
            let asked: Vec<(i32, i64)> = scans
                .iter()
                .filter(|(_, s)| !s.done)
                .map(|(&p, s)| (p, s.next))
                .collect();
            if asked.is_empty() || self.spent() || Instant::now() >= until {
                return Ok(scans);
            }
            for (partition, read) in self.round(&asked, 0).await? {
                let Some(scan) = scans.get_mut(&partition) else {
                    continue;
                };
                let before = scan.next;
                let bound = scan.bound.unwrap_or(read.end);
                // The offsets budget cuts a round short, at the first record not examined.
                let budget_end = before.saturating_add(SCAN_MAX_OFFSETS - self.scanned);
                let mut cut = None;
                for (record, log_append_time) in read.records {
                    if record.offset >= bound {
                        break;
                    }
                    if record.offset >= budget_end {
                        cut = Some(record.offset);
                        break;
                    }
                    if filter.matches(&record) {
                        scan.matches.push((record, log_append_time));
                    }
                }
                scan.next = cut.unwrap_or_else(|| read.next.min(bound.max(before)));
                self.scanned = self.scanned.saturating_add(scan.next - before);
                scan.done = scan.next >= bound || scan.matches.len() >= want;
            }
        }
    }
}

/// One partition's scan.
struct Scanned {
    /// Matching records, in offset order.
    matches: Vec<(Record, bool)>,
    /// The position reached.
    next: i64,
    /// Where the scan stops (exclusive); `None`: the partition's end.
    bound: Option<i64>,
    /// The bound (or the wanted number of matches) was reached.
    done: bool,
}

/// Of each partition's `candidates` (in offset order), the `limit` oldest by timestamp taking
/// each partition's in offset order; and where each partition continues: at its first record
/// not taken, else at `positions`.
fn take_oldest(
    mut candidates: BTreeMap<i32, Vec<(Record, bool)>>,
    positions: &BTreeMap<i32, i64>,
    limit: usize,
) -> (Vec<Found>, BTreeMap<i32, i64>) {
    let mut heads: BTreeMap<i32, usize> = candidates.keys().map(|&p| (p, 0)).collect();
    let mut count = 0;
    while count < limit {
        let next = heads
            .iter()
            .filter_map(|(&p, &i)| candidates.get(&p)?.get(i).map(|(r, _)| (r.timestamp, p)))
            .min();
        let Some((_, partition)) = next else {
            break;
        };
        if let Some(i) = heads.get_mut(&partition) {
            *i += 1;
        }
        count += 1;
    }
    let mut taken = Vec::with_capacity(count);
    let mut next_offsets = positions.clone();
    for (partition, records) in candidates.iter_mut() {
        let used = heads.get(partition).copied().unwrap_or(0);
        if let Some((first_left, _)) = records.get(used) {
            next_offsets.insert(*partition, first_left.offset);
        }
        for (record, log_append_time) in records.drain(..used) {
            taken.push((*partition, record, log_append_time));
        }
    }
    taken.sort_by_key(|(p, r, _)| (r.timestamp, *p, r.offset));
    (taken, next_offsets)
}

/// Of each partition's `candidates` (in offset order), the `limit` newest by timestamp taking
/// each partition's from its last backward; answered oldest first (newest last).
fn take_newest(candidates: BTreeMap<i32, Vec<(Record, bool)>>, limit: usize) -> Vec<Found> {
    let mut tails: BTreeMap<i32, usize> = candidates.iter().map(|(&p, r)| (p, r.len())).collect();
    let mut count = 0;
    while count < limit {
        let next = tails
            .iter()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(&p, &n)| {
                candidates
                    .get(&p)?
                    .get(n - 1)
                    .map(|(r, _)| (r.timestamp, p))
            })
            .max();
        let Some((_, partition)) = next else {
            break;
        };
        if let Some(n) = tails.get_mut(&partition) {
            *n -= 1;
        }
        count += 1;
    }
    let mut taken: Vec<Found> = Vec::with_capacity(count);
    for (partition, mut records) in candidates {
        let from = tails.get(&partition).copied().unwrap_or(0);
        for (record, log_append_time) in records.drain(from..) {
            taken.push((partition, record, log_append_time));
        }
    }
    taken.sort_by_key(|(p, r, _)| (r.timestamp, *p, r.offset));
    taken
}

/// `GET /topics/{topic}/records`.
pub async fn read(
    State(state): State<Arc<AdminState>>,
    mut caller: Caller,
    Path(topic): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let result: Result<RecordsAnswer, ApiError> = async {
        let params = query_params(query.as_deref())?;
        let query = parse_read(&params)?;
        let mut answer = read_records(&mut caller, &topic, &query).await?;
        decode_with_registry(&state, &mut answer).await;
        Ok(answer)
    }
    .await;
    caller.check(result).map(|a| Json(a).into_response())
}

async fn read_records(
    client: &mut ClusterClient,
    topic: &str,
    query: &ReadQuery,
) -> Result<RecordsAnswer, ApiError> {
    let leaders = leaders_of(client, topic).await?;
    let chosen: Vec<i32> = match (&query.start, query.partition) {
        (Start::Offsets(each), _) => each.keys().copied().collect(),
        (_, Some(p)) => vec![p],
        (_, None) => leaders.keys().copied().collect(),
    };
    if let Some(&p) = chosen.iter().find(|p| !leaders.contains_key(p)) {
        return Err(unknown_partition(topic, p));
    }
    let filter = Filter {
        key: query.key.as_ref().map(|k| k.as_bytes().to_vec()),
        text: query.text.as_ref().map(|t| t.as_bytes().to_vec()),
    };
    let mut reader = Reader {
        client,
        topic: topic.to_string(),
        leaders,
        isolation_level: query.isolation_level,
        scanned: 0,
        fetched_bytes: 0,
    };
    let scan_until = Instant::now() + SCAN_TIME;
    let ranges = reader.ranges(&chosen).await?;
    let (mut records, mut next_offsets) = match &query.start {
        Start::Newest => {
            let candidates =
                read_newest(&mut reader, &ranges, query.limit, &filter, scan_until).await?;
            let ends = ranges.iter().map(|(&p, &(_, end))| (p, end)).collect();
            (take_newest(candidates, query.limit), ends)
        }
        start => {
            let starts: BTreeMap<i32, i64> = match start {
                Start::Oldest => ranges.iter().map(|(&p, &(s, _))| (p, s)).collect(),
                Start::Offset(n) => ranges
                    .iter()
                    .map(|(&p, &(s, e))| (p, (*n).clamp(s, e)))
                    .collect(),
                Start::Offsets(each) => each
                    .iter()
                    .map(|(p, n)| {
                        let (s, e) = ranges.get(p).copied().unwrap_or((0, 0));
                        (*p, (*n).clamp(s, e))
                    })
                    .collect(),
                Start::Timestamp(ms) => {
                    let found = reader.offsets_at(&chosen, *ms).await?;
                    ranges
                        .iter()
                        .map(|(&p, &(s, e))| {
                            // -1: no record that recent: the end.
                            let at = found.get(&p).copied().filter(|&o| o >= 0).unwrap_or(e);
                            (p, at.clamp(s, e))
                        })
                        .collect()
                }
                Start::Newest => BTreeMap::new(),
            };
            let scan_ranges = starts.iter().map(|(&p, &o)| (p, (o, None))).collect();
            let scans = reader
                .scan(&scan_ranges, query.limit, &filter, scan_until)
                .await?;
            let positions = scans.iter().map(|(&p, s)| (p, s.next)).collect();
            let candidates = scans.into_iter().map(|(p, s)| (p, s.matches)).collect();
            take_oldest(candidates, &positions, query.limit)
        }
    };
    if records.is_empty() && !query.max_wait.is_zero() {
        let (tailed, positions) = tail(&mut reader, &next_offsets, query, &filter).await?;
        records = tailed;
        next_offsets = positions;
    }
    Ok(RecordsAnswer {
        records: records.into_iter().map(record_json).collect(),
        next_offsets: next_offsets
            .into_iter()
            .map(|(p, o)| (p.to_string(), o))
            .collect(),
    })
}

/// The newest matches of each partition: windows read backward from the end, each read
/// forward, four times larger each time, until `limit` matches, the start, the budget or
/// `until`.
async fn read_newest(
    reader: &mut Reader<'_>,
    ranges: &BTreeMap<i32, (i64, i64)>,
    limit: usize,
    filter: &Filter,
    until: Instant,
) -> Result<BTreeMap<i32, Vec<(Record, bool)>>, ApiError> {
    let mut candidates: BTreeMap<i32, Vec<(Record, bool)>> =
        ranges.keys().map(|&p| (p, Vec::new())).collect();
    // Per partition, the start of what was read (everything from there to the end is).
    let mut read_from: BTreeMap<i32, i64> = ranges.iter().map(|(&p, &(_, e))| (p, e)).collect();
    let mut window = i64::try_from(limit).unwrap_or(i64::MAX);
    loop {
        let budget = SCAN_MAX_OFFSETS.saturating_sub(reader.scanned);
        if reader.spent() || Instant::now() >= until {
            break;
        }
        let mut windows = BTreeMap::new();
        for (&p, &(start, _)) in ranges {
            let hi = read_from.get(&p).copied().unwrap_or(start);
            let enough = candidates.get(&p).is_some_and(|c| c.len() >= limit);
            if hi > start && !enough {
                windows.insert(
                    p,
                    (hi.saturating_sub(window.min(budget)).max(start), Some(hi)),
                );
            }
        }
        if windows.is_empty() {
            break;
        }
        let scans = reader.scan(&windows, usize::MAX, filter, until).await?;
        for (p, scan) in scans {
            let Some(&(lo, Some(hi))) = windows.get(&p) else {
                continue;
            };
            if scan.next < hi {
                // Cut short (time ran out): what it found would skip the unread rest.
                read_from.insert(p, ranges.get(&p).map_or(lo, |r| r.0));
                continue;
            }
            let older = scan.matches;
            let newer = candidates.remove(&p).unwrap_or_default();
            let mut all = older;
            all.extend(newer);
            let keep_from = all.len().saturating_sub(limit);
            candidates.insert(p, all.split_off(keep_from));
            read_from.insert(p, lo);
        }
        window = window.saturating_mul(4);
    }
    Ok(candidates)
}

/// The live tail: Fetches from `positions` waiting for records until `query.max_wait`, until
/// one passes the filter.
async fn tail(
    reader: &mut Reader<'_>,
    positions: &BTreeMap<i32, i64>,
    query: &ReadQuery,
    filter: &Filter,
) -> Result<(Vec<Found>, BTreeMap<i32, i64>), ApiError> {
    let until = Instant::now() + query.max_wait;
    let mut positions = positions.clone();
    let mut candidates: BTreeMap<i32, Vec<(Record, bool)>> = BTreeMap::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let wait_ms = i32::try_from(left.as_millis())
            .unwrap_or(i32::MAX)
            .min(TAIL_FETCH_WAIT_MS);
        let asked: Vec<(i32, i64)> = positions.iter().map(|(&p, &o)| (p, o)).collect();
        for (partition, read) in reader.round(&asked, wait_ms).await? {
            for (record, log_append_time) in read.records {
                if filter.matches(&record) {
                    candidates
                        .entry(partition)
                        .or_default()
                        .push((record, log_append_time));
                }
            }
            positions.insert(partition, read.next);
        }
        if !candidates.is_empty() {
            break;
        }
    }
    Ok(take_oldest(candidates, &positions, query.limit))
}

/// The request body of `POST /topics/{topic}/records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProduceBody {
    partition: Option<i32>,
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    headers: Vec<HeaderBody>,
    encoding: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderBody {
    key: String,
    value: String,
}

#[derive(Debug, Serialize)]
struct Produced {
    partition: i32,
    offset: i64,
    timestamp_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The record a produce body describes (its bytes decoded per `encoding`).
fn outgoing(body: &ProduceBody) -> Result<OutgoingRecord, ApiError> {
    let base64 = match body.encoding.as_deref() {
        None | Some("text") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "\"encoding\": \"{other}\": expected text or base64"
            )))
        }
    };
    let decode = |what: &str, text: &str| -> Result<Bytes, ApiError> {
        if base64 {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Bytes::from)
                .map_err(|e| ApiError::bad_request(format!("{what} is not base64: {e}")))
        } else {
            Ok(Bytes::copy_from_slice(text.as_bytes()))
        }
    };
    Ok(OutgoingRecord {
        line: 1,
        key: body
            .key
            .as_deref()
            .map(|k| decode("\"key\"", k))
            .transpose()?,
        value: body
            .value
            .as_deref()
            .map(|v| decode("\"value\"", v))
            .transpose()?,
        headers: body
            .headers
            .iter()
            .map(|h| {
                Ok((
                    h.key.clone(),
                    decode(&format!("header '{}'", h.key), &h.value)?,
                ))
            })
            .collect::<Result<_, ApiError>>()?,
    })
}

/// `POST /topics/{topic}/records`: one record, acks=all.
pub async fn produce(
    mut caller: Caller,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result: Result<Produced, ApiError> = async {
        let body: ProduceBody = json_body(&body)?;
        let record = outgoing(&body)?;
        produce_one(&mut caller, &topic, body.partition, record).await
    }
    .await;
    caller.check(result).map(|p| Json(p).into_response())
}

async fn produce_one(
    client: &mut ClusterClient,
    topic: &str,
    partition: Option<i32>,
    record: OutgoingRecord,
) -> Result<Produced, ApiError> {
    let deadline = deadline();
    let mut leaders = leaders_of(client, topic).await?;
    let partition = match partition {
        Some(p) if leaders.contains_key(&p) => p,
        Some(p) => return Err(unknown_partition(topic, p)),
        None => {
            let count = i32::try_from(leaders.len()).unwrap_or(i32::MAX);
            let seed = u64::try_from(now_ms()).unwrap_or(1);
            PartitionChooser::new(Partitioner::Murmur2Random, seed)
                .choose(record.key.as_deref(), count)
        }
    };
    let timestamp = now_ms();
    let batch =
        encode_batch(&[(record, timestamp)], Compression::None).map_err(ApiError::bad_request)?;
    let timeout_ms = i32::try_from(client.request_timeout().as_millis()).unwrap_or(i32::MAX);
    let request = produce_request(topic, -1, timeout_ms, vec![(partition, batch)]);
    let retry = Retry::until(deadline);
    loop {
        let outcome = async {
            let leader = leaders.get(&partition).copied().unwrap_or(-1);
            if leader < 0 {
                return Err(RequestError::broker(
                    5,
                    &format!("partition {partition}"),
                    None,
                ));
            }
            let (response, _) = client
                .send_to_broker::<ProduceRequest>(
                    leader,
                    PRODUCE_VERSIONS,
                    |_| request.clone(),
                    deadline,
                )
                .await
                .map_err(|e| match e {
                    // The leader may have died: ask Metadata again.
                    RequestError::Transport(text) => {
                        RequestError::broker(6, &format!("broker {leader}"), Some(&text))
                    }
                    e => e,
                })?;
            let answer = response
                .responses
                .into_iter()
                .flat_map(|t| t.partition_responses)
                .find(|p| p.index == partition)
                .ok_or_else(|| {
                    RequestError::Unsupported("the Produce answer names no partition".into())
                })?;
            if answer.error_code != 0 {
                return Err(RequestError::broker(
                    answer.error_code,
                    &format!("producing to partition {partition}"),
                    answer.error_message.as_deref(),
                ));
            }
            Ok(Produced {
                partition,
                offset: answer.base_offset,
                timestamp_ms: if answer.log_append_time_ms >= 0 {
                    answer.log_append_time_ms
                } else {
                    timestamp
                },
            })
        }
        .await;
        match outcome {
            Err(e) if retry.again(&e).await => {
                leaders = leaders_of(client, topic).await?;
            }
            outcome => return Ok(outcome?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> BTreeMap<String, String> {
        query_params(Some(query)).expect("a query string")
    }

    #[test]
    fn read_parameters_are_checked() {
        let q = parse_read(&params("")).expect("defaults");
        assert_eq!(q.start, Start::Newest);
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(q.isolation_level, READ_UNCOMMITTED);
        let q =
            parse_read(&params("from=offset&offset=0:5,2:7&read_committed=true")).expect("pairs");
        assert_eq!(
            q.start,
            Start::Offsets([(0, 5), (2, 7)].into_iter().collect())
        );
        assert_eq!(q.isolation_level, READ_COMMITTED);
        for bad in [
            "from=yesterday",
            "from=offset",
            "from=offset&offset=-1",
            "from=offset&offset=x",
            "from=offset&offset=0:1&partition=0",
            "from=timestamp",
            "offset=3",
            "limit=0",
            "limit=1001",
            "max_wait_ms=30001",
            "partition=-1",
            "read_committed=maybe",
            "colour=red",
        ] {
            let err = parse_read(&params(bad)).expect_err(bad);
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    fn record(offset: i64, timestamp: i64, key: &str, value: &str) -> (Record, bool) {
        (
            Record {
                offset,
                timestamp,
                key: Some(Bytes::copy_from_slice(key.as_bytes())),
                value: Some(Bytes::copy_from_slice(value.as_bytes())),
                headers: Vec::new(),
            },
            false,
        )
    }

    #[test]
    fn filters_match_exact_keys_and_substrings() {
        let (r, _) = record(0, 0, "order-1", "shipped to Berlin");
        assert!(Filter::default().matches(&r));
        let key = |k: &str| Filter {
            key: Some(k.as_bytes().to_vec()),
            text: None,
        };
        let text = |t: &str| Filter {
            key: None,
            text: Some(t.as_bytes().to_vec()),
        };
        assert!(key("order-1").matches(&r));
        assert!(!key("order").matches(&r));
        assert!(text("Berlin").matches(&r));
        assert!(text("der-").matches(&r));
        assert!(!text("Paris").matches(&r));
    }

    #[test]
    fn oldest_merge_keeps_partition_order_and_says_where_to_continue() {
        let mut candidates = BTreeMap::new();
        candidates.insert(0, vec![record(10, 100, "a", ""), record(11, 300, "b", "")]);
        candidates.insert(1, vec![record(5, 200, "c", ""), record(6, 400, "d", "")]);
        let positions = [(0, 12), (1, 7)].into_iter().collect();
        let (taken, next) = take_oldest(candidates, &positions, 3);
        let order: Vec<(i32, i64)> = taken.iter().map(|(p, r, _)| (*p, r.offset)).collect();
        assert_eq!(order, vec![(0, 10), (1, 5), (0, 11)]);
        assert_eq!(next.get(&0), Some(&12));
        assert_eq!(next.get(&1), Some(&6));
    }

    #[test]
    fn newest_merge_takes_the_latest_timestamps_newest_last() {
        let mut candidates = BTreeMap::new();
        candidates.insert(0, vec![record(10, 100, "a", ""), record(11, 300, "b", "")]);
        candidates.insert(1, vec![record(5, 200, "c", ""), record(6, 400, "d", "")]);
        let taken = take_newest(candidates, 3);
        let order: Vec<(i32, i64)> = taken.iter().map(|(p, r, _)| (*p, r.offset)).collect();
        assert_eq!(order, vec![(1, 5), (0, 11), (1, 6)]);
    }

    #[test]
    fn produce_bodies_decode_per_encoding() {
        let body: ProduceBody =
            serde_json::from_str(r#"{"key": "aGk=", "value": null, "encoding": "base64"}"#)
                .expect("body");
        let record = outgoing(&body).expect("valid");
        assert_eq!(record.key.as_deref(), Some(&b"hi"[..]));
        assert_eq!(record.value, None);
        let bad: ProduceBody =
            serde_json::from_str(r#"{"value": "not base64!", "encoding": "base64"}"#)
                .expect("body");
        assert_eq!(
            outgoing(&bad).expect_err("bad base64").status,
            StatusCode::BAD_REQUEST
        );
        let unknown: ProduceBody =
            serde_json::from_str(r#"{"value": "x", "encoding": "hex"}"#).expect("body");
        assert!(outgoing(&unknown).is_err());
    }

    #[test]
    fn record_bytes_show_text_only_when_utf8() {
        let json = bytes_json(Some(&[0xff, 0x00])).expect("bytes");
        assert_eq!(json.size, 2);
        assert_eq!(json.base64, "/wA=");
        assert_eq!(json.text, None);
        assert_eq!(
            bytes_json(Some(b"hi")).and_then(|j| j.text),
            Some("hi".into())
        );
        assert_eq!(bytes_json(None), None);
    }
}

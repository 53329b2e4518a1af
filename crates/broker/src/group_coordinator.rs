//! The I/O around the group coordinator state machine (`sluice_group`): the internal topic
//! `__consumer_offsets`, loading state from it at start, appending the records the state
//! machine emits before its replies go out, and the timer that expires sessions.
//!
//! One async mutex serialises every call: the state change, the append of its records and the
//! hand-off of its replies happen in the order the calls took the lock, so the log holds
//! records in the order the state machine produced them. A reply for another caller (a
//! JoinGroup completed by the last member's join) reaches that caller through its token's
//! channel.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_group::{GroupCoordinator, Output, Reply, Token};
use sluice_log::record_codec::{encode_batch, Record};
use sluice_protocol::batch::{BatchHeader, MAGIC_V2};
use sluice_protocol::error::ErrorCode;
use tokio::sync::{oneshot, Mutex};

use crate::replica_manager::{AdminError, ReplicaManager, Topic};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

struct Inner {
    state: GroupCoordinator,
    next_token: Token,
    waiting: HashMap<Token, oneshot::Sender<Reply>>,
}

pub struct GroupService {
    inner: Mutex<Inner>,
    topic: Arc<Topic>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl GroupService {
    /// Creates `__consumer_offsets` if missing, then replays it.
    pub fn open(replicas: &ReplicaManager) -> Result<GroupService, AdminError> {
        let config = replicas.config().group_config();
        let topic = match replicas.topic(OFFSETS_TOPIC) {
            Some(t) => t,
            None => {
                let mut configs = BTreeMap::new();
                configs.insert("cleanup.policy".to_string(), "compact".to_string());
                configs.insert(
                    "segment.bytes".to_string(),
                    replicas.config().offsets_topic_segment_bytes().to_string(),
                );
                configs.insert("compression.type".to_string(), "producer".to_string());
                replicas.create_topic(OFFSETS_TOPIC, config.num_partitions, 1, configs)?
            }
        };
        // The partition count of an existing topic wins over the config, as in Kafka.
        let mut config = config;
        config.num_partitions = topic.partitions.len() as i32;
        let mut state = GroupCoordinator::new(config);
        let now = now_ms();
        let mut loaded = 0usize;
        for partition in &topic.partitions {
            let log = &partition.log;
            let mut offset = log.log_start_offset();
            let end = partition.high_watermark();
            while offset < end {
                let read = log
                    .read(offset, 1 << 20, end, true)
                    .map_err(|e| AdminError::new(ErrorCode::UNKNOWN_SERVER_ERROR, e.to_string()))?;
                if read.records.is_empty() {
                    break;
                }
                let mut rest = read.records.clone();
                while rest.len() >= sluice_protocol::batch::BATCH_HEADER_LEN {
                    let header = match sluice_protocol::batch::parse_header(&rest) {
                        Ok(h) => h,
                        Err(_) => break,
                    };
                    let len = header.total_len();
                    if len > rest.len() {
                        break;
                    }
                    let raw = rest.split_to(len);
                    offset = header.last_offset() + 1;
                    match sluice_log::record_codec::decode_batch(&raw) {
                        Ok((_, records)) => {
                            for r in records {
                                let Some(key) = r.key else { continue };
                                if let Err(e) = state.replay(&key, r.value.as_deref(), now) {
                                    tracing::warn!(
                                        "skipping unreadable record at {}-{} offset {}: {e}",
                                        OFFSETS_TOPIC,
                                        partition.index,
                                        r.offset
                                    );
                                }
                                loaded += 1;
                            }
                        }
                        Err(e) => tracing::warn!(
                            "skipping unreadable batch in {}-{} at offset {}: {e}",
                            OFFSETS_TOPIC,
                            partition.index,
                            header.base_offset
                        ),
                    }
                }
            }
        }
        if loaded > 0 {
            tracing::info!(
                "loaded {} group(s) from {loaded} record(s) of {OFFSETS_TOPIC}",
                state.group_count()
            );
        }
        Ok(GroupService {
            inner: Mutex::new(Inner {
                state,
                next_token: 1,
                waiting: HashMap::new(),
            }),
            topic,
        })
    }

    /// Runs `f` against the state machine, appends its records, hands out its replies, and
    /// returns this caller's reply (waiting for it if the state machine parked the request).
    pub async fn call<F>(&self, shutdown: &tokio::sync::watch::Receiver<bool>, f: F) -> Reply
    where
        F: FnOnce(&mut GroupCoordinator, i64, Token, &mut Output),
    {
        let receiver = {
            let mut inner = self.inner.lock().await;
            let token = inner.next_token;
            inner.next_token += 1;
            let (tx, rx) = oneshot::channel();
            inner.waiting.insert(token, tx);
            let mut out = Output::default();
            f(&mut inner.state, now_ms(), token, &mut out);
            self.finish(&mut inner, out);
            rx
        };
        let mut shutdown = shutdown.clone();
        tokio::select! {
            reply = receiver => reply.unwrap_or(Reply::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            _ = shutdown.wait_for(|s| *s) => Reply::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        }
    }

    /// Reads state without changing it.
    pub async fn read<T>(&self, f: impl FnOnce(&GroupCoordinator) -> T) -> T {
        let inner = self.inner.lock().await;
        f(&inner.state)
    }

    /// Expires sessions and deadlines; called by a timer.
    pub async fn tick(&self) {
        let mut inner = self.inner.lock().await;
        let mut out = Output::default();
        inner.state.tick(now_ms(), &mut out);
        if !out.is_empty() {
            self.finish(&mut inner, out);
        }
    }

    /// Removes offsets past their retention; called by a timer.
    pub async fn expire_offsets(&self) {
        let mut inner = self.inner.lock().await;
        let mut out = Output::default();
        let expired = inner.state.expire_offsets(now_ms(), &mut out);
        if expired > 0 {
            tracing::info!("removed {expired} expired committed offset(s)");
        }
        if !out.is_empty() {
            self.finish(&mut inner, out);
        }
    }

    fn finish(&self, inner: &mut Inner, out: Output) {
        let mut failed = None;
        for write in &out.writes {
            if let Err(e) = self.append(write.partition, &write.records) {
                tracing::error!("cannot write to {OFFSETS_TOPIC}-{}: {e}", write.partition);
                failed = Some(ErrorCode::COORDINATOR_NOT_AVAILABLE);
            }
        }
        for (token, reply) in out.replies {
            let reply = match failed {
                Some(code) => reply.failed(code),
                None => reply,
            };
            if let Some(tx) = inner.waiting.remove(&token) {
                let _ = tx.send(reply);
            }
        }
    }

    fn append(&self, partition: i32, records: &[(Bytes, Option<Bytes>)]) -> Result<(), String> {
        let Some(p) = self.topic.partitions.get(partition as usize) else {
            return Err(format!("no partition {partition}"));
        };
        let now = now_ms();
        let records: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                offset: i as i64,
                timestamp: now,
                attributes: 0,
                key: Some(k.clone()),
                value: v.clone(),
                headers: Vec::new(),
            })
            .collect();
        let template = BatchHeader {
            base_offset: 0,
            batch_length: 0,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes: 0,
            last_offset_delta: 0,
            base_timestamp: now,
            max_timestamp: now,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            records_count: 0,
        };
        let batch = encode_batch(&template, &records).map_err(|e| e.to_string())?;
        let info = p
            .append_as_leader(&Bytes::from(batch))
            .map_err(|e| e.to_string())?;
        if info.flush_due {
            p.log
                .flush(info.last_offset + 1)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Runs the session timer (every 50 ms) and offset expiry until shutdown.
pub async fn run_timers(
    service: Arc<GroupService>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    retention_check_ms: u64,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut expiry = tokio::time::interval(Duration::from_millis(retention_check_ms.max(1)));
    expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    expiry.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => service.tick().await,
            _ = expiry.tick() => service.expire_offsets().await,
        }
    }
}

//! The I/O around the group coordinator state machine (`sluice_group`): the internal topic
//! `__consumer_offsets`, loading state from it at start, appending the records the state
//! machine emits before its replies go out, and the timer that expires sessions.
//!
//! One async mutex serialises every call: the state change, the append of its records and the
//! hand-off of its replies happen in the order the calls took the lock, so the log holds
//! records in the order the state machine produced them. A reply for another caller (a
//! JoinGroup completed by the last member's join) reaches that caller through its token's
//! channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_group::{GroupCoordinator, Output, Reply, Token};
use sluice_protocol::error::ErrorCode;
use tokio::sync::{oneshot, Mutex};

use crate::internal_topic::{self, now_ms};
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
    num_partitions: i32,
}

impl GroupService {
    /// Creates `__consumer_offsets` if missing, then replays it.
    pub fn open(replicas: &ReplicaManager) -> Result<GroupService, AdminError> {
        let mut config = replicas.config().group_config();
        let topic = internal_topic::ensure(
            replicas,
            OFFSETS_TOPIC,
            config.num_partitions,
            replicas.config().offsets_topic_segment_bytes(),
        )?;
        config.num_partitions = topic.partitions.len() as i32;
        let num_partitions = config.num_partitions;
        let mut state = GroupCoordinator::new(config);
        let now = now_ms();
        let loaded = internal_topic::replay(&topic, |partition, key, value| {
            if let Err(e) = state.replay(key, value, now) {
                tracing::warn!("skipping unreadable record in {OFFSETS_TOPIC}-{partition}: {e}");
            }
        })?;
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
            num_partitions,
        })
    }

    /// The `__consumer_offsets` partition of `group`.
    pub fn partition_for(&self, group: &str) -> i32 {
        sluice_group::partition_for(group, self.num_partitions)
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

    /// Ends `producer_id`'s transaction for the offsets kept in `__consumer_offsets` partition
    /// `partition` (the transaction coordinator's marker for that partition).
    pub async fn complete_txn(
        &self,
        producer_id: i64,
        partition: i32,
        commit: bool,
    ) -> Result<(), String> {
        let mut inner = self.inner.lock().await;
        let mut out = Output::default();
        inner
            .state
            .complete_txn(now_ms(), producer_id, partition, commit, &mut out);
        for write in &out.writes {
            self.append(write.partition, &write.records)?;
        }
        Ok(())
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
        internal_topic::append(&self.topic, partition, records)
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

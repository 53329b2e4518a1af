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
    replicas: Arc<ReplicaManager>,
    num_partitions: i32,
}

impl GroupService {
    /// A coordinator for the `__consumer_offsets` partitions this broker leads (`topic`,
    /// created by the caller): each is replayed; requests for groups of other partitions get
    /// NOT_COORDINATOR. Leadership changes later go through [`GroupService::on_leadership`].
    pub fn open(
        replicas: &Arc<ReplicaManager>,
        topic: Option<Arc<Topic>>,
    ) -> Result<GroupService, AdminError> {
        let mut config = replicas.config().group_config();
        if let Some(topic) = &topic {
            config.num_partitions = topic.partitions.len() as i32;
        }
        let num_partitions = config.num_partitions;
        let mut state = GroupCoordinator::new_unowned(config);
        let now = now_ms();
        let mut loaded = 0;
        let led = topic
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.is_leader());
        for partition in led {
            let index = partition.index;
            // Nothing waits on a coordinator that has not started: the output is empty.
            state.begin_loading(index, &mut Output::default());
            loaded += internal_topic::replay_partition(partition, |key, value| {
                if let Err(e) = state.replay(key, value, now) {
                    tracing::warn!("skipping unreadable record in {OFFSETS_TOPIC}-{index}: {e}");
                }
            })?;
            state.finish_loading(index);
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
            replicas: replicas.clone(),
            num_partitions,
        })
    }

    /// Follows leadership of `__consumer_offsets` partitions: groups of `resigned` partitions
    /// are dropped (their waiting requests get NOT_COORDINATOR); `became` partitions are
    /// loaded from the log (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    pub async fn on_leadership(&self, became: &[i32], resigned: &[i32]) {
        for &index in resigned {
            let mut inner = self.inner.lock().await;
            let mut out = Output::default();
            inner.state.unload(index, &mut out);
            self.finish(&mut inner, out);
            tracing::info!("no longer coordinating {OFFSETS_TOPIC}-{index}");
        }
        for &index in became {
            {
                let mut inner = self.inner.lock().await;
                let mut out = Output::default();
                inner.state.begin_loading(index, &mut out);
                self.finish(&mut inner, out);
            }
            let Some(partition) = self.replicas.partition(OFFSETS_TOPIC, index) else {
                continue;
            };
            let records = match internal_topic::read_partition(partition).await {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!("cannot load {OFFSETS_TOPIC}-{index}: {}", e.message);
                    continue;
                }
            };
            let mut inner = self.inner.lock().await;
            let now = now_ms();
            for (key, value) in &records {
                if let Err(e) = inner.state.replay(key, value.as_deref(), now) {
                    tracing::warn!("skipping unreadable record in {OFFSETS_TOPIC}-{index}: {e}");
                }
            }
            if inner.state.finish_loading(index) {
                tracing::info!(
                    "coordinating {OFFSETS_TOPIC}-{index} ({} record(s) loaded)",
                    records.len()
                );
            }
        }
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
            let written = self.finish(&mut inner, out);
            (rx, written)
        };
        let (receiver, written) = receiver;
        let mut shutdown = shutdown.clone();
        let reply = tokio::select! {
            reply = receiver => reply.unwrap_or(Reply::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            _ = shutdown.wait_for(|s| *s) => Reply::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        };
        // This call's writes (commits, group state) are acknowledged once replicated.
        for (partition, end) in written {
            if !internal_topic::wait_committed(&self.replicas, OFFSETS_TOPIC, partition, end).await
            {
                return reply.failed(ErrorCode::COORDINATOR_NOT_AVAILABLE);
            }
        }
        reply
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
        let code = inner
            .state
            .complete_txn(now_ms(), producer_id, partition, commit, &mut out);
        if code != ErrorCode::NONE {
            return Err(format!(
                "{OFFSETS_TOPIC}-{partition}: {} (not coordinated here)",
                code.name()
            ));
        }
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

    /// Appends `out`'s records and hands out its replies; returns, per partition written, the
    /// offset the high watermark must reach for the writes to be committed.
    fn finish(&self, inner: &mut Inner, out: Output) -> Vec<(i32, i64)> {
        let mut failed = None;
        let mut written: Vec<(i32, i64)> = Vec::new();
        for write in &out.writes {
            match self.append(write.partition, &write.records) {
                Ok(Some(end)) => match written.iter_mut().find(|(p, _)| *p == write.partition) {
                    Some(entry) => entry.1 = entry.1.max(end),
                    None => written.push((write.partition, end)),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("cannot write to {OFFSETS_TOPIC}-{}: {e}", write.partition);
                    failed = Some(ErrorCode::COORDINATOR_NOT_AVAILABLE);
                }
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
        written
    }

    fn append(
        &self,
        partition: i32,
        records: &[(Bytes, Option<Bytes>)],
    ) -> Result<Option<i64>, String> {
        let topic = self
            .replicas
            .topic(OFFSETS_TOPIC)
            .ok_or_else(|| format!("{OFFSETS_TOPIC} does not exist"))?;
        internal_topic::append(&topic, partition, records)
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

//! [`GroupService`], the group coordinator: the `sluice_group` state machine run by the
//! coordinator runtime (`super::runtime`), one shard per `__consumer_offsets` partition this
//! broker leads, and its timers (sessions and rebalance deadlines, offset retention).
//!
//! A request's handler runs on the shard of its group's partition; its reply goes out once
//! the records it wrote are committed. A reply for another caller (a JoinGroup completed by
//! the last member's join) reaches that caller when the write that produced it commits.

use std::sync::Arc;
use std::time::Duration;

use sluice_coordinator::{Ownership, Token, WriteOutput, OFFSETS_TOPIC};
use sluice_group::{GroupConfig, GroupCoordinator, Output, Reply};
use sluice_protocol::error::ErrorCode;
use tokio::sync::watch;

use super::now_ms;
use super::runtime::{CoordinatorRuntime, MinInsyncReplicas, WRITE_TIMEOUT};
use crate::replicas::ReplicaManager;

pub struct GroupService {
    runtime: CoordinatorRuntime<GroupCoordinator>,
    replicas: Arc<ReplicaManager>,
    num_partitions: i32,
}

impl GroupService {
    /// A coordinator with no partition loaded yet ([`GroupService::load_led`] at start,
    /// then [`GroupService::on_leadership`]), whose state machines run with `config`.
    /// `num_partitions` is the partition count of `__consumer_offsets` (the existing topic's,
    /// else `offsets.topic.num.partitions`).
    pub fn new(
        replicas: Arc<ReplicaManager>,
        mut config: GroupConfig,
        num_partitions: i32,
        shutdown: watch::Receiver<bool>,
    ) -> GroupService {
        config.num_partitions = num_partitions;
        let factory = Arc::new(move |index: i32, ownership: Ownership| {
            let mut c = GroupCoordinator::new_unowned(config.clone());
            if ownership == Ownership::Loading {
                // A fresh coordinator has nothing parked: the output is empty.
                c.begin_loading(index, &mut Output::default());
            }
            c
        });
        GroupService {
            runtime: CoordinatorRuntime::new(OFFSETS_TOPIC, factory, WRITE_TIMEOUT, shutdown),
            replicas,
            num_partitions,
        }
    }

    /// Loads every `__consumer_offsets` partition this broker leads now.
    pub async fn load_led(&self) {
        let led: Vec<i32> = self
            .replicas
            .topic(OFFSETS_TOPIC)
            .map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.is_leader())
                    .map(|p| p.index)
                    .collect()
            })
            .unwrap_or_default();
        self.on_leadership(&led, &[]).await;
    }

    /// Follows leadership of `__consumer_offsets` partitions: groups of `resigned` partitions
    /// are dropped (their waiting requests get NOT_COORDINATOR); `became` partitions are
    /// loaded from the log (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
    pub async fn on_leadership(&self, became: &[i32], resigned: &[i32]) {
        for &index in resigned {
            self.runtime.unload(index);
            tracing::info!("no longer coordinating {OFFSETS_TOPIC}-{index}");
        }
        for &index in became {
            let Some(partition) = self.replicas.partition(OFFSETS_TOPIC, index) else {
                continue;
            };
            match self
                .runtime
                .load(partition, self.min_insync_replicas())
                .await
            {
                Ok(records) => tracing::info!(
                    "coordinating {OFFSETS_TOPIC}-{index} ({records} record(s) loaded)"
                ),
                Err(e) => tracing::error!("cannot load {OFFSETS_TOPIC}-{index}: {e}"),
            }
        }
    }

    fn min_insync_replicas(&self) -> MinInsyncReplicas {
        let replicas = self.replicas.clone();
        Arc::new(move || {
            replicas
                .topic(OFFSETS_TOPIC)
                .map_or(1, |t| t.produce.min_insync_replicas)
        })
    }

    /// The `__consumer_offsets` partition of `group`.
    pub fn partition_for(&self, group: &str) -> i32 {
        sluice_group::partition_for(group, self.num_partitions)
    }

    /// Runs `f` on the shard of `group_id`'s partition and returns this caller's reply, once
    /// the records it wrote are committed (waiting for it if the state machine parked the
    /// request).
    pub async fn call<F>(&self, group_id: &str, f: F) -> Reply
    where
        F: FnOnce(&mut GroupCoordinator, i64, Token, &mut Output),
    {
        let index = self.partition_for(group_id);
        self.runtime
            .write(index, move |c, token| {
                let mut out = Output::default();
                f(c, now_ms(), token, &mut out);
                write_output(index, out)
            })
            .await
    }

    /// Reads the committed state of `group_id`'s shard.
    pub fn read<T>(&self, group_id: &str, f: impl FnOnce(&GroupCoordinator) -> T) -> T {
        self.runtime.read(self.partition_for(group_id), f)
    }

    /// Reads every shard's committed state.
    pub fn read_each(&self, mut f: impl FnMut(&GroupCoordinator)) {
        self.runtime.read_each(|_, c| f(c));
    }

    /// Ends `producer_id`'s transaction for the offsets kept in `__consumer_offsets` partition
    /// `partition` (the transaction coordinator's marker for that partition), once committed.
    pub async fn complete_txn(
        &self,
        producer_id: i64,
        partition: i32,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        let reply = self
            .runtime
            .write(partition, move |c, token| {
                let mut out = Output::default();
                let code = c.complete_txn(now_ms(), producer_id, partition, commit, &mut out);
                out.replies.push((token, Reply::Code(code)));
                write_output(partition, out)
            })
            .await;
        match reply {
            Reply::Code(ErrorCode::NONE) => Ok(()),
            Reply::Code(code) => Err(code),
            _ => Err(ErrorCode::UNKNOWN_SERVER_ERROR),
        }
    }

    /// Expires sessions and deadlines on every shard; called by a timer.
    fn tick(&self) {
        let now = now_ms();
        for index in self.runtime.partitions() {
            self.runtime.submit(index, move |c, _| {
                let mut out = Output::default();
                c.tick(now, &mut out);
                write_output(index, out)
            });
        }
    }

    /// Removes offsets past their retention on every shard; called by a timer.
    fn expire_offsets(&self) {
        let now = now_ms();
        for index in self.runtime.partitions() {
            self.runtime.submit(index, move |c, _| {
                let mut out = Output::default();
                let expired = c.expire_offsets(now, &mut out);
                if expired > 0 {
                    tracing::info!(
                        "removing {expired} expired committed offset(s) of {OFFSETS_TOPIC}-{index}"
                    );
                }
                write_output(index, out)
            });
        }
    }

    /// Runs the session timer (every 50 ms) and offset expiry until shutdown.
    pub async fn run_timers(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
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
                _ = tick.tick() => self.tick(),
                _ = expiry.tick() => self.expire_offsets(),
            }
        }
    }
}

/// A state machine call's output as a write of shard `index`. A shard owns only its own
/// partition, so it writes nowhere else; records for another partition would be a bug, and
/// are dropped loudly rather than written to the wrong place.
fn write_output(index: i32, out: Output) -> WriteOutput<Reply> {
    let mut records = Vec::new();
    for write in out.writes {
        if write.partition == index {
            records.extend(write.records);
        } else {
            tracing::error!(
                "the coordinator of {OFFSETS_TOPIC}-{index} wrote to partition {}; dropped",
                write.partition
            );
        }
    }
    WriteOutput {
        records,
        replies: out.replies,
    }
}

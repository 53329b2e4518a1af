//! The I/O around the transaction coordinator state machine (`sluice_txn`): the internal topic
//! `__transaction_state`, loading it at start, and carrying out the state machine's effects in
//! order: its records, then the COMMIT/ABORT markers on every partition of a transaction (for
//! `__consumer_offsets` partitions the group coordinator completes the transaction's offsets),
//! then the completing record.
//!
//! One async mutex serialises every call, so effects reach the logs in the order the state
//! machine produced them.

use std::sync::Arc;
use std::time::Duration;

use sluice_protocol::error::ErrorCode;
use sluice_txn::{Effect, Markers, TxnCoordinator, OFFSETS_TOPIC};
use tokio::sync::Mutex;

use crate::broker::Broker;
use crate::internal_topic::{self, now_ms};
use crate::replica_manager::{AdminError, ReplicaManager, Topic};

pub const TXN_STATE_TOPIC: &str = "__transaction_state";

/// The coordinator epoch on markers. A single node's coordinator never moves; with
/// replication it becomes the leader epoch of the `__transaction_state` partition.
const COORDINATOR_EPOCH: i32 = 0;

pub struct TxnService {
    inner: Mutex<TxnCoordinator>,
    topic: Arc<Topic>,
}

impl TxnService {
    /// Creates `__transaction_state` if missing, then replays it. Transactions a crash left
    /// between Prepare and Complete are finished by [`TxnService::recover`] once the broker
    /// runs.
    pub fn open(replicas: &ReplicaManager) -> Result<TxnService, AdminError> {
        let mut config = replicas.config().txn_config();
        let topic = internal_topic::ensure(
            replicas,
            TXN_STATE_TOPIC,
            config.num_partitions,
            replicas.config().txn_state_segment_bytes(),
        )?;
        config.num_partitions = topic.partitions.len() as i32;
        let mut state = TxnCoordinator::new(config);
        let loaded = internal_topic::replay(&topic, |partition, key, value| {
            if let Err(e) = state.replay(key, value) {
                tracing::warn!("skipping unreadable record in {TXN_STATE_TOPIC}-{partition}: {e}");
            }
        })?;
        if loaded > 0 {
            tracing::info!(
                "loaded {} transactional id(s) from {loaded} record(s) of {TXN_STATE_TOPIC}",
                state.len()
            );
        }
        Ok(TxnService {
            inner: Mutex::new(state),
            topic,
        })
    }

    /// Finishes transactions left in PrepareCommit/PrepareAbort.
    pub async fn recover(&self, broker: &Broker) {
        let mut state = self.inner.lock().await;
        let mut effects = Vec::new();
        state.recover(now_ms(), &mut effects);
        if let Err(code) = self.apply(broker, effects).await {
            tracing::error!("cannot finish prepared transactions: {}", code.name());
        }
    }

    /// Runs `f` against the state machine and carries out its effects; the effects' failure
    /// (a log that cannot be written) is the second value.
    pub async fn run<T>(
        &self,
        broker: &Broker,
        f: impl FnOnce(&mut TxnCoordinator, i64, &mut Vec<Effect>) -> T,
    ) -> (T, Result<(), ErrorCode>) {
        let mut state = self.inner.lock().await;
        let mut effects = Vec::new();
        let value = f(&mut state, now_ms(), &mut effects);
        let applied = self.apply(broker, effects).await;
        (value, applied)
    }

    pub async fn read<T>(&self, f: impl FnOnce(&TxnCoordinator) -> T) -> T {
        let state = self.inner.lock().await;
        f(&state)
    }

    async fn apply(&self, broker: &Broker, effects: Vec<Effect>) -> Result<(), ErrorCode> {
        for effect in effects {
            match effect {
                Effect::Write {
                    partition,
                    key,
                    value,
                } => internal_topic::append(&self.topic, partition, &[(key, value)]).map_err(
                    |e| {
                        tracing::error!("cannot write to {TXN_STATE_TOPIC}-{partition}: {e}");
                        ErrorCode::COORDINATOR_NOT_AVAILABLE
                    },
                )?,
                Effect::Markers(markers) => write_markers(broker, &markers).await?,
            }
        }
        Ok(())
    }
}

/// Writes a transaction's markers to each of its partitions (WriteTxnMarkers, done locally).
pub async fn write_markers(broker: &Broker, m: &Markers) -> Result<(), ErrorCode> {
    for (topic, index) in &m.partitions {
        if topic == OFFSETS_TOPIC {
            broker
                .groups
                .complete_txn(m.producer_id, *index, m.commit)
                .await
                .map_err(|_| ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
            continue;
        }
        let Some(partition) = broker.replicas.partition(topic, *index) else {
            // The topic went away: nothing to mark.
            tracing::warn!(
                "transaction {} names {topic}-{index}, which no longer exists",
                m.transactional_id
            );
            continue;
        };
        partition
            .append_control(m.producer_id, m.producer_epoch, m.commit, COORDINATOR_EPOCH)
            .map_err(|e| {
                tracing::error!("cannot write a transaction marker to {topic}-{index}: {e}");
                e.error_code()
            })?;
    }
    Ok(())
}

/// Aborts timed-out transactions every `interval_ms` until shutdown.
pub async fn run_timer(
    broker: Arc<Broker>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    interval_ms: u64,
) {
    broker.txns.recover(&broker).await;
    let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {
                let ((), applied) = broker.txns.run(&broker, |c, now, out| c.tick(now, out)).await;
                if let Err(code) = applied {
                    tracing::error!("cannot abort timed-out transactions: {}", code.name());
                }
            }
        }
    }
}

//! [`TxnService`], the transaction coordinator: the `sluice_txn` state machine run by the
//! coordinator runtime (`super::runtime`), one shard per `__transaction_state` partition this
//! broker leads; the completion of each transaction the state machine prepares (its markers
//! through [`MarkerWriter`], then the completing record); its timer.
//!
//! Ending a transaction takes two writes: the Prepare record, then (once it is committed and
//! the markers are on every partition of the transaction; for `__consumer_offsets` partitions
//! the group coordinator completes the transaction's offsets) the completing record. EndTxn is
//! answered after both. A transaction whose markers cannot be written stays prepared and is
//! completed later by the timer, or by the next coordinator at its load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_coordinator::{Ownership, Token, WriteOutput, TXN_STATE_TOPIC};
use sluice_protocol::error::ErrorCode;
use sluice_txn::{effect, Effect, Markers, TxnConfig, TxnCoordinator, TxnReply};
use tokio::sync::watch;

use super::marker_writer::MarkerWriter;
use super::now_ms;
use super::runtime::{CoordinatorRuntime, MinInsyncReplicas, WRITE_TIMEOUT};
use crate::replicas::ReplicaManager;

/// The coordinator epoch on a transaction's markers: the leader epoch of the
/// `__transaction_state` partition that holds the transactional id, as this broker knows it.
/// A partition leader refuses a marker older than the last one it wrote for the producer
/// (TRANSACTION_COORDINATOR_FENCED), so a coordinator that lost its partition without knowing
/// it cannot complete a transaction its successor has taken over.
fn coordinator_epoch(replicas: &ReplicaManager, state_partition: i32) -> i32 {
    replicas
        .partition(TXN_STATE_TOPIC, state_partition)
        .map_or(0, |p| p.leader_epoch().max(0))
}

/// What a request to the transaction coordinator came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnOutcome {
    /// The request's answer; for InitProducerId the producer id and epoch.
    pub result: Result<(i64, i16), ErrorCode>,
    /// Transactions the request prepared and this call then completed.
    pub completed: usize,
}

impl TxnOutcome {
    /// The answer of a request that returns no producer id.
    pub fn code(&self) -> ErrorCode {
        match self.result {
            Ok(_) => ErrorCode::NONE,
            Err(code) => code,
        }
    }
}

/// The outcome of one completion in progress, for those who wait on it.
type Completion = watch::Receiver<Option<Result<(), ErrorCode>>>;

pub struct TxnService {
    runtime: CoordinatorRuntime<TxnCoordinator>,
    replicas: Arc<ReplicaManager>,
    markers: MarkerWriter,
    num_partitions: i32,
    /// Completions (markers, then the completing record) in progress, by transactional id:
    /// a second request to complete the same transaction waits for the first.
    completing: Mutex<HashMap<String, Completion>>,
}

/// Removes a completion from the map when its driver ends, whatever way it ends.
struct CompletingGuard<'a> {
    map: &'a Mutex<HashMap<String, Completion>>,
    transactional_id: String,
}

impl Drop for CompletingGuard<'_> {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.transactional_id);
    }
}

impl TxnService {
    /// A coordinator with no partition loaded yet ([`TxnService::load_led`] at start, then
    /// [`TxnService::on_leadership`]), whose state machines run with `config` and whose
    /// transactions' markers `markers` writes. `num_partitions` is the partition count of
    /// `__transaction_state` (the existing topic's, else the configured one).
    pub fn new(
        replicas: Arc<ReplicaManager>,
        markers: MarkerWriter,
        mut config: TxnConfig,
        num_partitions: i32,
        shutdown: watch::Receiver<bool>,
    ) -> TxnService {
        config.num_partitions = num_partitions;
        let factory = Arc::new(move |index: i32, ownership: Ownership| {
            let mut c = TxnCoordinator::new_unowned(config.clone());
            if ownership == Ownership::Loading {
                c.begin_loading(index);
            }
            c
        });
        TxnService {
            runtime: CoordinatorRuntime::new(TXN_STATE_TOPIC, factory, WRITE_TIMEOUT, shutdown),
            replicas,
            markers,
            num_partitions,
            completing: Mutex::new(HashMap::new()),
        }
    }

    /// The `__transaction_state` partition of `transactional_id`.
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        sluice_coordinator::partition_for(transactional_id, self.num_partitions)
    }

    /// Loads every `__transaction_state` partition this broker leads now; their prepared
    /// transactions are completed by [`TxnService::run_timer`] once the broker runs.
    pub async fn load_led(&self) {
        let led: Vec<i32> = self
            .replicas
            .topic(TXN_STATE_TOPIC)
            .map(|t| {
                t.partitions
                    .iter()
                    .filter(|p| p.is_leader())
                    .map(|p| p.index)
                    .collect()
            })
            .unwrap_or_default();
        self.load(&led).await;
    }

    async fn load(&self, became: &[i32]) {
        for &index in became {
            let Some(partition) = self.replicas.partition(TXN_STATE_TOPIC, index) else {
                continue;
            };
            match self
                .runtime
                .load(partition, self.min_insync_replicas())
                .await
            {
                Ok(records) => tracing::info!(
                    "coordinating {TXN_STATE_TOPIC}-{index} ({records} record(s) loaded)"
                ),
                Err(e) => tracing::error!("cannot load {TXN_STATE_TOPIC}-{index}: {e}"),
            }
        }
    }

    /// Follows leadership of `__transaction_state` partitions: ids of `resigned` partitions are
    /// dropped; `became` partitions are loaded from the log, then their prepared transactions
    /// completed.
    pub async fn on_leadership(&self, became: &[i32], resigned: &[i32]) {
        for &index in resigned {
            self.runtime.unload(index);
            tracing::info!("no longer coordinating {TXN_STATE_TOPIC}-{index}");
        }
        self.load(became).await;
        if !became.is_empty() {
            self.recover().await;
        }
    }

    fn min_insync_replicas(&self) -> MinInsyncReplicas {
        let replicas = self.replicas.clone();
        Arc::new(move || {
            replicas
                .topic(TXN_STATE_TOPIC)
                .map_or(1, |t| t.produce.min_insync_replicas)
        })
    }

    /// Runs `f` as a write on the shard of `transactional_id`, then completes the
    /// transactions it prepared (markers, then the completing record). The answer is `f`'s
    /// once its records are committed: a failed completion leaves the transaction prepared for
    /// the timer to finish, as Kafka's answer to EndTxn does not wait for the markers.
    pub async fn run(
        &self,
        transactional_id: &str,
        f: impl FnOnce(&mut TxnCoordinator, i64, &mut Vec<Effect>) -> Result<(i64, i16), ErrorCode>,
    ) -> TxnOutcome {
        let index = self.partition_for(transactional_id);
        let reply = self
            .runtime
            .write(index, move |c, token| {
                let mut effects = Vec::new();
                let result = f(c, now_ms(), &mut effects);
                write_output(index, token, result, effects)
            })
            .await;
        let mut completed = 0;
        for markers in reply.markers {
            match self.complete(markers).await {
                Ok(()) => completed += 1,
                Err(code) => tracing::warn!(
                    "transaction of {transactional_id} stays prepared: {}",
                    code.name()
                ),
            }
        }
        TxnOutcome {
            result: reply.result,
            completed,
        }
    }

    /// Reads the committed state of `transactional_id`'s shard.
    pub fn read_id<T>(&self, transactional_id: &str, f: impl FnOnce(&TxnCoordinator) -> T) -> T {
        self.runtime.read(self.partition_for(transactional_id), f)
    }

    /// Reads every shard's committed state.
    pub fn read_each(&self, mut f: impl FnMut(&TxnCoordinator)) {
        self.runtime.read_each(|_, c| f(c));
    }

    /// Completes one prepared transaction: its markers, then its completing record. A
    /// completion of the same transaction already in progress is waited for instead.
    async fn complete(&self, markers: Markers) -> Result<(), ErrorCode> {
        let transactional_id = markers.transactional_id.clone();
        let (waiting, driving) = {
            let mut map = self.completing.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&transactional_id) {
                Some(rx) => (Some(rx.clone()), None),
                None => {
                    let (tx, rx) = watch::channel(None);
                    map.insert(transactional_id.clone(), rx);
                    (None, Some(tx))
                }
            }
        };
        if let Some(mut rx) = waiting {
            return match rx.wait_for(|r| r.is_some()).await {
                Ok(r) => r.unwrap_or(Err(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
                Err(_) => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
            };
        }
        let _guard = CompletingGuard {
            map: &self.completing,
            transactional_id,
        };
        let result = self.drive(&markers).await;
        if let Some(tx) = driving {
            let _ = tx.send(Some(result));
        }
        result
    }

    async fn drive(&self, markers: &Markers) -> Result<(), ErrorCode> {
        let index = self.partition_for(&markers.transactional_id);
        let still_prepared = self.runtime.read(index, |c| {
            c.describe(&markers.transactional_id).is_some_and(|m| {
                m.producer_id == markers.producer_id
                    && m.producer_epoch == markers.producer_epoch
                    && m.state.is_prepared(markers.commit)
            })
        });
        if !still_prepared {
            // Completed meanwhile (by another request or the timer), or fenced since.
            return Ok(());
        }
        self.markers
            .write_markers(markers, coordinator_epoch(&self.replicas, index))
            .await?;
        let m = markers.clone();
        let reply = self
            .runtime
            .write(index, move |c, token| {
                let mut effects = Vec::new();
                let result = c
                    .complete_transaction(now_ms(), &m, &mut effects)
                    .map(|()| (m.producer_id, m.producer_epoch));
                write_output(index, token, result, effects)
            })
            .await;
        reply.result.map(|_| ())
    }

    /// Completes the committed transactions left prepared on every shard (after a load, or a
    /// completion that failed).
    pub async fn recover(&self) {
        let mut effects = Vec::new();
        self.runtime.read_each(|_, c| c.recover(&mut effects));
        let (_, prepared) = effect::split(effects);
        let completions = prepared.into_iter().map(|m| async move {
            let id = m.transactional_id.clone();
            if let Err(code) = self.complete(m).await {
                tracing::warn!(
                    "prepared transaction of {id} not completed: {}",
                    code.name()
                );
            }
        });
        futures::future::join_all(completions).await;
    }

    /// Aborts the timed-out transactions of every shard and forgets expired transactional
    /// ids; then completes what is left prepared.
    async fn tick(&self) {
        let ticks = self
            .runtime
            .partitions()
            .into_iter()
            .map(|index| async move {
                let reply = self
                    .runtime
                    .write(index, move |c, token| {
                        let mut effects = Vec::new();
                        c.tick(now_ms(), &mut effects);
                        write_output(index, token, Ok((-1, -1)), effects)
                    })
                    .await;
                if let Err(code) = reply.result {
                    tracing::warn!(
                        "transaction timeouts of {TXN_STATE_TOPIC}-{index} not written: {}",
                        code.name()
                    );
                }
                for markers in reply.markers {
                    if let Err(code) = self.complete(markers).await {
                        tracing::warn!("timed-out transaction not completed: {}", code.name());
                    }
                }
            });
        futures::future::join_all(ticks).await;
        self.recover().await;
    }

    /// Writes one partition's marker on this broker, which leads it (the WriteTxnMarkers
    /// handler's work, see [`MarkerWriter::write_local_marker`]).
    pub async fn write_local_marker(
        &self,
        m: &Markers,
        topic: &str,
        index: i32,
        coordinator_epoch: i32,
    ) -> Result<(), ErrorCode> {
        self.markers
            .write_local_marker(m, topic, index, coordinator_epoch)
            .await
    }

    /// Aborts timed-out transactions every `interval_ms` until shutdown, and completes the
    /// transactions the partitions loaded at start left prepared.
    pub async fn run_timer(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, interval_ms: u64) {
        self.recover().await;
        let mut tick = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = tick.tick() => self.tick().await,
            }
        }
    }
}

/// A state machine call's effects as a write of shard `index`, answering `token` with
/// `result` and the markers to write once committed.
fn write_output(
    index: i32,
    token: Token,
    result: Result<(i64, i16), ErrorCode>,
    effects: Vec<Effect>,
) -> WriteOutput<TxnReply> {
    let (writes, markers) = effect::split(effects);
    let mut records = Vec::with_capacity(writes.len());
    for (partition, key, value) in writes {
        if partition == index {
            records.push((key, value));
        } else {
            tracing::error!(
                "the coordinator of {TXN_STATE_TOPIC}-{index} wrote to partition {partition}; dropped"
            );
        }
    }
    WriteOutput {
        records,
        replies: vec![(token, TxnReply { result, markers })],
    }
}

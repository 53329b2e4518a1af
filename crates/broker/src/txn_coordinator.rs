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

pub struct TxnService {
    inner: Mutex<TxnCoordinator>,
    replicas: Arc<ReplicaManager>,
}

impl TxnService {
    /// A coordinator for the `__transaction_state` partitions this broker leads (`topic`,
    /// created by the caller), each replayed; transactional ids of other partitions get
    /// NOT_COORDINATOR. Transactions a crash left between Prepare and Complete are finished by
    /// [`TxnService::recover`] once the broker runs.
    pub fn open(
        replicas: &Arc<ReplicaManager>,
        topic: Option<Arc<Topic>>,
    ) -> Result<TxnService, AdminError> {
        let mut config = replicas.config().txn_config();
        if let Some(topic) = &topic {
            config.num_partitions = topic.partitions.len() as i32;
        }
        let mut state = TxnCoordinator::new_unowned(config);
        let mut loaded = 0;
        let led = topic
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.is_leader());
        for partition in led {
            let index = partition.index;
            state.begin_loading(index);
            loaded += internal_topic::replay_partition(partition, |key, value| {
                if let Err(e) = state.replay(key, value) {
                    tracing::warn!("skipping unreadable record in {TXN_STATE_TOPIC}-{index}: {e}");
                }
            })?;
            state.finish_loading(index);
        }
        if loaded > 0 {
            tracing::info!(
                "loaded {} transactional id(s) from {loaded} record(s) of {TXN_STATE_TOPIC}",
                state.len()
            );
        }
        Ok(TxnService {
            inner: Mutex::new(state),
            replicas: replicas.clone(),
        })
    }

    /// Follows leadership of `__transaction_state` partitions: ids of `resigned` partitions are
    /// dropped; `became` partitions are loaded from the log, then their prepared transactions
    /// finished.
    pub async fn on_leadership(&self, broker: &Broker, became: &[i32], resigned: &[i32]) {
        for &index in resigned {
            self.inner.lock().await.unload(index);
            tracing::info!("no longer coordinating {TXN_STATE_TOPIC}-{index}");
        }
        for &index in became {
            self.inner.lock().await.begin_loading(index);
            let Some(partition) = self.replicas.partition(TXN_STATE_TOPIC, index) else {
                continue;
            };
            let records = match internal_topic::read_partition(partition).await {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!("cannot load {TXN_STATE_TOPIC}-{index}: {}", e.message);
                    continue;
                }
            };
            {
                let mut state = self.inner.lock().await;
                for (key, value) in &records {
                    if let Err(e) = state.replay(key, value.as_deref()) {
                        tracing::warn!(
                            "skipping unreadable record in {TXN_STATE_TOPIC}-{index}: {e}"
                        );
                    }
                }
                if state.finish_loading(index) {
                    tracing::info!(
                        "coordinating {TXN_STATE_TOPIC}-{index} ({} record(s) loaded)",
                        records.len()
                    );
                }
            }
        }
        if !became.is_empty() {
            self.recover(broker).await;
        }
    }

    /// Finishes transactions left in PrepareCommit/PrepareAbort.
    pub async fn recover(&self, broker: &Broker) {
        let mut state = self.inner.lock().await;
        let mut effects = Vec::new();
        state.recover(now_ms(), &mut effects);
        if let Err(code) = self.apply(broker, &state, effects).await {
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
        let applied = self.apply(broker, &state, effects).await;
        (value, applied)
    }

    pub async fn read<T>(&self, f: impl FnOnce(&TxnCoordinator) -> T) -> T {
        let state = self.inner.lock().await;
        f(&state)
    }

    async fn apply(
        &self,
        broker: &Broker,
        state: &TxnCoordinator,
        effects: Vec<Effect>,
    ) -> Result<(), ErrorCode> {
        for effect in effects {
            match effect {
                Effect::Write {
                    partition,
                    key,
                    value,
                } => {
                    let topic = self
                        .replicas
                        .topic(TXN_STATE_TOPIC)
                        .ok_or(ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
                    let end = internal_topic::append(&topic, partition, &[(key, value)]).map_err(
                        |e| {
                            tracing::error!("cannot write to {TXN_STATE_TOPIC}-{partition}: {e}");
                            ErrorCode::COORDINATOR_NOT_AVAILABLE
                        },
                    )?;
                    // A transaction's state change counts once every in-sync replica has it.
                    if let Some(end) = end {
                        if !internal_topic::wait_committed(
                            &self.replicas,
                            TXN_STATE_TOPIC,
                            partition,
                            end,
                        )
                        .await
                        {
                            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
                        }
                    }
                }
                Effect::Markers(markers) => {
                    let epoch = coordinator_epoch(
                        &self.replicas,
                        state.partition_for(&markers.transactional_id),
                    );
                    write_markers(broker, &markers, epoch).await?
                }
            }
        }
        Ok(())
    }
}

/// How long the coordinator keeps retrying a transaction's markers on a partition whose leader
/// is unknown or unreachable before it gives up (the transaction then stays prepared and is
/// finished when this coordinator next loads it).
const MARKER_RETRY_TIME: Duration = Duration::from_secs(30);

/// Writes a transaction's markers to each of its partitions: on this broker for partitions it
/// leads, with WriteTxnMarkers to the leader for the others (retried while leadership moves).
/// Partitions of deleted topics are skipped.
pub async fn write_markers(
    broker: &Broker,
    m: &Markers,
    coordinator_epoch: i32,
) -> Result<(), ErrorCode> {
    for (topic, index) in &m.partitions {
        let deadline = tokio::time::Instant::now() + MARKER_RETRY_TIME;
        loop {
            let image = broker.cluster.image();
            let Some(state) = image.topic(topic).and_then(|t| t.partition(*index)) else {
                tracing::warn!(
                    "transaction {} names {topic}-{index}, which no longer exists",
                    m.transactional_id
                );
                break;
            };
            let outcome = match state.leader {
                Some(leader) if leader == broker.node_id => {
                    write_local_marker(broker, m, topic, *index, coordinator_epoch).await
                }
                Some(leader) => {
                    send_marker(broker, m, topic, *index, leader, coordinator_epoch).await
                }
                None => Err(ErrorCode::LEADER_NOT_AVAILABLE),
            };
            match outcome {
                Ok(()) => break,
                Err(code) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(
                        "marker for {topic}-{index} not written yet ({}), retrying",
                        code.name()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(code) => {
                    tracing::error!(
                        "cannot write the marker of transaction {} to {topic}-{index}: {}",
                        m.transactional_id,
                        code.name()
                    );
                    return Err(code);
                }
            }
        }
    }
    Ok(())
}

/// Writes one partition's marker on this broker, which must lead it (the WriteTxnMarkers
/// handler's work): `__consumer_offsets` partitions complete the transaction's offsets.
pub async fn write_local_marker(
    broker: &Broker,
    m: &Markers,
    topic: &str,
    index: i32,
    coordinator_epoch: i32,
) -> Result<(), ErrorCode> {
    if topic == OFFSETS_TOPIC {
        return broker
            .groups
            .complete_txn(m.producer_id, index, m.commit)
            .await
            .map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    let partition = broker
        .replicas
        .topic(topic)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?
        .leader(index)?
        .clone();
    partition
        .append_marker(m.producer_id, m.producer_epoch, m.commit, coordinator_epoch)
        .map_err(|e| {
            tracing::error!("cannot write a transaction marker to {topic}-{index}: {e}");
            e.error_code()
        })?;
    Ok(())
}

/// Sends one partition's marker to its leader `leader` (WriteTxnMarkers v1).
async fn send_marker(
    broker: &Broker,
    m: &Markers,
    topic: &str,
    index: i32,
    leader: i32,
    coordinator_epoch: i32,
) -> Result<(), ErrorCode> {
    use kafka_protocol::messages::write_txn_markers_request::{
        WritableTxnMarker, WritableTxnMarkerTopic,
    };
    use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
    let image = broker.cluster.image();
    let target = image
        .broker(leader)
        .ok_or(ErrorCode::LEADER_NOT_AVAILABLE)?;
    let mut conn = crate::peer::PeerConnection::connect(
        &target.host,
        target.port,
        &format!("sluice-txn-coordinator-{}", broker.node_id),
        1 << 20,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| {
        tracing::debug!("{e}");
        ErrorCode::NETWORK_EXCEPTION
    })?;
    let request =
        WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
            .with_producer_id(ProducerId(m.producer_id))
            .with_producer_epoch(m.producer_epoch)
            .with_transaction_result(m.commit)
            .with_coordinator_epoch(coordinator_epoch)
            .with_topics(vec![WritableTxnMarkerTopic::default()
                .with_name(TopicName(kafka_protocol::protocol::StrBytes::from_string(
                    topic.to_string(),
                )))
                .with_partition_indexes(vec![index])])]);
    let response = conn
        .send(&request, 1, Duration::from_secs(10))
        .await
        .map_err(|e| {
            tracing::debug!("{e}");
            ErrorCode::NETWORK_EXCEPTION
        })?;
    let code = response
        .markers
        .first()
        .and_then(|r| r.topics.first())
        .and_then(|t| t.partitions.first())
        .map(|p| ErrorCode(p.error_code))
        .unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR);
    if code == ErrorCode::NONE {
        Ok(())
    } else {
        Err(code)
    }
}

/// Asks the broker coordinating `transactional_id` whether `topic`-`index` is in the
/// producer's ongoing transaction (AddPartitionsToTxn v4, verify_only), as Kafka's partition
/// leaders and group coordinators do (KIP-890) when another broker coordinates the transaction.
/// An unreachable or moving coordinator gives NOT_ENOUGH_REPLICAS (retriable for producers;
/// callers map it for other requests); a fenced epoch INVALID_PRODUCER_EPOCH; anything else
/// INVALID_TXN_STATE.
pub async fn verify_with_remote_coordinator(
    broker: &Broker,
    transactional_id: &str,
    producer_id: i64,
    producer_epoch: i16,
    topic: &str,
    index: i32,
) -> Result<(), ErrorCode> {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::{
        AddPartitionsToTxnRequest, ProducerId, TopicName, TransactionalId,
    };
    use kafka_protocol::protocol::StrBytes;
    let image = broker.cluster.image();
    let coordinator = image
        .topic(TXN_STATE_TOPIC)
        .and_then(|t| {
            let p = sluice_group::partition_for(transactional_id, t.partitions.len() as i32);
            t.partition(p).and_then(|s| s.leader)
        })
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    if coordinator == broker.node_id {
        return Err(ErrorCode::INVALID_TXN_STATE);
    }
    let target = image
        .broker(coordinator)
        .ok_or(ErrorCode::NOT_ENOUGH_REPLICAS)?;
    let mut conn = crate::peer::PeerConnection::connect(
        &target.host,
        target.port,
        &format!("sluice-txn-verify-{}", broker.node_id),
        1 << 20,
        Duration::from_secs(5),
    )
    .await
    .map_err(|_| ErrorCode::NOT_ENOUGH_REPLICAS)?;
    let request = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(StrBytes::from_string(
                transactional_id.to_string(),
            )))
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(producer_epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![index])]),
    ]);
    let response = conn
        .send(&request, 4, Duration::from_secs(10))
        .await
        .map_err(|_| ErrorCode::NOT_ENOUGH_REPLICAS)?;
    if response.error_code != 0 {
        return Err(ErrorCode::NOT_ENOUGH_REPLICAS);
    }
    let code = response
        .results_by_transaction
        .first()
        .and_then(|r| r.topic_results.first())
        .and_then(|t| t.results_by_partition.first())
        .map(|p| ErrorCode(p.partition_error_code))
        .unwrap_or(ErrorCode::INVALID_TXN_STATE);
    match code {
        ErrorCode::NONE => Ok(()),
        ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED => {
            Err(ErrorCode::INVALID_PRODUCER_EPOCH)
        }
        ErrorCode::NOT_COORDINATOR
        | ErrorCode::COORDINATOR_NOT_AVAILABLE
        | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => Err(ErrorCode::NOT_ENOUGH_REPLICAS),
        _ => Err(ErrorCode::INVALID_TXN_STATE),
    }
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

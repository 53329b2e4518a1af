//! The transaction coordinator's state machine.
//!
//! One entry per transactional id, in Kafka's states:
//! ```text
//! Empty --AddPartitions--> Ongoing --EndTxn(commit)--> PrepareCommit --markers--> CompleteCommit
//!                             |    --EndTxn(abort) / timeout / fence--> PrepareAbort --> CompleteAbort
//! CompleteCommit / CompleteAbort --AddPartitions--> Ongoing
//! ```
//! Every change is a record for `__transaction_state`. Ending a transaction takes two writes,
//! as in Kafka: the Prepare record (with an [`Effect::Markers`] for the caller), then, once that
//! record is committed and the caller has written the markers, the completing record
//! ([`TxnCoordinator::complete_transaction`]). Meanwhile the transaction is prepared and
//! requests for it answer CONCURRENT_TRANSACTIONS. After a crash or a move,
//! [`TxnCoordinator::recover`] names the prepared transactions whose markers are still due.
//!
//! The broker runs one instance per `__transaction_state` partition it leads, as a shard of
//! its coordinator runtime. The state lives in [`TimelineMap`]s: write handlers change the
//! latest state; describe, list and the KIP-890 verifications read committed state. Each
//! transactional id's entry (and its producer id's index entry) is copied into the timeline when
//! a write changes it, so a failed write is undone exactly.

use std::collections::BTreeSet;

use sluice_coordinator::{
    CoordinatorShard, Ownership, Partitions, RecordError, TimelineMap, Token, WriteId,
};
use sluice_protocol::error::ErrorCode;

use crate::effect::{Effect, Markers, TxnReply};
use crate::records::{self, TxnValue};
use crate::state::TxnState;

/// Coordinator settings, by Kafka's broker config names.
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions`
    pub num_partitions: i32,
    /// `transaction.max.timeout.ms`
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            num_partitions: 50,
            max_timeout_ms: 900_000,
            id_expiration_ms: 7 * 24 * 60 * 60 * 1000,
        }
    }
}

/// One transactional id's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMeta {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The epoch before the last bump by the coordinator (a fence), for KIP-360 recovery.
    pub last_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub start_ms: i64,
    pub last_update_ms: i64,
}

#[derive(Debug)]
pub struct TxnCoordinator {
    config: TxnConfig,
    /// Which partitions this coordinator serves (see [`sluice_coordinator::ownership`]).
    /// invariant: `txns` and `by_producer` hold no transactional id of a NotOwned partition.
    ownership: Partitions,
    txns: TimelineMap<String, TxnMeta>,
    /// producer id -> transactional id.
    /// invariant: in step with `txns`, in the latest and in the committed state.
    by_producer: TimelineMap<i64, String>,
}

const NO_PRODUCER_ID: i64 = -1;

impl TxnCoordinator {
    /// A coordinator that owns every partition of `__transaction_state`: a single node's.
    pub fn new(config: TxnConfig) -> TxnCoordinator {
        TxnCoordinator::with_ownership(config, Ownership::Owned)
    }

    /// A coordinator that owns no partition yet: each one it comes to lead goes through
    /// [`TxnCoordinator::begin_loading`], a replay of its records,
    /// [`TxnCoordinator::finish_loading`] and [`TxnCoordinator::recover`].
    pub fn new_unowned(config: TxnConfig) -> TxnCoordinator {
        TxnCoordinator::with_ownership(config, Ownership::NotOwned)
    }

    fn with_ownership(config: TxnConfig, state: Ownership) -> TxnCoordinator {
        TxnCoordinator {
            ownership: Partitions::new(config.num_partitions, state),
            config,
            txns: TimelineMap::new(),
            by_producer: TimelineMap::new(),
        }
    }

    /// The `__transaction_state` partition of `transactional_id`.
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        sluice_coordinator::partition_for(transactional_id, self.config.num_partitions)
    }

    fn store(&self, meta: &TxnMeta, out: &mut Vec<Effect>) {
        out.push(Effect::Write {
            partition: self.partition_for(&meta.transactional_id),
            key: records::encode_key(&meta.transactional_id),
            value: Some(records::encode_value(&TxnValue {
                producer_id: meta.producer_id,
                producer_epoch: meta.producer_epoch,
                timeout_ms: meta.timeout_ms,
                state: meta.state,
                partitions: meta.partitions.clone(),
                last_update_ms: meta.last_update_ms,
                start_ms: meta.start_ms,
            })),
        });
    }

    fn put(&mut self, meta: TxnMeta) {
        if let Some(old) = self.txns.get(&meta.transactional_id) {
            if old.producer_id != meta.producer_id {
                let old = old.producer_id;
                self.by_producer.remove(&old);
            }
        }
        self.by_producer
            .insert(meta.producer_id, meta.transactional_id.clone());
        self.txns.insert(meta.transactional_id.clone(), meta);
    }

    fn forget(&mut self, transactional_id: &str) -> Option<TxnMeta> {
        let meta = self.txns.remove(transactional_id)?;
        self.by_producer.remove(&meta.producer_id);
        Some(meta)
    }

    // -----------------------------------------------------------------------------------------
    // Partition ownership

    /// What this coordinator is for `partition` of `__transaction_state`.
    pub fn ownership(&self, partition: i32) -> Ownership {
        self.ownership.get(partition)
    }

    /// Whether this coordinator serves the transactional ids of `partition`.
    pub fn owns(&self, partition: i32) -> bool {
        self.ownership(partition) == Ownership::Owned
    }

    /// Whether some partition is still loading (Kafka's ListTransactions then answers
    /// COORDINATOR_LOAD_IN_PROGRESS).
    pub fn is_loading(&self) -> bool {
        self.ownership.any_loading()
    }

    /// The error a request naming `transactional_id` answers when its partition is not served
    /// here.
    fn coordinator_error(&self, transactional_id: &str) -> Option<ErrorCode> {
        self.ownership(self.partition_for(transactional_id)).error()
    }

    /// This node became the leader of `partition`. Whatever the coordinator held of it is
    /// dropped first (a fresh load); until [`TxnCoordinator::finish_loading`] its
    /// transactional ids answer COORDINATOR_LOAD_IN_PROGRESS. In between, the caller replays
    /// the partition's records with [`TxnCoordinator::replay`].
    pub fn begin_loading(&mut self, partition: i32) {
        self.drop_partition(partition);
        if !self.ownership.set(partition, Ownership::Loading) {
            tracing::warn!(
                partition,
                "cannot load a partition __transaction_state does not have"
            );
        }
    }

    /// The replay of `partition` is complete: its transactional ids are served from now on,
    /// and [`TxnCoordinator::recover`] names the transactions it left prepared. Changes
    /// nothing and returns false unless the partition is Loading (it may have been unloaded
    /// while its records were read).
    pub fn finish_loading(&mut self, partition: i32) -> bool {
        self.ownership(partition) == Ownership::Loading
            && self.ownership.set(partition, Ownership::Owned)
    }

    /// This node no longer leads `partition`: its transactional ids are forgotten. Nothing is
    /// written: the records stay for the next leader to load (which completes what was left
    /// prepared).
    pub fn unload(&mut self, partition: i32) {
        self.drop_partition(partition);
        self.ownership.set(partition, Ownership::NotOwned);
    }

    fn drop_partition(&mut self, partition: i32) {
        let num_partitions = self.config.num_partitions;
        let mine = |id: &str| sluice_coordinator::partition_for(id, num_partitions) == partition;
        let producers: BTreeSet<i64> = self
            .txns
            .iter()
            .filter(|(id, _)| mine(id))
            .map(|(_, m)| m.producer_id)
            .collect();
        self.txns.discard(|id| mine(id));
        self.by_producer.discard(|pid| producers.contains(pid));
    }

    // -----------------------------------------------------------------------------------------
    // Loading

    /// Applies one record of `__transaction_state` (in log order). Records of a partition this
    /// coordinator does not own (neither Owned nor Loading) are skipped: nothing could reach
    /// the state they would build.
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), RecordError> {
        let id = records::decode_key(bytes::Bytes::copy_from_slice(key))?;
        if self.ownership(self.partition_for(&id)) == Ownership::NotOwned {
            return Ok(());
        }
        match value {
            None => {
                self.forget(&id);
            }
            Some(v) => {
                let v = records::decode_value(bytes::Bytes::copy_from_slice(v))?;
                // The epoch before the last bump: records do not carry it, the sequence does.
                let last_epoch = match self.txns.get(&id) {
                    Some(m) if m.producer_epoch != v.producer_epoch => m.producer_epoch,
                    Some(m) => m.last_epoch,
                    None => -1,
                };
                self.put(TxnMeta {
                    transactional_id: id,
                    producer_id: v.producer_id,
                    producer_epoch: v.producer_epoch,
                    last_epoch,
                    timeout_ms: v.timeout_ms,
                    state: v.state,
                    partitions: v.partitions,
                    start_ms: v.start_ms,
                    last_update_ms: v.last_update_ms,
                });
            }
        }
        Ok(())
    }

    /// The committed transactions of Owned partitions caught between Prepare and Complete
    /// (after a load, or a completion that failed): their markers, for the caller to write
    /// and then complete each with [`TxnCoordinator::complete_transaction`].
    pub fn recover(&self, out: &mut Vec<Effect>) {
        for (id, m) in self.txns.iter_committed() {
            if !self.owns(self.partition_for(id)) {
                continue;
            }
            if let Some(markers) = markers_of(m) {
                out.push(Effect::Markers(markers));
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // InitProducerId

    /// InitProducerId for a transactional id. `expected` is the (producer id, epoch) a client
    /// that already had one sends (KIP-360); `alloc` hands out a fresh producer id.
    ///
    /// An ongoing transaction belongs to an older incarnation of the producer: it is aborted
    /// with a bumped epoch (which fences the old producer) and the answer is
    /// CONCURRENT_TRANSACTIONS, as in Kafka; once the abort completes, the request is retried.
    pub fn init_producer_id(
        &mut self,
        now: i64,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        alloc: &mut dyn FnMut() -> Result<i64, String>,
        out: &mut Vec<Effect>,
    ) -> Result<(i64, i16), ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
        }
        if let Some(code) = self.coordinator_error(transactional_id) {
            return Err(code);
        }
        let Some(meta) = self.txns.get(transactional_id).cloned() else {
            let id = alloc().map_err(|e| {
                tracing::warn!("cannot allocate a producer id: {e}");
                ErrorCode::COORDINATOR_NOT_AVAILABLE
            })?;
            let meta = TxnMeta {
                transactional_id: transactional_id.to_string(),
                producer_id: id,
                producer_epoch: 0,
                last_epoch: -1,
                timeout_ms,
                state: TxnState::Empty,
                partitions: BTreeSet::new(),
                start_ms: -1,
                last_update_ms: now,
            };
            self.store(&meta, out);
            self.put(meta);
            return Ok((id, 0));
        };
        if let Some((pid, epoch)) = expected {
            if pid != NO_PRODUCER_ID
                && !(pid == meta.producer_id
                    && (epoch == meta.producer_epoch || epoch == meta.last_epoch))
            {
                return Err(ErrorCode::PRODUCER_FENCED);
            }
        }
        match meta.state {
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Ongoing => {
                self.abort(transactional_id, now, true, out);
                return Err(ErrorCode::CONCURRENT_TRANSACTIONS);
            }
            _ => {}
        }
        let (producer_id, epoch) = if meta.producer_epoch >= i16::MAX - 1 {
            // Epochs exhausted: a new producer id starts again at 0.
            let id = alloc().map_err(|_| ErrorCode::COORDINATOR_NOT_AVAILABLE)?;
            (id, 0)
        } else {
            (meta.producer_id, meta.producer_epoch + 1)
        };
        let new = TxnMeta {
            producer_id,
            producer_epoch: epoch,
            last_epoch: meta.producer_epoch,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now,
            ..meta
        };
        self.store(&new, out);
        self.put(new);
        Ok((producer_id, epoch))
    }

    /// Checks the producer's identity against the transactional id's, as `lookup` (latest or
    /// committed state) has it.
    fn check_in<'a>(
        &self,
        lookup: impl FnOnce(&str) -> Option<&'a TxnMeta>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<&'a TxnMeta, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if let Some(code) = self.coordinator_error(transactional_id) {
            return Err(code);
        }
        let meta = lookup(transactional_id).ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        if meta.producer_id != producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if meta.producer_epoch != epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(meta)
    }

    fn check(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<TxnMeta, ErrorCode> {
        self.check_in(|id| self.txns.get(id), transactional_id, producer_id, epoch)
            .cloned()
    }

    // -----------------------------------------------------------------------------------------
    // AddPartitionsToTxn / AddOffsetsToTxn

    pub fn add_partitions(
        &mut self,
        now: i64,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        out: &mut Vec<Effect>,
    ) -> Result<(), ErrorCode> {
        let mut meta = self.check(transactional_id, producer_id, epoch)?;
        if matches!(
            meta.state,
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence
        ) {
            return Err(ErrorCode::CONCURRENT_TRANSACTIONS);
        }
        if meta.state == TxnState::Ongoing && partitions.iter().all(|p| meta.partitions.contains(p))
        {
            return Ok(());
        }
        if meta.state != TxnState::Ongoing {
            meta.partitions.clear();
            meta.start_ms = now;
        }
        meta.state = TxnState::Ongoing;
        meta.partitions.extend(partitions.iter().cloned());
        meta.last_update_ms = now;
        self.store(&meta, out);
        self.put(meta);
        Ok(())
    }

    /// KIP-890, from committed state: whether a transactional batch of `producer_id` may go to
    /// this partition (it was added to the producer's ongoing transaction, at this epoch).
    pub fn verify_partition(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ErrorCode> {
        let Some(meta) = self
            .by_producer
            .get_committed(&producer_id)
            .and_then(|id| self.txns.get_committed(id))
        else {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        };
        if let Some(code) = self.coordinator_error(&meta.transactional_id) {
            return Err(code);
        }
        if epoch < meta.producer_epoch {
            return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
        }
        if meta.state != TxnState::Ongoing
            || !meta.partitions.contains(&(topic.to_string(), partition))
        {
            return Err(ErrorCode::INVALID_TXN_STATE);
        }
        Ok(())
    }

    /// Verify-only AddPartitionsToTxn (v4+, used by brokers), from committed state: each
    /// partition's error.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Vec<ErrorCode> {
        let lookup = |id: &str| self.txns.get_committed(id);
        match self.check_in(lookup, transactional_id, producer_id, epoch) {
            Err(code) => vec![code; partitions.len()],
            Ok(meta) => partitions
                .iter()
                .map(|p| {
                    if meta.state == TxnState::Ongoing && meta.partitions.contains(p) {
                        ErrorCode::NONE
                    } else {
                        ErrorCode::INVALID_TXN_STATE
                    }
                })
                .collect(),
        }
    }

    // -----------------------------------------------------------------------------------------
    // EndTxn

    /// EndTxn: the transaction is prepared (a Prepare record and its [`Effect::Markers`]);
    /// [`TxnCoordinator::complete_transaction`] ends it once the markers are written.
    pub fn end_txn(
        &mut self,
        now: i64,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        out: &mut Vec<Effect>,
    ) -> Result<(), ErrorCode> {
        let meta = self.check(transactional_id, producer_id, epoch)?;
        match (meta.state, commit) {
            (TxnState::Ongoing, _) => {}
            // A retry of an EndTxn that already completed.
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => return Ok(()),
            (TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence, _) => {
                return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            _ => return Err(ErrorCode::INVALID_TXN_STATE),
        }
        if commit {
            let mut meta = meta;
            meta.state = TxnState::PrepareCommit;
            meta.last_update_ms = now;
            self.prepare(meta, out);
        } else {
            self.abort(transactional_id, now, false, out);
        }
        Ok(())
    }

    /// Aborts the ongoing transaction; `fence` bumps the epoch first so the producer that
    /// started it can no longer write (timeout, new incarnation).
    fn abort(&mut self, transactional_id: &str, now: i64, fence: bool, out: &mut Vec<Effect>) {
        let Some(mut meta) = self.txns.get(transactional_id).cloned() else {
            return;
        };
        if fence && meta.producer_epoch < i16::MAX - 1 {
            meta.last_epoch = meta.producer_epoch;
            meta.producer_epoch += 1;
        }
        meta.state = TxnState::PrepareAbort;
        meta.last_update_ms = now;
        self.prepare(meta, out);
    }

    /// Writes a Prepare state and asks for its markers.
    fn prepare(&mut self, meta: TxnMeta, out: &mut Vec<Effect>) {
        self.store(&meta, out);
        if let Some(markers) = markers_of(&meta) {
            out.push(Effect::Markers(markers));
        }
        self.put(meta);
    }

    /// The markers of a prepared transaction are written: it completes (CompleteCommit or
    /// CompleteAbort, its partitions cleared). A transaction no longer prepared as `markers`
    /// says (completed already, or fenced since) is left alone: Ok when it completed with
    /// the same outcome, INVALID_TXN_STATE otherwise.
    pub fn complete_transaction(
        &mut self,
        now: i64,
        markers: &Markers,
        out: &mut Vec<Effect>,
    ) -> Result<(), ErrorCode> {
        if let Some(code) = self.coordinator_error(&markers.transactional_id) {
            return Err(code);
        }
        let Some(meta) = self.txns.get(&markers.transactional_id) else {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        };
        let same_producer = meta.producer_id == markers.producer_id
            && meta.producer_epoch == markers.producer_epoch;
        let (prepared, completed) = if markers.commit {
            (TxnState::PrepareCommit, TxnState::CompleteCommit)
        } else {
            (TxnState::PrepareAbort, TxnState::CompleteAbort)
        };
        if !same_producer || meta.state != prepared {
            return if same_producer && meta.state == completed {
                Ok(())
            } else {
                Err(ErrorCode::INVALID_TXN_STATE)
            };
        }
        let mut meta = meta.clone();
        meta.state = completed;
        meta.partitions.clear();
        meta.last_update_ms = now;
        self.store(&meta, out);
        self.put(meta);
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Time

    /// Aborts transactions open longer than their timeout (fencing their producer), and
    /// forgets transactional ids idle past `transactional.id.expiration.ms`.
    /// Only transactional ids of Owned partitions are touched.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Effect>) {
        let timed_out: Vec<String> = self
            .txns
            .values()
            .filter(|m| self.owns(self.partition_for(&m.transactional_id)))
            .filter(|m| m.state == TxnState::Ongoing && m.start_ms + i64::from(m.timeout_ms) <= now)
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in timed_out {
            tracing::info!(transactional_id = %id, "aborting a transaction that timed out");
            self.abort(&id, now, true, out);
        }
        let expired: Vec<String> = self
            .txns
            .values()
            .filter(|m| self.owns(self.partition_for(&m.transactional_id)))
            .filter(|m| {
                matches!(
                    m.state,
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                ) && m.last_update_ms + self.config.id_expiration_ms <= now
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in expired {
            if self.forget(&id).is_some() {
                out.push(Effect::Write {
                    partition: self.partition_for(&id),
                    key: records::encode_key(&id),
                    value: None,
                });
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Describe, list (committed state)

    /// A transactional id's committed state, if its partition is Owned here.
    pub fn describe(&self, transactional_id: &str) -> Option<&TxnMeta> {
        self.describe_transaction(transactional_id).ok()
    }

    /// DescribeTransactions for one id: its committed state, or the error Kafka answers for it
    /// (INVALID_REQUEST for the empty id, NOT_COORDINATOR / COORDINATOR_LOAD_IN_PROGRESS for
    /// an id of a partition not Owned, TRANSACTIONAL_ID_NOT_FOUND).
    pub fn describe_transaction(&self, transactional_id: &str) -> Result<&TxnMeta, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if let Some(code) = self.coordinator_error(transactional_id) {
            return Err(code);
        }
        self.txns
            .get_committed(transactional_id)
            .ok_or(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    }

    /// Committed transactions of Owned partitions matching every filter given (an empty
    /// filter matches all); `min_duration_ms` keeps transactions open at least that long (-1:
    /// no filter). While [`TxnCoordinator::is_loading`], Kafka answers
    /// COORDINATOR_LOAD_IN_PROGRESS.
    pub fn list(
        &self,
        now: i64,
        states: &[TxnState],
        producer_ids: &[i64],
        min_duration_ms: i64,
    ) -> Vec<&TxnMeta> {
        self.txns
            .iter_committed()
            .map(|(_, m)| m)
            .filter(|m| self.owns(self.partition_for(&m.transactional_id)))
            .filter(|m| states.is_empty() || states.contains(&m.state))
            .filter(|m| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|m| {
                min_duration_ms < 0
                    || (m.state == TxnState::Ongoing && now - m.start_ms >= min_duration_ms)
            })
            .collect()
    }

    /// Transactional ids known, committed or not.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }
}

/// The markers a prepared transaction needs (`None` when it is not prepared).
fn markers_of(meta: &TxnMeta) -> Option<Markers> {
    let commit = match meta.state {
        TxnState::PrepareCommit => true,
        TxnState::PrepareAbort => false,
        _ => return None,
    };
    Some(Markers {
        transactional_id: meta.transactional_id.clone(),
        producer_id: meta.producer_id,
        producer_epoch: meta.producer_epoch,
        commit,
        partitions: meta.partitions.iter().cloned().collect(),
    })
}

/// One `__transaction_state` partition's shard of the broker's coordinator runtime.
impl CoordinatorShard for TxnCoordinator {
    type Reply = TxnReply;

    fn error_reply(code: ErrorCode) -> TxnReply {
        TxnReply::error(code)
    }

    fn fail_reply(_reply: TxnReply, code: ErrorCode) -> TxnReply {
        TxnReply::error(code)
    }

    fn replay(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        _now_ms: i64,
    ) -> Result<(), RecordError> {
        TxnCoordinator::replay(self, key, value)
    }

    fn finish_loading(&mut self, partition: i32) {
        TxnCoordinator::finish_loading(self, partition);
    }

    fn begin_write(&mut self, id: WriteId) {
        self.txns.begin_write(id);
        self.by_producer.begin_write(id);
    }

    fn commit_through(&mut self, id: WriteId) {
        self.txns.commit_through(id);
        self.by_producer.commit_through(id);
    }

    fn revert_from(&mut self, id: WriteId) {
        self.txns.revert_from(id);
        self.by_producer.revert_from(id);
    }

    fn unload(&mut self, partition: i32) -> Vec<(Token, TxnReply)> {
        TxnCoordinator::unload(self, partition);
        Vec::new()
    }
}

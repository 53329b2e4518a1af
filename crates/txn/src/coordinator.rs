//! The transaction coordinator's state machine.
//!
//! One entry per transactional id, in Kafka's states:
//! ```text
//! Empty --AddPartitions--> Ongoing --EndTxn(commit)--> PrepareCommit --markers--> CompleteCommit
//!                             |    --EndTxn(abort) / timeout / fence--> PrepareAbort --> CompleteAbort
//! CompleteCommit / CompleteAbort --AddPartitions--> Ongoing
//! ```
//! Every change is a record for `__transaction_state`; the caller carries out the [`Effect`]s
//! in order: write a record, then write the markers, then write the completing record. After a
//! crash, [`TxnCoordinator::recover`] finishes transactions left in a Prepare state.

use std::collections::{BTreeSet, HashMap};

use sluice_protocol::error::ErrorCode;

use crate::ownership::{Ownership, Partitions};
use crate::records::{self, TxnValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub fn code(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_code(code: i8) -> Option<TxnState> {
        Some(match code {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// Kafka's names, as DescribeTransactions and ListTransactions report them.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];
}

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

/// COMMIT or ABORT markers to write to every partition of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub partitions: Vec<(String, i32)>,
}

/// One step for the caller, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Append (key, value; `None` = tombstone) to a `__transaction_state` partition.
    Write {
        partition: i32,
        key: bytes::Bytes,
        value: Option<bytes::Bytes>,
    },
    Markers(Markers),
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

/// The topic that holds consumer offsets: its partitions in a transaction are completed by the
/// group coordinator, not by control batches.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

#[derive(Debug)]
pub struct TxnCoordinator {
    config: TxnConfig,
    /// Which partitions this coordinator serves (see [`crate::ownership`]).
    /// invariant: `txns` and `by_producer` hold no transactional id of a NotOwned partition.
    ownership: Partitions,
    txns: HashMap<String, TxnMeta>,
    /// producer id -> transactional id.
    by_producer: HashMap<i64, String>,
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
            txns: HashMap::new(),
            by_producer: HashMap::new(),
        }
    }

    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        // Kafka: abs(transactionalId.hashCode) % partitions (Java String hash).
        let mut h: i32 = 0;
        for unit in transactional_id.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
        }
        let h = if h == i32::MIN { 0 } else { h.abs() };
        h % self.config.num_partitions.max(1)
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
        self.by_producer
            .insert(meta.producer_id, meta.transactional_id.clone());
        self.txns.insert(meta.transactional_id.clone(), meta);
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
    /// and [`TxnCoordinator::recover`] finishes the transactions it left prepared. Changes
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
        let ids: Vec<String> = self
            .txns
            .keys()
            .filter(|id| self.partition_for(id) == partition)
            .cloned()
            .collect();
        for id in ids {
            if let Some(m) = self.txns.remove(&id) {
                self.by_producer.remove(&m.producer_id);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Loading

    /// Applies one record of `__transaction_state` (in log order). Records of a partition this
    /// coordinator does not own (neither Owned nor Loading) are skipped: nothing could reach
    /// the state they would build.
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), records::RecordError> {
        let id = records::decode_key(bytes::Bytes::copy_from_slice(key))?;
        if self.ownership(self.partition_for(&id)) == Ownership::NotOwned {
            return Ok(());
        }
        match value {
            None => {
                if let Some(m) = self.txns.remove(&id) {
                    self.by_producer.remove(&m.producer_id);
                }
            }
            Some(v) => {
                let v = records::decode_value(bytes::Bytes::copy_from_slice(v))?;
                if let Some(old) = self.txns.get(&id) {
                    if old.producer_id != v.producer_id {
                        self.by_producer.remove(&old.producer_id);
                    }
                }
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

    /// After loading: transactions of Owned partitions caught between Prepare and Complete get
    /// their markers and their completing record.
    pub fn recover(&mut self, now: i64, out: &mut Vec<Effect>) {
        let pending: Vec<String> = self
            .txns
            .values()
            .filter(|m| matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort))
            .filter(|m| self.owns(self.partition_for(&m.transactional_id)))
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in pending {
            self.complete(&id, now, out);
        }
    }

    // -----------------------------------------------------------------------------------------
    // InitProducerId

    /// InitProducerId for a transactional id. `expected` is the (producer id, epoch) a client
    /// that already had one sends (KIP-360); `alloc` hands out a fresh producer id.
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
                // A new incarnation of the producer: the old one's transaction is aborted with
                // a bumped epoch, which fences the old producer.
                self.abort(transactional_id, now, true, out);
            }
            _ => {}
        }
        let Some(meta) = self.txns.get(transactional_id).cloned() else {
            return Err(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        };
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
            ..meta.clone()
        };
        if new.producer_id != meta.producer_id {
            self.by_producer.remove(&meta.producer_id);
        }
        self.store(&new, out);
        self.put(new);
        Ok((producer_id, epoch))
    }

    /// Checks the producer's identity against the transactional id's.
    fn check(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<&TxnMeta, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::INVALID_REQUEST);
        }
        if let Some(code) = self.coordinator_error(transactional_id) {
            return Err(code);
        }
        let meta = self
            .txns
            .get(transactional_id)
            .ok_or(ErrorCode::INVALID_PRODUCER_ID_MAPPING)?;
        if meta.producer_id != producer_id {
            return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
        }
        if meta.producer_epoch != epoch {
            return Err(ErrorCode::PRODUCER_FENCED);
        }
        Ok(meta)
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
        let meta = self.check(transactional_id, producer_id, epoch)?;
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
        let mut meta = meta.clone();
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

    /// KIP-890: whether a transactional batch of `producer_id` may go to this partition (it was
    /// added to the producer's ongoing transaction, at this epoch).
    pub fn verify_partition(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ErrorCode> {
        let Some(meta) = self
            .by_producer
            .get(&producer_id)
            .and_then(|id| self.txns.get(id))
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

    /// Verify-only AddPartitionsToTxn (v4+, used by brokers): each partition's error.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Vec<ErrorCode> {
        match self.check(transactional_id, producer_id, epoch) {
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
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            (TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence, _) => {
                return Err(ErrorCode::CONCURRENT_TRANSACTIONS)
            }
            _ => return Err(ErrorCode::INVALID_TXN_STATE),
        }
        if commit {
            let mut meta = meta.clone();
            meta.state = TxnState::PrepareCommit;
            meta.last_update_ms = now;
            self.store(&meta, out);
            self.put(meta);
            self.complete(transactional_id, now, out);
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
        self.store(&meta, out);
        self.put(meta);
        self.complete(transactional_id, now, out);
    }

    /// Writes the markers of a prepared transaction and its completing record.
    fn complete(&mut self, transactional_id: &str, now: i64, out: &mut Vec<Effect>) {
        let Some(mut meta) = self.txns.get(transactional_id).cloned() else {
            return;
        };
        let commit = match meta.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return,
        };
        if !meta.partitions.is_empty() {
            out.push(Effect::Markers(Markers {
                transactional_id: transactional_id.to_string(),
                producer_id: meta.producer_id,
                producer_epoch: meta.producer_epoch,
                commit,
                partitions: meta.partitions.iter().cloned().collect(),
            }));
        }
        meta.state = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        meta.partitions.clear();
        meta.last_update_ms = now;
        self.store(&meta, out);
        self.put(meta);
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
            if let Some(m) = self.txns.remove(&id) {
                self.by_producer.remove(&m.producer_id);
                out.push(Effect::Write {
                    partition: self.partition_for(&id),
                    key: records::encode_key(&id),
                    value: None,
                });
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Describe, list

    /// A transactional id's state, if its partition is Owned here.
    pub fn describe(&self, transactional_id: &str) -> Option<&TxnMeta> {
        self.describe_transaction(transactional_id).ok()
    }

    /// DescribeTransactions for one id: its state, or the error Kafka answers for it
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
            .get(transactional_id)
            .ok_or(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    }

    /// Transactions of Owned partitions matching every filter given (an empty filter matches
    /// all); `min_duration_ms` keeps transactions open at least that long (-1: no filter).
    /// While [`TxnCoordinator::is_loading`], Kafka answers COORDINATOR_LOAD_IN_PROGRESS.
    pub fn list(
        &self,
        now: i64,
        states: &[TxnState],
        producer_ids: &[i64],
        min_duration_ms: i64,
    ) -> Vec<&TxnMeta> {
        let mut out: Vec<&TxnMeta> = self
            .txns
            .values()
            .filter(|m| self.owns(self.partition_for(&m.transactional_id)))
            .filter(|m| states.is_empty() || states.contains(&m.state))
            .filter(|m| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|m| {
                min_duration_ms < 0
                    || (m.state == TxnState::Ongoing && now - m.start_ms >= min_duration_ms)
            })
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc() -> impl FnMut() -> Result<i64, String> {
        let mut next = 1000;
        move || {
            next += 1;
            Ok(next)
        }
    }

    fn markers(out: &[Effect]) -> Vec<Markers> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Markers(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn commit_writes_markers_to_every_partition_then_completes() {
        let mut c = TxnCoordinator::new(TxnConfig::default());
        let mut a = alloc();
        let mut out = Vec::new();
        let (pid, epoch) = c
            .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
            .unwrap();
        assert_eq!(epoch, 0);
        let parts = vec![("a".to_string(), 0), ("b".to_string(), 1)];
        c.add_partitions(1, "t", pid, epoch, &parts, &mut out)
            .unwrap();
        assert_eq!(c.describe("t").unwrap().state, TxnState::Ongoing);
        assert_eq!(c.verify_partition(pid, epoch, "a", 0), Ok(()));
        assert_eq!(
            c.verify_partition(pid, epoch, "a", 1),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
        out.clear();
        c.end_txn(2, "t", pid, epoch, true, &mut out).unwrap();
        let m = markers(&out);
        assert_eq!(m.len(), 1);
        assert!(m[0].commit);
        assert_eq!(m[0].partitions, parts);
        // Prepare record, markers, complete record, in that order.
        assert!(matches!(out[0], Effect::Write { .. }));
        assert!(matches!(out[1], Effect::Markers(_)));
        assert!(matches!(out[2], Effect::Write { .. }));
        assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteCommit);
        // Retried EndTxn is fine; the opposite outcome is not.
        assert_eq!(c.end_txn(3, "t", pid, epoch, true, &mut out), Ok(()));
        assert_eq!(
            c.end_txn(3, "t", pid, epoch, false, &mut out),
            Err(ErrorCode::INVALID_TXN_STATE)
        );
    }

    #[test]
    fn bad_requests_get_kafka_codes() {
        let mut c = TxnCoordinator::new(TxnConfig::default());
        let mut a = alloc();
        let mut out = Vec::new();
        assert_eq!(
            c.init_producer_id(0, "t", 0, None, &mut a, &mut out),
            Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
        );
        assert_eq!(
            c.init_producer_id(0, "t", 1_000_000, None, &mut a, &mut out),
            Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
        );
        let (pid, epoch) = c
            .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
            .unwrap();
        let parts = vec![("a".to_string(), 0)];
        assert_eq!(
            c.end_txn(1, "t", pid, epoch, true, &mut out),
            Err(ErrorCode::INVALID_TXN_STATE),
            "EndTxn without a transaction"
        );
        assert_eq!(
            c.add_partitions(1, "t", pid + 1, epoch, &parts, &mut out),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        );
        assert_eq!(
            c.add_partitions(1, "nope", pid, epoch, &parts, &mut out),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
        );
        assert_eq!(
            c.add_partitions(1, "t", pid, epoch + 1, &parts, &mut out),
            Err(ErrorCode::PRODUCER_FENCED)
        );
    }

    #[test]
    fn a_new_incarnation_fences_the_old_and_aborts_its_transaction() {
        let mut c = TxnCoordinator::new(TxnConfig::default());
        let mut a = alloc();
        let mut out = Vec::new();
        let (pid, e0) = c
            .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
            .unwrap();
        c.add_partitions(1, "t", pid, e0, &[("a".into(), 0)], &mut out)
            .unwrap();
        out.clear();
        let (pid2, e2) = c
            .init_producer_id(2, "t", 60_000, None, &mut a, &mut out)
            .unwrap();
        assert_eq!(pid2, pid);
        assert_eq!(e2, e0 + 2, "one bump to fence, one for the new producer");
        let m = markers(&out);
        assert_eq!(m.len(), 1);
        assert!(!m[0].commit);
        assert_eq!(m[0].producer_epoch, e0 + 1);
        assert_eq!(
            c.end_txn(3, "t", pid, e0, true, &mut out),
            Err(ErrorCode::PRODUCER_FENCED)
        );
    }

    #[test]
    fn timeout_aborts_and_replay_rebuilds() {
        let mut c = TxnCoordinator::new(TxnConfig::default());
        let mut a = alloc();
        let mut out = Vec::new();
        let (pid, e) = c
            .init_producer_id(0, "t", 1000, None, &mut a, &mut out)
            .unwrap();
        c.add_partitions(10, "t", pid, e, &[("a".into(), 0)], &mut out)
            .unwrap();
        let mut tick = Vec::new();
        c.tick(500, &mut tick);
        assert!(tick.is_empty());
        c.tick(1010, &mut tick);
        assert_eq!(markers(&tick).len(), 1);
        assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteAbort);
        assert_eq!(c.describe("t").unwrap().producer_epoch, e + 1);
        out.extend(tick);
        let mut fresh = TxnCoordinator::new(TxnConfig::default());
        for effect in &out {
            if let Effect::Write { key, value, .. } = effect {
                fresh.replay(key, value.as_deref()).unwrap();
            }
        }
        let got = fresh.describe("t").unwrap();
        assert_eq!(got.state, TxnState::CompleteAbort);
        assert_eq!(got.producer_epoch, e + 1);
        // KIP-360: the fenced producer may recover with its old epoch.
        let mut out = Vec::new();
        assert_eq!(
            fresh.init_producer_id(2000, "t", 1000, Some((pid, e)), &mut a, &mut out),
            Ok((pid, e + 2))
        );
    }

    #[test]
    fn a_crash_between_prepare_and_complete_is_finished_on_recovery() {
        let mut c = TxnCoordinator::new(TxnConfig::default());
        let mut a = alloc();
        let mut out = Vec::new();
        let (pid, e) = c
            .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
            .unwrap();
        c.add_partitions(1, "t", pid, e, &[("a".into(), 0)], &mut out)
            .unwrap();
        let mut end = Vec::new();
        c.end_txn(2, "t", pid, e, true, &mut end).unwrap();
        // Only the PrepareCommit record reached the log.
        let mut fresh = TxnCoordinator::new(TxnConfig::default());
        for effect in out.iter().chain(end.iter().take(1)) {
            if let Effect::Write { key, value, .. } = effect {
                fresh.replay(key, value.as_deref()).unwrap();
            }
        }
        assert_eq!(fresh.describe("t").unwrap().state, TxnState::PrepareCommit);
        let mut rec = Vec::new();
        fresh.recover(3, &mut rec);
        assert_eq!(markers(&rec).len(), 1);
        assert!(markers(&rec)[0].commit);
        assert_eq!(fresh.describe("t").unwrap().state, TxnState::CompleteCommit);
    }
}

//! Per-partition producer state: what idempotent and transactional producers have written to
//! this partition (Kafka's `ProducerStateManager` and `ProducerAppendInfo`), its snapshot files,
//! and the rules an append must pass.
//!
//! # State per producer id
//! The producer epoch; the last [`BATCHES_RETAINED`] batches of that epoch (first/last
//! sequence, first/last offset, max timestamp); the first offset of its open transaction, if
//! any; the coordinator epoch of its last transaction marker; the timestamp of its last batch.
//! Open transactions are also indexed by first offset: the smallest is the first unstable offset.
//!
//! # Rules for a data batch with producer id >= 0 (origin Client)
//! - Epoch lower than the known one: INVALID_PRODUCER_EPOCH.
//! - Unknown producer: the first sequence must be 0, else UNKNOWN_PRODUCER_ID.
//! - Epoch higher than the known one: the first sequence must be 0, else
//!   OUT_OF_ORDER_SEQUENCE_NUMBER; the new epoch replaces the old (its batches are forgotten).
//! - Same epoch: a batch whose (first, last) sequence equals one of the retained batches is a
//!   duplicate: nothing is appended and the append answers with the original offsets. Otherwise
//!   the first sequence must follow the last one (i32::MAX wraps to 0), else
//!   OUT_OF_ORDER_SEQUENCE_NUMBER.
//! - A transactional batch opens a transaction at its base offset if none is open; a
//!   non-transactional batch while one is open: INVALID_TXN_STATE.
//!
//! Coordinator-origin appends (group and transaction coordinators) skip the sequence rules and
//! duplicate detection but keep the epoch rule. A transaction marker (a control batch, only
//! from the coordinator) must not carry a lower producer epoch (INVALID_PRODUCER_EPOCH) or a
//! lower coordinator epoch (TRANSACTION_COORDINATOR_FENCED); it closes the open transaction,
//! and an ABORT of a transaction that had data yields an entry for the segment's `.txnindex`.
//! Replaying the log on open (Replay) and follower appends (origin Replication) apply batches
//! without any check, as they were accepted when the leader first wrote them.
//!
//! # Files
//! - this file: the state ([`ProducerStateManager`]) and the rules an append passes;
//! - `snapshot`: the snapshot file (layout in its docs) and its codec;
//! - `tests`: unit tests of both.

use std::collections::{BTreeMap, HashMap};

use crate::error::LogError;
use crate::txn_index::AbortedTxn;

mod snapshot;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub(crate) use snapshot::{delete_snapshots, read_snapshot, snapshot_offsets, write_snapshot};

/// Batches remembered per producer for duplicate detection (Kafka's, and the most a producer
/// may have in flight with `max.in.flight.requests.per.connection` <= 5).
pub(crate) const BATCHES_RETAINED: usize = 5;

/// Who is appending, which decides the checks a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOrigin {
    /// A producer's Produce request: sequence numbers are checked, duplicates detected and
    /// control batches refused.
    Client,
    /// A coordinator writing on the broker's behalf (transaction markers, transactional offset
    /// commits, group and transaction state): producer epochs are checked, sequences are not;
    /// control batches are allowed.
    Coordinator,
    /// A follower appending what it fetched from the leader (Kafka's `REPLICATION`): offsets
    /// and leader epochs are kept as the leader wrote them, and producer state is updated
    /// without any check (the leader checked), so that the follower can take over as leader.
    /// See [`crate::Log::append_as_follower`].
    Replication,
}

/// What a producer looks like to DescribeProducers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// Last sequence of the producer's last batch in its current epoch, -1 if none.
    pub last_sequence: i32,
    /// Max timestamp of its last batch or marker.
    pub last_timestamp: i64,
    /// Coordinator epoch of its last transaction marker, -1 if none.
    pub coordinator_epoch: i32,
    /// First offset of its open transaction.
    pub current_txn_start_offset: Option<i64>,
}

/// The checks to run: a public origin, or replaying the log on open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Client,
    Coordinator,
    Replay,
}

impl From<AppendOrigin> for Check {
    fn from(origin: AppendOrigin) -> Check {
        match origin {
            AppendOrigin::Client => Check::Client,
            AppendOrigin::Coordinator => Check::Coordinator,
            // Kafka checks nothing on REPLICATION either (epoch and coordinator-epoch
            // regressions are only logged there): the same rules as replaying the log.
            AppendOrigin::Replication => Check::Replay,
        }
    }
}

/// One of a producer's recent batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BatchMetadata {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
}

/// A transaction marker's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Marker {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// What the state needs of a batch being appended (offsets already assigned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchInput {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub transactional: bool,
    /// Set for a transaction marker (a control batch holding an ABORT or COMMIT record).
    pub marker: Option<Marker>,
}

/// A producer's state. `Copy`, so an append can work on a copy and store it only on success.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProducerEntry {
    pub epoch: i16,
    /// `batches[..batch_count]`, oldest first, all of epoch `epoch`.
    batches: [BatchMetadata; BATCHES_RETAINED],
    batch_count: u8,
    pub current_txn_first_offset: Option<i64>,
    pub coordinator_epoch: i32,
    pub last_timestamp: i64,
}

/// Equal when everything that means something is: slots past `batch_count` are leftovers.
impl PartialEq for ProducerEntry {
    fn eq(&self, other: &ProducerEntry) -> bool {
        self.epoch == other.epoch
            && self.batches() == other.batches()
            && self.current_txn_first_offset == other.current_txn_first_offset
            && self.coordinator_epoch == other.coordinator_epoch
            && self.last_timestamp == other.last_timestamp
    }
}

impl Eq for ProducerEntry {}

impl ProducerEntry {
    fn new() -> ProducerEntry {
        ProducerEntry {
            epoch: -1,
            batches: [BatchMetadata::default(); BATCHES_RETAINED],
            batch_count: 0,
            current_txn_first_offset: None,
            coordinator_epoch: -1,
            last_timestamp: -1,
        }
    }

    fn batches(&self) -> &[BatchMetadata] {
        &self.batches[..usize::from(self.batch_count)]
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches().last().map(|b| b.last_seq)
    }

    fn find_duplicate(&self, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        self.batches()
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// A new epoch forgets the old epoch's batches.
    fn set_epoch(&mut self, epoch: i16) {
        if self.epoch != epoch {
            self.epoch = epoch;
            self.batch_count = 0;
        }
    }

    fn push_batch(&mut self, batch: BatchMetadata) {
        let n = usize::from(self.batch_count);
        if n == BATCHES_RETAINED {
            self.batches.rotate_left(1);
            self.batches[BATCHES_RETAINED - 1] = batch;
        } else {
            self.batches[n] = batch;
            self.batch_count += 1;
        }
    }
}

/// Sequence of the last record of a batch, wrapping after i32::MAX as producers do (Kafka's
/// `DefaultRecordBatch.incrementSequence`); -1 stays -1 (no sequence).
pub(crate) fn last_sequence(first_seq: i32, last_offset_delta: i32) -> i32 {
    if first_seq < 0 {
        return first_seq;
    }
    let delta = last_offset_delta.max(0);
    if first_seq > i32::MAX - delta {
        delta - (i32::MAX - first_seq) - 1
    } else {
        first_seq + delta
    }
}

fn in_sequence(last_seq: i32, next_seq: i32) -> bool {
    i64::from(next_seq) == i64::from(last_seq) + 1 || (next_seq == 0 && last_seq == i32::MAX)
}

/// A transaction opened or closed by an append, in batch order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxnEvent {
    Started {
        producer_id: i64,
        first_offset: i64,
    },
    Completed {
        producer_id: i64,
        first_offset: i64,
        marker_offset: i64,
        aborted: bool,
    },
}

/// The outcome of checking an append against the state.
#[derive(Debug)]
pub(crate) enum Planned {
    /// Append, then [`ProducerStateManager::commit`] the plan.
    Append(AppendPlan),
    /// The batch was already appended with this metadata: append nothing.
    Duplicate(BatchMetadata),
}

/// State changes an append makes once its data is written.
#[derive(Debug, Default)]
pub(crate) struct AppendPlan {
    /// At most one updated entry per producer.
    updates: Vec<(i64, ProducerEntry)>,
    events: Vec<TxnEvent>,
    /// Entries for the `.txnindex` of the segment the markers go to, in marker order. Written
    /// before the plan is committed, so that no read sees the transaction closed without its
    /// index entry.
    pub aborted: Vec<AbortedTxn>,
}

impl AppendPlan {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }
}

/// The state of every producer of one partition.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions: first offset -> producer id. invariant: exactly the entries of
    /// `producers` with a `current_txn_first_offset`.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStateManager {
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn producers(&self) -> Vec<ProducerInfo> {
        let mut out: Vec<ProducerInfo> = self
            .producers
            .iter()
            .map(|(&producer_id, e)| ProducerInfo {
                producer_id,
                producer_epoch: e.epoch,
                last_sequence: e.last_seq().unwrap_or(-1),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.current_txn_first_offset,
            })
            .collect();
        out.sort_unstable_by_key(|p| p.producer_id);
        out
    }

    /// Drops producers without an open transaction whose last batch is `max_age_ms` or more
    /// older than `now_ms` (Kafka's `producer.id.expiration.ms` rule). Returns how many.
    pub fn expire(&mut self, now_ms: i64, max_age_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < max_age_ms
        });
        before - self.producers.len()
    }

    /// Checks `batches` (one append, in order) and works out the changes they make, without
    /// changing anything.
    pub fn plan(&self, batches: &[BatchInput], check: Check) -> Result<Planned, LogError> {
        let mut plan = AppendPlan::default();
        for b in batches {
            let slot = plan.updates.iter().position(|(p, _)| *p == b.producer_id);
            let current = match slot {
                Some(i) => Some(plan.updates[i].1),
                None => self.producers.get(&b.producer_id).copied(),
            };
            if check == Check::Client && b.marker.is_none() {
                if let Some(dup) = current
                    .filter(|e| e.epoch == b.epoch)
                    .and_then(|e| e.find_duplicate(b.first_seq, b.last_seq))
                {
                    return Ok(Planned::Duplicate(dup));
                }
            }
            let mut entry = current.unwrap_or_else(ProducerEntry::new);
            let event = match b.marker {
                None => apply_data(&mut entry, current.is_some(), b, check)?,
                Some(marker) => apply_marker(&mut entry, b, marker, check)?,
            };
            plan.events.extend(event);
            match slot {
                Some(i) => plan.updates[i].1 = entry,
                None => plan.updates.push((b.producer_id, entry)),
            }
        }
        if plan
            .events
            .iter()
            .any(|e| matches!(e, TxnEvent::Completed { aborted: true, .. }))
        {
            plan.aborted = self.aborted_entries(&plan.events);
        }
        Ok(Planned::Append(plan))
    }

    /// The `.txnindex` entries of the aborts among `events`. An entry's last stable offset is
    /// the first offset of the earliest transaction still open after the abort (of another
    /// producer), or the offset after the marker (Kafka's `lastStableOffset(completedTxn)`).
    fn aborted_entries(&self, events: &[TxnEvent]) -> Vec<AbortedTxn> {
        let mut ongoing = self.ongoing.clone();
        let mut out = Vec::new();
        for event in events {
            match *event {
                TxnEvent::Started {
                    producer_id,
                    first_offset,
                } => {
                    ongoing.insert(first_offset, producer_id);
                }
                TxnEvent::Completed {
                    producer_id,
                    first_offset,
                    marker_offset,
                    aborted,
                } => {
                    ongoing.remove(&first_offset);
                    if aborted {
                        let last_stable_offset = ongoing
                            .iter()
                            .find(|(_, &pid)| pid != producer_id)
                            .map_or(marker_offset + 1, |(&first, _)| first);
                        out.push(AbortedTxn {
                            producer_id,
                            first_offset,
                            last_offset: marker_offset,
                            last_stable_offset,
                        });
                    }
                }
            }
        }
        out
    }

    /// Applies a plan whose append has been written.
    pub fn commit(&mut self, plan: AppendPlan) {
        for (producer_id, entry) in plan.updates {
            self.producers.insert(producer_id, entry);
        }
        for event in plan.events {
            match event {
                TxnEvent::Started {
                    producer_id,
                    first_offset,
                } => {
                    self.ongoing.insert(first_offset, producer_id);
                }
                TxnEvent::Completed { first_offset, .. } => {
                    self.ongoing.remove(&first_offset);
                }
            }
        }
    }
}

fn apply_data(
    entry: &mut ProducerEntry,
    known: bool,
    b: &BatchInput,
    check: Check,
) -> Result<Option<TxnEvent>, LogError> {
    if check != Check::Replay && b.epoch < entry.epoch {
        return Err(LogError::InvalidProducerEpoch {
            producer_id: b.producer_id,
            epoch: b.epoch,
            current_epoch: entry.epoch,
        });
    }
    if check == Check::Client {
        let expected = if !known {
            if b.first_seq != 0 {
                return Err(LogError::UnknownProducerId {
                    producer_id: b.producer_id,
                    first_sequence: b.first_seq,
                });
            }
            0
        } else if b.epoch != entry.epoch {
            0
        } else {
            match entry.last_seq() {
                Some(last) if in_sequence(last, b.first_seq) => b.first_seq,
                Some(last) => last.wrapping_add(1).max(0),
                None => 0,
            }
        };
        if b.first_seq != expected {
            return Err(LogError::OutOfOrderSequence {
                producer_id: b.producer_id,
                epoch: b.epoch,
                first_sequence: b.first_seq,
                expected_sequence: expected,
            });
        }
    }
    entry.set_epoch(b.epoch);
    entry.push_batch(BatchMetadata {
        first_seq: b.first_seq,
        last_seq: b.last_seq,
        first_offset: b.first_offset,
        last_offset: b.last_offset,
        max_timestamp: b.max_timestamp,
    });
    entry.last_timestamp = b.max_timestamp;
    match (entry.current_txn_first_offset, b.transactional) {
        (Some(_), false) if check != Check::Replay => Err(LogError::InvalidTxnState {
            producer_id: b.producer_id,
            reason: "a non-transactional batch while the producer has an open transaction",
        }),
        (None, true) => {
            entry.current_txn_first_offset = Some(b.first_offset);
            Ok(Some(TxnEvent::Started {
                producer_id: b.producer_id,
                first_offset: b.first_offset,
            }))
        }
        _ => Ok(None),
    }
}

fn apply_marker(
    entry: &mut ProducerEntry,
    b: &BatchInput,
    marker: Marker,
    check: Check,
) -> Result<Option<TxnEvent>, LogError> {
    if check != Check::Replay {
        if b.epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: b.producer_id,
                epoch: b.epoch,
                current_epoch: entry.epoch,
            });
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(LogError::TransactionCoordinatorFenced {
                producer_id: b.producer_id,
                coordinator_epoch: marker.coordinator_epoch,
                current_coordinator_epoch: entry.coordinator_epoch,
            });
        }
    }
    let event = entry
        .current_txn_first_offset
        .map(|first_offset| TxnEvent::Completed {
            producer_id: b.producer_id,
            first_offset,
            marker_offset: b.first_offset,
            aborted: !marker.commit,
        });
    entry.set_epoch(b.epoch);
    entry.current_txn_first_offset = None;
    entry.coordinator_epoch = marker.coordinator_epoch;
    entry.last_timestamp = b.max_timestamp;
    Ok(event)
}

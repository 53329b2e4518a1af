//! Producer state (see `crate::producer_state`) as the log changes: the changes an append
//! commits, snapshots, replay on open and after truncation, expiry; the transaction reads
//! (first unstable offset, aborted transactions) and DescribeProducers.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use sluice_protocol::batch::{BatchError, BatchHeader};

use super::{lock, Log};
use crate::error::LogError;
use crate::marker;
use crate::producer_state::{
    self, AppendPlan, BatchInput, Marker, ProducerInfo, ProducerStateManager,
};
use crate::recovery;
use crate::segment::Segment;

impl Log {
    /// Records the aborted transactions of an append in `segment`'s `.txnindex`, then applies
    /// its producer-state changes. The index entries go first: no reader may see a transaction
    /// closed (the last stable offset past it) before its abort is indexed.
    pub(super) fn commit_producer_plan(
        &self,
        segment: &Segment,
        plan: AppendPlan,
    ) -> Result<(), LogError> {
        if !plan.aborted.is_empty() {
            let mut state = segment.state_mut();
            for txn in &plan.aborted {
                state.txn_index.append(*txn)?;
            }
        }
        if !plan.is_empty() {
            lock(&self.producer_state).commit(plan);
        }
        Ok(())
    }

    /// The first offset of the earliest open transaction, if any. The last stable offset is the
    /// smaller of this and the high watermark: read_committed consumers see nothing from there
    /// on. A caller combining the two must read the high watermark first (a transaction that
    /// opens later starts at or above it).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        lock(&self.producer_state).first_unstable_offset()
    }

    /// `(producer_id, first_offset)` of every aborted transaction whose range (first offset to
    /// ABORT marker) overlaps `[from_offset, to_offset)`, in marker order: what a read_committed
    /// fetch returning that range must tell the consumer to drop.
    pub fn aborted_transactions(&self, from_offset: i64, to_offset: i64) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        if from_offset >= to_offset {
            return out;
        }
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        // A marker at or after `from_offset` lies in the segment holding it or a later one.
        let start = segments
            .range(..=from_offset)
            .next_back()
            .map_or(i64::MIN, |(&base, _)| base);
        for segment in segments.range(start..).map(|(_, s)| s) {
            if segment
                .state()
                .txn_index
                .collect(from_offset, to_offset, &mut out)
            {
                break;
            }
        }
        out
    }

    /// The producers this partition has state for, by producer id (DescribeProducers).
    pub fn producers(&self) -> Vec<ProducerInfo> {
        lock(&self.producer_state).producers()
    }

    /// Forgets producers without an open transaction whose last batch's timestamp is
    /// `max_age_ms` or more before `now_ms` (`producer.id.expiration.ms`). A forgotten producer
    /// that writes again with a sequence other than 0 gets UNKNOWN_PRODUCER_ID. Returns how many
    /// were dropped.
    pub fn expire_producers(&self, now_ms: i64, max_age_ms: i64) -> usize {
        let _guard = lock(&self.append_lock);
        lock(&self.producer_state).expire(now_ms, max_age_ms)
    }

    /// Writes the producer-state snapshot for `offset` (the state after every batch below it),
    /// fsynced when `durable`; returns its path.
    pub(super) fn write_producer_snapshot(
        &self,
        offset: i64,
        durable: bool,
    ) -> Result<PathBuf, LogError> {
        let bytes = lock(&self.producer_state).encode_snapshot(offset);
        let path = producer_state::write_snapshot(&self.dir, offset, &bytes, durable)?;
        self.dir_dirty.store(true, Ordering::SeqCst);
        Ok(path)
    }

    /// Deletes snapshots that belonged to segments no longer in the log.
    pub(super) fn delete_snapshots_below_first_segment(&self) -> Result<(), LogError> {
        let first = self
            .segments_snapshot()
            .first()
            .map_or(i64::MIN, |s| s.base_offset());
        producer_state::delete_snapshots(&self.dir, |o| o < first)
    }

    /// Sets the producer state from the newest readable snapshot at or below the log end offset
    /// (deleting those above it) and the batches after it. Without a snapshot every batch from
    /// the first segment on is replayed.
    pub(super) fn load_producer_state(&self) -> Result<(), LogError> {
        let end = self.log_end_offset();
        producer_state::delete_snapshots(&self.dir, |o| o > end)?;
        let first_base = self
            .segments_snapshot()
            .first()
            .map_or(end, |s| s.base_offset());
        let mut state = ProducerStateManager::default();
        let mut from = first_base;
        for offset in producer_state::snapshot_offsets(&self.dir)?
            .into_iter()
            .rev()
        {
            if let Some(loaded) = producer_state::read_snapshot(&self.dir, offset)? {
                state = loaded;
                from = offset.max(first_base);
                break;
            }
        }
        let replayed =
            recovery::replay_producer_state(&self.segments_snapshot(), &mut state, from)?;
        if replayed > 0 {
            tracing::info!(dir = %self.dir.display(),
                "rebuilt producer state from offset {from}: {replayed} batches replayed, {} producers",
                state.len());
        }
        *lock(&self.producer_state) = state;
        Ok(())
    }
}

/// What producer state needs of each batch with a producer id in an append. With
/// `first_offset`, the batches get consecutive offsets from it (a leader append); without, they
/// keep their own base offsets (a follower append). Control batches that are not transaction
/// markers are left out.
pub(super) fn producer_inputs(
    records: &Bytes,
    headers: &[(usize, BatchHeader)],
    first_offset: Option<i64>,
    log_append_time: bool,
    now: i64,
) -> Result<Vec<BatchInput>, LogError> {
    let mut inputs = Vec::with_capacity(headers.len());
    let mut next = first_offset;
    for &(position, ref header) in headers {
        let base_offset = next.unwrap_or(header.base_offset);
        if let Some(n) = next.as_mut() {
            *n = base_offset + i64::from(header.last_offset_delta) + 1;
        }
        if header.producer_id < 0 {
            continue;
        }
        let marker = if header.is_control() {
            let raw = records.slice(position..position + header.total_len());
            match marker::decode(&raw) {
                Ok(Some(m)) => Some(m),
                Ok(None) => continue,
                Err(_) => {
                    return Err(BatchError::InvalidRecord {
                        position,
                        reason: "malformed transaction marker",
                    }
                    .into())
                }
            }
        } else {
            None
        };
        let max_timestamp = if log_append_time {
            now
        } else {
            header.max_timestamp
        };
        inputs.push(batch_input(header, base_offset, max_timestamp, marker));
    }
    Ok(inputs)
}

pub(crate) fn batch_input(
    header: &BatchHeader,
    base_offset: i64,
    max_timestamp: i64,
    marker: Option<Marker>,
) -> BatchInput {
    BatchInput {
        producer_id: header.producer_id,
        epoch: header.producer_epoch,
        first_seq: header.base_sequence,
        last_seq: producer_state::last_sequence(header.base_sequence, header.last_offset_delta),
        first_offset: base_offset,
        last_offset: base_offset + i64::from(header.last_offset_delta),
        max_timestamp,
        transactional: header.is_transactional(),
        marker,
    }
}

//! Loading a shard: its partition's records read back (on the blocking pool) and replayed into
//! a fresh state machine. Records the high watermark covered are committed state; those above
//! it are replayed as one write that commits when the high watermark reaches the log end (a new
//! leader's followers may not have them yet), so reads do not see them before.

use std::sync::Arc;

use sluice_coordinator::{CoordinatorShard, KeyedRecord, Ownership, WriteId};
use sluice_log::record_codec::decode_batch;
use sluice_protocol::batch::{parse_header, BATCH_HEADER_LEN};

use crate::replicas::Partition;

/// Builds a shard's state machine for a partition in a given ownership state.
pub type Factory<S> = Arc<dyn Fn(i32, Ownership) -> S + Send + Sync>;

/// The keyed records of a partition, split at the high watermark.
pub(crate) struct PartitionRecords {
    pub(crate) committed: Vec<KeyedRecord>,
    pub(crate) uncommitted: Vec<KeyedRecord>,
    pub(crate) log_end: i64,
}

/// A loaded state machine and where its writes go on from.
pub(crate) struct Loaded<S> {
    pub(crate) state: S,
    /// The write the uncommitted records were replayed in.
    pub(crate) tail: Option<WriteId>,
    pub(crate) next_write: WriteId,
    pub(crate) log_end: i64,
    pub(crate) records: usize,
}

/// How much one read takes.
const READ_BYTES: usize = 1 << 20;

/// Reads every keyed record of `partition` up to its log end, in log order; control batches
/// are skipped, unreadable batches skipped with a warning. Blocking.
pub(crate) fn read(partition: &Partition) -> Result<PartitionRecords, String> {
    let high_watermark = partition.high_watermark();
    let log_end = partition.log_end_offset();
    let mut records = PartitionRecords {
        committed: Vec::new(),
        uncommitted: Vec::new(),
        log_end,
    };
    let mut offset = partition.log_start_offset();
    while offset < log_end {
        let read = partition
            .read(offset, READ_BYTES, log_end, true)
            .map_err(|e| e.to_string())?;
        if read.records.is_empty() {
            break;
        }
        let mut rest = read.records;
        while rest.len() >= BATCH_HEADER_LEN {
            let Ok(header) = parse_header(&rest) else {
                break;
            };
            let len = header.total_len();
            if len > rest.len() {
                break;
            }
            let raw = rest.split_to(len);
            offset = header.last_offset() + 1;
            if header.is_control() {
                continue;
            }
            let into = if header.last_offset() < high_watermark {
                &mut records.committed
            } else {
                &mut records.uncommitted
            };
            match decode_batch(&raw) {
                Ok((_, batch)) => {
                    into.extend(batch.into_iter().filter_map(|r| Some((r.key?, r.value))))
                }
                Err(e) => tracing::warn!(
                    "skipping unreadable batch in {}-{} at offset {}: {e}",
                    partition.topic,
                    partition.index,
                    header.base_offset
                ),
            }
        }
    }
    Ok(records)
}

/// Replays `records` into a new state machine for partition `index`. Blocking (CPU only).
pub(crate) fn build<S: CoordinatorShard>(
    factory: &Factory<S>,
    topic: &str,
    index: i32,
    records: PartitionRecords,
    now_ms: i64,
) -> Loaded<S> {
    let mut state = factory(index, Ownership::Loading);
    let count = records.committed.len() + records.uncommitted.len();
    let replay = |state: &mut S, (key, value): KeyedRecord| {
        if let Err(e) = state.replay(&key, value.as_deref(), now_ms) {
            tracing::warn!("skipping unreadable record in {topic}-{index}: {e}");
        }
    };
    for record in records.committed {
        replay(&mut state, record);
    }
    let tail = if records.uncommitted.is_empty() {
        None
    } else {
        state.begin_write(1);
        for record in records.uncommitted {
            replay(&mut state, record);
        }
        Some(1)
    };
    state.finish_loading(index);
    Loaded {
        state,
        tail,
        next_write: 2,
        log_end: records.log_end,
        records: count,
    }
}

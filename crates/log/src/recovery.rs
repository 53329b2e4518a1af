//! Rebuilding a segment's state from its `.log` file.
//!
//! Used on open after an unclean shutdown (for the active segment), for any segment whose index
//! is missing or corrupt, and after `truncate_to`. The scan walks the file batch by batch from
//! position 0. A batch is accepted when its header is whole, `batchLength >= 49`, the whole
//! batch is present, its offsets lie after the previous batch's and below the segment's bound,
//! and, when `validate` is set, its magic, CRC-32C, codec and record count check out. The file is
//! truncated at the first batch that fails (a torn or corrupt tail) and both indexes are written
//! afresh while scanning, with the same entry placement rules as appends.
//!
//! Producer state is rebuilt separately, once every segment is recovered
//! ([`replay_producer_state`]): from the newest snapshot on, every batch with a producer id is
//! applied without checks (it was checked when first appended), and the `.txnindex` entries of
//! the markers replayed are written afresh.

use std::sync::Arc;

use bytes::Bytes;
use sluice_protocol::batch::{self, BATCH_HEADER_LEN, MAGIC_V2};

use crate::error::LogError;
use crate::log::batch_input;
use crate::marker;
use crate::offset_index::OffsetIndex;
use crate::producer_state::{Check, Planned, ProducerStateManager};
use crate::segment::{BatchMeta, Segment};
use crate::time_index::TimeIndex;

/// Bytes read per positional read while scanning.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecoveryOutcome {
    pub valid_bytes: u64,
    pub truncated_bytes: u64,
    pub batches: usize,
}

/// Rescans `segment` from the start, rebuilding its indexes and in-memory state, truncating the
/// file at the first unacceptable batch. `next_offset_bound` is an exclusive upper bound on the
/// segment's offsets.
pub(crate) fn recover_segment(
    segment: &Segment,
    next_offset_bound: i64,
    index_interval_bytes: u32,
    validate: bool,
) -> Result<RecoveryOutcome, LogError> {
    let base_offset = segment.base_offset();
    let file_len = std::fs::metadata(segment.log_path())
        .map_err(LogError::io(segment.log_path()))?
        .len();
    {
        let mut state = segment.state_mut();
        let index_path = state.offset_index.path().to_path_buf();
        let time_path = state.time_index.path().to_path_buf();
        state.offset_index = OffsetIndex::create(&index_path, base_offset)?;
        state.time_index = TimeIndex::create(&time_path, base_offset)?;
        state.bytes_since_last_index_entry = 0;
        state.max_timestamp = -1;
        state.offset_of_max_timestamp = -1;
        state.next_offset = base_offset;
        state.first_batch_timestamp = None;
    }

    let mut buf: Vec<u8> = Vec::new();
    let mut buf_start = 0u64;
    let mut position = 0u64;
    let mut batches = 0usize;
    let mut reason: Option<String> = None;
    while position < file_len {
        // Make sure `need` bytes from `position` are buffered (fewer only at end of file).
        let ensure = |need: usize, buf: &mut Vec<u8>, buf_start: &mut u64| {
            let have_from = position.saturating_sub(*buf_start) as usize;
            if position >= *buf_start && buf.len() >= have_from + need {
                return Ok(());
            }
            let len = need
                .max(SCAN_CHUNK_BYTES)
                .min((file_len - position) as usize);
            *buf_start = position;
            segment.read_into(position, len, buf)
        };
        ensure(BATCH_HEADER_LEN, &mut buf, &mut buf_start)?;
        let at = (position - buf_start) as usize;
        let header = match batch::parse_header(&buf[at..]) {
            Ok(h) => h,
            Err(_) => {
                reason = Some("torn batch header".into());
                break;
            }
        };
        if header.batch_length < batch::MIN_BATCH_LENGTH {
            reason = Some(format!("batch length {}", header.batch_length));
            break;
        }
        let len = header.total_len();
        ensure(len, &mut buf, &mut buf_start)?;
        let at = (position - buf_start) as usize;
        if buf.len() < at + len {
            reason = Some("torn batch".into());
            break;
        }
        let expected = segment.state().next_offset;
        if header.magic != MAGIC_V2
            || header.base_offset < expected
            || header.last_offset_delta < 0
            || header.last_offset() >= next_offset_bound
            || header.last_offset() - base_offset > i64::from(u32::MAX)
        {
            reason = Some(format!(
                "batch with magic {} and offsets {}..={} after offset {}",
                header.magic,
                header.base_offset,
                header.last_offset(),
                expected
            ));
            break;
        }
        if validate {
            if let Err(e) = batch::validate_batches(&buf[at..at + len], usize::MAX) {
                reason = Some(e.to_string());
                break;
            }
        }
        let meta = BatchMeta {
            last_offset: header.last_offset(),
            max_timestamp: header.max_timestamp,
            size: len as u64,
        };
        segment
            .state_mut()
            .on_batch(&meta, position, index_interval_bytes)?;
        position += len as u64;
        batches += 1;
    }
    let truncated_bytes = file_len - position;
    if truncated_bytes > 0 {
        tracing::warn!(
            path = %segment.log_path().display(),
            "truncating {truncated_bytes} bytes at position {position}: {}",
            reason.as_deref().unwrap_or("invalid batch")
        );
    }
    // Always re-publish the size: the file may have grown or shrunk since it was opened.
    segment.truncate_to_position(position)?;
    Ok(RecoveryOutcome {
        valid_bytes: position,
        truncated_bytes,
        batches,
    })
}

/// Restores the in-memory state of a cleanly closed active segment without validating it:
/// scans headers only from the last offset-index entry to the end.
pub(crate) fn load_clean_tail(segment: &Segment) -> Result<(), LogError> {
    let limit = segment.size();
    let start = segment
        .state()
        .offset_index
        .last_entry()
        .map_or(0, |(_, p)| u64::from(p));
    let first_batch_timestamp = segment.read_header(0, limit)?.map(|h| h.max_timestamp);
    let mut bytes_since_last_index_entry = 0u64;
    let mut next_offset = segment.base_offset();
    let mut max = {
        let state = segment.state();
        (state.max_timestamp, state.offset_of_max_timestamp)
    };
    segment.scan_from(start, limit, |h| {
        bytes_since_last_index_entry += h.total_len() as u64;
        next_offset = h.last_offset() + 1;
        if h.max_timestamp > max.0 {
            max = (h.max_timestamp, h.last_offset());
        }
        false
    })?;
    let mut state = segment.state_mut();
    state.bytes_since_last_index_entry = bytes_since_last_index_entry;
    state.next_offset = next_offset;
    state.max_timestamp = max.0;
    state.offset_of_max_timestamp = max.1;
    state.first_batch_timestamp = first_batch_timestamp;
    Ok(())
}

/// Applies every batch with a producer id from offset `from` (a batch boundary) on, in
/// `segments` (the whole log, oldest first), to `state`, and rewrites the `.txnindex` entries
/// of markers from `from` on (entries at or above `from` are dropped first, also where no batch
/// is replayed: they may belong to a truncated tail). Returns the number of batches applied.
pub(crate) fn replay_producer_state(
    segments: &[Arc<Segment>],
    state: &mut ProducerStateManager,
    from: i64,
) -> Result<usize, LogError> {
    let mut replayed = 0;
    for segment in segments {
        segment.state_mut().txn_index.truncate_from(from)?;
        if segment.state().next_offset <= from {
            continue;
        }
        let limit = segment.size();
        let mut position = if segment.base_offset() >= from {
            0
        } else {
            match segment.find_batch(from)? {
                Some((position, _)) => position,
                None => continue,
            }
        };
        while let Some((at, header)) = segment.scan_from(position, limit, |h| {
            h.producer_id >= 0 && h.base_offset >= from
        })? {
            position = at + header.total_len() as u64;
            let marker = if header.is_control() {
                let raw = Bytes::from(segment.read_exact(at, header.total_len())?);
                match marker::decode(&raw) {
                    Ok(Some(m)) => Some(m),
                    Ok(None) => continue,
                    Err(reason) => {
                        tracing::warn!(path = %segment.log_path().display(),
                            "skipping unreadable control batch at offset {}: {reason}",
                            header.base_offset);
                        continue;
                    }
                }
            } else {
                None
            };
            let input = batch_input(&header, header.base_offset, header.max_timestamp, marker);
            if let Planned::Append(plan) = state.plan(&[input], Check::Replay)? {
                {
                    let mut segment_state = segment.state_mut();
                    for txn in &plan.aborted {
                        segment_state.txn_index.append(*txn)?;
                    }
                }
                state.commit(plan);
            }
            replayed += 1;
        }
    }
    Ok(replayed)
}

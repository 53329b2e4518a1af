//! Reads: whole batches from an offset (the rules are in the crate docs), and the
//! timestamp lookups of ListOffsets.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use sluice_protocol::batch::{self, BatchHeader, BATCH_HEADER_LEN, MIN_BATCH_LENGTH};

use super::Log;
use crate::error::LogError;
use crate::segment::Segment;

/// Whole batches read from one segment, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadResult {
    pub records: Bytes,
    /// Base offset of the first batch in `records`, `None` if empty.
    pub first_batch_offset: Option<i64>,
}

impl Log {
    /// Reads whole batches from `offset` (see the crate docs for the rules).
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        max_offset: i64,
        min_one_batch: bool,
    ) -> Result<ReadResult, LogError> {
        let log_end_offset = self.log_end_offset();
        let log_start_offset = self.log_start_offset();
        if offset < log_start_offset || offset > log_end_offset {
            return Err(LogError::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            });
        }
        if offset >= max_offset || offset == log_end_offset {
            return Ok(ReadResult::default());
        }
        let mut segment = self.segment_for(offset);
        while let Some(seg) = segment {
            if let Some((position, header)) = seg.find_batch(offset)? {
                if header.base_offset >= max_offset {
                    return Ok(ReadResult::default());
                }
                return read_batches(
                    &seg,
                    position,
                    &header,
                    max_bytes,
                    max_offset,
                    min_one_batch,
                );
            }
            // `offset` is past this segment's data: continue in the next segment.
            segment = self.segment_after(seg.base_offset());
        }
        Ok(ReadResult::default())
    }

    fn segment_for(&self, offset: i64) -> Option<Arc<Segment>> {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segments
            .range(..=offset)
            .next_back()
            .or_else(|| segments.iter().next())
            .map(|(_, s)| s.clone())
    }

    fn segment_after(&self, base_offset: i64) -> Option<Arc<Segment>> {
        let segments = self.segments.read().unwrap_or_else(|e| e.into_inner());
        segments
            .range(base_offset.saturating_add(1)..)
            .next()
            .map(|(_, s)| s.clone())
    }

    /// Offset and timestamp of the first record (at or after the log start offset) whose
    /// timestamp is `>= timestamp`; `None` if there is none.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        let log_start_offset = self.log_start_offset();
        for segment in self.segments_snapshot() {
            let start = {
                let state = segment.state();
                if state.max_timestamp < timestamp {
                    continue;
                }
                match state.time_index.lookup(timestamp) {
                    Some(o) => u64::from(state.offset_index.lookup(o).1),
                    None => 0,
                }
            };
            let limit = segment.size();
            let mut position = start;
            while let Some((at, header)) = segment.scan_from(position, limit, |h| {
                h.max_timestamp >= timestamp && h.last_offset() >= log_start_offset
            })? {
                let found = decode_records(&segment, at, &header)?
                    .into_iter()
                    .find(|&(o, ts)| o >= log_start_offset && ts >= timestamp);
                if found.is_some() {
                    return Ok(found);
                }
                position = at + header.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp (the earliest such record
    /// on ties), for ListOffsets with timestamp -3 (KIP-734). `None` if no record has one.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        let mut best: Option<(Arc<Segment>, i64, i64)> = None;
        for segment in self.segments_snapshot() {
            let (ts, offset) = {
                let state = segment.state();
                (state.max_timestamp, state.offset_of_max_timestamp)
            };
            if ts >= 0 && best.as_ref().is_none_or(|(_, best_ts, _)| ts > *best_ts) {
                best = Some((segment, ts, offset));
            }
        }
        let Some((segment, max_ts, batch_offset)) = best else {
            return Ok(None);
        };
        let Some((position, header)) = segment.find_batch(batch_offset)? else {
            return Ok(None);
        };
        let found = decode_records(&segment, position, &header)?
            .into_iter()
            .find(|&(_, ts)| ts == max_ts);
        // The header's maxTimestamp should match a record; fall back to the batch otherwise.
        Ok(found.or(Some((header.last_offset(), max_ts))))
    }
}

/// Reads whole batches starting with `first` at `position`, in one positional read.
fn read_batches(
    segment: &Segment,
    position: u64,
    first: &BatchHeader,
    max_bytes: usize,
    max_offset: i64,
    min_one_batch: bool,
) -> Result<ReadResult, LogError> {
    let first_len = first.total_len();
    if first_len > max_bytes && !min_one_batch {
        return Ok(ReadResult::default());
    }
    let available = usize::try_from(segment.size().saturating_sub(position)).unwrap_or(usize::MAX);
    let want = max_bytes.max(first_len).min(available);
    let mut buf = Vec::new();
    segment.read_into(position, want, &mut buf)?;
    let mut end = 0usize;
    while end + BATCH_HEADER_LEN <= buf.len() {
        let Ok(header) = batch::parse_header(&buf[end..]) else {
            break;
        };
        let len = header.total_len();
        if header.batch_length < MIN_BATCH_LENGTH
            || end + len > buf.len()
            || header.base_offset >= max_offset
        {
            break;
        }
        end += len;
    }
    buf.truncate(end);
    Ok(ReadResult {
        first_batch_offset: (end > 0).then_some(first.base_offset),
        records: Bytes::from(buf),
    })
}

/// (offset, timestamp) of every record of the batch at `position`, decoding (and decompressing)
/// it with kafka-protocol. Under LogAppendTime every record carries the batch's maxTimestamp.
fn decode_records(
    segment: &Segment,
    position: u64,
    header: &BatchHeader,
) -> Result<Vec<(i64, i64)>, LogError> {
    let mut bytes = Bytes::from(segment.read_exact(position, header.total_len())?);
    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| LogError::Corrupt {
        path: segment.log_path().to_path_buf(),
        reason: format!("batch at position {position} does not decode: {e}"),
    })?;
    Ok(set
        .records
        .iter()
        .map(|r| {
            let ts = if header.is_log_append_time() {
                header.max_timestamp
            } else {
                r.timestamp
            };
            (r.offset, ts)
        })
        .collect())
}

//! The append path: producer appends (offset assignment, LogAppendTime, producer checks),
//! coordinator appends and transaction markers, follower appends, and rolling a new active
//! segment. The rules are in the crate docs.

use std::io::IoSlice;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use sluice_protocol::batch::{self, BatchError, BatchHeader, BATCH_HEADER_LEN, MAGIC_V2};

use super::producers::producer_inputs;
use super::{lock, Log};
use crate::config::LogConfig;
use crate::error::LogError;
use crate::marker;
use crate::producer_state::{AppendOrigin, Check, Marker, Planned};
use crate::segment::{BatchMeta, Segment};

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub first_offset: i64,
    pub last_offset: i64,
    /// Largest timestamp appended (the append time under LogAppendTime).
    pub max_timestamp: i64,
    /// Offset carrying `max_timestamp`: the last offset of that batch (the first offset of the
    /// append under LogAppendTime).
    pub offset_of_max_timestamp: i64,
    /// The broker time stamped on the batches, or -1 under CreateTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Bytes written.
    pub bytes: usize,
    /// The caller should call [`Log::flush`] (from a blocking thread): `flush.messages` or
    /// `flush.ms` is reached, or a segment was rolled (its data is then fsynced, as Kafka does).
    pub flush_due: bool,
    /// The batch had been appended before (same producer, epoch and sequences): nothing was
    /// written, and the offsets and max timestamp are those of the original append
    /// (`log_append_time` is -1, as in Kafka's answer to a duplicate).
    pub duplicate: bool,
}

impl Log {
    /// Appends whole v2 batches (already validated by `validate_batches`) from a producer
    /// (origin [`AppendOrigin::Client`]), assigning offsets from the log end offset and
    /// stamping `leader_epoch`. See the crate docs for the rules.
    pub fn append(&self, records: &Bytes, leader_epoch: i32) -> Result<AppendInfo, LogError> {
        self.append_with_origin(records, leader_epoch, AppendOrigin::Client)
    }

    /// [`Log::append`] for a given origin: batches with a producer id go through the checks of
    /// `producer_state` for that origin; control batches are refused from clients.
    /// [`AppendOrigin::Replication`] is [`Log::append_as_follower`] (`leader_epoch` unused).
    pub fn append_with_origin(
        &self,
        records: &Bytes,
        leader_epoch: i32,
        origin: AppendOrigin,
    ) -> Result<AppendInfo, LogError> {
        if origin == AppendOrigin::Replication {
            return self.append_as_follower(records);
        }
        let _guard = lock(&self.append_lock);
        if self.closed.load(Ordering::SeqCst) {
            return Err(LogError::Closed);
        }
        let config = self.config();
        let now = self.clock.now_ms();
        let log_append_time = config.message_timestamp_type_log_append;

        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut with_producer = false;
        for item in batch::batches(records) {
            let (position, header) = item?;
            if header.magic != MAGIC_V2 {
                return Err(BatchError::UnsupportedMagic {
                    position,
                    magic: header.magic,
                }
                .into());
            }
            if header.last_offset_delta < 0 {
                return Err(BatchError::InvalidRecord {
                    position,
                    reason: "negative last offset delta",
                }
                .into());
            }
            if origin == AppendOrigin::Client {
                check_client_batch(position, &header)?;
            }
            with_producer |= header.producer_id >= 0;
            headers.push((position, header));
        }
        if headers.is_empty() {
            return Err(BatchError::Empty.into());
        }
        let total_bytes: usize = headers.iter().map(|(_, h)| h.total_len()).sum();
        let offset_count: i64 = headers
            .iter()
            .map(|(_, h)| i64::from(h.last_offset_delta) + 1)
            .sum();
        let first_offset = self.log_end_offset();
        let last_offset = first_offset + offset_count - 1;

        // Producer checks come first: a refused or duplicate batch writes (and rolls) nothing.
        let plan = if with_producer {
            let inputs =
                producer_inputs(records, &headers, Some(first_offset), log_append_time, now)?;
            let planned = lock(&self.producer_state).plan(&inputs, Check::from(origin))?;
            match planned {
                Planned::Append(plan) => Some(plan),
                Planned::Duplicate(original) => {
                    return Ok(AppendInfo {
                        first_offset: original.first_offset,
                        last_offset: original.last_offset,
                        max_timestamp: original.max_timestamp,
                        offset_of_max_timestamp: original.last_offset,
                        log_append_time: -1,
                        log_start_offset: self.log_start_offset(),
                        bytes: 0,
                        flush_due: false,
                        duplicate: true,
                    });
                }
            }
        } else {
            None
        };

        let max_timestamp_in = if log_append_time {
            now
        } else {
            headers
                .iter()
                .map(|(_, h)| h.max_timestamp)
                .max()
                .unwrap_or(-1)
        };

        let (active, rolled) = self.maybe_roll(
            &config,
            total_bytes as u64,
            first_offset,
            last_offset,
            max_timestamp_in,
            now,
        )?;
        ensure_fits(&active, total_bytes, &config)?;
        self.assign_epochs(std::iter::once((leader_epoch, first_offset)))?;

        // Patched copies of the 61-byte headers (or, under LogAppendTime, of whole batches: the
        // CRC changes). The record bytes are written straight from `records`.
        let mut header_copies: Vec<[u8; BATCH_HEADER_LEN]> = Vec::with_capacity(headers.len());
        let mut whole_copies: Vec<Vec<u8>> = Vec::new();
        let mut metas: Vec<BatchMeta> = Vec::with_capacity(headers.len());
        let mut next = first_offset;
        let mut max_timestamp = -1i64;
        let mut offset_of_max_timestamp = -1i64;
        for (position, header) in &headers {
            let len = header.total_len();
            let bytes = &records[*position..*position + len];
            if log_append_time {
                let mut copy = bytes.to_vec();
                batch::set_base_offset(&mut copy, next);
                batch::set_partition_leader_epoch(&mut copy, leader_epoch);
                batch::set_log_append_time(&mut copy, now);
                whole_copies.push(copy);
            } else {
                let mut copy = [0u8; BATCH_HEADER_LEN];
                copy.copy_from_slice(&bytes[..BATCH_HEADER_LEN]);
                batch::set_base_offset(&mut copy, next);
                batch::set_partition_leader_epoch(&mut copy, leader_epoch);
                header_copies.push(copy);
            }
            let batch_last = next + i64::from(header.last_offset_delta);
            let batch_max_ts = if log_append_time {
                now
            } else {
                header.max_timestamp
            };
            if batch_max_ts > max_timestamp {
                max_timestamp = batch_max_ts;
                offset_of_max_timestamp = if log_append_time {
                    first_offset
                } else {
                    batch_last
                };
            }
            metas.push(BatchMeta {
                last_offset: batch_last,
                max_timestamp: batch_max_ts,
                size: len as u64,
            });
            next = batch_last + 1;
        }
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(headers.len() * 2);
        if log_append_time {
            slices.extend(whole_copies.iter().map(|b| IoSlice::new(b)));
        } else {
            for ((position, header), copy) in headers.iter().zip(&header_copies) {
                slices.push(IoSlice::new(copy));
                let rest = &records[position + BATCH_HEADER_LEN..position + header.total_len()];
                if !rest.is_empty() {
                    slices.push(IoSlice::new(rest));
                }
            }
        }
        active.append(&mut slices, &metas, config.index_interval_bytes)?;
        if let Some(plan) = plan {
            self.commit_producer_plan(&active, plan)?;
        }
        self.log_end_offset.store(next, Ordering::SeqCst);

        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            log_append_time: if log_append_time { now } else { -1 },
            log_start_offset: self.log_start_offset(),
            bytes: total_bytes,
            flush_due: self.flush_due(&config, rolled, next, now),
            duplicate: false,
        })
    }

    /// Appends batches fetched from the leader, as a follower does (Kafka's `appendAsFollower`,
    /// origin [`AppendOrigin::Replication`]). `records` holds whole v2 batches; each is checked
    /// (framing, magic, offset delta, CRC-32C) and written byte for byte: offsets, leader epoch
    /// and timestamps stay as the leader wrote them.
    ///
    /// The first batch must not start below the log end offset
    /// ([`LogError::UnexpectedAppendOffset`]) and every batch must start after the previous
    /// one's last offset ([`LogError::OffsetsOutOfOrder`]). Gaps are accepted, as in Kafka: the
    /// leader's cleaner removes batches from compacted logs. Nothing is written when a check
    /// fails.
    ///
    /// Producer state and the `.txnindex` follow the batches (transaction markers included)
    /// exactly as on the leader, without the leader's sequence and epoch checks, so this log
    /// can take over as leader. The leader epoch cache takes each batch's epoch. Segments roll
    /// and `flush_due` is set as for leader appends.
    pub fn append_as_follower(&self, records: &Bytes) -> Result<AppendInfo, LogError> {
        let _guard = lock(&self.append_lock);
        if self.closed.load(Ordering::SeqCst) {
            return Err(LogError::Closed);
        }
        let config = self.config();
        let now = self.clock.now_ms();
        let log_end_offset = self.log_end_offset();

        let mut headers: Vec<(usize, BatchHeader)> = Vec::new();
        let mut metas: Vec<BatchMeta> = Vec::new();
        let mut with_producer = false;
        let mut max_timestamp = -1i64;
        let mut offset_of_max_timestamp = -1i64;
        for item in batch::batches(records) {
            let (position, header) = item?;
            let len = header.total_len();
            check_replicated_batch(&records[position..position + len], position, &header)?;
            match headers.last() {
                None if header.base_offset < log_end_offset => {
                    return Err(LogError::UnexpectedAppendOffset {
                        log_end_offset,
                        first_offset: header.base_offset,
                        last_offset: header.last_offset(),
                    });
                }
                Some((_, previous)) if header.base_offset <= previous.last_offset() => {
                    return Err(LogError::OffsetsOutOfOrder {
                        position,
                        base_offset: header.base_offset,
                        previous_last_offset: previous.last_offset(),
                    });
                }
                _ => {}
            }
            if header.max_timestamp > max_timestamp {
                max_timestamp = header.max_timestamp;
                offset_of_max_timestamp = header.last_offset();
            }
            metas.push(BatchMeta {
                last_offset: header.last_offset(),
                max_timestamp: header.max_timestamp,
                size: len as u64,
            });
            with_producer |= header.producer_id >= 0;
            headers.push((position, header));
        }
        let (Some((_, first)), Some((_, last))) = (headers.first(), headers.last()) else {
            return Err(BatchError::Empty.into());
        };
        let (first_offset, last_offset) = (first.base_offset, last.last_offset());
        let total_bytes = records.len();

        let plan = if with_producer {
            let inputs = producer_inputs(records, &headers, None, false, now)?;
            let planned =
                lock(&self.producer_state).plan(&inputs, Check::from(AppendOrigin::Replication))?;
            match planned {
                Planned::Append(plan) => Some(plan),
                Planned::Duplicate(_) => {
                    unreachable!("invariant: only client appends are checked for duplicates")
                }
            }
        } else {
            None
        };

        let (active, rolled) = self.maybe_roll(
            &config,
            total_bytes as u64,
            first_offset,
            last_offset,
            max_timestamp,
            now,
        )?;
        ensure_fits(&active, total_bytes, &config)?;
        self.assign_epochs(
            headers
                .iter()
                .map(|(_, h)| (h.partition_leader_epoch, h.base_offset)),
        )?;
        // `batches` walked the buffer to its end: it is the batches, back to back.
        let mut slices = [IoSlice::new(records)];
        active.append(&mut slices, &metas, config.index_interval_bytes)?;
        if let Some(plan) = plan {
            self.commit_producer_plan(&active, plan)?;
        }
        let next = last_offset + 1;
        self.log_end_offset.store(next, Ordering::SeqCst);

        Ok(AppendInfo {
            first_offset,
            last_offset,
            max_timestamp,
            offset_of_max_timestamp,
            log_append_time: -1,
            log_start_offset: self.log_start_offset(),
            bytes: total_bytes,
            flush_due: self.flush_due(&config, rolled, next, now),
            duplicate: false,
        })
    }

    /// Writes a transaction marker (Kafka's `EndTransactionMarker` control batch, see `marker`)
    /// for `producer_id`, as the transaction coordinator does to end a transaction: COMMIT if
    /// `commit`, else ABORT. It closes the producer's open transaction; an ABORT of one that
    /// had data is recorded in the `.txnindex` of the segment holding the marker. Refused with
    /// [`LogError::InvalidProducerEpoch`] when `producer_epoch` is older than the producer's,
    /// and [`LogError::TransactionCoordinatorFenced`] when `coordinator_epoch` is older than
    /// that of the producer's last marker.
    pub fn append_control(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        leader_epoch: i32,
    ) -> Result<AppendInfo, LogError> {
        let batch = marker::encode(
            producer_id,
            producer_epoch,
            Marker {
                commit,
                coordinator_epoch,
            },
            leader_epoch,
            self.clock.now_ms(),
        );
        self.append_with_origin(&Bytes::from(batch), leader_epoch, AppendOrigin::Coordinator)
    }

    /// Rolls a new active segment when Kafka would; returns the segment to append to and
    /// whether a roll happened. A new segment starts at `first_offset`, the append's first
    /// offset (the log end offset, or above it for a follower append after a compacted gap).
    fn maybe_roll(
        &self,
        config: &LogConfig,
        append_bytes: u64,
        first_offset: i64,
        last_offset: i64,
        max_timestamp_in: i64,
        now: i64,
    ) -> Result<(Arc<Segment>, bool), LogError> {
        let active = self.active();
        let size = active.size();
        if size == 0 {
            return Ok((active, false));
        }
        let reason = {
            let state = active.state();
            let waited_ms = match state.first_batch_timestamp {
                Some(t) if t >= 0 => max_timestamp_in.saturating_sub(t),
                _ => now.saturating_sub(active.created_ms()),
            };
            if size + append_bytes > config.segment_bytes
                || size + append_bytes > u64::from(u32::MAX)
            {
                Some("segment.bytes")
            } else if waited_ms > config.segment_ms {
                Some("segment.ms")
            } else if state.offset_index.is_full(config.segment_index_bytes)
                || state.time_index.is_full(config.segment_index_bytes)
            {
                Some("segment.index.bytes")
            } else if last_offset - active.base_offset() > i64::from(i32::MAX) {
                Some("relative offset overflow")
            } else {
                None
            }
        };
        let Some(reason) = reason else {
            return Ok((active, false));
        };
        let base = first_offset;
        tracing::debug!(dir = %self.dir.display(), "rolling segment at offset {base} ({reason})");
        active.seal()?;
        // fsynced by the flush that follows every roll (the caller's, on a blocking thread).
        let snapshot = self.write_producer_snapshot(base, false)?;
        self.sync_at_next_flush(snapshot);
        let segment = Arc::new(Segment::create(&self.dir, base, now)?);
        self.insert_segment(segment.clone());
        Ok((segment, true))
    }
}

/// Kafka's checks on a batch from a producer that concern producer state: control batches
/// come only from the transaction coordinator, and a batch with a producer id must carry a
/// sequence number.
fn check_client_batch(position: usize, header: &BatchHeader) -> Result<(), LogError> {
    if header.is_control() {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "control batches are written by the transaction coordinator only",
        }
        .into());
    }
    if header.producer_id >= 0 && header.base_sequence < 0 {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "a batch with a producer id must have a base sequence",
        }
        .into());
    }
    Ok(())
}

/// What a follower checks of a fetched batch before writing it unchanged (Kafka's
/// `analyzeAndValidateRecords` without offset assignment): magic 2, offsets that make sense and
/// the CRC-32C. The leader validated the records; this makes sure they arrived intact. Unlike
/// `validate_batches`, the record count is not compared with the offset range: a batch the
/// leader's cleaner rewrote keeps its survivors' offsets, with holes.
fn check_replicated_batch(
    bytes: &[u8],
    position: usize,
    header: &BatchHeader,
) -> Result<(), LogError> {
    if header.magic != MAGIC_V2 {
        return Err(BatchError::UnsupportedMagic {
            position,
            magic: header.magic,
        }
        .into());
    }
    if header.base_offset < 0 || header.last_offset_delta < 0 {
        return Err(BatchError::InvalidRecord {
            position,
            reason: "negative base offset or last offset delta",
        }
        .into());
    }
    let computed = batch::crc_of(bytes);
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            position,
            stored: header.crc,
            computed,
        }
        .into());
    }
    Ok(())
}

/// Refuses an append that would take the active segment past the index formats' 32-bit file
/// positions.
fn ensure_fits(active: &Segment, total_bytes: usize, config: &LogConfig) -> Result<(), LogError> {
    if active.size() + total_bytes as u64 > u64::from(u32::MAX) {
        return Err(LogError::TooLargeForSegment {
            bytes: total_bytes,
            segment_bytes: config.segment_bytes,
        });
    }
    Ok(())
}

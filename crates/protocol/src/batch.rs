//! Reading, validating and patching the header of a v2 record batch (magic 2).
//!
//! The record data after the header stays opaque: the broker stores batches as the producer sent
//! them and only patches fields that the CRC does not cover (base offset, partition leader
//! epoch), except in LogAppendTime mode where the CRC is recomputed.
//!
//! # Layout of a v2 record batch header (61 bytes, all integers big-endian)
//! ```text
//! offset size field                 notes
//!  0     8    baseOffset   i64      offset of the first record; assigned by the broker
//!  8     4    batchLength  i32      bytes that follow this field (total size = 12 + batchLength)
//! 12     4    partitionLeaderEpoch  i32, set by the leader on append
//! 16     1    magic        i8       always 2 here
//! 17     4    crc          u32      CRC-32C (Castagnoli) over bytes 21..end of batch
//! 21     2    attributes   i16      bits 0-2 compression: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
//!                                   bit 3 timestampType (0 CreateTime, 1 LogAppendTime)
//!                                   bit 4 isTransactional, bit 5 isControl,
//!                                   bit 6 hasDeleteHorizon (compaction), others unused
//! 23     4    lastOffsetDelta i32   offset of the last record minus baseOffset
//! 27     8    baseTimestamp  i64    timestamp of the first record
//! 35     8    maxTimestamp   i64    largest record timestamp (or the append time)
//! 43     8    producerId     i64    -1 if not idempotent
//! 51     2    producerEpoch  i16
//! 53     4    baseSequence   i32
//! 57     4    recordsCount   i32
//! 61     ..   records (possibly compressed as a whole)
//! ```
//! The first 12 bytes (baseOffset + batchLength) are the "log overhead" shared by all message
//! formats; the CRC does not cover the first 21 bytes, so baseOffset and partitionLeaderEpoch can
//! be patched without recomputing it.

use crate::error::ErrorCode;

/// Size of the v2 batch header; the records start at this position.
pub const BATCH_HEADER_LEN: usize = 61;
/// baseOffset (8) + batchLength (4): the part of a batch not counted in `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
/// Smallest valid `batchLength`: a header with no records.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32;
/// The only message format this crate handles.
pub const MAGIC_V2: i8 = 2;

const BASE_OFFSET_POS: usize = 0;
const BATCH_LENGTH_POS: usize = 8;
const LEADER_EPOCH_POS: usize = 12;
const MAGIC_POS: usize = 16;
const CRC_POS: usize = 17;
/// First byte covered by the CRC.
const ATTRIBUTES_POS: usize = 21;
const LAST_OFFSET_DELTA_POS: usize = 23;
const BASE_TIMESTAMP_POS: usize = 27;
const MAX_TIMESTAMP_POS: usize = 35;
const PRODUCER_ID_POS: usize = 43;
const PRODUCER_EPOCH_POS: usize = 51;
const BASE_SEQUENCE_POS: usize = 53;
const RECORDS_COUNT_POS: usize = 57;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;
/// Highest compression codec id Kafka defines (zstd).
const MAX_COMPRESSION_CODEC: u8 = 4;

/// Why a record batch (or a concatenation of them) was rejected. `position` is the byte position
/// of the offending batch in the buffer that was checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// A Produce request carried no batch for a partition.
    #[error("empty record set")]
    Empty,
    #[error("corrupt record batch at byte {position}: {reason}")]
    Corrupt {
        position: usize,
        reason: &'static str,
    },
    /// The buffer ends inside a batch (a torn write on disk, a short record set on the wire).
    #[error(
        "record batch at byte {position} is incomplete: needs {needed} bytes, {available} present"
    )]
    Truncated {
        position: usize,
        needed: usize,
        available: usize,
    },
    #[error("record batch at byte {position}: CRC-32C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    CrcMismatch {
        position: usize,
        stored: u32,
        computed: u32,
    },
    #[error("record batch at byte {position} has magic {magic}, only magic 2 is supported")]
    UnsupportedMagic { position: usize, magic: i8 },
    #[error(
        "record batch at byte {position} is {size} bytes, larger than the limit of {max} bytes"
    )]
    TooLarge {
        position: usize,
        size: usize,
        max: usize,
    },
    #[error("record batch at byte {position} uses unknown compression codec {codec}")]
    UnsupportedCompression { position: usize, codec: u8 },
    /// Well-formed bytes whose contents break a Kafka rule (Kafka's `InvalidRecordException`).
    #[error("invalid record batch at byte {position}: {reason}")]
    InvalidRecord {
        position: usize,
        reason: &'static str,
    },
}

impl BatchError {
    /// The Kafka error code a Produce response carries for this error.
    ///
    /// Empty record sets and count/offset-range inconsistencies map to INVALID_RECORD, as Kafka's
    /// `ProduceRequest.validateRecords` and `LogValidator` throw `InvalidRecordException` for them.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            BatchError::Empty | BatchError::InvalidRecord { .. } => ErrorCode::INVALID_RECORD,
            BatchError::Corrupt { .. }
            | BatchError::Truncated { .. }
            | BatchError::CrcMismatch { .. } => ErrorCode::CORRUPT_MESSAGE,
            BatchError::UnsupportedMagic { .. } => ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
            BatchError::TooLarge { .. } => ErrorCode::MESSAGE_TOO_LARGE,
            BatchError::UnsupportedCompression { .. } => ErrorCode::UNSUPPORTED_COMPRESSION_TYPE,
        }
    }
}

/// The decoded 61-byte header of a v2 record batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Size of the whole batch in bytes, log overhead included. A negative `batch_length`
    /// (rejected by validation) counts as 0.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + usize::try_from(self.batch_length).unwrap_or(0)
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec id (attributes bits 0-2).
    pub fn compression(&self) -> u8 {
        (self.attributes & COMPRESSION_MASK) as u8
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_BIT != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }
}

fn be_i64(buf: &[u8], pos: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[pos..pos + 8]);
    i64::from_be_bytes(b)
}

fn be_i32(buf: &[u8], pos: usize) -> i32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[pos..pos + 4]);
    i32::from_be_bytes(b)
}

fn be_u32(buf: &[u8], pos: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[pos..pos + 4]);
    u32::from_be_bytes(b)
}

fn be_i16(buf: &[u8], pos: usize) -> i16 {
    i16::from_be_bytes([buf[pos], buf[pos + 1]])
}

/// Decodes the header at the start of `buf`. Needs at least [`BATCH_HEADER_LEN`] bytes; checks
/// neither the CRC nor any field value.
pub fn parse_header(buf: &[u8]) -> Result<BatchHeader, BatchError> {
    if buf.len() < BATCH_HEADER_LEN {
        return Err(BatchError::Truncated {
            position: 0,
            needed: BATCH_HEADER_LEN,
            available: buf.len(),
        });
    }
    Ok(BatchHeader {
        base_offset: be_i64(buf, BASE_OFFSET_POS),
        batch_length: be_i32(buf, BATCH_LENGTH_POS),
        partition_leader_epoch: be_i32(buf, LEADER_EPOCH_POS),
        magic: buf[MAGIC_POS] as i8,
        crc: be_u32(buf, CRC_POS),
        attributes: be_i16(buf, ATTRIBUTES_POS),
        last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_POS),
        base_timestamp: be_i64(buf, BASE_TIMESTAMP_POS),
        max_timestamp: be_i64(buf, MAX_TIMESTAMP_POS),
        producer_id: be_i64(buf, PRODUCER_ID_POS),
        producer_epoch: be_i16(buf, PRODUCER_EPOCH_POS),
        base_sequence: be_i32(buf, BASE_SEQUENCE_POS),
        records_count: be_i32(buf, RECORDS_COUNT_POS),
    })
}

/// Parses the header of the batch at `buf[position..]` and checks that the whole batch is there.
fn framed_header_at(buf: &[u8], position: usize) -> Result<BatchHeader, BatchError> {
    let rest = &buf[position..];
    let header = parse_header(rest).map_err(|_| BatchError::Truncated {
        position,
        needed: BATCH_HEADER_LEN,
        available: rest.len(),
    })?;
    if header.batch_length < MIN_BATCH_LENGTH {
        return Err(BatchError::Corrupt {
            position,
            reason: "batch length is smaller than a batch header",
        });
    }
    if header.total_len() > rest.len() {
        return Err(BatchError::Truncated {
            position,
            needed: header.total_len(),
            available: rest.len(),
        });
    }
    Ok(header)
}

/// What [`validate_batches`] learnt about a record set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSetInfo {
    pub batch_count: usize,
    /// Number of offsets the set will occupy: the sum of `last_offset_delta + 1`.
    pub record_count: i64,
    /// Largest `maxTimestamp` over the batches (-1 if all are -1).
    pub max_timestamp: i64,
    pub total_bytes: usize,
}

/// Validates a concatenation of v2 batches as received in a Produce request (or read back from a
/// segment file during recovery).
///
/// Per batch, in this order: header present and `batchLength >= 49` (Corrupt/Truncated), whole
/// batch `<= max_batch_bytes` (TooLarge; Kafka's `max.message.bytes` counts the log overhead
/// too), magic 2 (UnsupportedMagic), batch fully present (Truncated), CRC-32C (CrcMismatch),
/// compression codec 0..=4 (UnsupportedCompression), then Kafka's `LogValidator` rules:
/// `recordsCount > 0` and `recordsCount == lastOffsetDelta + 1` (InvalidRecord).
///
/// An empty buffer is [`BatchError::Empty`] (INVALID_RECORD, as Kafka answers a Produce v3+ with
/// no batch for a partition). Not checked here because they depend on the caller: Kafka's
/// "exactly one batch per partition" rule for Produce v3+, control batches from clients,
/// baseOffset 0 from clients, and `message.timestamp.*.max.ms` bounds.
pub fn validate_batches(buf: &[u8], max_batch_bytes: usize) -> Result<BatchSetInfo, BatchError> {
    if buf.is_empty() {
        return Err(BatchError::Empty);
    }
    let mut info = BatchSetInfo {
        batch_count: 0,
        record_count: 0,
        max_timestamp: -1,
        total_bytes: 0,
    };
    let mut position = 0;
    while position < buf.len() {
        let rest = &buf[position..];
        let header = parse_header(rest).map_err(|_| BatchError::Truncated {
            position,
            needed: BATCH_HEADER_LEN,
            available: rest.len(),
        })?;
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::Corrupt {
                position,
                reason: "batch length is smaller than a batch header",
            });
        }
        let size = header.total_len();
        if size > max_batch_bytes {
            return Err(BatchError::TooLarge {
                position,
                size,
                max: max_batch_bytes,
            });
        }
        if header.magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic {
                position,
                magic: header.magic,
            });
        }
        if size > rest.len() {
            return Err(BatchError::Truncated {
                position,
                needed: size,
                available: rest.len(),
            });
        }
        let computed = crc_of(&rest[..size]);
        if computed != header.crc {
            return Err(BatchError::CrcMismatch {
                position,
                stored: header.crc,
                computed,
            });
        }
        if header.compression() > MAX_COMPRESSION_CODEC {
            return Err(BatchError::UnsupportedCompression {
                position,
                codec: header.compression(),
            });
        }
        if header.records_count <= 0 {
            return Err(BatchError::InvalidRecord {
                position,
                reason: "record count must be positive",
            });
        }
        if header.last_offset_delta < 0
            || i64::from(header.records_count) != i64::from(header.last_offset_delta) + 1
        {
            return Err(BatchError::InvalidRecord {
                position,
                reason: "record count does not match the batch's offset range",
            });
        }
        info.batch_count += 1;
        info.record_count += i64::from(header.last_offset_delta) + 1;
        info.max_timestamp = info.max_timestamp.max(header.max_timestamp);
        info.total_bytes += size;
        position += size;
    }
    Ok(info)
}

/// Iterates the headers of a concatenation of batches, yielding each batch's byte position and
/// header. Checks only framing (length >= 49 and the whole batch present), not CRC or magic.
/// After the first error (typically [`BatchError::Truncated`] at a torn tail) it yields nothing.
pub fn batches(buf: &[u8]) -> impl Iterator<Item = Result<(usize, BatchHeader), BatchError>> + '_ {
    let mut position = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || position >= buf.len() {
            return None;
        }
        match framed_header_at(buf, position) {
            Ok(header) => {
                let at = position;
                position += header.total_len();
                Some(Ok((at, header)))
            }
            Err(e) => {
                failed = true;
                Some(Err(e))
            }
        }
    })
}

/// CRC-32C of a whole batch as stored in its `crc` field: over bytes 21..end.
///
/// # Panics
/// If `batch` is shorter than 21 bytes (callers pass framed batches).
pub fn crc_of(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_POS..])
}

/// Writes `offset` into the baseOffset field. Not covered by the CRC.
///
/// # Panics
/// If `header` is shorter than 8 bytes.
pub fn set_base_offset(header: &mut [u8], offset: i64) {
    header[BASE_OFFSET_POS..BASE_OFFSET_POS + 8].copy_from_slice(&offset.to_be_bytes());
}

/// Writes `epoch` into the partitionLeaderEpoch field. Not covered by the CRC.
///
/// # Panics
/// If `header` is shorter than 16 bytes.
pub fn set_partition_leader_epoch(header: &mut [u8], epoch: i32) {
    header[LEADER_EPOCH_POS..LEADER_EPOCH_POS + 4].copy_from_slice(&epoch.to_be_bytes());
}

/// Turns a whole batch into a LogAppendTime batch stamped `timestamp`: sets the timestampType
/// attribute bit, sets maxTimestamp (readers then take it as every record's timestamp) and
/// recomputes the CRC. baseTimestamp and the records are left as the producer wrote them, as
/// Kafka does.
///
/// # Panics
/// If `batch` is shorter than [`BATCH_HEADER_LEN`].
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) {
    let attributes = be_i16(batch, ATTRIBUTES_POS) | TIMESTAMP_TYPE_BIT;
    batch[ATTRIBUTES_POS..ATTRIBUTES_POS + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_POS..MAX_TIMESTAMP_POS + 8].copy_from_slice(&timestamp.to_be_bytes());
    let crc = crc_of(batch);
    batch[CRC_POS..CRC_POS + 4].copy_from_slice(&crc.to_be_bytes());
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
        TimestampType,
    };

    fn encode(n: i64, base_ts: i64, compression: Compression) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i,
                // The encoder groups records whose offset - sequence agree; base sequence -1.
                sequence: (i - 1) as i32,
                timestamp: base_ts + i * 10,
                key: Some(bytes::Bytes::from(format!("key-{i}"))),
                value: Some(bytes::Bytes::from(vec![b'v'; 50])),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    #[test]
    fn parses_header_of_encoded_batches() {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let batch = encode(5, 1000, compression);
            let h = parse_header(&batch).unwrap();
            assert_eq!(h.base_offset, 0);
            assert_eq!(h.total_len(), batch.len());
            assert_eq!(h.magic, 2);
            assert_eq!(h.last_offset_delta, 4);
            assert_eq!(h.last_offset(), 4);
            assert_eq!(h.records_count, 5);
            assert_eq!(h.base_timestamp, 1000);
            assert_eq!(h.max_timestamp, 1040);
            assert_eq!(h.producer_id, -1);
            assert_eq!(h.compression(), compression as u8);
            assert!(!h.is_log_append_time() && !h.is_transactional() && !h.is_control());
            assert_eq!(h.crc, crc_of(&batch));
            let info = validate_batches(&batch, 1 << 20).unwrap();
            assert_eq!(info.batch_count, 1);
            assert_eq!(info.record_count, 5);
            assert_eq!(info.max_timestamp, 1040);
            assert_eq!(info.total_bytes, batch.len());
        }
    }

    #[test]
    fn validates_a_concatenation() {
        let mut buf = encode(3, 10, Compression::None);
        buf.extend(encode(2, 50, Compression::Lz4));
        let info = validate_batches(&buf, 1 << 20).unwrap();
        assert_eq!(info.batch_count, 2);
        assert_eq!(info.record_count, 5);
        assert_eq!(info.max_timestamp, 60);
        let positions: Vec<usize> = batches(&buf).map(|r| r.unwrap().0).collect();
        assert_eq!(positions.len(), 2);
        assert_eq!(positions[0], 0);
        assert_eq!(positions[1], parse_header(&buf).unwrap().total_len());
    }

    #[test]
    fn rejects_bad_batches() {
        let good = encode(3, 10, Compression::None);
        assert_eq!(validate_batches(&[], 100), Err(BatchError::Empty));
        assert_eq!(
            BatchError::Empty.error_code(),
            crate::error::ErrorCode::INVALID_RECORD
        );

        // Every byte covered by the CRC, flipped, is caught.
        for pos in [21, 30, 60, good.len() - 1] {
            let mut bad = good.clone();
            bad[pos] ^= 0x40;
            let err = validate_batches(&bad, 1 << 20).unwrap_err();
            assert!(matches!(err, BatchError::CrcMismatch { .. }), "{err}");
            assert_eq!(err.error_code(), crate::error::ErrorCode::CORRUPT_MESSAGE);
        }
        // Flipping the CRC itself too.
        let mut bad = good.clone();
        bad[17] ^= 1;
        assert!(matches!(
            validate_batches(&bad, 1 << 20),
            Err(BatchError::CrcMismatch { .. })
        ));

        let mut bad = good.clone();
        bad[16] = 1;
        let err = validate_batches(&bad, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            BatchError::UnsupportedMagic {
                position: 0,
                magic: 1
            }
        );
        assert_eq!(
            err.error_code(),
            crate::error::ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
        );

        for cut in [1, 11, 12, 60, 61, good.len() - 1] {
            let err = validate_batches(&good[..cut], 1 << 20).unwrap_err();
            assert!(matches!(err, BatchError::Truncated { .. }), "{cut}: {err}");
            assert_eq!(err.error_code(), crate::error::ErrorCode::CORRUPT_MESSAGE);
        }
        // A trailing partial batch after a good one.
        let mut two = good.clone();
        two.extend_from_slice(&good[..30]);
        assert!(matches!(
            validate_batches(&two, 1 << 20),
            Err(BatchError::Truncated { position, .. }) if position == good.len()
        ));

        let err = validate_batches(&good, good.len() - 1).unwrap_err();
        assert!(matches!(err, BatchError::TooLarge { .. }));
        assert_eq!(err.error_code(), crate::error::ErrorCode::MESSAGE_TOO_LARGE);
        assert!(validate_batches(&good, good.len()).is_ok());

        let mut bad = good.clone();
        bad[8..12].copy_from_slice(&10i32.to_be_bytes());
        assert!(matches!(
            validate_batches(&bad, 1 << 20),
            Err(BatchError::Corrupt { .. })
        ));

        let mut bad = good.clone();
        bad[22] |= 7;
        let crc = crc_of(&bad);
        bad[17..21].copy_from_slice(&crc.to_be_bytes());
        let err = validate_batches(&bad, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            BatchError::UnsupportedCompression {
                position: 0,
                codec: 7
            }
        );
        assert_eq!(
            err.error_code(),
            crate::error::ErrorCode::UNSUPPORTED_COMPRESSION_TYPE
        );

        let mut bad = good.clone();
        bad[57..61].copy_from_slice(&7i32.to_be_bytes());
        let crc = crc_of(&bad);
        bad[17..21].copy_from_slice(&crc.to_be_bytes());
        let err = validate_batches(&bad, 1 << 20).unwrap_err();
        assert!(matches!(err, BatchError::InvalidRecord { .. }));
        assert_eq!(err.error_code(), crate::error::ErrorCode::INVALID_RECORD);
    }

    #[test]
    fn iterator_stops_at_torn_tail() {
        let mut buf = encode(3, 10, Compression::None);
        let first = buf.len();
        buf.extend(encode(2, 50, Compression::None));
        buf.truncate(buf.len() - 1);
        let items: Vec<_> = batches(&buf).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().0, 0);
        assert!(matches!(
            items[1],
            Err(BatchError::Truncated { position, .. }) if position == first
        ));
        assert_eq!(batches(&[]).count(), 0);
    }

    #[test]
    fn patches_keep_crc_valid() {
        for compression in [Compression::None, Compression::Zstd] {
            let mut batch = encode(4, 100, compression);
            set_base_offset(&mut batch[..BATCH_HEADER_LEN], 1234);
            set_partition_leader_epoch(&mut batch[..BATCH_HEADER_LEN], 7);
            validate_batches(&batch, 1 << 20).unwrap();
            let h = parse_header(&batch).unwrap();
            assert_eq!(h.base_offset, 1234);
            assert_eq!(h.partition_leader_epoch, 7);
            assert_eq!(h.last_offset(), 1237);

            set_log_append_time(&mut batch, 99_999);
            validate_batches(&batch, 1 << 20).unwrap();
            let h = parse_header(&batch).unwrap();
            assert!(h.is_log_append_time());
            assert_eq!(h.max_timestamp, 99_999);
            assert_eq!(h.compression(), compression as u8);

            // kafka-protocol agrees the batch is still well formed.
            let mut bytes = bytes::Bytes::from(batch);
            let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
            assert_eq!(set.records.len(), 4);
            assert_eq!(set.records[3].offset, 1237);
            assert_eq!(set.records[0].timestamp_type, TimestampType::LogAppend);
        }
    }
}

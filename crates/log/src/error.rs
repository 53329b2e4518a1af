//! The log's error type. The broker turns it into a Kafka error code with [`LogError::error_code`].

use std::path::PathBuf;

use sluice_protocol::batch::BatchError;
use sluice_protocol::error::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    /// `append` was given bytes that are not whole v2 batches.
    #[error("invalid records: {0}")]
    InvalidRecords(#[from] BatchError),
    /// Stored data that cannot be read back (a batch that fails to decode, a bad checkpoint).
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// An append would put a relative offset or file position out of the index formats' range.
    #[error("append of {bytes} bytes does not fit in one segment (segment.bytes {segment_bytes})")]
    TooLargeForSegment { bytes: usize, segment_bytes: u64 },
    #[error("the log has been closed")]
    Closed,
    /// A batch or marker of a producer epoch older than the one the partition knows.
    #[error(
        "producer {producer_id} has epoch {epoch}, older than the current epoch {current_epoch}"
    )]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current_epoch: i16,
    },
    /// A batch whose first sequence does not follow the producer's last one (a gap, or a new
    /// epoch not starting at 0).
    #[error("producer {producer_id} epoch {epoch}: sequence {first_sequence} out of order, expected {expected_sequence}")]
    OutOfOrderSequence {
        producer_id: i64,
        epoch: i16,
        first_sequence: i32,
        expected_sequence: i32,
    },
    /// A producer the partition has no state for, whose first sequence is not 0 (its state
    /// expired, or the id was never allocated).
    #[error(
        "no state for producer {producer_id}, whose batch starts at sequence {first_sequence}"
    )]
    UnknownProducerId {
        producer_id: i64,
        first_sequence: i32,
    },
    #[error("producer {producer_id}: {reason}")]
    InvalidTxnState {
        producer_id: i64,
        reason: &'static str,
    },
    /// A transaction marker from a coordinator epoch older than the last marker's.
    #[error("marker for producer {producer_id} has coordinator epoch {coordinator_epoch}, older than {current_coordinator_epoch}")]
    TransactionCoordinatorFenced {
        producer_id: i64,
        coordinator_epoch: i32,
        current_coordinator_epoch: i32,
    },
    /// A follower append whose first batch starts below the log end offset (Kafka's
    /// `UnexpectedAppendOffsetException`): the follower's log and the fetched data overlap.
    /// `first_offset`..=`last_offset` is the first batch's offset range.
    #[error("follower append starts at offset {first_offset} (first batch ends at {last_offset}), below the log end offset {log_end_offset}")]
    UnexpectedAppendOffset {
        log_end_offset: i64,
        first_offset: i64,
        last_offset: i64,
    },
    /// A follower append whose batches' offsets do not increase (Kafka's
    /// `OffsetsOutOfOrderException`): the batch at byte `position` starts at `base_offset`, not
    /// above the previous batch's last offset.
    #[error("follower append: batch at byte {position} starts at offset {base_offset}, not after the previous batch's last offset {previous_last_offset}")]
    OffsetsOutOfOrder {
        position: usize,
        base_offset: i64,
        previous_last_offset: i64,
    },
}

impl LogError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io { path, source }
    }

    /// The Kafka error code for this error in a response.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::OffsetOutOfRange { .. } => ErrorCode::OFFSET_OUT_OF_RANGE,
            LogError::InvalidRecords(e) => e.error_code(),
            LogError::TooLargeForSegment { .. } => ErrorCode::RECORD_LIST_TOO_LARGE,
            LogError::Closed => ErrorCode::NOT_LEADER_OR_FOLLOWER,
            LogError::Io { .. } | LogError::Corrupt { .. } => ErrorCode::KAFKA_STORAGE_ERROR,
            LogError::InvalidProducerEpoch { .. } => ErrorCode::INVALID_PRODUCER_EPOCH,
            LogError::OutOfOrderSequence { .. } => ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            LogError::UnknownProducerId { .. } => ErrorCode::UNKNOWN_PRODUCER_ID,
            LogError::InvalidTxnState { .. } => ErrorCode::INVALID_TXN_STATE,
            LogError::TransactionCoordinatorFenced { .. } => {
                ErrorCode::TRANSACTION_COORDINATOR_FENCED
            }
            // Kafka's exceptions for these are not API errors: a follower never answers with
            // them, and anything else sees an unknown server error.
            LogError::UnexpectedAppendOffset { .. } | LogError::OffsetsOutOfOrder { .. } => {
                ErrorCode::UNKNOWN_SERVER_ERROR
            }
        }
    }
}

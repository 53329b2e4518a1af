//! What the transaction coordinator asks its caller to do: records to append to
//! `__transaction_state`, and COMMIT/ABORT markers to write once they are committed.

use sluice_protocol::error::ErrorCode;

/// COMMIT or ABORT markers to write to every partition of a prepared transaction; once they
/// are written, [`crate::TxnCoordinator::complete_transaction`] completes it.
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
    /// Once the records before are committed: write these markers, then complete the
    /// transaction.
    Markers(Markers),
}

/// What a write of the transaction coordinator answers once its records are committed (the
/// reply of its shard in the broker's coordinator runtime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnReply {
    /// The request's outcome; for InitProducerId, the producer id and epoch.
    pub result: Result<(i64, i16), ErrorCode>,
    /// Transactions the write prepared: their markers go out now, then each completes.
    pub markers: Vec<Markers>,
}

impl TxnReply {
    /// A reply that is only an error: no markers (what the write prepared did not happen, or
    /// is not known to be committed).
    pub fn error(code: ErrorCode) -> TxnReply {
        TxnReply {
            result: Err(code),
            markers: Vec::new(),
        }
    }

    /// The outcome of a request that answers no producer id.
    pub fn code(&self) -> ErrorCode {
        match self.result {
            Ok(_) => ErrorCode::NONE,
            Err(code) => code,
        }
    }
}

/// A record for a `__transaction_state` partition: (partition, key, value).
pub type PartitionRecord = (i32, bytes::Bytes, Option<bytes::Bytes>);

/// Splits a handler's effects into its records and its markers.
pub fn split(effects: Vec<Effect>) -> (Vec<PartitionRecord>, Vec<Markers>) {
    let mut records = Vec::new();
    let mut markers = Vec::new();
    for effect in effects {
        match effect {
            Effect::Write {
                partition,
                key,
                value,
            } => records.push((partition, key, value)),
            Effect::Markers(m) => markers.push(m),
        }
    }
    (records, markers)
}

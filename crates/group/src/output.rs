//! What a group coordinator call produces: records to append to `__consumer_offsets` and
//! replies for the callers, named by their tokens.

use bytes::Bytes;
use kafka_protocol::messages::{JoinGroupResponse, LeaveGroupResponse, SyncGroupResponse};
use sluice_protocol::error::ErrorCode;

use crate::records::{self, RecordKey, RecordValue};

pub use sluice_coordinator::Token;

/// Who sent a request.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub client_id: String,
    /// As Kafka shows it: "/127.0.0.1".
    pub client_host: String,
}

/// Records to append to one `__consumer_offsets` partition: (key, value; `None` = tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub partition: i32,
    pub records: Vec<(Bytes, Option<Bytes>)>,
}

/// A reply to a request, for the caller named by its token.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Join(JoinGroupResponse),
    Sync(SyncGroupResponse),
    /// OffsetCommit: per topic, per partition, the error.
    Commit(Vec<(String, Vec<(i32, ErrorCode)>)>),
    /// A reply that is only an error code (Heartbeat, a transaction marker).
    Code(ErrorCode),
    Leave(LeaveGroupResponse),
    /// DeleteGroups: per group, the error.
    Delete(Vec<(String, ErrorCode)>),
    /// OffsetDelete: top-level error, then per topic, per partition.
    OffsetDelete(ErrorCode, Vec<(String, Vec<(i32, ErrorCode)>)>),
    ConsumerHeartbeat(kafka_protocol::messages::ConsumerGroupHeartbeatResponse),
}

impl Reply {
    /// The same reply with every error set to `code`: used when the records it depends on
    /// could not be written.
    pub fn failed(self, code: ErrorCode) -> Reply {
        match self {
            Reply::Join(r) => Reply::Join(r.with_error_code(code.0)),
            Reply::Sync(r) => Reply::Sync(r.with_error_code(code.0).with_assignment(Bytes::new())),
            Reply::Commit(topics) => Reply::Commit(
                topics
                    .into_iter()
                    .map(|(t, ps)| (t, ps.into_iter().map(|(p, _)| (p, code)).collect()))
                    .collect(),
            ),
            Reply::Code(_) => Reply::Code(code),
            Reply::Leave(r) => Reply::Leave(r.with_error_code(code.0)),
            Reply::Delete(gs) => Reply::Delete(gs.into_iter().map(|(g, _)| (g, code)).collect()),
            Reply::OffsetDelete(_, topics) => Reply::OffsetDelete(code, topics),
            Reply::ConsumerHeartbeat(r) => Reply::ConsumerHeartbeat(r.with_error_code(code.0)),
        }
    }
}

/// What a call produced: records to write first, then replies to send.
#[derive(Debug, Default)]
pub struct Output {
    pub writes: Vec<Write>,
    pub replies: Vec<(Token, Reply)>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.replies.is_empty()
    }

    pub(crate) fn reply(&mut self, token: Token, reply: Reply) {
        self.replies.push((token, reply));
    }

    pub(crate) fn write(&mut self, partition: i32, key: &RecordKey, value: Option<&RecordValue>) {
        let record = (records::encode_key(key), value.map(records::encode_value));
        match self.writes.iter_mut().find(|w| w.partition == partition) {
            Some(w) => w.records.push(record),
            None => self.writes.push(Write {
                partition,
                records: vec![record],
            }),
        }
    }
}

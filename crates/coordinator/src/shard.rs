//! The contract between a coordinator state machine and the runtime that runs it (the broker's
//! `coordinator` module): one state machine per partition of the internal topic that the
//! broker leads (a shard).
//!
//! A write handler runs against the shard's latest state and returns a [`WriteOutput`]:
//! records for the shard's partition and replies by [`Token`]. The runtime frames every
//! handler with [`CoordinatorShard::begin_write`], appends the records, and sends the replies
//! only once the records (and everything written before them) are committed, when it calls
//! [`CoordinatorShard::commit_through`]. If the append fails, it calls
//! [`CoordinatorShard::revert_from`] and the shard's state is what it was before the write.
//! Reads look at committed state only (see [`crate::timeline`]).

use bytes::Bytes;
use sluice_protocol::error::ErrorCode;

use crate::fields::RecordError;
use crate::timeline::WriteId;

/// Names the caller of a request, so that a reply produced by a later write (a JoinGroup
/// completed by another member's join) finds its way back.
pub type Token = u64;

/// One keyed record of an internal topic: (key, value); a `None` value is a tombstone.
pub type KeyedRecord = (Bytes, Option<Bytes>);

/// What a write handler produced.
#[derive(Debug)]
pub struct WriteOutput<R> {
    /// Records for the shard's partition, in order.
    pub records: Vec<KeyedRecord>,
    /// Replies: the caller's own, and those of requests parked by earlier writes.
    pub replies: Vec<(Token, R)>,
}

impl<R> Default for WriteOutput<R> {
    fn default() -> Self {
        WriteOutput {
            records: Vec::new(),
            replies: Vec::new(),
        }
    }
}

/// A coordinator state machine serving one partition of its internal topic.
///
/// Contract: every change a handler makes is recorded against the write begun last, so that
/// [`CoordinatorShard::revert_from`] undoes it exactly; a handler answers its own token or
/// parks it in the state (to answer it from a later write, or from
/// [`CoordinatorShard::unload`]).
pub trait CoordinatorShard: Send + 'static {
    /// What a request gets back.
    type Reply: Send + 'static;

    /// The reply for a request whose write failed before any reply was produced for it (a
    /// parked request whose state was rolled back, a shard unloaded): an error only.
    fn error_reply(code: ErrorCode) -> Self::Reply;

    /// `reply` with every error set to `code`: the write it came from failed or timed out.
    fn fail_reply(reply: Self::Reply, code: ErrorCode) -> Self::Reply;

    /// Applies one record of the partition, in log order (loading).
    fn replay(&mut self, key: &[u8], value: Option<&[u8]>, now_ms: i64) -> Result<(), RecordError>;

    /// The replay of `partition` is complete: its keys are served from now on.
    fn finish_loading(&mut self, partition: i32);

    /// Changes from now on belong to write `id` (ids go up).
    fn begin_write(&mut self, id: WriteId);

    /// Writes up to and including `id` are committed.
    fn commit_through(&mut self, id: WriteId);

    /// Write `id` and every later one failed: the state returns to what it was before `id`.
    fn revert_from(&mut self, id: WriteId);

    /// The broker no longer leads `partition`: everything of it is dropped, and every request
    /// parked on it is answered (NOT_COORDINATOR).
    fn unload(&mut self, partition: i32) -> Vec<(Token, Self::Reply)>;
}

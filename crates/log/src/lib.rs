//! sluice-log: the storage engine. A partition's data is a directory of segments, each a file of
//! Kafka v2 record batches with a sparse offset index and a time index, in Kafka's on-disk
//! formats. Synchronous and thread-safe: the async broker calls appends and reads directly and
//! fsyncs ([`Log::flush`]) from a blocking thread.
//!
//! # Layout
//! - `log`: [`Log`], one partition: its fields, invariants and lock order, open/close. Its
//!   subsystems are `impl Log` blocks in `log/`: `load` (directory scan and recovery at open),
//!   `append` (offset assignment, follower appends, markers, rolling), `flush` (group commit),
//!   `read` (reads, timestamp lookups), `truncate` (truncation, DeleteRecords), `retention`
//!   and `compaction` (the passes), `leader_epochs` and `producers` (the leader epoch cache and
//!   producer state as the log changes).
//! - `segment`: one segment (`.log` file + indexes), positional reads, vectored appends.
//! - `offset_index`, `time_index`: the `.index` and `.timeindex` files (layouts in their docs).
//! - `recovery`: rebuilding a segment's indexes and state, truncating a torn tail.
//! - `producer_state`: idempotent/transactional producer state per partition, the rules an
//!   append passes ([`AppendOrigin`]), [`ProducerInfo`] for DescribeProducers;
//!   `producer_state/snapshot`: the snapshot files; `producer_state/tests`: its unit tests.
//! - `txn_index`: the `.txnindex` file of aborted transactions per segment.
//! - `leader_epoch_cache`: the `leader-epoch-checkpoint` file, leader epoch -> first offset
//!   (KIP-101/KIP-279), behind [`Log::end_offset_for_epoch`].
//! - `marker`: transaction marker control batches (COMMIT/ABORT).
//! - `retention`: which segments `retention.ms` / `retention.bytes` delete.
//! - `cleaner`: log compaction ([`Log::clean`], [`CleanResult`]) and its crash-safe swap.
//! - `record_codec`: decode/encode of the records in a v2 batch (ordered headers), used by the
//!   cleaner to rewrite batches.
//! - `checkpoint`: `log-start-offset.checkpoint`, `cleaner-offset.checkpoint` and the
//!   clean-shutdown marker.
//! - `config`: [`LogConfig`] (Kafka's topic-level names and defaults).
//! - `clock`: [`Clock`], [`SystemClock`], [`ManualClock`].
//! - `error`: [`LogError`].
//!
//! # Partition directory
//! ```text
//! 00000000000000000000.log        batches with offsets [0, next segment's base)
//! 00000000000000000000.index      offset index (8-byte entries)
//! 00000000000000000000.timeindex  time index (12-byte entries)
//! 00000000000000000000.txnindex   aborted transactions with a marker in the segment (34 bytes
//!                                 each; only once there is one)
//! 00000000000000001234.snapshot   producer state after every batch below offset 1234 (at
//!                                 each roll and at close)
//! 00000000000000001234.log ...    later segments; the last one is the active segment
//! log-start-offset.checkpoint     "0\n<log start offset>\n"
//! leader-epoch-checkpoint         "0\n<count>\n<epoch> <start offset>\n..." (Kafka's layout)
//! .clean-shutdown                 present only while the log is cleanly closed
//! cleaner-offset.checkpoint       "0\n<first dirty offset>\n" (compacted topics)
//! *.cleaned, *.swap               a cleaner rewrite in progress (finished or dropped on open)
//! *.deleted                       segment files awaiting file.delete.delay.ms (removed on open)
//! *.tmp                           checkpoint or snapshot being written (removed on open)
//! ```
//!
//! # Rules (Kafka's)
//! - Append: batch i of an append gets base offset = log end offset; baseOffset and
//!   partitionLeaderEpoch are patched in a 61-byte header copy and the rest of the batch is
//!   written from the caller's buffer with vectored writes. Under LogAppendTime the batch is
//!   copied, stamped and its CRC recomputed. A new segment is rolled first when the append would
//!   exceed `segment.bytes`, the segment's first batch is older than `segment.ms` (by record
//!   timestamps, or by clock when batches carry none), an index is full (`segment.index.bytes`),
//!   or a relative offset would overflow i32.
//! - Follower append ([`Log::append_as_follower`]): the leader's batches are checked (framing,
//!   magic, CRC-32C) and written unchanged, offsets and partitionLeaderEpoch included; the first
//!   must not start below the log end offset and offsets must increase (gaps are fine: the
//!   leader's log may be compacted). Producer state follows without the leader's checks.
//! - Leader epochs: a batch whose partitionLeaderEpoch differs from the cache's latest adds
//!   (epoch, base offset) to `leader-epoch-checkpoint`; truncation and log start moves cut it.
//! - Read: whole batches as stored, from the batch holding the requested offset, from one
//!   segment per call, never a batch starting at or after `max_offset` (the high watermark), at
//!   most `max_bytes` except that the first batch is always whole when `min_one_batch` (KIP-74).
//! - Recovery: after an unclean shutdown the active segment is revalidated batch by batch
//!   (length, magic, offsets, CRC-32C) and cut at the first bad batch; indexes of every segment
//!   are sanity-checked and rebuilt when missing or corrupt.
//! - Producer state: batches with a producer id are checked (sequence, epoch, transaction
//!   rules) and recorded under the append lock, atomically with offset assignment; a duplicate
//!   is answered with the original offsets and not written. Open loads the newest snapshot at
//!   or below the log end and replays the batches after it, so a crash loses no state.
#![forbid(unsafe_code)]

mod checkpoint;
mod cleaner;
mod clock;
mod config;
mod error;
mod leader_epoch_cache;
mod log;
mod marker;
mod offset_index;
mod producer_state;
pub mod record_codec;
mod recovery;
mod retention;
mod segment;
mod time_index;
mod txn_index;

pub use cleaner::CleanResult;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::LogConfig;
pub use error::LogError;
pub use log::{AppendInfo, Log, ReadResult};
pub use producer_state::{AppendOrigin, ProducerInfo};
pub use retention::RetentionResult;

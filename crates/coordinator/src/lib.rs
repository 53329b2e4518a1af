//! sluice-coordinator: what the coordinator state machines (`sluice-group`, `sluice-txn`) and
//! the runtime that runs them share, free of I/O.
//!
//! # Layout
//! - `topics`: the internal topics' names and [`partition_for`] (which partition holds a key).
//! - `ownership`: which partitions of its internal topic a state machine serves (Owned,
//!   Loading, NotOwned) and the errors requests for the others answer.
//! - `fields`: the field encodings of Kafka's coordinator record schemas and [`RecordError`].
//! - `timeline`: [`TimelineMap`], a map readable as of the last committed write, whose
//!   uncommitted changes can be undone.
//! - `shard`: [`CoordinatorShard`], the contract between a state machine serving one partition
//!   and the runtime: write handlers return records and replies, the runtime commits or
//!   reverts them.
#![forbid(unsafe_code)]

pub mod fields;
pub mod ownership;
pub mod shard;
pub mod timeline;
pub mod topics;

pub use fields::RecordError;
pub use ownership::{Ownership, Partitions};
pub use shard::{CoordinatorShard, KeyedRecord, Token, WriteOutput};
pub use timeline::{TimelineMap, WriteId};
pub use topics::{partition_for, OFFSETS_TOPIC, TXN_STATE_TOPIC};

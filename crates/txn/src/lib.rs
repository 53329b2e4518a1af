//! sluice-txn: the transaction coordinator as a state machine, free of I/O.
//!
//! Requests and the time go in; [`Effect`]s come out, in the order the caller must carry them
//! out: records for `__transaction_state`, and COMMIT/ABORT markers for the partitions of a
//! prepared transaction, written once those records are committed and followed by
//! [`TxnCoordinator::complete_transaction`]. Replaying `__transaction_state` rebuilds the
//! state; [`TxnCoordinator::recover`] then names the transactions a crash left prepared. A
//! broker that becomes the leader of a partition takes over its transactional ids the same way,
//! framed by [`TxnCoordinator::begin_loading`] and [`TxnCoordinator::finish_loading`];
//! [`TxnCoordinator::unload`] when it stops leading it.
//!
//! The broker runs one [`TxnCoordinator`] per `__transaction_state` partition it leads, as a
//! shard of its coordinator runtime ([`sluice_coordinator::CoordinatorShard`], replies
//! [`TxnReply`]).
//!
//! # Layout
//! - `coordinator`: [`TxnCoordinator`]: transactional ids, producer epochs, the transaction
//!   states (on timeline maps), ownership, loading, the timer, the shard contract.
//! - `state`: [`TxnState`], Kafka's transaction states.
//! - `effect`: what the coordinator asks of its caller ([`Effect`], [`Markers`], [`TxnReply`]).
//! - `records`: the `__transaction_state` key and value formats.
//!
//! Partition ownership, `partition_for`, the topic names and the record field codecs come
//! from `sluice-coordinator`, shared with the group coordinator.
#![forbid(unsafe_code)]

pub mod coordinator;
pub mod effect;
pub mod records;
pub mod state;

pub use coordinator::{TxnConfig, TxnCoordinator, TxnMeta};
pub use effect::{Effect, Markers, TxnReply};
pub use sluice_coordinator::{Ownership, OFFSETS_TOPIC};
pub use state::TxnState;

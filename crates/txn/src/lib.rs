//! sluice-txn: the transaction coordinator as a state machine, free of I/O.
//!
//! Requests and the time go in; [`Effect`]s come out, in the order the caller must carry them
//! out: records for `__transaction_state`, and COMMIT/ABORT markers for the partitions of a
//! transaction. Replaying `__transaction_state` rebuilds the state; [`TxnCoordinator::recover`]
//! then finishes transactions a crash left half-way. A broker that becomes the leader of a
//! partition takes over its transactional ids the same way, framed by
//! [`TxnCoordinator::begin_loading`] and [`TxnCoordinator::finish_loading`];
//! [`TxnCoordinator::unload`] when it stops leading it.
//!
//! # Layout
//! - `coordinator`: transactional ids, producer epochs, the transaction states.
//! - `ownership`: which `__transaction_state` partitions this coordinator serves (Owned,
//!   Loading, NotOwned); requests for transactional ids of the others answer NOT_COORDINATOR
//!   or COORDINATOR_LOAD_IN_PROGRESS.
//! - `records`: the `__transaction_state` key and value formats.
#![forbid(unsafe_code)]

pub mod coordinator;
pub mod ownership;
pub mod records;

pub use coordinator::{
    Effect, Markers, TxnConfig, TxnCoordinator, TxnMeta, TxnState, OFFSETS_TOPIC,
};
pub use ownership::Ownership;

//! sluice-txn: the transaction coordinator as a state machine, free of I/O.
//!
//! Requests and the time go in; [`Effect`]s come out, in the order the caller must carry them
//! out: records for `__transaction_state`, and COMMIT/ABORT markers for the partitions of a
//! transaction. Replaying `__transaction_state` rebuilds the state; [`TxnCoordinator::recover`]
//! then finishes transactions a crash left half-way.
//!
//! # Layout
//! - `coordinator`: transactional ids, producer epochs, the transaction states.
//! - `records`: the `__transaction_state` key and value formats.

pub mod coordinator;
pub mod records;

pub use coordinator::{
    Effect, Markers, TxnConfig, TxnCoordinator, TxnMeta, TxnState, OFFSETS_TOPIC,
};

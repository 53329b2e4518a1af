//! The coordinators, above `cluster`: imports `crate::config`, `crate::metrics`,
//! `crate::replicas` and `crate::cluster` only, and never the server's state; each service gets the handles it uses.
//!
//! - `runtime`: [`CoordinatorRuntime`], the I/O around a coordinator's state machines: one shard
//!   per internal-topic partition this broker leads, writes made visible and answered once
//!   committed, undone when they fail.
//! - `group_service`: [`GroupService`], the group coordinator (`sluice_group`) on the runtime.
//! - `txn_service`: [`TxnService`], the transaction coordinator (`sluice_txn`) on the runtime;
//!   `marker_writer`: [`MarkerWriter`], its transactions' markers; `txn_verification`: asking
//!   another broker's transaction coordinator (KIP-890).
//! - `internal_topics`: [`InternalTopics`], creating `__consumer_offsets` and
//!   `__transaction_state`.
//! - `leadership`: the coordinators following leadership of their partitions.
//! - `schema_service`: [`SchemaService`], the schema registry (`sluice_schema`) on the runtime
//!   (its writer) and a read view of `_schemas` on every replica.
//! - `consumer_lag`: [`ConsumerLag`], the lag metrics of the groups this broker coordinates.

mod consumer_lag;
mod group_service;
mod internal_topics;
mod leadership;
mod marker_writer;
mod runtime;
mod schema_service;
mod txn_service;
mod txn_verification;

pub use consumer_lag::ConsumerLag;
pub use group_service::GroupService;
pub use internal_topics::InternalTopics;
pub use leadership::follow_leadership;
pub use marker_writer::MarkerWriter;
pub use runtime::CoordinatorRuntime;
pub use schema_service::{Route, SchemaService, SCHEMA_REGISTRY_ENDPOINT};
pub use txn_service::{TxnOutcome, TxnService};
pub use txn_verification::verify_with_remote_coordinator;

/// Wall-clock milliseconds, the coordinators' time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

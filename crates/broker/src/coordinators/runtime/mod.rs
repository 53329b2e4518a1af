//! The coordinator runtime: the I/O around the coordinators' state machines (groups,
//! transactions; later the schema registry and share groups), with Kafka's CoordinatorRuntime
//! semantics.
//!
//! - **Shards.** One shard per partition of the coordinator's internal topic that this broker
//!   leads, each with its own lock (no lock spans shards). Loading a shard replays its
//!   partition on the blocking pool while a placeholder answers COORDINATOR_LOAD_IN_PROGRESS;
//!   unloading answers everything waiting on it NOT_COORDINATOR. Leadership changes come from
//!   `super::leadership`.
//! - **Writes.** A handler runs against the shard's latest state and returns records and
//!   replies ([`sluice_coordinator::WriteOutput`]). The records are appended to the partition
//!   as leader, with coordinator origin, refused with NOT_ENOUGH_REPLICAS when the ISR is
//!   below `min.insync.replicas` (as an acks=all produce is). The write then waits in the
//!   shard's queue: its replies go out, and its changes become visible to reads, only once the
//!   high watermark passes its records (and the fsync the flush policy asked for succeeded). A
//!   write without records that follows writes still pending commits with them (it may have
//!   read what they changed); otherwise it commits at once.
//! - **Failures.** When the append is refused or fails, the write is undone (its shard's
//!   timeline reverts to before it, [`sluice_coordinator::timeline`]) and its caller answered
//!   the error. When a write fails later (its fsync fails, or its records are truncated away),
//!   it and every write after it on the shard are undone and failed, as Kafka reverts its
//!   timeline to the failed offset. Errors are mapped as Kafka's coordinators map them
//!   ([`normalize_error`]).
//! - **Timeouts.** Replies still waiting after the write timeout answer the timeout (mapped to
//!   COORDINATOR_NOT_AVAILABLE), but the write stays pending: it becomes visible if it commits
//!   later, and is undone if the shard fails or is unloaded first.
//! - **Reads** see committed state only: the state machines read their timeline maps' committed
//!   view.
//! - **I/O.** Appends are page-cache writes, done under the shard's lock so that the log holds
//!   records in write order; fsyncs and the replay's reads run on the blocking pool, never on
//!   async workers or under a lock. A committer task per shard follows the high watermark.
//!
//! Files: `coordinator_runtime` ([`CoordinatorRuntime`]: the shards and the entry points),
//! `shard` (one shard's state, queue and waiting callers), `shard_log` (appends and fsyncs),
//! `committer` (the task that commits), `loader` (replay at load).

mod committer;
mod coordinator_runtime;
mod loader;
mod shard;
mod shard_log;
#[cfg(test)]
mod tests;

use sluice_protocol::error::ErrorCode;

pub use coordinator_runtime::CoordinatorRuntime;
pub use shard_log::MinInsyncReplicas;

/// How long a write's replies wait for its records to be committed before they answer the
/// timeout (Kafka's `offsets.commit.timeout.ms` is 5 s; replication here gets 10 s, as the
/// coordinators always had).
pub const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The error a request answers when its coordinator write failed with `code`, as Kafka's
/// group and transaction coordinators map append errors: the client retries on
/// COORDINATOR_NOT_AVAILABLE, looks the coordinator up again on NOT_COORDINATOR.
pub fn normalize_error(code: ErrorCode) -> ErrorCode {
    match code {
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        | ErrorCode::NOT_ENOUGH_REPLICAS
        | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        | ErrorCode::REQUEST_TIMED_OUT => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::KAFKA_STORAGE_ERROR => {
            ErrorCode::NOT_COORDINATOR
        }
        ErrorCode::MESSAGE_TOO_LARGE
        | ErrorCode::RECORD_LIST_TOO_LARGE
        | ErrorCode::INVALID_FETCH_SIZE => ErrorCode::UNKNOWN_SERVER_ERROR,
        other => other,
    }
}

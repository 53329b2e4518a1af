//! [`TxnSettings`]: the transaction coordinator's settings and those of its internal topic,
//! `__transaction_state`.

use super::broker_config::BrokerConfig;

#[derive(Clone, Debug)]
pub struct TxnSettings {
    /// The state machine's settings (`transaction.state.log.num.partitions`,
    /// `transaction.max.timeout.ms`, `transactional.id.expiration.ms`).
    pub coordinator: sluice_txn::TxnConfig,
    /// `transaction.state.log.replication.factor` (capped by the live brokers).
    pub state_log_replication_factor: i16,
    /// `transaction.state.log.segment.bytes`.
    pub state_log_segment_bytes: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often timed-out
    /// transactions are looked for.
    pub abort_timed_out_transaction_cleanup_interval_ms: u64,
}

impl TxnSettings {
    pub(super) fn from_config(config: &BrokerConfig) -> TxnSettings {
        let int = |key| config.int(key);
        TxnSettings {
            coordinator: sluice_txn::TxnConfig {
                num_partitions: int("transaction.state.log.num.partitions") as i32,
                max_timeout_ms: int("transaction.max.timeout.ms") as i32,
                id_expiration_ms: int("transactional.id.expiration.ms"),
            },
            state_log_replication_factor: int("transaction.state.log.replication.factor") as i16,
            state_log_segment_bytes: int("transaction.state.log.segment.bytes"),
            abort_timed_out_transaction_cleanup_interval_ms: int(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            ) as u64,
        }
    }
}

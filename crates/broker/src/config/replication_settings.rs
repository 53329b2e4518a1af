//! [`ReplicationSettings`]: how followers fetch from leaders and when a follower leaves the
//! ISR, from Kafka's `replica.*` keys.

use std::time::Duration;

use super::broker_config::BrokerConfig;

/// Replication settings, from Kafka's broker config names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// `replica.lag.time.max.ms`: a follower that has not caught up for this long leaves the
    /// ISR.
    pub lag_time_max: Duration,
    /// `replica.fetch.wait.max.ms`.
    pub fetch_wait_max_ms: i32,
    /// `replica.fetch.max.bytes` (per partition).
    pub fetch_max_bytes: i32,
    /// `replica.fetch.response.max.bytes`.
    pub fetch_response_max_bytes: i32,
    /// `replica.fetch.backoff.ms`: pause after a failed fetch.
    pub fetch_backoff: Duration,
    /// `replica.socket.timeout.ms`.
    pub socket_timeout: Duration,
}

impl ReplicationSettings {
    pub(super) fn from_config(config: &BrokerConfig) -> ReplicationSettings {
        let ms = |key| Duration::from_millis(config.int(key) as u64);
        ReplicationSettings {
            lag_time_max: ms("replica.lag.time.max.ms"),
            fetch_wait_max_ms: config.int("replica.fetch.wait.max.ms") as i32,
            fetch_max_bytes: config.int("replica.fetch.max.bytes") as i32,
            fetch_response_max_bytes: config.int("replica.fetch.response.max.bytes") as i32,
            fetch_backoff: ms("replica.fetch.backoff.ms"),
            socket_timeout: ms("replica.socket.timeout.ms"),
        }
    }
}

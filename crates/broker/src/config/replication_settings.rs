//! [`ReplicationSettings`]: how followers fetch from leaders and when a follower leaves the
//! ISR, from Kafka's `replica.*` keys.

use std::time::Duration;

use sluice_security::quota::QuotaWindow;

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
    /// The replication throttles' rates as server.properties sets them (dynamic values
    /// override them: see `LiveBrokerConfig::replication_throttle`).
    pub throttle: ReplicationThrottleRates,
    /// `replication.quota.window.num` samples of `replication.quota.window.size.seconds`: what
    /// the throttled replicas' byte rate is measured over.
    pub throttle_window: QuotaWindow,
    /// `alter.log.dirs.replication.quota.window.num` samples of
    /// `alter.log.dirs.replication.quota.window.size.seconds`: what the moves between log
    /// directories are measured over.
    pub alter_log_dirs_throttle_window: QuotaWindow,
}

/// `leader.replication.throttled.rate`, `follower.replication.throttled.rate` and
/// `replica.alter.log.dirs.io.max.bytes.per.second`, bytes per second (`i64::MAX`, Kafka's
/// default, is no throttle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationThrottleRates {
    pub leader: u64,
    pub follower: u64,
    pub alter_log_dirs: u64,
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
            throttle: ReplicationThrottleRates {
                // At least 0 (the key table's checks).
                leader: config.int("leader.replication.throttled.rate").max(0) as u64,
                follower: config.int("follower.replication.throttled.rate").max(0) as u64,
                alter_log_dirs: config
                    .int("replica.alter.log.dirs.io.max.bytes.per.second")
                    .max(0) as u64,
            },
            throttle_window: config.quota_window(
                "replication.quota.window.num",
                "replication.quota.window.size.seconds",
            ),
            alter_log_dirs_throttle_window: config.quota_window(
                "alter.log.dirs.replication.quota.window.num",
                "alter.log.dirs.replication.quota.window.size.seconds",
            ),
        }
    }
}

//! [`GroupSettings`]: the group coordinator's settings and those of its internal topic,
//! `__consumer_offsets`.

use super::broker_config::BrokerConfig;

#[derive(Clone, Debug)]
pub struct GroupSettings {
    /// The state machine's settings (`offsets.topic.num.partitions`, `group.*`,
    /// `offsets.retention.minutes`, `offset.metadata.max.bytes`).
    pub coordinator: sluice_group::GroupConfig,
    /// `group.coordinator.rebalance.protocols` includes `consumer` (KIP-848).
    pub consumer_protocol_enabled: bool,
    /// `offsets.topic.replication.factor` (capped by the live brokers).
    pub offsets_topic_replication_factor: i16,
    /// `offsets.topic.segment.bytes`.
    pub offsets_topic_segment_bytes: i64,
    /// `offsets.retention.check.interval.ms`.
    pub offsets_retention_check_interval_ms: u64,
}

impl GroupSettings {
    pub(super) fn from_config(config: &BrokerConfig) -> GroupSettings {
        let int = |key| config.int(key);
        GroupSettings {
            coordinator: sluice_group::GroupConfig {
                num_partitions: int("offsets.topic.num.partitions") as i32,
                initial_rebalance_delay_ms: int("group.initial.rebalance.delay.ms"),
                min_session_timeout_ms: int("group.min.session.timeout.ms") as i32,
                max_session_timeout_ms: int("group.max.session.timeout.ms") as i32,
                max_size: int("group.max.size") as usize,
                offset_metadata_max_bytes: int("offset.metadata.max.bytes") as usize,
                offsets_retention_ms: int("offsets.retention.minutes") * 60_000,
                consumer_heartbeat_interval_ms: int("group.consumer.heartbeat.interval.ms") as i32,
                consumer_session_timeout_ms: int("group.consumer.session.timeout.ms") as i32,
                consumer_assignors: config.list("group.consumer.assignors"),
                consumer_max_size: int("group.consumer.max.size") as usize,
            },
            consumer_protocol_enabled: config
                .list("group.coordinator.rebalance.protocols")
                .iter()
                .any(|p| p == "consumer"),
            offsets_topic_replication_factor: int("offsets.topic.replication.factor") as i16,
            offsets_topic_segment_bytes: int("offsets.topic.segment.bytes"),
            offsets_retention_check_interval_ms: int("offsets.retention.check.interval.ms") as u64,
        }
    }
}

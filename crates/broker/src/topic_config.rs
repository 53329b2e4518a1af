//! Topic-level configuration: Kafka's topic config names, their broker-level synonyms, defaults,
//! types and validation.
//!
//! A topic's effective value of a key is, in order: the topic's own override (stored durably with
//! the topic), the broker's value of the synonym (`log.segment.bytes` for `segment.bytes`, ...) when
//! set in server.properties or with `--set`, and Kafka's default.

use std::collections::BTreeMap;

use sluice_log::LogConfig;

use crate::config::BrokerConfig;

/// Kafka's config value types, as numbered in DescribeConfigs v3+ (`config_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// Where a reported config value came from (DescribeConfigs `config_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigSource {
    TopicConfig = 1,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// One topic-level key: its name, the broker key that sets its default, Kafka's default, type and
/// accepted values.
pub struct TopicConfigKey {
    pub name: &'static str,
    pub broker_synonym: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    pub check: Check,
    pub doc: &'static str,
}

/// The accepted values of a key.
#[derive(Clone, Copy)]
pub enum Check {
    /// An integer at least this large.
    AtLeast(i64),
    /// A number in this closed range.
    Ratio,
    /// One of these values (for lists: each element is one of them).
    OneOf(&'static [&'static str]),
    Bool,
}

const MAX_LONG: &str = "9223372036854775807";

pub const TOPIC_CONFIG_KEYS: &[TopicConfigKey] = &[
    TopicConfigKey {
        name: "cleanup.policy",
        broker_synonym: "log.cleanup.policy",
        default: "delete",
        kind: ConfigType::List,
        check: Check::OneOf(&["delete", "compact"]),
        doc: "delete old segments (retention), compact by key, or both",
    },
    TopicConfigKey {
        name: "compression.type",
        broker_synonym: "compression.type",
        default: "producer",
        kind: ConfigType::String,
        check: Check::OneOf(&["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        doc: "final compression of the topic's data; producer keeps what the producer sent",
    },
    TopicConfigKey {
        name: "delete.retention.ms",
        broker_synonym: "log.cleaner.delete.retention.ms",
        default: "86400000",
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "how long tombstones are kept on compacted topics",
    },
    TopicConfigKey {
        name: "file.delete.delay.ms",
        broker_synonym: "log.segment.delete.delay.ms",
        default: "60000",
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "delay before a deleted segment's files are removed",
    },
    TopicConfigKey {
        name: "flush.messages",
        broker_synonym: "log.flush.interval.messages",
        default: MAX_LONG,
        kind: ConfigType::Long,
        check: Check::AtLeast(1),
        doc: "fsync after this many messages",
    },
    TopicConfigKey {
        name: "flush.ms",
        broker_synonym: "log.flush.interval.ms",
        default: MAX_LONG,
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "fsync at least this often",
    },
    TopicConfigKey {
        name: "index.interval.bytes",
        broker_synonym: "log.index.interval.bytes",
        default: "4096",
        kind: ConfigType::Int,
        check: Check::AtLeast(0),
        doc: "bytes of log between offset index entries",
    },
    TopicConfigKey {
        name: "max.compaction.lag.ms",
        broker_synonym: "log.cleaner.max.compaction.lag.ms",
        default: MAX_LONG,
        kind: ConfigType::Long,
        check: Check::AtLeast(1),
        doc: "longest time a record may stay uncompacted",
    },
    TopicConfigKey {
        name: "max.message.bytes",
        broker_synonym: "message.max.bytes",
        default: "1048588",
        kind: ConfigType::Int,
        check: Check::AtLeast(0),
        doc: "largest record batch size allowed",
    },
    TopicConfigKey {
        name: "message.timestamp.after.max.ms",
        broker_synonym: "log.message.timestamp.after.max.ms",
        default: "3600000",
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "how far in the future a CreateTime timestamp may be",
    },
    TopicConfigKey {
        name: "message.timestamp.before.max.ms",
        broker_synonym: "log.message.timestamp.before.max.ms",
        default: MAX_LONG,
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "how far in the past a CreateTime timestamp may be",
    },
    TopicConfigKey {
        name: "message.timestamp.type",
        broker_synonym: "log.message.timestamp.type",
        default: "CreateTime",
        kind: ConfigType::String,
        check: Check::OneOf(&["CreateTime", "LogAppendTime"]),
        doc: "whose timestamp records carry",
    },
    TopicConfigKey {
        name: "min.cleanable.dirty.ratio",
        broker_synonym: "log.cleaner.min.cleanable.ratio",
        default: "0.5",
        kind: ConfigType::Double,
        check: Check::Ratio,
        doc: "dirty share of the log that triggers compaction",
    },
    TopicConfigKey {
        name: "min.compaction.lag.ms",
        broker_synonym: "log.cleaner.min.compaction.lag.ms",
        default: "0",
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "shortest time a record stays uncompacted",
    },
    TopicConfigKey {
        name: "min.insync.replicas",
        broker_synonym: "min.insync.replicas",
        default: "1",
        kind: ConfigType::Int,
        check: Check::AtLeast(1),
        doc: "replicas that must acknowledge an acks=all write",
    },
    TopicConfigKey {
        name: "preallocate",
        broker_synonym: "log.preallocate",
        default: "false",
        kind: ConfigType::Boolean,
        check: Check::Bool,
        doc: "preallocate segment files",
    },
    TopicConfigKey {
        name: "retention.bytes",
        broker_synonym: "log.retention.bytes",
        default: "-1",
        kind: ConfigType::Long,
        check: Check::AtLeast(-1),
        doc: "largest size of a partition before old segments are deleted",
    },
    TopicConfigKey {
        name: "retention.ms",
        broker_synonym: "log.retention.ms",
        default: "604800000",
        kind: ConfigType::Long,
        check: Check::AtLeast(-1),
        doc: "age after which old segments are deleted",
    },
    TopicConfigKey {
        name: "segment.bytes",
        broker_synonym: "log.segment.bytes",
        default: "1073741824",
        kind: ConfigType::Int,
        check: Check::AtLeast(14),
        doc: "segment file size",
    },
    TopicConfigKey {
        name: "segment.index.bytes",
        broker_synonym: "log.index.size.max.bytes",
        default: "10485760",
        kind: ConfigType::Int,
        check: Check::AtLeast(4),
        doc: "offset index size at which a segment rolls",
    },
    TopicConfigKey {
        name: "segment.jitter.ms",
        broker_synonym: "log.roll.jitter.ms",
        default: "0",
        kind: ConfigType::Long,
        check: Check::AtLeast(0),
        doc: "random jitter subtracted from segment.ms",
    },
    TopicConfigKey {
        name: "segment.ms",
        broker_synonym: "log.roll.ms",
        default: "604800000",
        kind: ConfigType::Long,
        check: Check::AtLeast(1),
        doc: "segment age at which it rolls",
    },
    TopicConfigKey {
        name: "unclean.leader.election.enable",
        broker_synonym: "unclean.leader.election.enable",
        default: "false",
        kind: ConfigType::Boolean,
        check: Check::Bool,
        doc: "allow out-of-sync replicas to become leader",
    },
];

pub fn topic_config_key(name: &str) -> Option<&'static TopicConfigKey> {
    TOPIC_CONFIG_KEYS.iter().find(|k| k.name == name)
}

/// Checks one value for a topic-level key; the error is the message Kafka users see with
/// INVALID_CONFIG.
pub fn validate_topic_config(name: &str, value: &str) -> Result<(), String> {
    let Some(key) = topic_config_key(name) else {
        return Err(format!("Unknown topic config name: {name}"));
    };
    check_value(key.name, key.kind, key.check, value)
}

pub(crate) fn check_value(
    name: &str,
    kind: ConfigType,
    check: Check,
    value: &str,
) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "Invalid value {value} for configuration {name}: {why}"
        ))
    };
    match kind {
        ConfigType::Int | ConfigType::Long => {
            let parsed = if kind == ConfigType::Int {
                value.trim().parse::<i32>().map(i64::from).ok()
            } else {
                value.trim().parse::<i64>().ok()
            };
            let Some(v) = parsed else {
                return bad(if kind == ConfigType::Int {
                    "Not a number of type INT"
                } else {
                    "Not a number of type LONG"
                });
            };
            if let Check::AtLeast(min) = check {
                if v < min {
                    return bad(&format!("Value must be at least {min}"));
                }
            }
        }
        ConfigType::Double => {
            let Ok(v) = value.trim().parse::<f64>() else {
                return bad("Not a number of type DOUBLE");
            };
            if matches!(check, Check::Ratio) && !(0.0..=1.0).contains(&v) {
                return bad("Value must be between 0 and 1");
            }
        }
        ConfigType::Boolean => {
            if !value.trim().eq_ignore_ascii_case("true")
                && !value.trim().eq_ignore_ascii_case("false")
            {
                return bad("Expected value to be either true or false");
            }
        }
        ConfigType::String | ConfigType::List => {
            if let Check::OneOf(allowed) = check {
                let items: Vec<&str> = if kind == ConfigType::List {
                    value.split(',').map(str::trim).collect()
                } else {
                    vec![value.trim()]
                };
                for item in items {
                    if !allowed.contains(&item) {
                        return bad(&format!("String must be one of: {}", allowed.join(", ")));
                    }
                }
            }
        }
    }
    Ok(())
}

/// A resolved topic config value with where it came from.
pub struct ResolvedConfig {
    pub key: &'static TopicConfigKey,
    pub value: String,
    pub source: ConfigSource,
}

/// The effective value of every topic-level key for a topic with `overrides`.
pub fn resolve_topic_configs(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<ResolvedConfig> {
    TOPIC_CONFIG_KEYS
        .iter()
        .map(|key| {
            if let Some(v) = overrides.get(key.name) {
                ResolvedConfig {
                    key,
                    value: v.clone(),
                    source: ConfigSource::TopicConfig,
                }
            } else if let Some(v) = broker.topic_default(key.broker_synonym) {
                ResolvedConfig {
                    key,
                    value: v,
                    source: ConfigSource::StaticBrokerConfig,
                }
            } else {
                ResolvedConfig {
                    key,
                    value: key.default.to_string(),
                    source: ConfigSource::DefaultConfig,
                }
            }
        })
        .collect()
}

/// The effective value of one topic-level key.
pub fn effective(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
    name: &str,
) -> String {
    if let Some(v) = overrides.get(name) {
        return v.clone();
    }
    match topic_config_key(name) {
        Some(key) => broker
            .topic_default(key.broker_synonym)
            .unwrap_or_else(|| key.default.to_string()),
        None => String::new(),
    }
}

fn long(broker: &BrokerConfig, overrides: &BTreeMap<String, String>, name: &str) -> i64 {
    // Values were validated when stored; fall back to Kafka's default if one is somehow not.
    effective(broker, overrides, name)
        .trim()
        .parse::<i64>()
        .unwrap_or_else(|_| {
            topic_config_key(name)
                .and_then(|k| k.default.parse().ok())
                .unwrap_or(0)
        })
}

fn cleanup_policy(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> Vec<&'static str> {
    let value = effective(broker, overrides, "cleanup.policy");
    ["delete", "compact"]
        .into_iter()
        .filter(|p| value.split(',').any(|v| v.trim() == *p))
        .collect()
}

/// The log settings a partition of this topic runs with.
pub fn log_config(broker: &BrokerConfig, overrides: &BTreeMap<String, String>) -> LogConfig {
    let l = |name| long(broker, overrides, name);
    LogConfig {
        segment_bytes: l("segment.bytes").max(14) as u64,
        segment_ms: l("segment.ms"),
        retention_ms: l("retention.ms"),
        retention_bytes: l("retention.bytes"),
        index_interval_bytes: l("index.interval.bytes").clamp(0, u32::MAX as i64) as u32,
        segment_index_bytes: l("segment.index.bytes").clamp(8, u32::MAX as i64) as u32,
        flush_messages: l("flush.messages").max(1) as u64,
        flush_ms: l("flush.ms"),
        file_delete_delay_ms: l("file.delete.delay.ms"),
        message_timestamp_type_log_append: effective(broker, overrides, "message.timestamp.type")
            == "LogAppendTime",
        delete: cleanup_policy(broker, overrides).contains(&"delete"),
        compact: cleanup_policy(broker, overrides).contains(&"compact"),
        delete_retention_ms: l("delete.retention.ms"),
        min_cleanable_dirty_ratio: effective(broker, overrides, "min.cleanable.dirty.ratio")
            .trim()
            .parse::<f64>()
            .unwrap_or(0.5),
        min_compaction_lag_ms: l("min.compaction.lag.ms"),
        max_compaction_lag_ms: l("max.compaction.lag.ms"),
    }
}

/// What the produce path needs of a topic's configs, parsed once per config change instead of
/// once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceSettings {
    pub max_message_bytes: usize,
    /// CreateTime topics check record timestamps against the two bounds below.
    pub create_time: bool,
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    /// acks=all writes need at least this many in-sync replicas (`min.insync.replicas`).
    pub min_insync_replicas: usize,
    /// `cleanup.policy` includes `compact`: every record needs a key.
    pub compacted: bool,
}

pub fn produce_settings(
    broker: &BrokerConfig,
    overrides: &BTreeMap<String, String>,
) -> ProduceSettings {
    let l = |name| long(broker, overrides, name);
    ProduceSettings {
        max_message_bytes: l("max.message.bytes").max(0) as usize,
        create_time: effective(broker, overrides, "message.timestamp.type") != "LogAppendTime",
        timestamp_before_max_ms: l("message.timestamp.before.max.ms"),
        timestamp_after_max_ms: l("message.timestamp.after.max.ms"),
        min_insync_replicas: l("min.insync.replicas").max(1) as usize,
        compacted: cleanup_policy(broker, overrides).contains(&"compact"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_kafka_rules() {
        assert!(validate_topic_config("retention.ms", "-1").is_ok());
        assert!(validate_topic_config("retention.ms", "-2").is_err());
        assert!(validate_topic_config("segment.bytes", "abc").is_err());
        assert!(
            validate_topic_config("segment.bytes", "99999999999").is_err(),
            "INT overflow"
        );
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "shred").is_err());
        assert!(validate_topic_config("min.cleanable.dirty.ratio", "1.5").is_err());
        assert!(validate_topic_config("no.such.key", "1").is_err());
        assert!(validate_topic_config("preallocate", "TRUE").is_ok());
    }

    #[test]
    fn sources_are_reported() {
        let broker = BrokerConfig::from_pairs(&[("log.retention.ms", "1000")]).unwrap();
        let mut overrides = BTreeMap::new();
        overrides.insert("segment.bytes".to_string(), "1024".to_string());
        let all = resolve_topic_configs(&broker, &overrides);
        let find = |n: &str| all.iter().find(|c| c.key.name == n).unwrap();
        assert_eq!(find("segment.bytes").source, ConfigSource::TopicConfig);
        assert_eq!(
            find("retention.ms").source,
            ConfigSource::StaticBrokerConfig
        );
        assert_eq!(find("retention.ms").value, "1000");
        assert_eq!(find("cleanup.policy").source, ConfigSource::DefaultConfig);
        let lc = log_config(&broker, &overrides);
        assert_eq!(lc.segment_bytes, 1024);
        assert_eq!(lc.retention_ms, 1000);
    }
}

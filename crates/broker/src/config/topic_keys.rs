//! Kafka's topic-level config keys: their names, the broker-level synonyms that set their
//! defaults, Kafka's defaults, types and accepted values.

use super::config_type::{check_value, Check, ConfigType};

/// One topic-level key: its name, the broker key that sets its default, Kafka's default, type and
/// accepted values.
pub struct TopicConfigKey {
    pub name: &'static str,
    /// Empty for the keys without one (the replication throttle lists).
    pub broker_synonym: &'static str,
    pub default: &'static str,
    pub kind: ConfigType,
    pub check: Check,
    pub doc: &'static str,
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
    // Schema validation (Confluent Server's names): records must carry the schema registry's
    // wire format (magic byte 0, a 4-byte schema id) with an id registered under the topic's
    // `<topic>-value` / `<topic>-key` subject, or the batch is refused with INVALID_RECORD.
    TopicConfigKey {
        name: "confluent.key.schema.validation",
        broker_synonym: "confluent.key.schema.validation",
        default: "false",
        kind: ConfigType::Boolean,
        check: Check::Bool,
        doc: "record keys must be registered schema-registry payloads",
    },
    TopicConfigKey {
        name: "confluent.value.schema.validation",
        broker_synonym: "confluent.value.schema.validation",
        default: "false",
        kind: ConfigType::Boolean,
        check: Check::Bool,
        doc: "record values must be registered schema-registry payloads",
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
    // Replication throttles (KIP-73): the replicas of this topic whose replication the
    // follower side of their broker (`follower.replication.throttled.rate`) or the leader side
    // (`leader.replication.throttled.rate`) holds to the broker's rate while they are out of
    // the ISR. `*` is every replica; `partition:broker` pairs name some. No broker synonym.
    TopicConfigKey {
        name: "follower.replication.throttled.replicas",
        broker_synonym: "",
        default: "",
        kind: ConfigType::List,
        check: Check::ThrottledReplicas,
        doc: "replicas throttled on the follower side: * or partition:broker pairs",
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
        name: "leader.replication.throttled.replicas",
        broker_synonym: "",
        default: "",
        kind: ConfigType::List,
        check: Check::ThrottledReplicas,
        doc: "replicas throttled on the leader side: * or partition:broker pairs",
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

/// The topic key whose broker-level synonym is `synonym`.
pub fn topic_key_by_synonym(synonym: &str) -> Option<&'static TopicConfigKey> {
    TOPIC_CONFIG_KEYS
        .iter()
        .find(|k| !k.broker_synonym.is_empty() && k.broker_synonym == synonym)
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
    fn every_default_passes_its_own_check() {
        for key in TOPIC_CONFIG_KEYS {
            validate_topic_config(key.name, key.default)
                .unwrap_or_else(|e| panic!("{}: {e}", key.name));
        }
    }
}

//! A topic's effective configuration.
//!
//! A topic's effective value of a key is, in order: the topic's own override (stored durably
//! with the topic), the broker-level value of the synonym (`log.segment.bytes` for
//! `segment.bytes`, ...): this broker's dynamic value, else the cluster-wide dynamic default
//! (both in the metadata log), else the value set in server.properties or with `--set`
//! ([`TopicDefaults`]); and last Kafka's default.

use std::collections::BTreeMap;

use sluice_log::LogConfig;

use super::broker_config::BrokerConfig;
use super::config_type::ConfigSource;
use super::topic_keys::{topic_config_key, TopicConfigKey, TOPIC_CONFIG_KEYS};

/// The broker-level values of the topic keys' synonyms, by synonym, with where each came from:
/// set in server.properties (directly, or for `log.retention.ms` and `log.roll.ms` through
/// their hours/minutes variants), or dynamically ([`TopicDefaults::with_dynamic`]). Unset
/// synonyms are absent: the topic key's own default applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicDefaults {
    by_synonym: BTreeMap<&'static str, (String, ConfigSource)>,
}

impl TopicDefaults {
    pub(super) fn from_config(config: &BrokerConfig) -> TopicDefaults {
        let by_synonym = TOPIC_CONFIG_KEYS
            .iter()
            .filter(|key| !key.broker_synonym.is_empty())
            .filter_map(|key| {
                config
                    .topic_default(key.broker_synonym)
                    .map(|v| (key.broker_synonym, (v, ConfigSource::StaticBrokerConfig)))
            })
            .collect();
        TopicDefaults { by_synonym }
    }

    /// These defaults with the dynamic broker configs over them: `broker`'s (this broker's
    /// own) win over `cluster`'s (the cluster-wide defaults), which win over the static ones.
    /// Keys that are not topic-config synonyms are ignored.
    pub fn with_dynamic(
        &self,
        cluster: &BTreeMap<String, String>,
        broker: &BTreeMap<String, String>,
    ) -> TopicDefaults {
        let mut by_synonym = self.by_synonym.clone();
        for (configs, source) in [
            (cluster, ConfigSource::DynamicDefaultBrokerConfig),
            (broker, ConfigSource::DynamicBrokerConfig),
        ] {
            for key in TOPIC_CONFIG_KEYS
                .iter()
                .filter(|k| !k.broker_synonym.is_empty())
            {
                if let Some(v) = configs.get(key.broker_synonym) {
                    by_synonym.insert(key.broker_synonym, (v.clone(), source));
                }
            }
        }
        TopicDefaults { by_synonym }
    }

    /// The broker's value of `synonym`, if set (statically or dynamically).
    pub fn get(&self, synonym: &str) -> Option<&str> {
        self.by_synonym.get(synonym).map(|(v, _)| v.as_str())
    }

    /// The broker's value of `synonym` with where it came from, if set.
    pub fn get_with_source(&self, synonym: &str) -> Option<(&str, ConfigSource)> {
        self.by_synonym
            .get(synonym)
            .map(|(v, source)| (v.as_str(), *source))
    }
}

/// A resolved topic config value with where it came from.
pub struct ResolvedConfig {
    pub key: &'static TopicConfigKey,
    pub value: String,
    pub source: ConfigSource,
}

/// The effective value of every topic-level key for a topic with `overrides`.
pub fn resolve_topic_configs(
    defaults: &TopicDefaults,
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
            } else if let Some((v, source)) = defaults.get_with_source(key.broker_synonym) {
                ResolvedConfig {
                    key,
                    value: v.to_string(),
                    source,
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
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
    name: &str,
) -> String {
    if let Some(v) = overrides.get(name) {
        return v.clone();
    }
    match topic_config_key(name) {
        Some(key) => defaults
            .get(key.broker_synonym)
            .unwrap_or(key.default)
            .to_string(),
        None => String::new(),
    }
}

fn long(defaults: &TopicDefaults, overrides: &BTreeMap<String, String>, name: &str) -> i64 {
    // Values were validated when stored; fall back to Kafka's default if one is somehow not.
    effective(defaults, overrides, name)
        .trim()
        .parse::<i64>()
        .unwrap_or_else(|_| {
            topic_config_key(name)
                .and_then(|k| k.default.parse().ok())
                .unwrap_or(0)
        })
}

fn cleanup_policy(
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
) -> Vec<&'static str> {
    let value = effective(defaults, overrides, "cleanup.policy");
    ["delete", "compact"]
        .into_iter()
        .filter(|p| value.split(',').any(|v| v.trim() == *p))
        .collect()
}

/// The log settings a partition of this topic runs with.
pub fn log_config(defaults: &TopicDefaults, overrides: &BTreeMap<String, String>) -> LogConfig {
    let l = |name| long(defaults, overrides, name);
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
        message_timestamp_type_log_append: effective(defaults, overrides, "message.timestamp.type")
            == "LogAppendTime",
        delete: cleanup_policy(defaults, overrides).contains(&"delete"),
        compact: cleanup_policy(defaults, overrides).contains(&"compact"),
        delete_retention_ms: l("delete.retention.ms"),
        min_cleanable_dirty_ratio: effective(defaults, overrides, "min.cleanable.dirty.ratio")
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
    /// `confluent.key.schema.validation` / `confluent.value.schema.validation`.
    pub key_schema_validation: bool,
    pub value_schema_validation: bool,
}

pub fn produce_settings(
    defaults: &TopicDefaults,
    overrides: &BTreeMap<String, String>,
) -> ProduceSettings {
    let l = |name| long(defaults, overrides, name);
    ProduceSettings {
        max_message_bytes: l("max.message.bytes").max(0) as usize,
        create_time: effective(defaults, overrides, "message.timestamp.type") != "LogAppendTime",
        timestamp_before_max_ms: l("message.timestamp.before.max.ms"),
        timestamp_after_max_ms: l("message.timestamp.after.max.ms"),
        min_insync_replicas: l("min.insync.replicas").max(1) as usize,
        compacted: cleanup_policy(defaults, overrides).contains(&"compact"),
        key_schema_validation: effective(defaults, overrides, "confluent.key.schema.validation")
            .eq_ignore_ascii_case("true"),
        value_schema_validation: effective(
            defaults,
            overrides,
            "confluent.value.schema.validation",
        )
        .eq_ignore_ascii_case("true"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_reported() {
        let broker = BrokerConfig::from_pairs(&[("log.retention.ms", "1000")]).unwrap();
        let defaults = TopicDefaults::from_config(&broker);
        let mut overrides = BTreeMap::new();
        overrides.insert("segment.bytes".to_string(), "1024".to_string());
        let all = resolve_topic_configs(&defaults, &overrides);
        let find = |n: &str| all.iter().find(|c| c.key.name == n).unwrap();
        assert_eq!(find("segment.bytes").source, ConfigSource::TopicConfig);
        assert_eq!(
            find("retention.ms").source,
            ConfigSource::StaticBrokerConfig
        );
        assert_eq!(find("retention.ms").value, "1000");
        assert_eq!(find("cleanup.policy").source, ConfigSource::DefaultConfig);
        let lc = log_config(&defaults, &overrides);
        assert_eq!(lc.segment_bytes, 1024);
        assert_eq!(lc.retention_ms, 1000);
    }

    #[test]
    fn dynamic_values_win_over_static_ones() {
        let broker = BrokerConfig::from_pairs(&[
            ("log.retention.ms", "1000"),
            ("log.segment.bytes", "2048"),
        ])
        .unwrap();
        let static_defaults = TopicDefaults::from_config(&broker);
        let cluster = BTreeMap::from([
            ("log.retention.ms".to_string(), "2000".to_string()),
            ("log.retention.bytes".to_string(), "99".to_string()),
            ("num.io.threads".to_string(), "4".to_string()),
        ]);
        let own = BTreeMap::from([("log.retention.bytes".to_string(), "77".to_string())]);
        let defaults = static_defaults.with_dynamic(&cluster, &own);
        let mut overrides = BTreeMap::new();
        overrides.insert("segment.bytes".to_string(), "1024".to_string());
        let all = resolve_topic_configs(&defaults, &overrides);
        let find = |n: &str| all.iter().find(|c| c.key.name == n).unwrap();
        let got = |n: &str| (find(n).value.clone(), find(n).source);
        assert_eq!(
            got("segment.bytes"),
            ("1024".into(), ConfigSource::TopicConfig)
        );
        assert_eq!(
            got("retention.ms"),
            ("2000".into(), ConfigSource::DynamicDefaultBrokerConfig)
        );
        assert_eq!(
            got("retention.bytes"),
            ("77".into(), ConfigSource::DynamicBrokerConfig)
        );
        assert_eq!(
            got("cleanup.policy"),
            ("delete".into(), ConfigSource::DefaultConfig)
        );
        let lc = log_config(&defaults, &BTreeMap::new());
        assert_eq!(
            (lc.retention_ms, lc.retention_bytes, lc.segment_bytes),
            (2000, 77, 2048)
        );
        // Without dynamic values, the static ones are back.
        assert_eq!(
            static_defaults.with_dynamic(&BTreeMap::new(), &BTreeMap::new()),
            static_defaults
        );
        assert_eq!(defaults.get("num.io.threads"), None);
    }

    #[test]
    fn hours_and_minutes_set_the_retention_default() {
        let hours = BrokerConfig::from_pairs(&[("log.retention.hours", "2")]).unwrap();
        assert_eq!(
            TopicDefaults::from_config(&hours).get("log.retention.ms"),
            Some("7200000")
        );
        let forever = BrokerConfig::from_pairs(&[("log.retention.hours", "-1")]).unwrap();
        assert_eq!(
            TopicDefaults::from_config(&forever).get("log.retention.ms"),
            Some("-1")
        );
        let both = BrokerConfig::from_pairs(&[
            ("log.retention.hours", "2"),
            ("log.retention.minutes", "3"),
        ])
        .unwrap();
        assert_eq!(
            TopicDefaults::from_config(&both).get("log.retention.ms"),
            Some("180000")
        );
        let roll = BrokerConfig::from_pairs(&[("log.roll.hours", "1")]).unwrap();
        assert_eq!(
            TopicDefaults::from_config(&roll).get("log.roll.ms"),
            Some("3600000")
        );
        assert_eq!(
            TopicDefaults::from_config(&BrokerConfig::default()),
            TopicDefaults::default()
        );
    }
}

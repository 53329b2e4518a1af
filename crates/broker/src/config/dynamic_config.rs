//! Dynamic broker configs (Kafka's "Updating Broker Configs"): which broker keys change without
//! a restart, the checks an alteration of a broker resource passes, the values this broker runs
//! with ([`LiveBrokerConfig`]), and the broker's configs as DescribeConfigs reports them, each
//! with its source and synonyms.
//!
//! Dynamic values live in the metadata log (the controller image's cluster-wide defaults, the
//! broker resource `""`, and per-broker configs, resource `"<node id>"`), so every broker sees
//! the same ones and they survive restarts. A key's effective value is, in order: this broker's
//! dynamic value, the cluster-wide dynamic default, server.properties or `--set`, the default.
//!
//! Which keys are dynamic: Kafka's cluster-wide dynamic keys that Sluice acts on without a
//! restart — the topic configs' broker-level defaults (`log.retention.ms`, `log.segment.bytes`,
//! `log.cleanup.policy`, `message.max.bytes`, `compression.type`, `min.insync.replicas`,
//! `unclean.leader.election.enable`, ...) and `producer.id.expiration.ms` — and the thread-pool
//! sizes Kafka's tools set, which Sluice accepts without effect (as in server.properties). Keys
//! Kafka changes dynamically but Sluice reads only at start (`max.connections`, listeners and
//! their TLS/SASL settings, ...) are refused with a message that says so; TLS key stores are
//! reloaded from their files anyway when the files change (see `server::listeners`).

use std::collections::BTreeMap;

use super::broker_config::{is_listener_scoped, is_sensitive, BrokerConfig};
use super::broker_keys::{broker_key, KeyDefault, BROKER_KEYS};
use super::broker_settings::BrokerSettings;
use super::config_type::{check_value, ConfigSource, ConfigType};
use super::topic_config::TopicDefaults;
use super::topic_keys::{topic_key_by_synonym, TOPIC_CONFIG_KEYS};

/// Dynamic keys beyond the topic configs' synonyms that Sluice applies without a restart.
const LIVE_KEYS: &[&str] = &["producer.id.expiration.ms"];

/// Kafka's dynamic thread-pool keys: accepted (Kafka's tools set them), no effect in Sluice, as
/// when set in server.properties.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
];

/// Keys Kafka updates without a restart that Sluice reads only at start (listener-scoped keys,
/// `listener.name.<listener>.ssl.*` and `.sasl.*`, are among them too).
const AT_START_IN_SLUICE: &[&str] = &[
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "max.connections",
    "log.cleaner.backoff.ms",
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.jaas.config",
    "sasl.server.callback.handler.class",
    "connections.max.reauth.ms",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.password",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    "ssl.endpoint.identification.algorithm",
];

/// Whether `key` may be altered dynamically (and so is not read-only in DescribeConfigs).
pub fn is_dynamic(key: &str) -> bool {
    topic_key_by_synonym(key).is_some()
        || LIVE_KEYS.contains(&key)
        || ACCEPTED_WITHOUT_EFFECT.contains(&key)
}

/// The key table's entry of `key`, listener-scoped or not: its type.
fn kind_of(key: &str) -> Option<ConfigType> {
    if let Some(k) = broker_key(key) {
        return Some(k.kind);
    }
    if let Some(k) = topic_key_by_synonym(key) {
        return Some(k.kind);
    }
    None
}

/// Why an alteration of a broker resource is refused, with Kafka's error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamicConfigError {
    /// INVALID_CONFIG: a key Sluice does not know.
    UnknownKey(String),
    /// INVALID_REQUEST: Kafka answers a config that cannot be applied (read-only, or a bad
    /// value) with INVALID_REQUEST (KAFKA-13609).
    Invalid(String),
}

impl DynamicConfigError {
    pub fn message(&self) -> &str {
        match self {
            DynamicConfigError::UnknownKey(m) | DynamicConfigError::Invalid(m) => m,
        }
    }
}

/// Scala's rendering of a set, as Kafka's messages show one: `Set(a, b)`.
fn scala_set(keys: &[&str]) -> String {
    format!("Set({})", keys.join(", "))
}

/// Checks the values an alteration sets on a broker resource (a broker, or the cluster-wide
/// default): every key known, dynamic, and its value valid. Deleting a key needs no check
/// (deleting one that is not set changes nothing, as in Kafka).
pub fn check_dynamic_broker_configs(sets: &[(&str, &str)]) -> Result<(), DynamicConfigError> {
    let mut unknown: Vec<&str> = sets
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| kind_of(k).is_none() && !is_listener_scoped(k))
        .collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        return Err(DynamicConfigError::UnknownKey(if unknown.len() == 1 {
            format!("Unknown broker config name: {}", unknown[0])
        } else {
            format!("Unknown broker config names: {}", unknown.join(", "))
        }));
    }
    let mut read_only: Vec<&str> = Vec::new();
    let mut at_start: Vec<&str> = Vec::new();
    for (k, _) in sets {
        if is_dynamic(k) {
            continue;
        }
        if AT_START_IN_SLUICE.contains(k) || k.starts_with("listener.name.") {
            at_start.push(k);
        } else {
            read_only.push(k);
        }
    }
    read_only.sort_unstable();
    read_only.dedup();
    at_start.sort_unstable();
    at_start.dedup();
    if !read_only.is_empty() {
        return Err(DynamicConfigError::Invalid(format!(
            "Cannot update these configs dynamically: {}",
            scala_set(&read_only)
        )));
    }
    if !at_start.is_empty() {
        return Err(DynamicConfigError::Invalid(format!(
            "Cannot update these configs dynamically: {} (Kafka can; Sluice reads them at \
             start only: set them in server.properties and restart)",
            scala_set(&at_start)
        )));
    }
    for (k, v) in sets {
        if let Some(kind) = kind_of(k) {
            let check = broker_key(k)
                .map(|b| b.check)
                .or_else(|| topic_key_by_synonym(k).map(|t| t.check));
            if let Some(check) = check {
                check_value(k, kind, check, v).map_err(DynamicConfigError::Invalid)?;
            }
        }
    }
    Ok(())
}

/// The dynamic broker configs in the metadata image that apply to this broker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DynamicBrokerConfigs {
    /// The cluster-wide defaults (broker resource `""`).
    pub cluster: BTreeMap<String, String>,
    /// This broker's own (broker resource `"<node id>"`).
    pub broker: BTreeMap<String, String>,
}

impl DynamicBrokerConfigs {
    /// The dynamic value of `key` and its source, if it has one.
    pub fn get(&self, key: &str) -> Option<(&str, ConfigSource)> {
        self.broker
            .get(key)
            .map(|v| (v.as_str(), ConfigSource::DynamicBrokerConfig))
            .or_else(|| {
                self.cluster
                    .get(key)
                    .map(|v| (v.as_str(), ConfigSource::DynamicDefaultBrokerConfig))
            })
    }
}

/// The values this broker runs with of the configs that change without a restart: built
/// from the static settings and the dynamic configs each time the latter change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveBrokerConfig {
    pub dynamic: DynamicBrokerConfigs,
    /// The broker-level defaults of topic configs.
    pub topic_defaults: TopicDefaults,
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
}

impl LiveBrokerConfig {
    pub fn new(settings: &BrokerSettings, dynamic: DynamicBrokerConfigs) -> LiveBrokerConfig {
        let topic_defaults = settings
            .topic_defaults
            .with_dynamic(&dynamic.cluster, &dynamic.broker);
        // Dynamic values were checked when stored; a value that somehow is not a number keeps
        // the static setting.
        let producer_id_expiration_ms = dynamic
            .get("producer.id.expiration.ms")
            .and_then(|(v, _)| v.trim().parse::<i64>().ok())
            .filter(|v| *v >= 1)
            .unwrap_or(settings.producer_id_expiration_ms);
        LiveBrokerConfig {
            dynamic,
            topic_defaults,
            producer_id_expiration_ms,
        }
    }
}

/// One config as DescribeConfigs reports it for a broker resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfigEntry {
    pub name: String,
    /// `None` for a secret (sensitive) or for a key without a value.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    pub sensitive: bool,
    pub kind: ConfigType,
    /// Where the value could come from, most important first (DescribeConfigs' synonyms):
    /// the key's dynamic, static and default values and those of its variants
    /// (`log.retention.minutes`, `log.retention.hours` for `log.retention.ms`).
    pub synonyms: Vec<ConfigSynonym>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigSynonym {
    pub name: String,
    pub value: Option<String>,
    pub source: ConfigSource,
}

/// The keys whose values also set `key` (Kafka's synonyms), `key` first.
fn synonym_names(key: &str) -> Vec<String> {
    let mut names = vec![key.to_string()];
    match key {
        "log.retention.ms" => {
            names.extend(["log.retention.minutes".into(), "log.retention.hours".into()])
        }
        "log.roll.ms" => names.push("log.roll.hours".into()),
        _ => {
            // A listener-scoped key's synonym is the key without the listener prefix.
            if let Some(rest) = key.strip_prefix("listener.name.") {
                if let Some((_, base)) = rest.split_once('.') {
                    let base = MECHANISM_PREFIXES
                        .iter()
                        .find_map(|p| base.strip_prefix(p))
                        .unwrap_or(base);
                    names.push(base.to_string());
                }
            }
        }
    }
    names
}

const MECHANISM_PREFIXES: &[&str] = &["plain.", "scram-sha-256.", "scram-sha-512.", "oauthbearer."];

/// A key's default as DescribeConfigs shows it: the key table's value, or what a derived
/// default came to on this broker.
fn default_value(settings: &BrokerSettings, config: &BrokerConfig, key: &str) -> Option<String> {
    if let Some(k) = broker_key(key) {
        return match k.default {
            KeyDefault::Value(v) => Some(v.to_string()),
            KeyDefault::Absent => None,
            KeyDefault::Derived(_) => match key {
                "node.id" | "broker.id" => Some(settings.node_id.to_string()),
                "log.dirs" => config.value("log.dir").map(str::to_string),
                "metadata.log.dir" => Some(settings.metadata_log_dir.display().to_string()),
                "inter.broker.listener.name" => Some(settings.inter_broker_listener.clone()),
                _ => None,
            },
        };
    }
    topic_key_by_synonym(key).map(|k| k.default.to_string())
}

/// Every broker config of this broker as DescribeConfigs reports it: each key of the key table
/// and each topic config's broker-level synonym, plus any listener-scoped key that was set,
/// with its effective value, source, read-only flag and synonyms. Secrets have no value.
pub fn describe_broker(
    settings: &BrokerSettings,
    dynamic: &DynamicBrokerConfigs,
) -> Vec<BrokerConfigEntry> {
    let config = settings.config();
    let mut names: Vec<String> = BROKER_KEYS.iter().map(|k| k.name.to_string()).collect();
    names.extend(
        TOPIC_CONFIG_KEYS
            .iter()
            .map(|k| k.broker_synonym.to_string()),
    );
    names.extend(config.set_keys().map(str::to_string));
    names.extend(dynamic.cluster.keys().cloned());
    names.extend(dynamic.broker.keys().cloned());
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let sensitive = is_sensitive(&name);
            let levels = |n: &str| -> Vec<ConfigSynonym> {
                let mut out = Vec::new();
                let mut push = |value: Option<String>, source| {
                    out.push(ConfigSynonym {
                        name: n.to_string(),
                        value: if sensitive { None } else { value },
                        source,
                    })
                };
                if let Some(v) = dynamic.broker.get(n) {
                    push(Some(v.clone()), ConfigSource::DynamicBrokerConfig);
                }
                if let Some(v) = dynamic.cluster.get(n) {
                    push(Some(v.clone()), ConfigSource::DynamicDefaultBrokerConfig);
                }
                if let Some(v) = config.get(n) {
                    push(Some(v.to_string()), ConfigSource::StaticBrokerConfig);
                }
                if let Some(v) = default_value(settings, config, n) {
                    push(Some(v), ConfigSource::DefaultConfig);
                }
                out
            };
            let synonyms: Vec<ConfigSynonym> = synonym_names(&name)
                .iter()
                .flat_map(|n| levels(n))
                .collect();
            // The value: the first synonym set at any level but the default, else the key's
            // own default (a derived default included: log.retention.ms from the hours).
            let (value, source) = match synonyms
                .iter()
                .find(|s| s.source != ConfigSource::DefaultConfig)
            {
                Some(s) if s.name == name => (s.value.clone(), s.source),
                Some(s) => {
                    // A variant set it (log.retention.hours): the static config's derived value.
                    let derived = config.topic_default(&name);
                    (derived.or_else(|| s.value.clone()), s.source)
                }
                None => (
                    default_value(settings, config, &name),
                    ConfigSource::DefaultConfig,
                ),
            };
            let base = synonym_names(&name).last().cloned().unwrap_or_default();
            let kind = kind_of(&name)
                .or_else(|| kind_of(&base))
                .unwrap_or(ConfigType::String);
            BrokerConfigEntry {
                value: if sensitive { None } else { value },
                source,
                read_only: !is_dynamic(&name),
                sensitive,
                kind,
                synonyms,
                name,
            }
        })
        .collect()
}

/// The cluster-wide dynamic defaults as DescribeConfigs reports them for the broker resource
/// `""`: only the keys set there.
pub fn describe_cluster_defaults(cluster: &BTreeMap<String, String>) -> Vec<BrokerConfigEntry> {
    cluster
        .iter()
        .map(|(name, value)| {
            let sensitive = is_sensitive(name);
            let value = (!sensitive).then(|| value.clone());
            BrokerConfigEntry {
                name: name.clone(),
                value: value.clone(),
                source: ConfigSource::DynamicDefaultBrokerConfig,
                read_only: !is_dynamic(name),
                sensitive,
                kind: kind_of(name).unwrap_or(ConfigType::String),
                synonyms: vec![ConfigSynonym {
                    name: name.clone(),
                    value,
                    source: ConfigSource::DynamicDefaultBrokerConfig,
                }],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BrokerSettings {
        BrokerSettings::new(&BrokerConfig::from_pairs(pairs).expect("valid keys")).expect("valid")
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn alterations_are_checked_as_kafka_does() {
        check_dynamic_broker_configs(&[("log.retention.ms", "1000"), ("message.max.bytes", "5")])
            .unwrap();
        check_dynamic_broker_configs(&[("num.io.threads", "16")]).unwrap();
        let refused = |sets: &[(&str, &str)]| check_dynamic_broker_configs(sets).unwrap_err();
        assert_eq!(
            refused(&[("node.id", "3")]),
            DynamicConfigError::Invalid(
                "Cannot update these configs dynamically: Set(node.id)".into()
            )
        );
        assert_eq!(
            refused(&[
                ("process.roles", "broker"),
                ("log.dirs", "/x"),
                ("log.retention.ms", "1")
            ]),
            DynamicConfigError::Invalid(
                "Cannot update these configs dynamically: Set(log.dirs, process.roles)".into()
            )
        );
        assert_eq!(
            refused(&[("no.such.key", "1")]),
            DynamicConfigError::UnknownKey("Unknown broker config name: no.such.key".into())
        );
        let at_start = refused(&[("max.connections", "5")]);
        assert!(
            at_start.message().contains("Set(max.connections)")
                && at_start.message().contains("at start"),
            "{at_start:?}"
        );
        let scoped = refused(&[("listener.name.client.ssl.keystore.location", "/k.pem")]);
        assert!(scoped.message().contains("at start"), "{scoped:?}");
        assert_eq!(
            refused(&[("log.retention.ms", "soon")]),
            DynamicConfigError::Invalid(
                "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"
                    .into()
            )
        );
        assert!(matches!(
            refused(&[("log.cleanup.policy", "shred")]),
            DynamicConfigError::Invalid(_)
        ));
    }

    #[test]
    fn live_values_follow_precedence() {
        let s = settings(&[
            ("log.retention.ms", "100"),
            ("producer.id.expiration.ms", "50"),
        ]);
        let none = LiveBrokerConfig::new(&s, DynamicBrokerConfigs::default());
        assert_eq!(none.topic_defaults.get("log.retention.ms"), Some("100"));
        assert_eq!(none.producer_id_expiration_ms, 50);
        let dynamic = DynamicBrokerConfigs {
            cluster: map(&[
                ("log.retention.ms", "200"),
                ("producer.id.expiration.ms", "60"),
            ]),
            broker: map(&[("producer.id.expiration.ms", "70")]),
        };
        let live = LiveBrokerConfig::new(&s, dynamic.clone());
        assert_eq!(
            live.topic_defaults.get_with_source("log.retention.ms"),
            Some(("200", ConfigSource::DynamicDefaultBrokerConfig))
        );
        assert_eq!(live.producer_id_expiration_ms, 70);
        assert_eq!(
            dynamic.get("producer.id.expiration.ms"),
            Some(("70", ConfigSource::DynamicBrokerConfig))
        );
        assert_eq!(dynamic.get("log.segment.bytes"), None);
    }

    #[test]
    fn describe_reports_sources_synonyms_and_flags() {
        let s = settings(&[
            ("node.id", "2"),
            ("log.retention.hours", "2"),
            ("log.segment.bytes", "4096"),
            ("ssl.key.password", "hush"),
        ]);
        let dynamic = DynamicBrokerConfigs {
            cluster: map(&[("log.segment.bytes", "8192"), ("message.max.bytes", "100")]),
            broker: map(&[("message.max.bytes", "200")]),
        };
        let all = describe_broker(&s, &dynamic);
        let find = |n: &str| {
            all.iter()
                .find(|e| e.name == n)
                .unwrap_or_else(|| panic!("{n} is listed"))
                .clone()
        };
        let node = find("node.id");
        assert_eq!(node.value.as_deref(), Some("2"));
        assert_eq!(node.source, ConfigSource::StaticBrokerConfig);
        assert!(node.read_only);
        for listed in [
            "listeners",
            "advertised.listeners",
            "log.dirs",
            "process.roles",
        ] {
            assert!(find(listed).read_only, "{listed}");
        }
        assert_eq!(find("log.dirs").value.as_deref(), Some("./sluice-data"));
        let mmb = find("message.max.bytes");
        assert_eq!(
            (mmb.value.as_deref(), mmb.source, mmb.read_only),
            (Some("200"), ConfigSource::DynamicBrokerConfig, false)
        );
        let sources: Vec<ConfigSource> = mmb.synonyms.iter().map(|s| s.source).collect();
        assert_eq!(
            sources,
            vec![
                ConfigSource::DynamicBrokerConfig,
                ConfigSource::DynamicDefaultBrokerConfig,
                ConfigSource::DefaultConfig
            ]
        );
        let seg = find("log.segment.bytes");
        assert_eq!(
            (seg.value.as_deref(), seg.source),
            (Some("8192"), ConfigSource::DynamicDefaultBrokerConfig)
        );
        let retention = find("log.retention.ms");
        assert_eq!(
            (retention.value.as_deref(), retention.source),
            (Some("7200000"), ConfigSource::StaticBrokerConfig)
        );
        assert!(retention
            .synonyms
            .iter()
            .any(|s| s.name == "log.retention.hours" && s.value.as_deref() == Some("2")));
        let secret = find("ssl.key.password");
        assert!(secret.sensitive);
        assert_eq!(secret.value, None);
        assert!(secret.synonyms.iter().all(|s| s.value.is_none()));
        assert_eq!(find("broker.rack").value, None);
        assert_eq!(
            find("cleanup.policy".replace("cleanup", "log.cleanup").as_str()).source,
            ConfigSource::DefaultConfig
        );

        let defaults = describe_cluster_defaults(&dynamic.cluster);
        let names: Vec<&str> = defaults.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["log.segment.bytes", "message.max.bytes"]);
        assert!(defaults
            .iter()
            .all(|e| e.source == ConfigSource::DynamicDefaultBrokerConfig));
    }
}

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
//! Which keys are dynamic: Kafka's dynamic keys that Sluice acts on without a restart — the
//! topic configs' broker-level defaults (`log.retention.ms`, `log.segment.bytes`,
//! `log.cleanup.policy`, `message.max.bytes`, `compression.type`, `min.insync.replicas`,
//! `unclean.leader.election.enable`, ...), `producer.id.expiration.ms`, the connection limits
//! (`max.connections`, `max.connections.per.ip`, `max.connections.per.ip.overrides`,
//! `max.connection.creation.rate`, and per listener `listener.name.<listener>.max.connections`
//! and `.max.connection.creation.rate`),
//! `log.cleaner.backoff.ms`, the replication throttles' rates
//! (`leader.replication.throttled.rate`, `follower.replication.throttled.rate`,
//! `replica.alter.log.dirs.io.max.bytes.per.second`), and, per broker and per listener only, a TLS listener's key store
//! and trust store ([`LISTENER_RELOADABLE`], checked by [`check_listener_stores`]) — and the
//! thread-pool sizes Kafka's tools set, which Sluice accepts without effect (as in
//! server.properties). Keys Kafka changes dynamically but Sluice reads only at start
//! (`listeners`, the SASL settings, `ssl.client.auth`, ...) are refused with a message that says
//! so.

use std::collections::BTreeMap;

use super::broker_config::{is_listener_scoped, is_sensitive, listener_scope, BrokerConfig};
use super::broker_keys::{broker_key, KeyDefault, BROKER_KEYS};
use super::broker_settings::{apply_listener_limits, BrokerSettings};
use super::config_type::{check_value, ConfigSource, ConfigType};
use super::connection_limits::{parse_ip_overrides, ConnectionLimits, LISTENER_CONNECTION_KEYS};
use super::listener_settings::{
    listener_settings, tls_server, tls_server_replacing, ListenerSettings,
};
use super::replication_settings::ReplicationThrottleRates;
use super::topic_config::TopicDefaults;
use super::topic_keys::{topic_key_by_synonym, TOPIC_CONFIG_KEYS};

/// Dynamic keys beyond the topic configs' synonyms that Sluice applies without a restart.
const LIVE_KEYS: &[&str] = &[
    "producer.id.expiration.ms",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "max.connection.creation.rate",
    "log.cleaner.backoff.ms",
    "log.cleaner.io.max.bytes.per.second",
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

/// Kafka's dynamic thread-pool keys: accepted (Kafka's tools set them), no effect in Sluice, as
/// when set in server.properties.
const ACCEPTED_WITHOUT_EFFECT: &[&str] = &[
    "log.cleaner.threads",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "background.threads",
];

/// A TLS listener's key store and trust store keys: Kafka reconfigures them without a restart,
/// for one listener of one broker (`listener.name.<listener>.ssl.keystore.location` on broker
/// resource `"<id>"`). New connections get the new stores; open ones keep theirs.
pub const LISTENER_RELOADABLE: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
];

/// Keys Kafka updates without a restart that Sluice reads only at start (listener-scoped keys
/// other than [`LISTENER_RELOADABLE`], `listener.name.<listener>.sasl.*` among them, too).
const AT_START_IN_SLUICE: &[&str] = &[
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.jaas.config",
    "sasl.server.callback.handler.class",
    "connections.max.reauth.ms",
    "ssl.keystore.password",
    "ssl.truststore.password",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.cipher.suites",
    "ssl.endpoint.identification.algorithm",
];

/// The keys that add and remove a broker's listeners (per broker, as in Kafka): with them, the
/// new listeners' own `listener.name.<listener>.*` keys.
const LISTENER_SET_KEYS: &[&str] = &["listeners", "listener.security.protocol.map"];

/// The key store or trust store key a listener-scoped `key` reconfigures, if it is one.
fn reloadable_scope(key: &str) -> Option<(String, String)> {
    listener_scope(key).filter(|(_, base)| LISTENER_RELOADABLE.contains(&base.as_str()))
}

/// Whether `key` is a listener's own connection limit (`listener.name.<listener>.max.connections`
/// or `.max.connection.creation.rate`): applied to the next connection, on any listener.
pub fn is_listener_connection_limit(key: &str) -> bool {
    listener_scope(key).is_some_and(|(_, base)| LISTENER_CONNECTION_KEYS.contains(&base.as_str()))
}

/// Whether `key` may be altered dynamically (and so is not read-only in DescribeConfigs).
pub fn is_dynamic(key: &str) -> bool {
    topic_key_by_synonym(key).is_some()
        || LIVE_KEYS.contains(&key)
        || ACCEPTED_WITHOUT_EFFECT.contains(&key)
        || LISTENER_SET_KEYS.contains(&key)
        || is_listener_scoped(key)
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

fn sorted(mut keys: Vec<&str>) -> Vec<&str> {
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Checks the values an alteration sets on a broker resource (one broker when `per_broker`,
/// else the cluster-wide default): every key known, dynamic, allowed at that level, and its
/// value valid. Deleting a key needs no check (deleting one that is not set changes nothing,
/// as in Kafka). The checks and messages are Kafka's, in Kafka's order.
pub fn check_dynamic_broker_configs(
    sets: &[(&str, &str)],
    per_broker: bool,
) -> Result<(), DynamicConfigError> {
    let unknown = sorted(
        sets.iter()
            .map(|(k, _)| *k)
            .filter(|k| kind_of(k).is_none() && !is_listener_scoped(k))
            .collect(),
    );
    if !unknown.is_empty() {
        return Err(DynamicConfigError::UnknownKey(if unknown.len() == 1 {
            format!("Unknown broker config name: {}", unknown[0])
        } else {
            format!("Unknown broker config names: {}", unknown.join(", "))
        }));
    }
    let mut read_only = Vec::new();
    let mut at_start = Vec::new();
    let mut unprefixed = Vec::new();
    for (k, _) in sets {
        if is_dynamic(k) {
            continue;
        }
        if LISTENER_RELOADABLE.contains(k) {
            unprefixed.push(*k);
        } else if AT_START_IN_SLUICE.contains(k) {
            at_start.push(*k);
        } else {
            read_only.push(*k);
        }
    }
    let (read_only, at_start, unprefixed) =
        (sorted(read_only), sorted(at_start), sorted(unprefixed));
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
    if !unprefixed.is_empty() {
        return Err(DynamicConfigError::Invalid(format!(
            "These security configs can be dynamically updated only per-listener using the \
             listener prefix (listener.name.<listener>.<config>): {}",
            scala_set(&unprefixed)
        )));
    }
    for (k, v) in sets {
        let base = listener_scope(k).map(|(_, base)| base);
        let key = base.as_deref().unwrap_or(k);
        if let Some(kind) = kind_of(key) {
            let check = broker_key(key)
                .map(|b| b.check)
                .or_else(|| topic_key_by_synonym(key).map(|t| t.check));
            if let Some(check) = check {
                check_value(k, kind, check, v).map_err(DynamicConfigError::Invalid)?;
            }
        }
        if *k == "max.connections.per.ip.overrides" {
            parse_ip_overrides(v).map_err(DynamicConfigError::Invalid)?;
        }
    }
    if !per_broker {
        let per_broker_only = sorted(
            sets.iter()
                .map(|(k, _)| *k)
                .filter(|k| is_listener_scoped(k) || LISTENER_SET_KEYS.contains(k))
                .collect(),
        );
        if !per_broker_only.is_empty() {
            return Err(DynamicConfigError::Invalid(format!(
                "Cannot update these configs at default cluster level, broker id must be \
                 specified: {}",
                scala_set(&per_broker_only)
            )));
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
#[derive(Clone, Debug, PartialEq)]
pub struct LiveBrokerConfig {
    pub dynamic: DynamicBrokerConfigs,
    /// The broker-level defaults of topic configs.
    pub topic_defaults: TopicDefaults,
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,
    /// `max.connections`, `max.connections.per.ip` and its overrides.
    pub connections: ConnectionLimits,
    /// The pause between the log cleaner's passes (`log.cleaner.backoff.ms`).
    pub log_cleaner_backoff_ms: u64,
    /// The cleaner's I/O budget in bytes per second (`log.cleaner.io.max.bytes.per.second`).
    pub log_cleaner_io_max_bytes_per_second: f64,
    /// `leader.replication.throttled.rate` and `follower.replication.throttled.rate`.
    pub replication_throttle: ReplicationThrottleRates,
}

impl LiveBrokerConfig {
    pub fn new(settings: &BrokerSettings, dynamic: DynamicBrokerConfigs) -> LiveBrokerConfig {
        let topic_defaults = settings
            .topic_defaults
            .with_dynamic(&dynamic.cluster, &dynamic.broker);
        // Dynamic values were checked when stored; a value that somehow does not parse keeps
        // the static setting.
        let int = |key: &str, min: i64| {
            dynamic
                .get(key)
                .and_then(|(v, _)| v.trim().parse::<i64>().ok())
                .filter(|v| *v >= min)
        };
        let producer_id_expiration_ms =
            int("producer.id.expiration.ms", 1).unwrap_or(settings.producer_id_expiration_ms);
        let connections = ConnectionLimits {
            max_connections: int("max.connections", 0)
                .map_or(settings.connections.max_connections, |v| v as usize),
            per_ip: int("max.connections.per.ip", 0)
                .map_or(settings.connections.per_ip, |v| v as usize),
            per_ip_overrides: dynamic
                .get("max.connections.per.ip.overrides")
                .and_then(|(v, _)| parse_ip_overrides(v).ok())
                .unwrap_or_else(|| settings.connections.per_ip_overrides.clone()),
            max_connection_creation_rate: int("max.connection.creation.rate", 0)
                .map_or(settings.connections.max_connection_creation_rate, |v| {
                    v as u64
                }),
            // Listener-scoped keys are per broker only.
            per_listener: {
                let mut limits = settings.connections.per_listener.clone();
                apply_listener_limits(
                    &mut limits,
                    dynamic.broker.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                );
                limits
            },
        };
        let log_cleaner_backoff_ms =
            int("log.cleaner.backoff.ms", 0).map_or(settings.log_cleaner_backoff_ms, |v| v as u64);
        let log_cleaner_io_max_bytes_per_second = dynamic
            .get("log.cleaner.io.max.bytes.per.second")
            .and_then(|(v, _)| v.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .unwrap_or(settings.log_cleaner_io_max_bytes_per_second);
        let static_throttle = settings.replication.throttle;
        let replication_throttle = ReplicationThrottleRates {
            leader: int("leader.replication.throttled.rate", 0)
                .map_or(static_throttle.leader, |v| v as u64),
            follower: int("follower.replication.throttled.rate", 0)
                .map_or(static_throttle.follower, |v| v as u64),
            alter_log_dirs: int("replica.alter.log.dirs.io.max.bytes.per.second", 0)
                .map_or(static_throttle.alter_log_dirs, |v| v as u64),
        };
        LiveBrokerConfig {
            dynamic,
            topic_defaults,
            producer_id_expiration_ms,
            connections,
            log_cleaner_backoff_ms,
            log_cleaner_io_max_bytes_per_second,
            replication_throttle,
        }
    }

    /// The key store and trust store keys this broker's dynamic configs set for `listener`,
    /// by table key (`ssl.keystore.location`, ...): what its TLS side is rebuilt with.
    pub fn listener_tls_overrides(&self, listener: &str) -> BTreeMap<String, String> {
        listener_tls_overrides(&self.dynamic.broker, listener)
    }
}

/// The key store and trust store keys broker configs `configs` set for `listener`, by table
/// key.
fn listener_tls_overrides(
    configs: &BTreeMap<String, String>,
    listener: &str,
) -> BTreeMap<String, String> {
    let listener = listener.to_ascii_lowercase();
    configs
        .iter()
        .filter_map(|(k, v)| {
            let (l, base) = reloadable_scope(k)?;
            (l == listener).then(|| (base, v.clone()))
        })
        .collect()
}

/// The listener a `listener.name.<listener>.[<mechanism>.]<key>` key names (upper case).
fn scoped_listener(key: &str) -> Option<String> {
    if !is_listener_scoped(key) {
        return None;
    }
    let rest = key.strip_prefix("listener.name.")?;
    rest.split_once('.').map(|(l, _)| l.to_ascii_uppercase())
}

/// The listeners a broker runs with under its own dynamic configs `dynamic`: the file's keys
/// with the dynamic `listeners`, `listener.security.protocol.map` and listener-scoped keys in
/// place (`advertised.listeners` stays the file's: a new listener advertises its address).
pub fn dynamic_listener_settings(
    settings: &BrokerSettings,
    dynamic: &BTreeMap<String, String>,
) -> Result<Vec<ListenerSettings>, String> {
    let mut config = settings.config().clone();
    for (k, v) in dynamic {
        if LISTENER_SET_KEYS.contains(&k.as_str()) || is_listener_scoped(k) {
            config.set(k, v).map_err(|e| e.to_string())?;
        }
    }
    config.check().map_err(|e| e.to_string())?;
    Ok(listener_settings(&config))
}

/// Kafka's checks of a change of a broker's listeners (`listeners`,
/// `listener.security.protocol.map`, listener-scoped keys), on that broker: an existing
/// listener keeps its address, security protocol and settings (only its key store and trust
/// store change, see [`LISTENER_RELOADABLE`]); the inter-broker and controller listeners stay;
/// a new TLS listener's stores load. Returns the listeners the broker will run with.
pub fn check_listener_changes(
    settings: &BrokerSettings,
    current: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<Vec<ListenerSettings>, DynamicConfigError> {
    let invalid = |m: String| DynamicConfigError::Invalid(m);
    let existing = |name: &str| settings.listeners.iter().any(|l| l.name() == name);
    let changed = new
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .chain(current.keys().filter(|k| !new.contains_key(*k)));
    for key in changed {
        if let Some(listener) = scoped_listener(key) {
            if existing(&listener)
                && reloadable_scope(key).is_none()
                && !is_listener_connection_limit(key)
            {
                return Err(invalid(format!(
                    "Configs cannot be updated dynamically for existing listener {listener}, \
                     restart broker or create a new listener for update ({key})"
                )));
            }
        }
    }
    let merged = dynamic_listener_settings(settings, new).map_err(invalid)?;
    for l in &settings.listeners {
        match merged.iter().find(|m| m.name() == l.name()) {
            Some(m)
                if m.listener.host != l.listener.host
                    || m.listener.port != l.listener.port
                    || m.protocol != l.protocol
                    || m.is_controller != l.is_controller =>
            {
                return Err(invalid(format!(
                    "Listener {}: its address and security protocol cannot change \
                     dynamically; add a listener under a new name instead",
                    l.name()
                )));
            }
            Some(_) => {}
            None if l.is_controller || l.name() == settings.inter_broker_listener => {
                return Err(invalid(format!(
                    "Listener {} cannot be removed: it is the {} listener",
                    l.name(),
                    if l.is_controller {
                        "controller"
                    } else {
                        "inter-broker"
                    }
                )));
            }
            None => {}
        }
    }
    for m in merged.iter().filter(|m| !existing(m.name())) {
        if m.is_controller {
            return Err(invalid(format!(
                "Listener {}: controller listeners cannot be added dynamically",
                m.name()
            )));
        }
        if m.protocol.uses_tls() {
            tls_server(&m.ssl).map_err(|e| invalid(format!("Listener {}: {e}", m.name())))?;
        }
    }
    Ok(merged)
}

/// Kafka's validation of a broker's new dynamic configs `new` (replacing `current`) on that
/// broker: each TLS listener whose key store or trust store keys change must load the new
/// stores, and the new certificate must keep the served one's subject and alternative names
/// (`ssl.allow.dn.changes`, `ssl.allow.san.changes`); a key naming a listener the broker will
/// not have (`listeners`: those it runs with after the change), or one without TLS, is refused.
/// Reads files: call it off the async threads.
pub fn check_listener_stores(
    settings: &BrokerSettings,
    listeners: &[ListenerSettings],
    current: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Result<(), DynamicConfigError> {
    for key in new.keys() {
        let Some((listener, _)) = reloadable_scope(key) else {
            continue;
        };
        let tls = listeners
            .iter()
            .filter(|l| !l.is_controller)
            .find(|l| l.name().eq_ignore_ascii_case(&listener))
            .is_some_and(|l| l.protocol.uses_tls());
        if !tls {
            return Err(DynamicConfigError::Invalid(format!(
                "{key}: broker {} has no SSL or SASL_SSL listener named {}",
                settings.node_id,
                listener.to_ascii_uppercase()
            )));
        }
    }
    for l in settings
        .client_listeners()
        .filter(|l| l.protocol.uses_tls())
    {
        let (was, will) = (
            listener_tls_overrides(current, l.name()),
            listener_tls_overrides(new, l.name()),
        );
        if was == will {
            continue;
        }
        let invalid = |e: String| DynamicConfigError::Invalid(e);
        // The served certificate: that of the stores in service (read again here).
        let served = tls_server(&l.ssl.with_dynamic(&was))
            .map(|(_, resolver)| resolver.served_chain())
            .unwrap_or_default();
        match served.first() {
            Some(leaf) => tls_server_replacing(&l.ssl.with_dynamic(&will), leaf.as_ref())
                .map(|_| ())
                .map_err(invalid)?,
            None => tls_server(&l.ssl.with_dynamic(&will))
                .map(|_| ())
                .map_err(|e| {
                    invalid(format!(
                        "Validation of dynamic config update of SSLFactory failed: {e}"
                    ))
                })?,
        }
    }
    Ok(())
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
            .filter(|k| !k.broker_synonym.is_empty())
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
        let ok = |sets: &[(&str, &str)], per_broker: bool| {
            check_dynamic_broker_configs(sets, per_broker).unwrap()
        };
        ok(
            &[("log.retention.ms", "1000"), ("message.max.bytes", "5")],
            false,
        );
        ok(&[("num.io.threads", "16")], false);
        ok(
            &[("num.replica.fetchers", "4"), ("background.threads", "8")],
            true,
        );
        // The replication throttles' rates, per broker and cluster-wide.
        for per_broker in [false, true] {
            ok(
                &[
                    ("leader.replication.throttled.rate", "1048576"),
                    ("follower.replication.throttled.rate", "0"),
                    ("replica.alter.log.dirs.io.max.bytes.per.second", "5000"),
                ],
                per_broker,
            );
        }
        ok(
            &[
                ("log.cleaner.io.max.bytes.per.second", "1048576"),
                ("log.cleaner.threads", "2"),
                ("log.cleaner.dedupe.buffer.size", "1000000"),
            ],
            false,
        );
        for per_broker in [false, true] {
            ok(
                &[
                    ("max.connections", "5"),
                    ("max.connections.per.ip", "0"),
                    ("max.connections.per.ip.overrides", "127.0.0.1:3"),
                    ("max.connection.creation.rate", "10"),
                    ("log.cleaner.backoff.ms", "100"),
                ],
                per_broker,
            );
        }
        ok(
            &[
                ("listener.name.CLIENT.ssl.keystore.location", "/k.pem"),
                ("listener.name.client.ssl.truststore.certificates", "pem"),
                ("listener.name.client.ssl.keystore.type", "PEM"),
            ],
            true,
        );
        let refused = |sets: &[(&str, &str)]| check_dynamic_broker_configs(sets, true).unwrap_err();
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
        let at_start = refused(&[("sasl.enabled.mechanisms", "PLAIN")]);
        assert!(
            at_start.message().contains("Set(sasl.enabled.mechanisms)")
                && at_start.message().contains("at start"),
            "{at_start:?}"
        );
        // Listeners are added per broker, with their own settings.
        ok(
            &[
                ("listeners", "PLAINTEXT://:9092,EXTRA://:9095"),
                (
                    "listener.security.protocol.map",
                    "PLAINTEXT:PLAINTEXT,EXTRA:SSL",
                ),
                ("listener.name.extra.ssl.client.auth", "required"),
            ],
            true,
        );
        // A listener's own connection limits: per broker, checked as the broker-wide keys.
        ok(
            &[
                ("listener.name.plaintext.max.connections", "100"),
                ("listener.name.plaintext.max.connection.creation.rate", "10"),
            ],
            true,
        );
        let bad = check_dynamic_broker_configs(
            &[("listener.name.plaintext.max.connections", "-1")],
            true,
        )
        .unwrap_err();
        assert!(bad.message().contains("at least 0"), "{bad:?}");
        assert!(check_dynamic_broker_configs(
            &[("listener.name.plaintext.max.connections", "1")],
            false
        )
        .is_err());
        let cluster_listeners =
            check_dynamic_broker_configs(&[("listeners", "PLAINTEXT://:9092")], false).unwrap_err();
        assert!(
            cluster_listeners
                .message()
                .starts_with("Cannot update these configs at default cluster level"),
            "{cluster_listeners:?}"
        );
        assert_eq!(
            refused(&[("advertised.listeners", "PLAINTEXT://h:1")]),
            DynamicConfigError::Invalid(
                "Cannot update these configs dynamically: Set(advertised.listeners)".into()
            )
        );
        let unprefixed = refused(&[("ssl.keystore.location", "/k.pem")]);
        assert!(
            unprefixed
                .message()
                .starts_with("These security configs can be dynamically updated only per-listener")
                && unprefixed.message().ends_with("Set(ssl.keystore.location)"),
            "{unprefixed:?}"
        );
        let cluster_wide = check_dynamic_broker_configs(
            &[("listener.name.client.ssl.keystore.location", "/k.pem")],
            false,
        )
        .unwrap_err();
        assert_eq!(
            cluster_wide.message(),
            "Cannot update these configs at default cluster level, broker id must be specified: \
             Set(listener.name.client.ssl.keystore.location)"
        );
        assert!(matches!(
            refused(&[("listener.name.client.ssl.keystore.type", "JKS")]),
            DynamicConfigError::Invalid(_)
        ));
        let bad_overrides = refused(&[("max.connections.per.ip.overrides", "somehost:3")]);
        assert!(
            bad_overrides
                .message()
                .contains("max.connections.per.ip.overrides"),
            "{bad_overrides:?}"
        );
        assert!(matches!(
            refused(&[("max.connections", "-1")]),
            DynamicConfigError::Invalid(_)
        ));
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
    fn listeners_are_added_and_existing_ones_kept() {
        let s = settings(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:9092,OTHER://127.0.0.1:9093",
            ),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ),
        ]);
        let none = BTreeMap::new();
        let add = map(&[
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:9092,OTHER://127.0.0.1:9093,EXTRA://127.0.0.1:9095",
            ),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT,EXTRA:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ),
        ]);
        let merged = check_listener_changes(&s, &none, &add).expect("a new listener");
        assert!(merged.iter().any(|l| l.name() == "EXTRA"));
        // An existing listener's own connection limits change; its other settings do not.
        check_listener_changes(
            &s,
            &none,
            &map(&[("listener.name.other.max.connections", "3")]),
        )
        .expect("a connection limit");
        check_listener_changes(
            &s,
            &none,
            &map(&[("listener.name.other.ssl.client.auth", "required")]),
        )
        .expect_err("not for an existing listener");
        let refused = |new: &[(&str, &str)]| {
            check_listener_changes(&s, &none, &map(new))
                .unwrap_err()
                .message()
                .to_string()
        };
        let moved = refused(&[(
            "listeners",
            "PLAINTEXT://127.0.0.1:9999,OTHER://127.0.0.1:9093",
        )]);
        assert!(moved.contains("Listener PLAINTEXT: its address"), "{moved}");
        let removed = refused(&[("listeners", "OTHER://127.0.0.1:9093")]);
        assert!(
            removed.contains("Listener PLAINTEXT cannot be removed: it is the inter-broker"),
            "{removed}"
        );
        check_listener_changes(
            &s,
            &none,
            &map(&[("listeners", "PLAINTEXT://127.0.0.1:9092")]),
        )
        .expect("another of the file's listeners may go");
        let existing = refused(&[("listener.name.other.ssl.client.auth", "required")]);
        assert!(
            existing
                .starts_with("Configs cannot be updated dynamically for existing listener OTHER"),
            "{existing}"
        );
        let unmapped = refused(&[(
            "listeners",
            "PLAINTEXT://127.0.0.1:9092,OTHER://127.0.0.1:9093,NEW://127.0.0.1:9096",
        )]);
        assert!(unmapped.contains("NEW"), "{unmapped}");
    }

    #[test]
    fn live_connection_limits_cleaner_pause_and_listener_stores() {
        let s = settings(&[
            ("max.connections", "100"),
            ("max.connections.per.ip.overrides", "127.0.0.2:4"),
            ("log.cleaner.backoff.ms", "500"),
        ]);
        let none = LiveBrokerConfig::new(&s, DynamicBrokerConfigs::default());
        assert_eq!(none.connections.max_connections, 100);
        assert_eq!(none.connections.per_ip, i32::MAX as usize);
        assert_eq!(
            none.connections.per_ip_limit("127.0.0.2".parse().unwrap()),
            4
        );
        assert_eq!(none.log_cleaner_backoff_ms, 500);
        let live = LiveBrokerConfig::new(
            &s,
            DynamicBrokerConfigs {
                cluster: map(&[
                    ("max.connections", "7"),
                    ("max.connections.per.ip", "2"),
                    ("max.connection.creation.rate", "3"),
                ]),
                broker: map(&[
                    ("max.connections.per.ip.overrides", "127.0.0.3:1"),
                    ("log.cleaner.backoff.ms", "20"),
                    ("listener.name.SECURE.ssl.keystore.location", "/new.pem"),
                    ("listener.name.secure.ssl.client.auth", "required"),
                    ("listener.name.other.ssl.keystore.location", "/other.pem"),
                ]),
            },
        );
        assert_eq!(live.connections.max_connections, 7);
        assert_eq!(
            live.connections.per_ip_limit("127.0.0.2".parse().unwrap()),
            2
        );
        assert_eq!(
            live.connections.per_ip_limit("127.0.0.3".parse().unwrap()),
            1
        );
        assert_eq!(live.log_cleaner_backoff_ms, 20);
        assert_eq!(none.log_cleaner_io_max_bytes_per_second, f64::MAX);
        assert_eq!(
            none.connections.max_connection_creation_rate,
            i32::MAX as u64
        );
        assert_eq!(live.connections.max_connection_creation_rate, 3);
        // Only the reloadable keys of that listener, by table key.
        assert_eq!(
            live.listener_tls_overrides("SECURE"),
            map(&[("ssl.keystore.location", "/new.pem")])
        );
        // Listener limits: the file's, under this broker's dynamic ones.
        let with_listeners = settings(&[
            ("listeners", "CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0"),
            (
                "listener.security.protocol.map",
                "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT",
            ),
            ("inter.broker.listener.name", "INTERNAL"),
            ("listener.name.client.max.connections", "50"),
        ]);
        let file_only = LiveBrokerConfig::new(&with_listeners, DynamicBrokerConfigs::default());
        assert_eq!(
            file_only.connections.listener("CLIENT").max_connections,
            Some(50)
        );
        let dynamic = LiveBrokerConfig::new(
            &with_listeners,
            DynamicBrokerConfigs {
                cluster: BTreeMap::new(),
                broker: map(&[
                    ("listener.name.client.max.connections", "5"),
                    ("listener.name.internal.max.connection.creation.rate", "9"),
                ]),
            },
        );
        assert_eq!(
            dynamic.connections.listener("client").max_connections,
            Some(5)
        );
        assert_eq!(
            dynamic.connections.listener("INTERNAL"),
            crate::config::ListenerLimits {
                max_connections: None,
                max_connection_creation_rate: Some(9)
            }
        );
    }

    #[test]
    fn live_replication_throttles_follow_precedence() {
        let s = settings(&[("leader.replication.throttled.rate", "1000")]);
        let none = LiveBrokerConfig::new(&s, DynamicBrokerConfigs::default());
        let unbounded = i64::MAX as u64;
        assert_eq!(
            none.replication_throttle,
            ReplicationThrottleRates {
                leader: 1000,
                follower: unbounded,
                alter_log_dirs: unbounded
            }
        );
        let live = LiveBrokerConfig::new(
            &s,
            DynamicBrokerConfigs {
                cluster: map(&[
                    ("follower.replication.throttled.rate", "300"),
                    ("leader.replication.throttled.rate", "200"),
                ]),
                broker: map(&[
                    ("leader.replication.throttled.rate", "100"),
                    ("replica.alter.log.dirs.io.max.bytes.per.second", "50"),
                ]),
            },
        );
        assert_eq!(
            live.replication_throttle,
            ReplicationThrottleRates {
                leader: 100,
                follower: 300,
                alter_log_dirs: 50
            }
        );
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
        for listed in ["advertised.listeners", "log.dirs", "process.roles"] {
            assert!(find(listed).read_only, "{listed}");
        }
        // Listeners are added and removed per broker.
        assert!(!find("listeners").read_only);
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

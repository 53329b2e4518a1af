//! Broker configuration with Kafka's key names, read from a server.properties-style file and
//! `--set key=value` overrides.
//!
//! Every key the broker knows is listed in [`BROKER_KEYS`]; any other key is a startup error.
//! Keys Kafka has but Sluice does not act on yet are accepted (so an existing server.properties
//! works) and reported with a warning at startup.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::topic_config::{check_value, Check, ConfigType, TOPIC_CONFIG_KEYS};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown configuration key '{0}' (Sluice uses Kafka's broker config names)")]
    UnknownKey(String),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected key=value, got '{text}'")]
    Syntax {
        path: PathBuf,
        line: usize,
        text: String,
    },
}

/// Whether a key changes behaviour today.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Used,
    /// Known to Kafka, accepted, no effect in Sluice yet.
    NotYet,
}

struct BrokerKey {
    name: &'static str,
    kind: ConfigType,
    check: Check,
    used: Use,
}

const fn key(name: &'static str, kind: ConfigType, check: Check, used: Use) -> BrokerKey {
    BrokerKey {
        name,
        kind,
        check,
        used,
    }
}

const ANY: Check = Check::AtLeast(i64::MIN);

/// Broker-level keys beyond the topic-config synonyms (which are derived from
/// [`TOPIC_CONFIG_KEYS`]).
const BROKER_KEYS: &[BrokerKey] = &[
    key("node.id", ConfigType::Int, Check::AtLeast(0), Use::Used),
    key("broker.id", ConfigType::Int, Check::AtLeast(0), Use::Used),
    key("listeners", ConfigType::List, ANY, Use::Used),
    key("advertised.listeners", ConfigType::List, ANY, Use::Used),
    key("log.dirs", ConfigType::List, ANY, Use::Used),
    key("log.dir", ConfigType::String, ANY, Use::Used),
    key(
        "num.partitions",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "default.replication.factor",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "auto.create.topics.enable",
        ConfigType::Boolean,
        Check::Bool,
        Use::Used,
    ),
    key(
        "delete.topic.enable",
        ConfigType::Boolean,
        Check::Bool,
        Use::Used,
    ),
    key(
        "socket.request.max.bytes",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key("log.retention.hours", ConfigType::Int, ANY, Use::Used),
    key("log.retention.minutes", ConfigType::Int, ANY, Use::Used),
    key(
        "log.roll.hours",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "log.retention.check.interval.ms",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "log.flush.scheduler.interval.ms",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
    ),
    key("cluster.id", ConfigType::String, ANY, Use::Used),
    key(
        "fetch.max.bytes",
        ConfigType::Int,
        Check::AtLeast(1024),
        Use::Used,
    ),
    key(
        "max.connections",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "queued.max.requests",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "max.incremental.fetch.session.cache.slots",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key("broker.rack", ConfigType::String, ANY, Use::Used),
    // Accepted for compatibility with Kafka's sample server.properties; not acted on yet.
    key("num.network.threads", ConfigType::Int, ANY, Use::NotYet),
    key("num.io.threads", ConfigType::Int, ANY, Use::NotYet),
    key(
        "socket.send.buffer.bytes",
        ConfigType::Int,
        ANY,
        Use::NotYet,
    ),
    key(
        "socket.receive.buffer.bytes",
        ConfigType::Int,
        ANY,
        Use::NotYet,
    ),
    key(
        "num.recovery.threads.per.data.dir",
        ConfigType::Int,
        ANY,
        Use::NotYet,
    ),
    key("process.roles", ConfigType::List, ANY, Use::NotYet),
    key(
        "controller.quorum.voters",
        ConfigType::List,
        ANY,
        Use::NotYet,
    ),
    key(
        "controller.quorum.bootstrap.servers",
        ConfigType::List,
        ANY,
        Use::NotYet,
    ),
    key(
        "controller.listener.names",
        ConfigType::List,
        ANY,
        Use::NotYet,
    ),
    key(
        "listener.security.protocol.map",
        ConfigType::List,
        ANY,
        Use::NotYet,
    ),
    key(
        "inter.broker.listener.name",
        ConfigType::String,
        ANY,
        Use::NotYet,
    ),
    key(
        "offsets.topic.segment.bytes",
        ConfigType::Int,
        Check::AtLeast(14),
        Use::Used,
    ),
    key(
        "offsets.retention.check.interval.ms",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "group.min.session.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "group.max.session.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "group.max.size",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "offset.metadata.max.bytes",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "group.consumer.heartbeat.interval.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "group.consumer.session.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key("group.consumer.assignors", ConfigType::List, ANY, Use::Used),
    key(
        "group.consumer.max.size",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "group.coordinator.rebalance.protocols",
        ConfigType::List,
        ANY,
        Use::Used,
    ),
    key(
        "offsets.topic.num.partitions",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "offsets.topic.replication.factor",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::NotYet,
    ),
    key(
        "offsets.retention.minutes",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "transaction.state.log.num.partitions",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "transaction.state.log.segment.bytes",
        ConfigType::Int,
        Check::AtLeast(14),
        Use::Used,
    ),
    key(
        "transaction.max.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "transactional.id.expiration.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "producer.id.expiration.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "transaction.abort.timed.out.transaction.cleanup.interval.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "transaction.state.log.replication.factor",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::NotYet,
    ),
    key(
        "transaction.state.log.min.isr",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::NotYet,
    ),
    key(
        "group.initial.rebalance.delay.ms",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "share.coordinator.state.topic.replication.factor",
        ConfigType::Int,
        ANY,
        Use::NotYet,
    ),
    key(
        "share.coordinator.state.topic.min.isr",
        ConfigType::Int,
        ANY,
        Use::NotYet,
    ),
    key(
        "log.cleaner.enable",
        ConfigType::Boolean,
        Check::Bool,
        Use::Used,
    ),
    key(
        "log.cleaner.backoff.ms",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
    ),
];

/// The broker's configuration: the keys that were set, and typed accessors with Kafka's defaults.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    set: BTreeMap<String, String>,
}

impl BrokerConfig {
    /// Builds a config from key/value pairs, rejecting unknown keys and invalid values.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let mut config = BrokerConfig::default();
        for (k, v) in pairs {
            config.set(k, v)?;
        }
        Ok(config)
    }

    /// Reads a server.properties-style file: `key=value` (or `key: value`) lines, `#`/`!`
    /// comments, blank lines ignored.
    pub fn load_file(&mut self, path: &std::path::Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some((k, v)) = line.split_once(['=', ':']) else {
                return Err(ConfigError::Syntax {
                    path: path.to_owned(),
                    line: i + 1,
                    text: line.to_string(),
                });
            };
            self.set(k.trim(), v.trim())?;
        }
        Ok(())
    }

    /// Sets one key (from the file or a `--set key=value` override).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let (kind, check) = if let Some(k) = BROKER_KEYS.iter().find(|k| k.name == key) {
            (k.kind, k.check)
        } else if let Some(k) = TOPIC_CONFIG_KEYS.iter().find(|k| k.broker_synonym == key) {
            (k.kind, k.check)
        } else {
            return Err(ConfigError::UnknownKey(key.to_string()));
        };
        check_value(key, kind, check, value).map_err(ConfigError::Invalid)?;
        self.set.insert(key.to_string(), value.trim().to_string());
        self.validate_listeners()?;
        Ok(())
    }

    fn validate_listeners(&self) -> Result<(), ConfigError> {
        for key in ["listeners", "advertised.listeners"] {
            if let Some(v) = self.set.get(key) {
                parse_listener(v).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
            }
        }
        Ok(())
    }

    /// Keys that were set but have no effect yet, for a startup warning.
    pub fn ignored_keys(&self) -> Vec<&str> {
        self.set
            .keys()
            .filter(|k| {
                BROKER_KEYS
                    .iter()
                    .any(|b| b.name == k.as_str() && b.used == Use::NotYet)
            })
            .map(String::as_str)
            .collect()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.set.get(key).map(String::as_str)
    }

    fn int(&self, key: &str, default: i64) -> i64 {
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn bool(&self, key: &str, default: bool) -> bool {
        self.get(key)
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(default)
    }

    /// The broker-level value of a topic config synonym, if the operator set it (directly or
    /// through its hours/minutes variants).
    pub fn topic_default(&self, synonym: &str) -> Option<String> {
        if let Some(v) = self.get(synonym) {
            return Some(v.to_string());
        }
        match synonym {
            "log.retention.ms" => {
                if let Some(m) = self.get("log.retention.minutes") {
                    return m.parse::<i64>().ok().map(|m| (m * 60_000).to_string());
                }
                self.get("log.retention.hours")
                    .and_then(|h| h.parse::<i64>().ok())
                    .map(|h| {
                        if h < 0 {
                            "-1".into()
                        } else {
                            (h * 3_600_000).to_string()
                        }
                    })
            }
            "log.roll.ms" => self
                .get("log.roll.hours")
                .and_then(|h| h.parse::<i64>().ok())
                .map(|h| (h * 3_600_000).to_string()),
            _ => None,
        }
    }

    /// Every broker-level value to report in DescribeConfigs: keys the operator set (static
    /// broker config) and the defaults of the topic-config synonyms.
    pub fn describe_entries(&self) -> Vec<(String, String, crate::topic_config::ConfigSource)> {
        use crate::topic_config::ConfigSource;
        let mut out: Vec<(String, String, ConfigSource)> = self
            .set
            .iter()
            .map(|(k, v)| (k.clone(), v.clone(), ConfigSource::StaticBrokerConfig))
            .collect();
        for key in TOPIC_CONFIG_KEYS {
            if !self.set.contains_key(key.broker_synonym) {
                let value = self
                    .topic_default(key.broker_synonym)
                    .unwrap_or_else(|| key.default.to_string());
                out.push((
                    key.broker_synonym.to_string(),
                    value,
                    ConfigSource::DefaultConfig,
                ));
            }
        }
        out.sort();
        out
    }

    pub fn node_id(&self) -> i32 {
        self.int("node.id", self.int("broker.id", 1)) as i32
    }

    /// The address to bind (the first PLAINTEXT listener).
    pub fn listener(&self) -> SocketAddr {
        self.get("listeners")
            .and_then(|v| parse_listener(v).ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092)))
    }

    /// The host and port clients are told to connect to; the bound port replaces port 0.
    pub fn advertised(&self, bound: SocketAddr) -> (String, u16) {
        if let Some(v) = self.get("advertised.listeners") {
            if let Ok(addr) = parse_listener_host(v) {
                return addr;
            }
        }
        let host = match self
            .get("listeners")
            .and_then(|v| parse_listener_host(v).ok())
        {
            Some((h, _)) if !h.is_empty() && h != "0.0.0.0" => h,
            _ => bound.ip().to_string(),
        };
        (host, bound.port())
    }

    pub fn log_dir(&self) -> PathBuf {
        if let Some(dirs) = self.get("log.dirs") {
            if let Some(first) = dirs.split(',').map(str::trim).find(|d| !d.is_empty()) {
                return PathBuf::from(first);
            }
        }
        PathBuf::from(self.get("log.dir").unwrap_or("./sluice-data"))
    }

    /// The transaction coordinator's settings, by Kafka's names and defaults.
    pub fn txn_config(&self) -> sluice_txn::TxnConfig {
        sluice_txn::TxnConfig {
            num_partitions: self.int("transaction.state.log.num.partitions", 50) as i32,
            max_timeout_ms: self.int("transaction.max.timeout.ms", 900_000) as i32,
            id_expiration_ms: self.int("transactional.id.expiration.ms", 604_800_000),
        }
    }
    pub fn txn_state_segment_bytes(&self) -> i64 {
        self.int("transaction.state.log.segment.bytes", 104_857_600)
    }
    /// How often timed-out transactions are looked for.
    pub fn txn_timeout_check_interval_ms(&self) -> u64 {
        self.int(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            10_000,
        ) as u64
    }
    /// The group coordinator's settings, by Kafka's names and defaults.
    pub fn group_config(&self) -> sluice_group::GroupConfig {
        let d = sluice_group::GroupConfig::default();
        sluice_group::GroupConfig {
            num_partitions: self.int("offsets.topic.num.partitions", 50) as i32,
            initial_rebalance_delay_ms: self.int("group.initial.rebalance.delay.ms", 3000),
            min_session_timeout_ms: self.int("group.min.session.timeout.ms", 6000) as i32,
            max_session_timeout_ms: self.int("group.max.session.timeout.ms", 1_800_000) as i32,
            max_size: self.int("group.max.size", i32::MAX as i64) as usize,
            offset_metadata_max_bytes: self.int("offset.metadata.max.bytes", 4096) as usize,
            offsets_retention_ms: self.int("offsets.retention.minutes", 10080) * 60_000,
            consumer_heartbeat_interval_ms: self.int("group.consumer.heartbeat.interval.ms", 5000)
                as i32,
            consumer_session_timeout_ms: self.int("group.consumer.session.timeout.ms", 45_000)
                as i32,
            consumer_assignors: self
                .get("group.consumer.assignors")
                .map(|v| {
                    v.split(',')
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect()
                })
                .unwrap_or(d.consumer_assignors),
            consumer_max_size: self.int("group.consumer.max.size", i32::MAX as i64) as usize,
        }
    }
    /// `group.coordinator.rebalance.protocols` includes `consumer` (KIP-848).
    pub fn consumer_protocol_enabled(&self) -> bool {
        self.get("group.coordinator.rebalance.protocols")
            .is_none_or(|v| v.split(',').any(|p| p.trim() == "consumer"))
    }
    pub fn offsets_topic_segment_bytes(&self) -> i64 {
        self.int("offsets.topic.segment.bytes", 104_857_600)
    }
    pub fn offsets_retention_check_interval_ms(&self) -> u64 {
        self.int("offsets.retention.check.interval.ms", 600_000) as u64
    }
    pub fn num_partitions(&self) -> i32 {
        self.int("num.partitions", 1) as i32
    }
    pub fn default_replication_factor(&self) -> i16 {
        self.int("default.replication.factor", 1) as i16
    }
    pub fn auto_create_topics(&self) -> bool {
        self.bool("auto.create.topics.enable", true)
    }
    pub fn delete_topic_enable(&self) -> bool {
        self.bool("delete.topic.enable", true)
    }
    pub fn socket_request_max_bytes(&self) -> usize {
        self.int("socket.request.max.bytes", 104_857_600) as usize
    }
    pub fn retention_check_interval_ms(&self) -> u64 {
        self.int("log.retention.check.interval.ms", 300_000) as u64
    }
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub fn producer_id_expiration_ms(&self) -> i64 {
        self.int("producer.id.expiration.ms", 86_400_000)
    }
    /// Whether compacted topics are cleaned (`log.cleaner.enable`).
    pub fn cleaner_enable(&self) -> bool {
        self.bool("log.cleaner.enable", true)
    }
    /// Pause between cleaning passes over the compacted partitions.
    pub fn cleaner_backoff_ms(&self) -> u64 {
        self.int("log.cleaner.backoff.ms", 15_000) as u64
    }
    pub fn flush_scheduler_interval_ms(&self) -> u64 {
        self.int("log.flush.scheduler.interval.ms", 1000) as u64
    }
    pub fn fetch_max_bytes(&self) -> usize {
        self.int("fetch.max.bytes", 57_671_680) as usize
    }
    pub fn max_connections(&self) -> usize {
        self.int("max.connections", 10_000) as usize
    }
    /// Requests one connection may have in flight before the broker stops reading from it.
    pub fn queued_max_requests(&self) -> usize {
        self.int("queued.max.requests", 500) as usize
    }
    pub fn fetch_session_cache_slots(&self) -> usize {
        self.int("max.incremental.fetch.session.cache.slots", 1000) as usize
    }
    pub fn cluster_id(&self) -> Option<&str> {
        self.get("cluster.id")
    }
    pub fn rack(&self) -> Option<&str> {
        self.get("broker.rack")
    }
}

/// Parses `PLAINTEXT://host:port` (or a bare `host:port`) into a bind address.
fn parse_listener(value: &str) -> Result<SocketAddr, String> {
    let (host, port) = parse_listener_host(value)?;
    let host = if host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        host
    };
    let host = if host == "localhost" {
        "127.0.0.1".to_string()
    } else {
        host
    };
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("'{value}': host must be an IP address or localhost"))?;
    Ok(SocketAddr::new(ip, port))
}

fn parse_listener_host(value: &str) -> Result<(String, u16), String> {
    let first = value.split(',').next().unwrap_or("").trim();
    let rest = match first.split_once("://") {
        Some((proto, rest)) => {
            if !proto.eq_ignore_ascii_case("PLAINTEXT") {
                return Err(format!(
                    "'{first}': only PLAINTEXT listeners are supported so far"
                ));
            }
            rest
        }
        None => first,
    };
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("'{first}': expected PLAINTEXT://host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{first}': bad port '{port}'"))?;
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected() {
        let err = BrokerConfig::from_pairs(&[("log.retention.weeks", "1")]).unwrap_err();
        assert!(err.to_string().contains("log.retention.weeks"), "{err}");
    }

    #[test]
    fn values_are_checked() {
        assert!(BrokerConfig::from_pairs(&[("num.partitions", "0")]).is_err());
        assert!(BrokerConfig::from_pairs(&[("num.partitions", "x")]).is_err());
        assert!(BrokerConfig::from_pairs(&[("listeners", "PLAINTEXT://127.0.0.1:x")]).is_err());
        assert!(BrokerConfig::from_pairs(&[("listeners", "SSL://127.0.0.1:9093")]).is_err());
    }

    #[test]
    fn defaults_and_overrides() {
        let c = BrokerConfig::default();
        assert_eq!(c.listener(), "127.0.0.1:9092".parse().unwrap());
        assert_eq!(c.log_dir(), PathBuf::from("./sluice-data"));
        let c = BrokerConfig::from_pairs(&[
            ("listeners", "PLAINTEXT://localhost:0"),
            ("log.retention.hours", "2"),
            ("log.dirs", "/tmp/a,/tmp/b"),
        ])
        .unwrap();
        assert_eq!(c.listener(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            c.advertised("127.0.0.1:4567".parse().unwrap()),
            ("localhost".into(), 4567)
        );
        assert_eq!(
            c.topic_default("log.retention.ms").as_deref(),
            Some("7200000")
        );
        assert_eq!(c.log_dir(), PathBuf::from("/tmp/a"));
    }

    #[test]
    fn properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.properties");
        std::fs::write(
            &path,
            "# comment\n\nnum.partitions=3\nnum.network.threads = 3\n",
        )
        .unwrap();
        let mut c = BrokerConfig::default();
        c.load_file(&path).unwrap();
        assert_eq!(c.num_partitions(), 3);
        assert_eq!(c.ignored_keys(), vec!["num.network.threads"]);
        std::fs::write(&path, "bogus line\n").unwrap();
        assert!(matches!(
            c.load_file(&path),
            Err(ConfigError::Syntax { line: 1, .. })
        ));
    }
}

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
    key(
        "replica.high.watermark.checkpoint.interval.ms",
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
    key("process.roles", ConfigType::List, ANY, Use::Used),
    key("controller.quorum.voters", ConfigType::List, ANY, Use::Used),
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
        Use::Used,
    ),
    key(
        "listener.security.protocol.map",
        ConfigType::List,
        ANY,
        Use::Used,
    ),
    key(
        "controller.quorum.election.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(10),
        Use::Used,
    ),
    key(
        "controller.quorum.request.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(100),
        Use::Used,
    ),
    key("metadata.log.dir", ConfigType::String, ANY, Use::Used),
    key(
        "broker.session.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(10),
        Use::Used,
    ),
    key(
        "broker.heartbeat.interval.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "replica.lag.time.max.ms",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "replica.fetch.wait.max.ms",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "replica.fetch.max.bytes",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "replica.fetch.response.max.bytes",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "replica.fetch.backoff.ms",
        ConfigType::Int,
        Check::AtLeast(0),
        Use::Used,
    ),
    key(
        "replica.socket.timeout.ms",
        ConfigType::Int,
        Check::AtLeast(1),
        Use::Used,
    ),
    key(
        "auto.leader.rebalance.enable",
        ConfigType::Boolean,
        Check::Bool,
        Use::Used,
    ),
    key(
        "leader.imbalance.check.interval.seconds",
        ConfigType::Long,
        Check::AtLeast(1),
        Use::Used,
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
        Use::Used,
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
        Use::Used,
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
                let listeners =
                    parse_listeners(v).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
                if key == "listeners" {
                    for l in &listeners {
                        bind_address(l).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
                    }
                }
            }
        }
        if let Some(v) = self.set.get("process.roles") {
            parse_roles(v).map_err(ConfigError::Invalid)?;
        }
        if let Some(v) = self.set.get("controller.quorum.voters") {
            sluice_controller::parse_quorum_voters(v)
                .map_err(|e| ConfigError::Invalid(format!("controller.quorum.voters: {e}")))?;
        }
        Ok(())
    }

    /// Checks what depends on several keys together (call once every key is set): listener
    /// names and protocols, roles against the quorum voters.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let roles = self.process_roles();
        let listeners = match self.get("listeners") {
            Some(v) => parse_listeners(v).map_err(ConfigError::Invalid)?,
            None => Vec::new(),
        };
        let controller_names = self.controller_listener_names();
        for l in &listeners {
            let protocol = self.security_protocol(&l.name);
            match protocol.as_deref() {
                Some("PLAINTEXT") => {}
                Some(p) => {
                    return invalid(format!(
                        "listener {}: security protocol {p} is not supported yet (PLAINTEXT only)",
                        l.name
                    ))
                }
                None => {
                    return invalid(format!(
                        "listener {} has no entry in listener.security.protocol.map",
                        l.name
                    ))
                }
            }
        }
        let client_listeners = listeners
            .iter()
            .filter(|l| !controller_names.contains(&l.name))
            .count();
        if roles == ProcessRoles::Controller && client_listeners > 0 {
            return invalid(
                "process.roles=controller: listeners must only name controller listeners \
                 (controller.listener.names)"
                    .into(),
            );
        }
        let voters = self.quorum_voters();
        match (roles, &voters) {
            (ProcessRoles::Broker | ProcessRoles::Controller, None) => {
                return invalid(format!(
                    "process.roles={} needs controller.quorum.voters",
                    self.get("process.roles").unwrap_or_default()
                ))
            }
            (ProcessRoles::Broker, Some(v)) if v.contains_key(&(self.node_id() as u64)) => {
                return invalid(format!(
                    "node.id {} is one of the controller.quorum.voters but process.roles=broker",
                    self.node_id()
                ))
            }
            (ProcessRoles::Combined | ProcessRoles::Controller, Some(v))
                if !v.contains_key(&(self.node_id() as u64)) =>
            {
                return invalid(format!(
                    "node.id {} is not one of the controller.quorum.voters ({})",
                    self.node_id(),
                    self.get("controller.quorum.voters").unwrap_or_default()
                ))
            }
            _ => {}
        }
        if voters.is_some() && roles.is_controller() && self.controller_listener().is_none() {
            return invalid(format!(
                "a controller in a quorum needs a controller listener: add {}://host:port to listeners",
                controller_names.first().map(String::as_str).unwrap_or("CONTROLLER")
            ));
        }
        Ok(())
    }

    /// The security protocol of listener `name` (`listener.security.protocol.map`).
    fn security_protocol(&self, name: &str) -> Option<String> {
        if let Some(map) = self.get("listener.security.protocol.map") {
            return map
                .split(',')
                .filter_map(|e| e.split_once(':'))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                .map(|(_, p)| p.trim().to_ascii_uppercase());
        }
        DEFAULT_PROTOCOLS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.to_string())
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

    fn listeners(&self) -> Vec<Listener> {
        self.get("listeners")
            .and_then(|v| parse_listeners(v).ok())
            .unwrap_or_default()
    }

    /// `controller.listener.names` (default CONTROLLER), upper case.
    pub fn controller_listener_names(&self) -> Vec<String> {
        self.get("controller.listener.names")
            .unwrap_or("CONTROLLER")
            .split(',')
            .map(|n| n.trim().to_ascii_uppercase())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// The address to bind for clients: the first listener that is not a controller listener.
    pub fn listener(&self) -> SocketAddr {
        let names = self.controller_listener_names();
        self.listeners()
            .iter()
            .find(|l| !names.contains(&l.name))
            .and_then(|l| bind_address(l).ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9092)))
    }

    /// The address the controller listener binds, if `listeners` names one.
    pub fn controller_listener(&self) -> Option<SocketAddr> {
        let names = self.controller_listener_names();
        self.listeners()
            .iter()
            .find(|l| names.contains(&l.name))
            .and_then(|l| bind_address(l).ok())
    }

    /// The host and port clients are told to connect to; the bound port replaces port 0.
    pub fn advertised(&self, bound: SocketAddr) -> (String, u16) {
        let names = self.controller_listener_names();
        if let Some(v) = self.get("advertised.listeners") {
            if let Some(l) = parse_listeners(v)
                .ok()
                .and_then(|ls| ls.into_iter().find(|l| !names.contains(&l.name)))
            {
                let port = if l.port == 0 { bound.port() } else { l.port };
                return (l.host, port);
            }
        }
        let host = match self
            .listeners()
            .into_iter()
            .find(|l| !names.contains(&l.name))
        {
            Some(l) if !l.host.is_empty() && l.host != "0.0.0.0" => l.host,
            _ => bound.ip().to_string(),
        };
        (host, bound.port())
    }

    /// `process.roles`; `broker,controller` when unset.
    pub fn process_roles(&self) -> ProcessRoles {
        self.get("process.roles")
            .and_then(|v| parse_roles(v).ok())
            .unwrap_or(ProcessRoles::Combined)
    }

    /// `controller.quorum.voters`; `None` when unset (a standalone node is a quorum of one).
    pub fn quorum_voters(&self) -> Option<BTreeMap<u64, SocketAddr>> {
        self.get("controller.quorum.voters")
            .and_then(|v| sluice_controller::parse_quorum_voters(v).ok())
    }

    /// Where the metadata log lives (`metadata.log.dir`, else `<log dir>/__cluster_metadata`).
    pub fn metadata_log_dir(&self) -> PathBuf {
        match self.get("metadata.log.dir") {
            Some(d) => PathBuf::from(d),
            None => self.log_dir().join("__cluster_metadata"),
        }
    }

    pub fn controller_election_timeout_ms(&self) -> u64 {
        self.int("controller.quorum.election.timeout.ms", 1000) as u64
    }
    pub fn controller_request_timeout_ms(&self) -> u64 {
        self.int("controller.quorum.request.timeout.ms", 2000) as u64
    }
    pub fn broker_session_timeout_ms(&self) -> u64 {
        self.int("broker.session.timeout.ms", 9000) as u64
    }
    pub fn broker_heartbeat_interval_ms(&self) -> u64 {
        self.int("broker.heartbeat.interval.ms", 2000) as u64
    }
    pub fn auto_leader_rebalance(&self) -> bool {
        self.bool("auto.leader.rebalance.enable", true)
    }
    pub fn leader_imbalance_check_interval_ms(&self) -> u64 {
        (self.int("leader.imbalance.check.interval.seconds", 300) as u64).saturating_mul(1000)
    }
    /// Replication settings (Kafka's names and defaults).
    pub fn replication(&self) -> crate::replication::ReplicationConfig {
        use std::time::Duration;
        crate::replication::ReplicationConfig {
            lag_time_max: Duration::from_millis(self.int("replica.lag.time.max.ms", 30_000) as u64),
            fetch_wait_max_ms: self.int("replica.fetch.wait.max.ms", 500) as i32,
            fetch_max_bytes: self.int("replica.fetch.max.bytes", 1_048_576) as i32,
            fetch_response_max_bytes: self.int("replica.fetch.response.max.bytes", 10_485_760)
                as i32,
            fetch_backoff: Duration::from_millis(self.int("replica.fetch.backoff.ms", 1000) as u64),
            socket_timeout: Duration::from_millis(
                self.int("replica.socket.timeout.ms", 30_000) as u64
            ),
        }
    }
    pub fn unclean_leader_election(&self) -> bool {
        self.bool("unclean.leader.election.enable", false)
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
    /// `offsets.topic.replication.factor` (Kafka's default 3; capped by the live brokers).
    pub fn offsets_topic_replication_factor(&self) -> i16 {
        self.int("offsets.topic.replication.factor", 3) as i16
    }
    /// `transaction.state.log.replication.factor` (Kafka's default 3; capped likewise).
    pub fn txn_state_replication_factor(&self) -> i16 {
        self.int("transaction.state.log.replication.factor", 3) as i16
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
    /// How often every partition's high watermark is written to `replication-offset-checkpoint`.
    pub fn high_watermark_checkpoint_interval_ms(&self) -> u64 {
        self.int("replica.high.watermark.checkpoint.interval.ms", 5000) as u64
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

/// One entry of `listeners` / `advertised.listeners`: `NAME://host:port` (a bare `host:port`
/// is named PLAINTEXT).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listener {
    name: String,
    host: String,
    port: u16,
}

fn parse_listeners(value: &str) -> Result<Vec<Listener>, String> {
    let mut out: Vec<Listener> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, rest) = match entry.split_once("://") {
            Some((name, rest)) => (name.trim().to_ascii_uppercase(), rest),
            None => ("PLAINTEXT".to_string(), entry),
        };
        if name.is_empty() {
            return Err(format!("'{entry}': the listener has no name"));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("'{entry}': expected NAME://host:port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{entry}': bad port '{port}'"))?;
        if out.iter().any(|l| l.name == name) {
            return Err(format!("listener name {name} is used twice"));
        }
        out.push(Listener {
            name,
            host: host.to_string(),
            port,
        });
    }
    if out.is_empty() {
        return Err("no listener given".to_string());
    }
    Ok(out)
}

/// The bind address of a listener: an IP address or `localhost` (empty host: every interface).
fn bind_address(listener: &Listener) -> Result<SocketAddr, String> {
    let host = match listener.host.as_str() {
        "" => "0.0.0.0",
        "localhost" => "127.0.0.1",
        h => h,
    };
    let ip: std::net::IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| {
            format!(
                "'{}://{}:{}': host must be an IP address or localhost",
                listener.name, listener.host, listener.port
            )
        })?;
    Ok(SocketAddr::new(ip, listener.port))
}

/// The roles of this node (`process.roles`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessRoles {
    /// `broker,controller` (the default): serves clients and votes in the controller quorum.
    Combined,
    /// `broker`: serves clients; follows the controller quorum without voting.
    Broker,
    /// `controller`: votes in the controller quorum only.
    Controller,
}

impl ProcessRoles {
    pub fn is_broker(self) -> bool {
        self != ProcessRoles::Controller
    }
    pub fn is_controller(self) -> bool {
        self != ProcessRoles::Broker
    }
}

fn parse_roles(value: &str) -> Result<ProcessRoles, String> {
    let mut broker = false;
    let mut controller = false;
    for role in value.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        match role {
            "broker" if !broker => broker = true,
            "controller" if !controller => controller = true,
            _ => {
                return Err(format!(
                    "process.roles: '{role}' is not a role or is listed twice (expected broker, controller or both)"
                ))
            }
        }
    }
    match (broker, controller) {
        (true, true) => Ok(ProcessRoles::Combined),
        (true, false) => Ok(ProcessRoles::Broker),
        (false, true) => Ok(ProcessRoles::Controller),
        (false, false) => Err("process.roles must name broker, controller or both".into()),
    }
}

/// Kafka's default `listener.security.protocol.map` entries, plus CONTROLLER (plaintext).
const DEFAULT_PROTOCOLS: &[(&str, &str)] = &[
    ("PLAINTEXT", "PLAINTEXT"),
    ("SSL", "SSL"),
    ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
    ("SASL_SSL", "SASL_SSL"),
    ("CONTROLLER", "PLAINTEXT"),
];

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
        let ssl = BrokerConfig::from_pairs(&[("listeners", "SSL://127.0.0.1:9093")]).unwrap();
        assert!(ssl.check().unwrap_err().to_string().contains("SSL"));
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
    fn roles_listeners_and_voters() {
        let c = BrokerConfig::default();
        assert_eq!(c.process_roles(), ProcessRoles::Combined);
        assert_eq!(c.quorum_voters(), None);
        assert_eq!(c.controller_listener(), None);
        c.check().unwrap();

        let c = BrokerConfig::from_pairs(&[
            ("node.id", "2"),
            (
                "listeners",
                "PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093",
            ),
            (
                "controller.quorum.voters",
                "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093",
            ),
        ])
        .unwrap();
        c.check().unwrap();
        assert_eq!(c.listener(), "127.0.0.2:9092".parse().unwrap());
        assert_eq!(
            c.controller_listener(),
            Some("127.0.0.2:9093".parse().unwrap())
        );
        assert_eq!(c.quorum_voters().unwrap().len(), 3);
        assert_eq!(
            c.advertised("127.0.0.2:9092".parse().unwrap()),
            ("127.0.0.2".into(), 9092)
        );

        // A voter without a controller listener, a broker-only voter, a voter not listed.
        let mut bad = c.clone();
        bad.set("listeners", "PLAINTEXT://127.0.0.2:9092").unwrap();
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("controller listener"));
        let mut bad = c.clone();
        bad.set("process.roles", "broker").unwrap();
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("process.roles=broker"));
        let mut bad = c.clone();
        bad.set("node.id", "7").unwrap();
        assert!(bad.check().unwrap_err().to_string().contains("not one of"));
        let mut bad = BrokerConfig::default();
        bad.set("process.roles", "broker").unwrap();
        assert!(bad.check().unwrap_err().to_string().contains("needs"));
        let mut ctl = c.clone();
        ctl.set("process.roles", "controller").unwrap();
        assert!(ctl.check().unwrap_err().to_string().contains("only name"));
        ctl.set("listeners", "CONTROLLER://127.0.0.2:9093").unwrap();
        ctl.check().unwrap();

        for (key, value) in [
            ("process.roles", "broker,broker"),
            ("process.roles", "zookeeper"),
            ("process.roles", ""),
            ("controller.quorum.voters", "1@"),
            ("controller.quorum.voters", "x@127.0.0.1:9093"),
            ("listeners", "PLAINTEXT://a.b:1"),
            (
                "listeners",
                "PLAINTEXT://127.0.0.1:1,PLAINTEXT://127.0.0.1:2",
            ),
        ] {
            assert!(
                BrokerConfig::from_pairs(&[(key, value)]).is_err(),
                "{key}={value} was accepted"
            );
        }
        let unmapped =
            BrokerConfig::from_pairs(&[("listeners", "INTERNAL://127.0.0.1:1")]).unwrap();
        assert!(unmapped
            .check()
            .unwrap_err()
            .to_string()
            .contains("protocol.map"));
        let mapped = BrokerConfig::from_pairs(&[
            ("listeners", "INTERNAL://127.0.0.1:1"),
            ("listener.security.protocol.map", "INTERNAL:PLAINTEXT"),
        ])
        .unwrap();
        mapped.check().unwrap();
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

//! [`BrokerSettings`]: the broker's configuration as typed values, built once at startup from
//! the key table and the keys that were set. Every component reads its fields; nothing parses a
//! config string after startup.
//!
//! Components hold it as `Arc<BrokerSettings>` and read fields where they use them. It holds
//! the static configuration only: the values that dynamic broker configs change at runtime
//! are in [`super::LiveBrokerConfig`], which the replica manager rebuilds from these settings
//! and the metadata image.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use sluice_security::acl::AuthorizerSettings;
use sluice_security::audit::AuditSettings;
use sluice_security::quota::QuotaWindow;

use super::broker_config::{listener_scope, BrokerConfig, ConfigError};
use super::connection_limits::ListenerLimits;
use super::group_settings::GroupSettings;
use super::listener_settings::{listener_settings, ListenerSettings};
use super::listeners::Listener;
use super::process_roles::ProcessRoles;
use super::replication_settings::ReplicationSettings;
use super::topic_config::TopicDefaults;
use super::txn_settings::TxnSettings;

#[derive(Clone, Debug)]
pub struct BrokerSettings {
    // Identity and roles.
    /// `node.id` (else `broker.id`).
    pub node_id: i32,
    /// `process.roles`.
    pub process_roles: ProcessRoles,
    /// The node's HTTP services other nodes forward requests to, by name (`schema-registry`):
    /// their URLs, advertised in the broker's registration. Set by the binary once it bound
    /// them (not a config key).
    pub http_endpoints: std::collections::BTreeMap<String, String>,
    /// `schema.compatibility.level`: the schema registry's global compatibility level until
    /// one is set through its API (Confluent's default BACKWARD).
    pub schema_compatibility_level: sluice_schema::CompatibilityLevel,
    /// `cluster.id`, if set: it must match the one in `meta.properties`.
    pub cluster_id: Option<String>,
    /// `broker.rack`.
    pub rack: Option<String>,

    // Listeners.
    /// Where clients connect: the first listener that is not a controller listener.
    pub client_listener: SocketAddr,
    /// The controller listener, if `listeners` names one.
    pub controller_listener: Option<SocketAddr>,

    // The controller quorum and this broker's place in it.
    /// `controller.quorum.voters`; `None` when unset (a standalone node is a quorum of one).
    pub quorum_voters: Option<BTreeMap<u64, SocketAddr>>,
    /// Where the metadata log lives (`metadata.log.dir`, else `<log dir>/__cluster_metadata`).
    pub metadata_log_dir: PathBuf,
    pub controller_quorum_election_timeout_ms: u64,
    pub controller_quorum_request_timeout_ms: u64,
    pub broker_session_timeout_ms: u64,
    pub broker_heartbeat_interval_ms: u64,
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`, in ms.
    pub leader_imbalance_check_interval_ms: u64,
    pub unclean_leader_election_enable: bool,

    // Requests and connections.
    pub socket_request_max_bytes: usize,
    /// `max.connections`, `max.connections.per.ip` and its overrides, as set at start (the
    /// live values are in [`super::LiveBrokerConfig`]).
    pub connections: super::ConnectionLimits,
    /// Requests one connection may have in flight before the broker stops reading from it.
    pub queued_max_requests: usize,
    pub fetch_max_bytes: usize,
    /// `max.incremental.fetch.session.cache.slots`.
    pub fetch_session_cache_slots: usize,
    /// `request.slow.log.threshold.ms`: a request whose handling takes at least this long is
    /// logged at WARN; `None` (-1, the default) logs none.
    pub request_slow_log_threshold: Option<std::time::Duration>,

    // Topics and their logs.
    /// The first of `log.dirs` (else `log.dir`): where the metadata log, the audit log and the
    /// broker's own files live by default.
    pub log_dir: PathBuf,
    /// Every directory of `log.dirs` (else `log.dir`), in the order given, without
    /// duplicates; the first is `log_dir`. Each holds replicas (JBOD).
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    /// The broker-level defaults of topic configs.
    pub topic_defaults: TopicDefaults,
    pub log_retention_check_interval_ms: u64,
    pub log_flush_scheduler_interval_ms: u64,
    /// Whether compacted topics are cleaned (`log.cleaner.enable`).
    pub log_cleaner_enable: bool,
    /// Pause between cleaning passes over the compacted partitions.
    pub log_cleaner_backoff_ms: u64,
    /// `log.cleaner.io.max.bytes.per.second`.
    pub log_cleaner_io_max_bytes_per_second: f64,
    /// How long a partition keeps an idle producer's state (`producer.id.expiration.ms`).
    pub producer_id_expiration_ms: i64,

    // Replication and the coordinators.
    pub replication: ReplicationSettings,
    /// How often every partition's high watermark is written to `replication-offset-checkpoint`.
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    pub group: GroupSettings,
    pub txn: TxnSettings,

    // Security.
    /// Every listener with its security settings, in `listeners` order.
    pub listeners: Vec<ListenerSettings>,
    /// The listener other brokers reach this one through (`inter.broker.listener.name`, else
    /// the listener named by `security.inter.broker.protocol`, else the first client listener).
    pub inter_broker_listener: String,
    /// `sasl.mechanism.inter.broker.protocol`.
    pub inter_broker_sasl_mechanism: String,
    /// `sasl.mechanism.controller.protocol`: how this node logs in on the controller listener.
    pub controller_sasl_mechanism: String,
    /// `connection.failed.authentication.delay.ms`: how long a failed login waits for its
    /// answer (slowing password guessing).
    pub failed_authentication_delay_ms: u64,
    /// ACLs are enforced (`authorizer.class.name` names Kafka's StandardAuthorizer).
    pub authorizer_enabled: bool,
    /// `super.users` and `allow.everyone.if.no.acl.found`.
    pub authorizer: AuthorizerSettings,
    /// `audit.*`.
    pub audit: AuditSettings,
    /// `quota.window.num` samples of `quota.window.size.seconds`.
    pub quota_window: QuotaWindow,
    /// `controller.quota.window.num` and `controller.quota.window.size.seconds`
    /// (controller_mutation_rate).
    pub controller_quota_window: QuotaWindow,

    /// The keys as set, for DescribeConfigs.
    config: BrokerConfig,
}

impl BrokerSettings {
    /// Checks the keys together ([`BrokerConfig::check`]) and reads every setting.
    pub fn new(config: &BrokerConfig) -> Result<BrokerSettings, ConfigError> {
        config.check()?;
        let controller_names = config.controller_listener_names();
        let is_client = |l: &Listener| !controller_names.contains(&l.name);
        let named_client_listener = config.listeners().into_iter().find(|l| is_client(l));
        let client_listener = named_client_listener
            .as_ref()
            .and_then(|l| l.bind_address().ok())
            .unwrap_or_else(BrokerConfig::default_client_listener);
        let log_dirs: Vec<PathBuf> = match config.get("log.dirs") {
            Some(dirs) if dirs.split(',').any(|d| !d.trim().is_empty()) => dirs
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect(),
            _ => vec![config
                .value("log.dir")
                .map(PathBuf::from)
                .unwrap_or_default()],
        };
        for (i, dir) in log_dirs.iter().enumerate() {
            if log_dirs[..i].contains(dir) {
                return Err(ConfigError::Invalid(format!(
                    "log.dirs: duplicate log directory {}",
                    dir.display()
                )));
            }
        }
        let log_dir = log_dirs.first().cloned().unwrap_or_default();
        let metadata_log_dir = match config.get("metadata.log.dir") {
            Some(d) => PathBuf::from(d),
            None => log_dir.join("__cluster_metadata"),
        };
        let int = |key| config.int(key);
        let listeners = listener_settings(config);
        let inter_broker_listener = inter_broker_listener(config, &listeners);
        Ok(BrokerSettings {
            http_endpoints: Default::default(),
            schema_compatibility_level: {
                let v = config
                    .value("schema.compatibility.level")
                    .unwrap_or("backward");
                sluice_schema::CompatibilityLevel::from_name(v).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "schema.compatibility.level: '{v}' is not a compatibility level (none, backward, backward_transitive, forward, forward_transitive, full, full_transitive)"
                    ))
                })?
            },
            listeners,
            inter_broker_listener,
            inter_broker_sasl_mechanism: config
                .value("sasl.mechanism.inter.broker.protocol")
                .unwrap_or("PLAIN")
                .to_ascii_uppercase(),
            controller_sasl_mechanism: config
                .value("sasl.mechanism.controller.protocol")
                .unwrap_or("PLAIN")
                .to_ascii_uppercase(),
            failed_authentication_delay_ms: int("connection.failed.authentication.delay.ms") as u64,
            authorizer_enabled: !config
                .value("authorizer.class.name")
                .unwrap_or("")
                .trim()
                .is_empty(),
            authorizer: AuthorizerSettings {
                // Checked by BrokerConfig::check.
                super_users: AuthorizerSettings::parse_super_users(
                    config.value("super.users").unwrap_or(""),
                )
                .unwrap_or_default(),
                allow_everyone_if_no_acl_found: config.bool("allow.everyone.if.no.acl.found"),
            },
            quota_window: config.quota_window("quota.window.num", "quota.window.size.seconds"),
            controller_quota_window: config.quota_window(
                "controller.quota.window.num",
                "controller.quota.window.size.seconds",
            ),
            audit: AuditSettings {
                enabled: config.bool("audit.enabled"),
                log_dir: config.get("audit.log.dir").map(PathBuf::from),
                file_name: config
                    .value("audit.log.file.name")
                    .unwrap_or("audit.log")
                    .to_string(),
                max_file_bytes: int("audit.log.max.file.bytes") as u64,
                max_files: int("audit.log.max.files").clamp(0, u32::MAX as i64) as u32,
                // Checked against the same three values by the key table.
                allowed: config
                    .value("audit.log.allowed")
                    .unwrap_or("admin")
                    .parse()
                    .unwrap_or_default(),
                topic_enabled: config.bool("audit.topic.enabled"),
                topic_name: config
                    .value("audit.topic.name")
                    .unwrap_or("__sluice_audit")
                    .to_string(),
            },
            node_id: config.node_id(),
            process_roles: config.process_roles(),
            cluster_id: config.get("cluster.id").map(str::to_string),
            rack: config.get("broker.rack").map(str::to_string),
            client_listener,
            controller_listener: config.controller_listener(),
            quorum_voters: config.quorum_voters(),
            metadata_log_dir,
            controller_quorum_election_timeout_ms: int("controller.quorum.election.timeout.ms")
                as u64,
            controller_quorum_request_timeout_ms: int("controller.quorum.request.timeout.ms")
                as u64,
            broker_session_timeout_ms: int("broker.session.timeout.ms") as u64,
            broker_heartbeat_interval_ms: int("broker.heartbeat.interval.ms") as u64,
            auto_leader_rebalance_enable: config.bool("auto.leader.rebalance.enable"),
            leader_imbalance_check_interval_ms: (int("leader.imbalance.check.interval.seconds")
                as u64)
                .saturating_mul(1000),
            unclean_leader_election_enable: config.bool("unclean.leader.election.enable"),
            socket_request_max_bytes: int("socket.request.max.bytes") as usize,
            connections: super::ConnectionLimits {
                max_connections: int("max.connections") as usize,
                per_ip: int("max.connections.per.ip") as usize,
                // Checked by BrokerConfig::check.
                per_ip_overrides: super::parse_ip_overrides(
                    config
                        .value("max.connections.per.ip.overrides")
                        .unwrap_or(""),
                )
                .unwrap_or_default(),
                max_connection_creation_rate: int("max.connection.creation.rate").max(0) as u64,
                per_listener: {
                    let mut limits = BTreeMap::new();
                    apply_listener_limits(
                        &mut limits,
                        config
                            .set_keys()
                            .filter_map(|k| config.get(k).map(|v| (k, v))),
                    );
                    limits
                },
            },
            queued_max_requests: int("queued.max.requests") as usize,
            fetch_max_bytes: int("fetch.max.bytes") as usize,
            fetch_session_cache_slots: int("max.incremental.fetch.session.cache.slots") as usize,
            request_slow_log_threshold: u64::try_from(int("request.slow.log.threshold.ms"))
                .ok()
                .map(std::time::Duration::from_millis),
            log_dir,
            log_dirs,
            num_partitions: int("num.partitions") as i32,
            default_replication_factor: int("default.replication.factor") as i16,
            auto_create_topics_enable: config.bool("auto.create.topics.enable"),
            delete_topic_enable: config.bool("delete.topic.enable"),
            topic_defaults: TopicDefaults::from_config(config),
            log_retention_check_interval_ms: int("log.retention.check.interval.ms") as u64,
            log_flush_scheduler_interval_ms: int("log.flush.scheduler.interval.ms") as u64,
            log_cleaner_enable: config.bool("log.cleaner.enable"),
            log_cleaner_backoff_ms: int("log.cleaner.backoff.ms") as u64,
            log_cleaner_io_max_bytes_per_second: config
                .value("log.cleaner.io.max.bytes.per.second")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| *v > 0.0)
                .unwrap_or(f64::MAX),
            producer_id_expiration_ms: int("producer.id.expiration.ms"),
            replication: ReplicationSettings::from_config(config),
            replica_high_watermark_checkpoint_interval_ms: int(
                "replica.high.watermark.checkpoint.interval.ms",
            ) as u64,
            group: GroupSettings::from_config(config),
            txn: TxnSettings::from_config(config),
            config: config.clone(),
        })
    }

    /// The host and port clients are told to connect to on the first client listener (see
    /// [`ListenerSettings::advertised`]).
    pub fn advertised(&self, bound: SocketAddr) -> (String, u16) {
        match self.client_listeners().next() {
            Some(l) => l.advertised(bound),
            None => (bound.ip().to_string(), bound.port()),
        }
    }

    /// The client listeners (not the controller's), in `listeners` order.
    pub fn client_listeners(&self) -> impl Iterator<Item = &ListenerSettings> {
        self.listeners.iter().filter(|l| !l.is_controller)
    }

    /// The settings of listener `name` (upper case).
    pub fn listener(&self, name: &str) -> Option<&ListenerSettings> {
        self.listeners.iter().find(|l| l.name() == name)
    }

    /// The keys as set (server.properties and `--set`).
    pub(super) fn config(&self) -> &BrokerConfig {
        &self.config
    }
}

/// See [`BrokerSettings::inter_broker_listener`].
fn inter_broker_listener(config: &BrokerConfig, listeners: &[ListenerSettings]) -> String {
    if let Some(name) = config.get("inter.broker.listener.name") {
        return name.trim().to_ascii_uppercase();
    }
    let by_protocol = config
        .value("security.inter.broker.protocol")
        .unwrap_or("PLAINTEXT")
        .to_ascii_uppercase();
    let clients = || listeners.iter().filter(|l| !l.is_controller);
    clients()
        .find(|l| l.name() == by_protocol)
        .or_else(|| clients().next())
        .map(|l| l.name().to_string())
        .unwrap_or(by_protocol)
}

/// Sets into `limits` the listener-scoped connection limits among `configs` (key, value pairs:
/// `listener.name.<listener>.max.connections`, ...); values that do not parse are skipped
/// (they were checked when set).
pub(super) fn apply_listener_limits<'a>(
    limits: &mut BTreeMap<String, ListenerLimits>,
    configs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (key, value) in configs {
        let Some((listener, base)) = listener_scope(key) else {
            continue;
        };
        let Ok(n) = value.trim().parse::<u64>() else {
            continue;
        };
        let entry = limits.entry(listener).or_default();
        match base.as_str() {
            "max.connections" => entry.max_connections = Some(n as usize),
            "max.connection.creation.rate" => entry.max_connection_creation_rate = Some(n),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BrokerSettings {
        BrokerSettings::new(&BrokerConfig::from_pairs(pairs).expect("valid keys")).expect("valid")
    }

    #[test]
    fn defaults_come_from_the_key_table() {
        let s = settings(&[]);
        assert_eq!(s.node_id, 1);
        assert_eq!(s.process_roles, ProcessRoles::Combined);
        assert_eq!(s.client_listener, "127.0.0.1:9092".parse().unwrap());
        assert_eq!(s.controller_listener, None);
        assert_eq!(s.quorum_voters, None);
        assert_eq!(s.log_dir, PathBuf::from("./sluice-data"));
        assert_eq!(
            s.metadata_log_dir,
            PathBuf::from("./sluice-data/__cluster_metadata")
        );
        assert_eq!(s.queued_max_requests, 500);
        assert_eq!(s.socket_request_max_bytes, 104_857_600);
        assert_eq!(s.fetch_max_bytes, 57_671_680);
        assert_eq!(s.leader_imbalance_check_interval_ms, 300_000);
        assert!(!s.unclean_leader_election_enable);
        assert!(s.group.consumer_protocol_enabled);
        assert_eq!(
            s.group.coordinator.consumer_assignors,
            sluice_group::GroupConfig::default().consumer_assignors
        );
        assert_eq!(s.group.coordinator.offsets_retention_ms, 7 * 24 * 3_600_000);
        assert_eq!(s.txn.coordinator.num_partitions, 50);
        assert_eq!(
            s.replication.lag_time_max,
            std::time::Duration::from_secs(30)
        );
        assert_eq!(s.topic_defaults, TopicDefaults::default());
        assert_eq!(
            s.advertised("127.0.0.1:9092".parse().unwrap()),
            ("127.0.0.1".into(), 9092)
        );
    }

    #[test]
    fn overrides_and_listeners() {
        let s = settings(&[
            ("listeners", "PLAINTEXT://localhost:0"),
            ("log.retention.hours", "2"),
            ("log.dirs", "/tmp/a,/tmp/b"),
            ("broker.id", "4"),
            ("group.coordinator.rebalance.protocols", "classic"),
            ("unclean.leader.election.enable", "TRUE"),
        ]);
        assert_eq!(s.client_listener, "127.0.0.1:0".parse().unwrap());
        assert_eq!(
            s.advertised("127.0.0.1:4567".parse().unwrap()),
            ("localhost".into(), 4567)
        );
        assert_eq!(s.topic_defaults.get("log.retention.ms"), Some("7200000"));
        assert_eq!(s.log_dir, PathBuf::from("/tmp/a"));
        assert_eq!(
            s.log_dirs,
            [PathBuf::from("/tmp/a"), PathBuf::from("/tmp/b")]
        );
        assert_eq!(
            s.metadata_log_dir,
            PathBuf::from("/tmp/a/__cluster_metadata")
        );
        assert_eq!(s.node_id, 4);
        assert!(!s.group.consumer_protocol_enabled);
        assert!(s.unclean_leader_election_enable);

        let s = settings(&[
            ("node.id", "2"),
            (
                "listeners",
                "PLAINTEXT://127.0.0.2:9092,CONTROLLER://127.0.0.2:9093",
            ),
            (
                "controller.quorum.voters",
                "1@127.0.0.1:9093,2@127.0.0.2:9093,3@127.0.0.3:9093",
            ),
            ("advertised.listeners", "PLAINTEXT://broker-2:0"),
        ]);
        assert_eq!(s.client_listener, "127.0.0.2:9092".parse().unwrap());
        assert_eq!(
            s.controller_listener,
            Some("127.0.0.2:9093".parse().unwrap())
        );
        assert_eq!(s.quorum_voters.as_ref().map(BTreeMap::len), Some(3));
        assert_eq!(
            s.advertised("127.0.0.2:9092".parse().unwrap()),
            ("broker-2".into(), 9092)
        );
    }

    #[test]
    fn a_config_that_fails_its_check_builds_no_settings() {
        let config = BrokerConfig::from_pairs(&[("process.roles", "broker")]).expect("keys");
        assert!(BrokerSettings::new(&config).is_err());
    }

    #[test]
    fn a_log_directory_named_twice_is_refused() {
        let config =
            BrokerConfig::from_pairs(&[("log.dirs", "/tmp/a, /tmp/b,/tmp/a")]).expect("keys");
        let Err(err) = BrokerSettings::new(&config) else {
            panic!("a duplicate log directory was accepted");
        };
        assert!(
            err.to_string().contains("duplicate log directory /tmp/a"),
            "{err}"
        );
        let s = settings(&[("log.dirs", " , "), ("log.dir", "/tmp/c")]);
        assert_eq!(s.log_dirs, [PathBuf::from("/tmp/c")]);
    }
}

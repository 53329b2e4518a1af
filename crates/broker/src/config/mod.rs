//! Configuration, the bottom layer of the broker: imports nothing else from the crate.
//!
//! - `broker_keys`: the table of every broker key (Kafka's name, type, accepted values, used or
//!   not yet, default); `topic_keys`: the same for topic keys, with their broker-level
//!   synonyms.
//! - `broker_config`: [`BrokerConfig`], the keys the file and `--set` set, checked as they are
//!   set; DescribeConfigs reports them.
//! - `broker_settings`: [`BrokerSettings`], every setting as a typed value, built once at
//!   startup from the table and the keys set; its parts [`ReplicationSettings`],
//!   [`GroupSettings`], [`TxnSettings`] and [`TopicDefaults`].
//! - `dynamic_config`: dynamic broker configs: which keys change without a restart, the checks
//!   an alteration passes, [`LiveBrokerConfig`] (the values this broker runs with) and the
//!   broker's configs as DescribeConfigs reports them.
//! - `topic_config`: a topic's effective config (its overrides over the broker's defaults over
//!   Kafka's) and what the log and the produce path make of it.
//! - `listener_settings`: each listener's security protocol, TLS and SASL settings
//!   ([`ListenerSettings`]), with `listener.name.<listener>.` overrides applied.
//! - `admin_listeners`: the admin HTTP listener's addresses (`admin.listeners`).
//! - `connection_limits`: `max.connections` and the per-address limits.
//! - `config_type`, `listeners`, `process_roles`: value types and checks, listener lists,
//!   `process.roles`.

mod admin_listeners;
mod broker_config;
mod broker_keys;
mod broker_settings;
mod config_type;
mod connection_limits;
mod dynamic_config;
mod group_settings;
mod listener_settings;
mod listeners;
mod process_roles;
mod replication_settings;
mod topic_config;
mod topic_keys;
mod txn_settings;

pub use admin_listeners::{parse_admin_listeners, parse_http_listeners, HttpListener};
pub use broker_config::{is_sensitive, BrokerConfig, ConfigError};
pub use broker_settings::BrokerSettings;
pub use config_type::{ConfigSource, ConfigType};
pub use connection_limits::{parse_ip_overrides, ConnectionLimits, ListenerLimits};
pub use dynamic_config::{
    check_dynamic_broker_configs, check_listener_changes, check_listener_stores, describe_broker,
    describe_cluster_defaults, dynamic_listener_settings, is_dynamic, is_listener_connection_limit,
    BrokerConfigEntry, ConfigSynonym, DynamicBrokerConfigs, DynamicConfigError, LiveBrokerConfig,
    LISTENER_RELOADABLE,
};
pub use group_settings::GroupSettings;
pub use listener_settings::{
    admin_ssl, rest_proxy_ssl, ssl_settings, tls_server, tls_server_replacing, ListenerSettings,
    SaslSettings, SecurityProtocol, SslSettings,
};
pub use process_roles::ProcessRoles;
pub use replication_settings::{ReplicationSettings, ReplicationThrottleRates};
pub use topic_config::{
    effective, log_config, produce_settings, resolve_topic_configs, ProduceSettings,
    ResolvedConfig, TopicDefaults,
};
pub use topic_keys::{
    topic_config_key, topic_key_by_synonym, validate_topic_config, TopicConfigKey,
};
pub use txn_settings::TxnSettings;

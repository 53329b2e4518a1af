//! [`BrokerConfig`]: the keys the operator set, with Kafka's names, from a
//! server.properties-style file and `--set key=value` overrides, each checked against the key
//! table as it is set. Components do not read it: they read [`super::BrokerSettings`], built
//! from it once at startup. It stays for what needs the keys as written: DescribeConfigs of the
//! broker and the topic keys' broker-level defaults.
//!
//! Every key the broker knows is in [`super::broker_keys::BROKER_KEYS`] or is a topic key's
//! broker-level synonym; any other key is a startup error. Keys Kafka has but Sluice does not act
//! on yet are accepted (so an existing server.properties works) and reported with a warning at
//! startup.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use sluice_security::quota::QuotaWindow;

use super::admin_listeners::HttpListener;
use super::broker_keys::{broker_key, listener_scoped, KeyDefault, Use, MECHANISMS};
use super::config_type::{check_value, ConfigType};
use super::listeners::{parse_listener_names, parse_listeners, security_protocol, Listener};
use super::process_roles::ProcessRoles;
use super::topic_keys::topic_key_by_synonym;

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

/// The keys that were set, each checked against its type and accepted values.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    set: BTreeMap<String, String>,
}

/// The `authorizer.class.name` values that switch ACLs on: Kafka's KRaft authorizer, and its
/// ZooKeeper-era one that older configurations name.
pub const AUTHORIZER_CLASSES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
];

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
        let (stored, base) = match scoped_key(key) {
            Some(scoped) => scoped?,
            None => (key.to_string(), key.to_string()),
        };
        let (kind, check) = if let Some(k) = broker_key(&base) {
            (k.kind, k.check)
        } else if let Some(k) = topic_key_by_synonym(&base) {
            (k.kind, k.check)
        } else {
            return Err(ConfigError::UnknownKey(key.to_string()));
        };
        check_value(key, kind, check, value).map_err(ConfigError::Invalid)?;
        self.set.insert(stored, value.trim().to_string());
        self.validate_structured()?;
        Ok(())
    }

    /// Listener `listener`'s value of a listener-scoped key: `listener.name.<listener>.<key>`
    /// if set, else the key's own value.
    pub(super) fn listener_value(&self, listener: &str, key: &str) -> Option<&str> {
        let prefixed = format!("listener.name.{}.{key}", listener.to_ascii_lowercase());
        self.get(&prefixed).or_else(|| self.value(key))
    }

    /// Whether listener `name` (upper case) has a key store: a file, or an inline key and
    /// certificate chain, its own or the broker's.
    fn has_key_store(&self, name: &str) -> bool {
        let set = |key: &str| self.listener_value(name, key).is_some();
        set("ssl.keystore.location")
            || (set("ssl.keystore.key") && set("ssl.keystore.certificate.chain"))
    }

    /// A per-mechanism key on a listener (`sasl.jaas.config`, `sasl.server.callback.handler.class`):
    /// `listener.name.<listener>.<mechanism>.<key>`, else the listener's, else the broker's.
    pub(super) fn mechanism_value(
        &self,
        listener: &str,
        mechanism: &str,
        key: &str,
    ) -> Option<&str> {
        let prefixed = format!(
            "listener.name.{}.{}.{key}",
            listener.to_ascii_lowercase(),
            mechanism.to_ascii_lowercase()
        );
        self.get(&prefixed)
            .or_else(|| self.listener_value(listener, key))
    }

    /// The keys whose values have a structure of their own: listeners, roles, voters.
    fn validate_structured(&self) -> Result<(), ConfigError> {
        for key in ["listeners", "advertised.listeners"] {
            if let Some(v) = self.set.get(key) {
                let listeners =
                    parse_listeners(v).map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
                if key == "listeners" {
                    for l in &listeners {
                        l.bind_address()
                            .map_err(|e| ConfigError::Invalid(format!("{key}: {e}")))?;
                    }
                }
            }
        }
        if let Some(v) = self.set.get("process.roles") {
            ProcessRoles::parse(v).map_err(ConfigError::Invalid)?;
        }
        if let Some(v) = self.set.get("controller.quorum.voters") {
            sluice_controller::parse_quorum_voters(v)
                .map_err(|e| ConfigError::Invalid(format!("controller.quorum.voters: {e}")))?;
        }
        Ok(())
    }

    /// Checks what depends on several keys together (call once every key is set): listener
    /// names and protocols, roles against the quorum voters. [`super::BrokerSettings::new`]
    /// runs it too.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let roles = self.process_roles();
        // The listeners the operator named (the default names no controller listener).
        let listeners = match self.get("listeners") {
            Some(v) => parse_listeners(v).map_err(ConfigError::Invalid)?,
            None => Vec::new(),
        };
        let controller_names = self.controller_listener_names();
        let protocol_map = self.value("listener.security.protocol.map").unwrap_or("");
        for l in &listeners {
            let protocol = security_protocol(protocol_map, &l.name);
            match protocol.as_deref() {
                Some("PLAINTEXT" | "SASL_PLAINTEXT") => {}
                Some("SSL" | "SASL_SSL") => {
                    if !self.has_key_store(&l.name) {
                        return invalid(format!(
                            "listener {} uses TLS: set ssl.keystore.location (or \
                             ssl.keystore.key and ssl.keystore.certificate.chain), for it alone \
                             as listener.name.{}.ssl.keystore.location",
                            l.name,
                            l.name.to_ascii_lowercase()
                        ));
                    }
                }
                Some(p) => {
                    return invalid(format!(
                        "listener {}: unknown security protocol {p} (PLAINTEXT, SSL, \
                         SASL_PLAINTEXT or SASL_SSL)",
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
        for l in listeners
            .iter()
            .filter(|l| controller_names.contains(&l.name))
        {
            let protocol = security_protocol(protocol_map, &l.name).unwrap_or_default();
            if !protocol.starts_with("SASL_") {
                continue;
            }
            // A global sasl.enabled.mechanisms naming SCRAM is for the client listeners; the
            // controller listener leaves SCRAM out (see listener_settings).
            let enabled = self
                .get(&format!(
                    "listener.name.{}.sasl.enabled.mechanisms",
                    l.name.to_ascii_lowercase()
                ))
                .unwrap_or("");
            if enabled.to_ascii_uppercase().contains("SCRAM") {
                return invalid(format!(
                    "listener {}: SCRAM is not supported on a controller listener (its \
                     credentials live in the metadata log the controllers replicate); use PLAIN",
                    l.name
                ));
            }
            let mechanism = self
                .value("sasl.mechanism.controller.protocol")
                .unwrap_or("PLAIN")
                .to_ascii_uppercase();
            if mechanism != "PLAIN" {
                return invalid(format!(
                    "sasl.mechanism.controller.protocol={mechanism}: nodes log in on the \
                     controller listener {} with PLAIN",
                    l.name
                ));
            }
            if self
                .mechanism_value(&l.name, "PLAIN", "sasl.jaas.config")
                .is_none()
            {
                return invalid(format!(
                    "controller listener {} uses SASL: set listener.name.{}.plain.sasl.jaas.config \
                     with this node's username and password and the users it accepts",
                    l.name,
                    l.name.to_ascii_lowercase()
                ));
            }
        }
        // The https listeners of the HTTP services need a key store of their own or the
        // broker's.
        for (key, name, listeners) in [
            ("admin.listeners", "ADMIN", self.admin_listeners()),
            (
                "rest.proxy.listeners",
                "REST_PROXY",
                self.rest_proxy_listeners(),
            ),
            (
                "schema.registry.listeners",
                "SCHEMA_REGISTRY",
                self.schema_registry_listeners(),
            ),
        ] {
            let listeners = listeners.map_err(ConfigError::Invalid)?;
            if listeners.iter().any(|l| l.tls) && !self.has_key_store(name) {
                return invalid(format!(
                    "{key} has an https listener: set listener.name.{}.ssl.keystore.location (or \
                     ssl.keystore.key and ssl.keystore.certificate.chain)",
                    name.to_ascii_lowercase()
                ));
            }
        }
        let level = self
            .value("schema.compatibility.level")
            .unwrap_or("backward");
        if sluice_schema::CompatibilityLevel::from_name(level).is_none() {
            return invalid(format!(
                "schema.compatibility.level: '{level}' is not one of none, backward, \
                 backward_transitive, forward, forward_transitive, full, full_transitive"
            ));
        }
        let authorizer = self.value("authorizer.class.name").unwrap_or("").trim();
        if !authorizer.is_empty() && !AUTHORIZER_CLASSES.contains(&authorizer) {
            return invalid(format!(
                "authorizer.class.name={authorizer}: Sluice's authorizer answers to {}",
                AUTHORIZER_CLASSES.join(" or ")
            ));
        }
        if let Err(e) = sluice_security::acl::AuthorizerSettings::parse_super_users(
            self.value("super.users").unwrap_or(""),
        ) {
            return invalid(format!("super.users: {}", e.message()));
        }
        super::connection_limits::parse_ip_overrides(
            self.value("max.connections.per.ip.overrides").unwrap_or(""),
        )
        .map_err(ConfigError::Invalid)?;
        let client_listeners = listeners
            .iter()
            .filter(|l| !controller_names.contains(&l.name))
            .count();
        if let Some(name) = self.get("inter.broker.listener.name") {
            let name = name.trim().to_ascii_uppercase();
            let known = listeners.is_empty() && name == "PLAINTEXT"
                || listeners
                    .iter()
                    .any(|l| l.name == name && !controller_names.contains(&l.name));
            if roles.is_broker() && !known {
                return invalid(format!(
                    "inter.broker.listener.name={name} names no client listener of listeners"
                ));
            }
        }
        if roles == ProcessRoles::Controller && client_listeners > 0 {
            return invalid(
                "process.roles=controller: listeners must only name controller listeners \
                 (controller.listener.names)"
                    .into(),
            );
        }
        let voters = self.quorum_voters();
        let node_id = self.node_id();
        match (roles, &voters) {
            (ProcessRoles::Broker | ProcessRoles::Controller, None) => {
                return invalid(format!(
                    "process.roles={} needs controller.quorum.voters",
                    self.get("process.roles").unwrap_or_default()
                ))
            }
            (ProcessRoles::Broker, Some(v)) if v.contains_key(&(node_id as u64)) => {
                return invalid(format!(
                    "node.id {node_id} is one of the controller.quorum.voters but process.roles=broker"
                ))
            }
            (ProcessRoles::Combined | ProcessRoles::Controller, Some(v))
                if !v.contains_key(&(node_id as u64)) =>
            {
                return invalid(format!(
                    "node.id {node_id} is not one of the controller.quorum.voters ({})",
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

    /// Keys that were set but have no effect yet, for a startup warning.
    pub fn ignored_keys(&self) -> Vec<&str> {
        self.set
            .keys()
            .filter(|k| broker_key(k).is_some_and(|b| b.used == Use::NotYet))
            .map(String::as_str)
            .collect()
    }

    /// The keys the operator set, in order.
    pub(super) fn set_keys(&self) -> impl Iterator<Item = &str> {
        self.set.keys().map(String::as_str)
    }

    /// `log.format=json`: the server logs JSON objects, one a line (read by the binary before
    /// the broker starts, to set up logging).
    pub fn log_format_json(&self) -> bool {
        self.value("log.format") == Some("json")
    }

    /// The value the operator set for `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.set.get(key).map(String::as_str)
    }

    /// The value of `key`: the one set, else its default in the key table (a topic key's
    /// default for a synonym). `None`: unset, and its default is absent or derived.
    pub(super) fn value(&self, key: &str) -> Option<&str> {
        if let Some(v) = self.get(key) {
            return Some(v);
        }
        if let Some(k) = broker_key(key) {
            return match k.default {
                KeyDefault::Value(v) => Some(v),
                KeyDefault::Absent | KeyDefault::Derived(_) => None,
            };
        }
        topic_key_by_synonym(key).map(|k| k.default)
    }

    /// An integer key's value (set, else its default).
    pub(super) fn int(&self, key: &str) -> i64 {
        // Set values were checked as integers when set.
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| default_int(key))
    }

    /// A quota window from its two keys (`quota.window.num` and `quota.window.size.seconds`,
    /// or another pair): both at least 1 (the key table's checks).
    pub(super) fn quota_window(&self, num_key: &str, size_key: &str) -> QuotaWindow {
        let at_least_one = |key| self.int(key).clamp(1, u32::MAX as i64) as u32;
        QuotaWindow::new(at_least_one(num_key), at_least_one(size_key))
            .unwrap_or(QuotaWindow::DEFAULT)
    }

    /// A boolean key's value (set, else its default).
    pub(super) fn bool(&self, key: &str) -> bool {
        self.value(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A list key's entries (set, else its default), trimmed, empty ones dropped.
    pub(super) fn list(&self, key: &str) -> Vec<String> {
        self.value(key)
            .unwrap_or("")
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect()
    }

    /// `node.id`, else `broker.id`.
    pub(super) fn node_id(&self) -> i32 {
        self.get("node.id")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| self.int("broker.id")) as i32
    }

    /// `process.roles`.
    pub(super) fn process_roles(&self) -> ProcessRoles {
        self.value("process.roles")
            .and_then(|v| ProcessRoles::parse(v).ok())
            .unwrap_or(ProcessRoles::Combined)
    }

    /// `controller.quorum.voters`; `None` when unset (a standalone node is a quorum of one).
    pub(super) fn quorum_voters(&self) -> Option<BTreeMap<u64, SocketAddr>> {
        self.get("controller.quorum.voters")
            .and_then(|v| sluice_controller::parse_quorum_voters(v).ok())
    }

    /// `schema.registry.listeners`: where the schema registry binds (none: switched off).
    pub fn schema_registry_listeners(&self) -> Result<Vec<HttpListener>, String> {
        super::admin_listeners::parse_http_listeners(
            "schema.registry.listeners",
            self.value("schema.registry.listeners").unwrap_or(""),
        )
    }

    /// `admin.listeners`: where the admin HTTP listener binds (none: switched off).
    pub fn admin_listeners(&self) -> Result<Vec<HttpListener>, String> {
        super::admin_listeners::parse_admin_listeners(self.value("admin.listeners").unwrap_or(""))
    }

    /// `rest.proxy.listeners`: where the REST proxy binds (none: switched off).
    pub fn rest_proxy_listeners(&self) -> Result<Vec<HttpListener>, String> {
        super::admin_listeners::parse_http_listeners(
            "rest.proxy.listeners",
            self.value("rest.proxy.listeners").unwrap_or(""),
        )
    }

    /// `rest.proxy.consumer.instance.timeout.ms`: how long a REST proxy consumer instance may
    /// stay idle before it is closed.
    pub fn rest_proxy_consumer_instance_timeout(&self) -> std::time::Duration {
        let ms = self
            .value("rest.proxy.consumer.instance.timeout.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(300_000);
        std::time::Duration::from_millis(ms)
    }

    /// `console.read.only`: the admin listener refuses every state-changing JSON admin API
    /// request and the web console hides its write actions.
    pub fn console_read_only(&self) -> bool {
        self.bool("console.read.only")
    }

    /// `controller.listener.names`, upper case.
    pub(super) fn controller_listener_names(&self) -> Vec<String> {
        parse_listener_names(self.value("controller.listener.names").unwrap_or(""))
    }

    /// The listeners the operator named in `listeners` (none when unset: the default names
    /// only a client listener, see [`BrokerConfig::default_client_listener`]).
    pub(super) fn listeners(&self) -> Vec<Listener> {
        self.get("listeners")
            .and_then(|v| parse_listeners(v).ok())
            .unwrap_or_default()
    }

    /// The client listener of the default `listeners`, where clients are served when no
    /// client listener is named.
    pub(super) fn default_client_listener() -> SocketAddr {
        let default = match broker_key("listeners").map(|k| k.default) {
            Some(KeyDefault::Value(v)) => v,
            _ => "",
        };
        parse_listeners(default)
            .ok()
            .and_then(|ls| ls.first().and_then(|l| l.bind_address().ok()))
            .unwrap_or_else(|| panic!("the default of listeners must name a bindable address"))
    }

    /// The address the controller listener binds, if `listeners` names one.
    pub(super) fn controller_listener(&self) -> Option<SocketAddr> {
        let names = self.controller_listener_names();
        self.listeners()
            .iter()
            .find(|l| names.contains(&l.name))
            .and_then(|l| l.bind_address().ok())
    }

    /// The broker-level value of a topic config synonym, if the operator set it (directly or
    /// through its hours/minutes variants).
    pub(super) fn topic_default(&self, synonym: &str) -> Option<String> {
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
}

/// A `listener.name.<listener>.[<mechanism>.]<key>` key: the key as stored (listener and
/// mechanism in lower case) and the table key it sets; `None` for any other key.
fn scoped_key(key: &str) -> Option<Result<(String, String), ConfigError>> {
    let rest = key.strip_prefix("listener.name.")?;
    let bad = || Err(ConfigError::UnknownKey(key.to_string()));
    let Some((listener, rest)) = rest.split_once('.') else {
        return Some(bad());
    };
    if listener.is_empty() {
        return Some(bad());
    }
    let listener = listener.to_ascii_lowercase();
    for mechanism in MECHANISMS {
        let prefix = format!("{}.", mechanism.to_ascii_lowercase());
        if let Some(base) = rest.to_ascii_lowercase().strip_prefix(&prefix) {
            // The mechanism's JAAS config and callback handler, and (as Kafka reads them
            // for the OAUTHBEARER validator) OAUTHBEARER's `sasl.oauthbearer.*` keys.
            let oauthbearer_key = *mechanism == "OAUTHBEARER"
                && base.starts_with("sasl.oauthbearer.")
                && broker_key(base).is_some();
            if base == "sasl.jaas.config"
                || base == "sasl.server.callback.handler.class"
                || oauthbearer_key
            {
                return Some(Ok((
                    format!("listener.name.{listener}.{prefix}{base}"),
                    base.to_string(),
                )));
            }
            return Some(bad());
        }
    }
    if !listener_scoped(rest) || broker_key(rest).is_none() {
        return Some(bad());
    }
    Some(Ok((
        format!("listener.name.{listener}.{rest}"),
        rest.to_string(),
    )))
}

/// The listener (lower case) and the table key of a valid `listener.name.<listener>.<key>`
/// key; `None` for any other key, a mechanism-scoped one included.
pub fn listener_scope(key: &str) -> Option<(String, String)> {
    let (stored, base) = scoped_key(key)?.ok()?;
    let rest = stored.strip_prefix("listener.name.")?;
    let (listener, after) = rest.split_once('.')?;
    (after == base).then(|| (listener.to_string(), base))
}

/// Whether `key` is a valid `listener.name.<listener>.[<mechanism>.]<key>` key.
pub fn is_listener_scoped(key: &str) -> bool {
    matches!(scoped_key(key), Some(Ok(_)))
}

/// Whether `key` (possibly listener-scoped) holds a secret: its value is never reported.
pub fn is_sensitive(key: &str) -> bool {
    let base = match scoped_key(key) {
        Some(Ok((_, base))) => base,
        _ => key.to_string(),
    };
    broker_key(&base).is_some_and(|k| k.kind == ConfigType::Password)
}

/// The default of integer key `key` in the key table.
fn default_int(key: &str) -> i64 {
    let default = match broker_key(key).map(|k| k.default) {
        Some(KeyDefault::Value(v)) => Some(v),
        Some(_) => None,
        None => topic_key_by_synonym(key).map(|k| k.default),
    };
    default.and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        panic!("{key} is read as an integer, so the key table must give it an integer default")
    })
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
        let ssl = BrokerConfig::from_pairs(&[("listeners", "SSL://127.0.0.1:9093")]).unwrap();
        assert!(ssl.check().unwrap_err().to_string().contains("SSL"));
    }

    #[test]
    fn roles_listeners_and_voters() {
        BrokerConfig::default().check().unwrap();
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
        let mut bad = BrokerConfig::default();
        bad.set("process.roles", "controller").unwrap();
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
        assert_eq!(c.int("num.partitions"), 3);
        assert_eq!(c.ignored_keys(), vec!["num.network.threads"]);
        std::fs::write(&path, "bogus line\n").unwrap();
        assert!(matches!(
            c.load_file(&path),
            Err(ConfigError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn controller_listener_sasl_is_plain_with_a_jaas_config() {
        let jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"n\" password=\"p\" user_n=\"p\";";
        let base = [
            ("node.id", "1"),
            (
                "listeners",
                "CLIENT://127.0.0.1:0,CONTROLLER://127.0.0.1:9999",
            ),
            ("controller.quorum.voters", "1@127.0.0.1:9999"),
            (
                "listener.security.protocol.map",
                "CLIENT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            ),
            // A global SCRAM is for client listeners: the controller listener leaves it out.
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
        ];
        let with = |more: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(more);
            BrokerConfig::from_pairs(&pairs).unwrap().check()
        };
        let good = ("listener.name.controller.plain.sasl.jaas.config", jaas);
        with(&[good]).unwrap();
        for (more, needle) in [
            (vec![], "plain.sasl.jaas.config"),
            (
                vec![
                    good,
                    ("sasl.mechanism.controller.protocol", "SCRAM-SHA-256"),
                ],
                "with PLAIN",
            ),
            (
                vec![
                    good,
                    (
                        "listener.name.controller.sasl.enabled.mechanisms",
                        "PLAIN,SCRAM-SHA-256",
                    ),
                ],
                "SCRAM is not supported on a controller listener",
            ),
        ] {
            let e = with(&more).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn tls_listeners_need_a_key_store() {
        let refused =
            |pairs: &[(&str, &str)]| match BrokerConfig::from_pairs(pairs).expect("keys").check() {
                Err(ConfigError::Invalid(m)) => m,
                other => panic!("{other:?}"),
            };
        for (key, name) in [
            ("admin.listeners", "admin"),
            ("rest.proxy.listeners", "rest_proxy"),
            ("schema.registry.listeners", "schema_registry"),
        ] {
            assert_eq!(
                refused(&[(key, "https://127.0.0.1:0")]),
                format!(
                    "{key} has an https listener: set listener.name.{name}.ssl.keystore.location \
                     (or ssl.keystore.key and ssl.keystore.certificate.chain)"
                )
            );
            let inline = BrokerConfig::from_pairs(&[
                (key, "https://127.0.0.1:0"),
                ("ssl.keystore.key", "k"),
                ("ssl.keystore.certificate.chain", "c"),
            ])
            .unwrap();
            assert!(inline.check().is_ok(), "{key}: an inline key store will do");
        }
        let kafka = refused(&[
            ("listeners", "PLAINTEXT://127.0.0.1:0,SECURE://127.0.0.1:0"),
            (
                "listener.security.protocol.map",
                "PLAINTEXT:PLAINTEXT,SECURE:SSL,CONTROLLER:PLAINTEXT",
            ),
        ]);
        assert!(kafka.starts_with("listener SECURE uses TLS"), "{kafka}");
    }

    #[test]
    fn listener_scoped_keys_and_secrets() {
        let c = BrokerConfig::from_pairs(&[
            ("listeners", "CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:0"),
            (
                "listener.security.protocol.map",
                "CLIENT:SASL_SSL,INTERNAL:SASL_PLAINTEXT",
            ),
            ("ssl.keystore.location", "/keys/broker.pem"),
            ("listener.name.CLIENT.ssl.client.auth", "required"),
            (
                "listener.name.internal.scram-sha-256.sasl.jaas.config",
                "x required password=\"hush\";",
            ),
            ("ssl.key.password", "hush"),
        ])
        .unwrap();
        c.check().unwrap();
        assert_eq!(
            c.listener_value("CLIENT", "ssl.client.auth"),
            Some("required")
        );
        assert_eq!(
            c.listener_value("INTERNAL", "ssl.client.auth"),
            Some("none")
        );
        assert_eq!(
            c.listener_value("INTERNAL", "ssl.keystore.location"),
            Some("/keys/broker.pem")
        );
        assert!(c
            .mechanism_value("INTERNAL", "SCRAM-SHA-256", "sasl.jaas.config")
            .is_some());
        assert!(c
            .mechanism_value("CLIENT", "SCRAM-SHA-256", "sasl.jaas.config")
            .is_none());
        for name in c.set_keys() {
            let secret = name.ends_with("sasl.jaas.config") || name == "ssl.key.password";
            assert_eq!(is_sensitive(name), secret, "{name}");
        }
        for bad in [
            "listener.name.client.no.such.key",
            "listener.name..ssl.client.auth",
            "listener.name.client.gssapi.sasl.jaas.config",
            "listener.name.client.plain.ssl.client.auth",
        ] {
            assert!(
                matches!(
                    BrokerConfig::from_pairs(&[(bad, "x")]),
                    Err(ConfigError::UnknownKey(_))
                ),
                "{bad} was accepted"
            );
        }
        assert!(BrokerConfig::from_pairs(&[("ssl.client.auth", "always")]).is_err());
        assert!(BrokerConfig::from_pairs(&[("sasl.enabled.mechanisms", "GSSAPI")]).is_err());
        // A TLS listener needs a key store.
        let no_keys = BrokerConfig::from_pairs(&[("listeners", "SSL://127.0.0.1:0")]).unwrap();
        assert!(no_keys
            .check()
            .unwrap_err()
            .to_string()
            .contains("ssl.keystore.location"));
        let wrong_inter_broker = BrokerConfig::from_pairs(&[
            ("listeners", "PLAINTEXT://127.0.0.1:0"),
            ("inter.broker.listener.name", "INTERNAL"),
        ])
        .unwrap();
        assert!(wrong_inter_broker
            .check()
            .unwrap_err()
            .to_string()
            .contains("inter.broker.listener.name"));
    }
}

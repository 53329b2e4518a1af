//! Every broker-level key Sluice knows, with Kafka's name, its type, the values it accepts,
//! whether it changes behaviour yet, and its default: the one table the file, `--set`,
//! [`super::BrokerSettings`] and the startup warnings read. The topic keys' broker-level
//! synonyms (`log.retention.ms`, `log.segment.bytes`, ...) are keys too; their table is
//! [`super::topic_keys::TOPIC_CONFIG_KEYS`], which holds their defaults.
//!
//! A key to add: one line here, then the field it feeds in [`super::BrokerSettings`] (or one
//! of its parts) if it is acted on.

use super::config_type::{Check, ConfigType, ANY};
use ConfigType::{Boolean, Class, Double, Int, List, Long, Password, String as Str};
use KeyDefault::{Absent, Derived, Value};
use Use::{NotYet, Used};

/// Whether a key changes behaviour today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    Used,
    /// Known to Kafka, accepted, no effect in Sluice yet (a warning at startup).
    NotYet,
}

/// What a key is worth when nobody set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDefault {
    /// This value (checked like a set one: see the tests).
    Value(&'static str),
    /// Nothing: the feature the key configures is off or unnamed (no rack, no advertised
    /// listener of its own, a quorum of one, ...).
    Absent,
    /// Taken from other keys, as described.
    Derived(&'static str),
}

pub struct BrokerKey {
    pub name: &'static str,
    pub kind: ConfigType,
    pub check: Check,
    pub default: KeyDefault,
    pub used: Use,
}

const fn key(
    name: &'static str,
    kind: ConfigType,
    check: Check,
    default: KeyDefault,
    used: Use,
) -> BrokerKey {
    BrokerKey {
        name,
        kind,
        check,
        default,
        used,
    }
}

/// Kafka's default `listener.security.protocol.map`, plus CONTROLLER (plaintext).
pub const DEFAULT_SECURITY_PROTOCOL_MAP: &str =
    "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT";

/// `listener.security.protocol.map`'s protocols.
pub const PROTOCOLS: &[&str] = &["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// The SASL mechanisms Sluice serves.
pub const MECHANISMS: &[&str] = &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"];

/// Keys a listener may set for itself with `listener.name.<listener>.` in front (Kafka's
/// listener-prefixed configs); `sasl.jaas.config` and `sasl.server.callback.handler.class`
/// also with a mechanism: `listener.name.<listener>.<mechanism>.<key>`.
pub fn listener_scoped(key: &str) -> bool {
    key.starts_with("ssl.")
        || key.starts_with("sasl.")
        || key == "connections.max.reauth.ms"
        || key == "max.connections"
        || key == "max.connection.creation.rate"
}

/// Broker-level keys beyond the topic-config synonyms.
#[rustfmt::skip]
pub const BROKER_KEYS: &[BrokerKey] = &[
    // Identity, roles and the controller quorum.
    key("node.id", Int, Check::AtLeast(0), Derived("broker.id"), Used),
    key("broker.id", Int, Check::AtLeast(0), Value("1"), Used),
    key("broker.rack", Str, ANY, Absent, Used),
    key("cluster.id", Str, ANY, Derived("meta.properties, else generated at first start"), Used),
    key("process.roles", List, ANY, Value("broker,controller"), Used),
    key("controller.quorum.voters", List, ANY, Absent, Used),
    key("controller.quorum.bootstrap.servers", List, ANY, Absent, NotYet),
    key("controller.quorum.election.timeout.ms", Int, Check::AtLeast(10), Value("1000"), Used),
    key("controller.quorum.request.timeout.ms", Int, Check::AtLeast(100), Value("2000"), Used),
    key("metadata.log.dir", Str, ANY, Derived("<first log dir>/__cluster_metadata"), Used),
    key("broker.session.timeout.ms", Int, Check::AtLeast(10), Value("9000"), Used),
    key("broker.heartbeat.interval.ms", Int, Check::AtLeast(1), Value("2000"), Used),
    key("auto.leader.rebalance.enable", Boolean, Check::Bool, Value("true"), Used),
    key("leader.imbalance.check.interval.seconds", Long, Check::AtLeast(1), Value("300"), Used),
    // Listeners.
    key("listeners", List, ANY, Value("PLAINTEXT://127.0.0.1:9092"), Used),
    key("advertised.listeners", List, ANY, Derived("the client listener, with the bound port for port 0"), Used),
    key("controller.listener.names", List, ANY, Value("CONTROLLER"), Used),
    key("listener.security.protocol.map", List, ANY, Value(DEFAULT_SECURITY_PROTOCOL_MAP), Used),
    key("inter.broker.listener.name", Str, ANY, Derived("the listener named by security.inter.broker.protocol, else the first client listener"), Used),
    key("security.inter.broker.protocol", Str, Check::OneOf(PROTOCOLS), Value("PLAINTEXT"), Used),
    // The admin HTTP listener (/metrics, /livez, /readyz): http://host:port URLs; empty: off.
    key("admin.listeners", List, ANY, Value("http://127.0.0.1:9644"), Used),
    // The web console on the admin listener: true refuses every state-changing request of the
    // JSON admin API (403) and the console offers no write action.
    key("console.read.only", Boolean, Check::Bool, Value("false"), Used),
    // The schema registry (Confluent's API): http(s)://host:port URLs; empty: off. It keeps
    // its state in the `_schemas` topic; schema.compatibility.level is its global level until
    // one is set through the API (Confluent's names).
    key("schema.registry.listeners", List, ANY, Value("http://127.0.0.1:8081"), Used),
    key("schema.compatibility.level", Str, ANY, Value("backward"), Used),
    // The REST proxy (Confluent REST Proxy API v2 and v3): http(s)://host:port URLs; empty:
    // off. Idle v2 consumer instances are closed after the timeout (Confluent's
    // consumer.instance.timeout.ms).
    key("rest.proxy.listeners", List, ANY, Value("http://127.0.0.1:8082"), Used),
    key("rest.proxy.consumer.instance.timeout.ms", Long, Check::AtLeast(1), Value("300000"), Used),
    // TLS (SSL and SASL_SSL listeners). Like every key below, each may be given for one
    // listener as listener.name.<listener>.<key>, which wins over the unprefixed key.
    key("ssl.keystore.type", Str, Check::OneOf(&["PEM"]), Value("PEM"), Used),
    key("ssl.keystore.location", Str, ANY, Absent, Used),
    key("ssl.keystore.key", Password, ANY, Absent, Used),
    key("ssl.keystore.certificate.chain", Password, ANY, Absent, Used),
    key("ssl.keystore.password", Password, ANY, Absent, NotYet),
    key("ssl.key.password", Password, ANY, Absent, Used),
    key("ssl.truststore.type", Str, Check::OneOf(&["PEM"]), Value("PEM"), Used),
    key("ssl.truststore.location", Str, ANY, Absent, Used),
    key("ssl.truststore.certificates", Password, ANY, Absent, Used),
    key("ssl.truststore.password", Password, ANY, Absent, NotYet),
    key("ssl.client.auth", Str, Check::OneOf(&["none", "requested", "required"]), Value("none"), Used),
    key("ssl.enabled.protocols", List, Check::OneOf(&["TLSv1.2", "TLSv1.3"]), Value("TLSv1.2,TLSv1.3"), Used),
    key("ssl.protocol", Str, ANY, Value("TLSv1.3"), NotYet),
    key("ssl.cipher.suites", List, ANY, Absent, Used),
    key("ssl.principal.mapping.rules", Str, ANY, Value("DEFAULT"), Used),
    key("ssl.endpoint.identification.algorithm", Str, ANY, Value("https"), Used),
    // A key store set by a dynamic config must keep the certificate's subject and subject
    // alternative names unless these allow the change (Kafka's checks).
    key("ssl.allow.dn.changes", Boolean, ANY, Value("false"), Used),
    key("ssl.allow.san.changes", Boolean, ANY, Value("false"), Used),
    // SASL (SASL_PLAINTEXT and SASL_SSL listeners). sasl.jaas.config and
    // sasl.server.callback.handler.class are given per mechanism too:
    // listener.name.<listener>.<mechanism>.sasl.jaas.config.
    key("sasl.enabled.mechanisms", List, Check::OneOf(MECHANISMS), Derived("SCRAM-SHA-256 and SCRAM-SHA-512, plus PLAIN and OAUTHBEARER on a listener configured for them"), Used),
    key("sasl.mechanism.inter.broker.protocol", Str, Check::OneOf(MECHANISMS), Value("PLAIN"), Used),
    key("sasl.mechanism.controller.protocol", Str, Check::OneOf(MECHANISMS), Value("PLAIN"), Used),
    key("sasl.jaas.config", Password, ANY, Absent, Used),
    key("sasl.server.callback.handler.class", Class, ANY, Absent, Used),
    key("sasl.server.max.receive.size", Int, Check::AtLeast(1), Value("524288"), Used),
    key("connections.max.reauth.ms", Long, Check::AtLeast(0), Value("0"), Used),
    key("connection.failed.authentication.delay.ms", Int, Check::AtLeast(0), Value("100"), Used),
    key("sasl.oauthbearer.jwks.endpoint.url", Str, ANY, Absent, Used),
    key("sasl.oauthbearer.jwks.endpoint.refresh.ms", Long, Check::AtLeast(1), Value("3600000"), Used),
    key("sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", Long, Check::AtLeast(0), Value("100"), Used),
    key("sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", Long, Check::AtLeast(0), Value("10000"), Used),
    key("sasl.oauthbearer.expected.audience", List, ANY, Absent, Used),
    key("sasl.oauthbearer.expected.issuer", Str, ANY, Absent, Used),
    key("sasl.oauthbearer.scope.claim.name", Str, ANY, Value("scope"), Used),
    key("sasl.oauthbearer.sub.claim.name", Str, ANY, Value("sub"), Used),
    key("sasl.oauthbearer.clock.skew.seconds", Int, Check::AtLeast(0), Value("30"), Used),
    // Authorization (ACLs in the metadata log). authorizer.class.name takes Kafka's
    // StandardAuthorizer (or its ZooKeeper-era AclAuthorizer) name; empty: no authorizer.
    key("authorizer.class.name", Class, ANY, Value(""), Used),
    key("super.users", Str, ANY, Absent, Used),
    key("allow.everyone.if.no.acl.found", Boolean, ANY, Value("false"), Used),
    // Client quotas: rates are measured over quota.window.num samples of
    // quota.window.size.seconds each.
    key("quota.window.num", Int, Check::AtLeast(1), Value("11"), Used),
    key("quota.window.size.seconds", Int, Check::AtLeast(1), Value("1"), Used),
    key("controller.quota.window.num", Int, Check::AtLeast(1), Value("11"), Used),
    key("controller.quota.window.size.seconds", Int, Check::AtLeast(1), Value("1"), Used),
    // The audit log (JSON lines of authentications and authorization decisions).
    key("audit.enabled", Boolean, ANY, Value("false"), Used),
    key("audit.log.dir", Str, ANY, Derived("the first of log.dirs"), Used),
    key("audit.log.file.name", Str, ANY, Value("audit.log"), Used),
    key("audit.log.max.file.bytes", Long, Check::AtLeast(1), Value("104857600"), Used),
    key("audit.log.max.files", Int, Check::AtLeast(0), Value("10"), Used),
    key("audit.log.allowed", Str, Check::OneOf(&["none", "admin", "all"]), Value("admin"), Used),
    key("audit.topic.enabled", Boolean, ANY, Value("false"), Used),
    key("audit.topic.name", Str, ANY, Value("__sluice_audit"), Used),
    // Requests and connections.
    key("socket.request.max.bytes", Int, Check::AtLeast(1), Value("104857600"), Used),
    key("max.connections", Int, Check::AtLeast(0), Value("10000"), Used),
    // Connections one client address may hold at once; overrides: `ip:count,ip:count`.
    key("max.connections.per.ip", Int, Check::AtLeast(0), Value("2147483647"), Used),
    key("max.connections.per.ip.overrides", Str, ANY, Value(""), Used),
    // New connections per second on the broker's listeners but the inter-broker one (KIP-612):
    // over it, the listener waits before serving the next connection.
    key("max.connection.creation.rate", Int, Check::AtLeast(0), Value("2147483647"), Used),
    key("queued.max.requests", Int, Check::AtLeast(1), Value("500"), Used),
    key("fetch.max.bytes", Int, Check::AtLeast(1024), Value("57671680"), Used),
    key("max.incremental.fetch.session.cache.slots", Int, Check::AtLeast(0), Value("1000"), Used),
    // Sluice's own (Kafka has no such key): log at WARN every request handled in at least
    // this many ms; -1 logs none.
    key("request.slow.log.threshold.ms", Long, Check::AtLeast(-1), Value("-1"), Used),
    // Sluice's own: the server's log lines as `text` or as JSON objects, one a line (`json`).
    key("log.format", Str, Check::OneOf(&["text", "json"]), Value("text"), Used),
    // Topics and logs.
    key("log.dirs", List, ANY, Derived("log.dir"), Used),
    key("log.dir", Str, ANY, Value("./sluice-data"), Used),
    key("num.partitions", Int, Check::AtLeast(1), Value("1"), Used),
    key("default.replication.factor", Int, Check::AtLeast(1), Value("1"), Used),
    key("auto.create.topics.enable", Boolean, Check::Bool, Value("true"), Used),
    key("delete.topic.enable", Boolean, Check::Bool, Value("true"), Used),
    // Variants of log.retention.ms and log.roll.ms (see TopicDefaults): unset, they do not
    // override the topic keys' defaults.
    key("log.retention.hours", Int, ANY, Absent, Used),
    key("log.retention.minutes", Int, ANY, Absent, Used),
    key("log.roll.hours", Int, Check::AtLeast(1), Absent, Used),
    key("log.retention.check.interval.ms", Long, Check::AtLeast(1), Value("300000"), Used),
    key("log.flush.scheduler.interval.ms", Long, Check::AtLeast(1), Value("1000"), Used),
    key("log.cleaner.enable", Boolean, Check::Bool, Value("true"), Used),
    key("log.cleaner.backoff.ms", Long, Check::AtLeast(1), Value("15000"), Used),
    // The cleaner's I/O budget (bytes read and written per second over its passes), applied;
    // its thread count and buffer sizes are accepted without effect (one cleaner task, an
    // offset map as large as a segment's keys).
    key("log.cleaner.io.max.bytes.per.second", Double, Check::AtLeast(0), Value("1.7976931348623157E308"), Used),
    key("log.cleaner.threads", Int, Check::AtLeast(0), Value("1"), NotYet),
    key("log.cleaner.dedupe.buffer.size", Long, ANY, Value("134217728"), NotYet),
    key("log.cleaner.io.buffer.size", Int, Check::AtLeast(0), Value("524288"), NotYet),
    key("log.cleaner.io.buffer.load.factor", Double, ANY, Value("0.9"), NotYet),
    key("producer.id.expiration.ms", Int, Check::AtLeast(1), Value("86400000"), Used),
    // Replication.
    key("replica.lag.time.max.ms", Long, Check::AtLeast(1), Value("30000"), Used),
    key("replica.fetch.wait.max.ms", Int, Check::AtLeast(0), Value("500"), Used),
    key("replica.fetch.max.bytes", Int, Check::AtLeast(1), Value("1048576"), Used),
    key("replica.fetch.response.max.bytes", Int, Check::AtLeast(1), Value("10485760"), Used),
    key("replica.fetch.backoff.ms", Int, Check::AtLeast(0), Value("1000"), Used),
    key("replica.socket.timeout.ms", Int, Check::AtLeast(1), Value("30000"), Used),
    key("replica.high.watermark.checkpoint.interval.ms", Long, Check::AtLeast(1), Value("5000"), Used),
    // Replication throttles (KIP-73), in bytes per second, for the replicas the topics'
    // `*.replication.throttled.replicas` name while they are out of the ISR; measured over
    // `replication.quota.window.num` samples of `replication.quota.window.size.seconds`.
    key("leader.replication.throttled.rate", Long, Check::AtLeast(0), Value("9223372036854775807"), Used),
    key("follower.replication.throttled.rate", Long, Check::AtLeast(0), Value("9223372036854775807"), Used),
    key("replication.quota.window.num", Int, Check::AtLeast(1), Value("11"), Used),
    key("replication.quota.window.size.seconds", Int, Check::AtLeast(1), Value("1"), Used),
    // Moves between log directories (AlterReplicaLogDirs), throttled the same way.
    key("replica.alter.log.dirs.io.max.bytes.per.second", Long, Check::AtLeast(0), Value("9223372036854775807"), Used),
    key("alter.log.dirs.replication.quota.window.num", Int, Check::AtLeast(1), Value("11"), Used),
    key("alter.log.dirs.replication.quota.window.size.seconds", Int, Check::AtLeast(1), Value("1"), Used),
    // The group coordinator.
    key("offsets.topic.num.partitions", Int, Check::AtLeast(1), Value("50"), Used),
    key("offsets.topic.replication.factor", Int, Check::AtLeast(1), Value("3"), Used),
    key("offsets.topic.segment.bytes", Int, Check::AtLeast(14), Value("104857600"), Used),
    key("offsets.retention.minutes", Int, Check::AtLeast(1), Value("10080"), Used),
    key("offsets.retention.check.interval.ms", Long, Check::AtLeast(1), Value("600000"), Used),
    key("offset.metadata.max.bytes", Int, Check::AtLeast(0), Value("4096"), Used),
    key("group.initial.rebalance.delay.ms", Int, Check::AtLeast(0), Value("3000"), Used),
    key("group.min.session.timeout.ms", Int, Check::AtLeast(0), Value("6000"), Used),
    key("group.max.session.timeout.ms", Int, Check::AtLeast(0), Value("1800000"), Used),
    key("group.max.size", Int, Check::AtLeast(1), Value("2147483647"), Used),
    key("group.coordinator.rebalance.protocols", List, ANY, Value("classic,consumer"), Used),
    key("group.consumer.heartbeat.interval.ms", Int, Check::AtLeast(1), Value("5000"), Used),
    key("group.consumer.session.timeout.ms", Int, Check::AtLeast(1), Value("45000"), Used),
    key("group.consumer.assignors", List, ANY, Value("uniform,range"), Used),
    key("group.consumer.max.size", Int, Check::AtLeast(1), Value("2147483647"), Used),
    // The transaction coordinator.
    key("transaction.state.log.num.partitions", Int, Check::AtLeast(1), Value("50"), Used),
    key("transaction.state.log.replication.factor", Int, Check::AtLeast(1), Value("3"), Used),
    key("transaction.state.log.segment.bytes", Int, Check::AtLeast(14), Value("104857600"), Used),
    key("transaction.state.log.min.isr", Int, Check::AtLeast(1), Value("2"), NotYet),
    key("transaction.max.timeout.ms", Int, Check::AtLeast(1), Value("900000"), Used),
    key("transactional.id.expiration.ms", Int, Check::AtLeast(1), Value("604800000"), Used),
    key("transaction.abort.timed.out.transaction.cleanup.interval.ms", Int, Check::AtLeast(1), Value("10000"), Used),
    // Accepted for compatibility with Kafka's sample server.properties; not acted on yet.
    key("num.network.threads", Int, ANY, Value("3"), NotYet),
    key("num.io.threads", Int, ANY, Value("8"), NotYet),
    key("socket.send.buffer.bytes", Int, ANY, Value("102400"), NotYet),
    key("socket.receive.buffer.bytes", Int, ANY, Value("102400"), NotYet),
    key("num.recovery.threads.per.data.dir", Int, ANY, Value("1"), NotYet),
    // One fetcher task per leader broker; one task pool for background work.
    key("num.replica.fetchers", Int, Check::AtLeast(1), Value("1"), NotYet),
    key("background.threads", Int, Check::AtLeast(1), Value("10"), NotYet),
    key("share.coordinator.state.topic.replication.factor", Int, ANY, Value("3"), NotYet),
    key("share.coordinator.state.topic.min.isr", Int, ANY, Value("2"), NotYet),
];

/// The broker key named `name` (not the topic-config synonyms).
pub fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    BROKER_KEYS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::config_type::check_value;
    use crate::config::topic_keys::TOPIC_CONFIG_KEYS;

    #[test]
    fn every_default_passes_its_own_check() {
        for key in BROKER_KEYS {
            if let Value(v) = key.default {
                check_value(key.name, key.kind, key.check, v)
                    .unwrap_or_else(|e| panic!("{}: {e}", key.name));
            }
        }
    }

    #[test]
    fn every_key_is_listed_once() {
        let mut names: Vec<&str> = BROKER_KEYS.iter().map(|k| k.name).collect();
        names.extend(
            TOPIC_CONFIG_KEYS
                .iter()
                .map(|k| k.broker_synonym)
                .filter(|s| !s.is_empty()),
        );
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a key is listed twice");
    }
}

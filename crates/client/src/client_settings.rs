//! The `-X key=value` properties, read once per command into typed settings.
//!
//! Keys use librdkafka's names, so command lines written for the earlier librdkafka-based CLI
//! (and for kcat) keep working. They come from `--command-config FILE` (a Java properties file,
//! as Kafka's tools take it) and then `-X key=value`, the last value of a key winning. Three
//! kinds of key:
//! - keys this client acts on (the table in [`ClientSettings::from_args`]); a bad value is an
//!   error naming the key;
//! - keys librdkafka knows that have no meaning for this client (`debug`, `retries`,
//!   `enable.auto.commit`, ... and the keys of the other role, say `acks` for `consume`):
//!   ignored, each with one warning line;
//! - anything else: an error, so a typo does not go unnoticed.
//!
//! Security (`security.protocol`, `sasl.*`, `ssl.*`) is read by `client_security.rs` into the
//! wire client's `ClientSecurity`, before any connection is tried.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use sluice_protocol::client::ClientSecurity;

use crate::client_security::{client_security, SECURITY_KEYS};
use crate::connect_args::ConnectArgs;
use crate::producer_options::{Acks, Compression};

/// What the command is, for which keys apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Metadata and admin requests only.
    Admin,
    Producer,
    Consumer,
}

/// How keyed records are spread over partitions (librdkafka's `partitioner` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioner {
    /// murmur2(key) like Kafka's Java client; records without a key stick to a random
    /// partition per batch. The default: Java producers and this client agree on where a key
    /// goes.
    Murmur2Random,
    /// murmur2(key); records without a key all go to one partition.
    Murmur2,
    /// CRC-32 of the key (librdkafka's own default); no key: sticky random.
    ConsistentRandom,
    /// CRC-32 of the key; no key: one partition.
    Consistent,
    /// A random partition for every batch, key or not.
    Random,
}

/// Where a consumer starts when its offset is out of range (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// Stop with an error.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerSettings {
    /// `acks`: overrides `--acks` when given.
    pub acks: Option<Acks>,
    /// `compression.type`: overrides `--compression` when given.
    pub compression: Option<Compression>,
    /// `linger.ms`: how long a batch may wait for more records.
    pub linger: Duration,
    /// `batch.size`: bytes of records per batch.
    pub batch_bytes: usize,
    /// `batch.num.messages`: records per batch.
    pub batch_records: usize,
    /// `message.max.bytes`: the largest Produce request.
    pub request_max_bytes: usize,
    /// `message.timeout.ms`: how long a record may take to be delivered, retries included.
    pub delivery_timeout: Duration,
    pub partitioner: Partitioner,
    /// `allow.auto.create.topics` (a producer's default is true, as in librdkafka).
    pub allow_auto_create_topics: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// 1 = read_committed (librdkafka's default), 0 = read_uncommitted.
    pub isolation_level: i8,
    pub auto_offset_reset: OffsetReset,
    pub fetch_wait_max_ms: i32,
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub partition_fetch_max_bytes: i32,
    pub allow_auto_create_topics: bool,
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// `host:port` entries, without any `PLAINTEXT://` prefix.
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// The longest any one request may take.
    pub request_timeout: Duration,
    /// The largest response accepted (`receive.message.max.bytes`).
    pub max_response_bytes: usize,
    pub producer: ProducerSettings,
    pub consumer: ConsumerSettings,
    /// TLS and SASL of every connection (PLAINTEXT by default).
    pub security: ClientSecurity,
    /// One line per ignored key, for the command to print.
    pub ignored: Vec<String>,
}

/// librdkafka keys that mean nothing to this client, for any role.
const IGNORED_KEYS: &[&str] = &[
    "api.version.fallback.ms",
    "api.version.request",
    "api.version.request.timeout.ms",
    "auto.commit.interval.ms",
    "broker.address.family",
    "broker.version.fallback",
    "check.crcs",
    "client.dns.lookup",
    "client.rack",
    "connections.max.idle.ms",
    "debug",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "fetch.error.backoff.ms",
    "fetch.queue.backoff.ms",
    "group.id",
    "group.instance.id",
    "heartbeat.interval.ms",
    "log.connection.close",
    "log_level",
    "max.in.flight",
    "max.in.flight.requests.per.connection",
    "max.poll.interval.ms",
    "message.send.max.retries",
    "metadata.max.age.ms",
    "queue.buffering.max.kbytes",
    "queue.buffering.max.messages",
    "queued.max.messages.kbytes",
    "queued.min.messages",
    "reconnect.backoff.max.ms",
    "reconnect.backoff.ms",
    "retries",
    "retry.backoff.max.ms",
    "retry.backoff.ms",
    "session.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "socket.keepalive.enable",
    "socket.nagle.disable",
    "socket.receive.buffer.bytes",
    "socket.send.buffer.bytes",
    "statistics.interval.ms",
    "sticky.partitioning.linger.ms",
    "topic.metadata.refresh.interval.ms",
];

const PRODUCER_KEYS: &[&str] = &[
    "acks",
    "request.required.acks",
    "compression.type",
    "compression.codec",
    "linger.ms",
    "queue.buffering.max.ms",
    "batch.size",
    "batch.num.messages",
    "message.max.bytes",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "partitioner",
    "enable.idempotence",
    "transactional.id",
];

const CONSUMER_KEYS: &[&str] = &[
    "isolation.level",
    "auto.offset.reset",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.message.max.bytes",
];

impl ClientSettings {
    /// The defaults of an admin client of `bootstrap` (PLAINTEXT), for a program that
    /// builds its settings itself rather than from command-line flags.
    pub fn admin(bootstrap: Vec<String>) -> ClientSettings {
        ClientSettings {
            bootstrap,
            client_id: "sluice-cli".to_string(),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 100_000_000,
            producer: ProducerSettings {
                acks: None,
                compression: None,
                linger: Duration::from_millis(5),
                batch_bytes: 1_000_000,
                batch_records: 10_000,
                request_max_bytes: 1_000_000,
                delivery_timeout: Duration::from_secs(30),
                partitioner: Partitioner::Murmur2Random,
                allow_auto_create_topics: true,
            },
            consumer: ConsumerSettings {
                isolation_level: 1,
                auto_offset_reset: OffsetReset::Latest,
                fetch_wait_max_ms: 500,
                fetch_min_bytes: 1,
                fetch_max_bytes: 52_428_800,
                partition_fetch_max_bytes: 1_048_576,
                allow_auto_create_topics: false,
            },
            security: ClientSecurity::default(),
            ignored: Vec::new(),
        }
    }

    /// The settings of a command acting as `role`, from its connection flags.
    pub fn from_args(connect: &ConnectArgs, role: Role) -> Result<ClientSettings> {
        let mut settings = ClientSettings::admin(split_bootstrap(&connect.bootstrap_server));
        let properties = connect.all_properties()?;
        // Security first, before any connection: the last value of a key wins, as in
        // librdkafka.
        settings.security = client_security(&properties, &mut settings.ignored)?;
        for (key, value) in &properties {
            if !SECURITY_KEYS.contains(&key.as_str()) {
                settings.apply(key, value, role)?;
            }
        }
        if settings.bootstrap.is_empty() {
            bail!("no bootstrap server given");
        }
        Ok(settings)
    }

    fn apply(&mut self, key: &str, value: &str, role: Role) -> Result<()> {
        let producer = role == Role::Producer;
        let consumer = role == Role::Consumer;
        match key {
            "bootstrap.servers" | "metadata.broker.list" => self.bootstrap = split_bootstrap(value),
            "client.id" => self.client_id = value.to_string(),
            "request.timeout.ms" | "socket.timeout.ms" => {
                self.request_timeout = Duration::from_millis(number(key, value, 1, 3_600_000)?)
            }
            "receive.message.max.bytes" => {
                self.max_response_bytes = number(key, value, 1000, 2_147_483_647)? as usize
            }
            "acks" | "request.required.acks" if producer => {
                self.producer.acks = Some(match value {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => bail!("invalid client property {key}={value}: expected 0, 1, all or -1"),
                })
            }
            "compression.type" | "compression.codec" if producer => {
                self.producer.compression = Some(match value {
                    "none" => Compression::None,
                    "gzip" => Compression::Gzip,
                    "snappy" => Compression::Snappy,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd,
                    _ => bail!(
                        "invalid client property {key}={value}: expected none, gzip, snappy, \
                         lz4 or zstd"
                    ),
                })
            }
            "linger.ms" | "queue.buffering.max.ms" if producer => {
                self.producer.linger = Duration::from_millis(number(key, value, 0, 900_000)?)
            }
            "batch.size" if producer => {
                self.producer.batch_bytes = number(key, value, 1, 2_147_483_647)? as usize
            }
            "batch.num.messages" if producer => {
                self.producer.batch_records = number(key, value, 1, 1_000_000)? as usize
            }
            "message.max.bytes" if producer => {
                self.producer.request_max_bytes = number(key, value, 1000, 1_000_000_000)? as usize
            }
            "message.timeout.ms" | "delivery.timeout.ms" if producer => {
                self.producer.delivery_timeout =
                    Duration::from_millis(number(key, value, 1, 2_147_483_647)?)
            }
            "partitioner" if producer => {
                self.producer.partitioner = match value {
                    "murmur2_random" => Partitioner::Murmur2Random,
                    "murmur2" => Partitioner::Murmur2,
                    "consistent_random" => Partitioner::ConsistentRandom,
                    "consistent" => Partitioner::Consistent,
                    "random" => Partitioner::Random,
                    _ => bail!(
                        "invalid client property {key}={value}: expected murmur2_random, \
                         murmur2, consistent_random, consistent or random"
                    ),
                }
            }
            "enable.idempotence" if producer => {
                if boolean(key, value)? {
                    bail!(
                        "-X enable.idempotence=true: `sluice produce` is not an idempotent \
                         producer; use a Kafka client library for exactly-once delivery"
                    );
                }
            }
            "transactional.id" if producer => {
                bail!("-X transactional.id: `sluice produce` does not produce in transactions")
            }
            "allow.auto.create.topics" => {
                let allow = boolean(key, value)?;
                self.producer.allow_auto_create_topics = allow;
                self.consumer.allow_auto_create_topics = allow;
            }
            "isolation.level" if consumer => {
                self.consumer.isolation_level = match value {
                    "read_committed" => 1,
                    "read_uncommitted" => 0,
                    _ => bail!(
                        "invalid client property {key}={value}: expected read_committed or \
                         read_uncommitted"
                    ),
                }
            }
            "auto.offset.reset" if consumer => {
                self.consumer.auto_offset_reset = match value {
                    "smallest" | "earliest" | "beginning" => OffsetReset::Earliest,
                    "largest" | "latest" | "end" => OffsetReset::Latest,
                    "error" => OffsetReset::Error,
                    _ => bail!(
                        "invalid client property {key}={value}: expected earliest, latest or \
                         error"
                    ),
                }
            }
            "fetch.wait.max.ms" if consumer => {
                self.consumer.fetch_wait_max_ms = number(key, value, 0, 300_000)? as i32
            }
            "fetch.min.bytes" if consumer => {
                self.consumer.fetch_min_bytes = number(key, value, 1, 100_000_000)? as i32
            }
            "fetch.max.bytes" if consumer => {
                self.consumer.fetch_max_bytes = number(key, value, 0, 2_147_483_135)? as i32
            }
            "max.partition.fetch.bytes" | "fetch.message.max.bytes" if consumer => {
                self.consumer.partition_fetch_max_bytes =
                    number(key, value, 1, 1_000_000_000)? as i32
            }
            _ if IGNORED_KEYS.contains(&key)
                || PRODUCER_KEYS.contains(&key)
                || CONSUMER_KEYS.contains(&key) =>
            {
                self.ignored
                    .push(format!("-X {key} has no effect on this command; ignored"));
            }
            _ => bail!(
                "unknown client property '{key}' (see -X in --help for the keys this client reads)"
            ),
        }
        Ok(())
    }
}

/// `host:port` entries of a comma-separated list, without any `PLAINTEXT://`-style prefix.
pub fn split_bootstrap(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .map(|server| server.split_once("://").map_or(server, |(_, rest)| rest))
        .filter(|server| !server.is_empty())
        .map(str::to_string)
        .collect()
}

fn number(key: &str, value: &str, min: u64, max: u64) -> Result<u64> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            anyhow!("invalid client property {key}={value}: expected a number from {min} to {max}")
        })
}

fn boolean(key: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => bail!("invalid client property {key}={value}: expected true or false"),
    }
}

#[cfg(test)]
mod tests {
    use sluice_protocol::client::SaslLogin;

    use super::*;

    fn connect(props: &[(&str, &str)]) -> ConnectArgs {
        ConnectArgs {
            bootstrap_server: " a:1, PLAINTEXT://b:2,,[::1]:3 ".to_string(),
            command_config: None,
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn settings(props: &[(&str, &str)], role: Role) -> Result<ClientSettings> {
        ClientSettings::from_args(&connect(props), role)
    }

    #[test]
    fn bootstrap_lists_are_split_and_stripped() {
        let s = settings(&[], Role::Admin).expect("valid");
        assert_eq!(s.bootstrap, vec!["a:1", "b:2", "[::1]:3"]);
        let s = settings(&[("bootstrap.servers", "c:4")], Role::Admin).expect("valid");
        assert_eq!(s.bootstrap, vec!["c:4"]);
        assert_eq!(
            settings(&[("bootstrap.servers", " , ")], Role::Admin)
                .expect_err("empty")
                .to_string(),
            "no bootstrap server given"
        );
    }

    #[test]
    fn security_keys_are_read_into_the_connection_security() {
        let s = settings(
            &[
                ("security.protocol", "SSL"),
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "alice"),
                ("sasl.password", "alice-secret"),
                ("client.id", "me"),
            ],
            Role::Admin,
        )
        .expect("valid");
        assert_eq!(s.client_id, "me");
        assert!(s.security.tls.is_none());
        assert!(
            matches!(&s.security.sasl, Some(SaslLogin::Scram { user, .. }) if user == "alice"),
            "{:?}",
            s.security.sasl
        );
        let s = settings(&[], Role::Admin).expect("valid");
        assert!(s.security.tls.is_none() && s.security.sasl.is_none());
        let err = settings(&[("sasl.username", "u")], Role::Admin).expect("ignored");
        assert_eq!(
            err.ignored,
            vec!["-X sasl.username has no effect with security.protocol=PLAINTEXT; ignored"]
        );
        let err = settings(&[("ssl.cipher.suites", "x")], Role::Admin).expect_err("unknown");
        assert!(err.to_string().contains("unknown client property"), "{err}");
    }

    #[test]
    fn producer_keys_are_typed_and_checked() {
        let s = settings(
            &[
                ("acks", "0"),
                ("compression.codec", "zstd"),
                ("linger.ms", "20"),
                ("batch.num.messages", "7"),
                ("message.timeout.ms", "1500"),
                ("partitioner", "consistent_random"),
                ("enable.idempotence", "false"),
            ],
            Role::Producer,
        )
        .expect("valid");
        assert_eq!(s.producer.acks, Some(Acks::None));
        assert_eq!(s.producer.compression, Some(Compression::Zstd));
        assert_eq!(s.producer.linger, Duration::from_millis(20));
        assert_eq!(s.producer.batch_records, 7);
        assert_eq!(s.producer.delivery_timeout, Duration::from_millis(1500));
        assert_eq!(s.producer.partitioner, Partitioner::ConsistentRandom);
        assert!(s.ignored.is_empty());
        for (key, value) in [
            ("acks", "2"),
            ("linger.ms", "soon"),
            ("partitioner", "fnv1a"),
            ("enable.idempotence", "true"),
            ("transactional.id", "t"),
        ] {
            assert!(
                settings(&[(key, value)], Role::Producer).is_err(),
                "{key}={value}"
            );
        }
        let err = settings(&[("linger.ms", "soon")], Role::Producer).expect_err("bad");
        assert_eq!(
            err.to_string(),
            "invalid client property linger.ms=soon: expected a number from 0 to 900000"
        );
    }

    #[test]
    fn consumer_keys_are_typed_and_checked() {
        let s = settings(
            &[
                ("isolation.level", "read_uncommitted"),
                ("auto.offset.reset", "smallest"),
                ("fetch.wait.max.ms", "100"),
            ],
            Role::Consumer,
        )
        .expect("valid");
        assert_eq!(s.consumer.isolation_level, 0);
        assert_eq!(s.consumer.auto_offset_reset, OffsetReset::Earliest);
        assert_eq!(s.consumer.fetch_wait_max_ms, 100);
        assert!(settings(&[("isolation.level", "dirty")], Role::Consumer).is_err());
    }

    #[test]
    fn keys_without_meaning_are_ignored_with_a_warning_and_unknown_keys_refused() {
        let s = settings(
            &[("debug", "all"), ("acks", "1"), ("client.id", "me")],
            Role::Consumer,
        )
        .expect("valid");
        assert_eq!(s.client_id, "me");
        assert_eq!(
            s.ignored,
            vec![
                "-X debug has no effect on this command; ignored",
                "-X acks has no effect on this command; ignored"
            ]
        );
        let err = settings(&[("lingr.ms", "5")], Role::Producer).expect_err("typo");
        assert_eq!(
            err.to_string(),
            "unknown client property 'lingr.ms' (see -X in --help for the keys this client reads)"
        );
    }
}

//! What every benchmark needs from librdkafka: a client configuration from the command line's
//! connection flags, one-line messages for librdkafka's errors, metadata, and the small
//! producer and consumer helpers the benchmarks share.

use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};
use rdkafka::ClientConfig;
use sluice_client::ConnectArgs;

/// How long to wait for a metadata answer before giving up on the cluster.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// A librdkafka configuration from the connection flags.
pub trait ClientConfigExt {
    /// The bootstrap servers, then `defaults` (the benchmark's own choices), then the user's
    /// properties (`--command-config`, then `-X`), later entries overriding earlier ones.
    /// Every user key goes to librdkafka as it is: here librdkafka is the point.
    fn client_config(&self, defaults: &[(&str, &str)]) -> Result<ClientConfig>;
}

impl ClientConfigExt for ConnectArgs {
    fn client_config(&self, defaults: &[(&str, &str)]) -> Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in self.all_properties()? {
            config.set(key, value);
        }
        Ok(config)
    }
}

/// Kafka's name for an error code (`TOPIC_ALREADY_EXISTS`); librdkafka's local errors (negative
/// codes) with a leading underscore as librdkafka spells them (`_TIMED_OUT`).
pub fn error_name(code: RDKafkaErrorCode) -> String {
    let renamed = match code {
        RDKafkaErrorCode::InvalidMessage => Some("CORRUPT_MESSAGE"),
        RDKafkaErrorCode::NotLeaderForPartition => Some("NOT_LEADER_OR_FOLLOWER"),
        RDKafkaErrorCode::MessageBatchTooLarge => Some("RECORD_LIST_TOO_LARGE"),
        RDKafkaErrorCode::MessageTimedOut => Some("_MSG_TIMED_OUT"),
        RDKafkaErrorCode::BrokerTransportFailure => Some("_TRANSPORT"),
        RDKafkaErrorCode::AllBrokersDown => Some("_ALL_BROKERS_DOWN"),
        RDKafkaErrorCode::OperationTimedOut => Some("_TIMED_OUT"),
        RDKafkaErrorCode::QueueFull => Some("_QUEUE_FULL"),
        _ => None,
    };
    if let Some(name) = renamed {
        return name.to_string();
    }
    let snake = sluice_client::upper_snake_case(&format!("{code:?}"));
    if (code as i32) < 0 {
        format!("_{snake}")
    } else {
        snake
    }
}

/// "librdkafka's description (NAME)" for a code.
pub fn describe_code(code: RDKafkaErrorCode) -> String {
    // rdkafka's Display is "{Debug} ({description})"; keep only the description.
    let shown = code.to_string();
    let debug = format!("{code:?}");
    let description = shown
        .strip_prefix(&debug)
        .and_then(|rest| rest.trim().strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
        .map(str::to_string)
        .unwrap_or(shown);
    format!("{description} ({})", error_name(code))
}

/// One line for any librdkafka error.
pub fn describe_error(error: &KafkaError) -> String {
    match error {
        KafkaError::AdminOp(code) => describe_code(*code),
        KafkaError::ClientConfig(_, description, key, value) => {
            format!("invalid client property {key}={value}: {description}")
        }
        KafkaError::ClientCreation(description) => description.clone(),
        _ => match error.rdkafka_error_code() {
            Some(code) => describe_code(code),
            None => error.to_string(),
        },
    }
}

/// Metadata through any rdkafka client, with one clear error when the cluster cannot be reached.
pub fn fetch_metadata<C: rdkafka::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: Option<&str>,
    bootstrap: &str,
) -> Result<Metadata> {
    client
        .fetch_metadata(topic, METADATA_TIMEOUT)
        .map_err(|e| anyhow!("{}", describe_error(&e)))
        .with_context(|| format!("fetching metadata from {bootstrap}"))
}

/// The partition ids of `topic` in ascending order, or an error naming why there are none.
pub fn topic_partitions(metadata: &Metadata, topic: &str) -> Result<Vec<i32>> {
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        bail!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)");
    };
    if let Some(err) = found.error() {
        bail!(
            "topic '{topic}': {}",
            describe_code(RDKafkaErrorCode::from(err))
        );
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        bail!("topic '{topic}' has no partitions");
    }
    Ok(ids)
}

/// A consumer for assign-only use: librdkafka's assign API still wants a `group.id`, so a
/// throwaway `sluice-bench-<pid>` is configured; it is never joined and nothing is committed.
pub fn assign_only_consumer(connect: &ConnectArgs, extra: &[(&str, &str)]) -> Result<BaseConsumer> {
    let group_id = format!("sluice-bench-{}", std::process::id());
    let mut defaults = vec![
        ("group.id", group_id.as_str()),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ];
    defaults.extend_from_slice(extra);
    connect
        .client_config(&defaults)?
        .create()
        .map_err(|e| anyhow!("creating consumer: {}", describe_error(&e)))
}

/// Errors that will not go away by polling again.
pub fn is_fatal_consume_error(error: &KafkaError) -> bool {
    match error {
        KafkaError::MessageConsumptionFatal(_) => true,
        KafkaError::MessageConsumption(code) => matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::Authentication
        ),
        _ => false,
    }
}

/// Hands a record to librdkafka, serving delivery reports while its queue is full.
pub fn send_when_room<'a, C, K, P>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
) -> Result<()>
where
    C: ProducerContext,
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(1));
            }
            Err((error, _)) => bail!("sending record: {}", describe_error(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_match_kafka() {
        assert_eq!(
            error_name(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::NotLeaderForPartition),
            "NOT_LEADER_OR_FOLLOWER"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::MessageTimedOut),
            "_MSG_TIMED_OUT"
        );
        assert_eq!(
            describe_code(RDKafkaErrorCode::InvalidReplicationFactor),
            "Broker: Invalid replication factor (INVALID_REPLICATION_FACTOR)"
        );
    }

    #[test]
    fn properties_override_defaults() {
        let args = ConnectArgs {
            bootstrap_server: "h:1".into(),
            command_config: None,
            properties: vec![("acks".into(), "0".into())],
        };
        let config = args
            .client_config(&[("acks", "all"), ("linger.ms", "5")])
            .expect("no command config to read");
        assert_eq!(config.get("bootstrap.servers"), Some("h:1"));
        assert_eq!(config.get("acks"), Some("0"));
        assert_eq!(config.get("linger.ms"), Some("5"));
    }
}

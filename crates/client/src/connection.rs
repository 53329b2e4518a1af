//! Connection options shared by every client command, and the small helpers that turn them (and
//! librdkafka's errors) into something a person can read.

use std::collections::BTreeSet;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::ClientConfig;

/// Where the cluster is and how to talk to it. Flattened into every client command.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConnectArgs {
    /// Bootstrap server(s), comma-separated host:port.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        env = "SLUICE_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap_server: String,

    /// librdkafka property key=value (repeatable); applied last, so it overrides every flag.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub properties: Vec<(String, String)>,
}

impl ConnectArgs {
    /// A librdkafka configuration with the bootstrap servers, then `defaults` (the command's own
    /// choices), then the user's `-X` properties, later entries overriding earlier ones.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_server);
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// Parses `key=value`; the value may itself contain `=`, the key may not be empty.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected key=value, got '{text}'")),
    }
}

/// Kafka's name for an error code (`TOPIC_ALREADY_EXISTS`). librdkafka's local errors (negative
/// codes) get a leading underscore as librdkafka spells them (`_TIMED_OUT`).
pub fn error_name(code: RDKafkaErrorCode) -> String {
    // Where librdkafka's enum variant does not spell Kafka's protocol name.
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
    let snake = upper_snake_case(&format!("{code:?}"));
    if (code as i32) < 0 {
        format!("_{snake}")
    } else {
        snake
    }
}

/// `TopicAlreadyExists` -> `TOPIC_ALREADY_EXISTS`, `UnsupportedSASLMechanism` ->
/// `UNSUPPORTED_SASL_MECHANISM`.
pub(crate) fn upper_snake_case(camel: &str) -> String {
    let chars: Vec<char> = camel.chars().collect();
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// librdkafka's text for an error code ("Broker: Topic already exists").
pub fn error_description(code: RDKafkaErrorCode) -> String {
    // rdkafka's Display is "{Debug} ({description})"; keep only the description.
    let shown = code.to_string();
    let debug = format!("{code:?}");
    shown
        .strip_prefix(&debug)
        .and_then(|rest| rest.trim().strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
        .map(str::to_string)
        .unwrap_or(shown)
}

/// "description (NAME)" for a code, the form every command prints.
pub fn describe_code(code: RDKafkaErrorCode) -> String {
    format!("{} ({})", error_description(code), error_name(code))
}

/// One line for any librdkafka error: the code's description and name where there is a code.
pub fn describe_error(error: &KafkaError) -> String {
    match error {
        // The request as a whole failed (timed out, no controller, ...).
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

/// Fetches metadata through any rdkafka client, with one clear error when the cluster cannot be
/// reached.
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

/// How long to wait for a metadata answer before giving up on the cluster.
pub const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The partition ids of `topic` in ascending order, or an error naming why there are none.
pub fn topic_partitions(metadata: &Metadata, topic: &str) -> Result<Vec<i32>> {
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(anyhow!(
            "topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        ));
    };
    if let Some(err) = found.error() {
        let code = RDKafkaErrorCode::from(err);
        if code == RDKafkaErrorCode::UnknownTopicOrPartition {
            return Err(anyhow!(
                "topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
            ));
        }
        return Err(anyhow!("topic '{topic}': {}", describe_code(code)));
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Err(anyhow!("topic '{topic}' has no partitions"));
    }
    Ok(ids)
}

/// The partitions `--partition` names (all when it names none), each checked to exist.
pub fn chosen_partitions(topic: &str, existing: &[i32], wanted: &[u32]) -> Result<Vec<i32>> {
    if wanted.is_empty() {
        return Ok(existing.to_vec());
    }
    let mut chosen = BTreeSet::new();
    for &partition in wanted {
        let found = i32::try_from(partition)
            .ok()
            .filter(|p| existing.contains(p));
        let Some(partition) = found else {
            bail!(
                "topic '{topic}' has no partition {partition} (it has {})",
                existing.len()
            );
        };
        chosen.insert(partition);
    }
    Ok(chosen.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_value_splits_at_first_equals() {
        assert_eq!(
            parse_key_value("a=b=c"),
            Ok(("a".to_string(), "b=c".to_string()))
        );
        assert_eq!(parse_key_value("a="), Ok(("a".to_string(), String::new())));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }

    #[test]
    fn error_names_match_kafka() {
        assert_eq!(
            error_name(RDKafkaErrorCode::TopicAlreadyExists),
            "TOPIC_ALREADY_EXISTS"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::UnknownTopicOrPartition),
            "UNKNOWN_TOPIC_OR_PARTITION"
        );
        assert_eq!(
            error_name(RDKafkaErrorCode::UnsupportedSASLMechanism),
            "UNSUPPORTED_SASL_MECHANISM"
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
            error_name(RDKafkaErrorCode::UnknownTopicId),
            "UNKNOWN_TOPIC_ID"
        );
    }

    #[test]
    fn description_drops_the_variant_name() {
        assert_eq!(
            error_description(RDKafkaErrorCode::TopicAlreadyExists),
            "Broker: Topic already exists"
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
            properties: vec![("acks".into(), "0".into())],
        };
        let config = args.client_config(&[("acks", "all"), ("linger.ms", "5")]);
        assert_eq!(config.get("bootstrap.servers"), Some("h:1"));
        assert_eq!(config.get("acks"), Some("0"));
        assert_eq!(config.get("linger.ms"), Some("5"));
    }

    #[test]
    fn partitions_default_to_all_and_must_exist() {
        assert_eq!(
            chosen_partitions("t", &[0, 1, 2], &[]).ok(),
            Some(vec![0, 1, 2])
        );
        assert_eq!(
            chosen_partitions("t", &[0, 1, 2], &[2, 0, 2]).ok(),
            Some(vec![0, 2])
        );
        let err = chosen_partitions("t", &[0, 1], &[5]).expect_err("no such partition");
        assert_eq!(err.to_string(), "topic 't' has no partition 5 (it has 2)");
        assert!(chosen_partitions("t", &[0], &[u32::MAX]).is_err());
    }
}

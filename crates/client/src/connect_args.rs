//! `-b/--bootstrap-server`, `--command-config FILE` and `-X key=value`, shared by every client
//! command.

use clap::Args;

use crate::properties_file::read_properties;

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

    /// A Java properties file of client settings, as Kafka's tools take it (for instance
    /// security.protocol, sasl.mechanism, sasl.jaas.config, ssl.truststore.location); read
    /// before -X, which overrides it.
    #[arg(long = "command-config", value_name = "FILE", global = true)]
    pub command_config: Option<std::path::PathBuf>,

    /// Client property key=value in librdkafka's names (repeatable), applied last so it
    /// overrides every flag: bootstrap.servers, client.id, request.timeout.ms,
    /// socket.timeout.ms, receive.message.max.bytes, and per command acks, compression.type,
    /// linger.ms, batch.size, batch.num.messages, message.max.bytes, message.timeout.ms,
    /// partitioner, isolation.level, auto.offset.reset, fetch.wait.max.ms, fetch.min.bytes, fetch.max.bytes, max.partition.fetch.bytes, allow.auto.create.topics;
    /// and security: security.protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL),
    /// sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), sasl.username, sasl.password,
    /// sasl.jaas.config, ssl.truststore.location / ssl.ca.location, ssl.keystore.location or
    /// ssl.certificate.location + ssl.key.location (PEM), ssl.endpoint.identification.algorithm.
    /// Keys librdkafka knows that mean nothing to this client are ignored with a warning;
    /// unknown keys are an error.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = parse_key_value, global = true)]
    pub properties: Vec<(String, String)>,
}

impl ConnectArgs {
    /// The client properties: those of the `--command-config` file, then the `-X` ones, in
    /// order (a later value of a key wins).
    pub fn all_properties(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut properties = match &self.command_config {
            Some(path) => read_properties(path)?,
            None => Vec::new(),
        };
        properties.extend(self.properties.iter().cloned());
        Ok(properties)
    }
}

/// Parses `key=value`; the value may itself contain `=`, the key may not be empty.
pub fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected key=value, got '{text}'")),
    }
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
}

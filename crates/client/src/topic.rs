//! `sluice topic create|list|describe|alter|delete`: topic administration through the Kafka admin
//! API (CreateTopics, Metadata, DescribeConfigs, CreatePartitions, IncrementalAlterConfigs,
//! DeleteTopics) on the CLI's Kafka client.
//!
//! Where requests go: CreateTopics, CreatePartitions and DeleteTopics to the controller Metadata
//! names (any broker when it names none: a KRaft broker forwards), the rest to any broker.
//!
//! Config changes use IncrementalAlterConfigs (KIP-339): `--config` sets a key, `--delete-config`
//! removes an override, and nothing else changes. Deleting a key that is not overridden is an
//! error, as in kafka-configs. A broker without IncrementalAlterConfigs (before Kafka 2.3) gets
//! the legacy AlterConfigs, which replaces the whole set of a topic's dynamic configs: the
//! current overrides are read with DescribeConfigs, changed and written back (not atomic: a
//! concurrent change by someone else between the two requests can be lost).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource as IncrementalResource, AlterableConfig as IncrementalConfig,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::{parse_key_value, ConnectArgs};
use crate::error_codes::code_text;
use crate::topic_partitions::topic_partitions;
use crate::wire::metadata::ClusterMetadata;
use crate::wire::{ClusterClient, RequestError, Retry};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TopicArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Number of partitions (default: the broker's num.partitions).
        #[arg(long)]
        partitions: Option<u32>,
        /// Replication factor (default: the broker's default.replication.factor).
        #[arg(long)]
        replication_factor: Option<u16>,
        /// Topic config key=value (repeatable), e.g. retention.ms=60000.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
    },
    /// List topic names, one per line.
    List,
    /// Show partitions (leader, replicas, isr) and configs with their source.
    Describe { name: String },
    /// Add partitions and/or change topic configs.
    Alter {
        name: String,
        /// New total number of partitions (can only grow).
        #[arg(long)]
        partitions: Option<u32>,
        /// Set a topic config key=value (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Remove a topic config override, back to the broker default (repeatable).
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
    /// Delete a topic.
    Delete { name: String },
}

/// Admin requests give up after this long.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The time CreateTopics, CreatePartitions and DeleteTopics give the cluster.
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// DescribeConfigs resource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
/// DescribeConfigs `config_source` of a topic override.
const SOURCE_DYNAMIC_TOPIC: i8 = 1;

const TOPIC_ALREADY_EXISTS: i16 = 36;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

pub async fn run(args: TopicArgs) -> Result<()> {
    let mut admin = Admin::connect(&args.connect)?;
    match args.command {
        TopicCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
        } => {
            admin
                .create(&name, partitions, replication_factor, &configs)
                .await
        }
        TopicCommand::List => admin.list().await,
        TopicCommand::Describe { name } => admin.describe(&name).await,
        TopicCommand::Alter {
            name,
            partitions,
            configs,
            delete_configs,
        } => {
            if partitions.is_none() && configs.is_empty() && delete_configs.is_empty() {
                bail!("nothing to alter: give --partitions, --config or --delete-config");
            }
            if let Some(count) = partitions {
                admin.add_partitions(&name, count).await?;
            }
            if !configs.is_empty() || !delete_configs.is_empty() {
                admin
                    .alter_configs(&name, &configs, &delete_configs)
                    .await?;
            }
            Ok(())
        }
        TopicCommand::Delete { name } => admin.delete(&name).await,
    }
}

/// One described config of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigEntry {
    name: String,
    /// `None` for a sensitive value (not returned) or a null one.
    value: Option<String>,
    /// DescribeConfigs `config_source`.
    source: i8,
    is_sensitive: bool,
}

/// The topic admin commands over one cluster client.
struct Admin {
    client: ClusterClient,
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

fn deadline() -> Instant {
    Instant::now() + ADMIN_TIMEOUT
}

impl Admin {
    fn connect(connect: &ConnectArgs) -> Result<Self> {
        let settings = ClientSettings::from_args(connect, Role::Admin)?;
        for warning in &settings.ignored {
            eprintln!("warning: {warning}");
        }
        Ok(Admin {
            client: ClusterClient::new(&settings),
        })
    }

    /// Cluster metadata for one topic or all; never auto-creates the topic.
    async fn metadata(&mut self, topic: Option<&str>) -> Result<ClusterMetadata> {
        let names = topic.map(|t| vec![t.to_string()]);
        let deadline = deadline();
        let retry = Retry::until(deadline);
        loop {
            match self
                .client
                .metadata(names.as_deref(), false, deadline)
                .await
            {
                Err(e) if retry.again(&e).await => continue,
                outcome => return outcome.context("fetching metadata"),
            }
        }
    }

    async fn create(
        &mut self,
        name: &str,
        partitions: Option<u32>,
        replication_factor: Option<u16>,
        configs: &[(String, String)],
    ) -> Result<()> {
        // -1 asks the broker for its defaults (CreateTopics v4+, KIP-464).
        let num_partitions = match partitions {
            Some(n) => i32::try_from(n).context("--partitions is too large")?,
            None => -1,
        };
        let replication = match replication_factor {
            Some(n) => i16::try_from(n).context("--replication-factor is too large")?,
            None => -1,
        };
        let request = create_request(name, num_partitions, replication, configs, ADMIN_TIMEOUT_MS);
        let (response, version) = self
            .client
            .send_to_controller::<CreateTopicsRequest>(2..=7, |_| request.clone(), deadline())
            .await
            .map_err(|e| anyhow!("creating topic '{name}': {e}"))?;
        for result in response.topics {
            let checked = check_topic_result(
                result.name.as_str(),
                result.error_code,
                result.error_message.as_deref(),
                "creating",
            );
            if checked.is_err() && version < 4 && (num_partitions < 0 || replication < 0) {
                // Brokers before Kafka 2.4 do not take -1 for their defaults.
                return checked.context(format!(
                    "this broker (CreateTopics v{version}) needs --partitions and \
                     --replication-factor"
                ));
            }
            checked?;
        }
        eprintln!("created topic '{name}'");
        Ok(())
    }

    async fn list(&mut self) -> Result<()> {
        let metadata = self.metadata(None).await?;
        let mut names: Vec<&str> = metadata.topics.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        for name in names {
            println!("{name}");
        }
        Ok(())
    }

    async fn describe(&mut self, name: &str) -> Result<()> {
        let metadata = self.metadata(Some(name)).await?;
        topic_partitions(&metadata, name)?;
        let Some(topic) = metadata.topic(name) else {
            bail!("topic '{name}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)");
        };
        let mut partitions: Vec<_> = topic.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition);
        let replication_factor = partitions.first().map_or(0, |p| p.replicas.len());
        println!(
            "Topic: {name}\tPartitionCount: {}\tReplicationFactor: {replication_factor}",
            partitions.len()
        );
        for p in partitions {
            let error = match p.error_code {
                0 => String::new(),
                code => format!("\tError: {}", code_text(code)),
            };
            println!(
                "\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}{error}",
                p.partition,
                p.leader_id,
                join_ids(&p.replicas),
                join_ids(&p.isr),
            );
        }
        let entries = self.topic_configs(name).await?;
        println!("Configs:");
        for entry in &entries {
            println!("\t{}", format_config_entry(entry));
        }
        Ok(())
    }

    async fn topic_configs(&mut self, name: &str) -> Result<Vec<ConfigEntry>> {
        let describe_error = |e: RequestError| anyhow!("describing configs of '{name}': {e}");
        let (response, _) = self
            .client
            .send_to_any::<DescribeConfigsRequest>(
                1..=4,
                |_| {
                    DescribeConfigsRequest::default().with_resources(vec![
                        DescribeConfigsResource::default()
                            .with_resource_type(RESOURCE_TOPIC)
                            .with_resource_name(s(name))
                            .with_configuration_keys(None),
                    ])
                },
                deadline(),
            )
            .await
            .map_err(describe_error)?;
        let Some(result) = response.results.into_iter().next() else {
            bail!("describing configs of '{name}': empty answer");
        };
        if result.error_code != 0 {
            return Err(describe_error(RequestError::broker(
                result.error_code,
                "DescribeConfigs",
                result.error_message.as_deref(),
            )));
        }
        let mut entries: Vec<ConfigEntry> = result
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: c.value.map(|v| v.to_string()),
                source: c.config_source,
                is_sensitive: c.is_sensitive,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    async fn add_partitions(&mut self, name: &str, count: u32) -> Result<()> {
        let total = i32::try_from(count).context("--partitions is too large")?;
        let (response, _) = self
            .client
            .send_to_controller::<CreatePartitionsRequest>(
                0..=3,
                |_| create_partitions_request(name, total, ADMIN_TIMEOUT_MS),
                deadline(),
            )
            .await
            .map_err(|e| anyhow!("adding partitions to '{name}': {e}"))?;
        for result in response.results {
            check_topic_result(
                result.name.as_str(),
                result.error_code,
                result.error_message.as_deref(),
                "adding partitions to",
            )?;
        }
        eprintln!("topic '{name}' now has {count} partitions");
        Ok(())
    }

    async fn alter_configs(
        &mut self,
        name: &str,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<()> {
        // Fails with a clear message when the topic does not exist.
        let metadata = self.metadata(Some(name)).await?;
        topic_partitions(&metadata, name)?;
        let current = dynamic_configs(self.topic_configs(name).await?);
        for key in delete {
            if !current.iter().any(|(k, _)| k == key) {
                bail!("altering configs of '{name}': config '{key}' is not set on the topic");
            }
        }
        let alter_error = |e: RequestError| anyhow!("altering configs of '{name}': {e}");
        let incremental = self
            .client
            .send_to_any::<IncrementalAlterConfigsRequest>(
                0..=1,
                |_| incremental_request(name, set, delete),
                deadline(),
            )
            .await;
        let results: Vec<(i16, Option<StrBytes>)> = match incremental {
            Ok((response, _)) => response
                .responses
                .into_iter()
                .map(|r| (r.error_code, r.error_message))
                .collect(),
            Err(RequestError::Unsupported(_)) => {
                let merged = merge_topic_configs(&current, set, delete)
                    .map_err(|e| anyhow!("altering configs of '{name}': {e}"))?;
                let (response, _) = self
                    .client
                    .send_to_any::<AlterConfigsRequest>(
                        0..=2,
                        |_| legacy_request(name, &merged),
                        deadline(),
                    )
                    .await
                    .map_err(alter_error)?;
                response
                    .responses
                    .into_iter()
                    .map(|r| (r.error_code, r.error_message))
                    .collect()
            }
            Err(e) => return Err(alter_error(e)),
        };
        for (code, message) in results {
            if code != 0 {
                return Err(alter_error(RequestError::broker(
                    code,
                    "the broker refused the change",
                    message.as_deref(),
                )));
            }
        }
        eprintln!("updated configs of topic '{name}'");
        Ok(())
    }

    async fn delete(&mut self, name: &str) -> Result<()> {
        let (response, _) = self
            .client
            .send_to_controller::<DeleteTopicsRequest>(
                1..=6,
                |version| delete_request(name, ADMIN_TIMEOUT_MS, version),
                deadline(),
            )
            .await
            .map_err(|e| anyhow!("deleting topic '{name}': {e}"))?;
        for result in response.responses {
            let topic = result.name.as_ref().map_or(name, |n| n.as_str());
            check_topic_result(
                topic,
                result.error_code,
                result.error_message.as_deref(),
                "deleting",
            )?;
        }
        eprintln!("deleted topic '{name}'");
        Ok(())
    }
}

/// CreateTopics of one topic (v4+: `-1` partitions or replication factor asks for the
/// broker's default, KIP-464), with its configs, giving the cluster `timeout_ms`.
pub fn create_request(
    name: &str,
    partitions: i32,
    replication_factor: i16,
    configs: &[(String, String)],
    timeout_ms: i32,
) -> CreateTopicsRequest {
    let topic = CreatableTopic::default()
        .with_name(topic_name(name))
        .with_num_partitions(partitions)
        .with_replication_factor(replication_factor)
        .with_configs(
            configs
                .iter()
                .map(|(key, value)| {
                    CreatableTopicConfig::default()
                        .with_name(s(key))
                        .with_value(Some(s(value)))
                })
                .collect(),
        );
    CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(timeout_ms)
}

/// CreatePartitions growing topic `name` to `count` partitions, placed by the controller.
pub fn create_partitions_request(
    name: &str,
    count: i32,
    timeout_ms: i32,
) -> CreatePartitionsRequest {
    CreatePartitionsRequest::default()
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(topic_name(name))
            .with_count(count)
            .with_assignments(None)])
        .with_timeout_ms(timeout_ms)
}

/// DeleteTopics of topic `name` at `version` (v6 names topics in a struct).
pub fn delete_request(name: &str, timeout_ms: i32, version: i16) -> DeleteTopicsRequest {
    let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
    if version >= 6 {
        request.with_topics(vec![
            DeleteTopicState::default().with_name(Some(topic_name(name)))
        ])
    } else {
        request.with_topic_names(vec![topic_name(name)])
    }
}

/// IncrementalAlterConfigs setting `set` and removing `delete` on topic `name`.
fn incremental_request(
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> IncrementalAlterConfigsRequest {
    let configs = set
        .iter()
        .map(|(key, value)| {
            IncrementalConfig::default()
                .with_name(s(key))
                .with_config_operation(OP_SET)
                .with_value(Some(s(value)))
        })
        .chain(delete.iter().map(|key| {
            IncrementalConfig::default()
                .with_name(s(key))
                .with_config_operation(OP_DELETE)
                .with_value(None)
        }))
        .collect();
    IncrementalAlterConfigsRequest::default().with_resources(vec![IncrementalResource::default()
        .with_resource_type(RESOURCE_TOPIC)
        .with_resource_name(s(name))
        .with_configs(configs)])
}

/// AlterConfigs replacing topic `name`'s overrides with `configs`.
fn legacy_request(name: &str, configs: &BTreeMap<String, String>) -> AlterConfigsRequest {
    AlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
        .with_resource_type(RESOURCE_TOPIC)
        .with_resource_name(s(name))
        .with_configs(
            configs
                .iter()
                .map(|(key, value)| {
                    AlterableConfig::default()
                        .with_name(s(key))
                        .with_value(Some(s(value)))
                })
                .collect(),
        )])
}

/// One error line naming Kafka's error for a per-topic admin result.
fn check_topic_result(topic: &str, code: i16, message: Option<&str>, action: &str) -> Result<()> {
    match code {
        0 => Ok(()),
        TOPIC_ALREADY_EXISTS => bail!("topic '{topic}' already exists (TOPIC_ALREADY_EXISTS)"),
        UNKNOWN_TOPIC_OR_PARTITION => {
            bail!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")
        }
        code => {
            let mut text = format!("{action} topic '{topic}': {}", code_text(code));
            if let Some(message) = message.filter(|m| !m.is_empty()) {
                text.push_str(&format!(": {message}"));
            }
            Err(anyhow!(text))
        }
    }
}

/// The topic-level overrides among described configs (hidden values as None).
fn dynamic_configs(entries: Vec<ConfigEntry>) -> Vec<(String, Option<String>)> {
    entries
        .into_iter()
        .filter(|e| e.source == SOURCE_DYNAMIC_TOPIC)
        .map(|e| (e.name, e.value))
        .collect()
}

/// The full set of dynamic topic configs after applying `set` and `delete` to `current`, for
/// the legacy AlterConfigs, which replaces them all.
fn merge_topic_configs(
    current: &[(String, Option<String>)],
    set: &[(String, String)],
    delete: &[String],
) -> Result<BTreeMap<String, String>, String> {
    let mut merged = BTreeMap::new();
    for (key, value) in current {
        match value {
            Some(value) => {
                merged.insert(key.clone(), value.clone());
            }
            // A sensitive value is not returned, so it cannot be written back.
            None if set.iter().any(|(k, _)| k == key) || delete.contains(key) => {}
            None => {
                return Err(format!(
                    "config '{key}' has a hidden value that AlterConfigs would reset; \
                     set it again with --config"
                ))
            }
        }
    }
    for key in delete {
        if merged.remove(key).is_none() && !current.iter().any(|(k, _)| k == key) {
            return Err(format!("config '{key}' is not set on the topic"));
        }
    }
    for (key, value) in set {
        merged.insert(key.clone(), value.clone());
    }
    Ok(merged)
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// `key=value (SOURCE)`, with Kafka's names for the source; sensitive values are not shown.
fn format_config_entry(entry: &ConfigEntry) -> String {
    let value = if entry.is_sensitive {
        "(sensitive)"
    } else {
        entry.value.as_deref().unwrap_or("(null)")
    };
    let source = match entry.source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    };
    format!("{}={value} ({source})", entry.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn merge_keeps_sets_and_deletes() {
        let current = vec![
            ("retention.ms".to_string(), Some("1000".to_string())),
            ("cleanup.policy".to_string(), Some("compact".to_string())),
        ];
        let merged = merge_topic_configs(
            &current,
            &[kv("segment.bytes", "1048576"), kv("retention.ms", "2000")],
            &["cleanup.policy".to_string()],
        )
        .expect("valid merge");
        let expected: BTreeMap<String, String> =
            [kv("retention.ms", "2000"), kv("segment.bytes", "1048576")]
                .into_iter()
                .collect();
        assert_eq!(merged, expected);
    }

    #[test]
    fn deleting_an_unset_config_is_an_error() {
        let err = merge_topic_configs(&[], &[], &["retention.ms".to_string()]);
        assert_eq!(
            err,
            Err("config 'retention.ms' is not set on the topic".to_string())
        );
    }

    #[test]
    fn hidden_values_must_be_given_again() {
        let current = vec![("sasl.secret".to_string(), None)];
        assert!(merge_topic_configs(&current, &[], &[]).is_err());
        let merged = merge_topic_configs(&current, &[kv("sasl.secret", "x")], &[])
            .expect("value given again");
        assert_eq!(merged.get("sasl.secret").map(String::as_str), Some("x"));
    }

    #[test]
    fn incremental_requests_set_and_delete_only_what_is_named() {
        let request = incremental_request("t", &[kv("a", "1")], &["b".to_string()]);
        let configs = &request.resources[0].configs;
        assert_eq!(request.resources[0].resource_type, RESOURCE_TOPIC);
        assert_eq!(
            configs
                .iter()
                .map(|c| (c.name.as_str(), c.config_operation, c.value.as_deref()))
                .collect::<Vec<_>>(),
            vec![("a", OP_SET, Some("1")), ("b", OP_DELETE, None)]
        );
    }

    #[test]
    fn config_entries_show_their_source() {
        let entry = ConfigEntry {
            name: "retention.ms".into(),
            value: Some("1000".into()),
            source: SOURCE_DYNAMIC_TOPIC,
            is_sensitive: false,
        };
        assert_eq!(
            format_config_entry(&entry),
            "retention.ms=1000 (DYNAMIC_TOPIC_CONFIG)"
        );
        let secret = ConfigEntry {
            source: 5,
            is_sensitive: true,
            ..entry
        };
        assert_eq!(
            format_config_entry(&secret),
            "retention.ms=(sensitive) (DEFAULT_CONFIG)"
        );
    }

    #[test]
    fn admin_errors_name_the_kafka_error() {
        let err =
            check_topic_result("x", TOPIC_ALREADY_EXISTS, None, "creating").expect_err("fails");
        assert_eq!(
            err.to_string(),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)"
        );
        let err =
            check_topic_result("x", 37, Some("must be positive"), "creating").expect_err("fails");
        assert_eq!(
            err.to_string(),
            "creating topic 'x': Broker: Invalid number of partitions (INVALID_PARTITIONS): \
             must be positive"
        );
        assert!(check_topic_result("x", 0, None, "creating").is_ok());
    }
}

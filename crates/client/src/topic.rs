//! `sluice topic create|list|describe|alter|delete`: topic administration through the Kafka admin
//! API (CreateTopics, Metadata, DescribeConfigs, CreatePartitions, AlterConfigs, DeleteTopics).
//!
//! Config changes: the `rdkafka` crate exposes the legacy AlterConfigs API but not
//! IncrementalAlterConfigs (KIP-339), and calling the librdkafka C function directly would need
//! `unsafe`. AlterConfigs replaces the whole set of a topic's dynamic configs, so `alter` reads
//! the current dynamic configs with DescribeConfigs, applies `--config`/`--delete-config` to them
//! and writes the full set back. That read-modify-write is not atomic: a concurrent change made by
//! someone else between the two requests can be lost. rdkafka 0.39 also drops the per-resource
//! errors of AlterConfigs (and DescribeConfigs), so unknown keys are rejected here against the
//! described config names, the result is checked by describing again, and a missing topic is
//! detected through Metadata first.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigEntry, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication, TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::Metadata;

use crate::connection::{
    describe_code, describe_error, fetch_metadata, parse_key_value, ConnectArgs,
};

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

pub async fn run(args: TopicArgs) -> Result<()> {
    let admin = Admin::connect(&args.connect)?;
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
        TopicCommand::List => admin.list(),
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

/// An admin client plus what the commands need to report errors well.
pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    bootstrap: String,
    options: AdminOptions,
}

impl Admin {
    pub fn connect(connect: &ConnectArgs) -> Result<Self> {
        // The admin client is a producer to librdkafka, and producers ask the broker to
        // auto-create topics they request metadata for: describing a missing topic must not
        // create it.
        let client = connect
            .client_config(&[("allow.auto.create.topics", "false")])
            .create()
            .map_err(|e| anyhow!("creating admin client: {}", describe_error(&e)))?;
        Ok(Admin {
            client,
            bootstrap: connect.bootstrap_server.clone(),
            options: AdminOptions::new()
                .request_timeout(Some(ADMIN_TIMEOUT))
                .operation_timeout(Some(ADMIN_TIMEOUT)),
        })
    }

    /// Cluster metadata for one topic or all; never auto-creates the topic.
    pub fn metadata(&self, topic: Option<&str>) -> Result<Metadata> {
        fetch_metadata(self.client.inner(), topic, &self.bootstrap)
    }

    pub async fn create(
        &self,
        name: &str,
        partitions: Option<u32>,
        replication_factor: Option<u16>,
        configs: &[(String, String)],
    ) -> Result<()> {
        // -1 asks the broker for its defaults (CreateTopics v4+, KIP-464).
        let partitions = match partitions {
            Some(n) => i32::try_from(n).context("--partitions is too large")?,
            None => -1,
        };
        let replication = replication_factor.map_or(-1, i32::from);
        let mut new_topic = NewTopic::new(name, partitions, TopicReplication::Fixed(replication));
        for (key, value) in configs {
            new_topic = new_topic.set(key, value);
        }
        let results = self
            .client
            .create_topics([&new_topic], &self.options)
            .await
            .map_err(|e| anyhow!("creating topic '{name}': {}", describe_error(&e)))?;
        check_topic_results(&results, "creating")?;
        eprintln!("created topic '{name}'");
        Ok(())
    }

    fn list(&self) -> Result<()> {
        let metadata = self.metadata(None)?;
        let mut names: Vec<&str> = metadata.topics().iter().map(|t| t.name()).collect();
        names.sort_unstable();
        for name in names {
            println!("{name}");
        }
        Ok(())
    }

    async fn describe(&self, name: &str) -> Result<()> {
        let metadata = self.metadata(Some(name))?;
        crate::connection::topic_partitions(&metadata, name)?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == name) else {
            bail!("topic '{name}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)");
        };
        let mut partitions: Vec<_> = topic.partitions().iter().collect();
        partitions.sort_by_key(|p| p.id());
        let replication_factor = partitions.first().map_or(0, |p| p.replicas().len());
        println!(
            "Topic: {name}\tPartitionCount: {}\tReplicationFactor: {replication_factor}",
            partitions.len()
        );
        for p in partitions {
            let error = match p.error() {
                Some(err) => format!("\tError: {}", describe_code(RDKafkaErrorCode::from(err))),
                None => String::new(),
            };
            println!(
                "\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}{error}",
                p.id(),
                p.leader(),
                join_ids(p.replicas()),
                join_ids(p.isr()),
            );
        }
        let entries = self.topic_configs(name).await?;
        println!("Configs:");
        for entry in &entries {
            println!("\t{}", format_config_entry(entry));
        }
        Ok(())
    }

    async fn topic_configs(&self, name: &str) -> Result<Vec<ConfigEntry>> {
        let resource = ResourceSpecifier::Topic(name);
        let mut results = self
            .client
            .describe_configs([&resource], &self.options)
            .await
            .map_err(|e| anyhow!("describing configs of '{name}': {}", describe_error(&e)))?;
        let result = results
            .pop()
            .ok_or_else(|| anyhow!("describing configs of '{name}': empty answer"))?;
        let resource = result
            .map_err(|code| anyhow!("describing configs of '{name}': {}", describe_code(code)))?;
        let mut entries = resource.entries;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    async fn add_partitions(&self, name: &str, count: u32) -> Result<()> {
        let count = usize::try_from(count).context("--partitions is too large")?;
        let new_partitions = NewPartitions::new(name, count);
        let results = self
            .client
            .create_partitions([&new_partitions], &self.options)
            .await
            .map_err(|e| anyhow!("adding partitions to '{name}': {}", describe_error(&e)))?;
        check_topic_results(&results, "adding partitions to")?;
        eprintln!("topic '{name}' now has {count} partitions");
        Ok(())
    }

    async fn alter_configs(
        &self,
        name: &str,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<()> {
        // Fails with a clear message when the topic does not exist.
        let metadata = self.metadata(Some(name))?;
        crate::connection::topic_partitions(&metadata, name)?;
        let current = self.topic_configs(name).await?;
        let known: Vec<&str> = current.iter().map(|e| e.name.as_str()).collect();
        check_known_configs(&known, set)
            .map_err(|e| anyhow!("altering configs of '{name}': {e}"))?;
        let merged = merge_topic_configs(&dynamic_configs(current), set, delete)
            .map_err(|e| anyhow!("altering configs of '{name}': {e}"))?;
        let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
        for (key, value) in &merged {
            alter = alter.set(key, value);
        }
        let results = self
            .client
            .alter_configs([&alter], &self.options)
            .await
            .map_err(|e| anyhow!("altering configs of '{name}': {}", describe_error(&e)))?;
        for result in results {
            if let Err((_, code)) = result {
                bail!("altering configs of '{name}': {}", describe_code(code));
            }
        }
        // rdkafka 0.39 reports every AlterConfigs resource as a success, even one the broker
        // rejected (an invalid value, say), so check that the change took effect.
        let applied = dynamic_configs(self.topic_configs(name).await?);
        if !took_effect(&merged, &applied) {
            bail!(
                "altering configs of '{name}': the broker did not apply the change \
                 (it rejected it, probably as INVALID_CONFIG; the client library does not \
                 pass on the reason)"
            );
        }
        eprintln!("updated configs of topic '{name}'");
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let results = self
            .client
            .delete_topics(&[name], &self.options)
            .await
            .map_err(|e| anyhow!("deleting topic '{name}': {}", describe_error(&e)))?;
        check_topic_results(&results, "deleting")?;
        eprintln!("deleted topic '{name}'");
        Ok(())
    }
}

/// Turns per-topic admin results into one error line naming Kafka's error.
fn check_topic_results(results: &[TopicResult], action: &str) -> Result<()> {
    for result in results {
        if let Err((topic, code)) = result {
            return Err(match code {
                RDKafkaErrorCode::TopicAlreadyExists => {
                    anyhow!("topic '{topic}' already exists (TOPIC_ALREADY_EXISTS)")
                }
                RDKafkaErrorCode::UnknownTopicOrPartition => {
                    anyhow!("topic '{topic}' does not exist (UNKNOWN_TOPIC_OR_PARTITION)")
                }
                other => anyhow!("{action} topic '{topic}': {}", describe_code(*other)),
            });
        }
    }
    Ok(())
}

/// Whether the overrides now in place are `wanted`; hidden (sensitive) values only count by key.
fn took_effect(wanted: &BTreeMap<String, String>, applied: &[(String, Option<String>)]) -> bool {
    applied.len() == wanted.len()
        && applied
            .iter()
            .all(|(key, value)| match (wanted.get(key), value) {
                (Some(want), Some(got)) => want == got,
                (Some(_), None) => true,
                (None, _) => false,
            })
}

/// The topic-level overrides among described configs (hidden values as None).
fn dynamic_configs(entries: Vec<ConfigEntry>) -> Vec<(String, Option<String>)> {
    entries
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .map(|e| (e.name, e.value))
        .collect()
}

/// DescribeConfigs lists every config a topic has, so a key missing from it is one the broker
/// does not know: reject it before AlterConfigs, whose errors do not reach us (see `alter`).
fn check_known_configs(known: &[&str], set: &[(String, String)]) -> Result<(), String> {
    if known.is_empty() {
        return Ok(());
    }
    match set.iter().find(|(key, _)| !known.contains(&key.as_str())) {
        Some((key, _)) => Err(format!("unknown topic config '{key}' (INVALID_CONFIG)")),
        None => Ok(()),
    }
}

/// The full set of dynamic topic configs after applying `set` and `delete` to `current`.
/// Deleting a key that is not overridden is an error, as in kafka-configs.
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
        ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
        ConfigSource::Default => "DEFAULT_CONFIG",
        ConfigSource::Unknown => "UNKNOWN",
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
    fn alter_is_checked_against_the_described_overrides() {
        let wanted: BTreeMap<String, String> =
            [kv("a", "1"), kv("s", "secret")].into_iter().collect();
        let applied = vec![
            ("a".to_string(), Some("1".to_string())),
            ("s".to_string(), None),
        ];
        assert!(took_effect(&wanted, &applied));
        let unchanged = vec![
            ("a".to_string(), Some("0".to_string())),
            ("s".to_string(), None),
        ];
        assert!(!took_effect(&wanted, &unchanged));
        assert!(!took_effect(&wanted, &applied[..1]));
        assert!(took_effect(&BTreeMap::new(), &[]));
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        let known = ["retention.ms", "segment.bytes"];
        assert_eq!(
            check_known_configs(&known, &[kv("retention.ms", "1")]),
            Ok(())
        );
        assert_eq!(
            check_known_configs(&known, &[kv("retention.ms", "1"), kv("bogus", "2")]),
            Err("unknown topic config 'bogus' (INVALID_CONFIG)".to_string())
        );
        // A broker that describes nothing cannot be checked against.
        assert_eq!(check_known_configs(&[], &[kv("bogus", "2")]), Ok(()));
    }

    #[test]
    fn config_entries_show_their_source() {
        let entry = ConfigEntry {
            name: "retention.ms".into(),
            value: Some("1000".into()),
            source: ConfigSource::DynamicTopic,
            is_read_only: false,
            is_default: false,
            is_sensitive: false,
        };
        assert_eq!(
            format_config_entry(&entry),
            "retention.ms=1000 (DYNAMIC_TOPIC_CONFIG)"
        );
    }

    #[test]
    fn admin_errors_name_the_kafka_error() {
        let results: Vec<TopicResult> =
            vec![Err(("x".to_string(), RDKafkaErrorCode::TopicAlreadyExists))];
        let err = check_topic_results(&results, "creating").expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)"
        );
        let results: Vec<TopicResult> =
            vec![Err(("x".to_string(), RDKafkaErrorCode::InvalidPartitions))];
        let err = check_topic_results(&results, "creating").expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "creating topic 'x': Broker: Invalid number of partitions (INVALID_PARTITIONS)"
        );
    }
}

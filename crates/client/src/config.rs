//! `sluice config describe|alter`: the configs of brokers and topics (DescribeConfigs and
//! IncrementalAlterConfigs), what `kafka-configs.sh --entity-type brokers|topics --describe`
//! and `--alter --add-config/--delete-config` do.
//!
//! The entity is a broker (`--broker 1`), the cluster-wide broker default
//! (`--broker-defaults`: Kafka's broker resource `""`, what every broker without a value of its
//! own takes), or a topic (`--topic orders`); kafka-configs' spelling works too:
//! `--entity-type brokers --entity-name 1`, `--entity-type brokers --entity-default`,
//! `--entity-type topics --entity-name orders`.
//!
//! - `describe` shows, like kafka-configs, the dynamic configs only (a broker's own and the
//!   defaults it takes; a topic's overrides), each with its source; `--all` shows every config
//!   with its effective value, source and whether it is read-only. A broker is asked itself
//!   (Kafka answers for the broker a request reaches).
//! - `alter` sets (`--add-config k1=v1,k2=[a,b]`, repeatable; brackets hold a list value with
//!   commas) and deletes (`--delete-config k1,k2`) configs, all in one request the broker
//!   applies whole or not at all (`--validate-only`: checked, not applied). The broker's
//!   refusal (a read-only key, an unknown key, a bad value) is printed as it gave it.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::client_settings::{ClientSettings, Role};
use crate::cluster::OutputFormat;
use crate::connect_args::ConnectArgs;
use crate::table::Table;
use crate::wire::{ClusterClient, RequestError};

/// How long the command may spend on its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Kafka's ConfigResource types.
const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ConfigCommand {
    /// Show the dynamic configs of a broker, of the broker default or of a topic (--all:
    /// every config).
    Describe(ConfigDescribeArgs),
    /// Set and delete dynamic configs of a broker, of the broker default or of a topic.
    Alter(ConfigAlterArgs),
}

/// kafka-configs' `--entity-type`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    #[value(alias = "broker")]
    Brokers,
    #[value(alias = "topic")]
    Topics,
}

/// Which resource: a broker, the broker default or a topic.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
#[group(skip)]
pub struct ConfigEntityArgs {
    /// A broker, by node id.
    #[arg(long, value_name = "ID", conflicts_with_all = ["broker_defaults", "topic", "entity_type"])]
    pub broker: Option<i32>,
    /// The cluster-wide broker default (the broker resource ""), which every broker without a
    /// value of its own takes.
    #[arg(long = "broker-defaults", conflicts_with_all = ["topic", "entity_type"])]
    pub broker_defaults: bool,
    /// A topic.
    #[arg(long, value_name = "TOPIC", conflicts_with = "entity_type")]
    pub topic: Option<String>,
    /// kafka-configs' spelling: brokers or topics, with --entity-name or --entity-default.
    #[arg(long = "entity-type", value_enum)]
    pub entity_type: Option<EntityType>,
    /// The broker id or topic name (with --entity-type).
    #[arg(
        long = "entity-name",
        requires = "entity_type",
        conflicts_with = "entity_default"
    )]
    pub entity_name: Option<String>,
    /// The broker default (with --entity-type brokers).
    #[arg(long = "entity-default", requires = "entity_type")]
    pub entity_default: bool,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConfigDescribeArgs {
    #[command(flatten)]
    pub entity: ConfigEntityArgs,
    /// Every config with its effective value, not only the dynamic ones.
    #[arg(long)]
    pub all: bool,
    /// `table` (or `text`) for people, `json` (one array of configs) for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ConfigAlterArgs {
    #[command(flatten)]
    pub entity: ConfigEntityArgs,
    /// Configs to set, KEY=VALUE[,KEY=VALUE...] (repeatable); a list value in brackets:
    /// log.cleanup.policy=[compact,delete].
    #[arg(long = "add-config", value_name = "KEY=VALUE,...")]
    pub add_config: Vec<String>,
    /// Configs to delete, KEY[,KEY...] (repeatable): back to the next level's value.
    #[arg(long = "delete-config", value_name = "KEY,...")]
    pub delete_config: Vec<String>,
    /// Have the broker check the change without applying it.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
}

/// A resolved entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    Broker(i32),
    BrokerDefaults,
    Topic(String),
}

impl Entity {
    fn resource_type(&self) -> i8 {
        match self {
            Entity::Topic(_) => RESOURCE_TOPIC,
            _ => RESOURCE_BROKER,
        }
    }

    fn resource_name(&self) -> String {
        match self {
            Entity::Broker(id) => id.to_string(),
            Entity::BrokerDefaults => String::new(),
            Entity::Topic(name) => name.clone(),
        }
    }
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entity::Broker(id) => write!(f, "broker {id}"),
            Entity::BrokerDefaults => f.write_str("the broker default"),
            Entity::Topic(name) => write!(f, "topic '{name}'"),
        }
    }
}

pub(crate) fn entity(args: &ConfigEntityArgs) -> Result<Entity> {
    if let Some(id) = args.broker {
        if id < 0 {
            bail!("--broker {id}: a broker id is 0 or more");
        }
        return Ok(Entity::Broker(id));
    }
    if args.broker_defaults {
        return Ok(Entity::BrokerDefaults);
    }
    if let Some(topic) = &args.topic {
        return Ok(Entity::Topic(topic.clone()));
    }
    match (args.entity_type, &args.entity_name, args.entity_default) {
        (Some(EntityType::Brokers), Some(name), _) => match name.parse::<i32>() {
            Ok(id) if id >= 0 => Ok(Entity::Broker(id)),
            _ => bail!("--entity-name {name}: a broker is named by its node id (0 or more)"),
        },
        (Some(EntityType::Brokers), None, true) => Ok(Entity::BrokerDefaults),
        (Some(EntityType::Topics), Some(name), _) => Ok(Entity::Topic(name.clone())),
        (Some(EntityType::Topics), None, true) => {
            bail!("--entity-default: topics have no default entity (their defaults are the brokers' configs: --entity-type brokers --entity-default)")
        }
        (Some(_), None, false) => bail!("--entity-type needs --entity-name or --entity-default"),
        (None, _, _) => bail!(
            "name the entity: --broker ID, --broker-defaults or --topic TOPIC (or --entity-type \
             brokers|topics with --entity-name NAME or --entity-default)"
        ),
    }
}

/// `--add-config` values: `k1=v1,k2=[a,b]` into pairs (brackets hold commas).
pub(crate) fn parse_add_config(args: &[String]) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for arg in args {
        let mut items = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        for ch in arg.chars() {
            match ch {
                '[' => {
                    depth += 1;
                    current.push(ch);
                }
                ']' => {
                    if depth == 0 {
                        bail!("--add-config {arg}: ']' without '['");
                    }
                    depth -= 1;
                    current.push(ch);
                }
                ',' if depth == 0 => items.push(std::mem::take(&mut current)),
                _ => current.push(ch),
            }
        }
        if depth != 0 {
            bail!("--add-config {arg}: '[' without ']'");
        }
        items.push(current);
        for item in items.into_iter().filter(|i| !i.trim().is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                bail!("--add-config {item}: expected KEY=VALUE");
            };
            let key = key.trim();
            if key.is_empty() {
                bail!("--add-config {item}: the key is empty");
            }
            let value = value.trim();
            let value = value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(value);
            pairs.push((key.to_string(), value.to_string()));
        }
    }
    Ok(pairs)
}

/// `--delete-config` values: `k1,k2` into keys.
pub(crate) fn parse_delete_config(args: &[String]) -> Vec<String> {
    args.iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

/// The operations of `alter`, each key once.
pub(crate) fn operations(args: &ConfigAlterArgs) -> Result<Vec<(String, Option<String>)>> {
    let mut ops: Vec<(String, Option<String>)> = parse_add_config(&args.add_config)?
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    ops.extend(
        parse_delete_config(&args.delete_config)
            .into_iter()
            .map(|k| (k, None)),
    );
    if ops.is_empty() {
        bail!("nothing to alter: give --add-config KEY=VALUE and/or --delete-config KEY");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in &ops {
        if !seen.insert(key.as_str()) {
            bail!("config '{key}' is named twice");
        }
    }
    Ok(ops)
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Kafka's name of a DescribeConfigs `config_source`.
pub fn source_name(source: i8) -> &'static str {
    match source {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

/// One described config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    pub read_only: bool,
    pub sensitive: bool,
    /// Where the value could come from, the one in effect first (the request asks for them).
    pub synonyms: Vec<Synonym>,
}

/// A config's synonym: a key that sets it, at one level (topic, broker, default broker, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
}

/// The configs of a DescribeConfigs answer for `entity`, sorted by name; without `all` the
/// dynamic ones only.
pub(crate) fn described(
    entity: &Entity,
    response: &DescribeConfigsResponse,
    all: bool,
) -> Result<Vec<Described>> {
    let mut configs = described_configs(entity, response)?;
    configs.retain(|c| all || (1..=3).contains(&c.source));
    Ok(configs)
}

/// Every config of a DescribeConfigs answer for `entity`, sorted by name, or the broker's error.
pub fn described_configs(
    entity: &Entity,
    response: &DescribeConfigsResponse,
) -> Result<Vec<Described>, RequestError> {
    let Some(result) = response.results.first() else {
        return Err(RequestError::Unsupported(format!(
            "describing the configs of {entity}: the broker answered no result"
        )));
    };
    if result.error_code != 0 {
        return Err(RequestError::broker(
            result.error_code,
            &format!("describing the configs of {entity}"),
            result.error_message.as_deref(),
        ));
    }
    let mut configs: Vec<Described> = result
        .configs
        .iter()
        .map(|c| Described {
            name: c.name.to_string(),
            value: c.value.as_ref().map(|v| v.to_string()),
            source: c.config_source,
            read_only: c.read_only,
            sensitive: c.is_sensitive,
            synonyms: c
                .synonyms
                .iter()
                .map(|s| Synonym {
                    name: s.name.to_string(),
                    value: s.value.as_ref().map(|v| v.to_string()),
                    source: s.source,
                })
                .collect(),
        })
        .collect();
    configs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(configs)
}

fn shown_value(c: &Described) -> String {
    if c.sensitive {
        "(sensitive)".to_string()
    } else {
        c.value.clone().unwrap_or_else(|| "(null)".to_string())
    }
}

pub(crate) fn configs_table(configs: &[Described], all: bool) -> Table {
    let mut header = vec!["CONFIG", "VALUE", "SOURCE"];
    if all {
        header.push("READ-ONLY");
    }
    let mut table = Table::new(&header);
    for c in configs {
        let mut row = vec![
            c.name.clone(),
            shown_value(c),
            source_name(c.source).to_string(),
        ];
        if all {
            row.push(c.read_only.to_string());
        }
        table.push(row);
    }
    table
}

/// `[{"name":"log.retention.ms","value":"1","source":"DYNAMIC_DEFAULT_BROKER_CONFIG",
/// "read_only":false,"sensitive":false}]`: a secret's value is null.
pub(crate) fn configs_json(configs: &[Described]) -> Result<String> {
    let rows: Vec<serde_json::Value> = configs
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "value": if c.sensitive { None } else { c.value.clone() },
                "source": source_name(c.source),
                "read_only": c.read_only,
                "sensitive": c.sensitive,
            })
        })
        .collect();
    Ok(serde_json::to_string(&rows)?)
}

/// DescribeConfigs of every config of `entity`, with synonyms (v1+).
pub fn describe_request(entity: &Entity) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(entity.resource_type())
            .with_resource_name(text(&entity.resource_name()))
            .with_configuration_keys(None)])
}

/// IncrementalAlterConfigs of `entity`: each key set to `Some(value)` or deleted (`None`).
pub fn alter_request(
    entity: &Entity,
    ops: &[(String, Option<String>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(entity.resource_type())
            .with_resource_name(text(&entity.resource_name()))
            .with_configs(
                ops.iter()
                    .map(|(key, value)| {
                        AlterableConfig::default()
                            .with_name(text(key))
                            .with_config_operation(if value.is_some() { OP_SET } else { OP_DELETE })
                            .with_value(value.as_deref().map(text))
                    })
                    .collect(),
            )])
}

/// The error of an IncrementalAlterConfigs answer, if any.
pub(crate) fn alter_result(
    entity: &Entity,
    response: &IncrementalAlterConfigsResponse,
) -> Result<()> {
    Ok(alter_outcome(entity, response)?)
}

/// The broker's error of an IncrementalAlterConfigs answer, if any.
pub fn alter_outcome(
    entity: &Entity,
    response: &IncrementalAlterConfigsResponse,
) -> Result<(), RequestError> {
    let Some(r) = response.responses.first() else {
        return Err(RequestError::Unsupported(format!(
            "altering the configs of {entity}: the broker answered no result"
        )));
    };
    if r.error_code != 0 {
        return Err(RequestError::broker(
            r.error_code,
            &format!("altering the configs of {entity}"),
            r.error_message.as_deref(),
        ));
    }
    Ok(())
}

/// A client for the cluster of `connect`, after the warnings about its settings.
fn connect(connect: &ConnectArgs) -> Result<ClusterClient> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    Ok(ClusterClient::new(&settings))
}

pub async fn run(args: ConfigArgs) -> Result<()> {
    let mut client = connect(&args.connect)?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    match args.command {
        ConfigCommand::Describe(d) => {
            let entity = entity(&d.entity)?;
            let request = describe_request(&entity);
            let sent = match &entity {
                // A broker answers for itself only.
                Entity::Broker(id) => {
                    client
                        .send_to_broker::<DescribeConfigsRequest>(
                            *id,
                            1..=4,
                            |_| request.clone(),
                            deadline,
                        )
                        .await
                }
                _ => {
                    client
                        .send_to_any::<DescribeConfigsRequest>(1..=4, |_| request.clone(), deadline)
                        .await
                }
            };
            let (response, _) =
                sent.map_err(|e| anyhow!("describing the configs of {entity}: {e}"))?;
            let configs = described(&entity, &response, d.all)?;
            match d.output {
                OutputFormat::Json => println!("{}", configs_json(&configs)?),
                OutputFormat::Text if configs.is_empty() => {
                    eprintln!("{entity} has no dynamic configs (--all shows every config)")
                }
                OutputFormat::Text => print!("{}", configs_table(&configs, d.all).render()),
            }
            Ok(())
        }
        ConfigCommand::Alter(a) => {
            let entity = entity(&a.entity)?;
            let ops = operations(&a)?;
            let request = alter_request(&entity, &ops, a.validate_only);
            let (response, _) = client
                .send_to_any::<IncrementalAlterConfigsRequest>(0..=1, |_| request.clone(), deadline)
                .await
                .map_err(|e| anyhow!("altering the configs of {entity}: {e}"))?;
            alter_result(&entity, &response)?;
            let note = if a.validate_only {
                " (validate only: not applied)"
            } else {
                ""
            };
            for (key, value) in &ops {
                match value {
                    Some(value) => println!("{entity}: {key} set to {value}{note}"),
                    None => println!("{entity}: {key} deleted{note}"),
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_config_values_split_outside_brackets() {
        let pairs = parse_add_config(&[
            "log.retention.ms=1000,log.cleanup.policy=[compact,delete]".to_string(),
            "message.max.bytes = 5".to_string(),
        ])
        .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("log.retention.ms".to_string(), "1000".to_string()),
                (
                    "log.cleanup.policy".to_string(),
                    "compact,delete".to_string()
                ),
                ("message.max.bytes".to_string(), "5".to_string()),
            ]
        );
        for bad in ["novalue", "=1", "a=[1,2", "a=1]"] {
            assert!(parse_add_config(&[bad.to_string()]).is_err(), "{bad}");
        }
        assert_eq!(
            parse_delete_config(&["a,b".to_string(), "c".to_string()]),
            vec!["a", "b", "c"]
        );
    }

    #[test]
    fn entities_in_both_spellings() {
        let args = |f: fn(&mut ConfigEntityArgs)| {
            let mut a = ConfigEntityArgs::default();
            f(&mut a);
            entity(&a)
        };
        assert_eq!(args(|a| a.broker = Some(1)).unwrap(), Entity::Broker(1));
        assert_eq!(
            args(|a| a.broker_defaults = true).unwrap(),
            Entity::BrokerDefaults
        );
        assert_eq!(
            args(|a| {
                a.entity_type = Some(EntityType::Brokers);
                a.entity_default = true;
            })
            .unwrap(),
            Entity::BrokerDefaults
        );
        assert_eq!(
            args(|a| {
                a.entity_type = Some(EntityType::Topics);
                a.entity_name = Some("t".into());
            })
            .unwrap(),
            Entity::Topic("t".into())
        );
        for bad in [
            args(|_| {}),
            args(|a| a.broker = Some(-1)),
            args(|a| {
                a.entity_type = Some(EntityType::Brokers);
                a.entity_name = Some("one".into());
            }),
            args(|a| {
                a.entity_type = Some(EntityType::Topics);
                a.entity_default = true;
            }),
            args(|a| a.entity_type = Some(EntityType::Brokers)),
        ] {
            assert!(bad.is_err());
        }
        assert_eq!(Entity::BrokerDefaults.resource_name(), "");
    }
}

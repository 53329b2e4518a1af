//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and brokers.
//!
//! A topic resource's configs are its overrides; a broker resource's are dynamic broker configs:
//! a broker's own (resource name = its node id) or the cluster-wide defaults (name `""`), see
//! `config::dynamic_config`. AlterConfigs replaces a resource's whole set; IncrementalAlterConfigs
//! applies SET, DELETE, APPEND and SUBTRACT operations to it. Changes are validated in full
//! before any is stored, and a resource's changes land together or not at all, through the
//! metadata log. DescribeConfigs of a broker answers for this broker or the cluster-wide
//! defaults only (another broker's id is INVALID_REQUEST, as in Kafka); an alteration may name
//! any broker id.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    alter_configs_response, incremental_alter_configs_response, AlterConfigsRequest,
    AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::TopicAdmin;
use crate::config::{
    check_dynamic_broker_configs, check_listener_changes, check_listener_stores, describe_broker,
    describe_cluster_defaults, resolve_topic_configs, topic_config_key, topic_key_by_synonym,
    BrokerConfigEntry, BrokerSettings, ConfigSource, ConfigType, DynamicConfigError,
};
use crate::replicas::{AdminError, ReplicaManager};

pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Why the principal may not do `operation` (DESCRIBE_CONFIGS, ALTER_CONFIGS) on the resource:
/// the topic's (TOPIC_AUTHORIZATION_FAILED) or, for a broker, the cluster's
/// (CLUSTER_AUTHORIZATION_FAILED).
fn refusal(
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    operation: AclOperation,
) -> Option<(ErrorCode, String)> {
    match resource_type {
        RESOURCE_TOPIC if !ctx.authorize_topic(operation, name) => Some((
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
            "Authorization failed.".into(),
        )),
        RESOURCE_BROKER if !ctx.authorize_cluster(operation) => Some((
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.".into(),
        )),
        _ => None,
    }
}

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

pub async fn describe(
    replicas: &ReplicaManager,
    settings: &BrokerSettings,
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let with_synonyms = request.include_synonyms;
    let with_docs = request.include_documentation;
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            if let Some((code, message)) = refusal(
                ctx,
                r.resource_type,
                r.resource_name.as_str(),
                AclOperation::DescribeConfigs,
            ) {
                return base.with_error_code(code.0).with_error_message(Some(s(message)));
            }
            let wanted = |name: &str| {
                // Kafka lists every key for a null or empty key list.
                r.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
            };
            match r.resource_type {
                RESOURCE_TOPIC => {
                    let Some(topic) = replicas.topic(r.resource_name.as_str()) else {
                        return base
                            .with_error_code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0)
                            .with_error_message(Some(s(format!("Topic {} does not exist.", r.resource_name.as_str()))));
                    };
                    let live = replicas.live_config();
                    let configs = resolve_topic_configs(&live.topic_defaults, &topic.configs)
                        .into_iter()
                        .filter(|c| wanted(c.key.name))
                        .map(|c| {
                            let mut synonyms = Vec::new();
                            if with_synonyms {
                                let syn = c.key.broker_synonym;
                                if let Some(v) = topic.configs.get(c.key.name) {
                                    synonyms.push(synonym(c.key.name, v, ConfigSource::TopicConfig));
                                }
                                // A key without a broker synonym has only its own value.
                                if syn.is_empty() {
                                    return entry(ctx, c.key.name, &c.value, c.source, c.key.kind, with_docs.then_some(c.key.doc))
                                        .with_synonyms(synonyms);
                                }
                                if let Some(v) = live.dynamic.broker.get(syn) {
                                    synonyms.push(synonym(syn, v, ConfigSource::DynamicBrokerConfig));
                                }
                                if let Some(v) = live.dynamic.cluster.get(syn) {
                                    synonyms.push(synonym(syn, v, ConfigSource::DynamicDefaultBrokerConfig));
                                }
                                if let Some(v) = settings.topic_defaults.get(syn) {
                                    synonyms.push(synonym(syn, v, ConfigSource::StaticBrokerConfig));
                                }
                                synonyms.push(synonym(syn, c.key.default, ConfigSource::DefaultConfig));
                            }
                            entry(ctx, c.key.name, &c.value, c.source, c.key.kind, with_docs.then_some(c.key.doc))
                                .with_synonyms(synonyms)
                        })
                        .collect();
                    base.with_error_code(0).with_configs(configs)
                }
                RESOURCE_BROKER => {
                    let name = r.resource_name.as_str();
                    if !name.is_empty() && name != settings.node_id.to_string() {
                        return base
                            .with_error_code(ErrorCode::INVALID_REQUEST.0)
                            .with_error_message(Some(s(format!("Unexpected broker id, expected {} or empty string, but received {name}", settings.node_id))));
                    }
                    let live = replicas.live_config();
                    let entries = if name.is_empty() {
                        describe_cluster_defaults(&live.dynamic.cluster)
                    } else {
                        describe_broker(settings, &live.dynamic)
                    };
                    let configs = entries
                        .into_iter()
                        .filter(|e| wanted(&e.name))
                        .map(|e| broker_entry(ctx, e, with_synonyms))
                        .collect();
                    base.with_error_code(0).with_configs(configs)
                }
                other => base
                    .with_error_code(ErrorCode::INVALID_REQUEST.0)
                    .with_error_message(Some(s(format!("Unsupported resource type {other}")))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn entry(
    ctx: &RequestContext,
    name: &str,
    value: &str,
    source: ConfigSource,
    kind: ConfigType,
    doc: Option<&str>,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
        .with_read_only(false)
        .with_config_source(source as i8)
        .with_is_sensitive(false)
        .with_config_type(if ctx.api_version >= 3 { kind as i8 } else { 0 })
        .with_documentation(if ctx.api_version >= 3 {
            doc.map(s)
        } else {
            None
        })
}

/// A broker config's entry; a secret is reported as sensitive, without its value.
fn broker_entry(
    ctx: &RequestContext,
    e: BrokerConfigEntry,
    with_synonyms: bool,
) -> DescribeConfigsResourceResult {
    let synonyms = if with_synonyms {
        e.synonyms
            .into_iter()
            .map(|syn| {
                DescribeConfigsSynonym::default()
                    .with_name(s(syn.name))
                    .with_value(syn.value.map(s))
                    .with_source(syn.source as i8)
            })
            .collect()
    } else {
        Vec::new()
    };
    entry(ctx, &e.name, "", e.source, e.kind, None)
        .with_value(e.value.map(s))
        .with_read_only(e.read_only)
        .with_is_sensitive(e.sensitive)
        .with_synonyms(synonyms)
}

fn synonym(name: &str, value: &str, source: ConfigSource) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
        .with_source(source as i8)
}

/// The resource an alteration changes, with the configs it has now.
enum Target {
    Topic(String),
    /// A broker's dynamic configs (`Some(id)`), or the cluster-wide defaults (`None`).
    Broker(Option<i32>),
}

impl Target {
    /// Checks that `name` is a key of this kind of resource (INVALID_CONFIG otherwise).
    fn known(&self, name: &str) -> Result<(), AdminError> {
        match self {
            Target::Topic(_) if topic_config_key(name).is_none() => Err(AdminError::new(
                ErrorCode::INVALID_CONFIG,
                format!("Unknown topic config name: {name}"),
            )),
            Target::Broker(_) => {
                // The one check of key names for brokers; values are checked by `checked`.
                check_dynamic_broker_configs(&[(name, "")], true)
                    .or_else(|e| match e {
                        DynamicConfigError::UnknownKey(_) => Err(e),
                        DynamicConfigError::Invalid(_) => Ok(()),
                    })
                    .map_err(refused)
            }
            Target::Topic(_) => Ok(()),
        }
    }

    /// Whether `name` is a list key (APPEND and SUBTRACT apply to lists only).
    fn is_list(&self, name: &str) -> bool {
        let kind = match self {
            Target::Topic(_) => topic_config_key(name).map(|k| k.kind),
            Target::Broker(_) => topic_key_by_synonym(name).map(|k| k.kind),
        };
        kind == Some(ConfigType::List)
    }
}

/// A new SASL listener's mechanisms must be usable (their JAAS configs parse, OAUTHBEARER's
/// validator is set up), as at startup.
fn check_new_sasl_listeners(
    settings: &BrokerSettings,
    listeners: &[crate::config::ListenerSettings],
) -> Result<(), DynamicConfigError> {
    for l in listeners.iter().filter(|l| l.protocol.uses_sasl()) {
        if settings.listeners.iter().any(|s| s.name() == l.name()) {
            continue;
        }
        super::SaslAuthenticator::new(l, [0u8; 32], std::time::Duration::ZERO)
            .map_err(DynamicConfigError::Invalid)?;
    }
    Ok(())
}

/// A refused broker alteration's Kafka error.
fn refused(e: DynamicConfigError) -> AdminError {
    match e {
        DynamicConfigError::UnknownKey(m) => AdminError::new(ErrorCode::INVALID_CONFIG, m),
        DynamicConfigError::Invalid(m) => AdminError::new(ErrorCode::INVALID_REQUEST, m),
    }
}

/// The target of an alteration of resource `resource_type` `name`, and its configs now.
fn target(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    resource_type: i8,
    name: &str,
) -> Result<(Target, BTreeMap<String, String>), AdminError> {
    match resource_type {
        RESOURCE_TOPIC => {
            let Some(topic) = replicas.topic(name) else {
                return Err(AdminError::new(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("Topic {name} does not exist."),
                ));
            };
            Ok((Target::Topic(name.to_string()), topic.configs.clone()))
        }
        RESOURCE_BROKER => {
            let id = if name.is_empty() {
                None
            } else {
                match name.parse::<i32>() {
                    Ok(id) if id >= 0 => Some(id),
                    _ => {
                        return Err(AdminError::new(
                            ErrorCode::INVALID_REQUEST,
                            format!("Invalid broker name {name}"),
                        ))
                    }
                }
            };
            Ok((Target::Broker(id), admin.broker_configs(id)))
        }
        other => Err(AdminError::new(
            ErrorCode::INVALID_REQUEST,
            format!("Unsupported resource type {other}"),
        )),
    }
}

/// Applies `change` to the resource's configs, checks the result and stores it through the
/// controller (unless `validate_only`).
async fn alter_resource(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    resource_type: i8,
    name: &str,
    validate_only: bool,
    change: impl FnOnce(&Target, &mut BTreeMap<String, String>) -> Result<(), AdminError>,
) -> Result<(), AdminError> {
    let (target, current) = target(replicas, admin, resource_type, name)?;
    let mut configs = current.clone();
    change(&target, &mut configs)?;
    match target {
        Target::Topic(topic) => {
            admin
                .set_topic_configs(&topic, configs, validate_only)
                .await
        }
        Target::Broker(id) => {
            // Only what the alteration sets is checked: values stored earlier stay.
            let sets: Vec<(&str, &str)> = configs
                .iter()
                .filter(|(k, v)| current.get(*k) != Some(*v))
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            check_dynamic_broker_configs(&sets, id.is_some()).map_err(refused)?;
            let settings = replicas.settings().clone();
            if id == Some(settings.node_id) {
                // This broker's own key stores: loaded and checked here, as Kafka does, so a
                // store that would not load is refused instead of stored. (Another broker's are
                // checked by it when they arrive; one that does not load leaves it serving the
                // stores it has, with a warning.)
                let (current, new) = (current.clone(), configs.clone());
                tokio::task::spawn_blocking(move || {
                    let listeners = check_listener_changes(&settings, &current, &new)?;
                    check_new_sasl_listeners(&settings, &listeners)?;
                    check_listener_stores(&settings, &listeners, &current, &new)
                })
                .await
                .map_err(|e| AdminError::new(ErrorCode::UNKNOWN_SERVER_ERROR, e.to_string()))?
                .map_err(refused)?;
            }
            admin.set_broker_configs(id, configs, validate_only).await
        }
    }
}

pub async fn alter(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        if let Some((code, message)) = refusal(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            AclOperation::AlterConfigs,
        ) {
            responses.push(
                alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_error_code(code.0)
                    .with_error_message(Some(s(message)))
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name),
            );
            continue;
        }
        let outcome = alter_resource(
            replicas,
            admin,
            r.resource_type,
            r.resource_name.as_str(),
            request.validate_only,
            |target, configs| {
                // AlterConfigs replaces the whole set of overrides.
                configs.clear();
                for c in &r.configs {
                    target.known(c.name.as_str())?;
                    match &c.value {
                        Some(v) => {
                            configs.insert(c.name.to_string(), v.to_string());
                        }
                        None => {
                            return Err(AdminError::new(
                                ErrorCode::INVALID_CONFIG,
                                format!("Null value not supported for {}", c.name.as_str()),
                            ));
                        }
                    }
                }
                Ok(())
            },
        )
        .await;
        let (code, message) = split(outcome);
        responses.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental_alter(
    replicas: &ReplicaManager,
    admin: &TopicAdmin,
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        if let Some((code, message)) = refusal(
            ctx,
            r.resource_type,
            r.resource_name.as_str(),
            AclOperation::AlterConfigs,
        ) {
            responses.push(
                incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                    .with_error_code(code.0)
                    .with_error_message(Some(s(message)))
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name),
            );
            continue;
        }
        let outcome = alter_resource(
            replicas,
            admin,
            r.resource_type,
            r.resource_name.as_str(),
            request.validate_only,
            |target, configs| {
                let mut seen = std::collections::HashSet::new();
                for c in &r.configs {
                    let name = c.name.as_str();
                    target.known(name)?;
                    if !seen.insert(name.to_string()) {
                        return Err(AdminError::new(
                            ErrorCode::INVALID_REQUEST,
                            format!("Error due to duplicate config keys: {name}"),
                        ));
                    }
                    let value = c.value.as_ref().map(|v| v.to_string());
                    let is_list = target.is_list(name);
                    match c.config_operation {
                        OP_SET => {
                            let Some(v) = value else {
                                return Err(AdminError::new(
                                    ErrorCode::INVALID_REQUEST,
                                    format!("Null value not supported for {name}"),
                                ));
                            };
                            configs.insert(name.to_string(), v);
                        }
                        OP_DELETE => {
                            configs.remove(name);
                        }
                        OP_APPEND | OP_SUBTRACT => {
                            if !is_list {
                                return Err(AdminError::new(ErrorCode::INVALID_CONFIG, format!("Config value append/subtract is not allowed for config key {name} which is not a list")));
                            }
                            let current = match target {
                                Target::Topic(_) => crate::config::effective(
                                    &replicas.topic_defaults(),
                                    configs,
                                    name,
                                ),
                                // The resource's own value, else the key's default.
                                Target::Broker(_) => configs.get(name).cloned().unwrap_or_else(|| {
                                    topic_key_by_synonym(name)
                                        .map(|k| k.default.to_string())
                                        .unwrap_or_default()
                                }),
                            };
                            let mut items: Vec<String> = current
                                .split(',')
                                .map(|x| x.trim().to_string())
                                .filter(|x| !x.is_empty())
                                .collect();
                            let given: Vec<String> = value
                                .unwrap_or_default()
                                .split(',')
                                .map(|x| x.trim().to_string())
                                .filter(|x| !x.is_empty())
                                .collect();
                            if c.config_operation == OP_APPEND {
                                for g in given {
                                    if !items.contains(&g) {
                                        items.push(g);
                                    }
                                }
                            } else {
                                items.retain(|i| !given.contains(i));
                            }
                            configs.insert(name.to_string(), items.join(","));
                        }
                        other => {
                            return Err(AdminError::new(
                                ErrorCode::INVALID_REQUEST,
                                format!("Unknown config operation {other}"),
                            ));
                        }
                    }
                }
                Ok(())
            },
        )
        .await;
        let (code, message) = split(outcome);
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(message)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name),
        );
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn split(outcome: Result<(), AdminError>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err(e) => (e.code.0, Some(s(e.message))),
    }
}

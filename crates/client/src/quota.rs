//! `sluice quota describe|alter`: client quotas (KIP-546's DescribeClientQuotas and
//! AlterClientQuotas, v0-1), what `kafka-configs.sh --entity-type users|clients --describe` and
//! `--alter --add-config/--delete-config` do.
//!
//! An entity is a user (`--user alice`, or `--user-default` for `<default>`, every user
//! without an entity of its own), a client id (`--client-id`, `--client-id-default`), or both
//! together; it is written in the path form of Kafka's documentation, `/users/alice/clients/app`.
//!
//! - `describe` sends the entity flags given as a filter: a name is an EXACT match, a default
//!   a DEFAULT match, and a type left out is not constrained; without `--strict` an entity may
//!   also have the other types. No flag lists every entity.
//! - `alter` changes one entity: `--add key=value` sets a config, `--delete key` removes it,
//!   all in one entry that the broker applies whole or not at all (`--validate-only`: checked,
//!   not applied). Keys and values are checked here first with the broker's own rules
//!   (`sluice_security::quota`): the keys of user and client-id entities (producer_byte_rate,
//!   consumer_byte_rate, request_percentage, controller_mutation_rate), a value above zero,
//!   whole numbers for the byte rates, no key twice.
//!
//! Both go to any broker (a KRaft broker forwards alterations to the controller).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_security::quota::{
    QuotaEntity, QuotaEntityType, QuotaFilter, QuotaFilterComponent, QuotaKey, QuotaStore,
};

use crate::client_settings::{ClientSettings, Role};
use crate::cluster::OutputFormat;
use crate::connect_args::{parse_key_value, ConnectArgs};
use crate::table::Table;
use crate::wire::{ClusterClient, RequestError};

/// How long the command may spend on its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Both APIs have v0 and v1 (v1 is flexible).
pub const VERSIONS: std::ops::RangeInclusive<i16> = 0..=1;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: QuotaCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum QuotaCommand {
    /// Show the quotas of the entities a filter selects (all of them without flags).
    Describe(QuotaDescribeArgs),
    /// Set and delete quota configs of one entity.
    Alter(QuotaAlterArgs),
}

/// The entity flags: a user or the default user, and/or a client id or the default one.
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
#[group(skip)]
pub struct EntityArgs {
    /// A user, by the name of its principal (alice for User:alice).
    #[arg(long, value_name = "USER", conflicts_with = "user_default")]
    pub user: Option<String>,
    /// The default user (`<default>`): every user without quotas of its own.
    #[arg(long = "user-default")]
    pub user_default: bool,
    /// A client id.
    #[arg(
        long = "client-id",
        value_name = "CLIENT_ID",
        conflicts_with = "client_id_default"
    )]
    pub client_id: Option<String>,
    /// The default client id (`<default>`): every client id without quotas of its own.
    #[arg(long = "client-id-default")]
    pub client_id_default: bool,
    /// A client address (its only quota: connection_creation_rate, KIP-612).
    #[arg(
        long,
        value_name = "ADDRESS",
        conflicts_with_all = ["ip_default", "user", "user_default", "client_id", "client_id_default"]
    )]
    pub ip: Option<std::net::IpAddr>,
    /// The default address (`<default>`): every address without a quota of its own.
    #[arg(
        long = "ip-default",
        conflicts_with_all = ["user", "user_default", "client_id", "client_id_default"]
    )]
    pub ip_default: bool,
}

/// `None`: the flags leave the type out; `Some(None)`: its default; `Some(Some(name))`.
type EntityName = Option<Option<String>>;

impl EntityArgs {
    fn user(&self) -> EntityName {
        name_of(&self.user, self.user_default)
    }

    fn client_id(&self) -> EntityName {
        name_of(&self.client_id, self.client_id_default)
    }

    fn ip(&self) -> EntityName {
        name_of(&self.ip.map(|ip| ip.to_string()), self.ip_default)
    }

    fn is_empty(&self) -> bool {
        self.user().is_none() && self.client_id().is_none() && self.ip().is_none()
    }
}

fn name_of(name: &Option<String>, default: bool) -> EntityName {
    match (name, default) {
        (Some(name), _) => Some(Some(name.clone())),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct QuotaDescribeArgs {
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Only entities with no other types than the flags name (`--user alice --strict`: not
    /// alice's user + client-id entities).
    #[arg(long)]
    pub strict: bool,
    /// `table` (or `text`) for people, `json` (one array of entities) for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(
    ArgGroup::new("entity")
        .args(["user", "user_default", "client_id", "client_id_default", "ip", "ip_default"])
        .required(true)
        .multiple(true)
))]
#[command(group(ArgGroup::new("change").args(["add", "delete"]).required(true).multiple(true)))]
pub struct QuotaAlterArgs {
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Set a quota config KEY=VALUE (repeatable), e.g. producer_byte_rate=1048576.
    #[arg(
        long = "add",
        visible_alias = "add-config",
        value_name = "KEY=VALUE",
        value_parser = parse_key_value
    )]
    pub add: Vec<(String, String)>,
    /// Remove a quota config (repeatable), back to the next entity that applies.
    #[arg(long = "delete", visible_alias = "delete-config", value_name = "KEY")]
    pub delete: Vec<String>,
    /// Have the broker check the change without applying it.
    #[arg(long = "validate-only")]
    pub validate_only: bool,
}

/// The entity of the flags (at least one type).
pub fn entity(args: &EntityArgs) -> Result<QuotaEntity> {
    if let Some(ip) = args.ip() {
        let ip = ip.map(|ip| ip.parse()).transpose()?;
        return Ok(QuotaEntity::ip(ip));
    }
    let entity = match (args.user(), args.client_id()) {
        (Some(user), Some(client_id)) => {
            QuotaEntity::user_client_id(user.as_deref(), client_id.as_deref())
        }
        (Some(user), None) => QuotaEntity::user(user.as_deref()),
        (None, Some(client_id)) => QuotaEntity::client_id(client_id.as_deref()),
        (None, None) => bail!(
            "name the entity: --user USER or --user-default, and/or --client-id CLIENT_ID or \
             --client-id-default; or --ip ADDRESS or --ip-default"
        ),
    };
    // The constructors trust their names; the checks of a request's entity (no empty name).
    QuotaEntity::try_from(Vec::from(entity)).map_err(|e| anyhow!("{e}"))
}

/// The changes of `alter`: each key with its new value, or `None` to delete it. Checked as
/// the broker checks them, and a key to delete must be one the entity can have.
pub fn changes(
    entity: &QuotaEntity,
    args: &QuotaAlterArgs,
) -> Result<Vec<(QuotaKey, Option<f64>)>> {
    let mut values = Vec::with_capacity(args.add.len());
    for (key, value) in &args.add {
        let number: f64 = value
            .trim()
            .parse()
            .map_err(|_| anyhow!("--add {key}={value}: '{value}' is not a number"))?;
        values.push((key.as_str(), Some(number)));
    }
    for key in &args.delete {
        if !QuotaKey::from_name(key).is_some_and(|k| k.applies_to(entity)) {
            bail!(
                "--delete {key}: not a quota config of {entity} ({})",
                keys_of(entity)
            );
        }
        values.push((key.as_str(), None));
    }
    QuotaStore::new()
        .validate_alteration(entity, &values)
        .map_err(|e| anyhow!("{entity}: {e} (the configs are {})", keys_of(entity)))
}

/// The quota keys that apply to `entity`, comma-separated (for messages).
pub fn keys_of(entity: &QuotaEntity) -> String {
    QuotaKey::ALL
        .iter()
        .filter(|k| k.applies_to(entity))
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The DescribeClientQuotas filter of the flags.
pub fn filter(args: &QuotaDescribeArgs) -> Result<QuotaFilter> {
    if args.strict && args.entity.is_empty() {
        bail!(
            "--strict selects entities with exactly the types named: name --user or \
             --client-id (or their defaults)"
        );
    }
    let mut components = Vec::new();
    for (entity_type, name) in [
        (QuotaEntityType::User, args.entity.user()),
        (QuotaEntityType::ClientId, args.entity.client_id()),
        (QuotaEntityType::Ip, args.entity.ip()),
    ] {
        match name {
            Some(Some(name)) => components.push(QuotaFilterComponent::exact(entity_type, &name)),
            Some(None) => components.push(QuotaFilterComponent::default_entity(entity_type)),
            None => {}
        }
    }
    Ok(QuotaFilter::new(components, args.strict))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub fn describe_request(filter: &QuotaFilter) -> DescribeClientQuotasRequest {
    DescribeClientQuotasRequest::default()
        .with_components(
            filter
                .components
                .iter()
                .map(|c| {
                    ComponentData::default()
                        .with_entity_type(text(&c.entity_type))
                        .with_match_type(c.match_type)
                        .with_match(c.match_name.as_deref().map(text))
                })
                .collect(),
        )
        .with_strict(filter.strict)
}

pub fn alter_request(
    entity: &QuotaEntity,
    changes: &[(QuotaKey, Option<f64>)],
    validate_only: bool,
) -> AlterClientQuotasRequest {
    let entity_data = entity
        .components()
        .iter()
        .map(|(entity_type, name)| {
            EntityData::default()
                .with_entity_type(text(entity_type.name()))
                .with_entity_name(name.as_deref().map(text))
        })
        .collect();
    let ops = changes
        .iter()
        .map(|(key, value)| {
            OpData::default()
                .with_key(text(key.name()))
                .with_value(value.unwrap_or(0.0))
                .with_remove(value.is_none())
        })
        .collect();
    AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default()
            .with_entity(entity_data)
            .with_ops(ops)])
        .with_validate_only(validate_only)
}

/// One described entity: its components as the broker sent them, and its values by key.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedEntity {
    pub components: Vec<(String, Option<String>)>,
    pub values: Vec<(String, f64)>,
}

impl DescribedEntity {
    /// The path form, `/users/alice/clients/<default>`; a type this client does not know is
    /// shown by its wire name.
    pub fn path(&self) -> String {
        let parsed = QuotaEntity::parse(
            self.components
                .iter()
                .map(|(t, name)| (t.as_str(), name.as_deref())),
        );
        if let Ok(entity) = parsed {
            return entity.to_string();
        }
        self.components
            .iter()
            .map(|(t, name)| format!("/{t}/{}", name.as_deref().unwrap_or("<default>")))
            .collect()
    }
}

/// The entities of a DescribeClientQuotas answer, sorted by path, or its error.
pub fn described_entities(
    response: &DescribeClientQuotasResponse,
) -> Result<Vec<DescribedEntity>, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "describing quotas",
            response.error_message.as_deref(),
        ));
    }
    let mut entities: Vec<DescribedEntity> = response
        .entries
        .iter()
        .flatten()
        .map(|entry| {
            let mut values: Vec<(String, f64)> = entry
                .values
                .iter()
                .map(|v| (v.key.to_string(), v.value))
                .collect();
            values.sort_by(|a, b| a.0.cmp(&b.0));
            DescribedEntity {
                components: entry
                    .entity
                    .iter()
                    .map(|c| {
                        (
                            c.entity_type.to_string(),
                            c.entity_name.as_ref().map(|n| n.to_string()),
                        )
                    })
                    .collect(),
                values,
            }
        })
        .collect();
    entities.sort_by_cached_key(DescribedEntity::path);
    Ok(entities)
}

pub fn entities_table(entities: &[DescribedEntity]) -> Table {
    let mut table = Table::new(&["ENTITY", "CONFIG", "VALUE"]);
    for entity in entities {
        let path = entity.path();
        for (key, value) in &entity.values {
            table.push(vec![path.clone(), key.clone(), value.to_string()]);
        }
    }
    table
}

/// `[{"entity":{"user":"alice","client-id":null},"values":{"producer_byte_rate":1048576.0}}]`:
/// a default entity's name is null, as on the wire.
pub fn entities_json(entities: &[DescribedEntity]) -> Result<String> {
    let rows: Vec<serde_json::Value> = entities
        .iter()
        .map(|entity| {
            let components: serde_json::Map<String, serde_json::Value> = entity
                .components
                .iter()
                .map(|(t, name)| (t.clone(), serde_json::json!(name)))
                .collect();
            let values: serde_json::Map<String, serde_json::Value> = entity
                .values
                .iter()
                .map(|(key, value)| (key.clone(), serde_json::json!(value)))
                .collect();
            serde_json::json!({ "entity": components, "values": values })
        })
        .collect();
    Ok(serde_json::to_string(&rows)?)
}

/// The error of an AlterClientQuotas answer, if any.
pub fn alter_result(
    entity: &QuotaEntity,
    response: &AlterClientQuotasResponse,
) -> Result<(), RequestError> {
    let Some(entry) = response.entries.first() else {
        return Err(RequestError::Unsupported(format!(
            "altering the quotas of {entity}: the broker answered no result"
        )));
    };
    if entry.error_code != 0 {
        return Err(RequestError::broker(
            entry.error_code,
            &format!("altering the quotas of {entity}"),
            entry.error_message.as_deref(),
        ));
    }
    Ok(())
}

/// What `alter` prints: one line per change.
pub fn change_lines(
    entity: &QuotaEntity,
    changes: &[(QuotaKey, Option<f64>)],
    validate_only: bool,
) -> Vec<String> {
    let note = if validate_only {
        " (validate only: not applied)"
    } else {
        ""
    };
    changes
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{entity}: {key} set to {value}{note}"),
            None => format!("{entity}: {key} deleted{note}"),
        })
        .collect()
}

/// A client for the cluster of `connect`, after the warnings about its settings.
fn connect(connect: &ConnectArgs) -> Result<ClusterClient> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    Ok(ClusterClient::new(&settings))
}

pub async fn run(args: QuotaArgs) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    // In each command the arguments are checked before any connection.
    match args.command {
        QuotaCommand::Describe(describe) => {
            let quota_filter = filter(&describe)?;
            let mut client = connect(&args.connect)?;
            let (response, _) = client
                .send_to_any::<DescribeClientQuotasRequest>(
                    VERSIONS,
                    |_| describe_request(&quota_filter),
                    deadline,
                )
                .await
                .map_err(|e| anyhow!("describing quotas: {e}"))?;
            let entities = described_entities(&response)?;
            match describe.output {
                OutputFormat::Text => print!("{}", entities_table(&entities).render()),
                OutputFormat::Json => println!("{}", entities_json(&entities)?),
            }
            Ok(())
        }
        QuotaCommand::Alter(alter) => {
            let entity = entity(&alter.entity)?;
            let changes = changes(&entity, &alter)?;
            let mut client = connect(&args.connect)?;
            let (response, _) = client
                .send_to_any::<AlterClientQuotasRequest>(
                    VERSIONS,
                    |_| alter_request(&entity, &changes, alter.validate_only),
                    deadline,
                )
                .await
                .map_err(|e| anyhow!("altering the quotas of {entity}: {e}"))?;
            alter_result(&entity, &response)?;
            for line in change_lines(&entity, &changes, alter.validate_only) {
                println!("{line}");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::alter_client_quotas_response;
    use kafka_protocol::messages::describe_client_quotas_response::{
        EntityData as DescribedEntityData, EntryData as DescribedEntry, ValueData,
    };
    use sluice_security::quota::{MATCH_TYPE_DEFAULT, MATCH_TYPE_EXACT};

    use super::*;

    fn entity_args(
        user: Option<&str>,
        user_default: bool,
        client_id: Option<&str>,
        client_id_default: bool,
    ) -> EntityArgs {
        EntityArgs {
            user: user.map(str::to_string),
            user_default,
            client_id: client_id.map(str::to_string),
            client_id_default,
            ..EntityArgs::default()
        }
    }

    fn alter_args(entity: EntityArgs, add: &[(&str, &str)], delete: &[&str]) -> QuotaAlterArgs {
        QuotaAlterArgs {
            entity,
            add: add
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            delete: delete.iter().map(|k| k.to_string()).collect(),
            validate_only: false,
        }
    }

    fn describe_args(entity: EntityArgs, strict: bool) -> QuotaDescribeArgs {
        QuotaDescribeArgs {
            entity,
            strict,
            output: OutputFormat::Text,
        }
    }

    #[test]
    fn entities_of_the_flags() {
        let cases = [
            (
                entity_args(Some("alice"), false, None, false),
                "/users/alice",
            ),
            (entity_args(None, true, None, false), "/users/<default>"),
            (entity_args(None, false, Some("app"), false), "/clients/app"),
            (entity_args(None, false, None, true), "/clients/<default>"),
            (
                entity_args(Some("alice"), false, None, true),
                "/users/alice/clients/<default>",
            ),
            (
                entity_args(None, true, Some("app"), false),
                "/users/<default>/clients/app",
            ),
        ];
        for (args, path) in cases {
            assert_eq!(entity(&args).expect("valid").to_string(), path);
        }
        let ip = EntityArgs {
            ip: Some("127.0.0.2".parse().unwrap()),
            ..EntityArgs::default()
        };
        assert_eq!(entity(&ip).expect("valid").to_string(), "/ips/127.0.0.2");
        let ip_default = EntityArgs {
            ip_default: true,
            ..EntityArgs::default()
        };
        assert_eq!(
            entity(&ip_default).expect("valid").to_string(),
            "/ips/<default>"
        );
        // An address's only quota.
        let e = changes(
            &entity(&ip).unwrap(),
            &alter_args(ip.clone(), &[("producer_byte_rate", "5")], &[]),
        )
        .expect_err("not an ip quota");
        assert!(e.to_string().contains("connection_creation_rate"), "{e}");
        changes(
            &entity(&ip).unwrap(),
            &alter_args(ip, &[("connection_creation_rate", "5")], &[]),
        )
        .expect("an ip quota");
        assert!(entity(&EntityArgs::default())
            .expect_err("no entity")
            .to_string()
            .starts_with("name the entity: "));
        assert_eq!(
            entity(&entity_args(Some(""), false, None, false))
                .expect_err("empty")
                .to_string(),
            "Empty user not supported"
        );
    }

    #[test]
    fn alter_request_sets_and_removes() {
        let args = alter_args(
            entity_args(Some("alice"), false, None, true),
            &[
                ("producer_byte_rate", "1048576"),
                ("request_percentage", "12.5"),
            ],
            &["consumer_byte_rate"],
        );
        let quota_entity = entity(&args.entity).expect("valid");
        let changes = changes(&quota_entity, &args).expect("valid");
        assert_eq!(
            changes,
            [
                (QuotaKey::ProducerByteRate, Some(1_048_576.0)),
                (QuotaKey::RequestPercentage, Some(12.5)),
                (QuotaKey::ConsumerByteRate, None),
            ]
        );
        let request = alter_request(&quota_entity, &changes, true);
        assert!(request.validate_only);
        let entry = &request.entries[0];
        assert_eq!(
            entry
                .entity
                .iter()
                .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref()))
                .collect::<Vec<_>>(),
            [("user", Some("alice")), ("client-id", None)]
        );
        assert_eq!(
            entry
                .ops
                .iter()
                .map(|o| (o.key.as_str(), o.value, o.remove))
                .collect::<Vec<_>>(),
            [
                ("producer_byte_rate", 1_048_576.0, false),
                ("request_percentage", 12.5, false),
                ("consumer_byte_rate", 0.0, true),
            ]
        );
        assert_eq!(
            change_lines(&quota_entity, &changes[..1], false),
            ["/users/alice/clients/<default>: producer_byte_rate set to 1048576"]
        );
        assert_eq!(
            change_lines(&quota_entity, &changes[2..], true),
            [
                "/users/alice/clients/<default>: consumer_byte_rate deleted (validate only: not \
              applied)"
            ]
        );
    }

    #[test]
    fn bad_changes_are_refused_before_sending() {
        let user = entity_args(Some("alice"), false, None, false);
        let refusal = |add: &[(&str, &str)], delete: &[&str]| {
            let args = alter_args(user.clone(), add, delete);
            let quota_entity = entity(&args.entity).expect("valid");
            changes(&quota_entity, &args)
                .expect_err("refused")
                .to_string()
        };
        assert_eq!(
            refusal(&[("producer_byte_rate", "fast")], &[]),
            "--add producer_byte_rate=fast: 'fast' is not a number"
        );
        assert_eq!(
            refusal(&[("producer_byte_rate", "0")], &[]),
            "/users/alice: Quota producer_byte_rate must be greater than 0, not 0 (the configs \
             are producer_byte_rate, consumer_byte_rate, request_percentage, \
             controller_mutation_rate)"
        );
        assert!(refusal(&[("producer_byte_rate", "1.5")], &[])
            .starts_with("/users/alice: Configuration producer_byte_rate must be a Long value"));
        assert!(refusal(&[("retention.ms", "1")], &[])
            .starts_with("/users/alice: Invalid configuration key retention.ms"));
        assert!(
            refusal(&[("producer_byte_rate", "1")], &["producer_byte_rate"])
                .starts_with("/users/alice: Duplicate quota key producer_byte_rate")
        );
        assert_eq!(
            refusal(&[], &["connection_creation_rate"]),
            "--delete connection_creation_rate: not a quota config of /users/alice \
             (producer_byte_rate, consumer_byte_rate, request_percentage, \
             controller_mutation_rate)"
        );
    }

    #[test]
    fn describe_filters_match_names_exactly_and_defaults_by_type() {
        let all = filter(&describe_args(EntityArgs::default(), false)).expect("valid");
        assert_eq!(all, QuotaFilter::new(vec![], false));
        let request = describe_request(&all);
        assert!(request.components.is_empty());
        assert!(!request.strict);

        let args = describe_args(entity_args(Some("alice"), false, None, true), true);
        let request = describe_request(&filter(&args).expect("valid"));
        assert!(request.strict);
        assert_eq!(
            request
                .components
                .iter()
                .map(|c| (c.entity_type.as_str(), c.match_type, c._match.as_deref()))
                .collect::<Vec<_>>(),
            [
                ("user", MATCH_TYPE_EXACT, Some("alice")),
                ("client-id", MATCH_TYPE_DEFAULT, None)
            ]
        );
        assert!(filter(&describe_args(EntityArgs::default(), true))
            .expect_err("strict without an entity")
            .to_string()
            .starts_with("--strict selects entities"));
    }

    fn described(components: &[(&str, Option<&str>)], values: &[(&str, f64)]) -> DescribedEntry {
        DescribedEntry::default()
            .with_entity(
                components
                    .iter()
                    .map(|(t, name)| {
                        DescribedEntityData::default()
                            .with_entity_type(text(t))
                            .with_entity_name(name.map(text))
                    })
                    .collect(),
            )
            .with_values(
                values
                    .iter()
                    .map(|(k, v)| ValueData::default().with_key(text(k)).with_value(*v))
                    .collect(),
            )
    }

    #[test]
    fn described_entities_print_as_table_and_json() {
        let response = DescribeClientQuotasResponse::default().with_entries(Some(vec![
            described(
                &[("user", Some("alice")), ("client-id", None)],
                &[("producer_byte_rate", 1_048_576.0)],
            ),
            described(
                &[("user", None)],
                &[("request_percentage", 12.5), ("consumer_byte_rate", 2048.0)],
            ),
            described(&[("group", Some("g"))], &[("x", 1.0)]),
        ]));
        let entities = described_entities(&response).expect("no error");
        assert_eq!(
            entities_table(&entities).render(),
            "ENTITY                          CONFIG              VALUE\n\
             /group/g                        x                   1\n\
             /users/<default>                consumer_byte_rate  2048\n\
             /users/<default>                request_percentage  12.5\n\
             /users/alice/clients/<default>  producer_byte_rate  1048576\n"
        );
        assert_eq!(
            entities_json(&entities[2..]).expect("json"),
            r#"[{"entity":{"client-id":null,"user":"alice"},"values":{"producer_byte_rate":1048576.0}}]"#
        );
        assert_eq!(
            described_entities(&DescribeClientQuotasResponse::default()).expect("empty"),
            []
        );

        let refused = DescribeClientQuotasResponse::default()
            .with_error_code(42)
            .with_error_message(Some(text("Entity type user cannot appear more than once")));
        assert_eq!(
            described_entities(&refused)
                .expect_err("refused")
                .to_string(),
            "describing quotas: Broker: Invalid request (INVALID_REQUEST): Entity type user \
             cannot appear more than once"
        );
    }

    #[test]
    fn alter_errors_name_the_entity_and_kafkas_error() {
        let quota_entity = QuotaEntity::user(Some("alice"));
        let ok = AlterClientQuotasResponse::default()
            .with_entries(vec![alter_client_quotas_response::EntryData::default()]);
        assert!(alter_result(&quota_entity, &ok).is_ok());
        let refused = AlterClientQuotasResponse::default().with_entries(vec![
            alter_client_quotas_response::EntryData::default()
                .with_error_code(31)
                .with_error_message(Some(text("Cluster authorization failed."))),
        ]);
        assert_eq!(
            alter_result(&quota_entity, &refused)
                .expect_err("refused")
                .to_string(),
            "altering the quotas of /users/alice: Broker: Cluster authorization failed \
             (CLUSTER_AUTHORIZATION_FAILED): Cluster authorization failed."
        );
        assert!(alter_result(&quota_entity, &AlterClientQuotasResponse::default()).is_err());
    }
}

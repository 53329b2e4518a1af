//! `sluice acl create|list|delete`: the cluster's ACL bindings (CreateAcls, DescribeAcls,
//! DeleteAcls v1-3, KIP-140 and KIP-290), with the flags of Kafka's `kafka-acls.sh`.
//!
//! An ACL says that a principal is ALLOWed (or DENYed) an operation from a host on the
//! resources a pattern names (`sluice_security::acl` has the rules). On the command line:
//! - `create` takes principals (`--principal`, ALLOW unless `--deny`; `--allow-principal` and
//!   `--deny-principal` as kafka-acls has them), operations, hosts (default `*`) and exactly
//!   one resource (`--topic`, `--group`, `--transactional-id`, `--cluster`, `--user`,
//!   `--delegation-token`) with `--resource-pattern-type literal|prefixed`, and creates every
//!   combination in one CreateAcls.
//! - `list` and `delete` take the same flags as a filter: a flag left out matches everything
//!   (ANY), several values of one flag make several filters (their union). The pattern type
//!   may also be `any` (any pattern type, the name compared exactly) or `match` (every binding
//!   that applies to a resource of that name); it defaults to `literal` when a resource is
//!   named, as in kafka-acls, and to `any` when none is.
//!
//! `delete` deletes nothing unasked: with `--force` it sends the filters; otherwise, on a
//! terminal, it lists what the filters match, asks, and deletes exactly the bindings shown
//! (one filter per binding, so a binding created meanwhile is left alone); without a terminal
//! it refuses. A filter naming neither a resource nor a principal is refused: it would delete
//! every ACL of the cluster.
//!
//! Requests go to any broker (each serves them through the controller); bindings are not
//! checked here beyond what their flags parse, so that the broker's refusal, with Kafka's error
//! name and message, is what the user sees. Version 0 (before Kafka 2.0) is not spoken: it has
//! no pattern types.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;
use sluice_security::acl::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
    CLUSTER_RESOURCE_NAME, WILDCARD_HOST,
};
use sluice_security::KafkaPrincipal;

use crate::client_settings::{ClientSettings, Role};
use crate::cluster::OutputFormat;
use crate::connect_args::ConnectArgs;
use crate::table::Table;
use crate::wire::{ClusterClient, RequestError};

/// How long each phase of a command may spend on its requests (a delete's question to the
/// user is not counted).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The versions of the three APIs spoken: v1 brought pattern types (KIP-290), v2 is flexible.
pub const VERSIONS: std::ops::RangeInclusive<i16> = 1..=3;

/// The ids of the resource flags, for the argument groups that allow one of them.
const RESOURCE_FLAGS: [&str; 6] = [
    "topic",
    "group",
    "transactional_id",
    "cluster",
    "user",
    "delegation_token",
];
/// The ids of the principal flags.
const PRINCIPAL_FLAGS: [&str; 3] = ["principals", "allow_principals", "deny_principals"];

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AclArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: AclCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AclCommand {
    /// Create ACLs: every combination of the principals, hosts and operations given, on one
    /// resource.
    Create(AclCreateArgs),
    /// List the ACLs a filter matches (all of them without flags).
    List(AclListArgs),
    /// Delete the ACLs a filter matches (asks first on a terminal, unless --force).
    Delete(AclDeleteArgs),
}

/// The resource flags; at most one is given (exactly one for `create`).
#[derive(Args, Debug, Clone, PartialEq, Eq, Default)]
#[group(skip)]
pub struct ResourceArgs {
    /// A topic; `*` with the literal pattern type is every topic.
    #[arg(long, value_name = "TOPIC")]
    pub topic: Option<String>,
    /// A consumer group; `*` with the literal pattern type is every group.
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// A transactional id; `*` with the literal pattern type is every one.
    #[arg(long = "transactional-id", value_name = "ID")]
    pub transactional_id: Option<String>,
    /// The cluster (Kafka's resource `kafka-cluster`).
    #[arg(long)]
    pub cluster: bool,
    /// A user, as the resource of CREATE_TOKENS and DESCRIBE_TOKENS (KIP-373).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// A delegation token id.
    #[arg(long = "delegation-token", value_name = "TOKEN")]
    pub delegation_token: Option<String>,
}

impl ResourceArgs {
    /// The resource type and name the flags give; `None` when no flag is given.
    pub fn resource(&self) -> Option<(ResourceType, String)> {
        let named = [
            (ResourceType::Topic, &self.topic),
            (ResourceType::Group, &self.group),
            (ResourceType::TransactionalId, &self.transactional_id),
            (ResourceType::User, &self.user),
            (ResourceType::DelegationToken, &self.delegation_token),
        ];
        if let Some((resource_type, Some(name))) = named.iter().find(|(_, name)| name.is_some()) {
            return Some((*resource_type, name.clone()));
        }
        self.cluster
            .then(|| (ResourceType::Cluster, CLUSTER_RESOURCE_NAME.to_string()))
    }
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(ArgGroup::new("resource").args(RESOURCE_FLAGS).required(true)))]
#[command(group(ArgGroup::new("principal").args(PRINCIPAL_FLAGS).required(true).multiple(true)))]
pub struct AclCreateArgs {
    /// A principal, Type:name as User:alice (repeatable; `User:*` is every principal); its
    /// ACLs ALLOW, or DENY with --deny.
    #[arg(long = "principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub principals: Vec<String>,
    /// A principal whose ACLs ALLOW (repeatable), as kafka-acls' --allow-principal.
    #[arg(long = "allow-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub allow_principals: Vec<String>,
    /// A principal whose ACLs DENY (repeatable), as kafka-acls' --deny-principal.
    #[arg(long = "deny-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub deny_principals: Vec<String>,
    /// The ACLs of --principal DENY instead of ALLOW.
    #[arg(long, requires = "principals")]
    pub deny: bool,
    /// An operation (repeatable): all, read, write, create, delete, alter, describe,
    /// cluster-action, describe-configs, alter-configs, idempotent-write, create-tokens,
    /// describe-tokens (any case, `-` or `_` between words).
    #[arg(long = "operation", value_name = "OPERATION", value_parser = parse_operation, required = true)]
    pub operations: Vec<AclOperation>,
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// literal (the name itself, or `*` for every resource of the type) or prefixed (every
    /// resource whose name starts with the name).
    #[arg(
        long = "resource-pattern-type",
        value_name = "TYPE",
        value_parser = parse_binding_pattern_type,
        default_value = "literal"
    )]
    pub pattern_type: PatternType,
    /// The client address the ACLs apply to (repeatable); `*` is every host.
    #[arg(long = "host", value_name = "HOST", default_value = WILDCARD_HOST)]
    pub hosts: Vec<String>,
}

/// The filter of `list` and `delete`. A flag left out matches every binding.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(ArgGroup::new("resource").args(RESOURCE_FLAGS).multiple(false)))]
pub struct AclFilterArgs {
    /// Only ACLs of this principal, whether they allow or deny (repeatable). Compared as text:
    /// `User:alice` does not select the `User:*` ACLs.
    #[arg(long = "principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub principals: Vec<String>,
    /// Only ALLOW ACLs of this principal (repeatable).
    #[arg(long = "allow-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub allow_principals: Vec<String>,
    /// Only DENY ACLs of this principal (repeatable).
    #[arg(long = "deny-principal", value_name = "PRINCIPAL", value_parser = parse_principal)]
    pub deny_principals: Vec<String>,
    /// Only ACLs of this operation (repeatable; `any` is every operation).
    #[arg(long = "operation", value_name = "OPERATION", value_parser = parse_filter_operation)]
    pub operations: Vec<AclOperation>,
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// any (every pattern type, the name compared exactly), match (every ACL that applies to a
    /// resource of that name: literal, `*` and prefixes), literal or prefixed. Default: literal
    /// with a resource flag, any without.
    #[arg(
        long = "resource-pattern-type",
        value_name = "TYPE",
        value_parser = parse_filter_pattern_type
    )]
    pub pattern_type: Option<PatternType>,
    /// Only ACLs for this client address (repeatable), `*` being the ACLs for every host.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AclListArgs {
    #[command(flatten)]
    pub filter: AclFilterArgs,
    /// `table` (or `text`) for people, `json` (one array of bindings) for scripts.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct AclDeleteArgs {
    #[command(flatten)]
    pub filter: AclFilterArgs,
    /// Delete what the filter matches without asking.
    #[arg(long)]
    pub force: bool,
}

/// `Type:name`, as kafka-acls requires it.
fn parse_principal(text: &str) -> Result<String, String> {
    KafkaPrincipal::parse(text)
        .map(|principal| principal.to_string())
        .ok_or_else(|| format!("'{text}' is not a principal: write Type:name, as User:alice"))
}

/// `idempotent-write, create-tokens`: values as the flags take them.
fn names(operations: &[AclOperation]) -> String {
    operations
        .iter()
        .map(|op| op.name().to_ascii_lowercase().replace('_', "-"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An operation of a binding (not UNKNOWN, nor the filters' ANY); with `any_too`, ANY as well.
fn parse_operation_of(text: &str, any_too: bool) -> Result<AclOperation, String> {
    let allowed: Vec<AclOperation> = AclOperation::VALUES
        .iter()
        .copied()
        .filter(|op| *op != AclOperation::Unknown && (any_too || *op != AclOperation::Any))
        .collect();
    AclOperation::parse(text)
        .filter(|op| allowed.contains(op))
        .ok_or_else(|| format!("'{text}' is not an ACL operation: {}", names(&allowed)))
}

fn parse_operation(text: &str) -> Result<AclOperation, String> {
    parse_operation_of(text, false)
}

fn parse_filter_operation(text: &str) -> Result<AclOperation, String> {
    parse_operation_of(text, true)
}

fn parse_binding_pattern_type(text: &str) -> Result<PatternType, String> {
    let allowed = [PatternType::Literal, PatternType::Prefixed];
    PatternType::parse(text)
        .filter(|p| allowed.contains(p))
        .ok_or_else(|| format!("'{text}' is not a pattern type for an ACL: literal or prefixed"))
}

fn parse_filter_pattern_type(text: &str) -> Result<PatternType, String> {
    PatternType::parse(text)
        .filter(|p| *p != PatternType::Unknown)
        .ok_or_else(|| format!("'{text}' is not a pattern type: any, match, literal or prefixed"))
}

/// The (principal, permission) pairs of the principal flags, in the order given, without
/// repeats; `plain` is the permission of `--principal`.
fn principal_entries(
    principals: &[String],
    plain: AclPermissionType,
    allow_principals: &[String],
    deny_principals: &[String],
) -> Vec<(String, AclPermissionType)> {
    let mut entries = Vec::new();
    let all = principals
        .iter()
        .map(|p| (p, plain))
        .chain(
            allow_principals
                .iter()
                .map(|p| (p, AclPermissionType::Allow)),
        )
        .chain(deny_principals.iter().map(|p| (p, AclPermissionType::Deny)));
    for (principal, permission) in all {
        push_new(&mut entries, (principal.clone(), permission));
    }
    entries
}

/// Appends `item` unless it is there already (the lists are short: a command line's worth).
fn push_new<T: PartialEq>(items: &mut Vec<T>, item: T) {
    if !items.contains(&item) {
        items.push(item);
    }
}

/// The bindings `create` asks for: principals x hosts x operations on the one resource.
pub fn bindings(args: &AclCreateArgs) -> Result<Vec<AclBinding>> {
    let Some((resource_type, resource_name)) = args.resource.resource() else {
        bail!(
            "name the resource: --topic, --group, --transactional-id, --cluster, --user or \
             --delegation-token"
        );
    };
    let plain = if args.deny {
        AclPermissionType::Deny
    } else {
        AclPermissionType::Allow
    };
    let entries = principal_entries(
        &args.principals,
        plain,
        &args.allow_principals,
        &args.deny_principals,
    );
    if entries.is_empty() {
        bail!("name a principal: --principal, --allow-principal or --deny-principal");
    }
    let mut bindings = Vec::new();
    for (principal, permission) in &entries {
        for host in &args.hosts {
            for operation in &args.operations {
                push_new(
                    &mut bindings,
                    AclBinding::new(
                        resource_type,
                        resource_name.as_str(),
                        args.pattern_type,
                        principal.as_str(),
                        host.as_str(),
                        *operation,
                        *permission,
                    ),
                );
            }
        }
    }
    Ok(bindings)
}

/// The filters `list` and `delete` send: principals x hosts x operations, each flag left out
/// matching everything.
pub fn filters(args: &AclFilterArgs) -> Vec<AclBindingFilter> {
    let resource = args.resource.resource();
    let pattern_type = args.pattern_type.unwrap_or(match resource {
        Some(_) => PatternType::Literal,
        None => PatternType::Any,
    });
    let (resource_type, resource_name) = match resource {
        Some((resource_type, name)) => (resource_type, Some(name)),
        None => (ResourceType::Any, None),
    };
    let mut entries: Vec<(Option<String>, AclPermissionType)> = principal_entries(
        &args.principals,
        AclPermissionType::Any,
        &args.allow_principals,
        &args.deny_principals,
    )
    .into_iter()
    .map(|(principal, permission)| (Some(principal), permission))
    .collect();
    if entries.is_empty() {
        entries.push((None, AclPermissionType::Any));
    }
    let hosts: Vec<Option<String>> = match args.hosts.as_slice() {
        [] => vec![None],
        hosts => hosts.iter().cloned().map(Some).collect(),
    };
    let operations = match args.operations.as_slice() {
        [] => vec![AclOperation::Any],
        operations => operations.to_vec(),
    };
    let mut filters = Vec::new();
    for (principal, permission) in &entries {
        for host in &hosts {
            for operation in &operations {
                push_new(
                    &mut filters,
                    AclBindingFilter {
                        resource_type,
                        resource_name: resource_name.clone(),
                        pattern_type,
                        principal: principal.clone(),
                        host: host.clone(),
                        operation: *operation,
                        permission: *permission,
                    },
                );
            }
        }
    }
    filters
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn creation(binding: &AclBinding) -> AclCreation {
    AclCreation::default()
        .with_resource_type(binding.resource_type.code())
        .with_resource_name(text(&binding.resource_name))
        .with_resource_pattern_type(binding.pattern_type.code())
        .with_principal(text(&binding.principal))
        .with_host(text(&binding.host))
        .with_operation(binding.operation.code())
        .with_permission_type(binding.permission.code())
}

pub fn create_request(bindings: &[AclBinding]) -> CreateAclsRequest {
    CreateAclsRequest::default().with_creations(bindings.iter().map(creation).collect())
}

pub fn describe_request(filter: &AclBindingFilter) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(filter.resource_type.code())
        .with_resource_name_filter(filter.resource_name.as_deref().map(text))
        .with_pattern_type_filter(filter.pattern_type.code())
        .with_principal_filter(filter.principal.as_deref().map(text))
        .with_host_filter(filter.host.as_deref().map(text))
        .with_operation(filter.operation.code())
        .with_permission_type(filter.permission.code())
}

pub fn delete_request(filters: &[AclBindingFilter]) -> DeleteAclsRequest {
    DeleteAclsRequest::default().with_filters(
        filters
            .iter()
            .map(|filter| {
                DeleteAclsFilter::default()
                    .with_resource_type_filter(filter.resource_type.code())
                    .with_resource_name_filter(filter.resource_name.as_deref().map(text))
                    .with_pattern_type_filter(filter.pattern_type.code())
                    .with_principal_filter(filter.principal.as_deref().map(text))
                    .with_host_filter(filter.host.as_deref().map(text))
                    .with_operation(filter.operation.code())
                    .with_permission_type(filter.permission.code())
            })
            .collect(),
    )
}

/// A binding from a response's codes; a code this client does not know reads as UNKNOWN.
#[allow(clippy::too_many_arguments)]
fn binding_from_wire(
    resource_type: i8,
    resource_name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
) -> AclBinding {
    AclBinding::new(
        ResourceType::from_code(resource_type).unwrap_or(ResourceType::Unknown),
        resource_name,
        PatternType::from_code(pattern_type).unwrap_or(PatternType::Unknown),
        principal,
        host,
        AclOperation::from_code(operation).unwrap_or(AclOperation::Unknown),
        AclPermissionType::from_code(permission).unwrap_or(AclPermissionType::Unknown),
    )
}

/// A binding in one line: `User:alice ALLOW WRITE on PREFIXED TOPIC 'orders-' from host *`.
pub fn binding_text(binding: &AclBinding) -> String {
    format!(
        "{} {} {} on {} {} '{}' from host {}",
        binding.principal,
        binding.permission,
        binding.operation,
        binding.pattern_type,
        binding.resource_type,
        binding.resource_name,
        binding.host
    )
}

/// The bindings of a DescribeAcls answer, or its error.
pub fn described_bindings(
    response: &DescribeAclsResponse,
) -> Result<Vec<AclBinding>, RequestError> {
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "listing ACLs",
            response.error_message.as_deref(),
        ));
    }
    Ok(response
        .resources
        .iter()
        .flat_map(|resource| {
            resource.acls.iter().map(move |acl| {
                binding_from_wire(
                    resource.resource_type,
                    resource.resource_name.as_str(),
                    resource.pattern_type,
                    acl.principal.as_str(),
                    acl.host.as_str(),
                    acl.operation,
                    acl.permission_type,
                )
            })
        })
        .collect())
}

/// What a CreateAcls answered: the bindings created and the refused ones.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CreateOutcome {
    pub created: Vec<AclBinding>,
    pub refused: Vec<Refusal>,
}

/// A binding the broker did not create, with Kafka's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub binding: AclBinding,
    pub code: i16,
    pub message: Option<String>,
}

impl Refusal {
    /// The error line: the binding, Kafka's error and the broker's message.
    pub fn error(&self) -> RequestError {
        RequestError::broker(
            self.code,
            &format!("ACL {}", binding_text(&self.binding)),
            self.message.as_deref(),
        )
    }
}

pub fn create_outcome(
    bindings: &[AclBinding],
    response: &CreateAclsResponse,
) -> Result<CreateOutcome> {
    if response.results.len() != bindings.len() {
        bail!(
            "creating ACLs: the broker answered {} results for {} bindings",
            response.results.len(),
            bindings.len()
        );
    }
    let mut outcome = CreateOutcome::default();
    for (binding, result) in bindings.iter().zip(&response.results) {
        if result.error_code == 0 {
            outcome.created.push(binding.clone());
        } else {
            outcome.refused.push(Refusal {
                binding: binding.clone(),
                code: result.error_code,
                message: result.error_message.as_ref().map(|m| m.to_string()),
            });
        }
    }
    Ok(outcome)
}

/// What a DeleteAcls answered: the bindings deleted (sorted, each once) and the error lines of
/// the filters and bindings that failed (each distinct line once).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    pub deleted: Vec<AclBinding>,
    pub errors: Vec<String>,
}

pub fn delete_outcome(response: &DeleteAclsResponse) -> DeleteOutcome {
    let mut deleted = BTreeSet::new();
    let mut errors = Vec::new();
    for result in &response.filter_results {
        if result.error_code != 0 {
            let error = RequestError::broker(
                result.error_code,
                "deleting ACLs",
                result.error_message.as_deref(),
            );
            push_new(&mut errors, error.to_string());
            continue;
        }
        for acl in &result.matching_acls {
            let binding = binding_from_wire(
                acl.resource_type,
                acl.resource_name.as_str(),
                acl.pattern_type,
                acl.principal.as_str(),
                acl.host.as_str(),
                acl.operation,
                acl.permission_type,
            );
            if acl.error_code != 0 {
                let error = RequestError::broker(
                    acl.error_code,
                    &format!("deleting ACL {}", binding_text(&binding)),
                    acl.error_message.as_deref(),
                );
                push_new(&mut errors, error.to_string());
            } else {
                deleted.insert(binding);
            }
        }
    }
    DeleteOutcome {
        deleted: deleted.into_iter().collect(),
        errors,
    }
}

/// One binding in `list --output json`, its fields in the table's column order.
#[derive(Serialize)]
struct JsonBinding<'a> {
    principal: &'a str,
    permission: AclPermissionType,
    operation: AclOperation,
    host: &'a str,
    resource_type: ResourceType,
    resource_name: &'a str,
    pattern_type: PatternType,
}

pub fn bindings_table(bindings: &[AclBinding]) -> Table {
    let mut table = Table::new(&[
        "PRINCIPAL",
        "PERMISSION",
        "OPERATION",
        "HOST",
        "RESOURCE-TYPE",
        "RESOURCE-NAME",
        "PATTERN-TYPE",
    ]);
    for b in bindings {
        table.push(vec![
            b.principal.clone(),
            b.permission.to_string(),
            b.operation.to_string(),
            b.host.clone(),
            b.resource_type.to_string(),
            b.resource_name.clone(),
            b.pattern_type.to_string(),
        ]);
    }
    table
}

pub fn bindings_json(bindings: &[AclBinding]) -> Result<String> {
    let rows: Vec<JsonBinding<'_>> = bindings
        .iter()
        .map(|b| JsonBinding {
            principal: &b.principal,
            permission: b.permission,
            operation: b.operation,
            host: &b.host,
            resource_type: b.resource_type,
            resource_name: &b.resource_name,
            pattern_type: b.pattern_type,
        })
        .collect();
    Ok(serde_json::to_string(&rows)?)
}

/// Whether a delete filter selects every ACL of the cluster: no resource and no principal.
fn selects_everything(args: &AclFilterArgs) -> bool {
    args.resource.resource().is_none()
        && args.principals.is_empty()
        && args.allow_principals.is_empty()
        && args.deny_principals.is_empty()
}

/// Whether an answer to "delete?" is a yes.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// A client for the cluster of `connect`, after the warnings about its settings.
fn connect(connect: &ConnectArgs) -> Result<ClusterClient> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    Ok(ClusterClient::new(&settings))
}

pub async fn run(args: AclArgs) -> Result<()> {
    // In each command the arguments are checked before any connection.
    match args.command {
        AclCommand::Create(create) => {
            let bindings = bindings(&create)?;
            create_acls(&mut connect(&args.connect)?, &bindings).await
        }
        AclCommand::List(list) => {
            let filters = filters(&list.filter);
            let found = describe_acls(&mut connect(&args.connect)?, &filters).await?;
            match list.output {
                OutputFormat::Text => print!("{}", bindings_table(&found).render()),
                OutputFormat::Json => println!("{}", bindings_json(&found)?),
            }
            Ok(())
        }
        AclCommand::Delete(delete) => {
            if selects_everything(&delete.filter) {
                bail!(
                    "this filter would delete every ACL of the cluster: name a resource \
                     (--topic, --group, --transactional-id, --cluster, --user, \
                     --delegation-token) or a principal"
                );
            }
            let mut filters = filters(&delete.filter);
            let mut client = connect(&args.connect)?;
            if !delete.force {
                match confirm_deletion(&mut client, &filters).await? {
                    Some(confirmed) => filters = confirmed,
                    None => return Ok(()),
                }
            }
            delete_acls(&mut client, &filters).await
        }
    }
}

async fn create_acls(client: &mut ClusterClient, bindings: &[AclBinding]) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let (response, _) = client
        .send_to_any::<CreateAclsRequest>(VERSIONS, |_| create_request(bindings), deadline)
        .await
        .map_err(|e| anyhow!("creating ACLs: {e}"))?;
    let outcome = create_outcome(bindings, &response)?;
    for binding in &outcome.created {
        println!("created ACL: {}", binding_text(binding));
    }
    match outcome.refused.as_slice() {
        [] => Ok(()),
        [refusal] => Err(anyhow!(refusal.error())),
        refused => Err(refusals_error(refused, bindings.len())),
    }
}

/// The one error line of several refused bindings. A refusal of the whole request
/// (SECURITY_DISABLED, CLUSTER_AUTHORIZATION_FAILED) comes back once per binding: when every
/// refusal has the same code and message it is said once; otherwise each refused binding gets
/// a line on stderr first.
pub fn refusals_error(refused: &[Refusal], total: usize) -> anyhow::Error {
    let count = refused.len();
    if let Some(first) = refused.first() {
        if refused
            .iter()
            .all(|r| (r.code, &r.message) == (first.code, &first.message))
        {
            return anyhow!(RequestError::broker(
                first.code,
                &format!("{count} of {total} ACL bindings were refused"),
                first.message.as_deref()
            ));
        }
    }
    for refusal in refused {
        eprintln!("refused: {}", refusal.error());
    }
    anyhow!("{count} of {total} ACL bindings were refused")
}

/// The bindings the filters match, sorted, each once.
async fn describe_acls(
    client: &mut ClusterClient,
    filters: &[AclBindingFilter],
) -> Result<Vec<AclBinding>> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut found = BTreeSet::new();
    for filter in filters {
        let (response, _) = client
            .send_to_any::<DescribeAclsRequest>(VERSIONS, |_| describe_request(filter), deadline)
            .await
            .map_err(|e| anyhow!("listing ACLs: {e}"))?;
        found.extend(described_bindings(&response)?);
    }
    Ok(found.into_iter().collect())
}

/// On a terminal: shows what the filters match and asks. The filters of exactly the bindings
/// shown if the answer is yes; `None` when nothing matches.
async fn confirm_deletion(
    client: &mut ClusterClient,
    filters: &[AclBindingFilter],
) -> Result<Option<Vec<AclBindingFilter>>> {
    if !std::io::stdin().is_terminal() {
        bail!("acl delete asks before deleting, and stdin is not a terminal: add --force");
    }
    let matching = describe_acls(client, filters).await?;
    if matching.is_empty() {
        println!("no ACL matches; nothing deleted");
        return Ok(None);
    }
    eprint!("{}", bindings_table(&matching).render());
    match matching.len() {
        1 => eprint!("Delete this ACL? [y/N] "),
        count => eprint!("Delete these {count} ACLs? [y/N] "),
    }
    let _ = std::io::stderr().flush();
    // Reading a terminal blocks; it is done off the async runtime's threads.
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| anyhow!("reading the answer: {e}"))?
    .map_err(|e| anyhow!("reading the answer: {e}"))?;
    if !is_yes(&answer) {
        bail!("not confirmed; nothing deleted");
    }
    Ok(Some(matching.iter().map(AclBinding::to_filter).collect()))
}

async fn delete_acls(client: &mut ClusterClient, filters: &[AclBindingFilter]) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let (response, _) = client
        .send_to_any::<DeleteAclsRequest>(VERSIONS, |_| delete_request(filters), deadline)
        .await
        .map_err(|e| anyhow!("deleting ACLs: {e}"))?;
    let outcome = delete_outcome(&response);
    for binding in &outcome.deleted {
        println!("deleted ACL: {}", binding_text(binding));
    }
    match outcome.errors.as_slice() {
        [] => {
            if outcome.deleted.is_empty() {
                println!("no ACL matches; nothing deleted");
            }
            Ok(())
        }
        [error] => Err(anyhow!(error.clone())),
        errors => {
            for error in errors {
                eprintln!("refused: {error}");
            }
            bail!("{} ACL deletions were refused", errors.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::create_acls_response::AclCreationResult;
    use kafka_protocol::messages::delete_acls_response::{
        DeleteAclsFilterResult, DeleteAclsMatchingAcl,
    };
    use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};

    use super::*;

    fn create_args(resource: ResourceArgs) -> AclCreateArgs {
        AclCreateArgs {
            principals: vec!["User:alice".into()],
            allow_principals: vec![],
            deny_principals: vec![],
            deny: false,
            operations: vec![AclOperation::Read],
            resource,
            pattern_type: PatternType::Literal,
            hosts: vec!["*".into()],
        }
    }

    fn filter_args() -> AclFilterArgs {
        AclFilterArgs {
            principals: vec![],
            allow_principals: vec![],
            deny_principals: vec![],
            operations: vec![],
            resource: ResourceArgs::default(),
            pattern_type: None,
            hosts: vec![],
        }
    }

    fn topic(name: &str) -> ResourceArgs {
        ResourceArgs {
            topic: Some(name.into()),
            ..ResourceArgs::default()
        }
    }

    fn binding(
        principal: &str,
        host: &str,
        operation: AclOperation,
        permission: AclPermissionType,
    ) -> AclBinding {
        AclBinding::new(
            ResourceType::Topic,
            "orders-",
            PatternType::Prefixed,
            principal,
            host,
            operation,
            permission,
        )
    }

    #[test]
    fn resource_flags_name_kafkas_resources() {
        assert_eq!(ResourceArgs::default().resource(), None);
        assert_eq!(
            topic("orders").resource(),
            Some((ResourceType::Topic, "orders".to_string()))
        );
        let cluster = ResourceArgs {
            cluster: true,
            ..ResourceArgs::default()
        };
        assert_eq!(
            cluster.resource(),
            Some((ResourceType::Cluster, "kafka-cluster".to_string()))
        );
        let cases = [
            (
                ResourceArgs {
                    group: Some("g".into()),
                    ..ResourceArgs::default()
                },
                ResourceType::Group,
            ),
            (
                ResourceArgs {
                    transactional_id: Some("g".into()),
                    ..ResourceArgs::default()
                },
                ResourceType::TransactionalId,
            ),
            (
                ResourceArgs {
                    user: Some("g".into()),
                    ..ResourceArgs::default()
                },
                ResourceType::User,
            ),
            (
                ResourceArgs {
                    delegation_token: Some("g".into()),
                    ..ResourceArgs::default()
                },
                ResourceType::DelegationToken,
            ),
        ];
        for (args, resource_type) in cases {
            assert_eq!(args.resource(), Some((resource_type, "g".to_string())));
        }
    }

    #[test]
    fn create_makes_the_cross_product_of_principals_hosts_and_operations() {
        let mut args = create_args(topic("orders-"));
        args.pattern_type = PatternType::Prefixed;
        args.principals = vec!["User:alice".into(), "User:bob".into()];
        args.deny_principals = vec!["User:mallory".into()];
        args.hosts = vec!["*".into(), "10.0.0.1".into()];
        args.operations = vec![AclOperation::Write, AclOperation::Describe];
        let made = bindings(&args).expect("valid");
        assert_eq!(made.len(), 3 * 2 * 2);
        use AclOperation::{Describe, Write};
        use AclPermissionType::{Allow, Deny};
        assert_eq!(
            made[..4],
            [
                binding("User:alice", "*", Write, Allow),
                binding("User:alice", "*", Describe, Allow),
                binding("User:alice", "10.0.0.1", Write, Allow),
                binding("User:alice", "10.0.0.1", Describe, Allow),
            ]
        );
        assert_eq!(
            made[11],
            binding("User:mallory", "10.0.0.1", Describe, Deny)
        );
        assert_eq!(made.iter().filter(|b| b.permission == Deny).count(), 4);
    }

    #[test]
    fn deny_applies_to_plain_principals_and_repeats_are_dropped() {
        let mut args = create_args(topic("t"));
        args.deny = true;
        args.principals = vec!["User:alice".into(), "User:alice".into()];
        args.allow_principals = vec!["User:bob".into()];
        args.operations = vec![AclOperation::Read, AclOperation::Read];
        let made = bindings(&args).expect("valid");
        assert_eq!(
            made.iter()
                .map(|b| (b.principal.as_str(), b.permission))
                .collect::<Vec<_>>(),
            [
                ("User:alice", AclPermissionType::Deny),
                ("User:bob", AclPermissionType::Allow)
            ]
        );
    }

    #[test]
    fn create_needs_a_resource_and_a_principal() {
        let err = bindings(&create_args(ResourceArgs::default())).expect_err("no resource");
        assert!(err.to_string().starts_with("name the resource: "), "{err}");
        let mut args = create_args(topic("t"));
        args.principals.clear();
        let err = bindings(&args).expect_err("no principal");
        assert!(err.to_string().starts_with("name a principal"), "{err}");
    }

    #[test]
    fn create_request_carries_kafkas_codes() {
        let b = AclBinding::new(
            ResourceType::Cluster,
            "kafka-cluster",
            PatternType::Prefixed,
            "User:alice",
            "*",
            AclOperation::IdempotentWrite,
            AclPermissionType::Deny,
        );
        let request = create_request(std::slice::from_ref(&b));
        let c = &request.creations[0];
        assert_eq!(
            (
                c.resource_type,
                c.resource_name.as_str(),
                c.resource_pattern_type,
                c.principal.as_str(),
                c.host.as_str(),
                c.operation,
                c.permission_type
            ),
            (4, "kafka-cluster", 4, "User:alice", "*", 12, 2)
        );
    }

    #[test]
    fn an_empty_filter_is_any_of_everything() {
        let made = filters(&filter_args());
        assert_eq!(made, [AclBindingFilter::any()]);
        let request = describe_request(&made[0]);
        assert_eq!(request.resource_type_filter, 1);
        assert_eq!(request.resource_name_filter, None);
        assert_eq!(request.pattern_type_filter, 1);
        assert_eq!(request.principal_filter, None);
        assert_eq!(request.host_filter, None);
        assert_eq!(request.operation, 1);
        assert_eq!(request.permission_type, 1);
    }

    #[test]
    fn a_named_resource_defaults_to_literal_and_any_and_match_map_to_their_codes() {
        let mut args = filter_args();
        args.resource = topic("orders");
        let made = filters(&args);
        assert_eq!(made.len(), 1);
        assert_eq!(made[0].resource_type, ResourceType::Topic);
        assert_eq!(made[0].resource_name.as_deref(), Some("orders"));
        assert_eq!(made[0].pattern_type, PatternType::Literal);
        for (pattern_type, code) in [
            (PatternType::Any, 1),
            (PatternType::Match, 2),
            (PatternType::Literal, 3),
            (PatternType::Prefixed, 4),
        ] {
            args.pattern_type = Some(pattern_type);
            let made = filters(&args);
            assert_eq!(made[0].pattern_type, pattern_type);
            assert_eq!(describe_request(&made[0]).pattern_type_filter, code);
            assert_eq!(delete_request(&made).filters[0].pattern_type_filter, code);
        }
        // Without a resource, a pattern type still narrows: every prefixed ACL.
        let mut args = filter_args();
        args.pattern_type = Some(PatternType::Prefixed);
        let made = filters(&args);
        assert_eq!(
            (
                made[0].resource_type,
                &made[0].resource_name,
                made[0].pattern_type
            ),
            (ResourceType::Any, &None, PatternType::Prefixed)
        );
    }

    #[test]
    fn filters_cross_principals_hosts_and_operations() {
        let mut args = filter_args();
        args.principals = vec!["User:alice".into()];
        args.deny_principals = vec!["User:bob".into()];
        args.hosts = vec!["*".into(), "10.0.0.1".into()];
        args.operations = vec![AclOperation::Read, AclOperation::Any];
        let made = filters(&args);
        assert_eq!(made.len(), 2 * 2 * 2);
        assert_eq!(made[0].principal.as_deref(), Some("User:alice"));
        assert_eq!(made[0].permission, AclPermissionType::Any);
        assert_eq!(made[0].host.as_deref(), Some("*"));
        assert_eq!(made[0].operation, AclOperation::Read);
        assert_eq!(made[1].operation, AclOperation::Any);
        assert_eq!(made[7].principal.as_deref(), Some("User:bob"));
        assert_eq!(made[7].permission, AclPermissionType::Deny);
        assert_eq!(made[7].host.as_deref(), Some("10.0.0.1"));
        let request = delete_request(&made);
        assert_eq!(request.filters.len(), 8);
        let last = &request.filters[7];
        assert_eq!(
            (
                last.principal_filter.as_deref(),
                last.host_filter.as_deref(),
                last.operation,
                last.permission_type,
                last.resource_type_filter,
            ),
            (Some("User:bob"), Some("10.0.0.1"), 1, 2, 1)
        );
    }

    #[test]
    fn deleting_needs_a_resource_or_a_principal() {
        let mut args = filter_args();
        assert!(selects_everything(&args));
        args.operations = vec![AclOperation::Write];
        args.hosts = vec!["*".into()];
        assert!(
            selects_everything(&args),
            "operations and hosts do not narrow enough"
        );
        args.deny_principals = vec!["User:bob".into()];
        assert!(!selects_everything(&args));
        let mut args = filter_args();
        args.resource.cluster = true;
        assert!(!selects_everything(&args));
    }

    #[test]
    fn value_parsers_take_what_people_write() {
        assert_eq!(parse_principal("User:alice"), Ok("User:alice".into()));
        assert_eq!(parse_principal("User:*"), Ok("User:*".into()));
        assert_eq!(
            parse_principal("alice"),
            Err("'alice' is not a principal: write Type:name, as User:alice".into())
        );
        assert_eq!(parse_operation("Write"), Ok(AclOperation::Write));
        assert_eq!(
            parse_operation("idempotent-write"),
            Ok(AclOperation::IdempotentWrite)
        );
        let err = parse_operation("any").expect_err("filters only");
        assert!(
            err.starts_with("'any' is not an ACL operation: all, read, write, "),
            "{err}"
        );
        assert!(err.ends_with("create-tokens, describe-tokens"), "{err}");
        assert_eq!(parse_filter_operation("ANY"), Ok(AclOperation::Any));
        assert!(parse_filter_operation("unknown").is_err());
        assert_eq!(
            parse_binding_pattern_type("PREFIXED"),
            Ok(PatternType::Prefixed)
        );
        assert!(parse_binding_pattern_type("match").is_err());
        assert_eq!(parse_filter_pattern_type("match"), Ok(PatternType::Match));
        assert_eq!(parse_filter_pattern_type("any"), Ok(PatternType::Any));
        assert!(parse_filter_pattern_type("unknown").is_err());
    }

    #[test]
    fn described_bindings_are_read_from_their_codes() {
        let response = DescribeAclsResponse::default().with_resources(vec![
            DescribeAclsResource::default()
                .with_resource_type(2)
                .with_resource_name(text("orders-"))
                .with_pattern_type(4)
                .with_acls(vec![AclDescription::default()
                    .with_principal(text("User:alice"))
                    .with_host(text("*"))
                    .with_operation(4)
                    .with_permission_type(3)]),
            DescribeAclsResource::default()
                .with_resource_type(99)
                .with_resource_name(text("x"))
                .with_pattern_type(3)
                .with_acls(vec![AclDescription::default()
                    .with_principal(text("User:bob"))
                    .with_host(text("*"))
                    .with_operation(3)
                    .with_permission_type(2)]),
        ]);
        let found = described_bindings(&response).expect("no error");
        assert_eq!(
            found[0],
            binding(
                "User:alice",
                "*",
                AclOperation::Write,
                AclPermissionType::Allow
            )
        );
        assert_eq!(found[1].resource_type, ResourceType::Unknown);

        let refused = DescribeAclsResponse::default()
            .with_error_code(54)
            .with_error_message(Some(text("No Authorizer is configured.")));
        assert_eq!(
            described_bindings(&refused)
                .expect_err("refused")
                .to_string(),
            "listing ACLs: Broker: Security disabled (SECURITY_DISABLED): No Authorizer is \
             configured."
        );
    }

    #[test]
    fn create_results_pair_with_their_bindings() {
        let ok = binding(
            "User:alice",
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        let bad = binding(
            "User:bob",
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        let response = CreateAclsResponse::default().with_results(vec![
            AclCreationResult::default(),
            AclCreationResult::default()
                .with_error_code(42)
                .with_error_message(Some(text("nope"))),
        ]);
        let outcome = create_outcome(&[ok.clone(), bad.clone()], &response).expect("paired");
        assert_eq!(outcome.created, std::slice::from_ref(&ok));
        assert_eq!(outcome.refused.len(), 1);
        assert_eq!(outcome.refused[0].binding, bad);
        assert_eq!(
            outcome.refused[0].error().to_string(),
            "ACL User:bob ALLOW WRITE on PREFIXED TOPIC 'orders-' from host *: Broker: Invalid \
             request (INVALID_REQUEST): nope"
        );
        assert!(create_outcome(&[ok], &CreateAclsResponse::default()).is_err());
    }

    #[test]
    fn a_refusal_of_every_binding_is_said_once() {
        let refusal = |principal: &str, code: i16, message: &str| Refusal {
            binding: binding(
                principal,
                "*",
                AclOperation::Write,
                AclPermissionType::Allow,
            ),
            code,
            message: Some(message.to_string()),
        };
        let same = [
            refusal("User:a", 31, "Cluster authorization failed."),
            refusal("User:b", 31, "Cluster authorization failed."),
        ];
        assert_eq!(
            refusals_error(&same, 2).to_string(),
            "2 of 2 ACL bindings were refused: Broker: Cluster authorization failed \
             (CLUSTER_AUTHORIZATION_FAILED): Cluster authorization failed."
        );
        let different = [
            refusal("User:a", 42, "one reason"),
            refusal("User:b", 42, "another"),
        ];
        assert_eq!(
            refusals_error(&different, 3).to_string(),
            "2 of 3 ACL bindings were refused"
        );
    }

    #[test]
    fn delete_results_list_each_binding_once_and_each_error_once() {
        let matching = DeleteAclsMatchingAcl::default()
            .with_resource_type(2)
            .with_resource_name(text("orders-"))
            .with_pattern_type(4)
            .with_principal(text("User:alice"))
            .with_host(text("*"))
            .with_operation(4)
            .with_permission_type(3);
        let refused = DeleteAclsFilterResult::default()
            .with_error_code(31)
            .with_error_message(Some(text("Cluster authorization failed.")));
        let response = DeleteAclsResponse::default().with_filter_results(vec![
            DeleteAclsFilterResult::default().with_matching_acls(vec![matching.clone()]),
            DeleteAclsFilterResult::default().with_matching_acls(vec![matching]),
            refused.clone(),
            refused,
        ]);
        let outcome = delete_outcome(&response);
        assert_eq!(
            outcome.deleted,
            [binding(
                "User:alice",
                "*",
                AclOperation::Write,
                AclPermissionType::Allow
            )]
        );
        assert_eq!(
            outcome.errors,
            ["deleting ACLs: Broker: Cluster authorization failed \
              (CLUSTER_AUTHORIZATION_FAILED): Cluster authorization failed."]
        );
    }

    #[test]
    fn output_has_the_columns_in_order() {
        let b = binding(
            "User:alice",
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        );
        assert_eq!(
            bindings_table(std::slice::from_ref(&b)).render(),
            "PRINCIPAL   PERMISSION  OPERATION  HOST  RESOURCE-TYPE  RESOURCE-NAME  PATTERN-TYPE\n\
             User:alice  ALLOW       WRITE      *     TOPIC          orders-        PREFIXED\n"
        );
        assert_eq!(
            bindings_json(&[b]).expect("json"),
            r#"[{"principal":"User:alice","permission":"ALLOW","operation":"WRITE","host":"*","resource_type":"TOPIC","resource_name":"orders-","pattern_type":"PREFIXED"}]"#
        );
        assert_eq!(bindings_json(&[]).expect("json"), "[]");
    }

    #[test]
    fn only_yes_confirms() {
        for answer in ["y\n", "Y", "yes\n", " YES \r\n"] {
            assert!(is_yes(answer), "{answer:?}");
        }
        for answer in ["", "\n", "n", "no", "yep", "sure"] {
            assert!(!is_yes(answer), "{answer:?}");
        }
    }
}

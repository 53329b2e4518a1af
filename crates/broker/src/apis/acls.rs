//! DescribeAcls (29), CreateAcls (30) and DeleteAcls (31), KIP-140 and KIP-290: the cluster's
//! ACL bindings, kept in the metadata log (every broker decides on the same set; they survive
//! restarts and `kill -9`).
//!
//! Without an authorizer (`authorizer.class.name` unset) all three answer SECURITY_DISABLED,
//! as Kafka does. Describe needs DESCRIBE on the cluster, create and delete ALTER
//! (CLUSTER_AUTHORIZATION_FAILED otherwise). A creation that is not a valid binding fails alone
//! (INVALID_REQUEST with Kafka's message); the valid ones of a request commit as one metadata
//! command. A delete filter that is not a valid filter fails alone; the others commit together
//! and each answers the bindings it removed.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{CommandOutput, MetadataCommand};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{
    AclBinding, AclBindingFilter, AclError, AclOperation, AclPermissionType, PatternType,
    ResourceType,
};

use super::request::RequestContext;
use crate::cluster::Cluster;
use crate::replicas::AdminError;

const NO_AUTHORIZER: &str = "No Authorizer is configured.";

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn unknown(what: &str, code: i8) -> AclError {
    AclError::InvalidRequest(format!("Unknown {what} {code}"))
}

/// A filter as a request gives it: codes checked, then the filter's own rules.
#[allow(clippy::too_many_arguments)]
fn filter_from(
    resource_type: i8,
    resource_name: Option<&StrBytes>,
    pattern_type: i8,
    principal: Option<&StrBytes>,
    host: Option<&StrBytes>,
    operation: i8,
    permission: i8,
    version: i16,
) -> Result<AclBindingFilter, AclError> {
    let filter = AclBindingFilter {
        resource_type: ResourceType::from_code(resource_type)
            .ok_or_else(|| unknown("resource type", resource_type))?,
        resource_name: resource_name.map(|s| s.to_string()),
        pattern_type: PatternType::from_code(pattern_type)
            .ok_or_else(|| unknown("pattern type", pattern_type))?,
        principal: principal.map(|s| s.to_string()),
        host: host.map(|s| s.to_string()),
        operation: AclOperation::from_code(operation)
            .ok_or_else(|| unknown("operation", operation))?,
        permission: AclPermissionType::from_code(permission)
            .ok_or_else(|| unknown("permission type", permission))?,
    };
    let filter = filter.for_version(version)?;
    filter.validate()?;
    Ok(filter)
}

fn binding_from(c: &AclCreation, version: i16) -> Result<AclBinding, AclError> {
    let binding = AclBinding::new(
        ResourceType::from_code(c.resource_type)
            .ok_or_else(|| unknown("resource type", c.resource_type))?,
        c.resource_name.as_str(),
        PatternType::from_code(c.resource_pattern_type)
            .ok_or_else(|| unknown("pattern type", c.resource_pattern_type))?,
        c.principal.as_str(),
        c.host.as_str(),
        AclOperation::from_code(c.operation).ok_or_else(|| unknown("operation", c.operation))?,
        AclPermissionType::from_code(c.permission_type)
            .ok_or_else(|| unknown("permission type", c.permission_type))?,
    );
    binding.validate_version(version)?;
    binding.validate()?;
    Ok(binding)
}

pub async fn describe(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let refused = |code: ErrorCode, message: String| {
        DescribeAclsResponse::default()
            .with_error_code(code.0)
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    if !ctx.authorizer_enabled() {
        return refused(ErrorCode::SECURITY_DISABLED, NO_AUTHORIZER.into());
    }
    if !ctx.authorize_cluster(AclOperation::Describe) {
        return refused(
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.".into(),
        );
    }
    let filter = match filter_from(
        r.resource_type_filter,
        r.resource_name_filter.as_ref(),
        r.pattern_type_filter,
        r.principal_filter.as_ref(),
        r.host_filter.as_ref(),
        r.operation,
        r.permission_type,
        ctx.api_version,
    ) {
        Ok(f) => f,
        Err(e) => return refused(ErrorCode(e.code()), e.message().to_string()),
    };
    let image = cluster.image();
    let mut resources: BTreeMap<(ResourceType, &str, PatternType), Vec<AclDescription>> =
        BTreeMap::new();
    for b in image.acls().filter(|b| filter.matches(b)) {
        resources
            .entry((b.resource_type, b.resource_name.as_str(), b.pattern_type))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(text(&b.principal))
                    .with_host(text(&b.host))
                    .with_operation(b.operation.code())
                    .with_permission_type(b.permission.code()),
            );
    }
    DescribeAclsResponse::default().with_resources(
        resources
            .into_iter()
            .map(|((resource_type, name, pattern_type), acls)| {
                DescribeAclsResource::default()
                    .with_resource_type(resource_type.code())
                    .with_resource_name(text(name))
                    .with_pattern_type(pattern_type.code())
                    .with_acls(acls)
            })
            .collect(),
    )
}

/// Why a whole request is refused before its entries are looked at.
fn request_refusal(ctx: &RequestContext) -> Option<(ErrorCode, &'static str)> {
    if !ctx.authorizer_enabled() {
        return Some((ErrorCode::SECURITY_DISABLED, NO_AUTHORIZER));
    }
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return Some((
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.",
        ));
    }
    None
}

pub async fn create(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: CreateAclsRequest,
) -> CreateAclsResponse {
    let result = |code: i16, message: Option<String>| {
        AclCreationResult::default()
            .with_error_code(code)
            .with_error_message(message.map(StrBytes::from_string))
    };
    if let Some((code, message)) = request_refusal(ctx) {
        return CreateAclsResponse::default().with_results(
            r.creations
                .iter()
                .map(|_| result(code.0, Some(message.to_string())))
                .collect(),
        );
    }
    let parsed: Vec<Result<AclBinding, AclError>> = r
        .creations
        .iter()
        .map(|c| binding_from(c, ctx.api_version))
        .collect();
    let valid: Vec<AclBinding> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    let committed: Result<(), AdminError> = if valid.is_empty() {
        Ok(())
    } else {
        let count = valid.len();
        let outcome = cluster
            .propose(MetadataCommand::CreateAcls { bindings: valid })
            .await
            .map(drop);
        if outcome.is_ok() {
            tracing::info!("{} created {count} ACL binding(s)", ctx.principal());
            ctx.session.listener.authorization.update(&cluster.image());
        }
        outcome
    };
    let results = parsed
        .into_iter()
        .map(|p| match (p, &committed) {
            (Err(e), _) => result(e.code(), Some(e.message().to_string())),
            (Ok(_), Ok(())) => result(0, None),
            (Ok(_), Err(e)) => result(e.code.0, Some(e.message.clone())),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

fn matching_acl(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(text(&b.resource_name))
        .with_pattern_type(b.pattern_type.code())
        .with_principal(text(&b.principal))
        .with_host(text(&b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}

pub async fn delete(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let failed = |code: i16, message: String| {
        DeleteAclsFilterResult::default()
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message)))
    };
    if let Some((code, message)) = request_refusal(ctx) {
        return DeleteAclsResponse::default().with_filter_results(
            r.filters
                .iter()
                .map(|_| failed(code.0, message.to_string()))
                .collect(),
        );
    }
    let parsed: Vec<Result<AclBindingFilter, AclError>> = r
        .filters
        .iter()
        .map(|f: &DeleteAclsFilter| {
            filter_from(
                f.resource_type_filter,
                f.resource_name_filter.as_ref(),
                f.pattern_type_filter,
                f.principal_filter.as_ref(),
                f.host_filter.as_ref(),
                f.operation,
                f.permission_type,
                ctx.api_version,
            )
        })
        .collect();
    let valid: Vec<AclBindingFilter> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .cloned()
        .collect();
    let committed = if valid.is_empty() {
        Ok(Vec::new())
    } else {
        match cluster
            .propose(MetadataCommand::DeleteAcls { filters: valid })
            .await
        {
            Ok(CommandOutput::AclsDeleted(deleted)) => {
                let count: usize = deleted.iter().map(Vec::len).sum();
                tracing::info!("{} deleted {count} ACL binding(s)", ctx.principal());
                ctx.session.listener.authorization.update(&cluster.image());
                Ok(deleted)
            }
            Ok(other) => Err(AdminError::new(
                ErrorCode::UNKNOWN_SERVER_ERROR,
                format!("unexpected controller answer {other:?}"),
            )),
            Err(e) => Err(e),
        }
    };
    let mut deleted = match &committed {
        Ok(d) => d.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    let results = parsed
        .into_iter()
        .map(|p| match (p, &committed) {
            (Err(e), _) => failed(e.code(), e.message().to_string()),
            (Ok(_), Ok(_)) => DeleteAclsFilterResult::default().with_matching_acls(
                deleted
                    .next()
                    .unwrap_or_default()
                    .iter()
                    .map(matching_acl)
                    .collect(),
            ),
            (Ok(_), Err(e)) => failed(e.code.0, e.message.clone()),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

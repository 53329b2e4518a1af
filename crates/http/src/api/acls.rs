//! `/api/v1/acls`: the cluster's ACL bindings (DescribeAcls, CreateAcls, DeleteAcls v1-3),
//! with the CLI's requests and readers of the answers ([`sluice_client::acl`], as `sluice acl
//! list|create|delete`). Requests go to any broker; the broker checks the bindings (and
//! that the caller may ALTER / DESCRIBE the cluster) and its refusal is the answer.
//!
//! A binding in JSON is `sluice_security::acl::AclBinding`'s: Kafka's upper-case names
//! (`TOPIC`, `LITERAL`, `READ`, `ALLOW`); names are read as `kafka-acls` reads them (case and
//! `-`/`_` do not matter).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use serde::Deserialize;
use serde_json::json;
use sluice_client::acl::{
    create_outcome, create_request, delete_outcome, delete_request, describe_request,
    described_bindings, VERSIONS,
};
use sluice_client::wire::RequestError;
use sluice_security::acl::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
    WILDCARD_HOST,
};

use super::access::Caller;
use super::{deadline, json_body, query_params, ApiError};

/// A binding to create, as the body gives it (names checked in [`binding`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingBody {
    resource_type: String,
    resource_name: String,
    pattern_type: Option<String>,
    principal: String,
    host: Option<String>,
    operation: String,
    permission: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    acls: Vec<BindingBody>,
}

/// A filter, as a query string or a delete body gives it: every field may be left out (any).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    resource_type: Option<String>,
    resource_name: Option<String>,
    pattern_type: Option<String>,
    principal: Option<String>,
    host: Option<String>,
    operation: Option<String>,
    permission: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    filters: Vec<FilterBody>,
}

/// One of the ACL enums by name; a name Kafka does not define is a 400 naming the field.
fn named<T: Copy + std::fmt::Display>(
    field: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    values: &[T],
) -> Result<T, ApiError> {
    parse(text.trim()).ok_or_else(|| {
        let names: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        ApiError::bad_request(format!(
            "{field} '{text}' is not one of {}",
            names.join(", ")
        ))
    })
}

fn resource_type(text: &str) -> Result<ResourceType, ApiError> {
    named(
        "resource_type",
        text,
        ResourceType::parse,
        ResourceType::VALUES,
    )
}

fn pattern_type(text: &str) -> Result<PatternType, ApiError> {
    named(
        "pattern_type",
        text,
        PatternType::parse,
        PatternType::VALUES,
    )
}

fn operation(text: &str) -> Result<AclOperation, ApiError> {
    named("operation", text, AclOperation::parse, AclOperation::VALUES)
}

fn permission(text: &str) -> Result<AclPermissionType, ApiError> {
    named(
        "permission",
        text,
        AclPermissionType::parse,
        AclPermissionType::VALUES,
    )
}

fn binding(body: &BindingBody) -> Result<AclBinding, ApiError> {
    Ok(AclBinding::new(
        resource_type(&body.resource_type)?,
        body.resource_name.as_str(),
        match &body.pattern_type {
            Some(p) => pattern_type(p)?,
            None => PatternType::Literal,
        },
        body.principal.trim(),
        body.host.as_deref().unwrap_or(WILDCARD_HOST),
        operation(&body.operation)?,
        match &body.permission {
            Some(p) => permission(p)?,
            None => AclPermissionType::Allow,
        },
    ))
}

fn filter(body: &FilterBody) -> Result<AclBindingFilter, ApiError> {
    let text = |v: &Option<String>| v.as_ref().filter(|s| !s.is_empty()).cloned();
    Ok(AclBindingFilter {
        resource_type: match text(&body.resource_type) {
            Some(t) => resource_type(&t)?,
            None => ResourceType::Any,
        },
        resource_name: text(&body.resource_name),
        pattern_type: match text(&body.pattern_type) {
            Some(p) => pattern_type(&p)?,
            None => PatternType::Any,
        },
        principal: text(&body.principal),
        host: text(&body.host),
        operation: match text(&body.operation) {
            Some(o) => operation(&o)?,
            None => AclOperation::Any,
        },
        permission: match text(&body.permission) {
            Some(p) => permission(&p)?,
            None => AclPermissionType::Any,
        },
    })
}

/// The filter of a query string (`?resource_type=topic&principal=User:alice`).
fn query_filter(params: &BTreeMap<String, String>) -> Result<AclBindingFilter, ApiError> {
    let mut body = FilterBody::default();
    for (key, value) in params {
        let slot = match key.as_str() {
            "resource_type" => &mut body.resource_type,
            "resource_name" => &mut body.resource_name,
            "pattern_type" => &mut body.pattern_type,
            "principal" => &mut body.principal,
            "host" => &mut body.host,
            "operation" => &mut body.operation,
            "permission" => &mut body.permission,
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{other}' (resource_type, resource_name, pattern_type, principal, host, operation, permission)"
                )))
            }
        };
        *slot = Some(value.clone());
    }
    filter(&body)
}

fn request_failed(doing: &str) -> impl Fn(RequestError) -> ApiError + '_ {
    move |e| ApiError::from(e.context(doing))
}

/// `GET /acls`: the bindings a filter of query parameters matches (every one without).
pub async fn list(
    mut caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let result: Result<serde_json::Value, ApiError> = async {
        let filter = query_filter(&query_params(query.as_deref())?)?;
        let (response, _) = caller
            .send_to_any::<DescribeAclsRequest>(VERSIONS, |_| describe_request(&filter), deadline())
            .await
            .map_err(request_failed("listing ACLs"))?;
        let mut acls = described_bindings(&response)?;
        acls.sort();
        acls.dedup();
        Ok(json!({ "acls": acls }))
    }
    .await;
    caller.check(result).map(Json)
}

/// `POST /acls`: body `{"acls": [binding, ...]}`; 201 with the bindings created. A binding
/// the broker refuses fails the request with its error (the others of the body may have
/// been created: CreateAcls creates each on its own, as Kafka does).
pub async fn create(mut caller: Caller, body: Bytes) -> Result<Response, ApiError> {
    let result: Result<Response, ApiError> = async {
        let body: CreateBody = json_body(&body)?;
        if body.acls.is_empty() {
            return Err(ApiError::bad_request("give at least one ACL in \"acls\""));
        }
        let bindings = body
            .acls
            .iter()
            .map(binding)
            .collect::<Result<Vec<_>, _>>()?;
        let (response, _) = caller
            .send_to_any::<CreateAclsRequest>(VERSIONS, |_| create_request(&bindings), deadline())
            .await
            .map_err(request_failed("creating ACLs"))?;
        let outcome = create_outcome(&bindings, &response)
            .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, None, e.to_string()))?;
        if let Some(refused) = outcome.refused.first() {
            let mut error = ApiError::from(refused.error());
            if !outcome.created.is_empty() {
                error.message.push_str(&format!(
                    " ({} of {} ACLs were created)",
                    outcome.created.len(),
                    bindings.len()
                ));
            }
            return Err(error);
        }
        Ok((
            StatusCode::CREATED,
            Json(json!({ "created": outcome.created })),
        )
            .into_response())
    }
    .await;
    caller.check(result)
}

/// `DELETE /acls`: body `{"filters": [filter, ...]}`; the bindings deleted. A filter that
/// names neither a resource name nor a principal is refused: it would delete every ACL of
/// its type.
pub async fn delete(mut caller: Caller, body: Bytes) -> Result<Json<serde_json::Value>, ApiError> {
    let result: Result<serde_json::Value, ApiError> = async {
        let body: DeleteBody = json_body(&body)?;
        if body.filters.is_empty() {
            return Err(ApiError::bad_request("give at least one filter in \"filters\""));
        }
        let filters = body
            .filters
            .iter()
            .map(filter)
            .collect::<Result<Vec<_>, _>>()?;
        if filters
            .iter()
            .any(|f| f.resource_name.is_none() && f.principal.is_none())
        {
            return Err(ApiError::bad_request(
                "a delete filter must name a resource_name or a principal: otherwise it would delete every ACL of its type",
            ));
        }
        let (response, _) = caller
            .send_to_any::<DeleteAclsRequest>(VERSIONS, |_| delete_request(&filters), deadline())
            .await
            .map_err(request_failed("deleting ACLs"))?;
        let outcome = delete_outcome(&response);
        if let Some(first) = outcome.errors.first() {
            // The codes are in the lines; the first refused filter's is the answer.
            let code = response
                .filter_results
                .iter()
                .map(|r| r.error_code)
                .chain(
                    response
                        .filter_results
                        .iter()
                        .flat_map(|r| r.matching_acls.iter().map(|a| a.error_code)),
                )
                .find(|c| *c != 0)
                .unwrap_or(-1);
            return Err(ApiError::new(
                ApiError::status_of(code),
                Some(code),
                first.clone(),
            ));
        }
        Ok(json!({ "deleted": outcome.deleted }))
    }
    .await;
    caller.check(result).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_query_filter_reads_kafkas_names_and_leaves_the_rest_any() {
        let filter = query_filter(&params(&[
            ("resource_type", "transactional-id"),
            ("principal", "User:alice"),
        ]))
        .expect("a filter");
        assert_eq!(
            filter,
            AclBindingFilter {
                resource_type: ResourceType::TransactionalId,
                principal: Some("User:alice".to_string()),
                ..AclBindingFilter::any()
            }
        );
        assert_eq!(
            query_filter(&BTreeMap::new()).expect("any"),
            AclBindingFilter::any()
        );
    }

    #[test]
    fn unknown_names_and_parameters_are_400s() {
        for bad in [
            params(&[("resource_type", "planet")]),
            params(&[("operation", "fly")]),
            params(&[("colour", "red")]),
        ] {
            let error = query_filter(&bad).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_binding_has_kafkas_defaults() {
        let body = BindingBody {
            resource_type: "topic".to_string(),
            resource_name: "orders".to_string(),
            pattern_type: None,
            principal: "User:bob".to_string(),
            host: None,
            operation: "read".to_string(),
            permission: None,
        };
        assert_eq!(
            binding(&body).expect("a binding"),
            AclBinding::new(
                ResourceType::Topic,
                "orders",
                PatternType::Literal,
                "User:bob",
                "*",
                AclOperation::Read,
                AclPermissionType::Allow
            )
        );
    }
}

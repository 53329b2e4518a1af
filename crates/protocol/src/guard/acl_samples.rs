//! Populated DescribeAcls (29), CreateAcls (30) and DeleteAcls (31) requests and responses, for
//! `samples.rs` and `response_samples.rs` (tests and the `test-encoders` feature only). All three
//! APIs are decoded from v1 and flexible from v2. Codes (Kafka's `ResourceType`, `PatternType`,
//! `AclOperation`, `AclPermissionType`) are real ones but differ from kafka-protocol's defaults,
//! and every nullable string is null in one array entry and set in another.

use kafka_protocol::messages::*;

use super::samples::{s, tags};

const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const PATTERN_ANY: i8 = 1;
const PATTERN_MATCH: i8 = 2;
const PATTERN_PREFIXED: i8 = 4;
const OPERATION_ANY: i8 = 1;
const READ: i8 = 3;
const WRITE: i8 = 4;
const PERMISSION_ANY: i8 = 1;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

pub(super) fn describe_request(v: i16) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(s("orders")))
        .with_pattern_type_filter(PATTERN_MATCH)
        .with_principal_filter(Some(s("User:alice")))
        // Null: any host.
        .with_host_filter(None)
        .with_operation(READ)
        .with_permission_type(ALLOW)
        .with_unknown_tagged_fields(tags(v, 2))
}

pub(super) fn create_request(v: i16) -> CreateAclsRequest {
    use create_acls_request::*;
    let allow = AclCreation::default()
        .with_resource_type(TOPIC)
        .with_resource_name(s("orders-"))
        .with_resource_pattern_type(PATTERN_PREFIXED)
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(WRITE)
        .with_permission_type(ALLOW)
        .with_unknown_tagged_fields(tags(v, 2));
    let deny = AclCreation::default()
        .with_resource_type(GROUP)
        .with_resource_name(s("payments-"))
        .with_resource_pattern_type(PATTERN_PREFIXED)
        .with_principal(s("User:mallory"))
        .with_host(s("10.0.0.7"))
        .with_operation(READ)
        .with_permission_type(DENY)
        .with_unknown_tagged_fields(tags(v, 2));
    CreateAclsRequest::default()
        .with_creations(vec![allow, deny])
        .with_unknown_tagged_fields(tags(v, 2))
}

pub(super) fn delete_request(v: i16) -> DeleteAclsRequest {
    use delete_acls_request::*;
    let exact = DeleteAclsFilter::default()
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(s("orders")))
        .with_pattern_type_filter(PATTERN_MATCH)
        .with_principal_filter(Some(s("User:alice")))
        .with_host_filter(Some(s("10.0.0.7")))
        .with_operation(WRITE)
        .with_permission_type(DENY)
        .with_unknown_tagged_fields(tags(v, 2));
    // Null name, principal and host: the filter matches any.
    let any = DeleteAclsFilter::default()
        .with_resource_type_filter(GROUP)
        .with_resource_name_filter(None)
        .with_pattern_type_filter(PATTERN_ANY)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(OPERATION_ANY)
        .with_permission_type(PERMISSION_ANY)
        .with_unknown_tagged_fields(tags(v, 2));
    DeleteAclsRequest::default()
        .with_filters(vec![exact, any])
        .with_unknown_tagged_fields(tags(v, 2))
}

pub(super) fn describe_response(v: i16) -> DescribeAclsResponse {
    use describe_acls_response::*;
    let acl = |principal, host, operation| {
        AclDescription::default()
            .with_principal(s(principal))
            .with_host(s(host))
            .with_operation(operation)
            .with_permission_type(ALLOW)
            .with_unknown_tagged_fields(tags(v, 2))
    };
    let resource = DescribeAclsResource::default()
        .with_resource_type(TOPIC)
        .with_resource_name(s("orders-"))
        .with_pattern_type(PATTERN_PREFIXED)
        .with_acls(vec![
            acl("User:alice", "*", READ),
            acl("User:bob", "10.0.0.7", WRITE),
        ])
        .with_unknown_tagged_fields(tags(v, 2));
    DescribeAclsResponse::default()
        .with_throttle_time_ms(3)
        .with_error_code(31)
        // Null: the client falls back on the error code's own message.
        .with_error_message(None)
        .with_resources(vec![resource.clone(), resource])
        .with_unknown_tagged_fields(tags(v, 2))
}

pub(super) fn create_response(v: i16) -> CreateAclsResponse {
    use create_acls_response::*;
    let result = |error_code, error_message| {
        AclCreationResult::default()
            .with_error_code(error_code)
            .with_error_message(error_message)
            .with_unknown_tagged_fields(tags(v, 2))
    };
    CreateAclsResponse::default()
        .with_throttle_time_ms(4)
        .with_results(vec![
            result(42, Some(s("invalid principal"))),
            result(31, None),
        ])
        .with_unknown_tagged_fields(tags(v, 2))
}

pub(super) fn delete_response(v: i16) -> DeleteAclsResponse {
    use delete_acls_response::*;
    let matching = |error_code, error_message, principal| {
        DeleteAclsMatchingAcl::default()
            .with_error_code(error_code)
            .with_error_message(error_message)
            .with_resource_type(TOPIC)
            .with_resource_name(s("orders"))
            .with_pattern_type(PATTERN_PREFIXED)
            .with_principal(s(principal))
            .with_host(s("*"))
            .with_operation(WRITE)
            .with_permission_type(DENY)
            .with_unknown_tagged_fields(tags(v, 2))
    };
    let filter_result = |error_code, error_message| {
        DeleteAclsFilterResult::default()
            .with_error_code(error_code)
            .with_error_message(error_message)
            .with_matching_acls(vec![
                matching(0, None, "User:alice"),
                matching(42, Some(s("no such acl")), "User:bob"),
            ])
            .with_unknown_tagged_fields(tags(v, 2))
    };
    DeleteAclsResponse::default()
        .with_throttle_time_ms(6)
        .with_filter_results(vec![
            filter_result(0, None),
            filter_result(31, Some(s("cluster authorization failed"))),
        ])
        .with_unknown_tagged_fields(tags(v, 2))
}

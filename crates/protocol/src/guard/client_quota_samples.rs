//! Populated DescribeClientQuotas (48) and AlterClientQuotas (49) requests and responses, for
//! `samples.rs` and `response_samples.rs` (tests and the `test-encoders` feature only). Both APIs
//! are flexible from v1. Every nullable string is null in one array entry and set in another, and
//! the float64 quota values are not zero.

use kafka_protocol::messages::*;

use super::samples::{s, tags};

// DescribeClientQuotas match types (KIP-546).
const MATCH_EXACT: i8 = 0;
const MATCH_ANY: i8 = 2;

pub(super) fn describe_request(v: i16) -> DescribeClientQuotasRequest {
    use describe_client_quotas_request::*;
    let exact = ComponentData::default()
        .with_entity_type(s("user"))
        .with_match_type(MATCH_EXACT)
        .with_match(Some(s("alice")))
        .with_unknown_tagged_fields(tags(v, 1));
    let any = ComponentData::default()
        .with_entity_type(s("client-id"))
        .with_match_type(MATCH_ANY)
        .with_match(None)
        .with_unknown_tagged_fields(tags(v, 1));
    DescribeClientQuotasRequest::default()
        .with_components(vec![exact, any])
        .with_strict(true)
        .with_unknown_tagged_fields(tags(v, 1))
}

pub(super) fn alter_request(v: i16) -> AlterClientQuotasRequest {
    use alter_client_quotas_request::*;
    let entity = |entity_type, entity_name| {
        EntityData::default()
            .with_entity_type(s(entity_type))
            .with_entity_name(entity_name)
            .with_unknown_tagged_fields(tags(v, 1))
    };
    let op = |key, value, remove| {
        OpData::default()
            .with_key(s(key))
            .with_value(value)
            .with_remove(remove)
            .with_unknown_tagged_fields(tags(v, 1))
    };
    let entry = EntryData::default()
        .with_entity(vec![
            entity("user", Some(s("alice"))),
            // Null: the default client id.
            entity("client-id", None),
        ])
        .with_ops(vec![
            op("producer_byte_rate", 1_048_576.0, false),
            op("request_percentage", 12.5, true),
        ])
        .with_unknown_tagged_fields(tags(v, 1));
    AlterClientQuotasRequest::default()
        .with_entries(vec![entry.clone(), entry])
        .with_validate_only(true)
        .with_unknown_tagged_fields(tags(v, 1))
}

pub(super) fn describe_response(v: i16) -> DescribeClientQuotasResponse {
    use describe_client_quotas_response::*;
    let entity = |entity_type, entity_name| {
        EntityData::default()
            .with_entity_type(s(entity_type))
            .with_entity_name(entity_name)
            .with_unknown_tagged_fields(tags(v, 1))
    };
    let value = |key, value| {
        ValueData::default()
            .with_key(s(key))
            .with_value(value)
            .with_unknown_tagged_fields(tags(v, 1))
    };
    let entry = EntryData::default()
        .with_entity(vec![
            entity("user", Some(s("alice"))),
            entity("client-id", None),
        ])
        .with_values(vec![
            value("consumer_byte_rate", 2_097_152.0),
            value("request_percentage", 0.25),
        ])
        .with_unknown_tagged_fields(tags(v, 1));
    DescribeClientQuotasResponse::default()
        .with_throttle_time_ms(8)
        .with_error_code(35)
        .with_error_message(Some(s("unsupported entity type")))
        .with_entries(Some(vec![entry.clone(), entry]))
        .with_unknown_tagged_fields(tags(v, 1))
}

pub(super) fn alter_response(v: i16) -> AlterClientQuotasResponse {
    use alter_client_quotas_response::*;
    let entity = |entity_type, entity_name| {
        EntityData::default()
            .with_entity_type(s(entity_type))
            .with_entity_name(entity_name)
            .with_unknown_tagged_fields(tags(v, 1))
    };
    let entry = |error_code, error_message| {
        EntryData::default()
            .with_error_code(error_code)
            .with_error_message(error_message)
            .with_entity(vec![
                entity("user", Some(s("alice"))),
                entity("client-id", None),
            ])
            .with_unknown_tagged_fields(tags(v, 1))
    };
    AlterClientQuotasResponse::default()
        .with_throttle_time_ms(9)
        .with_entries(vec![
            entry(0, None),
            entry(42, Some(s("unknown quota key"))),
        ])
        .with_unknown_tagged_fields(tags(v, 1))
}

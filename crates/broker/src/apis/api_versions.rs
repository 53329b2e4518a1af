//! ApiVersions: what this broker implements, exactly.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use sluice_protocol::error::ErrorCode;

use super::request::{encode_with_header, RequestContext, Unparseable};
use super::SUPPORTED_APIS;

fn api_table() -> Vec<ApiVersion> {
    SUPPORTED_APIS
        .iter()
        .map(|(key, min, max)| {
            ApiVersion::default()
                .with_api_key(*key as i16)
                .with_min_version(*min)
                .with_max_version(*max)
        })
        .collect()
}

pub async fn handle(_ctx: &RequestContext, _request: ApiVersionsRequest) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(api_table())
        .with_finalized_features_epoch(-1)
}

/// The reply to an ApiVersions version newer than ours: UNSUPPORTED_VERSION in the v0 body
/// layout, listing at least our ApiVersions range, so the client retries with a version we know.
pub fn unsupported_version(correlation_id: i32) -> Result<Bytes, Unparseable> {
    let body = ApiVersionsResponse::default()
        .with_error_code(ErrorCode::UNSUPPORTED_VERSION.0)
        .with_api_keys(api_table());
    // ApiVersions responses always use response header v0.
    encode_with_header(
        correlation_id,
        ApiKey::ApiVersions.response_header_version(0),
        0,
        &body,
    )
}

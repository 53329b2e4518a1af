//! ApiVersions: what this broker implements, exactly, and (v3+, KIP-584) the features it
//! supports and the cluster's finalized feature levels with their epoch, from the metadata
//! image (see `sluice_controller`'s `features`).
//!
//! Before v4 a supported feature whose range starts at 0 is sent starting at 1, or left out
//! when its range is 0 to 0: Java clients before 3.9 refuse a minimum of 0 (KAFKA-17011,
//! which ApiVersions v4 fixed), as Kafka's broker does. Finalized features list only levels
//! above 0, with the level as both minimum and maximum, as Kafka does.

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataImage, SUPPORTED_FEATURES};
use sluice_protocol::error::ErrorCode;

use super::request::{encode_with_header, RequestContext, Unparseable};
use super::SUPPORTED_APIS;
use crate::cluster::Cluster;

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

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    _request: ApiVersionsRequest,
) -> ApiVersionsResponse {
    let response = ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(api_table());
    if ctx.api_version < 3 {
        return response;
    }
    let image = cluster.image();
    with_features(response, &image, ctx.api_version)
}

/// `response` with the supported and finalized features (v3+).
fn with_features(
    response: ApiVersionsResponse,
    image: &MetadataImage,
    v: i16,
) -> ApiVersionsResponse {
    let supported = SUPPORTED_FEATURES
        .iter()
        .filter_map(|f| {
            let min = if v < 4 && f.min_level == 0 {
                if f.max_level == 0 {
                    return None;
                }
                1
            } else {
                f.min_level
            };
            Some(
                SupportedFeatureKey::default()
                    .with_name(StrBytes::from_static_str(f.name))
                    .with_min_version(min)
                    .with_max_version(f.max_level),
            )
        })
        .collect();
    let finalized = image
        .finalized_features()
        .into_iter()
        .map(|(name, level)| {
            FinalizedFeatureKey::default()
                .with_name(StrBytes::from_static_str(name))
                .with_min_version_level(level)
                .with_max_version_level(level)
        })
        .collect();
    response
        .with_supported_features(supported)
        .with_finalized_features(finalized)
        .with_finalized_features_epoch(image.features_epoch())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn features(v: i16) -> ApiVersionsResponse {
        with_features(ApiVersionsResponse::default(), &MetadataImage::default(), v)
    }

    fn supported(r: &ApiVersionsResponse) -> Vec<(String, i16, i16)> {
        r.supported_features
            .iter()
            .map(|f| (f.name.to_string(), f.min_version, f.max_version))
            .collect()
    }

    #[test]
    fn v4_advertises_ranges_from_zero_and_v3_does_not() {
        assert_eq!(
            supported(&features(4)),
            vec![
                ("metadata.version".to_string(), 27, 27),
                ("group.version".to_string(), 0, 1),
                ("transaction.version".to_string(), 0, 0),
            ]
        );
        assert_eq!(
            supported(&features(3)),
            vec![
                ("metadata.version".to_string(), 27, 27),
                ("group.version".to_string(), 1, 1),
            ]
        );
    }

    #[test]
    fn finalized_levels_above_zero_are_listed_with_their_epoch() {
        let r = features(4);
        let finalized: Vec<(String, i16, i16)> = r
            .finalized_features
            .iter()
            .map(|f| (f.name.to_string(), f.min_version_level, f.max_version_level))
            .collect();
        assert_eq!(
            finalized,
            vec![
                ("group.version".to_string(), 1, 1),
                ("metadata.version".to_string(), 27, 27),
            ]
        );
        assert_eq!(r.finalized_features_epoch, 0);
    }
}

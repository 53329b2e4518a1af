//! Populated ListConfigResources (74) requests and responses, for `samples.rs` and
//! `response_samples.rs` (tests and the `test-encoders` feature only). Flexible from v0;
//! `resource_types` and each resource's `resource_type` are v1+.

use kafka_protocol::messages::*;

use super::samples::{s, tags};

pub(super) fn request(v: i16) -> ListConfigResourcesRequest {
    ListConfigResourcesRequest::default()
        .with_resource_types(if v >= 1 { vec![2, 4] } else { Vec::new() })
        .with_unknown_tagged_fields(tags(v, 0))
}

pub(super) fn response(v: i16) -> ListConfigResourcesResponse {
    use list_config_resources_response::*;
    let resource = |name| {
        ConfigResource::default()
            .with_resource_name(s(name))
            .with_resource_type(if v >= 1 { 2 } else { 0 })
            .with_unknown_tagged_fields(tags(v, 0))
    };
    ListConfigResourcesResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_config_resources(vec![resource("orders"), resource("payments")])
        .with_unknown_tagged_fields(tags(v, 0))
}

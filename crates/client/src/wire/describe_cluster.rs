//! DescribeCluster v0-v2 (KIP-700; v1 adds the endpoint type of KIP-919, v2 the fenced state of
//! KIP-1073): the cluster id, the controller and the brokers, asked of any broker.

use std::ops::RangeInclusive;

use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

use super::RequestError;

pub const VERSIONS: RangeInclusive<i16> = 0..=2;

/// `endpoint_type` for the brokers' client endpoints.
const ENDPOINT_BROKERS: i8 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedCluster {
    pub cluster_id: String,
    /// -1 when the broker knows no controller.
    pub controller_id: i32,
    pub brokers: Vec<DescribedBroker>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedBroker {
    pub broker_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    /// Only v2 answers say; `None` below.
    pub is_fenced: Option<bool>,
}

/// The brokers' endpoints, without authorized operations; from v2 the fenced brokers too, so
/// they show up as fenced instead of missing.
pub fn request(version: i16) -> DescribeClusterRequest {
    DescribeClusterRequest::default()
        .with_include_cluster_authorized_operations(false)
        .with_endpoint_type(ENDPOINT_BROKERS)
        .with_include_fenced_brokers(version >= 2)
}

pub fn from_response(
    response: DescribeClusterResponse,
    version: i16,
) -> Result<DescribedCluster, RequestError> {
    // The rest of an error answer carries defaults; the error is what matters.
    if response.error_code != 0 {
        return Err(RequestError::broker(
            response.error_code,
            "DescribeCluster",
            response.error_message.as_deref(),
        ));
    }
    Ok(DescribedCluster {
        cluster_id: response.cluster_id.to_string(),
        controller_id: response.controller_id.0,
        brokers: response
            .brokers
            .into_iter()
            .map(|b| DescribedBroker {
                broker_id: b.broker_id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.map(|r| r.to_string()),
                is_fenced: (version >= 2).then_some(b.is_fenced),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::protocol::StrBytes;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    #[test]
    fn the_request_asks_for_broker_endpoints_and_fenced_brokers_where_it_can() {
        assert!(request(2).include_fenced_brokers);
        assert!(!request(1).include_fenced_brokers);
        assert_eq!(request(1).endpoint_type, ENDPOINT_BROKERS);
    }

    #[test]
    fn answers_and_errors() {
        let response = DescribeClusterResponse::default()
            .with_cluster_id(s("c1"))
            .with_controller_id(BrokerId(2))
            .with_brokers(vec![DescribeClusterBroker::default()
                .with_broker_id(BrokerId(2))
                .with_host(s("h"))
                .with_port(9092)
                .with_is_fenced(true)]);
        let v2 = from_response(response.clone(), 2).expect("valid");
        assert_eq!(v2.controller_id, 2);
        assert_eq!(v2.brokers[0].is_fenced, Some(true));
        assert_eq!(
            from_response(response, 1).expect("valid").brokers[0].is_fenced,
            None
        );
        let failed = DescribeClusterResponse::default()
            .with_error_code(31)
            .with_error_message(Some(s("no")));
        assert_eq!(
            from_response(failed, 2).expect_err("error").to_string(),
            "DescribeCluster: Broker: Cluster authorization failed \
             (CLUSTER_AUTHORIZATION_FAILED): no"
        );
    }
}

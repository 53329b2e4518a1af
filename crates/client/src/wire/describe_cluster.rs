//! DescribeCluster v0-v2 (KIP-700; v1 adds the endpoint type of KIP-919, v2 the fenced state of
//! KIP-1073): the cluster id, the controller and the brokers, asked of any broker.
//!
//! Every version is flexible. Wire layout (see `reader.rs` for the types):
//!
//! ```text
//! request    BOOLEAN include_cluster_authorized_operations,
//!            int8 endpoint_type (v1+; 1 = brokers, 2 = controllers),
//!            BOOLEAN include_fenced_brokers (v2+), TAGGED_FIELDS
//! response   int32 throttle_time_ms, int16 error_code, COMPACT_NULLABLE_STRING error_message,
//!            int8 endpoint_type (v1+), COMPACT_STRING cluster_id, int32 controller_id,
//!            COMPACT_ARRAY brokers:
//!                int32 broker_id, COMPACT_STRING host, int32 port,
//!                COMPACT_NULLABLE_STRING rack, BOOLEAN is_fenced (v2+), TAGGED_FIELDS
//!            int32 cluster_authorized_operations, TAGGED_FIELDS
//! ```

use kafka_protocol::messages::DescribeClusterRequest;

use super::{Reader, RequestError};

pub const OLDEST_VERSION: i16 = 0;
pub const NEWEST_VERSION: i16 = 2;

/// `endpoint_type` for the brokers' client endpoints.
const ENDPOINT_BROKERS: i8 = 1;

/// Smallest encoding of a broker: empty host, null rack, no fenced flag, no tagged fields.
const BROKER_MIN_BYTES: usize = 4 + 1 + 4 + 1 + 1;

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

pub fn parse(body: &[u8], version: i16) -> Result<DescribedCluster, RequestError> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let error_code = r.i16()?;
    let error_message = r.compact_nullable_string()?;
    if version >= 1 {
        let _endpoint_type = r.i8()?;
    }
    // The rest of an error answer carries defaults; the error is what matters.
    if error_code != 0 {
        return Err(RequestError::broker(
            error_code,
            "DescribeCluster",
            error_message.as_deref(),
        ));
    }
    let cluster_id = r.compact_string()?;
    let controller_id = r.i32()?;
    let count = r.compact_count(BROKER_MIN_BYTES)?;
    let mut brokers = Vec::new();
    for _ in 0..count {
        let broker_id = r.i32()?;
        let host = r.compact_string()?;
        let port = r.i32()?;
        let rack = r.compact_nullable_string()?;
        let is_fenced = if version >= 2 {
            Some(r.boolean()?)
        } else {
            None
        };
        r.skip_tagged_fields()?;
        brokers.push(DescribedBroker {
            broker_id,
            host,
            port,
            rack,
            is_fenced,
        });
    }
    let _cluster_authorized_operations = r.i32()?;
    r.skip_tagged_fields()?;
    Ok(DescribedCluster {
        cluster_id,
        controller_id,
        brokers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::{BrokerId, DescribeClusterResponse};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, version).expect("encodes");
        buf
    }

    fn three_brokers(version: i16) -> DescribeClusterResponse {
        let broker = |id: i32, port: i32, rack: Option<&str>, fenced: bool| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(id))
                .with_host(s("127.0.0.1"))
                .with_port(port)
                .with_rack(rack.map(s))
                .with_is_fenced(fenced && version >= 2)
        };
        DescribeClusterResponse::default()
            .with_cluster_id(s("MkU3OEVBNTcwNTJENDM2Qg"))
            .with_controller_id(BrokerId(2))
            .with_brokers(vec![
                broker(1, 19092, Some("r1"), false),
                broker(2, 19094, None, true),
                broker(3, 19096, None, false),
            ])
            .with_cluster_authorized_operations(i32::MIN)
    }

    #[test]
    fn the_request_asks_for_broker_endpoints_and_fenced_brokers_where_it_can() {
        // v2: no authorized operations, endpoint type 1, fenced brokers, no tagged fields.
        assert_eq!(encode(&request(2), 2), vec![0, 1, 1, 0]);
        assert_eq!(encode(&request(1), 1), vec![0, 1, 0]);
        assert_eq!(encode(&request(0), 0), vec![0, 0]);
    }

    #[test]
    fn every_version_is_read() {
        for version in OLDEST_VERSION..=NEWEST_VERSION {
            let described =
                parse(&encode(&three_brokers(version), version), version).expect("parses");
            assert_eq!(described.cluster_id, "MkU3OEVBNTcwNTJENDM2Qg");
            assert_eq!(described.controller_id, 2);
            let fenced = |f: bool| (version >= 2).then_some(f);
            assert_eq!(
                described.brokers,
                vec![
                    DescribedBroker {
                        broker_id: 1,
                        host: "127.0.0.1".into(),
                        port: 19092,
                        rack: Some("r1".into()),
                        is_fenced: fenced(false),
                    },
                    DescribedBroker {
                        broker_id: 2,
                        host: "127.0.0.1".into(),
                        port: 19094,
                        rack: None,
                        is_fenced: fenced(true),
                    },
                    DescribedBroker {
                        broker_id: 3,
                        host: "127.0.0.1".into(),
                        port: 19096,
                        rack: None,
                        is_fenced: fenced(false),
                    },
                ],
                "v{version}"
            );
        }
    }

    #[test]
    fn an_error_answer_is_the_error() {
        let answer = DescribeClusterResponse::default()
            .with_error_code(31) // CLUSTER_AUTHORIZATION_FAILED
            .with_error_message(Some(s("not for you")));
        let err = parse(&encode(&answer, 1), 1).expect_err("error code");
        assert!(
            matches!(&err, RequestError::Broker { code: 31, text }
                if text.starts_with("DescribeCluster: ") && text.ends_with(": not for you")),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_and_oversized_answers_fail_cleanly() {
        let body = encode(&three_brokers(2), 2);
        for len in 0..body.len() {
            assert!(parse(&body[..len], 2).is_err(), "cut at {len}");
        }
        // A broker count far beyond the bytes that follow.
        let mut huge = body[..4 + 2 + 1 + 1].to_vec(); // throttle, error, null message, type
        huge.extend_from_slice(&[1, 0, 0, 0, 0]); // cluster id "", controller 0
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = parse(&huge, 2).expect_err("too many brokers");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
}

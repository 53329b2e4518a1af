//! The response schemas proved against `kafka-protocol`'s own encoders and decoders, and the
//! response guard against hostile bodies.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Message, StrBytes, VersionRange};

use super::*;

/// Every (api key, version) the guard has a response schema for.
fn all_versions() -> Vec<(i16, i16)> {
    guarded_response_api_keys()
        .flat_map(|key| {
            let (min, max) = response_versions(key).unwrap_or((1, 0));
            (min..=max).map(move |v| (key, v))
        })
        .collect()
}

fn sample(api_key: i16, version: i16) -> Bytes {
    response_samples::encoded_body(api_key, version).unwrap_or_else(|e| panic!("{e}"))
}

fn decode(api_key: i16, version: i16, body: &[u8]) -> Result<(), String> {
    response_samples::decode_body(api_key, version, Bytes::copy_from_slice(body))
}

/// The versions kafka-protocol's response type decodes.
fn message_versions(api_key: i16) -> VersionRange {
    match api_key {
        0 => ProduceResponse::VERSIONS,
        1 => FetchResponse::VERSIONS,
        2 => ListOffsetsResponse::VERSIONS,
        3 => MetadataResponse::VERSIONS,
        8 => OffsetCommitResponse::VERSIONS,
        9 => OffsetFetchResponse::VERSIONS,
        10 => FindCoordinatorResponse::VERSIONS,
        11 => JoinGroupResponse::VERSIONS,
        12 => HeartbeatResponse::VERSIONS,
        13 => LeaveGroupResponse::VERSIONS,
        14 => SyncGroupResponse::VERSIONS,
        15 => DescribeGroupsResponse::VERSIONS,
        16 => ListGroupsResponse::VERSIONS,
        17 => SaslHandshakeResponse::VERSIONS,
        18 => ApiVersionsResponse::VERSIONS,
        19 => CreateTopicsResponse::VERSIONS,
        20 => DeleteTopicsResponse::VERSIONS,
        21 => DeleteRecordsResponse::VERSIONS,
        22 => InitProducerIdResponse::VERSIONS,
        23 => OffsetForLeaderEpochResponse::VERSIONS,
        24 => AddPartitionsToTxnResponse::VERSIONS,
        25 => AddOffsetsToTxnResponse::VERSIONS,
        26 => EndTxnResponse::VERSIONS,
        27 => WriteTxnMarkersResponse::VERSIONS,
        28 => TxnOffsetCommitResponse::VERSIONS,
        29 => DescribeAclsResponse::VERSIONS,
        30 => CreateAclsResponse::VERSIONS,
        31 => DeleteAclsResponse::VERSIONS,
        32 => DescribeConfigsResponse::VERSIONS,
        33 => AlterConfigsResponse::VERSIONS,
        34 => AlterReplicaLogDirsResponse::VERSIONS,
        35 => DescribeLogDirsResponse::VERSIONS,
        36 => SaslAuthenticateResponse::VERSIONS,
        37 => CreatePartitionsResponse::VERSIONS,
        42 => DeleteGroupsResponse::VERSIONS,
        43 => ElectLeadersResponse::VERSIONS,
        44 => IncrementalAlterConfigsResponse::VERSIONS,
        45 => AlterPartitionReassignmentsResponse::VERSIONS,
        46 => ListPartitionReassignmentsResponse::VERSIONS,
        47 => OffsetDeleteResponse::VERSIONS,
        48 => DescribeClientQuotasResponse::VERSIONS,
        49 => AlterClientQuotasResponse::VERSIONS,
        50 => DescribeUserScramCredentialsResponse::VERSIONS,
        51 => AlterUserScramCredentialsResponse::VERSIONS,
        55 => DescribeQuorumResponse::VERSIONS,
        57 => UpdateFeaturesResponse::VERSIONS,
        60 => DescribeClusterResponse::VERSIONS,
        64 => UnregisterBrokerResponse::VERSIONS,
        75 => DescribeTopicPartitionsResponse::VERSIONS,
        61 => DescribeProducersResponse::VERSIONS,
        65 => DescribeTransactionsResponse::VERSIONS,
        66 => ListTransactionsResponse::VERSIONS,
        68 => ConsumerGroupHeartbeatResponse::VERSIONS,
        69 => ConsumerGroupDescribeResponse::VERSIONS,
        74 => ListConfigResourcesResponse::VERSIONS,
        other => panic!("no response type listed for api key {other}"),
    }
}

#[test]
fn response_schema_versions_are_the_decoders_versions() {
    for key in guarded_response_api_keys() {
        let range = message_versions(key);
        assert_eq!(
            response_versions(key),
            Some((range.min, range.max)),
            "api {key}"
        );
        // Flexible bodies have a v1 response header, except ApiVersions (always v0).
        let header_flexible_since = (range.min..=range.max)
            .find(|v| ApiKey::try_from(key).map(|k| k.response_header_version(*v)) == Ok(1));
        let expected = if key == 18 {
            Some(3)
        } else {
            header_flexible_since
        };
        let schema_flexible_since = RESPONSE_SCHEMAS
            .iter()
            .find(|s| s.api_key == key)
            .map(|s| s.flexible_since)
            .filter(|v| *v <= range.max);
        assert_eq!(
            schema_flexible_since.map(|v| v.max(range.min)),
            expected.map(|v| v.max(range.min)),
            "flexible versions of api {key}"
        );
    }
}

#[test]
fn every_request_the_guard_knows_has_a_response_schema() {
    for key in guarded_api_keys() {
        assert!(response_versions(key).is_some(), "api {key}");
    }
}

#[test]
fn guard_accepts_every_populated_response_and_consumes_it_exactly() {
    let mut checked = 0;
    for (key, version) in all_versions() {
        let body = sample(key, version);
        assert_eq!(
            walk_response(key, version, &body),
            Ok(body.len()),
            "api {key} v{version}: {body:02x?}"
        );
        decode(key, version, &body)
            .unwrap_or_else(|e| panic!("api {key} v{version} does not decode: {e}"));
        checked += 1;
    }
    assert!(checked > 150, "only {checked} api versions checked");
}

#[test]
fn guard_rejects_every_truncated_response_and_the_decoder_errors_on_it() {
    for (key, version) in all_versions() {
        let body = sample(key, version);
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            assert!(
                check_response(key, version, prefix).is_err(),
                "api {key} v{version} accepted a cut at {cut} of {}",
                body.len()
            );
            assert!(
                decode(key, version, prefix).is_err(),
                "api {key} v{version} cut {cut}"
            );
        }
    }
}

#[test]
fn a_metadata_response_claiming_two_billion_brokers_is_refused() {
    // Metadata v1: int32 broker count 2^31-1, then three bytes.
    let body = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0];
    assert_eq!(
        check_response(3, 1, &body),
        Err(GuardError::CountTooLarge {
            field: "brokers",
            offset: 0,
            claimed: i32::MAX as u64,
            remaining: 3,
        })
    );
    // The same in a flexible version: a five-byte uvarint count.
    let body = [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07, 0];
    assert!(matches!(
        check_response(3, 12, &body),
        Err(GuardError::CountTooLarge {
            field: "brokers",
            claimed: 0x7fff_fffe,
            ..
        })
    ));
}

#[test]
fn oversized_counts_deep_in_a_fetch_response_are_refused() {
    // A valid Fetch v12 sample with the first partition's aborted-transaction count replaced by
    // a huge uvarint would shift everything after it; build the prefix by hand instead:
    // throttle, error, session, one topic "t", one partition, then the huge count.
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&[2, 2, b't']); // responses: 1 topic, name "t"
    body.push(2); // partitions: 1
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // partition_index, error_code
    body.extend_from_slice(&[0; 24]); // high watermark, last stable offset, log start offset
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // aborted_transactions
    body.extend_from_slice(&[0; 8]);
    assert!(matches!(
        check_response(1, 12, &body),
        Err(GuardError::CountTooLarge {
            field: "aborted_transactions",
            claimed: 4_294_967_294,
            ..
        })
    ));
    // A records length beyond the body.
    let mut body = body[..body.len() - 13].to_vec();
    body.push(1); // aborted_transactions: null
    body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]); // preferred_read_replica
    body.extend_from_slice(&[0x90, 0x4e]); // records: 9999 bytes claimed
    body.extend_from_slice(b"short");
    assert!(matches!(
        check_response(1, 12, &body),
        Err(GuardError::LengthTooLarge {
            field: "records",
            claimed: 9999,
            remaining: 5,
            ..
        })
    ));
}

#[test]
fn a_describe_client_quotas_response_with_null_entries_is_walked() {
    // The populated sample sets `entries`; a failed describe sends it null instead.
    for version in 0..=1 {
        let response = DescribeClientQuotasResponse::default()
            .with_error_code(35)
            .with_error_message(Some(StrBytes::from_static_str("unsupported entity type")))
            .with_entries(None);
        let mut buf = BytesMut::new();
        response
            .encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(
            walk_response(48, version, &buf),
            Ok(buf.len()),
            "v{version}"
        );
        let decoded = DescribeClientQuotasResponse::decode(&mut buf.freeze(), version)
            .unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(decoded.entries, None, "v{version}");
    }
}

#[test]
fn response_headers_are_walked() {
    assert_eq!(check_response_header(&[0, 0, 0, 7, 9, 9], 0), Ok(4));
    assert_eq!(check_response_header(&[0, 0, 0, 7, 0, 9], 1), Ok(5));
    assert_eq!(
        check_response_header(&[0, 0, 0, 7, 1, 3, 1, 0xaa], 1),
        Ok(8)
    );
    assert!(check_response_header(&[0, 0, 0], 0).is_err());
    assert!(check_response_header(&[0, 0, 0, 7], 1).is_err());
    assert!(check_response_header(&[0, 0, 0, 7, 1, 3, 9, 0xaa], 1).is_err());
}

#[test]
fn unknown_response_versions_have_no_schema() {
    assert_eq!(
        check_response(3, 14, &[]),
        Err(GuardError::NoResponseSchema {
            api_key: 3,
            api_version: 14
        })
    );
    assert!(check_response(1, 3, &[]).is_err());
    assert!(check_response(999, 0, &[]).is_err());
    assert_eq!(response_versions(999), None);
}

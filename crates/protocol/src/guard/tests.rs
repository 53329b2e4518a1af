use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Message, VersionRange};

use super::*;

/// Every (api key, version) the guard has a schema for.
fn all_versions() -> Vec<(i16, i16)> {
    guarded_api_keys()
        .flat_map(|key| {
            let (min, max) = supported_versions(key).unwrap_or((1, 0));
            (min..=max).map(move |v| (key, v))
        })
        .collect()
}

fn sample(api_key: i16, version: i16) -> Bytes {
    samples::encoded_body(api_key, version).unwrap_or_else(|e| panic!("{e}"))
}

fn decode(api_key: i16, version: i16, body: &[u8]) -> Result<(), String> {
    samples::decode_body(api_key, version, Bytes::copy_from_slice(body))
}

/// The versions kafka-protocol's message type decodes.
fn message_versions(api_key: i16) -> VersionRange {
    match api_key {
        0 => ProduceRequest::VERSIONS,
        1 => FetchRequest::VERSIONS,
        2 => ListOffsetsRequest::VERSIONS,
        3 => MetadataRequest::VERSIONS,
        8 => OffsetCommitRequest::VERSIONS,
        9 => OffsetFetchRequest::VERSIONS,
        10 => FindCoordinatorRequest::VERSIONS,
        11 => JoinGroupRequest::VERSIONS,
        12 => HeartbeatRequest::VERSIONS,
        13 => LeaveGroupRequest::VERSIONS,
        14 => SyncGroupRequest::VERSIONS,
        15 => DescribeGroupsRequest::VERSIONS,
        16 => ListGroupsRequest::VERSIONS,
        17 => SaslHandshakeRequest::VERSIONS,
        18 => ApiVersionsRequest::VERSIONS,
        19 => CreateTopicsRequest::VERSIONS,
        20 => DeleteTopicsRequest::VERSIONS,
        21 => DeleteRecordsRequest::VERSIONS,
        22 => InitProducerIdRequest::VERSIONS,
        23 => OffsetForLeaderEpochRequest::VERSIONS,
        24 => AddPartitionsToTxnRequest::VERSIONS,
        25 => AddOffsetsToTxnRequest::VERSIONS,
        26 => EndTxnRequest::VERSIONS,
        27 => WriteTxnMarkersRequest::VERSIONS,
        28 => TxnOffsetCommitRequest::VERSIONS,
        29 => DescribeAclsRequest::VERSIONS,
        30 => CreateAclsRequest::VERSIONS,
        31 => DeleteAclsRequest::VERSIONS,
        61 => DescribeProducersRequest::VERSIONS,
        65 => DescribeTransactionsRequest::VERSIONS,
        66 => ListTransactionsRequest::VERSIONS,
        32 => DescribeConfigsRequest::VERSIONS,
        33 => AlterConfigsRequest::VERSIONS,
        34 => AlterReplicaLogDirsRequest::VERSIONS,
        35 => DescribeLogDirsRequest::VERSIONS,
        36 => SaslAuthenticateRequest::VERSIONS,
        37 => CreatePartitionsRequest::VERSIONS,
        42 => DeleteGroupsRequest::VERSIONS,
        43 => ElectLeadersRequest::VERSIONS,
        44 => IncrementalAlterConfigsRequest::VERSIONS,
        45 => AlterPartitionReassignmentsRequest::VERSIONS,
        46 => ListPartitionReassignmentsRequest::VERSIONS,
        47 => OffsetDeleteRequest::VERSIONS,
        48 => DescribeClientQuotasRequest::VERSIONS,
        49 => AlterClientQuotasRequest::VERSIONS,
        50 => DescribeUserScramCredentialsRequest::VERSIONS,
        51 => AlterUserScramCredentialsRequest::VERSIONS,
        55 => DescribeQuorumRequest::VERSIONS,
        57 => UpdateFeaturesRequest::VERSIONS,
        60 => DescribeClusterRequest::VERSIONS,
        64 => UnregisterBrokerRequest::VERSIONS,
        75 => DescribeTopicPartitionsRequest::VERSIONS,
        68 => ConsumerGroupHeartbeatRequest::VERSIONS,
        69 => ConsumerGroupDescribeRequest::VERSIONS,
        74 => ListConfigResourcesRequest::VERSIONS,
        other => panic!("no message type listed for api key {other}"),
    }
}

#[test]
fn guard_schema_versions_are_the_decoders_versions() {
    for key in guarded_api_keys() {
        let range = message_versions(key);
        assert_eq!(
            supported_versions(key),
            Some((range.min, range.max)),
            "api {key}"
        );
        let header_flexible_since = (range.min..=range.max)
            .find(|v| ApiKey::try_from(key).map(|k| k.request_header_version(*v)) == Ok(2));
        let schema_flexible_since = REQUEST_SCHEMAS
            .iter()
            .find(|s| s.api_key == key)
            .map(|s| s.flexible_since)
            .filter(|v| *v <= range.max);
        let expected = header_flexible_since.map(|v| v.max(range.min));
        assert_eq!(
            schema_flexible_since.map(|v| v.max(range.min)),
            expected,
            "flexible versions of api {key}"
        );
    }
}

#[test]
fn guard_accepts_every_populated_request_and_consumes_it_exactly() {
    let mut checked = 0;
    for (key, version) in all_versions() {
        let body = sample(key, version);
        assert_eq!(
            walk_request(key, version, &body),
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
fn guard_header_length_matches_the_decoder() {
    for (key, version) in all_versions() {
        let frame = samples::encoded_frame(key, version).unwrap_or_else(|e| panic!("{e}"));
        let header_len =
            check_request_header(&frame).unwrap_or_else(|e| panic!("api {key} v{version}: {e}"));
        let header_version = ApiKey::try_from(key)
            .map(|k| k.request_header_version(version))
            .unwrap_or(-1);
        let mut buf = frame.clone();
        let header = RequestHeader::decode(&mut buf, header_version.max(1))
            .unwrap_or_else(|e| panic!("api {key} v{version}: {e}"));
        assert_eq!(header.request_api_key, key);
        assert_eq!(header_len, frame.len() - buf.len(), "api {key} v{version}");
        assert_eq!(
            walk_request(key, version, &frame[header_len..]),
            Ok(frame.len() - header_len)
        );
    }
}

#[test]
fn guard_rejects_every_truncation_and_the_decoder_errors_on_it() {
    for (key, version) in all_versions() {
        let body = sample(key, version);
        for cut in 0..body.len() {
            let prefix = &body[..cut];
            assert!(
                check_request(key, version, prefix).is_err(),
                "api {key} v{version} accepted a cut at {cut} of {}",
                body.len()
            );
            // The walk only stops short where the decoder does too.
            assert!(
                decode(key, version, prefix).is_err(),
                "api {key} v{version} cut {cut}"
            );
        }
    }
}

#[test]
fn guard_rejects_metadata_v0_claiming_54m_topics_in_5_bytes() {
    let mut body = 54_000_000i32.to_be_bytes().to_vec();
    body.push(0);
    assert_eq!(
        check_request(3, 0, &body),
        Err(GuardError::CountTooLarge {
            field: "topics",
            offset: 0,
            claimed: 54_000_000,
            remaining: 1,
        })
    );
}

#[test]
fn guard_rejects_a_huge_compact_array_count() {
    // uvarint 0xffff_ffff = count u32::MAX - 1, then a few bytes.
    let body = [0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0];
    assert!(matches!(
        check_request(3, 12, &body),
        Err(GuardError::CountTooLarge {
            field: "topics",
            claimed: 4_294_967_294,
            remaining: 3,
            ..
        })
    ));
    // The same count in a tagged-field section.
    let body = [0x01, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(
        check_request(3, 12, &body),
        Err(GuardError::CountTooLarge {
            field: "MetadataRequest",
            ..
        })
    ));
}

#[test]
fn guard_rejects_overlong_and_oversized_varints() {
    // Six bytes: longer than any u32.
    let body = [0x81, 0x80, 0x80, 0x80, 0x80, 0x00];
    assert_eq!(
        check_request(3, 12, &body),
        Err(GuardError::BadVarint {
            field: "topics",
            offset: 0
        })
    );
    // Five bytes whose last one carries bits above 2^32, which the decoder would drop.
    let body = [0x82, 0x80, 0x80, 0x80, 0x10];
    assert_eq!(
        check_request(3, 12, &body),
        Err(GuardError::BadVarint {
            field: "topics",
            offset: 0
        })
    );
}

#[test]
fn guard_rejects_a_string_longer_than_the_body() {
    // Metadata v1: one topic whose name claims 100 bytes, 3 present.
    let body = [0, 0, 0, 1, 0, 100, b'a', b'b', b'c'];
    assert_eq!(
        check_request(3, 1, &body),
        Err(GuardError::LengthTooLarge {
            field: "name",
            offset: 4,
            claimed: 100,
            remaining: 3,
        })
    );
    // Compact string (v9): length 1000 - 1.
    let body = [0x02, 0xe8, 0x07, b'x', 0x00, 0x00];
    assert!(matches!(
        check_request(3, 9, &body),
        Err(GuardError::LengthTooLarge {
            field: "name",
            claimed: 999,
            ..
        })
    ));
    // Produce v3 records claiming 2^31 - 1 bytes.
    let mut body = vec![
        0xff, 0xff, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1,
    ];
    body.extend_from_slice(&[0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2]);
    assert!(matches!(
        check_request(0, 3, &body),
        Err(GuardError::LengthTooLarge {
            field: "records",
            claimed: 2_147_483_647,
            ..
        })
    ));
}

#[test]
fn guard_rejects_lengths_below_minus_one() {
    let body = [0xff, 0xff, 0xff, 0xfe];
    assert!(matches!(
        check_request(3, 1, &body),
        Err(GuardError::NegativeLength {
            field: "topics",
            length: -2,
            ..
        })
    ));
    // A null array (-1) is fine as far as sizes go.
    assert_eq!(walk_request(3, 1, &[0xff, 0xff, 0xff, 0xff]), Ok(4));
}

/// Fetch v12 with nothing but the tagged `cluster_id` (tag 0), declared `size` bytes long.
fn fetch_v12_with_cluster_id(size: u8, value: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(-1i32).to_be_bytes()); // replica_id
    body.extend_from_slice(&500i32.to_be_bytes()); // max_wait_ms
    body.extend_from_slice(&1i32.to_be_bytes()); // min_bytes
    body.extend_from_slice(&1024i32.to_be_bytes()); // max_bytes
    body.push(0); // isolation_level
    body.extend_from_slice(&0i32.to_be_bytes()); // session_id
    body.extend_from_slice(&(-1i32).to_be_bytes()); // session_epoch
    body.extend_from_slice(&[0x01, 0x01, 0x01]); // topics, forgotten_topics_data, rack_id
    body.extend_from_slice(&[0x01, 0x00, size]); // one tagged field: tag 0, size
    body.extend_from_slice(value);
    body
}

#[test]
fn guard_walks_known_tagged_fields_within_their_declared_size() {
    let good = fetch_v12_with_cluster_id(3, &[0x03, b'c', b'1']);
    assert_eq!(walk_request(1, 12, &good), Ok(good.len()));
    assert!(decode(1, 12, &good).is_ok());

    // The value is shorter than declared: the decoder would read the rest as the next field.
    let short = fetch_v12_with_cluster_id(4, &[0x03, b'c', b'1', 0x00]);
    assert_eq!(
        check_request(1, 12, &short),
        Err(GuardError::TaggedFieldSize {
            field: "cluster_id",
            tag: 0,
            declared: 4,
            used: 3,
        })
    );
    // The value claims more than declared.
    let long = fetch_v12_with_cluster_id(2, &[0x03, b'c', b'1']);
    assert!(matches!(
        check_request(1, 12, &long),
        Err(GuardError::LengthTooLarge {
            field: "cluster_id",
            ..
        })
    ));
    // An unknown tag is skipped by its size.
    let mut unknown = fetch_v12_with_cluster_id(3, &[9, 9, 9]);
    let tag_at = unknown.len() - 5;
    unknown[tag_at] = 77;
    assert_eq!(walk_request(1, 12, &unknown), Ok(unknown.len()));
}

#[test]
fn guard_has_no_schema_for_unknown_apis_and_versions() {
    assert_eq!(
        check_request(0, 2, &[]),
        Err(GuardError::NoSchema {
            api_key: 0,
            api_version: 2
        })
    );
    assert_eq!(
        check_request(0, 14, &[]),
        Err(GuardError::NoSchema {
            api_key: 0,
            api_version: 14
        })
    );
    assert!(matches!(
        check_request(29, 0, &[]),
        Err(GuardError::NoSchema { .. })
    ));
    assert!(matches!(
        check_request(-1, 0, &[]),
        Err(GuardError::NoSchema { .. })
    ));
}

#[test]
fn guard_checks_request_headers() {
    // v1 header: Metadata v1, correlation 9, null client_id.
    let frame = [0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff, 0xaa];
    assert_eq!(check_request_header(&frame), Ok(10));
    // v2 header: ApiVersions v3, client_id "ab", no tagged fields.
    let frame = [0, 18, 0, 3, 0, 0, 0, 9, 0, 2, b'a', b'b', 0x00];
    assert_eq!(check_request_header(&frame), Ok(13));
    // A client_id longer than the frame.
    let frame = [0, 3, 0, 1, 0, 0, 0, 9, 0x7f, 0xff, b'a'];
    assert!(matches!(
        check_request_header(&frame),
        Err(GuardError::LengthTooLarge {
            field: "client_id",
            ..
        })
    ));
    // Too short for the fixed part.
    assert!(matches!(
        check_request_header(&[0, 3, 0]),
        Err(GuardError::Truncated { .. })
    ));
    // An api key Kafka does not define.
    assert_eq!(
        check_request_header(&[0x7f, 0, 0, 0, 0, 0, 0, 0]),
        Err(GuardError::UnknownApiKey { api_key: 0x7f00 })
    );
    // An unsupported version still has a readable header.
    let frame = [0, 0, 0, 99, 0, 0, 0, 9, 0, 0, 0x00];
    assert_eq!(check_request_header(&frame), Ok(11));
}

#[test]
fn guard_errors_say_what_was_claimed() {
    let message = match check_request(3, 0, &[0x03, 0x37, 0xf9, 0x80, 0]) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        message,
        "topics at byte 0: claims 54000000 elements but only 1 bytes remain"
    );
}

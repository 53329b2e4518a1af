//! The `group.instance.id` of each member of a group (static membership, KIP-345).
//!
//! Why this talks to the broker itself: the only DescribeGroups the `rdkafka` crate exposes is
//! librdkafka's group listing, which sends DescribeGroups v0, and the instance id only exists
//! from v4 on. librdkafka's newer DescribeConsumerGroups admin call has it but the crate does not
//! wrap it, and calling the C function directly would need `unsafe`. So this asks a bootstrap
//! server for the coordinator (FindCoordinator v1) and sends DescribeGroups v4 to it through the
//! crate's small Kafka-protocol client (`crate::wire`). That only works where the cluster speaks
//! PLAINTEXT; with any other `security.protocol` the lookup is skipped and the ids are reported
//! as unknown.
//!
//! Wire layout (classic encoding, see `crate::wire::Reader` for the types):
//!
//! ```text
//! DescribeGroups v4 request     ARRAY(STRING) groups, int8 include_authorized_operations
//! DescribeGroups v4 response    int32 throttle_time_ms, ARRAY groups:
//!     int16 error_code, STRING group_id, STRING group_state, STRING protocol_type,
//!     STRING protocol_data, ARRAY members:
//!         STRING member_id, NULLABLE_STRING group_instance_id, STRING client_id,
//!         STRING client_host, BYTES member_metadata, BYTES member_assignment
//!     int32 authorized_operations
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{DescribeGroupsRequest, GroupId};
use kafka_protocol::protocol::StrBytes;

use crate::connection::ConnectArgs;
use crate::wire::{
    code_text, find_coordinator, require_plaintext, BrokerConnection, CoordinatorType, Reader,
};

/// Member id -> its `group.instance.id` (None for a dynamic member).
pub type InstanceIds = HashMap<String, Option<String>>;

const DESCRIBE_GROUPS_VERSION: i16 = 4;

/// Looks up the instance ids of `group`'s members, giving up at `timeout`; the error says why
/// they are unknown.
pub fn instance_ids(
    connect: &ConnectArgs,
    group: &str,
    timeout: Duration,
) -> Result<InstanceIds, String> {
    require_plaintext(connect)?;
    let deadline = Instant::now() + timeout;
    let coordinator = find_coordinator(connect, group, CoordinatorType::Group, deadline)
        .map_err(|e| e.to_string())?;
    let mut connection = BrokerConnection::open(&coordinator.address, deadline)?;
    let body = connection.send(&describe_groups_request(group), DESCRIBE_GROUPS_VERSION)?;
    parse_describe_groups(&body, group)
}

fn describe_groups_request(group: &str) -> DescribeGroupsRequest {
    DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))])
        .with_include_authorized_operations(false)
}

/// Smallest encodings, for checking counts: a group of empty strings and no members, a member
/// of empty strings and null bytes.
const DESCRIBED_GROUP_MIN_BYTES: usize = 2 + 4 * 2 + 4 + 4;
const MEMBER_MIN_BYTES: usize = 4 * 2 + 2 * 4;

fn parse_describe_groups(body: &[u8], group: &str) -> Result<InstanceIds, String> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let group_count = r.count(DESCRIBED_GROUP_MIN_BYTES)?;
    for _ in 0..group_count {
        let error_code = r.i16()?;
        let group_id = r.string()?;
        let _state = r.string()?;
        let _protocol_type = r.string()?;
        let _protocol_data = r.string()?;
        let member_count = r.count(MEMBER_MIN_BYTES)?;
        let mut ids = InstanceIds::with_capacity(member_count);
        for _ in 0..member_count {
            let member_id = r.string()?;
            let instance_id = r.nullable_string()?;
            let _client_id = r.string()?;
            let _client_host = r.string()?;
            r.skip_bytes()?;
            r.skip_bytes()?;
            ids.insert(member_id, instance_id);
        }
        let _authorized_operations = r.i32()?;
        if group_id == group {
            if error_code != 0 {
                return Err(format!("DescribeGroups: {}", code_text(error_code)));
            }
            return Ok(ids);
        }
    }
    Err(format!("DescribeGroups did not describe group '{group}'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup, DescribedGroupMember,
    };
    use kafka_protocol::messages::DescribeGroupsResponse;
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, version).expect("encodes");
        buf
    }

    #[test]
    fn the_request_names_the_one_group() {
        let mut expected = vec![0, 0, 0, 1, 0, 7];
        expected.extend_from_slice(b"billing");
        expected.push(0);
        assert_eq!(
            encode(&describe_groups_request("billing"), DESCRIBE_GROUPS_VERSION),
            expected
        );
    }

    fn member(id: &str, instance: Option<&str>) -> DescribedGroupMember {
        DescribedGroupMember::default()
            .with_member_id(s(id))
            .with_group_instance_id(instance.map(s))
            .with_client_id(s("app"))
            .with_client_host(s("/127.0.0.1"))
            .with_member_metadata(Bytes::from_static(b"meta"))
            .with_member_assignment(Bytes::from_static(b"assignment"))
    }

    #[test]
    fn instance_ids_are_read_per_member() {
        let response = DescribeGroupsResponse::default().with_groups(vec![
            DescribedGroup::default().with_group_id(GroupId(s("other"))),
            DescribedGroup::default()
                .with_group_id(GroupId(s("billing")))
                .with_group_state(s("Stable"))
                .with_protocol_type(s("consumer"))
                .with_protocol_data(s("range"))
                .with_members(vec![member("m-1", Some("host-a")), member("m-2", None)]),
        ]);
        let ids = parse_describe_groups(&encode(&response, 4), "billing").expect("valid");
        assert_eq!(ids.len(), 2);
        assert_eq!(ids.get("m-1"), Some(&Some("host-a".to_string())));
        assert_eq!(ids.get("m-2"), Some(&None));
    }

    #[test]
    fn describe_groups_errors_and_omissions_are_reported() {
        let failed = DescribeGroupsResponse::default().with_groups(vec![DescribedGroup::default()
            .with_error_code(16)
            .with_group_id(GroupId(s("billing")))]);
        assert_eq!(
            parse_describe_groups(&encode(&failed, 4), "billing"),
            Err("DescribeGroups: Broker: Not coordinator (NOT_COORDINATOR)".to_string())
        );
        let empty = DescribeGroupsResponse::default();
        assert_eq!(
            parse_describe_groups(&encode(&empty, 4), "billing"),
            Err("DescribeGroups did not describe group 'billing'".to_string())
        );
        let valid = DescribeGroupsResponse::default().with_groups(vec![DescribedGroup::default()
            .with_group_id(GroupId(s("billing")))
            .with_members(vec![member("m-1", Some("a"))])]);
        let bytes = encode(&valid, 4);
        for len in 0..bytes.len() {
            assert!(
                parse_describe_groups(&bytes[..len], "billing").is_err(),
                "{len}"
            );
        }
    }

    #[test]
    fn only_plaintext_connections_are_probed() {
        let tls = ConnectArgs {
            bootstrap_server: "127.0.0.1:1".to_string(),
            properties: vec![("security.protocol".into(), "SSL".into())],
        };
        let err = instance_ids(&tls, "g", Duration::from_secs(1)).expect_err("skipped");
        assert!(err.contains("security.protocol=SSL"), "{err}");
    }
}

//! The `group.instance.id` of each member of a group (static membership, KIP-345).
//!
//! Why this talks to the broker itself: the only DescribeGroups the `rdkafka` crate exposes is
//! librdkafka's group listing, which sends DescribeGroups v0, and the instance id only exists
//! from v4 on. librdkafka's newer DescribeConsumerGroups admin call has it but the crate does not
//! wrap it, and calling the C function directly would need `unsafe`. So this sends
//! FindCoordinator v1 to a bootstrap server and DescribeGroups v4 to the coordinator over a plain
//! TCP connection. That only works where the cluster speaks PLAINTEXT; with any other
//! `security.protocol` the lookup is skipped and the ids are reported as unknown.
//!
//! Wire layouts (classic encoding, see `wire.rs` for the types):
//!
//! ```text
//! frame            int32 size, then size bytes
//! request header   int16 api_key, int16 api_version, int32 correlation_id,
//!                  NULLABLE_STRING client_id                          (header v1)
//! response header  int32 correlation_id                               (header v0)
//!
//! FindCoordinator v1 request    STRING key (the group id), int8 key_type (0 = group)
//! FindCoordinator v1 response   int32 throttle_time_ms, int16 error_code,
//!                               NULLABLE_STRING error_message, int32 node_id,
//!                               STRING host, int32 port
//! DescribeGroups v4 request     ARRAY(STRING) groups, int8 include_authorized_operations
//! DescribeGroups v4 response    int32 throttle_time_ms, ARRAY groups:
//!     int16 error_code, STRING group_id, STRING group_state, STRING protocol_type,
//!     STRING protocol_data, ARRAY members:
//!         STRING member_id, NULLABLE_STRING group_instance_id, STRING client_id,
//!         STRING client_host, BYTES member_metadata, BYTES member_assignment
//!     int32 authorized_operations
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;

use crate::connection::{describe_code, ConnectArgs};
use crate::group::wire::{put_string, Reader};

/// Member id -> its `group.instance.id` (None for a dynamic member).
pub type InstanceIds = HashMap<String, Option<String>>;

const FIND_COORDINATOR_KEY: i16 = 10;
const FIND_COORDINATOR_VERSION: i16 = 1;
const DESCRIBE_GROUPS_KEY: i16 = 15;
const DESCRIBE_GROUPS_VERSION: i16 = 4;
const CLIENT_ID: &str = "sluice-cli";
/// The largest response accepted, librdkafka's default `receive.message.max.bytes`.
const RESPONSE_BYTES_MAX: usize = 100_000_000;

/// Looks up the instance ids of `group`'s members, giving up at `timeout`; the error says why
/// they are unknown.
pub fn instance_ids(
    connect: &ConnectArgs,
    group: &str,
    timeout: Duration,
) -> Result<InstanceIds, String> {
    if let Some(protocol) = property(connect, "security.protocol") {
        if !protocol.eq_ignore_ascii_case("plaintext") {
            return Err(format!(
                "the lookup needs a PLAINTEXT connection, not security.protocol={protocol}"
            ));
        }
    }
    if i16::try_from(group.len()).is_err() {
        return Err("the group id is too long".to_string());
    }
    let deadline = Instant::now() + timeout;
    let mut last_error = "no bootstrap server given".to_string();
    for server in bootstrap_servers(
        property(connect, "bootstrap.servers").unwrap_or(&connect.bootstrap_server),
    ) {
        let coordinator = Connection::open(server, deadline).and_then(|mut connection| {
            let body = connection.round_trip(
                FIND_COORDINATOR_KEY,
                FIND_COORDINATOR_VERSION,
                &find_coordinator_request(group),
            )?;
            parse_find_coordinator(&body)
        });
        match coordinator {
            Ok(address) => {
                let mut connection = Connection::open(&address, deadline)?;
                let body = connection.round_trip(
                    DESCRIBE_GROUPS_KEY,
                    DESCRIBE_GROUPS_VERSION,
                    &describe_groups_request(group),
                )?;
                return parse_describe_groups(&body, group);
            }
            Err(e) => last_error = format!("{server}: {e}"),
        }
    }
    Err(last_error)
}

/// The value librdkafka will use for a `-X` property (the last one given), if any.
fn property<'a>(connect: &'a ConnectArgs, key: &str) -> Option<&'a str> {
    connect
        .properties
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// `host:port` entries of a bootstrap list, without any `PLAINTEXT://`-style prefix.
fn bootstrap_servers(list: &str) -> impl Iterator<Item = &str> {
    list.split(',')
        .map(str::trim)
        .map(|server| server.split_once("://").map_or(server, |(_, rest)| rest))
        .filter(|server| !server.is_empty())
}

fn find_coordinator_request(group: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(group.len() + 3);
    put_string(&mut body, group);
    body.push(0); // key_type: group
    body
}

/// The coordinator's `host:port`.
fn parse_find_coordinator(body: &[u8]) -> Result<String, String> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let error_code = r.i16()?;
    let error_message = r.nullable_string()?;
    let _node_id = r.i32()?;
    let host = r.string()?;
    let port = r.i32()?;
    if error_code != 0 {
        let mut text = format!("FindCoordinator: {}", code_text(error_code));
        if let Some(message) = error_message.filter(|m| !m.is_empty()) {
            text.push_str(&format!(": {message}"));
        }
        return Err(text);
    }
    let port = u16::try_from(port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("FindCoordinator answered port {port}"))?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

fn describe_groups_request(group: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(group.len() + 7);
    body.extend_from_slice(&1i32.to_be_bytes());
    put_string(&mut body, group);
    body.push(0); // include_authorized_operations: false
    body
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

/// "description (NAME)" for a Kafka error code.
fn code_text(code: i16) -> String {
    match RDKafkaRespErr::try_from(i32::from(code)) {
        Ok(known) => describe_code(RDKafkaErrorCode::from(known)),
        Err(_) => format!("error code {code}"),
    }
}

/// One request/response connection with a deadline for everything done on it.
struct Connection {
    stream: TcpStream,
    deadline: Instant,
    correlation_id: i32,
}

impl Connection {
    fn open(address: &str, deadline: Instant) -> Result<Self, String> {
        let addresses = address
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {address}: {e}"))?;
        let mut last_error = format!("{address} resolves to no address");
        for socket_address in addresses {
            let remaining = remaining_until(deadline)?;
            match TcpStream::connect_timeout(&socket_address, remaining) {
                Ok(stream) => {
                    // Requests are written whole; Nagle would only add latency.
                    let _ = stream.set_nodelay(true);
                    return Ok(Connection {
                        stream,
                        deadline,
                        correlation_id: 0,
                    });
                }
                Err(e) => last_error = format!("cannot connect to {socket_address}: {e}"),
            }
        }
        Err(last_error)
    }

    /// Sends one request and returns the response body after its header.
    fn round_trip(
        &mut self,
        api_key: i16,
        api_version: i16,
        body: &[u8],
    ) -> Result<Vec<u8>, String> {
        self.correlation_id += 1;
        let mut request = Vec::with_capacity(4 + 10 + CLIENT_ID.len() + body.len());
        request.extend_from_slice(&[0; 4]); // size, patched below
        request.extend_from_slice(&api_key.to_be_bytes());
        request.extend_from_slice(&api_version.to_be_bytes());
        request.extend_from_slice(&self.correlation_id.to_be_bytes());
        put_string(&mut request, CLIENT_ID);
        request.extend_from_slice(body);
        let size = i32::try_from(request.len() - 4).map_err(|_| "request too large".to_string())?;
        request[..4].copy_from_slice(&size.to_be_bytes());

        let io_error = |e: std::io::Error| format!("talking to the coordinator: {e}");
        self.stream
            .set_write_timeout(Some(remaining_until(self.deadline)?))
            .map_err(io_error)?;
        self.stream.write_all(&request).map_err(io_error)?;

        self.stream
            .set_read_timeout(Some(remaining_until(self.deadline)?))
            .map_err(io_error)?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size).map_err(io_error)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| (4..=RESPONSE_BYTES_MAX).contains(&s))
            .ok_or_else(|| format!("the broker sent a response of {size} bytes"))?;
        let mut response = vec![0u8; size];
        self.stream
            .set_read_timeout(Some(remaining_until(self.deadline)?))
            .map_err(io_error)?;
        self.stream.read_exact(&mut response).map_err(io_error)?;
        let correlation_id =
            i32::from_be_bytes([response[0], response[1], response[2], response[3]]);
        if correlation_id != self.correlation_id {
            return Err(format!(
                "the broker answered correlation id {correlation_id}, expected {}",
                self.correlation_id
            ));
        }
        response.drain(..4);
        Ok(response)
    }
}

/// The time left before `deadline`, or an error once it has passed (a zero socket timeout would
/// mean "wait forever").
fn remaining_until(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err("timed out".to_string())
    } else {
        Ok(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup, DescribedGroupMember,
    };
    use kafka_protocol::messages::{
        BrokerId, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
        FindCoordinatorResponse, GroupId,
    };
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M, version: i16) -> Vec<u8> {
        let mut buf = BytesMut::new();
        message.encode(&mut buf, version).expect("encodes");
        buf.to_vec()
    }

    #[test]
    fn requests_match_the_reference_encoding() {
        let find = FindCoordinatorRequest::default()
            .with_key(s("billing"))
            .with_key_type(0);
        assert_eq!(find_coordinator_request("billing"), encode(&find, 1));
        let describe = DescribeGroupsRequest::default()
            .with_groups(vec![GroupId(s("billing"))])
            .with_include_authorized_operations(false);
        assert_eq!(describe_groups_request("billing"), encode(&describe, 4));
    }

    #[test]
    fn the_coordinator_address_is_read_from_find_coordinator() {
        let response = FindCoordinatorResponse::default()
            .with_node_id(BrokerId(3))
            .with_host(s("broker-3.local"))
            .with_port(9093);
        assert_eq!(
            parse_find_coordinator(&encode(&response, 1)),
            Ok("broker-3.local:9093".to_string())
        );
        let ipv6 = response.clone().with_host(s("::1"));
        assert_eq!(
            parse_find_coordinator(&encode(&ipv6, 1)),
            Ok("[::1]:9093".to_string())
        );
        let failed = FindCoordinatorResponse::default()
            .with_error_code(15)
            .with_error_message(Some(s("not yet")))
            .with_node_id(BrokerId(-1))
            .with_port(-1);
        assert_eq!(
            parse_find_coordinator(&encode(&failed, 1)),
            Err("FindCoordinator: Broker: Coordinator not available \
                 (COORDINATOR_NOT_AVAILABLE): not yet"
                .to_string())
        );
        let bad_port = response.with_port(70_000);
        assert!(parse_find_coordinator(&encode(&bad_port, 1)).is_err());
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
    fn bootstrap_lists_are_split_and_stripped() {
        let servers: Vec<&str> = bootstrap_servers(" a:1, PLAINTEXT://b:2,,[::1]:3 ").collect();
        assert_eq!(servers, vec!["a:1", "b:2", "[::1]:3"]);
    }

    #[test]
    fn only_plaintext_connections_are_probed() {
        let connect = |props: Vec<(String, String)>| ConnectArgs {
            bootstrap_server: "127.0.0.1:1".to_string(),
            properties: props,
        };
        let tls = connect(vec![("security.protocol".into(), "SSL".into())]);
        let err = instance_ids(&tls, "g", Duration::from_secs(1)).expect_err("skipped");
        assert!(err.contains("security.protocol=SSL"), "{err}");
        let plain = connect(vec![
            ("security.protocol".into(), "SSL".into()),
            ("security.protocol".into(), "plaintext".into()),
        ]);
        assert_eq!(property(&plain, "security.protocol"), Some("plaintext"));
        assert_eq!(property(&plain, "bootstrap.servers"), None);
    }

    #[test]
    fn a_listener_that_hangs_up_is_an_error_not_a_hang() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let server = std::thread::spawn(move || {
            // Read the request, answer with a frame too short to hold a correlation id.
            let (mut socket, _) = listener.accept().expect("accept");
            let mut size = [0u8; 4];
            socket.read_exact(&mut size).expect("request size");
            let mut request = vec![0u8; i32::from_be_bytes(size) as usize];
            socket.read_exact(&mut request).expect("request");
            socket.write_all(&[0, 0, 0, 2, 0, 0]).expect("answer");
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut connection = Connection::open(&address, deadline).expect("connects");
        let err = connection
            .round_trip(FIND_COORDINATOR_KEY, 1, &find_coordinator_request("g"))
            .expect_err("bad frame");
        assert!(err.contains("response of 2 bytes"), "{err}");
        server.join().expect("server thread");
    }
}

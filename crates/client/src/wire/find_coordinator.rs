//! FindCoordinator v1: which broker coordinates a group or a transactional id, asked of a
//! bootstrap server.
//!
//! v1 is the oldest version with a key type and the newest with one key per request; every
//! broker since Kafka 0.11 answers it. Wire layout (classic encoding, see `reader.rs`):
//!
//! ```text
//! request    STRING key, int8 key_type (0 = group, 1 = transaction)
//! response   int32 throttle_time_ms, int16 error_code, NULLABLE_STRING error_message,
//!            int32 node_id, STRING host, int32 port
//! ```

use std::time::Instant;

use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::protocol::StrBytes;

use super::{bootstrap_servers, host_port, BrokerConnection, Reader, RequestError};
use crate::connection::ConnectArgs;

const VERSION: i16 = 1;

/// What a coordinator is looked up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoordinatorType {
    Group,
    Transaction,
}

impl CoordinatorType {
    fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    pub node_id: i32,
    /// `host:port` to connect to.
    pub address: String,
}

/// A connection to the first bootstrap server that accepts one, for coordinator lookups.
pub struct Bootstrap {
    connection: BrokerConnection,
}

impl Bootstrap {
    pub fn connect(connect: &ConnectArgs, deadline: Instant) -> Result<Self, String> {
        let mut last_error = "no bootstrap server given".to_string();
        for server in bootstrap_servers(connect) {
            match BrokerConnection::open(server, deadline) {
                Ok(connection) => return Ok(Bootstrap { connection }),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    pub fn find_coordinator(
        &mut self,
        key: &str,
        key_type: CoordinatorType,
    ) -> Result<Coordinator, RequestError> {
        let body = self
            .connection
            .send(&find_coordinator_request(key, key_type), VERSION)?;
        parse_find_coordinator(&body)
    }
}

/// The coordinator for `key`, asked of the first bootstrap server that accepts a connection.
pub fn find_coordinator(
    connect: &ConnectArgs,
    key: &str,
    key_type: CoordinatorType,
    deadline: Instant,
) -> Result<Coordinator, RequestError> {
    Bootstrap::connect(connect, deadline)?.find_coordinator(key, key_type)
}

fn find_coordinator_request(key: &str, key_type: CoordinatorType) -> FindCoordinatorRequest {
    FindCoordinatorRequest::default()
        .with_key(StrBytes::from_string(key.to_string()))
        .with_key_type(key_type.key_type())
}

fn parse_find_coordinator(body: &[u8]) -> Result<Coordinator, RequestError> {
    let mut r = Reader::new(body);
    let _throttle_time_ms = r.i32()?;
    let error_code = r.i16()?;
    let error_message = r.nullable_string()?;
    let node_id = r.i32()?;
    let host = r.string()?;
    let port = r.i32()?;
    if error_code != 0 {
        return Err(RequestError::broker(
            error_code,
            "FindCoordinator",
            error_message.as_deref(),
        ));
    }
    if !(1..=i32::from(u16::MAX)).contains(&port) {
        return Err(RequestError::Transport(format!(
            "FindCoordinator answered port {port}"
        )));
    }
    Ok(Coordinator {
        node_id,
        address: host_port(&host, port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{BrokerId, FindCoordinatorResponse};
    use kafka_protocol::protocol::Encodable;

    fn s(text: &str) -> StrBytes {
        StrBytes::from_string(text.to_string())
    }

    fn encode<M: Encodable>(message: &M) -> Vec<u8> {
        let mut buf = Vec::new();
        message.encode(&mut buf, VERSION).expect("encodes");
        buf
    }

    #[test]
    fn the_request_names_the_key_and_its_type() {
        let mut expected = vec![0, 5];
        expected.extend_from_slice(b"txn-a");
        expected.push(1);
        assert_eq!(
            encode(&find_coordinator_request(
                "txn-a",
                CoordinatorType::Transaction
            )),
            expected
        );
        let group = encode(&find_coordinator_request("g", CoordinatorType::Group));
        assert_eq!(group, vec![0, 1, b'g', 0]);
    }

    #[test]
    fn the_coordinator_address_is_read_from_the_answer() {
        let response = FindCoordinatorResponse::default()
            .with_node_id(BrokerId(3))
            .with_host(s("broker-3.local"))
            .with_port(9093);
        assert_eq!(
            parse_find_coordinator(&encode(&response)),
            Ok(Coordinator {
                node_id: 3,
                address: "broker-3.local:9093".to_string()
            })
        );
        let ipv6 = response.clone().with_host(s("::1"));
        assert_eq!(
            parse_find_coordinator(&encode(&ipv6)).map(|c| c.address),
            Ok("[::1]:9093".to_string())
        );
        let failed = FindCoordinatorResponse::default()
            .with_error_code(15)
            .with_error_message(Some(s("not yet")))
            .with_node_id(BrokerId(-1))
            .with_port(-1);
        let err = parse_find_coordinator(&encode(&failed)).expect_err("failed");
        assert_eq!(
            err.to_string(),
            "FindCoordinator: Broker: Coordinator not available \
             (COORDINATOR_NOT_AVAILABLE): not yet"
        );
        assert!(err.is_retriable());
        let bad_port = response.clone().with_port(70_000);
        assert!(parse_find_coordinator(&encode(&bad_port)).is_err());
        let bytes = encode(&response);
        for len in 0..bytes.len() {
            assert!(parse_find_coordinator(&bytes[..len]).is_err(), "{len}");
        }
    }

    #[test]
    fn no_reachable_bootstrap_server_is_an_error() {
        let connect = ConnectArgs {
            bootstrap_server: " , ".to_string(),
            properties: Vec::new(),
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let err = Bootstrap::connect(&connect, deadline)
            .err()
            .expect("nothing to connect to");
        assert_eq!(err, "no bootstrap server given");
    }
}

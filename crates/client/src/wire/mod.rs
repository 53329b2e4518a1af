//! A small blocking Kafka-protocol client for the requests librdkafka does not expose through
//! the `rdkafka` crate: DescribeGroups v4 (members' `group.instance.id`), ListTransactions,
//! DescribeTransactions, DescribeProducers, DescribeCluster, ElectLeaders, partition
//! reassignments, and Metadata with the cluster id and controller id.
//!
//! Requests are built with the `kafka-protocol` crate's message types, which encode exactly
//! what Kafka specifies and are safe for input we produce ourselves. Responses are read with
//! the bounded [`Reader`], never with `kafka-protocol`'s decoders: those reserve memory for
//! whatever count a peer claims.
//!
//! Only PLAINTEXT listeners can be reached: there is no TLS or SASL here. Every command that
//! uses this checks [`require_plaintext`] first, so `-X security.protocol=SSL` gives one clear
//! error line instead of a handshake failure.
//!
//! Layout:
//! - `reader.rs`: bounded reads of classic and flexible wire types.
//! - `broker_connection.rs`: one TCP connection to one broker: framing, request and response
//!   headers, a deadline for everything done on it, the response size limit, and the check of
//!   each request's version against what the broker advertises in ApiVersions.
//! - `find_coordinator.rs`: FindCoordinator v1 (group and transaction coordinators) through the
//!   bootstrap servers.
//! - `describe_cluster.rs`: DescribeCluster v0-v2 (cluster id, controller, brokers, fenced).
//! - `metadata.rs`: Metadata v1-v13 for every topic (brokers, partitions, leaders, ISRs).
//! - `elect_leaders.rs`: ElectLeaders v0-v2 (preferred and unclean elections).
//! - `reassignments.rs`: AlterPartitionReassignments v0-v1, ListPartitionReassignments v0.

mod broker_connection;
pub mod describe_cluster;
pub mod elect_leaders;
mod find_coordinator;
pub mod metadata;
mod reader;
pub mod reassignments;

use std::time::{Duration, Instant};

use kafka_protocol::ResponseError;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::types::RDKafkaRespErr;

use crate::connection::{describe_code, upper_snake_case, ConnectArgs};

pub use broker_connection::BrokerConnection;
pub use find_coordinator::{find_coordinator, Bootstrap, CoordinatorType};
pub use reader::Reader;

/// Why a request did not produce the answer wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Connecting, sending, receiving or reading the response failed; the text says which.
    Transport(String),
    /// The broker answered with a Kafka error code; `text` is the whole line to show.
    Broker { code: i16, text: String },
}

impl RequestError {
    /// A broker error for `code`, `what` naming the request or the object it is about.
    pub fn broker(code: i16, what: &str, message: Option<&str>) -> Self {
        let mut text = format!("{what}: {}", code_text(code));
        if let Some(message) = message.filter(|m| !m.is_empty()) {
            text.push_str(&format!(": {message}"));
        }
        RequestError::Broker { code, text }
    }

    /// Whether asking again may succeed (a coordinator still loading or just moved).
    pub fn is_retriable(&self) -> bool {
        match self {
            RequestError::Transport(_) => false,
            RequestError::Broker { code, .. } => {
                ResponseError::try_from_code(*code).is_some_and(|e| e.is_retriable())
            }
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Transport(text) | RequestError::Broker { text, .. } => f.write_str(text),
        }
    }
}

impl From<String> for RequestError {
    fn from(text: String) -> Self {
        RequestError::Transport(text)
    }
}

/// Pause between two attempts of a request that failed with a retriable code.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Runs `attempt` until it succeeds, fails with an error that is not retriable, or the next
/// try would start after `deadline`; the last error is returned then.
pub fn retry_until<T>(
    deadline: Instant,
    mut attempt: impl FnMut() -> Result<T, RequestError>,
) -> Result<T, RequestError> {
    loop {
        match attempt() {
            Err(e) if e.is_retriable() && Instant::now() + RETRY_BACKOFF < deadline => {
                std::thread::sleep(RETRY_BACKOFF);
            }
            outcome => return outcome,
        }
    }
}

/// Refuses any `security.protocol` but PLAINTEXT, which is all this client speaks.
pub fn require_plaintext(connect: &ConnectArgs) -> Result<(), String> {
    match property(connect, "security.protocol") {
        Some(protocol) if !protocol.eq_ignore_ascii_case("plaintext") => Err(format!(
            "this command needs a PLAINTEXT connection, not security.protocol={protocol}"
        )),
        _ => Ok(()),
    }
}

/// The value librdkafka will use for a `-X` property (the last one given), if any.
pub fn property<'a>(connect: &'a ConnectArgs, key: &str) -> Option<&'a str> {
    connect
        .properties
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// `host:port` entries of the bootstrap list librdkafka would use, without any
/// `PLAINTEXT://`-style prefix.
pub fn bootstrap_servers(connect: &ConnectArgs) -> Vec<&str> {
    property(connect, "bootstrap.servers")
        .unwrap_or(&connect.bootstrap_server)
        .split(',')
        .map(str::trim)
        .map(|server| server.split_once("://").map_or(server, |(_, rest)| rest))
        .filter(|server| !server.is_empty())
        .collect()
}

/// `host:port` for connecting, with brackets around an IPv6 host.
pub fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// "description (NAME)" for a Kafka error code: librdkafka's text where it knows the code,
/// otherwise the name from `kafka-protocol` (librdkafka 2.12 lacks 101-109, among them
/// TRANSACTIONAL_ID_NOT_FOUND).
pub fn code_text(code: i16) -> String {
    if let Ok(known) = RDKafkaRespErr::try_from(i32::from(code)) {
        return describe_code(RDKafkaErrorCode::from(known));
    }
    match ResponseError::try_from_code(code) {
        Some(ResponseError::Unknown(_)) | None => format!("error code {code}"),
        Some(error) => format!(
            "Broker: error code {code} ({})",
            upper_snake_case(&error.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(props: &[(&str, &str)]) -> ConnectArgs {
        ConnectArgs {
            bootstrap_server: " a:1, PLAINTEXT://b:2,,[::1]:3 ".to_string(),
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn bootstrap_lists_are_split_and_stripped() {
        assert_eq!(
            bootstrap_servers(&connect(&[])),
            vec!["a:1", "b:2", "[::1]:3"]
        );
        let overridden = connect(&[("bootstrap.servers", "c:4")]);
        assert_eq!(bootstrap_servers(&overridden), vec!["c:4"]);
    }

    #[test]
    fn only_plaintext_is_accepted() {
        let err = require_plaintext(&connect(&[("security.protocol", "SSL")])).expect_err("TLS");
        assert_eq!(
            err,
            "this command needs a PLAINTEXT connection, not security.protocol=SSL"
        );
        let last_wins = connect(&[
            ("security.protocol", "SSL"),
            ("security.protocol", "plaintext"),
        ]);
        assert_eq!(require_plaintext(&last_wins), Ok(()));
        assert_eq!(require_plaintext(&connect(&[])), Ok(()));
        assert_eq!(property(&last_wins, "bootstrap.servers"), None);
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("broker-1", 9092), "broker-1:9092");
        assert_eq!(host_port("::1", 9092), "[::1]:9092");
    }

    #[test]
    fn codes_librdkafka_lacks_still_get_their_name() {
        assert_eq!(
            code_text(15),
            "Broker: Coordinator not available (COORDINATOR_NOT_AVAILABLE)"
        );
        assert_eq!(
            code_text(105),
            "Broker: error code 105 (TRANSACTIONAL_ID_NOT_FOUND)"
        );
        assert_eq!(code_text(9999), "error code 9999");
    }

    #[test]
    fn coordinator_moves_are_retried_and_the_rest_is_not() {
        assert!(RequestError::broker(14, "x", None).is_retriable());
        assert!(RequestError::broker(16, "x", None).is_retriable());
        assert!(!RequestError::broker(105, "x", None).is_retriable());
        assert!(!RequestError::Transport("gone".into()).is_retriable());
        assert_eq!(
            RequestError::broker(16, "DescribeTransactions", Some("moved")).to_string(),
            "DescribeTransactions: Broker: Not coordinator (NOT_COORDINATOR): moved"
        );

        let mut attempts = 0;
        let outcome = retry_until(Instant::now() + Duration::from_secs(30), || {
            attempts += 1;
            if attempts < 3 {
                Err(RequestError::broker(14, "x", None))
            } else {
                Ok(attempts)
            }
        });
        assert_eq!(outcome, Ok(3));

        let mut attempts = 0;
        let outcome: Result<(), _> = retry_until(Instant::now() + Duration::from_secs(30), || {
            attempts += 1;
            Err(RequestError::broker(105, "x", None))
        });
        assert!(outcome.is_err());
        assert_eq!(attempts, 1);

        // Past the deadline the retriable error itself is the answer.
        let outcome: Result<(), _> =
            retry_until(Instant::now(), || Err(RequestError::broker(15, "x", None)));
        assert_eq!(outcome, Err(RequestError::broker(15, "x", None)));
    }
}

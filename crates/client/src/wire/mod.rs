//! The CLI's side of the Kafka protocol: routing requests to the right broker over
//! [`sluice_protocol::client::Connection`]s (which frame, negotiate versions, bound and guard
//! every response), and reading the answers of the admin APIs into plain data.
//!
//! Connections use the TLS and SASL settings read by `client_security.rs` (PLAINTEXT by
//! default); every connection to every broker is secured alike.
//!
//! Layout:
//! - `mod.rs`: [`RequestError`] and [`Retry`], the deadline-bounded retry of retriable errors.
//! - `cluster_client.rs`: [`ClusterClient`]: connections by broker, bootstrap -> Metadata ->
//!   leaders, coordinators (FindCoordinator) and the controller.
//! - `metadata.rs`: Metadata into plain data (brokers, controller, partitions, leaders, ISRs).
//! - `list_offsets.rs`: ListOffsets to partition leaders (offsets for timestamps, start, end).
//! - `describe_cluster.rs`: DescribeCluster v0-v2 (cluster id, controller, brokers, fenced).
//! - `describe_quorum.rs`: DescribeQuorum v0-v2 (metadata quorum leader, voters' progress).
//! - `elect_leaders.rs`: ElectLeaders v0-v2 (preferred and unclean elections).
//! - `reassignments.rs`: AlterPartitionReassignments v0-v1, ListPartitionReassignments v0.

mod cluster_client;
pub mod describe_cluster;
pub mod describe_quorum;
pub mod elect_leaders;
pub mod list_offsets;
pub mod metadata;
pub mod reassignments;

use std::time::{Duration, Instant};

use sluice_protocol::client::ClientError;

use crate::error_codes::{code_text, is_retriable};

pub use cluster_client::{ClusterClient, CoordinatorType};

/// Why a request did not produce the answer wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// Connecting, sending, receiving or reading the response failed; the text says which.
    /// Another broker may still answer.
    Transport(String),
    /// The broker cannot do what was asked: an API or a version it lacks, an answer that says
    /// nothing usable. Asking again will not help.
    Unsupported(String),
    /// The broker answered with a Kafka error code; `text` is the whole line to show.
    Broker { code: i16, text: String },
    /// The SASL login was refused (a wrong user name or password): no broker will take it.
    Authentication(String),
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

    /// The same error, its text prefixed with what was being done (`"describing group 'g'"`).
    pub fn context(self, doing: &str) -> Self {
        match self {
            RequestError::Transport(text) => RequestError::Transport(format!("{doing}: {text}")),
            RequestError::Unsupported(text) => {
                RequestError::Unsupported(format!("{doing}: {text}"))
            }
            RequestError::Authentication(text) => {
                RequestError::Authentication(format!("{doing}: {text}"))
            }
            RequestError::Broker { code, text } => RequestError::Broker {
                code,
                text: format!("{doing}: {text}"),
            },
        }
    }

    /// Whether asking again (after finding the leader or coordinator again) may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            RequestError::Transport(_)
            | RequestError::Unsupported(_)
            | RequestError::Authentication(_) => false,
            RequestError::Broker { code, .. } => is_retriable(*code),
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Transport(text)
            | RequestError::Unsupported(text)
            | RequestError::Authentication(text)
            | RequestError::Broker { text, .. } => f.write_str(text),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<ClientError> for RequestError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::UnsupportedVersion { .. } => RequestError::Unsupported(error.to_string()),
            ClientError::Authentication { .. } => RequestError::Authentication(error.to_string()),
            // Garbage from a broker (refused by the guard or the decoder) is treated like a
            // broken connection: another broker may do better.
            _ => RequestError::Transport(error.to_string()),
        }
    }
}

/// Pause between two attempts of a request that failed with a retriable code.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Retries of retriable errors until a deadline:
///
/// ```text
/// loop {
///     match attempt().await {
///         Err(e) if retry.again(&e).await => continue,
///         outcome => break outcome,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    deadline: Instant,
}

impl Retry {
    pub fn until(deadline: Instant) -> Retry {
        Retry { deadline }
    }

    /// True after a pause when `error` may go away and the next try still starts before the
    /// deadline; false at once otherwise (the error is then the answer).
    pub async fn again(&self, error: &RequestError) -> bool {
        if !error.is_retriable() || Instant::now() + RETRY_BACKOFF >= self.deadline {
            return false;
        }
        tokio::time::sleep(RETRY_BACKOFF).await;
        true
    }
}

/// `host:port` for connecting, with brackets around an IPv6 host.
pub fn host_port(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Kafka's name of an error code (`TOPIC_ALREADY_EXISTS`), or `ERROR_<code>` for one Kafka does
/// not define.
pub fn error_name(code: i16) -> String {
    crate::error_codes::code_name(code).unwrap_or_else(|| format!("ERROR_{code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("broker-1", 9092), "broker-1:9092");
        assert_eq!(host_port("::1", 9092), "[::1]:9092");
    }

    #[tokio::test]
    async fn coordinator_moves_are_retried_and_the_rest_is_not() {
        assert!(RequestError::broker(14, "x", None).is_retriable());
        assert!(RequestError::broker(16, "x", None).is_retriable());
        assert!(!RequestError::broker(105, "x", None).is_retriable());
        assert!(!RequestError::Transport("gone".into()).is_retriable());
        assert_eq!(
            RequestError::broker(16, "DescribeTransactions", Some("moved")).to_string(),
            "DescribeTransactions: Broker: Not coordinator (NOT_COORDINATOR): moved"
        );

        let retry = Retry::until(Instant::now() + Duration::from_secs(30));
        let mut attempts = 0;
        let outcome = loop {
            attempts += 1;
            let result = if attempts < 3 {
                Err(RequestError::broker(14, "x", None))
            } else {
                Ok(attempts)
            };
            match result {
                Err(e) if retry.again(&e).await => continue,
                outcome => break outcome,
            }
        };
        assert_eq!(outcome, Ok(3));

        let not_retriable = RequestError::broker(105, "x", None);
        assert!(!retry.again(&not_retriable).await);
        assert!(!retry.again(&RequestError::Transport("gone".into())).await);
        // Past the deadline the retriable error itself is the answer.
        let late = Retry::until(Instant::now());
        assert!(!late.again(&RequestError::broker(15, "x", None)).await);
    }
}

//! Which broker gets a request, and the connections to them.
//!
//! The client starts from the bootstrap servers and learns the cluster from Metadata: broker
//! ids and addresses, the controller, each partition's leader. Requests go
//! - to any broker (Metadata, DescribeConfigs, ...): the bootstrap servers first, then the
//!   brokers Metadata listed, until one answers; a broker's own answer (an error code) is final;
//! - to a given broker (a partition's leader, a coordinator);
//! - to the controller named by Metadata (CreateTopics, DeleteTopics, CreatePartitions), or any
//!   broker when none is named (a KRaft broker forwards);
//! - to the coordinator of a group or transactional id, found with FindCoordinator.
//!
//! Connections are kept per address and reused; one that failed is dropped, so the next request
//! reconnects. Commands that talk to several brokers at once take connections out
//! ([`ClusterClient::checkout`]) and give them back ([`ClusterClient::checkin`]).
//!
//! Every call takes a deadline; one request waits at most the request timeout
//! (`request.timeout.ms`), never past the deadline.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest};
use kafka_protocol::protocol::{Request, StrBytes};
use sluice_protocol::client::{ClientSecurity, Connection, ConnectionOptions};

use super::metadata::{self, ClusterMetadata};
use super::{host_port, RequestError};
use crate::client_settings::ClientSettings;

/// What a coordinator is looked up for (FindCoordinator key type).
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

/// FindCoordinator versions read: v1 is the oldest with a key type; v4+ batches keys.
const FIND_COORDINATOR_VERSIONS: RangeInclusive<i16> = 1..=6;

pub struct ClusterClient {
    bootstrap: Vec<String>,
    options: ConnectionOptions,
    /// TLS and SASL of every connection.
    security: ClientSecurity,
    request_timeout: Duration,
    connections: HashMap<String, Connection>,
    /// Broker id -> `host:port`, from the latest Metadata (and FindCoordinator answers).
    brokers: BTreeMap<i32, String>,
    /// From the latest Metadata; -1 when none is known.
    controller_id: i32,
}

impl ClusterClient {
    pub fn new(settings: &ClientSettings) -> ClusterClient {
        ClusterClient {
            bootstrap: settings.bootstrap.clone(),
            options: ConnectionOptions {
                client_id: settings.client_id.clone(),
                max_response_bytes: settings.max_response_bytes,
            },
            security: settings.security.clone(),
            request_timeout: settings.request_timeout,
            connections: HashMap::new(),
            brokers: BTreeMap::new(),
            controller_id: -1,
        }
    }

    /// The `host:port` of a broker Metadata (or FindCoordinator) named.
    pub fn broker_addr(&self, broker_id: i32) -> Option<&str> {
        self.brokers.get(&broker_id).map(String::as_str)
    }

    /// The longest one request may take (`request.timeout.ms`).
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// The timeout of one request: the request timeout, cut to the deadline.
    pub fn call_timeout(&self, deadline: Instant) -> Result<Duration, RequestError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RequestError::Transport(
                "timed out waiting for the cluster".to_string(),
            ));
        }
        Ok(left.min(self.request_timeout))
    }

    /// A connection to `addr`, opened if there is none, taken out of the pool.
    async fn take(&mut self, addr: &str, deadline: Instant) -> Result<Connection, RequestError> {
        if let Some(connection) = self.connections.remove(addr) {
            return Ok(connection);
        }
        let timeout = self.call_timeout(deadline)?;
        Ok(Connection::connect_secure(addr, &self.options, &self.security, timeout).await?)
    }

    /// Sends to `addr` at the newest version in `versions` it supports, the request built for
    /// that version by `build`. Returns the response and its version.
    pub async fn send_to_addr<R: Request>(
        &mut self,
        addr: &str,
        versions: RangeInclusive<i16>,
        build: impl FnOnce(i16) -> R,
        deadline: Instant,
    ) -> Result<(R::Response, i16), RequestError> {
        let mut connection = self.take(addr, deadline).await?;
        let outcome = async {
            let timeout = self.call_timeout(deadline)?;
            let version = connection
                .negotiate::<R>(*versions.start(), *versions.end(), timeout)
                .await?;
            let request = build(version);
            let timeout = self.call_timeout(deadline)?;
            let response = connection.send(&request, version, timeout).await?;
            Ok::<_, RequestError>((response, version))
        }
        .await;
        // A connection that failed on the wire is dropped; one whose broker lacks an API is
        // still good.
        if !matches!(outcome, Err(RequestError::Transport(_))) {
            self.connections.insert(addr.to_string(), connection);
        }
        outcome
    }

    /// The version of `R` a request to `addr` would be sent at: the newest in `versions` the
    /// broker supports.
    pub async fn negotiate<R: Request>(
        &mut self,
        addr: &str,
        versions: RangeInclusive<i16>,
        deadline: Instant,
    ) -> Result<i16, RequestError> {
        let mut connection = self.take(addr, deadline).await?;
        let outcome = async {
            let timeout = self.call_timeout(deadline)?;
            Ok::<_, RequestError>(
                connection
                    .negotiate::<R>(*versions.start(), *versions.end(), timeout)
                    .await?,
            )
        }
        .await;
        if !matches!(outcome, Err(RequestError::Transport(_))) {
            self.connections.insert(addr.to_string(), connection);
        }
        outcome
    }

    /// Sends to broker `broker_id`, learning its address from Metadata if needed.
    pub async fn send_to_broker<R: Request>(
        &mut self,
        broker_id: i32,
        versions: RangeInclusive<i16>,
        build: impl FnOnce(i16) -> R,
        deadline: Instant,
    ) -> Result<(R::Response, i16), RequestError> {
        let addr = self.addr_of(broker_id, deadline).await?;
        self.send_to_addr(&addr, versions, build, deadline).await
    }

    async fn addr_of(&mut self, broker_id: i32, deadline: Instant) -> Result<String, RequestError> {
        if !self.brokers.contains_key(&broker_id) {
            self.metadata(Some(&[]), false, deadline).await?;
        }
        self.brokers.get(&broker_id).cloned().ok_or_else(|| {
            RequestError::Transport(format!("broker {broker_id} is not in the cluster metadata"))
        })
    }

    /// Sends to the first broker that answers: the bootstrap servers, then the brokers
    /// Metadata listed. Only transport failures move on to the next; a broker's answer is the
    /// answer.
    pub async fn send_to_any<R: Request>(
        &mut self,
        versions: RangeInclusive<i16>,
        build: impl Fn(i16) -> R,
        deadline: Instant,
    ) -> Result<(R::Response, i16), RequestError> {
        let mut candidates: Vec<String> = self.connections.keys().cloned().collect();
        for addr in self.bootstrap.iter().chain(self.brokers.values()) {
            if !candidates.contains(addr) {
                candidates.push(addr.clone());
            }
        }
        let mut failures = Vec::new();
        for addr in &candidates {
            match self
                .send_to_addr(addr, versions.clone(), &build, deadline)
                .await
            {
                Err(RequestError::Transport(why)) => failures.push(why),
                outcome => return outcome,
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        Err(RequestError::Transport(format!(
            "cannot reach the cluster: {}",
            failures.join("; ")
        )))
    }

    /// Metadata for `topics` (`None`: every topic; `Some(&[])`: brokers and controller only),
    /// from any broker. Auto-creates missing topics only when `allow_auto_create` (and the
    /// broker allows it). Remembers the brokers and the controller.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
        allow_auto_create: bool,
        deadline: Instant,
    ) -> Result<ClusterMetadata, RequestError> {
        let (response, version) = self
            .send_to_any::<MetadataRequest>(
                metadata::VERSIONS,
                |version| metadata::request(topics, allow_auto_create, version),
                deadline,
            )
            .await?;
        let cluster = metadata::from_response(response, version)?;
        for broker in &cluster.brokers {
            self.brokers
                .insert(broker.node_id, host_port(&broker.host, broker.port));
        }
        self.controller_id = cluster.controller_id;
        Ok(cluster)
    }

    /// Sends to the controller Metadata names, or to any broker when it names none (a KRaft
    /// broker forwards controller requests).
    pub async fn send_to_controller<R: Request>(
        &mut self,
        versions: RangeInclusive<i16>,
        build: impl Fn(i16) -> R,
        deadline: Instant,
    ) -> Result<(R::Response, i16), RequestError> {
        if self.controller_id < 0 {
            self.metadata(Some(&[]), false, deadline).await?;
        }
        if let Some(addr) = self.broker_addr(self.controller_id).map(str::to_string) {
            match self
                .send_to_addr(&addr, versions.clone(), &build, deadline)
                .await
            {
                Err(RequestError::Transport(_)) => {}
                outcome => return outcome,
            }
        }
        self.send_to_any(versions, build, deadline).await
    }

    /// The broker id of the coordinator of `key`, asked of any broker; its address is
    /// remembered.
    pub async fn find_coordinator(
        &mut self,
        key: &str,
        kind: CoordinatorType,
        deadline: Instant,
    ) -> Result<i32, RequestError> {
        let (response, version) = self
            .send_to_any::<FindCoordinatorRequest>(
                FIND_COORDINATOR_VERSIONS,
                |version| {
                    let request = FindCoordinatorRequest::default().with_key_type(kind.key_type());
                    let key = StrBytes::from_string(key.to_string());
                    if version >= 4 {
                        request.with_coordinator_keys(vec![key])
                    } else {
                        request.with_key(key)
                    }
                },
                deadline,
            )
            .await?;
        let (error_code, message, node_id, host, port) = if version >= 4 {
            let Some(found) = response.coordinators.into_iter().next() else {
                return Err(RequestError::Unsupported(
                    "FindCoordinator answered no coordinator".to_string(),
                ));
            };
            (
                found.error_code,
                found.error_message,
                found.node_id,
                found.host,
                found.port,
            )
        } else {
            (
                response.error_code,
                response.error_message,
                response.node_id,
                response.host,
                response.port,
            )
        };
        if error_code != 0 {
            return Err(RequestError::broker(
                error_code,
                "FindCoordinator",
                message.as_deref(),
            ));
        }
        if !(1..=i32::from(u16::MAX)).contains(&port) {
            return Err(RequestError::Unsupported(format!(
                "FindCoordinator answered port {port}"
            )));
        }
        self.brokers.insert(node_id.0, host_port(&host, port));
        Ok(node_id.0)
    }

    /// A connection to broker `broker_id`, taken out of the pool for use alongside others; give
    /// it back with [`ClusterClient::checkin`] (or drop it after a failure).
    pub async fn checkout(
        &mut self,
        broker_id: i32,
        deadline: Instant,
    ) -> Result<Connection, RequestError> {
        let addr = self.addr_of(broker_id, deadline).await?;
        self.take(&addr, deadline).await
    }

    /// Returns a connection taken with [`ClusterClient::checkout`].
    pub fn checkin(&mut self, connection: Connection) {
        self.connections
            .insert(connection.addr().to_string(), connection);
    }
}

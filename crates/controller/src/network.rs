//! The client side of controller RPC: [`PeerClient`], one connection to one peer controller, and
//! [`NetworkFactory`], which gives openraft a client per peer.
//!
//! A client holds at most one connection and opens it when a call needs it. Any failure, and a
//! call abandoned half way (openraft drops the future on its own timeout), discards the
//! connection, so that the next call starts on a fresh one and never reads a stale response.
//! Every call is bounded: the connect by `connect_timeout`, the whole call by the caller's
//! deadline.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::raft_types::Node;
use crate::raft_types::NodeId;
use crate::raft_types::TypeConfig;
use crate::rpc::decode_body;
use crate::rpc::encode_frame;
use crate::rpc::read_frame_body;
use crate::rpc::read_frame_header;
use crate::rpc::write_frame;
use crate::rpc::FrameError;
use crate::rpc::RpcRequest;
use crate::rpc::RpcRequestBody;
use crate::rpc::RpcResponse;
use crate::transport::BoxedStream;
use crate::transport::ControllerTransport;
use openraft::error::InstallSnapshotError;
use openraft::error::NetworkError;
use openraft::error::PayloadTooLarge;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::RemoteError;
use openraft::error::Timeout;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RPCTypes;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;

/// Limits shared by the clients of one controller.
#[derive(Clone, Debug)]
pub(crate) struct ClientSettings {
    pub frame_bytes_max: usize,
    pub connect_timeout: Duration,
    /// Opens connections (TCP, then TLS and SASL when the controller listener uses them).
    pub transport: Arc<dyn ControllerTransport>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// No connection could be made: the request was not sent.
    #[error("cannot connect to controller {target} at {addr:?}: {source}")]
    Unreachable {
        target: NodeId,
        addr: Option<SocketAddr>,
        source: io::Error,
    },
    /// The request is larger than a frame may be: it was not sent.
    #[error("request of {length} bytes exceeds the {max}-byte frame limit")]
    TooLarge { length: usize, max: usize },
    /// The connection failed after the request may have been sent.
    #[error("controller {target}: {source}")]
    Connection { target: NodeId, source: FrameError },
    #[error("controller {target} did not answer within {timeout:?}")]
    Timeout { target: NodeId, timeout: Duration },
    /// The peer at the address is not the node that was meant.
    #[error("controller at {addr:?} is node {actual}, not node {target}")]
    WrongNode {
        target: NodeId,
        actual: NodeId,
        addr: Option<SocketAddr>,
    },
}

impl CallError {
    /// True when the request certainly did not reach the peer.
    pub(crate) fn not_sent(&self) -> bool {
        matches!(
            self,
            CallError::Unreachable { .. }
                | CallError::TooLarge { .. }
                | CallError::WrongNode { .. }
        )
    }
}

/// A connection to one peer controller, opened on demand.
pub(crate) struct PeerClient {
    /// This node.
    from: NodeId,
    target: NodeId,
    addr: Option<SocketAddr>,
    settings: ClientSettings,
    /// Present between calls when the last call succeeded; taken out during a call.
    connection: Option<BoxedStream>,
}

impl PeerClient {
    pub(crate) fn new(
        from: NodeId,
        target: NodeId,
        addr: Option<SocketAddr>,
        settings: ClientSettings,
    ) -> Self {
        PeerClient {
            from,
            target,
            addr,
            settings,
            connection: None,
        }
    }

    /// Sends `body` and returns the peer's response, within `timeout`.
    pub(crate) async fn call(
        &mut self,
        body: RpcRequestBody,
        timeout: Duration,
    ) -> Result<RpcResponse, CallError> {
        let request = RpcRequest {
            to: self.target,
            body,
        };
        let frame = encode_frame(&request, self.settings.frame_bytes_max).map_err(|e| match e {
            FrameError::TooLarge { length, max } => CallError::TooLarge { length, max },
            other => CallError::Connection {
                target: self.target,
                source: other,
            },
        })?;
        // Taken now, put back only after a complete exchange: a call cancelled or failed half way
        // leaves no connection behind.
        let connection = self.connection.take();
        let exchange = Self::exchange(self.target, self.addr, &self.settings, connection, &frame);
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(CallError::Timeout {
                target: self.target,
                timeout,
            }),
            Ok(Err(e)) => Err(e),
            Ok(Ok((stream, RpcResponse::WrongNode { node_id }))) => {
                drop(stream);
                Err(CallError::WrongNode {
                    target: self.target,
                    actual: node_id,
                    addr: self.addr,
                })
            }
            Ok(Ok((stream, response))) => {
                self.connection = Some(stream);
                Ok(response)
            }
        }
    }

    async fn exchange(
        target: NodeId,
        addr: Option<SocketAddr>,
        settings: &ClientSettings,
        connection: Option<BoxedStream>,
        frame: &[u8],
    ) -> Result<(BoxedStream, RpcResponse), CallError> {
        let mut stream = match connection {
            Some(s) => s,
            None => {
                let unreachable = |source| CallError::Unreachable {
                    target,
                    addr,
                    source,
                };
                let addr = addr.ok_or_else(|| {
                    unreachable(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no address known for this node id",
                    ))
                })?;
                let connect = settings.transport.connect(addr, settings.connect_timeout);
                tokio::time::timeout(settings.connect_timeout, connect)
                    .await
                    .map_err(|_| unreachable(io::ErrorKind::TimedOut.into()))?
                    .map_err(unreachable)?
            }
        };
        let connection_error = |source| CallError::Connection { target, source };
        write_frame(&mut stream, frame)
            .await
            .map_err(|e| connection_error(FrameError::Io(e)))?;
        let length = read_frame_header(&mut stream, settings.frame_bytes_max)
            .await
            .map_err(connection_error)?
            .ok_or_else(|| {
                connection_error(FrameError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before the response",
                )))
            })?;
        let body = read_frame_body(&mut stream, length)
            .await
            .map_err(connection_error)?;
        let response = decode_body(&body).map_err(connection_error)?;
        Ok((stream, response))
    }

    fn rpc_error<E: std::error::Error>(
        &self,
        action: RPCTypes,
        error: CallError,
    ) -> RPCError<NodeId, Node, E> {
        match error {
            CallError::Timeout { timeout, .. } => RPCError::Timeout(Timeout {
                action,
                id: self.from,
                target: self.target,
                timeout,
            }),
            e @ (CallError::Unreachable { .. } | CallError::WrongNode { .. }) => {
                RPCError::Unreachable(Unreachable::new(&e))
            }
            e => RPCError::Network(NetworkError::new(&e)),
        }
    }

    fn unexpected<E: std::error::Error>(
        &self,
        response: &RpcResponse,
    ) -> RPCError<NodeId, Node, E> {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("controller {} answered with {response:?}", self.target),
        );
        RPCError::Network(NetworkError::new(&e))
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        let entries = rpc.entries.len() as u64;
        match self
            .call(RpcRequestBody::AppendEntries(rpc), option.hard_ttl())
            .await
        {
            Ok(RpcResponse::AppendEntries(Ok(response))) => Ok(response),
            Ok(RpcResponse::AppendEntries(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.unexpected(&other)),
            // openraft retries with fewer entries; a single entry too large for a frame cannot
            // be sent at all (proposals are bounded below the frame size to prevent it).
            Err(CallError::TooLarge { .. }) if entries > 1 => Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(entries / 2),
            )),
            Err(e) => Err(self.rpc_error(RPCTypes::AppendEntries, e)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, Node, RaftError<NodeId, InstallSnapshotError>>,
    > {
        match self
            .call(RpcRequestBody::InstallSnapshot(rpc), option.hard_ttl())
            .await
        {
            Ok(RpcResponse::InstallSnapshot(Ok(response))) => Ok(response),
            Ok(RpcResponse::InstallSnapshot(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.unexpected(&other)),
            Err(e) => Err(self.rpc_error(RPCTypes::InstallSnapshot, e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, Node, RaftError<NodeId>>> {
        match self
            .call(RpcRequestBody::Vote(rpc), option.hard_ttl())
            .await
        {
            Ok(RpcResponse::Vote(Ok(response))) => Ok(response),
            Ok(RpcResponse::Vote(Err(e))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, e)))
            }
            Ok(other) => Err(self.unexpected(&other)),
            Err(e) => Err(self.rpc_error(RPCTypes::Vote, e)),
        }
    }
}

/// Creates openraft's per-peer clients. Addresses come from the configured voters, falling back
/// to the address stored in the Raft membership.
pub(crate) struct NetworkFactory {
    pub node_id: NodeId,
    pub voters: Arc<BTreeMap<NodeId, SocketAddr>>,
    pub settings: ClientSettings,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        let addr = self
            .voters
            .get(&target)
            .copied()
            .or_else(|| node.addr.parse().ok());
        PeerClient::new(self.node_id, target, addr, self.settings.clone())
    }
}

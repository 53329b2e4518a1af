//! The controller listener (Kafka's `controller.listener.names` idea): accepts connections from
//! peer controllers and serves their RPCs against the local Raft node (and broker registrations
//! and heartbeats against the local cluster manager).
//!
//! Each connection is served by its own task, one request at a time (the protocol is
//! request/response, see `rpc`). Limits: at most `max_connections` connections (more are closed
//! at once), frame length checked before allocating, a frame body must arrive within
//! `request_timeout` of its header, an idle connection is closed after `idle_timeout`, snapshot
//! chunks must lie within [`SNAPSHOT_BYTES_MAX`]. A frame
//! that is too long or does not decode closes that connection only, with a warning saying why.
//! On shutdown the accept loop stops and every connection task is ended and awaited.
//!
//! Pre-vote (see `pre_vote`) learns here when this node last heard from a leader: an accepted
//! AppendEntries or snapshot chunk (one that did not meet a higher vote).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::raft::AppendEntriesResponse;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cluster_manager::ClusterManager;
use crate::controller::add_learner_local;
use crate::controller::propose_local;
use crate::pre_vote::PreVote;
use crate::raft_types::NodeId;
use crate::raft_types::Raft;
use crate::rpc::decode_body;
use crate::rpc::encode_frame;
use crate::rpc::read_frame_body;
use crate::rpc::read_frame_header;
use crate::rpc::write_frame;
use crate::rpc::RpcRequest;
use crate::rpc::RpcRequestBody;
use crate::rpc::RpcResponse;
use crate::transport::BoxedStream;
use crate::transport::ControllerTransport;

/// Time a request may take beyond `request_timeout` (a forwarded proposal waits up to
/// `propose_timeout` for its commit, then answers).
const HANDLER_GRACE: Duration = Duration::from_secs(1);

/// Largest snapshot a follower accepts (the serialized metadata image).
pub(crate) const SNAPSHOT_BYTES_MAX: u64 = 1 << 30;

#[derive(Clone, Debug)]
pub(crate) struct ServerSettings {
    pub node_id: NodeId,
    pub frame_bytes_max: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    /// How long a forwarded proposal may wait for its commit.
    pub propose_timeout: Duration,
    /// Sets up accepted connections (TLS and SASL when the controller listener uses them).
    pub transport: Arc<dyn ControllerTransport>,
}

/// Resolves once `shutdown` is set (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// Serves `listener` until `shutdown` is set, then ends and awaits every connection task.
pub(crate) async fn serve(
    listener: TcpListener,
    raft: Raft,
    manager: Arc<ClusterManager>,
    pre_vote: Arc<PreVote>,
    settings: ServerSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let settings = Arc::new(settings);
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => accepted,
        };
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((stream, peer)) => {
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!(
                        %peer,
                        limit = settings.max_connections,
                        "refusing a controller connection: too many open"
                    );
                    continue;
                };
                let raft = raft.clone();
                let manager = manager.clone();
                let pre_vote = pre_vote.clone();
                let settings = settings.clone();
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let timeout = settings.request_timeout;
                    let accepted = settings.transport.accept(stream, peer, timeout);
                    match tokio::time::timeout(timeout, accepted).await {
                        Ok(Ok(accepted)) => {
                            tracing::debug!(%peer, principal = %accepted.principal, "controller connection");
                            serve_connection(
                                accepted.stream,
                                peer,
                                raft,
                                manager,
                                pre_vote,
                                settings,
                                shutdown,
                            )
                            .await;
                        }
                        Ok(Err(e)) => {
                            tracing::warn!(%peer, "refusing a controller connection: {e}");
                        }
                        Err(_) => {
                            tracing::warn!(%peer, "refusing a controller connection: set-up took longer than {timeout:?}");
                        }
                    }
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("controller listener accept failed: {e}");
                tokio::select! {
                    _ = stopped(&mut shutdown) => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(
    mut stream: BoxedStream,
    peer: SocketAddr,
    raft: Raft,
    manager: Arc<ClusterManager>,
    pre_vote: Arc<PreVote>,
    settings: Arc<ServerSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let max = settings.frame_bytes_max;
    loop {
        let next_header = read_frame_header(&mut stream, max);
        let header = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            header = tokio::time::timeout(settings.idle_timeout, next_header) => header,
        };
        let length = match header {
            Err(_) => {
                tracing::debug!(%peer, "closing an idle controller connection");
                return;
            }
            Ok(Ok(None)) => return,
            Ok(Ok(Some(length))) => length,
            Ok(Err(e)) => {
                tracing::warn!(%peer, "closing controller connection: {e}");
                return;
            }
        };
        let body = match tokio::time::timeout(
            settings.request_timeout,
            read_frame_body(&mut stream, length),
        )
        .await
        {
            Err(_) => {
                tracing::warn!(%peer, "closing controller connection: frame body too slow");
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(%peer, "closing controller connection: {e}");
                return;
            }
            Ok(Ok(body)) => body,
        };
        let request: RpcRequest = match decode_body(&body) {
            Ok(request) => request,
            Err(e) => {
                tracing::warn!(%peer, "closing controller connection: {e}");
                return;
            }
        };
        if let RpcRequestBody::InstallSnapshot(chunk) = &request.body {
            // The receiver writes each chunk at its offset into an in-memory buffer: an offset
            // far past the end would make it allocate that much.
            let end = chunk.offset.saturating_add(chunk.data.len() as u64);
            if end > SNAPSHOT_BYTES_MAX {
                tracing::warn!(
                    %peer,
                    end,
                    limit = SNAPSHOT_BYTES_MAX,
                    "closing controller connection: snapshot chunk past the size limit"
                );
                return;
            }
        }
        let response = if request.to != settings.node_id {
            tracing::warn!(%peer, to = request.to, "controller request for another node id");
            RpcResponse::WrongNode {
                node_id: settings.node_id,
            }
        } else {
            // The Raft node answers within its own timeouts; this bounds a stuck one.
            let deadline = settings.request_timeout + HANDLER_GRACE;
            let handled = tokio::time::timeout(
                deadline,
                handle(&raft, &manager, &pre_vote, request.body, &settings),
            );
            tokio::select! {
                _ = stopped(&mut shutdown) => return,
                response = handled => match response {
                    Ok(response) => response,
                    Err(_) => {
                        tracing::warn!(%peer, "closing controller connection: no answer in time");
                        return;
                    }
                },
            }
        };
        let frame = match encode_frame(&response, max) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(%peer, "closing controller connection: cannot answer: {e}");
                return;
            }
        };
        match tokio::time::timeout(settings.request_timeout, write_frame(&mut stream, &frame)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(%peer, "controller connection lost: {e}");
                return;
            }
            Err(_) => {
                tracing::warn!(%peer, "closing controller connection: response not taken in time");
                return;
            }
        }
    }
}

async fn handle(
    raft: &Raft,
    manager: &ClusterManager,
    pre_vote: &PreVote,
    body: RpcRequestBody,
    settings: &ServerSettings,
) -> RpcResponse {
    match body {
        RpcRequestBody::AppendEntries(rpc) => {
            let response = raft.append_entries(rpc).await;
            // Any other answer means the sender's vote was accepted: it is the leader.
            if matches!(&response, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
                pre_vote.heard_from_leader();
            }
            RpcResponse::AppendEntries(response)
        }
        RpcRequestBody::Vote(rpc) => RpcResponse::Vote(raft.vote(rpc).await),
        RpcRequestBody::InstallSnapshot(rpc) => {
            let leader_vote = rpc.vote;
            let response = raft.install_snapshot(rpc).await;
            // The receiver answers with its vote: the sender's when it accepted the chunk.
            if matches!(&response, Ok(r) if r.vote == leader_vote) {
                pre_vote.heard_from_leader();
            }
            RpcResponse::InstallSnapshot(response)
        }
        RpcRequestBody::Propose(proposal) => {
            RpcResponse::Propose(propose_local(raft, proposal, settings.propose_timeout).await)
        }
        RpcRequestBody::AddLearner { node_id, addr } => RpcResponse::AddLearner(
            add_learner_local(raft, node_id, addr, settings.propose_timeout).await,
        ),
        RpcRequestBody::RegisterBroker(request) => RpcResponse::RegisterBroker(
            manager
                .register_broker(request, settings.propose_timeout)
                .await,
        ),
        RpcRequestBody::BrokerHeartbeat(request) => RpcResponse::BrokerHeartbeat(
            manager
                .broker_heartbeat(request, settings.propose_timeout)
                .await,
        ),
        RpcRequestBody::PreVote(request) => RpcResponse::PreVote(pre_vote.answer(raft, &request)),
        RpcRequestBody::DescribeQuorum => {
            RpcResponse::DescribeQuorum(crate::quorum::describe_local(raft, manager.log()))
        }
    }
}

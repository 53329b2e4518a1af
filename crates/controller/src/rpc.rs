//! The controller RPC protocol: frames on a TCP connection between controllers.
//!
//! # Frame layout
//! ```text
//! offset  size  field
//! 0       4     body_length  u32 big-endian, 1..=frame_bytes_max
//! 4       n     body         postcard encoding of an RpcRequest (client to server) or an
//!                            RpcResponse (server to client)
//! ```
//! A connection carries one request at a time: the client writes a request frame and reads one
//! response frame before the next request. The length is checked against `frame_bytes_max`
//! before anything is allocated; a frame that is too long or does not decode closes the
//! connection (it cannot be answered: the stream is no longer in sync).
//!
//! postcard (a compact, stable binary serde format) rather than JSON, because snapshot chunks
//! are raw bytes: JSON would send each byte as a decimal number in an array.
//!
//! Compatibility: postcard encodes an enum variant by its position, so new variants of
//! [`RpcRequestBody`] and [`RpcResponse`] go at the end and fields are not removed or reordered.
//! A node that does not know a request closes the connection (it does not decode): the sender
//! sees a failed call, which for a new request must mean something safe (a pre-vote counts as
//! refused).

use serde::Deserialize;
use serde::Serialize;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;

use openraft::error::InstallSnapshotError;
use openraft::error::RaftError;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;

use std::net::SocketAddr;

use crate::command::CommandError;
use crate::command::CommandResult;
use crate::lifecycle::BrokerHeartbeatReply;
use crate::lifecycle::BrokerHeartbeatRequest;
use crate::lifecycle::BrokerRegistrationRequest;
use crate::pre_vote::PreVoteReply;
use crate::pre_vote::PreVoteRequest;
use crate::proposers::Proposal;
use crate::quorum::QuorumDescription;
use crate::raft_types::NodeId;
use crate::raft_types::TypeConfig;

/// Bytes before a frame's body.
pub(crate) const FRAME_HEADER_BYTES: usize = 4;

/// A request, addressed to one node id so that a misconfigured voter address is noticed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RpcRequest {
    pub to: NodeId,
    pub body: RpcRequestBody,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum RpcRequestBody {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A command proposed on another node, for this node to append if it leads.
    Propose(Proposal),
    /// A non-voting node asks to be added as a learner, reachable at `addr` (its controller
    /// listener). Only the leader adds it; adding a node that already is a learner is harmless.
    AddLearner {
        node_id: NodeId,
        addr: SocketAddr,
    },
    /// A broker registration, for the leader to handle (see `cluster_manager`).
    RegisterBroker(BrokerRegistrationRequest),
    /// A broker heartbeat, for the leader to answer (see `cluster_manager`).
    BrokerHeartbeat(BrokerHeartbeatRequest),
    /// A voter without a leader asks whether this voter would vote for it (see `pre_vote`).
    PreVote(PreVoteRequest),
    /// The quorum's state, for the leader to describe (see `quorum`).
    DescribeQuorum,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum RpcResponse {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    Propose(ProposeReply),
    AddLearner(AddLearnerReply),
    /// The request was for another node id: the sender's voter addresses are wrong.
    WrongNode {
        node_id: NodeId,
    },
    RegisterBroker(LeaderReply<i64>),
    BrokerHeartbeat(LeaderReply<BrokerHeartbeatReply>),
    PreVote(PreVoteReply),
    DescribeQuorum(LeaderReply<QuorumDescription>),
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ProposeReply {
    /// The command committed at `log_index` with this result.
    Applied {
        log_index: u64,
        result: CommandResult,
    },
    /// This node does not lead (`leader` is the one it knows of); the command was not appended.
    NotLeader { leader: Option<NodeId> },
    /// The leader accepted the command but it did not commit in time; it may still.
    TimedOut,
    /// The leader accepted the command but failed it (e.g. it lost leadership); it may or may not
    /// commit.
    Failed(String),
}

/// The answer to a request only the leader handles (broker registrations and heartbeats).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum LeaderReply<T> {
    /// Handled by the leader. `log_index` is the entry it wrote for the request, if any: the
    /// asking node waits until it has applied it, so that it reads its own write.
    Answered {
        result: Result<T, CommandError>,
        log_index: Option<u64>,
    },
    /// This node does not lead (`leader` is the one it knows of); nothing was done.
    NotLeader { leader: Option<NodeId> },
    /// The leader wrote an entry for the request whose outcome is unknown (it timed out or
    /// failed, e.g. leadership was lost): the request may be sent again.
    Failed(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum AddLearnerReply {
    /// The membership change that adds the learner committed.
    Added,
    /// This node does not lead (`leader` is the one it knows of).
    NotLeader { leader: Option<NodeId> },
    /// Refused or failed (e.g. the node id is a voter); the learner retries later.
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {length} bytes exceeds the {max}-byte limit")]
    TooLarge { length: usize, max: usize },
    #[error("empty frame")]
    Empty,
    #[error("undecodable frame: {0}")]
    Decode(#[from] postcard::Error),
}

/// Reads the header of the next frame: `Ok(None)` on a clean end of stream before it.
pub(crate) async fn read_frame_header<R: AsyncRead + Unpin>(
    reader: &mut R,
    frame_bytes_max: usize,
) -> Result<Option<usize>, FrameError> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let mut filled = 0;
    while filled < header.len() {
        let n = reader.read(&mut header[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()))
            };
        }
        filled += n;
    }
    let length = u32::from_be_bytes(header) as usize;
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > frame_bytes_max {
        return Err(FrameError::TooLarge {
            length,
            max: frame_bytes_max,
        });
    }
    Ok(Some(length))
}

/// Reads a frame body whose length was checked by [`read_frame_header`].
pub(crate) async fn read_frame_body<R: AsyncRead + Unpin>(
    reader: &mut R,
    length: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    Ok(body)
}

/// Encodes `message` as a frame; fails when it would exceed `frame_bytes_max`.
pub(crate) fn encode_frame<T: Serialize>(
    message: &T,
    frame_bytes_max: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut frame = vec![0u8; FRAME_HEADER_BYTES];
    frame = postcard::to_extend(message, frame)?;
    let length = frame.len() - FRAME_HEADER_BYTES;
    if length > frame_bytes_max {
        return Err(FrameError::TooLarge {
            length,
            max: frame_bytes_max,
        });
    }
    let header = u32::try_from(length).map_err(|_| FrameError::TooLarge {
        length,
        max: frame_bytes_max,
    })?;
    frame[..FRAME_HEADER_BYTES].copy_from_slice(&header.to_be_bytes());
    Ok(frame)
}

pub(crate) fn decode_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    Ok(postcard::from_bytes(body)?)
}

pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    frame: &[u8],
) -> std::io::Result<()> {
    writer.write_all(frame).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use openraft::CommittedLeaderId;
    use openraft::Entry;
    use openraft::EntryPayload;
    use openraft::LogId;
    use openraft::Vote;

    use super::*;
    use crate::command::MetadataCommand;
    use crate::proposers::ProposerId;

    fn proposal(command: MetadataCommand) -> Proposal {
        Proposal {
            proposer: ProposerId {
                node_id: 2,
                incarnation: uuid::Uuid::from_u128(3),
                lane: 1,
            },
            sequence: 9,
            command,
        }
    }

    #[tokio::test]
    async fn frames_round_trip() {
        let request = RpcRequest {
            to: 3,
            body: RpcRequestBody::AppendEntries(AppendEntriesRequest {
                vote: Vote::new_committed(2, 1),
                prev_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), 4)),
                entries: vec![Entry {
                    log_id: LogId::new(CommittedLeaderId::new(2, 1), 5),
                    payload: EntryPayload::Normal(proposal(MetadataCommand::UnregisterBroker {
                        broker_id: 4,
                    })),
                }],
                leader_commit: None,
            }),
        };
        let frame = encode_frame(&request, 1 << 20).unwrap();
        let mut reader = &frame[..];
        let length = read_frame_header(&mut reader, 1 << 20)
            .await
            .unwrap()
            .unwrap();
        let body = read_frame_body(&mut reader, length).await.unwrap();
        let back: RpcRequest = decode_body(&body).unwrap();
        assert_eq!(back.to, 3);
        let RpcRequestBody::AppendEntries(append) = back.body else {
            panic!("wrong body");
        };
        assert_eq!(append.entries.len(), 1);
        assert!(read_frame_header(&mut reader, 1 << 20)
            .await
            .unwrap()
            .is_none());

        let snapshot_chunk = RpcRequestBody::InstallSnapshot(InstallSnapshotRequest {
            vote: Vote::new_committed(2, 1),
            meta: Default::default(),
            offset: 0,
            data: vec![7u8; 1000],
            done: true,
        });
        let frame = encode_frame(&snapshot_chunk, 1 << 20).unwrap();
        assert!(frame.len() < 1100, "raw bytes, not a JSON array");
    }

    #[tokio::test]
    async fn lifecycle_messages_round_trip() {
        let heartbeat = BrokerHeartbeatRequest {
            broker_id: 3,
            broker_epoch: 17,
            metadata_offset: 40,
            want_fence: false,
            want_shutdown: true,
            offline_log_dirs: vec![uuid::Uuid::from_u128(5)],
            offline_replicas: vec![(uuid::Uuid::from_u128(6), 2)],
        };
        let frame = encode_frame(
            &RpcRequest {
                to: 1,
                body: RpcRequestBody::BrokerHeartbeat(heartbeat.clone()),
            },
            1 << 20,
        )
        .unwrap();
        let back: RpcRequest = decode_body(&frame[FRAME_HEADER_BYTES..]).unwrap();
        let RpcRequestBody::BrokerHeartbeat(back) = back.body else {
            panic!("wrong body");
        };
        assert_eq!(back, heartbeat);

        let reply = RpcResponse::RegisterBroker(LeaderReply::Answered {
            result: Err(CommandError::DuplicateBrokerRegistration(3)),
            log_index: None,
        });
        let frame = encode_frame(&reply, 1 << 20).unwrap();
        let back: RpcResponse = decode_body(&frame[FRAME_HEADER_BYTES..]).unwrap();
        assert!(
            matches!(
                back,
                RpcResponse::RegisterBroker(LeaderReply::Answered {
                    result: Err(CommandError::DuplicateBrokerRegistration(3)),
                    log_index: None
                })
            ),
            "{back:?}"
        );
    }

    #[test]
    fn pre_vote_messages_round_trip() {
        let request = RpcRequest {
            to: 1,
            body: RpcRequestBody::PreVote(PreVoteRequest {
                candidate: 3,
                next_term: 7,
                last_log_id: Some(LogId::new(CommittedLeaderId::new(6, 2), 40)),
            }),
        };
        let frame = encode_frame(&request, 1 << 20).unwrap();
        let back: RpcRequest = decode_body(&frame[FRAME_HEADER_BYTES..]).unwrap();
        let RpcRequestBody::PreVote(back) = back.body else {
            panic!("wrong body");
        };
        let RpcRequestBody::PreVote(sent) = request.body else {
            unreachable!();
        };
        assert_eq!(back, sent);

        for reply in [
            PreVoteReply::Granted,
            PreVoteReply::LeaderAlive { leader: Some(2) },
            PreVoteReply::LogBehind {
                voter_last_log_id: None,
            },
        ] {
            let frame = encode_frame(&RpcResponse::PreVote(reply.clone()), 1 << 20).unwrap();
            let back: RpcResponse = decode_body(&frame[FRAME_HEADER_BYTES..]).unwrap();
            assert!(
                matches!(&back, RpcResponse::PreVote(r) if *r == reply),
                "{back:?}"
            );
        }
    }

    /// Variants keep their positions (postcard encodes the position): the pre-vote variants
    /// are the last, after those of earlier versions.
    #[test]
    fn pre_vote_variants_come_last() {
        let request = RpcRequestBody::PreVote(PreVoteRequest {
            candidate: 1,
            next_term: 1,
            last_log_id: None,
        });
        assert_eq!(postcard::to_stdvec(&request).unwrap()[0], 7);
        let reply = RpcResponse::PreVote(PreVoteReply::Granted);
        assert_eq!(postcard::to_stdvec(&reply).unwrap()[0], 8);
    }

    #[tokio::test]
    async fn limits() {
        assert!(matches!(
            encode_frame(&vec![0u8; 100], 50),
            Err(FrameError::TooLarge { .. })
        ));
        let oversized = (u32::MAX).to_be_bytes();
        assert!(matches!(
            read_frame_header(&mut &oversized[..], 1 << 20).await,
            Err(FrameError::TooLarge { .. })
        ));
        let empty = 0u32.to_be_bytes();
        assert!(matches!(
            read_frame_header(&mut &empty[..], 1 << 20).await,
            Err(FrameError::Empty)
        ));
        assert!(matches!(
            read_frame_header(&mut &[0u8, 0][..], 1 << 20).await,
            Err(FrameError::Io(_))
        ));
    }

    /// Whatever the bytes, decoding fails or succeeds without panicking.
    #[test]
    fn decoding_garbage_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = encode_frame(
            &RpcRequest {
                to: 1,
                body: RpcRequestBody::Propose(proposal(MetadataCommand::CreateTopic {
                    name: "t".into(),
                    topic_id: uuid::Uuid::from_u128(1),
                    assignments: vec![vec![1, 2, 3]],
                    configs: Default::default(),
                })),
            },
            1 << 20,
        )
        .unwrap();
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let _ = decode_body::<RpcRequest>(&bytes);
            let _ = decode_body::<RpcResponse>(&bytes);
            bytes = valid[FRAME_HEADER_BYTES..].to_vec();
            let i = (next() as usize) % bytes.len();
            bytes[i] = next() as u8;
            let _ = decode_body::<RpcRequest>(&bytes);
        }
    }
}

//! [`MarkerWriter`]: writes a transaction's COMMIT/ABORT markers to each of its partitions, on
//! this broker for the partitions it leads and with WriteTxnMarkers to the leader of the others;
//! a marker for a `__consumer_offsets` partition completes the transaction's offsets in the group
//! coordinator instead.

use std::sync::Arc;
use std::time::Duration;

use sluice_coordinator::OFFSETS_TOPIC;
use sluice_protocol::error::ErrorCode;
use sluice_txn::Markers;

use super::group_service::GroupService;
use crate::cluster::{Cluster, PeerConnection};
use crate::replicas::ReplicaManager;

/// How long the coordinator keeps retrying a transaction's markers on a partition whose leader
/// is unknown or unreachable before it gives up (the transaction then stays prepared and is
/// finished when this coordinator next loads it).
const MARKER_RETRY_TIME: Duration = Duration::from_secs(30);

pub struct MarkerWriter {
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    groups: Arc<GroupService>,
}

impl MarkerWriter {
    pub fn new(
        cluster: Arc<Cluster>,
        replicas: Arc<ReplicaManager>,
        groups: Arc<GroupService>,
    ) -> MarkerWriter {
        MarkerWriter {
            cluster,
            replicas,
            groups,
        }
    }

    /// Writes a transaction's markers to each of its partitions: on this broker for partitions it
    /// leads, with WriteTxnMarkers to the leader for the others (retried while leadership moves).
    /// Partitions of deleted topics are skipped.
    pub async fn write_markers(
        &self,
        m: &Markers,
        coordinator_epoch: i32,
    ) -> Result<(), ErrorCode> {
        for (topic, index) in &m.partitions {
            let deadline = tokio::time::Instant::now() + MARKER_RETRY_TIME;
            loop {
                let image = self.cluster.image();
                let Some(state) = image.topic(topic).and_then(|t| t.partition(*index)) else {
                    tracing::warn!(
                        "transaction {} names {topic}-{index}, which no longer exists",
                        m.transactional_id
                    );
                    break;
                };
                let outcome = match state.leader {
                    Some(leader) if leader == self.cluster.node_id => {
                        self.write_local_marker(m, topic, *index, coordinator_epoch)
                            .await
                    }
                    Some(leader) => {
                        self.send_marker(m, topic, *index, leader, coordinator_epoch)
                            .await
                    }
                    None => Err(ErrorCode::LEADER_NOT_AVAILABLE),
                };
                match outcome {
                    Ok(()) => break,
                    Err(code) if tokio::time::Instant::now() < deadline => {
                        tracing::debug!(
                            "marker for {topic}-{index} not written yet ({}), retrying",
                            code.name()
                        );
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(code) => {
                        tracing::error!(
                            "cannot write the marker of transaction {} to {topic}-{index}: {}",
                            m.transactional_id,
                            code.name()
                        );
                        return Err(code);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes one partition's marker on this broker, which must lead it (the WriteTxnMarkers
    /// handler's work): `__consumer_offsets` partitions complete the transaction's offsets.
    pub async fn write_local_marker(
        &self,
        m: &Markers,
        topic: &str,
        index: i32,
        coordinator_epoch: i32,
    ) -> Result<(), ErrorCode> {
        if topic == OFFSETS_TOPIC {
            // Any failure of the group coordinator (moving, loading, not committed in time) is
            // one the marker's writer retries.
            return self
                .groups
                .complete_txn(m.producer_id, index, m.commit)
                .await
                .map_err(|_| ErrorCode::NOT_LEADER_OR_FOLLOWER);
        }
        let partition = self
            .replicas
            .topic(topic)
            .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?
            .leader(index)?
            .clone();
        partition
            .append_marker(m.producer_id, m.producer_epoch, m.commit, coordinator_epoch)
            .map_err(|e| {
                tracing::error!("cannot write a transaction marker to {topic}-{index}: {e}");
                e.error_code()
            })?;
        Ok(())
    }

    /// Sends one partition's marker to its leader `leader` (WriteTxnMarkers v1).
    async fn send_marker(
        &self,
        m: &Markers,
        topic: &str,
        index: i32,
        leader: i32,
        coordinator_epoch: i32,
    ) -> Result<(), ErrorCode> {
        use kafka_protocol::messages::write_txn_markers_request::{
            WritableTxnMarker, WritableTxnMarkerTopic,
        };
        use kafka_protocol::messages::{ProducerId, TopicName, WriteTxnMarkersRequest};
        let image = self.cluster.image();
        let target = image
            .broker(leader)
            .ok_or(ErrorCode::LEADER_NOT_AVAILABLE)?;
        let mut conn = PeerConnection::connect(
            &target.host,
            target.port,
            &self.cluster.peer_security,
            &format!("sluice-txn-coordinator-{}", self.cluster.node_id),
            1 << 20,
            Duration::from_secs(5),
        )
        .await
        .map_err(|e| {
            tracing::debug!("{e}");
            ErrorCode::NETWORK_EXCEPTION
        })?;
        let request =
            WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
                .with_producer_id(ProducerId(m.producer_id))
                .with_producer_epoch(m.producer_epoch)
                .with_transaction_result(m.commit)
                .with_coordinator_epoch(coordinator_epoch)
                .with_topics(vec![WritableTxnMarkerTopic::default()
                    .with_name(TopicName(kafka_protocol::protocol::StrBytes::from_string(
                        topic.to_string(),
                    )))
                    .with_partition_indexes(vec![index])])]);
        let response = conn
            .send(&request, 1, Duration::from_secs(10))
            .await
            .map_err(|e| {
                tracing::debug!("{e}");
                ErrorCode::NETWORK_EXCEPTION
            })?;
        let code = response
            .markers
            .first()
            .and_then(|r| r.topics.first())
            .and_then(|t| t.partitions.first())
            .map(|p| ErrorCode(p.error_code))
            .unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR);
        if code == ErrorCode::NONE {
            Ok(())
        } else {
            Err(code)
        }
    }
}

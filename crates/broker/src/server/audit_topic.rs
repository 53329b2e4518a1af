//! The audit log's internal topic (`audit.topic.enabled`, `audit.topic.name`): every broker
//! appends its audit lines, as records, to partition 0 of that topic, which it creates when
//! missing (one partition, replicated on up to three brokers), through a Produce request
//! (acks=all) to the partition's leader on the inter-broker listener, as its own principal.
//!
//! Lines come from the audit log's writer thread through a bounded channel (a full channel
//! drops lines, counted by the audit log's own dropped counter upstream only for the file; here
//! they are counted and reported in the broker log). A batch is up to [`LINES_PER_BATCH`]
//! lines or what arrived within [`LINGER`]; a batch that cannot be written (no leader, a
//! refused request) is retried with backoff until it is written or the broker stops, holding
//! at most [`LINES_HELD_MAX`] lines.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::sync::{mpsc, watch};

use crate::cluster::{Cluster, PeerConnection, TopicAdmin};
use crate::config::BrokerSettings;

/// Lines per Produce request.
pub const LINES_PER_BATCH: usize = 500;
/// How long the first line of a batch waits for more.
pub const LINGER: Duration = Duration::from_millis(100);
/// Lines held while the topic cannot be written; older ones are dropped beyond it.
pub const LINES_HELD_MAX: usize = 100_000;
/// Capacity of the channel from the audit log's writer thread.
pub const CHANNEL_CAPACITY: usize = 65_536;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Appends audit lines from `lines` to the audit topic until shutdown.
pub async fn run(
    mut lines: mpsc::Receiver<Vec<u8>>,
    cluster: Arc<Cluster>,
    admin: Arc<TopicAdmin>,
    settings: Arc<BrokerSettings>,
    mut shutdown: watch::Receiver<bool>,
) {
    let topic = settings.audit.topic_name.clone();
    let mut held: VecDeque<Vec<u8>> = VecDeque::new();
    let mut dropped = 0u64;
    let mut connection: Option<(i32, PeerConnection)> = None;
    let mut topic_ready = false;
    loop {
        if held.is_empty() {
            tokio::select! {
                _ = shutdown.changed() => return,
                line = lines.recv() => match line {
                    Some(line) => held.push_back(line),
                    None => return,
                },
            }
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while held.len() < LINES_PER_BATCH {
                tokio::select! {
                    _ = &mut linger => break,
                    line = lines.recv() => match line {
                        Some(line) => held.push_back(line),
                        None => break,
                    },
                }
            }
        }
        while let Ok(line) = lines.try_recv() {
            held.push_back(line);
        }
        while held.len() > LINES_HELD_MAX {
            held.pop_front();
            dropped += 1;
        }
        if dropped > 0 {
            tracing::warn!(
                "audit topic {topic}: {dropped} lines dropped while it could not be written"
            );
            dropped = 0;
        }
        if !topic_ready {
            let brokers = cluster.image().brokers().len().clamp(1, 3) as i16;
            let configs = BTreeMap::from([("cleanup.policy".to_string(), "delete".to_string())]);
            match admin.ensure_topic(&topic, 1, brokers, configs).await {
                Ok(_) => topic_ready = true,
                Err(e) => {
                    tracing::debug!("audit topic {topic} not created yet: {}", e.message);
                    if wait_or_stop(&mut shutdown).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let count = held.len().min(LINES_PER_BATCH);
        let batch = encode(held.iter().take(count));
        match send(&cluster, &settings, &topic, batch, &mut connection).await {
            Ok(()) => {
                held.drain(..count);
            }
            Err(why) => {
                tracing::debug!("audit topic {topic}: {why}; retrying");
                connection = None;
                if wait_or_stop(&mut shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Waits [`RETRY_BACKOFF`]; true when the broker is stopping.
async fn wait_or_stop(shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = shutdown.changed() => true,
        _ = tokio::time::sleep(RETRY_BACKOFF) => false,
    }
}

/// One v2 record batch of `lines` (values only, no key), stamped now.
fn encode<'a>(lines: impl Iterator<Item = &'a Vec<u8>>) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let records: Vec<Record> = lines
        .enumerate()
        .map(|(i, line)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol keeps records in one batch while offset - sequence is constant;
            // this makes the base sequence -1 (no idempotence).
            sequence: (i as i32).wrapping_sub(1),
            delete_horizon: false,
            timestamp: now,
            key: None,
            value: Some(Bytes::copy_from_slice(line)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    // Encoding records built here cannot fail: no compression, sizes far below the limits.
    let _ = RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    );
    buf.freeze()
}

/// Produces `batch` to partition 0's leader (acks=all).
async fn send(
    cluster: &Cluster,
    settings: &BrokerSettings,
    topic: &str,
    batch: Bytes,
    connection: &mut Option<(i32, PeerConnection)>,
) -> Result<(), String> {
    let image = cluster.image();
    let leader = image
        .topic(topic)
        .and_then(|t| t.partition(0))
        .and_then(|p| p.leader)
        .ok_or("no leader")?;
    if connection.as_ref().is_none_or(|(id, _)| *id != leader) {
        let broker = image.broker(leader).ok_or("leader not registered")?;
        let (host, port) = broker
            .endpoint(&settings.inter_broker_listener)
            .ok_or("leader has no inter-broker endpoint")?;
        let peer = PeerConnection::connect(
            host,
            port,
            &cluster.peer_security,
            "sluice-audit",
            1 << 20,
            REQUEST_TIMEOUT,
        )
        .await
        .map_err(|e| e.to_string())?;
        *connection = Some((leader, peer));
    }
    let (_, peer) = connection.as_mut().ok_or("no connection")?;
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(REQUEST_TIMEOUT.as_millis() as i32)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch))])]);
    let response = peer
        .send(&request, 9, REQUEST_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let Some(partition) = response
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
    else {
        return Err("the leader answered without the partition".into());
    };
    if partition.error_code == 0 {
        Ok(())
    } else {
        Err(format!(
            "the leader answered error code {}: {}",
            partition.error_code,
            partition.error_message.as_deref().unwrap_or("")
        ))
    }
}

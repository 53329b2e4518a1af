//! Kafka-style replication between brokers.
//!
//! Follower side: one fetcher task per broker this broker follows; it sends Fetch requests
//! with this broker's replica id for every partition it follows there, appends the batches as
//! they come (offsets and leader epochs unchanged), takes the leader's high watermark, and
//! truncates its log where the leader says it diverged (the Fetch v12+ `last_fetched_epoch` /
//! `diverging_epoch` exchange of KIP-595/KIP-320, which replaces KIP-101's separate
//! OffsetsForLeaderEpoch round).
//!
//! Replication throttles (KIP-73): over `follower.replication.throttled.rate`, the partitions
//! out of the ISR that their topic's `follower.replication.throttled.replicas` names for this
//! broker are left out of its fetches (see `crate::replicas::ReplicationQuota`).
//!
//! Leader side: the Fetch handler records each follower's progress in its [`Partition`]; a
//! follower that caught up joins the ISR and one that has not caught up for
//! `replica.lag.time.max.ms` leaves it, both through the controller (the image's
//! ChangePartition, Kafka's AlterPartition), with the epochs the change was based on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::MetadataCommand;
use sluice_protocol::error::ErrorCode;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::membership::Cluster;
use super::metadata_publisher::MetadataPublisher;
use super::peer::PeerConnection;
use crate::config::ReplicationSettings;
use crate::replicas::{Partition, ReplicaManager};

/// The Fetch version followers use: the first with `last_fetched_epoch` and
/// `diverging_epoch`, still naming topics (not ids) and carrying `replica_id` in the body.
pub const REPLICA_FETCH_VERSION: i16 = 12;

pub struct Replication {
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    publisher: Arc<MetadataPublisher>,
    settings: ReplicationSettings,
    /// ISR changes proposed and not answered yet, by (topic, partition).
    in_flight: Mutex<BTreeSet<(String, i32)>>,
    fetchers: Mutex<HashMap<i32, JoinHandle<()>>>,
    shutdown: watch::Receiver<bool>,
}

impl Replication {
    pub fn new(
        cluster: Arc<Cluster>,
        replicas: Arc<ReplicaManager>,
        publisher: Arc<MetadataPublisher>,
        settings: ReplicationSettings,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Replication> {
        Arc::new(Replication {
            cluster,
            replicas,
            publisher,
            settings,
            in_flight: Mutex::new(BTreeSet::new()),
            fetchers: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    /// Proposes `isr` (with this broker as leader) for `partition`, based on the leader and
    /// partition epochs it has now; one change per partition at a time. A change that lost a
    /// race is dropped: the next fetch or lag check proposes again from the newer state.
    pub fn propose_isr(self: &Arc<Self>, partition: &Arc<Partition>, isr: Vec<i32>) {
        let key = (partition.topic.to_string(), partition.index);
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone())
        {
            return;
        }
        let command = MetadataCommand::ChangePartition {
            topic_id: partition.topic_id,
            partition: partition.index,
            expected_leader_epoch: partition.leader_epoch(),
            expected_partition_epoch: partition.partition_epoch(),
            leader: Some(self.cluster.node_id),
            isr: isr.clone(),
        };
        let this = self.clone();
        let isr_before = partition.isr().len();
        tokio::spawn(async move {
            match this.cluster.propose(command).await {
                Ok(_) => {
                    let metrics = this.replicas.metrics();
                    match isr.len().cmp(&isr_before) {
                        std::cmp::Ordering::Less => metrics.isr_shrinks.inc(),
                        std::cmp::Ordering::Greater => metrics.isr_expands.inc(),
                        std::cmp::Ordering::Equal => 0,
                    };
                    tracing::info!("{}-{}: ISR is now {isr:?}", key.0, key.1)
                }
                Err(e) => tracing::debug!(
                    "{}-{}: ISR change to {isr:?} not applied: {}",
                    key.0,
                    key.1,
                    e.message
                ),
            }
            this.publisher.publish_latest().await;
            this.in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        });
    }

    /// Every `lag_time_max / 2`: drops from the ISR of each partition this broker leads the
    /// followers that have not caught up for `lag_time_max`.
    pub async fn run_isr_shrinker(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        let period = (self.settings.lag_time_max / 2).max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => {}
            }
            for p in self.replicas.led_partitions() {
                if let Some(isr) = p.shrunk_isr(self.settings.lag_time_max) {
                    tracing::info!(
                        "{}-{}: shrinking the ISR from {:?} to {isr:?} (followers lagging)",
                        p.topic,
                        p.index,
                        p.isr()
                    );
                    self.propose_isr(&p, isr);
                }
            }
        }
    }

    /// Keeps one fetcher task per broker this broker follows, re-checked whenever the image
    /// changes.
    pub async fn run_fetcher_supervisor(self: Arc<Self>) {
        let mut shutdown = self.shutdown.clone();
        let mut images = self.cluster.controller.image();
        loop {
            // The image may be applied a moment after it arrives: check again shortly after.
            for _ in 0..2 {
                self.start_missing_fetchers();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                r = images.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn start_missing_fetchers(self: &Arc<Self>) {
        let leaders = self.replicas.followed_leaders();
        let mut fetchers = self.fetchers.lock().unwrap_or_else(|p| p.into_inner());
        fetchers.retain(|_, task| !task.is_finished());
        for leader in leaders {
            if let std::collections::hash_map::Entry::Vacant(slot) = fetchers.entry(leader) {
                slot.insert(tokio::spawn(self.clone().run_fetcher(leader)));
            }
        }
    }

    /// Fetches from broker `leader` for as long as this broker follows a partition there.
    async fn run_fetcher(self: Arc<Self>, leader: i32) {
        let mut shutdown = self.shutdown.clone();
        let mut connection: Option<PeerConnection> = None;
        let mut idle_since: Option<tokio::time::Instant> = None;
        let mut failing = false;
        tracing::debug!("replica fetcher for broker {leader} started");
        loop {
            if *shutdown.borrow() {
                return;
            }
            let partitions = self.replicas.followed_partitions(leader);
            if partitions.is_empty() {
                // Nothing to follow there any more: stop after a grace period (an image that
                // moves leadership back is common right after a restart).
                let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() > Duration::from_secs(5) {
                    tracing::debug!("replica fetcher for broker {leader} stopped");
                    return;
                }
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
            idle_since = None;
            let outcome = tokio::select! {
                _ = shutdown.changed() => return,
                r = self.fetch_once(leader, &mut connection, &partitions) => r,
            };
            if let Err(why) = outcome {
                connection = None;
                // The first failure of a run is a warning (a refused inter-broker login, a
                // leader gone): the follower's own log says why it does not replicate.
                if failing {
                    tracing::debug!("fetch from broker {leader} failed: {why}");
                } else {
                    tracing::warn!("fetching from broker {leader} failed, retrying: {why}");
                    failing = true;
                }
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(self.settings.fetch_backoff) => {}
                }
            } else if failing {
                tracing::info!("fetching from broker {leader} again");
                failing = false;
            }
        }
    }

    /// Whether the follower's replication throttle holds `p`: its topic names it in
    /// `follower.replication.throttled.replicas` for this broker, and it is out of the ISR.
    fn follower_throttled(&self, p: &Partition) -> bool {
        self.replicas
            .topic(&p.topic)
            .is_some_and(|t| t.throttles.follower.contains(p.index))
            && !p.isr().contains(&self.cluster.node_id)
    }

    /// One Fetch round to `leader` for `partitions`; Err when the request got no answer or
    /// every partition needs a pause.
    async fn fetch_once(
        &self,
        leader: i32,
        connection: &mut Option<PeerConnection>,
        partitions: &[Arc<Partition>],
    ) -> Result<(), String> {
        if connection.is_none() {
            let image = self.cluster.image();
            let broker = image
                .broker(leader)
                .ok_or_else(|| format!("broker {leader} is not registered"))?;
            *connection = Some(
                PeerConnection::connect(
                    &broker.host,
                    broker.port,
                    &self.cluster.peer_security,
                    &format!("sluice-replica-fetcher-{}", self.cluster.node_id),
                    self.settings.fetch_response_max_bytes as usize + (1 << 20),
                    self.settings.socket_timeout,
                )
                .await
                .map_err(|e| e.to_string())?,
            );
        }
        let Some(conn) = connection.as_mut() else {
            return Err("no connection".into());
        };
        // Over the follower's replication throttle, the partitions it holds are left out of
        // the fetch (Kafka's ReplicaFetcherThread); with none left, the fetcher waits.
        let throttled: Vec<bool> = partitions
            .iter()
            .map(|p| self.follower_throttled(p))
            .collect();
        let held = throttled.iter().any(|t| *t)
            && self
                .replicas
                .follower_throttle()
                .is_exceeded(self.replicas.live_config().replication_throttle.follower);
        let mut by_topic: BTreeMap<String, Vec<(&Arc<Partition>, bool)>> = BTreeMap::new();
        for (p, throttled) in partitions.iter().zip(throttled) {
            if !(held && throttled) {
                by_topic
                    .entry(p.topic.to_string())
                    .or_default()
                    .push((p, throttled));
            }
        }
        if by_topic.is_empty() {
            tokio::time::sleep(self.settings.fetch_backoff.max(Duration::from_millis(100))).await;
            return Ok(());
        }
        let topics = by_topic
            .iter()
            .map(|(topic, ps)| {
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                    .with_partitions(
                        ps.iter()
                            .map(|(p, _)| {
                                FetchPartition::default()
                                    .with_partition(p.index)
                                    .with_current_leader_epoch(p.leader_epoch())
                                    .with_fetch_offset(p.log_end_offset())
                                    .with_last_fetched_epoch(p.latest_epoch().unwrap_or(-1))
                                    .with_log_start_offset(p.log_start_offset())
                                    .with_partition_max_bytes(self.settings.fetch_max_bytes)
                            })
                            .collect(),
                    )
            })
            .collect();
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(self.cluster.node_id))
            .with_max_wait_ms(self.settings.fetch_wait_max_ms)
            .with_min_bytes(1)
            .with_max_bytes(self.settings.fetch_response_max_bytes)
            .with_isolation_level(0)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(topics);
        let timeout = self.settings.socket_timeout
            + Duration::from_millis(self.settings.fetch_wait_max_ms.max(0) as u64);
        let response = conn
            .send(&request, REPLICA_FETCH_VERSION, timeout)
            .await
            .map_err(|e| e.to_string())?;
        if response.error_code != 0 {
            return Err(format!(
                "fetch error {}",
                ErrorCode(response.error_code).name()
            ));
        }
        let mut fetched = Vec::new();
        let mut throttled_bytes = 0;
        for topic in response.responses {
            let Some(ps) = by_topic.get(topic.topic.as_str()) else {
                continue;
            };
            for data in topic.partitions {
                if let Some((p, throttled)) =
                    ps.iter().find(|(p, _)| p.index == data.partition_index)
                {
                    if *throttled {
                        throttled_bytes += data.records.as_ref().map_or(0, |r| r.len());
                    }
                    fetched.push((Arc::clone(p), data));
                }
            }
        }
        self.replicas.follower_throttle().record(throttled_bytes);
        // Appends, truncations and the fsyncs the flush policy asks for are disk work: they run
        // on the blocking pool, not on the fetcher's async worker.
        let applied = tokio::task::spawn_blocking(move || {
            for (p, data) in fetched {
                if let Err(why) = apply_fetched(&p, data) {
                    tracing::debug!("{}-{}: {why}", p.topic, p.index);
                }
            }
        })
        .await;
        applied.map_err(|e| format!("applying a fetch response: {e}"))
    }
}

/// Applies one partition's part of a fetch response; true if the log moved. Blocking: the
/// follower's appends, truncations and flushes happen here.
fn apply_fetched(
    p: &Partition,
    data: kafka_protocol::messages::fetch_response::PartitionData,
) -> Result<bool, String> {
    if p.is_leader() || p.leader_id().is_none() {
        return Ok(false);
    }
    let code = ErrorCode(data.error_code);
    if code == ErrorCode::OFFSET_OUT_OF_RANGE {
        // The leader has less than this replica (an old leader's unreplicated tail that
        // no epoch information caught): keep what the leader has committed.
        let end = p.log_end_offset();
        if end > data.high_watermark && data.high_watermark >= p.log_start_offset() {
            tracing::warn!(
                "{}-{}: truncating from {end} to the leader's high watermark {}",
                p.topic,
                p.index,
                data.high_watermark
            );
            p.truncate_to(data.high_watermark)
                .map_err(|e| e.to_string())?;
            return Ok(true);
        }
        return Err(format!(
            "offset {end} out of range on the leader (log start {}, high watermark {})",
            data.log_start_offset, data.high_watermark
        ));
    }
    if code != ErrorCode::NONE {
        return Err(format!("fetch error {}", code.name()));
    }
    if data.diverging_epoch.epoch >= 0 || data.diverging_epoch.end_offset >= 0 {
        let diverging = data.diverging_epoch;
        let mut target = diverging.end_offset;
        // Never keep more than this replica's own data of that epoch.
        if let Some((_, end)) = p.end_offset_for_epoch(diverging.epoch) {
            target = target.min(end);
        }
        let target = target.max(0);
        if target < p.log_end_offset() {
            tracing::info!(
                "{}-{}: diverged from the leader at epoch {}: truncating from {} to {target}",
                p.topic,
                p.index,
                diverging.epoch,
                p.log_end_offset()
            );
        }
        // Also at the log end: that drops an epoch this replica recorded as leader and
        // never wrote in, which the leader does not know.
        p.truncate_to(target).map_err(|e| e.to_string())?;
        return Ok(true);
    }
    let mut moved = false;
    if let Some(records) = data.records.filter(|r| !r.is_empty()) {
        let info = match p.append_from_leader(&records) {
            // An empty follower whose start falls inside the leader's first batch (the
            // leader's log start is mid-batch): start at the batch, as Kafka does.
            Err(sluice_log::LogError::UnexpectedAppendOffset { first_offset, .. })
                if p.log_end_offset() == p.log_start_offset()
                    && first_offset < p.log_start_offset() =>
            {
                p.truncate_to(first_offset).map_err(|e| e.to_string())?;
                p.append_from_leader(&records).map_err(|e| e.to_string())?
            }
            other => other.map_err(|e| e.to_string())?,
        };
        if info.flush_due {
            p.flush(info.last_offset + 1).map_err(|e| e.to_string())?;
        }
        moved = true;
    }
    p.set_follower_high_watermark(data.high_watermark);
    if data.log_start_offset > p.log_start_offset() {
        let upto = data.log_start_offset.min(p.high_watermark());
        if upto > p.log_start_offset() {
            p.delete_records_before(upto).map_err(|e| e.to_string())?;
        }
    }
    Ok(moved)
}

//! [`KafkaApis`]: the handles the request handlers are given (Kafka's class of the same name),
//! and the dispatch of a decoded request to its handler. Each handler takes only the handles it
//! uses, named in its signature.

use std::sync::Arc;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;
use sluice_protocol::fetch_response::encode_fetch_response;
use sluice_security::quota::{request_time_percentage, QuotaKey};
use tokio::sync::watch;

use super::request::{encode_response, RequestContext, ResponseFrame, Unparseable};
use super::request_body::RequestBody;
use super::throttle::ThrottleTime;
use super::{
    acls, alter_replica_log_dirs, api_versions, client_quotas, configs, create_partitions,
    create_topics, delete_records, delete_topics, describe_cluster, describe_log_dirs,
    describe_producers, describe_quorum, describe_topic_partitions, elect_leaders, fetch, groups,
    list_config_resources, list_offsets, metadata, offset_for_leader_epoch, produce, reassignments,
    replica_fetch, sasl, scram_credentials, txn, unregister_broker, update_features,
};
use crate::cluster::{Cluster, MetadataPublisher, ProducerIdManager, Replication, TopicAdmin};
use crate::config::BrokerSettings;
use crate::coordinators::{GroupService, TxnService};
use crate::replicas::{FetchSessionCache, ReplicaManager};

/// Everything a request handler may be given; built by the server.
pub struct KafkaApis {
    pub settings: Arc<BrokerSettings>,
    pub replicas: Arc<ReplicaManager>,
    /// Membership of the cluster: controller, metadata image, node id.
    pub cluster: Arc<Cluster>,
    /// Applies metadata images to the replicas (after a proposal).
    pub publisher: Arc<MetadataPublisher>,
    /// Topic changes through the controller.
    pub admin: Arc<TopicAdmin>,
    /// ISR changes (the leader side of replica fetches).
    pub replication: Arc<Replication>,
    pub fetch_sessions: FetchSessionCache,
    pub producer_ids: ProducerIdManager,
    pub groups: Arc<GroupService>,
    pub txns: Arc<TxnService>,
    /// The schema registry's state (produce-time schema validation).
    pub schemas: Arc<crate::coordinators::SchemaService>,
    /// Resolves when the server is shutting down: long-polling fetches return at once.
    pub shutdown: watch::Receiver<bool>,
}

impl KafkaApis {
    /// Runs `body`'s handler and frames its response. `Ok(None)`: no response (acks=0
    /// produce).
    pub async fn dispatch(
        &self,
        ctx: &RequestContext,
        body: RequestBody,
    ) -> Result<Option<ResponseFrame>, Unparseable> {
        use RequestBody as R;
        let (replicas, cluster, admin) = (&self.replicas, &self.cluster, &self.admin);
        let (txns, settings) = (&self.txns, &self.settings);
        let response = match body {
            R::ApiVersions(r) => self.respond(ctx, &api_versions::handle(cluster, ctx, r).await),
            R::Metadata(r) => self.respond(
                ctx,
                &metadata::handle(cluster, admin, settings, ctx, r).await,
            ),
            R::Produce(r) => {
                let bytes: usize = r
                    .topic_data
                    .iter()
                    .flat_map(|t| &t.partition_data)
                    .map(|p| p.records.as_ref().map_or(0, |b| b.len()))
                    .sum();
                let response =
                    produce::handle(replicas, cluster, txns, &self.schemas, ctx, r).await;
                let throttle = quota_throttle(cluster, ctx, QuotaKey::ProducerByteRate, bytes);
                replicas.metrics().produce_throttle.record(throttle);
                match response {
                    Some(mut response) => {
                        response.throttle_time_ms = response.throttle_time_ms.max(throttle);
                        self.respond(ctx, &response)
                    }
                    None => return Ok(None),
                }
            }
            R::Fetch(r) => {
                let v = ctx.api_version;
                let response = match fetch::replica_id(v, &r) {
                    Some(replica_id) => {
                        replica_fetch::handle(
                            replicas,
                            &self.replication,
                            settings.fetch_max_bytes,
                            self.shutdown.clone(),
                            ctx,
                            r,
                            replica_id,
                        )
                        .await
                    }
                    None => {
                        let mut response = fetch::handle(
                            replicas,
                            cluster,
                            &self.fetch_sessions,
                            settings.fetch_max_bytes,
                            self.shutdown.clone(),
                            ctx,
                            r,
                        )
                        .await;
                        // A consumer's fetch counts its record bytes against consumer_byte_rate
                        // (followers' fetches are replication, not client traffic).
                        let bytes: usize = response
                            .responses
                            .iter()
                            .flat_map(|t| &t.partitions)
                            .map(|p| p.records.as_ref().map_or(0, |b| b.len()))
                            .sum();
                        let throttle =
                            quota_throttle(cluster, ctx, QuotaKey::ConsumerByteRate, bytes);
                        response.throttle_time_ms = response.throttle_time_ms.max(throttle);
                        replicas.metrics().fetch_throttle.record(throttle);
                        response
                    }
                };
                let mut response = response;
                let busy = request_time_throttle(cluster, ctx);
                response.throttle_time_ms = response.throttle_time_ms.max(busy);
                encode_fetch_response(ctx.correlation_id, v, &response)
                    .map(ResponseFrame::Chunks)
                    .map_err(|e| Unparseable(e.to_string()))
            }
            R::ListOffsets(r) => self.respond(ctx, &list_offsets::handle(replicas, ctx, r).await),
            R::CreateTopics(r) => self.respond(
                ctx,
                &create_topics::handle(admin, &cluster.quotas, settings, ctx, r).await,
            ),
            R::DeleteTopics(r) => self.respond(
                ctx,
                &delete_topics::handle(replicas, admin, &cluster.quotas, ctx, r).await,
            ),
            R::CreatePartitions(r) => self.respond(
                ctx,
                &create_partitions::handle(admin, replicas, &cluster.quotas, ctx, r).await,
            ),
            R::DeleteRecords(r) => {
                self.respond(ctx, &delete_records::handle(replicas, ctx, r).await)
            }
            R::DescribeConfigs(r) => {
                self.respond(ctx, &configs::describe(replicas, settings, ctx, r).await)
            }
            R::AlterConfigs(r) => self.respond(ctx, &configs::alter(replicas, admin, ctx, r).await),
            R::IncrementalAlterConfigs(r) => self.respond(
                ctx,
                &configs::incremental_alter(replicas, admin, ctx, r).await,
            ),
            R::DescribeCluster(r) => {
                self.respond(ctx, &describe_cluster::handle(cluster, ctx, r).await)
            }
            R::DescribeQuorum(r) => {
                self.respond(ctx, &describe_quorum::handle(cluster, ctx, r).await)
            }
            R::UpdateFeatures(r) => {
                self.respond(ctx, &update_features::handle(cluster, ctx, r).await)
            }
            R::UnregisterBroker(r) => self.respond(
                ctx,
                &unregister_broker::handle(
                    cluster,
                    settings.unclean_leader_election_enable,
                    ctx,
                    r,
                )
                .await,
            ),
            R::DescribeTopicPartitions(r) => self.respond(
                ctx,
                &describe_topic_partitions::handle(cluster, ctx, r).await,
            ),
            R::InitProducerId(r) => self.respond(
                ctx,
                &txn::init_producer_id(&self.producer_ids, txns, ctx, r).await,
            ),
            R::AddPartitionsToTxn(r) => self.respond(
                ctx,
                &txn::add_partitions_to_txn(cluster, txns, ctx, r).await,
            ),
            R::AddOffsetsToTxn(r) => self.respond(
                ctx,
                &txn::add_offsets_to_txn(&self.groups, txns, ctx, r).await,
            ),
            R::EndTxn(r) => self.respond(ctx, &txn::end_txn(txns, ctx, r).await),
            R::WriteTxnMarkers(r) => self.respond(ctx, &txn::write_txn_markers(txns, ctx, r).await),
            R::TxnOffsetCommit(r) => self.respond(
                ctx,
                &txn::txn_offset_commit(cluster, &self.groups, txns, ctx, r).await,
            ),
            R::DescribeTransactions(r) => {
                self.respond(ctx, &txn::describe_transactions(txns, ctx, r).await)
            }
            R::ListTransactions(r) => {
                self.respond(ctx, &txn::list_transactions(txns, ctx, r).await)
            }
            R::DescribeProducers(r) => {
                self.respond(ctx, &describe_producers::handle(replicas, ctx, r).await)
            }
            R::OffsetForLeaderEpoch(r) => self.respond(
                ctx,
                &offset_for_leader_epoch::handle(replicas, ctx, r).await,
            ),
            R::ElectLeaders(r) => self.respond(
                ctx,
                &elect_leaders::handle(cluster, &self.publisher, ctx, r).await,
            ),
            R::DescribeLogDirs(r) => {
                self.respond(ctx, &describe_log_dirs::handle(replicas, ctx, r).await)
            }
            R::AlterReplicaLogDirs(r) => {
                self.respond(ctx, &alter_replica_log_dirs::handle(replicas, ctx, r).await)
            }
            R::AlterPartitionReassignments(r) => self.respond(
                ctx,
                &reassignments::alter(cluster, &self.publisher, ctx, r).await,
            ),
            R::ListPartitionReassignments(r) => {
                self.respond(ctx, &reassignments::list(cluster, ctx, r).await)
            }
            R::ListConfigResources(r) => {
                self.respond(ctx, &list_config_resources::handle(cluster, ctx, r).await)
            }
            R::DescribeClientQuotas(r) => {
                self.respond(ctx, &client_quotas::describe(cluster, ctx, r).await)
            }
            R::AlterClientQuotas(r) => {
                self.respond(ctx, &client_quotas::alter(cluster, ctx, r).await)
            }
            R::DescribeAcls(r) => self.respond(ctx, &acls::describe(cluster, ctx, r).await),
            R::CreateAcls(r) => self.respond(ctx, &acls::create(cluster, ctx, r).await),
            R::DeleteAcls(r) => self.respond(ctx, &acls::delete(cluster, ctx, r).await),
            R::SaslHandshake(r) => self.respond(ctx, &sasl::handshake(ctx, r)),
            R::SaslAuthenticate(r) => self.respond(ctx, &sasl::authenticate(cluster, ctx, r).await),
            R::DescribeUserScramCredentials(r) => {
                self.respond(ctx, &scram_credentials::describe(cluster, ctx, r).await)
            }
            R::AlterUserScramCredentials(r) => {
                self.respond(ctx, &scram_credentials::alter(cluster, ctx, r).await)
            }
            R::FindCoordinator(r) => {
                self.respond(ctx, &groups::find_coordinator(cluster, ctx, r).await)
            }
            R::JoinGroup(r) => self.respond(ctx, &groups::join_group(&self.groups, ctx, r).await),
            R::SyncGroup(r) => self.respond(ctx, &groups::sync_group(&self.groups, ctx, r).await),
            R::Heartbeat(r) => self.respond(ctx, &groups::heartbeat(&self.groups, ctx, r).await),
            R::LeaveGroup(r) => self.respond(ctx, &groups::leave_group(&self.groups, ctx, r).await),
            R::OffsetCommit(r) => self.respond(
                ctx,
                &groups::offset_commit(cluster, &self.groups, ctx, r).await,
            ),
            R::OffsetFetch(r) => {
                self.respond(ctx, &groups::offset_fetch(&self.groups, ctx, r).await)
            }
            R::DescribeGroups(r) => {
                self.respond(ctx, &groups::describe_groups(&self.groups, ctx, r).await)
            }
            R::ListGroups(r) => self.respond(ctx, &groups::list_groups(&self.groups, ctx, r).await),
            R::DeleteGroups(r) => {
                self.respond(ctx, &groups::delete_groups(&self.groups, ctx, r).await)
            }
            R::OffsetDelete(r) => {
                self.respond(ctx, &groups::offset_delete(&self.groups, ctx, r).await)
            }
            R::ConsumerGroupHeartbeat(r) => self.respond(
                ctx,
                &groups::consumer_group_heartbeat(
                    replicas,
                    &self.groups,
                    consumer_protocol(settings, cluster),
                    ctx,
                    r,
                )
                .await,
            ),
            R::ConsumerGroupDescribe(r) => self.respond(
                ctx,
                &groups::consumer_group_describe(replicas, &self.groups, ctx, r).await,
            ),
        };
        response.map(Some)
    }
}

/// Whether the KIP-848 consumer group protocol is on: `group.coordinator.rebalance.protocols`
/// names `consumer` and the cluster's finalized `group.version` is at least 1, as in Kafka;
/// the reason when it is off.
fn consumer_protocol(settings: &BrokerSettings, cluster: &Cluster) -> Result<(), &'static str> {
    if !settings.group.consumer_protocol_enabled {
        return Err(
            "the consumer group protocol is disabled (group.coordinator.rebalance.protocols)",
        );
    }
    if cluster
        .image()
        .feature_level(sluice_controller::GROUP_VERSION)
        < 1
    {
        return Err("the consumer group protocol is disabled (the cluster's group.version is 0)");
    }
    Ok(())
}

/// Records `bytes` of `key` for the request's principal and client id: the throttle time for
/// the response (milliseconds, clamped for the wire), for which the connection also stops
/// reading (KIP-219).
fn quota_throttle(cluster: &Cluster, ctx: &RequestContext, key: QuotaKey, bytes: usize) -> i32 {
    let principal = ctx.principal();
    let client_id = ctx.client_id.as_deref().unwrap_or("");
    let throttle_ms = cluster
        .quotas
        .record(key, &principal.name, client_id, bytes as f64);
    if throttle_ms > 0 {
        ctx.session
            .throttle(std::time::Duration::from_millis(throttle_ms));
    }
    i32::try_from(throttle_ms).unwrap_or(i32::MAX)
}

impl KafkaApis {
    /// Frames `response`, saying in its `throttle_time_ms` how long the request-time quota
    /// holds the client back (recorded now, with the handler's busy time so far).
    fn respond<R: Encodable + ThrottleTime>(
        &self,
        ctx: &RequestContext,
        response: &R,
    ) -> Result<ResponseFrame, Unparseable> {
        let throttle = request_time_throttle(&self.cluster, ctx);
        let throttled = (throttle > 0)
            .then(|| response.with_throttle(throttle))
            .flatten();
        encode_response(
            ctx.correlation_id,
            ctx.api_key,
            ctx.api_version,
            throttled.as_ref().unwrap_or(response),
        )
        .map(ResponseFrame::One)
    }
}

/// Records the request's busy time so far against the principal's and client id's
/// `request_percentage`: the throttle time (0 when within it or without a quota), for which
/// the connection also stops reading. ApiVersions and SASL requests are not counted.
fn request_time_throttle(cluster: &Cluster, ctx: &RequestContext) -> i32 {
    if matches!(
        ctx.api_key,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    ) {
        return 0;
    }
    let principal = ctx.principal();
    let throttle_ms = cluster.quotas.record(
        QuotaKey::RequestPercentage,
        &principal.name,
        ctx.client_id.as_deref().unwrap_or(""),
        request_time_percentage(ctx.busy_nanos()),
    );
    if throttle_ms > 0 {
        ctx.session
            .throttle(std::time::Duration::from_millis(throttle_ms));
    }
    i32::try_from(throttle_ms).unwrap_or(i32::MAX)
}

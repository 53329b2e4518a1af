//! [`KafkaApis`]: the handles the request handlers are given (Kafka's class of the same name),
//! and the dispatch of a decoded request to its handler. Each handler takes only the handles it
//! uses, named in its signature.

use std::sync::Arc;

use kafka_protocol::protocol::Encodable;
use sluice_protocol::fetch_response::encode_fetch_response;
use tokio::sync::watch;

use super::request::{encode_response, RequestContext, ResponseFrame, Unparseable};
use super::request_body::RequestBody;
use super::{
    api_versions, configs, create_partitions, create_topics, delete_records, delete_topics,
    describe_cluster, describe_log_dirs, describe_producers, describe_quorum, elect_leaders, fetch,
    groups, list_offsets, metadata, offset_for_leader_epoch, produce, reassignments, replica_fetch,
    sasl, scram_credentials, txn,
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
            R::ApiVersions(r) => respond(ctx, &api_versions::handle(ctx, r).await),
            R::Metadata(r) => respond(
                ctx,
                &metadata::handle(cluster, admin, settings, ctx, r).await,
            ),
            R::Produce(r) => match produce::handle(replicas, cluster, txns, ctx, r).await {
                Some(response) => respond(ctx, &response),
                None => return Ok(None),
            },
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
                        fetch::handle(
                            replicas,
                            cluster,
                            &self.fetch_sessions,
                            settings.fetch_max_bytes,
                            self.shutdown.clone(),
                            ctx,
                            r,
                        )
                        .await
                    }
                };
                encode_fetch_response(ctx.correlation_id, v, &response)
                    .map(ResponseFrame::Chunks)
                    .map_err(|e| Unparseable(e.to_string()))
            }
            R::ListOffsets(r) => respond(ctx, &list_offsets::handle(replicas, ctx, r).await),
            R::CreateTopics(r) => {
                respond(ctx, &create_topics::handle(admin, settings, ctx, r).await)
            }
            R::DeleteTopics(r) => {
                respond(ctx, &delete_topics::handle(replicas, admin, ctx, r).await)
            }
            R::CreatePartitions(r) => respond(ctx, &create_partitions::handle(admin, ctx, r).await),
            R::DeleteRecords(r) => respond(ctx, &delete_records::handle(replicas, ctx, r).await),
            R::DescribeConfigs(r) => {
                respond(ctx, &configs::describe(replicas, settings, ctx, r).await)
            }
            R::AlterConfigs(r) => respond(ctx, &configs::alter(replicas, admin, ctx, r).await),
            R::IncrementalAlterConfigs(r) => respond(
                ctx,
                &configs::incremental_alter(replicas, admin, settings, ctx, r).await,
            ),
            R::DescribeCluster(r) => respond(ctx, &describe_cluster::handle(cluster, ctx, r).await),
            R::DescribeQuorum(r) => respond(ctx, &describe_quorum::handle(cluster, ctx, r).await),
            R::InitProducerId(r) => respond(
                ctx,
                &txn::init_producer_id(&self.producer_ids, txns, ctx, r).await,
            ),
            R::AddPartitionsToTxn(r) => respond(
                ctx,
                &txn::add_partitions_to_txn(cluster, txns, ctx, r).await,
            ),
            R::AddOffsetsToTxn(r) => respond(
                ctx,
                &txn::add_offsets_to_txn(&self.groups, txns, ctx, r).await,
            ),
            R::EndTxn(r) => respond(ctx, &txn::end_txn(txns, ctx, r).await),
            R::WriteTxnMarkers(r) => respond(ctx, &txn::write_txn_markers(txns, ctx, r).await),
            R::TxnOffsetCommit(r) => respond(
                ctx,
                &txn::txn_offset_commit(cluster, &self.groups, txns, ctx, r).await,
            ),
            R::DescribeTransactions(r) => {
                respond(ctx, &txn::describe_transactions(txns, ctx, r).await)
            }
            R::ListTransactions(r) => respond(ctx, &txn::list_transactions(txns, ctx, r).await),
            R::DescribeProducers(r) => {
                respond(ctx, &describe_producers::handle(replicas, ctx, r).await)
            }
            R::OffsetForLeaderEpoch(r) => respond(
                ctx,
                &offset_for_leader_epoch::handle(replicas, ctx, r).await,
            ),
            R::ElectLeaders(r) => respond(
                ctx,
                &elect_leaders::handle(cluster, &self.publisher, ctx, r).await,
            ),
            R::DescribeLogDirs(r) => respond(
                ctx,
                &describe_log_dirs::handle(replicas, &settings.log_dir, ctx, r).await,
            ),
            R::AlterPartitionReassignments(r) => respond(
                ctx,
                &reassignments::alter(cluster, &self.publisher, ctx, r).await,
            ),
            R::ListPartitionReassignments(r) => {
                respond(ctx, &reassignments::list(cluster, ctx, r).await)
            }
            R::SaslHandshake(r) => respond(ctx, &sasl::handshake(ctx, r)),
            R::SaslAuthenticate(r) => respond(ctx, &sasl::authenticate(cluster, ctx, r).await),
            R::DescribeUserScramCredentials(r) => {
                respond(ctx, &scram_credentials::describe(cluster, ctx, r).await)
            }
            R::AlterUserScramCredentials(r) => {
                respond(ctx, &scram_credentials::alter(cluster, ctx, r).await)
            }
            R::FindCoordinator(r) => respond(ctx, &groups::find_coordinator(cluster, ctx, r).await),
            R::JoinGroup(r) => respond(ctx, &groups::join_group(&self.groups, ctx, r).await),
            R::SyncGroup(r) => respond(ctx, &groups::sync_group(&self.groups, ctx, r).await),
            R::Heartbeat(r) => respond(ctx, &groups::heartbeat(&self.groups, ctx, r).await),
            R::LeaveGroup(r) => respond(ctx, &groups::leave_group(&self.groups, ctx, r).await),
            R::OffsetCommit(r) => respond(
                ctx,
                &groups::offset_commit(cluster, &self.groups, ctx, r).await,
            ),
            R::OffsetFetch(r) => respond(ctx, &groups::offset_fetch(&self.groups, ctx, r).await),
            R::DescribeGroups(r) => {
                respond(ctx, &groups::describe_groups(&self.groups, ctx, r).await)
            }
            R::ListGroups(r) => respond(ctx, &groups::list_groups(&self.groups, ctx, r).await),
            R::DeleteGroups(r) => respond(ctx, &groups::delete_groups(&self.groups, ctx, r).await),
            R::OffsetDelete(r) => respond(ctx, &groups::offset_delete(&self.groups, ctx, r).await),
            R::ConsumerGroupHeartbeat(r) => respond(
                ctx,
                &groups::consumer_group_heartbeat(
                    replicas,
                    &self.groups,
                    settings.group.consumer_protocol_enabled,
                    ctx,
                    r,
                )
                .await,
            ),
            R::ConsumerGroupDescribe(r) => respond(
                ctx,
                &groups::consumer_group_describe(replicas, &self.groups, ctx, r).await,
            ),
        };
        response.map(Some)
    }
}

fn respond<R: Encodable>(ctx: &RequestContext, response: &R) -> Result<ResponseFrame, Unparseable> {
    encode_response(ctx.correlation_id, ctx.api_key, ctx.api_version, response)
        .map(ResponseFrame::One)
}

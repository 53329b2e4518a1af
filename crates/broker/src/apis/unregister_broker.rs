//! UnregisterBroker (KIP-631): forget a broker's registration, for a broker that is gone for
//! good (`kafka-cluster unregister`). As Kafka's controller does, the broker is first taken
//! out of every ISR and its leaderships move to other in-sync replicas (the changes fencing
//! makes), in the same metadata-log entry; Kafka does not require the broker to be stopped or
//! fenced, and neither does Sluice. Its replica assignments stay (Kafka: "This operation does
//! not have any effect on partition assignments").
//!
//! Errors: without ALTER on the cluster, CLUSTER_AUTHORIZATION_FAILED; a broker id that is
//! not registered, BROKER_ID_NOT_REGISTERED; no quorum in time, REQUEST_TIMED_OUT.

use kafka_protocol::messages::{UnregisterBrokerRequest, UnregisterBrokerResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::unregister_command;
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::{command_error, Cluster};
use crate::replicas::AdminError;

pub async fn handle(
    cluster: &Cluster,
    unclean_leader_election_enable: bool,
    ctx: &RequestContext,
    request: UnregisterBrokerRequest,
) -> UnregisterBrokerResponse {
    let broker_id = request.broker_id.0;
    let outcome = unregister(cluster, unclean_leader_election_enable, ctx, broker_id).await;
    match outcome {
        Ok(()) => {
            tracing::info!(principal = %ctx.principal(), "broker {broker_id} unregistered");
            UnregisterBrokerResponse::default()
                .with_error_code(0)
                .with_error_message(None)
        }
        Err(e) => UnregisterBrokerResponse::default()
            .with_error_code(e.code.0)
            .with_error_message(Some(StrBytes::from_string(e.message))),
    }
}

async fn unregister(
    cluster: &Cluster,
    unclean_leader_election_enable: bool,
    ctx: &RequestContext,
    broker_id: i32,
) -> Result<(), AdminError> {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return Err(AdminError::new(
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.",
        ));
    }
    let image = cluster.image();
    let command = unregister_command(&image, broker_id, unclean_leader_election_enable)
        .map_err(|e| command_error(&e))?;
    cluster.propose(command).await.map(drop)
}

//! The coordinators follow leadership of their internal topics' partitions: a shard is loaded
//! when this broker becomes leader of its partition and unloaded when it stops leading it.

use std::sync::Arc;

use sluice_coordinator::{OFFSETS_TOPIC, TXN_STATE_TOPIC};
use tokio::sync::{mpsc, watch};

use super::group_service::GroupService;
use super::schema_service::SchemaService;
use super::txn_service::TxnService;
use crate::replicas::ImageChanges;

/// Hands leadership changes of the internal topics' partitions (from
/// `crate::cluster::MetadataPublisher::subscribe_leadership`) to the group and transaction
/// coordinators and the schema registry's writer, in the order they happened, until shutdown.
pub async fn follow_leadership(
    groups: Arc<GroupService>,
    txns: Arc<TxnService>,
    schemas: Arc<SchemaService>,
    mut changes: mpsc::UnboundedReceiver<ImageChanges>,
    mut shutdown: watch::Receiver<bool>,
) {
    let of = |list: &[(String, i32)], topic: &str| -> Vec<i32> {
        list.iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| *p)
            .collect()
    };
    loop {
        let change = tokio::select! {
            _ = shutdown.changed() => return,
            change = changes.recv() => match change {
                Some(c) => c,
                None => return,
            },
        };
        let became = of(&change.became_leader, OFFSETS_TOPIC);
        let resigned = of(&change.resigned, OFFSETS_TOPIC);
        if !became.is_empty() || !resigned.is_empty() {
            groups.on_leadership(&became, &resigned).await;
        }
        let became = of(&change.became_leader, TXN_STATE_TOPIC);
        let resigned = of(&change.resigned, TXN_STATE_TOPIC);
        if !became.is_empty() || !resigned.is_empty() {
            txns.on_leadership(&became, &resigned).await;
        }
        let became = of(&change.became_leader, sluice_schema::SCHEMAS_TOPIC);
        let resigned = of(&change.resigned, sluice_schema::SCHEMAS_TOPIC);
        if !became.is_empty() || !resigned.is_empty() {
            schemas.on_leadership(&became, &resigned).await;
        }
    }
}

//! [`MetadataPublisher`]: the one place that applies metadata images to the replicas this broker
//! hosts, and that reports the leadership changes they bring (Kafka's
//! `BrokerMetadataPublisher`).
//!
//! It follows every image the controller quorum commits ([`MetadataPublisher::run`]); a caller
//! that proposed a change and must see it applied before it answers (an admin request, an ISR
//! change, an election) asks it to apply the newest image now
//! ([`MetadataPublisher::publish_latest`]). Leadership changes go to one subscriber, in the order
//! the images were applied: the coordinators, which load and unload their shards with them.

use std::sync::{Arc, Mutex};

use sluice_controller::MetadataImage;
use tokio::sync::{mpsc, watch};

use super::membership::Cluster;
use crate::replicas::{ImageChanges, ReplicaManager};

pub struct MetadataPublisher {
    cluster: Arc<Cluster>,
    replicas: Arc<ReplicaManager>,
    /// Where leadership changes go. Held while an image is applied, so that changes are sent
    /// in the order their images were applied.
    leadership: Mutex<Option<mpsc::UnboundedSender<ImageChanges>>>,
}

impl MetadataPublisher {
    pub fn new(cluster: Arc<Cluster>, replicas: Arc<ReplicaManager>) -> Arc<MetadataPublisher> {
        Arc::new(MetadataPublisher {
            cluster,
            replicas,
            leadership: Mutex::new(None),
        })
    }

    /// From now on, every image application that changes this broker's leadership sends its
    /// [`ImageChanges`] here, in order (replacing an earlier subscriber).
    pub fn subscribe_leadership(&self) -> mpsc::UnboundedReceiver<ImageChanges> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.leadership.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        rx
    }

    /// Applies the newest image this node has (after a proposal, so that the caller's next
    /// request sees its change on this broker).
    pub async fn publish_latest(self: &Arc<Self>) {
        let image = self.cluster.image();
        self.publish_on_blocking_pool(image).await;
    }

    /// Applies every new image until shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut images = self.cluster.controller.image();
        loop {
            let image = images.borrow_and_update().clone();
            self.publish_on_blocking_pool(image).await;
            tokio::select! {
                _ = shutdown.changed() => return,
                r = images.changed() => if r.is_err() { return },
            }
        }
    }

    /// Applying opens and removes logs: file work, on the blocking pool.
    async fn publish_on_blocking_pool(self: &Arc<Self>, image: Arc<MetadataImage>) {
        let this = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || this.publish(&image)).await {
            tracing::error!("applying metadata panicked: {e}");
        }
    }

    fn publish(&self, image: &MetadataImage) {
        self.cluster.authorization.update(image);
        self.cluster.quotas.update(image);
        let leadership = self.leadership.lock().unwrap_or_else(|p| p.into_inner());
        let applied = self.replicas.apply_image(image);
        self.replicas.resume_interrupted_moves();
        match applied {
            Ok(changes) => {
                if changes.became_leader.is_empty() && changes.resigned.is_empty() {
                    return;
                }
                if let Some(tx) = &*leadership {
                    let _ = tx.send(changes);
                }
            }
            Err(e) => tracing::error!("applying metadata failed: {}", e.message),
        }
    }
}

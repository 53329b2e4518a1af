//! The harness shared by the cluster tests: controller quorums in one process, real openraft
//! nodes, real TCP on 127.0.0.1 ephemeral ports, real files in temporary directories. Every
//! wait polls a condition with a deadline.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sluice_controller::Controller;
use sluice_controller::ControllerConfig;
use sluice_controller::ControllerRole;
use sluice_controller::MetadataImage;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Upper bound of every wait; a healthy run needs a small fraction of it.
pub const WAIT: Duration = Duration::from_secs(20);

pub async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn fast_config(
    node_id: u64,
    voters: &BTreeMap<u64, SocketAddr>,
    listen: SocketAddr,
    dir: &Path,
) -> ControllerConfig {
    let mut config = ControllerConfig::new(node_id, voters.clone(), listen, dir);
    config.voter = voters.contains_key(&node_id);
    config.heartbeat_interval_ms = 50;
    config.election_timeout_ms = 300;
    config.request_timeout_ms = 5000;
    // Brokers in these tests heartbeat only when a test says so: without heartbeats they would
    // be fenced once their session expires. Lifecycle tests set a short timeout.
    config.cluster.session_timeout_ms = 600_000;
    config
}

pub struct Cluster {
    pub voters: BTreeMap<u64, SocketAddr>,
    /// Controller addresses of all nodes, voters and learners.
    pub addrs: BTreeMap<u64, SocketAddr>,
    pub dirs: BTreeMap<u64, tempfile::TempDir>,
    /// The running nodes.
    pub nodes: BTreeMap<u64, Controller>,
    pub tweak: fn(&mut ControllerConfig),
}

impl Cluster {
    pub async fn start(size: u64, tweak: fn(&mut ControllerConfig)) -> Cluster {
        Cluster::start_with_learners(size, 0, tweak).await
    }

    /// Voters 1..=voters, then non-voting nodes after them.
    pub async fn start_with_learners(
        voters: u64,
        learners: u64,
        tweak: fn(&mut ControllerConfig),
    ) -> Cluster {
        let size = voters + learners;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let mut listeners = BTreeMap::new();
        for id in 1..=size {
            listeners.insert(id, TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: BTreeMap<u64, SocketAddr> = listeners
            .iter()
            .map(|(&id, l)| (id, l.local_addr().unwrap()))
            .collect();
        let mut cluster = Cluster {
            voters: addrs
                .iter()
                .filter(|(&id, _)| id <= voters)
                .map(|(&id, &addr)| (id, addr))
                .collect(),
            addrs,
            dirs: (1..=size)
                .map(|id| (id, tempfile::tempdir().unwrap()))
                .collect(),
            nodes: BTreeMap::new(),
            tweak,
        };
        for (id, listener) in listeners {
            let controller = Controller::start_with_listener(cluster.config(id), listener)
                .await
                .unwrap();
            cluster.nodes.insert(id, controller);
        }
        cluster
    }

    pub fn config(&self, id: u64) -> ControllerConfig {
        let mut config = fast_config(id, &self.voters, self.addrs[&id], self.dirs[&id].path());
        (self.tweak)(&mut config);
        config
    }

    pub fn node(&self, id: u64) -> &Controller {
        &self.nodes[&id]
    }

    pub async fn stop(&mut self, id: u64) {
        self.nodes.remove(&id).unwrap().shutdown().await.unwrap();
    }

    /// Starts node `id` again from its data directory, on its old port.
    pub async fn restart(&mut self, id: u64) {
        let controller = Controller::start(self.config(id)).await.unwrap();
        self.nodes.insert(id, controller);
    }

    /// Waits until every running node names the same running node as leader, and it leads.
    pub async fn leader(&self) -> u64 {
        wait_for("a leader known to every running node", || {
            let leaders: BTreeSet<Option<u64>> = self.nodes.values().map(|c| c.leader()).collect();
            match leaders.into_iter().collect::<Vec<_>>()[..] {
                [Some(leader)]
                    if self
                        .nodes
                        .get(&leader)
                        .is_some_and(|c| c.status().role == ControllerRole::Leader) =>
                {
                    Some(leader)
                }
                _ => None,
            }
        })
        .await
    }

    pub fn followers(&self, leader: u64) -> Vec<u64> {
        self.nodes
            .keys()
            .copied()
            .filter(|&id| id != leader)
            .collect()
    }

    /// Waits until every running node has applied at least up to what node `reference` has
    /// applied now, and all images are equal; returns the image.
    pub async fn converged(&self, reference: u64) -> Arc<MetadataImage> {
        let offset = self.node(reference).image().borrow().offset();
        wait_for("every image to converge", || {
            let images: Vec<Arc<MetadataImage>> = self
                .nodes
                .values()
                .map(|c| c.image().borrow().clone())
                .collect();
            let first = &images[0];
            (first.offset() >= offset && images.iter().all(|i| i == first)).then(|| first.clone())
        })
        .await
    }

    pub async fn shutdown(self) {
        for controller in self.nodes.values() {
            controller.shutdown().await.unwrap();
        }
    }
}

//! Several Sluice nodes in the test process forming one cluster on loopback: every node a
//! broker and a controller voter, in its own data directory under one temporary directory,
//! with short session and election timeouts.
//!
//! Every node's client and controller listeners are bound before any node starts (port 0, so
//! the kernel picks free ports) and handed to the nodes already bound: each node's config can
//! name every voter's address, and no port can be taken by someone else in between. A node
//! restarted after a stop or crash binds its old ports again.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use sluice_broker::{Broker, BrokerConfig, Listeners};

use crate::client::Client;
use crate::node::Node;

/// The cluster id every test cluster uses.
pub const CLUSTER_ID: &str = "c2x1dWljZS10ZXN0LWNsdQ";

/// One node of a [`TestCluster`].
pub struct ClusterNode {
    pub id: i32,
    pub client_port: u16,
    pub controller_port: u16,
    pub dir: PathBuf,
    node: Option<Node>,
}

/// A cluster of in-process nodes. Dropping it crashes every node (a graceful stop of the last
/// ones would wait for a controller quorum that is gone); tests of graceful stops call
/// [`TestCluster::stop`].
pub struct TestCluster {
    pub nodes: Vec<ClusterNode>,
    voters: String,
    extra: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    pub fn start(n: i32) -> TestCluster {
        TestCluster::start_with(n, &[])
    }

    /// A cluster of `n` nodes, each also given the `extra` settings (`{node_dir}` in a value
    /// stands for the node's data directory).
    pub fn start_with(n: i32, extra: &[(&str, &str)]) -> TestCluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bind = || TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let bound: Vec<(TcpListener, TcpListener)> = (0..n).map(|_| (bind(), bind())).collect();
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).expect("local address");
        let nodes: Vec<ClusterNode> = bound
            .iter()
            .zip(1..)
            .map(|((client, controller), id)| ClusterNode {
                id,
                client_port: port(client),
                controller_port: port(controller),
                dir: dir.path().join(format!("node-{id}")),
                node: None,
            })
            .collect();
        let voters = nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = TestCluster {
            nodes,
            voters,
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _dir: dir,
        };
        // Every node starts at once: none serves before a quorum of controllers is up.
        let starting: Vec<_> = bound
            .into_iter()
            .zip(1..)
            .map(|((client, controller), id)| {
                let config = cluster.config(id);
                std::thread::spawn(move || {
                    Node::start(
                        config,
                        Listeners {
                            client: Some(client),
                            controller: Some(controller),
                            ..Listeners::default()
                        },
                    )
                })
            })
            .collect();
        for (thread, id) in starting.into_iter().zip(1..) {
            let node = thread
                .join()
                .unwrap_or_else(|_| panic!("node {id} did not start"));
            cluster.node_mut(id).node = Some(node);
        }
        cluster
    }

    fn node_mut(&mut self, id: i32) -> &mut ClusterNode {
        &mut self.nodes[index(id)]
    }

    /// Node `id`'s settings: the harness's, then the test's extras.
    fn config(&self, id: i32) -> BrokerConfig {
        let node = &self.nodes[index(id)];
        let settings = [
            ("node.id".to_string(), id.to_string()),
            (
                "listeners".to_string(),
                format!(
                    "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                    node.client_port, node.controller_port
                ),
            ),
            ("controller.quorum.voters".to_string(), self.voters.clone()),
            ("log.dirs".to_string(), node.dir.display().to_string()),
            ("cluster.id".to_string(), CLUSTER_ID.to_string()),
            ("broker.session.timeout.ms".to_string(), "2000".to_string()),
            (
                "broker.heartbeat.interval.ms".to_string(),
                "200".to_string(),
            ),
            (
                "controller.quorum.election.timeout.ms".to_string(),
                "500".to_string(),
            ),
            (
                "group.initial.rebalance.delay.ms".to_string(),
                "0".to_string(),
            ),
            ("offsets.topic.num.partitions".to_string(), "3".to_string()),
            (
                "transaction.state.log.num.partitions".to_string(),
                "3".to_string(),
            ),
        ];
        let mut config = BrokerConfig::default();
        let node_dir = node.dir.display().to_string();
        for (key, value) in settings.iter().chain(&self.extra) {
            // `{node_dir}` in an extra value is the node's data directory (e.g. several
            // `log.dirs` per node).
            let value = &value.replace("{node_dir}", &node_dir);
            config
                .set(key, value)
                .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
        }
        config
    }

    /// Starts node `id` again on its data directory and ports, and waits until it serves.
    pub fn restart(&mut self, id: i32) {
        self.stop(id);
        let config = self.config(id);
        self.node_mut(id).node = Some(Node::start(config, Listeners::default()));
    }

    /// Ends every node as `kill -9` does, then starts them all again at once on their data
    /// directories and ports, and waits until each serves: a restart of the whole cluster.
    pub fn kill_and_restart_all(&mut self) {
        for node in &mut self.nodes {
            if let Some(n) = node.node.take() {
                n.crash();
            }
        }
        // At once: no node serves before a quorum of controllers is back.
        let starting: Vec<_> = self
            .nodes
            .iter()
            .map(|n| {
                let config = self.config(n.id);
                std::thread::spawn(move || Node::start(config, Listeners::default()))
            })
            .collect();
        for (thread, id) in starting.into_iter().zip(1..) {
            let node = thread
                .join()
                .unwrap_or_else(|_| panic!("node {id} did not restart"));
            self.node_mut(id).node = Some(node);
        }
    }

    /// Ends node `id` as `kill -9` does.
    pub fn kill(&mut self, id: i32) {
        if let Some(node) = self.node_mut(id).node.take() {
            node.crash();
        }
    }

    /// Stops node `id` as SIGTERM does: it hands its leaderships over first.
    pub fn stop(&mut self, id: i32) {
        if let Some(node) = self.node_mut(id).node.take() {
            node.stop();
        }
    }

    pub fn addr(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.nodes[index(id)].client_port)
    }

    /// Every running node's client address, comma-separated (a bootstrap list).
    pub fn bootstrap(&self) -> String {
        self.live_ids()
            .into_iter()
            .map(|id| self.addr(id))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn connect(&self, id: i32) -> Client {
        Client::connect(&self.addr(id))
    }

    /// Node `id`'s broker state (panics while it is down).
    pub fn broker(&self, id: i32) -> Arc<Broker> {
        self.nodes[index(id)]
            .node
            .as_ref()
            .and_then(|n| n.broker.clone())
            .expect("the node is running")
    }

    /// Node `id`'s client listener address while it runs.
    pub fn local_addr(&self, id: i32) -> Option<SocketAddr> {
        self.nodes[index(id)].node.as_ref().map(|n| n.addr)
    }

    /// Ids of the nodes running.
    pub fn live_ids(&self) -> Vec<i32> {
        self.nodes
            .iter()
            .filter(|n| n.node.is_some())
            .map(|n| n.id)
            .collect()
    }
}

fn index(id: i32) -> usize {
    usize::try_from(id - 1).expect("node ids start at 1")
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Crashed one after another, each waiting for its own threads.
        for node in &mut self.nodes {
            if let Some(n) = node.node.take() {
                n.crash();
            }
        }
    }
}

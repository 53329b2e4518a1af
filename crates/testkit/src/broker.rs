//! A single-node Sluice cluster in the test process, with its data in a temporary directory.

use std::path::Path;
use std::sync::Arc;

use sluice_broker::{Broker, BrokerConfig, Listeners};

use crate::client::Client;
use crate::node::Node;

/// A single node (broker and controller) on an ephemeral loopback port. It can be stopped,
/// crashed and restarted on the same data and port; dropping it stops it as SIGTERM does.
pub struct TestBroker {
    node: Option<Node>,
    settings: Vec<(String, String)>,
    /// The client listener's port, kept across restarts.
    pub port: u16,
    /// The data directory (`log.dirs`).
    pub dir: tempfile::TempDir,
}

impl TestBroker {
    /// Starts a node with `settings` (Kafka's config names) on top of the harness's own:
    /// `listeners=PLAINTEXT://127.0.0.1:0` and `log.dirs` in a new temporary directory.
    ///
    /// A test may give `listeners` itself to add listeners (e.g.
    /// `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0`); [`TestBroker::port`] is then
    /// the first one's, and [`TestBroker::listener_addr`] has each one's bound address (port
    /// 0 binds new ports at each restart).
    pub fn start(settings: &[(&str, &str)]) -> TestBroker {
        let dir = tempfile::tempdir().expect("temporary directory");
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let node = start_node(dir.path(), 0, &settings);
        let port = node.addr.port();
        TestBroker {
            node: Some(node),
            settings,
            port,
            dir,
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.addr())
    }

    /// The bound address of the running node's client listener `name` (upper case, as
    /// `listeners` names it), `127.0.0.1:<port>`; `None` if it has no such listener.
    pub fn listener_addr(&self, name: &str) -> Option<String> {
        let node = self.node.as_ref()?;
        node.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, addr)| addr.to_string())
    }

    /// The running broker's state (panics while it is stopped).
    pub fn broker(&self) -> Arc<Broker> {
        self.node
            .as_ref()
            .and_then(|n| n.broker.clone())
            .expect("the broker is running")
    }

    /// Whether the node runs.
    pub fn alive(&self) -> bool {
        self.node.is_some()
    }

    /// Stops the node as SIGTERM does (logs flushed and closed).
    pub fn stop(&mut self) {
        if let Some(node) = self.node.take() {
            node.stop();
        }
    }

    /// Ends the node as `kill -9` does: nothing flushed, checkpointed or closed.
    pub fn kill(&mut self) {
        if let Some(node) = self.node.take() {
            node.crash();
        }
    }

    /// Starts the node again on the same data directory and port (stopping it first if it
    /// runs).
    pub fn restart(&mut self) {
        self.stop();
        self.node = Some(start_node(self.dir.path(), self.port, &self.settings));
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_node(dir: &Path, port: u16, settings: &[(String, String)]) -> Node {
    let mut config = BrokerConfig::default();
    let log_dirs = dir.display().to_string();
    let listeners = format!("PLAINTEXT://127.0.0.1:{port}");
    let own = [
        ("listeners".to_string(), listeners),
        ("log.dirs".to_string(), log_dirs),
    ];
    for (key, value) in own.iter().chain(settings) {
        config
            .set(key, value)
            .unwrap_or_else(|e| panic!("{key}={value}: {e}"));
    }
    Node::start(config, Listeners::default())
}

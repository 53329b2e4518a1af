//! Network partitions of a controller quorum in one process: every controller reaches every
//! other through a TCP proxy of its own, and the test cuts a node's links by making those
//! proxies swallow traffic (a black hole, as a real partition: calls time out, nothing is
//! refused). Pre-vote (see the crate's `pre_vote` module) keeps a cut-off voter from raising its
//! term, so that healing the partition does not unseat the leader.
//!
//! Failover times are printed (`--nocapture`), not asserted.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use common::fast_config;
use common::wait_for;
use sluice_controller::Controller;
use sluice_controller::ControllerRole;
use sluice_controller::MetadataCommand;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

/// The election timeout of `fast_config`.
const ELECTION_TIMEOUT: Duration = Duration::from_millis(300);
/// How long an isolated voter is watched: without pre-vote it campaigns within 4 election
/// timeouts (openraft waits a leader lease of 2 timeouts plus 1 to 2 timeouts).
const ISOLATION: Duration = Duration::from_millis(3000);

/// The set of isolated nodes: a link is cut when either end is in it.
type Cut = watch::Receiver<BTreeSet<u64>>;

fn link_cut(isolated: &BTreeSet<u64>, from: u64, to: u64) -> bool {
    isolated.contains(&from) || isolated.contains(&to)
}

/// Carries one connection from `from` to `to`'s controller at `upstream` while the link is up.
/// When the link is cut, what `from` sends is read and dropped and nothing is answered, until
/// the link heals; then the connection is closed, as a peer that timed out would find it.
async fn carry(mut client: TcpStream, upstream: SocketAddr, from: u64, to: u64, mut cut: Cut) {
    let is_cut = |isolated: &BTreeSet<u64>| link_cut(isolated, from, to);
    if !is_cut(&cut.borrow()) {
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = cut.wait_for(|isolated| is_cut(isolated)) => {}
        }
    }
    let mut sink = [0u8; 4096];
    loop {
        tokio::select! {
            read = client.read(&mut sink) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            _ = cut.wait_for(|isolated| !is_cut(isolated)) => return,
        }
    }
}

/// Accepts `from`'s connections to `to` on `listener`.
async fn proxy(listener: TcpListener, upstream: SocketAddr, from: u64, to: u64, cut: Cut) {
    let mut connections = JoinSet::new();
    while let Ok((client, _)) = listener.accept().await {
        connections.spawn(carry(client, upstream, from, to, cut.clone()));
        while connections.try_join_next().is_some() {}
    }
}

/// A quorum of voters 1..=size whose links the test can cut.
struct PartitionedQuorum {
    nodes: BTreeMap<u64, Controller>,
    /// The voters as each node sees them: itself at its listener, every other at a proxy.
    voters: BTreeMap<u64, BTreeMap<u64, SocketAddr>>,
    dirs: BTreeMap<u64, tempfile::TempDir>,
    isolated: watch::Sender<BTreeSet<u64>>,
    proxies: JoinSet<()>,
}

impl PartitionedQuorum {
    async fn start(size: u64) -> PartitionedQuorum {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (isolated, _) = watch::channel(BTreeSet::new());
        let mut listeners = BTreeMap::new();
        for id in 1..=size {
            listeners.insert(id, TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let mut proxies = JoinSet::new();
        let mut voters = BTreeMap::new();
        for from in 1..=size {
            let mut seen = BTreeMap::new();
            for (&to, listener) in &listeners {
                let upstream = listener.local_addr().unwrap();
                if to == from {
                    seen.insert(to, upstream);
                    continue;
                }
                let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                seen.insert(to, proxy_listener.local_addr().unwrap());
                proxies.spawn(proxy(
                    proxy_listener,
                    upstream,
                    from,
                    to,
                    isolated.subscribe(),
                ));
            }
            voters.insert(from, seen);
        }
        let mut quorum = PartitionedQuorum {
            nodes: BTreeMap::new(),
            voters,
            dirs: (1..=size)
                .map(|id| (id, tempfile::tempdir().unwrap()))
                .collect(),
            isolated,
            proxies,
        };
        for (id, listener) in listeners {
            let config = fast_config(
                id,
                &quorum.voters[&id],
                listener.local_addr().unwrap(),
                quorum.dirs[&id].path(),
            );
            let controller = Controller::start_with_listener(config, listener)
                .await
                .unwrap();
            quorum.nodes.insert(id, controller);
        }
        quorum
    }

    fn node(&self, id: u64) -> &Controller {
        &self.nodes[&id]
    }

    fn isolate(&self, id: u64) {
        self.isolated.send_modify(|isolated| {
            isolated.insert(id);
        });
    }

    fn heal(&self) {
        self.isolated.send_modify(BTreeSet::clear);
    }

    /// The leader named by every node of `among` if it is one of them and leads.
    fn agreed_leader(&self, among: &[u64]) -> Option<u64> {
        let leaders: BTreeSet<Option<u64>> =
            among.iter().map(|id| self.node(*id).leader()).collect();
        match leaders.into_iter().collect::<Vec<_>>()[..] {
            [Some(leader)]
                if among.contains(&leader)
                    && self.node(leader).status().role == ControllerRole::Leader =>
            {
                Some(leader)
            }
            _ => None,
        }
    }

    async fn leader_among(&self, among: &[u64]) -> u64 {
        wait_for("a leader known to the given nodes", || {
            self.agreed_leader(among)
        })
        .await
    }

    fn ids(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    async fn shutdown(mut self) {
        for controller in self.nodes.values() {
            controller.shutdown().await.unwrap();
        }
        self.proxies.shutdown().await;
    }
}

fn register(broker_id: i32) -> MetadataCommand {
    MetadataCommand::RegisterBroker {
        broker_id,
        incarnation_id: Uuid::from_u128(broker_id as u128),
        host: "localhost".into(),
        port: 9092,
        listeners: Vec::new(),
        http_endpoints: Default::default(),
        rack: None,
        timestamp_ms: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_voter_keeps_its_term_and_the_leader_keeps_leading_after_healing() {
    let quorum = PartitionedQuorum::start(3).await;
    let leader = quorum.leader_among(&quorum.ids()).await;
    let term = quorum.node(leader).status().term;
    let follower = quorum.ids().into_iter().find(|&id| id != leader).unwrap();
    quorum
        .node(leader)
        .propose(register(1))
        .await
        .unwrap()
        .unwrap();

    quorum.isolate(follower);
    // The majority side goes on committing while the follower is cut off.
    quorum
        .node(leader)
        .propose(register(2))
        .await
        .unwrap()
        .unwrap();
    let watched_until = Instant::now() + ISOLATION;
    while Instant::now() < watched_until {
        let status = quorum.node(follower).status();
        assert_eq!(
            status.term, term,
            "the isolated voter raised its term: {status:?}"
        );
        assert_ne!(status.role, ControllerRole::Candidate, "{status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    quorum.heal();
    let leader_log = quorum.node(leader).status().last_log_index;
    wait_for("the healed voter to catch up", || {
        let status = quorum.node(follower).status();
        (status.last_log_index >= leader_log && status.leader == Some(leader)).then_some(())
    })
    .await;
    // A few heartbeats after healing, nothing moved: same leader, same term everywhere.
    quorum
        .node(leader)
        .propose(register(3))
        .await
        .unwrap()
        .unwrap();
    for id in quorum.ids() {
        let status = quorum.node(id).status();
        assert_eq!(status.leader, Some(leader), "{status:?}");
        assert_eq!(status.term, term, "{status:?}");
    }
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_is_replaced_and_follows_after_healing() {
    let quorum = PartitionedQuorum::start(3).await;
    let old = quorum.leader_among(&quorum.ids()).await;
    quorum
        .node(old)
        .propose(register(1))
        .await
        .unwrap()
        .unwrap();
    let majority: Vec<u64> = quorum.ids().into_iter().filter(|&id| id != old).collect();

    let cut_at = Instant::now();
    quorum.isolate(old);
    let new = quorum.leader_among(&majority).await;
    println!(
        "leader {old} isolated: leader {new} elected after {:?} (election timeout {:?})",
        cut_at.elapsed(),
        ELECTION_TIMEOUT
    );
    quorum
        .node(new)
        .propose(register(2))
        .await
        .unwrap()
        .unwrap();

    quorum.heal();
    let new_term = quorum.node(new).status().term;
    wait_for("the old leader to follow the new one", || {
        let status = quorum.node(old).status();
        (status.leader == Some(new) && status.role == ControllerRole::Follower).then_some(())
    })
    .await;
    assert_eq!(quorum.agreed_leader(&quorum.ids()), Some(new));
    assert_eq!(quorum.node(new).status().term, new_term);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_leader_is_replaced() {
    let mut quorum = PartitionedQuorum::start(3).await;
    let old = quorum.leader_among(&quorum.ids()).await;
    quorum
        .node(old)
        .propose(register(1))
        .await
        .unwrap()
        .unwrap();

    let stopped_at = Instant::now();
    quorum.nodes.remove(&old).unwrap().shutdown().await.unwrap();
    let new = quorum.leader_among(&quorum.ids()).await;
    println!(
        "leader {old} stopped: leader {new} elected after {:?} (election timeout {:?})",
        stopped_at.elapsed(),
        ELECTION_TIMEOUT
    );
    quorum
        .node(new)
        .propose(register(2))
        .await
        .unwrap()
        .unwrap();
    quorum.shutdown().await;
}

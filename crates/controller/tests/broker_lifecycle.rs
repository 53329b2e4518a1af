//! The broker lifecycle run by the active controller, end to end on a quorum of three
//! controllers (real openraft nodes, TCP on 127.0.0.1, temporary directories): brokers register
//! and heartbeat as broker processes would, and the tests watch the metadata image for fencing,
//! leader elections, controlled shutdown and restarts. Every wait polls a condition with a
//! deadline.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use common::wait_for;
use common::Cluster;
use sluice_controller::place_replicas;
use sluice_controller::BrokerHeartbeatReply;
use sluice_controller::BrokerHeartbeatRequest;
use sluice_controller::BrokerRegistrationRequest;
use sluice_controller::CommandError;
use sluice_controller::CommandOutput;
use sluice_controller::Controller;
use sluice_controller::ControllerConfig;
use sluice_controller::ControllerError;
use sluice_controller::MetadataCommand;
use sluice_controller::MetadataImage;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

const SESSION_TIMEOUT: Duration = Duration::from_millis(1000);
/// How often a broker heartbeats (Kafka's `broker.heartbeat.interval.ms`, scaled down).
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);
const TOPIC_ID: Uuid = Uuid::from_u128(0x0e0e);

fn lifecycle_config(config: &mut ControllerConfig) {
    config.cluster.session_timeout_ms = SESSION_TIMEOUT.as_millis() as u64;
    config.cluster.check_interval_ms = 50;
}

fn registration(broker_id: i32, incarnation: u128) -> BrokerRegistrationRequest {
    BrokerRegistrationRequest {
        broker_id,
        incarnation_id: Uuid::from_u128(incarnation),
        host: "127.0.0.1".into(),
        port: 9092 + broker_id as u16,
        listeners: Vec::new(),
        http_endpoints: Default::default(),
        rack: Some(format!("rack-{}", broker_id % 2)),
        cluster_id: String::new(),
    }
}

async fn register(controller: &Controller, broker_id: i32, incarnation: u128) -> i64 {
    match controller
        .register_broker(registration(broker_id, incarnation))
        .await
        .unwrap()
    {
        Ok(epoch) => epoch,
        Err(e) => panic!("registration of broker {broker_id}: {e}"),
    }
}

/// A broker process's heartbeat loop. It heartbeats through the first of its controllers that
/// is running (as a broker's channel to the controller quorum fails over) and reports the
/// image offset of that controller as what it applied.
struct Heartbeats {
    broker_epoch: i64,
    want_shutdown: Arc<AtomicBool>,
    last_reply: Arc<Mutex<Option<BrokerHeartbeatReply>>>,
    answered: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Heartbeats {
    fn start(controllers: Vec<Controller>, broker_id: i32, broker_epoch: i64) -> Heartbeats {
        let want_shutdown = Arc::new(AtomicBool::new(false));
        let last_reply = Arc::new(Mutex::new(None));
        let answered = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let task = {
            let want_shutdown = want_shutdown.clone();
            let last_reply = last_reply.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                let mut current = 0;
                loop {
                    let controller = &controllers[current % controllers.len()];
                    let request = BrokerHeartbeatRequest {
                        broker_id,
                        broker_epoch,
                        metadata_offset: controller.image().borrow().offset(),
                        want_fence: false,
                        want_shutdown: want_shutdown.load(Ordering::SeqCst),
                        offline_log_dirs: Vec::new(),
                        offline_replicas: Vec::new(),
                    };
                    match controller.broker_heartbeat(request).await {
                        Ok(Ok(reply)) => {
                            *last_reply.lock().unwrap() = Some(reply);
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Err(e)) => panic!("heartbeat of broker {broker_id} refused: {e}"),
                        Err(ControllerError::Shutdown) => current += 1,
                        // No leader for a while (a failover): the next heartbeat tries again.
                        Err(_) => {}
                    }
                    tokio::select! {
                        _ = stopped.wait_for(|&stop| stop) => return,
                        _ = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                    }
                }
            })
        };
        Heartbeats {
            broker_epoch,
            want_shutdown,
            last_reply,
            answered,
            stop,
            task,
        }
    }

    fn last_reply(&self) -> Option<BrokerHeartbeatReply> {
        self.last_reply.lock().unwrap().clone()
    }

    fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }

    /// Stops the loop; fails the test if the loop failed.
    async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.unwrap();
    }
}

/// The image of the current leader.
async fn leader_image(cluster: &Cluster) -> Arc<MetadataImage> {
    let leader = cluster.leader().await;
    let image = cluster.node(leader).image().borrow().clone();
    image
}

/// Waits until `condition` holds on the leader's image; returns that image.
async fn wait_for_image(
    cluster: &Cluster,
    what: &str,
    condition: impl Fn(&MetadataImage) -> bool,
) -> Arc<MetadataImage> {
    wait_for(what, || {
        let leaders: Vec<u64> = cluster
            .nodes
            .iter()
            .filter(|(_, c)| c.status().role == sluice_controller::ControllerRole::Leader)
            .map(|(&id, _)| id)
            .collect();
        let [leader] = leaders[..] else {
            return None;
        };
        let image = cluster.node(leader).image().borrow().clone();
        condition(&image).then_some(image)
    })
    .await
}

fn is_fenced(image: &MetadataImage, broker_id: i32) -> bool {
    image.broker(broker_id).unwrap().fenced
}

/// Partitions of the topic as (leader, isr, leader_epoch).
fn partitions(image: &MetadataImage, topic: &str) -> Vec<(Option<i32>, Vec<i32>, i32)> {
    image
        .topic(topic)
        .unwrap()
        .partitions
        .iter()
        .map(|p| (p.leader, p.isr.clone(), p.leader_epoch))
        .collect()
}

/// Brokers 1, 2, 3 registered (each through another controller) and heartbeating until
/// unfenced, and topic "orders" with 6 partitions of 3 replicas placed over them.
async fn brokers_and_topic(
    cluster: &Cluster,
    heartbeat_through: impl Fn(i32) -> Vec<Controller>,
) -> BTreeMap<i32, Heartbeats> {
    let mut heartbeats = BTreeMap::new();
    for broker_id in 1..=3 {
        let node = cluster.node(broker_id as u64);
        let epoch = register(node, broker_id, broker_id as u128).await;
        let controllers = heartbeat_through(broker_id);
        heartbeats.insert(broker_id, Heartbeats::start(controllers, broker_id, epoch));
    }
    let image = wait_for_image(cluster, "three unfenced brokers", |image| {
        (1..=3).all(|b| image.broker(b).is_some_and(|b| !b.fenced))
    })
    .await;
    let assignments = place_replicas(&image, 6, 3, 42).unwrap();
    let create = MetadataCommand::CreateTopic {
        name: "orders".into(),
        topic_id: TOPIC_ID,
        assignments,
        configs: BTreeMap::new(),
    };
    assert_eq!(
        cluster.node(1).propose(create).await.unwrap(),
        Ok(CommandOutput::Done)
    );
    heartbeats
}

/// Every broker heartbeats through its own controller node.
fn own_node(cluster: &Cluster) -> impl Fn(i32) -> Vec<Controller> + '_ {
    |broker_id| vec![cluster.node(broker_id as u64).clone()]
}

async fn stop_all(heartbeats: BTreeMap<i32, Heartbeats>) {
    for (_, h) in heartbeats {
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_broker_is_fenced_and_loses_leadership_then_returns_as_a_new_process() {
    let cluster = Cluster::start(3, |c| {
        lifecycle_config(c);
        c.cluster.leader_imbalance_check_interval_ms = 200;
    })
    .await;
    let mut heartbeats = brokers_and_topic(&cluster, own_node(&cluster)).await;
    let before = leader_image(&cluster).await;
    // Leaders start on the preferred replicas, spread over the brokers.
    let victim = partitions(&before, "orders")[0].0.unwrap();
    let victim_epoch = heartbeats[&victim].broker_epoch;

    // Another process cannot take over a broker id whose session is alive.
    let live = victim % 3 + 1;
    let refused = cluster
        .node(1)
        .register_broker(registration(live, 1000 + live as u128))
        .await
        .unwrap();
    assert_eq!(
        refused,
        Err(CommandError::DuplicateBrokerRegistration(live))
    );

    heartbeats.remove(&victim).unwrap().stop().await;
    let image = wait_for_image(
        &cluster,
        "the silent broker fenced, its partitions moved",
        |i| {
            is_fenced(i, victim)
                && partitions(i, "orders")
                    .iter()
                    .all(|(leader, isr, _)| leader.is_some() && !isr.contains(&victim))
        },
    )
    .await;
    for (partition, (leader, isr, leader_epoch)) in partitions(&image, "orders").iter().enumerate()
    {
        let (old_leader, _, old_epoch) = &partitions(&before, "orders")[partition];
        assert_ne!(*leader, Some(victim));
        assert_eq!(isr.len(), 2, "partition {partition}: {isr:?}");
        if *old_leader == Some(victim) {
            assert_eq!(*leader_epoch, old_epoch + 1, "partition {partition}");
        }
    }
    for broker in heartbeats.keys() {
        assert!(!is_fenced(&image, *broker), "live broker {broker} fenced");
    }

    // The broker's process restarts: its old registration is fenced, so it is accepted at once.
    let node = cluster.node(victim as u64);
    let new_epoch = register(node, victim, 2000).await;
    assert!(new_epoch > victim_epoch);
    let back = Heartbeats::start(vec![node.clone()], victim, new_epoch);
    wait_for_image(&cluster, "the restarted broker unfenced", |i| {
        !is_fenced(i, victim)
    })
    .await;
    heartbeats.insert(victim, back);

    // Once it is back in the ISR of a partition it prefers (the partition leader's
    // AlterPartition, here proposed by hand), the rebalance gives that leadership back.
    let image = leader_image(&cluster).await;
    let topic = image.topic("orders").unwrap();
    let (partition, state) = topic
        .partitions
        .iter()
        .enumerate()
        .find(|(_, p)| p.replicas[0] == victim)
        .unwrap();
    let mut isr = state.isr.clone();
    isr.push(victim);
    let expand = MetadataCommand::ChangePartition {
        topic_id: TOPIC_ID,
        partition: partition as i32,
        expected_leader_epoch: state.leader_epoch,
        expected_partition_epoch: state.partition_epoch,
        leader: state.leader,
        isr,
    };
    let expanded = cluster.node(1).propose(expand).await.unwrap();
    assert!(
        matches!(expanded, Ok(CommandOutput::PartitionChanged { .. })),
        "{expanded:?}"
    );
    wait_for_image(&cluster, "the preferred leader back", |i| {
        partitions(i, "orders")[partition].0 == Some(victim)
    })
    .await;
    stop_all(heartbeats).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controlled_shutdown_moves_leadership_then_fences() {
    let cluster = Cluster::start(3, lifecycle_config).await;
    let mut heartbeats = brokers_and_topic(&cluster, own_node(&cluster)).await;
    let before = leader_image(&cluster).await;
    let leaving = partitions(&before, "orders")[0].0.unwrap();
    let led: Vec<usize> = partitions(&before, "orders")
        .iter()
        .enumerate()
        .filter(|(_, (leader, _, _))| *leader == Some(leaving))
        .map(|(p, _)| p)
        .collect();

    let h = &heartbeats[&leaving];
    // A reply says how far the metadata log is committed: past everything in the image read
    // before it was asked for.
    let answered = h.answered();
    wait_for("a heartbeat answered after the image was read", || {
        (h.answered() > answered).then_some(())
    })
    .await;
    let reply = h.last_reply().unwrap();
    assert!((!reply.is_fenced && !reply.should_shutdown), "{reply:?}");
    assert!(reply.committed_offset >= before.offset(), "{reply:?}");
    h.want_shutdown.store(true, Ordering::SeqCst);
    wait_for("the controlled shutdown to complete", || {
        h.last_reply().filter(|r| r.should_shutdown).map(|_| ())
    })
    .await;
    assert!(h.last_reply().unwrap().is_fenced);
    // The broker's own controller has applied what the answer was based on.
    let image = cluster.node(leaving as u64).image().borrow().clone();
    assert!(is_fenced(&image, leaving));
    for (partition, (leader, isr, leader_epoch)) in partitions(&image, "orders").iter().enumerate()
    {
        assert!(
            leader.is_some_and(|l| l != leaving),
            "partition {partition}"
        );
        assert!(!isr.contains(&leaving), "partition {partition}: {isr:?}");
        if led.contains(&partition) {
            assert_eq!(
                *leader_epoch,
                partitions(&before, "orders")[partition].2 + 1
            );
        }
    }
    for broker in heartbeats.keys().filter(|&&b| b != leaving) {
        assert!(!is_fenced(&image, *broker));
    }
    heartbeats.remove(&leaving).unwrap().stop().await;
    stop_all(heartbeats).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_the_session_expired_takes_the_old_registration_out_at_once() {
    // Checks (which would fence the silent broker first) only run when a broker is unfenced:
    // the registration itself finds the expired session and fences the old registration.
    let cluster = Cluster::start(3, |c| {
        lifecycle_config(c);
        c.cluster.check_interval_ms = 600_000;
    })
    .await;
    let mut heartbeats = brokers_and_topic(&cluster, own_node(&cluster)).await;
    let before = leader_image(&cluster).await;
    let victim = partitions(&before, "orders")[0].0.unwrap();
    let solo = MetadataCommand::CreateTopic {
        name: "solo".into(),
        topic_id: Uuid::from_u128(0x5010),
        assignments: vec![vec![victim]],
        configs: BTreeMap::new(),
    };
    assert_eq!(
        cluster.node(1).propose(solo).await.unwrap(),
        Ok(CommandOutput::Done)
    );

    let node = cluster.node(victim as u64);
    let restart = registration(victim, 3000);
    assert_eq!(
        node.register_broker(restart.clone()).await.unwrap(),
        Err(CommandError::DuplicateBrokerRegistration(victim))
    );
    heartbeats.remove(&victim).unwrap().stop().await;
    let deadline = Instant::now() + common::WAIT;
    let new_epoch = loop {
        match node.register_broker(restart.clone()).await.unwrap() {
            Ok(epoch) => break epoch,
            Err(CommandError::DuplicateBrokerRegistration(_)) => {
                assert!(Instant::now() < deadline, "the old session never expired");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let image = node.image().borrow().clone();
    let broker = image.broker(victim).unwrap();
    assert_eq!(broker.incarnation_id, restart.incarnation_id);
    assert_eq!(broker.broker_epoch, new_epoch);
    assert!(broker.fenced);
    for (partition, (leader, isr, _)) in partitions(&image, "orders").iter().enumerate() {
        assert!(leader.is_some_and(|l| l != victim), "partition {partition}");
        assert!(!isr.contains(&victim), "partition {partition}: {isr:?}");
    }
    // The only replica stays in the ISR, without leading, until it may lead again.
    assert_eq!(
        partitions(&image, "solo")
            .iter()
            .map(|(l, isr, _)| (*l, isr.clone()))
            .collect::<Vec<_>>(),
        vec![(None, vec![victim])]
    );

    heartbeats.insert(
        victim,
        Heartbeats::start(vec![node.clone()], victim, new_epoch),
    );
    wait_for_image(
        &cluster,
        "the restarted broker leads its partition again",
        |i| !is_fenced(i, victim) && partitions(i, "solo")[0].0 == Some(victim),
    )
    .await;
    stop_all(heartbeats).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_failover_does_not_fence_live_brokers() {
    let mut cluster = Cluster::start(3, lifecycle_config).await;
    let old_leader = cluster.leader().await;
    // Brokers heartbeat through the other controllers first: their channel survives the
    // leader's loss.
    let survivors: Vec<Controller> = cluster
        .followers(old_leader)
        .iter()
        .map(|&id| cluster.node(id).clone())
        .collect();
    let heartbeats = brokers_and_topic(&cluster, |broker_id| {
        let mut through = survivors.clone();
        let first = broker_id as usize % through.len();
        through.rotate_left(first);
        through
    })
    .await;
    let before = wait_for_image(&cluster, "every broker unfenced", |i| {
        (1..=3).all(|b| !is_fenced(i, b))
    })
    .await;

    cluster.stop(old_leader).await;
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, old_leader);
    let answered: Vec<u64> = heartbeats.values().map(Heartbeats::answered).collect();
    // Watch three session timeouts under the new leader, with heartbeats answered meanwhile.
    let watch_until = Instant::now() + 3 * SESSION_TIMEOUT;
    wait_for("three session timeouts under the new leader", || {
        let image = cluster.node(new_leader).image().borrow().clone();
        for broker in 1..=3 {
            assert!(!is_fenced(&image, broker), "broker {broker} fenced");
        }
        let all_answered = heartbeats
            .values()
            .zip(&answered)
            .all(|(h, &before)| h.answered() > before + 5);
        (Instant::now() >= watch_until && all_answered).then_some(())
    })
    .await;
    let after = leader_image(&cluster).await;
    for broker in 1..=3 {
        assert_eq!(after.broker(broker), before.broker(broker));
    }
    assert_eq!(
        partitions(&after, "orders"),
        partitions(&before, "orders"),
        "no leadership moved"
    );
    stop_all(heartbeats).await;
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_of_another_cluster_is_refused() {
    let cluster = Cluster::start(3, |c| {
        lifecycle_config(c);
        c.cluster.cluster_id = "ours".into();
    })
    .await;
    let foreign = BrokerRegistrationRequest {
        cluster_id: "theirs".into(),
        ..registration(4, 4)
    };
    let refused = cluster
        .node(2)
        .register_broker(foreign)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.error_code(), 104, "INCONSISTENT_CLUSTER_ID");
    let text = refused.to_string();
    assert!(text.contains("theirs") && text.contains("ours"), "{text}");
    assert!(
        leader_image(&cluster).await.broker(4).is_none(),
        "nothing registered"
    );
    // The same broker id with this cluster's id (or none, from an older broker) is welcome.
    let ok = BrokerRegistrationRequest {
        cluster_id: "ours".into(),
        ..registration(4, 4)
    };
    assert!(cluster.node(2).register_broker(ok).await.unwrap().is_ok());
}

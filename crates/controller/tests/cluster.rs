//! Controller quorums in one process: real openraft nodes, real TCP on 127.0.0.1 ephemeral
//! ports, real files in temporary directories. Every wait polls a condition with a deadline.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::wait_for;
use common::Cluster;
use common::WAIT;

use sluice_controller::CommandError;
use sluice_controller::CommandOutput;
use sluice_controller::ConfigOp;
use sluice_controller::Controller;
use sluice_controller::ControllerError;
use sluice_controller::ControllerRole;
use sluice_controller::MetadataCommand;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use uuid::Uuid;

fn register(broker_id: i32) -> MetadataCommand {
    MetadataCommand::RegisterBroker {
        broker_id,
        incarnation_id: Uuid::from_u128(broker_id as u128 + 100),
        host: "127.0.0.1".into(),
        port: 9092 + broker_id as u16,
        listeners: Vec::new(),
        http_endpoints: Default::default(),
        rack: None,
        timestamp_ms: 1_000,
    }
}

fn set_broker_config(broker_id: i32, value: usize) -> MetadataCommand {
    MetadataCommand::AlterBrokerConfig {
        broker_id: Some(broker_id),
        ops: vec![ConfigOp::Set {
            name: "log.retention.ms".into(),
            value: value.to_string(),
        }],
    }
}

async fn registered_epoch(controller: &Controller, broker_id: i32) -> i64 {
    match controller.propose(register(broker_id)).await.unwrap() {
        Ok(CommandOutput::BrokerRegistered { broker_epoch }) => broker_epoch,
        other => panic!("registration of broker {broker_id}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_a_leader_and_commit_proposals_made_on_followers() {
    let cluster = Cluster::start(3, |_| {}).await;
    let leader = cluster.leader().await;
    let followers = cluster.followers(leader);
    let (a, b) = (cluster.node(followers[0]), cluster.node(followers[1]));

    let epoch = registered_epoch(a, 1).await;
    // The proposer reads its own write.
    assert_eq!(a.image().borrow().broker(1).unwrap().broker_epoch, epoch);
    let unfenced = b
        .propose(MetadataCommand::UnfenceBroker {
            broker_id: 1,
            broker_epoch: epoch,
        })
        .await
        .unwrap();
    assert_eq!(unfenced, Ok(CommandOutput::Done));
    let create = MetadataCommand::CreateTopic {
        name: "orders".into(),
        topic_id: Uuid::from_u128(42),
        assignments: vec![vec![1], vec![1]],
        configs: BTreeMap::new(),
    };
    assert_eq!(
        a.propose(create.clone()).await.unwrap(),
        Ok(CommandOutput::Done)
    );
    // A rejected command is a result, not a failure of the quorum.
    assert_eq!(
        b.propose(create).await.unwrap(),
        Err(CommandError::TopicAlreadyExists("orders".into()))
    );

    let image = cluster.converged(leader).await;
    let broker = image.broker(1).unwrap();
    assert_eq!(broker.broker_epoch, epoch);
    assert!(!broker.fenced);
    let topic = image.topic("orders").unwrap();
    assert_eq!(topic.partitions.len(), 2);
    assert_eq!(topic.partitions[1].leader, Some(1));
    for controller in cluster.nodes.values() {
        let status = controller.status();
        assert_eq!(status.voters, vec![1, 2, 3]);
        assert_eq!(status.leader, Some(leader));
    }
    // Every node knows how far the log is committed: at least as far as it applied, and (the
    // writes above done) to the end of the leader's log, which DescribeQuorum's high watermark
    // is one past.
    wait_for("every node to know the leader's commit index", || {
        let end = cluster.node(leader).status().last_log_index;
        cluster
            .nodes
            .values()
            .map(|c| c.status())
            .all(|s| s.committed_index == end && s.committed_index >= s.last_applied_index)
            .then_some(end)
    })
    .await;
    let quorum = a.describe_quorum().await.unwrap();
    let committed = cluster.node(leader).status().committed_index.unwrap();
    assert_eq!(quorum.high_watermark, committed as i64 + 1);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_leader_elects_another_and_proposals_continue() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let first = cluster.leader().await;
    registered_epoch(cluster.node(first), 1).await;

    cluster.stop(first).await;
    let second = cluster.leader().await;
    assert_ne!(second, first);
    let running: Vec<u64> = cluster.nodes.keys().copied().collect();
    for (i, id) in running.into_iter().enumerate() {
        registered_epoch(cluster.node(id), 2 + i as i32).await;
    }
    let image = cluster.converged(second).await;
    assert_eq!(
        image.brokers().keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_catches_up_from_its_data_dir() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let leader = cluster.leader().await;
    let node = cluster.followers(leader)[0];
    for broker in 1..=3 {
        registered_epoch(cluster.node(leader), broker).await;
    }
    cluster.converged(leader).await;
    cluster.stop(node).await;

    for broker in 4..=6 {
        registered_epoch(cluster.node(leader), broker).await;
    }
    cluster.restart(node).await;
    let leader = cluster.leader().await;
    registered_epoch(cluster.node(node), 7).await;
    let image = cluster.converged(leader).await;
    assert_eq!(image.brokers().len(), 7);
    assert!(cluster.node(node).status().voters.contains(&node));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_quorum_restarts_with_its_metadata() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let leader = cluster.leader().await;
    for broker in 1..=3 {
        registered_epoch(cluster.node(leader), broker).await;
    }
    let before = cluster.converged(leader).await;
    for id in 1..=3 {
        cluster.stop(id).await;
    }
    for id in 1..=3 {
        cluster.restart(id).await;
    }
    let leader = cluster.leader().await;
    registered_epoch(cluster.node(leader), 4).await;
    let after = cluster.converged(leader).await;
    for (id, broker) in before.brokers() {
        assert_eq!(after.broker(*id), Some(broker));
    }
    assert_eq!(after.brokers().len(), 4);
    for controller in cluster.nodes.values() {
        assert_eq!(controller.status().voters, vec![1, 2, 3]);
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_purge_the_log_and_a_node_down_past_the_purge_gets_the_snapshot() {
    let mut cluster = Cluster::start(3, |c| {
        c.snapshot_interval_entries = 10;
        c.log_entries_kept_after_snapshot = 0;
        c.snapshot_chunk_bytes = 256;
    })
    .await;
    let leader = cluster.leader().await;
    let lagging = cluster.followers(leader)[0];
    cluster.stop(lagging).await;
    let lagging_log_end = 10;

    let leader = cluster.leader().await;
    for i in 0..40 {
        let result = cluster
            .node(leader)
            .propose(set_broker_config(i as i32 % 4, i))
            .await
            .unwrap();
        assert_eq!(result, Ok(CommandOutput::Done));
    }
    let status = wait_for("a snapshot and a purge on the leader", || {
        let status = cluster.node(leader).status();
        (status.snapshot_index.unwrap_or(0) >= 30
            && status.purged_index.unwrap_or(0) > lagging_log_end)
            .then_some(status)
    })
    .await;
    assert!(status.purged_index <= status.snapshot_index);

    cluster.restart(lagging).await;
    let image = cluster.converged(leader).await;
    assert_eq!(image.broker_configs(3)["log.retention.ms"], "39");
    let restarted = cluster.node(lagging).status();
    assert!(
        restarted
            .snapshot_index
            .is_some_and(|i| i > lagging_log_end),
        "the lagging node installed a snapshot: {restarted:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_is_a_cluster_of_one() {
    let mut cluster = Cluster::start(1, |_| {}).await;
    assert_eq!(cluster.leader().await, 1);
    let epoch = registered_epoch(cluster.node(1), 1).await;
    assert_eq!(
        cluster
            .node(1)
            .image()
            .borrow()
            .broker(1)
            .unwrap()
            .broker_epoch,
        epoch
    );

    cluster.stop(1).await;
    cluster.restart(1).await;
    assert_eq!(cluster.leader().await, 1);
    wait_for("the image replayed from the log", || {
        cluster.node(1).image().borrow().broker(1).map(|_| ())
    })
    .await;
    registered_epoch(cluster.node(1), 2).await;
    assert_eq!(cluster.node(1).image().borrow().brokers().len(), 2);

    let huge = MetadataCommand::AlterBrokerConfig {
        broker_id: None,
        ops: vec![ConfigOp::Set {
            name: "x".into(),
            value: "x".repeat(17 << 20),
        }],
    };
    let err = cluster.node(1).propose(huge).await.unwrap_err();
    assert!(
        matches!(err, ControllerError::CommandTooLarge { .. }),
        "{err}"
    );

    let node = cluster.node(1).clone();
    cluster.shutdown().await;
    let err = node.propose(register(3)).await.unwrap_err();
    assert!(matches!(err, ControllerError::Shutdown), "{err}");
}

/// Reads until the peer closes the connection; fails if it stays open past the deadline.
async fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "{what}: connection still open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_connection() {
    let cluster = Cluster::start(1, |c| c.request_timeout_ms = 1000).await;
    assert_eq!(cluster.leader().await, 1);
    let addr = cluster.node(1).local_addr();
    let mut bystander = TcpStream::connect(addr).await.unwrap();

    let mut undecodable = 5u32.to_be_bytes().to_vec();
    undecodable.extend_from_slice(&[0xff; 5]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("undecodable body", undecodable),
        (
            "length over the limit",
            (64u32 << 20).to_be_bytes().to_vec(),
        ),
        ("maximal length", u32::MAX.to_be_bytes().to_vec()),
        ("zero length", 0u32.to_be_bytes().to_vec()),
        ("an HTTP request", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        (
            "a body that never arrives",
            [&100u32.to_be_bytes()[..], &[1u8; 10]].concat(),
        ),
    ];
    for (what, bytes) in cases {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        assert_closed(&mut stream, what).await;
    }

    // The other connection is untouched and the controller still serves.
    let mut buf = [0u8; 1];
    let idle = tokio::time::timeout(Duration::from_millis(200), bystander.read(&mut buf)).await;
    assert!(
        idle.is_err(),
        "the bystander connection was closed: {idle:?}"
    );
    registered_epoch(cluster.node(1), 1).await;
    cluster.shutdown().await;
}

/// Registers and unfences broker 1 and creates topic "t" on it with one partition.
async fn broker_1_and_topic_t(controller: &Controller) {
    let epoch = registered_epoch(controller, 1).await;
    let unfence = MetadataCommand::UnfenceBroker {
        broker_id: 1,
        broker_epoch: epoch,
    };
    assert_eq!(
        controller.propose(unfence).await.unwrap(),
        Ok(CommandOutput::Done)
    );
    let create = MetadataCommand::CreateTopic {
        name: "t".into(),
        topic_id: Uuid::from_u128(7),
        assignments: vec![vec![1]],
        configs: BTreeMap::new(),
    };
    assert_eq!(
        controller.propose(create).await.unwrap(),
        Ok(CommandOutput::Done)
    );
}

/// Not idempotent: applied twice, it adds two partitions.
fn add_partition() -> MetadataCommand {
    MetadataCommand::CreatePartitions {
        topic: "t".into(),
        assignments: vec![vec![1]],
    }
}

fn partitions_of_t(controller: &Controller) -> usize {
    controller
        .image()
        .borrow()
        .topic("t")
        .unwrap()
        .partitions
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_all_or_nothing() {
    let cluster = Cluster::start(3, |_| {}).await;
    let leader = cluster.leader().await;
    let follower = cluster.node(cluster.followers(leader)[0]);
    let epochs = [
        registered_epoch(follower, 1).await,
        registered_epoch(follower, 2).await,
    ];
    let unfence_both = MetadataCommand::Batch(vec![
        MetadataCommand::UnfenceBroker {
            broker_id: 1,
            broker_epoch: epochs[0],
        },
        MetadataCommand::UnfenceBroker {
            broker_id: 2,
            broker_epoch: epochs[1],
        },
        MetadataCommand::CreateTopic {
            name: "t".into(),
            topic_id: Uuid::from_u128(7),
            assignments: vec![vec![1, 2]],
            configs: BTreeMap::new(),
        },
    ]);
    assert_eq!(
        follower.propose(unfence_both).await.unwrap(),
        Ok(CommandOutput::Batch(vec![CommandOutput::Done; 3]))
    );

    // Fencing broker 1 and moving its leadership commit together.
    let fence_and_elect = |epoch| {
        MetadataCommand::Batch(vec![
            MetadataCommand::FenceBroker {
                broker_id: 1,
                broker_epoch: epochs[0],
            },
            MetadataCommand::ChangePartition {
                topic_id: Uuid::from_u128(7),
                partition: 0,
                expected_leader_epoch: epoch,
                expected_partition_epoch: epoch,
                leader: Some(2),
                isr: vec![2],
            },
        ])
    };
    // A stale partition epoch fails the second command: broker 1 is not fenced either.
    let before = cluster.converged(leader).await;
    let failed = follower.propose(fence_and_elect(5)).await.unwrap();
    assert_eq!(
        failed,
        Err(CommandError::BatchFailed {
            index: 1,
            error: Box::new(CommandError::FencedLeaderEpoch {
                current: 0,
                requested: 5
            }),
        })
    );
    let after = cluster.converged(leader).await;
    assert!(!after.broker(1).unwrap().fenced);
    assert_eq!(after.topic("t"), before.topic("t"));
    assert_eq!(after.brokers(), before.brokers());

    let done = follower.propose(fence_and_elect(0)).await.unwrap();
    assert!(
        matches!(done, Ok(CommandOutput::Batch(ref o)) if o.len() == 2),
        "{done:?}"
    );
    let image = cluster.converged(leader).await;
    assert!(image.broker(1).unwrap().fenced);
    assert_eq!(image.topic("t").unwrap().partitions[0].leader, Some(2));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_proposal_applies_once_and_gets_the_same_result() {
    let cluster = Cluster::start(3, |c| c.resend_every_proposal = true).await;
    let leader = cluster.leader().await;
    let follower = cluster.node(cluster.followers(leader)[0]);
    // Each of these is sent twice; a second application would fail (topic exists, stale
    // epoch) or add a second partition.
    broker_1_and_topic_t(follower).await;
    let applied_before = follower.status().last_applied_index.unwrap();
    assert_eq!(
        follower.propose(add_partition()).await.unwrap(),
        Ok(CommandOutput::Done)
    );
    assert_eq!(partitions_of_t(follower), 2);
    // Both copies reach the log; the second may be applied on this node a little after the
    // first answered the proposal.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let applied_after = follower.status().last_applied_index.unwrap();
        if applied_after >= applied_before + 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the resend was not appended: {applied_before} -> {applied_after}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(partitions_of_t(follower), 2, "the resend applied again");
    let image = cluster.converged(leader).await;
    assert_eq!(image.topic("t").unwrap().partitions.len(), 2);
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_retried_across_a_leader_failover_apply_exactly_once() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let leader = cluster.leader().await;
    broker_1_and_topic_t(cluster.node(leader)).await;

    // Two followers propose continuously while the leader goes away under them.
    let mut proposers = Vec::new();
    for id in cluster.followers(leader) {
        let controller = cluster.node(id).clone();
        proposers.push(tokio::spawn(async move {
            let mut applied = 0usize;
            for _ in 0..40 {
                match controller.propose(add_partition()).await {
                    Ok(Ok(CommandOutput::Done)) => applied += 1,
                    other => panic!("node {id}: {other:?}"),
                }
            }
            applied
        }));
    }
    wait_for("some proposals to apply", || {
        (partitions_of_t(cluster.node(leader)) > 10).then_some(())
    })
    .await;
    cluster.stop(leader).await;
    let mut applied = 0;
    for proposer in proposers {
        applied += tokio::time::timeout(WAIT, proposer).await.unwrap().unwrap();
    }
    assert_eq!(applied, 80);
    let new_leader = cluster.leader().await;
    assert_ne!(new_leader, leader);
    let image = cluster.converged(new_leader).await;
    assert_eq!(
        image.topic("t").unwrap().partitions.len(),
        1 + applied,
        "every acknowledged proposal applied exactly once"
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_gets_the_image_proposes_and_does_not_vote() {
    let mut cluster = Cluster::start_with_learners(3, 1, |c| c.request_timeout_ms = 1500).await;
    let leader = cluster.leader().await;
    let learner = 4;
    wait_for("the learner in the membership", || {
        (cluster.node(leader).status().learners == vec![learner]).then_some(())
    })
    .await;
    registered_epoch(cluster.node(leader), 1).await;
    // A learner's proposal is forwarded to the leader.
    let epoch = registered_epoch(cluster.node(learner), 2).await;
    assert_eq!(
        cluster
            .node(learner)
            .image()
            .borrow()
            .broker(2)
            .unwrap()
            .broker_epoch,
        epoch
    );
    let image = cluster.converged(leader).await;
    assert_eq!(image.brokers().len(), 2);
    let status = cluster.node(learner).status();
    assert_eq!(status.role, ControllerRole::Learner);
    assert_eq!(status.voters, vec![1, 2, 3]);
    assert_eq!(status.learners, vec![learner]);
    assert_eq!(status.leader, Some(leader));

    // With two of three voters gone nothing commits, learner or not.
    let survivor = cluster
        .followers(leader)
        .into_iter()
        .find(|&id| id != learner)
        .unwrap();
    for id in [1, 2, 3] {
        if id != survivor {
            cluster.stop(id).await;
        }
    }
    for proposer in [survivor, learner] {
        let err = cluster
            .node(proposer)
            .propose(register(3))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ControllerError::NoLeader(_)
                    | ControllerError::Timeout(_)
                    | ControllerError::OutcomeUnknown(_)
            ),
            "{err}"
        );
    }
    assert!(cluster.node(learner).image().borrow().broker(3).is_none());
    assert!(cluster.node(survivor).image().borrow().broker(3).is_none());
    cluster.shutdown().await;
}

//! The runtime against a real partition and log in a temp dir, no sockets, with the group
//! coordinator as its state machine. Broker 1 leads `__consumer_offsets`-0; with broker 2 in
//! the ISR the high watermark moves only when the test reports broker 2's fetch, so the tests
//! decide when a write is committed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_controller::PartitionState;
use sluice_coordinator::{Ownership, WriteOutput, OFFSETS_TOPIC};
use sluice_group::coordinator::CommitPartition;
use sluice_group::{Client, GroupConfig, GroupCoordinator, Output, Reply};
use sluice_log::{Log, LogConfig, SystemClock};
use sluice_protocol::error::ErrorCode;
use tokio::sync::watch;

use super::{CoordinatorRuntime, MinInsyncReplicas};
use crate::replicas::Partition;

const GROUP: &str = "g";

struct Fixture {
    _dir: tempfile::TempDir,
    partition: Arc<Partition>,
    runtime: Arc<CoordinatorRuntime<GroupCoordinator>>,
    min_insync: Arc<AtomicUsize>,
    _shutdown: watch::Sender<bool>,
}

fn partition_state(leader: i32, isr: &[i32], epoch: i32) -> PartitionState {
    PartitionState {
        replicas: vec![1, 2],
        isr: isr.to_vec(),
        leader: Some(leader),
        leader_epoch: epoch,
        partition_epoch: epoch,
        adding_replicas: Vec::new(),
        removing_replicas: Vec::new(),
    }
}

/// One partition (every group maps to it), led by broker 1 with `isr`, and a runtime whose
/// writes wait `write_timeout` for their commit, with the shard loaded.
async fn fixture(isr: &[i32], write_timeout: Duration) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = Log::open(dir.path(), LogConfig::default(), Arc::new(SystemClock)).expect("log");
    let partition = Arc::new(Partition::new(
        OFFSETS_TOPIC.into(),
        uuid::Uuid::nil(),
        0,
        Arc::new(log),
        1,
    ));
    partition.update_from_image(&partition_state(1, isr, 1));
    let config = GroupConfig {
        num_partitions: 1,
        initial_rebalance_delay_ms: 60_000,
        ..GroupConfig::default()
    };
    let factory = Arc::new(move |index: i32, ownership: Ownership| {
        let mut c = GroupCoordinator::new_unowned(config.clone());
        if ownership == Ownership::Loading {
            c.begin_loading(index, &mut Output::default());
        }
        c
    });
    let (shutdown_tx, shutdown) = watch::channel(false);
    let runtime = Arc::new(CoordinatorRuntime::new(
        OFFSETS_TOPIC,
        factory,
        write_timeout,
        shutdown,
    ));
    let min_insync = Arc::new(AtomicUsize::new(1));
    let fixture = Fixture {
        _dir: dir,
        partition,
        runtime,
        min_insync,
        _shutdown: shutdown_tx,
    };
    fixture.load().await;
    fixture
}

impl Fixture {
    async fn load(&self) -> usize {
        let min = self.min_insync.clone();
        let min: MinInsyncReplicas = Arc::new(move || min.load(Ordering::Relaxed));
        self.runtime
            .load(self.partition.clone(), min)
            .await
            .expect("loads")
    }

    /// Starts an OffsetCommit of `offset` for `topic`-0 of the group, from outside any
    /// generation; its reply arrives through the handle.
    fn commit(&self, topic: &str, offset: i64) -> tokio::task::JoinHandle<Reply> {
        let runtime = self.runtime.clone();
        let topics: Vec<(String, Vec<CommitPartition>)> =
            vec![(topic.to_string(), vec![(0, offset, -1, None)])];
        tokio::spawn(async move {
            runtime
                .write(0, move |c, token| {
                    let mut out = Output::default();
                    c.commit_offsets(1, token, GROUP, -1, "", None, topics, &mut out);
                    output(out)
                })
                .await
        })
    }

    /// A JoinGroup that parks (the initial rebalance delay is a minute).
    fn join(&self, group: &str) -> tokio::task::JoinHandle<Reply> {
        let runtime = self.runtime.clone();
        let req = kafka_protocol::messages::JoinGroupRequest::default()
            .with_group_id(kafka_protocol::messages::GroupId(group.to_string().into()))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type("consumer".to_string().into())
            .with_protocols(vec![
                kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol::default()
                    .with_name("range".to_string().into())
                    .with_metadata(bytes::Bytes::from_static(b"sub")),
            ]);
        tokio::spawn(async move {
            runtime
                .write(0, move |c, token| {
                    let mut out = Output::default();
                    c.join_group(1, token, 3, &Client::default(), req, &mut out);
                    output(out)
                })
                .await
        })
    }

    /// What OffsetFetch answers for `topic`-0 (-1: nothing committed).
    fn fetched(&self, topic: &str) -> i64 {
        let (code, topics) = self.runtime.read(0, |c| {
            c.fetch_offsets(GROUP, None, Some(vec![(topic.to_string(), vec![0])]))
        });
        assert_eq!(code, ErrorCode::NONE);
        topics[0].1[0].1
    }

    /// Broker 2 fetched everything: the high watermark reaches the log end.
    fn replicate(&self) {
        self.partition
            .record_follower_fetch(2, self.partition.log_end_offset());
    }

    /// Waits (bounded) until the log end reaches `offset`: a write was appended.
    async fn appended_to(&self, offset: i64) {
        poll(|| self.partition.log_end_offset() >= offset).await;
    }
}

fn output(out: Output) -> WriteOutput<Reply> {
    WriteOutput {
        records: out.writes.into_iter().flat_map(|w| w.records).collect(),
        replies: out.replies,
    }
}

/// Polls `done` until it holds, failing after 10 s.
async fn poll(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn reply(handle: tokio::task::JoinHandle<Reply>) -> Reply {
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("answered within 10 s")
        .expect("the request task ends")
}

fn commit_code(reply: &Reply) -> ErrorCode {
    match reply {
        Reply::Commit(topics) => topics[0].1[0].1,
        other => panic!("expected an OffsetCommit reply, got {other:?}"),
    }
}

#[tokio::test]
async fn a_commit_is_answered_and_read_only_once_the_high_watermark_passes_it() {
    let f = fixture(&[1, 2], Duration::from_secs(30)).await;
    let commit = f.commit("t", 5);
    f.appended_to(1).await;
    assert_eq!(f.fetched("t"), -1, "appended, not committed: not read");
    assert!(!commit.is_finished(), "not answered before it is committed");
    f.replicate();
    assert_eq!(commit_code(&reply(commit).await), ErrorCode::NONE);
    assert_eq!(f.fetched("t"), 5);
}

#[tokio::test]
async fn a_refused_append_is_rolled_back_and_answered() {
    let f = fixture(&[1], Duration::from_secs(30)).await;
    assert_eq!(commit_code(&reply(f.commit("t", 5)).await), ErrorCode::NONE);
    f.min_insync.store(2, Ordering::Relaxed);
    let end = f.partition.log_end_offset();
    let refused = reply(f.commit("t", 6)).await;
    assert_eq!(
        commit_code(&refused),
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        "NOT_ENOUGH_REPLICAS, as Kafka's coordinator answers it"
    );
    assert_eq!(f.partition.log_end_offset(), end, "nothing appended");
    assert_eq!(f.fetched("t"), 5);
    // The latest state went back too: a new write builds on offset 5, not 6.
    f.min_insync.store(1, Ordering::Relaxed);
    assert_eq!(commit_code(&reply(f.commit("u", 1)).await), ErrorCode::NONE);
    assert_eq!((f.fetched("t"), f.fetched("u")), (5, 1));
}

#[tokio::test]
async fn a_failed_write_fails_the_writes_after_it() {
    let f = fixture(&[1, 2], Duration::from_secs(30)).await;
    let start = f.partition.log_end_offset();
    let first = f.commit("t", 5);
    f.appended_to(start + 1).await;
    let second = f.commit("u", 6);
    f.appended_to(start + 2).await;
    // Broker 2 takes over with a log that never had them: this replica truncates.
    f.partition.truncate_to(start).expect("truncates");
    f.partition.update_from_image(&partition_state(2, &[2], 2));
    for handle in [first, second] {
        assert_eq!(
            commit_code(&reply(handle).await),
            ErrorCode::NOT_COORDINATOR
        );
    }
    // Leading again: the undone writes are gone from the latest state as well, so the next
    // commit does not bring them back.
    f.partition.update_from_image(&partition_state(1, &[1], 3));
    assert_eq!(commit_code(&reply(f.commit("v", 7)).await), ErrorCode::NONE);
    assert_eq!(
        (f.fetched("t"), f.fetched("u"), f.fetched("v")),
        (-1, -1, 7)
    );
}

#[tokio::test]
async fn unloading_answers_every_waiting_request_not_coordinator() {
    let f = fixture(&[1, 2], Duration::from_secs(30)).await;
    let commit = f.commit("t", 5);
    f.appended_to(1).await;
    let join = f.join("other");
    // The join parked in its group (nothing to write, it waits for more members).
    poll(|| f.runtime.read(0, |c| c.group_count() == 2)).await;
    f.runtime.unload(0);
    assert_eq!(
        commit_code(&reply(commit).await),
        ErrorCode::NOT_COORDINATOR
    );
    match reply(join).await {
        Reply::Join(r) => assert_eq!(ErrorCode(r.error_code), ErrorCode::NOT_COORDINATOR),
        other => panic!("expected a JoinGroup reply, got {other:?}"),
    }
    // Not led here any more: requests are answered NOT_COORDINATOR in their API's shape.
    assert_eq!(
        commit_code(&reply(f.commit("t", 6)).await),
        ErrorCode::NOT_COORDINATOR
    );
    let (code, _) = f.runtime.read(0, |c| c.fetch_offsets(GROUP, None, None));
    assert_eq!(code, ErrorCode::NOT_COORDINATOR);
}

#[tokio::test]
async fn a_write_past_its_deadline_answers_the_timeout_and_commits_later() {
    let f = fixture(&[1, 2], Duration::from_millis(100)).await;
    let commit = f.commit("t", 5);
    assert_eq!(
        commit_code(&reply(commit).await),
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        "REQUEST_TIMED_OUT, as Kafka's coordinator answers it"
    );
    assert_eq!(f.fetched("t"), -1);
    f.replicate();
    poll(|| f.fetched("t") == 5).await;
}

#[tokio::test]
async fn a_load_holds_back_the_records_above_the_high_watermark() {
    let f = fixture(&[1, 2], Duration::from_secs(30)).await;
    let committed = f.commit("t", 5);
    f.appended_to(1).await;
    f.replicate();
    assert_eq!(commit_code(&reply(committed).await), ErrorCode::NONE);
    let pending = f.commit("t", 6);
    f.appended_to(2).await;
    // A reload (a leadership change) while the second commit is not replicated.
    assert_eq!(f.load().await, 2);
    assert_eq!(
        commit_code(&reply(pending).await),
        ErrorCode::NOT_COORDINATOR
    );
    assert_eq!(
        f.fetched("t"),
        5,
        "the record above the high watermark is held back"
    );
    f.replicate();
    poll(|| f.fetched("t") == 6).await;
}

#[tokio::test]
async fn a_write_without_records_behind_a_pending_one_is_answered_with_it() {
    let f = fixture(&[1, 2], Duration::from_secs(30)).await;
    let commit = f.commit("t", 5);
    f.appended_to(1).await;
    let runtime = f.runtime.clone();
    let heartbeat = tokio::spawn(async move {
        let req = kafka_protocol::messages::HeartbeatRequest::default()
            .with_group_id(kafka_protocol::messages::GroupId(GROUP.to_string().into()))
            .with_member_id("nobody".to_string().into())
            .with_generation_id(1);
        runtime
            .write(0, move |c, token| {
                let code = c.heartbeat(1, &req);
                WriteOutput {
                    records: Vec::new(),
                    replies: vec![(token, Reply::Code(code))],
                }
            })
            .await
    });
    // It read the group the pending commit created: it waits in the queue behind it.
    poll(|| f.runtime.queued(0) == 2).await;
    assert!(!heartbeat.is_finished());
    f.replicate();
    assert_eq!(commit_code(&reply(commit).await), ErrorCode::NONE);
    assert_eq!(
        reply(heartbeat).await,
        Reply::Code(ErrorCode::UNKNOWN_MEMBER_ID)
    );
}

//! Several log directories per broker (JBOD, issue 14 point 4): replicas spread over the
//! directories of `log.dirs`, DescribeLogDirs per directory, AlterReplicaLogDirs moving a
//! replica online under produce load without losing an acknowledged record, a failed
//! directory (not the one holding the metadata log) taking only its replicas offline while
//! another replica takes over (KIP-858), and
//! `sluice logdirs describe|move`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{batch, sluice_cli, Client, TestBroker, TestCluster};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterReplicaLogDirsRequest, BrokerId, CreateTopicsRequest, DescribeLogDirsRequest,
    DescribeLogDirsResponse, FetchRequest, MetadataRequest, MetadataResponse, ProduceRequest,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};

const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const REPLICA_NOT_AVAILABLE: i16 = 9;
const KAFKA_STORAGE_ERROR: i16 = 56;
const LOG_DIR_NOT_FOUND: i16 = 57;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Retries `f` every 50 ms until it returns `Some`, for at most `secs` seconds.
fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_topic(c: &mut Client, topic: &str, partitions: i32, rf: i16, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string(k.to_string()))
                .with_value(Some(StrBytes::from_string(v.to_string())))
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
            .with_configs(configs)]);
    let response = c.send(&request, 7);
    assert_eq!(response.topics[0].error_code, 0, "{response:?}");
}

fn metadata(c: &mut Client) -> MetadataResponse {
    c.send(&MetadataRequest::default().with_topics(None), 12)
}

/// (leader, isr) per partition of `topic`, as `c`'s broker sees them.
fn leaders_and_isrs(c: &mut Client, topic: &str) -> Vec<(i32, Vec<i32>)> {
    let m = metadata(c);
    let Some(t) = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some(topic))
    else {
        return Vec::new();
    };
    let mut ps: Vec<_> = t
        .partitions
        .iter()
        .map(|p| {
            let mut isr: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
            isr.sort();
            (p.partition_index, (p.leader_id.0, isr))
        })
        .collect();
    ps.sort_by_key(|(i, _)| *i);
    ps.into_iter().map(|(_, s)| s).collect()
}

/// Produces one batch of `values` with acks=all: (error code, base offset).
fn produce(c: &mut Client, topic: &str, partition: i32, values: &[&[u8]]) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(values, Compression::None)))])]);
    let response = c.send(&request, 9);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// Every record of `topic`-`partition` from offset 0 up to the high watermark: (offset,
/// value), or the fetch's error code.
fn read_all(c: &mut Client, topic: &str, partition: i32) -> Result<Vec<(i64, Vec<u8>)>, i16> {
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let request = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_max_bytes(4 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(4 << 20)])]);
        let response = c.send(&request, 12);
        let p = &response.responses[0].partitions[0];
        if p.error_code != 0 {
            return Err(p.error_code);
        }
        let mut bytes = p.records.clone().unwrap_or_default();
        let before = records.len();
        while !bytes.is_empty() {
            let set = RecordBatchDecoder::decode(&mut bytes).expect("batches decode");
            for r in set.records {
                if r.offset >= offset {
                    records.push((r.offset, r.value.map(|v| v.to_vec()).unwrap_or_default()));
                }
            }
        }
        match records.last() {
            Some((last, _)) if records.len() > before => offset = last + 1,
            _ => return Ok(records),
        }
        if offset >= p.high_watermark {
            return Ok(records);
        }
    }
}

fn describe_log_dirs(c: &mut Client) -> DescribeLogDirsResponse {
    c.send(&DescribeLogDirsRequest::default().with_topics(None), 4)
}

/// The directory (absolute path) holding the current replica of `topic`-`partition`, and
/// whether a copy of it is moving somewhere.
fn replica_dir(c: &mut Client, topic: &str, partition: i32) -> (Option<String>, bool) {
    let response = describe_log_dirs(c);
    let mut current = None;
    let mut moving = false;
    for dir in &response.results {
        for t in dir.topics.iter().filter(|t| t.name.as_str() == topic) {
            for p in t
                .partitions
                .iter()
                .filter(|p| p.partition_index == partition)
            {
                if p.is_future_key {
                    moving = true;
                } else {
                    current = Some(dir.log_dir.to_string());
                }
            }
        }
    }
    (current, moving)
}

fn alter_replica_log_dir(c: &mut Client, topic: &str, partition: i32, dir: &str) -> i16 {
    let request =
        AlterReplicaLogDirsRequest::default().with_dirs(vec![AlterReplicaLogDir::default()
            .with_path(StrBytes::from_string(dir.to_string()))
            .with_topics(vec![AlterReplicaLogDirTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![partition])])]);
    let response = c.send(&request, 2);
    response.results[0].partitions[0].error_code
}

/// Partition directories (`<topic>-<n>`) in `dir`.
fn partition_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read log dir")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.rsplit_once('-')
                .is_some_and(|(_, i)| i.parse::<i32>().is_ok())
        })
        .collect();
    names.sort();
    names
}

fn directory_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("meta.properties")).expect("meta.properties");
    text.lines()
        .find_map(|l| l.strip_prefix("directory.id="))
        .expect("a directory.id")
        .to_string()
}

/// A batch the broker acknowledged: its base offset and its records' values.
type AckedBatch = (i64, Vec<Vec<u8>>);

fn two_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("temporary directory");
    let a = root.path().join("a");
    let b = root.path().join("b");
    (root, a, b)
}

fn abs(p: &Path) -> String {
    std::path::absolute(p)
        .expect("absolute")
        .display()
        .to_string()
}

#[test]
fn partitions_spread_over_two_log_dirs_and_each_is_described() {
    let (_root, a, b) = two_dirs();
    let log_dirs = format!("{},{}", a.display(), b.display());
    let mut broker = TestBroker::start(&[("log.dirs", &log_dirs)]);
    let mut c = broker.connect();
    create_topic(&mut c, "spread", 4, 1, &[]);
    let spread = |d: &Path| {
        partition_dirs(d)
            .into_iter()
            .filter(|n| n.starts_with("spread-"))
            .count()
    };
    eventually("the replicas are opened", 10, || {
        (spread(&a) + spread(&b) == 4).then_some(())
    });
    // The fewest-partitions rule alternates while the directories are level.
    let (in_a, in_b) = (partition_dirs(&a).len(), partition_dirs(&b).len());
    assert!(in_a.abs_diff(in_b) <= 1, "{in_a} vs {in_b}");
    assert!(spread(&a) >= 1 && spread(&b) >= 1);
    // Each directory is formatted with its own id (KIP-858) and the same cluster.
    assert_ne!(directory_id(&a), directory_id(&b));

    let response = describe_log_dirs(&mut c);
    assert_eq!(response.error_code, 0);
    let paths: Vec<String> = response
        .results
        .iter()
        .map(|r| r.log_dir.to_string())
        .collect();
    assert_eq!(paths, [abs(&a), abs(&b)]);
    let mut described = 0;
    for result in &response.results {
        assert_eq!(result.error_code, 0);
        assert!(
            result.total_bytes > 0 && result.usable_bytes >= 0,
            "{result:?}"
        );
        assert!(result.usable_bytes <= result.total_bytes);
        for t in result.topics.iter().filter(|t| t.name.as_str() == "spread") {
            described += t.partitions.len();
        }
    }
    assert_eq!(described, 4);

    // Data written lands in each directory and is found there again after a restart.
    for p in 0..4 {
        let value = format!("v{p}");
        eventually("the partition served", 10, || {
            (produce(&mut c, "spread", p, &[value.as_bytes()]).0 == 0).then_some(())
        });
    }
    let before = (partition_dirs(&a), partition_dirs(&b));
    broker.restart();
    let mut c = broker.connect();
    for p in 0..4 {
        let records = eventually("the partition serves after the restart", 10, || {
            read_all(&mut c, "spread", p).ok()
        });
        assert_eq!(records, [(0, format!("v{p}").into_bytes())]);
    }
    assert_eq!((partition_dirs(&a), partition_dirs(&b)), before);
}

#[test]
fn a_replica_moves_between_dirs_under_produce_load_and_loses_nothing() {
    let (_root, a, b) = two_dirs();
    let log_dirs = format!("{},{}", a.display(), b.display());
    let mut broker = TestBroker::start(&[("log.dirs", &log_dirs)]);
    let mut c = broker.connect();
    // Small segments: the move copies closed segments and the active one's tail.
    create_topic(&mut c, "moving", 1, 1, &[("segment.bytes", "1048576")]);
    let (from, _) = eventually("the replica is placed", 10, || {
        let (dir, moving) = replica_dir(&mut c, "moving", 0);
        dir.map(|d| (d, moving))
    });
    let to = if from == abs(&a) { abs(&b) } else { abs(&a) };

    // Bad requests first: Kafka's answers.
    assert_eq!(
        alter_replica_log_dir(&mut c, "moving", 0, "/nonexistent/dir"),
        LOG_DIR_NOT_FOUND
    );
    assert_eq!(
        alter_replica_log_dir(&mut c, "moving", 7, &to),
        REPLICA_NOT_AVAILABLE
    );
    assert_eq!(
        alter_replica_log_dir(&mut c, "no-such-topic", 0, &to),
        REPLICA_NOT_AVAILABLE
    );
    // Already there: nothing to do.
    assert_eq!(alter_replica_log_dir(&mut c, "moving", 0, &from), 0);

    // A producer that keeps writing (acks=all) and records what was acknowledged.
    let acked: Arc<Mutex<Vec<AckedBatch>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (acked, stop, addr) = (acked.clone(), stop.clone(), broker.addr());
        std::thread::spawn(move || {
            let mut c = Client::connect(&addr);
            let mut n = 0u64;
            let mut failures = 0;
            while !stop.load(Ordering::Acquire) {
                let values: Vec<Vec<u8>> = (0..10)
                    .map(|i| {
                        let mut v = format!("record-{n}-{i}-").into_bytes();
                        v.resize(1000, b'x');
                        v
                    })
                    .collect();
                n += 1;
                let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
                match produce(&mut c, "moving", 0, &refs) {
                    (0, base) => acked.lock().expect("lock").push((base, values)),
                    _ => failures += 1,
                }
            }
            failures
        })
    };
    let acked_count = || acked.lock().expect("lock").len();
    eventually("3 MB written before the move", 60, || {
        (acked_count() >= 300).then_some(())
    });
    assert_eq!(alter_replica_log_dir(&mut c, "moving", 0, &to), 0);
    eventually("the replica is in its new directory", 60, || {
        let (dir, moving) = replica_dir(&mut c, "moving", 0);
        (dir.as_deref() == Some(to.as_str()) && !moving).then_some(())
    });
    let after_move = acked_count();
    eventually("more written after the move", 60, || {
        (acked_count() >= after_move + 50).then_some(())
    });
    stop.store(true, Ordering::Release);
    let failures = producer.join().expect("producer thread");
    assert_eq!(failures, 0, "a produce failed during the move");

    let check = |c: &mut Client| {
        let records: BTreeMap<i64, Vec<u8>> = read_all(c, "moving", 0)
            .expect("the partition serves")
            .into_iter()
            .collect();
        let acked = acked.lock().expect("lock");
        let mut expected_offset = 0;
        for (base, values) in acked.iter() {
            assert_eq!(*base, expected_offset, "acknowledged batches in order");
            for (i, v) in values.iter().enumerate() {
                let offset = base + i as i64;
                assert_eq!(records.get(&offset), Some(v), "offset {offset}");
            }
            expected_offset = base + values.len() as i64;
        }
        assert_eq!(records.len() as i64, expected_offset);
    };
    check(&mut c);
    // The old directory no longer holds it; a restart finds it in the new one.
    let old = if to == abs(&a) { &b } else { &a };
    assert!(!partition_dirs(old).contains(&"moving-0".to_string()));
    broker.restart();
    let mut c = broker.connect();
    eventually("the moved replica serves after a restart", 10, || {
        read_all(&mut c, "moving", 0).ok()
    });
    assert_eq!(replica_dir(&mut c, "moving", 0), (Some(to.clone()), false));
    check(&mut c);
}

#[test]
fn a_failed_log_dir_takes_only_its_replicas_offline_and_leadership_moves() {
    let cluster = TestCluster::start_with(
        3,
        &[
            ("log.dirs", "{node_dir}/a,{node_dir}/b"),
            ("replica.high.watermark.checkpoint.interval.ms", "100"),
        ],
    );
    let mut c1 = cluster.connect(1);
    create_topic(&mut c1, "jbod", 6, 3, &[]);
    eventually("every partition has three in-sync replicas", 30, || {
        let state = leaders_and_isrs(&mut c1, "jbod");
        (state.len() == 6 && state.iter().all(|(l, isr)| *l >= 0 && isr.len() == 3)).then_some(())
    });
    for p in 0..6 {
        let leader = leaders_and_isrs(&mut c1, "jbod")[p as usize].0;
        let mut c = cluster.connect(leader);
        // The leader serves once it applied the metadata holding the topic.
        eventually("the leader serving", 10, || {
            (produce(&mut c, "jbod", p, &[b"before"]).0 == 0).then_some(())
        });
    }

    // Node 2's second directory fails (the first holds the metadata log, whose loss stops a
    // node in Kafka too). First a partition node 2 leads is moved there, online.
    let mut c2 = cluster.connect(2);
    let state = leaders_and_isrs(&mut c1, "jbod");
    let node2 = &cluster.nodes[1].dir;
    let (dir_a, dir_b) = (abs(&node2.join("a")), abs(&node2.join("b")));
    let led = state
        .iter()
        .position(|(leader, _)| *leader == 2)
        .expect("node 2 leads a partition") as i32;
    assert_eq!(alter_replica_log_dir(&mut c2, "jbod", led, &dir_b), 0);
    eventually("the led replica in node 2's second directory", 30, || {
        let (dir, moving) = replica_dir(&mut c2, "jbod", led);
        (dir.as_deref() == Some(dir_b.as_str()) && !moving).then_some(())
    });
    let dirs = describe_log_dirs(&mut c2);
    let holds = |dir: &str| -> Vec<i32> {
        let result = dirs
            .results
            .iter()
            .find(|r| r.log_dir.as_str() == dir)
            .expect("the directory");
        result
            .topics
            .iter()
            .filter(|t| t.name.as_str() == "jbod")
            .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
            .collect()
    };
    let (failing, surviving) = (dir_b, dir_a);
    let offline: Vec<i32> = holds(&failing);
    let online: Vec<i32> = holds(&surviving);
    assert!(
        offline.contains(&led) && !online.is_empty(),
        "{offline:?} {online:?}"
    );

    // The disk "fails": the directory is gone and a regular file is in its place (works as
    // root too, unlike taking permissions away).
    let failing_path = PathBuf::from(&failing);
    std::fs::rename(&failing_path, failing_path.with_extension("gone")).expect("rename");
    std::fs::write(&failing_path, b"not a directory").expect("write a file in its place");

    eventually("node 2 reports the directory offline", 30, || {
        let dirs = describe_log_dirs(&mut c2);
        let code = |d: &str| {
            dirs.results
                .iter()
                .find(|r| r.log_dir.as_str() == d)
                .map(|r| r.error_code)
        };
        (code(&failing) == Some(KAFKA_STORAGE_ERROR) && code(&surviving) == Some(0)).then_some(())
    });
    eventually(
        "the offline replicas leave their ISRs and leaderships",
        30,
        || {
            let state = leaders_and_isrs(&mut c1, "jbod");
            let moved = offline
                .iter()
                .all(|p| state[*p as usize].0 != 2 && !state[*p as usize].1.contains(&2));
            let kept = online
                .iter()
                .all(|p| state[*p as usize].1.contains(&2) && state[*p as usize].0 >= 0);
            (moved && kept).then_some(())
        },
    );
    // Metadata names node 2's replicas there offline.
    let m = metadata(&mut c1);
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.as_str()) == Some("jbod"))
        .expect("the topic");
    for p in &t.partitions {
        let listed = p.offline_replicas.iter().any(|b| b.0 == 2);
        assert_eq!(listed, offline.contains(&p.partition_index), "{p:?}");
    }
    // Node 2 refuses the offline replicas' requests.
    for p in &offline {
        let (code, _) = produce(&mut c2, "jbod", *p, &[b"refused"]);
        assert!(
            code == KAFKA_STORAGE_ERROR || code == NOT_LEADER_OR_FOLLOWER,
            "partition {p}: {code}"
        );
    }
    // Every partition still takes writes with acks=all at its leader, and serves them.
    let state = leaders_and_isrs(&mut c1, "jbod");
    for p in 0..6 {
        let leader = state[p as usize].0;
        let mut c = cluster.connect(leader);
        let (code, base) = produce(&mut c, "jbod", p, &[b"after"]);
        assert_eq!(code, 0, "partition {p} at leader {leader}");
        let records = read_all(&mut c, "jbod", p).expect("reads");
        assert_eq!(
            records,
            [(0, b"before".to_vec()), (base, b"after".to_vec())],
            "partition {p}"
        );
    }
}

#[test]
fn logdirs_cli_describes_and_moves() {
    let (_root, a, b) = two_dirs();
    let log_dirs = format!("{},{}", a.display(), b.display());
    let broker = TestBroker::start(&[("log.dirs", &log_dirs)]);
    let mut c = broker.connect();
    create_topic(&mut c, "cli", 1, 1, &[]);
    eventually("the topic served", 10, || {
        (produce(&mut c, "cli", 0, &[b"one", b"two"]).0 == 0).then_some(())
    });
    let addr = broker.addr();
    let described = sluice_cli(&["logdirs", "describe", "--topic", "cli", "-b", &addr]);
    assert_eq!(described.code, 0, "{}", described.stderr);
    assert!(described.stdout.contains(&abs(&a)), "{}", described.stdout);
    assert!(described.stdout.contains(&abs(&b)), "{}", described.stdout);
    let (from, _) = replica_dir(&mut c, "cli", 0);
    let from = from.expect("placed");
    let to = if from == abs(&a) { abs(&b) } else { abs(&a) };
    let moved = sluice_cli(&[
        "logdirs",
        "move",
        "--topic",
        "cli",
        "--partition",
        "0",
        "--broker",
        "1",
        "--dir",
        &to,
        "-b",
        &addr,
    ]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert_eq!(
        moved.stdout.trim(),
        format!("moved cli-0 on broker 1 to {to}")
    );
    assert_eq!(replica_dir(&mut c, "cli", 0), (Some(to.clone()), false));
    assert_eq!(
        read_all(&mut c, "cli", 0).expect("reads").len(),
        2,
        "the records moved with the replica"
    );

    let json = sluice_cli(&[
        "logdirs", "describe", "--broker", "1", "--output", "json", "-b", &addr,
    ]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let dirs = value.as_array().expect("an array of directories");
    assert_eq!(dirs.len(), 2);
    assert!(dirs.iter().all(|d| d["error"] == "NONE"));

    // Bad input: Kafka's errors, one line each.
    let unknown = sluice_cli(&[
        "logdirs",
        "move",
        "--topic",
        "cli",
        "--partition",
        "0",
        "--broker",
        "1",
        "--dir",
        "/nowhere",
        "-b",
        &addr,
    ]);
    assert!(
        unknown.error_line_alone().contains("LOG_DIR_NOT_FOUND"),
        "{}",
        unknown.stderr
    );
    let no_broker = sluice_cli(&["logdirs", "describe", "--broker", "9", "-b", &addr]);
    assert!(no_broker
        .error_line_alone()
        .contains("broker 9 is not in the cluster"));
    let no_topic = sluice_cli(&["logdirs", "describe", "--topic", "nope", "-b", &addr]);
    assert!(no_topic
        .error_line_alone()
        .contains("topic nope does not exist"));
}

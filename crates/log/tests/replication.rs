//! Follower appends (`Log::append_as_follower`): the leader's batches stored byte for byte,
//! the offset checks, producer state carried over, leader and follower logs kept identical
//! across rolls and compaction, and a diverged follower repaired with the leader epoch cache
//! (KIP-101/KIP-279).
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use common::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::{AppendOrigin, Log, LogConfig, LogError};
use sluice_protocol::batch::{self, BatchError};
use sluice_protocol::error::ErrorCode;

/// A batch of `n` records from producer `pid` (-1: none) at `epoch`, sequences `seq..seq+n`.
fn pbatch(pid: i64, epoch: i16, seq: i32, n: usize, transactional: bool, key: &str) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if pid < 0 { -1 } else { seq + i as i32 },
            timestamp: 1_000,
            key: Some(Bytes::from(format!("{key}{}", i % 3))),
            value: Some(Bytes::from(vec![b'v'; 60])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

fn open(dir: &Path, config: LogConfig, now: i64) -> Log {
    let (_c, clock) = clock(now);
    Log::open(dir, config, clock).unwrap()
}

/// Every batch from `from` to the end, as the log returns them, one read per segment.
fn read_from(log: &Log, from: i64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = from;
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
        if r.records.is_empty() {
            break;
        }
        offset = batch_ranges(&r.records).last().unwrap().1 + 1;
        out.extend_from_slice(&r.records);
    }
    out
}

/// Fetches from `leader` at the follower's log end offset until it has everything, in reads
/// of at most `max_bytes`, as a replica fetcher does. Returns the number of appends.
fn replicate(leader: &Log, follower: &Log, max_bytes: usize) -> usize {
    let mut appends = 0;
    while follower.log_end_offset() < leader.log_end_offset() {
        let r = leader
            .read(follower.log_end_offset(), max_bytes, i64::MAX, true)
            .unwrap();
        assert!(!r.records.is_empty());
        let info = follower.append_as_follower(&r.records).unwrap();
        assert_eq!(Some(info.first_offset), r.first_batch_offset);
        appends += 1;
    }
    appends
}

/// Both logs hold the same batches and the same state derived from them.
fn assert_same(leader: &Log, follower: &Log) {
    assert_same_data(leader, follower);
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
}

/// [`assert_same`] but for the leader epoch cache.
fn assert_same_data(leader: &Log, follower: &Log) {
    assert_eq!(follower.log_start_offset(), leader.log_start_offset());
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
    let start = leader.log_start_offset();
    assert_eq!(read_from(follower, start), read_from(leader, start));
    assert_eq!(follower.producers(), leader.producers());
    assert_eq!(
        follower.first_unstable_offset(),
        leader.first_unstable_offset()
    );
    let end = leader.log_end_offset();
    assert_eq!(
        follower.aborted_transactions(0, end),
        leader.aborted_transactions(0, end)
    );
}

/// `bytes` with the base offset and leader epoch a leader would stamp (neither is under the
/// CRC).
fn stamped(bytes: &Bytes, base_offset: i64, leader_epoch: i32) -> Bytes {
    let mut copy = bytes.to_vec();
    batch::set_base_offset(&mut copy, base_offset);
    batch::set_partition_leader_epoch(&mut copy, leader_epoch);
    Bytes::from(copy)
}

#[test]
fn follower_stores_the_leaders_batches_unchanged() {
    // LogAppendTime on both sides: the follower keeps the leader's stamp, not its own clock.
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..LogConfig::default()
    };
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), config.clone(), 5_000);
    let follower = open(fd.path(), config, 9_000);
    leader.append(&batch(3, 100, 20), 1).unwrap();
    leader.append(&batch(1, 200, 20), 1).unwrap();
    let mut two = batch(2, 300, 20).to_vec();
    two.extend_from_slice(&batch(4, 400, 20));
    leader.append(&Bytes::from(two), 4).unwrap();
    leader.append(&batch(1, -1, 20), -1).unwrap();

    let fetched = leader.read(0, 1 << 20, i64::MAX, true).unwrap().records;
    let info = follower.append_as_follower(&fetched).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (0, 10));
    assert_eq!((info.max_timestamp, info.log_append_time), (5_000, -1));
    assert_eq!((info.bytes, info.duplicate), (fetched.len(), false));
    assert_eq!(follower.log_end_offset(), 11);
    assert_eq!(read_from(&follower, 0), fetched.to_vec());
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (4, 4)]);
    assert_eq!(follower.epoch_entries(), leader.epoch_entries());
    // Reads from inside the log and timestamp lookups agree too.
    for offset in [0, 2, 3, 5, 9, 10] {
        assert_eq!(
            follower.read(offset, 1, i64::MAX, true).unwrap(),
            leader.read(offset, 1, i64::MAX, true).unwrap()
        );
    }
    assert_eq!(
        follower.offset_for_timestamp(5_000).unwrap(),
        leader.offset_for_timestamp(5_000).unwrap()
    );

    // `append_with_origin` with the Replication origin is the same append.
    leader.append(&batch(2, 500, 20), 4).unwrap();
    let r = leader.read(11, 1 << 20, i64::MAX, true).unwrap();
    let info = follower
        .append_with_origin(&r.records, 99, AppendOrigin::Replication)
        .unwrap();
    assert_eq!((info.first_offset, info.last_offset), (11, 12));
    assert_same(&leader, &follower);

    // A crash and a clean restart keep it all.
    drop(follower);
    let follower = open(fd.path(), LogConfig::default(), 9_000);
    assert_same(&leader, &follower);
    follower.close().unwrap();
    drop(follower);
    let follower = open(fd.path(), LogConfig::default(), 9_000);
    assert_same(&leader, &follower);
}

#[test]
fn follower_refuses_overlaps_disorder_and_damage() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), LogConfig::default(), 1_000);
    let follower = open(fd.path(), LogConfig::default(), 1_000);
    for _ in 0..4 {
        leader.append(&batch(2, 100, 20), 2).unwrap();
    }
    let all = leader.read(0, 1 << 20, i64::MAX, true).unwrap().records;
    let first_two = leader.read(0, 1, i64::MAX, true).unwrap().records;
    follower.append_as_follower(&first_two).unwrap();
    assert_eq!(follower.log_end_offset(), 2);
    let size = follower.size_bytes();
    let unchanged = |follower: &Log| {
        assert_eq!(follower.log_end_offset(), 2);
        assert_eq!(follower.size_bytes(), size);
        assert_eq!(follower.epoch_entries(), vec![(2, 0)]);
    };

    // Overlap: the fetched data starts below the log end offset.
    let err = follower.append_as_follower(&all).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnexpectedAppendOffset {
                log_end_offset: 2,
                first_offset: 0,
                last_offset: 1
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.error_code(), ErrorCode::UNKNOWN_SERVER_ERROR);
    unchanged(&follower);

    // Batches out of order inside one append: nothing of it is written.
    let rest = leader.read(2, 1 << 20, i64::MAX, true).unwrap().records;
    let mut disorder = rest.to_vec();
    disorder.extend_from_slice(&stamped(&batch(1, 100, 20), 7, 2));
    let err = follower
        .append_as_follower(&Bytes::from(disorder))
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::OffsetsOutOfOrder {
                base_offset: 7,
                previous_last_offset: 7,
                ..
            }
        ),
        "{err:?}"
    );
    unchanged(&follower);

    // Damage: a flipped record byte, another magic, a torn batch, nothing at all.
    let mut flipped = rest.to_vec();
    flipped[70] ^= 0x10;
    assert!(matches!(
        follower.append_as_follower(&Bytes::from(flipped)),
        Err(LogError::InvalidRecords(BatchError::CrcMismatch { .. }))
    ));
    let mut magic = rest.to_vec();
    magic[16] = 1;
    assert!(matches!(
        follower.append_as_follower(&Bytes::from(magic)),
        Err(LogError::InvalidRecords(
            BatchError::UnsupportedMagic { .. }
        ))
    ));
    assert!(matches!(
        follower.append_as_follower(&rest.slice(..rest.len() - 1)),
        Err(LogError::InvalidRecords(BatchError::Truncated { .. }))
    ));
    assert!(matches!(
        follower.append_as_follower(&Bytes::new()),
        Err(LogError::InvalidRecords(BatchError::Empty))
    ));
    unchanged(&follower);

    // A gap is not an error (Kafka's rule: a compacted leader log has them); the log end
    // offset follows the last batch.
    follower.append_as_follower(&rest).unwrap();
    let gapped = stamped(&batch(3, 100, 20), 20, 3);
    let info = follower.append_as_follower(&gapped).unwrap();
    assert_eq!((info.first_offset, info.last_offset), (20, 22));
    assert_eq!(follower.log_end_offset(), 23);
    assert_eq!(follower.epoch_entries(), vec![(2, 0), (3, 20)]);
    let r = follower.read(8, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&r.records), vec![(20, 22)]);

    follower.close().unwrap();
    assert!(matches!(
        follower.append_as_follower(&gapped),
        Err(LogError::Closed)
    ));
}

#[test]
fn follower_carries_idempotent_and_transactional_state() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), small_config(), 1_000);
    let follower = open(fd.path(), small_config(), 1_000);
    // Producer 1 idempotent, 2 aborts a transaction, 3 commits one, 4 leaves one open.
    leader.append(&pbatch(1, 0, 0, 3, false, "a"), 1).unwrap();
    leader.append(&pbatch(2, 0, 0, 2, true, "b"), 1).unwrap();
    leader.append(&pbatch(3, 0, 0, 2, true, "c"), 1).unwrap();
    leader.append(&pbatch(1, 0, 3, 2, false, "a"), 1).unwrap();
    leader.append_control(2, 0, false, 7, 1).unwrap();
    leader.append(&pbatch(-1, -1, 0, 2, false, "n"), 2).unwrap();
    leader.append(&pbatch(4, 3, 0, 1, true, "d"), 2).unwrap();
    leader.append(&pbatch(3, 0, 2, 1, true, "c"), 2).unwrap();
    leader.append_control(3, 0, true, 7, 2).unwrap();
    for seq in (5..100).step_by(5) {
        leader.append(&pbatch(1, 0, seq, 5, false, "a"), 2).unwrap();
    }
    assert!(leader.segment_count() > 1);
    assert!(leader.first_unstable_offset().is_some());
    assert_eq!(
        leader
            .aborted_transactions(0, leader.log_end_offset())
            .len(),
        1
    );

    // Small fetches: the markers and the open transaction arrive in separate appends.
    assert!(replicate(&leader, &follower, 300) > 4);
    assert_same(&leader, &follower);
    let aborted = follower.aborted_transactions(0, follower.log_end_offset());
    assert_eq!(aborted, vec![(2, 3)]);
    // Replayed on open (crash, no snapshot at the end) to the same state.
    drop(follower);
    let follower = open(fd.path(), small_config(), 1_000);
    assert_same(&leader, &follower);

    // The follower takes over: it knows every producer's sequence and open transaction.
    let end = follower.log_end_offset();
    let dup = follower
        .append(&pbatch(1, 0, 95, 5, false, "a"), 3)
        .unwrap();
    assert!(dup.duplicate);
    assert_eq!(dup.last_offset, end - 1);
    assert!(matches!(
        follower.append(&pbatch(1, 0, 101, 1, false, "a"), 3),
        Err(LogError::OutOfOrderSequence {
            expected_sequence: 100,
            ..
        })
    ));
    assert_eq!(
        follower
            .append(&pbatch(1, 0, 100, 1, false, "a"), 3)
            .unwrap()
            .first_offset,
        end
    );
    assert!(matches!(
        follower.append(&pbatch(4, 3, 1, 1, false, "d"), 3),
        Err(LogError::InvalidTxnState { .. })
    ));
    follower.append_control(4, 3, false, 8, 3).unwrap();
    assert_eq!(follower.first_unstable_offset(), None);
}

#[test]
fn leader_and_followers_stay_identical_across_rolls() {
    let (ld, od, md) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let config = small_config();
    let leader = open(ld.path(), config.clone(), 1_000);
    // One follower fetches a batch at a time (as the leader appended them), one fetches more.
    let one = open(od.path(), config.clone(), 1_000);
    let many = open(md.path(), config, 1_000);
    let mut fetches = 0;
    for round in 0..6 {
        for i in 0..25 {
            let n = 1 + (i + round) % 4;
            leader
                .append(&batch(n, 1_000 + i as i64, 40), round as i32)
                .unwrap();
        }
        replicate(&leader, &one, 1);
        fetches += replicate(&leader, &many, 700 + round * 300);
        assert_same(&leader, &one);
        assert_same(&leader, &many);
    }
    assert!(fetches > 12);
    assert!(leader.segment_count() >= 5);
    assert_eq!(leader.epoch_entries().len(), 6);

    // Fed the leader's appends one by one, the follower rolls where the leader did and its
    // files are the leader's, byte for byte. (Fed several batches per append, it rolls per
    // append, as Kafka's followers do: same data, possibly other segment boundaries.)
    assert_eq!(one.segment_base_offsets(), leader.segment_base_offsets());
    for base in leader.segment_base_offsets() {
        for suffix in ["log", "index", "timeindex"] {
            let name = format!("{base:020}.{suffix}");
            assert_eq!(
                fs::read(od.path().join(&name)).unwrap(),
                fs::read(ld.path().join(&name)).unwrap(),
                "{name}"
            );
        }
    }
    for dir in [od.path(), md.path()] {
        assert_eq!(
            fs::read_to_string(dir.join("leader-epoch-checkpoint")).unwrap(),
            fs::read_to_string(ld.path().join("leader-epoch-checkpoint")).unwrap()
        );
    }
    for segment in many.segment_base_offsets() {
        let size = fs::metadata(md.path().join(format!("{segment:020}.log")))
            .unwrap()
            .len();
        assert!(size <= 4096, "{size}");
    }
}

#[test]
fn follower_replicates_a_compacted_leader() {
    let config = LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        file_delete_delay_ms: 0,
        compact: true,
        delete: false,
        ..LogConfig::default()
    };
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), config.clone(), 1_000);
    let follower = open(fd.path(), config, 1_000);
    // Three keys per epoch over and over: the cleaner leaves few records, and whole batches
    // go, leaving gaps between the batches a follower fetches.
    for i in 0..60 {
        let epoch = i / 20;
        let key = format!("e{epoch}k");
        leader
            .append(&pbatch(-1, -1, 0, 3, false, &key), epoch)
            .unwrap();
    }
    let cleaned = leader.clean(leader.log_end_offset()).unwrap();
    assert!(cleaned.records_removed > 0);
    let first = leader.read(0, 1, i64::MAX, true).unwrap();
    assert!(first.first_batch_offset.unwrap() > 0);
    replicate(&leader, &follower, 1 << 20);
    assert_same_data(&leader, &follower);
    // The follower knows each epoch from its first batch that survived cleaning.
    let (ours, theirs) = (follower.epoch_entries(), leader.epoch_entries());
    assert_eq!(ours.len(), 3);
    for ((epoch, start), (leader_epoch, leader_start)) in ours.into_iter().zip(theirs) {
        assert_eq!(epoch, leader_epoch);
        assert!(start >= leader_start);
        let r = follower.read(start, 1, i64::MAX, true).unwrap();
        let h = batch::parse_header(&r.records).unwrap();
        assert_eq!((h.base_offset, h.partition_leader_epoch), (start, epoch));
    }
}

#[test]
fn diverged_follower_truncates_to_the_leaders_epoch_end() {
    let (ad, bd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(ad.path(), small_config(), 1_000);
    let b = open(bd.path(), small_config(), 1_000);
    // A leads epoch 1; B replicates the first 10 offsets.
    for i in 0..5 {
        a.append(&pbatch(-1, -1, 0, 2, false, &format!("x{i}")), 1)
            .unwrap();
    }
    replicate(&a, &b, 1 << 20);
    // A writes more in epoch 1 that B never gets, including a transaction.
    a.append(&pbatch(5, 0, 0, 2, true, "t"), 1).unwrap();
    a.append(&pbatch(-1, -1, 0, 3, false, "y"), 1).unwrap();
    assert_eq!(a.log_end_offset(), 15);
    // B becomes leader in epoch 2 and writes from 10 on.
    for i in 0..6 {
        b.append(&pbatch(-1, -1, 0, 2, false, &format!("z{i}")), 2)
            .unwrap();
    }
    assert_eq!(b.epoch_entries(), vec![(1, 0), (2, 10)]);

    // A, now a follower, asks for the end of its latest epoch and truncates there.
    let asked = a.latest_epoch().unwrap();
    assert_eq!(asked, 1);
    let (leader_epoch, leader_end) = b.end_offset_for_epoch(asked).unwrap();
    assert_eq!((leader_epoch, leader_end), (1, 10));
    let (own_epoch, own_end) = a.end_offset_for_epoch(leader_epoch).unwrap();
    assert_eq!((own_epoch, own_end), (1, 15));
    a.truncate_to(leader_end.min(own_end)).unwrap();
    assert_eq!(a.log_end_offset(), 10);
    assert_eq!(a.first_unstable_offset(), None);
    replicate(&b, &a, 1 << 20);
    assert_same(&b, &a);
    assert_eq!(a.epoch_entries(), vec![(1, 0), (2, 10)]);
}

/// Kafka's follower truncation loop (KIP-279): ask the leader for the end of the follower's
/// latest epoch; when the leader answers with an epoch the follower does not have, truncate to
/// the end of the follower's epoch below it and ask again. Returns the truncation offsets.
fn truncate_like_a_follower(leader: &Log, follower: &Log) -> Vec<i64> {
    let mut cuts = Vec::new();
    loop {
        let asked = follower.latest_epoch().unwrap();
        let (leader_epoch, leader_end) = leader.end_offset_for_epoch(asked).unwrap();
        let (own_epoch, own_end) = follower.end_offset_for_epoch(leader_epoch).unwrap();
        if own_epoch == leader_epoch {
            let cut = leader_end.min(own_end).min(follower.log_end_offset());
            follower.truncate_to(cut).unwrap();
            cuts.push(cut);
            return cuts;
        }
        let cut = own_end.min(follower.log_end_offset());
        follower.truncate_to(cut).unwrap();
        cuts.push(cut);
    }
}

#[test]
fn divergence_over_several_epochs_takes_several_rounds() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), small_config(), 1_000);
    let follower = open(fd.path(), small_config(), 1_000);
    // Both have epoch 1 up to offset 8.
    for _ in 0..4 {
        leader.append(&batch(2, 1_000, 30), 1).unwrap();
    }
    replicate(&leader, &follower, 1 << 20);
    // The follower went on in epoch 1 (8..10), then led epoch 3 (10..14) alone.
    follower.append(&batch(2, 1_000, 30), 1).unwrap();
    follower.append(&batch(4, 1_000, 30), 3).unwrap();
    // The leader led epoch 2 (8..12) and now epoch 4 (12..16).
    leader.append(&batch(4, 1_000, 30), 2).unwrap();
    leader.append(&batch(4, 1_000, 30), 4).unwrap();
    assert_eq!(follower.epoch_entries(), vec![(1, 0), (3, 10)]);
    assert_eq!(leader.epoch_entries(), vec![(1, 0), (2, 8), (4, 12)]);

    // Asked for epoch 3, the leader answers (2, 12): the follower has no epoch 2, so it cuts
    // at the end of its epoch 1 (10) and asks for epoch 1, answered (1, 8).
    assert_eq!(leader.end_offset_for_epoch(3), Some((2, 12)));
    assert_eq!(truncate_like_a_follower(&leader, &follower), vec![10, 8]);
    assert_eq!(follower.log_end_offset(), 8);
    replicate(&leader, &follower, 1 << 20);
    assert_same(&leader, &follower);
}

//! Append, read, roll, flush, reopen.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sluice_log::{Log, LogConfig, LogError};
use std::sync::Arc;

#[test]
fn append_assigns_offsets_and_reads_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir.path(), LogConfig::default(), clock).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));

    let a = log.append(&batch(3, 100, 10), 5).unwrap();
    assert_eq!((a.first_offset, a.last_offset), (0, 2));
    assert_eq!(a.max_timestamp, 100);
    assert_eq!(a.log_append_time, -1);
    assert!(!a.flush_due);
    // Two batches in one append.
    let mut two = batch(2, 200, 10).to_vec();
    two.extend_from_slice(&batch(4, 300, 10));
    let b = log.append(&bytes::Bytes::from(two), 5).unwrap();
    assert_eq!((b.first_offset, b.last_offset), (3, 8));
    assert_eq!(b.offset_of_max_timestamp, 8);
    assert_eq!(log.log_end_offset(), 9);

    let all = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&all.records), vec![(0, 2), (3, 4), (5, 8)]);
    assert_eq!(all.first_batch_offset, Some(0));
    // Leader epoch was stamped, CRC still valid.
    sluice_protocol::batch::validate_batches(&all.records, usize::MAX).unwrap();
    let h = sluice_protocol::batch::parse_header(&all.records).unwrap();
    assert_eq!(h.partition_leader_epoch, 5);

    // Offset inside a batch returns the whole batch.
    let r = log.read(4, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&r.records), vec![(3, 4), (5, 8)]);
    // The high watermark bounds the read.
    let r = log.read(0, 1 << 20, 5, true).unwrap();
    assert_eq!(batch_ranges(&r.records), vec![(0, 2), (3, 4)]);
    assert!(log.read(5, 1 << 20, 5, true).unwrap().records.is_empty());
    // max_bytes: the first batch is whole even if larger (KIP-74), unless min_one_batch is off.
    let r = log.read(0, 10, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&r.records), vec![(0, 2)]);
    assert!(log.read(0, 10, i64::MAX, false).unwrap().records.is_empty());
    // End of log: empty; past it: out of range.
    assert!(log
        .read(9, 1 << 20, i64::MAX, true)
        .unwrap()
        .records
        .is_empty());
    assert!(matches!(
        log.read(10, 1 << 20, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
}

#[test]
fn rolls_by_size_and_reads_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir.path(), small_config(), clock.clone()).unwrap();
    let one = batch(2, 100, 100);
    let per_segment = 4096 / one.len();
    let mut rolled = 0;
    for _ in 0..50 {
        if log.append(&one, 0).unwrap().flush_due {
            rolled += 1;
        }
    }
    assert!(log.segment_count() >= 50 / per_segment);
    assert_eq!(rolled, log.segment_count() - 1);
    for base in log.segment_base_offsets() {
        let size = std::fs::metadata(dir.path().join(format!("{base:020}.log")))
            .unwrap()
            .len();
        assert!(size <= 4096);
    }
    // Every offset readable; reading walks from one segment to the next.
    let mut offset = 0;
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
        let ranges = batch_ranges(&r.records);
        assert!(!ranges.is_empty());
        assert!(ranges[0].0 <= offset && offset <= ranges[0].1);
        offset = ranges.last().unwrap().1 + 1;
    }
    // Index lookups land correctly after a clean reopen too.
    log.close().unwrap();
    assert!(matches!(log.append(&one, 0), Err(LogError::Closed)));
    drop(log);
    let log = Log::open(dir.path(), small_config(), clock).unwrap();
    assert_eq!(log.log_end_offset(), 100);
    for offset in [0, 1, 37, 50, 99] {
        let r = log.read(offset, 1, i64::MAX, true).unwrap();
        let ranges = batch_ranges(&r.records);
        assert_eq!(ranges.len(), 1);
        assert!(ranges[0].0 <= offset && offset <= ranges[0].1);
    }
    assert_eq!(log.append(&one, 0).unwrap().first_offset, 100);
}

#[test]
fn rolls_by_time_and_by_index_size() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = clock(1_000);
    let config = LogConfig {
        segment_ms: 10_000,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config.clone(), clock).unwrap();
    // Batches without timestamps: the clock decides.
    log.append(&batch(1, -1, 10), 0).unwrap();
    c.advance(10_000);
    log.append(&batch(1, -1, 10), 0).unwrap();
    assert_eq!(log.segment_count(), 1);
    c.advance(1);
    assert!(log.append(&batch(1, -1, 10), 0).unwrap().flush_due);
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    // With timestamps, Kafka compares the new batch's timestamp with the first batch's.
    let dir2 = tempfile::tempdir().unwrap();
    let (_c2, clock2) = common::clock(1_000);
    let log = Log::open(dir2.path(), config.clone(), clock2).unwrap();
    log.append(&batch(1, 50_000, 10), 0).unwrap();
    log.append(&batch(1, 60_000, 10), 0).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(&batch(1, 60_001, 10), 0).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);

    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = common::clock(1_000);
    let config = LogConfig {
        index_interval_bytes: 1,
        segment_index_bytes: 24, // three offset-index entries, two time-index entries
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config, clock).unwrap();
    for i in 0..10 {
        log.append(&batch(1, 1000 + i, 10), 0).unwrap();
    }
    assert!(log.segment_count() >= 3);
    for offset in 0..10 {
        let r = log.read(offset, 1, i64::MAX, true).unwrap();
        assert_eq!(batch_ranges(&r.records), vec![(offset, offset)]);
    }
}

#[test]
fn log_append_time_stamps_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(777_000);
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..LogConfig::default()
    };
    let log = Log::open(dir.path(), config, clock).unwrap();
    let info = log.append(&batch(3, 5, 10), 0).unwrap();
    assert_eq!(info.log_append_time, 777_000);
    assert_eq!(info.max_timestamp, 777_000);
    let r = log.read(0, 1 << 20, i64::MAX, true).unwrap();
    sluice_protocol::batch::validate_batches(&r.records, usize::MAX).unwrap();
    let h = sluice_protocol::batch::parse_header(&r.records).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, 777_000);
    assert_eq!(
        log.offset_for_timestamp(777_000).unwrap(),
        Some((0, 777_000))
    );
}

#[test]
fn flush_policy_and_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = clock(0);
    let config = LogConfig {
        flush_messages: 5,
        flush_ms: 1_000,
        ..LogConfig::default()
    };
    let log = Arc::new(Log::open(dir.path(), config, clock).unwrap());
    assert!(!log.append(&batch(2, 1, 10), 0).unwrap().flush_due);
    assert!(log.append(&batch(3, 1, 10), 0).unwrap().flush_due);
    log.flush(5).unwrap();
    assert_eq!(log.flushed_offset(), 5);
    assert!(!log.append(&batch(1, 1, 10), 0).unwrap().flush_due);
    c.advance(1_000);
    assert!(log.append(&batch(1, 1, 10), 0).unwrap().flush_due);
    log.flush_if_due().unwrap();
    assert_eq!(log.flushed_offset(), 7);

    // Concurrent appenders and flushers: every flush returns with its offset durable.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let log = log.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let info = log.append(&batch(1, 1, 10), 0).unwrap();
                    log.flush(info.last_offset + 1).unwrap();
                    assert!(log.flushed_offset() > info.last_offset);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(log.log_end_offset(), 107);
}

#[test]
fn truncate_to_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(1_000);
    let log = Log::open(dir.path(), small_config(), clock.clone()).unwrap();
    for _ in 0..40 {
        log.append(&batch(2, 100, 100), 0).unwrap();
    }
    let segments = log.segment_count();
    log.truncate_to(31).unwrap(); // inside batch 30..=31: the whole batch goes
    assert_eq!(log.log_end_offset(), 30);
    assert!(log.segment_count() < segments);
    assert_eq!(log.append(&batch(2, 100, 100), 0).unwrap().first_offset, 30);
    let r = log.read(28, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&r.records)[..2], [(28, 29), (30, 31)]);
    drop(log);
    // Reopen without close: recovery agrees.
    let log = Log::open(dir.path(), small_config(), clock).unwrap();
    assert_eq!(log.log_end_offset(), 32);
    let path = log.dir().to_path_buf();
    log.delete().unwrap();
    assert!(!path.exists());
}

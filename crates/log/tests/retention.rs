//! Retention by time and size, DeleteRecords, and their persistence.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sluice_log::{Log, LogConfig, LogError};

fn fill(log: &Log, batches: usize, ts: i64) {
    for _ in 0..batches {
        log.append(&batch(2, ts, 100), 0).unwrap();
    }
}

#[test]
fn retention_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = clock(10_000);
    let config = LogConfig {
        retention_ms: 5_000,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
    fill(&log, 30, 1_000); // old
    fill(&log, 30, 9_000); // newer
    let segments = log.segment_count();
    assert!(segments > 4);
    c.set(6_000);
    assert_eq!(
        log.apply_retention(log.log_end_offset())
            .unwrap()
            .deleted_segments,
        0
    );
    c.set(10_000);
    let result = log.apply_retention(log.log_end_offset()).unwrap();
    assert!(result.deleted_segments >= 1);
    assert_eq!(result.log_start_offset, log.log_start_offset());
    assert_eq!(log.segment_base_offsets()[0], log.log_start_offset());
    // Only segments whose newest record is old went.
    assert!(log.log_start_offset() <= 60);
    assert!(matches!(
        log.read(0, 1 << 20, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let r = log
        .read(log.log_start_offset(), 1 << 20, i64::MAX, true)
        .unwrap();
    assert_eq!(batch_ranges(&r.records)[0].0, log.log_start_offset());
    // Files renamed to .deleted, removed on the next pass (delay 0).
    log.apply_retention(log.log_end_offset()).unwrap();
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".deleted")
        })
        .count();
    assert_eq!(leftovers, 0);
    // Everything expired: all but the active segment go.
    c.set(100_000);
    log.apply_retention(log.log_end_offset()).unwrap();
    assert_eq!(log.segment_count(), 1);
    let start = log.log_start_offset();
    drop(log);
    let log = Log::open(dir.path(), config, clock).unwrap();
    assert_eq!(log.log_start_offset(), start);
    assert_eq!(log.log_end_offset(), 120);
}

#[test]
fn retention_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(10_000);
    let config = LogConfig {
        retention_ms: -1,
        retention_bytes: 8192,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
    fill(&log, 100, 1_000);
    let before = log.size_bytes();
    let result = log.apply_retention(log.log_end_offset()).unwrap();
    assert!(result.deleted_segments > 0);
    assert_eq!(before - result.deleted_bytes, log.size_bytes());
    assert!(log.size_bytes() >= 8192);
    assert!(log.size_bytes() < 8192 + 4096);
    let start = log.log_start_offset();
    assert!(start > 0);
    drop(log);
    let log = Log::open(dir.path(), config, clock).unwrap();
    assert_eq!(log.log_start_offset(), start);
}

#[test]
fn delete_records_persists() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(10_000);
    let log = Log::open(dir.path(), small_config(), clock.clone()).unwrap();
    fill(&log, 50, 1_000);
    let segments = log.segment_count();
    assert_eq!(log.delete_records_before(55).unwrap(), 55);
    assert_eq!(log.delete_records_before(10).unwrap(), 55, "never lowered");
    assert!(log.segment_count() < segments);
    assert!(matches!(
        log.delete_records_before(101),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert!(matches!(
        log.read(54, 1 << 20, i64::MAX, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // The batch holding 55 is 54..=55: returned whole.
    let r = log.read(55, 1 << 20, i64::MAX, true).unwrap();
    assert_eq!(batch_ranges(&r.records)[0], (54, 55));
    drop(log); // unclean
    let log = Log::open(dir.path(), small_config(), clock.clone()).unwrap();
    assert_eq!(log.log_start_offset(), 55);
    assert_eq!(log.delete_records_before(100).unwrap(), 100);
    drop(log);
    let log = Log::open(dir.path(), small_config(), clock).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (100, 100));
    assert_eq!(log.append(&batch(1, 1, 1), 0).unwrap().first_offset, 100);
}

#[test]
fn empty_directory_starts_at_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log-start-offset.checkpoint"), "0\n42\n").unwrap();
    std::fs::write(dir.path().join("00000000000000000007.index.deleted"), b"x").unwrap();
    let (_c, clock) = clock(0);
    let log = Log::open(dir.path(), LogConfig::default(), clock).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (42, 42));
    assert!(!dir
        .path()
        .join("00000000000000000007.index.deleted")
        .exists());
    assert_eq!(log.append(&batch(1, 1, 1), 0).unwrap().first_offset, 42);
}

#[test]
fn an_expired_active_segment_goes_once_fully_replicated() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = clock(10_000);
    let config = LogConfig {
        retention_ms: 5_000,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
    fill(&log, 3, 1_000);
    assert_eq!(
        log.segment_count(),
        1,
        "everything is in the active segment"
    );
    c.set(100_000);
    // Not yet replicated (high watermark below the log end): the active segment stays.
    assert_eq!(log.apply_retention(3).unwrap().deleted_segments, 0);
    let result = log.apply_retention(log.log_end_offset()).unwrap();
    assert_eq!(result.deleted_segments, 1);
    assert_eq!(log.log_start_offset(), 6);
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.segment_base_offsets(), vec![6]);
    // Appends continue at the same offsets, and the state survives a reopen.
    log.append(&batch(2, 100_000, 100), 0).unwrap();
    assert_eq!(log.log_end_offset(), 8);
    drop(log);
    let log = Log::open(dir.path(), config, clock).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (6, 8));
}

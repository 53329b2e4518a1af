//! The leader epoch cache (`leader-epoch-checkpoint`, KIP-101/KIP-279) through the `Log` API:
//! appends at rising epochs, close and reopen, a crash with a torn tail, a missing or corrupt
//! file, truncation, log start moves, and the OffsetsForLeaderEpoch answers.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{self, OpenOptions};
use std::path::Path;

use common::*;
use sluice_log::{Log, LogConfig};

const FILE: &str = "leader-epoch-checkpoint";

fn open(dir: &Path, config: LogConfig) -> Log {
    let (_c, clock) = clock(1_000);
    Log::open(dir, config, clock).unwrap()
}

fn checkpoint_text(dir: &Path) -> String {
    fs::read_to_string(dir.join(FILE)).unwrap()
}

/// Appends `n` one-record batches at `epoch`; returns the first offset.
fn append_at(log: &Log, epoch: i32, n: usize) -> i64 {
    let first = log.log_end_offset();
    for _ in 0..n {
        log.append(&batch(1, 1_000, 50), epoch).unwrap();
    }
    first
}

#[test]
fn appends_at_rising_epochs_add_entries() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    // A new log has an empty cache, and says so on disk.
    assert_eq!(log.latest_epoch(), None);
    assert_eq!(log.epoch_entries(), vec![]);
    assert_eq!(checkpoint_text(dir.path()), "0\n0\n");

    // Batches without a leader epoch add nothing.
    log.append(&batch(2, 1_000, 10), -1).unwrap();
    assert_eq!(log.latest_epoch(), None);
    log.append(&batch(3, 1_000, 10), 0).unwrap();
    log.append(&batch(1, 1_000, 10), 0).unwrap();
    assert_eq!(log.epoch_entries(), vec![(0, 2)]);
    // Epochs may skip; every batch of a multi-batch append carries the append's epoch.
    let mut two = batch(2, 1_000, 10).to_vec();
    two.extend_from_slice(&batch(2, 1_000, 10));
    let info = log.append(&bytes::Bytes::from(two), 3).unwrap();
    assert_eq!(info.first_offset, 6);
    log.append(&batch(1, 1_000, 10), 3).unwrap();
    // A transaction marker is a batch of the leader too.
    let marker = log.append_control(9, 0, false, 0, 5).unwrap();
    assert_eq!(marker.first_offset, 11);
    log.append(&batch(1, 1_000, 10), -1).unwrap();
    assert_eq!(log.epoch_entries(), vec![(0, 2), (3, 6), (5, 11)]);
    assert_eq!(log.latest_epoch(), Some(5));
    assert_eq!(checkpoint_text(dir.path()), "0\n3\n0 2\n3 6\n5 11\n");
    assert!(!dir.path().join(format!("{FILE}.tmp")).exists());
}

#[test]
fn entries_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    append_at(&log, 1, 30);
    append_at(&log, 2, 30);
    append_at(&log, 4, 30);
    assert!(log.segment_count() > 1);
    let entries = log.epoch_entries();
    assert_eq!(entries, vec![(1, 0), (2, 30), (4, 60)]);
    log.close().unwrap();
    drop(log);

    let log = open(dir.path(), config.clone());
    assert_eq!(log.epoch_entries(), entries);
    assert_eq!(log.latest_epoch(), Some(4));
    append_at(&log, 4, 2);
    append_at(&log, 6, 1);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 30), (4, 60), (6, 92)]);
    // Without close this time: the file was written with the entry, before the data.
    drop(log);
    let log = open(dir.path(), config);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 30), (4, 60), (6, 92)]);
}

#[test]
fn crash_with_a_torn_tail_drops_entries_past_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    append_at(&log, 1, 5);
    let segment = dir.path().join(format!("{:020}.log", 0));
    let intact = fs::metadata(&segment).unwrap().len();
    append_at(&log, 3, 1);
    append_at(&log, 3, 1);
    append_at(&log, 7, 2);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (3, 5), (7, 7)]);
    drop(log); // no clean shutdown

    // The first epoch-3 batch is torn: everything from it on is gone after recovery.
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(intact + 30)
        .unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.epoch_entries(), vec![(1, 0)]);
    assert_eq!(checkpoint_text(dir.path()), "0\n1\n1 0\n");
    assert_eq!(log.end_offset_for_epoch(7), Some((1, 5)));
    // The next epoch starts where the data ends.
    append_at(&log, 8, 1);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (8, 5)]);
}

#[test]
fn a_missing_or_corrupt_file_is_rebuilt_from_the_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    append_at(&log, -1, 3);
    append_at(&log, 2, 20);
    append_at(&log, 3, 20);
    append_at(&log, -1, 2);
    append_at(&log, 9, 20);
    log.delete_records_before(10).unwrap();
    let entries = log.epoch_entries();
    assert_eq!(entries, vec![(2, 10), (3, 23), (9, 45)]);
    assert!(log.segment_count() >= 2);
    log.close().unwrap();
    drop(log);

    // A log written before the cache existed has no file.
    fs::remove_file(dir.path().join(FILE)).unwrap();
    let log = open(dir.path(), config.clone());
    assert_eq!(log.epoch_entries(), entries);
    assert_eq!(checkpoint_text(dir.path()), "0\n3\n2 10\n3 23\n9 45\n");
    drop(log);

    for garbage in ["", "1\n0\n", "0\n2\n2 10\n", "0\n1\n2 ten\n"] {
        fs::write(dir.path().join(FILE), garbage).unwrap();
        let log = open(dir.path(), config.clone());
        assert_eq!(log.epoch_entries(), entries, "{garbage:?}");
    }
}

#[test]
fn truncation_drops_the_entries_of_removed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    append_at(&log, 1, 20);
    append_at(&log, 2, 20);
    append_at(&log, 5, 20);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20), (5, 40)]);

    // Inside epoch 5: it stays.
    log.truncate_to(50).unwrap();
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20), (5, 40)]);
    // At its first offset: it goes.
    log.truncate_to(40).unwrap();
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20)]);
    assert_eq!(checkpoint_text(dir.path()), "0\n2\n1 0\n2 20\n");
    log.truncate_to(25).unwrap();
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20)]);
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 25)));
    // The same epoch continues without a new entry; a new one starts at the new end.
    append_at(&log, 2, 5);
    append_at(&log, 6, 1);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20), (6, 30)]);
    drop(log);
    let log = open(dir.path(), config);
    assert_eq!(log.epoch_entries(), vec![(1, 0), (2, 20), (6, 30)]);

    // Below the log start offset the log restarts empty: no epoch is left.
    log.delete_records_before(10).unwrap();
    log.truncate_to(5).unwrap();
    assert_eq!(log.log_end_offset(), 5);
    assert_eq!(log.epoch_entries(), vec![]);
    assert_eq!(log.end_offset_for_epoch(6), None);
    append_at(&log, 7, 1);
    assert_eq!(log.epoch_entries(), vec![(7, 5)]);
}

#[test]
fn log_start_moves_keep_the_entry_covering_the_new_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_bytes: 2_000,
        ..small_config()
    };
    let log = open(dir.path(), config.clone());
    append_at(&log, 1, 10);
    append_at(&log, 2, 10);
    append_at(&log, 4, 10);
    // DeleteRecords inside epoch 2: epoch 1 goes, epoch 2 starts at the new log start.
    log.delete_records_before(15).unwrap();
    assert_eq!(log.epoch_entries(), vec![(2, 15), (4, 20)]);
    assert_eq!(checkpoint_text(dir.path()), "0\n2\n2 15\n4 20\n");
    // Exactly at an epoch's start: the older entry goes.
    log.delete_records_before(20).unwrap();
    assert_eq!(log.epoch_entries(), vec![(4, 20)]);
    // Below the first entry now: the data of older epochs is gone.
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 20)));

    // Retention deleting segments moves the start the same way.
    append_at(&log, 6, 60);
    let before = log.log_start_offset();
    let result = log.apply_retention(log.log_end_offset()).unwrap();
    assert!(result.deleted_segments > 0);
    let start = log.log_start_offset();
    assert!(start > before);
    let expected = if start < 30 {
        vec![(4, start), (6, 30)]
    } else {
        vec![(6, start)]
    };
    assert_eq!(log.epoch_entries(), expected);
    drop(log);
    // A crash before the cache file caught up is repaired from the log start checkpoint.
    fs::write(dir.path().join(FILE), "0\n3\n2 15\n4 20\n6 30\n").unwrap();
    let log = open(dir.path(), config);
    assert_eq!(log.epoch_entries(), expected);
}

#[test]
fn end_offset_for_epoch_answers_like_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.end_offset_for_epoch(0), None);
    append_at(&log, -1, 2);
    assert_eq!(log.end_offset_for_epoch(0), None);
    append_at(&log, 2, 3);
    append_at(&log, 5, 4);
    append_at(&log, 6, 1);
    assert_eq!(log.epoch_entries(), vec![(2, 2), (5, 5), (6, 9)]);
    let end = log.log_end_offset();
    assert_eq!(end, 10);
    let cases = [
        (-1, None),              // UNDEFINED_EPOCH
        (0, Some((0, 2))),       // below the first: the first entry's start
        (1, Some((1, 2))),       // below the first
        (2, Some((2, 5))),       // equal: the next entry's start
        (3, Some((2, 5))),       // between: the epoch below
        (4, Some((2, 5))),       // between
        (5, Some((5, 9))),       // equal
        (6, Some((6, end))),     // the latest: the log end offset
        (7, Some((6, end))),     // above the latest
        (1_000, Some((6, end))), // far above
    ];
    for (epoch, answer) in cases {
        assert_eq!(log.end_offset_for_epoch(epoch), answer, "epoch {epoch}");
    }
}

#[test]
fn an_election_is_recorded_before_the_new_leader_writes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    append_at(&log, 2, 3);
    // Becoming leader at epoch 4 records it at the log end, on disk too.
    log.assign_leader_epoch(4).unwrap();
    assert_eq!(log.epoch_entries(), vec![(2, 0), (4, 3)]);
    assert_eq!(log.end_offset_for_epoch(2), Some((2, 3)));
    assert_eq!(log.end_offset_for_epoch(3), Some((2, 3)));
    assert_eq!(checkpoint_text(dir.path()), "0\n2\n2 0\n4 3\n");
    // Its first writes add nothing; an older or equal epoch changes nothing.
    append_at(&log, 4, 2);
    log.assign_leader_epoch(4).unwrap();
    log.assign_leader_epoch(1).unwrap();
    assert_eq!(log.epoch_entries(), vec![(2, 0), (4, 3)]);
    // Another election without writes in between moves the log end entry up.
    log.assign_leader_epoch(6).unwrap();
    log.assign_leader_epoch(7).unwrap();
    assert_eq!(log.epoch_entries(), vec![(2, 0), (4, 3), (7, 5)]);
    // A follower told to truncate at its log end drops an epoch that wrote nothing.
    log.truncate_to(5).unwrap();
    assert_eq!(log.epoch_entries(), vec![(2, 0), (4, 3)]);
    log.assign_leader_epoch(7).unwrap();
    // Reopening cuts the cache to the log as Kafka does: an epoch that wrote nothing goes (the
    // replica records its epoch again when it next becomes leader).
    drop(log);
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.epoch_entries(), vec![(2, 0), (4, 3)]);
}

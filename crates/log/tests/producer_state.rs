//! Idempotent and transactional producer state through the `Log` API: duplicates, sequence and
//! epoch rules, transactions and the last stable offset, the aborted-transaction index, and
//! durability across close, crash, truncation, retention and expiry.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use bytes::{Bytes, BytesMut};
use common::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_log::{AppendOrigin, Log, LogConfig, LogError};
use sluice_protocol::error::ErrorCode;

/// A batch of `n` records from producer `pid` at `epoch`, sequences `seq..seq+n`.
fn pbatch(pid: i64, epoch: i16, seq: i32, n: usize, transactional: bool, ts: i64) -> Bytes {
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
            sequence: seq.wrapping_add(i as i32),
            timestamp: ts,
            key: Some(Bytes::from(format!("k{seq}-{i}"))),
            value: Some(Bytes::from(vec![b'v'; 40])),
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

fn idem(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    pbatch(pid, epoch, seq, n, false, 1_000)
}

fn txn(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    pbatch(pid, epoch, seq, n, true, 1_000)
}

fn open(dir: &Path, config: LogConfig) -> Log {
    let (_c, clock) = clock(1_000);
    Log::open(dir, config, clock).unwrap()
}

/// Base offsets of every batch in the log.
fn stored_batches(log: &Log) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20, i64::MAX, true).unwrap();
        let ranges = batch_ranges(&r.records);
        offset = ranges.last().unwrap().1 + 1;
        out.extend(ranges);
    }
    out
}

fn log_bases(dir: &Path) -> Vec<i64> {
    files_with_suffix(dir, ".log")
}

fn snapshots(dir: &Path) -> Vec<i64> {
    files_with_suffix(dir, ".snapshot")
}

fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<i64> {
    let mut out: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(suffix).map(|s| s.parse().unwrap())
        })
        .collect();
    out.sort_unstable();
    out
}

#[test]
fn duplicate_gets_original_offsets_and_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    let a = log.append(&idem(7, 0, 0, 3), 0).unwrap();
    assert_eq!((a.first_offset, a.last_offset, a.duplicate), (0, 2, false));
    log.append(&batch(2, 1_000, 10), 0).unwrap();
    let b = log.append(&idem(7, 0, 3, 2), 0).unwrap();
    assert_eq!((b.first_offset, b.last_offset), (5, 6));

    for (resent, first, last) in [(idem(7, 0, 0, 3), 0, 2), (idem(7, 0, 3, 2), 5, 6)] {
        let d = log.append(&resent, 0).unwrap();
        assert!(d.duplicate);
        assert_eq!((d.first_offset, d.last_offset), (first, last));
        assert_eq!((d.bytes, d.log_append_time), (0, -1));
    }
    assert_eq!(log.log_end_offset(), 7);
    assert_eq!(stored_batches(&log), vec![(0, 2), (3, 4), (5, 6)]);
    let p = log.producers();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].producer_id, p[0].producer_epoch, p[0].last_sequence),
        (7, 0, 4)
    );
    assert_eq!(p[0].current_txn_start_offset, None);
}

#[test]
fn sequence_epoch_and_unknown_producer_rules() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    log.append(&idem(1, 2, 0, 2), 0).unwrap();

    let code = |r: Result<sluice_log::AppendInfo, LogError>| r.unwrap_err().error_code();
    // A gap, and a repeat of part of a batch.
    assert_eq!(
        code(log.append(&idem(1, 2, 3, 1), 0)),
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    assert_eq!(
        code(log.append(&idem(1, 2, 1, 1), 0)),
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // An older epoch is fenced; a newer one must start at sequence 0.
    assert_eq!(
        code(log.append(&idem(1, 1, 2, 1), 0)),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        code(log.append(&idem(1, 3, 2, 1), 0)),
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // Unknown producer with a sequence other than 0.
    assert_eq!(
        code(log.append(&idem(99, 0, 5, 1), 0)),
        ErrorCode::UNKNOWN_PRODUCER_ID
    );
    // Nothing of the refused batches was written.
    assert_eq!(log.log_end_offset(), 2);

    // The epoch bump: sequence 0 of epoch 3 is accepted and the old epoch is gone.
    assert_eq!(log.append(&idem(1, 3, 0, 1), 0).unwrap().first_offset, 2);
    assert_eq!(
        code(log.append(&idem(1, 2, 2, 1), 0)),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );
    // A batch of the old epoch resent is no longer a duplicate either.
    assert_eq!(
        code(log.append(&idem(1, 2, 0, 2), 0)),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );
    assert_eq!(log.append(&idem(1, 3, 1, 4), 0).unwrap().first_offset, 3);
    assert_eq!(log.producers()[0].last_sequence, 4);

    // Batches without a producer id bypass all of this.
    assert_eq!(log.append(&batch(1, 1_000, 5), 0).unwrap().first_offset, 7);
    assert_eq!(log.producers().len(), 1);
}

#[test]
fn control_batches_only_from_the_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    log.append(&txn(5, 0, 0, 1), 0).unwrap();
    let marker = log.append_control(5, 0, true, 0, 0).unwrap();
    assert_eq!(marker.first_offset, 1);
    // The stored marker, resent by a client: INVALID_RECORD.
    let stored = log.read(1, 1 << 20, i64::MAX, true).unwrap().records;
    let h = sluice_protocol::batch::parse_header(&stored).unwrap();
    assert!(h.is_control() && h.is_transactional() && h.base_sequence == -1);
    let err = log.append(&stored, 0).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::INVALID_RECORD);
    // A coordinator may append it (a duplicate marker is harmless: nothing is open).
    log.append_with_origin(&stored, 0, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.log_end_offset(), 3);
    // The coordinator skips sequence checks but not epoch checks.
    log.append_with_origin(&idem(9, 0, 7, 1), 0, AppendOrigin::Coordinator)
        .unwrap();
    let err = log
        .append_with_origin(&idem(5, -1, 0, 1), 0, AppendOrigin::Coordinator)
        .unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::INVALID_PRODUCER_EPOCH);
}

#[test]
fn transactions_last_stable_offset_and_aborted_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    log.append(&batch(2, 1_000, 5), 0).unwrap(); // 0..=1
    log.append(&txn(10, 0, 0, 2), 0).unwrap(); // 2..=3, opens pid 10
    log.append(&txn(11, 0, 0, 1), 0).unwrap(); // 4, opens pid 11
    log.append(&txn(10, 0, 2, 1), 0).unwrap(); // 5
    assert_eq!(log.first_unstable_offset(), Some(2));
    let p = log.producers();
    assert_eq!(p[0].current_txn_start_offset, Some(2));
    assert_eq!(p[1].current_txn_start_offset, Some(4));

    // Non-transactional data inside an open transaction.
    let err = log.append(&idem(10, 0, 3, 1), 0).unwrap_err();
    assert_eq!(err.error_code(), ErrorCode::INVALID_TXN_STATE);

    // Abort pid 10 at offset 6: the LSO moves to pid 11's first offset.
    let abort = log.append_control(10, 0, false, 3, 0).unwrap();
    assert_eq!(abort.first_offset, 6);
    assert_eq!(log.first_unstable_offset(), Some(4));
    assert_eq!(log.aborted_transactions(0, 100), vec![(10, 2)]);
    assert_eq!(log.aborted_transactions(6, 7), vec![(10, 2)]);
    assert!(log.aborted_transactions(0, 2).is_empty());
    assert!(log.aborted_transactions(7, 100).is_empty());
    let txnindex = dir.path().join(format!("{:020}.txnindex", 0));
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 34);

    // A stale coordinator epoch, a stale producer epoch.
    assert_eq!(
        log.append_control(10, 0, true, 2, 0)
            .unwrap_err()
            .error_code(),
        ErrorCode::TRANSACTION_COORDINATOR_FENCED
    );
    assert_eq!(
        log.append_control(10, -1, true, 3, 0)
            .unwrap_err()
            .error_code(),
        ErrorCode::INVALID_PRODUCER_EPOCH
    );

    // Commit pid 11 at 7: nothing open; commits are not indexed.
    log.append_control(11, 0, true, 0, 0).unwrap();
    assert_eq!(log.first_unstable_offset(), None);
    assert_eq!(log.aborted_transactions(0, 100), vec![(10, 2)]);
    // The producer goes on after its transaction, with the next sequence.
    log.append(&txn(10, 0, 3, 1), 0).unwrap(); // 8
    log.append_control(10, 0, false, 3, 0).unwrap(); // 9
    assert_eq!(log.aborted_transactions(0, 100), vec![(10, 2), (10, 8)]);
    assert_eq!(log.aborted_transactions(8, 9), vec![(10, 8)]);
    // An abort without data is not indexed.
    log.append_control(12, 0, false, 0, 0).unwrap();
    assert_eq!(std::fs::metadata(&txnindex).unwrap().len(), 68);
    let p = log.producers();
    assert_eq!(p.len(), 3);
    assert_eq!((p[0].coordinator_epoch, p[0].last_sequence), (3, 3));
}

#[test]
fn state_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let end = {
        let log = open(dir.path(), config.clone());
        let mut seq = 0;
        for _ in 0..80 {
            log.append(&idem(1, 0, seq, 3), 0).unwrap();
            seq += 3;
        }
        log.append(&txn(2, 0, 0, 2), 0).unwrap();
        log.append_control(2, 0, false, 1, 0).unwrap();
        log.append(&txn(3, 0, 0, 1), 0).unwrap();
        assert!(log.segment_count() > 3, "rolled: {}", log.segment_count());
        log.close().unwrap();
        log.log_end_offset()
    };
    // One snapshot per roll plus the one at close.
    let mut expected = log_bases(dir.path())[1..].to_vec();
    expected.push(end);
    assert_eq!(snapshots(dir.path()), expected);
    let log = open(dir.path(), config);
    assert_eq!(log.log_end_offset(), end);
    // The last five batches are duplicates; older ones and gaps are out of order.
    for seq in [225, 228, 231, 234, 237] {
        assert!(log.append(&idem(1, 0, seq, 3), 0).unwrap().duplicate);
    }
    for seq in [222, 238, 241] {
        assert_eq!(
            log.append(&idem(1, 0, seq, 3), 0).unwrap_err().error_code(),
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        );
    }
    assert_eq!(log.first_unstable_offset(), Some(end - 1));
    assert_eq!(log.aborted_transactions(0, end).len(), 1);
    assert_eq!(log.producers().len(), 3);
    assert_eq!(
        log.append(&idem(1, 0, 240, 1), 0).unwrap().first_offset,
        end
    );
}

#[test]
fn crash_keeps_deduplication_exact() {
    let config = LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        ..LogConfig::default()
    };
    // Two producers' batches across several segments and a transaction, then a crash (the log
    // is dropped without close: no clean-shutdown marker, no snapshot at the end).
    let dir = tempfile::tempdir().unwrap();
    let batches: Vec<(i64, Bytes)> = (0..60)
        .map(|i| {
            let pid = 1 + i % 2;
            (pid, idem(pid, 0, (i / 2) as i32 * 2, 2))
        })
        .collect();
    let mut placed = Vec::new();
    let abort_offset = {
        let log = open(dir.path(), config.clone());
        for (_, b) in &batches {
            let info = log.append(b, 0).unwrap();
            placed.push(info.first_offset);
        }
        log.append(&txn(3, 0, 0, 1), 0).unwrap();
        let abort = log.append_control(3, 0, false, 0, 0).unwrap().first_offset;
        log.append(&txn(3, 0, 1, 1), 0).unwrap();
        abort
    };
    let bases = {
        let log = open(dir.path(), config.clone());
        assert!(log.segment_count() > 3);
        // The last five batches of each producer are duplicates with their offsets; the open
        // transaction and the abort are back.
        for (i, (_, b)) in batches.iter().enumerate().skip(50) {
            let info = log.append(b, 0).unwrap();
            assert!(info.duplicate, "batch {i}");
            assert_eq!(info.first_offset, placed[i]);
        }
        assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
        assert!(log.first_unstable_offset().is_some());
        log.segment_base_offsets()
    };
    let active = *bases.last().unwrap();

    // Cut the active segment at every batch boundary and inside batches: the surviving batches
    // are duplicates, the lost ones append again at the end, in sequence.
    let len = std::fs::metadata(dir.path().join(format!("{active:020}.log")))
        .unwrap()
        .len();
    for cut_at in (0..=len).step_by(23) {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
        }
        let _ = std::fs::remove_file(copy.path().join(".clean-shutdown"));
        std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path().join(format!("{active:020}.log")))
            .unwrap()
            .set_len(cut_at)
            .unwrap();
        let log = open(copy.path(), config.clone());
        let end = log.log_end_offset();
        let mut next_seq = [0i32; 2];
        for pid in 1..=2i64 {
            let survivors: Vec<usize> = (0..batches.len())
                .filter(|&i| batches[i].0 == pid && placed[i] < end)
                .collect();
            for &i in survivors.iter().rev().take(5) {
                let info = log.append(&batches[i].1, 0).unwrap();
                assert!(info.duplicate, "cut {cut_at} batch {i}");
                assert_eq!(info.first_offset, placed[i]);
            }
            if let Some(&last) = survivors.last() {
                next_seq[(pid - 1) as usize] = (last / 2) as i32 * 2 + 2;
            }
        }
        // A lost batch is not a duplicate: the next one of each producer appends at the end.
        for pid in 1..=2i64 {
            let seq = next_seq[(pid - 1) as usize];
            let info = log.append(&idem(pid, 0, seq, 2), 0).unwrap();
            assert!(!info.duplicate, "cut {cut_at} pid {pid}");
        }
        // The aborted-transaction index holds exactly the markers that survived, and the
        // transaction after it is open if its batch survived.
        let aborted = log.aborted_transactions(0, i64::MAX);
        let expected: Vec<(i64, i64)> = if abort_offset < end {
            vec![(3, abort_offset - 1)]
        } else {
            vec![]
        };
        assert_eq!(aborted, expected, "cut {cut_at}");
        let open_txn = if abort_offset < end {
            (abort_offset + 1 < end).then_some(abort_offset + 1)
        } else {
            // The marker is lost: the aborted transaction is open again if its data survived.
            (abort_offset - 1 < end).then_some(abort_offset - 1)
        };
        assert_eq!(log.first_unstable_offset(), open_txn, "cut {cut_at}");
    }
}

#[test]
fn truncation_rebuilds_state_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let mut seq = 0;
    for _ in 0..30 {
        log.append(&idem(1, 0, seq, 2), 0).unwrap();
        seq += 2;
    }
    let cut = log.log_end_offset();
    log.append(&txn(2, 0, 0, 1), 0).unwrap();
    log.append_control(2, 0, false, 0, 0).unwrap();
    log.append(&idem(1, 0, seq, 2), 0).unwrap();
    assert_eq!(log.aborted_transactions(0, i64::MAX).len(), 1);
    let before = log.segment_count();

    log.truncate_to(cut).unwrap();
    assert_eq!(log.log_end_offset(), cut);
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    assert!(snapshots(dir.path()).iter().all(|&o| o <= cut));
    // The truncated batch of producer 1 is new again; the one before it still a duplicate.
    assert!(log.append(&idem(1, 0, seq - 2, 2), 0).unwrap().duplicate);
    assert!(!log.append(&idem(1, 0, seq, 2), 0).unwrap().duplicate);
    // Producer 2's transaction is gone: it starts afresh.
    assert_eq!(log.producers().len(), 1);
    assert!(before >= log.segment_count());

    // Below the log start the whole history goes.
    log.delete_records_before(cut).unwrap();
    log.truncate_to(cut - 5).unwrap();
    assert!(log.producers().is_empty());
    assert!(snapshots(dir.path()).is_empty());
}

#[test]
fn retention_and_delete_records_take_snapshots_and_indexes_along() {
    let dir = tempfile::tempdir().unwrap();
    let (c, clock) = common::clock(1_000);
    let config = LogConfig {
        retention_bytes: 8192,
        ..small_config()
    };
    let log = Log::open(dir.path(), config, clock.clone()).unwrap();
    // An aborted transaction in the first segment.
    log.append(&txn(2, 0, 0, 1), 0).unwrap();
    log.append_control(2, 0, false, 0, 0).unwrap();
    let mut seq = 0;
    for _ in 0..150 {
        log.append(&idem(1, 0, seq, 2), 0).unwrap();
        seq += 2;
    }
    let first = format!("{:020}.txnindex", 0);
    assert!(dir.path().join(&first).exists());
    let bases = log.segment_base_offsets();
    assert!(bases.len() > 4);
    assert_eq!(snapshots(dir.path()), bases[1..].to_vec());

    let r = log.apply_retention(log.log_end_offset()).unwrap();
    assert!(r.deleted_segments > 0);
    let kept = log.segment_base_offsets();
    assert_eq!(snapshots(dir.path()), kept);
    assert!(log.aborted_transactions(0, i64::MAX).is_empty());
    c.advance(1);
    log.apply_retention(log.log_end_offset()).unwrap(); // purges the *.deleted files
    assert!(!dir.path().join(&first).exists());
    assert!(!dir.path().join(format!("{first}.deleted")).exists());
    // Producer state outlives the data: the last batch is still a duplicate.
    assert!(log.append(&idem(1, 0, seq - 2, 2), 0).unwrap().duplicate);

    // DeleteRecords past a segment boundary removes that segment's snapshot.
    let kept = log.segment_base_offsets();
    assert!(kept.len() >= 3, "{kept:?}");
    log.delete_records_before(kept[2]).unwrap();
    assert_eq!(snapshots(dir.path()).first(), Some(&kept[2]));
    drop(log);
    c.advance(4_000);
    let log = Log::open(dir.path(), small_config(), clock).unwrap();
    assert!(log.append(&idem(1, 0, seq - 2, 2), 0).unwrap().duplicate);
}

#[test]
fn retention_of_every_segment_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (_c, clock) = clock(1_000_000);
    let config = LogConfig {
        retention_ms: 10,
        ..small_config()
    };
    let log = Log::open(dir.path(), config.clone(), clock.clone()).unwrap();
    log.append(&idem(1, 0, 0, 2), 0).unwrap();
    log.append(&idem(1, 0, 2, 2), 0).unwrap();
    let end = log.log_end_offset();
    log.apply_retention(end).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![end]);
    assert_eq!(snapshots(dir.path()), vec![end]);
    drop(log);
    let log = Log::open(dir.path(), config, clock).unwrap();
    assert!(log.append(&idem(1, 0, 2, 2), 0).unwrap().duplicate);
}

#[test]
fn expiry_forgets_idle_producers_but_not_open_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    log.append(&pbatch(1, 0, 0, 1, false, 1_000), 0).unwrap();
    log.append(&pbatch(2, 0, 0, 1, true, 1_000), 0).unwrap();
    log.append(&pbatch(3, 0, 0, 1, false, 50_000), 0).unwrap();
    assert_eq!(log.expire_producers(60_000, 20_000), 1);
    let ids: Vec<i64> = log.producers().iter().map(|p| p.producer_id).collect();
    assert_eq!(ids, vec![2, 3]);
    // The forgotten producer's next batch: UNKNOWN_PRODUCER_ID.
    assert_eq!(
        log.append(&idem(1, 0, 1, 1), 0).unwrap_err().error_code(),
        ErrorCode::UNKNOWN_PRODUCER_ID
    );
    assert_eq!(log.expire_producers(i64::MAX, 20_000), 1);
    assert_eq!(log.producers().len(), 1);
    // Expiry is remembered by the next snapshot.
    log.close().unwrap();
    drop(log);
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.producers().len(), 1);
}

#[test]
fn log_append_time_and_corrupt_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type_log_append: true,
        ..small_config()
    };
    {
        let log = open(dir.path(), config.clone());
        let mut seq = 0;
        for _ in 0..40 {
            log.append(&idem(1, 0, seq, 2), 0).unwrap();
            seq += 2;
        }
        assert_eq!(log.producers()[0].last_timestamp, 1_000);
        log.close().unwrap();
    }
    // Damage the newest snapshot: the previous one is used and the rest replayed.
    let snaps = snapshots(dir.path());
    let newest = dir
        .path()
        .join(format!("{:020}.snapshot", snaps.last().unwrap()));
    let mut bytes = std::fs::read(&newest).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    let log = open(dir.path(), config);
    assert!(log.append(&idem(1, 0, 78, 2), 0).unwrap().duplicate);
    assert!(!log.append(&idem(1, 0, 80, 2), 0).unwrap().duplicate);
    assert_eq!(snapshots(dir.path()).len(), snaps.len() - 1);
}

#[test]
fn a_roll_snapshot_torn_by_a_crash_before_its_flush_is_rebuilt() {
    // The snapshot a roll writes is fsynced by the next flush, not on the append path: a power
    // loss before that flush can leave it torn. Recovery ignores it and replays the log.
    let dir = tempfile::tempdir().unwrap();
    let mut placed = Vec::new();
    {
        let log = open(dir.path(), small_config());
        let mut seq = 0;
        for _ in 0..200 {
            placed.push(log.append(&idem(1, 0, seq, 2), 0).unwrap().first_offset);
            seq += 2;
        }
        assert!(log.segment_count() > 2, "rolled");
        // Dropped without close or flush: an unclean stop.
    }
    let snaps = snapshots(dir.path());
    assert!(!snaps.is_empty(), "rolls wrote snapshots");
    for offset in &snaps {
        let path = dir.path().join(format!("{offset:020}.snapshot"));
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
    }
    let log = open(dir.path(), small_config());
    // The last five batches (Kafka's deduplication window) are known again.
    for (i, seq) in (195..200).map(|i| (i, i as i32 * 2)) {
        let info = log.append(&idem(1, 0, seq, 2), 0).unwrap();
        assert!(info.duplicate, "batch {i}");
        assert_eq!(info.first_offset, placed[i]);
    }
    assert!(!log.append(&idem(1, 0, 400, 2), 0).unwrap().duplicate);
}

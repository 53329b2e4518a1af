use super::snapshot::SNAPSHOT_HEADER_LEN;
use super::*;

fn data(pid: i64, epoch: i16, first_seq: i32, n: i32, offset: i64) -> BatchInput {
    BatchInput {
        producer_id: pid,
        epoch,
        first_seq,
        last_seq: last_sequence(first_seq, n - 1),
        first_offset: offset,
        last_offset: offset + i64::from(n) - 1,
        max_timestamp: 1000 + offset,
        transactional: false,
        marker: None,
    }
}

fn txn(mut b: BatchInput) -> BatchInput {
    b.transactional = true;
    b
}

fn marker(pid: i64, epoch: i16, commit: bool, coordinator_epoch: i32, offset: i64) -> BatchInput {
    BatchInput {
        producer_id: pid,
        epoch,
        first_seq: -1,
        last_seq: -1,
        first_offset: offset,
        last_offset: offset,
        max_timestamp: 5000 + offset,
        transactional: true,
        marker: Some(Marker {
            commit,
            coordinator_epoch,
        }),
    }
}

/// Plans and commits one batch as `check`; returns the aborted-index entries.
fn apply(
    s: &mut ProducerStateManager,
    b: BatchInput,
    check: Check,
) -> Result<Vec<AbortedTxn>, LogError> {
    match s.plan(&[b], check)? {
        Planned::Append(plan) => {
            let aborted = plan.aborted.clone();
            s.commit(plan);
            Ok(aborted)
        }
        Planned::Duplicate(d) => panic!("unexpected duplicate {d:?}"),
    }
}

#[test]
fn sequence_arithmetic_wraps() {
    assert_eq!(last_sequence(0, 4), 4);
    assert_eq!(last_sequence(i32::MAX, 0), i32::MAX);
    assert_eq!(last_sequence(i32::MAX, 1), 0);
    assert_eq!(last_sequence(i32::MAX - 1, 4), 2);
    assert_eq!(last_sequence(-1, 9), -1);
    assert!(in_sequence(4, 5));
    assert!(in_sequence(i32::MAX, 0));
    assert!(!in_sequence(4, 4));
    assert!(!in_sequence(4, 6));
    assert!(!in_sequence(i32::MAX, i32::MIN));
}

#[test]
fn duplicates_gaps_and_epochs() {
    let mut s = ProducerStateManager::default();
    apply(&mut s, data(1, 0, 0, 3, 0), Check::Client).unwrap();
    apply(&mut s, data(1, 0, 3, 2, 3), Check::Client).unwrap();
    // Resent batches: duplicates with their original offsets.
    for (seq, n, first) in [(0, 3, 0), (3, 2, 3)] {
        match s.plan(&[data(1, 0, seq, n, 99)], Check::Client).unwrap() {
            Planned::Duplicate(d) => assert_eq!((d.first_offset, d.first_seq), (first, seq)),
            Planned::Append(_) => panic!("not detected as duplicate"),
        }
    }
    // Same first sequence, different length: not a duplicate, and out of order.
    assert!(matches!(
        s.plan(&[data(1, 0, 0, 2, 5)], Check::Client),
        Err(LogError::OutOfOrderSequence {
            expected_sequence: 5,
            ..
        })
    ));
    // A gap.
    assert!(matches!(
        s.plan(&[data(1, 0, 6, 1, 5)], Check::Client),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    // Old epoch fenced; new epoch must start at 0 and then forgets the old batches.
    apply(&mut s, data(1, 2, 0, 1, 5), Check::Client).unwrap();
    assert!(matches!(
        s.plan(&[data(1, 1, 5, 1, 6)], Check::Client),
        Err(LogError::InvalidProducerEpoch {
            current_epoch: 2,
            ..
        })
    ));
    assert!(matches!(
        s.plan(&[data(1, 3, 7, 1, 6)], Check::Client),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    assert!(matches!(
        s.plan(&[data(1, 2, 0, 3, 6)], Check::Client),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    // Unknown producer.
    assert!(matches!(
        s.plan(&[data(2, 0, 5, 1, 6)], Check::Client),
        Err(LogError::UnknownProducerId { .. })
    ));
    // The coordinator skips sequence checks, not epoch checks.
    apply(&mut s, data(3, 0, -1, 1, 6), Check::Coordinator).unwrap();
    assert!(s.plan(&[data(1, 1, -1, 1, 7)], Check::Coordinator).is_err());
    // Only the last five batches are remembered.
    let mut offset = 7;
    for seq in 1..=6 {
        apply(&mut s, data(1, 2, seq, 1, offset), Check::Client).unwrap();
        offset += 1;
    }
    assert!(matches!(
        s.plan(&[data(1, 2, 2, 1, offset)], Check::Client),
        Ok(Planned::Duplicate(_))
    ));
    assert!(matches!(
        s.plan(&[data(1, 2, 1, 1, offset)], Check::Client),
        Err(LogError::OutOfOrderSequence { .. })
    ));
    let info = s.producers();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0].producer_id, 1);
    assert_eq!((info[0].producer_epoch, info[0].last_sequence), (2, 6));
}

#[test]
fn sequence_wraps_from_max_to_zero() {
    let mut s = ProducerStateManager::default();
    apply(&mut s, data(1, 0, 0, 1, 0), Check::Client).unwrap();
    // Jump near the end through a coordinator-origin batch (no sequence check).
    apply(&mut s, data(1, 0, i32::MAX - 1, 2, 1), Check::Coordinator).unwrap();
    apply(&mut s, data(1, 0, 0, 2, 3), Check::Client).unwrap();
    assert_eq!(s.producers()[0].last_sequence, 1);
}

#[test]
fn one_append_sees_its_own_earlier_batches() {
    let s = ProducerStateManager::default();
    let two = [data(1, 0, 0, 2, 0), data(1, 0, 2, 2, 2)];
    assert!(matches!(
        s.plan(&two, Check::Client),
        Ok(Planned::Append(_))
    ));
    let gap = [data(1, 0, 0, 2, 0), data(1, 0, 3, 2, 2)];
    assert!(s.plan(&gap, Check::Client).is_err());
}

#[test]
fn transactions_open_close_and_index_aborts() {
    let mut s = ProducerStateManager::default();
    apply(&mut s, txn(data(1, 0, 0, 2, 10)), Check::Client).unwrap();
    apply(&mut s, txn(data(2, 0, 0, 2, 12)), Check::Client).unwrap();
    apply(&mut s, txn(data(1, 0, 2, 2, 14)), Check::Client).unwrap();
    assert_eq!(s.first_unstable_offset(), Some(10));
    // Non-transactional data inside a transaction.
    assert!(matches!(
        s.plan(&[data(1, 0, 4, 1, 16)], Check::Client),
        Err(LogError::InvalidTxnState { .. })
    ));
    // Abort of producer 1: LSO after it is producer 2's first offset.
    let aborted = apply(&mut s, marker(1, 0, false, 3, 16), Check::Coordinator).unwrap();
    assert_eq!(
        aborted,
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 10,
            last_offset: 16,
            last_stable_offset: 12
        }]
    );
    assert_eq!(s.first_unstable_offset(), Some(12));
    // Stale coordinator epoch, stale producer epoch.
    assert!(matches!(
        s.plan(&[marker(1, 0, true, 2, 17)], Check::Coordinator),
        Err(LogError::TransactionCoordinatorFenced { .. })
    ));
    apply(&mut s, data(1, 0, 4, 1, 17), Check::Client).unwrap();
    // Commit of producer 2: no index entry; nothing open any more.
    let aborted = apply(&mut s, marker(2, 0, true, 0, 18), Check::Coordinator).unwrap();
    assert!(aborted.is_empty());
    assert_eq!(s.first_unstable_offset(), None);
    // An abort without data records nothing but still moves epochs and coordinator epochs.
    let aborted = apply(&mut s, marker(2, 1, false, 4, 19), Check::Coordinator).unwrap();
    assert!(aborted.is_empty());
    assert!(matches!(
        s.plan(&[data(2, 0, 2, 1, 20)], Check::Client),
        Err(LogError::InvalidProducerEpoch { .. })
    ));
    apply(&mut s, data(2, 1, 0, 1, 20), Check::Client).unwrap();
    let p2 = s.producers()[1];
    assert_eq!((p2.producer_epoch, p2.coordinator_epoch), (1, 4));
    // Abort LSO without other open transactions: the offset after the marker.
    apply(&mut s, txn(data(3, 0, 0, 1, 21)), Check::Client).unwrap();
    let aborted = apply(&mut s, marker(3, 0, false, 0, 22), Check::Coordinator).unwrap();
    assert_eq!(aborted[0].last_stable_offset, 23);
    // Replay accepts what checks would refuse.
    apply(&mut s, data(9, 0, 7, 1, 23), Check::Replay).unwrap();
}

#[test]
fn expiry_keeps_open_transactions() {
    let mut s = ProducerStateManager::default();
    apply(&mut s, data(1, 0, 0, 1, 0), Check::Client).unwrap(); // ts 1000
    apply(&mut s, txn(data(2, 0, 0, 1, 1)), Check::Client).unwrap(); // ts 1001
    apply(&mut s, data(3, 0, 0, 1, 500), Check::Client).unwrap(); // ts 1500
    assert_eq!(s.expire(1400, 400), 1);
    assert_eq!(s.len(), 2);
    assert_eq!(s.expire(100_000, 400), 1);
    assert_eq!(s.producers()[0].producer_id, 2);
}

#[test]
fn snapshot_round_trip_and_corruption() {
    let mut s = ProducerStateManager::default();
    for i in 0..7 {
        apply(&mut s, data(1, 3, i, 1, i64::from(i)), Check::Client).unwrap();
    }
    apply(&mut s, txn(data(2, 0, 0, 4, 7)), Check::Client).unwrap();
    apply(&mut s, marker(3, 5, true, 9, 11), Check::Coordinator).unwrap();
    let bytes = s.encode_snapshot(12);
    let back = ProducerStateManager::decode_snapshot(&bytes, 12).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.first_unstable_offset(), Some(7));
    assert!(ProducerStateManager::decode_snapshot(&bytes, 13).is_err());
    for pos in [0, 3, 10, 20, bytes.len() - 1] {
        let mut bad = bytes.clone();
        bad[pos] ^= 0x10;
        assert!(
            ProducerStateManager::decode_snapshot(&bad, 12).is_err(),
            "{pos}"
        );
    }
    assert!(ProducerStateManager::decode_snapshot(&bytes[..bytes.len() - 1], 12).is_err());
    assert!(ProducerStateManager::decode_snapshot(&[], 12).is_err());
    let empty = ProducerStateManager::default().encode_snapshot(0);
    assert_eq!(empty.len(), SNAPSHOT_HEADER_LEN);

    let dir = tempfile::tempdir().unwrap();
    write_snapshot(dir.path(), 12, &bytes, true).unwrap();
    write_snapshot(dir.path(), 3, &empty, false).unwrap();
    assert_eq!(snapshot_offsets(dir.path()).unwrap(), vec![3, 12]);
    assert_eq!(read_snapshot(dir.path(), 12).unwrap(), Some(s));
    // Misnamed: ignored and deleted.
    assert_eq!(read_snapshot(dir.path(), 3).unwrap(), None);
    assert_eq!(snapshot_offsets(dir.path()).unwrap(), vec![12]);
    delete_snapshots(dir.path(), |o| o >= 12).unwrap();
    assert!(snapshot_offsets(dir.path()).unwrap().is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes: an error or a state, never a panic; a snapshot of any state built
        /// from random appends decodes to that state.
        #[test]
        fn snapshot_decoding_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ProducerStateManager::decode_snapshot(&bytes, 0);
        }

        /// Random histories: the snapshot of the state decodes to it, and replaying the
        /// accepted batches (what open does after a crash) rebuilds the same state and the
        /// same aborted-transaction entries.
        #[test]
        fn snapshots_and_replay_rebuild_random_histories(
            ops in proptest::collection::vec((0i64..4, 0i16..3, 0i32..4, any::<bool>(), 0u8..4), 0..60)
        ) {
            let mut s = ProducerStateManager::default();
            let mut accepted = Vec::new();
            let mut aborted = Vec::new();
            let mut offset = 0i64;
            for (pid, epoch, n, transactional, kind) in ops {
                let b = if kind == 0 {
                    marker(pid, epoch, transactional, i32::from(epoch), offset)
                } else {
                    let mut b = data(pid, epoch, -1, n + 1, offset);
                    b.first_seq = i32::try_from(offset).unwrap_or(0);
                    b.last_seq = last_sequence(b.first_seq, n);
                    b.transactional = transactional;
                    b
                };
                if let Ok(Planned::Append(plan)) = s.plan(&[b], Check::Coordinator) {
                    aborted.extend(plan.aborted.iter().copied());
                    s.commit(plan);
                    accepted.push(b);
                    offset = b.last_offset + 1;
                }
            }
            let mut replayed = ProducerStateManager::default();
            let mut replayed_aborted = Vec::new();
            for b in &accepted {
                if let Ok(Planned::Append(plan)) = replayed.plan(&[*b], Check::Replay) {
                    replayed_aborted.extend(plan.aborted.iter().copied());
                    replayed.commit(plan);
                }
            }
            prop_assert_eq!(&replayed, &s);
            prop_assert_eq!(replayed_aborted, aborted);
            let back = ProducerStateManager::decode_snapshot(&s.encode_snapshot(offset), offset);
            prop_assert_eq!(back, Ok(s));
        }
    }
}

//! Transactions through the coordinator's public API: the records and markers each request
//! asks for, the two steps of ending a transaction (Prepare, then Complete once the markers are
//! written), fencing, timeouts, replay, and reads of committed state only.

use sluice_coordinator::CoordinatorShard;
use sluice_protocol::error::ErrorCode;
use sluice_txn::{Effect, Markers, TxnConfig, TxnCoordinator, TxnState};

fn alloc() -> impl FnMut() -> Result<i64, String> {
    let mut next = 1000;
    move || {
        next += 1;
        Ok(next)
    }
}

fn markers(out: &[Effect]) -> Vec<Markers> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Markers(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Completes every transaction `out` prepared (as the broker does once the markers are
/// written), adding the completing records to `out`.
fn complete_all(c: &mut TxnCoordinator, now: i64, out: &mut Vec<Effect>) {
    for m in markers(out) {
        let mut done = Vec::new();
        c.complete_transaction(now, &m, &mut done)
            .expect("a prepared transaction completes");
        out.extend(done);
    }
}

fn replay_writes(c: &mut TxnCoordinator, effects: &[Effect]) {
    for effect in effects {
        if let Effect::Write { key, value, .. } = effect {
            c.replay(key, value.as_deref()).expect("replays");
        }
    }
}

#[test]
fn commit_prepares_writes_markers_then_completes() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    let (pid, epoch) = c
        .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    assert_eq!(epoch, 0);
    let parts = vec![("a".to_string(), 0), ("b".to_string(), 1)];
    c.add_partitions(1, "t", pid, epoch, &parts, &mut out)
        .unwrap();
    assert_eq!(c.describe("t").unwrap().state, TxnState::Ongoing);
    assert_eq!(c.verify_partition(pid, epoch, "a", 0), Ok(()));
    assert_eq!(
        c.verify_partition(pid, epoch, "a", 1),
        Err(ErrorCode::INVALID_TXN_STATE)
    );
    out.clear();
    c.end_txn(2, "t", pid, epoch, true, &mut out).unwrap();
    // The Prepare record, then the markers to write once it is committed.
    assert!(matches!(out[0], Effect::Write { .. }));
    let m = markers(&out);
    assert_eq!(out.len(), 2);
    assert_eq!(m.len(), 1);
    assert!(m[0].commit);
    assert_eq!(m[0].partitions, parts);
    assert_eq!(c.describe("t").unwrap().state, TxnState::PrepareCommit);
    // Prepared: the client retries what it asks meanwhile.
    assert_eq!(
        c.end_txn(3, "t", pid, epoch, true, &mut Vec::new()),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    assert_eq!(
        c.add_partitions(3, "t", pid, epoch, &parts, &mut Vec::new()),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    let mut done = Vec::new();
    c.complete_transaction(4, &m[0], &mut done).unwrap();
    assert_eq!(done.len(), 1, "the completing record");
    assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteCommit);
    assert!(c.describe("t").unwrap().partitions.is_empty());
    // Completing again is a no-op; a retried EndTxn is fine; the opposite outcome is not.
    let mut again = Vec::new();
    assert_eq!(c.complete_transaction(5, &m[0], &mut again), Ok(()));
    assert!(again.is_empty());
    assert_eq!(c.end_txn(5, "t", pid, epoch, true, &mut again), Ok(()));
    assert_eq!(
        c.end_txn(5, "t", pid, epoch, false, &mut again),
        Err(ErrorCode::INVALID_TXN_STATE)
    );
    assert!(again.is_empty());
}

#[test]
fn bad_requests_get_kafka_codes() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    assert_eq!(
        c.init_producer_id(0, "t", 0, None, &mut a, &mut out),
        Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
    );
    assert_eq!(
        c.init_producer_id(0, "t", 1_000_000, None, &mut a, &mut out),
        Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
    );
    let (pid, epoch) = c
        .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    let parts = vec![("a".to_string(), 0)];
    assert_eq!(
        c.end_txn(1, "t", pid, epoch, true, &mut out),
        Err(ErrorCode::INVALID_TXN_STATE),
        "EndTxn without a transaction"
    );
    assert_eq!(
        c.add_partitions(1, "t", pid + 1, epoch, &parts, &mut out),
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        c.add_partitions(1, "nope", pid, epoch, &parts, &mut out),
        Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING)
    );
    assert_eq!(
        c.add_partitions(1, "t", pid, epoch + 1, &parts, &mut out),
        Err(ErrorCode::PRODUCER_FENCED)
    );
}

#[test]
fn a_new_incarnation_fences_the_old_and_aborts_its_transaction() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    let (pid, e0) = c
        .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    c.add_partitions(1, "t", pid, e0, &[("a".into(), 0)], &mut out)
        .unwrap();
    out.clear();
    // The open transaction is aborted with a bumped epoch first; the new producer retries.
    assert_eq!(
        c.init_producer_id(2, "t", 60_000, None, &mut a, &mut out),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS)
    );
    let m = markers(&out);
    assert_eq!(m.len(), 1);
    assert!(!m[0].commit);
    assert_eq!(m[0].producer_epoch, e0 + 1);
    complete_all(&mut c, 2, &mut out);
    let (pid2, e2) = c
        .init_producer_id(3, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    assert_eq!(pid2, pid);
    assert_eq!(e2, e0 + 2, "one bump to fence, one for the new producer");
    assert_eq!(
        c.end_txn(3, "t", pid, e0, true, &mut out),
        Err(ErrorCode::PRODUCER_FENCED)
    );
}

#[test]
fn timeout_aborts_and_replay_rebuilds() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    let (pid, e) = c
        .init_producer_id(0, "t", 1000, None, &mut a, &mut out)
        .unwrap();
    c.add_partitions(10, "t", pid, e, &[("a".into(), 0)], &mut out)
        .unwrap();
    let mut tick = Vec::new();
    c.tick(500, &mut tick);
    assert!(tick.is_empty());
    c.tick(1010, &mut tick);
    assert_eq!(markers(&tick).len(), 1);
    assert_eq!(c.describe("t").unwrap().state, TxnState::PrepareAbort);
    complete_all(&mut c, 1011, &mut tick);
    assert_eq!(c.describe("t").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(c.describe("t").unwrap().producer_epoch, e + 1);
    out.extend(tick);
    let mut fresh = TxnCoordinator::new(TxnConfig::default());
    replay_writes(&mut fresh, &out);
    let got = fresh.describe("t").unwrap();
    assert_eq!(got.state, TxnState::CompleteAbort);
    assert_eq!(got.producer_epoch, e + 1);
    // KIP-360: the fenced producer may recover with its old epoch.
    let mut out = Vec::new();
    assert_eq!(
        fresh.init_producer_id(2000, "t", 1000, Some((pid, e)), &mut a, &mut out),
        Ok((pid, e + 2))
    );
}

#[test]
fn a_crash_between_prepare_and_complete_is_finished_on_recovery() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    let (pid, e) = c
        .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    c.add_partitions(1, "t", pid, e, &[("a".into(), 0)], &mut out)
        .unwrap();
    c.end_txn(2, "t", pid, e, true, &mut out).unwrap();
    // The Prepare record reached the log; the markers and the completion did not happen.
    let mut fresh = TxnCoordinator::new(TxnConfig::default());
    replay_writes(&mut fresh, &out);
    assert_eq!(fresh.describe("t").unwrap().state, TxnState::PrepareCommit);
    let mut rec = Vec::new();
    fresh.recover(&mut rec);
    assert_eq!(markers(&rec).len(), 1);
    assert!(markers(&rec)[0].commit);
    complete_all(&mut fresh, 3, &mut rec);
    assert_eq!(fresh.describe("t").unwrap().state, TxnState::CompleteCommit);
}

#[test]
fn reads_see_committed_state_and_a_failed_write_is_undone() {
    let mut c = TxnCoordinator::new(TxnConfig::default());
    let mut a = alloc();
    let mut out = Vec::new();
    c.begin_write(1);
    let (pid, e) = c
        .init_producer_id(0, "t", 60_000, None, &mut a, &mut out)
        .unwrap();
    assert_eq!(
        c.describe_transaction("t").map(|m| m.state),
        Err(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND),
        "InitProducerId is not read before it is committed"
    );
    c.commit_through(1);
    assert_eq!(c.describe("t").unwrap().state, TxnState::Empty);
    // AddPartitionsToTxn in flight: described Empty, not verified; then its append fails.
    c.begin_write(2);
    c.add_partitions(1, "t", pid, e, &[("a".into(), 0)], &mut out)
        .unwrap();
    assert_eq!(c.describe("t").unwrap().state, TxnState::Empty);
    assert_eq!(
        c.verify_partition(pid, e, "a", 0),
        Err(ErrorCode::INVALID_TXN_STATE)
    );
    assert_eq!(
        c.verify_partitions("t", pid, e, &[("a".into(), 0)]),
        vec![ErrorCode::INVALID_TXN_STATE]
    );
    // A later write builds on it (EndTxn prepares the commit) and fails with it.
    c.begin_write(3);
    c.end_txn(2, "t", pid, e, true, &mut out).unwrap();
    c.revert_from(2);
    assert_eq!(c.describe("t").unwrap().state, TxnState::Empty);
    assert_eq!(
        c.end_txn(3, "t", pid, e, true, &mut Vec::new()),
        Err(ErrorCode::INVALID_TXN_STATE),
        "the latest state is the committed one again"
    );
    assert!(c
        .list(0, &[], &[], -1)
        .iter()
        .all(|m| m.state == TxnState::Empty));
}

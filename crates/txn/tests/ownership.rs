//! Partition ownership: a coordinator serves only the transactional ids of the
//! `__transaction_state` partitions it owns. Requests for the others answer NOT_COORDINATOR
//! (or, while their partition loads, COORDINATOR_LOAD_IN_PROGRESS); unloading forgets a
//! partition's ids; loading (begin, replay, finish, recover) brings them back as they were;
//! timers leave partitions that are not Owned alone.

use std::sync::atomic::{AtomicI64, Ordering};

use sluice_protocol::error::ErrorCode;
use sluice_txn::{Effect, Markers, Ownership, TxnConfig, TxnCoordinator, TxnMeta, TxnState};

const PARTITIONS: i32 = 50;
const TIMEOUT_MS: i32 = 60_000;

fn config() -> TxnConfig {
    TxnConfig {
        num_partitions: PARTITIONS,
        ..TxnConfig::default()
    }
}

/// `count` transactional ids that hash to `partition`, each starting with `prefix`.
fn ids_in(partition: i32, prefix: &str, count: usize) -> Vec<String> {
    let c = TxnCoordinator::new(config());
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .filter(|id| c.partition_for(id) == partition)
        .take(count)
        .collect()
}

/// Hands out producer ids, unique across the tests of this file.
fn alloc() -> Result<i64, String> {
    static NEXT: AtomicI64 = AtomicI64::new(1000);
    Ok(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A producer id no transactional id here has.
const UNKNOWN_PID: i64 = 1;

/// A producer id allocator that must not be asked.
fn no_alloc() -> Result<i64, String> {
    panic!("no producer id may be allocated for a request that is refused")
}

/// The records among `effects`, with their partition: what `__transaction_state` holds.
fn records(effects: &[Effect]) -> Vec<(i32, bytes::Bytes, Option<bytes::Bytes>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Write {
                partition,
                key,
                value,
            } => Some((*partition, key.clone(), value.clone())),
            Effect::Markers(_) => None,
        })
        .collect()
}

fn markers(effects: &[Effect]) -> Vec<Markers> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Markers(m) => Some(m.clone()),
            Effect::Write { .. } => None,
        })
        .collect()
}

/// Completes every transaction `log` prepared since `from` (as the broker does once the
/// markers are written), adding the completing records to `log`.
fn complete_since(c: &mut TxnCoordinator, now: i64, log: &mut Vec<Effect>, from: usize) {
    for m in markers(&log[from..]) {
        let mut done = Vec::new();
        c.complete_transaction(now, &m, &mut done)
            .expect("a prepared transaction completes");
        log.extend(done);
    }
}

fn replay(c: &mut TxnCoordinator, log: &[(i32, bytes::Bytes, Option<bytes::Bytes>)]) {
    for (_, k, v) in log {
        c.replay(k, v.as_deref()).expect("replays");
    }
}

fn listed(c: &TxnCoordinator) -> Vec<String> {
    c.list(0, &[], &[], -1)
        .iter()
        .map(|m| m.transactional_id.clone())
        .collect()
}

/// Starts a transaction of `id` over partition 0 of topic "t"; returns (producer id, epoch).
fn begin(c: &mut TxnCoordinator, now: i64, id: &str, log: &mut Vec<Effect>) -> (i64, i16) {
    let (pid, epoch) = c
        .init_producer_id(now, id, TIMEOUT_MS, None, &mut alloc, log)
        .expect("init");
    c.add_partitions(now, id, pid, epoch, &[("t".into(), 0)], log)
        .expect("add partitions");
    (pid, epoch)
}

/// Every request that names `id` answers `code` and does nothing.
fn assert_every_api_answers(c: &mut TxnCoordinator, id: &str, pid: i64, code: ErrorCode) {
    let mut out = Vec::new();
    let parts = [("t".to_string(), 0), ("t".to_string(), 1)];
    assert_eq!(
        c.init_producer_id(1, id, TIMEOUT_MS, None, &mut no_alloc, &mut out),
        Err(code),
        "InitProducerId"
    );
    assert_eq!(
        c.init_producer_id(1, id, TIMEOUT_MS, Some((pid, 0)), &mut no_alloc, &mut out),
        Err(code),
        "InitProducerId of a known producer"
    );
    assert_eq!(
        c.add_partitions(1, id, pid, 0, &parts, &mut out),
        Err(code),
        "AddPartitionsToTxn (and AddOffsetsToTxn)"
    );
    assert_eq!(
        c.verify_partitions(id, pid, 0, &parts),
        vec![code, code],
        "AddPartitionsToTxn verify_only"
    );
    for commit in [true, false] {
        assert_eq!(
            c.end_txn(1, id, pid, 0, commit, &mut out),
            Err(code),
            "EndTxn"
        );
    }
    assert_eq!(
        c.describe_transaction(id).map(|m| m.producer_id),
        Err(code),
        "DescribeTransactions"
    );
    assert_eq!(c.describe(id), None);
    assert!(!listed(c).contains(&id.to_string()), "ListTransactions");
    assert!(out.is_empty(), "a refused request has no effect: {out:?}");
}

// ---------------------------------------------------------------------------------------------

#[test]
fn a_new_coordinator_owns_every_partition_and_an_unowned_one_none() {
    let c = TxnCoordinator::new(config());
    assert!((0..PARTITIONS).all(|p| c.owns(p)));
    assert!(!c.is_loading());
    let mut c = TxnCoordinator::new_unowned(config());
    assert!((0..PARTITIONS).all(|p| c.ownership(p) == Ownership::NotOwned));
    // Partitions outside the topic are never owned.
    c.begin_loading(PARTITIONS);
    c.begin_loading(-1);
    assert!(!c.is_loading());
    assert!(!c.finish_loading(PARTITIONS));
    assert_eq!(c.ownership(PARTITIONS), Ownership::NotOwned);
}

#[test]
fn requests_for_a_transactional_id_not_owned_answer_not_coordinator() {
    let mut c = TxnCoordinator::new_unowned(config());
    let id = ids_in(9, "elsewhere", 1).remove(0);
    assert_every_api_answers(&mut c, &id, UNKNOWN_PID, ErrorCode::NOT_COORDINATOR);
    assert!(c.is_empty());

    // Bad input is refused as such first, whoever owns its partition.
    let mut out = Vec::new();
    assert_eq!(
        c.init_producer_id(1, "", TIMEOUT_MS, None, &mut no_alloc, &mut out),
        Err(ErrorCode::INVALID_REQUEST)
    );
    assert_eq!(
        c.init_producer_id(1, &id, 0, None, &mut no_alloc, &mut out),
        Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT)
    );
    assert_eq!(
        c.add_partitions(1, "", 1, 0, &[("t".into(), 0)], &mut out),
        Err(ErrorCode::INVALID_REQUEST)
    );
    assert_eq!(
        c.end_txn(1, "", 1, 0, true, &mut out),
        Err(ErrorCode::INVALID_REQUEST)
    );
    assert_eq!(
        c.describe_transaction("").map(|m| m.producer_id),
        Err(ErrorCode::INVALID_REQUEST)
    );

    // Owning one partition serves exactly its ids.
    let mine = ids_in(4, "mine", 1).remove(0);
    c.begin_loading(4);
    assert!(c.finish_loading(4));
    let (pid, epoch) = begin(&mut c, 1, &mine, &mut out);
    assert!(records(&out).iter().all(|r| r.0 == 4));
    assert_eq!(c.verify_partition(pid, epoch, "t", 0), Ok(()));
    assert_eq!(
        c.describe_transaction(&mine).map(|m| m.state),
        Ok(TxnState::Ongoing)
    );
    assert_eq!(
        c.describe_transaction(&ids_in(4, "unknown", 1)[0])
            .map(|m| m.state),
        Err(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    );
    assert_eq!(listed(&c), vec![mine]);
    assert_every_api_answers(&mut c, &id, UNKNOWN_PID, ErrorCode::NOT_COORDINATOR);
}

#[test]
fn requests_while_loading_answer_coordinator_load_in_progress() {
    let mut c = TxnCoordinator::new(config());
    let loading = ids_in(13, "loading", 1).remove(0);
    let other = ids_in(14, "other", 1).remove(0);
    let mut log = Vec::new();
    let (pid, epoch) = begin(&mut c, 0, &loading, &mut log);
    let (other_pid, other_epoch) = begin(&mut c, 0, &other, &mut log);
    let log = records(&log);

    c.begin_loading(13);
    assert_eq!(c.ownership(13), Ownership::Loading);
    assert!(c.is_loading());
    assert_every_api_answers(
        &mut c,
        &loading,
        pid,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    );
    // Records replayed so far do not make the id visible before the load ends.
    replay(&mut c, &log);
    assert_every_api_answers(
        &mut c,
        &loading,
        pid,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
    );
    assert_eq!(
        c.verify_partition(pid, epoch, "t", 0),
        Err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS),
        "KIP-890 verification by producer id"
    );
    // The other partitions go on as before.
    assert_eq!(listed(&c), vec![other.clone()]);
    assert_eq!(c.verify_partition(other_pid, other_epoch, "t", 0), Ok(()));

    assert!(c.finish_loading(13));
    assert!(!c.is_loading());
    assert_eq!(c.verify_partition(pid, epoch, "t", 0), Ok(()));
    let mut both = vec![loading, other];
    both.sort();
    assert_eq!(listed(&c), both);
    assert!(!c.finish_loading(13), "finishing twice changes nothing");
}

#[test]
fn unload_drops_exactly_that_partitions_transactional_ids() {
    let mut c = TxnCoordinator::new(config());
    let a = ids_in(20, "a", 3);
    let b = ids_in(21, "b", 2);
    let mut log = Vec::new();
    let a_pids: Vec<(i64, i16)> = a.iter().map(|id| begin(&mut c, 0, id, &mut log)).collect();
    let b_pids: Vec<(i64, i16)> = b.iter().map(|id| begin(&mut c, 0, id, &mut log)).collect();
    let b_before: Vec<TxnMeta> = b
        .iter()
        .map(|id| c.describe(id).cloned().unwrap())
        .collect();

    c.unload(20);
    assert_eq!(c.ownership(20), Ownership::NotOwned);
    assert_eq!(c.len(), b.len());
    for (id, (pid, epoch)) in a.iter().zip(&a_pids) {
        assert_every_api_answers(&mut c, id, *pid, ErrorCode::NOT_COORDINATOR);
        assert_eq!(
            c.verify_partition(*pid, *epoch, "t", 0),
            Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING),
            "the producer is no longer known here"
        );
    }
    let b_after: Vec<TxnMeta> = b
        .iter()
        .map(|id| c.describe(id).cloned().unwrap())
        .collect();
    assert_eq!(b_after, b_before);
    for (pid, epoch) in &b_pids {
        assert_eq!(c.verify_partition(*pid, *epoch, "t", 0), Ok(()));
    }
    let mut b_sorted = b.clone();
    b_sorted.sort();
    assert_eq!(listed(&c), b_sorted);

    // Taken back without records, partition 20 knows none of its ids.
    c.begin_loading(20);
    assert!(c.finish_loading(20));
    for id in &a {
        assert_eq!(
            c.describe_transaction(id).map(|m| m.state),
            Err(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
        );
    }
    // Unloaded while loading: finishing the load must not take the partition.
    c.begin_loading(20);
    replay(&mut c, &records(&log));
    c.unload(20);
    assert!(!c.finish_loading(20));
    assert_eq!(c.len(), b.len());
}

#[test]
fn loading_a_partition_rebuilds_its_transactions() {
    let mut c = TxnCoordinator::new(config());
    let a = ids_in(30, "load", 4);
    let b = ids_in(31, "keep", 1);
    let mut log = Vec::new();
    // a[0] ongoing; a[1] committed; a[2] fenced by a new incarnation; a[3] prepared to commit
    // when the node crashed (its completing record never made it).
    begin(&mut c, 0, &a[0], &mut log);
    let (pid, epoch) = begin(&mut c, 0, &a[1], &mut log);
    let from = log.len();
    c.end_txn(1, &a[1], pid, epoch, true, &mut log).unwrap();
    complete_since(&mut c, 1, &mut log, from);
    begin(&mut c, 0, &a[2], &mut log);
    let from = log.len();
    assert_eq!(
        c.init_producer_id(2, &a[2], TIMEOUT_MS, None, &mut alloc, &mut log),
        Err(ErrorCode::CONCURRENT_TRANSACTIONS),
        "the old incarnation's transaction is aborted first"
    );
    complete_since(&mut c, 2, &mut log, from);
    c.init_producer_id(2, &a[2], TIMEOUT_MS, None, &mut alloc, &mut log)
        .unwrap();
    begin(&mut c, 0, &b[0], &mut log);
    let before: Vec<TxnMeta> = a[..3]
        .iter()
        .map(|id| c.describe(id).cloned().unwrap())
        .collect();
    let (pid, epoch) = begin(&mut c, 3, &a[3], &mut log);
    let mut end = Vec::new();
    c.end_txn(4, &a[3], pid, epoch, true, &mut end).unwrap();
    log.extend(end.into_iter().take(1));
    let log = records(&log);

    // The same coordinator gives the partition up and takes it back from its records.
    c.unload(30);
    c.begin_loading(30);
    let only_30: Vec<_> = log.iter().filter(|r| r.0 == 30).cloned().collect();
    replay(&mut c, &only_30);
    let mut out = Vec::new();
    c.recover(&mut out);
    assert!(
        out.is_empty(),
        "nothing of a loading partition is recovered"
    );
    assert!(c.finish_loading(30));
    let after: Vec<TxnMeta> = a[..3]
        .iter()
        .map(|id| c.describe(id).cloned().unwrap())
        .collect();
    assert_eq!(after, before);
    assert_eq!(c.describe(&a[3]).unwrap().state, TxnState::PrepareCommit);
    c.recover(&mut out);
    let m = markers(&out);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].transactional_id, a[3]);
    assert!(m[0].commit);
    complete_since(&mut c, 5, &mut out, 0);
    assert!(records(&out).iter().all(|r| r.0 == 30));
    assert_eq!(c.describe(&a[3]).unwrap().state, TxnState::CompleteCommit);

    // Another broker that leads only partition 30 loads it from the whole log: the records of
    // other partitions are not its business.
    let mut other = TxnCoordinator::new_unowned(config());
    other.begin_loading(30);
    replay(&mut other, &log);
    assert!(other.finish_loading(30));
    let loaded: Vec<TxnMeta> = a[..3]
        .iter()
        .map(|id| other.describe(id).cloned().unwrap())
        .collect();
    assert_eq!(loaded, before);
    assert_eq!(other.len(), a.len());
    assert_every_api_answers(&mut other, &b[0], UNKNOWN_PID, ErrorCode::NOT_COORDINATOR);
    // The fenced producer of a[2] recovers with its old epoch (KIP-360), as before the move.
    let fenced = &before[2];
    let mut out = Vec::new();
    assert_eq!(
        other.init_producer_id(
            6,
            &a[2],
            TIMEOUT_MS,
            Some((fenced.producer_id, fenced.last_epoch)),
            &mut alloc,
            &mut out,
        ),
        Ok((fenced.producer_id, fenced.producer_epoch + 1))
    );
}

#[test]
fn timers_touch_only_owned_partitions() {
    let config = TxnConfig {
        id_expiration_ms: 100_000,
        ..config()
    };
    let mut c = TxnCoordinator::new(config.clone());
    let loading = ids_in(40, "quiet", 2);
    let owned = ids_in(41, "ticking", 1).remove(0);
    let mut log = Vec::new();
    // loading[0] stays open past its timeout; loading[1] is idle past the id expiration.
    begin(&mut c, 0, &loading[0], &mut log);
    let (pid, epoch) = begin(&mut c, 0, &loading[1], &mut log);
    let from = log.len();
    c.end_txn(0, &loading[1], pid, epoch, false, &mut log)
        .unwrap();
    complete_since(&mut c, 0, &mut log, from);
    let log = records(&log);
    begin(&mut c, 0, &owned, &mut Vec::new());

    c.unload(40);
    c.begin_loading(40);
    replay(&mut c, &log);
    let late = 1_000_000;
    let mut out = Vec::new();
    c.tick(late, &mut out);
    let m = markers(&out);
    assert_eq!(
        m.len(),
        1,
        "only the owned partition's transaction times out"
    );
    assert_eq!(m[0].transactional_id, owned);
    complete_since(&mut c, late, &mut out, 0);
    assert!(records(&out).iter().all(|r| r.0 == 41), "{out:?}");
    assert_eq!(c.describe(&owned).unwrap().state, TxnState::CompleteAbort);
    assert_eq!(c.len(), 3, "the loading partition's idle id is still there");

    // Once owned, the timer reaches it: the open transaction is aborted and its producer
    // fenced; the idle id is forgotten.
    assert!(c.finish_loading(40));
    let mut out = Vec::new();
    c.tick(late, &mut out);
    let m = markers(&out);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].transactional_id, loading[0]);
    complete_since(&mut c, late, &mut out, 0);
    assert_eq!(
        c.describe(&loading[0]).unwrap().state,
        TxnState::CompleteAbort
    );
    assert_eq!(
        c.describe_transaction(&loading[1]).map(|m| m.state),
        Err(ErrorCode::TRANSACTIONAL_ID_NOT_FOUND)
    );
    assert!(records(&out).iter().any(|r| r.0 == 40 && r.2.is_none()));

    // A coordinator that owns nothing has nothing to time out.
    let mut idle = TxnCoordinator::new_unowned(config);
    let mut out = Vec::new();
    idle.tick(late, &mut out);
    idle.recover(&mut out);
    assert!(out.is_empty());
}

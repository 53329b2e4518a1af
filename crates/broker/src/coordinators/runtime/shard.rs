//! One shard: the state machine of one internal-topic partition this broker leads, its writes
//! not committed yet, and the callers waiting for replies. Everything here runs under the
//! shard's lock and does no I/O but page-cache appends (see `super` for the semantics).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use sluice_coordinator::{CoordinatorShard, Token, WriteId, WriteOutput};
use sluice_protocol::error::ErrorCode;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

use super::normalize_error;
use super::shard_log::ShardLog;

/// Where a shard is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Its partition's records are being read; requests get COORDINATOR_LOAD_IN_PROGRESS from
    /// the placeholder state machine.
    Loading,
    Active,
    /// Its partition is no longer led here; everything waiting on it was answered.
    Unloaded,
}

/// A write whose records (or, for a write without records, the records written before it)
/// are not committed yet.
struct PendingWrite<R> {
    id: WriteId,
    /// The high watermark that commits the write.
    commit_offset: i64,
    /// An fsync of its records is running: it is committed only once that succeeded.
    flushing: bool,
    /// When its replies stop waiting (they answer the timeout; the write stays pending).
    deadline: Instant,
    /// The request that made it (timers have a token nobody waits on).
    caller: Token,
    /// Replies to send at commit, by token; empty once the deadline passed.
    replies: Vec<(Token, R)>,
}

/// What a write left to do outside the lock.
pub(crate) struct Started {
    /// The write waits in the queue: the committer has something to do.
    pub(crate) queued: bool,
    /// An fsync up to this offset, whose outcome goes to [`Shard::flushed`] for this write.
    pub(crate) flush: Option<(WriteId, i64)>,
}

pub(crate) struct ShardState<S: CoordinatorShard> {
    pub(crate) status: Status,
    pub(crate) state: S,
    next_write: WriteId,
    /// invariant: in write order, `commit_offset` non-decreasing, every id below `next_write`.
    pending: VecDeque<PendingWrite<S::Reply>>,
    /// Callers waiting for a reply: their write's, or one a later write produces (a parked
    /// JoinGroup).
    waiting: HashMap<Token, oneshot::Sender<S::Reply>>,
    /// The end offset of the last write appended (the log end offset at load).
    last_written: i64,
}

pub(crate) struct Shard<S: CoordinatorShard> {
    pub(crate) index: i32,
    pub(crate) log: ShardLog,
    inner: Mutex<ShardState<S>>,
    /// Wakes the committer: a write is pending, an fsync ended, the shard was unloaded.
    pub(crate) changed: Notify,
}

impl<S: CoordinatorShard> Shard<S> {
    /// A shard whose partition is being loaded; `placeholder` answers requests meanwhile.
    pub(crate) fn loading(index: i32, log: ShardLog, placeholder: S) -> Shard<S> {
        Shard {
            index,
            log,
            inner: Mutex::new(ShardState {
                status: Status::Loading,
                state: placeholder,
                next_write: 1,
                pending: VecDeque::new(),
                waiting: HashMap::new(),
                last_written: 0,
            }),
            changed: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ShardState<S>> {
        // Every critical section leaves the state whole (no panics between its changes).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a write handler (see `super`): appends its records, keeps it pending until they
    /// are committed, or undoes it at once when they cannot be appended. `tx` receives the
    /// caller's reply.
    pub(crate) fn write(
        &self,
        token: Token,
        tx: Option<oneshot::Sender<S::Reply>>,
        timeout: Duration,
        now_ms: i64,
        handler: impl FnOnce(&mut S, Token) -> WriteOutput<S::Reply>,
    ) -> Started {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let idle = Started {
            queued: false,
            flush: None,
        };
        if let Some(tx) = tx {
            inner.waiting.insert(token, tx);
        }
        match inner.status {
            Status::Active => {}
            Status::Loading => {
                // The placeholder answers (COORDINATOR_LOAD_IN_PROGRESS) without writing.
                let out = handler(&mut inner.state, token);
                if !out.records.is_empty() {
                    tracing::error!("a coordinator wrote while loading; records dropped");
                }
                inner.deliver(out.replies);
                inner.fail_caller(token, None, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
                return idle;
            }
            Status::Unloaded => {
                inner.fail_caller(token, None, ErrorCode::NOT_COORDINATOR);
                return idle;
            }
        }
        let id = inner.next_write;
        inner.next_write += 1;
        inner.state.begin_write(id);
        let out = handler(&mut inner.state, token);
        let deadline = Instant::now() + timeout;
        if out.records.is_empty() {
            if inner.pending.is_empty() {
                // Nothing it read is uncommitted: it is committed now.
                inner.state.commit_through(id);
                inner.deliver(out.replies);
            } else {
                // It read what earlier writes changed: it commits with them.
                let commit_offset = inner.last_written;
                inner.pending.push_back(PendingWrite {
                    id,
                    commit_offset,
                    flushing: false,
                    deadline,
                    caller: token,
                    replies: out.replies,
                });
                return Started {
                    queued: true,
                    flush: None,
                };
            }
            return idle;
        }
        match self.log.append(&out.records, now_ms) {
            Err(code) => {
                inner.state.revert_from(id);
                let own = out.replies.into_iter().find(|(t, _)| *t == token);
                inner.fail_caller(token, own.map(|(_, r)| r), code);
                idle
            }
            Ok(appended) => {
                inner.last_written = appended.end_offset;
                inner.pending.push_back(PendingWrite {
                    id,
                    commit_offset: appended.end_offset,
                    flushing: appended.flush_due,
                    deadline,
                    caller: token,
                    replies: out.replies,
                });
                Started {
                    queued: true,
                    flush: appended.flush_due.then_some((id, appended.end_offset)),
                }
            }
        }
    }

    /// An fsync of write `id`'s records ended.
    pub(crate) fn flushed(&self, id: WriteId, result: Result<(), ErrorCode>) {
        let mut inner = self.lock();
        let Some(pos) = inner.pending.iter().position(|w| w.id == id) else {
            return;
        };
        match result {
            Ok(()) => inner.pending[pos].flushing = false,
            Err(code) => {
                let log_end = self.log.partition.log_end_offset();
                inner.fail_from(pos, code, log_end);
            }
        }
    }

    /// Writes waiting in the queue, for tests.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.lock().pending.len()
    }

    /// Reads committed state (or, while loading, the placeholder's answers).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&S) -> T) -> T {
        f(&self.lock().state)
    }

    /// The committer's step: commits the pending writes the high watermark passed, fails those
    /// whose records left the log, answers replies past their deadline. Returns the next
    /// deadline to wake up for, and whether the shard is still active.
    pub(crate) fn advance(&self) -> (Option<Instant>, bool) {
        let mut inner = self.lock();
        if inner.status == Status::Unloaded {
            return (None, false);
        }
        let p = &self.log.partition;
        // Read the high watermark first: it never passes the log end read after it.
        let high_watermark = p.high_watermark();
        let log_end = p.log_end_offset();
        if let Some(pos) = inner.pending.iter().position(|w| w.commit_offset > log_end) {
            // Truncated away (a new leader's log won): those writes and the ones after failed.
            inner.fail_from(pos, ErrorCode::NOT_LEADER_OR_FOLLOWER, log_end);
        }
        inner.commit_up_to(high_watermark);
        let now = Instant::now();
        let mut next = None::<Instant>;
        let state = &mut *inner;
        for w in state.pending.iter_mut() {
            if w.replies.is_empty() {
                continue;
            }
            if w.deadline <= now {
                for (t, r) in w.replies.drain(..) {
                    if let Some(tx) = state.waiting.remove(&t) {
                        let code = normalize_error(ErrorCode::REQUEST_TIMED_OUT);
                        let _ = tx.send(S::fail_reply(r, code));
                    }
                }
            } else {
                next = Some(next.map_or(w.deadline, |n| n.min(w.deadline)));
            }
        }
        (next, true)
    }

    /// The partition is no longer led here (or is reloaded): everything waiting is answered
    /// NOT_COORDINATOR (parked requests in their API's shape) and the state is dropped.
    pub(crate) fn unload(&self) {
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            if inner.status == Status::Unloaded {
                return;
            }
            inner.status = Status::Unloaded;
            let parked = inner.state.unload(self.index);
            inner.deliver(parked);
            let pending: Vec<PendingWrite<S::Reply>> = inner.pending.drain(..).collect();
            for w in pending {
                let own = w.replies.into_iter().find(|(t, _)| *t == w.caller);
                inner.fail_caller(w.caller, own.map(|(_, r)| r), ErrorCode::NOT_COORDINATOR);
            }
            for (_, tx) in inner.waiting.drain() {
                let _ = tx.send(S::error_reply(ErrorCode::NOT_COORDINATOR));
            }
        }
        self.changed.notify_one();
    }
}

impl<S: CoordinatorShard> ShardState<S> {
    /// Takes a loaded state machine: its writes start at `next_write`; `tail`, the write the
    /// records above the high watermark were replayed in, commits at the log end.
    pub(crate) fn install(
        &mut self,
        state: S,
        next_write: WriteId,
        tail: Option<WriteId>,
        log_end: i64,
    ) {
        self.state = state;
        self.status = Status::Active;
        self.next_write = next_write;
        self.last_written = log_end;
        if let Some(id) = tail {
            self.pending.push_back(PendingWrite {
                id,
                commit_offset: log_end,
                flushing: false,
                deadline: Instant::now(),
                caller: 0,
                replies: Vec::new(),
            });
        }
    }

    fn deliver(&mut self, replies: Vec<(Token, S::Reply)>) {
        for (t, r) in replies {
            if let Some(tx) = self.waiting.remove(&t) {
                let _ = tx.send(r);
            }
        }
    }

    /// Answers `token` for a write that did not happen: its own reply failed with `code`
    /// (normalized), or an error reply.
    fn fail_caller(&mut self, token: Token, own: Option<S::Reply>, code: ErrorCode) {
        if let Some(tx) = self.waiting.remove(&token) {
            let code = normalize_error(code);
            let _ = tx.send(match own {
                Some(r) => S::fail_reply(r, code),
                None => S::error_reply(code),
            });
        }
    }

    /// Commits, in order, the pending writes `high_watermark` passed (and whose fsync, if
    /// any, succeeded), then sends their replies.
    fn commit_up_to(&mut self, high_watermark: i64) {
        let mut committed = Vec::new();
        while let Some(w) = self.pending.front() {
            if w.commit_offset > high_watermark || w.flushing {
                break;
            }
            if let Some(w) = self.pending.pop_front() {
                committed.push(w);
            }
        }
        let Some(last) = committed.last() else {
            return;
        };
        self.state.commit_through(last.id);
        for w in committed {
            self.deliver(w.replies);
        }
    }

    /// The pending write at `pos` failed with `code`: it and every later one are undone (the
    /// state returns to what it was before it) and their callers answered. Requests they
    /// answered that were parked by earlier writes stay parked, as the restored state says.
    fn fail_from(&mut self, pos: usize, code: ErrorCode, log_end: i64) {
        let failed: Vec<PendingWrite<S::Reply>> = self.pending.drain(pos..).collect();
        let Some(first) = failed.first() else {
            return;
        };
        tracing::warn!(
            "undoing {} coordinator write(s): {}",
            failed.len(),
            code.name()
        );
        self.state.revert_from(first.id);
        self.last_written = log_end;
        for w in failed {
            let own = w.replies.into_iter().find(|(t, _)| *t == w.caller);
            self.fail_caller(w.caller, own.map(|(_, r)| r), code);
        }
    }
}

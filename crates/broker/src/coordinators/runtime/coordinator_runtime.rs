//! [`CoordinatorRuntime`]: the shards of one coordinator (one per internal-topic partition
//! this broker leads), and the write, read, load and unload entry points (see `super`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sluice_coordinator::{CoordinatorShard, Ownership, Token, WriteOutput};
use sluice_protocol::error::ErrorCode;
use tokio::sync::{oneshot, watch};

use super::committer;
use super::loader::{self, Factory};
use super::shard::{Shard, Status};
use super::shard_log::{MinInsyncReplicas, ShardLog};
use crate::coordinators::now_ms;
use crate::replicas::Partition;

pub struct CoordinatorRuntime<S: CoordinatorShard> {
    /// The internal topic whose partitions are the shards.
    topic: &'static str,
    factory: Factory<S>,
    /// The shards, by partition. The map's lock is held only to look a shard up or change
    /// the set; each shard has its own lock.
    shards: RwLock<HashMap<i32, Arc<Shard<S>>>>,
    /// Tokens are unique across shards. 0 is never handed out.
    next_token: AtomicU64,
    /// How long a write's replies wait for its records to be committed.
    write_timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

impl<S: CoordinatorShard> CoordinatorRuntime<S> {
    /// A runtime without shards yet: [`CoordinatorRuntime::load`] adds them. `factory`
    /// builds the state machine of a partition (placeholders answer for partitions loading
    /// or not led here).
    pub fn new(
        topic: &'static str,
        factory: Factory<S>,
        write_timeout: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        CoordinatorRuntime {
            topic,
            factory,
            shards: RwLock::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            write_timeout,
            shutdown,
        }
    }

    pub fn topic(&self) -> &'static str {
        self.topic
    }

    fn shard(&self, index: i32) -> Option<Arc<Shard<S>>> {
        self.shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&index)
            .cloned()
    }

    fn all_shards(&self) -> Vec<Arc<Shard<S>>> {
        let mut all: Vec<Arc<Shard<S>>> = self
            .shards
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|s| s.index);
        all
    }

    /// The partitions with a shard here (loaded or loading), in order.
    pub fn partitions(&self) -> Vec<i32> {
        self.all_shards().iter().map(|s| s.index).collect()
    }

    /// Whether some shard is still loading.
    pub fn is_loading(&self) -> bool {
        self.all_shards()
            .iter()
            .any(|s| s.lock().status == Status::Loading)
    }

    // -----------------------------------------------------------------------------------------
    // Leadership

    /// This broker leads `partition` now: its shard is (re)built from the partition's records,
    /// requests answering COORDINATOR_LOAD_IN_PROGRESS meanwhile. `min_insync_replicas` is
    /// asked at every write. Returns the number of records loaded (0 when a later leadership
    /// change overtook the load).
    pub async fn load(
        &self,
        partition: Arc<Partition>,
        min_insync_replicas: MinInsyncReplicas,
    ) -> Result<usize, String> {
        let index = partition.index;
        let placeholder = (self.factory)(index, Ownership::Loading);
        let log = ShardLog::new(partition.clone(), min_insync_replicas);
        let shard = Arc::new(Shard::loading(index, log, placeholder));
        let replaced = self
            .shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(index, shard.clone());
        if let Some(old) = replaced {
            old.unload();
        }
        let factory = self.factory.clone();
        let topic = self.topic;
        let built = tokio::task::spawn_blocking(move || {
            loader::read(&partition)
                .map(|records| loader::build(&factory, topic, index, records, now_ms()))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let loaded = match built {
            Ok(loaded) => loaded,
            Err(e) => {
                // Not servable: requests go elsewhere (NOT_COORDINATOR) until leadership moves.
                self.remove_if_current(&shard);
                shard.unload();
                return Err(e);
            }
        };
        let current = self.shard(index).is_some_and(|s| Arc::ptr_eq(&s, &shard));
        {
            let mut inner = shard.lock();
            if !current || inner.status != Status::Loading {
                return Ok(0);
            }
            inner.install(loaded.state, loaded.next_write, loaded.tail, loaded.log_end);
        }
        tokio::spawn(committer::run(shard.clone(), self.shutdown.clone()));
        shard.changed.notify_one();
        Ok(loaded.records)
    }

    /// This broker no longer leads partition `index`: its shard goes, and every request
    /// waiting on it is answered NOT_COORDINATOR.
    pub fn unload(&self, index: i32) {
        let removed = self
            .shards
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&index);
        if let Some(shard) = removed {
            shard.unload();
        }
    }

    fn remove_if_current(&self, shard: &Arc<Shard<S>>) {
        let mut shards = self.shards.write().unwrap_or_else(|p| p.into_inner());
        if shards
            .get(&shard.index)
            .is_some_and(|s| Arc::ptr_eq(s, shard))
        {
            shards.remove(&shard.index);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Writes and reads

    /// Runs `handler` as a write on the shard of partition `index` and resolves to the
    /// caller's reply: once the write's records (and everything written before them) are
    /// committed; an error reply when they cannot be appended, when the write timeout passes
    /// first (the write stays pending), or when the shard is unloaded. For a partition not
    /// led here, a placeholder state machine answers (NOT_COORDINATOR in the API's shape).
    pub async fn write(
        &self,
        index: i32,
        handler: impl FnOnce(&mut S, Token) -> WriteOutput<S::Reply>,
    ) -> S::Reply {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let Some(shard) = self.shard(index) else {
            return self.not_led(index, token, handler);
        };
        let (tx, rx) = oneshot::channel();
        self.start(&shard, token, Some(tx), handler);
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            reply = rx => reply.unwrap_or_else(|_| S::error_reply(ErrorCode::NOT_COORDINATOR)),
            _ = shutdown.wait_for(|s| *s) => S::error_reply(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        }
    }

    /// Runs `handler` as a write on partition `index`'s shard without waiting for it (timers);
    /// nothing happens for a partition not led here.
    pub fn submit(&self, index: i32, handler: impl FnOnce(&mut S, Token) -> WriteOutput<S::Reply>) {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        if let Some(shard) = self.shard(index) {
            self.start(&shard, token, None, handler);
        }
    }

    fn start(
        &self,
        shard: &Arc<Shard<S>>,
        token: Token,
        tx: Option<oneshot::Sender<S::Reply>>,
        handler: impl FnOnce(&mut S, Token) -> WriteOutput<S::Reply>,
    ) {
        let started = shard.write(token, tx, self.write_timeout, now_ms(), handler);
        if let Some((id, offset)) = started.flush {
            // Not tied to the caller: a request dropped meanwhile must not leave the write
            // waiting for an fsync that nobody reports.
            let shard = shard.clone();
            tokio::spawn(async move {
                let result = ShardLog::flush(shard.log.partition.clone(), offset).await;
                shard.flushed(id, result);
                shard.changed.notify_one();
            });
        }
        if started.queued {
            shard.changed.notify_one();
        }
    }

    fn not_led(
        &self,
        index: i32,
        token: Token,
        handler: impl FnOnce(&mut S, Token) -> WriteOutput<S::Reply>,
    ) -> S::Reply {
        let mut placeholder = (self.factory)(index, Ownership::NotOwned);
        let out = handler(&mut placeholder, token);
        out.replies
            .into_iter()
            .find(|(t, _)| *t == token)
            .map(|(_, r)| r)
            .unwrap_or_else(|| S::error_reply(ErrorCode::NOT_COORDINATOR))
    }

    /// Reads the committed state of partition `index`'s shard (a placeholder's answer when it
    /// is loading or not led here).
    pub fn read<T>(&self, index: i32, f: impl FnOnce(&S) -> T) -> T {
        match self.shard(index) {
            Some(shard) => shard.read(f),
            None => f(&(self.factory)(index, Ownership::NotOwned)),
        }
    }

    /// Writes waiting in partition `index`'s queue, for tests.
    #[cfg(test)]
    pub(crate) fn queued(&self, index: i32) -> usize {
        self.shard(index).map_or(0, |s| s.queued())
    }

    /// Reads every shard's committed state, in partition order.
    pub fn read_each(&self, mut f: impl FnMut(i32, &S)) {
        for shard in self.all_shards() {
            shard.read(|s| f(shard.index, s));
        }
    }
}

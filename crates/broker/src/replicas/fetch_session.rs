//! Incremental fetch sessions (KIP-227).
//!
//! A client opens a session with a full fetch (epoch 0). The broker remembers the session's
//! partitions, their fetch offsets and what it last reported for each (high watermark, last
//! stable offset, log start offset). Later fetches (epoch 1, 2, ...) only name partitions that
//! changed on the client's side, and the response only carries partitions with something new.
//! Epoch -1 is a sessionless full fetch. The cache holds at most
//! `max.incremental.fetch.session.cache.slots` sessions and evicts the least recently used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use indexmap::IndexMap;
use sluice_protocol::error::ErrorCode;
use uuid::Uuid;

/// A partition as the client names it: by topic name (Fetch < v13) or topic id (v13+).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartKey {
    pub topic: String,
    pub topic_id: Uuid,
    pub partition: i32,
}

/// What the session knows of one partition.
#[derive(Debug, Clone)]
pub struct CachedPartition {
    pub fetch_offset: i64,
    pub partition_max_bytes: i32,
    pub current_leader_epoch: i32,
    /// Last values sent to the client; -1 before the first response.
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

impl CachedPartition {
    pub fn new(fetch_offset: i64, partition_max_bytes: i32, current_leader_epoch: i32) -> Self {
        CachedPartition {
            fetch_offset,
            partition_max_bytes,
            current_leader_epoch,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
        }
    }
}

struct Session {
    /// The epoch the next request must carry.
    next_epoch: i32,
    partitions: IndexMap<PartKey, CachedPartition>,
    last_used: Instant,
}

struct Inner {
    sessions: HashMap<i32, Session>,
    next_id: i32,
}

pub struct FetchSessionCache {
    max_sessions: usize,
    inner: Mutex<Inner>,
}

/// The values reported for a partition in a response, for the session to remember.
pub struct Reported {
    pub key: PartKey,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

impl FetchSessionCache {
    pub fn new(max_sessions: usize) -> Self {
        FetchSessionCache {
            max_sessions,
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                next_id: 1,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn remove(&self, session_id: i32) {
        self.lock().sessions.remove(&session_id);
    }

    /// Opens a session for a full fetch; returns its id, or 0 when sessions are disabled.
    pub fn create(&self, partitions: IndexMap<PartKey, CachedPartition>) -> i32 {
        if self.max_sessions == 0 {
            return 0;
        }
        let mut inner = self.lock();
        if inner.sessions.len() >= self.max_sessions {
            if let Some(oldest) = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id)
            {
                inner.sessions.remove(&oldest);
            }
        }
        let mut id = inner.next_id;
        while id == 0 || inner.sessions.contains_key(&id) {
            id = id.wrapping_add(1).max(1);
        }
        inner.next_id = id.wrapping_add(1).max(1);
        inner.sessions.insert(
            id,
            Session {
                // `complete` of the creating (epoch 0) fetch moves this to 1.
                next_epoch: 0,
                partitions,
                last_used: Instant::now(),
            },
        );
        id
    }

    /// Applies an incremental request to session `id` and returns all its partitions (with
    /// what was last reported for each).
    pub fn update(
        &self,
        id: i32,
        epoch: i32,
        changed: Vec<(PartKey, CachedPartition)>,
        forgotten: &[PartKey],
    ) -> Result<IndexMap<PartKey, CachedPartition>, ErrorCode> {
        let mut inner = self.lock();
        let Some(session) = inner.sessions.get_mut(&id) else {
            return Err(ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
        };
        if session.next_epoch != epoch {
            return Err(ErrorCode::INVALID_FETCH_SESSION_EPOCH);
        }
        for key in forgotten {
            session.partitions.shift_remove(key);
        }
        for (key, part) in changed {
            match session.partitions.get_mut(&key) {
                Some(cached) => {
                    cached.fetch_offset = part.fetch_offset;
                    cached.partition_max_bytes = part.partition_max_bytes;
                    cached.current_leader_epoch = part.current_leader_epoch;
                }
                None => {
                    session.partitions.insert(key, part);
                }
            }
        }
        session.last_used = Instant::now();
        Ok(session.partitions.clone())
    }

    /// Records what a response told the client and advances the session's epoch.
    pub fn complete(&self, id: i32, reported: Vec<Reported>) {
        let mut inner = self.lock();
        if let Some(session) = inner.sessions.get_mut(&id) {
            for r in reported {
                if let Some(c) = session.partitions.get_mut(&r.key) {
                    c.high_watermark = r.high_watermark;
                    c.last_stable_offset = r.last_stable_offset;
                    c.log_start_offset = r.log_start_offset;
                }
            }
            session.next_epoch = session.next_epoch.wrapping_add(1).max(1);
            session.last_used = Instant::now();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: i32) -> PartKey {
        PartKey {
            topic: "t".into(),
            topic_id: Uuid::nil(),
            partition: p,
        }
    }

    #[test]
    fn session_lifecycle() {
        let cache = FetchSessionCache::new(2);
        let mut parts = IndexMap::new();
        parts.insert(key(0), CachedPartition::new(0, 1024, -1));
        let id = cache.create(parts);
        assert_ne!(id, 0);
        cache.complete(id, vec![]);
        assert_eq!(
            cache.update(id, 2, vec![], &[]).unwrap_err(),
            ErrorCode::INVALID_FETCH_SESSION_EPOCH
        );
        let all = cache
            .update(
                id,
                1,
                vec![(key(1), CachedPartition::new(5, 1024, -1))],
                &[],
            )
            .unwrap();
        assert_eq!(all.len(), 2);
        cache.complete(id, vec![]);
        let all = cache.update(id, 2, vec![], &[key(0)]).unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), vec![&key(1)]);
        assert_eq!(
            cache.update(999, 1, vec![], &[]).unwrap_err(),
            ErrorCode::FETCH_SESSION_ID_NOT_FOUND
        );
    }

    #[test]
    fn least_recently_used_is_evicted() {
        let cache = FetchSessionCache::new(1);
        let a = cache.create(IndexMap::new());
        cache.complete(a, vec![]);
        let b = cache.create(IndexMap::new());
        cache.complete(b, vec![]);
        assert_eq!(cache.len(), 1);
        assert!(cache.update(a, 1, vec![], &[]).is_err());
        assert!(cache.update(b, 1, vec![], &[]).is_ok());
        assert_eq!(FetchSessionCache::new(0).create(IndexMap::new()), 0);
    }
}

//! A map whose entries can be read as they were before the writes that are not committed yet:
//! the coordinators' equivalent of Kafka's timeline data structures.
//!
//! A coordinator shard changes its state in writes, numbered in the order they run
//! ([`WriteId`]). The runtime appends each write's records and only later learns whether they
//! were committed (the high watermark passed them) or failed. Meanwhile:
//! - write handlers see the latest state ([`TimelineMap::get`], [`TimelineMap::get_mut`], ...),
//!   including the changes of writes still in flight;
//! - reads see the committed state ([`TimelineMap::get_committed`],
//!   [`TimelineMap::range_committed`], ...);
//! - a failed write and every write after it are undone ([`TimelineMap::revert_from`]).
//!
//! Copy-on-write per key: the first time a write changes a key, the map keeps the key's value
//! as it was before (`None` when absent), tagged with the write. A key changed by several
//! writes in flight has a stack of such pre-images, oldest first; the oldest is the committed
//! value. [`TimelineMap::commit_through`] drops the pre-images of committed writes;
//! [`TimelineMap::revert_from`] puts back the pre-image of the earliest reverted write.
//! Changes made outside a write ([`TimelineMap::end_writes`], e.g. while loading committed
//! records) keep no pre-image: they are committed at once.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::RangeBounds;

/// Numbers the writes of one shard in the order they ran.
pub type WriteId = u64;

/// A sorted map with a committed view (see the module docs).
#[derive(Debug, Clone)]
pub struct TimelineMap<K: Ord + Clone, V: Clone> {
    latest: BTreeMap<K, V>,
    /// For each key changed by a write not committed yet: its value before each such write
    /// (`None`: absent), oldest first.
    /// invariant: write ids strictly increase along each list, and no list is empty.
    history: BTreeMap<K, Vec<(WriteId, Option<V>)>>,
    /// The write changes are recorded for; `None`: changes are committed as they are made.
    current: Option<WriteId>,
}

impl<K: Ord + Clone, V: Clone> Default for TimelineMap<K, V> {
    fn default() -> Self {
        TimelineMap {
            latest: BTreeMap::new(),
            history: BTreeMap::new(),
            current: None,
        }
    }
}

impl<K: Ord + Clone, V: Clone> TimelineMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    // -----------------------------------------------------------------------------------------
    // Write framing

    /// Changes from now on belong to write `id` (later than every write before).
    pub fn begin_write(&mut self, id: WriteId) {
        debug_assert!(self.current.is_none_or(|c| c < id), "write ids go up");
        self.current = Some(id);
    }

    /// Changes from now on are committed as they are made (loading committed records).
    pub fn end_writes(&mut self) {
        self.current = None;
    }

    /// Writes up to and including `id` are committed: their pre-images go.
    pub fn commit_through(&mut self, id: WriteId) {
        self.history.retain(|_, stack| {
            stack.retain(|(write, _)| *write > id);
            !stack.is_empty()
        });
    }

    /// Write `id` and every later one failed: each key they changed gets back its value from
    /// before the earliest of them.
    pub fn revert_from(&mut self, id: WriteId) {
        let latest = &mut self.latest;
        self.history.retain(|key, stack| {
            if let Some(pos) = stack.iter().position(|(write, _)| *write >= id) {
                match stack.drain(pos..).next().and_then(|(_, before)| before) {
                    Some(v) => {
                        latest.insert(key.clone(), v);
                    }
                    None => {
                        latest.remove(key);
                    }
                }
            }
            !stack.is_empty()
        });
    }

    /// Whether some key has a change not committed yet.
    pub fn has_uncommitted(&self) -> bool {
        !self.history.is_empty()
    }

    /// Keeps `key`'s value before the current write changes it (once per write).
    fn remember<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        let Some(id) = self.current else {
            return;
        };
        match self.history.get_mut(key) {
            Some(stack) => {
                if stack.last().is_some_and(|(write, _)| *write == id) {
                    return;
                }
                stack.push((id, self.latest.get(key).cloned()));
            }
            None => {
                self.history
                    .insert(key.to_owned(), vec![(id, self.latest.get(key).cloned())]);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Latest state (write handlers)

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.latest.get(key)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.latest.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    pub fn iter(&self) -> std::collections::btree_map::Iter<'_, K, V> {
        self.latest.iter()
    }

    pub fn keys(&self) -> std::collections::btree_map::Keys<'_, K, V> {
        self.latest.keys()
    }

    pub fn values(&self) -> std::collections::btree_map::Values<'_, K, V> {
        self.latest.values()
    }

    pub fn range<R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> std::collections::btree_map::Range<'_, K, V> {
        self.latest.range(range)
    }

    /// The value of `key`, to change: the current write keeps its pre-image first.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if !self.latest.contains_key(key) {
            return None;
        }
        self.remember(key);
        self.latest.get_mut(key)
    }

    /// The value of `key`, inserted with `make` if absent, to change.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.remember(&key);
        self.latest.entry(key).or_insert_with(make)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.remember(&key);
        self.latest.insert(key, value)
    }

    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if !self.latest.contains_key(key) {
            return None;
        }
        self.remember(key);
        self.latest.remove(key)
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let gone: Vec<K> = self
            .latest
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    /// Drops every entry whose key `gone` accepts, with its history, as if it had never been
    /// there: for state the coordinator stops serving (nothing is written, nothing is undone).
    pub fn discard(&mut self, mut gone: impl FnMut(&K) -> bool) {
        self.latest.retain(|k, _| !gone(k));
        self.history.retain(|k, _| !gone(k));
    }

    // -----------------------------------------------------------------------------------------
    // Committed state (reads)

    /// `key`'s value as of the last committed write.
    pub fn get_committed<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.history.get(key).and_then(|stack| stack.first()) {
            Some((_, before)) => before.as_ref(),
            None => self.latest.get(key),
        }
    }

    pub fn contains_key_committed<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get_committed(key).is_some()
    }

    /// The committed entries in `range`, in key order.
    pub fn range_committed<R: RangeBounds<K> + Clone>(
        &self,
        range: R,
    ) -> impl Iterator<Item = (&K, &V)> + '_ {
        merge_committed(
            self.latest.range(range.clone()).peekable(),
            self.history.range(range).peekable(),
        )
    }

    /// Every committed entry, in key order.
    pub fn iter_committed(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        merge_committed(
            self.latest.iter().peekable(),
            self.history.iter().peekable(),
        )
    }
}

/// Merges the latest entries with the pre-images: a key with a pre-image reads its oldest one
/// (skipped when it is an absence), any other key its latest value.
fn merge_committed<'a, K: Ord + 'a, V: 'a>(
    mut latest: std::iter::Peekable<impl Iterator<Item = (&'a K, &'a V)>>,
    mut history: std::iter::Peekable<impl Iterator<Item = (&'a K, &'a Vec<(WriteId, Option<V>)>)>>,
) -> impl Iterator<Item = (&'a K, &'a V)> {
    std::iter::from_fn(move || loop {
        let take_latest = match (latest.peek(), history.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((lk, _)), Some((hk, _))) => {
                if lk < hk {
                    true
                } else {
                    if lk == hk {
                        // The pre-image stands for this key.
                        latest.next();
                    }
                    false
                }
            }
        };
        if take_latest {
            return latest.next();
        }
        let (key, stack) = history.next()?;
        if let Some(value) = stack.first().and_then(|(_, before)| before.as_ref()) {
            return Some((key, value));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn committed(m: &TimelineMap<u8, u32>) -> Vec<(u8, u32)> {
        m.iter_committed().map(|(k, v)| (*k, *v)).collect()
    }

    fn latest(m: &TimelineMap<u8, u32>) -> Vec<(u8, u32)> {
        m.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn reads_see_the_value_before_writes_in_flight() {
        let mut m = TimelineMap::new();
        m.insert(1u8, 10u32);
        m.begin_write(1);
        m.insert(1, 11);
        m.insert(2, 20);
        m.begin_write(2);
        if let Some(v) = m.get_mut(&1) {
            *v = 12;
        }
        m.remove(&2);
        assert_eq!(latest(&m), vec![(1, 12)]);
        assert_eq!(committed(&m), vec![(1, 10)]);
        assert_eq!(m.get_committed(&2), None);
        m.commit_through(1);
        assert_eq!(committed(&m), vec![(1, 11), (2, 20)]);
        m.commit_through(2);
        assert_eq!(committed(&m), vec![(1, 12)]);
        assert!(!m.has_uncommitted());
    }

    #[test]
    fn a_failed_write_and_the_writes_after_it_are_undone() {
        let mut m = TimelineMap::new();
        m.insert(1u8, 10u32);
        m.begin_write(1);
        m.insert(1, 11);
        m.begin_write(2);
        m.insert(1, 12);
        m.insert(3, 30);
        m.begin_write(3);
        m.insert(1, 13);
        m.remove(&3);
        m.revert_from(2);
        assert_eq!(latest(&m), vec![(1, 11)]);
        assert_eq!(committed(&m), vec![(1, 10)]);
        m.commit_through(1);
        assert_eq!(committed(&m), vec![(1, 11)]);
        assert!(!m.has_uncommitted());
    }

    #[test]
    fn changes_outside_a_write_are_committed_at_once() {
        let mut m = TimelineMap::new();
        m.begin_write(1);
        m.insert(1u8, 1u32);
        m.end_writes();
        m.insert(2, 2);
        assert_eq!(committed(&m), vec![(2, 2)]);
        assert_eq!(
            m.range_committed(2..).map(|(k, _)| *k).collect::<Vec<_>>(),
            vec![2]
        );
    }

    /// One step of the model test.
    #[derive(Debug, Clone)]
    enum Op {
        Begin,
        Insert(u8, u32),
        Remove(u8),
        Bump(u8),
        Commit(u8),
        Revert(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Begin),
            (0u8..6, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..6).prop_map(Op::Remove),
            (0u8..6).prop_map(Op::Bump),
            (0u8..4).prop_map(Op::Commit),
            (0u8..4).prop_map(Op::Revert),
        ]
    }

    proptest! {
        /// Against a model that keeps a whole copy of the map before every write.
        #[test]
        fn matches_a_model_of_whole_copies(ops in proptest::collection::vec(op(), 0..80)) {
            let mut m: TimelineMap<u8, u32> = TimelineMap::new();
            let mut model: BTreeMap<u8, u32> = BTreeMap::new();
            // (write id, the whole map before it), for writes not committed yet.
            let mut before: Vec<(WriteId, BTreeMap<u8, u32>)> = Vec::new();
            let mut next: WriteId = 1;
            let mut in_write = false;
            for op in ops {
                match op {
                    Op::Begin => {
                        m.begin_write(next);
                        before.push((next, model.clone()));
                        next += 1;
                        in_write = true;
                    }
                    Op::Insert(k, v) if in_write => {
                        m.insert(k, v);
                        model.insert(k, v);
                    }
                    Op::Remove(k) if in_write => {
                        m.remove(&k);
                        model.remove(&k);
                    }
                    Op::Bump(k) if in_write => {
                        if let Some(v) = m.get_mut(&k) {
                            *v = v.wrapping_add(1);
                        }
                        if let Some(v) = model.get_mut(&k) {
                            *v = v.wrapping_add(1);
                        }
                    }
                    Op::Commit(n) => {
                        if let Some((id, _)) = before.get(usize::from(n)) {
                            let id = *id;
                            m.commit_through(id);
                            before.retain(|(w, _)| *w > id);
                            // A committed write changes nothing more.
                            in_write &= !before.is_empty();
                        }
                    }
                    Op::Revert(n) => {
                        if let Some((id, copy)) = before.get(usize::from(n)).cloned() {
                            m.revert_from(id);
                            model = copy;
                            before.retain(|(w, _)| *w < id);
                            // The next change starts a new write.
                            in_write = false;
                        }
                    }
                    _ => {}
                }
                let expected_committed = before.first().map_or(&model, |(_, c)| c);
                prop_assert_eq!(latest(&m), model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
                prop_assert_eq!(
                    committed(&m),
                    expected_committed.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>()
                );
                for k in 0..6u8 {
                    prop_assert_eq!(m.get_committed(&k), expected_committed.get(&k));
                }
            }
        }
    }
}

//! The sensors of a quota manager, one per metric key, bounded in number.
//!
//! Client ids come from the peers, so the map is bounded: sensors unused for
//! `idle_expiry_ms` are dropped (Kafka drops quota sensors after an hour without a record),
//! and when it is full anyway the least recently used sensor makes room. A dropped sensor's
//! group starts again from an empty window; within the bound that needs as many distinct groups
//! active at once as the bound allows.

use std::collections::HashMap;

use super::QuotaMetricKey;

/// How often idle sensors are looked for, at most (a sweep walks the whole map).
const SWEEP_INTERVAL_MS: u64 = 60_000;

#[derive(Debug)]
struct Entry<S> {
    sensor: S,
    last_used_ms: u64,
}

/// Invariant: `sensors.len() <= max_sensors`.
#[derive(Debug)]
pub(crate) struct SensorRegistry<S> {
    sensors: HashMap<QuotaMetricKey, Entry<S>>,
    max_sensors: usize,
    idle_expiry_ms: u64,
    last_sweep_ms: u64,
}

impl<S> SensorRegistry<S> {
    pub(crate) fn new(max_sensors: usize, idle_expiry_ms: u64) -> SensorRegistry<S> {
        SensorRegistry {
            sensors: HashMap::new(),
            max_sensors: max_sensors.max(1),
            idle_expiry_ms,
            last_sweep_ms: 0,
        }
    }

    /// `key`'s sensor, made by `make` if it has none, marked used at `now_ms`.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: &QuotaMetricKey,
        now_ms: u64,
        make: impl FnOnce() -> S,
    ) -> &mut S {
        if now_ms.saturating_sub(self.last_sweep_ms) >= SWEEP_INTERVAL_MS.min(self.idle_expiry_ms) {
            self.sweep(now_ms);
        }
        if !self.sensors.contains_key(key) && self.sensors.len() >= self.max_sensors {
            self.sweep(now_ms);
            if self.sensors.len() >= self.max_sensors {
                self.evict_least_recently_used();
            }
        }
        let entry = self.sensors.entry(key.clone()).or_insert_with(|| Entry {
            sensor: make(),
            last_used_ms: now_ms,
        });
        entry.last_used_ms = entry.last_used_ms.max(now_ms);
        &mut entry.sensor
    }

    /// `key`'s sensor if it has one, without marking it used.
    pub(crate) fn get_mut(&mut self, key: &QuotaMetricKey) -> Option<&mut S> {
        self.sensors.get_mut(key).map(|e| &mut e.sensor)
    }

    pub(crate) fn len(&self) -> usize {
        self.sensors.len()
    }

    fn sweep(&mut self, now_ms: u64) {
        let expiry = self.idle_expiry_ms;
        self.sensors
            .retain(|_, e| now_ms.saturating_sub(e.last_used_ms) < expiry);
        self.last_sweep_ms = now_ms;
    }

    fn evict_least_recently_used(&mut self) {
        let oldest = self
            .sensors
            .iter()
            .min_by_key(|(_, e)| e.last_used_ms)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest {
            self.sensors.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> QuotaMetricKey {
        QuotaMetricKey::new(None, Some(&format!("client-{n}")))
    }

    #[test]
    fn idle_sensors_expire() {
        let mut r: SensorRegistry<u32> = SensorRegistry::new(100, 3_600_000);
        *r.get_or_insert_with(&key(1), 0, || 0) += 1;
        *r.get_or_insert_with(&key(2), 1_000_000, || 0) += 1;
        assert_eq!(r.len(), 2);
        // At one hour after key 1's last use, the next access sweeps it away.
        *r.get_or_insert_with(&key(2), 3_600_000, || 0) += 1;
        assert_eq!(r.len(), 1);
        assert!(r.get_mut(&key(1)).is_none());
        assert_eq!(r.get_mut(&key(2)).copied(), Some(2));
    }

    #[test]
    fn a_full_registry_drops_the_least_recently_used() {
        let mut r: SensorRegistry<u32> = SensorRegistry::new(3, 3_600_000);
        for n in 0..3 {
            r.get_or_insert_with(&key(n), u64::from(n), || n);
        }
        r.get_or_insert_with(&key(0), 10, || 99); // key 0 used again
        r.get_or_insert_with(&key(3), 11, || 3);
        assert_eq!(r.len(), 3);
        assert!(
            r.get_mut(&key(1)).is_none(),
            "key 1 was the least recently used"
        );
        assert_eq!(r.get_mut(&key(0)).copied(), Some(0), "kept, not remade");
        assert_eq!(r.get_mut(&key(3)).copied(), Some(3));
    }
}

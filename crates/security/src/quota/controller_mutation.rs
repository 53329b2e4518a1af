//! The controller mutation quotas of every group (Kafka's `ControllerMutationQuotaManager`):
//! one [`TokenBucket`] per metric key.
//!
//! The handler of CreateTopics, CreatePartitions or DeleteTopics resolves the connection's
//! `controller_mutation_rate`, then, topic by topic, asks [`try_record`] for the topic's
//! partition count: a refused topic gets THROTTLING_QUOTA_EXCEEDED
//! ([`THROTTLING_QUOTA_EXCEEDED`](super::THROTTLING_QUOTA_EXCEEDED)) and the response's
//! `throttle_time_ms` is the throttle of the refusal. Older request versions use [`record`].
//!
//! [`try_record`]: ControllerMutationQuotaManager::try_record
//! [`record`]: ControllerMutationQuotaManager::record

use super::manager::{DEFAULT_MAX_SENSORS, SENSOR_IDLE_EXPIRY_MS};
use super::sensor_registry::SensorRegistry;
use super::{QuotaMetricKey, QuotaWindow, TokenBucket};

/// Token buckets per metric key.
#[derive(Debug)]
pub struct ControllerMutationQuotaManager {
    window: QuotaWindow,
    buckets: SensorRegistry<TokenBucket>,
}

impl ControllerMutationQuotaManager {
    /// `window` from `controller.quota.window.num` and `controller.quota.window.size.seconds`.
    pub fn new(window: QuotaWindow) -> ControllerMutationQuotaManager {
        ControllerMutationQuotaManager::with_limits(
            window,
            DEFAULT_MAX_SENSORS,
            SENSOR_IDLE_EXPIRY_MS,
        )
    }

    pub fn with_limits(
        window: QuotaWindow,
        max_buckets: usize,
        idle_expiry_ms: u64,
    ) -> ControllerMutationQuotaManager {
        ControllerMutationQuotaManager {
            window,
            buckets: SensorRegistry::new(max_buckets, idle_expiry_ms),
        }
    }

    /// [`TokenBucket::try_record`] on `metric_key`'s bucket at the quota `rate` resolved now.
    pub fn try_record(
        &mut self,
        metric_key: &QuotaMetricKey,
        rate: f64,
        mutations: f64,
        now_ms: u64,
    ) -> Result<(), u64> {
        self.bucket(metric_key, rate, now_ms)
            .try_record(mutations, now_ms)
    }

    /// [`TokenBucket::record`] on `metric_key`'s bucket at the quota `rate` resolved now.
    pub fn record(
        &mut self,
        metric_key: &QuotaMetricKey,
        rate: f64,
        mutations: f64,
        now_ms: u64,
    ) -> u64 {
        self.bucket(metric_key, rate, now_ms)
            .record(mutations, now_ms)
    }

    /// Buckets held now.
    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }

    fn bucket(&mut self, metric_key: &QuotaMetricKey, rate: f64, now_ms: u64) -> &mut TokenBucket {
        let window = self.window;
        let bucket = self.buckets.get_or_insert_with(metric_key, now_ms, || {
            TokenBucket::new(rate, window, now_ms)
        });
        if bucket.rate() != rate {
            bucket.set_rate(rate, now_ms);
        }
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_group_has_its_own_bucket() {
        let mut m = ControllerMutationQuotaManager::new(QuotaWindow::new(10, 1).expect("valid"));
        let a = QuotaMetricKey::new(Some("alice"), None);
        let b = QuotaMetricKey::new(Some("bob"), None);
        // Burst 10 * 1 s * 2/s = 20.
        assert_eq!(m.try_record(&a, 2.0, 30.0, 0), Ok(()));
        assert_eq!(m.try_record(&a, 2.0, 1.0, 0), Err(5_000));
        assert_eq!(m.try_record(&b, 2.0, 1.0, 0), Ok(()));
        assert_eq!(m.bucket_count(), 2);
        assert_eq!(m.try_record(&a, 2.0, 1.0, 5_000), Ok(()));
    }

    #[test]
    fn a_changed_quota_applies_to_the_existing_bucket() {
        let mut m = ControllerMutationQuotaManager::new(QuotaWindow::new(10, 1).expect("valid"));
        let a = QuotaMetricKey::new(None, Some("admin"));
        assert_eq!(m.try_record(&a, 10.0, 100.0, 0), Ok(()));
        // Empty bucket; at 1/s it takes 50 s to pay back 50.
        assert_eq!(m.record(&a, 1.0, 50.0, 0), 50_000);
    }
}

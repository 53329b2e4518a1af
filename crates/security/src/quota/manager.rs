//! The quota sensors of one quota type on this broker (Kafka keeps one `ClientQuotaManager`
//! each for produce bytes, fetch bytes and request time), and the throttle times they give.
//!
//! The broker's use, per request (KIP-219):
//! 1. resolve the connection's quota ([`QuotaStore::resolve`](super::QuotaStore::resolve));
//!    with none, nothing is recorded;
//! 2. handle the request as usual: a produce over quota is still appended, a fetch still read;
//! 3. [`QuotaManager::record_and_throttle`] the bytes (or the request time): they are recorded
//!    even when the group is over its quota, so a group that keeps sending stays throttled;
//! 4. answer at once with the throttle time in `throttle_time_ms` (the largest of the quotas
//!    that apply, e.g. bytes and request time for a produce), then stop reading from that
//!    connection for that long, so a client that ignores the field is held back all the same.
//!
//! A fetch over its quota is answered empty (KIP-219); its bytes were recorded before the
//! throttle was known, so the broker takes them back with [`QuotaManager::unrecord`].

use super::sampled_rate::SampledRate;
use super::sensor_registry::SensorRegistry;
use super::throttle::bounded_throttle_time_ms;
use super::{QuotaMetricKey, QuotaWindow};

/// Kafka drops a quota sensor after an hour without a record.
pub const SENSOR_IDLE_EXPIRY_MS: u64 = 3_600_000;
/// Sensors one manager keeps at most by default; each holds a window of samples (a few hundred
/// bytes with the default 11), so 100 000 is some tens of MB.
pub const DEFAULT_MAX_SENSORS: usize = 100_000;

/// How a [`QuotaManager`] measures and throttles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaManagerConfig {
    pub window: QuotaWindow,
    /// The longest throttle time given; `None` for none (Kafka's byte-rate quotas).
    pub max_throttle_ms: Option<u64>,
    pub max_sensors: usize,
    pub sensor_idle_expiry_ms: u64,
}

impl QuotaManagerConfig {
    /// For `producer_byte_rate` and `consumer_byte_rate`: throttles are not capped, as in
    /// Kafka's `ClientQuotaManager`.
    pub fn byte_rate(window: QuotaWindow) -> QuotaManagerConfig {
        QuotaManagerConfig {
            window,
            max_throttle_ms: None,
            max_sensors: DEFAULT_MAX_SENSORS,
            sensor_idle_expiry_ms: SENSOR_IDLE_EXPIRY_MS,
        }
    }

    /// For `request_percentage`: throttles are capped at one sample window
    /// (`quota.window.size.seconds`), as in Kafka's `ClientRequestQuotaManager`; a single slow
    /// request does not shut a client out for the whole window.
    pub fn request_time(window: QuotaWindow) -> QuotaManagerConfig {
        QuotaManagerConfig {
            max_throttle_ms: Some(window.size_ms()),
            ..QuotaManagerConfig::byte_rate(window)
        }
    }
}

/// Sampled rates per metric key, for one quota type.
#[derive(Debug)]
pub struct QuotaManager {
    config: QuotaManagerConfig,
    sensors: SensorRegistry<SampledRate>,
}

impl QuotaManager {
    pub fn new(config: QuotaManagerConfig) -> QuotaManager {
        QuotaManager {
            config,
            sensors: SensorRegistry::new(config.max_sensors, config.sensor_idle_expiry_ms),
        }
    }

    pub fn config(&self) -> &QuotaManagerConfig {
        &self.config
    }

    /// Records `value` (bytes, or request time as a percentage from
    /// [`request_time_percentage`](super::request_time_percentage)) on `metric_key`'s sensor at
    /// `now_ms`, then measures the group's rate: the milliseconds the connection must wait if it
    /// is above `quota`, else 0.
    ///
    /// The value is recorded whether or not the group is over its quota: the request it
    /// measures was served (Kafka appends a produce over quota and throttles afterwards). The
    /// quota is the one resolved now, so a changed quota applies to the history measured so far.
    /// The result may exceed `i32::MAX` for an absurd burst; the caller clamps it for the wire.
    pub fn record_and_throttle(
        &mut self,
        metric_key: &QuotaMetricKey,
        quota: f64,
        value: f64,
        now_ms: u64,
    ) -> u64 {
        let window = self.config.window;
        let sensor = self
            .sensors
            .get_or_insert_with(metric_key, now_ms, || SampledRate::new(window));
        sensor.record(value, now_ms);
        let rate = sensor.rate(now_ms);
        let window_length_ms = sensor.window_length_ms(now_ms);
        bounded_throttle_time_ms(
            rate,
            quota,
            window_length_ms,
            self.config.max_throttle_ms.unwrap_or(u64::MAX),
        )
    }

    /// Records `value` without measuring (Kafka's `recordNoThrottle`: network-thread time
    /// that is known only after the response is sent counts against the next request).
    pub fn record(&mut self, metric_key: &QuotaMetricKey, value: f64, now_ms: u64) {
        let window = self.config.window;
        self.sensors
            .get_or_insert_with(metric_key, now_ms, || SampledRate::new(window))
            .record(value, now_ms);
    }

    /// Takes back `value` recorded by [`QuotaManager::record_and_throttle`] for a fetch that is
    /// answered empty because it was throttled.
    pub fn unrecord(&mut self, metric_key: &QuotaMetricKey, value: f64, now_ms: u64) {
        if let Some(sensor) = self.sensors.get_mut(metric_key) {
            sensor.record(-value, now_ms);
        }
    }

    /// The group's measured rate, if it has a sensor.
    pub fn rate(&mut self, metric_key: &QuotaMetricKey, now_ms: u64) -> Option<f64> {
        self.sensors.get_mut(metric_key).map(|s| s.rate(now_ms))
    }

    /// Sensors held now.
    pub fn sensor_count(&self) -> usize {
        self.sensors.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    fn key(client_id: &str) -> QuotaMetricKey {
        QuotaMetricKey::new(None, Some(client_id))
    }

    fn two_one_second_windows() -> QuotaWindow {
        QuotaWindow::new(2, 1).expect("valid window")
    }

    #[test]
    fn within_quota_nothing_is_throttled() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(QuotaWindow::DEFAULT));
        for t in 0..100 {
            // 100 KB/s against a 1 MiB/s quota.
            assert_eq!(
                m.record_and_throttle(&key("app"), MIB, 10_000.0, t * 100),
                0
            );
        }
    }

    #[test]
    fn the_throttle_follows_kafkas_formula() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(two_one_second_windows()));
        // 3 MiB at once: the window is 1 s (num - 1 whole windows), the rate 3 MiB/s, so
        // (3 - 1) / 1 * 1000 ms.
        assert_eq!(m.record_and_throttle(&key("app"), MIB, 3.0 * MIB, 0), 2000);
        // Half a second later, 1 MiB more: 4 MiB over 1.5 s, (4 / 1.5 - 1) / 1 * 1500 ms.
        assert_eq!(m.record_and_throttle(&key("app"), MIB, MIB, 500), 2500);
    }

    #[test]
    fn bytes_are_recorded_even_when_throttled() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(QuotaWindow::DEFAULT));
        let first = m.record_and_throttle(&key("app"), 100.0, 2000.0, 0);
        let second = m.record_and_throttle(&key("app"), 100.0, 2000.0, 0);
        assert!(second > first, "{second} > {first}");
        assert_eq!(m.rate(&key("app"), 0), Some(400.0));
    }

    #[test]
    fn byte_rate_throttles_are_not_capped_request_time_ones_are() {
        let window = QuotaWindow::DEFAULT;
        let mut bytes = QuotaManager::new(QuotaManagerConfig::byte_rate(window));
        // 100 times the quota over the 10 s minimum window: 99 * 10 s.
        assert_eq!(
            bytes.record_and_throttle(&key("a"), 10.0, 10_000.0, 0),
            990_000
        );
        let mut time = QuotaManager::new(QuotaManagerConfig::request_time(window));
        assert_eq!(time.record_and_throttle(&key("a"), 10.0, 10_000.0, 0), 1000);
    }

    #[test]
    fn groups_are_measured_apart() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(two_one_second_windows()));
        assert!(m.record_and_throttle(&key("greedy"), 100.0, 1000.0, 0) > 0);
        assert_eq!(m.record_and_throttle(&key("modest"), 100.0, 10.0, 0), 0);
        assert_eq!(m.sensor_count(), 2);
    }

    #[test]
    fn an_unrecorded_fetch_does_not_count() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(two_one_second_windows()));
        let throttle = m.record_and_throttle(&key("c"), 100.0, 500.0, 0);
        assert!(throttle > 0);
        m.unrecord(&key("c"), 500.0, 0);
        assert_eq!(m.rate(&key("c"), 0), Some(0.0));
        m.unrecord(&key("unknown"), 500.0, 0);
        assert_eq!(
            m.rate(&key("unknown"), 0),
            None,
            "no sensor is made to take back"
        );
    }

    #[test]
    fn idle_sensors_are_dropped_and_the_count_is_bounded() {
        let config = QuotaManagerConfig {
            max_sensors: 10,
            ..QuotaManagerConfig::byte_rate(QuotaWindow::DEFAULT)
        };
        let mut m = QuotaManager::new(config);
        for n in 0..50 {
            m.record_and_throttle(&key(&format!("c{n}")), 100.0, 1.0, n);
        }
        assert_eq!(m.sensor_count(), 10);
        m.record_and_throttle(&key("late"), 100.0, 1.0, SENSOR_IDLE_EXPIRY_MS + 100);
        assert_eq!(m.sensor_count(), 1, "the others were idle for an hour");
    }

    /// quota.window.num = 2, quota.window.size.seconds = 1, producer quota 1 MiB/s: a producer
    /// that would send 2 MiB/s and waits out every throttle gets about 1 MiB/s.
    #[test]
    fn a_producer_obeying_throttles_averages_its_quota() {
        let mut m = QuotaManager::new(QuotaManagerConfig::byte_rate(two_one_second_windows()));
        let producer = QuotaMetricKey::new(Some("alice"), None);
        let batch = 2.0 * MIB / 10.0; // every 100 ms: 2 MiB/s
        let end_ms = 20_000;
        let mut now_ms = 0;
        let mut sent = 0.0;
        let mut throttled = 0;
        while now_ms < end_ms {
            sent += batch;
            let throttle_ms = m.record_and_throttle(&producer, MIB, batch, now_ms);
            if throttle_ms > 0 {
                throttled += 1;
            }
            // The next batch goes at its own pace, or once the throttle is over.
            now_ms += 100.max(throttle_ms);
        }
        let average = sent / (end_ms as f64 / 1000.0);
        assert!(throttled > 0);
        assert!(
            (average - MIB).abs() <= 0.2 * MIB,
            "average {:.3} MiB/s",
            average / MIB
        );
    }
}

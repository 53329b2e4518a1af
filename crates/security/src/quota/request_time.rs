//! The request-time quota (`request_percentage`, KIP-124): the share of the broker's
//! request-handling threads a group may keep busy.
//!
//! The quota is a percentage of one thread's time over the quota window: 100 is one thread
//! busy all the time, 200 two, so a broker's whole capacity is
//! `(num.io.threads + num.network.threads) * 100`. The broker measures, per request, the time
//! its threads spent on it (in nanoseconds), converts it with [`request_time_percentage`], and
//! records it on a [`QuotaManager`](super::QuotaManager) made with
//! [`QuotaManagerConfig::request_time`](super::QuotaManagerConfig::request_time), whose
//! throttles are capped at one sample window as Kafka caps them. A produce with `acks=0` is not
//! throttled on request time (it gets no response to carry the throttle).

/// Nanoseconds to "percent-seconds": recorded in this unit, the sampled rate (per second) is a
/// percentage of one thread (Kafka's `NanosToPercentagePerSecond`).
pub const NANOS_TO_PERCENTAGE_PER_SECOND: f64 = 100.0 / 1_000_000_000.0;

/// The value to record for a request that kept a thread busy for `thread_time_nanos`.
pub fn request_time_percentage(thread_time_nanos: u64) -> f64 {
    thread_time_nanos as f64 * NANOS_TO_PERCENTAGE_PER_SECOND
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{QuotaManager, QuotaManagerConfig, QuotaMetricKey, QuotaWindow};

    #[test]
    fn one_busy_second_is_one_hundred_percent_second() {
        assert_eq!(request_time_percentage(1_000_000_000), 100.0);
        assert_eq!(request_time_percentage(5_000_000), 0.5);
        assert_eq!(request_time_percentage(0), 0.0);
    }

    /// Nearly two threads (95 % each) busy with a group's requests all the time: within a
    /// 200 % quota, over a 100 % one, and the throttle never exceeds one sample window.
    #[test]
    fn nearly_two_busy_threads_fit_a_two_hundred_percent_quota() {
        let window = QuotaWindow::DEFAULT;
        let key = QuotaMetricKey::new(Some("alice"), None);
        let mut two_threads = QuotaManager::new(QuotaManagerConfig::request_time(window));
        let mut one_thread = QuotaManager::new(QuotaManagerConfig::request_time(window));
        let mut over = 0;
        for ms in 0..30_000u64 {
            // Each millisecond, 1.9 ms of thread time.
            let value = request_time_percentage(1_900_000);
            assert_eq!(two_threads.record_and_throttle(&key, 200.0, value, ms), 0);
            let throttle = one_thread.record_and_throttle(&key, 100.0, value, ms);
            assert!(throttle <= window.size_ms());
            if throttle > 0 {
                over += 1;
            }
        }
        assert!(over > 0);
        let rate = two_threads.rate(&key, 30_000).expect("sensor");
        assert!((rate - 190.0).abs() < 2.0, "{rate}");
    }
}

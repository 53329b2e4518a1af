//! [`ThrottleTimeSensor`]: Kafka's `throttle-time` of the `Produce` and `Fetch` quota sensors
//! (`kafka_server_produce_throttle_time`, `kafka_server_fetch_throttle_time`): the average
//! throttle time, in milliseconds, of the responses the byte-rate quotas throttled within the
//! quota window (`quota.window.num` samples of `quota.window.size.seconds`); 0 when none was.
//!
//! - What is recorded: as in Kafka (`ClientQuotaManager.throttle`), only a throttled response's
//!   throttle time; an unthrottled response records nothing, so it costs nothing here. Kafka
//!   keeps one sensor per user and client id; Sluice one per broker (the series has no labels).
//! - Samples, as Kafka's `SampledStat` (and `sluice_security::quota::SampledRate`): a sample
//!   starts when a value arrives and takes values for `size`; the next value after that starts
//!   a new sample, which replaces the oldest once `num` are in use. A sample that started
//!   `num * size` or more ago no longer counts. The average is the counted samples' total over
//!   their number of values.
//! - Cost: a mutex, taken only by a throttled response (its connection then stops reading for
//!   the throttle time, so this happens seldom) and by a scrape (for `num` samples).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use sluice_security::quota::QuotaWindow;

#[derive(Debug, Clone, Copy)]
struct Sample {
    start_ms: u64,
    total_ms: u64,
    count: u64,
}

impl Sample {
    fn new(start_ms: u64) -> Sample {
        Sample {
            start_ms,
            total_ms: 0,
            count: 0,
        }
    }
}

/// invariant: `samples.len() <= window.samples()`, and `current < samples.len()` unless
/// `samples` is empty.
#[derive(Debug, Default)]
struct Samples {
    samples: Vec<Sample>,
    current: usize,
}

/// One sensor; clones share it (one is registered, the request path records into another).
#[derive(Debug, Clone)]
pub struct ThrottleTimeSensor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    window: QuotaWindow,
    /// Times are milliseconds since this instant.
    origin: Instant,
    samples: Mutex<Samples>,
}

impl ThrottleTimeSensor {
    pub fn new(window: QuotaWindow) -> ThrottleTimeSensor {
        ThrottleTimeSensor {
            inner: Arc::new(Inner {
                window,
                origin: Instant::now(),
                samples: Mutex::new(Samples::default()),
            }),
        }
    }

    /// Records a response's throttle time; 0 (not throttled) records nothing.
    pub fn record(&self, throttle_ms: i32) {
        let Ok(throttle_ms) = u64::try_from(throttle_ms) else {
            return;
        };
        if throttle_ms > 0 {
            let mut samples = self.lock();
            // Read under the lock: samples see times in order.
            let now_ms = self.now_ms();
            self.record_at(&mut samples, throttle_ms, now_ms);
        }
    }

    /// The average throttle time of the window now (0 when nothing was throttled in it).
    pub fn average_ms(&self) -> f64 {
        let mut samples = self.lock();
        let now_ms = self.now_ms();
        self.average_at(&mut samples, now_ms)
    }

    fn lock(&self) -> MutexGuard<'_, Samples> {
        // Each update leaves the samples consistent: usable after a panic elsewhere.
        self.inner.samples.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn record_at(&self, s: &mut Samples, throttle_ms: u64, now_ms: u64) {
        let window = self.inner.window;
        match s.samples.get(s.current) {
            None => {
                s.samples.push(Sample::new(now_ms));
                s.current = s.samples.len() - 1;
            }
            Some(sample) if now_ms.saturating_sub(sample.start_ms) >= window.size_ms() => {
                s.current = (s.current + 1) % window.samples() as usize;
                if s.current >= s.samples.len() {
                    s.samples.push(Sample::new(now_ms));
                    s.current = s.samples.len() - 1;
                } else {
                    s.samples[s.current] = Sample::new(now_ms);
                }
            }
            Some(_) => {}
        }
        let sample = &mut s.samples[s.current];
        sample.total_ms = sample.total_ms.saturating_add(throttle_ms);
        sample.count += 1;
    }

    fn average_at(&self, s: &mut Samples, now_ms: u64) -> f64 {
        let span_ms = self.inner.window.span_ms();
        let (mut total_ms, mut count) = (0u64, 0u64);
        for sample in s
            .samples
            .iter()
            .filter(|sample| now_ms.saturating_sub(sample.start_ms) < span_ms)
        {
            total_ms = total_ms.saturating_add(sample.total_ms);
            count += sample.count;
        }
        if count == 0 {
            0.0
        } else {
            total_ms as f64 / count as f64
        }
    }
}

/// Encoded as a gauge computed when scraped.
impl EncodeMetric for ThrottleTimeSensor {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.average_ms())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's default window: 11 samples of 1 s.
    fn sensor() -> ThrottleTimeSensor {
        ThrottleTimeSensor::new(QuotaWindow::DEFAULT)
    }

    fn record(sensor: &ThrottleTimeSensor, throttle_ms: u64, now_ms: u64) {
        sensor.record_at(&mut sensor.lock(), throttle_ms, now_ms);
    }

    fn average(sensor: &ThrottleTimeSensor, now_ms: u64) -> f64 {
        sensor.average_at(&mut sensor.lock(), now_ms)
    }

    #[test]
    fn the_value_is_the_average_of_the_window_not_the_latest() {
        let s = sensor();
        assert_eq!(average(&s, 0), 0.0, "nothing recorded");
        record(&s, 100, 0);
        record(&s, 300, 400);
        // Another sample, same window.
        record(&s, 500, 2_500);
        assert_eq!(average(&s, 2_600), 300.0);
        // Ten seconds on, the first sample (started at 0) still counts until 11 s.
        assert_eq!(average(&s, 10_999), 300.0);
        assert_eq!(average(&s, 11_000), 500.0, "the sample of 0 ms expired");
        assert_eq!(average(&s, 13_500), 0.0, "nothing in the window");
    }

    #[test]
    fn samples_are_reused_once_all_are_in_use() {
        let window = QuotaWindow::from_millis(2, 100).expect("valid");
        let s = ThrottleTimeSensor::new(window);
        record(&s, 10, 0);
        record(&s, 20, 100);
        // A third sample replaces the first.
        record(&s, 60, 200);
        assert_eq!(s.lock().samples.len(), 2);
        assert_eq!(average(&s, 200), 40.0);
        // The window is 200 ms: at 300 only the sample of 200 counts.
        assert_eq!(average(&s, 300), 60.0);
    }

    #[test]
    fn unthrottled_responses_record_nothing_and_the_metric_is_a_gauge() {
        let s = sensor();
        s.record(0);
        s.record(-1);
        assert!(s.lock().samples.is_empty());
        s.record(250);
        s.record(750);
        assert_eq!(s.average_ms(), 500.0);
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("throttle_time", "test", s.clone());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encodes");
        assert!(out.contains("# TYPE throttle_time gauge"), "{out}");
        assert!(out.contains("\nthrottle_time 500.0\n"), "{out}");
    }
}

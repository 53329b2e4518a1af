//! A rate over a sliding window of samples, as Kafka's `Rate` over a `SampledStat` measures
//! the usage of a quota.
//!
//! - Samples: at most `quota.window.num`, each covering `quota.window.size.seconds` from its
//!   start. A value goes into the current sample; once the current sample is a window old, the
//!   next value starts a new sample, which replaces the oldest once all slots are used.
//! - Expiry: a sample that started `num * size` or more ago is reset (to zero, starting now)
//!   before any measurement.
//! - Rate: the total of the samples divided by the window length, which is from the oldest
//!   sample's start to now, but at least `num - 1` whole windows (plus whatever of the current
//!   one has passed): a group that has just started is not measured over a few milliseconds,
//!   and one that was idle is not measured only over its latest burst. At least 1 ms.
//!
//! Samples start when a value arrives, not on a grid, as in Kafka.

use super::QuotaWindow;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    start_ms: u64,
    total: f64,
}

impl Sample {
    fn new(start_ms: u64) -> Sample {
        Sample {
            start_ms,
            total: 0.0,
        }
    }
}

/// A sampled rate, in units per second.
///
/// Invariant: `samples.len() <= window.samples()`, and `current < samples.len()` unless
/// `samples` is empty.
#[derive(Debug, Clone)]
pub struct SampledRate {
    window: QuotaWindow,
    samples: Vec<Sample>,
    current: usize,
}

impl SampledRate {
    pub fn new(window: QuotaWindow) -> SampledRate {
        SampledRate {
            window,
            samples: Vec::new(),
            current: 0,
        }
    }

    pub fn window(&self) -> QuotaWindow {
        self.window
    }

    /// Adds `value` at `now_ms`. A negative value takes back what was recorded (a throttled
    /// fetch whose bytes are not sent). A time before the current sample's start (a clock read
    /// on another thread a moment earlier) counts in the current sample.
    pub fn record(&mut self, value: f64, now_ms: u64) {
        let size_ms = self.window.size_ms();
        match self.samples.get(self.current) {
            None => {
                self.samples.push(Sample::new(now_ms));
                self.current = self.samples.len() - 1;
            }
            Some(sample) if now_ms.saturating_sub(sample.start_ms) >= size_ms => {
                self.current = (self.current + 1) % self.window.samples() as usize;
                if self.current >= self.samples.len() {
                    self.samples.push(Sample::new(now_ms));
                    self.current = self.samples.len() - 1;
                } else {
                    self.samples[self.current] = Sample::new(now_ms);
                }
            }
            Some(_) => {}
        }
        self.samples[self.current].total += value;
    }

    /// The measured rate at `now_ms`, per second.
    pub fn rate(&mut self, now_ms: u64) -> f64 {
        self.purge_expired(now_ms);
        let total: f64 = self.samples.iter().map(|s| s.total).sum();
        total / (self.window_length_ms(now_ms) as f64 / 1000.0)
    }

    /// The window length the rate divides by at `now_ms` (Kafka's `Rate.windowSize`); the
    /// throttle time is scaled by it too.
    pub fn window_length_ms(&mut self, now_ms: u64) -> u64 {
        self.purge_expired(now_ms);
        let oldest_start_ms = self
            .samples
            .iter()
            .map(|s| s.start_ms)
            .min()
            .unwrap_or(now_ms);
        let size_ms = self.window.size_ms();
        let mut elapsed_ms = now_ms.saturating_sub(oldest_start_ms);
        let full_windows = elapsed_ms / size_ms;
        let min_full_windows = u64::from(self.window.samples() - 1);
        if full_windows < min_full_windows {
            elapsed_ms += (min_full_windows - full_windows) * size_ms;
        }
        elapsed_ms.max(1)
    }

    fn purge_expired(&mut self, now_ms: u64) {
        let span_ms = self.window.span_ms();
        for sample in &mut self.samples {
            if now_ms.saturating_sub(sample.start_ms) >= span_ms {
                *sample = Sample::new(now_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(samples: u32, size_ms: u64) -> SampledRate {
        SampledRate::new(QuotaWindow::from_millis(samples, size_ms).expect("valid window"))
    }

    #[test]
    fn a_new_sensor_measures_over_at_least_num_minus_one_windows() {
        let mut r = rate(11, 1000);
        assert!(r.samples.is_empty());
        assert_eq!(r.rate(5_000), 0.0);
        r.record(1000.0, 10_000);
        // 0 ms elapsed: the length is 10 whole windows, 10 s.
        assert_eq!(r.window_length_ms(10_000), 10_000);
        assert_eq!(r.rate(10_000), 100.0);
        // 500 ms into the first window: 10.5 s.
        assert_eq!(r.window_length_ms(10_500), 10_500);
    }

    #[test]
    fn the_window_grows_from_the_oldest_sample_once_past_the_minimum() {
        let mut r = rate(3, 1000);
        for t in [0, 1000, 2000] {
            r.record(300.0, t);
        }
        // Oldest sample started at 0; 2.5 s passed, more than the 2 whole windows minimum.
        assert_eq!(r.window_length_ms(2500), 2500);
        assert_eq!(r.rate(2500), 900.0 / 2.5);
    }

    #[test]
    fn samples_roll_over_and_replace_the_oldest() {
        let mut r = rate(2, 1000);
        r.record(100.0, 0);
        r.record(100.0, 999); // same sample
        r.record(50.0, 1000); // second sample
        assert_eq!(r.samples.len(), 2);
        assert_eq!(r.rate(1500), 250.0 / 1.5);
        r.record(10.0, 2100); // third sample replaces the first (started at 0)
        assert_eq!(r.samples.len(), 2);
        // Samples now: [2100: 10], [1000: 50]; oldest starts at 1000.
        assert_eq!(r.window_length_ms(2100), 1100);
        assert_eq!(r.rate(2100), 60.0 / 1.1);
    }

    #[test]
    fn samples_older_than_the_whole_window_expire() {
        let mut r = rate(2, 1000);
        r.record(100.0, 0);
        r.record(100.0, 1000);
        // At 2000 the sample that started at 0 is num * size old: gone.
        assert_eq!(r.rate(1999), 200.0 / 1.999);
        assert_eq!(r.rate(2000), 100.0 / 1.0);
        // At 3000 both are gone.
        assert_eq!(r.rate(3000), 0.0);
        // Long idle: a new value is measured over the minimum window again, not over 1 ms.
        r.record(500.0, 60_000);
        assert_eq!(r.rate(60_000), 500.0);
    }

    #[test]
    fn negative_values_take_back_a_record() {
        let mut r = rate(11, 1000);
        r.record(4096.0, 0);
        r.record(-4096.0, 10);
        assert_eq!(r.rate(20), 0.0);
    }

    #[test]
    fn a_single_sample_window_measures_the_current_window_only() {
        let mut r = rate(1, 1000);
        r.record(10.0, 0);
        assert_eq!(r.window_length_ms(0), 1, "never zero");
        assert_eq!(r.window_length_ms(500), 500);
        r.record(10.0, 1000);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.rate(1500), 20.0);
    }

    #[test]
    fn time_going_back_counts_in_the_current_sample() {
        let mut r = rate(2, 1000);
        r.record(10.0, 5000);
        r.record(10.0, 4000);
        assert_eq!(r.samples.len(), 1);
        assert_eq!(r.samples[0].total, 20.0);
    }
}

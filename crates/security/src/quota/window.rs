//! The quota window: Kafka's `quota.window.num` samples of `quota.window.size.seconds` each
//! (and the `controller.quota.window.*` pair for controller mutations).

/// How a quota sensor measures: `samples` windows of `size_ms` each.
///
/// Invariant: `samples >= 1` and `size_ms >= 1` (Kafka's configs are at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    samples: u32,
    size_ms: u64,
}

impl QuotaWindow {
    /// Kafka's defaults: 11 samples of 1 s (10 whole windows and the current one).
    pub const DEFAULT: QuotaWindow = QuotaWindow {
        samples: 11,
        size_ms: 1000,
    };

    /// `quota.window.num` and `quota.window.size.seconds`; `None` if either is zero.
    pub fn new(samples: u32, size_seconds: u32) -> Option<QuotaWindow> {
        QuotaWindow::from_millis(samples, u64::from(size_seconds) * 1000)
    }

    /// A window size in milliseconds (tests use sub-second windows).
    pub fn from_millis(samples: u32, size_ms: u64) -> Option<QuotaWindow> {
        (samples >= 1 && size_ms >= 1).then_some(QuotaWindow { samples, size_ms })
    }

    pub fn samples(&self) -> u32 {
        self.samples
    }

    pub fn size_ms(&self) -> u64 {
        self.size_ms
    }

    /// How long a sample is kept: `samples * size`. Also the token bucket's full-refill time.
    pub fn span_ms(&self) -> u64 {
        u64::from(self.samples).saturating_mul(self.size_ms)
    }

    /// The most a group can use in one quota window without being throttled even when it has
    /// used nothing before: `quota * (samples - 1) * size` (Kafka's
    /// `getMaxValueInQuotaWindow`, which bounds how many bytes one fetch may return).
    pub fn max_value_in_quota_window(&self, quota: f64) -> f64 {
        quota * f64::from(self.samples - 1) * self.size_ms as f64 / 1000.0
    }
}

impl Default for QuotaWindow {
    fn default() -> QuotaWindow {
        QuotaWindow::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_and_defaults_are_kafkas() {
        assert_eq!(QuotaWindow::new(0, 1), None);
        assert_eq!(QuotaWindow::new(11, 0), None);
        assert_eq!(QuotaWindow::new(11, 1), Some(QuotaWindow::default()));
        let w = QuotaWindow::new(2, 3).expect("valid");
        assert_eq!((w.samples(), w.size_ms(), w.span_ms()), (2, 3000, 6000));
        assert_eq!(
            QuotaWindow::DEFAULT.max_value_in_quota_window(100.0),
            1000.0
        );
    }
}

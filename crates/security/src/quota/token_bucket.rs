//! The controller mutation quota's token bucket (KIP-599).
//!
//! CreateTopics, CreatePartitions and DeleteTopics cost one token per partition created or
//! deleted. A sampled rate serves them badly: one topic of 560 partitions against a quota of
//! 5/s keeps the rate above the quota until that sample expires, whatever the throttle says. So
//! the quota is a bucket instead:
//! - it refills at `rate` tokens per second up to `burst = rate * samples * size` (from
//!   `controller.quota.window.num` and `controller.quota.window.size.seconds`), and starts full;
//! - a request is accepted while the bucket is not below zero, and takes its tokens even if
//!   that drives the bucket negative (so a topic of any size can be created at once);
//! - while the bucket is below zero, requests are refused with THROTTLING_QUOTA_EXCEEDED and a
//!   throttle time of `-tokens / rate` seconds: until the bucket is back at zero.
//!
//! With 5/s and a burst of 500, a topic of 560 partitions is accepted and leaves -60 tokens;
//! the next request is refused with 12 s.

use super::QuotaWindow;

/// A token bucket of partition mutations.
///
/// Invariant: `tokens <= burst` for the current `rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    window: QuotaWindow,
    tokens: f64,
    last_update_ms: u64,
}

impl TokenBucket {
    /// A full bucket for `rate` mutations per second (a `controller_mutation_rate` quota).
    pub fn new(rate: f64, window: QuotaWindow, now_ms: u64) -> TokenBucket {
        let mut bucket = TokenBucket {
            rate,
            window,
            tokens: 0.0,
            last_update_ms: now_ms,
        };
        bucket.tokens = bucket.burst();
        bucket
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The most tokens the bucket holds: `rate * samples * size`.
    pub fn burst(&self) -> f64 {
        self.rate * self.window.span_ms() as f64 / 1000.0
    }

    /// A changed quota: tokens earned so far at the old rate are kept, up to the new burst.
    pub fn set_rate(&mut self, rate: f64, now_ms: u64) {
        self.refill(now_ms);
        self.rate = rate;
        self.tokens = self.tokens.min(self.burst());
    }

    /// The tokens left at `now_ms` (negative while the group is throttled).
    pub fn tokens(&mut self, now_ms: u64) -> f64 {
        self.refill(now_ms);
        self.tokens
    }

    /// For clients that understand THROTTLING_QUOTA_EXCEEDED (CreateTopics v6+, CreatePartitions
    /// v3+, DeleteTopics v5+): takes `mutations` tokens if the bucket is not below zero, else
    /// refuses with the milliseconds until it is back at zero.
    pub fn try_record(&mut self, mutations: f64, now_ms: u64) -> Result<(), u64> {
        self.refill(now_ms);
        if self.tokens < 0.0 {
            return Err(self.throttle_time_ms());
        }
        self.take(mutations);
        Ok(())
    }

    /// For older clients, which cannot be refused gracefully: takes the tokens whatever the
    /// bucket holds, and gives the time the connection must then wait (0 if the bucket is not
    /// below zero); the broker mutes the connection for that long.
    pub fn record(&mut self, mutations: f64, now_ms: u64) -> u64 {
        self.refill(now_ms);
        self.take(mutations);
        if self.tokens < 0.0 {
            self.throttle_time_ms()
        } else {
            0
        }
    }

    fn take(&mut self, mutations: f64) {
        self.tokens = (self.tokens - mutations).min(self.burst());
    }

    fn refill(&mut self, now_ms: u64) {
        let elapsed_ms = now_ms.saturating_sub(self.last_update_ms);
        self.tokens = (self.tokens + self.rate * elapsed_ms as f64 / 1000.0).min(self.burst());
        self.last_update_ms = self.last_update_ms.max(now_ms);
    }

    /// `-tokens / rate` seconds, rounded to the millisecond. A rate that is not positive (the
    /// store never holds one) would never refill: the longest wait is given.
    fn throttle_time_ms(&self) -> u64 {
        if self.rate > 0.0 {
            (-self.tokens / self.rate * 1000.0).round() as u64
        } else {
            u64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KIP-599's example: 5 mutations/s over 100 windows of 1 s.
    fn kip_example() -> TokenBucket {
        TokenBucket::new(5.0, QuotaWindow::new(100, 1).expect("valid"), 0)
    }

    #[test]
    fn starts_full_with_the_burst() {
        let mut b = kip_example();
        assert_eq!(b.burst(), 500.0);
        assert_eq!(b.tokens(0), 500.0);
        let mut d = TokenBucket::new(2.0, QuotaWindow::DEFAULT, 0);
        assert_eq!(d.tokens(0), 22.0, "2/s * 11 windows of 1 s");
    }

    #[test]
    fn a_big_request_may_drive_the_bucket_negative_once() {
        let mut b = kip_example();
        assert_eq!(b.try_record(560.0, 0), Ok(()));
        assert_eq!(b.tokens(0), -60.0);
        // Refused until the bucket is back at zero, with the time left.
        assert_eq!(b.try_record(1.0, 0), Err(12_000));
        assert_eq!(b.try_record(1.0, 2_000), Err(10_000));
        // The refusals took nothing.
        assert_eq!(b.tokens(2_000), -50.0);
        // At zero a request is accepted again.
        assert_eq!(b.try_record(10.0, 12_000), Ok(()));
        assert_eq!(b.tokens(12_000), -10.0);
        assert_eq!(b.try_record(1.0, 12_000), Err(2_000));
    }

    #[test]
    fn refills_at_the_rate_up_to_the_burst() {
        let mut b = kip_example();
        assert_eq!(b.try_record(100.0, 0), Ok(()));
        assert_eq!(b.tokens(10_000), 450.0);
        assert_eq!(b.tokens(1_000_000), 500.0);
        // Time going back adds nothing.
        assert_eq!(b.tokens(500_000), 500.0);
    }

    #[test]
    fn old_clients_are_recorded_and_told_to_wait() {
        let mut b = TokenBucket::new(1.0, QuotaWindow::new(10, 1).expect("valid"), 0);
        assert_eq!(b.record(5.0, 0), 0);
        assert_eq!(b.record(10.0, 0), 5_000);
        assert_eq!(b.record(1.0, 0), 6_000, "recorded even while below zero");
    }

    #[test]
    fn a_lower_rate_caps_the_tokens_at_the_new_burst() {
        let mut b = kip_example();
        b.set_rate(1.0, 0);
        assert_eq!(b.tokens(0), 100.0);
        assert_eq!(b.try_record(150.0, 0), Ok(()));
        assert_eq!(b.try_record(1.0, 0), Err(50_000));
    }
}

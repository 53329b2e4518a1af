//! How long a group over its quota must wait (Kafka's `QuotaUtils.throttleTime`, KIP-13 and
//! KIP-219).
//!
//! If the measured rate `O` over a window of length `W` is above the quota `T`, waiting `X`
//! with nothing more recorded brings it down to `T` when `O * W / (W + X) = T`, so
//! `X = (O - T) / T * W`. `W` is the sampled rate's own window length at the time of the
//! measurement, rounded to the nearest millisecond as Kafka does.
//!
//! Kafka bounds this for the request-time quota (by one window, `quota.window.size.seconds`)
//! and for connection-creation quotas, but not for the byte-rate quotas: a produce far above
//! the quota is answered with a long throttle, and the group's average still comes out at its
//! quota.

/// `(rate - quota) / quota * window_length_ms`, or 0 when `rate` is within `quota`. A quota
/// that is not a positive number throttles nothing (the store never holds one).
pub fn throttle_time_ms(rate: f64, quota: f64, window_length_ms: u64) -> u64 {
    // Written so that a NaN anywhere gives no throttle.
    if quota > 0.0 && rate > quota {
        // `as` saturates: an infinite or huge product becomes u64::MAX.
        ((rate - quota) / quota * window_length_ms as f64).round() as u64
    } else {
        0
    }
}

/// [`throttle_time_ms`] capped at `max_throttle_ms` (Kafka's `boundedThrottleTime`).
pub fn bounded_throttle_time_ms(
    rate: f64,
    quota: f64,
    window_length_ms: u64,
    max_throttle_ms: u64,
) -> u64 {
    throttle_time_ms(rate, quota, window_length_ms).min(max_throttle_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_formula() {
        // Twice the quota over a 10 s window: wait another 10 s.
        assert_eq!(throttle_time_ms(200.0, 100.0, 10_000), 10_000);
        // KIP-599's example: 5.6 against 5 over 100 s is 12 s.
        assert_eq!(throttle_time_ms(5.6, 5.0, 100_000), 12_000);
        // Rounded to the nearest millisecond.
        assert_eq!(throttle_time_ms(100.0015, 100.0, 1000), 0);
        assert_eq!(throttle_time_ms(100.1, 100.0, 1005), 1);
    }

    #[test]
    fn within_the_quota_there_is_no_throttle() {
        assert_eq!(throttle_time_ms(100.0, 100.0, 10_000), 0);
        assert_eq!(throttle_time_ms(50.0, 100.0, 10_000), 0);
        assert_eq!(throttle_time_ms(f64::NAN, 100.0, 10_000), 0);
        assert_eq!(throttle_time_ms(500.0, 0.0, 10_000), 0);
        assert_eq!(throttle_time_ms(500.0, f64::INFINITY, 10_000), 0);
    }

    #[test]
    fn the_bound_caps() {
        assert_eq!(bounded_throttle_time_ms(1000.0, 100.0, 10_000, 1000), 1000);
        assert_eq!(bounded_throttle_time_ms(110.0, 100.0, 1000, 1000), 100);
        assert_eq!(throttle_time_ms(f64::INFINITY, 1.0, 1000), u64::MAX);
    }
}

//! Holds a sender to a fixed rate, like Kafka's ThroughputThrottler: record `n` is due `n / rate`
//! seconds after the start, so a sender that fell behind catches up instead of drifting.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    records_per_sec: f64,
}

impl Pacer {
    /// None for a rate of 0, which means unlimited.
    pub fn new(records_per_sec: u64) -> Option<Pacer> {
        (records_per_sec > 0).then_some(Pacer {
            records_per_sec: records_per_sec as f64,
        })
    }

    /// How long to wait before sending record number `sent` (counting from 0), `elapsed` after
    /// the start; None when it is already due.
    pub fn wait_before(&self, sent: u64, elapsed: Duration) -> Option<Duration> {
        let due = Duration::from_secs_f64(sent as f64 / self.records_per_sec);
        due.checked_sub(elapsed).filter(|wait| !wait.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_rate_has_no_pacer() {
        assert!(Pacer::new(0).is_none());
    }

    #[test]
    fn waits_until_the_record_is_due() {
        let pacer = Pacer::new(1000).expect("non-zero rate");
        assert_eq!(pacer.wait_before(0, Duration::ZERO), None);
        assert_eq!(
            pacer.wait_before(10, Duration::from_millis(4)),
            Some(Duration::from_millis(6))
        );
        assert_eq!(pacer.wait_before(10, Duration::from_millis(10)), None);
        // Behind schedule: no wait, the sender catches up.
        assert_eq!(pacer.wait_before(10, Duration::from_millis(50)), None);
    }
}

//! Latency recording (microseconds, in an HdrHistogram) and its summary in milliseconds.

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;

use crate::report::Report;

/// Highest latency tracked exactly: one hour; longer ones are recorded as one hour.
const LATENCY_MAX_US: u64 = 3_600_000_000;

/// A histogram of latencies in microseconds with 3 significant digits.
pub fn latency_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
        .map_err(|e| anyhow!("creating latency histogram: {e}"))
}

/// Percentiles of a latency run, in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarises a histogram of microsecond values; an empty one gives zeros.
    pub fn from_micros(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary {
                count: 0,
                avg_ms: 0.0,
                p50_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        LatencySummary {
            count: histogram.len(),
            avg_ms: round3(histogram.mean() / 1000.0),
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }

    /// Adds `avg_ms`, `p50_ms`, `p99_ms`, `p999_ms`, `max_ms` to a JSON report.
    pub fn add_to(&self, report: &mut Report) {
        report.push("avg_ms", self.avg_ms);
        report.push("p50_ms", self.p50_ms);
        report.push("p99_ms", self.p99_ms);
        report.push("p999_ms", self.p999_ms);
        report.push("max_ms", self.max_ms);
    }

    /// The human-readable tail of a summary line, in kafka-producer-perf-test's words.
    pub fn describe(&self) -> String {
        format!(
            "{:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 99th, {:.2} ms 99.9th",
            self.avg_ms, self.max_ms, self.p50_ms, self.p99_ms, self.p999_ms
        )
    }
}

/// Rounds to three decimals, enough for microsecond resolution in milliseconds.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Records per second and MiB per second over `elapsed_s` seconds.
pub fn throughput(records: u64, bytes: u64, elapsed_s: f64) -> (f64, f64) {
    if elapsed_s <= 0.0 {
        return (0.0, 0.0);
    }
    (
        round3(records as f64 / elapsed_s),
        round3(bytes as f64 / (1024.0 * 1024.0) / elapsed_s),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_run() {
        let mut histogram = latency_histogram().expect("valid bounds");
        // 1..=1000 ms in microseconds.
        for ms in 1..=1000u64 {
            histogram.saturating_record(ms * 1000);
        }
        let summary = LatencySummary::from_micros(&histogram);
        assert_eq!(summary.count, 1000);
        // 3 significant digits: values are exact to within 0.1%.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(summary.p50_ms, 500.0), "{summary:?}");
        assert!(close(summary.p99_ms, 990.0), "{summary:?}");
        assert!(close(summary.p999_ms, 999.0), "{summary:?}");
        assert!(close(summary.max_ms, 1000.0), "{summary:?}");
        assert!(close(summary.avg_ms, 500.5), "{summary:?}");
    }

    #[test]
    fn empty_run_reports_zeros() {
        let histogram = latency_histogram().expect("valid bounds");
        let summary = LatencySummary::from_micros(&histogram);
        assert_eq!(summary.count, 0);
        assert_eq!(summary.max_ms, 0.0);
    }

    #[test]
    fn json_report_has_the_documented_keys() {
        let mut histogram = latency_histogram().expect("valid bounds");
        histogram.saturating_record(1500);
        let mut report = Report::new("produce");
        LatencySummary::from_micros(&histogram).add_to(&mut report);
        assert_eq!(
            report.to_json(),
            r#"{"kind":"produce","avg_ms":1.5,"p50_ms":1.5,"p99_ms":1.5,"p999_ms":1.5,"max_ms":1.5}"#
        );
    }

    #[test]
    fn throughput_in_records_and_mib() {
        assert_eq!(
            throughput(2_000_000, 200 * 1024 * 1024, 2.0),
            (1_000_000.0, 100.0)
        );
        assert_eq!(throughput(5, 5, 0.0), (0.0, 0.0));
    }
}

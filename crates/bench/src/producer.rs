//! The benchmark producer: a `BaseProducer` driven from one thread, whose delivery callback
//! records the latency from send to delivery report.
//!
//! The send time travels as the record's delivery opaque (microseconds since the run's start,
//! a plain `usize`), so the hot path allocates nothing per record; the payload is borrowed and
//! librdkafka copies it into its batch.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anyhow::{anyhow, Result};
use hdrhistogram::Histogram;
use rdkafka::producer::{BaseProducer, DeliveryResult, ProducerContext};
use rdkafka::ClientContext;

use crate::latency::latency_histogram;
use crate::librdkafka::{describe_error, ClientConfigExt};
use sluice_client::ConnectArgs;

/// Delivery outcomes so far.
pub struct DeliveryStats {
    /// Send-to-delivery latency of every delivered record, microseconds.
    pub latency_us: Histogram<u64>,
    pub delivered: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// Since the last progress line: delivered records, summed and largest latency.
    pub window_count: u64,
    pub window_sum_us: u64,
    pub window_max_us: u64,
}

pub struct BenchProducerContext {
    start: Instant,
    stats: Mutex<DeliveryStats>,
}

impl BenchProducerContext {
    /// Microseconds since the run started; the value to send as a record's opaque.
    pub fn now_us(&self) -> usize {
        usize::try_from(self.start.elapsed().as_micros()).unwrap_or(usize::MAX)
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    pub fn stats(&self) -> Result<MutexGuard<'_, DeliveryStats>> {
        self.stats
            .lock()
            .map_err(|_| anyhow!("delivery statistics poisoned"))
    }
}

impl ClientContext for BenchProducerContext {}

impl ProducerContext for BenchProducerContext {
    /// Send time, microseconds since the start.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_us: usize) {
        let latency_us = (self.now_us().saturating_sub(sent_us)) as u64;
        let Ok(mut stats) = self.stats.lock() else {
            return;
        };
        match result {
            Ok(_) => {
                stats.delivered += 1;
                stats.latency_us.saturating_record(latency_us);
                stats.window_count += 1;
                stats.window_sum_us += latency_us;
                stats.window_max_us = stats.window_max_us.max(latency_us);
            }
            Err((error, _)) => {
                stats.failed += 1;
                if stats.first_error.is_none() {
                    stats.first_error = Some(describe_error(error));
                }
            }
        }
    }
}

/// A producer with `defaults` under the user's `-X` properties; its clock starts now.
pub fn create(
    connect: &ConnectArgs,
    defaults: &[(&str, &str)],
) -> Result<BaseProducer<BenchProducerContext>> {
    let context = BenchProducerContext {
        start: Instant::now(),
        stats: Mutex::new(DeliveryStats {
            latency_us: latency_histogram()?,
            delivered: 0,
            failed: 0,
            first_error: None,
            window_count: 0,
            window_sum_us: 0,
            window_max_us: 0,
        }),
    };
    connect
        .client_config(defaults)?
        .create_with_context(context)
        .map_err(|e| anyhow!("creating producer: {}", describe_error(&e)))
}

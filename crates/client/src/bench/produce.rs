//! `sluice bench produce`: send N records of B bytes as fast as allowed and report throughput and
//! send-to-delivery latency.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;

use super::report::Report;
use super::latency::{round3, throughput, LatencySummary};
use super::pacer::Pacer;
use super::{payload, producer};
use crate::connection::{describe_error, ConnectArgs};
use crate::produce::send_when_room;
use crate::producer_options::{Acks, Compression};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchProduceArgs {
    /// Topic to produce to.
    #[arg(long)]
    pub topic: String,
    /// Number of records to send.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Size of each record value in bytes (no key).
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Replicas that must have a record before it counts as delivered.
    #[arg(long, value_enum, default_value = "all", allow_hyphen_values = true)]
    pub acks: Acks,
    /// Compression of produced batches.
    #[arg(long, value_enum)]
    pub compression: Option<Compression>,
    /// linger.ms: how long the client waits to fill a batch (default: librdkafka's, 5).
    #[arg(long)]
    pub linger_ms: Option<u64>,
    /// batch.size: largest batch in bytes (default: librdkafka's, 1000000).
    #[arg(long)]
    pub batch_size: Option<u64>,
    /// Partitions of the topic when it has to be created (default: the broker's).
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Records per second; 0 is unlimited.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

/// How often a progress line is printed during the run.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

pub fn run(connect: &ConnectArgs, args: &BenchProduceArgs) -> Result<()> {
    let linger = args.linger_ms.map(|v| v.to_string());
    let batch = args.batch_size.map(|v| v.to_string());
    let mut defaults = vec![
        ("acks", args.acks.as_config()),
        // A deeper queue than librdkafka's 100000 keeps its threads busy at high rates.
        ("queue.buffering.max.messages", "1000000"),
    ];
    if let Some(compression) = args.compression {
        defaults.push(("compression.type", compression.as_config()));
    }
    if let Some(linger) = &linger {
        defaults.push(("linger.ms", linger));
    }
    if let Some(batch) = &batch {
        defaults.push(("batch.size", batch));
    }
    let producer = producer::create(connect, &defaults)?;
    let context = producer.context().clone();
    let value = payload(args.record_size);
    let pacer = Pacer::new(args.rate);

    let start = Instant::now();
    let mut window_start = start;
    let mut window_sent: u64 = 0;
    let mut sent: u64 = 0;
    while sent < args.records {
        if let Some(pacer) = &pacer {
            if let Some(wait) = pacer.wait_before(sent, start.elapsed()) {
                // Waiting by polling serves delivery reports on time.
                producer.poll(wait);
            }
        }
        let record = BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, context.now_us())
            .payload(value.as_slice());
        send_when_room(&producer, record)?;
        sent += 1;
        window_sent += 1;
        if sent & 63 == 0 {
            producer.poll(Duration::ZERO);
        }
        if sent & 4095 == 0 && window_start.elapsed() >= PROGRESS_INTERVAL {
            let mut stats = context.stats()?;
            if stats.failed > 0 {
                break;
            }
            print_progress(
                window_sent,
                args.record_size,
                window_start.elapsed(),
                stats.window_count,
                stats.window_sum_us,
                stats.window_max_us,
            );
            stats.window_count = 0;
            stats.window_sum_us = 0;
            stats.window_max_us = 0;
            window_start = Instant::now();
            window_sent = 0;
        }
    }
    producer
        .flush(Timeout::Never)
        .map_err(|e| anyhow!("waiting for delivery: {}", describe_error(&e)))?;
    let elapsed_s = start.elapsed().as_secs_f64();

    let stats = context.stats()?;
    let latency = LatencySummary::from_micros(&stats.latency_us);
    let bytes = stats.delivered * args.record_size as u64;
    let (records_per_sec, mb_per_sec) = throughput(stats.delivered, bytes, elapsed_s);
    eprintln!(
        "{} records sent, {records_per_sec:.1} records/sec ({mb_per_sec:.2} MB/sec), {}.",
        stats.delivered,
        latency.describe()
    );
    let mut report = Report::new("produce");
    report.push("records", stats.delivered);
    report.push("failed", stats.failed);
    report.push("record_size", (args.record_size as u64));
    report.push("elapsed_s", round3(elapsed_s));
    report.push("records_per_sec", records_per_sec);
    report.push("mb_per_sec", mb_per_sec);
    latency.add_to(&mut report);
    println!("{}", report.to_json());
    if let Some(error) = &stats.first_error {
        bail!("{} of {sent} records failed; first: {error}", stats.failed);
    }
    Ok(())
}

fn print_progress(
    sent: u64,
    record_size: usize,
    elapsed: Duration,
    delivered: u64,
    latency_sum_us: u64,
    latency_max_us: u64,
) {
    let (records_per_sec, mb_per_sec) =
        throughput(sent, sent * record_size as u64, elapsed.as_secs_f64());
    let avg_ms = if delivered == 0 {
        0.0
    } else {
        latency_sum_us as f64 / delivered as f64 / 1000.0
    };
    eprintln!(
        "{sent} records sent, {records_per_sec:.1} records/sec ({mb_per_sec:.2} MB/sec), \
         {avg_ms:.1} ms avg latency, {:.1} ms max latency.",
        latency_max_us as f64 / 1000.0
    );
}

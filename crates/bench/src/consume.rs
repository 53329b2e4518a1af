//! `sluice-bench consume`: read records from the beginning of every partition and report
//! throughput. The clock starts when the partitions are assigned and stops at the last record.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use rdkafka::consumer::Consumer;
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use crate::batch_queue::{BatchQueue, Delivered};
use crate::latency::{round3, throughput};
use crate::librdkafka::{assign_only_consumer, is_fatal_consume_error};
use crate::librdkafka::{describe_error, fetch_metadata, topic_partitions, METADATA_TIMEOUT};
use crate::report::Report;
use sluice_client::ConnectArgs;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchConsumeArgs {
    /// Topic to read.
    #[arg(long)]
    pub topic: String,
    /// Records to read (default: everything below the high watermarks at the start).
    #[arg(long)]
    pub records: Option<u64>,
    /// Give up after this many milliseconds without a record.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// Messages taken from librdkafka per call.
const BATCH: usize = 10_000;

pub fn run(connect: &ConnectArgs, args: &BenchConsumeArgs) -> Result<()> {
    // librdkafka stops fetching a partition for fetch.queue.backoff.ms (1 s) whenever its
    // queue holds queued.min.messages (100000, counted over the shared consumer queue): with a
    // few partitions that throttle, not the broker, caps a fast consumer near 300k records/s.
    // A bigger queue and a 1 ms backoff keep the fetcher busy; -X overrides both.
    let consumer = assign_only_consumer(
        connect,
        &[
            ("queued.min.messages", "1000000"),
            ("fetch.queue.backoff.ms", "1"),
        ],
    )?;
    let metadata = fetch_metadata(
        consumer.client(),
        Some(&args.topic),
        &connect.bootstrap_server,
    )?;
    let partitions = topic_partitions(&metadata, &args.topic)?;
    let target = match args.records {
        Some(n) => n,
        None => {
            let mut available: u64 = 0;
            for &partition in &partitions {
                let (low, high) = consumer
                    .fetch_watermarks(&args.topic, partition, METADATA_TIMEOUT)
                    .map_err(|e| {
                        anyhow!(
                            "reading watermarks of partition {partition}: {}",
                            describe_error(&e)
                        )
                    })?;
                available += u64::try_from(high.saturating_sub(low)).unwrap_or(0);
            }
            if available == 0 {
                bail!("topic '{}' has no records to read", args.topic);
            }
            available
        }
    };

    let mut assignment = TopicPartitionList::with_capacity(partitions.len());
    for &partition in &partitions {
        assignment
            .add_partition_offset(&args.topic, partition, Offset::Beginning)
            .map_err(|e| anyhow!("building assignment: {}", describe_error(&e)))?;
    }
    let start = Instant::now();
    consumer
        .assign(&assignment)
        .map_err(|e| anyhow!("assigning partitions: {}", describe_error(&e)))?;

    let idle_limit = Duration::from_millis(args.timeout_ms);
    let mut records: u64 = 0;
    let mut bytes: u64 = 0;
    let mut first_record: Option<Duration> = None;
    let mut last_record = start;
    let mut window_start = start;
    let mut window_records: u64 = 0;
    let mut window_bytes: u64 = 0;
    // Many messages per call: librdkafka's per-message poll, not the broker, limits a
    // consumer of small records (see `batch_queue`).
    let mut queue = BatchQueue::new(&consumer, BATCH)
        .ok_or_else(|| anyhow!("the consumer has no consumer queue"))?;
    let mut fatal: Option<KafkaError> = None;
    while records < target {
        let got = queue.poll(Duration::from_millis(100), |delivered| match delivered {
            // A batch may hold more than the records still wanted: those are not counted.
            Delivered::Record { .. } if records >= target => {}
            Delivered::Record { bytes: size } => {
                let size = size as u64;
                records += 1;
                bytes += size;
                window_records += 1;
                window_bytes += size;
            }
            Delivered::Error(error) if is_fatal_consume_error(&error) => {
                fatal.get_or_insert(error);
            }
            Delivered::Error(error) => eprintln!("warning: {}", describe_error(&error)),
        });
        if let Some(error) = fatal.take() {
            bail!("consuming '{}': {}", args.topic, describe_error(&error));
        }
        if got == 0 {
            if last_record.elapsed() >= idle_limit {
                break;
            }
            continue;
        }
        last_record = Instant::now();
        first_record.get_or_insert_with(|| start.elapsed());
        if window_start.elapsed() >= PROGRESS_INTERVAL {
            let (rps, mbps) = throughput(
                window_records,
                window_bytes,
                window_start.elapsed().as_secs_f64(),
            );
            eprintln!("{records} records read, {rps:.1} records/sec ({mbps:.2} MB/sec).");
            window_start = Instant::now();
            window_records = 0;
            window_bytes = 0;
        }
    }
    let elapsed_s = last_record.duration_since(start).as_secs_f64();
    let (records_per_sec, mb_per_sec) = throughput(records, bytes, elapsed_s);
    eprintln!(
        "{records} records read in {elapsed_s:.3} s, {records_per_sec:.1} records/sec \
         ({mb_per_sec:.2} MB/sec)."
    );
    let mut report = Report::new("consume");
    report.push("records", records);
    report.push("bytes", bytes);
    report.push("elapsed_s", round3(elapsed_s));
    report.push("records_per_sec", records_per_sec);
    report.push("mb_per_sec", mb_per_sec);
    report.push(
        "first_record_ms",
        round3(first_record.unwrap_or_default().as_secs_f64() * 1000.0),
    );
    println!("{}", report.to_json());
    if records < target {
        bail!(
            "read only {records} of {target} records: none arrived for {} ms",
            args.timeout_ms
        );
    }
    Ok(())
}

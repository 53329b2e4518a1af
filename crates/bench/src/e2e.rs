//! `sluice-bench e2e`: end-to-end latency from send to receipt by a consumer, at a fixed rate.
//!
//! A consumer thread is assigned every partition at its high watermark before anything is sent,
//! so it sees every record of the run. Each record carries a probe in its first 24 bytes, all
//! little-endian u64: the run id (so records of other runs are ignored), the sequence number
//! (`u64::MAX` for warm-up records) and the send time in microseconds on a clock shared by
//! producer and consumer; the rest of the value is padding. Warm-up records are sent until one
//! arrives, so connection setup is not measured. The producer uses `linger.ms=0`; the consumer
//! keeps librdkafka's defaults (`fetch.wait.max.ms=500`), both overridable with `-X`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::bench_command::payload;
use crate::latency::{latency_histogram, LatencySummary};
use crate::librdkafka::send_when_room;
use crate::librdkafka::{assign_only_consumer, is_fatal_consume_error};
use crate::librdkafka::{describe_error, fetch_metadata, topic_partitions, METADATA_TIMEOUT};
use crate::pacer::Pacer;
use crate::producer;
use crate::report::Report;
use sluice_client::Acks;
use sluice_client::ConnectArgs;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchE2eArgs {
    /// Topic to produce to and consume from.
    #[arg(long)]
    pub topic: String,
    /// Number of records to send.
    #[arg(long, default_value_t = 10_000)]
    pub records: u64,
    /// Records per second.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
    /// Size of each record value in bytes (at least 24, the probe).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(PROBE_LEN as u64..))]
    pub record_size: u64,
    /// Replicas that must have a record before it counts as delivered.
    #[arg(long, value_enum, default_value = "all", allow_hyphen_values = true)]
    pub acks: Acks,
    /// Partitions of the topic when it has to be created (default: the broker's).
    #[arg(long)]
    pub partitions: Option<u32>,
    /// Give up after this many milliseconds without a record.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// Bytes of the probe at the start of every record value.
const PROBE_LEN: usize = 24;
/// Sequence number of warm-up records, which are not measured.
const WARM_UP: u64 = u64::MAX;
/// How long the warm-up may take before the run is abandoned.
const WARM_UP_LIMIT: Duration = Duration::from_secs(30);

/// Writes the probe into the first `PROBE_LEN` bytes of `value`.
fn write_probe(value: &mut [u8], run_id: u64, seq: u64, sent_us: u64) {
    if value.len() < PROBE_LEN {
        return;
    }
    value[0..8].copy_from_slice(&run_id.to_le_bytes());
    value[8..16].copy_from_slice(&seq.to_le_bytes());
    value[16..24].copy_from_slice(&sent_us.to_le_bytes());
}

/// (sequence, send time) of a record of run `run_id`; None for anything else.
fn read_probe(value: &[u8], run_id: u64) -> Option<(u64, u64)> {
    let word = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = value.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    };
    (word(0)? == run_id).then_some((word(8)?, word(16)?))
}

/// What the consumer thread saw.
struct Received {
    latency_us: Histogram<u64>,
    records: u64,
    duplicates: u64,
}

pub fn run(connect: &ConnectArgs, args: &BenchE2eArgs) -> Result<()> {
    let consumer = assign_only_consumer(connect, &[])?;
    let metadata = fetch_metadata(
        consumer.client(),
        Some(&args.topic),
        &connect.bootstrap_server,
    )?;
    let partitions = topic_partitions(&metadata, &args.topic)?;
    let mut assignment = TopicPartitionList::with_capacity(partitions.len());
    for &partition in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(&args.topic, partition, METADATA_TIMEOUT)
            .map_err(|e| {
                anyhow!(
                    "reading watermarks of partition {partition}: {}",
                    describe_error(&e)
                )
            })?;
        assignment
            .add_partition_offset(&args.topic, partition, Offset::Offset(high))
            .map_err(|e| anyhow!("building assignment: {}", describe_error(&e)))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| anyhow!("assigning partitions: {}", describe_error(&e)))?;

    let producer = producer::create(
        connect,
        &[("acks", args.acks.as_config()), ("linger.ms", "0")],
    )?;
    let context = producer.context().clone();
    let clock = context.start();
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()).rotate_left(32);
    let record_size = usize::try_from(args.record_size).context("--record-size is too large")?;
    let mut value = payload(record_size);
    let idle_limit = Duration::from_millis(args.timeout_ms);
    let stop = AtomicBool::new(false);
    let (warmed_tx, warmed_rx) = mpsc::channel::<()>();

    let (sent, received) = std::thread::scope(|scope| -> Result<(u64, Result<Received>)> {
        let stop = &stop;
        let receiver = scope.spawn(move || {
            receive(
                consumer,
                run_id,
                clock,
                args.records,
                idle_limit,
                stop,
                warmed_tx,
            )
        });
        let sent = send_all(&producer, args, &mut value, run_id, &warmed_rx, stop);
        if sent.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let flushed = producer.flush(Timeout::Never);
        let received = receiver
            .join()
            .map_err(|_| anyhow!("the consumer thread panicked"))?;
        let sent = sent?;
        flushed.map_err(|e| anyhow!("waiting for delivery: {}", describe_error(&e)))?;
        Ok((sent, received))
    })?;
    let received = received?;

    if let Some(error) = &context.stats()?.first_error {
        bail!("producing failed: {error}");
    }
    let latency = LatencySummary::from_micros(&received.latency_us);
    eprintln!(
        "{} of {sent} records received at {} records/sec, {}.",
        received.records,
        args.rate,
        latency.describe()
    );
    let mut report = Report::new("e2e");
    report.push("records", received.records);
    report.push("sent", sent);
    report.push("rate", args.rate);
    report.push("record_size", args.record_size);
    latency.add_to(&mut report);
    println!("{}", report.to_json());
    if received.duplicates > 0 {
        eprintln!(
            "warning: {} records were received more than once",
            received.duplicates
        );
    }
    if received.records < sent {
        bail!(
            "{} of {sent} records were not received within {} ms",
            sent - received.records,
            args.timeout_ms
        );
    }
    Ok(())
}

/// Warms up, then sends `args.records` probes at `args.rate`. Returns how many were sent.
fn send_all(
    producer: &rdkafka::producer::BaseProducer<producer::BenchProducerContext>,
    args: &BenchE2eArgs,
    value: &mut [u8],
    run_id: u64,
    warmed: &mpsc::Receiver<()>,
    stop: &AtomicBool,
) -> Result<u64> {
    let context = producer.context();
    let warm_up_start = Instant::now();
    loop {
        write_probe(value, run_id, WARM_UP, context.now_us() as u64);
        send_when_room(
            producer,
            BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, context.now_us())
                .payload(&*value),
        )?;
        producer.poll(Duration::from_millis(100));
        if warmed.try_recv().is_ok() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            bail!("the consumer stopped during warm-up");
        }
        if warm_up_start.elapsed() >= WARM_UP_LIMIT {
            bail!(
                "no record came back to the consumer within {} s of warm-up",
                WARM_UP_LIMIT.as_secs()
            );
        }
    }

    let pacer = Pacer::new(args.rate);
    let start = Instant::now();
    let mut sent: u64 = 0;
    while sent < args.records {
        if let Some(wait) = pacer.and_then(|p| p.wait_before(sent, start.elapsed())) {
            producer.poll(wait);
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now_us = context.now_us();
        write_probe(value, run_id, sent, now_us as u64);
        send_when_room(
            producer,
            BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, now_us).payload(&*value),
        )?;
        sent += 1;
        producer.poll(Duration::ZERO);
        if context.stats()?.failed > 0 {
            break;
        }
    }
    Ok(sent)
}

/// The consumer side: records the latency of every probe of this run until `expected` have
/// arrived, nothing arrived for `idle_limit` after the warm-up, or `stop` is set.
fn receive(
    consumer: BaseConsumer,
    run_id: u64,
    clock: Instant,
    expected: u64,
    idle_limit: Duration,
    stop: &AtomicBool,
    warmed: mpsc::Sender<()>,
) -> Result<Received> {
    let mut result = Received {
        latency_us: latency_histogram()?,
        records: 0,
        duplicates: 0,
    };
    let mut seen = vec![false; usize::try_from(expected).unwrap_or(0)];
    let mut is_warm = false;
    let mut last_record = Instant::now();
    while result.records < expected {
        match consumer.poll(Duration::from_millis(50)) {
            Some(Ok(message)) => {
                let now_us = clock.elapsed().as_micros() as u64;
                let Some((seq, sent_us)) = message.payload().and_then(|v| read_probe(v, run_id))
                else {
                    continue;
                };
                last_record = Instant::now();
                if seq == WARM_UP {
                    if !is_warm {
                        is_warm = true;
                        // The producer may have given up already; nothing to tell then.
                        let _ = warmed.send(());
                    }
                    continue;
                }
                match seen.get_mut(seq as usize) {
                    Some(flag) if !*flag => {
                        *flag = true;
                        result.records += 1;
                        result
                            .latency_us
                            .saturating_record(now_us.saturating_sub(sent_us));
                    }
                    _ => result.duplicates += 1,
                }
            }
            Some(Err(error)) if is_fatal_consume_error(&error) => {
                stop.store(true, Ordering::Relaxed);
                bail!("consuming: {}", describe_error(&error));
            }
            Some(Err(error)) => eprintln!("warning: {}", describe_error(&error)),
            None => {}
        }
        if stop.load(Ordering::Relaxed) || (is_warm && last_record.elapsed() >= idle_limit) {
            break;
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_round_trip() {
        let mut value = vec![b'x'; 40];
        write_probe(&mut value, 7, 3, 123_456);
        assert_eq!(read_probe(&value, 7), Some((3, 123_456)));
        assert_eq!(&value[24..], &[b'x'; 16]);
    }

    #[test]
    fn foreign_and_short_records_are_ignored() {
        let mut value = vec![0u8; 24];
        write_probe(&mut value, 7, 3, 1);
        assert_eq!(read_probe(&value, 8), None);
        assert_eq!(read_probe(&value[..20], 7), None);
        assert_eq!(read_probe(b"", 7), None);
    }
}

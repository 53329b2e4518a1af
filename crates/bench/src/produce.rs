//! `sluice-bench produce`: send N records of B bytes as fast as allowed and report throughput and
//! send-to-delivery latency.
//!
//! With `--producers P`, P producer clients (each its own librdkafka instance, connections and
//! thread) share the records and the rate; their latency histograms are merged for the report.
//! The calling thread only prints progress.
//!
//! With `--transactional-id ID` each producer is transactional (`ID`, or `ID-0`, `ID-1`, ... for
//! several): it initializes transactions once, then begins a transaction, sends for
//! `--commit-interval-ms`, commits, and repeats until its share is sent. A commit waits for
//! every record of the transaction to be delivered, so the interval bounds how long records
//! pile up before the producer pauses to commit. That loop is its own function: the
//! non-transactional send loop stays as it was.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use clap::Args;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::util::Timeout;

use crate::bench_command::payload;
use crate::latency::{latency_histogram, round3, throughput, LatencySummary};
use crate::librdkafka::describe_error;
use crate::librdkafka::send_when_room;
use crate::pacer::Pacer;
use crate::producer;
use crate::producer::BenchProducerContext;
use crate::report::Report;
use sluice_client::ConnectArgs;
use sluice_client::{Acks, Compression};

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
    /// Independent producer clients, each on its own thread, sharing records and rate. One
    /// librdkafka producer spends about a microsecond of its sending thread per small record,
    /// so above roughly a million records/s use 2 or more.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub producers: u64,
    /// Produce in transactions with this transactional.id (with several producers, ID-0,
    /// ID-1, ...).
    #[arg(long, value_name = "ID")]
    pub transactional_id: Option<String>,
    /// With --transactional-id: how long each transaction sends before it is committed.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub commit_interval_ms: u64,
}

impl BenchProduceArgs {
    /// The transactional.id of producer `index`, if the run is transactional.
    fn transactional_id(&self, index: u64) -> Option<String> {
        let id = self.transactional_id.as_ref()?;
        Some(if self.producers == 1 {
            id.clone()
        } else {
            format!("{id}-{index}")
        })
    }
}

/// How often a progress line is printed during the run.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);
/// How long init_transactions, commit_transaction and abort_transaction may block.
const TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
/// One poll while waiting for a transaction's deliveries before its commit.
const DRAIN_POLL: Duration = Duration::from_millis(1);

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
    let mut producers = Vec::new();
    for index in 0..args.producers {
        let transactional_id = args.transactional_id(index);
        let mut config = defaults.clone();
        if let Some(id) = &transactional_id {
            config.push(("transactional.id", id));
        }
        producers.push(producer::create(connect, &config)?);
    }
    let commit_interval = Duration::from_millis(args.commit_interval_ms);
    let transactions = Transactions::default();
    let contexts: Vec<_> = producers.iter().map(|p| p.context().clone()).collect();
    let value = payload(args.record_size);
    let sent = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let (done_tx, done_rx) = mpsc::channel::<()>();

    let start = Instant::now();
    let outcomes = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for (index, producer) in producers.into_iter().enumerate() {
            let share = Share::of(args.records, args.rate, args.producers, index as u64);
            let (value, sent, failed, done) = (&value, &sent, &failed, done_tx.clone());
            let transactions = &transactions;
            workers.push(scope.spawn(move || {
                let outcome = if args.transactional_id.is_some() {
                    let worker = Worker {
                        producer: &producer,
                        topic: &args.topic,
                        value,
                        share,
                        sent,
                        failed,
                    };
                    send_share_in_transactions(&worker, commit_interval, transactions)
                } else {
                    send_share(&producer, &args.topic, value, share, sent, failed)
                };
                if outcome.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                let flushed = producer
                    .flush(Timeout::Never)
                    .map_err(|e| anyhow!("waiting for delivery: {}", describe_error(&e)));
                drop(done);
                outcome.and(flushed)
            }));
        }
        drop(done_tx);
        report_progress(&contexts, &sent, args.record_size, &done_rx);
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("a producer thread panicked")))
            })
            .collect::<Vec<_>>()
    });
    let elapsed_s = start.elapsed().as_secs_f64();

    let mut latency_us = latency_histogram()?;
    let (mut delivered, mut failures, mut first_error) = (0u64, 0u64, None);
    for context in &contexts {
        let stats = context.stats()?;
        latency_us
            .add(&stats.latency_us)
            .map_err(|e| anyhow!("merging latency histograms: {e}"))?;
        delivered += stats.delivered;
        failures += stats.failed;
        if first_error.is_none() {
            first_error.clone_from(&stats.first_error);
        }
    }
    let latency = LatencySummary::from_micros(&latency_us);
    let bytes = delivered * args.record_size as u64;
    let (records_per_sec, mb_per_sec) = throughput(delivered, bytes, elapsed_s);
    eprintln!(
        "{delivered} records sent, {records_per_sec:.1} records/sec ({mb_per_sec:.2} MB/sec), {}.",
        latency.describe()
    );
    let mut report = Report::new("produce");
    report.push("records", delivered);
    report.push("failed", failures);
    report.push("record_size", args.record_size as u64);
    report.push("producers", args.producers);
    report.push("elapsed_s", round3(elapsed_s));
    report.push("records_per_sec", records_per_sec);
    report.push("mb_per_sec", mb_per_sec);
    if args.transactional_id.is_some() {
        let committed = transactions.committed.load(Ordering::Relaxed);
        let commit_us = transactions.commit_us.load(Ordering::Relaxed);
        let commit_avg_ms = if committed == 0 {
            0.0
        } else {
            round3(commit_us as f64 / committed as f64 / 1000.0)
        };
        eprintln!(
            "{committed} transactions committed, {commit_avg_ms:.1} ms per commit on average."
        );
        report.push("commit_interval_ms", args.commit_interval_ms);
        report.push("transactions", committed);
        report.push("commit_avg_ms", commit_avg_ms);
    }
    latency.add_to(&mut report);
    println!("{}", report.to_json());
    if let Some(error) = first_error {
        bail!("{failures} records failed; first: {error}");
    }
    for outcome in outcomes {
        outcome?;
    }
    Ok(())
}

/// One producer's part of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Share {
    records: u64,
    /// Records per second, 0 for unlimited.
    rate: u64,
}

impl Share {
    /// Producer `index` of `producers` gets an equal part; the first ones take the remainders.
    fn of(records: u64, rate: u64, producers: u64, index: u64) -> Share {
        let part = |total: u64| total / producers + u64::from(index < total % producers);
        Share {
            records: part(records),
            // A positive total rate must not round down to "unlimited" for any producer.
            rate: if rate == 0 { 0 } else { part(rate).max(1) },
        }
    }
}

/// Sends one producer's share; `sent` counts records handed to librdkafka by all producers.
fn send_share(
    producer: &BaseProducer<BenchProducerContext>,
    topic: &str,
    value: &[u8],
    share: Share,
    sent: &AtomicU64,
    failed: &AtomicBool,
) -> Result<()> {
    let context = producer.context();
    let pacer = Pacer::new(share.rate);
    let start = Instant::now();
    let mut count: u64 = 0;
    while count < share.records {
        if let Some(wait) = pacer.and_then(|p| p.wait_before(count, start.elapsed())) {
            // Waiting by polling serves delivery reports on time.
            producer.poll(wait);
        }
        let record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(topic, context.now_us()).payload(value);
        send_when_room(producer, record)?;
        count += 1;
        if count & 63 == 0 {
            producer.poll(Duration::ZERO);
            sent.fetch_add(64, Ordering::Relaxed);
            if count & 4095 == 0 && (failed.load(Ordering::Relaxed) || context.stats()?.failed > 0)
            {
                failed.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    sent.fetch_add(count & 63, Ordering::Relaxed);
    Ok(())
}

/// Transactions committed by all producers, and the time spent in their commits.
#[derive(Default)]
struct Transactions {
    committed: AtomicU64,
    commit_us: AtomicU64,
}

/// What one producer thread sends, and the counters it shares with the others.
struct Worker<'a> {
    producer: &'a BaseProducer<BenchProducerContext>,
    topic: &'a str,
    value: &'a [u8],
    share: Share,
    sent: &'a AtomicU64,
    failed: &'a AtomicBool,
}

/// Sends one producer's share in transactions of `commit_interval` each. Apart from the
/// commit check, which compares the send time every record carries anyway, the per-record
/// work is `send_share`'s.
fn send_share_in_transactions(
    worker: &Worker<'_>,
    commit_interval: Duration,
    transactions: &Transactions,
) -> Result<()> {
    let Worker {
        producer,
        topic,
        value,
        share,
        sent,
        failed,
    } = *worker;
    let context = producer.context();
    producer
        .init_transactions(TRANSACTION_TIMEOUT)
        .map_err(|e| anyhow!("initializing transactions: {}", txn_error(&e)))?;
    let interval_us = usize::try_from(commit_interval.as_micros()).unwrap_or(usize::MAX);
    let pacer = Pacer::new(share.rate);
    let start = Instant::now();
    let mut count: u64 = 0;
    let mut stopped = false;
    while count < share.records && !stopped {
        producer
            .begin_transaction()
            .map_err(|e| anyhow!("beginning a transaction: {}", txn_error(&e)))?;
        let began_us = context.now_us();
        loop {
            if let Some(wait) = pacer.and_then(|p| p.wait_before(count, start.elapsed())) {
                producer.poll(wait);
            }
            let now_us = context.now_us();
            let record =
                BaseRecord::<(), [u8], usize>::with_opaque_to(topic, now_us).payload(value);
            if let Err(e) = send_when_room(producer, record) {
                abort(producer);
                return Err(e);
            }
            count += 1;
            if count & 63 == 0 {
                producer.poll(Duration::ZERO);
                sent.fetch_add(64, Ordering::Relaxed);
                if count & 4095 == 0
                    && (failed.load(Ordering::Relaxed) || context.stats()?.failed > 0)
                {
                    failed.store(true, Ordering::Relaxed);
                    stopped = true;
                    break;
                }
            }
            if count == share.records || now_us.saturating_sub(began_us) >= interval_us {
                break;
            }
        }
        if stopped {
            abort(producer);
            break;
        }
        let commit_start = Instant::now();
        if let Err(e) = drain_deliveries(producer, TRANSACTION_TIMEOUT) {
            abort(producer);
            return Err(e);
        }
        if let Err(e) = producer.commit_transaction(TRANSACTION_TIMEOUT) {
            abort(producer);
            bail!("committing a transaction: {}", txn_error(&e));
        }
        let commit_us = u64::try_from(commit_start.elapsed().as_micros()).unwrap_or(u64::MAX);
        transactions.committed.fetch_add(1, Ordering::Relaxed);
        transactions
            .commit_us
            .fetch_add(commit_us, Ordering::Relaxed);
    }
    sent.fetch_add(count & 63, Ordering::Relaxed);
    Ok(())
}

/// Serves delivery reports until no record is in flight. `commit_transaction` of rdkafka 0.39
/// first flushes through `BaseProducer::flush`, which polls in slices of 100 ms that run to
/// their end even when the last report arrives at once: every commit would take 100 ms or more.
/// Short polls here leave that flush nothing to wait for.
fn drain_deliveries(
    producer: &BaseProducer<BenchProducerContext>,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            bail!("records of a transaction still undelivered after {timeout:?}");
        }
        producer.poll(DRAIN_POLL);
    }
    Ok(())
}

/// Abandons the open transaction after a failure, so its records never become visible; the
/// failure itself is what gets reported.
fn abort(producer: &BaseProducer<BenchProducerContext>) {
    let _ = producer.abort_transaction(TRANSACTION_TIMEOUT);
}

/// A transactional-API error with librdkafka's own message, which says more than the code.
fn txn_error(error: &KafkaError) -> String {
    match error {
        KafkaError::Transaction(e) => {
            format!("{} ({})", e.string(), describe_error(error))
        }
        other => describe_error(other),
    }
}

/// Prints a progress line every `PROGRESS_INTERVAL` until every producer has finished (the
/// `done` channel closes).
fn report_progress(
    contexts: &[Arc<BenchProducerContext>],
    sent: &AtomicU64,
    record_size: usize,
    done: &mpsc::Receiver<()>,
) {
    let mut window_start = Instant::now();
    let mut sent_before: u64 = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(PROGRESS_INTERVAL) {
        let (mut count, mut sum_us, mut max_us) = (0u64, 0u64, 0u64);
        for context in contexts {
            if let Ok(mut stats) = context.stats() {
                count += stats.window_count;
                sum_us += stats.window_sum_us;
                max_us = max_us.max(stats.window_max_us);
                stats.window_count = 0;
                stats.window_sum_us = 0;
                stats.window_max_us = 0;
            }
        }
        let sent_now = sent.load(Ordering::Relaxed);
        print_progress(
            sent_now - sent_before,
            record_size,
            window_start.elapsed(),
            count,
            sum_us,
            max_us,
        );
        sent_before = sent_now;
        window_start = Instant::now();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        let shares: Vec<Share> = (0..3).map(|i| Share::of(10, 1000, 3, i)).collect();
        assert_eq!(shares.iter().map(|s| s.records).sum::<u64>(), 10);
        assert_eq!(shares.iter().map(|s| s.rate).sum::<u64>(), 1000);
        assert_eq!(
            shares[0],
            Share {
                records: 4,
                rate: 334
            }
        );
        assert_eq!(
            shares[2],
            Share {
                records: 3,
                rate: 333
            }
        );
        assert_eq!(
            Share::of(5, 0, 2, 1),
            Share {
                records: 2,
                rate: 0
            }
        );
        // A tiny rate still limits every producer.
        assert_eq!(Share::of(5, 1, 2, 1).rate, 1);
    }
}

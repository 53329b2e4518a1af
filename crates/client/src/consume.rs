//! `sluice consume TOPIC`: print records of some or all partitions of a topic.
//!
//! Partitions are assigned directly and positioned explicitly (no group membership, nothing
//! committed). librdkafka's assign API still requires a `group.id`, so a throwaway
//! `sluice-cli-<pid>` is configured; it is never joined and nothing is committed to it.
//!
//! Start position: `--from-end` is the default, as in kafka-console-consumer. `--timestamp MS`
//! starts each partition at the first record whose timestamp is >= MS (ListOffsets), or at its
//! end when there is none. The consumer stops at `--count` records, after `--timeout-ms` with no
//! record, or with `--exit-at-end` once every assigned partition has reached the high watermark;
//! otherwise it runs until interrupted.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{ArgGroup, Args};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

use crate::connection::{describe_error, fetch_metadata, topic_partitions, ConnectArgs};
use crate::format::{RecordView, Template};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(ArgGroup::new("start").args(["from_beginning", "from_end", "offset", "timestamp"])))]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to consume.
    pub topic: String,
    /// Start at the earliest record of each partition.
    #[arg(long)]
    pub from_beginning: bool,
    /// Start after the last record of each partition (the default).
    #[arg(long)]
    pub from_end: bool,
    /// Start at this offset in every consumed partition.
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// Start at the first record with a timestamp >= MS (milliseconds since the epoch).
    #[arg(long, value_name = "MS")]
    pub timestamp: Option<i64>,
    /// Consume only this partition (default: all).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Stop after N records.
    #[arg(short = 'n', long)]
    pub count: Option<u64>,
    /// Stop after T milliseconds without a record.
    #[arg(long, value_name = "T")]
    pub timeout_ms: Option<u64>,
    /// Stop once every partition has reached its high watermark.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Output template: %k key, %v value, %p partition, %o offset, %t timestamp, %h headers,
    /// %T topic, %% percent, \n \t escapes; null key/value print as empty. Default "%v\n".
    #[arg(long, value_name = "FMT", value_parser = Template::parse)]
    pub format: Option<Template>,
}

/// Where each partition starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

impl ConsumeArgs {
    fn start_at(&self) -> Result<StartAt> {
        Ok(if self.from_beginning {
            StartAt::Beginning
        } else if let Some(offset) = self.offset {
            StartAt::Offset(i64::try_from(offset).context("--offset is too large")?)
        } else if let Some(ms) = self.timestamp {
            StartAt::Timestamp(ms)
        } else {
            StartAt::End
        })
    }
}

pub async fn run(args: ConsumeArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || consume(&args))
        .await
        .context("consume task failed")?
}

/// Creates a consumer for assign-only use (see the module doc for the group id).
pub(crate) fn assign_only_consumer(
    connect: &ConnectArgs,
    extra: &[(&str, &str)],
) -> Result<BaseConsumer> {
    let group_id = format!("sluice-cli-{}", std::process::id());
    let mut defaults = vec![
        ("group.id", group_id.as_str()),
        ("enable.auto.commit", "false"),
        ("enable.auto.offset.store", "false"),
    ];
    defaults.extend_from_slice(extra);
    connect
        .client_config(&defaults)
        .create()
        .map_err(|e| anyhow!("creating consumer: {}", describe_error(&e)))
}

/// Errors that will not go away by polling again.
pub(crate) fn is_fatal_consume_error(error: &KafkaError) -> bool {
    match error {
        KafkaError::MessageConsumptionFatal(_) => true,
        KafkaError::MessageConsumption(code) => matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::Authentication
        ),
        _ => false,
    }
}

fn consume(args: &ConsumeArgs) -> Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let consumed = consume_into(args, &mut out)?;
    eprintln!("Processed a total of {consumed} records");
    Ok(())
}

/// Consumes per `args`, rendering records into `out`; returns how many were consumed. A closed
/// pipe (`| head`) is a normal way for the reader to stop us and ends the run without error.
pub(crate) fn consume_into(args: &ConsumeArgs, out: &mut impl Write) -> Result<u64> {
    let start_at = args.start_at()?;
    let consumer = assign_only_consumer(
        &args.connect,
        &[(
            "enable.partition.eof",
            if args.exit_at_end { "true" } else { "false" },
        )],
    )?;
    let metadata = fetch_metadata(
        consumer.client(),
        Some(&args.topic),
        &args.connect.bootstrap_server,
    )?;
    let mut partitions = topic_partitions(&metadata, &args.topic)?;
    if let Some(wanted) = args.partition {
        let wanted = i32::try_from(wanted).context("--partition is too large")?;
        if !partitions.contains(&wanted) {
            bail!(
                "topic '{}' has no partition {wanted} (it has {})",
                args.topic,
                partitions.len()
            );
        }
        partitions = vec![wanted];
    }
    let assignment = starting_positions(&consumer, &args.topic, &partitions, start_at)?;
    consumer
        .assign(&assignment)
        .map_err(|e| anyhow!("assigning partitions: {}", describe_error(&e)))?;

    let template = args.format.clone().unwrap_or_default();
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut at_end: BTreeSet<i32> = BTreeSet::new();
    let mut consumed: u64 = 0;
    let mut last_record = Instant::now();
    let mut warned: Option<String> = None;

    let stop_reason = loop {
        if args.count.is_some_and(|n| consumed >= n) {
            break None;
        }
        if args.exit_at_end && at_end.len() == partitions.len() {
            break None;
        }
        // Drain what is ready without blocking; flush before waiting so output is timely.
        let polled = match consumer.poll(Duration::ZERO) {
            Some(result) => Some(result),
            None => {
                if !flush_output(out)? {
                    return Ok(consumed);
                }
                let mut wait = Duration::from_millis(100);
                if let Some(limit) = idle_limit {
                    let idle = last_record.elapsed();
                    if idle >= limit {
                        break Some(format!("no record for {} ms", limit.as_millis()));
                    }
                    wait = wait.min(limit - idle);
                }
                consumer.poll(wait)
            }
        };
        match polled {
            None => {}
            Some(Ok(message)) => {
                last_record = Instant::now();
                consumed += 1;
                let headers = match (template.uses_headers(), message.headers()) {
                    (true, Some(headers)) => headers.iter().map(|h| (h.key, h.value)).collect(),
                    _ => Vec::new(),
                };
                let view = RecordView {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    timestamp_ms: message.timestamp().to_millis(),
                    key: message.key(),
                    value: message.payload(),
                    headers,
                };
                match template.render(&view, out) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(consumed),
                    Err(e) => return Err(e).context("writing to stdout"),
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                at_end.insert(partition);
            }
            Some(Err(error)) => {
                if is_fatal_consume_error(&error) {
                    let _ = flush_output(out);
                    bail!("consuming '{}': {}", args.topic, describe_error(&error));
                }
                let text = describe_error(&error);
                if warned.as_deref() != Some(text.as_str()) {
                    eprintln!("warning: {text}");
                    warned = Some(text);
                }
            }
        }
    };
    flush_output(out)?;
    if let Some(reason) = stop_reason {
        eprintln!("stopped: {reason}");
    }
    Ok(consumed)
}

/// Flushes the output; false when the reader has gone away.
fn flush_output(out: &mut impl Write) -> Result<bool> {
    match out.flush() {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// The assignment that positions every partition per `start_at`.
fn starting_positions(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    start_at: StartAt,
) -> Result<TopicPartitionList> {
    let mut list = TopicPartitionList::with_capacity(partitions.len());
    let offset = match start_at {
        StartAt::Beginning => Offset::Beginning,
        StartAt::End => Offset::End,
        StartAt::Offset(n) => Offset::Offset(n),
        StartAt::Timestamp(ms) => Offset::Offset(ms),
    };
    for &partition in partitions {
        list.add_partition_offset(topic, partition, offset)
            .map_err(|e| anyhow!("building assignment: {}", describe_error(&e)))?;
    }
    if !matches!(start_at, StartAt::Timestamp(_)) {
        return Ok(list);
    }
    let found = consumer
        .offsets_for_times(list, crate::connection::METADATA_TIMEOUT)
        .map_err(|e| anyhow!("looking up offsets by timestamp: {}", describe_error(&e)))?;
    let mut resolved = TopicPartitionList::with_capacity(partitions.len());
    for element in found.elements() {
        if let Err(e) = element.error() {
            bail!(
                "looking up offset by timestamp in partition {}: {}",
                element.partition(),
                describe_error(&e)
            );
        }
        // No record at or after the timestamp: start at the end, as Kafka does.
        let offset = match element.offset() {
            Offset::Offset(n) if n >= 0 => Offset::Offset(n),
            _ => Offset::End,
        };
        resolved
            .add_partition_offset(topic, element.partition(), offset)
            .map_err(|e| anyhow!("building assignment: {}", describe_error(&e)))?;
    }
    Ok(resolved)
}

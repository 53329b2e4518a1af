//! `sluice consume TOPIC`: print records of some or all partitions of a topic.
//!
//! Partitions are read directly from their leaders at explicit positions (no group
//! membership, nothing committed); the fetch loop is `fetcher.rs`. Like librdkafka, the default
//! isolation level is read_committed (`-X isolation.level=read_uncommitted` to see records of
//! open and aborted transactions).
//!
//! Start position: `--from-end` is the default, as in kafka-console-consumer. `--timestamp MS`
//! starts each partition at the first record whose timestamp is >= MS (ListOffsets), or at its
//! end when there is none. The consumer stops at `--count` records, after `--timeout-ms` with no
//! record, or with `--exit-at-end` once every assigned partition has reached the high watermark;
//! otherwise it runs until interrupted.

use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::{ArgGroup, Args};

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::fetcher::Fetcher;
use crate::format::{RecordView, Template};
use crate::topic_partitions::topic_partitions;
use crate::wire::list_offsets::{EARLIEST, LATEST};
use crate::wire::{ClusterClient, Retry};

/// (partition, offset or timestamp) pairs.
type Positions = Vec<(i32, i64)>;

/// How long finding the topic and the start positions may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest one fetch round waits for records when nothing else bounds it.
const ROUND_WAIT_MAX: Duration = Duration::from_millis(500);

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
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let consumed = consume_into(&args, &mut out).await?;
    eprintln!("Processed a total of {consumed} records");
    Ok(())
}

/// Consumes per `args`, rendering records into `out`; returns how many were consumed. A closed
/// pipe (`| head`) is a normal way for the reader to stop us and ends the run without error.
pub(crate) async fn consume_into(args: &ConsumeArgs, out: &mut impl Write) -> Result<u64> {
    let start_at = args.start_at()?;
    let settings = ClientSettings::from_args(&args.connect, Role::Consumer)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let names = [args.topic.clone()];
    let retry = Retry::until(deadline);
    let metadata = loop {
        match client
            .metadata(
                Some(&names),
                settings.consumer.allow_auto_create_topics,
                deadline,
            )
            .await
        {
            Err(e) if retry.again(&e).await => continue,
            outcome => break outcome.context("fetching metadata")?,
        }
    };
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
    // (partition, offset) known now; (partition, timestamp) to look up.
    let (starts, lookups): (Positions, Positions) = match start_at {
        StartAt::Offset(n) => (partitions.iter().map(|&p| (p, n)).collect(), Vec::new()),
        StartAt::Beginning => (
            Vec::new(),
            partitions.iter().map(|&p| (p, EARLIEST)).collect(),
        ),
        StartAt::End => (
            Vec::new(),
            partitions.iter().map(|&p| (p, LATEST)).collect(),
        ),
        StartAt::Timestamp(ms) => (Vec::new(), partitions.iter().map(|&p| (p, ms)).collect()),
    };
    let max_batch_bytes = settings.max_response_bytes;
    let mut fetcher = Fetcher::new(
        client,
        &args.topic,
        settings.consumer.clone(),
        max_batch_bytes,
        &starts,
        deadline,
    )
    .await?;
    fetcher.resolve(&lookups, deadline).await?;

    let template = args.format.clone().unwrap_or_default();
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut consumed: u64 = 0;
    let mut last_record = Instant::now();
    let stop_reason = loop {
        if args.count.is_some_and(|n| consumed >= n) {
            break None;
        }
        if args.exit_at_end && fetcher.all_at_end() {
            break None;
        }
        let mut wait = ROUND_WAIT_MAX;
        if let Some(limit) = idle_limit {
            let idle = last_record.elapsed();
            if idle >= limit {
                break Some(format!("no record for {} ms", limit.as_millis()));
            }
            wait = wait.min(limit - idle);
        }
        let fetched = match fetcher.fetch(wait).await {
            Ok(fetched) => fetched,
            Err(e) => {
                let _ = flush_output(out);
                return Err(e).with_context(|| format!("consuming '{}'", args.topic));
            }
        };
        for (partition, record) in fetched.records {
            if args.count.is_some_and(|n| consumed >= n) {
                break;
            }
            last_record = Instant::now();
            consumed += 1;
            let headers = if template.uses_headers() {
                record
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_deref()))
                    .collect()
            } else {
                Vec::new()
            };
            let view = RecordView {
                topic: &args.topic,
                partition,
                offset: record.offset,
                timestamp_ms: (record.timestamp >= 0).then_some(record.timestamp),
                key: record.key.as_deref(),
                value: record.value.as_deref(),
                headers,
            };
            match template.render(&view, out) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(consumed),
                Err(e) => return Err(e).context("writing to stdout"),
            }
        }
        // Flush after each round so output is timely.
        if !flush_output(out)? {
            return Ok(consumed);
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

//! `sluice produce TOPIC`: one record per input line, from stdin or `--file`.
//!
//! A line is the bytes up to `\n` (a `\r` before it is dropped too); an empty line is an empty
//! record. With `--key-separator SEP`, the bytes before the first SEP are the key and the rest
//! the value; a line without SEP has a null key and the whole line as value. Every record is
//! waited for: the first delivery error stops reading, and the command fails after the records
//! already handed to the client have been delivered or failed.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::util::Timeout;
use rdkafka::ClientContext;

use crate::connection::{describe_error, parse_key_value, ConnectArgs};
use crate::producer_options::{Acks, Compression};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ProduceArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to produce to.
    pub topic: String,
    /// Read records from this file instead of stdin.
    #[arg(long, short = 'f')]
    pub file: Option<PathBuf>,
    /// Text before the first occurrence of SEP is the record key.
    #[arg(long, value_name = "SEP", value_parser = parse_separator)]
    pub key_separator: Option<String>,
    /// Header key=value added to every record (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub headers: Vec<(String, String)>,
    /// Produce to this partition (default: by key hash, or sticky for null keys).
    #[arg(long)]
    pub partition: Option<u32>,
    /// Replicas that must have a record before it counts as delivered.
    #[arg(long, value_enum, default_value = "all", allow_hyphen_values = true)]
    pub acks: Acks,
    /// Compression of produced batches (default: the client's, none).
    #[arg(long, value_enum)]
    pub compression: Option<Compression>,
}

fn parse_separator(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("the key separator must not be empty".to_string())
    } else {
        Ok(text.to_string())
    }
}

pub async fn run(args: ProduceArgs) -> Result<()> {
    tokio::task::spawn_blocking(move || produce(&args))
        .await
        .context("produce task failed")?
}

/// Counts delivery reports; the first failure is kept for the error message.
#[derive(Default)]
struct DeliveryTally {
    delivered: u64,
    failed: u64,
    first_error: Option<String>,
}

struct ProduceContext {
    tally: Mutex<DeliveryTally>,
}

impl ClientContext for ProduceContext {}

impl ProducerContext for ProduceContext {
    /// The 1-based input line number of the record.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, line: usize) {
        let Ok(mut tally) = self.tally.lock() else {
            return;
        };
        match result {
            Ok(_) => tally.delivered += 1,
            Err((error, _)) => {
                tally.failed += 1;
                if tally.first_error.is_none() {
                    tally.first_error =
                        Some(format!("record on line {line}: {}", describe_error(error)));
                }
            }
        }
    }
}

impl ProduceContext {
    fn failed(&self) -> bool {
        self.tally.lock().map_or(true, |t| t.failed > 0)
    }
}

pub(crate) fn produce(args: &ProduceArgs) -> Result<()> {
    let input: Box<dyn BufRead> = match &args.file {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(io::stdin().lock()),
    };
    let sent = produce_lines(args, input)?;
    eprintln!("{sent} records produced to '{}'", args.topic);
    Ok(())
}

/// Produces one record per line of `input` and waits for all of them; returns the count.
pub(crate) fn produce_lines(args: &ProduceArgs, mut input: impl BufRead) -> Result<u64> {
    let mut defaults = vec![
        ("acks", args.acks.as_config()),
        // Fail within a reasonable time when the cluster is unreachable.
        ("message.timeout.ms", "30000"),
    ];
    if let Some(compression) = args.compression {
        defaults.push(("compression.type", compression.as_config()));
    }
    let producer: BaseProducer<ProduceContext> = args
        .connect
        .client_config(&defaults)
        .create_with_context(ProduceContext {
            tally: Mutex::new(DeliveryTally::default()),
        })
        .map_err(|e| anyhow!("creating producer: {}", describe_error(&e)))?;
    let partition = match args.partition {
        Some(p) => Some(i32::try_from(p).context("--partition is too large")?),
        None => None,
    };

    let separator = args.key_separator.as_deref().map(str::as_bytes);

    let mut sent: u64 = 0;
    let mut line_number: usize = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .context("reading input")?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let (key, value) = split_record(trim_line_end(&line), separator);
        let mut record = BaseRecord::with_opaque_to(&args.topic, line_number).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        if !args.headers.is_empty() {
            let mut headers = OwnedHeaders::new_with_capacity(args.headers.len());
            for (name, value) in &args.headers {
                headers = headers.insert(Header {
                    key: name,
                    value: Some(value),
                });
            }
            record = record.headers(headers);
        }
        send_when_room(&producer, record)?;
        sent += 1;
        // Serve delivery reports as they come, so a failure stops the input early.
        producer.poll(Duration::ZERO);
        if producer.context().failed() {
            break;
        }
    }

    producer
        .flush(Timeout::Never)
        .map_err(|e| anyhow!("waiting for delivery: {}", describe_error(&e)))?;
    let tally = producer
        .context()
        .tally
        .lock()
        .map_err(|_| anyhow!("delivery tally poisoned"))?;
    if let Some(error) = &tally.first_error {
        bail!(
            "{error} ({} of {sent} records delivered, {} failed)",
            tally.delivered,
            tally.failed
        );
    }
    if tally.delivered != sent {
        bail!(
            "only {} of {sent} records were confirmed delivered",
            tally.delivered
        );
    }
    Ok(sent)
}

/// Hands a record to librdkafka, serving delivery reports while its queue is full.
pub(crate) fn send_when_room<'a, C, K, P>(
    producer: &BaseProducer<C>,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
) -> Result<()>
where
    C: ProducerContext,
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(1));
            }
            Err((error, _)) => bail!("sending record: {}", describe_error(&error)),
        }
    }
}

/// Drops a trailing `\n` or `\r\n`.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits a line into (key, value) at the first separator; without a separator in the line
/// (or without one configured) the key is null and the whole line is the value.
fn split_record<'a>(line: &'a [u8], separator: Option<&[u8]>) -> (Option<&'a [u8]>, &'a [u8]) {
    let Some(separator) = separator.filter(|s| !s.is_empty()) else {
        return (None, line);
    };
    match line
        .windows(separator.len())
        .position(|window| window == separator)
    {
        Some(at) => (Some(&line[..at]), &line[at + separator.len()..]),
        None => (None, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_are_dropped() {
        assert_eq!(trim_line_end(b"abc\n"), b"abc");
        assert_eq!(trim_line_end(b"abc\r\n"), b"abc");
        assert_eq!(trim_line_end(b"abc"), b"abc");
        assert_eq!(trim_line_end(b"\n"), b"");
        assert_eq!(trim_line_end(b"a\rb"), b"a\rb");
    }

    #[test]
    fn key_is_before_the_first_separator() {
        assert_eq!(
            split_record(b"k:v:w", Some(b":")),
            (Some(&b"k"[..]), &b"v:w"[..])
        );
        assert_eq!(
            split_record(b"key::value", Some(b"::")),
            (Some(&b"key"[..]), &b"value"[..])
        );
        assert_eq!(split_record(b":v", Some(b":")), (Some(&b""[..]), &b"v"[..]));
        assert_eq!(split_record(b"k:", Some(b":")), (Some(&b"k"[..]), &b""[..]));
    }

    #[test]
    fn no_separator_means_null_key() {
        assert_eq!(split_record(b"plain", Some(b":")), (None, &b"plain"[..]));
        assert_eq!(split_record(b"a:b", None), (None, &b"a:b"[..]));
        assert_eq!(split_record(b"", Some(b"::")), (None, &b""[..]));
    }
}

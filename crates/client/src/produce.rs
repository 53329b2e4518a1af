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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::Args;
use tokio::sync::mpsc;

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::{parse_key_value, ConnectArgs};
use crate::producer::{OutgoingRecord, Producer};
use crate::producer_options::{Acks, Compression};
use crate::wire::ClusterClient;

/// Lines read ahead of the producer.
const LINE_QUEUE: usize = 1024;
/// Bytes handed to the producer and not yet delivered, above which reading waits.
const QUEUED_BYTES_MAX: usize = 32 << 20;
/// Failed records reported one by one; the rest are counted.
const ERRORS_SHOWN: usize = 100;

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
    /// Produce to this partition (default: by the murmur2 hash of the key, as Kafka's Java
    /// client does, or sticky for null keys; see -X partitioner).
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
    let input: Box<dyn BufRead + Send> = match &args.file {
        Some(path) => Box::new(BufReader::new(
            File::open(path).with_context(|| format!("opening {}", path.display()))?,
        )),
        None => Box::new(BufReader::new(io::stdin())),
    };
    let sent = produce_lines(&args, input).await?;
    eprintln!("{sent} records produced to '{}'", args.topic);
    Ok(())
}

/// Produces one record per line of `input` and waits for all of them; returns the count.
pub(crate) async fn produce_lines(
    args: &ProduceArgs,
    input: Box<dyn BufRead + Send>,
) -> Result<u64> {
    let settings = ClientSettings::from_args(&args.connect, Role::Producer)?;
    for warning in &settings.ignored {
        eprintln!("warning: {warning}");
    }
    let partition = match args.partition {
        Some(p) => Some(i32::try_from(p).context("--partition is too large")?),
        None => None,
    };
    let client = ClusterClient::new(&settings);
    let mut producer = Producer::new(
        client,
        &args.topic,
        settings.producer.clone(),
        args.acks,
        args.compression,
        partition,
    )
    .await?;

    // Lines are read on a thread of their own (reading stdin blocks); it stops at the end of
    // the input, when told to, or when nobody listens any more. It is not joined: a terminal
    // that never sends EOF must not keep the command alive after a delivery failure.
    let (lines_tx, mut lines) = mpsc::channel::<io::Result<Vec<u8>>>(LINE_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    let reader_stop = Arc::clone(&stop);
    std::thread::spawn(move || read_lines(input, lines_tx, reader_stop));

    let separator = args.key_separator.as_deref().map(str::as_bytes);
    let headers: Vec<(String, Bytes)> = args
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Bytes::copy_from_slice(v.as_bytes())))
        .collect();
    let mut sent: u64 = 0;
    let mut line_number: usize = 0;
    let mut read_error = None;
    loop {
        let due = producer.next_due();
        let wake = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            line = lines.recv() => match line {
                None => break,
                Some(Err(e)) => {
                    read_error = Some(e);
                    break;
                }
                Some(Ok(line)) => {
                    line_number += 1;
                    let (key, value) = split_record(trim_line_end(&line), separator);
                    producer.add(OutgoingRecord {
                        line: line_number,
                        key: key.map(Bytes::copy_from_slice),
                        value: Some(Bytes::copy_from_slice(value)),
                        headers: headers.clone(),
                    });
                    sent += 1;
                    // Reading waits while too much is on its way.
                    while producer.queued_bytes() > QUEUED_BYTES_MAX && !producer.is_idle() {
                        producer.send_ready(false).await;
                        wait_until(producer.next_due()).await;
                    }
                }
            },
            _ = tokio::time::sleep_until(wake.into()), if due.is_some() => {
                producer.send_ready(false).await;
            }
        }
        // The first delivery error stops reading.
        if producer.tally().failed > 0 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    // Everything handed over is delivered or failed before the command ends.
    while !producer.is_idle() {
        producer.send_ready(true).await;
        if !producer.is_idle() {
            wait_until(producer.next_due()).await;
        }
    }
    if let Some(e) = read_error {
        return Err(e).context("reading input");
    }
    let tally = producer.tally();
    if let Some((first, rest)) = tally.errors.split_first() {
        for error in rest.iter().take(ERRORS_SHOWN) {
            eprintln!("error: {error}");
        }
        if rest.len() > ERRORS_SHOWN {
            eprintln!("error: ... and {} more", rest.len() - ERRORS_SHOWN);
        }
        bail!(
            "{first} ({} of {sent} records delivered, {} failed)",
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

/// Sleeps until `at` (a little, when nothing is due: the caller polls a condition).
async fn wait_until(at: Option<Instant>) {
    let at = at.unwrap_or_else(|| Instant::now() + Duration::from_millis(10));
    tokio::time::sleep_until(at.into()).await;
}

/// Sends the lines of `input` (with their line ends) until its end, an error, `stop`, or a
/// receiver that went away.
fn read_lines(
    mut input: Box<dyn BufRead + Send>,
    lines: mpsc::Sender<io::Result<Vec<u8>>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let mut line = Vec::new();
        let item = match input.read_until(b'\n', &mut line) {
            Ok(0) => return,
            Ok(_) => Ok(line),
            Err(e) => Err(e),
        };
        let failed = item.is_err();
        if lines.blocking_send(item).is_err() || failed {
            return;
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

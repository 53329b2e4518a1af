//! Produce: validate each partition's record batches, append them, answer per `acks`.
//!
//! The batches stay the `Bytes` slice of the request frame; the log writes them with their
//! base offsets patched in a copy of the header (the CRC does not cover the base offset), so the
//! record data is copied once from the socket and written once to the file.
//!
//! Batches of idempotent and transactional producers pass the log's producer-state checks;
//! their errors carry Kafka's codes (OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH,
//! UNKNOWN_PRODUCER_ID, INVALID_TXN_STATE, INVALID_RECORD for a control batch). A duplicate
//! (a retry of a batch already appended) is answered like the original: no error, its base
//! offset.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_protocol::batch::{validate_batches, BatchSetInfo};
use sluice_protocol::error::ErrorCode;

use crate::broker::Broker;
use crate::partition::Partition;
use crate::request::RequestContext;
use crate::topic_config::ProduceSettings;

/// `None`: acks=0, no response is sent.
pub async fn handle(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let acks_valid = matches!(acks, -1..=1);
    let by_id = ctx.api_version >= 13;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = if by_id {
            broker.replicas.topic_by_id(&topic_data.topic_id)
        } else {
            broker.replicas.topic(topic_data.name.as_str())
        };
        let unknown = if by_id {
            ErrorCode::UNKNOWN_TOPIC_ID
        } else {
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
        };
        let mut partition_responses = Vec::with_capacity(topic_data.partition_data.len());
        for pd in topic_data.partition_data {
            let result = if !acks_valid {
                Err(error(ErrorCode::INVALID_REQUIRED_ACKS, None))
            } else {
                match topic.as_ref() {
                    None => Err(error(unknown, None)),
                    Some(t) => match usize::try_from(pd.index)
                        .ok()
                        .and_then(|i| t.partitions.get(i))
                    {
                        None => Err(error(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, None)),
                        Some(p) => {
                            let records = pd.records.unwrap_or_default();
                            append(
                                broker,
                                p,
                                &t.produce,
                                records,
                                acks,
                                request.timeout_ms,
                                ctx.api_version,
                            )
                            .await
                        }
                    },
                }
            };
            let resp = match result {
                Ok(r) => r,
                Err(r) => r,
            };
            partition_responses.push(resp.with_index(pd.index));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_topic_id(topic_data.topic_id)
                .with_partition_responses(partition_responses),
        );
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}

/// Error messages exist in responses from v8 on.
fn message(version: i16, text: String) -> Option<String> {
    (version >= 8).then_some(text)
}

fn error(code: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_error_code(code.0)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(StrBytes::from_string))
}

async fn append(
    broker: &Broker,
    partition: &Arc<Partition>,
    settings: &ProduceSettings,
    records: Bytes,
    acks: i16,
    timeout_ms: i32,
    version: i16,
) -> Result<PartitionProduceResponse, PartitionProduceResponse> {
    let info = validate_batches(&records, settings.max_message_bytes)
        .map_err(|e| error(e.error_code(), message(version, e.to_string())))?;
    if info.batch_count != 1 {
        // Kafka: produce v3+ carries exactly one record batch per partition.
        return Err(error(
            ErrorCode::INVALID_RECORD,
            message(
                version,
                format!(
                    "Produce requests carry exactly one record batch per partition, got {}",
                    info.batch_count
                ),
            ),
        ));
    }
    if settings.create_time {
        check_timestamps(settings, &info)
            .map_err(|m| error(ErrorCode::INVALID_TIMESTAMP, message(version, m)))?;
    }
    verify_transaction(broker, partition, &records)
        .await
        .map_err(|(code, m)| error(code, message(version, m)))?;
    let appended = partition
        .append_from_client(&records)
        .map_err(|e| error(e.error_code(), message(version, e.to_string())))?;
    let next_offset = appended.last_offset + 1;
    if appended.flush_due {
        let p = partition.clone();
        let flushed = tokio::task::spawn_blocking(move || p.log.flush(next_offset)).await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(error(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    message(version, e.to_string()),
                ))
            }
            Err(e) => {
                return Err(error(
                    ErrorCode::KAFKA_STORAGE_ERROR,
                    message(version, e.to_string()),
                ))
            }
        }
    }
    if acks == -1 {
        // acks=all: answer once the high watermark (the ISR's replicated offset) covers the batch.
        let deadline = Duration::from_millis(timeout_ms.max(0) as u64);
        if !partition
            .wait_for_high_watermark(next_offset, deadline)
            .await
        {
            return Err(error(ErrorCode::REQUEST_TIMED_OUT, None));
        }
    }
    Ok(PartitionProduceResponse::default()
        .with_error_code(0)
        .with_base_offset(appended.first_offset)
        .with_log_append_time_ms(appended.log_append_time)
        .with_log_start_offset(if version >= 5 {
            appended.log_start_offset
        } else {
            -1
        }))
}

/// KIP-890: a transactional batch goes only to a partition its producer added to its ongoing
/// transaction (AddPartitionsToTxn); otherwise a late or hanging write could land outside any
/// transaction and hold the last stable offset back forever.
async fn verify_transaction(
    broker: &Broker,
    partition: &Partition,
    records: &Bytes,
) -> Result<(), (ErrorCode, String)> {
    let Ok(header) = sluice_protocol::batch::parse_header(records) else {
        return Ok(());
    };
    if !header.is_transactional() || header.is_control() || header.producer_id < 0 {
        return Ok(());
    }
    let verdict = broker
        .txns
        .read(|c| {
            c.verify_partition(
                header.producer_id,
                header.producer_epoch,
                &partition.topic,
                partition.index,
            )
        })
        .await;
    match verdict {
        Ok(()) => Ok(()),
        Err(ErrorCode::INVALID_PRODUCER_EPOCH) => Err((
            ErrorCode::INVALID_PRODUCER_EPOCH,
            format!(
                "Producer epoch {} of producer {} is older than the transaction's",
                header.producer_epoch, header.producer_id
            ),
        )),
        Err(_) => Err((
            ErrorCode::INVALID_TXN_STATE,
            format!(
                "Partition {}-{} is not part of an ongoing transaction of producer {}",
                partition.topic, partition.index, header.producer_id
            ),
        )),
    }
}

/// CreateTime topics reject batches whose timestamps lie outside
/// `message.timestamp.before.max.ms` / `message.timestamp.after.max.ms` of the broker's clock.
/// The error is the message sent with INVALID_TIMESTAMP.
fn check_timestamps(settings: &ProduceSettings, info: &BatchSetInfo) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (before, after) = (
        settings.timestamp_before_max_ms,
        settings.timestamp_after_max_ms,
    );
    if info.max_timestamp > now.saturating_add(after) {
        return Err(format!(
            "Timestamp {} of a record is more than {after} ms ahead of the broker's time {now}",
            info.max_timestamp
        ));
    }
    if info.max_timestamp >= 0 && info.max_timestamp < now.saturating_sub(before) {
        return Err(format!(
            "Timestamp {} of a record is more than {before} ms behind the broker's time {now}",
            info.max_timestamp
        ));
    }
    Ok(())
}

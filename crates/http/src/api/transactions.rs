//! `/api/v1/transactions` and `/api/v1/topics/{topic}/producers`: the transaction admin APIs
//! of KIP-664 over the caller's cluster client, with the CLI's requests
//! ([`sluice_client::txn`], as `sluice txn list|describe` and `sluice producers describe`).
//!
//! - Transactions: ListTransactions of every broker (each lists the ids it coordinates), then
//!   DescribeTransactions of each id of the page, asked of its coordinator. Kafka lists only
//!   the ids the caller may DESCRIBE.
//! - Producers: DescribeProducers of each partition, asked of its leader (one request per
//!   leader), which needs READ on the topic.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_client::txn::describe_transactions::is_not_found;
use sluice_client::txn::{self, DescribedTransaction, ProducerState};

use super::access::Caller;
use super::topics::{known_topic, metadata};
use super::{deadline, query_params, ApiError, Page};

#[derive(Serialize)]
struct TransactionJson {
    transactional_id: String,
    state: String,
    producer_id: i64,
    producer_epoch: Option<i16>,
    timeout_ms: Option<i32>,
    /// `None` when no transaction is open (or it could not be described).
    start_time_ms: Option<i64>,
    coordinator: Option<i32>,
    partitions: Vec<PartitionJson>,
    /// Why it could not be described (then only what ListTransactions said is shown).
    error: Option<String>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
struct PartitionJson {
    topic: String,
    partition: i32,
}

#[derive(Serialize)]
struct ProducerJson {
    producer_id: i64,
    producer_epoch: i32,
    last_sequence: i32,
    /// `None` when unknown.
    last_timestamp_ms: Option<i64>,
    /// `None` when no marker was written yet.
    coordinator_epoch: Option<i32>,
    /// `None` when no transaction is open.
    current_txn_start_offset: Option<i64>,
}

fn non_negative<T: PartialOrd + Default>(value: T) -> Option<T> {
    (value >= T::default()).then_some(value)
}

/// The comma-separated values of `?name=a,b` (none when absent).
fn list_param(params: &BTreeMap<String, String>, name: &str) -> Vec<String> {
    params
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /transactions`: `?state=Ongoing,...`, `?producer_id=N,...`, `?min_duration_ms=N`,
/// `?search=`, paginated; each transaction of the page described.
pub async fn list(mut caller: Caller, RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let result = list_transactions(&mut caller, query.as_deref()).await;
    caller.check(result).map(Json)
}

async fn list_transactions(caller: &mut Caller, query: Option<&str>) -> Result<Value, ApiError> {
    let params = query_params(query)?;
    let page = Page::from_params(&params)?;
    let states = list_param(&params, "state");
    let mut producer_ids = Vec::new();
    for text in list_param(&params, "producer_id") {
        match text.parse::<i64>() {
            Ok(id) if id >= 0 => producer_ids.push(id),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "?producer_id={text}: expected a producer id, 0 or more"
                )))
            }
        }
    }
    let min_duration_ms = match params.get("min_duration_ms") {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(ms) if ms >= 0 => Some(ms),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "?min_duration_ms={text}: expected a whole number of milliseconds, 0 or more"
                )))
            }
        },
    };
    if let Some(unknown) = params.keys().find(|k| {
        ![
            "state",
            "producer_id",
            "min_duration_ms",
            "search",
            "offset",
            "limit",
        ]
        .contains(&k.as_str())
    }) {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter '{unknown}' (state, producer_id, min_duration_ms, search, offset, limit)"
        )));
    }
    let search = params.get("search").map(|s| s.to_lowercase());
    let deadline = deadline();
    let all = txn::list_all(caller, &states, &producer_ids, min_duration_ms, deadline).await?;
    let matching: Vec<_> = all
        .transactions
        .into_iter()
        .filter(|t| {
            search
                .as_deref()
                .is_none_or(|s| t.transactional_id.to_lowercase().contains(s))
        })
        .collect();
    let mut transactions = Vec::new();
    for listed in page.slice(&matching) {
        let row = match txn::describe_one(caller, &listed.transactional_id, deadline).await {
            Ok((coordinator, described)) => described_json(coordinator, described),
            // Gone since it was listed (expired): left out.
            Err(e) if is_not_found(&e) => continue,
            Err(e) => TransactionJson {
                transactional_id: listed.transactional_id.clone(),
                state: listed.state.clone(),
                producer_id: listed.producer_id,
                producer_epoch: None,
                timeout_ms: None,
                start_time_ms: None,
                coordinator: None,
                partitions: Vec::new(),
                error: Some(e.to_string()),
            },
        };
        transactions.push(row);
    }
    Ok(json!({
        "total": matching.len(),
        "offset": page.offset,
        "limit": page.limit,
        "transactions": transactions,
        "unknown_states": all.unknown_states,
        "failures": all.failures,
    }))
}

fn described_json(coordinator: i32, t: DescribedTransaction) -> TransactionJson {
    let mut partitions: Vec<PartitionJson> = t
        .partitions
        .into_iter()
        .map(|(topic, partition)| PartitionJson { topic, partition })
        .collect();
    partitions.sort();
    partitions.dedup();
    TransactionJson {
        transactional_id: t.transactional_id,
        state: t.state,
        producer_id: t.producer_id,
        producer_epoch: Some(t.producer_epoch),
        timeout_ms: Some(t.timeout_ms),
        start_time_ms: non_negative(t.start_time_ms),
        coordinator: Some(coordinator),
        partitions,
        error: None,
    }
}

fn producer_json(p: &ProducerState) -> ProducerJson {
    ProducerJson {
        producer_id: p.producer_id,
        producer_epoch: p.producer_epoch,
        last_sequence: p.last_sequence,
        last_timestamp_ms: non_negative(p.last_timestamp_ms),
        coordinator_epoch: non_negative(p.coordinator_epoch),
        current_txn_start_offset: non_negative(p.txn_start_offset),
    }
}

/// `GET /topics/{topic}/producers`: each partition's producers, asked of its leader.
pub async fn producers(
    mut caller: Caller,
    Path(topic): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let result = topic_producers(&mut caller, &topic).await;
    caller.check(result).map(Json)
}

async fn topic_producers(caller: &mut Caller, topic: &str) -> Result<Value, ApiError> {
    let deadline = deadline();
    let names = [topic.to_string()];
    let metadata = metadata(caller, Some(&names), deadline).await?;
    let known = known_topic(&metadata, topic)?;
    let mut partitions: Vec<i32> = known.partitions.iter().map(|p| p.partition).collect();
    partitions.sort_unstable();
    let leaders: BTreeMap<i32, i32> = known
        .partitions
        .iter()
        .map(|p| (p.partition, p.leader_id))
        .collect();
    let found = txn::producers_of(caller, topic, &partitions, &leaders, deadline).await;
    let mut by_partition: BTreeMap<i32, Vec<ProducerJson>> = BTreeMap::new();
    for (partition, p) in &found.rows {
        by_partition
            .entry(*partition)
            .or_default()
            .push(producer_json(p));
    }
    let rows: Vec<Value> = partitions
        .iter()
        .map(|partition| {
            json!({
                "partition": partition,
                "leader": leaders.get(partition).copied().filter(|l| *l >= 0),
                "producers": by_partition.remove(partition).unwrap_or_default(),
                "error": found.failures.get(partition),
            })
        })
        .collect();
    Ok(json!({ "topic": topic, "partitions": rows }))
}

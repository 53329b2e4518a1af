//! `GET /api/v1/brokers`: the brokers (DescribeCluster, with the fenced ones; Metadata's for a
//! caller DescribeCluster refuses), what each holds and leads (Metadata) and their log directories (DescribeLogDirs, asked of each broker).
//!
//! A directory's `size_bytes` is the sum of the replicas in it (future replicas of a move
//! included: they take the space). `log_dirs` is `null` for a broker that could not be asked or
//! refused (DescribeLogDirs needs DESCRIBE on the cluster), with the reason in
//! `log_dirs_error`.

use std::time::Instant;

use axum::Json;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeLogDirsRequest};
use serde_json::{json, Value};
use sluice_client::cluster::ClusterStatus;
use sluice_client::logdirs::{reports_of, LogDirReport, DESCRIBE_VERSIONS};
use sluice_client::wire::describe_cluster::{self, DescribedCluster};
use sluice_client::wire::metadata::ClusterMetadata;
use sluice_client::wire::{ClusterClient, RequestError, Retry};

use super::access::Caller;
use super::topics::metadata;
use super::{deadline, ApiError};

/// DescribeCluster (the brokers, fenced ones too from v2) and Metadata of every topic.
/// DescribeCluster is `None` when the broker refuses it to the caller
/// (CLUSTER_AUTHORIZATION_FAILED: Sluice asks for DESCRIBE on the cluster): the brokers then
/// come from Metadata, their fenced state unknown (`null`).
pub async fn cluster_state(
    client: &mut ClusterClient,
    deadline: Instant,
) -> Result<(Option<DescribedCluster>, ClusterMetadata), ApiError> {
    let retry = Retry::until(deadline);
    let described = loop {
        let outcome = match client
            .send_to_any::<DescribeClusterRequest>(
                describe_cluster::VERSIONS,
                describe_cluster::request,
                deadline,
            )
            .await
        {
            Ok((response, version)) => describe_cluster::from_response(response, version),
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) if retry.again(&e).await => continue,
            Err(RequestError::Broker { code: 31, .. }) => break None,
            outcome => break Some(outcome?),
        }
    };
    let metadata = metadata(client, None, deadline).await?;
    Ok((described, metadata))
}

/// The brokers as `/cluster` and `/brokers` show them (without log dirs), by id.
pub fn broker_rows(described: Option<&DescribedCluster>, metadata: &ClusterMetadata) -> Vec<Value> {
    let status = ClusterStatus::new(described, metadata);
    status
        .brokers
        .iter()
        .map(|b| {
            let partitions = metadata
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .filter(|p| p.replicas.contains(&b.id))
                .count();
            json!({
                "id": b.id,
                "host": b.host,
                "port": b.port,
                "rack": b.rack,
                "fenced": b.fenced,
                "is_controller": status.controller_id == Some(b.id),
                "partitions": partitions,
                "leaders": b.leaders,
            })
        })
        .collect()
}

pub async fn brokers(mut caller: Caller) -> Result<Json<Value>, ApiError> {
    let result = brokers_view(&mut caller).await;
    caller.check(result).map(Json)
}

async fn brokers_view(client: &mut ClusterClient) -> Result<Value, ApiError> {
    let deadline = deadline();
    let (described, metadata) = cluster_state(client, deadline).await?;
    let mut rows = broker_rows(described.as_ref(), &metadata);
    for row in &mut rows {
        let Some(id) = row["id"].as_i64().and_then(|id| i32::try_from(id).ok()) else {
            continue;
        };
        let fenced = row["fenced"].as_bool() == Some(true);
        let answer = if fenced {
            // A fenced broker is not in Metadata: there is no address to ask.
            Err(ApiError::unavailable(format!("broker {id} is fenced")))
        } else {
            log_dirs(client, id, deadline).await
        };
        match answer {
            Ok(dirs) => {
                row["log_dirs"] = json!(dirs);
                row["log_dirs_error"] = Value::Null;
            }
            Err(e) => {
                if e.is_authentication() {
                    return Err(e);
                }
                row["log_dirs"] = Value::Null;
                row["log_dirs_error"] = json!(e.message);
            }
        }
    }
    Ok(json!({ "brokers": rows }))
}

/// Broker `id`'s directories: `{"path", "error", "size_bytes", "total_bytes", "usable_bytes"}`.
async fn log_dirs(
    client: &mut ClusterClient,
    id: i32,
    deadline: Instant,
) -> Result<Vec<Value>, ApiError> {
    let (response, _) = client
        .send_to_broker::<DescribeLogDirsRequest>(
            id,
            DESCRIBE_VERSIONS,
            // Every replica: the sizes are their sum.
            |_| DescribeLogDirsRequest::default().with_topics(None),
            deadline,
        )
        .await?;
    let mut dirs = reports_of(id, response)?;
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(dirs.iter().map(dir_json).collect())
}

fn dir_json(dir: &LogDirReport) -> Value {
    let known = |bytes: i64| (bytes >= 0).then_some(bytes);
    json!({
        "path": dir.path,
        "error": (dir.error != "NONE").then_some(dir.error.as_str()),
        "size_bytes": dir.replicas.iter().map(|r| r.size_bytes.max(0)).sum::<i64>(),
        "total_bytes": known(dir.total_bytes),
        "usable_bytes": known(dir.usable_bytes),
    })
}

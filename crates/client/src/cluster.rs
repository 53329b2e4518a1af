//! `sluice cluster status`: the cluster id, the controller, the brokers and the health of the
//! partitions, from one bootstrap server, in the manner of `kafka-cluster` and
//! `kafka-topics --describe --under-replicated-partitions --unavailable-partitions`.
//!
//! Two requests through the CLI's Kafka client (`crate::wire`, PLAINTEXT only): DescribeCluster
//! (v2 where the broker has it, so fenced brokers are listed and marked) and Metadata for every
//! topic. A broker without DescribeCluster (before Kafka 2.8) still gets an answer: the brokers
//! then come from Metadata, their fenced state unknown.
//!
//! What counts as what, as Kafka's tools count it:
//! - offline: a partition without a leader;
//! - under-replicated: fewer in-sync replicas than replicas (an offline partition may be both);
//! - leaders: how many partitions each broker leads.
//!
//! Output: text tables (`table.rs`), or with `--output json` the same as one JSON object on one
//! line. Errors in topics' metadata are warnings on stderr (and `topic_errors` in JSON); when no
//! bootstrap server answers, one error line and a non-zero exit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::messages::{DescribeClusterRequest, MetadataRequest};
use serde::Serialize;

use crate::client_settings::{ClientSettings, Role};
use crate::connect_args::ConnectArgs;
use crate::error_codes::code_text;
use crate::table::Table;
use crate::wire::describe_cluster::{self, DescribedCluster};
use crate::wire::metadata::{self, ClusterMetadata};
use crate::wire::{host_port, ClusterClient, RequestError, Retry};

/// How long the command may spend on its requests in all, retries included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum ClusterCommand {
    /// Show the cluster id, the controller, the brokers, and offline and under-replicated
    /// partitions.
    Status {
        /// Tables for people, or one JSON object for scripts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Judge the cluster: brokers alive or fenced, the metadata quorum (leader, each
    /// controller's lag), offline and under-replicated partitions; exits non-zero when
    /// anything is wrong.
    Health {
        /// Tables for people, or one JSON object for scripts.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
        /// A controller more than this many metadata-log entries behind the quorum leader is
        /// a problem.
        #[arg(long, default_value_t = 1000, value_name = "ENTRIES")]
        max_quorum_lag: i64,
    },
}

/// `--output` of the commands that print tables.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned tables (`table.rs`); `table` is another name for it.
    #[value(alias = "table")]
    Text,
    Json,
}

pub async fn run(args: ClusterArgs) -> Result<()> {
    match args.command {
        ClusterCommand::Status { output } => status(&args.connect, output).await,
        ClusterCommand::Health {
            output,
            max_quorum_lag,
        } => crate::cluster_health::health(&args.connect, output, max_quorum_lag).await,
    }
}

async fn status(connect: &ConnectArgs, output: OutputFormat) -> Result<()> {
    let (status, warnings) = fetch_status(connect).await?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    match output {
        OutputFormat::Text => print!("{}", status.render_text()),
        OutputFormat::Json => println!("{}", status.render_json()?),
    }
    Ok(())
}

/// The status from the first bootstrap server that answers, with warnings to show: a broker
/// without DescribeCluster, errors in topics' metadata.
pub(crate) async fn fetch_status(connect: &ConnectArgs) -> Result<(ClusterStatus, Vec<String>)> {
    let settings = ClientSettings::from_args(connect, Role::Admin)?;
    let mut warnings = settings.ignored.clone();
    let mut client = ClusterClient::new(&settings);
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut failures = Vec::new();
    for server in &settings.bootstrap {
        match ask(&mut client, server, deadline).await {
            Ok((described, metadata)) => {
                let status = ClusterStatus::new(described.as_ref(), &metadata);
                if described.is_none() {
                    warnings.push(format!(
                        "{server} does not support DescribeCluster; the brokers come from \
                         Metadata and their fenced state is unknown"
                    ));
                }
                for error in &status.topic_errors {
                    warnings.push(format!("topic '{}': {}", error.topic, error.error));
                }
                return Ok((status, warnings));
            }
            Err(e) => failures.push(format!("{server}: {e}")),
        }
    }
    bail!("cannot get the cluster status from {}", failures.join("; "))
}

/// DescribeCluster (when the broker has it) and Metadata, asked of one bootstrap server.
async fn ask(
    client: &mut ClusterClient,
    server: &str,
    deadline: Instant,
) -> Result<(Option<DescribedCluster>, ClusterMetadata), RequestError> {
    let retry = Retry::until(deadline);
    let described = loop {
        let attempt = client
            .send_to_addr::<DescribeClusterRequest>(
                server,
                describe_cluster::VERSIONS,
                describe_cluster::request,
                deadline,
            )
            .await;
        let outcome = match attempt {
            Ok((response, version)) => describe_cluster::from_response(response, version).map(Some),
            // A broker without the API (or without a version this client reads).
            Err(RequestError::Unsupported(_)) => Ok(None),
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) if retry.again(&e).await => continue,
            outcome => break outcome?,
        }
    };
    let metadata = loop {
        let outcome = match client
            .send_to_addr::<MetadataRequest>(
                server,
                metadata::VERSIONS,
                |version| metadata::request(None, false, version),
                deadline,
            )
            .await
        {
            Ok((response, version)) => metadata::from_response(response, version),
            Err(e) => Err(e),
        };
        match outcome {
            Err(e) if retry.again(&e).await => continue,
            outcome => break outcome?,
        }
    };
    Ok((described, metadata))
}

/// Everything `cluster status` shows; serialized as it is declared for `--output json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterStatus {
    pub cluster_id: Option<String>,
    /// `None` when the broker asked knows no controller.
    pub controller_id: Option<i32>,
    /// By id; brokers that lead partitions without being in the broker list are included, with
    /// no host or port.
    pub brokers: Vec<BrokerStatus>,
    pub topic_count: usize,
    pub partition_count: usize,
    pub offline_partition_count: usize,
    pub under_replicated_partition_count: usize,
    /// By topic, then partition.
    pub offline_partitions: Vec<PartitionState>,
    /// By topic, then partition.
    pub under_replicated_partitions: Vec<PartitionState>,
    pub topic_errors: Vec<TopicError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerStatus {
    pub id: i32,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub rack: Option<String>,
    /// `None` when unknown: the broker did not say (DescribeCluster below v2, or Metadata).
    pub fenced: Option<bool>,
    /// Partitions this broker leads.
    pub leaders: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionState {
    pub topic: String,
    pub partition: i32,
    /// `None` for an offline partition.
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicError {
    pub topic: String,
    /// "description (NAME)" of the error code.
    pub error: String,
}

impl ClusterStatus {
    /// The status from DescribeCluster's answer, when there is one, and Metadata's.
    pub fn new(described: Option<&DescribedCluster>, metadata: &ClusterMetadata) -> Self {
        let mut brokers: BTreeMap<i32, BrokerStatus> = match described {
            Some(d) => d
                .brokers
                .iter()
                .map(|b| {
                    let status = BrokerStatus {
                        id: b.broker_id,
                        host: Some(b.host.clone()),
                        port: Some(b.port),
                        rack: b.rack.clone(),
                        fenced: b.is_fenced,
                        leaders: 0,
                    };
                    (b.broker_id, status)
                })
                .collect(),
            None => metadata
                .brokers
                .iter()
                .map(|b| {
                    let status = BrokerStatus {
                        id: b.node_id,
                        host: Some(b.host.clone()),
                        port: Some(b.port),
                        rack: b.rack.clone(),
                        fenced: None,
                        leaders: 0,
                    };
                    (b.node_id, status)
                })
                .collect(),
        };
        let (cluster_id, controller_id) = match described {
            Some(d) => (Some(d.cluster_id.clone()), d.controller_id),
            None => (metadata.cluster_id.clone(), metadata.controller_id),
        };

        let mut offline_partitions = Vec::new();
        let mut under_replicated_partitions = Vec::new();
        let mut topic_errors = Vec::new();
        let mut partition_count = 0;
        for topic in &metadata.topics {
            if topic.error_code != 0 {
                topic_errors.push(TopicError {
                    topic: topic.name.clone(),
                    error: code_text(topic.error_code),
                });
            }
            for p in &topic.partitions {
                partition_count += 1;
                let leader = (p.leader_id >= 0).then_some(p.leader_id);
                if let Some(id) = leader {
                    brokers
                        .entry(id)
                        .or_insert_with(|| BrokerStatus {
                            id,
                            host: None,
                            port: None,
                            rack: None,
                            fenced: None,
                            leaders: 0,
                        })
                        .leaders += 1;
                }
                let state = || PartitionState {
                    topic: topic.name.clone(),
                    partition: p.partition,
                    leader,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                };
                if leader.is_none() {
                    offline_partitions.push(state());
                }
                if p.isr.len() < p.replicas.len() {
                    under_replicated_partitions.push(state());
                }
            }
        }
        let by_topic_partition = |a: &PartitionState, b: &PartitionState| {
            (&a.topic, a.partition).cmp(&(&b.topic, b.partition))
        };
        offline_partitions.sort_by(by_topic_partition);
        under_replicated_partitions.sort_by(by_topic_partition);
        topic_errors.sort_by(|a, b| a.topic.cmp(&b.topic));

        ClusterStatus {
            cluster_id,
            controller_id: (controller_id >= 0).then_some(controller_id),
            brokers: brokers.into_values().collect(),
            topic_count: metadata.topics.len(),
            partition_count,
            offline_partition_count: offline_partitions.len(),
            under_replicated_partition_count: under_replicated_partitions.len(),
            offline_partitions,
            under_replicated_partitions,
            topic_errors,
        }
    }

    /// The text output: ids, the broker table, the partition summary, and a table of the
    /// partitions that are offline or under-replicated when there are any.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "Cluster id:     {}\nController id:  {}\n\n",
            self.cluster_id.as_deref().unwrap_or("-"),
            self.controller_id
                .map_or_else(|| "none".to_string(), |id| id.to_string()),
        );

        let mut brokers = Table::new(&["BROKER", "HOST:PORT", "RACK", "FENCED", "LEADERS"]);
        for b in &self.brokers {
            let address = match (&b.host, b.port) {
                (Some(host), Some(port)) => host_port(host, port),
                _ => "(not listed)".to_string(),
            };
            let fenced = match b.fenced {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            brokers.push(vec![
                b.id.to_string(),
                address,
                b.rack.clone().unwrap_or_else(|| "-".to_string()),
                fenced.to_string(),
                b.leaders.to_string(),
            ]);
        }
        out.push_str(&brokers.render());

        out.push_str(&format!(
            "\nTopics: {}  Partitions: {}  Offline: {}  Under-replicated: {}\n",
            self.topic_count,
            self.partition_count,
            self.offline_partition_count,
            self.under_replicated_partition_count,
        ));

        // One row per partition: offline says more than under-replicated.
        let mut rows: BTreeMap<(&str, i32), (&PartitionState, &str)> = BTreeMap::new();
        for p in &self.under_replicated_partitions {
            rows.insert((&p.topic, p.partition), (p, "under-replicated"));
        }
        for p in &self.offline_partitions {
            rows.insert((&p.topic, p.partition), (p, "offline"));
        }
        if !rows.is_empty() {
            let mut partitions =
                Table::new(&["TOPIC-PARTITION", "STATE", "LEADER", "REPLICAS", "ISR"]);
            for (p, state) in rows.into_values() {
                partitions.push(vec![
                    format!("{}-{}", p.topic, p.partition),
                    state.to_string(),
                    p.leader
                        .map_or_else(|| "none".to_string(), |id| id.to_string()),
                    node_list(&p.replicas),
                    node_list(&p.isr),
                ]);
            }
            out.push('\n');
            out.push_str(&partitions.render());
        }
        out
    }

    /// The JSON output: this status as one object on one line.
    pub fn render_json(&self) -> Result<String> {
        serde_json::to_string(self).context("cannot write the status as JSON")
    }
}

/// `1,2,3`, or `-` for none.
fn node_list(ids: &[i32]) -> String {
    if ids.is_empty() {
        return "-".to_string();
    }
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::describe_cluster::DescribedBroker;
    use crate::wire::metadata::{MetadataBroker, PartitionMetadata, TopicMetadata};

    fn broker(id: i32, port: i32, fenced: Option<bool>) -> DescribedBroker {
        DescribedBroker {
            broker_id: id,
            host: "127.0.0.1".into(),
            port,
            rack: (id == 1).then(|| "rack-a".to_string()),
            is_fenced: fenced,
        }
    }

    fn partition(index: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionMetadata {
        PartitionMetadata {
            error_code: 0,
            partition: index,
            leader_id: leader,
            leader_epoch: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            offline_replicas: vec![],
        }
    }

    fn topic(name: &str, partitions: Vec<PartitionMetadata>) -> TopicMetadata {
        TopicMetadata {
            error_code: 0,
            name: name.into(),
            topic_id: None,
            is_internal: name.starts_with("__"),
            partitions,
        }
    }

    fn described() -> DescribedCluster {
        DescribedCluster {
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
            controller_id: 2,
            brokers: vec![
                broker(3, 19096, Some(true)),
                broker(1, 19092, Some(false)),
                broker(2, 19094, Some(false)),
            ],
        }
    }

    /// Three topics: healthy, one partition under-replicated and one offline, and an internal
    /// one led by a broker missing from the broker list.
    fn metadata() -> ClusterMetadata {
        ClusterMetadata {
            brokers: vec![MetadataBroker {
                node_id: 1,
                host: "127.0.0.1".into(),
                port: 19092,
                rack: None,
            }],
            cluster_id: Some("from-metadata".into()),
            controller_id: 1,
            topics: vec![
                topic(
                    "orders",
                    vec![
                        partition(1, -1, &[3, 1, 2], &[3]),
                        partition(0, 1, &[1, 2, 3], &[1, 2]),
                        partition(2, 2, &[2, 3, 1], &[2, 3, 1]),
                    ],
                ),
                topic("audit", vec![partition(0, 1, &[1], &[1])]),
                topic("__consumer_offsets", vec![partition(0, 7, &[7], &[7])]),
            ],
        }
    }

    #[test]
    fn health_is_counted_as_kafka_counts_it() {
        let status = ClusterStatus::new(Some(&described()), &metadata());
        assert_eq!(status.cluster_id.as_deref(), Some("MkU3OEVBNTcwNTJENDM2Qg"));
        assert_eq!(status.controller_id, Some(2));
        assert_eq!(status.topic_count, 3);
        assert_eq!(status.partition_count, 5);
        let leaders: Vec<(i32, usize)> = status.brokers.iter().map(|b| (b.id, b.leaders)).collect();
        assert_eq!(leaders, vec![(1, 2), (2, 1), (3, 0), (7, 1)]);
        let offline: Vec<(&str, i32)> = status
            .offline_partitions
            .iter()
            .map(|p| (p.topic.as_str(), p.partition))
            .collect();
        assert_eq!(offline, vec![("orders", 1)]);
        // The offline partition has fewer in-sync replicas than replicas too.
        let under: Vec<(&str, i32)> = status
            .under_replicated_partitions
            .iter()
            .map(|p| (p.topic.as_str(), p.partition))
            .collect();
        assert_eq!(under, vec![("orders", 0), ("orders", 1)]);
        assert_eq!(status.offline_partition_count, 1);
        assert_eq!(status.under_replicated_partition_count, 2);
    }

    #[test]
    fn the_text_output_has_the_ids_the_brokers_and_the_troubled_partitions() {
        let status = ClusterStatus::new(Some(&described()), &metadata());
        assert_eq!(
            status.render_text(),
            "Cluster id:     MkU3OEVBNTcwNTJENDM2Qg\n\
             Controller id:  2\n\
             \n\
             BROKER  HOST:PORT        RACK    FENCED  LEADERS\n\
             1       127.0.0.1:19092  rack-a  no      2\n\
             2       127.0.0.1:19094  -       no      1\n\
             3       127.0.0.1:19096  -       yes     0\n\
             7       (not listed)     -       -       1\n\
             \n\
             Topics: 3  Partitions: 5  Offline: 1  Under-replicated: 2\n\
             \n\
             TOPIC-PARTITION  STATE             LEADER  REPLICAS  ISR\n\
             orders-0         under-replicated  1       1,2,3     1,2\n\
             orders-1         offline           none    3,1,2     3\n"
        );
    }

    #[test]
    fn a_healthy_cluster_has_no_partition_table() {
        let mut healthy = metadata();
        healthy.topics.truncate(0);
        let mut no_controller = described();
        no_controller.controller_id = -1;
        let text = ClusterStatus::new(Some(&no_controller), &healthy).render_text();
        assert!(
            text.starts_with("Cluster id:     MkU3OEVBNTcwNTJENDM2Qg\nController id:  none\n"),
            "{text}"
        );
        assert!(
            text.ends_with("\nTopics: 0  Partitions: 0  Offline: 0  Under-replicated: 0\n"),
            "{text}"
        );
        assert!(!text.contains("TOPIC-PARTITION"), "{text}");
    }

    #[test]
    fn without_describe_cluster_the_brokers_come_from_metadata() {
        let status = ClusterStatus::new(None, &metadata());
        assert_eq!(status.cluster_id.as_deref(), Some("from-metadata"));
        assert_eq!(status.controller_id, Some(1));
        let first = &status.brokers[0];
        assert_eq!(
            (first.id, first.fenced, first.rack.as_deref()),
            (1, None, None)
        );
        let text = status.render_text();
        assert!(
            text.contains("\n1       127.0.0.1:19092  -     -       2\n"),
            "{text}"
        );
    }

    #[test]
    fn the_json_output_is_one_object_with_the_same_facts() {
        let mut with_error = metadata();
        with_error.topics.push(TopicMetadata {
            error_code: 5,
            name: "creating".into(),
            topic_id: None,
            is_internal: false,
            partitions: vec![],
        });
        let status = ClusterStatus::new(Some(&described()), &with_error);
        let json = status.render_json().expect("serializes");
        assert!(!json.contains('\n'), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["cluster_id"], "MkU3OEVBNTcwNTJENDM2Qg");
        assert_eq!(value["controller_id"], 2);
        assert_eq!(value["topic_count"], 4);
        assert_eq!(value["partition_count"], 5);
        assert_eq!(value["offline_partition_count"], 1);
        assert_eq!(value["under_replicated_partition_count"], 2);
        assert_eq!(
            value["brokers"][0],
            serde_json::json!({
                "id": 1, "host": "127.0.0.1", "port": 19092, "rack": "rack-a",
                "fenced": false, "leaders": 2
            })
        );
        assert_eq!(
            value["brokers"][3],
            serde_json::json!({
                "id": 7, "host": null, "port": null, "rack": null, "fenced": null, "leaders": 1
            })
        );
        assert_eq!(
            value["offline_partitions"],
            serde_json::json!([{
                "topic": "orders", "partition": 1, "leader": null,
                "replicas": [3, 1, 2], "isr": [3]
            }])
        );
        assert_eq!(value["under_replicated_partitions"][0]["leader"], 1);
        assert_eq!(
            value["topic_errors"],
            serde_json::json!([{
                "topic": "creating",
                "error": "Broker: Leader not available (LEADER_NOT_AVAILABLE)"
            }])
        );
        // Keys in the order they are declared, cluster id first.
        assert!(json.starts_with("{\"cluster_id\":"), "{json}");
    }
}

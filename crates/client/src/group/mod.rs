//! `sluice group list|describe|reset-offsets|delete`: consumer-group administration in the
//! manner of kafka-consumer-groups, through librdkafka.
//!
//! Layout:
//! - `mod.rs`: the command line and the four commands, which gather data and print it.
//! - `group_client.rs`: a consumer bound to the group id that never joins it: group
//!   description, committed offsets, partition offsets, commits.
//! - `describe.rs`: the describe output built from plain data (members, offsets, lag).
//! - `assignment.rs`: decoding consumer-protocol member assignments.
//! - `reset.rs`: the new offset of a partition under each reset mode.
//! - `datetime.rs`: parsing `--to-datetime`.
//! - `static_members.rs`: members' `group.instance.id`, which librdkafka's group listing lacks.
//!
//! Which partitions `describe` shows: those the members are assigned, and every partition of
//! every topic for which the group has a committed offset. librdkafka's OffsetFetch needs
//! explicit partitions, so every partition of every topic in the cluster metadata is asked for
//! (internal topics, named `__...`, left out) and those without an offset are dropped.

mod assignment;
mod datetime;
mod describe;
mod group_client;
mod reset;
mod static_members;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{ArgGroup, Args, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;

use crate::connection::{
    chosen_partitions, describe_code, describe_error, topic_partitions, ConnectArgs,
};
use crate::table::Table;

pub use datetime::parse_datetime_ms;
use describe::{GroupDescription, InstanceId, OffsetRow};
use group_client::{GroupClient, TopicPartition, GROUP_TIMEOUT};
use reset::{new_offset, PartitionOffsets, ResetMode};

/// How long the `group.instance.id` lookup may take in all.
const STATIC_MEMBERS_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct GroupArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum GroupCommand {
    /// List every group with its state and protocol type.
    List,
    /// Show a group's state, members, committed offsets and lag per partition.
    Describe {
        /// The group id.
        group: String,
    },
    /// Move a group's committed offsets of one topic (only while the group has no members).
    ResetOffsets(ResetOffsetsArgs),
    /// Delete groups and their committed offsets (the broker refuses groups with members).
    Delete {
        /// The group ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(group(
    ArgGroup::new("mode")
        .required(true)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "shift_by"])
))]
pub struct ResetOffsetsArgs {
    /// The group id.
    pub group: String,
    /// The topic whose offsets move.
    #[arg(long)]
    pub topic: String,
    /// Only these partitions (repeatable or comma-separated; default: all).
    #[arg(long = "partition", value_name = "P", value_delimiter = ',')]
    pub partitions: Vec<u32>,
    /// To the log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// To the log end offset.
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (kept within the partition's range).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<u64>,
    /// To the first record at or after this instant, e.g. 2026-11-30T10:00:00Z.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime_ms)]
    pub to_datetime: Option<i64>,
    /// By N from the committed offset, negative to go back (kept within the range).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub shift_by: Option<i64>,
    /// Show the new offsets without committing them.
    #[arg(long)]
    pub dry_run: bool,
}

impl ResetOffsetsArgs {
    fn mode(&self) -> Result<ResetMode> {
        // clap's "mode" group guarantees exactly one of these.
        Ok(if self.to_earliest {
            ResetMode::Earliest
        } else if self.to_latest {
            ResetMode::Latest
        } else if let Some(offset) = self.to_offset {
            ResetMode::Offset(i64::try_from(offset).context("--to-offset is too large")?)
        } else if let Some(ms) = self.to_datetime {
            ResetMode::Datetime(ms)
        } else if let Some(delta) = self.shift_by {
            ResetMode::ShiftBy(delta)
        } else {
            bail!("give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by")
        })
    }
}

pub async fn run(args: GroupArgs) -> Result<()> {
    let connect = args.connect;
    match args.command {
        GroupCommand::List => blocking(move || list(&connect)).await,
        GroupCommand::Describe { group } => blocking(move || describe(&connect, &group)).await,
        GroupCommand::ResetOffsets(reset) => {
            blocking(move || reset_offsets(&connect, &reset)).await
        }
        GroupCommand::Delete { groups } => delete(&connect, &groups).await,
    }
}

async fn blocking<F>(work: F) -> Result<()>
where
    F: FnOnce() -> Result<()> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .context("group task failed")?
}

fn list(connect: &ConnectArgs) -> Result<()> {
    let admin = admin_client(connect)?;
    let groups = group_client::describe_groups(admin.inner(), None, &connect.bootstrap_server)?;
    let mut table = Table::new(&["GROUP", "STATE", "PROTOCOL-TYPE"]);
    for group in groups {
        let protocol_type = if group.protocol_type.is_empty() {
            "-".to_string()
        } else {
            group.protocol_type
        };
        table.push(vec![group.name, group.state, protocol_type]);
    }
    print!("{}", table.render());
    Ok(())
}

fn describe(connect: &ConnectArgs, group: &str) -> Result<()> {
    let client = GroupClient::connect(connect, group)?;
    let Some(mut description) = client.describe()? else {
        bail!("group '{group}' does not exist (GROUP_ID_NOT_FOUND)");
    };
    let mut warnings = Warnings::default();
    let rows = offset_rows(&client, &description, &mut warnings)?;
    if !description.members.is_empty() {
        match static_members::instance_ids(connect, group, STATIC_MEMBERS_TIMEOUT) {
            Ok(ids) => {
                for member in &mut description.members {
                    member.group_instance_id = match ids.get(&member.member_id) {
                        Some(Some(id)) => InstanceId::Static(id.clone()),
                        Some(None) => InstanceId::Dynamic,
                        None => InstanceId::Unknown,
                    };
                }
            }
            Err(why) => warnings.warn(format!("group.instance.id unknown (shown as ?): {why}")),
        }
    }
    print!("{}", describe::render_description(&description, &rows));
    Ok(())
}

/// The offsets table of `describe`: committed offset, log end offset and owner of every
/// partition the group has committed or is assigned. What cannot be read becomes a warning and
/// a `-` in the table rather than a failed command.
fn offset_rows(
    client: &GroupClient,
    description: &GroupDescription,
    warnings: &mut Warnings,
) -> Result<Vec<OffsetRow>> {
    // Partitions to ask OffsetFetch about: all of every non-internal topic, plus whatever the
    // members are assigned (even of a topic the metadata does not show).
    let metadata = client.metadata(None)?;
    let mut candidates: BTreeSet<TopicPartition> = BTreeSet::new();
    for topic in metadata.topics() {
        if topic.name().starts_with("__") || topic.error().is_some() {
            continue;
        }
        for partition in topic.partitions() {
            candidates.insert((topic.name().to_string(), partition.id()));
        }
    }
    candidates.extend(describe::assigned_partitions(description));
    let candidates: Vec<TopicPartition> = candidates.into_iter().collect();
    let (committed, problems) = client.committed_offsets(&candidates)?;
    for problem in problems {
        warnings.warn(problem);
    }

    let shown = describe::partitions_to_show(description, &committed);
    let wanted: Vec<TopicPartition> = shown.keys().cloned().collect();
    let mut log_ends = client.log_end_offsets(&wanted)?;
    let mut rows = Vec::with_capacity(shown.len());
    for ((topic, partition), consumer_id) in shown {
        let log_end_offset = match log_ends.remove(&(topic.clone(), partition)) {
            Some(Ok(offset)) => Some(offset),
            Some(Err(why)) => {
                warnings.warn(why);
                None
            }
            None => {
                warnings.warn(format!(
                    "no log end offset returned for '{topic}' partition {partition}"
                ));
                None
            }
        };
        rows.push(OffsetRow {
            current_offset: committed.get(&(topic.clone(), partition)).copied(),
            topic,
            partition,
            log_end_offset,
            consumer_id,
        });
    }
    Ok(rows)
}

fn reset_offsets(connect: &ConnectArgs, args: &ResetOffsetsArgs) -> Result<()> {
    let mode = args.mode()?;
    let client = GroupClient::connect(connect, &args.group)?;
    if let Some(description) = client.describe()? {
        check_resettable(&args.group, &description.state, description.members.len())?;
    }
    let new_offsets = plan_reset(&client, &args.topic, &args.partitions, mode)
        .map_err(|e| anyhow!("resetting offsets of group '{}': {e}", args.group))?;
    if !args.dry_run {
        client.commit(&args.topic, &new_offsets)?;
    }
    let mut table = Table::new(&["TOPIC", "PARTITION", "NEW-OFFSET"]);
    for (partition, offset) in &new_offsets {
        table.push(vec![
            args.topic.clone(),
            partition.to_string(),
            offset.to_string(),
        ]);
    }
    print!("{}", table.render());
    if args.dry_run {
        eprintln!("dry run: nothing committed for group '{}'", args.group);
    } else {
        eprintln!("committed new offsets for group '{}'", args.group);
    }
    Ok(())
}

/// The (partition, new offset) pairs `reset-offsets` commits for `topic`, in partition order.
/// `partitions` as given to `--partition` (empty: all).
fn plan_reset(
    client: &GroupClient,
    topic: &str,
    partitions: &[u32],
    mode: ResetMode,
) -> Result<Vec<(i32, i64)>> {
    let metadata = client.metadata(Some(topic))?;
    let all_partitions = topic_partitions(&metadata, topic)?;
    let partitions = chosen_partitions(topic, &all_partitions, partitions)?;

    let committed = match mode {
        ResetMode::ShiftBy(_) => {
            let wanted: Vec<TopicPartition> =
                partitions.iter().map(|&p| (topic.to_string(), p)).collect();
            let (committed, problems) = client.committed_offsets(&wanted)?;
            if let Some(problem) = problems.into_iter().next() {
                bail!("{problem}");
            }
            committed
        }
        _ => BTreeMap::new(),
    };
    let at_datetime = match mode {
        ResetMode::Datetime(ms) => client.offsets_for_time(topic, &partitions, ms)?,
        _ => BTreeMap::new(),
    };

    let mut new_offsets = Vec::with_capacity(partitions.len());
    for &partition in &partitions {
        let (earliest, latest) = client.watermarks(topic, partition)?;
        let known = PartitionOffsets {
            partition,
            earliest,
            latest,
            committed: committed.get(&(topic.to_string(), partition)).copied(),
            at_datetime: at_datetime.get(&partition).copied().flatten(),
        };
        let offset = new_offset(mode, &known).map_err(|why| anyhow!("topic '{topic}': {why}"))?;
        new_offsets.push((partition, offset));
    }
    Ok(new_offsets)
}

/// Kafka lets offsets be set from outside only while a group has no members: a live consumer
/// would overwrite them with its own position at its next commit.
fn check_resettable(group: &str, state: &str, members: usize) -> Result<()> {
    if state == "Empty" {
        return Ok(());
    }
    let plural = if members == 1 { "" } else { "s" };
    bail!(
        "cannot reset offsets of group '{group}': it is {state} with {members} member{plural}; \
         offsets can only be reset while the group is Empty (stop its consumers first)"
    )
}

async fn delete(connect: &ConnectArgs, groups: &[String]) -> Result<()> {
    // librdkafka rejects a request that names a group twice.
    let mut seen = BTreeSet::new();
    let names: Vec<&str> = groups
        .iter()
        .map(String::as_str)
        .filter(|g| seen.insert(*g))
        .collect();
    let admin = admin_client(connect)?;
    let options = AdminOptions::new()
        .request_timeout(Some(GROUP_TIMEOUT))
        .operation_timeout(Some(GROUP_TIMEOUT));
    let results = admin
        .delete_groups(&names, &options)
        .await
        .map_err(|e| anyhow!("deleting groups: {}", describe_error(&e)))?;
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(group) => println!("deleted group {group}"),
            Err((group, code)) => failures.push(delete_failure(&group, code)),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{}", failures.join("; ")))
    }
}

fn delete_failure(group: &str, code: RDKafkaErrorCode) -> String {
    match code {
        RDKafkaErrorCode::GroupIdNotFound => {
            format!("group '{group}' does not exist (GROUP_ID_NOT_FOUND)")
        }
        RDKafkaErrorCode::NonEmptyGroup => {
            format!("cannot delete group '{group}': it still has members (NON_EMPTY_GROUP)")
        }
        other => format!("deleting group '{group}': {}", describe_code(other)),
    }
}

fn admin_client(connect: &ConnectArgs) -> Result<AdminClient<DefaultClientContext>> {
    connect
        .client_config(&[])
        .create()
        .map_err(|e| anyhow!("creating admin client: {}", describe_error(&e)))
}

/// Warnings on stderr, each distinct text once.
#[derive(Default)]
struct Warnings {
    shown: BTreeSet<String>,
}

impl Warnings {
    fn warn(&mut self, text: String) {
        if self.shown.insert(text.clone()) {
            eprintln!("warning: {text}");
        }
    }
}

#[cfg(test)]
mod mock_cluster_tests;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_group_can_be_reset() {
        assert!(check_resettable("g", "Empty", 0).is_ok());
        let err = check_resettable("g", "Stable", 2).expect_err("has members");
        assert_eq!(
            err.to_string(),
            "cannot reset offsets of group 'g': it is Stable with 2 members; offsets can only \
             be reset while the group is Empty (stop its consumers first)"
        );
        let err = check_resettable("g", "PreparingRebalance", 1).expect_err("rebalancing");
        assert!(
            err.to_string()
                .contains("PreparingRebalance with 1 member;"),
            "{err}"
        );
    }

    #[test]
    fn delete_failures_name_the_kafka_error() {
        assert_eq!(
            delete_failure("g", RDKafkaErrorCode::GroupIdNotFound),
            "group 'g' does not exist (GROUP_ID_NOT_FOUND)"
        );
        assert_eq!(
            delete_failure("g", RDKafkaErrorCode::NonEmptyGroup),
            "cannot delete group 'g': it still has members (NON_EMPTY_GROUP)"
        );
        assert_eq!(
            delete_failure("g", RDKafkaErrorCode::GroupAuthorizationFailed),
            "deleting group 'g': Broker: Group authorization failed \
             (GROUP_AUTHORIZATION_FAILED)"
        );
    }
}

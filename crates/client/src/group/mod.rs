//! `sluice group list|describe|reset-offsets|delete`: consumer-group administration in the
//! manner of kafka-consumer-groups, through the CLI's Kafka client.
//!
//! Layout:
//! - `mod.rs`: the command line and the four commands, which gather data and print it.
//! - `group_client.rs`: the group requests (ListGroups, DescribeGroups, OffsetFetch,
//!   ListOffsets, OffsetCommit, DeleteGroups), sent to the right broker, never joining a group.
//! - `describe.rs`: the describe output built from plain data (members, offsets, lag).
//! - `assignment.rs`: decoding consumer-protocol member assignments.
//! - `reset.rs`: the new offset of a partition under each reset mode.
//! - `datetime.rs`: parsing `--to-datetime`.
//!
//! Which partitions `describe` shows: those the members are assigned, and every partition of
//! every topic for which the group has a committed offset. OffsetFetch below v2 needs explicit
//! partitions, so every partition of every topic in the cluster metadata is asked for (internal
//! topics, named `__...`, left out) and those without an offset are dropped.

pub mod assignment;
mod datetime;
pub mod describe;
pub mod group_client;
pub mod reset;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{ArgGroup, Args, Subcommand};

use crate::connect_args::ConnectArgs;
use crate::error_codes::code_text;
use crate::table::Table;
use crate::topic_partitions::{chosen_partitions, topic_partitions};
use crate::wire::list_offsets::{EARLIEST, LATEST};

pub use datetime::parse_datetime_ms;
use describe::{GroupDescription, OffsetRow};
use group_client::{GroupClient, TopicPartition};
use reset::{new_offset, PartitionOffsets, ResetMode};

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
    let mut client = GroupClient::connect(&args.connect)?;
    match args.command {
        GroupCommand::List => list(&mut client).await,
        GroupCommand::Describe { group } => describe(&mut client, &group).await,
        GroupCommand::ResetOffsets(reset) => reset_offsets(&mut client, &reset).await,
        GroupCommand::Delete { groups } => delete(&mut client, &groups).await,
    }
}

async fn list(client: &mut GroupClient) -> Result<()> {
    let groups = client.list().await?;
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

async fn describe(client: &mut GroupClient, group: &str) -> Result<()> {
    let Some(description) = client.describe(group).await? else {
        bail!("group '{group}' does not exist (GROUP_ID_NOT_FOUND)");
    };
    let mut warnings = Warnings::default();
    let rows = offset_rows(client, &description, &mut warnings).await?;
    if description
        .members
        .iter()
        .any(|m| m.group_instance_id == describe::InstanceId::Unknown)
    {
        warnings.warn(
            "group.instance.id unknown (shown as ?): the broker answers DescribeGroups below v4"
                .to_string(),
        );
    }
    print!("{}", describe::render_description(&description, &rows));
    Ok(())
}

/// The offsets table of `describe`: committed offset, log end offset and owner of every
/// partition the group has committed or is assigned. What cannot be read becomes a warning and
/// a `-` in the table rather than a failed command.
async fn offset_rows(
    client: &mut GroupClient,
    description: &GroupDescription,
    warnings: &mut Warnings,
) -> Result<Vec<OffsetRow>> {
    // Partitions to ask OffsetFetch about: all of every non-internal topic, plus whatever the
    // members are assigned (even of a topic the metadata does not show).
    let metadata = client.metadata(None).await?;
    let mut candidates: BTreeSet<TopicPartition> = BTreeSet::new();
    for topic in &metadata.topics {
        if topic.name.starts_with("__") || topic.error_code != 0 {
            continue;
        }
        for partition in &topic.partitions {
            candidates.insert((topic.name.clone(), partition.partition));
        }
    }
    candidates.extend(describe::assigned_partitions(description));
    let candidates: Vec<TopicPartition> = candidates.into_iter().collect();
    let (committed, problems) = client
        .committed_offsets(&description.name, &candidates)
        .await?;
    for problem in problems {
        warnings.warn(problem);
    }

    let shown = describe::partitions_to_show(description, &committed);
    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in shown.keys() {
        by_topic.entry(topic.clone()).or_default().push(*partition);
    }
    let mut log_ends: BTreeMap<TopicPartition, Result<i64, String>> = BTreeMap::new();
    for (topic, partitions) in &by_topic {
        for (partition, found) in client.offsets(topic, partitions, LATEST).await {
            let end = found
                .map(|f| f.offset)
                .map_err(|e| format!("log end offset of '{topic}' partition {partition}: {e}"));
            log_ends.insert((topic.clone(), partition), end);
        }
    }
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

async fn reset_offsets(client: &mut GroupClient, args: &ResetOffsetsArgs) -> Result<()> {
    let mode = args.mode()?;
    if let Some(description) = client.describe(&args.group).await? {
        check_resettable(&args.group, &description.state, description.members.len())?;
    }
    let new_offsets = plan_reset(client, &args.group, &args.topic, &args.partitions, mode)
        .await
        .map_err(|e| anyhow!("resetting offsets of group '{}': {e}", args.group))?;
    if !args.dry_run {
        client
            .commit(&args.group, &args.topic, &new_offsets)
            .await?;
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
async fn plan_reset(
    client: &mut GroupClient,
    group: &str,
    topic: &str,
    partitions: &[u32],
    mode: ResetMode,
) -> Result<Vec<(i32, i64)>> {
    let metadata = client.metadata(Some(topic)).await?;
    let all_partitions = topic_partitions(&metadata, topic)?;
    let partitions = chosen_partitions(topic, &all_partitions, partitions)?;

    let committed = match mode {
        ResetMode::ShiftBy(_) => {
            let wanted: Vec<TopicPartition> =
                partitions.iter().map(|&p| (topic.to_string(), p)).collect();
            let (committed, problems) = client.committed_offsets(group, &wanted).await?;
            if let Some(problem) = problems.into_iter().next() {
                bail!("{problem}");
            }
            committed
        }
        _ => BTreeMap::new(),
    };
    let lookup = |what: &'static str| {
        move |(partition, found): (i32, Result<_, crate::wire::RequestError>)| {
            found
                .map(|f: crate::wire::list_offsets::FoundOffset| (partition, f))
                .with_context(|| format!("reading the {what} of '{topic}' partition {partition}"))
        }
    };
    let earliest: BTreeMap<i32, i64> = client
        .offsets(topic, &partitions, EARLIEST)
        .await
        .into_iter()
        .map(lookup("log start offset"))
        .map(|r| r.map(|(p, f)| (p, f.offset)))
        .collect::<Result<_>>()?;
    let latest: BTreeMap<i32, i64> = client
        .offsets(topic, &partitions, LATEST)
        .await
        .into_iter()
        .map(lookup("log end offset"))
        .map(|r| r.map(|(p, f)| (p, f.offset)))
        .collect::<Result<_>>()?;
    let at_datetime: BTreeMap<i32, Option<i64>> = match mode {
        ResetMode::Datetime(ms) => client
            .offsets(topic, &partitions, ms)
            .await
            .into_iter()
            .map(lookup("offset by timestamp"))
            // -1: no record at or after the timestamp.
            .map(|r| r.map(|(p, f)| (p, (f.offset >= 0).then_some(f.offset))))
            .collect::<Result<_>>()?,
        _ => BTreeMap::new(),
    };

    let mut new_offsets = Vec::with_capacity(partitions.len());
    for &partition in &partitions {
        let (Some(&earliest), Some(&latest)) = (earliest.get(&partition), latest.get(&partition))
        else {
            bail!("no offsets returned for '{topic}' partition {partition}");
        };
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

async fn delete(client: &mut GroupClient, groups: &[String]) -> Result<()> {
    // A request naming a group twice would answer twice.
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for group in groups.iter().filter(|g| seen.insert(g.as_str())) {
        match client.delete(group).await {
            Ok(0) => println!("deleted group {group}"),
            Ok(code) => failures.push(delete_failure(group, code)),
            Err(e) => failures.push(format!("deleting group '{group}': {e}")),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("{}", failures.join("; ")))
    }
}

fn delete_failure(group: &str, code: i16) -> String {
    match code {
        69 => format!("group '{group}' does not exist (GROUP_ID_NOT_FOUND)"),
        68 => format!("cannot delete group '{group}': it still has members (NON_EMPTY_GROUP)"),
        other => format!("deleting group '{group}': {}", code_text(other)),
    }
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
mod broker_tests;
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
            delete_failure("g", 69),
            "group 'g' does not exist (GROUP_ID_NOT_FOUND)"
        );
        assert_eq!(
            delete_failure("g", 68),
            "cannot delete group 'g': it still has members (NON_EMPTY_GROUP)"
        );
        assert_eq!(
            delete_failure("g", 30),
            "deleting group 'g': Broker: Group authorization failed \
             (GROUP_AUTHORIZATION_FAILED)"
        );
    }
}

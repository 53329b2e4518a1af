//! `sluice group list|describe|reset-offsets|delete` against a real broker: offsets committed
//! and consumers run through librdkafka (the `rdkafka` crate), the commands run as the `sluice`
//! binary, their output read the way a person or a script would.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{sluice_cli, CliOutput as Output, TestBroker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

/// Runs `sluice ARGS -b <broker>` to the end.
fn sluice(broker: &TestBroker, args: &[&str]) -> Output {
    let addr = broker.addr();
    let mut all = args.to_vec();
    all.extend(["-b", addr.as_str()]);
    sluice_cli(&all)
}

/// Runs a command that must succeed.
fn sluice_ok(broker: &TestBroker, args: &[&str]) -> Output {
    let out = sluice(broker, args);
    assert_eq!(
        out.code,
        0,
        "`sluice {}` failed: {}{}",
        args.join(" "),
        out.stdout,
        out.stderr
    );
    out
}

/// The rows of the table whose header starts with `first_column`, as whitespace-split cells.
fn table_rows(text: &str, first_column: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let Some(header) = lines
        .by_ref()
        .find(|line| line.split_whitespace().next() == Some(first_column))
    else {
        panic!("no table starting with {first_column} in:\n{text}");
    };
    let columns = header.split_whitespace().count();
    lines
        .take_while(|line| !line.trim().is_empty())
        .map(|line| {
            let cells: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            assert_eq!(cells.len(), columns, "row {line:?} under {header:?}");
            cells
        })
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn create_topic(broker: &TestBroker, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .create()
        .expect("admin client");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let results = runtime()
        .block_on(admin.create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create_topics");
    for result in results {
        result.expect("topic created");
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Produces `timestamps.len()` records to one partition, record i with timestamp
/// `timestamps[i]`, and waits until all are acknowledged.
fn produce(broker: &TestBroker, topic: &str, partition: i32, timestamps: &[i64]) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("acks", "all")
        .create()
        .expect("producer");
    for (i, &timestamp) in timestamps.iter().enumerate() {
        let value = format!("record-{i}");
        let record: BaseRecord<'_, (), String> = BaseRecord::to(topic)
            .partition(partition)
            .payload(&value)
            .timestamp(timestamp);
        producer
            .send(record)
            .map_err(|(e, _)| e)
            .expect("record queued");
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("every record acknowledged");
}

/// Commits offsets for `group` from outside it, as an admin tool would.
fn commit(broker: &TestBroker, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut list = TopicPartitionList::new();
    for &(partition, offset) in offsets {
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .expect("valid offset");
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .expect("offsets committed");
}

/// `2026-11-30T10:00:00.250Z` for milliseconds since the epoch.
fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let ms_of_day = ms.rem_euclid(86_400_000);
    // Days to a civil date, counting 400-year eras from 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1_000 % 60,
        ms_of_day % 1_000
    )
}

/// The CURRENT-OFFSET, LOG-END-OFFSET and LAG columns per partition of `group describe`.
fn lag_table(broker: &TestBroker, group: &str) -> Vec<Vec<String>> {
    let out = sluice_ok(broker, &["group", "describe", group]);
    table_rows(&out.stdout, "TOPIC")
        .into_iter()
        .map(|cells| cells[..5].to_vec())
        .collect()
}

/// Polls `group list` until `group` is in `state`, within a deadline.
fn wait_for_state(broker: &TestBroker, group: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = sluice_ok(broker, &["group", "list"]);
        let rows = table_rows(&out.stdout, "GROUP");
        if rows.iter().any(|r| r[0] == group && r[1] == state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group {group} never reached {state}: {}",
            out.stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn describe_shows_lag_and_reset_offsets_moves_it() {
    let broker = TestBroker::start(&[]);
    create_topic(&broker, "orders", 2);
    // Partition 0: ten records a second apart, the first an hour ago; partition 1: four now.
    let base = now_ms() - 3_600_000;
    let spaced: Vec<i64> = (0..10).map(|i| base + i * 1_000).collect();
    produce(&broker, "orders", 0, &spaced);
    produce(&broker, "orders", 1, &[now_ms(); 4]);
    commit(&broker, "billing", "orders", &[(0, 3), (1, 4)]);

    // Offsets committed from outside make an Empty group with no protocol type, as in Kafka.
    let out = sluice_ok(&broker, &["group", "list"]);
    assert_eq!(
        table_rows(&out.stdout, "GROUP"),
        vec![row(&["billing", "Empty", "-"])]
    );

    let out = sluice_ok(&broker, &["group", "describe", "billing"]);
    assert_eq!(
        table_rows(&out.stdout, "GROUP")[0][..2],
        row(&["billing", "Empty"])[..]
    );
    assert!(
        out.stdout
            .contains("Group 'billing' has no active members."),
        "{}",
        out.stdout
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![
            row(&["orders", "0", "3", "10", "7", "-"]),
            row(&["orders", "1", "4", "4", "0", "-"]),
        ]
    );

    // A dry run shows the plan and changes nothing.
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--to-earliest",
            "--dry-run",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "0"]), row(&["orders", "1", "0"])]
    );
    assert!(out.stderr.contains("dry run"), "{}", out.stderr);
    assert_eq!(
        lag_table(&broker, "billing"),
        vec![
            row(&["orders", "0", "3", "10", "7"]),
            row(&["orders", "1", "4", "4", "0"])
        ]
    );

    // Shift back by 2 on both partitions.
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--shift-by",
            "-2",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "1"]), row(&["orders", "1", "2"])]
    );
    assert_eq!(
        lag_table(&broker, "billing"),
        vec![
            row(&["orders", "0", "1", "10", "9"]),
            row(&["orders", "1", "2", "4", "2"])
        ]
    );

    // Past the end lands on the end; only the named partition moves.
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--partition",
            "1",
            "--to-offset",
            "100",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "1", "4"])]
    );
    assert_eq!(
        lag_table(&broker, "billing"),
        vec![
            row(&["orders", "0", "1", "10", "9"]),
            row(&["orders", "1", "4", "4", "0"])
        ]
    );

    // By time: the first record at or after the 6th record's timestamp (plus a fraction, so
    // the 7th) on partition 0.
    let at = rfc3339(base + 5_500);
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--partition",
            "0",
            "--to-datetime",
            &at,
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "6"])]
    );
    // Before every record: the start; after every record: the end.
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--to-datetime",
            "2000-01-01T00:00:00Z",
            "--dry-run",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "0"]), row(&["orders", "1", "0"])]
    );
    let later = rfc3339(now_ms() + 86_400_000);
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--to-datetime",
            &later,
            "--dry-run",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "10"]), row(&["orders", "1", "4"])]
    );
    assert_eq!(
        lag_table(&broker, "billing"),
        vec![
            row(&["orders", "0", "6", "10", "4"]),
            row(&["orders", "1", "4", "4", "0"])
        ]
    );

    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "billing",
            "--topic",
            "orders",
            "--to-latest",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["orders", "0", "10"]), row(&["orders", "1", "4"])]
    );

    // Deleting the group deletes its offsets.
    let out = sluice_ok(&broker, &["group", "delete", "billing"]);
    assert_eq!(out.stdout, "deleted group billing\n");
    let out = sluice(&broker, &["group", "describe", "billing"]);
    assert_eq!(
        out.error_line(),
        "error: group 'billing' does not exist (GROUP_ID_NOT_FOUND)"
    );
    let out = sluice_ok(&broker, &["group", "list"]);
    assert!(
        table_rows(&out.stdout, "GROUP").is_empty(),
        "{}",
        out.stdout
    );
}

#[test]
fn a_group_with_a_live_member_is_described_and_protected() {
    let broker = TestBroker::start(&[]);
    create_topic(&broker, "events", 2);
    produce(&broker, "events", 0, &[now_ms(); 5]);
    produce(&broker, "events", 1, &[now_ms(); 3]);

    // A static member (group.instance.id) that consumes everything and commits.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("group.id", "live")
        .set("group.instance.id", "instance-1")
        .set("client.id", "live-client")
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&["events"]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut received = 0;
    while received < 8 {
        assert!(
            Instant::now() < deadline,
            "consumed only {received} of 8 records"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => received += 1,
            Some(Err(e)) => eprintln!("consumer: {e}"),
            None => {}
        }
    }
    consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit consumed positions");
    wait_for_state(&broker, "live", "Stable");

    let out = sluice_ok(&broker, &["group", "describe", "live"]);
    assert_eq!(
        table_rows(&out.stdout, "GROUP"),
        vec![row(&["live", "Stable", "consumer", "range", "1"])]
    );
    let members = table_rows(&out.stdout, "MEMBER-ID");
    assert_eq!(members.len(), 1, "{}", out.stdout);
    let member_id = members[0][0].clone();
    assert_eq!(
        members[0][1..],
        row(&["instance-1", "live-client", "/127.0.0.1", "events(0,1)"])[..],
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![
            row(&["events", "0", "5", "5", "0", &member_id]),
            row(&["events", "1", "3", "3", "0", &member_id]),
        ]
    );

    // A producer runs ahead while the member is paused (it does not poll; librdkafka keeps
    // heartbeating): describe shows the lag growing under the same member.
    produce(&broker, "events", 0, &[now_ms(); 4]);
    produce(&broker, "events", 1, &[now_ms(); 2]);
    let out = sluice_ok(&broker, &["group", "describe", "live"]);
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![
            row(&["events", "0", "5", "9", "4", &member_id]),
            row(&["events", "1", "3", "5", "2", &member_id]),
        ]
    );

    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "live",
            "--topic",
            "events",
            "--to-earliest",
        ],
    );
    assert_eq!(
        out.error_line(),
        "error: cannot reset offsets of group 'live': it is Stable with 1 member; offsets can \
         only be reset while the group is Empty (stop its consumers first)"
    );
    let out = sluice(&broker, &["group", "delete", "live"]);
    let line = out.error_line();
    assert!(line.contains("NON_EMPTY_GROUP"), "{line}");

    // Once the member is gone (a static member does not leave on close, so its session expires)
    // the group is Empty and its offsets can move.
    drop(consumer);
    wait_for_state(&broker, "live", "Empty");
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "live",
            "--topic",
            "events",
            "--to-earliest",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["events", "0", "0"]), row(&["events", "1", "0"])]
    );
    assert_eq!(
        lag_table(&broker, "live"),
        vec![
            row(&["events", "0", "0", "9", "9"]),
            row(&["events", "1", "0", "5", "5"])
        ]
    );
    sluice_ok(&broker, &["group", "delete", "live"]);
}

#[test]
fn bad_input_gets_one_clear_error_line() {
    let broker = TestBroker::start(&[]);
    create_topic(&broker, "t", 2);
    produce(&broker, "t", 0, &[now_ms(); 2]);
    commit(&broker, "known", "t", &[(0, 1)]);

    let out = sluice(&broker, &["group", "describe", "ghost"]);
    assert_eq!(
        out.error_line(),
        "error: group 'ghost' does not exist (GROUP_ID_NOT_FOUND)"
    );
    let out = sluice(&broker, &["group", "delete", "ghost"]);
    assert_eq!(
        out.error_line(),
        "error: group 'ghost' does not exist (GROUP_ID_NOT_FOUND)"
    );

    // No mode, two modes: refused by the argument parser (exit status 2) before any request.
    let out = sluice(
        &broker,
        &["group", "reset-offsets", "known", "--topic", "t"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: the following required arguments were not provided"),
        "{}",
        out.stderr
    );
    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "known",
            "--topic",
            "t",
            "--to-earliest",
            "--shift-by",
            "1",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "known",
            "--topic",
            "t",
            "--to-datetime",
            "2026-11-30",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid date-time '2026-11-30'"),
        "{}",
        out.stderr
    );

    // Errors found while planning name what is wrong; nothing is committed.
    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "known",
            "--topic",
            "t",
            "--partition",
            "7",
            "--to-latest",
        ],
    );
    assert_eq!(
        out.error_line(),
        "error: resetting offsets of group 'known': topic 't' has no partition 7 (it has 2)"
    );
    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "known",
            "--topic",
            "missing",
            "--to-latest",
        ],
    );
    assert_eq!(
        out.error_line(),
        "error: resetting offsets of group 'known': topic 'missing' does not exist \
         (UNKNOWN_TOPIC_OR_PARTITION)"
    );
    let out = sluice(
        &broker,
        &[
            "group",
            "reset-offsets",
            "known",
            "--topic",
            "t",
            "--shift-by",
            "1",
        ],
    );
    assert_eq!(
        out.error_line(),
        "error: resetting offsets of group 'known': topic 't': partition 1 has no committed \
         offset to shift by 1"
    );
    assert_eq!(
        lag_table(&broker, "known"),
        vec![row(&["t", "0", "1", "2", "1"])]
    );

    // A group that does not exist yet can be given offsets, as in Kafka.
    let out = sluice_ok(
        &broker,
        &[
            "group",
            "reset-offsets",
            "fresh",
            "--topic",
            "t",
            "--to-latest",
        ],
    );
    assert_eq!(
        table_rows(&out.stdout, "TOPIC"),
        vec![row(&["t", "0", "2"]), row(&["t", "1", "0"])]
    );

    // Deleting several groups: each success on stdout, the failure as the error line.
    let out = sluice(&broker, &["group", "delete", "known", "ghost", "fresh"]);
    assert_eq!(
        out.error_line(),
        "error: group 'ghost' does not exist (GROUP_ID_NOT_FOUND)"
    );
    let mut deleted: Vec<&str> = out.stdout.lines().collect();
    deleted.sort_unstable();
    assert_eq!(deleted, vec!["deleted group fresh", "deleted group known"]);
}

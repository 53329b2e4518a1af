//! `sluice txn list|describe` and `sluice producers describe` against a real broker: transactions
//! run through librdkafka's transactional producer (the `rdkafka` crate), one committed and one
//! left open, the commands run as the `sluice` binary and their tables read as a script would.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{sluice_cli, CliOutput as Output, TestBroker};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

/// How long init_transactions, commit_transaction and flush may block.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `sluice ARGS -b <broker>` to the end.
fn sluice(broker: &TestBroker, args: &[&str]) -> Output {
    let addr = broker.addr();
    let mut all = args.to_vec();
    all.extend(["-b", addr.as_str()]);
    sluice_cli(&all)
}

/// Runs a command that must succeed without a word on stderr.
fn sluice_ok(broker: &TestBroker, args: &[&str]) -> Output {
    let out = sluice(broker, args);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (0, ""),
        "`sluice {}` failed; stdout: {}",
        args.join(" "),
        out.stdout
    );
    out
}

/// The rows of a table whose header starts with `first_column`, as whitespace-split cells.
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
        .map(|line| {
            let cells: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            assert_eq!(cells.len(), columns, "row {line:?} under {header:?}");
            cells
        })
        .collect()
}

fn create_topic(broker: &TestBroker, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .create()
        .expect("admin client");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results = runtime
        .block_on(admin.create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create_topics");
    for result in results {
        result.expect("topic created");
    }
}

/// A transactional producer whose init_transactions has run.
fn transactional_producer(broker: &TestBroker, transactional_id: &str) -> BaseProducer {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.addr())
        .set("transactional.id", transactional_id)
        .create()
        .expect("transactional producer");
    producer
        .init_transactions(CLIENT_TIMEOUT)
        .expect("init_transactions");
    producer
}

/// Begins a transaction and sends one record to each of `partitions`, then waits until every
/// record is delivered (which also means every partition was added to the transaction).
fn send_in_transaction(producer: &BaseProducer, topic: &str, partitions: &[i32]) {
    producer.begin_transaction().expect("begin_transaction");
    for &partition in partitions {
        let value = format!("record for partition {partition}");
        producer
            .send(
                BaseRecord::<(), String>::to(topic)
                    .partition(partition)
                    .payload(&value),
            )
            .map_err(|(e, _)| e)
            .expect("record queued");
    }
    producer.flush(CLIENT_TIMEOUT).expect("records delivered");
}

/// Runs `txn list ARGS` until `done` accepts its rows (markers are written after the commit
/// returns), and returns those rows.
fn txn_list_until(
    broker: &TestBroker,
    args: &[&str],
    done: impl Fn(&[Vec<String>]) -> bool,
) -> Vec<Vec<String>> {
    let command: Vec<&str> = ["txn", "list"].iter().chain(args).copied().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = table_rows(&sluice_ok(broker, &command).stdout, "TRANSACTIONAL-ID");
        if done(&rows) {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "`sluice {}` never showed what was expected; last rows: {rows:?}",
            command.join(" ")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ids(rows: &[Vec<String>]) -> Vec<&str> {
    rows.iter().map(|row| row[0].as_str()).collect()
}

#[test]
fn transactions_and_producers_are_listed_and_described() {
    let broker = TestBroker::start(&[]);
    let topic = "txn-orders";
    create_topic(&broker, topic, 3);

    let committed = transactional_producer(&broker, "txn-done");
    send_in_transaction(&committed, topic, &[0, 1]);
    committed
        .commit_transaction(CLIENT_TIMEOUT)
        .expect("commit_transaction");
    // Stays open for the rest of the test: begun, sent and flushed, never committed.
    let open = transactional_producer(&broker, "txn-open");
    send_in_transaction(&open, topic, &[1, 2]);

    // Both ids, sorted, with the states Kafka names.
    let rows = txn_list_until(&broker, &[], |rows| {
        rows.iter()
            .any(|r| r[0] == "txn-done" && r[2] == "CompleteCommit")
    });
    assert_eq!(ids(&rows), vec!["txn-done", "txn-open"], "{rows:?}");
    assert_eq!(rows[1][2], "Ongoing");
    let done_pid = rows[0][1].clone();
    let open_pid = rows[1][1].clone();
    assert_ne!(done_pid, open_pid);
    assert!(open_pid.parse::<i64>().expect("a producer id") >= 0);

    // Each filter on its own.
    let ongoing = txn_list_until(&broker, &["--state", "Ongoing"], |_| true);
    assert_eq!(ids(&ongoing), vec!["txn-open"]);
    let by_pid = txn_list_until(&broker, &["--producer-id", &done_pid], |_| true);
    assert_eq!(ids(&by_pid), vec!["txn-done"]);
    let open_at_all = txn_list_until(&broker, &["--min-duration-ms", "0"], |_| true);
    assert_eq!(ids(&open_at_all), vec!["txn-open"]);
    let open_an_hour = txn_list_until(&broker, &["--min-duration-ms", "3600000"], |_| true);
    assert!(open_an_hour.is_empty(), "{open_an_hour:?}");

    // The open transaction's partitions, producer and timing.
    let out = sluice_ok(&broker, &["txn", "describe", "txn-open", "txn-done"]);
    let described = table_rows(&out.stdout, "COORDINATOR");
    assert_eq!(described.len(), 2, "{}", out.stdout);
    let open_row = &described[0];
    assert_eq!(open_row[1], "txn-open");
    assert_eq!(open_row[2], open_pid);
    assert_eq!(open_row[4], "Ongoing");
    assert!(
        open_row[5].parse::<i64>().expect("timeout") > 0,
        "{open_row:?}"
    );
    assert!(
        open_row[6].parse::<i64>().expect("start time") > 0,
        "{open_row:?}"
    );
    assert!(
        open_row[7].parse::<i64>().expect("duration") >= 0,
        "{open_row:?}"
    );
    assert_eq!(open_row[8], "txn-orders-1,txn-orders-2");
    let done_row = &described[1];
    assert_eq!(
        (
            done_row[1].as_str(),
            done_row[2].as_str(),
            done_row[4].as_str()
        ),
        ("txn-done", done_pid.as_str(), "CompleteCommit")
    );

    // Every partition's producers: the committed producer where it wrote, with no open
    // transaction, and the open one with its transaction's first offset.
    let out = sluice_ok(&broker, &["producers", "describe", topic]);
    let producers = table_rows(&out.stdout, "PARTITION");
    let pairs: BTreeSet<(String, String)> = producers
        .iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("0", &done_pid),
        ("1", &done_pid),
        ("1", &open_pid),
        ("2", &open_pid),
    ]
    .into_iter()
    .map(|(p, pid)| (p.to_string(), pid.clone()))
    .collect();
    assert_eq!(pairs, expected, "{}", out.stdout);
    for row in &producers {
        let txn_start_offset = &row[6];
        if row[1] == open_pid {
            assert!(
                txn_start_offset.parse::<i64>().is_ok(),
                "the open transaction has a start offset: {row:?}"
            );
        } else {
            assert_eq!(txn_start_offset, "-", "{row:?}");
        }
    }
    let out = sluice_ok(
        &broker,
        &["producers", "describe", topic, "--partition", "2"],
    );
    let only_two = table_rows(&out.stdout, "PARTITION");
    assert_eq!(only_two.len(), 1, "{}", out.stdout);
    assert_eq!((only_two[0][0].as_str(), &only_two[0][1]), ("2", &open_pid));

    drop(open);
}

#[test]
fn bad_input_gets_one_clear_error_line() {
    let broker = TestBroker::start(&[]);
    create_topic(&broker, "quiet", 2);

    // Nothing to show is an empty table, not an error.
    let out = sluice_ok(&broker, &["txn", "list"]);
    assert_eq!(out.stdout, "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n");
    let out = sluice_ok(&broker, &["producers", "describe", "quiet"]);
    assert!(
        table_rows(&out.stdout, "PARTITION").is_empty(),
        "{}",
        out.stdout
    );

    let out = sluice(&broker, &["txn", "describe", "no-such-id"]);
    assert_eq!(
        out.error_line_alone(),
        "error: transactional id 'no-such-id' does not exist (TRANSACTIONAL_ID_NOT_FOUND)"
    );

    // Asked twice: looking the topic up must not have created it.
    for _ in 0..2 {
        let out = sluice(&broker, &["producers", "describe", "missing-topic"]);
        assert_eq!(
            out.error_line_alone(),
            "error: topic 'missing-topic' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
    }
    let out = sluice(
        &broker,
        &["producers", "describe", "quiet", "--partition", "7"],
    );
    assert_eq!(
        out.error_line_alone(),
        "error: topic 'quiet' has no partition 7 (it has 2)"
    );

    // The broker reports the state it does not know; the command warns and lists nothing.
    let out = sluice(&broker, &["txn", "list", "--state", "Nonsense"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "TRANSACTIONAL-ID  PRODUCER-ID  STATE\n");
    assert_eq!(
        out.stderr,
        "warning: the broker does not know transaction state 'Nonsense'; it matches no \
         transaction\n"
    );

    // TLS without a trust store: one line saying so, before any connection is tried.
    for args in [
        &["txn", "list"][..],
        &["txn", "describe", "a"],
        &["producers", "describe", "quiet"],
    ] {
        let with_tls: Vec<&str> = args
            .iter()
            .copied()
            .chain(["-X", "security.protocol=SSL"])
            .collect();
        let out = sluice(&broker, &with_tls);
        assert_eq!(
            out.error_line_alone(),
            "error: TLS needs ssl.truststore.location (or ssl.ca.location): a PEM file of the \
             CA certificates to trust"
        );
    }
}

//! The server's logs as an operator's log pipeline reads them (issue 14, point 6): with
//! `log.format=json` every line on stderr is one JSON object; lines logged while a request is
//! handled carry the connection's span (peer, listener, principal) and the request's (api,
//! version, correlation id, client id); `request.slow.log.threshold.ms=0` logs every request
//! as slow, at WARN.

mod common;

use std::time::{Duration, Instant};

use common::server_process::ServerProcess;
use common::Client;
use kafka_protocol::messages::MetadataRequest;

/// The span named `name` in a JSON log line's span list.
fn span<'a>(line: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    line["spans"].as_array()?.iter().find(|s| s["name"] == name)
}

#[test]
fn json_logs_carry_connection_and_request_spans_and_slow_requests_are_warned() {
    let server = ServerProcess::start(&[
        ("listeners", "PLAINTEXT://127.0.0.1:0"),
        ("offsets.topic.num.partitions", "1"),
        ("transaction.state.log.num.partitions", "1"),
        ("log.format", "json"),
        ("request.slow.log.threshold.ms", "0"),
    ]);
    let addr = server.addr("PLAINTEXT");
    let mut client = Client::connect(&addr);
    let local = client
        .stream
        .local_addr()
        .expect("local address")
        .to_string();
    let response = client.send(&MetadataRequest::default().with_topics(None), 12);
    assert_eq!(response.brokers.len(), 1);

    // The slow-request line of that Metadata request, from this connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    let slow = loop {
        let lines: Vec<serde_json::Value> = server
            .log_tail()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let found = lines.into_iter().find(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("slow request: Metadata v12"))
                && span(line, "connection").is_some_and(|s| s["peer"] == local.as_str())
        });
        if let Some(line) = found {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no slow-request line for the Metadata request; log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(slow["level"], "WARN", "{slow}");
    assert!(slow["timestamp"].is_string(), "{slow}");
    assert!(
        slow["total_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{slow}"
    );
    assert_eq!(slow["principal"], "User:ANONYMOUS", "{slow}");
    assert_eq!(slow["client_id"], "sluice-test", "{slow}");
    let connection = span(&slow, "connection").expect("connection span");
    assert_eq!(connection["listener"], "PLAINTEXT", "{slow}");
    assert_eq!(connection["principal"], "User:ANONYMOUS", "{slow}");
    let request = span(&slow, "request").expect("request span");
    assert_eq!(request["api"], "Metadata", "{slow}");
    assert_eq!(request["version"], 12, "{slow}");
    assert_eq!(request["correlation_id"], 1, "{slow}");
    assert_eq!(request["client_id"], "sluice-test", "{slow}");

    // Lines outside any request are JSON too, without request fields.
    let tail = server.log_tail();
    let started = tail
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains(" serving, data in "))
        })
        .expect("the serving line");
    assert_eq!(started["level"], "INFO");
    assert!(span(&started, "request").is_none(), "{started}");
}

#[test]
fn an_unknown_log_format_is_refused_at_startup() {
    let out = common::sluice_cli(&["server", "--set", "log.format=xml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("log.format"),
        "the message names the key: {}",
        out.stderr
    );
}

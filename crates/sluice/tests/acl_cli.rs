//! `sluice acl create|list|delete` as the `sluice` binary against a real `sluice server`
//! process with Kafka's StandardAuthorizer and a SASL_PLAINTEXT listener (PLAIN users `admin`,
//! a super user, and `alice`): bindings created, listed as a table and as JSON, selected by
//! the filter flags, refused by the broker with Kafka's error name, deleted; a principal
//! without ALTER on the cluster refused; and a broker without an authorizer saying so.

mod common;

use common::server_process::ServerProcess;
use common::{sluice_cli, CliOutput};

const AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
const JAAS: &str = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                    username=\"admin\" password=\"admin-secret\" \
                    user_admin=\"admin-secret\" user_alice=\"alice-secret\";";
/// One partition for each internal topic: a quicker start.
const SMALL_INTERNAL_TOPICS: [(&str, &str); 2] = [
    ("offsets.topic.num.partitions", "1"),
    ("transaction.state.log.num.partitions", "1"),
];

const HEADER: [&str; 7] = [
    "PRINCIPAL",
    "PERMISSION",
    "OPERATION",
    "HOST",
    "RESOURCE-TYPE",
    "RESOURCE-NAME",
    "PATTERN-TYPE",
];

/// A broker with the authorizer on, its one client listener SASL_PLAINTEXT with PLAIN.
fn secured_server() -> ServerProcess {
    let mut settings = vec![
        ("listeners", "SASL_PLAINTEXT://127.0.0.1:0"),
        (
            "listener.security.protocol.map",
            "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        ),
        ("inter.broker.listener.name", "SASL_PLAINTEXT"),
        ("sasl.enabled.mechanisms", "PLAIN"),
        ("sasl.mechanism.inter.broker.protocol", "PLAIN"),
        ("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS),
        ("authorizer.class.name", AUTHORIZER),
        ("super.users", "User:admin"),
    ];
    settings.extend(SMALL_INTERNAL_TOPICS);
    ServerProcess::start(&settings)
}

/// Who runs a command: the admin through a Kafka-style `--command-config` file, alice
/// through `-X` settings.
enum As<'a> {
    Admin(&'a std::path::Path),
    Alice,
}

fn sluice_as(server: &ServerProcess, who: &As<'_>, args: &[&str]) -> CliOutput {
    let addr = server.addr("SASL_PLAINTEXT");
    let mut all = args.to_vec();
    all.extend(["-b", addr.as_str()]);
    let config;
    match who {
        As::Admin(path) => {
            config = path.to_str().expect("utf-8 path").to_string();
            all.extend(["--command-config", config.as_str()]);
        }
        As::Alice => all.extend([
            "-X",
            "security.protocol=SASL_PLAINTEXT",
            "-X",
            "sasl.mechanism=PLAIN",
            "-X",
            "sasl.username=alice",
            "-X",
            "sasl.password=alice-secret",
        ]),
    }
    sluice_cli(&all)
}

/// Runs a command that must succeed without a word on stderr; its stdout.
fn sluice_ok(server: &ServerProcess, who: &As<'_>, args: &[&str]) -> String {
    let out = sluice_as(server, who, args);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (0, ""),
        "`sluice {}` failed; stdout: {}\nserver log:\n{}",
        args.join(" "),
        out.stdout,
        server.log_tail()
    );
    out.stdout
}

/// The rows of `acl list`'s table, after checking its header.
fn rows(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(header, HEADER);
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn row(cells: [&str; 7]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[test]
fn acls_are_created_listed_refused_and_deleted() {
    let server = secured_server();
    let dir = tempfile::tempdir().expect("temporary directory");
    let admin_config = dir.path().join("admin.properties");
    std::fs::write(
        &admin_config,
        format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
             sasl.jaas.config={}\n",
            "org.apache.kafka.common.security.plain.PlainLoginModule required \
             username=\"admin\" password=\"admin-secret\";"
        ),
    )
    .expect("write admin.properties");
    let admin = As::Admin(&admin_config);

    assert_eq!(
        rows(&sluice_ok(&server, &admin, &["acl", "list"])),
        Vec::<Vec<String>>::new()
    );

    let out = sluice_ok(
        &server,
        &admin,
        &[
            "acl",
            "create",
            "--principal",
            "User:alice",
            "--operation",
            "write",
            "--topic",
            "orders-",
            "--resource-pattern-type",
            "prefixed",
        ],
    );
    assert_eq!(
        out,
        "created ACL: User:alice ALLOW WRITE on PREFIXED TOPIC 'orders-' from host *\n"
    );
    let alice_writes = row([
        "User:alice",
        "ALLOW",
        "WRITE",
        "*",
        "TOPIC",
        "orders-",
        "PREFIXED",
    ]);
    assert_eq!(
        rows(&sluice_ok(&server, &admin, &["acl", "list"])),
        vec![alice_writes.clone()]
    );
    let json = sluice_ok(&server, &admin, &["acl", "list", "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    assert_eq!(
        listed,
        serde_json::json!([{
            "principal": "User:alice",
            "permission": "ALLOW",
            "operation": "WRITE",
            "host": "*",
            "resource_type": "TOPIC",
            "resource_name": "orders-",
            "pattern_type": "PREFIXED",
        }])
    );

    // Filters: a named resource is literal unless told otherwise; match finds the prefix that
    // applies to a topic; a principal or an operation that is not there selects nothing.
    let list = |extra: &[&str]| {
        let mut args = vec!["acl", "list"];
        args.extend_from_slice(extra);
        rows(&sluice_ok(&server, &admin, &args))
    };
    assert!(list(&["--topic", "orders-"]).is_empty());
    assert_eq!(
        list(&["--topic", "orders-", "--resource-pattern-type", "any"]),
        vec![alice_writes.clone()]
    );
    assert_eq!(
        list(&["--topic", "orders-eu", "--resource-pattern-type", "match"]),
        vec![alice_writes.clone()]
    );
    assert!(list(&[
        "--topic",
        "orders-eu",
        "--resource-pattern-type",
        "prefixed"
    ])
    .is_empty());
    assert_eq!(
        list(&["--principal", "User:alice", "--operation", "write"]),
        vec![alice_writes.clone()]
    );
    assert!(list(&["--principal", "User:bob"]).is_empty());
    assert!(list(&["--deny-principal", "User:alice"]).is_empty());
    assert!(list(&["--operation", "read"]).is_empty());

    // Every combination of principals and operations, DENY with --deny.
    let out = sluice_ok(
        &server,
        &admin,
        &[
            "acl",
            "create",
            "--principal",
            "User:bob",
            "--principal",
            "User:carol",
            "--operation",
            "read",
            "--operation",
            "describe",
            "--group",
            "billing",
            "--deny",
        ],
    );
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("created ACL: User:carol DENY DESCRIBE on LITERAL GROUP 'billing'"));
    assert_eq!(list(&["--group", "billing"]).len(), 4);

    // A binding Kafka refuses: the broker's error name and message, a non-zero exit.
    let out = sluice_as(
        &server,
        &admin,
        &[
            "acl",
            "create",
            "--principal",
            "User:alice",
            "--operation",
            "alter",
            "--cluster",
            "--resource-pattern-type",
            "prefixed",
        ],
    );
    assert_eq!(
        out.error_line_alone(),
        "error: ACL User:alice ALLOW ALTER on PREFIXED CLUSTER 'kafka-cluster' from host *: \
         Broker: Invalid request (INVALID_REQUEST): The only valid patternType for the CLUSTER \
         resource is LITERAL"
    );

    // alice has no ALTER (nor DESCRIBE) on the cluster.
    let out = sluice_as(
        &server,
        &As::Alice,
        &[
            "acl",
            "create",
            "--principal",
            "User:alice",
            "--operation",
            "all",
            "--topic",
            "*",
        ],
    );
    let line = out.error_line_alone();
    assert!(line.contains("(CLUSTER_AUTHORIZATION_FAILED)"), "{line}");
    assert!(
        line.starts_with("error: ACL User:alice ALLOW ALL on LITERAL TOPIC '*'"),
        "{line}"
    );
    let out = sluice_as(&server, &As::Alice, &["acl", "list"]);
    assert_eq!(
        out.error_line_alone(),
        "error: listing ACLs: Broker: Cluster authorization failed \
         (CLUSTER_AUTHORIZATION_FAILED): Cluster authorization failed."
    );
    let out = sluice_as(
        &server,
        &As::Alice,
        &["acl", "delete", "--topic", "orders-", "--force"],
    );
    assert!(
        out.error_line_alone()
            .contains("(CLUSTER_AUTHORIZATION_FAILED)"),
        "{}",
        out.stderr
    );

    // Deleting asks first: without a terminal and without --force nothing is deleted.
    let delete_orders = [
        "acl",
        "delete",
        "--topic",
        "orders-",
        "--resource-pattern-type",
        "prefixed",
    ];
    let out = sluice_as(&server, &admin, &delete_orders);
    assert_eq!(
        out.error_line_alone(),
        "error: acl delete asks before deleting, and stdin is not a terminal: add --force"
    );
    let out = sluice_as(&server, &admin, &["acl", "delete", "--force"]);
    assert!(
        out.error_line_alone()
            .starts_with("error: this filter would delete every ACL of the cluster"),
        "{}",
        out.stderr
    );
    assert_eq!(list(&[]).len(), 5);

    let mut forced = delete_orders.to_vec();
    forced.push("--force");
    assert_eq!(
        sluice_ok(&server, &admin, &forced),
        "deleted ACL: User:alice ALLOW WRITE on PREFIXED TOPIC 'orders-' from host *\n"
    );
    assert_eq!(
        sluice_ok(&server, &admin, &forced),
        "no ACL matches; nothing deleted\n"
    );
    // Only bob's of the group's four.
    let out = sluice_ok(
        &server,
        &admin,
        &["acl", "delete", "--principal", "User:bob", "--force"],
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.lines()
            .all(|l| l.starts_with("deleted ACL: User:bob DENY ")),
        "{out}"
    );
    assert!(list(&["--principal", "User:bob"]).is_empty());
    sluice_ok(
        &server,
        &admin,
        &["acl", "delete", "--group", "billing", "--force"],
    );

    assert!(list(&[]).is_empty());
    assert_eq!(
        sluice_ok(&server, &admin, &["acl", "list", "-o", "json"]),
        "[]\n"
    );
    assert!(!server.log_contains("panicked"), "{}", server.log_tail());
}

#[test]
fn a_broker_without_an_authorizer_says_security_is_disabled() {
    let mut settings = vec![("listeners", "PLAINTEXT://127.0.0.1:0")];
    settings.extend(SMALL_INTERNAL_TOPICS);
    let server = ServerProcess::start(&settings);
    let addr = server.addr("PLAINTEXT");
    let out = sluice_cli(&["acl", "list", "-b", &addr]);
    assert_eq!(
        out.error_line_alone(),
        "error: listing ACLs: Broker: Security disabled (SECURITY_DISABLED): No Authorizer is \
         configured."
    );
    let out = sluice_cli(&[
        "acl",
        "create",
        "--principal",
        "User:alice",
        "--operation",
        "read",
        "--topic",
        "t",
        "-b",
        &addr,
    ]);
    assert_eq!(
        out.error_line_alone(),
        "error: ACL User:alice ALLOW READ on LITERAL TOPIC 't' from host *: Broker: Security \
         disabled (SECURITY_DISABLED): No Authorizer is configured."
    );
}

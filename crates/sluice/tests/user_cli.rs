//! `sluice user create|list|delete` (SCRAM users) as the `sluice` binary against an in-process
//! broker: passwords from the flag, a file and stdin, the salted credential the broker stores,
//! the table `list` prints, deletions per mechanism and of all; `--command-config` with
//! PLAINTEXT; and the errors a user sees for bad arguments and bad client properties.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{sluice_cli, CliOutput, TestBroker};
use sluice_security::{ScramCredential, ScramMechanism};

/// Runs `sluice ARGS -b <broker>` to the end.
fn sluice(broker: &TestBroker, args: &[&str]) -> CliOutput {
    let addr = broker.addr();
    let mut all = args.to_vec();
    all.extend(["-b", addr.as_str()]);
    sluice_cli(&all)
}

/// Runs a command that must succeed without a word on stderr; its stdout.
fn sluice_ok(broker: &TestBroker, args: &[&str]) -> String {
    let out = sluice(broker, args);
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (0, ""),
        "`sluice {}` failed; stdout: {}",
        args.join(" "),
        out.stdout
    );
    out.stdout
}

/// Runs `sluice ARGS` with `input` on its stdin; (exit code, stdout, stderr).
fn sluice_with_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env_remove("SLUICE_BOOTSTRAP")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sluice");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(input)
        .expect("write the password");
    let out = child.wait_with_output().expect("sluice finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows under the `USER MECHANISM ITERATIONS` header.
fn rows(text: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["USER", "MECHANISM", "ITERATIONS"]
    );
    lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn row(cells: [&str; 3]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

#[test]
fn users_are_created_listed_and_deleted() {
    let broker = TestBroker::start(&[]);
    let out = sluice_ok(
        &broker,
        &[
            "user",
            "create",
            "alice",
            "--password",
            "alice-secret",
            "--mechanism",
            "SCRAM-SHA-256",
            "--iterations",
            "8192",
        ],
    );
    assert_eq!(
        out,
        "user alice: SCRAM-SHA-256 credential set (8192 iterations)\n"
    );
    // The broker keeps keys derived from the password with the salt the client chose.
    let image = broker.broker().cluster.image();
    let stored = image.scram_credential("alice", 1).expect("stored");
    let expected =
        ScramCredential::derive(ScramMechanism::Sha256, b"alice-secret", &stored.salt, 8192);
    assert_eq!(stored.stored_key, expected.stored_key);
    assert_eq!(stored.server_key, expected.server_key);

    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("bob.password");
    std::fs::write(&file, "bob-secret\n").expect("write");
    sluice_ok(
        &broker,
        &[
            "user",
            "create",
            "bob",
            "--password-file",
            file.to_str().expect("utf-8"),
        ],
    );
    let stored = broker.broker().cluster.image();
    let stored = stored.scram_credential("bob", 1).expect("stored");
    let expected =
        ScramCredential::derive(ScramMechanism::Sha256, b"bob-secret", &stored.salt, 4096);
    assert_eq!(stored.stored_key, expected.stored_key, "newline dropped");

    let addr = broker.addr();
    let (code, stdout, stderr) = sluice_with_stdin(
        &[
            "user",
            "create",
            "carol",
            "--mechanism",
            "SCRAM-SHA-512",
            "--mechanism",
            "SCRAM-SHA-256",
            "-b",
            &addr,
        ],
        b"carol-secret\n",
    );
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert_eq!(
        stdout,
        "user carol: SCRAM-SHA-256 credential set (4096 iterations)\n\
         user carol: SCRAM-SHA-512 credential set (4096 iterations)\n"
    );

    assert_eq!(
        rows(&sluice_ok(&broker, &["user", "list"])),
        vec![
            row(["alice", "SCRAM-SHA-256", "8192"]),
            row(["bob", "SCRAM-SHA-256", "4096"]),
            row(["carol", "SCRAM-SHA-256", "4096"]),
            row(["carol", "SCRAM-SHA-512", "4096"]),
        ]
    );
    let out = sluice(&broker, &["user", "list", "alice", "nobody"]);
    assert_eq!(
        out.error_line(),
        "error: no SCRAM credentials for user(s): nobody"
    );
    assert_eq!(
        rows(&out.stdout),
        vec![row(["alice", "SCRAM-SHA-256", "8192"])]
    );

    assert_eq!(
        sluice_ok(
            &broker,
            &["user", "delete", "carol", "--mechanism", "SCRAM-SHA-512"]
        ),
        "user carol: SCRAM-SHA-512 credential deleted\n"
    );
    assert_eq!(
        sluice_ok(&broker, &["user", "delete", "carol"]),
        "user carol: SCRAM-SHA-256 credential deleted\n"
    );
    assert_eq!(
        sluice(&broker, &["user", "delete", "carol"]).error_line_alone(),
        "error: user carol has no SCRAM credentials"
    );
    let out = sluice(
        &broker,
        &["user", "delete", "bob", "--mechanism", "SCRAM-SHA-512"],
    );
    let line = out.error_line_alone();
    assert!(
        line.starts_with("error: user bob: Broker: ") && line.contains("(RESOURCE_NOT_FOUND)"),
        "{line}"
    );

    // A command config with PLAINTEXT settings works as before.
    let config = dir.path().join("client.properties");
    std::fs::write(
        &config,
        "# Kafka's tools read the same file\nsecurity.protocol=PLAINTEXT\nclient.id=admin-cli\n",
    )
    .expect("write");
    let out = sluice_ok(
        &broker,
        &[
            "user",
            "list",
            "--command-config",
            config.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        rows(&out),
        vec![
            row(["alice", "SCRAM-SHA-256", "8192"]),
            row(["bob", "SCRAM-SHA-256", "4096"]),
        ]
    );
}

#[test]
fn bad_arguments_and_properties_are_one_clear_line() {
    // Nothing listens here: every error below comes before any connection.
    let unreachable = ["-b", "127.0.0.1:1"];
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(unreachable);
        sluice_cli(&all)
    };

    let out = run(&[
        "user",
        "create",
        "a",
        "--password",
        "x",
        "--iterations",
        "100",
    ]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains("'100': SCRAM takes 4096 to 16384 iterations"),
        "{}",
        out.stderr
    );
    let out = run(&[
        "user",
        "create",
        "a",
        "--password",
        "x",
        "--mechanism",
        "SCRAM-SHA-1",
    ]);
    assert!(
        out.stderr
            .contains("'SCRAM-SHA-1' is not a SCRAM mechanism: SCRAM-SHA-256 or SCRAM-SHA-512"),
        "{}",
        out.stderr
    );
    // stdin is empty (not a terminal): no password.
    assert_eq!(
        run(&["user", "create", "a"]).error_line_alone(),
        "error: the password is empty"
    );
    assert!(
        run(&["user", "create", "a", "--password-file", "/nonexistent/pw"])
            .error_line_alone()
            .starts_with("error: --password-file /nonexistent/pw: ")
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("client.properties");
    std::fs::write(&config, "security.protocol=PLAINTEXT\ncolour=blue\n").expect("write");
    let config = config.to_str().expect("utf-8");
    for command in [
        &["user", "list"][..],
        &["topic", "list"],
        &["group", "list"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--command-config", config]);
        assert_eq!(
            run(&args).error_line_alone(),
            "error: unknown client property 'colour' (see -X in --help for the keys this \
             client reads)",
            "{command:?}"
        );
    }
    assert!(run(&[
        "user",
        "list",
        "--command-config",
        "/nonexistent/c.properties"
    ])
    .error_line_alone()
    .starts_with("error: --command-config /nonexistent/c.properties: "));

    assert_eq!(
        run(&["user", "list", "-X", "security.protocol=SASL_PLAINTEXT"]).error_line_alone(),
        "error: security.protocol=SASL_PLAINTEXT needs sasl.mechanism (PLAIN, SCRAM-SHA-256 \
         or SCRAM-SHA-512)"
    );
    // Passwords appear in no message, even when the connection fails.
    let out = run(&[
        "user",
        "create",
        "a",
        "--password",
        "hunter2",
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanism=SCRAM-SHA-256",
        "-X",
        "sasl.username=admin",
        "-X",
        "sasl.password=hunter3",
    ]);
    assert!(!out.error_line_alone().contains("hunter"), "{}", out.stderr);
}

//! Test harness: a real `sluice server` process on an ephemeral loopback port, and a minimal
//! blocking Kafka-protocol client for sending exact (and deliberately broken) requests. Its
//! requests are framed and its responses decoded by the codec of Sluice's own wire client
//! (`sluice_protocol::client`: response guard before `kafka-protocol` decodes); the raw frame
//! methods stay for tests that send malformed bytes on purpose.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::{Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use sluice_protocol::client::{decode_response, encode_request};

pub struct BrokerProcess {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl BrokerProcess {
    pub fn start(settings: &[(&str, &str)]) -> BrokerProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.arg("server")
            .arg("--set")
            .arg("listeners=PLAINTEXT://127.0.0.1:0")
            .arg("--set")
            .arg(format!("log.dirs={}", dir.path().display()));
        for (k, v) in settings {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sluice server");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
                        let port: String =
                            rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        if let Ok(p) = port.parse::<u16>() {
                            let _ = tx.send(p);
                            sent = true;
                        }
                    }
                }
                if std::env::var_os("SLUICE_TEST_VERBOSE").is_some() {
                    eprintln!("[broker] {line}");
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("broker did not start listening");
        BrokerProcess { child, port, dir }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.addr())
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// kill -9: the process dies at once, without flushing or closing its logs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if !self.alive() {
            // Already reaped: its pid may belong to another process by now.
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The largest response frame the harness reads, as a Kafka client's default
/// `receive.message.max.bytes`.
const RESPONSE_BYTES_MAX: usize = 100_000_000;

pub struct Client {
    pub stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    pub fn connect(addr: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends `req` at `version` and decodes the response.
    pub fn send<R: Request>(&mut self, req: &R, version: i16) -> R::Response {
        self.try_send(req, version).expect("response")
    }

    pub fn try_send<R: Request>(&mut self, req: &R, version: i16) -> std::io::Result<R::Response> {
        self.correlation_id += 1;
        let client_id = StrBytes::from_static_str("sluice-test");
        let frame = encode_request(req, version, self.correlation_id, Some(&client_id))
            .expect("encode request");
        self.stream.write_all(&frame)?;
        let response = self.read_frame()?;
        // The guarded decode also checks that responses come back in order.
        Ok(decode_response::<R>(response, version, self.correlation_id)
            .unwrap_or_else(|e| panic!("response: {e}")))
    }

    pub fn send_raw_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(body.len() + 4);
        out.put_i32(body.len() as i32);
        out.extend_from_slice(body);
        self.stream.write_all(&out)
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn read_frame(&mut self) -> std::io::Result<Bytes> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let size = i32::from_be_bytes(size);
        let size = usize::try_from(size)
            .ok()
            .filter(|size| *size <= RESPONSE_BYTES_MAX)
            .unwrap_or_else(|| panic!("the broker sent a response of {size} bytes"));
        let mut buf = vec![0u8; size];
        self.stream.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// True if the broker closed this connection (EOF or reset) within the read timeout.
    pub fn closed_by_peer(&mut self) -> bool {
        let mut b = [0u8; 1];
        match self.stream.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
        }
    }
}

impl Client {
    /// The metadata quorum's leader by DescribeQuorum (None while there is none).
    pub fn quorum_leader(&mut self) -> Option<i32> {
        use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
        use kafka_protocol::messages::{DescribeQuorumRequest, TopicName};
        let request = DescribeQuorumRequest::default().with_topics(vec![TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)])]);
        let response = self.try_send(&request, 2).ok()?;
        let p = response.topics.first()?.partitions.first()?;
        (p.error_code == 0 && p.leader_id.0 > 0).then_some(p.leader_id.0)
    }
}

/// One v2 record batch holding `values` (keys `k0`, `k1`, ...).
pub fn batch(values: &[&[u8]], compression: Compression) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            delete_horizon: false,
            timestamp: now,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::copy_from_slice(v)),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// Reads the base offsets of the batches in a fetch response's records.
pub fn batch_offsets(mut records: Bytes) -> Vec<i64> {
    let mut out = Vec::new();
    while records.remaining() >= 12 {
        let base = records.get_i64();
        let len = records.get_i32() as usize;
        if records.remaining() < len {
            break;
        }
        records.advance(len);
        out.push(base);
    }
    out
}

/// A base port B such that B..B+count are all free on 127.0.0.1 right now (found by binding
/// them), for tests that need consecutive ports. Taken below Linux's ephemeral range
/// (32768 and up) so outgoing connections do not take them meanwhile; where one test process
/// starts looking depends on its pid, and each call in a process starts further on, so tests
/// running in parallel (processes, or threads of one test binary) do not try the same range.
pub fn free_port_range(count: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    /// Calls so far in this process.
    static CALLS: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 20_000;
    const HIGH: u32 = 32_000;
    let count32 = u32::from(count);
    let slots = (HIGH - LOW) / count32;
    // Calls in one process take slots far apart (a step coprime with most slot counts).
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let first_slot = (std::process::id() + call.wrapping_mul(97)) % slots;
    for attempt in 0..slots {
        let base = LOW + ((first_slot + attempt) % slots) * count32;
        let held: Vec<std::net::TcpListener> = (base..base + count32)
            .map_while(|port| {
                let port = u16::try_from(port).expect("below 32000");
                std::net::TcpListener::bind(("127.0.0.1", port)).ok()
            })
            .collect();
        if held.len() == usize::from(count) {
            return u16::try_from(base).expect("below 32000");
        }
    }
    panic!("no {count} consecutive free ports between {LOW} and {HIGH}");
}

/// Pids of the processes (Linux, from /proc) whose command line has, for every needle, an
/// argument containing it; e.g. `["server", "/tmp/x/node-"]`.
pub fn processes_with_args(needles: &[&str]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read: then it is not running.
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        if needles
            .iter()
            .all(|needle| args.iter().any(|arg| arg.contains(needle)))
        {
            pids.push(pid);
        }
    }
    pids
}

fn loopback_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One node of a [`TestCluster`].
pub struct ClusterNode {
    pub id: i32,
    pub client_port: u16,
    pub controller_port: u16,
    pub dir: std::path::PathBuf,
    child: Option<Child>,
}

/// Several `sluice server` processes forming one cluster on loopback: every node a broker and a
/// controller voter, on ephemeral ports, in its own data dir under one temp dir, with short
/// session and election timeouts. Dropping it stops every node (SIGTERM, then SIGKILL).
pub struct TestCluster {
    pub nodes: Vec<ClusterNode>,
    voters: String,
    extra: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    pub fn start(n: i32) -> TestCluster {
        TestCluster::start_with(n, &[])
    }

    /// A cluster of `n` nodes, each also given the `extra` settings.
    pub fn start_with(n: i32, extra: &[(&str, &str)]) -> TestCluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let nodes: Vec<ClusterNode> = (1..=n)
            .map(|id| ClusterNode {
                id,
                client_port: loopback_free_port(),
                controller_port: loopback_free_port(),
                dir: dir.path().join(format!("node-{id}")),
                child: None,
            })
            .collect();
        let voters = nodes
            .iter()
            .map(|n| format!("{}@127.0.0.1:{}", n.id, n.controller_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = TestCluster {
            nodes,
            voters,
            extra: extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _dir: dir,
        };
        // Start every node before waiting: a node serves once a quorum of controllers is up.
        let waits: Vec<_> = (1..=n).map(|id| cluster.spawn(id)).collect();
        for rx in waits {
            rx.recv_timeout(Duration::from_secs(90))
                .expect("a node did not start serving");
        }
        cluster
    }

    fn node(&mut self, id: i32) -> &mut ClusterNode {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Starts node `id`; the receiver gets a message once it serves clients.
    pub fn spawn(&mut self, id: i32) -> mpsc::Receiver<()> {
        let voters = self.voters.clone();
        let extra = self.extra.clone();
        let node = self.node(id);
        let mut settings = vec![
            ("node.id".to_string(), node.id.to_string()),
            (
                "listeners".to_string(),
                format!(
                    "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
                    node.client_port, node.controller_port
                ),
            ),
            ("controller.quorum.voters".to_string(), voters),
            ("log.dirs".to_string(), node.dir.display().to_string()),
            (
                "cluster.id".to_string(),
                "c2x1dWljZS10ZXN0LWNsdQ".to_string(),
            ),
            ("broker.session.timeout.ms".to_string(), "2000".to_string()),
            (
                "broker.heartbeat.interval.ms".to_string(),
                "200".to_string(),
            ),
            (
                "controller.quorum.election.timeout.ms".to_string(),
                "500".to_string(),
            ),
            (
                "group.initial.rebalance.delay.ms".to_string(),
                "0".to_string(),
            ),
            ("offsets.topic.num.partitions".to_string(), "3".to_string()),
            (
                "transaction.state.log.num.partitions".to_string(),
                "3".to_string(),
            ),
        ];
        settings.extend(extra);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.arg("server");
        for (k, v) in &settings {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sluice server");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening on 127.0.0.1:") {
                    let _ = tx.send(());
                }
                if std::env::var_os("SLUICE_TEST_VERBOSE").is_some() {
                    eprintln!("[node {id}] {line}");
                }
            }
        });
        node.child = Some(child);
        rx
    }

    /// Starts node `id` again and waits (bounded) until it serves.
    pub fn restart(&mut self, id: i32) {
        let rx = self.spawn(id);
        rx.recv_timeout(Duration::from_secs(90))
            .expect("the restarted node did not serve");
    }

    /// kill -9.
    pub fn kill(&mut self, id: i32) {
        if let Some(mut child) = self.node(id).child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, waiting for the node to exit: it hands its leaderships over first.
    pub fn stop(&mut self, id: i32) {
        if let Some(child) = self.node(id).child.take() {
            terminate(child);
        }
    }

    pub fn addr(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.nodes[(id - 1) as usize].client_port)
    }

    pub fn connect(&self, id: i32) -> Client {
        Client::connect(&self.addr(id))
    }

    /// Ids of the nodes running.
    pub fn live_ids(&self) -> Vec<i32> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.id)
            .collect()
    }
}

/// SIGTERM, then SIGKILL if the process has not exited within 15 s.
fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for TestCluster {
    /// Teardown kills every node: a graceful stop of the last ones would wait out their
    /// controlled shutdown for a quorum that is gone. Tests of graceful stops call `stop`.
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Every `sluice` command a test runs must finish within this; a hang is a failure, not a
/// stuck test run.
pub const CLI_DEADLINE: Duration = Duration::from_secs(60);

/// What a finished command printed, and its exit code (-1 when killed by a signal).
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// The error line of a failed command: exactly one line on stderr, no panic.
    pub fn error_line(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure; stdout: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line expected: {}", self.stderr);
        lines[0]
    }

    /// [`CliOutput::error_line`] of a command that must also print nothing on stdout.
    pub fn error_line_alone(&self) -> &str {
        assert_eq!(self.stdout, "", "a failed command printed output");
        self.error_line()
    }
}

/// Runs `sluice ARGS` (without `$SLUICE_BOOTSTRAP`) to the end; see [`run_to_end`].
pub fn sluice_cli(args: &[&str]) -> CliOutput {
    run_to_end(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(args)
            .env_remove("SLUICE_BOOTSTRAP"),
    )
}

/// Runs `cmd` to the end within [`CLI_DEADLINE`] (killing it and failing the test past it),
/// reading its output on threads so that a full pipe cannot block it.
pub fn run_to_end(cmd: &mut Command) -> CliOutput {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let read_all = |mut stream: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            text
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().expect("stdout piped")));
    let stderr = read_all(Box::new(child.stderr.take().expect("stderr piped")));
    let deadline = Instant::now() + CLI_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{:?} {:?} did not finish",
                cmd.get_program(),
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    CliOutput {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

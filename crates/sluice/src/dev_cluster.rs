//! `sluice dev-cluster`: a cluster of `sluice server` processes on this machine, for development
//! and tests. Every node is a broker and a controller voter, on loopback ports:
//!
//! ```text
//! node i (1-based), B = --base-port, DIR = --data-dir
//! client listener       PLAINTEXT://127.0.0.1:B+2(i-1)  (SASL_SSL://... with --secure)
//! controller listener   CONTROLLER://127.0.0.1:B+2(i-1)+1
//! data                  DIR/node-i
//! cluster id            DIR/cluster.id, written at first start
//! ```
//!
//! The cluster id is kept in the data directory because every node stores it in its
//! `meta.properties` and refuses to start under another one: a restart over the same data must
//! pass the same id.
//!
//! `--secure` puts the client listener, which brokers also use among themselves, on SASL_SSL:
//! a local CA, the brokers' certificate, their password and an admin user's client properties
//! are made in DIR at first start (`dev_security.rs`), and each node's storage is formatted
//! before its first start with the admin's SCRAM-SHA-512 credential, as
//! `sluice storage format --add-scram` does, so the admin can log in as soon as the quorum has
//! applied it. The controller listener stays PLAINTEXT: it cannot be secured yet.
//!
//! Supervision: each node's output goes to stderr, each line prefixed with `[node i]`. Once
//! every node has logged `listening on 127.0.0.1:<its client port>`, stdout gets one line per
//! node and the bootstrap list. A node that exits on its own is reported and the others keep
//! running. SIGINT or SIGTERM stops the nodes: SIGTERM to each, then SIGKILL for any still
//! running after `STOP_GRACE`. The nodes run in a process group of their own, so a terminal's
//! Ctrl-C reaches only this supervisor, which stops them in that order.

use std::collections::BTreeSet;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use clap::Args;
use sluice_broker::cluster::format_storage;
use sluice_broker::BrokerSettings;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::dev_security::{DevSecurity, ADMIN_USER, CLIENT_LISTENER};

const NODES_MAX: u8 = 9;
const LOOPBACK: &str = "127.0.0.1";
/// How long a node may take to shut down after SIGTERM (flushing and checkpointing its logs)
/// before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long the prefixed output of stopped nodes may take to drain.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// A node sends at most two events (listening, exited): this holds them all for 9 nodes, so no
/// sender ever waits on a supervisor that stopped reading.
const EVENTS_CAPACITY: usize = 2 * NODES_MAX as usize;
/// Keys dev-cluster sets per node from the layout above; the same value on every node would
/// break the cluster, so `--set` may not name them.
const LAYOUT_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "process.roles",
    "listeners",
    "advertised.listeners",
    "controller.quorum.voters",
    "log.dirs",
    "log.dir",
    "metadata.log.dir",
];

#[derive(Args, Debug)]
pub struct DevClusterArgs {
    /// Number of nodes, each a broker and a controller voter.
    #[arg(long, default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(1..=i64::from(NODES_MAX)))]
    nodes: u8,
    /// Client port of node 1; node i listens for clients on BASE+2(i-1), for the controller
    /// quorum on the port after it.
    #[arg(long, value_name = "BASE", default_value_t = 19092,
          value_parser = clap::value_parser!(u16).range(1..))]
    base_port: u16,
    /// Node i keeps its data in DIR/node-i; the cluster id is kept in DIR/cluster.id.
    #[arg(long, value_name = "DIR", default_value = "sluice-dev-cluster")]
    data_dir: PathBuf,
    /// A broker config key for every node (repeatable), e.g. --set num.partitions=6
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Clients and brokers on SASL_SSL: a local CA and certificate in DIR/tls, an admin user
    /// (SCRAM-SHA-512) whose client properties are DIR/admin.properties.
    #[arg(long)]
    secure: bool,
}

/// One node of the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    id: u8,
    client_port: u16,
    controller_port: u16,
    data_dir: PathBuf,
}

impl Node {
    fn bootstrap_address(&self) -> String {
        format!("{LOOPBACK}:{}", self.client_port)
    }
}

/// Everything needed to start the cluster, checked before any process starts.
struct Plan {
    nodes: Vec<Node>,
    cluster_id: String,
    /// `--set` pairs other than `cluster.id`, in the order given.
    extra: Vec<(String, String)>,
    executable: PathBuf,
    /// With `--secure`.
    security: Option<DevSecurity>,
}

pub fn run(args: DevClusterArgs) -> ExitCode {
    let plan = match prepare(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(supervise(plan))
}

fn prepare(args: &DevClusterArgs) -> Result<Plan, String> {
    let settings = split_settings(&args.set)?;
    let data_dir = std::path::absolute(&args.data_dir)
        .map_err(|e| format!("data directory {}: {e}", args.data_dir.display()))?;
    let nodes = layout(args.nodes, args.base_port, &data_dir)?;
    let busy = busy_ports(&nodes);
    if !busy.is_empty() {
        return Err(format!(
            "{}: stop what listens there or choose another --base-port",
            busy.join(", ")
        ));
    }
    for node in &nodes {
        std::fs::create_dir_all(&node.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", node.data_dir.display()))?;
    }
    let cluster_id = match settings.cluster_id {
        Some(id) => id,
        None => stored_cluster_id(&data_dir)?,
    };
    let security = if args.secure {
        let started = nodes
            .iter()
            .any(|n| n.data_dir.join(META_PROPERTIES).exists());
        let security = DevSecurity::prepare(&data_dir, started)?;
        format_nodes(&nodes, &cluster_id, &settings.extra, &security)?;
        if security.admin_is_new {
            eprintln!(
                "dev-cluster: made the user {ADMIN_USER}, with a new random password in {}",
                security.admin_properties_path.display()
            );
        }
        Some(security)
    } else {
        None
    };
    let executable = std::env::current_exe()
        .map_err(|e| format!("cannot find the sluice executable to start nodes with: {e}"))?;
    Ok(Plan {
        nodes,
        cluster_id,
        extra: settings.extra,
        executable,
        security,
    })
}

/// Kafka's per-directory identity file, which a node writes at its first start (or `storage
/// format` before it).
const META_PROPERTIES: &str = "meta.properties";

/// Formats the storage of every node not formatted yet with the admin's credential, as
/// `sluice storage format --ignore-formatted --add-scram` would with the node's own config.
/// The first node of a new cluster to propose it makes the admin; the quorum ignores the
/// others' (the same user, whatever the salt).
fn format_nodes(
    nodes: &[Node],
    cluster_id: &str,
    extra: &[(String, String)],
    security: &DevSecurity,
) -> Result<(), String> {
    let admin = [security.admin_credential()?];
    let voters = quorum_voters(nodes);
    for node in nodes {
        let pairs: Vec<String> = node_settings(node, &voters, cluster_id, extra, true)
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        let config = crate::server_config(Some(&security.server_properties_path), &pairs)
            .map_err(|e| format!("node {}: {e}", node.id))?;
        let settings =
            BrokerSettings::new(&config).map_err(|e| format!("node {}: {e}", node.id))?;
        format_storage(&settings, cluster_id, &admin, true)
            .map_err(|e| format!("node {}: {e}", node.id))?;
    }
    Ok(())
}

/// The `--set` pairs, with `cluster.id` apart: dev-cluster passes it itself.
#[derive(Debug, Default, PartialEq, Eq)]
struct Settings {
    /// The pairs to pass on to every node, in the order given.
    extra: Vec<(String, String)>,
    /// The last `cluster.id` set, if any.
    cluster_id: Option<String>,
}

fn split_settings(set: &[String]) -> Result<Settings, String> {
    let mut settings = Settings::default();
    for pair in set {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("--set expects key=value, got '{pair}'"));
        };
        let (key, value) = (key.trim(), value.trim());
        if LAYOUT_KEYS.contains(&key) {
            return Err(format!(
                "--set {key}: dev-cluster sets {key} for each node itself \
                 (see --nodes, --base-port and --data-dir)"
            ));
        }
        if key == "cluster.id" {
            settings.cluster_id = Some(value.to_string());
        } else {
            settings.extra.push((key.to_string(), value.to_string()));
        }
    }
    Ok(settings)
}

fn layout(nodes: u8, base_port: u16, data_dir: &Path) -> Result<Vec<Node>, String> {
    let last_port = u32::from(base_port) + 2 * u32::from(nodes) - 1;
    if last_port > u32::from(u16::MAX) {
        return Err(format!(
            "--base-port {base_port} leaves no room for {nodes} nodes: they need ports up to \
             {last_port}"
        ));
    }
    Ok((1..=nodes)
        .map(|id| {
            // Cannot overflow: checked against last_port above.
            let client_port = base_port + 2 * u16::from(id - 1);
            Node {
                id,
                client_port,
                controller_port: client_port + 1,
                data_dir: data_dir.join(format!("node-{id}")),
            }
        })
        .collect())
}

/// `1@127.0.0.1:19093,2@127.0.0.1:19095,...`
fn quorum_voters(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(|n| format!("{}@{LOOPBACK}:{}", n.id, n.controller_port))
        .collect::<Vec<_>>()
        .join(",")
}

/// `127.0.0.1:19092,127.0.0.1:19094,...`
fn bootstrap_servers(nodes: &[Node]) -> String {
    nodes
        .iter()
        .map(Node::bootstrap_address)
        .collect::<Vec<_>>()
        .join(",")
}

/// One node's config keys: its layout, then `extra`, so that `extra` is applied last.
fn node_settings(
    node: &Node,
    voters: &str,
    cluster_id: &str,
    extra: &[(String, String)],
    secure: bool,
) -> Vec<(String, String)> {
    let client_listener = if secure { CLIENT_LISTENER } else { "PLAINTEXT" };
    let listeners = format!(
        "{client_listener}://{LOOPBACK}:{},CONTROLLER://{LOOPBACK}:{}",
        node.client_port, node.controller_port
    );
    let own = [
        ("node.id", node.id.to_string()),
        ("process.roles", "broker,controller".to_string()),
        ("listeners", listeners),
        ("controller.quorum.voters", voters.to_string()),
        ("log.dirs", node.data_dir.display().to_string()),
        ("cluster.id", cluster_id.to_string()),
        // Several nodes on one machine cannot share the default admin port: each binds an
        // ephemeral one and logs it ("admin listener serving http://...").
        ("admin.listeners", format!("http://{LOOPBACK}:0")),
        // Likewise the schema registry ("schema registry serving http://...").
        ("schema.registry.listeners", format!("http://{LOOPBACK}:0")),
        ("rest.proxy.listeners", format!("http://{LOOPBACK}:0")),
    ];
    own.into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .chain(extra.iter().cloned())
        .collect()
}

/// The arguments after `sluice server`: the config file (the security settings of
/// `--secure`), then each setting as `--set`, which the server applies over the file.
fn server_args(config: Option<&Path>, settings: &[(String, String)]) -> Vec<String> {
    let file = config
        .into_iter()
        .flat_map(|path| ["--config".to_string(), path.display().to_string()]);
    file.chain(
        settings
            .iter()
            .flat_map(|(key, value)| ["--set".to_string(), format!("{key}={value}")]),
    )
    .collect()
}

/// "port 19093 (node 1 controller listener) is in use" for each port of the layout that
/// cannot be bound now.
fn busy_ports(nodes: &[Node]) -> Vec<String> {
    let mut busy = Vec::new();
    for node in nodes {
        for (port, role) in [
            (node.client_port, "client"),
            (node.controller_port, "controller"),
        ] {
            // Dropped at once: the port is only checked, the node binds it.
            if let Err(e) = TcpListener::bind((LOOPBACK, port)) {
                let why = if e.kind() == io::ErrorKind::AddrInUse {
                    "is in use".to_string()
                } else {
                    format!("cannot be bound ({e})")
                };
                busy.push(format!(
                    "port {port} (node {} {role} listener) {why}",
                    node.id
                ));
            }
        }
    }
    busy
}

/// The id in `DIR/cluster.id`, written there first if missing: Kafka's form, 16 random bytes
/// (a version 4 UUID, as `kafka-storage random-uuid` makes) in URL-safe base64 without padding.
fn stored_cluster_id(data_dir: &Path) -> Result<String, String> {
    let path = data_dir.join("cluster.id");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            if id.is_empty() {
                return Err(format!(
                    "{} is empty; delete it to have a new cluster id made",
                    path.display()
                ));
            }
            Ok(id.to_string())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let id = base64_url(uuid::Uuid::new_v4().as_bytes());
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(id)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// URL-safe base64 (RFC 4648 section 5) without padding.
fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity((bytes.len() * 4).div_ceil(3));
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        // n bytes carry 8n bits, which take n+1 six-bit characters.
        for i in 0..=chunk.len() {
            let index = (group >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// Whether a node's log line says it serves clients on `client_port`.
fn announces_listening(line: &str, client_port: u16) -> bool {
    let marker = format!("listening on {LOOPBACK}:{client_port}");
    line.match_indices(&marker).any(|(at, _)| {
        !line[at + marker.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

#[derive(Debug)]
enum Event {
    Listening { node: u8 },
    Exited { node: u8, outcome: String },
}

async fn supervise(plan: Plan) -> ExitCode {
    use tokio::signal::unix::{signal, SignalKind};
    // Installed before any node starts, so no signal finds the nodes without a supervisor.
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: cannot handle SIGTERM and SIGINT: {e}");
            return ExitCode::FAILURE;
        }
    };
    let voters = quorum_voters(&plan.nodes);
    eprintln!(
        "dev-cluster: starting {} nodes of cluster {}{}",
        plan.nodes.len(),
        plan.cluster_id,
        if plan.security.is_some() {
            " on SASL_SSL"
        } else {
            ""
        }
    );
    let config = plan
        .security
        .as_ref()
        .map(|s| s.server_properties_path.as_path());

    let (events_tx, mut events) = mpsc::channel(EVENTS_CAPACITY);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut supervisors = JoinSet::new();
    let mut outputs = JoinSet::new();
    for node in &plan.nodes {
        let settings = node_settings(
            node,
            &voters,
            &plan.cluster_id,
            &plan.extra,
            plan.security.is_some(),
        );
        let args = server_args(config, &settings);
        let mut child = match spawn_node(&plan.executable, &args) {
            Ok(child) => child,
            Err(e) => {
                eprintln!("error: cannot start node {}: {e}", node.id);
                stop_nodes(&stop_tx, supervisors, outputs).await;
                return ExitCode::FAILURE;
            }
        };
        if let Some(stdout) = child.stdout.take() {
            outputs.spawn(forward_output(node.id, None, stdout, events_tx.clone()));
        }
        if let Some(stderr) = child.stderr.take() {
            let port = Some(node.client_port);
            outputs.spawn(forward_output(node.id, port, stderr, events_tx.clone()));
        }
        supervisors.spawn(supervise_node(
            node.id,
            child,
            stop_rx.clone(),
            events_tx.clone(),
        ));
    }
    drop(events_tx);

    let mut listening = BTreeSet::new();
    let mut running = plan.nodes.len();
    let code = loop {
        tokio::select! {
            Some(event) = events.recv() => match event {
                Event::Listening { node } => {
                    let was_complete = listening.len() == plan.nodes.len();
                    listening.insert(node);
                    if !was_complete && listening.len() == plan.nodes.len() {
                        print_ready(&plan.nodes, plan.security.as_ref());
                    }
                }
                Event::Exited { node, outcome } => {
                    running -= 1;
                    if running == 0 {
                        eprintln!(
                            "dev-cluster: node {node} exited on its own ({outcome}); \
                             no node is left"
                        );
                        break ExitCode::FAILURE;
                    }
                    eprintln!(
                        "dev-cluster: node {node} exited on its own ({outcome}); \
                         the other {running} keep running"
                    );
                }
            },
            _ = terminate.recv() => {
                eprintln!("dev-cluster: received SIGTERM, stopping the nodes");
                break ExitCode::SUCCESS;
            }
            _ = interrupt.recv() => {
                eprintln!("dev-cluster: received SIGINT, stopping the nodes");
                break ExitCode::SUCCESS;
            }
        }
    };
    stop_nodes(&stop_tx, supervisors, outputs).await;
    eprintln!("dev-cluster: stopped");
    code
}

/// One line per node, with `--secure` where the admin's client properties and the CA are and
/// a command that uses them, then the bootstrap list (last: scripts wait for it), on stdout.
fn print_ready(nodes: &[Node], security: Option<&DevSecurity>) {
    for node in nodes {
        println!(
            "node {}  {}  {}",
            node.id,
            node.bootstrap_address(),
            node.data_dir.display()
        );
    }
    if let Some(security) = security {
        let admin = security.admin_properties_path.display();
        println!("admin client properties ({ADMIN_USER}, SASL_SSL): {admin}");
        println!("CA certificate: {}", security.ca_path.display());
        let first = nodes
            .first()
            .map(Node::bootstrap_address)
            .unwrap_or_default();
        println!("try: sluice topic list -b {first} --command-config {admin}");
    }
    println!("bootstrap servers: {}", bootstrap_servers(nodes));
}

fn spawn_node(executable: &Path, args: &[String]) -> io::Result<Child> {
    Command::new(executable)
        .arg("server")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Stopped by this supervisor only (see the module comment).
        .process_group(0)
        // A last resort should the supervisor itself fail: no node outlives its handle.
        .kill_on_drop(true)
        .spawn()
}

/// Runs until the node exits on its own (reported as an event) or `stop` turns true; then
/// stops it: SIGTERM, a bounded wait, SIGKILL.
async fn supervise_node(
    node: u8,
    mut child: Child,
    mut stop: watch::Receiver<bool>,
    events: mpsc::Sender<Event>,
) {
    let exited = tokio::select! {
        status = child.wait() => Some(status),
        // A dropped sender means stop as well. (The guard `wait_for` returns must not live
        // across an await: it would make this task !Send.)
        _ = async { drop(stop.wait_for(|stop| *stop).await) } => None,
    };
    match exited {
        Some(status) => {
            let outcome = describe_exit(status);
            let _ = events.send(Event::Exited { node, outcome }).await;
        }
        None => stop_node(node, &mut child).await,
    }
}

async fn stop_node(node: u8, child: &mut Child) {
    // `id` is None once the child has been reaped, so the pid cannot belong to another
    // process by now: an unreaped child keeps its pid even after it exits.
    if let Some(pid) = child.id() {
        let sent = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .map(|pid| rustix::process::kill_process(pid, rustix::process::Signal::TERM));
        if let Some(Err(e)) = sent {
            eprintln!("dev-cluster: cannot send SIGTERM to node {node}: {e}");
        }
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => eprintln!(
            "dev-cluster: node {node} stopped ({})",
            describe_exit(status)
        ),
        Err(_) => {
            eprintln!(
                "dev-cluster: node {node} did not stop within {} s of SIGTERM; killing it",
                STOP_GRACE.as_secs()
            );
            if let Err(e) = child.kill().await {
                eprintln!("dev-cluster: cannot kill node {node}: {e}");
            }
        }
    }
}

/// Tells every node supervisor to stop and waits for them, then (bounded) for the nodes'
/// output to drain.
async fn stop_nodes(
    stop: &watch::Sender<bool>,
    mut supervisors: JoinSet<()>,
    mut outputs: JoinSet<()>,
) {
    let _ = stop.send(true);
    while supervisors.join_next().await.is_some() {}
    let drained = tokio::time::timeout(OUTPUT_DRAIN, async {
        while outputs.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        outputs.abort_all();
    }
}

fn describe_exit(status: io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("its exit status is unknown: {e}"),
    }
}

/// Copies a node's output to stderr line by line, prefixed with `[node i]`; with a client port,
/// also reports the line that says the node serves clients there.
async fn forward_output(
    node: u8,
    client_port: Option<u16>,
    stream: impl AsyncRead + Unpin,
    events: mpsc::Sender<Event>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    let mut announced = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Bytes as they come: a log line need not be UTF-8.
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        eprintln!("[node {node}] {text}");
        if let Some(port) = client_port.filter(|_| !announced) {
            if announces_listening(text, port) {
                announced = true;
                let _ = events.send(Event::Listening { node }).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nodes_take_two_ports_each_from_the_base() {
        let nodes = layout(3, 19092, Path::new("/data")).expect("fits");
        let ports: Vec<(u8, u16, u16)> = nodes
            .iter()
            .map(|n| (n.id, n.client_port, n.controller_port))
            .collect();
        assert_eq!(
            ports,
            vec![(1, 19092, 19093), (2, 19094, 19095), (3, 19096, 19097)]
        );
        assert_eq!(nodes[2].data_dir, Path::new("/data/node-3"));
        assert_eq!(
            quorum_voters(&nodes),
            "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
        );
        assert_eq!(
            bootstrap_servers(&nodes),
            "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
        );
    }

    #[test]
    fn the_ports_must_fit_below_65536() {
        assert!(layout(9, 65518, Path::new("d")).is_ok()); // up to 65535
        let err = layout(9, 65519, Path::new("d")).expect_err("65536 is no port");
        assert_eq!(
            err,
            "--base-port 65519 leaves no room for 9 nodes: they need ports up to 65536"
        );
    }

    #[test]
    fn every_node_gets_its_layout_then_the_extra_settings() {
        let nodes = layout(2, 30000, Path::new("/d")).expect("fits");
        let extra = vec![("num.partitions".to_string(), "6".to_string())];
        let voters = "1@127.0.0.1:30001,2@127.0.0.1:30003";
        assert_eq!(
            server_args(
                None,
                &node_settings(&nodes[1], voters, "abc", &extra, false)
            ),
            strings(&[
                "--set",
                "node.id=2",
                "--set",
                "process.roles=broker,controller",
                "--set",
                "listeners=PLAINTEXT://127.0.0.1:30002,CONTROLLER://127.0.0.1:30003",
                "--set",
                "controller.quorum.voters=1@127.0.0.1:30001,2@127.0.0.1:30003",
                "--set",
                "log.dirs=/d/node-2",
                "--set",
                "cluster.id=abc",
                "--set",
                "admin.listeners=http://127.0.0.1:0",
                "--set",
                "schema.registry.listeners=http://127.0.0.1:0",
                "--set",
                "rest.proxy.listeners=http://127.0.0.1:0",
                "--set",
                "num.partitions=6",
            ])
        );
        // --secure: the security settings come from a file, under the --set ones.
        let args = server_args(
            Some(Path::new("/d/tls/server.properties")),
            &node_settings(&nodes[0], voters, "abc", &[], true),
        );
        assert_eq!(
            args[..2],
            strings(&["--config", "/d/tls/server.properties"])
        );
        assert!(
            args.contains(
                &"listeners=SASL_SSL://127.0.0.1:30000,CONTROLLER://127.0.0.1:30001".into()
            ),
            "{args:?}"
        );
    }

    #[test]
    fn settings_may_not_change_the_layout() {
        let settings = split_settings(&strings(&[
            "num.partitions = 6",
            "cluster.id=x",
            "cluster.id=y",
        ]))
        .expect("allowed");
        assert_eq!(
            settings,
            Settings {
                extra: vec![("num.partitions".to_string(), "6".to_string())],
                cluster_id: Some("y".to_string()),
            }
        );
        let err = split_settings(&strings(&["listeners=PLAINTEXT://:9092"])).expect_err("layout");
        assert!(
            err.starts_with("--set listeners: dev-cluster sets listeners"),
            "{err}"
        );
        let err = split_settings(&strings(&["novalue"])).expect_err("no value");
        assert_eq!(err, "--set expects key=value, got 'novalue'");
    }

    #[test]
    fn busy_ports_are_named() {
        let taken = TcpListener::bind((LOOPBACK, 0)).expect("bind");
        let port = taken.local_addr().expect("address").port();
        let node = Node {
            id: 4,
            client_port: port,
            controller_port: port,
            data_dir: PathBuf::from("d"),
        };
        assert_eq!(
            busy_ports(&[node]),
            vec![
                format!("port {port} (node 4 client listener) is in use"),
                format!("port {port} (node 4 controller listener) is in use"),
            ]
        );
    }

    #[test]
    fn base64_is_url_safe_and_unpadded() {
        assert_eq!(base64_url(b"Man"), "TWFu");
        assert_eq!(base64_url(b"Ma"), "TWE");
        assert_eq!(base64_url(b"M"), "TQ");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64_url(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = base64_url(uuid::Uuid::new_v4().as_bytes());
        assert_eq!(id.len(), 22);
    }

    #[test]
    fn the_cluster_id_is_made_once_and_then_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = stored_cluster_id(dir.path()).expect("made");
        assert_eq!(first.len(), 22);
        assert_eq!(stored_cluster_id(dir.path()).expect("read"), first);
        std::fs::write(dir.path().join("cluster.id"), "\n").expect("write");
        assert!(stored_cluster_id(dir.path())
            .expect_err("empty")
            .contains("is empty"));
    }

    #[test]
    fn only_the_client_port_announcement_counts() {
        let line = "INFO sluice node 2 listening on 127.0.0.1:19094 (advertised as \
                    127.0.0.1:19094), data in /d/node-2";
        assert!(announces_listening(line, 19094));
        assert!(!announces_listening(line, 1909));
        assert!(!announces_listening(
            "sluice node 2 (controller only) listening on 127.0.0.1:19095",
            19094
        ));
        assert!(announces_listening("listening on 127.0.0.1:9", 9));
    }
}

//! The `sluice` binary: the broker (`sluice server`), a node's storage formatted before its
//! first start (`sluice storage format`), a local multi-node cluster of brokers
//! (`sluice dev-cluster`, in `dev_cluster.rs`) and the client tools (topic, group, txn,
//! producers, cluster, partition, user, acl, quota, config, produce, consume; crates/client),
//! which work against any Kafka-compatible cluster. It builds with the Rust toolchain alone: the
//! benchmarks, which run on librdkafka, are the separate `sluice-bench` binary (crates/bench).
//!
//! Layout: `main.rs` the command line, the server and the client commands' runtime;
//! `dev_cluster.rs` the local cluster supervisor, `dev_security.rs` the CA, certificate,
//! passwords and admin client properties of `dev-cluster --secure`; `storage.rs` `storage
//! format` (a node's storage and first SCRAM users before its first start) and `storage
//! random-uuid`.
#![forbid(unsafe_code)]

mod dev_cluster;
mod dev_security;
mod schema_cli;
mod storage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sluice_broker::BrokerConfig;

#[derive(Parser)]
#[command(
    name = "sluice",
    version,
    about = "Sluice: an event streaming platform that speaks the Kafka protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (with no flags: a single-node cluster on 127.0.0.1:9092, data in ./sluice-data).
    Server(ServerArgs),
    /// Run a cluster of N nodes on this machine (broker and controller each), for development.
    DevCluster(dev_cluster::DevClusterArgs),
    /// Format a node's storage before its first start (cluster id, first SCRAM users).
    Storage(storage::StorageArgs),
    /// The schema registry: list, get, register, check, delete schemas, and compatibility
    /// levels (Confluent's API of any node's schema.registry.listeners).
    Schema(schema_cli::SchemaArgs),
    // Boxed: the client commands' arguments are far larger than the others'.
    #[command(flatten)]
    Client(Box<sluice_client::ClientCommand>),
}

#[derive(Args)]
struct ServerArgs {
    /// A server.properties-style file with Kafka's broker config names.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Override one config key (repeatable), e.g. --set log.dirs=/var/lib/sluice
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => run_server(args),
        Command::DevCluster(args) => dev_cluster::run(args),
        Command::Storage(args) => storage::run(args),
        Command::Schema(args) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(schema_cli::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Client(cmd) => {
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
            match runtime.block_on(sluice_client::run(*cmd)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The broker config of a `--config` file and `--set` overrides, checked.
fn server_config(file: Option<&PathBuf>, set: &[String]) -> Result<BrokerConfig, String> {
    let mut config = BrokerConfig::default();
    if let Some(path) = file {
        config.load_file(path).map_err(|e| e.to_string())?;
    }
    for pair in set {
        let Some((k, v)) = pair.split_once('=') else {
            return Err(format!("--set expects key=value, got '{pair}'"));
        };
        config.set(k.trim(), v.trim()).map_err(|e| e.to_string())?;
    }
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

/// The server's log lines on stderr, filtered by `SLUICE_LOG` (default `info,openraft=warn`):
/// text, or with `log.format=json` one JSON object a line, whose `spans` carry the connection's
/// (peer, listener, principal) and the request's (api, version, correlation id, client id)
/// fields.
fn init_logging(config: &BrokerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    if config.log_format_json() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

fn run_server(args: ServerArgs) -> ExitCode {
    let config = match server_config(args.config.as_ref(), &args.set) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    for key in config.ignored_keys() {
        tracing::warn!(
            "config key '{key}' is accepted but has no effect in this version of Sluice"
        );
    }
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
    let admin_listeners = match config.admin_listeners() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // `https` admin listeners share one TLS configuration, whose key store is reloaded when
    // its file changes, as on the Kafka listeners.
    let admin_tls = if admin_listeners.iter().any(|l| l.tls) {
        match sluice_broker::server::tls_server(&sluice_broker::config::admin_ssl(&config)) {
            Ok(tls) => Some(tls),
            Err(e) => {
                eprintln!("error: admin.listeners: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let registry_listeners = match config.schema_registry_listeners() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // An https registry: its server TLS, and the CA it trusts when it forwards a request to
    // another node's https registry (the registry listener's trust store, else ssl.truststore.*).
    let (registry_tls, registry_client_tls) = if registry_listeners.iter().any(|l| l.tls) {
        let ssl = sluice_broker::config::ssl_settings(&config, "SCHEMA_REGISTRY");
        let server = match sluice_broker::server::tls_server(&ssl) {
            Ok(tls) => tls,
            Err(e) => {
                eprintln!("error: schema.registry.listeners: {e}");
                return ExitCode::from(2);
            }
        };
        let ca = match (&ssl.truststore_location, &ssl.truststore_certificates) {
            (Some(path), _) => match std::fs::read(path) {
                Ok(pem) => Some(pem),
                Err(e) => {
                    eprintln!(
                        "error: schema.registry.listeners: ssl.truststore.location {}: {e}",
                        path.display()
                    );
                    return ExitCode::from(2);
                }
            },
            (None, Some(pem)) => Some(pem.as_bytes().to_vec()),
            (None, None) => None,
        };
        let client = match ca.map(|pem| sluice_protocol::client::TlsClient::from_pem(&pem, None)) {
            None => None,
            Some(Ok(client)) => Some(client),
            Some(Err(e)) => {
                eprintln!("error: schema.registry.listeners: the trust store: {e}");
                return ExitCode::from(2);
            }
        };
        (Some(server), client)
    } else {
        (None, None)
    };
    // Where other nodes reach this node's registry when the bound address is a wildcard:
    // the host the node advertises to other brokers.
    let advertised_host = sluice_broker::config::BrokerSettings::new(&config)
        .ok()
        .and_then(|s| {
            let l = s.listener(&s.inter_broker_listener)?;
            let host = l
                .advertised
                .as_ref()
                .map(|a| a.host.clone())
                .unwrap_or_else(|| l.listener.host.clone());
            (!host.is_empty() && host != "0.0.0.0" && host != "::").then_some(host)
        })
        .unwrap_or_else(|| "127.0.0.1".to_string());
    runtime.block_on(async move {
        // The admin listener first: probes see a starting node as alive and not ready.
        let admin = sluice_http::AdminState::with_read_only(config.console_read_only());
        if let Some(client) = registry_client_tls {
            admin.set_registry_tls(client);
        }
        let (admin_stop, admin_stopped) = tokio::sync::watch::channel(false);
        let specs = admin_listeners
            .iter()
            .map(|l| match (&admin_tls, l.tls) {
                (Some((tls, _)), true) => sluice_http::ListenerSpec::https(l.addr, tls.clone()),
                _ => sluice_http::ListenerSpec::http(l.addr),
            })
            .collect();
        if let Some((_, resolver)) = admin_tls.clone() {
            // The Kafka listeners' reload loop (on the blocking pool, stopped with the listener).
            tokio::spawn(sluice_broker::server::reload_certificates(
                vec![("ADMIN".to_string(), resolver)],
                admin_stopped.clone(),
            ));
        }
        let admin_stopped_registry = admin_stopped.clone();
        let mut admin_tasks = match sluice_http::serve(specs, admin.clone(), admin_stopped).await {
            Ok((bound, tasks)) => {
                for url in bound {
                    tracing::info!("admin listener serving {url}");
                }
                tasks
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The REST proxy (rest.proxy.listeners): a Kafka client of this node like the admin
        // API, sharing its caller pool; its consumer instances are closed before the node stops.
        let rest_proxy = match start_rest_proxy(&config, admin.clone()).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The schema registry's listeners are bound now, so that the broker's registration
        // carries the URL other nodes forward registry writes to; they serve once the
        // registry can serve writes (serve_when_ready).
        let registry_specs = registry_listeners
            .iter()
            .map(|l| match (&registry_tls, l.tls) {
                (Some((tls, _)), true) => sluice_http::ListenerSpec::https(l.addr, tls.clone()),
                _ => sluice_http::ListenerSpec::http(l.addr),
            })
            .collect();
        let registry_bound = match sluice_http::schema_registry::bind(registry_specs).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut listeners = sluice_broker::server::Listeners::default();
        if let Some(bound) = registry_bound.first() {
            let url = &bound.url;
            let url = match bound.socket.local_addr() {
                Ok(a) if a.ip().is_unspecified() => {
                    let scheme = url.split("://").next().unwrap_or("http");
                    format!("{scheme}://{advertised_host}:{}", a.port())
                }
                _ => url.clone(),
            };
            listeners.http_endpoints.insert(
                sluice_broker::coordinators::SCHEMA_REGISTRY_ENDPOINT.to_string(),
                url,
            );
        }
        if let Some((_, resolver)) = registry_tls.clone() {
            tokio::spawn(sluice_broker::server::reload_certificates(
                vec![("SCHEMA_REGISTRY".to_string(), resolver)],
                admin_stopped_registry.clone(),
            ));
        }
        let handle = match sluice_broker::server::start_with_listeners(config, listeners).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let kafka = match handle.own_listener() {
            Ok(own) => own.map(|l| sluice_http::api::access::KafkaAccess {
                bootstrap: l.addr,
                tls: l.tls,
                sasl_mechanism: sluice_http::api::access::KafkaAccess::password_mechanism(
                    &l.sasl_mechanisms,
                ),
                sasl_listener: !l.sasl_mechanisms.is_empty(),
            }),
            Err(e) => {
                tracing::warn!("the JSON admin API is off: {e}");
                None
            }
        };
        admin.node_started(sluice_http::Node {
            metrics: handle.metrics.clone(),
            broker: handle.broker.clone(),
            controller: handle.controller.clone(),
            kafka,
        });
        if !registry_bound.is_empty() {
            admin_tasks.spawn(sluice_http::schema_registry::serve_when_ready(
                registry_bound,
                admin.clone(),
                admin_stopped_registry.clone(),
            ));
        }
        // A signal stops the node; so does a failure it cannot serve through (the metadata
        // log's directory), after which the process exits with an error, as Kafka halts.
        let failed = tokio::select! {
            _ = wait_for_signal() => None,
            why = handle.fatal() => Some(why),
        };
        if let Some(rest_proxy) = rest_proxy {
            rest_proxy.stop().await;
        }
        handle.shutdown().await;
        let _ = admin_stop.send(true);
        let drained = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while admin_tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            admin_tasks.abort_all();
        }
        match failed {
            Some(why) => {
                eprintln!("sluice stopped: {why}");
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        }
    })
}

/// The running REST proxy: its state (consumer instances), its serving tasks and their stop.
struct RestProxy {
    state: std::sync::Arc<sluice_http::rest_proxy::RestProxyState>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: tokio::task::JoinSet<()>,
}

impl RestProxy {
    /// Closes the consumer instances (they leave their groups while the node still runs),
    /// then stops the listeners.
    async fn stop(mut self) {
        self.state.close().await;
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.tasks.abort_all();
        }
    }
}

/// Binds `rest.proxy.listeners` (none: `Ok(None)`), `https` ones with the TLS of
/// `listener.name.rest_proxy.ssl.*` (else `ssl.*`), reloaded when the key store changes.
async fn start_rest_proxy(
    config: &BrokerConfig,
    admin: std::sync::Arc<sluice_http::AdminState>,
) -> Result<Option<RestProxy>, String> {
    let listeners = config.rest_proxy_listeners()?;
    if listeners.is_empty() {
        return Ok(None);
    }
    let tls = if listeners.iter().any(|l| l.tls) {
        let settings = sluice_broker::config::rest_proxy_ssl(config);
        Some(
            sluice_broker::server::tls_server(&settings)
                .map_err(|e| format!("rest.proxy.listeners: {e}"))?,
        )
    } else {
        None
    };
    let specs = listeners
        .iter()
        .map(|l| match (&tls, l.tls) {
            (Some((tls, _)), true) => sluice_http::ListenerSpec::https(l.addr, tls.clone()),
            _ => sluice_http::ListenerSpec::http(l.addr),
        })
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some((_, resolver)) = tls {
        tokio::spawn(sluice_broker::server::reload_certificates(
            vec![("REST_PROXY".to_string(), resolver)],
            stopped.clone(),
        ));
    }
    let state = sluice_http::rest_proxy::RestProxyState::new(
        admin,
        sluice_http::rest_proxy::RestProxyConfig {
            consumer_instance_timeout: config.rest_proxy_consumer_instance_timeout(),
        },
    );
    let (bound, tasks) = sluice_http::rest_proxy::serve(specs, state.clone(), stopped)
        .await
        .map_err(|e| e.to_string())?;
    for url in bound {
        tracing::info!("rest proxy listener serving {url}");
    }
    Ok(Some(RestProxy { state, stop, tasks }))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers, Ctrl-C still works through ctrl_c.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("received SIGTERM"),
        _ = int.recv() => tracing::info!("received SIGINT"),
    }
}

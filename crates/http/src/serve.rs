//! Binding and serving the node's HTTP listeners (`http://` or `https://`), the same way for
//! each service that has them: the admin listener, the REST proxy and the schema registry.
//! An `https` listener completes TLS handshakes before axum sees a connection
//! ([`crate::tls_listener`]) and marks each request with [`ServedOverHttps`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// One listener to serve: its address, and the TLS acceptor of an `https` one.
pub struct ListenerSpec {
    pub addr: SocketAddr,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl ListenerSpec {
    /// An `http` listener on `addr`.
    pub fn http(addr: SocketAddr) -> ListenerSpec {
        ListenerSpec { addr, tls: None }
    }

    /// An `https` listener on `addr` with the TLS server configuration `config`.
    pub fn https(
        addr: SocketAddr,
        config: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> ListenerSpec {
        ListenerSpec {
            addr,
            tls: Some(tokio_rustls::TlsAcceptor::from(config)),
        }
    }
}

/// A bound listener, not serving yet: its socket, its TLS acceptor if `https`, and its URL
/// (`http://127.0.0.1:8081`, the port of a `:0` address resolved).
pub struct BoundListener {
    pub socket: TcpListener,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub url: String,
}

/// A listener that could not be opened; `service` names it (`admin listener`, ...).
#[derive(Debug, thiserror::Error)]
#[error("{service}: cannot listen on {addr}: {source}")]
pub struct BindError {
    pub service: &'static str,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// A request extension set by an `https` listener (secure cookies, `https` base URIs).
#[derive(Clone, Copy, Debug)]
pub struct ServedOverHttps;

/// Binds every listener of `specs` for `service`.
pub async fn bind(
    service: &'static str,
    specs: Vec<ListenerSpec>,
) -> Result<Vec<BoundListener>, BindError> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let addr = spec.addr;
        let failed = |source| BindError {
            service,
            addr,
            source,
        };
        let socket = TcpListener::bind(addr).await.map_err(failed)?;
        let local = socket.local_addr().map_err(failed)?;
        let scheme = if spec.tls.is_some() { "https" } else { "http" };
        out.push(BoundListener {
            socket,
            tls: spec.tls,
            url: format!("{scheme}://{local}"),
        });
    }
    Ok(out)
}

/// Serves `app` on `bound` in a task of `tasks` until `shutdown` turns true (open requests
/// finish first).
pub fn spawn(
    tasks: &mut JoinSet<()>,
    service: &'static str,
    bound: BoundListener,
    app: Router,
    shutdown: watch::Receiver<bool>,
) -> Result<(), BindError> {
    let mut shutdown = shutdown;
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let url = bound.url;
    match bound.tls {
        None => {
            tasks.spawn(async move {
                if let Err(e) = axum::serve(bound.socket, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::warn!("{service} {url} stopped: {e}");
                }
            });
        }
        Some(acceptor) => {
            let addr = bound
                .socket
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            let socket = crate::tls_listener::TlsListener::new(bound.socket, acceptor).map_err(
                |source| BindError {
                    service,
                    addr,
                    source,
                },
            )?;
            let app = app.layer(axum::Extension(ServedOverHttps));
            tasks.spawn(async move {
                if let Err(e) = axum::serve(socket, app)
                    .with_graceful_shutdown(stopped)
                    .await
                {
                    tracing::warn!("{service} {url} stopped: {e}");
                }
            });
        }
    }
    Ok(())
}

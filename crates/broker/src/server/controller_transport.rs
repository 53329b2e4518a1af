//! The controller listener's security: [`SecureControllerTransport`] sets up controller
//! connections (Raft RPCs between controllers, and the brokers' registrations, heartbeats and
//! metadata replication) as the listener named by `controller.listener.names` is secured in
//! `listener.security.protocol.map`: TLS with the listener's `ssl.*` settings, then SASL.
//!
//! The SASL login runs in Kafka's own framing before the first controller RPC frame, as on a
//! client listener: ApiVersions, SaslHandshake v1, SaslAuthenticate. The connecting node logs
//! in with `sasl.mechanism.controller.protocol` (PLAIN: the `username` and `password` of the
//! listener's `plain.sasl.jaas.config`); the accepting one checks against the same listener's
//! users. SCRAM is not offered there, as in Kafka's KRaft mode: SCRAM credentials live in the
//! metadata log, which a controller must be able to reach before it can read them.
//!
//! ```text
//! connect:  TCP -> TLS handshake (SSL, SASL_SSL) -> ApiVersions, SaslHandshake, SaslAuthenticate
//!           (SASL_*) -> controller RPC frames
//! accept:   the same from the other side; any other request before a successful login, a
//!           failed login, or a slow one (the caller's timeout) closes the connection.
//! ```
//!
//! With an authorizer (`authorizer.class.name`), the peer's principal also needs
//! CLUSTER_ACTION on the cluster, as Kafka's controller RPCs do: in practice the nodes' own
//! user is in `super.users`. A controller-only node knows only `super.users` (it applies no
//! ACLs of its own); a PLAINTEXT controller listener has no principals to check.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use sluice_controller::{Accepted, BoxedStream, ControllerTransport, TransportFuture};
use sluice_protocol::client::{ClientSecurity, Connection, ConnectionOptions};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::{AclOperation, ResourceType, CLUSTER_RESOURCE_NAME};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::listeners::{client_security, ListenerTls};
use super::ServerError;
use crate::apis::request::encode_response;
use crate::apis::session::SaslOutcome;
use crate::apis::{ListenerContext, SaslAuthenticator, Session};
use crate::cluster::Authorization;
use crate::config::{BrokerSettings, ListenerSettings};

/// The requests a connection may send before it has logged in, and their versions.
const PRE_AUTH_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// TLS and SASL on the controller listener.
pub struct SecureControllerTransport {
    listener: String,
    /// Accepting side.
    tls: Option<Arc<ListenerTls>>,
    context: Arc<ListenerContext>,
    /// Connecting side.
    client: ClientSecurity,
    /// With an authorizer, a peer needs CLUSTER_ACTION (or to be a super user).
    authorization: Arc<Authorization>,
}

impl std::fmt::Debug for SecureControllerTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Says how the listener is secured, never with what.
        f.debug_struct("SecureControllerTransport")
            .field("listener", &self.listener)
            .field("protocol", &self.context.protocol.name())
            .finish()
    }
}

impl SecureControllerTransport {
    /// The transport of the controller listener `l` (SSL, SASL_PLAINTEXT or SASL_SSL).
    pub fn new(
        settings: &BrokerSettings,
        l: &ListenerSettings,
        decoy_secret: [u8; 32],
        authorization: Arc<Authorization>,
    ) -> Result<SecureControllerTransport, ServerError> {
        let tls = if l.protocol.uses_tls() {
            Some(Arc::new(super::listeners::listener_tls(l)?))
        } else {
            None
        };
        let sasl = if l.protocol.uses_sasl() {
            let delay = Duration::from_millis(settings.failed_authentication_delay_ms);
            Some(SaslAuthenticator::new(l, decoy_secret, delay).map_err(ServerError::Config)?)
        } else {
            None
        };
        let mechanism = settings.controller_sasl_mechanism.as_str();
        if l.protocol.uses_sasl() && mechanism != "PLAIN" {
            return Err(ServerError::Config(format!(
                "sasl.mechanism.controller.protocol={mechanism}: the controller listener {} \
                 supports PLAIN (SCRAM credentials live in the metadata log the controllers \
                 replicate)",
                l.name()
            )));
        }
        let client = client_security(l, mechanism, "sasl.mechanism.controller.protocol")?;
        Ok(SecureControllerTransport {
            listener: l.name().to_string(),
            tls,
            context: Arc::new(ListenerContext {
                name: l.name().to_string(),
                protocol: l.protocol,
                sasl,
                authorization: Arc::new(Authorization::disabled()),
            }),
            client,
            authorization,
        })
    }

    /// The listener's certificate, for reloading when its files change.
    pub fn tls(&self) -> Option<&Arc<ListenerTls>> {
        self.tls.as_ref()
    }

    async fn accept_connection(&self, stream: TcpStream, peer: SocketAddr) -> io::Result<Accepted> {
        let (mut stream, tls_principal): (BoxedStream, _) = match &self.tls {
            None => (Box::new(stream), None),
            Some(tls) => {
                let (stream, principal) = tls
                    .accept(stream)
                    .await
                    .map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))?;
                (Box::new(stream), principal)
            }
        };
        let session = Session::new(self.context.clone(), peer, tls_principal);
        if self.context.sasl.is_some() {
            sasl_login(&mut stream, &session).await?;
        }
        // Kafka's controller RPCs need CLUSTER_ACTION: only the cluster's own nodes (super
        // users, or principals granted it) may speak to the quorum.
        if self.authorization.is_enabled() {
            let principal = session.principal();
            let (_, authorizer) = self.authorization.snapshot();
            let decision = authorizer.authorize(
                &principal,
                peer.ip(),
                AclOperation::ClusterAction,
                ResourceType::Cluster,
                CLUSTER_RESOURCE_NAME,
            );
            if !decision.is_allowed() {
                return Err(refused(format!(
                    "{principal} may not use the controller listener (CLUSTER_ACTION: {decision})"
                )));
            }
        }
        Ok(Accepted {
            stream,
            principal: session.principal().to_string(),
        })
    }
}

impl ControllerTransport for SecureControllerTransport {
    fn connect(&self, addr: SocketAddr, timeout: Duration) -> TransportFuture<'_, BoxedStream> {
        Box::pin(async move {
            let options = ConnectionOptions {
                client_id: "sluice-controller".to_string(),
                max_response_bytes: 1 << 20,
            };
            let connection =
                Connection::connect_secure(&addr.to_string(), &options, &self.client, timeout)
                    .await
                    .map_err(|e| io::Error::new(io::ErrorKind::ConnectionRefused, e.to_string()))?;
            Ok(Box::new(connection.into_stream()) as BoxedStream)
        })
    }

    fn accept(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        _timeout: Duration,
    ) -> TransportFuture<'_, Accepted> {
        // The controller's server bounds the whole set-up with the timeout.
        Box::pin(self.accept_connection(stream, peer))
    }
}

fn refused(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why.into())
}

/// Serves ApiVersions, SaslHandshake and SaslAuthenticate until the peer has logged in.
async fn sasl_login<S>(stream: &mut S, session: &Session) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let max = session.max_frame(0).max(1);
    loop {
        let size = stream.read_i32().await?;
        if size <= 0 || size as usize > max {
            return Err(refused(format!(
                "a frame of {size} bytes before authentication (sasl.server.max.receive.size \
                 is {max})"
            )));
        }
        let mut frame = vec![0u8; size as usize];
        stream.read_exact(&mut frame).await?;
        let mut body = Bytes::from(frame);
        if body.len() < 4 {
            return Err(refused("a request too short for its header"));
        }
        let key = i16::from_be_bytes([body[0], body[1]]);
        let version = i16::from_be_bytes([body[2], body[3]]);
        let Ok(api) = ApiKey::try_from(key) else {
            return Err(refused(format!(
                "unknown api key {key} before authentication"
            )));
        };
        let Some(&(_, min, max_version)) = PRE_AUTH_APIS.iter().find(|(k, _, _)| *k == api) else {
            return Err(refused(format!(
                "{api:?} before SASL authentication on the controller listener"
            )));
        };
        let header_version = api.request_header_version(version.clamp(min, max_version));
        let header = RequestHeader::decode(&mut body, header_version)
            .map_err(|e| refused(format!("malformed request header: {e}")))?;
        let correlation_id = header.correlation_id;
        if api == ApiKey::ApiVersions {
            // An unknown version gets v0 with UNSUPPORTED_VERSION, as Kafka answers (KIP-511).
            let (version, error) = if (min..=max_version).contains(&version) {
                (version, 0)
            } else {
                (0, ErrorCode::UNSUPPORTED_VERSION.0)
            };
            let response = ApiVersionsResponse::default()
                .with_error_code(error)
                .with_api_keys(
                    PRE_AUTH_APIS
                        .iter()
                        .map(|&(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(k as i16)
                                .with_min_version(min)
                                .with_max_version(max)
                        })
                        .collect(),
                );
            write(stream, correlation_id, api, version, &response).await?;
            continue;
        }
        if !(min..=max_version).contains(&version) {
            return Err(refused(format!("{api:?} v{version} is not supported")));
        }
        match api {
            ApiKey::SaslHandshake => {
                let request = SaslHandshakeRequest::decode(&mut body, version)
                    .map_err(|e| refused(format!("malformed SaslHandshake: {e}")))?;
                let (error_code, mechanisms) =
                    session.handshake(request.mechanism.as_str(), version);
                let response = SaslHandshakeResponse::default()
                    .with_error_code(error_code)
                    .with_mechanisms(mechanisms.into_iter().map(StrBytes::from_string).collect());
                write(stream, correlation_id, api, version, &response).await?;
                if error_code != 0 {
                    return Err(refused(format!(
                        "SaslHandshake for {} refused with error code {error_code}",
                        request.mechanism.as_str()
                    )));
                }
            }
            _ => {
                let request = SaslAuthenticateRequest::decode(&mut body, version)
                    .map_err(|e| refused(format!("malformed SaslAuthenticate: {e}")))?;
                let response = SaslAuthenticateResponse::default();
                match session.authenticate(&request.auth_bytes, None) {
                    None => {
                        let response = response
                            .with_error_code(ErrorCode::ILLEGAL_SASL_STATE.0)
                            .with_error_message(Some(StrBytes::from_static_str(
                                "SaslAuthenticate without a SaslHandshake choosing a mechanism",
                            )));
                        write(stream, correlation_id, api, version, &response).await?;
                        return Err(refused("SaslAuthenticate before SaslHandshake"));
                    }
                    Some(SaslOutcome::Challenge(bytes)) => {
                        let response = response.with_auth_bytes(Bytes::from(bytes));
                        write(stream, correlation_id, api, version, &response).await?;
                    }
                    Some(SaslOutcome::Done {
                        message,
                        session_lifetime_ms,
                    }) => {
                        let response = response
                            .with_auth_bytes(Bytes::from(message))
                            .with_session_lifetime_ms(session_lifetime_ms);
                        write(stream, correlation_id, api, version, &response).await?;
                        return Ok(());
                    }
                    Some(SaslOutcome::Failed { message, delay }) => {
                        tokio::time::sleep(delay).await;
                        let response = response
                            .with_error_code(ErrorCode::SASL_AUTHENTICATION_FAILED.0)
                            .with_error_message(Some(StrBytes::from_string(message)));
                        write(stream, correlation_id, api, version, &response).await?;
                        return Err(refused("SASL authentication failed"));
                    }
                }
            }
        }
    }
}

async fn write<S, R>(
    stream: &mut S,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &R,
) -> io::Result<()>
where
    S: AsyncWrite + Unpin + ?Sized,
    R: kafka_protocol::protocol::Encodable,
{
    let frame = encode_response(correlation_id, api, version, body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    stream.write_all(&frame).await?;
    stream.flush().await
}

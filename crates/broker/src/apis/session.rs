//! Who is on the other end of a connection: the listener it came through, its principal, and
//! for SASL listeners the authentication in progress (Kafka's `SaslServerAuthenticator`).
//!
//! A connection on a SASL listener starts unauthenticated. Until a SASL exchange succeeds it
//! may send only ApiVersions, SaslHandshake and SaslAuthenticate (frames of at most
//! `sasl.server.max.receive.size` bytes); anything else closes it. SaslHandshake v1 is followed
//! by SaslAuthenticate requests carrying the mechanism's messages; after SaslHandshake v0 the
//! messages travel as raw size-prefixed frames without a Kafka header, as old clients send
//! them. A failed exchange is answered (SASL_AUTHENTICATION_FAILED, with the same message
//! for an unknown user and a wrong password) after `connection.failed.authentication.delay.ms`,
//! then the connection closes.
//!
//! With `connections.max.reauth.ms` (or a credential that expires, such as an OAUTHBEARER
//! token) a session has a lifetime, told to the client in SaslAuthenticate v1+ (KIP-368). The
//! client re-authenticates with SaslHandshake and SaslAuthenticate on the same connection, as
//! the same principal; a request other than these after the session expired closes the
//! connection.
//!
//! Connections on SSL listeners are authenticated by TLS: the principal is the client
//! certificate's subject mapped by `ssl.principal.mapping.rules`, `User:ANONYMOUS` without
//! one. PLAINTEXT connections are `User:ANONYMOUS`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;
use sluice_security::oauthbearer::{JwksSource, JwksTrust};
use sluice_security::{
    AuthError, JaasConfig, JwksCache, KafkaPrincipal, OAuthBearerServer, OAuthBearerValidator,
    OAuthBearerValidatorSettings, OAuthStep, PlainUsers, ScramCredential, ScramMechanism,
    ScramServer, ScramStep,
};

use crate::config::{ListenerSettings, SecurityProtocol};
use sluice_controller::MetadataImage;
use sluice_security::acl::{AclOperation, DecisionRecord, ResourceType};

use crate::cluster::Authorization;

/// The JAAS login module PLAIN's users are read from.
const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";

/// `sasl.server.callback.handler.class` values that switch OAUTHBEARER to validating signed
/// JWTs against the JWKS endpoint (Kafka's current and its KIP-768 package name).
const OAUTHBEARER_VALIDATORS: &[&str] = &[
    "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
    "org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler",
];

/// The listener a connection came through.
pub struct ListenerContext {
    /// Upper case, as `listeners` names it.
    pub name: String,
    pub protocol: SecurityProtocol,
    /// `Some` on SASL listeners.
    pub sasl: Option<SaslAuthenticator>,
    /// The ACLs requests on this listener are checked against.
    pub authorization: Arc<Authorization>,
}

impl ListenerContext {
    /// A listener with no authentication of its own (PLAINTEXT, SSL), e.g. for tests.
    pub fn plaintext(name: &str) -> ListenerContext {
        ListenerContext {
            name: name.to_string(),
            protocol: SecurityProtocol::Plaintext,
            sasl: None,
            authorization: Arc::new(Authorization::disabled()),
        }
    }
}

/// A SASL listener's mechanisms and what they check credentials against.
pub struct SaslAuthenticator {
    mechanisms: Vec<String>,
    plain: Option<PlainUsers>,
    oauthbearer: Option<OAuthBearerValidator>,
    /// The broker's secret for the decoy SCRAM salts of unknown users.
    decoy_secret: [u8; 32],
    /// `sasl.server.max.receive.size`.
    pub max_receive_size: usize,
    /// `connections.max.reauth.ms`; 0: sessions do not expire.
    max_reauth_ms: i64,
    /// `connection.failed.authentication.delay.ms`.
    failure_delay: Duration,
}

impl SaslAuthenticator {
    /// The authenticator of a SASL listener; an error names the setting that is wrong.
    pub fn new(
        listener: &ListenerSettings,
        decoy_secret: [u8; 32],
        failure_delay: Duration,
    ) -> Result<SaslAuthenticator, String> {
        let name = listener.name();
        let mut plain = None;
        let mut oauthbearer = None;
        for mechanism in &listener.sasl.enabled_mechanisms {
            let jaas = listener.sasl.jaas.iter().find(|(m, _)| m == mechanism);
            match mechanism.as_str() {
                "PLAIN" => {
                    let Some((_, text)) = jaas else {
                        return Err(format!(
                            "listener {name}: PLAIN is enabled but listener.name.{}.plain.sasl.jaas.config is not set",
                            name.to_ascii_lowercase()
                        ));
                    };
                    let text = std::str::from_utf8(text.expose()).map_err(|_| {
                        format!("listener {name}: the PLAIN JAAS config is not UTF-8")
                    })?;
                    let config = JaasConfig::parse(text)
                        .map_err(|e| format!("listener {name}, PLAIN: {e}"))?;
                    if config.login_module != PLAIN_LOGIN_MODULE {
                        return Err(format!(
                            "listener {name}: the PLAIN JAAS config must use {PLAIN_LOGIN_MODULE}"
                        ));
                    }
                    plain = Some(PlainUsers::from_jaas(&config));
                }
                "SCRAM-SHA-256" | "SCRAM-SHA-512" => {}
                "OAUTHBEARER" => oauthbearer = Some(oauthbearer_validator(listener, jaas)?),
                other => {
                    return Err(format!(
                        "listener {name}: SASL mechanism {other} is not supported yet"
                    ))
                }
            }
        }
        if listener.sasl.enabled_mechanisms.is_empty() {
            return Err(format!(
                "listener {name} uses SASL but sasl.enabled.mechanisms is empty"
            ));
        }
        Ok(SaslAuthenticator {
            mechanisms: listener.sasl.enabled_mechanisms.clone(),
            plain,
            oauthbearer,
            decoy_secret,
            max_receive_size: listener.sasl.max_receive_size,
            max_reauth_ms: listener.sasl.max_reauth_ms,
            failure_delay,
        })
    }

    pub fn mechanisms(&self) -> &[String] {
        &self.mechanisms
    }

    /// The JWKS key cache of OAUTHBEARER in secured mode, for the broker to refresh.
    pub fn jwks(&self) -> Option<Arc<JwksCache>> {
        self.oauthbearer.as_ref()?.jwks().cloned()
    }

    fn start(&self, mechanism: &str) -> Result<Exchange, AuthError> {
        if let Some(m) = ScramMechanism::from_name(mechanism) {
            return ScramServer::new(m, self.decoy_secret).map(|s| Exchange::Scram(Box::new(s)));
        }
        match (mechanism, &self.oauthbearer) {
            ("PLAIN", _) => Ok(Exchange::Plain),
            ("OAUTHBEARER", Some(validator)) => Ok(Exchange::OAuthBearer(Box::new(
                OAuthBearerServer::new(validator.clone()),
            ))),
            (other, _) => Err(AuthError::UnsupportedMechanism(other.to_string())),
        }
    }
}

/// OAUTHBEARER's validator on a listener: signed JWTs checked against the JWKS endpoint when
/// `sasl.server.callback.handler.class` names Kafka's validator, else Kafka's unsecured
/// (development) validator with the `unsecuredValidator*` options of the listener's
/// `OAuthBearerLoginModule` JAAS config.
fn oauthbearer_validator(
    listener: &ListenerSettings,
    jaas: Option<&(String, sluice_security::Secret)>,
) -> Result<OAuthBearerValidator, String> {
    let name = listener.name();
    let bad = |e: &dyn std::fmt::Display| format!("listener {name}, OAUTHBEARER: {e}");
    match &listener.sasl.oauthbearer_callback_handler {
        Some(class) if OAUTHBEARER_VALIDATORS.contains(&class.as_str()) => {
            let settings = OAuthBearerValidatorSettings::from_config(|key| {
                listener
                    .sasl
                    .oauthbearer
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            })
            .map_err(|e| bad(&e))?;
            let trust = jwks_trust(jaas).map_err(|e| bad(&e))?;
            let source =
                JwksSource::from_url(&settings.jwks_endpoint_url, trust).map_err(|e| bad(&e))?;
            let cache = Arc::new(JwksCache::new(source, &settings));
            Ok(OAuthBearerValidator::secured(settings, cache))
        }
        Some(class) => Err(bad(&format!(
            "sasl.server.callback.handler.class={class} is not supported (use {})",
            OAUTHBEARER_VALIDATORS[0]
        ))),
        None => {
            let Some((_, text)) = jaas else {
                return Err(bad(&format!(
                    "set listener.name.{}.oauthbearer.sasl.jaas.config (unsecured tokens) or \
                     sasl.server.callback.handler.class (signed tokens)",
                    name.to_ascii_lowercase()
                )));
            };
            let text =
                std::str::from_utf8(text.expose()).map_err(|_| bad(&"JAAS config is not UTF-8"))?;
            let config = JaasConfig::parse(text).map_err(|e| bad(&e))?;
            OAuthBearerValidator::unsecured(&config).map_err(|e| bad(&e))
        }
    }
}

/// Whom an https JWKS endpoint must be signed by: as in Kafka's validator, the trust store the
/// OAUTHBEARER JAAS config names in its options (`ssl.truststore.location`, PEM), else the
/// operating system's CAs.
fn jwks_trust(jaas: Option<&(String, sluice_security::Secret)>) -> Result<JwksTrust, String> {
    let Some((_, text)) = jaas else {
        return Ok(JwksTrust::System);
    };
    let text = std::str::from_utf8(text.expose()).map_err(|_| "JAAS config is not UTF-8")?;
    let config = JaasConfig::parse(text).map_err(|e| e.to_string())?;
    if let Some(kind) = config.option("ssl.truststore.type") {
        if !kind.eq_ignore_ascii_case("PEM") {
            return Err(format!(
                "the JAAS option ssl.truststore.type={kind} is not supported (PEM)"
            ));
        }
    }
    let store = match (
        config.option("ssl.truststore.location"),
        config.option("ssl.truststore.certificates"),
    ) {
        (Some(path), _) => sluice_security::tls::TrustStore::from_file(std::path::Path::new(path)),
        (None, Some(pem)) => sluice_security::tls::TrustStore::from_pem(pem),
        (None, None) => return Ok(JwksTrust::System),
    }
    .map_err(|e| format!("the JAAS option's trust store: {e}"))?;
    let roots = store.roots().map_err(|e| e.to_string())?;
    Ok(JwksTrust::Roots(Arc::new(roots)))
}

/// One mechanism's exchange in progress.
enum Exchange {
    Plain,
    Scram(Box<ScramServer>),
    OAuthBearer(Box<OAuthBearerServer>),
}

/// What a client's SASL message leads to.
pub enum SaslOutcome {
    /// Send this to the client; the exchange goes on.
    Challenge(Vec<u8>),
    /// Authenticated: the last server message (possibly empty) and the session's lifetime in
    /// ms (0: none).
    Done {
        message: Vec<u8>,
        session_lifetime_ms: i64,
    },
    /// Refused: answer with this message after the delay, then close the connection.
    Failed { message: String, delay: Duration },
}

enum Stage {
    /// A SASL listener's connection before SaslHandshake (or a finished session between
    /// re-authentications).
    Idle,
    /// SaslHandshake chose a mechanism; its exchange runs. `raw`: SaslHandshake v0, the
    /// messages come without a Kafka header.
    Exchanging {
        mechanism: String,
        exchange: Exchange,
        raw: bool,
    },
}

struct State {
    /// Set once authenticated (at once on listeners without SASL).
    principal: Option<KafkaPrincipal>,
    /// The mechanism the session authenticated with (re-authentication must use it again).
    mechanism: Option<String>,
    /// When the session expires (KIP-368).
    expires_at: Option<Instant>,
    stage: Stage,
    /// The connection closes after the response being written.
    closing: bool,
}

/// Decisions a connection's principal got, for one generation of the ACLs: the produce and
/// fetch paths ask the same few questions on every request, and a hit costs a hash lookup.
#[derive(Default)]
struct DecisionCache {
    generation: u64,
    entries: usize,
    by_kind: HashMap<(AclOperation, ResourceType), HashMap<String, DecisionRecord>>,
}

/// At most this many decisions cached per connection; a full cache starts over.
const DECISIONS_CACHED_MAX: usize = 4096;

/// One connection's identity and authentication.
pub struct Session {
    pub listener: Arc<ListenerContext>,
    pub peer: SocketAddr,
    state: Mutex<State>,
    decisions: Mutex<DecisionCache>,
    /// Until when the connection reads no request: a quota throttle (KIP-219).
    muted_until: Mutex<Option<tokio::time::Instant>>,
}

impl Session {
    /// A new connection's session; `tls_principal`: the principal its client certificate maps
    /// to, if it sent one.
    pub fn new(
        listener: Arc<ListenerContext>,
        peer: SocketAddr,
        tls_principal: Option<KafkaPrincipal>,
    ) -> Session {
        let principal = match listener.sasl {
            Some(_) => None,
            None => Some(tls_principal.unwrap_or_else(KafkaPrincipal::anonymous)),
        };
        Session {
            listener,
            peer,
            state: Mutex::new(State {
                principal,
                mechanism: None,
                expires_at: None,
                stage: Stage::Idle,
                closing: false,
            }),
            decisions: Mutex::new(DecisionCache::default()),
            muted_until: Mutex::new(None),
        }
    }

    /// Stops reading from the connection for `duration` (from now, or longer if already
    /// throttled longer): the client exceeded a quota.
    pub fn throttle(&self, duration: Duration) {
        let until = tokio::time::Instant::now() + duration;
        let mut muted = self
            .muted_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if muted.is_none_or(|current| current < until) {
            *muted = Some(until);
        }
    }

    /// Until when the connection must not read, if it is throttled now.
    pub fn muted_until(&self) -> Option<tokio::time::Instant> {
        let muted = *self
            .muted_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        muted.filter(|until| *until > tokio::time::Instant::now())
    }

    /// Whether the connection's principal may do `operation` on the resource, and why; `None`
    /// when no authorizer is configured (everything is allowed).
    pub fn authorize(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Option<DecisionRecord> {
        let authorization = &self.listener.authorization;
        if !authorization.is_enabled() {
            return None;
        }
        let generation = authorization.generation();
        {
            let mut cache = self
                .decisions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if cache.generation != generation {
                *cache = DecisionCache {
                    generation,
                    ..DecisionCache::default()
                };
            } else if let Some(hit) = cache
                .by_kind
                .get(&(operation, resource_type))
                .and_then(|by_name| by_name.get(name))
            {
                return Some(hit.clone());
            }
        }
        let (generation, authorizer) = authorization.snapshot();
        let principal = self.principal();
        let decision =
            authorizer.authorize(&principal, self.peer.ip(), operation, resource_type, name);
        let verdict = DecisionRecord::from(&decision);
        let mut cache = self
            .decisions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.generation == generation {
            if cache.entries >= DECISIONS_CACHED_MAX {
                cache.by_kind.clear();
                cache.entries = 0;
            }
            cache
                .by_kind
                .entry((operation, resource_type))
                .or_default()
                .insert(name.to_string(), verdict.clone());
            cache.entries += 1;
        }
        Some(verdict)
    }

    /// Whether the principal may do `operation` on some resource of `resource_type`
    /// (KIP-679: an idempotent producer with WRITE on any topic); `None` without an authorizer.
    pub fn authorize_any(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> Option<bool> {
        let authorization = &self.listener.authorization;
        if !authorization.is_enabled() {
            return None;
        }
        let (_, authorizer) = authorization.snapshot();
        Some(authorizer.authorize_by_resource_type(
            &self.principal(),
            self.peer.ip(),
            operation,
            resource_type,
        ))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The authenticated principal (`User:ANONYMOUS` before authentication).
    pub fn principal(&self) -> KafkaPrincipal {
        self.state()
            .principal
            .clone()
            .unwrap_or_else(KafkaPrincipal::anonymous)
    }

    /// The SASL mechanism of the exchange in progress, else of the session's last login.
    pub fn sasl_mechanism(&self) -> Option<String> {
        let state = self.state();
        match &state.stage {
            Stage::Exchanging { mechanism, .. } => Some(mechanism.clone()),
            Stage::Idle => state.mechanism.clone(),
        }
    }

    /// Whether a SASL exchange has succeeded (always, on listeners without SASL).
    pub fn is_authenticated(&self) -> bool {
        self.state().principal.is_some()
    }

    /// The largest frame the connection may send now.
    pub fn max_frame(&self, authenticated_max: usize) -> usize {
        match &self.listener.sasl {
            Some(sasl) if !self.is_authenticated() => sasl.max_receive_size,
            _ => authenticated_max,
        }
    }

    /// Whether the connection closes once the response being written is out.
    pub fn is_closing(&self) -> bool {
        self.state().closing
    }

    /// Whether the next frame is a raw SASL message (after SaslHandshake v0), not a request.
    pub fn expects_raw_message(&self) -> bool {
        matches!(self.state().stage, Stage::Exchanging { raw: true, .. })
    }

    /// Why a request of `api` may not be served now, if it may not: before authentication
    /// only ApiVersions and SASL requests are, and after the session expired only those that
    /// re-authenticate.
    pub fn refusal(&self, api: ApiKey) -> Option<String> {
        let sasl_or_versions = matches!(
            api,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        );
        if sasl_or_versions {
            return None;
        }
        let state = self.state();
        if state.principal.is_none() {
            return Some(format!(
                "{api:?} before SASL authentication on listener {}",
                self.listener.name
            ));
        }
        if state.expires_at.is_some_and(|at| Instant::now() >= at) {
            return Some(format!(
                "{api:?} after the SASL session expired (connections.max.reauth.ms)"
            ));
        }
        None
    }

    /// SaslHandshake: starts an exchange of `mechanism`. The error code and the enabled
    /// mechanisms to answer with; on an error other than ILLEGAL_SASL_STATE the connection
    /// closes after the response.
    pub fn handshake(&self, mechanism: &str, version: i16) -> (i16, Vec<String>) {
        const ILLEGAL_SASL_STATE: i16 = 34;
        const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
        let Some(sasl) = &self.listener.sasl else {
            return (ILLEGAL_SASL_STATE, Vec::new());
        };
        let mechanisms = sasl.mechanisms().to_vec();
        let mut state = self.state();
        let reauthenticating = state.principal.is_some();
        if reauthenticating && (version == 0 || state.mechanism.as_deref() != Some(mechanism)) {
            // KIP-368: re-authentication uses v1 and the session's own mechanism.
            state.closing = true;
            return (ILLEGAL_SASL_STATE, mechanisms);
        }
        if matches!(state.stage, Stage::Exchanging { .. }) {
            state.closing = true;
            return (ILLEGAL_SASL_STATE, mechanisms);
        }
        if !mechanisms.iter().any(|m| m == mechanism) {
            state.closing = true;
            return (UNSUPPORTED_SASL_MECHANISM, mechanisms);
        }
        match sasl.start(mechanism) {
            Ok(exchange) => {
                state.stage = Stage::Exchanging {
                    mechanism: mechanism.to_string(),
                    exchange,
                    raw: version == 0,
                };
                (0, mechanisms)
            }
            Err(e) => {
                tracing::warn!(
                    "listener {}: cannot start {mechanism}: {e}",
                    self.listener.name
                );
                state.closing = true;
                (UNSUPPORTED_SASL_MECHANISM, mechanisms)
            }
        }
    }

    /// One client message of the exchange SaslHandshake started (SaslAuthenticate's bytes,
    /// or a raw frame after SaslHandshake v0). `None` when no exchange runs (ILLEGAL_SASL_STATE).
    /// SCRAM looks the user up in `credentials`, the metadata image (none on the controller
    /// listener, which does not offer SCRAM: its credentials live in the log the controllers
    /// replicate).
    pub fn authenticate(
        &self,
        message: &[u8],
        credentials: Option<&MetadataImage>,
    ) -> Option<SaslOutcome> {
        let sasl = self.listener.sasl.as_ref()?;
        let mut state = self.state();
        let Stage::Exchanging {
            mechanism,
            exchange,
            raw: _,
        } = &mut state.stage
        else {
            state.closing = true;
            return None;
        };
        let mechanism = mechanism.clone();
        let result = match exchange {
            Exchange::Plain => match &sasl.plain {
                Some(users) => users.authenticate(message).map(|p| (p, Vec::new(), None)),
                None => Err(AuthError::Failed),
            },
            Exchange::OAuthBearer(server) => match server.step(message) {
                Ok(OAuthStep::Done {
                    principal,
                    lifetime_ms,
                    ..
                }) => Ok((principal, Vec::new(), lifetime_ms)),
                Ok(OAuthStep::Rejected { challenge, reason }) => {
                    tracing::info!(
                        "connection from {} on listener {}: OAUTHBEARER token refused: {reason}",
                        self.peer,
                        self.listener.name
                    );
                    return Some(SaslOutcome::Challenge(challenge));
                }
                Err(e) => Err(e),
            },
            Exchange::Scram(server) => {
                let lookup = |user: &str, m: ScramMechanism| {
                    credentials?
                        .scram_credential(user, m.type_number())
                        .map(|c| ScramCredential {
                            salt: c.salt.clone(),
                            stored_key: c.stored_key.clone(),
                            server_key: c.server_key.clone(),
                            iterations: c.iterations,
                        })
                };
                match server.step(message, &lookup) {
                    Ok(ScramStep::Challenge(challenge)) => {
                        return Some(SaslOutcome::Challenge(challenge));
                    }
                    Ok(ScramStep::Done {
                        server_final,
                        principal,
                    }) => Ok((principal, server_final, None)),
                    Err(e) => Err(e),
                }
            }
        };
        state.stage = Stage::Idle;
        match result {
            Ok((principal, message, credential_lifetime_ms)) => {
                if let Some(previous) = &state.principal {
                    if *previous != principal {
                        tracing::info!(
                            "connection from {} on listener {}: re-authentication as another principal refused",
                            self.peer,
                            self.listener.name
                        );
                        state.closing = true;
                        return Some(SaslOutcome::Failed {
                            message: "Cannot change principals during re-authentication".into(),
                            delay: sasl.failure_delay,
                        });
                    }
                }
                // KIP-368: with re-authentication on, the session ends when the credential
                // (an OAUTHBEARER token) expires, if that comes first.
                let lifetime_ms = match (sasl.max_reauth_ms.max(0), credential_lifetime_ms) {
                    (0, _) => 0,
                    (max, Some(credential)) => max.min(credential.max(1)),
                    (max, None) => max,
                };
                state.expires_at = (lifetime_ms > 0)
                    .then(|| Instant::now() + Duration::from_millis(lifetime_ms as u64));
                tracing::debug!(
                    "connection from {} on listener {}: authenticated as {principal} with {mechanism}",
                    self.peer,
                    self.listener.name
                );
                state.principal = Some(principal);
                state.mechanism = Some(mechanism);
                Some(SaslOutcome::Done {
                    message,
                    session_lifetime_ms: lifetime_ms,
                })
            }
            Err(e) => {
                tracing::info!(
                    "connection from {} on listener {}: {mechanism} authentication failed: {e}",
                    self.peer,
                    self.listener.name
                );
                state.closing = true;
                let message = match e {
                    AuthError::Malformed(_)
                    | AuthError::UnsupportedMechanism(_)
                    | AuthError::TokenRejected(_) => e.to_string(),
                    AuthError::Failed | AuthError::Config(_) => AuthError::Failed.to_string(),
                };
                Some(SaslOutcome::Failed {
                    message,
                    delay: sasl.failure_delay,
                })
            }
        }
    }
}

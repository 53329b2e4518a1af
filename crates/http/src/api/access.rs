//! How the JSON admin API reaches the cluster: as a Kafka client of the node's inter-broker
//! listener, with the caller's credentials, so that every read and change goes through the
//! same Kafka API handlers (and the same ACL checks, quotas and audit log) as any client's.
//!
//! - [`KafkaAccess`]: the listener's address, its TLS trust (the node's own, as for replication)
//!   and the SASL mechanisms it offers. Built by the binary once the node runs.
//! - [`Caller`]: the axum extractor every API handler takes. It reads the request's
//!   credentials (HTTP Basic, else the console's session cookie, see [`super::session`];
//!   required when the listener authenticates with SASL, refused with 401 and
//!   `WWW-Authenticate` otherwise) and lends a [`ClusterClient`] logged in as that
//!   user from a small pool, so connections (and their SASL logins) are reused across
//!   requests. The client goes back to the pool when the `Caller` is dropped.
//!
//! Passwords are held only in memory, only as [`Secret`]s (never logged or printed), and
//! compared in constant time when a pooled client is looked up.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use sluice_client::client_settings::ClientSettings;
use sluice_client::wire::ClusterClient;
use sluice_protocol::client::{ClientSecurity, SaslLogin, TlsClient};
use sluice_security::{ScramMechanism, Secret};

use super::ApiError;
use crate::AdminState;

/// Idle clients kept per user.
const IDLE_PER_USER: usize = 4;
/// Users whose idle clients are kept (the least recently used go first).
const POOLED_USERS: usize = 64;
/// The longest one Kafka request of the API may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The node's Kafka listener the API uses, and how to connect to it.
#[derive(Clone, Debug)]
pub struct KafkaAccess {
    /// `host:port` of the listener (its advertised address).
    pub bootstrap: String,
    /// The listener's TLS, trusting what the node trusts for replication; `None`: plaintext.
    pub tls: Option<TlsClient>,
    /// The SASL mechanism callers log in with (the strongest of the listener's enabled
    /// password mechanisms: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN); `None`: the listener does
    /// not use SASL and callers are anonymous to it (`User:ANONYMOUS`, or the node's
    /// certificate principal on an mTLS listener).
    pub sasl_mechanism: Option<String>,
    /// The listener authenticates with SASL (with or without a password mechanism).
    pub sasl_listener: bool,
}

impl KafkaAccess {
    /// The SASL mechanism to use among a listener's enabled ones (`None`: no password
    /// mechanism is enabled).
    pub fn password_mechanism(enabled: &[String]) -> Option<String> {
        ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
            .into_iter()
            .find(|m| enabled.iter().any(|e| e.eq_ignore_ascii_case(m)))
            .map(str::to_string)
    }
}

/// A caller's credentials, as given in the request.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials of an `Authorization: Basic ...` header value; `None` when it is not
    /// one (another scheme, bad base64, no colon, not UTF-8).
    pub fn from_basic(header: &str) -> Option<Credentials> {
        let (scheme, encoded) = header.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        if user.is_empty() {
            return None;
        }
        Some(Credentials {
            user: user.to_string(),
            password: Secret::new(password.as_bytes().to_vec()),
        })
    }

    fn same(&self, other: &Credentials) -> bool {
        // The user name is not secret; the password is compared in constant time.
        self.user == other.user && self.password == other.password
    }
}

/// Idle clients by user, most recently used last.
#[derive(Default)]
pub struct ClientPool {
    idle: Mutex<Vec<(Option<Credentials>, Vec<ClusterClient>)>>,
}

impl ClientPool {
    fn take(&self, credentials: &Option<Credentials>) -> Option<ClusterClient> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let at = idle.iter().position(|(c, _)| same(c, credentials))?;
        idle[at].1.pop()
    }

    pub(super) fn give_back(&self, credentials: Option<Credentials>, client: ClusterClient) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let mut entry = match idle.iter().position(|(c, _)| same(c, &credentials)) {
            Some(at) => idle.remove(at),
            None => (credentials, Vec::new()),
        };
        if entry.1.len() < IDLE_PER_USER {
            entry.1.push(client);
        }
        idle.push(entry);
        if idle.len() > POOLED_USERS {
            idle.remove(0);
        }
    }

    /// Drops every idle client of `credentials` (their login was refused).
    fn forget(&self, credentials: &Option<Credentials>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|(c, _)| !same(c, credentials));
    }
}

fn same(a: &Option<Credentials>, b: &Option<Credentials>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same(b),
        _ => false,
    }
}

/// The caller of an API request: a cluster client logged in as them, back to the pool on drop.
pub struct Caller {
    state: Arc<AdminState>,
    credentials: Option<Credentials>,
    client: Option<ClusterClient>,
    /// Set when the client's login was refused: it is not pooled again.
    refused: bool,
}

impl Caller {
    /// The user name the caller gave (`None`: anonymous, on a listener without SASL).
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.user.as_str())
    }

    /// The credentials the caller gave (`None`: anonymous).
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Marks the login refused, so that neither this client nor other idle ones with the same
    /// credentials are used again. [`ApiError`] conversions of an authentication failure do
    /// this through [`Caller::check`].
    pub fn refused(&mut self) {
        self.refused = true;
    }

    /// Passes `result` through, marking the login refused when it failed authentication.
    pub fn check<T>(&mut self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(e) = &result {
            if e.is_authentication() {
                self.refused();
            }
        }
        result
    }
}

impl Deref for Caller {
    type Target = ClusterClient;
    fn deref(&self) -> &ClusterClient {
        self.client
            .as_ref()
            .expect("a caller holds its client until dropped")
    }
}

impl DerefMut for Caller {
    fn deref_mut(&mut self) -> &mut ClusterClient {
        self.client
            .as_mut()
            .expect("a caller holds its client until dropped")
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let pool = &self.state.clients;
        if self.refused {
            pool.forget(&self.credentials);
        } else {
            pool.give_back(self.credentials.take(), client);
        }
    }
}

impl FromRequestParts<Arc<AdminState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Caller, ApiError> {
        let Some(access) = state.kafka() else {
            return Err(ApiError::unavailable(
                "the node is starting, or runs no broker (a controller-only node): the admin API needs a broker",
            ));
        };
        if access.sasl_listener && access.sasl_mechanism.is_none() {
            return Err(ApiError::unavailable(
                "the inter-broker listener offers no password SASL mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) the admin API could log in with",
            ));
        }
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| Credentials::from_basic(v).ok_or(()));
        // HTTP Basic wins over a session cookie: it is what the caller gave for this request.
        let session = match given {
            None => super::session::cookie_token(&parts.headers).map(|t| state.sessions.get(t)),
            Some(_) => None,
        };
        let given = match (given, session) {
            (Some(given), _) => Some(given),
            (None, Some(Some(session))) => session.credentials.map(Ok),
            (None, Some(None)) if access.sasl_mechanism.is_some() => {
                return Err(ApiError::unauthorized(
                    "the console session ended (logged out, idle too long, or the node restarted): log in again",
                ))
            }
            (None, _) => None,
        };
        let credentials = match (&access.sasl_mechanism, given) {
            (_, Some(Err(()))) => {
                return Err(ApiError::unauthorized(
                    "the Authorization header is not HTTP Basic user:password",
                ))
            }
            (Some(_), None) => {
                return Err(ApiError::unauthorized(
                    "this cluster authenticates its clients: give a user name and password (HTTP Basic, or log in to the console)",
                ))
            }
            (Some(_), Some(Ok(c))) => Some(c),
            // Without SASL there is nothing to log in with: the caller is anonymous.
            (None, _) => None,
        };
        let client = match state.clients.take(&credentials) {
            Some(client) => client,
            None => ClusterClient::new(&settings(access, credentials.as_ref())?),
        };
        Ok(Caller {
            state: state.clone(),
            credentials,
            client: Some(client),
            refused: false,
        })
    }
}

/// A new cluster client logged in as `credentials` (for work done on a caller's behalf
/// outside a request, such as sampling lag).
pub fn client_for(
    access: &KafkaAccess,
    credentials: Option<&Credentials>,
) -> Result<ClusterClient, ApiError> {
    Ok(ClusterClient::new(&settings(access, credentials)?))
}

/// The client settings of a caller: the listener, its TLS, a SASL login as the caller.
pub(super) fn settings(
    access: &KafkaAccess,
    credentials: Option<&Credentials>,
) -> Result<ClientSettings, ApiError> {
    let sasl = match (&access.sasl_mechanism, credentials) {
        (Some(mechanism), Some(c)) => Some(match ScramMechanism::from_name(mechanism) {
            Some(m) => SaslLogin::Scram {
                mechanism: m,
                user: c.user.clone(),
                password: c.password.clone(),
            },
            None => SaslLogin::Plain {
                user: c.user.clone(),
                password: c.password.clone(),
            },
        }),
        _ => None,
    };
    let mut settings = ClientSettings::admin(vec![access.bootstrap.clone()]);
    settings.client_id = "sluice-admin-api".to_string();
    settings.request_timeout = REQUEST_TIMEOUT;
    settings.security = ClientSecurity {
        tls: access.tls.clone(),
        sasl,
    };
    Ok(settings)
}

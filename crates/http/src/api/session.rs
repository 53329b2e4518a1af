//! The web console's login: `GET`, `POST` and `DELETE /api/v1/session` (docs/admin-api.md).
//!
//! A login is checked by making one Kafka request (Metadata, brokers only) as that user over
//! the node's inter-broker listener; when the cluster accepts it, the user's credentials are
//! kept in a server-side [`SessionStore`] under a random 256-bit token, which the browser
//! holds in the cookie `sluice_session` (HttpOnly: no script reads it; SameSite=Strict: no
//! other site's page sends it; Path=/; Secure when the page was served over https: by an
//! `https` admin listener, or by a TLS-terminating proxy that says so in `X-Forwarded-Proto`). Each session also has its own random CSRF
//! token, which the console reads from `GET /session` and sends as `X-CSRF-Token` on every
//! write ([`super::write_guard`] checks it).
//!
//! The store is bounded ([`MAX_SESSIONS`]; the least recently used session goes first) and a
//! session unused for [`IDLE_TIMEOUT`] ends. Sessions live in memory only: a restart logs
//! everyone out. The store is keyed by the SHA-256 of the token, so a lookup's timing says
//! nothing about the tokens it holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_client::wire::{ClusterClient, RequestError};
use sluice_security::Secret;

use super::access::{self, Credentials};
use super::ApiError;
use crate::AdminState;

/// The session cookie's name.
pub const COOKIE: &str = "sluice_session";
/// Sessions kept at most; a new login beyond it ends the least recently used one.
pub const MAX_SESSIONS: usize = 1000;
/// A session unused this long ends.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Longest user name and password a login may give (a SASL login carries them in one frame).
const MAX_CREDENTIAL_BYTES: usize = 4096;

/// One logged-in browser.
#[derive(Clone)]
pub struct Session {
    /// `None`: a session on a cluster that does not authenticate (not created today: the
    /// login is refused there, there being nothing to log in with).
    pub credentials: Option<Credentials>,
    /// The token the session's writes must carry in `X-CSRF-Token`.
    pub csrf_token: String,
    last_used: Instant,
}

/// The live sessions, by the SHA-256 of their cookie token.
pub struct SessionStore {
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    max_sessions: usize,
    idle_timeout: Duration,
}

impl Default for SessionStore {
    fn default() -> Self {
        SessionStore::new(MAX_SESSIONS, IDLE_TIMEOUT)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no random numbers from the operating system: {0}")]
pub struct RandomError(String);

/// 32 random bytes from the operating system, base64url without padding (43 characters).
fn random_token() -> Result<String, RandomError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl SessionStore {
    pub fn new(max_sessions: usize, idle_timeout: Duration) -> SessionStore {
        SessionStore {
            sessions: Mutex::new(HashMap::new()),
            max_sessions: max_sessions.max(1),
            idle_timeout,
        }
    }

    /// Starts a session; returns its cookie token and the session.
    pub fn create(
        &self,
        credentials: Option<Credentials>,
    ) -> Result<(String, Session), RandomError> {
        self.create_at(credentials, Instant::now())
    }

    fn create_at(
        &self,
        credentials: Option<Credentials>,
        now: Instant,
    ) -> Result<(String, Session), RandomError> {
        let token = random_token()?;
        let session = Session {
            credentials,
            csrf_token: random_token()?,
            last_used: now,
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= self.max_sessions {
            let idle = self.idle_timeout;
            sessions.retain(|_, s| now.saturating_duration_since(s.last_used) < idle);
        }
        while sessions.len() >= self.max_sessions {
            let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            sessions.remove(&oldest);
        }
        sessions.insert(key_of(&token), session.clone());
        Ok((token, session))
    }

    /// The live session of a cookie token, marked used now; an expired one ends here.
    pub fn get(&self, token: &str) -> Option<Session> {
        self.get_at(token, Instant::now())
    }

    fn get_at(&self, token: &str, now: Instant) -> Option<Session> {
        let key = key_of(token);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.get_mut(&key)?;
        if now.saturating_duration_since(session.last_used) >= self.idle_timeout {
            sessions.remove(&key);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends a session (a logout); nothing when there is none.
    pub fn remove(&self, token: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.remove(&key_of(token));
    }

    pub fn len(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The `sluice_session` token of a request's `Cookie` headers, if it carries one that looks
/// like a token (anything else is no session).
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| {
            value.len() == 43
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A request extension set by an `https` admin listener.
pub use crate::ServedOverHttps;

/// Whether the browser reached this node over https (an `https` admin listener, or a
/// TLS-terminating proxy in front of an `http` one): the cookie is then `Secure`.
fn over_https(headers: &HeaderMap, listener: Option<Extension<ServedOverHttps>>) -> bool {
    listener.is_some()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(secure: bool, token: Option<&str>) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = match token {
        Some(token) => format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}"),
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&value).expect("a cookie of a base64url token is a valid header value")
}

/// `GET /session`'s answer.
#[derive(Serialize)]
struct SessionBody {
    user: Option<String>,
    authentication_required: bool,
    read_only: bool,
    csrf_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    user: String,
    password: String,
}

/// The session routes (under `/api/v1`).
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new().route("/session", get(show).post(login).delete(logout))
}

/// Whether the node's cluster authenticates its clients (the API needs a login).
fn authentication_required(state: &AdminState) -> Result<bool, ApiError> {
    match state.kafka() {
        Some(access) => Ok(access.sasl_listener),
        None => Err(ApiError::unavailable(
            "the node is starting, or runs no broker (a controller-only node): the admin API needs a broker",
        )),
    }
}

fn body(state: &AdminState, session: Option<&Session>) -> Result<SessionBody, ApiError> {
    Ok(SessionBody {
        user: session
            .and_then(|s| s.credentials.as_ref())
            .map(|c| c.user.clone()),
        authentication_required: authentication_required(state)?,
        read_only: state.read_only(),
        csrf_token: session.map(|s| s.csrf_token.clone()),
    })
}

async fn show(
    State(state): State<Arc<AdminState>>,
    https: Option<Extension<ServedOverHttps>>,
    headers: HeaderMap,
) -> Response {
    let token = cookie_token(&headers);
    let session = token.and_then(|t| state.sessions.get(t));
    let answer = match body(&state, session.as_ref()) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let mut response = Json(answer).into_response();
    if token.is_some() && session.is_none() {
        // A cookie of an ended session: the browser may forget it.
        response.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(over_https(&headers, https), None),
        );
    }
    response
}

async fn login(
    State(state): State<Arc<AdminState>>,
    https: Option<Extension<ServedOverHttps>>,
    headers: HeaderMap,
    given: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    let expected = "the body must be JSON {\"user\": \"...\", \"password\": \"...\"}";
    let Json(given) =
        given.map_err(|e| ApiError::bad_request(format!("{expected}: {}", e.body_text())))?;
    // An object only: serde would also read a struct from an array of its fields.
    if !given.is_object() {
        return Err(ApiError::bad_request(expected));
    }
    let given: Login = serde_json::from_value(given)
        .map_err(|e| ApiError::bad_request(format!("{expected}: {e}")))?;
    let Some(access) = state.kafka() else {
        return Err(authentication_required(&state).expect_err("no access means unavailable"));
    };
    if !access.sasl_listener {
        return Err(ApiError::bad_request(
            "this cluster does not authenticate its clients: there is nothing to log in to",
        ));
    }
    if given.user.is_empty() {
        return Err(ApiError::bad_request("the user name is empty"));
    }
    if given.user.len() > MAX_CREDENTIAL_BYTES || given.password.len() > MAX_CREDENTIAL_BYTES {
        return Err(ApiError::bad_request(format!(
            "the user name and the password are at most {MAX_CREDENTIAL_BYTES} bytes each"
        )));
    }
    // Password guessing: a user name refused too often lately is not even tried.
    if let Some(wait) = state
        .login_throttle
        .blocked(&given.user, std::time::Instant::now())
    {
        return Err(too_many_logins(wait));
    }
    let credentials = Credentials {
        user: given.user,
        password: Secret::new(given.password.into_bytes()),
    };
    let mut client = ClusterClient::new(&access::settings(access, Some(&credentials))?);
    let deadline = Instant::now() + access::REQUEST_TIMEOUT;
    match client.metadata(Some(&[]), false, deadline).await {
        Ok(_) => state.login_throttle.succeeded(&credentials.user),
        // Whether the user exists is not said: one message for every refused login.
        Err(RequestError::Authentication(_)) => {
            state
                .login_throttle
                .failed(&credentials.user, std::time::Instant::now());
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some(58),
                "the user name or the password was refused",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    state.clients.give_back(Some(credentials.clone()), client);
    // A login always starts a new session (no session fixation): an old one ends.
    if let Some(old) = cookie_token(&headers) {
        state.sessions.remove(old);
    }
    let (token, session) = state
        .sessions
        .create(Some(credentials))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()))?;
    let mut response = Json(body(&state, Some(&session))?).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(over_https(&headers, https), Some(&token)),
    );
    Ok(response)
}

async fn logout(
    State(state): State<Arc<AdminState>>,
    https: Option<Extension<ServedOverHttps>>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = cookie_token(&headers) {
        state.sessions.remove(token);
    }
    let mut response = match body(&state, None) {
        Ok(b) => Json(b).into_response(),
        Err(e) => e.into_response(),
    };
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(over_https(&headers, https), None),
    );
    response
}

/// 429 with `Retry-After`: too many refused logins lately.
fn too_many_logins(wait: std::time::Duration) -> ApiError {
    let secs = wait.as_secs().max(1);
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        format!("too many refused logins: try again in {secs} s"),
    )
    .with_retry_after(secs)
}

/// Limits password guessing through the console's login: a user name refused
/// [`LoginThrottle::MAX_FAILURES`] times within [`LoginThrottle::WINDOW`] is refused without a
/// try (429) until the oldest of those failures leaves the window, and so is every login while
/// the node saw [`LoginThrottle::MAX_FAILURES_ALL`] refusals in the window (guessing across
/// many names). A successful login clears its name's failures. (The broker's own SASL
/// refusals are delayed too, on every listener.)
#[derive(Default)]
pub struct LoginThrottle {
    failures: std::sync::Mutex<LoginFailures>,
}

#[derive(Default)]
struct LoginFailures {
    by_user: std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>,
    all: std::collections::VecDeque<std::time::Instant>,
}

impl LoginThrottle {
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
    pub const MAX_FAILURES: usize = 5;
    pub const MAX_FAILURES_ALL: usize = 100;
    /// User names tracked at most (beyond, the oldest entries are forgotten).
    const MAX_USERS: usize = 10_000;

    /// How long `user` must wait before a login is tried again; `None`: it may try now.
    pub fn blocked(&self, user: &str, now: std::time::Instant) -> Option<std::time::Duration> {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let expired = |at: &std::time::Instant| now.saturating_duration_since(*at) >= Self::WINDOW;
        while f.all.front().is_some_and(expired) {
            f.all.pop_front();
        }
        let wait_for = |oldest: std::time::Instant| {
            Self::WINDOW.saturating_sub(now.saturating_duration_since(oldest))
        };
        if f.all.len() >= Self::MAX_FAILURES_ALL {
            return f.all.front().map(|o| wait_for(*o));
        }
        let recent = f.by_user.get_mut(user)?;
        while recent.front().is_some_and(expired) {
            recent.pop_front();
        }
        if recent.is_empty() {
            f.by_user.remove(user);
            return None;
        }
        (recent.len() >= Self::MAX_FAILURES).then(|| wait_for(recent[0]))
    }

    pub fn failed(&self, user: &str, now: std::time::Instant) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.by_user.len() >= Self::MAX_USERS && !f.by_user.contains_key(user) {
            let cutoff = now.checked_sub(Self::WINDOW);
            f.by_user
                .retain(|_, times| times.back().is_some_and(|t| cutoff.is_none_or(|c| *t > c)));
            if f.by_user.len() >= Self::MAX_USERS {
                f.by_user.clear();
            }
        }
        let times = f.by_user.entry(user.to_string()).or_default();
        times.push_back(now);
        while times.len() > Self::MAX_FAILURES {
            times.pop_front();
        }
        f.all.push_back(now);
        while f.all.len() > Self::MAX_FAILURES_ALL {
            f.all.pop_front();
        }
    }

    pub fn succeeded(&self, user: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.by_user.remove(user);
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::LoginThrottle;
    use std::time::{Duration, Instant};

    #[test]
    fn a_user_refused_too_often_waits_and_others_do_not() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..LoginThrottle::MAX_FAILURES {
            assert_eq!(t.blocked("alice", t0), None, "try {i}");
            t.failed("alice", t0 + Duration::from_secs(i as u64));
        }
        let later = t0 + Duration::from_secs(10);
        // The oldest failure leaves the window 50 s later.
        assert_eq!(t.blocked("alice", later), Some(Duration::from_secs(50)));
        assert_eq!(t.blocked("bob", later), None);
        assert_eq!(t.blocked("alice", t0 + Duration::from_secs(61)), None);
        // A success clears the name.
        t.failed("carol", t0);
        t.succeeded("carol");
        assert_eq!(t.blocked("carol", t0), None);
    }

    #[test]
    fn guessing_across_many_names_blocks_everyone_for_a_while() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..LoginThrottle::MAX_FAILURES_ALL {
            t.failed(&format!("user-{i}"), t0);
        }
        assert!(t.blocked("anyone", t0).is_some());
        assert_eq!(t.blocked("anyone", t0 + LoginThrottle::WINDOW), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Option<Credentials> {
        Some(Credentials {
            user: "alice".to_string(),
            password: Secret::new(b"alice-secret".to_vec()),
        })
    }

    #[test]
    fn tokens_are_random_256_bit_base64url() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&a)
            .unwrap();
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn a_session_is_found_by_its_token_only_and_ends_on_logout() {
        let store = SessionStore::default();
        let (token, session) = store.create(alice()).unwrap();
        assert_ne!(token, session.csrf_token);
        let found = store.get(&token).unwrap();
        assert_eq!(found.credentials.unwrap().user, "alice");
        assert_eq!(found.csrf_token, session.csrf_token);
        assert!(store.get(&session.csrf_token).is_none());
        store.remove(&token);
        assert!(store.get(&token).is_none());
        assert!(store.is_empty());
    }

    #[test]
    fn an_idle_session_expires_and_use_keeps_one_alive() {
        let store = SessionStore::new(10, Duration::from_secs(60));
        let start = Instant::now();
        let (kept, _) = store.create_at(alice(), start).unwrap();
        let (idle, _) = store.create_at(alice(), start).unwrap();
        let later = start + Duration::from_secs(45);
        assert!(store.get_at(&kept, later).is_some());
        let much_later = start + Duration::from_secs(90);
        assert!(store.get_at(&kept, much_later).is_some(), "used 45 s ago");
        assert!(store.get_at(&idle, much_later).is_none(), "unused for 90 s");
        assert_eq!(store.len(), 1, "the expired session is gone");
    }

    #[test]
    fn the_store_is_bounded_and_drops_expired_then_least_recently_used() {
        let store = SessionStore::new(3, Duration::from_secs(60));
        let start = Instant::now();
        let (a, _) = store.create_at(alice(), start).unwrap();
        let (b, _) = store
            .create_at(alice(), start + Duration::from_secs(1))
            .unwrap();
        let (c, _) = store
            .create_at(alice(), start + Duration::from_secs(2))
            .unwrap();
        // a is used again: b is now the least recently used.
        assert!(store.get_at(&a, start + Duration::from_secs(3)).is_some());
        let (d, _) = store
            .create_at(alice(), start + Duration::from_secs(4))
            .unwrap();
        assert_eq!(store.len(), 3);
        let now = start + Duration::from_secs(5);
        assert!(store.get_at(&b, now).is_none());
        for t in [&a, &c, &d] {
            assert!(store.get_at(t, now).is_some());
        }
        // Past the idle timeout every old session goes at once when a new one needs room.
        let (e, _) = store
            .create_at(alice(), now + Duration::from_secs(120))
            .unwrap();
        assert_eq!(store.len(), 1);
        assert!(store.get_at(&e, now + Duration::from_secs(121)).is_some());
    }

    #[test]
    fn the_cookie_is_read_among_others_and_a_malformed_one_is_no_session() {
        let token = random_token().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {COOKIE}={token}; x=1")).unwrap(),
        );
        assert_eq!(cookie_token(&headers), Some(token.as_str()));
        for bad in [
            format!("{COOKIE}="),
            format!("{COOKIE}=short"),
            format!("{COOKIE}={}", "!".repeat(43)),
            format!("other_{COOKIE}={token}"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(&bad).unwrap());
            assert_eq!(cookie_token(&headers), None, "{bad}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_same_site_strict_and_secure_behind_https() {
        let mut headers = HeaderMap::new();
        assert!(!over_https(&headers, None));
        assert!(over_https(&headers, Some(Extension(ServedOverHttps))));
        let plain = set_cookie(false, Some("t"));
        assert_eq!(
            plain.to_str().unwrap(),
            "sluice_session=t; HttpOnly; SameSite=Strict; Path=/"
        );
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_https(&headers, None));
        let secure = set_cookie(true, Some("t"));
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
        let cleared = set_cookie(true, None);
        assert!(cleared.to_str().unwrap().contains("Max-Age=0"));
    }
}

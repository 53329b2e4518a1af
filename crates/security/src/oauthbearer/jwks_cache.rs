//! The identity provider's keys, held for validation and refreshed from
//! `sasl.oauthbearer.jwks.endpoint.url`.
//!
//! Two halves, so that validating a token never waits on I/O:
//! - [`JwksCache::keys`], on the connection path: a read lock and an `Arc` clone. A token whose
//!   `kid` is not in the set marks the cache (an atomic flag) so that the next refresh check
//!   fetches the set early: the identity provider may have rotated its keys. That token is
//!   refused; its client's next attempt finds the new key (Kafka's resolver does the same).
//! - [`JwksCache::refresh_if_due`], blocking, run by the broker about once a second on a
//!   blocking pool or thread (like the TLS key store's `reload_if_changed`). It does nothing
//!   unless a refresh is due:
//!   - the set was never loaded, or the last attempt failed;
//!   - `sasl.oauthbearer.jwks.endpoint.refresh.ms` passed since the last load;
//!   - a token had an unknown `kid`;
//!   - for a `file:` endpoint, the file's modification time or size changed;
//!
//!   and the backoff since the last attempt (below) has passed.
//!
//! Backoff: a failed fetch, or an unknown-kid fetch that brought no new key, waits
//! `sasl.oauthbearer.jwks.endpoint.retry.backoff.ms` before the next unscheduled attempt, then
//! twice that, up to `...retry.backoff.max.ms`; a fetch that brings a changed key set resets it.
//! So clients sending made-up `kid`s cause at most one fetch per backoff-max interval. A failed
//! refresh keeps the keys already loaded.
//!
//! Endpoints: `file:` URLs (`file:/path` or `file:///path`, percent-escapes decoded) and `https:`
//! URLs, trusting the operating system's CAs (read at each fetch, so an updated system store is
//! used without a restart) or a root store given by the broker. `http:` is refused, as Kafka
//! refuses it: keys fetched in the clear could be replaced by anyone on the path.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::https_get::{https_get, HttpsUrl};
use super::jwks::JwkSet;
use super::settings::{OAuthBearerValidatorSettings, JWKS_ENDPOINT_URL};
use crate::error::AuthError;

/// How long one https fetch may take, connecting included.
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest JWKS file read.
const MAX_JWKS_FILE_BYTES: u64 = 1024 * 1024;

/// Which CAs an `https:` endpoint's certificate must chain to.
#[derive(Debug, Clone)]
pub enum JwksTrust {
    /// The operating system's trusted CAs (`rustls-native-certs`).
    System,
    /// These roots only (a private identity provider's CA; tests).
    Roots(Arc<rustls::RootCertStore>),
}

/// Where the key set comes from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    File(PathBuf),
    Https { url: String, trust: JwksTrust },
}

impl JwksSource {
    /// The source `url` (`file:` or `https:`) names.
    pub fn from_url(url: &str, trust: JwksTrust) -> Result<JwksSource, AuthError> {
        let bad = |why: String| AuthError::Config(format!("{JWKS_ENDPOINT_URL}={url}: {why}"));
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https:") {
            HttpsUrl::parse(url).map_err(bad)?;
            return Ok(JwksSource::Https {
                url: url.to_string(),
                trust,
            });
        }
        if lower.starts_with("http:") {
            return Err(bad("http: is not allowed, use https: or file:".into()));
        }
        let Some(rest) = lower.starts_with("file:").then(|| &url[5..]) else {
            return Err(bad("expected an https: or file: URL".into()));
        };
        // file:/path, file:///path, file://localhost/path.
        let path = match rest.strip_prefix("//") {
            Some(after) => {
                let slash = after.find('/').unwrap_or(after.len());
                let host = &after[..slash];
                if !host.is_empty() && !host.eq_ignore_ascii_case("localhost") {
                    return Err(bad("a file: URL must name a local file".into()));
                }
                &after[slash..]
            }
            None => rest,
        };
        if !path.starts_with('/') {
            return Err(bad("a file: URL needs an absolute path".into()));
        }
        Ok(JwksSource::File(PathBuf::from(
            percent_decode(path).ok_or_else(|| bad("bad percent-escape".into()))?,
        )))
    }

    /// The key set document, read or fetched (blocking).
    fn load(&self) -> Result<Vec<u8>, String> {
        match self {
            JwksSource::File(path) => {
                let file = std::fs::File::open(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?;
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(file, MAX_JWKS_FILE_BYTES + 1),
                    &mut bytes,
                )
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
                if bytes.len() as u64 > MAX_JWKS_FILE_BYTES {
                    return Err(format!("{} is larger than 1 MiB", path.display()));
                }
                Ok(bytes)
            }
            JwksSource::Https { url, trust } => {
                let roots = match trust {
                    JwksTrust::Roots(roots) => roots.clone(),
                    JwksTrust::System => Arc::new(system_roots()?),
                };
                let parsed = HttpsUrl::parse(url)?;
                https_get(&parsed, roots, JWKS_FETCH_TIMEOUT).map_err(|e| format!("GET {url}: {e}"))
            }
        }
    }

    /// The file's (modified time, length) now; None for https or an unreadable file.
    fn stamp(&self) -> Stamp {
        let JwksSource::File(path) = self else {
            return None;
        };
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
}

type Stamp = Option<(SystemTime, u64)>;

/// `%XX` escapes decoded; None for a bad escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// The operating system's trusted CAs; certificates it cannot parse are skipped.
fn system_roots() -> Result<rustls::RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(format!(
            "no trusted CA certificates found on this system ({} errors)",
            found.errors.len()
        ));
    }
    Ok(roots)
}

/// What [`JwksCache::refresh_if_due`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwksRefresh {
    /// Nothing was due.
    NotDue,
    /// The set was fetched and is the same as before.
    Unchanged,
    /// The set was fetched and differs (or was loaded the first time).
    Updated,
}

#[derive(Debug)]
struct RefreshState {
    /// When the set was last loaded successfully (ms since the epoch); None: never.
    loaded_at_ms: Option<i64>,
    /// The earliest time for an attempt that is not the periodic refresh.
    next_attempt_ms: i64,
    /// The wait after the next failed or fruitless attempt.
    /// Invariant: backoff_base_ms <= backoff_ms <= max(backoff_base_ms, backoff_max_ms).
    backoff_ms: i64,
    /// The last attempt failed: retry at `next_attempt_ms`.
    failing: bool,
    /// The file's stamp when it was last read.
    file_stamp: Stamp,
}

/// The key set of one JWKS endpoint (see the module doc).
#[derive(Debug)]
pub struct JwksCache {
    source: JwksSource,
    refresh_ms: i64,
    backoff_base_ms: i64,
    backoff_max_ms: i64,
    keys: RwLock<Arc<JwkSet>>,
    /// A token named a `kid` the set lacks; set on the connection path, so not in `state`.
    unknown_kid_seen: AtomicBool,
    /// Held for a whole refresh, so concurrent checks do not fetch twice; never taken by
    /// [`JwksCache::keys`].
    state: Mutex<RefreshState>,
}

impl JwksCache {
    /// An empty cache for `source`, with the refresh and backoff settings of `settings`. Loads
    /// nothing: call [`JwksCache::refresh_if_due`] (on a blocking thread) before serving.
    pub fn new(source: JwksSource, settings: &OAuthBearerValidatorSettings) -> JwksCache {
        let base = settings.jwks_endpoint_retry_backoff_ms.max(0);
        JwksCache {
            source,
            refresh_ms: settings.jwks_endpoint_refresh_ms.max(1),
            backoff_base_ms: base,
            backoff_max_ms: settings.jwks_endpoint_retry_backoff_max_ms.max(base),
            keys: RwLock::new(Arc::new(JwkSet::default())),
            unknown_kid_seen: AtomicBool::new(false),
            state: Mutex::new(RefreshState {
                loaded_at_ms: None,
                next_attempt_ms: i64::MIN,
                backoff_ms: base,
                failing: false,
                file_stamp: None,
            }),
        }
    }

    pub fn source(&self) -> &JwksSource {
        &self.source
    }

    /// The keys now held; cheap and never blocked by a refresh in progress.
    pub fn keys(&self) -> Arc<JwkSet> {
        // A poisoned lock still holds a whole Arc: the swap cannot be seen half done.
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Asks the next refresh check to fetch the set early (a token had an unknown `kid`).
    pub(crate) fn note_unknown_kid(&self) {
        self.unknown_kid_seen.store(true, Ordering::Relaxed);
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fetches the set if a refresh is due at `now_ms` (see the module doc). Blocking: run it
    /// off the async workers. An error leaves the keys already held in service.
    pub fn refresh_if_due(&self, now_ms: i64) -> Result<JwksRefresh, AuthError> {
        let mut state = self.lock_state();
        let unscheduled_ok = now_ms >= state.next_attempt_ms;
        let unknown_kid = self.unknown_kid_seen.load(Ordering::Relaxed);
        let periodic = state
            .loaded_at_ms
            .is_some_and(|at| now_ms.saturating_sub(at) >= self.refresh_ms);
        let file_changed = || {
            matches!(self.source, JwksSource::File(_)) && self.source.stamp() != state.file_stamp
        };
        // The backoff holds back every attempt, the periodic one too: a failing endpoint is
        // not asked again at every check.
        let due = unscheduled_ok
            && (state.loaded_at_ms.is_none()
                || state.failing
                || periodic
                || unknown_kid
                || file_changed());
        if !due {
            return Ok(JwksRefresh::NotDue);
        }
        self.refresh_locked(&mut state, now_ms, unknown_kid)
    }

    /// Fetches the set now, whatever is due (the broker's first load at startup).
    pub fn refresh_now(&self, now_ms: i64) -> Result<JwksRefresh, AuthError> {
        let mut state = self.lock_state();
        self.refresh_locked(&mut state, now_ms, false)
    }

    fn refresh_locked(
        &self,
        state: &mut RefreshState,
        now_ms: i64,
        for_unknown_kid: bool,
    ) -> Result<JwksRefresh, AuthError> {
        self.unknown_kid_seen.store(false, Ordering::Relaxed);
        // Stamp before reading: a change during the read shows at the next check.
        let stamp = self.source.stamp();
        let loaded = self
            .source
            .load()
            .and_then(|document| JwkSet::parse(&document));
        let set = match loaded {
            Ok(set) => set,
            Err(why) => {
                state.failing = true;
                self.back_off(state, now_ms);
                return Err(AuthError::Config(format!(
                    "{JWKS_ENDPOINT_URL}: the JWK set did not load: {why}"
                )));
            }
        };
        state.failing = false;
        state.loaded_at_ms = Some(now_ms);
        state.file_stamp = stamp;
        let changed = *self.keys() != set;
        if changed {
            *self
                .keys
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
            state.backoff_ms = self.backoff_base_ms;
            state.next_attempt_ms = now_ms.saturating_add(self.backoff_base_ms);
            return Ok(JwksRefresh::Updated);
        }
        if for_unknown_kid {
            self.back_off(state, now_ms);
        }
        Ok(JwksRefresh::Unchanged)
    }

    fn back_off(&self, state: &mut RefreshState, now_ms: i64) {
        state.next_attempt_ms = now_ms.saturating_add(state.backoff_ms);
        state.backoff_ms = state
            .backoff_ms
            .saturating_mul(2)
            .clamp(self.backoff_base_ms, self.backoff_max_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> JwksTrust {
        JwksTrust::System
    }

    #[test]
    fn endpoint_urls_are_file_or_https() {
        for (url, path) in [
            ("file:/etc/jwks.json", "/etc/jwks.json"),
            ("file:///etc/jwks.json", "/etc/jwks.json"),
            ("FILE://localhost/etc/a%20b.json", "/etc/a b.json"),
        ] {
            match JwksSource::from_url(url, trust()) {
                Ok(JwksSource::File(p)) => assert_eq!(p, PathBuf::from(path)),
                other => panic!("{url}: {other:?}"),
            }
        }
        assert!(matches!(
            JwksSource::from_url("https://idp/keys", trust()),
            Ok(JwksSource::Https { .. })
        ));
        for url in [
            "http://idp/keys",
            "HTTP://idp/keys",
            "file:relative.json",
            "file://otherhost/etc/jwks.json",
            "file:/bad%zz",
            "/etc/jwks.json",
            "ldap://idp",
            "https://",
        ] {
            let e = JwksSource::from_url(url, trust())
                .expect_err(url)
                .to_string();
            assert!(e.starts_with(JWKS_ENDPOINT_URL), "{e}");
        }
    }
}

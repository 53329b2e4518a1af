//! SASL/OAUTHBEARER (RFC 7628) on the broker, as Kafka serves it (KIP-255, KIP-768): a client
//! sends a bearer token, a JWT; the broker checks it and takes the principal from one of its
//! claims.
//!
//! How the broker uses it: build one [`OAuthBearerValidator`] per listener, either
//! [`OAuthBearerValidator::secured`] (a `sasl.server.callback.handler.class` of Kafka's
//! `OAuthBearerValidatorCallbackHandler`: signed JWTs, keys from
//! `sasl.oauthbearer.jwks.endpoint.url` in a [`JwksCache`] that the broker refreshes off the
//! async workers) or [`OAuthBearerValidator::unsecured`] (no handler class: Kafka's
//! development default, unsigned JWTs). Each connection runs an [`OAuthBearerServer`].
//!
//! # Layout
//! - `client_response.rs`: the client's message, GS2 header and key/value pairs.
//! - `server.rs`: [`OAuthBearerServer`], the exchange, with RFC 7628's error challenge.
//! - `validator.rs`: [`OAuthBearerValidator`], the secured and unsecured checks.
//! - `token.rs`: [`ValidatedToken`] and [`TokenError`] (the log's reason and the client's
//!   status).
//! - `settings.rs`: [`OAuthBearerValidatorSettings`] (`sasl.oauthbearer.*`) and
//!   [`UnsecuredValidatorOptions`] (JAAS options), with Kafka's defaults.
//! - `jws.rs`: compact JWS and the signature algorithms (ring).
//! - `claims.rs`: `exp`/`nbf`/`iat`, `iss`, `aud`, principal and scope claims.
//! - `jwks.rs`: [`JwkSet`], the provider's public keys (RFC 7517).
//! - `jwks_cache.rs`: [`JwksCache`], the keys of a `file:` or `https:` endpoint and when to
//!   refresh them.
//! - `https_get.rs`: the one blocking HTTPS GET the cache needs, over rustls.

mod claims;
mod client_response;
mod https_get;
mod jwks;
mod jwks_cache;
mod jws;
mod server;
mod settings;
mod token;
mod validator;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_jwks;

pub use client_response::{
    parse_client_initial_response, ClientInitialResponse, MAX_CLIENT_RESPONSE_BYTES, MAX_EXTENSIONS,
};
pub use https_get::MAX_RESPONSE_BYTES as MAX_JWKS_RESPONSE_BYTES;
pub use jwks::{JwkSet, MAX_JWKS_KEYS};
pub use jwks_cache::{JwksCache, JwksRefresh, JwksSource, JwksTrust, JWKS_FETCH_TIMEOUT};
pub use jws::JwsAlgorithm;
pub use server::{OAuthBearerServer, OAuthStep};
pub use settings::{OAuthBearerValidatorSettings, UnsecuredValidatorOptions};
pub use token::{TokenError, ValidatedToken};
pub use validator::OAuthBearerValidator;

/// The OAUTHBEARER mechanism name, as clients send it in SaslHandshake.
pub const MECHANISM: &str = "OAUTHBEARER";

/// Now, in ms since the Unix epoch (0 for a clock set before 1970): the time tokens and
/// [`JwksCache::refresh_if_due`] are checked against.
pub fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

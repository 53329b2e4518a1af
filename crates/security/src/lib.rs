//! sluice-security: who a client is. The SASL mechanisms' server side as I/O-free state
//! machines (a message in, a message or a principal out), the credentials they check, and the
//! principals the rest of the broker sees. And what a client may do: Kafka's ACLs and the
//! authorizer that applies them, also free of I/O.
//!
//! # Layout
//! - `principal`: [`KafkaPrincipal`] (`User:alice`).
//! - `secret`: [`Secret`], bytes that never reach a log, compared in constant time.
//! - `jaas`: Kafka's `sasl.jaas.config` values ([`JaasConfig`]).
//! - `plain`: SASL/PLAIN against the users of a JAAS config ([`PlainUsers`]).
//! - `scram/`: SCRAM-SHA-256/512: credentials ([`ScramCredential`]), message syntax, and the
//!   server's exchange ([`ScramServer`]), and the client's ([`ScramClient`]).
//! - `oauthbearer/`: SASL/OAUTHBEARER (KIP-255, KIP-768): the client's message, the server's
//!   exchange ([`OAuthBearerServer`]), JWT validation against a JWK set fetched from a `file:` or
//!   `https:` endpoint ([`OAuthBearerValidator`], [`JwksCache`]), and Kafka's unsecured
//!   development tokens.
//! - `tls/`: TLS for listeners: PEM key and trust stores, the rustls server configuration from
//!   Kafka's `ssl.*` settings, certificates reloaded when their files change, and
//!   `ssl.principal.mapping.rules`.
//! - `acl/`: what a principal may do: ACL bindings with Kafka's codes and validation, the
//!   filters of DescribeAcls/DeleteAcls, and the [`acl::Authorizer`] that applies Kafka's rules
//!   (super users, DENY wins, implied operations, prefixed patterns) from an indexed snapshot.
//! - `quota/`: client quotas: entities and configs ([`quota::QuotaStore`]), which quota applies
//!   to a connection, sampled rates and throttle times ([`quota::QuotaManager`]), and the
//!   controller mutation token bucket (KIP-599).
//! - `audit/`: the audit log: authentications and authorization decisions as JSON lines
//!   ([`audit::AuditEvent`]), written by a thread of their own ([`audit::AuditLog`]).
//! - `error`: [`AuthError`]; a refusal never tells an unknown user from a wrong password, nor
//!   which check refused a token.
#![forbid(unsafe_code)]

pub mod acl;
pub mod audit;
mod error;
mod jaas;
pub mod oauthbearer;
mod plain;
mod principal;
pub mod quota;
pub mod scram;
mod secret;
pub mod tls;

pub use error::{AuthError, AUTHENTICATION_FAILED};
pub use jaas::JaasConfig;
pub use oauthbearer::{
    JwksCache, OAuthBearerServer, OAuthBearerValidator, OAuthBearerValidatorSettings, OAuthStep,
};
pub use plain::PlainUsers;
pub use principal::KafkaPrincipal;
pub use scram::{ScramClient, ScramCredential, ScramMechanism, ScramServer, ScramStep};
pub use secret::{constant_time_eq, Secret};

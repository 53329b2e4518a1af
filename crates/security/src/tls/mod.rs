//! TLS for Sluice's listeners (SSL and SASL_SSL), with Kafka's `ssl.*` settings:
//!
//! - `keystore.rs`: the server's certificate chain and private key from PEM
//!   (`ssl.keystore.type=PEM`: `ssl.keystore.location` holding key, certificate and
//!   intermediates, or inline `ssl.keystore.key` / `ssl.keystore.certificate.chain`; a key
//!   encrypted with `ssl.key.password`), and the trusted CAs (`ssl.truststore.*`).
//! - `server_config.rs`: the rustls server configuration: `ssl.client.auth`
//!   (none/requested/required), `ssl.enabled.protocols`, `ssl.cipher.suites`.
//! - `reloading.rs`: a certificate resolver that serves a keystore replaced on disk to new
//!   connections, without a restart and without touching open ones.
//! - `identity.rs`: whether a new key store names the same subject and alternative names as
//!   the served one (`ssl.allow.dn.changes`, `ssl.allow.san.changes`).
//! - `principal_mapping.rs`: `ssl.principal.mapping.rules`, from a client certificate's subject
//!   to a principal name.
//!
//! The cryptography is rustls's *ring* provider (see [`crypto_provider`]).

mod identity;
mod keystore;
mod principal_mapping;
mod reloading;
mod server_config;

#[cfg(test)]
mod tests;

pub use identity::{check_same_identity, subject_alt_names};
pub use keystore::{KeyStore, KeyStoreSource, TrustStore};
pub use principal_mapping::{subject_dn, PrincipalMapper};
pub use reloading::ReloadingCertResolver;
pub use server_config::{server_config, ClientAuth, TlsServerSettings};

use std::sync::Arc;

/// Why TLS material or settings cannot be used; the text names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// The TLS cryptography of every Sluice connection, listeners and clients: rustls's *ring*
/// provider. rustls 0.23.48 deprecates it for lacking post-quantum key exchange; its
/// alternative, aws-lc-rs, needs cmake to build, which the `sluice` binary must not (it builds
/// with the Rust toolchain alone). TLS 1.3 and 1.2 with rustls's default cipher suites.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

//! The rustls server configuration of a TLS listener, from Kafka's settings:
//! `ssl.client.auth` (`none`, `requested`: a client certificate is asked for and checked if
//! sent, `required`: no certificate, no connection), `ssl.enabled.protocols` (`TLSv1.2`,
//! `TLSv1.3`; rustls has no older ones), `ssl.cipher.suites` (IANA names, as Kafka takes them;
//! empty: rustls's defaults).

use std::sync::Arc;

use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};

use super::{crypto_provider, TlsError, TrustStore};

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    None,
    Requested,
    Required,
}

impl ClientAuth {
    pub fn parse(value: &str) -> Result<ClientAuth, TlsError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(ClientAuth::None),
            "requested" => Ok(ClientAuth::Requested),
            "required" => Ok(ClientAuth::Required),
            other => Err(TlsError(format!(
                "ssl.client.auth={other}: expected none, requested or required"
            ))),
        }
    }
}

/// The settings of one TLS listener besides its key store.
#[derive(Debug, Clone)]
pub struct TlsServerSettings {
    pub client_auth: ClientAuth,
    /// `ssl.enabled.protocols`.
    pub enabled_protocols: Vec<String>,
    /// `ssl.cipher.suites`; empty for the defaults.
    pub cipher_suites: Vec<String>,
}

impl Default for TlsServerSettings {
    fn default() -> Self {
        TlsServerSettings {
            client_auth: ClientAuth::None,
            enabled_protocols: vec!["TLSv1.2".into(), "TLSv1.3".into()],
            cipher_suites: Vec::new(),
        }
    }
}

/// The IANA name of a rustls suite (rustls writes TLS 1.3 suites `TLS13_...`).
fn iana_name(suite: &rustls::SupportedCipherSuite) -> String {
    format!("{:?}", suite.suite()).replacen("TLS13_", "TLS_", 1)
}

/// A server configuration serving the certificates `certificates` resolves (a
/// [`super::ReloadingCertResolver`] on a listener), checking client certificates against
/// `trust` as `settings.client_auth` asks.
pub fn server_config(
    certificates: Arc<dyn ResolvesServerCert>,
    trust: Option<&TrustStore>,
    settings: &TlsServerSettings,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut provider = (*crypto_provider()).clone();
    if !settings.cipher_suites.is_empty() {
        let mut chosen = Vec::new();
        for name in &settings.cipher_suites {
            let name = name.trim();
            match provider.cipher_suites.iter().find(|s| iana_name(s) == name) {
                Some(s) => chosen.push(*s),
                None => {
                    let known: Vec<String> = provider.cipher_suites.iter().map(iana_name).collect();
                    return Err(TlsError(format!(
                        "ssl.cipher.suites: {name} is not supported (supported: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        provider.cipher_suites = chosen;
    }
    let mut versions = Vec::new();
    for p in &settings.enabled_protocols {
        match p.trim() {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            other => {
                return Err(TlsError(format!(
                    "ssl.enabled.protocols: {other} is not supported (TLSv1.2 and TLSv1.3 are)"
                )))
            }
        }
    }
    if versions.is_empty() {
        return Err(TlsError("ssl.enabled.protocols is empty".into()));
    }
    let provider = Arc::new(provider);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| TlsError(format!("ssl.enabled.protocols / ssl.cipher.suites: {e}")))?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        auth => {
            let trust = trust.ok_or_else(|| {
                TlsError("ssl.client.auth=requested/required needs ssl.truststore.*".into())
            })?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(trust.roots()?), provider);
            let verifier = if auth == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier
                .build()
                .map_err(|e| TlsError(format!("ssl.truststore: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_cert_resolver(certificates)))
}

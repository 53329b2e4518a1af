//! How a client connection is secured, by Kafka's `security.protocol`: TLS for SSL and
//! SASL_SSL, a SASL login for SASL_PLAINTEXT and SASL_SSL.
//!
//! TLS is rustls with the ring provider (no C toolchain beyond what `cc` needs, no cmake). The
//! broker's certificate is checked against the CA certificates given (PEM), and its name
//! against the host the client connects to; a client certificate and key (PEM) make it mTLS.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sluice_security::tls::crypto_provider;
use sluice_security::{ScramMechanism, Secret};

/// TLS settings of a client connection.
#[derive(Clone)]
pub struct TlsClient {
    pub(super) config: Arc<rustls::ClientConfig>,
    /// The name the broker's certificate must hold; `None`: the host part of the address.
    pub(super) server_name: Option<String>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Why TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsSettingsError(pub String);

impl TlsClient {
    /// Trusts the CA certificates in `ca_pem` (one or more PEM certificates); with
    /// `client_identity` (certificate chain PEM, private key PEM) the client presents a
    /// certificate (mTLS).
    pub fn from_pem(
        ca_pem: &[u8],
        client_identity: Option<(&[u8], &[u8])>,
    ) -> Result<TlsClient, TlsSettingsError> {
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_slice_iter(ca_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                TlsSettingsError(format!("the CA certificates do not read as PEM: {e}"))
            })?;
        if cas.is_empty() {
            return Err(TlsSettingsError(
                "no CA certificate found in the trust store".into(),
            ));
        }
        for ca in cas {
            roots
                .add(ca)
                .map_err(|e| TlsSettingsError(format!("a CA certificate is not usable: {e}")))?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSettingsError(e.to_string()))?
            .with_root_certificates(roots);
        let config = match client_identity {
            None => builder.with_no_client_auth(),
            Some((chain_pem, key_pem)) => {
                let chain = CertificateDer::pem_slice_iter(chain_pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        TlsSettingsError(format!(
                            "the client certificate does not read as PEM: {e}"
                        ))
                    })?;
                if chain.is_empty() {
                    return Err(TlsSettingsError("no client certificate found".into()));
                }
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                    TlsSettingsError(format!("the client key does not read as PEM: {e}"))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsSettingsError(format!("the client certificate: {e}")))?
            }
        };
        Ok(TlsClient {
            config: Arc::new(config),
            server_name: None,
        })
    }

    /// Checks the broker's certificate against `name` instead of the host connected to.
    pub fn with_server_name(mut self, name: impl Into<String>) -> TlsClient {
        self.server_name = Some(name.into());
        self
    }
}

/// A SASL login (`sasl.mechanism` and its credentials).
#[derive(Clone, Debug)]
pub enum SaslLogin {
    Plain {
        user: String,
        password: Secret,
    },
    Scram {
        mechanism: ScramMechanism,
        user: String,
        password: Secret,
    },
    /// OAUTHBEARER with a token the caller obtained (RFC 7628's client response).
    OAuthBearer {
        token: Secret,
    },
}

impl SaslLogin {
    /// The SASL mechanism name sent in SaslHandshake.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SaslLogin::Plain { .. } => "PLAIN",
            SaslLogin::Scram { mechanism, .. } => mechanism.name(),
            SaslLogin::OAuthBearer { .. } => "OAUTHBEARER",
        }
    }
}

/// The security of one connection; the default is PLAINTEXT.
#[derive(Clone, Debug, Default)]
pub struct ClientSecurity {
    pub tls: Option<TlsClient>,
    pub sasl: Option<SaslLogin>,
}

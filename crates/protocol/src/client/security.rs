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
    /// A TLS session over `tcp` with the server `host` (or the server name this client was
    /// given), checked against this client's trusted CAs: for the node's HTTP services
    /// reaching each other over https.
    pub async fn connect(
        &self,
        host: &str,
        tcp: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let host = self.server_name.clone().unwrap_or_else(|| host.to_string());
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    }

    /// Trusts the CA certificates in `ca_pem` (one or more PEM certificates); with
    /// `client_identity` (certificate chain PEM, private key PEM) the client presents a
    /// certificate (mTLS).
    pub fn from_pem(
        ca_pem: &[u8],
        client_identity: Option<(&[u8], &[u8])>,
    ) -> Result<TlsClient, TlsSettingsError> {
        TlsClient::from_pem_checking(ca_pem, client_identity, true)
    }

    /// Like [`TlsClient::from_pem`]; with `verify_hostname` false the broker's certificate
    /// chain is still checked against the CA certificates, but not its name (Kafka's
    /// `ssl.endpoint.identification.algorithm=` empty).
    pub fn from_pem_checking(
        ca_pem: &[u8],
        client_identity: Option<(&[u8], &[u8])>,
        verify_hostname: bool,
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
            .map_err(|e| TlsSettingsError(e.to_string()))?;
        let builder = if verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            let chain = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                crypto_provider(),
            )
            .build()
            .map_err(|e| TlsSettingsError(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier(chain)))
        };
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

/// Checks a broker's certificate chain against the trusted CAs and ignores whether it names
/// the host: rustls's WebPKI verifier checks the chain (signatures, validity, usage) before the
/// name, so a name mismatch is the only error let through.
#[derive(Debug)]
struct ChainOnlyVerifier(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(NotValidForName))
            | Err(rustls::Error::InvalidCertificate(NotValidForNameContext { .. })) => {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
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

//! PEM key stores and trust stores, as Kafka reads them with `ssl.keystore.type=PEM` and
//! `ssl.truststore.type=PEM`.
//!
//! A key store is one private key and its certificate chain (the server's certificate first,
//! then intermediates), either in one file (`ssl.keystore.location`, the blocks in any order)
//! or inline (`ssl.keystore.key` and `ssl.keystore.certificate.chain`). The key is PKCS#8
//! (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), or PKCS#8 encrypted
//! with `ssl.key.password` (`ENCRYPTED PRIVATE KEY`, PBES2 as OpenSSL and Kafka write it).
//! A trust store is one or more `CERTIFICATE` blocks.

use std::path::PathBuf;

use rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use super::TlsError;
use crate::secret::Secret;

/// Where a key store comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStoreSource {
    /// `ssl.keystore.location`: key and chain in one PEM file.
    File(PathBuf),
    /// `ssl.keystore.key` and `ssl.keystore.certificate.chain`.
    Inline { key_pem: Secret, chain_pem: String },
}

/// A private key and its certificate chain.
pub struct KeyStore {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// One `-----BEGIN <label>-----` block, decoded.
struct Block {
    label: String,
    der: Vec<u8>,
}

/// Every PEM block in `text`, in order; text outside blocks is ignored (as OpenSSL does).
fn blocks(text: &[u8], what: &str) -> Result<Vec<Block>, TlsError> {
    let text = std::str::from_utf8(text).map_err(|_| TlsError(format!("{what} is not text")))?;
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let label_end = after[11..]
            .find("-----")
            .ok_or_else(|| TlsError(format!("{what}: a PEM block has no label end")))?;
        let label = &after[11..11 + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = after
            .find(&end_marker)
            .ok_or_else(|| TlsError(format!("{what}: the {label} block is not closed")))?;
        let block = &after[..end + end_marker.len()];
        let (decoded_label, der) = pem_rfc7468::decode_vec(block.as_bytes())
            .map_err(|e| TlsError(format!("{what}: the {label} block does not decode: {e}")))?;
        found.push(Block {
            label: decoded_label.to_string(),
            der,
        });
        rest = &after[end + end_marker.len()..];
    }
    Ok(found)
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = blocks(pem, what)?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| CertificateDer::from(b.der))
        .collect();
    if certs.is_empty() {
        return Err(TlsError(format!("{what} holds no certificate")));
    }
    Ok(certs)
}

fn private_key(
    pem: &[u8],
    password: Option<&Secret>,
    what: &str,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let mut keys = blocks(pem, what)?.into_iter().filter(|b| {
        matches!(
            b.label.as_str(),
            "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY"
        )
    });
    let Some(block) = keys.next() else {
        return Err(TlsError(format!("{what} holds no private key")));
    };
    if keys.next().is_some() {
        return Err(TlsError(format!("{what} holds more than one private key")));
    }
    Ok(match block.label.as_str() {
        "PRIVATE KEY" => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(block.der)),
        "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(block.der)),
        "EC PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(block.der)),
        _ => {
            let Some(password) = password else {
                return Err(TlsError(format!(
                    "{what} holds an encrypted private key: set ssl.key.password"
                )));
            };
            let encrypted = pkcs8::EncryptedPrivateKeyInfo::try_from(block.der.as_slice())
                .map_err(|e| TlsError(format!("{what}: the encrypted key does not read: {e}")))?;
            let decrypted = encrypted.decrypt(password.expose()).map_err(|_| {
                TlsError(format!(
                    "{what}: the private key does not decrypt with ssl.key.password"
                ))
            })?;
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(decrypted.as_bytes().to_vec()))
        }
    })
}

impl KeyStore {
    /// Reads a key store; `key_password` decrypts an encrypted key (`ssl.key.password`).
    pub fn load(
        source: &KeyStoreSource,
        key_password: Option<&Secret>,
    ) -> Result<KeyStore, TlsError> {
        match source {
            KeyStoreSource::File(path) => {
                let what = format!("ssl.keystore.location {}", path.display());
                let pem = std::fs::read(path).map_err(|e| TlsError(format!("{what}: {e}")))?;
                Ok(KeyStore {
                    chain: certificates(&pem, &what)?,
                    key: private_key(&pem, key_password, &what)?,
                })
            }
            KeyStoreSource::Inline { key_pem, chain_pem } => Ok(KeyStore {
                chain: certificates(chain_pem.as_bytes(), "ssl.keystore.certificate.chain")?,
                key: private_key(key_pem.expose(), key_password, "ssl.keystore.key")?,
            }),
        }
    }
}

/// Trusted CA certificates (`ssl.truststore.location` or inline
/// `ssl.truststore.certificates`).
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub certificates: Vec<CertificateDer<'static>>,
}

impl TrustStore {
    pub fn from_file(path: &std::path::Path) -> Result<TrustStore, TlsError> {
        let what = format!("ssl.truststore.location {}", path.display());
        let pem = std::fs::read(path).map_err(|e| TlsError(format!("{what}: {e}")))?;
        Ok(TrustStore {
            certificates: certificates(&pem, &what)?,
        })
    }

    pub fn from_pem(pem: &str) -> Result<TrustStore, TlsError> {
        Ok(TrustStore {
            certificates: certificates(pem.as_bytes(), "ssl.truststore.certificates")?,
        })
    }

    /// The certificates as rustls roots.
    pub fn roots(&self) -> Result<rustls::RootCertStore, TlsError> {
        let mut roots = rustls::RootCertStore::empty();
        for c in &self.certificates {
            roots
                .add(c.clone())
                .map_err(|e| TlsError(format!("a trusted certificate is not usable: {e}")))?;
        }
        Ok(roots)
    }
}

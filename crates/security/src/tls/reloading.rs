//! A listener's certificate, reloaded when its files change.
//!
//! The resolver hands every new TLS connection the key store it holds; a periodic check
//! ([`ReloadingCertResolver::reload_if_changed`], run by the broker) compares the files'
//! modification times and sizes with those last read and, when they moved, reads the key store
//! again. Open connections keep the certificate they started with. A key store that does not
//! read (half-written, wrong password) keeps the old one in service and reports the error.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::keystore::{KeyStore, KeyStoreSource};
use super::{crypto_provider, TlsError};
use crate::secret::Secret;

/// What a file looked like when it was read: (modified time, length).
type Stamp = Option<(SystemTime, u64)>;

pub struct ReloadingCertResolver {
    source: KeyStoreSource,
    key_password: Option<Secret>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The key store file's stamp when `current` was read (inline stores never change).
    read_at: Mutex<Stamp>,
}

impl std::fmt::Debug for ReloadingCertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCertResolver")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

fn stamp(source: &KeyStoreSource) -> Stamp {
    let KeyStoreSource::File(path) = source else {
        return None;
    };
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn certified(
    source: &KeyStoreSource,
    key_password: Option<&Secret>,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let store = KeyStore::load(source, key_password)?;
    CertifiedKey::from_der(store.chain, store.key, &crypto_provider())
        .map(Arc::new)
        .map_err(|e| TlsError(format!("the key store's key and certificate: {e}")))
}

impl ReloadingCertResolver {
    /// Reads the key store once; fails if it does not read.
    pub fn new(
        source: KeyStoreSource,
        key_password: Option<Secret>,
    ) -> Result<Arc<ReloadingCertResolver>, TlsError> {
        let read_at = stamp(&source);
        let current = certified(&source, key_password.as_ref())?;
        Ok(Arc::new(ReloadingCertResolver {
            source,
            key_password,
            current: RwLock::new(current),
            read_at: Mutex::new(read_at),
        }))
    }

    /// The key store file, if the store is one.
    pub fn path(&self) -> Option<&PathBuf> {
        match &self.source {
            KeyStoreSource::File(p) => Some(p),
            KeyStoreSource::Inline { .. } => None,
        }
    }

    /// Reads the key store again if its file changed since the last read; `Ok(true)` when a
    /// new certificate is now served. On an error the old one stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.source);
        {
            let read_at = self.read_at.lock().unwrap_or_else(|p| p.into_inner());
            if now.is_none() || *read_at == now {
                return Ok(false);
            }
        }
        let fresh = certified(&self.source, self.key_password.as_ref())?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        *self.read_at.lock().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(true)
    }

    /// The certificate chain served now (end-entity first).
    pub fn served_chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .cert
            .clone()
    }
}

impl ResolvesServerCert for ReloadingCertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

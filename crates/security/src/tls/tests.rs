//! Key stores, server configurations and certificate reloads, with certificates made here and
//! real TLS handshakes between rustls connections in memory.

use std::io::Write;
use std::sync::Arc;

use pkcs8::der::pem::LineEnding;
use pkcs8::DecodePrivateKey;
use rustls::pki_types::{CertificateDer, ServerName};

use super::*;
use crate::secret::Secret;

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn ca() -> Ca {
    let key = rcgen::KeyPair::generate().expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA");
    Ca { cert, key }
}

/// A leaf for `name` signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &Ca, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .signed_by(&key, &ca.cert, &ca.key)
        .expect("leaf");
    (cert.pem(), key.serialize_pem())
}

fn trust(ca: &Ca) -> TrustStore {
    TrustStore::from_pem(&ca.cert.pem()).expect("trust store")
}

/// Handshakes a client (trusting `ca`, with an optional identity) with `server`; the
/// certificate the server presented, or the error.
fn handshake(
    server: Arc<rustls::ServerConfig>,
    ca: &Ca,
    identity: Option<(String, String)>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let roots = trust(ca).roots().expect("roots");
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let client_config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let store = KeyStore::load(
                &KeyStoreSource::Inline {
                    key_pem: Secret::new(key),
                    chain_pem: cert,
                },
                None,
            )
            .expect("identity");
            builder
                .with_client_auth_cert(store.chain, store.key)
                .expect("client cert")
        }
    };
    let mut client = rustls::ClientConnection::new(
        Arc::new(client_config),
        ServerName::try_from("localhost").expect("name"),
    )
    .map_err(|e| e.to_string())?;
    let mut server = rustls::ServerConnection::new(server).map_err(|e| e.to_string())?;
    for _ in 0..20 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).map_err(|e| e.to_string())?;
        }
        server
            .read_tls(&mut buf.as_slice())
            .map_err(|e| e.to_string())?;
        server
            .process_new_packets()
            .map_err(|e| format!("server: {e}"))?;
        let mut back = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut back).map_err(|e| e.to_string())?;
        }
        client
            .read_tls(&mut back.as_slice())
            .map_err(|e| e.to_string())?;
        client
            .process_new_packets()
            .map_err(|e| format!("client: {e}"))?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(client
                .peer_certificates()
                .map(<[CertificateDer<'static>]>::to_vec)
                .unwrap_or_default());
        }
    }
    Err("the handshake did not finish".into())
}

#[test]
fn a_combined_pem_file_an_inline_store_and_an_encrypted_key_load() {
    let ca = ca();
    let (cert, key) = leaf(&ca, "localhost");
    let dir = tempfile::tempdir().expect("dir");
    // Key, certificate and CA in one file, in any order, with text around them.
    let combined = dir.path().join("server.pem");
    std::fs::write(
        &combined,
        format!("# server\n{cert}\n{key}\n{}", ca.cert.pem()),
    )
    .expect("write");
    let store = KeyStore::load(&KeyStoreSource::File(combined), None).expect("file store");
    assert_eq!(store.chain.len(), 2);
    assert!(!format!("{store:?}").contains("PRIVATE"));

    // ssl.key.password: PKCS#8 encrypted with PBES2 (PBKDF2-SHA256, AES-256-CBC), as OpenSSL
    // writes it by default.
    let document = pkcs8::SecretDocument::from_pkcs8_pem(&key).expect("pkcs8");
    let plain = pkcs8::PrivateKeyInfo::try_from(document.as_bytes()).expect("key info");
    let params =
        pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
            .expect("params");
    let encrypted = plain
        .encrypt_with_params(params, b"key-pass")
        .expect("encrypts")
        .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
        .expect("pem");
    let inline = |key: &str| KeyStoreSource::Inline {
        key_pem: Secret::new(key.to_string()),
        chain_pem: cert.clone(),
    };
    assert!(KeyStore::load(&inline(&encrypted), Some(&Secret::new("key-pass"))).is_ok());
    let no_password = KeyStore::load(&inline(&encrypted), None).expect_err("needs a password");
    assert!(no_password.0.contains("ssl.key.password"), "{no_password}");
    let wrong = KeyStore::load(&inline(&encrypted), Some(&Secret::new("nope"))).expect_err("wrong");
    assert!(wrong.0.contains("does not decrypt"), "{wrong}");
}

#[test]
fn bad_stores_say_what_is_wrong() {
    let ca = ca();
    let (cert, key) = leaf(&ca, "localhost");
    let inline = |key: &str, chain: &str| KeyStoreSource::Inline {
        key_pem: Secret::new(key.to_string()),
        chain_pem: chain.to_string(),
    };
    for (source, why) in [
        (inline(&key, ""), "no certificate"),
        (inline("", &cert), "no private key"),
        (inline(&format!("{key}{key}"), &cert), "more than one"),
        (
            inline("-----BEGIN PRIVATE KEY-----\nAAA", &cert),
            "not closed",
        ),
        (
            KeyStoreSource::File("/nonexistent/ks.pem".into()),
            "ssl.keystore.location",
        ),
    ] {
        let e = KeyStore::load(&source, None).expect_err(why);
        assert!(e.0.contains(why), "{why}: {e}");
    }
    assert!(TrustStore::from_pem("").is_err());
    assert!(ReloadingCertResolver::new(inline(&key, &leaf(&ca, "other").0), None).is_err());
}

#[test]
fn client_auth_modes_and_protocols() {
    let ca = ca();
    let (cert, key) = leaf(&ca, "localhost");
    let resolver = ReloadingCertResolver::new(
        KeyStoreSource::Inline {
            key_pem: Secret::new(key),
            chain_pem: cert,
        },
        None,
    )
    .expect("resolver");
    let settings = |auth| TlsServerSettings {
        client_auth: auth,
        ..TlsServerSettings::default()
    };
    let config =
        |auth| server_config(resolver.clone(), Some(&trust(&ca)), &settings(auth)).expect("config");
    let client_identity = leaf(&ca, "alice");
    assert!(handshake(config(ClientAuth::None), &ca, None).is_ok());
    assert!(handshake(config(ClientAuth::Requested), &ca, None).is_ok());
    assert!(handshake(
        config(ClientAuth::Requested),
        &ca,
        Some(client_identity.clone())
    )
    .is_ok());
    assert!(handshake(config(ClientAuth::Required), &ca, Some(client_identity)).is_ok());
    let refused = handshake(config(ClientAuth::Required), &ca, None).expect_err("no client cert");
    assert!(refused.contains("server"), "{refused}");
    // A client certificate from another CA is refused too.
    let stranger = leaf(&self::ca(), "mallory");
    assert!(handshake(config(ClientAuth::Required), &ca, Some(stranger)).is_err());

    assert!(server_config(resolver.clone(), None, &settings(ClientAuth::Required)).is_err());
    let old = TlsServerSettings {
        enabled_protocols: vec!["TLSv1.1".into()],
        ..TlsServerSettings::default()
    };
    assert!(server_config(resolver.clone(), None, &old).is_err());
    let only_13 = TlsServerSettings {
        enabled_protocols: vec!["TLSv1.3".into()],
        cipher_suites: vec!["TLS_AES_256_GCM_SHA384".into()],
        ..TlsServerSettings::default()
    };
    assert!(handshake(
        server_config(resolver.clone(), None, &only_13).expect("1.3"),
        &ca,
        None
    )
    .is_ok());
    let unknown_suite = TlsServerSettings {
        cipher_suites: vec!["TLS_RSA_WITH_RC4_128_MD5".into()],
        ..TlsServerSettings::default()
    };
    let e = server_config(resolver, None, &unknown_suite).expect_err("unknown suite");
    assert!(e.0.contains("not supported"), "{e}");
    assert!(ClientAuth::parse("required").is_ok());
    assert!(ClientAuth::parse("sometimes").is_err());
}

#[test]
fn a_key_store_replaced_on_disk_is_served_to_new_connections() {
    let ca = ca();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("keystore.pem");
    let (cert1, key1) = leaf(&ca, "localhost");
    std::fs::write(&path, format!("{key1}{cert1}")).expect("write");
    let resolver =
        ReloadingCertResolver::new(KeyStoreSource::File(path.clone()), None).expect("resolver");
    let config =
        server_config(resolver.clone(), None, &TlsServerSettings::default()).expect("config");
    let first = handshake(config.clone(), &ca, None).expect("first")[0].clone();
    assert!(
        !resolver.reload_if_changed().expect("unchanged"),
        "nothing changed"
    );

    // A half-written file does not replace the served certificate.
    std::fs::write(&path, "-----BEGIN CERTIFICATE-----\n").expect("partial");
    assert!(resolver.reload_if_changed().is_err());
    assert_eq!(
        handshake(config.clone(), &ca, None).expect("old one")[0],
        first
    );

    let (cert2, key2) = leaf(&ca, "localhost");
    let mut f = std::fs::File::create(&path).expect("replace");
    write!(f, "{key2}{cert2}\n# renewed\n").expect("write");
    drop(f);
    assert!(resolver.reload_if_changed().expect("reloads"));
    let second = handshake(config, &ca, None).expect("second")[0].clone();
    assert_ne!(first, second, "the new certificate is served");
    assert_eq!(resolver.served_chain()[0], second);
}

fn der_of(pem: &str) -> Vec<u8> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).expect("PEM");
    assert_eq!(label, "CERTIFICATE");
    der
}

#[test]
fn a_new_key_store_must_name_the_same_subject_and_alternative_names() {
    let ca = ca();
    let served = der_of(&leaf(&ca, "broker1.example").0);
    // A renewed certificate (new key, same names) replaces it.
    let renewed = der_of(&leaf(&ca, "broker1.example").0);
    check_same_identity(&served, &renewed, false, false).expect("same names");
    assert_eq!(subject_alt_names(&served).unwrap(), ["DNS:broker1.example"]);

    let other_host = der_of(&leaf(&ca, "broker2.example").0);
    let e = check_same_identity(&served, &other_host, false, false).unwrap_err();
    assert!(e.0.contains("SubjectAltNames do not match"), "{e}");
    assert!(e.0.contains("DNS:broker2.example"), "{e}");
    check_same_identity(&served, &other_host, false, true).expect("SAN changes allowed");

    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["broker1.example".to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "someone else");
    let renamed = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let renamed = renamed.der().to_vec();
    let e = check_same_identity(&served, &renamed, false, false).unwrap_err();
    assert!(e.0.contains("DistinguishedName does not match"), "{e}");
    assert!(e.0.contains("CN=someone else"), "{e}");
    check_same_identity(&served, &renamed, true, false).expect("DN changes allowed");
}

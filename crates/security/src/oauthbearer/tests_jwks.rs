//! When the JWK set is fetched again (backoff, failures, the periodic refresh), and a real
//! fetch over TLS from a loopback server started here with a CA made here.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use super::tests::{ec, good_claims, settings, token, write_jwks, Signer, NOW_MS};
use super::*;
use crate::tls::crypto_provider;

fn file_cache(path: &Path) -> Arc<JwksCache> {
    let url = format!("file://{}", path.display());
    let source = JwksSource::from_url(&url, JwksTrust::System).expect("source");
    Arc::new(JwksCache::new(source, &settings(&url)))
}

#[test]
fn unknown_kids_fetch_early_but_back_off_until_a_new_key_appears() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jwks.json");
    let (a, b) = (ec("a", "ES256"), ec("b", "ES256"));
    write_jwks(&path, &[&a]);
    let cache = file_cache(&path);
    let v = OAuthBearerValidator::secured(settings("file:/unused"), cache.clone());
    assert_eq!(cache.refresh_if_due(NOW_MS), Ok(JwksRefresh::Updated));
    // Nothing due while the file stays the same and no token asks.
    assert_eq!(
        cache.refresh_if_due(NOW_MS + 5_000),
        Ok(JwksRefresh::NotDue)
    );

    let unknown = token(&b, &good_claims());
    let mut t = NOW_MS + 5_000;
    let mut gaps = Vec::new();
    for _ in 0..10 {
        assert!(matches!(
            v.validate(&unknown, t),
            Err(TokenError::UnknownKey(_))
        ));
        // The earliest check that fetches, one ms at a time would be slow: probe doublings.
        let mut next = t;
        while cache.refresh_if_due(next) == Ok(JwksRefresh::NotDue) {
            next += 50;
        }
        gaps.push(next - t);
        t = next;
    }
    // 0 right after the periodic-free start (its backoff passed), then doubling to the max.
    assert_eq!(
        gaps,
        [0, 100, 200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]
    );

    // The provider publishes b: the next allowed fetch finds it and the backoff resets.
    write_jwks(&path, &[&a, &b]);
    assert!(matches!(
        v.validate(&unknown, t),
        Err(TokenError::UnknownKey(_))
    ));
    assert_eq!(cache.refresh_if_due(t + 10_000), Ok(JwksRefresh::Updated));
    assert!(v.validate(&unknown, t + 10_000).is_ok());

    // The periodic refresh (sasl.oauthbearer.jwks.endpoint.refresh.ms) fetches regardless.
    let loaded = t + 10_000;
    assert_eq!(
        cache.refresh_if_due(loaded + 3_599_999),
        Ok(JwksRefresh::NotDue)
    );
    assert_eq!(
        cache.refresh_if_due(loaded + 3_600_000),
        Ok(JwksRefresh::Unchanged)
    );
}

#[test]
fn a_failing_endpoint_keeps_the_old_keys_and_backs_off() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("jwks.json");
    let a: Signer = ec("a", "ES256");
    write_jwks(&path, &[&a]);
    let cache = file_cache(&path);
    let v = OAuthBearerValidator::secured(settings("file:/unused"), cache.clone());
    let good = token(&a, &good_claims());
    // Before any load, tokens are refused (and a load is asked for).
    assert_eq!(v.validate(&good, NOW_MS), Err(TokenError::KeysUnavailable));
    assert_eq!(cache.refresh_if_due(NOW_MS), Ok(JwksRefresh::Updated));

    std::fs::write(&path, "{ half-written").expect("write");
    let e = cache.refresh_if_due(NOW_MS + 1_000).expect_err("bad JSON");
    assert!(
        e.to_string().starts_with(settings::JWKS_ENDPOINT_URL),
        "{e}"
    );
    assert!(
        v.validate(&good, NOW_MS + 1_000).is_ok(),
        "old keys still serve"
    );
    assert_eq!(
        cache.refresh_if_due(NOW_MS + 1_099),
        Ok(JwksRefresh::NotDue)
    );
    assert!(cache.refresh_if_due(NOW_MS + 1_100).is_err());
    assert_eq!(
        cache.refresh_if_due(NOW_MS + 1_299),
        Ok(JwksRefresh::NotDue)
    );
    std::fs::remove_file(&path).expect("remove");
    assert!(cache.refresh_if_due(NOW_MS + 1_300).is_err());
    write_jwks(&path, &[&a]);
    assert_eq!(
        cache.refresh_if_due(NOW_MS + 1_700),
        Ok(JwksRefresh::Unchanged)
    );
    assert!(v.validate(&good, NOW_MS + 1_700).is_ok());
}

/// A CA and a server configuration for `localhost` signed by it.
fn tls_server(ca_key: &rcgen::KeyPair, ca: &rcgen::Certificate) -> Arc<rustls::ServerConfig> {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, ca, ca_key)
        .expect("leaf");
    let config = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    Arc::new(config)
}

fn ca() -> (rcgen::KeyPair, rcgen::Certificate) {
    let key = rcgen::KeyPair::generate().expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("CA");
    (key, cert)
}

/// Serves `responses` over TLS on loopback, one connection each, in order; the port and the
/// thread (which ends after the last one). A handshake the client refuses still counts.
fn serve(
    config: Arc<rustls::ServerConfig>,
    responses: Vec<Vec<u8>>,
) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let thread = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for response in responses {
            let (tcp, _) = listener.accept().expect("accept");
            let conn = rustls::ServerConnection::new(config.clone()).expect("connection");
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            requests.push(String::from_utf8_lossy(&request).into_owned());
            if tls.write_all(&response).is_ok() {
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
        requests
    });
    (port, thread)
}

fn https_cache(port: u16, roots: rustls::RootCertStore) -> Arc<JwksCache> {
    let url = format!("https://localhost:{port}/realms/kafka/certs");
    let source = JwksSource::from_url(&url, JwksTrust::Roots(Arc::new(roots))).expect("source");
    Arc::new(JwksCache::new(source, &settings(&url)))
}

#[test]
fn a_jwk_set_is_fetched_over_https_from_a_loopback_server() {
    let (ca_key, ca_cert) = ca();
    let a = ec("a", "ES256");
    let body = json!({ "keys": [a.jwk.clone()] }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let redirect = |port: u16| {
        format!("HTTP/1.1 302 Found\r\nLocation: https://localhost:{port}/keys\r\nContent-Length: 0\r\n\r\n")
            .into_bytes()
    };
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        first.len(),
        rest.len()
    )
    .into_bytes();
    // The port is known only once bound: bind a second server for the redirect's target.
    let (target_port, target) = serve(tls_server(&ca_key, &ca_cert), vec![chunked]);
    let (port, origin) = serve(tls_server(&ca_key, &ca_cert), vec![redirect(target_port)]);

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert.der().to_vec()))
        .expect("CA");
    let cache = https_cache(port, roots);
    assert_eq!(cache.refresh_now(NOW_MS), Ok(JwksRefresh::Updated));
    let v = OAuthBearerValidator::secured(settings("unused"), cache);
    assert_eq!(
        v.validate(&token(&a, &good_claims()), NOW_MS)
            .map(|t| t.principal_name),
        Ok("alice".to_string())
    );
    let origin_requests = origin.join().expect("origin server");
    assert!(
        origin_requests[0].starts_with("GET /realms/kafka/certs HTTP/1.1\r\n"),
        "{origin_requests:?}"
    );
    assert!(origin_requests[0].contains(&format!("Host: localhost:{port}\r\n")));
    let target_requests = target.join().expect("target server");
    assert!(target_requests[0].starts_with("GET /keys HTTP/1.1\r\n"));
}

#[test]
fn an_https_endpoint_with_an_untrusted_certificate_is_refused() {
    let (ca_key, ca_cert) = ca();
    let (port, server) = serve(tls_server(&ca_key, &ca_cert), vec![Vec::new()]);
    // The client trusts another CA only.
    let (_, other_ca) = ca();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(other_ca.der().to_vec()))
        .expect("CA");
    let cache = https_cache(port, roots);
    let e = cache.refresh_now(NOW_MS).expect_err("untrusted");
    assert!(e.to_string().contains("certificate"), "{e}");
    assert!(cache.keys().is_empty());
    server.join().expect("server");
}

//! The client's TLS and SASL against a fake broker on loopback that speaks real TLS (rustls,
//! certificates made here by rcgen) and real SASL (sluice-security's servers).

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sluice_security::{
    JaasConfig, PlainUsers, ScramCredential, ScramMechanism, ScramServer, ScramStep, Secret,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const WAIT: Duration = Duration::from_secs(10);

fn options() -> ConnectionOptions {
    ConnectionOptions {
        client_id: "security-test".to_string(),
        max_response_bytes: 1 << 20,
    }
}

/// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, as PEM.
struct Pki {
    ca: String,
    server_chain: String,
    server_key: String,
    client_chain: String,
    client_key: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let server_key = KeyPair::generate().expect("server key");
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&server_key, &ca, &ca_key)
        .expect("server certificate");
    let client_key = KeyPair::generate().expect("client key");
    let client = CertificateParams::new(vec!["alice".to_string()])
        .expect("client params")
        .signed_by(&client_key, &ca, &ca_key)
        .expect("client certificate");
    Pki {
        ca: ca.pem(),
        server_chain: server.pem(),
        server_key: server_key.serialize_pem(),
        client_chain: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

fn acceptor(pki: &Pki, require_client_cert: bool) -> tokio_rustls::TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_chain.as_bytes())
            .collect::<Result<_, _>>()
            .expect("server chain");
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).expect("server key");
    let builder = rustls::ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
            roots.add(ca.expect("CA")).expect("root");
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            crypto_provider(),
        )
        .build()
        .expect("client verifier");
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(chain, key).expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// What the fake broker does for SASL.
#[derive(Clone)]
enum Auth {
    None,
    Plain(PlainUsers),
    Scram(ScramMechanism, ScramCredential),
}

async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> Option<(RequestHeader, Bytes)> {
    let size = s.read_i32().await.ok()?;
    // As a broker does, a frame over the limit (a TLS ClientHello read as a size) closes.
    let size = usize::try_from(size).ok().filter(|n| *n <= 1 << 20)?;
    let mut frame = vec![0u8; size];
    s.read_exact(&mut frame).await.ok()?;
    let mut frame = Bytes::from(frame);
    let key = ApiKey::try_from(i16::from_be_bytes([frame[0], frame[1]])).ok()?;
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version)).ok()?;
    Some((header, frame))
}

async fn respond<S: AsyncWrite + Unpin, M: Encodable>(s: &mut S, header: &RequestHeader, body: &M) {
    let key = ApiKey::try_from(header.request_api_key).expect("key");
    let version = header.request_api_version;
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&[0; 4]);
    ResponseHeader::default()
        .with_correlation_id(header.correlation_id)
        .encode(&mut frame, key.response_header_version(version))
        .expect("header");
    body.encode(&mut frame, version).expect("body");
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    s.write_all(&frame).await.expect("written");
    s.flush().await.expect("flushed");
}

/// Serves one connection: ApiVersions v0, SaslHandshake and SaslAuthenticate as `auth` says.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, auth: Auth) {
    let mut scram: Option<(ScramServer, ScramCredential)> = None;
    while let Some((header, mut body)) = read_request(&mut s).await {
        match header.request_api_key {
            18 => {
                let keys = [(17, 0, 1), (36, 0, 2)]
                    .into_iter()
                    .map(|(k, lo, hi)| {
                        ApiVersion::default()
                            .with_api_key(k)
                            .with_min_version(lo)
                            .with_max_version(hi)
                    })
                    .collect();
                respond(
                    &mut s,
                    &header,
                    &ApiVersionsResponse::default().with_api_keys(keys),
                )
                .await;
            }
            17 => {
                let req = SaslHandshakeRequest::decode(&mut body, header.request_api_version)
                    .expect("handshake");
                let enabled = match &auth {
                    Auth::None => vec![],
                    Auth::Plain(_) => vec!["PLAIN"],
                    Auth::Scram(m, c) => {
                        if req.mechanism.as_str() == m.name() {
                            scram =
                                Some((ScramServer::new(*m, [5; 32]).expect("scram"), c.clone()));
                        }
                        vec![m.name()]
                    }
                };
                let ok = enabled.contains(&req.mechanism.as_str());
                let resp = SaslHandshakeResponse::default()
                    .with_error_code(if ok { 0 } else { 33 })
                    .with_mechanisms(enabled.into_iter().map(StrBytes::from_static_str).collect());
                respond(&mut s, &header, &resp).await;
            }
            36 => {
                let req = SaslAuthenticateRequest::decode(&mut body, header.request_api_version)
                    .expect("authenticate");
                let outcome: Result<Vec<u8>, String> = match (&auth, scram.as_mut()) {
                    (Auth::Plain(users), _) => users
                        .authenticate(&req.auth_bytes)
                        .map(|_| Vec::new())
                        .map_err(|e| e.to_string()),
                    (Auth::Scram(..), Some((server, credential))) => {
                        let credential = credential.clone();
                        let lookup = move |user: &str, _m: ScramMechanism| {
                            (user == "alice").then(|| credential.clone())
                        };
                        match server.step(&req.auth_bytes, &lookup) {
                            Ok(ScramStep::Challenge(c)) => Ok(c),
                            Ok(ScramStep::Done { server_final, .. }) => Ok(server_final),
                            Err(e) => Err(e.to_string()),
                        }
                    }
                    _ => Err("no mechanism".into()),
                };
                let resp = match outcome {
                    Ok(bytes) => {
                        SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes))
                    }
                    Err(message) => SaslAuthenticateResponse::default()
                        .with_error_code(58)
                        .with_error_message(Some(StrBytes::from_string(message))),
                };
                respond(&mut s, &header, &resp).await;
            }
            _ => return,
        }
    }
}

/// A fake broker for one connection, over TLS when `tls` is given.
async fn broker(tls: Option<tokio_rustls::TlsAcceptor>, auth: Auth) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        match tls {
            None => serve(socket, auth).await,
            Some(acceptor) => {
                if let Ok(stream) = acceptor.accept(socket).await {
                    serve(stream, auth).await;
                }
            }
        }
    });
    addr
}

fn scram_login(password: &str) -> SaslLogin {
    SaslLogin::Scram {
        mechanism: ScramMechanism::Sha512,
        user: "alice".into(),
        password: Secret::new(password),
    }
}

fn alice_credential() -> ScramCredential {
    ScramCredential::generate(ScramMechanism::Sha512, b"alice-secret", 4096).expect("credential")
}

#[tokio::test]
async fn scram_over_tls_logs_in_and_a_wrong_password_is_refused() {
    let pki = pki();
    let tls = TlsClient::from_pem(pki.ca.as_bytes(), None).expect("client tls");
    let credential = alice_credential();
    for (password, ok) in [("alice-secret", true), ("wrong", false)] {
        let addr = broker(
            Some(acceptor(&pki, false)),
            Auth::Scram(ScramMechanism::Sha512, credential.clone()),
        )
        .await;
        let security = ClientSecurity {
            tls: Some(tls.clone()),
            sasl: Some(scram_login(password)),
        };
        let result = Connection::connect_secure(&addr, &options(), &security, WAIT).await;
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(ClientError::Authentication { message, .. })) => {
                assert!(
                    message.contains("Invalid username or password"),
                    "{message}"
                )
            }
            (_, other) => panic!("password {password}: {:?}", other.err()),
        }
    }
}

#[tokio::test]
async fn an_untrusted_certificate_or_a_plaintext_listener_fails_the_handshake() {
    let pki = pki();
    let other = self::pki();
    let untrusting = TlsClient::from_pem(other.ca.as_bytes(), None).expect("client tls");
    let addr = broker(Some(acceptor(&pki, false)), Auth::None).await;
    let security = ClientSecurity {
        tls: Some(untrusting),
        sasl: None,
    };
    let e = Connection::connect_secure(&addr, &options(), &security, WAIT)
        .await
        .err()
        .expect("refused");
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");

    // TLS spoken to a plaintext listener.
    let trusting = TlsClient::from_pem(pki.ca.as_bytes(), None).expect("client tls");
    let addr = broker(None, Auth::None).await;
    let security = ClientSecurity {
        tls: Some(trusting),
        sasl: None,
    };
    let e = Connection::connect_secure(&addr, &options(), &security, WAIT)
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(e, ClientError::Tls { .. } | ClientError::Timeout { .. }),
        "{e}"
    );
}

#[tokio::test]
async fn without_the_host_name_check_the_chain_is_still_checked() {
    let pki = pki();
    // The certificate names localhost and 127.0.0.1, not this name.
    let checking = TlsClient::from_pem(pki.ca.as_bytes(), None)
        .expect("client tls")
        .with_server_name("broker.example");
    let e = connect_with(&pki, checking).await.err().expect("refused");
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
    let unchecked = TlsClient::from_pem_checking(pki.ca.as_bytes(), None, false)
        .expect("client tls")
        .with_server_name("broker.example");
    assert!(connect_with(&pki, unchecked).await.is_ok());
    // Another CA's certificate is refused all the same.
    let other = self::pki();
    let untrusting =
        TlsClient::from_pem_checking(other.ca.as_bytes(), None, false).expect("client tls");
    let e = connect_with(&pki, untrusting).await.err().expect("refused");
    assert!(matches!(e, ClientError::Tls { .. }), "{e}");
}

/// Connects with `tls` to a fake broker presenting `pki`'s server certificate.
async fn connect_with(pki: &Pki, tls: TlsClient) -> Result<Connection, ClientError> {
    let addr = broker(Some(acceptor(pki, false)), Auth::None).await;
    let security = ClientSecurity {
        tls: Some(tls),
        sasl: None,
    };
    Connection::connect_secure(&addr, &options(), &security, WAIT).await
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let pki = pki();
    let with_identity = TlsClient::from_pem(
        pki.ca.as_bytes(),
        Some((pki.client_chain.as_bytes(), pki.client_key.as_bytes())),
    )
    .expect("client tls");
    let addr = broker(Some(acceptor(&pki, true)), Auth::None).await;
    let security = ClientSecurity {
        tls: Some(with_identity),
        sasl: None,
    };
    let mut c = Connection::connect_secure(&addr, &options(), &security, WAIT)
        .await
        .expect("mTLS connects");
    assert!(c.api_versions(WAIT).await.is_ok(), "a request goes through");

    let without = TlsClient::from_pem(pki.ca.as_bytes(), None).expect("client tls");
    let addr = broker(Some(acceptor(&pki, true)), Auth::None).await;
    let security = ClientSecurity {
        tls: Some(without),
        sasl: None,
    };
    // TLS 1.3: the server refuses the missing certificate after the client's handshake, so the
    // refusal shows at connect or at the first request.
    let refused = match Connection::connect_secure(&addr, &options(), &security, WAIT).await {
        Err(_) => true,
        Ok(mut c) => c.api_versions(WAIT).await.is_err(),
    };
    assert!(refused);
}

#[tokio::test]
async fn plain_and_a_mechanism_the_broker_does_not_enable() {
    let users = PlainUsers::from_jaas(
        &JaasConfig::parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";"#,
        )
        .expect("jaas"),
    );
    let addr = broker(None, Auth::Plain(users.clone())).await;
    let plain = ClientSecurity {
        tls: None,
        sasl: Some(SaslLogin::Plain {
            user: "alice".into(),
            password: Secret::new("alice-secret"),
        }),
    };
    Connection::connect_secure(&addr, &options(), &plain, WAIT)
        .await
        .expect("PLAIN logs in");

    let addr = broker(None, Auth::Plain(users)).await;
    let scram = ClientSecurity {
        tls: None,
        sasl: Some(scram_login("alice-secret")),
    };
    let e = Connection::connect_secure(&addr, &options(), &scram, WAIT)
        .await
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        matches!(e, ClientError::Authentication { .. }) && text.contains("PLAIN"),
        "{text}"
    );
}

#[test]
fn bad_trust_stores_and_identities_say_so() {
    assert!(TlsClient::from_pem(b"", None).is_err());
    assert!(TlsClient::from_pem(b"not pem", None).is_err());
    let pki = pki();
    assert!(
        TlsClient::from_pem(pki.ca.as_bytes(), Some((b"", pki.client_key.as_bytes()))).is_err()
    );
    assert!(
        TlsClient::from_pem(pki.ca.as_bytes(), Some((pki.client_chain.as_bytes(), b""))).is_err()
    );
    let debug = format!(
        "{:?}",
        SaslLogin::Plain {
            user: "u".into(),
            password: Secret::new("hunter2")
        }
    );
    assert!(!debug.contains("hunter2"), "{debug}");
}

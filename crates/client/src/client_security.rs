//! Kafka's client security properties read into the wire client's [`ClientSecurity`]: TLS for
//! `security.protocol=SSL|SASL_SSL`, a SASL login for `SASL_PLAINTEXT|SASL_SSL`.
//!
//! Both Java's and librdkafka's names are read, so a `client.properties` written for Kafka's
//! tools and a kcat command line both work:
//!
//! ```text
//! protocol            security.protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
//! SASL mechanism      sasl.mechanism (sasl.mechanisms): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
//! user and password   sasl.username + sasl.password, or sasl.jaas.config with
//!                     PlainLoginModule / ScramLoginModule required username=".." password="..";
//! CA certificates     ssl.truststore.location or ssl.ca.location (PEM)
//! client certificate  ssl.keystore.location (chain and key in one PEM file), or
//!                     ssl.certificate.location + ssl.key.location
//! host name check     ssl.endpoint.identification.algorithm: https (default), empty or none
//! ```
//!
//! Stores are PEM only (`ssl.truststore.type` / `ssl.keystore.type` other than PEM is an
//! error) and keys unencrypted; `ssl.key.password`, `ssl.keystore.password` and
//! `ssl.truststore.password` are accepted and have no effect. Keys of a layer the protocol does
//! not use (`ssl.*` with SASL_PLAINTEXT, `sasl.*` with SSL) are ignored with a warning, as Kafka
//! ignores them. No error message shows a password.

use anyhow::{anyhow, bail, Result};
use sluice_protocol::client::{ClientSecurity, SaslLogin, TlsClient};
use sluice_security::{JaasConfig, ScramMechanism, Secret};

/// Every key read here.
pub const SECURITY_KEYS: &[&str] = &[
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.jaas.config",
    "ssl.truststore.location",
    "ssl.truststore.type",
    "ssl.truststore.password",
    "ssl.ca.location",
    "ssl.keystore.location",
    "ssl.keystore.type",
    "ssl.keystore.password",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
];

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// The security of the connections, from the client properties (`properties` in order: the
/// last value of a key wins). Warnings for keys without effect go to `ignored`.
pub fn client_security(
    properties: &[(String, String)],
    ignored: &mut Vec<String>,
) -> Result<ClientSecurity> {
    let last = |key: &str| {
        properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let protocol = match last("security.protocol") {
        None => SecurityProtocol::Plaintext,
        Some(v) => match v.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            _ => bail!(
                "invalid client property security.protocol={v}: expected PLAINTEXT, SSL, \
                 SASL_PLAINTEXT or SASL_SSL"
            ),
        },
    };
    let mut warned: Vec<&str> = Vec::new();
    for (key, _) in properties {
        let unused = (key.starts_with("ssl.") && !protocol.uses_tls())
            || (key.starts_with("sasl.") && !protocol.uses_sasl());
        if unused && !warned.contains(&key.as_str()) {
            warned.push(key);
            ignored.push(format!(
                "-X {key} has no effect with security.protocol={}; ignored",
                protocol.name()
            ));
        }
    }
    let tls = if protocol.uses_tls() {
        Some(tls_client(&last, ignored)?)
    } else {
        None
    };
    let sasl = if protocol.uses_sasl() {
        Some(sasl_login(protocol, &last)?)
    } else {
        None
    };
    Ok(ClientSecurity { tls, sasl })
}

fn sasl_login<'a>(
    protocol: SecurityProtocol,
    last: &impl Fn(&str) -> Option<&'a str>,
) -> Result<SaslLogin> {
    let Some(mechanism) = last("sasl.mechanism").or_else(|| last("sasl.mechanisms")) else {
        bail!(
            "security.protocol={} needs sasl.mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)",
            protocol.name()
        );
    };
    let upper = mechanism.to_ascii_uppercase();
    let login_module = match upper.as_str() {
        "PLAIN" => "PlainLoginModule",
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => "ScramLoginModule",
        "OAUTHBEARER" => bail!(
            "sasl.mechanism=OAUTHBEARER: this client cannot obtain OAuth tokens; use PLAIN, \
             SCRAM-SHA-256 or SCRAM-SHA-512"
        ),
        "GSSAPI" => bail!(
            "sasl.mechanism=GSSAPI (Kerberos) is not supported; use PLAIN, SCRAM-SHA-256 or \
             SCRAM-SHA-512"
        ),
        _ => bail!(
            "invalid client property sasl.mechanism={mechanism}: expected PLAIN, SCRAM-SHA-256 \
             or SCRAM-SHA-512"
        ),
    };
    let (user, password) = credentials(&upper, login_module, last)?;
    Ok(match ScramMechanism::from_name(&upper) {
        Some(mechanism) => SaslLogin::Scram {
            mechanism,
            user,
            password,
        },
        None => SaslLogin::Plain { user, password },
    })
}

/// The user and password: `sasl.username`/`sasl.password` (librdkafka), else the
/// `username`/`password` options of `sasl.jaas.config` (Java).
fn credentials<'a>(
    mechanism: &str,
    login_module: &str,
    last: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(String, Secret)> {
    match (last("sasl.username"), last("sasl.password")) {
        (Some(user), Some(password)) => return Ok((user.to_string(), Secret::new(password))),
        (Some(_), None) => bail!("sasl.username is set but sasl.password is not"),
        (None, Some(_)) => bail!("sasl.password is set but sasl.username is not"),
        (None, None) => {}
    }
    let Some(text) = last("sasl.jaas.config") else {
        bail!(
            "sasl.mechanism={mechanism} needs sasl.username and sasl.password, or \
             sasl.jaas.config"
        );
    };
    let jaas = JaasConfig::parse(text).map_err(|e| anyhow!("{e}"))?;
    let class = jaas.login_module.rsplit('.').next().unwrap_or_default();
    if class != login_module {
        bail!(
            "sasl.jaas.config: {} does not log in with {mechanism}; use \
             org.apache.kafka.common.security.{}.{login_module}",
            jaas.login_module,
            if login_module == "PlainLoginModule" {
                "plain"
            } else {
                "scram"
            }
        );
    }
    let (Some(user), Some(password)) = (jaas.option("username"), jaas.secret("password")) else {
        bail!("sasl.jaas.config: {class} needs the options username and password");
    };
    Ok((user.to_string(), password.clone()))
}

fn tls_client<'a>(
    last: &impl Fn(&str) -> Option<&'a str>,
    ignored: &mut Vec<String>,
) -> Result<TlsClient> {
    for key in ["ssl.truststore.type", "ssl.keystore.type"] {
        if let Some(kind) = last(key).filter(|v| !v.eq_ignore_ascii_case("PEM")) {
            bail!("invalid client property {key}={kind}: this client reads PEM files only");
        }
    }
    let Some(ca_path) = last("ssl.truststore.location").or_else(|| last("ssl.ca.location")) else {
        bail!(
            "TLS needs ssl.truststore.location (or ssl.ca.location): a PEM file of the CA \
             certificates to trust"
        );
    };
    let ca = read(ca_path)?;
    let identity = match (
        last("ssl.keystore.location"),
        last("ssl.certificate.location"),
        last("ssl.key.location"),
    ) {
        (None, None, None) => None,
        (Some(keystore), None, None) => {
            let pem = read(keystore)?;
            Some((pem.clone(), pem, keystore))
        }
        (None, Some(certificate), Some(key)) => Some((read(certificate)?, read(key)?, key)),
        (Some(_), _, _) => bail!(
            "give either ssl.keystore.location or ssl.certificate.location with \
             ssl.key.location, not both"
        ),
        (None, Some(_), None) => bail!("ssl.certificate.location needs ssl.key.location"),
        (None, None, Some(_)) => bail!("ssl.key.location needs ssl.certificate.location"),
    };
    if let Some((_, key_pem, key_path)) = &identity {
        if String::from_utf8_lossy(key_pem).contains("ENCRYPTED") {
            bail!(
                "{key_path}: the private key is encrypted; this client reads unencrypted PEM \
                 keys only"
            );
        }
    }
    for key in [
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
    ] {
        if last(key).is_some() {
            ignored.push(format!(
                "-X {key} has no effect on unencrypted PEM files; ignored"
            ));
        }
    }
    let verify_hostname = match last("ssl.endpoint.identification.algorithm") {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("https") => true,
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case("none") => false,
        Some(v) => bail!(
            "invalid client property ssl.endpoint.identification.algorithm={v}: expected \
             https, or empty (or none) to skip the host name check"
        ),
    };
    let identity_ref = identity
        .as_ref()
        .map(|(chain, key, _)| (chain.as_slice(), key.as_slice()));
    TlsClient::from_pem_checking(&ca, identity_ref, verify_hostname)
        .map_err(|e| anyhow!("TLS settings: {e}"))
}

fn read(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    fn props(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn security(list: &[(&str, &str)]) -> Result<(ClientSecurity, Vec<String>)> {
        let mut ignored = Vec::new();
        client_security(&props(list), &mut ignored).map(|s| (s, ignored))
    }

    fn error(list: &[(&str, &str)]) -> String {
        security(list).expect_err("refused").to_string()
    }

    /// A CA certificate, and a client certificate and key it signed, as PEM files in `dir`.
    fn pem_files(dir: &Path) -> (String, String, String) {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("client key");
        let cert = CertificateParams::new(vec!["alice".to_string()])
            .expect("client params")
            .signed_by(&key, &ca, &ca_key)
            .expect("client certificate");
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            path.display().to_string()
        };
        (
            write("ca.pem", &ca.pem()),
            write("client.pem", &cert.pem()),
            write("client.key", &key.serialize_pem()),
        )
    }

    fn login(security: &ClientSecurity) -> (String, String, String) {
        match security.sasl.as_ref().expect("a SASL login") {
            SaslLogin::Plain { user, password } => (
                "PLAIN".into(),
                user.clone(),
                String::from_utf8_lossy(password.expose()).into_owned(),
            ),
            SaslLogin::Scram {
                mechanism,
                user,
                password,
            } => (
                mechanism.name().into(),
                user.clone(),
                String::from_utf8_lossy(password.expose()).into_owned(),
            ),
            SaslLogin::OAuthBearer { .. } => panic!("no OAUTHBEARER here"),
        }
    }

    #[test]
    fn plaintext_is_the_default_and_sasl_logins_are_read_from_either_naming() {
        let (s, ignored) = security(&[]).expect("valid");
        assert!(s.tls.is_none() && s.sasl.is_none() && ignored.is_empty());
        let (s, _) = security(&[("security.protocol", "plaintext")]).expect("valid");
        assert!(s.tls.is_none() && s.sasl.is_none());

        let (s, _) = security(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "PLAIN"),
            ("sasl.username", "admin"),
            ("sasl.password", "admin-secret"),
        ])
        .expect("librdkafka names");
        assert!(s.tls.is_none());
        assert_eq!(
            login(&s),
            ("PLAIN".into(), "admin".into(), "admin-secret".into())
        );

        let jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required \
                    username=\"alice\" password=\"alice-secret\";";
        let (s, _) = security(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "scram-sha-256"),
            ("sasl.jaas.config", jaas),
        ])
        .expect("Java names");
        assert_eq!(
            login(&s),
            (
                "SCRAM-SHA-256".into(),
                "alice".into(),
                "alice-secret".into()
            )
        );
        // The debug form of the settings hides the password.
        assert!(!format!("{s:?}").contains("alice-secret"));
    }

    #[test]
    fn bad_sasl_settings_are_clear_errors_without_passwords() {
        let sasl = ("security.protocol", "SASL_PLAINTEXT");
        assert_eq!(
            error(&[sasl]),
            "security.protocol=SASL_PLAINTEXT needs sasl.mechanism (PLAIN, SCRAM-SHA-256 or \
             SCRAM-SHA-512)"
        );
        assert_eq!(
            error(&[("security.protocol", "TLS")]),
            "invalid client property security.protocol=TLS: expected PLAINTEXT, SSL, \
             SASL_PLAINTEXT or SASL_SSL"
        );
        assert_eq!(
            error(&[sasl, ("sasl.mechanism", "SCRAM-SHA-1")]),
            "invalid client property sasl.mechanism=SCRAM-SHA-1: expected PLAIN, SCRAM-SHA-256 \
             or SCRAM-SHA-512"
        );
        assert!(error(&[sasl, ("sasl.mechanism", "GSSAPI")]).contains("Kerberos"));
        assert_eq!(
            error(&[sasl, ("sasl.mechanism", "PLAIN")]),
            "sasl.mechanism=PLAIN needs sasl.username and sasl.password, or sasl.jaas.config"
        );
        assert_eq!(
            error(&[
                sasl,
                ("sasl.mechanism", "PLAIN"),
                ("sasl.password", "hunter2")
            ]),
            "sasl.password is set but sasl.username is not"
        );
        let plain_module = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                            username=\"a\" password=\"hunter2\";";
        let e = error(&[
            sasl,
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.jaas.config", plain_module),
        ]);
        assert!(e.contains("does not log in with SCRAM-SHA-512"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = error(&[
            sasl,
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "PlainLoginModule required password=\"hunter2\"",
            ),
        ]);
        assert!(e.starts_with("sasl.jaas.config"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn tls_settings_read_pem_files_and_are_checked() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (ca, cert, key) = pem_files(dir.path());
        let ssl = ("security.protocol", "SSL");
        let (s, ignored) = security(&[ssl, ("ssl.truststore.location", &ca)]).expect("valid");
        assert!(s.tls.is_some() && s.sasl.is_none() && ignored.is_empty());
        let (s, _) = security(&[
            ssl,
            ("ssl.ca.location", &ca),
            ("ssl.certificate.location", &cert),
            ("ssl.key.location", &key),
            ("ssl.endpoint.identification.algorithm", ""),
        ])
        .expect("mTLS, librdkafka names");
        assert!(s.tls.is_some());
        // A keystore holding the chain and the key.
        let keystore = dir.path().join("keystore.pem");
        let both = format!(
            "{}{}",
            std::fs::read_to_string(&cert).expect("read"),
            std::fs::read_to_string(&key).expect("read")
        );
        std::fs::write(&keystore, both).expect("write");
        let keystore = keystore.display().to_string();
        let (s, ignored) = security(&[
            ("security.protocol", "SASL_SSL"),
            ("ssl.truststore.location", &ca),
            ("ssl.keystore.location", &keystore),
            ("ssl.keystore.type", "PEM"),
            ("ssl.key.password", "unused"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "u"),
            ("sasl.password", "p"),
        ])
        .expect("SASL_SSL with a PEM keystore");
        assert!(s.tls.is_some() && s.sasl.is_some());
        assert_eq!(
            ignored,
            vec!["-X ssl.key.password has no effect on unencrypted PEM files; ignored"]
        );

        assert!(error(&[ssl]).starts_with("TLS needs ssl.truststore.location"));
        let e = error(&[ssl, ("ssl.truststore.location", "/nonexistent/ca.pem")]);
        assert!(e.starts_with("/nonexistent/ca.pem: "), "{e}");
        assert_eq!(
            error(&[
                ssl,
                ("ssl.truststore.location", &ca),
                ("ssl.truststore.type", "JKS")
            ]),
            "invalid client property ssl.truststore.type=JKS: this client reads PEM files only"
        );
        let e = error(&[ssl, ("ssl.truststore.location", &key)]);
        assert!(e.starts_with("TLS settings: "), "{e}");
        assert_eq!(
            error(&[
                ssl,
                ("ssl.truststore.location", &ca),
                ("ssl.certificate.location", &cert)
            ]),
            "ssl.certificate.location needs ssl.key.location"
        );
        assert!(error(&[
            ssl,
            ("ssl.truststore.location", &ca),
            ("ssl.endpoint.identification.algorithm", "dns")
        ])
        .starts_with("invalid client property ssl.endpoint.identification.algorithm=dns"));
        let encrypted = dir.path().join("encrypted.key");
        std::fs::write(
            &encrypted,
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .expect("write");
        let e = error(&[
            ssl,
            ("ssl.truststore.location", &ca),
            ("ssl.certificate.location", &cert),
            ("ssl.key.location", &encrypted.display().to_string()),
        ]);
        assert!(
            e.ends_with(
                "the private key is encrypted; this client reads unencrypted PEM keys only"
            ),
            "{e}"
        );

        // TLS keys without TLS: warned about, not used.
        let (s, ignored) =
            security(&[("ssl.truststore.location", "/nonexistent")]).expect("PLAINTEXT");
        assert!(s.tls.is_none());
        assert_eq!(
            ignored,
            vec!["-X ssl.truststore.location has no effect with security.protocol=PLAINTEXT; ignored"]
        );
    }
}

//! Each listener as the broker serves it: where it binds, what it advertises, its security
//! protocol, and its TLS and SASL settings with the `listener.name.<listener>.` overrides
//! already applied. Built once at startup from the keys; loading key stores and JAAS configs
//! (files, parsing) happens where the listener is opened (`server`), so that a bad file is a
//! startup error that names the listener.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_security::tls::{
    check_same_identity, server_config, ClientAuth, KeyStoreSource, ReloadingCertResolver,
    TlsServerSettings, TrustStore,
};
use sluice_security::Secret;

use super::broker_config::BrokerConfig;
use super::listeners::{parse_listeners, security_protocol, Listener};

/// Kafka's security protocols, with the numbers registrations carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext = 0,
    Ssl = 1,
    SaslPlaintext = 2,
    SaslSsl = 3,
}

impl SecurityProtocol {
    pub fn parse(name: &str) -> Option<SecurityProtocol> {
        match name.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// A listener's TLS settings (`ssl.*`).
#[derive(Clone, Debug, Default)]
pub struct SslSettings {
    pub keystore_location: Option<PathBuf>,
    pub keystore_key: Option<Secret>,
    pub keystore_certificate_chain: Option<String>,
    pub key_password: Option<Secret>,
    pub truststore_location: Option<PathBuf>,
    pub truststore_certificates: Option<String>,
    /// `none`, `requested` or `required`.
    pub client_auth: String,
    pub enabled_protocols: Vec<String>,
    pub cipher_suites: Vec<String>,
    pub principal_mapping_rules: String,
    /// `https` (check the server's name) or empty, for this broker's own connections.
    pub endpoint_identification_algorithm: String,
    /// `ssl.allow.dn.changes` / `ssl.allow.san.changes`: whether a key store set by a dynamic
    /// config may name another subject / other alternative names.
    pub allow_dn_changes: bool,
    pub allow_san_changes: bool,
}

impl SslSettings {
    /// These settings with a broker's dynamic key store and trust store keys for the listener
    /// (table key -> value, see `LiveBrokerConfig::listener_tls_overrides`) in place: a key
    /// store named dynamically (file or inline) replaces the static one whole, and so does a
    /// trust store.
    pub fn with_dynamic(
        &self,
        overrides: &std::collections::BTreeMap<String, String>,
    ) -> SslSettings {
        let mut out = self.clone();
        let get = |k: &str| overrides.get(k).cloned();
        let keystore = [
            "ssl.keystore.location",
            "ssl.keystore.key",
            "ssl.keystore.certificate.chain",
        ];
        if keystore.iter().any(|k| overrides.contains_key(*k)) {
            out.keystore_location = get("ssl.keystore.location").map(PathBuf::from);
            out.keystore_key = get("ssl.keystore.key").map(Secret::new);
            out.keystore_certificate_chain = get("ssl.keystore.certificate.chain");
        }
        if let Some(p) = get("ssl.key.password") {
            out.key_password = Some(Secret::new(p));
        }
        if ["ssl.truststore.location", "ssl.truststore.certificates"]
            .iter()
            .any(|k| overrides.contains_key(*k))
        {
            out.truststore_location = get("ssl.truststore.location").map(PathBuf::from);
            out.truststore_certificates = get("ssl.truststore.certificates");
        }
        out
    }
}

/// A listener's SASL settings.
#[derive(Clone, Debug, Default)]
pub struct SaslSettings {
    /// `sasl.enabled.mechanisms`, upper case.
    pub enabled_mechanisms: Vec<String>,
    /// `sasl.jaas.config` per enabled mechanism (upper case), where one is set.
    pub jaas: Vec<(String, Secret)>,
    /// `sasl.server.callback.handler.class` of OAUTHBEARER: set means JWT validation against
    /// the JWKS endpoint; unset means Kafka's unsecured (development) validator.
    pub oauthbearer_callback_handler: Option<String>,
    /// Every `sasl.oauthbearer.*` key with its value for this listener.
    pub oauthbearer: Vec<(String, String)>,
    /// `sasl.server.max.receive.size`: the largest frame before authentication.
    pub max_receive_size: usize,
    /// `connections.max.reauth.ms` (0: sessions do not expire).
    pub max_reauth_ms: i64,
}

/// One listener of `listeners`.
#[derive(Clone, Debug)]
pub struct ListenerSettings {
    pub listener: Listener,
    /// Its entry in `advertised.listeners`, if any.
    pub advertised: Option<Listener>,
    pub protocol: SecurityProtocol,
    /// One of `controller.listener.names` (served by the controller quorum, not the broker).
    pub is_controller: bool,
    pub ssl: SslSettings,
    pub sasl: SaslSettings,
}

impl ListenerSettings {
    /// The upper-case name.
    pub fn name(&self) -> &str {
        &self.listener.name
    }

    /// The host and port clients are told for this listener: its `advertised.listeners` entry,
    /// else its own host, else the bound address; the bound port replaces port 0.
    pub fn advertised(&self, bound: std::net::SocketAddr) -> (String, u16) {
        if let Some(l) = &self.advertised {
            let port = if l.port == 0 { bound.port() } else { l.port };
            return (l.host.clone(), port);
        }
        let host = if !self.listener.host.is_empty() && self.listener.host != "0.0.0.0" {
            self.listener.host.clone()
        } else {
            bound.ip().to_string()
        };
        (host, bound.port())
    }
}

const OAUTHBEARER_KEYS: &[&str] = &[
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.clock.skew.seconds",
];

fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `sasl.enabled.mechanisms` when unset: SCRAM always (its users live in the metadata log),
/// PLAIN where the listener has PLAIN's JAAS config, OAUTHBEARER where it has OAUTHBEARER's
/// JAAS config or validator class.
fn default_mechanisms(config: &BrokerConfig, listener: &str, is_controller: bool) -> Vec<String> {
    let set = |mechanism: &str, key: &str| {
        config
            .get(&format!(
                "listener.name.{}.{mechanism}.{key}",
                listener.to_ascii_lowercase()
            ))
            .is_some()
    };
    let mut out = Vec::new();
    if set("plain", "sasl.jaas.config") {
        out.push("PLAIN".to_string());
    }
    // Not on the controller listener: SCRAM credentials live in the metadata log, which the
    // controllers must reach before they could read them (as in Kafka's KRaft mode).
    if !is_controller {
        out.extend(["SCRAM-SHA-256".to_string(), "SCRAM-SHA-512".to_string()]);
    }
    if set("oauthbearer", "sasl.jaas.config")
        || set("oauthbearer", "sasl.server.callback.handler.class")
    {
        out.push("OAUTHBEARER".to_string());
    }
    out
}

/// Every listener of `listeners` (the default client listener when unset), with its settings.
/// Call after [`BrokerConfig::check`].
pub fn listener_settings(config: &BrokerConfig) -> Vec<ListenerSettings> {
    let mut listeners = config.listeners();
    if listeners.is_empty() {
        let default = BrokerConfig::default_client_listener();
        listeners.push(Listener {
            name: "PLAINTEXT".into(),
            host: default.ip().to_string(),
            port: default.port(),
        });
    }
    let advertised: Vec<Listener> = config
        .get("advertised.listeners")
        .and_then(|v| parse_listeners(v).ok())
        .unwrap_or_default();
    let controller_names = config.controller_listener_names();
    let map = config
        .value("listener.security.protocol.map")
        .unwrap_or("")
        .to_string();
    listeners
        .into_iter()
        .map(|listener| {
            let name = listener.name.clone();
            let protocol = security_protocol(&map, &name)
                .and_then(|p| SecurityProtocol::parse(&p))
                .unwrap_or(SecurityProtocol::Plaintext);
            let v = |key: &str| config.listener_value(&name, key).map(str::to_string);
            let ssl = ssl_settings(config, &name);
            let is_controller = controller_names.contains(&name);
            let enabled_mechanisms: Vec<String> =
                match config.listener_value(&name, "sasl.enabled.mechanisms") {
                    Some(set) => list(Some(set))
                        .into_iter()
                        .map(|m| m.to_ascii_uppercase())
                        // Not on a controller listener (see default_mechanisms).
                        .filter(|m| !(is_controller && m.starts_with("SCRAM-")))
                        .collect(),
                    None => default_mechanisms(config, &name, is_controller),
                };
            let jaas = enabled_mechanisms
                .iter()
                .filter_map(|m| {
                    config
                        .mechanism_value(&name, m, "sasl.jaas.config")
                        .map(|j| (m.clone(), Secret::new(j)))
                })
                .collect();
            let sasl = SaslSettings {
                oauthbearer_callback_handler: config
                    .mechanism_value(&name, "OAUTHBEARER", "sasl.server.callback.handler.class")
                    .map(str::to_string),
                // listener.name.<l>.oauthbearer.<key>, else listener.name.<l>.<key>, else
                // the broker's <key>.
                oauthbearer: OAUTHBEARER_KEYS
                    .iter()
                    .filter_map(|k| {
                        config
                            .mechanism_value(&name, "OAUTHBEARER", k)
                            .map(|value| (k.to_string(), value.to_string()))
                    })
                    .collect(),
                max_receive_size: v("sasl.server.max.receive.size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(524_288),
                max_reauth_ms: v("connections.max.reauth.ms")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                enabled_mechanisms,
                jaas,
            };
            ListenerSettings {
                advertised: advertised.iter().find(|a| a.name == name).cloned(),
                is_controller,
                protocol,
                ssl,
                sasl,
                listener,
            }
        })
        .collect()
}

/// The TLS settings of the `https` admin listeners: `listener.name.admin.ssl.*`, else the
/// broker's `ssl.*`.
pub fn admin_ssl(config: &BrokerConfig) -> SslSettings {
    ssl_settings(config, "ADMIN")
}

/// The TLS settings of the `https` REST proxy listeners: `listener.name.rest_proxy.ssl.*`, else
/// the broker's `ssl.*`.
pub fn rest_proxy_ssl(config: &BrokerConfig) -> SslSettings {
    ssl_settings(config, "REST_PROXY")
}

/// The TLS settings (`ssl.*`) of the listener named `name` (upper case), with its
/// `listener.name.<name>.` overrides applied. The HTTP services' `https` listeners use these
/// under their own names (`ADMIN`, ...).
pub fn ssl_settings(config: &BrokerConfig, name: &str) -> SslSettings {
    let v = |key: &str| config.listener_value(name, key).map(str::to_string);
    SslSettings {
        keystore_location: v("ssl.keystore.location").map(PathBuf::from),
        keystore_key: v("ssl.keystore.key").map(Secret::new),
        keystore_certificate_chain: v("ssl.keystore.certificate.chain"),
        key_password: v("ssl.key.password").map(Secret::new),
        truststore_location: v("ssl.truststore.location").map(PathBuf::from),
        truststore_certificates: v("ssl.truststore.certificates"),
        client_auth: v("ssl.client.auth").unwrap_or_else(|| "none".into()),
        enabled_protocols: list(config.listener_value(name, "ssl.enabled.protocols")),
        cipher_suites: list(config.listener_value(name, "ssl.cipher.suites")),
        principal_mapping_rules: v("ssl.principal.mapping.rules")
            .unwrap_or_else(|| "DEFAULT".into()),
        endpoint_identification_algorithm: v("ssl.endpoint.identification.algorithm")
            .unwrap_or_default(),
        allow_dn_changes: v("ssl.allow.dn.changes").is_some_and(|b| b.eq_ignore_ascii_case("true")),
        allow_san_changes: v("ssl.allow.san.changes")
            .is_some_and(|b| b.eq_ignore_ascii_case("true")),
    }
}

/// A TLS server's configuration from `ssl.*` settings (a Kafka listener's, or an `https`
/// HTTP listener's), with the resolver that reloads its key store when the file changes
/// (call [`ReloadingCertResolver::reload_if_changed`] every `server::CERT_RELOAD_INTERVAL`).
pub fn tls_server(
    ssl: &SslSettings,
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCertResolver>), String> {
    let source = match (&ssl.keystore_location, &ssl.keystore_key, &ssl.keystore_certificate_chain) {
        (Some(path), _, _) => KeyStoreSource::File(path.clone()),
        (None, Some(key), Some(chain)) => KeyStoreSource::Inline {
            key_pem: key.clone(),
            chain_pem: chain.clone(),
        },
        _ => {
            return Err(
                "TLS needs ssl.keystore.location, or ssl.keystore.key and ssl.keystore.certificate.chain"
                    .to_string(),
            )
        }
    };
    let resolver =
        ReloadingCertResolver::new(source, ssl.key_password.clone()).map_err(|e| e.to_string())?;
    let trust = match (&ssl.truststore_location, &ssl.truststore_certificates) {
        (Some(path), _) => Some(TrustStore::from_file(path).map_err(|e| e.to_string())?),
        (None, Some(pem)) => Some(TrustStore::from_pem(pem).map_err(|e| e.to_string())?),
        (None, None) => None,
    };
    let settings = TlsServerSettings {
        client_auth: ClientAuth::parse(&ssl.client_auth).map_err(|e| e.to_string())?,
        enabled_protocols: ssl.enabled_protocols.clone(),
        cipher_suites: ssl.cipher_suites.clone(),
    };
    let config =
        server_config(resolver.clone(), trust.as_ref(), &settings).map_err(|e| e.to_string())?;
    Ok((config, resolver))
}

/// [`tls_server`] for a listener's reconfiguration (a dynamic key store or trust store): also
/// checks that the new key store's certificate names the subject and alternative names of
/// `served` (the end-entity certificate served now, DER) unless `ssl.allow.dn.changes` /
/// `ssl.allow.san.changes` allow a change. Kafka's message prefix.
pub fn tls_server_replacing(
    ssl: &SslSettings,
    served: &[u8],
) -> Result<(Arc<rustls::ServerConfig>, Arc<ReloadingCertResolver>), String> {
    let fail = |e: String| format!("Validation of dynamic config update of SSLFactory failed: {e}");
    let (config, resolver) = tls_server(ssl).map_err(fail)?;
    let chain = resolver.served_chain();
    let new = chain
        .first()
        .ok_or_else(|| fail("the key store holds no certificate".into()))?;
    check_same_identity(served, new, ssl.allow_dn_changes, ssl.allow_san_changes)
        .map_err(|e| fail(e.to_string()))?;
    Ok((config, resolver))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controller_listener_leaves_a_global_scram_out() {
        let config = BrokerConfig::from_pairs(&[
            ("node.id", "1"),
            (
                "listeners",
                "CLIENT://127.0.0.1:0,CONTROLLER://127.0.0.1:9999",
            ),
            ("controller.quorum.voters", "1@127.0.0.1:9999"),
            (
                "listener.security.protocol.map",
                "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            ),
            ("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-512"),
        ])
        .unwrap();
        let settings = listener_settings(&config);
        let mechanisms = |controller: bool| {
            let l = settings
                .iter()
                .find(|l| l.is_controller == controller)
                .unwrap();
            l.sasl.enabled_mechanisms.clone()
        };
        assert_eq!(mechanisms(true), ["PLAIN"]);
        assert_eq!(mechanisms(false), ["PLAIN", "SCRAM-SHA-512"]);
    }
}

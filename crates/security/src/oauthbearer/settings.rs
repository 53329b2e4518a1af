//! The validators' settings, with Kafka's names and defaults.
//!
//! Secured mode (a listener whose `sasl.server.callback.handler.class` is Kafka's
//! `OAuthBearerValidatorCallbackHandler`), broker settings (KIP-768):
//!
//! | key | default |
//! | --- | --- |
//! | `sasl.oauthbearer.jwks.endpoint.url` | required; `https:` or `file:` |
//! | `sasl.oauthbearer.jwks.endpoint.refresh.ms` | 3600000 |
//! | `sasl.oauthbearer.jwks.endpoint.retry.backoff.ms` | 100 |
//! | `sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms` | 10000 |
//! | `sasl.oauthbearer.clock.skew.seconds` | 30 |
//! | `sasl.oauthbearer.expected.audience` | empty: `aud` not checked; else a comma-separated list |
//! | `sasl.oauthbearer.expected.issuer` | empty: `iss` not checked |
//! | `sasl.oauthbearer.sub.claim.name` | `sub` |
//! | `sasl.oauthbearer.scope.claim.name` | `scope` |
//!
//! Unsecured mode (no callback handler class: Kafka's development default, unsigned tokens),
//! options of the listener's `OAuthBearerLoginModule` JAAS config:
//!
//! | option | default |
//! | --- | --- |
//! | `unsecuredValidatorPrincipalClaimName` | `sub` |
//! | `unsecuredValidatorScopeClaimName` | `scope` |
//! | `unsecuredValidatorRequiredScope` | empty; else space-separated, each must be granted |
//! | `unsecuredValidatorAllowableClockSkewMs` | 0 |

use crate::error::AuthError;
use crate::jaas::JaasConfig;

/// Secured-mode settings (see the module doc for keys and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerValidatorSettings {
    pub jwks_endpoint_url: String,
    pub jwks_endpoint_refresh_ms: i64,
    pub jwks_endpoint_retry_backoff_ms: i64,
    pub jwks_endpoint_retry_backoff_max_ms: i64,
    pub clock_skew_seconds: i64,
    /// Empty: the audience is not checked.
    pub expected_audience: Vec<String>,
    /// None: the issuer is not checked.
    pub expected_issuer: Option<String>,
    pub sub_claim_name: String,
    pub scope_claim_name: String,
}

impl Default for OAuthBearerValidatorSettings {
    fn default() -> Self {
        OAuthBearerValidatorSettings {
            jwks_endpoint_url: String::new(),
            jwks_endpoint_refresh_ms: 3_600_000,
            jwks_endpoint_retry_backoff_ms: 100,
            jwks_endpoint_retry_backoff_max_ms: 10_000,
            clock_skew_seconds: 30,
            expected_audience: Vec::new(),
            expected_issuer: None,
            sub_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
        }
    }
}

pub const JWKS_ENDPOINT_URL: &str = "sasl.oauthbearer.jwks.endpoint.url";
pub const JWKS_ENDPOINT_REFRESH_MS: &str = "sasl.oauthbearer.jwks.endpoint.refresh.ms";
pub const JWKS_ENDPOINT_RETRY_BACKOFF_MS: &str = "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms";
pub const JWKS_ENDPOINT_RETRY_BACKOFF_MAX_MS: &str =
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms";
pub const CLOCK_SKEW_SECONDS: &str = "sasl.oauthbearer.clock.skew.seconds";
pub const EXPECTED_AUDIENCE: &str = "sasl.oauthbearer.expected.audience";
pub const EXPECTED_ISSUER: &str = "sasl.oauthbearer.expected.issuer";
pub const SUB_CLAIM_NAME: &str = "sasl.oauthbearer.sub.claim.name";
pub const SCOPE_CLAIM_NAME: &str = "sasl.oauthbearer.scope.claim.name";

fn config_error(key: &str, why: &str) -> AuthError {
    AuthError::Config(format!("{key}: {why}"))
}

impl OAuthBearerValidatorSettings {
    /// Reads the settings through `lookup` (the broker's configuration, with any
    /// `listener.name.<listener>.oauthbearer.` prefix already resolved); absent keys keep
    /// Kafka's defaults. Fails naming the key whose value is wrong.
    pub fn from_config(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<OAuthBearerValidatorSettings, AuthError> {
        let mut s = OAuthBearerValidatorSettings::default();
        let text = |key: &str| lookup(key).map(|v| v.trim().to_string());
        s.jwks_endpoint_url = text(JWKS_ENDPOINT_URL)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| config_error(JWKS_ENDPOINT_URL, "required for OAUTHBEARER"))?;
        let number = |key: &str, default: i64, min: i64| -> Result<i64, AuthError> {
            match text(key) {
                None => Ok(default),
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if n >= min => Ok(n),
                    _ => Err(config_error(key, &format!("expected an integer >= {min}"))),
                },
            }
        };
        s.jwks_endpoint_refresh_ms =
            number(JWKS_ENDPOINT_REFRESH_MS, s.jwks_endpoint_refresh_ms, 1)?;
        s.jwks_endpoint_retry_backoff_ms = number(
            JWKS_ENDPOINT_RETRY_BACKOFF_MS,
            s.jwks_endpoint_retry_backoff_ms,
            0,
        )?;
        s.jwks_endpoint_retry_backoff_max_ms = number(
            JWKS_ENDPOINT_RETRY_BACKOFF_MAX_MS,
            s.jwks_endpoint_retry_backoff_max_ms,
            0,
        )?;
        s.clock_skew_seconds = number(CLOCK_SKEW_SECONDS, s.clock_skew_seconds, 0)?;
        if let Some(list) = text(EXPECTED_AUDIENCE) {
            s.expected_audience = list
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
        s.expected_issuer = text(EXPECTED_ISSUER).filter(|v| !v.is_empty());
        for (key, field) in [
            (SUB_CLAIM_NAME, &mut s.sub_claim_name),
            (SCOPE_CLAIM_NAME, &mut s.scope_claim_name),
        ] {
            match text(key) {
                None => {}
                Some(v) if v.is_empty() => return Err(config_error(key, "must not be empty")),
                Some(v) => *field = v,
            }
        }
        Ok(s)
    }
}

/// Unsecured-mode options (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredValidatorOptions {
    pub principal_claim_name: String,
    pub scope_claim_name: String,
    /// Every one must be in the token's scope.
    pub required_scope: Vec<String>,
    pub allowable_clock_skew_ms: i64,
}

impl Default for UnsecuredValidatorOptions {
    fn default() -> Self {
        UnsecuredValidatorOptions {
            principal_claim_name: "sub".into(),
            scope_claim_name: "scope".into(),
            required_scope: Vec::new(),
            allowable_clock_skew_ms: 0,
        }
    }
}

impl UnsecuredValidatorOptions {
    /// The `unsecuredValidator*` options of the listener's JAAS config.
    pub fn from_jaas(config: &JaasConfig) -> Result<UnsecuredValidatorOptions, AuthError> {
        let mut o = UnsecuredValidatorOptions::default();
        let option = |name: &str| config.option(name).map(str::trim);
        for (name, field) in [
            (
                "unsecuredValidatorPrincipalClaimName",
                &mut o.principal_claim_name,
            ),
            ("unsecuredValidatorScopeClaimName", &mut o.scope_claim_name),
        ] {
            match option(name) {
                None => {}
                Some("") => return Err(config_error(name, "must not be empty")),
                Some(v) => *field = v.to_string(),
            }
        }
        if let Some(scope) = option("unsecuredValidatorRequiredScope") {
            o.required_scope = scope.split_whitespace().map(str::to_string).collect();
        }
        if let Some(skew) = option("unsecuredValidatorAllowableClockSkewMs") {
            o.allowable_clock_skew_ms =
                skew.parse::<i64>()
                    .ok()
                    .filter(|ms| *ms >= 0)
                    .ok_or_else(|| {
                        config_error(
                            "unsecuredValidatorAllowableClockSkewMs",
                            "expected an integer >= 0",
                        )
                    })?;
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<OAuthBearerValidatorSettings, AuthError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OAuthBearerValidatorSettings::from_config(|key| map.get(key).cloned())
    }

    #[test]
    fn kafka_keys_are_read_with_kafka_defaults() {
        let s = settings(&[(JWKS_ENDPOINT_URL, "file:/etc/jwks.json")]).expect("settings");
        assert_eq!(
            s,
            OAuthBearerValidatorSettings {
                jwks_endpoint_url: "file:/etc/jwks.json".into(),
                ..OAuthBearerValidatorSettings::default()
            }
        );
        let s = settings(&[
            (JWKS_ENDPOINT_URL, "https://idp/keys"),
            (JWKS_ENDPOINT_REFRESH_MS, "60000"),
            (CLOCK_SKEW_SECONDS, "5"),
            (EXPECTED_AUDIENCE, "kafka, other,"),
            (EXPECTED_ISSUER, "https://idp"),
            (SUB_CLAIM_NAME, "client_id"),
            (SCOPE_CLAIM_NAME, "scp"),
        ])
        .expect("settings");
        assert_eq!(s.jwks_endpoint_refresh_ms, 60_000);
        assert_eq!(s.clock_skew_seconds, 5);
        assert_eq!(s.expected_audience, ["kafka", "other"]);
        assert_eq!(s.expected_issuer.as_deref(), Some("https://idp"));
        assert_eq!(
            (s.sub_claim_name.as_str(), s.scope_claim_name.as_str()),
            ("client_id", "scp")
        );

        for (pairs, key) in [
            (&[][..], JWKS_ENDPOINT_URL),
            (
                &[(JWKS_ENDPOINT_URL, "file:/x"), (CLOCK_SKEW_SECONDS, "-1")][..],
                CLOCK_SKEW_SECONDS,
            ),
            (
                &[
                    (JWKS_ENDPOINT_URL, "file:/x"),
                    (JWKS_ENDPOINT_REFRESH_MS, "soon"),
                ][..],
                JWKS_ENDPOINT_REFRESH_MS,
            ),
            (
                &[(JWKS_ENDPOINT_URL, "file:/x"), (SUB_CLAIM_NAME, " ")][..],
                SUB_CLAIM_NAME,
            ),
        ] {
            let e = settings(pairs).expect_err(key).to_string();
            assert!(e.starts_with(key), "{e}");
        }
    }

    #[test]
    fn unsecured_options_come_from_the_jaas_config() {
        let jaas = JaasConfig::parse(
            r#"org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required
               unsecuredValidatorPrincipalClaimName="client"
               unsecuredValidatorRequiredScope="read  write"
               unsecuredValidatorAllowableClockSkewMs="1500";"#,
        )
        .expect("jaas");
        let o = UnsecuredValidatorOptions::from_jaas(&jaas).expect("options");
        assert_eq!(o.principal_claim_name, "client");
        assert_eq!(o.scope_claim_name, "scope");
        assert_eq!(o.required_scope, ["read", "write"]);
        assert_eq!(o.allowable_clock_skew_ms, 1500);
        let bad = JaasConfig::parse("M required unsecuredValidatorAllowableClockSkewMs=-3;")
            .expect("jaas");
        assert!(UnsecuredValidatorOptions::from_jaas(&bad).is_err());
    }
}

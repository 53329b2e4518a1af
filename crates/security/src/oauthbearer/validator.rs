//! Bearer token validation, in Kafka's two broker-side modes.
//!
//! - Secured (KIP-768, Kafka's `OAuthBearerValidatorCallbackHandler`): a JWS signed by the
//!   identity provider with a key of its JWK set ([`JwksCache`]). Checked in this order, so
//!   that nothing of an unauthenticated payload is trusted before its signature: the form, the
//!   algorithm (see `jws.rs`: no `none`, no HS*), the key by `kid`, the signature, then the
//!   claims: `exp` and `iat` required (as Kafka's jose4j consumer requires them), `nbf`/`iat`
//!   not in the future, all within `sasl.oauthbearer.clock.skew.seconds`; `iss` and `aud` when
//!   expected; the principal and scope claims.
//! - Unsecured (KIP-255, Kafka's `OAuthBearerUnsecuredValidatorCallbackHandler`, for
//!   development): an unsigned JWT (`"alg":"none"`, empty signature). `exp` required, `iat`
//!   optional, both with `unsecuredValidatorAllowableClockSkewMs`; every scope of
//!   `unsecuredValidatorRequiredScope` must be granted. Anyone can mint such a token: Kafka
//!   uses it only when no validator class is configured, and so should the broker.
//!
//! Validation does no I/O: the secured mode reads the keys the cache holds.

use std::sync::Arc;

use super::claims::{self, Claims};
use super::jwks::KeyChoice;
use super::jwks_cache::JwksCache;
use super::jws::{parse_compact, JwsAlgorithm};
use super::settings::{OAuthBearerValidatorSettings, UnsecuredValidatorOptions};
use super::token::{for_log, TokenError, ValidatedToken};
use crate::error::AuthError;
use crate::jaas::JaasConfig;

/// A listener's token validator.
#[derive(Debug, Clone)]
pub struct OAuthBearerValidator {
    mode: Mode,
}

#[derive(Debug, Clone)]
enum Mode {
    Secured {
        settings: Arc<OAuthBearerValidatorSettings>,
        jwks: Arc<JwksCache>,
    },
    Unsecured(Arc<UnsecuredValidatorOptions>),
}

impl OAuthBearerValidator {
    /// Secured mode, checking signatures with the keys `jwks` holds (the broker refreshes it,
    /// see [`JwksCache::refresh_if_due`]).
    pub fn secured(
        settings: OAuthBearerValidatorSettings,
        jwks: Arc<JwksCache>,
    ) -> OAuthBearerValidator {
        OAuthBearerValidator {
            mode: Mode::Secured {
                settings: Arc::new(settings),
                jwks,
            },
        }
    }

    /// Unsecured mode with the `unsecuredValidator*` options of the listener's JAAS config.
    pub fn unsecured(jaas: &JaasConfig) -> Result<OAuthBearerValidator, AuthError> {
        Ok(OAuthBearerValidator::unsecured_with(
            UnsecuredValidatorOptions::from_jaas(jaas)?,
        ))
    }

    pub fn unsecured_with(options: UnsecuredValidatorOptions) -> OAuthBearerValidator {
        OAuthBearerValidator {
            mode: Mode::Unsecured(Arc::new(options)),
        }
    }

    /// The key cache of a secured validator.
    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        match &self.mode {
            Mode::Secured { jwks, .. } => Some(jwks),
            Mode::Unsecured(_) => None,
        }
    }

    /// Checks `token` at `now_ms` (ms since the Unix epoch).
    pub fn validate(&self, token: &str, now_ms: i64) -> Result<ValidatedToken, TokenError> {
        match &self.mode {
            Mode::Secured { settings, jwks } => validate_secured(settings, jwks, token, now_ms),
            Mode::Unsecured(options) => validate_unsecured(options, token, now_ms),
        }
    }
}

fn validate_secured(
    settings: &OAuthBearerValidatorSettings,
    jwks: &JwksCache,
    token: &str,
    now_ms: i64,
) -> Result<ValidatedToken, TokenError> {
    let jws = parse_compact(token)?;
    let Some(alg) = JwsAlgorithm::from_name(&jws.alg) else {
        return Err(TokenError::UnsupportedAlgorithm(for_log(&jws.alg)));
    };
    let keys = jwks.keys();
    if keys.is_empty() {
        jwks.note_unknown_kid();
        return Err(TokenError::KeysUnavailable);
    }
    let key = match keys.choose(jws.kid.as_deref(), alg) {
        KeyChoice::Found(key) => key,
        KeyChoice::UnknownKid => {
            jwks.note_unknown_kid();
            return Err(TokenError::UnknownKey(for_log(
                jws.kid.as_deref().unwrap_or_default(),
            )));
        }
        KeyChoice::WrongAlgorithm => {
            return Err(TokenError::NoSuitableKey(format!(
                "the key with the token's kid does not serve {}",
                alg.name()
            )))
        }
        KeyChoice::Ambiguous => {
            return Err(TokenError::NoSuitableKey(format!(
                "the token has no kid and not exactly one key serves {}",
                alg.name()
            )))
        }
    };
    if !key.key.verify(alg, jws.signing_input, &jws.signature) {
        return Err(TokenError::BadSignature);
    }
    let claims = &jws.claims;
    let skew_ms = settings.clock_skew_seconds.saturating_mul(1000);
    let times = claims::check_times(claims, now_ms, skew_ms, true)?;
    if let Some(issuer) = &settings.expected_issuer {
        claims::check_issuer(claims, issuer)?;
    }
    if !settings.expected_audience.is_empty() {
        claims::check_audience(claims, &settings.expected_audience)?;
    }
    finish(
        claims,
        &settings.sub_claim_name,
        &settings.scope_claim_name,
        times,
    )
}

fn validate_unsecured(
    options: &UnsecuredValidatorOptions,
    token: &str,
    now_ms: i64,
) -> Result<ValidatedToken, TokenError> {
    let jws = parse_compact(token)?;
    if jws.alg != "none" {
        return Err(TokenError::UnsupportedAlgorithm(for_log(&jws.alg)));
    }
    if !jws.signature.is_empty() {
        return Err(TokenError::Malformed(
            "an unsecured JWT has an empty signature".into(),
        ));
    }
    let claims = &jws.claims;
    let times = claims::check_times(claims, now_ms, options.allowable_clock_skew_ms, false)?;
    let token = finish(
        claims,
        &options.principal_claim_name,
        &options.scope_claim_name,
        times,
    )?;
    if options
        .required_scope
        .iter()
        .any(|required| !token.scope.contains(required))
    {
        // The client is told the whole required scope, as Kafka tells it.
        return Err(TokenError::InsufficientScope(
            options.required_scope.clone(),
        ));
    }
    Ok(token)
}

fn finish(
    claims: &Claims,
    principal_claim: &str,
    scope_claim: &str,
    times: claims::TokenTimes,
) -> Result<ValidatedToken, TokenError> {
    Ok(ValidatedToken {
        principal_name: claims::principal(claims, principal_claim)?,
        scope: claims::scope(claims, scope_claim)?,
        expiration_ms: times.expiration_ms,
        issued_at_ms: times.issued_at_ms,
    })
}

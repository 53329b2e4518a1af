//! The JWT claim checks both validators share (RFC 7519 section 4.1, Kafka's
//! `ClaimValidationUtils` and `OAuthBearerValidationUtils`).
//!
//! Times are NumericDates (seconds since the Unix epoch, possibly fractional), compared in
//! milliseconds with an allowed clock skew:
//! - `exp` is required; the token is expired once `now - skew >= exp`.
//! - `nbf`, if present, must satisfy `nbf <= now + skew`.
//! - `iat`, required where the caller says so (Kafka's secured validator requires it), must
//!   satisfy `iat <= now + skew`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::token::TokenError;

pub(crate) type Claims = Map<String, Value>;

/// The times a token is valid between, in ms since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenTimes {
    pub expiration_ms: i64,
    pub issued_at_ms: Option<i64>,
}

/// A NumericDate claim in ms; None when absent.
fn numeric_date_ms(claims: &Claims, name: &str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            // `as` saturates: a date past the year 292 million is simply far away.
            Some(seconds) if seconds.is_finite() => Ok(Some((seconds * 1000.0).floor() as i64)),
            _ => Err(TokenError::BadClaim(name.into())),
        },
        Some(_) => Err(TokenError::BadClaim(name.into())),
    }
}

/// Checks `exp`, `nbf` and `iat` against `now_ms` (see the module doc).
pub(crate) fn check_times(
    claims: &Claims,
    now_ms: i64,
    skew_ms: i64,
    require_iat: bool,
) -> Result<TokenTimes, TokenError> {
    let Some(expiration_ms) = numeric_date_ms(claims, "exp")? else {
        return Err(TokenError::MissingClaim("exp".into()));
    };
    let issued_at_ms = numeric_date_ms(claims, "iat")?;
    if require_iat && issued_at_ms.is_none() {
        return Err(TokenError::MissingClaim("iat".into()));
    }
    if now_ms.saturating_sub(skew_ms) >= expiration_ms {
        return Err(TokenError::Expired(now_ms.saturating_sub(expiration_ms)));
    }
    let latest_start_ms = now_ms.saturating_add(skew_ms);
    if numeric_date_ms(claims, "nbf")?.is_some_and(|nbf| nbf > latest_start_ms) {
        return Err(TokenError::NotYetValid("nbf"));
    }
    if issued_at_ms.is_some_and(|iat| iat > latest_start_ms) {
        return Err(TokenError::NotYetValid("iat"));
    }
    Ok(TokenTimes {
        expiration_ms,
        issued_at_ms,
    })
}

/// The principal claim: a string, trimmed, not empty.
pub(crate) fn principal(claims: &Claims, name: &str) -> Result<String, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(TokenError::MissingClaim(name.into())),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(_) => Err(TokenError::BadClaim(name.into())),
    }
}

/// The scope claim: a space-separated string or an array of strings; empty when absent.
pub(crate) fn scope(claims: &Claims, name: &str) -> Result<BTreeSet<String>, TokenError> {
    let bad = || TokenError::BadClaim(name.into());
    match claims.get(name) {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_string).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item.as_str().map(str::trim) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => Err(bad()),
            })
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// `iss` equals `expected`.
pub(crate) fn check_issuer(claims: &Claims, expected: &str) -> Result<(), TokenError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == expected => Ok(()),
        None => Err(TokenError::MissingClaim("iss".into())),
        Some(_) => Err(TokenError::WrongIssuer),
    }
}

/// `aud` (a string or an array of strings) holds one of `expected`.
pub(crate) fn check_audience(claims: &Claims, expected: &[String]) -> Result<(), TokenError> {
    let matches = |aud: &str| expected.iter().any(|e| e == aud);
    match claims.get("aud") {
        None => Err(TokenError::MissingClaim("aud".into())),
        Some(Value::String(aud)) if matches(aud) => Ok(()),
        Some(Value::Array(auds)) if auds.iter().filter_map(Value::as_str).any(matches) => Ok(()),
        Some(_) => Err(TokenError::WrongAudience),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        serde_json::from_str(json).expect("claims")
    }

    #[test]
    fn times_are_checked_with_the_skew() {
        let c = claims(r#"{"exp":100,"nbf":50,"iat":40.5}"#);
        let ok = check_times(&c, 60_000, 0, true).expect("valid");
        assert_eq!(ok.expiration_ms, 100_000);
        assert_eq!(ok.issued_at_ms, Some(40_500));
        assert_eq!(
            check_times(&c, 100_000, 0, true),
            Err(TokenError::Expired(0))
        );
        assert!(check_times(&c, 100_000, 1, true).is_ok());
        assert_eq!(
            check_times(&c, 49_000, 0, true),
            Err(TokenError::NotYetValid("nbf"))
        );
        assert!(check_times(&c, 49_000, 1_000, true).is_ok());
        let future_iat = claims(r#"{"exp":100,"iat":90}"#);
        assert_eq!(
            check_times(&future_iat, 80_000, 5_000, false),
            Err(TokenError::NotYetValid("iat"))
        );
        assert_eq!(
            check_times(&claims(r#"{"exp":100}"#), 0, 0, true),
            Err(TokenError::MissingClaim("iat".into()))
        );
        assert!(check_times(&claims(r#"{"exp":100}"#), 0, 0, false).is_ok());
        assert_eq!(
            check_times(&claims(r#"{"iat":1}"#), 0, 0, false),
            Err(TokenError::MissingClaim("exp".into()))
        );
        for bad in [
            r#"{"exp":"100"}"#,
            r#"{"exp":100,"nbf":true}"#,
            r#"{"exp":1e400}"#,
        ] {
            if let Ok(c) = serde_json::from_str::<Claims>(bad) {
                assert!(matches!(
                    check_times(&c, 0, 0, false),
                    Err(TokenError::BadClaim(_))
                ));
            }
        }
        // A date past i64 milliseconds saturates instead of overflowing.
        assert!(check_times(&claims(r#"{"exp":1e300}"#), 0, 0, false).is_ok());
    }

    #[test]
    fn principal_scope_issuer_and_audience() {
        let c = claims(
            r#"{"sub":" alice ","scope":"read  write","scp":["a","b"],"bad":[1],
                "iss":"https://idp","aud":["x","kafka"],"empty":" "}"#,
        );
        assert_eq!(principal(&c, "sub"), Ok("alice".into()));
        assert_eq!(
            principal(&c, "nope"),
            Err(TokenError::MissingClaim("nope".into()))
        );
        assert_eq!(
            principal(&c, "empty"),
            Err(TokenError::BadClaim("empty".into()))
        );
        assert_eq!(
            principal(&c, "aud"),
            Err(TokenError::BadClaim("aud".into()))
        );
        let words = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(scope(&c, "scope"), Ok(words(&["read", "write"])));
        assert_eq!(scope(&c, "scp"), Ok(words(&["a", "b"])));
        assert_eq!(scope(&c, "none"), Ok(BTreeSet::new()));
        assert!(scope(&c, "bad").is_err());
        assert!(check_issuer(&c, "https://idp").is_ok());
        assert_eq!(
            check_issuer(&c, "https://other"),
            Err(TokenError::WrongIssuer)
        );
        assert!(check_audience(&c, &["kafka".into()]).is_ok());
        assert_eq!(
            check_audience(&c, &["other".into()]),
            Err(TokenError::WrongAudience)
        );
        let single = claims(r#"{"aud":"kafka"}"#);
        assert!(check_audience(&single, &["a".into(), "kafka".into()]).is_ok());
        assert_eq!(
            check_audience(&claims("{}"), &["kafka".into()]),
            Err(TokenError::MissingClaim("aud".into()))
        );
    }
}

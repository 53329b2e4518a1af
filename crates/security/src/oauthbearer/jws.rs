//! JWS compact serialization (RFC 7515 section 7.1), the form of every JWT a Kafka client
//! sends:
//!
//! ```text
//! BASE64URL(header JSON) '.' BASE64URL(claims JSON) '.' BASE64URL(signature)
//! ```
//!
//! base64url without padding (RFC 7515 section 2). The signature covers the ASCII bytes of the
//! first two parts with their dot. An unsecured JWT (RFC 7519 section 6, `"alg":"none"`) has an
//! empty third part.
//!
//! Algorithms (RFC 7518 section 3): RS256/384/512 (RSASSA-PKCS1-v1_5), PS256/384/512
//! (RSASSA-PSS), ES256 (P-256) and ES384 (P-384), whose signatures are the fixed-width `r || s`.
//! RSA keys must have a 2048 to 8192-bit modulus (ring's bounds). `none` is accepted only by
//! the unsecured validator; HS* (a secret shared with every client) and ES512 are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature;
use serde_json::{Map, Value};

use super::TokenError;

/// A JWS signature algorithm the secured validator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

/// The key type an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyFamily {
    Rsa,
    EcP256,
    EcP384,
}

impl JwsAlgorithm {
    /// The `alg` header value's algorithm; None for one Sluice does not check (`none`, HS*,
    /// ES512, anything unknown).
    pub fn from_name(name: &str) -> Option<JwsAlgorithm> {
        Some(match name {
            "RS256" => JwsAlgorithm::Rs256,
            "RS384" => JwsAlgorithm::Rs384,
            "RS512" => JwsAlgorithm::Rs512,
            "PS256" => JwsAlgorithm::Ps256,
            "PS384" => JwsAlgorithm::Ps384,
            "PS512" => JwsAlgorithm::Ps512,
            "ES256" => JwsAlgorithm::Es256,
            "ES384" => JwsAlgorithm::Es384,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            JwsAlgorithm::Rs256 => "RS256",
            JwsAlgorithm::Rs384 => "RS384",
            JwsAlgorithm::Rs512 => "RS512",
            JwsAlgorithm::Ps256 => "PS256",
            JwsAlgorithm::Ps384 => "PS384",
            JwsAlgorithm::Ps512 => "PS512",
            JwsAlgorithm::Es256 => "ES256",
            JwsAlgorithm::Es384 => "ES384",
        }
    }

    pub(crate) fn family(self) -> KeyFamily {
        match self {
            JwsAlgorithm::Es256 => KeyFamily::EcP256,
            JwsAlgorithm::Es384 => KeyFamily::EcP384,
            _ => KeyFamily::Rsa,
        }
    }

    fn rsa_params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            JwsAlgorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            JwsAlgorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            JwsAlgorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            JwsAlgorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            JwsAlgorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            JwsAlgorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            JwsAlgorithm::Es256 | JwsAlgorithm::Es384 => return None,
        })
    }

    fn ecdsa_params(self) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
        match self {
            JwsAlgorithm::Es256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
            JwsAlgorithm::Es384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
            _ => None,
        }
    }
}

/// The public key material of one JWK, ready for ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `0x04 || x || y`.
    Ec { family: KeyFamily, point: Vec<u8> },
}

impl PublicKey {
    pub(crate) fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa { .. } => KeyFamily::Rsa,
            PublicKey::Ec { family, .. } => *family,
        }
    }

    /// Whether `signature` over `message` checks with this key under `alg`.
    pub(crate) fn verify(&self, alg: JwsAlgorithm, message: &[u8], sig: &[u8]) -> bool {
        match (self, alg.rsa_params(), alg.ecdsa_params()) {
            (PublicKey::Rsa { n, e }, Some(params), _) => {
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            (PublicKey::Ec { family, point }, _, Some(params)) if *family == alg.family() => {
                signature::UnparsedPublicKey::new(params, point)
                    .verify(message, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// A compact JWS split and decoded; nothing checked but its form.
#[derive(Debug)]
pub(crate) struct CompactJws<'a> {
    /// The `alg` header value.
    pub alg: String,
    /// The `kid` header value.
    pub kid: Option<String>,
    /// The claims (the payload, a JSON object).
    pub claims: Map<String, Value>,
    /// What the signature covers: `header.payload` as sent.
    pub signing_input: &'a [u8],
    pub signature: Vec<u8>,
}

/// The longest `kid` kept: longer ones are refused rather than copied around.
pub(crate) const MAX_KID_LEN: usize = 256;

fn b64(part: &str, what: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(format!("the {what} is not base64url")))
}

fn json_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, TokenError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// Splits and decodes a compact JWS.
pub(crate) fn parse_compact(token: &str) -> Result<CompactJws<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "a JWT has three dot-separated parts".into(),
        ));
    };
    let signing_input = &token.as_bytes()[..header.len() + 1 + payload.len()];
    let header = json_object(&b64(header, "JWT header")?, "JWT header")?;
    let claims = json_object(&b64(payload, "JWT payload")?, "JWT payload")?;
    let signature = b64(sig, "JWT signature")?;
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err(TokenError::Malformed(
            "the JWT header has no 'alg' string".into(),
        ));
    };
    if header.contains_key("crit") {
        // RFC 7515 section 4.1.11: extensions we would have to understand; we know none.
        return Err(TokenError::Malformed(
            "the JWT header has critical extensions ('crit')".into(),
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= MAX_KID_LEN => Some(kid.clone()),
        Some(_) => {
            return Err(TokenError::Malformed(
                "the JWT header's 'kid' is not a short string".into(),
            ))
        }
    };
    Ok(CompactJws {
        alg: alg.clone(),
        kid,
        claims,
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn a_compact_jws_splits_into_its_parts() {
        let token = format!(
            "{}.{}.{}",
            enc(r#"{"alg":"ES256","kid":"k1"}"#),
            enc(r#"{"sub":"alice"}"#),
            URL_SAFE_NO_PAD.encode([1, 2, 3])
        );
        let jws = parse_compact(&token).expect("parses");
        assert_eq!(jws.alg, "ES256");
        assert_eq!(jws.kid.as_deref(), Some("k1"));
        assert_eq!(jws.claims["sub"], "alice");
        assert_eq!(jws.signature, [1, 2, 3]);
        let dot = token.rfind('.').expect("dot");
        assert_eq!(jws.signing_input, &token.as_bytes()[..dot]);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let h = enc(r#"{"alg":"RS256"}"#);
        let c = enc("{}");
        for bad in [
            String::new(),
            "a.b".into(),
            format!("{h}.{c}.x.y"),
            format!("{h}.{c}.!!"),
            format!("{h}=.{c}."),
            format!("{}.{c}.", enc("not json")),
            format!("{}.{c}.", enc("[1]")),
            format!("{h}.{}.", enc("\"string\"")),
            format!("{}.{c}.", enc(r#"{"alg":5}"#)),
            format!("{}.{c}.", enc(r#"{"typ":"JWT"}"#)),
            format!("{}.{c}.", enc(r#"{"alg":"RS256","kid":7}"#)),
            format!("{}.{c}.", enc(r#"{"alg":"RS256","crit":["exp"]}"#)),
        ] {
            assert!(
                matches!(parse_compact(&bad), Err(TokenError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn only_asymmetric_algorithms_are_known() {
        for name in [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
        ] {
            assert_eq!(JwsAlgorithm::from_name(name).map(|a| a.name()), Some(name));
        }
        for name in [
            "none", "None", "HS256", "HS512", "ES512", "EdDSA", "rs256", "",
        ] {
            assert_eq!(JwsAlgorithm::from_name(name), None, "{name}");
        }
    }
}

//! JSON Web Key sets (RFC 7517 section 5): the identity provider's public keys, `{"keys":
//! [...]}`, from `sasl.oauthbearer.jwks.endpoint.url`.
//!
//! Of each key (RFC 7517 section 4, RFC 7518 section 6) Sluice reads `kty`, `kid`, `use`,
//! `key_ops`, `alg` and the public parameters: `n` and `e` for `"kty":"RSA"`; `crv` (`P-256` or
//! `P-384`), `x` and `y` for `"kty":"EC"`, all base64url. A key is left out, not an error, when
//! its `use` is not `sig`, its `key_ops` lack `verify`, its `kty` or curve is one Sluice cannot
//! check (`oct`, `OKP`, `P-521`), or its parameters do not decode: a provider may publish keys
//! for other purposes beside the signing keys.
//!
//! A token's `kid` picks its key. A token without `kid` is checked with the only key that suits
//! its algorithm, and refused when several do (trying each would let a client make the broker
//! check one signature many times).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use super::jws::{JwsAlgorithm, KeyFamily, PublicKey};

/// The most keys kept from one set; a provider publishes a handful.
pub const MAX_JWKS_KEYS: usize = 256;

/// One usable verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jwk {
    pub kid: Option<String>,
    /// The key's `alg`, if it names one: it then serves that algorithm only.
    pub alg: Option<String>,
    pub key: PublicKey,
}

impl Jwk {
    fn suits(&self, alg: JwsAlgorithm) -> bool {
        self.key.family() == alg.family() && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }
}

/// The usable keys of a JWK set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    /// Keys in the document that were left out (see the module doc), for the log.
    skipped: usize,
}

/// Why a key cannot be chosen for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyChoice<'a> {
    Found(&'a Jwk),
    /// No key has the token's `kid` (a refresh may bring it).
    UnknownKid,
    /// The key with the token's `kid` does not serve the token's algorithm.
    WrongAlgorithm,
    /// No `kid`, and not exactly one key suits the algorithm.
    Ambiguous,
}

impl JwkSet {
    /// Parses a JWK set document; fails only when it is not `{"keys":[...]}`.
    pub fn parse(document: &[u8]) -> Result<JwkSet, String> {
        let Ok(Value::Object(mut root)) = serde_json::from_slice::<Value>(document) else {
            return Err("the JWK set is not a JSON object".into());
        };
        let Some(Value::Array(entries)) = root.remove("keys") else {
            return Err("the JWK set has no 'keys' array".into());
        };
        let mut set = JwkSet::default();
        for entry in entries {
            match entry {
                Value::Object(fields) if set.keys.len() < MAX_JWKS_KEYS => {
                    match parse_key(&fields) {
                        Some(key) => set.keys.push(key),
                        None => set.skipped += 1,
                    }
                }
                _ => set.skipped += 1,
            }
        }
        Ok(set)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys of the document were left out.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The `kid`s of the usable keys (for logs: they are public).
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid.as_deref())
    }

    pub(crate) fn choose(&self, kid: Option<&str>, alg: JwsAlgorithm) -> KeyChoice<'_> {
        match kid {
            Some(kid) => {
                let mut with_kid = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let Some(first) = with_kid.next() else {
                    return KeyChoice::UnknownKid;
                };
                // A provider may publish one kid for an RSA and an EC key.
                std::iter::once(first)
                    .chain(with_kid)
                    .find(|k| k.suits(alg))
                    .map_or(KeyChoice::WrongAlgorithm, KeyChoice::Found)
            }
            None => {
                let mut suitable = self.keys.iter().filter(|k| k.suits(alg));
                match (suitable.next(), suitable.next()) {
                    (Some(only), None) => KeyChoice::Found(only),
                    _ => KeyChoice::Ambiguous,
                }
            }
        }
    }
}

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

fn b64_param(fields: &Map<String, Value>, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(string(fields, name)?).ok()
}

fn without_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// One JWK; None when it is to be left out.
fn parse_key(fields: &Map<String, Value>) -> Option<Jwk> {
    if fields.get("use").is_some_and(|u| u.as_str() != Some("sig")) {
        return None;
    }
    if let Some(ops) = fields.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return None;
        }
    }
    let kid = match fields.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return None,
    };
    let alg = match fields.get("alg") {
        None => None,
        Some(Value::String(alg)) => Some(alg.clone()),
        Some(_) => return None,
    };
    let key = match string(fields, "kty")? {
        "RSA" => {
            let n = without_leading_zeros(b64_param(fields, "n")?);
            let e = without_leading_zeros(b64_param(fields, "e")?);
            if n.is_empty() || e.is_empty() {
                return None;
            }
            PublicKey::Rsa { n, e }
        }
        "EC" => {
            let (family, len) = match string(fields, "crv")? {
                "P-256" => (KeyFamily::EcP256, 32),
                "P-384" => (KeyFamily::EcP384, 48),
                _ => return None,
            };
            let x = b64_param(fields, "x")?;
            let y = b64_param(fields, "y")?;
            if x.len() != len || y.len() != len {
                return None;
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            PublicKey::Ec { family, point }
        }
        _ => return None,
    };
    Some(Jwk { kid, alg, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn set(keys: &str) -> JwkSet {
        JwkSet::parse(format!(r#"{{"keys":[{keys}]}}"#).as_bytes()).expect("parses")
    }

    #[test]
    fn usable_keys_are_kept_and_others_left_out() {
        let s = set(&format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"ec","use":"sig"}},
               {{"kty":"RSA","n":"AAEC","e":"AQAB","kid":"rsa","alg":"RS256"}},
               {{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"enc","use":"enc"}},
               {{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","key_ops":["sign"]}},
               {{"kty":"EC","crv":"P-521","x":"{X}","y":"{Y}"}},
               {{"kty":"EC","crv":"P-384","x":"{X}","y":"{Y}"}},
               {{"kty":"oct","k":"c2VjcmV0"}},
               {{"kty":"OKP","crv":"Ed25519","x":"{X}"}},
               {{"kty":"RSA","n":"!!","e":"AQAB"}},
               {{"n":"AQAB"}},
               "not an object""#
        ));
        assert_eq!(s.kids().collect::<Vec<_>>(), ["ec", "rsa"]);
        assert_eq!(s.skipped(), 9);
        let Some(Jwk {
            key: PublicKey::Rsa { n, e },
            ..
        }) = s.keys.get(1)
        else {
            panic!("an RSA key")
        };
        assert_eq!((n.as_slice(), e.as_slice()), (&[1, 2][..], &[1, 0, 1][..]));
        let Some(Jwk {
            key: PublicKey::Ec { point, .. },
            ..
        }) = s.keys.first()
        else {
            panic!("an EC key")
        };
        assert_eq!((point.len(), point[0]), (65, 4));
    }

    #[test]
    fn a_kid_picks_its_key_and_without_one_a_single_key_must_suit() {
        let s = set(&format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"ec"}},
               {{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r1","alg":"RS256"}},
               {{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r2"}}"#
        ));
        assert!(
            matches!(s.choose(Some("ec"), JwsAlgorithm::Es256), KeyChoice::Found(k) if k.kid.as_deref() == Some("ec"))
        );
        assert_eq!(
            s.choose(Some("ec"), JwsAlgorithm::Es384),
            KeyChoice::WrongAlgorithm
        );
        assert_eq!(
            s.choose(Some("r1"), JwsAlgorithm::Rs512),
            KeyChoice::WrongAlgorithm
        );
        assert!(matches!(
            s.choose(Some("r2"), JwsAlgorithm::Rs512),
            KeyChoice::Found(_)
        ));
        assert_eq!(
            s.choose(Some("nope"), JwsAlgorithm::Rs256),
            KeyChoice::UnknownKid
        );
        assert!(matches!(
            s.choose(None, JwsAlgorithm::Es256),
            KeyChoice::Found(_)
        ));
        assert_eq!(s.choose(None, JwsAlgorithm::Rs256), KeyChoice::Ambiguous);
        assert!(
            matches!(s.choose(None, JwsAlgorithm::Ps256), KeyChoice::Found(k) if k.kid.as_deref() == Some("r2"))
        );
    }

    #[test]
    fn documents_that_are_not_key_sets_are_refused() {
        for bad in [&b""[..], b"[]", b"{}", br#"{"keys":{}}"#, b"\xff"] {
            assert!(JwkSet::parse(bad).is_err());
        }
        let many = vec![format!(r#"{{"kty":"RSA","n":"AQAB","e":"AQAB"}}"#); MAX_JWKS_KEYS + 3];
        let s = set(&many.join(","));
        assert_eq!((s.len(), s.skipped()), (MAX_JWKS_KEYS, 3));
    }
}

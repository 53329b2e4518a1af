//! The client's one message of SASL/OAUTHBEARER (RFC 7628 section 3.1), byte by byte:
//!
//! ```text
//! n,a=<authzid>,\x01auth=Bearer <token>\x01<key>=<value>\x01 ... \x01
//! ```
//!
//! - `n,`: the GS2 header's channel-binding flag. Kafka (and Sluice) support no channel binding,
//!   so `y,` and `p=...` are refused.
//! - `a=<authzid>,` or just `,`: an optional authorization id, a SASL name in which `=2C`
//!   stands for `,` and `=3D` for `=`. Kafka refuses one that is not the token's principal.
//! - `\x01` (kvsep), then `key=value\x01` pairs, then a final `\x01`. Keys are ASCII letters;
//!   values are printable ASCII, space, tab, CR or LF (RFC 7628's `value`). The key `auth` is
//!   required and holds `Bearer <token>` (the scheme in any case, RFC 7235), the token made of
//!   RFC 6750's b64token characters. Every other pair is a SASL extension (KIP-342), returned
//!   as it is for the broker to use or ignore.
//!
//! The parser reads bytes the network sent before any authentication: it never panics, bounds
//! the message and the number of extensions, and says what is wrong without echoing the token.

use std::collections::BTreeMap;

use crate::error::AuthError;
use crate::secret::Secret;

/// The largest client message read: Kafka's default `sasl.server.max.receive.size` (512 KiB),
/// which a large JWT with many claims stays well below.
pub const MAX_CLIENT_RESPONSE_BYTES: usize = 512 * 1024;

/// The most SASL extensions one message may carry (Kafka has no limit; a client needs a few).
pub const MAX_EXTENSIONS: usize = 64;

/// The separator of RFC 7628's key/value pairs (`kvsep`, control-A).
pub const KVSEP: u8 = 0x01;

/// A parsed client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInitialResponse {
    /// The `a=` authorization id, unescaped; None when absent or empty.
    pub authorization_id: Option<String>,
    /// The bearer token (a JWT for Kafka's validators), kept out of logs.
    pub token: Secret,
    /// The SASL extensions: every pair but `auth`, unvalidated.
    pub extensions: BTreeMap<String, String>,
}

impl ClientInitialResponse {
    /// The token as text (its characters were checked to be ASCII by the parser).
    pub fn token_str(&self) -> &str {
        std::str::from_utf8(self.token.expose()).unwrap_or("")
    }
}

fn malformed(why: &str) -> AuthError {
    AuthError::Malformed(format!("invalid OAUTHBEARER message: {why}"))
}

/// Parses the client's message (see the module doc for the grammar).
pub fn parse_client_initial_response(message: &[u8]) -> Result<ClientInitialResponse, AuthError> {
    if message.len() > MAX_CLIENT_RESPONSE_BYTES {
        return Err(malformed("the message is too large"));
    }
    let rest = match message {
        [b'n', b',', rest @ ..] => rest,
        [b'y', b',', ..] | [b'p', b'=', ..] => {
            return Err(malformed("channel binding is not supported"))
        }
        _ => return Err(malformed("it must start with the GS2 header 'n,'")),
    };
    let (authorization_id, rest) = parse_authzid(rest)?;
    let Some((&KVSEP, mut rest)) = rest.split_first() else {
        return Err(malformed("the GS2 header must be followed by %x01"));
    };
    let mut token = None;
    let mut extensions = BTreeMap::new();
    loop {
        let Some(end) = rest.iter().position(|b| *b == KVSEP) else {
            return Err(malformed("the key/value pairs are not terminated by %x01"));
        };
        let (pair, after) = (&rest[..end], &rest[end + 1..]);
        if pair.is_empty() {
            if !after.is_empty() {
                return Err(malformed("bytes follow the final %x01"));
            }
            break;
        }
        let (key, value) = parse_pair(pair)?;
        if key == "auth" {
            if token.is_some() {
                return Err(malformed("the key 'auth' appears twice"));
            }
            token = Some(parse_auth(value)?);
        } else {
            if extensions.len() >= MAX_EXTENSIONS {
                return Err(malformed("too many extensions"));
            }
            if extensions
                .insert(key.to_string(), value.to_string())
                .is_some()
            {
                return Err(malformed("an extension appears twice"));
            }
        }
        rest = after;
    }
    let Some(token) = token else {
        return Err(malformed("the key 'auth' is missing"));
    };
    Ok(ClientInitialResponse {
        authorization_id,
        token,
        extensions,
    })
}

/// `a=<saslname>,` or `,`; the authorization id and what follows the comma.
fn parse_authzid(rest: &[u8]) -> Result<(Option<String>, &[u8]), AuthError> {
    if let Some(after) = rest.strip_prefix(b",") {
        return Ok((None, after));
    }
    let Some(after_a) = rest.strip_prefix(b"a=") else {
        return Err(malformed("the GS2 header must hold 'a=<authzid>,' or ','"));
    };
    let Some(end) = after_a.iter().position(|b| *b == b',') else {
        return Err(malformed("the authorization id is not terminated by ','"));
    };
    let raw = std::str::from_utf8(&after_a[..end])
        .map_err(|_| malformed("the authorization id is not UTF-8"))?;
    let name = unescape_saslname(raw)?;
    Ok(((!name.is_empty()).then_some(name), &after_a[end + 1..]))
}

/// RFC 5801's saslname: `=2C` is `,`, `=3D` is `=`; any other `=` and control characters are
/// refused.
fn unescape_saslname(raw: &str) -> Result<String, AuthError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '=' => {
                let escape: String = chars.by_ref().take(2).collect();
                match escape.as_str() {
                    "2C" => out.push(','),
                    "3D" => out.push('='),
                    _ => return Err(malformed("the authorization id has a bad '=' escape")),
                }
            }
            c if c.is_control() => {
                return Err(malformed("the authorization id holds a control character"))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `key=value`: key of ASCII letters, value of RFC 7628's value characters.
fn parse_pair(pair: &[u8]) -> Result<(&str, &str), AuthError> {
    let Some(eq) = pair.iter().position(|b| *b == b'=') else {
        return Err(malformed("a key/value pair has no '='"));
    };
    let (key, value) = (&pair[..eq], &pair[eq + 1..]);
    if key.is_empty() || !key.iter().all(u8::is_ascii_alphabetic) {
        return Err(malformed("a key is not made of ASCII letters"));
    }
    if value.is_empty()
        || !value
            .iter()
            .all(|b| matches!(b, 0x21..=0x7e | b' ' | b'\t' | b'\r' | b'\n'))
    {
        return Err(malformed(
            "a value is empty or holds characters RFC 7628 does not allow",
        ));
    }
    // Both are ASCII, checked just above.
    let key = std::str::from_utf8(key).map_err(|_| malformed("a key is not ASCII"))?;
    let value = std::str::from_utf8(value).map_err(|_| malformed("a value is not ASCII"))?;
    Ok((key, value))
}

/// `Bearer <b64token>`, the scheme in any case.
fn parse_auth(value: &str) -> Result<Secret, AuthError> {
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(malformed("'auth' must be 'Bearer <token>'"));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed("the 'auth' scheme is not Bearer"));
    }
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err(malformed("the bearer token is empty or not a b64token"));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(message: &[u8]) -> ClientInitialResponse {
        parse_client_initial_response(message).expect("parses")
    }

    #[test]
    fn rfc_7628_and_kafka_messages_parse() {
        let m = parsed(b"n,,\x01auth=Bearer abc.def.ghi\x01\x01");
        assert_eq!(m.authorization_id, None);
        assert_eq!(m.token_str(), "abc.def.ghi");
        assert!(m.extensions.is_empty());

        let m = parsed(b"n,a=user=2Cx=3Dy,\x01auth=bearer t-_~+/==\x01traceId=a b\x01c=1\x01\x01");
        assert_eq!(m.authorization_id.as_deref(), Some("user,x=y"));
        assert_eq!(m.token_str(), "t-_~+/==");
        assert_eq!(
            m.extensions.into_iter().collect::<Vec<_>>(),
            [("c".into(), "1".into()), ("traceId".into(), "a b".into())]
        );
        // An empty authzid is no authzid.
        assert_eq!(
            parsed(b"n,a=,\x01auth=Bearer t\x01\x01").authorization_id,
            None
        );
    }

    #[test]
    fn malformed_messages_are_refused_without_echoing_the_token() {
        for bad in [
            &b""[..],
            b"n",
            b"y,,\x01auth=Bearer t\x01\x01",
            b"p=tls-unique,,\x01auth=Bearer t\x01\x01",
            b"x,,\x01auth=Bearer t\x01\x01",
            b"n,\x01auth=Bearer t\x01\x01",
            b"n,a=bob\x01auth=Bearer t\x01\x01",
            b"n,a=b=2,\x01auth=Bearer t\x01\x01",
            b"n,a=b=XY,\x01auth=Bearer t\x01\x01",
            b"n,a=\xff,\x01auth=Bearer t\x01\x01",
            b"n,,auth=Bearer t\x01\x01",
            b"n,,\x01auth=Bearer t\x01",
            b"n,,\x01auth=Bearer t",
            b"n,,\x01auth=Bearer t\x01\x01extra",
            b"n,,\x01\x01",
            b"n,,\x01a=1\x01\x01",
            b"n,,\x01auth=Basic dXNlcjpwYXNz\x01\x01",
            b"n,,\x01auth=Bearer\x01\x01",
            b"n,,\x01auth=Bearer secret token\x01\x01",
            b"n,,\x01auth=Bearer secret\x01auth=Bearer t\x01\x01",
            b"n,,\x01auth=Bearer secret\x01k=1\x01k=2\x01\x01",
            b"n,,\x01auth=Bearer secret\x01k1=1\x01\x01",
            b"n,,\x01auth=Bearer secret\x01k=\x01\x01",
            b"n,,\x01auth=Bearer secret\x01k=\x00\x01\x01",
            b"n,,\x01auth=Bearer secret\x01novalue\x01\x01",
        ] {
            match parse_client_initial_response(bad) {
                Err(AuthError::Malformed(why)) => {
                    assert!(!why.contains("secret"), "{why}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn sizes_are_bounded() {
        let mut big = b"n,,\x01auth=Bearer ".to_vec();
        big.resize(MAX_CLIENT_RESPONSE_BYTES + 1, b'a');
        big.extend_from_slice(b"\x01\x01");
        assert!(parse_client_initial_response(&big).is_err());

        let mut many = b"n,,\x01auth=Bearer t\x01".to_vec();
        for i in 0..=MAX_EXTENSIONS {
            let key: String = format!("{i:03}")
                .bytes()
                .map(|d| char::from(b'a' + (d - b'0')))
                .collect();
            many.extend_from_slice(format!("{key}=v\x01").as_bytes());
        }
        many.push(KVSEP);
        assert!(parse_client_initial_response(&many).is_err());
    }

    #[test]
    fn no_input_makes_it_panic() {
        // A cheap stand-in for a fuzz run: every prefix and every one-byte change of a valid
        // message either parses or is refused.
        let valid = b"n,a=u,\x01auth=Bearer a.b.c\x01k=v\x01\x01";
        for end in 0..=valid.len() {
            let _ = parse_client_initial_response(&valid[..end]);
        }
        for i in 0..valid.len() {
            for b in [0u8, 1, b',', b'=', b' ', 0x7f, 0xff] {
                let mut m = valid.to_vec();
                m[i] = b;
                let _ = parse_client_initial_response(&m);
            }
        }
    }
}

//! The syntax of SCRAM's client messages (RFC 5802 section 7), parsed strictly: anything else
//! is a malformed message, refused before any key is computed.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::error::AuthError;

/// The client's first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientFirst {
    /// `n,,`, `y,,` or `n,a=<authzid>,` as sent (echoed back base64-encoded in `c=`).
    pub gs2_header: String,
    pub user: String,
    pub client_nonce: String,
    /// Everything after the gs2 header: part of the AuthMessage.
    pub bare: String,
    /// Extensions after the nonce (`name=value`), e.g. Kafka's `tokenauth=true`.
    pub extensions: Vec<(String, String)>,
}

/// The client's final message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClientFinal {
    /// The decoded `c=` value: the gs2 header again (no channel binding data).
    pub channel_binding: Vec<u8>,
    pub nonce: String,
    pub proof: Vec<u8>,
    /// The message up to (without) `,p=...`: part of the AuthMessage.
    pub without_proof: String,
}

fn malformed(why: &str) -> AuthError {
    AuthError::Malformed(format!("invalid SCRAM message: {why}"))
}

/// RFC 5802's `saslname`: `=2C` is `,`, `=3D` is `=`, any other `=` is an error.
pub(super) fn decode_saslname(name: &str) -> Result<String, AuthError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(malformed("a user name holds '=' not written as =2C or =3D")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A nonce is printable ASCII without `,`.
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

pub(super) fn parse_client_first(message: &[u8]) -> Result<ClientFirst, AuthError> {
    let text = std::str::from_utf8(message).map_err(|_| malformed("not UTF-8"))?;
    // gs2-header: cbind flag, then the optional authzid, each ended by ','.
    let mut header_parts = text.splitn(3, ',');
    let flag = header_parts.next().unwrap_or_default();
    let authzid = header_parts
        .next()
        .ok_or_else(|| malformed("no gs2 header"))?;
    let bare = header_parts
        .next()
        .ok_or_else(|| malformed("no user name"))?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => {
            return Err(malformed("channel binding is not supported"));
        }
        _ => return Err(malformed("unknown channel binding flag")),
    }
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(malformed("bad authorization id"));
    }
    let gs2_header = format!("{flag},{authzid},");
    let mut fields = bare.split(',');
    let user = match fields.next() {
        Some(f) if f.starts_with("m=") => {
            return Err(malformed("mandatory extensions are not supported"))
        }
        Some(f) => f
            .strip_prefix("n=")
            .ok_or_else(|| malformed("expected n=<user name>"))?,
        None => return Err(malformed("no user name")),
    };
    let user = decode_saslname(user)?;
    if user.is_empty() {
        return Err(malformed("the user name is empty"));
    }
    let client_nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed("expected r=<nonce>"))?;
    if !valid_nonce(client_nonce) {
        return Err(malformed("bad nonce"));
    }
    let mut extensions = Vec::new();
    for field in fields {
        let (name, value) = field
            .split_once('=')
            .ok_or_else(|| malformed("bad extension"))?;
        extensions.push((name.to_string(), value.to_string()));
    }
    if let Some(a) = authzid.strip_prefix("a=") {
        if decode_saslname(a)? != user {
            return Err(malformed(
                "the authorization id must be empty or the user name",
            ));
        }
    }
    Ok(ClientFirst {
        gs2_header,
        user,
        client_nonce: client_nonce.to_string(),
        bare: bare.to_string(),
        extensions,
    })
}

pub(super) fn parse_client_final(message: &[u8]) -> Result<ClientFinal, AuthError> {
    let text = std::str::from_utf8(message).map_err(|_| malformed("not UTF-8"))?;
    let (without_proof, proof) = text
        .rsplit_once(",p=")
        .ok_or_else(|| malformed("no proof"))?;
    let mut fields = without_proof.split(',');
    let channel_binding = fields
        .next()
        .and_then(|f| f.strip_prefix("c="))
        .ok_or_else(|| malformed("expected c=<channel binding>"))?;
    let channel_binding = BASE64
        .decode(channel_binding)
        .map_err(|_| malformed("channel binding is not base64"))?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or_else(|| malformed("expected r=<nonce>"))?;
    let proof = BASE64
        .decode(proof)
        .map_err(|_| malformed("the proof is not base64"))?;
    Ok(ClientFinal {
        channel_binding,
        nonce: nonce.to_string(),
        proof,
        without_proof: without_proof.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_first_as_clients_send_it() {
        let m = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").expect("parses");
        assert_eq!(m.gs2_header, "n,,");
        assert_eq!(m.user, "user");
        assert_eq!(m.client_nonce, "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(m.bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
        let m = parse_client_first(b"n,a=a=3Db=2Cc,n=a=3Db=2Cc,r=abc,tokenauth=true")
            .expect("escaped names, extension");
        assert_eq!(m.user, "a=b,c");
        assert_eq!(
            m.extensions,
            [("tokenauth".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn malformed_client_messages_are_refused() {
        for bad in [
            &b"n,,r=abc"[..],
            b"n,,n=user",
            b"n,,n=,r=abc",
            b"n,,n=us=er,r=abc",
            b"p=tls-unique,,n=user,r=abc",
            b"x,,n=user,r=abc",
            b"n,a=other,n=user,r=abc",
            b"n,,m=ext,n=user,r=abc",
            b"n,,n=user,r=a\x01c",
            b"n",
            b"\xff",
        ] {
            assert!(
                matches!(parse_client_first(bad), Err(AuthError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        for bad in [
            &b"c=biws,r=abc"[..],
            b"r=abc,p=AAAA",
            b"c=***,r=abc,p=AAAA",
            b"c=biws,r=abc,p=***",
        ] {
            assert!(
                matches!(parse_client_final(bad), Err(AuthError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

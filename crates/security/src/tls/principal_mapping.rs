//! The principal of a client that logged in with a certificate (SSL listener, mTLS): its
//! subject as an RFC 2253 distinguished name (`CN=alice,OU=eng,O=Acme`, most specific first, as
//! Java's `X500Principal.getName()` writes it), turned into a user name by
//! `ssl.principal.mapping.rules` (Kafka's `SslPrincipalMapper`):
//!
//! ```text
//! rules   = rule *( "," rule )
//! rule    = "DEFAULT" | "RULE:" pattern "/" replacement "/" [ "L" | "U" ]
//! ```
//! A `/` inside a pattern or replacement is written `\/`. Rules are tried in order; the first
//! whose pattern matches the whole name gives the principal (`$1`... name the pattern's groups,
//! `L`/`U` lower- or upper-case the result); `DEFAULT` gives the name unchanged. A name no rule
//! matches is refused.

use regex::Regex;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::TlsError;

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        pattern: Regex,
        replacement: String,
        case: Option<char>,
    },
}

/// Parsed `ssl.principal.mapping.rules`.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
    text: String,
}

impl Default for PrincipalMapper {
    fn default() -> Self {
        PrincipalMapper {
            rules: vec![Rule::Default],
            text: "DEFAULT".into(),
        }
    }
}

/// Reads up to the next unescaped `/`; returns (text with `\/` unescaped, rest after the `/`).
fn until_slash(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '/')) => out.push('/'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '/' => return Some((out, &s[i + 1..])),
            other => out.push(other),
        }
    }
    None
}

impl PrincipalMapper {
    pub fn parse(text: &str) -> Result<PrincipalMapper, TlsError> {
        let bad = |why: String| TlsError(format!("ssl.principal.mapping.rules: {why}"));
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) = until_slash(after)
                    .ok_or_else(|| bad("a RULE has no '/' after its pattern".into()))?;
                let (replacement, after) = until_slash(after)
                    .ok_or_else(|| bad("a RULE has no '/' after its replacement".into()))?;
                let (case, after) = match after.chars().next() {
                    Some(c @ ('L' | 'U')) => (Some(c), &after[1..]),
                    _ => (None, after),
                };
                let pattern = Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|e| bad(format!("pattern {pattern}: {e}")))?;
                rules.push(Rule::Replace {
                    pattern,
                    replacement,
                    case,
                });
                rest = after;
            } else {
                return Err(bad(format!("expected DEFAULT or RULE: at '{rest}'")));
            }
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after.trim_start();
                if rest.is_empty() {
                    return Err(bad("a ',' ends the rules".into()));
                }
            } else if !rest.is_empty() {
                return Err(bad(format!("expected ',' between rules at '{rest}'")));
            }
        }
        if rules.is_empty() {
            return Err(bad("no rule".into()));
        }
        Ok(PrincipalMapper {
            rules,
            text: text.to_string(),
        })
    }

    /// The principal name for the distinguished name `dn`.
    pub fn map(&self, dn: &str) -> Result<String, TlsError> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace {
                    pattern,
                    replacement,
                    case,
                } => {
                    if pattern.is_match(dn) {
                        let name = pattern.replace(dn, replacement.as_str()).into_owned();
                        return Ok(match case {
                            Some('L') => name.to_lowercase(),
                            Some('U') => name.to_uppercase(),
                            _ => name,
                        });
                    }
                }
            }
        }
        Err(TlsError(format!(
            "no ssl.principal.mapping.rules rule applies to {dn} (rules: {})",
            self.text
        )))
    }
}

/// Short names of the attribute types RFC 2253 (and Java) write by name.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.6" => "C",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// RFC 2253 escaping of an attribute value.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The subject of the DER certificate `cert` as an RFC 2253 name, most specific part first.
pub fn subject_dn(cert: &[u8]) -> Result<String, TlsError> {
    let (_, cert) = X509Certificate::from_der(cert)
        .map_err(|e| TlsError(format!("the client certificate does not parse: {e}")))?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        let mut parts = Vec::new();
        for attr in rdn.iter() {
            let oid = attr.attr_type().to_id_string();
            let name = attribute_name(&oid).map_or(oid.clone(), str::to_string);
            let value = attr
                .as_str()
                .map_err(|_| TlsError(format!("the subject attribute {name} is not text")))?;
            parts.push(format!("{name}={}", escape(value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_examples() {
        let m = PrincipalMapper::parse(
            r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT",
        )
        .expect("parses");
        assert_eq!(
            m.map("CN=kafka-server1,OU=ServiceUsers,O=Org,C=US")
                .expect("maps"),
            "kafka-server1"
        );
        assert_eq!(
            m.map("CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=Cupertino,ST=CA,C=US")
                .expect("maps"),
            "duke@javasoft"
        );
        assert_eq!(m.map("cn=ADMIN,o=x").expect("maps"), "admin");
        assert_eq!(m.map("O=nobody").expect("default"), "O=nobody");
    }

    #[test]
    fn no_matching_rule_refuses_and_bad_rules_say_why() {
        let m = PrincipalMapper::parse(r"RULE:^CN=(.*)$/$1/U").expect("parses");
        assert_eq!(m.map("CN=bob").expect("maps"), "BOB");
        assert!(m.map("O=acme").is_err());
        let slash = PrincipalMapper::parse(r"RULE:^CN=(.*)\/x$/$1\/y/").expect("escaped slash");
        assert_eq!(slash.map("CN=a/x").expect("maps"), "a/y");
        for bad in [
            "",
            "RULE:abc",
            "RULE:a/b",
            "NOPE",
            "DEFAULT,",
            "DEFAULT DEFAULT",
            "RULE:(/x/",
        ] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PrincipalMapper::default().map("CN=x").expect("default"),
            "CN=x"
        );
    }

    #[test]
    fn subjects_are_written_as_rfc_2253() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "Acme, Inc.");
        dn.push(rcgen::DnType::OrganizationalUnitName, "eng");
        dn.push(rcgen::DnType::CommonName, "alice");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("certificate");
        assert_eq!(
            subject_dn(cert.der()).expect("subject"),
            r"CN=alice,OU=eng,O=Acme\, Inc.,C=US"
        );
        assert!(subject_dn(b"not a certificate").is_err());
    }
}

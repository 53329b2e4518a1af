//! Whether a new key store may replace the one a listener serves: Kafka refuses, unless
//! `ssl.allow.dn.changes` / `ssl.allow.san.changes` allow it, a certificate whose subject or
//! subject alternative names differ from the served one's, so a reconfiguration cannot turn a
//! broker into another host by mistake.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{subject_dn, TlsError};

/// The subject alternative names of DER certificate `cert`, each as `DNS:name`, `IP:addr`,
/// `URI:...` or `email:...`, sorted.
pub fn subject_alt_names(cert: &[u8]) -> Result<Vec<String>, TlsError> {
    let (_, parsed) = X509Certificate::from_der(cert)
        .map_err(|e| TlsError(format!("the certificate does not parse: {e}")))?;
    let mut out = Vec::new();
    let san = parsed
        .subject_alternative_name()
        .map_err(|e| TlsError(format!("the certificate's subject alternative names: {e}")))?;
    for name in san.iter().flat_map(|s| s.value.general_names.iter()) {
        out.push(match name {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => format!(
                    "IP:{}",
                    std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
                ),
                16 => {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(bytes);
                    format!("IP:{}", std::net::Ipv6Addr::from(a))
                }
                _ => format!("IP:{bytes:?}"),
            },
            GeneralName::URI(u) => format!("URI:{u}"),
            GeneralName::RFC822Name(e) => format!("email:{e}"),
            other => format!("{other:?}"),
        });
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Checks that certificate `new` (DER, the new key store's end-entity certificate) names the
/// same subject and subject alternative names as `served`, unless allowed to differ.
pub fn check_same_identity(
    served: &[u8],
    new: &[u8],
    allow_dn_changes: bool,
    allow_san_changes: bool,
) -> Result<(), TlsError> {
    if !allow_dn_changes {
        let (old_dn, new_dn) = (subject_dn(served)?, subject_dn(new)?);
        if old_dn != new_dn {
            return Err(TlsError(format!(
                "Keystore DistinguishedName does not match: existing={{{old_dn}}}, new={{{new_dn}}} \
                 (set ssl.allow.dn.changes=true to allow it)"
            )));
        }
    }
    if !allow_san_changes {
        let (old_san, new_san) = (subject_alt_names(served)?, subject_alt_names(new)?);
        if old_san != new_san {
            return Err(TlsError(format!(
                "Keystore SubjectAltNames do not match: existing={{{}}}, new={{{}}} (set \
                 ssl.allow.san.changes=true to allow it)",
                old_san.join(", "),
                new_san.join(", ")
            )));
        }
    }
    Ok(())
}

//! `audit.log.allowed`: which ALLOWed events are worth a line. DENYs always are.

use std::fmt;
use std::str::FromStr;

use super::error::AuditError;
use super::settings::AUDIT_LOG_ALLOWED_CONFIG;

/// Which allowed authorizations and successful authentications are recorded. Denials and
/// failures are recorded whatever the value: they are what an audit is for, and they are rare
/// next to the ALLOWs of every Produce and Fetch, which would drown the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuditAllowed {
    /// `none`: no ALLOW.
    None,
    /// `admin` (the default): the ALLOWs of administrative operations and security changes
    /// (CreateTopics, AlterConfigs, CreateAcls, AlterUserScramCredentials, ...), which an
    /// auditor asks "who did that?" about.
    #[default]
    Admin,
    /// `all`: every ALLOW, one line per authorized request and resource.
    All,
}

impl AuditAllowed {
    /// Every value, as `audit.log.allowed` takes it.
    pub const VALUES: [AuditAllowed; 3] =
        [AuditAllowed::None, AuditAllowed::Admin, AuditAllowed::All];

    /// The value as the setting writes it.
    pub fn name(self) -> &'static str {
        match self {
            AuditAllowed::None => "none",
            AuditAllowed::Admin => "admin",
            AuditAllowed::All => "all",
        }
    }

    /// Whether an ALLOW is recorded; `is_admin_or_security_change` says whether the operation
    /// administers the cluster or changes its security.
    pub fn records_allow(self, is_admin_or_security_change: bool) -> bool {
        match self {
            AuditAllowed::None => false,
            AuditAllowed::Admin => is_admin_or_security_change,
            AuditAllowed::All => true,
        }
    }
}

/// Reads the value of `audit.log.allowed`, ignoring case and surrounding blanks.
impl FromStr for AuditAllowed {
    type Err = AuditError;

    fn from_str(text: &str) -> Result<AuditAllowed, AuditError> {
        let wanted = text.trim();
        AuditAllowed::VALUES
            .into_iter()
            .find(|value| value.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                AuditError::invalid_value(
                    AUDIT_LOG_ALLOWED_CONFIG,
                    text,
                    "String must be one of: none, admin, all",
                )
            })
    }
}

impl fmt::Display for AuditAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_values() {
        assert_eq!(
            "none".parse::<AuditAllowed>().ok(),
            Some(AuditAllowed::None)
        );
        assert_eq!(
            "admin".parse::<AuditAllowed>().ok(),
            Some(AuditAllowed::Admin)
        );
        assert_eq!(
            " ALL ".parse::<AuditAllowed>().ok(),
            Some(AuditAllowed::All)
        );
        for value in AuditAllowed::VALUES {
            assert_eq!(value.to_string().parse::<AuditAllowed>().ok(), Some(value));
        }
        assert_eq!(AuditAllowed::default(), AuditAllowed::Admin);
    }

    #[test]
    fn refuses_anything_else_saying_what_it_takes() {
        for text in ["", "denied", "everything", "admin,all"] {
            let error = text.parse::<AuditAllowed>().expect_err(text);
            assert_eq!(
                error.to_string(),
                format!(
                    "Invalid value {text} for configuration audit.log.allowed: \
                     String must be one of: none, admin, all"
                )
            );
        }
    }
}

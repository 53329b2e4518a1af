//! The authorizer's two broker settings, `super.users` and `allow.everyone.if.no.acl.found`.

use super::error::AclError;
use crate::principal::KafkaPrincipal;

/// How the [`Authorizer`](super::Authorizer) decides beyond the ACLs themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerSettings {
    /// `super.users`: principals allowed every operation on every resource, whatever the ACLs
    /// say (DENY included). Brokers' own principals usually go here.
    pub super_users: Vec<KafkaPrincipal>,
    /// `allow.everyone.if.no.acl.found` (Kafka's default: false): a resource that no ACL names
    /// at all is open to everyone. Once one ACL names it, only the ACLs decide.
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerSettings {
    /// Reads Kafka's `super.users` value: principals separated by `;`
    /// (`User:admin;User:broker`), each trimmed, empty entries skipped.
    pub fn parse_super_users(value: &str) -> Result<Vec<KafkaPrincipal>, AclError> {
        let mut super_users = Vec::new();
        for entry in value.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let principal = KafkaPrincipal::parse(entry).ok_or_else(|| {
                AclError::InvalidConfig(format!(
                    "expected a string in format principalType:principalName but got {entry}"
                ))
            })?;
            if !super_users.contains(&principal) {
                super_users.push(principal);
            }
        }
        Ok(super_users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn super_users_are_semicolon_separated_principals() {
        assert_eq!(
            AuthorizerSettings::parse_super_users(";  User:bob  ;  User:alice ;User:bob").unwrap(),
            vec![KafkaPrincipal::user("bob"), KafkaPrincipal::user("alice")]
        );
        assert_eq!(
            AuthorizerSettings::parse_super_users("User:CN=broker,O=acme;Group:ops").unwrap(),
            vec![
                KafkaPrincipal::user("CN=broker,O=acme"),
                KafkaPrincipal {
                    principal_type: "Group".into(),
                    name: "ops".into()
                }
            ]
        );
        assert!(AuthorizerSettings::parse_super_users("")
            .unwrap()
            .is_empty());
        assert!(AuthorizerSettings::parse_super_users(" ; ")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn refuses_an_entry_that_is_not_a_principal() {
        let error = AuthorizerSettings::parse_super_users("bob;User:alice").unwrap_err();
        assert_eq!(
            error.message(),
            "expected a string in format principalType:principalName but got bob"
        );
        assert_eq!(error.code(), super::super::INVALID_CONFIG);
        assert!(AuthorizerSettings::parse_super_users("User:alice;User:").is_err());
    }
}

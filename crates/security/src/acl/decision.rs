//! What the authorizer decided and why, for the request handler and the audit log.

use std::sync::Arc;

use super::binding::AclBinding;
use super::types::PatternType;

/// The outcome of [`Authorizer::authorize`](super::Authorizer::authorize). It borrows the
/// binding that decided from the authorizer, so deciding allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The principal is in `super.users`: allowed.
    SuperUser,
    /// This ALLOW binding applies and no DENY binding does: allowed.
    AllowedBy(&'a AclBinding),
    /// This DENY binding applies: denied, whatever ALLOW bindings also apply.
    DeniedBy(&'a AclBinding),
    /// No binding names the resource (for any principal or operation); the setting
    /// `allow.everyone.if.no.acl.found` decided.
    NoAclFound { allowed: bool },
    /// Bindings name the resource, but none allows this principal, host and operation: denied.
    NoMatchingAllow,
}

impl<'a> Decision<'a> {
    pub fn is_allowed(&self) -> bool {
        match self {
            Decision::SuperUser | Decision::AllowedBy(_) => true,
            Decision::NoAclFound { allowed } => *allowed,
            Decision::DeniedBy(_) | Decision::NoMatchingAllow => false,
        }
    }

    /// The binding that decided, if one did.
    pub fn binding(&self) -> Option<&'a AclBinding> {
        match self {
            Decision::AllowedBy(binding) | Decision::DeniedBy(binding) => Some(binding),
            _ => None,
        }
    }
}

/// Kafka's names for the rule behind a decision (`based on rule ...` in its audit log):
/// `SuperUser`, `MatchingAcl(acl=...)`, `DefaultAllow`, `DefaultDeny`. Kafka also says
/// `DefaultDeny` when ACLs exist but none allows.
impl std::fmt::Display for Decision<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::SuperUser => f.write_str("SuperUser"),
            Decision::AllowedBy(binding) | Decision::DeniedBy(binding) => {
                write!(f, "MatchingAcl(acl={binding})")
            }
            Decision::NoAclFound { allowed: true } => f.write_str("DefaultAllow"),
            Decision::NoAclFound { allowed: false } | Decision::NoMatchingAllow => {
                f.write_str("DefaultDeny")
            }
        }
    }
}

/// A [`Decision`] kept beyond the authorizer it came from: what a connection caches, and what
/// the audit log records for a cached decision. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub allowed: bool,
    /// The pattern type of the binding that decided, if one did.
    pub pattern_type: Option<PatternType>,
    /// The decision's rule, as [`Decision`] displays it.
    pub reason: Arc<str>,
}

impl From<&Decision<'_>> for DecisionRecord {
    fn from(decision: &Decision<'_>) -> DecisionRecord {
        DecisionRecord {
            allowed: decision.is_allowed(),
            pattern_type: decision.binding().map(|b| b.pattern_type),
            reason: Arc::from(decision.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{AclOperation, AclPermissionType, PatternType, ResourceType};

    #[test]
    fn says_allowed_or_not_and_why() {
        let binding = AclBinding::new(
            ResourceType::Topic,
            "orders",
            PatternType::Literal,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermissionType::Deny,
        );
        assert!(Decision::SuperUser.is_allowed());
        assert!(Decision::AllowedBy(&binding).is_allowed());
        assert!(!Decision::DeniedBy(&binding).is_allowed());
        assert!(Decision::NoAclFound { allowed: true }.is_allowed());
        assert!(!Decision::NoAclFound { allowed: false }.is_allowed());
        assert!(!Decision::NoMatchingAllow.is_allowed());
        assert_eq!(Decision::DeniedBy(&binding).binding(), Some(&binding));
        assert_eq!(Decision::SuperUser.binding(), None);
        assert_eq!(
            Decision::DeniedBy(&binding).to_string(),
            format!("MatchingAcl(acl={binding})")
        );
        assert_eq!(
            Decision::NoAclFound { allowed: true }.to_string(),
            "DefaultAllow"
        );
        assert_eq!(Decision::NoMatchingAllow.to_string(), "DefaultDeny");
    }
}

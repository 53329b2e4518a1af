//! One ACL: a resource pattern (type, name, pattern type) and an entry (principal, host,
//! operation, permission), as CreateAcls carries it and the controller stores it.

use serde::{Deserialize, Serialize};

use super::error::AclError;
use super::filter::AclBindingFilter;
use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};
use super::{CLUSTER_RESOURCE_NAME, WILDCARD_RESOURCE};
use crate::principal::KafkaPrincipal;

/// An ACL binding. Serialized because the controller keeps the bindings in its metadata image.
///
/// Invariant once [`AclBinding::validate`] accepted it: every enum is concrete (no UNKNOWN, ANY
/// or MATCH), the pattern type is LITERAL or PREFIXED, the principal reads as `Type:name`. The
/// [`Authorizer`](super::Authorizer) still takes bindings that break it (an image written by an
/// older version, say) and lets them match nothing instead of failing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    /// The resource's name, a name prefix (PREFIXED), or `*` for every resource of the type
    /// (LITERAL only).
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `Type:name`, as `User:alice`; `User:*` applies to every principal.
    pub principal: String,
    /// The client's IP address, or `*` for every host. Kafka takes any text here; text that is
    /// neither `*` nor an IP address matches no client.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AclBinding {
    pub fn new(
        resource_type: ResourceType,
        resource_name: impl Into<String>,
        pattern_type: PatternType,
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission: AclPermissionType,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        }
    }

    /// Checks a binding of a CreateAcls request, in the order Kafka does (the broker's checks,
    /// then the controller's), with Kafka's messages. All refusals are INVALID_REQUEST.
    ///
    /// Beyond Kafka's own checks, which leave the principal unread and the pattern type of
    /// the cluster and of `*` free: the principal must read as `Type:name` with neither part
    /// empty (as `kafka-acls` requires), the CLUSTER resource must be LITERAL, and `*` is
    /// refused as a PREFIXED name (it would only match names starting with a `*`, which is
    /// never what was meant). Those three messages are Sluice's.
    pub fn validate(&self) -> Result<(), AclError> {
        let invalid = |message: String| Err(AclError::InvalidRequest(message));
        if self.resource_type == ResourceType::Cluster
            && self.resource_name != CLUSTER_RESOURCE_NAME
        {
            return invalid(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_RESOURCE_NAME}"
            ));
        }
        if self.resource_name.is_empty() {
            return invalid("Invalid empty resource name".to_string());
        }
        if matches!(
            self.resource_type,
            ResourceType::Unknown | ResourceType::Any
        ) {
            return invalid(format!("Invalid resourceType {}", self.resource_type));
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return invalid(format!("Invalid patternType {}", self.pattern_type));
        }
        if matches!(self.operation, AclOperation::Unknown | AclOperation::Any) {
            return invalid(format!("Invalid operation {}", self.operation));
        }
        if !matches!(
            self.permission,
            AclPermissionType::Allow | AclPermissionType::Deny
        ) {
            return invalid(format!("Invalid permissionType {}", self.permission));
        }
        if KafkaPrincipal::parse(&self.principal).is_none() {
            return invalid(format!(
                "expected a string in format principalType:principalName but got {}",
                self.principal
            ));
        }
        if self.resource_type == ResourceType::Cluster && self.pattern_type != PatternType::Literal
        {
            return invalid(format!(
                "The only valid patternType for the CLUSTER resource is {}",
                PatternType::Literal
            ));
        }
        if self.resource_name == WILDCARD_RESOURCE && self.pattern_type != PatternType::Literal {
            return invalid(format!(
                "The wildcard resource name {WILDCARD_RESOURCE} is only valid with patternType {}",
                PatternType::Literal
            ));
        }
        Ok(())
    }

    /// Kafka's rule for version 0 of CreateAcls, which predates PREFIXED (KIP-290): only
    /// LITERAL bindings, else UNSUPPORTED_VERSION.
    pub fn validate_version(&self, api_version: i16) -> Result<(), AclError> {
        if api_version == 0 && self.pattern_type != PatternType::Literal {
            return Err(AclError::UnsupportedVersion(
                "Version 0 only supports literal resource pattern types".to_string(),
            ));
        }
        Ok(())
    }

    /// The principal as a [`KafkaPrincipal`], if it reads as `Type:name`.
    pub fn kafka_principal(&self) -> Option<KafkaPrincipal> {
        KafkaPrincipal::parse(&self.principal)
    }

    /// The filter that matches exactly this binding (Kafka's `AclBinding.toFilter`), as a
    /// DeleteAcls for one binding sends it.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

/// Kafka's `AclBinding.toString`, so that audit lines read as Kafka's do.
impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "(pattern=ResourcePattern(resourceType={}, name={}, patternType={}), \
             entry=(principal={}, host={}, operation={}, permissionType={}))",
            self.resource_type,
            self.resource_name,
            self.pattern_type,
            self.principal,
            self.host,
            self.operation,
            self.permission
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic_read(name: &str, pattern_type: PatternType) -> AclBinding {
        AclBinding::new(
            ResourceType::Topic,
            name,
            pattern_type,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        )
    }

    fn refusal(binding: &AclBinding) -> String {
        match binding.validate() {
            Err(error) => {
                assert_eq!(error.code(), super::super::INVALID_REQUEST);
                error.to_string()
            }
            Ok(()) => panic!("{binding} was accepted"),
        }
    }

    #[test]
    fn accepts_concrete_bindings() {
        topic_read("orders", PatternType::Literal)
            .validate()
            .unwrap();
        topic_read("orders-", PatternType::Prefixed)
            .validate()
            .unwrap();
        topic_read("*", PatternType::Literal).validate().unwrap();
        let mut wildcard_principal = topic_read("orders", PatternType::Literal);
        wildcard_principal.principal = "User:*".into();
        wildcard_principal.validate().unwrap();
        let mut other_type = topic_read("orders", PatternType::Literal);
        other_type.principal = "Group:ops".into();
        other_type.validate().unwrap();
        let cluster = AclBinding::new(
            ResourceType::Cluster,
            "kafka-cluster",
            PatternType::Literal,
            "User:alice",
            "10.0.0.1",
            AclOperation::IdempotentWrite,
            AclPermissionType::Deny,
        );
        cluster.validate().unwrap();
    }

    #[test]
    fn refuses_filter_values_and_unknowns() {
        let mut binding = topic_read("orders", PatternType::Literal);
        binding.resource_type = ResourceType::Any;
        assert_eq!(refusal(&binding), "Invalid resourceType ANY");
        binding.resource_type = ResourceType::Unknown;
        assert_eq!(refusal(&binding), "Invalid resourceType UNKNOWN");

        for pattern_type in [PatternType::Any, PatternType::Match, PatternType::Unknown] {
            let binding = topic_read("orders", pattern_type);
            assert_eq!(
                refusal(&binding),
                format!("Invalid patternType {pattern_type}")
            );
        }

        let mut binding = topic_read("orders", PatternType::Literal);
        binding.operation = AclOperation::Any;
        assert_eq!(refusal(&binding), "Invalid operation ANY");
        binding.operation = AclOperation::Unknown;
        assert_eq!(refusal(&binding), "Invalid operation UNKNOWN");

        let mut binding = topic_read("orders", PatternType::Literal);
        binding.permission = AclPermissionType::Any;
        assert_eq!(refusal(&binding), "Invalid permissionType ANY");
        binding.permission = AclPermissionType::Unknown;
        assert_eq!(refusal(&binding), "Invalid permissionType UNKNOWN");
    }

    #[test]
    fn refuses_bad_names_and_principals() {
        assert_eq!(
            refusal(&topic_read("", PatternType::Literal)),
            "Invalid empty resource name"
        );
        for principal in ["alice", "User:", ":alice", ""] {
            let mut binding = topic_read("orders", PatternType::Literal);
            binding.principal = principal.into();
            assert_eq!(
                refusal(&binding),
                format!(
                    "expected a string in format principalType:principalName but got {principal}"
                )
            );
        }
        assert_eq!(
            refusal(&topic_read("*", PatternType::Prefixed)),
            "The wildcard resource name * is only valid with patternType LITERAL"
        );
    }

    #[test]
    fn the_cluster_is_kafka_cluster_and_literal() {
        let mut cluster = AclBinding::new(
            ResourceType::Cluster,
            "my-cluster",
            PatternType::Literal,
            "User:alice",
            "*",
            AclOperation::Alter,
            AclPermissionType::Allow,
        );
        assert_eq!(
            refusal(&cluster),
            "The only valid name for the CLUSTER resource is kafka-cluster"
        );
        cluster.resource_name = "*".into();
        assert_eq!(
            refusal(&cluster),
            "The only valid name for the CLUSTER resource is kafka-cluster"
        );
        cluster.resource_name = "kafka-cluster".into();
        cluster.pattern_type = PatternType::Prefixed;
        assert_eq!(
            refusal(&cluster),
            "The only valid patternType for the CLUSTER resource is LITERAL"
        );
    }

    #[test]
    fn version_0_takes_literal_only() {
        let prefixed = topic_read("orders-", PatternType::Prefixed);
        let error = prefixed.validate_version(0).unwrap_err();
        assert_eq!(error.code(), super::super::UNSUPPORTED_VERSION);
        assert_eq!(
            error.message(),
            "Version 0 only supports literal resource pattern types"
        );
        prefixed.validate_version(1).unwrap();
        topic_read("orders", PatternType::Literal)
            .validate_version(0)
            .unwrap();
    }

    #[test]
    fn written_as_kafka_writes_it_and_serialized_round_trip() {
        let binding = topic_read("orders", PatternType::Literal);
        assert_eq!(
            binding.to_string(),
            "(pattern=ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL), \
             entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))"
        );
        let json = serde_json::to_string(&binding).unwrap();
        let back: AclBinding = serde_json::from_str(&json).unwrap();
        assert_eq!(back, binding);
        assert!(binding.to_filter().matches(&binding));
        assert_eq!(
            binding.kafka_principal(),
            Some(KafkaPrincipal::user("alice"))
        );
    }
}

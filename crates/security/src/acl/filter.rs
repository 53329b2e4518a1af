//! Which bindings a DescribeAcls or a DeleteAcls means: a binding with room for "any".

use serde::{Deserialize, Serialize};

use super::binding::AclBinding;
use super::error::AclError;
use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};
use super::WILDCARD_RESOURCE;

/// A filter over bindings, Kafka's `AclBindingFilter`.
///
/// ANY in an enum field and `None` in a text field match every binding. The pattern type has
/// two filter-only values: ANY (every pattern type, the name compared exactly) and MATCH (every
/// binding that applies to a resource of that name). Principal and host are compared as text,
/// `User:*` and `*` included: a filter for `User:alice` does not return the `User:*` bindings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AclBindingFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// The filter that matches every binding.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }

    /// Refuses a filter with an UNKNOWN value, with the messages of Kafka's controller
    /// (INVALID_REQUEST). ANY and MATCH are what filters are for and pass.
    pub fn validate(&self) -> Result<(), AclError> {
        if self.resource_type == ResourceType::Unknown || self.pattern_type == PatternType::Unknown
        {
            return Err(AclError::InvalidRequest(
                "Unknown patternFilter.".to_string(),
            ));
        }
        if self.operation == AclOperation::Unknown || self.permission == AclPermissionType::Unknown
        {
            return Err(AclError::InvalidRequest("Unknown entryFilter.".to_string()));
        }
        Ok(())
    }

    /// Kafka's rule for version 0 of DescribeAcls and DeleteAcls, which predate pattern types
    /// (KIP-290): the filter is read as LITERAL, so ANY becomes LITERAL and anything else but
    /// LITERAL is UNSUPPORTED_VERSION.
    pub fn for_version(mut self, api_version: i16) -> Result<AclBindingFilter, AclError> {
        if api_version == 0 {
            match self.pattern_type {
                PatternType::Literal => {}
                PatternType::Any => self.pattern_type = PatternType::Literal,
                _ => {
                    return Err(AclError::UnsupportedVersion(
                        "Version 0 only supports literal resource pattern types".to_string(),
                    ))
                }
            }
        }
        Ok(self)
    }

    /// Whether the filter selects `binding` (Kafka's `AclBindingFilter.matches`).
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.matches_pattern(binding) && self.matches_entry(binding)
    }

    /// The resource half: Kafka's `ResourcePatternFilter.matches`.
    fn matches_pattern(&self, binding: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != binding.resource_type {
            return false;
        }
        let filter_pattern = self.pattern_type;
        if filter_pattern != PatternType::Any
            && filter_pattern != PatternType::Match
            && filter_pattern != binding.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if filter_pattern != PatternType::Match {
            // ANY, or the binding's own pattern type: the name is compared as it is.
            return *name == binding.resource_name;
        }
        match binding.pattern_type {
            PatternType::Literal => {
                *name == binding.resource_name || binding.resource_name == WILDCARD_RESOURCE
            }
            PatternType::Prefixed => name.starts_with(binding.resource_name.as_str()),
            // A binding of a filter-only pattern type is never stored; it applies to nothing.
            PatternType::Unknown | PatternType::Any | PatternType::Match => false,
        }
    }

    /// The entry half: Kafka's `AccessControlEntryFilter.matches`.
    fn matches_entry(&self, binding: &AclBinding) -> bool {
        if self
            .principal
            .as_ref()
            .is_some_and(|principal| *principal != binding.principal)
        {
            return false;
        }
        if self.host.as_ref().is_some_and(|host| *host != binding.host) {
            return false;
        }
        if self.operation != AclOperation::Any && self.operation != binding.operation {
            return false;
        }
        self.permission == AclPermissionType::Any || self.permission == binding.permission
    }
}

impl Default for AclBindingFilter {
    fn default() -> AclBindingFilter {
        AclBindingFilter::any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(resource_type: ResourceType, name: &str, pattern_type: PatternType) -> AclBinding {
        AclBinding::new(
            resource_type,
            name,
            pattern_type,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        )
    }

    fn by_pattern(name: Option<&str>, pattern_type: PatternType) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Topic,
            resource_name: name.map(str::to_string),
            pattern_type,
            ..AclBindingFilter::any()
        }
    }

    /// Literal `foo`, literal `*`, prefixed `fo`, prefixed `foo`, prefixed `bar`, literal `bar`.
    fn stored() -> Vec<AclBinding> {
        vec![
            binding(ResourceType::Topic, "foo", PatternType::Literal),
            binding(ResourceType::Topic, "*", PatternType::Literal),
            binding(ResourceType::Topic, "fo", PatternType::Prefixed),
            binding(ResourceType::Topic, "foo", PatternType::Prefixed),
            binding(ResourceType::Topic, "bar", PatternType::Prefixed),
            binding(ResourceType::Topic, "bar", PatternType::Literal),
        ]
    }

    fn selected(filter: &AclBindingFilter) -> Vec<usize> {
        stored()
            .iter()
            .enumerate()
            .filter(|(_, binding)| filter.matches(binding))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn any_matches_every_pattern_type_with_the_exact_name() {
        assert_eq!(selected(&by_pattern(Some("foo"), PatternType::Any)), [0, 3]);
        assert_eq!(selected(&by_pattern(Some("*"), PatternType::Any)), [1]);
        assert_eq!(
            selected(&by_pattern(None, PatternType::Any)),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn match_finds_what_applies_to_a_resource() {
        // Literal foo, the literal wildcard, and the prefixes fo and foo.
        assert_eq!(
            selected(&by_pattern(Some("foo"), PatternType::Match)),
            [0, 1, 2, 3]
        );
        // `food` starts with fo and foo; literal foo does not apply.
        assert_eq!(
            selected(&by_pattern(Some("food"), PatternType::Match)),
            [1, 2, 3]
        );
        assert_eq!(selected(&by_pattern(Some("baz"), PatternType::Match)), [1]);
        assert_eq!(
            selected(&by_pattern(None, PatternType::Match)),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn literal_and_prefixed_match_their_own_type_only() {
        assert_eq!(
            selected(&by_pattern(Some("foo"), PatternType::Literal)),
            [0]
        );
        assert_eq!(selected(&by_pattern(Some("*"), PatternType::Literal)), [1]);
        assert_eq!(selected(&by_pattern(None, PatternType::Literal)), [0, 1, 5]);
        assert_eq!(
            selected(&by_pattern(Some("foo"), PatternType::Prefixed)),
            [3]
        );
        assert!(selected(&by_pattern(Some("food"), PatternType::Prefixed)).is_empty());
        assert_eq!(
            selected(&by_pattern(None, PatternType::Prefixed)),
            [2, 3, 4]
        );
    }

    #[test]
    fn resource_type_any_matches_all_types() {
        let group = binding(ResourceType::Group, "foo", PatternType::Literal);
        let topic = binding(ResourceType::Topic, "foo", PatternType::Literal);
        let mut filter = AclBindingFilter::any();
        assert!(filter.matches(&group) && filter.matches(&topic));
        filter.resource_type = ResourceType::Group;
        assert!(filter.matches(&group) && !filter.matches(&topic));
    }

    #[test]
    fn entry_fields_compare_exactly_or_match_all() {
        let mut stored = binding(ResourceType::Topic, "foo", PatternType::Literal);
        let mut filter = AclBindingFilter::any();
        assert!(filter.matches(&stored));

        filter.principal = Some("User:alice".into());
        assert!(filter.matches(&stored));
        filter.principal = Some("User:bob".into());
        assert!(!filter.matches(&stored));
        stored.principal = "User:*".into();
        assert!(
            !filter.matches(&stored),
            "a filter is not an authorization check"
        );
        filter.principal = None;

        filter.host = Some("10.0.0.1".into());
        assert!(!filter.matches(&stored));
        stored.host = "10.0.0.1".into();
        assert!(filter.matches(&stored));

        filter.operation = AclOperation::Write;
        assert!(!filter.matches(&stored));
        filter.operation = AclOperation::Read;
        assert!(filter.matches(&stored));

        filter.permission = AclPermissionType::Deny;
        assert!(!filter.matches(&stored));
        filter.permission = AclPermissionType::Allow;
        assert!(filter.matches(&stored));
    }

    #[test]
    fn validation_refuses_unknowns_only() {
        AclBindingFilter::any().validate().unwrap();
        by_pattern(Some("foo"), PatternType::Match)
            .validate()
            .unwrap();

        let mut filter = AclBindingFilter::any();
        filter.resource_type = ResourceType::Unknown;
        assert_eq!(
            filter.validate(),
            Err(AclError::InvalidRequest("Unknown patternFilter.".into()))
        );
        let mut filter = AclBindingFilter::any();
        filter.pattern_type = PatternType::Unknown;
        assert_eq!(filter.validate().unwrap_err().code(), 42);
        let mut filter = AclBindingFilter::any();
        filter.operation = AclOperation::Unknown;
        assert_eq!(
            filter.validate(),
            Err(AclError::InvalidRequest("Unknown entryFilter.".into()))
        );
        let mut filter = AclBindingFilter::any();
        filter.permission = AclPermissionType::Unknown;
        assert_eq!(
            filter.validate().unwrap_err().message(),
            "Unknown entryFilter."
        );
    }

    #[test]
    fn version_0_reads_the_filter_as_literal() {
        let any = AclBindingFilter::any().for_version(0).unwrap();
        assert_eq!(any.pattern_type, PatternType::Literal);
        let literal = by_pattern(Some("foo"), PatternType::Literal);
        assert_eq!(literal.clone().for_version(0).unwrap(), literal);
        for pattern_type in [PatternType::Match, PatternType::Prefixed] {
            let error = by_pattern(Some("foo"), pattern_type)
                .for_version(0)
                .unwrap_err();
            assert_eq!(error.code(), 35);
        }
        let prefixed = by_pattern(Some("foo"), PatternType::Prefixed);
        assert_eq!(prefixed.clone().for_version(1).unwrap(), prefixed);
    }
}

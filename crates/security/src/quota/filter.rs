//! DescribeClientQuotas filters (KIP-546): which entities a describe returns.
//!
//! A filter is a list of components, each naming an entity type and how its name must match:
//! - EXACT (0): the entity has that type with exactly that name;
//! - DEFAULT (1): the entity has that type's default entity (`<default>`);
//! - SPECIFIED (2): the entity has that type, whatever the name (the default included, as
//!   Kafka's KRaft `ClientQuotasImage` matches it).
//!
//! With `strict`, an entity must have no other types than the filter names; without it, other
//! types may be present. So an empty non-strict filter returns every entity and an empty strict
//! filter none.

use super::{QuotaEntity, QuotaEntityType, QuotaError};

/// DescribeClientQuotas `MatchType`: the name must equal `Match`.
pub const MATCH_TYPE_EXACT: i8 = 0;
/// DescribeClientQuotas `MatchType`: the default entity of the type.
pub const MATCH_TYPE_DEFAULT: i8 = 1;
/// DescribeClientQuotas `MatchType`: any entity of the type.
pub const MATCH_TYPE_SPECIFIED: i8 = 2;

/// One filter component as the request carries it (unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaFilterComponent {
    pub entity_type: String,
    pub match_type: i8,
    /// Set for EXACT only.
    pub match_name: Option<String>,
}

impl QuotaFilterComponent {
    pub fn exact(entity_type: QuotaEntityType, name: &str) -> QuotaFilterComponent {
        QuotaFilterComponent {
            entity_type: entity_type.name().to_string(),
            match_type: MATCH_TYPE_EXACT,
            match_name: Some(name.to_string()),
        }
    }

    pub fn default_entity(entity_type: QuotaEntityType) -> QuotaFilterComponent {
        QuotaFilterComponent {
            entity_type: entity_type.name().to_string(),
            match_type: MATCH_TYPE_DEFAULT,
            match_name: None,
        }
    }

    pub fn specified(entity_type: QuotaEntityType) -> QuotaFilterComponent {
        QuotaFilterComponent {
            entity_type: entity_type.name().to_string(),
            match_type: MATCH_TYPE_SPECIFIED,
            match_name: None,
        }
    }
}

/// A DescribeClientQuotas request's filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuotaFilter {
    pub components: Vec<QuotaFilterComponent>,
    pub strict: bool,
}

/// What one checked component asks of an entity's component of its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameMatch<'a> {
    /// EXACT (`Some(name)`) or DEFAULT (`None`).
    Name(Option<&'a str>),
    Specified,
}

/// A filter whose components passed Kafka's checks.
#[derive(Debug)]
pub(crate) struct CheckedFilter<'a> {
    wanted: Vec<(QuotaEntityType, NameMatch<'a>)>,
    strict: bool,
}

impl QuotaFilter {
    /// A filter over `components`.
    pub fn new(components: Vec<QuotaFilterComponent>, strict: bool) -> QuotaFilter {
        QuotaFilter { components, strict }
    }

    /// Kafka's checks, in its order, so a request breaking several rules gets the same error:
    /// an empty type, a type twice, an unknown type (UNSUPPORTED_VERSION), a match string
    /// where the match type takes none or none where EXACT needs one, an unknown match type
    /// (UNSUPPORTED_VERSION), and ip together with user or client-id.
    pub(crate) fn check(&self) -> Result<CheckedFilter<'_>, QuotaError> {
        let mut wanted: Vec<(QuotaEntityType, NameMatch<'_>)> = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for component in &self.components {
            let type_name = component.entity_type.as_str();
            if type_name.is_empty() {
                return Err(QuotaError::invalid("Invalid empty entity type."));
            }
            if seen.contains(&type_name) {
                return Err(QuotaError::invalid(format!(
                    "Entity type {type_name} cannot appear more than once in the filter."
                )));
            }
            seen.push(type_name);
            let Some(entity_type) = QuotaEntityType::from_name(type_name) else {
                return Err(QuotaError::UnsupportedVersion(format!(
                    "Unsupported entity type {type_name}"
                )));
            };
            let name = component.match_name.as_deref();
            let name_match =
                match (component.match_type, name) {
                    (MATCH_TYPE_EXACT, Some(name)) => NameMatch::Name(Some(name)),
                    (MATCH_TYPE_EXACT, None) => {
                        return Err(QuotaError::invalid(
                            "Request specified MATCH_TYPE_EXACT, but set match string to null.",
                        ))
                    }
                    (MATCH_TYPE_DEFAULT, None) => NameMatch::Name(None),
                    (MATCH_TYPE_DEFAULT, Some(_)) => return Err(QuotaError::invalid(
                        "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.",
                    )),
                    (MATCH_TYPE_SPECIFIED, None) => NameMatch::Specified,
                    (MATCH_TYPE_SPECIFIED, Some(_)) => {
                        return Err(QuotaError::invalid(
                            "Request specified MATCH_TYPE_SPECIFIED, but also specified a match \
                         string.",
                        ))
                    }
                    (other, _) => {
                        return Err(QuotaError::UnsupportedVersion(format!(
                            "Unknown match type {other}"
                        )))
                    }
                };
            wanted.push((entity_type, name_match));
        }
        let has = |t: QuotaEntityType| wanted.iter().any(|(w, _)| *w == t);
        if has(QuotaEntityType::Ip)
            && (has(QuotaEntityType::User) || has(QuotaEntityType::ClientId))
        {
            return Err(QuotaError::invalid(
                "Invalid entity filter component combination. IP filter component should not be \
                 used with user or clientId filter component.",
            ));
        }
        Ok(CheckedFilter {
            wanted,
            strict: self.strict,
        })
    }
}

impl CheckedFilter<'_> {
    pub(crate) fn matches(&self, entity: &QuotaEntity) -> bool {
        if self.strict && entity.components().len() != self.wanted.len() {
            return false;
        }
        self.wanted.iter().all(|(entity_type, name_match)| {
            match (entity.get(*entity_type), name_match) {
                (None, _) => false,
                (Some(_), NameMatch::Specified) => true,
                (Some(name), NameMatch::Name(wanted)) => name == *wanted,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(entity_type: &str, match_type: i8, name: Option<&str>) -> QuotaFilterComponent {
        QuotaFilterComponent {
            entity_type: entity_type.to_string(),
            match_type,
            match_name: name.map(str::to_string),
        }
    }

    fn refusal(components: Vec<QuotaFilterComponent>) -> QuotaError {
        QuotaFilter::new(components, false)
            .check()
            .expect_err("the filter should be refused")
    }

    #[test]
    fn malformed_filters_are_refused_with_kafkas_codes() {
        let e = refusal(vec![component("", MATCH_TYPE_SPECIFIED, None)]);
        assert_eq!(e, QuotaError::invalid("Invalid empty entity type."));

        let e = refusal(vec![
            component("user", MATCH_TYPE_EXACT, Some("a")),
            component("user", MATCH_TYPE_SPECIFIED, None),
        ]);
        assert_eq!(
            e,
            QuotaError::invalid("Entity type user cannot appear more than once in the filter.")
        );

        let e = refusal(vec![component("group", MATCH_TYPE_SPECIFIED, None)]);
        assert_eq!(e.code(), 35);
        assert_eq!(e.to_string(), "Unsupported entity type group");

        let e = refusal(vec![component("user", MATCH_TYPE_EXACT, None)]);
        assert_eq!(e.code(), 42);
        assert!(e.to_string().contains("MATCH_TYPE_EXACT"));
        let e = refusal(vec![component("user", MATCH_TYPE_DEFAULT, Some("a"))]);
        assert!(e.to_string().contains("MATCH_TYPE_DEFAULT"));
        let e = refusal(vec![component("user", MATCH_TYPE_SPECIFIED, Some("a"))]);
        assert!(e.to_string().contains("MATCH_TYPE_SPECIFIED"));

        let e = refusal(vec![component("user", 3, None)]);
        assert_eq!(
            e,
            QuotaError::UnsupportedVersion("Unknown match type 3".into())
        );

        let e = refusal(vec![
            component("ip", MATCH_TYPE_SPECIFIED, None),
            component("client-id", MATCH_TYPE_DEFAULT, None),
        ]);
        assert_eq!(e.code(), 42);
        assert!(e.to_string().contains("IP filter component"));
    }

    #[test]
    fn match_types_and_strictness() {
        let alice = QuotaEntity::user(Some("alice"));
        let default_user = QuotaEntity::user(None);
        let alice_app = QuotaEntity::user_client_id(Some("alice"), Some("app"));

        let exact = QuotaFilter::new(
            vec![QuotaFilterComponent::exact(QuotaEntityType::User, "alice")],
            false,
        );
        let exact = exact.check().expect("valid");
        assert!(exact.matches(&alice));
        assert!(
            exact.matches(&alice_app),
            "not strict: other types may be present"
        );
        assert!(!exact.matches(&default_user));

        let strict = QuotaFilter::new(
            vec![QuotaFilterComponent::exact(QuotaEntityType::User, "alice")],
            true,
        );
        let strict = strict.check().expect("valid");
        assert!(strict.matches(&alice));
        assert!(!strict.matches(&alice_app));

        let default = QuotaFilter::new(
            vec![QuotaFilterComponent::default_entity(QuotaEntityType::User)],
            false,
        );
        let default = default.check().expect("valid");
        assert!(default.matches(&default_user));
        assert!(!default.matches(&alice));

        let specified = QuotaFilter::new(
            vec![QuotaFilterComponent::specified(QuotaEntityType::User)],
            true,
        );
        let specified = specified.check().expect("valid");
        assert!(specified.matches(&alice));
        assert!(specified.matches(&default_user));
        assert!(!specified.matches(&alice_app));
        assert!(!specified.matches(&QuotaEntity::client_id(Some("app"))));
    }
}

//! The four small enums of an ACL, with Kafka's wire codes (the `INT8` fields of CreateAcls,
//! DescribeAcls and DeleteAcls) and Kafka's names.
//!
//! ```text
//! ResourceType       0 UNKNOWN  1 ANY  2 TOPIC  3 GROUP  4 CLUSTER  5 TRANSACTIONAL_ID
//!                    6 DELEGATION_TOKEN  7 USER
//! PatternType        0 UNKNOWN  1 ANY  2 MATCH  3 LITERAL  4 PREFIXED
//! AclOperation       0 UNKNOWN  1 ANY  2 ALL  3 READ  4 WRITE  5 CREATE  6 DELETE  7 ALTER
//!                    8 DESCRIBE  9 CLUSTER_ACTION  10 DESCRIBE_CONFIGS  11 ALTER_CONFIGS
//!                    12 IDEMPOTENT_WRITE  13 CREATE_TOKENS  14 DESCRIBE_TOKENS
//! AclPermissionType  0 UNKNOWN  1 ANY  2 DENY  3 ALLOW
//! ```
//! UNKNOWN is what a code this broker does not know decodes to (a newer client); ANY (and
//! MATCH) only make sense in filters. Both are refused in a binding to create.
//!
//! The variants are declared in code order, so the derived `Ord` sorts as Kafka's codes do.

use serde::{Deserialize, Serialize};

/// Declares one of the enums: variants with their wire code and Kafka name, and the
/// conversions every one of them needs.
macro_rules! kafka_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal, $kafka_name:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(
                $(#[$variant_meta])*
                #[serde(rename = $kafka_name)]
                $variant,
            )+
        }

        impl $name {
            /// Every value, in code order.
            pub const VALUES: &'static [$name] = &[$($name::$variant),+];

            /// The value of a wire code; `None` for a code Kafka does not define (a handler
            /// usually reads that as UNKNOWN, as Kafka's `fromCode` does).
            pub fn from_code(code: i8) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The wire code.
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// Kafka's upper-case name (`TRANSACTIONAL_ID`), as logs and `kafka-acls` show it.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $kafka_name,)+
                }
            }

            /// Reads a name as a person or a CLI writes it: case does not matter, and `-` or
            /// `_` between words may be there or not (`TransactionalId`, `transactional-id`,
            /// `TRANSACTIONAL_ID`).
            pub fn parse(text: &str) -> Option<$name> {
                $name::VALUES
                    .iter()
                    .copied()
                    .find(|value| same_name(text, value.name()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

/// Whether two names are the same once case and word separators are set aside.
fn same_name(a: &str, b: &str) -> bool {
    fn letters(text: &str) -> impl Iterator<Item = u8> + '_ {
        text.bytes()
            .filter(|b| *b != b'-' && *b != b'_')
            .map(|b| b.to_ascii_lowercase())
    }
    letters(a).eq(letters(b))
}

kafka_enum! {
    /// What kind of resource an ACL protects.
    ResourceType {
        Unknown = 0, "UNKNOWN";
        /// Filters only: every resource type.
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        /// The one cluster resource, always named `kafka-cluster`.
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user, as the resource of CREATE_TOKENS / DESCRIBE_TOKENS (KIP-373).
        User = 7, "USER";
    }
}

kafka_enum! {
    /// How an ACL's resource name is matched against a resource (KIP-290).
    PatternType {
        Unknown = 0, "UNKNOWN";
        /// Filters only: any pattern type, the name compared exactly.
        Any = 1, "ANY";
        /// Filters only: every binding that would apply to a resource of that name (LITERAL
        /// of the name, the LITERAL wildcard `*`, PREFIXED of a prefix of the name).
        Match = 2, "MATCH";
        /// The name itself, or `*` for every resource of the type.
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with this one.
        Prefixed = 4, "PREFIXED";
    }
}

kafka_enum! {
    /// What an ACL lets a principal do (or forbids).
    AclOperation {
        Unknown = 0, "UNKNOWN";
        /// Filters only: any operation.
        Any = 1, "ANY";
        /// Every operation, in a binding.
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
}

kafka_enum! {
    /// Whether an ACL allows or denies.
    AclPermissionType {
        Unknown = 0, "UNKNOWN";
        /// Filters only: either.
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
}

impl AclOperation {
    /// Whether an ALLOW binding for `self` allows `requested`. Kafka lets READ, WRITE, DELETE
    /// and ALTER imply DESCRIBE, and ALTER_CONFIGS imply DESCRIBE_CONFIGS: whoever may change
    /// or read a thing may see that it exists. ALL allows everything.
    pub fn allow_covers(self, requested: AclOperation) -> bool {
        if self == AclOperation::All || self == requested {
            return true;
        }
        match requested {
            AclOperation::Describe => matches!(
                self,
                AclOperation::Read
                    | AclOperation::Write
                    | AclOperation::Delete
                    | AclOperation::Alter
            ),
            AclOperation::DescribeConfigs => self == AclOperation::AlterConfigs,
            _ => false,
        }
    }

    /// Whether a DENY binding for `self` denies `requested`. Implied operations do not apply
    /// to DENY: denying READ does not deny DESCRIBE (Kafka's rule).
    pub fn deny_covers(self, requested: AclOperation) -> bool {
        self == AclOperation::All || self == requested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_follow_kafka() {
        for value in ResourceType::VALUES {
            assert_eq!(ResourceType::from_code(value.code()), Some(*value));
        }
        for value in PatternType::VALUES {
            assert_eq!(PatternType::from_code(value.code()), Some(*value));
        }
        for value in AclOperation::VALUES {
            assert_eq!(AclOperation::from_code(value.code()), Some(*value));
        }
        for value in AclPermissionType::VALUES {
            assert_eq!(AclPermissionType::from_code(value.code()), Some(*value));
        }
        assert_eq!(ResourceType::TransactionalId.code(), 5);
        assert_eq!(ResourceType::User.code(), 7);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclOperation::DescribeTokens.code(), 14);
        assert_eq!(AclPermissionType::Allow.code(), 3);
        assert_eq!(ResourceType::from_code(8), None);
        assert_eq!(ResourceType::from_code(-1), None);
        assert_eq!(PatternType::from_code(5), None);
        assert_eq!(AclOperation::from_code(15), None);
        assert_eq!(AclPermissionType::from_code(4), None);
        assert_eq!(ResourceType::VALUES.len(), 8);
        assert_eq!(AclOperation::VALUES.len(), 15);
    }

    #[test]
    fn names_are_kafkas_and_parse_the_ways_people_write_them() {
        assert_eq!(
            ResourceType::TransactionalId.to_string(),
            "TRANSACTIONAL_ID"
        );
        assert_eq!(
            AclOperation::DescribeConfigs.to_string(),
            "DESCRIBE_CONFIGS"
        );
        assert_eq!(AclPermissionType::Deny.to_string(), "DENY");
        assert_eq!(PatternType::Prefixed.to_string(), "PREFIXED");
        for text in ["Topic", "TOPIC", "topic"] {
            assert_eq!(ResourceType::parse(text), Some(ResourceType::Topic));
        }
        for text in ["transactional-id", "TransactionalId", "TRANSACTIONAL_ID"] {
            assert_eq!(
                ResourceType::parse(text),
                Some(ResourceType::TransactionalId)
            );
        }
        assert_eq!(
            ResourceType::parse("delegation-token"),
            Some(ResourceType::DelegationToken)
        );
        for text in ["IdempotentWrite", "idempotent-write", "IDEMPOTENT_WRITE"] {
            assert_eq!(
                AclOperation::parse(text),
                Some(AclOperation::IdempotentWrite)
            );
        }
        assert_eq!(
            AclOperation::parse("describe-configs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            AclOperation::parse("ClusterAction"),
            Some(AclOperation::ClusterAction)
        );
        assert_eq!(AclOperation::parse("all"), Some(AclOperation::All));
        assert_eq!(PatternType::parse("prefixed"), Some(PatternType::Prefixed));
        assert_eq!(PatternType::parse("Match"), Some(PatternType::Match));
        assert_eq!(
            AclPermissionType::parse("allow"),
            Some(AclPermissionType::Allow)
        );
        assert_eq!(ResourceType::parse("topics"), None);
        assert_eq!(ResourceType::parse(""), None);
        assert_eq!(AclOperation::parse("read write"), None);
    }

    #[test]
    fn serialized_with_kafkas_names() {
        let json = serde_json::to_string(&ResourceType::TransactionalId).unwrap();
        assert_eq!(json, "\"TRANSACTIONAL_ID\"");
        let back: AclOperation = serde_json::from_str("\"IDEMPOTENT_WRITE\"").unwrap();
        assert_eq!(back, AclOperation::IdempotentWrite);
    }

    #[test]
    fn order_follows_the_codes() {
        assert!(ResourceType::Topic < ResourceType::Group);
        assert!(PatternType::Literal < PatternType::Prefixed);
        assert!(AclPermissionType::Deny < AclPermissionType::Allow);
    }

    #[test]
    fn implied_operations_apply_to_allow_only() {
        use AclOperation::*;
        for op in [Read, Write, Delete, Alter, Describe] {
            assert!(op.allow_covers(Describe), "{op}");
        }
        for op in [
            Create,
            ClusterAction,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
        ] {
            assert!(!op.allow_covers(Describe), "{op}");
        }
        assert!(AlterConfigs.allow_covers(DescribeConfigs));
        assert!(!Alter.allow_covers(DescribeConfigs));
        assert!(!Describe.allow_covers(Read));
        assert!(All.allow_covers(IdempotentWrite));
        assert!(All.deny_covers(Describe));
        assert!(Read.deny_covers(Read));
        assert!(!Read.deny_covers(Describe));
        assert!(!AlterConfigs.deny_covers(DescribeConfigs));
    }
}

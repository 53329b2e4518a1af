//! Access control lists, as Kafka's `StandardAuthorizer` keeps and applies them, without I/O:
//! the controller validates and stores [`AclBinding`]s (CreateAcls, DeleteAcls), every broker
//! builds an [`Authorizer`] from them and asks it before each operation, and DescribeAcls
//! reads them through an [`AclBindingFilter`].
//!
//! An ACL says: `principal` is ALLOWed (or DENYed) `operation` from `host` on the resources of
//! `resource_type` that `resource_name` names under `pattern_type`:
//! ```text
//! User:alice  ALLOW  READ   from *         on TOPIC  orders      LITERAL   (that topic)
//! User:*      DENY   WRITE  from 10.0.0.9  on TOPIC  *           LITERAL   (every topic)
//! User:bob    ALLOW  ALL    from *         on GROUP  analytics-  PREFIXED  (KIP-290)
//! ```
//! The rules of a decision are on [`Authorizer`]; in short, super users pass, DENY wins over
//! ALLOW, some operations imply DESCRIBE, and a resource no ACL names is closed unless
//! `allow.everyone.if.no.acl.found`.
//!
//! # Layout
//! - `types.rs`: [`ResourceType`], [`PatternType`], [`AclOperation`], [`AclPermissionType`],
//!   with Kafka's wire codes and names.
//! - `binding.rs`: [`AclBinding`] and the checks of a binding to create.
//! - `filter.rs`: [`AclBindingFilter`], DescribeAcls' and DeleteAcls' selection.
//! - `settings.rs`: [`AuthorizerSettings`] (`super.users`, `allow.everyone.if.no.acl.found`).
//! - `decision.rs`: [`Decision`], what was decided and on which binding, for the audit log.
//! - `authorizer.rs`: [`Authorizer`], the indexed snapshot that decides.
//! - `prefix_trie.rs`: the trie that finds PREFIXED bindings along a resource name.
//! - `error.rs`: [`AclError`] and the Kafka error codes it maps to.

mod authorizer;
mod binding;
mod decision;
mod error;
mod filter;
mod prefix_trie;
mod settings;
mod types;

pub use authorizer::Authorizer;
pub use binding::AclBinding;
pub use decision::{Decision, DecisionRecord};
pub use error::{AclError, INVALID_CONFIG, INVALID_REQUEST, UNSUPPORTED_VERSION};
pub use filter::AclBindingFilter;
pub use settings::AuthorizerSettings;
pub use types::{AclOperation, AclPermissionType, PatternType, ResourceType};

/// The name of the one CLUSTER resource.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";
/// A LITERAL resource name that stands for every resource of its type.
pub const WILDCARD_RESOURCE: &str = "*";
/// The principal of a binding that applies to every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// The host of a binding that applies to every client address.
pub const WILDCARD_HOST: &str = "*";

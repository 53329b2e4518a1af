//! ACL bindings (KIP-140 CreateAcls/DeleteAcls, KIP-290 prefixed patterns): kept in the metadata
//! log like every other piece of cluster metadata, so all brokers decide on the same set and it
//! survives restarts and `kill -9`. The proposer validates bindings before proposing them; the
//! image only stores them, in their total order (the binding's derived `Ord`), so that every
//! controller lists and deletes them identically.

use sluice_security::acl::AclBinding;
use sluice_security::acl::AclBindingFilter;

use super::done;
use super::MetadataImage;
use crate::command::CommandError;
use crate::command::CommandOutput;
use crate::command::CommandResult;

/// At most this many bindings in the cluster, a bound on what one command can grow.
pub const ACLS_MAX: usize = 1_000_000;

impl MetadataImage {
    /// Log index of the last change to the ACL bindings (0: none yet).
    pub fn acls_offset(&self) -> u64 {
        self.acls_offset
    }

    /// Every ACL binding, in order.
    pub fn acls(&self) -> impl ExactSizeIterator<Item = &AclBinding> + '_ {
        self.acls.iter()
    }

    pub(super) fn create_acls(&mut self, bindings: &[AclBinding]) -> CommandResult {
        for binding in bindings {
            if let Err(e) = binding.validate() {
                return Err(CommandError::InvalidRequest(e.message().to_string()));
            }
        }
        let new = bindings.iter().filter(|b| !self.acls.contains(b)).count();
        if self.acls.len() + new > ACLS_MAX {
            return Err(CommandError::InvalidRequest(format!(
                "the cluster holds at most {ACLS_MAX} ACL bindings"
            )));
        }
        self.acls.extend(bindings.iter().cloned());
        done()
    }

    pub(super) fn delete_acls(&mut self, filters: &[AclBindingFilter]) -> CommandOutput {
        let mut deleted = Vec::with_capacity(filters.len());
        for filter in filters {
            let matched: Vec<AclBinding> = self
                .acls
                .iter()
                .filter(|b| filter.matches(b))
                .cloned()
                .collect();
            for binding in &matched {
                self.acls.remove(binding);
            }
            deleted.push(matched);
        }
        CommandOutput::AclsDeleted(deleted)
    }
}

#[cfg(test)]
mod tests {
    use sluice_security::acl::{AclOperation, AclPermissionType, PatternType, ResourceType};

    use super::*;
    use crate::command::MetadataCommand;

    fn binding(name: &str, pattern: PatternType, principal: &str) -> AclBinding {
        AclBinding::new(
            ResourceType::Topic,
            name,
            pattern,
            principal,
            "*",
            AclOperation::Write,
            AclPermissionType::Allow,
        )
    }

    #[test]
    fn created_listed_deleted_and_kept_in_snapshots() {
        let mut image = MetadataImage::default();
        let a = binding("orders-", PatternType::Prefixed, "User:alice");
        let b = binding("payments", PatternType::Literal, "User:bob");
        let create = MetadataCommand::CreateAcls {
            bindings: vec![a.clone(), b.clone(), a.clone()],
        };
        image.apply(1, &create).unwrap();
        assert_eq!(image.acls().count(), 2);
        // Creating an existing binding again succeeds and changes nothing.
        image.apply(2, &create).unwrap();
        assert_eq!(image.acls().count(), 2);
        let json = serde_json::to_vec(&image).unwrap();
        let restored: MetadataImage = serde_json::from_slice(&json).unwrap();
        assert_eq!(restored, image);

        let mut alice_only = AclBindingFilter::any();
        alice_only.principal = Some("User:alice".into());
        let out = image
            .apply(
                3,
                &MetadataCommand::DeleteAcls {
                    filters: vec![alice_only.clone(), AclBindingFilter::any()],
                },
            )
            .unwrap();
        assert_eq!(out, CommandOutput::AclsDeleted(vec![vec![a], vec![b]]));
        assert_eq!(image.acls().count(), 0);
    }

    #[test]
    fn invalid_bindings_are_refused_whole() {
        let mut image = MetadataImage::default();
        let good = binding("t", PatternType::Literal, "User:alice");
        let bad = binding("", PatternType::Literal, "User:alice");
        let err = image
            .apply(
                1,
                &MetadataCommand::CreateAcls {
                    bindings: vec![good, bad],
                },
            )
            .unwrap_err();
        assert_eq!(err.error_code(), 42);
        assert_eq!(image.acls().count(), 0);
    }
}

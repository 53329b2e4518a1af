//! Authorization of a request against the cluster's ACLs, as Kafka's `AuthHelper` does it: the
//! handlers ask [`RequestContext::authorize`] (or the shorthand per resource type) before each
//! operation and answer Kafka's error code for a refusal (TOPIC_AUTHORIZATION_FAILED per
//! partition, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED, ...). Without an
//! authorizer every question is answered yes at the cost of one branch.
//!
//! Every denial is audited, and so is every allowed admin or security change (see
//! [`is_admin_api`]); decisions are cached per connection (see `session`).

use kafka_protocol::messages::ApiKey;
use sluice_security::acl::{AclOperation, DecisionRecord, ResourceType, CLUSTER_RESOURCE_NAME};
use sluice_security::audit::{AuditContext, AuditEvent};

use super::request::RequestContext;

/// Requests that change the cluster's shape or security: their allowed decisions are audited
/// too, not only their denials.
pub fn is_admin_api(api: ApiKey) -> bool {
    matches!(
        api,
        ApiKey::CreateTopics
            | ApiKey::DeleteTopics
            | ApiKey::CreatePartitions
            | ApiKey::DeleteRecords
            | ApiKey::AlterConfigs
            | ApiKey::IncrementalAlterConfigs
            | ApiKey::ElectLeaders
            | ApiKey::AlterPartitionReassignments
            | ApiKey::CreateAcls
            | ApiKey::DeleteAcls
            | ApiKey::AlterUserScramCredentials
            | ApiKey::AlterClientQuotas
            | ApiKey::DeleteGroups
            | ApiKey::OffsetDelete
    )
}

impl RequestContext {
    /// Whether ACLs are enforced on this request's listener.
    pub fn authorizer_enabled(&self) -> bool {
        self.session.listener.authorization.is_enabled()
    }

    /// Whether the request's principal may do `operation` on the resource.
    pub fn authorize(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let Some(verdict) = self.session.authorize(operation, resource_type, name) else {
            return true;
        };
        let audit = self.session.listener.authorization.audit();
        if audit.should_record(verdict.allowed, is_admin_api(self.api_key)) {
            audit_decision(self, operation, resource_type, name, &verdict);
        }
        verdict.allowed
    }

    pub fn authorize_topic(&self, operation: AclOperation, topic: &str) -> bool {
        self.authorize(operation, ResourceType::Topic, topic)
    }

    pub fn authorize_group(&self, operation: AclOperation, group: &str) -> bool {
        self.authorize(operation, ResourceType::Group, group)
    }

    pub fn authorize_transactional_id(&self, operation: AclOperation, id: &str) -> bool {
        self.authorize(operation, ResourceType::TransactionalId, id)
    }

    pub fn authorize_cluster(&self, operation: AclOperation) -> bool {
        self.authorize(operation, ResourceType::Cluster, CLUSTER_RESOURCE_NAME)
    }

    /// [`RequestContext::authorize`] without auditing the decision, for the checks Kafka makes
    /// with `logIfDenied = false`: a permission many clients are not expected to have, whose
    /// absence only narrows the answer (a broker-only permission asked first, the configs a
    /// CreateTopics answer shows).
    pub fn authorize_quietly(
        &self,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        self.session
            .authorize(operation, resource_type, name)
            .is_none_or(|verdict| verdict.allowed)
    }

    /// KIP-679: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic.
    pub fn authorize_idempotent_write(&self) -> bool {
        if !self.authorizer_enabled() || self.authorize_cluster(AclOperation::IdempotentWrite) {
            return true;
        }
        self.session
            .authorize_any(AclOperation::Write, ResourceType::Topic)
            .unwrap_or(true)
    }

    /// The KIP-430 bitfield of the operations in `candidates` the principal may do on the
    /// resource (every one without an authorizer). Not audited: it describes, it does not act.
    pub fn authorized_operations(
        &self,
        resource_type: ResourceType,
        name: &str,
        candidates: &[AclOperation],
    ) -> i32 {
        candidates
            .iter()
            .filter(|op| {
                self.session
                    .authorize(**op, resource_type, name)
                    .is_none_or(|v| v.allowed)
            })
            .fold(0, |bits, op| bits | (1 << op.code()))
    }
}

/// Records a decision in the audit log.
fn audit_decision(
    ctx: &RequestContext,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
    verdict: &DecisionRecord,
) {
    let principal = ctx.principal();
    let api = format!("{:?}", ctx.api_key);
    let context = AuditContext {
        principal: &principal,
        client_address: ctx.session.peer,
        listener: ctx.listener(),
        api: &api,
        api_version: ctx.api_version,
        correlation_id: Some(ctx.correlation_id),
        client_id: ctx.client_id.as_deref(),
    };
    ctx.session
        .listener
        .authorization
        .audit()
        .record(AuditEvent::authorization_record(
            std::time::SystemTime::now(),
            &context,
            operation,
            resource_type,
            name,
            verdict,
        ));
}

//! DescribeClientQuotas (48) and AlterClientQuotas (49), KIP-546: client quotas per user,
//! client id or both (and their defaults), kept in the metadata log. The rules (entity shapes,
//! keys, values, filters) are `sluice_security::quota`'s; here they meet the wire.
//!
//! Describe needs DESCRIBE_CONFIGS on the cluster, alter ALTER_CONFIGS (as in Kafka); a refusal
//! is CLUSTER_AUTHORIZATION_FAILED, for the whole describe or for every alter entry. An alter
//! entry that is not valid fails alone with INVALID_REQUEST and Kafka's message; each valid
//! entry is one metadata command (its operations all apply or none). `validate_only` checks
//! against this broker's image and changes nothing.

use kafka_protocol::messages::alter_client_quotas_response::{
    EntityData as AlteredEntity, EntryData as AlteredEntry,
};
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{MetadataCommand, QuotaValue};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;
use sluice_security::quota::{QuotaEntity, QuotaFilter, QuotaFilterComponent};

use super::request::RequestContext;
use crate::cluster::Cluster;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub async fn describe(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let refused = |code: i16, message: String| {
        DescribeClientQuotasResponse::default()
            .with_error_code(code)
            .with_error_message(Some(StrBytes::from_string(message)))
            .with_entries(None)
    };
    if !ctx.authorize_cluster(AclOperation::DescribeConfigs) {
        return refused(
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
            "Cluster authorization failed.".into(),
        );
    }
    let filter = QuotaFilter {
        components: r
            .components
            .iter()
            .map(|c| QuotaFilterComponent {
                entity_type: c.entity_type.to_string(),
                match_type: c.match_type,
                match_name: c._match.as_ref().map(|m| m.to_string()),
            })
            .collect(),
        strict: r.strict,
    };
    let image = cluster.image();
    let found = match image.quotas().describe(&filter) {
        Ok(found) => found,
        Err(e) => return refused(e.code(), e.to_string()),
    };
    let entries = found
        .into_iter()
        .map(|(entity, values)| {
            EntryData::default()
                .with_entity(
                    entity
                        .components()
                        .iter()
                        .map(|(t, name)| {
                            EntityData::default()
                                .with_entity_type(text(t.name()))
                                .with_entity_name(name.as_deref().map(text))
                        })
                        .collect(),
                )
                .with_values(
                    values
                        .iter()
                        .map(|(key, value)| {
                            ValueData::default()
                                .with_key(text(key.name()))
                                .with_value(*value)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

pub async fn alter(
    cluster: &Cluster,
    ctx: &RequestContext,
    r: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let allowed = ctx.authorize_cluster(AclOperation::AlterConfigs);
    let mut seen: Vec<QuotaEntity> = Vec::new();
    let mut entries = Vec::with_capacity(r.entries.len());
    for entry in &r.entries {
        let echoed: Vec<AlteredEntity> = entry
            .entity
            .iter()
            .map(|e| {
                AlteredEntity::default()
                    .with_entity_type(e.entity_type.clone())
                    .with_entity_name(e.entity_name.clone())
            })
            .collect();
        let answer = |code: i16, message: Option<String>| {
            AlteredEntry::default()
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string))
                .with_entity(echoed.clone())
        };
        if !allowed {
            entries.push(answer(
                ErrorCode::CLUSTER_AUTHORIZATION_FAILED.0,
                Some("Cluster authorization failed.".into()),
            ));
            continue;
        }
        let entity = match QuotaEntity::parse(
            entry
                .entity
                .iter()
                .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref())),
        ) {
            Ok(entity) => entity,
            Err(e) => {
                entries.push(answer(e.code(), Some(e.to_string())));
                continue;
            }
        };
        if seen.contains(&entity) {
            entries.push(answer(
                ErrorCode::INVALID_REQUEST.0,
                Some(format!(
                    "Entity {entity} given more than once in the request"
                )),
            ));
            continue;
        }
        seen.push(entity.clone());
        let ops: Vec<(&str, Option<f64>)> = entry
            .ops
            .iter()
            .map(|op| (op.key.as_str(), (!op.remove).then_some(op.value)))
            .collect();
        if let Err(e) = cluster.image().quotas().validate_alteration(&entity, &ops) {
            entries.push(answer(e.code(), Some(e.to_string())));
            continue;
        }
        if r.validate_only {
            entries.push(answer(0, None));
            continue;
        }
        let command = MetadataCommand::AlterClientQuota {
            entity: entity.clone(),
            ops: ops
                .iter()
                .map(|(key, value)| (key.to_string(), value.map(QuotaValue)))
                .collect(),
        };
        entries.push(match cluster.propose(command).await {
            Ok(_) => {
                // This broker enforces it from its next request on (the others as their
                // metadata catches up).
                cluster.quotas.update(&cluster.image());
                tracing::info!("{} altered the client quotas of {entity}", ctx.principal());
                answer(0, None)
            }
            Err(e) => answer(e.code.0, Some(e.message)),
        });
    }
    AlterClientQuotasResponse::default().with_entries(entries)
}

//! UpdateFeatures (KIP-584, KIP-778, KIP-1022): change the cluster's finalized feature levels
//! (`group.version`, `transaction.version`, `metadata.version`), as `kafka-features upgrade`
//! and `downgrade` do. The levels live in the metadata log (`MetadataCommand::UpdateFeatures`);
//! the rules are the metadata image's (`MetadataImage::check_feature_updates`), checked
//! against this broker's image and again when the quorum applies the command.
//!
//! As Kafka's controller (3.9+): all updates of a request apply or none does; the first one
//! refused is the answer, as the top-level error and, in v0-1, in every feature's result (v2
//! has no per-feature results). Errors:
//! - without ALTER on the cluster: CLUSTER_AUTHORIZATION_FAILED;
//! - an upgrade type other than 1 (upgrade), 2 (safe downgrade), 3 (unsafe downgrade), an
//!   empty feature name or a feature named twice: INVALID_REQUEST;
//! - a feature Sluice does not support, a level outside its supported range, a lower level
//!   with the upgrade type "upgrade", a higher one with a downgrade type:
//!   INVALID_UPDATE_VERSION.
//!
//! v0 has `allow_downgrade` instead of the upgrade type: true means safe downgrade. With
//! `validate_only` (v1+) the checks run and nothing changes. `timeout_ms` is not used: the
//! proposal is bounded by the controller's request timeout (REQUEST_TIMED_OUT).

use kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use kafka_protocol::protocol::StrBytes;
use sluice_controller::{FeatureUpdate, FeatureUpgradeType, MetadataCommand};
use sluice_protocol::error::ErrorCode;
use sluice_security::acl::AclOperation;

use super::request::RequestContext;
use crate::cluster::{command_error, Cluster};
use crate::replicas::AdminError;

pub async fn handle(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: UpdateFeaturesRequest,
) -> UpdateFeaturesResponse {
    let v = ctx.api_version;
    let outcome = update(cluster, ctx, &request).await;
    if let Ok(()) = &outcome {
        tracing::info!(
            principal = %ctx.principal(),
            validate_only = request.validate_only,
            "feature levels updated: {}",
            request
                .feature_updates
                .iter()
                .map(|u| format!("{}={}", u.feature, u.max_version_level))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    respond(v, &request, outcome)
}

async fn update(
    cluster: &Cluster,
    ctx: &RequestContext,
    request: &UpdateFeaturesRequest,
) -> Result<(), AdminError> {
    if !ctx.authorize_cluster(AclOperation::Alter) {
        return Err(AdminError::new(
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
            "Cluster authorization failed.",
        ));
    }
    let mut updates = Vec::with_capacity(request.feature_updates.len());
    for u in &request.feature_updates {
        let upgrade_type = if ctx.api_version == 0 {
            if u.allow_downgrade {
                FeatureUpgradeType::SafeDowngrade
            } else {
                FeatureUpgradeType::Upgrade
            }
        } else {
            FeatureUpgradeType::from_code(u.upgrade_type).ok_or_else(|| {
                AdminError::new(
                    ErrorCode::INVALID_REQUEST,
                    format!(
                        "Unknown upgrade type {} for feature {} (1 upgrade, 2 safe downgrade, \
                         3 unsafe downgrade).",
                        u.upgrade_type, u.feature
                    ),
                )
            })?
        };
        updates.push(FeatureUpdate {
            feature: u.feature.to_string(),
            level: u.max_version_level,
            upgrade_type,
        });
    }
    cluster
        .image()
        .check_feature_updates(&updates)
        .map_err(|e| command_error(&e))?;
    if request.validate_only || updates.is_empty() {
        return Ok(());
    }
    cluster
        .propose(MetadataCommand::UpdateFeatures { updates })
        .await
        .map(drop)
}

fn respond(
    v: i16,
    request: &UpdateFeaturesRequest,
    outcome: Result<(), AdminError>,
) -> UpdateFeaturesResponse {
    let (code, message) = match outcome {
        Ok(()) => (0, None),
        Err(e) => (e.code.0, Some(StrBytes::from_string(e.message))),
    };
    let results = if v <= 1 {
        request
            .feature_updates
            .iter()
            .map(|u| {
                UpdatableFeatureResult::default()
                    .with_feature(u.feature.clone())
                    .with_error_code(code)
                    .with_error_message(message.clone())
            })
            .collect()
    } else {
        Vec::new()
    };
    UpdateFeaturesResponse::default()
        .with_error_code(code)
        .with_error_message(message)
        .with_results(results)
}

//! Finalized feature levels (KIP-584, KIP-778, KIP-1022): the cluster-wide versions of
//! `metadata.version`, `group.version` and `transaction.version`, changed by UpdateFeatures and
//! reported in ApiVersions.
//!
//! Sluice advertises only the levels whose behaviour it has:
//! - `metadata.version` 27 (4.1-IV1) alone: Sluice's metadata log is not KRaft's record
//!   format, so no other level would describe what it does. Kafka refuses metadata.version
//!   downgrades that might lose metadata; here every other level is simply unsupported.
//! - `group.version` 0 to 1: level 1 is the KIP-848 consumer group protocol
//!   (ConsumerGroupHeartbeat), which Sluice serves; level 0 turns it off cluster-wide, as in
//!   Kafka.
//! - `transaction.version` 0 only: level 1 (Kafka's flexible transaction-log records) and
//!   level 2 (KIP-890 part 2: an epoch bump per transaction, EndTxn v5, partitions added by
//!   Produce) are not implemented.
//!
//! A feature that was never updated is at its default level, the highest supported (what a
//! new Kafka cluster is formatted with); only levels that were set are stored, so images
//! written before features existed read as the defaults.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

use super::done;
use super::MetadataImage;
use crate::command::CommandError;
use crate::command::CommandResult;

/// `metadata.version`'s feature name.
pub const METADATA_VERSION: &str = "metadata.version";
/// `group.version`'s feature name.
pub const GROUP_VERSION: &str = "group.version";
/// `transaction.version`'s feature name.
pub const TRANSACTION_VERSION: &str = "transaction.version";

/// A feature Sluice supports: its name and the levels it supports, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SupportedFeature {
    pub name: &'static str,
    pub min_level: i16,
    pub max_level: i16,
}

/// Every feature Sluice supports (see the module doc for why these ranges).
pub const SUPPORTED_FEATURES: &[SupportedFeature] = &[
    SupportedFeature {
        name: METADATA_VERSION,
        min_level: 27,
        max_level: 27,
    },
    SupportedFeature {
        name: GROUP_VERSION,
        min_level: 0,
        max_level: 1,
    },
    SupportedFeature {
        name: TRANSACTION_VERSION,
        min_level: 0,
        max_level: 0,
    },
];

/// UpdateFeatures' upgrade types (KIP-778); v0's `allow_downgrade` maps to `Upgrade` (false)
/// or `SafeDowngrade` (true).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureUpgradeType {
    /// 1: the level may only go up (or stay).
    Upgrade,
    /// 2: the level may go down, without losing metadata.
    SafeDowngrade,
    /// 3: the level may go down even if that loses metadata.
    UnsafeDowngrade,
}

impl FeatureUpgradeType {
    /// Kafka's code (`FeatureUpdate.UpgradeType`); `None` for any other.
    pub fn from_code(code: i8) -> Option<FeatureUpgradeType> {
        match code {
            1 => Some(FeatureUpgradeType::Upgrade),
            2 => Some(FeatureUpgradeType::SafeDowngrade),
            3 => Some(FeatureUpgradeType::UnsafeDowngrade),
            _ => None,
        }
    }
}

/// One requested change: `feature` to `level` (0 removes a finalized feature, i.e. sets it to
/// level 0).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureUpdate {
    pub feature: String,
    pub level: i16,
    pub upgrade_type: FeatureUpgradeType,
}

fn supported(name: &str) -> Option<&'static SupportedFeature> {
    SUPPORTED_FEATURES.iter().find(|f| f.name == name)
}

impl MetadataImage {
    /// The finalized level of `feature`: the level last set, or the default (the highest
    /// supported); 0 for a feature Sluice does not know.
    pub fn feature_level(&self, feature: &str) -> i16 {
        self.feature_levels
            .get(feature)
            .copied()
            .or_else(|| supported(feature).map(|f| f.max_level))
            .unwrap_or(0)
    }

    /// Every finalized feature with a level above 0 (Kafka does not list level 0), by name.
    pub fn finalized_features(&self) -> BTreeMap<&'static str, i16> {
        SUPPORTED_FEATURES
            .iter()
            .map(|f| (f.name, self.feature_level(f.name)))
            .filter(|(_, level)| *level > 0)
            .collect()
    }

    /// The finalized-features epoch ApiVersions reports: the log index of the last feature
    /// change (0 before any).
    pub fn features_epoch(&self) -> i64 {
        i64::try_from(self.features_offset).unwrap_or(i64::MAX)
    }

    /// Checks `updates` against this image, all of them, without changing anything: the first
    /// one refused, with Kafka's reason (INVALID_UPDATE_VERSION or INVALID_REQUEST).
    pub fn check_feature_updates(&self, updates: &[FeatureUpdate]) -> Result<(), CommandError> {
        let mut seen = std::collections::BTreeSet::new();
        for update in updates {
            let name = update.feature.as_str();
            if name.trim().is_empty() {
                return Err(CommandError::InvalidRequest(
                    "a feature update without a feature name".into(),
                ));
            }
            if !seen.insert(name) {
                return Err(CommandError::InvalidRequest(format!(
                    "feature {name} is updated twice in one request"
                )));
            }
            let current = self.feature_level(name);
            let invalid = |why: String| {
                Err(CommandError::InvalidFeatureUpdate(format!(
                    "Invalid update version {} for feature {name}. {why}",
                    update.level
                )))
            };
            let Some(range) = supported(name) else {
                return invalid("Sluice does not support this feature.".into());
            };
            if update.level < range.min_level || update.level > range.max_level {
                return invalid(format!(
                    "Sluice supports levels {} to {}.",
                    range.min_level, range.max_level
                ));
            }
            match update.upgrade_type {
                FeatureUpgradeType::Upgrade if update.level < current => {
                    return invalid(
                        "Can't downgrade the version of this feature without setting the \
                         upgrade type to either safe or unsafe downgrade."
                            .into(),
                    );
                }
                FeatureUpgradeType::SafeDowngrade | FeatureUpgradeType::UnsafeDowngrade
                    if update.level > current =>
                {
                    return invalid("Can't downgrade to a newer version.".into());
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// UpdateFeatures: every update applies, or none (the first refused is the error).
    pub(super) fn update_features(&mut self, updates: &[FeatureUpdate]) -> CommandResult {
        self.check_feature_updates(updates)?;
        for update in updates {
            self.feature_levels
                .insert(update.feature.clone(), update.level);
        }
        self.features_offset = self.offset;
        done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::MetadataCommand;

    fn update(feature: &str, level: i16, upgrade_type: FeatureUpgradeType) -> FeatureUpdate {
        FeatureUpdate {
            feature: feature.into(),
            level,
            upgrade_type,
        }
    }

    fn apply(image: &mut MetadataImage, updates: Vec<FeatureUpdate>) -> CommandResult {
        let offset = image.offset() + 1;
        image.apply(offset, &MetadataCommand::UpdateFeatures { updates })
    }

    #[test]
    fn a_new_image_is_at_the_highest_supported_levels() {
        let image = MetadataImage::default();
        assert_eq!(image.feature_level(METADATA_VERSION), 27);
        assert_eq!(image.feature_level(GROUP_VERSION), 1);
        assert_eq!(image.feature_level(TRANSACTION_VERSION), 0);
        assert_eq!(image.feature_level("no.such.feature"), 0);
        assert_eq!(
            image.finalized_features(),
            BTreeMap::from([(GROUP_VERSION, 1), (METADATA_VERSION, 27)])
        );
        assert_eq!(image.features_epoch(), 0);
    }

    #[test]
    fn downgrade_needs_a_downgrade_type_and_upgrade_goes_back() {
        use FeatureUpgradeType::*;
        let mut image = MetadataImage::default();
        let err = apply(&mut image, vec![update(GROUP_VERSION, 0, Upgrade)]).unwrap_err();
        assert_eq!(err.error_code(), 95, "{err}");
        assert_eq!(image.feature_level(GROUP_VERSION), 1);

        apply(&mut image, vec![update(GROUP_VERSION, 0, SafeDowngrade)]).unwrap();
        assert_eq!(image.feature_level(GROUP_VERSION), 0);
        assert_eq!(
            image.features_epoch(),
            i64::try_from(image.offset()).unwrap()
        );
        assert!(!image.finalized_features().contains_key(GROUP_VERSION));

        let err = apply(&mut image, vec![update(GROUP_VERSION, 1, UnsafeDowngrade)]).unwrap_err();
        assert_eq!(err.error_code(), 95, "{err}");
        apply(&mut image, vec![update(GROUP_VERSION, 1, Upgrade)]).unwrap();
        assert_eq!(image.feature_level(GROUP_VERSION), 1);
        // The same level again is no change, and allowed.
        apply(&mut image, vec![update(GROUP_VERSION, 1, Upgrade)]).unwrap();
    }

    #[test]
    fn unsupported_levels_and_features_are_refused_and_nothing_applies() {
        use FeatureUpgradeType::*;
        let mut image = MetadataImage::default();
        for bad in [
            update(METADATA_VERSION, 26, SafeDowngrade),
            update(METADATA_VERSION, 0, UnsafeDowngrade),
            update(TRANSACTION_VERSION, 2, Upgrade),
            update("kraft.version", 1, Upgrade),
        ] {
            // A valid update before the bad one does not apply either.
            let err = apply(
                &mut image,
                vec![update(GROUP_VERSION, 0, SafeDowngrade), bad.clone()],
            )
            .unwrap_err();
            assert_eq!(err.error_code(), 95, "{bad:?}: {err}");
            assert_eq!(image.feature_level(GROUP_VERSION), 1);
        }
        let too_high = apply(&mut image, vec![update(GROUP_VERSION, 2, Upgrade)]).unwrap_err();
        assert_eq!(too_high.error_code(), 95, "{too_high}");
        let twice = vec![
            update(GROUP_VERSION, 1, Upgrade),
            update(GROUP_VERSION, 1, Upgrade),
        ];
        assert_eq!(apply(&mut image, twice).unwrap_err().error_code(), 42);
        let unnamed = vec![update("", 1, Upgrade)];
        assert_eq!(apply(&mut image, unnamed).unwrap_err().error_code(), 42);
        assert_eq!(image.features_epoch(), 0);
    }

    #[test]
    fn levels_survive_a_snapshot() {
        let mut image = MetadataImage::default();
        apply(
            &mut image,
            vec![update(GROUP_VERSION, 0, FeatureUpgradeType::SafeDowngrade)],
        )
        .unwrap();
        let json = serde_json::to_vec(&image).unwrap();
        let back: MetadataImage = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.feature_level(GROUP_VERSION), 0);
        assert_eq!(back.features_epoch(), image.features_epoch());
        assert_eq!(back, image);
    }
}

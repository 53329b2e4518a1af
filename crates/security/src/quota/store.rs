//! The client quotas configured in the cluster: per entity, its config values. The controller
//! keeps one in its metadata image (AlterClientQuotas changes it, DescribeClientQuotas reads it)
//! and every broker resolves its connections' quotas against its copy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::filter::QuotaFilter;
use super::{QuotaEntity, QuotaError, QuotaKey};

/// One entity's configured values.
pub type QuotaValues = BTreeMap<QuotaKey, f64>;

/// One AlterClientQuotas operation as the request carries it: a config key and a value, or
/// `None` (the request's `Remove` flag) to remove the key.
pub type QuotaOp<'a> = (&'a str, Option<f64>);

/// Quota configs per entity.
///
/// Invariant: no entity maps to an empty set of values (removing an entity's last key removes
/// the entity, as Kafka's controller does), and every value passed [`QuotaKey::validate`] for
/// its entity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(
    from = "Vec<(QuotaEntity, QuotaValues)>",
    into = "Vec<(QuotaEntity, QuotaValues)>"
)]
pub struct QuotaStore {
    entities: BTreeMap<QuotaEntity, QuotaValues>,
}

/// Every value in a store passed [`QuotaKey::validate`]: finite and positive, never NaN, so
/// equality is total.
impl Eq for QuotaStore {}

impl QuotaStore {
    pub fn new() -> QuotaStore {
        QuotaStore::default()
    }

    /// Sets (`Some`) or removes (`None`) one key of `entity`; see [`QuotaStore::alter_entity`].
    pub fn alter(
        &mut self,
        entity: &QuotaEntity,
        key: &str,
        value: Option<f64>,
    ) -> Result<(), QuotaError> {
        self.alter_entity(entity, &[(key, value)])
    }

    /// Applies one AlterClientQuotas entry: every operation of `entity`, or none of them if one
    /// is refused (Kafka answers per entity).
    pub fn alter_entity(
        &mut self,
        entity: &QuotaEntity,
        ops: &[QuotaOp<'_>],
    ) -> Result<(), QuotaError> {
        let changes = self.validate_alteration(entity, ops)?;
        for (key, value) in changes {
            match value {
                Some(value) => {
                    self.entities
                        .entry(entity.clone())
                        .or_default()
                        .insert(key, value);
                }
                None => {
                    if let Some(values) = self.entities.get_mut(entity) {
                        values.remove(&key);
                        if values.is_empty() {
                            self.entities.remove(entity);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The checks of [`QuotaStore::alter_entity`] without the change (AlterClientQuotas'
    /// `ValidateOnly`): the keys and values to apply.
    ///
    /// A key given twice is refused. A set is checked by [`QuotaKey::validate`]. A removal is not
    /// checked, as in Kafka's controller: removing a key the entity does not have, known or not,
    /// changes nothing and succeeds.
    pub fn validate_alteration(
        &self,
        entity: &QuotaEntity,
        ops: &[QuotaOp<'_>],
    ) -> Result<Vec<(QuotaKey, Option<f64>)>, QuotaError> {
        let mut changes = Vec::with_capacity(ops.len());
        for (i, (key, value)) in ops.iter().enumerate() {
            if ops[..i].iter().any(|(k, _)| k == key) {
                return Err(QuotaError::invalid(format!(
                    "Duplicate quota key {key} not updating quota for this entity {entity}"
                )));
            }
            match value {
                Some(value) => {
                    changes.push((QuotaKey::validate(entity, key, *value)?, Some(*value)))
                }
                None => {
                    if let Some(quota_key) = QuotaKey::from_name(key) {
                        changes.push((quota_key, None));
                    }
                }
            }
        }
        Ok(changes)
    }

    /// `entity`'s configured values, if it has any.
    pub fn get(&self, entity: &QuotaEntity) -> Option<&QuotaValues> {
        self.entities.get(entity)
    }

    /// The value of `key` configured for exactly `entity` (no fallback to defaults; that is
    /// [`QuotaStore::resolve`]).
    pub fn value(&self, entity: &QuotaEntity, key: QuotaKey) -> Option<f64> {
        self.entities.get(entity)?.get(&key).copied()
    }

    /// Every entity with its values, in entity order.
    pub fn iter(&self) -> impl Iterator<Item = (&QuotaEntity, &QuotaValues)> + '_ {
        self.entities.iter()
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// DescribeClientQuotas: the entities `filter` matches, with their values, in entity order.
    /// A malformed filter is refused as a whole (the response's top-level error).
    pub fn describe(
        &self,
        filter: &QuotaFilter,
    ) -> Result<Vec<(&QuotaEntity, &QuotaValues)>, QuotaError> {
        let checked = filter.check()?;
        Ok(self
            .entities
            .iter()
            .filter(|(entity, _)| checked.matches(entity))
            .collect())
    }
}

impl From<Vec<(QuotaEntity, QuotaValues)>> for QuotaStore {
    /// Rebuilds a store from its serialized entries; entries without values are dropped to
    /// keep the invariant.
    fn from(entries: Vec<(QuotaEntity, QuotaValues)>) -> QuotaStore {
        QuotaStore {
            entities: entries.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        }
    }
}

impl From<QuotaStore> for Vec<(QuotaEntity, QuotaValues)> {
    /// A list, not a map: JSON (the controller's log format) has only string map keys.
    fn from(store: QuotaStore) -> Vec<(QuotaEntity, QuotaValues)> {
        store.entities.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{QuotaEntityType, QuotaFilterComponent};

    fn store() -> QuotaStore {
        let mut s = QuotaStore::new();
        for (entity, key, value) in [
            (
                QuotaEntity::user(Some("alice")),
                "producer_byte_rate",
                1000.0,
            ),
            (QuotaEntity::user(None), "producer_byte_rate", 500.0),
            (
                QuotaEntity::user_client_id(Some("alice"), Some("app")),
                "consumer_byte_rate",
                300.0,
            ),
            (
                QuotaEntity::user_client_id(None, None),
                "request_percentage",
                50.0,
            ),
            (
                QuotaEntity::client_id(Some("app")),
                "producer_byte_rate",
                200.0,
            ),
            (
                QuotaEntity::client_id(None),
                "controller_mutation_rate",
                5.0,
            ),
            (QuotaEntity::ip(None), "connection_creation_rate", 10.0),
        ] {
            s.alter(&entity, key, Some(value))
                .expect("valid alteration");
        }
        s
    }

    fn described(
        s: &QuotaStore,
        components: Vec<QuotaFilterComponent>,
        strict: bool,
    ) -> Vec<String> {
        s.describe(&QuotaFilter::new(components, strict))
            .expect("valid filter")
            .into_iter()
            .map(|(entity, _)| entity.to_string())
            .collect()
    }

    #[test]
    fn set_change_and_remove_keys() {
        let mut s = QuotaStore::new();
        let alice = QuotaEntity::user(Some("alice"));
        s.alter_entity(
            &alice,
            &[
                ("producer_byte_rate", Some(1024.0)),
                ("request_percentage", Some(200.0)),
            ],
        )
        .expect("valid");
        assert_eq!(s.value(&alice, QuotaKey::ProducerByteRate), Some(1024.0));
        s.alter(&alice, "producer_byte_rate", Some(2048.0))
            .expect("valid");
        assert_eq!(s.value(&alice, QuotaKey::ProducerByteRate), Some(2048.0));
        s.alter(&alice, "producer_byte_rate", None)
            .expect("removal");
        assert_eq!(s.value(&alice, QuotaKey::ProducerByteRate), None);
        assert_eq!(s.len(), 1);
        s.alter(&alice, "request_percentage", None)
            .expect("removal");
        assert!(s.is_empty(), "an entity without values is gone");
        // Removing what is not there, even an unknown key, changes nothing and succeeds.
        s.alter(&alice, "request_percentage", None).expect("no-op");
        s.alter(&alice, "no_such_key", None).expect("no-op");
        assert!(s.is_empty());
    }

    #[test]
    fn a_refused_operation_leaves_the_entity_unchanged() {
        let mut s = QuotaStore::new();
        let app = QuotaEntity::client_id(Some("app"));
        let e = s
            .alter_entity(
                &app,
                &[("producer_byte_rate", Some(10.0)), ("bogus", Some(1.0))],
            )
            .expect_err("unknown key");
        assert_eq!(e.code(), 42);
        assert_eq!(e.to_string(), "Invalid configuration key bogus");
        assert!(s.is_empty());

        let e = s
            .alter_entity(
                &app,
                &[
                    ("producer_byte_rate", Some(10.0)),
                    ("producer_byte_rate", None),
                ],
            )
            .expect_err("duplicate key");
        assert_eq!(
            e.to_string(),
            "Duplicate quota key producer_byte_rate not updating quota for this entity /clients/app"
        );
        for bad in [0.0, -5.0] {
            let e = s
                .alter(&app, "consumer_byte_rate", Some(bad))
                .expect_err("non-positive");
            assert_eq!(e.code(), 42);
        }
        assert!(s.is_empty());

        assert_eq!(
            s.validate_alteration(
                &app,
                &[
                    ("producer_byte_rate", Some(10.0)),
                    ("request_percentage", None)
                ]
            ),
            Ok(vec![
                (QuotaKey::ProducerByteRate, Some(10.0)),
                (QuotaKey::RequestPercentage, None)
            ])
        );
        assert!(s.is_empty(), "validation alone changes nothing");
    }

    #[test]
    fn describe_without_components() {
        let s = store();
        assert_eq!(described(&s, vec![], false).len(), s.len());
        assert!(described(&s, vec![], true).is_empty());
    }

    #[test]
    fn describe_by_user() {
        let s = store();
        let exact = vec![QuotaFilterComponent::exact(QuotaEntityType::User, "alice")];
        assert_eq!(
            described(&s, exact.clone(), false),
            ["/users/alice", "/users/alice/clients/app"]
        );
        assert_eq!(described(&s, exact, true), ["/users/alice"]);

        let default = vec![QuotaFilterComponent::default_entity(QuotaEntityType::User)];
        assert_eq!(
            described(&s, default.clone(), false),
            ["/users/<default>", "/users/<default>/clients/<default>"]
        );
        assert_eq!(described(&s, default, true), ["/users/<default>"]);

        let any = vec![QuotaFilterComponent::specified(QuotaEntityType::User)];
        // Default entities sort first.
        assert_eq!(
            described(&s, any, true),
            ["/users/<default>", "/users/alice"]
        );
    }

    #[test]
    fn describe_by_user_and_client() {
        let s = store();
        let both = vec![
            QuotaFilterComponent::specified(QuotaEntityType::User),
            QuotaFilterComponent::specified(QuotaEntityType::ClientId),
        ];
        assert_eq!(
            described(&s, both, true),
            [
                "/users/<default>/clients/<default>",
                "/users/alice/clients/app"
            ]
        );
        let app = vec![QuotaFilterComponent::exact(
            QuotaEntityType::ClientId,
            "app",
        )];
        assert_eq!(
            described(&s, app.clone(), false),
            ["/users/alice/clients/app", "/clients/app"]
        );
        assert_eq!(described(&s, app, true), ["/clients/app"]);
        let ips = vec![QuotaFilterComponent::specified(QuotaEntityType::Ip)];
        assert_eq!(described(&s, ips, false), ["/ips/<default>"]);
    }

    #[test]
    fn describe_returns_the_values() {
        let s = store();
        let filter = QuotaFilter::new(
            vec![QuotaFilterComponent::exact(QuotaEntityType::User, "alice")],
            true,
        );
        let found = s.describe(&filter).expect("valid");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1.get(&QuotaKey::ProducerByteRate), Some(&1000.0));
    }

    #[test]
    fn a_malformed_filter_is_refused() {
        let s = store();
        let filter = QuotaFilter::new(
            vec![QuotaFilterComponent {
                entity_type: "group".into(),
                match_type: 2,
                match_name: None,
            }],
            false,
        );
        assert_eq!(s.describe(&filter).expect_err("unsupported").code(), 35);
    }

    #[test]
    fn serde_round_trip_through_json() {
        let s = store();
        let json = serde_json::to_string(&s).expect("serialize");
        assert!(
            json.contains(r#"[[["user","alice"]],{"producer_byte_rate":1000.0}]"#),
            "{json}"
        );
        let back: QuotaStore = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, s);
    }
}

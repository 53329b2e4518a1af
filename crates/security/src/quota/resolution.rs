//! Which configured quota applies to a connection, and which sensor it is measured on.
//!
//! Kafka's precedence (its `ClientQuotaManager` and `DefaultQuotaCallback`), highest first, for
//! a connection of user `u` with client id `c`:
//!
//! | level | entity                               | metric key (user, client-id) |
//! |-------|--------------------------------------|------------------------------|
//! | 1     | `/users/u/clients/c`                 | (u, c)                       |
//! | 2     | `/users/u/clients/<default>`         | (u, c)                       |
//! | 3     | `/users/u`                           | (u, -)                       |
//! | 4     | `/users/<default>/clients/c`         | (u, c)                       |
//! | 5     | `/users/<default>/clients/<default>` | (u, c)                       |
//! | 6     | `/users/<default>`                   | (u, -)                       |
//! | 7     | `/clients/c`                         | (-, c)                       |
//! | 8     | `/clients/<default>`                 | (-, c)                       |
//!
//! Each config key is resolved on its own (Kafka keeps one quota manager per quota type): an
//! entity that sets only `consumer_byte_rate` does not hide a lower-level `producer_byte_rate`.

use super::{QuotaEntity, QuotaKey, QuotaMetricKey, QuotaStore};

/// The quota that applies to a connection for one key.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedQuota {
    /// The configured value (bytes/s, percent of a thread, mutations/s).
    pub quota: f64,
    /// The entity that configured it.
    pub entity: QuotaEntity,
    /// The sensor the connection's usage is measured on, shared by every connection that
    /// resolves to the same key.
    pub metric_key: QuotaMetricKey,
}

impl QuotaStore {
    /// The quota of `key` for a connection of the user principal named `user` (`ANONYMOUS`
    /// when not authenticated) with client id `client_id`, or `None` when no entity sets one:
    /// the connection is then not limited for that key and needs no sensor. (Kafka in that case
    /// still keeps an unlimited sensor per client id, for its metrics only.)
    pub fn resolve(&self, user: &str, client_id: &str, key: QuotaKey) -> Option<ResolvedQuota> {
        let u = Some(user);
        let c = Some(client_id);
        // (entity, does the metric key carry the user, does it carry the client id)
        let levels = [
            (QuotaEntity::user_client_id(u, c), true, true),
            (QuotaEntity::user_client_id(u, None), true, true),
            (QuotaEntity::user(u), true, false),
            (QuotaEntity::user_client_id(None, c), true, true),
            (QuotaEntity::user_client_id(None, None), true, true),
            (QuotaEntity::user(None), true, false),
            (QuotaEntity::client_id(c), false, true),
            (QuotaEntity::client_id(None), false, true),
        ];
        levels
            .into_iter()
            .find_map(|(entity, by_user, by_client_id)| {
                let quota = self.value(&entity, key)?;
                Some(ResolvedQuota {
                    quota,
                    entity,
                    metric_key: QuotaMetricKey::new(
                        by_user.then_some(user),
                        by_client_id.then_some(client_id),
                    ),
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every precedence level, each with its own producer quota: level n has quota n.
    fn all_levels() -> Vec<QuotaEntity> {
        vec![
            QuotaEntity::user_client_id(Some("alice"), Some("app")),
            QuotaEntity::user_client_id(Some("alice"), None),
            QuotaEntity::user(Some("alice")),
            QuotaEntity::user_client_id(None, Some("app")),
            QuotaEntity::user_client_id(None, None),
            QuotaEntity::user(None),
            QuotaEntity::client_id(Some("app")),
            QuotaEntity::client_id(None),
        ]
    }

    fn store_with(levels: &[QuotaEntity]) -> QuotaStore {
        let mut s = QuotaStore::new();
        for (i, entity) in all_levels().iter().enumerate() {
            if levels.contains(entity) {
                s.alter(entity, "producer_byte_rate", Some((i + 1) as f64))
                    .expect("valid");
            }
        }
        s
    }

    fn key(user: Option<&str>, client_id: Option<&str>) -> QuotaMetricKey {
        QuotaMetricKey::new(user, client_id)
    }

    #[test]
    fn each_level_wins_over_every_lower_one() {
        let levels = all_levels();
        let expected_keys = [
            key(Some("alice"), Some("app")),
            key(Some("alice"), Some("app")),
            key(Some("alice"), None),
            key(Some("alice"), Some("app")),
            key(Some("alice"), Some("app")),
            key(Some("alice"), None),
            key(None, Some("app")),
            key(None, Some("app")),
        ];
        for n in 0..levels.len() {
            // Level n and everything below it is configured; level n must win.
            let s = store_with(&levels[n..]);
            let r = s
                .resolve("alice", "app", QuotaKey::ProducerByteRate)
                .expect("a quota applies");
            assert_eq!(r.quota, (n + 1) as f64, "level {}", n + 1);
            assert_eq!(r.entity, levels[n]);
            assert_eq!(r.metric_key, expected_keys[n], "level {}", n + 1);
        }
    }

    #[test]
    fn each_level_alone_applies_only_to_the_connections_it_names() {
        for (n, entity) in all_levels().iter().enumerate() {
            let s = store_with(std::slice::from_ref(entity));
            assert!(s
                .resolve("alice", "app", QuotaKey::ProducerByteRate)
                .is_some());
            let names_user = matches!(
                entity.get(crate::quota::QuotaEntityType::User),
                Some(Some(_))
            );
            let names_client = matches!(
                entity.get(crate::quota::QuotaEntityType::ClientId),
                Some(Some(_))
            );
            assert_eq!(
                s.resolve("bob", "app", QuotaKey::ProducerByteRate)
                    .is_some(),
                !names_user,
                "level {}",
                n + 1
            );
            assert_eq!(
                s.resolve("alice", "other", QuotaKey::ProducerByteRate)
                    .is_some(),
                !names_client,
                "level {}",
                n + 1
            );
        }
    }

    #[test]
    fn a_user_quota_is_shared_by_the_users_client_ids() {
        let s = store_with(&[QuotaEntity::user(Some("alice"))]);
        let a = s
            .resolve("alice", "app-1", QuotaKey::ProducerByteRate)
            .expect("quota");
        let b = s
            .resolve("alice", "app-2", QuotaKey::ProducerByteRate)
            .expect("quota");
        assert_eq!(a.metric_key, b.metric_key);
    }

    #[test]
    fn a_default_user_quota_gives_each_user_one_sensor() {
        let s = store_with(&[QuotaEntity::user(None)]);
        let a1 = s
            .resolve("alice", "app-1", QuotaKey::ProducerByteRate)
            .expect("quota");
        let a2 = s
            .resolve("alice", "app-2", QuotaKey::ProducerByteRate)
            .expect("quota");
        let b = s
            .resolve("bob", "app-1", QuotaKey::ProducerByteRate)
            .expect("quota");
        assert_eq!(a1.metric_key, a2.metric_key);
        assert_ne!(a1.metric_key, b.metric_key);
    }

    #[test]
    fn a_default_client_quota_gives_each_client_id_its_own_sensor() {
        let s = store_with(&[QuotaEntity::client_id(None)]);
        let a = s
            .resolve("alice", "app-1", QuotaKey::ProducerByteRate)
            .expect("quota");
        let b = s
            .resolve("alice", "app-2", QuotaKey::ProducerByteRate)
            .expect("quota");
        let c = s
            .resolve("bob", "app-1", QuotaKey::ProducerByteRate)
            .expect("quota");
        assert_ne!(a.metric_key, b.metric_key);
        assert_eq!(a.metric_key, c.metric_key, "users share a client-id sensor");
        assert_eq!(a.metric_key, key(None, Some("app-1")));
    }

    #[test]
    fn keys_resolve_independently() {
        let mut s = QuotaStore::new();
        s.alter(
            &QuotaEntity::user(Some("alice")),
            "consumer_byte_rate",
            Some(10.0),
        )
        .expect("valid");
        s.alter(
            &QuotaEntity::client_id(None),
            "producer_byte_rate",
            Some(20.0),
        )
        .expect("valid");
        let produce = s
            .resolve("alice", "app", QuotaKey::ProducerByteRate)
            .expect("quota");
        assert_eq!(produce.quota, 20.0);
        assert_eq!(produce.metric_key, key(None, Some("app")));
        let fetch = s
            .resolve("alice", "app", QuotaKey::ConsumerByteRate)
            .expect("quota");
        assert_eq!(fetch.quota, 10.0);
        assert_eq!(fetch.metric_key, key(Some("alice"), None));
        assert_eq!(s.resolve("alice", "app", QuotaKey::RequestPercentage), None);
        assert_eq!(s.resolve("bob", "app", QuotaKey::ConsumerByteRate), None);
    }
}

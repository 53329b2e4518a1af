//! [`ClientQuotas`]: the client quotas of the newest metadata image and the sensors that
//! measure connections against them (Kafka's `ClientQuotaManager`s for produce, fetch and
//! request time), over `quota.window.num` samples of `quota.window.size.seconds`.
//!
//! A request's usage is recorded after it is served (a produce over its quota is still
//! appended); the answer is a throttle time, which the response carries in `throttle_time_ms`
//! and for which the connection stops reading (KIP-219). Without any quota configured
//! recording costs one atomic load.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use sluice_controller::MetadataImage;
use sluice_security::quota::{
    ControllerMutationQuotaManager, QuotaEntity, QuotaKey, QuotaManager, QuotaManagerConfig,
    QuotaStore, QuotaWindow, ResolvedQuota,
};

pub struct ClientQuotas {
    /// The store and the image's `quotas_offset` it came from.
    store: RwLock<(u64, Arc<QuotaStore>)>,
    /// Whether the store holds any quota (the fast path when it does not).
    any: AtomicBool,
    produce: Mutex<QuotaManager>,
    fetch: Mutex<QuotaManager>,
    request: Mutex<QuotaManager>,
    /// controller_mutation_rate (KIP-599): token buckets of partition mutations.
    mutations: Mutex<ControllerMutationQuotaManager>,
    /// The sensors' clock starts here.
    started: Instant,
}

impl ClientQuotas {
    /// `window`: `quota.window.*`; `mutation_window`: `controller.quota.window.*`.
    pub fn new(window: QuotaWindow, mutation_window: QuotaWindow) -> ClientQuotas {
        ClientQuotas {
            store: RwLock::new((0, Arc::new(QuotaStore::new()))),
            any: AtomicBool::new(false),
            produce: Mutex::new(QuotaManager::new(QuotaManagerConfig::byte_rate(window))),
            fetch: Mutex::new(QuotaManager::new(QuotaManagerConfig::byte_rate(window))),
            request: Mutex::new(QuotaManager::new(QuotaManagerConfig::request_time(window))),
            mutations: Mutex::new(ControllerMutationQuotaManager::new(mutation_window)),
            started: Instant::now(),
        }
    }

    /// Takes the image's quotas when they changed.
    pub fn update(&self, image: &MetadataImage) {
        let offset = image.quotas_offset();
        let mut current = self.store.write().unwrap_or_else(|p| p.into_inner());
        if offset > current.0 {
            *current = (offset, Arc::new(image.quotas().clone()));
            self.any.store(!current.1.is_empty(), Ordering::Release);
        }
    }

    /// The quotas now, if any is configured (one atomic load when none is).
    fn configured(&self) -> Option<Arc<QuotaStore>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        Some(
            self.store
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .1
                .clone(),
        )
    }

    /// The quota of `key` for the connection, if one is configured.
    fn resolve(&self, key: QuotaKey, user: &str, client_id: &str) -> Option<ResolvedQuota> {
        self.configured()?.resolve(user, client_id, key)
    }

    /// The `connection_creation_rate` quota of client address `ip` (KIP-612): its own ip
    /// entity's, else the `<default>` ip entity's.
    pub fn connection_creation_rate(&self, ip: IpAddr) -> Option<f64> {
        let store = self.configured()?;
        let key = QuotaKey::ConnectionCreationRate;
        store
            .value(&QuotaEntity::ip(Some(ip.to_canonical())), key)
            .or_else(|| store.value(&QuotaEntity::ip(None), key))
    }

    /// Records `value` of `key` (bytes for the byte rates, a request-time percentage for
    /// `request_percentage`) for the connection of user `user` with client id `client_id`:
    /// the milliseconds it must now wait, 0 when it is within its quota or has none.
    pub fn record(&self, key: QuotaKey, user: &str, client_id: &str, value: f64) -> u64 {
        let Some(resolved) = self.resolve(key, user, client_id) else {
            return 0;
        };
        let manager = match key {
            QuotaKey::ProducerByteRate => &self.produce,
            QuotaKey::ConsumerByteRate => &self.fetch,
            QuotaKey::RequestPercentage => &self.request,
            _ => return 0,
        };
        let now_ms = self.started.elapsed().as_millis() as u64;
        manager
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record_and_throttle(&resolved.metric_key, resolved.quota, value, now_ms)
    }

    /// Counts `mutations` partition creations or deletions against the connection's
    /// `controller_mutation_rate` (KIP-599). `strict` (the request versions that know the
    /// error): refused with the throttle time when the bucket is already empty; otherwise
    /// accepted and the throttle time returned. `Ok(0)`: no quota, or within it.
    pub fn record_mutations(
        &self,
        user: &str,
        client_id: &str,
        mutations: f64,
        strict: bool,
    ) -> Result<u64, u64> {
        let Some(resolved) = self.resolve(QuotaKey::ControllerMutationRate, user, client_id) else {
            return Ok(0);
        };
        let now_ms = self.started.elapsed().as_millis() as u64;
        let mut buckets = self.mutations.lock().unwrap_or_else(|p| p.into_inner());
        if strict {
            buckets
                .try_record(&resolved.metric_key, resolved.quota, mutations, now_ms)
                .map(|()| 0)
        } else {
            Ok(buckets.record(&resolved.metric_key, resolved.quota, mutations, now_ms))
        }
    }
}

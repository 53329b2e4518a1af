//! Client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-257, KIP-546, KIP-599), free of I/O:
//! what is configured, which quota applies to a connection, how its usage is measured, and how
//! long it must wait. Time is always passed in (milliseconds), never read here.
//!
//! # What Kafka's quotas are
//! A quota is configured on an entity: a user, a client id, a user and client id, or the
//! `<default>` of any of these (AlterClientQuotas; [`QuotaStore`]). A connection gets, per
//! config key, the value of the most specific entity that matches its user principal and
//! client id ([`QuotaStore::resolve`], precedence in `resolution.rs`), and is measured on the
//! sensor of that entity's [`QuotaMetricKey`]: a `/users/alice` quota is shared by all of alice's
//! client ids, a `/clients/<default>` quota is per client id. Quotas are per broker.
//!
//! Byte rates and request time are measured as a [`SampledRate`] over `quota.window.num`
//! samples of `quota.window.size.seconds` ([`QuotaWindow`]); over its quota, a group is given a
//! throttle time ([`throttle_time_ms`]) that brings its average back to the quota
//! ([`QuotaManager`]). Since KIP-219 the broker answers at once with that time in
//! `throttle_time_ms` and then stops reading from the connection for as long. Controller
//! mutations use a [`TokenBucket`] instead and refuse requests while it is empty
//! ([`ControllerMutationQuotaManager`]).
//!
//! # Layout
//! - `entity`: [`QuotaEntity`], [`QuotaEntityType`]: who a quota applies to.
//! - `key`: [`QuotaKey`]: the config keys, their units, and the checks of their values.
//! - `store`: [`QuotaStore`]: configs per entity; AlterClientQuotas and DescribeClientQuotas.
//! - `filter`: [`QuotaFilter`]: DescribeClientQuotas filters.
//! - `resolution`: [`QuotaStore::resolve`], [`ResolvedQuota`]: the precedence of entities.
//! - `metric_key`: [`QuotaMetricKey`]: which connections share a sensor.
//! - `window`: [`QuotaWindow`]: samples and sample length.
//! - `sampled_rate`: [`SampledRate`]: Kafka's sampled `Rate`.
//! - `throttle`: [`throttle_time_ms`]: how long an over-quota group waits.
//! - `manager`: [`QuotaManager`]: sensors per metric key for byte rates and request time.
//! - `request_time`: [`request_time_percentage`]: `request_percentage`'s unit.
//! - `token_bucket`: [`TokenBucket`]: the controller mutation quota (KIP-599).
//! - `controller_mutation`: [`ControllerMutationQuotaManager`]: a bucket per metric key.
//! - `sensor_registry`: the bounded, expiring map of sensors the managers share.
//! - `error`: [`QuotaError`] and its Kafka error codes.

mod controller_mutation;
mod entity;
mod error;
mod filter;
mod key;
mod manager;
mod metric_key;
mod request_time;
mod resolution;
mod sampled_rate;
mod sensor_registry;
mod store;
mod throttle;
mod token_bucket;
mod window;

pub use controller_mutation::ControllerMutationQuotaManager;
pub use entity::{QuotaEntity, QuotaEntityComponent, QuotaEntityType};
pub use error::QuotaError;
pub use filter::{
    QuotaFilter, QuotaFilterComponent, MATCH_TYPE_DEFAULT, MATCH_TYPE_EXACT, MATCH_TYPE_SPECIFIED,
};
pub use key::QuotaKey;
pub use manager::{QuotaManager, QuotaManagerConfig, DEFAULT_MAX_SENSORS, SENSOR_IDLE_EXPIRY_MS};
pub use metric_key::QuotaMetricKey;
pub use request_time::{request_time_percentage, NANOS_TO_PERCENTAGE_PER_SECOND};
pub use resolution::ResolvedQuota;
pub use sampled_rate::SampledRate;
pub use store::{QuotaOp, QuotaStore, QuotaValues};
pub use throttle::{bounded_throttle_time_ms, throttle_time_ms};
pub use token_bucket::TokenBucket;
pub use window::QuotaWindow;

/// Kafka's UNSUPPORTED_VERSION error code.
pub const UNSUPPORTED_VERSION: i16 = 35;
/// Kafka's INVALID_REQUEST error code.
pub const INVALID_REQUEST: i16 = 42;
/// Kafka's THROTTLING_QUOTA_EXCEEDED error code (KIP-599): a topic refused by the controller
/// mutation quota; retriable after the response's `throttle_time_ms`.
pub const THROTTLING_QUOTA_EXCEEDED: i16 = 89;
/// Kafka's message for [`THROTTLING_QUOTA_EXCEEDED`].
pub const THROTTLING_QUOTA_EXCEEDED_MESSAGE: &str = "The throttling quota has been exceeded.";

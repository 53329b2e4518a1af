//! `controller_mutation_rate` (KIP-599) for the requests that create or delete partitions:
//! CreateTopics, CreatePartitions, DeleteTopics. Each topic's partitions count against the
//! principal's and client id's token bucket. The versions that know the error (CreateTopics v6+,
//! CreatePartitions v3+, DeleteTopics v5+) refuse a topic with THROTTLING_QUOTA_EXCEEDED while
//! the bucket is empty; older ones are served and the connection is throttled afterwards.

use sluice_protocol::error::ErrorCode;

use super::request::RequestContext;
use crate::cluster::ClientQuotas;
use crate::replicas::AdminError;

/// The request's running throttle (the largest so far), for its `throttle_time_ms`.
#[derive(Default)]
pub struct MutationThrottle(pub i32);

impl MutationThrottle {
    /// Counts `mutations` for one topic: `Err` when the topic is refused.
    pub fn admit(
        &mut self,
        quotas: &ClientQuotas,
        ctx: &RequestContext,
        mutations: i32,
        strict: bool,
    ) -> Result<(), AdminError> {
        let principal = ctx.principal();
        let client_id = ctx.client_id.as_deref().unwrap_or("");
        let outcome = quotas.record_mutations(
            &principal.name,
            client_id,
            f64::from(mutations.max(0)),
            strict,
        );
        let throttle_ms = match outcome {
            Ok(ms) | Err(ms) => ms,
        };
        if throttle_ms > 0 {
            self.0 = self.0.max(i32::try_from(throttle_ms).unwrap_or(i32::MAX));
            if outcome.is_ok() {
                // Served over the quota: the connection waits before its next request.
                ctx.session
                    .throttle(std::time::Duration::from_millis(throttle_ms));
            }
        }
        outcome.map(drop).map_err(|_| {
            AdminError::new(
                ErrorCode::THROTTLING_QUOTA_EXCEEDED,
                "The throttling quota has been exceeded.",
            )
        })
    }
}
